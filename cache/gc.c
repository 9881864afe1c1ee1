/* gc.c - cache maintenance on an OCI layout.  See gc.h.
 *
 * Everything works on one in-memory graph: a node per digest (hash set
 * keyed by the digest's leading 64 bits, which are already uniformly
 * distributed), edges from each manifest or index to what it names.  Each
 * manifest is read and parsed once (on first visit); blobs/<alg>/ is read
 * once with readdir.  So gc is linear in the number of blobs plus the
 * manifest bytes, with no per-entry rescans.
 */
#include "cache/gc.h"

#include "core/base/buf.h"
#include "core/base/digest.h"
#include "core/base/err.h"
#include "core/base/json.h"
#include "core/model/imgconfig.h"
#include "core/model/manifest.h"
#include "core/model/platform.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define INGEST_DIR ".hoist/ingest"
#define SOURCES_DIR ".hoist/sources"
/* Referrer candidates are opened and this much read at once: a blob that
 * fits (most configs and manifests) is never read twice. */
#define GC_HEAD_MAX 4096
/* Unlinks run on up to this many threads, at least GC_UNLINK_PER_THREAD
 * blobs each: on file systems that free blocks synchronously (ext4 without
 * a journal and with -o discard issues and waits for a discard inside each
 * unlink: ext4_evict_inode -> ext4_free_blocks -> blkdev_issue_discard), an
 * unlink is mostly waiting, and the waits of different files overlap.  The
 * dentry removal itself is serialised by the directory lock; the eviction
 * after it is not.  Measured on such a disk (virtio, 2 cores), unlinking
 * 3,200 one-block files: 1 thread 0.77 s, 8 0.69 s, 16 0.55 s, 32 0.46 s,
 * 64 0.44 s (medians of 4); past 32 the device, not hoist, is the limit. */
#ifndef GC_UNLINK_THREADS
#define GC_UNLINK_THREADS 32
#endif
#define GC_UNLINK_PER_THREAD 64
/* Manifests larger than this are treated as leaves (and never referrers). */
#define GC_MANIFEST_MAX (16u << 20)
#define N_ALGS 2

struct gnode {
	struct digest d;
	uint64_t h;		/* digest_hash(&d): compared before the strings */
	int64_t size;		/* the file's when listed, else the descriptor's, else -1 */
	int64_t mtime;		/* -1 unless stat'd */
	uint32_t child0, n_child;	/* into graph.edges */
	uint32_t refs;		/* entries reaching it */
	uint32_t stamp;		/* last walk that visited it */
	unsigned char kind;	/* enum mt_kind */
	unsigned char expanded, marked, listed, corrupt, statted;
	unsigned char sourced;	/* has a .hoist/sources record (gc_list_sources) */
};

/* A hash slot carries the upper bits of its node's hash, so that a probe
 * touches the node itself (a likely cache miss: nodes are 200 bytes, in
 * listing order) only when those bits match. */
struct gslot {
	uint32_t node;		/* node index + 1, 0 = empty */
	uint32_t tag;		/* (uint32_t)(h >> 32) */
};

struct graph {
	struct layout *l;
	struct gnode *nodes;
	size_t n, cap;
	struct gslot *slots;	/* open addressing; power-of-two size */
	size_t n_slots;
	uint32_t *edges;
	size_t n_edges, cap_edges;
	uint32_t *stack;
	size_t n_stack, cap_stack;
	uint32_t stamp;
	int dir_fd[N_ALGS];	/* blobs/sha256, blobs/sha512, or -1 */
	int src_fd[N_ALGS];	/* .hoist/sources/<alg>, or -1 (gc_list_sources) */
	struct buf rd;		/* reused for manifest reads */
	int corrupt_ok;		/* a corrupt manifest is a leaf (verify, ls), not an error */
};

/* One entry of either index. */
struct gentry {
	char *name;
	enum layout_index which;
	struct descriptor desc;
	uint32_t root;
	int64_t last_used, pulled;
	int drop;
};

/* Both NULL, or equal strings. */
static int same_name(const char *a, const char *b)
{
	return a && b ? !strcmp(a, b) : !a && !b;
}

static int oom(struct err *e)
{
	return err_set(e, ERR_NOMEM, "out of memory");
}

/* --- the graph ------------------------------------------------------------ */

static void graph_init(struct graph *g, struct layout *l)
{
	memset(g, 0, sizeof(*g));
	g->l = l;
	g->dir_fd[0] = g->dir_fd[1] = -1;
	g->src_fd[0] = g->src_fd[1] = -1;
	buf_init(&g->rd, 0);
}

static void graph_release(struct graph *g)
{
	int i;

	for (i = 0; i < N_ALGS; i++)
		if (g->dir_fd[i] >= 0)
			close(g->dir_fd[i]);
	for (i = 0; i < N_ALGS; i++)
		if (g->src_fd[i] >= 0)
			close(g->src_fd[i]);
	free(g->nodes);
	free(g->slots);
	free(g->edges);
	free(g->stack);
	buf_release(&g->rd);
}

static uint64_t digest_hash(const struct digest *d)
{
	const char *h = digest_hex(d);
	uint64_t v = 0;
	int i;

	for (i = 0; i < 16; i++)
		v = (v << 4) | (uint64_t)(h[i] <= '9' ? h[i] - '0' : h[i] - 'a' + 10);
	return v ^ (uint64_t)d->alg;
}

static long graph_find(const struct graph *g, const struct digest *d)
{
	size_t mask = g->n_slots - 1, i;
	uint64_t h;
	uint32_t s, tag;

	if (!g->n_slots)
		return -1;
	h = digest_hash(d);
	tag = (uint32_t)(h >> 32);
	for (i = h & mask; (s = g->slots[i].node); i = (i + 1) & mask)
		if (g->slots[i].tag == tag && g->nodes[s - 1].h == h &&
		    !strcmp(g->nodes[s - 1].d.str, d->str))
			return (long)(s - 1);
	return -1;
}

static int graph_rehash(struct graph *g)
{
	size_t n_slots = g->n_slots ? g->n_slots * 2 : 1024, i, j;
	struct gslot *slots = calloc(n_slots, sizeof(*slots));

	if (!slots)
		return ERR_NOMEM;
	for (i = 0; i < g->n; i++) {
		for (j = g->nodes[i].h & (n_slots - 1); slots[j].node;
		     j = (j + 1) & (n_slots - 1))
			;
		slots[j].node = (uint32_t)(i + 1);
		slots[j].tag = (uint32_t)(g->nodes[i].h >> 32);
	}
	free(g->slots);
	g->slots = slots;
	g->n_slots = n_slots;
	return 0;
}

/* The node of `d` (created when new) into *out.  A known kind or size fills
 * in what an earlier sighting (a bare directory listing) left unknown. */
static int graph_get(uint32_t *out, struct graph *g, const struct digest *d, int64_t size,
		     enum mt_kind kind)
{
	struct gnode *nd;
	long found = graph_find(g, d);

	if (found < 0) {
		if ((g->n + 1) * 2 > g->n_slots && graph_rehash(g) < 0)
			return ERR_NOMEM;
		if (g->n == g->cap) {
			size_t cap = g->cap ? g->cap * 2 : 1024;
			struct gnode *nodes = realloc(g->nodes, cap * sizeof(*nodes));

			if (!nodes)
				return ERR_NOMEM;
			g->nodes = nodes;
			g->cap = cap;
		}
		nd = &g->nodes[g->n];
		memset(nd, 0, sizeof(*nd));
		nd->d = *d;
		nd->h = digest_hash(d);
		nd->size = -1;
		nd->mtime = -1;
		found = (long)g->n++;
		{
			size_t mask = g->n_slots - 1, i;

			for (i = nd->h & mask; g->slots[i].node; i = (i + 1) & mask)
				;
			g->slots[i].node = (uint32_t)(found + 1);
			g->slots[i].tag = (uint32_t)(nd->h >> 32);
		}
	}
	nd = &g->nodes[found];
	if (nd->kind == MT_KIND_UNKNOWN)
		nd->kind = (unsigned char)kind;
	if (nd->size < 0)
		nd->size = size;
	*out = (uint32_t)found;
	return 0;
}

static int push_u32(uint32_t **arr, size_t *n, size_t *cap, uint32_t v)
{
	if (*n == *cap) {
		size_t c = *cap ? *cap * 2 : 1024;
		uint32_t *a = realloc(*arr, c * sizeof(*a));

		if (!a)
			return ERR_NOMEM;
		*arr = a;
		*cap = c;
	}
	(*arr)[(*n)++] = v;
	return 0;
}

static int graph_edge(struct graph *g, const struct descriptor *d)
{
	uint32_t c;

	if (graph_get(&c, g, &d->digest, d->size, mediatype_classify(d->media_type)) < 0)
		return ERR_NOMEM;
	return push_u32(&g->edges, &g->n_edges, &g->cap_edges, c);
}

/* Adds the edges of a parsed manifest or index to node `i`. */
static int graph_add_children(struct graph *g, uint32_t i, const struct manifest *m)
{
	size_t k, start = g->n_edges;
	int rc = 0;

	if (m->kind == MT_KIND_MANIFEST)
		rc = graph_edge(g, &m->config);
	for (k = 0; !rc && k < m->n_layers; k++)
		rc = graph_edge(g, &m->layers[k]);
	for (k = 0; !rc && k < m->n_manifests; k++)
		rc = graph_edge(g, &m->manifests[k]);
	if (!rc && m->subject)
		rc = graph_edge(g, m->subject);
	if (rc)
		return rc;
	g->nodes[i].child0 = (uint32_t)start;
	g->nodes[i].n_child = (uint32_t)(g->n_edges - start);
	g->nodes[i].kind = (unsigned char)m->kind;
	return 0;
}

/* Reads and parses manifest/index node `i` once.  A manifest that is
 * missing, or that does not parse, references nothing hoist could know: a
 * leaf.  Any other failure is an error, never a leaf, since the blobs the
 * manifest references would go unmarked and be swept: a read error, a link
 * or other non-regular file, a size over the cap, and a corrupt blob unless
 * g->corrupt_ok (verify reports those, ls shows them). */
static int graph_expand(struct graph *g, uint32_t i, struct err *e)
{
	struct gnode *nd = &g->nodes[i];
	struct manifest m;
	int rc;

	if (nd->expanded || (nd->kind != MT_KIND_MANIFEST && nd->kind != MT_KIND_INDEX))
		return 0;
	nd->expanded = 1;
	buf_reset(&g->rd);
	rc = blob_read(&g->rd, g->l, &nd->d, GC_MANIFEST_MAX, e);
	if (rc == ERR_DIGEST)
		nd->corrupt = 1;
	if (rc == ERR_NOT_FOUND || (rc == ERR_DIGEST && g->corrupt_ok)) {
		err_clear(e);
		return 0;
	}
	if (rc == ERR_DIGEST)
		return err_prefix(e, "cannot tell what manifest %s references; run 'hoist cache "
				  "verify --repair' first", nd->d.str);
	if (rc < 0)
		return err_prefix(e, "cannot tell what manifest %s references", nd->d.str);
	if (manifest_parse(&m, g->rd.data, g->rd.len, NULL, GC_MANIFEST_MAX, NULL) < 0)
		return 0;
	rc = graph_add_children(g, i, &m);
	manifest_release(&m);
	return rc < 0 ? oom(e) : 0;
}

typedef void visit_fn(struct graph *g, struct gnode *nd, void *arg);

/* Depth-first walk from `root`, each node once, expanding manifests. */
static int graph_walk(struct graph *g, uint32_t root, visit_fn *fn, void *arg, struct err *e)
{
	uint32_t i, k;
	int rc;

	g->stamp++;
	g->n_stack = 0;
	if (push_u32(&g->stack, &g->n_stack, &g->cap_stack, root) < 0)
		return oom(e);
	while (g->n_stack) {
		i = g->stack[--g->n_stack];
		if (g->nodes[i].stamp == g->stamp)
			continue;
		g->nodes[i].stamp = g->stamp;
		if ((rc = graph_expand(g, i, e)) < 0)
			return rc;
		fn(g, &g->nodes[i], arg);
		for (k = 0; k < g->nodes[i].n_child; k++)
			if (push_u32(&g->stack, &g->n_stack, &g->cap_stack,
				     g->edges[g->nodes[i].child0 + k]) < 0)
				return oom(e);
	}
	return 0;
}

static void visit_mark(struct graph *g, struct gnode *nd, void *arg)
{
	(void)g;
	(void)arg;
	nd->marked = 1;
}

static void visit_ref(struct graph *g, struct gnode *nd, void *arg)
{
	(void)g;
	(void)arg;
	nd->marked = 1;
	nd->refs++;
}

static int64_t now_s(void)
{
	return (int64_t)time(NULL);
}

/* The digest a file in blobs/<alg>/ (or .hoist/sources/<alg>/) is named
 * after, or -1 when `name` is not exactly the hex digits of one: the same
 * check as digest_parse() on "<alg>:<name>", without formatting that
 * string first (this runs once per blob file). */
static int gc_digest_from_name(struct digest *out, enum digest_alg alg, const char *name)
{
	const char *an = digest_alg_name(alg);
	size_t hexlen = alg == DIGEST_SHA512 ? 128 : 64, plen = strlen(an), i;
	char c;

	for (i = 0; i < hexlen; i++) {
		c = name[i];
		if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
			return -1;
	}
	if (name[hexlen] || plen + 1 + hexlen >= sizeof(out->str))
		return -1;
	out->alg = alg;
	memcpy(out->str, an, plen);
	out->str[plen] = ':';
	memcpy(out->str + plen + 1, name, hexlen + 1);
	return 0;
}

/* stat of a listed blob (no symlinks followed); fills size and mtime.
 * -ENOENT also for a file that is not a regular one. */
static int graph_stat(struct graph *g, struct gnode *nd)
{
	struct stat st;

	if (nd->statted)
		return 0;
	if (fstatat(g->dir_fd[nd->d.alg], digest_hex(&nd->d), &st, AT_SYMLINK_NOFOLLOW) < 0)
		return -errno;
	if (!S_ISREG(st.st_mode))
		return -ENOENT;	/* not a blob file (a listing without d_type) */
	nd->statted = 1;
	nd->size = (int64_t)st.st_size;
	nd->mtime = (int64_t)st.st_mtime;
	return 0;
}

/* Lists blobs/<alg>/ (open as `dir`), see graph_list(). */
static int graph_list_dir(struct graph *g, DIR *dir, enum digest_alg alg, const char *name,
			  size_t *out_n, int stat_all, struct err *e)
{
	struct dirent *de;
	struct digest d;
	uint32_t i;
	int rc, st_rc;

	while ((de = layout_dir_next(dir, &rc))) {
		if (de->d_type != DT_REG && de->d_type != DT_UNKNOWN)
			continue;	/* a link or a directory is not a blob: never touched */
		if (gc_digest_from_name(&d, alg, de->d_name) < 0)
			continue;	/* another tool's temporary file: not ours */
		if (graph_get(&i, g, &d, -1, MT_KIND_UNKNOWN) < 0)
			return oom(e);
		g->nodes[i].listed = 1;
		(*out_n)++;
		if (!stat_all)
			continue;
		st_rc = graph_stat(g, &g->nodes[i]);
		if (st_rc == -ENOENT) {
			g->nodes[i].listed = 0;	/* gone meanwhile, or not a file */
			(*out_n)--;
		} else if (st_rc < 0) {
			return err_set_errno(e, ERR_IO, -st_rc, "cannot look at blob %s in '%s'",
					     d.str, layout_path(g->l));
		}
	}
	if (rc)
		return err_set_errno(e, ERR_IO, rc, "cannot list '%s/%s'", layout_path(g->l),
				     name);
	return 0;
}

/* Reads blobs/<alg>/ once per algorithm: a listed node per file whose name
 * is a digest.  With `stat_all`, stats each (sizes for ls, prune, verify).
 * A listing that fails part way is an error: what it did not reach would
 * pass for absent. */
static int graph_list(struct graph *g, size_t *out_n, int stat_all, struct err *e)
{
	static const enum digest_alg algs[N_ALGS] = { DIGEST_SHA256, DIGEST_SHA512 };
	char name[DIGEST_STR_MAX + 300];
	DIR *dir = NULL;
	int a, fd, ret = 0;

	*out_n = 0;
	for (a = 0; a < N_ALGS && ret == 0; a++) {
		snprintf(name, sizeof(name), "blobs/%s", digest_alg_name(algs[a]));
		fd = openat(layout_root_fd(g->l), name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (fd < 0 && errno == ENOENT)
			continue;
		if (fd < 0 || (g->dir_fd[algs[a]] = dup(fd)) < 0 || !(dir = fdopendir(fd))) {
			ret = err_set_errno(e, ERR_IO, errno, "cannot list '%s/%s'",
					    layout_path(g->l), name);
			if (fd >= 0)
				close(fd);
			break;
		}
		ret = graph_list_dir(g, dir, algs[a], name, out_n, stat_all, e);
		closedir(dir);
	}
	return ret;
}

/* Loads the entries of both indexes (skipping those `skip` names) and walks
 * each, counting in nodes' refs how many entries reach them. */
static int graph_entries(struct graph *g, struct gentry **out, size_t *out_n,
			 const struct prune_dropped *skip, size_t n_skip, struct err *e)
{
	struct layout_ref *refs = NULL;
	struct gentry *ents = NULL;
	size_t n_refs = 0, n = 0, cap = 0, i, k;
	int w, ret = -1;

	*out = NULL;
	*out_n = 0;
	for (w = 0; w < 2; w++) {
		if ((ret = layout_index_list_in(&refs, &n_refs, g->l, (enum layout_index)w, e)) < 0)
			goto out;
		for (i = 0; i < n_refs; i++) {
			for (k = 0; k < n_skip; k++)
				if (skip[k].which == (enum layout_index)w &&
				    digest_equal(&skip[k].digest, &refs[i].desc.digest) &&
				    same_name(skip[k].name, refs[i].name))
					break;
			if (k < n_skip)
				continue;
			if (n == cap) {
				struct gentry *p;

				cap = cap ? cap * 2 : 64;
				if (!(p = realloc(ents, cap * sizeof(*p)))) {
					ret = oom(e);
					goto out;
				}
				ents = p;
			}
			memset(&ents[n], 0, sizeof(ents[n]));
			ents[n].which = (enum layout_index)w;
			ents[n].name = refs[i].name;
			refs[i].name = NULL;
			ents[n].desc = refs[i].desc;
			descriptor_init(&refs[i].desc);
			ents[n].last_used = ents[n].pulled = -1;
			n++;
			if (graph_get(&ents[n - 1].root, g, &ents[n - 1].desc.digest,
				      ents[n - 1].desc.size,
				      mediatype_classify(ents[n - 1].desc.media_type)) < 0) {
				ret = oom(e);
				goto out;
			}
			if ((ret = graph_walk(g, ents[n - 1].root, visit_ref, NULL, e)) < 0)
				goto out;
		}
		layout_refs_free(refs, n_refs);
		refs = NULL;
		n_refs = 0;
	}
	*out = ents;
	*out_n = n;
	ents = NULL;
	ret = 0;
out:
	layout_refs_free(refs, n_refs);
	for (i = 0; ents && i < n; i++) {
		free(ents[i].name);
		descriptor_release(&ents[i].desc);
	}
	free(ents);
	return ret;
}

static void gentries_free(struct gentry *ents, size_t n)
{
	size_t i;

	for (i = 0; ents && i < n; i++) {
		free(ents[i].name);
		descriptor_release(&ents[i].desc);
	}
	free(ents);
}

/* Reads from `fd` until `n` bytes or the end; the count, or -errno. */
static ssize_t read_upto(int fd, char *p, size_t n)
{
	size_t got = 0;
	ssize_t r;

	while (got < n && (r = read(fd, p + got, n - got)) != 0) {
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -errno;
		got += (size_t)r;
	}
	return (ssize_t)got;
}

static int candidate_failed(struct graph *g, const struct gnode *nd, int errnum,
			    const char *what, struct err *e)
{
	return err_set_errno(e, ERR_IO, errnum, "cannot %s blob %s in '%s', which may be a "
			     "referrer of a kept image", what, nd->d.str, layout_path(g->l));
}

/* Whether the blob file `nd` could be a referrer: opens it once, fills
 * its size and mtime from the open file (so the sweep needs no stat), and
 * reads GC_HEAD_MAX bytes; when it starts like a JSON object and is small
 * enough, reads the rest into g->rd.  Returns 1 with g->rd holding the whole
 * file when it mentions "subject", 0 when it cannot be a referrer (or is
 * gone, or is a link or not a regular file: not a blob, never swept), or an
 * error: one that cannot be read might be a referrer, and would be swept.
 * The content is not hashed: a corrupt blob taken for a referrer is kept,
 * the safe direction. */
static int gc_read_candidate(struct graph *g, struct gnode *nd, struct err *e)
{
	char head[GC_HEAD_MAX], io[16384];
	struct stat st;
	ssize_t got, r;
	size_t k;
	int fd, ret = 0;

	fd = openat(g->dir_fd[nd->d.alg], digest_hex(&nd->d),
		    O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
	if (fd < 0 && (errno == ENOENT || errno == ELOOP)) {
		nd->listed = 0;	/* gone meanwhile, or a link: not a blob */
		return 0;
	}
	if (fd < 0)
		return candidate_failed(g, nd, errno, "open", e);
	if (fstat(fd, &st) < 0) {
		ret = candidate_failed(g, nd, errno, "look at", e);
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		nd->listed = 0;
		goto out;
	}
	nd->statted = 1;
	nd->size = (int64_t)st.st_size;
	nd->mtime = (int64_t)st.st_mtime;
	if (st.st_size < 2 || st.st_size > (off_t)GC_MANIFEST_MAX)
		goto out;
	got = read_upto(fd, head, st.st_size < (off_t)sizeof(head) ? (size_t)st.st_size
								  : sizeof(head));
	if (got < 0) {
		ret = candidate_failed(g, nd, (int)-got, "read", e);
		goto out;
	}
	for (k = 0; k < (size_t)got && (head[k] == ' ' || head[k] == '\n' || head[k] == '\r' ||
					head[k] == '\t'); k++)
		;
	if (k == (size_t)got || head[k] != '{')
		goto out;
	buf_reset(&g->rd);
	buf_add(&g->rd, head, (size_t)got);
	/* the rest, up to the cap */
	while (got == (ssize_t)sizeof(head) && g->rd.len <= GC_MANIFEST_MAX &&
	       (r = read_upto(fd, io, sizeof(io))) != 0) {
		if (r < 0) {
			ret = candidate_failed(g, nd, (int)-r, "read", e);
			goto out;
		}
		buf_add(&g->rd, io, (size_t)r);
	}
	if (buf_failed(&g->rd)) {
		ret = oom(e);
		goto out;
	}
	if (g->rd.len <= GC_MANIFEST_MAX && memmem(g->rd.data, g->rd.len, "\"subject\"", 9))
		ret = 1;
out:
	close(fd);
	return ret;
}

/* Keeps referrers: unmarked listed manifests whose `subject` is marked (and
 * so on, until nothing changes).  Only unmarked JSON blobs are read. */
static int graph_referrers(struct graph *g, struct err *e)
{
	struct { uint32_t node; struct digest subject; } *cand = NULL, *p;
	size_t n_cand = 0, cap = 0, i, n0 = g->n;
	struct manifest m;
	int changed = 1, ret = -1, rc;
	long s;

	for (i = 0; i < n0; i++) {
		struct gnode *nd = &g->nodes[i];

		if (!nd->listed || nd->marked || nd->kind == MT_KIND_LAYER)
			continue;
		if ((rc = gc_read_candidate(g, nd, e)) < 0) {
			ret = rc;
			goto out;
		}
		if (rc == 0)
			continue;
		if (manifest_parse(&m, g->rd.data, g->rd.len, NULL, GC_MANIFEST_MAX, NULL) < 0)
			continue;
		if (m.subject && n_cand == cap) {
			cap = cap ? cap * 2 : 16;
			if (!(p = realloc(cand, cap * sizeof(*p)))) {
				manifest_release(&m);
				ret = oom(e);
				goto out;
			}
			cand = p;
		}
		if (m.subject) {
			cand[n_cand].node = (uint32_t)i;
			cand[n_cand++].subject = m.subject->digest;
			g->nodes[i].kind = (unsigned char)m.kind;
		}
		manifest_release(&m);
	}
	while (changed) {
		changed = 0;
		for (i = 0; i < n_cand; i++) {
			if (g->nodes[cand[i].node].marked)
				continue;
			s = graph_find(g, &cand[i].subject);
			if (s < 0 || !g->nodes[s].marked)
				continue;
			if ((ret = graph_walk(g, cand[i].node, visit_mark, NULL, e)) < 0)
				goto out;
			changed = 1;
		}
	}
	ret = 0;
out:
	free(cand);
	return ret;
}

/* --- gc ------------------------------------------------------------------- */

void gc_report_release(struct gc_report *r)
{
	if (!r)
		return;
	free(r->removed);
	memset(r, 0, sizeof(*r));
}

static int report_removed(struct gc_report *r, size_t *cap, const struct gnode *nd)
{
	if (r->n_removed == *cap) {
		size_t c = *cap ? *cap * 2 : 64;
		struct gc_item *p = realloc(r->removed, c * sizeof(*p));

		if (!p)
			return ERR_NOMEM;
		r->removed = p;
		*cap = c;
	}
	r->removed[r->n_removed].digest = nd->d;
	r->removed[r->n_removed++].size = nd->size;
	r->removed_bytes += (uint64_t)(nd->size > 0 ? nd->size : 0);
	return 0;
}

/* Removes the files of .hoist/ingest whose writer is dead: a live writer
 * holds LOCK_EX on its temporary file from creation to rename, and the lock
 * dies with the process, so a file we can lock has no writer. */
static int sweep_ingest(struct gc_report *r, struct layout *l, int dry_run, struct err *e)
{
	struct dirent *de;
	struct stat st;
	DIR *dir;
	int fd, dfd, ret = 0, rc;

	dfd = openat(layout_root_fd(l), INGEST_DIR, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return errno == ENOENT ? 0 : err_set_errno(e, ERR_IO, errno, "cannot open '%s/"
							   INGEST_DIR "'", layout_path(l));
	if (!(dir = fdopendir(dfd))) {
		close(dfd);
		return err_set_errno(e, ERR_IO, errno, "cannot list '%s/" INGEST_DIR "'",
				     layout_path(l));
	}
	while ((de = layout_dir_next(dir, &rc))) {
		if (de->d_name[0] == '.')
			continue;
		fd = openat(dirfd(dir), de->d_name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
		if (fd < 0)
			continue;
		if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) &&
		    flock(fd, LOCK_EX | LOCK_NB) == 0) {
			if (dry_run || unlinkat(dirfd(dir), de->d_name, 0) == 0) {
				r->n_temp++;
				r->temp_bytes += (uint64_t)st.st_size;
			}
		}
		close(fd);
	}
	if (rc)
		ret = err_set_errno(e, ERR_IO, rc, "cannot list '%s/" INGEST_DIR "'",
				    layout_path(l));
	closedir(dir);
	return ret;
}

/* Reads .hoist/sources/<alg>/ once and flags the listed blobs that have a
 * record, so that the sweep unlinks only records that exist (most blobs
 * have none: an unlink per removed blob would mostly fail with ENOENT).
 * A directory that is missing has no records; one that cannot be listed
 * is an error, like every listing gc makes (it runs before any unlink). */
static int gc_list_sources(struct graph *g, struct err *e)
{
	static const enum digest_alg algs[N_ALGS] = { DIGEST_SHA256, DIGEST_SHA512 };
	char name[DIGEST_STR_MAX + 300];
	struct dirent *de;
	struct digest d;
	DIR *dir;
	long i;
	int a, fd, rc;

	for (a = 0; a < N_ALGS; a++) {
		snprintf(name, sizeof(name), SOURCES_DIR "/%s", digest_alg_name(algs[a]));
		fd = openat(layout_root_fd(g->l), name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (fd < 0 && errno == ENOENT)
			continue;
		if (fd < 0 || (g->src_fd[algs[a]] = dup(fd)) < 0 || !(dir = fdopendir(fd))) {
			rc = errno;
			if (fd >= 0)
				close(fd);
			return err_set_errno(e, ERR_IO, rc, "cannot list '%s/%s'",
					     layout_path(g->l), name);
		}
		while ((de = layout_dir_next(dir, &rc))) {
			if (de->d_name[0] == '.')
				continue;
			if (gc_digest_from_name(&d, algs[a], de->d_name) < 0)
				continue;
			if ((i = graph_find(g, &d)) >= 0)
				g->nodes[i].sourced = 1;
		}
		closedir(dir);
		if (rc)
			return err_set_errno(e, ERR_IO, rc, "cannot list '%s/%s'",
					     layout_path(g->l), name);
	}
	return 0;
}

/* The unlinks of one sweep, shared by its threads: thread k takes victims
 * k, k + n_threads, ...; res[j] is 0 or the errno of victim j's unlink. */
struct gc_unlinker {
	struct graph *g;
	const uint32_t *victims;
	int *res;
	size_t n, stride, first;
};

static void *gc_unlink_some(void *arg)
{
	struct gc_unlinker *u = arg;
	struct gnode *nd;
	size_t j;

	for (j = u->first; j < u->n; j += u->stride) {
		nd = &u->g->nodes[u->victims[j]];
		u->res[j] = unlinkat(u->g->dir_fd[nd->d.alg], digest_hex(&nd->d), 0) < 0 ? errno : 0;
		if (!u->res[j] && nd->sourced && u->g->src_fd[nd->d.alg] >= 0)
			unlinkat(u->g->src_fd[nd->d.alg], digest_hex(&nd->d), 0);
	}
	return NULL;
}

/* Unlinks the victims (and their sources records), on several threads when
 * there are many; every thread is joined before this returns, so all
 * unlinks happen under the caller's gc lock.  res[j] as in gc_unlinker.
 * A thread that cannot be started leaves its share to this one. */
static void gc_unlink_all(struct graph *g, const uint32_t *victims, int *res, size_t n)
{
	struct gc_unlinker u[GC_UNLINK_THREADS];
	pthread_t tid[GC_UNLINK_THREADS];
	int started[GC_UNLINK_THREADS];
	size_t n_threads = n / GC_UNLINK_PER_THREAD, k;

	if (n_threads > GC_UNLINK_THREADS)
		n_threads = GC_UNLINK_THREADS;
	if (n_threads < 1)
		n_threads = 1;
	for (k = 0; k < n_threads; k++) {
		u[k].g = g;
		u[k].victims = victims;
		u[k].res = res;
		u[k].n = n;
		u[k].stride = n_threads;
		u[k].first = k;
		started[k] = k > 0 && pthread_create(&tid[k], NULL, gc_unlink_some, &u[k]) == 0;
	}
	for (k = 0; k < n_threads; k++)
		if (!started[k])
			gc_unlink_some(&u[k]);
	for (k = 1; k < n_threads; k++)
		if (started[k])
			pthread_join(tid[k], NULL);
}

/* The victims: listed, unmarked blobs older than `cutoff` (stat only what
 * the referrer scan did not open). */
static int gc_victims(uint32_t **out, size_t *out_n, struct gc_report *r, struct graph *g,
		      int64_t cutoff, struct err *e)
{
	size_t cap = 0, i;
	int rc;

	for (i = 0; i < g->n; i++) {
		struct gnode *nd = &g->nodes[i];

		if (!nd->listed)
			continue;
		if (nd->marked) {
			r->n_reachable++;
			continue;
		}
		rc = graph_stat(g, nd);
		if (rc == -ENOENT)
			continue;
		if (rc < 0)
			return err_set_errno(e, ERR_IO, -rc, "cannot look at blob %s in '%s'",
					     nd->d.str, layout_path(g->l));
		if (nd->mtime > cutoff) {
			r->n_young++;
			r->young_bytes += (uint64_t)nd->size;
			continue;
		}
		if (push_u32(out, out_n, &cap, (uint32_t)i) < 0)
			return oom(e);
	}
	return 0;
}

/* Unlinks the victims (all at once, see gc_unlink_all) and reports them in
 * node order. */
static int gc_sweep(struct gc_report *r, struct graph *g, const uint32_t *victims, size_t n,
		    int dry, struct err *e)
{
	size_t cap = 0, i;
	int *res = NULL, ret = -1;

	if (!n)
		return 0;
	if (!(res = calloc(n, sizeof(*res))))
		return oom(e);
	if (!dry) {
		if ((ret = gc_list_sources(g, e)) < 0) {
			err_prefix(e, "nothing was removed");
			goto out;
		}
		gc_unlink_all(g, victims, res, n);
	}
	for (i = 0; i < n; i++) {
		struct gnode *nd = &g->nodes[victims[i]];

		if (res[i] == ENOENT)
			continue;
		if (res[i]) {
			ret = err_set_errno(e, ERR_IO, res[i], "cannot remove blob %s from '%s'",
					    nd->d.str, layout_path(g->l));
			goto out;
		}
		if (report_removed(r, &cap, nd) < 0) {
			ret = oom(e);
			goto out;
		}
	}
	ret = 0;
out:
	free(res);
	return ret;
}

/* gc proper; entries in `skip` are treated as already dropped (prune's
 * dry run). */
static int gc_do(struct gc_report *out, struct layout *l, const struct gc_options *opt,
		 const struct prune_dropped *skip, size_t n_skip, struct err *e)
{
	struct graph g;
	struct gentry *ents = NULL;
	uint32_t *victims = NULL;
	size_t n_ents = 0, n_victims = 0;
	int dry = !!(opt->flags & GC_DRY_RUN), locked = 0, ret = -1;
	int64_t cutoff = now_s() - opt->grace_s;

	memset(out, 0, sizeof(*out));
	graph_init(&g, l);
	/* Why deleting below is safe while others pull, build and push.
	 *
	 * 1. Leased writers (every hoist command that makes a blob present or
	 *    finds it present and then names it in an index) hold .hoist/gc.lock
	 *    LOCK_SH from before their first blob check until their index entry
	 *    is renamed into place.  We hold it LOCK_EX from here to the last
	 *    unlink, so each such writer ran wholly before this gc (its entry is
	 *    in the index we read next, so its blobs are marked) or runs wholly
	 *    after it (it sees only blobs that survived and writes the rest).
	 *    A writer killed by SIGKILL drops its flock with its process.
	 * 2. Unleased writers (other tools, or hoist writing a metadata entry
	 *    whose blobs it just wrote): a blob written or re-committed less
	 *    than grace_s ago is never swept, which covers the time between
	 *    their blob write and their index write.
	 * 3. Temporary files: only those whose flock we can take (dead writer).
	 * 4. Usage records: removed under index.lock, which every index update
	 *    holds, so a record being written for a new entry is never lost.
	 * 5. Anything that cannot be read or listed while marking stops gc
	 *    before its first unlink: a blob whose referrer could not be read
	 *    would look unreachable.
	 * The indexes are read after the lock is taken, never before. */
	if ((ret = layout_gc_lock(l, opt->wait_ms, e)) < 0)
		goto out;
	locked = 1;
	if ((ret = graph_list(&g, &out->n_blobs, 0, e)) < 0 ||
	    (ret = graph_entries(&g, &ents, &n_ents, skip, n_skip, e)) < 0 ||
	    (ret = graph_referrers(&g, e)) < 0 ||
	    (ret = gc_victims(&victims, &n_victims, out, &g, cutoff, e)) < 0) {
		err_prefix(e, "nothing was removed");
		goto out;
	}
	out->n_entries = n_ents;
	if ((ret = gc_sweep(out, &g, victims, n_victims, dry, e)) < 0 ||
	    (ret = sweep_ingest(out, l, dry, e)) < 0)
		goto out;
	if (!n_skip && (ret = usage_prune(&out->n_records, l, dry, e)) < 0)
		goto out;
	if (!n_skip && (ret = memo_prune(&out->n_memos, l, cutoff, dry, e)) < 0)
		goto out;
	ret = 0;
out:
	if (locked)
		layout_gc_unlock(l);
	free(victims);
	gentries_free(ents, n_ents);
	graph_release(&g);
	return ret;
}

int gc_run(struct gc_report *out, struct layout *l, const struct gc_options *opt,
	   struct err *e)
{
	return gc_do(out, l, opt, NULL, 0, e);
}

/* --- prune and remove ----------------------------------------------------- */

void prune_report_release(struct prune_report *r)
{
	size_t i;

	if (!r)
		return;
	for (i = 0; i < r->n_dropped; i++)
		free(r->dropped[i].name);
	free(r->dropped);
	gc_report_release(&r->gc);
	memset(r, 0, sizeof(*r));
}

struct drop_arg {
	const struct prune_dropped *drops;
	size_t n;
	enum layout_index which;
};

/* Rebuilds "manifests" without the entries to drop (matched by name and
 * digest, so an entry re-pulled meanwhile stays).  1 when nothing changed. */
static int drop_fn(struct json *index, void *arg, struct err *e)
{
	struct drop_arg *a = arg;
	struct json *old = json_get(index, "manifests"), *arr = json_new_array(), *m;
	const char *name, *dg;
	size_t i, k, n = json_array_len(old), kept = 0;

	if (!arr)
		return oom(e);
	for (i = 0; i < n; i++) {
		m = json_array_get(old, i);
		name = json_get_str(json_get(m, "annotations"), ANNOT_REF_NAME);
		dg = json_get_str(m, "digest");
		for (k = 0; k < a->n; k++)
			if (a->drops[k].which == a->which && dg &&
			    !strcmp(dg, a->drops[k].digest.str) && same_name(name, a->drops[k].name))
				break;
		if (k < a->n)
			continue;
		if (json_append(arr, json_ref(m)) < 0) {
			json_free(arr);
			return oom(e);
		}
		kept++;
	}
	if (kept == n) {
		json_free(arr);
		return 1;
	}
	if (json_set(index, "manifests", arr) < 0)
		return oom(e);
	return 0;
}

static int drop_entries(struct layout *l, const struct prune_dropped *drops, size_t n,
			struct err *e)
{
	struct drop_arg a = { drops, n, LAYOUT_INDEX_MAIN };
	int ret;

	if (!n)
		return 0;
	if ((ret = layout_index_update_in(l, LAYOUT_INDEX_MAIN, drop_fn, &a, e)) < 0)
		return ret;
	a.which = LAYOUT_INDEX_META;
	return layout_index_update_in(l, LAYOUT_INDEX_META, drop_fn, &a, e);
}

static int add_dropped(struct prune_report *r, size_t *cap, const struct gentry *g)
{
	if (r->n_dropped == *cap) {
		size_t c = *cap ? *cap * 2 : 16;
		struct prune_dropped *p = realloc(r->dropped, c * sizeof(*p));

		if (!p)
			return ERR_NOMEM;
		r->dropped = p;
		*cap = c;
	}
	r->dropped[r->n_dropped].name = NULL;
	if (g->name && !(r->dropped[r->n_dropped].name = strdup(g->name)))
		return ERR_NOMEM;
	r->dropped[r->n_dropped].digest = g->desc.digest;
	r->dropped[r->n_dropped++].which = g->which;
	return 0;
}

/* Fills last_used and pulled: the usage record, else the manifest's mtime.
 * A record that exists but cannot be read is ERR_IO: prune must not judge
 * an entry's age by the fallback then. */
static int entry_times(struct graph *g, struct gentry *en, struct err *e)
{
	struct usage_info info;
	struct gnode *nd = &g->nodes[en->root];
	int rc = ERR_NOT_FOUND;

	if (en->name)
		rc = usage_get(&info, g->l, en->name, e);
	if (rc == 0) {
		en->last_used = info.last_used;
		en->pulled = info.pulled;
		return 0;
	}
	if (rc == ERR_IO || rc == ERR_NOMEM)
		return rc;
	err_clear(e);
	if (nd->listed && graph_stat(g, nd) == 0)
		en->last_used = nd->mtime;
	return 0;
}

static int cmp_used_desc(const void *a, const void *b)
{
	const struct gentry *x = *(struct gentry *const *)a, *y = *(struct gentry *const *)b;

	return x->last_used < y->last_used ? 1 : x->last_used > y->last_used ? -1 : 0;
}

static void visit_unref(struct graph *g, struct gnode *nd, void *arg)
{
	uint64_t *total = arg;

	(void)g;
	if (nd->refs && !--nd->refs && nd->listed && nd->size > 0)
		*total -= (uint64_t)nd->size;
}

/* --max-size: drops the least recently used of `cand` (most recently used
 * first) until the blobs the rest reach fit. */
static int prune_fit(struct graph *g, struct gentry *ents, size_t n_ents, struct gentry **cand,
		     size_t n_cand, int64_t max_size, struct err *e)
{
	uint64_t total = 0;
	size_t i;
	int ret;

	for (i = 0; i < g->n; i++)
		if (g->nodes[i].refs && g->nodes[i].listed && g->nodes[i].size > 0)
			total += (uint64_t)g->nodes[i].size;
	for (i = 0; i < n_ents; i++)
		if (ents[i].drop &&
		    (ret = graph_walk(g, ents[i].root, visit_unref, &total, e)) < 0)
			return ret;
	for (i = n_cand; i-- > 0 && total > (uint64_t)max_size;) {
		if (cand[i]->drop)
			continue;
		cand[i]->drop = 1;
		if ((ret = graph_walk(g, cand[i]->root, visit_unref, &total, e)) < 0)
			return ret;
	}
	return 0;
}

/* Marks the entries the policies select (drop = 1). */
static int prune_select(struct graph *g, struct gentry *ents, size_t n_ents,
			const struct prune_options *opt, struct err *e)
{
	struct gentry **cand = NULL;
	size_t n_cand = 0, i;
	int64_t now = now_s();
	int ret = -1;

	if (!(cand = calloc(n_ents + 1, sizeof(*cand))))
		return oom(e);
	for (i = 0; i < n_ents; i++) {
		if ((ret = entry_times(g, &ents[i], e)) < 0)
			goto out;
		if (opt->filter && fnmatch(opt->filter, ents[i].name ? ents[i].name : "", 0))
			continue;
		cand[n_cand++] = &ents[i];
	}
	/* most recently used first */
	qsort(cand, n_cand, sizeof(*cand), cmp_used_desc);
	for (i = 0; i < n_cand; i++) {
		if (opt->all)
			cand[i]->drop = 1;
		if (opt->older_than_s >= 0 && cand[i]->last_used < now - opt->older_than_s)
			cand[i]->drop = 1;
		if (opt->keep_last >= 0 && i >= (size_t)opt->keep_last)
			cand[i]->drop = 1;
	}
	ret = 0;
	if (opt->max_size >= 0)
		ret = prune_fit(g, ents, n_ents, cand, n_cand, opt->max_size, e);
out:
	free(cand);
	return ret;
}

int prune_run(struct prune_report *out, struct layout *l, const struct prune_options *opt,
		struct err *e)
{
	struct graph g;
	struct gentry *ents = NULL;
	size_t n_ents = 0, n_blobs, cap = 0, i;
	int ret = -1;

	memset(out, 0, sizeof(*out));
	graph_init(&g, l);
	if ((ret = graph_list(&g, &n_blobs, 1, e)) < 0 ||
	    (ret = graph_entries(&g, &ents, &n_ents, NULL, 0, e)) < 0 ||
	    (ret = prune_select(&g, ents, n_ents, opt, e)) < 0) {
		err_prefix(e, "nothing was dropped or removed");
		goto out;
	}
	for (i = 0; i < n_ents; i++)
		if (ents[i].drop && add_dropped(out, &cap, &ents[i]) < 0) {
			ret = oom(e);
			goto out;
		}
	if (opt->gc.flags & GC_DRY_RUN) {
		ret = gc_do(&out->gc, l, &opt->gc, out->dropped, out->n_dropped, e);
		goto out;
	}
	if ((ret = drop_entries(l, out->dropped, out->n_dropped, e)) < 0)
		goto out;
	ret = gc_do(&out->gc, l, &opt->gc, NULL, 0, e);
out:
	gentries_free(ents, n_ents);
	graph_release(&g);
	return ret;
}

int rm_run(struct prune_report *out, struct layout *l, const char *const *names,
		 size_t n, const struct gc_options *opt, struct err *e)
{
	struct layout_ref *refs[2] = { NULL, NULL };
	struct gentry tmp;
	size_t n_refs[2] = { 0, 0 }, cap = 0, i, k;
	int w, found, ret = -1;

	memset(out, 0, sizeof(*out));
	for (w = 0; w < 2; w++)
		if ((ret = layout_index_list_in(&refs[w], &n_refs[w], l, (enum layout_index)w,
						e)) < 0)
			goto out;
	for (i = 0; i < n; i++) {
		found = 0;
		for (w = 0; w < 2; w++)
			for (k = 0; k < n_refs[w]; k++) {
				if (!refs[w][k].name || strcmp(refs[w][k].name, names[i]))
					continue;
				memset(&tmp, 0, sizeof(tmp));
				tmp.name = refs[w][k].name;
				tmp.desc.digest = refs[w][k].desc.digest;
				tmp.which = (enum layout_index)w;
				if (add_dropped(out, &cap, &tmp) < 0) {
					ret = oom(e);
					goto out;
				}
				found = 1;
			}
		if (!found) {
			ret = err_set(e, ERR_NOT_FOUND, "no image named '%.200s' in the cache '%s': "
				      "'hoist cache ls' lists the images it holds", names[i],
				      layout_path(l));
			goto out;
		}
	}
	if (opt->flags & GC_DRY_RUN) {
		ret = gc_do(&out->gc, l, opt, out->dropped, out->n_dropped, e);
		goto out;
	}
	if ((ret = drop_entries(l, out->dropped, out->n_dropped, e)) < 0)
		goto out;
	ret = gc_do(&out->gc, l, opt, NULL, 0, e);
out:
	for (w = 0; w < 2; w++)
		layout_refs_free(refs[w], n_refs[w]);
	return ret;
}

/* --- verify ------------------------------------------------------------- */

void verify_report_release(struct verify_report *r)
{
	size_t i;

	if (!r)
		return;
	for (i = 0; i < r->n_problems; i++) {
		free(r->problems[i].what);
		free(r->problems[i].name);
	}
	free(r->problems);
	memset(r, 0, sizeof(*r));
}

static int add_problem(struct verify_report *r, size_t *cap, const char *what,
		       const char *name, const struct digest *d)
{
	struct verify_problem *p;

	if (r->n_problems == *cap) {
		size_t c = *cap ? *cap * 2 : 16;

		if (!(p = realloc(r->problems, c * sizeof(*p))))
			return ERR_NOMEM;
		r->problems = p;
		*cap = c;
	}
	p = &r->problems[r->n_problems];
	p->what = strdup(what);
	p->name = name ? strdup(name) : NULL;
	p->digest = *d;
	if (!p->what || (name && !p->name)) {
		free(p->what);
		free(p->name);
		return ERR_NOMEM;
	}
	r->n_problems++;
	return 0;
}

/* Hashes blob file `nd`; sets nd->corrupt on a mismatch.  ENOENT is fine
 * (gc removed it meanwhile). */
static int hash_blob(struct graph *g, struct gnode *nd, char *io, size_t io_len, struct err *e)
{
	struct digest_ctx ctx;
	struct digest got;
	ssize_t r;
	int fd, ret;

	fd = openat(g->dir_fd[nd->d.alg], digest_hex(&nd->d), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0) {
		if (errno == ENOENT) {
			nd->listed = 0;
			return 0;
		}
		return err_set_errno(e, ERR_IO, errno, "cannot open blob %s in '%s'", nd->d.str,
				     layout_path(g->l));
	}
	if ((ret = digest_ctx_init(&ctx, nd->d.alg, e)) < 0) {
		close(fd);
		return ret;
	}
	for (;;) {
		r = read(fd, io, io_len);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			ret = err_set_errno(e, ERR_IO, errno, "cannot read blob %s in '%s'",
					    nd->d.str, layout_path(g->l));
			goto out;
		}
		if (r == 0)
			break;
		if ((ret = digest_ctx_update(&ctx, io, (size_t)r, e)) < 0)
			goto out;
	}
	digest_ctx_final(&ctx, &got);
	nd->corrupt = !digest_equal(&got, &nd->d);
	ret = 0;
out:
	digest_ctx_release(&ctx);
	close(fd);
	return ret;
}

struct entry_check {
	int meta;		/* a metadata entry: only manifests/configs needed */
	size_t n_missing, n_bad_meta, n_bad;
	struct verify_report *r;
	size_t *cap;
	const char *name;
	uint32_t root;
	int oom;
};

static void visit_check(struct graph *g, struct gnode *nd, void *arg)
{
	struct entry_check *c = arg;
	int needed_meta = nd->kind == MT_KIND_MANIFEST || nd->kind == MT_KIND_INDEX ||
			  nd->kind == MT_KIND_CONFIG;
	int bad = !nd->listed || nd->corrupt;

	if (!bad)
		return;
	if (needed_meta)
		c->n_bad_meta++;
	c->n_bad++;
	if (c->meta && (uint32_t)(nd - g->nodes) != c->root)
		return;	/* a metadata entry may lack the rest */
	if (!nd->listed) {
		c->n_missing++;
		if (add_problem(c->r, c->cap, "missing", c->name, &nd->d) < 0)
			c->oom = 1;
	}
}

/* Hashes every listed blob (nodes' `corrupt`), counting into `out`. */
static int verify_hash(struct verify_report *out, size_t *cap, struct graph *g, struct err *e)
{
	char *io = malloc(1u << 20);
	size_t i;
	int ret = -1;

	if (!io)
		return oom(e);
	for (i = 0; i < g->n; i++) {
		if (!g->nodes[i].listed)
			continue;
		if ((ret = hash_blob(g, &g->nodes[i], io, 1u << 20, e)) < 0)
			goto out;
		if (!g->nodes[i].listed)
			continue;
		out->bytes += (uint64_t)g->nodes[i].size;
		if (!g->nodes[i].corrupt)
			continue;
		out->n_corrupt++;
		if (add_problem(out, cap, "corrupt", NULL, &g->nodes[i].d) < 0) {
			ret = oom(e);
			goto out;
		}
	}
	ret = 0;
out:
	free(io);
	return ret;
}

/* Checks every entry; with `repair`, flags (drop = 1) and reports those to
 * move or drop. */
static int verify_entries(struct verify_report *out, size_t *cap, struct graph *g,
			  struct gentry *ents, size_t n_ents, int repair, struct err *e)
{
	struct entry_check c;
	const char *label;
	size_t i;
	int ret;

	for (i = 0; i < n_ents; i++) {
		memset(&c, 0, sizeof(c));
		c.meta = ents[i].which == LAYOUT_INDEX_META;
		c.r = out;
		c.cap = cap;
		c.name = ents[i].name ? ents[i].name : ents[i].desc.digest.str;
		c.root = ents[i].root;
		if ((ret = graph_walk(g, ents[i].root, visit_check, &c, e)) < 0)
			return ret;
		if (c.oom)
			return oom(e);
		out->n_missing += c.n_missing;
		if (!repair)
			continue;
		label = NULL;
		if (!c.meta && c.n_bad) {
			ents[i].drop = 1;
			label = c.n_bad_meta ? "dropped" : "moved";
		} else if (c.meta && (!g->nodes[ents[i].root].listed ||
				      g->nodes[ents[i].root].corrupt)) {
			ents[i].drop = 1;
			label = "dropped";
		}
		if (label && add_problem(out, cap, label, c.name, &ents[i].desc.digest) < 0)
			return oom(e);
	}
	return 0;
}

/* Removes the corrupt blobs. */
static int verify_remove_corrupt(struct verify_report *out, size_t *cap, struct graph *g,
				 struct err *e)
{
	struct gnode *nd;
	size_t i;

	for (i = 0; i < g->n; i++) {
		nd = &g->nodes[i];
		if (!nd->listed || !nd->corrupt)
			continue;
		if (unlinkat(g->dir_fd[nd->d.alg], digest_hex(&nd->d), 0) < 0 && errno != ENOENT)
			return err_set_errno(e, ERR_IO, errno, "cannot remove corrupt blob %s from "
					     "'%s'", nd->d.str, layout_path(g->l));
		blob_sources_remove(g->l, &nd->d);
		if (add_problem(out, cap, "removed", NULL, &nd->d) < 0)
			return oom(e);
	}
	return 0;
}

/* Applies the moves (out of index.json, into the metadata index) and drops
 * verify_entries() decided. */
static int verify_apply(const struct verify_report *out, struct layout *l,
			const struct gentry *ents, size_t n_ents, struct err *e)
{
	size_t i, k;
	int moved, ret;

	for (i = 0; i < n_ents; i++) {
		if (!ents[i].drop)
			continue;
		if (!ents[i].name) {
			struct prune_dropped d = { NULL, ents[i].desc.digest, ents[i].which };

			if ((ret = drop_entries(l, &d, 1, e)) < 0)
				return ret;
			continue;
		}
		for (moved = 0, k = 0; k < out->n_problems; k++)
			if (out->problems[k].name && !strcmp(out->problems[k].what, "moved") &&
			    !strcmp(out->problems[k].name, ents[i].name) &&
			    digest_equal(&out->problems[k].digest, &ents[i].desc.digest))
				moved = 1;
		ret = layout_index_remove_in(l, ents[i].which, ents[i].name, e);
		if (ret < 0 && ret != ERR_NOT_FOUND)
			return ret;
		err_clear(e);
		if (moved && (ret = layout_index_set_in(l, LAYOUT_INDEX_META, ents[i].name,
							 &ents[i].desc, e)) < 0)
			return ret;
	}
	return 0;
}

int verify_run(struct verify_report *out, struct layout *l, unsigned flags, int wait_ms,
		 struct err *e)
{
	struct graph g;
	struct gentry *ents = NULL;
	size_t n_ents = 0, cap = 0;
	int repair = !!(flags & VERIFY_REPAIR), locked = 0, ret = -1;

	memset(out, 0, sizeof(*out));
	graph_init(&g, l);
	g.corrupt_ok = 1;	/* a corrupt manifest is a finding */
	/* Reading is safe without the gc lock (blobs are only ever renamed into
	 * place whole).  Repairing deletes and rewrites entries, so it holds the
	 * gc lock: no writer is between its blob checks and its index entry.
	 * Nothing is repaired unless every listing and read succeeded: an entry
	 * is moved or dropped only for blobs seen missing or corrupt. */
	if (repair) {
		if ((ret = layout_gc_lock(l, wait_ms, e)) < 0)
			goto out;
		locked = 1;
	}
	if ((ret = graph_list(&g, &out->n_blobs, 1, e)) < 0 ||
	    (ret = verify_hash(out, &cap, &g, e)) < 0 ||
	    (ret = graph_entries(&g, &ents, &n_ents, NULL, 0, e)) < 0 ||
	    (ret = verify_entries(out, &cap, &g, ents, n_ents, repair, e)) < 0) {
		if (repair)
			err_prefix(e, "nothing was repaired");
		goto out;
	}
	out->n_entries = n_ents;
	if (repair && ((ret = verify_remove_corrupt(out, &cap, &g, e)) < 0 ||
		       (ret = verify_apply(out, l, ents, n_ents, e)) < 0))
		goto out;
	ret = 0;
out:
	if (locked)
		layout_gc_unlock(l);
	gentries_free(ents, n_ents);
	graph_release(&g);
	return ret;
}

/* --- list ------------------------------------------------------------------ */

struct entry_sizes {
	uint64_t unique, shared;
	size_t missing;
};

static void visit_sizes(struct graph *g, struct gnode *nd, void *arg)
{
	struct entry_sizes *s = arg;

	(void)g;
	if (!nd->listed) {
		s->missing++;
		return;
	}
	if (nd->size <= 0)
		return;
	if (nd->refs > 1)
		s->shared += (uint64_t)nd->size;
	else
		s->unique += (uint64_t)nd->size;
}

/* "linux/amd64, linux/arm64/v8" for an index (its children's platforms) or
 * an image (the descriptor's platform, else its config's); NULL if unknown. */
static char *entry_platforms(struct graph *g, const struct descriptor *desc)
{
	struct buf out = BUF_INIT, rd = BUF_INIT;
	struct manifest m;
	struct imgconfig cfg;
	size_t k;

	manifest_init(&m);
	imgconfig_init(&cfg);
	if (desc->platform) {
		platform_format(&out, desc->platform);
		goto out;
	}
	if (blob_read(&rd, g->l, &desc->digest, GC_MANIFEST_MAX, NULL) < 0 ||
	    manifest_parse(&m, rd.data, rd.len, NULL, GC_MANIFEST_MAX, NULL) < 0)
		goto out;
	if (m.kind == MT_KIND_INDEX) {
		for (k = 0; k < m.n_manifests; k++) {
			if (!m.manifests[k].platform)
				continue;
			if (out.len)
				buf_addstr(&out, ", ");
			platform_format(&out, m.manifests[k].platform);
		}
		goto out;
	}
	buf_reset(&rd);
	if (blob_read(&rd, g->l, &m.config.digest, IMGCONFIG_MAX_DEFAULT, NULL) == 0 &&
	    imgconfig_parse(&cfg, rd.data, rd.len, 0, NULL) == 0)
		platform_format(&out, &cfg.platform);
out:
	manifest_release(&m);
	imgconfig_release(&cfg);
	buf_release(&rd);
	if (!out.len || buf_failed(&out)) {
		buf_release(&out);
		return NULL;
	}
	return buf_detach(&out, NULL);
}

void ls_entries_free(struct ls_entry *entries, size_t n)
{
	size_t i;

	if (!entries)
		return;
	for (i = 0; i < n; i++) {
		free(entries[i].name);
		free(entries[i].platforms);
		descriptor_release(&entries[i].desc);
	}
	free(entries);
}

int ls_entries(struct ls_entry **out, size_t *out_n, struct ls_summary *out_sum,
	       struct layout *l, struct err *e)
{
	struct graph g;
	struct gentry *ents = NULL;
	struct ls_entry *res = NULL;
	struct entry_sizes s;
	size_t n_ents = 0, i;
	int ret = -1;

	*out = NULL;
	*out_n = 0;
	memset(out_sum, 0, sizeof(*out_sum));
	graph_init(&g, l);
	g.corrupt_ok = 1;	/* shown as such; verify reports it */
	if ((ret = graph_list(&g, &out_sum->n_blobs, 1, e)) < 0 ||
	    (ret = graph_entries(&g, &ents, &n_ents, NULL, 0, e)) < 0 ||
	    (ret = graph_referrers(&g, e)) < 0)
		goto out;
	res = calloc(n_ents + 1, sizeof(*res));
	if (!res) {
		ret = oom(e);
		goto out;
	}
	for (i = 0; i < n_ents; i++)
		descriptor_init(&res[i].desc);
	for (i = 0; i < n_ents; i++) {
		memset(&s, 0, sizeof(s));
		if ((ret = graph_walk(&g, ents[i].root, visit_sizes, &s, e)) < 0)
			goto out;
		entry_times(&g, &ents[i], NULL);	/* unknown when unreadable */
		res[i].name = ents[i].name;
		ents[i].name = NULL;
		res[i].which = ents[i].which;
		descriptor_release(&res[i].desc);
		res[i].desc = ents[i].desc;
		descriptor_init(&ents[i].desc);
		res[i].complete = s.missing == 0;
		res[i].n_missing = s.missing;
		res[i].unique_bytes = s.unique;
		res[i].shared_bytes = s.shared;
		res[i].pulled = ents[i].pulled;
		res[i].last_used = ents[i].last_used;
		res[i].platforms = entry_platforms(&g, &res[i].desc);
	}
	for (i = 0; i < g.n; i++) {
		if (!g.nodes[i].listed)
			continue;
		out_sum->bytes += (uint64_t)(g.nodes[i].size > 0 ? g.nodes[i].size : 0);
		if (!g.nodes[i].marked)
			out_sum->reclaimable += (uint64_t)(g.nodes[i].size > 0 ? g.nodes[i].size
								     : 0);
	}
	out_sum->n_entries = n_ents;
	*out = res;
	*out_n = n_ents;
	res = NULL;
	ret = 0;
out:
	ls_entries_free(res, n_ents);
	gentries_free(ents, n_ents);
	graph_release(&g);
	return ret;
}

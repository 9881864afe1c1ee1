/* graph.c - a layout's blobs as one in-memory graph.  See graph.h. */
#include "cache/graph.h"

#include "cache/blob.h"
#include "cache/usage.h"
#include "core/base/err.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Referrer candidates are opened and this much read at once: a blob that
 * fits (most configs and manifests) is never read twice. */
#define HEAD_MAX 4096

/* A hash slot carries the upper bits of its node's hash, so that a probe
 * touches the node itself (a likely cache miss: nodes are 200 bytes, in
 * listing order) only when those bits match. */
struct graph_slot {
	uint32_t node;		/* node index + 1, 0 = empty */
	uint32_t tag;		/* (uint32_t)(h >> 32) */
};

void graph_init(struct graph *g, struct layout *l)
{
	memset(g, 0, sizeof(*g));
	g->l = l;
	g->dir_fd[0] = g->dir_fd[1] = -1;
	g->src_fd[0] = g->src_fd[1] = -1;
	buf_init(&g->rd, 0);
}

void graph_release(struct graph *g)
{
	int i;

	for (i = 0; i < GRAPH_N_ALGS; i++)
		if (g->dir_fd[i] >= 0)
			close(g->dir_fd[i]);
	for (i = 0; i < GRAPH_N_ALGS; i++)
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

long graph_find(const struct graph *g, const struct digest *d)
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
	struct graph_slot *slots = calloc(n_slots, sizeof(*slots));

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
	struct graph_node *nd;
	long found = graph_find(g, d);

	if (found < 0) {
		if ((g->n + 1) * 2 > g->n_slots && graph_rehash(g) < 0)
			return ERR_NOMEM;
		if (g->n == g->cap) {
			size_t cap = g->cap ? g->cap * 2 : 1024;
			struct graph_node *nodes = realloc(g->nodes, cap * sizeof(*nodes));

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
	struct graph_node *nd = &g->nodes[i];
	struct manifest m;
	int rc;

	if (nd->expanded || (nd->kind != MT_KIND_MANIFEST && nd->kind != MT_KIND_INDEX))
		return 0;
	nd->expanded = 1;
	buf_reset(&g->rd);
	rc = blob_read(&g->rd, g->l, &nd->d, GRAPH_MANIFEST_MAX, e);
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
	if (manifest_parse(&m, g->rd.data, g->rd.len, NULL, GRAPH_MANIFEST_MAX, NULL) < 0)
		return 0;
	rc = graph_add_children(g, i, &m);
	manifest_release(&m);
	return rc < 0 ? err_set(e, ERR_NOMEM, "out of memory") : 0;
}

int graph_walk(struct graph *g, uint32_t root, graph_visit_fn *fn, void *arg, struct err *e)
{
	uint32_t i, k;
	int rc;

	g->stamp++;
	g->n_stack = 0;
	if (push_u32(&g->stack, &g->n_stack, &g->cap_stack, root) < 0)
		return err_set(e, ERR_NOMEM, "out of memory");
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
				return err_set(e, ERR_NOMEM, "out of memory");
	}
	return 0;
}

static void visit_mark(struct graph *g, struct graph_node *nd, void *arg)
{
	(void)g;
	(void)arg;
	nd->marked = 1;
}

static void visit_ref(struct graph *g, struct graph_node *nd, void *arg)
{
	(void)g;
	(void)arg;
	nd->marked = 1;
	nd->refs++;
}

int graph_digest_from_name(struct digest *out, enum digest_alg alg, const char *name)
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

int graph_stat(struct graph *g, struct graph_node *nd)
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
		if (graph_digest_from_name(&d, alg, de->d_name) < 0)
			continue;	/* another tool's temporary file: not ours */
		if (graph_get(&i, g, &d, -1, MT_KIND_UNKNOWN) < 0)
			return err_set(e, ERR_NOMEM, "out of memory");
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

int graph_list(struct graph *g, size_t *out_n, int stat_all, struct err *e)
{
	static const enum digest_alg algs[GRAPH_N_ALGS] = { DIGEST_SHA256, DIGEST_SHA512 };
	char name[DIGEST_STR_MAX + 300];
	DIR *dir = NULL;
	int a, fd, ret = 0;

	*out_n = 0;
	for (a = 0; a < GRAPH_N_ALGS && ret == 0; a++) {
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

/* Appends the entry `r` of index `which` to *ents (taking its name and
 * descriptor) and walks it, counting it in the `refs` of what it reaches. */
static int entry_add(struct graph *g, struct graph_entry **ents, size_t *n, size_t *cap,
		     enum layout_index which, struct layout_ref *r, struct err *e)
{
	struct graph_entry *en;

	if (*n == *cap) {
		size_t c = *cap ? *cap * 2 : 64;
		struct graph_entry *p = realloc(*ents, c * sizeof(*p));

		if (!p)
			return err_set(e, ERR_NOMEM, "out of memory");
		*ents = p;
		*cap = c;
	}
	en = &(*ents)[(*n)++];
	memset(en, 0, sizeof(*en));
	en->which = which;
	en->name = r->name;
	r->name = NULL;
	en->desc = r->desc;
	descriptor_init(&r->desc);
	en->last_used = en->pulled = -1;
	if (graph_get(&en->root, g, &en->desc.digest, en->desc.size,
		      mediatype_classify(en->desc.media_type)) < 0)
		return err_set(e, ERR_NOMEM, "out of memory");
	return graph_walk(g, en->root, visit_ref, NULL, e);
}

int graph_entries(struct graph *g, struct graph_entry **out, size_t *out_n,
		  graph_skip_fn *skip, void *arg, struct err *e)
{
	struct layout_ref *refs = NULL;
	struct graph_entry *ents = NULL;
	size_t n_refs = 0, n = 0, cap = 0, i;
	enum layout_index w;
	int ret = -1;

	*out = NULL;
	*out_n = 0;
	for (w = LAYOUT_INDEX_MAIN; w <= LAYOUT_INDEX_META; w++) {
		if ((ret = layout_index_list_in(&refs, &n_refs, g->l, w, e)) < 0)
			goto out;
		for (i = 0; i < n_refs; i++) {
			if (skip && skip(w, &refs[i], arg))
				continue;
			if ((ret = entry_add(g, &ents, &n, &cap, w, &refs[i], e)) < 0)
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
	graph_entries_free(ents, n);
	return ret;
}

void graph_entries_free(struct graph_entry *ents, size_t n)
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

static int candidate_failed(struct graph *g, const struct graph_node *nd, int errnum,
			    const char *what, struct err *e)
{
	return err_set_errno(e, ERR_IO, errnum, "cannot %s blob %s in '%s', which may be a "
			     "referrer of a kept image", what, nd->d.str, layout_path(g->l));
}

/* Whether the blob file `nd` could be a referrer: opens it once, fills
 * its size and mtime from the open file (so the sweep needs no stat), and
 * reads HEAD_MAX bytes; when it starts like a JSON object and is small
 * enough, reads the rest into g->rd.  Returns 1 with g->rd holding the whole
 * file when it mentions "subject", 0 when it cannot be a referrer (or is
 * gone, or is a link or not a regular file: not a blob, never swept), or an
 * error: one that cannot be read might be a referrer, and would be swept.
 * The content is not hashed: a corrupt blob taken for a referrer is kept,
 * the safe direction. */
static int read_candidate(struct graph *g, struct graph_node *nd, struct err *e)
{
	char head[HEAD_MAX], io[16384];
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
	if (st.st_size < 2 || st.st_size > (off_t)GRAPH_MANIFEST_MAX)
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
	while (got == (ssize_t)sizeof(head) && g->rd.len <= GRAPH_MANIFEST_MAX &&
	       (r = read_upto(fd, io, sizeof(io))) != 0) {
		if (r < 0) {
			ret = candidate_failed(g, nd, (int)-r, "read", e);
			goto out;
		}
		buf_add(&g->rd, io, (size_t)r);
	}
	if (buf_failed(&g->rd)) {
		ret = err_set(e, ERR_NOMEM, "out of memory");
		goto out;
	}
	if (g->rd.len <= GRAPH_MANIFEST_MAX && memmem(g->rd.data, g->rd.len, "\"subject\"", 9))
		ret = 1;
out:
	close(fd);
	return ret;
}

int graph_referrers(struct graph *g, struct err *e)
{
	struct { uint32_t node; struct digest subject; } *cand = NULL, *p;
	size_t n_cand = 0, cap = 0, i, n0 = g->n;
	struct manifest m;
	int changed = 1, ret = -1, rc;
	long s;

	for (i = 0; i < n0; i++) {
		struct graph_node *nd = &g->nodes[i];

		if (!nd->listed || nd->marked || nd->kind == MT_KIND_LAYER)
			continue;
		if ((rc = read_candidate(g, nd, e)) < 0) {
			ret = rc;
			goto out;
		}
		if (rc == 0)
			continue;
		if (manifest_parse(&m, g->rd.data, g->rd.len, NULL, GRAPH_MANIFEST_MAX, NULL) < 0)
			continue;
		if (m.subject && n_cand == cap) {
			cap = cap ? cap * 2 : 16;
			if (!(p = realloc(cand, cap * sizeof(*p)))) {
				manifest_release(&m);
				ret = err_set(e, ERR_NOMEM, "out of memory");
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

int graph_entry_times(struct graph *g, struct graph_entry *en, struct err *e)
{
	struct usage_info info;
	struct graph_node *nd = &g->nodes[en->root];
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

/* gc.c - mark and sweep on an OCI layout.  See gc.h.
 *
 * Why deleting is safe while others pull, build and push:
 *
 * 1. Leased writers (every hoist command that makes a blob present or
 *    finds it present and then names it in an index) hold .hoist/gc.lock
 *    LOCK_SH from before their first blob check until their index entry
 *    is renamed into place.  gc holds it LOCK_EX from before it reads the
 *    indexes to its last unlink, so each such writer ran wholly before a gc
 *    (its entry is in the index gc reads, so its blobs are marked) or runs
 *    wholly after it (it sees only blobs that survived and writes the
 *    rest).  A writer killed by SIGKILL drops its flock with its process.
 *    (The full argument is above layout_lease_begin() in layout.c.)
 * 2. Unleased writers (other tools, or hoist writing a metadata entry
 *    whose blobs it just wrote): a blob written or re-committed less
 *    than grace_s ago is never swept, which covers the time between
 *    their blob write and their index write.
 * 3. Temporary files: only those whose flock gc can take (dead writer).
 * 4. Usage records: removed under index.lock, which every index update
 *    holds, so a record being written for a new entry is never lost.
 * 5. Anything that cannot be read or listed while marking stops gc
 *    before its first unlink: a blob whose referrer could not be read
 *    would look unreachable.
 */
#include "cache/gc.h"

#include "cache/graph.h"
#include "cache/memo.h"
#include "cache/store.h"
#include "cache/usage.h"
#include "core/base/err.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

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

void gc_report_release(struct gc_report *r)
{
	if (!r)
		return;
	free(r->removed);
	memset(r, 0, sizeof(*r));
}

static int report_removed(struct gc_report *r, size_t *cap, const struct graph_node *nd)
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

	dfd = openat(layout_root_fd(l), STORE_INGEST_DIR, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return errno == ENOENT ? 0 : err_set_errno(e, ERR_IO, errno, "cannot open '%s/"
							   STORE_INGEST_DIR "'", layout_path(l));
	if (!(dir = fdopendir(dfd))) {
		close(dfd);
		return err_set_errno(e, ERR_IO, errno, "cannot list '%s/" STORE_INGEST_DIR "'",
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
		ret = err_set_errno(e, ERR_IO, rc, "cannot list '%s/" STORE_INGEST_DIR "'",
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
	static const enum digest_alg algs[GRAPH_N_ALGS] = { DIGEST_SHA256, DIGEST_SHA512 };
	char name[DIGEST_STR_MAX + 300];
	struct dirent *de;
	struct digest d;
	DIR *dir;
	long i;
	int a, fd, rc;

	for (a = 0; a < GRAPH_N_ALGS; a++) {
		snprintf(name, sizeof(name), STORE_SOURCES_DIR "/%s", digest_alg_name(algs[a]));
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
			if (graph_digest_from_name(&d, algs[a], de->d_name) < 0)
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
	struct graph_node *nd;
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
 * the referrer scan did not open), into a new array. */
static int gc_victims(uint32_t **out, size_t *out_n, struct gc_report *r, struct graph *g,
		      int64_t cutoff, struct err *e)
{
	size_t i;
	int rc;

	if (!(*out = malloc((g->n + 1) * sizeof(**out))))
		return err_set(e, ERR_NOMEM, "out of memory");
	for (i = 0; i < g->n; i++) {
		struct graph_node *nd = &g->nodes[i];

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
		(*out)[(*out_n)++] = (uint32_t)i;
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
		return err_set(e, ERR_NOMEM, "out of memory");
	if (!dry) {
		if ((ret = gc_list_sources(g, e)) < 0) {
			err_prefix(e, "nothing was removed");
			goto out;
		}
		gc_unlink_all(g, victims, res, n);
	}
	for (i = 0; i < n; i++) {
		struct graph_node *nd = &g->nodes[victims[i]];

		if (res[i] == ENOENT)
			continue;
		if (res[i]) {
			ret = err_set_errno(e, ERR_IO, res[i], "cannot remove blob %s from '%s'",
					    nd->d.str, layout_path(g->l));
			goto out;
		}
		if (report_removed(r, &cap, nd) < 0) {
			ret = err_set(e, ERR_NOMEM, "out of memory");
			goto out;
		}
	}
	ret = 0;
out:
	free(res);
	return ret;
}

/* Whether `r` of index `which` is among the entries gc is to treat as
 * dropped (struct gc_options' skip). */
static int gc_skipped(enum layout_index which, const struct layout_ref *r, void *arg)
{
	const struct gc_options *opt = arg;
	size_t k;

	for (k = 0; k < opt->n_skip; k++)
		if (gc_entry_is(&opt->skip[k], which, r->name, r->desc.digest.str))
			return 1;
	return 0;
}

/* Marks everything the entries reach, and their referrers, and picks the
 * victims; changes nothing.  Run under the gc lock. */
static int gc_mark(uint32_t **victims, size_t *n_victims, struct gc_report *out,
		   struct graph *g, const struct gc_options *opt, int64_t cutoff, struct err *e)
{
	struct graph_entry *ents = NULL;
	size_t n_ents = 0;
	int ret;

	if ((ret = graph_list(g, &out->n_blobs, 0, e)) < 0 ||
	    (ret = graph_entries(g, &ents, &n_ents, gc_skipped, (void *)opt, e)) < 0 ||
	    (ret = graph_referrers(g, e)) < 0 ||
	    (ret = gc_victims(victims, n_victims, out, g, cutoff, e)) < 0) {
		err_prefix(e, "nothing was removed");
		goto out;
	}
	out->n_entries = n_ents;
out:
	graph_entries_free(ents, n_ents);
	return ret;
}

int gc_run(struct gc_report *out, struct layout *l, const struct gc_options *opt,
	   struct err *e)
{
	struct graph g;
	uint32_t *victims = NULL;
	size_t n_victims = 0;
	int dry = !!(opt->flags & GC_DRY_RUN), locked = 0, ret = -1;
	int64_t cutoff = (int64_t)time(NULL) - opt->grace_s;

	memset(out, 0, sizeof(*out));
	graph_init(&g, l);
	/* the indexes are read after the lock is taken, never before */
	if ((ret = layout_gc_lock(l, opt->wait_ms, e)) < 0)
		goto out;
	locked = 1;
	if ((ret = gc_mark(&victims, &n_victims, out, &g, opt, cutoff, e)) < 0 ||
	    (ret = gc_sweep(out, &g, victims, n_victims, dry, e)) < 0 ||
	    (ret = sweep_ingest(out, l, dry, e)) < 0)
		goto out;
	/* with skip (a dry run of prune or rm), records are not counted */
	if (!opt->n_skip && (ret = usage_prune(&out->n_records, l, dry, e)) < 0)
		goto out;
	if (!opt->n_skip && (ret = memo_prune(&out->n_memos, l, cutoff, dry, e)) < 0)
		goto out;
	ret = 0;
out:
	if (locked)
		layout_gc_unlock(l);
	free(victims);
	graph_release(&g);
	return ret;
}

int gc_entry_is(const struct gc_entry *x, enum layout_index which, const char *name,
		const char *digest)
{
	if (x->which != which || !digest || strcmp(digest, x->digest.str))
		return 0;
	return x->name && name ? !strcmp(x->name, name) : !x->name && !name;
}

/* pull.c - pull_images(): references into an OCI layout, under the cache
 * contract.  See pull.h.
 *
 * For each reference:
 *   1. resolve it (resolve_ref: the cache first, one HEAD for a tag);
 *      with a platform, an index resolves to the child image;
 *   2. take a lease on the destination (gc waits) and walk the tree: every
 *      child manifest of an index (nested indexes too), every config and
 *      layer of every image;
 *   3. blobs already in the destination (right size) are kept; blobs the
 *      cache has are copied from it through a verifying blob writer; the
 *      rest are downloaded in parallel (reg_blob_get_many) straight into blob
 *      writers, hashed once as they arrive, and committed only when size and
 *      digest match;
 *   4. manifests are written (children first), the index.json entry named
 *      by the fully-qualified reference is set (replacing an older one) and
 *      the lease ends.
 * A failure leaves blobs that were verified (they are content-addressed and
 * harmless) and no index entry.
 */
#include "core/model/imgconfig.h"
#include "core/ops/pull.h"

#include "cache/blob.h"
#include "cache/layout.h"
#include "cache/usage.h"
#include "core/base/err.h"
#include "core/model/ref.h"
#include "registry/reg_blob.h"
#include "core/ops/env.h"
#include "core/ops/local.h"
#include "core/ops/resolve.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define PULL_MAX_DEPTH 4

/* A blob to make present in the destination. */
struct want {
	const struct descriptor *d;	/* borrowed from a manifest in `struct tree` */
	int from_cache;
};

/* Everything one reference reaches. */
struct tree {
	struct manifest *ms;	/* manifests, children before their parents */
	size_t n_ms, cap_ms;
	struct want *blobs;	/* configs and layers, each digest once */
	size_t n_blobs, cap_blobs;
};

static void tree_release(struct tree *t)
{
	size_t i;

	for (i = 0; i < t->n_ms; i++)
		manifest_release(&t->ms[i]);
	free(t->ms);
	free(t->blobs);
	memset(t, 0, sizeof(*t));
}

static int tree_has_blob(const struct tree *t, const struct digest *d)
{
	size_t i;

	for (i = 0; i < t->n_blobs; i++)
		if (digest_equal(&t->blobs[i].d->digest, d))
			return 1;
	return 0;
}

static int tree_add_blob(struct tree *t, const struct descriptor *d, struct err *e)
{
	if (tree_has_blob(t, &d->digest))
		return 0;
	if (t->n_blobs == t->cap_blobs) {
		size_t nc = t->cap_blobs ? 2 * t->cap_blobs : 16;
		struct want *nb = realloc(t->blobs, nc * sizeof(*nb));
		if (!nb)
			return err_set(e, ERR_NOMEM, "out of memory");
		t->blobs = nb;
		t->cap_blobs = nc;
	}
	t->blobs[t->n_blobs].d = d;
	t->blobs[t->n_blobs].from_cache = 0;
	t->n_blobs++;
	return 0;
}

/* Takes ownership of *m (left empty). */
static int tree_add_manifest(struct tree *t, struct manifest *m, struct err *e)
{
	if (t->n_ms == t->cap_ms) {
		size_t nc = t->cap_ms ? 2 * t->cap_ms : 4;
		struct manifest *nm = realloc(t->ms, nc * sizeof(*nm));
		if (!nm)
			return err_set(e, ERR_NOMEM, "out of memory");
		t->ms = nm;
		t->cap_ms = nc;
	}
	t->ms[t->n_ms++] = *m;
	manifest_init(m);
	return 0;
}

/* Adds manifest `m` (taken over) and everything below it.  Blob pointers
 * point into t->ms[k], which may move when t->ms grows: so the blobs are
 * collected after the walk (tree_collect). */
static int tree_walk(struct tree *t, struct env *env, const struct ref *ref,
		     struct manifest *m, int depth, struct err *e)
{
	size_t i;
	int ret;

	if (m->kind == MT_KIND_INDEX) {
		if (depth >= PULL_MAX_DEPTH)
			return err_set(e, ERR_UNSUPPORTED, "index %s nests deeper than %d levels",
				       m->digest.str, PULL_MAX_DEPTH);
		for (i = 0; i < m->n_manifests; i++) {
			const struct descriptor *c = &m->manifests[i];
			struct manifest child;
			struct ref cref = *ref;
			enum mt_kind k = mediatype_classify(c->media_type);

			if (k != MT_KIND_MANIFEST && k != MT_KIND_INDEX)
				return err_set(e, ERR_UNSUPPORTED, "index %s lists %s of media type "
					       "'%s', which is not a manifest", m->digest.str,
					       c->digest.str, c->media_type);
			cref.tag = NULL;
			cref.digest = (char *)c->digest.str;
			if ((ret = resolve_ref(&child, env, &cref, e)) < 0)
				return ret;
			if ((int64_t)child.raw.len != c->size) {
				manifest_release(&child);
				return err_set(e, ERR_DIGEST, "manifest %s has %zu bytes, its index "
					       "says %lld", c->digest.str, child.raw.len,
					       (long long)c->size);
			}
			ret = tree_walk(t, env, ref, &child, depth + 1, e);
			manifest_release(&child);
			if (ret < 0)
				return ret;
		}
	}
	return tree_add_manifest(t, m, e);
}

static int tree_collect(struct tree *t, struct err *e)
{
	size_t i, k;
	int ret;

	for (i = 0; i < t->n_ms; i++) {
		const struct manifest *m = &t->ms[i];
		if (m->kind != MT_KIND_MANIFEST)
			continue;
		if ((ret = tree_add_blob(t, &m->config, e)) < 0)
			return ret;
		for (k = 0; k < m->n_layers; k++)
			if ((ret = tree_add_blob(t, &m->layers[k], e)) < 0)
				return ret;
	}
	return 0;
}

/* ---- progress ------------------------------------------------------------ */

static void progress(struct env *env, const struct descriptor *d, const char *what,
		     int64_t done, int finished)
{
	struct env_progress p;

	if (!env->progress)
		return;
	env_progress_set(&p, d, what, done, finished);
	env->progress(env->progress_arg, &p);
}

/* ---- downloading ----------------------------------------------------------- */

/* The network thread (curl's callbacks) only copies the bytes into large
 * slots; WQ_WORKERS writer threads hash and write them (blob_writer_write),
 * so receiving, hashing and writing overlap on several cores.  A blob's
 * slots are written in order and by one thread at a time (its hash state is
 * sequential); different blobs go in parallel.  libcurl hands the body over
 * in 16 KiB pieces: the slots coalesce them into big writes (a writer takes
 * a slot only when it is full, its blob is complete, or no slot is free).
 * Memory is bounded by the slots (jobs + 2 of WQ_SLOT_SIZE), whatever the
 * image size; when none is free the network waits (back-pressure). */
#define WQ_WORKERS 2
#define WQ_SLOT_SIZE (256u << 10)

struct dl;

enum wq_state { SLOT_FREE = 0, SLOT_QUEUED, SLOT_WRITING };

struct wq_slot {
	struct dl *x;
	size_t len;
	char *data;
	uint64_t seq;
	enum wq_state state;
};

struct wq {
	pthread_mutex_t mu;
	pthread_cond_t work;		/* the writers wait for a takeable slot */
	pthread_cond_t freed;		/* the network waits for a free slot */
	struct wq_slot *slots;
	size_t n_slots, n_free;
	uint64_t seq;
	int stop;
	pthread_t threads[WQ_WORKERS];
	size_t n_threads;
	int ready;			/* mutex and conditions initialised */
};

struct dl {
	struct env *env;
	struct wq *q;
	struct blob_writer *w;
	const struct descriptor *d;
	int64_t done;		/* bytes received (network thread only) */
	/* guarded by q->mu */
	long open;		/* the slot still taking appends, or -1 */
	int busy;		/* a writer is writing one of its slots */
	int complete;		/* every byte has been queued */
	int failed;		/* the writers' failure */
	struct err err;
};

/* The slot a writer should take next, or NULL: the oldest queued slot of a
 * blob no writer is busy with, once it is full (or its blob complete, or
 * the queue stopping or out of free slots). */
static struct wq_slot *wq_pick(struct wq *q)
{
	struct wq_slot *best = NULL;
	size_t i;

	for (i = 0; i < q->n_slots; i++) {
		struct wq_slot *s = &q->slots[i];
		if (s->state != SLOT_QUEUED || s->x->busy)
			continue;
		if (!best || s->seq < best->seq)
			best = s;
	}
	/* `best` is the oldest of its blob: an older one would be picked */
	if (best && !(best->len == WQ_SLOT_SIZE || best->x->complete || q->stop ||
		      !q->n_free || best->x->open != best - q->slots))
		best = NULL;
	return best;
}

static void *wq_main(void *arg)
{
	struct wq *q = arg;

	pthread_mutex_lock(&q->mu);
	for (;;) {
		struct wq_slot *s = wq_pick(q);
		struct dl *x;
		struct err e = ERR_INIT;
		int rc = 0;

		if (!s) {
			size_t i, queued = 0;
			for (i = 0; i < q->n_slots; i++)
				queued += q->slots[i].state == SLOT_QUEUED;
			if (q->stop && !queued)
				break;
			pthread_cond_wait(&q->work, &q->mu);
			continue;
		}
		x = s->x;
		s->state = SLOT_WRITING;
		x->busy = 1;
		if (x->open == s - q->slots)
			x->open = -1;
		if (!x->failed) {
			pthread_mutex_unlock(&q->mu);
			rc = blob_writer_write(x->w, s->data, s->len, &e);
			pthread_mutex_lock(&q->mu);
			if (rc < 0) {
				x->failed = rc;
				x->err = e;
			}
		}
		x->busy = 0;
		s->state = SLOT_FREE;
		s->x = NULL;
		q->n_free++;
		pthread_cond_broadcast(&q->freed);
		pthread_cond_broadcast(&q->work);	/* x's next slot may be takeable */
	}
	pthread_mutex_unlock(&q->mu);
	return NULL;
}

/* Waits until everything queued is written, then ends the threads and
 * frees the slots.  Safe on a queue that wq_start() left half-made. */
static void wq_stop(struct wq *q)
{
	size_t i;

	if (q->ready) {
		pthread_mutex_lock(&q->mu);
		q->stop = 1;
		pthread_cond_broadcast(&q->work);
		pthread_mutex_unlock(&q->mu);
		for (i = 0; i < q->n_threads; i++)
			pthread_join(q->threads[i], NULL);
		pthread_mutex_destroy(&q->mu);
		pthread_cond_destroy(&q->work);
		pthread_cond_destroy(&q->freed);
		q->ready = 0;
		q->n_threads = 0;
	}
	for (i = 0; q->slots && i < q->n_slots; i++)
		free(q->slots[i].data);
	free(q->slots);
	q->slots = NULL;
	q->n_slots = 0;
}

static int wq_start(struct wq *q, size_t n_slots, struct err *e)
{
	size_t i;

	memset(q, 0, sizeof(*q));
	q->slots = calloc(n_slots, sizeof(*q->slots));
	if (!q->slots)
		return err_set(e, ERR_NOMEM, "out of memory");
	q->n_slots = n_slots;
	for (i = 0; i < n_slots; i++)
		if (!(q->slots[i].data = malloc(WQ_SLOT_SIZE)))
			goto nomem;
	q->n_free = n_slots;
	pthread_mutex_init(&q->mu, NULL);
	pthread_cond_init(&q->work, NULL);
	pthread_cond_init(&q->freed, NULL);
	q->ready = 1;
	for (i = 0; i < WQ_WORKERS; i++) {
		if (pthread_create(&q->threads[i], NULL, wq_main, q) != 0)
			break;
		q->n_threads++;
	}
	if (!q->n_threads) {
		wq_stop(q);
		return err_set(e, ERR_FAIL, "cannot start a writer thread");
	}
	return 0;
nomem:
	wq_stop(q);
	return err_set(e, ERR_NOMEM, "out of memory");
}

static int dl_sink(void *arg, const char *data, size_t len, struct err *e)
{
	struct dl *x = arg;
	struct wq *q = x->q;
	pthread_mutex_lock(&q->mu);
	while (len) {
		struct wq_slot *s = x->open >= 0 ? &q->slots[x->open] : NULL;
		size_t k;

		if (x->failed) {
			*e = x->err;
			pthread_mutex_unlock(&q->mu);
			return x->failed;
		}
		if (!s || s->len == WQ_SLOT_SIZE) {
			size_t i;
			while (!q->n_free) {
				pthread_cond_broadcast(&q->work);	/* take partial slots */
				pthread_cond_wait(&q->freed, &q->mu);
			}
			for (i = 0; q->slots[i].state != SLOT_FREE; i++)
				;
			s = &q->slots[i];
			s->x = x;
			s->len = 0;
			s->seq = q->seq++;
			s->state = SLOT_QUEUED;
			q->n_free--;
			x->open = (long)i;
		}
		k = WQ_SLOT_SIZE - s->len;
		if (k > len)
			k = len;
		memcpy(s->data + s->len, data, k);
		s->len += k;
		data += k;
		len -= k;
		x->done += (int64_t)k;
		if (x->d->size >= 0 && x->done >= x->d->size)
			x->complete = 1;
		if (s->len == WQ_SLOT_SIZE || x->complete)
			pthread_cond_signal(&q->work);
	}
	pthread_mutex_unlock(&q->mu);
	progress(x->env, x->d, "pull", x->done, 0);
	return 0;
}

/* Downloads ds[0..n) of `ref`'s repository into `dst`. */
static int download(struct env *env, const struct ref *ref, struct layout *dst,
		    const struct descriptor **ds, size_t n, const char *source, struct err *e)
{
	struct reg_blob_fetch *fs = NULL;
	struct dl *xs = NULL;
	struct wq q;
	struct reg *r;
	size_t i;
	int ret, first = 0;

	memset(&q, 0, sizeof(q));
	if ((ret = env_reg(&r, env, ref->registry, e)) < 0)
		return ret;
	fs = calloc(n, sizeof(*fs));
	xs = calloc(n, sizeof(*xs));
	if (!fs || !xs) {
		ret = err_set(e, ERR_NOMEM, "out of memory");
		goto out;
	}
	for (i = 0; i < n; i++) {
		xs[i].env = env;
		xs[i].q = &q;
		xs[i].d = ds[i];
		xs[i].open = -1;
		if ((ret = blob_begin(&xs[i].w, dst, &ds[i]->digest, ds[i]->size, e)) < 0)
			goto out;
		fs[i].d = ds[i];
		fs[i].sink = dl_sink;
		fs[i].arg = &xs[i];
		env_log(env, 1, "pulling %s (%lld bytes) from %s", ds[i]->digest.str,
			  (long long)ds[i]->size, source);
	}
	if ((ret = wq_start(&q, (size_t)(env->jobs > 0 ? env->jobs : 1) + 2, e)) < 0)
		goto out;
	env->n_blob_requests += n;
	reg_blob_get_many(r, ref->repository, fs, n, env->jobs > 0 ? env->jobs : 1,
		      REG_BLOBS_SINK_VERIFIES, NULL);
	wq_stop(&q);
	for (i = 0; i < n; i++) {
		int rc = fs[i].rc;
		struct err ce = ERR_INIT;

		if (rc == 0 && xs[i].failed) {
			rc = xs[i].failed;
			ce = xs[i].err;
		} else if (rc == 0) {
			rc = blob_writer_commit(NULL, NULL, xs[i].w, &ce);
			xs[i].w = NULL;
			if (rc < 0)
				err_prefix(&ce, "blob %s of '%s'", ds[i]->digest.str, source);
		} else {
			ce = fs[i].err;
		}
		if (rc == 0) {
			blob_source_add(dst, &ds[i]->digest, source, NULL);
			progress(env, ds[i], "pull", ds[i]->size, 1);
		} else if (!first) {
			first = rc;
			if (e)
				*e = ce;
		}
	}
	ret = first;
out:
	wq_stop(&q);
	for (i = 0; xs && i < n; i++)
		blob_writer_abort(xs[i].w);
	free(xs);
	free(fs);
	return ret;
}

/* ---- one reference ---------------------------------------------------------- */

/* The descriptor of a manifest, for index.json. */
static int manifest_descriptor(struct descriptor *out, const struct manifest *m, struct err *e)
{
	descriptor_init(out);
	out->media_type = strdup(m->media_type ? m->media_type
			       : m->kind == MT_KIND_INDEX ? MT_OCI_INDEX : MT_OCI_MANIFEST);
	if (!out->media_type)
		return err_set(e, ERR_NOMEM, "out of memory");
	out->digest = m->digest;
	out->size = (int64_t)m->raw.len;
	return 0;
}

/* Makes every blob of `t` present in `dst`. */
static int ensure_blobs(struct env *env, const struct ref *ref, struct layout *dst,
			struct tree *t, const char *source, struct err *e)
{
	const struct descriptor **get = NULL;
	size_t i, n_get = 0;
	int ret = 0;
	int no_net = env->offline || env->pull == PULL_NEVER;

	get = calloc(t->n_blobs ? t->n_blobs : 1, sizeof(*get));
	if (!get)
		return err_set(e, ERR_NOMEM, "out of memory");
	for (i = 0; i < t->n_blobs; i++) {
		const struct descriptor *d = t->blobs[i].d;

		if (blob_has(dst, &d->digest, d->size)) {
			env_log(env, 1, "exists: %s", d->digest.str);
			blob_source_add(dst, &d->digest, source, NULL);
			progress(env, d, "exists", d->size, 1);
			continue;
		}
		if (env->cache && env->cache != dst &&
		    blob_has(env->cache, &d->digest, d->size)) {
			env_log(env, 1, "from the cache: %s", d->digest.str);
			if ((ret = local_blob_copy(dst, env->cache, d, e)) < 0)
				goto out;
			blob_source_add(dst, &d->digest, source, NULL);
			progress(env, d, "copy", d->size, 1);
			continue;
		}
		if (no_net) {
			ret = resolve_offline_miss(env, "blob", &d->digest, source, e);
			goto out;
		}
		get[n_get++] = d;
	}
	if (n_get)
		ret = download(env, ref, dst, get, n_get, source, e);
out:
	free(get);
	return ret;
}

/* Stores the manifests, and configs in the cache too: the cache keeps the
 * metadata of what went elsewhere. */
static int store_manifests(struct env *env, struct layout *dst, const struct tree *t,
			   const char *source, struct err *e)
{
	size_t i;
	int ret;

	for (i = 0; i < t->n_ms; i++) {
		const struct manifest *m = &t->ms[i];

		if (!blob_has(dst, &m->digest, (int64_t)m->raw.len)) {
			if ((ret = blob_put(NULL, dst, m->raw.data, m->raw.len, &m->digest,
						   e)) < 0)
				return err_prefix(e, "manifest %s", m->digest.str);
		}
		blob_source_add(dst, &m->digest, source, NULL);
	}
	if (env->cache && env->cache != dst) {
		/* configs (manifests are there already: resolve_ref put them) */
		for (i = 0; i < t->n_ms; i++) {
			const struct manifest *m = &t->ms[i];
			struct buf raw = BUF_INIT;
			struct err ce = ERR_INIT;

			if (m->kind != MT_KIND_MANIFEST ||
			    blob_has(env->cache, &m->config.digest, m->config.size))
				continue;
			if (blob_read(&raw, dst, &m->config.digest, IMGCONFIG_MAX_DEFAULT,
					     &ce) == 0 &&
			    blob_put(NULL, env->cache, raw.data, raw.len, &m->config.digest,
					    &ce) == 0)
				blob_source_add(env->cache, &m->config.digest, source, NULL);
			else
				env_log(env, 1, "cannot cache config %s: %s",
					  m->config.digest.str, ce.msg);
			buf_release(&raw);
		}
	}
	return 0;
}

static int pull_one(struct pull_result *out, struct env *env, const struct ref *ref,
		    struct layout *dst, unsigned flags, struct err *e)
{
	struct manifest top;
	struct tree t;
	struct buf name = BUF_INIT, source = BUF_INIT;
	struct descriptor have;
	int ret, leased = 0, cache_leased = 0;

	memset(&t, 0, sizeof(t));
	manifest_init(&top);
	descriptor_init(&have);
	if (ref_format(&name, ref) < 0 || ref_format_name(&source, ref) < 0) {
		ret = err_set(e, ERR_NOMEM, "out of memory");
		goto out;
	}
	/* The lease covers everything from the first blob check to the index
	 * entry (the cache's too, when blobs are copied from it). */
	if ((ret = layout_lease_begin(dst, LAYOUT_LOCK_TIMEOUT_DEFAULT_MS, e)) < 0)
		goto out;
	leased = 1;
	if (env->cache && env->cache != dst) {
		if ((ret = layout_lease_begin(env->cache, LAYOUT_LOCK_TIMEOUT_DEFAULT_MS, e)) < 0)
			goto out;
		cache_leased = 1;
	}
	if (env->platform || (flags & PULL_SINGLE))
		ret = resolve_image(&top, NULL, env, ref, env->platform, e);
	else
		ret = resolve_ref(&top, env, ref, e);
	if (ret < 0)
		goto out;
	if ((ret = manifest_descriptor(&out->desc, &top, e)) < 0)
		goto out;
	if ((ret = tree_walk(&t, env, ref, &top, 0, e)) < 0 || (ret = tree_collect(&t, e)) < 0)
		goto out;
	if ((ret = ensure_blobs(env, ref, dst, &t, source.data, e)) < 0 ||
	    (ret = store_manifests(env, dst, &t, source.data, e)) < 0)
		goto out;
	if (layout_index_find(&have, dst, name.data, NULL) == 0 &&
	    digest_equal(&have.digest, &out->desc.digest) &&
	    mediatype_equal(have.media_type, out->desc.media_type) && have.size == out->desc.size) {
		env_log(env, 1, "up to date: %s@%s", name.data, out->desc.digest.str);
		usage_touch(dst, name.data);
	} else if ((ret = layout_index_set(dst, name.data, &out->desc, e)) < 0) {
		goto out;
	}
	out->name = buf_detach(&name, NULL);
	if (!out->name) {
		ret = err_set(e, ERR_NOMEM, "out of memory");
		goto out;
	}
	ret = 0;
out:
	if (cache_leased)
		layout_lease_end(env->cache);
	if (leased)
		layout_lease_end(dst);
	if (ret < 0)
		descriptor_release(&out->desc);
	descriptor_release(&have);
	tree_release(&t);
	manifest_release(&top);
	buf_release(&name);
	buf_release(&source);
	return ret;
}

int pull_images(struct pull_result *out, struct env *env, const struct ref *refs, size_t n,
	       struct layout *dst, unsigned flags, struct err *e)
{
	size_t i;
	int ret;

	for (i = 0; i < n; i++) {
		out[i].name = NULL;
		descriptor_init(&out[i].desc);
	}
	for (i = 0; i < n; i++) {
		if ((ret = pull_one(&out[i], env, &refs[i], dst, flags, e)) < 0) {
			struct buf name = BUF_INIT;
			if (ref_format(&name, &refs[i]) == 0)
				err_prefix(e, "pull '%s'", name.data);
			buf_release(&name);
			return ret;
		}
	}
	return 0;
}

void pull_result_release(struct pull_result *p, size_t n)
{
	size_t i;

	for (i = 0; p && i < n; i++) {
		free(p[i].name);
		p[i].name = NULL;
		descriptor_release(&p[i].desc);
	}
}

int pull_base(struct env *env, const struct ref *base, unsigned flags,
		    struct layout *dst, struct err *e)
{
	struct pull_result p;
	struct descriptor old;
	struct buf name = BUF_INIT;
	int ret, existed = 0;

	memset(&p, 0, sizeof(p));
	descriptor_init(&old);
	if (ref_format(&name, base) < 0) {
		ret = err_set(e, ERR_NOMEM, "out of memory");
		goto out;
	}
	if (dst != env->cache) {
		struct err ie = ERR_INIT;
		existed = layout_index_find(&old, dst, name.data, &ie) == 0;
	}
	ret = pull_images(&p, env, base, 1, dst, flags, e);
	if (ret < 0) {
		err_prefix(e, "base image");
		goto out;
	}
	if (dst != env->cache && !existed && p.name) {
		struct err ie = ERR_INIT;
		layout_index_remove(dst, p.name, &ie);
	}
out:
	pull_result_release(&p, 1);
	descriptor_release(&old);
	buf_release(&name);
	return ret;
}

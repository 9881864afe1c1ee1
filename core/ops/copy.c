/* copy.c - registry to registry, keeping digests.  See copy.h.
 *
 * Blobs never touch the disk.  Within one registry they are mounted.
 * Between registries a blob up to COPY_STREAM_MIN bytes is fetched into
 * memory (verified) and uploaded from there; a larger one is streamed: a
 * download thread runs reg_blob_get() with a sink that fills a ring buffer
 * (COPY_RING_SIZE bytes, waiting while it is full) and the transfer worker
 * runs reg_blob_upload_stream() whose read callback empties it (waiting
 * while it is empty).  Each side owns its HTTP client (core/ops/xfer.c), so the
 * two transfers run at once and memory stays at one ring per transfer in
 * flight, whatever the blob's size.
 *
 * The ring hands out the blob's last byte only once the download has
 * finished and its size and digest were verified: a corrupt or truncated
 * source makes the read callback fail, curl aborts the upload before the
 * closing PUT, and the registry never gets the blob (nor, since blobs go
 * first, the manifest).
 */
#include "core/base/strvec.h"
#include "core/ops/copy.h"

#include "core/base/err.h"
#include "core/model/ref.h"
#include "core/ops/env.h"
#include "core/ops/resolve.h"
#include "core/ops/xfer.h"
#include "registry/reg_blob.h"
#include "registry/reg_list.h"
#include "registry/reg_manifest.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define COPY_ATTEMPTS 3

struct copy {
	struct env *env;
	const struct ref *src;
	const struct ref *dst;
	int same_registry;
	struct xfer_plan plan;
};

/* ---- the ring between a download and an upload ---- */

struct ring {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	char *buf;
	size_t cap, start, len;
	int64_t total;		/* the blob's size */
	int64_t handed;		/* bytes given to the upload */
	int closed;		/* 1: download verified, -1: download failed */
	int aborted;		/* the upload gave up */
	int upload_first;	/* the upload failed before the download did */
};

static int ring_init(struct ring *g, size_t cap, int64_t total)
{
	memset(g, 0, sizeof(*g));
	g->buf = malloc(cap);
	if (!g->buf)
		return ERR_NOMEM;
	g->cap = cap;
	g->total = total;
	pthread_mutex_init(&g->lock, NULL);
	pthread_cond_init(&g->cond, NULL);
	return 0;
}

static void ring_release(struct ring *g)
{
	free(g->buf);
	pthread_mutex_destroy(&g->lock);
	pthread_cond_destroy(&g->cond);
}

/* The download's sink: waits for room. */
static int ring_sink(void *arg, const char *data, size_t len, struct err *e)
{
	struct ring *g = arg;

	pthread_mutex_lock(&g->lock);
	while (len) {
		size_t end, n;

		while (g->len == g->cap && !g->aborted)
			pthread_cond_wait(&g->cond, &g->lock);
		if (g->aborted) {
			pthread_mutex_unlock(&g->lock);
			return err_set(e, ERR_FAIL, "the upload stopped");
		}
		end = (g->start + g->len) % g->cap;
		n = g->cap - g->len;
		if (n > g->cap - end)
			n = g->cap - end;
		if (n > len)
			n = len;
		memcpy(g->buf + end, data, n);
		g->len += n;
		data += n;
		len -= n;
		pthread_cond_broadcast(&g->cond);
	}
	pthread_mutex_unlock(&g->lock);
	return 0;
}

static void ring_close(struct ring *g, int ok)
{
	pthread_mutex_lock(&g->lock);
	g->closed = ok ? 1 : -1;
	pthread_cond_broadcast(&g->cond);
	pthread_mutex_unlock(&g->lock);
}

static void ring_abort(struct ring *g)
{
	pthread_mutex_lock(&g->lock);
	if (g->closed >= 0)
		g->upload_first = 1;
	g->aborted = 1;
	pthread_cond_broadcast(&g->cond);
	pthread_mutex_unlock(&g->lock);
}

/* The upload's read callback: waits for bytes; holds the last one back until
 * the download is verified. */
static ssize_t ring_read(void *arg, char *dst, size_t len)
{
	struct ring *g = arg;
	ssize_t ret = -1;

	pthread_mutex_lock(&g->lock);
	for (;;) {
		size_t avail = g->len, n;

		if (g->closed < 0 || g->aborted)
			break;
		if (g->closed == 0 && avail && g->handed + (int64_t)avail >= g->total)
			avail--;	/* the last byte waits for the verdict */
		if (avail) {
			n = avail < len ? avail : len;
			if (n > g->cap - g->start)
				n = g->cap - g->start;
			memcpy(dst, g->buf + g->start, n);
			g->start = (g->start + n) % g->cap;
			g->len -= n;
			g->handed += (int64_t)n;
			ret = (ssize_t)n;
			pthread_cond_broadcast(&g->cond);
			break;
		}
		if (g->closed > 0)
			break;	/* verified and drained: more was asked than the size */
		pthread_cond_wait(&g->cond, &g->lock);
	}
	pthread_mutex_unlock(&g->lock);
	return ret;
}

struct reader {
	struct reg *r;
	const char *repo;
	const struct descriptor *d;
	struct ring *ring;
	int rc;
	struct err e;
};

static void *reader_thread(void *arg)
{
	struct reader *rd = arg;

	rd->rc = reg_blob_get(rd->r, rd->repo, rd->d, ring_sink, rd->ring, &rd->e);
	ring_close(rd->ring, rd->rc == 0);
	return NULL;
}

/* One streamed transfer; *retry says whether starting over may help. */
static int copy_stream_once(struct xfer_worker *w, struct reg *sr, struct reg *dr,
			    struct copy *c, const struct descriptor *d, int *retry,
			    struct err *e)
{
	struct ring g;
	struct reader rd;
	pthread_t tid;
	struct err ue = ERR_INIT;
	int urc, ret;

	*retry = 0;
	if (ring_init(&g, COPY_RING_SIZE, d->size) < 0)
		return err_set(e, ERR_NOMEM, "out of memory");
	memset(&rd, 0, sizeof(rd));
	rd.r = sr;
	rd.repo = c->src->repository;
	rd.d = d;
	rd.ring = &g;
	if (pthread_create(&tid, NULL, reader_thread, &rd)) {
		ring_release(&g);
		return err_set(e, ERR_FAIL, "cannot start a download thread");
	}
	urc = reg_blob_upload_stream(dr, c->dst->repository, d, ring_read, &g, &ue);
	if (urc < 0)
		ring_abort(&g);
	pthread_join(tid, NULL);
	if (rd.rc < 0 && !g.upload_first) {
		ret = rd.rc;
		*retry = rd.rc == ERR_NETWORK;
		if (e)
			*e = rd.e;
		err_prefix(e, "copy blob %s from %s/%s", d->digest.str, c->src->registry,
			   c->src->repository);
	} else if (urc < 0) {
		ret = urc;
		*retry = xfer_retryable(&ue);
		if (e)
			*e = ue;
	} else {
		ret = 0;
	}
	(void)w;
	ring_release(&g);
	return ret;
}

static int sink_to_buf(void *arg, const char *data, size_t len, struct err *e)
{
	if (buf_add(arg, data, len) < 0)
		return err_set(e, ERR_TOO_BIG, "blob larger than its descriptor says");
	return 0;
}

static int copy_blob_job(struct xfer_worker *w, size_t i, void *arg, struct err *e)
{
	struct copy *c = arg;
	const struct descriptor *d = &c->plan.blobs[i];
	struct reg *sr, *dr;
	struct buf data = BUF_INIT;
	int ret, attempt, retry = 0;

	if ((ret = xfer_worker_reg(&dr, w, XFER_DST, c->dst->registry, e)) < 0 ||
	    (ret = xfer_worker_reg(&sr, w, XFER_SRC, c->src->registry, e)) < 0)
		goto out;
	if (c->same_registry) {
		/* HEAD, then a mount: no data moves */
		ret = reg_blob_upload(dr, c->dst->repository, d, -1, NULL, c->src->repository, e);
		if (ret == 0) {
			xfer_log(w, 1, "copy: %s present or mounted from %s", d->digest.str,
				 c->src->repository);
			xfer_progress(w, d, "mount");
			goto out;
		}
		if (ret != ERR_NOT_FOUND)
			goto out;
		err_clear(e);
	} else {
		ret = reg_blob_head(NULL, dr, c->dst->repository, &d->digest, e);
		if (ret == 0) {
			xfer_log(w, 1, "copy: %s exists", d->digest.str);
			xfer_progress(w, d, "exists");
			goto out;
		}
		if (ret != ERR_NOT_FOUND)
			goto out;
		err_clear(e);
	}
	if (d->size <= (int64_t)COPY_STREAM_MIN) {
		buf_init(&data, (size_t)d->size + 1);
		if ((ret = reg_blob_get(sr, c->src->repository, d, sink_to_buf, &data, e)) < 0) {
			err_prefix(e, "copy blob %s from %s/%s", d->digest.str, c->src->registry,
				   c->src->repository);
			goto out;
		}
		ret = reg_blob_upload(dr, c->dst->repository, d, -1, data.data, NULL, e);
	} else {
		for (attempt = 1; attempt <= COPY_ATTEMPTS; attempt++) {
			xfer_log(w, 1, "copy: streaming %s (%lld bytes)%s", d->digest.str,
				 (long long)d->size, attempt > 1 ? ", again" : "");
			err_clear(e);
			ret = copy_stream_once(w, sr, dr, c, d, &retry, e);
			if (ret == 0 || !retry)
				break;
		}
	}
	if (ret == 0)
		xfer_progress(w, d, "copy");
out:
	buf_release(&data);
	return ret;
}

static int copy_fetch(struct manifest *out, void *arg, const struct descriptor *d,
		      struct err *e)
{
	struct copy *c = arg;
	struct ref byd = *c->src;

	byd.tag = NULL;
	byd.digest = (char *)d->digest.str;
	return resolve_ref(out, c->env, &byd, e);
}

/* --no-clobber: 1 when dst's tag names `want` already (nothing to do),
 * ERR_EXISTS when it names another manifest, 0 when it names none. */
static int copy_no_clobber(struct env *env, struct reg *dr, const struct ref *dst,
			   const struct digest *want, struct err *e)
{
	struct buf name = BUF_INIT;
	struct descriptor have;
	int rc;

	descriptor_init(&have);
	if (ref_format(&name, dst) < 0) {
		rc = err_set(e, ERR_NOMEM, "out of memory");
		goto out;
	}
	rc = reg_manifest_head(&have, dr, dst, e);
	if (rc == 0 && digest_equal(&have.digest, want)) {
		env_log(env, 1, "copy: %s is %s already", name.data, want->str);
		rc = 1;
	} else if (rc == 0) {
		rc = err_set(e, ERR_EXISTS, "'%s' exists (%s): not overwritten with %s "
			     "(--no-clobber)", name.data, have.digest.str, want->str);
	} else if (rc == ERR_NOT_FOUND) {
		err_clear(e);
		rc = 0;
	}
out:
	descriptor_release(&have);
	buf_release(&name);
	return rc;
}

int copy_image(struct digest *out, struct env *env, const struct ref *src,
	       const struct ref *dst, unsigned flags, struct err *e)
{
	struct copy c;
	struct manifest root, child;
	struct buf dest = BUF_INIT;
	struct reg *dr;
	int ret;

	memset(&c, 0, sizeof(c));
	c.env = env;
	c.src = src;
	c.dst = dst;
	c.same_registry = !strcmp(src->registry, dst->registry);
	manifest_init(&root);
	manifest_init(&child);
	if ((ret = resolve_ref(&root, env, src, e)) < 0)
		goto out;
	if (root.kind == MT_KIND_INDEX && env->platform) {
		const struct descriptor *pick = manifest_index_find(&root, env->platform);
		struct buf pf = BUF_INIT;
		if (!pick) {
			platform_format(&pf, env->platform);
			ret = err_set(e, ERR_NOT_FOUND, "the index %s has no image for %s",
				      root.digest.str, pf.data);
			buf_release(&pf);
			goto out;
		}
		if ((ret = copy_fetch(&child, &c, pick, e)) < 0)
			goto out;
		manifest_release(&root);
		root = child;
		manifest_init(&child);
	}
	if (dst->digest && !dst->tag && strcmp(dst->digest, root.digest.str)) {
		ret = err_set(e, ERR_DIGEST, "the source is %s, not %s as the destination says",
			      root.digest.str, dst->digest);
		goto out;
	}
	if ((ret = env_reg(&dr, env, dst->registry, e)) < 0)
		goto out;
	if ((flags & COPY_NO_CLOBBER) && dst->tag &&
	    (ret = copy_no_clobber(env, dr, dst, &root.digest, e)) != 0) {
		if (ret == 1 && out)
			*out = root.digest;
		ret = ret < 0 ? ret : 0;
		goto out;
	}
	if ((ret = xfer_plan_walk(&c.plan, &root, copy_fetch, &c, e)) < 0)
		goto out;
	if ((ret = xfer_run(env, c.plan.n_blobs, XFER_AUX, copy_blob_job, &c, e)) < 0)
		goto out;
	env->n_blob_requests += c.plan.n_blobs;
	if ((ret = buf_addf(&dest, "%s/%s", dst->registry, dst->repository)) < 0 ||
	    (ret = xfer_plan_put_manifests(env, dr, dst->repository, dst->tag, &c.plan, "copy",
					   dest.data, e)) < 0)
		goto out;
	if (out)
		*out = c.plan.mans[c.plan.n_mans - 1].digest;
	ret = 0;
out:
	manifest_release(&root);
	manifest_release(&child);
	xfer_plan_release(&c.plan);
	buf_release(&dest);
	return ret;
}

/* push.c - pushing an image or index from an OCI layout.  See push.h.
 *
 * Every blob is one job, env->jobs at a time (core/ops/xfer.c: one HTTP client
 * per thread, which takes the main session's scheme and tokens): HEAD it at
 * the destination; when missing, mount it if its recorded source is another
 * repository of the same registry, else upload it (streamed from the blob
 * file with pread).  Then the manifests, children first, the root last, so
 * the tag never names something incomplete.
 */
#include "core/base/strvec.h"
#include "core/ops/push.h"

#include "cache/blob.h"
#include "cache/layout.h"
#include "core/base/err.h"
#include "core/base/json.h"
#include "core/model/ref.h"
#include "core/ops/env.h"
#include "core/ops/xfer.h"
#include "registry/reg.h"
#include "registry/reg_blob.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct push {
	struct env *env;
	struct layout *src;
	const struct ref *dst;
	struct xfer_plan plan;
};

static int push_fetch(struct manifest *out, void *arg, const struct descriptor *d,
		      struct err *e)
{
	struct push *p = arg;
	struct buf raw = BUF_INIT;
	int ret;

	manifest_init(out);
	ret = blob_read(&raw, p->src, &d->digest, MANIFEST_MAX_DEFAULT, e);
	if (ret == ERR_NOT_FOUND)
		err_prefix(e, "the layout lacks manifest %s of the index", d->digest.str);
	if (ret == 0)
		ret = manifest_parse(out, raw.data, raw.len, d->media_type, 0, e);
	buf_release(&raw);
	return ret;
}

/* The descriptor of the entry to push: `name`, or the only one. */
static int push_pick(struct descriptor *out, struct layout *src, const char *name,
		     struct err *e)
{
	struct layout_ref *refs = NULL;
	struct buf names = BUF_INIT;
	size_t n = 0, i;
	int ret, n_same = 0;

	descriptor_init(out);
	if (name) {
		ret = layout_index_find(out, src, name, e);
		if (ret == ERR_NOT_FOUND)
			ret = err_set(e, ERR_NOT_FOUND, "the layout '%s' has no image named '%s'",
				      layout_path(src), name);
		return ret;
	}
	if ((ret = layout_index_list(&refs, &n, src, e)) < 0)
		return ret;
	/* several names for one image (a tag and a digest pulled) are one */
	for (i = 1; i < n && digest_equal(&refs[i].desc.digest, &refs[0].desc.digest); i++)
		;
	if (n > 1 && i == n)
		n_same = 1;
	if (n == 1 || n_same) {
		if (descriptor_copy(out, &refs[0].desc) < 0)
			ret = err_set(e, ERR_NOMEM, "out of memory");
		goto out;
	}
	if (n == 0) {
		ret = err_set(e, ERR_NOT_FOUND, "the layout '%s' holds no image", layout_path(src));
		goto out;
	}
	for (i = 0; i < n && i < 10; i++)
		buf_addf(&names, "%s'%s'", i ? ", " : "", refs[i].name ? refs[i].name : "(unnamed)");
	ret = err_set(e, ERR_USAGE, "the layout '%s' holds %zu images (%s%s): pick one with "
		      "--ref NAME or PATH@NAME, or push them all as an index with --index",
		      layout_path(src), n, names.data, n > 10 ? ", ..." : "");
out:
	layout_refs_free(refs, n);
	buf_release(&names);
	return ret;
}

/* The root manifest: `root`, else the picked entry, or index.json as an
 * index. */
static int push_load_root(struct manifest *out, struct push *p, const struct descriptor *root,
		     const char *name, unsigned flags, struct err *e)
{
	struct descriptor d;
	struct json *idx = NULL;
	struct buf raw = BUF_INIT;
	int ret;

	manifest_init(out);
	descriptor_init(&d);
	if (root) {
		ret = push_fetch(out, p, root, e);
		if (ret == 0 && !digest_equal(&out->digest, &root->digest))
			ret = err_set(e, ERR_DIGEST, "manifest %s hashes to %s", root->digest.str,
				      out->digest.str);
		goto out;
	}
	if (flags & PUSH_INDEX) {
		/* the exact bytes of index.json: what crane push --index sends */
		if ((ret = layout_index_read(&idx, p->src, e)) < 0)
			goto out;
		if (!json_array_len(json_get(idx, "manifests"))) {
			ret = err_set(e, ERR_NOT_FOUND, "the layout '%s' holds no image",
				      layout_path(p->src));
			goto out;
		}
		if ((ret = json_serialize(&raw, idx, 0, e)) < 0)
			goto out;
		ret = manifest_parse(out, raw.data, raw.len, MT_OCI_INDEX, 0, e);
		if (ret < 0)
			err_prefix(e, "index.json of '%s'", layout_path(p->src));
		goto out;
	}
	if ((ret = push_pick(&d, p->src, name, e)) < 0)
		goto out;
	ret = push_fetch(out, p, &d, e);
	if (ret == 0 && !digest_equal(&out->digest, &d.digest))
		ret = err_set(e, ERR_DIGEST, "manifest %s hashes to %s", d.digest.str,
			      out->digest.str);
out:
	json_free(idx);
	buf_release(&raw);
	descriptor_release(&d);
	return ret;
}

/* A recorded source of `d` that is another repository of dst's registry. */
static char *push_mount_source(struct push *p, const struct descriptor *d)
{
	struct strvec srcs = STRVEC_INIT;
	size_t rl = strlen(p->dst->registry), i;
	char *from = NULL;

	blob_sources(&srcs, p->src, &d->digest, NULL);
	if (p->env->cache && p->env->cache != p->src)
		blob_sources(&srcs, p->env->cache, &d->digest, NULL);
	for (i = 0; i < srcs.n && !from; i++) {
		const char *s = srcs.v[i];
		if (!strncmp(s, p->dst->registry, rl) && s[rl] == '/' &&
		    strcmp(s + rl + 1, p->dst->repository))
			from = strdup(s + rl + 1);
	}
	strvec_clear(&srcs);
	return from;
}

/* One blob, on a worker: HEAD; when missing, a mount from its recorded
 * source on this registry, else (or when the mount is refused) an upload
 * from the layout's file, which may be absent when a mount is possible. */
static int push_blob_job(struct xfer_worker *w, size_t i, void *arg, struct err *e)
{
	struct push *p = arg;
	const struct descriptor *d = &p->plan.blobs[i];
	enum reg_blob_how how;
	struct reg *r;
	char *from = NULL;
	int64_t size;
	int fd = -1, ret;

	if ((ret = xfer_worker_reg(&r, w, XFER_DST, p->dst->registry, e)) < 0)
		return ret;
	from = push_mount_source(p, d);
	ret = blob_open(&fd, &size, p->src, &d->digest, e);
	if (ret == ERR_NOT_FOUND && !from) {
		/* fine when the registry has it (build pushes a base first) */
		ret = reg_blob_head(NULL, r, p->dst->repository, &d->digest, e);
		if (ret == ERR_NOT_FOUND)
			ret = err_set(e, ERR_NOT_FOUND, "the layout lacks blob %s, and '%s/%s' "
				      "does not have it", d->digest.str, p->dst->registry,
				      p->dst->repository);
		how = REG_BLOB_EXISTED;
		if (ret < 0)
			goto out;
		goto done;
	} else if (ret == ERR_NOT_FOUND) {
		err_clear(e);
		fd = -1;
	} else if (ret < 0) {
		goto out;
	} else if (size != d->size) {
		ret = err_set(e, ERR_DIGEST, "blob %s in '%s' has %lld bytes, its descriptor "
			      "says %lld", d->digest.str, layout_path(p->src), (long long)size,
			      (long long)d->size);
		goto out;
	}
	ret = reg_blob_send(&how, r, p->dst->repository, d, fd, from, e);
	if (ret < 0 && from && fd >= 0 && e->http_status >= 400 && e->http_status < 500) {
		/* a registry that refuses the mount outright (not with the
		 * 202 of an upload instead): upload it */
		xfer_log(w, 1, "push: cannot mount %s from %s: %s", d->digest.str, from, e->msg);
		err_clear(e);
		ret = reg_blob_send(&how, r, p->dst->repository, d, fd, NULL, e);
	}
	if (ret < 0 && from && fd < 0) {
		err_prefix(e, "the layout lacks blob %s, and mounting it from '%s' failed",
			   d->digest.str, from);
		goto out;
	}
	if (ret < 0)
		goto out;
done:
	if (how == REG_BLOB_EXISTED)
		xfer_log(w, 1, "push: %s exists in %s/%s", d->digest.str, p->dst->registry,
			 p->dst->repository);
	else if (how == REG_BLOB_MOUNTED)
		xfer_log(w, 1, "push: mounted %s from %s", d->digest.str, from);
	else
		xfer_log(w, 1, "push: uploaded %s (%lld bytes)", d->digest.str,
			 (long long)d->size);
	xfer_progress(w, d, how == REG_BLOB_EXISTED ? "exists" :
		      how == REG_BLOB_MOUNTED ? "mount" : "push");
out:
	if (fd >= 0)
		close(fd);
	free(from);
	return ret;
}

/* Refuses, before anything is uploaded, a layout whose blob is a link or
 * not a regular file (a missing one may be mounted or already there). */
static int push_check_blobs(const struct push *p, struct err *e)
{
	size_t i;
	int rc;

	for (i = 0; i < p->plan.n_blobs; i++) {
		rc = blob_stat(NULL, p->src, &p->plan.blobs[i].digest, e);
		if (rc < 0 && rc != ERR_NOT_FOUND)
			return rc;
		err_clear(e);
	}
	return 0;
}

static int push_run(struct digest *out, struct env *env, struct layout *src,
		    const struct descriptor *root_d, const char *ref_name, const struct ref *dst,
		    unsigned flags, struct err *e)
{
	struct push p;
	struct manifest root;
	struct buf source = BUF_INIT;
	struct reg *r = NULL;
	const struct manifest *top;
	size_t i;
	int ret;

	memset(&p, 0, sizeof(p));
	p.env = env;
	p.src = src;
	p.dst = dst;
	manifest_init(&root);
	if ((ret = push_load_root(&root, &p, root_d, ref_name, flags, e)) < 0)
		goto out;
	if (dst->digest && !(dst->tag) && strcmp(dst->digest, root.digest.str)) {
		ret = err_set(e, ERR_DIGEST, "the image is %s, not %s as the destination says",
			      root.digest.str, dst->digest);
		goto out;
	}
	if ((ret = xfer_plan_walk(&p.plan, &root, push_fetch, &p, e)) < 0 ||
	    (ret = push_check_blobs(&p, e)) < 0)
		goto out;
	if ((ret = env_reg(&r, env, dst->registry, e)) < 0)
		goto out;
	if (buf_addf(&source, "%s/%s", dst->registry, dst->repository) < 0) {
		ret = err_set(e, ERR_NOMEM, "out of memory");
		goto out;
	}

	/* every blob on a worker: HEAD, mount or upload (jobs at a time); the
	 * ping first, here, so that the workers take its answer */
	if ((ret = reg_connect(r, e)) < 0)
		goto out;
	env->n_blob_requests += p.plan.n_blobs;
	if ((ret = xfer_run(env, p.plan.n_blobs, 0, push_blob_job, &p, e)) < 0)
		goto out;

	/* manifests, the root last */
	if ((ret = xfer_plan_put_manifests(env, r, dst->repository, dst->tag, &p.plan, "push",
					   source.data, e)) < 0)
		goto out;
	top = &p.plan.mans[p.plan.n_mans - 1];
	if (out)
		*out = top->digest;
	if (env->cache)
		for (i = 0; i < p.plan.n_blobs; i++)
			blob_source_add(env->cache, &p.plan.blobs[i].digest, source.data,
					       NULL);
	ret = 0;
out:
	manifest_release(&root);
	xfer_plan_release(&p.plan);
	buf_release(&source);
	return ret;
}

int push_layout(struct digest *out, struct env *env, struct layout *src,
		      const char *ref_name, const struct ref *dst, unsigned flags,
		      struct err *e)
{
	return push_run(out, env, src, NULL, ref_name, dst, flags, e);
}

int push_root(struct digest *out, struct env *env, struct layout *src,
		    const struct descriptor *root, const struct ref *dst, struct err *e)
{
	return push_run(out, env, src, root, NULL, dst, 0, e);
}

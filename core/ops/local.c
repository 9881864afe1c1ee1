/* local.c - images and blobs in an OCI layout, as operations read and
 * write them.  See local.h. */
#include "core/ops/local.h"

#include "cache/blob.h"
#include "cache/layout.h"
#include "core/base/buf.h"
#include "core/base/err.h"
#include "core/base/json.h"
#include "core/model/manifest.h"
#include "core/model/platform.h"
#include "core/ops/env.h"
#include "core/ops/pull.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* The bytes local_blob_copy() reads at a time. */
#define COPY_CHUNK (1u << 20)

int local_blob_copy(struct layout *dst, struct layout *cache, const struct descriptor *d,
		    struct err *e)
{
	struct blob_writer *w = NULL;
	char *chunk = NULL;
	int fd = -1, ret;
	int64_t size, off = 0;

	if ((ret = blob_open(&fd, &size, cache, &d->digest, e)) < 0)
		goto out;
	if ((ret = blob_begin(&w, dst, &d->digest, d->size, e)) < 0)
		goto out;
	chunk = malloc(COPY_CHUNK);
	if (!chunk) {
		ret = err_set(e, ERR_NOMEM, "out of memory");
		goto out;
	}
	for (;;) {
		ssize_t got = pread(fd, chunk, COPY_CHUNK, off);
		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0) {
			ret = err_set_errno(e, ERR_IO, errno, "cannot read blob %s in the cache",
					    d->digest.str);
			goto out;
		}
		if (!got)
			break;
		if ((ret = blob_writer_write(w, chunk, (size_t)got, e)) < 0)
			goto out;
		off += got;
	}
	ret = blob_writer_commit(NULL, NULL, w, e);
	w = NULL;
	if (ret < 0)
		err_prefix(e, "cached blob %s", d->digest.str);
out:
	blob_writer_abort(w);
	free(chunk);
	if (fd >= 0)
		close(fd);
	return ret;
}

int local_manifest_load(struct manifest *out, struct layout *l, const struct descriptor *d,
			int check, struct err *e)
{
	struct buf raw = BUF_INIT;
	int ret;

	manifest_init(out);
	if ((ret = blob_read(&raw, l, &d->digest, MANIFEST_MAX_DEFAULT, e)) < 0)
		goto out;
	if ((ret = manifest_parse(out, raw.data, raw.len, d->media_type, 0, e)) < 0)
		goto out;
	if (check && !digest_equal(&out->digest, &d->digest))
		ret = err_set(e, ERR_DIGEST, "manifest %s hashes to %s", d->digest.str,
			      out->digest.str);
out:
	buf_release(&raw);
	return ret;
}

int local_json_blob(struct buf *raw, struct digest *out, struct layout *dst, const struct json *j,
		    struct err *e)
{
	int ret;

	buf_reset(raw);
	if ((ret = json_serialize(raw, j, 0, e)) < 0)
		return ret;
	if (!dst)
		return digest_buffer(out, DIGEST_SHA256, raw->data, raw->len, e);
	return blob_put(out, dst, raw->data, raw->len, NULL, e);
}

int local_manifest_put(struct manifest *out, struct layout *dst, const struct json *j,
		       const char *mt, struct err *e)
{
	struct buf raw = BUF_INIT;
	int ret;

	manifest_release(out);
	if ((ret = json_serialize(&raw, j, 0, e)) < 0)
		goto out;
	if ((ret = manifest_parse(out, raw.data, raw.len, mt, 0, e)) < 0)
		goto out;
	if (dst)
		ret = blob_put(NULL, dst, raw.data, raw.len, &out->digest, e);
out:
	buf_release(&raw);
	return ret;
}

int local_blob_sink(void *arg, const void *data, size_t len, struct err *e)
{
	return blob_writer_write(arg, data, len, e);
}

int local_layout_manifest(struct manifest *out, struct layout *l, const char *ref_name,
			  const struct platform *platform, struct err *e)
{
	struct layout_ref *refs = NULL;
	struct platform def = PLATFORM_INIT;
	struct manifest idx;
	const struct descriptor *d = NULL;
	size_t n = 0, i;
	int ret;

	manifest_init(out);
	manifest_init(&idx);
	if ((ret = layout_index_list(&refs, &n, l, e)) < 0)
		goto out;
	for (i = 0; i < n; i++)
		if (!ref_name || (refs[i].name && !strcmp(refs[i].name, ref_name)))
			break;
	if (i == n || (!ref_name && n != 1)) {
		if (ref_name)
			ret = err_set(e, ERR_NOT_FOUND, "no entry '%s' in the layout", ref_name);
		else
			ret = err_set(e, ERR_USAGE, "the layout has %zu entries, not one", n);
		goto out;
	}
	if ((ret = local_manifest_load(&idx, l, &refs[i].desc, 0, e)) < 0)
		goto out;
	if (idx.kind == MT_KIND_MANIFEST) {
		*out = idx;
		manifest_init(&idx);
		goto out;
	}
	if (!platform) {
		if ((ret = platform_parse(&def, "linux/amd64", e)) < 0)
			goto out;
		platform = &def;
	}
	if (!(d = manifest_index_find(&idx, platform))) {
		ret = err_set(e, ERR_NOT_FOUND, "the index has no image for %s/%s",
			      platform->os, platform->arch);
		goto out;
	}
	ret = local_manifest_load(out, l, d, 0, e);
	if (ret == 0 && out->kind != MT_KIND_MANIFEST)
		ret = err_set(e, ERR_UNSUPPORTED, "nested indexes are not supported here");
out:
	manifest_release(&idx);
	platform_release(&def);
	layout_refs_free(refs, n);
	return ret;
}

int local_image(struct manifest *out, struct env *env, const struct ref *ref,
		struct err *e)
{
	struct pull_result p;
	int ret;

	manifest_init(out);
	memset(&p, 0, sizeof(p));
	if (!env->cache)
		return err_set(e, ERR_USAGE, "no cache");
	if ((ret = pull_images(&p, env, ref, 1, env->cache, PULL_SINGLE, e)) < 0)
		goto out;
	if ((ret = local_manifest_load(out, env->cache, &p.desc, 0, e)) < 0)
		goto out;
	if (out->kind != MT_KIND_MANIFEST)
		ret = err_set(e, ERR_UNSUPPORTED, "'%s' is not an image", p.name);
out:
	pull_result_release(&p, 1);
	return ret;
}

/* local.c - images and blobs in an OCI layout, as operations read and
 * write them.  See local.h. */
#include "core/ops/local.h"

#include "cache/layout.h"
#include "core/base/buf.h"
#include "core/base/err.h"
#include "core/base/json.h"
#include "core/model/manifest.h"

#include <errno.h>
#include <stdlib.h>
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

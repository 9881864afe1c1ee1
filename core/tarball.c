/* tarball.c - docker-save tarballs with libarchive.  See tarball.h. */
#include "core/tarball.h"

#include "cache/layout.h"
#include "core/buf.h"
#include "core/err.h"
#include "core/image.h"
#include "core/json.h"
#include "core/manifest.h"
#include "core/ref.h"

#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define TAR_CHUNK (1u << 20)

static int ar_fail(struct archive *a, struct err *e, const char *what)
{
	return err_set(e, ERR_IO, "cannot write %s to the tarball: %s", what,
		       archive_error_string(a) ? archive_error_string(a) : "unknown error");
}

/* One regular file of `size` bytes; the data follows. */
static int ar_header(struct archive *a, const char *name, int64_t size, struct err *e)
{
	struct archive_entry *ent = archive_entry_new();
	int rc;

	if (!ent)
		return err_set(e, ERR_NOMEM, "out of memory");
	archive_entry_set_pathname(ent, name);
	archive_entry_set_filetype(ent, AE_IFREG);
	archive_entry_set_perm(ent, 0644);
	archive_entry_set_size(ent, size);
	archive_entry_set_mtime(ent, 0, 0);
	rc = archive_write_header(a, ent);
	archive_entry_free(ent);
	return rc == ARCHIVE_OK ? 0 : ar_fail(a, e, name);
}

static int ar_add_mem(struct archive *a, const char *name, const void *p, size_t n,
		      struct err *e)
{
	int rc;

	if ((rc = ar_header(a, name, (int64_t)n, e)) < 0)
		return rc;
	if (n && archive_write_data(a, p, n) != (la_ssize_t)n)
		return ar_fail(a, e, name);
	return 0;
}

/* Streams blob `d` of `src` into the archive as `name`. */
static int ar_add_blob(struct archive *a, struct layout *src, const struct descriptor *d,
		       const char *name, char *chunk, struct err *e)
{
	int fd = -1, ret;
	int64_t size, off = 0;

	if ((ret = layout_blob_open(&fd, &size, src, &d->digest, e)) < 0)
		return ret;
	if (size != d->size) {
		ret = err_set(e, ERR_DIGEST, "blob %s has %lld bytes, expected %lld",
			      d->digest.str, (long long)size, (long long)d->size);
		goto out;
	}
	if ((ret = ar_header(a, name, size, e)) < 0)
		goto out;
	while (off < size) {
		ssize_t got = pread(fd, chunk, TAR_CHUNK, off);
		if (got < 0 && errno == EINTR)
			continue;
		if (got <= 0) {
			ret = err_set_errno(e, ERR_IO, got < 0 ? errno : EIO, "cannot read blob %s",
					    d->digest.str);
			goto out;
		}
		if (archive_write_data(a, chunk, (size_t)got) != got) {
			ret = ar_fail(a, e, name);
			goto out;
		}
		off += got;
	}
	ret = 0;
out:
	close(fd);
	return ret;
}

static const char *layer_ext(const char *mt)
{
	size_t n = mt ? strcspn(mt, ";") : 0;

	if (n >= 5 && !strncmp(mt + n - 5, "+zstd", 5))
		return ".tar.zst";
	if ((n >= 4 && !strncmp(mt + n - 4, ".tar", 4)))
		return ".tar";
	return ".tar.gz";
}

/* Writes one image; `seen` holds the blob names already in the archive. */
static int write_image(struct archive *a, struct layout *src, const struct ref *ref,
		       const struct image_pulled *img, struct json *manifests,
		       struct json *repos, struct strvec *seen, char *chunk, struct err *e)
{
	struct buf raw = BUF_INIT, name = BUF_INIT, tag = BUF_INIT;
	struct manifest m;
	struct json *ent = json_new_object(), *layers = json_new_array(), *tags = json_new_array();
	size_t i;
	int ret;

	manifest_init(&m);
	if (!ent || !layers || !tags) {
		ret = err_set(e, ERR_NOMEM, "out of memory");
		goto out;
	}
	if ((ret = layout_blob_read(&raw, src, &img->desc.digest, 0, e)) < 0 ||
	    (ret = manifest_parse(&m, raw.data, raw.len, img->desc.media_type, 0, e)) < 0)
		goto out;
	if (m.kind != MT_KIND_MANIFEST) {
		ret = err_set(e, ERR_UNSUPPORTED, "'%s' is an index: a tarball holds images only",
			      img->name);
		goto out;
	}
	buf_addf(&name, "%s.json", digest_hex(&m.config.digest));
	if (buf_failed(&name)) {
		ret = err_set(e, ERR_NOMEM, "out of memory");
		goto out;
	}
	if (strvec_find(seen, name.data) < 0) {
		if ((ret = ar_add_blob(a, src, &m.config, name.data, chunk, e)) < 0)
			goto out;
		if (strvec_push(seen, name.data) < 0) {
			ret = err_set(e, ERR_NOMEM, "out of memory");
			goto out;
		}
	}
	if ((ret = json_set_str(ent, "Config", name.data)) < 0)
		goto nomem;
	for (i = 0; i < m.n_layers; i++) {
		buf_reset(&name);
		buf_addf(&name, "%s%s", digest_hex(&m.layers[i].digest),
			 layer_ext(m.layers[i].media_type));
		if (buf_failed(&name))
			goto nomem;
		if (strvec_find(seen, name.data) < 0) {
			if ((ret = ar_add_blob(a, src, &m.layers[i], name.data, chunk, e)) < 0)
				goto out;
			if (strvec_push(seen, name.data) < 0)
				goto nomem;
		}
		if (json_append(layers, json_new_string(name.data)) < 0)
			goto nomem;
	}
	if (ref->tag) {
		buf_reset(&name);
		if (ref_format_name(&name, ref) < 0)
			goto nomem;
		buf_addf(&tag, "%s:%s", name.data, ref->tag);
		if (buf_failed(&tag) || json_append(tags, json_new_string(tag.data)) < 0)
			goto nomem;
		if (m.n_layers) {
			struct json *r = json_get(repos, name.data);
			if (!r) {
				if (json_set(repos, name.data, json_new_object()) < 0)
					goto nomem;
				r = json_get(repos, name.data);
			}
			if (json_set_str(r, ref->tag, digest_hex(&m.layers[m.n_layers - 1].digest)) < 0)
				goto nomem;
		}
	}
	ret = json_set(ent, "RepoTags", tags);
	tags = NULL;
	if (ret < 0)
		goto nomem;
	ret = json_set(ent, "Layers", layers);
	layers = NULL;
	if (ret < 0)
		goto nomem;
	ret = json_append(manifests, ent);
	ent = NULL;
	if (ret < 0)
		goto nomem;
	ret = 0;
	goto out;
nomem:
	ret = err_set(e, ERR_NOMEM, "out of memory");
out:
	json_free(ent);
	json_free(layers);
	json_free(tags);
	manifest_release(&m);
	buf_release(&raw);
	buf_release(&name);
	buf_release(&tag);
	return ret;
}

int image_tarball_write(const char *path, struct layout *src, const struct ref *refs,
			const struct image_pulled *imgs, size_t n, struct err *e)
{
	struct archive *a = NULL;
	struct json *manifests = json_new_array(), *repos = json_new_object();
	struct strvec seen = STRVEC_INIT;
	struct buf tmp = BUF_INIT, doc = BUF_INIT;
	char *chunk = malloc(TAR_CHUNK);
	int fd = -1, ret, opened = 0;
	size_t i;
	mode_t um;

	if (!manifests || !repos || !chunk) {
		ret = err_set(e, ERR_NOMEM, "out of memory");
		goto out;
	}
	buf_addf(&tmp, "%s.tmp-XXXXXX", path);
	if (buf_failed(&tmp)) {
		ret = err_set(e, ERR_NOMEM, "out of memory");
		goto out;
	}
	fd = mkstemp(tmp.data);
	if (fd < 0) {
		ret = err_set_errno(e, ERR_IO, errno, "cannot create '%s'", tmp.data);
		buf_reset(&tmp);
		goto out;
	}
	um = umask(0);
	umask(um);
	fchmod(fd, 0644 & ~um);
	a = archive_write_new();
	if (!a || archive_write_set_format_pax_restricted(a) != ARCHIVE_OK ||
	    archive_write_set_bytes_per_block(a, 0) != ARCHIVE_OK ||
	    archive_write_open_fd(a, fd) != ARCHIVE_OK) {
		ret = err_set(e, ERR_FAIL, "cannot start the tarball: %s",
			      a && archive_error_string(a) ? archive_error_string(a) : "out of memory");
		goto out;
	}
	opened = 1;
	for (i = 0; i < n; i++)
		if ((ret = write_image(a, src, &refs[i], &imgs[i], manifests, repos, &seen, chunk,
				       e)) < 0)
			goto out;
	if ((ret = json_serialize(&doc, manifests, 0, e)) < 0 ||
	    (ret = ar_add_mem(a, "manifest.json", doc.data, doc.len, e)) < 0)
		goto out;
	buf_reset(&doc);
	if ((ret = json_serialize(&doc, repos, 0, e)) < 0 ||
	    (ret = ar_add_mem(a, "repositories", doc.data, doc.len, e)) < 0)
		goto out;
	opened = 0;
	if (archive_write_close(a) != ARCHIVE_OK) {
		ret = ar_fail(a, e, "the end");
		goto out;
	}
	if (fsync(fd) < 0 || close(fd) < 0) {
		fd = -1;
		ret = err_set_errno(e, ERR_IO, errno, "cannot write '%s'", tmp.data);
		goto out;
	}
	fd = -1;
	if (rename(tmp.data, path) < 0) {
		ret = err_set_errno(e, ERR_IO, errno, "cannot rename '%s' to '%s'", tmp.data, path);
		goto out;
	}
	buf_reset(&tmp);
	ret = 0;
out:
	if (a) {
		if (opened)
			archive_write_close(a);
		archive_write_free(a);
	}
	if (fd >= 0)
		close(fd);
	if (tmp.len)
		unlink(tmp.data);
	json_free(manifests);
	json_free(repos);
	strvec_clear(&seen);
	buf_release(&tmp);
	buf_release(&doc);
	free(chunk);
	return ret;
}

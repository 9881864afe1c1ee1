/* tarball.c - writing docker-save tarballs (the tar stream itself is
 * core/archive.h's; reading them is core/tarball_read.c).  See tarball.h. */
#include "core/tarball.h"

#include "cache/layout.h"
#include "core/buf.h"
#include "core/err.h"
#include "core/image.h"
#include "core/json.h"
#include "core/layer.h"
#include "core/manifest.h"
#include "core/ref.h"

#include "core/archive.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>


static void file_header(struct tar_header *h, const char *name, int64_t size)
{
	memset(h, 0, sizeof(*h));
	h->path = name;
	h->type = TAR_FILE;
	h->mode = 0644;
	h->size = size;
}

static int ar_add_mem(struct tar_writer *a, const char *name, const void *p, size_t n,
		      struct err *e)
{
	struct tar_header h;

	file_header(&h, name, (int64_t)n);
	return tar_writer_add(a, &h, p, n, e);
}

/* Streams blob `d` of `src` into the archive as `name`. */
static int ar_add_blob(struct tar_writer *a, struct layout *src, const struct descriptor *d,
		       const char *name, struct err *e)
{
	struct tar_header h;
	int fd = -1, ret;
	int64_t size;

	if ((ret = layout_blob_open(&fd, &size, src, &d->digest, e)) < 0)
		return ret;
	if (size != d->size) {
		ret = err_set(e, ERR_DIGEST, "blob %s has %lld bytes, expected %lld",
			      d->digest.str, (long long)size, (long long)d->size);
		goto out;
	}
	file_header(&h, name, size);
	ret = tar_writer_add_fd(a, &h, fd, e);
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
static int write_image(struct tar_writer *a, struct layout *src, const struct ref *ref,
		       const struct image_pulled *img, struct json *manifests,
		       struct json *repos, struct strvec *seen, struct err *e)
{
	struct buf raw = BUF_INIT, name = BUF_INIT, tag = BUF_INIT;
	struct manifest m;
	struct json *ent = json_new_object(), *layers = json_new_array(), *tags = json_new_array();
	struct json *r;
	size_t i;
	int ret = ERR_NOMEM;

	manifest_init(&m);
	if (!ent || !layers || !tags)
		goto out;
	if ((ret = layout_blob_read(&raw, src, &img->desc.digest, 0, e)) < 0 ||
	    (ret = manifest_parse(&m, raw.data, raw.len, img->desc.media_type, 0, e)) < 0)
		goto out;
	if (m.kind != MT_KIND_MANIFEST) {
		ret = err_set(e, ERR_UNSUPPORTED, "'%s' is an index: a tarball holds images only",
			      img->name);
		goto out;
	}
	ret = ERR_NOMEM;
	if (buf_addf(&name, "%s.json", digest_hex(&m.config.digest)) < 0)
		goto out;
	if (strvec_find(seen, name.data) < 0) {
		if ((ret = ar_add_blob(a, src, &m.config, name.data, e)) < 0)
			goto out;
		ret = ERR_NOMEM;
		if (strvec_push(seen, name.data) < 0)
			goto out;
	}
	if (json_set_str(ent, "Config", name.data) < 0)
		goto out;
	for (i = 0; i < m.n_layers; i++) {
		buf_reset(&name);
		if (buf_addf(&name, "%s%s", digest_hex(&m.layers[i].digest),
			     layer_ext(m.layers[i].media_type)) < 0)
			goto out;
		if (strvec_find(seen, name.data) < 0) {
			if ((ret = ar_add_blob(a, src, &m.layers[i], name.data, e)) < 0)
				goto out;
			ret = ERR_NOMEM;
			if (strvec_push(seen, name.data) < 0)
				goto out;
		}
		if (json_append(layers, json_new_string(name.data)) < 0)
			goto out;
	}
	if (ref->tag) {
		buf_reset(&name);
		if (ref_format_name(&name, ref) < 0 ||
		    buf_addf(&tag, "%s:%s", name.data, ref->tag) < 0 ||
		    json_append(tags, json_new_string(tag.data)) < 0)
			goto out;
		if (m.n_layers) {
			if (!(r = json_get(repos, name.data)) &&
			    (json_set(repos, name.data, json_new_object()) < 0 ||
			     !(r = json_get(repos, name.data))))
				goto out;
			if (json_set_str(r, ref->tag,
					 digest_hex(&m.layers[m.n_layers - 1].digest)) < 0)
				goto out;
		}
	}
	i = json_set(ent, "RepoTags", tags) < 0;
	tags = NULL;
	i |= json_set(ent, "Layers", layers) < 0;
	layers = NULL;
	if (i)
		goto out;
	i = json_append(manifests, ent) < 0;
	ent = NULL;
	if (i)
		goto out;
	ret = 0;
out:
	if (ret == ERR_NOMEM)
		err_set(e, ERR_NOMEM, "out of memory");
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
	struct tar_writer *a = NULL;
	struct tar_writer_opts o;
	struct tar_result res;
	struct json *manifests = json_new_array(), *repos = json_new_object();
	struct strvec seen = STRVEC_INIT;
	struct buf tmp = BUF_INIT, doc = BUF_INIT;
	struct layer_file tf = { -1, "the tarball" };
	int fd = -1, ret;
	size_t i;
	mode_t um;

	if (!manifests || !repos || buf_addf(&tmp, "%s.tmp-XXXXXX", path) < 0) {
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
	memset(&o, 0, sizeof(o));
	o.compression = TAR_COMPRESS_NONE;
	tf.fd = fd;
	o.sink = layer_file_sink;
	o.sink_arg = &tf;
	if ((ret = tar_writer_new(&a, &o, e)) < 0)
		goto out;
	for (i = 0; i < n; i++)
		if ((ret = write_image(a, src, &refs[i], &imgs[i], manifests, repos, &seen, e)) < 0)
			goto out;
	if ((ret = json_serialize(&doc, manifests, 0, e)) < 0 ||
	    (ret = ar_add_mem(a, "manifest.json", doc.data, doc.len, e)) < 0)
		goto out;
	buf_reset(&doc);
	if ((ret = json_serialize(&doc, repos, 0, e)) < 0 ||
	    (ret = ar_add_mem(a, "repositories", doc.data, doc.len, e)) < 0 ||
	    (ret = tar_writer_finish(a, &res, e)) < 0)
		goto out;
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
	tar_writer_free(a);
	if (fd >= 0)
		close(fd);
	if (tmp.len)
		unlink(tmp.data);
	json_free(manifests);
	json_free(repos);
	strvec_clear(&seen);
	buf_release(&tmp);
	buf_release(&doc);
	return ret;
}

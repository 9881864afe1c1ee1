/* tarball.c - writing docker-save tarballs (the tar stream itself is
 * core/format/tar.h's; reading them is core/ops/import.c).  See tarball.h. */
#include "core/ops/tarball.h"

#include "cache/blob.h"
#include "cache/layout.h"
#include "core/base/buf.h"
#include "core/base/err.h"
#include "core/base/strvec.h"
#include "core/ops/env.h"
#include "core/base/json.h"
#include "core/format/layer.h"
#include "core/model/manifest.h"
#include "core/model/ref.h"

#include "core/format/tar.h"
#include "core/ops/local.h"
#include "core/ops/pull.h"

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

	if ((ret = blob_open(&fd, &size, src, &d->digest, e)) < 0)
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

/* Adds blob `d` as `name` unless `seen` holds it already (one copy of a
 * blob that two images share); `seen` gets it. */
static int ar_add_once(struct tar_writer *a, struct layout *src, const struct descriptor *d,
		       const char *name, struct strvec *seen, struct err *e)
{
	int ret;

	if (strvec_find(seen, name) >= 0)
		return 0;
	if ((ret = ar_add_blob(a, src, d, name, e)) < 0)
		return ret;
	return strvec_push(seen, name) < 0 ? ERR_NOMEM : 0;
}

/* The RepoTags entry of `ref` in `tags` and its entry in the legacy
 * `repositories` file (`repos`: the top layer's ID), when it has a tag.
 * ERR_NOMEM. */
static int write_tags(struct json *tags, struct json *repos, const struct ref *ref,
		      const struct manifest *m)
{
	struct buf name = BUF_INIT, tag = BUF_INIT;
	struct json *r;
	int ret = ERR_NOMEM;

	if (!ref->tag)
		return 0;
	if (ref_format_name(&name, ref) < 0 ||
	    buf_addf(&tag, "%s:%s", name.data, ref->tag) < 0 ||
	    json_append(tags, json_new_string(tag.data)) < 0)
		goto out;
	if (m->n_layers) {
		if (!(r = json_get(repos, name.data)) &&
		    (json_set(repos, name.data, json_new_object()) < 0 ||
		     !(r = json_get(repos, name.data))))
			goto out;
		if (json_set_str(r, ref->tag, digest_hex(&m->layers[m->n_layers - 1].digest)) < 0)
			goto out;
	}
	ret = 0;
out:
	buf_release(&name);
	buf_release(&tag);
	return ret;
}

/* Writes one image; `seen` holds the blob names already in the archive. */
static int write_image(struct tar_writer *a, struct layout *src, const struct ref *ref,
		       const struct pull_result *img, struct json *manifests,
		       struct json *repos, struct strvec *seen, struct err *e)
{
	struct buf raw = BUF_INIT, name = BUF_INIT;
	struct manifest m;
	struct json *ent = json_new_object(), *layers = json_new_array(), *tags = json_new_array();
	size_t i;
	int ret = ERR_NOMEM;

	manifest_init(&m);
	if (!ent || !layers || !tags)
		goto out;
	if ((ret = blob_read(&raw, src, &img->desc.digest, 0, e)) < 0 ||
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
	if ((ret = ar_add_once(a, src, &m.config, name.data, seen, e)) < 0)
		goto out;
	ret = ERR_NOMEM;
	if (json_set_str(ent, "Config", name.data) < 0)
		goto out;
	for (i = 0; i < m.n_layers; i++) {
		buf_reset(&name);
		if (buf_addf(&name, "%s%s", digest_hex(&m.layers[i].digest),
			     layer_ext(m.layers[i].media_type)) < 0)
			goto out;
		if ((ret = ar_add_once(a, src, &m.layers[i], name.data, seen, e)) < 0)
			goto out;
		ret = ERR_NOMEM;
		if (json_append(layers, json_new_string(name.data)) < 0)
			goto out;
	}
	if (write_tags(tags, repos, ref, &m) < 0)
		goto out;
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
	return ret;
}

/* An archive written to a temporary file beside its final name. */
struct out_tar {
	struct tar_writer *a;
	struct buf tmp;		/* the temporary file's name, "" once renamed */
	struct layer_file tf;
	int fd;
};

static int out_tar_begin(struct out_tar *o, const char *path, struct err *e)
{
	struct tar_writer_opts wo;
	mode_t um;

	memset(o, 0, sizeof(*o));
	o->fd = -1;
	buf_init(&o->tmp, 0);
	if (buf_addf(&o->tmp, "%s.tmp-XXXXXX", path) < 0)
		return err_set(e, ERR_NOMEM, "out of memory");
	o->fd = mkstemp(o->tmp.data);
	if (o->fd < 0) {
		int ret = err_set_errno(e, ERR_IO, errno, "cannot create '%s'", o->tmp.data);

		buf_reset(&o->tmp);
		return ret;
	}
	um = umask(0);
	umask(um);
	fchmod(o->fd, 0644 & ~um);
	memset(&wo, 0, sizeof(wo));
	wo.compression = TAR_COMPRESS_NONE;
	o->tf.fd = o->fd;
	o->tf.what = "the archive";
	wo.sink = layer_file_sink;
	wo.sink_arg = &o->tf;
	return tar_writer_new(&o->a, &wo, e);
}

/* Ends the archive, syncs it and renames it to `path`. */
static int out_tar_commit(struct out_tar *o, const char *path, struct err *e)
{
	struct tar_result res;
	int ret;

	if ((ret = tar_writer_finish(o->a, &res, e)) < 0)
		return ret;
	ret = fsync(o->fd) < 0 ? -1 : 0;
	if (close(o->fd) < 0)
		ret = -1;
	o->fd = -1;
	if (ret < 0)
		return err_set_errno(e, ERR_IO, errno, "cannot write '%s'", o->tmp.data);
	if (rename(o->tmp.data, path) < 0)
		return err_set_errno(e, ERR_IO, errno, "cannot rename '%s' to '%s'", o->tmp.data,
				     path);
	buf_reset(&o->tmp);
	return 0;
}

/* Frees the writer; removes the temporary file unless it was renamed. */
static void out_tar_release(struct out_tar *o)
{
	tar_writer_free(o->a);
	if (o->fd >= 0)
		close(o->fd);
	if (o->tmp.len)
		unlink(o->tmp.data);
	buf_release(&o->tmp);
}

int tarball_write(const char *path, struct layout *src, const struct ref *refs,
			const struct pull_result *imgs, size_t n, struct err *e)
{
	struct out_tar o;
	struct json *manifests = json_new_array(), *repos = json_new_object();
	struct strvec seen = STRVEC_INIT;
	struct buf doc = BUF_INIT;
	int ret;
	size_t i;

	if ((ret = out_tar_begin(&o, path, e)) < 0)
		goto out;
	if (!manifests || !repos) {
		ret = err_set(e, ERR_NOMEM, "out of memory");
		goto out;
	}
	for (i = 0; i < n; i++)
		if ((ret = write_image(o.a, src, &refs[i], &imgs[i], manifests, repos, &seen, e)) < 0)
			goto out;
	if ((ret = json_serialize(&doc, manifests, 0, e)) < 0 ||
	    (ret = ar_add_mem(o.a, "manifest.json", doc.data, doc.len, e)) < 0)
		goto out;
	buf_reset(&doc);
	if ((ret = json_serialize(&doc, repos, 0, e)) < 0 ||
	    (ret = ar_add_mem(o.a, "repositories", doc.data, doc.len, e)) < 0)
		goto out;
	ret = out_tar_commit(&o, path, e);
out:
	out_tar_release(&o);
	json_free(manifests);
	json_free(repos);
	strvec_clear(&seen);
	buf_release(&doc);
	return ret;
}

/* ---- OCI archives ---- */

#define OCI_ARCHIVE_DEPTH 8

/* The blobs written so far and the blobs/<alg>/ folders made. */
struct oci_out {
	struct tar_writer *a;
	struct layout *src;
	struct strvec seen;
	int dirs[2];
};

static int oci_add_dir(struct tar_writer *a, const char *name, struct err *e)
{
	struct tar_header h;

	memset(&h, 0, sizeof(h));
	h.path = name;
	h.type = TAR_DIR;
	h.mode = 0755;
	return tar_writer_add(a, &h, NULL, 0, e);
}

/* Writes blob `d` as blobs/<alg>/<hex>, and, for a manifest or an index,
 * every blob it names first. */
static int oci_add_blob(struct oci_out *w, const struct descriptor *d, int depth, struct err *e)
{
	enum mt_kind kind = mediatype_classify(d->media_type);
	struct manifest m;
	struct buf name = BUF_INIT;
	size_t i;
	int ret = 0;

	manifest_init(&m);
	if (buf_addf(&name, "blobs/%s/", digest_alg_name(d->digest.alg)) < 0)
		goto nomem;
	if (strvec_find(&w->seen, d->digest.str) >= 0)
		goto out;
	if (strvec_push(&w->seen, d->digest.str) < 0)
		goto nomem;
	if (depth > OCI_ARCHIVE_DEPTH) {
		ret = err_set(e, ERR_UNSUPPORTED, "indexes nested deeper than %d",
			      OCI_ARCHIVE_DEPTH);
		goto out;
	}
	if ((kind == MT_KIND_MANIFEST || kind == MT_KIND_INDEX) &&
	    (ret = local_manifest_load(&m, w->src, d, 1, e)) < 0)
		goto out;
	if (m.kind == MT_KIND_MANIFEST)
		ret = oci_add_blob(w, &m.config, depth + 1, e);
	for (i = 0; ret == 0 && i < m.n_layers; i++)
		ret = oci_add_blob(w, &m.layers[i], depth + 1, e);
	for (i = 0; ret == 0 && i < m.n_manifests; i++)
		ret = oci_add_blob(w, &m.manifests[i], depth + 1, e);
	if (ret == 0 && !w->dirs[d->digest.alg] && !(ret = oci_add_dir(w->a, name.data, e)))
		w->dirs[d->digest.alg] = 1;
	if (ret == 0 && buf_addstr(&name, digest_hex(&d->digest)) < 0)
		goto nomem;
	if (ret == 0)
		ret = ar_add_blob(w->a, w->src, d, name.data, e);
	goto out;
nomem:
	ret = err_set(e, ERR_NOMEM, "out of memory");
out:
	manifest_release(&m);
	buf_release(&name);
	return ret;
}

/* index.json naming imgs[0..n). */
static int oci_index_json(struct buf *out, const struct pull_result *imgs, size_t n,
			  struct err *e)
{
	struct json *idx = json_new_object(), *ms = json_new_array(), *j, *a;
	size_t i;
	int ret = ERR_NOMEM;

	if (!idx || !ms || json_set_int64(idx, "schemaVersion", 2) < 0 ||
	    json_set_str(idx, "mediaType", MT_OCI_INDEX) < 0)
		goto out;
	for (i = 0; i < n; i++) {
		if (!(j = descriptor_to_json(&imgs[i].desc)) || json_append(ms, j) < 0)
			goto out;
		if (!(a = json_get(j, "annotations")) &&
		    (json_set(j, "annotations", json_new_object()) < 0 ||
		     !(a = json_get(j, "annotations"))))
			goto out;
		if (json_set_str(a, ANNOT_REF_NAME, imgs[i].name) < 0)
			goto out;
	}
	ret = json_set(idx, "manifests", ms) < 0 ? ERR_NOMEM : 0;
	ms = NULL;
	if (ret == 0)
		ret = json_serialize(out, idx, 0, e);
out:
	if (ret == ERR_NOMEM)
		err_set(e, ERR_NOMEM, "out of memory");
	json_free(idx);
	json_free(ms);
	return ret;
}

int tarball_write_oci(const char *path, struct layout *src,
			    const struct pull_result *imgs, size_t n, struct err *e)
{
	static const char layout_doc[] = "{\"imageLayoutVersion\":\"1.0.0\"}";
	struct out_tar o;
	struct oci_out w;
	struct buf doc = BUF_INIT;
	size_t i;
	int ret;

	memset(&w, 0, sizeof(w));
	strvec_init(&w.seen);
	w.src = src;
	if ((ret = out_tar_begin(&o, path, e)) < 0 ||
	    (ret = oci_index_json(&doc, imgs, n, e)) < 0 ||
	    (ret = ar_add_mem(o.a, "oci-layout", layout_doc, sizeof(layout_doc) - 1, e)) < 0 ||
	    (ret = ar_add_mem(o.a, "index.json", doc.data, doc.len, e)) < 0 ||
	    (ret = oci_add_dir(o.a, "blobs/", e)) < 0)
		goto out;
	w.a = o.a;
	for (i = 0; i < n; i++)
		if ((ret = oci_add_blob(&w, &imgs[i].desc, 0, e)) < 0)
			goto out;
	ret = out_tar_commit(&o, path, e);
out:
	out_tar_release(&o);
	strvec_clear(&w.seen);
	buf_release(&doc);
	return ret;
}

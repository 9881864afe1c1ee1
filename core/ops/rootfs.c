/* rootfs.c - what export and unpack share about an image's filesystem.
 * See rootfs.h. */
#include "core/ops/rootfs.h"

#include "cache/blob.h"
#include "cache/layout.h"
#include "core/base/buf.h"
#include "core/base/err.h"
#include "core/format/tar.h"
#include "core/model/manifest.h"

#include <stdlib.h>
#include <string.h>

/* ---- a hash set of paths ---------------------------------------------- */

static uint64_t paths_hash(const char *s, size_t len)
{
	uint64_t h = 1469598103934665603ull;	/* FNV-1a */
	size_t i;

	for (i = 0; i < len; i++) {
		h ^= (unsigned char)s[i];
		h *= 1099511628211ull;
	}
	return h;
}

void rootfs_paths_release(struct rootfs_paths *s)
{
	size_t i;

	for (i = 0; i < s->cap; i++)
		free(s->tab[i].path);
	free(s->tab);
	s->tab = NULL;
	s->cap = s->n = 0;
}

struct rootfs_path *rootfs_paths_find(struct rootfs_paths *s, const char *p, size_t len)
{
	size_t i;

	if (!s->cap)
		return NULL;
	i = paths_hash(p, len) & (s->cap - 1);
	while (s->tab[i].path) {
		if (strlen(s->tab[i].path) == len && !memcmp(s->tab[i].path, p, len))
			return &s->tab[i];
		i = (i + 1) & (s->cap - 1);
	}
	return NULL;
}

static int paths_grow(struct rootfs_paths *s)
{
	size_t ncap = s->cap ? s->cap * 2 : 1024, i, j;
	struct rootfs_path *nt = calloc(ncap, sizeof(*nt));

	if (!nt)
		return ERR_NOMEM;
	for (i = 0; i < s->cap; i++) {
		if (!s->tab[i].path)
			continue;
		j = paths_hash(s->tab[i].path, strlen(s->tab[i].path)) & (ncap - 1);
		while (nt[j].path)
			j = (j + 1) & (ncap - 1);
		nt[j] = s->tab[i];
	}
	free(s->tab);
	s->tab = nt;
	s->cap = ncap;
	return 0;
}

struct rootfs_path *rootfs_paths_get(struct rootfs_paths *s, const char *p, size_t len)
{
	struct rootfs_path *en = rootfs_paths_find(s, p, len);
	size_t i;

	if (en)
		return en;
	if ((s->n + 1) * 2 > s->cap && paths_grow(s) < 0)
		return NULL;
	i = paths_hash(p, len) & (s->cap - 1);
	while (s->tab[i].path)
		i = (i + 1) & (s->cap - 1);
	s->tab[i].path = strndup(p, len);
	if (!s->tab[i].path)
		return NULL;
	s->tab[i].kind = ROOTFS_NONE;
	s->tab[i].wh_layer = s->tab[i].opq_layer = s->tab[i].layer = -1;
	s->n++;
	return &s->tab[i];
}

/* ---- names -------------------------------------------------------------- */

int rootfs_path_clean(struct buf *out, const char *in, struct err *e)
{
	const char *p = in;

	buf_reset(out);
	while (*p) {
		const char *q = strchr(p, '/');
		size_t len = q ? (size_t)(q - p) : strlen(p);

		if (len == 0 || (len == 1 && p[0] == '.')) {
			/* nothing */
		} else if (len == 2 && p[0] == '.' && p[1] == '.') {
			char *slash;

			if (!out->len)
				return err_set(e, ERR_INVALID, "'%s' climbs out of the root", in);
			slash = strrchr(out->data, '/');
			buf_setlen(out, slash ? (size_t)(slash - out->data) : 0);
		} else {
			if (out->len)
				buf_addch(out, '/');
			buf_add(out, p, len);
		}
		p += len;
		if (*p == '/')
			p++;
	}
	if (buf_failed(out))
		return err_set(e, ERR_NOMEM, "out of memory");
	return 0;
}

const char *rootfs_base_name(const char *p)
{
	const char *s = strrchr(p, '/');

	return s ? s + 1 : p;
}

int rootfs_whiteout_ok(const char *bn)
{
	const char *name = bn + strlen(ROOTFS_WH_PREFIX);

	return !strcmp(bn, ROOTFS_WH_OPAQUE) ||
	       (*name && strcmp(name, ".") && strcmp(name, ".."));
}

/* ---- reading layers ----------------------------------------------------- */

int rootfs_layer_open(struct tar_reader **out, int *out_fd, struct layout *l,
		      const struct descriptor *d, struct err *e)
{
	struct tar_reader_opts o;
	int64_t size;
	int ret;

	*out_fd = -1;
	if (mediatype_classify(d->media_type) != MT_KIND_LAYER)
		return err_set(e, ERR_UNSUPPORTED, "media type '%s' is not a filesystem layer%s",
			       d->media_type, strstr(d->media_type, "+encrypted") ?
			       ": decrypt the image first (skopeo copy --decryption-key)" : "");
	if ((ret = blob_open(out_fd, &size, l, &d->digest, e)) < 0)
		return ret;
	memset(&o, 0, sizeof(o));
	o.fd = *out_fd;
	return tar_reader_new(out, &o, e);
}

int rootfs_layer_finish(struct tar_reader *r, const struct descriptor *d, struct err *e)
{
	struct tar_result res;
	int ret;

	if ((ret = tar_reader_finish(r, &res, e)) < 0)
		return ret;
	if (!digest_equal(&res.digest, &d->digest) || res.size != d->size)
		return err_set(e, ERR_DIGEST, "the cached blob does not match its digest");
	return 0;
}

int rootfs_image_check(const struct manifest *m, struct err *e)
{
	if (m->kind != MT_KIND_MANIFEST)
		return err_set(e, ERR_USAGE, "not an image manifest");
	if (!manifest_is_image(m))
		return err_set(e, ERR_UNSUPPORTED, "%s is an artifact (config media type '%s'), "
			       "not an image: it has no filesystem", m->digest.str,
			       m->config.media_type);
	return 0;
}

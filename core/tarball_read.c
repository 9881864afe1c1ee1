/* tarball_read.c - reading docker-save tarballs for `hoist push` (the
 * writer is core/tarball.c; the tar format itself is core/archive.h).
 * See image_tarball_import() in image.h.
 *
 * One pass over the tarball: every regular file becomes a blob of the
 * scratch layout (hashed as it is written, no second read), and
 * manifest.json is kept in memory; then the image's OCI manifest is built
 * from manifest.json's Config and Layers, naming those blobs.  Docker's own
 * tarballs hold uncompressed layers (`<id>/layer.tar`) and hoist's and
 * newer docker's hold compressed ones: the media type follows the bytes
 * (gzip and zstd magic numbers), so the pushed image is what the tarball
 * holds, unchanged.
 */
#include "core/image.h"

#include "cache/layout.h"
#include "core/archive.h"
#include "core/err.h"
#include "core/json.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define TARBALL_MANIFEST_MAX (4u << 20)
#define TARBALL_CHUNK (1u << 20)
#define TARBALL_MAX_MEMBERS 100000

struct member {
	char *path;
	char *link;		/* a link: the path it resolves to (no data) */
	struct digest digest;
	int64_t size;
	unsigned char magic[4];
};

struct members {
	struct member *v;
	size_t n;
};

static void members_release(struct members *m)
{
	size_t i;

	for (i = 0; i < m->n; i++) {
		free(m->v[i].path);
		free(m->v[i].link);
	}
	free(m->v);
}

/* Follows links (docker save links layers shared by images), 8 at most. */
static const struct member *members_find(const struct members *m, const char *path)
{
	size_t i;
	int hops;

	if (!strncmp(path, "./", 2))
		path += 2;
	for (hops = 0; hops < 8; hops++) {
		for (i = 0; i < m->n && strcmp(m->v[i].path, path); i++)
			;
		if (i == m->n)
			return NULL;
		if (!m->v[i].link)
			return &m->v[i];
		path = m->v[i].link;
	}
	return NULL;
}

/* The archive path a link at `path` to `target` names: hard links name an
 * entry; symbolic ones are relative to the link's folder ("../x/layer.tar"). */
static char *link_resolve(const char *path, const char *target, int symbolic)
{
	struct buf b = BUF_INIT;
	const char *slash = strrchr(path, '/'), *p;

	if (symbolic && target[0] != '/' && slash)
		buf_add(&b, path, (size_t)(slash - path + 1));
	buf_addstr(&b, target[0] == '/' ? target + 1 : target);
	if (buf_failed(&b))
		return NULL;
	/* fold "x/../" and "./" */
	for (;;) {
		char *d = strstr(b.data, "/../");
		if (!strncmp(b.data, "./", 2)) {
			memmove(b.data, b.data + 2, b.len - 1);
			b.len -= 2;
			continue;
		}
		if (!d)
			break;
		*d = '\0';
		p = strrchr(b.data, '/');
		p = p ? p + 1 : b.data;
		memmove((char *)p, d + 4, strlen(d + 4) + 1);
		b.len = strlen(b.data);
	}
	return buf_detach(&b, NULL);
}

/* Streams the current entry into a blob of `l`; fills `mem`. */
static int member_store(struct member *mem, struct tar_reader *r, struct layout *l, char *chunk,
			struct buf *keep, struct err *e)
{
	struct blob_writer *w = NULL;
	int64_t total = 0;
	ssize_t got;
	int ret;

	if ((ret = layout_blob_begin(&w, l, NULL, -1, e)) < 0)
		return ret;
	while ((got = tar_reader_read(r, chunk, TARBALL_CHUNK, e)) > 0) {
		if (total < 4)
			memcpy(mem->magic + total, chunk,
			       (size_t)(got < 4 - total ? got : 4 - total));
		if (keep && buf_add(keep, chunk, (size_t)got) < 0) {
			ret = err_set(e, ERR_TOO_BIG, "manifest.json is larger than %u bytes",
				      TARBALL_MANIFEST_MAX);
			goto out;
		}
		if ((ret = blob_writer_write(w, chunk, (size_t)got, e)) < 0)
			goto out;
		total += got;
	}
	if (got < 0) {
		ret = (int)got;
		goto out;
	}
	ret = blob_writer_commit(&mem->digest, &mem->size, w, e);
	w = NULL;
out:
	blob_writer_abort(w);
	return ret;
}

static const char *layer_type(const struct member *m)
{
	if (m->size >= 2 && m->magic[0] == 0x1f && m->magic[1] == 0x8b)
		return MT_OCI_LAYER_GZIP;
	if (m->size >= 4 && m->magic[0] == 0x28 && m->magic[1] == 0xb5 && m->magic[2] == 0x2f &&
	    m->magic[3] == 0xfd)
		return MT_OCI_LAYER_ZSTD;
	return MT_OCI_LAYER;
}

static struct json *desc_json(const char *mt, const struct member *m)
{
	struct json *o = json_new_object();

	if (o && (json_set_str(o, "mediaType", mt) < 0 ||
		  json_set_str(o, "digest", m->digest.str) < 0 ||
		  json_set_int64(o, "size", m->size) < 0)) {
		json_free(o);
		o = NULL;
	}
	return o;
}

/* The OCI manifest of manifest.json's image `img`, stored in `l`. */
static int build_manifest(struct descriptor *out, struct layout *l, const struct members *ms,
			  const struct json *img, struct err *e)
{
	struct json *man = json_new_object(), *layers = json_new_array(), *j;
	const struct json *lj = json_get(img, "Layers");
	const char *cfg = json_get_str(img, "Config");
	const struct member *m;
	struct buf raw = BUF_INIT;
	size_t i;
	int ret = ERR_NOMEM;

	if (!man || !layers)
		goto nomem;
	if (!cfg || !(m = members_find(ms, cfg))) {
		ret = err_set(e, ERR_INVALID, "manifest.json names config '%s', which the tarball "
			      "lacks", cfg ? cfg : "(none)");
		goto out;
	}
	if (json_set_int64(man, "schemaVersion", 2) < 0 ||
	    json_set_str(man, "mediaType", MT_OCI_MANIFEST) < 0 ||
	    !(j = desc_json(MT_OCI_CONFIG, m)) || json_set(man, "config", j) < 0)
		goto nomem;
	for (i = 0; i < json_array_len(lj); i++) {
		const char *p = json_str(json_array_get(lj, i));
		if (!p || !(m = members_find(ms, p))) {
			ret = err_set(e, ERR_INVALID, "manifest.json names layer '%s', which the "
				      "tarball lacks", p ? p : "(not a string)");
			goto out;
		}
		if (!(j = desc_json(layer_type(m), m)) || json_append(layers, j) < 0)
			goto nomem;
	}
	if (json_set(man, "layers", layers) < 0)
		goto nomem;
	layers = NULL;
	if ((ret = json_serialize(&raw, man, 0, e)) < 0)
		goto out;
	descriptor_init(out);
	out->media_type = strdup(MT_OCI_MANIFEST);
	out->size = (int64_t)raw.len;
	if (!out->media_type)
		goto nomem;
	ret = layout_blob_put(&out->digest, l, raw.data, raw.len, NULL, e);
	goto out;
nomem:
	ret = err_set(e, ERR_NOMEM, "out of memory");
out:
	json_free(man);
	json_free(layers);
	buf_release(&raw);
	return ret;
}

int image_tarball_import(struct layout *dst, const char *path, const char *ref_name,
			 struct err *e)
{
	struct tar_reader_opts o;
	struct tar_reader *r = NULL;
	struct tar_header h;
	struct members ms = { NULL, 0 };
	struct buf mj = BUF_INIT;
	struct json *root = NULL;
	struct descriptor d;
	char *chunk = malloc(TARBALL_CHUNK);
	int fd = open(path, O_RDONLY | O_CLOEXEC), ret, rc, seen_manifest = 0;

	descriptor_init(&d);
	buf_init(&mj, TARBALL_MANIFEST_MAX);
	if (fd < 0) {
		ret = err_set_errno(e, ERR_IO, errno, "cannot open '%s'", path);
		goto out;
	}
	if (!chunk) {
		ret = err_set(e, ERR_NOMEM, "out of memory");
		goto out;
	}
	memset(&o, 0, sizeof(o));
	o.fd = fd;
	if ((ret = tar_reader_new(&r, &o, e)) < 0)
		goto out;
	while ((rc = tar_reader_next(r, &h, e)) == 1) {
		const char *p = h.path;
		struct member *nv;
		int is_manifest;

		if (h.type != TAR_FILE && !((h.type == TAR_SYMLINK || h.type == TAR_HARDLINK) &&
					    h.link))
			continue;
		if (!strncmp(p, "./", 2))
			p += 2;
		if (ms.n >= TARBALL_MAX_MEMBERS) {
			ret = err_set(e, ERR_TOO_BIG, "'%s' holds more than %d files", path,
				      TARBALL_MAX_MEMBERS);
			goto out;
		}
		nv = realloc(ms.v, (ms.n + 1) * sizeof(*nv));
		if (!nv) {
			ret = err_set(e, ERR_NOMEM, "out of memory");
			goto out;
		}
		ms.v = nv;
		memset(&nv[ms.n], 0, sizeof(*nv));
		if (!(nv[ms.n].path = strdup(p))) {
			ret = err_set(e, ERR_NOMEM, "out of memory");
			goto out;
		}
		is_manifest = !strcmp(p, "manifest.json");
		ms.n++;
		if (h.type != TAR_FILE) {
			if (!(nv[ms.n - 1].link = link_resolve(p, h.link, h.type == TAR_SYMLINK))) {
				ret = err_set(e, ERR_NOMEM, "out of memory");
				goto out;
			}
			continue;
		}
		if ((ret = member_store(&nv[ms.n - 1], r, dst, chunk, is_manifest ? &mj : NULL,
					e)) < 0) {
			err_prefix(e, "'%s' in '%s'", p, path);
			goto out;
		}
		seen_manifest |= is_manifest;
	}
	if (rc < 0) {
		ret = err_prefix(e, "cannot read '%s'", path);
		goto out;
	}
	if (!seen_manifest) {
		ret = err_set(e, ERR_INVALID, "'%s' is not a docker-save tarball: it has no "
			      "manifest.json", path);
		goto out;
	}
	if ((ret = json_parse(&root, mj.data, mj.len, e)) < 0) {
		err_prefix(e, "manifest.json of '%s'", path);
		goto out;
	}
	if (json_array_len(root) != 1) {
		ret = err_set(e, json_array_len(root) ? ERR_UNSUPPORTED : ERR_INVALID,
			      "the tarball holds %zu images%s", json_array_len(root),
			      json_array_len(root) ? "; name one with FILE:REPO:TAG or FILE:@N" : "");
		goto out;
	}
	if ((ret = build_manifest(&d, dst, &ms, json_array_get(root, 0), e)) < 0)
		goto out;
	ret = layout_index_set(dst, ref_name, &d, e);
out:
	if (fd >= 0)
		close(fd);
	tar_reader_free(r);
	members_release(&ms);
	json_free(root);
	buf_release(&mj);
	descriptor_release(&d);
	free(chunk);
	return ret;
}

/* import.c - reading image archives into a layout: docker-save
 * tarballs and OCI archives (a tar of an OCI image layout, as `podman save
 * --format oci-archive` and skopeo's oci-archive: write).  The writer is

 *
 * The format is told by the content: manifest.json makes a docker-save
 * tarball (docker 25's, which holds an OCI layout as well, included), else
 * index.json an OCI archive.  Both name their files in a document that may
 * come last (skopeo writes index.json after the blobs), so:
 *
 * - A regular file holding an uncompressed tar is read twice.  The first
 *   pass reads the headers, the documents and the members that look like
 *   JSON (manifests and configs, up to 4 MiB), and skips the data of the
 *   others with lseek; the second stores only the members the chosen
 *   images need, and skips the rest.  An archive of ten images costs the
 *   disk space of the one pushed, and a skipped member costs no read.
 * - A pipe, or a compressed archive, is read once, every member stored:
 *   a second pass would need the input again, or decompress it again.
 *
 * Either way a member is hashed while it is written (no second read), one
 * at blobs/<alg>/<hex> must hash to that name, and a member must hold
 * exactly the bytes its tar header says.  A sparse member (GNU tar
 * --sparse), whose holes expand to whatever its header claims (a 10 KiB
 * archive can say 10 GiB), is refused before anything is written: no image
 * tool writes one.
 *
 * A docker-save image becomes an OCI manifest built from manifest.json's
 * Config and Layers, naming those blobs.  Docker's own tarballs hold
 * uncompressed layers (`<id>/layer.tar`) and hoist's and newer docker's
 * compressed ones: the media type follows the bytes (gzip and zstd magic
 * numbers), so the pushed image is what the tarball holds, unchanged.  An
 * OCI archive's manifests are kept byte for byte, digests and all.
 */
#include "core/ops/import.h"

#include "cache/blob.h"
#include "cache/layout.h"
#include "core/format/tar.h"
#include "core/base/err.h"
#include "core/base/json.h"
#include "core/model/ref.h"
#include "core/ops/local.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define ARCHIVE_DOC_MAX (4u << 20)
#define ARCHIVE_CHUNK (1u << 20)
#define ARCHIVE_MAX_MEMBERS 100000
#define ARCHIVE_NAMES_SHOWN 10
#define ARCHIVE_INDEX_DEPTH 8

enum doc { DOC_MANIFEST, DOC_INDEX, DOC_LAYOUT, DOC_N };
static const char *const doc_names[DOC_N] = { "manifest.json", "index.json", "oci-layout" };

struct member {
	char *path;
	char *link;		/* a link: the path it resolves to (no data) */
	struct digest digest;	/* once stored */
	int64_t size;
	unsigned char magic[4];
	unsigned stored : 1;	/* a blob of the layout */
	unsigned want : 1;	/* needed, not stored yet: for the second pass */
	unsigned walked : 1;	/* a manifest whose children are marked */
};

struct import {
	struct layout *dst;
	int fd;
	off_t start;		/* where the archive starts in fd */
	int seekable;		/* fd is a regular file */
	int two_pass;		/* the first pass stores documents and JSON only */
	int second;		/* the pass running is the second */
	struct member *v;
	size_t n;
	struct buf docs[DOC_N];
	int seen[DOC_N];
	char *chunk;
};

static void import_release(struct import *im)
{
	size_t i;

	for (i = 0; i < im->n; i++) {
		free(im->v[i].path);
		free(im->v[i].link);
	}
	free(im->v);
	for (i = 0; i < DOC_N; i++)
		buf_release(&im->docs[i]);
	free(im->chunk);
}

/* Follows links (docker save links layers shared by images), 8 at most. */
static struct member *members_find(struct import *im, const char *path)
{
	size_t i;
	int hops;

	if (!strncmp(path, "./", 2))
		path += 2;
	for (hops = 0; hops < 8; hops++) {
		for (i = 0; i < im->n && strcmp(im->v[i].path, path); i++)
			;
		if (i == im->n)
			return NULL;
		if (!im->v[i].link)
			return &im->v[i];
		path = im->v[i].link;
	}
	return NULL;
}

/* The member blobs/<alg>/<hex> of an OCI layout. */
static struct member *blob_find(struct import *im, const struct digest *d)
{
	char path[DIGEST_STR_MAX + 8];

	snprintf(path, sizeof(path), "blobs/%s/%s", digest_alg_name(d->alg), digest_hex(d));
	return members_find(im, path);
}

/* 1 with *out filled when `path` is blobs/<alg>/<hex>. */
static int blob_path_digest(struct digest *out, const char *path)
{
	const char *alg, *hex;
	struct buf s = BUF_INIT;
	int ok;

	if (strncmp(path, "blobs/", 6))
		return 0;
	alg = path + 6;
	hex = strchr(alg, '/');
	if (!hex || strchr(hex + 1, '/'))
		return 0;
	buf_add(&s, alg, (size_t)(hex - alg));
	buf_addf(&s, ":%s", hex + 1);
	ok = !buf_failed(&s) && digest_parse(out, s.data, NULL) == 0;
	buf_release(&s);
	return ok;
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

/* What looks like a JSON document (a manifest, a config) from its first
 * bytes; layers start with a compression magic or a file name. */
static int looks_json(const char *p, size_t n)
{
	return n > 0 && strchr("{ \t\r\n", p[0]);
}

/* Reads the current entry's data, checked against the header's size:
 * returns the count, 0 at its end (all `m->size` bytes given), or a
 * negative err code. */
static ssize_t member_read(struct import *im, struct member *m, struct tar_reader *r,
			   int64_t done, struct err *e)
{
	ssize_t got = tar_reader_read(r, im->chunk, ARCHIVE_CHUNK, e);

	if (got < 0)
		return got;
	if (got > m->size - done)
		return err_set(e, ERR_INVALID, "'%s' holds more than the %lld bytes its tar "
			       "header says: the archive is corrupt", m->path, (long long)m->size);
	if (got == 0 && done != m->size)
		return err_set(e, ERR_INVALID, "'%s' holds %lld bytes where its tar header says "
			       "%lld: the archive is corrupt", m->path, (long long)done,
			       (long long)m->size);
	return got;
}

/* Streams the current entry into a blob of the layout; with `json_only`,
 * only when it looks like a JSON document of at most ARCHIVE_DOC_MAX bytes
 * (else it is left unread and not stored). */
static int member_store(struct import *im, struct member *m, struct tar_reader *r,
			int json_only, struct err *e)
{
	struct blob_writer *w = NULL;
	struct digest name;
	int64_t total = 0;
	ssize_t got;
	int ret = 0, named = blob_path_digest(&name, m->path);

	if (json_only && m->size > (int64_t)ARCHIVE_DOC_MAX)
		return 0;
	do {
		if ((got = member_read(im, m, r, total, e)) < 0)
			break;
		if (!w && json_only && !looks_json(im->chunk, (size_t)got))
			return 0;
		if (!w && (ret = blob_begin(&w, im->dst, named ? &name : NULL, m->size,
						   e)) < 0)
			goto out;
		if (total < 4)
			memcpy(m->magic + total, im->chunk,
			       (size_t)(got < 4 - total ? got : 4 - total));
		if (got && (ret = blob_writer_write(w, im->chunk, (size_t)got, e)) < 0)
			goto out;
		total += got;
	} while (got > 0);
	if (got < 0) {
		blob_writer_abort(w);
		return (int)got;	/* the message names the member */
	}
	ret = blob_writer_commit(&m->digest, NULL, w, e);
	w = NULL;
	if (ret == 0) {
		m->stored = 1;
		m->want = 0;
	}
out:
	blob_writer_abort(w);
	if (ret < 0 && ret != ERR_NOMEM)
		err_prefix(e, "'%s'", m->path);
	return ret;
}

/* Keeps the document `which` (manifest.json, index.json) in memory. */
static int doc_read(struct import *im, struct member *m, enum doc which, struct tar_reader *r,
		    struct err *e)
{
	int64_t total = 0;
	ssize_t got;

	if (m->size > (int64_t)ARCHIVE_DOC_MAX)
		return err_set(e, ERR_TOO_BIG, "%s is larger than %u bytes", doc_names[which],
			       ARCHIVE_DOC_MAX);
	buf_reset(&im->docs[which]);
	while ((got = member_read(im, m, r, total, e)) > 0) {
		if (buf_add(&im->docs[which], im->chunk, (size_t)got) < 0)
			return err_set(e, ERR_NOMEM, "out of memory");
		total += got;
	}
	im->seen[which] = 1;
	return got < 0 ? (int)got : 0;
}

/* The first pass records a file or link entry as a member. */
static int member_add(struct import *im, const struct tar_header *h, const char *path,
		      struct err *e)
{
	struct member *nv, *m;

	if (im->n >= ARCHIVE_MAX_MEMBERS)
		return err_set(e, ERR_TOO_BIG, "it holds more than %d files",
			       ARCHIVE_MAX_MEMBERS);
	nv = realloc(im->v, (im->n + 1) * sizeof(*nv));
	if (!nv)
		return err_set(e, ERR_NOMEM, "out of memory");
	im->v = nv;
	m = &nv[im->n];
	memset(m, 0, sizeof(*m));
	m->size = h->size;
	m->path = strdup(path);
	if (m->path && h->type != TAR_FILE)
		m->link = link_resolve(path, h->link, h->type == TAR_SYMLINK);
	im->n++;
	if (!m->path || (h->type != TAR_FILE && !m->link))
		return err_set(e, ERR_NOMEM, "out of memory");
	return 0;
}

/* One entry of a pass: member `i` (the entries a pass looks at come in the
 * same order both times). */
static int import_entry(struct import *im, struct tar_reader *r, const struct tar_header *h,
			const char *path, size_t i, struct err *e)
{
	struct member *m;
	size_t d;
	int ret;

	if (!im->second && (ret = member_add(im, h, path, e)) < 0)
		return ret;
	if (i >= im->n || strcmp(im->v[i].path, path))
		return err_set(e, ERR_IO, "it changed while it was read");
	m = &im->v[i];
	if (m->link || (im->second && !m->want))
		return 0;
	if (h->stored < h->size)
		return err_set(e, ERR_INVALID, "'%s' is a sparse file of %lld bytes with only "
			       "%lld stored: image archives hold whole files; make the archive "
			       "again without tar's --sparse", path, (long long)h->size,
			       (long long)h->stored);
	for (d = 0; !im->second && d < DOC_N; d++)
		if (!strcmp(path, doc_names[d]))
			return doc_read(im, m, (enum doc)d, r, e);
	return member_store(im, m, r, !im->second && im->two_pass, e);
}

/* Reads the archive once: the first pass records every member; the second
 * stores those marked `want`. */
static int import_pass(struct import *im, struct err *e)
{
	struct tar_reader_opts o;
	struct tar_reader *r = NULL;
	struct tar_header h;
	size_t i = 0;
	int ret, rc;

	if (im->seekable && lseek(im->fd, im->start, SEEK_SET) < 0)
		return err_set_errno(e, ERR_IO, errno, "cannot seek");
	memset(&o, 0, sizeof(o));
	o.fd = im->fd;
	o.seek = im->seekable;
	if ((ret = tar_reader_new(&r, &o, e)) < 0)
		return ret;
	while ((rc = tar_reader_next(r, &h, e)) == 1) {
		const char *p = h.path;

		if (!im->second && i == 0 && !im->n)
			im->two_pass = im->seekable &&
				       tar_reader_compression(r) == TAR_COMPRESS_NONE;
		if (h.type != TAR_FILE && !((h.type == TAR_SYMLINK || h.type == TAR_HARDLINK) &&
					    h.link))
			continue;
		if (!strncmp(p, "./", 2))
			p += 2;
		if ((ret = import_entry(im, r, &h, p, i++, e)) < 0)
			goto out;
	}
	ret = rc < 0 ? rc : 0;
	if (ret == 0 && im->second && i != im->n)
		ret = err_set(e, ERR_IO, "it changed while it was read");
out:
	tar_reader_free(r);
	return ret;
}

/* Reads the archive again for the members marked `want`, when the first
 * pass skipped some; then every needed member must be stored. */
static int import_second_pass(struct import *im, struct err *e)
{
	size_t i;
	int ret;

	for (i = 0; i < im->n && !im->v[i].want; i++)
		;
	if (i == im->n)
		return 0;
	if (im->two_pass) {
		im->second = 1;
		if ((ret = import_pass(im, e)) < 0)
			return ret;
	}
	for (i = 0; i < im->n; i++)
		if (im->v[i].want)
			return err_set(e, ERR_IO, "it changed while it was read: '%s' is "
				       "missing", im->v[i].path);
	return 0;
}

/* Marks member `m` as needed; `what` names it in the error when absent. */
static int member_want(struct import *im, struct member *m, const char *what, struct err *e)
{
	if (!m)
		return err_set(e, ERR_INVALID, "it lacks %s", what);
	if (!m->stored)
		m->want = 1;
	return 0;
}

/* ---- choosing images ---- */

/* "@N": 1 with *out = N. */
static int sel_position(size_t *out, const char *sel)
{
	char *end;
	unsigned long v;

	if (!sel || sel[0] != '@' || sel[1] < '0' || sel[1] > '9')
		return 0;
	errno = 0;
	v = strtoul(sel + 1, &end, 10);
	if (*end || errno)
		return 0;
	*out = (size_t)v;
	return 1;
}

/* Whether `name` (a RepoTags entry, a ref name) is what `sel` asks for:
 * the same string, or the same reference once both are made complete
 * ("busybox:1" is docker.io/library/busybox:1). */
static int sel_match(const char *sel, const char *name)
{
	struct ref a = REF_INIT, b = REF_INIT;
	struct buf fa = BUF_INIT, fb = BUF_INIT;
	int same;

	if (!name)
		return 0;
	if (!strcmp(sel, name))
		return 1;
	same = ref_parse(&a, sel, 0, NULL) == 0 && ref_parse(&b, name, 0, NULL) == 0 &&
	       ref_format(&fa, &a) == 0 && ref_format(&fb, &b) == 0 && !strcmp(fa.data, fb.data);
	ref_release(&a);
	ref_release(&b);
	buf_release(&fa);
	buf_release(&fb);
	return same;
}

/* Picks the images to read among `n`, whose names `name(i)` gives (NULL
 * for none) and whose digests `same(i)` compares with the first's (1:
 * the same image under another name): `sel` by name or position, else
 * the only one, or every one with IMPORT_ALL.  Fills picked[0..*np). */
static int archive_pick(size_t *picked, size_t *np, struct import *im, size_t n,
			const char *(*name)(void *, size_t), int (*same)(void *, size_t),
			void *arg, const char *sel, unsigned flags, struct err *e)
{
	struct buf names = BUF_INIT;
	size_t i, pos;
	int ret;

	*np = 0;
	if (n == 0)
		return err_set(e, ERR_INVALID, "it holds no image");
	if (!sel && (flags & IMPORT_ALL)) {
		for (i = 0; i < n; i++)
			picked[(*np)++] = i;
		return 0;
	}
	for (i = 1; !sel && i < n && same(arg, i); i++)
		;
	if (!sel && i == n) {
		picked[(*np)++] = 0;
		return 0;
	}
	if (sel && sel_position(&pos, sel) && pos < n) {
		picked[(*np)++] = pos;
		return 0;
	}
	for (i = 0; sel && i < n; i++) {
		if (sel_match(sel, name(arg, i))) {
			picked[(*np)++] = i;
			return 0;
		}
	}
	for (i = 0; i < n && i < ARCHIVE_NAMES_SHOWN; i++)
		buf_addf(&names, "%s'%s'", i ? ", " : "", name(arg, i) ? name(arg, i) : "(unnamed)");
	if (n > ARCHIVE_NAMES_SHOWN)
		buf_addstr(&names, ", ...");
	if (!sel)
		ret = err_set(e, ERR_USAGE, "it holds %zu images (%s): choose one by name, or by "
			      "position from @0 to @%zu", n, names.data, n - 1);
	else
		ret = err_set(e, ERR_NOT_FOUND, "it has no image '%s', only %s%s", sel, names.data, sel_position(&pos, sel) ? "" :
			      " (or choose by position, @0 for the first)");
	buf_release(&names);
	return ret;
}

/* Names the images read in the layout: one as `ref_name`, or all under
 * their own names (`entries`, an array of descriptors as index.json holds
 * them, replacing what the layout's index.json held). */
static int set_entries(struct json *index, void *arg, struct err *e)
{
	struct json *copy = json_copy(arg);

	if (!copy || json_set(index, "manifests", copy) < 0)
		return err_set(e, ERR_NOMEM, "out of memory");
	return 0;
}

/* ---- docker save ---- */

static const char *docker_name(void *arg, size_t i)
{
	return json_str(json_array_get(json_get(json_array_get(arg, i), "RepoTags"), 0));
}

static int docker_same(void *arg, size_t i)
{
	(void)arg;
	(void)i;
	return 0;
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

/* Marks the files manifest.json's image `img` names as needed. */
static int docker_want(struct import *im, const struct json *img, struct err *e)
{
	const struct json *lj = json_get(img, "Layers");
	const char *cfg = json_get_str(img, "Config");
	struct buf what = BUF_INIT;
	size_t i;
	int ret;

	buf_addf(&what, "the config '%s' that manifest.json names", cfg ? cfg : "(none)");
	ret = member_want(im, cfg ? members_find(im, cfg) : NULL, what.data, e);
	for (i = 0; ret == 0 && i < json_array_len(lj); i++) {
		const char *p = json_str(json_array_get(lj, i));

		buf_reset(&what);
		buf_addf(&what, "the layer '%s' that manifest.json names", p ? p : "(not a string)");
		ret = member_want(im, p ? members_find(im, p) : NULL, what.data, e);
	}
	if (ret == 0 && buf_failed(&what))
		ret = err_set(e, ERR_NOMEM, "out of memory");
	buf_release(&what);
	return ret;
}

/* The OCI manifest of manifest.json's image `img`, stored in the layout. */
static int build_manifest(struct descriptor *out, struct import *im, const struct json *img,
			  struct err *e)
{
	struct json *man = json_new_object(), *layers = json_new_array(), *j;
	const struct json *lj = json_get(img, "Layers");
	const struct member *m = members_find(im, json_get_str(img, "Config"));
	struct buf raw = BUF_INIT;
	size_t i;
	int ret = ERR_NOMEM;

	descriptor_init(out);
	if (!man || !layers || json_set_int64(man, "schemaVersion", 2) < 0 ||
	    json_set_str(man, "mediaType", MT_OCI_MANIFEST) < 0 ||
	    !(j = desc_json(MT_OCI_CONFIG, m)) || json_set(man, "config", j) < 0)
		goto nomem;
	for (i = 0; i < json_array_len(lj); i++) {
		m = members_find(im, json_str(json_array_get(lj, i)));
		if (!(j = desc_json(layer_type(m), m)) || json_append(layers, j) < 0)
			goto nomem;
	}
	if (json_set(man, "layers", layers) < 0)
		goto nomem;
	layers = NULL;
	if ((ret = json_serialize(&raw, man, 0, e)) < 0)
		goto out;
	out->media_type = strdup(MT_OCI_MANIFEST);
	out->size = (int64_t)raw.len;
	if (!out->media_type)
		goto nomem;
	ret = blob_put(&out->digest, im->dst, raw.data, raw.len, NULL, e);
	goto out;
nomem:
	ret = err_set(e, ERR_NOMEM, "out of memory");
out:
	json_free(man);
	json_free(layers);
	buf_release(&raw);
	return ret;
}

/* Adds docker image `img` to `entries` (named by its first RepoTags). */
static int docker_entry(struct json *entries, struct import *im, const struct json *img,
			struct err *e)
{
	struct descriptor d;
	struct json *j = NULL, *a;
	const char *name = json_str(json_array_get(json_get(img, "RepoTags"), 0));
	int ret;

	if ((ret = build_manifest(&d, im, img, e)) < 0)
		goto out;
	ret = err_set(e, ERR_NOMEM, "out of memory");
	if (!(j = descriptor_to_json(&d)))
		goto out;
	if (name && (!(a = json_new_object()) || json_set(j, "annotations", a) < 0 ||
		     json_set_str(a, ANNOT_REF_NAME, name) < 0))
		goto out;
	ret = json_append(entries, j) < 0 ? ERR_NOMEM : 0;
	j = NULL;
	if (ret < 0)
		err_set(e, ERR_NOMEM, "out of memory");
out:
	json_free(j);
	descriptor_release(&d);
	return ret;
}

/* Reads what the chosen images need and names them in the layout. */
static int docker_import(struct import *im, const struct json *root, const char *sel,
			 const char *ref_name, unsigned flags, struct err *e)
{
	size_t n = json_array_len(root), np = 0, i, *picked = calloc(n ? n : 1, sizeof(*picked));
	struct json *entries = json_new_array();
	int ret = 0;

	if (!picked || !entries) {
		ret = err_set(e, ERR_NOMEM, "out of memory");
		goto out;
	}
	if (json_kind_of(root) != JSON_ARRAY)
		ret = err_set(e, ERR_INVALID, "manifest.json is not a list of images");
	if (ret == 0)
		ret = archive_pick(picked, &np, im, n, docker_name, docker_same, (void *)root,
				   sel, flags, e);
	for (i = 0; ret == 0 && i < np; i++)
		ret = docker_want(im, json_array_get(root, picked[i]), e);
	if (ret == 0)
		ret = import_second_pass(im, e);
	for (i = 0; ret == 0 && i < np; i++)
		ret = docker_entry(entries, im, json_array_get(root, picked[i]), e);
	if (ret < 0)
		goto out;
	if (np == 1 && !(flags & IMPORT_ALL && !sel)) {
		struct descriptor d;

		descriptor_init(&d);
		ret = descriptor_from_json(&d, json_array_get(entries, 0), "manifest", e);
		if (ret == 0)
			ret = layout_index_set(im->dst, ref_name, &d, e);
		descriptor_release(&d);
	} else {
		ret = layout_index_update(im->dst, set_entries, entries, e);
	}
out:
	json_free(entries);
	free(picked);
	return ret;
}

/* ---- OCI layout ---- */

static const char *oci_name(void *arg, size_t i)
{
	const struct json *a = json_get(json_array_get(json_get(arg, "manifests"), i),
					"annotations");

	return json_get_str(a, ANNOT_REF_NAME);
}

static int oci_same(void *arg, size_t i)
{
	const struct json *m = json_get(arg, "manifests");
	const char *a = json_get_str(json_array_get(m, 0), "digest");
	const char *b = json_get_str(json_array_get(m, i), "digest");

	return a && b && !strcmp(a, b);
}

/* Marks blob `d` as needed, and what it names when it is a manifest or an
 * index (read from the layout: the first pass stored it as JSON). */
static int oci_want(struct import *im, const struct descriptor *d, int depth, struct err *e)
{
	struct member *m = blob_find(im, &d->digest);
	enum mt_kind kind = mediatype_classify(d->media_type);
	struct manifest man;
	struct buf what = BUF_INIT;
	size_t i;
	int ret;

	buf_addf(&what, "blob %s", d->digest.str);
	ret = member_want(im, m, buf_failed(&what) ? "a blob" : what.data, e);
	buf_release(&what);
	if (ret < 0 || (kind != MT_KIND_MANIFEST && kind != MT_KIND_INDEX) || m->walked)
		return ret;
	m->walked = 1;
	if (depth >= ARCHIVE_INDEX_DEPTH)
		return err_set(e, ERR_UNSUPPORTED, "it nests indexes deeper than %d",
			       ARCHIVE_INDEX_DEPTH);
	if (!m->stored)
		return err_set(e, ERR_INVALID, "manifest %s is not a JSON document of at most "
			       "%u bytes", d->digest.str, ARCHIVE_DOC_MAX);
	if ((ret = local_manifest_load(&man, im->dst, d, 1, e)) < 0)
		return ret;
	if (man.kind == MT_KIND_MANIFEST)
		ret = oci_want(im, &man.config, depth + 1, e);
	for (i = 0; ret == 0 && i < man.n_layers; i++)
		ret = oci_want(im, &man.layers[i], depth + 1, e);
	for (i = 0; ret == 0 && i < man.n_manifests; i++)
		ret = oci_want(im, &man.manifests[i], depth + 1, e);
	manifest_release(&man);
	return ret;
}

/* The image layout version in oci-layout, when there is one, must be 1.x. */
static int oci_check_layout(struct import *im, struct err *e)
{
	struct json *j = NULL;
	const char *v;
	int ret = 0;

	if (!im->seen[DOC_LAYOUT])
		return 0;
	if (json_parse(&j, im->docs[DOC_LAYOUT].data, im->docs[DOC_LAYOUT].len, e) < 0)
		return err_prefix(e, "oci-layout");
	v = json_get_str(j, "imageLayoutVersion");
	if (!v || strncmp(v, "1.", 2))
		ret = err_set(e, ERR_UNSUPPORTED, "it is an OCI layout of version '%s': hoist "
			      "reads 1.x", v ? v : "(none)");
	json_free(j);
	return ret;
}

/* Reads what the chosen entries of index.json need and names them. */
static int oci_import(struct import *im, struct json *root, const char *sel,
		      const char *ref_name, unsigned flags, struct err *e)
{
	const struct json *ms = json_get(root, "manifests");
	size_t n = json_array_len(ms), np = 0, i, *picked = calloc(n ? n : 1, sizeof(*picked));
	struct descriptor *ds = calloc(n ? n : 1, sizeof(*ds));
	int ret = picked && ds ? oci_check_layout(im, e) : err_set(e, ERR_NOMEM, "out of memory");

	for (i = 0; ds && i < n; i++)
		descriptor_init(&ds[i]);
	if (ret == 0)
		ret = archive_pick(picked, &np, im, n, oci_name, oci_same, root, sel, flags, e);
	for (i = 0; ret == 0 && i < np; i++) {
		ret = descriptor_from_json(&ds[i], json_array_get(ms, picked[i]), "index.json", e);
		if (ret == 0)
			ret = oci_want(im, &ds[i], 0, e);
	}
	if (ret == 0)
		ret = import_second_pass(im, e);
	if (ret < 0)
		goto out;
	if (np == 1 && !(flags & IMPORT_ALL && !sel))
		ret = layout_index_set(im->dst, ref_name, &ds[0], e);
	else
		ret = layout_index_update(im->dst, set_entries, (void *)ms, e);
out:
	for (i = 0; ds && i < n; i++)
		descriptor_release(&ds[i]);
	free(ds);
	free(picked);
	return ret;
}

int import_archive(struct layout *dst, int fd, const char *sel, const char *ref_name,
			 unsigned flags, struct err *e)
{
	struct import im;
	struct json *root = NULL;
	struct stat st;
	enum doc d;
	int ret, i;

	memset(&im, 0, sizeof(im));
	for (i = 0; i < DOC_N; i++)
		buf_init(&im.docs[i], ARCHIVE_DOC_MAX);
	im.dst = dst;
	im.fd = fd;
	im.seekable = fstat(fd, &st) == 0 && S_ISREG(st.st_mode) &&
		      (im.start = lseek(fd, 0, SEEK_CUR)) >= 0;
	if (!(im.chunk = malloc(ARCHIVE_CHUNK))) {
		ret = err_set(e, ERR_NOMEM, "out of memory");
		goto out;
	}
	if ((ret = import_pass(&im, e)) < 0)
		goto out;
	d = im.seen[DOC_MANIFEST] ? DOC_MANIFEST : DOC_INDEX;
	if (!im.seen[d]) {
		ret = err_set(e, ERR_INVALID, "it is neither a docker-save tarball nor an OCI "
			      "archive: it has no manifest.json and no index.json");
		goto out;
	}
	if ((ret = json_parse(&root, im.docs[d].data, im.docs[d].len, e)) < 0) {
		err_prefix(e, "%s", doc_names[d]);
		goto out;
	}
	if (d == DOC_MANIFEST)
		ret = docker_import(&im, root, sel, ref_name, flags, e);
	else
		ret = oci_import(&im, root, sel, ref_name, flags, e);
out:
	json_free(root);
	import_release(&im);
	return ret;
}

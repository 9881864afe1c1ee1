/* mutate.c - crane append and crane mutate.  See mutate.h. */
#include "core/ops/mutate.h"

#include "cache/blob.h"
#include "cache/layout.h"
#include "core/base/strvec.h"
#include "core/ops/build.h"
#include "core/base/err.h"
#include "core/model/imgconfig.h"
#include "core/base/json.h"
#include "core/model/platform.h"
#include "core/ops/copy.h"
#include "core/ops/env.h"
#include "core/ops/local.h"
#include "core/ops/pull.h"
#include "core/ops/push.h"
#include "core/ops/resolve.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

void mutate_spec_init(struct mutate_spec *s)
{
	memset(s, 0, sizeof(*s));
	strvec_init(&s->layers);
	strvec_init(&s->entrypoint);
	strvec_init(&s->cmd);
	strvec_init(&s->expose);
	kvlist_init(&s->env);
	kvlist_init(&s->labels);
	kvlist_init(&s->annotations);
	s->compression = TAR_COMPRESS_GZIP;
}

void mutate_spec_release(struct mutate_spec *s)
{
	free(s->base);
	free(s->history_verb);
	strvec_clear(&s->layers);
	strvec_clear(&s->entrypoint);
	strvec_clear(&s->cmd);
	strvec_clear(&s->expose);
	kvlist_release(&s->env);
	kvlist_release(&s->labels);
	kvlist_release(&s->annotations);
	free(s->user);
	free(s->workdir);
	free(s->set_platform);
	mutate_spec_init(s);
}

void mutate_result_init(struct mutate_result *r)
{
	manifest_init(&r->manifest);
	ref_init(&r->base);
}

void mutate_result_release(struct mutate_result *r)
{
	manifest_release(&r->manifest);
	ref_release(&r->base);
	mutate_result_init(r);
}

/* ---- layers from tar files --------------------------------------------- */

struct mutate_src {
	int fd;
	const char *path;
	struct blob_writer *w;	/* when set, every byte read is written to it */
};

static ssize_t mutate_read(void *arg, void *dst, size_t len, struct err *e)
{
	struct mutate_src *s = arg;
	ssize_t n;
	int rc;

	do
		n = read(s->fd, dst, len);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return err_set_errno(e, ERR_IO, errno, "cannot read '%s'", s->path);
	if (n > 0 && s->w && (rc = blob_writer_write(s->w, dst, (size_t)n, e)) < 0)
		return rc;
	return n;
}

/* How the file `fd` (`path`) is compressed, from its first bytes: gzip,
 * zstd or none (a plain tar); ERR_INVALID for anything else. */
static int mutate_sniff(enum tar_compression *out, int fd, const char *path, struct err *e)
{
	unsigned char magic[512];
	ssize_t n;

	do
		n = pread(fd, magic, sizeof(magic), 0);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return err_set_errno(e, ERR_IO, errno, "cannot read '%s'", path);
	if (n >= 2 && magic[0] == 0x1f && magic[1] == 0x8b)
		*out = TAR_COMPRESS_GZIP;
	else if (n >= 4 && magic[0] == 0x28 && magic[1] == 0xb5 && magic[2] == 0x2f &&
		 magic[3] == 0xfd)
		*out = TAR_COMPRESS_ZSTD;
	else if (n == (ssize_t)sizeof(magic) && !memcmp(magic + 257, "ustar", 5))
		*out = TAR_COMPRESS_NONE;
	else
		return err_set(e, ERR_INVALID, "'%s' is not a tar archive (plain, gzip or zstd)",
			       path);
	return 0;
}

/* A compressed tar file is the blob: copied to `w` as read, decompressed
 * and parsed on the way for the diff_id. */
static int mutate_copy(struct tar_result *res, struct mutate_src *src, struct blob_writer *w,
		       struct err *e)
{
	struct tar_reader_opts ro;
	struct tar_reader *r = NULL;
	struct tar_header h;
	int ret;

	memset(&ro, 0, sizeof(ro));
	ro.source = mutate_read;
	ro.source_arg = src;
	ro.fd = -1;
	src->w = w;
	if ((ret = tar_reader_new(&r, &ro, e)) < 0)
		return ret;
	while ((ret = tar_reader_next(r, &h, e)) > 0)
		;
	if (ret < 0 || (ret = tar_reader_finish(r, res, e)) < 0)
		err_prefix(e, "'%s'", src->path);
	tar_reader_free(r);
	return ret;
}

/* A plain tar file compressed (`compression`, `level`) into `w`. */
static int mutate_compress(struct tar_result *res, struct mutate_src *src, struct blob_writer *w,
			   enum tar_compression compression, int level, struct err *e)
{
	struct tar_writer_opts wo;
	int ret;

	memset(&wo, 0, sizeof(wo));
	wo.compression = compression;
	wo.level = level;
	if (!wo.level && compression == TAR_COMPRESS_GZIP)
		wo.level = BUILD_GZIP_LEVEL_DEFAULT;
	wo.sink = local_blob_sink;
	wo.sink_arg = w;
	if ((ret = tar_compress(res, mutate_read, src, &wo, e)) < 0)
		err_prefix(e, "'%s'", src->path);
	return ret;
}

int mutate_layer_file(struct layer_result *out, struct layout *dst, const char *path,
		      enum tar_compression compression, int level, struct err *e)
{
	struct mutate_src src = { -1, path, NULL };
	struct blob_writer *w = NULL;
	struct tar_result res;
	struct digest d;
	struct stat st;
	enum tar_compression have = TAR_COMPRESS_NONE;
	int64_t size;
	int ret;

	memset(out, 0, sizeof(*out));
	descriptor_init(&out->desc);
	src.fd = open(path, O_RDONLY | O_CLOEXEC);
	if (src.fd < 0) {
		ret = err_set_errno(e, errno == ENOENT ? ERR_NOT_FOUND : ERR_IO, errno,
				    "cannot open '%s'", path);
		goto out;
	}
	if (fstat(src.fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		ret = err_set(e, ERR_INVALID, "'%s' is not a regular file", path);
		goto out;
	}
	if ((ret = mutate_sniff(&have, src.fd, path, e)) < 0 ||
	    (ret = blob_begin(&w, dst, NULL, -1, e)) < 0)
		goto out;
	if (have != TAR_COMPRESS_NONE) {
		ret = mutate_copy(&res, &src, w, e);
	} else {
		ret = mutate_compress(&res, &src, w, compression, level, e);
		have = compression;
	}
	if (ret < 0)
		goto out;
	ret = blob_writer_commit(&d, &size, w, e);
	w = NULL;
	if (ret < 0)
		goto out;
	if (!digest_equal(&d, &res.digest) || size != res.size) {
		ret = err_set(e, ERR_DIGEST, "'%s': layer digest mismatch (%s, written %s)", path,
			      res.digest.str, d.str);
		goto out;
	}
	ret = layer_result_set(out, &res, have, e);
out:
	blob_writer_abort(w);
	if (src.fd >= 0)
		close(src.fd);
	if (ret < 0)
		layer_result_release(out);
	return ret;
}

/* ---- the config and the manifest --------------------------------------- */

static int mutate_config_apply(struct json *cfg, const struct mutate_spec *s,
			       const struct platform *setp)
{
	struct imgconfig_edit ed = {
		.env = &s->env, .entrypoint = s->set_entrypoint ? &s->entrypoint : NULL,
		.cmd = s->set_cmd ? &s->cmd : NULL, .workdir = s->workdir, .user = s->user,
		.labels = &s->labels, .expose = &s->expose, .flags = IMGCONFIG_EMPTY_ARGV_DELETES,
	};
	int ret = imgconfig_apply(cfg, &ed);

	if (ret == 0 && setp) {
		ret = json_set_str(cfg, "os", setp->os);
		if (ret == 0)
			ret = json_set_str(cfg, "architecture", setp->arch);
		if (ret == 0 && setp->variant)
			ret = json_set_str(cfg, "variant", setp->variant);
		else if (ret == 0)
			json_del(cfg, "variant");
		if (ret == 0 && setp->os_version)
			ret = json_set_str(cfg, "os.version", setp->os_version);
	}
	return ret;
}

/* Appends layers[0..n) to the manifest `m` and the config `cfg`: each a
 * layer, a diff_id and a history entry "VERB FILE".  ERR_NOMEM. */
static int mutate_add_layers(struct json *m, struct json *cfg, const struct mutate_spec *s,
			     const struct layer_result *layers, size_t n, const char *created)
{
	struct buf desc = BUF_INIT;
	struct json *hist, *diff_ids, *ml;
	struct descriptor ld;
	size_t i;
	int ret = ERR_NOMEM;

	descriptor_init(&ld);
	if (imgconfig_layers(&hist, &diff_ids, cfg) < 0 ||
	    !(ml = imgconfig_member(m, "layers", 1)))
		goto out;
	for (i = 0; i < n; i++) {
		descriptor_release(&ld);
		buf_reset(&desc);
		if (buf_addf(&desc, "%s %s", s->history_verb ? s->history_verb :
			     "hoist mutate --append", s->layers.v[i]) < 0 ||
		    imgconfig_history_add(hist, created, desc.data, 0) < 0 ||
		    json_append(diff_ids, json_new_string(layers[i].diff_id.str)) < 0 ||
		    descriptor_copy(&ld, &layers[i].desc) < 0)
			goto out;
		if (json_append(ml, descriptor_to_json(&ld)) < 0)
			goto out;
	}
	ret = 0;
out:
	descriptor_release(&ld);
	buf_release(&desc);
	return ret;
}

/* One image: `bm` (NULL: the empty base) of repository `bref` mutated into
 * `dst`; `out` (initialised) gets the new manifest.  `annot` goes into the
 * manifest's annotations: Docker's format has none, so an image with
 * annotations to set is written with OCI media types, as one with a zstd
 * layer (manifest_json_family()). */
static int mutate_build(struct manifest *out, struct env *env, const struct ref *bref,
			const struct manifest *bm, const struct mutate_spec *s,
			const struct layer_result *layers, size_t n, const struct platform *setp,
			const struct kvlist *annot, struct layout *dst, struct err *e)
{
	struct buf raw = BUF_INIT;
	struct json *cfg = NULL, *m = NULL;
	struct descriptor cdesc;
	struct platform plat;
	const char *mt;
	char created[64];
	int ret, docker;

	descriptor_init(&cdesc);
	platform_init(&plat);
	if (imgconfig_time(created, sizeof(created), s->created) < 0) {
		ret = err_set(e, ERR_INVALID, "invalid creation time %lld", (long long)s->created);
		goto out;
	}
	if (bm) {
		if ((ret = resolve_blob(&raw, env, bref, &bm->config, 0, e)) < 0) {
			err_prefix(e, "config");
			goto out;
		}
		if ((ret = json_parse(&cfg, raw.data, raw.len, e)) < 0 ||
		    json_kind_of(cfg) != JSON_OBJECT) {
			ret = err_set(e, ERR_INVALID, "the config %s is not a JSON object",
				      bm->config.digest.str);
			goto out;
		}
		if ((ret = json_parse(&m, bm->raw.data, bm->raw.len, e)) < 0)
			goto out;
		docker = mediatype_equal(bm->media_type, MT_DOCKER_MANIFEST);
		if ((ret = descriptor_copy(&cdesc, &bm->config)) < 0)
			goto nomem;
	} else {
		const struct platform *p = setp ? setp : env->platform;
		docker = !s->oci_empty_base;
		if (!(cfg = imgconfig_new(p, created)) || !(m = json_new_object()) ||
		    json_set_int64(m, "schemaVersion", 2) < 0 ||
		    json_set(m, "config", json_new_object()) < 0 ||
		    json_set(m, "layers", json_new_array()) < 0 ||
		    !(cdesc.media_type = strdup(docker ? MT_DOCKER_CONFIG : MT_OCI_CONFIG)))
			goto nomem;
	}
	if (n && mutate_add_layers(m, cfg, s, layers, n, created) < 0)
		goto nomem;
	if (setp && platform_copy(&plat, setp) < 0)
		goto nomem;
	if (mutate_config_apply(cfg, s, setp ? &plat : NULL) < 0)
		goto nomem;
	if ((ret = local_json_blob(&raw, &cdesc.digest, dst, cfg, e)) < 0)
		goto out;
	cdesc.size = (int64_t)raw.len;
	if (json_set(m, "config", descriptor_to_json(&cdesc)) < 0)
		goto nomem;
	if (imgconfig_set_kvlist(m, "annotations", annot) < 0 ||
	    manifest_json_family(&mt, m, docker && !annot->keys.n) < 0)
		goto nomem;
	ret = local_manifest_put(out, dst, m, mt, e);
	goto out;
nomem:
	ret = err_set(e, ERR_NOMEM, "out of memory");
out:
	json_free(cfg);
	json_free(m);
	descriptor_release(&cdesc);
	platform_release(&plat);
	buf_release(&raw);
	return ret;
}

/* An index: every image child mutated, the rest kept; the new index into
 * `out`. */
static int mutate_index(struct manifest *out, struct env *env, const struct ref *bref,
			const struct manifest *root, const struct mutate_spec *s,
			const struct layer_result *layers, size_t n, struct layout *dst,
			struct err *e)
{
	struct json *ij = NULL, *arr;
	struct manifest cm, nm;
	struct kvlist none = KVLIST_INIT;
	const char *mt;
	size_t i;
	int ret;

	manifest_init(&cm);
	manifest_init(&nm);
	if ((ret = json_parse(&ij, root->raw.data, root->raw.len, e)) < 0)
		goto out;
	arr = json_get(ij, "manifests");
	if (json_array_len(arr) != root->n_manifests) {
		ret = err_set(e, ERR_INVALID, "the index %s is malformed", root->digest.str);
		goto out;
	}
	for (i = 0; i < root->n_manifests; i++) {
		const struct descriptor *d = &root->manifests[i];
		struct ref cref = { bref->registry, bref->repository, NULL, (char *)d->digest.str };
		struct json *ej = json_array_get(arr, i);

		manifest_release(&cm);
		if ((ret = resolve_ref(&cm, env, &cref, e)) < 0)
			goto out;
		if (cm.kind == MT_KIND_INDEX) {
			ret = err_set(e, ERR_UNSUPPORTED, "the index %s holds another index (%s): "
				      "mutate its children one by one", root->digest.str,
				      d->digest.str);
			goto out;
		}
		if (!d->platform || !d->platform->os || !strcmp(d->platform->os, "unknown")) {
			/* an attestation or an artifact: kept as it is */
			if ((ret = blob_put(NULL, dst, cm.raw.data, cm.raw.len, &cm.digest,
						   e)) < 0)
				goto out;
			continue;
		}
		ret = mutate_build(&nm, env, &cref, &cm, s, layers, n, NULL, &none, dst, e);
		if (ret < 0) {
			err_prefix(e, "%s", d->digest.str);
			goto out;
		}
		if (json_set_str(ej, "mediaType", nm.media_type) < 0 ||
		    json_set_str(ej, "digest", nm.digest.str) < 0 ||
		    json_set_int64(ej, "size", (int64_t)nm.raw.len) < 0)
			goto nomem;
	}
	if (imgconfig_set_kvlist(ij, "annotations", &s->annotations) < 0 ||
	    manifest_json_family(&mt, ij, mediatype_equal(root->media_type, MT_DOCKER_LIST) &&
				 !s->annotations.keys.n) < 0)
		goto nomem;
	ret = local_manifest_put(out, dst, ij, mt, e);
	goto out;
nomem:
	ret = err_set(e, ERR_NOMEM, "out of memory");
out:
	json_free(ij);
	manifest_release(&cm);
	manifest_release(&nm);
	return ret;
}

/* Resolves the base `base` (s->base parsed) into `root`; `*bm` is the
 * image to mutate: `root`, or the child of an index for env->platform
 * (resolved into `child`), or NULL for an index whose every image is. */
static int mutate_base_pick(const struct manifest **bm, struct manifest *root,
			    struct manifest *child, struct env *env, const struct ref *base,
			    const struct mutate_spec *s, int have_setp, struct err *e)
{
	const struct descriptor *d;
	struct ref cref = { base->registry, base->repository, NULL, NULL };
	struct buf pf = BUF_INIT;
	int ret;

	*bm = NULL;
	if ((ret = resolve_ref(root, env, base, e)) < 0) {
		err_prefix(e, "'%s'", s->base);
		return ret;
	}
	if (root->kind != MT_KIND_INDEX) {
		*bm = root;
		return 0;
	}
	if (!env->platform) {
		if (have_setp)
			return err_set(e, ERR_USAGE, "'%s' is an index: --set-platform needs one "
				       "image (pick one with --platform)", s->base);
		return 0;
	}
	if (!(d = manifest_index_find(root, env->platform))) {
		platform_format(&pf, env->platform);
		ret = err_set(e, ERR_NOT_FOUND, "'%s' has no image for the platform %s",
			      s->base, pf.data);
		buf_release(&pf);
		return ret;
	}
	cref.digest = (char *)d->digest.str;
	if ((ret = resolve_ref(child, env, &cref, e)) < 0) {
		err_prefix(e, "'%s'", s->base);
		return ret;
	}
	*bm = child;
	return 0;
}

int mutate_image(struct mutate_result *out, struct env *env, const struct mutate_spec *s,
		 struct layout *dst, unsigned flags, struct err *e)
{
	struct ref base = REF_INIT;
	struct manifest root, child;
	struct layer_result *layers = NULL;
	struct platform setp;
	struct kvlist annot = KVLIST_INIT;
	struct buf name = BUF_INIT;
	const struct manifest *bm = NULL;
	size_t i, n = 0;
	int ret, have_setp = 0;

	manifest_init(&root);
	manifest_init(&child);
	platform_init(&setp);
	if (s->set_platform) {
		if ((ret = platform_parse(&setp, s->set_platform, e)) < 0)
			goto out;
		have_setp = 1;
	}
	if (s->base) {
		if ((ret = ref_parse(&base, s->base, 0, e)) < 0)
			goto out;
		if ((ret = mutate_base_pick(&bm, &root, &child, env, &base, s, have_setp, e)) < 0)
			goto out;
		if (ref_copy(&out->base, &base) < 0)
			goto nomem;
		free(out->base.tag);
		out->base.tag = NULL;
		free(out->base.digest);
		if (!(out->base.digest = strdup(bm ? bm->digest.str : root.digest.str)))
			goto nomem;
		if (s->base_annotations && bm &&
		    (ref_format(&name, &base) < 0 ||
		     kvlist_set(&annot, ANNOT_BASE_DIGEST, bm->digest.str) < 0 ||
		     kvlist_set(&annot, ANNOT_BASE_NAME, name.data) < 0))
			goto nomem;
		if ((flags & MUTATE_WITH_BASE) &&
		    (ret = pull_base(env, &out->base, bm ? PULL_SINGLE : 0, dst,
					    e)) < 0)
			goto out;
	}
	if (bm || !s->base)
		for (i = 0; i < s->annotations.keys.n; i++)
			if (kvlist_set(&annot, s->annotations.keys.v[i],
				       s->annotations.values.v[i]) < 0)
				goto nomem;
	if (s->layers.n && !(layers = calloc(s->layers.n, sizeof(*layers))))
		goto nomem;
	for (n = 0; n < s->layers.n; n++)
		if ((ret = mutate_layer_file(&layers[n], dst, s->layers.v[n], s->compression,
					     s->level, e)) < 0)
			goto out;
	if (s->base && !bm)
		ret = mutate_index(&out->manifest, env, &out->base, &root, s, layers, n, dst, e);
	else
		ret = mutate_build(&out->manifest, env, s->base ? &out->base : NULL, bm, s, layers,
				   n, have_setp ? &setp : NULL, &annot, dst, e);
	goto out;
nomem:
	ret = err_set(e, ERR_NOMEM, "out of memory");
out:
	for (i = 0; layers && i < n; i++)
		layer_result_release(&layers[i]);
	free(layers);
	kvlist_release(&annot);
	platform_release(&setp);
	manifest_release(&root);
	manifest_release(&child);
	ref_release(&base);
	buf_release(&name);
	return ret;
}

int mutate_push(struct digest *out, struct env *env, const struct mutate_result *r,
		      struct layout *src, const struct descriptor *root, const struct ref *dst,
		      struct err *e)
{
	int ret;

	/* the base's blobs are copied to the target first, unless it is the
	 * base's own repository (crane mutate's default), which has them */
	if (r->base.repository && (strcmp(r->base.registry, dst->registry) ||
				   strcmp(r->base.repository, dst->repository))) {
		struct ref to = { dst->registry, dst->repository, NULL, r->base.digest };
		struct digest d;
		ret = copy_image(&d, env, &r->base, &to, 0, e);
		if (ret < 0) {
			err_prefix(e, "base image");
			return ret;
		}
	}
	return push_root(out, env, src, root, dst, e);
}

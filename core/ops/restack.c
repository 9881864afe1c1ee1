/* restack.c - flatten and rebase.  See restack.h. */
#include "core/ops/restack.h"

#include "cache/blob.h"
#include "cache/layout.h"
#include "core/base/err.h"
#include "core/ops/copy.h"
#include "core/ops/env.h"
#include "core/ops/export.h"
#include "core/model/imgconfig.h"
#include "core/base/json.h"
#include "core/format/layer.h"
#include "registry/reg_blob.h"
#include "registry/reg_manifest.h"
#include "core/ops/local.h"
#include "core/ops/pull.h"
#include "core/ops/resolve.h"

#include <stdlib.h>
#include <string.h>

/* ---- shared helpers ------------------------------------------------------- */

/* Sets digest and size of the descriptor object `j`. */
static int restack_desc_update(struct json *j, const struct digest *d, int64_t size)
{
	if (json_set_str(j, "digest", d->str) < 0 || json_set_int64(j, "size", size) < 0)
		return ERR_NOMEM;
	return 0;
}

/* Stores the image manifest JSON `mj` (put into `dst`, or NULL: only
 * parsed) with one family of media types: Docker's when `orig` (the media
 * type of the manifest it was made from) is and every type has a Docker
 * name, else OCI's (manifest_json_family()). */
static int restack_manifest_put(struct manifest *out, struct layout *dst, struct json *mj,
				const char *orig, struct err *e)
{
	const char *mt;

	if (manifest_json_family(&mt, mj, mediatype_equal(orig, MT_DOCKER_MANIFEST) ||
				 mediatype_equal(orig, MT_DOCKER_LIST)) < 0)
		return err_set(e, ERR_NOMEM, "out of memory");
	return local_manifest_put(out, dst, mj, mt, e);
}

/* 1 for an index child that is an attestation (platform unknown/unknown). */
static int restack_is_attestation(const struct descriptor *d)
{
	return d->platform && d->platform->os && d->platform->arch &&
	       !strcmp(d->platform->os, "unknown") && !strcmp(d->platform->arch, "unknown");
}

/* The target of a rebase. */
struct rb {
	struct env *env;
	const struct ref *src;
	const struct ref *dst;
	const char *old_base, *new_base;	/* as given, or NULL */
	struct reg *reg;			/* dst's registry */
};

/* Stores the config `cfg` in `dst` (flatten) or, `dst` NULL, uploads it to
 * r's target (rebase; nothing when it is there), and points the manifest
 * JSON's config descriptor at it. */
static int restack_config_put(struct json *mj, struct layout *dst, struct rb *r,
			      const struct json *cfg, struct err *e)
{
	const char *mt = json_get_str(json_get(mj, "config"), "mediaType");
	struct buf raw = BUF_INIT;
	struct descriptor d;
	int ret;

	descriptor_init(&d);
	if ((ret = local_json_blob(&raw, &d.digest, dst, cfg, e)) < 0)
		goto out;
	d.size = (int64_t)raw.len;
	if (!dst && !(d.media_type = strdup(mt ? mt : MT_OCI_CONFIG))) {
		ret = err_set(e, ERR_NOMEM, "out of memory");
		goto out;
	}
	if (!dst) {
		r->env->n_blob_requests++;
		ret = reg_blob_upload(r->reg, r->dst->repository, &d, -1, raw.data, NULL, e);
		if (ret < 0) {
			err_prefix(e, "config %s", d.digest.str);
			goto out;
		}
		env_log(r->env, 1, "rebase: config %s in %s/%s", d.digest.str,
			  r->dst->registry, r->dst->repository);
	}
	if (restack_desc_update(json_get(mj, "config"), &d.digest, d.size) < 0)
		ret = err_set(e, ERR_NOMEM, "out of memory");
out:
	descriptor_release(&d);
	buf_release(&raw);
	return ret;
}

/* Makes `out` (initialised) the new manifest of index entry `d`. */
typedef int restack_child_fn(struct manifest *out, void *arg, const struct descriptor *d,
			     int depth, struct err *e);

/* The index `m` with each image child (and, `nested`, each index child:
 * else an error) replaced by what `fn` makes of it, attestations and
 * other artifacts dropped; stored in `dst` (NULL: only parsed into `out`).
 * `verb` ("flatten", "rebase") names the operation in logs and errors. */
static int restack_index(struct manifest *out, struct env *env, const struct manifest *m,
			 int nested, restack_child_fn *fn, void *arg, int depth,
			 struct layout *dst, const char *verb, struct err *e)
{
	struct json *mj = NULL, *arr;
	struct manifest nm;
	size_t i, j;
	int ret;

	manifest_init(out);
	manifest_init(&nm);
	if ((ret = json_parse(&mj, m->raw.data, m->raw.len, e)) < 0)
		goto out;
	arr = json_get(mj, "manifests");
	for (i = 0, j = 0; i < m->n_manifests; i++) {
		const struct descriptor *d = &m->manifests[i];
		enum mt_kind k = mediatype_classify(d->media_type);
		if (k == MT_KIND_INDEX && !nested) {
			ret = err_set(e, ERR_UNSUPPORTED, "index %s holds an index (%s): "
				      "nested indexes cannot be rebased", m->digest.str,
				      d->digest.str);
			goto out;
		}
		if (restack_is_attestation(d) || (k != MT_KIND_MANIFEST && k != MT_KIND_INDEX)) {
			env_log(env, 1, "%s: dropping %s (%s)", verb, d->digest.str,
				  restack_is_attestation(d) ? "an attestation" : d->media_type);
			json_array_del(arr, j);
			continue;
		}
		manifest_release(&nm);
		if ((ret = fn(&nm, arg, d, depth + 1, e)) < 0) {
			err_prefix(e, "index entry %zu (%s)", i, d->digest.str);
			goto out;
		}
		if (restack_desc_update(json_array_get(arr, j), &nm.digest,
					(int64_t)nm.raw.len) < 0 ||
		    json_set_str(json_array_get(arr, j), "mediaType", nm.media_type) < 0) {
			ret = err_set(e, ERR_NOMEM, "out of memory");
			goto out;
		}
		j++;
	}
	if (!j) {
		ret = err_set(e, ERR_UNSUPPORTED, "index %s holds no image to %s", m->digest.str,
			      verb);
		goto out;
	}
	ret = restack_manifest_put(out, dst, mj, m->media_type, e);
out:
	manifest_release(&nm);
	json_free(mj);
	return ret;
}

/* ---- flatten ------------------------------------------------------------ */

struct flat {
	struct env *env;
	struct layout *src;	/* env->cache: the source's blobs */
	struct layout *dst;
	const struct flatten_opts *o;
};

/* The flattened layer of image `m`: export's stream into the writer, into
 * a blob of f->dst described by `ld` (initialised); `res` gets its diff_id. */
static int flat_layer(struct descriptor *ld, struct tar_result *res, struct flat *f,
		      const struct manifest *m, struct err *e)
{
	struct blob_writer *w = NULL;
	struct tar_writer_opts to;
	int ret;

	if ((ret = blob_begin(&w, f->dst, NULL, -1, e)) < 0)
		return ret;
	memset(&to, 0, sizeof(to));
	to.compression = f->o->compression;
	to.level = f->o->level;
	if (!to.level && to.compression == TAR_COMPRESS_GZIP)
		to.level = FLATTEN_GZIP_LEVEL_DEFAULT;
	to.sink = local_blob_sink;
	to.sink_arg = w;
	if ((ret = export_to(res, f->src, m, &to, e)) < 0) {
		blob_writer_abort(w);
		return ret;
	}
	if ((ret = blob_writer_commit(&ld->digest, &ld->size, w, e)) < 0)
		return ret;
	if (!(ld->media_type = strdup(layer_media_type(to.compression))))
		return err_set(e, ERR_NOMEM, "out of memory");
	env_log(f->env, 1, "flatten: layer %s (%lld bytes, diff_id %s)", ld->digest.str,
		(long long)ld->size, res->diff_id.str);
	return 0;
}

/* The config `cfg` of image `m` made the flattened one's: one diff_id, one
 * history entry keeping the old history (as JSON, in its comment). */
static int flat_config(struct json *cfg, const struct manifest *m, const struct digest *diff_id,
		       struct err *e)
{
	struct buf raw = BUF_INIT, by = BUF_INIT;
	struct json *hist = NULL, *h = NULL, *layers = NULL, *rootfs;
	int ret;

	if (json_get(cfg, "history") &&
	    (ret = json_serialize(&raw, json_get(cfg, "history"), 0, e)) < 0)
		goto out;
	if (buf_addf(&by, "hoist flatten %s", m->digest.str) < 0 || !(h = json_new_object()))
		goto nomem;
	if (json_get_str(cfg, "created") &&
	    json_set_str(h, "created", json_get_str(cfg, "created")) < 0)
		goto nomem;
	if (json_set_str(h, "created_by", by.data) < 0 ||
	    (raw.len && json_set_str(h, "comment", raw.data) < 0))
		goto nomem;
	if (!(hist = json_new_array()))
		goto nomem;
	ret = json_append(hist, h);
	h = NULL;
	if (ret < 0)
		goto nomem;
	ret = json_set(cfg, "history", hist);
	hist = NULL;
	if (ret < 0)
		goto nomem;
	if (!(rootfs = imgconfig_member(cfg, "rootfs", 0)) ||
	    json_set_str(rootfs, "type", "layers") < 0 ||
	    !(layers = json_new_array()) ||
	    json_append(layers, json_new_string(diff_id->str)) < 0)
		goto nomem;
	ret = json_set(rootfs, "diff_ids", layers);
	layers = NULL;
	if (ret < 0)
		goto nomem;
	ret = 0;
	goto out;
nomem:
	ret = err_set(e, ERR_NOMEM, "out of memory");
out:
	json_free(hist);
	json_free(h);
	json_free(layers);
	buf_release(&raw);
	buf_release(&by);
	return ret;
}

static int flat_image(struct manifest *out, struct flat *f, const struct manifest *m,
		      struct err *e)
{
	struct buf raw = BUF_INIT;
	struct json *cfg = NULL, *mj = NULL, *layers = NULL;
	struct tar_result res;
	struct descriptor ld;
	int ret;

	manifest_init(out);
	descriptor_init(&ld);
	if ((ret = blob_read(&raw, f->src, &m->config.digest, IMGCONFIG_MAX_DEFAULT,
				    e)) < 0 ||
	    (ret = json_parse(&cfg, raw.data, raw.len, e)) < 0) {
		err_prefix(e, "config %s", m->config.digest.str);
		goto out;
	}
	if (json_kind_of(cfg) != JSON_OBJECT) {
		ret = err_set(e, ERR_INVALID, "config %s is not a JSON object",
			      m->config.digest.str);
		goto out;
	}
	env_log(f->env, 1, "flatten: %s: %zu layers", m->digest.str, m->n_layers);
	if ((ret = flat_layer(&ld, &res, f, m, e)) < 0 ||
	    (ret = flat_config(cfg, m, &res.diff_id, e)) < 0)
		goto out;

	/* the manifest: the old one with config and layers replaced */
	if ((ret = json_parse(&mj, m->raw.data, m->raw.len, e)) < 0)
		goto out;
	if ((ret = restack_config_put(mj, f->dst, NULL, cfg, e)) < 0)
		goto out;
	if (!(layers = json_new_array()) || json_append(layers, descriptor_to_json(&ld)) < 0) {
		ret = err_set(e, ERR_NOMEM, "out of memory");
		goto out;
	}
	ret = json_set(mj, "layers", layers);
	layers = NULL;
	if (ret < 0) {
		ret = err_set(e, ERR_NOMEM, "out of memory");
		goto out;
	}
	ret = restack_manifest_put(out, f->dst, mj, m->media_type, e);
out:
	json_free(cfg);
	json_free(mj);
	json_free(layers);
	descriptor_release(&ld);
	buf_release(&raw);
	return ret;
}

static int flat_node(struct manifest *out, struct flat *f, const struct manifest *m,
		     int depth, struct err *e);

/* An index entry: read from the cache, flattened. */
static int flat_child(struct manifest *out, void *arg, const struct descriptor *d, int depth,
		      struct err *e)
{
	struct flat *f = arg;
	struct manifest cm;
	int ret;

	if ((ret = local_manifest_load(&cm, f->src, d, 1, e)) == 0)
		ret = flat_node(out, f, &cm, depth, e);
	manifest_release(&cm);
	return ret;
}

static int flat_node(struct manifest *out, struct flat *f, const struct manifest *m,
		     int depth, struct err *e)
{
	if (m->kind == MT_KIND_MANIFEST)
		return flat_image(out, f, m, e);
	manifest_init(out);
	if (depth > 8)
		return err_set(e, ERR_UNSUPPORTED, "indexes nested more than 8 deep");
	return restack_index(out, f->env, m, 1, flat_child, f, depth, f->dst, "flatten", e);
}

int restack_flatten(struct manifest *out, struct env *env, const struct ref *src,
		  struct layout *dst, const struct flatten_opts *o, struct err *e)
{
	struct pull_result p;
	struct manifest root;
	struct flat f = { env, env->cache, dst, o };
	int ret;

	manifest_init(out);
	manifest_init(&root);
	memset(&p, 0, sizeof(p));
	if (!env->cache)
		return err_set(e, ERR_USAGE, "flatten needs the cache");
	if ((ret = tar_compression_level_check(o->compression, o->level, e)) < 0)
		return ret;
	if ((ret = pull_images(&p, env, src, 1, env->cache, 0, e)) < 0)
		goto out;
	if ((ret = local_manifest_load(&root, env->cache, &p.desc, 1, e)) < 0)
		goto out;
	ret = flat_node(out, &f, &root, 0, e);
out:
	pull_result_release(&p, 1);
	manifest_release(&root);
	return ret;
}

/* ---- rebase ------------------------------------------------------------- */

/* Serialises the manifest JSON `mj` (made from a manifest of type `orig`)
 * into `out`; a child of an index is put by digest at once (the index, put
 * last, needs it). */
static int rb_manifest_send(struct manifest *out, struct rb *r, struct json *mj,
			    const char *orig, int child, struct err *e)
{
	int ret = restack_manifest_put(out, NULL, mj, orig, e);

	if (ret < 0 || !child)
		return ret;
	r->env->n_manifest_requests++;
	return reg_manifest_put(NULL, r->reg, r->dst->repository, out->digest.str,
				out->media_type, out->raw.data, out->raw.len, e);
}

/* Manifest and config of a base image. */
struct rb_base {
	struct ref ref;
	struct manifest m;
	struct imgconfig c;
};

static void rb_base_init(struct rb_base *b)
{
	ref_init(&b->ref);
	manifest_init(&b->m);
	imgconfig_init(&b->c);
}

static void rb_base_release(struct rb_base *b)
{
	ref_release(&b->ref);
	manifest_release(&b->m);
	imgconfig_release(&b->c);
}

static int rb_base_resolve(struct rb_base *b, struct env *env,
			   const struct platform *plat, const char *what, struct err *e)
{
	struct buf raw = BUF_INIT, name = BUF_INIT;
	int ret;

	ref_format(&name, &b->ref);
	ret = resolve_image(&b->m, NULL, env, &b->ref, plat, e);
	if (ret == 0)
		ret = resolve_blob(&raw, env, &b->ref, &b->m.config, 0, e);
	if (ret == 0)
		ret = imgconfig_parse(&b->c, raw.data, raw.len, 0, e);
	if (ret < 0)
		err_prefix(e, "%s '%s'", what, name.data);
	buf_release(&raw);
	buf_release(&name);
	return ret;
}

/* Appends copies of arr[from..] to `to`. */
static int rb_append(struct json *to, const struct json *arr, size_t from)
{
	size_t i, n = json_array_len(arr);

	for (i = from; i < n; i++)
		if (json_append(to, json_copy(json_array_get(arr, i))) < 0)
			return ERR_NOMEM;
	return 0;
}

/* OLD must be a prefix of the image, by layer digest and by diff_id. */
static int rb_check_prefix(const struct manifest *m, const struct imgconfig *mc,
			   const struct rb_base *old, const char *img, struct err *e)
{
	struct buf on = BUF_INIT;
	size_t i, k = old->m.n_layers;
	int ret = 0;

	if (old->ref.repository)
		ref_format(&on, &old->ref);
	else
		buf_addstr(&on, "scratch");
	if (k > m->n_layers || k > mc->n_diff_ids || old->c.n_diff_ids != k) {
		ret = err_set(e, ERR_INVALID, "'%s' is not based on '%s': the old base has "
			      "%zu layers, the image %zu; give the base it was built on with "
			      "--old-base", img, on.data, k, m->n_layers);
		goto out;
	}
	for (i = 0; i < k; i++) {
		if (!digest_equal(&m->layers[i].digest, &old->m.layers[i].digest)) {
			ret = err_set(e, ERR_INVALID, "'%s' is not based on '%s': its layer %zu "
				      "is %s, the old base's is %s; give the base it was built "
				      "on with --old-base", img, on.data, i,
				      m->layers[i].digest.str, old->m.layers[i].digest.str);
			goto out;
		}
		if (!digest_equal(&mc->diff_ids[i], &old->c.diff_ids[i])) {
			ret = err_set(e, ERR_INVALID, "'%s' is not based on '%s': its diff_id "
				      "%zu is %s, the old base's is %s", img, on.data, i,
				      mc->diff_ids[i].str, old->c.diff_ids[i].str);
			goto out;
		}
	}
out:
	buf_release(&on);
	return ret;
}

/* The config of the rebased image: IMAGE's with NEW's platform, NEW's
 * diff_ids and history first, then IMAGE's own past OLD's. */
static int rb_config(struct json **out, const struct imgconfig *mc,
		     const struct rb_base *old, const struct rb_base *nw)
{
	static const char *const plat_keys[] = { "architecture", "os", "os.version", "variant",
						 NULL };
	struct json *cfg = json_copy(mc->json), *ids = NULL, *hist = NULL, *rootfs;
	const struct json *mh = json_get(mc->json, "history");
	size_t i, oh = json_array_len(json_get(old->c.json, "history"));
	int ret = ERR_NOMEM;

	*out = NULL;
	if (!cfg)
		goto out;
	for (i = 0; plat_keys[i]; i++) {
		const char *v = json_get_str(nw->c.json, plat_keys[i]);
		if (v && json_set_str(cfg, plat_keys[i], v) < 0)
			goto out;
		if (!v && i >= 2)
			json_del(cfg, plat_keys[i]);
	}
	if (!(ids = json_new_array()))
		goto out;
	for (i = 0; i < nw->c.n_diff_ids; i++)
		if (json_append(ids, json_new_string(nw->c.diff_ids[i].str)) < 0)
			goto out;
	for (i = old->m.n_layers; i < mc->n_diff_ids; i++)
		if (json_append(ids, json_new_string(mc->diff_ids[i].str)) < 0)
			goto out;
	rootfs = json_get(cfg, "rootfs");
	ret = json_set(rootfs, "diff_ids", ids);
	ids = NULL;
	if (ret < 0)
		goto out;
	ret = ERR_NOMEM;
	if (json_get(nw->c.json, "history") || mh) {
		if (!(hist = json_new_array()) ||
		    rb_append(hist, json_get(nw->c.json, "history"), 0) < 0 ||
		    rb_append(hist, mh, oh <= json_array_len(mh) ? oh : json_array_len(mh)) < 0)
			goto out;
		ret = json_set(cfg, "history", hist);
		hist = NULL;
		if (ret < 0)
			goto out;
	}
	*out = cfg;
	cfg = NULL;
	ret = 0;
out:
	json_free(cfg);
	json_free(ids);
	json_free(hist);
	return ret;
}

/* The manifest JSON of the rebased image (config descriptor still IMAGE's). */
static int rb_manifest_json(struct json **out, const struct manifest *m,
			    const struct rb_base *old, const struct rb_base *nw, struct err *e)
{
	struct json *mj = NULL, *nj = NULL, *layers = NULL, *an;
	struct buf name = BUF_INIT;
	int ret;

	*out = NULL;
	if ((ret = json_parse(&mj, m->raw.data, m->raw.len, e)) < 0 ||
	    (ret = json_parse(&nj, nw->m.raw.data, nw->m.raw.len, e)) < 0)
		goto out;
	ret = ERR_NOMEM;
	if (!(layers = json_new_array()) || rb_append(layers, json_get(nj, "layers"), 0) < 0 ||
	    rb_append(layers, json_get(mj, "layers"), old->m.n_layers) < 0)
		goto nomem;
	ret = json_set(mj, "layers", layers);
	layers = NULL;
	if (ret < 0)
		goto nomem;
	if (!(an = imgconfig_member(mj, "annotations", 0)) || ref_format(&name, &nw->ref) < 0 ||
	    json_set_str(an, ANNOT_BASE_DIGEST, nw->m.digest.str) < 0 ||
	    json_set_str(an, ANNOT_BASE_NAME, name.data) < 0)
		goto nomem;
	*out = mj;
	mj = NULL;
	ret = 0;
	goto out;
nomem:
	ret = err_set(e, ERR_NOMEM, "out of memory");
out:
	json_free(mj);
	json_free(nj);
	json_free(layers);
	buf_release(&name);
	return ret;
}

/* Makes repository `dst` hold the blobs of image `digest` of `from`. */
static int rb_blobs(struct rb *r, const struct ref *from, const struct digest *digest,
		    const char *what, struct err *e)
{
	struct ref s = { from->registry, from->repository, NULL, (char *)digest->str };
	struct ref t = { r->dst->registry, r->dst->repository, NULL, (char *)digest->str };
	struct digest d;
	int ret;

	if (!strcmp(from->registry, r->dst->registry) &&
	    !strcmp(from->repository, r->dst->repository))
		return 0;
	env_log(r->env, 1, "rebase: %s blobs from %s/%s", what, from->registry,
		  from->repository);
	if ((ret = copy_image(&d, r->env, &s, &t, 0, e)) < 0)
		err_prefix(e, "%s layers", what);
	return ret;
}

/* Rebases one image manifest `m` of r->src (platform `plat`, or NULL: its
 * config's; `child` for an index's child) to the target: layers and config
 * there, and the manifest too when it is a child; `out` gets it. */
/* The references of image `m`'s (named `img`) old base (in `old`; left
 * empty for "scratch") and new base (in `nw`): NEW as given, else the
 * base-name annotation (re-resolved later); OLD as given, else the
 * base-name's repository at the base-digest annotation. */
static int rb_base_refs(struct ref *old, struct ref *nw, const struct rb *r,
			const struct manifest *m, const char *img, struct err *e)
{
	const char *nname, *oname, *odig;
	struct ref on = REF_INIT;
	int ret;

	nname = r->new_base ? r->new_base : kvlist_get(&m->annotations, ANNOT_BASE_NAME);
	if (!nname)
		return err_set(e, ERR_USAGE, "cannot tell the new base of '%s': it has no %s "
			       "annotation; give --new-base", img, ANNOT_BASE_NAME);
	if ((ret = ref_parse(nw, nname, 0, e)) < 0)
		return ret;
	if (r->old_base) {
		if (strcmp(r->old_base, "scratch") && (ret = ref_parse(old, r->old_base, 0, e)) < 0)
			return ret;
		return 0;
	}
	oname = kvlist_get(&m->annotations, ANNOT_BASE_NAME);
	odig = kvlist_get(&m->annotations, ANNOT_BASE_DIGEST);
	if (!odig)
		return err_set(e, ERR_USAGE, "cannot tell the old base of '%s': it has no %s "
			       "annotation; give --old-base", img, ANNOT_BASE_DIGEST);
	if (oname && (ret = ref_parse(&on, oname, 0, e)) < 0)
		return ret;
	if (!(old->registry = strdup(oname ? on.registry : nw->registry)) ||
	    !(old->repository = strdup(oname ? on.repository : nw->repository)) ||
	    !(old->digest = strdup(odig)))
		ret = err_set(e, ERR_NOMEM, "out of memory");
	ref_release(&on);
	if (ret < 0)
		return ret;
	if (!digest_valid(odig))
		return err_set(e, ERR_INVALID, "'%s' has an invalid %s annotation", img,
			       ANNOT_BASE_DIGEST);
	return 0;
}

static int rb_image(struct manifest *out, struct rb *r, const struct manifest *m,
		    const struct platform *plat, int child, struct err *e)
{
	struct rb_base old, nw;
	struct imgconfig mc;
	struct buf raw = BUF_INIT, img = BUF_INIT;
	struct json *cfg = NULL, *mj = NULL;
	int ret;

	manifest_init(out);
	rb_base_init(&old);
	rb_base_init(&nw);
	imgconfig_init(&mc);
	buf_addf(&img, "%s/%s@%s", r->src->registry, r->src->repository, m->digest.str);
	if ((ret = resolve_blob(&raw, r->env, r->src, &m->config, 0, e)) < 0 ||
	    (ret = imgconfig_parse(&mc, raw.data, raw.len, 0, e)) < 0) {
		err_prefix(e, "config of '%s'", img.data);
		goto out;
	}
	if (!plat)
		plat = &mc.platform;
	if ((ret = rb_base_refs(&old.ref, &nw.ref, r, m, img.data, e)) < 0)
		goto out;
	if (old.ref.repository && (ret = rb_base_resolve(&old, r->env, plat, "old base", e)) < 0)
		goto out;
	if ((ret = rb_base_resolve(&nw, r->env, plat, "new base", e)) < 0)
		goto out;
	if ((ret = rb_check_prefix(m, &mc, &old, img.data, e)) < 0)
		goto out;
	env_log(r->env, 1, "rebase: %s: %zu layers of the old base replaced by %zu",
		  m->digest.str, old.m.n_layers, nw.m.n_layers);

	/* the layers where they must be: no byte through this machine's disk */
	if ((ret = rb_blobs(r, &nw.ref, &nw.m.digest, "new base", e)) < 0 ||
	    (ret = rb_blobs(r, r->src, &m->digest, "image", e)) < 0)
		goto out;

	if ((ret = rb_config(&cfg, &mc, &old, &nw)) < 0) {
		ret = err_set(e, ERR_NOMEM, "out of memory");
		goto out;
	}
	if ((ret = rb_manifest_json(&mj, m, &old, &nw, e)) < 0)
		goto out;
	if ((ret = restack_config_put(mj, NULL, r, cfg, e)) < 0)
		goto out;
	ret = rb_manifest_send(out, r, mj, m->media_type, child, e);
out:
	json_free(cfg);
	json_free(mj);
	imgconfig_release(&mc);
	rb_base_release(&old);
	rb_base_release(&nw);
	buf_release(&raw);
	buf_release(&img);
	return ret;
}

/* An index entry: resolved, rebased, put by digest. */
static int rb_child(struct manifest *out, void *arg, const struct descriptor *d, int depth,
		    struct err *e)
{
	struct rb *r = arg;
	struct ref cr = { r->src->registry, r->src->repository, NULL, (char *)d->digest.str };
	struct manifest cm;
	int ret;

	manifest_init(&cm);
	if ((ret = resolve_ref(&cm, r->env, &cr, e)) == 0)
		ret = rb_image(out, r, &cm, d->platform, 1, e);
	manifest_release(&cm);
	return ret;
}

int restack_rebase(struct digest *out, struct env *env, const struct ref *src,
		 const char *old_base, const char *new_base, const struct ref *dst,
		 struct err *e)
{
	struct rb r = { env, src, dst, old_base, new_base, NULL };
	struct manifest root, nm;
	int ret;

	manifest_init(&root);
	manifest_init(&nm);
	if (env->platform)
		ret = resolve_image(&root, NULL, env, src, NULL, e);
	else
		ret = resolve_ref(&root, env, src, e);
	if (ret < 0)
		goto out;
	if ((ret = env_reg(&r.reg, env, dst->registry, e)) < 0)
		goto out;
	if (root.kind == MT_KIND_INDEX)
		ret = restack_index(&nm, env, &root, 0, rb_child, &r, 0, NULL, "rebase", e);
	else
		ret = rb_image(&nm, &r, &root, NULL, 0, e);
	if (ret < 0)
		goto out;
	/* the root last, by tag (else by its digest): the tag never names
	 * something incomplete */
	env->n_manifest_requests++;
	ret = reg_manifest_put(out, r.reg, dst->repository, dst->tag ? dst->tag : nm.digest.str,
			       nm.media_type, nm.raw.data, nm.raw.len, e);
	if (ret == 0)
		env_log(env, 1, "rebase: manifest %s as %s/%s:%s", nm.digest.str, dst->registry,
			  dst->repository, dst->tag ? dst->tag : nm.digest.str);
out:
	manifest_release(&root);
	manifest_release(&nm);
	return ret;
}

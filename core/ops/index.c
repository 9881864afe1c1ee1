/* index.c - index filter and append.  See index.h. */
#include "core/ops/index.h"

#include "core/base/err.h"
#include "core/base/strvec.h"
#include "core/model/imgconfig.h"
#include "core/ops/copy.h"
#include "core/ops/env.h"
#include "core/base/json.h"
#include "core/model/manifest.h"
#include "core/model/platform.h"
#include "core/model/ref.h"
#include "registry/reg_manifest.h"
#include "core/ops/resolve.h"

#include <stdlib.h>
#include <string.h>

/* One child of the index being made, and the repository it lives in. */
struct ix_child {
	const struct ref *src;	/* borrowed: its registry and repository */
	struct digest digest;
};

struct ix {
	struct json *doc;	/* the index document */
	struct json *arr;	/* borrowed: doc's "manifests" */
	char *media_type;
	struct ix_child *kids;
	size_t n_kids, cap_kids;
};

static void ix_release(struct ix *x)
{
	json_free(x->doc);
	free(x->media_type);
	free(x->kids);
	memset(x, 0, sizeof(*x));
}

static int ix_kid_add(struct ix *x, const struct ref *src, const struct digest *d,
		      struct err *e)
{
	if (x->n_kids == x->cap_kids) {
		size_t cap = x->cap_kids ? x->cap_kids * 2 : 8;
		struct ix_child *k = realloc(x->kids, cap * sizeof(*k));

		if (!k)
			return err_set(e, ERR_NOMEM, "out of memory");
		x->kids = k;
		x->cap_kids = cap;
	}
	x->kids[x->n_kids].src = src;
	x->kids[x->n_kids].digest = *d;
	x->n_kids++;
	return 0;
}

/* Takes the document of index `m` as the start (its bytes parsed, so every
 * member is kept). */
static int ix_from_index(struct ix *x, const struct manifest *m, struct err *e)
{
	int ret;

	if ((ret = json_parse(&x->doc, m->raw.data, m->raw.len, e)) < 0)
		return ret;
	x->arr = json_get(x->doc, "manifests");
	if (json_kind_of(x->arr) != JSON_ARRAY || json_array_len(x->arr) != m->n_manifests)
		return err_set(e, ERR_INVALID, "index %s: unexpected manifests array",
			       m->digest.str);
	x->media_type = strdup(m->media_type ? m->media_type : MT_OCI_INDEX);
	if (!x->media_type)
		return err_set(e, ERR_NOMEM, "out of memory");
	return 0;
}

static int ix_empty(struct ix *x, const char *media_type, struct err *e)
{
	x->doc = json_new_object();
	x->media_type = strdup(media_type);
	if (!x->doc || !x->media_type || json_set_int64(x->doc, "schemaVersion", 2) < 0 ||
	    json_set_str(x->doc, "mediaType", media_type) < 0 ||
	    json_set(x->doc, "manifests", json_new_array()) < 0)
		return err_set(e, ERR_NOMEM, "out of memory");
	x->arr = json_get(x->doc, "manifests");
	return 0;
}

/* A Docker manifest list names Docker manifests and lists only. */
static int ix_check_type(const struct ix *x, const char *child_mt, const char *what,
			 struct err *e)
{
	if (!mediatype_equal(x->media_type, MT_DOCKER_LIST))
		return 0;
	if (mediatype_equal(child_mt, MT_DOCKER_MANIFEST) || mediatype_equal(child_mt, MT_DOCKER_LIST))
		return 0;
	return err_set(e, ERR_USAGE, "%s is %s: a Docker manifest list cannot hold it; "
		       "start from an OCI index (no --docker-empty-base)", what,
		       child_mt ? child_mt : "without a media type");
}

/* Copies each child the destination repository lacks, then puts the index. */
static int ix_publish(struct digest *out, struct env *env, struct ix *x,
		      const struct ref *dst, struct err *e)
{
	const struct platform *saved = env->platform;
	struct buf data = BUF_INIT;
	struct descriptor have;
	struct digest d;
	struct reg *r;
	size_t i, j;
	int ret, rc;

	descriptor_init(&have);
	env->platform = NULL;	/* copy_image() must copy children whole */
	if ((ret = json_serialize(&data, x->doc, 0, e)) < 0 ||
	    (ret = digest_buffer(&d, DIGEST_SHA256, data.data, data.len, e)) < 0 ||
	    (ret = env_reg(&r, env, dst->registry, e)) < 0)
		goto out;
	for (i = 0; i < x->n_kids; i++) {
		struct ref to = *dst, from = *x->kids[i].src;

		for (j = 0; j < i; j++)
			if (digest_equal(&x->kids[j].digest, &x->kids[i].digest))
				break;
		if (j < i)
			continue;
		to.tag = NULL;
		to.digest = x->kids[i].digest.str;
		from.tag = NULL;
		from.digest = x->kids[i].digest.str;
		descriptor_release(&have);
		rc = reg_manifest_head(&have, r, &to, e);
		if (rc == 0) {
			env_log(env, 1, "index: %s is in %s/%s already", to.digest,
				  dst->registry, dst->repository);
			continue;
		}
		if (rc != ERR_NOT_FOUND) {
			ret = rc;
			goto out;
		}
		err_clear(e);
		env_log(env, 1, "index: copying %s from %s/%s", to.digest, from.registry,
			  from.repository);
		if ((ret = copy_image(NULL, env, &from, &to, 0, e)) < 0)
			goto out;
	}
	ret = reg_manifest_put(NULL, r, dst->repository, dst->tag ? dst->tag : d.str,
			       x->media_type, data.data, data.len, e);
	if (ret < 0)
		goto out;
	env_log(env, 1, "index: pushed %s (%zu bytes) to %s/%s", d.str, data.len,
		  dst->registry, dst->repository);
	if (out)
		*out = d;
	ret = 0;
out:
	env->platform = saved;
	descriptor_release(&have);
	buf_release(&data);
	return ret;
}

static int ix_match(const struct platform *want, size_t n_want, const struct platform *have_raw)
{
	struct platform have;
	size_t i;
	int ok = 0;

	if (!have_raw)
		return 0;
	platform_init(&have);
	if (platform_copy(&have, have_raw) < 0 || platform_normalize(&have) < 0 || !have.os) {
		platform_release(&have);
		return 0;
	}
	for (i = 0; i < n_want && !ok; i++) {
		if (want[i].arch)
			ok = platform_match(&want[i], &have);
		else
			ok = !strcmp(want[i].os, have.os) &&
			     (!want[i].os_version ||
			      (have.os_version && !strcmp(want[i].os_version, have.os_version)));
	}
	platform_release(&have);
	return ok;
}

static int ix_resolve_index(struct manifest *out, struct env *env, const struct ref *ref,
			    struct err *e)
{
	int ret;

	if ((ret = resolve_ref(out, env, ref, e)) < 0)
		return ret;
	if (out->kind != MT_KIND_INDEX)
		return err_set(e, ERR_INVALID, "%s is an image (%s), not an index", out->digest.str,
			       out->media_type);
	return 0;
}

int index_filter(struct digest *out, struct env *env, const struct ref *src,
		       const struct platform *want, size_t n_want, const struct ref *dst,
		       struct err *e)
{
	struct manifest m;
	struct ix x;
	size_t i;
	int ret;

	manifest_init(&m);
	memset(&x, 0, sizeof(x));
	if ((ret = ix_resolve_index(&m, env, src, e)) < 0 ||
	    (ret = ix_from_index(&x, &m, e)) < 0)
		goto out;
	for (i = m.n_manifests; i-- > 0;) {
		const struct descriptor *d = &m.manifests[i];

		if (!ix_match(want, n_want, d->platform)) {
			if ((ret = json_array_del(x.arr, i)) < 0) {
				err_set(e, ret, "out of memory");
				goto out;
			}
			continue;
		}
		if ((ret = ix_kid_add(&x, src, &d->digest, e)) < 0)
			goto out;
	}
	if (!x.n_kids) {
		ret = err_set(e, ERR_NOT_FOUND, "no image of the index %s matches the platforms "
			      "given", m.digest.str);
		goto out;
	}
	ret = ix_publish(out, env, &x, dst, e);
out:
	manifest_release(&m);
	ix_release(&x);
	return ret;
}

/* Appends a descriptor of manifest `m` of repository `ref` (platform p,
 * borrowed, may be NULL) and records it as a child. */
static int ix_append_self(struct ix *x, const struct ref *ref, const struct manifest *m,
			  struct platform *p, struct err *e)
{
	struct descriptor d;
	int ret;

	descriptor_init(&d);
	d.platform = p;
	d.media_type = m->media_type;
	d.digest = m->digest;
	d.size = (int64_t)m->raw.len;
	if ((ret = json_append(x->arr, descriptor_to_json(&d))) < 0) {
		err_set(e, ERR_NOMEM, "out of memory");
		goto out;
	}
	ret = ix_kid_add(x, ref, &m->digest, e);
out:
	/* d borrowed everything */
	kvlist_release(&d.annotations);
	strvec_clear(&d.urls);
	return ret;
}

/* Appends image `m` of repository `ref`, its platform from its config. */
static int ix_append_image(struct ix *x, struct env *env, const struct ref *ref,
			   const struct manifest *m, struct err *e)
{
	struct imgconfig cfg;
	struct platform *p = NULL;
	struct buf raw = BUF_INIT;
	int ret;

	imgconfig_init(&cfg);
	if ((ret = ix_check_type(x, m->media_type, m->digest.str, e)) < 0)
		goto out;
	if (manifest_is_image(m)) {	/* an artifact has no platform */
		if ((ret = resolve_blob(&raw, env, ref, &m->config, 0, e)) < 0 ||
		    (ret = imgconfig_parse(&cfg, raw.data, raw.len, 0, e)) < 0) {
			err_prefix(e, "image %s", m->digest.str);
			goto out;
		}
		p = &cfg.platform;
	}
	ret = ix_append_self(x, ref, m, p, e);
out:
	buf_release(&raw);
	imgconfig_release(&cfg);
	return ret;
}

/* Appends index `m` of repository `ref`: its children, or itself. */
static int ix_append_index(struct ix *x, const struct ref *ref, const struct manifest *m,
			   unsigned flags, struct err *e)
{
	struct json *doc = NULL, *arr;
	size_t i;
	int ret;

	if (flags & INDEX_NO_FLATTEN) {
		if ((ret = ix_check_type(x, m->media_type, m->digest.str, e)) < 0)
			goto out;
		ret = ix_append_self(x, ref, m, NULL, e);
		goto out;
	}
	if ((ret = json_parse(&doc, m->raw.data, m->raw.len, e)) < 0)
		goto out;
	arr = json_get(doc, "manifests");
	if (json_array_len(arr) != m->n_manifests) {
		ret = err_set(e, ERR_INVALID, "index %s: unexpected manifests array",
			      m->digest.str);
		goto out;
	}
	for (i = 0; i < m->n_manifests; i++) {
		if ((ret = ix_check_type(x, m->manifests[i].media_type,
					 m->manifests[i].digest.str, e)) < 0)
			goto out;
		if ((ret = json_append(x->arr, json_copy(json_array_get(arr, i)))) < 0) {
			err_set(e, ERR_NOMEM, "out of memory");
			goto out;
		}
		if ((ret = ix_kid_add(x, ref, &m->manifests[i].digest, e)) < 0)
			goto out;
	}
	ret = 0;
out:
	json_free(doc);
	return ret;
}

int index_append(struct digest *out, struct env *env, const struct ref *base,
		       const struct ref *adds, size_t n_adds, const struct ref *dst,
		       unsigned flags, struct err *e)
{
	struct manifest m;
	struct ix x;
	size_t i;
	int ret;

	manifest_init(&m);
	memset(&x, 0, sizeof(x));
	if (base) {
		if ((ret = ix_resolve_index(&m, env, base, e)) < 0 ||
		    (ret = ix_from_index(&x, &m, e)) < 0)
			goto out;
		for (i = 0; i < m.n_manifests; i++)
			if ((ret = ix_kid_add(&x, base, &m.manifests[i].digest, e)) < 0)
				goto out;
	} else {
		ret = ix_empty(&x, flags & INDEX_DOCKER_EMPTY_BASE ? MT_DOCKER_LIST : MT_OCI_INDEX,
			       e);
		if (ret < 0)
			goto out;
	}
	for (i = 0; i < n_adds; i++) {
		manifest_release(&m);
		if ((ret = resolve_ref(&m, env, &adds[i], e)) < 0)
			goto out;
		if (m.kind == MT_KIND_INDEX)
			ret = ix_append_index(&x, &adds[i], &m, flags, e);
		else
			ret = ix_append_image(&x, env, &adds[i], &m, e);
		if (ret < 0)
			goto out;
	}
	ret = ix_publish(out, env, &x, dst, e);
out:
	manifest_release(&m);
	ix_release(&x);
	return ret;
}

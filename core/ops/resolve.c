/* resolve.c - references to manifests and small blobs under the cache
 * contract.  See resolve.h. */
#include "core/ops/resolve.h"

#include "cache/blob.h"
#include "cache/layout.h"
#include "cache/usage.h"
#include "core/base/err.h"
#include "core/model/ref.h"
#include "core/model/settings.h"
#include "registry/reg.h"
#include "registry/reg_blob.h"
#include "registry/reg_manifest.h"
#include "core/ops/env.h"

#include <stdlib.h>
#include <string.h>

#define CONFIG_MAX_DEFAULT (8u << 20)

/* "registry/repository", the source recorded for blobs and the key of
 * metadata entries' names. */
static int ref_source(struct buf *out, const struct ref *ref)
{
	return ref_format_name(out, ref);
}

int resolve_offline_miss(struct env *env, const char *what, const struct digest *d,
		       const char *source, struct err *e)
{
	if (env->cache && blob_stat(NULL, env->cache, d, e) == ERR_INVALID)
		return err_prefix(e, "%s %s of '%s' cannot be read from the cache", what, d->str,
				  source);
	return err_set(e, ERR_NOT_FOUND, "%s %s of '%s' is not in the cache, and --offline "
		       "forbids asking the registry", what, d->str, source);
}

/* Reads manifest `d` from the cache, when present; 1 when found, 0 when
 * not there, < 0 on error (a corrupt blob is an error, not a miss). */
static int cache_manifest(struct manifest *out, struct env *env, const struct digest *d,
			  const char *hint, struct err *e)
{
	struct buf raw = BUF_INIT;
	size_t max = env->reg_opts.manifest_max ? env->reg_opts.manifest_max
						: MANIFEST_MAX_DEFAULT;
	int rc;

	if (!env->cache || !blob_has(env->cache, d, -1))
		return 0;
	rc = blob_read(&raw, env->cache, d, max, e);
	if (rc == 0)
		rc = manifest_parse(out, raw.data, raw.len, hint, max, e);
	buf_release(&raw);
	if (rc < 0) {
		err_prefix(e, "cached manifest %s", d->str);
		return rc;
	}
	return 1;
}

/* Stores a manifest fetched from the registry in the cache and records it
 * as a metadata entry named `name`, unless index.json already names it (a
 * complete image is never demoted by an inspection; pull replaces it).
 * Failures to cache are not failures of the operation: logged only. */
static void cache_record(struct env *env, const struct manifest *m, const char *name,
			 const char *source)
{
	struct descriptor have, d;
	struct err e = ERR_INIT;
	int held = 0;

	if (!env->cache)
		return;
	descriptor_init(&have);
	descriptor_init(&d);
	if (layout_index_find_in(&have, env->cache, LAYOUT_INDEX_MAIN, name, NULL) == 0)
		goto out;	/* pull owns this name */
	descriptor_release(&have);
	descriptor_init(&have);
	if (blob_has(env->cache, &m->digest, (int64_t)m->raw.len) &&
	    layout_index_find_in(&have, env->cache, LAYOUT_INDEX_META, name, NULL) == 0 &&
	    digest_equal(&have.digest, &m->digest))
		goto out;	/* already recorded */
	/* A lease from the blob write to the index entry, so gc cannot remove
	 * the blob in between (cache/layout.c explains the protocol). */
	if (layout_lease_begin(env->cache, -1, &e) < 0)
		goto fail;
	held = 1;
	if (blob_put(NULL, env->cache, m->raw.data, m->raw.len, &m->digest, &e) < 0)
		goto fail;
	d.media_type = strdup(m->media_type);
	d.digest = m->digest;
	d.size = (int64_t)m->raw.len;
	if (!d.media_type ||
	    layout_index_set_in(env->cache, LAYOUT_INDEX_META, name, &d, &e) < 0)
		goto fail;
	blob_source_add(env->cache, &m->digest, source, NULL);
	goto out;
fail:
	env_log(env, 1, "cannot record '%s' in the cache: %s", name, e.msg);
out:
	if (held)
		layout_lease_end(env->cache);
	descriptor_release(&have);
	descriptor_release(&d);
}

/* The cache's record of the tag `name` (its digest and media type in
 * `out`), which --offline and pull policy "never" go by. */
static int resolve_offline_tag(struct descriptor *out, struct env *env, const char *name,
			       struct err *e)
{
	enum layout_index which;
	int rc;

	rc = layout_ref_resolve(out, &which, env->cache, name, e);
	if (rc == ERR_NOT_FOUND)
		return err_set(e, ERR_NOT_FOUND, "'%s' is not in the cache, and --offline "
			       "forbids asking the registry: run once without --offline, or "
			       "name the image by digest", name);
	if (rc < 0)
		return rc;
	env_log(env, 1, "offline: %s is %s (from the cache)", name, out->digest.str);
	return 0;
}

/* GETs manifest `want` of `ref`'s repository (by digest: the client checks
 * the bytes hash to it, so a tag that moved between HEAD and GET cannot
 * give mixed answers). */
static int resolve_get(struct manifest *out, struct env *env, struct reg *r,
		       const struct ref *ref, const struct digest *want, const char *name,
		       struct err *e)
{
	struct ref byd = *ref;
	int ret;

	byd.tag = NULL;
	byd.digest = (char *)want->str;
	env->n_manifest_requests++;
	if ((ret = reg_manifest_get(out, r, &byd, e)) < 0)
		return ret;
	if (!digest_equal(&out->digest, want))
		return err_set(e, ERR_DIGEST, "registry sent manifest %s for '%s', which "
			       "should be %s", out->digest.str, name, want->str);
	return 0;
}

int resolve_ref(struct manifest *out, struct env *env, const struct ref *ref,
		  struct err *e)
{
	struct buf name = BUF_INIT, source = BUF_INIT;
	struct descriptor d;
	struct digest want;
	struct reg *r = NULL;
	int ret = -1, rc;
	int no_net = env->offline || env->pull == PULL_NEVER;

	manifest_init(out);
	descriptor_init(&d);
	if (ref_format(&name, ref) < 0 || ref_source(&source, ref) < 0) {
		ret = err_set(e, ERR_NOMEM, "out of memory");
		goto out;
	}
	if (ref->digest) {
		if ((ret = digest_parse(&want, ref->digest, e)) < 0)
			goto out;
	} else if (no_net && env->cache) {
		/* A tag: the network tells what it points at now, unless there is
		 * no network; then the cache's record of it does. */
		if ((ret = resolve_offline_tag(&d, env, name.data, e)) < 0)
			goto out;
		want = d.digest;
	} else if (no_net) {
		ret = err_set(e, ERR_USAGE, "'%s' needs the registry, but --offline forbids "
			      "the network and there is no cache", name.data);
		goto out;
	} else {
		if ((ret = env_reg(&r, env, ref->registry, e)) < 0)
			goto out;
		env->n_manifest_requests++;
		if (!env->cache) {
			/* No cache to serve it: one GET by tag does it all. */
			ret = reg_manifest_get(out, r, ref, e);
			goto out;
		}
		/* One HEAD tells the digest; the cache may then have the rest. */
		if ((ret = reg_manifest_head(&d, r, ref, e)) < 0)
			goto out;
		want = d.digest;
	}
	rc = cache_manifest(out, env, &want, d.media_type, e);
	if (rc < 0) {
		ret = rc;
		goto out;
	}
	if (rc == 1) {
		env_log(env, 1, "cache hit: %s@%s", source.data, want.str);
		usage_touch(env->cache, name.data);
		if (!ref->digest)
			cache_record(env, out, name.data, source.data);
		ret = 0;
		goto out;
	}
	if (no_net) {
		ret = resolve_offline_miss(env, "manifest", &want, name.data, e);
		goto out;
	}
	if ((!r && (ret = env_reg(&r, env, ref->registry, e)) < 0) ||
	    (ret = resolve_get(out, env, r, ref, &want, name.data, e)) < 0)
		goto out;
	cache_record(env, out, name.data, source.data);
	ret = 0;
out:
	if (ret < 0)
		manifest_release(out);
	descriptor_release(&d);
	buf_release(&name);
	buf_release(&source);
	return ret;
}

int resolve_image(struct manifest *out, struct manifest *out_index,
			struct env *env, const struct ref *ref,
			const struct platform *platform, struct err *e)
{
	struct platform def = PLATFORM_INIT;
	struct manifest idx;
	const struct descriptor *child;
	struct buf want = BUF_INIT;
	struct ref cref;
	int ret;

	if (out_index)
		manifest_init(out_index);
	manifest_init(out);
	if ((ret = resolve_ref(&idx, env, ref, e)) < 0)
		return ret;
	if (idx.kind != MT_KIND_INDEX) {
		*out = idx;	/* a move: idx is not used again */
		return 0;
	}
	if (!platform)
		platform = env->platform;
	if (!platform) {
		if ((ret = platform_parse(&def, "linux/amd64", e)) < 0)
			goto out;
		platform = &def;
	}
	child = manifest_index_find(&idx, platform);
	if (!child) {
		platform_format(&want, platform);
		ret = err_set(e, ERR_NOT_FOUND, "'%s' has no image for platform %s: pick one "
			      "of its platforms with --platform", ref->repository, want.data);
		goto out;
	}
	cref = *ref;
	cref.tag = NULL;
	cref.digest = (char *)child->digest.str;
	if ((ret = resolve_ref(out, env, &cref, e)) < 0)
		goto out;
	if (out->kind != MT_KIND_MANIFEST) {
		manifest_release(out);
		ret = err_set(e, ERR_UNSUPPORTED, "the child %s of '%s' is not an image "
			      "manifest", child->digest.str, ref->repository);
		goto out;
	}
	ret = 0;
out:
	if (ret == 0 && out_index) {
		*out_index = idx;
		manifest_init(&idx);
	}
	manifest_release(&idx);
	platform_release(&def);
	buf_release(&want);
	return ret;
}

struct buf_sink {
	struct buf *out;
};

static int sink_to_buf(void *arg, const char *data, size_t len, struct err *e)
{
	struct buf_sink *s = arg;

	if (buf_add(s->out, data, len) < 0)
		return err_set(e, ERR_TOO_BIG, "blob is larger than %zu bytes", s->out->max);
	return 0;
}

int resolve_blob(struct buf *out, struct env *env, const struct ref *ref,
		    const struct descriptor *d, size_t max, struct err *e)
{
	struct buf_sink s = { out };
	struct buf source = BUF_INIT;
	struct reg *r;
	struct err ce = ERR_INIT;
	size_t start = out->len, oldmax = out->max;
	int ret;

	if (!max)
		max = CONFIG_MAX_DEFAULT;
	if (d->size > (int64_t)max)
		return err_set(e, ERR_TOO_BIG, "blob %s of %lld bytes is larger than the %zu "
			       "allowed", d->digest.str, (long long)d->size, max);
	if (env->cache && blob_has(env->cache, &d->digest, d->size)) {
		env_log(env, 2, "cache hit: blob %s", d->digest.str);
		return blob_read(out, env->cache, &d->digest, max, e);
	}
	if (env->offline || env->pull == PULL_NEVER)
		return resolve_offline_miss(env, "blob", &d->digest, ref->repository, e);
	if ((ret = env_reg(&r, env, ref->registry, e)) < 0)
		return ret;
	out->max = start + max;
	env->n_blob_requests++;
	ret = reg_blob_get(r, ref->repository, d, sink_to_buf, &s, e);
	out->max = oldmax;
	if (ret < 0) {
		buf_setlen(out, start);
		return ret;
	}
	if (env->cache) {
		/* The blob is only a config or manifest read for inspection: the
		 * metadata entry naming its manifest keeps it from gc. */
		if (layout_lease_begin(env->cache, -1, &ce) == 0) {
			if (blob_put(NULL, env->cache, out->data + start, out->len - start,
					    &d->digest, &ce) == 0 &&
			    ref_source(&source, ref) == 0)
				blob_source_add(env->cache, &d->digest, source.data, NULL);
			layout_lease_end(env->cache);
		}
		if (ce.code)
			env_log(env, 1, "cannot cache blob %s: %s", d->digest.str, ce.msg);
	}
	buf_release(&source);
	return 0;
}

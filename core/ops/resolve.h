/* resolve.h - references to manifests, and small blobs, under the cache
 * contract (ko's image cache, done right): a reference by digest the cache
 * holds costs no request; a tag costs one manifest HEAD, then is served by
 * digest from the cache (a GET only for what it lacks); --offline (and pull
 * policy "never") resolves a tag from the cache's record of it (index.json,
 * then .hoist/meta-index.json) and fails clearly without one.  What is
 * fetched for inspection is recorded as a metadata-only entry (index.json
 * names complete images only), and each blob's source (registry/repository)
 * so that a later push to that registry can mount it.
 */
#ifndef HOIST_RESOLVE_H
#define HOIST_RESOLVE_H

#include "core/base/buf.h"
#include "core/model/manifest.h"
#include "core/ops/env.h"

#include <stddef.h>

struct digest;
struct err;
struct platform;
struct ref;

/* Resolves `ref` to its manifest (image or index, exact bytes) following
 * the cache contract.  With env->cache set, a manifest fetched from the
 * registry is stored as a blob and recorded as a metadata-only entry under
 * the reference's full name (unless a complete entry exists).  The
 * manifest's digest is checked in every case. */
int resolve_ref(struct manifest *out, struct env *env, const struct ref *ref,
		  struct err *e);

/* As resolve_ref(), then, when the result is an index, picks the child
 * for `platform` (NULL: env->platform, else linux/amd64 as crane does) and
 * resolves that.  `out_index` (may be NULL) receives the index when there
 * was one (kind MT_KIND_INDEX) or is left initialised-empty. */
int resolve_image(struct manifest *out, struct manifest *out_index,
			struct env *env, const struct ref *ref,
			const struct platform *platform, struct err *e);

/* Reads a small blob (a config, a manifest) of repository `ref` into
 * `out`: from the cache when present (verified), else from the registry
 * (verified, then stored in the cache and its source recorded).  `max`
 * caps the size (0: 8 MiB). */
int resolve_blob(struct buf *out, struct env *env, const struct ref *ref,
		    const struct descriptor *d, size_t max, struct err *e);

/* The error for `what` ("blob", "manifest") `d` of `source` that an
 * --offline run needs and env->cache lacks: ERR_NOT_FOUND saying --offline
 * forbids asking the registry, or ERR_INVALID naming the link or other
 * non-regular file the cache holds under its name.  Returns the code. */
int resolve_offline_miss(struct env *env, const char *what, const struct digest *d,
		       const char *source, struct err *e);

#endif

/* pull.h - references into an OCI layout (the cache or any other), under
 * the cache contract (core/ops/resolve.h): what the cache has is copied,
 * the rest downloaded in parallel, every blob verified before it is named.
 */
#ifndef HOIST_PULL_H
#define HOIST_PULL_H

#include "core/model/manifest.h"

#include <stddef.h>

struct env;
struct err;
struct layout;
struct ref;

enum pull_flags {
	/* An index resolves to one image (env->platform, else linux/amd64),
	 * as with --platform: for outputs that hold images only (tarballs). */
	PULL_SINGLE = 1 << 0,
};

/* One pulled reference. */
struct pull_result {
	char *name;		/* fully-qualified reference, the index.json ref name */
	struct descriptor desc;	/* what the entry points at: image or index */
};

/* Pulls refs[0..n) into the layout `dst` (the cache or any other layout),
 * one after the other, following the cache contract.  Each reference is
 * stored whole: an index with every child manifest, config and layer
 * (nested indexes too), unless env->platform (or PULL_SINGLE) picks
 * one image, which is then stored as the entry (as crane pull --platform
 * does).  Blobs present in `dst` at their size are kept; blobs the cache
 * has (when dst is not the cache) are copied from it through a verifying
 * writer; the rest are downloaded in parallel (env->jobs requests over
 * the one curl multi handle), the bytes coalesced into env->jobs + 2 slots
 * of 256 KiB and hashed and written by two writer threads (memory does not
 * grow with the image), each blob hashed once and committed only when size
 * and digest match.  The blob sources ("registry/repository") are
 * recorded, configs are added to the cache too, and one index.json entry
 * named by the fully-qualified reference is set (replacing an older entry
 * of that name; an identical one is only touched), all under a lease.
 * `out` (n entries, need not be initialised) gets each reference's name and
 * descriptor; release it with pull_result_release() whatever the result.
 * On failure the references before the failing one are complete; the
 * failing one has no index entry, and no blob under a wrong name. */
int pull_images(struct pull_result *out, struct env *env, const struct ref *refs, size_t n,
	       struct layout *dst, unsigned flags, struct err *e);
void pull_result_release(struct pull_result *p, size_t n);

/* Makes `dst` hold the blobs of `base` (by digest) through the cache,
 * as pull_images() with `flags`, without leaving an index.json entry for
 * it in a layout that is not the cache (an entry there before is kept).
 * Errors are prefixed "base image". */
int pull_base(struct env *env, const struct ref *base, unsigned flags,
		    struct layout *dst, struct err *e);

#endif

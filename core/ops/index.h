/* index.h - new image indexes from existing images, registry to
 * registry: `hoist index filter` and `hoist index append` (crane index).
 *
 * Both read every manifest and config through the cache contract
 * (core/ops/resolve.h) and never download a layer: each child the destination
 * repository lacks (a manifest HEAD by digest) is copied there with
 * copy_image(), so its blobs are mounted within one registry and streamed
 * between two.  The index itself is pushed last, by dst's tag (or by its
 * own digest when dst names only a digest).  Children are kept byte for
 * byte: their descriptors are the source's JSON, not re-serialised.
 */
#ifndef HOIST_INDEX_H
#define HOIST_INDEX_H

#include "core/base/digest.h"

#include <stddef.h>

struct err;
struct env;
struct platform;
struct ref;

/* Pushes to `dst` the index `src` with only the children whose platform
 * satisfies one of want[0..n_want): os and arch equal after normalisation,
 * the variant when want names one (arm64 and arm64/v8 alike), os.version
 * when want has one; a want without arch (arch NULL) matches on the os
 * alone, as crane's "--platform linux".  Children without a platform are
 * dropped.  The index keeps its media type, annotations and every other
 * member.  ERR_INVALID when src is an image, ERR_NOT_FOUND when nothing
 * matches.  `out` receives the new index's digest. */
int index_filter(struct digest *out, struct env *env, const struct ref *src,
		       const struct platform *want, size_t n_want, const struct ref *dst,
		       struct err *e);

enum index_append_flags {
	/* Without a base, start from an empty Docker manifest list instead of
	 * an empty OCI index (crane's --docker-empty-base). */
	INDEX_DOCKER_EMPTY_BASE = 1 << 0,
	/* Append an index as one child instead of its children (crane's
	 * --flatten=false). */
	INDEX_NO_FLATTEN = 1 << 1,
};

/* Pushes to `dst` the index `base` (NULL: an empty one; ERR_INVALID when
 * an image) with adds[0..n)
 * appended in order: an image as one child whose platform comes from its
 * config (left out when the config is not an image config); an index's
 * children (or the index itself with INDEX_NO_FLATTEN).  A Docker manifest
 * list takes Docker manifests and lists only: an OCI child is refused with
 * ERR_USAGE (use an OCI base); an OCI index takes both.  `out` receives the
 * new index's digest. */
int index_append(struct digest *out, struct env *env, const struct ref *base,
		       const struct ref *adds, size_t n_adds, const struct ref *dst,
		       unsigned flags, struct err *e);

#endif

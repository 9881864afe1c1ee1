/* build.h - building images without a container runtime (ko, crane
 * append/mutate, the runtime-free part of buildah build): a struct
 * build_spec (core/ops/build_spec.h) made into layers, a config and a
 * manifest in an OCI layout, one image per platform and an index over
 * them, then pushed.
 */
#ifndef HOIST_BUILD_H
#define HOIST_BUILD_H

#include "core/base/strvec.h"
#include "core/format/tar.h"
#include "core/base/buf.h"
#include "core/format/layer.h"
#include "core/base/digest.h"
#include "core/model/manifest.h"
#include "core/model/platform.h"
#include "core/model/ref.h"
#include "core/ops/build_spec.h"

#include <stddef.h>

struct env;
struct err;
struct layout;

/* The default gzip level of built layers: 1, as go-containerregistry (ko,
 * crane append) writes them (gzip.BestSpeed): level 6 runs at ~13 MB/s on
 * binaries, level 1 several times faster for a few percent more bytes. */
#define BUILD_GZIP_LEVEL_DEFAULT 1

enum build_flags {
	BUILD_WITH_BASE = 1 << 0,	/* the layout gets the base's blobs too */
};

struct build_result {
	struct manifest manifest;	/* what was built (bytes hoist wrote) */
	struct ref base;		/* the base image by digest, or all NULL */
	struct digest config_digest;
	struct platform platform;	/* the built config's os/architecture/variant */
};

void build_result_init(struct build_result *r);
void build_result_release(struct build_result *r);

/* Builds `s` into the layout `dst` (blobs only: no index entry is set):
 * the new layers (core/format/layer.h: deterministic), the mutated config
 * and a new manifest; with BUILD_WITH_BASE it first makes the layout hold
 * the base image's blobs too (pull_base(): through the cache, zero network
 * requests when the cache has it).  The config: rootfs.diff_ids get the
 * new layers' diff_ids, history one entry per step (created_by describes
 * it, "hoist" as comment), `created` (top level and history) is
 * s->created (SOURCE_DATE_EPOCH, read by cmd/; 0 = 1970-01-01T00:00:00Z).
 * The manifest gets the annotations org.opencontainers.image.base.name and
 * .digest (when there is a base) and s->annotations.  Media types are the
 * base's family, but a Docker base gives an OCI image when a layer is zstd
 * or s->annotations is not empty, and a Docker manifest has no annotations
 * (manifest_json_family()).  Same spec, same inputs: same digests.  `out`
 * must be initialised. */
int build_image(struct build_result *out, struct env *env, const struct build_spec *s,
		struct layout *dst, unsigned flags, struct err *e);

/* Writes an index over the images r[0..n) (built into `dst` by
 * build_image(), one per platform) into `dst`: a Docker manifest list when
 * every image is a Docker one, else an OCI index; each entry carries its
 * image's platform.  `out` (initialised) receives it.  Same images, same
 * bytes. */
int build_index(struct manifest *out, const struct build_result *r, size_t n,
		      struct layout *dst, struct err *e);

/* As build_push() for several built images (the children of an
 * index) pushed as the index `root` in `src`: every image's base layers
 * first, then push_root() (children by digest, then the index). */
int build_push_all(struct digest *out, struct env *env,
			 const struct build_result *r, size_t n, struct layout *src,
			 const struct descriptor *root, const struct ref *dst, struct err *e);

/* Pushes the built image `root` (its manifest), whose new blobs and
 * manifest are in `src`, to the target `dst` (its tag, or its digest):
 * base blobs are mounted when base and target share a registry, else
 * copied registry to registry by copy_image() (streamed, never written to
 * disk); the new blobs are uploaded from `src` by push_root().  Nothing the
 * target already has is uploaded.  `out` receives the digest pushed. */
int build_push(struct digest *out, struct env *env, const struct build_result *r,
		     struct layout *src, const struct descriptor *root, const struct ref *dst,
		     struct err *e);

#endif

/* build.h - building images without a container runtime (ko, crane
 * append/mutate, the runtime-free part of buildah build).
 *
 * A `struct build_spec` says what to build: a base image (or none: an
 * empty base with OCI media types), an ordered list of steps (a step is a
 * new layer made of `--add SRC:DST` specs, or a config-only step that is
 * recorded in history with empty_layer), and the config changes.  It is
 * filled from command-line flags by cmd/build.c, or from a Containerfile
 * by build_spec_from_containerfile().
 *
 * build_image() writes the new layers (core/format/layer.h: deterministic), the
 * mutated config and a new manifest into a layout; with BUILD_WITH_BASE it
 * first makes the layout hold the base image's blobs too (pull_images()
 * of the base by digest: through the cache, zero network requests when the
 * cache has it).  build_push() then pushes the result: base blobs are
 * copied registry to registry by copy_image() (mounted when base and target
 * share a registry, streamed otherwise, never written to disk), the new
 * blobs uploaded from the layout by push_root(); nothing the target
 * already has is uploaded.
 *
 * The config: rootfs.diff_ids get the new layers' diff_ids, history one
 * entry per step (created_by describes it, "hoist" as comment), `created`
 * (top level and history) is spec->created (SOURCE_DATE_EPOCH, read by
 * cmd/; 0 = 1970-01-01T00:00:00Z).  The manifest gets the annotations
 * org.opencontainers.image.base.name/.digest (when there is a base) and
 * spec->annotations.  Media types are the base's family, but a Docker base
 * gives an OCI image when a layer is zstd or spec->annotations is not
 * empty, and a Docker manifest has no annotations (manifest_json_family()).
 * Same spec, same inputs: same digests.
 */
#ifndef HOIST_BUILD_H
#define HOIST_BUILD_H

#include "core/format/archive.h"
#include "core/base/buf.h"
#include "core/ops/env.h"
#include "core/format/layer.h"
#include "core/model/manifest.h"
#include "core/model/ref.h"

#include <stddef.h>
#include <stdint.h>

struct containerfile;
struct err;
struct layout;

/* The default gzip level of built layers: 1, as go-containerregistry (ko,
 * crane append) writes them (gzip.BestSpeed): level 6 runs at ~13 MB/s on
 * binaries, level 1 several times faster for a few percent more bytes. */
#define BUILD_GZIP_LEVEL_DEFAULT 1

struct build_step {
	char *created_by;	/* history's created_by */
	int empty_layer;	/* 1: config only, no layer */
	struct layer_add *adds;	/* strings owned by the step */
	size_t n_adds;
	/* COPY --from: the adds' SRCs are paths (fnmatch patterns) in the
	 * flattened filesystem of an image, all with one DST: */
	char *from;		/* a reference, or NULL */
	size_t from_stage;	/* else 1 + an index into the spec's stages; 0: none */
};

struct build_spec {
	char *base;			/* reference, or NULL for the empty base */
	char *base_platform;		/* FROM --platform, or NULL (the target's) */
	/* the target platform "os/arch[/variant]" (multi-platform builds),
	 * or NULL: env->platform, else the base's (linux/amd64 for none) */
	char *platform;
	/* earlier Containerfile stages (FROM ... AS name) the steps COPY
	 * --from; NULL where unused.  Owned. */
	struct build_spec **stages;
	size_t n_stages;
	struct build_step *steps;
	size_t n_steps;
	/* config changes; strvecs/kvlists empty = unchanged */
	int set_entrypoint, set_cmd;
	struct strvec entrypoint, cmd;
	struct kvlist env, labels, annotations;
	struct strvec expose;		/* "80/tcp" */
	struct strvec volumes;
	char *workdir, *user, *stop_signal;	/* NULL = unchanged */
	int64_t created;		/* seconds since the epoch */
	/* layers */
	enum tar_compression compression;
	int level;			/* 0 = BUILD_GZIP_LEVEL_DEFAULT for gzip */
	layer_exclude_fn *exclude;	/* .dockerignore; may be NULL */
	void *exclude_arg;
	const char *tmpdir;		/* borrowed; NULL = "/var/tmp" */
	/* 1: build every layer (docker build --no-cache); else a layer whose
	 * inputs are unchanged since the cache last built it is reused */
	int no_cache;
};

void build_spec_init(struct build_spec *s);
void build_spec_release(struct build_spec *s);
/* Appends a step (a layer unless `empty_layer`) described by `created_by`. */
int build_spec_step(struct build_spec *s, const char *created_by, int empty_layer,
		    struct err *e);
/* Appends one SRC:DST (strings copied) to the last step, which must be a
 * layer step. */
int build_spec_add(struct build_spec *s, const struct layer_add *add, struct err *e);
/* --chown "user[:group]" (names or numbers) on `a`: numbers now
 * (LAYER_ADD_CHOWN), names later, looked up in the base image's /etc/passwd
 * and /etc/group when the layer is built (LAYER_ADD_CHOWN_NAME, a->owner =
 * `spec`, borrowed until build_spec_add copies it).  Docker's rule: a user
 * without a group gets its user ID as group ID.  ERR_INVALID. */
int build_add_owner(struct layer_add *a, const char *spec, struct err *e);
/* Makes the last step (a layer step) a COPY --from `from` (a reference;
 * copied) or, with `from` NULL, of stage `stage` (an index). */
int build_spec_step_from(struct build_spec *s, const char *from, size_t stage, struct err *e);
/* Sets K=V in the Env list (replacing an earlier K). */
int build_spec_env(struct build_spec *s, const char *key, const char *value, struct err *e);

/* Fills the initialised `s` from the last stage of a parsed Containerfile
 * whose COPY/ADD sources are relative to the directory `context` (globs
 * expanded there; sources must stay inside it).  Each COPY/ADD is a layer
 * step, every other instruction a config-only step.  COPY --from=NAME of an
 * earlier stage (by name or number) fills s->stages[i] for that stage
 * (recursively; stages nothing copies from are not looked at); any other
 * --from is an image reference.  FROM an earlier stage continues that
 * stage's spec (its base, steps and config changes, then this stage's). */
int build_spec_from_containerfile(struct build_spec *s, const struct containerfile *cf,
				  const char *context, struct err *e);

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

/* Builds into the layout `dst` (blobs only: no index entry is set).
 * `out` must be initialised. */
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
 * manifest are in `src`, to the target `dst` (its tag, or its digest).
 * `out` receives the digest pushed. */
int build_push(struct digest *out, struct env *env, const struct build_result *r,
		     struct layout *src, const struct descriptor *root, const struct ref *dst,
		     struct err *e);

#endif

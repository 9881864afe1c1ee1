/* mutate.h - crane append and crane mutate: an image's config and manifest
 * changed, layers given as tar files appended, every base layer kept.  A
 * mutate is a build with no layer of its own, an append a build whose
 * layers are tar files; images are read through the cache contract
 * (core/ops/resolve.h).
 */
#ifndef HOIST_MUTATE_H
#define HOIST_MUTATE_H

#include "core/base/strvec.h"
#include "core/format/tar.h"
#include "core/base/buf.h"
#include "core/ops/env.h"
#include "core/format/layer.h"
#include "core/model/manifest.h"
#include "core/model/ref.h"

#include <stdint.h>

struct err;
struct layout;

struct mutate_spec {
	char *base;			/* reference, or NULL: the empty base */
	int oci_empty_base;		/* the empty base with OCI media types
					 * (default Docker, as crane append) */
	int base_annotations;		/* set org.opencontainers.image.base.name/.digest */
	struct strvec layers;		/* tar files to append, in order */
	char *history_verb;		/* "hoist append"; NULL = "hoist mutate --append" */
	enum tar_compression compression;	/* for uncompressed tar files */
	int level;			/* 0 = BUILD_GZIP_LEVEL_DEFAULT for gzip */
	int64_t created;		/* history entries; seconds since the epoch */
	/* config changes: unset/empty = unchanged */
	int set_entrypoint, set_cmd;	/* an empty vector clears the value */
	struct strvec entrypoint, cmd;
	struct kvlist env, labels, annotations;
	struct strvec expose;		/* "80/tcp" */
	char *user, *workdir;
	char *set_platform;		/* "os/arch[/variant]", or NULL */
};

void mutate_spec_init(struct mutate_spec *s);
void mutate_spec_release(struct mutate_spec *s);

struct mutate_result {
	struct manifest manifest;	/* the new root: image or index (bytes written) */
	struct ref base;		/* the original root by digest, or all NULL */
};

void mutate_result_init(struct mutate_result *r);
void mutate_result_release(struct mutate_result *r);

enum mutate_flags {
	MUTATE_WITH_BASE = 1 << 0,	/* the layout gets the base's blobs too */
};

/* Writes the tar file `path` as a layer blob into `dst`:
 * - a gzip or zstd file is the blob unchanged; its diff_id is the sha256 of
 *   the decompressed stream, computed while the file is copied into the
 *   layout (one pass, memory independent of its size), and the tar inside
 *   is read to its end, so a file that is not a compressed tar is refused;
 * - an uncompressed tar is compressed as it is, byte for byte (its diff_id
 *   is the file's sha256), with `compression` and `level` (0: gzip level
 *   BUILD_GZIP_LEVEL_DEFAULT, deterministic: core/format/tar.h).
 * `out` (need not be initialised; released on failure) gets an OCI
 * descriptor and the diff_id.  ERR_NOT_FOUND/ERR_IO when the file cannot
 * be read, ERR_INVALID when it is not a tar (plain, gzip or zstd). */
int mutate_layer_file(struct layer_result *out, struct layout *dst, const char *path,
		      enum tar_compression compression, int level, struct err *e);

/* Mutates into the layout `dst` (blobs only: no index entry is set; with
 * MUTATE_WITH_BASE the base's blobs are made present, through the cache).
 *
 * Each appended layer (mutate_layer_file()) gets a rootfs.diff_ids entry
 * and a history entry (created_by "<verb> <file>", created s->created,
 * comment "hoist").  Media types follow the image (manifest_json_family()):
 * a Docker image gets Docker's layer types, an OCI image OCI's; a zstd
 * layer, which has no Docker type, or annotations to set (Docker's format
 * has none) make a Docker image OCI throughout, its base layers' types
 * renamed.  Config changes follow crane mutate, not docker build:
 * --entrypoint keeps Cmd; Env K=V replaces K in place or appends; labels
 * and exposed ports are merged; the config's `created` is kept (an empty
 * base gets s->created).  The manifest keeps every member it had (layer
 * descriptors with their annotations, subject); s->annotations are merged
 * into its annotations (a Docker manifest written keeps none).
 *
 * An index (with no env->platform to pick a child): every image child is
 * mutated, children that are not images of a platform (attestations,
 * "unknown/unknown", nested indexes) are kept unchanged, and a new index
 * keeping every other member of the old one is written, the annotations
 * going to the index.  set_platform is refused for an index (ERR_USAGE).
 * `out` must be initialised. */
int mutate_image(struct mutate_result *out, struct env *env, const struct mutate_spec *s,
		 struct layout *dst, unsigned flags, struct err *e);

/* Pushes the result `root`, whose new blobs and manifests are in `src`, to
 * `dst` (its tag, or by digest when it names none), as build_push() does:
 * base blobs are copied registry to registry by copy_image() (mounted when
 * base and target share a registry, streamed otherwise, never written to
 * disk), new blobs uploaded from `src`.  `out` receives the digest
 * pushed. */
int mutate_push(struct digest *out, struct env *env, const struct mutate_result *r,
		      struct layout *src, const struct descriptor *root, const struct ref *dst,
		      struct err *e);

#endif

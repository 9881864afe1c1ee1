/* restack.h - new images stacked from existing ones' layers: flatten
 * (crane flatten: every layer merged into one) and rebase (crane rebase:
 * an image's base layers swapped for another base's).
 */
#ifndef HOIST_RESTACK_H
#define HOIST_RESTACK_H

#include "core/format/tar.h"
#include "core/ops/env.h"
#include "core/model/manifest.h"
#include "core/model/ref.h"

struct err;
struct layout;

/* The gzip level of flattened layers when none is given: 1, as build's. */
#define FLATTEN_GZIP_LEVEL_DEFAULT 1

struct flatten_opts {
	enum tar_compression compression;	/* of the new layer */
	int level;				/* 0: FLATTEN_GZIP_LEVEL_DEFAULT for gzip */
};

/* Flattens the image or index `src` (an index to one image when
 * env->platform is set) into the layout `dst` (the cache, or any layout):
 * new layers, configs and manifests as blobs, no index entry.  The source
 * is made complete in env->cache by pull_images() (its layers cross the
 * network at most once; a second flatten is served from disk), then each
 * image's layers are merged by export_to() (core/ops/export.h: whiteouts
 * applied, top layer first) straight into core/format/tar.h's
 * deterministic writer, whose output is hashed and written as one blob:
 * memory does not grow with the image.  The config keeps every field but
 * rootfs.diff_ids (the one new diff_id) and history (one entry, created_by
 * "hoist flatten <old digest>", the old history as JSON in its comment, as
 * crane writes it); the manifest keeps its media type and annotations.  An
 * index is flattened child by child (attestation children, platform
 * unknown/unknown, are dropped as crane drops them), and a new index keeps
 * the old entries' platforms and annotations.  `out` (need not be
 * initialised) receives the new root manifest.  ERR_USAGE without
 * env->cache. */
int restack_flatten(struct manifest *out, struct env *env, const struct ref *src,
		  struct layout *dst, const struct flatten_opts *o, struct err *e);

/* Rebases `src` (an image; an index child by child, each onto OLD and NEW
 * resolved for its platform; with env->platform set, that one image) from
 * `old_base` onto `new_base` (references; NULL: from the base annotations,
 * NEW re-resolved from org.opencontainers.image.base.name, OLD as that
 * name's repository at org.opencontainers.image.base.digest; "scratch" for
 * an OLD without layers) and pushes the result to `dst` (by its tag, else
 * by the new digest).
 *
 * No layer is read: only manifests and configs (through the cache
 * contract).  OLD's layers must be a prefix of IMAGE's, by digest and by
 * diff_id; the result is NEW's layers followed by IMAGE's layers above OLD.
 * The config is IMAGE's with rootfs.diff_ids and history replaced (NEW's,
 * then IMAGE's own past OLD's) and os, architecture, variant and os.version
 * taken from NEW; the manifest is IMAGE's with its layers and config
 * replaced and the base annotations naming NEW.  Blobs move registry to
 * registry with copy_image() (mounted within one registry, streamed between
 * two, never stored on disk): NEW's from NEW's repository, IMAGE's from its
 * own (which also puts their manifests by digest in the target repository,
 * as build_push() does for a base); then the new configs are uploaded from
 * memory and the manifests put, children by digest, the root last.
 * Nothing is written to disk but what the cache contract stores (manifests
 * and configs).  `out` receives the digest pushed.  ERR_INVALID when OLD
 * is not a prefix of the image, ERR_USAGE when a base is missing. */
int restack_rebase(struct digest *out, struct env *env, const struct ref *src,
		 const char *old_base, const char *new_base, const struct ref *dst,
		 struct err *e);

#endif

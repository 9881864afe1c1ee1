/* export.h - the flattened filesystem of an image: as one tar stream
 * (`hoist export`), into a directory (`hoist unpack`), and image checks
 * (`hoist validate`).
 *
 * Layers are read from an OCI layout (the cache or any other): export and
 * unpack first make the image complete in the cache through pull_images()
 * (local_image()), so a layer crosses the network at most once and a second
 * export is served from disk with no request at all.  Every layer is read
 * with core/format/archive.h's reader (gzip, zstd or plain tar, detected from the
 * bytes), streamed: memory is proportional to the number of paths, never to
 * the bytes of the image.
 *
 * Export (crane's mutate.Extract, done more carefully): layers are read top
 * down; a hash set of paths remembers what a higher layer already gave, hid
 * (.wh.NAME, applied to lower layers only), made opaque (.wh..wh..opq) or
 * turned into a non-directory.  Entry names are cleaned ("./a//b/" -> "a/b",
 * a leading '/' dropped); a name or hard-link target that climbs out of the
 * root with ".." is an error (ERR_INVALID naming the layer and the entry).
 * A path under a symlink or file of a higher (or the same) layer is hidden,
 * so the stream never holds a symlink `a` and an entry `a/...` at once.
 *
 * Unpack (umoci unpack without the runtime bundle): layers are applied
 * bottom up; whiteouts remove what lower layers put.  Every parent directory
 * is resolved with openat2(RESOLVE_IN_ROOT) from the root's fd, so a symlink
 * (also one planted by an earlier layer, absolute or with "..") resolves
 * inside DIR as it would in the container, never outside it; without
 * openat2 (ENOSYS) the walk refuses any symlink among the parents.  The last
 * component is created with O_NOFOLLOW/O_EXCL after removing what was
 * there; hard links are made from a target resolved the same way, without
 * following a symlink.
 */
#ifndef HOIST_EXPORT_H
#define HOIST_EXPORT_H

#include "core/format/archive.h"
#include "core/base/buf.h"
#include "core/ops/env.h"
#include "core/model/manifest.h"
#include "core/ops/local.h"

struct err;
struct layout;
struct ref;

/* Makes the image `ref` names complete in env->cache (pull_images with
 * PULL_SINGLE: an index resolves to env->platform, else linux/amd64)
 * and reads its manifest into `out` (need not be initialised; left empty
 * on failure).  ERR_USAGE when env->cache is NULL. */
int local_image(struct manifest *out, struct env *env, const struct ref *ref,
		struct err *e);

/* The image manifest of layout `l`'s entry `ref_name` (NULL: the only
 * entry); an index entry resolves to the child for `platform` (NULL:
 * linux/amd64).  `out` need not be initialised. */
int local_layout_manifest(struct manifest *out, struct layout *l, const char *ref_name,
			  const struct platform *platform, struct err *e);

/* Writes the flattened filesystem of image manifest `m`, whose layers are
 * blobs of `l`, as one uncompressed tar to `sink`.  Errors name the layer
 * (by index and digest). */
int export_tar(struct layout *l, const struct manifest *m, tar_sink_fn *sink, void *arg,
		 struct err *e);
/* As export_tar(), through a writer made from `o` (its compression,
 * level and sink: a flattened layer for `hoist flatten`); `out` (may be
 * NULL) receives the stream's sizes, diff_id and digest. */
int export_to(struct tar_result *out, struct layout *l, const struct manifest *m,
		    const struct tar_writer_opts *o, struct err *e);

/* Chooses and renames the entries export_select() writes: `path` is
 * the cleaned entry name ("usr/bin/app", also a hard link's target, with
 * is_dir 0), `is_dir` whether it is a directory.  Returns 1 with the name
 * to write in `out` (empty on entry), 0 to leave the entry out, or a
 * negative error code. */
typedef int export_select_fn(void *arg, struct buf *out, const char *path, int is_dir,
			     struct err *e);

/* As export_tar(), writing only the entries `sel` chooses, under the
 * names it gives (COPY --from).  Whiteouts and hiding work on the whole
 * image as in export_tar(); a hard link whose target `sel` leaves out is
 * ERR_UNSUPPORTED. */
int export_select(struct layout *l, const struct manifest *m, export_select_fn *sel,
			void *sel_arg, tar_sink_fn *sink, void *arg, struct err *e);

enum unpack_flags {
	UNPACK_OWNERS = 1 << 0,		/* apply uid/gid (the caller is root) */
	UNPACK_DEVICES = 1 << 1,	/* create char/block devices (else skipped) */
	/* Extended attributes (pax SCHILY.xattr.*) are restored on files,
	 * directories and fifos: user.* always (files and directories only,
	 * as Linux allows), security.* and trusted.* only with this flag (the
	 * caller is root), after the owner is set (a chown drops
	 * security.capability); any other namespace, and any the file system
	 * does not support, is skipped and counted. */
	UNPACK_XATTRS_PRIVILEGED = 1 << 2,
	UNPACK_NO_XATTRS = 1 << 3,	/* restore none (nor count them) */
};

/* What unpack_image() did. */
struct unpack_stats {
	unsigned long entries;		/* entries created */
	unsigned long whiteouts;	/* whiteouts applied */
	unsigned long skipped_devices;
	unsigned long xattrs;		/* extended attributes restored */
	unsigned long skipped_xattrs;	/* not restored: namespace, privilege, support */
};

/* Unpacks image manifest `m` (layers in `l`) into the directory `dir`,
 * which must exist (an empty one, normally).  `out` may be NULL. */
int unpack_image(struct unpack_stats *out, struct layout *l, const struct manifest *m,
		 const char *dir, unsigned flags, struct err *e);

/* ---- validate (core/ops/validate.c) ---- */

enum validate_flags {
	VALIDATE_FAST = 1 << 0,	/* layers: presence and size only, no digests, no diff_ids */
};

/* What a validation found: `problems` (each a "WHAT: PROBLEM" line, a
 * breach of the image spec), `notes` (the same form, for what could not be
 * checked but is allowed: a layout may leave blobs to another store), and
 * the manifests already checked, so that one report names each once. */
struct validate_report {
	struct strvec problems;
	struct strvec notes;
	struct strvec seen;
};

#define VALIDATE_REPORT_INIT { STRVEC_INIT, STRVEC_INIT, STRVEC_INIT }
void validate_report_release(struct validate_report *r);

/* Checks the image or index `root` (a descriptor of a manifest) whose
 * blobs are in `l`: media types, digests and sizes of every manifest,
 * config and layer, diff_ids against the uncompressed layers (not with
 * VALIDATE_FAST), and that an index entry's platform agrees with its
 * image's config.  A manifest `out` has already seen is not checked again.
 * Returns 0 when the checks could run (with or without problems), a
 * negative code when they could not. */
int validate_layout(struct validate_report *out, struct layout *l,
			  const struct descriptor *root, unsigned flags, struct err *e);

/* As validate_layout() for `ref` in its registry: manifests through
 * the cache contract, blobs streamed from the registry and checked as they
 * pass (nothing is stored).  A blob the registry lacks is a problem. */
int validate_ref(struct validate_report *out, struct env *env, const struct ref *ref,
		       unsigned flags, struct err *e);

#endif

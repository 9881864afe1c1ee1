/* rootfs.h - what export and unpack share about an image's filesystem: its
 * layers read from an OCI layout, tar names cleaned, whiteouts, and a hash
 * set of paths that remembers what each layer gave, hid or made opaque.
 * Internal to core/ops (core/ops/export.h, core/ops/unpack.h).
 */
#ifndef HOIST_ROOTFS_H
#define HOIST_ROOTFS_H

#include <stddef.h>
#include <stdint.h>

struct buf;
struct descriptor;
struct err;
struct layout;
struct manifest;
struct tar_reader;

/* A whiteout's base name starts with ROOTFS_WH_PREFIX; ROOTFS_WH_OPAQUE
 * makes its directory opaque (hides what lower layers put in it). */
#define ROOTFS_WH_PREFIX ".wh."
#define ROOTFS_WH_OPAQUE ".wh..wh..opq"

enum rootfs_kind {
	ROOTFS_NONE = 0,
	ROOTFS_DIR,		/* a directory entry was given */
	ROOTFS_IMPLIED,		/* a directory implied by a path below it */
	ROOTFS_NONDIR,		/* a file, symlink, link, device */
};

struct rootfs_path {
	char *path;
	enum rootfs_kind kind;
	int wh_layer;	/* whited out by this layer (-1: not) */
	int opq_layer;	/* made opaque by this layer (-1: not) */
	int layer;	/* unpack: the layer that last wrote it */
	uint32_t mode;
	int64_t mtime;
};

/* An open-addressing hash set of cleaned paths; zeroed is empty.  Walk
 * every entry as tab[0..cap) where tab[i].path is set. */
struct rootfs_paths {
	struct rootfs_path *tab;
	size_t cap, n;
};

void rootfs_paths_release(struct rootfs_paths *s);
/* The entry for p[0..len), or NULL. */
struct rootfs_path *rootfs_paths_find(struct rootfs_paths *s, const char *p, size_t len);
/* The entry for p[0..len), added (kind ROOTFS_NONE, layers -1) when
 * missing; NULL when out of memory. */
struct rootfs_path *rootfs_paths_get(struct rootfs_paths *s, const char *p, size_t len);

/* Cleans a tar name into `out`: components split on '/', "" and "." dropped,
 * ".." removing the one before.  "" for the root itself.  ERR_INVALID when
 * ".." climbs out of the root. */
int rootfs_path_clean(struct buf *out, const char *in, struct err *e);
/* The last component of the cleaned path `p`. */
const char *rootfs_base_name(const char *p);
/* 1 when the whiteout `bn` (a base name starting with ROOTFS_WH_PREFIX)
 * names something: not "", "." or ".." (".wh..." would remove the parent). */
int rootfs_whiteout_ok(const char *bn);

/* `m` must be an image: ERR_USAGE for an index, ERR_UNSUPPORTED for an
 * artifact (a signature, an SBOM), which has no filesystem. */
int rootfs_image_check(const struct manifest *m, struct err *e);
/* Opens layer `d`, a blob of `l`, for reading its entries (gzip, zstd or
 * plain tar, told from the bytes); `*out_fd` is the blob's fd, for the
 * caller to close (-1 on failure).  ERR_UNSUPPORTED for a media type that
 * is not a filesystem layer (an encrypted one). */
int rootfs_layer_open(struct tar_reader **out, int *out_fd, struct layout *l,
		      const struct descriptor *d, struct err *e);
/* Reads the layer to its end and checks its digest and size (ERR_DIGEST). */
int rootfs_layer_finish(struct tar_reader *r, const struct descriptor *d, struct err *e);

#endif

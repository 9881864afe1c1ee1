/* import.h - image archives into an OCI layout: docker-save tarballs
 * (docker save, podman save, skopeo's docker-archive:, hoist pull --format
 * tarball) and OCI archives, tars of an OCI image layout (podman save
 * --format oci-archive, skopeo's oci-archive:).  The writer of tarballs is
 * core/ops/tarball.h.
 */
#ifndef HOIST_IMPORT_H
#define HOIST_IMPORT_H

struct err;
struct layout;

enum import_flags {
	/* Without `sel`, every image of the archive, not only the only one. */
	IMPORT_ALL = 1 << 0,
};

/* Reads an image archive from `fd` (from its current offset) into the
 * layout `dst`, a docker-save tarball or an OCI archive told apart by
 * their content (manifest.json; index.json), uncompressed or gzip or zstd.
 * Messages say what is wrong inside the archive ("it holds 2 images ..."):
 * the caller names the archive.
 *
 * `sel` chooses the image: "@N" the Nth (from 0, in manifest.json's or
 * index.json's order), else by name: an OCI entry's
 * org.opencontainers.image.ref.name, a docker-save image's RepoTags entry
 * (the same reference once made complete also matches: "busybox:1" is
 * docker.io/library/busybox:1).  NULL: the only image (an OCI index.json
 * whose entries all name one digest holds one), ERR_USAGE listing the
 * names when there are several, or with IMPORT_ALL every image.
 * ERR_NOT_FOUND, listing them, when `sel` names none.
 *
 * One image is added to dst's index.json as `ref_name`; every image (with
 * IMPORT_ALL) under its own name (ref.name; the first RepoTags
 * entry), replacing index.json's entries.  A docker-save image becomes an
 * OCI manifest built from manifest.json's Config and Layers (a layer's
 * media type from its bytes: gzip, zstd or plain tar); an OCI archive's
 * manifests are kept byte for byte.  Only the blobs of the chosen images
 * are written when `fd` is a regular file holding an uncompressed tar
 * (two passes, the first reading headers and JSON only); a pipe or a
 * compressed archive is read once, every file stored.  A member that is
 * not exactly its header's size, a sparse one, or a blob whose content
 * does not hash to its name is ERR_INVALID / ERR_DIGEST before it fills
 * the disk.  ERR_INVALID when it is not an image archive. */
int import_archive(struct layout *dst, int fd, const char *sel, const char *ref_name,
			 unsigned flags, struct err *e);

#endif

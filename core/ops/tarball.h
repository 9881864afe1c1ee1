/* tarball.h - writing docker-save tarballs (`docker save` / `docker load`
 * format) and OCI archives; the tar stream is core/format/tar.h's,
 * reading them back core/ops/import.h.
 */
#ifndef HOIST_TARBALL_H
#define HOIST_TARBALL_H

#include <stddef.h>

struct err;
struct pull_result;
struct layout;
struct ref;

/* Writes the images `imgs[0..n)` (image manifests, as pull_images() with
 * PULL_SINGLE leaves them; refs[i] gives each its RepoTags entry when
 * it has a tag) from layout `src`, whose blobs are streamed into the
 * archive, to the file `path`: written to a temporary file beside it and
 * renamed over it only when complete (mode 0644 less the umask).
 *
 * A tarball holds, at its top level: one `<hex>.json` per image config,
 * one `<hex>.tar.gz` (`.tar`, `.tar.zst` by media type) per layer, each
 * stored once however many images share it, `manifest.json` ([{"Config",
 * "RepoTags", "Layers"}], one element per image) and `repositories`
 * ({"registry/repository": {"tag": "<hex of the top layer>"}}).  Layers are
 * kept compressed as the registry sent them: docker load, podman load and
 * skopeo's docker-archive: transport detect the compression. */
int tarball_write(const char *path, struct layout *src, const struct ref *refs,
			const struct pull_result *imgs, size_t n, struct err *e);

/* Writes an OCI archive (what `podman save --format oci-archive` and
 * skopeo's oci-archive: write; import_archive() reads it): a tar of
 * an OCI image layout holding imgs[i].desc (images or indexes, with every
 * child) named by imgs[i].name (org.opencontainers.image.ref.name), their
 * blobs streamed from `src` and each stored once.  oci-layout and
 * index.json come first, so a reader of the stream knows what it holds
 * before the blobs.  Written as tarball_write() writes. */
int tarball_write_oci(const char *path, struct layout *src,
			    const struct pull_result *imgs, size_t n, struct err *e);

#endif

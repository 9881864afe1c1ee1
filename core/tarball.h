/* tarball.h - writing docker-save tarballs (`docker save` / `docker load`
 * format); the tar stream is core/archive.h's.
 *
 * A tarball holds, at its top level: one `<hex>.json` per image config,
 * one `<hex>.tar.gz` (`.tar`, `.tar.zst` by media type) per layer, each
 * stored once however many images share it, `manifest.json` ([{"Config",
 * "RepoTags", "Layers"}], one element per image) and `repositories`
 * ({"registry/repository": {"tag": "<hex of the top layer>"}}).  Layers are
 * kept compressed as the registry sent them: docker load, podman load and
 * skopeo's docker-archive: transport detect the compression.
 */
#ifndef HOIST_TARBALL_H
#define HOIST_TARBALL_H

#include <stddef.h>

struct err;
struct image_pulled;
struct layout;
struct ref;

/* Writes the images `imgs[0..n)` (image manifests, as image_pull() with
 * IMAGE_PULL_SINGLE leaves them; refs[i] gives each its RepoTags entry when
 * it has a tag) from layout `src`, whose blobs are streamed into the
 * archive, to the file `path`: written to a temporary file beside it and
 * renamed over it only when complete (mode 0644 less the umask). */
int image_tarball_write(const char *path, struct layout *src, const struct ref *refs,
			const struct image_pulled *imgs, size_t n, struct err *e);

#endif

/* local.h - images and blobs in an OCI layout (the cache or any other), as
 * operations read and write them: blob copies and writers, manifests loaded
 * and stored, and an image made complete in the cache or picked from a
 * layout's entries.
 */
#ifndef HOIST_LOCAL_H
#define HOIST_LOCAL_H

#include <stddef.h>

struct buf;
struct descriptor;
struct digest;
struct env;
struct err;
struct json;
struct layout;
struct manifest;
struct platform;
struct ref;

/* Copies blob `d` from `src` (the cache) into `dst`, verified as any blob
 * written.  ERR_NOT_FOUND when `src` lacks it. */
int local_blob_copy(struct layout *dst, struct layout *src, const struct descriptor *d,
		    struct err *e);

/* A tar_sink_fn (core/format/tar.h) writing to the struct blob_writer `arg`
 * (cache/layout.h). */
int local_blob_sink(void *arg, const void *data, size_t len, struct err *e);

/* Reads manifest `d` (an image or an index) from layout `l` into `out`
 * (need not be initialised; left empty on failure); `check`: ERR_DIGEST
 * when its bytes do not hash (SHA-256) to d->digest. */
int local_manifest_load(struct manifest *out, struct layout *l, const struct descriptor *d,
			int check, struct err *e);

/* Serialises `j` into `raw` (reset first) and stores it as a blob of `dst`,
 * or, `dst` NULL, only hashes it; `out` gets its digest (the blob's size
 * is raw->len).  For a config before it is pushed. */
int local_json_blob(struct buf *raw, struct digest *out, struct layout *dst, const struct json *j,
		    struct err *e);

/* Serialises the manifest or index JSON `j`, parses it as media type `mt`
 * into `out` (initialised; released first) and stores it as a blob of
 * `dst` (`dst` NULL: only parsed, out->raw holds the bytes to send). */
int local_manifest_put(struct manifest *out, struct layout *dst, const struct json *j,
		       const char *mt, struct err *e);

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

#endif

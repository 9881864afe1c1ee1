/* image.h - image operations: the upper floor of core/.
 *
 * Operations join registry/ (the distribution client) and cache/ (the OCI
 * layout store).  cmd/ builds one `struct env` per run from its
 * options and the environment, and calls operations with it; operations never
 * print: they log through env->log (shown with -v) and report progress
 * through env->progress.
 *
 * The cache contract (ko's image cache, done right):
 * - A reference by digest whose manifest (and, for an image, config) is in
 *   the cache is served with zero network requests.
 * - A tag costs one manifest HEAD to learn its digest, then is served by
 *   digest from the cache (the GET happens only when the cache lacks it).
 * - `offline` (and pull policy "never") resolves tags from the tag->digest
 *   recorded in the cache (index.json, then .hoist/meta-index.json) and
 *   fails with a clear error when there is none; no network at all.
 * - Manifests and configs fetched for inspection are recorded in the cache
 *   as metadata-only entries (.hoist/meta-index.json): index.json only ever
 *   names complete images.
 * - Where each cached blob came from (registry/repository) is recorded so a
 *   later push to that registry can mount it instead of uploading it.
 */
#ifndef HOIST_IMAGE_H
#define HOIST_IMAGE_H

#include "core/base/buf.h"
#include "core/base/strvec.h"
#include "core/model/manifest.h"
#include "core/model/platform.h"
#include "registry/reg.h"

#include <stddef.h>
#include <stdint.h>

struct err;
struct json;
struct layout;
struct ref;
struct reg;
struct settings;

enum pull_policy {
	PULL_MISSING = 0,	/* default: the network only for what the cache lacks */
	PULL_ALWAYS,		/* tags always re-resolved, cached content re-verified by size */
	PULL_NEVER,		/* as offline */
};

/* Progress of one blob transfer, for a display in cmd/. */
struct env_progress {
	const char *id;		/* short name: the first 12 hex digits of the digest */
	const char *what;	/* "pull", "push", "copy", "mount", "exists" */
	int64_t done;		/* bytes so far */
	int64_t total;		/* expected bytes, or -1 */
	int finished;		/* 1 once the blob is complete (or skipped) */
};

struct env {
	/* Set by the caller (cmd/), borrowed. */
	struct reg_client_opts reg_opts;	/* http client, credentials, insecure */
	struct layout *cache;		/* the cache, or NULL (no caching) */
	int offline;			/* no network at all */
	enum pull_policy pull;
	int jobs;			/* parallel blob transfers, >= 1 */
	const struct platform *platform;	/* --platform, or NULL */
	/* The config file's per-registry settings (mirrors, insecure), or
	 * NULL (core/model/settings.h). */
	const struct settings *settings;
	/* Log one line (already formatted, may contain server text: the
	 * callee sanitises).  level 1 = -v, 2 = -vv.  May be NULL. */
	void (*log)(void *arg, int level, const char *line);
	void *log_arg;
	/* Called as blob transfers advance; may be NULL. */
	void (*progress)(void *arg, const struct env_progress *p);
	void *progress_arg;

	/* Private: registry sessions opened so far, one per registry. */
	struct reg **regs;
	char **reg_names;
	size_t n_regs;
	/* Counters for tests and -v: requests this env caused. */
	unsigned long n_manifest_requests;
	unsigned long n_blob_requests;
};

void env_init(struct env *env);
/* Frees the registry sessions (not the borrowed fields). */
void env_release(struct env *env);

/* The session for `registry` ("docker.io", "localhost:5000"), opened on
 * first use with env_reg_open() and kept for the env's life.
 * ERR_USAGE when env->offline. */
int env_reg(struct reg **out, struct env *env, const char *registry,
		  struct err *e);

/* Opens a new session for `registry` with the options `o` (and so its
 * http client), env->settings applied: the registry's "insecure", and its
 * mirrors, each a session on the mirror's host (its own credentials, its
 * own "insecure"), which the reads of the session try first and fall back
 * from (reg_mirror_add(): pushes, tags and deletes never go to a mirror).
 * Which endpoint served is logged through env->log at level 1.  For
 * threads that need sessions of their own (core/ops/xfer.c). */
int env_reg_open(struct reg **out, const struct env *env,
		       const struct reg_client_opts *o, const char *registry, struct err *e);

void env_log(struct env *env, int level, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Resolves `ref` to its manifest (image or index, exact bytes) following
 * the cache contract above.  With env->cache set, a manifest fetched from
 * the registry is stored as a blob and recorded as a metadata-only entry
 * under the reference's full name (unless a complete entry exists).  The
 * manifest's digest is checked in every case. */
int resolve_ref(struct manifest *out, struct env *env, const struct ref *ref,
		  struct err *e);

/* As resolve_ref(), then, when the result is an index, picks the child
 * for `platform` (NULL: env->platform, else linux/amd64 as crane does) and
 * resolves that.  `out_index` (may be NULL) receives the index when there
 * was one (kind MT_KIND_INDEX) or is left initialised-empty. */
int resolve_image(struct manifest *out, struct manifest *out_index,
			struct env *env, const struct ref *ref,
			const struct platform *platform, struct err *e);

/* Reads a small blob (a config, a manifest) of repository `ref` into
 * `out`: from the cache when present (verified), else from the registry
 * (verified, then stored in the cache and its source recorded).  `max`
 * caps the size (0: 8 MiB). */
int resolve_blob(struct buf *out, struct env *env, const struct ref *ref,
		    const struct descriptor *d, size_t max, struct err *e);

/* The error for `what` ("blob", "manifest") `d` of `source` that an
 * --offline run needs and env->cache lacks: ERR_NOT_FOUND saying --offline
 * forbids asking the registry, or ERR_INVALID naming the link or other
 * non-regular file the cache holds under its name.  Returns the code. */
int resolve_offline_miss(struct env *env, const char *what, const struct digest *d,
		       const char *source, struct err *e);

/* Copies blob `d` from `src` (the cache) into `dst`, verified as any blob
 * written.  ERR_NOT_FOUND when `src` lacks it. */
int local_blob_copy(struct layout *dst, struct layout *src, const struct descriptor *d,
		    struct err *e);

/* A tar_sink_fn (core/format/tar.h) writing to the struct blob_writer `arg`
 * (cache/blob.h). */
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

/* ---- pull (core/ops/pull.c) ---- */

enum pull_flags {
	/* An index resolves to one image (env->platform, else linux/amd64),
	 * as with --platform: for outputs that hold images only (tarballs). */
	PULL_SINGLE = 1 << 0,
};

/* One pulled reference. */
struct pull_result {
	char *name;		/* fully-qualified reference, the index.json ref name */
	struct descriptor desc;	/* what the entry points at: image or index */
};

/* Pulls refs[0..n) into the layout `dst` (the cache or any other layout),
 * one after the other, following the cache contract.  Each reference is
 * stored whole: an index with every child manifest, config and layer
 * (nested indexes too), unless env->platform (or PULL_SINGLE) picks
 * one image, which is then stored as the entry (as crane pull --platform
 * does).  Blobs present in `dst` at their size are kept; blobs the cache
 * has (when dst is not the cache) are copied from it through a verifying
 * writer; the rest are downloaded in parallel (env->jobs requests over
 * the one curl multi handle), the bytes coalesced into env->jobs + 2 slots
 * of 256 KiB and hashed and written by two writer threads (memory does not
 * grow with the image), each blob hashed once and committed only when size
 * and digest match.  The blob sources ("registry/repository") are
 * recorded, configs are added to the cache too, and one index.json entry
 * named by the fully-qualified reference is set (replacing an older entry
 * of that name; an identical one is only touched), all under a lease.
 * `out` (n entries, need not be initialised) gets each reference's name and
 * descriptor; release it with pull_result_release() whatever the result.
 * On failure the references before the failing one are complete; the
 * failing one has no index entry, and no blob under a wrong name. */
int pull_images(struct pull_result *out, struct env *env, const struct ref *refs, size_t n,
	       struct layout *dst, unsigned flags, struct err *e);
void pull_result_release(struct pull_result *p, size_t n);
/* Makes `dst` hold the blobs of `base` (by digest) through the cache,
 * as pull_images() with `flags`, without leaving an index.json entry for
 * it in a layout that is not the cache (an entry there before is kept).
 * Errors are prefixed "base image". */
int pull_base(struct env *env, const struct ref *base, unsigned flags,
		    struct layout *dst, struct err *e);

/* ---- push (core/ops/push.c) ---- */

enum push_flags {
	/* Push every entry of the layout's index.json as one image index
	 * (the bytes of index.json, as crane push --index does). */
	PUSH_INDEX = 1 << 0,
};

/* Pushes an image (or index, with every child) from the OCI layout `src`
 * to `dst`: the entry named `ref_name` (the org.opencontainers.image.ref.name
 * annotation as written: "latest", or hoist's fully-qualified names), or
 * with ref_name NULL the only image (entries that all name one digest
 * count as one; ERR_USAGE listing the names when there are several).  Blobs the registry has are skipped (HEAD); a blob
 * whose recorded source (blob_sources, in `src` and env->cache) is
 * another repository of dst's registry is mounted from it; the rest are
 * uploaded env->jobs at a time.  Child manifests are put by digest, then
 * the root under dst's tag (its digest when dst names only a digest; that
 * digest must match, ERR_DIGEST).  `out` receives the root's digest.  With
 * env->cache set, dst is recorded as a source of every blob pushed. */
int push_layout(struct digest *out, struct env *env, struct layout *src,
		      const char *ref_name, const struct ref *dst, unsigned flags,
		      struct err *e);
/* push_layout() of `root`, a manifest or index `src` holds (named or
 * not: an operation's result staged in the cache). */
int push_root(struct digest *out, struct env *env, struct layout *src,
		    const struct descriptor *root, const struct ref *dst, struct err *e);

enum import_flags {
	/* Without `sel`, every image of the archive, not only the only one. */
	IMPORT_ALL = 1 << 0,
};

/* Reads an image archive from `fd` (from its current offset) into the
 * layout `dst`: a docker-save tarball (docker save, podman save, skopeo's
 * docker-archive:, hoist pull --format tarball) or an OCI archive, a tar of
 * an OCI image layout (podman save --format oci-archive, skopeo's
 * oci-archive:), told apart by their content (manifest.json; index.json),
 * uncompressed or gzip or zstd.  Messages say what is wrong inside the
 * archive ("it holds 2 images ..."): the caller names the archive.
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
 * the disk.  ERR_INVALID when it is not an image archive.
 * (core/ops/tarball_read.c) */
int import_archive(struct layout *dst, int fd, const char *sel, const char *ref_name,
			 unsigned flags, struct err *e);

/* ---- copy (core/ops/copy.c) ---- */

enum copy_flags {
	/* Fail (ERR_EXISTS) when dst's tag exists and names another manifest;
	 * when it names the same one there is nothing to do. */
	COPY_NO_CLOBBER = 1 << 0,
};

/* Blobs up to this size go through memory in one piece; larger ones stream
 * from source to destination through a ring of COPY_RING_SIZE bytes. */
#define COPY_STREAM_MIN (1u << 20)
#define COPY_RING_SIZE (1u << 20)

/* Copies `src` to `dst` keeping digests (the manifest bytes are never
 * changed).  An index is copied with every child, unless env->platform is
 * set: then only the child matching it (as crane copy --platform).  Blobs
 * never touch the disk: when both are on one registry they are mounted
 * across repositories; otherwise each missing blob is read from the source
 * while it is uploaded, through a bounded ring between a download thread
 * and the upload (at most COPY_RING_SIZE bytes buffered per transfer,
 * env->jobs transfers at once).  The last bytes are held back until the
 * source's digest is verified, so a corrupt source blob aborts the upload
 * (ERR_DIGEST) and no manifest is pushed.  A transfer that fails on the
 * network or with 408/429/5xx is started over (3 attempts).  `out`
 * receives the digest pushed. */
int copy_image(struct digest *out, struct env *env, const struct ref *src,
	       const struct ref *dst, unsigned flags, struct err *e);

/* The tags of repository `repo` (its tag and digest are ignored), appended
 * to the initialised `out` in the registry's order. */
int remote_tags_list(struct strvec *out, struct env *env, const struct ref *repo,
		    struct err *e);

#endif

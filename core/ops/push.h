/* push.h - an image or index from an OCI layout to a registry: blobs the
 * registry has are skipped, blobs another repository of it has are
 * mounted, the rest uploaded in parallel; manifests go last, the root last
 * of all, so a tag never names something incomplete.
 */
#ifndef HOIST_PUSH_H
#define HOIST_PUSH_H

struct descriptor;
struct digest;
struct env;
struct err;
struct layout;
struct ref;

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

#endif

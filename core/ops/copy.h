/* copy.h - an image or index from one registry to another (or within one),
 * keeping digests: blobs never touch the disk, mounted within a registry
 * and streamed between two.
 */
#ifndef HOIST_COPY_H
#define HOIST_COPY_H

struct digest;
struct env;
struct err;
struct ref;

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

#endif

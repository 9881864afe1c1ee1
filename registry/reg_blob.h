/* reg_blob.h - blobs on a registry, through a session of registry/reg.h:
 * fetched into a sink (one, or many at once over the client's connection
 * pool), looked at (HEAD), and uploaded (whole, by chunks, or mounted from
 * another repository).  Every byte fetched is checked against the size and
 * digest of its descriptor as it arrives.
 */
#ifndef HOIST_REG_BLOB_H
#define HOIST_REG_BLOB_H

#include "core/base/digest.h"
#include "core/base/err.h"
#include "core/model/descriptor.h"
#include "registry/http.h"

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct reg;

/* Blobs smaller than this are uploaded with one PUT (POST, then PUT with
 * the body); larger ones are streamed with PATCH first. */
#define REG_MONOLITHIC_MAX (1u << 20)

/* Streams blob `d->digest` of `repo` to `sink` (from the mirrors first,
 * reg_mirror_add), following redirects (blob storage gets no credentials)
 * and resuming with Range after a dropped connection (a few times).  More
 * bytes than d->size abort the transfer; at the end size and digest must
 * match, else ERR_DIGEST: the sink has then seen bytes that the caller must
 * discard.  d->size < 0 means unknown (only the digest is checked). */
int reg_blob_get(struct reg *r, const char *repo, const struct descriptor *d,
		 http_sink_fn sink, void *arg, struct err *e);

/* One blob of a reg_blob_get_many() batch.  The caller fills d, sink and arg;
 * the rest is output. */
struct reg_blob_fetch {
	const struct descriptor *d;	/* digest and size (-1: unknown) */
	http_sink_fn sink;		/* gets the body in order, once */
	void *arg;
	int rc;				/* 0 or the failure of this blob */
	struct err err;			/* what failed */
	int64_t done;			/* bytes handed to the sink */
};

enum reg_blobs_flags {
	/* The sinks hash the bytes and check the digest themselves (a
	 * layout blob writer does): the client checks the size only, so the
	 * data is hashed once.  A sink that does not verify must not be used
	 * with this flag. */
	REG_BLOBS_SINK_VERIFIES = 1 << 0,
};

/* Fetches n blobs of `repo` at once, at most `parallel` in flight over the
 * client's one curl multi handle: the token (when the registry wants one)
 * is fetched first, by one request, then the GETs run in parallel, each
 * streaming into its sink as bytes arrive (no buffering here).  A GET that
 * drops mid-body is resumed with Range, one that meets an expired token is
 * re-authorised; both then finish one at a time.  Blobs a mirror fails
 * (before any byte reached the sink) go to the next endpoint.  Each blob's
 * outcome is in fs[i].rc/err (a size or digest mismatch is ERR_DIGEST: its
 * sink has seen bytes the caller must discard).  Returns 0 when all
 * succeeded, else the first failure (also copied to `e`). */
int reg_blob_get_many(struct reg *r, const char *repo, struct reg_blob_fetch *fs, size_t n,
		      int parallel, unsigned flags, struct err *e);
/* 0 and the size (when the registry sends it, else -1) when the blob exists
 * on r's own registry; ERR_NOT_FOUND when it does not. `out_size` may be
 * NULL. */
int reg_blob_head(int64_t *out_size, struct reg *r, const char *repo,
		  const struct digest *digest, struct err *e);

/* Makes blob `d` exist in `repo`: nothing when it is already there (HEAD);
 * a cross-repository mount from `mount_from` (a repository on the same
 * registry, or NULL) when the registry allows it (tried first, without the
 * HEAD: when the registry answers it with an upload session instead, the
 * HEAD follows and the session is cancelled if the blob is there, so an
 * existing blob costs one request or three); else an upload of d->size
 * bytes read from `fd` (with pread, from offset 0) when fd >= 0, otherwise
 * from `data`.  Small blobs go in one PUT, larger ones by PATCH (in chunks
 * with Content-Range when opts.upload_chunk or the registry's
 * OCI-Chunk-Min-Length asks), then PUT ?digest=.  The whole upload is
 * retried on a network failure or a retryable status.  With fd < 0, data
 * NULL and `mount_from` set, only the mount is tried: ERR_NOT_FOUND when
 * the registry would not mount (the upload it started is cancelled). */
int reg_blob_upload(struct reg *r, const char *repo, const struct descriptor *d, int fd,
		    const void *data, const char *mount_from, struct err *e);

/* What reg_blob_send() did. */
enum reg_blob_how {
	REG_BLOB_EXISTED = 0,	/* the HEAD found it: nothing sent */
	REG_BLOB_MOUNTED,	/* the registry mounted it from `mount_from` */
	REG_BLOB_UPLOADED,
};

/* reg_blob_upload() of a file (fd, or -1 with `mount_from` for a mount
 * only), telling in *out which of HEAD, mount and upload got it there: one
 * call where a caller would otherwise HEAD first and then upload (which
 * HEADs again). */
int reg_blob_send(enum reg_blob_how *out, struct reg *r, const char *repo,
		  const struct descriptor *d, int fd, const char *mount_from, struct err *e);

/* Uploads blob `d` (d->size bytes) to `repo` from a stream: `read` is
 * called for the next bytes and returns how many it wrote to `dst`
 * (1..len), or < 0 to abort the upload (the registry then never sees the
 * final PUT, so no blob appears).  No HEAD and no mount first (the caller
 * decided); POST, then PATCH (or one PUT below REG_MONOLITHIC_MAX, or
 * chunks when the registry asks), then PUT ?digest=.  A stream cannot be
 * replayed, so there is exactly one attempt: when the failure may go away
 * (e->code ERR_NETWORK, or e->http_status 408, 429 or >= 500) the caller
 * may start over with a fresh stream. */
int reg_blob_upload_stream(struct reg *r, const char *repo, const struct descriptor *d,
			   ssize_t (*read)(void *arg, char *dst, size_t len), void *arg,
			   struct err *e);

#endif

/* blob.h - the blobs of a layout: blobs/<alg>/<hex>, written verified,
 * read without following links, and where each came from.
 *
 * A blob is streamed into a temporary file in .hoist/ingest, hashed while
 * written, fsynced, checked against the expected digest and size and only
 * then renamed to its name: content that does not match is never visible
 * under a blob name.  Paths are built only from a `struct digest`
 * (re-validated), never from strings.
 */
#ifndef HOIST_BLOB_H
#define HOIST_BLOB_H

#include <stddef.h>
#include <stdint.h>

struct buf;
struct digest;
struct err;
struct layout;
struct strvec;

struct blob_writer;

/* --- writing ------------------------------------------------------------ */

/* Starts writing a blob.  `expect` (NULL = unknown) fixes the algorithm and
 * the digest the content must have; `expect_size` (-1 = unknown) the size.
 * Takes a lease (layout_lease_begin) with the layout's lock timeout for the
 * writer's own duration, free when the caller already holds one: it
 * protects the temporary file and the rename from gc, but NOT the gap
 * between the blob write and the index entry naming it. */
int blob_begin(struct blob_writer **out, struct layout *l, const struct digest *expect,
	       int64_t expect_size, struct err *e);
/* Appends `n` bytes: written with write(2) straight from `p` and hashed from
 * the same buffer.  Writing more than expect_size fails at once
 * (ERR_DIGEST).  After a failure the writer can only be aborted (commit
 * reports the failure again). */
int blob_writer_write(struct blob_writer *w, const void *p, size_t n, struct err *e);
/* Finishes: verifies size and digest (ERR_DIGEST, nothing stored), fsyncs,
 * renames into blobs/<alg>/<hex> (replacing an existing file of that name,
 * which this verified content can only repair) and fsyncs the directory.
 * `out` and `out_size` may be NULL.  Frees `w` always. */
int blob_writer_commit(struct digest *out, int64_t *out_size, struct blob_writer *w,
		       struct err *e);
/* The digest and size of what was written, before the commit (which then
 * stores it under that digest); no write may follow. */
void blob_writer_digest(struct digest *out, int64_t *out_size, struct blob_writer *w);
/* Discards the temporary file and frees `w`.  NULL is a no-op. */
void blob_writer_abort(struct blob_writer *w);

/* Writes `n` bytes as one blob (begin, write, commit); `expect` may be NULL,
 * `out` may be NULL.  A small blob (up to 1 MiB: manifests, configs) whose
 * file already holds exactly these bytes is left as it is: nothing
 * written, no fsync. */
int blob_put(struct digest *out, struct layout *l, const void *p, size_t n,
	     const struct digest *expect, struct err *e);

/* --- reading -------------------------------------------------------------
 *
 * Every function below that reads a blob opens it without following a
 * symbolic link (O_NOFOLLOW, not even one to a file inside the layout) and
 * only when it is a regular file: a link or a directory, fifo or device
 * under a blob's name is refused with ERR_INVALID naming it, so a layout
 * cannot make hoist read, serve or upload a file outside it. */

/* Whether blob `d` is usable: 0 when it is a regular file (`out_size`, may
 * be NULL, gets its size), ERR_NOT_FOUND when no file has its name,
 * ERR_INVALID naming a link or other non-regular file and what to do,
 * ERR_IO when it cannot be looked at.  Nothing is opened. */
int blob_stat(int64_t *out_size, struct layout *l, const struct digest *d, struct err *e);
/* 1 when blob `d` is a regular file of `size` bytes (any size when
 * size < 0), else 0 (also for a digest that does not validate, and for a
 * link or other non-regular file, which writing the blob then replaces).
 * The name and size are checked, not the content: use blob_read()
 * for that. */
int blob_has(struct layout *l, const struct digest *d, int64_t size);
/* Sets blob `d`'s mtime to now, so that gc's grace period counts from this
 * use (a blob the layer cache reuses); nothing when it is not there. */
void blob_touch(struct layout *l, const struct digest *d);
/* Opens blob `d` for reading: `*out_fd` (O_CLOEXEC, the caller closes it)
 * and its size.  ERR_NOT_FOUND when absent, ERR_INVALID when a link or not
 * a regular file (see above).  The content is not verified. */
int blob_open(int *out_fd, int64_t *out_size, struct layout *l, const struct digest *d,
	      struct err *e);
/* Appends blob `d` to `out` and verifies its digest (ERR_DIGEST naming the
 * corrupt file).  ERR_TOO_BIG when larger than `max` (0 = no cap).  On
 * failure `out` is left as it was. */
int blob_read(struct buf *out, struct layout *l, const struct digest *d, size_t max,
	      struct err *e);

/* --- sources ------------------------------------------------------------- */

/* Records that blob `d` came from `source` ("registry/repository", no
 * white space or control characters, at most 512 bytes; ERR_INVALID
 * otherwise), so a later push to that registry can mount it.  Appends a
 * line to .hoist/sources/<alg>/<hex> unless it is there already or the
 * file holds 32 lines.  The blob need not be present yet. */
int blob_source_add(struct layout *l, const struct digest *d, const char *source,
		    struct err *e);
/* Appends the recorded sources of `d` (none when there is no record) to an
 * initialised `out`, without duplicates. */
int blob_sources(struct strvec *out, struct layout *l, const struct digest *d, struct err *e);
/* Forgets the sources of `d` (gc, after deleting the blob). */
void blob_sources_remove(struct layout *l, const struct digest *d);

#endif

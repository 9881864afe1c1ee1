/* pgzip.h - gzip compression on several threads, the same bytes on any number.
 *
 * The input is cut into PGZIP_BLOCK blocks at fixed offsets.  Each block is
 * compressed on its own (libdeflate) into a gzip member of its own: RFC 1952
 * readers (gzip, Go's compress/gzip, zlib's gzread, libarchive, Python's
 * gzip) join the members into one stream, as they do for bgzip files and
 * eStargz layers.  A block whose start looks incompressible is stored
 * instead.  Which thread compresses a block never changes its bytes: one
 * thread or sixteen give the same stream, on every run and machine (for one
 * libdeflate).  Output reaches the caller's emit function in order, on the
 * caller's thread only.
 *
 *	struct pgzip *z;
 *	pgzip_new(&z, 6, 0, emit, arg, e);
 *	pgzip_write(z, data, len, e);	// any number of times
 *	pgzip_finish(z, e);		// the last block and the gzip trailer
 *	pgzip_free(z);
 */
#ifndef HOIST_PGZIP_H
#define HOIST_PGZIP_H

#include <stddef.h>

struct digest_ctx;
struct err;

#define PGZIP_BLOCK (256u << 10)

/* Receives compressed bytes in stream order; a negative return stops the
 * stream with that error. */
typedef int pgzip_emit_fn(void *arg, const void *data, size_t len, struct err *e);

struct pgzip;

/* A new compressor at `level` (1..9) on up to `threads` threads (0: one per
 * CPU; 1: the caller's thread only).  Threads start once blocks need
 * deflating, so a small or incompressible stream never starts one.  With
 * `raw`, the input is also hashed into it, in order, on a thread of its own
 * when workers run; it is complete when pgzip_finish() returns.  ERR_NOMEM,
 * ERR_FAIL. */
int pgzip_new(struct pgzip **out, int level, int threads, struct digest_ctx *raw,
	      pgzip_emit_fn *emit, void *arg, struct err *e);
int pgzip_write(struct pgzip *z, const void *data, size_t len, struct err *e);
/* Compresses what is left and writes the trailer.  Any error leaves the
 * compressor failed: later calls return ERR_FAIL. */
int pgzip_finish(struct pgzip *z, struct err *e);
/* Stops the threads (waiting for blocks they are compressing) and frees. */
void pgzip_free(struct pgzip *z);

#endif

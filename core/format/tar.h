/* tar.h - tar streams, compressed and hashed (libarchive, zlib,
 * libdeflate and libzstd behind one module).
 *
 * Nothing else in hoist includes archive.h, zlib.h or zstd.h: layers,
 * docker-save tarballs, export and unpack all go through this API.
 *
 * The writer produces a deterministic tar stream (POSIX ustar, with pax
 * extended headers only where ustar cannot hold a value: long names, large
 * ids or sizes, xattrs).  Every header field comes from the caller: no
 * uname/gname, no atime/ctime, no xattrs unless given, mtime in whole
 * seconds.  The archive ends with the two zero blocks and no further padding
 * (as Go's archive/tar).  The stream is compressed in-process and handed to
 * a caller sink, and the writer hashes both sides in the same pass: the
 * SHA-256 of the uncompressed tar (the layer's diff_id) and of the bytes
 * given to the sink (the blob digest).
 *
 * Compression is reproducible by construction:
 * - gzip (libdeflate, pgzip.h): one member per 256 KiB block; each header
 *   carries no name, mtime 0 and OS 255 ("unknown", as Go writes it), so the
 *   bytes do not depend on the machine, the time or the number of threads.
 * - zstd (libzstd): always the multithreaded encoder with at least one
 *   worker, whose output does not depend on the number of workers (zstd
 *   guarantees this for nbWorkers >= 1), so a 2-core laptop and a 64-core
 *   CI runner produce the same blob.
 *
 * The reader takes bytes from a callback or an fd, detects gzip, zstd or no
 * compression by their magic numbers, decompresses in-process, and hashes
 * the compressed and the uncompressed stream while it reads, so a caller
 * that reads to the end (tar_reader_finish) learns the blob digest and the
 * diff_id without a second pass.  It is hardened for hostile input: header
 * sizes are bounded, names are capped (ERR_TOO_BIG), truncation and garbage
 * are errors, never crashes or over-reads.  Names are reported exactly as
 * stored ("../x", "/etc/passwd"): what may be extracted where is the
 * caller's policy.
 */
#ifndef HOIST_TAR_H
#define HOIST_TAR_H

#include "core/base/digest.h"

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct err;

enum tar_compression {
	TAR_COMPRESS_NONE = 0,
	TAR_COMPRESS_GZIP,
	TAR_COMPRESS_ZSTD,
};

/* "none", "gzip", "zstd". */
const char *tar_compression_name(enum tar_compression c);
/* Parses "none"/"uncompressed", "gzip", "zstd"; ERR_INVALID otherwise. */
int tar_compression_parse(enum tar_compression *out, const char *s, struct err *e);
/* Checks a level for a compression: 0 always means the default (gzip 6,
 * zstd 3); gzip takes 1..9, zstd 1..19 (ultra levels are refused: their
 * memory use is the reader's problem); none takes only 0.  ERR_INVALID
 * with a message naming the range. */
int tar_compression_level_check(enum tar_compression c, int level, struct err *e);

/* Receives output bytes; returns 0 or a negative err code (filling e). */
typedef int tar_sink_fn(void *arg, const void *data, size_t len, struct err *e);
/* Fills up to `len` bytes of `dst`; returns the count, 0 at the end of the
 * input, or a negative err code (filling e). */
typedef ssize_t tar_source_fn(void *arg, void *dst, size_t len, struct err *e);

enum tar_type {
	TAR_FILE = 0,
	TAR_DIR,
	TAR_SYMLINK,
	TAR_HARDLINK,	/* `link` names an earlier entry of the archive */
	TAR_CHAR,
	TAR_BLOCK,
	TAR_FIFO,
	TAR_OTHER,	/* reader only: sockets and types tar cannot name */
};
const char *tar_type_name(enum tar_type t);

/* One extended attribute (pax SCHILY.xattr.NAME). */
struct tar_xattr {
	const char *name;
	const void *value;
	size_t len;
};

/* An entry's header.  For the writer every field is the caller's choice;
 * strings are borrowed for the duration of the call.  From the reader the
 * strings are valid until the next tar_reader_next() or tar_reader_free(). */
struct tar_header {
	const char *path;	/* as stored; directories may end in '/' */
	enum tar_type type;
	uint32_t mode;		/* permission bits (07777) only */
	int64_t uid, gid;
	int64_t mtime;		/* seconds since the epoch */
	int64_t size;		/* data bytes; 0 for everything but TAR_FILE */
	/* Reader only: the data bytes the archive holds for the entry, which
	 * is `size` except for a sparse file (GNU tar --sparse): reading it
	 * fills its holes with zeros up to `size`. */
	int64_t stored;
	const char *link;	/* symlink target or hard-link name, else NULL */
	uint32_t devmajor, devminor;	/* TAR_CHAR, TAR_BLOCK */
	const struct tar_xattr *xattrs;	/* writer: only these are written */
	size_t n_xattrs;
};

/* Sizes and digests of a finished stream. */
struct tar_result {
	struct digest diff_id;	/* sha256 of the uncompressed tar */
	int64_t diff_size;	/* bytes of the uncompressed tar */
	struct digest digest;	/* sha256 of the compressed bytes */
	int64_t size;		/* bytes of the compressed stream */
	enum tar_compression compression;
};

/* --- Writer ------------------------------------------------------------ */

struct tar_writer_opts {
	enum tar_compression compression;
	int level;		/* 0 = default; see tar_compression_level_check() */
	int threads;		/* gzip and zstd workers: 0 = one per CPU; any
				 * value >= 1 gives the same bytes */
	tar_sink_fn *sink;	/* required */
	void *sink_arg;
	/* 1: the compressed bytes are not hashed here (the sink hashes them, as
	 * a blob writer does): tar_result.digest is left empty */
	int no_digest;
};

struct tar_writer;

/* A new writer in *out (caller frees with tar_writer_free()).  ERR_INVALID
 * for a bad level, ERR_NOMEM, ERR_FAIL when a library refuses to start. */
int tar_writer_new(struct tar_writer **out, const struct tar_writer_opts *opts,
		   struct err *e);
/* Starts an entry; for TAR_FILE, exactly h->size bytes must follow through
 * tar_writer_data() before the next entry or finish (ERR_INVALID otherwise,
 * never a silently padded file).  Paths must be non-empty; a hard link's
 * size is written as 0.  Any error leaves the writer failed: every later
 * call returns ERR_FAIL. */
int tar_writer_begin(struct tar_writer *w, const struct tar_header *h, struct err *e);
int tar_writer_data(struct tar_writer *w, const void *data, size_t len, struct err *e);
/* An entry with its data from memory (`len` must equal h->size for a file;
 * data may be NULL for other types). */
int tar_writer_add(struct tar_writer *w, const struct tar_header *h, const void *data,
		   size_t len, struct err *e);
/* A file entry whose h->size bytes are read from `fd` (from its current
 * offset).  ERR_IO when the file is shorter or longer than h->size: it
 * changed after it was stat'ed, and a layer must not record a torn copy. */
int tar_writer_add_fd(struct tar_writer *w, const struct tar_header *h, int fd,
		      struct err *e);
/* Ends the archive, flushes the compressor and the sink, and fills *out.
 * The writer may then only be freed. */
int tar_writer_finish(struct tar_writer *w, struct tar_result *out, struct err *e);
/* Frees the writer (NULL is a no-op); an unfinished stream is abandoned. */
void tar_writer_free(struct tar_writer *w);

/* Compresses the tar stream read from `source` as it is, byte for byte
 * (no re-serialisation: the diff_id is the sha256 of exactly those bytes),
 * with opts->compression and opts->level into opts->sink; fills *out as
 * tar_writer_finish() does.  The input is not parsed. */
int tar_compress(struct tar_result *out, tar_source_fn *source, void *source_arg,
		 const struct tar_writer_opts *opts, struct err *e);

/* --- Reader ------------------------------------------------------------ */

/* Longest path or link target the reader accepts by default. */
#define TAR_PATH_MAX_DEFAULT 4096

struct tar_reader_opts {
	tar_source_fn *source;	/* the input; when NULL, `fd` is read */
	void *source_arg;
	int fd;
	size_t path_max;	/* 0 = TAR_PATH_MAX_DEFAULT */
	int64_t max_uncompressed;	/* cap on the tar's size (a bomb); 0 = none */
	/* 1: `fd` is a regular file and the caller needs no digests: the data
	 * of entries left unread is skipped with lseek() when the archive is
	 * not compressed (only headers are read), nothing is hashed, and
	 * tar_reader_finish() is refused (ERR_USAGE). */
	int seek;
};

struct tar_reader;

int tar_reader_new(struct tar_reader **out, const struct tar_reader_opts *opts,
		   struct err *e);
/* Advances to the next entry: 1 with *out filled, 0 at the end of the
 * archive, or a negative err code (ERR_INVALID for a malformed or truncated
 * archive, ERR_TOO_BIG for a name over path_max, ERR_UNSUPPORTED for bzip2
 * or xz input, or the source's error).  Unread data of the previous entry
 * is skipped (and hashed). */
int tar_reader_next(struct tar_reader *r, struct tar_header *out, struct err *e);
/* Reads the current entry's data: the count, 0 at its end, or a negative
 * err code. */
ssize_t tar_reader_read(struct tar_reader *r, void *dst, size_t len, struct err *e);
/* The compression detected (valid after the first tar_reader_next()). */
enum tar_compression tar_reader_compression(const struct tar_reader *r);
/* Reads the rest of the input (entries not yet visited, the end blocks and
 * any trailing bytes) and fills *out with the sizes and digests of the whole
 * stream, compressed and not. */
int tar_reader_finish(struct tar_reader *r, struct tar_result *out, struct err *e);
void tar_reader_free(struct tar_reader *r);

#endif

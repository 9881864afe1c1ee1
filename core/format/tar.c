/* tar.c - tar streams over libarchive, compressed with zlib and libzstd.
 *
 * libarchive does the tar format only (no filters): the writer's output and
 * the reader's input pass through this file's own (de)compression, which is
 * where both sides are hashed, in the same pass.
 */
#include "core/format/tar.h"

#include "core/base/err.h"
#include "core/format/libarchive_dl.h"
#include "core/format/pgzip.h"
#include "core/base/text.h"

#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <limits.h>
#include <locale.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>
#include <zstd.h>

#define IO_CHUNK (128u * 1024u)
#define GZIP_DEFAULT_LEVEL 6
#define ZSTD_DEFAULT_LEVEL 3
#define ZSTD_MAX_LEVEL 19
#define XATTR_MAX 64

const char *tar_compression_name(enum tar_compression c)
{
	switch (c) {
	case TAR_COMPRESS_NONE: return "none";
	case TAR_COMPRESS_GZIP: return "gzip";
	case TAR_COMPRESS_ZSTD: return "zstd";
	}
	return "unknown";
}

int tar_compression_parse(enum tar_compression *out, const char *s, struct err *e)
{
	char q[64];

	if (s && (!strcmp(s, "none") || !strcmp(s, "uncompressed"))) {
		*out = TAR_COMPRESS_NONE;
		return 0;
	}
	if (s && !strcmp(s, "gzip")) {
		*out = TAR_COMPRESS_GZIP;
		return 0;
	}
	if (s && !strcmp(s, "zstd")) {
		*out = TAR_COMPRESS_ZSTD;
		return 0;
	}
	text_clean(q, sizeof(q), s ? s : "", s ? strlen(s) : 0);
	return err_set(e, ERR_INVALID, "unknown compression '%s': use gzip, zstd or none", q);
}

int tar_compression_level_check(enum tar_compression c, int level, struct err *e)
{
	if (level == 0)
		return 0;
	switch (c) {
	case TAR_COMPRESS_NONE:
		return err_set(e, ERR_INVALID,
			       "compression level %d given without compression", level);
	case TAR_COMPRESS_GZIP:
		if (level >= 1 && level <= 9)
			return 0;
		return err_set(e, ERR_INVALID, "gzip compression level %d out of range 1-9",
			       level);
	case TAR_COMPRESS_ZSTD:
		if (level >= 1 && level <= ZSTD_MAX_LEVEL)
			return 0;
		return err_set(e, ERR_INVALID, "zstd compression level %d out of range 1-%d",
			       level, ZSTD_MAX_LEVEL);
	}
	return err_set(e, ERR_INVALID, "unknown compression");
}

const char *tar_type_name(enum tar_type t)
{
	switch (t) {
	case TAR_FILE: return "file";
	case TAR_DIR: return "directory";
	case TAR_SYMLINK: return "symlink";
	case TAR_HARDLINK: return "hard link";
	case TAR_CHAR: return "character device";
	case TAR_BLOCK: return "block device";
	case TAR_FIFO: return "fifo";
	case TAR_OTHER: return "special file";
	}
	return "unknown";
}

/* A message from libarchive, which may quote names out of hostile input. */
static int set_archive_err(struct err *e, int code, struct archive *a, const char *what)
{
	const char *s = archive_error_string(a);
	char q[256];

	if (!s)
		s = "unknown error";
	text_clean(q, sizeof(q), s, strlen(s));
	return err_set(e, code, "%s: %s", what, q);
}

/* ======================================================================
 * Writer
 * ====================================================================== */

struct tar_writer {
	struct archive *a;
	enum tar_compression comp;
	tar_sink_fn *sink;
	void *sink_arg;
	struct digest_ctx raw;		/* the uncompressed tar */
	struct digest_ctx out;		/* the bytes given to the sink */
	int raw_init, out_init;
	int no_digest;			/* `out` not updated: only out_size */
	uint64_t out_size;
	struct pgzip *gz;
	ZSTD_CCtx *zc;
	unsigned char *obuf;
	size_t obuf_size;
	int failed;			/* sticky */
	int finished;
	int in_entry;
	int64_t remaining;		/* data bytes the current entry still needs */
	struct err cb_err;		/* an error raised inside the write callback */
	int cb_failed;
	locale_t loc;			/* C.UTF-8 while libarchive converts names */
};

/* libarchive converts names through the calling thread's locale: a
 * UTF-8 name would be refused under LC_ALL=C, and the bytes written could
 * depend on the user's locale.  Headers are written and read under C.UTF-8
 * (thread-local, so the process locale is left alone): names that are valid
 * UTF-8 are stored as such in pax records, others as raw bytes with
 * hdrcharset=BINARY, the same on every machine. */
static locale_t utf8_locale(void)
{
	return newlocale(LC_ALL_MASK, "C.UTF-8", (locale_t)0);
}

static int w_emit(struct tar_writer *w, const void *data, size_t len, struct err *e)
{
	int rc;

	if (!len)
		return 0;
	w->out_size += len;
	rc = w->no_digest ? 0 : digest_ctx_update(&w->out, data, len, e);
	if (rc < 0)
		return rc;
	return w->sink(w->sink_arg, data, len, e);
}

static int gz_emit(void *arg, const void *data, size_t len, struct err *e)
{
	return w_emit(arg, data, len, e);
}

/* Compresses `len` bytes (and with `finish`, ends the stream). */
static int w_compress(struct tar_writer *w, const void *data, size_t len, int finish,
		      struct err *e)
{
	int rc;

	if (w->comp == TAR_COMPRESS_NONE)
		return w_emit(w, data, len, e);
	if (w->comp == TAR_COMPRESS_GZIP) {
		rc = pgzip_write(w->gz, data, len, e);
		if (rc == 0 && finish)
			rc = pgzip_finish(w->gz, e);
		return rc;
	}
	{
		ZSTD_inBuffer in = { data, len, 0 };

		for (;;) {
			ZSTD_outBuffer o = { w->obuf, w->obuf_size, 0 };
			size_t zr = ZSTD_compressStream2(w->zc, &o, &in,
							 finish ? ZSTD_e_end : ZSTD_e_continue);

			if (ZSTD_isError(zr))
				return err_set(e, ERR_FAIL, "zstd compression failed: %s",
					       ZSTD_getErrorName(zr));
			rc = w_emit(w, w->obuf, o.pos, e);
			if (rc < 0)
				return rc;
			if (finish ? zr == 0 : in.pos == in.size)
				break;
		}
	}
	return 0;
}

static la_ssize_t w_write_cb(struct archive *a, void *client, const void *buf, size_t len)
{
	struct tar_writer *w = client;
	int rc;

	if (w->failed || w->cb_failed) {
		archive_set_error(a, EIO, "writer failed");
		return -1;
	}
	rc = w->gz ? 0 : digest_ctx_update(&w->raw, buf, len, &w->cb_err);
	if (rc == 0)
		rc = w_compress(w, buf, len, 0, &w->cb_err);
	if (rc < 0) {
		w->cb_failed = 1;
		archive_set_error(a, EIO, "%s", w->cb_err.msg);
		return -1;
	}
	return (la_ssize_t)len;
}

/* Reports a failed libarchive call: the callback's own error when there is
 * one (the sink's, say), else libarchive's. */
static int w_fail(struct tar_writer *w, struct err *e, const char *what)
{
	w->failed = 1;
	if (w->cb_failed) {
		if (e)
			*e = w->cb_err;
		return w->cb_err.code ? w->cb_err.code : ERR_FAIL;
	}
	return set_archive_err(e, ERR_FAIL, w->a, what);
}

int tar_writer_new(struct tar_writer **out, const struct tar_writer_opts *opts,
		   struct err *e)
{
	struct tar_writer *w = NULL;
	int ret = ERR_NOMEM;
	int level = opts->level;

	*out = NULL;
	if (!opts->sink)
		return err_set(e, ERR_INVALID, "tar writer without a sink");
	ret = tar_compression_level_check(opts->compression, level, e);
	if (ret < 0)
		return ret;
	w = calloc(1, sizeof(*w));
	if (!w)
		return err_set(e, ERR_NOMEM, "out of memory");
	w->comp = opts->compression;
	w->sink = opts->sink;
	w->sink_arg = opts->sink_arg;
	w->no_digest = opts->no_digest;
	ret = digest_ctx_init(&w->raw, DIGEST_SHA256, e);
	if (ret < 0)
		goto out;
	w->raw_init = 1;
	ret = digest_ctx_init(&w->out, DIGEST_SHA256, e);
	if (ret < 0)
		goto out;
	w->out_init = 1;
	if (w->comp == TAR_COMPRESS_GZIP) {
		/* pgzip hashes the tar (diff_id) beside its workers */
		ret = pgzip_new(&w->gz, level ? level : GZIP_DEFAULT_LEVEL, opts->threads, &w->raw,
				gz_emit, w, e);
		if (ret < 0)
			goto out;
	} else if (w->comp == TAR_COMPRESS_ZSTD) {
		int threads = opts->threads;
		size_t zr;

		if (threads <= 0) {
			long n = sysconf(_SC_NPROCESSORS_ONLN);

			threads = n > 0 ? (int)(n > 64 ? 64 : n) : 1;
		}
		w->obuf_size = ZSTD_CStreamOutSize();
		if (!(w->obuf = malloc(w->obuf_size))) {
			ret = err_set(e, ERR_NOMEM, "out of memory");
			goto out;
		}
		w->zc = ZSTD_createCCtx();
		if (!w->zc) {
			ret = err_set(e, ERR_NOMEM, "out of memory");
			goto out;
		}
		zr = ZSTD_CCtx_setParameter(w->zc, ZSTD_c_compressionLevel,
					    level ? level : ZSTD_DEFAULT_LEVEL);
		if (!ZSTD_isError(zr))
			zr = ZSTD_CCtx_setParameter(w->zc, ZSTD_c_nbWorkers, threads);
		if (ZSTD_isError(zr)) {
			/* A libzstd without threads would give different bytes
			 * than everyone else's: refuse rather than diverge. */
			ret = err_set(e, ERR_UNSUPPORTED,
				      "zstd multithreaded compression unavailable: %s",
				      ZSTD_getErrorName(zr));
			goto out;
		}
	}
	w->loc = utf8_locale();
	if ((ret = libarchive_dl_load(e)) < 0)
		goto out;
	w->a = archive_write_new();
	if (!w->a) {
		ret = err_set(e, ERR_NOMEM, "out of memory");
		goto out;
	}
	/* xattrheader=SCHILY: the form Go's archive/tar (docker, containerd)
	 * reads, and only that. */
	if (archive_write_set_format_pax_restricted(w->a) != ARCHIVE_OK ||
	    archive_write_set_format_option(w->a, "pax", "xattrheader", "SCHILY") != ARCHIVE_OK ||
	    archive_write_add_filter_none(w->a) != ARCHIVE_OK ||
	    archive_write_set_bytes_per_block(w->a, 10240) != ARCHIVE_OK ||
	    archive_write_set_bytes_in_last_block(w->a, 1) != ARCHIVE_OK) {
		ret = set_archive_err(e, ERR_FAIL, w->a, "cannot set up the tar writer");
		goto out;
	}
	if (archive_write_open(w->a, w, NULL, w_write_cb, NULL) != ARCHIVE_OK) {
		ret = w_fail(w, e, "cannot start the tar stream");
		goto out;
	}
	*out = w;
	w = NULL;
	ret = 0;
out:
	tar_writer_free(w);
	return ret;
}

static int w_check_entry_done(struct tar_writer *w, struct err *e)
{
	if (w->in_entry && w->remaining != 0) {
		w->failed = 1;
		return err_set(e, ERR_INVALID, "tar entry ended %lld bytes short of its size",
			       (long long)w->remaining);
	}
	w->in_entry = 0;
	return 0;
}

int tar_writer_begin(struct tar_writer *w, const struct tar_header *h, struct err *e)
{
	struct archive_entry *ae = NULL;
	int ret = ERR_FAIL;
	size_t i;

	if (w->failed || w->finished)
		return err_set(e, ERR_FAIL, "tar writer used after it failed or finished");
	ret = w_check_entry_done(w, e);
	if (ret < 0)
		return ret;
	if (!h->path || !*h->path)
		return err_set(e, ERR_INVALID, "tar entry with an empty name");
	if (h->size < 0 || (h->type != TAR_FILE && h->size != 0))
		return err_set(e, ERR_INVALID, "tar entry '%s' with an invalid size", h->path);
	if ((h->type == TAR_SYMLINK || h->type == TAR_HARDLINK) && (!h->link || !*h->link))
		return err_set(e, ERR_INVALID, "link '%s' without a target", h->path);
	if (h->uid < 0 || h->gid < 0 || h->n_xattrs > XATTR_MAX)
		return err_set(e, ERR_INVALID, "tar entry '%s' with invalid ids or xattrs",
			       h->path);
	ae = archive_entry_new2(w->a);
	if (!ae)
		return err_set(e, ERR_NOMEM, "out of memory");
	archive_entry_copy_pathname(ae, h->path);
	archive_entry_set_perm(ae, h->mode & 07777);
	archive_entry_set_uid(ae, h->uid);
	archive_entry_set_gid(ae, h->gid);
	archive_entry_set_mtime(ae, h->mtime, 0);
	switch (h->type) {
	case TAR_FILE:
		archive_entry_set_filetype(ae, AE_IFREG);
		archive_entry_set_size(ae, h->size);
		break;
	case TAR_DIR:
		archive_entry_set_filetype(ae, AE_IFDIR);
		archive_entry_set_size(ae, 0);
		break;
	case TAR_SYMLINK:
		archive_entry_set_filetype(ae, AE_IFLNK);
		archive_entry_copy_symlink(ae, h->link);
		archive_entry_set_size(ae, 0);
		break;
	case TAR_HARDLINK:
		archive_entry_set_filetype(ae, AE_IFREG);
		archive_entry_copy_hardlink(ae, h->link);
		archive_entry_set_size(ae, 0);
		break;
	case TAR_CHAR:
	case TAR_BLOCK:
		archive_entry_set_filetype(ae, h->type == TAR_CHAR ? AE_IFCHR : AE_IFBLK);
		archive_entry_set_rdevmajor(ae, h->devmajor);
		archive_entry_set_rdevminor(ae, h->devminor);
		archive_entry_set_size(ae, 0);
		break;
	case TAR_FIFO:
		archive_entry_set_filetype(ae, AE_IFIFO);
		archive_entry_set_size(ae, 0);
		break;
	default:
		archive_entry_free(ae);
		return err_set(e, ERR_UNSUPPORTED, "tar entry '%s': type %s cannot be written",
			       h->path, tar_type_name(h->type));
	}
	for (i = 0; i < h->n_xattrs; i++)
		archive_entry_xattr_add_entry(ae, h->xattrs[i].name, h->xattrs[i].value,
					      h->xattrs[i].len);
	{
		locale_t old = w->loc ? uselocale(w->loc) : (locale_t)0;

		/* ARCHIVE_WARN: a name that is not UTF-8, written as raw bytes */
		ret = archive_write_header(w->a, ae);
		if (w->loc)
			uselocale(old);
	}
	if (ret != ARCHIVE_OK && ret != ARCHIVE_WARN) {
		char q[128];

		text_clean(q, sizeof(q), h->path, strlen(h->path));
		ret = w_fail(w, e, "cannot write a tar header");
		err_prefix(e, "'%s'", q);
		goto out;
	}
	w->in_entry = 1;
	w->remaining = h->type == TAR_FILE ? h->size : 0;
	ret = 0;
out:
	archive_entry_free(ae);
	return ret;
}

int tar_writer_data(struct tar_writer *w, const void *data, size_t len, struct err *e)
{
	const char *p = data;

	if (w->failed || w->finished || !w->in_entry)
		return err_set(e, ERR_FAIL, "tar data written outside an entry");
	if ((uint64_t)len > (uint64_t)w->remaining) {
		w->failed = 1;
		return err_set(e, ERR_INVALID, "tar entry data exceeds its size");
	}
	while (len) {
		la_ssize_t n = archive_write_data(w->a, p, len);

		if (n <= 0)
			return w_fail(w, e, "cannot write tar data");
		p += n;
		len -= (size_t)n;
		w->remaining -= n;
	}
	return 0;
}

int tar_writer_add(struct tar_writer *w, const struct tar_header *h, const void *data,
		   size_t len, struct err *e)
{
	int rc;

	if (h->type == TAR_FILE && (uint64_t)len != (uint64_t)h->size)
		return err_set(e, ERR_INVALID, "tar entry '%s': %zu bytes for a size of %lld",
			       h->path ? h->path : "", len, (long long)h->size);
	rc = tar_writer_begin(w, h, e);
	if (rc == 0 && h->type == TAR_FILE && len)
		rc = tar_writer_data(w, data, len, e);
	return rc;
}

int tar_writer_add_fd(struct tar_writer *w, const struct tar_header *h, int fd, struct err *e)
{
	char *b = NULL;
	int64_t left = h->size;
	int ret;

	if (h->type != TAR_FILE)
		return err_set(e, ERR_INVALID, "tar entry '%s' from a file is not a file", h->path);
	ret = tar_writer_begin(w, h, e);
	if (ret < 0)
		return ret;
	b = malloc(IO_CHUNK + 1);
	if (!b) {
		w->failed = 1;
		return err_set(e, ERR_NOMEM, "out of memory");
	}
	for (;;) {
		/* the last read asks for one byte more: a regular file reads
		 * short only at its end, so it tells the end (or growth) without
		 * another read(2) */
		size_t want = left >= (int64_t)IO_CHUNK ? IO_CHUNK : (size_t)left + 1;
		ssize_t n;

		n = read(fd, b, want);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			w->failed = 1;
			ret = err_set_errno(e, ERR_IO, errno, "cannot read '%s'", h->path);
			goto out;
		}
		if (left == 0) {
			if (n > 0) {
				w->failed = 1;
				ret = err_set(e, ERR_IO, "'%s' grew while it was read", h->path);
				goto out;
			}
			break;
		}
		if (n == 0) {
			w->failed = 1;
			ret = err_set(e, ERR_IO, "'%s' shrank while it was read", h->path);
			goto out;
		}
		if (n > left) {
			w->failed = 1;
			ret = err_set(e, ERR_IO, "'%s' grew while it was read", h->path);
			goto out;
		}
		ret = tar_writer_data(w, b, (size_t)n, e);
		if (ret < 0)
			goto out;
		left -= n;
		if (left == 0 && (size_t)n < want)
			break;	/* the short read was the end */
	}
	ret = 0;
out:
	free(b);
	return ret;
}

/* The sizes and digests of a finished stream. */
static void w_result(struct tar_result *out, struct tar_writer *w)
{
	memset(out, 0, sizeof(*out));
	out->diff_size = (int64_t)w->raw.size;
	out->size = (int64_t)w->out_size;
	digest_ctx_final(&w->raw, &out->diff_id);
	if (!w->no_digest)
		digest_ctx_final(&w->out, &out->digest);
	out->compression = w->comp;
}

int tar_writer_finish(struct tar_writer *w, struct tar_result *out, struct err *e)
{
	int ret;

	if (w->failed || w->finished)
		return err_set(e, ERR_FAIL, "tar writer used after it failed or finished");
	ret = w_check_entry_done(w, e);
	if (ret < 0)
		return ret;
	if (archive_write_close(w->a) != ARCHIVE_OK)
		return w_fail(w, e, "cannot end the tar stream");
	ret = w_compress(w, NULL, 0, 1, e);
	if (ret < 0) {
		w->failed = 1;
		return ret;
	}
	w->finished = 1;
	w_result(out, w);
	return 0;
}

void tar_writer_free(struct tar_writer *w)
{
	if (!w)
		return;
	if (w->a) {
		/* archive_write_free() would close, and so write the end blocks:
		 * an abandoned stream must not reach the sink any more. */
		w->failed = 1;
		archive_write_free(w->a);
	}
	pgzip_free(w->gz);
	if (w->loc)
		freelocale(w->loc);
	ZSTD_freeCCtx(w->zc);
	free(w->obuf);
	if (w->raw_init)
		digest_ctx_release(&w->raw);
	if (w->out_init)
		digest_ctx_release(&w->out);
	free(w);
}

/* Compresses an existing tar stream byte for byte (crane append of an
 * uncompressed layer): the writer's compressor and hashes without
 * libarchive, whose stream is abandoned unwritten. */
int tar_compress(struct tar_result *out, tar_source_fn *source, void *source_arg,
		 const struct tar_writer_opts *opts, struct err *e)
{
	struct tar_writer *w = NULL;
	unsigned char *b = NULL;
	int ret;

	ret = tar_writer_new(&w, opts, e);
	if (ret < 0)
		goto out;
	if (!(b = malloc(IO_CHUNK))) {
		ret = err_set(e, ERR_NOMEM, "out of memory");
		goto out;
	}
	for (;;) {
		ssize_t n = source(source_arg, b, IO_CHUNK, e);

		if (n < 0) {
			ret = (int)n;
			goto out;
		}
		if (n == 0)
			break;
		ret = w->gz ? 0 : digest_ctx_update(&w->raw, b, (size_t)n, e);
		if (ret == 0)
			ret = w_compress(w, b, (size_t)n, 0, e);
		if (ret < 0)
			goto out;
	}
	ret = w_compress(w, NULL, 0, 1, e);
	if (ret < 0)
		goto out;
	w_result(out, w);
	ret = 0;
out:
	tar_writer_free(w);
	free(b);
	return ret;
}

/* ======================================================================
 * Reader
 * ====================================================================== */

struct tar_reader {
	struct archive *a;
	tar_source_fn *source;
	void *source_arg;
	int fd;
	size_t path_max;
	int64_t max_unc;
	enum tar_compression comp;
	int detected;
	unsigned char *ibuf;		/* compressed input */
	size_t ipos, ilen;
	unsigned char *obuf;		/* decompressed output handed to libarchive */
	size_t obuf_size;
	z_stream z;
	int z_init;
	int z_between;			/* a gzip member ended; another may follow */
	ZSTD_DCtx *zd;
	int zstd_open;			/* inside a zstd frame */
	struct digest_ctx cin, cout;
	int cin_init, cout_init;
	int eof_in;			/* the source said 0 */
	int eof_out;			/* no more decompressed bytes */
	int opened;			/* archive_read_open() done */
	int at_end;			/* archive_read_next_header() said EOF */
	int64_t entry_end;		/* uncompressed offset where the last entry's data ends */
	int64_t pos;			/* uncompressed bytes given to libarchive or skipped */
	int seek;			/* opts->seek: skip by lseek, hash nothing */
	int64_t file_size;		/* with seek: the file's size */
	int padded;			/* a short last block was padded (see r_read_cb) */
	int failed;
	struct err cb_err;
	int cb_failed;
	struct tar_xattr xattrs[XATTR_MAX];
	size_t n_xattrs;
	locale_t loc;
};

static ssize_t r_source(struct tar_reader *r, void *dst, size_t len, struct err *e)
{
	ssize_t n;

	if (r->source)
		return r->source(r->source_arg, dst, len, e);
	do
		n = read(r->fd, dst, len);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return err_set_errno(e, ERR_IO, errno, "cannot read the archive");
	return n;
}

/* Makes sure unread compressed input is buffered: returns the bytes
 * available (0 at the end of the input) or a negative err code. */
static ssize_t r_fill(struct tar_reader *r, struct err *e)
{
	ssize_t n;
	int rc;

	if (r->ipos < r->ilen)
		return (ssize_t)(r->ilen - r->ipos);
	r->ipos = r->ilen = 0;
	if (r->eof_in)
		return 0;
	n = r_source(r, r->ibuf, IO_CHUNK, e);
	if (n < 0)
		return n;
	if ((size_t)n > IO_CHUNK)
		return err_set(e, ERR_FAIL, "archive source returned too many bytes");
	if (n == 0) {
		r->eof_in = 1;
		return 0;
	}
	rc = r->seek ? 0 : digest_ctx_update(&r->cin, r->ibuf, (size_t)n, e);
	if (rc < 0)
		return rc;
	r->ilen = (size_t)n;
	return n;
}

static int r_detect(struct tar_reader *r, struct err *e)
{
	const unsigned char *p;

	/* Gather the first 6 bytes (or all there is). */
	while (r->ilen < 6 && !r->eof_in) {
		ssize_t n = r_source(r, r->ibuf + r->ilen, IO_CHUNK - r->ilen, e);
		int rc;

		if (n < 0)
			return (int)n;
		if ((size_t)n > IO_CHUNK - r->ilen)
			return err_set(e, ERR_FAIL, "archive source returned too many bytes");
		if (n == 0) {
			r->eof_in = 1;
			break;
		}
		rc = r->seek ? 0 : digest_ctx_update(&r->cin, r->ibuf + r->ilen, (size_t)n, e);
		if (rc < 0)
			return rc;
		r->ilen += (size_t)n;
	}
	p = r->ibuf;
	r->detected = 1;
	if (r->ilen >= 2 && p[0] == 0x1f && p[1] == 0x8b) {
		r->comp = TAR_COMPRESS_GZIP;
		if (inflateInit2(&r->z, 15 + 16) != Z_OK)
			return err_set(e, ERR_FAIL, "cannot start gzip decompression");
		r->z_init = 1;
	} else if (r->ilen >= 4 && p[0] == 0x28 && p[1] == 0xb5 && p[2] == 0x2f && p[3] == 0xfd) {
		r->comp = TAR_COMPRESS_ZSTD;
		r->zd = ZSTD_createDCtx();
		if (!r->zd)
			return err_set(e, ERR_NOMEM, "out of memory");
		/* Refuse windows over 128 MiB (zstd --long=27): memory is bounded. */
		ZSTD_DCtx_setParameter(r->zd, ZSTD_d_windowLogMax, 27);
	} else if (r->ilen >= 3 && p[0] == 'B' && p[1] == 'Z' && p[2] == 'h') {
		return err_set(e, ERR_UNSUPPORTED,
			       "bzip2-compressed archive: hoist reads tar, gzip and zstd; "
			       "decompress it first (bunzip2)");
	} else if (r->ilen >= 6 && !memcmp(p, "\xfd" "7zXZ\0", 6)) {
		return err_set(e, ERR_UNSUPPORTED,
			       "xz-compressed archive: hoist reads tar, gzip and zstd; "
			       "decompress it first (unxz)");
	} else {
		r->comp = TAR_COMPRESS_NONE;
	}
	return 0;
}

/* Produces the next piece of the uncompressed stream in *out: the length,
 * 0 at its end, or a negative err code. */
static ssize_t r_produce(struct tar_reader *r, const void **out, struct err *e)
{
	ssize_t n = 0;
	int rc;

	if (!r->detected) {
		rc = r_detect(r, e);
		if (rc < 0)
			return rc;
	}
	if (r->eof_out)
		return 0;
	if (r->comp == TAR_COMPRESS_NONE) {
		n = r_fill(r, e);
		if (n < 0)
			return n;
		*out = r->ibuf + r->ipos;
		r->ipos = r->ilen;
	} else if (r->comp == TAR_COMPRESS_GZIP) {
		r->z.next_out = r->obuf;
		r->z.avail_out = (uInt)r->obuf_size;
		while (r->z.avail_out == r->obuf_size) {
			ssize_t avail = r_fill(r, e);
			int zr;

			if (avail < 0)
				return avail;
			if (avail == 0) {
				if (!r->z_between)
					return err_set(e, ERR_INVALID, "truncated gzip stream");
				break;
			}
			if (r->z_between) {
				/* Between members only another member or zero
				 * padding may follow. */
				if (r->ibuf[r->ipos] == 0) {
					while (r->ipos < r->ilen && r->ibuf[r->ipos] == 0)
						r->ipos++;
					if (r->ipos < r->ilen)
						return err_set(e, ERR_INVALID,
							       "garbage after the gzip stream");
					continue;
				}
				r->z_between = 0;
			}
			r->z.next_in = r->ibuf + r->ipos;
			r->z.avail_in = (uInt)avail;
			zr = inflate(&r->z, Z_NO_FLUSH);
			r->ipos = r->ilen - r->z.avail_in;
			if (zr == Z_STREAM_END) {
				if (inflateReset(&r->z) != Z_OK)
					return err_set(e, ERR_FAIL, "gzip decompression failed");
				r->z_between = 1;
			} else if (zr != Z_OK && zr != Z_BUF_ERROR) {
				return err_set(e, ERR_INVALID, "corrupt gzip stream: %s",
					       r->z.msg ? r->z.msg : "inflate failed");
			}
		}
		n = (ssize_t)(r->obuf_size - r->z.avail_out);
		*out = r->obuf;
	} else {
		ZSTD_outBuffer o = { r->obuf, r->obuf_size, 0 };

		while (o.pos == 0) {
			ssize_t avail = r_fill(r, e);
			ZSTD_inBuffer in;
			size_t zr;

			if (avail < 0)
				return avail;
			if (avail == 0) {
				if (r->zstd_open)
					return err_set(e, ERR_INVALID, "truncated zstd stream");
				break;
			}
			in.src = r->ibuf + r->ipos;
			in.size = (size_t)avail;
			in.pos = 0;
			zr = ZSTD_decompressStream(r->zd, &o, &in);
			r->ipos += in.pos;
			if (ZSTD_isError(zr))
				return err_set(e, ERR_INVALID, "corrupt zstd stream: %s",
					       ZSTD_getErrorName(zr));
			r->zstd_open = zr != 0;
		}
		n = (ssize_t)o.pos;
		*out = r->obuf;
	}
	if (n == 0) {
		r->eof_out = 1;
		return 0;
	}
	if (r->max_unc > 0 && r->pos + n > r->max_unc)
		return err_set(e, ERR_TOO_BIG, "archive larger than %lld bytes uncompressed",
			       (long long)r->max_unc);
	rc = r->seek ? 0 : digest_ctx_update(&r->cout, *out, (size_t)n, e);
	if (rc < 0)
		return rc;
	r->pos += n;
	return n;
}

static la_ssize_t r_read_cb(struct archive *a, void *client, const void **buf)
{
	struct tar_reader *r = client;
	ssize_t n;

	*buf = NULL;
	if (r->cb_failed) {
		archive_set_error(a, EIO, "reader failed");
		return -1;
	}
	n = r_produce(r, buf, &r->cb_err);
	if (n < 0) {
		r->cb_failed = 1;
		archive_set_error(a, EIO, "%s", r->cb_err.msg);
		return -1;
	}
	if (n == 0 && !r->padded) {
		/* The stream ended where libarchive wanted more.  At a block
		 * boundary libarchive itself takes that as the end (the two
		 * zero blocks are optional, as for GNU tar).  Mid-block is
		 * fine only right after the last entry's data, its padding
		 * (and the end blocks) left out, as Go's archive/tar writes
		 * when never closed (umoci 0.4.7's layers): pad that block
		 * with zeros, which are not hashed.  Anywhere else the
		 * archive was cut inside an entry or a header. */
		int64_t t = r->pos;
		static const char zeros[512];

		r->padded = 1;
		if (t % 512) {
			if (t < r->entry_end || t >= (r->entry_end + 511) / 512 * 512) {
				r->cb_failed = 1;
				err_set(&r->cb_err, ERR_INVALID,
					"truncated tar archive: it ends inside %s at byte %lld",
					t < r->entry_end ? "an entry's data" : "a header",
					(long long)t);
				archive_set_error(a, EIO, "%s", r->cb_err.msg);
				return -1;
			}
			*buf = zeros;
			return (la_ssize_t)(512 - t % 512);
		}
	}
	return n;
}

/* With opts->seek, skips what libarchive does not want to read (the data of
 * entries left unread) with lseek(): only uncompressed archives, as the
 * stream is handed over whole (r_produce), never beyond the file's end (the
 * read there then says where the archive was cut).  0 makes libarchive
 * read through instead. */
static la_int64_t r_skip_cb(struct archive *a, void *client, la_int64_t request)
{
	struct tar_reader *r = client;
	off_t cur;

	(void)a;
	if (!r->seek || !r->detected || r->comp != TAR_COMPRESS_NONE || r->cb_failed ||
	    r->ipos < r->ilen || request <= 0)
		return 0;
	cur = lseek(r->fd, 0, SEEK_CUR);
	if (cur < 0 || cur >= r->file_size)
		return 0;
	if (request > r->file_size - cur)
		request = r->file_size - cur;
	if (lseek(r->fd, (off_t)request, SEEK_CUR) < 0)
		return 0;
	r->pos += request;
	return request;
}

static int r_fail(struct tar_reader *r, struct err *e, const char *what)
{
	r->failed = 1;
	if (r->cb_failed) {
		if (e)
			*e = r->cb_err;
		return r->cb_err.code ? r->cb_err.code : ERR_FAIL;
	}
	return set_archive_err(e, ERR_INVALID, r->a, what);
}

int tar_reader_new(struct tar_reader **out, const struct tar_reader_opts *opts,
		   struct err *e)
{
	struct tar_reader *r;
	int ret;

	*out = NULL;
	r = calloc(1, sizeof(*r));
	if (!r)
		return err_set(e, ERR_NOMEM, "out of memory");
	r->source = opts->source;
	r->source_arg = opts->source_arg;
	r->fd = opts->fd;
	r->path_max = opts->path_max ? opts->path_max : TAR_PATH_MAX_DEFAULT;
	r->max_unc = opts->max_uncompressed;
	if (opts->seek && !opts->source) {
		struct stat st;

		if (fstat(opts->fd, &st) == 0 && S_ISREG(st.st_mode)) {
			r->seek = 1;
			r->file_size = (int64_t)st.st_size;
		}
	}
	r->obuf_size = IO_CHUNK;
	r->ibuf = malloc(IO_CHUNK);
	r->obuf = malloc(r->obuf_size);
	if (!r->ibuf || !r->obuf) {
		ret = err_set(e, ERR_NOMEM, "out of memory");
		goto out;
	}
	ret = digest_ctx_init(&r->cin, DIGEST_SHA256, e);
	if (ret < 0)
		goto out;
	r->cin_init = 1;
	ret = digest_ctx_init(&r->cout, DIGEST_SHA256, e);
	if (ret < 0)
		goto out;
	r->cout_init = 1;
	r->loc = utf8_locale();
	if ((ret = libarchive_dl_load(e)) < 0)
		goto out;
	r->a = archive_read_new();
	if (!r->a) {
		ret = err_set(e, ERR_NOMEM, "out of memory");
		goto out;
	}
	/* Tar only (every variant: ustar, pax, GNU, v7) and the empty stream;
	 * no filters: decompression is ours. */
	if (archive_read_support_format_tar(r->a) != ARCHIVE_OK ||
	    archive_read_support_format_empty(r->a) != ARCHIVE_OK) {
		ret = set_archive_err(e, ERR_FAIL, r->a, "cannot set up the tar reader");
		goto out;
	}
	*out = r;
	r = NULL;
	ret = 0;
out:
	tar_reader_free(r);
	return ret;
}

static int r_open(struct tar_reader *r, struct err *e)
{
	if (r->opened)
		return 0;
	r->opened = 1;
	if (archive_read_open2(r->a, r, NULL, r_read_cb, r->seek ? r_skip_cb : NULL, NULL) !=
	    ARCHIVE_OK)
		return r_fail(r, e, "cannot read the archive");
	return 0;
}

static enum tar_type r_type(struct archive_entry *ae)
{
	if (archive_entry_hardlink(ae))
		return TAR_HARDLINK;
	switch (archive_entry_filetype(ae)) {
	case AE_IFREG: return TAR_FILE;
	case AE_IFDIR: return TAR_DIR;
	case AE_IFLNK: return TAR_SYMLINK;
	case AE_IFCHR: return TAR_CHAR;
	case AE_IFBLK: return TAR_BLOCK;
	case AE_IFIFO: return TAR_FIFO;
	default: return TAR_OTHER;
	}
}

static int r_next(struct tar_reader *r, struct tar_header *out, struct err *e)
{
	struct archive_entry *ae;
	const char *name, *value;
	size_t size;
	int rc;

	memset(out, 0, sizeof(*out));
	if (r->failed)
		return err_set(e, ERR_FAIL, "tar reader used after it failed");
	if (r->at_end)
		return 0;
	rc = r_open(r, e);
	if (rc < 0)
		return rc;
	rc = archive_read_next_header(r->a, &ae);
	if (rc == ARCHIVE_EOF && r->cb_failed)
		return r_fail(r, e, "malformed tar archive");	/* libarchive's "empty" format ate it */
	if (rc == ARCHIVE_EOF) {
		r->at_end = 1;
		return 0;
	}
	if (rc != ARCHIVE_OK && rc != ARCHIVE_WARN)
		return r_fail(r, e, "malformed tar archive");
	out->path = archive_entry_pathname(ae);
	if (!out->path || !*out->path) {
		r->failed = 1;
		return err_set(e, ERR_INVALID, "malformed tar archive: an entry without a name");
	}
	if (strlen(out->path) > r->path_max) {
		r->failed = 1;
		return err_set(e, ERR_TOO_BIG, "tar entry name longer than %zu bytes", r->path_max);
	}
	out->type = r_type(ae);
	if (out->type == TAR_HARDLINK)
		out->link = archive_entry_hardlink(ae);
	else if (out->type == TAR_SYMLINK)
		out->link = archive_entry_symlink(ae);
	if ((out->type == TAR_HARDLINK || out->type == TAR_SYMLINK) && !out->link) {
		r->failed = 1;
		return err_set(e, ERR_INVALID, "malformed tar archive: a link without a target");
	}
	if (out->link && strlen(out->link) > r->path_max) {
		r->failed = 1;
		return err_set(e, ERR_TOO_BIG, "tar link target longer than %zu bytes",
			       r->path_max);
	}
	out->mode = (uint32_t)archive_entry_perm(ae) & 07777;
	out->uid = archive_entry_uid(ae);
	out->gid = archive_entry_gid(ae);
	out->mtime = archive_entry_mtime(ae);
	out->size = out->type == TAR_FILE ? archive_entry_size(ae) : 0;
	out->stored = out->size;
	if (out->type == TAR_FILE && archive_entry_sparse_count(ae) > 0) {
		la_int64_t off, len;

		out->stored = 0;
		archive_entry_sparse_reset(ae);
		while (archive_entry_sparse_next(ae, &off, &len) == ARCHIVE_OK)
			out->stored += len > 0 ? len : 0;
	}
	r->entry_end = archive_filter_bytes(r->a, 0) +
		       (archive_entry_size(ae) > 0 ? archive_entry_size(ae) : 0);
	if (out->size < 0) {
		r->failed = 1;
		return err_set(e, ERR_INVALID, "malformed tar archive: a negative size");
	}
	if (out->type == TAR_CHAR || out->type == TAR_BLOCK) {
		out->devmajor = (uint32_t)archive_entry_rdevmajor(ae);
		out->devminor = (uint32_t)archive_entry_rdevminor(ae);
	}
	r->n_xattrs = 0;
	archive_entry_xattr_reset(ae);
	while (archive_entry_xattr_next(ae, &name, (const void **)&value, &size) == ARCHIVE_OK) {
		if (r->n_xattrs == XATTR_MAX) {
			r->failed = 1;
			return err_set(e, ERR_TOO_BIG, "tar entry with more than %d xattrs",
				       XATTR_MAX);
		}
		r->xattrs[r->n_xattrs].name = name;
		r->xattrs[r->n_xattrs].value = value;
		r->xattrs[r->n_xattrs].len = size;
		r->n_xattrs++;
	}
	out->xattrs = r->n_xattrs ? r->xattrs : NULL;
	out->n_xattrs = r->n_xattrs;
	return 1;
}

/* Names are converted when read: under C.UTF-8, see utf8_locale(). */
int tar_reader_next(struct tar_reader *r, struct tar_header *out, struct err *e)
{
	locale_t old = r->loc ? uselocale(r->loc) : (locale_t)0;
	int rc = r_next(r, out, e);

	if (r->loc)
		uselocale(old);
	return rc;
}

ssize_t tar_reader_read(struct tar_reader *r, void *dst, size_t len, struct err *e)
{
	la_ssize_t n;

	if (r->failed)
		return err_set(e, ERR_FAIL, "tar reader used after it failed");
	if (!r->opened || r->at_end)
		return 0;
	n = archive_read_data(r->a, dst, len);
	if (n < 0)
		return r_fail(r, e, "cannot read tar entry data");
	return (ssize_t)n;
}

enum tar_compression tar_reader_compression(const struct tar_reader *r)
{
	return r->comp;
}

int tar_reader_finish(struct tar_reader *r, struct tar_result *out, struct err *e)
{
	struct tar_header h;
	int rc;

	memset(out, 0, sizeof(*out));
	if (r->seek)
		return err_set(e, ERR_USAGE, "a tar reader that seeks has no digests");
	while ((rc = tar_reader_next(r, &h, e)) > 0)
		;
	if (rc < 0)
		return rc;
	/* Drain what libarchive did not ask for: the end blocks and padding. */
	for (;;) {
		const void *p;
		ssize_t n = r_produce(r, &p, e);

		if (n < 0) {
			r->failed = 1;
			return (int)n;
		}
		if (n == 0)
			break;
	}
	/* Compressed bytes after the end of the compressed stream. */
	while (r->comp != TAR_COMPRESS_NONE) {
		ssize_t n = r_fill(r, e);

		if (n < 0)
			return (int)n;
		if (n == 0)
			break;
		r->ipos = r->ilen;
	}
	r->failed = 1;	/* only free from here */
	out->diff_size = (int64_t)r->cout.size;
	out->size = (int64_t)r->cin.size;
	digest_ctx_final(&r->cout, &out->diff_id);
	digest_ctx_final(&r->cin, &out->digest);
	out->compression = r->comp;
	return 0;
}

void tar_reader_free(struct tar_reader *r)
{
	if (!r)
		return;
	if (r->a)
		archive_read_free(r->a);
	if (r->z_init)
		inflateEnd(&r->z);
	if (r->loc)
		freelocale(r->loc);
	ZSTD_freeDCtx(r->zd);
	if (r->cin_init)
		digest_ctx_release(&r->cin);
	if (r->cout_init)
		digest_ctx_release(&r->cout);
	free(r->ibuf);
	free(r->obuf);
	free(r);
}

#define TEST_MODULE "archive"
#include "core/base/strvec.h"
#include "tests/unit/test.h"

#include "core/format/tar.h"
#include "core/base/buf.h"
#include "core/base/digest.h"
#include "core/base/err.h"

/* The independent checks decompress with the libraries themselves. */
#include <archive.h>
#include <archive_entry.h>
#include <zstd.h>

#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <unistd.h>

static int sink_buf(void *arg, const void *data, size_t len, struct err *e)
{
	return buf_add(arg, data, len) < 0 ? err_set(e, ERR_NOMEM, "oom") : 0;
}

static int sink_fail(void *arg, const void *data, size_t len, struct err *e)
{
	int *calls = arg;

	if (++*calls >= 2)
		return err_set(e, ERR_IO, "disk full (test)");
	return 0;
}

struct memsrc {
	const unsigned char *p;
	size_t len, pos;
	size_t chunk;	/* max bytes per call, to exercise refills */
};

static ssize_t src_mem(void *arg, void *dst, size_t len, struct err *e)
{
	struct memsrc *m = arg;
	size_t n = m->len - m->pos;

	if (n > len)
		n = len;
	if (m->chunk && n > m->chunk)
		n = m->chunk;
	memcpy(dst, m->p + m->pos, n);
	m->pos += n;
	return (ssize_t)n;
}

static const char DATA1[] = "hello, world\n";

/* A fixed set of entries: every type the writer takes. */
static int write_sample(struct buf *out, enum tar_compression c, int level, int threads,
			int64_t mtime, struct tar_result *res)
{
	struct tar_writer_opts o = { c, level, threads, sink_buf, out, 0 };
	struct tar_writer *w = NULL;
	struct err e = ERR_INIT;
	struct tar_header h;
	static char big[300000];
	char longname[300];
	int rc;
	size_t i;

	for (i = 0; i < sizeof(big); i++)
		big[i] = (char)(i * 7 + i / 1000);
	memset(longname, 'n', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = '\0';
	memcpy(longname, "dir/", 4);
	rc = tar_writer_new(&w, &o, &e);
	if (rc < 0)
		return rc;
	memset(&h, 0, sizeof(h));
	h.mtime = mtime;
	h.path = "dir/";
	h.type = TAR_DIR;
	h.mode = 0755;
	rc = tar_writer_add(w, &h, NULL, 0, &e);
	h.path = "dir/hello.txt";
	h.type = TAR_FILE;
	h.mode = 0644;
	h.uid = 1000;
	h.gid = 1000;
	h.size = sizeof(DATA1) - 1;
	if (!rc)
		rc = tar_writer_add(w, &h, DATA1, sizeof(DATA1) - 1, &e);
	h.path = "dir/big.bin";
	h.size = sizeof(big);
	h.uid = h.gid = 0;
	if (!rc)
		rc = tar_writer_add(w, &h, big, sizeof(big), &e);
	h.path = "dir/link";
	h.type = TAR_SYMLINK;
	h.link = "hello.txt";
	h.size = 0;
	h.mode = 0777;
	if (!rc)
		rc = tar_writer_add(w, &h, NULL, 0, &e);
	h.path = "dir/hard";
	h.type = TAR_HARDLINK;
	h.link = "dir/hello.txt";
	h.mode = 0644;
	if (!rc)
		rc = tar_writer_add(w, &h, NULL, 0, &e);
	h.path = longname;
	h.type = TAR_FILE;
	h.link = NULL;
	h.size = 3;
	h.uid = 3000000;	/* over ustar's 7 octal digits: a pax record */
	if (!rc)
		rc = tar_writer_add(w, &h, "abc", 3, &e);
	if (!rc)
		rc = tar_writer_finish(w, res, &e);
	if (rc)
		fprintf(stderr, "write_sample: %s\n", e.msg);
	tar_writer_free(w);
	return rc;
}

/* Decompresses with libarchive's own filters (the "raw" format). */
static int la_decompress(struct buf *out, const struct buf *in)
{
	struct archive *a = archive_read_new();
	struct archive_entry *ae;
	char b[65536];
	la_ssize_t n;
	int rc = -1;

	archive_read_support_filter_all(a);
	archive_read_support_format_raw(a);
	if (archive_read_open_memory(a, in->data, in->len) != ARCHIVE_OK)
		goto out;
	if (archive_read_next_header(a, &ae) != ARCHIVE_OK)
		goto out;
	while ((n = archive_read_data(a, b, sizeof(b))) > 0)
		buf_add(out, b, (size_t)n);
	rc = n < 0 ? -1 : 0;
out:
	archive_read_free(a);
	return rc;
}

TEST(compression_names)
{
	enum tar_compression c;
	struct err e = ERR_INIT;

	CHECK_RC(tar_compression_parse(&c, "gzip", &e), 0);
	CHECK(c == TAR_COMPRESS_GZIP);
	CHECK_RC(tar_compression_parse(&c, "zstd", &e), 0);
	CHECK(c == TAR_COMPRESS_ZSTD);
	CHECK_RC(tar_compression_parse(&c, "none", &e), 0);
	CHECK(c == TAR_COMPRESS_NONE);
	CHECK_RC(tar_compression_parse(&c, "xz\x1b", &e), ERR_INVALID);
	CHECK(strstr(e.msg, "'xz?'") != NULL);
	CHECK_STR(tar_compression_name(TAR_COMPRESS_ZSTD), "zstd");
	CHECK_RC(tar_compression_level_check(TAR_COMPRESS_GZIP, 9, &e), 0);
	CHECK_RC(tar_compression_level_check(TAR_COMPRESS_GZIP, 10, &e), ERR_INVALID);
	CHECK(strstr(e.msg, "1-9") != NULL);
	CHECK_RC(tar_compression_level_check(TAR_COMPRESS_ZSTD, 19, &e), 0);
	CHECK_RC(tar_compression_level_check(TAR_COMPRESS_ZSTD, 22, &e), ERR_INVALID);
	CHECK_RC(tar_compression_level_check(TAR_COMPRESS_NONE, 3, &e), ERR_INVALID);
	CHECK_RC(tar_compression_level_check(TAR_COMPRESS_NONE, 0, &e), 0);
}

TEST(uncompressed_digests)
{
	struct buf out = BUF_INIT;
	struct tar_result res;
	struct digest d;
	struct err e = ERR_INIT;

	CHECK_RC(write_sample(&out, TAR_COMPRESS_NONE, 0, 0, 0, &res), 0);
	CHECK(res.size == (int64_t)out.len);
	CHECK(res.diff_size == res.size);
	CHECK(digest_equal(&res.diff_id, &res.digest));
	CHECK_RC(digest_buffer(&d, DIGEST_SHA256, out.data, out.len, &e), 0);
	CHECK(digest_equal(&d, &res.digest));
	/* 512-byte records, ending in two zero blocks and no more padding */
	CHECK(out.len % 512 == 0);
	CHECK(out.len % 10240 != 0 || out.len == 10240);
	{
		static const char zero[1024];

		CHECK(!memcmp(out.data + out.len - 1024, zero, 1024));
		CHECK(memcmp(out.data + out.len - 1536, zero, 512) != 0);
	}
	/* ustar, no uname/gname: the first header's name fields are empty */
	CHECK(!memcmp(out.data + 257, "ustar", 5));
	CHECK(out.data[265] == 0 && out.data[297] == 0);
	/* a pax header's name does not carry the pid (reproducible) */
	CHECK(memmem(out.data, out.len, "PaxHeaders.", 11) == NULL);
	buf_release(&out);
}

TEST(gzip_deterministic_header)
{
	struct buf out = BUF_INIT, out2 = BUF_INIT, raw = BUF_INIT;
	struct tar_result res, res2;
	struct digest d;
	struct err e = ERR_INIT;
	const unsigned char *p;

	CHECK_RC(write_sample(&out, TAR_COMPRESS_GZIP, 0, 0, 12345, &res), 0);
	p = (const unsigned char *)out.data;
	CHECK(p[0] == 0x1f && p[1] == 0x8b && p[2] == 8);
	CHECK(p[3] == 0);			/* no FNAME, FCOMMENT, FEXTRA */
	CHECK(!p[4] && !p[5] && !p[6] && !p[7]);	/* MTIME 0 */
	CHECK(p[9] == 255);			/* OS unknown, machine independent */
	CHECK_RC(digest_buffer(&d, DIGEST_SHA256, out.data, out.len, &e), 0);
	CHECK(digest_equal(&d, &res.digest));
	CHECK(res.size == (int64_t)out.len);
	/* diff_id: decompressed independently and hashed */
	CHECK_RC(la_decompress(&raw, &out), 0);
	CHECK(res.diff_size == (int64_t)raw.len);
	CHECK_RC(digest_buffer(&d, DIGEST_SHA256, raw.data, raw.len, &e), 0);
	CHECK(digest_equal(&d, &res.diff_id));
	CHECK(!digest_equal(&res.diff_id, &res.digest));
	/* same input, same bytes */
	CHECK_RC(write_sample(&out2, TAR_COMPRESS_GZIP, 0, 0, 12345, &res2), 0);
	CHECK(out.len == out2.len && !memcmp(out.data, out2.data, out.len));
	CHECK(digest_equal(&res.digest, &res2.digest));
	/* the uncompressed tar is the same as written without compression */
	buf_reset(&out2);
	CHECK_RC(write_sample(&out2, TAR_COMPRESS_NONE, 0, 0, 12345, &res2), 0);
	CHECK(digest_equal(&res.diff_id, &res2.diff_id));
	/* level changes the blob, not the diff_id */
	buf_reset(&out2);
	CHECK_RC(write_sample(&out2, TAR_COMPRESS_GZIP, 1, 0, 12345, &res2), 0);
	CHECK(digest_equal(&res.diff_id, &res2.diff_id));
	buf_release(&out);
	buf_release(&out2);
	buf_release(&raw);
}

TEST(zstd_threads_do_not_change_bytes)
{
	struct buf a = BUF_INIT, b = BUF_INIT, raw = BUF_INIT;
	struct tar_result ra, rb;
	struct digest d;
	struct err e = ERR_INIT;
	ZSTD_DStream *ds;
	ZSTD_inBuffer in;
	char ob[65536];
	size_t zr = 1;

	CHECK_RC(write_sample(&a, TAR_COMPRESS_ZSTD, 0, 1, 0, &ra), 0);
	CHECK_RC(write_sample(&b, TAR_COMPRESS_ZSTD, 0, 4, 0, &rb), 0);
	CHECK(a.len == b.len && !memcmp(a.data, b.data, a.len));
	CHECK(digest_equal(&ra.digest, &rb.digest));
	CHECK(!memcmp(a.data, "\x28\xb5\x2f\xfd", 4));
	/* decompress with libzstd directly */
	ds = ZSTD_createDStream();
	in.src = a.data;
	in.size = a.len;
	in.pos = 0;
	while (in.pos < in.size) {
		ZSTD_outBuffer o = { ob, sizeof(ob), 0 };

		zr = ZSTD_decompressStream(ds, &o, &in);
		if (ZSTD_isError(zr))
			break;
		buf_add(&raw, ob, o.pos);
	}
	CHECK(zr == 0);
	ZSTD_freeDStream(ds);
	CHECK_RC(digest_buffer(&d, DIGEST_SHA256, raw.data, raw.len, &e), 0);
	CHECK(digest_equal(&d, &ra.diff_id));
	CHECK(ra.diff_size == (int64_t)raw.len);
	CHECK_RC(digest_buffer(&d, DIGEST_SHA256, a.data, a.len, &e), 0);
	CHECK(digest_equal(&d, &ra.digest));
	buf_release(&a);
	buf_release(&b);
	buf_release(&raw);
}

/* Reads back everything write_sample() wrote, with each compression. */
TEST(reader_roundtrip)
{
	static const enum tar_compression cs[] = {
		TAR_COMPRESS_NONE, TAR_COMPRESS_GZIP, TAR_COMPRESS_ZSTD,
	};
	size_t ci;

	for (ci = 0; ci < 3; ci++) {
		struct buf out = BUF_INIT;
		struct tar_result wres, rres;
		struct tar_reader *r = NULL;
		struct memsrc m;
		struct tar_reader_opts ro;
		struct tar_header h;
		struct err e = ERR_INIT;
		char b[4096];
		int n = 0, rc;

		CHECK_RC(write_sample(&out, cs[ci], 0, 0, 42, &wres), 0);
		m.p = (const unsigned char *)out.data;
		m.len = out.len;
		m.pos = 0;
		m.chunk = 1000;	/* odd chunks: refills mid-header */
		memset(&ro, 0, sizeof(ro));
		ro.source = src_mem;
		ro.source_arg = &m;
		CHECK_RC(tar_reader_new(&r, &ro, &e), 0);
		while ((rc = tar_reader_next(r, &h, &e)) > 0) {
			n++;
			CHECK(h.mtime == 42);
			if (!strcmp(h.path, "dir/hello.txt")) {
				ssize_t k = tar_reader_read(r, b, sizeof(b), &e);

				CHECK(h.type == TAR_FILE && h.mode == 0644);
				CHECK(h.uid == 1000 && h.gid == 1000);
				CHECK(h.size == (int64_t)sizeof(DATA1) - 1);
				CHECK(k == (ssize_t)sizeof(DATA1) - 1);
				CHECK(k > 0 && !memcmp(b, DATA1, (size_t)k));
				CHECK_RC(tar_reader_read(r, b, sizeof(b), &e), 0);
			} else if (!strcmp(h.path, "dir/link")) {
				CHECK(h.type == TAR_SYMLINK);
				CHECK_STR(h.link, "hello.txt");
			} else if (!strcmp(h.path, "dir/hard")) {
				CHECK(h.type == TAR_HARDLINK);
				CHECK_STR(h.link, "dir/hello.txt");
				CHECK(h.size == 0);
			} else if (!strcmp(h.path, "dir/") || !strcmp(h.path, "dir")) {
				CHECK(h.type == TAR_DIR && h.mode == 0755);
			} else if (!strncmp(h.path, "dir/nnn", 7)) {
				CHECK(strlen(h.path) == 299);
				CHECK(h.uid == 3000000);
			} else if (!strcmp(h.path, "dir/big.bin")) {
				CHECK(h.size == 300000);	/* data left unread: skipped */
			} else {
				fprintf(stderr, "unexpected entry '%s'\n", h.path);
				test_cur_failed = 1;
			}
		}
		CHECK_RC(rc, 0);
		CHECK(n == 6);
		CHECK(tar_reader_compression(r) == cs[ci]);
		CHECK_RC(tar_reader_finish(r, &rres, &e), 0);
		CHECK(digest_equal(&rres.diff_id, &wres.diff_id));
		CHECK(digest_equal(&rres.digest, &wres.digest));
		CHECK(rres.size == wres.size && rres.diff_size == wres.diff_size);
		CHECK(rres.compression == cs[ci]);
		tar_reader_free(r);
		buf_release(&out);
	}
}

TEST(reader_fd_and_finish_without_next)
{
	struct buf out = BUF_INIT;
	struct tar_result wres, rres;
	struct tar_reader *r = NULL;
	struct tar_reader_opts ro;
	struct err e = ERR_INIT;
	char path[] = "/tmp/hoist-archive-test.XXXXXX";
	int fd = mkstemp(path);

	CHECK(fd >= 0);
	CHECK_RC(write_sample(&out, TAR_COMPRESS_GZIP, 0, 0, 0, &wres), 0);
	CHECK(write(fd, out.data, out.len) == (ssize_t)out.len);
	/* gzip(1) accepts concatenated members and trailing zeros: so do we */
	CHECK(write(fd, "\0\0\0\0", 4) == 4);
	lseek(fd, 0, SEEK_SET);
	memset(&ro, 0, sizeof(ro));
	ro.fd = fd;
	CHECK_RC(tar_reader_new(&r, &ro, &e), 0);
	CHECK_RC(tar_reader_finish(r, &rres, &e), 0);
	CHECK(digest_equal(&rres.diff_id, &wres.diff_id));
	CHECK(rres.size == wres.size + 4);
	tar_reader_free(r);
	close(fd);
	unlink(path);
	buf_release(&out);
}

TEST(writer_from_fd_and_size_checks)
{
	struct buf out = BUF_INIT;
	struct tar_writer_opts o = { TAR_COMPRESS_NONE, 0, 0, sink_buf, &out, 0 };
	struct tar_writer *w = NULL;
	struct tar_header h;
	struct err e = ERR_INIT;
	char path[] = "/tmp/hoist-archive-test.XXXXXX";
	int fd = mkstemp(path);

	CHECK(fd >= 0);
	CHECK(write(fd, "0123456789", 10) == 10);
	memset(&h, 0, sizeof(h));
	h.path = "f";
	h.type = TAR_FILE;
	h.mode = 0644;
	h.size = 10;
	CHECK_RC(tar_writer_new(&w, &o, &e), 0);
	lseek(fd, 0, SEEK_SET);
	CHECK_RC(tar_writer_add_fd(w, &h, fd, &e), 0);
	tar_writer_free(w);
	/* the file grew after stat */
	CHECK_RC(tar_writer_new(&w, &o, &e), 0);
	lseek(fd, 0, SEEK_SET);
	h.size = 9;
	CHECK_RC(tar_writer_add_fd(w, &h, fd, &e), ERR_IO);
	CHECK(strstr(e.msg, "grew") != NULL);
	CHECK_RC(tar_writer_finish(w, &(struct tar_result){ 0 }, &e), ERR_FAIL);
	tar_writer_free(w);
	/* ... or shrank */
	CHECK_RC(tar_writer_new(&w, &o, &e), 0);
	lseek(fd, 0, SEEK_SET);
	h.size = 11;
	CHECK_RC(tar_writer_add_fd(w, &h, fd, &e), ERR_IO);
	CHECK(strstr(e.msg, "shrank") != NULL);
	tar_writer_free(w);
	/* data short of the size is an error, not zero padding */
	CHECK_RC(tar_writer_new(&w, &o, &e), 0);
	h.size = 5;
	CHECK_RC(tar_writer_begin(w, &h, &e), 0);
	CHECK_RC(tar_writer_data(w, "ab", 2, &e), 0);
	CHECK_RC(tar_writer_finish(w, &(struct tar_result){ 0 }, &e), ERR_INVALID);
	tar_writer_free(w);
	CHECK_RC(tar_writer_new(&w, &o, &e), 0);
	CHECK_RC(tar_writer_begin(w, &h, &e), 0);
	CHECK_RC(tar_writer_data(w, "abcdefgh", 8, &e), ERR_INVALID);
	tar_writer_free(w);
	CHECK_RC(tar_writer_new(&w, &o, &e), 0);
	CHECK_RC(tar_writer_add(w, &h, "abc", 3, &e), ERR_INVALID);
	h.path = "";
	CHECK_RC(tar_writer_add(w, &h, "abcde", 5, &e), ERR_INVALID);
	h.path = "l";
	h.type = TAR_SYMLINK;
	h.size = 0;
	CHECK_RC(tar_writer_add(w, &h, NULL, 0, &e), ERR_INVALID);	/* no target */
	tar_writer_free(w);
	/* bad level and no sink */
	o.compression = TAR_COMPRESS_GZIP;
	o.level = 12;
	CHECK_RC(tar_writer_new(&w, &o, &e), ERR_INVALID);
	CHECK(w == NULL);
	o.level = 0;
	o.sink = NULL;
	CHECK_RC(tar_writer_new(&w, &o, &e), ERR_INVALID);
	close(fd);
	unlink(path);
	buf_release(&out);
}

TEST(sink_error_propagates)
{
	int calls = 0;
	struct tar_writer_opts o = { TAR_COMPRESS_NONE, 0, 0, sink_fail, &calls, 0 };
	struct tar_writer *w = NULL;
	struct tar_header h;
	struct err e = ERR_INIT;
	static char big[100000];
	int rc;

	memset(&h, 0, sizeof(h));
	h.path = "big";
	h.type = TAR_FILE;
	h.size = sizeof(big);
	CHECK_RC(tar_writer_new(&w, &o, &e), 0);
	rc = tar_writer_add(w, &h, big, sizeof(big), &e);
	if (rc == 0)
		rc = tar_writer_finish(w, &(struct tar_result){ 0 }, &e);
	CHECK_RC(rc, ERR_IO);
	CHECK(strstr(e.msg, "disk full") != NULL);
	tar_writer_free(w);
}

/* no_digest: the same bytes and sizes, the compressed digest left to the
 * sink (a blob writer). */
TEST(writer_without_digest)
{
	struct buf a = BUF_INIT, b = BUF_INIT;
	struct tar_writer_opts o = { TAR_COMPRESS_GZIP, 1, 2, sink_buf, &a, 0 };
	struct tar_writer *w = NULL;
	struct tar_result ra, rb;
	struct tar_header h;
	struct digest d;
	struct err e = ERR_INIT;
	int pass;

	for (pass = 0; pass < 2; pass++) {
		o.sink_arg = pass ? &b : &a;
		o.no_digest = pass;
		CHECK_RC(tar_writer_new(&w, &o, &e), 0);
		memset(&h, 0, sizeof(h));
		h.path = "f";
		h.type = TAR_FILE;
		h.mode = 0644;
		h.size = sizeof(DATA1) - 1;
		CHECK_RC(tar_writer_add(w, &h, DATA1, sizeof(DATA1) - 1, &e), 0);
		CHECK_RC(tar_writer_finish(w, pass ? &rb : &ra, &e), 0);
		tar_writer_free(w);
		w = NULL;
	}
	CHECK(a.len == b.len && !memcmp(a.data, b.data, a.len));
	CHECK(ra.size == rb.size && ra.size == (int64_t)a.len);
	CHECK(digest_equal(&ra.diff_id, &rb.diff_id) && ra.diff_size == rb.diff_size);
	CHECK(rb.digest.str[0] == '\0');
	digest_buffer(&d, DIGEST_SHA256, a.data, a.len, NULL);
	CHECK(digest_equal(&d, &ra.digest));
	buf_release(&a);
	buf_release(&b);
}

TEST(special_and_xattr_entries)
{
	struct buf out = BUF_INIT;
	struct tar_writer_opts o = { TAR_COMPRESS_NONE, 0, 0, sink_buf, &out, 0 };
	struct tar_writer *w = NULL;
	struct tar_reader *r = NULL;
	struct tar_reader_opts ro;
	struct tar_header h;
	struct tar_result res;
	struct tar_xattr x = { "user.k", "v1", 2 };
	struct memsrc m;
	struct err e = ERR_INIT;

	CHECK_RC(tar_writer_new(&w, &o, &e), 0);
	memset(&h, 0, sizeof(h));
	h.path = "dev/null";
	h.type = TAR_CHAR;
	h.mode = 0666;
	h.devmajor = 1;
	h.devminor = 3;
	CHECK_RC(tar_writer_add(w, &h, NULL, 0, &e), 0);
	h.path = "fifo";
	h.type = TAR_FIFO;
	CHECK_RC(tar_writer_add(w, &h, NULL, 0, &e), 0);
	h.path = "x";
	h.type = TAR_FILE;
	h.xattrs = &x;
	h.n_xattrs = 1;
	CHECK_RC(tar_writer_add(w, &h, NULL, 0, &e), 0);
	h.path = "caf\xc3\xa9/\xe6\x97\xa5";	/* UTF-8 names, whatever the locale */
	h.xattrs = NULL;
	h.n_xattrs = 0;
	if (tar_writer_add(w, &h, NULL, 0, &e)) fprintf(stderr, "%s\n", e.msg), test_cur_failed = 1;
	CHECK_RC(tar_writer_finish(w, &res, &e), 0);
	tar_writer_free(w);
	m.p = (const unsigned char *)out.data;
	m.len = out.len;
	m.pos = 0;
	m.chunk = 0;
	memset(&ro, 0, sizeof(ro));
	ro.source = src_mem;
	ro.source_arg = &m;
	CHECK_RC(tar_reader_new(&r, &ro, &e), 0);
	CHECK_RC(tar_reader_next(r, &h, &e), 1);
	CHECK(h.type == TAR_CHAR && h.devmajor == 1 && h.devminor == 3);
	CHECK_RC(tar_reader_next(r, &h, &e), 1);
	CHECK(h.type == TAR_FIFO);
	CHECK_RC(tar_reader_next(r, &h, &e), 1);
	CHECK(h.n_xattrs == 1);
	if (h.n_xattrs == 1) {
		CHECK_STR(h.xattrs[0].name, "user.k");
		CHECK(h.xattrs[0].len == 2 && !memcmp(h.xattrs[0].value, "v1", 2));
	}
	CHECK_RC(tar_reader_next(r, &h, &e), 1);
	CHECK_STR(h.path, "caf\xc3\xa9/\xe6\x97\xa5");
	CHECK_RC(tar_reader_next(r, &h, &e), 0);
	tar_reader_free(r);
	buf_release(&out);
}

/* --- hostile input ----------------------------------------------------- */

/* A ustar header block with a valid checksum. */
static void ustar_block(unsigned char *blk, const char *name, char type, uint64_t size,
			const char *link)
{
	unsigned sum = 0;
	size_t i;

	memset(blk, 0, 512);
	memcpy(blk, name, strlen(name) < 100 ? strlen(name) : 100);
	memcpy(blk + 100, "0000644", 7);
	memcpy(blk + 108, "0000000", 7);
	memcpy(blk + 116, "0000000", 7);
	snprintf((char *)blk + 124, 12, "%011llo", (unsigned long long)size);
	memcpy(blk + 136, "00000000000", 11);
	blk[156] = (unsigned char)type;
	if (link)
		memcpy(blk + 157, link, strlen(link) < 100 ? strlen(link) : 100);
	memcpy(blk + 257, "ustar", 6);
	memcpy(blk + 263, "00", 2);
	memset(blk + 148, ' ', 8);
	for (i = 0; i < 512; i++)
		sum += blk[i];
	snprintf((char *)blk + 148, 8, "%06o", sum);
}

/* Reads every entry and its data; returns the first error (or 0). */
static int read_all(const void *data, size_t len, size_t path_max, struct err *e,
		    struct strvec *names)
{
	struct tar_reader *r = NULL;
	struct tar_reader_opts ro;
	struct tar_header h;
	struct memsrc m = { data, len, 0, 777 };
	struct tar_result res;
	char b[1000];
	int rc;

	memset(&ro, 0, sizeof(ro));
	ro.source = src_mem;
	ro.source_arg = &m;
	ro.path_max = path_max;
	rc = tar_reader_new(&r, &ro, e);
	if (rc < 0)
		return rc;
	while ((rc = tar_reader_next(r, &h, e)) > 0) {
		ssize_t n;

		if (names)
			strvec_push(names, h.path);
		while ((n = tar_reader_read(r, b, sizeof(b), e)) > 0)
			;
		if (n < 0) {
			rc = (int)n;
			break;
		}
	}
	if (rc == 0)
		rc = tar_reader_finish(r, &res, e);
	tar_reader_free(r);
	return rc;
}

TEST(hostile_names_reported_as_is)
{
	static unsigned char tar[512 * 6];
	struct strvec names = STRVEC_INIT;
	struct err e = ERR_INIT;

	memset(tar, 0, sizeof(tar));
	ustar_block(tar, "../../etc/passwd", '0', 0, NULL);
	ustar_block(tar + 512, "/abs/path", '0', 0, NULL);
	ustar_block(tar + 1024, "evil", '2', 0, "../../../../etc");
	ustar_block(tar + 1536, "h", '1', 0, "/etc/shadow");
	CHECK_RC(read_all(tar, sizeof(tar), 0, &e, &names), 0);
	CHECK(names.n == 4);
	if (names.n == 4) {
		CHECK_STR(names.v[0], "../../etc/passwd");
		CHECK_STR(names.v[1], "/abs/path");
		CHECK_STR(names.v[2], "evil");
	}
	strvec_clear(&names);
}

TEST(hostile_long_names_capped)
{
	struct buf tar = BUF_INIT;
	struct buf rec = BUF_INIT;
	unsigned char blk[512];
	struct err e = ERR_INIT;
	size_t plen = 100000, i;

	/* a pax header with a 100 kB path */
	buf_addstr(&rec, "100000 path=");
	for (i = 0; i < plen - 12 - 1; i++)
		buf_addch(&rec, 'a');
	buf_addch(&rec, '\n');
	ustar_block(blk, "PaxHeader/x", 'x', rec.len, NULL);
	buf_add(&tar, blk, 512);
	buf_add(&tar, rec.data, rec.len);
	while (tar.len % 512)
		buf_addch(&tar, 0);
	ustar_block(blk, "x", '0', 0, NULL);
	buf_add(&tar, blk, 512);
	memset(blk, 0, 512);
	buf_add(&tar, blk, 512);
	buf_add(&tar, blk, 512);
	CHECK_RC(read_all(tar.data, tar.len, 0, &e, NULL), ERR_TOO_BIG);
	/* with a larger cap the same archive reads */
	CHECK_RC(read_all(tar.data, tar.len, 200000, &e, NULL), 0);
	buf_release(&tar);
	buf_release(&rec);
}

TEST(hostile_huge_header_claims)
{
	unsigned char tar[2048];
	struct err e = ERR_INIT;
	int rc;

	/* a pax header claiming 8 GB of records, with none there */
	memset(tar, 0, sizeof(tar));
	ustar_block(tar, "PaxHeader/x", 'x', 8ull << 30, NULL);
	rc = read_all(tar, sizeof(tar), 0, &e, NULL);
	CHECK(rc < 0);
	/* a GNU long name claiming 1 GB */
	ustar_block(tar, "././@LongLink", 'L', 1ull << 30, NULL);
	rc = read_all(tar, sizeof(tar), 0, &e, NULL);
	CHECK(rc < 0);
	/* a file claiming more data than there is */
	ustar_block(tar, "f", '0', 1ull << 33, NULL);
	rc = read_all(tar, sizeof(tar), 0, &e, NULL);
	CHECK(rc < 0);
	CHECK(strchr(e.msg, '\n') == NULL);
}

TEST(hostile_garbage_and_truncation)
{
	struct buf out = BUF_INIT;
	struct tar_result res;
	struct err e = ERR_INIT;
	char junk[4096];
	size_t i, cut;
	int rc;

	for (i = 0; i < sizeof(junk); i++)
		junk[i] = (char)(i * 131 + 7);
	CHECK_RC(read_all(junk, sizeof(junk), 0, &e, NULL), ERR_INVALID);
	CHECK_RC(read_all("BZh91AY&SY", 10, 0, &e, NULL), ERR_UNSUPPORTED);
	CHECK(strstr(e.msg, "bzip2") != NULL);
	CHECK_RC(read_all("\xfd" "7zXZ\0\0\0", 8, 0, &e, NULL), ERR_UNSUPPORTED);
	CHECK_RC(read_all("", 0, 0, &e, NULL), 0);	/* an empty stream: no entries */
	/* gzip and zstd cut anywhere, and corrupted: errors, never crashes */
	CHECK_RC(write_sample(&out, TAR_COMPRESS_GZIP, 0, 0, 0, &res), 0);
	for (cut = 1; cut < out.len; cut += out.len / 13 + 1)
		CHECK(read_all(out.data, cut, 0, &e, NULL) < 0);
	out.data[out.len / 2] ^= 0x55;
	CHECK(read_all(out.data, out.len, 0, &e, NULL) < 0);
	buf_reset(&out);
	CHECK_RC(write_sample(&out, TAR_COMPRESS_ZSTD, 0, 0, 0, &res), 0);
	for (cut = 1; cut < out.len; cut += out.len / 13 + 1)
		CHECK(read_all(out.data, cut, 0, &e, NULL) < 0);
	/* garbage after the zstd frame */
	buf_addstr(&out, "trailing garbage");
	CHECK(read_all(out.data, out.len, 0, &e, NULL) < 0);
	buf_reset(&out);
	/* an uncompressed tar cut mid-entry */
	CHECK_RC(write_sample(&out, TAR_COMPRESS_NONE, 0, 0, 0, &res), 0);
	rc = read_all(out.data, 512 * 5 + 100, 0, &e, NULL);
	CHECK(rc < 0);
	buf_release(&out);
}

TEST(hostile_bitflips_do_not_crash)
{
	struct buf out = BUF_INIT;
	struct tar_result res;
	struct err e = ERR_INIT;
	unsigned seed = 1;
	int i;

	CHECK_RC(write_sample(&out, TAR_COMPRESS_NONE, 0, 0, 0, &res), 0);
	for (i = 0; i < 400; i++) {
		char *copy = malloc(out.len);
		int k;

		memcpy(copy, out.data, out.len);
		for (k = 0; k < 8; k++) {
			size_t at;

			seed = seed * 1103515245u + 12345u;
			/* mostly in the headers, where the parsing is */
			at = (seed >> 8) % (i % 2 ? 2048 : out.len);
			copy[at] = (char)(seed >> 3);
		}
		(void)read_all(copy, out.len, 0, &e, NULL);
		free(copy);
	}
	buf_release(&out);
}

TEST(bomb_capped)
{
	struct buf out = BUF_INIT;
	struct tar_result res;
	struct tar_reader *r = NULL;
	struct tar_reader_opts ro;
	struct memsrc m;
	struct err e = ERR_INIT;

	CHECK_RC(write_sample(&out, TAR_COMPRESS_GZIP, 0, 0, 0, &res), 0);
	m.p = (const unsigned char *)out.data;
	m.len = out.len;
	m.pos = 0;
	m.chunk = 0;
	memset(&ro, 0, sizeof(ro));
	ro.source = src_mem;
	ro.source_arg = &m;
	ro.max_uncompressed = 100000;
	CHECK_RC(tar_reader_new(&r, &ro, &e), 0);
	CHECK_RC(tar_reader_finish(r, &res, &e), ERR_TOO_BIG);
	tar_reader_free(r);
	buf_release(&out);
}

/* Go's archive/tar never closed (umoci 0.4.7's layers): the last entry's
 * data, without its padding and without the two end blocks.  Read as GNU
 * tar and libarchive do; a cut inside data or a header is still refused. */
TEST(unterminated_tar_accepted)
{
	unsigned char tar[512 * 4];
	struct tar_reader *r = NULL;
	struct tar_reader_opts ro;
	struct tar_header h;
	struct tar_result res;
	struct strvec names = STRVEC_INIT;
	struct memsrc m;
	struct digest want;
	struct err e = ERR_INIT;
	char b[64];
	ssize_t n;
	size_t len = 512 * 2 + 3, chunk;

	memset(tar, 0, sizeof(tar));
	ustar_block(tar, "etc/", '5', 0, NULL);
	ustar_block(tar + 512, "etc/x", '0', 3, NULL);
	memcpy(tar + 1024, "hi\n", 3);
	CHECK_RC(read_all(tar, len, 0, &e, &names), 0);
	CHECK(names.n == 2);
	strvec_clear(&names);
	/* data and hashes: the bytes as they are, no padding hashed */
	for (chunk = 0; chunk < 600; chunk += 511) {
		m.p = tar;
		m.len = len;
		m.pos = 0;
		m.chunk = chunk;
		memset(&ro, 0, sizeof(ro));
		ro.source = src_mem;
		ro.source_arg = &m;
		CHECK_RC(tar_reader_new(&r, &ro, &e), 0);
		CHECK_RC(tar_reader_next(r, &h, &e), 1);
		CHECK_RC(tar_reader_next(r, &h, &e), 1);
		n = tar_reader_read(r, b, sizeof(b), &e);
		CHECK(n == 3 && !memcmp(b, "hi\n", 3));
		CHECK_RC(tar_reader_next(r, &h, &e), 0);
		CHECK_RC(tar_reader_finish(r, &res, &e), 0);
		CHECK(res.diff_size == (int64_t)len);
		CHECK_RC(digest_buffer(&want, DIGEST_SHA256, tar, len, &e), 0);
		CHECK(digest_equal(&res.diff_id, &want));
		tar_reader_free(r);
		r = NULL;
	}
	/* padded to the block, no end blocks; part of the padding */
	CHECK_RC(read_all(tar, 512 * 3, 0, &e, NULL), 0);
	CHECK_RC(read_all(tar, 512 * 2 + 100, 0, &e, NULL), 0);
	/* one end block only */
	CHECK_RC(read_all(tar, 512 * 4, 0, &e, NULL), 0);
	/* cut inside the data, inside a header, right after a header */
	CHECK_RC(read_all(tar, 512 * 2 + 2, 0, &e, NULL), ERR_INVALID);
	CHECK(strstr(e.msg, "truncated") != NULL);
	CHECK_RC(read_all(tar, 512 + 200, 0, &e, NULL), ERR_INVALID);
	CHECK(read_all(tar, 512 * 2, 0, &e, NULL) < 0);
}

/* opts.seek: entries left unread are skipped (lseek), nothing is hashed,
 * and a file cut short still says so. */
TEST(reader_seek_skips_data)
{
	struct buf out = BUF_INIT;
	struct tar_result wres, rres;
	struct tar_reader *r = NULL;
	struct tar_reader_opts ro;
	struct tar_header h;
	struct err e = ERR_INIT;
	char path[] = "/tmp/hoist-archive-test.XXXXXX", b[16];
	int fd = mkstemp(path), rc, files = 0;

	CHECK(fd >= 0);
	CHECK_RC(write_sample(&out, TAR_COMPRESS_NONE, 0, 0, 0, &wres), 0);
	CHECK(write(fd, out.data, out.len) == (ssize_t)out.len);
	lseek(fd, 0, SEEK_SET);
	memset(&ro, 0, sizeof(ro));
	ro.fd = fd;
	ro.seek = 1;
	CHECK_RC(tar_reader_new(&r, &ro, &e), 0);
	while ((rc = tar_reader_next(r, &h, &e)) == 1) {
		if (h.type == TAR_FILE) {
			files++;
			CHECK(h.stored == h.size);
		}
		if (h.size == 3)
			CHECK(tar_reader_read(r, b, sizeof(b), &e) == 3 && !memcmp(b, "abc", 3));
	}
	CHECK_RC(rc, 0);
	CHECK_RC(files, 3);
	/* the big file's data was never read: the offset jumped over it */
	CHECK_RC(tar_reader_finish(r, &rres, &e), ERR_USAGE);
	tar_reader_free(r);
	/* cut inside the big file's data, which is skipped: still truncated */
	CHECK_RC(ftruncate(fd, 512 * 6), 0);
	lseek(fd, 0, SEEK_SET);
	CHECK_RC(tar_reader_new(&r, &ro, &e), 0);
	while ((rc = tar_reader_next(r, &h, &e)) == 1)
		;
	CHECK(rc < 0);
	tar_reader_free(r);
	close(fd);
	unlink(path);
	buf_release(&out);
}

/* A GNU sparse file (old format, type 'S'): its size is what it expands to,
 * `stored` what the archive holds. */
TEST(reader_sparse_stored)
{
	unsigned char tar[512 * 4];
	struct tar_reader *r = NULL;
	struct tar_reader_opts ro;
	struct tar_header h;
	struct memsrc m = { tar, sizeof(tar), 0, 0 };
	struct err e = ERR_INIT;
	unsigned sum = 0;
	size_t i;

	memset(tar, 0, sizeof(tar));
	ustar_block(tar, "hole", 'S', 0, NULL);
	memcpy(tar + 257, "ustar  ", 8);	/* old GNU magic */
	/* one sparse entry: 0 bytes at offset 1 GiB; realsize 1 GiB */
	snprintf((char *)tar + 386, 12, "%011llo", 1ULL << 30);
	snprintf((char *)tar + 398, 12, "%011llo", 0ULL);
	snprintf((char *)tar + 483, 12, "%011llo", 1ULL << 30);
	memset(tar + 148, ' ', 8);
	for (i = 0; i < 512; i++)
		sum += tar[i];
	snprintf((char *)tar + 148, 8, "%06o", sum);
	memset(&ro, 0, sizeof(ro));
	ro.source = src_mem;
	ro.source_arg = &m;
	CHECK_RC(tar_reader_new(&r, &ro, &e), 0);
	CHECK_RC(tar_reader_next(r, &h, &e), 1);
	CHECK(h.type == TAR_FILE);
	CHECK(h.size == (int64_t)(1ULL << 30));
	CHECK(h.stored == 0);
	tar_reader_free(r);
}

/* One file of `n` bytes, half random (xorshift: incompressible) and half
 * text, gzip at `level`. */
static int write_mixed(struct buf *out, size_t n, int level, struct tar_result *res)
{
	struct tar_writer_opts o = { TAR_COMPRESS_GZIP, level, 0, sink_buf, out, 0 };
	struct tar_writer *w = NULL;
	struct err e = ERR_INIT;
	struct tar_header h;
	unsigned char *d = malloc(n);
	uint64_t x = 88172645463325252ull;
	size_t i;
	int rc;

	if (!d)
		return -1;
	for (i = 0; i < n / 2; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		d[i] = (unsigned char)(x >> 24);
	}
	for (; i < n; i++)
		d[i] = "the quick brown fox jumps over the lazy dog\n"[i % 44];
	memset(&h, 0, sizeof(h));
	h.path = "mixed.bin";
	h.type = TAR_FILE;
	h.mode = 0644;
	h.size = (int64_t)n;
	rc = tar_writer_new(&w, &o, &e);
	if (!rc)
		rc = tar_writer_add(w, &h, d, n, &e);
	if (!rc)
		rc = tar_writer_finish(w, res, &e);
	tar_writer_free(w);
	free(d);
	return rc;
}

/* Incompressible stretches are stored, not deflated: still valid gzip, the
 * same bytes every time, and the text still shrinks. */
TEST(gzip_stores_incompressible_blocks)
{
	struct buf a = BUF_INIT, b = BUF_INIT, raw = BUF_INIT;
	struct tar_result ra, rb;
	struct digest d;
	struct err e = ERR_INIT;
	size_t n = 2u << 20;

	CHECK_RC(write_mixed(&a, n, 1, &ra), 0);
	CHECK_RC(write_mixed(&b, n, 1, &rb), 0);
	CHECK(a.len == b.len && !memcmp(a.data, b.data, a.len));
	/* random half ~stored (a few bytes a block), text half shrunk */
	CHECK(a.len < n / 2 + n / 50);
	CHECK(a.len > n / 2);
	CHECK_RC(la_decompress(&raw, &a), 0);
	CHECK(ra.diff_size == (int64_t)raw.len);
	CHECK_RC(digest_buffer(&d, DIGEST_SHA256, raw.data, raw.len, &e), 0);
	CHECK(digest_equal(&d, &ra.diff_id));
	CHECK_RC(digest_buffer(&d, DIGEST_SHA256, a.data, a.len, &e), 0);
	CHECK(digest_equal(&d, &ra.digest));
	buf_reset(&b);
	CHECK_RC(write_mixed(&b, n, 9, &rb), 0);
	CHECK(digest_equal(&ra.diff_id, &rb.diff_id));
	buf_release(&a);
	buf_release(&b);
	buf_release(&raw);
}

int main(void)
{
	RUN(compression_names);
	RUN(uncompressed_digests);
	RUN(gzip_deterministic_header);
	RUN(zstd_threads_do_not_change_bytes);
	RUN(reader_roundtrip);
	RUN(reader_fd_and_finish_without_next);
	RUN(writer_from_fd_and_size_checks);
	RUN(sink_error_propagates);
	RUN(special_and_xattr_entries);
	RUN(hostile_names_reported_as_is);
	RUN(hostile_long_names_capped);
	RUN(hostile_huge_header_claims);
	RUN(hostile_garbage_and_truncation);
	RUN(unterminated_tar_accepted);
	RUN(hostile_bitflips_do_not_crash);
	RUN(bomb_capped);
	RUN(gzip_stores_incompressible_blocks);
	RUN(writer_without_digest);
	RUN(reader_seek_skips_data);
	RUN(reader_sparse_stored);
	return test_done();
}


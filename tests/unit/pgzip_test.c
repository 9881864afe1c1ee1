#define TEST_MODULE "pgzip"
#include "tests/unit/test.h"

#include "core/base/buf.h"
#include "core/base/digest.h"
#include "core/base/err.h"
#include "core/format/pgzip.h"

/* The independent check inflates with zlib itself. */
#include <stdint.h>
#include <stdlib.h>
#include <zlib.h>

static int sink_buf(void *arg, const void *data, size_t len, struct err *e)
{
	return buf_add(arg, data, len) < 0 ? err_set(e, ERR_NOMEM, "oom") : 0;
}

struct failing {
	size_t calls, fail_at;
};

static int sink_fail(void *arg, const void *data, size_t len, struct err *e)
{
	struct failing *f = arg;

	if (++f->calls >= f->fail_at)
		return err_set(e, ERR_IO, "disk full (test)");
	return 0;
}

/* `n` bytes: stretches of text, random bytes and zeros, so that blocks are
 * both deflated and stored (all text with `text`). */
static unsigned char *sample_of(size_t n, int text)
{
	unsigned char *d = malloc(n ? n : 1);
	uint64_t x = 88172645463325252ull;
	size_t i;

	if (!d)
		return NULL;
	for (i = 0; i < n; i++) {
		size_t part = text ? 0 : (i / 200000) % 3;

		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		if (part == 0)
			d[i] = (unsigned char)"the quick brown fox jumps over the lazy dog\n"[i % 44] ^
			       (unsigned char)((x >> 40) % 17 == 0);
		else if (part == 1)
			d[i] = (unsigned char)(x >> 24);
		else
			d[i] = 0;
	}
	return d;
}

static unsigned char *sample(size_t n)
{
	return sample_of(n, 0);
}

/* Compresses `d` in pieces of `piece` bytes. */
static int pgz_compress_hashed(struct buf *out, const unsigned char *d, size_t n, size_t piece,
			       int level, int threads, struct digest_ctx *raw)
{
	struct pgzip *z = NULL;
	struct err e = ERR_INIT;
	size_t off = 0;
	int rc;

	rc = pgzip_new(&z, level, threads, raw, sink_buf, out, &e);
	while (rc == 0 && off < n) {
		size_t k = n - off < piece ? n - off : piece;

		rc = pgzip_write(z, d + off, k, &e);
		off += k;
	}
	if (rc == 0)
		rc = pgzip_finish(z, &e);
	pgzip_free(z);
	return rc;
}

static int pgz_compress(struct buf *out, const unsigned char *d, size_t n, size_t piece, int level,
			int threads)
{
	return pgz_compress_hashed(out, d, n, piece, level, threads, NULL);
}

/* Inflates a whole gzip stream, member after member, with zlib; the number
 * of members in `*members` when not NULL. */
static int gunzip_members(struct buf *out, const struct buf *in, size_t *members)
{
	z_stream s;
	unsigned char ob[65536];
	size_t n = 0;
	int zr;

	memset(&s, 0, sizeof(s));
	if (inflateInit2(&s, 15 + 16) != Z_OK)
		return -1;
	s.next_in = (Bytef *)in->data;
	s.avail_in = (uInt)in->len;
	for (;;) {
		s.next_out = ob;
		s.avail_out = sizeof(ob);
		zr = inflate(&s, Z_NO_FLUSH);
		if (zr != Z_OK && zr != Z_STREAM_END)
			break;
		buf_add(out, ob, sizeof(ob) - s.avail_out);
		if (zr == Z_STREAM_END) {
			n++;
			if (!s.avail_in || inflateReset(&s) != Z_OK)
				break;
		}
	}
	inflateEnd(&s);
	if (members)
		*members = n;
	/* whole members, nothing after the last */
	return zr == Z_STREAM_END && s.avail_in == 0 ? 0 : -1;
}

static int gunzip(struct buf *out, const struct buf *in)
{
	return gunzip_members(out, in, NULL);
}

TEST(threads_do_not_change_bytes)
{
	static const size_t sizes[] = {
		0, 1, PGZIP_BLOCK - 1, PGZIP_BLOCK, PGZIP_BLOCK + 1, 3 * PGZIP_BLOCK,
		5 * PGZIP_BLOCK + 12345, 3000000,
	};
	static const int threads[] = { 1, 2, 3, 16 };
	size_t si, ti;

	for (si = 0; si < 2 * sizeof(sizes) / sizeof(sizes[0]); si++) {
		/* mixed, then all text: workers start at once */
		size_t n = sizes[si % (sizeof(sizes) / sizeof(sizes[0]))];
		unsigned char *d = sample_of(n, si >= sizeof(sizes) / sizeof(sizes[0]));
		struct buf ref = BUF_INIT, raw = BUF_INIT;

		size_t members = 0;

		CHECK(d != NULL);
		CHECK_RC(pgz_compress(&ref, d, n, 100000, 6, 1), 0);
		CHECK_RC(gunzip_members(&raw, &ref, &members), 0);
		CHECK(raw.len == n && (n == 0 || !memcmp(raw.data, d, n)));
		/* a member per block, one for an empty stream */
		CHECK(members == (n ? (n + PGZIP_BLOCK - 1) / PGZIP_BLOCK : 1));
		for (ti = 0; ti < sizeof(threads) / sizeof(threads[0]); ti++) {
			struct buf b = BUF_INIT;

			/* other thread counts and other write sizes: same bytes */
			CHECK_RC(pgz_compress(&b, d, n, ti % 2 ? 4096 : PGZIP_BLOCK * 2 + 7, 6,
					  threads[ti]), 0);
			CHECK(b.len == ref.len && !memcmp(b.data, ref.data, b.len));
			buf_release(&b);
		}
		buf_release(&ref);
		buf_release(&raw);
		free(d);
	}
}

TEST(header_and_levels)
{
	size_t n = 4 * PGZIP_BLOCK;
	unsigned char *d = sample(n);
	struct buf b1 = BUF_INIT, b9 = BUF_INIT, raw = BUF_INIT;
	const unsigned char *p;

	CHECK(d != NULL);
	CHECK_RC(pgz_compress(&b1, d, n, n, 1, 2), 0);
	CHECK_RC(pgz_compress(&b9, d, n, n, 9, 2), 0);
	p = (const unsigned char *)b1.data;
	CHECK(p[0] == 0x1f && p[1] == 0x8b && p[2] == 8 && p[3] == 0);
	CHECK(!p[4] && !p[5] && !p[6] && !p[7]);	/* MTIME 0 */
	CHECK(p[8] == 4 && p[9] == 255);		/* XFL fastest, OS unknown */
	CHECK(((const unsigned char *)b9.data)[8] == 2);
	CHECK(b9.len <= b1.len);
	CHECK_RC(gunzip(&raw, &b9), 0);
	CHECK(raw.len == n && !memcmp(raw.data, d, n));
	/* the random third is stored: the stream is well under the input */
	CHECK(b1.len < n * 2 / 3);
	buf_release(&b1);
	buf_release(&b9);
	buf_release(&raw);
	free(d);
}

TEST(errors_stop_the_stream)
{
	size_t n = 12 * PGZIP_BLOCK;
	unsigned char *d = sample(n);
	struct pgzip *z = NULL;
	struct err e = ERR_INIT;
	struct failing f = { 0, 3 };
	struct buf out = BUF_INIT;
	int rc = 0;
	size_t off;

	CHECK(d != NULL);
	CHECK_RC(pgzip_new(&z, 10, 0, NULL, sink_buf, NULL, &e), ERR_INVALID);
	CHECK(z == NULL);
	CHECK_RC(pgzip_new(&z, 6, 4, NULL, sink_fail, &f, &e), 0);
	for (off = 0; rc == 0 && off < n; off += PGZIP_BLOCK)
		rc = pgzip_write(z, d + off, PGZIP_BLOCK, &e);
	if (rc == 0)
		rc = pgzip_finish(z, &e);
	CHECK_RC(rc, ERR_IO);
	CHECK(strstr(e.msg, "disk full") != NULL);
	CHECK_RC(pgzip_write(z, d, 10, &e), ERR_FAIL);
	CHECK_RC(pgzip_finish(z, &e), ERR_FAIL);
	pgzip_free(z);	/* with blocks still in flight: joins, frees */
	/* abandoned half way with threads running, never finished */
	z = NULL;
	CHECK_RC(pgzip_new(&z, 6, 3, NULL, sink_buf, &out, &e), 0);
	CHECK_RC(pgzip_write(z, d, 5 * PGZIP_BLOCK + 3, &e), 0);
	pgzip_free(z);
	buf_release(&out);
	free(d);
}

/* The input's hash, on the hasher thread or inline, is the input's. */
TEST(raw_hash_in_order)
{
	static const int threads[] = { 1, 2, 5 };
	size_t n = 9 * PGZIP_BLOCK + 777, ti;
	unsigned char *d = sample_of(n, 1);
	struct err e = ERR_INIT;
	struct digest want, got;

	CHECK(d != NULL);
	CHECK_RC(digest_buffer(&want, DIGEST_SHA256, d, n, &e), 0);
	for (ti = 0; ti < sizeof(threads) / sizeof(threads[0]); ti++) {
		struct buf b = BUF_INIT;
		struct digest_ctx raw;

		CHECK_RC(digest_ctx_init(&raw, DIGEST_SHA256, &e), 0);
		CHECK_RC(pgz_compress_hashed(&b, d, n, 50000, 1, threads[ti], &raw), 0);
		CHECK(raw.size == n);
		digest_ctx_final(&raw, &got);
		digest_ctx_release(&raw);
		CHECK(digest_equal(&got, &want));
		buf_release(&b);
	}
	free(d);
}

int main(void)
{
	RUN(threads_do_not_change_bytes);
	RUN(header_and_levels);
	RUN(errors_stop_the_stream);
	RUN(raw_hash_in_order);
	return test_done();
}

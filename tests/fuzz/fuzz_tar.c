/* fuzz_tar.c - the tar reader (compression detection, gzip, zstd, tar
 * headers, pax records) over an in-memory source that hands out the input
 * in uneven pieces.  Paths stay within path_max, sizes are sane, and
 * tar_reader_finish() accounts for every byte of the input. */
#include "tests/fuzz/fuzz.h"
#include "core/format/tar.h"
#include "core/base/err.h"

struct src {
	const uint8_t *p;
	size_t len, off, step;
};

static ssize_t src_read(void *arg, void *dst, size_t len, struct err *e)
{
	struct src *s = arg;
	size_t n = s->len - s->off;

	(void)e;
	if (n > len)
		n = len;
	if (n > s->step)
		n = s->step;
	memcpy(dst, s->p + s->off, n);
	s->off += n;
	s->step = s->step * 3 + 1;	/* 1, 4, 13, ... bytes per call */
	return (ssize_t)n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct err e = ERR_INIT;
	struct src s = { data, size, 0, 1 };
	struct tar_reader_opts opts;
	struct tar_reader *r = NULL;
	struct tar_header h;
	struct tar_result res;
	char buf[1000];
	int rc, entries = 0;
	ssize_t n;

	memset(&opts, 0, sizeof(opts));
	opts.source = src_read;
	opts.source_arg = &s;
	opts.fd = -1;
	opts.path_max = 512;
	opts.max_uncompressed = 16 << 20;
	if (tar_reader_new(&r, &opts, &e))
		return 0;
	while ((rc = tar_reader_next(r, &h, &e)) == 1) {
		FUZZ_ASSERT(h.path && strlen(h.path) <= 512);
		FUZZ_ASSERT(!h.link || strlen(h.link) <= 512);
		FUZZ_ASSERT(h.size >= 0);
		FUZZ_ASSERT((h.mode & ~07777u) == 0);
		(void)tar_type_name(h.type);
		/* read the data of every other entry; the reader skips the rest */
		if (entries++ % 2 == 0)
			while ((n = tar_reader_read(r, buf, sizeof(buf), &e)) > 0)
				;
		if (entries > 10000)
			break;
	}
	(void)tar_compression_name(tar_reader_compression(r));
	if (rc == 0 && tar_reader_finish(r, &res, &e) == 0)
		FUZZ_ASSERT(res.diff_size >= 0 && res.size == (int64_t)size);
	tar_reader_free(r);
	return 0;
}

/* fuzz_platform.c - platform_parse(); a normalised platform formats to a
 * string that parses back to itself, and matches itself. */
#include "tests/fuzz/fuzz.h"
#include "core/base/err.h"
#include "core/model/platform.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct err e = ERR_INIT;
	struct platform p = PLATFORM_INIT, p2 = PLATFORM_INIT, c = PLATFORM_INIT;
	struct buf b = BUF_INIT, b2 = BUF_INIT;
	char *s = fuzz_cstr(data, size);

	if (!s)
		return 0;
	if (platform_parse(&p, s, &e))
		goto out;
	FUZZ_ASSERT(p.os && p.arch);
	FUZZ_ASSERT(platform_format(&b, &p) == 0);
	FUZZ_ASSERT(platform_parse(&p2, b.data, &e) == 0);
	FUZZ_ASSERT(platform_format(&b2, &p2) == 0);
	FUZZ_ASSERT(b.len == b2.len && !memcmp(b.data, b2.data, b.len));
	FUZZ_ASSERT(platform_match(&p, &p2) && platform_match(&p2, &p));
	FUZZ_ASSERT(platform_copy(&c, &p) == 0);
	FUZZ_ASSERT(platform_normalize(&c) == 0);
	FUZZ_ASSERT(platform_match(&p, &c));
out:
	platform_release(&p);
	platform_release(&p2);
	platform_release(&c);
	buf_release(&b);
	buf_release(&b2);
	free(s);
	return 0;
}

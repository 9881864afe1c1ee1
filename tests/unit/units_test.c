/* units_test - durations and sizes. */
#define TEST_MODULE "units"
#include "test.h"

#include "core/base/buf.h"
#include "core/base/err.h"
#include "core/base/units.h"

#include <stdint.h>

TEST(durations)
{
	static const struct { const char *s; int64_t want; } ok[] = {
		{ "0", 0 }, { "90", 90 }, { "90s", 90 }, { "30m", 1800 }, { "1h", 3600 },
		{ "1h30m", 5400 }, { "7d", 604800 }, { "2w", 1209600 },
	};
	static const char *const bad[] = { "", "h", "1x", "-1h", "1.5h", "1h30", " 1h",
					   "99999999999999999999s", "1h ", "3000000000000000w" };
	struct err e = ERR_INIT;
	int64_t v;
	size_t i;

	for (i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		CHECK_RC(units_parse_duration(&v, ok[i].s, &e), 0);
		CHECK_RC(v, ok[i].want);
	}
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		CHECK_RC(units_parse_duration(&v, bad[i], &e), ERR_INVALID);
	CHECK(strstr(e.msg, "invalid duration") != NULL);
}

TEST(sizes)
{
	static const struct { const char *s; int64_t want; } ok[] = {
		{ "0", 0 }, { "512", 512 }, { "512B", 512 }, { "1K", 1024 }, { "1k", 1024 },
		{ "1KiB", 1024 }, { "2M", 2 << 20 }, { "1G", 1 << 30 }, { "1.5G", 3LL << 29 },
		{ "1kB", 1000 }, { "2MB", 2000000 }, { "1T", 1LL << 40 },
	};
	static const char *const bad[] = { "", "M", "1Q", "-1", "1.", ".5G", "1 G",
					   "99999999999999999999" };
	struct err e = ERR_INIT;
	struct buf b = BUF_INIT;
	int64_t v;
	size_t i;

	for (i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		CHECK_RC(units_parse_size(&v, ok[i].s, &e), 0);
		CHECK_RC(v, ok[i].want);
	}
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		CHECK_RC(units_parse_size(&v, bad[i], &e), ERR_INVALID);
	units_format_size(&b, 512);
	CHECK_STR(b.data, "512 B");
	buf_reset(&b);
	units_format_size(&b, 1536);
	CHECK_STR(b.data, "1.5 KiB");
	buf_reset(&b);
	units_format_size(&b, 3ULL << 30);
	CHECK_STR(b.data, "3.0 GiB");
	buf_release(&b);
}

int main(void)
{
	RUN(durations);
	RUN(sizes);
	return test_done();
}

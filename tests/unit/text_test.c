#define TEST_MODULE "text"
#include "core/base/base64.h"
#include "tests/unit/test.h"

#include "core/base/buf.h"
#include "core/base/err.h"
#include "core/base/text.h"

#include <stdlib.h>

TEST(clean)
{
	char out[16];

	CHECK(text_clean(out, sizeof(out), "plain", 5) == 5);
	CHECK_STR(out, "plain");
	text_clean(out, sizeof(out), "a\x1b[2Jb\n", 7);
	CHECK_STR(out, "a?[2Jb?");
	text_clean(out, sizeof(out), "\xe2\x80\xae" "evil", 7);	/* RLO */
	CHECK_STR(out, "?evil");
	text_clean(out, 8, "0123456789", 10);
	CHECK_STR(out, "0123...");
}

TEST(base64_round_trip)
{
	static const char *plain[] = { "", "f", "fo", "foo", "foob", "fooba", "foobar" };
	static const char *enc[] = { "", "Zg==", "Zm8=", "Zm9v", "Zm9vYg==", "Zm9vYmE=", "Zm9vYmFy" };
	struct buf b = BUF_INIT;
	size_t i, n;
	char *d;

	for (i = 0; i < sizeof(plain) / sizeof(plain[0]); i++) {
		buf_reset(&b);
		CHECK_RC(base64_encode(&b, plain[i], strlen(plain[i])), 0);
		CHECK_STR(b.data, enc[i]);
		CHECK_RC(base64_decode(&d, &n, enc[i], strlen(enc[i])), 0);
		CHECK(n == strlen(plain[i]) && !memcmp(d, plain[i], n));
		free(d);
	}
	buf_release(&b);
}

TEST(base64_rejects)
{
	static const char *bad[] = { "Zg=", "Z===", "Zm9v\n", "Zm9-", "Zm 9", "=Zg=" };
	size_t i, n;
	char *d;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		d = (char *)1;
		CHECK_RC(base64_decode(&d, &n, bad[i], strlen(bad[i])), ERR_INVALID);
		CHECK(d == NULL);
	}
}

int main(void)
{
	RUN(clean);
	RUN(base64_round_trip);
	RUN(base64_rejects);
	return test_done();
}

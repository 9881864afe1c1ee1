/* fuzz_digest.c - digest_parse_n(), digest_parse() and digest_valid() agree,
 * and a parsed digest is exactly its input. */
#include "tests/fuzz/fuzz.h"
#include "core/base/digest.h"
#include "core/base/err.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct err e = ERR_INIT;
	struct digest d, d2;
	char *s;
	int rc;

	rc = digest_parse_n(&d, (const char *)data, size, &e);
	if (rc == 0) {
		FUZZ_ASSERT(strlen(d.str) == size && !memcmp(d.str, data, size));
		FUZZ_ASSERT(!strchr(d.str, '/') && !strstr(d.str, ".."));
		FUZZ_ASSERT(digest_parse(&d2, d.str, &e) == 0 && digest_equal(&d, &d2));
		FUZZ_ASSERT(strlen(digest_hex(&d)) == (d.alg == DIGEST_SHA256 ? 64u : 128u));
	}
	s = fuzz_cstr(data, size);
	if (s) {
		FUZZ_ASSERT((digest_parse(&d2, s, &e) == 0) == (rc == 0));
		FUZZ_ASSERT(!!digest_valid(s) == (rc == 0));
		free(s);
	}
	return 0;
}

/* fuzz_content_range.c - wire_parse_content_range(): an accepted range is
 * ordered and inside its total. */
#include "tests/fuzz/fuzz.h"
#include "core/base/err.h"
#include "registry/wire.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct err e = ERR_INIT;
	struct wire_range r;
	char *s = fuzz_cstr(data, size);

	if (!s)
		return 0;
	if (wire_parse_content_range(&r, s, &e) == 0) {
		FUZZ_ASSERT(r.start >= 0 && r.end >= r.start);
		FUZZ_ASSERT(r.total == -1 || r.end < r.total);
	}
	free(s);
	return 0;
}

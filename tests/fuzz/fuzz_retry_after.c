/* fuzz_retry_after.c - wire_parse_retry_after(): clamped to
 * 0..WIRE_RETRY_AFTER_MAX for any input and any `now`. */
#include "tests/fuzz/fuzz.h"
#include "registry/wire.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const time_t nows[] = { 0, 1764300000, 253402300799, -1 };
	char *s = fuzz_cstr(data, size);
	long secs;
	size_t i;

	if (!s)
		return 0;
	for (i = 0; i < sizeof(nows) / sizeof(nows[0]); i++) {
		secs = -42;
		if (wire_parse_retry_after(&secs, s, nows[i]) == 0)
			FUZZ_ASSERT(secs >= 0 && secs <= WIRE_RETRY_AFTER_MAX);
	}
	free(s);
	return 0;
}

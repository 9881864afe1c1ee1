/* fuzz_wire_errors.c - wire_parse_errors() and wire_status_error(): kept
 * text is clean (no control characters) and bounded. */
#include "tests/fuzz/fuzz.h"
#include "core/base/err.h"
#include "registry/wire.h"

static void clean(const char *s, size_t max)
{
	size_t i;

	if (!s)
		return;
	FUZZ_ASSERT(strlen(s) <= max + 8);
	for (i = 0; s[i]; i++)
		FUZZ_ASSERT((unsigned char)s[i] >= ' ' && s[i] != 0x7f);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const long statuses[] = { 400, 401, 403, 404, 429, 500, 503, 418 };
	struct err e = ERR_INIT;
	struct wire_errors w = WIRE_ERRORS_INIT;
	const struct wire_errors *wp = NULL;
	size_t i;
	int rc;

	if (wire_parse_errors(&w, (const char *)data, size, &e) == 0) {
		FUZZ_ASSERT(w.n <= WIRE_MAX_ERRORS && w.n <= w.total);
		for (i = 0; i < w.n; i++) {
			clean(w.v[i].code, 64);
			clean(w.v[i].message, WIRE_TEXT_MAX);
		}
		(void)wire_errors_find(&w, "MANIFEST_UNKNOWN");
		wp = &w;
	}
	rc = wire_status_error(&e, statuses[size % 8], wp, "GET manifest x", "registry.example");
	FUZZ_ASSERT(rc < 0 && e.code == rc);
	for (i = 0; e.msg[i]; i++)
		FUZZ_ASSERT((unsigned char)e.msg[i] >= ' ' && e.msg[i] != 0x7f);
	wire_errors_release(&w);
	return 0;
}

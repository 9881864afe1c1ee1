/* fuzz_link.c - wire_link_next() and wire_resolve_url(): the input is a
 * Link header value; its next target is resolved against a fixed base and,
 * after the first newline, the rest is also tried as a reference. */
#include "tests/fuzz/fuzz.h"
#include <strings.h>
#include "core/base/err.h"
#include "registry/wire.h"

static void resolve(const char *ref)
{
	struct err e = ERR_INIT;
	char *url = NULL;
	size_t i;

	if (wire_resolve_url(&url, "https://registry.example:5000/v2/_catalog?n=10", ref,
			     &e) == 0) {
		/* the scheme is kept as written: "HTTPS://" too (curl accepts it) */
		FUZZ_ASSERT(!strncasecmp(url, "http://", 7) || !strncasecmp(url, "https://", 8));
		for (i = 0; url[i]; i++)
			FUZZ_ASSERT((unsigned char)url[i] > ' ' && (unsigned char)url[i] < 0x7f);
		FUZZ_ASSERT(!strchr(url, '#'));
	}
	free(url);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct err e = ERR_INIT;
	char *s = fuzz_cstr(data, size), *next = NULL, *nl;

	if (!s)
		return 0;
	if (wire_link_next(&next, s, &e) == 0) {
		FUZZ_ASSERT(next);
		resolve(next);
	}
	nl = strchr(s, '\n');
	resolve(nl ? nl + 1 : s);
	free(next);
	free(s);
	return 0;
}

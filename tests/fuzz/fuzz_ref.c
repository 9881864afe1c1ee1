/* fuzz_ref.c - ref_parse(), and ref_format() round trips: what hoist
 * formats from a parsed reference parses again to the same reference. */
#include "tests/fuzz/fuzz.h"
#include "core/base/err.h"
#include "core/model/ref.h"

static void ref_roundtrip(const char *s, unsigned flags)
{
	struct err e = ERR_INIT;
	struct ref r = REF_INIT, r2 = REF_INIT;
	struct buf b = BUF_INIT, b2 = BUF_INIT, name = BUF_INIT;

	if (ref_parse(&r, s, flags, &e))
		goto out;
	FUZZ_ASSERT(r.registry && r.repository);
	FUZZ_ASSERT(ref_format(&b, &r) == 0);
	FUZZ_ASSERT(ref_format_name(&name, &r) == 0);
	FUZZ_ASSERT(!strncmp(b.data, name.data, name.len));
	FUZZ_ASSERT(ref_endpoint(&r) != NULL);
	(void)ref_registry_is_loopback(r.registry);
	if (flags & REF_NAME_ONLY)
		FUZZ_ASSERT(!r.tag && !r.digest);
	FUZZ_ASSERT(ref_parse(&r2, b.data, flags, &e) == 0);
	FUZZ_ASSERT(ref_format(&b2, &r2) == 0);
	FUZZ_ASSERT(b.len == b2.len && !memcmp(b.data, b2.data, b.len));
	FUZZ_ASSERT(!strcmp(r.registry, r2.registry));
	FUZZ_ASSERT(!strcmp(r.repository, r2.repository));
out:
	ref_release(&r);
	ref_release(&r2);
	buf_release(&b);
	buf_release(&b2);
	buf_release(&name);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = fuzz_cstr(data, size);
	char *reg = NULL;
	struct err e = ERR_INIT;

	if (!s)
		return 0;
	ref_roundtrip(s, 0);
	ref_roundtrip(s, REF_NO_DEFAULT_TAG);
	ref_roundtrip(s, REF_NAME_ONLY);
	if (ref_parse_registry(&reg, s, &e) == 0)
		FUZZ_ASSERT(reg && *reg);
	free(reg);
	free(s);
	return 0;
}

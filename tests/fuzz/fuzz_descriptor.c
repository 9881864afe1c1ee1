/* fuzz_descriptor.c - descriptor_from_json() on any JSON value; an accepted
 * descriptor serialises (descriptor_to_json) to JSON that parses back to
 * the same serialisation. */
#include "tests/fuzz/fuzz.h"
#include "core/base/buf.h"
#include "core/base/err.h"
#include "core/base/json.h"
#include "core/model/manifest.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct err e = ERR_INIT;
	struct json *j = NULL, *out = NULL, *j2 = NULL;
	struct descriptor d, d2, cp;
	struct buf b = BUF_INIT, b2 = BUF_INIT;
	int have_d2 = 0;

	descriptor_init(&d);
	descriptor_init(&cp);
	if (json_parse(&j, (const char *)data, size, &e))
		goto out;
	if (descriptor_from_json(&d, j, "layers[0]", &e))
		goto out;
	FUZZ_ASSERT(d.size >= 0);
	out = descriptor_to_json(&d);
	FUZZ_ASSERT(out);
	FUZZ_ASSERT(json_serialize(&b, out, 0, &e) == 0);
	FUZZ_ASSERT(json_parse(&j2, b.data, b.len, &e) == 0);
	FUZZ_ASSERT(descriptor_from_json(&d2, j2, NULL, &e) == 0);
	have_d2 = 1;
	json_free(out);
	out = descriptor_to_json(&d2);
	FUZZ_ASSERT(out);
	FUZZ_ASSERT(json_serialize(&b2, out, 0, &e) == 0);
	FUZZ_ASSERT(b.len == b2.len && !memcmp(b.data, b2.data, b.len));
	FUZZ_ASSERT(descriptor_copy(&cp, &d) == 0);
out:
	if (have_d2)
		descriptor_release(&d2);
	descriptor_release(&d);
	descriptor_release(&cp);
	json_free(j);
	json_free(j2);
	json_free(out);
	buf_release(&b);
	buf_release(&b2);
	return 0;
}

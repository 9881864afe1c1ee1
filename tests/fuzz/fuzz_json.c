/* fuzz_json.c - json_parse(); what json_serialize() writes parses back and
 * serialises to the same bytes, compact and pretty; json_copy() too. */
#include "tests/fuzz/fuzz.h"
#include "core/base/buf.h"
#include "core/base/err.h"
#include "core/base/json.h"

static void walk(const struct json *j, int depth)
{
	size_t i, n;
	int64_t v;

	FUZZ_ASSERT(depth <= JSON_MAX_DEPTH + 1);
	switch (json_kind_of(j)) {
	case JSON_ARRAY:
		n = json_array_len(j);
		for (i = 0; i < n; i++)
			walk(json_array_get(j, i), depth + 1);
		break;
	case JSON_STRING:
		FUZZ_ASSERT(json_str(j) && strlen(json_str(j)) <= json_str_len(j));
		break;
	case JSON_INT:
		/* json-c keeps INT64_MAX+1..UINT64_MAX as integers too: refused */
		FUZZ_ASSERT(json_int64(j, &v) == 0 || json_int64(j, &v) == ERR_INVALID);
		break;
	default:
		break;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct err e = ERR_INIT;
	struct json *j = NULL, *j2 = NULL, *cp = NULL;
	struct buf b = BUF_INIT, b2 = BUF_INIT, p = BUF_INIT, c = BUF_INIT;

	if (json_parse(&j, (const char *)data, size, &e))
		goto out;
	walk(j, 1);
	FUZZ_ASSERT(json_serialize(&b, j, 0, &e) == 0);
	FUZZ_ASSERT(json_serialize(&p, j, JSON_PRETTY, &e) == 0);
	FUZZ_ASSERT(json_parse(&j2, b.data, b.len, &e) == 0);
	FUZZ_ASSERT(json_serialize(&b2, j2, 0, &e) == 0);
	FUZZ_ASSERT(b.len == b2.len && !memcmp(b.data, b2.data, b.len));
	cp = json_copy(j);
	FUZZ_ASSERT(cp);
	FUZZ_ASSERT(json_serialize(&c, cp, 0, &e) == 0);
	FUZZ_ASSERT(b.len == c.len && !memcmp(b.data, c.data, b.len));
out:
	json_free(j);
	json_free(j2);
	json_free(cp);
	buf_release(&b);
	buf_release(&b2);
	buf_release(&p);
	buf_release(&c);
	return 0;
}

#define TEST_MODULE "json"
#include "tests/unit/test.h"

#include "core/base/buf.h"
#include "core/base/err.h"
#include "core/base/json.h"

#include <stdint.h>

static int parse(struct json **j, const char *s, struct err *e)
{
	return json_parse(j, s, strlen(s), e);
}

TEST(parse_and_get)
{
	struct json *j = NULL;
	struct err e = ERR_INIT;
	int64_t v = 0;

	CHECK_RC(parse(&j, " {\"a\": \"x\", \"n\": 42, \"arr\": [1, 2, 3], \"b\": true}\n", &e), 0);
	CHECK_STR(json_get_str(j, "a"), "x");
	CHECK_RC(json_get_int64(j, "n", &v), 0);
	CHECK(v == 42);
	CHECK_RC(json_get_int64(j, "a", &v), ERR_INVALID);
	CHECK_RC(json_get_int64(j, "zz", &v), ERR_NOT_FOUND);
	CHECK(json_array_len(json_get(j, "arr")) == 3);
	CHECK(json_is_true(json_get(j, "b")));
	CHECK(json_get_str(j, "n") == NULL);
	CHECK(json_get(json_get(j, "a"), "x") == NULL);
	json_free(j);
}

TEST(parse_rejects)
{
	static const char *bad[] = {
		"", "{", "{\"a\":1} x", "{\"a\":1}{}", "[1,]", "{'a':1}", "nul",
		"{\"a\":1,}",
	};
	struct json *j;
	struct err e = ERR_INIT;
	char deep[300];
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		j = NULL;
		if (parse(&j, bad[i], &e) != ERR_INVALID)
			fprintf(stderr, "accepted: '%s'\n", bad[i]), test_cur_failed = 1;
		CHECK(j == NULL);
	}
	CHECK_RC(json_parse(&j, "{\"a\":\"b\0c\"}", 11, &e), ERR_INVALID);
	memset(deep, '[', 200);
	memset(deep + 200, ']', 1);
	deep[201] = '\0';
	CHECK_RC(parse(&j, deep, &e), ERR_INVALID);
	CHECK(strstr(e.msg, "deeper") != NULL);
}

/* A document that is null is refused and called what it is; null inside one
 * is a value like any other. */
TEST(parse_null_document)
{
	static const char *nulls[] = { "null", " null\n", "\tnull " };
	struct json *j;
	struct err e = ERR_INIT;
	size_t i;

	for (i = 0; i < sizeof(nulls) / sizeof(nulls[0]); i++) {
		j = NULL;
		CHECK_RC(parse(&j, nulls[i], &e), ERR_INVALID);
		CHECK(j == NULL);
		CHECK_STR(e.msg, "JSON document is null");
	}
	CHECK_RC(parse(&j, "null x", &e), ERR_INVALID);
	CHECK(strncmp(e.msg, "invalid JSON", 12) == 0);
	CHECK_RC(parse(&j, "{\"a\": null}", &e), 0);
	CHECK(json_get(j, "a") == NULL && json_kind_of(json_get(j, "a")) == JSON_NULL);
	json_free(j);
	CHECK_RC(parse(&j, "[null]", &e), 0);
	CHECK(json_array_len(j) == 1);
	json_free(j);
}

TEST(numbers_at_end_and_ranges)
{
	struct json *j = NULL;
	int64_t v;

	CHECK_RC(json_parse(&j, "12", 2, NULL), 0);
	CHECK_RC(json_int64(j, &v), 0);
	CHECK(v == 12);
	json_free(j);
	CHECK_RC(parse(&j, "{\"s\": 9223372036854775807}", NULL), 0);
	CHECK_RC(json_get_int64(j, "s", &v), 0);
	CHECK(v == INT64_MAX);
	json_free(j);
	CHECK_RC(parse(&j, "{\"s\": 9223372036854775808}", NULL), 0);
	CHECK_RC(json_get_int64(j, "s", &v), ERR_INVALID);
	json_free(j);
	CHECK_RC(parse(&j, "{\"s\": -5, \"d\": 1.5}", NULL), 0);
	CHECK_RC(json_get_int64(j, "s", &v), 0);
	CHECK(v == -5);
	CHECK_RC(json_get_int64(j, "d", &v), ERR_INVALID);
	json_free(j);
}

static int collect(const char *key, struct json *val, void *arg)
{
	struct buf *b = arg;

	(void)val;
	buf_addstr(b, key);
	return 0;
}

TEST(build_and_serialize)
{
	struct json *o = json_new_object(), *arr = json_new_array();
	struct buf b = BUF_INIT;
	struct buf keys = BUF_INIT;

	CHECK_RC(json_set_int64(o, "schemaVersion", 2), 0);
	CHECK_RC(json_set_str(o, "mediaType", "a/b+json"), 0);
	CHECK_RC(json_append(arr, json_new_string("http://x/y")), 0);
	CHECK_RC(json_set(o, "urls", arr), 0);
	CHECK_RC(json_set_int64(o, "schemaVersion", 3), 0); /* replace in place */
	CHECK_RC(json_serialize(&b, o, 0, NULL), 0);
	CHECK_STR(b.data, "{\"schemaVersion\":3,\"mediaType\":\"a/b+json\",\"urls\":[\"http://x/y\"]}");
	json_obj_each(o, collect, &keys);
	CHECK_STR(keys.data, "schemaVersionmediaTypeurls");
	json_del(o, "urls");
	CHECK(json_obj_len(o) == 2);
	CHECK_RC(json_set(o, "x", NULL), ERR_NOMEM);
	buf_release(&b);
	buf_release(&keys);
	json_free(o);
}

int main(void)
{
	RUN(parse_and_get);
	RUN(parse_rejects);
	RUN(parse_null_document);
	RUN(numbers_at_end_and_ranges);
	RUN(build_and_serialize);
	return test_done();
}

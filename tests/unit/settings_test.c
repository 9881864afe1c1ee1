/* settings_test.c - the config file parser, with hostile input. */
#define TEST_MODULE "settings"
#include "core/base/buf.h"
#include "core/base/err.h"
#include "core/model/settings.h"
#include "test.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int parse(struct settings *s, const char *doc, struct err *e)
{
	err_clear(e);
	return settings_parse(s, doc, strlen(doc), "cfg.json", e);
}

TEST(full_document)
{
	struct settings s = SETTINGS_INIT;
	struct err e = ERR_INIT;
	const struct settings_registry *r;

	CHECK_RC(parse(&s, "{\"cache\": \"/c\", \"jobs\": 8, \"platform\": \"linux/arm64\","
		       " \"registries\": {\"index.docker.io\": {\"mirrors\": "
		       "[\"https://mirror.example\", \"http://127.0.0.1:5001/hub/\", "
		       "\"localhost:5002\"], \"insecure\": false, \"ca\": \"/ca.crt\"},"
		       " \"localhost:5000\": {\"insecure\": true}}}", &e), 0);
	CHECK_STR(s.cache, "/c");
	CHECK(s.jobs == 8);
	CHECK_STR(s.platform, "linux/arm64");
	CHECK(s.n_registries == 2);
	r = settings_registry(&s, "docker.io");
	CHECK(r != NULL);
	if (r) {
		CHECK(r->n_mirrors == 3);
		CHECK_STR(r->mirrors[0].host, "mirror.example");
		CHECK(r->mirrors[0].scheme == SETTINGS_SCHEME_HTTPS);
		CHECK(r->mirrors[0].prefix == NULL);
		CHECK_STR(r->mirrors[1].host, "127.0.0.1:5001");
		CHECK(r->mirrors[1].scheme == SETTINGS_SCHEME_HTTP);
		CHECK_STR(r->mirrors[1].prefix, "hub");
		CHECK_STR(r->mirrors[1].url, "http://127.0.0.1:5001/hub/");
		CHECK(r->mirrors[2].scheme == SETTINGS_SCHEME_ANY);
		CHECK_STR(r->mirrors[2].host, "localhost:5002");
		CHECK(!r->insecure);
		CHECK_STR(r->ca, "/ca.crt");
	}
	r = settings_registry(&s, "localhost:5000");
	CHECK(r && r->insecure && !r->n_mirrors && !r->ca);
	CHECK(settings_registry(&s, "quay.io") == NULL);
	settings_release(&s);
	CHECK(s.n_registries == 0 && !s.cache);
}

TEST(empty_is_fine)
{
	struct settings s = SETTINGS_INIT;
	struct err e = ERR_INIT;

	CHECK_RC(parse(&s, " {} \n", &e), 0);
	CHECK(!s.cache && !s.jobs && !s.platform && !s.n_registries);
	CHECK_RC(parse(&s, "{\"registries\": {}}", &e), 0);
	settings_release(&s);
}

static void expect_invalid(const char *doc, const char *want)
{
	struct settings s = SETTINGS_INIT;
	struct err e = ERR_INIT;

	CHECK_RC(parse(&s, doc, &e), ERR_INVALID);
	if (!strstr(e.msg, want)) {
		fprintf(stderr, "  doc %s\n  message '%s' lacks '%s'\n", doc, e.msg, want);
		CHECK(0);
	}
	CHECK(s.n_registries == 0 && !s.cache);
	settings_release(&s);
}

TEST(unknown_keys_named_with_path_and_hint)
{
	expect_invalid("{\"cahce\": \"/x\"}", "cfg.json: cahce: unknown key (did you mean 'cache'?)");
	expect_invalid("{\"registries\": {\"docker.io\": {\"mirors\": []}}}",
		       "registries.\"docker.io\".mirors: unknown key (did you mean 'mirrors'?)");
	expect_invalid("{\"registries\": {\"docker.io\": {\"Insecure\": true}}}",
		       "did you mean 'insecure'?");
	expect_invalid("{\"zzzzzzzzzz\": 1}", "zzzzzzzzzz: unknown key (known: cache jobs platform registries)");
	expect_invalid("{\"a\\\"b\\u0001\": 1}", "\"a\\\"b\\u0001\": unknown key");
	expect_invalid("{\"registries\": {\"docker.io\": {}, \"reg.example\": {\"ca\": \"/x\", \"cert\": 1}}}",
		       "registries.\"reg.example\".cert: unknown key");
}

TEST(wrong_types)
{
	expect_invalid("{\"jobs\": \"8\"}", "jobs: must be an integer, not a string");
	expect_invalid("{\"jobs\": 8.5}", "jobs: must be an integer, not a number");
	expect_invalid("{\"jobs\": 0}", "jobs: must be 1 to 64");
	expect_invalid("{\"jobs\": 65}", "jobs: must be 1 to 64");
	expect_invalid("{\"jobs\": 99999999999999999999999}", "jobs");
	expect_invalid("{\"cache\": null}", "cache: must be a string, not null");
	expect_invalid("{\"cache\": \"\"}", "cache: must be a non-empty string");
	expect_invalid("{\"cache\": \"a\\u0000b\"}", "without NUL bytes");
	expect_invalid("{\"platform\": \"linux/\"}", "platform: ");
	expect_invalid("{\"registries\": []}", "registries: must be an object, not an array");
	expect_invalid("{\"registries\": {\"docker.io\": true}}",
		       "registries.\"docker.io\": must be an object, not a boolean");
	expect_invalid("{\"registries\": {\"docker.io\": {\"insecure\": \"yes\"}}}",
		       "registries.\"docker.io\".insecure: must be a boolean, not a string");
	expect_invalid("{\"registries\": {\"docker.io\": {\"mirrors\": \"https://m.example\"}}}",
		       "mirrors: must be an array, not a string");
	expect_invalid("{\"registries\": {\"docker.io\": {\"mirrors\": [\"https://m.example\", 5]}}}",
		       "registries.\"docker.io\".mirrors[1]: must be a string, not an integer");
}

TEST(bad_values)
{
	expect_invalid("[]", "must be a JSON object, not an array");
	expect_invalid("\"x\"", "must be a JSON object");
	expect_invalid("{", "cfg.json: invalid JSON: unexpected end of input");
	expect_invalid("null", "cfg.json: JSON document is null");
	expect_invalid("{} {}", "invalid JSON");
	expect_invalid("{\"registries\": {\"no/slash\": {}}}", "not a registry host[:port]");
	expect_invalid("{\"registries\": {\"\": {}}}", "not a registry host[:port]");
	expect_invalid("{\"registries\": {\"docker.io\": {}, \"index.docker.io\": {}}}",
		       "names a registry given before");
	expect_invalid("{\"registries\": {\"docker.io\": {\"mirrors\": [\"ftp://m.example\"]}}}",
		       "mirrors[0]: a mirror must be http:// or https://");
	expect_invalid("{\"registries\": {\"docker.io\": {\"mirrors\": [\"https://\"]}}}",
		       "not a mirror URL");
	expect_invalid("{\"registries\": {\"docker.io\": {\"mirrors\": [\"https://u:p@m.example\"]}}}",
		       "not a mirror URL");
	expect_invalid("{\"registries\": {\"docker.io\": {\"mirrors\": [\"https://m.example/v2/\"]}}}",
		       "leave out /v2");
	expect_invalid("{\"registries\": {\"docker.io\": {\"mirrors\": [\"https://m.example/UP\"]}}}",
		       "not a valid repository prefix");
}

TEST(hostile_input)
{
	struct settings s = SETTINGS_INIT;
	struct err e = ERR_INIT;
	struct buf b = BUF_INIT;
	size_t i;

	/* deep nesting is refused by the JSON parser, not the stack */
	for (i = 0; i < 10000; i++)
		buf_addstr(&b, "{\"registries\":");
	CHECK_RC(settings_parse(&s, b.data, b.len, NULL, &e), ERR_INVALID);
	buf_reset(&b);
	/* a long unknown key is cut in the message */
	buf_addstr(&b, "{\"");
	for (i = 0; i < 5000; i++)
		buf_addch(&b, 'k');
	buf_addstr(&b, "\": 1}");
	CHECK_RC(settings_parse(&s, b.data, b.len, NULL, &e), ERR_INVALID);
	CHECK(strlen(e.msg) < 400);
	CHECK(strstr(e.msg, "...") != NULL);
	buf_reset(&b);
	/* too many mirrors */
	buf_addstr(&b, "{\"registries\": {\"docker.io\": {\"mirrors\": [");
	for (i = 0; i < 17; i++)
		buf_addf(&b, "%s\"m%zu.example\"", i ? "," : "", i);
	buf_addstr(&b, "]}}}");
	CHECK_RC(settings_parse(&s, b.data, b.len, NULL, &e), ERR_INVALID);
	CHECK(strstr(e.msg, "too many mirrors") != NULL);
	/* NUL bytes in the document */
	CHECK_RC(settings_parse(&s, "{}\0{}", 5, NULL, &e), ERR_INVALID);
	/* many registries */
	buf_reset(&b);
	buf_addch(&b, '{');
	buf_addstr(&b, "\"registries\": {");
	for (i = 0; i < 300; i++)
		buf_addf(&b, "%s\"r%zu.example\": {\"mirrors\": [\"https://m.example\"]}",
			 i ? "," : "", i);
	buf_addstr(&b, "}}");
	CHECK_RC(settings_parse(&s, b.data, b.len, NULL, &e), 0);
	CHECK(s.n_registries == 300);
	CHECK(settings_registry(&s, "r299.example") != NULL);
	settings_release(&s);
	buf_release(&b);
}

TEST(closest)
{
	static const char *const known[] = { "mirrors", "insecure", "ca", NULL };

	CHECK_STR(settings_closest("mirror", known), "mirrors");
	CHECK_STR(settings_closest("insecur", known), "insecure");
	CHECK_STR(settings_closest("CA", known), "ca");
	CHECK(settings_closest("x", known) == NULL);
	CHECK(settings_closest("completely-different", known) == NULL);
}

TEST(load_files)
{
	struct settings s = SETTINGS_INIT;
	struct err e = ERR_INIT;
	char dir[] = "/tmp/settings_test.XXXXXX";
	char path[256];
	FILE *f;

	CHECK(mkdtemp(dir) != NULL);
	snprintf(path, sizeof(path), "%s/none.json", dir);
	CHECK_RC(settings_load(&s, path, &e), ERR_NOT_FOUND);
	CHECK(strstr(e.msg, "none.json") != NULL);
	snprintf(path, sizeof(path), "%s/config.json", dir);
	f = fopen(path, "w");
	CHECK(f != NULL);
	if (!f)
		return;
	fputs("{\"cache\": \"rel/cache\", \"registries\": {\"r.example\": {\"ca\": \"ca.pem\"}}}", f);
	fclose(f);
	CHECK_RC(settings_load(&s, path, &e), 0);
	CHECK(s.cache && !strncmp(s.cache, dir, strlen(dir)) && strstr(s.cache, "/rel/cache"));
	CHECK(s.n_registries == 1 && strstr(s.registries[0].ca, "/ca.pem"));
	CHECK_STR(s.path, path);
	settings_release(&s);
	f = fopen(path, "w");
	if (f) {
		fputs("{\"jobs\": true}", f);
		fclose(f);
	}
	CHECK_RC(settings_load(&s, path, &e), ERR_INVALID);
	CHECK(strstr(e.msg, "config.json: jobs: must be an integer, not a boolean") != NULL);
	unlink(path);
	rmdir(dir);
}

int main(void)
{
	RUN(full_document);
	RUN(empty_is_fine);
	RUN(unknown_keys_named_with_path_and_hint);
	RUN(wrong_types);
	RUN(bad_values);
	RUN(hostile_input);
	RUN(closest);
	RUN(load_files);
	return test_done();
}

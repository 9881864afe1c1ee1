#define TEST_MODULE "wire"
#include "tests/unit/test.h"

#include "core/base/buf.h"
#include "core/base/err.h"
#include "registry/wire.h"

#include <stdint.h>
#include <stdlib.h>
#include <time.h>

/* Non-zero when s has no byte below 0x20 nor 0x7f. */
static int no_controls(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return 0;
	return 1;
}

static int parse1(struct wire_challenges *c, const char *h, struct err *e)
{
	wire_challenges_release(c);
	return wire_parse_challenges(c, h, e);
}

/* ---- WWW-Authenticate ---- */

TEST(challenge_docker_hub)
{
	struct wire_challenges c = WIRE_CHALLENGES_INIT;
	struct err e = ERR_INIT;

	CHECK_RC(wire_parse_challenges(&c,
		"Bearer realm=\"https://auth.docker.io/token\",service=\"registry.docker.io\","
		"scope=\"repository:library/ubuntu:pull\"", &e), 0);
	CHECK(c.n == 1);
	CHECK_STR(c.v[0].scheme, "bearer");
	CHECK(c.v[0].names.n == 3);
	CHECK_STR(wire_challenge_param(&c.v[0], "realm"), "https://auth.docker.io/token");
	CHECK_STR(wire_challenge_param(&c.v[0], "SERVICE"), "registry.docker.io");
	CHECK_STR(wire_challenge_param(&c.v[0], "scope"), "repository:library/ubuntu:pull");
	CHECK(wire_challenge_param(&c.v[0], "error") == NULL);
	CHECK(c.v[0].token68 == NULL);

	CHECK_RC(parse1(&c,
		"Bearer realm=\"https://auth.docker.io/token\",service=\"registry.docker.io\","
		"scope=\"repository:library/nope:pull\",error=\"insufficient_scope\"", &e), 0);
	CHECK_STR(wire_challenge_param(&c.v[0], "error"), "insufficient_scope");
	wire_challenges_release(&c);
	CHECK(c.n == 0 && c.v == NULL);
}

TEST(challenge_registries)
{
	static const struct {
		const char *h, *scheme, *realm, *service;
	} cases[] = {
		{ "Bearer realm=\"https://ghcr.io/token\",service=\"ghcr.io\","
		  "scope=\"repository:user/image:pull\"", "bearer", "https://ghcr.io/token", "ghcr.io" },
		{ "Bearer realm=\"https://quay.io/v2/auth\",service=\"quay.io\"", "bearer",
		  "https://quay.io/v2/auth", "quay.io" },
		{ "Basic realm=\"https://123456789012.dkr.ecr.us-east-1.amazonaws.com/\","
		  "service=\"ecr.amazonaws.com\"", "basic",
		  "https://123456789012.dkr.ecr.us-east-1.amazonaws.com/", "ecr.amazonaws.com" },
		{ "Bearer realm=\"https://gcr.io/v2/token\",service=\"gcr.io\","
		  "scope=\"repository:proj/img:pull\"", "bearer", "https://gcr.io/v2/token", "gcr.io" },
		{ "Bearer realm=\"https://harbor.example.com/service/token\","
		  "service=\"harbor-registry\",scope=\"repository:library/nginx:pull\"", "bearer",
		  "https://harbor.example.com/service/token", "harbor-registry" },
		{ "Bearer realm=\"https://r.azurecr.io/oauth2/token\",service=\"r.azurecr.io\"",
		  "bearer", "https://r.azurecr.io/oauth2/token", "r.azurecr.io" },
		{ "Basic realm=\"Registry Realm\"", "basic", "Registry Realm", NULL },
		{ "BEARER Realm = \"x\" , Service=y", "bearer", "x", "y" },
		{ "bearer\trealm=x", "bearer", "x", NULL },
	};
	struct wire_challenges c = WIRE_CHALLENGES_INIT;
	struct err e = ERR_INIT;
	const char *v;
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		if (parse1(&c, cases[i].h, &e) != 0 || c.n != 1) {
			fprintf(stderr, "case %zu: %s\n", i, e.msg);
			test_cur_failed = 1;
			continue;
		}
		CHECK_STR(c.v[0].scheme, cases[i].scheme);
		CHECK_STR(wire_challenge_param(&c.v[0], "realm"), cases[i].realm);
		v = wire_challenge_param(&c.v[0], "service");
		if (cases[i].service)
			CHECK_STR(v, cases[i].service);
		else
			CHECK(v == NULL);
	}
	wire_challenges_release(&c);
}

TEST(challenge_several)
{
	struct wire_challenges c = WIRE_CHALLENGES_INIT;
	struct err e = ERR_INIT;
	const struct wire_challenge *b;

	CHECK_RC(wire_parse_challenges(&c,
		"Bearer realm=\"https://a/token\",service=\"a\",scope=\"x, y\", Basic realm=\"x\"",
		&e), 0);
	CHECK(c.n == 2);
	CHECK_STR(wire_challenge_param(&c.v[0], "scope"), "x, y");
	CHECK_STR(c.v[1].scheme, "basic");
	CHECK_STR(wire_challenge_param(&c.v[1], "realm"), "x");
	b = wire_challenges_find(&c, "BASIC");
	CHECK(b == &c.v[1]);
	CHECK(wire_challenges_find(&c, "negotiate") == NULL);

	/* empty elements, token68, schemes without parameters */
	CHECK_RC(parse1(&c, " ,, Negotiate abc+/==, ,Basic ,NTLM,Bearer realm=x,, ,", &e), 0);
	CHECK(c.n == 4);
	CHECK_STR(c.v[0].scheme, "negotiate");
	CHECK_STR(c.v[0].token68, "abc+/==");
	CHECK(c.v[0].names.n == 0);
	CHECK_STR(c.v[1].scheme, "basic");
	CHECK(c.v[1].token68 == NULL && c.v[1].names.n == 0);
	CHECK_STR(c.v[2].scheme, "ntlm");
	CHECK_STR(wire_challenge_param(&c.v[3], "realm"), "x");

	/* the grammar reads these as token68, not as an empty parameter */
	CHECK_RC(parse1(&c, "Bearer realm=, Basic", &e), 0);
	CHECK(c.n == 2);
	CHECK_STR(c.v[0].token68, "realm=");
	CHECK(wire_challenge_param(&c.v[0], "realm") == NULL);
	CHECK_RC(parse1(&c, "Negotiate abc", &e), 0);
	CHECK_STR(c.v[0].token68, "abc");
	/* "Basic , realm=x": an empty first element of the parameter list */
	CHECK_RC(parse1(&c, "Basic , realm=x, Bearer", &e), 0);
	CHECK(c.n == 2);
	CHECK_STR(wire_challenge_param(&c.v[0], "realm"), "x");
	CHECK_STR(c.v[1].scheme, "bearer");
	wire_challenges_release(&c);
}

TEST(challenge_escapes_and_append)
{
	struct wire_challenges c = WIRE_CHALLENGES_INIT;
	struct err e = ERR_INIT;

	CHECK_RC(wire_parse_challenges(&c, "Bearer realm=\"a\\\"b\\\\c\\,d\",x=\"\"", &e), 0);
	CHECK_STR(wire_challenge_param(&c.v[0], "realm"), "a\"b\\c,d");
	CHECK_STR(wire_challenge_param(&c.v[0], "x"), "");
	/* a second header line appends */
	CHECK_RC(wire_parse_challenges(&c, "Basic realm=\"r\"", &e), 0);
	CHECK(c.n == 2);
	CHECK_STR(c.v[1].scheme, "basic");
	/* a failing line leaves what was there */
	CHECK_RC(wire_parse_challenges(&c, "Digest realm=\"ok\", Foo realm=\"open", &e),
		 ERR_INVALID);
	CHECK(c.n == 2);
	CHECK_STR(c.v[0].scheme, "bearer");
	/* empty and blank values append nothing */
	CHECK_RC(wire_parse_challenges(&c, "", &e), 0);
	CHECK_RC(wire_parse_challenges(&c, "   \t ", &e), 0);
	CHECK_RC(wire_parse_challenges(&c, " , ,", &e), 0);
	CHECK(c.n == 2);
	/* non-ASCII inside quotes is kept as bytes */
	CHECK_RC(wire_parse_challenges(&c, "Basic realm=\"caf\xc3\xa9\"", &e), 0);
	CHECK_STR(wire_challenge_param(&c.v[2], "realm"), "caf\xc3\xa9");
	wire_challenges_release(&c);
}

TEST(challenge_hostile)
{
	static const char *bad[] = {
		"Bearer realm=\"unterminated",
		"Bearer realm=\"x\\",
		"Bearer realm=\"x\\\"",
		"Bearer =x",
		"=x",
		"Bearer realm=x, =y",
		"Bearer realm=x service=y",
		"Bearer realm=\"x\"y",
		"Bearer realm=x, realm=y",
		"Bearer REALM=x, Realm=y",
		"Bearer realm=\"a\x01\"",
		"Bearer realm=a\x01",
		"Bearer realm=\"a\x7f\"",
		"B\xc3\xa9" "arer realm=x",
		"Bearer r\xc3\xa9" "alm=x",
		"Bearer realm=caf\xc3\xa9",
		"\"Bearer\" realm=x",
		"Basic foo bar",
		"Negotiate abc==, realm=x",
		"Bearer;realm=x",
		"Bearer realm=x;",
		"Bearer/x",
		"Bearer \x01",
	};
	struct wire_challenges c = WIRE_CHALLENGES_INIT;
	struct err e = ERR_INIT;
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err_clear(&e);
		if (parse1(&c, bad[i], &e) != ERR_INVALID) {
			fprintf(stderr, "accepted: case %zu\n", i);
			test_cur_failed = 1;
		}
		CHECK(c.n == 0);
		CHECK(e.msg[0] != '\0');
		CHECK(no_controls(e.msg));
	}
	CHECK_RC(parse1(&c, "Bearer realm=\"x\\", &e), ERR_INVALID);
	CHECK(strstr(e.msg, "backslash") != NULL);
	CHECK_RC(parse1(&c, "Bearer realm=\"x", &e), ERR_INVALID);
	CHECK(strstr(e.msg, "unterminated") != NULL);
	CHECK_RC(parse1(&c, "Bearer realm=\"a\x01\"", &e), ERR_INVALID);
	CHECK(strstr(e.msg, "0x01") != NULL);
	CHECK_RC(parse1(&c, "Bearer realm=x, realm=y", &e), ERR_INVALID);
	CHECK(strstr(e.msg, "'realm' given twice") != NULL);
	wire_challenges_release(&c);
}

TEST(challenge_caps)
{
	struct wire_challenges c = WIRE_CHALLENGES_INIT;
	struct err e = ERR_INIT;
	struct buf b = BUF_INIT;
	char big[100001];
	int i;

	/* 100,000 commas: over the per-value cap, refused without work */
	memset(big, ',', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	CHECK_RC(wire_parse_challenges(&c, big, &e), ERR_TOO_BIG);
	/* 8,000 commas fit and are only empty elements */
	big[8000] = '\0';
	CHECK_RC(wire_parse_challenges(&c, big, &e), 0);
	CHECK(c.n == 0);
	/* a huge quoted value */
	memset(big, 'a', sizeof(big) - 1);
	memcpy(big, "Basic realm=\"", 13);
	CHECK_RC(wire_parse_challenges(&c, big, &e), ERR_TOO_BIG);

	/* exactly WIRE_MAX_PARAMS parameters pass, one more fails */
	buf_addstr(&b, "Bearer ");
	for (i = 0; i < WIRE_MAX_PARAMS; i++)
		buf_addf(&b, "%sp%d=v", i ? "," : "", i);
	CHECK_RC(wire_parse_challenges(&c, b.data, &e), 0);
	CHECK(c.n == 1 && c.v[0].names.n == WIRE_MAX_PARAMS);
	CHECK_STR(wire_challenge_param(&c.v[0], "p31"), "v");
	buf_addstr(&b, ",p99=v");
	CHECK_RC(parse1(&c, b.data, &e), ERR_TOO_BIG);
	CHECK(c.n == 0);

	/* challenges: cap counts what is already there */
	buf_reset(&b);
	for (i = 0; i < WIRE_MAX_CHALLENGES; i++)
		buf_addf(&b, "%sS%d", i ? ", " : "", i);
	CHECK_RC(parse1(&c, b.data, &e), 0);
	CHECK(c.n == WIRE_MAX_CHALLENGES);
	CHECK_RC(wire_parse_challenges(&c, "Basic", &e), ERR_TOO_BIG);
	CHECK(c.n == WIRE_MAX_CHALLENGES);
	buf_reset(&b);
	for (i = 0; i < 1000; i++)
		buf_addstr(&b, "Basic,");
	CHECK_RC(parse1(&c, b.data, &e), ERR_TOO_BIG);
	CHECK(c.n == 0);
	buf_release(&b);
	wire_challenges_release(&c);
}

TEST(challenge_len_and_nul)
{
	struct wire_challenges c = WIRE_CHALLENGES_INIT;
	struct err e = ERR_INIT;
	static const char h[] = "Basic realm=\"a\0b\"";

	CHECK_RC(wire_parse_challenges_len(&c, h, sizeof(h) - 1, &e), ERR_INVALID);
	CHECK(strstr(e.msg, "NUL") != NULL);
	CHECK(c.n == 0);
	/* only the given bytes are read */
	CHECK_RC(wire_parse_challenges_len(&c, "Basic realm=xyz, Bearer", 15, &e), 0);
	CHECK(c.n == 1);
	CHECK_STR(wire_challenge_param(&c.v[0], "realm"), "xyz");
	CHECK_RC(wire_parse_challenges_len(&c, "Basic realm=\"xyz\"", 16, &e), ERR_INVALID);
	CHECK_RC(wire_parse_challenges_len(&c, "", 0, &e), 0);
	wire_challenges_release(&c);
}

/* Exact-size copies without a NUL, so ASan sees any read past the end. */
TEST(challenge_no_overread)
{
	static const char *hs[] = {
		"Bearer realm=\"x\",service=y", "Bearer realm=\"x", "Bearer realm=\"x\\",
		"Negotiate abc==", "Basic", "Basic ", "Basic ,", "Bearer realm", "Bearer realm=",
		"Bearer realm =", "Bearer r=\"\\", "x", ",", "\"",
	};
	struct wire_challenges c = WIRE_CHALLENGES_INIT;
	size_t i, len;
	char *p;

	for (i = 0; i < sizeof(hs) / sizeof(hs[0]); i++) {
		len = strlen(hs[i]);
		p = malloc(len);
		CHECK(p != NULL);
		if (!p)
			break;
		memcpy(p, hs[i], len);
		wire_parse_challenges_len(&c, p, len, NULL);
		wire_challenges_release(&c);
		free(p);
	}
}

/* Random short strings over a header-ish alphabet through every parser:
 * no crash, no leak, no control character in a message. */
TEST(fuzz_all)
{
	static const char alpha[] = "aB0=,;\" \t\"\\<>/?:#-*\x01\xc3\xa9\x7f" "bytesrelnext";
	struct wire_challenges c = WIRE_CHALLENGES_INIT;
	struct wire_errors w = WIRE_ERRORS_INIT;
	struct wire_range r;
	struct err e = ERR_INIT;
	unsigned long x = 12345;
	char s[65], *u;
	size_t i, j, len;
	long sec;

	for (i = 0; i < 20000; i++) {
		x = x * 6364136223846793005UL + 1442695040888963407UL;
		len = (x >> 33) % 64;
		for (j = 0; j < len; j++) {
			x = x * 6364136223846793005UL + 1442695040888963407UL;
			s[j] = alpha[(x >> 33) % (sizeof(alpha) - 1)];
		}
		s[len] = '\0';
		err_clear(&e);
		wire_parse_challenges(&c, s, &e);
		wire_challenges_release(&c);
		CHECK(no_controls(e.msg));
		u = NULL;
		if (wire_link_next(&u, s, &e) == 0)
			CHECK(u != NULL && u[0]);
		free(u);
		u = NULL;
		wire_resolve_url(&u, "https://r.io/v2/x?n=1", s, &e);
		free(u);
		wire_parse_errors(&w, s, len, &e);
		wire_parse_retry_after(&sec, s, 0);
		CHECK(sec >= 0 && sec <= WIRE_RETRY_AFTER_MAX);
		err_clear(&e);
		wire_parse_content_range(&r, s, &e);
		CHECK(no_controls(e.msg));
	}
	wire_errors_release(&w);
}

/* ---- Link ---- */

static int link_next(char **out, const char *h)
{
	struct err e = ERR_INIT;
	int rc;

	free(*out);
	*out = NULL;
	rc = wire_link_next(out, h, &e);
	if (rc < 0)
		CHECK(no_controls(e.msg));
	return rc;
}

TEST(link_forms)
{
	char *u = NULL;

	CHECK_RC(link_next(&u, "</v2/_catalog?last=b&n=2>; rel=\"next\""), 0);
	CHECK_STR(u, "/v2/_catalog?last=b&n=2");
	CHECK_RC(link_next(&u, "</v2/_catalog?last=b&n=2>;rel=next"), 0);
	CHECK_STR(u, "/v2/_catalog?last=b&n=2");
	CHECK_RC(link_next(&u, "<https://quay.io/v2/_catalog?n=2&next_page=gAAAAABk>; rel=\"next\""),
		 0);
	CHECK_STR(u, "https://quay.io/v2/_catalog?n=2&next_page=gAAAAABk");
	CHECK_RC(link_next(&u, "</p1>; rel=\"prev\", </p3>; rel=\"next\""), 0);
	CHECK_STR(u, "/p3");
	CHECK_RC(link_next(&u, "</a>; rel=\"prev first\", </b> ; title=\"x, y; z\" ; "
			   "rel=\"last NEXT\" ; type=text/html"), 0);
	CHECK_STR(u, "/b");
	CHECK_RC(link_next(&u, "</a>; rel=\"next\", </b>; rel=\"next\""), 0);
	CHECK_STR(u, "/a");
	CHECK_RC(link_next(&u, "  ,</a>;  rel = next ,, "), 0);
	CHECK_STR(u, "/a");
	CHECK_RC(link_next(&u, "</a>; title*=UTF-8'de'n%c3%a4chstes; rel=\"next\""), 0);
	CHECK_STR(u, "/a");
	CHECK_RC(link_next(&u, "?n=1>"), ERR_INVALID);
	free(u);
}

TEST(link_not_found_and_bad)
{
	static const char *none[] = {
		"", "   ", ",,,", "</a>", "</a>; rel=\"prev\"", "</a>; rel=\"nextpage\"",
		"</a>; rel", "</a>; rel=\"\"",
		/* only the first rel counts */
		"</a>; rel=\"prev\"; rel=\"next\"",
		"</a>; anchor=\"next\"",
	};
	static const char *bad[] = {
		"/v2/_catalog; rel=next", "</a", "</a>; rel=\"next", "</a>; rel=\"next\\",
		"</a>; =next", "</a> rel=next", "</a>; rel=", "<>; rel=next", "</a b>; rel=next",
		"</a\x01>; rel=next", "</caf\xc3\xa9>; rel=next", "</a>; rel=\"ne\x01xt\"",
		"</a>; rel=next x",
	};
	char *u = NULL, big[WIRE_MAX_HEADER + 64];
	size_t i;

	for (i = 0; i < sizeof(none) / sizeof(none[0]); i++) {
		if (link_next(&u, none[i]) != ERR_NOT_FOUND) {
			fprintf(stderr, "not ERR_NOT_FOUND: '%s'\n", none[i]);
			test_cur_failed = 1;
		}
		CHECK(u == NULL);
	}
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (link_next(&u, bad[i]) != ERR_INVALID) {
			fprintf(stderr, "not ERR_INVALID: case %zu\n", i);
			test_cur_failed = 1;
		}
		CHECK(u == NULL);
	}
	memset(big, ',', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	CHECK_RC(link_next(&u, big), ERR_TOO_BIG);
	free(u);
}

TEST(resolve_url)
{
	static const struct {
		const char *base, *ref, *want;
	} ok[] = {
		{ "https://r.io/v2/_catalog?n=2", "/v2/_catalog?last=b&n=2",
		  "https://r.io/v2/_catalog?last=b&n=2" },
		{ "https://r.io:5000/v2/x/tags/list?n=2#f", "?last=b&n=2",
		  "https://r.io:5000/v2/x/tags/list?last=b&n=2" },
		{ "http://127.0.0.1:5000/v2/_catalog", "?last=b",
		  "http://127.0.0.1:5000/v2/_catalog?last=b" },
		{ "https://r.io", "?last=b", "https://r.io?last=b" },
		{ "https://r.io", "/v2/x", "https://r.io/v2/x" },
		{ "https://r.io/v2/", "https://quay.io/v2/_catalog?next_page=x",
		  "https://quay.io/v2/_catalog?next_page=x" },
		{ "HTTPS://r.io/v2/", "HTTP://other/v2/x#frag", "HTTP://other/v2/x" },
		{ "https://r.io/v2/", "//cdn.r.io/v2/x", "https://cdn.r.io/v2/x" },
		{ "https://[::1]:5000/v2/x", "/v2/y?a=1", "https://[::1]:5000/v2/y?a=1" },
	};
	static const struct {
		const char *base, *ref;
		int rc;
	} bad[] = {
		{ "https://r.io/v2/", "file:///etc/passwd", ERR_UNSUPPORTED },
		{ "https://r.io/v2/", "javascript:alert(1)", ERR_UNSUPPORTED },
		{ "https://r.io/v2/", "ftp://r.io/x", ERR_UNSUPPORTED },
		{ "https://r.io/v2/", "data:text/plain,x", ERR_UNSUPPORTED },
		{ "https://r.io/v2/", "page2", ERR_UNSUPPORTED },
		{ "https://r.io/v2/", "#x", ERR_UNSUPPORTED },
		{ "https://r.io/v2/", "", ERR_INVALID },
		{ "https://r.io/v2/", "https:///x", ERR_INVALID },
		{ "https://r.io/v2/", "https:x", ERR_INVALID },
		{ "https://r.io/v2/", "///x", ERR_INVALID },
		{ "https://r.io/v2/", "//", ERR_INVALID },
		{ "https://r.io/v2/", "/a b", ERR_INVALID },
		{ "https://r.io/v2/", "/a\\b", ERR_INVALID },
		{ "https://r.io/v2/", "/a\r\nX: y", ERR_INVALID },
		{ "https://r.io/v2/", "/caf\xc3\xa9", ERR_INVALID },
		{ "file:///x", "/v2/", ERR_INVALID },
		{ "r.io/v2/", "/v2/", ERR_INVALID },
		{ "https:///v2/", "/v2/", ERR_INVALID },
	};
	struct err e = ERR_INIT;
	char *u = NULL;
	size_t i;

	for (i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		CHECK_RC(wire_resolve_url(&u, ok[i].base, ok[i].ref, &e), 0);
		CHECK_STR(u, ok[i].want);
		free(u);
		u = NULL;
	}
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err_clear(&e);
		if (wire_resolve_url(&u, bad[i].base, bad[i].ref, &e) != bad[i].rc) {
			fprintf(stderr, "case %zu: wrong code: %s\n", i, e.msg);
			test_cur_failed = 1;
		}
		CHECK(u == NULL);
		CHECK(no_controls(e.msg));
	}
	CHECK_RC(wire_resolve_url(&u, "https://r.io/", "file:///etc/passwd", &e), ERR_UNSUPPORTED);
	CHECK(strstr(e.msg, "'file'") != NULL);
}

/* ---- error bodies ---- */

static int errs_parse(struct wire_errors *w, const char *body, struct err *e)
{
	return wire_parse_errors(w, body, strlen(body), e);
}

TEST(errors_parse)
{
	struct wire_errors w = WIRE_ERRORS_INIT;
	struct err e = ERR_INIT;

	CHECK_RC(errs_parse(&w, "{\"errors\":[{\"code\":\"UNAUTHORIZED\",\"message\":"
		 "\"authentication required\",\"detail\":[{\"Type\":\"repository\",\"Class\":\"\","
		 "\"Name\":\"library/nope\",\"Action\":\"pull\"}]}]}\n", &e), 0);
	CHECK(w.n == 1 && w.total == 1);
	CHECK_STR(w.v[0].code, "UNAUTHORIZED");
	CHECK_STR(w.v[0].message, "authentication required");
	CHECK(wire_errors_find(&w, "unauthorized") == &w.v[0]);
	CHECK(wire_errors_find(&w, "DENIED") == NULL);

	/* Quay puts detail first; entries without code or message */
	CHECK_RC(errs_parse(&w, "{\"errors\":[{\"code\":\"MANIFEST_UNKNOWN\",\"detail\":{},"
		 "\"message\":\"manifest unknown\"}, 5, {}, {\"message\":\"only text\"},"
		 "{\"code\":\"X\"}]}", &e), 0);
	CHECK(w.n == 3 && w.total == 3);
	CHECK_STR(w.v[0].code, "MANIFEST_UNKNOWN");
	CHECK(w.v[1].code == NULL);
	CHECK_STR(w.v[1].message, "only text");
	CHECK(w.v[2].message == NULL);

	CHECK_RC(errs_parse(&w, "{\"errors\":[]}", &e), 0);
	CHECK(w.n == 0);
	/* token servers and proxies */
	CHECK_RC(errs_parse(&w, "{\"details\":\"incorrect username or password\"}", &e), 0);
	CHECK(w.n == 1 && w.v[0].code == NULL);
	CHECK_STR(w.v[0].message, "incorrect username or password");
	CHECK_RC(errs_parse(&w, "{\"message\":\"Not Found\",\"error\":\"x\"}", &e), 0);
	CHECK_STR(w.v[0].message, "Not Found");
	wire_errors_release(&w);
}

TEST(errors_bad_bodies)
{
	static const char *bad[] = {
		"", "   ", "not json", "<html><body>502 Bad Gateway</body></html>", "{",
		"[]", "\"errors\"", "{\"errors\":{}}", "{\"errors\":\"x\"}", "{\"foo\":1}",
		"{\"errors\":[]} trailing",
	};
	struct wire_errors w = WIRE_ERRORS_INIT;
	struct err e = ERR_INIT;
	static const char nul[] = "{\"errors\":[{\"code\":\"A\0B\"}]}";
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (errs_parse(&w, bad[i], &e) != ERR_INVALID) {
			fprintf(stderr, "accepted: '%s'\n", bad[i]);
			test_cur_failed = 1;
		}
		CHECK(w.n == 0);
	}
	CHECK_RC(wire_parse_errors(&w, nul, sizeof(nul) - 1, &e), ERR_INVALID);
	/* bytes after len are not read */
	CHECK_RC(wire_parse_errors(&w, "{\"errors\":[]}garbage", 13, &e), 0);
	CHECK_RC(wire_parse_errors(&w, "{}", WIRE_MAX_ERROR_BODY + 1, &e), ERR_TOO_BIG);
	wire_errors_release(&w);
}

TEST(errors_cleaned_and_capped)
{
	struct wire_errors w = WIRE_ERRORS_INIT;
	struct err e = ERR_INIT;
	struct buf b = BUF_INIT;
	int i;

	CHECK_RC(errs_parse(&w, "{\"errors\":[{\"code\":\"DENIED\\u0007\",\"message\":"
		 "\"a\\nb\\u001b[31mred\\u0000x\\u202eevil\\u0085\"}]}", &e), 0);
	CHECK_STR(w.v[0].code, "DENIED?");
	CHECK_STR(w.v[0].message, "a?b?[31mred?x?evil?");

	buf_addstr(&b, "{\"errors\":[{\"code\":\"C\",\"message\":\"");
	for (i = 0; i < 5000; i++)
		buf_addstr(&b, "\\u00e9");	/* two bytes each in UTF-8 */
	buf_addstr(&b, "\"}");
	for (i = 0; i < 40; i++)
		buf_addstr(&b, ",{\"code\":\"MORE\"}");
	buf_addstr(&b, "]}");
	CHECK_RC(errs_parse(&w, b.data, &e), 0);
	CHECK(w.n == WIRE_MAX_ERRORS);
	CHECK(w.total == 41);
	CHECK(strlen(w.v[0].message) <= WIRE_TEXT_MAX + 3);
	CHECK(strlen(w.v[0].message) >= WIRE_TEXT_MAX - 4);
	CHECK(strcmp(w.v[0].message + strlen(w.v[0].message) - 5, "\xc3\xa9...") == 0);
	buf_release(&b);
	wire_errors_release(&w);
}

TEST(text_clean_lines)
{
	char out[16];

	CHECK(text_clean(out, sizeof(out), "hello", 5) == 5);
	CHECK_STR(out, "hello");
	text_clean(out, sizeof(out), "a\tb\r\nc\x7f", 7);
	CHECK_STR(out, "a?b??c?");
	text_clean(out, sizeof(out), "\xff\xc3(\xe2\x82\xac\xed\xa0\x80", 9);
	CHECK_STR(out, "?" "?(\xe2\x82\xac?" "?" "?");
	/* exactly fits: no ellipsis */
	text_clean(out, sizeof(out), "123456789012345", 15);
	CHECK_STR(out, "123456789012345");
	text_clean(out, sizeof(out), "1234567890123456", 16);
	CHECK_STR(out, "123456789012...");
	/* never splits a character */
	text_clean(out, sizeof(out), "12345678901\xe2\x82\xac" "abc", 17);
	CHECK_STR(out, "12345678901...");
	text_clean(out, 3, "abcdef", 6);
	CHECK_STR(out, "ab");
	CHECK(text_clean(out, 0, "abc", 3) == 0);
	text_clean(out, sizeof(out), "a\0b", 3);
	CHECK_STR(out, "a?b");
}

/* ---- status errors ---- */

static int status_msg(struct err *e, long status, const char *body, const char *what)
{
	struct wire_errors w = WIRE_ERRORS_INIT;
	int rc;

	if (body && wire_parse_errors(&w, body, strlen(body), NULL) < 0)
		body = NULL;
	rc = wire_status_error(e, status, body ? &w : NULL, what, "docker.io");
	wire_errors_release(&w);
	return rc;
}

TEST(status_errors)
{
	struct err e = ERR_INIT;

	CHECK_RC(status_msg(&e, 401, "{\"errors\":[{\"code\":\"UNAUTHORIZED\",\"message\":"
		 "\"authentication required\"}]}", "GET manifest docker.io/library/x:tag"),
		 ERR_AUTH);
	CHECK(e.code == ERR_AUTH && e.http_status == 401);
	CHECK_STR(e.msg, "GET manifest docker.io/library/x:tag: authentication required: run "
		  "'hoist auth login docker.io' (HTTP 401 UNAUTHORIZED: 'authentication required')");

	CHECK_RC(status_msg(&e, 403, "{\"errors\":[{\"code\":\"DENIED\",\"message\":"
		 "\"requested access to the resource is denied\"}]}", "PUT manifest x"), ERR_DENIED);
	CHECK(strncmp(e.msg, "PUT manifest x: access denied", 29) == 0);

	CHECK_RC(status_msg(&e, 404, "{\"errors\":[{\"code\":\"MANIFEST_UNKNOWN\",\"message\":"
		 "\"manifest unknown\",\"detail\":{\"Tag\":\"nope\"}}]}", "GET manifest x:nope"),
		 ERR_NOT_FOUND);
	CHECK_STR(e.msg, "GET manifest x:nope: manifest unknown: check the tag or digest "
		  "(HTTP 404 MANIFEST_UNKNOWN: 'manifest unknown')");

	CHECK_RC(status_msg(&e, 429, "{\"errors\":[{\"code\":\"TOOMANYREQUESTS\",\"message\":"
		 "\"You have reached your pull rate limit.\"}]}", NULL), ERR_REGISTRY);
	CHECK(strstr(e.msg, "rate limited by the registry: try again later or log in with "
		     "'hoist auth login docker.io' (HTTP 429 TOOMANYREQUESTS: 'You have") == e.msg);

	CHECK_RC(status_msg(&e, 404, "{\"errors\":[{\"code\":\"NAME_UNKNOWN\"}]}", NULL),
		 ERR_NOT_FOUND);
	CHECK_RC(status_msg(&e, 404, "{\"errors\":[{\"code\":\"BLOB_UNKNOWN\"}]}", NULL),
		 ERR_NOT_FOUND);
	CHECK_RC(status_msg(&e, 404, "{\"errors\":[{\"code\":\"NOT_FOUND\",\"message\":"
		 "\"repository library/x not found\"}]}", NULL), ERR_NOT_FOUND);
	CHECK_RC(status_msg(&e, 400, "{\"errors\":[{\"code\":\"TAG_INVALID\"}]}", NULL),
		 ERR_INVALID);
	CHECK_RC(status_msg(&e, 400, "{\"errors\":[{\"code\":\"MANIFEST_INVALID\"}]}", NULL),
		 ERR_INVALID);
	CHECK_RC(status_msg(&e, 400, "{\"errors\":[{\"code\":\"DIGEST_INVALID\"}]}", NULL),
		 ERR_DIGEST);
	CHECK_RC(status_msg(&e, 400, "{\"errors\":[{\"code\":\"SIZE_INVALID\"}]}", NULL),
		 ERR_DIGEST);
	CHECK_RC(status_msg(&e, 400, "{\"errors\":[{\"code\":\"NAME_INVALID\"}]}", NULL),
		 ERR_INVALID);
	CHECK_RC(status_msg(&e, 405, "{\"errors\":[{\"code\":\"UNSUPPORTED\"}]}", NULL),
		 ERR_UNSUPPORTED);
	CHECK_RC(status_msg(&e, 404, "{\"errors\":[{\"code\":\"BLOB_UPLOAD_UNKNOWN\"}]}", NULL),
		 ERR_REGISTRY);
	CHECK_RC(status_msg(&e, 400, "{\"errors\":[{\"code\":\"BLOB_UPLOAD_INVALID\"}]}", NULL),
		 ERR_REGISTRY);
	CHECK_RC(status_msg(&e, 400, "{\"errors\":[{\"code\":\"MANIFEST_BLOB_UNKNOWN\"}]}", NULL),
		 ERR_REGISTRY);
	CHECK_RC(status_msg(&e, 400, "{\"errors\":[{\"code\":\"PAGINATION_NUMBER_INVALID\"}]}",
			    NULL), ERR_INVALID);
	CHECK_RC(status_msg(&e, 416, "{\"errors\":[{\"code\":\"RANGE_INVALID\"}]}", NULL),
		 ERR_REGISTRY);
	CHECK_RC(status_msg(&e, 503, "{\"errors\":[{\"code\":\"UNAVAILABLE\"}]}", NULL),
		 ERR_REGISTRY);
	CHECK(strstr(e.msg, "try again later") != NULL);

	/* the first known code decides; the count of the others is shown */
	CHECK_RC(status_msg(&e, 400, "{\"errors\":[{\"code\":\"WEIRD\"},{\"code\":\"DENIED\"},"
		 "{\"code\":\"X\"}]}", NULL), ERR_DENIED);
	CHECK(strstr(e.msg, "(HTTP 400 DENIED and 2 more)") != NULL);
	/* unknown code: the status decides, the code is still shown */
	CHECK_RC(status_msg(&e, 404, "{\"errors\":[{\"code\":\"WEIRD\",\"message\":\"m\"}]}",
			    NULL), ERR_NOT_FOUND);
	CHECK_STR(e.msg, "not found (HTTP 404 WEIRD: 'm')");
}

TEST(status_bare)
{
	static const struct {
		long status;
		int code;
		const char *part;
	} cases[] = {
		{ 400, ERR_INVALID, "bad request" },
		{ 401, ERR_AUTH, "authentication required: run 'hoist auth login docker.io'" },
		{ 403, ERR_DENIED, "access denied" },
		{ 404, ERR_NOT_FOUND, "not found (HTTP 404)" },
		{ 405, ERR_UNSUPPORTED, "the registry does not support this operation" },
		{ 408, ERR_NETWORK, "try again" },
		{ 409, ERR_REGISTRY, "request refused (HTTP 409)" },
		{ 413, ERR_TOO_BIG, "too large" },
		{ 429, ERR_REGISTRY, "try again later or log in" },
		{ 500, ERR_REGISTRY, "internal server error" },
		{ 501, ERR_UNSUPPORTED, "does not support" },
		{ 502, ERR_REGISTRY, "bad gateway" },
		{ 503, ERR_REGISTRY, "unavailable" },
		{ 504, ERR_REGISTRY, "gateway timeout" },
		{ 599, ERR_REGISTRY, "server error: try again later (HTTP 599)" },
		{ 302, ERR_REGISTRY, "unexpected response (HTTP 302)" },
	};
	struct err e = ERR_INIT;
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		CHECK_RC(status_msg(&e, cases[i].status, NULL, "GET x"), cases[i].code);
		if (!strstr(e.msg, cases[i].part) || strncmp(e.msg, "GET x: ", 7)) {
			fprintf(stderr, "%ld: '%s'\n", cases[i].status, e.msg);
			test_cur_failed = 1;
		}
		CHECK(e.http_status == cases[i].status);
	}
	/* invalid body: treated as none */
	CHECK_RC(status_msg(&e, 502, "<html>bad gateway</html>", "GET x"), ERR_REGISTRY);
	CHECK_STR(e.msg, "GET x: bad gateway: try again later (HTTP 502)");
	/* no registry name, NULL err */
	CHECK_RC(wire_status_error(&e, 401, NULL, NULL, NULL), ERR_AUTH);
	CHECK(strstr(e.msg, "'hoist auth login REGISTRY'") != NULL);
	CHECK_RC(wire_status_error(NULL, 404, NULL, "x", "r"), ERR_NOT_FOUND);
}

TEST(status_hostile_text)
{
	struct wire_errors w = WIRE_ERRORS_INIT;
	struct err e = ERR_INIT;
	char long_msg[2000];
	size_t i;

	w.v[0].code = strdup("DENIED\n");
	memset(long_msg, 'x', sizeof(long_msg) - 1);
	long_msg[sizeof(long_msg) - 1] = '\0';
	long_msg[3] = '\x1b';
	w.v[0].message = strdup(long_msg);	/* not cleaned: built by hand */
	w.n = w.total = 1;
	CHECK_RC(wire_status_error(&e, 403, &w, "GET\tx", "reg\r\n"), ERR_DENIED);
	CHECK(no_controls(e.msg));
	CHECK(strlen(e.msg) < 200 + 200);
	CHECK(strstr(e.msg, "xxx?xxx") != NULL);
	CHECK(strstr(e.msg, "...')") != NULL);
	for (i = 0; e.msg[i]; i++)
		CHECK(e.msg[i] != '\n');
	wire_errors_release(&w);
}

/* ---- Retry-After ---- */

TEST(retry_after)
{
	/* Sun, 06 Nov 1994 08:49:37 GMT */
	time_t t0 = (time_t)784111777;
	long s = -1;

	CHECK_RC(wire_parse_retry_after(&s, "120", t0), 0);
	CHECK(s == 120);
	CHECK_RC(wire_parse_retry_after(&s, " 0 ", t0), 0);
	CHECK(s == 0);
	CHECK_RC(wire_parse_retry_after(&s, "3600", t0), 0);
	CHECK(s == 3600);
	CHECK_RC(wire_parse_retry_after(&s, "3601", t0), 0);
	CHECK(s == WIRE_RETRY_AFTER_MAX);
	CHECK_RC(wire_parse_retry_after(&s, "99999999999999999999999999999999", t0), 0);
	CHECK(s == WIRE_RETRY_AFTER_MAX);

	CHECK_RC(wire_parse_retry_after(&s, "Sun, 06 Nov 1994 08:49:37 GMT", t0 - 30), 0);
	CHECK(s == 30);
	CHECK_RC(wire_parse_retry_after(&s, "Sunday, 06-Nov-94 08:49:37 GMT", t0 - 30), 0);
	CHECK(s == 30);
	CHECK_RC(wire_parse_retry_after(&s, "Sun Nov  6 08:49:37 1994", t0 - 30), 0);
	CHECK(s == 30);
	CHECK_RC(wire_parse_retry_after(&s, "Sun, 06 Nov 1994 08:49:37 GMT", t0 + 100), 0);
	CHECK(s == 0);
	CHECK_RC(wire_parse_retry_after(&s, "Sun, 06 Nov 1994 08:49:37 GMT", 0), 0);
	CHECK(s == WIRE_RETRY_AFTER_MAX);
	/* leap day, 2000s, end of year */
	CHECK_RC(wire_parse_retry_after(&s, "Thu, 29 Feb 2024 00:00:10 GMT", (time_t)1709164800),
		 0);
	CHECK(s == 10);
	CHECK_RC(wire_parse_retry_after(&s, "Thursday, 31-Dec-innocent", 0), ERR_INVALID);
	CHECK_RC(wire_parse_retry_after(&s, "Fri, 31 Dec 2021 23:59:59 GMT", (time_t)1640995199),
		 0);
	CHECK(s == 0);
	CHECK_RC(wire_parse_retry_after(&s, "Fri, 31 Dec 2021 23:59:59 GMT", (time_t)1640995100),
		 0);
	CHECK(s == 99);
}

TEST(retry_after_bad)
{
	static const char *bad[] = {
		"", "  ", "-1", "+5", "1.5", "5s", "0x10", "12 34",
		"Sun, 06 Nov 1994 08:49:37 UTC", "Sun, 06 Nov 1994 08:49:37", "Sun, 6 Nov 1994 08:49:37 GMT",
		"Sun, 06 nov 1994 08:49:37 GMT", "Xyz, 06 Nov 1994 08:49:37 GMT",
		"Sun, 31 Feb 1994 08:49:37 GMT", "Sun, 29 Feb 2023 08:49:37 GMT",
		"Sun, 06 Nov 1994 24:00:00 GMT", "Sun, 06 Nov 1994 08:60:00 GMT",
		"Sun, 00 Nov 1994 08:49:37 GMT", "Sun, 06 Nov 1994 08:49:37 GMT x",
		"Sun,06 Nov 1994 08:49:37 GMT", "Sun, 06 Nov 0094 08:49:37 GMT",
		"Sund, 06-Nov-94 08:49:37 GMT", "Sunday, 06 Nov 1994 08:49:37 GMT",
		"Sun Nov 6 08:49:37 1994", "Sun Nov  6 08:49:37 1994 GMT", "Sun Nov 36 08:49:37 1994x",
		"Sun, 06 Nov 1994 08:49:3\x01 GMT", "Sun, 06 Nov 1994",
	};
	long s = 7;
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (wire_parse_retry_after(&s, bad[i], 0) != ERR_INVALID) {
			fprintf(stderr, "accepted: '%s'\n", bad[i]);
			test_cur_failed = 1;
		}
	}
}

/* ---- Content-Range ---- */

TEST(content_range)
{
	struct wire_range r;
	struct err e = ERR_INIT;

	CHECK_RC(wire_parse_content_range(&r, "bytes 0-1023/2048", &e), 0);
	CHECK(r.start == 0 && r.end == 1023 && r.total == 2048);
	CHECK_RC(wire_parse_content_range(&r, "0-1023", &e), 0);
	CHECK(r.start == 0 && r.end == 1023 && r.total == -1);
	CHECK_RC(wire_parse_content_range(&r, "0-0", &e), 0);
	CHECK(r.start == 0 && r.end == 0);
	CHECK_RC(wire_parse_content_range(&r, "bytes=100-199", &e), 0);
	CHECK(r.start == 100 && r.end == 199 && r.total == -1);
	CHECK_RC(wire_parse_content_range(&r, "Bytes 5-5/*", &e), 0);
	CHECK(r.start == 5 && r.end == 5 && r.total == -1);
	CHECK_RC(wire_parse_content_range(&r, " bytes  0-9/10 ", &e), 0);
	CHECK(r.total == 10);
	CHECK_RC(wire_parse_content_range(&r, "bytes 0-9223372036854775806/9223372036854775807",
					  &e), 0);
	CHECK(r.end == INT64_MAX - 1 && r.total == INT64_MAX);
}

TEST(content_range_bad)
{
	static const char *bad[] = {
		"", "bytes", "bytes ", "bytes */2048", "bytes 5-4/10", "bytes 0-10/10",
		"bytes 0-9/", "bytes 0-9/x", "bytes -5", "0-", "-0", "0--1", "a-b", "0-1 x",
		"bytes0-1", "items 0-1/2", "+0-1", "0 - 1", "0-1/2/3", "0-9223372036854775808",
		"99999999999999999999-100000000000000000000", "0-1\x01",
		"bytes 0-1023/-1",
	};
	struct wire_range r;
	struct err e = ERR_INIT;
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err_clear(&e);
		if (wire_parse_content_range(&r, bad[i], &e) != ERR_INVALID) {
			fprintf(stderr, "accepted: '%s'\n", bad[i]);
			test_cur_failed = 1;
		}
		CHECK(no_controls(e.msg));
	}
	CHECK_RC(wire_parse_content_range(&r, "0-99999999999999999999", &e), ERR_INVALID);
	CHECK(strstr(e.msg, "out of range") != NULL);
	CHECK_RC(wire_parse_content_range(&r, "0-1\x01", &e), ERR_INVALID);
	CHECK(strstr(e.msg, "'0-1?'") != NULL);
}

int main(void)
{
	RUN(challenge_docker_hub);
	RUN(challenge_registries);
	RUN(challenge_several);
	RUN(challenge_escapes_and_append);
	RUN(challenge_hostile);
	RUN(challenge_caps);
	RUN(challenge_len_and_nul);
	RUN(challenge_no_overread);
	RUN(fuzz_all);
	RUN(link_forms);
	RUN(link_not_found_and_bad);
	RUN(resolve_url);
	RUN(errors_parse);
	RUN(errors_bad_bodies);
	RUN(errors_cleaned_and_capped);
	RUN(text_clean_lines);
	RUN(status_errors);
	RUN(status_bare);
	RUN(status_hostile_text);
	RUN(retry_after);
	RUN(retry_after_bad);
	RUN(content_range);
	RUN(content_range_bad);
	return test_done();
}

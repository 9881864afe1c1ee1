#define TEST_MODULE "reg"
#include "tests/unit/test.h"

#include "core/base/err.h"
#include "registry/http.h"
#include "registry/reg.h"

/* Misuse of the API is ERR_USAGE with a message in the user's terms: no
 * function names, whoever ends up printing it. */
TEST(usage_errors_name_no_functions)
{
	struct reg_client_opts o = { 0 };
	struct reg *r = NULL;
	struct err e = ERR_INIT;

	CHECK_RC(reg_open(&r, &o, "127.0.0.1:1", &e), ERR_USAGE);
	CHECK_STR(e.msg, "cannot open a session with '127.0.0.1:1': no HTTP client was given");
	CHECK(r == NULL);
}

/* A session knows its name and options at once; the scheme only once it
 * has been decided. */
TEST(open_without_a_request)
{
	struct reg_client_opts o = { 0 };
	struct http_client_opts ho = { 0 };
	struct http_client *h = NULL;
	struct reg *r = NULL, *m = NULL;
	struct err e = ERR_INIT;

	CHECK_RC(http_client_new(&h, &ho, &e), 0);
	o.http = h;
	CHECK_RC(reg_open(&r, &o, "bad/name", &e), ERR_INVALID);
	CHECK_RC(reg_open(&r, &o, "127.0.0.1:1", &e), 0);
	CHECK_STR(reg_name(r), "127.0.0.1:1");
	CHECK(reg_base(r) == NULL);
	CHECK(reg_opts(r)->manifest_max > 0);
	CHECK_RC(reg_mirror_count(r), 0);
	CHECK_RC(reg_open(&m, &o, "mirror.example:5000", &e), 0);
	CHECK_RC(reg_mirror_add(r, m, "cache", &e), 0);
	CHECK_RC(reg_mirror_count(r), 1);
	CHECK(reg_mirror_at(r, 0) == m);
	reg_free(r);
	http_client_free(h);
}

/* The repository on a mirror: its prefix, then the repository. */
TEST(mirror_repo_and_fallback)
{
	struct reg_client_opts o = { 0 };
	struct http_client_opts ho = { 0 };
	struct http_client *h = NULL;
	struct reg *r = NULL, *m1 = NULL, *m2 = NULL;
	struct buf b = BUF_INIT;
	struct err e = ERR_INIT;

	CHECK_RC(http_client_new(&h, &ho, &e), 0);
	o.http = h;
	CHECK_RC(reg_open(&r, &o, "docker.io", &e), 0);
	CHECK_RC(reg_open(&m1, &o, "m1.example", &e), 0);
	CHECK_RC(reg_open(&m2, &o, "m2.example", &e), 0);
	CHECK_RC(reg_mirror_add(r, m1, "hub", &e), 0);
	CHECK_RC(reg_mirror_add(r, m2, NULL, &e), 0);
	CHECK_RC(reg_mirror_repo(&b, r, 0, "library/x"), 0);
	CHECK_STR(b.data, "hub/library/x");
	CHECK_RC(reg_mirror_repo(&b, r, 1, "library/x"), 0);
	CHECK_STR(b.data, "library/x");
	CHECK(reg_mirror_fallback(ERR_NOT_FOUND));
	CHECK(reg_mirror_fallback(ERR_NETWORK));
	CHECK(!reg_mirror_fallback(ERR_NOMEM));
	CHECK(!reg_mirror_fallback(ERR_USAGE));
	buf_release(&b);
	reg_free(r);
	http_client_free(h);
}

int main(void)
{
	RUN(usage_errors_name_no_functions);
	RUN(open_without_a_request);
	RUN(mirror_repo_and_fallback);
	return test_done();
}

#define TEST_MODULE "reg_req"
#include "tests/unit/test.h"

#include "core/base/buf.h"
#include "core/base/err.h"
#include "registry/reg_req.h"

#include <stdint.h>

TEST(check_repo)
{
	struct err e = ERR_INIT;

	CHECK_RC(reg_req_check_repo("library/hello", &e), 0);
	CHECK_RC(reg_req_check_repo("a.b_c-d/e", &e), 0);
	CHECK_RC(reg_req_check_repo("", &e), ERR_INVALID);
	CHECK_RC(reg_req_check_repo(NULL, &e), ERR_INVALID);
	CHECK_RC(reg_req_check_repo("/abs", &e), ERR_INVALID);
	CHECK_RC(reg_req_check_repo("a//b", &e), ERR_INVALID);
	CHECK_RC(reg_req_check_repo("a/", &e), ERR_INVALID);
	CHECK_RC(reg_req_check_repo("a/../b", &e), ERR_INVALID);
	CHECK_RC(reg_req_check_repo("Upper", &e), ERR_INVALID);
	CHECK_STR(e.msg, "invalid repository name 'Upper'");
	CHECK_RC(reg_req_check_repo("a?b", &e), ERR_INVALID);
}

TEST(check_ref)
{
	static const char dgst[] =
		"sha256:2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824";
	struct err e = ERR_INIT;

	CHECK_RC(reg_req_check_ref("latest", &e), 0);
	CHECK_RC(reg_req_check_ref("v1.2_RC-3", &e), 0);
	CHECK_RC(reg_req_check_ref(dgst, &e), 0);
	CHECK_RC(reg_req_check_ref("sha256:abc", &e), ERR_INVALID);
	CHECK_STR(e.msg, "invalid digest");
	CHECK_RC(reg_req_check_ref("", &e), ERR_INVALID);
	CHECK_STR(e.msg, "missing tag or digest");
	CHECK_RC(reg_req_check_ref("-x", &e), ERR_INVALID);
	CHECK_RC(reg_req_check_ref(".x", &e), ERR_INVALID);
	CHECK_RC(reg_req_check_ref("a/b", &e), ERR_INVALID);
	CHECK_STR(e.msg, "invalid tag");
}

TEST(scope_and_escape)
{
	struct buf b = BUF_INIT;

	CHECK_RC(reg_req_scope(&b, "library/x", "pull,push"), 0);
	CHECK_STR(b.data, "repository:library/x:pull,push");
	buf_reset(&b);
	reg_req_url_escape(&b, "sha256:ab/c d~e_f.g-h");
	CHECK_STR(b.data, "sha256%3Aab%2Fc%20d~e_f.g-h");
	buf_release(&b);
}

TEST(same_origin)
{
	CHECK(reg_req_same_origin("https://r.example/v2/x", "https://r.example:443"));
	CHECK(reg_req_same_origin("http://127.0.0.1:5000/a", "http://127.0.0.1:5000"));
	CHECK(!reg_req_same_origin("http://r.example/v2/", "https://r.example"));
	CHECK(!reg_req_same_origin("https://r.example:5000/", "https://r.example"));
	CHECK(!reg_req_same_origin("https://evil.example/", "https://r.example"));
}

TEST(parse_size)
{
	int64_t n = -7;

	CHECK_RC(reg_req_parse_size(&n, "1234"), 0);
	CHECK_RC(n, 1234);
	CHECK_RC(reg_req_parse_size(&n, "0 \t"), 0);
	CHECK_RC(n, 0);
	n = -7;
	CHECK_RC(reg_req_parse_size(&n, NULL), -1);
	CHECK_RC(reg_req_parse_size(&n, ""), -1);
	CHECK_RC(reg_req_parse_size(&n, "-1"), -1);
	CHECK_RC(reg_req_parse_size(&n, " 1"), -1);
	CHECK_RC(reg_req_parse_size(&n, "12x"), -1);
	CHECK_RC(reg_req_parse_size(&n, "99999999999999999999"), -1);
	CHECK_RC(n, -7);
}

TEST(nomem)
{
	struct err e = ERR_INIT;

	CHECK_RC(reg_req_nomem(&e), ERR_NOMEM);
	CHECK_STR(e.msg, "out of memory");
	CHECK_RC(reg_req_nomem(NULL), ERR_NOMEM);
}

int main(void)
{
	RUN(check_repo);
	RUN(check_ref);
	RUN(scope_and_escape);
	RUN(same_origin);
	RUN(parse_size);
	RUN(nomem);
	return test_done();
}

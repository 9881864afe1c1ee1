#define TEST_MODULE "buf"
#include "core/base/strvec.h"
#include "tests/unit/test.h"

#include "core/base/buf.h"
#include "core/base/err.h"

#include <stdlib.h>

TEST(empty_is_string)
{
	struct buf b = BUF_INIT;

	CHECK(b.data != NULL);
	CHECK_STR(b.data, "");
	buf_release(&b);
	CHECK_STR(b.data, "");
}

TEST(append_and_detach)
{
	struct buf b = BUF_INIT;
	size_t len;
	char *s;
	int i;

	CHECK_RC(buf_addstr(&b, "hello"), 0);
	CHECK_RC(buf_addch(&b, ' '), 0);
	CHECK_RC(buf_addf(&b, "%d-%s", 42, "x"), 0);
	CHECK_STR(b.data, "hello 42-x");
	for (i = 0; i < 1000; i++)
		buf_addstr(&b, "0123456789");
	CHECK(b.len == 10 + 10000);
	buf_setlen(&b, 5);
	CHECK_STR(b.data, "hello");
	s = buf_detach(&b, &len);
	CHECK_STR(s, "hello");
	CHECK(len == 5);
	CHECK_STR(b.data, "");
	free(s);
	s = buf_detach(&b, &len);
	CHECK(s && len == 0 && !*s);
	free(s);
}

TEST(cap_is_enforced)
{
	struct buf b;

	buf_init(&b, 8);
	CHECK_RC(buf_addstr(&b, "12345678"), 0);
	CHECK_RC(buf_addch(&b, '9'), ERR_TOO_BIG);
	CHECK_STR(b.data, "12345678");
	CHECK_RC(buf_failed(&b), ERR_TOO_BIG);
	buf_release(&b);
	CHECK_RC(buf_failed(&b), 0);
	CHECK(b.max == 8);
}

TEST(strvec_basic)
{
	struct strvec sv = STRVEC_INIT;
	int i;

	CHECK(sv.v[0] == NULL);
	for (i = 0; i < 20; i++)
		CHECK_RC(strvec_pushf(&sv, "s%d", i), 0);
	CHECK(sv.n == 20);
	CHECK_STR(sv.v[19], "s19");
	CHECK(sv.v[20] == NULL);
	CHECK_RC(strvec_find(&sv, "s7"), 7);
	CHECK_RC(strvec_find(&sv, "nope"), -1);
	strvec_clear(&sv);
	CHECK(sv.n == 0 && sv.v[0] == NULL);
}

int main(void)
{
	RUN(empty_is_string);
	RUN(append_and_detach);
	RUN(cap_is_enforced);
	RUN(strvec_basic);
	return test_done();
}

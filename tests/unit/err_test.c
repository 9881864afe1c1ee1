#define TEST_MODULE "err"
#include "tests/unit/test.h"

#include "core/base/err.h"

#include <errno.h>

TEST(set_returns_code)
{
	struct err e = ERR_INIT;

	CHECK_RC(err_set(&e, ERR_INVALID, "bad '%s'", "x"), ERR_INVALID);
	CHECK_RC(e.code, ERR_INVALID);
	CHECK_STR(e.msg, "bad 'x'");
	CHECK_RC(err_set(NULL, ERR_IO, "ignored"), ERR_IO);
}

TEST(errno_and_prefix)
{
	struct err e = ERR_INIT;

	err_set_errno(&e, ERR_IO, ENOENT, "cannot open '%s'", "f");
	CHECK_STR(e.msg, "cannot open 'f': No such file or directory");
	CHECK_RC(e.sys_errno, ENOENT);
	CHECK_RC(err_prefix(&e, "pulling '%s'", "img"), ERR_IO);
	CHECK_STR(e.msg, "pulling 'img': cannot open 'f': No such file or directory");
	err_clear(&e);
	CHECK_RC(e.code, 0);
	CHECK_STR(e.msg, "");
}

/* An errno the user can act on ends the message with what to do. */
TEST(errno_action)
{
	struct err e = ERR_INIT;

	err_set_errno(&e, ERR_IO, ENOSPC, "cannot write '%s'", "f");
	CHECK_STR(e.msg, "cannot write 'f': No space left on device; free space on that disk, "
		  "or run 'hoist cache gc' to remove the blobs no cached image needs");
	err_set_errno(&e, ERR_IO, EACCES, "cannot open '%s'", "f");
	CHECK(strstr(e.msg, "Permission denied; check the permissions") != NULL);
	err_set_errno(&e, ERR_IO, EIO, "cannot read '%s'", "f");
	CHECK(strstr(e.msg, "Input/output error; ") != NULL);
	CHECK(err_errno_action(EROFS) && err_errno_action(EMFILE) && err_errno_action(EDQUOT));
	CHECK(err_errno_action(ENOENT) == NULL);
	err_set_errno(&e, ERR_IO, ENOENT, "cannot open '%s'", "f");
	CHECK_STR(e.msg, "cannot open 'f': No such file or directory");
}

TEST(long_message_truncates)
{
	struct err e = ERR_INIT;
	char big[4000];

	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	err_set(&e, ERR_FAIL, "%s", big);
	CHECK(strlen(e.msg) == ERR_MSG_MAX - 1);
	err_prefix(&e, "ctx");
	CHECK(strlen(e.msg) == ERR_MSG_MAX - 1);
	CHECK(!strncmp(e.msg, "ctx: ", 5));
}

int main(void)
{
	RUN(set_returns_code);
	RUN(errno_and_prefix);
	RUN(errno_action);
	RUN(long_message_truncates);
	return test_done();
}

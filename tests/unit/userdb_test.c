#define TEST_MODULE "userdb"
#include "tests/unit/test.h"

#include "core/base/err.h"
#include "core/format/userdb.h"

static const char PW[] = "root:x:0:0:root:/root:/bin/sh\n"
			 "# not a comment in passwd, just a bad line\n"
			 "app:x:1001:1002::/home/app:/bin/sh\n"
			 "bad:x:notanumber:1::/:/bin/sh\n"
			 "last:x:7:7::/:/bin/sh";	/* no final newline */
static const char GR[] = "root:x:0:\nstaff:x:50:app\napp:x:1002:\n";

static int resolve(int64_t *u, int64_t *g, const char *spec, struct err *e)
{
	return userdb_resolve(u, g, spec, PW, sizeof(PW) - 1, GR, sizeof(GR) - 1, e);
}

TEST(numbers_and_names)
{
	int64_t u = -1, g = -1;
	struct err e = ERR_INIT;

	CHECK(userdb_numeric("10"));
	CHECK(userdb_numeric("10:20"));
	CHECK(!userdb_numeric("app"));
	CHECK(!userdb_numeric("10:staff"));
	CHECK(!userdb_numeric("10:"));
	CHECK_RC(userdb_resolve(&u, &g, "10:20", NULL, 0, NULL, 0, &e), 0);
	CHECK(u == 10 && g == 20);
	CHECK_RC(userdb_resolve(&u, &g, "10", NULL, 0, NULL, 0, &e), 0);
	CHECK(u == 10 && g == 10);
	CHECK_RC(resolve(&u, &g, "app:staff", &e), 0);
	CHECK(u == 1001 && g == 50);
	/* docker: a user alone gets its user ID as the group ID */
	CHECK_RC(resolve(&u, &g, "app", &e), 0);
	CHECK(u == 1001 && g == 1001);
	CHECK_RC(resolve(&u, &g, "5:app", &e), 0);
	CHECK(u == 5 && g == 1002);
	CHECK_RC(resolve(&u, &g, "last", &e), 0);
	CHECK(u == 7);
}

TEST(refusals)
{
	int64_t u, g;
	struct err e = ERR_INIT;

	CHECK_RC(resolve(&u, &g, "ghost", &e), ERR_NOT_FOUND);
	CHECK(strstr(e.msg, "no user 'ghost'") != NULL);
	CHECK_RC(resolve(&u, &g, "app:wheel", &e), ERR_NOT_FOUND);
	CHECK(strstr(e.msg, "no group 'wheel'") != NULL);
	CHECK_RC(resolve(&u, &g, "bad", &e), ERR_INVALID);
	/* a prefix of a name is not the name */
	CHECK_RC(resolve(&u, &g, "ap", &e), ERR_NOT_FOUND);
	CHECK_RC(resolve(&u, &g, "a b", &e), ERR_INVALID);
	CHECK_RC(resolve(&u, &g, "-x", &e), ERR_INVALID);
	CHECK_RC(resolve(&u, &g, "app:", &e), ERR_INVALID);
	CHECK_RC(resolve(&u, &g, ":staff", &e), ERR_INVALID);
	CHECK_RC(resolve(&u, &g, "99999999999", &e), ERR_INVALID);
	CHECK_RC(userdb_resolve(&u, &g, "app", NULL, 0, NULL, 0, &e), ERR_NOT_FOUND);
	CHECK(strstr(e.msg, "no /etc/passwd") != NULL);
}

int main(void)
{
	RUN(numbers_and_names);
	RUN(refusals);
	return test_done();
}

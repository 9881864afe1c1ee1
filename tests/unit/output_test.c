#define TEST_MODULE "output"
#include "tests/unit/test.h"

#include "core/base/err.h"
#include "core/ops/output.h"

TEST(parse_destinations)
{
	enum output_kind how = OUTPUT_PUSH;
	const char *path = "x";
	struct err e = ERR_INIT;

	CHECK_RC(output_parse(&how, &path, "cache", 0, &e), 0);
	CHECK(how == OUTPUT_CACHE && path == NULL);
	CHECK_RC(output_parse(&how, &path, "oci:/tmp/l", 0, &e), 0);
	CHECK(how == OUTPUT_LAYOUT);
	CHECK_STR(path, "/tmp/l");
	CHECK_RC(output_parse(&how, &path, "oci-archive:a.tar", 0, &e), 0);
	CHECK(how == OUTPUT_OCI_ARCHIVE);
	CHECK_STR(path, "a.tar");
	CHECK_RC(output_parse(&how, &path, "tarball:a.tar", 0, &e), 0);
	CHECK(how == OUTPUT_TARBALL);
	CHECK_STR(path, "a.tar");
	/* a bare file only where crane's -o takes one, and never with ':' */
	CHECK_RC(output_parse(&how, &path, "a.tar", 0, &e), ERR_USAGE);
	CHECK(strstr(e.msg, "oci:<dir>, oci-archive:<file>, cache or tarball:<file>") != NULL);
	CHECK_RC(output_parse(&how, &path, "a.tar", 1, &e), 0);
	CHECK(how == OUTPUT_TARBALL);
	CHECK_STR(path, "a.tar");
	CHECK_RC(output_parse(&how, &path, "oic:dir", 1, &e), ERR_USAGE);
	CHECK(strstr(e.msg, "<file>, oci:<dir>") != NULL);
	CHECK_RC(output_parse(&how, &path, "oci:", 1, &e), ERR_USAGE);
	CHECK_RC(output_parse(&how, &path, "tarball:", 1, &e), ERR_USAGE);
	CHECK_RC(output_parse(&how, &path, "oci-archive:", 1, &e), ERR_USAGE);
	CHECK_RC(output_parse(&how, &path, "", 1, &e), ERR_USAGE);
}

int main(void)
{
	RUN(parse_destinations);
	return test_done();
}

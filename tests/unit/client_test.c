#define TEST_MODULE "client"
#include "tests/unit/test.h"

#include "core/base/digest.h"
#include "core/base/err.h"
#include "core/model/manifest.h"
#include "registry/client.h"
#include "registry/http.h"

/* Misuse of the API is ERR_USAGE with a message in the user's terms: no
 * function names, whoever ends up printing it. */
TEST(usage_errors_name_no_functions)
{
	struct reg_client_opts o = { 0 };
	struct http_client_opts ho = { 0 };
	struct http_client *h = NULL;
	struct reg *r = NULL;
	struct descriptor d;
	struct err e = ERR_INIT;

	CHECK_RC(reg_open(&r, &o, "127.0.0.1:1", &e), ERR_USAGE);
	CHECK_STR(e.msg, "cannot open a session with '127.0.0.1:1': no HTTP client was given");
	CHECK_RC(http_client_new(&h, &ho, &e), 0);
	o.http = h;
	CHECK_RC(reg_open(&r, &o, "127.0.0.1:1", &e), 0);
	descriptor_init(&d);
	CHECK_RC(digest_buffer(&d.digest, DIGEST_SHA256, "hello", 5, &e), 0);
	d.size = 5;
	CHECK_RC(reg_blob_upload(r, "x/y", &d, -1, NULL, NULL, &e), ERR_USAGE);
	CHECK(strstr(e.msg, "cannot upload blob sha256:") == e.msg);
	CHECK(strstr(e.msg, "reg_") == NULL);
	CHECK_RC(reg_blob_upload_stream(r, "x/y", &d, NULL, NULL, &e), ERR_USAGE);
	CHECK(strstr(e.msg, "cannot upload blob sha256:") == e.msg);
	CHECK(strstr(e.msg, "reg_") == NULL);
	descriptor_release(&d);
	reg_free(r);
	http_client_free(h);
}

int main(void)
{
	RUN(usage_errors_name_no_functions);
	return test_done();
}

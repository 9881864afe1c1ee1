#define TEST_MODULE "reg_blob"
#include "tests/unit/test.h"

#include "core/base/digest.h"
#include "core/base/err.h"
#include "core/model/manifest.h"
#include "registry/http.h"
#include "registry/reg.h"
#include "registry/reg_blob.h"

/* An upload without content is ERR_USAGE, said in the user's terms (no
 * function names), before any request is made. */
TEST(upload_without_content)
{
	struct reg_client_opts o = { 0 };
	struct http_client_opts ho = { 0 };
	struct http_client *h = NULL;
	struct reg *r = NULL;
	struct descriptor d;
	struct err e = ERR_INIT;

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
	CHECK_RC(reg_blob_upload(r, "x//y", &d, -1, "abc", NULL, &e), ERR_INVALID);
	CHECK(reg_base(r) == NULL);	/* nothing was sent */
	descriptor_release(&d);
	reg_free(r);
	http_client_free(h);
}

/* A batch of no blobs succeeds without a request. */
TEST(get_many_of_none)
{
	struct reg_client_opts o = { 0 };
	struct http_client_opts ho = { 0 };
	struct http_client *h = NULL;
	struct reg *r = NULL;
	struct err e = ERR_INIT;

	CHECK_RC(http_client_new(&h, &ho, &e), 0);
	o.http = h;
	CHECK_RC(reg_open(&r, &o, "127.0.0.1:1", &e), 0);
	CHECK_RC(reg_blob_get_many(r, "x/y", NULL, 0, 4, 0, &e), 0);
	CHECK(reg_base(r) == NULL);
	reg_free(r);
	http_client_free(h);
}

int main(void)
{
	RUN(upload_without_content);
	RUN(get_many_of_none);
	return test_done();
}

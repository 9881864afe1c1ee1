#define TEST_MODULE "http"
#include "tests/unit/test.h"

#include "core/buf.h"
#include "core/err.h"
#include "registry/http.h"

static void redact(struct buf *b, const char *line)
{
	buf_reset(b);
	http_redact_line(b, line);
}

TEST(redacts_credentials)
{
	struct buf b = BUF_INIT;

	redact(&b, "Authorization: Bearer eyJhbGciOi.secret.token");
	CHECK_STR(b.data, "Authorization: <redacted>");
	redact(&b, "authorization: Basic dXNlcjpwYXNz");
	CHECK_STR(b.data, "authorization: <redacted>");
	redact(&b, "Proxy-Authorization: Basic abc");
	CHECK_STR(b.data, "Proxy-Authorization: <redacted>");
	redact(&b, "set-cookie: session=abc; Path=/");
	CHECK_STR(b.data, "set-cookie: <redacted>");
	redact(&b, "Content-Type: application/json");
	CHECK_STR(b.data, "Content-Type: application/json");
	buf_release(&b);
}

TEST(redacts_signed_urls)
{
	struct buf b = BUF_INIT;

	redact(&b, "GET /blobs/x?X-Amz-Signature=abcd&X-Amz-Date=2024&n=2 HTTP/1.1");
	CHECK_STR(b.data, "GET /blobs/x?X-Amz-Signature=<redacted>&X-Amz-Date=2024&n=2 HTTP/1.1");
	redact(&b, "location: https://cdn.example/b?sig=zzz&se=1");
	CHECK_STR(b.data, "location: https://cdn.example/b?sig=<redacted>&se=1");
	redact(&b, "GET /token?service=reg&scope=repository:a:pull&refresh_token=abc HTTP/1.1");
	CHECK(strstr(b.data, "abc") == NULL);
	CHECK(strstr(b.data, "scope=repository:a:pull") != NULL);
	redact(&b, "x-weird: a\x01\x1b[31mb");
	CHECK(strchr(b.data, '\x1b') == NULL && strchr(b.data, '\x01') == NULL);
	buf_release(&b);
}

TEST(origins)
{
	struct buf b = BUF_INIT;
	struct err e = ERR_INIT;

	CHECK_RC(http_url_origin(&b, "https://Registry.example/v2/", &e), 0);
	CHECK_STR(b.data, "https://registry.example:443");
	buf_reset(&b);
	CHECK_RC(http_url_origin(&b, "http://127.0.0.1:5000/v2/x", &e), 0);
	CHECK_STR(b.data, "http://127.0.0.1:5000");
	buf_reset(&b);
	CHECK_RC(http_url_origin(&b, "http://[::1]:5000/v2/x", &e), 0);
	CHECK_STR(b.data, "http://[::1]:5000");
	buf_reset(&b);
	CHECK_RC(http_url_origin(&b, "file:///etc/passwd", &e), ERR_INVALID);
	CHECK_RC(http_url_origin(&b, "not a url", &e), ERR_INVALID);
	buf_release(&b);
}

int main(void)
{
	RUN(redacts_credentials);
	RUN(redacts_signed_urls);
	RUN(origins);
	return test_done();
}

#define TEST_MODULE "http"
#include "tests/unit/test.h"

#include "core/base/buf.h"
#include "core/base/err.h"
#include "registry/http.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

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

/* One connection on a loopback socket, answered with `reply` after the
 * first bytes arrive (or closed at once when reply is NULL). */
struct probe_server {
	int fd;
	const char *reply;
	size_t reply_len;
	size_t got;
};

static void *probe_serve(void *arg)
{
	struct probe_server *s = arg;
	char buf[512];
	int c = accept(s->fd, NULL, NULL);
	ssize_t n;

	if (c < 0)
		return NULL;
	if (s->reply) {
		n = read(c, buf, sizeof(buf));
		s->got = n > 0 ? (size_t)n : 0;
		if (write(c, s->reply, s->reply_len) < 0)
			s->got = 0;
	}
	close(c);
	return NULL;
}

static int probe_with(const char *reply, size_t len, size_t *got)
{
	struct http_client_opts o = { .connect_timeout_ms = 2000 };
	struct http_client *c = NULL;
	struct probe_server s = { .reply = reply, .reply_len = len };
	struct sockaddr_in sa = { .sin_family = AF_INET };
	socklen_t sl = sizeof(sa);
	struct err e = ERR_INIT;
	char hp[64];
	pthread_t t;
	int rc = -100;

	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	s.fd = socket(AF_INET, SOCK_STREAM, 0);
	if (s.fd < 0 || bind(s.fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    listen(s.fd, 1) < 0 || getsockname(s.fd, (struct sockaddr *)&sa, &sl) < 0 ||
	    http_client_new(&c, &o, &e) < 0)
		goto out;
	snprintf(hp, sizeof(hp), "127.0.0.1:%u", (unsigned)ntohs(sa.sin_port));
	if (pthread_create(&t, NULL, probe_serve, &s))
		goto out;
	rc = http_tls_probe(c, hp, &e);
	pthread_join(t, NULL);
	*got = s.got;
out:
	http_client_free(c);
	if (s.fd >= 0)
		close(s.fd);
	return rc;
}

TEST(tls_probe)
{
	static const char alert[] = { 0x15, 0x03, 0x03, 0x00, 0x02, 0x02, 0x28 };
	static const char http400[] = "HTTP/1.1 400 Bad Request\r\n\r\n";
	struct http_client_opts o = { .connect_timeout_ms = 2000 };
	struct http_client *c = NULL;
	struct err e = ERR_INIT;
	size_t got = 0;

	CHECK_RC(probe_with(alert, sizeof(alert), &got), 1);
	CHECK(got > 5);
	CHECK_RC(probe_with(http400, sizeof(http400) - 1, &got), 0);
	CHECK_RC(probe_with(NULL, 0, &got), ERR_NETWORK);
	CHECK_RC(http_client_new(&c, &o, &e), 0);
	CHECK_RC(http_tls_probe(c, "[::1", &e), ERR_INVALID);
	CHECK_RC(http_tls_probe(c, "", &e), ERR_INVALID);
	http_client_free(c);
}

int main(void)
{
	RUN(redacts_credentials);
	RUN(redacts_signed_urls);
	RUN(origins);
	RUN(tls_probe);
	return test_done();
}

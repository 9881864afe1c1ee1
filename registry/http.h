/* http.h - the HTTP transport (libcurl behind one module).
 *
 * One `struct http_client` per process holds one curl multi handle, and so
 * one connection pool: keep-alive, TLS session reuse and HTTP/2 multiplexing
 * across every request hoist makes.  Requests run one at a time with
 * http_do(), or many at once with http_do_many() (layer downloads); both drive
 * the same multi handle, and enforce the safety rules given at http_do().
 */
#ifndef HOIST_HTTP_H
#define HOIST_HTTP_H

#include "core/base/buf.h"
#include "core/base/strvec.h"

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct err;
struct http_client;

/* TLS settings of one host (the config file's per-registry "ca" and
 * "insecure"). */
struct http_host_tls {
	const char *host;		/* "host[:port]" as in the URL */
	const char *ca;			/* CA bundle verifying it instead of the
					 * system's and certs.d's, or NULL */
	int insecure;			/* no verification for this host */
};

struct http_client_opts {
	const char *user_agent;		/* "hoist/1.2.3" */
	int insecure;			/* skip TLS verification everywhere */
	/* Folders searched for HOST[:PORT]/ca.crt, client.cert, client.key
	 * (docker's /etc/docker/certs.d, podman's /etc/containers/certs.d);
	 * NULL-terminated, may be NULL. */
	const char *const *certs_dirs;
	/* Per-host TLS settings, before certs_dirs; borrowed: they must
	 * outlive the client and its dups. */
	const struct http_host_tls *hosts;
	size_t n_hosts;
	long connect_timeout_ms;	/* 0: 30 s */
	long low_speed_time_s;		/* abort when < 1 KiB/s for this long; 0: 60 s */
	int max_attempts;		/* 0: 3 */
	long retry_base_ms;		/* first back-off; 0: 1000 ms */
	long retry_max_wait_s;		/* longest Retry-After honoured; 0: 60 s */
	/* Called with one line of trace (request/response lines and headers,
	 * redacted) when trace_level > 0; may be NULL. */
	void (*trace)(void *arg, const char *line);
	void *trace_arg;
	int trace_level;
};

/* Receives body bytes as they arrive; return 0 to go on, or a negative
 * error code (with `e` filled) to abort the transfer. */
typedef int (*http_sink_fn)(void *arg, const char *data, size_t len, struct err *e);

struct http_request {
	const char *method;		/* "GET", "HEAD", "PUT", ... */
	const char *url;
	struct strvec headers;		/* "Name: value" lines */
	/* Header names (lower case, no colon) that carry credentials and are
	 * dropped on a cross-origin redirect, besides "authorization". */
	struct strvec secret_headers;
	/* Request body: from memory, or from a file descriptor read from
	 * `body_offset` (pread, so it can be replayed on retry), or none. */
	const void *body;
	int body_fd;			/* -1 when unused */
	off_t body_offset;
	int64_t body_len;		/* -1 = no body */
	/* Or from a stream: called for the next bytes of the body; returns how
	 * many it wrote to `dst` (1..len), or < 0 to abort the request.  A
	 * streamed body cannot be replayed, so the request is never retried and
	 * redirects that need the body again fail. */
	ssize_t (*body_read)(void *arg, char *dst, size_t len);
	void *body_read_arg;
	/* Response body: into `out->body` (capped at max_body; 0 = 1 MiB),
	 * or to `sink` when set. */
	http_sink_fn sink;
	void *sink_arg;
	size_t max_body;
	int no_redirect;		/* hand 3xx back to the caller */
	int no_retry;			/* one attempt only */
	/* TLS without verification and without loading CA certificates: for
	 * probing whether a loopback server speaks TLS at all (loading the
	 * system's CAs costs more than the rest of a small request).  The
	 * answer must not be trusted; ask again verified. */
	int tls_probe;
};

struct http_response {
	long status;
	struct strvec headers;		/* "name: value", names lower-cased */
	struct buf body;
	char *url;			/* the URL that answered, after redirects */
	int attempts;
};

void http_request_init(struct http_request *r, const char *method, const char *url);
void http_request_release(struct http_request *r);
int http_request_header(struct http_request *r, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

void http_response_init(struct http_response *r);
void http_response_release(struct http_response *r);
/* First header value with this (case-insensitive) name, or NULL. */
const char *http_response_header(const struct http_response *r, const char *name);

int http_client_new(struct http_client **out, const struct http_client_opts *o, struct err *e);
/* A new client with the options of `c` (same certificates, user agent,
 * retries, trace) and a connection pool of its own: a client is used by one
 * thread at a time, so each thread that transfers in parallel takes one. */
int http_client_dup(struct http_client **out, const struct http_client *c, struct err *e);
void http_client_free(struct http_client *c);

/* Safety rules of every request, whatever the caller asks:
 * - redirects are followed here, not by curl, and a redirect to another
 *   origin (scheme, host or port) drops Authorization, Cookie and every
 *   header the caller marked as a credential;
 * - only http and https URLs are fetched, redirects included;
 * - TLS is verified unless the client was made with `insecure`;
 * - the trace callback never sees a credential: Authorization,
 *   Proxy-Authorization, Cookie and Set-Cookie values and signature-like
 *   query parameters are replaced by "<redacted>".
 *
 * Runs one request, following redirects and retrying (connection resets,
 * timeouts, 408, 429, 500, 502, 503, 504; Retry-After honoured) while the
 * body is replayable and nothing has reached a sink.  Returns 0 when an
 * HTTP response arrived, whatever its status: status handling is the
 * caller's.  ERR_NETWORK when no response could be had. */
int http_do(struct http_client *c, struct http_request *req, struct http_response *out,
	    struct err *e);

/* Whether `host_port` ("127.0.0.1:5000", "[::1]:5000", "localhost:5000";
 * no port: 443), a loopback registry, speaks TLS, learnt without TLS: a
 * fixed ClientHello is sent on a plain socket (within the connect timeout)
 * and the first bytes of the answer tell.  No library loads CAs or makes
 * keys for it, and nothing of the answer is used beyond that.  Returns 1
 * (TLS records came back), 0 (an answer that is not TLS, such as a plain
 * http server's "HTTP/1.1 400"), or ERR_NETWORK (no connection or no answer:
 * ask with a real handshake instead). */
int http_tls_probe(const struct http_client *c, const char *host_port, struct err *e);

/* Runs n requests at once, at most `parallel` in flight, over the same
 * connection pool.  errs[i] and rcs[i] hold each one's outcome.  Returns 0,
 * or the first failure's code (all requests still ran or were aborted). */
int http_do_many(struct http_client *c, struct http_request **reqs,
		 struct http_response **outs, int *rcs, struct err *errs, size_t n,
		 int parallel);

/* Splits "scheme://host[:port]/path" far enough to compare origins:
 * writes "scheme://host:port" (default port filled in) to out. */
int http_url_origin(struct buf *out, const char *url, struct err *e);

/* Appends `line` to out with credentials redacted (as the trace does). */
void http_redact_line(struct buf *out, const char *line);

#endif

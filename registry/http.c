/* http.c - the HTTP transport over one curl multi handle.  See http.h. */
#include "registry/http.h"

#include "core/base/err.h"
#include "core/base/strvec.h"
#include "registry/curl_dl.h"
#include "registry/wire.h"

#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define MAX_REDIRECTS 10
#define ERROR_BODY_MAX (64u << 10)
#define DEFAULT_BODY_MAX (1u << 20)

struct http_client {
	int inited;		/* curl_global_init() done for this client */
	CURLM *multi;
	CURLSH *share;
	struct http_client_opts o;
	char *user_agent;
	struct strvec certs_dirs;
	uint64_t rng;
};

/* One request in flight: its hops (redirects) and attempts (retries). */
struct job {
	struct http_client *c;
	struct http_request *req;
	struct http_response *out;
	struct err *e;
	int *rc;
	CURL *easy;
	struct curl_slist *hdrs;
	char *url;		/* current hop */
	char *method;		/* current hop (303 turns into GET) */
	int send_body;
	int hops;
	int attempt;
	int stripped;		/* credentials dropped after a cross-origin redirect */
	int64_t body_pos;	/* read position of the request body */
	uint64_t sink_bytes;	/* 2xx bytes handed to the sink in this attempt */
	int sink_rc;		/* the sink's error, if it aborted */
	int too_big;
	int to_sink;		/* decided at the first body byte */
	int decided;
	struct timespec not_before;
	int state;		/* 0 waiting, 1 running, 2 done */
	char errbuf[CURL_ERROR_SIZE];
};

void http_request_init(struct http_request *r, const char *method, const char *url)
{
	memset(r, 0, sizeof(*r));
	r->method = method;
	r->url = url;
	strvec_init(&r->headers);
	strvec_init(&r->secret_headers);
	r->body_fd = -1;
	r->body_len = -1;
}

void http_request_release(struct http_request *r)
{
	strvec_clear(&r->headers);
	strvec_clear(&r->secret_headers);
}

int http_request_header(struct http_request *r, const char *fmt, ...)
{
	struct buf b = BUF_INIT;
	va_list ap;
	int rc;

	va_start(ap, fmt);
	rc = buf_vaddf(&b, fmt, ap);
	va_end(ap);
	if (rc < 0) {
		buf_release(&b);
		return rc;
	}
	return strvec_push_nodup(&r->headers, buf_detach(&b, NULL));
}

void http_response_init(struct http_response *r)
{
	r->status = 0;
	strvec_init(&r->headers);
	buf_init(&r->body, 0);
	r->url = NULL;
	r->attempts = 0;
}

void http_response_release(struct http_response *r)
{
	strvec_clear(&r->headers);
	buf_release(&r->body);
	free(r->url);
	r->url = NULL;
	r->status = 0;
}

const char *http_response_header(const struct http_response *r, const char *name)
{
	size_t i, n = strlen(name);

	for (i = 0; i < r->headers.n; i++) {
		const char *h = r->headers.v[i];
		if (!strncasecmp(h, name, n) && h[n] == ':') {
			h += n + 1;
			while (*h == ' ' || *h == '\t')
				h++;
			return h;
		}
	}
	return NULL;
}

/* ---- redaction ---------------------------------------------------------- */

static const char *const secret_header_names[] = {
	"authorization", "proxy-authorization", "cookie", "set-cookie",
	"x-registry-auth", "x-amz-security-token",
};

static int is_secret_header(const char *line, size_t namelen)
{
	size_t i;

	for (i = 0; i < sizeof(secret_header_names) / sizeof(secret_header_names[0]); i++)
		if (strlen(secret_header_names[i]) == namelen &&
		    !strncasecmp(line, secret_header_names[i], namelen))
			return 1;
	return 0;
}

static int is_secret_param(const char *name, size_t len)
{
	static const char *const words[] = {
		"sig", "token", "credential", "secret", "password", "key", "auth", "session",
	};
	size_t i, j;

	for (i = 0; i < sizeof(words) / sizeof(words[0]); i++) {
		size_t wl = strlen(words[i]);
		for (j = 0; j + wl <= len; j++)
			if (!strncasecmp(name + j, words[i], wl))
				return 1;
	}
	return 0;
}

/* Redacts the values of signature-like query parameters in [s, s+len). */
static void redact_query(struct buf *out, const char *s, size_t len)
{
	size_t i = 0;

	while (i < len) {
		size_t start = i, eq = (size_t)-1;
		while (i < len && s[i] != '&' && s[i] != ' ' && s[i] != '#') {
			if (s[i] == '=' && eq == (size_t)-1)
				eq = i;
			i++;
		}
		if (eq != (size_t)-1 && is_secret_param(s + start, eq - start)) {
			buf_add(out, s + start, eq - start + 1);
			buf_addstr(out, "<redacted>");
		} else {
			buf_add(out, s + start, i - start);
		}
		if (i < len && s[i] != '&') {
			buf_add(out, s + i, len - i);
			return;
		}
		if (i < len)
			buf_addch(out, s[i++]);
	}
}

void http_redact_line(struct buf *out, const char *line)
{
	const char *colon = strchr(line, ':');
	const char *q;
	size_t i, start = out->len;

	/* a header line: a name (no spaces) before the first colon */
	if (colon && colon != line && !memchr(line, ' ', (size_t)(colon - line))) {
		if (is_secret_header(line, (size_t)(colon - line))) {
			buf_add(out, line, (size_t)(colon - line) + 1);
			buf_addstr(out, " <redacted>");
			return;
		}
	}
	/* request lines and Location headers: redact query secrets */
	q = strchr(line, '?');
	if (q) {
		buf_add(out, line, (size_t)(q - line) + 1);
		redact_query(out, q + 1, strlen(q + 1));
	} else {
		buf_addstr(out, line);
	}
	/* never let control characters through */
	for (i = start; i < out->len; i++)
		if ((unsigned char)out->data[i] < 0x20 || out->data[i] == 0x7f)
			out->data[i] = '?';
}

static void trace_line(struct http_client *c, const char *prefix, const char *s, size_t len)
{
	struct buf line = BUF_INIT, red = BUF_INIT;

	buf_add(&line, s, len);
	buf_addstr(&red, prefix);
	http_redact_line(&red, line.data);
	if (!buf_failed(&red))
		c->o.trace(c->o.trace_arg, red.data);
	buf_release(&line);
	buf_release(&red);
}

static int debug_cb(CURL *h, curl_infotype type, char *data, size_t size, void *arg)
{
	struct job *j = arg;
	struct http_client *c = j->c;
	const char *prefix;
	size_t i = 0;

	(void)h;
	if (type == CURLINFO_HEADER_OUT)
		prefix = "> ";
	else if (type == CURLINFO_HEADER_IN)
		prefix = "< ";
	else if (type == CURLINFO_TEXT && c->o.trace_level > 2)
		prefix = "* ";
	else
		return 0;
	while (i < size) {
		size_t start = i;
		while (i < size && data[i] != '\n' && data[i] != '\r')
			i++;
		if (i > start)
			trace_line(c, prefix, data + start, i - start);
		while (i < size && (data[i] == '\n' || data[i] == '\r'))
			i++;
	}
	return 0;
}

/* ---- URLs ----------------------------------------------------------------- */

int http_url_origin(struct buf *out, const char *url, struct err *e)
{
	CURLU *u = curl_url();
	char *scheme = NULL, *host = NULL, *port = NULL;
	int ret = ERR_INVALID;

	if (!u)
		return err_set(e, ERR_NOMEM, "out of memory");
	if (curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_PORT, &port, CURLU_DEFAULT_PORT) != CURLUE_OK) {
		err_set(e, ERR_INVALID, "invalid URL");
		goto out;
	}
	if (strcmp(scheme, "http") && strcmp(scheme, "https")) {
		err_set(e, ERR_INVALID, "refusing URL scheme '%s' (only http and https)", scheme);
		goto out;
	}
	for (char *p = host; *p; p++)
		if (*p >= 'A' && *p <= 'Z')
			*p = (char)(*p + 32);
	buf_addf(out, "%s://%s:%s", scheme, host, port);
	ret = buf_failed(out) ? ERR_NOMEM : 0;
out:
	curl_free(scheme);
	curl_free(host);
	curl_free(port);
	curl_url_cleanup(u);
	return ret;
}

/* Resolves a Location header against the current URL. */
static int resolve_location(char **out, const char *base, const char *loc, struct err *e)
{
	CURLU *u = curl_url();
	char *res = NULL;
	struct buf origin = BUF_INIT;
	int ret = ERR_INVALID;

	*out = NULL;
	if (!u)
		return err_set(e, ERR_NOMEM, "out of memory");
	if (curl_url_set(u, CURLUPART_URL, base, 0) != CURLUE_OK ||
	    curl_url_set(u, CURLUPART_URL, loc, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_URL, &res, 0) != CURLUE_OK) {
		err_set(e, ERR_INVALID, "registry sent an invalid redirect location");
		goto out;
	}
	if (http_url_origin(&origin, res, e) < 0) {
		err_prefix(e, "registry redirected to an unusable location");
		goto out;
	}
	*out = strdup(res);
	ret = *out ? 0 : err_set(e, ERR_NOMEM, "out of memory");
out:
	buf_release(&origin);
	curl_free(res);
	curl_url_cleanup(u);
	return ret;
}

static int same_origin(const char *a, const char *b)
{
	struct buf oa = BUF_INIT, ob = BUF_INIT;
	int same;

	same = http_url_origin(&oa, a, NULL) == 0 && http_url_origin(&ob, b, NULL) == 0 &&
	       !strcasecmp(oa.data, ob.data);
	buf_release(&oa);
	buf_release(&ob);
	return same;
}

/* ---- client --------------------------------------------------------------- */

int http_client_new(struct http_client **out, const struct http_client_opts *o, struct err *e)
{
	struct http_client *c;
	size_t i;

	*out = NULL;
	c = calloc(1, sizeof(*c));
	if (!c)
		return err_set(e, ERR_NOMEM, "out of memory");
	c->o = *o;
	strvec_init(&c->certs_dirs);
	c->user_agent = strdup(o->user_agent ? o->user_agent : "hoist");
	for (i = 0; o->certs_dirs && o->certs_dirs[i]; i++)
		if (strvec_push(&c->certs_dirs, o->certs_dirs[i]) < 0)
			goto nomem;
	c->o.user_agent = NULL;
	c->o.certs_dirs = NULL;
	if (!c->o.connect_timeout_ms)
		c->o.connect_timeout_ms = 30000;
	if (!c->o.low_speed_time_s)
		c->o.low_speed_time_s = 60;
	if (!c->o.max_attempts)
		c->o.max_attempts = 3;
	if (!c->o.retry_base_ms)
		c->o.retry_base_ms = 1000;
	if (!c->o.retry_max_wait_s)
		c->o.retry_max_wait_s = 60;
	c->rng = (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 32) ^ (uint64_t)(uintptr_t)c;
	if (!c->user_agent)
		goto nomem;
	*out = c;
	return 0;
nomem:
	http_client_free(c);
	return err_set(e, ERR_NOMEM, "out of memory");
}

/* curl_global_init() and curl_global_cleanup() are not to be called from
 * two threads at once (the workers' clients start on their own threads). */
static pthread_mutex_t global_mu = PTHREAD_MUTEX_INITIALIZER;

/* libcurl, on the client's first request (registry/curl_dl.h): a run that
 * makes none never loads it. */
static int client_ready(struct http_client *c, struct err *e)
{
	CURLcode rc;

	if (c->multi && c->share)
		return 0;	/* made, and set up, by an earlier call */
	if (!c->inited) {
		if (curl_dl_load(e) < 0)
			return err_prefix(e, "cannot make HTTP requests");
		pthread_mutex_lock(&global_mu);
		rc = curl_global_init(CURL_GLOBAL_DEFAULT);
		pthread_mutex_unlock(&global_mu);
		if (rc != CURLE_OK)
			return err_set(e, ERR_FAIL, "cannot initialise libcurl");
		c->inited = 1;
	}
	if ((!c->multi && !(c->multi = curl_multi_init())) ||
	    (!c->share && !(c->share = curl_share_init())))
		return err_set(e, ERR_NOMEM, "out of memory");
	curl_share_setopt(c->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_DNS);
	curl_share_setopt(c->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_SSL_SESSION);
	curl_multi_setopt(c->multi, CURLMOPT_PIPELINING, (long)CURLPIPE_MULTIPLEX);
	curl_multi_setopt(c->multi, CURLMOPT_MAX_HOST_CONNECTIONS, 16L);
	return 0;
}

int http_client_dup(struct http_client **out, const struct http_client *c, struct err *e)
{
	struct http_client_opts o = c->o;

	o.user_agent = c->user_agent;
	o.certs_dirs = (const char *const *)c->certs_dirs.v;
	return http_client_new(out, &o, e);
}

void http_client_free(struct http_client *c)
{
	if (!c)
		return;
	if (c->multi)
		curl_multi_cleanup(c->multi);
	if (c->share)
		curl_share_cleanup(c->share);
	if (c->inited) {
		pthread_mutex_lock(&global_mu);
		curl_global_cleanup();
		pthread_mutex_unlock(&global_mu);
	}
	strvec_clear(&c->certs_dirs);
	free(c->user_agent);
	free(c);
}

static uint64_t rng_next(struct http_client *c)
{
	c->rng ^= c->rng << 13;
	c->rng ^= c->rng >> 7;
	c->rng ^= c->rng << 17;
	return c->rng;
}

/* ---- callbacks ------------------------------------------------------------ */

static size_t header_cb(char *data, size_t size, size_t n, void *arg)
{
	struct job *j = arg;
	size_t len = size * n, end = len, i;
	struct buf line = BUF_INIT;
	char *colon;

	while (end && (data[end - 1] == '\n' || data[end - 1] == '\r'))
		end--;
	if (end >= 5 && !strncmp(data, "HTTP/", 5)) {
		/* a new response (after 100 Continue): start over */
		strvec_clear(&j->out->headers);
		return len;
	}
	if (!end || j->out->headers.n >= 256 || end > 16384)
		return len;
	if (buf_add(&line, data, end) < 0)
		return 0;
	colon = strchr(line.data, ':');
	if (colon) {
		for (i = 0; line.data + i < colon; i++)
			line.data[i] = (char)(line.data[i] >= 'A' && line.data[i] <= 'Z'
					      ? line.data[i] + 32 : line.data[i]);
		if (strvec_push_nodup(&j->out->headers, buf_detach(&line, NULL)) < 0)
			return 0;
	}
	buf_release(&line);
	return len;
}

static size_t write_cb(char *data, size_t size, size_t n, void *arg)
{
	struct job *j = arg;
	size_t len = size * n;
	long status = 0;

	if (!j->decided) {
		curl_easy_getinfo(j->easy, CURLINFO_RESPONSE_CODE, &status);
		j->to_sink = j->req->sink && status >= 200 && status < 300;
		if (status < 200 || status >= 300)
			j->out->body.max = ERROR_BODY_MAX;
		else
			j->out->body.max = j->req->max_body ? j->req->max_body : DEFAULT_BODY_MAX;
		j->decided = 1;
	}
	if (j->to_sink) {
		struct err se = ERR_INIT;
		int rc = j->req->sink(j->req->sink_arg, data, len, &se);
		if (rc < 0) {
			j->sink_rc = rc;
			if (j->e)
				*j->e = se;
			return 0;
		}
		j->sink_bytes += len;
		return len;
	}
	if (buf_add(&j->out->body, data, len) < 0) {
		if (j->out->body.max == ERROR_BODY_MAX)
			return len;	/* an error body: keep the start, drop the rest */
		j->too_big = 1;
		return 0;
	}
	return len;
}

static size_t read_cb(char *dst, size_t size, size_t n, void *arg)
{
	struct job *j = arg;
	size_t want = size * n;
	int64_t left = j->req->body_len - j->body_pos;
	ssize_t got;

	if (left <= 0)
		return 0;
	if ((int64_t)want > left)
		want = (size_t)left;
	if (j->req->body_read) {
		got = j->req->body_read(j->req->body_read_arg, dst, want);
		if (got <= 0)
			return CURL_READFUNC_ABORT;
	} else if (j->req->body) {
		memcpy(dst, (const char *)j->req->body + j->body_pos, want);
		got = (ssize_t)want;
	} else {
		got = pread(j->req->body_fd, dst, want, j->req->body_offset + j->body_pos);
		if (got <= 0)
			return CURL_READFUNC_ABORT;
	}
	j->body_pos += got;
	return (size_t)got;
}

static int seek_cb(void *arg, curl_off_t offset, int origin)
{
	struct job *j = arg;

	if (origin != SEEK_SET || offset < 0 || offset > j->req->body_len)
		return CURL_SEEKFUNC_FAIL;
	if (j->req->body_read && offset != j->body_pos)
		return CURL_SEEKFUNC_CANTSEEK;	/* a stream cannot be replayed */
	j->body_pos = offset;
	return CURL_SEEKFUNC_OK;
}

/* ---- one attempt ---------------------------------------------------------- */

static int header_dropped(const struct job *j, const char *h)
{
	const char *colon = strchr(h, ':');
	size_t nl = colon ? (size_t)(colon - h) : strlen(h), i;

	if (!j->stripped)
		return 0;
	if (is_secret_header(h, nl))
		return 1;
	for (i = 0; i < j->req->secret_headers.n; i++)
		if (strlen(j->req->secret_headers.v[i]) == nl &&
		    !strncasecmp(h, j->req->secret_headers.v[i], nl))
			return 1;
	return 0;
}

/* TLS settings of one request: verification (off with --insecure, and for
 * the scheme probe, whose answer is not trusted), and the CA and client
 * certificate of docker's and podman's certs.d/HOST[:PORT]/ (ca.crt,
 * client.cert, client.key), which a server demanding a client certificate
 * needs even during the probe. */
static void set_tls(struct job *j, CURL *h)
{
	struct http_client *c = j->c;
	CURLU *u = NULL;
	char *host = NULL, *port = NULL, *scheme = NULL;
	struct buf path = BUF_INIT;
	struct stat st;
	size_t i, dl;
	int no_verify = c->o.insecure || j->req->tls_probe;
	int have_ca = 0;

	if (no_verify) {
		curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 0L);
		curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 0L);
		if (j->req->tls_probe) {
			curl_easy_setopt(h, CURLOPT_CAINFO, NULL);
			curl_easy_setopt(h, CURLOPT_CAPATH, NULL);
		}
	}
	if ((!c->certs_dirs.n && !c->o.n_hosts) || !(u = curl_url()))
		goto out;
	if (curl_url_set(u, CURLUPART_URL, j->url, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
	    strcmp(scheme, "https") ||
	    curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK)
		goto out;
	curl_url_get(u, CURLUPART_PORT, &port, 0);
	for (i = 0; i < c->o.n_hosts; i++) {
		const struct http_host_tls *ht = &c->o.hosts[i];
		size_t hl = strlen(host);
		if (strncmp(ht->host, host, hl) ||
		    (port ? ht->host[hl] != ':' || strcmp(ht->host + hl + 1, port) : ht->host[hl]))
			continue;
		if (ht->insecure && !no_verify) {
			no_verify = 1;
			curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 0L);
			curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 0L);
		}
		if (ht->ca && !no_verify) {
			curl_easy_setopt(h, CURLOPT_CAINFO, ht->ca);
			have_ca = 1;
		}
		break;
	}
	for (i = 0; i < c->certs_dirs.n; i++) {
		buf_reset(&path);
		buf_addf(&path, "%s/%s%s%s/", c->certs_dirs.v[i], host, port ? ":" : "",
			 port ? port : "");
		if (stat(path.data, &st) < 0 || !S_ISDIR(st.st_mode))
			continue;
		dl = path.len;
		buf_addstr(&path, "ca.crt");
		if (!no_verify && !have_ca && stat(path.data, &st) == 0)
			curl_easy_setopt(h, CURLOPT_CAINFO, path.data);
		buf_setlen(&path, dl);
		buf_addstr(&path, "client.cert");
		if (stat(path.data, &st) == 0) {
			curl_easy_setopt(h, CURLOPT_SSLCERT, path.data);
			buf_setlen(&path, dl);
			buf_addstr(&path, "client.key");
			curl_easy_setopt(h, CURLOPT_SSLKEY, path.data);
		}
		break;
	}
out:
	curl_free(scheme);
	curl_free(host);
	curl_free(port);
	curl_url_cleanup(u);
	buf_release(&path);
}

static int job_start(struct job *j)
{
	struct http_client *c = j->c;
	struct http_request *r = j->req;
	CURL *h;
	size_t i;
	int has_body = j->send_body && r->body_len >= 0;

	h = curl_easy_init();
	if (!h)
		return err_set(j->e, ERR_NOMEM, "out of memory");
	j->easy = h;
	j->body_pos = 0;
	j->sink_bytes = 0;
	j->sink_rc = 0;
	j->too_big = 0;
	j->decided = 0;
	j->errbuf[0] = '\0';
	strvec_clear(&j->out->headers);
	buf_release(&j->out->body);
	for (i = 0; i < r->headers.n; i++) {
		struct curl_slist *n;
		if (header_dropped(j, r->headers.v[i]))
			continue;
		n = curl_slist_append(j->hdrs, r->headers.v[i]);
		if (!n)
			return err_set(j->e, ERR_NOMEM, "out of memory");
		j->hdrs = n;
	}
	if (has_body) {
		struct curl_slist *n = curl_slist_append(j->hdrs, "Expect:");
		if (!n)
			return err_set(j->e, ERR_NOMEM, "out of memory");
		j->hdrs = n;
	}
	curl_easy_setopt(h, CURLOPT_URL, j->url);
	curl_easy_setopt(h, CURLOPT_PRIVATE, j);
	curl_easy_setopt(h, CURLOPT_SHARE, c->share);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(h, CURLOPT_USERAGENT, c->user_agent);
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, j->hdrs);
	curl_easy_setopt(h, CURLOPT_ERRORBUFFER, j->errbuf);
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, c->o.connect_timeout_ms);
	curl_easy_setopt(h, CURLOPT_LOW_SPEED_LIMIT, 1024L);
	curl_easy_setopt(h, CURLOPT_LOW_SPEED_TIME, c->o.low_speed_time_s);
	curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, header_cb);
	curl_easy_setopt(h, CURLOPT_HEADERDATA, j);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, write_cb);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, j);
	curl_easy_setopt(h, CURLOPT_BUFFERSIZE, 256L * 1024);
	if (c->o.trace && c->o.trace_level > 0) {
		curl_easy_setopt(h, CURLOPT_DEBUGFUNCTION, debug_cb);
		curl_easy_setopt(h, CURLOPT_DEBUGDATA, j);
		curl_easy_setopt(h, CURLOPT_VERBOSE, 1L);
	}
	set_tls(j, h);
	if (!strcmp(j->method, "HEAD")) {
		curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
	} else if (has_body) {
		curl_easy_setopt(h, CURLOPT_UPLOAD, 1L);
		curl_easy_setopt(h, CURLOPT_INFILESIZE_LARGE, (curl_off_t)r->body_len);
		curl_easy_setopt(h, CURLOPT_READFUNCTION, read_cb);
		curl_easy_setopt(h, CURLOPT_READDATA, j);
		curl_easy_setopt(h, CURLOPT_SEEKFUNCTION, seek_cb);
		curl_easy_setopt(h, CURLOPT_SEEKDATA, j);
		curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, j->method);
	} else if (!strcmp(j->method, "POST") || !strcmp(j->method, "PUT") ||
		   !strcmp(j->method, "PATCH")) {
		/* no body, but registries want a Content-Length: 0 */
		curl_easy_setopt(h, CURLOPT_POST, 1L);
		curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE, 0L);
		curl_easy_setopt(h, CURLOPT_POSTFIELDS, "");
		curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, j->method);
	} else if (strcmp(j->method, "GET")) {
		curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, j->method);
	}
	if (curl_multi_add_handle(c->multi, h) != CURLM_OK)
		return err_set(j->e, ERR_FAIL, "cannot start request");
	j->state = 1;
	j->attempt++;
	j->out->attempts = j->attempt;
	return 0;
}

static void job_stop(struct job *j)
{
	if (j->easy) {
		curl_multi_remove_handle(j->c->multi, j->easy);
		curl_easy_cleanup(j->easy);
		j->easy = NULL;
	}
	curl_slist_free_all(j->hdrs);
	j->hdrs = NULL;
}

static int retryable_status(long s)
{
	return s == 408 || s == 429 || s == 500 || s == 502 || s == 503 || s == 504;
}

static int retryable_curl(CURLcode cc)
{
	switch (cc) {
	case CURLE_COULDNT_CONNECT:
	case CURLE_OPERATION_TIMEDOUT:
	case CURLE_RECV_ERROR:
	case CURLE_SEND_ERROR:
	case CURLE_GOT_NOTHING:
	case CURLE_PARTIAL_FILE:
	case CURLE_HTTP2:
	case CURLE_HTTP2_STREAM:
		return 1;
	default:
		return 0;
	}
}

static void schedule_retry(struct job *j, long wait_ms)
{
	clock_gettime(CLOCK_MONOTONIC, &j->not_before);
	j->not_before.tv_sec += wait_ms / 1000;
	j->not_before.tv_nsec += (wait_ms % 1000) * 1000000L;
	if (j->not_before.tv_nsec >= 1000000000L) {
		j->not_before.tv_sec++;
		j->not_before.tv_nsec -= 1000000000L;
	}
	j->state = 0;
}

static long backoff_ms(struct job *j)
{
	long base = j->c->o.retry_base_ms, ms;
	int k;

	ms = base;
	for (k = 1; k < j->attempt && ms < 60000; k++)
		ms *= 3;
	/* +-25% jitter */
	return ms - ms / 4 + (long)(rng_next(j->c) % (uint64_t)(ms / 2 + 1));
}

/* Decides what a finished attempt means: done, retry, or redirect. */
static void job_finish(struct job *j, CURLcode cc)
{
	struct http_client *c = j->c;
	struct http_request *r = j->req;
	long status = 0;
	const char *loc, *ra;
	int can_retry = !r->no_retry && !r->body_read && j->attempt < c->o.max_attempts &&
			!j->sink_bytes;

	curl_easy_getinfo(j->easy, CURLINFO_RESPONSE_CODE, &status);
	job_stop(j);
	if (j->sink_rc) {
		*j->rc = j->sink_rc;
		j->state = 2;
		return;
	}
	if (j->too_big) {
		*j->rc = err_set(j->e, ERR_TOO_BIG, "response from %s is larger than %zu bytes",
				 j->method, r->max_body ? r->max_body : (size_t)DEFAULT_BODY_MAX);
		j->state = 2;
		return;
	}
	if (cc != CURLE_OK) {
		if (can_retry && retryable_curl(cc)) {
			schedule_retry(j, backoff_ms(j));
			return;
		}
		*j->rc = err_set(j->e, ERR_NETWORK, "%s failed: %s%s%s", j->method,
				 curl_easy_strerror(cc), j->errbuf[0] ? ": " : "", j->errbuf);
		if (j->sink_bytes)
			err_prefix(j->e, "connection dropped after %llu bytes",
				   (unsigned long long)j->sink_bytes);
		j->state = 2;
		return;
	}
	j->out->status = status;
	if (retryable_status(status) && can_retry) {
		long wait = backoff_ms(j), secs;
		ra = http_response_header(j->out, "retry-after");
		if (ra && wire_parse_retry_after(&secs, ra, time(NULL)) == 0) {
			if (secs > c->o.retry_max_wait_s)
				goto done;	/* give the caller the 429/503 */
			wait = secs * 1000 > wait ? secs * 1000 : wait;
		}
		schedule_retry(j, wait);
		return;
	}
	if ((status == 301 || status == 302 || status == 303 || status == 307 ||
	     status == 308) && !r->no_redirect &&
	    (loc = http_response_header(j->out, "location"))) {
		char *next = NULL;
		if (++j->hops > MAX_REDIRECTS) {
			*j->rc = err_set(j->e, ERR_NETWORK, "too many redirects (more than %d)",
					 MAX_REDIRECTS);
			j->state = 2;
			return;
		}
		if (resolve_location(&next, j->url, loc, j->e) < 0) {
			*j->rc = j->e ? j->e->code : ERR_INVALID;
			j->state = 2;
			return;
		}
		if (r->body_read && j->send_body && j->body_pos > 0 && status != 303) {
			free(next);
			*j->rc = err_set(j->e, ERR_NETWORK, "%s redirected after a streamed body "
					 "was sent", j->method);
			j->state = 2;
			return;
		}
		if (!same_origin(j->url, next))
			j->stripped = 1;
		if (status == 303 && strcmp(j->method, "HEAD")) {
			free(j->method);
			j->method = strdup("GET");
			j->send_body = 0;
		}
		free(j->url);
		j->url = next;
		j->attempt = 0;
		j->state = 0;
		j->not_before.tv_sec = 0;
		j->not_before.tv_nsec = 0;
		if (!j->method)
			goto nomem;
		return;
	}
done:
	free(j->out->url);
	j->out->url = strdup(j->url);
	if (!j->out->url)
		goto nomem;
	*j->rc = 0;
	j->state = 2;
	return;
nomem:
	*j->rc = err_set(j->e, ERR_NOMEM, "out of memory");
	j->state = 2;
}

static int ts_before(const struct timespec *a, const struct timespec *b)
{
	return a->tv_sec < b->tv_sec || (a->tv_sec == b->tv_sec && a->tv_nsec <= b->tv_nsec);
}

static long ms_until(const struct timespec *t)
{
	struct timespec now;
	long ms;

	clock_gettime(CLOCK_MONOTONIC, &now);
	ms = (long)(t->tv_sec - now.tv_sec) * 1000 + (t->tv_nsec - now.tv_nsec) / 1000000L;
	return ms < 0 ? 0 : ms;
}

int http_do_many(struct http_client *c, struct http_request **reqs,
		 struct http_response **outs, int *rcs, struct err *errs, size_t n,
		 int parallel)
{
	struct job *jobs;
	size_t i, done = 0;
	int running_n = 0, first_rc = 0;

	if (!n)
		return 0;
	if (parallel < 1)
		parallel = 1;
	if ((first_rc = client_ready(c, &errs[0])) < 0) {
		for (i = 0; i < n; i++) {
			rcs[i] = first_rc;
			if (i)
				errs[i] = errs[0];
		}
		return first_rc;
	}
	jobs = calloc(n, sizeof(*jobs));
	if (!jobs)
		return err_set(&errs[0], ERR_NOMEM, "out of memory");
	for (i = 0; i < n; i++) {
		struct job *j = &jobs[i];
		j->c = c;
		j->req = reqs[i];
		j->out = outs[i];
		j->e = &errs[i];
		j->rc = &rcs[i];
		*j->rc = ERR_FAIL;
		err_clear(j->e);
		j->send_body = 1;
		j->url = strdup(reqs[i]->url);
		j->method = strdup(reqs[i]->method);
		if (!j->url || !j->method) {
			*j->rc = err_set(j->e, ERR_NOMEM, "out of memory");
			j->state = 2;
			done++;
			continue;
		}
	}
	while (done < n) {
		struct timespec now;
		long wait_ms = 1000;
		int still = 0, msgs;
		CURLMsg *m;

		clock_gettime(CLOCK_MONOTONIC, &now);
		for (i = 0; i < n && running_n < parallel; i++) {
			struct job *j = &jobs[i];
			if (j->state != 0)
				continue;
			if (!ts_before(&j->not_before, &now)) {
				long w = ms_until(&j->not_before);
				if (w < wait_ms)
					wait_ms = w;
				continue;
			}
			if (job_start(j) < 0) {
				*j->rc = j->e->code ? j->e->code : ERR_FAIL;
				job_stop(j);
				j->state = 2;
				done++;
				continue;
			}
			running_n++;
		}
		if (running_n == 0 && done < n) {
			struct timespec ts = { wait_ms / 1000, (wait_ms % 1000) * 1000000L };
			nanosleep(&ts, NULL);
			continue;
		}
		curl_multi_perform(c->multi, &still);
		while ((m = curl_multi_info_read(c->multi, &msgs))) {
			struct job *j = NULL;
			if (m->msg != CURLMSG_DONE)
				continue;
			curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&j);
			running_n--;
			job_finish(j, m->data.result);
			if (j->state == 2)
				done++;
		}
		if (done < n && running_n > 0)
			curl_multi_poll(c->multi, NULL, 0, (int)(wait_ms > 0 ? wait_ms : 1), NULL);
	}
	for (i = 0; i < n; i++) {
		if (rcs[i] < 0 && !first_rc)
			first_rc = rcs[i];
		job_stop(&jobs[i]);
		free(jobs[i].url);
		free(jobs[i].method);
	}
	free(jobs);
	return first_rc;
}

int http_do(struct http_client *c, struct http_request *req, struct http_response *out,
	    struct err *e)
{
	struct err local = ERR_INIT;
	int rc = 0, ret;

	ret = http_do_many(c, &req, &out, &rc, &local, 1, 1);
	if (ret < 0 && e)
		*e = local;
	return ret;
}

/* ---- TLS probe ------------------------------------------------------------ */

/* A TLS 1.2 ClientHello with no session, two suites (one TLS 1.3), no
 * extensions: any TLS server answers it with a record (ServerHello or an
 * alert); a plain http server with an "HTTP/" status line (400). */
static const unsigned char probe_hello[] = {
	0x16, 0x03, 0x01, 0x00, 0x2f,		/* handshake record, 47 bytes */
	0x01, 0x00, 0x00, 0x2b,			/* ClientHello, 43 bytes */
	0x03, 0x03,				/* TLS 1.2 */
	/* random: "hoist probe\r\n\r\n" and zeros; the line ends make a plain
	 * http server answer at once instead of waiting for a request line */
	0x68, 0x6f, 0x69, 0x73, 0x74, 0x20, 0x70, 0x72, 0x6f, 0x62, 0x65, 0x0d, 0x0a, 0x0d,
	0x0a, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	0x00, 0x00, 0x00, 0x00,
	0x00,					/* no session id */
	0x00, 0x04, 0xc0, 0x2f, 0x13, 0x01,	/* ECDHE-RSA-AES128-GCM, TLS_AES_128_GCM */
	0x01, 0x00,				/* no compression */
};

/* Waits for `events` on fd; 1 when ready, 0 on timeout or error. */
static int probe_wait(int fd, short events, long timeout_ms)
{
	struct pollfd pfd = { .fd = fd, .events = events };
	int rc;

	do
		rc = poll(&pfd, 1, (int)timeout_ms);
	while (rc < 0 && errno == EINTR);
	return rc > 0 && (pfd.revents & (events | POLLHUP | POLLERR));
}

/* 1, 0 or -1 (no answer) for one address. */
static int probe_one(const struct addrinfo *ai, long timeout_ms)
{
	unsigned char b[5];
	size_t got = 0;
	int fd, err = 0, ret = -1;
	socklen_t len = sizeof(err);

	fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC,
		    ai->ai_protocol);
	if (fd < 0)
		return -1;
	if (connect(fd, ai->ai_addr, ai->ai_addrlen) < 0 &&
	    (errno != EINPROGRESS || !probe_wait(fd, POLLOUT, timeout_ms) ||
	     getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0 || err))
		goto out;
	if (send(fd, probe_hello, sizeof(probe_hello), MSG_NOSIGNAL) != (ssize_t)sizeof(probe_hello))
		goto out;
	while (got < sizeof(b)) {
		ssize_t n;
		/* a loopback server answers in milliseconds, or not at all */
		if (!probe_wait(fd, POLLIN, timeout_ms < 3000 ? timeout_ms : 3000))
			goto out;
		n = recv(fd, b + got, sizeof(b) - got, 0);
		if (n < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	if (got >= 2 && b[0] >= 0x14 && b[0] <= 0x17 && b[1] == 0x03)
		ret = 1;	/* a TLS record: change_cipher_spec, alert, handshake, data */
	else if (got == sizeof(b) && !memcmp(b, "HTTP/", 5))
		ret = 0;
out:
	close(fd);
	return ret;
}

int http_tls_probe(const struct http_client *c, const char *host_port, struct err *e)
{
	struct addrinfo hints, *res = NULL, *ai;
	char host[256];
	const char *port = "443", *p = host_port, *end;
	size_t n;
	int rc, ret = -1;

	if (*p == '[') {
		end = strchr(p, ']');
		if (!end)
			return err_set(e, ERR_INVALID, "invalid host '%.255s'", host_port);
		p++;
		if (end[1] == ':')
			port = end + 2;
	} else {
		end = strrchr(p, ':');
		if (end)
			port = end + 1;
		else
			end = p + strlen(p);
	}
	n = (size_t)(end - p);
	if (n == 0 || n >= sizeof(host) || !*port)
		return err_set(e, ERR_INVALID, "invalid host '%.255s'", host_port);
	memcpy(host, p, n);
	host[n] = '\0';
	memset(&hints, 0, sizeof(hints));
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_NUMERICSERV;
	if ((rc = getaddrinfo(host, port, &hints, &res)) != 0)
		return err_set(e, ERR_NETWORK, "cannot resolve '%s': %s", host, gai_strerror(rc));
	for (ai = res; ai && ret < 0; ai = ai->ai_next)
		ret = probe_one(ai, c->o.connect_timeout_ms);
	freeaddrinfo(res);
	if (ret < 0)
		return err_set(e, ERR_NETWORK, "no answer from '%.255s' to a TLS probe", host_port);
	return ret;
}

/* client.c - the distribution API client.  See client.h. */
#include "registry/client.h"

#include "core/base/err.h"
#include "core/base/json.h"
#include "core/base/strvec.h"
#include "core/model/ref.h"
#include "registry/wire.h"

#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define MAX_AUTH_ROUNDS 3
#define MAX_BLOB_RESUMES 5
#define MAX_UPLOAD_ATTEMPTS 3
#define TOKEN_BODY_MAX (1u << 20)
#define MAX_TOKENS 64

enum reg_auth {
	AUTH_NONE = 0,
	AUTH_BASIC,
	AUTH_BEARER,
};

struct reg_token {
	char *scope;
	char *value;
};

struct reg {
	struct reg_client_opts o;
	char *name;		/* "docker.io" */
	char *host;		/* "registry-1.docker.io", "127.0.0.1:5000" */
	char *base;		/* "https://host", set by the ping (or reg_ping_lazy) */
	int loopback;
	int answered;		/* the registry has answered: its auth scheme is known */
	int pinged;		/* a GET /v2/ has been answered */
	enum reg_auth auth;
	char *realm;
	char *service;
	int creds_loaded;
	struct creds creds;
	struct reg_token tokens[MAX_TOKENS];
	size_t n_tokens;
	int sent_creds;		/* the last request carried credentials */
	/* Mirrors tried first for reads (reg_mirror_add), owned. */
	struct reg **mirrors;
	char **mirror_prefixes;	/* repository prefix of each, or NULL */
	size_t n_mirrors;
	void (*mirror_log)(void *arg, int level, const char *line);
	void *mirror_log_arg;
};

/* ---- small helpers -------------------------------------------------------- */

static void secret_free(char *s)
{
	if (s) {
		volatile char *p = s;
		while (*p)
			*p++ = 0;
		free(s);
	}
}

static int nomem(struct err *e)
{
	return err_set(e, ERR_NOMEM, "out of memory");
}

static void url_escape(struct buf *b, const char *s)
{
	static const char hex[] = "0123456789ABCDEF";

	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		    c == '-' || c == '.' || c == '_' || c == '~') {
			buf_addch(b, c);
		} else {
			buf_addch(b, '%');
			buf_addch(b, hex[c >> 4]);
			buf_addch(b, hex[c & 15]);
		}
	}
}

static void base64_add(struct buf *b, const unsigned char *s, size_t len)
{
	static const char tab[] =
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	size_t i;

	for (i = 0; i + 2 < len; i += 3) {
		buf_addch(b, tab[s[i] >> 2]);
		buf_addch(b, tab[((s[i] & 3) << 4) | (s[i + 1] >> 4)]);
		buf_addch(b, tab[((s[i + 1] & 15) << 2) | (s[i + 2] >> 6)]);
		buf_addch(b, tab[s[i + 2] & 63]);
	}
	if (len - i == 1) {
		buf_addch(b, tab[s[i] >> 2]);
		buf_addch(b, tab[(s[i] & 3) << 4]);
		buf_addstr(b, "==");
	} else if (len - i == 2) {
		buf_addch(b, tab[s[i] >> 2]);
		buf_addch(b, tab[((s[i] & 3) << 4) | (s[i + 1] >> 4)]);
		buf_addch(b, tab[(s[i + 1] & 15) << 2]);
		buf_addch(b, '=');
	}
}

/* A repository name as the reference grammar allows (checked loosely:
 * the characters and the length), so it can go into a URL path as is. */
static int check_repo(const char *repo, struct err *e)
{
	const char *p;

	if (!repo || !*repo || strlen(repo) > 255 || repo[0] == '/')
		return err_set(e, ERR_INVALID, "invalid repository name");
	for (p = repo; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '.' ||
		      *p == '_' || *p == '-' || *p == '/'))
			return err_set(e, ERR_INVALID, "invalid repository name '%.255s'", repo);
	if (strstr(repo, "//") || repo[p - repo - 1] == '/' || strstr(repo, ".."))
		return err_set(e, ERR_INVALID, "invalid repository name '%.255s'", repo);
	return 0;
}

/* A tag or a digest, safe in a URL path. */
static int check_tag_or_digest(const char *s, struct err *e)
{
	const char *p;

	if (!s || !*s)
		return err_set(e, ERR_INVALID, "missing tag or digest");
	if (strchr(s, ':'))
		return digest_valid(s) ? 0 : err_set(e, ERR_INVALID, "invalid digest");
	if (strlen(s) > 128 || s[0] == '.' || s[0] == '-')
		return err_set(e, ERR_INVALID, "invalid tag");
	for (p = s; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		      (*p >= '0' && *p <= '9') || *p == '.' || *p == '_' || *p == '-'))
			return err_set(e, ERR_INVALID, "invalid tag");
	return 0;
}

/* The value of each header `name` (lower case) in turn: pass *i = 0 first. */
static const char *header_next(const struct http_response *resp, const char *name, size_t *i)
{
	size_t n = strlen(name);

	for (; *i < resp->headers.n; (*i)++) {
		const char *h = resp->headers.v[*i];
		if (!strncmp(h, name, n) && h[n] == ':') {
			h += n + 1;
			while (*h == ' ' || *h == '\t')
				h++;
			(*i)++;
			return h;
		}
	}
	return NULL;
}

static int same_origin(const char *a, const char *b)
{
	struct buf oa = BUF_INIT, ob = BUF_INIT;
	int same;

	same = http_url_origin(&oa, a, NULL) == 0 && http_url_origin(&ob, b, NULL) == 0 &&
	       !strcmp(oa.data, ob.data);
	buf_release(&oa);
	buf_release(&ob);
	return same;
}

/* The host part of "scheme://host:port" or "host:port" into out (IPv6
 * keeps its brackets). */
static void host_only(struct buf *out, const char *s)
{
	const char *p = strstr(s, "://"), *end;

	p = p ? p + 3 : s;
	end = p + strcspn(p, "/?#");
	if (memchr(p, '@', (size_t)(end - p)))
		p = (const char *)memchr(p, '@', (size_t)(end - p)) + 1;
	if (*p == '[') {
		const char *rb = memchr(p, ']', (size_t)(end - p));
		end = rb ? rb + 1 : end;
	} else {
		const char *colon = memchr(p, ':', (size_t)(end - p));
		if (colon)
			end = colon;
	}
	buf_add(out, p, (size_t)(end - p));
	for (size_t i = 0; i < out->len; i++)
		if (out->data[i] >= 'A' && out->data[i] <= 'Z')
			out->data[i] = (char)(out->data[i] + 32);
}

/* Non-zero for a literal IP address that is loopback, private, link-local
 * or unspecified ("[...]" allowed around IPv6). */
static int host_is_internal_ip(const char *host)
{
	char tmp[64];
	size_t n = strlen(host);
	struct in_addr a4;
	struct in6_addr a6;

	if (n >= sizeof(tmp))
		return 0;
	if (host[0] == '[' && n > 2 && host[n - 1] == ']') {
		memcpy(tmp, host + 1, n - 2);
		tmp[n - 2] = '\0';
	} else {
		memcpy(tmp, host, n + 1);
	}
	if (inet_pton(AF_INET, tmp, &a4) == 1) {
		uint32_t a = ntohl(a4.s_addr);
		return (a >> 24) == 127 || (a >> 24) == 10 || (a >> 24) == 0 ||
		       (a >> 20) == (172u << 4 | 1) || (a >> 16) == (192u << 8 | 168) ||
		       (a >> 16) == (169u << 8 | 254) || (a >> 22) == (100u << 2 | 1);
	}
	if (inet_pton(AF_INET6, tmp, &a6) == 1) {
		const unsigned char *b = a6.s6_addr;
		static const unsigned char zero[16];
		if (!memcmp(b, zero, 15) && (b[15] == 1 || b[15] == 0))
			return 1;			/* ::1, :: */
		if ((b[0] & 0xfe) == 0xfc)
			return 1;			/* fc00::/7 */
		if (b[0] == 0xfe && (b[1] & 0xc0) == 0x80)
			return 1;			/* fe80::/10 */
		if (!memcmp(b, zero, 10) && b[10] == 0xff && b[11] == 0xff) {
			char v4[INET_ADDRSTRLEN];
			snprintf(v4, sizeof(v4), "%u.%u.%u.%u", b[12], b[13], b[14], b[15]);
			return host_is_internal_ip(v4);	/* ::ffff:a.b.c.d */
		}
		return 0;
	}
	return !strcmp(tmp, "localhost");
}

static int url_is_plain_http(const char *url)
{
	return !strncasecmp(url, "http://", 7);
}

/* Turns a non-2xx response into `e`. */
static int status_error(struct err *e, struct reg *r, const struct http_response *resp,
			const char *what)
{
	struct wire_errors w;
	struct buf wb = BUF_INIT;
	int have, ret;

	wire_errors_init(&w);
	have = resp->body.len && wire_parse_errors(&w, resp->body.data, resp->body.len, NULL) == 0;
	if (resp->status == 401 && r->sent_creds)
		buf_addf(&wb, "%s: the registry refused the credentials for '%s'", what, r->name);
	else
		buf_addstr(&wb, what);
	ret = wire_status_error(e, resp->status, have ? &w : NULL, wb.data, r->name);
	wire_errors_release(&w);
	buf_release(&wb);
	return ret;
}

/* ---- session -------------------------------------------------------------- */

int reg_open(struct reg **out, const struct reg_client_opts *o, const char *registry,
	     struct err *e)
{
	struct reg *r;
	struct ref tmp = REF_INIT;

	*out = NULL;
	if (!o || !o->http)
		return err_set(e, ERR_USAGE, "cannot open a session with '%s': no HTTP client was "
			       "given", registry ? registry : "");
	if (!registry || !*registry || strlen(registry) > 255 ||
	    strpbrk(registry, "/?#@ \t\r\n"))
		return err_set(e, ERR_INVALID, "invalid registry name");
	r = calloc(1, sizeof(*r));
	if (!r)
		return nomem(e);
	r->o = *o;
	if (!r->o.manifest_max)
		r->o.manifest_max = MANIFEST_MAX_DEFAULT;
	tmp.registry = (char *)registry;
	r->name = strdup(registry);
	r->host = strdup(ref_endpoint(&tmp));
	if (!r->name || !r->host) {
		reg_free(r);
		return nomem(e);
	}
	r->loopback = ref_registry_is_loopback(registry);
	*out = r;
	return 0;
}

void reg_free(struct reg *r)
{
	size_t i;

	if (!r)
		return;
	for (i = 0; i < r->n_tokens; i++) {
		free(r->tokens[i].scope);
		secret_free(r->tokens[i].value);
	}
	creds_release(&r->creds);
	for (i = 0; i < r->n_mirrors; i++) {
		reg_free(r->mirrors[i]);
		free(r->mirror_prefixes[i]);
	}
	free(r->mirrors);
	free(r->mirror_prefixes);
	free(r->name);
	free(r->host);
	free(r->base);
	free(r->realm);
	free(r->service);
	free(r);
}

/* How much a request needs to know before it is sent (reg_ping_for). */
enum reg_need {
	/* The scheme only: a request without a body, sent through reg_send(),
	 * whose answer (a 401 challenge included) teaches what a ping would. */
	NEED_SCHEME,
	/* The auth scheme too: requests whose credentials are computed before
	 * sending (parallel blob GETs) or whose body cannot be sent twice. */
	NEED_ANSWER,
	/* A GET /v2/ itself (hoist auth login, hoist auth token). */
	NEED_PING,
};

static int reg_ping_for(struct reg *r, enum reg_need need, struct err *e);

static int reg_ping(struct reg *r, struct err *e)
{
	return reg_ping_for(r, NEED_ANSWER, e);
}

/* The scheme, with no request where it is known without one. */
static int reg_ping_lazy(struct reg *r, struct err *e)
{
	return reg_ping_for(r, NEED_SCHEME, e);
}

int reg_connect(struct reg *r, struct err *e)
{
	return reg_ping(r, e);
}

int reg_adopt(struct reg *r, const struct reg *from, struct err *e)
{
	size_t i;

	if (r == from || r->base || !from->base || strcmp(r->name, from->name) ||
	    strcmp(r->host, from->host) || r->o.insecure != from->o.insecure)
		return 0;
	free(r->realm);
	free(r->service);
	r->realm = from->realm ? strdup(from->realm) : NULL;
	r->service = from->service ? strdup(from->service) : NULL;
	if ((from->realm && !r->realm) || (from->service && !r->service))
		goto nomem;
	for (i = 0; i < from->n_tokens && r->n_tokens < MAX_TOKENS; i++) {
		char *sc = strdup(from->tokens[i].scope), *v = strdup(from->tokens[i].value);
		if (!sc || !v) {
			free(sc);
			secret_free(v);
			goto nomem;
		}
		r->tokens[r->n_tokens].scope = sc;
		r->tokens[r->n_tokens++].value = v;
	}
	r->auth = from->auth;
	r->answered = from->answered;
	r->pinged = from->pinged;
	if (!(r->base = strdup(from->base)))	/* last: the session is now pinged */
		goto nomem;
	return 1;
nomem:
	r->auth = AUTH_NONE;
	return nomem(e);
}

const char *reg_name(const struct reg *r)
{
	return r->name;
}

/* Remembers what the challenges of a 401 ask for; *out_scope (may be NULL)
 * gets the bearer challenge's scope parameter (borrowed from `ch`). */
static int learn_challenge(struct reg *r, const struct http_response *resp,
			   struct wire_challenges *ch, struct err *e)
{
	const struct wire_challenge *c;
	const char *v;
	size_t i = 0;

	while ((v = header_next(resp, "www-authenticate", &i)))
		if (wire_parse_challenges(ch, v, e) < 0)
			return err_prefix(e, "registry '%s' sent an invalid WWW-Authenticate header",
					  r->name);
	if ((c = wire_challenges_find(ch, "bearer")) && wire_challenge_param(c, "realm")) {
		const char *realm = wire_challenge_param(c, "realm");
		const char *service = wire_challenge_param(c, "service");
		char *nr = strdup(realm), *ns = service ? strdup(service) : NULL;
		if (!nr || (service && !ns)) {
			free(nr);
			free(ns);
			return nomem(e);
		}
		free(r->realm);
		free(r->service);
		r->realm = nr;
		r->service = ns;
		r->auth = AUTH_BEARER;
	} else if (wire_challenges_find(ch, "basic")) {
		r->auth = AUTH_BASIC;
	}
	return 0;
}

static int ping_one(struct reg *r, const char *scheme, struct http_response *resp, int no_retry,
		    int tls_probe, struct err *e)
{
	struct http_request req;
	struct buf url = BUF_INIT;
	int rc;

	buf_addf(&url, "%s://%s/v2/", scheme, r->host);
	if (buf_failed(&url))
		return nomem(e);
	http_request_init(&req, "GET", url.data);
	req.no_retry = no_retry;
	req.tls_probe = tls_probe;
	req.max_body = 64u << 10;
	rc = http_do(r->o.http, &req, resp, e);
	http_request_release(&req);
	buf_release(&url);
	return rc;
}

/* Sets r->base to "scheme://host" unless it is set. */
static int base_set(struct reg *r, const char *scheme, struct err *e)
{
	struct buf b = BUF_INIT;

	if (r->base)
		return 0;
	buf_addf(&b, "%s://%s", scheme, r->host);
	r->base = buf_detach(&b, NULL);
	return r->base ? 0 : nomem(e);
}

/* Fills `e` for a registry that could not be reached over `scheme`. */
static int connect_error(struct reg *r, const char *scheme, struct err *e)
{
	err_prefix(e, "cannot connect to registry '%s' over %s", r->name, scheme);
	if (e && strcasestr(e->msg, "certif")) {
		char msg[ERR_MSG_MAX];
		memcpy(msg, e->msg, sizeof(msg));
		msg[sizeof(msg) - 1] = '\0';
		err_set(e, ERR_NETWORK, "%.800s: if the registry uses a private CA, "
			"put it in /etc/docker/certs.d/%.64s/ca.crt, or use --insecure",
			msg, r->host);
	}
	return ERR_NETWORK;
}

/* Decides the scheme (once per session) and learns the auth scheme, as far
 * as `need` asks.  The scheme is known without a GET /v2/ when only one is
 * possible (https for a registry that is neither loopback nor insecure, a
 * mirror written with its scheme) and, for a loopback registry, from the
 * TLS probe: TLS spoken means https (verified by the request itself), a
 * probe answered otherwise means plain http, as the ping would have found.
 * An insecure registry that is not loopback is still pinged, https first.
 * Credentials are never sent before a challenge asks for them, so the
 * first request going without the ping changes nothing in what is sent to
 * whom: its 401 (reg_send) teaches what the ping's would have. */
static int reg_ping_for(struct reg *r, enum reg_need need, struct err *e)
{
	struct http_response resp;
	struct wire_challenges ch;
	struct err e2 = ERR_INIT;
	int allow_http = r->o.insecure || r->loopback;
	int ret = -1, rc, lazy = need == NEED_SCHEME;
	const char *scheme = "https";

	if (r->base && (lazy || r->pinged || (need == NEED_ANSWER && r->answered)))
		return 0;
	http_response_init(&resp);
	wire_challenges_init(&ch);
	if (r->o.scheme && !strcmp(r->o.scheme, "https"))
		allow_http = 0;
	if (r->base) {
		/* The scheme was decided without a request: ping it now. */
		scheme = strncmp(r->base, "http://", 7) ? "https" : "http";
		if ((rc = ping_one(r, scheme, &resp, 0, 0, e)) < 0) {
			ret = rc == ERR_NETWORK ? connect_error(r, scheme, e) : rc;
			goto out;
		}
	} else if (r->o.scheme && !strcmp(r->o.scheme, "http")) {
		/* A mirror written as http://: that scheme only. */
		scheme = "http";
		if (lazy) {
			ret = base_set(r, scheme, e);
			goto out;
		}
		if ((rc = ping_one(r, "http", &resp, 0, 0, e)) < 0) {
			ret = err_prefix(e, "cannot connect to registry '%s' over http", r->name);
			goto out;
		}
	} else if (!allow_http && lazy) {
		ret = base_set(r, scheme, e);	/* https, the only choice */
		goto out;
	} else if (r->loopback && !r->o.insecure) {
		/* Most loopback registries speak plain http: find out without
		 * TLS (http_tls_probe), or else with a handshake that loads no
		 * CAs (a probe whose answer is not used); TLS is verified by
		 * the ping or the first request, as ever. */
		int tls = http_tls_probe(r->o.http, r->host, NULL);

		if (tls == 1) {
			rc = 0;
		} else if (tls == 0) {
			rc = lazy ? ERR_NETWORK : err_set(e, ERR_NETWORK, "it does not speak TLS");
		} else {
			rc = ping_one(r, "https", &resp, 1, 1, e);
			if (rc == ERR_NETWORK && lazy)
				err_clear(e);
		}
		if (lazy && (rc == 0 || rc == ERR_NETWORK)) {
			ret = base_set(r, rc == 0 ? "https" : "http", e);
			goto out;
		}
		if (rc == 0) {
			http_response_release(&resp);
			http_response_init(&resp);
			rc = ping_one(r, "https", &resp, allow_http, 0, e);
		}
	} else {
		rc = ping_one(r, "https", &resp, allow_http, 0, e);
	}
	if (rc < 0 && rc != ERR_NETWORK) {
		ret = rc;
		goto out;
	}
	if (rc < 0) {
		http_response_release(&resp);
		http_response_init(&resp);
		if (!allow_http ||
		    ping_one(r, "http", &resp, 0, 0, &e2) < 0 ||
		    !(resp.status == 200 || resp.status == 401 || resp.status == 403 ||
		      http_response_header(&resp, "docker-distribution-api-version"))) {
			ret = connect_error(r, "https", e);
			goto out;
		}
		scheme = "http";
	}
	if (resp.status == 401 && (ret = learn_challenge(r, &resp, &ch, e)) < 0)
		goto out;
	if ((ret = base_set(r, scheme, e)) < 0)
		goto out;
	r->answered = r->pinged = 1;
	ret = 0;
out:
	wire_challenges_release(&ch);
	http_response_release(&resp);
	return ret;
}

/* ---- credentials and tokens ----------------------------------------------- */

static int creds_load(struct reg *r, struct err *e)
{
	int rc;

	if (r->creds_loaded)
		return 0;
	r->creds_loaded = 1;
	if (!r->o.creds)
		return 0;
	rc = r->o.creds(&r->creds, r->o.creds_arg, r->name, e);
	if (rc == ERR_NOT_FOUND) {
		creds_release(&r->creds);
		err_clear(e);
		return 0;
	}
	if (rc < 0)
		return err_prefix(e, "cannot read the credentials for '%s'", r->name);
	return 0;
}

static int have_basic(const struct reg *r)
{
	return r->creds.username && r->creds.password && *r->creds.username;
}

/* "Basic base64(user:password)"; with `identity`, the password is the
 * identity token (docker's GET fallback for a refresh token). */
static int basic_header(struct buf *out, struct reg *r, const char *url, int identity,
			struct err *e)
{
	const char *user = r->creds.username, *pass = r->creds.password;

	struct buf raw = BUF_INIT;

	if (url_is_plain_http(url) && !r->o.insecure) {
		struct buf h = BUF_INIT;
		int loop;
		host_only(&h, url);
		loop = ref_registry_is_loopback(h.data);
		buf_release(&h);
		if (!loop)
			return err_set(e, ERR_AUTH, "refusing to send the credentials for '%s' over "
				       "plain HTTP to a host that is not loopback: use https, or "
				       "--insecure", r->name);
	}
	if (identity) {
		user = user && *user ? user : "<token>";
		pass = r->creds.identity_token;
	}
	buf_addstr(&raw, user);
	buf_addch(&raw, ':');
	buf_addstr(&raw, pass);
	buf_addstr(out, "Basic ");
	base64_add(out, (const unsigned char *)raw.data, raw.len);
	memset(raw.data, 0, raw.len);
	buf_release(&raw);
	return buf_failed(out) ? nomem(e) : 0;
}

/* Checks that a realm is a URL hoist may send a token request to. */
static int realm_check(struct reg *r, struct err *e)
{
	struct buf origin = BUF_INIT, rh = BUF_INIT, gh = BUF_INIT;
	int ret = -1;

	if (strncasecmp(r->realm, "https://", 8) && strncasecmp(r->realm, "http://", 7)) {
		ret = err_set(e, ERR_AUTH, "registry '%s' names a token realm that is not an http(s) "
			      "URL", r->name);
		goto out;
	}
	if (http_url_origin(&origin, r->realm, e) < 0) {
		ret = err_prefix(e, "registry '%s' names an invalid token realm", r->name);
		goto out;
	}
	host_only(&rh, origin.data);
	host_only(&gh, r->host);
	if (host_is_internal_ip(rh.data) && !r->loopback && strcmp(rh.data, gh.data)) {
		char q[96];
		text_clean(q, sizeof(q), rh.data, rh.len);
		ret = err_set(e, ERR_AUTH, "registry '%s' names a token realm on the internal "
			      "address '%s': refused", r->name, q);
		goto out;
	}
	ret = 0;
out:
	buf_release(&origin);
	buf_release(&rh);
	buf_release(&gh);
	return ret;
}

/* Appends "&scope=..." for each space-separated scope. */
static void add_scopes(struct buf *b, const char *scope)
{
	const char *p = scope;

	while (*p) {
		size_t n = strcspn(p, " ");
		if (n) {
			char *one = strndup(p, n);
			if (!one) {
				buf_addch(b, 0);
				b->failed = ERR_NOMEM;
				return;
			}
			buf_addstr(b, "&scope=");
			url_escape(b, one);
			free(one);
		}
		p += n;
		while (*p == ' ')
			p++;
	}
}

static int token_parse(char **out, struct reg *r, const struct http_response *resp,
		       struct err *e)
{
	struct json *j = NULL;
	const char *t;
	int ret = -1;

	if (json_parse(&j, resp->body.data, resp->body.len, NULL) < 0) {
		ret = err_set(e, ERR_AUTH, "the token server of '%s' sent an invalid answer (not "
			      "JSON)", r->name);
		goto out;
	}
	t = json_get_str(j, "token");
	if (!t || !*t)
		t = json_get_str(j, "access_token");
	if (!t || !*t) {
		ret = err_set(e, ERR_AUTH, "the token server of '%s' sent no token", r->name);
		goto out;
	}
	if (strpbrk(t, "\r\n") || strlen(t) > 64 * 1024) {
		ret = err_set(e, ERR_AUTH, "the token server of '%s' sent an unusable token",
			      r->name);
		goto out;
	}
	*out = strdup(t);
	ret = *out ? 0 : nomem(e);
out:
	json_free(j);
	return ret;
}

/* Fetches a bearer token for `scope` (space-separated scopes, may be ""). */
static int token_fetch(char **out, struct reg *r, const char *scope, struct err *e)
{
	struct http_request req;
	struct http_response resp;
	struct buf url = BUF_INIT, body = BUF_INIT, hdr = BUF_INIT, what = BUF_INIT;
	int ret = -1, rc, tried_post = 0;

	*out = NULL;
	http_request_init(&req, "GET", NULL);
	http_response_init(&resp);
	if ((ret = realm_check(r, e)) < 0 || (ret = creds_load(r, e)) < 0)
		goto out;
	buf_addf(&what, "token request for '%s' to the realm of '%s'", *scope ? scope : "(none)",
		 r->name);
	if (r->creds.identity_token) {
		buf_addstr(&body, "grant_type=refresh_token&refresh_token=");
		url_escape(&body, r->creds.identity_token);
		buf_addstr(&body, "&client_id=hoist&service=");
		url_escape(&body, r->service ? r->service : "");
		if (*scope) {
			buf_addstr(&body, "&scope=");	/* OAuth2: one, space-separated */
			url_escape(&body, scope);
		}
		if (buf_failed(&body) || buf_failed(&what)) {
			ret = nomem(e);
			goto out;
		}
		req.method = "POST";
		req.url = r->realm;
		req.body = body.data;
		req.body_len = (int64_t)body.len;
		req.max_body = TOKEN_BODY_MAX;
		if (http_request_header(&req, "Content-Type: application/x-www-form-urlencoded") < 0) {
			ret = nomem(e);
			goto out;
		}
		rc = http_do(r->o.http, &req, &resp, e);
		if (rc < 0) {
			ret = err_prefix(e, "%s", what.data);
			goto out;
		}
		tried_post = 1;
		if (resp.status == 200) {
			ret = token_parse(out, r, &resp, e);
			goto out;
		}
		if (resp.status != 404 && resp.status != 405) {
			r->sent_creds = 1;
			ret = status_error(e, r, &resp, what.data);
			goto out;
		}
		http_request_release(&req);
		http_request_init(&req, "GET", NULL);
		http_response_release(&resp);
		http_response_init(&resp);
	}
	buf_addstr(&url, r->realm);
	buf_addch(&url, strchr(r->realm, '?') ? '&' : '?');
	buf_addstr(&url, "service=");
	url_escape(&url, r->service ? r->service : "");
	add_scopes(&url, scope);
	if (buf_failed(&url)) {
		ret = nomem(e);
		goto out;
	}
	req.url = url.data;
	req.max_body = TOKEN_BODY_MAX;
	r->sent_creds = 0;
	if (tried_post || have_basic(r)) {
		if ((ret = basic_header(&hdr, r, r->realm, tried_post, e)) < 0)
			goto out;
		if (http_request_header(&req, "Authorization: %s", hdr.data) < 0 ||
		    strvec_push(&req.secret_headers, "authorization") < 0) {
			ret = nomem(e);
			goto out;
		}
		r->sent_creds = 1;
	}
	rc = http_do(r->o.http, &req, &resp, e);
	if (rc < 0) {
		ret = err_prefix(e, "%s", what.data);
		goto out;
	}
	if (resp.status != 200) {
		ret = status_error(e, r, &resp, what.data);
		goto out;
	}
	ret = token_parse(out, r, &resp, e);
out:
	for (size_t i = 0; i < req.headers.n; i++)
		memset(req.headers.v[i], 0, strlen(req.headers.v[i]));
	http_request_release(&req);
	http_response_release(&resp);
	if (hdr.len)
		memset(hdr.data, 0, hdr.len);
	if (body.len)
		memset(body.data, 0, body.len);
	buf_release(&hdr);
	buf_release(&body);
	buf_release(&url);
	buf_release(&what);
	return ret;
}

static const char *token_cached(const struct reg *r, const char *scope)
{
	size_t i;

	for (i = 0; i < r->n_tokens; i++)
		if (!strcmp(r->tokens[i].scope, scope))
			return r->tokens[i].value;
	return NULL;
}

/* Stores a token (takes ownership of `value`). */
static int token_store(struct reg *r, const char *scope, char *value, struct err *e)
{
	size_t i;
	char *s;

	for (i = 0; i < r->n_tokens; i++)
		if (!strcmp(r->tokens[i].scope, scope)) {
			secret_free(r->tokens[i].value);
			r->tokens[i].value = value;
			return 0;
		}
	if (r->n_tokens == MAX_TOKENS) {
		free(r->tokens[0].scope);
		secret_free(r->tokens[0].value);
		memmove(&r->tokens[0], &r->tokens[1], (MAX_TOKENS - 1) * sizeof(r->tokens[0]));
		r->n_tokens--;
	}
	s = strdup(scope);
	if (!s) {
		secret_free(value);
		return nomem(e);
	}
	r->tokens[r->n_tokens].scope = s;
	r->tokens[r->n_tokens].value = value;
	r->n_tokens++;
	return 0;
}

/* The Authorization value for a request to the registry, or "" for none.
 * `fresh`: do not use a cached token. */
static int auth_value(struct buf *out, struct reg *r, const char *url, const char *scope,
		      int fresh, struct err *e)
{
	const char *tok;
	char *t = NULL;
	int rc;

	r->sent_creds = 0;
	if (r->auth == AUTH_NONE)
		return 0;
	if ((rc = creds_load(r, e)) < 0)
		return rc;
	if (r->auth == AUTH_BASIC) {
		if (!have_basic(r))
			return 0;
		rc = basic_header(out, r, url, 0, e);
		r->sent_creds = rc == 0;
		return rc;
	}
	if (r->creds.registry_token) {
		buf_addf(out, "Bearer %s", r->creds.registry_token);
		r->sent_creds = 1;
		return buf_failed(out) ? nomem(e) : 0;
	}
	tok = fresh ? NULL : token_cached(r, scope);
	if (!tok) {
		if ((rc = token_fetch(&t, r, scope, e)) < 0)
			return rc;
		if ((rc = token_store(r, scope, t, e)) < 0)
			return rc;
		tok = token_cached(r, scope);
	}
	buf_addf(out, "Bearer %s", tok);
	r->sent_creds = have_basic(r) || r->creds.identity_token;
	return buf_failed(out) ? nomem(e) : 0;
}

/* `scope` plus the items of `more` it lacks, as a new string. */
static char *scope_union(const char *scope, const char *more)
{
	struct buf b = BUF_INIT;
	const char *p = more;

	buf_addstr(&b, scope);
	while (p && *p) {
		size_t n = strcspn(p, " ");
		int found = 0;
		const char *q = scope;
		while (n && *q) {
			size_t m = strcspn(q, " ");
			if (m == n && !strncmp(p, q, n))
				found = 1;
			q += m;
			while (*q == ' ')
				q++;
		}
		if (n && !found) {
			if (b.len)
				buf_addch(&b, ' ');
			buf_add(&b, p, n);
		}
		p += n;
		while (*p == ' ')
			p++;
	}
	return buf_detach(&b, NULL);
}

static void header_pop(struct strvec *sv)
{
	if (sv->n) {
		char *h = sv->v[--sv->n];
		memset(h, 0, strlen(h));
		free(h);
		sv->v[sv->n] = NULL;
	}
}

/* Sends `req` to the registry with the credentials `scope` needs, answering
 * 401 challenges (a few rounds).  Returns 0 with any status in `resp`. */
static int reg_send(struct reg *r, struct http_request *req, struct http_response *resp,
		    const char *scope, struct err *e)
{
	char *cur = strdup(scope ? scope : "");
	int ret = -1, round, fresh = 0;

	if (!cur)
		return nomem(e);
	if (strvec_find(&req->secret_headers, "authorization") < 0 &&
	    strvec_push(&req->secret_headers, "authorization") < 0) {
		ret = nomem(e);
		goto out;
	}
	for (round = 0; round < MAX_AUTH_ROUNDS; round++) {
		struct buf av = BUF_INIT;
		struct wire_challenges ch;
		const struct wire_challenge *bc;
		enum reg_auth before = r->auth;
		int pushed = 0, rc;

		if (same_origin(req->url, r->base)) {
			rc = auth_value(&av, r, req->url, cur, fresh, e);
			if (rc < 0) {
				buf_release(&av);
				ret = rc;
				goto out;
			}
		} else {
			r->sent_creds = 0;
		}
		if (av.len) {
			if (http_request_header(req, "Authorization: %s", av.data) < 0) {
				memset(av.data, 0, av.len);
				buf_release(&av);
				ret = nomem(e);
				goto out;
			}
			pushed = 1;
			memset(av.data, 0, av.len);
		}
		buf_release(&av);
		rc = http_do(r->o.http, req, resp, e);
		if (pushed)
			header_pop(&req->headers);
		if (rc == ERR_NETWORK && !r->answered) {
			/* the first request, sent without a ping */
			ret = connect_error(r, strncmp(r->base, "http://", 7) ? "https" : "http", e);
			goto out;
		}
		if (rc < 0) {
			ret = rc;
			goto out;
		}
		if (same_origin(resp->url ? resp->url : req->url, r->base))
			r->answered = 1;
		if (resp->status != 401 || !same_origin(resp->url ? resp->url : req->url, r->base))
			break;
		wire_challenges_init(&ch);
		if (learn_challenge(r, resp, &ch, e) < 0) {
			wire_challenges_release(&ch);
			ret = e ? e->code : ERR_AUTH;
			goto out;
		}
		bc = r->auth == AUTH_BEARER ? wire_challenges_find(&ch, "bearer") : NULL;
		if (bc) {
			char *u = scope_union(cur, wire_challenge_param(bc, "scope"));
			int grew;
			if (!u) {
				wire_challenges_release(&ch);
				ret = nomem(e);
				goto out;
			}
			grew = strcmp(u, cur) != 0;
			free(cur);
			cur = u;
			wire_challenges_release(&ch);
			if (!grew && fresh && before == AUTH_BEARER)
				break;		/* a new token for the same scope was refused */
			if (r->creds.registry_token && before == AUTH_BEARER)
				break;
			fresh = 1;
			continue;
		}
		wire_challenges_release(&ch);
		if (r->auth == AUTH_BASIC && before != AUTH_BASIC) {
			if (creds_load(r, e) < 0) {
				ret = e ? e->code : ERR_AUTH;
				goto out;
			}
			if (have_basic(r))
				continue;
		}
		break;
	}
	ret = 0;
out:
	free(cur);
	return ret;
}

/* ---- requests ------------------------------------------------------------- */

static int repo_scope(struct buf *out, const char *repo, const char *actions)
{
	buf_addf(out, "repository:%s:%s", repo, actions);
	return buf_failed(out) ? ERR_NOMEM : 0;
}

static const char *const manifest_accept =
	"Accept: " MT_OCI_MANIFEST ", " MT_OCI_INDEX ", " MT_DOCKER_MANIFEST ", " MT_DOCKER_LIST
	", " MT_DOCKER_SCHEMA1_SIGNED ";q=0.1, " MT_DOCKER_SCHEMA1 ";q=0.1";

/* Copies the media type of a Content-Type value without parameters. */
static char *media_type_dup(const char *ct)
{
	size_t n;

	if (!ct)
		return NULL;
	n = strcspn(ct, "; \t");
	return strndup(ct, n);
}

static int digest_check(const struct digest *want, const char *data, size_t len,
			const struct digest *have_sha256, const char *what, struct err *e)
{
	struct digest got;
	int rc;

	if (want->alg == DIGEST_SHA256 && have_sha256) {
		got = *have_sha256;
	} else if ((rc = digest_buffer(&got, want->alg, data, len, e)) < 0) {
		return rc;
	}
	if (!digest_equal(&got, want))
		return err_set(e, ERR_DIGEST, "%s: the content does not match its digest: got %s",
			       what, got.str);
	return 0;
}

static int url_manifest(struct buf *url, struct buf *what, const char *method, struct reg *r,
			const char *repo, const char *part)
{
	buf_addf(url, "%s/v2/%s/manifests/%s", r->base, repo, part);
	buf_addf(what, "%s manifest %s/%s%s%s", method, r->name, repo,
		 strchr(part, ':') ? "@" : ":", part);
	return buf_failed(url) || buf_failed(what) ? ERR_NOMEM : 0;
}

static int manifest_get_one(struct manifest *out, struct reg *r, const struct ref *ref,
			    struct err *e)
{
	struct http_request req;
	struct http_response resp;
	struct buf url = BUF_INIT, what = BUF_INIT, scope = BUF_INIT;
	const char *part = ref->digest ? ref->digest : ref->tag ? ref->tag : "latest";
	const char *ct, *dcd;
	struct digest want;
	int ret = -1;

	manifest_init(out);
	http_request_init(&req, "GET", NULL);
	http_response_init(&resp);
	if ((ret = check_repo(ref->repository, e)) < 0 ||
	    (ret = check_tag_or_digest(part, e)) < 0 || (ret = reg_ping_lazy(r, e)) < 0)
		goto out;
	if (url_manifest(&url, &what, "GET", r, ref->repository, part) < 0 ||
	    repo_scope(&scope, ref->repository, "pull") < 0 ||
	    http_request_header(&req, "%s", manifest_accept) < 0) {
		ret = nomem(e);
		goto out;
	}
	req.url = url.data;
	req.max_body = r->o.manifest_max;
	ret = reg_send(r, &req, &resp, scope.data, e);
	if (ret == ERR_TOO_BIG) {
		ret = err_set(e, ERR_TOO_BIG, "%s: the manifest is larger than %zu bytes",
			      what.data, r->o.manifest_max);
		goto out;
	}
	if (ret < 0) {
		err_prefix(e, "%s", what.data);
		goto out;
	}
	if (resp.status != 200) {
		ret = status_error(e, r, &resp, what.data);
		goto out;
	}
	ct = http_response_header(&resp, "content-type");
	if (ct && mediatype_classify(ct) == MT_KIND_SCHEMA1) {
		ret = err_set(e, ERR_UNSUPPORTED, "%s: Docker schema1 manifests (%s) are not "
			      "supported: push the image again with a current client", what.data,
			      MT_DOCKER_SCHEMA1);
		goto out;
	}
	/* by digest: the bytes are checked before the parser sees them */
	if (ref->digest) {
		if ((ret = digest_parse(&want, ref->digest, e)) < 0 ||
		    (ret = digest_check(&want, resp.body.data, resp.body.len, NULL,
					what.data, e)) < 0)
			goto out;
	}
	if ((ret = manifest_parse(out, resp.body.data, resp.body.len,
				  ct && mediatype_classify(ct) != MT_KIND_UNKNOWN ? ct : NULL,
				  r->o.manifest_max, e)) < 0) {
		err_prefix(e, "%s", what.data);
		goto out;
	}
	dcd = http_response_header(&resp, "docker-content-digest");
	if (dcd && *dcd) {
		if (digest_parse(&want, dcd, NULL) < 0) {
			ret = err_set(e, ERR_INVALID, "%s: the registry sent an invalid "
				      "Docker-Content-Digest", what.data);
			goto out;
		}
		if ((ret = digest_check(&want, out->raw.data, out->raw.len, &out->digest,
					what.data, e)) < 0) {
			err_prefix(e, "Docker-Content-Digest %s", want.str);
			goto out;
		}
	}
	ret = 0;
out:
	if (ret < 0)
		manifest_release(out);
	http_request_release(&req);
	http_response_release(&resp);
	buf_release(&url);
	buf_release(&what);
	buf_release(&scope);
	return ret;
}

static int parse_size(int64_t *out, const char *s)
{
	char *end;
	long long v;

	if (!s || *s < '0' || *s > '9')
		return -1;
	errno = 0;
	v = strtoll(s, &end, 10);
	while (*end == ' ' || *end == '\t')
		end++;
	if (errno || *end || v < 0)
		return -1;
	*out = v;
	return 0;
}

static int manifest_head_one(struct descriptor *out, struct reg *r, const struct ref *ref,
			     struct err *e)
{
	struct http_request req;
	struct http_response resp;
	struct buf url = BUF_INIT, what = BUF_INIT, scope = BUF_INIT;
	const char *part = ref->digest ? ref->digest : ref->tag ? ref->tag : "latest";
	const char *ct, *dcd;
	int64_t size = -1;
	int ret = -1;

	descriptor_init(out);
	http_request_init(&req, "HEAD", NULL);
	http_response_init(&resp);
	if ((ret = check_repo(ref->repository, e)) < 0 ||
	    (ret = check_tag_or_digest(part, e)) < 0 || (ret = reg_ping_lazy(r, e)) < 0)
		goto out;
	if (url_manifest(&url, &what, "HEAD", r, ref->repository, part) < 0 ||
	    repo_scope(&scope, ref->repository, "pull") < 0 ||
	    http_request_header(&req, "%s", manifest_accept) < 0) {
		ret = nomem(e);
		goto out;
	}
	req.url = url.data;
	if ((ret = reg_send(r, &req, &resp, scope.data, e)) < 0) {
		err_prefix(e, "%s", what.data);
		goto out;
	}
	if (resp.status != 200) {
		ret = status_error(e, r, &resp, what.data);
		goto out;
	}
	ct = http_response_header(&resp, "content-type");
	dcd = http_response_header(&resp, "docker-content-digest");
	if (ct && mediatype_classify(ct) == MT_KIND_SCHEMA1) {
		ret = err_set(e, ERR_UNSUPPORTED, "%s: Docker schema1 manifests (%s) are not "
			      "supported: push the image again with a current client", what.data,
			      MT_DOCKER_SCHEMA1);
		goto out;
	}
	if (!dcd || !ct || mediatype_classify(ct) == MT_KIND_UNKNOWN ||
	    parse_size(&size, http_response_header(&resp, "content-length")) < 0 ||
	    digest_parse(&out->digest, dcd, NULL) < 0) {
		/* not enough to go on: fetch it */
		struct manifest m;
		ret = manifest_get_one(&m, r, ref, e);
		if (ret < 0)
			goto out;
		out->media_type = strdup(m.media_type ? m.media_type : "");
		out->digest = m.digest;
		out->size = (int64_t)m.raw.len;
		manifest_release(&m);
		ret = out->media_type ? 0 : nomem(e);
		goto out;
	}
	if ((size_t)size > r->o.manifest_max) {
		ret = err_set(e, ERR_TOO_BIG, "%s: the manifest is larger than %zu bytes", what.data,
			      r->o.manifest_max);
		goto out;
	}
	if (ref->digest && strcmp(ref->digest, out->digest.str)) {
		ret = err_set(e, ERR_DIGEST, "%s: the registry answered with another digest (%s)",
			      what.data, out->digest.str);
		goto out;
	}
	out->size = size;
	out->media_type = media_type_dup(ct);
	ret = out->media_type ? 0 : nomem(e);
out:
	if (ret < 0)
		descriptor_release(out);
	http_request_release(&req);
	http_response_release(&resp);
	buf_release(&url);
	buf_release(&what);
	buf_release(&scope);
	return ret;
}

int reg_manifest_put(struct digest *out, struct reg *r, const char *repo,
		     const char *tag_or_digest, const char *media_type, const void *data,
		     size_t len, struct err *e)
{
	struct http_request req;
	struct http_response resp;
	struct buf url = BUF_INIT, what = BUF_INIT, scope = BUF_INIT;
	struct digest d, want;
	const char *dcd;
	int ret = -1;

	http_request_init(&req, "PUT", NULL);
	http_response_init(&resp);
	if ((ret = check_repo(repo, e)) < 0 || (ret = check_tag_or_digest(tag_or_digest, e)) < 0)
		goto out;
	if (!media_type || !mediatype_valid(media_type)) {
		ret = err_set(e, ERR_INVALID, "invalid media type for a manifest");
		goto out;
	}
	if (strchr(tag_or_digest, ':')) {
		if ((ret = digest_parse(&want, tag_or_digest, e)) < 0 ||
		    (ret = digest_buffer(&d, want.alg, data, len, e)) < 0)
			goto out;
		if (!digest_equal(&d, &want)) {
			ret = err_set(e, ERR_DIGEST, "manifest to push as %s hashes to %s", want.str,
				      d.str);
			goto out;
		}
	}
	if ((ret = digest_buffer(&d, DIGEST_SHA256, data, len, e)) < 0 ||
	    (ret = reg_ping(r, e)) < 0)
		goto out;
	if (url_manifest(&url, &what, "PUT", r, repo, tag_or_digest) < 0 ||
	    repo_scope(&scope, repo, "pull,push") < 0 ||
	    http_request_header(&req, "Content-Type: %s", media_type) < 0) {
		ret = nomem(e);
		goto out;
	}
	req.url = url.data;
	req.body = data;
	req.body_len = (int64_t)len;
	if ((ret = reg_send(r, &req, &resp, scope.data, e)) < 0) {
		err_prefix(e, "%s", what.data);
		goto out;
	}
	if (resp.status < 200 || resp.status >= 300) {
		ret = status_error(e, r, &resp, what.data);
		goto out;
	}
	dcd = http_response_header(&resp, "docker-content-digest");
	if (dcd && *dcd && digest_parse(&want, dcd, NULL) == 0 && want.alg == DIGEST_SHA256 &&
	    !digest_equal(&want, &d)) {
		ret = err_set(e, ERR_DIGEST, "%s: the registry stored it as %s, not %s", what.data,
			      want.str, d.str);
		goto out;
	}
	if (out)
		*out = d;
	ret = 0;
out:
	http_request_release(&req);
	http_response_release(&resp);
	buf_release(&url);
	buf_release(&what);
	buf_release(&scope);
	return ret;
}

int reg_manifest_delete(struct reg *r, const char *repo, const char *tag_or_digest,
			struct err *e)
{
	struct http_request req;
	struct http_response resp;
	struct buf url = BUF_INIT, what = BUF_INIT, scope = BUF_INIT;
	int ret = -1;

	http_request_init(&req, "DELETE", NULL);
	http_response_init(&resp);
	if ((ret = check_repo(repo, e)) < 0 ||
	    (ret = check_tag_or_digest(tag_or_digest, e)) < 0 || (ret = reg_ping(r, e)) < 0)
		goto out;
	if (url_manifest(&url, &what, "DELETE", r, repo, tag_or_digest) < 0 ||
	    repo_scope(&scope, repo, "delete") < 0) {
		ret = nomem(e);
		goto out;
	}
	req.url = url.data;
	if ((ret = reg_send(r, &req, &resp, scope.data, e)) < 0) {
		err_prefix(e, "%s", what.data);
		goto out;
	}
	if (resp.status < 200 || resp.status >= 300) {
		ret = status_error(e, r, &resp, what.data);
		goto out;
	}
	ret = 0;
out:
	http_request_release(&req);
	http_response_release(&resp);
	buf_release(&url);
	buf_release(&what);
	buf_release(&scope);
	return ret;
}

/* ---- blobs ---------------------------------------------------------------- */

struct blob_sink {
	http_sink_fn sink;
	void *arg;
	struct digest_ctx ctx;
	int hashing;		/* 0: the sink verifies the digest (REG_BLOBS_SINK_VERIFIES) */
	int64_t want;		/* -1: unknown */
	int64_t got;
	int64_t range_from;	/* the Range start of the current attempt */
	int64_t skip;		/* bytes still to drop: the server ignored our Range */
	int first;		/* the next byte is the first of this attempt */
	const struct http_response *resp;
	const char *what;
};

static int blob_sink_cb(void *arg, const char *data, size_t len, struct err *e)
{
	struct blob_sink *bs = arg;
	int rc;

	if (bs->first) {
		bs->first = 0;
		/* a 200 with the whole blob instead of a 206 after a resume:
		 * drop what we already have */
		if (bs->range_from && bs->resp &&
		    !http_response_header(bs->resp, "content-range"))
			bs->skip = bs->range_from;
	}
	if (bs->skip) {
		size_t k = bs->skip < (int64_t)len ? (size_t)bs->skip : len;
		bs->skip -= (int64_t)k;
		data += k;
		len -= k;
		if (!len)
			return 0;
	}
	if (bs->want >= 0 && (int64_t)len > bs->want - bs->got)
		return err_set(e, ERR_DIGEST, "the registry sent more than the %" PRId64
			       " bytes the descriptor announces", bs->want);	/* callers prefix bs->what */
	if (bs->hashing && (rc = digest_ctx_update(&bs->ctx, data, len, e)) < 0)
		return rc;
	bs->got += (int64_t)len;
	return bs->sink(bs->arg, data, len, e);
}

/* Size and (unless the sink verifies) digest, once the body is complete. */
static int blob_sink_check(struct blob_sink *bs, const struct digest *want, struct err *e)
{
	struct digest got;

	if (bs->want >= 0 && bs->got != bs->want)
		return err_set(e, ERR_DIGEST, "%s: got %" PRId64 " bytes, the descriptor "
			       "announces %" PRId64, bs->what, bs->got, bs->want);
	if (!bs->hashing)
		return 0;
	digest_ctx_final(&bs->ctx, &got);
	bs->hashing = 0;
	digest_ctx_release(&bs->ctx);
	if (!digest_equal(&got, want))
		return err_set(e, ERR_DIGEST, "%s: the content does not match its digest: got %s",
			       bs->what, got.str);
	return 0;
}

/* Fetches what is left of a blob, one request at a time (answering auth
 * challenges), resuming with Range after dropped connections. */
static int blob_get_rest(struct reg *r, const char *url, const char *scope, struct blob_sink *bs,
			 int resumes, struct err *e)
{
	struct http_request req;
	struct http_response resp;
	int ret;

	http_request_init(&req, "GET", NULL);
	http_response_init(&resp);
	for (;;) {
		int64_t before = bs->got;

		http_request_release(&req);
		http_request_init(&req, "GET", url);
		req.sink = blob_sink_cb;
		req.sink_arg = bs;
		bs->range_from = bs->got;
		bs->first = 1;
		bs->skip = 0;
		bs->resp = &resp;
		if (bs->got && http_request_header(&req, "Range: bytes=%" PRId64 "-", bs->got) < 0) {
			ret = nomem(e);
			goto out;
		}
		ret = reg_send(r, &req, &resp, scope, e);
		if (ret == ERR_NETWORK && bs->got > before && resumes < MAX_BLOB_RESUMES &&
		    (bs->want < 0 || bs->got < bs->want)) {
			resumes++;
			err_clear(e);
			continue;
		}
		if (ret < 0) {
			err_prefix(e, "%s", bs->what);
			goto out;
		}
		if (resp.status >= 200 && resp.status < 300)
			break;
		ret = status_error(e, r, &resp, bs->what);
		goto out;
	}
	ret = 0;
out:
	bs->resp = NULL;
	http_request_release(&req);
	http_response_release(&resp);
	return ret;
}

static int blob_names(struct buf *url, struct buf *what, struct reg *r, const char *repo,
		      const struct digest *d)
{
	buf_addf(url, "%s/v2/%s/blobs/%s", r->base, repo, d->str);
	buf_addf(what, "GET blob %s/%s@%s", r->name, repo, d->str);
	return buf_failed(url) || buf_failed(what) ? ERR_NOMEM : 0;
}

static int blob_get_one(struct reg *r, const char *repo, const struct descriptor *d,
			http_sink_fn sink, void *arg, struct err *e)
{
	struct buf url = BUF_INIT, what = BUF_INIT, scope = BUF_INIT;
	struct blob_sink bs;
	int ret = -1;

	memset(&bs, 0, sizeof(bs));
	if ((ret = check_repo(repo, e)) < 0 || (ret = reg_ping(r, e)) < 0)
		goto out;
	if (blob_names(&url, &what, r, repo, &d->digest) < 0 ||
	    repo_scope(&scope, repo, "pull") < 0) {
		ret = nomem(e);
		goto out;
	}
	if ((ret = digest_ctx_init(&bs.ctx, d->digest.alg, e)) < 0)
		goto out;
	bs.hashing = 1;
	bs.sink = sink;
	bs.arg = arg;
	bs.want = d->size;
	bs.what = what.data;
	if ((ret = blob_get_rest(r, url.data, scope.data, &bs, 0, e)) < 0)
		goto out;
	ret = blob_sink_check(&bs, &d->digest, e);
out:
	if (bs.hashing)
		digest_ctx_release(&bs.ctx);
	buf_release(&url);
	buf_release(&what);
	buf_release(&scope);
	return ret;
}

/* One blob of reg_blob_get_many() in flight. */
struct blob_job {
	struct http_request req;
	struct http_response resp;
	struct buf url;
	struct buf what;
	struct blob_sink bs;
	int ready;		/* req and resp initialised */
};

static int blobs_get_one(struct reg *r, const char *repo, struct reg_blob_fetch *fs, size_t n,
			 int parallel, unsigned flags, struct err *e)
{
	struct buf scope = BUF_INIT, av = BUF_INIT;
	struct blob_job *jobs = NULL;
	struct http_request **reqs = NULL;
	struct http_response **resps = NULL;
	struct err *errs = NULL;
	int *rcs = NULL;
	size_t i;
	int ret = -1, first = 0;

	for (i = 0; i < n; i++) {
		fs[i].rc = ERR_FAIL;
		err_clear(&fs[i].err);
		fs[i].done = 0;
	}
	if (!n)
		return 0;
	if ((ret = check_repo(repo, e)) < 0 || (ret = reg_ping(r, e)) < 0)
		goto out;
	if (repo_scope(&scope, repo, "pull") < 0) {
		ret = nomem(e);
		goto out;
	}
	jobs = calloc(n, sizeof(*jobs));
	reqs = calloc(n, sizeof(*reqs));
	resps = calloc(n, sizeof(*resps));
	errs = calloc(n, sizeof(*errs));
	rcs = calloc(n, sizeof(*rcs));
	if (!jobs || !reqs || !resps || !errs || !rcs) {
		ret = nomem(e);
		goto out;
	}
	/* One serial request for the token (when the registry wants one);
	 * then every GET carries it.  A GET answered 401 (expired token) is
	 * finished serially below, answering the challenge. */
	if ((ret = auth_value(&av, r, r->base, scope.data, 0, e)) < 0)
		goto out;
	for (i = 0; i < n; i++) {
		struct blob_job *j = &jobs[i];
		const struct descriptor *d = fs[i].d;

		buf_init(&j->url, 0);
		buf_init(&j->what, 0);
		http_request_init(&j->req, "GET", NULL);
		http_response_init(&j->resp);
		j->ready = 1;
		if (blob_names(&j->url, &j->what, r, repo, &d->digest) < 0) {
			ret = nomem(e);
			goto out;
		}
		j->req.url = j->url.data;
		j->req.sink = blob_sink_cb;
		j->req.sink_arg = &j->bs;
		if ((av.len && http_request_header(&j->req, "Authorization: %s", av.data) < 0) ||
		    strvec_push(&j->req.secret_headers, "authorization") < 0) {
			ret = nomem(e);
			goto out;
		}
		j->bs.sink = fs[i].sink;
		j->bs.arg = fs[i].arg;
		j->bs.want = d->size;
		j->bs.what = j->what.data;
		j->bs.first = 1;
		j->bs.resp = &j->resp;
		if (!(flags & REG_BLOBS_SINK_VERIFIES)) {
			if ((ret = digest_ctx_init(&j->bs.ctx, d->digest.alg, e)) < 0)
				goto out;
			j->bs.hashing = 1;
		}
		reqs[i] = &j->req;
		resps[i] = &j->resp;
	}
	http_do_many(r->o.http, reqs, resps, rcs, errs, n, parallel);
	for (i = 0; i < n; i++) {
		struct blob_job *j = &jobs[i];
		struct reg_blob_fetch *f = &fs[i];
		int rc = rcs[i];

		f->err = errs[i];
		if (rc == 0 && j->resp.status >= 200 && j->resp.status < 300) {
			rc = 0;
		} else if ((rc == 0 && j->resp.status == 401) ||
			   (rc == ERR_NETWORK && j->bs.got > 0 &&
			    (j->bs.want < 0 || j->bs.got < j->bs.want))) {
			/* an expired token, or a dropped connection: go on serially */
			err_clear(&f->err);
			rc = blob_get_rest(r, j->url.data, scope.data, &j->bs,
					   rc == ERR_NETWORK, &f->err);
		} else if (rc < 0) {
			err_prefix(&f->err, "%s", j->what.data);
		} else {
			rc = status_error(&f->err, r, &j->resp, j->what.data);
		}
		if (rc == 0)
			rc = blob_sink_check(&j->bs, &f->d->digest, &f->err);
		f->rc = rc;
		f->done = j->bs.got;
		if (rc < 0 && !first) {
			first = rc;
			if (e)
				*e = f->err;
		}
	}
	ret = first;
out:
	if (av.len)
		memset(av.data, 0, av.len);
	buf_release(&av);
	for (i = 0; jobs && i < n; i++) {
		struct blob_job *j = &jobs[i];
		if (!j->ready)
			continue;
		if (j->bs.hashing)
			digest_ctx_release(&j->bs.ctx);
		http_request_release(&j->req);
		http_response_release(&j->resp);
		buf_release(&j->url);
		buf_release(&j->what);
	}
	if (ret < 0 && first == 0)
		for (i = 0; i < n; i++)
			if (fs[i].rc == ERR_FAIL && e) {
				fs[i].rc = ret;
				fs[i].err = *e;
			}
	free(jobs);
	free(reqs);
	free(resps);
	free(errs);
	free(rcs);
	buf_release(&scope);
	return ret;
}

static int blob_head_scoped(int64_t *out_size, struct reg *r, const char *repo,
			    const struct digest *digest, const char *scope, struct err *e)
{
	struct http_request req;
	struct http_response resp;
	struct buf url = BUF_INIT, what = BUF_INIT;
	int64_t size = -1;
	int ret = -1;

	http_request_init(&req, "HEAD", NULL);
	http_response_init(&resp);
	buf_addf(&url, "%s/v2/%s/blobs/%s", r->base, repo, digest->str);
	buf_addf(&what, "HEAD blob %s/%s@%s", r->name, repo, digest->str);
	if (buf_failed(&url) || buf_failed(&what)) {
		ret = nomem(e);
		goto out;
	}
	req.url = url.data;
	if ((ret = reg_send(r, &req, &resp, scope, e)) < 0) {
		err_prefix(e, "%s", what.data);
		goto out;
	}
	if (resp.status != 200) {
		ret = status_error(e, r, &resp, what.data);
		goto out;
	}
	if (parse_size(&size, http_response_header(&resp, "content-length")) < 0)
		size = -1;
	if (out_size)
		*out_size = size;
	ret = 0;
out:
	http_request_release(&req);
	http_response_release(&resp);
	buf_release(&url);
	buf_release(&what);
	return ret;
}

int reg_blob_head(int64_t *out_size, struct reg *r, const char *repo,
		  const struct digest *digest, struct err *e)
{
	struct buf scope = BUF_INIT;
	int ret;

	if ((ret = check_repo(repo, e)) < 0 || (ret = reg_ping_lazy(r, e)) < 0)
		return ret;
	if (repo_scope(&scope, repo, "pull") < 0)
		return nomem(e);
	ret = blob_head_scoped(out_size, r, repo, digest, scope.data, e);
	buf_release(&scope);
	return ret;
}

struct upload {
	struct reg *r;
	const char *repo;
	const struct descriptor *d;
	int fd;
	const void *data;
	ssize_t (*read)(void *arg, char *dst, size_t len);	/* a stream, or NULL */
	void *read_arg;
	const char *scope;
	const char *what;
	int retryable;		/* the last failure may go away on another try */
	int mounted;		/* the registry answered the mount with 201 */
	int existed;		/* a refused mount found the blob there already */
};

static int upload_fail(struct upload *u, const struct http_response *resp, struct err *e)
{
	u->retryable = resp->status == 408 || resp->status == 429 || resp->status >= 500;
	return status_error(e, u->r, resp, u->what);
}

static int upload_location(char **out, struct upload *u, const struct http_response *resp,
			   const char *base, struct err *e)
{
	const char *loc = http_response_header(resp, "location");

	*out = NULL;
	if (!loc || !*loc)
		return err_set(e, ERR_REGISTRY, "%s: the registry sent no upload location "
			       "(HTTP %ld)", u->what, resp->status);
	if (wire_resolve_url(out, resp->url ? resp->url : base, loc, e) < 0)
		return err_prefix(e, "%s: unusable upload location", u->what);
	return 0;
}

static void upload_body(struct http_request *req, const struct upload *u, int64_t off,
			int64_t n)
{
	if (u->read) {
		req->body_read = u->read;
		req->body_read_arg = u->read_arg;
	} else if (u->fd >= 0) {
		req->body_fd = u->fd;
		req->body_offset = (off_t)off;
	} else {
		req->body = (const char *)u->data + off;
	}
	req->body_len = n;
}

static int upload_once(struct upload *u, const char *mount_from, struct err *e)
{
	struct reg *r = u->r;
	struct http_request req;
	struct http_response resp;
	struct buf url = BUF_INIT;
	char *loc = NULL;
	const char *v, *dcd;
	int64_t size = u->d->size, chunk_min = 0, chunk, off;
	struct digest got;
	int ret = -1, rc;

	u->retryable = 0;
	http_request_init(&req, "POST", NULL);
	http_response_init(&resp);
	buf_addf(&url, "%s/v2/%s/blobs/uploads/", r->base, u->repo);
	if (mount_from) {
		buf_addstr(&url, "?mount=");
		url_escape(&url, u->d->digest.str);
		buf_addstr(&url, "&from=");
		url_escape(&url, mount_from);
	}
	if (buf_failed(&url)) {
		ret = nomem(e);
		goto out;
	}
	req.url = url.data;
	if ((rc = reg_send(r, &req, &resp, u->scope, e)) < 0) {
		u->retryable = rc == ERR_NETWORK;
		ret = err_prefix(e, "%s", u->what);
		goto out;
	}
	if (mount_from && resp.status == 201) {
		u->mounted = 1;
		ret = 0;	/* mounted */
		goto out;
	}
	if (resp.status != 202) {
		ret = upload_fail(u, &resp, e);
		goto out;
	}
	if ((v = http_response_header(&resp, "oci-chunk-min-length")) &&
	    (parse_size(&chunk_min, v) < 0 || chunk_min > ((int64_t)1 << 40)))
		chunk_min = 0;
	if ((ret = upload_location(&loc, u, &resp, url.data, e)) < 0)
		goto out;
	if (mount_from && blob_head_scoped(NULL, r, u->repo, &u->d->digest, u->scope,
					   NULL) == 0) {
		/* no mount (202), but the blob is there already: the HEAD the
		 * mount replaced, asked only now; the session is not needed */
		http_request_release(&req);
		http_request_init(&req, "DELETE", loc);
		http_response_release(&resp);
		http_response_init(&resp);
		reg_send(r, &req, &resp, u->scope, NULL);
		u->existed = 1;
		ret = 0;
		goto out;
	}
	if (u->fd < 0 && !u->data && !u->read && size > 0) {
		/* a mount was all the caller could offer: cancel the upload */
		http_request_release(&req);
		http_request_init(&req, "DELETE", loc);
		http_response_release(&resp);
		http_response_init(&resp);
		reg_send(r, &req, &resp, u->scope, NULL);
		ret = err_set(e, ERR_NOT_FOUND, "%s: the registry did not mount it from '%s', and "
			      "no content was given to upload", u->what, mount_from ? mount_from : "");
		goto out;
	}

	if (size < (int64_t)REG_MONOLITHIC_MAX && !r->o.upload_chunk && !chunk_min) {
		off = size;	/* the whole body goes with the PUT */
	} else {
		chunk = r->o.upload_chunk ? (int64_t)r->o.upload_chunk : size;
		if (chunk < chunk_min)
			chunk = chunk_min;
		if (chunk < 1)
			chunk = 1;
		for (off = 0; off < size;) {
			int64_t n = size - off < chunk ? size - off : chunk;
			char *next = NULL;

			http_request_release(&req);
			http_request_init(&req, "PATCH", loc);
			http_response_release(&resp);
			http_response_init(&resp);
			req.no_retry = 1;
			upload_body(&req, u, off, n);
			if (http_request_header(&req, "Content-Type: application/octet-stream") < 0 ||
			    http_request_header(&req, "Content-Range: %" PRId64 "-%" PRId64, off,
						off + n - 1) < 0) {
				ret = nomem(e);
				goto out;
			}
			if ((rc = reg_send(r, &req, &resp, u->scope, e)) < 0) {
				u->retryable = rc == ERR_NETWORK;
				ret = err_prefix(e, "%s", u->what);
				goto out;
			}
			if (resp.status != 202 && resp.status != 204) {
				ret = upload_fail(u, &resp, e);
				goto out;
			}
			if ((ret = upload_location(&next, u, &resp, loc, e)) < 0)
				goto out;
			free(loc);
			loc = next;
			off += n;
		}
		off = 0;	/* nothing left for the PUT */
	}

	buf_reset(&url);
	buf_addstr(&url, loc);
	buf_addstr(&url, strchr(loc, '?') ? "&digest=" : "?digest=");
	url_escape(&url, u->d->digest.str);
	if (buf_failed(&url)) {
		ret = nomem(e);
		goto out;
	}
	http_request_release(&req);
	http_request_init(&req, "PUT", url.data);
	http_response_release(&resp);
	http_response_init(&resp);
	req.no_retry = 1;
	if (off) {
		upload_body(&req, u, 0, size);
		if (http_request_header(&req, "Content-Type: application/octet-stream") < 0) {
			ret = nomem(e);
			goto out;
		}
	} else if (size == 0) {
		upload_body(&req, u, 0, 0);
	}
	if ((rc = reg_send(r, &req, &resp, u->scope, e)) < 0) {
		u->retryable = rc == ERR_NETWORK;
		ret = err_prefix(e, "%s", u->what);
		goto out;
	}
	if (resp.status < 200 || resp.status >= 300) {
		ret = upload_fail(u, &resp, e);
		goto out;
	}
	dcd = http_response_header(&resp, "docker-content-digest");
	if (dcd && *dcd && digest_parse(&got, dcd, NULL) == 0 && got.alg == u->d->digest.alg &&
	    !digest_equal(&got, &u->d->digest)) {
		ret = err_set(e, ERR_DIGEST, "%s: the registry stored it as %s", u->what, got.str);
		goto out;
	}
	ret = 0;
out:
	free(loc);
	http_request_release(&req);
	http_response_release(&resp);
	buf_release(&url);
	return ret;
}

static int blob_upload(enum reg_blob_how *out_how, struct reg *r, const char *repo,
		       const struct descriptor *d, int fd, const void *data,
		       const char *mount_from, struct err *e)
{
	struct buf scope = BUF_INIT, what = BUF_INIT;
	struct upload u;
	int ret = -1, attempt;

	if ((ret = check_repo(repo, e)) < 0)
		goto out;
	if (mount_from && (check_repo(mount_from, NULL) < 0 || !strcmp(mount_from, repo)))
		mount_from = NULL;
	if (d->size < 0 || (fd < 0 && !data && d->size > 0 && !mount_from)) {
		ret = err_set(e, ERR_USAGE, "cannot upload blob %s: no content given", d->digest.str);
		goto out;
	}
	if ((ret = reg_ping(r, e)) < 0)
		goto out;
	repo_scope(&scope, repo, "pull,push");
	if (mount_from) {
		buf_addch(&scope, ' ');
		repo_scope(&scope, mount_from, "pull");
	}
	buf_addf(&what, "upload blob %s/%s@%s", r->name, repo, d->digest.str);
	if (buf_failed(&scope) || buf_failed(&what)) {
		ret = nomem(e);
		goto out;
	}
	if (out_how)
		*out_how = REG_BLOB_EXISTED;
	if (!mount_from) {
		/* with a mount to try, the mount comes first: it is one request
		 * when it works (distribution answers 201 whether or not `repo`
		 * had the blob), and a 202 is followed by the HEAD (upload_once) */
		ret = blob_head_scoped(NULL, r, repo, &d->digest, scope.data, e);
		if (ret == 0)
			goto out;
		if (ret != ERR_NOT_FOUND)
			goto out;
		err_clear(e);
	}
	memset(&u, 0, sizeof(u));
	u.r = r;
	u.repo = repo;
	u.d = d;
	u.fd = fd;
	u.data = data;
	u.scope = scope.data;
	u.what = what.data;
	for (attempt = 0; attempt < MAX_UPLOAD_ATTEMPTS; attempt++) {
		ret = upload_once(&u, attempt == 0 ? mount_from : NULL, e);
		if (ret == 0 || !u.retryable)
			break;
	}
	if (ret < 0 && mount_from && e->http_status >= 400 && e->http_status < 500 &&
	    blob_head_scoped(NULL, r, repo, &d->digest, scope.data, NULL) == 0) {
		/* a registry that refuses mounts outright, for a blob that
		 * `repo` has: what the HEAD first would have found */
		err_clear(e);
		u.existed = 1;
		ret = 0;
	}
	if (ret == 0 && out_how)
		*out_how = u.existed ? REG_BLOB_EXISTED :
			   u.mounted ? REG_BLOB_MOUNTED : REG_BLOB_UPLOADED;
out:
	buf_release(&scope);
	buf_release(&what);
	return ret;
}

int reg_blob_upload(struct reg *r, const char *repo, const struct descriptor *d, int fd,
		    const void *data, const char *mount_from, struct err *e)
{
	return blob_upload(NULL, r, repo, d, fd, data, mount_from, e);
}

int reg_blob_send(enum reg_blob_how *out, struct reg *r, const char *repo,
		  const struct descriptor *d, int fd, const char *mount_from, struct err *e)
{
	*out = REG_BLOB_EXISTED;
	return blob_upload(out, r, repo, d, fd, NULL, mount_from, e);
}

int reg_blob_upload_stream(struct reg *r, const char *repo, const struct descriptor *d,
			   ssize_t (*read)(void *arg, char *dst, size_t len), void *arg,
			   struct err *e)
{
	struct buf scope = BUF_INIT, what = BUF_INIT;
	struct upload u;
	int ret = -1;

	if ((ret = check_repo(repo, e)) < 0)
		goto out;
	if (d->size < 0 || !read) {
		ret = err_set(e, ERR_USAGE, "cannot upload blob %s: no content given", d->digest.str);
		goto out;
	}
	if ((ret = reg_ping(r, e)) < 0)
		goto out;
	repo_scope(&scope, repo, "pull,push");
	buf_addf(&what, "upload blob %s/%s@%s", r->name, repo, d->digest.str);
	if (buf_failed(&scope) || buf_failed(&what)) {
		ret = nomem(e);
		goto out;
	}
	memset(&u, 0, sizeof(u));
	u.r = r;
	u.repo = repo;
	u.d = d;
	u.fd = -1;
	u.read = read;
	u.read_arg = arg;
	u.scope = scope.data;
	u.what = what.data;
	ret = upload_once(&u, NULL, e);
out:
	buf_release(&scope);
	buf_release(&what);
	return ret;
}

/* ---- listings ------------------------------------------------------------- */

static int list_pages(struct strvec *out, struct reg *r, const char *first_url,
		      const char *key, const char *scope, const char *what, struct err *e)
{
	struct http_request req;
	struct http_response resp;
	struct strvec seen = STRVEC_INIT;
	struct json *j = NULL;
	char *url = strdup(first_url);
	size_t pages, total = 0;
	int ret = -1;

	http_request_init(&req, "GET", NULL);
	http_response_init(&resp);
	if (!url) {
		ret = nomem(e);
		goto out;
	}
	for (pages = 0;; pages++) {
		const char *link;
		char *next = NULL, *abs = NULL;
		struct json *arr;
		size_t i, n;

		if (pages >= REG_LIST_MAX_PAGES) {
			ret = err_set(e, ERR_TOO_BIG, "%s: more than %d pages", what,
				      REG_LIST_MAX_PAGES);
			goto out;
		}
		if (strvec_push(&seen, url) < 0) {
			ret = nomem(e);
			goto out;
		}
		http_request_release(&req);
		http_request_init(&req, "GET", url);
		req.max_body = REG_LIST_PAGE_MAX_BYTES;
		if ((ret = reg_send(r, &req, &resp, scope, e)) < 0) {
			err_prefix(e, "%s", what);
			goto out;
		}
		if (resp.status != 200) {
			ret = status_error(e, r, &resp, what);
			goto out;
		}
		json_free(j);
		j = NULL;
		if (json_parse(&j, resp.body.data, resp.body.len, NULL) < 0 ||
		    json_kind_of(j) != JSON_OBJECT) {
			ret = err_set(e, ERR_INVALID, "%s: the registry sent invalid JSON", what);
			goto out;
		}
		arr = json_get(j, key);
		if (arr && json_kind_of(arr) != JSON_NULL && json_kind_of(arr) != JSON_ARRAY) {
			ret = err_set(e, ERR_INVALID, "%s: \"%s\" is not an array", what, key);
			goto out;
		}
		n = json_array_len(arr);
		for (i = 0; i < n; i++) {
			const char *s = json_str(json_array_get(arr, i));
			if (!s) {
				ret = err_set(e, ERR_INVALID, "%s: \"%s\"[%zu] is not a string", what,
					      key, i);
				goto out;
			}
			if (++total > REG_LIST_MAX_ENTRIES) {
				ret = err_set(e, ERR_TOO_BIG, "%s: more than %d entries", what,
					      REG_LIST_MAX_ENTRIES);
				goto out;
			}
			if (strvec_push(out, s) < 0) {
				ret = nomem(e);
				goto out;
			}
		}
		link = http_response_header(&resp, "link");
		if (!link)
			break;
		ret = wire_link_next(&next, link, e);
		if (ret == ERR_NOT_FOUND)
			break;
		if (ret < 0) {
			err_prefix(e, "%s: invalid Link header", what);
			goto out;
		}
		ret = wire_resolve_url(&abs, resp.url ? resp.url : url, next, e);
		free(next);
		if (ret < 0) {
			err_prefix(e, "%s: unusable next page", what);
			goto out;
		}
		if (!same_origin(abs, r->base)) {
			free(abs);
			ret = err_set(e, ERR_REGISTRY, "%s: the next page is on another host", what);
			goto out;
		}
		if (strvec_find(&seen, abs) >= 0) {
			free(abs);
			break;	/* a loop */
		}
		free(url);
		url = abs;
	}
	ret = 0;
out:
	json_free(j);
	free(url);
	strvec_clear(&seen);
	http_request_release(&req);
	http_response_release(&resp);
	return ret;
}

int reg_list_tags(struct strvec *out, struct reg *r, const char *repo, struct err *e)
{
	struct buf url = BUF_INIT, what = BUF_INIT, scope = BUF_INIT;
	int ret;

	if ((ret = check_repo(repo, e)) < 0 || (ret = reg_ping_lazy(r, e)) < 0)
		goto out;
	buf_addf(&url, "%s/v2/%s/tags/list", r->base, repo);
	if (r->o.page_size > 0)
		buf_addf(&url, "?n=%d", r->o.page_size);
	buf_addf(&what, "GET tags %s/%s", r->name, repo);
	if (buf_failed(&url) || buf_failed(&what) || repo_scope(&scope, repo, "pull") < 0) {
		ret = nomem(e);
		goto out;
	}
	ret = list_pages(out, r, url.data, "tags", scope.data, what.data, e);
out:
	buf_release(&url);
	buf_release(&what);
	buf_release(&scope);
	return ret;
}

int reg_list_catalog(struct strvec *out, struct reg *r, struct err *e)
{
	struct buf url = BUF_INIT, what = BUF_INIT;
	int ret;

	if ((ret = reg_ping_lazy(r, e)) < 0)
		goto out;
	buf_addf(&url, "%s/v2/_catalog", r->base);
	if (r->o.page_size > 0)
		buf_addf(&url, "?n=%d", r->o.page_size);
	buf_addf(&what, "GET catalog %s", r->name);
	if (buf_failed(&url) || buf_failed(&what)) {
		ret = nomem(e);
		goto out;
	}
	ret = list_pages(out, r, url.data, "repositories", "registry:catalog:*", what.data, e);
out:
	buf_release(&url);
	buf_release(&what);
	return ret;
}

/* ---- referrers ------------------------------------------------------------ */

static const char empty_index[] =
	"{\"schemaVersion\":2,\"mediaType\":\"" MT_OCI_INDEX "\",\"manifests\":[]}";

int reg_list_referrers(struct manifest *out_index, struct reg *r, const char *repo,
		  const struct digest *subject, struct err *e)
{
	struct http_request req;
	struct http_response resp;
	struct buf url = BUF_INIT, what = BUF_INIT, scope = BUF_INIT, tag = BUF_INIT;
	struct ref fb = REF_INIT;
	int ret = -1;

	manifest_init(out_index);
	http_request_init(&req, "GET", NULL);
	http_response_init(&resp);
	if ((ret = check_repo(repo, e)) < 0 || (ret = reg_ping_lazy(r, e)) < 0)
		goto out;
	buf_addf(&url, "%s/v2/%s/referrers/%s", r->base, repo, subject->str);
	buf_addf(&what, "GET referrers %s/%s@%s", r->name, repo, subject->str);
	if (buf_failed(&url) || buf_failed(&what) || repo_scope(&scope, repo, "pull") < 0 ||
	    http_request_header(&req, "Accept: " MT_OCI_INDEX) < 0) {
		ret = nomem(e);
		goto out;
	}
	req.url = url.data;
	req.max_body = r->o.manifest_max;
	if ((ret = reg_send(r, &req, &resp, scope.data, e)) < 0) {
		err_prefix(e, "%s", what.data);
		goto out;
	}
	if (resp.status == 200) {
		ret = manifest_parse(out_index, resp.body.data, resp.body.len, MT_OCI_INDEX,
				     r->o.manifest_max, e);
		if (ret == 0 && out_index->kind != MT_KIND_INDEX)
			ret = err_set(e, ERR_INVALID, "%s: the registry did not send an index",
				      what.data);
		if (ret < 0)
			err_prefix(e, "%s", what.data);
		goto out;
	}
	if (resp.status != 404) {
		ret = status_error(e, r, &resp, what.data);
		goto out;
	}
	/* The fallback of the distribution spec: the tag "<alg>-<hex>". */
	buf_addf(&tag, "%s-%s", digest_alg_name(subject->alg), digest_hex(subject));
	fb.registry = r->name;
	fb.repository = (char *)repo;
	fb.tag = tag.data;
	if (buf_failed(&tag)) {
		ret = nomem(e);
		goto out;
	}
	ret = manifest_get_one(out_index, r, &fb, e);
	if (ret == ERR_NOT_FOUND) {
		err_clear(e);
		ret = manifest_parse(out_index, empty_index, sizeof(empty_index) - 1, MT_OCI_INDEX,
				     0, e);
	} else if (ret == 0 && out_index->kind != MT_KIND_INDEX) {
		manifest_release(out_index);
		ret = err_set(e, ERR_INVALID, "%s: the fallback tag '%s' is not an index",
			      what.data, tag.data);
	}
out:
	http_request_release(&req);
	http_response_release(&resp);
	buf_release(&url);
	buf_release(&what);
	buf_release(&scope);
	buf_release(&tag);
	return ret;
}

/* ---- auth ----------------------------------------------------------------- */

int reg_auth_check(struct reg *r, struct err *e)
{
	struct http_request req;
	struct http_response resp;
	struct buf url = BUF_INIT, what = BUF_INIT;
	int ret = -1;

	http_request_init(&req, "GET", NULL);
	http_response_init(&resp);
	if ((ret = reg_ping_for(r, NEED_PING, e)) < 0)
		goto out;
	if (r->auth == AUTH_NONE) {
		ret = 0;	/* the ping got in without credentials */
		goto out;
	}
	buf_addf(&url, "%s/v2/", r->base);
	buf_addf(&what, "GET %s/v2/", r->name);
	if (buf_failed(&url) || buf_failed(&what)) {
		ret = nomem(e);
		goto out;
	}
	req.url = url.data;
	req.max_body = 64u << 10;
	if ((ret = reg_send(r, &req, &resp, "", e)) < 0) {
		err_prefix(e, "%s", what.data);
		goto out;
	}
	if (resp.status < 200 || resp.status >= 300) {
		ret = status_error(e, r, &resp, what.data);
		goto out;
	}
	ret = 0;
out:
	http_request_release(&req);
	http_response_release(&resp);
	buf_release(&url);
	buf_release(&what);
	return ret;
}

int reg_token(char **out, struct reg *r, const char *repo, int push, struct err *e)
{
	struct buf scope = BUF_INIT;
	int ret = -1;

	*out = NULL;
	if ((ret = check_repo(repo, e)) < 0 || (ret = reg_ping_for(r, NEED_PING, e)) < 0 ||
	    (ret = creds_load(r, e)) < 0)
		goto out;
	if (r->auth != AUTH_BEARER) {
		ret = err_set(e, ERR_UNSUPPORTED, "registry '%s' does not use bearer tokens (%s)",
			      r->name, r->auth == AUTH_BASIC ? "it asks for Basic authentication" :
			      "it asks for no authentication");
		goto out;
	}
	if (r->creds.registry_token) {
		*out = strdup(r->creds.registry_token);
		ret = *out ? 0 : nomem(e);
		goto out;
	}
	if (repo_scope(&scope, repo, push ? "pull,push" : "pull") < 0) {
		ret = nomem(e);
		goto out;
	}
	ret = token_fetch(out, r, scope.data, e);
out:
	buf_release(&scope);
	return ret;
}

/* ---- mirrors -------------------------------------------------------------- */

int reg_mirror_add(struct reg *r, struct reg *mirror, const char *prefix, struct err *e)
{
	struct reg **nm;
	char **np, *p = NULL;

	if (prefix && *prefix && !(p = strdup(prefix))) {
		reg_free(mirror);
		return nomem(e);
	}
	nm = realloc(r->mirrors, (r->n_mirrors + 1) * sizeof(*nm));
	if (nm)
		r->mirrors = nm;
	np = nm ? realloc(r->mirror_prefixes, (r->n_mirrors + 1) * sizeof(*np)) : NULL;
	if (np)
		r->mirror_prefixes = np;
	if (!nm || !np) {
		free(p);
		reg_free(mirror);
		return nomem(e);
	}
	r->mirrors[r->n_mirrors] = mirror;
	r->mirror_prefixes[r->n_mirrors] = p;
	r->n_mirrors++;
	return 0;
}

void reg_mirror_log_set(struct reg *r, void (*fn)(void *arg, int level, const char *line),
			void *arg)
{
	r->mirror_log = fn;
	r->mirror_log_arg = arg;
}

static void mirror_log(struct reg *r, size_t i, const char *repo, const char *what,
		       const struct err *why)
{
	struct buf b = BUF_INIT;

	if (!r->mirror_log)
		return;
	if (why)
		buf_addf(&b, "mirror: %s failed for %s %s/%s, trying %s: %s", r->mirrors[i]->name,
			 what, r->name, repo,
			 i + 1 < r->n_mirrors ? r->mirrors[i + 1]->name : "the registry", why->msg);
	else
		buf_addf(&b, "mirror: %s served %s %s/%s", r->mirrors[i]->name, what, r->name,
			 repo);
	if (!buf_failed(&b))
		r->mirror_log(r->mirror_log_arg, 1, b.data);
	buf_release(&b);
}

/* Whether a read that failed on a mirror is tried on the next endpoint:
 * anything but a local failure (containerd and podman fall back on any). */
static int mirror_fallback(int rc)
{
	return rc != ERR_NOMEM && rc != ERR_USAGE;
}

/* The repository on mirror i: its prefix, a slash, the repository. */
static int mirror_repo(struct buf *out, const struct reg *r, size_t i, const char *repo)
{
	buf_reset(out);
	if (r->mirror_prefixes[i])
		buf_addf(out, "%s/", r->mirror_prefixes[i]);
	buf_addstr(out, repo);
	return buf_failed(out) ? ERR_NOMEM : 0;
}

/* One manifest read on one endpoint: a GET into get_out, or a HEAD into
 * head_out when get_out is NULL. */
static int manifest_read_one(struct manifest *get_out, struct descriptor *head_out,
			     struct reg *r, const struct ref *ref, struct err *e)
{
	if (get_out)
		return manifest_get_one(get_out, r, ref, e);
	return manifest_head_one(head_out, r, ref, e);
}

/* A manifest read tried on each mirror in turn, then on r itself. */
static int manifest_read(struct manifest *get_out, struct descriptor *head_out,
			 struct reg *r, const struct ref *ref, struct err *e)
{
	struct buf repo = BUF_INIT;
	struct err e2 = ERR_INIT;
	struct ref mref;
	size_t i;
	int rc;

	for (i = 0; i < r->n_mirrors; i++) {
		if (mirror_repo(&repo, r, i, ref->repository) < 0) {
			rc = nomem(e);
			goto out;
		}
		mref = *ref;
		mref.repository = repo.data;
		err_clear(&e2);
		rc = manifest_read_one(get_out, head_out, r->mirrors[i], &mref, &e2);
		if (rc == 0) {
			mirror_log(r, i, ref->repository, "manifest", NULL);
			goto out;
		}
		if (!mirror_fallback(rc)) {
			if (e)
				*e = e2;
			goto out;
		}
		mirror_log(r, i, ref->repository, "manifest", &e2);
	}
	rc = manifest_read_one(get_out, head_out, r, ref, e);
out:
	buf_release(&repo);
	return rc;
}

int reg_manifest_get(struct manifest *out, struct reg *r, const struct ref *ref,
		     struct err *e)
{
	return manifest_read(out, NULL, r, ref, e);
}

int reg_manifest_head(struct descriptor *out, struct reg *r, const struct ref *ref,
		      struct err *e)
{
	return manifest_read(NULL, out, r, ref, e);
}

/* Counts what reaches the caller's sink, so that a mirror that failed
 * before sending anything can be replaced by the next endpoint. */
struct counting_sink {
	http_sink_fn sink;
	void *arg;
	int64_t n;
};

static int counting_sink_cb(void *arg, const char *data, size_t len, struct err *e)
{
	struct counting_sink *c = arg;

	c->n += (int64_t)len;
	return c->sink(c->arg, data, len, e);
}

int reg_blob_get(struct reg *r, const char *repo, const struct descriptor *d,
		 http_sink_fn sink, void *arg, struct err *e)
{
	struct buf mrepo = BUF_INIT;
	struct counting_sink cs = { sink, arg, 0 };
	struct err e2 = ERR_INIT;
	size_t i;
	int rc;

	for (i = 0; i < r->n_mirrors; i++) {
		if (mirror_repo(&mrepo, r, i, repo) < 0) {
			rc = nomem(e);
			goto out;
		}
		err_clear(&e2);
		cs.n = 0;
		rc = blob_get_one(r->mirrors[i], mrepo.data, d, counting_sink_cb, &cs, &e2);
		if (rc == 0) {
			mirror_log(r, i, repo, "blob", NULL);
			goto out;
		}
		if (cs.n || !mirror_fallback(rc)) {
			/* the sink has seen bytes: the caller must start over */
			if (e)
				*e = e2;
			goto out;
		}
		mirror_log(r, i, repo, "blob", &e2);
	}
	rc = blob_get_one(r, repo, d, sink, arg, e);
out:
	buf_release(&mrepo);
	return rc;
}

int reg_blob_get_many(struct reg *r, const char *repo, struct reg_blob_fetch *fs, size_t n,
		  int parallel, unsigned flags, struct err *e)
{
	struct buf mrepo = BUF_INIT;
	struct reg_blob_fetch *sub = NULL;
	size_t *idx = NULL, n_pending = n, i, k, m;
	struct err e2 = ERR_INIT;
	int rc = 0;

	if (!r->n_mirrors)
		return blobs_get_one(r, repo, fs, n, parallel, flags, e);
	sub = calloc(n ? n : 1, sizeof(*sub));
	idx = calloc(n ? n : 1, sizeof(*idx));
	if (!sub || !idx) {
		rc = nomem(e);
		goto out;
	}
	for (i = 0; i < n; i++) {
		idx[i] = i;
		fs[i].rc = ERR_FAIL;
		err_clear(&fs[i].err);
		fs[i].done = 0;
	}
	for (m = 0; m <= r->n_mirrors && n_pending; m++) {
		int last = m == r->n_mirrors;
		size_t left = 0, served = 0;
		for (k = 0; k < n_pending; k++) {
			memset(&sub[k], 0, sizeof(sub[k]));
			sub[k].d = fs[idx[k]].d;
			sub[k].sink = fs[idx[k]].sink;
			sub[k].arg = fs[idx[k]].arg;
		}
		err_clear(&e2);
		if (last) {
			blobs_get_one(r, repo, sub, n_pending, parallel, flags, &e2);
		} else {
			if (mirror_repo(&mrepo, r, m, repo) < 0) {
				rc = nomem(e);
				goto out;
			}
			blobs_get_one(r->mirrors[m], mrepo.data, sub, n_pending, parallel, flags,
				      &e2);
		}
		for (k = 0; k < n_pending; k++) {
			struct reg_blob_fetch *f = &fs[idx[k]];
			f->rc = sub[k].rc;
			f->err = sub[k].err;
			f->done = sub[k].done;
			if (!last && f->rc < 0 && !f->done && mirror_fallback(f->rc)) {
				if (!left)
					mirror_log(r, m, repo, "blobs", &f->err);
				idx[left++] = idx[k];
			} else if (!last && f->rc == 0) {
				served++;
			}
		}
		if (served) {
			struct buf what = BUF_INIT;
			buf_addf(&what, "%zu blob%s", served, served == 1 ? "" : "s");
			if (!buf_failed(&what))
				mirror_log(r, m, repo, what.data, NULL);
			buf_release(&what);
		}
		n_pending = left;
	}
	for (i = 0; i < n; i++) {
		if (fs[i].rc < 0) {
			rc = fs[i].rc;
			if (e)
				*e = fs[i].err;
			break;
		}
	}
out:
	free(sub);
	free(idx);
	buf_release(&mrepo);
	return rc;
}

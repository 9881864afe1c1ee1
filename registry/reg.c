/* reg.c - a session with one registry: scheme, auth, tokens, mirrors.  See
 * reg.h. */
#include "registry/reg.h"

#include "core/base/base64.h"
#include "core/base/err.h"
#include "core/base/json.h"
#include "core/base/strvec.h"
#include "core/base/text.h"
#include "core/model/manifest.h"
#include "core/model/ref.h"
#include "registry/reg_req.h"
#include "registry/wire.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define MAX_AUTH_ROUNDS 3
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
	char *base;		/* "https://host", set by reg_ping() */
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

int reg_status_error(struct err *e, struct reg *r, const struct http_response *resp,
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
		return reg_req_nomem(e);
	r->o = *o;
	if (!r->o.manifest_max)
		r->o.manifest_max = MANIFEST_MAX_DEFAULT;
	tmp.registry = (char *)registry;
	r->name = strdup(registry);
	r->host = strdup(ref_endpoint(&tmp));
	if (!r->name || !r->host) {
		reg_free(r);
		return reg_req_nomem(e);
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

int reg_connect(struct reg *r, struct err *e)
{
	return reg_ping(r, REG_NEED_ANSWER, e);
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
	return reg_req_nomem(e);
}

const char *reg_name(const struct reg *r)
{
	return r->name;
}

const struct reg_client_opts *reg_opts(const struct reg *r)
{
	return &r->o;
}

const char *reg_base(const struct reg *r)
{
	return r->base;
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
			return reg_req_nomem(e);
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
		return reg_req_nomem(e);
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
	return r->base ? 0 : reg_req_nomem(e);
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

/* The ping: see reg.h. */
int reg_ping(struct reg *r, enum reg_need need, struct err *e)
{
	struct http_response resp;
	struct wire_challenges ch;
	struct err e2 = ERR_INIT;
	int allow_http = r->o.insecure || r->loopback;
	int ret = -1, rc, lazy = need == REG_NEED_SCHEME;
	const char *scheme = "https";

	if (r->base && (lazy || r->pinged || (need == REG_NEED_ANSWER && r->answered)))
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
	base64_encode(out, raw.data, raw.len);
	memset(raw.data, 0, raw.len);
	buf_release(&raw);
	return buf_failed(out) ? reg_req_nomem(e) : 0;
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
			reg_req_url_escape(b, one);
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
	ret = *out ? 0 : reg_req_nomem(e);
out:
	json_free(j);
	return ret;
}

/* The OAuth2 refresh_token POST, for credentials that hold an identity
 * token: 0 with the token in *out, 1 when the realm does not take the POST
 * (404, 405: the GET follows), or the error. */
static int token_post(char **out, struct reg *r, const char *scope, const char *what,
		      struct err *e)
{
	struct http_request req;
	struct http_response resp;
	struct buf body = BUF_INIT;
	int ret = -1;

	http_request_init(&req, "POST", r->realm);
	http_response_init(&resp);
	buf_addstr(&body, "grant_type=refresh_token&refresh_token=");
	reg_req_url_escape(&body, r->creds.identity_token);
	buf_addstr(&body, "&client_id=hoist&service=");
	reg_req_url_escape(&body, r->service ? r->service : "");
	if (*scope) {
		buf_addstr(&body, "&scope=");	/* OAuth2: one, space-separated */
		reg_req_url_escape(&body, scope);
	}
	if (buf_failed(&body) ||
	    http_request_header(&req, "Content-Type: application/x-www-form-urlencoded") < 0) {
		ret = reg_req_nomem(e);
		goto out;
	}
	req.body = body.data;
	req.body_len = (int64_t)body.len;
	req.max_body = TOKEN_BODY_MAX;
	if (http_do(r->o.http, &req, &resp, e) < 0) {
		ret = err_prefix(e, "%s", what);
		goto out;
	}
	if (resp.status == 200) {
		ret = token_parse(out, r, &resp, e);
	} else if (resp.status == 404 || resp.status == 405) {
		ret = 1;
	} else {
		r->sent_creds = 1;
		ret = reg_status_error(e, r, &resp, what);
	}
out:
	http_request_release(&req);
	http_response_release(&resp);
	if (body.len)
		memset(body.data, 0, body.len);
	buf_release(&body);
	return ret;
}

/* The token GET: anonymous, with the Basic credentials, or (`identity`,
 * after a refused POST) with the identity token as the password. */
static int token_get(char **out, struct reg *r, const char *scope, int identity,
		     const char *what, struct err *e)
{
	struct http_request req;
	struct http_response resp;
	struct buf url = BUF_INIT, hdr = BUF_INIT;
	int ret = -1;

	http_request_init(&req, "GET", NULL);
	http_response_init(&resp);
	buf_addstr(&url, r->realm);
	buf_addch(&url, strchr(r->realm, '?') ? '&' : '?');
	buf_addstr(&url, "service=");
	reg_req_url_escape(&url, r->service ? r->service : "");
	add_scopes(&url, scope);
	if (buf_failed(&url)) {
		ret = reg_req_nomem(e);
		goto out;
	}
	req.url = url.data;
	req.max_body = TOKEN_BODY_MAX;
	r->sent_creds = 0;
	if (identity || have_basic(r)) {
		if ((ret = basic_header(&hdr, r, r->realm, identity, e)) < 0)
			goto out;
		if (http_request_header(&req, "Authorization: %s", hdr.data) < 0 ||
		    strvec_push(&req.secret_headers, "authorization") < 0) {
			ret = reg_req_nomem(e);
			goto out;
		}
		r->sent_creds = 1;
	}
	if (http_do(r->o.http, &req, &resp, e) < 0) {
		ret = err_prefix(e, "%s", what);
		goto out;
	}
	if (resp.status != 200) {
		ret = reg_status_error(e, r, &resp, what);
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
	buf_release(&hdr);
	buf_release(&url);
	return ret;
}

/* Fetches a bearer token for `scope` (space-separated scopes, may be ""). */
static int token_fetch(char **out, struct reg *r, const char *scope, struct err *e)
{
	struct buf what = BUF_INIT;
	int ret = -1, tried_post = 0;

	*out = NULL;
	if ((ret = realm_check(r, e)) < 0 || (ret = creds_load(r, e)) < 0)
		goto out;
	buf_addf(&what, "token request for '%s' to the realm of '%s'", *scope ? scope : "(none)",
		 r->name);
	if (buf_failed(&what)) {
		ret = reg_req_nomem(e);
		goto out;
	}
	if (r->creds.identity_token) {
		if ((ret = token_post(out, r, scope, what.data, e)) <= 0)
			goto out;
		tried_post = 1;
	}
	ret = token_get(out, r, scope, tried_post, what.data, e);
out:
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
		return reg_req_nomem(e);
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
		return buf_failed(out) ? reg_req_nomem(e) : 0;
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
	return buf_failed(out) ? reg_req_nomem(e) : 0;
}

int reg_authorization(struct buf *out, struct reg *r, const char *scope, struct err *e)
{
	return auth_value(out, r, r->base, scope, 0, e);
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

/* One attempt of reg_send(): `req` with the Authorization that `scope`
 * asks for (only when it goes to the registry's own origin). */
static int send_once(struct reg *r, struct http_request *req, struct http_response *resp,
		     const char *scope, int fresh, struct err *e)
{
	struct buf av = BUF_INIT;
	int pushed = 0, rc = 0;

	if (reg_req_same_origin(req->url, r->base))
		rc = auth_value(&av, r, req->url, scope, fresh, e);
	else
		r->sent_creds = 0;
	if (rc == 0 && av.len) {
		if (http_request_header(req, "Authorization: %s", av.data) < 0)
			rc = reg_req_nomem(e);
		else
			pushed = 1;
	}
	if (av.len)
		memset(av.data, 0, av.len);
	buf_release(&av);
	if (rc < 0)
		return rc;
	rc = http_do(r->o.http, req, resp, e);
	if (pushed)
		header_pop(&req->headers);
	if (rc == ERR_NETWORK && !r->answered)	/* the first request, sent without a ping */
		return connect_error(r, strncmp(r->base, "http://", 7) ? "https" : "http", e);
	return rc;
}

/* What a 401 of the registry's asks for: 1 to send again (with a token for
 * *scope grown by the scopes the challenge names, or with the Basic
 * credentials it now wants), 0 to hand the 401 to the caller, or an error.
 * `before` is the auth scheme the request was sent with. */
static int answer_401(struct reg *r, const struct http_response *resp, char **scope,
		      int *fresh, enum reg_auth before, struct err *e)
{
	struct wire_challenges ch;
	const struct wire_challenge *bc;
	char *u;
	int ret = 0, grew;

	wire_challenges_init(&ch);
	if (learn_challenge(r, resp, &ch, e) < 0) {
		ret = e ? e->code : ERR_AUTH;
		goto out;
	}
	bc = r->auth == AUTH_BEARER ? wire_challenges_find(&ch, "bearer") : NULL;
	if (!bc) {
		if (r->auth == AUTH_BASIC && before != AUTH_BASIC) {
			if (creds_load(r, e) < 0)
				ret = e ? e->code : ERR_AUTH;
			else
				ret = have_basic(r);
		}
		goto out;
	}
	if (!(u = scope_union(*scope, wire_challenge_param(bc, "scope")))) {
		ret = reg_req_nomem(e);
		goto out;
	}
	grew = strcmp(u, *scope) != 0;
	free(*scope);
	*scope = u;
	/* not when a new token for the same scope was refused, nor for a
	 * stored registry token */
	if (before == AUTH_BEARER && ((!grew && *fresh) || r->creds.registry_token))
		goto out;
	*fresh = 1;
	ret = 1;
out:
	wire_challenges_release(&ch);
	return ret;
}

int reg_send(struct reg *r, struct http_request *req, struct http_response *resp,
	     const char *scope, struct err *e)
{
	char *cur = strdup(scope ? scope : "");
	int ret = -1, round, fresh = 0;

	if (!cur)
		return reg_req_nomem(e);
	if (strvec_find(&req->secret_headers, "authorization") < 0 &&
	    strvec_push(&req->secret_headers, "authorization") < 0) {
		ret = reg_req_nomem(e);
		goto out;
	}
	for (round = 0; round < MAX_AUTH_ROUNDS; round++) {
		enum reg_auth before = r->auth;
		const char *url;

		if ((ret = send_once(r, req, resp, cur, fresh, e)) < 0)
			goto out;
		url = resp->url ? resp->url : req->url;
		if (reg_req_same_origin(url, r->base))
			r->answered = 1;
		if (resp->status != 401 || !reg_req_same_origin(url, r->base))
			break;
		if ((ret = answer_401(r, resp, &cur, &fresh, before, e)) < 0)
			goto out;
		if (!ret)
			break;
	}
	ret = 0;
out:
	free(cur);
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
	if ((ret = reg_ping(r, REG_NEED_PING, e)) < 0)
		goto out;
	if (r->auth == AUTH_NONE) {
		ret = 0;	/* the ping got in without credentials */
		goto out;
	}
	buf_addf(&url, "%s/v2/", r->base);
	buf_addf(&what, "GET %s/v2/", r->name);
	if (buf_failed(&url) || buf_failed(&what)) {
		ret = reg_req_nomem(e);
		goto out;
	}
	req.url = url.data;
	req.max_body = 64u << 10;
	if ((ret = reg_send(r, &req, &resp, "", e)) < 0) {
		err_prefix(e, "%s", what.data);
		goto out;
	}
	if (resp.status < 200 || resp.status >= 300) {
		ret = reg_status_error(e, r, &resp, what.data);
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
	if ((ret = reg_req_check_repo(repo, e)) < 0 || (ret = reg_ping(r, REG_NEED_PING, e)) < 0 ||
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
		ret = *out ? 0 : reg_req_nomem(e);
		goto out;
	}
	if (reg_req_scope(&scope, repo, push ? "pull,push" : "pull") < 0) {
		ret = reg_req_nomem(e);
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
		return reg_req_nomem(e);
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
		return reg_req_nomem(e);
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

size_t reg_mirror_count(const struct reg *r)
{
	return r->n_mirrors;
}

struct reg *reg_mirror_at(const struct reg *r, size_t i)
{
	return r->mirrors[i];
}

void reg_mirror_log(struct reg *r, size_t i, const char *repo, const char *what,
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

int reg_mirror_fallback(int rc)
{
	return rc != ERR_NOMEM && rc != ERR_USAGE;
}

int reg_mirror_repo(struct buf *out, const struct reg *r, size_t i, const char *repo)
{
	buf_reset(out);
	if (r->mirror_prefixes[i])
		buf_addf(out, "%s/", r->mirror_prefixes[i]);
	buf_addstr(out, repo);
	return buf_failed(out) ? ERR_NOMEM : 0;
}

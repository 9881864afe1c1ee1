#include "registry/wire.h"

#include "core/base/buf.h"
#include "core/base/err.h"
#include "core/base/strvec.h"
#include "core/base/text.h"
#include "core/base/json.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- characters (ASCII only, no locale) ---- */

static int is_alpha(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static int is_digit(unsigned char c)
{
	return c >= '0' && c <= '9';
}

static int is_tchar(unsigned char c)
{
	return is_alpha(c) || is_digit(c) || (c && strchr("!#$%&'*+-.^_`|~", c));
}

static int is_t68char(unsigned char c)
{
	return is_alpha(c) || is_digit(c) || (c && strchr("-._~+/", c));
}

static int is_ows(unsigned char c)
{
	return c == ' ' || c == '\t';
}

static unsigned char lower(unsigned char c)
{
	return c >= 'A' && c <= 'Z' ? (unsigned char)(c - 'A' + 'a') : c;
}

static int ascii_ncaseeq(const char *a, const char *b, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (lower((unsigned char)a[i]) != lower((unsigned char)b[i]))
			return 0;
	return 1;
}

static int ascii_caseeq(const char *a, const char *b)
{
	size_t n = strlen(a);

	return n == strlen(b) && ascii_ncaseeq(a, b, n);
}

static char *dup_lower(const char *s, size_t len)
{
	char *p = malloc(len + 1);
	size_t i;

	if (!p)
		return NULL;
	for (i = 0; i < len; i++)
		p[i] = (char)lower((unsigned char)s[i]);
	p[len] = '\0';
	return p;
}

static const char *skip_ows(const char *p, const char *end)
{
	while (p < end && is_ows((unsigned char)*p))
		p++;
	return p;
}


/* One input byte for an error message: 'x' or 0xNN. */
static const char *byte_desc(char out[8], const char *p, const char *end)
{
	unsigned char c;

	if (p >= end) {
		snprintf(out, 8, "end");
		return out;
	}
	c = (unsigned char)*p;
	if (c > 0x20 && c < 0x7f && c != '\'')
		snprintf(out, 8, "'%c'", c);
	else
		snprintf(out, 8, "0x%02x", c);
	return out;
}

static int syntax_error(struct err *e, const char *hdr, const char *what, const char *start,
			const char *p, const char *end)
{
	char d[8];

	return err_set(e, ERR_INVALID, "invalid %s header: %s at offset %zu (found %s)", hdr,
		       what, (size_t)(p - start), byte_desc(d, p, end));
}

/* Parses a quoted-string at *pp (which points at '"') into b (reset
 * first) and moves *pp past it. */
static int parse_quoted(struct buf *b, const char **pp, const char *start, const char *end,
			const char *hdr, struct err *e)
{
	const char *p = *pp + 1;
	unsigned char c;

	buf_reset(b);
	while (p < end) {
		c = (unsigned char)*p;
		if (c == '"') {
			*pp = p + 1;
			if (buf_failed(b))
				return err_set(e, buf_failed(b), "cannot store %s header value",
					       hdr);
			return 0;
		}
		if (c == '\\') {
			if (p + 1 >= end)
				return syntax_error(e, hdr, "backslash at the end of a quoted string",
						    start, p, end);
			c = (unsigned char)p[1];
			if ((c < 0x20 && c != '\t') || c == 0x7f)
				return syntax_error(e, hdr, "control character in a quoted string",
						    start, p + 1, end);
			p += 2;
		} else {
			if ((c < 0x20 && c != '\t') || c == 0x7f)
				return syntax_error(e, hdr, "control character in a quoted string",
						    start, p, end);
			p++;
		}
		buf_addch(b, c);
	}
	return syntax_error(e, hdr, "unterminated quoted string", start, p, end);
}

/* ---- WWW-Authenticate ---- */

#define H_AUTH "WWW-Authenticate"

void wire_challenges_init(struct wire_challenges *c)
{
	c->v = NULL;
	c->n = 0;
}

static void challenge_release(struct wire_challenge *c)
{
	free(c->scheme);
	c->scheme = NULL;
	strvec_clear(&c->names);
	strvec_clear(&c->values);
	free(c->token68);
	c->token68 = NULL;
}

static void challenges_truncate(struct wire_challenges *c, size_t n)
{
	while (c->n > n)
		challenge_release(&c->v[--c->n]);
}

void wire_challenges_release(struct wire_challenges *c)
{
	challenges_truncate(c, 0);
	free(c->v);
	wire_challenges_init(c);
}

static int challenge_add(struct wire_challenges *c, const char *scheme, size_t len,
			 struct err *e)
{
	struct wire_challenge *v, *ch;

	if (c->n >= WIRE_MAX_CHALLENGES)
		return err_set(e, ERR_TOO_BIG, "invalid " H_AUTH " header: more than %d challenges",
			       WIRE_MAX_CHALLENGES);
	v = realloc(c->v, (c->n + 1) * sizeof(*v));
	if (!v)
		return err_set(e, ERR_NOMEM, "out of memory");
	c->v = v;
	ch = &c->v[c->n];
	ch->token68 = NULL;
	strvec_init(&ch->names);
	strvec_init(&ch->values);
	ch->scheme = dup_lower(scheme, len);
	if (!ch->scheme)
		return err_set(e, ERR_NOMEM, "out of memory");
	c->n++;
	return 0;
}

/* After "scheme ," : the start of an auth-param (token BWS "=") that
 * follows the commas, or NULL when a new challenge (or nothing) does. */
static const char *next_param(const char *p, const char *end)
{
	const char *name;

	while (p < end && (*p == ',' || is_ows((unsigned char)*p)))
		p++;
	name = p;
	while (p < end && is_tchar((unsigned char)*p))
		p++;
	if (p == name)
		return NULL;
	p = skip_ows(p, end);
	return p < end && *p == '=' ? name : NULL;
}

/* Parses the auth-params of `c`, starting at *pp (the first parameter
 * name), up to the end or to the scheme of the next challenge. */
static int parse_params(struct wire_challenge *c, struct buf *val, const char **pp,
			const char *start, const char *end, struct err *e)
{
	const char *p = *pp, *name, *q, *v;
	size_t nlen;
	char *lname;
	int rc;

	for (;;) {
		name = p;
		while (p < end && is_tchar((unsigned char)*p))
			p++;
		if (p == name)
			return syntax_error(e, H_AUTH, "expected a parameter name", start, p, end);
		nlen = (size_t)(p - name);
		q = skip_ows(p, end);
		if (q == end || *q != '=') {
			if (!c->names.n)
				return syntax_error(e, H_AUTH, "expected '=' after a parameter name",
						    start, q, end);
			*pp = name;	/* the next challenge's scheme */
			return 0;
		}
		p = skip_ows(q + 1, end);
		if (p < end && *p == '"') {
			if ((rc = parse_quoted(val, &p, start, end, H_AUTH, e)) < 0)
				return rc;
		} else {
			v = p;
			while (p < end && is_tchar((unsigned char)*p))
				p++;
			if (p == v)
				return syntax_error(e, H_AUTH, "expected a parameter value", start,
						    p, end);
			buf_reset(val);
			if ((rc = buf_add(val, v, (size_t)(p - v))) < 0)
				return err_set(e, rc, "cannot store " H_AUTH " header value");
		}
		if (c->names.n >= WIRE_MAX_PARAMS)
			return err_set(e, ERR_TOO_BIG,
				       "invalid " H_AUTH " header: more than %d parameters in one challenge",
				       WIRE_MAX_PARAMS);
		if (!(lname = dup_lower(name, nlen)))
			return err_set(e, ERR_NOMEM, "out of memory");
		if (strvec_find(&c->names, lname) >= 0) {
			rc = err_set(e, ERR_INVALID,
				     "invalid " H_AUTH " header: parameter '%.64s' given twice", lname);
			free(lname);
			return rc;
		}
		if (strvec_push_nodup(&c->names, lname) < 0 ||
		    strvec_push(&c->values, val->data) < 0)
			return err_set(e, ERR_NOMEM, "out of memory");
		p = skip_ows(p, end);
		if (p == end)
			break;
		if (*p != ',')
			return syntax_error(e, H_AUTH, "expected ',' after a parameter", start, p,
					    end);
		while (p < end && (*p == ',' || is_ows((unsigned char)*p)))
			p++;
		if (p == end)
			break;
	}
	*pp = p;
	return 0;
}

int wire_parse_challenges_len(struct wire_challenges *out, const char *header, size_t len,
			      struct err *e)
{
	const char *p = header, *end = header + len, *tok, *sp, *q, *r;
	size_t old_n = out->n;
	struct buf val = BUF_INIT;
	struct wire_challenge *c;
	int ret = -1;

	buf_init(&val, WIRE_MAX_HEADER);
	if (len > WIRE_MAX_HEADER) {
		ret = err_set(e, ERR_TOO_BIG, "invalid " H_AUTH " header: longer than %d bytes",
			      WIRE_MAX_HEADER);
		goto out;
	}
	if (len && memchr(header, '\0', len)) {
		ret = err_set(e, ERR_INVALID, "invalid " H_AUTH " header: contains a NUL byte");
		goto out;
	}
	for (;;) {
		while (p < end && (*p == ',' || is_ows((unsigned char)*p)))
			p++;
		if (p == end)
			break;
		tok = p;
		while (p < end && is_tchar((unsigned char)*p))
			p++;
		if (p == tok) {
			ret = syntax_error(e, H_AUTH, "expected an authentication scheme", header,
					   p, end);
			goto out;
		}
		if ((ret = challenge_add(out, tok, (size_t)(p - tok), e)) < 0)
			goto out;
		c = &out->v[out->n - 1];
		sp = p;
		p = skip_ows(p, end);
		if (p < end && *p == ',' && p > sp && (q = next_param(p, end)))
			p = q;	/* "Basic , realm=x": an empty first list element */
		if (p == end || *p == ',')
			continue;
		if (p == sp) {
			ret = syntax_error(e, H_AUTH, "expected a space after the scheme", header,
					   p, end);
			goto out;
		}
		/* token68: its characters, '=' padding, then the end of the element */
		for (q = p; q < end && is_t68char((unsigned char)*q); q++)
			;
		if (q > p) {
			while (q < end && *q == '=')
				q++;
			r = skip_ows(q, end);
			if (r == end || *r == ',') {
				if (!(c->token68 = strndup(p, (size_t)(q - p)))) {
					ret = err_set(e, ERR_NOMEM, "out of memory");
					goto out;
				}
				p = r;
				continue;
			}
		}
		if ((ret = parse_params(c, &val, &p, header, end, e)) < 0)
			goto out;
	}
	ret = 0;
out:
	if (ret < 0)
		challenges_truncate(out, old_n);
	buf_release(&val);
	return ret;
}

int wire_parse_challenges(struct wire_challenges *out, const char *header, struct err *e)
{
	return wire_parse_challenges_len(out, header, strnlen(header, WIRE_MAX_HEADER + 1), e);
}

const struct wire_challenge *wire_challenges_find(const struct wire_challenges *c,
						  const char *scheme)
{
	size_t i;

	for (i = 0; i < c->n; i++)
		if (ascii_caseeq(c->v[i].scheme, scheme))
			return &c->v[i];
	return NULL;
}

const char *wire_challenge_param(const struct wire_challenge *c, const char *name)
{
	size_t i;

	for (i = 0; i < c->names.n; i++)
		if (ascii_caseeq(c->names.v[i], name))
			return c->values.v[i];
	return NULL;
}

/* ---- Link ---- */

#define H_LINK "Link"

/* Printable ASCII that may stand in a URI: no space, '<', '>', '"', '\'. */
static int is_uri_char(unsigned char c)
{
	return c > 0x20 && c < 0x7f && c != '<' && c != '>' && c != '"' && c != '\\';
}

/* Non-zero when the space-separated list holds `type` (case-insensitive). */
static int rel_has(const char *list, const char *type)
{
	size_t tlen = strlen(type), n;
	const char *p = list;

	for (;;) {
		while (*p && is_ows((unsigned char)*p))
			p++;
		if (!*p)
			return 0;
		for (n = 0; p[n] && !is_ows((unsigned char)p[n]); n++)
			;
		if (n == tlen && ascii_ncaseeq(p, type, n))
			return 1;
		p += n;
	}
}

/* The "<target>" of a link-value at *pp (which points at '<'): its text
 * in *out and *out_len, not copied; *pp moves past the '>'. */
static int link_target(const char **out, size_t *out_len, const char **pp, const char *header,
		       const char *end, struct err *e)
{
	const char *p = *pp, *uri;

	if (*p != '<')
		return syntax_error(e, H_LINK, "expected '<'", header, p, end);
	uri = ++p;
	while (p < end && *p != '>') {
		if (!is_uri_char((unsigned char)*p))
			return syntax_error(e, H_LINK, "invalid character in a link target",
					    header, p, end);
		p++;
	}
	if (p == end)
		return syntax_error(e, H_LINK, "unterminated '<'", header, p, end);
	*out = uri;
	*out_len = (size_t)(p - uri);
	*pp = p + 1;
	return 0;
}

/* The value of a link parameter at *pp (which points at '=') into `val`:
 * a quoted string, or leniently a run of printable characters ("type=
 * text/html" is common though not a token); *pp moves past it. */
static int link_param_value(struct buf *val, const char **pp, const char *header,
			    const char *end, struct err *e)
{
	const char *p = skip_ows(*pp + 1, end), *v;
	int ret;

	if (p < end && *p == '"') {
		if ((ret = parse_quoted(val, &p, header, end, H_LINK, e)) < 0)
			return ret;
		*pp = p;
		return 0;
	}
	v = p;
	while (p < end && *p > 0x20 && *p < 0x7f && *p != '"' && *p != ';' && *p != ',')
		p++;
	if (p == v)
		return syntax_error(e, H_LINK, "expected a parameter value", header, p, end);
	if ((ret = buf_add(val, v, (size_t)(p - v))) < 0)
		return err_set(e, ret, "cannot store " H_LINK " header value");
	*pp = p;
	return 0;
}

/* The parameters of a link-value at *pp, up to the next ',' or the end:
 * *is_next when its (first) rel holds the type "next". */
static int link_params(int *is_next, const char **pp, const char *header, const char *end,
		       struct buf *val, struct err *e)
{
	const char *p = *pp, *name;
	size_t nlen;
	int seen_rel = 0, has_value, ret;

	*is_next = 0;
	for (;;) {
		p = skip_ows(p, end);
		if (p == end || *p == ',')
			break;
		if (*p != ';')
			return syntax_error(e, H_LINK, "expected ';' or ','", header, p, end);
		p = skip_ows(p + 1, end);
		name = p;
		while (p < end && is_tchar((unsigned char)*p))
			p++;
		if (p == name)
			return syntax_error(e, H_LINK, "expected a parameter name", header, p, end);
		nlen = (size_t)(p - name);
		p = skip_ows(p, end);
		has_value = 0;
		buf_reset(val);
		if (p < end && *p == '=') {
			if ((ret = link_param_value(val, &p, header, end, e)) < 0)
				return ret;
			has_value = 1;
		}
		/* RFC 8288 §3.3: occurrences of rel after the first are ignored */
		if (nlen == 3 && ascii_ncaseeq(name, "rel", 3) && !seen_rel) {
			seen_rel = 1;
			*is_next = has_value && rel_has(val->data, "next");
		}
	}
	*pp = p;
	return 0;
}

int wire_link_next(char **out, const char *header, struct err *e)
{
	size_t len = strnlen(header, WIRE_MAX_HEADER + 1), ulen = 0, found_len = 0;
	const char *p = header, *end = header + len, *uri = NULL, *found = NULL;
	struct buf val = BUF_INIT;
	int is_next, ret = -1;

	*out = NULL;
	buf_init(&val, WIRE_MAX_HEADER);
	if (len > WIRE_MAX_HEADER) {
		ret = err_set(e, ERR_TOO_BIG, "invalid " H_LINK " header: longer than %d bytes",
			      WIRE_MAX_HEADER);
		goto out;
	}
	for (;;) {
		while (p < end && (*p == ',' || is_ows((unsigned char)*p)))
			p++;
		if (p == end)
			break;
		if ((ret = link_target(&uri, &ulen, &p, header, end, e)) < 0 ||
		    (ret = link_params(&is_next, &p, header, end, &val, e)) < 0)
			goto out;
		if (is_next && !found) {
			if (!ulen) {
				ret = err_set(e, ERR_INVALID,
					      "invalid " H_LINK " header: empty next link target");
				goto out;
			}
			found = uri;
			found_len = ulen;
		}
	}
	if (!found) {
		ret = err_set(e, ERR_NOT_FOUND, "no rel=\"next\" link in " H_LINK " header");
		goto out;
	}
	if (!(*out = strndup(found, found_len))) {
		ret = err_set(e, ERR_NOMEM, "out of memory");
		goto out;
	}
	ret = 0;
out:
	buf_release(&val);
	return ret;
}

/* Length of the "scheme:" prefix of s (without the colon), or 0. */
static size_t scheme_len(const char *s)
{
	size_t n = 0;

	if (!is_alpha((unsigned char)s[0]))
		return 0;
	while (is_alpha((unsigned char)s[n]) || is_digit((unsigned char)s[n]) ||
	       s[n] == '+' || s[n] == '-' || s[n] == '.')
		n++;
	return s[n] == ':' ? n : 0;
}

/* For an absolute http(s) URL: lengths of "scheme", of "scheme://authority"
 * and of everything before the query or fragment.  0 when not one. */
static int split_http_url(const char *s, size_t len, size_t *scheme, size_t *origin,
			  size_t *path_end)
{
	size_t n = scheme_len(s), a;

	if (!((n == 4 && ascii_ncaseeq(s, "http", 4)) || (n == 5 && ascii_ncaseeq(s, "https", 5))))
		return 0;
	if (len < n + 3 || memcmp(s + n, "://", 3))
		return 0;
	a = n + 3;
	while (a < len && !strchr("/?#", s[a]))
		a++;
	if (a == n + 3)
		return 0;
	*scheme = n;
	*origin = a;
	while (a < len && s[a] != '?' && s[a] != '#')
		a++;
	*path_end = a;
	return 1;
}

int wire_resolve_url(char **out, const char *base_url, const char *ref, struct err *e)
{
	size_t rlen = strnlen(ref, WIRE_MAX_HEADER + 1);
	size_t blen = strnlen(base_url, WIRE_MAX_HEADER + 1), i, n, bs, bo, bp, rs, ro, rp;
	struct buf b = BUF_INIT;
	char d[8];
	int ret = -1;

	*out = NULL;
	buf_init(&b, 2 * WIRE_MAX_HEADER + 16);
	if (rlen > WIRE_MAX_HEADER || blen > WIRE_MAX_HEADER) {
		ret = err_set(e, ERR_TOO_BIG, "link target longer than %d bytes", WIRE_MAX_HEADER);
		goto out;
	}
	if (!rlen) {
		ret = err_set(e, ERR_INVALID, "empty link target");
		goto out;
	}
	for (i = 0; i < rlen; i++) {
		if (!is_uri_char((unsigned char)ref[i])) {
			ret = err_set(e, ERR_INVALID, "invalid character %s in link target",
				      byte_desc(d, ref + i, ref + rlen));
			goto out;
		}
	}
	if (!split_http_url(base_url, blen, &bs, &bo, &bp)) {
		ret = err_set(e, ERR_INVALID, "invalid base URL: not an absolute http(s) URL");
		goto out;
	}
	rlen = strcspn(ref, "#");	/* the fragment is never sent */
	if ((n = scheme_len(ref))) {
		if (!split_http_url(ref, rlen, &rs, &ro, &rp)) {
			if ((n == 4 && ascii_ncaseeq(ref, "http", 4)) ||
			    (n == 5 && ascii_ncaseeq(ref, "https", 5)))
				ret = err_set(e, ERR_INVALID, "invalid link target: no host");
			else
				ret = err_set(e, ERR_UNSUPPORTED,
					      "refusing link target with scheme '%.*s': only http and https are followed",
					      (int)(n > 32 ? 32 : n), ref);
			goto out;
		}
		buf_add(&b, ref, rlen);
	} else if (rlen >= 2 && ref[0] == '/' && ref[1] == '/') {
		if (rlen == 2 || strchr("/?", ref[2])) {
			ret = err_set(e, ERR_INVALID, "invalid link target: no host");
			goto out;
		}
		buf_add(&b, base_url, bs + 1);
		buf_add(&b, ref, rlen);
	} else if (ref[0] == '/') {
		buf_add(&b, base_url, bo);
		buf_add(&b, ref, rlen);
	} else if (ref[0] == '?') {
		buf_add(&b, base_url, bp);
		buf_add(&b, ref, rlen);
	} else if (ref[0] == '#') {
		ret = err_set(e, ERR_UNSUPPORTED, "refusing fragment-only link target");
		goto out;
	} else {
		ret = err_set(e, ERR_UNSUPPORTED,
			      "refusing relative-path link target: registries send '/v2/...' or '?...'");
		goto out;
	}
	if (buf_failed(&b)) {
		ret = err_set(e, buf_failed(&b), "cannot build link URL");
		goto out;
	}
	if (!(*out = buf_detach(&b, NULL))) {
		ret = err_set(e, ERR_NOMEM, "out of memory");
		goto out;
	}
	ret = 0;
out:
	buf_release(&b);
	return ret;
}

/* ---- distribution error bodies ---- */

#define CODE_MAX 64

void wire_errors_init(struct wire_errors *w)
{
	size_t i;

	for (i = 0; i < WIRE_MAX_ERRORS; i++) {
		w->v[i].code = NULL;
		w->v[i].message = NULL;
	}
	w->n = 0;
	w->total = 0;
}

void wire_errors_release(struct wire_errors *w)
{
	size_t i;

	for (i = 0; i < w->n && i < WIRE_MAX_ERRORS; i++) {
		free(w->v[i].code);
		free(w->v[i].message);
	}
	wire_errors_init(w);
}

/* A cleaned copy of a JSON string, or NULL (with *nomem set on failure). */
static char *clean_dup(const struct json *s, size_t max, int *nomem)
{
	char tmp[WIRE_TEXT_MAX + 4];
	char *p;

	if (!s || json_kind_of(s) != JSON_STRING)
		return NULL;
	if (max + 4 > sizeof(tmp))
		max = sizeof(tmp) - 4;
	text_clean(tmp, max + 4, json_str(s), json_str_len(s));
	if (!(p = strdup(tmp)))
		*nomem = 1;
	return p;
}

static int errors_add(struct wire_errors *w, const struct json *code, const struct json *msg)
{
	struct wire_error *x;
	int nomem = 0;

	if (json_kind_of(code) != JSON_STRING && json_kind_of(msg) != JSON_STRING)
		return 0;
	w->total++;
	if (w->n >= WIRE_MAX_ERRORS)
		return 0;
	x = &w->v[w->n];
	x->code = clean_dup(code, CODE_MAX, &nomem);
	x->message = clean_dup(msg, WIRE_TEXT_MAX, &nomem);
	w->n++;
	return nomem ? ERR_NOMEM : 0;
}

int wire_parse_errors(struct wire_errors *out, const char *body, size_t len, struct err *e)
{
	static const char *const fallback[] = { "message", "error", "details" };
	struct json *j = NULL, *arr, *el;
	size_t i, n;
	int ret = -1;

	wire_errors_release(out);
	if (len > WIRE_MAX_ERROR_BODY) {
		ret = err_set(e, ERR_TOO_BIG, "error body longer than %d bytes",
			      WIRE_MAX_ERROR_BODY);
		goto out;
	}
	if (!len) {
		ret = err_set(e, ERR_INVALID, "empty error body");
		goto out;
	}
	if ((ret = json_parse(&j, body, len, e)) < 0) {
		err_prefix(e, "invalid error body");
		goto out;
	}
	if (json_kind_of(j) != JSON_OBJECT) {
		ret = err_set(e, ERR_INVALID, "invalid error body: not a JSON object");
		goto out;
	}
	arr = json_get(j, "errors");
	if (json_kind_of(arr) == JSON_ARRAY) {
		n = json_array_len(arr);
		for (i = 0; i < n; i++) {
			el = json_array_get(arr, i);
			if (json_kind_of(el) != JSON_OBJECT)
				continue;
			if ((ret = errors_add(out, json_get(el, "code"), json_get(el, "message"))) < 0)
				break;
		}
	} else if (!arr) {
		for (i = 0; i < sizeof(fallback) / sizeof(fallback[0]); i++) {
			el = json_get(j, fallback[i]);
			if (json_kind_of(el) == JSON_STRING) {
				ret = errors_add(out, NULL, el);
				break;
			}
		}
		if (i == sizeof(fallback) / sizeof(fallback[0])) {
			ret = err_set(e, ERR_INVALID, "invalid error body: no 'errors' array");
			goto out;
		}
	} else {
		ret = err_set(e, ERR_INVALID, "invalid error body: 'errors' is not an array");
		goto out;
	}
	if (ret < 0) {
		ret = err_set(e, ERR_NOMEM, "out of memory");
		goto out;
	}
	ret = 0;
out:
	if (ret < 0)
		wire_errors_release(out);
	json_free(j);
	return ret;
}

const struct wire_error *wire_errors_find(const struct wire_errors *w, const char *code)
{
	size_t i;

	for (i = 0; i < w->n; i++)
		if (w->v[i].code && ascii_caseeq(w->v[i].code, code))
			return &w->v[i];
	return NULL;
}

enum login_hint {
	LOGIN_NONE,
	LOGIN_RUN,	/* ": run 'hoist auth login REG'" */
	LOGIN_OR,	/* " or log in with 'hoist auth login REG'" after the hint */
};

struct problem {
	const char *key;	/* error code, or NULL in the status table */
	long status;
	int code;
	const char *summary;
	const char *hint;
	enum login_hint login;
};

static const struct problem code_problems[] = {
	{ "UNAUTHORIZED", 0, ERR_AUTH, "authentication required", NULL, LOGIN_RUN },
	{ "DENIED", 0, ERR_DENIED, "access denied",
	  "check the repository name and your permissions", LOGIN_OR },
	{ "FORBIDDEN", 0, ERR_DENIED, "access denied",
	  "check the repository name and your permissions", LOGIN_OR },
	{ "MANIFEST_UNKNOWN", 0, ERR_NOT_FOUND, "manifest unknown", "check the tag or digest",
	  LOGIN_NONE },
	{ "NAME_UNKNOWN", 0, ERR_NOT_FOUND, "repository not found",
	  "check the repository name", LOGIN_NONE },
	{ "BLOB_UNKNOWN", 0, ERR_NOT_FOUND, "blob unknown",
	  "the registry does not have this blob", LOGIN_NONE },
	{ "NOT_FOUND", 0, ERR_NOT_FOUND, "not found", NULL, LOGIN_NONE },
	{ "TAG_INVALID", 0, ERR_INVALID, "tag invalid",
	  "the tag does not match the manifest", LOGIN_NONE },
	{ "MANIFEST_INVALID", 0, ERR_INVALID, "manifest invalid",
	  "the registry rejected the manifest; check its media type and contents", LOGIN_NONE },
	{ "MANIFEST_UNVERIFIED", 0, ERR_INVALID, "manifest unverified",
	  "the registry could not verify the manifest signature", LOGIN_NONE },
	{ "MANIFEST_BLOB_UNKNOWN", 0, ERR_REGISTRY,
	  "manifest references a blob the registry does not have",
	  "push the blobs before the manifest", LOGIN_NONE },
	{ "DIGEST_INVALID", 0, ERR_DIGEST, "digest invalid",
	  "the content sent does not hash to its digest, so the source is corrupt: check it "
	  "with 'hoist validate' (or 'hoist cache verify' for the cache)", LOGIN_NONE },
	{ "SIZE_INVALID", 0, ERR_DIGEST, "size invalid",
	  "the content length did not match its descriptor", LOGIN_NONE },
	{ "NAME_INVALID", 0, ERR_INVALID, "repository name invalid",
	  "check the repository name", LOGIN_NONE },
	{ "UNSUPPORTED", 0, ERR_UNSUPPORTED, "unsupported",
	  "the registry does not support this operation", LOGIN_NONE },
	{ "TOOMANYREQUESTS", 0, ERR_REGISTRY, "rate limited by the registry",
	  "try again later", LOGIN_OR },
	{ "BLOB_UPLOAD_UNKNOWN", 0, ERR_REGISTRY, "blob upload unknown",
	  "the upload session expired or was cancelled; retry the push", LOGIN_NONE },
	{ "BLOB_UPLOAD_INVALID", 0, ERR_REGISTRY, "blob upload invalid", "retry the push",
	  LOGIN_NONE },
	{ "PAGINATION_NUMBER_INVALID", 0, ERR_INVALID, "invalid page size",
	  "the registry refused the requested number of results", LOGIN_NONE },
	{ "RANGE_INVALID", 0, ERR_REGISTRY, "invalid upload range", "retry the push",
	  LOGIN_NONE },
	{ "UNAVAILABLE", 0, ERR_REGISTRY, "registry unavailable", "try again later",
	  LOGIN_NONE },
};

static const struct problem status_problems[] = {
	{ NULL, 400, ERR_INVALID, "bad request", "the registry rejected the request",
	  LOGIN_NONE },
	{ NULL, 401, ERR_AUTH, "authentication required", NULL, LOGIN_RUN },
	{ NULL, 403, ERR_DENIED, "access denied",
	  "check the repository name and your permissions", LOGIN_OR },
	{ NULL, 404, ERR_NOT_FOUND, "not found", NULL, LOGIN_NONE },
	{ NULL, 405, ERR_UNSUPPORTED, "method not allowed",
	  "the registry does not support this operation", LOGIN_NONE },
	{ NULL, 408, ERR_NETWORK, "request timeout", "try again", LOGIN_NONE },
	{ NULL, 413, ERR_TOO_BIG, "payload too large",
	  "the registry refused the upload as too large", LOGIN_NONE },
	{ NULL, 416, ERR_REGISTRY, "range not satisfiable", NULL, LOGIN_NONE },
	{ NULL, 429, ERR_REGISTRY, "rate limited by the registry", "try again later",
	  LOGIN_OR },
	{ NULL, 500, ERR_REGISTRY, "internal server error", "try again later", LOGIN_NONE },
	{ NULL, 501, ERR_UNSUPPORTED, "not implemented",
	  "the registry does not support this operation", LOGIN_NONE },
	{ NULL, 502, ERR_REGISTRY, "bad gateway", "try again later", LOGIN_NONE },
	{ NULL, 503, ERR_REGISTRY, "registry unavailable", "try again later", LOGIN_NONE },
	{ NULL, 504, ERR_REGISTRY, "gateway timeout", "try again later", LOGIN_NONE },
};

static const struct problem server_error = {
	NULL, 0, ERR_REGISTRY, "server error", "try again later", LOGIN_NONE
};
static const struct problem client_error = {
	NULL, 0, ERR_REGISTRY, "request refused", NULL, LOGIN_NONE
};
static const struct problem other_status = {
	NULL, 0, ERR_REGISTRY, "unexpected response", NULL, LOGIN_NONE
};

static const struct problem *problem_for(long status, const struct wire_errors *errs,
					 const struct wire_error **entry)
{
	size_t i, k;

	*entry = errs && errs->n ? &errs->v[0] : NULL;
	for (i = 0; errs && i < errs->n; i++) {
		if (!errs->v[i].code)
			continue;
		for (k = 0; k < sizeof(code_problems) / sizeof(code_problems[0]); k++) {
			if (ascii_caseeq(code_problems[k].key, errs->v[i].code)) {
				*entry = &errs->v[i];
				return &code_problems[k];
			}
		}
	}
	for (k = 0; k < sizeof(status_problems) / sizeof(status_problems[0]); k++)
		if (status_problems[k].status == status)
			return &status_problems[k];
	if (status >= 500 && status <= 599)
		return &server_error;
	if (status >= 400 && status <= 499)
		return &client_error;
	return &other_status;
}

int wire_status_error(struct err *e, long status, const struct wire_errors *errs,
		      const char *what, const char *registry)
{
	char reg[128], text[WIRE_TEXT_MAX + 4], wbuf[512];
	const struct wire_error *entry;
	const struct problem *pr;
	struct buf b = BUF_INIT;
	int ret;

	pr = problem_for(status, errs, &entry);
	ret = pr->code;
	if (registry)
		text_clean(reg, sizeof(reg), registry, strlen(registry));
	else
		snprintf(reg, sizeof(reg), "REGISTRY");
	if (what) {
		text_clean(wbuf, sizeof(wbuf), what, strlen(what));
		buf_addf(&b, "%s: ", wbuf);
	}
	buf_addstr(&b, pr->summary);
	if (pr->hint)
		buf_addf(&b, ": %s", pr->hint);
	if (pr->login == LOGIN_RUN)
		buf_addf(&b, ": run 'hoist auth login %s'", reg);
	else if (pr->login == LOGIN_OR)
		buf_addf(&b, " or log in with 'hoist auth login %s'", reg);
	buf_addf(&b, " (HTTP %ld", status);
	if (entry && entry->code) {
		text_clean(text, CODE_MAX + 4, entry->code, strlen(entry->code));
		buf_addf(&b, " %s", text);
	}
	if (entry && entry->message && entry->message[0]) {
		text_clean(text, sizeof(text), entry->message, strlen(entry->message));
		buf_addf(&b, ": '%s'", text);
	}
	if (errs && errs->total > 1)
		buf_addf(&b, " and %zu more", errs->total - 1);
	buf_addch(&b, ')');
	if (buf_failed(&b))
		err_set(e, ret, "registry error (HTTP %ld)", status);
	else
		err_set(e, ret, "%s", b.data);
	if (e)
		e->http_status = (int)status;
	buf_release(&b);
	return ret;
}

/* ---- Retry-After ---- */

static const char *const month_names[12] = {
	"Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
};
static const char *const day_short[7] = { "Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun" };
static const char *const day_long[7] = {
	"Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday",
};

/* Reads exactly n digits. */
static int read_digits(const char **pp, const char *end, int n, int *out)
{
	const char *p = *pp;
	int v = 0, i;

	for (i = 0; i < n; i++, p++) {
		if (p >= end || !is_digit((unsigned char)*p))
			return -1;
		v = v * 10 + (*p - '0');
	}
	*pp = p;
	*out = v;
	return 0;
}

static int read_lit(const char **pp, const char *end, const char *lit)
{
	size_t n = strlen(lit);

	if ((size_t)(end - *pp) < n || memcmp(*pp, lit, n))
		return -1;
	*pp += n;
	return 0;
}

static int read_month(const char **pp, const char *end, int *out)
{
	int i;

	for (i = 0; i < 12; i++) {
		if (!read_lit(pp, end, month_names[i])) {
			*out = i + 1;
			return 0;
		}
	}
	return -1;
}

/* "HH:MM:SS" */
static int read_time(const char **pp, const char *end, int *h, int *m, int *s)
{
	if (read_digits(pp, end, 2, h) || read_lit(pp, end, ":") ||
	    read_digits(pp, end, 2, m) || read_lit(pp, end, ":") ||
	    read_digits(pp, end, 2, s))
		return -1;
	return *h > 23 || *m > 59 || *s > 60 ? -1 : 0;
}

static int find_name(const char *const *names, size_t count, const char *s, size_t len)
{
	size_t i;

	for (i = 0; i < count; i++)
		if (strlen(names[i]) == len && !memcmp(names[i], s, len))
			return 0;
	return -1;
}

/* Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant). */
static int64_t days_from_civil(int64_t y, int m, int d)
{
	int64_t era, yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = y - era * 400;
	doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

static int days_in_month(int y, int m)
{
	static const int dm[12] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
	int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;

	return m == 2 && leap ? 29 : dm[m - 1];
}

/* Parses an HTTP-date in [p, end) to seconds since the epoch. */
static int parse_http_date(int64_t *out, const char *p, const char *end)
{
	const char *name = p;
	int y, mo, d, h, mi, s;

	while (p < end && is_alpha((unsigned char)*p))
		p++;
	if (p < end && *p == ',') {
		if (p - name == 3) {	/* IMF-fixdate: Sun, 06 Nov 1994 08:49:37 GMT */
			if (find_name(day_short, 7, name, 3) || read_lit(&p, end, ", ") ||
			    read_digits(&p, end, 2, &d) || read_lit(&p, end, " ") ||
			    read_month(&p, end, &mo) || read_lit(&p, end, " ") ||
			    read_digits(&p, end, 4, &y) || read_lit(&p, end, " "))
				return -1;
		} else {		/* RFC 850: Sunday, 06-Nov-94 08:49:37 GMT */
			if (find_name(day_long, 7, name, (size_t)(p - name)) ||
			    read_lit(&p, end, ", ") || read_digits(&p, end, 2, &d) ||
			    read_lit(&p, end, "-") || read_month(&p, end, &mo) ||
			    read_lit(&p, end, "-") || read_digits(&p, end, 2, &y) ||
			    read_lit(&p, end, " "))
				return -1;
			y += y < 70 ? 2000 : 1900;
		}
		if (read_time(&p, end, &h, &mi, &s) || read_lit(&p, end, " GMT") || p != end)
			return -1;
	} else {			/* asctime: Sun Nov  6 08:49:37 1994 */
		if (p - name != 3 || find_name(day_short, 7, name, 3) || read_lit(&p, end, " ") ||
		    read_month(&p, end, &mo) || read_lit(&p, end, " "))
			return -1;
		if (p < end && *p == ' ') {
			p++;
			if (read_digits(&p, end, 1, &d))
				return -1;
		} else if (read_digits(&p, end, 2, &d)) {
			return -1;
		}
		if (read_lit(&p, end, " ") || read_time(&p, end, &h, &mi, &s) ||
		    read_lit(&p, end, " ") || read_digits(&p, end, 4, &y) || p != end)
			return -1;
	}
	if (y < 1900 || d < 1 || d > days_in_month(y, mo))
		return -1;
	*out = days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + s;
	return 0;
}

int wire_parse_retry_after(long *out_seconds, const char *value, time_t now)
{
	const char *p = value, *end = value + strlen(value);
	int64_t v = 0, t;

	*out_seconds = 0;
	p = skip_ows(p, end);
	while (end > p && is_ows((unsigned char)end[-1]))
		end--;
	if (p == end)
		return ERR_INVALID;
	if (is_digit((unsigned char)*p)) {
		for (; p < end; p++) {
			if (!is_digit((unsigned char)*p))
				return ERR_INVALID;
			if (v <= WIRE_RETRY_AFTER_MAX)
				v = v * 10 + (*p - '0');
		}
	} else {
		if (parse_http_date(&t, p, end))
			return ERR_INVALID;
		v = t - (int64_t)now;
		if (v < 0)
			v = 0;
	}
	*out_seconds = v > WIRE_RETRY_AFTER_MAX ? WIRE_RETRY_AFTER_MAX : (long)v;
	return 0;
}

/* ---- Content-Range ---- */

static int read_u63(const char **pp, const char *end, int64_t *out)
{
	const char *p = *pp;
	int64_t v = 0;
	int d;

	if (p >= end || !is_digit((unsigned char)*p))
		return -1;
	for (; p < end && is_digit((unsigned char)*p); p++) {
		d = *p - '0';
		if (v > (INT64_MAX - d) / 10)
			return -2;
		v = v * 10 + d;
	}
	*pp = p;
	*out = v;
	return 0;
}

int wire_parse_content_range(struct wire_range *out, const char *value, struct err *e)
{
	const char *p = value, *end = value + strlen(value);
	char shown[72];
	int64_t start, last, total = -1;
	int rc = 0;

	out->start = out->end = 0;
	out->total = -1;
	p = skip_ows(p, end);
	while (end > p && is_ows((unsigned char)end[-1]))
		end--;
	if (end - p >= 5 && ascii_ncaseeq(p, "bytes", 5)) {
		p += 5;
		if (p < end && *p == '=')
			p++;
		else if (p < end && *p == ' ')
			p = skip_ows(p, end);
		else
			goto bad;
	}
	if ((rc = read_u63(&p, end, &start)) < 0 || read_lit(&p, end, "-") ||
	    (rc = read_u63(&p, end, &last)) < 0)
		goto bad;
	if (p < end && *p == '/') {
		p++;
		if (p < end && *p == '*')
			p++;
		else if ((rc = read_u63(&p, end, &total)) < 0)
			goto bad;
	}
	if (p != end || last < start || (total >= 0 && last >= total))
		goto bad;
	out->start = start;
	out->end = last;
	out->total = total;
	return 0;
bad:
	text_clean(shown, sizeof(shown), value, strlen(value));
	return err_set(e, ERR_INVALID, "invalid range '%s'%s", shown,
		       rc == -2 ? ": number out of range" : "");
}

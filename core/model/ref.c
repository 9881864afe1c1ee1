/* ref.c - image references: the distribution grammar and Docker Hub
 * normalisation (ParseNormalizedNamed + TagNameOnly), by hand rather than by
 * regular expression so that an error can name the part that is wrong.
 */
#include "core/model/ref.h"

#include "core/base/err.h"
#include "core/base/text.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define REF_NAME_MAX 255	/* registry + "/" + repository */
#define REF_TAG_MAX 128
#define REF_PORT_MAX 65535

#define HUB_REGISTRY "docker.io"
#define HUB_LEGACY "index.docker.io"
#define HUB_ENDPOINT "registry-1.docker.io"
#define HUB_OFFICIAL "library/"
#define DEFAULT_TAG "latest"

/* A quoted piece of untrusted input: at most QUOTE_MAX bytes, then "...". */
#define QUOTE_MAX 120
#define QUOTE_BUF (QUOTE_MAX + 4)

static const char *quote(char *dst, const char *s, size_t len)
{
	text_clean(dst, QUOTE_BUF, s, len);
	return dst;
}

__attribute__((format(printf, 3, 4)))
static int ref_fail(struct err *e, const char *input, const char *fmt, ...)
{
	char q[QUOTE_BUF], why[ERR_MSG_MAX];
	va_list ap;

	if (!e)
		return ERR_INVALID;
	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	return err_set(e, ERR_INVALID, "invalid reference '%s': %s",
		       quote(q, input, strlen(input)), why);
}

static int is_digit(char c) { return c >= '0' && c <= '9'; }
static int is_lower(char c) { return c >= 'a' && c <= 'z'; }
static int is_upper(char c) { return c >= 'A' && c <= 'Z'; }
static int is_lower_alnum(char c) { return is_lower(c) || is_digit(c); }
static int is_alnum(char c) { return is_lower_alnum(c) || is_upper(c); }
static int is_hex(char c)
{
	return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

void ref_init(struct ref *r)
{
	r->registry = NULL;
	r->repository = NULL;
	r->tag = NULL;
	r->digest = NULL;
}

void ref_release(struct ref *r)
{
	if (!r)
		return;
	free(r->registry);
	free(r->repository);
	free(r->tag);
	free(r->digest);
	ref_init(r);
}

int ref_copy(struct ref *out, const struct ref *src)
{
	struct ref r = REF_INIT;
	int ret = ERR_NOMEM;

	ref_init(out);
	r.registry = text_dup(src->registry);
	r.repository = text_dup(src->repository);
	r.tag = text_dup(src->tag);
	r.digest = text_dup(src->digest);
	if ((src->registry && !r.registry) || (src->repository && !r.repository) ||
	    (src->tag && !r.tag) || (src->digest && !r.digest))
		goto out;
	*out = r;
	ref_init(&r);
	ret = 0;
out:
	ref_release(&r);
	return ret;
}

/* The pieces of a reference string, pointing into it. */
struct ref_parts {
	const char *name;	/* [registry "/"] path, not NUL-terminated */
	size_t name_len;
	const char *tag;	/* after ':', or NULL */
	size_t tag_len;
	const char *digest;	/* after '@' to the end, or NULL */
	size_t skip;		/* bytes of a leading "[...]" the splitter stepped over */
};

/* Splits `s` into name, tag and digest.  The tag is everything after the
 * first ':' behind the last '/'.  An '@' followed by nothing that looks like
 * "algorithm:hex" after a tag stays in the tag, so "foo:x@y" reports the tag
 * 'x@y' rather than a digest 'y'. */
static int ref_split(struct ref_parts *out, const char *s, struct err *e)
{
	const char *skip = s, *at, *end, *p, *from, *slash = NULL, *colon;
	size_t len = strlen(s);
	char q[QUOTE_BUF];

	if (s[0] == '[') {
		const char *close = strchr(s, ']');
		if (!close)
			return ref_fail(e, s, "'[' starts an IPv6 registry address but there is no ']'");
		skip = close + 1;
	}
	at = strchr(skip, '@');
	end = at ? at : s + len;
	for (p = skip; p < end; p++)
		if (*p == '/')
			slash = p;
	if (s[0] == '[' && !slash)
		return ref_fail(e, s, "registry '%s' must be followed by '/' and a repository path",
				quote(q, s, (size_t)(skip - s)));
	from = slash ? slash : skip;
	colon = memchr(from, ':', (size_t)(end - from));
	if (at && colon && !strchr(at + 1, ':')) {
		at = NULL;
		end = s + len;
	}
	out->name = s;
	out->name_len = (size_t)((colon ? colon : end) - s);
	out->tag = colon ? colon + 1 : NULL;
	out->tag_len = colon ? (size_t)(end - colon - 1) : 0;
	out->digest = at ? at + 1 : NULL;
	out->skip = (size_t)(skip - s);
	return 0;
}

/* An IPv6 address in brackets: hex digits and colons only (no zone, no
 * embedded IPv4), and one inet_pton() accepts. */
static int check_ipv6(const char *in, size_t n)
{
	char buf[INET6_ADDRSTRLEN];
	struct in6_addr a;
	size_t i;

	if (!n || n >= sizeof(buf))
		return -1;
	for (i = 0; i < n; i++)
		if (!is_hex(in[i]) && in[i] != ':')
			return -1;
	memcpy(buf, in, n);
	buf[n] = '\0';
	return inet_pton(AF_INET6, buf, &a) == 1 ? 0 : -1;
}

/* DNS-ish host: labels of letters, digits and '-', not starting or ending
 * with '-', separated by single dots (IPv4 addresses fit this too). */
static int check_hostname(const char *h, size_t n)
{
	size_t i, start = 0;

	if (!n)
		return -1;
	for (i = 0; i <= n; i++) {
		if (i < n && h[i] != '.') {
			if (!is_alnum(h[i]) && h[i] != '-')
				return -1;
			continue;
		}
		if (i == start || h[start] == '-' || h[i - 1] == '-')
			return -1;
		start = i + 1;
	}
	return 0;
}

static int check_registry(struct err *e, const char *input, const char *d, size_t n)
{
	const char *port = NULL, *close;
	size_t port_len = 0, i;
	long v = 0;
	char q[QUOTE_BUF], qp[QUOTE_BUF];

	if (d[0] == '[') {
		close = memchr(d, ']', n);
		if (!close || check_ipv6(d + 1, (size_t)(close - d - 1)) < 0)
			return ref_fail(e, input, "registry '%s' is not a valid IPv6 address in "
					"brackets (zone identifiers and embedded IPv4 addresses are not "
					"accepted)", quote(q, d, close ? (size_t)(close - d + 1) : n));
		if (close + 1 < d + n) {
			if (close[1] != ':')
				return ref_fail(e, input, "registry '%s': only ':PORT' may follow ']'",
						quote(q, d, n));
			port = close + 2;
		}
	} else {
		const char *colon = memchr(d, ':', n);
		size_t hlen = colon ? (size_t)(colon - d) : n;

		if (check_hostname(d, hlen) < 0)
			return ref_fail(e, input, "registry host '%s' is not a valid host name: the "
					"parts between dots may contain only letters, digits and '-', "
					"and may not start or end with '-'", quote(q, d, hlen));
		port = colon ? colon + 1 : NULL;
	}
	if (!port)
		return 0;
	port_len = (size_t)(d + n - port);
	for (i = 0; i < port_len && i < 6; i++) {
		if (!is_digit(port[i]))
			break;
		v = v * 10 + (port[i] - '0');
	}
	if (!port_len || i != port_len || v < 1 || v > REF_PORT_MAX)
		return ref_fail(e, input, "registry '%s' has port '%s': a port must be a number "
				"from 1 to %d", quote(q, d, n), quote(qp, port, port_len),
				REF_PORT_MAX);
	return 0;
}

/* path-component := [a-z0-9]+ ( ( "." | "_" | "__" | "-"+ ) [a-z0-9]+ )* */
static int check_component(struct err *e, const char *input, const char *c, size_t n)
{
	size_t i, start, run;
	char q[QUOTE_BUF], qc[QUOTE_BUF];

	if (!n)
		return ref_fail(e, input, "the repository path has an empty component "
				"(look for '//' or a '/' at the start or the end)");
	for (i = 0; i < n; i++) {
		char ch = c[i];
		if (is_lower_alnum(ch) || ch == '.' || ch == '_' || ch == '-')
			continue;
		return ref_fail(e, input, "repository path component '%s' contains '%s': only "
				"lowercase letters, digits, '.', '_' and '-' are allowed",
				quote(q, c, n), quote(qc, c + i, 1));
	}
	if (!is_lower_alnum(c[0]) || !is_lower_alnum(c[n - 1]))
		goto bad;
	for (i = 0; i < n;) {
		if (is_lower_alnum(c[i])) {
			i++;
			continue;
		}
		start = i;
		while (i < n && !is_lower_alnum(c[i]))
			i++;
		run = i - start;
		if (c[start] == '-') {
			if (strspn(c + start, "-") < run)
				goto bad;
		} else if (c[start] == '.') {
			if (run != 1)
				goto bad;
		} else if (run > 2 || (run == 2 && c[start + 1] != '_')) {
			goto bad;
		}
	}
	return 0;
bad:
	return ref_fail(e, input, "repository path component '%s' must start and end with a "
			"lowercase letter or digit, with only '.', '_', '__' or dashes between "
			"them", quote(q, c, n));
}

static int check_path(struct err *e, const char *input, const char *p, size_t n)
{
	const char *c = p, *slash, *end = p + n;
	size_t i;
	int ret;

	for (i = 0; i < n; i++)
		if (is_upper(p[i]))
			return ref_fail(e, input, "repository name must be lowercase");
	for (;;) {
		slash = memchr(c, '/', (size_t)(end - c));
		ret = check_component(e, input, c, (size_t)((slash ? slash : end) - c));
		if (ret < 0 || !slash)
			return ret;
		c = slash + 1;
	}
}

/* tag := [A-Za-z0-9_][A-Za-z0-9_.-]{0,127} */
static int check_tag(struct err *e, const char *input, const char *t, size_t n)
{
	size_t i;
	char q[QUOTE_BUF];

	if (!n)
		return ref_fail(e, input, "the tag after ':' is empty");
	for (i = 0; i < n; i++) {
		char c = t[i];
		if (is_alnum(c) || c == '_' || (i > 0 && (c == '.' || c == '-')))
			continue;
		return ref_fail(e, input, "tag '%s' is invalid: tags may contain only letters, "
				"digits, '_', '.' and '-', and may not start with '.' or '-'",
				quote(q, t, n));
	}
	if (n > REF_TAG_MAX)
		return ref_fail(e, input, "tag '%s' is %zu characters long, the limit is %d",
				quote(q, t, n), n, REF_TAG_MAX);
	return 0;
}

static int is_identifier(const char *s, size_t len)
{
	size_t i;

	if (len != 64)
		return 0;
	for (i = 0; i < len; i++)
		if (!is_digit(s[i]) && !(s[i] >= 'a' && s[i] <= 'f'))
			return 0;
	return 1;
}

int ref_parse(struct ref *out, const char *s, unsigned flags, struct err *e)
{
	struct ref r = REF_INIT;
	struct ref_parts pt = { NULL, 0, NULL, 0, NULL, 0 };
	struct digest d = { DIGEST_SHA256, { 0 } };
	struct buf repo = BUF_INIT;
	const char *dom = HUB_REGISTRY, *path, *slash, *scheme;
	size_t dom_len = strlen(HUB_REGISTRY), path_len, len;
	int hub_prefix = 0, want_tag, ret;
	char q[QUOTE_BUF];

	ref_init(out);
	if (!s)
		s = "";
	len = strlen(s);
	if (!len) {
		ret = ref_fail(e, s, "the name is empty");
		goto out;
	}
	if (is_identifier(s, len)) {
		ret = ref_fail(e, s, "a 64-character hexadecimal string is an image ID, not a "
			       "repository name (name an image by digest as NAME@sha256:ID)");
		goto out;
	}
	scheme = strstr(s, "://");
	if (scheme) {
		ret = ref_fail(e, s, "a reference has no URL scheme: leave out '%s'",
			       quote(q, s, (size_t)(scheme - s) + 3));
		goto out;
	}
	if ((ret = ref_split(&pt, s, e)) < 0)
		goto out;
	if (!pt.name_len) {
		ret = ref_fail(e, s, "the repository name is empty");
		goto out;
	}

	/* Where does the registry end?  Only a first component with '.' or
	 * ':', "localhost", or upper-case letters is a registry. */
	path = pt.name;
	path_len = pt.name_len;
	slash = memchr(pt.name + pt.skip, '/', pt.name_len - pt.skip);
	if (slash) {
		size_t first = (size_t)(slash - pt.name), i;
		int is_dom = (first == 9 && !memcmp(pt.name, "localhost", 9)) ||
			memchr(pt.name, '.', first) || memchr(pt.name, ':', first);

		for (i = 0; i < first && !is_dom; i++)
			is_dom = is_upper(pt.name[i]);
		if (is_dom) {
			if ((ret = check_registry(e, s, pt.name, first)) < 0)
				goto out;
			if (!(first == strlen(HUB_LEGACY) && !memcmp(pt.name, HUB_LEGACY, first))) {
				dom = pt.name;
				dom_len = first;
			}
			path = slash + 1;
			path_len = pt.name_len - first - 1;
		}
	}
	if ((ret = check_path(e, s, path, path_len)) < 0)
		goto out;
	if (dom_len == strlen(HUB_REGISTRY) && !memcmp(dom, HUB_REGISTRY, dom_len) &&
	    !memchr(path, '/', path_len))
		hub_prefix = 1;
	if (dom_len + 1 + (hub_prefix ? strlen(HUB_OFFICIAL) : 0) + path_len > REF_NAME_MAX) {
		ret = ref_fail(e, s, "the name is %zu characters long, the limit is %d",
			       dom_len + 1 + (hub_prefix ? strlen(HUB_OFFICIAL) : 0) + path_len,
			       REF_NAME_MAX);
		goto out;
	}
	if ((flags & REF_NAME_ONLY) && (pt.tag || pt.digest)) {
		ret = ref_fail(e, s, "a repository name takes no %s",
			       pt.tag ? "tag" : "digest");
		goto out;
	}
	if (pt.tag && (ret = check_tag(e, s, pt.tag, pt.tag_len)) < 0)
		goto out;
	if (pt.digest && (ret = digest_parse(&d, pt.digest, e)) < 0) {
		if (e)
			err_prefix(e, "invalid reference '%s'", quote(q, s, len));
		ret = ERR_INVALID;
		goto out;
	}

	ret = ERR_NOMEM;
	r.registry = strndup(dom, dom_len);
	if (hub_prefix)
		buf_addstr(&repo, HUB_OFFICIAL);
	buf_add(&repo, path, path_len);
	if (!r.registry || buf_failed(&repo))
		goto nomem;
	r.repository = buf_detach(&repo, NULL);
	want_tag = pt.tag || (!pt.digest && !(flags & (REF_NO_DEFAULT_TAG | REF_NAME_ONLY)));
	if (pt.tag)
		r.tag = strndup(pt.tag, pt.tag_len);
	else if (want_tag)
		r.tag = strdup(DEFAULT_TAG);
	if (pt.digest)
		r.digest = strdup(d.str);
	if (!r.repository || (want_tag && !r.tag) || (pt.digest && !r.digest))
		goto nomem;
	*out = r;
	ref_init(&r);
	ret = 0;
	goto out;
nomem:
	ret = err_set(e, ERR_NOMEM, "out of memory parsing a reference");
out:
	ref_release(&r);
	buf_release(&repo);
	return ret;
}

int ref_format_name(struct buf *out, const struct ref *r)
{
	if (!r->registry || !r->repository)
		return ERR_INVALID;
	return buf_addf(out, "%s/%s", r->registry, r->repository);
}

int ref_format(struct buf *out, const struct ref *r)
{
	int ret;

	if ((ret = ref_format_name(out, r)) < 0)
		return ret;
	if (r->tag && (ret = buf_addf(out, ":%s", r->tag)) < 0)
		return ret;
	if (r->digest && (ret = buf_addf(out, "@%s", r->digest)) < 0)
		return ret;
	return 0;
}

const char *ref_endpoint(const struct ref *r)
{
	if (r->registry && !strcmp(r->registry, HUB_REGISTRY))
		return HUB_ENDPOINT;
	return r->registry;
}

int ref_registry_is_loopback(const char *registry)
{
	char host[INET6_ADDRSTRLEN];
	const char *end;
	struct in_addr a4;
	struct in6_addr a6;
	size_t n;

	if (!registry)
		return 0;
	if (registry[0] == '[') {
		end = strchr(registry, ']');
		if (!end || (end[1] && end[1] != ':'))
			return 0;
		n = (size_t)(end - registry - 1);
		if (n >= sizeof(host))
			return 0;
		memcpy(host, registry + 1, n);
		host[n] = '\0';
		if (inet_pton(AF_INET6, host, &a6) != 1)
			return 0;
		return IN6_IS_ADDR_LOOPBACK(&a6) ||
			(IN6_IS_ADDR_V4MAPPED(&a6) && a6.s6_addr[12] == 127);
	}
	end = strchr(registry, ':');
	n = end ? (size_t)(end - registry) : strlen(registry);
	if (n >= sizeof(host))
		return 0;
	memcpy(host, registry, n);
	host[n] = '\0';
	if (!strcasecmp(host, "localhost"))
		return 1;
	if (inet_pton(AF_INET, host, &a4) == 1)
		return (ntohl(a4.s_addr) >> 24) == 127;
	return 0;
}

int ref_parse_registry(char **out, const char *s, struct err *e)
{
	static const char *const hub[] = { HUB_REGISTRY, HUB_LEGACY, HUB_ENDPOINT };
	const char *h = s ? s : "";
	char q[QUOTE_BUF];
	size_t n, i;
	int url = 0;

	*out = NULL;
	if (!strncasecmp(h, "https://", 8) || !strncasecmp(h, "http://", 7)) {
		h = strstr(h, "://") + 3;
		url = 1;
	}
	n = strcspn(h, "/");
	if (!n)
		return err_set(e, ERR_INVALID, "invalid registry '%s': the name is empty",
			       quote(q, s ? s : "", s ? strlen(s) : 0));
	if (h[n] && !url)
		return err_set(e, ERR_INVALID, "'%s' is a repository, not a registry: give only "
			       "the host[:port]", quote(q, s, strlen(s)));
	for (i = 0; i < sizeof(hub) / sizeof(hub[0]); i++)
		if (n == strlen(hub[i]) && !strncasecmp(h, hub[i], n)) {
			*out = strdup(HUB_REGISTRY);
			return *out ? 0 : err_set(e, ERR_NOMEM, "out of memory");
		}
	if (n > REF_NAME_MAX || check_registry(e, s, h, n) < 0)
		return err_set(e, ERR_INVALID, "invalid registry '%s': not a host name or address "
			       "with an optional :port", quote(q, h, n));
	if (!memchr(h, '.', n) && !memchr(h, ':', n) && !(n == 9 && !memcmp(h, "localhost", 9)))
		return err_set(e, ERR_INVALID, "'%s' is not a registry name: a registry has a '.' "
			       "or a ':port' in its name, or is 'localhost'", quote(q, h, n));
	*out = strndup(h, n);
	return *out ? 0 : err_set(e, ERR_NOMEM, "out of memory");
}

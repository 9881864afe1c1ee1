/* userdb.c - user and group names of an image, from /etc/passwd and /etc/group. */
#include "core/format/userdb.h"

#include "core/base/err.h"

#include <stdlib.h>
#include <string.h>

#define NAME_MAX_LEN 64

/* A decimal ID in [0, 2^31), the whole of s[0..n). */
static int parse_id(int64_t *out, const char *s, size_t n)
{
	int64_t v = 0;
	size_t i;

	if (!n || n > 10)
		return -1;
	for (i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	if (v > 0x7fffffff)
		return -1;
	*out = v;
	return 0;
}

/* The characters useradd and groupadd allow (and '$' for machine accounts). */
static int valid_name(const char *s, size_t n)
{
	size_t i;

	if (!n || n > NAME_MAX_LEN || s[0] == '-')
		return 0;
	for (i = 0; i < n; i++) {
		char c = s[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '_' || c == '-' || c == '.' || (c == '$' && i == n - 1)))
			return 0;
	}
	return 1;
}

int userdb_numeric(const char *spec)
{
	const char *colon = strchr(spec, ':');
	int64_t v;

	if (colon)
		return parse_id(&v, spec, (size_t)(colon - spec)) == 0 &&
		       parse_id(&v, colon + 1, strlen(colon + 1)) == 0;
	return parse_id(&v, spec, strlen(spec)) == 0;
}

/* The ID (third field: passwd's uid, group's gid) of the line naming
 * `name` in a colon-separated file: 0, 1 when no line names it, -1 when its
 * ID is not a number. */
static int lookup(int64_t *out, const char *text, size_t len, const char *name, size_t nlen)
{
	const char *p = text, *end = text + len;

	while (p < end) {
		const char *eol = memchr(p, '\n', (size_t)(end - p));
		const char *f1, *f2, *f3;

		if (!eol)
			eol = end;
		f1 = memchr(p, ':', (size_t)(eol - p));
		f2 = f1 ? memchr(f1 + 1, ':', (size_t)(eol - f1 - 1)) : NULL;
		if (f2 && (size_t)(f1 - p) == nlen && !memcmp(p, name, nlen)) {
			f3 = memchr(f2 + 1, ':', (size_t)(eol - f2 - 1));
			if (!f3)
				f3 = eol;
			return parse_id(out, f2 + 1, (size_t)(f3 - f2 - 1));
		}
		p = eol + 1;
	}
	return 1;	/* not there */
}

static int resolve_one(int64_t *out, const char *s, size_t n, const char *text, size_t len,
		       const char *file, const char *what, const char *spec, struct err *e)
{
	int rc;

	if (parse_id(out, s, n) == 0)
		return 0;
	if (n && strspn(s, "0123456789") >= n)
		return err_set(e, ERR_INVALID, "--chown=%s: %s ID %.*s is out of range", spec, what,
			       (int)n, s);
	if (!valid_name(s, n))
		return err_set(e, ERR_INVALID, "--chown=%s: '%.*s' is not a %s name or number",
			       spec, (int)n, s, what);
	if (!text)
		return err_set(e, ERR_NOT_FOUND, "--chown=%s: the base image has no %s to look "
			       "up '%.*s' in: use a number", spec, file, (int)n, s);
	rc = lookup(out, text, len, s, n);
	if (rc > 0)
		return err_set(e, ERR_NOT_FOUND, "--chown=%s: no %s '%.*s' in the base image's "
			       "%s", spec, what, (int)n, s, file);
	if (rc < 0)
		return err_set(e, ERR_INVALID, "--chown=%s: the base image's %s has a bad ID for "
			       "'%.*s'", spec, file, (int)n, s);
	return 0;
}

int userdb_resolve(int64_t *out_uid, int64_t *out_gid, const char *spec, const char *passwd,
		   size_t passwd_len, const char *group, size_t group_len, struct err *e)
{
	const char *colon = strchr(spec, ':');
	size_t ulen = colon ? (size_t)(colon - spec) : strlen(spec);
	int ret;

	ret = resolve_one(out_uid, spec, ulen, passwd, passwd_len, "/etc/passwd", "user", spec, e);
	if (ret < 0)
		return ret;
	if (!colon) {
		*out_gid = *out_uid;	/* docker: the user's ID as the group's */
		return 0;
	}
	return resolve_one(out_gid, colon + 1, strlen(colon + 1), group, group_len, "/etc/group",
			   "group", spec, e);
}

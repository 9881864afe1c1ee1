/* dockerignore.c - .dockerignore patterns.  See dockerignore.h. */
#include "core/format/dockerignore.h"

#include "core/base/buf.h"
#include "core/base/err.h"
#include "core/base/strvec.h"
#include "core/base/text.h"

#include <ctype.h>
#include <fnmatch.h>
#include <stdlib.h>
#include <string.h>

void dockerignore_init(struct dockerignore *di)
{
	strvec_init(&di->patterns);
	di->exception = NULL;
	di->has_exceptions = 0;
}

void dockerignore_release(struct dockerignore *di)
{
	strvec_clear(&di->patterns);
	free(di->exception);
	dockerignore_init(di);
}

/* path.Clean for a relative pattern or path, into `out`: no leading "/" or
 * "./", no "." components, ".." resolved (clamped at the root). */
static int clean_rel(struct buf *out, const char *s)
{
	buf_reset(out);
	while (*s) {
		size_t n;

		while (*s == '/')
			s++;
		n = strcspn(s, "/");
		if (!n)
			break;
		if (n == 1 && s[0] == '.') {
			/* skip */
		} else if (n == 2 && s[0] == '.' && s[1] == '.') {
			char *slash = strrchr(out->data, '/');

			buf_setlen(out, slash ? (size_t)(slash - out->data) : 0);
		} else {
			if (out->len)
				buf_addch(out, '/');
			buf_add(out, s, n);
		}
		s += n;
	}
	return buf_failed(out) ? -1 : 0;
}

/* Checks a pattern's brackets: 0 or -1 for an unclosed '['. */
static int pattern_ok(const char *s)
{
	for (; *s; s++) {
		if (*s == '\\' && s[1]) {
			s++;
		} else if (*s == '[') {
			const char *c = s + 1;

			if (*c == '!' || *c == '^')
				c++;
			if (*c == ']')
				c++;
			while (*c && *c != ']')
				c++;
			if (!*c)
				return -1;
			s = c;
		}
	}
	return 0;
}

int dockerignore_parse(struct dockerignore *di, const char *text, size_t len, struct err *e)
{
	struct buf clean = BUF_INIT, raw = BUF_INIT;
	size_t pos = 0;
	int line = 0, ret = -1;

	while (pos < len) {
		const char *s = text + pos, *nl = memchr(s, '\n', len - pos);
		size_t n = nl ? (size_t)(nl - s) : len - pos;
		int exc = 0;
		unsigned char *ne;

		pos += n + (nl ? 1 : 0);
		line++;
		while (n && isspace((unsigned char)*s))
			s++, n--;
		while (n && isspace((unsigned char)s[n - 1]))
			n--;
		if (!n || s[0] == '#')
			continue;
		if (s[0] == '!') {
			exc = 1;
			s++, n--;
			while (n && isspace((unsigned char)*s))
				s++, n--;
		}
		buf_reset(&raw);
		buf_add(&raw, s, n);
		if (buf_failed(&raw) || clean_rel(&clean, raw.data) < 0) {
			ret = err_set(e, ERR_NOMEM, "out of memory");
			goto out;
		}
		if (!clean.len)
			continue;	/* "/", ".": the whole context, which Docker ignores */
		if (pattern_ok(clean.data) < 0) {
			char q[128];

			text_clean(q, sizeof(q), clean.data, clean.len);
			ret = err_set(e, ERR_INVALID, ".dockerignore line %d: bad pattern '%s'",
				      line, q);
			goto out;
		}
		ne = realloc(di->exception, di->patterns.n + 1);
		if (!ne || strvec_push(&di->patterns, clean.data) < 0) {
			if (ne)
				di->exception = ne;
			ret = err_set(e, ERR_NOMEM, "out of memory");
			goto out;
		}
		di->exception = ne;
		di->exception[di->patterns.n - 1] = (unsigned char)exc;
		if (exc)
			di->has_exceptions = 1;
	}
	ret = 0;
out:
	buf_release(&clean);
	buf_release(&raw);
	return ret;
}

/* Matches pattern segments against path segments; a full match of the
 * pattern against the path or any of its parents counts.  Dynamic
 * programming over (pattern segment, path position), O(np * nq): trying
 * every split for each "**" recursively took exponential time on
 * "**" / "**" / ... / "x" against a deep path (found while fuzzing; see
 * tests/fuzz/regress/dockerignore/).  -1 when out of memory. */
static int match_segs(char **pat, size_t np, char **path, size_t nq)
{
	unsigned char *mem = calloc(2 * (nq + 1), 1), *cur = mem, *next, *t;
	size_t i, j;
	int any = 1, ret = -1;

	if (!mem)
		goto out;
	next = mem + nq + 1;
	cur[0] = 1;	/* cur[j]: the segments so far match path[0..j) */
	for (i = 0; i < np && any; i++) {
		any = 0;
		if (!strcmp(pat[i], "**")) {
			int seen = 0;

			for (j = 0; j <= nq; j++) {
				seen |= cur[j];
				next[j] = (unsigned char)seen;
				any |= seen;
			}
		} else {
			next[0] = 0;
			for (j = 0; j < nq; j++) {
				next[j + 1] = cur[j] && fnmatch(pat[i], path[j], 0) == 0;
				any |= next[j + 1];
			}
		}
		t = cur, cur = next, next = t;
	}
	/* the pattern is used up: this path or a parent matched */
	ret = any;
out:
	free(mem);
	return ret;
}

static int split_segs(struct strvec *out, const char *s)
{
	while (*s) {
		size_t n = strcspn(s, "/");
		char *seg = strndup(s, n);

		if (!seg || strvec_push_nodup(out, seg) < 0)
			return -1;
		s += n;
		if (*s == '/')
			s++;
	}
	return 0;
}

int dockerignore_match(const struct dockerignore *di, const char *path)
{
	struct buf clean = BUF_INIT;
	struct strvec ps = STRVEC_INIT, pp = STRVEC_INIT;
	int excluded = 0;
	size_t i;

	if (!di->patterns.n || clean_rel(&clean, path) < 0 || !clean.len ||
	    split_segs(&ps, clean.data) < 0)
		goto out;
	for (i = 0; i < di->patterns.n; i++) {
		strvec_clear(&pp);
		if (split_segs(&pp, di->patterns.v[i]) < 0)
			break;
		if (match_segs(pp.v, pp.n, ps.v, ps.n) > 0)
			excluded = !di->exception[i];
	}
out:
	strvec_clear(&ps);
	strvec_clear(&pp);
	buf_release(&clean);
	return excluded;
}

/* settings.c - the config file.  See settings.h. */
#include "core/model/settings.h"

#include "core/base/buf.h"
#include "core/base/err.h"
#include "core/base/json.h"
#include "core/model/platform.h"
#include "core/model/ref.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

static const char *const top_keys[] = { "cache", "jobs", "platform", "registries", NULL };
static const char *const reg_keys[] = { "mirrors", "insecure", "ca", NULL };

void settings_init(struct settings *s)
{
	memset(s, 0, sizeof(*s));
}

static void registry_release(struct settings_registry *r)
{
	size_t i;

	for (i = 0; i < r->n_mirrors; i++) {
		free(r->mirrors[i].url);
		free(r->mirrors[i].host);
		free(r->mirrors[i].prefix);
	}
	free(r->mirrors);
	free(r->host);
	free(r->ca);
	memset(r, 0, sizeof(*r));
}

void settings_release(struct settings *s)
{
	size_t i;

	for (i = 0; i < s->n_registries; i++)
		registry_release(&s->registries[i]);
	free(s->registries);
	free(s->path);
	free(s->cache);
	free(s->platform);
	settings_init(s);
}

/* ---- closest match ------------------------------------------------------ */

static size_t edit_distance(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b), i, j;
	size_t row[33], prev, tmp;

	if (la > 32 || lb > 32)
		return SIZE_MAX;
	for (j = 0; j <= lb; j++)
		row[j] = j;
	for (i = 1; i <= la; i++) {
		prev = row[0];
		row[0] = i;
		for (j = 1; j <= lb; j++) {
			size_t best = prev + (a[i - 1] != b[j - 1]);
			if (row[j] + 1 < best)
				best = row[j] + 1;
			if (row[j - 1] + 1 < best)
				best = row[j - 1] + 1;
			tmp = row[j];
			row[j] = best;
			prev = tmp;
		}
	}
	return row[lb];
}

const char *settings_closest(const char *key, const char *const *known)
{
	const char *best = NULL;
	size_t bd = SIZE_MAX, d, len = strlen(key), limit;
	size_t i;

	limit = len / 3 > 2 ? len / 3 : 2;
	for (i = 0; known[i]; i++) {
		if (!strcasecmp(key, known[i]))
			return known[i];
		d = edit_distance(key, known[i]);
		if (d < bd) {
			bd = d;
			best = known[i];
		}
	}
	return bd <= limit && bd < len ? best : NULL;
}

/* ---- key paths for messages --------------------------------------------- */

/* Appends `key` to a jq-like path: bare when it is an identifier, else
 * quoted (control characters and quotes escaped). */
static void path_add(struct buf *p, const char *key)
{
	const char *s;
	int bare = *key && !(*key >= '0' && *key <= '9') && strlen(key) <= 128;

	for (s = key; *s && bare; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		      (*s >= '0' && *s <= '9') || *s == '_'))
			bare = 0;
	if (p->len)
		buf_addch(p, '.');
	if (bare) {
		buf_addstr(p, key);
		return;
	}
	buf_addch(p, '"');
	for (s = key; *s && s - key < 128; s++) {
		unsigned char c = (unsigned char)*s;
		if (c == '"' || c == '\\')
			buf_addf(p, "\\%c", c);
		else if (c < 0x20 || c == 0x7f)
			buf_addf(p, "\\u%04x", c);
		else
			buf_addch(p, c);
	}
	if (*s)
		buf_addstr(p, "...");
	buf_addch(p, '"');
}

static const char *kind_name(enum json_kind k)
{
	switch (k) {
	case JSON_NULL: return "null";
	case JSON_BOOL: return "a boolean";
	case JSON_INT: return "an integer";
	case JSON_DOUBLE: return "a number";
	case JSON_STRING: return "a string";
	case JSON_OBJECT: return "an object";
	case JSON_ARRAY: return "an array";
	}
	return "?";
}

struct parse {
	struct settings *s;
	const char *source;
	struct err *e;
	struct buf path;	/* of the member being parsed */
	struct settings_registry *reg;	/* the registry being parsed */
};

static int bad(struct parse *p, const char *msg)
{
	return err_set(p->e, ERR_INVALID, "%s%s%s: %s", p->source ? p->source : "",
		       p->source ? ": " : "", p->path.data, msg);
}

static int want_kind(struct parse *p, const struct json *v, enum json_kind k)
{
	enum json_kind have = json_kind_of(v);

	if (have == k)
		return 0;
	{
		struct buf m = BUF_INIT;
		int ret;
		buf_addf(&m, "must be %s, not %s", kind_name(k), kind_name(have));
		ret = bad(p, buf_failed(&m) ? "wrong type" : m.data);
		buf_release(&m);
		return ret;
	}
}

static int unknown_key(struct parse *p, const char *key, const char *const *known)
{
	const char *hint = settings_closest(key, known);
	struct buf m = BUF_INIT;
	size_t i;
	int ret;

	buf_addstr(&m, "unknown key");
	if (hint)
		buf_addf(&m, " (did you mean '%s'?)", hint);
	else {
		buf_addstr(&m, " (known:");
		for (i = 0; known[i]; i++)
			buf_addf(&m, " %s", known[i]);
		buf_addch(&m, ')');
	}
	ret = bad(p, buf_failed(&m) ? "unknown key" : m.data);
	buf_release(&m);
	return ret;
}

static int dup_string(char **out, struct parse *p, const struct json *v)
{
	const char *s;

	if (want_kind(p, v, JSON_STRING) < 0)
		return ERR_INVALID;
	s = json_str(v);
	if (!*s || strlen(s) != json_str_len(v))
		return bad(p, "must be a non-empty string without NUL bytes");
	free(*out);
	*out = strdup(s);
	return *out ? 0 : err_set(p->e, ERR_NOMEM, "out of memory");
}

/* "[http://|https://]HOST[:PORT][/PREFIX]" */
static int mirror_parse(struct settings_mirror *m, struct parse *p, const char *url)
{
	const char *rest = url, *slash;
	struct err e2 = ERR_INIT;
	char *host = NULL;
	int ret = ERR_INVALID;

	memset(m, 0, sizeof(*m));
	if (!strncasecmp(rest, "https://", 8)) {
		m->scheme = SETTINGS_SCHEME_HTTPS;
		rest += 8;
	} else if (!strncasecmp(rest, "http://", 7)) {
		m->scheme = SETTINGS_SCHEME_HTTP;
		rest += 7;
	} else if (strstr(rest, "://")) {
		bad(p, "a mirror must be http:// or https://");
		goto out;
	}
	slash = strchr(rest, '/');
	host = slash ? strndup(rest, (size_t)(slash - rest)) : strdup(rest);
	if (!host) {
		ret = err_set(p->e, ERR_NOMEM, "out of memory");
		goto out;
	}
	if (!*host || strpbrk(host, "?#@ \t\r\n")) {
		bad(p, "not a mirror URL ([http[s]://]host[:port][/prefix])");
		goto out;
	}
	if (ref_parse_registry(&m->host, host, &e2) < 0) {
		bad(p, e2.msg);
		goto out;
	}
	if (slash) {
		const char *a = slash, *b;
		struct buf pre = BUF_INIT;
		while (*a == '/')
			a++;
		b = a + strlen(a);
		while (b > a && b[-1] == '/')
			b--;
		if (b > a) {
			/* the prefix must be a valid repository path */
			struct ref tmp = REF_INIT;
			buf_addstr(&pre, "localhost/");
			buf_add(&pre, a, (size_t)(b - a));
			if (buf_failed(&pre) || (!strncmp(a, "v2", 2) && (b - a == 2 || a[2] == '/'))) {
				buf_release(&pre);
				bad(p, "the mirror's path is a repository prefix; leave out /v2");
				goto out;
			}
			if (ref_parse(&tmp, pre.data, REF_NAME_ONLY, &e2) < 0) {
				buf_release(&pre);
				bad(p, "the mirror's path is not a valid repository prefix");
				goto out;
			}
			ref_release(&tmp);
			m->prefix = strndup(a, (size_t)(b - a));
			buf_release(&pre);
			if (!m->prefix) {
				ret = err_set(p->e, ERR_NOMEM, "out of memory");
				goto out;
			}
		}
	}
	m->url = strdup(url);
	if (!m->url) {
		ret = err_set(p->e, ERR_NOMEM, "out of memory");
		goto out;
	}
	ret = 0;
out:
	free(host);
	if (ret < 0) {
		free(m->url);
		free(m->host);
		free(m->prefix);
		memset(m, 0, sizeof(*m));
	}
	return ret;
}

static int parse_mirrors(struct parse *p, const struct json *v)
{
	struct settings_registry *r = p->reg;
	size_t n, i, len0 = p->path.len;
	int rc;

	if (want_kind(p, v, JSON_ARRAY) < 0)
		return ERR_INVALID;
	n = json_array_len(v);
	if (n > SETTINGS_MAX_MIRRORS)
		return bad(p, "too many mirrors (at most 16)");
	if (!n)
		return 0;
	r->mirrors = calloc(n, sizeof(*r->mirrors));
	if (!r->mirrors)
		return err_set(p->e, ERR_NOMEM, "out of memory");
	for (i = 0; i < n; i++) {
		const struct json *m = json_array_get(v, i);
		buf_addf(&p->path, "[%zu]", i);
		if (want_kind(p, m, JSON_STRING) < 0)
			return ERR_INVALID;
		if (strlen(json_str(m)) != json_str_len(m))
			return bad(p, "must not hold NUL bytes");
		if ((rc = mirror_parse(&r->mirrors[i], p, json_str(m))) < 0)
			return rc;
		r->n_mirrors++;
		buf_setlen(&p->path, len0);
	}
	return 0;
}

static int registry_member(const char *key, struct json *v, void *arg)
{
	struct parse *p = arg;
	size_t len0 = p->path.len;
	int rc;

	path_add(&p->path, key);
	if (buf_failed(&p->path))
		return err_set(p->e, ERR_NOMEM, "out of memory");
	if (!strcmp(key, "mirrors")) {
		if (p->reg->n_mirrors || p->reg->mirrors)
			return bad(p, "given twice");
		rc = parse_mirrors(p, v);
	} else if (!strcmp(key, "insecure")) {
		if ((rc = want_kind(p, v, JSON_BOOL)) == 0)
			p->reg->insecure = json_is_true(v);
	} else if (!strcmp(key, "ca")) {
		rc = dup_string(&p->reg->ca, p, v);
	} else {
		rc = unknown_key(p, key, reg_keys);
	}
	if (rc == 0)
		buf_setlen(&p->path, len0);
	return rc;
}

static int registries_member(const char *key, struct json *v, void *arg)
{
	struct parse *p = arg;
	struct settings *s = p->s;
	struct settings_registry *nr;
	struct err e2 = ERR_INIT;
	char *host = NULL;
	size_t len0 = p->path.len, i;
	int rc;

	path_add(&p->path, key);
	if (buf_failed(&p->path))
		return err_set(p->e, ERR_NOMEM, "out of memory");
	if (strchr(key, '/') || ref_parse_registry(&host, key, &e2) < 0)
		return bad(p, "not a registry host[:port]");
	for (i = 0; i < s->n_registries; i++) {
		if (!strcmp(s->registries[i].host, host)) {
			free(host);
			return bad(p, "names a registry given before");
		}
	}
	nr = realloc(s->registries, (s->n_registries + 1) * sizeof(*nr));
	if (!nr) {
		free(host);
		return err_set(p->e, ERR_NOMEM, "out of memory");
	}
	s->registries = nr;
	p->reg = &nr[s->n_registries++];
	memset(p->reg, 0, sizeof(*p->reg));
	p->reg->host = host;
	if (want_kind(p, v, JSON_OBJECT) < 0)
		return ERR_INVALID;
	if ((rc = json_obj_each(v, registry_member, p)) != 0)
		return rc;
	p->reg = NULL;
	buf_setlen(&p->path, len0);
	return 0;
}

static int top_member(const char *key, struct json *v, void *arg)
{
	struct parse *p = arg;
	struct settings *s = p->s;
	size_t len0 = p->path.len;
	int64_t n;
	int rc;

	path_add(&p->path, key);
	if (buf_failed(&p->path))
		return err_set(p->e, ERR_NOMEM, "out of memory");
	if (!strcmp(key, "cache")) {
		rc = dup_string(&s->cache, p, v);
	} else if (!strcmp(key, "jobs")) {
		if ((rc = want_kind(p, v, JSON_INT)) == 0) {
			if (json_int64(v, &n) < 0 || n < 1 || n > SETTINGS_JOBS_MAX)
				rc = bad(p, "must be 1 to 64");
			else
				s->jobs = (int)n;
		}
	} else if (!strcmp(key, "platform")) {
		if ((rc = dup_string(&s->platform, p, v)) == 0) {
			struct platform pl = PLATFORM_INIT;
			struct err e2 = ERR_INIT;
			if (platform_parse(&pl, s->platform, &e2) < 0)
				rc = bad(p, e2.msg);
			platform_release(&pl);
		}
	} else if (!strcmp(key, "registries")) {
		if ((rc = want_kind(p, v, JSON_OBJECT)) == 0)
			rc = json_obj_each(v, registries_member, p);
	} else {
		rc = unknown_key(p, key, top_keys);
	}
	if (rc == 0)
		buf_setlen(&p->path, len0);
	return rc;
}

int settings_parse(struct settings *out, const char *data, size_t len, const char *source,
		   struct err *e)
{
	struct settings s = SETTINGS_INIT;
	struct parse p;
	struct json *j = NULL;
	int ret;

	memset(&p, 0, sizeof(p));
	p.s = &s;
	p.source = source;
	p.e = e;
	buf_init(&p.path, 4096);
	if ((ret = json_parse(&j, data, len, e)) < 0) {
		if (source)
			err_prefix(e, "%s", source);
		goto out;
	}
	if (json_kind_of(j) != JSON_OBJECT) {
		ret = err_set(e, ERR_INVALID, "%s%sthe config must be a JSON object, not %s",
			      source ? source : "", source ? ": " : "", kind_name(json_kind_of(j)));
		goto out;
	}
	if ((ret = json_obj_each(j, top_member, &p)) != 0)
		goto out;
	settings_release(out);
	*out = s;
	settings_init(&s);
	ret = 0;
out:
	settings_release(&s);
	buf_release(&p.path);
	json_free(j);
	return ret;
}

/* `rel` made relative to the folder of `file` when it is relative. */
static int rebase(char **rel, const char *file)
{
	const char *slash = strrchr(file, '/');
	struct buf b = BUF_INIT;

	if (!*rel || (*rel)[0] == '/' || !slash)
		return 0;
	buf_add(&b, file, (size_t)(slash - file) + 1);
	buf_addstr(&b, *rel);
	if (buf_failed(&b)) {
		buf_release(&b);
		return ERR_NOMEM;
	}
	free(*rel);
	*rel = buf_detach(&b, NULL);
	return *rel ? 0 : ERR_NOMEM;
}

int settings_load(struct settings *out, const char *path, struct err *e)
{
	struct buf data = BUF_INIT;
	struct settings s = SETTINGS_INIT;
	char chunk[8192];
	ssize_t n;
	size_t i;
	int fd = -1, ret = -1;

	buf_init(&data, SETTINGS_MAX_BYTES);
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0) {
		ret = err_set_errno(e, errno == ENOENT ? ERR_NOT_FOUND : ERR_IO, errno,
				    "cannot open the config file '%s'", path);
		goto out;
	}
	for (;;) {
		n = read(fd, chunk, sizeof(chunk));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			ret = err_set_errno(e, ERR_IO, errno, "cannot read the config file '%s'",
					    path);
			goto out;
		}
		if (n == 0)
			break;
		if (buf_add(&data, chunk, (size_t)n) < 0) {
			ret = err_set(e, ERR_TOO_BIG, "the config file '%s' is over %u bytes", path,
				      SETTINGS_MAX_BYTES);
			goto out;
		}
	}
	if ((ret = settings_parse(&s, data.data, data.len, path, e)) < 0)
		goto out;
	ret = rebase(&s.cache, path);
	for (i = 0; ret == 0 && i < s.n_registries; i++)
		ret = rebase(&s.registries[i].ca, path);
	if (ret == 0 && !(s.path = strdup(path)))
		ret = ERR_NOMEM;
	if (ret < 0) {
		ret = err_set(e, ERR_NOMEM, "out of memory");
		goto out;
	}
	settings_release(out);
	*out = s;
	settings_init(&s);
	ret = 0;
out:
	if (fd >= 0)
		close(fd);
	settings_release(&s);
	buf_release(&data);
	return ret;
}

const struct settings_registry *settings_registry(const struct settings *s, const char *host)
{
	size_t i;

	for (i = 0; s && host && i < s->n_registries; i++)
		if (!strcmp(s->registries[i].host, host))
			return &s->registries[i];
	return NULL;
}

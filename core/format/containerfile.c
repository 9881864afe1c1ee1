/* containerfile.c - the Containerfile subset hoist builds.  See containerfile.h. */
#include "core/format/containerfile.h"

#include "core/base/err.h"
#include "core/base/json.h"
#include "core/base/strvec.h"
#include "core/base/text.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define CF_MAX_DEFAULT (1u << 20)
#define EXPAND_DEPTH_MAX 16

static const char *const kind_names[] = {
	"FROM", "ARG", "ENV", "LABEL", "COPY", "ADD", "WORKDIR", "USER", "ENTRYPOINT",
	"CMD", "SHELL", "EXPOSE", "VOLUME", "STOPSIGNAL",
};

const char *containerfile_kind_name(enum cf_kind k)
{
	if ((size_t)k < sizeof(kind_names) / sizeof(kind_names[0]))
		return kind_names[k];
	return "?";
}

static void quote(char *out, size_t size, const char *s)
{
	text_clean(out, size, s, strlen(s));
}

/* ======================================================================
 * Words and expansion
 * ====================================================================== */

typedef const char *lookup_fn(void *arg, const char *name);

struct lex {
	const char *s;
	size_t i, n;
	char esc;
	lookup_fn *lookup;
	void *arg;
	int depth;
};

static int is_name_start(int c)
{
	return isalpha(c) || c == '_';
}

static int is_name_char(int c)
{
	return isalnum(c) || c == '_';
}

static int lex_word_into(struct buf *out, const char *s, size_t n, char esc, lookup_fn *lookup,
			 void *arg, int depth, struct err *e);

/* At s[i] == '$': appends the expansion to `out` and advances. */
static int lex_dollar(struct lex *lx, struct buf *out, struct err *e)
{
	const char *s = lx->s;
	size_t i = lx->i + 1, start;
	char name[256];
	const char *val;

	if (i < lx->n && s[i] == '{') {
		size_t nlen, wstart, level = 1;
		char op = 0;
		int colon = 0;

		i++;
		start = i;
		while (i < lx->n && is_name_char((unsigned char)s[i]))
			i++;
		nlen = i - start;
		if (nlen == 0 || nlen >= sizeof(name) || !is_name_start((unsigned char)s[start]))
			return err_set(e, ERR_INVALID, "bad substitution: a variable name must "
				       "start with a letter or '_'");
		memcpy(name, s + start, nlen);
		name[nlen] = '\0';
		if (i < lx->n && s[i] == ':') {
			colon = 1;
			i++;
		}
		if (i < lx->n && (s[i] == '-' || s[i] == '+')) {
			op = s[i];
			i++;
		} else if (colon || (i < lx->n && s[i] != '}')) {
			return err_set(e, ERR_INVALID, "bad substitution in '${%s': hoist knows "
				       "${VAR}, ${VAR:-default} and ${VAR:+alt}", name);
		}
		/* the word runs to the matching '}' */
		wstart = i;
		while (i < lx->n) {
			if (s[i] == lx->esc && i + 1 < lx->n) {
				i += 2;
				continue;
			}
			if (s[i] == '$' && i + 1 < lx->n && s[i + 1] == '{') {
				level++;
				i += 2;
				continue;
			}
			if (s[i] == '}' && --level == 0)
				break;
			i++;
		}
		if (i >= lx->n)
			return err_set(e, ERR_INVALID, "missing '}' after '${%s'", name);
		val = lx->lookup ? lx->lookup(lx->arg, name) : NULL;
		if (!op) {
			if (val)
				buf_addstr(out, val);
		} else {
			int set = colon ? (val && *val) : val != NULL;

			if (op == '-' && set) {
				buf_addstr(out, val);
			} else if ((op == '-' && !set) || (op == '+' && set)) {
				int rc;

				if (lx->depth >= EXPAND_DEPTH_MAX)
					return err_set(e, ERR_INVALID, "substitutions nested too deep");
				rc = lex_word_into(out, s + wstart, i - wstart, lx->esc, lx->lookup,
						   lx->arg, lx->depth + 1, e);
				if (rc < 0)
					return rc;
			}
		}
		lx->i = i + 1;
		return 0;
	}
	if (i < lx->n && is_name_start((unsigned char)s[i])) {
		start = i;
		while (i < lx->n && is_name_char((unsigned char)s[i]))
			i++;
		if (i - start >= sizeof(name))
			return err_set(e, ERR_INVALID, "variable name too long");
		memcpy(name, s + start, i - start);
		name[i - start] = '\0';
		val = lx->lookup ? lx->lookup(lx->arg, name) : NULL;
		if (val)
			buf_addstr(out, val);
		lx->i = i;
		return 0;
	}
	buf_addch(out, '$');
	lx->i++;
	return 0;
}

/* Splits s[0..n) into words (when `split`; else one word), removing quotes
 * and escapes and expanding variables (when lookup is set or `expand`). */
static int lex_run(struct strvec *words, struct buf *single, const char *s, size_t n, char esc,
		   lookup_fn *lookup, void *arg, int expand, int depth, struct err *e)
{
	struct lex lx = { s, 0, n, esc, lookup, arg, depth };
	struct buf w = BUF_INIT;
	struct buf *cur = single ? single : &w;
	int started = 0, ret = -1;
	char q = 0;	/* the open quote */

	while (lx.i < n) {
		char c = s[lx.i];

		if (!q && words && isspace((unsigned char)c)) {
			if (started) {
				if (buf_failed(&w) || strvec_push(words, w.data) < 0) {
					ret = err_set(e, ERR_NOMEM, "out of memory");
					goto out;
				}
				buf_reset(&w);
				started = 0;
			}
			lx.i++;
			continue;
		}
		started = 1;
		if (q == '\'') {
			if (c == '\'')
				q = 0;
			else
				buf_addch(cur, c);
			lx.i++;
		} else if (c == esc && q == '"') {
			if (lx.i + 1 < n && (s[lx.i + 1] == '"' || s[lx.i + 1] == '$' ||
					     s[lx.i + 1] == esc)) {
				buf_addch(cur, s[lx.i + 1]);
				lx.i += 2;
			} else {
				buf_addch(cur, c);
				lx.i++;
			}
		} else if (c == esc) {
			if (lx.i + 1 < n) {
				buf_addch(cur, s[lx.i + 1]);
				lx.i += 2;
			} else {
				buf_addch(cur, c);
				lx.i++;
			}
		} else if (c == '"') {
			q = q ? 0 : '"';
			lx.i++;
		} else if (c == '\'' && !q) {
			q = '\'';
			lx.i++;
		} else if (c == '$' && expand) {
			ret = lex_dollar(&lx, cur, e);
			if (ret < 0)
				goto out;
		} else {
			buf_addch(cur, c);
			lx.i++;
		}
	}
	if (q) {
		ret = err_set(e, ERR_INVALID, "unterminated %s quote",
			      q == '"' ? "double" : "single");
		goto out;
	}
	if (words && started && (buf_failed(&w) || strvec_push(words, w.data) < 0)) {
		ret = err_set(e, ERR_NOMEM, "out of memory");
		goto out;
	}
	if (buf_failed(cur)) {
		ret = err_set(e, ERR_NOMEM, "out of memory");
		goto out;
	}
	ret = 0;
out:
	buf_release(&w);
	return ret;
}

static int lex_word_into(struct buf *out, const char *s, size_t n, char esc, lookup_fn *lookup,
			 void *arg, int depth, struct err *e)
{
	return lex_run(NULL, out, s, n, esc, lookup, arg, 1, depth, e);
}

int containerfile_expand_word(char **out, const char *word, char escape,
		   const char *(*lookup)(void *arg, const char *name), void *arg,
		   struct err *e)
{
	struct buf b = BUF_INIT;
	int rc = lex_word_into(&b, word, strlen(word), escape, lookup, arg, 0, e);

	*out = NULL;
	if (rc < 0) {
		buf_release(&b);
		return rc;
	}
	*out = buf_detach(&b, NULL);
	return *out ? 0 : err_set(e, ERR_NOMEM, "out of memory");
}

/* ======================================================================
 * Parser state
 * ====================================================================== */

struct parser {
	struct containerfile *cf;
	const struct cf_parse_opts *o;
	struct kvlist gargs;		/* global ARGs and predefined */
	struct kvlist args;		/* this stage's ARGs (set ones) */
	struct kvlist env;		/* this stage's ENV */
	struct strvec shell;
	struct strvec consumed;		/* build-arg names some ARG declared */
	int in_stage;
	int line;
	struct err *e;
};

static const char *lookup_stage(void *arg, const char *name)
{
	struct parser *p = arg;
	const char *v = kvlist_get(&p->env, name);

	return v ? v : kvlist_get(&p->args, name);
}

static const char *lookup_global(void *arg, const char *name)
{
	struct parser *p = arg;

	return kvlist_get(&p->gargs, name);
}

static lookup_fn *cur_lookup(struct parser *p)
{
	return p->in_stage ? lookup_stage : lookup_global;
}

static int perr(struct parser *p, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static int perr(struct parser *p, int code, const char *fmt, ...)
{
	char msg[ERR_MSG_MAX];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	return err_set(p->e, code, "line %d: %s", p->line, msg);
}

/* Prefixes an error from a helper with the line. */
static int pfail(struct parser *p, int rc)
{
	err_prefix(p->e, "line %d", p->line);
	return rc;
}

static int words(struct parser *p, struct strvec *out, const char *s, int expand)
{
	int rc = lex_run(out, NULL, s, strlen(s), p->cf->escape, cur_lookup(p), p, expand, 0,
			 p->e);

	return rc < 0 ? pfail(p, rc) : 0;
}

static int one_word(struct parser *p, char **out, const char *s)
{
	struct buf b = BUF_INIT;
	int rc = lex_run(NULL, &b, s, strlen(s), p->cf->escape, cur_lookup(p), p, 1, 0, p->e);

	*out = NULL;
	if (rc < 0) {
		buf_release(&b);
		return pfail(p, rc);
	}
	*out = buf_detach(&b, NULL);
	return *out ? 0 : perr(p, ERR_NOMEM, "out of memory");
}

/* A JSON array of strings: 1 with `out` filled, 0 when `s` is not one. */
static int json_strings(struct strvec *out, const char *s)
{
	struct json *j = NULL;
	size_t i, n;
	int ret = 0;

	while (isspace((unsigned char)*s))
		s++;
	if (*s != '[' || json_parse(&j, s, strlen(s), NULL) < 0)
		return 0;
	if (json_kind_of(j) != JSON_ARRAY)
		goto out;
	n = json_array_len(j);
	for (i = 0; i < n; i++)
		if (!json_str(json_array_get(j, i)))
			goto out;
	for (i = 0; i < n; i++)
		if (strvec_push(out, json_str(json_array_get(j, i))) < 0) {
			ret = -1;
			goto out;
		}
	ret = 1;
out:
	json_free(j);
	return ret;
}

/* Takes leading "--name[=value]" flags off `*rest` (expanded). */
struct flag {
	char *name;
	char *value;	/* NULL for a bare --name */
};

static void flags_free(struct flag *f, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		free(f[i].name);
		free(f[i].value);
	}
}

#define MAX_FLAGS 8

static int take_flags(struct parser *p, const char **rest, struct flag *f, size_t *nf)
{
	const char *s = *rest;
	int rc;

	*nf = 0;
	while (s[0] == '-' && s[1] == '-') {
		const char *end = s, *eq;
		char *raw;

		while (*end && !isspace((unsigned char)*end))
			end++;
		if (*nf == MAX_FLAGS)
			return perr(p, ERR_INVALID, "too many flags");
		raw = strndup(s + 2, (size_t)(end - s - 2));
		if (!raw)
			return perr(p, ERR_NOMEM, "out of memory");
		eq = strchr(raw, '=');
		if (eq) {
			f[*nf].name = strndup(raw, (size_t)(eq - raw));
			rc = f[*nf].name ? one_word(p, &f[*nf].value, eq + 1) :
			     perr(p, ERR_NOMEM, "out of memory");
		} else {
			f[*nf].name = raw;
			raw = NULL;
			f[*nf].value = NULL;
			rc = f[*nf].name ? 0 : perr(p, ERR_NOMEM, "out of memory");
		}
		free(raw);
		(*nf)++;
		if (rc < 0)
			return rc;
		s = end;
		while (isspace((unsigned char)*s))
			s++;
	}
	*rest = s;
	return 0;
}

static int valid_arg_name(const char *s)
{
	if (!is_name_start((unsigned char)*s))
		return 0;
	for (s++; *s; s++)
		if (!is_name_char((unsigned char)*s))
			return 0;
	return 1;
}

static int push_instr(struct parser *p, struct cf_instr *in)
{
	struct containerfile *cf = p->cf;
	struct cf_instr *n = realloc(cf->instrs, (cf->n_instrs + 1) * sizeof(*n));

	if (!n)
		return perr(p, ERR_NOMEM, "out of memory");
	cf->instrs = n;
	cf->instrs[cf->n_instrs++] = *in;
	return 0;
}

static void instr_release(struct cf_instr *in)
{
	free(in->text);
	strvec_clear(&in->args);
	kvlist_release(&in->kv);
	free(in->platform);
	free(in->stage_name);
	free(in->from);
	free(in->chown);
}

/* --- instructions ------------------------------------------------------ */

static int do_from(struct parser *p, struct cf_instr *in, const char *rest)
{
	struct flag f[MAX_FLAGS];
	size_t nf = 0, i;
	int rc;
	struct cf_stage *st;
	char q[128];

	p->in_stage = 0;	/* FROM lines see the global ARGs only */
	rc = take_flags(p, &rest, f, &nf);
	for (i = 0; rc == 0 && i < nf; i++) {
		if (!strcmp(f[i].name, "platform") && f[i].value && !in->platform) {
			in->platform = f[i].value;
			f[i].value = NULL;
		} else {
			quote(q, sizeof(q), f[i].name);
			rc = perr(p, ERR_INVALID, "FROM: unknown flag '--%s' (hoist knows --platform)",
				  q);
		}
	}
	flags_free(f, nf);
	if (rc < 0)
		return rc;
	rc = words(p, &in->args, rest, 1);
	if (rc < 0)
		return rc;
	if (in->args.n == 3 && !strcasecmp(in->args.v[1], "as")) {
		char *name = in->args.v[2], *c;

		for (c = name; *c; c++)
			*c = (char)tolower((unsigned char)*c);
		if (!isalpha((unsigned char)name[0]) ||
		    strspn(name, "abcdefghijklmnopqrstuvwxyz0123456789-_.") != strlen(name)) {
			quote(q, sizeof(q), name);
			return perr(p, ERR_INVALID, "FROM: invalid stage name '%s'", q);
		}
		for (i = 0; i < p->cf->n_stages; i++)
			if (p->cf->stages[i].name && !strcmp(p->cf->stages[i].name, name)) {
				quote(q, sizeof(q), name);
				return perr(p, ERR_INVALID, "FROM: stage name '%s' used twice", q);
			}
		in->stage_name = strdup(name);
		if (!in->stage_name)
			return perr(p, ERR_NOMEM, "out of memory");
		free(in->args.v[1]);
		free(in->args.v[2]);
		in->args.v[1] = NULL;
		in->args.n = 1;
	} else if (in->args.n != 1) {
		return perr(p, ERR_INVALID, "FROM takes an image and optionally 'AS name'");
	}
	if (!*in->args.v[0])
		return perr(p, ERR_INVALID, "FROM: the image name is empty "
			    "(an ARG without a value? give it with --build-arg)");
	st = realloc(p->cf->stages, (p->cf->n_stages + 1) * sizeof(*st));
	if (!st)
		return perr(p, ERR_NOMEM, "out of memory");
	p->cf->stages = st;
	st[p->cf->n_stages].from = p->cf->n_instrs;
	st[p->cf->n_stages].end = p->cf->n_instrs + 1;
	st[p->cf->n_stages].name = NULL;	/* set once the instr is stored */
	p->cf->n_stages++;
	/* a new stage: fresh ARG, ENV and SHELL */
	kvlist_release(&p->args);
	kvlist_release(&p->env);
	kvlist_init(&p->args);
	kvlist_init(&p->env);
	strvec_clear(&p->shell);
	if (strvec_push(&p->shell, "/bin/sh") < 0 || strvec_push(&p->shell, "-c") < 0)
		return perr(p, ERR_NOMEM, "out of memory");
	p->in_stage = 1;
	return 0;
}

static int do_arg(struct parser *p, struct cf_instr *in, const char *rest)
{
	struct strvec w = STRVEC_INIT;
	size_t i;
	int rc;
	char q[128];

	rc = words(p, &w, rest, 1);
	if (rc < 0)
		goto out;
	if (!w.n) {
		rc = perr(p, ERR_INVALID, "ARG needs a name");
		goto out;
	}
	for (i = 0; i < w.n; i++) {
		char *eq = strchr(w.v[i], '=');
		const char *val = NULL, *ba;

		if (eq) {
			*eq = '\0';
			val = eq + 1;
		}
		if (!valid_arg_name(w.v[i])) {
			quote(q, sizeof(q), w.v[i]);
			rc = perr(p, ERR_INVALID, "ARG: invalid name '%s'", q);
			goto out;
		}
		ba = p->o->build_args ? kvlist_get(p->o->build_args, w.v[i]) : NULL;
		if (ba) {
			val = ba;
			if (strvec_find(&p->consumed, w.v[i]) < 0 &&
			    strvec_push(&p->consumed, w.v[i]) < 0) {
				rc = perr(p, ERR_NOMEM, "out of memory");
				goto out;
			}
		}
		if (!val && p->in_stage)
			val = kvlist_get(&p->gargs, w.v[i]);
		if (val) {
			rc = kvlist_set(p->in_stage ? &p->args : &p->gargs, w.v[i], val);
			if (rc == 0)
				rc = kvlist_set(&in->kv, w.v[i], val);
		} else {
			rc = kvlist_set(&in->kv, w.v[i], "");
		}
		if (rc < 0) {
			rc = perr(p, ERR_NOMEM, "out of memory");
			goto out;
		}
	}
	rc = 0;
out:
	strvec_clear(&w);
	return rc;
}

/* ENV and LABEL: K=V pairs, or the legacy "K V..." form. */
static int do_pairs(struct parser *p, struct cf_instr *in, const char *rest, int is_env)
{
	struct strvec w = STRVEC_INIT;
	const char *what = is_env ? "ENV" : "LABEL";
	size_t i, klen = strcspn(rest, " \t");
	int rc;

	if (!*rest)
		return perr(p, ERR_INVALID, "%s needs KEY=VALUE", what);
	if (!memchr(rest, '=', klen)) {
		/* legacy: the first word is the key, the rest of the line the value */
		char *key = strndup(rest, klen), *val = NULL;
		const char *v = rest + klen;

		while (isspace((unsigned char)*v))
			v++;
		if (!key)
			return perr(p, ERR_NOMEM, "out of memory");
		if (!*v) {
			free(key);
			return perr(p, ERR_INVALID, "%s needs KEY=VALUE", what);
		}
		rc = one_word(p, &val, v);
		if (rc == 0 && kvlist_set(&in->kv, key, val) < 0)
			rc = perr(p, ERR_NOMEM, "out of memory");
		free(key);
		free(val);
		if (rc < 0)
			return rc;
	} else {
		rc = words(p, &w, rest, 1);
		for (i = 0; rc == 0 && i < w.n; i++) {
			char *eq = strchr(w.v[i], '=');

			if (!eq || eq == w.v[i]) {
				char q[128];

				quote(q, sizeof(q), w.v[i]);
				rc = perr(p, ERR_INVALID, "%s: '%s' is not KEY=VALUE", what, q);
				break;
			}
			*eq = '\0';
			if (kvlist_set(&in->kv, w.v[i], eq + 1) < 0)
				rc = perr(p, ERR_NOMEM, "out of memory");
		}
		strvec_clear(&w);
		if (rc < 0)
			return rc;
	}
	if (is_env) {
		/* later instructions see these (all pairs of this line were
		 * expanded against the state before it, as Docker does) */
		for (i = 0; i < in->kv.keys.n; i++)
			if (kvlist_set(&p->env, in->kv.keys.v[i], in->kv.values.v[i]) < 0)
				return perr(p, ERR_NOMEM, "out of memory");
	}
	return 0;
}

static int is_remote_source(const char *s)
{
	return !strncmp(s, "http://", 7) || !strncmp(s, "https://", 8) ||
	       !strncmp(s, "git@", 4) || !strncmp(s, "git://", 6) || !strncmp(s, "ssh://", 6);
}

static int do_copy(struct parser *p, struct cf_instr *in, const char *rest, int is_add)
{
	const char *what = is_add ? "ADD" : "COPY";
	struct flag f[MAX_FLAGS];
	struct strvec raw = STRVEC_INIT;
	size_t nf = 0, i;
	int rc, j;
	char q[128];

	rc = take_flags(p, &rest, f, &nf);
	for (i = 0; rc == 0 && i < nf; i++) {
		const char *n = f[i].name, *v = f[i].value;

		if (!strcmp(n, "chmod") && v && !in->has_chmod) {
			char *end;
			unsigned long m = strtoul(v, &end, 8);

			if (!*v || *end || m > 07777) {
				quote(q, sizeof(q), v);
				rc = perr(p, ERR_INVALID, "%s: --chmod='%s' is not an octal mode",
					  what, q);
			}
			in->has_chmod = 1;
			in->chmod = (uint32_t)m;
		} else if (!strcmp(n, "chown") && v && *v && !in->chown) {
			in->chown = f[i].value;
			f[i].value = NULL;
		} else if (!strcmp(n, "from") && v && *v && !is_add && !in->from) {
			in->from = f[i].value;
			f[i].value = NULL;
		} else if (!strcmp(n, "link") && (!v || !strcmp(v, "true") || !strcmp(v, "false"))) {
			in->link = !v || !strcmp(v, "true");
		} else if (is_add && (!strcmp(n, "checksum") || !strcmp(n, "keep-git-dir"))) {
			rc = perr(p, ERR_UNSUPPORTED, "ADD --%s is for remote sources, which hoist "
				  "build does not fetch: download the file beforehand and COPY it", n);
		} else {
			quote(q, sizeof(q), n);
			rc = perr(p, ERR_INVALID, "%s: unknown or repeated flag '--%s' (hoist knows "
				  "--chmod, --chown, %s--link)", what, q, is_add ? "" : "--from, ");
		}
	}
	flags_free(f, nf);
	if (rc < 0)
		return rc;
	j = json_strings(&raw, rest);
	if (j < 0)
		return perr(p, ERR_NOMEM, "out of memory");
	if (j) {
		in->json_form = 1;
		for (i = 0; i < raw.n; i++) {
			char *x = NULL;

			rc = one_word(p, &x, raw.v[i]);
			if (rc == 0 && strvec_push_nodup(&in->args, x) < 0)
				rc = perr(p, ERR_NOMEM, "out of memory");
			if (rc < 0)
				break;
		}
		strvec_clear(&raw);
		if (rc < 0)
			return rc;
	} else {
		rc = words(p, &in->args, rest, 1);
		if (rc < 0)
			return rc;
	}
	if (in->args.n < 2)
		return perr(p, ERR_INVALID, "%s needs a source and a destination", what);
	for (i = 0; i < in->args.n; i++)
		if (!*in->args.v[i])
			return perr(p, ERR_INVALID, "%s: an empty path (an unset variable?)", what);
	if (in->args.n > 2 && in->args.v[in->args.n - 1][strlen(in->args.v[in->args.n - 1]) - 1] != '/')
		return perr(p, ERR_INVALID, "%s with several sources needs a destination "
			    "directory ending in '/'", what);
	for (i = 0; i + 1 < in->args.n; i++)
		if (is_remote_source(in->args.v[i])) {
			quote(q, sizeof(q), in->args.v[i]);
			return perr(p, ERR_UNSUPPORTED, "%s of '%s': hoist build reads only local "
				    "files and images, never the network for sources: download it "
				    "beforehand and COPY it", what, q);
		}
	return 0;
}

static int do_exec(struct parser *p, struct cf_instr *in, const char *rest)
{
	const char *what = containerfile_kind_name(in->kind);
	int j;
	size_t i;

	j = json_strings(&in->args, rest);
	if (j < 0)
		return perr(p, ERR_NOMEM, "out of memory");
	if (j) {
		in->json_form = 1;
		if (in->kind == CF_SHELL && in->args.n == 0)
			return perr(p, ERR_INVALID, "SHELL needs at least one argument");
		if (in->kind == CF_SHELL) {
			strvec_clear(&p->shell);
			for (i = 0; i < in->args.n; i++)
				if (strvec_push(&p->shell, in->args.v[i]) < 0)
					return perr(p, ERR_NOMEM, "out of memory");
		}
		return 0;
	}
	if (in->kind == CF_SHELL)
		return perr(p, ERR_INVALID, "SHELL must be a JSON array, as [\"/bin/bash\", \"-c\"]");
	if (!*rest)
		return perr(p, ERR_INVALID, "%s needs a command", what);
	for (i = 0; i < p->shell.n; i++)
		if (strvec_push(&in->args, p->shell.v[i]) < 0)
			return perr(p, ERR_NOMEM, "out of memory");
	if (strvec_push(&in->args, rest) < 0)
		return perr(p, ERR_NOMEM, "out of memory");
	return 0;
}

static int parse_port(const char *s, const char *end, long *out)
{
	char *e2;
	long v;

	if (s == end || !isdigit((unsigned char)*s))
		return -1;
	v = strtol(s, &e2, 10);
	if (e2 != end || v < 1 || v > 65535)
		return -1;
	*out = v;
	return 0;
}

static int do_expose(struct parser *p, struct cf_instr *in, const char *rest)
{
	struct strvec w = STRVEC_INIT;
	size_t i;
	int rc;
	char q[128];

	rc = words(p, &w, rest, 1);
	if (rc == 0 && !w.n)
		rc = perr(p, ERR_INVALID, "EXPOSE needs a port");
	for (i = 0; rc == 0 && i < w.n; i++) {
		char *slash = strchr(w.v[i], '/'), *dash, *c;
		const char *proto = "tcp";
		long lo, hi, port;

		if (slash) {
			*slash = '\0';
			proto = slash + 1;
			for (c = slash + 1; *c; c++)
				*c = (char)tolower((unsigned char)*c);
		}
		dash = strchr(w.v[i], '-');
		if ((strcmp(proto, "tcp") && strcmp(proto, "udp") && strcmp(proto, "sctp")) ||
		    parse_port(w.v[i], dash ? dash : w.v[i] + strlen(w.v[i]), &lo) < 0 ||
		    (dash && parse_port(dash + 1, dash + 1 + strlen(dash + 1), &hi) < 0) ||
		    (dash && hi < lo)) {
			if (slash)
				*slash = '/';
			quote(q, sizeof(q), w.v[i]);
			rc = perr(p, ERR_INVALID, "EXPOSE: invalid port '%s' (PORT[-END][/tcp|udp|sctp])",
				  q);
			break;
		}
		if (!dash)
			hi = lo;
		for (port = lo; rc == 0 && port <= hi; port++)
			if (strvec_pushf(&in->args, "%ld/%s", port, proto) < 0)
				rc = perr(p, ERR_NOMEM, "out of memory");
	}
	strvec_clear(&w);
	return rc;
}

static int do_single(struct parser *p, struct cf_instr *in, const char *rest)
{
	char *v = NULL;
	int rc = one_word(p, &v, rest);

	if (rc < 0)
		return rc;
	if (!*v) {
		free(v);
		return perr(p, ERR_INVALID, "%s needs a value", containerfile_kind_name(in->kind));
	}
	if (in->kind == CF_STOPSIGNAL &&
	    strspn(v, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+-") != strlen(v)) {
		char q[128];

		quote(q, sizeof(q), v);
		free(v);
		return perr(p, ERR_INVALID, "STOPSIGNAL: invalid signal '%s'", q);
	}
	if (strvec_push_nodup(&in->args, v) < 0)
		return perr(p, ERR_NOMEM, "out of memory");
	return 0;
}

static int do_volume(struct parser *p, struct cf_instr *in, const char *rest)
{
	size_t i;
	int j = json_strings(&in->args, rest), rc;

	if (j < 0)
		return perr(p, ERR_NOMEM, "out of memory");
	if (j) {
		in->json_form = 1;
		/* expand each element */
		for (i = 0; i < in->args.n; i++) {
			char *x = NULL;

			rc = one_word(p, &x, in->args.v[i]);
			if (rc < 0)
				return rc;
			free(in->args.v[i]);
			in->args.v[i] = x;
		}
	} else {
		rc = words(p, &in->args, rest, 1);
		if (rc < 0)
			return rc;
	}
	if (!in->args.n)
		return perr(p, ERR_INVALID, "VOLUME needs a path");
	for (i = 0; i < in->args.n; i++)
		if (!*in->args.v[i])
			return perr(p, ERR_INVALID, "VOLUME: an empty path");
	return 0;
}

/* Instructions hoist refuses, with what to do instead. */
static int refuse(struct parser *p, const char *word)
{
	char q[64];

	if (!strcasecmp(word, "RUN"))
		return perr(p, ERR_UNSUPPORTED,
			    "RUN needs a container runtime, which hoist build does not use: "
			    "build the files beforehand (in CI, or with a compiler on the host) "
			    "and COPY them in");
	if (!strcasecmp(word, "HEALTHCHECK"))
		return perr(p, ERR_UNSUPPORTED,
			    "HEALTHCHECK is a Docker-format setting run by a container runtime, "
			    "and hoist build uses none and writes OCI images: define the check "
			    "where the image runs (a Kubernetes probe, a compose healthcheck)");
	if (!strcasecmp(word, "ONBUILD"))
		return perr(p, ERR_UNSUPPORTED,
			    "ONBUILD triggers run in a downstream build with a container runtime, "
			    "which hoist build does not use: write the steps into the downstream "
			    "Containerfile instead");
	if (!strcasecmp(word, "MAINTAINER"))
		return perr(p, ERR_UNSUPPORTED,
			    "MAINTAINER is deprecated: use "
			    "LABEL org.opencontainers.image.authors=\"...\"");
	quote(q, sizeof(q), word);
	return perr(p, ERR_INVALID, "unknown instruction '%s'", q);
}

static const struct {
	const char *name;
	enum cf_kind kind;
} known[] = {
	{ "FROM", CF_FROM }, { "ARG", CF_ARG }, { "ENV", CF_ENV }, { "LABEL", CF_LABEL },
	{ "COPY", CF_COPY }, { "ADD", CF_ADD }, { "WORKDIR", CF_WORKDIR }, { "USER", CF_USER },
	{ "ENTRYPOINT", CF_ENTRYPOINT }, { "CMD", CF_CMD }, { "SHELL", CF_SHELL },
	{ "EXPOSE", CF_EXPOSE }, { "VOLUME", CF_VOLUME }, { "STOPSIGNAL", CF_STOPSIGNAL },
};

static int do_line(struct parser *p, const char *text)
{
	struct cf_instr in;
	char word[32];
	const char *s = text, *rest;
	size_t wl, k;
	int rc;

	while (isspace((unsigned char)*s))
		s++;
	wl = strcspn(s, " \t\r\n\v\f");
	rest = s + wl;
	while (isspace((unsigned char)*rest))
		rest++;
	if (wl >= sizeof(word)) {
		char q[64];

		text_clean(q, sizeof(q), s, wl);
		return perr(p, ERR_INVALID, "unknown instruction '%s'", q);
	}
	memcpy(word, s, wl);
	word[wl] = '\0';
	for (k = 0; k < sizeof(known) / sizeof(known[0]); k++)
		if (!strcasecmp(word, known[k].name))
			break;
	if (k == sizeof(known) / sizeof(known[0]))
		return refuse(p, word);
	memset(&in, 0, sizeof(in));
	strvec_init(&in.args);
	kvlist_init(&in.kv);
	in.kind = known[k].kind;
	in.line = p->line;
	in.text = strdup(s);
	if (!in.text) {
		rc = perr(p, ERR_NOMEM, "out of memory");
		goto fail;
	}
	/* trailing space of the logical line is not part of its text */
	for (k = strlen(in.text); k > 0 && isspace((unsigned char)in.text[k - 1]); k--)
		in.text[k - 1] = '\0';
	if (!p->in_stage && p->cf->n_stages == 0 && in.kind != CF_FROM && in.kind != CF_ARG) {
		rc = perr(p, ERR_INVALID, "%s before the first FROM (only ARG may come first)",
			  containerfile_kind_name(in.kind));
		goto fail;
	}
	switch (in.kind) {
	case CF_FROM: rc = do_from(p, &in, rest); break;
	case CF_ARG: rc = do_arg(p, &in, rest); break;
	case CF_ENV: rc = do_pairs(p, &in, rest, 1); break;
	case CF_LABEL: rc = do_pairs(p, &in, rest, 0); break;
	case CF_COPY: rc = do_copy(p, &in, rest, 0); break;
	case CF_ADD: rc = do_copy(p, &in, rest, 1); break;
	case CF_ENTRYPOINT:
	case CF_CMD:
	case CF_SHELL: rc = do_exec(p, &in, rest); break;
	case CF_EXPOSE: rc = do_expose(p, &in, rest); break;
	case CF_VOLUME: rc = do_volume(p, &in, rest); break;
	default: rc = do_single(p, &in, rest); break;
	}
	if (rc < 0)
		goto fail;
	rc = push_instr(p, &in);
	if (rc < 0)
		goto fail;
	if (p->cf->n_stages) {
		struct cf_stage *st = &p->cf->stages[p->cf->n_stages - 1];

		st->end = p->cf->n_instrs;
		if (in.kind == CF_FROM)
			st->name = p->cf->instrs[p->cf->n_instrs - 1].stage_name;
	}
	return 0;
fail:
	instr_release(&in);
	return rc;
}

/* ======================================================================
 * Lines, directives, continuations
 * ====================================================================== */

void containerfile_init(struct containerfile *cf)
{
	memset(cf, 0, sizeof(*cf));
	cf->escape = '\\';
	strvec_init(&cf->unused_build_args);
}

void containerfile_release(struct containerfile *cf)
{
	size_t i;

	for (i = 0; i < cf->n_instrs; i++)
		instr_release(&cf->instrs[i]);
	free(cf->instrs);
	free(cf->stages);
	free(cf->syntax);
	strvec_clear(&cf->unused_build_args);
	containerfile_init(cf);
}

static int is_blank(const char *s, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (!isspace((unsigned char)s[i]))
			return 0;
	return 1;
}

static int is_comment(const char *s, size_t n)
{
	size_t i = 0;

	while (i < n && isspace((unsigned char)s[i]))
		i++;
	return i < n && s[i] == '#';
}

/* "# name=value": 1 with name/value filled, else 0. */
static int directive(const char *s, size_t n, char *name, size_t nsize, char *val,
		     size_t vsize)
{
	size_t i = 0, a, b;

	while (i < n && isspace((unsigned char)s[i]))
		i++;
	if (i >= n || s[i] != '#')
		return 0;
	i++;
	while (i < n && isspace((unsigned char)s[i]))
		i++;
	a = i;
	while (i < n && isalpha((unsigned char)s[i]))
		i++;
	b = i;
	while (i < n && isspace((unsigned char)s[i]))
		i++;
	if (a == b || i >= n || s[i] != '=' || b - a >= nsize)
		return 0;
	i++;
	while (i < n && isspace((unsigned char)s[i]))
		i++;
	while (n > i && isspace((unsigned char)s[n - 1]))
		n--;
	if (n - i >= vsize)
		return 0;
	memcpy(name, s + a, b - a);
	name[b - a] = '\0';
	for (a = 0; name[a]; a++)
		name[a] = (char)tolower((unsigned char)name[a]);
	memcpy(val, s + i, n - i);
	val[n - i] = '\0';
	return 1;
}

int containerfile_parse(struct containerfile *out, const char *text, size_t len,
			const struct cf_parse_opts *opts, struct err *e)
{
	static const struct cf_parse_opts none;
	struct parser p;
	struct buf logical = BUF_INIT;
	size_t pos = 0, i, max;
	int line = 0, start_line = 0, in_directives = 1, cont = 0, seen_escape = 0;
	int seen_syntax = 0;
	int ret = -1;

	containerfile_init(out);
	if (!opts)
		opts = &none;
	memset(&p, 0, sizeof(p));
	p.cf = out;
	p.o = opts;
	p.e = e;
	kvlist_init(&p.gargs);
	kvlist_init(&p.args);
	kvlist_init(&p.env);
	strvec_init(&p.shell);
	strvec_init(&p.consumed);
	max = opts->max_size ? opts->max_size : CF_MAX_DEFAULT;
	if (len > max) {
		ret = err_set(e, ERR_TOO_BIG, "Containerfile larger than %zu bytes", max);
		goto out;
	}
	if (memchr(text, '\0', len)) {
		ret = err_set(e, ERR_INVALID, "Containerfile holds a NUL byte: not a text file");
		goto out;
	}
	if (opts->predefined) {
		for (i = 0; i < opts->predefined->keys.n; i++)
			if (kvlist_set(&p.gargs, opts->predefined->keys.v[i],
				       opts->predefined->values.v[i]) < 0) {
				ret = err_set(e, ERR_NOMEM, "out of memory");
				goto out;
			}
	}
	if (len >= 3 && !memcmp(text, "\xef\xbb\xbf", 3))
		pos = 3;	/* a UTF-8 byte order mark */
	while (pos < len) {
		const char *s = text + pos, *nl = memchr(s, '\n', len - pos);
		size_t n = nl ? (size_t)(nl - s) : len - pos;
		char dname[32], dval[64];

		pos += n + (nl ? 1 : 0);
		line++;
		if (n && s[n - 1] == '\r')
			n--;
		if (in_directives) {
			if (directive(s, n, dname, sizeof(dname), dval, sizeof(dval)) &&
			    (!strcmp(dname, "escape") || !strcmp(dname, "syntax") ||
			     !strcmp(dname, "check"))) {
				p.line = line;
				if (!strcmp(dname, "escape")) {
					if (seen_escape++) {
						ret = perr(&p, ERR_INVALID, "only one escape directive");
						goto out;
					}
					if (strcmp(dval, "\\") && strcmp(dval, "`")) {
						ret = perr(&p, ERR_INVALID,
							   "escape directive must be '\\' or '`'");
						goto out;
					}
					out->escape = dval[0];
				} else if (!strcmp(dname, "syntax")) {
					if (seen_syntax++) {
						ret = perr(&p, ERR_INVALID, "only one syntax directive");
						goto out;
					}
					out->syntax = strdup(dval);
					if (!out->syntax) {
						ret = err_set(e, ERR_NOMEM, "out of memory");
						goto out;
					}
				}
				continue;
			}
			in_directives = 0;
		}
		/* comments and blank lines are skipped, inside continuations too */
		if (is_comment(s, n) || is_blank(s, n))
			continue;
		if (!cont)
			start_line = line;
		while (n && isspace((unsigned char)s[n - 1]))
			n--;
		if (n && s[n - 1] == out->escape) {
			buf_add(&logical, s, n - 1);
			cont = 1;
			continue;
		}
		buf_add(&logical, s, n);
		cont = 0;
		if (buf_failed(&logical)) {
			ret = err_set(e, ERR_NOMEM, "out of memory");
			goto out;
		}
		p.line = start_line;
		ret = do_line(&p, logical.data);
		if (ret < 0)
			goto out;
		buf_reset(&logical);
	}
	if (cont && logical.len) {
		p.line = start_line;
		ret = do_line(&p, logical.data);
		if (ret < 0)
			goto out;
	}
	if (!out->n_stages) {
		ret = err_set(e, ERR_INVALID, "no FROM instruction: a Containerfile starts "
			      "with FROM IMAGE (or FROM scratch)");
		goto out;
	}
	if (opts->build_args)
		for (i = 0; i < opts->build_args->keys.n; i++)
			if (strvec_find(&p.consumed, opts->build_args->keys.v[i]) < 0 &&
			    strvec_push(&out->unused_build_args, opts->build_args->keys.v[i]) < 0) {
				ret = err_set(e, ERR_NOMEM, "out of memory");
				goto out;
			}
	ret = 0;
out:
	if (ret < 0)
		containerfile_release(out);
	buf_release(&logical);
	kvlist_release(&p.gargs);
	kvlist_release(&p.args);
	kvlist_release(&p.env);
	strvec_clear(&p.shell);
	strvec_clear(&p.consumed);
	return ret;
}

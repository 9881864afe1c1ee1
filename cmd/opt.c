#include "cmd/opt.h"

#include "cmd/exit.h"
#include "cmd/report.h"
#include "core/base/buf.h"
#include "core/base/err.h"
#include "core/base/json.h"
#include "core/base/strvec.h"

#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* getopt_long returns 1 for an operand (optstring starts with '-') and
 * OPT_VAL_BASE + i for the long option of entry i. */
#define OPT_VAL_BASE 256
#define OPT_HELP_COLUMN 28

static const struct opt opt_help_long = OPT_FLAG('h', "help", NULL, "show this help");
static const struct opt opt_help_long_only = OPT_FLAG(0, "help", NULL, "show this help");

static size_t opt_count(const struct opt *opts)
{
	size_t n = 0;

	while (opts && opts[n].kind != OPT_KIND_END)
		n++;
	return n;
}

static int opt_has_short(const struct opt *opts, int c)
{
	size_t i;

	for (i = 0; opts && opts[i].kind != OPT_KIND_END; i++)
		if (opts[i].short_name == c)
			return 1;
	return 0;
}

static int opt_has_long(const struct opt *opts, const char *name)
{
	size_t i;

	for (i = 0; opts && opts[i].kind != OPT_KIND_END; i++)
		if (opts[i].long_name && !strcmp(opts[i].long_name, name))
			return 1;
	return 0;
}

/* The automatic -h/--help entry for `spec`, or NULL when the command
 * declares its own "help". */
static const struct opt *opt_auto_help(const struct opt_spec *spec)
{
	if (opt_has_long(spec->opts, "help") || opt_has_long(spec->globals, "help"))
		return NULL;
	if (opt_has_short(spec->opts, 'h') || opt_has_short(spec->globals, 'h'))
		return &opt_help_long_only;
	return &opt_help_long;
}

/* Every accepted option in help order: own, automatic help, globals. */
static const struct opt **opt_collect(const struct opt_spec *spec, size_t *n_out)
{
	size_t n_own = opt_count(spec->opts), n_glob = opt_count(spec->globals), n = 0, i;
	const struct opt *help = opt_auto_help(spec);
	const struct opt **all;

	all = calloc(n_own + n_glob + 2, sizeof(*all));
	if (!all)
		return NULL;
	for (i = 0; i < n_own; i++)
		all[n++] = &spec->opts[i];
	if (help)
		all[n++] = help;
	for (i = 0; i < n_glob; i++)
		/* a command's own option of that name wins (build --platform) */
		if (!spec->globals[i].long_name ||
		    !opt_has_long(spec->opts, spec->globals[i].long_name))
			all[n++] = &spec->globals[i];
	*n_out = n;
	return all;
}

static void opt_name(char *out, size_t size, const struct opt *o)
{
	if (o->long_name)
		snprintf(out, size, "--%s", o->long_name);
	else
		snprintf(out, size, "-%c", o->short_name);
}

static int opt_apply(const struct opt *o, const char *arg, struct err *e)
{
	char name[128];
	char *end;
	long v;
	int rc;

	opt_name(name, sizeof(name), o);
	switch (o->kind) {
	case OPT_KIND_FLAG:
		*(int *)o->target = 1;
		return 0;
	case OPT_KIND_COUNTER:
		(*(int *)o->target)++;
		return 0;
	case OPT_KIND_STRING:
		*(const char **)o->target = arg;
		return 0;
	case OPT_KIND_INT:
		errno = 0;
		v = strtol(arg, &end, 10);
		if (end == arg || *end || isspace((unsigned char)arg[0]))
			return err_set(e, ERR_USAGE, "option '%s': '%s' is not an integer", name, arg);
		if (errno == ERANGE || v < o->min || v > o->max)
			return err_set(e, ERR_USAGE, "option '%s': '%s' is not in the range %ld..%ld",
				       name, arg, o->min, o->max);
		*(int *)o->target = (int)v;
		return 0;
	case OPT_KIND_STRING_LIST:
		rc = strvec_push(o->target, arg);
		if (rc < 0)
			return err_set(e, rc, "option '%s': out of memory", name);
		return 0;
	case OPT_KIND_CALLBACK:
		rc = o->cb(o->target, arg, e);
		if (rc < 0) {
			if (rc == ERR_INVALID)
				rc = ERR_USAGE;
			err_prefix(e, "option '%s'", name);
			if (e)
				e->code = rc;
		}
		return rc < 0 ? rc : 0;
	case OPT_KIND_END:
		break;
	}
	return err_set(e, ERR_FAIL, "option '%s': bad option table", name);
}

/* The name the user typed for an unknown long option, without "=value". */
static void opt_typed_name(char *out, size_t size, const char *arg)
{
	size_t len = strcspn(arg, "=");

	if (len >= size)
		len = size - 1;
	memcpy(out, arg, len);
	out[len] = '\0';
}

/* "unknown option '--x'", or which options an ambiguous prefix could be. */
static int opt_unknown_long(struct err *e, const struct opt **all, size_t n, const char *typed)
{
	struct buf b = BUF_INIT;
	size_t i, len = strlen(typed), n_match = 0;
	int ret;

	for (i = 0; len > 2 && i < n; i++) {
		if (all[i]->long_name && !strncmp(all[i]->long_name, typed + 2, len - 2)) {
			buf_addf(&b, "%s--%s", n_match ? ", " : "", all[i]->long_name);
			n_match++;
		}
	}
	if (n_match > 1 && !buf_failed(&b))
		ret = err_set(e, ERR_USAGE, "ambiguous option '%s' (could be %s)", typed, b.data);
	else
		ret = err_set(e, ERR_USAGE, "unknown option '%s'", typed);
	buf_release(&b);
	return ret;
}

int opt_parse_args(const struct opt_spec *spec, int argc, char **argv, int *first,
		   struct err *e)
{
	const struct opt **all = NULL;
	const struct opt *help = opt_auto_help(spec), *o;
	struct option *longopts = NULL;
	struct buf shorts = BUF_INIT;
	char **sorted = NULL, *is_operand = NULL;
	size_t n = 0, i, n_long = 0, n_ops = 0, n_sorted = 0;
	char name[128];
	int stop = !!(spec->flags & OPT_STOP_AT_OPERAND);
	int ret = ERR_NOMEM, c, k;

	all = opt_collect(spec, &n);
	longopts = calloc(n + 1, sizeof(*longopts));
	sorted = calloc((size_t)argc + 1, sizeof(*sorted));
	is_operand = calloc((size_t)argc + 1, 1);
	if (!all || !longopts || !sorted || !is_operand) {
		err_set(e, ERR_NOMEM, "out of memory");
		goto out;
	}
	/* '-': operands are returned in order (code 1), whatever
	 * POSIXLY_CORRECT says; '+': stop at the first one.  ':' reports a
	 * missing value as ':' rather than '?'. */
	buf_addstr(&shorts, stop ? "+:" : "-:");
	for (i = 0; i < n; i++) {
		if (all[i]->short_name) {
			buf_addch(&shorts, all[i]->short_name);
			if (all[i]->argh)
				buf_addch(&shorts, ':');
		}
		if (all[i]->long_name) {
			longopts[n_long].name = all[i]->long_name;
			longopts[n_long].has_arg = all[i]->argh ? required_argument : no_argument;
			longopts[n_long].flag = NULL;
			longopts[n_long].val = OPT_VAL_BASE + (int)i;
			n_long++;
		}
	}
	if (buf_failed(&shorts)) {
		err_set(e, ERR_NOMEM, "out of memory");
		goto out;
	}

	opterr = 0;
	optind = 0;	/* glibc: start afresh, forget any earlier scan */
	while ((c = getopt_long(argc, argv, shorts.data, longopts, NULL)) != -1) {
		if (c == 1) {
			/* In this mode getopt does not permute argv. */
			is_operand[optind - 1] = 1;
			continue;
		}
		if (c == '?') {
			if (optopt >= OPT_VAL_BASE) {
				opt_name(name, sizeof(name), all[optopt - OPT_VAL_BASE]);
				ret = err_set(e, ERR_USAGE, "option '%s' takes no value", name);
			} else if (optopt) {
				ret = err_set(e, ERR_USAGE, "unknown option '-%c'", optopt);
			} else {
				opt_typed_name(name, sizeof(name), argv[optind - 1]);
				ret = opt_unknown_long(e, all, n, name);
			}
			goto out;
		}
		if (c == ':') {
			if (optopt >= OPT_VAL_BASE)
				opt_name(name, sizeof(name), all[optopt - OPT_VAL_BASE]);
			else
				snprintf(name, sizeof(name), "-%c", optopt);
			ret = err_set(e, ERR_USAGE, "option '%s' needs a value", name);
			goto out;
		}
		o = NULL;
		if (c >= OPT_VAL_BASE && (size_t)(c - OPT_VAL_BASE) < n)
			o = all[c - OPT_VAL_BASE];
		for (i = 0; !o && i < n; i++)
			if (all[i]->short_name == c)
				o = all[i];
		if (!o) {
			ret = err_set(e, ERR_FAIL, "getopt returned unexpected %d", c);
			goto out;
		}
		if (o == help) {
			ret = OPT_STATUS_HELP;
			goto out;
		}
		ret = opt_apply(o, optarg, e);
		if (ret < 0)
			goto out;
	}
	/* Options first, then the operands in the order given (stable). */
	for (k = optind; k < argc; k++)
		is_operand[k] = 1;
	for (k = 0; k < argc; k++)
		if (!is_operand[k])
			sorted[n_sorted++] = argv[k];
	for (k = 0; k < argc; k++)
		if (is_operand[k]) {
			sorted[n_sorted++] = argv[k];
			n_ops++;
		}
	memcpy(argv, sorted, (size_t)argc * sizeof(*argv));
	*first = argc - (int)n_ops;
	ret = OPT_STATUS_OK;
out:
	free(all);
	free(longopts);
	free(sorted);
	free(is_operand);
	buf_release(&shorts);
	return ret;
}

static int opt_format_entry(struct buf *out, const struct opt *o)
{
	size_t start = out->len, width;

	buf_addstr(out, "    ");
	if (o->short_name && o->long_name)
		buf_addf(out, "-%c, --%s", o->short_name, o->long_name);
	else if (o->short_name)
		buf_addf(out, "-%c", o->short_name);
	else
		buf_addf(out, "    --%s", o->long_name);
	if (o->argh)
		buf_addf(out, " %s", o->argh);
	width = out->len - start;
	if (width + 2 > OPT_HELP_COLUMN) {
		buf_addch(out, '\n');
		width = 0;
	}
	buf_addf(out, "%*s%s\n", (int)(OPT_HELP_COLUMN - width), "", o->help ? o->help : "");
	return buf_failed(out) ? ERR_NOMEM : 0;
}

int opt_usage_lines(struct buf *out, const struct opt_spec *spec)
{
	size_t i;

	for (i = 0; spec->usage && spec->usage[i]; i++)
		buf_addf(out, "%s%s\n", i ? "   or: " : "usage: ", spec->usage[i]);
	return buf_failed(out) ? ERR_NOMEM : 0;
}

int opt_usage_format(struct buf *out, const struct opt_spec *spec)
{
	const struct opt *help = opt_auto_help(spec);
	size_t i, n_own = opt_count(spec->opts), n_glob = opt_count(spec->globals);

	opt_usage_lines(out, spec);
	if (spec->about && spec->about[0]) {
		buf_addf(out, "\n%s", spec->about);
		if (spec->about[strlen(spec->about) - 1] != '\n')
			buf_addch(out, '\n');
	}
	if (n_own || help) {
		buf_addstr(out, "\noptions:\n");
		for (i = 0; i < n_own; i++)
			opt_format_entry(out, &spec->opts[i]);
		if (help)
			opt_format_entry(out, help);
	}
	if (n_glob) {
		buf_addstr(out, "\nglobal options:\n");
		for (i = 0; i < n_glob; i++)
			if (!spec->globals[i].long_name ||
			    !opt_has_long(spec->opts, spec->globals[i].long_name))
				opt_format_entry(out, &spec->globals[i]);
	}
	return buf_failed(out) ? ERR_NOMEM : 0;
}

static void opt_print_usage_lines(const struct opt_spec *spec)
{
	struct buf b = BUF_INIT;

	if (opt_usage_lines(&b, spec) == 0) {
		fflush(stdout);
		fputs(b.data, stderr);
	}
	buf_release(&b);
}

int opt_usage_error(const struct opt_spec *spec, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	report_vprint("error: ", fmt, ap);
	va_end(ap);
	opt_print_usage_lines(spec);
	return EXIT_USAGE;
}

int opt_parse(const struct opt_spec *spec, int *argc, char ***argv)
{
	struct err e = ERR_INIT;
	struct buf b = BUF_INIT;
	int first = 0, rc, ret;

	rc = opt_parse_args(spec, *argc, *argv, &first, &e);
	if (rc == OPT_STATUS_HELP) {
		if (opt_usage_format(&b, spec) < 0) {
			report_error("out of memory");
			ret = EXIT_FAIL;
			goto out;
		}
		fputs(b.data, stdout);
		ret = EXIT_OK;
		goto out;
	}
	if (rc == ERR_USAGE) {
		ret = opt_usage_error(spec, "%s", e.msg);
		goto out;
	}
	if (rc < 0) {
		report_error("%s", e.msg[0] ? e.msg : err_code_name(rc));
		ret = EXIT_FAIL;
		goto out;
	}
	*argc -= first;
	*argv += first;
	ret = OPT_CONTINUE;
out:
	buf_release(&b);
	return ret;
}

int opt_argv_parse(struct strvec *out, const char *what, const char *s,
		   enum opt_argv_form form)
{
	struct json *j = NULL;
	struct err e = ERR_INIT;
	size_t i;
	int ret = EXIT_FAIL;

	if (s[0] == '[') {
		if (json_parse(&j, s, strlen(s), &e) < 0 || json_kind_of(j) != JSON_ARRAY) {
			report_error("%s '%s' is not a JSON array of strings", what, s);
			ret = EXIT_USAGE;
			goto out;
		}
		for (i = 0; i < json_array_len(j); i++) {
			const char *v = json_str(json_array_get(j, i));
			if (!v) {
				report_error("%s '%s' is not a JSON array of strings", what, s);
				ret = EXIT_USAGE;
				goto out;
			}
			if (strvec_push(out, v) < 0)
				goto nomem;
		}
	} else if (form == OPT_ARGV_SHELL) {
		if (strvec_push(out, "/bin/sh") < 0 || strvec_push(out, "-c") < 0 ||
		    strvec_push(out, s) < 0)
			goto nomem;
	} else {
		const char *p = s;
		while (*p) {
			size_t n = strcspn(p, ",");
			char *v = strndup(p, n);
			if (!v || strvec_push_nodup(out, v) < 0)
				goto nomem;
			p += n;
			if (*p == ',')
				p++;
		}
	}
	ret = EXIT_OK;
	goto out;
nomem:
	report_error("out of memory");
out:
	json_free(j);
	return ret;
}

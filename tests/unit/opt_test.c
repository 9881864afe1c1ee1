/* opt_test.c - the option-table wrapper (cmd/opt.c) and report_sanitize(). */
#define TEST_MODULE "opt"
#include "core/base/strvec.h"
#include "tests/unit/test.h"

#include "cmd/exit.h"
#include "cmd/opt.h"
#include "cmd/report.h"
#include "core/base/buf.h"
#include "core/base/err.h"

#include <string.h>

#define ARGC(a) ((int)(sizeof(a) / sizeof((a)[0])) - 1)

static const char *const usage[] = { "hoist frob [options] <ref>", "hoist frob --all", NULL };

/* A test command's options and where they land. */
struct vals {
	int all;
	int verbose;
	const char *output;
	int jobs;
	struct strvec tags;
	const char *cb_arg;
	int cb_calls;
};

static int cb_check(void *target, const char *arg, struct err *e)
{
	struct vals *v = target;

	if (!strcmp(arg, "bad"))
		return err_set(e, ERR_INVALID, "invalid thing '%s'", arg);
	v->cb_arg = arg;
	v->cb_calls++;
	return 0;
}

/* Fills `opts` (7 entries) for `v`. */
static void vals_opts(struct opt *opts, struct vals *v)
{
	const struct opt o[] = {
		OPT_FLAG('a', "all", &v->all, "every platform"),
		OPT_COUNTER('v', "verbose", &v->verbose, "say more"),
		OPT_STRING('o', "output", &v->output, "<file>", "write to <file>"),
		OPT_INT('j', "jobs", &v->jobs, "<n>", 1, 64, "<n> at once"),
		OPT_STRING_LIST('t', "tag", &v->tags, "<tag>", "add a tag (repeatable)"),
		OPT_CALLBACK(0, "thing", v, "<thing>", "a checked value", cb_check),
		OPT_END(),
	};

	memset(v, 0, sizeof(*v));
	strvec_init(&v->tags);
	memcpy(opts, o, sizeof(o));
}

TEST(parses_each_kind)
{
	char *argv[] = { "frob", "-a", "-vv", "--verbose", "--output", "out.tar", "-j", "8",
			 "--tag=a", "-tb", "--thing", "x", NULL };
	struct opt opts[7];
	struct vals v;
	struct opt_spec spec = { usage, opts, NULL, NULL, 0 };
	struct err e = ERR_INIT;
	int first = -1;

	vals_opts(opts, &v);
	CHECK_RC(opt_parse_args(&spec, ARGC(argv), argv, &first, &e), OPT_STATUS_OK);
	CHECK_RC(first, ARGC(argv));
	CHECK_RC(v.all, 1);
	CHECK_RC(v.verbose, 3);
	CHECK_STR(v.output, "out.tar");
	CHECK_RC(v.jobs, 8);
	CHECK_RC(v.tags.n, 2);
	CHECK_STR(v.tags.v[0], "a");
	CHECK_STR(v.tags.v[1], "b");
	CHECK_STR(v.cb_arg, "x");
	CHECK_RC(v.cb_calls, 1);
	strvec_clear(&v.tags);
}

TEST(operands_move_last_in_order)
{
	char *argv[] = { "frob", "one", "-a", "two", "--output", "o", "three", NULL };
	struct opt opts[7];
	struct vals v;
	struct opt_spec spec = { usage, opts, NULL, NULL, 0 };
	int first = -1;

	vals_opts(opts, &v);
	CHECK_RC(opt_parse_args(&spec, ARGC(argv), argv, &first, NULL), OPT_STATUS_OK);
	CHECK_RC(first, 4);
	CHECK_STR(argv[0], "frob");
	CHECK_STR(argv[first], "one");
	CHECK_STR(argv[first + 1], "two");
	CHECK_STR(argv[first + 2], "three");
	CHECK_STR(v.output, "o");
	CHECK_RC(v.all, 1);
}

TEST(double_dash_ends_options)
{
	char *argv[] = { "frob", "x", "--", "-a", "--output", NULL };
	struct opt opts[7];
	struct vals v;
	struct opt_spec spec = { usage, opts, NULL, NULL, 0 };
	int first = -1;

	vals_opts(opts, &v);
	CHECK_RC(opt_parse_args(&spec, ARGC(argv), argv, &first, NULL), OPT_STATUS_OK);
	CHECK_RC(v.all, 0);
	CHECK_RC(ARGC(argv) - first, 3);
	CHECK_STR(argv[first], "x");
	CHECK_STR(argv[first + 1], "-a");
	CHECK_STR(argv[first + 2], "--output");
}

TEST(stop_at_operand)
{
	char *argv[] = { "hoist", "-v", "pull", "-a", "ref", NULL };
	struct opt opts[7];
	struct vals v;
	struct opt_spec spec = { usage, opts, NULL, NULL, OPT_STOP_AT_OPERAND };
	int first = -1;

	vals_opts(opts, &v);
	CHECK_RC(opt_parse_args(&spec, ARGC(argv), argv, &first, NULL), OPT_STATUS_OK);
	CHECK_RC(v.verbose, 1);
	CHECK_RC(v.all, 0);
	CHECK_RC(first, 2);
	CHECK_STR(argv[2], "pull");
	CHECK_STR(argv[3], "-a");
}

TEST(globals_accepted_anywhere)
{
	char *argv[] = { "frob", "ref", "-q", "-a", "--level", "3", NULL };
	int all = 0, quiet = 0, level = 0, first = -1;
	const struct opt own[] = { OPT_FLAG('a', "all", &all, "all"), OPT_END() };
	const struct opt globals[] = {
		OPT_FLAG('q', "quiet", &quiet, "quiet"),
		OPT_INT(0, "level", &level, "<n>", 0, 9, "level"),
		OPT_END(),
	};
	struct opt_spec spec = { usage, own, globals, NULL, 0 };

	CHECK_RC(opt_parse_args(&spec, ARGC(argv), argv, &first, NULL), OPT_STATUS_OK);
	CHECK_RC(all, 1);
	CHECK_RC(quiet, 1);
	CHECK_RC(level, 3);
	CHECK_RC(first, 5);
	CHECK_STR(argv[5], "ref");
}

/* Runs the test table on argv and expects a usage error with `msg`. */
static void expect_usage_error(int argc, char **argv, const char *msg)
{
	struct opt opts[7];
	struct vals v;
	struct opt_spec spec = { usage, opts, NULL, NULL, 0 };
	struct err e = ERR_INIT;
	int first = -1;

	vals_opts(opts, &v);
	CHECK_RC(opt_parse_args(&spec, argc, argv, &first, &e), ERR_USAGE);
	CHECK_RC(e.code, ERR_USAGE);
	CHECK_STR(e.msg, msg);
	strvec_clear(&v.tags);
}

TEST(int_range_errors)
{
	char *a0[] = { "frob", "--jobs", "0", NULL };
	char *a1[] = { "frob", "-j65", NULL };
	char *a2[] = { "frob", "--jobs=abc", NULL };
	char *a3[] = { "frob", "--jobs", "99999999999999999999999", NULL };
	char *a4[] = { "frob", "--jobs", "", NULL };
	char *a5[] = { "frob", "--jobs", " 5", NULL };
	char *a6[] = { "frob", "--jobs", "64", NULL };
	struct opt opts[7];
	struct vals v;
	struct opt_spec spec = { usage, opts, NULL, NULL, 0 };
	int first;

	expect_usage_error(ARGC(a0), a0, "option '--jobs': '0' is not in the range 1..64");
	expect_usage_error(ARGC(a1), a1, "option '--jobs': '65' is not in the range 1..64");
	expect_usage_error(ARGC(a2), a2, "option '--jobs': 'abc' is not an integer");
	expect_usage_error(ARGC(a3), a3,
			   "option '--jobs': '99999999999999999999999' is not in the range 1..64");
	expect_usage_error(ARGC(a4), a4, "option '--jobs': '' is not an integer");
	expect_usage_error(ARGC(a5), a5, "option '--jobs': ' 5' is not an integer");
	vals_opts(opts, &v);
	CHECK_RC(opt_parse_args(&spec, ARGC(a6), a6, &first, NULL), OPT_STATUS_OK);
	CHECK_RC(v.jobs, 64);
}

TEST(unknown_and_malformed_options)
{
	char *a0[] = { "frob", "--nope", NULL };
	char *a1[] = { "frob", "-x", NULL };
	char *a2[] = { "frob", "--nope=1", NULL };
	char *a3[] = { "frob", "--all=yes", NULL };
	char *a4[] = { "frob", "--output", NULL };
	char *a5[] = { "frob", "-o", NULL };
	char *a6[] = { "frob", "-ax", NULL };

	expect_usage_error(ARGC(a0), a0, "unknown option '--nope'");
	expect_usage_error(ARGC(a1), a1, "unknown option '-x'");
	expect_usage_error(ARGC(a2), a2, "unknown option '--nope'");
	expect_usage_error(ARGC(a3), a3, "option '--all' takes no value");
	expect_usage_error(ARGC(a4), a4, "option '--output' needs a value");
	expect_usage_error(ARGC(a5), a5, "option '-o' needs a value");
	expect_usage_error(ARGC(a6), a6, "unknown option '-x'");
}

TEST(abbreviations)
{
	char *a0[] = { "frob", "--out", "f", NULL };
	char *a1[] = { "frob", "--t=x", NULL };
	struct opt opts[7];
	struct vals v;
	struct opt_spec spec = { usage, opts, NULL, NULL, 0 };
	int first;

	vals_opts(opts, &v);
	CHECK_RC(opt_parse_args(&spec, ARGC(a0), a0, &first, NULL), OPT_STATUS_OK);
	CHECK_STR(v.output, "f");
	/* --t is --tag or --thing */
	expect_usage_error(ARGC(a1), a1, "ambiguous option '--t' (could be --tag, --thing)");
}

TEST(callback_errors_become_usage_errors)
{
	char *argv[] = { "frob", "--thing", "bad", NULL };

	expect_usage_error(ARGC(argv), argv, "option '--thing': invalid thing 'bad'");
}

TEST(help_is_automatic)
{
	char *a0[] = { "frob", "-a", "--help", "--nope", NULL };
	char *a1[] = { "frob", "-h", NULL };
	char *a2[] = { "frob", "-h", NULL };
	int all = 0, host = 0, first;
	struct opt opts[7];
	struct vals v;
	struct opt_spec spec = { usage, opts, NULL, NULL, 0 };
	const struct opt with_h[] = {
		OPT_FLAG('h', "host", &host, "a -h of its own"),
		OPT_FLAG('a', "all", &all, "all"),
		OPT_END(),
	};
	struct opt_spec spec_h = { usage, with_h, NULL, NULL, 0 };

	vals_opts(opts, &v);
	CHECK_RC(opt_parse_args(&spec, ARGC(a0), a0, &first, NULL), OPT_STATUS_HELP);
	CHECK_RC(opt_parse_args(&spec, ARGC(a1), a1, &first, NULL), OPT_STATUS_HELP);
	/* A table that uses -h keeps it; --help still works. */
	CHECK_RC(opt_parse_args(&spec_h, ARGC(a2), a2, &first, NULL), OPT_STATUS_OK);
	CHECK_RC(host, 1);
}

TEST(help_text_generated)
{
	static const char *const u[] = { "hoist frob [options] <ref>", "hoist frob --all", NULL };
	int all = 0, n = 0, q = 0;
	const char *dir = NULL;
	const struct opt own[] = {
		OPT_FLAG('a', "all", &all, "every platform"),
		OPT_INT(0, "depth", &n, "<n>", 1, 9, "go <n> deep"),
		OPT_STRING(0, "a-very-long-option-name", &dir, "<dir>", "wraps"),
		OPT_END(),
	};
	const struct opt globals[] = { OPT_FLAG('q', "quiet", &q, "errors only"), OPT_END() };
	struct opt_spec spec = { u, own, globals, "frobs a thing.", 0 };
	struct buf b = BUF_INIT;

	CHECK_RC(opt_usage_format(&b, &spec), 0);
	CHECK_STR(b.data,
		  "usage: hoist frob [options] <ref>\n"
		  "   or: hoist frob --all\n"
		  "\n"
		  "frobs a thing.\n"
		  "\n"
		  "options:\n"
		  "    -a, --all               every platform\n"
		  "        --depth <n>         go <n> deep\n"
		  "        --a-very-long-option-name <dir>\n"
		  "                            wraps\n"
		  "    -h, --help              show this help\n"
		  "\n"
		  "global options:\n"
		  "    -q, --quiet             errors only\n");
	buf_reset(&b);
	CHECK_RC(opt_usage_lines(&b, &spec), 0);
	CHECK_STR(b.data, "usage: hoist frob [options] <ref>\n   or: hoist frob --all\n");
	buf_release(&b);
}

TEST(wrapper_returns_exit_statuses)
{
	char *a0[] = { "frob", "x", "-a", "y", NULL };
	char *a1[] = { "frob", "--jobs", "0", NULL };
	struct opt opts[7];
	struct vals v;
	struct opt_spec spec = { usage, opts, NULL, NULL, 0 };
	int argc = ARGC(a0);
	char **argv = a0;

	vals_opts(opts, &v);
	CHECK_RC(opt_parse(&spec, &argc, &argv), OPT_CONTINUE);
	CHECK_RC(argc, 2);
	CHECK_STR(argv[0], "x");
	CHECK_STR(argv[1], "y");
	CHECK_RC(v.all, 1);
	argc = ARGC(a1);
	argv = a1;
	/* Reports on stderr. */
	CHECK_RC(opt_parse(&spec, &argc, &argv), EXIT_USAGE);
	CHECK_RC(opt_usage_error(&spec, "too many %s", "arguments"), EXIT_USAGE);
}

TEST(sanitize_control_characters)
{
	char s[] = "tag\x1b[31mred\r\n\tok\x7f\xc3\xa9";
	struct buf b = BUF_INIT;

	CHECK_STR(report_sanitize(s), "tag?[31mred??\tok?\xc3\xa9");
	CHECK_RC(report_sanitize_buf(&b, "a\x07z"), 0);
	CHECK_STR(b.data, "a?z");
	buf_release(&b);
}

int main(void)
{
	RUN(parses_each_kind);
	RUN(operands_move_last_in_order);
	RUN(double_dash_ends_options);
	RUN(stop_at_operand);
	RUN(globals_accepted_anywhere);
	RUN(int_range_errors);
	RUN(unknown_and_malformed_options);
	RUN(abbreviations);
	RUN(callback_errors_become_usage_errors);
	RUN(help_is_automatic);
	RUN(help_text_generated);
	RUN(wrapper_returns_exit_statuses);
	RUN(sanitize_control_characters);
	return test_done();
}

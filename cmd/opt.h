/* opt.h - command-line options from a declared table.
 *
 * A command declares its options once, as an array of `struct opt` ended by
 * OPT_END(); the same table drives getopt_long() and the generated --help
 * text, so the two cannot drift apart (git's parse-options, kept small):
 *
 *	static const char *const usage[] = { "hoist pull [options] <ref>", NULL };
 *	int all = 0;
 *	struct opt opts[] = {
 *		OPT_FLAG('a', "all", &all, "pull every platform"),
 *		OPT_END(),
 *	};
 *	struct opt_spec spec = { usage, opts, NULL, NULL, 0 };
 *	int rc = opt_parse(&spec, &argc, &argv);
 *	if (rc != OPT_CONTINUE)
 *		return rc;
 *	// argv[0 .. argc-1] are now the operands
 *
 * Commands build the spec with CMD_SPEC() and parse with cmd_parse_options()
 * (cmd/cmd.h), which add the global options and the setup.  `-h`/`--help` is
 * added to every table that does not declare an option named "help" (and
 * `-h` only when no option uses 'h').
 * Long options may be abbreviated to any unambiguous prefix (getopt_long).
 * Options and operands may be mixed unless OPT_STOP_AT_OPERAND is set; "--"
 * ends the options.
 */
#ifndef HOIST_CMD_OPT_H
#define HOIST_CMD_OPT_H

#include "core/base/strvec.h"

#include <stddef.h>

struct buf;
struct err;

enum opt_kind {
	OPT_KIND_END = 0,
	OPT_KIND_FLAG,		/* int *: set to 1 */
	OPT_KIND_COUNTER,	/* int *: incremented per use (-vv) */
	OPT_KIND_STRING,	/* const char **: the argument, borrowed from argv; last wins */
	OPT_KIND_INT,		/* int *: strtol, base 10, within [min, max] */
	OPT_KIND_STRING_LIST,	/* struct strvec *: a copy of each use appended */
	OPT_KIND_CALLBACK,	/* cb(target, arg, e); arg NULL when argh is NULL */
};

/* A callback returns 0, or a negative err_code with `e` filled; the message
 * is reported after "option '--name': ". */
typedef int opt_cb(void *target, const char *arg, struct err *e);

struct opt {
	enum opt_kind kind;
	int short_name;		/* 'v', or 0 for none */
	const char *long_name;	/* "verbose", or NULL for none */
	void *target;
	const char *argh;	/* argument name in help ("DIR"); NULL = takes none */
	const char *help;	/* one line, lower case, no period */
	long min, max;		/* OPT_KIND_INT range, inclusive */
	opt_cb *cb;		/* OPT_KIND_CALLBACK */
};

#define OPT_FLAG(s, l, t, h) { OPT_KIND_FLAG, (s), (l), (t), NULL, (h), 0, 0, NULL }
#define OPT_COUNTER(s, l, t, h) { OPT_KIND_COUNTER, (s), (l), (t), NULL, (h), 0, 0, NULL }
#define OPT_STRING(s, l, t, a, h) { OPT_KIND_STRING, (s), (l), (t), (a), (h), 0, 0, NULL }
#define OPT_INT(s, l, t, a, lo, hi, h) { OPT_KIND_INT, (s), (l), (t), (a), (h), (lo), (hi), NULL }
#define OPT_STRING_LIST(s, l, t, a, h) \
	{ OPT_KIND_STRING_LIST, (s), (l), (t), (a), (h), 0, 0, NULL }
#define OPT_CALLBACK(s, l, t, a, h, f) { OPT_KIND_CALLBACK, (s), (l), (t), (a), (h), 0, 0, (f) }
#define OPT_END() { OPT_KIND_END, 0, NULL, NULL, NULL, NULL, 0, 0, NULL }

enum opt_flags {
	/* Stop at the first operand (for `hoist [options] <command> ...` and
	 * command groups): everything from it on is left for the command. */
	OPT_STOP_AT_OPERAND = 1 << 0,
};

struct opt_spec {
	const char *const *usage;	/* NULL-terminated; usage[0] is "hoist CMD ..." */
	const struct opt *opts;		/* the command's own; NULL = none */
	const struct opt *globals;	/* also accepted, listed as "global options"; may be NULL */
	const char *about;		/* text printed between usage and options; may be NULL */
	unsigned flags;			/* enum opt_flags */
};

/* What opt_parse_args() found. */
enum opt_status {
	OPT_STATUS_OK = 0,	/* options parsed; operands start at *first */
	OPT_STATUS_HELP = 1,	/* -h/--help was given (nothing else acted on after it) */
};

/* The parsing step without any printing: parses argv[1 .. argc-1] (argv[0]
 * is the command name) into the targets.  Returns OPT_STATUS_OK with *first
 * set to the index of the first operand (argv may be permuted so that the
 * operands come last), OPT_STATUS_HELP, or a negative err_code with `e`
 * filled: ERR_USAGE for an unknown option, a missing or unexpected value,
 * an integer out of range; ERR_NOMEM; or what a callback returned. */
int opt_parse_args(const struct opt_spec *spec, int argc, char **argv, int *first,
		   struct err *e);

/* Appends the generated help text: usage lines, `about`, "options:" and
 * "global options:" sections.  Returns 0 or ERR_NOMEM. */
int opt_usage_format(struct buf *out, const struct opt_spec *spec);
/* Appends only the usage lines ("usage: ..." and "   or: ..."). */
int opt_usage_lines(struct buf *out, const struct opt_spec *spec);

/* opt_parse() returns this when the caller should go on. */
#define OPT_CONTINUE (-1)

/* The wrapper commands use.  Parses *argc and *argv (argv[0] the command name);
 * on success leaves only the operands in *argc and *argv and returns
 * OPT_CONTINUE.  Otherwise returns the exit status the command should
 * return: EXIT_OK after printing the help text on stdout for --help,
 * EXIT_USAGE after reporting a usage error and the usage lines on stderr,
 * EXIT_FAIL when memory ran out. */
int opt_parse(const struct opt_spec *spec, int *argc, char ***argv);

/* Reports "error: <fmt>" and the usage lines on stderr; returns EXIT_USAGE.
 * For operand checks: `return opt_usage_error(&spec, "too many arguments");` */
int opt_usage_error(const struct opt_spec *spec, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

struct strvec;

/* How opt_argv_parse() reads a value that is not a JSON array. */
enum opt_argv_form {
	OPT_ARGV_COMMAS, /* comma-separated, as crane's string slices; "" clears */
	OPT_ARGV_SHELL,  /* shell form: "/bin/sh" "-c" VALUE */
};

/* --entrypoint/--cmd: appends to `out` the strings of `s`, a JSON array of
 * strings, else `s` read as `form` says.  `what` names the option in the
 * error reported.  Returns EXIT_OK, EXIT_USAGE (reported) or EXIT_FAIL
 * (out of memory, reported). */
int opt_argv_parse(struct strvec *out, const char *what, const char *s,
		   enum opt_argv_form form);

#endif

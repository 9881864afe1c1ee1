/* help.c - `hoist help [<command> [<sub-command>]]`, the command list and
 * the "did you mean" hint for unknown commands (git's help.c). */
#include "cmd/cmd.h"

#include "cmd/report.h"
#include "core/base/buf.h"
#include "core/base/err.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CMD_NAME_COLUMN 12

/* git's help.c: a candidate is suggested when its score is below this. */
#define SIMILARITY_FLOOR 7

int cmd_list_format(struct buf *out, const struct cmd *table)
{
	size_t i;

	buf_addstr(out, "commands:\n");
	for (i = 0; table[i].name; i++)
		if (table[i].summary)	/* NULL: an alias */
			buf_addf(out, "   %-*s %s\n", CMD_NAME_COLUMN, table[i].name,
				 table[i].summary);
	return buf_failed(out) ? ERR_NOMEM : 0;
}

/* Weighted Damerau-Levenshtein distance turning `a` into `b`, with git's
 * weights for commands: swap w, substitution s, insertion i, deletion d
 * (git's levenshtein.c, which calls insertion "a").  Returns INT_MAX when
 * memory runs out. */
static int cmd_levenshtein(const char *a, const char *b, int w, int s, int ins, int del)
{
	size_t len1 = strlen(a), len2 = strlen(b), i, j;
	int *row0 = calloc(len2 + 1, sizeof(int));
	int *row1 = calloc(len2 + 1, sizeof(int));
	int *row2 = calloc(len2 + 1, sizeof(int));
	int *tmp, ret = INT_MAX;

	if (!row0 || !row1 || !row2)
		goto out;
	for (j = 0; j <= len2; j++)
		row1[j] = (int)j * ins;
	for (i = 0; i < len1; i++) {
		row2[0] = (int)(i + 1) * del;
		for (j = 0; j < len2; j++) {
			/* substitution */
			row2[j + 1] = row1[j] + s * (a[i] != b[j]);
			/* swap */
			if (i > 0 && j > 0 && a[i - 1] == b[j] && a[i] == b[j - 1] &&
			    row2[j + 1] > row0[j - 1] + w)
				row2[j + 1] = row0[j - 1] + w;
			/* deletion */
			if (row2[j + 1] > row1[j + 1] + del)
				row2[j + 1] = row1[j + 1] + del;
			/* insertion */
			if (row2[j + 1] > row2[j] + ins)
				row2[j + 1] = row2[j] + ins;
		}
		tmp = row0;
		row0 = row1;
		row1 = row2;
		row2 = tmp;
	}
	ret = row1[len2];
out:
	free(row0);
	free(row1);
	free(row2);
	return ret;
}

/* Lower is more similar; a prefix of a command name scores best. */
static int cmd_similarity(const char *typed, const char *name)
{
	int d;

	if (*typed && !strncmp(name, typed, strlen(typed)))
		return 0;
	d = cmd_levenshtein(typed, name, 0, 2, 1, 3);
	return d == INT_MAX ? INT_MAX : d + 1;
}

int cmd_unknown(const struct cmd *table, const char *what, const char *name)
{
	struct buf hint = BUF_INIT;
	int best = INT_MAX, n_best = 0, score;
	size_t i;

	report_error("'%s' is not a %s command", name, what);
	for (i = 0; table[i].name; i++) {
		score = cmd_similarity(name, table[i].name);
		if (score < best) {
			best = score;
			n_best = 0;
		}
		if (score == best)
			n_best++;
	}
	if (best < SIMILARITY_FLOOR) {
		for (i = 0; table[i].name; i++)
			if (cmd_similarity(name, table[i].name) == best)
				buf_addf(&hint, "%s'%s'", hint.len ? ", " : "", table[i].name);
		if (!buf_failed(&hint))
			report_hint("the most similar command%s %s %s", n_best > 1 ? "s" : "",
				    n_best > 1 ? "are" : "is", hint.data);
	}
	buf_release(&hint);
	return EXIT_USAGE;
}

int cmd_help(int argc, char **argv, struct ctx *ctx)
{
	static const char *const usage[] = { "hoist help [<command> [<sub-command>]]", NULL };
	const struct opt opts[] = { OPT_END() };
	struct opt_spec spec = CMD_SPEC(ctx, usage, opts);
	struct buf out = BUF_INIT;
	const struct cmd *c;
	char **args = NULL;
	int ret = EXIT_FAIL, rc, i;

	rc = cmd_parse_options(ctx, &spec, &argc, &argv);
	if (rc != OPT_CONTINUE)
		return rc;
	if (argc > 2) {
		ret = opt_usage_error(&spec, "too many arguments");
		goto out;
	}
	if (argc == 0) {
		if (cmd_main_usage(&out, ctx) < 0) {
			report_error("out of memory");
			goto out;
		}
		fputs(out.data, stdout);
		ret = EXIT_OK;
		goto out;
	}
	c = cmd_lookup(cmd_table, argv[0]);
	if (!c) {
		ret = cmd_unknown(cmd_table, "hoist", argv[0]);
		goto out;
	}
	/* `hoist help CMD [SUB]` is `hoist CMD [SUB] --help`. */
	args = calloc((size_t)argc + 2, sizeof(*args));
	if (!args) {
		report_error("out of memory");
		goto out;
	}
	for (i = 0; i < argc; i++)
		args[i] = argv[i];
	args[argc] = "--help";
	ret = cmd_run(c, c->name, argc + 1, args, ctx);
out:
	free(args);
	buf_release(&out);
	return ret;
}

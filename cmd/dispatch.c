/* dispatch.c - running a row of a command table (git's run_builtin) and
 * command groups with their sub-tables. */
#include "cmd/cmd.h"

#include "cmd/report.h"
#include "core/base/buf.h"

#include <stdio.h>
#include <string.h>

const struct cmd *cmd_lookup(const struct cmd *table, const char *name)
{
	size_t i;

	for (i = 0; table[i].name; i++)
		if (!strcmp(table[i].name, name))
			return &table[i];
	return NULL;
}

int cmd_run(const struct cmd *c, const char *full_name, int argc, char **argv,
	    struct ctx *ctx)
{
	const char *saved = ctx->cmd_name;
	int ret;

	ctx->cmd_name = full_name;
	ctx->setup_pending |= c->setup;
	ret = c->fn(argc, argv, ctx);
	ctx->setup_pending = 0;
	ctx->cmd_name = saved;
	return ret;
}

int cmd_parse_options(struct ctx *ctx, const struct opt_spec *spec, int *argc, char ***argv)
{
	unsigned flags;
	int rc;

	if (ctx->complete)
		return complete_spec(ctx, spec);
	rc = opt_parse(spec, argc, argv);
	if (rc != OPT_CONTINUE)
		return rc;
	flags = ctx->setup_pending;
	ctx->setup_pending = 0;
	rc = ctx_setup(ctx, flags);
	return rc == EXIT_OK ? OPT_CONTINUE : rc;
}

int cmd_group_run(struct ctx *ctx, const char *group, const struct cmd *subs, int argc,
		  char **argv)
{
	const char *usage[2] = { NULL, NULL };
	struct opt_spec spec = CMD_SPEC(ctx, usage, NULL);
	struct buf usage_line = BUF_INIT, about = BUF_INIT, what = BUF_INIT, full = BUF_INIT;
	const struct cmd *c;
	int ret = EXIT_FAIL, rc;

	buf_addf(&usage_line, "hoist %s [options] <command> [<args>]", group);
	cmd_list_format(&about, subs);
	buf_addf(&what, "hoist %s", group);
	if (buf_failed(&usage_line) || buf_failed(&about) || buf_failed(&what)) {
		report_error("out of memory");
		goto out;
	}
	usage[0] = usage_line.data;
	spec.about = about.data;
	spec.flags = OPT_STOP_AT_OPERAND;
	if (ctx->complete) {
		ret = complete_group(ctx, &spec, subs);
		goto out;
	}
	/* Not cmd_parse_options(): the setup waits for the sub-command's options. */
	rc = opt_parse(&spec, &argc, &argv);
	if (rc != OPT_CONTINUE) {
		ret = rc;
		goto out;
	}
	if (!argc) {
		struct buf b = BUF_INIT;

		if (opt_usage_format(&b, &spec) == 0) {
			fflush(stdout);
			fputs(b.data, stderr);
		}
		buf_release(&b);
		ret = EXIT_USAGE;
		goto out;
	}
	c = cmd_lookup(subs, argv[0]);
	if (!c) {
		ret = cmd_unknown(subs, what.data, argv[0]);
		goto out;
	}
	buf_addf(&full, "%s %s", group, c->name);
	if (buf_failed(&full)) {
		report_error("out of memory");
		goto out;
	}
	ret = cmd_run(c, full.data, argc, argv, ctx);
out:
	buf_release(&usage_line);
	buf_release(&about);
	buf_release(&what);
	buf_release(&full);
	return ret;
}

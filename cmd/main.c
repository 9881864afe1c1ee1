/* main.c - the command table and `hoist [options] <command> [<args>]`
 * (git's git.c).  See cmd/cmd.h for how to add a command. */
#include "cmd/cmd.h"

#include "cmd/report.h"
#include "core/base/buf.h"
#include "core/base/err.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

/* Every command, in the order `hoist help` lists them. */
const struct cmd cmd_table[] = {
	{ "help", cmd_help, 0, "show help for hoist or one of its commands" },
	{ "version", cmd_version, 0, "print hoist's version" },
	{ "cache", cmd_cache, CMD_SETUP_CACHE_DIR, "list, clean and check the image cache" },
	{ "manifest", cmd_manifest, CMD_SETUP_CACHE, "print the manifest of an image" },
	{ "config", cmd_config, CMD_SETUP_CACHE, "print the config of an image" },
	{ "digest", cmd_digest, CMD_SETUP_CACHE, "print the digest of an image" },
	{ "pull", cmd_pull, CMD_SETUP_CACHE, "pull images into the cache, a layout or a tarball" },
	{ "ls", cmd_ls, CMD_SETUP_ENV, "list the tags of a repository" },
	{ "catalog", cmd_catalog, CMD_SETUP_ENV, "list the repositories of a registry" },
	{ "blob", cmd_blob, CMD_SETUP_ENV, "write a blob to stdout" },
	{ "tag", cmd_tag, CMD_SETUP_ENV, "add a tag to an image in its registry" },
	{ "delete", cmd_delete, CMD_SETUP_ENV, "delete an image or tag from its registry" },
	{ "push", cmd_push, CMD_SETUP_ENV, "push an image from a layout, archive or the cache to a registry" },
	{ "copy", cmd_copy, CMD_SETUP_ENV, "copy images from registry to registry, keeping digests" },
	{ "cp", cmd_copy, CMD_SETUP_ENV, NULL },	/* alias: not listed */
	{ "build", cmd_build, CMD_SETUP_CACHE, "build an image from files and a base, or a Containerfile" },
	{ "append", cmd_append, CMD_SETUP_CACHE, "append tar files as layers to an image" },
	{ "mutate", cmd_mutate, CMD_SETUP_CACHE, "change an image's config, annotations and platform" },
	{ "export", cmd_export, CMD_SETUP_CACHE, "write the flattened filesystem of an image as a tar" },
	{ "unpack", cmd_unpack, CMD_SETUP_CACHE, "unpack the flattened filesystem of an image into a directory" },
	{ "validate", cmd_validate, CMD_SETUP_CACHE, "check an image's digests, sizes, media types and diff_ids" },
	{ "flatten", cmd_flatten, CMD_SETUP_CACHE, "flatten an image's layers into one layer" },
	{ "rebase", cmd_rebase, CMD_SETUP_CACHE, "rebase an image onto a new base image" },
	{ "index", cmd_index, 0, "work with image indexes (multi-platform images)" },
	{ "auth", cmd_auth, 0, "log in and out of registries, get credentials and tokens" },
	{ "completion", cmd_completion, 0, "print the bash or zsh completion script" },
	/* hidden (NULL summary): what the completion scripts call */
	{ "__complete", cmd_complete, 0, NULL },
	{ NULL, NULL, 0, NULL },
};

static const char *const main_usage[] = { "hoist [options] <command> [<args>]", NULL };

/* The top-level options: the global ones plus --version and --help. */
struct main_opts {
	int version;
	struct opt opts[2];
	struct buf about;
	struct opt_spec spec;
};

static int main_opts_init(struct main_opts *m, struct ctx *ctx)
{
	const struct opt opts[2] = {
		OPT_FLAG(0, "version", &m->version, "print hoist's version"),
		OPT_END(),
	};

	m->version = 0;
	memcpy(m->opts, opts, sizeof(opts));
	buf_init(&m->about, 0);
	cmd_list_format(&m->about, cmd_table);
	buf_addstr(&m->about, "\nRun 'hoist help <command>' for the options of a command.\n");
	m->spec.usage = main_usage;
	m->spec.opts = m->opts;
	m->spec.globals = ctx_global_options(ctx);
	m->spec.about = m->about.data;
	m->spec.flags = OPT_STOP_AT_OPERAND;
	return buf_failed(&m->about) ? ERR_NOMEM : 0;
}

int cmd_main_usage(struct buf *out, struct ctx *ctx)
{
	struct main_opts m;
	int ret;

	ret = main_opts_init(&m, ctx);
	if (ret == 0)
		ret = opt_usage_format(out, &m.spec);
	buf_release(&m.about);
	return ret;
}

static int main_run(struct ctx *ctx, int argc, char **argv)
{
	static char version_name[] = "version";
	char *version_argv[] = { version_name, NULL };
	struct main_opts m;
	struct buf help = BUF_INIT;
	const struct cmd *c;
	int ret;

	if (main_opts_init(&m, ctx) < 0) {
		report_error("out of memory");
		ret = EXIT_FAIL;
		goto out;
	}
	ret = opt_parse(&m.spec, &argc, &argv);
	if (ret != OPT_CONTINUE)
		goto out;
	if (m.version) {
		argc = 1;
		argv = version_argv;
	}
	if (!argc) {
		/* Bare `hoist`: the help, but as a usage error. */
		if (opt_usage_format(&help, &m.spec) == 0)
			fputs(help.data, stderr);
		ret = EXIT_USAGE;
		goto out;
	}
	c = cmd_lookup(cmd_table, argv[0]);
	if (!c) {
		ret = cmd_unknown(cmd_table, "hoist", argv[0]);
		goto out;
	}
	ret = cmd_run(c, c->name, argc, argv, ctx);
out:
	buf_release(&help);
	buf_release(&m.about);
	return ret;
}

/* git's run_builtin: a command that "succeeded" while its output was lost
 * (full disk, closed pipe, I/O error) must not exit 0. */
static int main_close_stdout(int ret)
{
	if (fflush(stdout)) {
		report_errno(errno, "cannot write to stdout");
		return EXIT_FAIL;
	}
	if (ferror(stdout)) {
		report_error("cannot write to stdout: output was lost");
		return EXIT_FAIL;
	}
	if (fclose(stdout)) {
		report_errno(errno, "cannot write to stdout");
		return EXIT_FAIL;
	}
	return ret;
}

int main(int argc, char **argv)
{
	struct ctx ctx;
	int ret;

	ctx_init(&ctx);
	ret = main_run(&ctx, argc, argv);
	ret = main_close_stdout(ret);
	ctx_release(&ctx);
	return ret;
}

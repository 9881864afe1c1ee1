/* cmd.h - what every hoist command sees: the context, the command tables
 * and the prototypes of the commands.
 *
 * Adding a command `hoist frob`:
 *   1. write cmd/frob.c with `int cmd_frob(int argc, char **argv, struct ctx *ctx)`
 *      (argv[0] is "frob"; start with cmd_parse_options(), see below);
 *   2. add its prototype below;
 *   3. add one line to the table in cmd/main.c:
 *        { "frob", cmd_frob, CMD_SETUP_CACHE_DIR, "frobnicate an image" },
 *   4. add cmd/frob.c to CMD_SRCS in the Makefile and write man/hoist-frob.1.scd
 *      (tests/e2e/t0002-man.sh checks that it exists and agrees with --help).
 *
 * A group such as `hoist cache ls` is a command whose function hands its
 * arguments to cmd_group_run() with a sub-table of the same `struct cmd`:
 *
 *	int cmd_cache(int argc, char **argv, struct ctx *ctx)
 *	{
 *		static const struct cmd subs[] = {
 *			{ "ls", cmd_cache_ls, CMD_SETUP_CACHE_DIR, "list cached images" },
 *			{ NULL, NULL, 0, NULL },
 *		};
 *		return cmd_group_run(ctx, "cache", subs, argc, argv);
 *	}
 *
 * Commands return an enum exit_status (cmd/exit.h).  They report with
 * cmd/report.h and write data, and nothing else, to stdout; main() flushes
 * and checks stdout after the command returns.
 */
#ifndef HOIST_CMD_CMD_H
#define HOIST_CMD_CMD_H

#include "cmd/exit.h"
#include "cmd/opt.h"
#include "core/ops/env.h"
#include "core/model/platform.h"
#include "core/model/settings.h"
#include "registry/creds.h"

struct buf;
struct complete;

/* Setup driven by the table, so that commands do not repeat it: done by
 * cmd_parse_options() once the command's options are parsed (so not for
 * --help or a usage error).  A group's flags are added to its sub-command's. */
enum cmd_setup {
	CMD_SETUP_CACHE_DIR = 1 << 0,	/* ctx->cache_dir resolved (ctx_cache_dir()) */
	/* ctx->env ready for registry access: http client (certs dirs, -vv
	 * trace, --insecure), credentials from docker's and podman's files,
	 * --offline, --jobs, --platform, -v logging (cmd/env.c) */
	CMD_SETUP_ENV = 1 << 1,
	/* as CMD_SETUP_ENV, and the cache layout opened (created when missing)
	 * as ctx->env.cache; implies CMD_SETUP_CACHE_DIR */
	CMD_SETUP_CACHE = 1 << 2,
};

#define CTX_N_GLOBALS 9

/* The global options and what the dispatcher set up.  Filled by main();
 * commands read it and must not free anything in it. */
struct ctx {
	int verbose;			/* -v count; 0 normal, 1 more, 2 trace HTTP */
	int quiet;			/* -q: errors only */
	int insecure;			/* --insecure: plain HTTP / unverified TLS allowed */
	int offline;			/* --offline: no network, cache only */
	int jobs;			/* --jobs N, 1..64; CTX_JOBS_DEFAULT when not given */
	const char *platform_arg;	/* --platform as given, or NULL (host platform) */
	struct platform platform;	/* parsed and normalised; valid iff platform_arg */
	const char *cache_arg;		/* --cache DIR as given, or NULL */
	const char *config_arg;		/* --config FILE as given, or NULL */
	/* The config file (ctx_load_config()); config_state 0: not read yet,
	 * 1: read (or absent), -1: failed (reported) */
	struct settings settings;
	int config_state;
	struct http_host_tls *tls_hosts;	/* its "ca"/"insecure", for http.c */
	char *cache_dir;		/* NULL until ctx_cache_dir() or CMD_SETUP_CACHE_DIR */
	const char *cmd_name;		/* "version", "cache ls": for messages */
	unsigned setup_pending;		/* enum cmd_setup; cmd_run() -> cmd_parse_options() */
	/* CMD_SETUP_ENV / CMD_SETUP_CACHE (cmd/env.c); released by ctx_release */
	struct env env;
	struct http_client *http;
	struct creds_store creds;
	struct layout *cache;		/* == env.cache when opened */
	int env_ready;
	/* set by `hoist __complete` (cmd/complete.c): cmd_parse_options() and
	 * cmd_group_run() hand their spec to complete_spec()/complete_group()
	 * instead of parsing, and the command returns without acting */
	struct complete *complete;
	/* private to cmd/ctx.c: the global option table pointing into this ctx */
	struct opt global_opts[CTX_N_GLOBALS];
};

#define CTX_JOBS_DEFAULT 4
#define CTX_JOBS_MAX 64

/* Sets defaults and builds the global option table.  ctx must not be
 * copied afterwards (the table points into it). */
void ctx_init(struct ctx *ctx);
void ctx_release(struct ctx *ctx);
/* The OPT_END-terminated global options (-v, -q, --platform, --insecure,
 * --cache, --jobs, --offline), accepted before and after a command name. */
const struct opt *ctx_global_options(const struct ctx *ctx);

/* Reads the config file once (cmd/env.c): --config FILE, else
 * $HOIST_CONFIG (both must exist), else ${XDG_CONFIG_HOME:-~/.config}/
 * hoist/config.json (may be missing); applies its "jobs" and "platform"
 * where no option gave them.  ctx_setup() calls it.  Reports failures;
 * returns an exit status. */
int ctx_load_config(struct ctx *ctx);

/* The cache directory: --cache DIR, else $HOIST_CACHE, else the config
 * file's "cache", else ${XDG_CACHE_HOME:-$HOME/.cache}/hoist (an empty
 * variable counts as unset).  Resolved once and kept in ctx->cache_dir; the directory is not
 * created.  Returns ctx->cache_dir (borrowed), or NULL after reporting an
 * error (no HOME, out of memory). */
const char *ctx_cache_dir(struct ctx *ctx);

/* Sets up ctx->env for registry access, and the cache when `with_cache`
 * (cmd/env.c).  Reports failures; returns an exit status. */
int ctx_setup_env(struct ctx *ctx, int with_cache);
/* Frees what ctx_setup_env() made (called by ctx_release()). */
void ctx_release_env(struct ctx *ctx);
/* The credential files in lookup order, as docker and podman find them:
 * $DOCKER_CONFIG/config.json or ~/.docker/config.json, $REGISTRY_AUTH_FILE,
 * $XDG_RUNTIME_DIR/containers/auth.json, ~/.config/containers/auth.json;
 * helpers on $PATH.  For `hoist auth` and ctx_setup_env(). */
int ctx_creds_store(struct ctx *ctx, struct creds_store *out);

/* $TMPDIR when set and not empty, else "/tmp" (cmd/env.c). */
const char *ctx_tmp_dir(void);
/* SOURCE_DATE_EPOCH (reproducible-builds.org) in *out, 0 when unset;
 * EXIT_USAGE (reported) when it is not a number of seconds. */
int ctx_source_date_epoch(int64_t *out);

/* Runs the setup `flags` (enum cmd_setup) asks for; reports failures.
 * Returns EXIT_OK or the exit status to give up with. */
int ctx_setup(struct ctx *ctx, unsigned flags);

/* The option spec of a command: its usage lines and options plus the global
 * options, which are accepted after the command name too. */
#define CMD_SPEC(ctx, usage, opts) { (usage), (opts), ctx_global_options(ctx), NULL, 0 }

/* Every command parses its arguments with this, once, before doing
 * anything else:
 *
 *	struct opt_spec spec = CMD_SPEC(ctx, usage, opts);
 *	int rc = cmd_parse_options(ctx, &spec, &argc, &argv);
 *	if (rc != OPT_CONTINUE)
 *		return rc;
 *	if (argc > 1)
 *		return opt_usage_error(&spec, "too many arguments");
 *
 * It is opt_parse() (afterwards argv[0 .. argc-1] are the operands) followed,
 * once every option is known (a --cache after the command name counts), by
 * the setup the command's table row asks for (enum cmd_setup).  So --help
 * and usage errors need no setup.  Returns OPT_CONTINUE, or the exit status
 * the command should return. */
int cmd_parse_options(struct ctx *ctx, const struct opt_spec *spec, int *argc, char ***argv);

typedef int cmd_fn(int argc, char **argv, struct ctx *ctx);

/* One row of the command table (cmd/main.c) or of a group's sub-table;
 * tables end with a row whose name is NULL. */
struct cmd {
	const char *name;
	cmd_fn *fn;
	unsigned setup;		/* enum cmd_setup */
	const char *summary;	/* one line, lower case, shown by `hoist help`;
				 * NULL: an alias of the row before, not listed */
};

/* The top-level table (cmd/main.c). */
extern const struct cmd cmd_table[];

/* The row named `name` in `table`, or NULL. */
const struct cmd *cmd_lookup(const struct cmd *table, const char *name);

/* Runs one row: its function with ctx->cmd_name set to `full_name` and its
 * setup flags pending for cmd_parse_options().  argv[0] is the command's
 * name. */
int cmd_run(const struct cmd *c, const char *full_name, int argc, char **argv,
	    struct ctx *ctx);

/* Dispatches `hoist GROUP [options] SUB [args]`: argv[0] is the group name.
 * Global options may come before SUB.  `hoist GROUP --help` lists the
 * sub-commands on stdout (exit 0), bare `hoist GROUP` on stderr (exit 2);
 * an unknown SUB is a usage error with a suggestion. */
int cmd_group_run(struct ctx *ctx, const char *group, const struct cmd *subs, int argc,
		  char **argv);

/* Shell completion (cmd/complete.c), for dispatch.c when ctx->complete is
 * set: print the candidates for the command line's last word from the
 * command's option spec (and a group's sub-table).  Return an exit status. */
int complete_spec(struct ctx *ctx, const struct opt_spec *spec);
int complete_group(struct ctx *ctx, const struct opt_spec *spec, const struct cmd *subs);

/* Appends "commands:" and one "   name   summary" line per row. */
int cmd_list_format(struct buf *out, const struct cmd *table);

/* Reports "error: '<name>' is not a <what> command" and, when a row is
 * close enough (git's help.c weights), "hint: the most similar command is
 * '<row>'".  Returns EXIT_USAGE. */
int cmd_unknown(const struct cmd *table, const char *what, const char *name);

/* The top-level help (`hoist --help`, `hoist help`): usage, command list,
 * options.  0 or ERR_NOMEM. */
int cmd_main_usage(struct buf *out, struct ctx *ctx);

/* The commands; keep in the order of the table. */
int cmd_help(int argc, char **argv, struct ctx *ctx);
int cmd_version(int argc, char **argv, struct ctx *ctx);
int cmd_cache(int argc, char **argv, struct ctx *ctx);
int cmd_manifest(int argc, char **argv, struct ctx *ctx);
int cmd_config(int argc, char **argv, struct ctx *ctx);
int cmd_digest(int argc, char **argv, struct ctx *ctx);
int cmd_pull(int argc, char **argv, struct ctx *ctx);
int cmd_ls(int argc, char **argv, struct ctx *ctx);
int cmd_catalog(int argc, char **argv, struct ctx *ctx);
int cmd_blob(int argc, char **argv, struct ctx *ctx);
int cmd_tag(int argc, char **argv, struct ctx *ctx);
int cmd_delete(int argc, char **argv, struct ctx *ctx);
int cmd_push(int argc, char **argv, struct ctx *ctx);
int cmd_copy(int argc, char **argv, struct ctx *ctx);
int cmd_build(int argc, char **argv, struct ctx *ctx);
int cmd_append(int argc, char **argv, struct ctx *ctx);
int cmd_mutate(int argc, char **argv, struct ctx *ctx);
int cmd_export(int argc, char **argv, struct ctx *ctx);
int cmd_unpack(int argc, char **argv, struct ctx *ctx);
int cmd_validate(int argc, char **argv, struct ctx *ctx);
int cmd_flatten(int argc, char **argv, struct ctx *ctx);
int cmd_rebase(int argc, char **argv, struct ctx *ctx);
int cmd_index(int argc, char **argv, struct ctx *ctx);
int cmd_auth(int argc, char **argv, struct ctx *ctx);
int cmd_completion(int argc, char **argv, struct ctx *ctx);
int cmd_complete(int argc, char **argv, struct ctx *ctx);

#endif

/* ctx.c - the global options and the setup they drive.  The only place in
 * hoist that reads the environment. */
#include "cmd/cmd.h"

#include "cmd/report.h"
#include "core/base/buf.h"
#include "core/base/err.h"

#include <stdlib.h>
#include <string.h>

static int ctx_opt_platform(void *target, const char *arg, struct err *e)
{
	struct ctx *ctx = target;
	struct platform p = PLATFORM_INIT;
	int rc;

	rc = platform_parse(&p, arg, e);
	if (rc < 0) {
		platform_release(&p);
		return rc;
	}
	platform_release(&ctx->platform);
	ctx->platform = p;
	ctx->platform_arg = arg;
	return 0;
}

void ctx_init(struct ctx *ctx)
{
	const struct opt globals[CTX_N_GLOBALS] = {
		OPT_COUNTER('v', "verbose", &ctx->verbose,
			    "say more; repeat for more detail (-vv traces HTTP)"),
		OPT_FLAG('q', "quiet", &ctx->quiet, "report errors only"),
		OPT_CALLBACK(0, "platform", ctx, "<os/arch[/variant]>",
			     "the platform to pick from a multi-platform image", ctx_opt_platform),
		OPT_FLAG(0, "insecure", &ctx->insecure, "allow plain HTTP and unverified TLS"),
		OPT_STRING(0, "cache", &ctx->cache_arg, "<dir>",
			   "the cache directory (default ~/.cache/hoist)"),
		OPT_INT(0, "jobs", &ctx->jobs, "<n>", 1, CTX_JOBS_MAX,
			"transfer up to <n> blobs at once (1-64, default 4)"),
		OPT_FLAG(0, "offline", &ctx->offline, "never use the network, only the cache"),
		OPT_STRING(0, "config", &ctx->config_arg, "<file>",
			   "the config file (default ~/.config/hoist/config.json)"),
		OPT_END(),
	};

	memset(ctx, 0, sizeof(*ctx));
	/* 0: not given; ctx_load_config() sets the config's or the default */
	ctx->jobs = 0;
	settings_init(&ctx->settings);
	platform_init(&ctx->platform);
	memcpy(ctx->global_opts, globals, sizeof(globals));
}

void ctx_release(struct ctx *ctx)
{
	ctx_release_env(ctx);
	platform_release(&ctx->platform);
	free(ctx->cache_dir);
	ctx->cache_dir = NULL;
	free(ctx->tls_hosts);
	ctx->tls_hosts = NULL;
	settings_release(&ctx->settings);
}

const struct opt *ctx_global_options(const struct ctx *ctx)
{
	return ctx->global_opts;
}

/* An environment variable, with "" counting as unset. */
static const char *ctx_getenv(const char *name)
{
	const char *v = getenv(name);

	return v && *v ? v : NULL;
}

const char *ctx_cache_dir(struct ctx *ctx)
{
	struct buf b = BUF_INIT;
	const char *v;

	if (ctx->cache_dir)
		return ctx->cache_dir;
	if (ctx_load_config(ctx) != EXIT_OK)
		return NULL;
	if (ctx->cache_arg && *ctx->cache_arg) {
		buf_addstr(&b, ctx->cache_arg);
	} else if ((v = ctx_getenv("HOIST_CACHE"))) {
		buf_addstr(&b, v);
	} else if (ctx->settings.cache) {
		buf_addstr(&b, ctx->settings.cache);
	} else if ((v = ctx_getenv("XDG_CACHE_HOME")) && v[0] == '/') {
		/* The XDG spec: a relative path is invalid and ignored. */
		buf_addf(&b, "%s/hoist", v);
	} else if ((v = ctx_getenv("HOME"))) {
		buf_addf(&b, "%s/.cache/hoist", v);
	} else {
		report_error("cannot find the cache directory: HOME is not set");
		report_hint("use --cache <dir> or set HOIST_CACHE");
		return NULL;
	}
	if (buf_failed(&b) || !(ctx->cache_dir = buf_detach(&b, NULL))) {
		buf_release(&b);
		report_error("out of memory");
		return NULL;
	}
	return ctx->cache_dir;
}

int ctx_setup(struct ctx *ctx, unsigned flags)
{
	if (flags && ctx_load_config(ctx) != EXIT_OK)
		return EXIT_FAIL;
	if ((flags & (CMD_SETUP_CACHE_DIR | CMD_SETUP_CACHE)) && !ctx_cache_dir(ctx))
		return EXIT_FAIL;
	if (flags & (CMD_SETUP_ENV | CMD_SETUP_CACHE))
		return ctx_setup_env(ctx, !!(flags & CMD_SETUP_CACHE));
	return EXIT_OK;
}

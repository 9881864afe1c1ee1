/* version.c - `hoist version`, also `hoist --version`. */
#include "cmd/cmd.h"

#include "cmd/report.h"
#include "core/base/buf.h"

#include <stdio.h>

#ifndef HOIST_VERSION
#define HOIST_VERSION "unknown"
#endif

/* -v: the platform and cache directory this command line resolves to. */
static int version_details(struct ctx *ctx)
{
	struct platform host = PLATFORM_INIT;
	struct buf plat = BUF_INIT;
	const char *cache;
	int ret = EXIT_FAIL;

	if (!ctx->platform_arg && platform_host(&host) < 0) {
		report_error("cannot tell the platform hoist runs on");
		goto out;
	}
	if (platform_format(&plat, ctx->platform_arg ? &ctx->platform : &host) < 0) {
		report_error("out of memory");
		goto out;
	}
	cache = ctx_cache_dir(ctx);
	if (!cache)
		goto out;
	printf("platform: %s\ncache: %s\n", plat.data, cache);
	ret = EXIT_OK;
out:
	buf_release(&plat);
	platform_release(&host);
	return ret;
}

int cmd_version(int argc, char **argv, struct ctx *ctx)
{
	static const char *const usage[] = { "hoist version", NULL };
	const struct opt opts[] = { OPT_END() };
	struct opt_spec spec = CMD_SPEC(ctx, usage, opts);
	int rc;

	rc = cmd_parse_options(ctx, &spec, &argc, &argv);
	if (rc != OPT_CONTINUE)
		return rc;
	if (argc > 0)
		return opt_usage_error(&spec, "unexpected argument '%s'", argv[0]);
	printf("hoist %s\n", HOIST_VERSION);
	if (ctx->verbose > 0)
		return version_details(ctx);
	return EXIT_OK;
}

/* inspect.c - `hoist manifest`, `hoist config`, `hoist digest` (crane's
 * commands of the same names).  They go through the image operations, so
 * a digest-pinned image is served from the cache with no request and what
 * they fetch is recorded there (core/ops/resolve.h, the cache contract). */
#include "cmd/cmd.h"

#include "cmd/report.h"
#include "core/base/buf.h"
#include "core/base/err.h"
#include "core/model/ref.h"
#include "core/ops/resolve.h"

#include <stdio.h>

/* Parses IMAGE (default tag "latest", as crane); reports a bad one. */
static int inspect_ref(struct ref *out, const char *arg)
{
	struct err e = ERR_INIT;

	if (ref_parse(out, arg, 0, &e) < 0) {
		report_err(&e, "cannot use '%s'", arg);
		return e.code == ERR_NOMEM ? EXIT_FAIL : EXIT_USAGE;
	}
	return EXIT_OK;
}

/* The manifest IMAGE names: with --platform, the child of an index for
 * that platform; else exactly what the reference names (an index stays an
 * index), as crane does. */
static int inspect_resolve(struct manifest *out, struct ctx *ctx, const struct ref *ref,
			   struct err *e)
{
	if (ctx->platform_arg)
		return resolve_image(out, NULL, &ctx->env, ref, NULL, e);
	return resolve_ref(out, &ctx->env, ref, e);
}

static int inspect_write(const char *data, size_t len)
{
	if (len && fwrite(data, 1, len, stdout) != len)
		return EXIT_FAIL;	/* main() reports the lost output */
	return EXIT_OK;
}

int cmd_manifest(int argc, char **argv, struct ctx *ctx)
{
	static const char *const usage[] = { "hoist manifest <image>", NULL };
	const struct opt opts[] = { OPT_END() };
	struct opt_spec spec = CMD_SPEC(ctx, usage, opts);
	struct ref ref = REF_INIT;
	struct manifest m;
	struct err e = ERR_INIT;
	int ret, rc;

	rc = cmd_parse_options(ctx, &spec, &argc, &argv);
	if (rc != OPT_CONTINUE)
		return rc;
	if (argc != 1)
		return opt_usage_error(&spec, argc ? "too many arguments" : "no image given");
	manifest_init(&m);
	if ((ret = inspect_ref(&ref, argv[0])) != EXIT_OK)
		goto out;
	if (inspect_resolve(&m, ctx, &ref, &e) < 0) {
		ret = report_err(&e, "cannot get the manifest of '%s'", argv[0]);
		goto out;
	}
	/* the exact bytes, no newline added (crane manifest) */
	ret = inspect_write(m.raw.data, m.raw.len);
out:
	manifest_release(&m);
	ref_release(&ref);
	return ret;
}

int cmd_config(int argc, char **argv, struct ctx *ctx)
{
	static const char *const usage[] = { "hoist config <image>", NULL };
	const struct opt opts[] = { OPT_END() };
	struct opt_spec spec = CMD_SPEC(ctx, usage, opts);
	struct ref ref = REF_INIT;
	struct manifest m;
	struct buf cfg = BUF_INIT;
	struct err e = ERR_INIT;
	int ret, rc;

	rc = cmd_parse_options(ctx, &spec, &argc, &argv);
	if (rc != OPT_CONTINUE)
		return rc;
	if (argc != 1)
		return opt_usage_error(&spec, argc ? "too many arguments" : "no image given");
	manifest_init(&m);
	if ((ret = inspect_ref(&ref, argv[0])) != EXIT_OK)
		goto out;
	/* an index resolves to --platform's child, else linux/amd64 (crane) */
	if (resolve_image(&m, NULL, &ctx->env, &ref, NULL, &e) < 0 ||
	    resolve_blob(&cfg, &ctx->env, &ref, &m.config, 0, &e) < 0) {
		ret = report_err(&e, "cannot get the config of '%s'", argv[0]);
		goto out;
	}
	ret = inspect_write(cfg.data, cfg.len);
out:
	buf_release(&cfg);
	manifest_release(&m);
	ref_release(&ref);
	return ret;
}

int cmd_digest(int argc, char **argv, struct ctx *ctx)
{
	static const char *const usage[] = { "hoist digest [--full-ref] <image>", NULL };
	int full_ref = 0;
	const struct opt opts[] = {
		OPT_FLAG(0, "full-ref", &full_ref, "print <repository>@<digest>"),
		OPT_END(),
	};
	struct opt_spec spec = CMD_SPEC(ctx, usage, opts);
	struct ref ref = REF_INIT;
	struct manifest m;
	struct buf out = BUF_INIT;
	struct err e = ERR_INIT;
	int ret, rc;

	rc = cmd_parse_options(ctx, &spec, &argc, &argv);
	if (rc != OPT_CONTINUE)
		return rc;
	if (argc != 1)
		return opt_usage_error(&spec, argc ? "too many arguments" : "no image given");
	manifest_init(&m);
	if ((ret = inspect_ref(&ref, argv[0])) != EXIT_OK)
		goto out;
	if (inspect_resolve(&m, ctx, &ref, &e) < 0) {
		ret = report_err(&e, "cannot get the digest of '%s'", argv[0]);
		goto out;
	}
	if (full_ref && ref_format_name(&out, &ref) == 0)
		buf_addch(&out, '@');
	buf_addf(&out, "%s\n", m.digest.str);
	if (buf_failed(&out)) {
		report_error("out of memory");
		ret = EXIT_FAIL;
		goto out;
	}
	ret = inspect_write(out.data, out.len);
out:
	buf_release(&out);
	manifest_release(&m);
	ref_release(&ref);
	return ret;
}

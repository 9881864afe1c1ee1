/* pull.c - `hoist pull [--format oci|oci-archive|tarball] [--pull POLICY]
 * IMAGE... [PATH]`: images into the cache, into an OCI layout, an OCI
 * archive or a docker-save tarball (crane pull's syntax). */
#include "cmd/cmd.h"

#include "cache/layout.h"
#include "cmd/progress.h"
#include "cmd/report.h"
#include "core/base/buf.h"
#include "core/base/err.h"
#include "core/model/ref.h"
#include "core/ops/pull.h"
#include "core/ops/tarball.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* Whether the last of several operands is the destination PATH (crane's
 * `pull IMAGE... PATH`) rather than one more image: it is, unless it names
 * an image with a tag or digest (an '@', or a ':' after the last '/') and
 * does not look like or exist as a path. */
static int operand_is_path(const char *s)
{
	const char *slash = strrchr(s, '/');
	struct stat st;

	if (s[0] == '/' || s[0] == '.' || s[0] == '~' || stat(s, &st) == 0)
		return 1;
	return !(strchr(s, '@') || strchr(slash ? slash : s, ':'));
}

static int parse_policy(enum pull_policy *out, const char *s)
{
	if (!strcmp(s, "missing"))
		*out = PULL_MISSING;
	else if (!strcmp(s, "always"))
		*out = PULL_ALWAYS;
	else if (!strcmp(s, "never"))
		*out = PULL_NEVER;
	else
		return -1;
	return 0;
}

/* Prints "registry/repository@digest" for each pulled image. */
static void print_pulled(const struct ref *refs, const struct pull_result *p, size_t n)
{
	struct buf b = BUF_INIT;
	size_t i;

	for (i = 0; i < n; i++) {
		buf_reset(&b);
		ref_format_name(&b, &refs[i]);
		if (!buf_failed(&b))
			printf("%s@%s\n", b.data, p[i].desc.digest.str);
	}
	buf_release(&b);
}

int cmd_pull(int argc, char **argv, struct ctx *ctx)
{
	static const char *const usage[] = {
		"hoist pull [--format oci|oci-archive|tarball] [--pull always|missing|never] "
		"<image>... [<path>]",
		NULL,
	};
	const char *format = NULL, *policy = NULL;
	struct opt opts[] = {
		OPT_STRING(0, "format", &format, "<format>",
			   "oci (a layout; the default), oci-archive (a tar of one) or tarball "
			   "(docker save)"),
		OPT_STRING(0, "pull", &policy, "<policy>",
			   "missing (default), always or never: when to ask the registry"),
		OPT_END(),
	};
	struct opt_spec spec = CMD_SPEC(ctx, usage, opts);
	struct ref *refs = NULL;
	struct pull_result *pulled = NULL;
	struct layout *dst = NULL;
	struct progress *pr = NULL;
	struct err e = ERR_INIT;
	const char *path = NULL;
	enum pull_policy pol = PULL_MISSING;
	size_t n = 0, i;
	int tarball = 0, archive = 0, rc, ret = EXIT_FAIL;

	rc = cmd_parse_options(ctx, &spec, &argc, &argv);
	if (rc != OPT_CONTINUE)
		return rc;
	if (format && !strcmp(format, "tarball"))
		tarball = 1;
	else if (format && !strcmp(format, "oci-archive"))
		archive = 1;
	else if (format && strcmp(format, "oci"))
		return opt_usage_error(&spec, "unknown format '%s' (oci, oci-archive or tarball)",
				       format);
	if (policy && parse_policy(&pol, policy) < 0)
		return opt_usage_error(&spec, "unknown pull policy '%s' (always, missing or never)",
				       policy);
	if (argc < 1)
		return opt_usage_error(&spec, "no image given");
	if (tarball || archive) {
		if (argc < 2)
			return opt_usage_error(&spec, "--format %s needs a PATH for the %s", format,
					       tarball ? "tarball" : "archive");
		path = argv[--argc];
	} else if (argc >= 2 && operand_is_path(argv[argc - 1])) {
		path = argv[--argc];
	}
	n = (size_t)argc;
	refs = calloc(n, sizeof(*refs));
	pulled = calloc(n, sizeof(*pulled));
	if (!refs || !pulled) {
		report_error("out of memory");
		goto out;
	}
	for (i = 0; i < n; i++) {
		if (ref_parse(&refs[i], argv[i], 0, &e) < 0) {
			report_err(&e, "invalid image");
			ret = EXIT_USAGE;
			goto out;
		}
	}
	if (!ctx->offline && policy)
		ctx->env.pull = pol;
	pr = progress_new(ctx);
	if (pr) {
		ctx->env.progress = progress_update;
		ctx->env.progress_arg = pr;
	}
	if (path && !tarball && !archive) {
		if (layout_open(&dst, path, LAYOUT_CREATE, &e) < 0) {
			ret = report_err(&e, "cannot open the layout '%s'", path);
			goto out;
		}
	}
	rc = pull_images(pulled, &ctx->env, refs, n, dst ? dst : ctx->cache,
			tarball ? PULL_SINGLE : 0, &e);
	progress_free(pr);
	pr = NULL;
	ctx->env.progress = NULL;
	if (rc < 0) {
		ret = report_err(&e, "cannot pull");
		goto out;
	}
	if (tarball && tarball_write(path, ctx->cache, refs, pulled, n, &e) < 0) {
		ret = report_err(&e, "cannot write the tarball '%s'", path);
		goto out;
	}
	if (archive && tarball_write_oci(path, ctx->cache, pulled, n, &e) < 0) {
		ret = report_err(&e, "cannot write the OCI archive '%s'", path);
		goto out;
	}
	print_pulled(refs, pulled, n);
	ret = EXIT_OK;
out:
	progress_free(pr);
	ctx->env.progress = NULL;
	layout_free(dst);
	if (pulled)
		pull_result_release(pulled, n);
	free(pulled);
	for (i = 0; refs && i < n; i++)
		ref_release(&refs[i]);
	free(refs);
	return ret;
}

/* blob.c - `hoist blob REPO@DIGEST` (crane blob): streams one blob to stdout,
 * checking its digest as the bytes pass. */
#include "cmd/cmd.h"

#include "cmd/report.h"
#include "core/base/err.h"
#include "core/model/manifest.h"
#include "core/model/ref.h"
#include "registry/reg_blob.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

static int blob_sink(void *arg, const char *data, size_t len, struct err *e)
{
	(void)arg;
	if (fwrite(data, 1, len, stdout) != len)
		return err_set_errno(e, ERR_IO, errno, "cannot write to stdout");
	return 0;
}

int cmd_blob(int argc, char **argv, struct ctx *ctx)
{
	static const char *const usage[] = { "hoist blob <repository>@<digest>", NULL };
	const struct opt opts[] = { OPT_END() };
	struct opt_spec spec = CMD_SPEC(ctx, usage, opts);
	struct ref ref = REF_INIT;
	struct descriptor d;
	struct reg *r;
	struct err e = ERR_INIT;
	int ret = EXIT_FAIL, rc;

	rc = cmd_parse_options(ctx, &spec, &argc, &argv);
	if (rc != OPT_CONTINUE)
		return rc;
	if (argc != 1)
		return opt_usage_error(&spec, argc ? "too many arguments" : "no blob given");
	descriptor_init(&d);
	if (ref_parse(&ref, argv[0], REF_NO_DEFAULT_TAG, &e) < 0) {
		report_err(&e, "cannot use '%s'", argv[0]);
		ret = e.code == ERR_NOMEM ? EXIT_FAIL : EXIT_USAGE;
		goto out;
	}
	if (!ref.digest) {
		ret = opt_usage_error(&spec, "'%s' names no digest: a blob is named "
				      "<repository>@<digest>", argv[0]);
		goto out;
	}
	if (digest_parse(&d.digest, ref.digest, &e) < 0) {
		ret = report_err(&e, "cannot use '%s'", argv[0]);
		goto out;
	}
	d.size = -1;	/* unknown: the digest alone is checked at the end */
	if (env_reg(&r, &ctx->env, ref.registry, &e) < 0 ||
	    reg_blob_get(r, ref.repository, &d, blob_sink, NULL, &e) < 0) {
		ret = report_err(&e, "cannot get blob '%s'", argv[0]);
		if (e.code == ERR_DIGEST)
			report_hint("the bytes already written to stdout are not the blob: "
				    "discard them");
		goto out;
	}
	ret = EXIT_OK;
out:
	descriptor_release(&d);
	ref_release(&ref);
	return ret;
}

/* validate.c - `hoist validate IMAGE|--tarball FILE|--layout DIR [--fast]`
 * (crane validate, listing every problem instead of the first). */
#include "cmd/cmd.h"

#include "cache/layout.h"
#include "cmd/report.h"
#include "core/buf.h"
#include "core/err.h"
#include "core/export.h"
#include "core/ref.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* Validates every entry of layout `l`, appending to `problems`. */
static int validate_layout(struct strvec *problems, struct layout *l, const char *name,
			   unsigned flags)
{
	struct layout_ref *refs = NULL;
	struct err e = ERR_INIT;
	size_t n = 0, i;
	int ret = EXIT_FAIL;

	if (layout_index_list(&refs, &n, l, &e) < 0)
		return report_err(&e, "cannot read the layout '%s'", name);
	if (n == 0) {
		report_error("the layout '%s' has no images", name);
		goto out;
	}
	for (i = 0; i < n; i++) {
		if (image_validate_layout(problems, l, &refs[i].desc, flags, &e) < 0) {
			report_err(&e, "cannot validate '%s'", name);
			goto out;
		}
	}
	ret = EXIT_OK;
out:
	layout_refs_free(refs, n);
	return ret;
}

static int validate_tarball(struct strvec *problems, struct ctx *ctx, const char *path,
			    unsigned flags)
{
	struct layout *l = NULL;
	struct err e = ERR_INIT;
	int ret = EXIT_FAIL;

	if (layout_open_scratch(&l, ctx_tmp_dir(), "validate", LAYOUT_NO_SYNC, &e) < 0) {
		report_err(&e, "cannot make a scratch layout");
		goto out;
	}
	if (image_tarball_import(l, path, "latest", &e) < 0) {
		if (e.code == ERR_NOMEM || e.code == ERR_IO || e.code == ERR_NOT_FOUND) {
			report_err(&e, "cannot read the tarball '%s'", path);
			goto out;
		}
		if (strvec_pushf(problems, "%s: %s", path, e.msg) < 0) {
			report_error("out of memory");
			goto out;
		}
		ret = EXIT_OK;
		goto out;
	}
	ret = validate_layout(problems, l, path, flags);
out:
	layout_free(l);
	return ret;
}

int cmd_validate(int argc, char **argv, struct ctx *ctx)
{
	static const char *const usage[] = {
		"hoist validate [--fast] <image>",
		"hoist validate [--fast] --tarball <file>",
		"hoist validate [--fast] --layout <dir>",
		NULL,
	};
	const char *tarball = NULL, *layout = NULL;
	int fast = 0;
	const struct opt opts[] = {
		OPT_FLAG(0, "fast", &fast, "skip reading layers: presence and sizes only"),
		OPT_STRING(0, "tarball", &tarball, "<file>", "validate a docker-save tarball"),
		OPT_STRING(0, "layout", &layout, "<dir>", "validate every image of an OCI layout"),
		OPT_END(),
	};
	struct opt_spec spec = CMD_SPEC(ctx, usage, opts);
	struct strvec problems = STRVEC_INIT;
	struct ref ref = REF_INIT;
	struct layout *l = NULL;
	struct err e = ERR_INIT;
	const char *what;
	unsigned flags = 0;
	int ret = EXIT_FAIL, rc;
	size_t i;

	rc = cmd_parse_options(ctx, &spec, &argc, &argv);
	if (rc != OPT_CONTINUE)
		return rc;
	if ((tarball != NULL) + (layout != NULL) + (argc > 0) != 1)
		return opt_usage_error(&spec, "give one image, --tarball or --layout");
	if (argc > 1)
		return opt_usage_error(&spec, "too many arguments");
	if (fast)
		flags |= VALIDATE_FAST;
	what = tarball ? tarball : layout ? layout : argv[0];
	if (tarball) {
		if ((ret = validate_tarball(&problems, ctx, tarball, flags)) != EXIT_OK)
			goto out;
	} else if (layout) {
		if (layout_open(&l, layout, 0, &e) < 0) {
			ret = report_err(&e, "cannot open the layout '%s'", layout);
			goto out;
		}
		if ((ret = validate_layout(&problems, l, layout, flags)) != EXIT_OK)
			goto out;
	} else {
		if (ref_parse(&ref, argv[0], 0, &e) < 0) {
			report_err(&e, "invalid image '%s'", argv[0]);
			ret = EXIT_USAGE;
			goto out;
		}
		if (image_validate_ref(&problems, &ctx->env, &ref, flags, &e) < 0) {
			ret = report_err(&e, "cannot validate '%s'", argv[0]);
			goto out;
		}
	}
	for (i = 0; i < problems.n; i++) {
		struct buf b = BUF_INIT;

		report_sanitize_buf(&b, problems.v[i]);
		printf("FAIL: %s\n", b.data);
		buf_release(&b);
	}
	if (problems.n) {
		report_error("%zu problem(s) found in '%s'", problems.n, what);
		ret = EXIT_FAIL;
		goto out;
	}
	printf("PASS: %s\n", what);
	ret = EXIT_OK;
out:
	layout_free(l);
	ref_release(&ref);
	strvec_clear(&problems);
	return ret;
}

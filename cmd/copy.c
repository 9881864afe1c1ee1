/* copy.c - `hoist copy` (alias `cp`): registry to registry, keeping digests
 * (crane copy). */
#include "cmd/cmd.h"

#include "cmd/progress.h"
#include "cmd/report.h"
#include "core/base/buf.h"
#include "core/base/err.h"
#include "core/base/strvec.h"
#include "core/model/ref.h"
#include "core/ops/copy.h"
#include "core/ops/remote.h"

#include <stdio.h>

/* Prints "REPO[:TAG]@DIGEST" of what was pushed. */
static int copy_print(const struct ref *dst, int with_tag, const struct digest *d)
{
	struct buf b = BUF_INIT;
	int ret = EXIT_OK;

	if (ref_format_name(&b, dst) < 0 ||
	    (with_tag && dst->tag && buf_addf(&b, ":%s", dst->tag) < 0) ||
	    buf_addf(&b, "@%s\n", d->str) < 0) {
		report_error("out of memory");
		ret = EXIT_FAIL;
	} else {
		fputs(b.data, stdout);
	}
	buf_release(&b);
	return ret;
}

/* --all-tags: every tag of src's repository to the same tag in dst's. */
static int copy_all_tags(struct ctx *ctx, struct ref *src, struct ref *dst, unsigned flags)
{
	struct strvec tags = STRVEC_INIT;
	struct err e = ERR_INIT;
	struct buf sname = BUF_INIT;
	struct digest d;
	size_t i, failed = 0;
	int ret = EXIT_FAIL;

	if (ref_format_name(&sname, src) < 0) {
		report_error("out of memory");
		goto out;
	}
	if (remote_tags_list(&tags, &ctx->env, src, &e) < 0) {
		ret = report_err(&e, "cannot list the tags of '%s'", sname.data);
		goto out;
	}
	if (!tags.n)
		report_warning("'%s' has no tags", sname.data);
	for (i = 0; i < tags.n; i++) {
		src->tag = tags.v[i];
		dst->tag = tags.v[i];
		err_clear(&e);
		if (copy_image(&d, &ctx->env, src, dst, flags, &e) < 0) {
			report_err(&e, "cannot copy '%s:%s'", sname.data, tags.v[i]);
			failed++;
			continue;
		}
		if (copy_print(dst, 1, &d) != EXIT_OK)
			failed++;
	}
	src->tag = NULL;
	dst->tag = NULL;
	if (failed)
		report_error("%zu of %zu tags were not copied", failed, tags.n);
	ret = failed ? EXIT_FAIL : EXIT_OK;
out:
	strvec_clear(&tags);
	buf_release(&sname);
	return ret;
}

int cmd_copy(int argc, char **argv, struct ctx *ctx)
{
	static const char *const usage[] = {
		"hoist copy [options] <source> <destination>",
		"hoist copy [options] --all-tags <source-repository> <destination-repository>",
		NULL,
	};
	int all_tags = 0, no_clobber = 0;
	const struct opt opts[] = {
		OPT_FLAG('a', "all-tags", &all_tags, "copy every tag of the source repository"),
		OPT_FLAG('n', "no-clobber", &no_clobber,
			 "do not overwrite tags that exist at the destination"),
		OPT_END(),
	};
	struct opt_spec spec = CMD_SPEC(ctx, usage, opts);
	struct ref src = REF_INIT, dst = REF_INIT;
	struct err e = ERR_INIT;
	struct progress *pr = NULL;
	struct digest d;
	unsigned flags;
	int ret = EXIT_FAIL, rc;

	rc = cmd_parse_options(ctx, &spec, &argc, &argv);
	if (rc != OPT_CONTINUE)
		return rc;
	if (argc != 2)
		return opt_usage_error(&spec, argc < 2 ? "a source and a destination are needed" :
				       "too many arguments");
	flags = no_clobber ? COPY_NO_CLOBBER : 0;
	if (ref_parse(&src, argv[0], all_tags ? REF_NAME_ONLY : 0, &e) < 0) {
		ret = report_err(&e, all_tags ? "--all-tags needs a repository" : "bad source");
		if (all_tags)
			ret = EXIT_USAGE;
		goto out;
	}
	if (ref_parse(&dst, argv[1], all_tags ? REF_NAME_ONLY : 0, &e) < 0) {
		ret = report_err(&e, all_tags ? "--all-tags needs a repository" : "bad destination");
		if (all_tags)
			ret = EXIT_USAGE;
		goto out;
	}
	pr = progress_attach(ctx);
	if (all_tags) {
		ret = copy_all_tags(ctx, &src, &dst, flags);
		goto out;
	}
	if (copy_image(&d, &ctx->env, &src, &dst, flags, &e) < 0) {
		ret = report_err(&e, "cannot copy '%s' to '%s'", argv[0], argv[1]);
		goto out;
	}
	ret = copy_print(&dst, 0, &d);
out:
	progress_detach(ctx, pr);
	ref_release(&src);
	ref_release(&dst);
	return ret;
}

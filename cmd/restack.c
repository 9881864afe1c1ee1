/* restack.c - `hoist flatten` (crane flatten) and `hoist rebase` (crane
 * rebase).  The operations are core/ops/restack.h; this file picks where the
 * result goes. */
#include "cmd/cmd.h"

#include "cmd/progress.h"
#include "cmd/report.h"
#include "core/base/buf.h"
#include "core/base/err.h"
#include "core/ops/output.h"
#include "core/model/ref.h"
#include "core/ops/push.h"
#include "core/ops/restack.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Where a push goes: `tag` (-t) or the source; a source named by digest
 * alone (and no -t) is pushed by the new digest, as crane does. */
static int restack_target(struct ref *out, const struct ref *src, const char *tag)
{
	struct err e = ERR_INIT;

	if (tag) {
		if (ref_parse(out, tag, 0, &e) < 0) {
			report_err(&e, "-t");
			return EXIT_USAGE;
		}
		return EXIT_OK;
	}
	if (ref_copy(out, src) < 0) {
		report_error("out of memory");
		return EXIT_FAIL;
	}
	free(out->digest);
	out->digest = NULL;
	return EXIT_OK;
}

/* Flattens where `how` says: pushed to the target (by the new digest when
 * it names no tag), or into a layout or an OCI archive (named by -t, else
 * "latest"), the cache (named by -t) or a tarball. */
static int flatten_run(struct ctx *ctx, const struct ref *src, const char *tag,
		       enum output_kind how, const char *path, const struct flatten_opts *fo)
{
	struct output o;
	struct ref dst = REF_INIT;
	struct buf name = BUF_INIT;
	struct manifest m;
	struct descriptor d;
	struct err e = ERR_INIT;
	struct digest dg;
	size_t n;
	int ret;

	manifest_init(&m);
	descriptor_init(&d);
	memset(&o, 0, sizeof(o));
	if ((ret = restack_target(&dst, src, tag)) != EXIT_OK)
		goto out;
	ret = EXIT_FAIL;
	if (output_open(&o, &ctx->env, how, path, ctx_tmp_dir(), "flatten", &e) < 0 ||
	    restack_flatten(&m, &ctx->env, src, o.l, fo, &e) < 0) {
		ret = report_err(&e, "cannot flatten");
		goto out;
	}
	if (!(d.media_type = strdup(m.media_type))) {
		report_error("out of memory");
		goto out;
	}
	d.digest = m.digest;
	d.size = (int64_t)m.raw.len;
	/* a layout or an OCI archive without -t names it "latest" */
	n = tag || (how != OUTPUT_LAYOUT && how != OUTPUT_OCI_ARCHIVE);
	if (output_name(&o, &d, &dst, n, &e) < 0) {
		ret = report_err(&e, "cannot flatten");
		goto out;
	}
	if (how != OUTPUT_PUSH) {
		printf("%s\n", m.digest.str);
		ret = EXIT_OK;
		goto out;
	}
	{
		struct ref to = { dst.registry, dst.repository, dst.tag, NULL };

		if (!to.tag)
			to.digest = (char *)m.digest.str;
		if (push_root(&dg, &ctx->env, o.l, &o.root, &to, &e) < 0) {
			ret = report_err(&e, "cannot push to '%s/%s'", dst.registry,
					 dst.repository);
			goto out;
		}
	}
	if (ref_format_name(&name, &dst) < 0) {
		report_error("out of memory");
		goto out;
	}
	printf("%s@%s\n", name.data, dg.str);
	ret = EXIT_OK;
out:
	output_close(&o);
	descriptor_release(&d);
	manifest_release(&m);
	ref_release(&dst);
	buf_release(&name);
	return ret;
}

int cmd_flatten(int argc, char **argv, struct ctx *ctx)
{
	static const char *const usage[] = {
		"hoist flatten [options] <image> [-t <image>]",
		NULL,
	};
	const char *tag = NULL, *output = NULL, *compression = NULL;
	int level = 0;
	struct opt opts[] = {
		OPT_STRING('t', "tag", &tag, "<image>",
			   "push to this image (default: back to <image>)"),
		OPT_STRING('o', "output", &output, "<dest>",
			   "<file>, tarball:<file>, oci:<dir>, oci-archive:<file> or cache "
			   "instead of pushing"),
		OPT_STRING(0, "compression", &compression, "<alg>",
			   "gzip (default, level 1), zstd or none"),
		OPT_INT(0, "compression-level", &level, "<n>", 0, 19,
			"compression level (gzip 1-9, zstd 1-19)"),
		OPT_END(),
	};
	struct opt_spec spec = CMD_SPEC(ctx, usage, opts);
	struct flatten_opts fo = { TAR_COMPRESS_GZIP, 0 };
	struct ref src = REF_INIT;
	struct progress *pr = NULL;
	struct err e = ERR_INIT;
	enum output_kind how = OUTPUT_PUSH;
	const char *path = NULL;
	int ret, rc;

	rc = cmd_parse_options(ctx, &spec, &argc, &argv);
	if (rc != OPT_CONTINUE)
		return rc;
	if (argc != 1)
		return opt_usage_error(&spec, argc ? "too many arguments" : "no image given");
	if (compression && tar_compression_parse(&fo.compression, compression, &e) < 0)
		return opt_usage_error(&spec, "--compression: %s", e.msg);
	if (tar_compression_level_check(fo.compression, level, &e) < 0)
		return opt_usage_error(&spec, "--compression-level: %s", e.msg);
	fo.level = level;
	if (output && output_parse(&how, &path, output, 1, &e) < 0)
		return opt_usage_error(&spec, "--output %s", e.msg);
	if (how == OUTPUT_CACHE && !tag)
		return opt_usage_error(&spec, "--output cache needs -t <image> to name the result");
	if (ref_parse(&src, argv[0], 0, &e) < 0) {
		report_err(&e, "invalid image '%s'", argv[0]);
		return EXIT_USAGE;
	}
	pr = progress_attach(ctx);
	ret = flatten_run(ctx, &src, tag, how, path, &fo);
	progress_detach(ctx, pr);
	ref_release(&src);
	return ret;
}

int cmd_rebase(int argc, char **argv, struct ctx *ctx)
{
	static const char *const usage[] = {
		"hoist rebase [options] <image> [--old-base <image>] [--new-base <image>] "
		"[-t <image>]",
		NULL,
	};
	const char *tag = NULL, *old_base = NULL, *new_base = NULL;
	const char *old_base2 = NULL, *new_base2 = NULL;
	struct opt opts[] = {
		OPT_STRING(0, "old-base", &old_base, "<image>",
			   "the base to remove (default: from the annotations)"),
		OPT_STRING(0, "new-base", &new_base, "<image>",
			   "the base to put instead (default: from the annotations)"),
		OPT_STRING(0, "old_base", &old_base2, "<image>", "as --old-base (crane's spelling)"),
		OPT_STRING(0, "new_base", &new_base2, "<image>", "as --new-base (crane's spelling)"),
		OPT_STRING('t', "tag", &tag, "<image>",
			   "push to this image (default: back to <image>)"),
		OPT_END(),
	};
	struct opt_spec spec = CMD_SPEC(ctx, usage, opts);
	struct ref src = REF_INIT, dst = REF_INIT;
	struct buf name = BUF_INIT;
	struct progress *pr = NULL;
	struct err e = ERR_INIT;
	struct digest dg;
	int ret, rc;

	rc = cmd_parse_options(ctx, &spec, &argc, &argv);
	if (rc != OPT_CONTINUE)
		return rc;
	if (argc != 1)
		return opt_usage_error(&spec, argc ? "too many arguments" : "no image given");
	if ((old_base && old_base2) || (new_base && new_base2))
		return opt_usage_error(&spec, "--old-base/--new-base given twice");
	if (!old_base)
		old_base = old_base2;
	if (!new_base)
		new_base = new_base2;
	if (ref_parse(&src, argv[0], 0, &e) < 0) {
		report_err(&e, "invalid image '%s'", argv[0]);
		return EXIT_USAGE;
	}
	if ((ret = restack_target(&dst, &src, tag)) != EXIT_OK)
		goto out;
	pr = progress_attach(ctx);
	ret = EXIT_FAIL;
	if (restack_rebase(&dg, &ctx->env, &src, old_base, new_base, &dst, &e) < 0) {
		ret = report_err(&e, "cannot rebase '%s'", argv[0]);
		goto out;
	}
	if (ref_format_name(&name, &dst) < 0) {
		report_error("out of memory");
		goto out;
	}
	printf("%s@%s\n", name.data, dg.str);
	ret = EXIT_OK;
out:
	progress_detach(ctx, pr);
	ref_release(&src);
	ref_release(&dst);
	buf_release(&name);
	return ret;
}

/* tag.c - `hoist tag` and `hoist delete` (crane tag, crane delete): changes
 * to what a registry's tags point at, made with the registry directly. */
#include "cmd/cmd.h"

#include "cmd/report.h"
#include "core/base/buf.h"
#include "core/base/err.h"
#include "core/model/manifest.h"
#include "core/model/ref.h"
#include "registry/reg_manifest.h"

#include <stdio.h>
#include <string.h>

static int tag_ref(struct ref *out, const char *arg, unsigned flags)
{
	struct err e = ERR_INIT;

	if (ref_parse(out, arg, flags, &e) < 0) {
		report_err(&e, "cannot use '%s'", arg);
		return e.code == ERR_NOMEM ? EXIT_FAIL : EXIT_USAGE;
	}
	return EXIT_OK;
}

int cmd_tag(int argc, char **argv, struct ctx *ctx)
{
	static const char *const usage[] = { "hoist tag <image> <tag>", NULL };
	const struct opt opts[] = { OPT_END() };
	struct opt_spec spec = CMD_SPEC(ctx, usage, opts);
	struct ref ref = REF_INIT, dst = REF_INIT;
	struct buf dname = BUF_INIT;
	struct manifest m;
	struct digest got;
	struct reg *r;
	struct err e = ERR_INIT;
	const char *mt;
	int ret = EXIT_FAIL, rc;

	rc = cmd_parse_options(ctx, &spec, &argc, &argv);
	if (rc != OPT_CONTINUE)
		return rc;
	if (argc != 2)
		return opt_usage_error(&spec, argc > 2 ? "too many arguments" :
				       "give an image and a tag");
	manifest_init(&m);
	if ((ret = tag_ref(&ref, argv[0], 0)) != EXIT_OK)
		goto out;
	/* The new tag, checked by the reference grammar: NAME:TAG. */
	if (ref_format_name(&dname, &ref) < 0 || buf_addf(&dname, ":%s", argv[1]) < 0) {
		report_error("out of memory");
		ret = EXIT_FAIL;
		goto out;
	}
	if (!*argv[1] || strpbrk(argv[1], ":@/")) {
		ret = opt_usage_error(&spec, "'%s' is not a tag", argv[1]);
		goto out;
	}
	if ((ret = tag_ref(&dst, dname.data, 0)) != EXIT_OK)
		goto out;
	ret = EXIT_FAIL;
	if (env_reg(&r, &ctx->env, ref.registry, &e) < 0 ||
	    reg_manifest_get(&m, r, &ref, &e) < 0) {
		ret = report_err(&e, "cannot get the manifest of '%s'", argv[0]);
		goto out;
	}
	mt = m.media_type ? m.media_type :
	     m.kind == MT_KIND_INDEX ? MT_OCI_INDEX : MT_OCI_MANIFEST;
	if (reg_manifest_put(&got, r, ref.repository, dst.tag, mt, m.raw.data, m.raw.len,
			     &e) < 0) {
		ret = report_err(&e, "cannot tag '%s' as '%s'", argv[0], dname.data);
		goto out;
	}
	report_verbose(ctx, 1, "%s is %s", dname.data, got.str);
	ret = EXIT_OK;
out:
	manifest_release(&m);
	buf_release(&dname);
	ref_release(&dst);
	ref_release(&ref);
	return ret;
}

int cmd_delete(int argc, char **argv, struct ctx *ctx)
{
	static const char *const usage[] = { "hoist delete <image>", NULL };
	const struct opt opts[] = { OPT_END() };
	struct opt_spec spec = CMD_SPEC(ctx, usage, opts);
	struct ref ref = REF_INIT;
	struct reg *r;
	struct err e = ERR_INIT;
	int ret = EXIT_FAIL, rc;

	rc = cmd_parse_options(ctx, &spec, &argc, &argv);
	if (rc != OPT_CONTINUE)
		return rc;
	if (argc != 1)
		return opt_usage_error(&spec, argc ? "too many arguments" : "no image given");
	if ((ret = tag_ref(&ref, argv[0], REF_NO_DEFAULT_TAG)) != EXIT_OK)
		goto out;
	if (!ref.tag && !ref.digest) {
		/* crane would delete "latest"; deleting is too final for a default */
		ret = opt_usage_error(&spec, "'%s' names no tag or digest: say which to delete",
				      argv[0]);
		goto out;
	}
	if (env_reg(&r, &ctx->env, ref.registry, &e) < 0 ||
	    reg_manifest_delete(r, ref.repository, ref.digest ? ref.digest : ref.tag, &e) < 0) {
		ret = report_err(&e, "cannot delete '%s'", argv[0]);
		if (!ref.digest && e.code == ERR_UNSUPPORTED)	/* the registry deletes no tags */
			report_hint("delete the manifest by digest ('hoist digest' names it): "
				    "that removes every tag that points at it");
		goto out;
	}
	ret = EXIT_OK;
out:
	ref_release(&ref);
	return ret;
}

/* list.c - `hoist ls` and `hoist catalog` (crane ls, crane catalog): the
 * tags of a repository and the repositories of a registry, one a line,
 * straight from the registry. */
#include "cmd/cmd.h"

#include "cmd/report.h"
#include "core/base/buf.h"
#include "core/base/err.h"
#include "core/base/strvec.h"
#include "core/model/ref.h"
#include "registry/reg_list.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Writes each entry of `v` on a line, after `prefix` (may be ""), with
 * control characters from the server replaced.  `skip_digest_tags` leaves
 * out "sha256-..." tags (signatures, attestations, the referrers fallback). */
static int list_print(const struct strvec *v, const char *prefix, int skip_digest_tags)
{
	struct buf out = BUF_INIT;
	size_t i;
	int ret = EXIT_OK;

	for (i = 0; i < v->n; i++) {
		if (skip_digest_tags && !strncmp(v->v[i], "sha256-", 7))
			continue;
		buf_addstr(&out, prefix);
		report_sanitize_buf(&out, v->v[i]);
		buf_addch(&out, '\n');
		if (buf_failed(&out)) {
			report_error("out of memory");
			ret = EXIT_FAIL;
			goto out;
		}
		if (out.len >= 64u << 10) {
			fwrite(out.data, 1, out.len, stdout);
			buf_reset(&out);
		}
	}
	fwrite(out.data, 1, out.len, stdout);
out:
	buf_release(&out);
	return ret;
}

int cmd_ls(int argc, char **argv, struct ctx *ctx)
{
	static const char *const usage[] = {
		"hoist ls [--full-ref] [-O] <repository>", NULL
	};
	int full_ref = 0, omit = 0;
	const struct opt opts[] = {
		OPT_FLAG(0, "full-ref", &full_ref, "print <repository>:<tag>"),
		OPT_FLAG('O', "omit-digest-tags", &omit, "leave out tags of the form sha256-<hex>"),
		OPT_END(),
	};
	struct opt_spec spec = CMD_SPEC(ctx, usage, opts);
	struct strvec tags = STRVEC_INIT;
	struct ref ref = REF_INIT;
	struct buf prefix = BUF_INIT;
	struct reg *r;
	struct err e = ERR_INIT;
	int ret = EXIT_FAIL, rc;

	rc = cmd_parse_options(ctx, &spec, &argc, &argv);
	if (rc != OPT_CONTINUE)
		return rc;
	if (argc != 1)
		return opt_usage_error(&spec, argc ? "too many arguments" : "no repository given");
	if (ref_parse(&ref, argv[0], REF_NAME_ONLY, &e) < 0) {
		report_err(&e, "cannot use '%s'", argv[0]);
		ret = e.code == ERR_NOMEM ? EXIT_FAIL : EXIT_USAGE;
		goto out;
	}
	if (full_ref && (ref_format_name(&prefix, &ref) < 0 || buf_addch(&prefix, ':') < 0)) {
		report_error("out of memory");
		goto out;
	}
	if (env_reg(&r, &ctx->env, ref.registry, &e) < 0 ||
	    reg_list_tags(&tags, r, ref.repository, &e) < 0) {
		ret = report_err(&e, "cannot list the tags of '%s'", argv[0]);
		goto out;
	}
	ret = list_print(&tags, prefix.data, omit);
out:
	strvec_clear(&tags);
	buf_release(&prefix);
	ref_release(&ref);
	return ret;
}

int cmd_catalog(int argc, char **argv, struct ctx *ctx)
{
	static const char *const usage[] = { "hoist catalog [--full-ref] <registry>", NULL };
	int full_ref = 0;
	const struct opt opts[] = {
		OPT_FLAG(0, "full-ref", &full_ref, "print <registry>/<repository>"),
		OPT_END(),
	};
	struct opt_spec spec = CMD_SPEC(ctx, usage, opts);
	struct strvec repos = STRVEC_INIT;
	struct buf prefix = BUF_INIT;
	struct reg *r;
	struct err e = ERR_INIT;
	char *registry = NULL;
	int ret = EXIT_FAIL, rc;

	rc = cmd_parse_options(ctx, &spec, &argc, &argv);
	if (rc != OPT_CONTINUE)
		return rc;
	if (argc != 1)
		return opt_usage_error(&spec, argc ? "too many arguments" : "no registry given");
	if (ref_parse_registry(&registry, argv[0], &e) < 0) {
		report_err(&e, "cannot use '%s'", argv[0]);
		ret = e.code == ERR_NOMEM ? EXIT_FAIL : EXIT_USAGE;
		goto out;
	}
	if (full_ref && buf_addf(&prefix, "%s/", registry) < 0) {
		report_error("out of memory");
		goto out;
	}
	if (env_reg(&r, &ctx->env, registry, &e) < 0 || reg_list_catalog(&repos, r, &e) < 0) {
		ret = report_err(&e, "cannot list the repositories of '%s'", registry);
		goto out;
	}
	ret = list_print(&repos, prefix.data, 0);
out:
	strvec_clear(&repos);
	buf_release(&prefix);
	free(registry);
	return ret;
}

/* index.c - `hoist index list|filter|append` (crane index filter/append,
 * plus a listing crane lacks). */
#include "cmd/cmd.h"

#include "cache/blob.h"
#include "cache/layout.h"
#include "cmd/progress.h"
#include "cmd/report.h"
#include "core/base/buf.h"
#include "core/base/err.h"
#include "core/base/strvec.h"
#include "core/ops/index.h"
#include "core/model/ref.h"
#include "core/ops/resolve.h"
#include "core/ops/source.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* ---- index list ---- */

/* One line: digest, media type, platform ("-" when none), tab-separated. */
static void print_desc(const struct descriptor *d)
{
	struct buf b = BUF_INIT, line = BUF_INIT;

	if (d->platform)
		platform_format(&b, d->platform);
	buf_addf(&line, "%s\t%s\t%s", d->digest.str, d->media_type, b.len ? b.data : "-");
	buf_reset(&b);
	report_sanitize_buf(&b, line.data);
	if (!buf_failed(&b))
		printf("%s\n", b.data);
	buf_release(&b);
	buf_release(&line);
}

static void print_children(const struct manifest *m)
{
	size_t i;

	for (i = 0; i < m->n_manifests; i++)
		print_desc(&m->manifests[i]);
}

/* A layout or an archive (core/ops/source.h): the existing directory or file
 * `arg`, or oci:, oci-archive:, docker-archive:.  Reads the manifest of
 * its entry `NAME` or its only entry into `m`; with several and no name,
 * prints index.json's entries (index.json is itself the index): *done. */
static int index_list_local(struct manifest *m, int *done, struct source *src,
			    struct ctx *ctx)
{
	struct layout_ref *refs = NULL;
	struct buf raw = BUF_INIT;
	struct err e = ERR_INIT;
	size_t n = 0, i = 0;
	int ret = EXIT_FAIL;

	*done = 0;
	if (source_open(src, NULL, ctx_tmp_dir(), "index", SOURCE_ALL, &e) < 0 ||
	    layout_index_list(&refs, &n, src->l, &e) < 0) {
		ret = report_err(&e, "cannot read '%s'", src->path);
		goto out;
	}
	while (src->name && i < n && (!refs[i].name || strcmp(refs[i].name, src->name)))
		i++;
	if (src->name && i == n) {
		report_error("'%s' has no image named '%s'", src->path, src->name);
		goto out;
	}
	if (!src->name && n != 1) {
		for (i = 0; i < n; i++)	/* index.json is itself the index */
			print_desc(&refs[i].desc);
		*done = 1;
		ret = EXIT_OK;
		goto out;
	}
	if (blob_read(&raw, src->l, &refs[i].desc.digest, MANIFEST_MAX_DEFAULT, &e) < 0 ||
	    manifest_parse(m, raw.data, raw.len, refs[i].desc.media_type, 0, &e) < 0) {
		ret = report_err(&e, "cannot read '%s'", src->path);
		goto out;
	}
	ret = EXIT_OK;
out:
	buf_release(&raw);
	layout_refs_free(refs, n);
	return ret;
}

static int cmd_index_list(int argc, char **argv, struct ctx *ctx)
{
	static const char *const usage[] = { "hoist index list <ref>|<path>", NULL };
	const struct opt opts[] = { OPT_END() };
	struct opt_spec spec = CMD_SPEC(ctx, usage, opts);
	struct source src = SOURCE_INIT;
	struct ref ref = REF_INIT;
	struct manifest m;
	struct err e = ERR_INIT;
	struct stat st;
	int ret = EXIT_FAIL, rc, done = 0;

	rc = cmd_parse_options(ctx, &spec, &argc, &argv);
	if (rc != OPT_CONTINUE)
		return rc;
	if (argc != 1)
		return opt_usage_error(&spec, argc ? "too many arguments" : "no index given");
	manifest_init(&m);
	rc = source_parse(&src, argv[0], stat(argv[0], &st) == 0 ? SOURCE_BARE : 0,
				&e);
	if (rc < 0) {
		ret = report_err(&e, "invalid index '%s'", argv[0]);
		goto out;
	}
	if (src.how != SOURCE_NONE) {
		if ((ret = index_list_local(&m, &done, &src, ctx)) != EXIT_OK || done)
			goto out;
		ret = EXIT_FAIL;
	} else {
		if (ref_parse(&ref, argv[0], 0, &e) < 0) {
			report_err(&e, "invalid image '%s'", argv[0]);
			ret = EXIT_USAGE;
			goto out;
		}
		if (ctx_setup(ctx, CMD_SETUP_CACHE) != EXIT_OK)
			goto out;
		if (resolve_ref(&m, &ctx->env, &ref, &e) < 0) {
			ret = report_err(&e, "cannot get '%s'", argv[0]);
			goto out;
		}
	}
	if (m.kind != MT_KIND_INDEX) {
		report_error("'%s' is an image, not an index", argv[0]);
		goto out;
	}
	print_children(&m);
	ret = EXIT_OK;
out:
	manifest_release(&m);
	source_release(&src);
	ref_release(&ref);
	return ret;
}

/* ---- filter and append ---- */

/* Prints "REPO@DIGEST" of the index pushed, as crane does. */
static int index_print(const struct ref *dst, const struct digest *d)
{
	struct buf b = BUF_INIT;
	int ret = EXIT_OK;

	if (ref_format_name(&b, dst) < 0 || buf_addf(&b, "@%s\n", d->str) < 0) {
		report_error("out of memory");
		ret = EXIT_FAIL;
	} else {
		fputs(b.data, stdout);
	}
	buf_release(&b);
	return ret;
}

/* --platform values: "os/arch[/variant][:osversion]" or "os" alone, several
 * separated by commas, as crane takes them. */
static int index_platforms(struct platform **out, size_t *n_out, const struct strvec *args)
{
	struct platform *v = NULL;
	struct buf item = BUF_INIT;
	struct err e = ERR_INIT;
	size_t n = 0, cap = 0, i;
	int ret = EXIT_USAGE;

	for (i = 0; i < args->n; i++) {
		const char *p = args->v[i];

		while (*p) {
			size_t len = strcspn(p, ",");

			buf_reset(&item);
			buf_add(&item, p, len);
			p += len + (p[len] == ',');
			if (!len)
				continue;
			if (n == cap) {
				struct platform *nv;

				cap = cap ? cap * 2 : 4;
				nv = realloc(v, cap * sizeof(*v));
				if (!nv) {
					report_error("out of memory");
					ret = EXIT_FAIL;
					goto out;
				}
				v = nv;
			}
			platform_init(&v[n]);
			if (!strchr(item.data, '/') && !strchr(item.data, ':')) {
				/* the os alone: parse "os/x" for the os's checks and
				 * normalisation, then forget the arch */
				buf_addstr(&item, "/x");
				if (platform_parse(&v[n], item.data, &e) == 0) {
					free(v[n].arch);
					v[n].arch = NULL;
				}
			} else {
				platform_parse(&v[n], item.data, &e);
			}
			n++;
			if (!v[n - 1].os) {
				report_err(&e, "invalid platform in --platform '%s'", args->v[i]);
				goto out;
			}
		}
	}
	*out = v;
	*n_out = n;
	v = NULL;
	n = 0;
	ret = EXIT_OK;
out:
	for (i = 0; i < n; i++)
		platform_release(&v[i]);
	free(v);
	buf_release(&item);
	return ret;
}

static int cmd_index_filter(int argc, char **argv, struct ctx *ctx)
{
	static const char *const usage[] = {
		"hoist index filter [options] <ref> --platform <platform>...",
		NULL,
	};
	struct strvec plats = STRVEC_INIT;
	const char *tag = NULL;
	const struct opt opts[] = {
		OPT_STRING_LIST(0, "platform", &plats, "<os[/arch[/variant]]>",
				"keep the images of this platform (repeatable, or comma-separated)"),
		OPT_STRING('t', "tag", &tag, "<ref>",
			   "push the result there (default: replace <ref> in place)"),
		OPT_END(),
	};
	struct opt_spec spec = CMD_SPEC(ctx, usage, opts);
	struct ref src = REF_INIT, dst = REF_INIT;
	struct platform *want = NULL;
	size_t n_want = 0, i;
	struct progress *pr = NULL;
	struct err e = ERR_INIT;
	struct digest d;
	int ret = EXIT_FAIL, rc;

	rc = cmd_parse_options(ctx, &spec, &argc, &argv);
	if (rc != OPT_CONTINUE)
		goto out_args;
	if (argc != 1) {
		rc = opt_usage_error(&spec, argc ? "too many arguments" : "no index given");
		goto out_args;
	}
	if (!plats.n && ctx->platform_arg)
		strvec_push(&plats, ctx->platform_arg);
	if (!plats.n) {
		rc = opt_usage_error(&spec, "give at least one --platform to keep");
		goto out_args;
	}
	if ((ret = index_platforms(&want, &n_want, &plats)) != EXIT_OK)
		goto out;
	ret = EXIT_FAIL;
	if (ref_parse(&src, argv[0], 0, &e) < 0) {
		report_err(&e, "invalid image '%s'", argv[0]);
		ret = EXIT_USAGE;
		goto out;
	}
	if (ref_parse(&dst, tag ? tag : argv[0], 0, &e) < 0) {
		report_err(&e, "invalid reference '%s'", tag ? tag : argv[0]);
		ret = EXIT_USAGE;
		goto out;
	}
	pr = progress_attach(ctx);
	if (index_filter(&d, &ctx->env, &src, want, n_want, &dst, &e) < 0) {
		ret = report_err(&e, "cannot filter '%s'", argv[0]);
		goto out;
	}
	ret = index_print(&dst, &d);
out:
	progress_detach(ctx, pr);
	for (i = 0; i < n_want; i++)
		platform_release(&want[i]);
	free(want);
	ref_release(&src);
	ref_release(&dst);
	strvec_clear(&plats);
	return ret;
out_args:
	strvec_clear(&plats);
	return rc;
}

static int cmd_index_append(int argc, char **argv, struct ctx *ctx)
{
	static const char *const usage[] = {
		"hoist index append [options] [<base>] -m <manifest>... [-t <ref>]",
		NULL,
	};
	struct strvec mans = STRVEC_INIT;
	const char *tag = NULL;
	int docker_empty = 0, no_flatten = 0;
	const struct opt opts[] = {
		OPT_STRING_LIST('m', "manifest", &mans, "<ref>",
				"an image or index to append (repeatable)"),
		OPT_STRING('t', "tag", &tag, "<ref>",
			   "push the result there (default: replace <base> in place)"),
		OPT_FLAG(0, "docker-empty-base", &docker_empty,
			 "without <base>, make a Docker manifest list instead of an OCI index"),
		OPT_FLAG(0, "no-flatten", &no_flatten,
			 "append an index as one child instead of its children"),
		OPT_END(),
	};
	struct opt_spec spec = CMD_SPEC(ctx, usage, opts);
	struct ref base = REF_INIT, dst = REF_INIT;
	struct ref *adds = NULL;
	struct progress *pr = NULL;
	struct err e = ERR_INIT;
	struct digest d;
	size_t i, n_adds = 0;
	unsigned flags = 0;
	int ret = EXIT_FAIL, rc;

	rc = cmd_parse_options(ctx, &spec, &argc, &argv);
	if (rc != OPT_CONTINUE)
		goto out_args;
	if (argc > 1) {
		rc = opt_usage_error(&spec, "too many arguments");
		goto out_args;
	}
	if (!argc && !tag) {
		rc = opt_usage_error(&spec, "give a <base> or a -t <ref>");
		goto out_args;
	}
	if (argc && docker_empty) {
		rc = opt_usage_error(&spec, "--docker-empty-base is for appending without a <base>");
		goto out_args;
	}
	if (docker_empty)
		flags |= INDEX_DOCKER_EMPTY_BASE;
	if (no_flatten)
		flags |= INDEX_NO_FLATTEN;
	if (argc && ref_parse(&base, argv[0], 0, &e) < 0) {
		report_err(&e, "invalid image '%s'", argv[0]);
		ret = EXIT_USAGE;
		goto out;
	}
	if (ref_parse(&dst, tag ? tag : argv[0], 0, &e) < 0) {
		report_err(&e, "invalid reference '%s'", tag ? tag : argv[0]);
		ret = EXIT_USAGE;
		goto out;
	}
	adds = calloc(mans.n ? mans.n : 1, sizeof(*adds));
	if (!adds) {
		report_error("out of memory");
		goto out;
	}
	for (; n_adds < mans.n; n_adds++) {
		if (ref_parse(&adds[n_adds], mans.v[n_adds], 0, &e) < 0) {
			report_err(&e, "invalid image '%s'", mans.v[n_adds]);
			ret = EXIT_USAGE;
			goto out;
		}
	}
	if (!argc)
		report_verbose(ctx, 1, "no base given: starting from an empty %s",
			       docker_empty ? "Docker manifest list" : "OCI index");
	pr = progress_attach(ctx);
	if (index_append(&d, &ctx->env, argc ? &base : NULL, adds, n_adds, &dst, flags,
			       &e) < 0) {
		ret = report_err(&e, "cannot append to '%s'", argc ? argv[0] : "an empty index");
		goto out;
	}
	ret = index_print(&dst, &d);
out:
	progress_detach(ctx, pr);
	for (i = 0; i < n_adds; i++)
		ref_release(&adds[i]);
	free(adds);
	ref_release(&base);
	ref_release(&dst);
	strvec_clear(&mans);
	return ret;
out_args:
	strvec_clear(&mans);
	return rc;
}

int cmd_index(int argc, char **argv, struct ctx *ctx)
{
	static const struct cmd subs[] = {
		{ "list", cmd_index_list, 0, "list the images of an index: digest, media type, platform" },
		{ "filter", cmd_index_filter, CMD_SETUP_CACHE,
		  "push an index keeping only some platforms" },
		{ "append", cmd_index_append, CMD_SETUP_CACHE,
		  "push an index with images or indexes appended" },
		{ NULL, NULL, 0, NULL },
	};
	return cmd_group_run(ctx, "index", subs, argc, argv);
}

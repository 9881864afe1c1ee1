/* push.c - `hoist push`: an image from an OCI layout, an OCI archive, a
 * docker-save tarball or the cache, to a registry (crane push).  An archive
 * is read into a scratch layout under $TMPDIR (removed afterwards) and
 * pushed from there (core/ops/source.h). */
#include "cmd/cmd.h"

#include "cache/layout.h"
#include "cmd/progress.h"
#include "cmd/report.h"
#include "core/base/buf.h"
#include "core/base/err.h"
#include "core/model/ref.h"
#include "core/ops/push.h"
#include "core/ops/source.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct push_args {
	const char *ref_name;
	int index;
	int from_cache;
	const char *image_refs;
};

static int is_dir(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

/* Opens the layout or archive `arg` names (PATH[@NAME], FILE[:NAME],
 * oci:DIR[:NAME], oci-archive:FILE[:NAME], docker-archive:FILE[:NAME]). */
static int push_open_source(struct source *src, const char *arg, const struct push_args *a,
			    struct opt_spec *spec)
{
	struct err e = ERR_INIT;
	int rc;

	if (source_parse(src, arg, SOURCE_BARE, &e) < 0)
		return report_err(&e, "bad source");
	if (a->index && src->ref)
		return opt_usage_error(spec, "--index pushes every image: drop the name after '%s'",
				       src->path);
	if (source_open(src, a->ref_name, ctx_tmp_dir(), "push",
			      a->index ? SOURCE_ALL : 0, &e) == 0)
		return EXIT_OK;
	if (src->how == SOURCE_LAYOUT)
		return report_err(&e, "cannot open the layout '%s'", src->path);
	rc = report_err(&e, "cannot read '%s'", src->path);
	if (rc == EXIT_USAGE)
		report_hint("name one as in %s@NAME, or %s@@0 for the first; or push them all "
			    "as one index with --index", src->path, src->path);
	return rc;
}

/* crane's --image-refs: the pushed references, one a line. */
static int push_write_refs(const char *path, const char *refs)
{
	FILE *f = fopen(path, "w");
	int ok;

	if (!f) {
		report_errno(errno, "cannot write '%s'", path);
		return EXIT_FAIL;
	}
	ok = fputs(refs, f) >= 0;
	ok = !fclose(f) && ok;
	if (!ok) {
		report_errno(errno, "cannot write '%s'", path);
		return EXIT_FAIL;
	}
	return EXIT_OK;
}

int cmd_push(int argc, char **argv, struct ctx *ctx)
{
	static const char *const usage[] = {
		"hoist push [options] <path>[@<ref-name>] <image>",
		"hoist push [options] --from-cache <ref> <image>",
		NULL,
	};
	struct push_args a = { NULL, 0, 0, NULL };
	const struct opt opts[] = {
		OPT_STRING(0, "ref", &a.ref_name, "<name>",
			   "push the layout's or archive's image of this name"),
		OPT_FLAG(0, "index", &a.index, "push every image of the layout as one index"),
		OPT_FLAG(0, "from-cache", &a.from_cache,
			 "push <ref> from the cache instead of a layout"),
		OPT_STRING(0, "image-refs", &a.image_refs, "<file>",
			   "write the pushed reference to <file>"),
		OPT_END(),
	};
	struct opt_spec spec = CMD_SPEC(ctx, usage, opts);
	struct ref dst = REF_INIT, src = REF_INIT;
	struct source source = SOURCE_INIT;
	struct buf name = BUF_INIT, line = BUF_INIT;
	struct err e = ERR_INIT;
	struct layout *l = NULL;
	struct progress *pr = NULL;
	struct digest d;
	const char *ref_name = NULL;
	int ret = EXIT_FAIL, rc;

	rc = cmd_parse_options(ctx, &spec, &argc, &argv);
	if (rc != OPT_CONTINUE)
		return rc;
	if (argc != 2)
		return opt_usage_error(&spec, argc < 2 ? "a source and an image are needed" :
				       "too many arguments");
	if (a.index && a.ref_name)
		return opt_usage_error(&spec, "--index pushes every image: drop --ref");
	if (a.from_cache && (a.index || a.ref_name))
		return opt_usage_error(&spec, "--from-cache takes a reference, not --ref or --index");
	if (ref_parse(&dst, argv[1], 0, &e) < 0) {
		ret = report_err(&e, "bad destination");
		goto out;
	}

	if (a.from_cache) {
		const char *cdir = ctx_cache_dir(ctx);
		if (!cdir)
			goto out;
		if (ref_parse(&src, argv[0], 0, &e) < 0 || ref_format(&name, &src) < 0) {
			ret = report_err(&e, "bad reference");
			goto out;
		}
		ref_name = name.data;
		if (layout_open(&l, cdir, LAYOUT_CACHE, &e) < 0) {
			ret = report_err(&e, "cannot open the cache '%s'", cdir);
			goto out;
		}
	} else if ((ret = push_open_source(&source, argv[0], &a, &spec)) != EXIT_OK) {
		goto out;
	} else {
		ret = EXIT_FAIL;
		ref_name = source.name;
	}
	/* The cache's record of where blobs came from lets the push mount
	 * them; a cache that does not exist is not created for that. */
	if (!ctx->cache) {
		struct err ce = ERR_INIT;
		const char *cdir = ctx_cache_dir(ctx);
		struct layout *c = NULL;
		if (a.from_cache) {
			ctx->cache = l;
			l = NULL;
		} else if (cdir && is_dir(cdir) && layout_open(&c, cdir, LAYOUT_CACHE, &ce) == 0) {
			ctx->cache = c;
		}
		ctx->env.cache = ctx->cache;
	}
	pr = progress_attach(ctx);
	rc = push_layout(&d, &ctx->env, source.l ? source.l : l ? l : ctx->cache, ref_name,
			       &dst, a.index ? PUSH_INDEX : 0, &e);
	progress_detach(ctx, pr);
	if (rc < 0) {
		ret = report_err(&e, "cannot push to '%s'", argv[1]);
		goto out;
	}
	buf_reset(&name);
	if (ref_format_name(&name, &dst) < 0 || buf_addf(&line, "%s@%s\n", name.data, d.str) < 0) {
		report_error("out of memory");
		goto out;
	}
	fputs(line.data, stdout);
	ret = a.image_refs ? push_write_refs(a.image_refs, line.data) : EXIT_OK;
out:
	layout_free(l);
	source_release(&source);
	ref_release(&dst);
	ref_release(&src);
	buf_release(&name);
	buf_release(&line);
	return ret;
}

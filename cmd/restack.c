/* restack.c - `hoist flatten` (crane flatten) and `hoist rebase` (crane
 * rebase).  The operations are core/restack.h; this file picks where the
 * result goes. */
#include "cmd/cmd.h"

#include "cache/layout.h"
#include "cmd/progress.h"
#include "cmd/report.h"
#include "core/buf.h"
#include "core/err.h"
#include "core/ref.h"
#include "core/restack.h"
#include "core/tarball.h"

#include <errno.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

enum restack_out {
	OUT_PUSH = 0,
	OUT_CACHE,
	OUT_LAYOUT,
	OUT_TARBALL,
};

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	remove(path);
	return 0;
}

/* A scratch layout in $TMPDIR: `dir` receives its path. */
static int scratch_open(struct layout **out, struct buf *dir, const char *what)
{
	struct err e = ERR_INIT;

	*out = NULL;
	if (buf_addf(dir, "%s/hoist-%s-XXXXXX", ctx_tmp_dir(), what) < 0) {
		report_error("out of memory");
		return EXIT_FAIL;
	}
	if (!mkdtemp(dir->data)) {
		report_error("cannot make a temporary directory '%s': %s", dir->data,
			     strerror(errno));
		buf_reset(dir);
		return EXIT_FAIL;
	}
	if (layout_open(out, dir->data, LAYOUT_CREATE, &e) < 0)
		return report_err(&e, "cannot make a scratch layout in '%s'", dir->data);
	return EXIT_OK;
}

static void scratch_close(struct layout *l, struct buf *dir)
{
	layout_free(l);
	if (dir->len)
		nftw(dir->data, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	buf_release(dir);
}

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

/* Pushes the entry "out" of `l` to `dst` (by tag, else by `d`'s digest)
 * and prints REPOSITORY@DIGEST. */
static int restack_push(struct ctx *ctx, struct layout *l, const struct manifest *m,
			const struct ref *dst)
{
	struct ref to = { dst->registry, dst->repository, dst->tag, NULL };
	struct buf name = BUF_INIT;
	struct descriptor d;
	struct err e = ERR_INIT;
	struct digest dg;
	int ret = EXIT_FAIL;

	descriptor_init(&d);
	if (!(d.media_type = strdup(m->media_type))) {
		report_error("out of memory");
		goto out;
	}
	d.digest = m->digest;
	d.size = (int64_t)m->raw.len;
	if (layout_index_set(l, "out", &d, &e) < 0) {
		ret = report_err(&e, "cannot name the result");
		goto out;
	}
	if (!to.tag)
		to.digest = (char *)m->digest.str;
	if (image_push_layout(&dg, &ctx->env, l, "out", &to, 0, &e) < 0) {
		ret = report_err(&e, "cannot push to '%s/%s'", dst->registry, dst->repository);
		goto out;
	}
	if (ref_format_name(&name, dst) < 0) {
		report_error("out of memory");
		goto out;
	}
	printf("%s@%s\n", name.data, dg.str);
	ret = EXIT_OK;
out:
	descriptor_release(&d);
	buf_release(&name);
	return ret;
}

/* Flattens into `l` (under a lease) and names the result `name`. */
static int flatten_local(struct ctx *ctx, const struct ref *src, struct layout *l,
			 const char *name, const struct flatten_opts *fo, struct manifest *out)
{
	struct descriptor d;
	struct err e = ERR_INIT;
	int ret = EXIT_FAIL, leased = 0;

	descriptor_init(&d);
	if (layout_lease_begin(l, LAYOUT_LOCK_TIMEOUT_DEFAULT_MS, &e) < 0) {
		ret = report_err(&e, "cannot write to '%s'", layout_path(l));
		goto out;
	}
	leased = 1;
	if (image_flatten(out, &ctx->env, src, l, fo, &e) < 0) {
		ret = report_err(&e, "cannot flatten");
		goto out;
	}
	if (!(d.media_type = strdup(out->media_type))) {
		report_error("out of memory");
		goto out;
	}
	d.digest = out->digest;
	d.size = (int64_t)out->raw.len;
	if (layout_index_set(l, name, &d, &e) < 0) {
		ret = report_err(&e, "cannot name the image '%s'", name);
		goto out;
	}
	ret = EXIT_OK;
out:
	if (leased)
		layout_lease_end(l);
	descriptor_release(&d);
	return ret;
}

static int flatten_run(struct ctx *ctx, const struct ref *src, const char *tag,
		       enum restack_out how, const char *path, const struct flatten_opts *fo)
{
	struct ref dst = REF_INIT;
	struct layout *l = NULL;
	struct buf dir = BUF_INIT, name = BUF_INIT;
	struct manifest m;
	struct err e = ERR_INIT;
	int ret;

	manifest_init(&m);
	if ((ret = restack_target(&dst, src, tag)) != EXIT_OK)
		goto out;
	ret = EXIT_FAIL;
	if (how == OUT_PUSH) {
		if ((ret = scratch_open(&l, &dir, "flatten")) != EXIT_OK)
			goto out;
		if (image_flatten(&m, &ctx->env, src, l, fo, &e) < 0) {
			ret = report_err(&e, "cannot flatten");
			goto out;
		}
		ret = restack_push(ctx, l, &m, &dst);
		goto out;
	}
	if (how == OUT_CACHE) {
		if (ref_format(&name, &dst) < 0) {
			report_error("out of memory");
			goto out;
		}
		ret = flatten_local(ctx, src, ctx->cache, name.data, fo, &m);
	} else if (how == OUT_LAYOUT) {
		if (layout_open(&l, path, LAYOUT_CREATE, &e) < 0) {
			ret = report_err(&e, "cannot open the layout '%s'", path);
			goto out;
		}
		if (tag ? ref_format(&name, &dst) < 0 : buf_addstr(&name, "latest") < 0) {
			report_error("out of memory");
			goto out;
		}
		ret = flatten_local(ctx, src, l, name.data, fo, &m);
	} else {
		struct image_pulled img;
		if ((ret = scratch_open(&l, &dir, "flatten")) != EXIT_OK)
			goto out;
		if (image_flatten(&m, &ctx->env, src, l, fo, &e) < 0) {
			ret = report_err(&e, "cannot flatten");
			goto out;
		}
		if (m.kind != MT_KIND_MANIFEST) {
			report_error("'%s' is an index and a tarball holds images", src->repository);
			report_hint("pick one with --platform");
			ret = EXIT_USAGE;
			goto out;
		}
		memset(&img, 0, sizeof(img));
		img.desc.media_type = m.media_type;
		img.desc.digest = m.digest;
		img.desc.size = (int64_t)m.raw.len;
		if (image_tarball_write(path, l, &dst, &img, 1, &e) < 0) {
			ret = report_err(&e, "cannot write the tarball '%s'", path);
			goto out;
		}
		ret = EXIT_OK;
	}
	if (ret == EXIT_OK)
		printf("%s\n", m.digest.str);
out:
	scratch_close(dir.len ? l : NULL, &dir);
	if (how == OUT_LAYOUT)
		layout_free(l);
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
			   "<file>, tarball:<file>, oci:<dir> or cache instead of pushing"),
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
	enum restack_out how = OUT_PUSH;
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
	if (output) {
		if (!strcmp(output, "cache")) {
			how = OUT_CACHE;
		} else if (!strncmp(output, "oci:", 4) && output[4]) {
			how = OUT_LAYOUT;
			path = output + 4;
		} else if (!strncmp(output, "tarball:", 8) && output[8]) {
			how = OUT_TARBALL;
			path = output + 8;
		} else if (*output && !strchr(output, ':')) {
			how = OUT_TARBALL;
			path = output;
		} else {
			return opt_usage_error(&spec, "--output '%s': use <file>, tarball:<file>, "
					       "oci:<dir> or cache", output);
		}
	}
	if (how == OUT_CACHE && !tag)
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
	if (image_rebase(&dg, &ctx->env, &src, old_base, new_base, &dst, &e) < 0) {
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

/* append.c - `hoist append` and `hoist mutate`, as crane's: layers from tar
 * files appended to a base, config and annotations changed.  The operation
 * is core/ops/mutate.h; this file turns the options into a mutate_spec and
 * sends the result where -t/-o say. */
#include "cmd/cmd.h"

#include "cmd/progress.h"
#include "cmd/report.h"
#include "core/base/buf.h"
#include "core/base/err.h"
#include "core/base/strvec.h"
#include "core/ops/output.h"
#include "core/ops/mutate.h"
#include "core/model/ref.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Mutates where `how` says: pushed to `tag` (by the new digest when it
 * names no tag; base layers mounted, never downloaded), or into a layout
 * (named "latest"), the cache (named `tag`) or a tarball (with the base's
 * blobs). */
static int mutate_out(struct ctx *ctx, const struct mutate_spec *s, enum output_kind how,
		      const char *path, const struct ref *tag)
{
	static const struct ref anon = { (char *)"localhost", (char *)"hoist-mutate", NULL, NULL };
	struct output o;
	struct mutate_result r;
	struct descriptor d;
	struct buf name = BUF_INIT;
	struct err e = ERR_INIT;
	struct digest dg;
	const struct ref *names = tag;
	size_t n = tag ? 1 : 0;
	int ret = EXIT_FAIL;

	mutate_result_init(&r);
	descriptor_init(&d);
	if (output_open(&o, &ctx->env, how, path, ctx_tmp_dir(), "mutate", &e) < 0) {
		ret = report_err(&e, "cannot %s", ctx->cmd_name);
		goto out;
	}
	if (mutate_image(&r, &ctx->env, s, o.l, how == OUTPUT_PUSH ? 0 : MUTATE_WITH_BASE,
			 &e) < 0) {
		ret = report_err(&e, "cannot %s", ctx->cmd_name);
		goto out;
	}
	if (!(d.media_type = strdup(r.manifest.media_type))) {
		report_error("out of memory");
		goto out;
	}
	d.digest = r.manifest.digest;
	d.size = (int64_t)r.manifest.raw.len;
	if (how == OUTPUT_LAYOUT || how == OUTPUT_OCI_ARCHIVE)
		n = 0;
	if (how == OUTPUT_TARBALL && !(tag && tag->tag)) {
		names = &anon;
		n = 1;
	}
	if (output_name(&o, &d, names, n, &e) < 0) {
		ret = report_err(&e, "cannot %s", ctx->cmd_name);
		goto out;
	}
	if (how != OUTPUT_PUSH) {
		printf("%s\n", r.manifest.digest.str);
		ret = EXIT_OK;
		goto out;
	}
	{
		struct ref to = *tag;

		if (!to.tag && !to.digest)
			to.digest = d.digest.str;
		if (mutate_push(&dg, &ctx->env, &r, o.l, &o.root, &to, &e) < 0) {
			ret = report_err(&e, "cannot push to '%s/%s'", to.registry, to.repository);
			goto out;
		}
	}
	if (ref_format_name(&name, tag) < 0) {
		report_error("out of memory");
		goto out;
	}
	printf("%s@%s\n", name.data, dg.str);
	ret = EXIT_OK;
out:
	output_close(&o);
	descriptor_release(&d);
	mutate_result_release(&r);
	buf_release(&name);
	return ret;
}

/* Runs the spec: pushed to `tag` or written where `output` says. */
static int mutate_run(struct ctx *ctx, const struct opt_spec *spec, const struct mutate_spec *s,
		      const char *output, const struct ref *tag)
{
	enum output_kind how = OUTPUT_PUSH;
	const char *path = NULL;
	struct progress *pr;
	struct err e = ERR_INIT;
	int ret;

	if (output && output_parse(&how, &path, output, 1, &e) < 0)
		return opt_usage_error(spec, "-o %s", e.msg);
	pr = progress_attach(ctx);
	ret = mutate_out(ctx, s, how, path, tag);
	progress_detach(ctx, pr);
	return ret;
}

/* K=V into a kvlist (an empty V is fine); `env` checks K as a variable name. */
static int mutate_kv(struct kvlist *kv, const char *what, const char *s, int env)
{
	const char *eq = strchr(s, '=');
	char *k;
	int rc;

	if (!eq || eq == s) {
		report_error("%s '%s' is not KEY=VALUE", what, s);
		return EXIT_USAGE;
	}
	if (!(k = strndup(s, (size_t)(eq - s)))) {
		report_error("out of memory");
		return EXIT_FAIL;
	}
	if (env && strpbrk(k, " \t\n")) {
		report_error("%s '%s': the name '%s' has white space", what, s, k);
		free(k);
		return EXIT_USAGE;
	}
	rc = kvlist_set(kv, k, eq + 1);
	free(k);
	if (rc < 0) {
		report_error("out of memory");
		return EXIT_FAIL;
	}
	return EXIT_OK;
}

static int mutate_compression(struct mutate_spec *s, const struct opt_spec *spec,
			      const char *comp, int level)
{
	struct err e = ERR_INIT;

	if (comp && tar_compression_parse(&s->compression, comp, &e) < 0)
		return opt_usage_error(spec, "--compression: %s", e.msg);
	if (tar_compression_level_check(s->compression, level, &e) < 0)
		return opt_usage_error(spec, "--compression-level: %s", e.msg);
	s->level = level;
	return EXIT_OK;
}

static int mutate_layers(struct mutate_spec *s, const struct strvec *files)
{
	size_t i;

	for (i = 0; i < files->n; i++)
		if (strvec_push(&s->layers, files->v[i]) < 0) {
			report_error("out of memory");
			return EXIT_FAIL;
		}
	return EXIT_OK;
}

int cmd_append(int argc, char **argv, struct ctx *ctx)
{
	static const char *const usage[] = {
		"hoist append [options] [-b <image>] -f <layer.tar>... -t <image>",
		"hoist append [options] [-b <image>] -f <layer.tar>... -o <file>",
		NULL,
	};
	const char *base = NULL, *tag = NULL, *output = NULL, *comp = NULL;
	int level = 0, base_annot = 0, oci_empty = 0;
	struct strvec files = STRVEC_INIT;
	struct opt opts[] = {
		OPT_STRING('b', "base", &base, "<image>", "the base image (default: empty)"),
		OPT_STRING_LIST('f', "new_layer", &files, "<file>",
				"a tar file (plain, gzip or zstd) to append as a layer"),
		OPT_STRING_LIST(0, "new-layer", &files, "<file>", "the same as --new_layer"),
		OPT_STRING('t', "new_tag", &tag, "<image>", "push the result to this image"),
		OPT_STRING(0, "new-tag", &tag, "<image>", "the same as --new_tag"),
		OPT_STRING('o', "output", &output, "<file>",
			   "a docker-save tarball (or oci:<dir>, oci-archive:<file>, cache) "
			   "instead of pushing"),
		OPT_FLAG(0, "set-base-image-annotations", &base_annot,
			 "annotate the result with the base image's name and digest"),
		OPT_FLAG(0, "oci-empty-base", &oci_empty,
			 "the empty base has OCI media types, not Docker's"),
		OPT_STRING(0, "compression", &comp, "<alg>",
			   "for uncompressed tar files: gzip (default, level 1), zstd or none"),
		OPT_INT(0, "compression-level", &level, "<n>", 0, 19,
			"compression level (gzip 1-9, zstd 1-19)"),
		OPT_END(),
	};
	struct opt_spec spec = CMD_SPEC(ctx, usage, opts);
	struct mutate_spec s;
	struct ref dst = REF_INIT;
	struct err e = ERR_INIT;
	int ret = EXIT_FAIL, rc;

	mutate_spec_init(&s);
	rc = cmd_parse_options(ctx, &spec, &argc, &argv);
	if (rc != OPT_CONTINUE) {
		ret = rc;
		goto out;
	}
	if (argc > 0) {
		ret = opt_usage_error(&spec, "too many arguments");
		goto out;
	}
	if (!files.n) {
		ret = opt_usage_error(&spec, "nothing to append: give -f <layer.tar>");
		goto out;
	}
	if (!tag && !output) {
		ret = opt_usage_error(&spec, "give -t <image> to push to, or -o <file>");
		goto out;
	}
	if ((rc = mutate_compression(&s, &spec, comp, level)) != EXIT_OK ||
	    (rc = ctx_source_date_epoch(&s.created)) != EXIT_OK || (rc = mutate_layers(&s, &files)) != EXIT_OK) {
		ret = rc;
		goto out;
	}
	if (tag && ref_parse(&dst, tag, 0, &e) < 0) {
		report_err(&e, "-t");
		ret = EXIT_USAGE;
		goto out;
	}
	s.oci_empty_base = oci_empty;
	s.base_annotations = base_annot;
	if ((base && !(s.base = strdup(base))) || !(s.history_verb = strdup("hoist append"))) {
		report_error("out of memory");
		goto out;
	}
	ret = mutate_run(ctx, &spec, &s, output, tag ? &dst : NULL);
out:
	ref_release(&dst);
	mutate_spec_release(&s);
	strvec_clear(&files);
	return ret;
}

int cmd_mutate(int argc, char **argv, struct ctx *ctx)
{
	static const char *const usage[] = {
		"hoist mutate [options] <image>",
		NULL,
	};
	const char *entrypoint = NULL, *cmdline = NULL, *user = NULL, *workdir = NULL;
	const char *tag = NULL, *output = NULL, *setp = NULL, *comp = NULL;
	int level = 0;
	struct strvec envs = STRVEC_INIT, labels = STRVEC_INIT, annots = STRVEC_INIT;
	struct strvec ports = STRVEC_INIT, files = STRVEC_INIT;
	struct opt opts[] = {
		OPT_STRING(0, "entrypoint", &entrypoint, "<args>",
			   "new entrypoint: a JSON array, else comma-separated; \"\" clears"),
		OPT_STRING(0, "cmd", &cmdline, "<args>",
			   "new cmd: a JSON array, else comma-separated; \"\" clears"),
		OPT_STRING_LIST('e', "env", &envs, "<key>=<value>", "set an environment variable"),
		OPT_STRING_LIST('l', "label", &labels, "<key>=<value>", "set a config label"),
		OPT_STRING_LIST('a', "annotation", &annots, "<key>=<value>",
				"set a manifest (or index) annotation"),
		OPT_STRING('u', "user", &user, "<user>", "the user the image runs as"),
		OPT_STRING('w', "workdir", &workdir, "<dir>", "the working directory"),
		OPT_STRING_LIST(0, "exposed-ports", &ports, "<port>[/<proto>]",
				"expose ports (comma-separated; tcp when no protocol)"),
		OPT_STRING(0, "set-platform", &setp, "<os/arch[/variant]>",
			   "set the platform in the config"),
		OPT_STRING_LIST(0, "append", &files, "<file>",
				"a tar file (plain, gzip or zstd) to append as a layer"),
		OPT_STRING('t', "tag", &tag, "<image>",
			   "push to this image (default: back to <image>)"),
		OPT_STRING('o', "output", &output, "<file>",
			   "a docker-save tarball (or oci:<dir>, oci-archive:<file>, cache) "
			   "instead of pushing"),
		OPT_STRING(0, "compression", &comp, "<alg>",
			   "for uncompressed tar files: gzip (default, level 1), zstd or none"),
		OPT_INT(0, "compression-level", &level, "<n>", 0, 19,
			"compression level (gzip 1-9, zstd 1-19)"),
		OPT_END(),
	};
	struct opt_spec spec = CMD_SPEC(ctx, usage, opts);
	struct mutate_spec s;
	struct ref dst = REF_INIT;
	struct platform plat;
	struct err e = ERR_INIT;
	size_t i;
	int ret = EXIT_FAIL, rc;

	mutate_spec_init(&s);
	platform_init(&plat);
	rc = cmd_parse_options(ctx, &spec, &argc, &argv);
	if (rc != OPT_CONTINUE) {
		ret = rc;
		goto out;
	}
	if (argc != 1) {
		ret = opt_usage_error(&spec, argc ? "too many arguments" : "no image given");
		goto out;
	}
	if ((rc = mutate_compression(&s, &spec, comp, level)) != EXIT_OK ||
	    (rc = ctx_source_date_epoch(&s.created)) != EXIT_OK || (rc = mutate_layers(&s, &files)) != EXIT_OK) {
		ret = rc;
		goto out;
	}
	if (ref_parse(&dst, tag ? tag : argv[0], 0, &e) < 0) {
		report_err(&e, "%s", tag ? "-t" : "image");
		ret = EXIT_USAGE;
		goto out;
	}
	if (!tag && dst.digest) {
		/* crane: an image named by digest is pushed back by its new digest */
		free(dst.tag);
		dst.tag = NULL;
	}
	if (!tag || dst.tag) {
		free(dst.digest);
		dst.digest = NULL;
	}
	if (setp && platform_parse(&plat, setp, &e) < 0) {
		ret = opt_usage_error(&spec, "--set-platform: %s", e.msg);
		goto out;
	}
	for (i = 0; i < envs.n; i++)
		if ((rc = mutate_kv(&s.env, "--env", envs.v[i], 1)) != EXIT_OK) {
			ret = rc;
			goto out;
		}
	for (i = 0; i < labels.n; i++)
		if ((rc = mutate_kv(&s.labels, "--label", labels.v[i], 0)) != EXIT_OK) {
			ret = rc;
			goto out;
		}
	for (i = 0; i < annots.n; i++)
		if ((rc = mutate_kv(&s.annotations, "--annotation", annots.v[i], 0)) != EXIT_OK) {
			ret = rc;
			goto out;
		}
	for (i = 0; i < ports.n; i++) {
		const char *p = ports.v[i];
		while (*p) {
			size_t n = strcspn(p, ",");
			int r = 0;
			if (n)
				r = memchr(p, '/', n) ? strvec_pushf(&s.expose, "%.*s", (int)n, p) :
				    strvec_pushf(&s.expose, "%.*s/tcp", (int)n, p);
			if (r < 0) {
				report_error("out of memory");
				goto out;
			}
			p += n;
			if (*p == ',')
				p++;
		}
	}
	if (entrypoint) {
		s.set_entrypoint = 1;
		if ((rc = opt_argv_parse(&s.entrypoint, "--entrypoint", entrypoint, OPT_ARGV_COMMAS)) != EXIT_OK) {
			ret = rc;
			goto out;
		}
	}
	if (cmdline) {
		s.set_cmd = 1;
		if ((rc = opt_argv_parse(&s.cmd, "--cmd", cmdline, OPT_ARGV_COMMAS)) != EXIT_OK) {
			ret = rc;
			goto out;
		}
	}
	if (!(s.base = strdup(argv[0])) || (user && !(s.user = strdup(user))) ||
	    (workdir && !(s.workdir = strdup(workdir))) ||
	    (setp && !(s.set_platform = strdup(setp)))) {
		report_error("out of memory");
		goto out;
	}
	ret = mutate_run(ctx, &spec, &s, output, &dst);
out:
	ref_release(&dst);
	platform_release(&plat);
	mutate_spec_release(&s);
	strvec_clear(&envs);
	strvec_clear(&labels);
	strvec_clear(&annots);
	strvec_clear(&ports);
	strvec_clear(&files);
	return ret;
}

/* build.c - `hoist build`: an image from a base and local files, from flags
 * (ko, crane append/mutate) or a Containerfile without RUN (buildah build
 * without a runtime).  The operation is core/ops/build.h; this file turns the
 * options, SOURCE_DATE_EPOCH and .dockerignore into a build_spec and sends
 * the result where --output/-t say. */
#include "cmd/cmd.h"

#include "cmd/progress.h"
#include "cmd/report.h"
#include "core/base/strvec.h"
#include "core/ops/build.h"
#include "core/base/buf.h"
#include "core/format/containerfile.h"
#include "core/format/dockerignore.h"
#include "core/base/err.h"
#include "core/ops/build_spec.h"
#include "core/ops/output.h"
#include "core/model/ref.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct build_args {
	const char *base, *chmod, *chown, *entrypoint, *cmd, *workdir, *user;
	const char *stop_signal, *compression, *output, *push, *file;
	int level, no_cache;
	struct strvec adds, envs, labels, annotations, expose, volumes, tags, build_args;
	struct strvec platforms;
};

/* .dockerignore for the layer builder: paths arrive as CONTEXT/rel. */
struct build_ignore {
	struct dockerignore di;
	const char *context;
	size_t len;
};

static enum layer_exclude build_exclude(void *arg, const char *path, int is_dir)
{
	struct build_ignore *bi = arg;
	const char *rel;

	if (strncmp(path, bi->context, bi->len) || path[bi->len] != '/')
		return LAYER_INCLUDE;
	rel = path + bi->len + 1;
	while (*rel == '/')
		rel++;
	if (!*rel || !strcmp(rel, ".") || !dockerignore_match(&bi->di, rel))
		return LAYER_INCLUDE;
	return is_dir && !bi->di.has_exceptions ? LAYER_PRUNE : LAYER_EXCLUDE;
}

/* Reads a whole small file into `out`; reports failures. */
static int build_read_file(struct buf *out, const char *path, int missing_ok)
{
	FILE *f = fopen(path, "rb");
	char tmp[8192];
	size_t n;
	int ret = EXIT_FAIL;

	if (!f) {
		if (missing_ok && errno == ENOENT)
			return EXIT_OK;
		report_error("cannot open '%s': %s", path, strerror(errno));
		return EXIT_FAIL;
	}
	while ((n = fread(tmp, 1, sizeof(tmp), f)) > 0) {
		if (out->len + n > (1u << 20)) {
			report_error("'%s' is larger than 1 MiB", path);
			goto out;
		}
		buf_add(out, tmp, n);
	}
	if (ferror(f)) {
		report_error("cannot read '%s': %s", path, strerror(errno));
		goto out;
	}
	if (buf_failed(out)) {
		report_error("out of memory");
		goto out;
	}
	ret = EXIT_OK;
out:
	fclose(f);
	return ret;
}

/* K=V into a kvlist (K=V with an empty V is fine). */
static int build_kv(struct kvlist *kv, const char *what, const char *s, struct build_spec *spec)
{
	const char *eq = strchr(s, '=');
	struct err e = ERR_INIT;
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
	if (spec)
		rc = build_spec_env(spec, k, eq + 1, &e);
	else
		rc = kvlist_set(kv, k, eq + 1) < 0 ? err_set(&e, ERR_NOMEM, "out of memory") : 0;
	free(k);
	if (rc < 0)
		return report_err(&e, "%s", what);
	return EXIT_OK;
}

static const char *build_lookup(void *arg, const char *name)
{
	return kvlist_get(arg, name);
}

/* The spec's flag part: --add (${TARGETARCH} and the other predefined
 * build args `pre` expanded in it), --chmod, --chown and the config flags. */
static int build_spec_flags(struct build_spec *s, const struct build_args *a,
			    const struct kvlist *pre)
{
	struct layer_add add;
	struct err e = ERR_INIT;
	struct buf desc = BUF_INIT;
	size_t i;
	int ret = EXIT_FAIL, rc;

	memset(&add, 0, sizeof(add));
	add.flags = LAYER_ADD_UNPACK;	/* a tarball to a DST ending in '/' is unpacked */
	if (a->chmod) {
		char *end;
		long m;
		errno = 0;
		m = strtol(a->chmod, &end, 8);
		if (errno || end == a->chmod || *end || m < 0 || m > 07777) {
			report_error("--chmod '%s' is not an octal mode", a->chmod);
			return EXIT_USAGE;
		}
		add.flags |= LAYER_ADD_CHMOD;
		add.chmod = (uint32_t)m;
	}
	if (a->chown && build_spec_owner(&add, a->chown, &e) < 0) {
		report_error("%s", e.msg);	/* names the option */
		return EXIT_USAGE;
	}
	for (i = 0; i < a->adds.n; i++) {
		char *src = NULL, *dst = NULL, *spec = NULL;
		buf_reset(&desc);
		if (buf_addf(&desc, "hoist build --add %s", a->adds.v[i]) < 0 ||
		    build_spec_step(s, desc.data, 0, &e) < 0) {
			report_error("out of memory");
			goto out;
		}
		if (!strchr(a->adds.v[i], '$')) {
			if (!(spec = strdup(a->adds.v[i]))) {
				report_error("out of memory");
				goto out;
			}
		} else if (containerfile_expand_word(&spec, a->adds.v[i], '\\', build_lookup, (void *)pre,
					  &e) < 0) {
			ret = report_err(&e, "--add '%s'", a->adds.v[i]);
			if (e.code == ERR_INVALID)
				ret = EXIT_USAGE;
			goto out;
		}
		rc = layer_spec_parse(&src, &dst, spec, &e);
		free(spec);
		if (rc < 0) {
			ret = report_err(&e, "--add");
			if (e.code == ERR_INVALID)
				ret = EXIT_USAGE;
			goto out;
		}
		add.src = src;
		add.dst = dst;
		rc = build_spec_add(s, &add, &e);
		free(src);
		free(dst);
		if (rc < 0) {
			ret = report_err(&e, "--add");
			goto out;
		}
	}
	for (i = 0; i < a->envs.n; i++)
		if ((rc = build_kv(&s->env, "--env", a->envs.v[i], s)) != EXIT_OK) {
			ret = rc;
			goto out;
		}
	for (i = 0; i < a->labels.n; i++)
		if ((rc = build_kv(&s->labels, "--label", a->labels.v[i], NULL)) != EXIT_OK) {
			ret = rc;
			goto out;
		}
	for (i = 0; i < a->annotations.n; i++)
		if ((rc = build_kv(&s->annotations, "--annotation", a->annotations.v[i], NULL)) !=
		    EXIT_OK) {
			ret = rc;
			goto out;
		}
	if (a->entrypoint) {
		strvec_clear(&s->entrypoint);
		s->set_entrypoint = 1;
		if ((rc = opt_argv_parse(&s->entrypoint, "--entrypoint", a->entrypoint, OPT_ARGV_SHELL)) != EXIT_OK) {
			ret = rc;
			goto out;
		}
	}
	if (a->cmd) {
		strvec_clear(&s->cmd);
		s->set_cmd = 1;
		if ((rc = opt_argv_parse(&s->cmd, "--cmd", a->cmd, OPT_ARGV_SHELL)) != EXIT_OK) {
			ret = rc;
			goto out;
		}
	}
	for (i = 0; i < a->expose.n; i++) {
		const char *p = a->expose.v[i];
		int r = strchr(p, '/') ? strvec_push(&s->expose, p) : strvec_pushf(&s->expose, "%s/tcp", p);
		if (r < 0) {
			report_error("out of memory");
			goto out;
		}
	}
	for (i = 0; i < a->volumes.n; i++)
		if (strvec_push(&s->volumes, a->volumes.v[i]) < 0) {
			report_error("out of memory");
			goto out;
		}
	if ((a->workdir && !(free(s->workdir), s->workdir = strdup(a->workdir))) ||
	    (a->user && !(free(s->user), s->user = strdup(a->user))) ||
	    (a->stop_signal && !(free(s->stop_signal), s->stop_signal = strdup(a->stop_signal)))) {
		report_error("out of memory");
		goto out;
	}
	ret = EXIT_OK;
out:
	buf_release(&desc);
	return ret;
}

/* The predefined build args of buildx: TARGET* from the target platform,
 * BUILD* from the host. */
static int build_predefined(struct kvlist *pre, const struct platform *target,
			    const struct platform *host)
{
	struct buf tp = BUF_INIT, hp = BUF_INIT;
	int ret = -1;

	if (platform_format(&tp, target) < 0 || platform_format(&hp, host) < 0 ||
	    kvlist_set(pre, "TARGETPLATFORM", tp.data) < 0 ||
	    kvlist_set(pre, "TARGETOS", target->os) < 0 ||
	    kvlist_set(pre, "TARGETARCH", target->arch) < 0 ||
	    kvlist_set(pre, "TARGETVARIANT", target->variant ? target->variant : "") < 0 ||
	    kvlist_set(pre, "BUILDPLATFORM", hp.data) < 0 ||
	    kvlist_set(pre, "BUILDOS", host->os) < 0 ||
	    kvlist_set(pre, "BUILDARCH", host->arch) < 0 ||
	    kvlist_set(pre, "BUILDVARIANT", host->variant ? host->variant : "") < 0)
		goto out;
	ret = 0;
out:
	buf_release(&tp);
	buf_release(&hp);
	return ret;
}

/* The Containerfile part: parses FILE with --build-arg and the predefined
 * arguments `pre`. */
static int build_spec_file(struct build_spec *s, const struct build_args *a, const char *context,
			   const struct kvlist *pre, int warn)
{
	struct containerfile cf;
	struct kvlist bargs = KVLIST_INIT;
	struct cf_parse_opts po;
	struct buf text = BUF_INIT;
	struct err e = ERR_INIT;
	size_t i;
	int ret = EXIT_FAIL, rc;

	containerfile_init(&cf);
	if ((rc = build_read_file(&text, a->file, 0)) != EXIT_OK)
		goto out;
	for (i = 0; i < a->build_args.n; i++) {
		const char *arg = a->build_args.v[i];
		if (!strchr(arg, '=')) {
			/* --build-arg NAME: as docker, the value of $NAME is not read
			 * (cmd/env.c owns the environment); refuse clearly */
			report_error("--build-arg '%s' is not NAME=VALUE", arg);
			ret = EXIT_USAGE;
			goto out;
		}
		if ((rc = build_kv(&bargs, "--build-arg", arg, NULL)) != EXIT_OK) {
			ret = rc;
			goto out;
		}
	}
	memset(&po, 0, sizeof(po));
	po.build_args = &bargs;
	po.predefined = pre;
	if (containerfile_parse(&cf, text.data, text.len, &po, &e) < 0) {
		ret = report_err(&e, "%s", a->file);
		goto out;
	}
	for (i = 0; warn && i < cf.unused_build_args.n; i++)
		report_warning("--build-arg '%s' is not used by '%s'", cf.unused_build_args.v[i],
			       a->file);
	if (build_spec_from_containerfile(s, &cf, context, &e) < 0) {
		ret = report_err(&e, "%s", a->file);
		goto out;
	}
	ret = EXIT_OK;
out:
	containerfile_release(&cf);
	kvlist_release(&bargs);
	buf_release(&text);
	return ret;
}

/* Builds specs[0..ns) into `l` (one image, or one per platform and an
 * index over them) and fills `d` with what to name. */
static int build_all(struct ctx *ctx, struct build_spec *specs, size_t ns,
		     struct build_result *r, struct layout *l, unsigned flags,
		     struct descriptor *d)
{
	struct manifest idx;
	const struct manifest *m;
	struct err e = ERR_INIT;
	size_t i;
	int ret = EXIT_FAIL;

	manifest_init(&idx);
	for (i = 0; i < ns; i++)
		if (build_image(&r[i], &ctx->env, &specs[i], l, flags, &e) < 0) {
			if (ns > 1)
				ret = report_err(&e, "cannot build for %s", specs[i].platform);
			else
				ret = report_err(&e, "cannot build");
			goto out;
		}
	m = &r[0].manifest;
	if (ns > 1) {
		if (build_index(&idx, r, ns, l, &e) < 0) {
			ret = report_err(&e, "cannot write the index");
			goto out;
		}
		m = &idx;
	}
	if (!(d->media_type = strdup(m->media_type))) {
		report_error("out of memory");
		goto out;
	}
	d->digest = m->digest;
	d->size = (int64_t)m->raw.len;
	ret = EXIT_OK;
out:
	manifest_release(&idx);
	return ret;
}

static void build_results_free(struct build_result *r, size_t n)
{
	size_t i;

	for (i = 0; r && i < n; i++)
		build_result_release(&r[i]);
	free(r);
}

/* Builds where `how` says: pushed to every tag (base layers mounted or
 * streamed, never downloaded), or into a layout, the cache or a tarball
 * (with the base's blobs), named by the tags. */
static int build_run(struct ctx *ctx, struct build_spec *specs, size_t ns, enum output_kind how,
		     const char *path, const struct ref *tags, size_t n)
{
	static const struct ref anon = { (char *)"localhost", (char *)"hoist-build", NULL, NULL };
	struct output o;
	struct build_result *r;
	struct buf name = BUF_INIT;
	struct descriptor d;
	struct err e = ERR_INIT;
	struct digest dg;
	size_t i;
	int ret = EXIT_FAIL;

	descriptor_init(&d);
	memset(&o, 0, sizeof(o));
	if (!(r = calloc(ns, sizeof(*r)))) {
		report_error("out of memory");
		return EXIT_FAIL;
	}
	for (i = 0; i < ns; i++)
		build_result_init(&r[i]);
	if (output_open(&o, &ctx->env, how, path, ctx_tmp_dir(), "build", &e) < 0) {
		ret = report_err(&e, "cannot write the image");
		goto out;
	}
	if ((ret = build_all(ctx, specs, ns, r, o.l, how == OUTPUT_PUSH ? 0 : BUILD_WITH_BASE,
			     &d)) != EXIT_OK)
		goto out;
	if (output_name(&o, &d, n || how != OUTPUT_TARBALL ? tags : &anon,
			      n || how != OUTPUT_TARBALL ? n : 1, &e) < 0) {
		ret = report_err(&e, "cannot build");
		goto out;
	}
	if (how != OUTPUT_PUSH) {
		printf("%s\n", d.digest.str);
		goto out;
	}
	for (i = 0; i < n; i++) {
		if (build_push_all(&dg, &ctx->env, r, ns, o.l, &o.root, &tags[i],
					 &e) < 0) {
			ret = report_err(&e, "cannot push to '%s/%s'", tags[i].registry,
					 tags[i].repository);
			goto out;
		}
		buf_reset(&name);
		if (ref_format_name(&name, &tags[i]) < 0) {
			report_error("out of memory");
			ret = EXIT_FAIL;
			goto out;
		}
		printf("%s@%s\n", name.data, dg.str);
	}
out:
	output_close(&o);
	descriptor_release(&d);
	build_results_free(r, ns);
	buf_release(&name);
	return ret;
}

/* --platform A,B --platform C: parsed, normalised, duplicates dropped.
 * None: *n_out 0 (the global --platform or the host, one image). */
static int build_platforms(struct platform **out, size_t *n_out, const struct build_args *a)
{
	struct platform *p = NULL;
	struct buf one = BUF_INIT, f1 = BUF_INIT, f2 = BUF_INIT;
	struct err e = ERR_INIT;
	size_t n = 0, cap = 0, i, k;
	int ret = EXIT_FAIL;

	for (i = 0; i < a->platforms.n; i++) {
		const char *s = a->platforms.v[i];
		while (*s) {
			size_t len = strcspn(s, ",");
			buf_reset(&one);
			buf_add(&one, s, len);
			s += len;
			if (*s == ',')
				s++;
			if (buf_failed(&one))
				goto nomem;
			if (!one.len)
				continue;
			if (n == cap) {
				struct platform *np = realloc(p, (cap = cap ? 2 * cap : 4) * sizeof(*p));
				if (!np)
					goto nomem;
				p = np;
			}
			platform_init(&p[n]);
			if (platform_parse(&p[n], one.data, &e) < 0) {
				report_err(&e, "--platform");
				ret = EXIT_USAGE;
				goto out;
			}
			buf_reset(&f1);
			if (platform_format(&f1, &p[n]) < 0)
				goto nomem;
			for (k = 0; k < n; k++) {
				buf_reset(&f2);
				if (platform_format(&f2, &p[k]) < 0)
					goto nomem;
				if (!strcmp(f1.data, f2.data))
					break;
			}
			if (k < n)
				platform_release(&p[n]);
			else
				n++;
		}
	}
	*out = p;
	*n_out = n;
	p = NULL;
	n = 0;
	ret = EXIT_OK;
	goto out;
nomem:
	report_error("out of memory");
out:
	for (i = 0; p && i < n; i++)
		platform_release(&p[i]);
	free(p);
	buf_release(&one);
	buf_release(&f1);
	buf_release(&f2);
	return ret;
}

static void build_args_release(struct build_args *a)
{
	strvec_clear(&a->adds);
	strvec_clear(&a->envs);
	strvec_clear(&a->labels);
	strvec_clear(&a->annotations);
	strvec_clear(&a->expose);
	strvec_clear(&a->volumes);
	strvec_clear(&a->tags);
	strvec_clear(&a->build_args);
	strvec_clear(&a->platforms);
}

int cmd_build(int argc, char **argv, struct ctx *ctx)
{
	static const char *const usage[] = {
		"hoist build [options] [--base <image>] --add <src>:<dst>... -t <image>...",
		"hoist build [options] -f <containerfile> [<context>]",
		NULL,
	};
	struct build_args a;
	struct opt opts[] = {
		OPT_STRING(0, "base", &a.base, "<image>", "the base image (default: none, empty)"),
		OPT_STRING_LIST(0, "add", &a.adds, "<src>:<dst>",
				"add a file, directory or tarball as a new layer"),
		OPT_STRING(0, "chmod", &a.chmod, "<mode>", "octal mode of everything --add adds"),
		OPT_STRING(0, "chown", &a.chown, "<user>:<group>",
			   "owner of everything --add adds (names or IDs)"),
		OPT_STRING(0, "entrypoint", &a.entrypoint, "<command>",
			   "entrypoint: a JSON array, else run by /bin/sh -c"),
		OPT_STRING(0, "cmd", &a.cmd, "<command>",
			   "default arguments: a JSON array, else run by /bin/sh -c"),
		OPT_STRING_LIST(0, "env", &a.envs, "<key>=<value>", "set an environment variable"),
		OPT_STRING(0, "workdir", &a.workdir, "<dir>", "the working directory"),
		OPT_STRING(0, "user", &a.user, "<user>", "the user the image runs as"),
		OPT_STRING_LIST(0, "label", &a.labels, "<key>=<value>", "add a config label"),
		OPT_STRING_LIST(0, "annotation", &a.annotations, "<key>=<value>",
				"add a manifest annotation"),
		OPT_STRING_LIST(0, "expose", &a.expose, "<port>[/<proto>]", "expose a port"),
		OPT_STRING_LIST(0, "volume", &a.volumes, "<path>", "declare a volume"),
		OPT_STRING(0, "stop-signal", &a.stop_signal, "<signal>", "the stop signal"),
		OPT_STRING_LIST('t', "tag", &a.tags, "<image>", "push to (or name) this image"),
		OPT_STRING(0, "compression", &a.compression, "<alg>",
			   "gzip (default, level 1), zstd or none"),
		OPT_INT(0, "compression-level", &a.level, "<n>", 0, 19,
			"compression level (gzip 1-9, zstd 1-19)"),
		OPT_STRING(0, "output", &a.output, "<dest>",
			   "oci:<dir>, oci-archive:<file>, cache or tarball:<file> instead "
			   "of pushing"),
		OPT_STRING(0, "push", &a.push, "<bool>", "false: into the cache only (as ko)"),
		OPT_FLAG(0, "no-cache", &a.no_cache,
			 "build every layer, even one whose files are unchanged"),
		OPT_STRING('f', "file", &a.file, "<file>", "build from this Containerfile"),
		OPT_STRING_LIST(0, "build-arg", &a.build_args, "<name>=<value>",
				"set a Containerfile ARG"),
		OPT_STRING_LIST(0, "platform", &a.platforms, "<os/arch>[,...]",
				"build for these platforms (an index when several)"),
		OPT_END(),
	};
	struct opt_spec spec = CMD_SPEC(ctx, usage, opts);
	struct build_spec s, *specs = NULL;
	struct platform *plats = NULL;
	size_t np = 0, ns = 0;
	struct build_ignore bi;
	struct ref *tags = NULL;
	struct platform host;
	struct progress *pr = NULL;
	struct buf text = BUF_INIT;
	struct err e = ERR_INIT;
	enum output_kind how = OUTPUT_PUSH;
	const char *path = NULL, *context = ".";
	size_t i;
	int ret = EXIT_FAIL, rc, have_ignore = 0;

	memset(&a, 0, sizeof(a));
	strvec_init(&a.adds);
	strvec_init(&a.envs);
	strvec_init(&a.labels);
	strvec_init(&a.annotations);
	strvec_init(&a.expose);
	strvec_init(&a.volumes);
	strvec_init(&a.tags);
	strvec_init(&a.build_args);
	strvec_init(&a.platforms);
	build_spec_init(&s);
	platform_init(&host);
	dockerignore_init(&bi.di);

	rc = cmd_parse_options(ctx, &spec, &argc, &argv);
	if (rc != OPT_CONTINUE) {
		ret = rc;
		goto out;
	}
	if (argc > 1 || (argc == 1 && !a.file)) {
		ret = opt_usage_error(&spec, a.file ? "too many arguments" :
				      "a context directory needs -f <containerfile>");
		goto out;
	}
	if (argc == 1)
		context = argv[0];
	if (a.file && a.base) {
		ret = opt_usage_error(&spec, "--base and -f: the Containerfile's FROM names the base");
		goto out;
	}
	if (!a.file && !a.adds.n && !a.base) {
		ret = opt_usage_error(&spec, "nothing to build: give --base, --add or -f");
		goto out;
	}
	if (a.compression && tar_compression_parse(&s.compression, a.compression, &e) < 0) {
		ret = opt_usage_error(&spec, "--compression: %s", e.msg);
		goto out;
	}
	if (tar_compression_level_check(s.compression, a.level, &e) < 0) {
		ret = opt_usage_error(&spec, "--compression-level: %s", e.msg);
		goto out;
	}
	s.level = a.level;
	if (a.output && output_parse(&how, &path, a.output, 0, &e) < 0) {
		ret = opt_usage_error(&spec, "--output %s", e.msg);
		goto out;
	}
	if (a.push) {
		if (!strcmp(a.push, "false")) {
			if (!a.output)
				how = OUTPUT_CACHE;
		} else if (strcmp(a.push, "true")) {
			ret = opt_usage_error(&spec, "--push takes true or false");
			goto out;
		} else if (a.output) {
			ret = opt_usage_error(&spec, "--push=true and --output: choose one");
			goto out;
		}
	}
	if (how == OUTPUT_PUSH && !a.tags.n) {
		if (a.push) {
			ret = opt_usage_error(&spec, "nothing to push to: give -t <image>");
			goto out;
		}
		how = OUTPUT_CACHE;
	}
	if ((rc = ctx_source_date_epoch(&s.created)) != EXIT_OK) {
		ret = rc;
		goto out;
	}
	s.tmpdir = ctx_tmp_dir();
	s.no_cache = a.no_cache;
	tags = calloc(a.tags.n + 1, sizeof(*tags));
	if (!tags) {
		report_error("out of memory");
		goto out;
	}
	for (i = 0; i < a.tags.n; i++)
		if (ref_parse(&tags[i], a.tags.v[i], 0, &e) < 0) {
			report_err(&e, "-t");
			ret = EXIT_USAGE;
			goto out;
		}
	if (platform_host(&host) < 0) {
		report_error("cannot tell the host platform");
		goto out;
	}
	if ((rc = build_platforms(&plats, &np, &a)) != EXIT_OK) {
		ret = rc;
		goto out;
	}
	if (np > 1 && how == OUTPUT_TARBALL) {
		report_error("--output tarball: a docker-save tarball holds one image, not an index "
			     "of %zu platforms", np);
		report_hint("use --output oci:<dir>, or build each platform into its own tarball");
		ret = EXIT_USAGE;
		goto out;
	}
	if (a.file) {
		buf_addf(&text, "%s/.dockerignore", context);
		if (buf_failed(&text)) {
			report_error("out of memory");
			goto out;
		}
		if (access(text.data, F_OK) == 0) {
			struct buf di = BUF_INIT;
			rc = build_read_file(&di, text.data, 1);
			if (rc == EXIT_OK && dockerignore_parse(&bi.di, di.data, di.len, &e) < 0)
				rc = report_err(&e, "%s", text.data);
			buf_release(&di);
			if (rc != EXIT_OK) {
				ret = rc;
				goto out;
			}
			have_ignore = 1;
		}
		if (have_ignore) {
			bi.context = context;
			bi.len = strlen(context);
			while (bi.len > 1 && context[bi.len - 1] == '/')
				bi.len--;
			s.exclude = build_exclude;
			s.exclude_arg = &bi;
		}
	}
	ns = np ? np : 1;
	if (!(specs = calloc(ns, sizeof(*specs)))) {
		report_error("out of memory");
		goto out;
	}
	for (i = 0; i < ns; i++)
		build_spec_init(&specs[i]);
	for (i = 0; i < ns; i++) {
		const struct platform *target = np ? &plats[i] :
						ctx->platform_arg ? &ctx->platform : &host;
		struct build_spec *si = &specs[i];
		struct kvlist pre = KVLIST_INIT;
		si->created = s.created;
		si->compression = s.compression;
		si->level = s.level;
		si->tmpdir = s.tmpdir;
		si->no_cache = a.no_cache;
		si->exclude = s.exclude;
		si->exclude_arg = s.exclude_arg;
		buf_reset(&text);
		if ((np && (platform_format(&text, target) < 0 ||
			    !(si->platform = strdup(text.data)))) ||
		    (a.base && !(si->base = strdup(a.base))) ||
		    build_predefined(&pre, target, &host) < 0) {
			kvlist_release(&pre);
			report_error("out of memory");
			goto out;
		}
		rc = a.file ? build_spec_file(si, &a, context, &pre, i == 0) : EXIT_OK;
		if (rc == EXIT_OK)
			rc = build_spec_flags(si, &a, &pre);
		kvlist_release(&pre);
		if (rc != EXIT_OK) {
			ret = rc;
			goto out;
		}
	}
	pr = progress_attach(ctx);
	ret = build_run(ctx, specs, ns, how, path, tags, a.tags.n);
out:
	for (i = 0; specs && i < ns; i++)
		build_spec_release(&specs[i]);
	free(specs);
	for (i = 0; plats && i < np; i++)
		platform_release(&plats[i]);
	free(plats);
	progress_detach(ctx, pr);
	for (i = 0; tags && i < a.tags.n; i++)
		ref_release(&tags[i]);
	free(tags);
	dockerignore_release(&bi.di);
	platform_release(&host);
	build_spec_release(&s);
	build_args_release(&a);
	buf_release(&text);
	return ret;
}

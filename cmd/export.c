/* export.c - `hoist export IMAGE|- [TAR|-]` (crane export) and
 * `hoist unpack IMAGE|- DIR` (umoci unpack without the runtime bundle): the
 * flattened filesystem of an image as one tar or into a directory. */
#include "cmd/cmd.h"

#include "cache/layout.h"
#include "cmd/report.h"
#include "core/base/buf.h"
#include "core/base/err.h"
#include "core/ops/export.h"
#include "core/model/ref.h"
#include "core/ops/local.h"
#include "core/ops/source.h"
#include "core/ops/unpack.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Where the image comes from: the cache (pulled there first), or a layout
 * or an archive (stdin, "-", included) read into a scratch layout. */
struct src {
	struct layout *l;	/* borrowed: the cache or local's */
	struct source local;
	struct manifest m;
};

static void src_init(struct src *s)
{
	memset(s, 0, sizeof(*s));
	manifest_init(&s->m);
}

static void src_release(struct src *s)
{
	manifest_release(&s->m);
	source_release(&s->local);
}

/* Opens a local IMAGE (core/ops/source.h): its one image, an index resolved
 * to --platform. */
static int src_open_local(struct src *s, struct ctx *ctx, const char *image, const char *what)
{
	struct err e = ERR_INIT;
	const char *name = !strcmp(image, "-") ? "stdin" : s->local.path;

	if (source_open(&s->local, NULL, ctx_tmp_dir(), what, 0, &e) < 0) {
		if (s->local.how == SOURCE_LAYOUT)
			return report_err(&e, "cannot open the layout '%s'", name);
		return report_err(&e, "cannot read '%s'", name);
	}
	s->l = s->local.l;
	if (local_layout_manifest(&s->m, s->l, s->local.name, ctx->env.platform, &e) < 0)
		return report_err(&e, "cannot read the image of '%s'", name);
	return EXIT_OK;
}

/* Opens IMAGE: "-" reads an archive from stdin (as crane does),
 * oci:DIR[:REF], oci-archive:FILE[:REF] and docker-archive:FILE[:REF] a
 * local one; anything else is a reference made complete in the cache. */
static int src_open(struct src *s, struct ctx *ctx, const char *image, const char *what)
{
	struct ref ref = REF_INIT;
	struct err e = ERR_INIT;
	int ret = EXIT_FAIL;

	if (source_parse(&s->local, image, SOURCE_STDIN, &e) < 0)
		return report_err(&e, "invalid image '%s'", image);
	if (s->local.how != SOURCE_NONE)
		return src_open_local(s, ctx, image, what);
	if (ref_parse(&ref, image, 0, &e) < 0) {
		report_err(&e, "invalid image '%s'", image);
		ret = EXIT_USAGE;
		goto out;
	}
	s->l = ctx->cache;
	if (local_image(&s->m, &ctx->env, &ref, &e) < 0) {
		ret = report_err(&e, "cannot get '%s'", image);
		goto out;
	}
	ret = EXIT_OK;
out:
	ref_release(&ref);
	return ret;
}

struct fd_sink {
	int fd;
	const char *name;
};

static int fd_sink_write(void *arg, const void *data, size_t len, struct err *e)
{
	struct fd_sink *s = arg;
	const char *p = data;

	while (len > 0) {
		ssize_t k = write(s->fd, p, len);

		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0)
			return err_set_errno(e, ERR_IO, errno, "cannot write '%s'", s->name);
		p += k;
		len -= (size_t)k;
	}
	return 0;
}

int cmd_export(int argc, char **argv, struct ctx *ctx)
{
	static const char *const usage[] = { "hoist export <image>|- [<tar>|-]", NULL };
	const struct opt opts[] = { OPT_END() };
	struct opt_spec spec = CMD_SPEC(ctx, usage, opts);
	struct src s;
	struct fd_sink sink = { STDOUT_FILENO, "stdout" };
	struct err e = ERR_INIT;
	const char *out = "-";
	int ret = EXIT_FAIL, rc;

	rc = cmd_parse_options(ctx, &spec, &argc, &argv);
	if (rc != OPT_CONTINUE)
		return rc;
	if (argc < 1 || argc > 2)
		return opt_usage_error(&spec, argc ? "too many arguments" : "no image given");
	if (argc == 2)
		out = argv[1];
	if (!strcmp(out, "-") && isatty(STDOUT_FILENO)) {
		report_error("refusing to write a tar to a terminal");
		report_hint("redirect stdout, or name a file: hoist export %s out.tar", argv[0]);
		return EXIT_USAGE;
	}
	src_init(&s);
	if ((ret = src_open(&s, ctx, argv[0], "export")) != EXIT_OK)
		goto out;
	ret = EXIT_FAIL;
	if (strcmp(out, "-")) {
		sink.fd = open(out, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
		sink.name = out;
		if (sink.fd < 0) {
			report_errno(errno, "cannot create '%s'", out);
			goto out;
		}
	} else {
		fflush(stdout);
	}
	if (export_tar(s.l, &s.m, fd_sink_write, &sink, &e) < 0) {
		ret = report_err(&e, "cannot export '%s'", argv[0]);
		if (sink.fd != STDOUT_FILENO)
			unlink(out);
		goto out;
	}
	if (sink.fd != STDOUT_FILENO && close(sink.fd) < 0) {
		sink.fd = -1;
		report_errno(errno, "cannot write '%s'", out);
		unlink(out);
		goto out;
	}
	sink.fd = -1;
	ret = EXIT_OK;
out:
	if (sink.fd >= 0 && sink.fd != STDOUT_FILENO)
		close(sink.fd);
	src_release(&s);
	return ret;
}

/* 1 when `dir` is an empty directory, 0 when it has entries, -1 when it
 * cannot be read. */
static int dir_empty(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	int empty = 1;

	if (!d)
		return -1;
	while ((de = readdir(d)))
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
			empty = 0;
	closedir(d);
	return empty;
}

int cmd_unpack(int argc, char **argv, struct ctx *ctx)
{
	static const char *const usage[] = {
		"hoist unpack [--devices] [--no-xattrs] <image>|- <dir>", NULL
	};
	int devices = 0, no_xattrs = 0;
	const struct opt opts[] = {
		OPT_FLAG(0, "devices", &devices,
			 "create device nodes (as root only; skipped otherwise)"),
		OPT_FLAG(0, "no-xattrs", &no_xattrs,
			 "do not restore extended attributes (user.*; as root security.*, trusted.*)"),
		OPT_END(),
	};
	struct opt_spec spec = CMD_SPEC(ctx, usage, opts);
	struct src s;
	struct unpack_stats st;
	struct err e = ERR_INIT;
	unsigned flags = 0;
	int ret = EXIT_FAIL, rc, empty;

	rc = cmd_parse_options(ctx, &spec, &argc, &argv);
	if (rc != OPT_CONTINUE)
		return rc;
	if (argc != 2)
		return opt_usage_error(&spec, argc > 2 ? "too many arguments" :
				       "an image and a directory are needed");
	if (devices && geteuid() != 0)
		return opt_usage_error(&spec, "--devices needs root");
	if (geteuid() == 0)
		flags |= UNPACK_OWNERS | UNPACK_XATTRS_PRIVILEGED;
	if (no_xattrs)
		flags |= UNPACK_NO_XATTRS;
	if (devices)
		flags |= UNPACK_DEVICES;
	if (mkdir(argv[1], 0755) < 0 && errno != EEXIST) {
		report_errno(errno, "cannot create '%s'", argv[1]);
		return EXIT_FAIL;
	}
	empty = dir_empty(argv[1]);
	if (empty < 0) {
		report_errno(errno, "cannot read the directory '%s'", argv[1]);
		return EXIT_FAIL;
	}
	if (!empty) {
		report_error("'%s' is not empty", argv[1]);
		report_hint("unpack into a new or empty directory");
		return EXIT_USAGE;
	}
	src_init(&s);
	if ((ret = src_open(&s, ctx, argv[0], "unpack")) != EXIT_OK)
		goto out;
	if (unpack_image(&st, s.l, &s.m, argv[1], flags, &e) < 0) {
		ret = report_err(&e, "cannot unpack '%s'", argv[0]);
		report_hint("'%s' holds what was unpacked before the failure", argv[1]);
		goto out;
	}
	if (st.skipped_devices)
		report_warning("%lu device node(s) skipped%s", st.skipped_devices,
			       geteuid() == 0 ? " (use --devices to create them)" : "");
	if (st.skipped_xattrs)
		report_warning("%lu extended attribute(s) skipped%s", st.skipped_xattrs,
			       geteuid() == 0 ? " (other namespaces, or not supported here)" :
			       " (security.* and trusted.* need root; other namespaces, "
			       "or not supported here)");
	report_verbose(ctx, 1, "unpacked %lu entries, %lu whiteouts applied, %lu extended "
		       "attributes restored", st.entries, st.whiteouts, st.xattrs);
	ret = EXIT_OK;
out:
	src_release(&s);
	return ret;
}

/* validate.c - `hoist validate IMAGE|--tarball FILE|--layout DIR [--fast]`
 * (crane validate, listing every problem instead of the first).  IMAGE may
 * be a local source too (oci:, oci-archive:, docker-archive:; see
 * core/ops/source.h). */
#include "cmd/cmd.h"

#include "cache/layout.h"
#include "cmd/report.h"
#include "core/base/buf.h"
#include "core/base/err.h"
#include "core/base/strvec.h"
#include "core/ops/export.h"
#include "core/model/ref.h"
#include "core/ops/source.h"
#include "core/ops/validate.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* Validates entry `entry` of layout `l` (NULL: every entry), appending to
 * `problems`. */
static int validate_entries(struct validate_report *rep, struct layout *l, const char *entry,
			   const char *name, unsigned flags)
{
	struct layout_ref *refs = NULL;
	struct err e = ERR_INIT;
	size_t n = 0, i;
	int ret = EXIT_FAIL;

	if (layout_index_list(&refs, &n, l, &e) < 0)
		return report_err(&e, "cannot read the layout '%s'", name);
	for (i = 0; i < n; i++) {
		if (entry && (!refs[i].name || strcmp(refs[i].name, entry)))
			continue;
		if (validate_layout(rep, l, &refs[i].desc, flags, &e) < 0) {
			report_err(&e, "cannot validate '%s'", name);
			goto out;
		}
		if (entry)
			break;
	}
	if (n == 0 || (entry && i == n)) {
		if (entry)
			report_error("the layout '%s' has no image named '%s'", name, entry);
		else
			report_error("the layout '%s' has no images", name);
		goto out;
	}
	ret = EXIT_OK;
out:
	layout_refs_free(refs, n);
	return ret;
}

/* Validates a layout or an archive (core/ops/source.h): its image REF, or
 * every image.  An archive that cannot be read as one is a problem found,
 * unless reading failed for another reason (memory, disk, a missing file,
 * a REF it lacks). */
static int validate_source(struct validate_report *rep, struct ctx *ctx, struct source *src,
			   unsigned flags)
{
	struct err e = ERR_INIT;

	if (source_open(src, NULL, ctx_tmp_dir(), "validate", SOURCE_ALL, &e) == 0)
		return validate_entries(rep, src->l, src->name, src->path, flags);
	if (src->how == SOURCE_LAYOUT)
		return report_err(&e, "cannot open the layout '%s'", src->path);
	if (e.code == ERR_NOMEM || e.code == ERR_IO || e.code == ERR_NOT_FOUND ||
	    e.code == ERR_USAGE)
		return report_err(&e, "cannot read '%s'", src->path);
	if (strvec_pushf(&rep->problems, "%s: %s", src->path, e.msg) < 0) {
		report_error("out of memory");
		return EXIT_FAIL;
	}
	return EXIT_OK;
}

/* Prints "LABEL: line" for each line, control characters replaced. */
static void print_lines(const char *label, const struct strvec *lines)
{
	size_t i;

	for (i = 0; i < lines->n; i++) {
		struct buf b = BUF_INIT;

		report_sanitize_buf(&b, lines->v[i]);
		printf("%s: %s\n", label, b.data);
		buf_release(&b);
	}
}

/* Which source the options and operand name: --tarball FILE[:REF] (an
 * archive), --layout DIR or any source, or an operand with a transport
 * (oci:, oci-archive:, docker-archive:); else src->how is SOURCE_NONE. */
static int validate_parse(struct source *src, struct opt_spec *spec, const char *tarball,
			  const char *layout, const char *image)
{
	struct err e = ERR_INIT;
	const char *arg = tarball ? tarball : layout ? layout : image;

	if (source_parse(src, arg, image ? 0 : SOURCE_BARE, &e) < 0)
		return report_err(&e, "invalid source '%s'", arg);
	if (tarball && src->how == SOURCE_LAYOUT) {
		struct stat st;

		if (stat(src->path, &st) == 0)
			return opt_usage_error(spec, "'%s' is a directory: use --layout for a "
					       "layout", tarball);
		src->how = SOURCE_ARCHIVE;	/* opening it says it is not there */
	}
	return EXIT_OK;
}

int cmd_validate(int argc, char **argv, struct ctx *ctx)
{
	static const char *const usage[] = {
		"hoist validate [--fast] <image>",
		"hoist validate [--fast] --tarball <file>",
		"hoist validate [--fast] --layout <dir>",
		NULL,
	};
	const char *tarball = NULL, *layout = NULL;
	int fast = 0;
	const struct opt opts[] = {
		OPT_FLAG(0, "fast", &fast, "skip reading layers: presence and sizes only"),
		OPT_STRING(0, "tarball", &tarball, "<file>",
			   "validate a docker-save tarball or an OCI archive (every image)"),
		OPT_STRING(0, "layout", &layout, "<dir>",
			   "validate every image of an OCI layout (or oci-archive:<file>)"),
		OPT_END(),
	};
	struct opt_spec spec = CMD_SPEC(ctx, usage, opts);
	struct validate_report rep = VALIDATE_REPORT_INIT;
	struct source src = SOURCE_INIT;
	struct ref ref = REF_INIT;
	struct err e = ERR_INIT;
	const char *what;
	unsigned flags = 0;
	int ret = EXIT_FAIL, rc;

	rc = cmd_parse_options(ctx, &spec, &argc, &argv);
	if (rc != OPT_CONTINUE)
		return rc;
	if ((tarball != NULL) + (layout != NULL) + (argc > 0) != 1)
		return opt_usage_error(&spec, "give one image, --tarball or --layout");
	if (argc > 1)
		return opt_usage_error(&spec, "too many arguments");
	if (fast)
		flags |= VALIDATE_FAST;
	what = tarball ? tarball : layout ? layout : argv[0];
	if ((ret = validate_parse(&src, &spec, tarball, layout, argc ? argv[0] : NULL)) !=
	    EXIT_OK)
		goto out;
	if (src.how != SOURCE_NONE) {
		if ((ret = validate_source(&rep, ctx, &src, flags)) != EXIT_OK)
			goto out;
	} else {
		if (ref_parse(&ref, argv[0], 0, &e) < 0) {
			report_err(&e, "invalid image '%s'", argv[0]);
			ret = EXIT_USAGE;
			goto out;
		}
		if (validate_ref(&rep, &ctx->env, &ref, flags, &e) < 0) {
			ret = report_err(&e, "cannot validate '%s'", argv[0]);
			goto out;
		}
	}
	print_lines("FAIL", &rep.problems);
	print_lines("NOTE", &rep.notes);
	if (rep.problems.n) {
		report_error("%zu problem(s) found in '%s'", rep.problems.n, what);
		ret = EXIT_FAIL;
		goto out;
	}
	printf("PASS: %s\n", what);
	ret = EXIT_OK;
out:
	source_release(&src);
	ref_release(&ref);
	validate_report_release(&rep);
	return ret;
}

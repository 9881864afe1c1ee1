/* output.c - where an image that an operation makes goes, and its name. */
#include "core/ops/output.h"

#include "cache/layout.h"
#include "core/base/buf.h"
#include "core/base/err.h"
#include "core/ops/env.h"
#include "core/model/manifest.h"
#include "core/model/ref.h"
#include "core/ops/pull.h"
#include "core/ops/tarball.h"

#include <stdlib.h>
#include <string.h>

int output_parse(enum output_kind *how, const char **path, const char *spec, int bare_file,
		       struct err *e)
{
	*path = NULL;
	if (!strcmp(spec, "cache")) {
		*how = OUTPUT_CACHE;
		return 0;
	}
	if (!strncmp(spec, "oci:", 4) && spec[4]) {
		*how = OUTPUT_LAYOUT;
		*path = spec + 4;
		return 0;
	}
	if (!strncmp(spec, "oci-archive:", 12) && spec[12]) {
		*how = OUTPUT_OCI_ARCHIVE;
		*path = spec + 12;
		return 0;
	}
	if (!strncmp(spec, "tarball:", 8) && spec[8]) {
		*how = OUTPUT_TARBALL;
		*path = spec + 8;
		return 0;
	}
	if (bare_file && *spec && !strchr(spec, ':')) {
		*how = OUTPUT_TARBALL;
		*path = spec;
		return 0;
	}
	return err_set(e, ERR_USAGE, "'%s': use %soci:<dir>, oci-archive:<file>, cache or "
		       "tarball:<file>", spec, bare_file ? "<file>, " : "");
}

int output_open(struct output *o, struct env *env, enum output_kind how,
		      const char *path, const char *tmp_dir, const char *what, struct err *e)
{
	int ret;

	memset(o, 0, sizeof(*o));
	descriptor_init(&o->root);
	o->how = how;
	o->path = path;
	if (how == OUTPUT_PUSH && !env->cache)
		ret = layout_open_scratch(&o->own, tmp_dir, what, LAYOUT_NO_SYNC, e);
	else if (how == OUTPUT_LAYOUT)
		ret = layout_open(&o->own, path, LAYOUT_CREATE, e);
	else if (!env->cache)
		ret = err_set(e, ERR_USAGE, "no cache to write to: give --cache <dir>");
	else
		ret = 0;
	if (ret < 0)
		return ret;
	o->l = o->own ? o->own : env->cache;
	/* one lease from the first blob to the last name (output.h) */
	if ((ret = layout_lease_begin(o->l, LAYOUT_LOCK_TIMEOUT_DEFAULT_MS, e)) < 0)
		return ret;
	o->leased = 1;
	return 0;
}

static int name_one(struct output *o, const struct descriptor *d, const struct ref *tag,
		    struct err *e)
{
	struct buf name = BUF_INIT;
	int ret;

	if (tag)
		ret = ref_format(&name, tag);
	else
		ret = buf_addstr(&name, "latest");
	if (ret < 0)
		ret = err_set(e, ERR_NOMEM, "out of memory");
	else if ((ret = layout_index_set(o->l, name.data, d, e)) < 0)
		err_prefix(e, "cannot name the image '%s'", name.data);
	buf_release(&name);
	return ret;
}

/* Writes the OCI archive holding `d` under each tag, or as "latest". */
static int name_archive(struct output *o, const struct descriptor *d,
			const struct ref *tags, size_t n, struct err *e)
{
	struct pull_result *imgs = calloc(n ? n : 1, sizeof(*imgs));
	struct buf name = BUF_INIT;
	size_t i;
	int ret = 0;

	for (i = 0; imgs && i < (n ? n : 1); i++) {
		buf_reset(&name);
		if ((n ? ref_format(&name, &tags[i]) : buf_addstr(&name, "latest")) < 0 ||
		    !(imgs[i].name = buf_detach(&name, NULL)))
			break;
		imgs[i].desc = *d;	/* borrowed */
	}
	if (!imgs || i < (n ? n : 1))
		ret = err_set(e, ERR_NOMEM, "out of memory");
	else if ((ret = tarball_write_oci(o->path, o->l, imgs, n ? n : 1, e)) < 0)
		err_prefix(e, "cannot write the OCI archive '%s'", o->path);
	for (i = 0; imgs && i < (n ? n : 1); i++)
		free(imgs[i].name);
	free(imgs);
	buf_release(&name);
	return ret;
}

int output_name(struct output *o, const struct descriptor *d, const struct ref *tags,
		      size_t n, struct err *e)
{
	size_t i;
	int ret;

	if (o->how == OUTPUT_TARBALL) {
		struct pull_result img;

		if (mediatype_classify(d->media_type) != MT_KIND_MANIFEST)
			return err_set(e, ERR_USAGE, "a tarball holds images, and the result is an "
				       "index: pick one image with --platform <os/arch>");
		if (!n)
			return err_set(e, ERR_USAGE, "a tarball needs a reference to record");
		memset(&img, 0, sizeof(img));
		img.desc = *d;
		ret = tarball_write(o->path, o->l, &tags[0], &img, 1, e);
		return ret < 0 ? err_prefix(e, "cannot write the tarball '%s'", o->path) : 0;
	}
	if (o->how == OUTPUT_PUSH) {
		descriptor_release(&o->root);
		if (descriptor_copy(&o->root, d) < 0)
			return err_set(e, ERR_NOMEM, "out of memory");
		return 0;
	}
	if (o->how == OUTPUT_OCI_ARCHIVE)
		return name_archive(o, d, tags, n, e);
	if (o->how == OUTPUT_LAYOUT && !n)
		return name_one(o, d, NULL, e);
	for (i = 0; i < n; i++)
		if ((ret = name_one(o, d, &tags[i], e)) < 0)
			return ret;
	return 0;
}

void output_close(struct output *o)
{
	if (o->leased)
		layout_lease_end(o->l);
	o->leased = 0;
	layout_free(o->own);
	o->own = NULL;
	o->l = NULL;
	if (o->how == OUTPUT_PUSH)
		descriptor_release(&o->root);
}

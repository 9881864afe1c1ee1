/* export.c - the flattened filesystem of an image as a tar stream.  See
 * export.h for the rules. */
#include "core/ops/export.h"

#include "cache/blob.h"
#include "cache/layout.h"
#include "core/base/buf.h"
#include "core/base/err.h"
#include "core/format/tar.h"
#include "core/model/manifest.h"
#include "core/ops/rootfs.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* 1 when the entry `p` of layer `cur` is hidden by what higher layers (or
 * earlier entries) gave. */
static int export_hidden(struct rootfs_paths *s, const char *p, int cur, int is_dir)
{
	size_t len = strlen(p), i;
	struct rootfs_path *en = rootfs_paths_find(s, "", 0);

	if (en && en->opq_layer > cur)
		return 1;	/* an opaque root */
	for (i = 0; i <= len; i++) {
		if (i < len && p[i] != '/')
			continue;
		en = rootfs_paths_find(s, p, i);
		if (!en)
			continue;
		if (en->wh_layer > cur)
			return 1;
		if (i == len)
			return en->kind == ROOTFS_DIR || en->kind == ROOTFS_NONDIR ||
			       (en->kind == ROOTFS_IMPLIED && !is_dir);
		if (en->opq_layer > cur || en->kind == ROOTFS_NONDIR)
			return 1;
	}
	return 0;
}

static int export_mark(struct rootfs_paths *s, const char *p, int is_dir)
{
	size_t len = strlen(p), i;
	struct rootfs_path *en;

	for (i = 0; i < len; i++) {
		if (p[i] != '/')
			continue;
		if (!(en = rootfs_paths_get(s, p, i)))
			return ERR_NOMEM;
		if (en->kind == ROOTFS_NONE)
			en->kind = ROOTFS_IMPLIED;
	}
	if (!(en = rootfs_paths_get(s, p, len)))
		return ERR_NOMEM;
	en->kind = is_dir ? ROOTFS_DIR : ROOTFS_NONDIR;
	return 0;
}

/* The names of one entry as export_layer_sel() writes it. */
struct export_names {
	struct buf path, link;		/* cleaned name and hard-link target */
	struct buf sname, slink;	/* the same as `sel` renames them */
};

/* Records the whiteout `bn`, the base name of the cleaned path in `path`
 * (the tar name `name`), of layer `cur`: an opaque directory, or a path
 * hidden in lower layers (`path` becomes it). */
static int export_whiteout(struct rootfs_paths *s, struct buf *path, const char *bn, int cur,
			   const char *name, struct err *e)
{
	size_t dlen = (size_t)(bn - path->data);
	struct rootfs_path *en;

	dlen = dlen ? dlen - 1 : 0;
	if (!rootfs_whiteout_ok(bn))
		return err_set(e, ERR_INVALID, "bad whiteout '%s'", name);
	if (!strcmp(bn, ROOTFS_WH_OPAQUE)) {
		en = rootfs_paths_get(s, path->data, dlen);
		if (en && (en->opq_layer < 0 || en->opq_layer < cur))
			en->opq_layer = cur;
	} else {
		buf_setlen(path, dlen);
		if (dlen)
			buf_addch(path, '/');
		buf_addstr(path, bn + strlen(ROOTFS_WH_PREFIX));
		if (buf_failed(path) || !path->len)
			return err_set(e, ERR_INVALID, "bad whiteout '%s'", name);
		en = rootfs_paths_get(s, path->data, path->len);
		if (en && en->wh_layer < cur)
			en->wh_layer = cur;
	}
	if (!en)
		return err_set(e, ERR_NOMEM, "out of memory");
	return 0;
}

/* Sets `oh` to entry `h` as written: its cleaned name (nm->path) and a
 * hard link's cleaned target, both renamed by `sel` when there is one.
 * 1 to write it, 0 to leave it out. */
static int export_entry_names(struct tar_header *oh, struct export_names *nm,
			      const struct tar_header *h, export_select_fn *sel, void *sel_arg,
			      struct err *e)
{
	int ret;

	*oh = *h;
	oh->path = nm->path.data;	/* xattrs (security.capability...) are kept */
	if (h->type == TAR_HARDLINK) {
		if ((ret = rootfs_path_clean(&nm->link, h->link, e)) < 0) {
			err_prefix(e, "hard link '%s'", nm->path.data);
			return ret;
		}
		if (!nm->link.len)
			return err_set(e, ERR_INVALID, "hard link '%s' to the root", nm->path.data);
		oh->link = nm->link.data;
	}
	if (h->type == TAR_OTHER)
		return 0;
	if (!sel)
		return 1;
	/* COPY --from: only the chosen entries, renamed */
	buf_reset(&nm->sname);
	if ((ret = sel(sel_arg, &nm->sname, nm->path.data, h->type == TAR_DIR, e)) <= 0)
		return ret;
	oh->path = nm->sname.data;
	if (h->type == TAR_HARDLINK) {
		buf_reset(&nm->slink);
		if ((ret = sel(sel_arg, &nm->slink, nm->link.data, 0, e)) < 0)
			return ret;
		if (ret == 0)
			return err_set(e, ERR_UNSUPPORTED, "hard link '%s' to '%s', which is not "
				       "copied", nm->path.data, nm->link.data);
		oh->link = nm->slink.data;
	}
	return 1;
}

/* Copies the data of the current entry of `r` to `w`. */
static int export_data(struct tar_reader *r, struct tar_writer *w, struct err *e)
{
	char data[65536];
	ssize_t n;
	int ret;

	while ((n = tar_reader_read(r, data, sizeof(data), e)) > 0)
		if ((ret = tar_writer_data(w, data, (size_t)n, e)) < 0)
			return ret;
	return n < 0 ? (int)n : 0;
}

static int export_layer_sel(struct rootfs_paths *s, struct tar_writer *w, struct layout *l,
			    const struct descriptor *d, int cur, export_select_fn *sel,
			    void *sel_arg, struct err *e)
{
	struct tar_reader *r = NULL;
	struct tar_header h, oh;
	struct export_names nm = { BUF_INIT, BUF_INIT, BUF_INIT, BUF_INIT };
	int fd = -1, ret, rc;

	if ((ret = rootfs_layer_open(&r, &fd, l, d, e)) < 0)
		goto out;
	while ((rc = tar_reader_next(r, &h, e)) == 1) {
		const char *bn;
		int is_dir = h.type == TAR_DIR;

		if ((ret = rootfs_path_clean(&nm.path, h.path, e)) < 0)
			goto out;
		if (!nm.path.len)
			continue;	/* the root itself */
		bn = rootfs_base_name(nm.path.data);
		if (!strncmp(bn, ROOTFS_WH_PREFIX, strlen(ROOTFS_WH_PREFIX))) {
			if ((ret = export_whiteout(s, &nm.path, bn, cur, h.path, e)) < 0)
				goto out;
			continue;
		}
		if (export_hidden(s, nm.path.data, cur, is_dir))
			continue;
		if ((ret = export_mark(s, nm.path.data, is_dir)) < 0) {
			err_set(e, ret, "out of memory");
			goto out;
		}
		if ((ret = export_entry_names(&oh, &nm, &h, sel, sel_arg, e)) < 0)
			goto out;
		if (ret == 0)
			continue;
		if ((ret = tar_writer_begin(w, &oh, e)) < 0)
			goto out;
		if (h.type == TAR_FILE && (ret = export_data(r, w, e)) < 0)
			goto out;
	}
	if (rc < 0) {
		ret = rc;
		goto out;
	}
	ret = rootfs_layer_finish(r, d, e);
out:
	tar_reader_free(r);
	if (fd >= 0)
		close(fd);
	buf_release(&nm.path);
	buf_release(&nm.link);
	buf_release(&nm.sname);
	buf_release(&nm.slink);
	return ret;
}

static int export_layer(struct rootfs_paths *s, struct tar_writer *w, struct layout *l,
			const struct descriptor *d, int cur, struct err *e)
{
	return export_layer_sel(s, w, l, d, cur, NULL, NULL, e);
}

int export_select(struct layout *l, const struct manifest *m, export_select_fn *sel,
			void *sel_arg, tar_sink_fn *sink, void *arg, struct err *e)
{
	struct rootfs_paths s = { NULL, 0, 0 };
	struct tar_writer *w = NULL;
	struct tar_writer_opts o;
	struct tar_result res;
	size_t i;
	int ret;

	if ((ret = rootfs_image_check(m, e)) < 0)
		return ret;
	memset(&o, 0, sizeof(o));
	o.compression = TAR_COMPRESS_NONE;
	o.sink = sink;
	o.sink_arg = arg;
	if ((ret = tar_writer_new(&w, &o, e)) < 0)
		goto out;
	for (i = m->n_layers; i-- > 0;) {
		ret = export_layer_sel(&s, w, l, &m->layers[i], (int)i, sel, sel_arg, e);
		if (ret < 0) {
			err_prefix(e, "layer %zu (%s)", i, m->layers[i].digest.str);
			goto out;
		}
	}
	ret = tar_writer_finish(w, &res, e);
out:
	tar_writer_free(w);
	rootfs_paths_release(&s);
	return ret;
}

int export_to(struct tar_result *out, struct layout *l, const struct manifest *m,
		    const struct tar_writer_opts *o, struct err *e)
{
	struct rootfs_paths s = { NULL, 0, 0 };
	struct tar_writer *w = NULL;
	struct tar_result res;
	size_t i;
	int ret;

	if ((ret = rootfs_image_check(m, e)) < 0)
		return ret;
	if ((ret = tar_writer_new(&w, o, e)) < 0)
		goto out;
	for (i = m->n_layers; i-- > 0;) {
		if ((ret = export_layer(&s, w, l, &m->layers[i], (int)i, e)) < 0) {
			err_prefix(e, "layer %zu (%s)", i, m->layers[i].digest.str);
			goto out;
		}
	}
	ret = tar_writer_finish(w, out ? out : &res, e);
out:
	tar_writer_free(w);
	rootfs_paths_release(&s);
	return ret;
}

int export_tar(struct layout *l, const struct manifest *m, tar_sink_fn *sink, void *arg,
		 struct err *e)
{
	struct tar_writer_opts o;

	memset(&o, 0, sizeof(o));
	o.compression = TAR_COMPRESS_NONE;
	o.sink = sink;
	o.sink_arg = arg;
	return export_to(NULL, l, m, &o, e);
}

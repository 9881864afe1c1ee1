/* export.c - the flattened filesystem of an image as a tar stream or a
 * directory.  See export.h for the rules. */
#include "core/ops/export.h"

#include "cache/layout.h"
#include "core/base/err.h"
#include "core/model/ref.h"
#include "core/ops/local.h"
#include "core/ops/pull.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <unistd.h>

/* ---- a hash set of paths ---------------------------------------------- */

enum pkind {
	PK_NONE = 0,
	PK_DIR,		/* a directory entry was given */
	PK_IMPLIED,	/* a directory implied by a path below it */
	PK_NONDIR,	/* a file, symlink, link, device */
};

struct pent {
	char *path;
	enum pkind kind;
	int wh_layer;	/* whited out by this layer (-1: not) */
	int opq_layer;	/* made opaque by this layer (-1: not) */
	int layer;	/* unpack: the layer that last wrote it */
	uint32_t mode;
	int64_t mtime;
};

struct pset {
	struct pent *tab;
	size_t cap, n;
};

static uint64_t pset_hash(const char *s, size_t len)
{
	uint64_t h = 1469598103934665603ull;	/* FNV-1a */
	size_t i;

	for (i = 0; i < len; i++) {
		h ^= (unsigned char)s[i];
		h *= 1099511628211ull;
	}
	return h;
}

static void pset_release(struct pset *s)
{
	size_t i;

	for (i = 0; i < s->cap; i++)
		free(s->tab[i].path);
	free(s->tab);
	s->tab = NULL;
	s->cap = s->n = 0;
}

static struct pent *pset_find(struct pset *s, const char *p, size_t len)
{
	size_t i;

	if (!s->cap)
		return NULL;
	i = pset_hash(p, len) & (s->cap - 1);
	while (s->tab[i].path) {
		if (strlen(s->tab[i].path) == len && !memcmp(s->tab[i].path, p, len))
			return &s->tab[i];
		i = (i + 1) & (s->cap - 1);
	}
	return NULL;
}

static int pset_grow(struct pset *s)
{
	size_t ncap = s->cap ? s->cap * 2 : 1024, i, j;
	struct pent *nt = calloc(ncap, sizeof(*nt));

	if (!nt)
		return ERR_NOMEM;
	for (i = 0; i < s->cap; i++) {
		if (!s->tab[i].path)
			continue;
		j = pset_hash(s->tab[i].path, strlen(s->tab[i].path)) & (ncap - 1);
		while (nt[j].path)
			j = (j + 1) & (ncap - 1);
		nt[j] = s->tab[i];
	}
	free(s->tab);
	s->tab = nt;
	s->cap = ncap;
	return 0;
}

/* The entry for p[0..len), added when missing; NULL when out of memory. */
static struct pent *pset_get(struct pset *s, const char *p, size_t len)
{
	struct pent *en = pset_find(s, p, len);
	size_t i;

	if (en)
		return en;
	if ((s->n + 1) * 2 > s->cap && pset_grow(s) < 0)
		return NULL;
	i = pset_hash(p, len) & (s->cap - 1);
	while (s->tab[i].path)
		i = (i + 1) & (s->cap - 1);
	s->tab[i].path = strndup(p, len);
	if (!s->tab[i].path)
		return NULL;
	s->tab[i].kind = PK_NONE;
	s->tab[i].wh_layer = s->tab[i].opq_layer = s->tab[i].layer = -1;
	s->n++;
	return &s->tab[i];
}

/* ---- names -------------------------------------------------------------- */

/* Cleans a tar name into `out`: components split on '/', "" and "." dropped,
 * ".." removing the one before.  "" for the root itself.  ERR_INVALID when
 * ".." climbs out of the root. */
static int path_clean(struct buf *out, const char *in, struct err *e)
{
	const char *p = in;

	buf_reset(out);
	while (*p) {
		const char *q = strchr(p, '/');
		size_t len = q ? (size_t)(q - p) : strlen(p);

		if (len == 0 || (len == 1 && p[0] == '.')) {
			/* nothing */
		} else if (len == 2 && p[0] == '.' && p[1] == '.') {
			char *slash;

			if (!out->len)
				return err_set(e, ERR_INVALID, "'%s' climbs out of the root", in);
			slash = strrchr(out->data, '/');
			buf_setlen(out, slash ? (size_t)(slash - out->data) : 0);
		} else {
			if (out->len)
				buf_addch(out, '/');
			buf_add(out, p, len);
		}
		p += len;
		if (*p == '/')
			p++;
	}
	if (buf_failed(out))
		return err_set(e, ERR_NOMEM, "out of memory");
	return 0;
}

static const char *base_name(const char *p)
{
	const char *s = strrchr(p, '/');

	return s ? s + 1 : p;
}

#define WH_PREFIX ".wh."
#define WH_OPAQUE ".wh..wh..opq"

/* 1 when the whiteout `bn` (a base name starting with ".wh.") names
 * something: not "", "." or ".." (".wh..." would remove the parent). */
static int whiteout_ok(const char *bn)
{
	const char *name = bn + strlen(WH_PREFIX);

	return !strcmp(bn, WH_OPAQUE) ||
	       (*name && strcmp(name, ".") && strcmp(name, ".."));
}

/* ---- reading layers ----------------------------------------------------- */

static int layer_open(struct tar_reader **out, int *out_fd, struct layout *l,
		      const struct descriptor *d, struct err *e)
{
	struct tar_reader_opts o;
	int64_t size;
	int ret;

	*out_fd = -1;
	if (mediatype_classify(d->media_type) != MT_KIND_LAYER)
		return err_set(e, ERR_UNSUPPORTED, "media type '%s' is not a filesystem layer%s",
			       d->media_type, strstr(d->media_type, "+encrypted") ?
			       ": decrypt the image first (skopeo copy --decryption-key)" : "");
	if ((ret = blob_open(out_fd, &size, l, &d->digest, e)) < 0)
		return ret;
	memset(&o, 0, sizeof(o));
	o.fd = *out_fd;
	return tar_reader_new(out, &o, e);
}

/* Reads the layer to its end and checks its digest. */
static int layer_finish(struct tar_reader *r, const struct descriptor *d, struct err *e)
{
	struct tar_result res;
	int ret;

	if ((ret = tar_reader_finish(r, &res, e)) < 0)
		return ret;
	if (!digest_equal(&res.digest, &d->digest) || res.size != d->size)
		return err_set(e, ERR_DIGEST, "the cached blob does not match its digest");
	return 0;
}

/* ---- export ------------------------------------------------------------- */

/* `m` must be an image: an artifact (a signature, an SBOM) has no
 * filesystem to export. */
static int export_image_check(const struct manifest *m, struct err *e)
{
	if (m->kind != MT_KIND_MANIFEST)
		return err_set(e, ERR_USAGE, "not an image manifest");
	if (!manifest_is_image(m))
		return err_set(e, ERR_UNSUPPORTED, "%s is an artifact (config media type '%s'), "
			       "not an image: it has no filesystem", m->digest.str,
			       m->config.media_type);
	return 0;
}

/* 1 when the entry `p` of layer `cur` is hidden by what higher layers (or
 * earlier entries) gave. */
static int export_hidden(struct pset *s, const char *p, int cur, int is_dir)
{
	size_t len = strlen(p), i;
	struct pent *en = pset_find(s, "", 0);

	if (en && en->opq_layer > cur)
		return 1;	/* an opaque root */
	for (i = 0; i <= len; i++) {
		if (i < len && p[i] != '/')
			continue;
		en = pset_find(s, p, i);
		if (!en)
			continue;
		if (en->wh_layer > cur)
			return 1;
		if (i == len)
			return en->kind == PK_DIR || en->kind == PK_NONDIR ||
			       (en->kind == PK_IMPLIED && !is_dir);
		if (en->opq_layer > cur || en->kind == PK_NONDIR)
			return 1;
	}
	return 0;
}

static int export_mark(struct pset *s, const char *p, int is_dir)
{
	size_t len = strlen(p), i;
	struct pent *en;

	for (i = 0; i < len; i++) {
		if (p[i] != '/')
			continue;
		if (!(en = pset_get(s, p, i)))
			return ERR_NOMEM;
		if (en->kind == PK_NONE)
			en->kind = PK_IMPLIED;
	}
	if (!(en = pset_get(s, p, len)))
		return ERR_NOMEM;
	en->kind = is_dir ? PK_DIR : PK_NONDIR;
	return 0;
}

static int export_layer_sel(struct pset *s, struct tar_writer *w, struct layout *l,
			    const struct descriptor *d, int cur, export_select_fn *sel,
			    void *sel_arg, struct err *e)
{
	struct tar_reader *r = NULL;
	struct tar_header h, oh;
	struct buf path = BUF_INIT, link = BUF_INIT, sname = BUF_INIT, slink = BUF_INIT;
	char data[65536];
	int fd = -1, ret, rc;

	if ((ret = layer_open(&r, &fd, l, d, e)) < 0)
		goto out;
	while ((rc = tar_reader_next(r, &h, e)) == 1) {
		const char *bn;
		int is_dir = h.type == TAR_DIR;

		if ((ret = path_clean(&path, h.path, e)) < 0)
			goto out;
		if (!path.len)
			continue;	/* the root itself */
		bn = base_name(path.data);
		if (!strncmp(bn, WH_PREFIX, strlen(WH_PREFIX))) {
			size_t dlen = (size_t)(bn - path.data);
			struct pent *en;

			dlen = dlen ? dlen - 1 : 0;
			if (!whiteout_ok(bn)) {
				ret = err_set(e, ERR_INVALID, "bad whiteout '%s'", h.path);
				goto out;
			}
			if (!strcmp(bn, WH_OPAQUE)) {
				en = pset_get(s, path.data, dlen);
				if (en && (en->opq_layer < 0 || en->opq_layer < cur))
					en->opq_layer = cur;
			} else {
				buf_setlen(&path, dlen);
				if (dlen)
					buf_addch(&path, '/');
				buf_addstr(&path, bn + strlen(WH_PREFIX));
				if (buf_failed(&path) || !path.len) {
					ret = err_set(e, ERR_INVALID, "bad whiteout '%s'", h.path);
					goto out;
				}
				en = pset_get(s, path.data, path.len);
				if (en && en->wh_layer < cur)
					en->wh_layer = cur;
			}
			if (!en) {
				ret = err_set(e, ERR_NOMEM, "out of memory");
				goto out;
			}
			continue;
		}
		if (export_hidden(s, path.data, cur, is_dir))
			continue;
		if ((ret = export_mark(s, path.data, is_dir)) < 0) {
			err_set(e, ret, "out of memory");
			goto out;
		}
		oh = h;
		oh.path = path.data;	/* xattrs (security.capability...) are kept */
		if (h.type == TAR_HARDLINK) {
			if ((ret = path_clean(&link, h.link, e)) < 0) {
				err_prefix(e, "hard link '%s'", path.data);
				goto out;
			}
			if (!link.len) {
				ret = err_set(e, ERR_INVALID, "hard link '%s' to the root", path.data);
				goto out;
			}
			oh.link = link.data;
		}
		if (h.type == TAR_OTHER)
			continue;
		if (sel) {
			/* COPY --from: only the chosen entries, renamed */
			buf_reset(&sname);
			if ((ret = sel(sel_arg, &sname, path.data, is_dir, e)) < 0)
				goto out;
			if (ret == 0)
				continue;
			oh.path = sname.data;
			if (h.type == TAR_HARDLINK) {
				buf_reset(&slink);
				if ((ret = sel(sel_arg, &slink, link.data, 0, e)) < 0)
					goto out;
				if (ret == 0) {
					ret = err_set(e, ERR_UNSUPPORTED, "hard link '%s' to '%s', "
						      "which is not copied", path.data, link.data);
					goto out;
				}
				oh.link = slink.data;
			}
		}
		if ((ret = tar_writer_begin(w, &oh, e)) < 0)
			goto out;
		if (h.type == TAR_FILE) {
			ssize_t n;

			while ((n = tar_reader_read(r, data, sizeof(data), e)) > 0)
				if ((ret = tar_writer_data(w, data, (size_t)n, e)) < 0)
					goto out;
			if (n < 0) {
				ret = (int)n;
				goto out;
			}
		}
	}
	if (rc < 0) {
		ret = rc;
		goto out;
	}
	ret = layer_finish(r, d, e);
out:
	tar_reader_free(r);
	if (fd >= 0)
		close(fd);
	buf_release(&path);
	buf_release(&link);
	buf_release(&sname);
	buf_release(&slink);
	return ret;
}

static int export_layer(struct pset *s, struct tar_writer *w, struct layout *l,
			const struct descriptor *d, int cur, struct err *e)
{
	return export_layer_sel(s, w, l, d, cur, NULL, NULL, e);
}

int export_select(struct layout *l, const struct manifest *m, export_select_fn *sel,
			void *sel_arg, tar_sink_fn *sink, void *arg, struct err *e)
{
	struct pset s = { NULL, 0, 0 };
	struct tar_writer *w = NULL;
	struct tar_writer_opts o;
	struct tar_result res;
	size_t i;
	int ret;

	if ((ret = export_image_check(m, e)) < 0)
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
	pset_release(&s);
	return ret;
}

int export_to(struct tar_result *out, struct layout *l, const struct manifest *m,
		    const struct tar_writer_opts *o, struct err *e)
{
	struct pset s = { NULL, 0, 0 };
	struct tar_writer *w = NULL;
	struct tar_result res;
	size_t i;
	int ret;

	if ((ret = export_image_check(m, e)) < 0)
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
	pset_release(&s);
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

/* ---- unpack ------------------------------------------------------------- */

struct unpack {
	int root;
	unsigned flags;
	int have_openat2;	/* 1 yes, 0 unknown, -1 ENOSYS */
	struct pset s;		/* directories (mode, mtime) and this layer's paths */
	struct unpack_stats st;
};

/* An O_PATH fd of directory `p` (cleaned, relative to the root; "" is the
 * root), resolved inside the root.  Missing directories are created (0755)
 * when `create`. */
static int unpack_dir(int *out, struct unpack *u, const char *p, int create, struct err *e)
{
	struct buf pre = BUF_INIT;
	const char *c = p;
	int cur = -1, ret = 0;

	*out = -1;
	cur = openat(u->root, ".", O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (cur < 0)
		return err_set_errno(e, ERR_IO, errno, "cannot open the root");
	while (*c) {
		const char *q = strchr(c, '/');
		size_t len = q ? (size_t)(q - c) : strlen(c);
		char comp[256];
		int nfd = -1;

		if (len >= sizeof(comp)) {
			ret = err_set(e, ERR_INVALID, "'%s': a name is too long", p);
			goto out;
		}
		memcpy(comp, c, len);
		comp[len] = 0;
		if (pre.len)
			buf_addch(&pre, '/');
		buf_add(&pre, c, len);
		if (buf_failed(&pre)) {
			ret = err_set(e, ERR_NOMEM, "out of memory");
			goto out;
		}
		for (int tries = 0; tries < 2 && nfd < 0; tries++) {
			if (u->have_openat2 >= 0) {
				struct open_how how;

				memset(&how, 0, sizeof(how));
				how.flags = O_PATH | O_DIRECTORY | O_CLOEXEC;
				how.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS | RESOLVE_NO_XDEV;
				nfd = (int)syscall(SYS_openat2, u->root, pre.data, &how, sizeof(how));
				if (nfd < 0 && errno == ENOSYS) {
					u->have_openat2 = -1;
					tries--;	/* again, walking by hand */
					continue;
				}
			} else {
				nfd = openat(cur, comp, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
				if (nfd < 0 && (errno == ELOOP || errno == ENOTDIR)) {
					struct stat st;

					if (fstatat(cur, comp, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
					    S_ISLNK(st.st_mode)) {
						ret = err_set(e, ERR_INVALID,
							      "'%s' goes through the symlink '%s'",
							      p, pre.data);
						goto out;
					}
				}
			}
			if (nfd >= 0)
				break;
			if (errno == ENOENT && create && tries == 0) {
				if (mkdirat(cur, comp, 0755) < 0 && errno != EEXIST) {
					ret = err_set_errno(e, ERR_IO, errno, "cannot create '%s'",
							    pre.data);
					goto out;
				}
				continue;
			}
			ret = err_set_errno(e, ERR_IO, errno, "cannot open the directory '%s'",
					    pre.data);
			goto out;
		}
		if (nfd < 0) {
			ret = err_set_errno(e, ERR_IO, errno, "cannot open the directory '%s'",
					    pre.data);
			goto out;
		}
		close(cur);
		cur = nfd;
		c += len;
		if (*c == '/')
			c++;
	}
	*out = cur;
	cur = -1;
out:
	if (cur >= 0)
		close(cur);
	buf_release(&pre);
	return ret;
}

/* Removes `name` in `dfd` and, for a directory, everything below it. */
static int remove_tree(int dfd, const char *name, struct err *e)
{
	DIR *d = NULL;
	struct dirent *de;
	int fd, ret = 0;

	if (unlinkat(dfd, name, 0) == 0 || errno == ENOENT)
		return 0;
	if (errno != EISDIR && errno != EPERM)
		return err_set_errno(e, ERR_IO, errno, "cannot remove '%s'", name);
	fd = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return err_set_errno(e, ERR_IO, errno, "cannot remove '%s'", name);
	d = fdopendir(fd);
	if (!d) {
		close(fd);
		return err_set_errno(e, ERR_IO, errno, "cannot remove '%s'", name);
	}
	while ((de = readdir(d))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		if ((ret = remove_tree(dirfd(d), de->d_name, e)) < 0)
			goto out;
	}
	if (unlinkat(dfd, name, AT_REMOVEDIR) < 0)
		ret = err_set_errno(e, ERR_IO, errno, "cannot remove '%s'", name);
out:
	closedir(d);
	return ret;
}

/* Splits cleaned `p` at its last '/': the parent in `par`, the name returned. */
static const char *split_parent(struct buf *par, const char *p)
{
	const char *bn = base_name(p);

	buf_reset(par);
	if (bn != p)
		buf_add(par, p, (size_t)(bn - p - 1));
	return bn;
}

static int unpack_whiteout(struct unpack *u, const char *dir, const char *bn, int cur,
			   struct err *e)
{
	struct buf child = BUF_INIT;
	DIR *d = NULL;
	struct dirent *de;
	int dfd = -1, fd = -1, ret = 0;
	struct pent *en;

	if ((ret = unpack_dir(&dfd, u, dir, 0, e)) < 0) {
		if (e->sys_errno == ENOENT) {
			err_clear(e);
			ret = 0;	/* nothing to hide */
		}
		goto out;
	}
	if (strcmp(bn, WH_OPAQUE)) {
		const char *name = bn + strlen(WH_PREFIX);

		buf_addstr(&child, dir);
		if (child.len)
			buf_addch(&child, '/');
		buf_addstr(&child, name);
		en = pset_find(&u->s, child.data, child.len);
		if (en && en->layer == cur)
			goto out;	/* this layer's own: whiteouts hide lower layers only */
		ret = remove_tree(dfd, name, e);
		u->st.whiteouts++;
		goto out;
	}
	fd = openat(dfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0 || !(d = fdopendir(fd))) {
		ret = err_set_errno(e, ERR_IO, errno, "cannot open the directory '%s'", dir);
		goto out;
	}
	fd = -1;
	while ((de = readdir(d))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		buf_reset(&child);
		buf_addstr(&child, dir);
		if (child.len)
			buf_addch(&child, '/');
		buf_addstr(&child, de->d_name);
		en = pset_find(&u->s, child.data, child.len);
		if (en && en->layer == cur)
			continue;
		if ((ret = remove_tree(dirfd(d), de->d_name, e)) < 0)
			goto out;
	}
	u->st.whiteouts++;
out:
	if (d)
		closedir(d);
	if (fd >= 0)
		close(fd);
	if (dfd >= 0)
		close(dfd);
	buf_release(&child);
	return ret;
}

/* The xattrs of entry `h` on `name` (see UNPACK_XATTRS_PRIVILEGED).  The
 * object is opened without following a symlink, O_NONBLOCK for a fifo;
 * symlinks and devices are never opened. */
static int unpack_xattrs(struct unpack *u, int pfd, const char *name,
			 const struct tar_header *h, struct err *e)
{
	int fd = -1, ret = 0;
	size_t i;

	if (!h->n_xattrs || (u->flags & UNPACK_NO_XATTRS))
		return 0;
	if (h->type != TAR_FILE && h->type != TAR_DIR && h->type != TAR_FIFO) {
		u->st.skipped_xattrs += h->n_xattrs;
		return 0;
	}
	for (i = 0; i < h->n_xattrs; i++) {
		const struct tar_xattr *x = &h->xattrs[i];
		int user = !strncmp(x->name, "user.", 5);
		int priv = !strncmp(x->name, "security.", 9) || !strncmp(x->name, "trusted.", 8);

		if ((!user && !priv) || (priv && !(u->flags & UNPACK_XATTRS_PRIVILEGED)) ||
		    (user && h->type == TAR_FIFO)) {
			u->st.skipped_xattrs++;
			continue;
		}
		if (fd < 0) {
			fd = openat(pfd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
			if (fd < 0) {
				ret = err_set_errno(e, ERR_IO, errno, "cannot open '%s' to set "
						    "its extended attributes", h->path);
				goto out;
			}
		}
		if (fsetxattr(fd, x->name, x->value, x->len, 0) < 0) {
			if (errno == ENOTSUP || errno == EOPNOTSUPP) {
				u->st.skipped_xattrs++;
				continue;
			}
			ret = err_set_errno(e, ERR_IO, errno, "cannot set the extended attribute "
					    "'%s' of '%s'", x->name, h->path);
			goto out;
		}
		u->st.xattrs++;
	}
out:
	if (fd >= 0)
		close(fd);
	return ret;
}

static int unpack_meta(struct unpack *u, int pfd, const char *name, const struct tar_header *h,
		       struct err *e)
{
	struct timespec ts[2];
	int ret;

	if ((u->flags & UNPACK_OWNERS) &&
	    fchownat(pfd, name, (uid_t)h->uid, (gid_t)h->gid, AT_SYMLINK_NOFOLLOW) < 0)
		return err_set_errno(e, ERR_IO, errno, "cannot change the owner of '%s'", h->path);
	/* after the chown, which drops security.capability; before the mode,
	 * which may leave the file unreadable */
	if ((ret = unpack_xattrs(u, pfd, name, h, e)) < 0)
		return ret;
	if (h->type != TAR_SYMLINK && h->type != TAR_DIR) {
		uint32_t mode = h->mode & ((u->flags & UNPACK_OWNERS) ? 07777 : 01777);

		if (fchmodat(pfd, name, mode, 0) < 0)
			return err_set_errno(e, ERR_IO, errno, "cannot set the mode of '%s'",
					     h->path);
	}
	if (h->type != TAR_DIR) {
		ts[0].tv_sec = ts[1].tv_sec = (time_t)h->mtime;
		ts[0].tv_nsec = ts[1].tv_nsec = 0;
		if (utimensat(pfd, name, ts, AT_SYMLINK_NOFOLLOW) < 0)
			return err_set_errno(e, ERR_IO, errno, "cannot set the time of '%s'",
					     h->path);
	}
	return 0;
}

static int unpack_entry(struct unpack *u, struct tar_reader *r, const struct tar_header *h,
			const char *p, int cur, struct err *e)
{
	struct buf par = BUF_INIT, lpar = BUF_INIT, lpath = BUF_INIT;
	const char *bn = split_parent(&par, p);
	struct pent *en;
	struct stat st;
	int pfd = -1, lfd = -1, fd = -1, ret = 0, exists;
	char data[65536];

	if (buf_failed(&par))
		return err_set(e, ERR_NOMEM, "out of memory");
	if ((h->type == TAR_CHAR || h->type == TAR_BLOCK) && !(u->flags & UNPACK_DEVICES)) {
		u->st.skipped_devices++;
		goto out;
	}
	if (h->type == TAR_OTHER)
		goto out;
	if ((ret = unpack_dir(&pfd, u, par.data, 1, e)) < 0)
		goto out;
	exists = fstatat(pfd, bn, &st, AT_SYMLINK_NOFOLLOW) == 0;
	if (exists && !(h->type == TAR_DIR && S_ISDIR(st.st_mode))) {
		if ((ret = remove_tree(pfd, bn, e)) < 0)
			goto out;
	}
	switch (h->type) {
	case TAR_DIR:
		if (!(exists && S_ISDIR(st.st_mode)) && mkdirat(pfd, bn, 0700) < 0) {
			ret = err_set_errno(e, ERR_IO, errno, "cannot create '%s'", p);
			goto out;
		}
		break;
	case TAR_FILE: {
		ssize_t n;

		fd = openat(pfd, bn, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
		if (fd < 0) {
			ret = err_set_errno(e, ERR_IO, errno, "cannot create '%s'", p);
			goto out;
		}
		while ((n = tar_reader_read(r, data, sizeof(data), e)) > 0) {
			const char *q = data;

			while (n > 0) {
				ssize_t k = write(fd, q, (size_t)n);

				if (k < 0 && errno == EINTR)
					continue;
				if (k < 0) {
					ret = err_set_errno(e, ERR_IO, errno, "cannot write '%s'", p);
					goto out;
				}
				q += k;
				n -= k;
			}
		}
		if (n < 0) {
			ret = (int)n;
			goto out;
		}
		break;
	}
	case TAR_SYMLINK:
		if (symlinkat(h->link, pfd, bn) < 0) {
			ret = err_set_errno(e, ERR_IO, errno, "cannot create the symlink '%s'", p);
			goto out;
		}
		break;
	case TAR_HARDLINK: {
		const char *lbn;

		if ((ret = path_clean(&lpath, h->link, e)) < 0) {
			err_prefix(e, "hard link '%s'", p);
			goto out;
		}
		if (!lpath.len) {
			ret = err_set(e, ERR_INVALID, "hard link '%s' to the root", p);
			goto out;
		}
		lbn = split_parent(&lpar, lpath.data);
		if ((ret = unpack_dir(&lfd, u, lpar.data, 0, e)) < 0) {
			err_prefix(e, "hard link '%s'", p);
			goto out;
		}
		if (linkat(lfd, lbn, pfd, bn, 0) < 0) {
			ret = err_set_errno(e, ERR_IO, errno, "cannot link '%s' to '%s'", p,
					    lpath.data);
			goto out;
		}
		goto done;	/* the link shares the target's metadata */
	}
	case TAR_FIFO:
		if (mkfifoat(pfd, bn, 0600) < 0) {
			ret = err_set_errno(e, ERR_IO, errno, "cannot create the fifo '%s'", p);
			goto out;
		}
		break;
	case TAR_CHAR:
	case TAR_BLOCK:
		if (mknodat(pfd, bn, (h->type == TAR_CHAR ? S_IFCHR : S_IFBLK) | 0600,
			    makedev(h->devmajor, h->devminor)) < 0) {
			ret = err_set_errno(e, ERR_IO, errno, "cannot create the device '%s'", p);
			goto out;
		}
		break;
	default:
		goto out;
	}
	if ((ret = unpack_meta(u, pfd, bn, h, e)) < 0)
		goto out;
done:
	if (!(en = pset_get(&u->s, p, strlen(p)))) {
		ret = err_set(e, ERR_NOMEM, "out of memory");
		goto out;
	}
	en->layer = cur;
	en->kind = h->type == TAR_DIR ? PK_DIR : PK_NONDIR;
	en->mode = h->mode;
	en->mtime = h->mtime;
	u->st.entries++;
out:
	if (fd >= 0)
		close(fd);
	if (pfd >= 0)
		close(pfd);
	if (lfd >= 0)
		close(lfd);
	buf_release(&par);
	buf_release(&lpar);
	buf_release(&lpath);
	return ret;
}

static int unpack_layer(struct unpack *u, struct layout *l, const struct descriptor *d,
			int cur, struct err *e)
{
	struct tar_reader *r = NULL;
	struct tar_header h;
	struct buf path = BUF_INIT, par = BUF_INIT;
	int fd = -1, ret, rc;

	if ((ret = layer_open(&r, &fd, l, d, e)) < 0)
		goto out;
	while ((rc = tar_reader_next(r, &h, e)) == 1) {
		const char *bn;

		if ((ret = path_clean(&path, h.path, e)) < 0)
			goto out;
		if (!path.len)
			continue;
		bn = split_parent(&par, path.data);
		if (!strncmp(bn, WH_PREFIX, strlen(WH_PREFIX))) {
			if (!whiteout_ok(bn) ||
			    (ret = unpack_whiteout(u, par.data, bn, cur, e)) < 0) {
				if (!ret)
					ret = err_set(e, ERR_INVALID, "bad whiteout '%s'", h.path);
				goto out;
			}
			continue;
		}
		if ((ret = unpack_entry(u, r, &h, path.data, cur, e)) < 0)
			goto out;
	}
	if (rc < 0) {
		ret = rc;
		goto out;
	}
	ret = layer_finish(r, d, e);
out:
	tar_reader_free(r);
	if (fd >= 0)
		close(fd);
	buf_release(&path);
	buf_release(&par);
	return ret;
}

/* Directory modes and times, last: a read-only directory must not stop
 * its children, and creating them changes its mtime. */
static int unpack_dirs_finish(struct unpack *u, struct err *e)
{
	struct buf par = BUF_INIT;
	size_t i;
	int ret = 0;

	for (i = 0; i < u->s.cap; i++) {
		struct pent *en = &u->s.tab[i];
		struct timespec ts[2];
		const char *bn;
		int pfd = -1;

		if (!en->path || en->kind != PK_DIR)
			continue;
		bn = split_parent(&par, en->path);
		if (unpack_dir(&pfd, u, par.data, 0, e) < 0) {
			err_clear(e);
			continue;	/* removed by a later whiteout */
		}
		ts[0].tv_sec = ts[1].tv_sec = (time_t)en->mtime;
		ts[0].tv_nsec = ts[1].tv_nsec = 0;
		if (fchmodat(pfd, bn, en->mode & ((u->flags & UNPACK_OWNERS) ? 07777 : 01777),
			     0) < 0 && errno != ENOENT) {
			ret = err_set_errno(e, ERR_IO, errno, "cannot set the mode of '%s'",
					    en->path);
		}
		utimensat(pfd, bn, ts, AT_SYMLINK_NOFOLLOW);
		close(pfd);
		if (ret < 0)
			break;
	}
	buf_release(&par);
	return ret;
}

int unpack_image(struct unpack_stats *out, struct layout *l, const struct manifest *m,
		 const char *dir, unsigned flags, struct err *e)
{
	struct unpack u;
	size_t i;
	int ret;

	memset(&u, 0, sizeof(u));
	u.flags = flags;
	if ((ret = export_image_check(m, e)) < 0)
		return ret;
	u.root = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (u.root < 0)
		return err_set_errno(e, ERR_IO, errno, "cannot open the directory '%s'", dir);
	for (i = 0; i < m->n_layers; i++) {
		if ((ret = unpack_layer(&u, l, &m->layers[i], (int)i, e)) < 0) {
			err_prefix(e, "layer %zu (%s)", i, m->layers[i].digest.str);
			goto out;
		}
	}
	ret = unpack_dirs_finish(&u, e);
	if (out)
		*out = u.st;
out:
	close(u.root);
	pset_release(&u.s);
	return ret;
}

/* ---- finding the image -------------------------------------------------- */

int local_layout_manifest(struct manifest *out, struct layout *l, const char *ref_name,
			  const struct platform *platform, struct err *e)
{
	struct layout_ref *refs = NULL;
	struct platform def = PLATFORM_INIT;
	struct manifest idx;
	const struct descriptor *d = NULL;
	size_t n = 0, i;
	int ret;

	manifest_init(out);
	manifest_init(&idx);
	if ((ret = layout_index_list(&refs, &n, l, e)) < 0)
		goto out;
	for (i = 0; i < n; i++)
		if (!ref_name || (refs[i].name && !strcmp(refs[i].name, ref_name)))
			break;
	if (i == n || (!ref_name && n != 1)) {
		if (ref_name)
			ret = err_set(e, ERR_NOT_FOUND, "no entry '%s' in the layout", ref_name);
		else
			ret = err_set(e, ERR_USAGE, "the layout has %zu entries, not one", n);
		goto out;
	}
	if ((ret = local_manifest_load(&idx, l, &refs[i].desc, 0, e)) < 0)
		goto out;
	if (idx.kind == MT_KIND_MANIFEST) {
		*out = idx;
		manifest_init(&idx);
		goto out;
	}
	if (!platform) {
		if ((ret = platform_parse(&def, "linux/amd64", e)) < 0)
			goto out;
		platform = &def;
	}
	if (!(d = manifest_index_find(&idx, platform))) {
		ret = err_set(e, ERR_NOT_FOUND, "the index has no image for %s/%s",
			      platform->os, platform->arch);
		goto out;
	}
	ret = local_manifest_load(out, l, d, 0, e);
	if (ret == 0 && out->kind != MT_KIND_MANIFEST)
		ret = err_set(e, ERR_UNSUPPORTED, "nested indexes are not supported here");
out:
	manifest_release(&idx);
	platform_release(&def);
	layout_refs_free(refs, n);
	return ret;
}

int local_image(struct manifest *out, struct env *env, const struct ref *ref,
		struct err *e)
{
	struct pull_result p;
	int ret;

	manifest_init(out);
	memset(&p, 0, sizeof(p));
	if (!env->cache)
		return err_set(e, ERR_USAGE, "no cache");
	if ((ret = pull_images(&p, env, ref, 1, env->cache, PULL_SINGLE, e)) < 0)
		goto out;
	if ((ret = local_manifest_load(out, env->cache, &p.desc, 0, e)) < 0)
		goto out;
	if (out->kind != MT_KIND_MANIFEST)
		ret = err_set(e, ERR_UNSUPPORTED, "'%s' is not an image", p.name);
out:
	pull_result_release(&p, 1);
	return ret;
}

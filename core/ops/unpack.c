/* unpack.c - an image's layers applied to a directory.  See unpack.h for
 * the rules. */
#include "core/ops/unpack.h"

#include "core/base/buf.h"
#include "core/base/err.h"
#include "core/format/tar.h"
#include "core/model/manifest.h"
#include "core/ops/rootfs.h"

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

struct unpack {
	int root;
	unsigned flags;
	int have_openat2;	/* 1 yes, 0 unknown, -1 ENOSYS */
	struct rootfs_paths s;		/* directories (mode, mtime) and this layer's paths */
	struct unpack_stats st;
};

/* Opens `comp`, a directory in `cur` (`pre` from the root, on the way to
 * `p`), as an O_PATH fd in `*out`, resolved inside the root: with openat2,
 * else by hand, refusing a symlink.  Created (0755) when missing and
 * `create`. */
static int unpack_dir_step(int *out, struct unpack *u, int cur, const char *comp,
			   const char *pre, const char *p, int create, struct err *e)
{
	int nfd = -1;

	for (int tries = 0; tries < 2 && nfd < 0; tries++) {
		if (u->have_openat2 >= 0) {
			struct open_how how;

			memset(&how, 0, sizeof(how));
			how.flags = O_PATH | O_DIRECTORY | O_CLOEXEC;
			how.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS | RESOLVE_NO_XDEV;
			nfd = (int)syscall(SYS_openat2, u->root, pre, &how, sizeof(how));
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
				    S_ISLNK(st.st_mode))
					return err_set(e, ERR_INVALID, "'%s' goes through the symlink "
						       "'%s'", p, pre);
			}
		}
		if (nfd >= 0)
			break;
		if (errno == ENOENT && create && tries == 0) {
			if (mkdirat(cur, comp, 0755) < 0 && errno != EEXIST)
				return err_set_errno(e, ERR_IO, errno, "cannot create '%s'", pre);
			continue;
		}
		return err_set_errno(e, ERR_IO, errno, "cannot open the directory '%s'", pre);
	}
	if (nfd < 0)
		return err_set_errno(e, ERR_IO, errno, "cannot open the directory '%s'", pre);
	*out = nfd;
	return 0;
}

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
		if ((ret = unpack_dir_step(&nfd, u, cur, comp, pre.data, p, create, e)) < 0)
			goto out;
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
	const char *bn = rootfs_base_name(p);

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
	struct rootfs_path *en;

	if ((ret = unpack_dir(&dfd, u, dir, 0, e)) < 0) {
		if (e->sys_errno == ENOENT) {
			err_clear(e);
			ret = 0;	/* nothing to hide */
		}
		goto out;
	}
	if (strcmp(bn, ROOTFS_WH_OPAQUE)) {
		const char *name = bn + strlen(ROOTFS_WH_PREFIX);

		buf_addstr(&child, dir);
		if (child.len)
			buf_addch(&child, '/');
		buf_addstr(&child, name);
		en = rootfs_paths_find(&u->s, child.data, child.len);
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
		en = rootfs_paths_find(&u->s, child.data, child.len);
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

/* Creates the file `bn` in `pfd` (the entry `p`) with the data of the
 * current entry of `r`. */
static int unpack_file(struct tar_reader *r, int pfd, const char *bn, const char *p,
		       struct err *e)
{
	char data[65536];
	ssize_t n;
	int fd, ret = 0;

	fd = openat(pfd, bn, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0)
		return err_set_errno(e, ERR_IO, errno, "cannot create '%s'", p);
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
	if (n < 0)
		ret = (int)n;
out:
	close(fd);
	return ret;
}

/* Makes `bn` in `pfd` (the entry `p`) a hard link to `link`, a path in the
 * root resolved as the parents are, without following a symlink. */
static int unpack_hardlink(struct unpack *u, int pfd, const char *bn, const char *p,
			   const char *link, struct err *e)
{
	struct buf lpar = BUF_INIT, lpath = BUF_INIT;
	const char *lbn;
	int lfd = -1, ret;

	if ((ret = rootfs_path_clean(&lpath, link, e)) < 0) {
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
	if (linkat(lfd, lbn, pfd, bn, 0) < 0)
		ret = err_set_errno(e, ERR_IO, errno, "cannot link '%s' to '%s'", p, lpath.data);
out:
	if (lfd >= 0)
		close(lfd);
	buf_release(&lpar);
	buf_release(&lpath);
	return ret;
}

/* Creates the entry `h` as `bn` in `pfd` (the entry `p`), with its
 * metadata (a hard link shares its target's).  What was there is removed
 * already, but a directory for a directory entry (`is_dir`: kept).  1 for
 * a type that is not unpacked. */
static int unpack_node(struct unpack *u, struct tar_reader *r, const struct tar_header *h,
		       int pfd, const char *bn, const char *p, int is_dir, struct err *e)
{
	int ret;

	switch (h->type) {
	case TAR_DIR:
		if (!is_dir && mkdirat(pfd, bn, 0700) < 0)
			return err_set_errno(e, ERR_IO, errno, "cannot create '%s'", p);
		break;
	case TAR_FILE:
		if ((ret = unpack_file(r, pfd, bn, p, e)) < 0)
			return ret;
		break;
	case TAR_SYMLINK:
		if (symlinkat(h->link, pfd, bn) < 0)
			return err_set_errno(e, ERR_IO, errno, "cannot create the symlink '%s'", p);
		break;
	case TAR_HARDLINK:
		return unpack_hardlink(u, pfd, bn, p, h->link, e);
	case TAR_FIFO:
		if (mkfifoat(pfd, bn, 0600) < 0)
			return err_set_errno(e, ERR_IO, errno, "cannot create the fifo '%s'", p);
		break;
	case TAR_CHAR:
	case TAR_BLOCK:
		if (mknodat(pfd, bn, (h->type == TAR_CHAR ? S_IFCHR : S_IFBLK) | 0600,
			    makedev(h->devmajor, h->devminor)) < 0)
			return err_set_errno(e, ERR_IO, errno, "cannot create the device '%s'", p);
		break;
	default:
		return 1;
	}
	return unpack_meta(u, pfd, bn, h, e);
}

static int unpack_entry(struct unpack *u, struct tar_reader *r, const struct tar_header *h,
			const char *p, int cur, struct err *e)
{
	struct buf par = BUF_INIT;
	const char *bn = split_parent(&par, p);
	struct rootfs_path *en;
	struct stat st;
	int pfd = -1, ret = 0, exists;

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
	ret = unpack_node(u, r, h, pfd, bn, p, exists && S_ISDIR(st.st_mode), e);
	if (ret != 0) {
		ret = ret < 0 ? ret : 0;	/* 1: a type not unpacked */
		goto out;
	}
	if (!(en = rootfs_paths_get(&u->s, p, strlen(p)))) {
		ret = err_set(e, ERR_NOMEM, "out of memory");
		goto out;
	}
	en->layer = cur;
	en->kind = h->type == TAR_DIR ? ROOTFS_DIR : ROOTFS_NONDIR;
	en->mode = h->mode;
	en->mtime = h->mtime;
	u->st.entries++;
out:
	if (pfd >= 0)
		close(pfd);
	buf_release(&par);
	return ret;
}

static int unpack_layer(struct unpack *u, struct layout *l, const struct descriptor *d,
			int cur, struct err *e)
{
	struct tar_reader *r = NULL;
	struct tar_header h;
	struct buf path = BUF_INIT, par = BUF_INIT;
	int fd = -1, ret, rc;

	if ((ret = rootfs_layer_open(&r, &fd, l, d, e)) < 0)
		goto out;
	while ((rc = tar_reader_next(r, &h, e)) == 1) {
		const char *bn;

		if ((ret = rootfs_path_clean(&path, h.path, e)) < 0)
			goto out;
		if (!path.len)
			continue;
		bn = split_parent(&par, path.data);
		if (!strncmp(bn, ROOTFS_WH_PREFIX, strlen(ROOTFS_WH_PREFIX))) {
			if (!rootfs_whiteout_ok(bn) ||
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
	ret = rootfs_layer_finish(r, d, e);
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
		struct rootfs_path *en = &u->s.tab[i];
		struct timespec ts[2];
		const char *bn;
		int pfd = -1;

		if (!en->path || en->kind != ROOTFS_DIR)
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
	if ((ret = rootfs_image_check(m, e)) < 0)
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
	rootfs_paths_release(&u.s);
	return ret;
}

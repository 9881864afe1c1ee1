/* layer.c - deterministic layers: collect, sort, add parents, write. */
#include "core/format/layer.h"

#include "core/base/buf.h"
#include "core/base/err.h"
#include "core/base/fs.h"
#include "core/base/strvec.h"
#include "core/base/text.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAX_DEPTH 256
#define MAX_ENTRIES_DEFAULT 10000000u
#define COPY_CHUNK (128u * 1024u)

/* Where a file's bytes come from; shared by the members of a hard-link set. */
struct ldata {
	char *src;		/* a local path, or NULL */
	int64_t off;		/* else: offset in the spool */
	int64_t size;
	int nlink_set;		/* a hard-link set: other members match dev/ino */
	dev_t dev;		/* local: what lstat said when the file was added, */
	ino_t ino;		/* the file's identity for layer_builder_key() */
	struct timespec mtime, ctime;
	char *written;		/* during a write: the first member's tar name */
};

struct lentry {
	char *path;		/* clean, relative, no trailing '/' */
	enum tar_type type;	/* TAR_FILE entries carry `data`; never TAR_HARDLINK */
	uint32_t mode;
	int64_t uid, gid;
	char *link;		/* symlink target */
	long data;		/* index into b->datas for TAR_FILE */
	uint32_t devmajor, devminor;
	size_t seq;		/* add order: a later add wins */
};

struct layer_builder {
	struct layer_builder_opts o;
	char *tmpdir;
	struct lentry *ents;
	size_t n, alloc;
	struct ldata *datas;
	size_t n_datas, alloc_datas;
	size_t seq;
	int spool_fd;
	int64_t spool_size;
	/* during a write: the directory of the last local file opened, so that
	 * its siblings (next in path order) are opened without walking the
	 * whole path again */
	int dir_fd;
	struct buf dir;
};

static void quote(char *out, size_t size, const char *s)
{
	text_clean(out, size, s, strlen(s));
}

const char *layer_media_type(enum tar_compression c)
{
	switch (c) {
	case TAR_COMPRESS_GZIP: return MT_OCI_LAYER_GZIP;
	case TAR_COMPRESS_ZSTD: return MT_OCI_LAYER_ZSTD;
	case TAR_COMPRESS_NONE: break;
	}
	return MT_OCI_LAYER;
}

int layer_spec_parse(char **out_src, char **out_dst, const char *spec, struct err *e)
{
	const char *colon = strrchr(spec, ':');
	char q[256];

	*out_src = *out_dst = NULL;
	if (!colon || colon == spec || !colon[1]) {
		quote(q, sizeof(q), spec);
		return err_set(e, ERR_INVALID, "invalid add '%s': expected SRC:DST", q);
	}
	*out_src = strndup(spec, (size_t)(colon - spec));
	*out_dst = strdup(colon + 1);
	if (!*out_src || !*out_dst) {
		free(*out_src);
		free(*out_dst);
		*out_src = *out_dst = NULL;
		return err_set(e, ERR_NOMEM, "out of memory");
	}
	return 0;
}

/* Cleans `p` into `out` as a relative path without leading or trailing
 * '/' ("" for the root).  With `strict`, a ".." component is an error
 * (returns 1) instead of stopping at the root. */
static int path_clean(struct buf *out, const char *p, int strict)
{
	buf_reset(out);
	while (*p) {
		const char *end;
		size_t len;

		while (*p == '/')
			p++;
		if (!*p)
			break;
		end = strchr(p, '/');
		len = end ? (size_t)(end - p) : strlen(p);
		if (len == 1 && p[0] == '.') {
			/* skip */
		} else if (len == 2 && p[0] == '.' && p[1] == '.') {
			char *slash;

			if (strict)
				return 1;
			slash = strrchr(out->data, '/');
			buf_setlen(out, slash ? (size_t)(slash - out->data) : 0);
		} else {
			if (out->len)
				buf_addch(out, '/');
			buf_add(out, p, len);
		}
		p += len;
	}
	return buf_failed(out) ? -1 : 0;
}

int layer_builder_new(struct layer_builder **out, const struct layer_builder_opts *o,
		      struct err *e)
{
	struct layer_builder *b = calloc(1, sizeof(*b));

	*out = NULL;
	if (!b)
		return err_set(e, ERR_NOMEM, "out of memory");
	b->o = *o;
	if (!b->o.max_entries)
		b->o.max_entries = MAX_ENTRIES_DEFAULT;
	b->tmpdir = strdup(o->tmpdir ? o->tmpdir : "/var/tmp");
	b->spool_fd = -1;
	b->dir_fd = -1;
	buf_init(&b->dir, 0);
	if (!b->tmpdir) {
		free(b);
		return err_set(e, ERR_NOMEM, "out of memory");
	}
	*out = b;
	return 0;
}

size_t layer_builder_count(const struct layer_builder *b)
{
	return b->n;
}

static void lentry_release(struct lentry *le)
{
	free(le->path);
	free(le->link);
}

void layer_builder_free(struct layer_builder *b)
{
	size_t i;

	if (!b)
		return;
	for (i = 0; i < b->n; i++)
		lentry_release(&b->ents[i]);
	for (i = 0; i < b->n_datas; i++) {
		free(b->datas[i].src);
		free(b->datas[i].written);
	}
	free(b->ents);
	free(b->datas);
	if (b->spool_fd >= 0)
		close(b->spool_fd);
	if (b->dir_fd >= 0)
		close(b->dir_fd);
	buf_release(&b->dir);
	free(b->tmpdir);
	free(b);
}

/* Appends an entry; takes ownership of path and link (freed on failure). */
static int push_entry(struct layer_builder *b, struct lentry *le, struct err *e)
{
	if (b->n >= b->o.max_entries) {
		lentry_release(le);
		return err_set(e, ERR_TOO_BIG, "layer with more than %zu entries", b->o.max_entries);
	}
	if (b->n == b->alloc) {
		size_t na = b->alloc ? b->alloc * 2 : 64;
		struct lentry *n = realloc(b->ents, na * sizeof(*n));

		if (!n) {
			lentry_release(le);
			return err_set(e, ERR_NOMEM, "out of memory");
		}
		b->ents = n;
		b->alloc = na;
	}
	le->seq = ++b->seq;
	b->ents[b->n++] = *le;
	return 0;
}

/* A new data record; returns its index or a negative err code.  Takes
 * ownership of src. */
static long push_data(struct layer_builder *b, char *src, int64_t off, int64_t size,
		      struct err *e)
{
	if (b->n_datas == b->alloc_datas) {
		size_t na = b->alloc_datas ? b->alloc_datas * 2 : 64;
		struct ldata *n = realloc(b->datas, na * sizeof(*n));

		if (!n) {
			free(src);
			return err_set(e, ERR_NOMEM, "out of memory");
		}
		b->datas = n;
		b->alloc_datas = na;
	}
	memset(&b->datas[b->n_datas], 0, sizeof(b->datas[0]));
	b->datas[b->n_datas].src = src;
	b->datas[b->n_datas].off = off;
	b->datas[b->n_datas].size = size;
	return (long)b->n_datas++;
}

static uint32_t norm_mode(const struct layer_add *add, enum tar_type t, uint32_t disk)
{
	if (t == TAR_SYMLINK)
		return 0777;
	if (add->flags & LAYER_ADD_CHMOD)
		return add->chmod & 07777;
	if (t == TAR_DIR)
		return 0755;
	return (disk & 0111) ? 0755 : 0644;
}

/* An entry for a local path found by lstat. */
static int add_local(struct layer_builder *b, const struct layer_add *add, const char *host,
		     const struct stat *st, const char *dst, struct err *e)
{
	struct lentry le;
	char q[256];
	size_t i;

	memset(&le, 0, sizeof(le));
	le.data = -1;
	le.uid = (add->flags & LAYER_ADD_CHOWN) ? add->uid : 0;
	le.gid = (add->flags & LAYER_ADD_CHOWN) ? add->gid : 0;
	if (S_ISREG(st->st_mode)) {
		le.type = TAR_FILE;
	} else if (S_ISDIR(st->st_mode)) {
		le.type = TAR_DIR;
	} else if (S_ISLNK(st->st_mode)) {
		char target[PATH_MAX + 1];
		ssize_t n = readlink(host, target, sizeof(target));

		quote(q, sizeof(q), host);
		if (n < 0)
			return err_set_errno(e, ERR_IO, errno, "cannot read link '%s'", q);
		if ((size_t)n >= sizeof(target) || n == 0)
			return err_set(e, ERR_INVALID, "link '%s' has an unusable target", q);
		le.type = TAR_SYMLINK;
		le.link = strndup(target, (size_t)n);
		if (!le.link)
			return err_set(e, ERR_NOMEM, "out of memory");
	} else {
		const char *what = S_ISFIFO(st->st_mode) ? "a fifo" :
				   S_ISSOCK(st->st_mode) ? "a socket" :
				   S_ISCHR(st->st_mode) ? "a character device" :
				   S_ISBLK(st->st_mode) ? "a block device" : "a special file";

		quote(q, sizeof(q), host);
		return err_set(e, ERR_UNSUPPORTED,
			       "'%s' is %s: layers are built from files, directories and "
			       "symlinks only; remove it or exclude it (.dockerignore)", q, what);
	}
	le.mode = norm_mode(add, le.type, (uint32_t)st->st_mode);
	if (le.type == TAR_FILE) {
		long d = -1;

		if (st->st_nlink > 1) {
			for (i = 0; i < b->n_datas; i++)
				if (b->datas[i].nlink_set && b->datas[i].dev == st->st_dev &&
				    b->datas[i].ino == st->st_ino) {
					d = (long)i;
					break;
				}
		}
		if (d < 0) {
			char *src = strdup(host);

			if (!src)
				return err_set(e, ERR_NOMEM, "out of memory");
			d = push_data(b, src, -1, (int64_t)st->st_size, e);
			if (d < 0)
				return (int)d;
			b->datas[d].nlink_set = st->st_nlink > 1;
			b->datas[d].dev = st->st_dev;
			b->datas[d].ino = st->st_ino;
			b->datas[d].mtime = st->st_mtim;
			b->datas[d].ctime = st->st_ctim;
		}
		le.data = d;
	}
	le.path = strdup(dst);
	if (!le.path) {
		free(le.link);
		return err_set(e, ERR_NOMEM, "out of memory");
	}
	return push_entry(b, &le, e);
}

static int cmp_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Walks the directory `host` into `dst` (both without trailing '/'). */
static int walk_dir(struct layer_builder *b, const struct layer_add *add, struct buf *host,
		    struct buf *dst, int depth, struct err *e)
{
	struct strvec names = STRVEC_INIT;
	DIR *d = NULL;
	struct dirent *de;
	char q[256];
	int ret = -1;
	size_t i;

	if (depth > MAX_DEPTH) {
		quote(q, sizeof(q), host->data);
		return err_set(e, ERR_TOO_BIG, "'%s': directories nested deeper than %d", q,
			       MAX_DEPTH);
	}
	d = opendir(host->data);
	if (!d) {
		quote(q, sizeof(q), host->data);
		return err_set_errno(e, ERR_IO, errno, "cannot open directory '%s'", q);
	}
	errno = 0;
	while ((de = readdir(d))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		if (strvec_push(&names, de->d_name) < 0) {
			ret = err_set(e, ERR_NOMEM, "out of memory");
			goto out;
		}
		errno = 0;
	}
	if (errno) {
		quote(q, sizeof(q), host->data);
		ret = err_set_errno(e, ERR_IO, errno, "cannot read directory '%s'", q);
		goto out;
	}
	qsort(names.v, names.n, sizeof(char *), cmp_names);
	for (i = 0; i < names.n; i++) {
		size_t hlen = host->len, dlen = dst->len;
		struct stat st;
		enum layer_exclude ex = LAYER_INCLUDE;

		buf_addch(host, '/');
		buf_addstr(host, names.v[i]);
		if (dst->len)
			buf_addch(dst, '/');
		buf_addstr(dst, names.v[i]);
		if (buf_failed(host) || buf_failed(dst)) {
			ret = err_set(e, ERR_NOMEM, "out of memory");
			goto out;
		}
		/* relative to the open directory: no walk of the whole path */
		if (fstatat(dirfd(d), names.v[i], &st, AT_SYMLINK_NOFOLLOW) < 0) {
			quote(q, sizeof(q), host->data);
			ret = err_set_errno(e, ERR_IO, errno, "cannot stat '%s'", q);
			goto out;
		}
		if (b->o.exclude)
			ex = b->o.exclude(b->o.exclude_arg, host->data, S_ISDIR(st.st_mode));
		if (ex == LAYER_INCLUDE) {
			ret = add_local(b, add, host->data, &st, dst->data, e);
			if (ret < 0)
				goto out;
		}
		if (S_ISDIR(st.st_mode) && ex != LAYER_PRUNE) {
			ret = walk_dir(b, add, host, dst, depth + 1, e);
			if (ret < 0)
				goto out;
		}
		buf_setlen(host, hlen);
		buf_setlen(dst, dlen);
	}
	ret = 0;
out:
	closedir(d);
	strvec_clear(&names);
	return ret;
}

static int is_tarball_name(const char *src)
{
	static const char *const sfx[] = { ".tar", ".tar.gz", ".tgz", ".tar.zst", ".tzst",
					   ".tar.zstd" };
	size_t n = strlen(src), i;

	for (i = 0; i < sizeof(sfx) / sizeof(sfx[0]); i++) {
		size_t k = strlen(sfx[i]);

		if (n > k && !strcmp(src + n - k, sfx[i]))
			return 1;
	}
	return 0;
}

static ssize_t fd_source(void *arg, void *dst, size_t len, struct err *e)
{
	int fd = *(int *)arg;
	ssize_t n;

	do
		n = read(fd, dst, len);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return err_set_errno(e, ERR_IO, errno, "cannot read the tarball");
	return n;
}

/* Owner names are the caller's to turn into IDs (core/ops/build.c). */
static int add_check_owner(const struct layer_add *add, struct err *e)
{
	if ((add->flags & LAYER_ADD_CHOWN_NAME) && !(add->flags & LAYER_ADD_CHOWN))
		return err_set(e, ERR_INVALID, "owner '%s' was not resolved to IDs", add->owner);
	return 0;
}

int layer_builder_add(struct layer_builder *b, const struct layer_add *add, struct err *e)
{
	struct buf dst = BUF_INIT, host = BUF_INIT;
	struct stat st;
	char q[256];
	size_t dlen = strlen(add->dst);
	int into_dir = dlen > 0 && add->dst[dlen - 1] == '/';
	int fd = -1;
	int ret = -1;

	if (!add->src || !*add->src || !add->dst || !*add->dst)
		return err_set(e, ERR_INVALID, "an add needs a source and a destination");
	if ((ret = add_check_owner(add, e)) < 0)
		return ret;
	quote(q, sizeof(q), add->src);
	if (lstat(add->src, &st) < 0) {
		if (errno == ENOENT || errno == ENOTDIR)
			return err_set(e, ERR_NOT_FOUND, "'%s' does not exist", q);
		return err_set_errno(e, ERR_IO, errno, "cannot stat '%s'", q);
	}
	if (b->o.exclude &&
	    b->o.exclude(b->o.exclude_arg, add->src, S_ISDIR(st.st_mode)) != LAYER_INCLUDE)
		return err_set(e, ERR_NOT_FOUND, "'%s' is excluded from the context", q);
	if (path_clean(&dst, add->dst, 0) < 0) {
		ret = err_set(e, ERR_NOMEM, "out of memory");
		goto out;
	}
	if (S_ISDIR(st.st_mode)) {
		if (dst.len) {
			ret = add_local(b, add, add->src, &st, dst.data, e);
			if (ret < 0)
				goto out;
		}
		buf_addstr(&host, add->src);
		while (host.len > 1 && host.data[host.len - 1] == '/')
			buf_setlen(&host, host.len - 1);
		if (buf_failed(&host)) {
			ret = err_set(e, ERR_NOMEM, "out of memory");
			goto out;
		}
		ret = walk_dir(b, add, &host, &dst, 0, e);
		goto out;
	}
	if (S_ISREG(st.st_mode) && into_dir && (add->flags & LAYER_ADD_UNPACK) &&
	    is_tarball_name(add->src)) {
		fd = open(add->src, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
		if (fd < 0) {
			ret = err_set_errno(e, ERR_IO, errno, "cannot open '%s'", q);
			goto out;
		}
		ret = layer_builder_add_tar(b, fd_source, &fd, add, e);
		goto out;
	}
	if (into_dir || !dst.len) {
		const char *base = strrchr(add->src, '/');

		base = base ? base + 1 : add->src;
		if (!*base || !strcmp(base, ".") || !strcmp(base, "..")) {
			ret = err_set(e, ERR_INVALID, "'%s' has no file name to copy to", q);
			goto out;
		}
		if (dst.len)
			buf_addch(&dst, '/');
		buf_addstr(&dst, base);
		if (buf_failed(&dst)) {
			ret = err_set(e, ERR_NOMEM, "out of memory");
			goto out;
		}
	}
	ret = add_local(b, add, add->src, &st, dst.data, e);
out:
	if (fd >= 0)
		close(fd);
	buf_release(&dst);
	buf_release(&host);
	return ret;
}

/* --- tar input ------------------------------------------------------------ */

static int spool_open(struct layer_builder *b, struct err *e)
{
	char q[256];

	if (b->spool_fd >= 0)
		return 0;
	b->spool_fd = open(b->tmpdir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
	if (b->spool_fd < 0) {
		struct buf p = BUF_INIT;

		buf_addf(&p, "%s/hoist-layer.XXXXXX", b->tmpdir);
		if (buf_failed(&p))
			return err_set(e, ERR_NOMEM, "out of memory");
		b->spool_fd = mkostemp(p.data, O_CLOEXEC);
		if (b->spool_fd >= 0)
			unlink(p.data);
		buf_release(&p);
	}
	if (b->spool_fd < 0) {
		quote(q, sizeof(q), b->tmpdir);
		return err_set_errno(e, ERR_IO, errno, "cannot create a temporary file in '%s'", q);
	}
	return 0;
}

/* Maps an archive name to the layer path under `dir` (into `out`);
 * returns 1 when the name escapes with "..". */
static int tar_target(struct buf *out, struct buf *tmp, const char *dir, const char *name)
{
	int rc = path_clean(tmp, name, 1);

	if (rc)
		return rc;
	buf_reset(out);
	buf_addstr(out, dir);
	if (out->len && tmp->len)
		buf_addch(out, '/');
	buf_add(out, tmp->data, tmp->len);
	return buf_failed(out) ? -1 : 0;
}

/* Tar names of this stream already seen, mapped to their data records, for
 * hard links (which must name an earlier entry). */
struct namemap {
	struct strvec names;
	long *data;
	size_t alloc;
};

int layer_builder_add_tar(struct layer_builder *b, tar_source_fn *source, void *source_arg,
			  const struct layer_add *add, struct err *e)
{
	struct tar_reader *r = NULL;
	struct tar_reader_opts ro;
	struct tar_header h;
	struct buf dir = BUF_INIT, target = BUF_INIT, tmp = BUF_INIT;
	struct namemap nm = { STRVEC_INIT, NULL, 0 };
	char *chunk = NULL;
	char q[256], what[256];
	int rc, ret = -1;
	size_t i;

	if ((ret = add_check_owner(add, e)) < 0)
		return ret;
	quote(what, sizeof(what), add->src ? add->src : "archive");
	if (path_clean(&dir, add->dst ? add->dst : "/", 0) < 0 ||
	    !(chunk = malloc(COPY_CHUNK))) {
		ret = err_set(e, ERR_NOMEM, "out of memory");
		goto out;
	}
	memset(&ro, 0, sizeof(ro));
	ro.source = source;
	ro.source_arg = source_arg;
	ret = tar_reader_new(&r, &ro, e);
	if (ret < 0)
		goto out;
	if (dir.len) {
		struct lentry le;

		memset(&le, 0, sizeof(le));
		le.type = TAR_DIR;
		le.data = -1;
		le.mode = norm_mode(add, TAR_DIR, 0755);
		le.uid = (add->flags & LAYER_ADD_CHOWN) ? add->uid : 0;
		le.gid = (add->flags & LAYER_ADD_CHOWN) ? add->gid : 0;
		le.path = strdup(dir.data);
		if (!le.path) {
			ret = err_set(e, ERR_NOMEM, "out of memory");
			goto out;
		}
		ret = push_entry(b, &le, e);
		if (ret < 0)
			goto out;
	}
	while ((rc = tar_reader_next(r, &h, e)) > 0) {
		struct lentry le;

		quote(q, sizeof(q), h.path);
		ret = tar_target(&target, &tmp, dir.data, h.path);
		if (ret < 0) {
			ret = err_set(e, ERR_NOMEM, "out of memory");
			goto out;
		}
		if (ret > 0) {
			ret = err_set(e, ERR_INVALID, "%s: entry '%s' escapes the archive with '..'",
				      what, q);
			goto out;
		}
		if (!target.len || !strcmp(target.data, dir.data))
			continue;	/* "./" itself */
		memset(&le, 0, sizeof(le));
		le.data = -1;
		le.type = h.type;
		le.mode = (add->flags & LAYER_ADD_CHMOD) && h.type != TAR_SYMLINK ?
			  add->chmod & 07777 : h.mode & 07777;
		le.uid = (add->flags & LAYER_ADD_CHOWN) ? add->uid : h.uid;
		le.gid = (add->flags & LAYER_ADD_CHOWN) ? add->gid : h.gid;
		le.devmajor = h.devmajor;
		le.devminor = h.devminor;
		if (h.type == TAR_OTHER) {
			ret = err_set(e, ERR_UNSUPPORTED, "%s: entry '%s' has an unknown type",
				      what, q);
			goto out;
		}
		if (h.type == TAR_HARDLINK) {
			ret = path_clean(&tmp, h.link, 1);
			if (ret != 0) {
				ret = ret < 0 ? err_set(e, ERR_NOMEM, "out of memory") :
				      err_set(e, ERR_INVALID, "%s: hard link '%s' escapes with '..'",
					      what, q);
				goto out;
			}
			for (i = 0; i < nm.names.n; i++)
				if (!strcmp(nm.names.v[i], tmp.data))
					break;
			if (i == nm.names.n) {
				ret = err_set(e, ERR_INVALID,
					      "%s: hard link '%s' to a file not earlier in the archive",
					      what, q);
				goto out;
			}
			le.type = TAR_FILE;
			le.data = nm.data[i];
		} else if (h.type == TAR_FILE) {
			int64_t off, left = h.size;
			long d;

			ret = spool_open(b, e);
			if (ret < 0)
				goto out;
			off = b->spool_size;
			while (left > 0) {
				ssize_t n = tar_reader_read(r, chunk, COPY_CHUNK, e);

				if (n < 0) {
					ret = (int)n;
					goto out;
				}
				if (n == 0)
					break;
				if (fs_write_all(b->spool_fd, chunk, (size_t)n) < 0) {
					ret = err_set_errno(e, ERR_IO, errno,
							    "cannot write a temporary file");
					goto out;
				}
				left -= n;
				b->spool_size += n;
			}
			if (left != 0) {
				ret = err_set(e, ERR_INVALID, "%s: entry '%s' is truncated", what, q);
				goto out;
			}
			d = push_data(b, NULL, off, h.size, e);
			if (d < 0) {
				ret = (int)d;
				goto out;
			}
			le.data = d;
		} else if (h.type == TAR_SYMLINK) {
			le.link = strdup(h.link);
			if (!le.link) {
				ret = err_set(e, ERR_NOMEM, "out of memory");
				goto out;
			}
		}
		if (le.type == TAR_FILE) {
			if (nm.names.n == nm.alloc) {
				size_t na = nm.alloc ? nm.alloc * 2 : 64;
				long *nd = realloc(nm.data, na * sizeof(*nd));

				if (!nd) {
					free(le.link);
					ret = err_set(e, ERR_NOMEM, "out of memory");
					goto out;
				}
				nm.data = nd;
				nm.alloc = na;
			}
			if (path_clean(&tmp, h.path, 1) != 0 || strvec_push(&nm.names, tmp.data) < 0) {
				free(le.link);
				ret = err_set(e, ERR_NOMEM, "out of memory");
				goto out;
			}
			nm.data[nm.names.n - 1] = le.data;
		}
		le.path = strdup(target.data);
		if (!le.path) {
			free(le.link);
			ret = err_set(e, ERR_NOMEM, "out of memory");
			goto out;
		}
		ret = push_entry(b, &le, e);
		if (ret < 0)
			goto out;
	}
	if (rc < 0) {
		ret = err_prefix(e, "%s", what);
		goto out;
	}
	ret = 0;
out:
	tar_reader_free(r);
	buf_release(&dir);
	buf_release(&target);
	buf_release(&tmp);
	strvec_clear(&nm.names);
	free(nm.data);
	free(chunk);
	return ret;
}

/* --- writing ----------------------------------------------------------- */

static int cmp_entries(const void *a, const void *b)
{
	const struct lentry *x = a, *y = b;
	int c = strcmp(x->path, y->path);

	if (c)
		return c;
	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

static int cmp_path_key(const void *key, const void *ent)
{
	return strcmp(key, ((const struct lentry *)ent)->path);
}

/* Sorts, keeps the last of each path.  A later directory over an earlier
 * one keeps the later metadata, as a second COPY into a directory would. */
static void sort_dedupe(struct layer_builder *b)
{
	size_t i, o = 0;

	qsort(b->ents, b->n, sizeof(*b->ents), cmp_entries);
	for (i = 0; i < b->n; i++) {
		if (i + 1 < b->n && !strcmp(b->ents[i].path, b->ents[i + 1].path)) {
			lentry_release(&b->ents[i]);
			continue;
		}
		b->ents[o++] = b->ents[i];
	}
	b->n = o;
}

/* Adds the missing parent directories; checks that every parent is one. */
static int add_parents(struct layer_builder *b, struct err *e)
{
	size_t n = b->n, i;
	int added = 0, ret;
	char q[256];

	for (i = 0; i < n; i++) {
		char *p = strdup(b->ents[i].path), *slash;

		if (!p)
			return err_set(e, ERR_NOMEM, "out of memory");
		while ((slash = strrchr(p, '/'))) {
			struct lentry *found;

			*slash = '\0';
			found = bsearch(p, b->ents, n, sizeof(*b->ents), cmp_path_key);
			if (found) {
				if (found->type != TAR_DIR) {
					quote(q, sizeof(q), b->ents[i].path);
					free(p);
					return err_set(e, ERR_INVALID,
						       "'/%s' needs a directory where the layer has a %s",
						       q, tar_type_name(found->type));
				}
				break;	/* its own parents are checked in its turn */
			} else {
				struct lentry le;

				memset(&le, 0, sizeof(le));
				le.type = TAR_DIR;
				le.mode = 0755;
				le.data = -1;
				le.seq = 0;
				le.path = strdup(p);
				if (!le.path) {
					free(p);
					return err_set(e, ERR_NOMEM, "out of memory");
				}
				ret = push_entry(b, &le, e);
				if (ret < 0) {
					free(p);
					return ret;
				}
				b->ents[b->n - 1].seq = 0;	/* never wins over a real entry */
				added = 1;
			}
		}
		free(p);
	}
	if (added)
		sort_dedupe(b);
	return 0;
}

/* open(src, O_RDONLY | O_NOFOLLOW), relative to the directory of the last
 * file opened when it is the same one (as O_NOFOLLOW, only the last
 * component is not followed either way). */
static int open_src(struct layer_builder *b, const char *src)
{
	const char *slash = strrchr(src, '/');
	size_t dlen = slash ? (size_t)(slash - src) : 0;

	if (!slash || dlen == 0)
		return open(src, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (b->dir_fd < 0 || b->dir.len != dlen || memcmp(b->dir.data, src, dlen)) {
		if (b->dir_fd >= 0)
			close(b->dir_fd);
		buf_reset(&b->dir);
		b->dir_fd = -1;
		if (buf_add(&b->dir, src, dlen) < 0)
			return open(src, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
		b->dir_fd = open(b->dir.data, O_PATH | O_DIRECTORY | O_CLOEXEC);
		if (b->dir_fd < 0)
			return open(src, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	}
	return openat(b->dir_fd, slash + 1, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
}

static int write_data(struct layer_builder *b, struct tar_writer *w, struct tar_header *h,
		      const struct ldata *d, struct err *e)
{
	char *chunk = NULL;
	char q[256];
	int64_t off = d->off, left = d->size;
	int fd = -1, ret;

	if (d->src) {
		struct stat st;

		quote(q, sizeof(q), d->src);
		fd = open_src(b, d->src);
		if (fd < 0)
			return err_set_errno(e, ERR_IO, errno, "cannot open '%s'", q);
		if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
			close(fd);
			return err_set(e, ERR_IO, "'%s' changed while the layer was built", q);
		}
		ret = tar_writer_add_fd(w, h, fd, e);
		close(fd);
		return ret;
	}
	ret = tar_writer_begin(w, h, e);
	if (ret < 0)
		return ret;
	chunk = malloc(COPY_CHUNK);
	if (!chunk)
		return err_set(e, ERR_NOMEM, "out of memory");
	while (left > 0) {
		size_t want = left > (int64_t)COPY_CHUNK ? COPY_CHUNK : (size_t)left;
		ssize_t n = pread(b->spool_fd, chunk, want, off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			ret = err_set_errno(e, ERR_IO, n < 0 ? errno : EIO,
					    "cannot read a temporary file");
			goto out;
		}
		ret = tar_writer_data(w, chunk, (size_t)n, e);
		if (ret < 0)
			goto out;
		off += n;
		left -= n;
	}
	ret = 0;
out:
	free(chunk);
	return ret;
}

void layer_result_release(struct layer_result *r)
{
	descriptor_release(&r->desc);
	memset(r, 0, sizeof(*r));
	descriptor_init(&r->desc);
}

int layer_file_sink(void *arg, const void *data, size_t len, struct err *e)
{
	const struct layer_file *f = arg;

	if (fs_write_all(f->fd, data, len) < 0)
		return err_set_errno(e, ERR_IO, errno, "cannot write %s", f->what);
	return 0;
}

ssize_t layer_file_source(void *arg, void *dst, size_t len, struct err *e)
{
	const struct layer_file *f = arg;
	ssize_t n;

	do
		n = read(f->fd, dst, len);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return err_set_errno(e, ERR_IO, errno, "cannot read %s", f->what);
	return n;
}

int layer_result_set(struct layer_result *out, const struct tar_result *res,
		     enum tar_compression c, struct err *e)
{
	if (!(out->desc.media_type = strdup(layer_media_type(c))))
		return err_set(e, ERR_NOMEM, "out of memory");
	out->desc.digest = res->digest;
	out->desc.size = res->size;
	out->diff_id = res->diff_id;
	out->diff_size = res->diff_size;
	return 0;
}

/* Sorted, deduplicated and with its parents: what a write writes. */
static int builder_prepare(struct layer_builder *b, struct err *e)
{
	sort_dedupe(b);
	return add_parents(b, e);
}

static void key_add(struct digest_ctx *c, const void *p, size_t n)
{
	digest_ctx_update(c, p, n, NULL);
}

static void key_i64(struct digest_ctx *c, int64_t v)
{
	unsigned char le[8];
	int i;

	for (i = 0; i < 8; i++)
		le[i] = (unsigned char)((uint64_t)v >> (8 * i));
	key_add(c, le, sizeof(le));
}

static void key_str(struct digest_ctx *c, const char *s)
{
	size_t n = s ? strlen(s) : 0;

	key_i64(c, s ? (int64_t)n : -1);
	key_add(c, s ? s : "", n);
}

static int64_t ts_ns(const struct timespec *t)
{
	return (int64_t)t->tv_sec * 1000000000 + t->tv_nsec;
}

int layer_builder_key(struct digest *out, int64_t *newest_ns, struct layer_builder *b,
		      const struct layer_write_opts *o, const char *salt, struct err *e)
{
	struct digest_ctx c;
	size_t i;
	long *first = NULL, next = 0;
	int ret;

	*newest_ns = 0;
	for (i = 0; i < b->n_datas; i++)
		if (!b->datas[i].src)
			return 1;	/* spooled data: no identity but its bytes */
	if ((ret = builder_prepare(b, e)) < 0)
		return ret;
	if (b->n_datas && !(first = malloc(b->n_datas * sizeof(*first))))
		return err_set(e, ERR_NOMEM, "out of memory");
	for (i = 0; i < b->n_datas; i++)
		first[i] = -1;
	if ((ret = digest_ctx_init(&c, DIGEST_SHA256, e)) < 0) {
		free(first);
		return ret;
	}
	key_str(&c, "hoist layer key 1");
	key_str(&c, salt);
	key_i64(&c, (int64_t)o->compression);
	key_i64(&c, o->level);
	key_i64(&c, b->o.mtime);
	key_i64(&c, (int64_t)b->n);
	for (i = 0; i < b->n; i++) {
		const struct lentry *le = &b->ents[i];

		key_str(&c, le->path);
		key_i64(&c, (int64_t)le->type);
		key_i64(&c, le->mode);
		key_i64(&c, le->uid);
		key_i64(&c, le->gid);
		key_str(&c, le->link);
		key_i64(&c, le->devmajor);
		key_i64(&c, le->devminor);
		if (le->type == TAR_FILE) {
			const struct ldata *d = &b->datas[le->data];
			int64_t t;

			/* the members of a hard-link set share one number: the
			 * order in which their data first appears */
			if (first[le->data] < 0) {
				first[le->data] = next++;
				key_i64(&c, -1);
			} else {
				key_i64(&c, first[le->data]);
			}
			key_i64(&c, d->size);
			key_i64(&c, (int64_t)d->dev);
			key_i64(&c, (int64_t)d->ino);
			key_i64(&c, ts_ns(&d->mtime));
			key_i64(&c, ts_ns(&d->ctime));
			t = ts_ns(&d->mtime) > ts_ns(&d->ctime) ? ts_ns(&d->mtime) : ts_ns(&d->ctime);
			if (t > *newest_ns)
				*newest_ns = t;
		}
	}
	digest_ctx_final(&c, out);
	digest_ctx_release(&c);
	free(first);
	return 0;
}

int layer_builder_write(struct layer_builder *b, const struct layer_write_opts *o,
			struct layer_result *out, struct err *e)
{
	struct tar_writer_opts wo;
	struct tar_writer *w = NULL;
	struct tar_result res;
	struct buf name = BUF_INIT;
	size_t i;
	int ret;

	memset(out, 0, sizeof(*out));
	descriptor_init(&out->desc);
	if ((ret = builder_prepare(b, e)) < 0)
		return ret;
	for (i = 0; i < b->n_datas; i++) {
		free(b->datas[i].written);
		b->datas[i].written = NULL;
	}
	memset(&wo, 0, sizeof(wo));
	wo.compression = o->compression;
	wo.level = o->level;
	wo.threads = o->threads;
	wo.sink = o->sink;
	wo.sink_arg = o->sink_arg;
	wo.no_digest = o->no_digest;
	ret = tar_writer_new(&w, &wo, e);
	if (ret < 0)
		goto out;
	for (i = 0; i < b->n; i++) {
		const struct lentry *le = &b->ents[i];
		struct tar_header h;

		memset(&h, 0, sizeof(h));
		buf_reset(&name);
		buf_addstr(&name, le->path);
		if (le->type == TAR_DIR)
			buf_addch(&name, '/');
		if (buf_failed(&name)) {
			ret = err_set(e, ERR_NOMEM, "out of memory");
			goto out;
		}
		h.path = name.data;
		h.type = le->type;
		h.mode = le->mode;
		h.uid = le->uid;
		h.gid = le->gid;
		h.mtime = b->o.mtime;
		h.link = le->link;
		h.devmajor = le->devmajor;
		h.devminor = le->devminor;
		if (le->type == TAR_FILE) {
			struct ldata *d = &b->datas[le->data];

			if (d->written) {
				h.type = TAR_HARDLINK;
				h.link = d->written;
				ret = tar_writer_add(w, &h, NULL, 0, e);
			} else {
				h.size = d->size;
				ret = write_data(b, w, &h, d, e);
				if (ret == 0 && !(d->written = strdup(le->path)))
					ret = err_set(e, ERR_NOMEM, "out of memory");
			}
		} else {
			ret = tar_writer_add(w, &h, NULL, 0, e);
		}
		if (ret < 0)
			goto out;
	}
	ret = tar_writer_finish(w, &res, e);
	if (ret < 0)
		goto out;
	if ((ret = layer_result_set(out, &res, o->compression, e)) < 0)
		goto out;
	out->n_entries = b->n;
	ret = 0;
out:
	if (b->dir_fd >= 0)
		close(b->dir_fd);
	b->dir_fd = -1;
	buf_reset(&b->dir);
	if (ret < 0)
		layer_result_release(out);
	tar_writer_free(w);
	buf_release(&name);
	return ret;
}

/* memo.c - the build's memo records.  See memo.h. */
#include "cache/memo.h"

#include "cache/layout.h"
#include "cache/store.h"
#include "core/base/buf.h"
#include "core/base/digest.h"
#include "core/base/err.h"
#include "core/base/fs.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define MEMO_MAX 4096

static int memo_kind_valid(const char *kind)
{
	size_t i, n = strlen(kind);

	if (!n || n > 32)
		return 0;
	for (i = 0; i < n; i++)
		if (!(kind[i] >= 'a' && kind[i] <= 'z'))
			return 0;
	return 1;
}

int memo_get(struct buf *out, struct layout *l, const char *kind,
	     const struct digest *key, struct err *e)
{
	struct buf path = BUF_INIT;
	int fd = -1, ret;

	if (!memo_kind_valid(kind))
		return err_set(e, ERR_USAGE, "invalid memo kind '%.40s'", kind);
	if (buf_addf(&path, STORE_MEMO_DIR "/%s/%s", kind, digest_hex(key)) < 0) {
		ret = err_set(e, ERR_NOMEM, "out of memory");
		goto out;
	}
	fd = openat(l->root_fd, path.data, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0) {
		if (errno == ENOENT)
			ret = err_set(e, ERR_NOT_FOUND, "no memo %s", path.data);
		else
			ret = err_set_errno(e, ERR_IO, errno, "cannot open '%s/%s'", l->root,
					    path.data);
		goto out;
	}
	if ((ret = store_read_all(out, fd, MEMO_MAX, path.data, e)) < 0)
		goto out;
	/* last used: gc keeps records younger than its grace period */
	futimens(fd, NULL);
	ret = 0;
out:
	if (fd >= 0)
		close(fd);
	buf_release(&path);
	return ret;
}

int memo_put(struct layout *l, const char *kind, const struct digest *key,
	     const char *data, size_t len, struct err *e)
{
	struct buf dir = BUF_INIT, path = BUF_INIT, tmp = BUF_INIT;
	char name[64];
	int fd = -1, ret, rc;

	if (!memo_kind_valid(kind) || len > MEMO_MAX)
		return err_set(e, ERR_USAGE, "invalid memo record");
	store_tmp_name(name, sizeof(name), l, "tmp");
	if (buf_addf(&dir, STORE_MEMO_DIR "/%s", kind) < 0 ||
	    buf_addf(&path, "%s/%s", dir.data, digest_hex(key)) < 0 ||
	    buf_addf(&tmp, "%s/%s", dir.data, name) < 0) {
		ret = err_set(e, ERR_NOMEM, "out of memory");
		goto out;
	}
	if ((ret = store_prepare(l, e)) < 0)
		goto out;
	rc = store_mkdir(l->root_fd, STORE_MEMO_DIR);
	if (rc >= 0)
		rc = store_mkdir(l->root_fd, dir.data);
	if (rc < 0) {
		ret = err_set_errno(e, ERR_IO, -rc, "cannot create '%s/%s'", l->root, dir.data);
		goto out;
	}
	/* no fsync: a record lost or torn by a crash reads as no record (the
	 * reader checks it whole), and costs one rebuild */
	fd = openat(l->root_fd, tmp.data, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	if (fd < 0) {
		ret = err_set_errno(e, ERR_IO, errno, "cannot create '%s/%s'", l->root, tmp.data);
		goto out;
	}
	rc = fs_write_all(fd, data, len) < 0 ? errno : 0;
	if (close(fd) < 0 && !rc)
		rc = errno;
	if (!rc && renameat(l->root_fd, tmp.data, l->root_fd, path.data) < 0)
		rc = errno;
	if (rc) {
		unlinkat(l->root_fd, tmp.data, 0);
		ret = err_set_errno(e, ERR_IO, rc, "cannot write '%s/%s'", l->root, path.data);
		goto out;
	}
	ret = 0;
out:
	buf_release(&dir);
	buf_release(&path);
	buf_release(&tmp);
	return ret;
}

/* Removes the records of one kind (the directory `kind` of .hoist/memo,
 * open as `top_fd`) last used before `cutoff`. */
static int memo_prune_kind(size_t *out_removed, struct layout *l, int top_fd, const char *kind,
			   int64_t cutoff, int dry_run, struct err *e)
{
	struct dirent *f;
	struct stat st;
	DIR *sub = NULL;
	int fd, ret = -1, rc;

	fd = openat(top_fd, kind, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0 && (errno == ENOENT || errno == ENOTDIR || errno == ELOOP))
		return 0;	/* not a kind hoist wrote: not ours */
	if (fd < 0 || !(sub = fdopendir(fd))) {
		ret = err_set_errno(e, ERR_IO, errno, "cannot list '%s/" STORE_MEMO_DIR "/%s'",
				    l->root, kind);
		if (fd >= 0)
			close(fd);
		goto out;
	}
	while ((f = layout_dir_next(sub, &rc))) {
		if (f->d_name[0] == '.' ||
		    fstatat(fd, f->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 ||
		    !S_ISREG(st.st_mode) || (int64_t)st.st_mtime >= cutoff)
			continue;
		if (!dry_run && unlinkat(fd, f->d_name, 0) < 0) {
			if (errno == ENOENT)
				continue;
			ret = err_set_errno(e, ERR_IO, errno, "cannot remove '%s/" STORE_MEMO_DIR
					    "/%s/%s'", l->root, kind, f->d_name);
			goto out;
		}
		(*out_removed)++;
	}
	if (rc) {
		ret = err_set_errno(e, ERR_IO, rc, "cannot list '%s/" STORE_MEMO_DIR "/%s'",
				    l->root, kind);
		goto out;
	}
	ret = 0;
out:
	if (sub)
		closedir(sub);
	return ret;
}

int memo_prune(size_t *out_removed, struct layout *l, int64_t cutoff, int dry_run,
	       struct err *e)
{
	DIR *top = NULL;
	struct dirent *k;
	int top_fd, ret = 0, rc = 0;

	*out_removed = 0;
	top_fd = openat(l->root_fd, STORE_MEMO_DIR, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (top_fd < 0)
		return errno == ENOENT ? 0 : err_set_errno(e, ERR_IO, errno, "cannot open '%s/"
							   STORE_MEMO_DIR "'", l->root);
	if (!(top = fdopendir(top_fd))) {
		close(top_fd);
		return err_set_errno(e, ERR_IO, errno, "cannot list '%s/" STORE_MEMO_DIR "'",
				     l->root);
	}
	while (ret == 0 && (k = layout_dir_next(top, &rc)))
		if (memo_kind_valid(k->d_name))
			ret = memo_prune_kind(out_removed, l, top_fd, k->d_name, cutoff, dry_run,
					      e);
	if (ret == 0 && rc)
		ret = err_set_errno(e, ERR_IO, rc, "cannot list '%s/" STORE_MEMO_DIR "'", l->root);
	closedir(top);
	return ret;
}

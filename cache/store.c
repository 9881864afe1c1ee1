/* store.c - the private parts of an open layout.  See store.h. */
#include "cache/store.h"

#include "core/base/buf.h"
#include "core/base/err.h"
#include "core/base/fs.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/random.h>
#include <sys/sysmacros.h>
#include <time.h>
#include <unistd.h>

int store_read_all(struct buf *out, int fd, size_t max, const char *what, struct err *e)
{
	size_t old = out->len;
	ssize_t r;
	int ret = -1;

	for (;;) {
		if (out->len - old > max) {
			ret = err_set(e, ERR_TOO_BIG, "%s is larger than %zu bytes", what, max);
			goto out;
		}
		if (buf_grow(out, 65536) < 0) {
			ret = err_set(e, ERR_NOMEM, "out of memory reading %s", what);
			goto out;
		}
		r = read(fd, out->data + out->len, out->cap - out->len - 1);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			ret = err_set_errno(e, ERR_IO, errno, "cannot read %s", what);
			goto out;
		}
		if (r == 0)
			break;
		out->len += (size_t)r;
		out->data[out->len] = '\0';
	}
	ret = 0;
out:
	if (ret < 0)
		buf_setlen(out, old);
	return ret;
}

int store_fsync(const struct layout *l, int fd)
{
	return l->no_sync ? 0 : fsync(fd);
}

int store_fsync_dir(const struct layout *l, int dirfd, const char *name)
{
	int fd;
	int rc = 0;

	if (l->no_sync)
		return 0;
	fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return errno;
	if (fsync(fd) < 0)
		rc = errno;
	close(fd);
	return rc;
}

int store_mkdir(int dirfd, const char *name)
{
	struct stat st;

	if (!mkdirat(dirfd, name, 0755))
		return 1;
	if (errno != EEXIST)
		return -errno;
	if (fstatat(dirfd, name, &st, 0) < 0)
		return -errno;
	return S_ISDIR(st.st_mode) ? 0 : -ENOTDIR;
}

void store_tmp_name(char *out, size_t outlen, struct layout *l, const char *prefix)
{
	uint32_t r = 0;
	unsigned seq;

	if (getrandom(&r, sizeof(r), GRND_NONBLOCK) != (ssize_t)sizeof(r))
		r = (uint32_t)time(NULL) ^ (uint32_t)(uintptr_t)&r;
	pthread_mutex_lock(&l->mu);
	seq = l->tmp_seq++;
	pthread_mutex_unlock(&l->mu);
	snprintf(out, outlen, "%s-%ld-%u-%08" PRIx32, prefix, (long)getpid(), seq, r);
}

/* Appends " (held by pid 12, 34)" for the processes /proc/locks names as
 * holding a flock on the file open as `fd`; nothing when it cannot tell. */
static void lock_holders(struct buf *out, int fd)
{
	struct stat st;
	char line[256];
	FILE *f;
	int n = 0;

	if (fstat(fd, &st) < 0)
		return;
	f = fopen("/proc/locks", "re");
	if (!f)
		return;
	while (n < 4 && fgets(line, sizeof(line), f)) {
		char *tok[8], *p = line, *end;
		unsigned long maj, min;
		unsigned long long ino;
		size_t nt = 0;
		long pid;

		while (nt < 8) {
			while (*p == ' ' || *p == '\t' || *p == '\n')
				*p++ = '\0';
			if (!*p)
				break;
			tok[nt++] = p;
			while (*p && *p != ' ' && *p != '\t' && *p != '\n')
				p++;
		}
		if (nt < 6 || strcmp(tok[1], "FLOCK"))
			continue;	/* also skips "1: -> FLOCK ..." waiters */
		pid = strtol(tok[4], &end, 10);
		if (*end || pid <= 0)
			continue;
		maj = strtoul(tok[5], &end, 16);
		if (*end != ':')
			continue;
		min = strtoul(end + 1, &end, 16);
		if (*end != ':')
			continue;
		ino = strtoull(end + 1, &end, 10);
		if (*end || maj != major(st.st_dev) || min != minor(st.st_dev) ||
		    ino != (unsigned long long)st.st_ino)
			continue;
		buf_addf(out, n ? ", %ld" : " (held by pid %ld", pid);
		n++;
	}
	if (n)
		buf_addch(out, ')');
	fclose(f);
}

int store_lock_wait(int fd, int op, int timeout_ms)
{
	struct timespec now, end, nap;
	long nap_ms = 1, left_ms;

	if (timeout_ms < 0) {
		while (flock(fd, op) < 0)
			if (errno != EINTR)
				return errno;
		return 0;
	}
	clock_gettime(CLOCK_MONOTONIC, &end);
	end.tv_sec += timeout_ms / 1000;
	end.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
	if (end.tv_nsec >= 1000000000L) {
		end.tv_sec++;
		end.tv_nsec -= 1000000000L;
	}
	for (;;) {
		if (!flock(fd, op | LOCK_NB))
			return 0;
		if (errno == EINTR)
			continue;
		if (errno != EWOULDBLOCK)
			return errno;
		clock_gettime(CLOCK_MONOTONIC, &now);
		left_ms = (long)(end.tv_sec - now.tv_sec) * 1000L +
			  (end.tv_nsec - now.tv_nsec) / 1000000L;
		if (left_ms <= 0)
			return EWOULDBLOCK;
		if (nap_ms > left_ms)
			nap_ms = left_ms;
		nap.tv_sec = nap_ms / 1000;
		nap.tv_nsec = (nap_ms % 1000) * 1000000L;
		nanosleep(&nap, NULL);
		if (nap_ms < 25)
			nap_ms *= 2;
	}
}

int store_prepare_locked(struct layout *l, struct err *e)
{
	int rc;

	if (l->ingest_fd >= 0)
		return 0;
	rc = store_mkdir(l->root_fd, STORE_HOIST_DIR);
	if (rc >= 0)
		rc = store_mkdir(l->root_fd, STORE_INGEST_DIR);
	if (rc < 0)
		return err_set_errno(e, ERR_IO, -rc, "cannot create '%s/" STORE_INGEST_DIR "'",
				     l->root);
	l->ingest_fd = openat(l->root_fd, STORE_INGEST_DIR, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (l->ingest_fd < 0)
		return err_set_errno(e, ERR_IO, errno, "cannot open '%s/" STORE_INGEST_DIR "'",
				     l->root);
	return 0;
}

int store_prepare(struct layout *l, struct err *e)
{
	int ret;

	pthread_mutex_lock(&l->mu);
	ret = store_prepare_locked(l, e);
	pthread_mutex_unlock(&l->mu);
	return ret;
}

int store_lock_timeout(struct layout *l)
{
	int t;

	pthread_mutex_lock(&l->mu);
	t = l->timeout_ms;
	pthread_mutex_unlock(&l->mu);
	return t;
}

int store_lock_failed(struct err *e, int rc, int fd, struct layout *l, int timeout_ms,
		      enum store_lock_kind kind)
{
	struct buf who = BUF_INIT;
	int ret;

	if (rc != EWOULDBLOCK)
		return err_set_errno(e, ERR_IO, rc, "cannot lock '%s/%s'", l->root,
				     kind == STORE_LOCK_INDEX ? STORE_INDEX_LOCK : STORE_GC_LOCK);
	lock_holders(&who, fd);
	switch (kind) {
	case STORE_LOCK_LEASE:
		ret = err_set(e, ERR_LOCKED, "cannot start writing to layout '%s': 'hoist cache "
			      "gc' is running on it%s; waited %d ms: retry when it has finished",
			      l->root, who.data, timeout_ms);
		break;
	case STORE_LOCK_GC:
		ret = err_set(e, ERR_LOCKED, "cannot lock layout '%s' for gc: writers hold "
			      "leases on it%s; waited %d ms: retry when they have finished "
			      "pulling or building", l->root, who.data, timeout_ms);
		break;
	default:
		ret = err_set(e, ERR_LOCKED, "index.json of layout '%s' is being updated by "
			      "another process%s; waited %d ms: retry, or stop the process "
			      "holding '%s/" STORE_INDEX_LOCK "'", l->root, who.data, timeout_ms,
			      l->root);
		break;
	}
	buf_release(&who);
	return ret;
}

int store_index_lock(int *out_fd, struct layout *l, struct err *e)
{
	int fd = -1, ret, rc, timeout_ms = store_lock_timeout(l);

	*out_fd = -1;
	if ((ret = store_prepare(l, e)) < 0)
		goto out;
	fd = openat(l->root_fd, STORE_INDEX_LOCK, O_RDONLY | O_CREAT | O_CLOEXEC, 0644);
	if (fd < 0) {
		ret = err_set_errno(e, ERR_IO, errno, "cannot open '%s/" STORE_INDEX_LOCK "'",
				    l->root);
		goto out;
	}
	rc = store_lock_wait(fd, LOCK_EX, timeout_ms);
	if (rc) {
		ret = store_lock_failed(e, rc, fd, l, timeout_ms, STORE_LOCK_INDEX);
		goto out;
	}
	*out_fd = fd;
	fd = -1;
	ret = 0;
out:
	if (fd >= 0)
		close(fd);
	return ret;
}

int store_replace_file(struct layout *l, const char *tmp, const char *name, const char *dir,
		       const char *data, size_t len, struct err *e)
{
	int fd, rc, made = 0, ret = -1;

	fd = openat(l->root_fd, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0) {
		ret = err_set_errno(e, ERR_IO, errno, "cannot create '%s/%s'", l->root, tmp);
		goto out;
	}
	made = 1;
	rc = fs_write_all(fd, data, len) < 0 ? errno : 0;
	if (!rc && store_fsync(l, fd) < 0)
		rc = errno;
	if (close(fd) < 0 && !rc)
		rc = errno;
	if (rc) {
		ret = err_set_errno(e, ERR_IO, rc, "cannot write '%s/%s'", l->root, tmp);
		goto out;
	}
	if (renameat(l->root_fd, tmp, l->root_fd, name) < 0) {
		ret = err_set_errno(e, ERR_IO, errno, "cannot replace '%s/%s'", l->root, name);
		goto out;
	}
	made = 0;
	rc = store_fsync_dir(l, l->root_fd, dir);
	if (rc) {
		ret = err_set_errno(e, ERR_IO, rc, "cannot sync '%s/%s'", l->root, dir);
		goto out;
	}
	ret = 0;
out:
	if (made)
		unlinkat(l->root_fd, tmp, 0);
	return ret;
}

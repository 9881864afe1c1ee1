/* layout.c - the OCI image-layout store.  See layout.h. */
#include "cache/layout.h"

#include "core/base/buf.h"
#include "core/base/digest.h"
#include "core/base/err.h"
#include "core/base/json.h"
#include "core/base/strvec.h"
#include "core/model/manifest.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <time.h>
#include <unistd.h>

#define HOIST_DIR ".hoist"
#define INGEST_DIR ".hoist/ingest"
#define GC_LOCK ".hoist/gc.lock"
#define INDEX_LOCK ".hoist/index.lock"
#define INDEX_TMP ".hoist/index.json.tmp"
#define META_INDEX ".hoist/meta-index.json"
#define META_INDEX_TMP ".hoist/meta-index.json.tmp"
#define REFS_DIR ".hoist/refs"
#define SOURCES_DIR ".hoist/sources"
#define MEMO_DIR ".hoist/memo"
#define MEMO_MAX 4096
#define BLOB_PUT_CHECK_MAX (1u << 20)
#define SOURCES_MAX_LINES 32
#define SOURCE_MAX 512
#define OCI_LAYOUT_MAX 4096
#define REF_NAME_MAX 4096
#define BLOB_PATH_MAX (DIGEST_STR_MAX + 16)

static const char oci_layout_content[] = "{\"imageLayoutVersion\":\"1.0.0\"}";
static const char index_content[] =
	"{\"schemaVersion\":2,\"mediaType\":\"" MT_OCI_INDEX "\",\"manifests\":[]}";

struct layout {
	char *root;		/* the path as given */
	int root_fd;		/* O_DIRECTORY */
	int timeout_ms;		/* implicit lease and index.lock wait */
	pthread_mutex_t mu;	/* guards everything below */
	int ingest_fd;		/* .hoist/ingest, -1 until first needed */
	int gc_fd;		/* .hoist/gc.lock while a lease or the gc lock is held */
	unsigned lease_depth;
	int gc_locked;
	unsigned tmp_seq;
	int no_sync;		/* LAYOUT_NO_SYNC: a scratch layout */
	int scratch;		/* layout_open_scratch(): removed by layout_free() */
	int cache;		/* LAYOUT_CACHE: messages name `hoist cache` */
	/* The last index.json (0) and meta-index.json (1) parsed, with the
	 * stat of the file they came from (read_index). */
	struct json *idx[2];
	struct stat idx_st[2];
};

struct blob_writer {
	struct layout *l;
	int fd;			/* the temporary file, flocked LOCK_EX */
	char name[64];		/* its name in .hoist/ingest; "" once renamed */
	struct digest_ctx ctx;
	int have_expect;
	struct digest expect;
	int64_t expect_size;	/* -1 = unknown */
	int failed;		/* code of the first failed write, else 0 */
	uint64_t synced;	/* bytes handed to writeback (sync_file_range) */
	int final;		/* `got` holds the digest: no more writes */
	struct digest got;
};

/* Writeback of a blob being written is started every this many bytes. */
#define WRITEBACK_STRETCH (8u << 20)

/* --- small file helpers ----------------------------------------------- */

static int write_all(int fd, const void *p, size_t n)
{
	const char *c = p;
	ssize_t w;

	while (n) {
		w = write(fd, c, n);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return errno;
		}
		c += w;
		n -= (size_t)w;
	}
	return 0;
}

/* Appends the whole file open as `fd` to `out`, at most `max` bytes. */
static int read_all(struct buf *out, int fd, size_t max, const char *what, struct err *e)
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

/* fsync(fd) unless the layout is a scratch one (LAYOUT_NO_SYNC). */
static int l_fsync(const struct layout *l, int fd)
{
	return l->no_sync ? 0 : fsync(fd);
}

static int fsync_dir_at(const struct layout *l, int dirfd, const char *name)
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

/* mkdirat that accepts an existing directory.  Returns 1 when it created
 * the directory, 0 when it existed, -errno on failure. */
static int mkdir_at(int dirfd, const char *name)
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

/* mkdir -p with mode 0755. */
static int mkdir_parents(const char *path, struct err *e)
{
	struct buf p = BUF_INIT;
	size_t i;
	int ret = -1, rc;

	if (buf_addstr(&p, path) < 0) {
		ret = err_set(e, ERR_NOMEM, "out of memory");
		goto out;
	}
	for (i = 1; i <= p.len; i++) {
		if (i < p.len && p.data[i] != '/')
			continue;
		if (p.data[i - 1] == '/')
			continue;
		p.data[i] = '\0';
		rc = mkdir_at(AT_FDCWD, p.data);
		if (rc < 0) {
			ret = err_set_errno(e, ERR_IO, -rc, "cannot create directory '%s'", p.data);
			goto out;
		}
		if (i < p.len)
			p.data[i] = '/';
	}
	ret = 0;
out:
	buf_release(&p);
	return ret;
}

/* A name for a temporary file: "<prefix>-<pid>-<seq>-<random>". */
static void tmp_name(char *out, size_t outlen, struct layout *l, const char *prefix)
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

/* flock with a timeout: polls LOCK_NB with short sleeps.  Returns 0 or an
 * errno value (EWOULDBLOCK when the time ran out). */
static int lock_wait(int fd, int op, int timeout_ms)
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

/* Creates .hoist/ and .hoist/ingest/ when missing and opens the latter.
 * Call with l->mu held. */
static int hoist_prepare_locked(struct layout *l, struct err *e)
{
	int rc;

	if (l->ingest_fd >= 0)
		return 0;
	rc = mkdir_at(l->root_fd, HOIST_DIR);
	if (rc >= 0)
		rc = mkdir_at(l->root_fd, INGEST_DIR);
	if (rc < 0)
		return err_set_errno(e, ERR_IO, -rc, "cannot create '%s/" INGEST_DIR "'",
				     l->root);
	l->ingest_fd = openat(l->root_fd, INGEST_DIR, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (l->ingest_fd < 0)
		return err_set_errno(e, ERR_IO, errno, "cannot open '%s/" INGEST_DIR "'", l->root);
	return 0;
}

static int hoist_prepare(struct layout *l, struct err *e)
{
	int ret;

	pthread_mutex_lock(&l->mu);
	ret = hoist_prepare_locked(l, e);
	pthread_mutex_unlock(&l->mu);
	return ret;
}

/* Writes `name` in the root with `data` unless it exists: a temporary file
 * in .hoist/ is written, fsynced and hard-linked to `name`, so a concurrent
 * creator's file is never overwritten and nobody sees a partial one. */
static int create_file(struct layout *l, const char *name, const char *data, struct err *e)
{
	char tmp[96], rel[128];
	int fd = -1, ret = -1, rc;

	tmp_name(tmp, sizeof(tmp), l, "create");
	snprintf(rel, sizeof(rel), HOIST_DIR "/%s", tmp);
	fd = openat(l->root_fd, rel, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	if (fd < 0) {
		ret = err_set_errno(e, ERR_IO, errno, "cannot create '%s/%s'", l->root, rel);
		goto out;
	}
	rc = write_all(fd, data, strlen(data));
	if (!rc && l_fsync(l, fd) < 0)
		rc = errno;
	if (rc) {
		ret = err_set_errno(e, ERR_IO, rc, "cannot write '%s/%s'", l->root, rel);
		goto out;
	}
	if (linkat(l->root_fd, rel, l->root_fd, name, 0) < 0 && errno != EEXIST) {
		/* file systems without hard links: fall back to rename */
		if (renameat(l->root_fd, rel, l->root_fd, name) < 0) {
			ret = err_set_errno(e, ERR_IO, errno, "cannot create '%s/%s'", l->root,
					    name);
			goto out;
		}
	}
	ret = 0;
out:
	if (fd >= 0) {
		close(fd);
		unlinkat(l->root_fd, rel, 0);
	}
	return ret;
}

struct dirent *layout_dir_next(DIR *d, int *out_errno)
{
	struct dirent *de;

	errno = 0;
	de = readdir(d);
	*out_errno = de ? 0 : errno;
	return de;
}

/* *out_only = 1 when the root holds nothing but entries named in ok[]. */
static int dir_only(int *out_only, struct layout *l, const char *const *ok, size_t n_ok,
		    struct err *e)
{
	struct dirent *de;
	DIR *d = NULL;
	size_t i;
	int fd, ret = -1, rc;

	*out_only = 1;
	fd = openat(l->root_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0 || !(d = fdopendir(fd))) {
		ret = err_set_errno(e, ERR_IO, errno, "cannot list '%s'", l->root);
		if (fd >= 0)
			close(fd);
		goto out;
	}
	while ((de = layout_dir_next(d, &rc))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		for (i = 0; i < n_ok && strcmp(de->d_name, ok[i]); i++)
			;
		if (i == n_ok) {
			*out_only = 0;
			break;
		}
	}
	if (rc) {
		ret = err_set_errno(e, ERR_IO, rc, "cannot list '%s'", l->root);
		goto out;
	}
	ret = 0;
out:
	if (d)
		closedir(d);
	return ret;
}

/* With LAYOUT_CREATE on a directory without oci-layout: allowed only when
 * it holds nothing but the parts a half-finished create leaves behind. */
static int check_empty(struct layout *l, struct err *e)
{
	static const char *const ok[] = { "blobs", "index.json", HOIST_DIR };
	int only, ret;

	if ((ret = dir_only(&only, l, ok, sizeof(ok) / sizeof(ok[0]), e)) < 0)
		return ret;
	if (!only)
		return err_set(e, ERR_EXISTS, "'%s' is not an OCI image layout and not empty; "
			       "refusing to create a layout there: choose a new or empty directory",
			       l->root);
	return 0;
}

/* The parts every layout has, as layout_open() checks them. */
static const char *const layout_parts[] = { "oci-layout", "index.json", "blobs" };
#define N_PARTS (sizeof(layout_parts) / sizeof(layout_parts[0]))

/* ERR_INVALID: a layout lacking the parts flagged in missing[]. */
static int layout_damaged(struct layout *l, const int *missing, size_t n_missing,
			  struct err *e)
{
	struct buf what = BUF_INIT;
	size_t i, k = 0;
	const char *them = n_missing > 1 ? "them" : "it";
	int ret;

	for (i = 0; i < N_PARTS; i++) {
		if (!missing[i])
			continue;
		buf_addf(&what, "%s%s%s", k ? (k + 1 == n_missing ? " and " : ", ") : "",
			 layout_parts[i], i == 0 ? " file" : i == 2 ? "/" : "");
		k++;
	}
	if (buf_failed(&what))
		ret = err_set(e, ERR_NOMEM, "out of memory");
	else if (l->cache)
		ret = err_set(e, ERR_INVALID, "'%s' is damaged: its %s %s missing; run "
			      "'hoist cache verify --repair' to recreate %s and check every blob",
			      l->root, what.data, n_missing > 1 ? "are" : "is", them);
	else if (n_missing == 1 && missing[0])
		ret = err_set(e, ERR_INVALID, "layout '%s' is damaged: its oci-layout file is "
			      "missing; write {\"imageLayoutVersion\":\"1.0.0\"} to '%s/oci-layout' "
			      "to repair it", l->root, l->root);
	else
		ret = err_set(e, ERR_INVALID, "layout '%s' is damaged: its %s %s missing; "
			      "'hoist pull IMAGE %s' recreates %s", l->root, what.data,
			      n_missing > 1 ? "are" : "is", l->root, them);
	buf_release(&what);
	return ret;
}

/* Without LAYOUT_CREATE: every part must be there.  See layout_open(). */
static int check_parts(struct layout *l, struct err *e)
{
	static const char *const hoist_only[] = { HOIST_DIR };
	int missing[N_PARTS], only, ret;
	size_t i, n_missing = 0;
	struct stat st;

	for (i = 0; i < N_PARTS; i++) {
		missing[i] = fstatat(l->root_fd, layout_parts[i], &st, 0) < 0;
		if (missing[i] && errno != ENOENT)
			return err_set_errno(e, ERR_IO, errno, "cannot look at '%s/%s'", l->root,
					     layout_parts[i]);
		n_missing += (size_t)missing[i];
	}
	if (!n_missing)
		return 0;
	if (n_missing < N_PARTS)
		return layout_damaged(l, missing, n_missing, e);
	if ((ret = dir_only(&only, l, hoist_only, 1, e)) < 0)
		return ret;
	if (only)
		return err_set(e, ERR_NOT_FOUND, "no OCI layout at '%s': the directory is empty",
			       l->root);
	if (l->cache)
		return err_set(e, ERR_INVALID, "'%s' holds files but no OCI image layout, so it "
			       "is not a cache: give another directory with --cache or "
			       "$HOIST_CACHE", l->root);
	return err_set(e, ERR_INVALID, "'%s' is not an OCI image layout: it has no "
		       "oci-layout, index.json or blobs/; check the path", l->root);
}

static int create_parts(struct layout *l, struct err *e)
{
	struct stat st;
	int rc, ret = -1;

	/* The common case, an existing layout, writes and syncs nothing. */
	if (fstatat(l->root_fd, "oci-layout", &st, 0) == 0 &&
	    fstatat(l->root_fd, "index.json", &st, 0) == 0 &&
	    fstatat(l->root_fd, "blobs/sha256", &st, 0) == 0 && S_ISDIR(st.st_mode))
		return 0;
	if (fstatat(l->root_fd, "oci-layout", &st, 0) < 0 && errno == ENOENT &&
	    (ret = check_empty(l, e)) < 0)
		goto out;
	if ((ret = hoist_prepare(l, e)) < 0)
		goto out;
	rc = mkdir_at(l->root_fd, "blobs");
	if (rc >= 0)
		rc = mkdir_at(l->root_fd, "blobs/sha256");
	if (rc < 0) {
		ret = err_set_errno(e, ERR_IO, -rc, "cannot create '%s/blobs/sha256'", l->root);
		goto out;
	}
	/* oci-layout last: a directory that has it is a complete layout */
	if ((ret = create_file(l, "index.json", index_content, e)) < 0 ||
	    (ret = create_file(l, "oci-layout", oci_layout_content, e)) < 0)
		goto out;
	if (l_fsync(l, l->root_fd) < 0) {
		ret = err_set_errno(e, ERR_IO, errno, "cannot sync '%s'", l->root);
		goto out;
	}
	ret = 0;
out:
	return ret;
}

/* Reads a small file of the root into `out`; ERR_NOT_FOUND when missing. */
static int read_at(struct buf *out, struct layout *l, const char *name, size_t max,
		   struct err *e)
{
	int fd, ret;

	fd = openat(l->root_fd, name, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		if (errno == ENOENT)
			return err_set(e, ERR_NOT_FOUND, "'%s' has no %s: it is not an OCI image "
				       "layout", l->root, name);
		return err_set_errno(e, ERR_IO, errno, "cannot open '%s/%s'", l->root, name);
	}
	ret = read_all(out, fd, max, name, e);
	close(fd);
	if (ret < 0)
		err_prefix(e, "layout '%s'", l->root);
	return ret;
}

static int check_version(struct layout *l, struct err *e)
{
	struct buf b = BUF_INIT;
	struct json *j = NULL;
	const char *v;
	int ret;

	if ((ret = read_at(&b, l, "oci-layout", OCI_LAYOUT_MAX, e)) < 0)
		goto out;
	if ((ret = json_parse(&j, b.data, b.len, e)) < 0) {
		err_prefix(e, "'%s/oci-layout'", l->root);
		goto out;
	}
	v = json_get_str(j, "imageLayoutVersion");
	if (!v) {
		ret = err_set(e, ERR_INVALID, "'%s/oci-layout' has no imageLayoutVersion: write "
			      "{\"imageLayoutVersion\":\"1.0.0\"} to it if the directory is an "
			      "image-spec 1.x layout", l->root);
		goto out;
	}
	if (strncmp(v, "1.", 2)) {
		ret = err_set(e, ERR_UNSUPPORTED, "'%s' is an OCI layout version '%.32s'; hoist "
			      "supports 1.x", l->root, v);
		goto out;
	}
	ret = 0;
out:
	json_free(j);
	buf_release(&b);
	return ret;
}

static const char *index_file(enum layout_index which)
{
	return which == LAYOUT_INDEX_META ? META_INDEX : "index.json";
}

/* An index file older than this (seconds) when parsed is kept parsed. */
#define INDEX_STABLE_S 2

static int same_file(const struct stat *a, const struct stat *b)
{
	return a->st_dev == b->st_dev && a->st_ino == b->st_ino && a->st_size == b->st_size &&
	       a->st_mtim.tv_sec == b->st_mtim.tv_sec && a->st_mtim.tv_nsec == b->st_mtim.tv_nsec &&
	       a->st_ctim.tv_sec == b->st_ctim.tv_sec && a->st_ctim.tv_nsec == b->st_ctim.tv_nsec;
}

/* A copy of the index `which` as last parsed, when the file is still the
 * one it came from, else NULL. */
static struct json *index_cached(struct layout *l, enum layout_index which)
{
	struct stat st;
	struct json *j = NULL;
	int slot = which == LAYOUT_INDEX_META;

	if (fstatat(l->root_fd, index_file(which), &st, 0) < 0)
		return NULL;
	pthread_mutex_lock(&l->mu);
	if (l->idx[slot] && same_file(&st, &l->idx_st[slot]))
		j = json_copy(l->idx[slot]);
	pthread_mutex_unlock(&l->mu);
	return j;
}

/* Keeps `j` (taking it: returns 1), parsed from a file that `st` describes,
 * with l->mu held.  Only a file last changed INDEX_STABLE_S before is kept:
 * one rewritten within the same clock tick, with the same size and a reused
 * inode, would look unchanged (git's "racily clean" entries); a layout
 * being written to is reread each time. */
static int index_keep_locked(struct layout *l, enum layout_index which, struct json *j,
			     const struct stat *st)
{
	struct timespec now;
	int slot = which == LAYOUT_INDEX_META;

	if (clock_gettime(CLOCK_REALTIME, &now) < 0 ||
	    st->st_mtim.tv_sec + INDEX_STABLE_S >= now.tv_sec ||
	    st->st_ctim.tv_sec + INDEX_STABLE_S >= now.tv_sec)
		return 0;
	json_free(l->idx[slot]);
	l->idx[slot] = j;
	l->idx_st[slot] = *st;
	return 1;
}

/* Parses index.json or .hoist/meta-index.json (a missing meta index is an
 * empty one); guarantees an object with a "manifests" array.  *out_st gets
 * the file's stat (*out_have_st = 0 when there is none). */
static int index_parse(struct json **out, struct stat *out_st, int *out_have_st,
		       struct layout *l, enum layout_index which, struct err *e)
{
	const char *name = index_file(which);
	struct buf b = BUF_INIT;
	struct json *j = NULL, *m;
	int ret, fd;

	*out = NULL;
	*out_have_st = 0;
	fd = openat(l->root_fd, name, O_RDONLY | O_CLOEXEC);
	if (fd < 0 && errno == ENOENT) {
		ret = err_set(e, ERR_NOT_FOUND, "'%s' has no %s: it is not an OCI image layout",
			      l->root, name);
	} else if (fd < 0) {
		ret = err_set_errno(e, ERR_IO, errno, "cannot open '%s/%s'", l->root, name);
	} else {
		*out_have_st = fstat(fd, out_st) == 0;
		ret = read_all(&b, fd, LAYOUT_INDEX_MAX, name, e);
		close(fd);
		if (ret < 0)
			err_prefix(e, "layout '%s'", l->root);
	}
	if (ret == ERR_NOT_FOUND && which == LAYOUT_INDEX_META) {
		err_clear(e);
		ret = buf_addstr(&b, index_content);
		if (ret < 0) {
			ret = err_set(e, ERR_NOMEM, "out of memory");
			goto out;
		}
	}
	if (ret < 0)
		goto out;
	if ((ret = json_parse(&j, b.data, b.len, e)) < 0) {
		err_prefix(e, "'%s/%s'", l->root, name);
		goto out;
	}
	if (json_kind_of(j) != JSON_OBJECT) {
		ret = err_set(e, ERR_INVALID, "'%s/%s' is not a JSON object", l->root, name);
		goto out;
	}
	m = json_get(j, "manifests");
	if (!m) {
		if (json_set(j, "manifests", json_new_array()) < 0) {
			ret = err_set(e, ERR_NOMEM, "out of memory");
			goto out;
		}
	} else if (json_kind_of(m) != JSON_ARRAY) {
		ret = err_set(e, ERR_INVALID, "'%s/%s': \"manifests\" is not an array",
			      l->root, name);
		goto out;
	}
	*out = j;
	j = NULL;
	ret = 0;
out:
	json_free(j);
	buf_release(&b);
	return ret;
}

/* index_parse(), or a copy of the parse index_read_ro() kept when the file
 * has not changed since: the caller may change it. */
static int read_index(struct json **out, struct layout *l, enum layout_index which,
		      struct err *e)
{
	struct stat st;
	int have_st;

	*out = index_cached(l, which);
	if (*out)
		return 0;
	return index_parse(out, &st, &have_st, l, which, e);
}

/* The index `which` for reading only (a warm pull looks index.json up
 * three times): the kept parse itself when the file is unchanged, borrowed
 * under l->mu (*out_borrowed = 1), else a fresh parse, kept when the file
 * is stable.  Hand both to index_ro_done(). */
static int index_read_ro(struct json **out, int *out_borrowed, struct layout *l,
			 enum layout_index which, struct err *e)
{
	struct stat st;
	int slot = which == LAYOUT_INDEX_META, have_st, ret;

	*out_borrowed = 0;
	if (fstatat(l->root_fd, index_file(which), &st, 0) == 0) {
		pthread_mutex_lock(&l->mu);
		if (l->idx[slot] && same_file(&st, &l->idx_st[slot])) {
			*out = l->idx[slot];
			*out_borrowed = 1;
			return 0;
		}
		pthread_mutex_unlock(&l->mu);
	}
	if ((ret = index_parse(out, &st, &have_st, l, which, e)) < 0 || !have_st)
		return ret;
	pthread_mutex_lock(&l->mu);
	if (index_keep_locked(l, which, *out, &st))
		*out_borrowed = 1;
	else
		pthread_mutex_unlock(&l->mu);
	return 0;
}

static void index_ro_done(struct layout *l, struct json *j, int borrowed)
{
	if (borrowed)
		pthread_mutex_unlock(&l->mu);
	else
		json_free(j);
}

/* --- open and close --------------------------------------------------- */

int layout_open(struct layout **out, const char *path, unsigned flags, struct err *e)
{
	struct layout *l = NULL;
	struct json *idx = NULL;
	struct stat st;
	int ret = -1, borrowed = 0;

	*out = NULL;
	if (!path || !*path)
		return err_set(e, ERR_USAGE, "empty layout path");
	l = calloc(1, sizeof(*l));
	if (!l || !(l->root = strdup(path))) {
		ret = err_set(e, ERR_NOMEM, "out of memory");
		goto out;
	}
	l->root_fd = l->ingest_fd = l->gc_fd = -1;
	l->timeout_ms = LAYOUT_LOCK_TIMEOUT_DEFAULT_MS;
	l->no_sync = !!(flags & LAYOUT_NO_SYNC);
	l->cache = !!(flags & LAYOUT_CACHE);
	pthread_mutex_init(&l->mu, NULL);
	if ((flags & LAYOUT_CREATE) && (ret = mkdir_parents(path, e)) < 0)
		goto out;
	l->root_fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (l->root_fd < 0) {
		if (errno == ENOENT)
			ret = err_set(e, ERR_NOT_FOUND, "no OCI layout at '%s': the directory "
				      "does not exist", path);
		else if (errno == ENOTDIR)
			ret = err_set(e, ERR_INVALID, "'%s' is not a directory: give the directory "
				      "of a layout", path);
		else
			ret = err_set_errno(e, ERR_IO, errno, "cannot open layout '%s'", path);
		goto out;
	}
	if ((flags & LAYOUT_CREATE) && (ret = create_parts(l, e)) < 0)
		goto out;
	if (!(flags & LAYOUT_CREATE) && (ret = check_parts(l, e)) < 0)
		goto out;
	if ((ret = check_version(l, e)) < 0 ||
	    (ret = index_read_ro(&idx, &borrowed, l, LAYOUT_INDEX_MAIN, e)) < 0)
		goto out;
	index_ro_done(l, idx, borrowed);
	idx = NULL;
	if (fstatat(l->root_fd, "blobs", &st, 0) < 0 || !S_ISDIR(st.st_mode)) {
		ret = err_set(e, ERR_INVALID, "layout '%s' is damaged: its blobs/ is not a "
			      "directory; move it away, then pull the images again", path);
		goto out;
	}
	*out = l;
	l = NULL;
	ret = 0;
out:
	json_free(idx);
	layout_free(l);
	return ret;
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	remove(path);
	return 0;
}

void layout_free(struct layout *l)
{
	if (!l)
		return;
	if (l->gc_fd >= 0)
		close(l->gc_fd);	/* drops a lease or gc lock still held */
	if (l->ingest_fd >= 0)
		close(l->ingest_fd);
	if (l->root_fd >= 0)
		close(l->root_fd);
	json_free(l->idx[0]);
	json_free(l->idx[1]);
	if (l->root)
		pthread_mutex_destroy(&l->mu);
	if (l->scratch)
		nftw(l->root, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	free(l->root);
	free(l);
}

int layout_open_scratch(struct layout **out, const char *tmp_dir, const char *what,
			unsigned flags, struct err *e)
{
	struct buf dir = BUF_INIT;
	int ret;

	*out = NULL;
	if (buf_addf(&dir, "%s/hoist-%s-XXXXXX", tmp_dir, what) < 0)
		return err_set(e, ERR_NOMEM, "out of memory");
	if (!mkdtemp(dir.data)) {
		ret = err_set_errno(e, ERR_IO, errno, "cannot make a temporary directory "
				    "'%s' (set TMPDIR to a writable directory)", dir.data);
		goto out;
	}
	ret = layout_open(out, dir.data, LAYOUT_CREATE | flags, e);
	if (ret < 0)
		nftw(dir.data, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	else
		(*out)->scratch = 1;
out:
	buf_release(&dir);
	return ret;
}

const char *layout_path(const struct layout *l)
{
	return l->root;
}

void layout_set_lock_timeout(struct layout *l, int timeout_ms)
{
	pthread_mutex_lock(&l->mu);
	l->timeout_ms = timeout_ms;
	pthread_mutex_unlock(&l->mu);
}

static int lock_timeout(struct layout *l)
{
	int t;

	pthread_mutex_lock(&l->mu);
	t = l->timeout_ms;
	pthread_mutex_unlock(&l->mu);
	return t;
}

/* --- leases and the gc lock -------------------------------------------
 *
 * Why a lease makes `hoist cache gc` safe while others pull and build.
 *
 * gc will: take .hoist/gc.lock with LOCK_EX, read index.json, mark every blob
 * reachable from it, and delete only unmarked blobs whose mtime is older than
 * a grace period, plus the files in .hoist/ingest it can flock LOCK_EX|LOCK_NB.
 * A writer holds .hoist/gc.lock with LOCK_SH (its lease) from before it writes
 * or checks for its first blob until after its index.json entry has been
 * renamed into place and fsynced.  flock never grants LOCK_EX while any
 * LOCK_SH is held, nor LOCK_SH while LOCK_EX is held, so a gc run and a lease
 * never overlap, and each gc run is either wholly before or wholly after it:
 *  - gc before the lease: whatever gc deleted was gone before the writer
 *    looked; "present" is only ever answered for blobs that survived, and
 *    the writer writes the missing ones itself.
 *  - gc after the lease: the writer's entry is in index.json, so gc's mark
 *    reaches every blob the writer relied on.
 * So gc never deletes a blob that a leased writer is about to reference.
 *
 * Dead writers: flocks belong to the open file and vanish when the process
 * dies, even by SIGKILL, so they block nobody.  Their temporary files stay
 * in .hoist/ingest unlocked (a live writer holds LOCK_EX on its own temp file
 * from creation to rename), and gc removes exactly those; blobs they renamed
 * but never referenced are unreachable and go once past the grace period.
 * Temp files live outside blobs/, so regclient's or umoci's gc, which sweep
 * unknown files under blobs/, never see them.
 *
 * Writers that take no lease (skopeo, umoci, crane writing into the same
 * layout, or a hoist caller that only called blob_put): a blob they
 * just wrote has a fresh mtime, so the grace period covers the time until
 * their index.json write.  Blob writers here hold an implicit lease while
 * writing, so the temp file and the rename are never swept, and commit always
 * renames the new, verified file into place, which also refreshes the mtime of
 * a blob that already existed.
 *
 * Nesting: one flock per struct layout, counted, so inner begin/end pairs
 * are free.  The gc lock refuses a struct layout holding a lease (and vice
 * versa) because flock on the same open file converts the lock instead of
 * conflicting.  gc must never delete or replace gc.lock or index.lock: a
 * recreated lock file would let two holders lock different inodes.
 */

enum lock_kind { LOCK_KIND_LEASE, LOCK_KIND_GC, LOCK_KIND_INDEX };

static int lock_failed(struct err *e, int rc, int fd, struct layout *l, int timeout_ms,
		       enum lock_kind kind)
{
	struct buf who = BUF_INIT;
	int ret;

	if (rc != EWOULDBLOCK)
		return err_set_errno(e, ERR_IO, rc, "cannot lock '%s/%s'", l->root,
				     kind == LOCK_KIND_INDEX ? INDEX_LOCK : GC_LOCK);
	lock_holders(&who, fd);
	switch (kind) {
	case LOCK_KIND_LEASE:
		ret = err_set(e, ERR_LOCKED, "cannot start writing to layout '%s': 'hoist cache "
			      "gc' is running on it%s; waited %d ms: retry when it has finished",
			      l->root, who.data, timeout_ms);
		break;
	case LOCK_KIND_GC:
		ret = err_set(e, ERR_LOCKED, "cannot lock layout '%s' for gc: writers hold "
			      "leases on it%s; waited %d ms: retry when they have finished "
			      "pulling or building", l->root, who.data, timeout_ms);
		break;
	default:
		ret = err_set(e, ERR_LOCKED, "index.json of layout '%s' is being updated by "
			      "another process%s; waited %d ms: retry, or stop the process "
			      "holding '%s/" INDEX_LOCK "'", l->root, who.data, timeout_ms,
			      l->root);
		break;
	}
	buf_release(&who);
	return ret;
}

/* Opens gc.lock and takes it with `op`.  Call with l->mu held. */
static int gc_fd_lock(struct layout *l, int op, int timeout_ms, struct err *e)
{
	int fd = -1, ret, rc;

	if ((ret = hoist_prepare_locked(l, e)) < 0)
		goto out;
	fd = openat(l->root_fd, GC_LOCK, O_RDONLY | O_CREAT | O_CLOEXEC, 0644);
	if (fd < 0) {
		ret = err_set_errno(e, ERR_IO, errno, "cannot open '%s/" GC_LOCK "'", l->root);
		goto out;
	}
	rc = lock_wait(fd, op, timeout_ms);
	if (rc) {
		ret = lock_failed(e, rc, fd, l, timeout_ms,
				  op == LOCK_SH ? LOCK_KIND_LEASE : LOCK_KIND_GC);
		goto out;
	}
	l->gc_fd = fd;
	fd = -1;
	ret = 0;
out:
	if (fd >= 0)
		close(fd);
	return ret;
}

int layout_lease_begin(struct layout *l, int timeout_ms, struct err *e)
{
	int ret;

	pthread_mutex_lock(&l->mu);
	if (l->gc_locked) {
		ret = err_set(e, ERR_USAGE, "cannot take a lease on layout '%s' while holding "
			      "its gc lock", l->root);
		goto out;
	}
	if (l->lease_depth) {
		l->lease_depth++;
		ret = 0;
		goto out;
	}
	if ((ret = gc_fd_lock(l, LOCK_SH, timeout_ms, e)) < 0)
		goto out;
	l->lease_depth = 1;
	ret = 0;
out:
	pthread_mutex_unlock(&l->mu);
	return ret;
}

void layout_lease_end(struct layout *l)
{
	pthread_mutex_lock(&l->mu);
	if (l->lease_depth && !--l->lease_depth) {
		close(l->gc_fd);
		l->gc_fd = -1;
	}
	pthread_mutex_unlock(&l->mu);
}

int layout_gc_lock(struct layout *l, int timeout_ms, struct err *e)
{
	int ret;

	pthread_mutex_lock(&l->mu);
	if (l->lease_depth || l->gc_locked) {
		ret = err_set(e, ERR_USAGE, "cannot take the gc lock of layout '%s': this "
			      "process already holds %s", l->root,
			      l->gc_locked ? "it" : "a lease");
		goto out;
	}
	if ((ret = gc_fd_lock(l, LOCK_EX, timeout_ms, e)) < 0)
		goto out;
	l->gc_locked = 1;
	ret = 0;
out:
	pthread_mutex_unlock(&l->mu);
	return ret;
}

void layout_gc_unlock(struct layout *l)
{
	pthread_mutex_lock(&l->mu);
	if (l->gc_locked) {
		close(l->gc_fd);
		l->gc_fd = -1;
		l->gc_locked = 0;
	}
	pthread_mutex_unlock(&l->mu);
}

/* --- blobs ------------------------------------------------------------ */

/* "blobs/<alg>/<hex>" from a digest, re-validated: a struct digest filled by
 * hand must not smuggle "../" into a path.  `dir_len` gets the length of
 * "blobs/<alg>". */
static int blob_path(char *out, size_t *dir_len, const struct digest *d, struct err *e)
{
	struct digest chk;

	if (!memchr(d->str, '\0', sizeof(d->str)) || digest_parse(&chk, d->str, NULL) < 0 ||
	    chk.alg != d->alg)
		return err_set(e, ERR_INVALID, "refusing a blob path from a digest that does "
			       "not validate");
	snprintf(out, BLOB_PATH_MAX, "blobs/%s/%s", digest_alg_name(chk.alg), digest_hex(&chk));
	if (dir_len)
		*dir_len = strlen("blobs/") + strlen(digest_alg_name(chk.alg));
	return 0;
}

int blob_begin(struct blob_writer **out, struct layout *l, const struct digest *expect,
		      int64_t expect_size, struct err *e)
{
	struct blob_writer *w = NULL;
	char path[BLOB_PATH_MAX];
	int ret = -1, leased = 0, hashing = 0, i;

	*out = NULL;
	if (expect && (ret = blob_path(path, NULL, expect, e)) < 0)
		goto out;
	if (expect_size < -1) {
		ret = err_set(e, ERR_INVALID, "invalid expected blob size %" PRId64, expect_size);
		goto out;
	}
	w = calloc(1, sizeof(*w));
	if (!w) {
		ret = err_set(e, ERR_NOMEM, "out of memory");
		goto out;
	}
	w->l = l;
	w->fd = -1;
	w->expect_size = expect_size;
	if (expect) {
		w->have_expect = 1;
		w->expect = *expect;
	}
	if ((ret = layout_lease_begin(l, lock_timeout(l), e)) < 0)
		goto out;
	leased = 1;
	if ((ret = hoist_prepare(l, e)) < 0)
		goto out;
	for (i = 0; i < 16 && w->fd < 0; i++) {
		tmp_name(w->name, sizeof(w->name), l, "blob");
		w->fd = openat(l->ingest_fd, w->name, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
		if (w->fd < 0 && errno != EEXIST)
			break;
	}
	if (w->fd < 0) {
		ret = err_set_errno(e, ERR_IO, errno, "cannot create a temporary file in "
				    "'%s/" INGEST_DIR "'", l->root);
		w->name[0] = '\0';
		goto out;
	}
	/* marks the temp file live for gc; it is new, so nobody else holds it */
	if (flock(w->fd, LOCK_EX | LOCK_NB) < 0) {
		ret = err_set_errno(e, ERR_IO, errno, "cannot lock '%s/" INGEST_DIR "/%s'",
				    l->root, w->name);
		goto out;
	}
	if ((ret = digest_ctx_init(&w->ctx, expect ? expect->alg : DIGEST_SHA256, e)) < 0)
		goto out;
	hashing = 1;
	*out = w;
	w = NULL;
	ret = 0;
out:
	if (w) {
		if (hashing)
			digest_ctx_release(&w->ctx);
		if (w->fd >= 0) {
			unlinkat(l->ingest_fd, w->name, 0);
			close(w->fd);
		}
		if (leased)
			layout_lease_end(l);
		free(w);
	}
	return ret;
}

int blob_writer_write(struct blob_writer *w, const void *p, size_t n, struct err *e)
{
	int rc;

	if (w->failed)
		return err_set(e, w->failed, "an earlier write to this blob failed");
	if (w->final)
		return err_set(e, ERR_USAGE, "cannot write to a blob after its digest was taken");
	if (!n)
		return 0;
	if (w->expect_size >= 0 && n > (uint64_t)w->expect_size - w->ctx.size) {
		w->failed = ERR_DIGEST;
		return err_set(e, ERR_DIGEST, "blob %s is longer than the expected %" PRId64
			       " bytes: the source is corrupt", w->have_expect ? w->expect.str
			       : "(unknown digest)", w->expect_size);
	}
	/* the same buffer is hashed and written: no copy */
	rc = digest_ctx_update(&w->ctx, p, n, e);
	if (rc < 0) {
		w->failed = rc;
		return rc;
	}
	rc = write_all(w->fd, p, n);
	if (rc) {
		w->failed = ERR_IO;
		return err_set_errno(e, ERR_IO, rc, "cannot write to '%s/" INGEST_DIR "/%s'",
				     w->l->root, w->name);
	}
	/* Start writeback of every full stretch now (it does not wait), so the
	 * fsync in commit finds little left to do: for a large blob that fsync
	 * otherwise costs as much as the download (pull measured 0.35 s of
	 * fsync for 270 MB). */
	if (w->ctx.size - w->synced >= WRITEBACK_STRETCH && !w->l->no_sync) {
		sync_file_range(w->fd, (off64_t)w->synced, (off64_t)(w->ctx.size - w->synced),
				SYNC_FILE_RANGE_WRITE);
		w->synced = w->ctx.size;
	}
	return 0;
}

void blob_writer_digest(struct digest *out, int64_t *out_size, struct blob_writer *w)
{
	if (!w->final) {
		digest_ctx_final(&w->ctx, &w->got);
		w->final = 1;
	}
	*out = w->got;
	*out_size = (int64_t)w->ctx.size;
}

int blob_writer_commit(struct digest *out, int64_t *out_size, struct blob_writer *w,
		       struct err *e)
{
	struct layout *l = w->l;
	struct digest got;
	char path[BLOB_PATH_MAX];
	size_t dir_len;
	int64_t size = (int64_t)w->ctx.size;
	int ret = -1, rc;

	if (w->failed) {
		ret = err_set(e, w->failed, "an earlier write to this blob failed: nothing was "
			      "stored");
		goto out;
	}
	if (w->final)
		got = w->got;
	else
		digest_ctx_final(&w->ctx, &got);
	if (w->expect_size >= 0 && size != w->expect_size) {
		ret = err_set(e, ERR_DIGEST, "blob %s has %" PRId64 " bytes, expected %" PRId64
			      ": the source is truncated or corrupt; nothing was stored",
			      w->have_expect ? w->expect.str : got.str, size, w->expect_size);
		goto out;
	}
	if (w->have_expect && !digest_equal(&got, &w->expect)) {
		ret = err_set(e, ERR_DIGEST, "blob content has digest %s, expected %s: the "
			      "source is corrupt or was tampered with; nothing was stored",
			      got.str, w->expect.str);
		goto out;
	}
	if (l_fsync(l, w->fd) < 0) {
		ret = err_set_errno(e, ERR_IO, errno, "cannot sync '%s/" INGEST_DIR "/%s'",
				    l->root, w->name);
		goto out;
	}
	if ((ret = blob_path(path, &dir_len, &got, e)) < 0)
		goto out;
	path[dir_len] = '\0';
	rc = mkdir_at(l->root_fd, path);
	if (rc == 1)
		rc = -fsync_dir_at(l, l->root_fd, "blobs");
	if (rc < 0) {
		ret = err_set_errno(e, ERR_IO, -rc, "cannot create '%s/%s'", l->root, path);
		goto out;
	}
	path[dir_len] = '/';
	/* replaces a file of that name: ours is verified, the old one may not be */
	if (renameat(l->ingest_fd, w->name, l->root_fd, path) < 0) {
		ret = err_set_errno(e, ERR_IO, errno, "cannot rename blob into '%s/%s'",
				    l->root, path);
		goto out;
	}
	w->name[0] = '\0';
	path[dir_len] = '\0';
	rc = fsync_dir_at(l, l->root_fd, path);
	if (rc) {
		ret = err_set_errno(e, ERR_IO, rc, "cannot sync '%s/%s'", l->root, path);
		goto out;
	}
	if (out)
		*out = got;
	if (out_size)
		*out_size = size;
	ret = 0;
out:
	if (w->name[0])
		unlinkat(l->ingest_fd, w->name, 0);
	close(w->fd);
	digest_ctx_release(&w->ctx);
	layout_lease_end(l);
	free(w);
	return ret;
}

void blob_writer_abort(struct blob_writer *w)
{
	if (!w)
		return;
	unlinkat(w->l->ingest_fd, w->name, 0);
	close(w->fd);
	digest_ctx_release(&w->ctx);
	layout_lease_end(w->l);
	free(w);
}

/* Opens the blob file at `path` (relative to the root) for reading, without
 * following a link and without blocking on a fifo, and fills `out_size`.
 * Returns the descriptor, or -1 with errno set and *out_mode set to S_IFLNK
 * for a link, to the file's mode for anything else not a regular file, and
 * to 0 for other failures. */
static int blob_open_at(struct layout *l, const char *path, mode_t *out_mode,
			int64_t *out_size)
{
	struct stat st;
	int fd, flags, err;

	*out_mode = 0;
	fd = openat(l->root_fd, path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
	if (fd < 0) {
		if (errno == ELOOP)
			*out_mode = S_IFLNK;
		return -1;
	}
	if (fstat(fd, &st) < 0) {
		err = errno;
		close(fd);
		errno = err;
		return -1;
	}
	if (!S_ISREG(st.st_mode)) {
		*out_mode = st.st_mode;
		close(fd);
		errno = EINVAL;
		return -1;
	}
	flags = fcntl(fd, F_GETFL);
	if (flags >= 0)
		fcntl(fd, F_SETFL, flags & ~O_NONBLOCK);
	*out_size = (int64_t)st.st_size;
	return fd;
}

static const char *file_kind(mode_t m)
{
	return S_ISDIR(m) ? "a directory" : S_ISFIFO(m) ? "a fifo" : S_ISSOCK(m) ? "a socket" :
	       S_ISCHR(m) || S_ISBLK(m) ? "a device" : "something";
}

/* ERR_INVALID: the file at `path` of a blob is a link or not a regular file. */
static int blob_not_regular(struct err *e, const struct layout *l, const char *path, mode_t m)
{
	if (S_ISLNK(m))
		return err_set(e, ERR_INVALID, "'%s/%s' is a symbolic link, not a blob file: hoist "
			       "does not follow links in a layout; replace it by the file it points "
			       "to, or remove it and pull the image again", l->root, path);
	return err_set(e, ERR_INVALID, "'%s/%s' is %s, not a regular file: remove it and pull "
		       "the image again", l->root, path, file_kind(m));
}

/* Whether blob `d` is there holding exactly p[0..n). */
static int blob_same(struct layout *l, const struct digest *d, const void *p, size_t n)
{
	char path[BLOB_PATH_MAX];
	struct buf b = BUF_INIT;
	int64_t size;
	mode_t mode;
	int fd, same;

	if (blob_path(path, NULL, d, NULL) < 0)
		return 0;
	fd = blob_open_at(l, path, &mode, &size);
	if (fd < 0)
		return 0;
	same = read_all(&b, fd, n, path, NULL) == 0 && b.len == n && !memcmp(b.data, p, n);
	close(fd);
	buf_release(&b);
	return same;
}

int blob_put(struct digest *out, struct layout *l, const void *p, size_t n,
		    const struct digest *expect, struct err *e)
{
	struct blob_writer *w = NULL;
	struct digest d;
	int ret;

	if (n <= BLOB_PUT_CHECK_MAX && digest_buffer(&d, expect ? expect->alg : DIGEST_SHA256,
						     p, n, NULL) == 0 &&
	    (!expect || digest_equal(&d, expect)) && blob_same(l, &d, p, n)) {
		if (out)
			*out = d;
		return 0;
	}
	if ((ret = blob_begin(&w, l, expect, (int64_t)n, e)) < 0)
		return ret;
	if ((ret = blob_writer_write(w, p, n, e)) < 0) {
		blob_writer_abort(w);
		return ret;
	}
	return blob_writer_commit(out, NULL, w, e);
}

int blob_stat(int64_t *out_size, struct layout *l, const struct digest *d,
		     struct err *e)
{
	char path[BLOB_PATH_MAX];
	struct stat st;
	int ret;

	if ((ret = blob_path(path, NULL, d, e)) < 0)
		return ret;
	if (fstatat(l->root_fd, path, &st, AT_SYMLINK_NOFOLLOW) < 0) {
		if (errno == ENOENT)
			return err_set(e, ERR_NOT_FOUND, "blob %s is not in layout '%s'", d->str,
				       l->root);
		return err_set_errno(e, ERR_IO, errno, "cannot look at '%s/%s'", l->root, path);
	}
	if (!S_ISREG(st.st_mode))
		return blob_not_regular(e, l, path, st.st_mode);
	if (out_size)
		*out_size = (int64_t)st.st_size;
	return 0;
}

int blob_has(struct layout *l, const struct digest *d, int64_t size)
{
	int64_t got;

	if (blob_stat(&got, l, d, NULL) < 0)
		return 0;
	return size < 0 || got == size;
}

void blob_touch(struct layout *l, const struct digest *d)
{
	char path[BLOB_PATH_MAX];

	if (blob_path(path, NULL, d, NULL) == 0)
		utimensat(l->root_fd, path, NULL, AT_SYMLINK_NOFOLLOW);
}

int blob_open(int *out_fd, int64_t *out_size, struct layout *l, const struct digest *d,
		     struct err *e)
{
	char path[BLOB_PATH_MAX];
	int64_t size;
	mode_t mode;
	int fd, ret;

	*out_fd = -1;
	if ((ret = blob_path(path, NULL, d, e)) < 0)
		return ret;
	fd = blob_open_at(l, path, &mode, &size);
	if (fd < 0 && mode)
		return blob_not_regular(e, l, path, mode);
	if (fd < 0 && errno == ENOENT)
		return err_set(e, ERR_NOT_FOUND, "blob %s is not in layout '%s'", d->str, l->root);
	if (fd < 0)
		return err_set_errno(e, ERR_IO, errno, "cannot open '%s/%s'", l->root, path);
	*out_fd = fd;
	if (out_size)
		*out_size = size;
	return 0;
}

int blob_read(struct buf *out, struct layout *l, const struct digest *d, size_t max,
		     struct err *e)
{
	struct digest got;
	size_t old = out->len, want, have = 0;
	int64_t size;
	int fd = -1, ret;
	ssize_t r;

	if ((ret = blob_open(&fd, &size, l, d, e)) < 0)
		goto out;
	if ((max && (uint64_t)size > max) || (uint64_t)size >= SIZE_MAX / 2) {
		ret = err_set(e, ERR_TOO_BIG, "blob %s in layout '%s' has %" PRId64 " bytes, more "
			      "than the %zu allowed", d->str, l->root, size, max);
		goto out;
	}
	want = (size_t)size;
	if ((ret = buf_grow(out, want)) < 0) {
		ret = err_set(e, ret, "cannot read blob %s: %s", d->str,
			      ret == ERR_TOO_BIG ? "buffer limit reached" : "out of memory");
		goto out;
	}
	while (have < want) {
		r = read(fd, out->data + old + have, want - have);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			ret = err_set_errno(e, ERR_IO, errno, "cannot read blob %s in '%s'", d->str,
					    l->root);
			goto out;
		}
		if (r == 0)
			break;
		have += (size_t)r;
	}
	if ((ret = digest_buffer(&got, d->alg, out->data + old, have, e)) < 0)
		goto out;
	if (have != want || !digest_equal(&got, d)) {
		ret = err_set(e, ERR_DIGEST, "blob %s in layout '%s' is corrupt (its content "
			      "hashes to %s): %s", d->str, l->root, got.str, l->cache ?
			      "run 'hoist cache verify --repair', then pull the image again" :
			      "remove it and fetch it again");
		goto out;
	}
	out->len = old + have;
	out->data[out->len] = '\0';
	ret = 0;
out:
	if (ret < 0 && out->cap)
		out->data[old] = '\0';
	if (fd >= 0)
		close(fd);
	return ret;
}

/* --- index.json ------------------------------------------------------- */

/* The image-spec's grammar for org.opencontainers.image.ref.name:
 *   ref ::= component ("/" component)*; component ::= alnum+ (sep alnum+)*;
 *   sep ::= [-._:@+] | "--"  */
static int ref_name_check(const char *s, struct err *e)
{
	size_t i = 0, len = s ? strlen(s) : 0;
	int ok = len > 0 && len <= REF_NAME_MAX;

#define ALNUM(c) (((c) >= 'a' && (c) <= 'z') || ((c) >= 'A' && (c) <= 'Z') || \
		  ((c) >= '0' && (c) <= '9'))
	while (ok && i < len) {
		if (!ALNUM(s[i])) {
			ok = 0;
			break;
		}
		while (i < len && ALNUM(s[i]))
			i++;
		if (i == len)
			break;
		if (s[i] == '/' || strchr("-._:@+", s[i]))
			i += (s[i] == '-' && s[i + 1] == '-') ? 2 : 1;
		else
			ok = 0;
		if (i == len)
			ok = 0;	/* trailing separator */
	}
#undef ALNUM
	if (!ok)
		return err_set(e, ERR_INVALID, "invalid image reference name '%.200s' for "
			       "index.json: want a reference like "
			       "'docker.io/library/golang:1.20'", s ? s : "");
	return 0;
}

static int entry_is(const struct json *m, const char *ref_name)
{
	const char *n = json_get_str(json_get(m, "annotations"), ANNOT_REF_NAME);

	return n && !strcmp(n, ref_name);
}


/* Takes .hoist/index.lock exclusively into *out_fd (the caller closes it,
 * which unlocks).  One lock serialises both index files and the ref records,
 * so an update that touches both (a name moving between them) is atomic with
 * respect to every other hoist writer. */
static int index_lock(int *out_fd, struct layout *l, struct err *e)
{
	int fd = -1, ret, rc, timeout_ms = lock_timeout(l);

	*out_fd = -1;
	if ((ret = hoist_prepare(l, e)) < 0)
		goto out;
	fd = openat(l->root_fd, INDEX_LOCK, O_RDONLY | O_CREAT | O_CLOEXEC, 0644);
	if (fd < 0) {
		ret = err_set_errno(e, ERR_IO, errno, "cannot open '%s/" INDEX_LOCK "'", l->root);
		goto out;
	}
	rc = lock_wait(fd, LOCK_EX, timeout_ms);
	if (rc) {
		ret = lock_failed(e, rc, fd, l, timeout_ms, LOCK_KIND_INDEX);
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

/* Writes `data` to `tmp`, fsyncs it and renames it over `name` (both
 * relative to the root), then fsyncs the directory `dir` ("." for the root).
 * Call under index.lock: the temporary name is fixed. */
static int replace_file(struct layout *l, const char *tmp, const char *name, const char *dir,
			const char *data, size_t len, struct err *e)
{
	int fd, rc, made = 0, ret = -1;

	fd = openat(l->root_fd, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0) {
		ret = err_set_errno(e, ERR_IO, errno, "cannot create '%s/%s'", l->root, tmp);
		goto out;
	}
	made = 1;
	rc = write_all(fd, data, len);
	if (!rc && l_fsync(l, fd) < 0)
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
	rc = fsync_dir_at(l, l->root_fd, dir);
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

/* Writes an index under index.lock: temporary file, fsync, rename. */
static int write_index(struct layout *l, enum layout_index which, const struct json *idx,
		       struct err *e)
{
	struct buf b = BUF_INIT;
	int ret;

	if (json_kind_of(idx) != JSON_OBJECT) {
		ret = err_set(e, ERR_INVALID, "index update left no JSON object");
		goto out;
	}
	if ((ret = json_serialize(&b, idx, 0, e)) < 0)
		goto out;
	if (which == LAYOUT_INDEX_META)
		ret = replace_file(l, META_INDEX_TMP, META_INDEX, HOIST_DIR, b.data, b.len, e);
	else
		ret = replace_file(l, INDEX_TMP, "index.json", ".", b.data, b.len, e);
out:
	buf_release(&b);
	return ret;
}

int layout_index_read_in(struct json **out, struct layout *l, enum layout_index which,
			 struct err *e)
{
	return read_index(out, l, which, e);
}

int layout_index_read(struct json **out, struct layout *l, struct err *e)
{
	return read_index(out, l, LAYOUT_INDEX_MAIN, e);
}

int layout_index_update_in(struct layout *l, enum layout_index which,
			   int (*fn)(struct json *index, void *arg, struct err *e), void *arg,
			   struct err *e)
{
	struct json *idx = NULL;
	int lock_fd = -1, ret, rc;

	/* Everything below runs under the exclusive index.lock: the re-read sees
	 * every earlier update, and nobody else writes the index (or the fixed
	 * temporary name) until we have renamed ours into place. */
	if ((ret = index_lock(&lock_fd, l, e)) < 0)
		goto out;
	if ((ret = read_index(&idx, l, which, e)) < 0)
		goto out;
	rc = fn(idx, arg, e);
	if (rc) {
		ret = rc < 0 ? rc : 0;
		goto out;
	}
	ret = write_index(l, which, idx, e);
out:
	if (lock_fd >= 0)
		close(lock_fd);
	json_free(idx);
	return ret;
}

int layout_index_update(struct layout *l, int (*fn)(struct json *index, void *arg, struct err *e),
			void *arg, struct err *e)
{
	return layout_index_update_in(l, LAYOUT_INDEX_MAIN, fn, arg, e);
}

/* Position of the first entry named `name` in idx's manifests, or -1. */
static long index_pos(const struct json *idx, const char *name)
{
	const struct json *arr = json_get(idx, "manifests");
	size_t i, n = json_array_len(arr);

	for (i = 0; i < n; i++)
		if (entry_is(json_array_get(arr, i), name))
			return (long)i;
	return -1;
}

/* Rebuilds "manifests": the first entry named `name` becomes `entry` (or
 * goes, with entry NULL), later ones go, all others stay in order; a new
 * name is appended.  Returns 1 when something changed, 0 when not, or
 * ERR_NOMEM. */
static int index_put(struct json *index, const char *name, struct json *entry)
{
	struct json *old = json_get(index, "manifests"), *arr = json_new_array(), *m;
	size_t i, n = json_array_len(old);
	int found = 0, ret = ERR_NOMEM, rc;

	if (!arr)
		goto out;
	for (i = 0; i < n; i++) {
		m = json_array_get(old, i);
		if (!entry_is(m, name))
			m = json_ref(m);
		else if (!found++ && entry)
			m = json_ref(entry);
		else
			continue;
		if (json_append(arr, m) < 0)
			goto out;
	}
	if (!found && !entry) {
		ret = 0;
		goto out;
	}
	if (!found && json_append(arr, json_ref(entry)) < 0)
		goto out;
	rc = json_set(index, "manifests", arr);
	arr = NULL;
	if (rc < 0)
		goto out;
	ret = 1;
out:
	json_free(arr);
	return ret;
}

/* ".hoist/refs/<sha256 hex of name>.json" (and ".tmp" with tmp set). */
static int ref_record_path(char *out, size_t outlen, const char *name, int tmp, struct err *e)
{
	struct digest d;
	int ret;

	if ((ret = digest_buffer(&d, DIGEST_SHA256, name, strlen(name), e)) < 0)
		return ret;
	snprintf(out, outlen, REFS_DIR "/%s.json%s", digest_hex(&d), tmp ? ".tmp" : "");
	return 0;
}

static void format_time(char *out, size_t outlen, time_t t)
{
	struct tm tm;

	if (!gmtime_r(&t, &tm) || !strftime(out, outlen, "%Y-%m-%dT%H:%M:%SZ", &tm))
		snprintf(out, outlen, "1970-01-01T00:00:00Z");
}

/* Writes the usage record of `name` (under index.lock). */
static int ref_record_write(struct layout *l, const char *name, const struct digest *d,
			    struct err *e)
{
	char path[128], tmp[128], when[32];
	struct json *j = json_new_object();
	struct buf b = BUF_INIT;
	int ret, rc;

	if (!j || json_set_str(j, "ref", name) < 0 || json_set_str(j, "digest", d->str) < 0) {
		ret = err_set(e, ERR_NOMEM, "out of memory");
		goto out;
	}
	format_time(when, sizeof(when), time(NULL));
	if (json_set_str(j, "pulled", when) < 0) {
		ret = err_set(e, ERR_NOMEM, "out of memory");
		goto out;
	}
	if ((ret = json_serialize(&b, j, 0, e)) < 0 || (ret = buf_addch(&b, '\n')) < 0 ||
	    (ret = ref_record_path(path, sizeof(path), name, 0, e)) < 0 ||
	    (ret = ref_record_path(tmp, sizeof(tmp), name, 1, e)) < 0)
		goto out;
	rc = mkdir_at(l->root_fd, REFS_DIR);
	if (rc < 0) {
		ret = err_set_errno(e, ERR_IO, -rc, "cannot create '%s/" REFS_DIR "'", l->root);
		goto out;
	}
	ret = replace_file(l, tmp, path, REFS_DIR, b.data, b.len, e);
out:
	if (ret == ERR_NOMEM && !e->msg[0])
		err_set(e, ERR_NOMEM, "out of memory");
	json_free(j);
	buf_release(&b);
	return ret;
}

static void ref_record_remove(struct layout *l, const char *name)
{
	char path[128];

	if (ref_record_path(path, sizeof(path), name, 0, NULL) == 0)
		unlinkat(l->root_fd, path, 0);
}

/* The JSON entry of `d` named `ref_name`; NULL when out of memory. */
static struct json *entry_new(const char *ref_name, const struct descriptor *d)
{
	struct descriptor c;
	struct json *j = NULL;

	descriptor_init(&c);
	if (descriptor_copy(&c, d) == 0 &&
	    kvlist_set(&c.annotations, ANNOT_REF_NAME, ref_name) == 0)
		j = descriptor_to_json(&c);
	descriptor_release(&c);
	return j;
}

/* The digest of the entry at `pos` of idx, or "" */
static const char *entry_digest(const struct json *idx, long pos)
{
	const char *s = json_get_str(json_array_get(json_get(idx, "manifests"), (size_t)pos),
				     "digest");

	return s ? s : "";
}

int layout_index_set_in(struct layout *l, enum layout_index which, const char *ref_name,
			const struct descriptor *d, struct err *e)
{
	enum layout_index other = which == LAYOUT_INDEX_MAIN ? LAYOUT_INDEX_META
							     : LAYOUT_INDEX_MAIN;
	struct json *entry = NULL, *idx = NULL, *oidx = NULL;
	int lock_fd = -1, ret, rc;
	long pos;

	if ((ret = ref_name_check(ref_name, e)) < 0)
		goto out;
	if (!(entry = entry_new(ref_name, d))) {
		ret = err_set(e, ERR_NOMEM, "out of memory");
		goto out;
	}
	/* A name lives in at most one of the two indexes: the main one when the
	 * image is complete.  All of it under index.lock. */
	if ((ret = index_lock(&lock_fd, l, e)) < 0)
		goto out;
	if ((ret = read_index(&oidx, l, other, e)) < 0)
		goto out;
	pos = index_pos(oidx, ref_name);
	if (which == LAYOUT_INDEX_META && pos >= 0 &&
	    !strcmp(entry_digest(oidx, pos), d->digest.str)) {
		/* the complete image is already there under this name: keep it */
		ret = ref_record_write(l, ref_name, &d->digest, e);
		goto out;
	}
	if ((ret = read_index(&idx, l, which, e)) < 0)
		goto out;
	rc = index_put(idx, ref_name, entry);
	if (rc < 0) {
		ret = err_set(e, ERR_NOMEM, "out of memory updating the index");
		goto out;
	}
	if ((ret = write_index(l, which, idx, e)) < 0)
		goto out;
	if (pos >= 0) {
		if (index_put(oidx, ref_name, NULL) < 0) {
			ret = err_set(e, ERR_NOMEM, "out of memory updating the index");
			goto out;
		}
		if ((ret = write_index(l, other, oidx, e)) < 0)
			goto out;
	}
	ret = ref_record_write(l, ref_name, &d->digest, e);
out:
	if (lock_fd >= 0)
		close(lock_fd);
	json_free(entry);
	json_free(idx);
	json_free(oidx);
	return ret;
}

int layout_index_set(struct layout *l, const char *ref_name, const struct descriptor *d,
		     struct err *e)
{
	return layout_index_set_in(l, LAYOUT_INDEX_MAIN, ref_name, d, e);
}

int layout_index_remove_in(struct layout *l, enum layout_index which, const char *ref_name,
			   struct err *e)
{
	struct json *idx = NULL, *oidx = NULL;
	int lock_fd = -1, ret, rc;

	if (!ref_name || !*ref_name)
		return err_set(e, ERR_INVALID, "empty image reference name");
	if ((ret = index_lock(&lock_fd, l, e)) < 0)
		goto out;
	if ((ret = read_index(&idx, l, which, e)) < 0)
		goto out;
	rc = index_put(idx, ref_name, NULL);
	if (rc < 0) {
		ret = err_set(e, ERR_NOMEM, "out of memory updating the index");
		goto out;
	}
	if (rc == 0) {
		ret = err_set(e, ERR_NOT_FOUND, "no image named '%.200s' in %s of layout '%s'",
			      ref_name, which == LAYOUT_INDEX_META ? "the metadata index"
			      : "index.json", l->root);
		goto out;
	}
	if ((ret = write_index(l, which, idx, e)) < 0)
		goto out;
	if ((ret = read_index(&oidx, l, which == LAYOUT_INDEX_MAIN ? LAYOUT_INDEX_META
			      : LAYOUT_INDEX_MAIN, e)) < 0)
		goto out;
	if (index_pos(oidx, ref_name) < 0)
		ref_record_remove(l, ref_name);
	ret = 0;
out:
	if (lock_fd >= 0)
		close(lock_fd);
	json_free(idx);
	json_free(oidx);
	return ret;
}

int layout_index_remove(struct layout *l, const char *ref_name, struct err *e)
{
	return layout_index_remove_in(l, LAYOUT_INDEX_MAIN, ref_name, e);
}

int layout_index_find_in(struct descriptor *out, struct layout *l, enum layout_index which,
			 const char *ref_name, struct err *e)
{
	struct json *idx = NULL;
	char what[64];
	long pos;
	int ret, borrowed = 0;

	if (!ref_name || !*ref_name)
		return err_set(e, ERR_INVALID, "empty image reference name");
	if ((ret = index_read_ro(&idx, &borrowed, l, which, e)) < 0)
		goto out;
	pos = index_pos(idx, ref_name);
	if (pos < 0) {
		ret = err_set(e, ERR_NOT_FOUND, "no image named '%.200s' in layout '%s'",
			      ref_name, l->root);
		goto out;
	}
	snprintf(what, sizeof(what), "%s manifests[%ld]", index_file(which), pos);
	ret = descriptor_from_json(out, json_array_get(json_get(idx, "manifests"), (size_t)pos),
				   what, e);
	if (ret < 0)
		err_prefix(e, "layout '%s'", l->root);
out:
	index_ro_done(l, idx, borrowed);
	return ret;
}

int layout_index_find(struct descriptor *out, struct layout *l, const char *ref_name,
		      struct err *e)
{
	return layout_index_find_in(out, l, LAYOUT_INDEX_MAIN, ref_name, e);
}

int layout_ref_resolve(struct descriptor *out, enum layout_index *out_which, struct layout *l,
		       const char *ref_name, struct err *e)
{
	int ret;

	ret = layout_index_find_in(out, l, LAYOUT_INDEX_MAIN, ref_name, e);
	if (ret == 0 && out_which)
		*out_which = LAYOUT_INDEX_MAIN;
	if (ret != ERR_NOT_FOUND)
		return ret;
	err_clear(e);
	ret = layout_index_find_in(out, l, LAYOUT_INDEX_META, ref_name, e);
	if (ret == 0 && out_which)
		*out_which = LAYOUT_INDEX_META;
	if (ret == ERR_NOT_FOUND)
		err_set(e, ERR_NOT_FOUND, "no image named '%.200s' in the cache '%s': 'hoist "
			"cache ls' lists the images it holds", ref_name, l->root);
	return ret;
}

int layout_index_list_in(struct layout_ref **out, size_t *out_n, struct layout *l,
			 enum layout_index which, struct err *e)
{
	struct layout_ref *refs = NULL;
	struct json *idx = NULL, *arr, *m;
	const char *name;
	char what[64];
	size_t i, n = 0;
	int ret;

	*out = NULL;
	*out_n = 0;
	if ((ret = read_index(&idx, l, which, e)) < 0)
		goto out;
	arr = json_get(idx, "manifests");
	refs = calloc(json_array_len(arr) + 1, sizeof(*refs));
	if (!refs) {
		ret = err_set(e, ERR_NOMEM, "out of memory");
		goto out;
	}
	for (i = 0; i < json_array_len(arr); i++) {
		m = json_array_get(arr, i);
		descriptor_init(&refs[i].desc);
		n = i + 1;
		name = json_get_str(json_get(m, "annotations"), ANNOT_REF_NAME);
		if (name && !(refs[i].name = strdup(name))) {
			ret = err_set(e, ERR_NOMEM, "out of memory");
			goto out;
		}
		snprintf(what, sizeof(what), "%s manifests[%zu]", index_file(which), i);
		if ((ret = descriptor_from_json(&refs[i].desc, m, what, e)) < 0) {
			err_prefix(e, "layout '%s'", l->root);
			goto out;
		}
	}
	*out = refs;
	*out_n = n;
	refs = NULL;
	ret = 0;
out:
	layout_refs_free(refs, n);
	json_free(idx);
	return ret;
}

int layout_index_list(struct layout_ref **out, size_t *out_n, struct layout *l, struct err *e)
{
	return layout_index_list_in(out, out_n, l, LAYOUT_INDEX_MAIN, e);
}

void layout_refs_free(struct layout_ref *refs, size_t n)
{
	size_t i;

	if (!refs)
		return;
	for (i = 0; i < n; i++) {
		free(refs[i].name);
		descriptor_release(&refs[i].desc);
	}
	free(refs);
}

/* --- usage records ------------------------------------------------------ */

int usage_touch(struct layout *l, const char *ref_name)
{
	char path[128];

	if (!ref_name || ref_record_path(path, sizeof(path), ref_name, 0, NULL) < 0)
		return ERR_INVALID;
	if (utimensat(l->root_fd, path, NULL, 0) < 0)
		return errno == ENOENT ? ERR_NOT_FOUND : ERR_IO;
	return 0;
}

/* "2024-01-01T00:00:00Z" (fractions and offsets other than Z refused). */
static int parse_time(int64_t *out, const char *s)
{
	struct tm tm;
	const char *end;

	memset(&tm, 0, sizeof(tm));
	if (!s || !(end = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm)) || strcmp(end, "Z"))
		return ERR_INVALID;
	*out = (int64_t)timegm(&tm);
	return 0;
}

int usage_get(struct usage_info *out, struct layout *l, const char *ref_name,
			struct err *e)
{
	struct buf b = BUF_INIT;
	struct json *j = NULL;
	struct stat st;
	char path[128];
	int fd = -1, ret;

	out->pulled = -1;
	out->last_used = -1;
	out->digest.str[0] = '\0';
	if ((ret = ref_record_path(path, sizeof(path), ref_name, 0, e)) < 0)
		goto out;
	fd = openat(l->root_fd, path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		ret = errno == ENOENT ? err_set(e, ERR_NOT_FOUND, "no usage record for '%.200s'",
						ref_name)
				      : err_set_errno(e, ERR_IO, errno, "cannot open '%s/%s'",
						      l->root, path);
		goto out;
	}
	if (fstat(fd, &st) < 0) {
		ret = err_set_errno(e, ERR_IO, errno, "cannot stat '%s/%s'", l->root, path);
		goto out;
	}
	out->last_used = (int64_t)st.st_mtime;
	if ((ret = read_all(&b, fd, 65536, path, e)) < 0 ||
	    (ret = json_parse(&j, b.data, b.len, e)) < 0) {
		err_prefix(e, "layout '%s'", l->root);
		goto out;
	}
	if (parse_time(&out->pulled, json_get_str(j, "pulled")) < 0)
		out->pulled = -1;
	if (!json_get_str(j, "digest") || digest_parse(&out->digest, json_get_str(j, "digest"),
						       NULL) < 0)
		out->digest.str[0] = '\0';
	ret = 0;
out:
	if (fd >= 0)
		close(fd);
	json_free(j);
	buf_release(&b);
	return ret;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Adds the record file name of every named entry of `which` to `names`. */
static int record_names(struct strvec *names, struct layout *l, enum layout_index which,
			struct err *e)
{
	struct json *idx = NULL, *arr;
	const char *n;
	char path[128];
	size_t i;
	int ret;

	if ((ret = read_index(&idx, l, which, e)) < 0)
		goto out;
	arr = json_get(idx, "manifests");
	for (i = 0; i < json_array_len(arr); i++) {
		n = json_get_str(json_get(json_array_get(arr, i), "annotations"), ANNOT_REF_NAME);
		if (!n)
			continue;
		if ((ret = ref_record_path(path, sizeof(path), n, 0, e)) < 0)
			goto out;
		if (strvec_push(names, path + strlen(REFS_DIR "/")) < 0) {
			ret = err_set(e, ERR_NOMEM, "out of memory");
			goto out;
		}
	}
	ret = 0;
out:
	json_free(idx);
	return ret;
}

int usage_prune(size_t *out_removed, struct layout *l, int dry_run, struct err *e)
{
	struct strvec names = STRVEC_INIT;
	struct dirent *de;
	DIR *d = NULL;
	int lock_fd = -1, fd, ret, rc;

	*out_removed = 0;
	/* under index.lock: no record is being written or named meanwhile */
	if ((ret = index_lock(&lock_fd, l, e)) < 0)
		goto out;
	if ((ret = record_names(&names, l, LAYOUT_INDEX_MAIN, e)) < 0 ||
	    (ret = record_names(&names, l, LAYOUT_INDEX_META, e)) < 0)
		goto out;
	qsort(names.v, names.n, sizeof(*names.v), cmp_str);
	fd = openat(l->root_fd, REFS_DIR, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0) {
		ret = errno == ENOENT ? 0 : err_set_errno(e, ERR_IO, errno, "cannot open '%s/"
							  REFS_DIR "'", l->root);
		goto out;
	}
	if (!(d = fdopendir(fd))) {
		close(fd);
		ret = err_set_errno(e, ERR_IO, errno, "cannot list '%s/" REFS_DIR "'", l->root);
		goto out;
	}
	while ((de = layout_dir_next(d, &rc))) {
		char *key = de->d_name;

		if (de->d_name[0] == '.' ||
		    bsearch(&key, names.v, names.n, sizeof(*names.v), cmp_str))
			continue;
		if (!dry_run && unlinkat(dirfd(d), de->d_name, 0) < 0 && errno != ENOENT) {
			ret = err_set_errno(e, ERR_IO, errno, "cannot remove '%s/" REFS_DIR "/%s'",
					    l->root, de->d_name);
			goto out;
		}
		(*out_removed)++;
	}
	if (rc) {
		ret = err_set_errno(e, ERR_IO, rc, "cannot list '%s/" REFS_DIR "'", l->root);
		goto out;
	}
	ret = 0;
out:
	if (d)
		closedir(d);
	if (lock_fd >= 0)
		close(lock_fd);
	strvec_clear(&names);
	return ret;
}

/* --- blob sources -------------------------------------------------------- */

static int source_path(char *out, size_t outlen, const struct digest *d, struct err *e)
{
	char blob[BLOB_PATH_MAX];
	int ret;

	if ((ret = blob_path(blob, NULL, d, e)) < 0)
		return ret;
	snprintf(out, outlen, SOURCES_DIR "/%s", blob + strlen("blobs/"));
	return 0;
}

static int source_valid(const char *s)
{
	size_t i, n = s ? strlen(s) : 0;

	if (!n || n > SOURCE_MAX || !strchr(s, '/'))
		return 0;
	for (i = 0; i < n; i++)
		if ((unsigned char)s[i] <= ' ' || s[i] == 0x7f)
			return 0;
	return 1;
}

/* Counts lines of `b` and tells whether `line` is one of them. */
static int lines_have(const struct buf *b, const char *line, size_t *n_lines)
{
	size_t len = strlen(line);
	const char *p = b->data, *nl;
	int found = 0;

	*n_lines = 0;
	while (*p) {
		nl = strchr(p, '\n');
		if (!nl)
			nl = p + strlen(p);
		if ((size_t)(nl - p) == len && !memcmp(p, line, len))
			found = 1;
		(*n_lines)++;
		p = *nl ? nl + 1 : nl;
	}
	return found;
}

int blob_source_add(struct layout *l, const struct digest *d, const char *source,
			   struct err *e)
{
	char path[BLOB_PATH_MAX + 32];
	struct buf b = BUF_INIT;
	size_t dir_len, n_lines;
	int fd = -1, ret, rc;

	if (!source_valid(source))
		return err_set(e, ERR_INVALID, "invalid blob source '%.200s': want "
			       "'registry/repository'", source ? source : "");
	if ((ret = source_path(path, sizeof(path), d, e)) < 0)
		goto out;
	/* Already recorded (a re-pull): read only, no lock, no directory or
	 * file created, nothing written.  Lines are only ever appended; a
	 * read that ends inside one being appended goes the locked way. */
	fd = openat(l->root_fd, path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd >= 0) {
		rc = read_all(&b, fd, 64 * (SOURCE_MAX + 1), path, NULL);
		close(fd);
		fd = -1;
		if (rc == 0 && b.len && b.data[b.len - 1] == '\n' &&
		    (lines_have(&b, source, &n_lines) || n_lines >= SOURCES_MAX_LINES)) {
			ret = 0;
			goto out;
		}
		buf_reset(&b);
	}
	if ((ret = hoist_prepare(l, e)) < 0)
		goto out;
	dir_len = strlen(SOURCES_DIR "/") + strlen(digest_alg_name(d->alg));
	path[dir_len] = '\0';
	rc = mkdir_at(l->root_fd, SOURCES_DIR);
	if (rc >= 0)
		rc = mkdir_at(l->root_fd, path);
	if (rc < 0) {
		ret = err_set_errno(e, ERR_IO, -rc, "cannot create '%s/%s'", l->root, path);
		goto out;
	}
	path[dir_len] = '/';
	fd = openat(l->root_fd, path, O_RDWR | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644);
	if (fd < 0) {
		ret = err_set_errno(e, ERR_IO, errno, "cannot open '%s/%s'", l->root, path);
		goto out;
	}
	/* short and uncontended: makes check-then-append atomic among hoists */
	rc = lock_wait(fd, LOCK_EX, 5000);
	if (rc) {
		ret = err_set_errno(e, ERR_LOCKED, rc, "cannot lock '%s/%s'", l->root, path);
		goto out;
	}
	if ((ret = read_all(&b, fd, 64 * (SOURCE_MAX + 1), path, e)) < 0)
		goto out;
	if (lines_have(&b, source, &n_lines) || n_lines >= SOURCES_MAX_LINES) {
		ret = 0;
		goto out;
	}
	buf_reset(&b);
	if (buf_addf(&b, "%s\n", source) < 0) {
		ret = err_set(e, ERR_NOMEM, "out of memory");
		goto out;
	}
	rc = write_all(fd, b.data, b.len);
	if (rc) {
		ret = err_set_errno(e, ERR_IO, rc, "cannot write '%s/%s'", l->root, path);
		goto out;
	}
	ret = 0;
out:
	if (fd >= 0)
		close(fd);
	buf_release(&b);
	return ret;
}

int blob_sources(struct strvec *out, struct layout *l, const struct digest *d,
			struct err *e)
{
	char path[BLOB_PATH_MAX + 32];
	struct buf b = BUF_INIT;
	char *p, *nl;
	int fd = -1, ret;

	if ((ret = source_path(path, sizeof(path), d, e)) < 0)
		goto out;
	fd = openat(l->root_fd, path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0) {
		ret = errno == ENOENT ? 0 : err_set_errno(e, ERR_IO, errno, "cannot open '%s/%s'",
							  l->root, path);
		goto out;
	}
	if ((ret = read_all(&b, fd, 64 * (SOURCE_MAX + 1), path, e)) < 0)
		goto out;
	for (p = b.data; *p; p = nl + 1) {
		nl = strchr(p, '\n');
		if (!nl)
			break;	/* a line still being appended */
		*nl = '\0';
		if (source_valid(p) && strvec_find(out, p) < 0 && strvec_push(out, p) < 0) {
			ret = err_set(e, ERR_NOMEM, "out of memory");
			goto out;
		}
	}
	ret = 0;
out:
	if (fd >= 0)
		close(fd);
	buf_release(&b);
	return ret;
}

void blob_sources_remove(struct layout *l, const struct digest *d)
{
	char path[BLOB_PATH_MAX + 32];

	if (source_path(path, sizeof(path), d, NULL) == 0)
		unlinkat(l->root_fd, path, 0);
}

int layout_root_fd(const struct layout *l)
{
	return l->root_fd;
}

/* --- memo records ------------------------------------------------------- */

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
	if (buf_addf(&path, MEMO_DIR "/%s/%s", kind, digest_hex(key)) < 0) {
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
	if ((ret = read_all(out, fd, MEMO_MAX, path.data, e)) < 0)
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
	tmp_name(name, sizeof(name), l, "tmp");
	if (buf_addf(&dir, MEMO_DIR "/%s", kind) < 0 ||
	    buf_addf(&path, "%s/%s", dir.data, digest_hex(key)) < 0 ||
	    buf_addf(&tmp, "%s/%s", dir.data, name) < 0) {
		ret = err_set(e, ERR_NOMEM, "out of memory");
		goto out;
	}
	if ((ret = hoist_prepare(l, e)) < 0)
		goto out;
	rc = mkdir_at(l->root_fd, MEMO_DIR);
	if (rc >= 0)
		rc = mkdir_at(l->root_fd, dir.data);
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
	rc = write_all(fd, data, len);
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
		ret = err_set_errno(e, ERR_IO, errno, "cannot list '%s/" MEMO_DIR "/%s'", l->root,
				    kind);
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
			ret = err_set_errno(e, ERR_IO, errno, "cannot remove '%s/" MEMO_DIR
					    "/%s/%s'", l->root, kind, f->d_name);
			goto out;
		}
		(*out_removed)++;
	}
	if (rc) {
		ret = err_set_errno(e, ERR_IO, rc, "cannot list '%s/" MEMO_DIR "/%s'", l->root,
				    kind);
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
	top_fd = openat(l->root_fd, MEMO_DIR, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (top_fd < 0)
		return errno == ENOENT ? 0 : err_set_errno(e, ERR_IO, errno, "cannot open '%s/"
							   MEMO_DIR "'", l->root);
	if (!(top = fdopendir(top_fd))) {
		close(top_fd);
		return err_set_errno(e, ERR_IO, errno, "cannot list '%s/" MEMO_DIR "'", l->root);
	}
	while (ret == 0 && (k = layout_dir_next(top, &rc)))
		if (memo_kind_valid(k->d_name))
			ret = memo_prune_kind(out_removed, l, top_fd, k->d_name, cutoff, dry_run,
					      e);
	if (ret == 0 && rc)
		ret = err_set_errno(e, ERR_IO, rc, "cannot list '%s/" MEMO_DIR "'", l->root);
	closedir(top);
	return ret;
}

/* layout.c - the OCI image-layout store.  See layout.h. */
#include "cache/layout.h"

#include "core/buf.h"
#include "core/digest.h"
#include "core/err.h"
#include "core/json.h"
#include "core/manifest.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
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
};

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

static int fsync_dir_at(int dirfd, const char *name)
{
	int fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int rc = 0;

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
	if (!rc && fsync(fd) < 0)
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

/* With LAYOUT_CREATE on a directory without oci-layout: allowed only when
 * it holds nothing but the parts a half-finished create leaves behind. */
static int check_empty(struct layout *l, struct err *e)
{
	static const char *const ok[] = { ".", "..", "blobs", "index.json", HOIST_DIR };
	struct dirent *de;
	DIR *d = NULL;
	int fd, ret = -1;
	size_t i;

	fd = openat(l->root_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0 || !(d = fdopendir(fd))) {
		ret = err_set_errno(e, ERR_IO, errno, "cannot list '%s'", l->root);
		if (fd >= 0)
			close(fd);
		goto out;
	}
	while ((de = readdir(d))) {
		for (i = 0; i < sizeof(ok) / sizeof(ok[0]); i++)
			if (!strcmp(de->d_name, ok[i]))
				break;
		if (i == sizeof(ok) / sizeof(ok[0])) {
			ret = err_set(e, ERR_EXISTS,
				      "'%s' is not an OCI image layout and not empty; refusing to "
				      "create a layout there: choose a new or empty directory",
				      l->root);
			goto out;
		}
	}
	ret = 0;
out:
	if (d)
		closedir(d);
	return ret;
}

static int create_parts(struct layout *l, struct err *e)
{
	struct stat st;
	int rc, ret = -1;

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
	if (fsync(l->root_fd) < 0) {
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
		ret = err_set(e, ERR_INVALID, "'%s/oci-layout' has no imageLayoutVersion", l->root);
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

/* Parses index.json; guarantees an object with a "manifests" array. */
static int read_index(struct json **out, struct layout *l, struct err *e)
{
	struct buf b = BUF_INIT;
	struct json *j = NULL, *m;
	int ret;

	*out = NULL;
	if ((ret = read_at(&b, l, "index.json", LAYOUT_INDEX_MAX, e)) < 0)
		goto out;
	if ((ret = json_parse(&j, b.data, b.len, e)) < 0) {
		err_prefix(e, "'%s/index.json'", l->root);
		goto out;
	}
	if (json_kind_of(j) != JSON_OBJECT) {
		ret = err_set(e, ERR_INVALID, "'%s/index.json' is not a JSON object", l->root);
		goto out;
	}
	m = json_get(j, "manifests");
	if (!m) {
		if (json_set(j, "manifests", json_new_array()) < 0) {
			ret = err_set(e, ERR_NOMEM, "out of memory");
			goto out;
		}
	} else if (json_kind_of(m) != JSON_ARRAY) {
		ret = err_set(e, ERR_INVALID, "'%s/index.json': \"manifests\" is not an array",
			      l->root);
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

/* --- open and close --------------------------------------------------- */

int layout_open(struct layout **out, const char *path, unsigned flags, struct err *e)
{
	struct layout *l = NULL;
	struct json *idx = NULL;
	struct stat st;
	int ret = -1;

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
	pthread_mutex_init(&l->mu, NULL);
	if ((flags & LAYOUT_CREATE) && (ret = mkdir_parents(path, e)) < 0)
		goto out;
	l->root_fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (l->root_fd < 0) {
		if (errno == ENOENT)
			ret = err_set(e, ERR_NOT_FOUND, "no OCI layout at '%s': the directory "
				      "does not exist", path);
		else if (errno == ENOTDIR)
			ret = err_set(e, ERR_INVALID, "'%s' is not a directory", path);
		else
			ret = err_set_errno(e, ERR_IO, errno, "cannot open layout '%s'", path);
		goto out;
	}
	if ((flags & LAYOUT_CREATE) && (ret = create_parts(l, e)) < 0)
		goto out;
	if ((ret = check_version(l, e)) < 0 || (ret = read_index(&idx, l, e)) < 0)
		goto out;
	if (fstatat(l->root_fd, "blobs", &st, 0) < 0 || !S_ISDIR(st.st_mode)) {
		ret = err_set(e, ERR_INVALID, "layout '%s' has no blobs/ directory: it is "
			      "damaged (open with LAYOUT_CREATE to repair)", path);
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
	if (l->root)
		pthread_mutex_destroy(&l->mu);
	free(l->root);
	free(l);
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
 * layout, or a hoist caller that only called layout_blob_put): a blob they
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

int layout_blob_begin(struct blob_writer **out, struct layout *l, const struct digest *expect,
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
	return 0;
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
	if (fsync(w->fd) < 0) {
		ret = err_set_errno(e, ERR_IO, errno, "cannot sync '%s/" INGEST_DIR "/%s'",
				    l->root, w->name);
		goto out;
	}
	if ((ret = blob_path(path, &dir_len, &got, e)) < 0)
		goto out;
	path[dir_len] = '\0';
	rc = mkdir_at(l->root_fd, path);
	if (rc == 1)
		rc = -fsync_dir_at(l->root_fd, "blobs");
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
	rc = fsync_dir_at(l->root_fd, path);
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

int layout_blob_put(struct digest *out, struct layout *l, const void *p, size_t n,
		    const struct digest *expect, struct err *e)
{
	struct blob_writer *w = NULL;
	int ret;

	if ((ret = layout_blob_begin(&w, l, expect, (int64_t)n, e)) < 0)
		return ret;
	if ((ret = blob_writer_write(w, p, n, e)) < 0) {
		blob_writer_abort(w);
		return ret;
	}
	return blob_writer_commit(out, NULL, w, e);
}

int layout_blob_has(struct layout *l, const struct digest *d, int64_t size)
{
	char path[BLOB_PATH_MAX];
	struct stat st;

	if (blob_path(path, NULL, d, NULL) < 0 || fstatat(l->root_fd, path, &st, 0) < 0)
		return 0;
	return S_ISREG(st.st_mode) && (size < 0 || st.st_size == size);
}

int layout_blob_open(int *out_fd, int64_t *out_size, struct layout *l, const struct digest *d,
		     struct err *e)
{
	char path[BLOB_PATH_MAX];
	struct stat st;
	int fd = -1, ret;

	*out_fd = -1;
	if ((ret = blob_path(path, NULL, d, e)) < 0)
		goto out;
	fd = openat(l->root_fd, path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		if (errno == ENOENT)
			ret = err_set(e, ERR_NOT_FOUND, "blob %s is not in layout '%s'", d->str,
				      l->root);
		else
			ret = err_set_errno(e, ERR_IO, errno, "cannot open '%s/%s'", l->root, path);
		goto out;
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		ret = err_set(e, ERR_INVALID, "'%s/%s' is not a regular file", l->root, path);
		goto out;
	}
	*out_fd = fd;
	fd = -1;
	if (out_size)
		*out_size = (int64_t)st.st_size;
	ret = 0;
out:
	if (fd >= 0)
		close(fd);
	return ret;
}

int layout_blob_read(struct buf *out, struct layout *l, const struct digest *d, size_t max,
		     struct err *e)
{
	struct digest got;
	size_t old = out->len, want, have = 0;
	int64_t size;
	int fd = -1, ret;
	ssize_t r;

	if ((ret = layout_blob_open(&fd, &size, l, d, e)) < 0)
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
			      "hashes to %s): remove it and fetch it again", d->str, l->root,
			      got.str);
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

int layout_index_read(struct json **out, struct layout *l, struct err *e)
{
	return read_index(out, l, e);
}

int layout_index_update(struct layout *l, int (*fn)(struct json *index, void *arg, struct err *e),
			void *arg, struct err *e)
{
	struct json *idx = NULL;
	struct buf b = BUF_INIT;
	int lock_fd = -1, tmp_fd = -1, tmp_made = 0, ret, rc, timeout_ms = lock_timeout(l);

	if ((ret = hoist_prepare(l, e)) < 0)
		goto out;
	lock_fd = openat(l->root_fd, INDEX_LOCK, O_RDONLY | O_CREAT | O_CLOEXEC, 0644);
	if (lock_fd < 0) {
		ret = err_set_errno(e, ERR_IO, errno, "cannot open '%s/" INDEX_LOCK "'", l->root);
		goto out;
	}
	/* Everything below runs under the exclusive index.lock: the re-read sees
	 * every earlier update, and nobody else writes index.json (or the fixed
	 * temporary name) until we have renamed ours into place. */
	rc = lock_wait(lock_fd, LOCK_EX, timeout_ms);
	if (rc) {
		ret = lock_failed(e, rc, lock_fd, l, timeout_ms, LOCK_KIND_INDEX);
		goto out;
	}
	if ((ret = read_index(&idx, l, e)) < 0)
		goto out;
	rc = fn(idx, arg, e);
	if (rc) {
		ret = rc < 0 ? rc : 0;
		goto out;
	}
	if (json_kind_of(idx) != JSON_OBJECT) {
		ret = err_set(e, ERR_INVALID, "index.json update left no JSON object");
		goto out;
	}
	if ((ret = json_serialize(&b, idx, 0, e)) < 0)
		goto out;
	tmp_fd = openat(l->root_fd, INDEX_TMP, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (tmp_fd < 0) {
		ret = err_set_errno(e, ERR_IO, errno, "cannot create '%s/" INDEX_TMP "'", l->root);
		goto out;
	}
	tmp_made = 1;
	rc = write_all(tmp_fd, b.data, b.len);
	if (!rc && fsync(tmp_fd) < 0)
		rc = errno;
	if (!rc && close(tmp_fd) < 0)
		rc = errno;
	tmp_fd = -1;
	if (rc) {
		ret = err_set_errno(e, ERR_IO, rc, "cannot write '%s/" INDEX_TMP "'", l->root);
		goto out;
	}
	if (renameat(l->root_fd, INDEX_TMP, l->root_fd, "index.json") < 0) {
		ret = err_set_errno(e, ERR_IO, errno, "cannot replace '%s/index.json'", l->root);
		goto out;
	}
	tmp_made = 0;
	if (fsync(l->root_fd) < 0) {
		ret = err_set_errno(e, ERR_IO, errno, "cannot sync '%s'", l->root);
		goto out;
	}
	ret = 0;
out:
	if (tmp_fd >= 0)
		close(tmp_fd);
	if (tmp_made)
		unlinkat(l->root_fd, INDEX_TMP, 0);
	if (lock_fd >= 0)
		close(lock_fd);
	json_free(idx);
	buf_release(&b);
	return ret;
}

struct set_arg {
	const char *name;
	struct json *entry;	/* NULL: remove */
	const char *root;
};

/* Rebuilds "manifests": the first entry named a->name becomes a->entry (or
 * goes, with entry NULL), later ones go, all others stay in order. */
static int set_fn(struct json *index, void *arg, struct err *e)
{
	struct set_arg *a = arg;
	struct json *old = json_get(index, "manifests"), *arr = json_new_array(), *m;
	size_t i, n = json_array_len(old);
	int found = 0, ret = ERR_NOMEM, rc;

	if (!arr)
		goto out;
	for (i = 0; i < n; i++) {
		m = json_array_get(old, i);
		if (!entry_is(m, a->name))
			m = json_ref(m);
		else if (!found++ && a->entry)
			m = json_ref(a->entry);
		else
			continue;
		if (json_append(arr, m) < 0)
			goto out;
	}
	if (!found && !a->entry) {
		ret = err_set(e, ERR_NOT_FOUND, "no image named '%s' in layout '%s'", a->name,
			      a->root);
		goto out;
	}
	if (!found && json_append(arr, json_ref(a->entry)) < 0)
		goto out;
	rc = json_set(index, "manifests", arr);
	arr = NULL;
	if (rc < 0)
		goto out;
	ret = 0;
out:
	if (ret == ERR_NOMEM)
		err_set(e, ERR_NOMEM, "out of memory updating index.json");
	json_free(arr);
	return ret;
}

int layout_index_set(struct layout *l, const char *ref_name, const struct descriptor *d,
		     struct err *e)
{
	struct set_arg a = { ref_name, NULL, l->root };
	struct descriptor c;
	int ret;

	descriptor_init(&c);
	if ((ret = ref_name_check(ref_name, e)) < 0)
		goto out;
	if (descriptor_copy(&c, d) < 0 || kvlist_set(&c.annotations, ANNOT_REF_NAME, ref_name) < 0 ||
	    !(a.entry = descriptor_to_json(&c))) {
		ret = err_set(e, ERR_NOMEM, "out of memory");
		goto out;
	}
	ret = layout_index_update(l, set_fn, &a, e);
out:
	json_free(a.entry);
	descriptor_release(&c);
	return ret;
}

int layout_index_remove(struct layout *l, const char *ref_name, struct err *e)
{
	struct set_arg a = { ref_name, NULL, l->root };

	if (!ref_name || !*ref_name)
		return err_set(e, ERR_INVALID, "empty image reference name");
	return layout_index_update(l, set_fn, &a, e);
}

int layout_index_find(struct descriptor *out, struct layout *l, const char *ref_name,
		      struct err *e)
{
	struct json *idx = NULL, *arr;
	char what[64];
	size_t i, n;
	int ret;

	if (!ref_name || !*ref_name)
		return err_set(e, ERR_INVALID, "empty image reference name");
	if ((ret = read_index(&idx, l, e)) < 0)
		goto out;
	arr = json_get(idx, "manifests");
	n = json_array_len(arr);
	for (i = 0; i < n; i++)
		if (entry_is(json_array_get(arr, i), ref_name))
			break;
	if (i == n) {
		ret = err_set(e, ERR_NOT_FOUND, "no image named '%.200s' in layout '%s'",
			      ref_name ? ref_name : "", l->root);
		goto out;
	}
	snprintf(what, sizeof(what), "index.json manifests[%zu]", i);
	ret = descriptor_from_json(out, json_array_get(arr, i), what, e);
	if (ret < 0)
		err_prefix(e, "layout '%s'", l->root);
out:
	json_free(idx);
	return ret;
}

int layout_index_list(struct layout_ref **out, size_t *out_n, struct layout *l, struct err *e)
{
	struct layout_ref *refs = NULL;
	struct json *idx = NULL, *arr, *m;
	const char *name;
	char what[64];
	size_t i, n = 0;
	int ret;

	*out = NULL;
	*out_n = 0;
	if ((ret = read_index(&idx, l, e)) < 0)
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
		snprintf(what, sizeof(what), "index.json manifests[%zu]", i);
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

/* layout.c - the OCI image-layout store.  See layout.h. */
#include "cache/layout.h"

#include "cache/store.h"
#include "cache/usage.h"
#include "core/base/buf.h"
#include "core/base/digest.h"
#include "core/base/err.h"
#include "core/base/fs.h"
#include "core/base/json.h"
#include "core/base/strvec.h"
#include "core/model/manifest.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define OCI_LAYOUT_MAX 4096
#define REF_NAME_MAX 4096

static const char oci_layout_content[] = "{\"imageLayoutVersion\":\"1.0.0\"}";
static const char index_content[] =
	"{\"schemaVersion\":2,\"mediaType\":\"" MT_OCI_INDEX "\",\"manifests\":[]}";

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
		rc = store_mkdir(AT_FDCWD, p.data);
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

/* Writes `name` in the root with `data` unless it exists: a temporary file
 * in .hoist/ is written, fsynced and hard-linked to `name`, so a concurrent
 * creator's file is never overwritten and nobody sees a partial one. */
static int create_file(struct layout *l, const char *name, const char *data, struct err *e)
{
	char tmp[96], rel[128];
	int fd = -1, ret = -1, rc;

	store_tmp_name(tmp, sizeof(tmp), l, "create");
	snprintf(rel, sizeof(rel), STORE_HOIST_DIR "/%s", tmp);
	fd = openat(l->root_fd, rel, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	if (fd < 0) {
		ret = err_set_errno(e, ERR_IO, errno, "cannot create '%s/%s'", l->root, rel);
		goto out;
	}
	rc = fs_write_all(fd, data, strlen(data)) < 0 ? errno : 0;
	if (!rc && store_fsync(l, fd) < 0)
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
	static const char *const ok[] = { "blobs", "index.json", STORE_HOIST_DIR };
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
	static const char *const hoist_only[] = { STORE_HOIST_DIR };
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
	if ((ret = store_prepare(l, e)) < 0)
		goto out;
	rc = store_mkdir(l->root_fd, "blobs");
	if (rc >= 0)
		rc = store_mkdir(l->root_fd, "blobs/sha256");
	if (rc < 0) {
		ret = err_set_errno(e, ERR_IO, -rc, "cannot create '%s/blobs/sha256'", l->root);
		goto out;
	}
	/* oci-layout last: a directory that has it is a complete layout */
	if ((ret = create_file(l, "index.json", index_content, e)) < 0 ||
	    (ret = create_file(l, "oci-layout", oci_layout_content, e)) < 0)
		goto out;
	if (store_fsync(l, l->root_fd) < 0) {
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
	ret = store_read_all(out, fd, max, name, e);
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
	return which == LAYOUT_INDEX_META ? STORE_META_INDEX : "index.json";
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
		ret = store_read_all(&b, fd, LAYOUT_INDEX_MAX, name, e);
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

/* Opens gc.lock and takes it with `op`.  Call with l->mu held. */
static int gc_fd_lock(struct layout *l, int op, int timeout_ms, struct err *e)
{
	int fd = -1, ret, rc;

	if ((ret = store_prepare_locked(l, e)) < 0)
		goto out;
	fd = openat(l->root_fd, STORE_GC_LOCK, O_RDONLY | O_CREAT | O_CLOEXEC, 0644);
	if (fd < 0) {
		ret = err_set_errno(e, ERR_IO, errno, "cannot open '%s/" STORE_GC_LOCK "'",
				    l->root);
		goto out;
	}
	rc = store_lock_wait(fd, op, timeout_ms);
	if (rc) {
		ret = store_lock_failed(e, rc, fd, l, timeout_ms,
				  op == LOCK_SH ? STORE_LOCK_LEASE : STORE_LOCK_GC);
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
		ret = store_replace_file(l, STORE_META_INDEX_TMP, STORE_META_INDEX, STORE_HOIST_DIR,
					 b.data, b.len, e);
	else
		ret = store_replace_file(l, STORE_INDEX_TMP, "index.json", ".", b.data, b.len, e);
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
	if ((ret = store_index_lock(&lock_fd, l, e)) < 0)
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
	if ((ret = store_index_lock(&lock_fd, l, e)) < 0)
		goto out;
	if ((ret = read_index(&oidx, l, other, e)) < 0)
		goto out;
	pos = index_pos(oidx, ref_name);
	if (which == LAYOUT_INDEX_META && pos >= 0 &&
	    !strcmp(entry_digest(oidx, pos), d->digest.str)) {
		/* the complete image is already there under this name: keep it */
		ret = usage_set(l, ref_name, &d->digest, e);
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
	ret = usage_set(l, ref_name, &d->digest, e);
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
	if ((ret = store_index_lock(&lock_fd, l, e)) < 0)
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
		usage_remove(l, ref_name);
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

int layout_root_fd(const struct layout *l)
{
	return l->root_fd;
}

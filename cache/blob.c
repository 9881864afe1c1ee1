/* blob.c - the blobs of a layout.  See blob.h. */
#include "cache/blob.h"

#include "cache/layout.h"
#include "cache/store.h"
#include "core/base/buf.h"
#include "core/base/digest.h"
#include "core/base/err.h"
#include "core/base/fs.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#define BLOB_PUT_CHECK_MAX (1u << 20)
#define SOURCES_MAX_LINES 32
#define SOURCE_MAX 512
#define BLOB_PATH_MAX (DIGEST_STR_MAX + 16)

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

/* Creates the writer's temporary file in .hoist/ingest (w->fd, w->name)
 * and flocks it, which marks it live for gc.  On failure w->fd < 0 with
 * w->name "", or w->fd open for the caller to unlink and close. */
static int writer_create(struct blob_writer *w, struct err *e)
{
	struct layout *l = w->l;
	int i;

	for (i = 0; i < 16 && w->fd < 0; i++) {
		store_tmp_name(w->name, sizeof(w->name), l, "blob");
		w->fd = openat(l->ingest_fd, w->name, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
		if (w->fd < 0 && errno != EEXIST)
			break;
	}
	if (w->fd < 0) {
		w->name[0] = '\0';
		return err_set_errno(e, ERR_IO, errno, "cannot create a temporary file in "
				     "'%s/" STORE_INGEST_DIR "'", l->root);
	}
	/* it is new, so nobody else holds it */
	if (flock(w->fd, LOCK_EX | LOCK_NB) < 0)
		return err_set_errno(e, ERR_IO, errno, "cannot lock '%s/" STORE_INGEST_DIR "/%s'",
				     l->root, w->name);
	return 0;
}

int blob_begin(struct blob_writer **out, struct layout *l, const struct digest *expect,
	       int64_t expect_size, struct err *e)
{
	struct blob_writer *w = NULL;
	char path[BLOB_PATH_MAX];
	int ret = -1, leased = 0, hashing = 0;

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
	if ((ret = layout_lease_begin(l, store_lock_timeout(l), e)) < 0)
		goto out;
	leased = 1;
	if ((ret = store_prepare(l, e)) < 0)
		goto out;
	if ((ret = writer_create(w, e)) < 0)
		goto out;
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
	rc = fs_write_all(w->fd, p, n) < 0 ? errno : 0;
	if (rc) {
		w->failed = ERR_IO;
		return err_set_errno(e, ERR_IO, rc, "cannot write to '%s/" STORE_INGEST_DIR "/%s'",
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

/* ERR_DIGEST unless the content written, whose digest is `got`, has the
 * size and digest the writer expects. */
static int writer_check(const struct blob_writer *w, const struct digest *got, struct err *e)
{
	int64_t size = (int64_t)w->ctx.size;

	if (w->expect_size >= 0 && size != w->expect_size)
		return err_set(e, ERR_DIGEST, "blob %s has %" PRId64 " bytes, expected %" PRId64
			       ": the source is truncated or corrupt; nothing was stored",
			       w->have_expect ? w->expect.str : got->str, size, w->expect_size);
	if (w->have_expect && !digest_equal(got, &w->expect))
		return err_set(e, ERR_DIGEST, "blob content has digest %s, expected %s: the "
			       "source is corrupt or was tampered with; nothing was stored",
			       got->str, w->expect.str);
	return 0;
}

/* Renames the writer's fsynced temporary file to blob `got`: creates
 * blobs/<alg> when missing (and fsyncs blobs/ then), renames, and fsyncs
 * blobs/<alg>.  w->name is "" once renamed. */
static int writer_rename(struct blob_writer *w, const struct digest *got, struct err *e)
{
	struct layout *l = w->l;
	char path[BLOB_PATH_MAX];
	size_t dir_len;
	int ret, rc;

	if ((ret = blob_path(path, &dir_len, got, e)) < 0)
		return ret;
	path[dir_len] = '\0';
	rc = store_mkdir(l->root_fd, path);
	if (rc == 1)
		rc = -store_fsync_dir(l, l->root_fd, "blobs");
	if (rc < 0)
		return err_set_errno(e, ERR_IO, -rc, "cannot create '%s/%s'", l->root, path);
	path[dir_len] = '/';
	/* replaces a file of that name: ours is verified, the old one may not be */
	if (renameat(l->ingest_fd, w->name, l->root_fd, path) < 0)
		return err_set_errno(e, ERR_IO, errno, "cannot rename blob into '%s/%s'",
				     l->root, path);
	w->name[0] = '\0';
	path[dir_len] = '\0';
	rc = store_fsync_dir(l, l->root_fd, path);
	if (rc)
		return err_set_errno(e, ERR_IO, rc, "cannot sync '%s/%s'", l->root, path);
	return 0;
}

int blob_writer_commit(struct digest *out, int64_t *out_size, struct blob_writer *w,
		       struct err *e)
{
	struct layout *l = w->l;
	struct digest got;
	int ret = -1;

	if (w->failed) {
		ret = err_set(e, w->failed, "an earlier write to this blob failed: nothing was "
			      "stored");
		goto out;
	}
	if (w->final)
		got = w->got;
	else
		digest_ctx_final(&w->ctx, &got);
	if ((ret = writer_check(w, &got, e)) < 0)
		goto out;
	if (store_fsync(l, w->fd) < 0) {
		ret = err_set_errno(e, ERR_IO, errno, "cannot sync '%s/" STORE_INGEST_DIR "/%s'",
				    l->root, w->name);
		goto out;
	}
	if ((ret = writer_rename(w, &got, e)) < 0)
		goto out;
	if (out)
		*out = got;
	if (out_size)
		*out_size = (int64_t)w->ctx.size;
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
	same = store_read_all(&b, fd, n, path, NULL) == 0 && b.len == n && !memcmp(b.data, p, n);
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

/* --- sources ----------------------------------------------------------- */

static int source_path(char *out, size_t outlen, const struct digest *d, struct err *e)
{
	char blob[BLOB_PATH_MAX];
	int ret;

	if ((ret = blob_path(blob, NULL, d, e)) < 0)
		return ret;
	snprintf(out, outlen, STORE_SOURCES_DIR "/%s", blob + strlen("blobs/"));
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

/* 1 when `b` holds whole lines only and `source` is one of them or there
 * are SOURCES_MAX_LINES already: nothing to append. */
static int source_done(const struct buf *b, const char *source)
{
	size_t n_lines;

	return b->len && b->data[b->len - 1] == '\n' &&
	       (lines_have(b, source, &n_lines) || n_lines >= SOURCES_MAX_LINES);
}

/* Opens the sources record `path` of `d` for appending (O_RDWR), creating
 * it and its directories when missing. */
static int source_open(int *out_fd, struct layout *l, char *path, const struct digest *d,
		       struct err *e)
{
	size_t dir_len = strlen(STORE_SOURCES_DIR "/") + strlen(digest_alg_name(d->alg));
	int ret, rc;

	if ((ret = store_prepare(l, e)) < 0)
		return ret;
	path[dir_len] = '\0';
	rc = store_mkdir(l->root_fd, STORE_SOURCES_DIR);
	if (rc >= 0)
		rc = store_mkdir(l->root_fd, path);
	if (rc < 0)
		return err_set_errno(e, ERR_IO, -rc, "cannot create '%s/%s'", l->root, path);
	path[dir_len] = '/';
	*out_fd = openat(l->root_fd, path, O_RDWR | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW,
			 0644);
	if (*out_fd < 0)
		return err_set_errno(e, ERR_IO, errno, "cannot open '%s/%s'", l->root, path);
	return 0;
}

int blob_source_add(struct layout *l, const struct digest *d, const char *source,
		    struct err *e)
{
	char path[BLOB_PATH_MAX + 32];
	struct buf b = BUF_INIT;
	size_t n_lines;
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
		rc = store_read_all(&b, fd, 64 * (SOURCE_MAX + 1), path, NULL);
		close(fd);
		fd = -1;
		if (rc == 0 && source_done(&b, source)) {
			ret = 0;
			goto out;
		}
		buf_reset(&b);
	}
	if ((ret = source_open(&fd, l, path, d, e)) < 0)
		goto out;
	/* short and uncontended: makes check-then-append atomic among hoists */
	rc = store_lock_wait(fd, LOCK_EX, 5000);
	if (rc) {
		ret = err_set_errno(e, ERR_LOCKED, rc, "cannot lock '%s/%s'", l->root, path);
		goto out;
	}
	if ((ret = store_read_all(&b, fd, 64 * (SOURCE_MAX + 1), path, e)) < 0)
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
	rc = fs_write_all(fd, b.data, b.len) < 0 ? errno : 0;
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
	if ((ret = store_read_all(&b, fd, 64 * (SOURCE_MAX + 1), path, e)) < 0)
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

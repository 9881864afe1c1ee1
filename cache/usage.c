/* usage.c - usage records of index entries.  See usage.h. */
#include "cache/usage.h"

#include "cache/layout.h"
#include "cache/store.h"
#include "core/base/buf.h"
#include "core/base/digest.h"
#include "core/base/err.h"
#include "core/base/json.h"
#include "core/model/manifest.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* ".hoist/refs/<sha256 hex of name>.json" (and ".tmp" with tmp set). */
static int ref_record_path(char *out, size_t outlen, const char *name, int tmp, struct err *e)
{
	struct digest d;
	int ret;

	if ((ret = digest_buffer(&d, DIGEST_SHA256, name, strlen(name), e)) < 0)
		return ret;
	snprintf(out, outlen, STORE_REFS_DIR "/%s.json%s", digest_hex(&d), tmp ? ".tmp" : "");
	return 0;
}

static void format_time(char *out, size_t outlen, time_t t)
{
	struct tm tm;

	if (!gmtime_r(&t, &tm) || !strftime(out, outlen, "%Y-%m-%dT%H:%M:%SZ", &tm))
		snprintf(out, outlen, "1970-01-01T00:00:00Z");
}

int usage_set(struct layout *l, const char *name, const struct digest *d, struct err *e)
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
	rc = store_mkdir(l->root_fd, STORE_REFS_DIR);
	if (rc < 0) {
		ret = err_set_errno(e, ERR_IO, -rc, "cannot create '%s/" STORE_REFS_DIR "'",
				    l->root);
		goto out;
	}
	ret = store_replace_file(l, tmp, path, STORE_REFS_DIR, b.data, b.len, e);
out:
	if (ret == ERR_NOMEM && !e->msg[0])
		err_set(e, ERR_NOMEM, "out of memory");
	json_free(j);
	buf_release(&b);
	return ret;
}

void usage_remove(struct layout *l, const char *name)
{
	char path[128];

	if (ref_record_path(path, sizeof(path), name, 0, NULL) == 0)
		unlinkat(l->root_fd, path, 0);
}

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
	if ((ret = store_read_all(&b, fd, 65536, path, e)) < 0 ||
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

	if ((ret = layout_index_read_in(&idx, l, which, e)) < 0)
		goto out;
	arr = json_get(idx, "manifests");
	for (i = 0; i < json_array_len(arr); i++) {
		n = json_get_str(json_get(json_array_get(arr, i), "annotations"), ANNOT_REF_NAME);
		if (!n)
			continue;
		if ((ret = ref_record_path(path, sizeof(path), n, 0, e)) < 0)
			goto out;
		if (strvec_push(names, path + strlen(STORE_REFS_DIR "/")) < 0) {
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
	if ((ret = store_index_lock(&lock_fd, l, e)) < 0)
		goto out;
	if ((ret = record_names(&names, l, LAYOUT_INDEX_MAIN, e)) < 0 ||
	    (ret = record_names(&names, l, LAYOUT_INDEX_META, e)) < 0)
		goto out;
	qsort(names.v, names.n, sizeof(*names.v), cmp_str);
	fd = openat(l->root_fd, STORE_REFS_DIR, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0) {
		ret = errno == ENOENT ? 0 : err_set_errno(e, ERR_IO, errno, "cannot open '%s/"
							  STORE_REFS_DIR "'", l->root);
		goto out;
	}
	if (!(d = fdopendir(fd))) {
		close(fd);
		ret = err_set_errno(e, ERR_IO, errno, "cannot list '%s/" STORE_REFS_DIR "'",
				    l->root);
		goto out;
	}
	while ((de = layout_dir_next(d, &rc))) {
		char *key = de->d_name;

		if (de->d_name[0] == '.' ||
		    bsearch(&key, names.v, names.n, sizeof(*names.v), cmp_str))
			continue;
		if (!dry_run && unlinkat(dirfd(d), de->d_name, 0) < 0 && errno != ENOENT) {
			ret = err_set_errno(e, ERR_IO, errno, "cannot remove '%s/" STORE_REFS_DIR
					    "/%s'", l->root, de->d_name);
			goto out;
		}
		(*out_removed)++;
	}
	if (rc) {
		ret = err_set_errno(e, ERR_IO, rc, "cannot list '%s/" STORE_REFS_DIR "'", l->root);
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

#define TEST_MODULE "layout"
#include "core/base/strvec.h"
#include "tests/unit/test.h"

#include "cache/layout.h"
#include "core/base/buf.h"
#include "core/base/digest.h"
#include "core/base/err.h"
#include "core/base/json.h"
#include "core/model/manifest.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

/* --- helpers ---------------------------------------------------------- */

static char *scratch(void)
{
	const char *t = getenv("TMPDIR");
	struct buf b = BUF_INIT;

	buf_addf(&b, "%s/hoist-layout-test.XXXXXX", t && *t ? t : "/tmp");
	if (!mkdtemp(b.data)) {
		perror("mkdtemp");
		exit(2);
	}
	return buf_detach(&b, NULL);
}

static int rm_one(const char *p, const struct stat *st, int flag, struct FTW *f)
{
	(void)st; (void)flag; (void)f;
	return remove(p);
}

static void scratch_free(char *dir)
{
	nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	free(dir);
}

static char *path_of(const char *dir, const char *rel)
{
	struct buf b = BUF_INIT;

	buf_addf(&b, "%s/%s", dir, rel);
	return buf_detach(&b, NULL);
}

/* Entries in dir/rel other than . and .., or -1 when it cannot be read. */
static int count_entries(const char *dir, const char *rel)
{
	char *p = path_of(dir, rel);
	struct dirent *de;
	DIR *d = opendir(p);
	int n = 0;

	free(p);
	if (!d)
		return -1;
	while ((de = readdir(d)))
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
			n++;
	closedir(d);
	return n;
}

static void write_file(const char *dir, const char *rel, const char *content)
{
	char *p = path_of(dir, rel);
	FILE *f = fopen(p, "w");

	if (!f) {
		perror(p);
		exit(2);
	}
	fputs(content, f);
	fclose(f);
	free(p);
}

static int file_exists(const char *dir, const char *rel)
{
	char *p = path_of(dir, rel);
	struct stat st;
	int rc = stat(p, &st) == 0;

	free(p);
	return rc;
}

static struct layout *open_new(const char *dir)
{
	struct layout *l = NULL;
	struct err e = ERR_INIT;

	if (layout_open(&l, dir, LAYOUT_CREATE, &e) < 0) {
		fprintf(stderr, "layout_open: %s\n", e.msg);
		exit(2);
	}
	return l;
}

static void make_desc(struct descriptor *d, const char *content)
{
	descriptor_init(d);
	d->media_type = strdup(MT_OCI_MANIFEST);
	digest_buffer(&d->digest, DIGEST_SHA256, content, strlen(content), NULL);
	d->size = (int64_t)strlen(content);
}

static void fill(unsigned char *p, size_t n, uint32_t seed)
{
	size_t i;

	for (i = 0; i < n; i++) {
		seed = seed * 1664525u + 1013904223u;
		p[i] = (unsigned char)(seed >> 24);
	}
}

/* --- tests ------------------------------------------------------------ */

TEST(create_and_open)
{
	char *dir = scratch(), *sub = path_of(dir, "a/b/layout"), *p;
	struct layout *l = NULL;
	struct err e = ERR_INIT;
	struct json *j = NULL;
	struct stat st;

	CHECK_RC(layout_open(&l, sub, 0, &e), ERR_NOT_FOUND);
	CHECK(strstr(e.msg, "does not exist") != NULL);
	umask(022);
	CHECK_RC(layout_open(&l, sub, LAYOUT_CREATE, &e), 0);
	CHECK_STR(layout_path(l), sub);
	layout_free(l);
	l = NULL;
	CHECK(stat(sub, &st) == 0 && (st.st_mode & 0777) == 0755);
	CHECK(file_exists(sub, "blobs/sha256"));
	CHECK(count_entries(sub, "blobs/sha256") == 0);
	p = path_of(sub, "oci-layout");
	{
		FILE *f = fopen(p, "r");
		char line[128] = "";

		CHECK(f && fgets(line, sizeof(line), f));
		CHECK_STR(line, "{\"imageLayoutVersion\":\"1.0.0\"}");
		if (f)
			fclose(f);
	}
	free(p);
	CHECK_RC(layout_open(&l, sub, 0, &e), 0);
	CHECK_RC(layout_index_read(&j, l, &e), 0);
	CHECK(json_array_len(json_get(j, "manifests")) == 0);
	json_free(j);
	layout_free(l);
	l = NULL;
	/* opening again with LAYOUT_CREATE changes nothing */
	CHECK_RC(layout_open(&l, sub, LAYOUT_CREATE, &e), 0);
	layout_free(l);
	l = NULL;

	/* a non-empty directory that is no layout is refused */
	write_file(dir, "a/precious.txt", "x");
	p = path_of(dir, "a");
	CHECK_RC(layout_open(&l, p, LAYOUT_CREATE, &e), ERR_EXISTS);
	CHECK(strstr(e.msg, "not empty") != NULL);
	CHECK_RC(layout_open(&l, p, 0, &e), ERR_INVALID);	/* files, but no layout */
	CHECK(strstr(e.msg, "oci-layout") != NULL);
	CHECK(l == NULL);
	free(p);

	/* a minimal layout as other tools write it: no mediaType, no blobs/sha256 */
	p = path_of(dir, "other");
	mkdir(p, 0755);
	write_file(p, "oci-layout", "{\"imageLayoutVersion\": \"1.0.0\"}\n");
	write_file(p, "index.json", "{\"schemaVersion\":2,\"manifests\":[]}");
	CHECK_RC(layout_open(&l, p, 0, &e), ERR_INVALID);	/* no blobs/ */
	CHECK(strstr(e.msg, "blobs") != NULL);
	{
		char *b = path_of(p, "blobs");

		mkdir(b, 0755);
		free(b);
	}
	CHECK_RC(layout_open(&l, p, 0, &e), 0);
	CHECK(!file_exists(p, ".hoist"));	/* opening wrote nothing */
	if (l) {
		struct digest d;
		struct descriptor f;

		descriptor_init(&f);
		CHECK_RC(layout_index_find(&f, l, "x:1", &e), ERR_NOT_FOUND);
		CHECK_RC(layout_index_find(&f, l, NULL, &e), ERR_INVALID);
		CHECK(!file_exists(p, ".hoist"));

		CHECK_RC(blob_put(&d, l, "x", 1, NULL, &e), 0);
		CHECK(blob_has(l, &d, 1) == 1);
	}
	layout_free(l);
	l = NULL;
	write_file(p, "oci-layout", "{\"imageLayoutVersion\": \"2.0.0\"}");
	CHECK_RC(layout_open(&l, p, 0, &e), ERR_UNSUPPORTED);
	write_file(p, "oci-layout", "{\"imageLayoutVersion\": \"1.0.0\"}");
	write_file(p, "index.json", "[1]");
	CHECK_RC(layout_open(&l, p, 0, &e), ERR_INVALID);
	free(p);

	free(sub);
	scratch_free(dir);
}

TEST(put_and_read)
{
	char *dir = scratch(), *p;
	struct layout *l = open_new(dir);
	struct err e = ERR_INIT;
	struct digest d, want, other;
	struct buf b = BUF_INIT;
	int64_t size = 0;
	int fd = -1;

	digest_buffer(&want, DIGEST_SHA256, "hello", 5, NULL);
	CHECK_RC(blob_put(&d, l, "hello", 5, NULL, &e), 0);
	CHECK(digest_equal(&d, &want));
	CHECK_RC(blob_put(NULL, l, "hello", 5, &want, &e), 0);
	CHECK(blob_has(l, &d, 5) == 1);
	CHECK(blob_has(l, &d, -1) == 1);
	CHECK(blob_has(l, &d, 6) == 0);
	CHECK_RC(buf_addstr(&b, "pre:"), 0);
	CHECK_RC(blob_read(&b, l, &d, 100, &e), 0);
	CHECK_STR(b.data, "pre:hello");
	CHECK_RC(blob_read(&b, l, &d, 3, &e), ERR_TOO_BIG);
	CHECK_STR(b.data, "pre:hello");
	CHECK_RC(blob_open(&fd, &size, l, &d, &e), 0);
	CHECK(fd >= 0 && size == 5);
	if (fd >= 0)
		close(fd);
	digest_buffer(&other, DIGEST_SHA256, "other", 5, NULL);
	CHECK(blob_has(l, &other, -1) == 0);
	CHECK_RC(blob_open(&fd, &size, l, &other, &e), ERR_NOT_FOUND);
	CHECK(fd == -1);
	CHECK_RC(blob_read(&b, l, &other, 0, &e), ERR_NOT_FOUND);

	/* content rotted on disk (same size): reading refuses it */
	p = path_of("blobs/sha256", digest_hex(&d));
	write_file(dir, p, "jello");
	buf_reset(&b);
	CHECK_RC(blob_read(&b, l, &d, 0, &e), ERR_DIGEST);
	CHECK(strstr(e.msg, "corrupt") != NULL);
	CHECK(b.len == 0);
	/* a verified write repairs it */
	CHECK_RC(blob_put(NULL, l, "hello", 5, &want, &e), 0);
	CHECK_RC(blob_read(&b, l, &d, 0, &e), 0);
	CHECK_STR(b.data, "hello");
	CHECK(count_entries(dir, ".hoist/ingest") == 0);
	free(p);

	buf_release(&b);
	layout_free(l);
	scratch_free(dir);
}

/* The digest asked for before the commit is what the commit stores. */
TEST(digest_before_commit)
{
	char *dir = scratch();
	struct layout *l = open_new(dir);
	struct err e = ERR_INIT;
	struct blob_writer *w = NULL;
	struct digest want, early, got;
	int64_t size = 0;

	digest_buffer(&want, DIGEST_SHA256, "early", 5, NULL);
	CHECK_RC(blob_begin(&w, l, NULL, -1, &e), 0);
	CHECK_RC(blob_writer_write(w, "ear", 3, &e), 0);
	CHECK_RC(blob_writer_write(w, "ly", 2, &e), 0);
	blob_writer_digest(&early, &size, w);
	CHECK(digest_equal(&early, &want) && size == 5);
	CHECK_RC(blob_writer_write(w, "x", 1, &e), ERR_USAGE);
	CHECK_STR(e.msg, "cannot write to a blob after its digest was taken");
	CHECK_RC(blob_writer_commit(&got, &size, w, &e), 0);
	CHECK(digest_equal(&got, &want) && size == 5);
	CHECK(blob_has(l, &want, 5) == 1);
	layout_free(l);
	scratch_free(dir);
}

TEST(streamed_write)
{
	enum { N = 3 * 1024 * 1024 + 17 };
	char *dir = scratch();
	struct layout *l = open_new(dir);
	struct err e = ERR_INIT;
	struct blob_writer *w = NULL;
	struct digest want, got;
	struct buf b = BUF_INIT;
	unsigned char *data = malloc(N);
	size_t off = 0, chunk = 1;
	int64_t size = 0;

	fill(data, N, 42);
	digest_buffer(&want, DIGEST_SHA256, data, N, NULL);
	CHECK_RC(blob_begin(&w, l, &want, N, &e), 0);
	CHECK(count_entries(dir, ".hoist/ingest") == 1);
	while (w && off < N) {
		size_t n = chunk < N - off ? chunk : N - off;

		CHECK_RC(blob_writer_write(w, data + off, n, &e), 0);
		off += n;
		chunk = chunk * 3 + 1;
	}
	CHECK(blob_has(l, &want, -1) == 0);	/* invisible until commit */
	CHECK_RC(blob_writer_commit(&got, &size, w, &e), 0);
	CHECK(digest_equal(&got, &want));
	CHECK(size == N);
	CHECK_RC(blob_read(&b, l, &want, N, &e), 0);
	CHECK(b.len == N && !memcmp(b.data, data, N));
	CHECK(count_entries(dir, ".hoist/ingest") == 0);

	/* unknown digest and size */
	CHECK_RC(blob_begin(&w, l, NULL, -1, &e), 0);
	CHECK_RC(blob_writer_write(w, data, 1000, &e), 0);
	CHECK_RC(blob_writer_write(w, data + 1000, 0, &e), 0);
	CHECK_RC(blob_writer_commit(&got, &size, w, &e), 0);
	CHECK(size == 1000);
	CHECK(blob_has(l, &got, 1000) == 1);

	/* abort leaves nothing */
	CHECK_RC(blob_begin(&w, l, NULL, -1, &e), 0);
	CHECK_RC(blob_writer_write(w, "abc", 3, &e), 0);
	blob_writer_abort(w);
	blob_writer_abort(NULL);
	CHECK(count_entries(dir, ".hoist/ingest") == 0);
	CHECK(count_entries(dir, "blobs/sha256") == 2);

	free(data);
	buf_release(&b);
	layout_free(l);
	scratch_free(dir);
}

TEST(corrupt_stream_refused)
{
	char *dir = scratch();
	struct layout *l = open_new(dir);
	struct err e = ERR_INIT;
	struct blob_writer *w = NULL;
	struct digest want, got;

	digest_buffer(&want, DIGEST_SHA256, "good data", 9, NULL);
	/* wrong digest */
	CHECK_RC(blob_begin(&w, l, &want, -1, &e), 0);
	CHECK_RC(blob_writer_write(w, "evil data", 9, &e), 0);
	CHECK_RC(blob_writer_commit(&got, NULL, w, &e), ERR_DIGEST);
	CHECK(strstr(e.msg, want.str) != NULL);
	CHECK(strstr(e.msg, "nothing was stored") != NULL);
	CHECK_RC(blob_put(NULL, l, "evil data", 9, &want, &e), ERR_DIGEST);
	/* too short */
	CHECK_RC(blob_begin(&w, l, &want, 9, &e), 0);
	CHECK_RC(blob_writer_write(w, "good", 4, &e), 0);
	CHECK_RC(blob_writer_commit(NULL, NULL, w, &e), ERR_DIGEST);
	CHECK(strstr(e.msg, "4 bytes, expected 9") != NULL);
	/* too long: refused at the write that overflows, and at commit */
	CHECK_RC(blob_begin(&w, l, NULL, 4, &e), 0);
	CHECK_RC(blob_writer_write(w, "good", 4, &e), 0);
	CHECK_RC(blob_writer_write(w, "!", 1, &e), ERR_DIGEST);
	CHECK_RC(blob_writer_write(w, "", 0, &e), ERR_DIGEST);
	CHECK_RC(blob_writer_commit(NULL, NULL, w, &e), ERR_DIGEST);
	/* right digest, wrong size */
	CHECK_RC(blob_begin(&w, l, &want, 8, &e), 0);
	CHECK_RC(blob_writer_write(w, "good dat", 8, &e), 0);
	CHECK_RC(blob_writer_commit(NULL, NULL, w, &e), ERR_DIGEST);
	CHECK_RC(blob_begin(&w, l, NULL, -2, &e), ERR_INVALID);
	CHECK(w == NULL);

	CHECK(count_entries(dir, "blobs/sha256") == 0);
	CHECK(count_entries(dir, ".hoist/ingest") == 0);
	CHECK(blob_has(l, &want, -1) == 0);
	layout_free(l);
	scratch_free(dir);
}

TEST(existing_wrong_size_replaced)
{
	char *dir = scratch(), *p;
	struct layout *l = open_new(dir);
	struct err e = ERR_INIT;
	struct digest d;
	struct buf b = BUF_INIT;

	digest_buffer(&d, DIGEST_SHA256, "the content", 11, NULL);
	p = path_of("blobs/sha256", digest_hex(&d));
	write_file(dir, p, "trunc");	/* e.g. a half-written file by another tool */
	CHECK(blob_has(l, &d, -1) == 1);
	CHECK(blob_has(l, &d, 11) == 0);
	CHECK_RC(blob_put(NULL, l, "the content", 11, &d, &e), 0);
	CHECK(blob_has(l, &d, 11) == 1);
	CHECK_RC(blob_read(&b, l, &d, 0, &e), 0);
	CHECK_STR(b.data, "the content");
	free(p);
	buf_release(&b);
	layout_free(l);
	scratch_free(dir);
}

TEST(index_set_replace_remove_find)
{
	char *dir = scratch();
	struct layout *l = open_new(dir), *l2 = NULL;
	struct err e = ERR_INIT;
	struct descriptor d1, d2, d3, got;
	struct layout_ref *refs = NULL;
	size_t n = 0;
	static const char *bad[] = {
		"", "a//b", "-a", "a b", "a:", "/a", "a/", "a\nb", "a..:b", "ü",
	};
	size_t i;

	make_desc(&d1, "one");
	make_desc(&d2, "two");
	make_desc(&d3, "three");
	kvlist_set(&d3.annotations, "org.example.note", "kept");
	kvlist_set(&d3.annotations, ANNOT_REF_NAME, "overridden");
	descriptor_init(&got);
	CHECK_RC(layout_index_set(l, "docker.io/library/golang:1.20", &d1, &e), 0);
	CHECK_RC(layout_index_set(l, "example.com/a/b@sha256:abc", &d2, &e), 0);
	CHECK_RC(layout_index_set(l, "docker.io/library/golang:1.20", &d3, &e), 0);
	CHECK_RC(layout_index_list(&refs, &n, l, &e), 0);
	CHECK(n == 2);
	if (n == 2) {
		CHECK_STR(refs[0].name, "docker.io/library/golang:1.20");
		CHECK(digest_equal(&refs[0].desc.digest, &d3.digest));	/* in place */
		CHECK_STR(kvlist_get(&refs[0].desc.annotations, "org.example.note"), "kept");
		CHECK_STR(refs[1].name, "example.com/a/b@sha256:abc");
		CHECK(refs[1].desc.size == 3);
	}
	layout_refs_free(refs, n);

	/* another handle sees it */
	CHECK_RC(layout_open(&l2, dir, 0, &e), 0);
	CHECK_RC(layout_index_find(&got, l2, "docker.io/library/golang:1.20", &e), 0);
	CHECK(digest_equal(&got.digest, &d3.digest));
	CHECK_STR(got.media_type, MT_OCI_MANIFEST);
	CHECK_STR(kvlist_get(&got.annotations, ANNOT_REF_NAME), "docker.io/library/golang:1.20");
	descriptor_release(&got);
	CHECK_RC(layout_index_find(&got, l2, "docker.io/library/golang:1.21", &e), ERR_NOT_FOUND);

	CHECK_RC(layout_index_remove(l, "example.com/a/b@sha256:abc", &e), 0);
	CHECK_RC(layout_index_find(&got, l2, "example.com/a/b@sha256:abc", &e), ERR_NOT_FOUND);
	CHECK_RC(layout_index_remove(l, "example.com/a/b@sha256:abc", &e), ERR_NOT_FOUND);
	CHECK(strstr(e.msg, "no image named") != NULL);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		CHECK_RC(layout_index_set(l, bad[i], &d1, &e), ERR_INVALID);
	CHECK_RC(layout_index_set(l, "a--b.c_d:1.0-x@y+z", &d1, &e), 0);
	CHECK(count_entries(dir, ".hoist") == 3);	/* ingest, index.lock, refs: no temp files */
	CHECK(!file_exists(dir, ".hoist/index.json.tmp"));

	descriptor_release(&d1);
	descriptor_release(&d2);
	descriptor_release(&d3);
	layout_free(l2);
	layout_free(l);
	scratch_free(dir);
}

TEST(foreign_entries_preserved)
{
	char *dir = scratch();
	struct layout *l = open_new(dir);
	struct err e = ERR_INIT;
	struct descriptor d;
	struct json *j = NULL, *m;
	int64_t v = 0;

	write_file(dir, "index.json",
		   "{\"schemaVersion\":2,\"x-extra\":{\"k\":1},\"manifests\":["
		   "{\"mediaType\":\"" MT_OCI_MANIFEST "\",\"digest\":\"sha256:"
		   "1111111111111111111111111111111111111111111111111111111111111111\","
		   "\"size\":1,\"x-unknown\":true},"
		   "{\"mediaType\":\"" MT_OCI_MANIFEST "\",\"digest\":\"sha256:"
		   "2222222222222222222222222222222222222222222222222222222222222222\","
		   "\"size\":2,\"annotations\":{\"" ANNOT_REF_NAME "\":\"r:1\"}},"
		   "{\"mediaType\":\"" MT_OCI_MANIFEST "\",\"digest\":\"sha256:"
		   "3333333333333333333333333333333333333333333333333333333333333333\","
		   "\"size\":3,\"annotations\":{\"" ANNOT_REF_NAME "\":\"r:1\"}}]}");
	make_desc(&d, "new");
	CHECK_RC(layout_index_set(l, "r:1", &d, &e), 0);
	CHECK_RC(layout_index_read(&j, l, &e), 0);
	CHECK(json_get_int64(json_get(j, "x-extra"), "k", &v) == 0 && v == 1);
	m = json_get(j, "manifests");
	CHECK(json_array_len(m) == 2);
	CHECK(json_is_true(json_get(json_array_get(m, 0), "x-unknown")));
	CHECK(json_get(json_array_get(m, 0), "annotations") == NULL);
	CHECK_STR(json_get_str(json_array_get(m, 1), "digest"), d.digest.str);
	json_free(j);
	j = NULL;
	CHECK_RC(layout_index_remove(l, "r:1", &e), 0);
	CHECK_RC(layout_index_read(&j, l, &e), 0);
	CHECK(json_array_len(json_get(j, "manifests")) == 1);
	json_free(j);
	descriptor_release(&d);
	layout_free(l);
	scratch_free(dir);
}

static int update_noop(struct json *index, void *arg, struct err *e)
{
	(void)index; (void)arg; (void)e;
	return 1;
}

static int update_fail(struct json *index, void *arg, struct err *e)
{
	json_set_str(index, "x", "y");
	return err_set(e, ERR_USAGE, "refused by callback");
}

static int update_add(struct json *index, void *arg, struct err *e)
{
	return json_set_str(index, "x-note", arg) < 0 ? err_set(e, ERR_NOMEM, "oom") : 0;
}

TEST(index_update_callback)
{
	char *dir = scratch();
	struct layout *l = open_new(dir);
	struct err e = ERR_INIT;
	struct json *j = NULL;

	CHECK_RC(layout_index_update(l, update_noop, NULL, &e), 0);
	CHECK_RC(layout_index_update(l, update_fail, NULL, &e), ERR_USAGE);
	CHECK_STR(e.msg, "refused by callback");
	CHECK_RC(layout_index_update(l, update_add, "hi", &e), 0);
	CHECK_RC(layout_index_read(&j, l, &e), 0);
	CHECK(json_get_str(j, "x") == NULL);
	CHECK_STR(json_get_str(j, "x-note"), "hi");
	CHECK(json_get_str(j, "mediaType") != NULL);
	json_free(j);
	layout_free(l);
	scratch_free(dir);
}

enum { WRITERS = 8, REFS_EACH = 25 };

static int writer_child(const char *dir, int id, int go_fd)
{
	struct layout *l = NULL;
	struct err e = ERR_INIT;
	struct descriptor d;
	char name[128], content[64];
	int i, rc = 0;
	char c;

	if (read(go_fd, &c, 1) < 0)	/* wait for the start signal (EOF) */
		return 10;
	if (layout_open(&l, dir, 0, &e) < 0)
		return 11;
	for (i = 0; i < REFS_EACH && !rc; i++) {
		snprintf(content, sizeof(content), "w%d-%d", id, i);
		make_desc(&d, content);
		/* the blob and its entry under one lease, as a real writer does */
		if (layout_lease_begin(l, 30000, &e) < 0 ||
		    blob_put(NULL, l, content, strlen(content), &d.digest, &e) < 0)
			rc = 12;
		snprintf(name, sizeof(name), "example.com/w%d/img:%d", id, i);
		if (!rc && layout_index_set(l, name, &d, &e) < 0)
			rc = 13;
		if (!rc && i % 5 == 0 && layout_index_set(l, "example.com/shared:latest", &d, &e) < 0)
			rc = 14;
		layout_lease_end(l);
		descriptor_release(&d);
	}
	if (rc)
		fprintf(stderr, "writer %d: %s\n", id, e.msg);
	layout_free(l);
	return rc;
}

TEST(concurrent_writers)
{
	char *dir = scratch();
	struct layout *l = open_new(dir);
	struct err e = ERR_INIT;
	struct layout_ref *refs = NULL;
	struct strvec seen = STRVEC_INIT;
	size_t n = 0, i;
	pid_t pids[WRITERS];
	int go[2], k, status, shared = 0, dups = 0;

	CHECK(pipe(go) == 0);
	for (k = 0; k < WRITERS; k++) {
		pids[k] = fork();
		if (pids[k] == 0) {
			close(go[1]);
			_exit(writer_child(dir, k, go[0]));
		}
	}
	close(go[0]);
	close(go[1]);	/* all start at once */
	for (k = 0; k < WRITERS; k++) {
		CHECK(waitpid(pids[k], &status, 0) == pids[k]);
		CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	}
	CHECK_RC(layout_index_list(&refs, &n, l, &e), 0);
	CHECK(n == WRITERS * REFS_EACH + 1);
	for (i = 0; i < n; i++) {
		if (!refs[i].name)
			continue;
		if (!strcmp(refs[i].name, "example.com/shared:latest"))
			shared++;
		else if (strvec_find(&seen, refs[i].name) >= 0)
			dups++;
		else
			strvec_push(&seen, refs[i].name);
		CHECK(blob_has(l, &refs[i].desc.digest, refs[i].desc.size) == 1);
	}
	CHECK(seen.n == WRITERS * REFS_EACH);
	CHECK(shared == 1);
	CHECK(dups == 0);
	CHECK(count_entries(dir, ".hoist/ingest") == 0);
	layout_refs_free(refs, n);
	strvec_clear(&seen);
	layout_free(l);
	scratch_free(dir);
}

/* A child that takes a lease (or the gc lock), reports, and waits for EOF. */
static pid_t lease_child(const char *dir, int gc, int *ready_fd, int *release_fd)
{
	int ready[2], release[2];
	pid_t pid;

	if (pipe(ready) || pipe(release))
		exit(2);
	pid = fork();
	if (pid == 0) {
		struct layout *l = NULL;
		char c = 'x';

		close(ready[0]);
		close(release[1]);
		if (layout_open(&l, dir, 0, NULL) < 0 ||
		    (gc ? layout_gc_lock(l, 1000, NULL) : layout_lease_begin(l, 1000, NULL)) < 0)
			c = 'f';
		if (write(ready[1], &c, 1) < 0 || read(release[0], &c, 1) < 0)
			_exit(3);
		_exit(0);
	}
	close(ready[1]);
	close(release[0]);
	*ready_fd = ready[0];
	*release_fd = release[1];
	return pid;
}

TEST(lease_blocks_gc)
{
	char *dir = scratch();
	struct layout *l = open_new(dir), *l2 = NULL;
	struct err e = ERR_INIT;
	int rfd, xfd, status;
	char c = 0, pidstr[32];
	pid_t pid;

	pid = lease_child(dir, 0, &rfd, &xfd);
	CHECK(read(rfd, &c, 1) == 1 && c == 'x');
	CHECK_RC(layout_gc_lock(l, 200, &e), ERR_LOCKED);
	CHECK(strstr(e.msg, "lease") != NULL);
	snprintf(pidstr, sizeof(pidstr), "pid %ld", (long)pid);
	CHECK(strstr(e.msg, pidstr) != NULL);
	/* leases share */
	CHECK_RC(layout_lease_begin(l, 0, &e), 0);
	layout_lease_end(l);
	close(xfd);
	close(rfd);
	CHECK(waitpid(pid, &status, 0) == pid && WIFEXITED(status) && !WEXITSTATUS(status));
	CHECK_RC(layout_gc_lock(l, 2000, &e), 0);

	/* while gc holds it, a lease (and so a blob write) waits and fails */
	pid = fork();
	if (pid == 0) {
		struct layout *cl = NULL;
		struct blob_writer *w = NULL;
		struct err ce = ERR_INIT;
		int rc = 0;

		layout_open(&cl, dir, 0, NULL);
		if (!cl || layout_lease_begin(cl, 100, &ce) != ERR_LOCKED ||
		    !strstr(ce.msg, "gc"))
			rc = 1;
		layout_set_lock_timeout(cl, 50);
		if (blob_begin(&w, cl, NULL, -1, &ce) != ERR_LOCKED)
			rc = 2;
		layout_free(cl);
		_exit(rc);
	}
	CHECK(waitpid(pid, &status, 0) == pid && WIFEXITED(status));
	CHECK_RC(WEXITSTATUS(status), 0);
	CHECK_RC(layout_gc_lock(l, 0, &e), ERR_USAGE);
	CHECK_RC(layout_lease_begin(l, 0, &e), ERR_USAGE);
	layout_gc_unlock(l);

	/* in one process: nesting, and no silent conversion of the lock */
	CHECK_RC(layout_lease_begin(l, 0, &e), 0);
	CHECK_RC(layout_lease_begin(l, 0, &e), 0);
	CHECK_RC(layout_gc_lock(l, 0, &e), ERR_USAGE);
	CHECK_RC(layout_open(&l2, dir, 0, &e), 0);
	CHECK_RC(layout_gc_lock(l2, 0, &e), ERR_LOCKED);
	layout_lease_end(l);
	CHECK_RC(layout_gc_lock(l2, 0, &e), ERR_LOCKED);	/* still one level */
	layout_lease_end(l);
	layout_lease_end(l);	/* unbalanced end is harmless */
	CHECK_RC(layout_gc_lock(l2, 0, &e), 0);
	layout_gc_unlock(l2);
	layout_free(l2);
	layout_free(l);
	scratch_free(dir);
}

static int hang_fn(struct json *index, void *arg, struct err *e)
{
	char c = 'x';

	(void)index; (void)e;
	if (write(*(int *)arg, &c, 1) < 0)
		_exit(3);
	for (;;)
		pause();
	return 0;
}

TEST(killed_holder_releases_locks)
{
	char *dir = scratch(), *p;
	struct layout *l = open_new(dir);
	struct err e = ERR_INIT;
	struct descriptor d;
	struct dirent *de;
	int ready[2], status, fd;
	char c = 0;
	pid_t pid;
	DIR *dd;

	make_desc(&d, "x");
	/* a writer killed mid-blob: its lease and temp-file lock go with it */
	CHECK(pipe(ready) == 0);
	pid = fork();
	if (pid == 0) {
		struct layout *cl = NULL;
		struct blob_writer *w = NULL;

		close(ready[0]);
		if (layout_open(&cl, dir, 0, NULL) < 0 ||
		    layout_lease_begin(cl, 1000, NULL) < 0 ||
		    blob_begin(&w, cl, NULL, -1, NULL) < 0 ||
		    blob_writer_write(w, "partial", 7, NULL) < 0)
			_exit(1);
		c = 'x';
		if (write(ready[1], &c, 1) < 0)
			_exit(3);
		for (;;)
			pause();
	}
	close(ready[1]);
	CHECK(read(ready[0], &c, 1) == 1);
	close(ready[0]);
	CHECK(count_entries(dir, ".hoist/ingest") == 1);
	/* gc can tell a live temp file: it is locked */
	p = path_of(dir, ".hoist/ingest");
	dd = opendir(p);
	while (dd && (de = readdir(dd))) {
		char *f;

		if (de->d_name[0] == '.')
			continue;
		f = path_of(p, de->d_name);
		fd = open(f, O_RDONLY);
		CHECK(fd >= 0 && flock(fd, LOCK_EX | LOCK_NB) < 0 && errno == EWOULDBLOCK);
		kill(pid, SIGKILL);
		CHECK(waitpid(pid, &status, 0) == pid && WIFSIGNALED(status));
		pid = 0;
		CHECK(flock(fd, LOCK_EX | LOCK_NB) == 0);	/* now dead: removable */
		close(fd);
		free(f);
	}
	if (dd)
		closedir(dd);
	free(p);
	if (pid > 0) {
		kill(pid, SIGKILL);
		waitpid(pid, &status, 0);
	}
	CHECK_RC(layout_gc_lock(l, 1000, &e), 0);
	layout_gc_unlock(l);

	/* an index update killed while holding index.lock */
	CHECK(pipe(ready) == 0);
	pid = fork();
	if (pid == 0) {
		struct layout *cl = NULL;

		close(ready[0]);
		if (layout_open(&cl, dir, 0, NULL) < 0)
			_exit(1);
		layout_index_update(cl, hang_fn, &ready[1], NULL);
		_exit(2);
	}
	close(ready[1]);
	CHECK(read(ready[0], &c, 1) == 1);
	close(ready[0]);
	layout_set_lock_timeout(l, 150);
	CHECK_RC(layout_index_set(l, "r:1", &d, &e), ERR_LOCKED);
	CHECK(strstr(e.msg, "index.json") != NULL && strstr(e.msg, "held by pid") != NULL);
	kill(pid, SIGKILL);
	CHECK(waitpid(pid, &status, 0) == pid && WIFSIGNALED(status));
	CHECK_RC(layout_index_set(l, "r:1", &d, &e), 0);
	descriptor_release(&d);
	layout_free(l);
	scratch_free(dir);
}

TEST(digest_paths_only_from_valid_digests)
{
	char *dir = scratch();
	struct layout *l = open_new(dir);
	struct err e = ERR_INIT;
	struct blob_writer *w = NULL;
	struct buf b = BUF_INIT;
	struct digest d;
	int fd = -1;
	int64_t size;

	/* the string form can never become a struct digest */
	CHECK_RC(digest_parse(&d, "sha256:../../x", &e), ERR_INVALID);
	/* and a struct digest filled by hand is re-validated */
	write_file(dir, "x", "secret");
	memset(&d, 0, sizeof(d));
	d.alg = DIGEST_SHA256;
	memcpy(d.str, "sha256:../../x", 15);
	CHECK(blob_has(l, &d, -1) == 0);
	CHECK_RC(blob_open(&fd, &size, l, &d, &e), ERR_INVALID);
	CHECK_RC(blob_read(&b, l, &d, 0, &e), ERR_INVALID);
	CHECK_RC(blob_begin(&w, l, &d, -1, &e), ERR_INVALID);
	CHECK_RC(blob_put(NULL, l, "x", 1, &d, &e), ERR_INVALID);
	memset(d.str, 'a', sizeof(d.str));	/* not even NUL-terminated */
	CHECK(blob_has(l, &d, -1) == 0);
	digest_buffer(&d, DIGEST_SHA256, "", 0, NULL);
	d.alg = DIGEST_SHA512;	/* alg and string disagree */
	CHECK(blob_has(l, &d, -1) == 0);
	CHECK(count_entries(dir, ".hoist/ingest") == 0);
	buf_release(&b);
	layout_free(l);
	scratch_free(dir);
}

TEST(sha512_blob)
{
	char *dir = scratch();
	struct layout *l = open_new(dir);
	struct err e = ERR_INIT;
	struct digest d, got;
	struct buf b = BUF_INIT;

	digest_buffer(&d, DIGEST_SHA512, "five!", 5, NULL);
	CHECK_RC(blob_put(&got, l, "five!", 5, &d, &e), 0);
	CHECK(digest_equal(&got, &d));
	CHECK(count_entries(dir, "blobs/sha512") == 1);
	CHECK_RC(blob_read(&b, l, &d, 0, &e), 0);
	CHECK_STR(b.data, "five!");
	buf_release(&b);
	layout_free(l);
	scratch_free(dir);
}

/* A scratch layout lives in its own directory under the one given, and
 * goes with everything in it when freed. */
TEST(scratch_layout_removed)
{
	char *dir = scratch();
	struct layout *l = NULL;
	struct err e = ERR_INIT;
	struct digest got;
	struct stat st;
	char *root;

	CHECK_RC(layout_open_scratch(&l, dir, "unit", LAYOUT_NO_SYNC, &e), 0);
	CHECK(l != NULL);
	CHECK(count_entries(dir, ".") == 1);
	CHECK(strstr(layout_path(l), "/hoist-unit-") != NULL);
	CHECK(strncmp(layout_path(l), dir, strlen(dir)) == 0);
	CHECK_RC(blob_put(&got, l, "data", 4, NULL, &e), 0);
	root = strdup(layout_path(l));
	CHECK(stat(root, &st) == 0);
	layout_free(l);
	CHECK(stat(root, &st) < 0 && errno == ENOENT);
	CHECK(count_entries(dir, ".") == 0);
	free(root);
	/* a directory that cannot hold it: a clear error, nothing left */
	l = NULL;
	root = path_of(dir, "missing");
	CHECK_RC(layout_open_scratch(&l, root, "unit", 0, &e), ERR_IO);
	CHECK(l == NULL);
	CHECK(strstr(e.msg, "TMPDIR") != NULL);
	free(root);
	scratch_free(dir);
}

/* An empty directory is no layout (ERR_NOT_FOUND); one with some of a
 * layout's parts is a damaged layout (ERR_INVALID naming what is missing
 * and how to repair it), never an empty one. */
TEST(damaged_is_not_empty)
{
	char *dir = scratch(), *p;
	struct layout *l = NULL;
	struct err e = ERR_INIT;
	struct digest d;

	CHECK_RC(layout_open(&l, dir, 0, &e), ERR_NOT_FOUND);
	CHECK(strstr(e.msg, "empty") != NULL);
	p = path_of(dir, ".hoist");
	mkdir(p, 0755);
	free(p);
	CHECK_RC(layout_open(&l, dir, LAYOUT_CACHE, &e), ERR_NOT_FOUND);
	l = open_new(dir);
	CHECK_RC(blob_put(&d, l, "kept", 4, NULL, &e), 0);
	layout_free(l);
	l = NULL;
	p = path_of(dir, "oci-layout");
	CHECK(unlink(p) == 0);
	free(p);
	CHECK_RC(layout_open(&l, dir, 0, &e), ERR_INVALID);
	CHECK(strstr(e.msg, "damaged") && strstr(e.msg, "oci-layout") &&
	      strstr(e.msg, "imageLayoutVersion"));
	CHECK_RC(layout_open(&l, dir, LAYOUT_CACHE, &e), ERR_INVALID);
	CHECK(strstr(e.msg, "damaged") && strstr(e.msg, "hoist cache verify --repair"));
	CHECK(l == NULL);
	/* LAYOUT_CREATE repairs it; the blob is still there */
	CHECK_RC(layout_open(&l, dir, LAYOUT_CREATE, &e), 0);
	CHECK(l && blob_has(l, &d, 4));
	layout_free(l);
	l = NULL;
	p = path_of(dir, "index.json");
	CHECK(unlink(p) == 0);
	free(p);
	CHECK_RC(layout_open(&l, dir, 0, &e), ERR_INVALID);
	CHECK(strstr(e.msg, "damaged") && strstr(e.msg, "index.json"));
	scratch_free(dir);
}

/* Blob files that are links, directories or fifos are refused by name,
 * never followed, read or waited on. */
TEST(blob_links_refused)
{
	char *dir = scratch(), *out = path_of(dir, "outside"), *p, rel[128];
	struct layout *l = open_new(dir);
	struct err e = ERR_INIT;
	struct buf b = BUF_INIT;
	struct digest d;
	struct stat st;
	int64_t size;
	int fd = -1;

	CHECK_RC(blob_put(&d, l, "content", 7, NULL, &e), 0);
	snprintf(rel, sizeof(rel), "blobs/sha256/%s", digest_hex(&d));
	p = path_of(dir, rel);
	write_file(dir, "outside", "content");
	CHECK(unlink(p) == 0 && symlink(out, p) == 0);
	alarm(20);	/* a blocking open would hang here */
	CHECK_RC(blob_open(&fd, &size, l, &d, &e), ERR_INVALID);
	CHECK(fd == -1 && strstr(e.msg, "symbolic link") && strstr(e.msg, digest_hex(&d)));
	CHECK_RC(blob_read(&b, l, &d, 0, &e), ERR_INVALID);
	CHECK_RC(b.len, 0);
	CHECK_RC(blob_stat(NULL, l, &d, &e), ERR_INVALID);
	CHECK(!blob_has(l, &d, -1));
	/* a link to a file inside the layout: the same */
	CHECK(unlink(p) == 0 && symlink("../../outside", p) == 0);
	CHECK_RC(blob_open(&fd, &size, l, &d, &e), ERR_INVALID);
	/* touching the blob leaves the link's target alone */
	{
		struct timespec old[2] = { { 1000000000, 0 }, { 1000000000, 0 } };

		CHECK(utimensat(AT_FDCWD, out, old, 0) == 0);
		blob_touch(l, &d);
		CHECK(stat(out, &st) == 0 && st.st_mtime == 1000000000);
	}
	/* writing the blob replaces the link, not its target */
	CHECK_RC(blob_put(NULL, l, "content", 7, &d, &e), 0);
	CHECK(lstat(p, &st) == 0 && S_ISREG(st.st_mode));
	CHECK(blob_has(l, &d, 7));
	/* a fifo and a directory */
	CHECK(unlink(p) == 0 && mkfifo(p, 0644) == 0);
	CHECK_RC(blob_open(&fd, &size, l, &d, &e), ERR_INVALID);
	CHECK(strstr(e.msg, "a fifo, not a regular file") != NULL);
	CHECK_RC(blob_read(&b, l, &d, 0, &e), ERR_INVALID);
	CHECK(unlink(p) == 0 && mkdir(p, 0755) == 0);
	CHECK_RC(blob_open(&fd, &size, l, &d, &e), ERR_INVALID);
	CHECK(strstr(e.msg, "a directory, not a regular file") != NULL);
	alarm(0);
	if (fd >= 0)
		close(fd);
	buf_release(&b);
	layout_free(l);
	free(p);
	free(out);
	scratch_free(dir);
}

int main(void)
{
	RUN(create_and_open);
	RUN(scratch_layout_removed);
	RUN(put_and_read);
	RUN(streamed_write);
	RUN(digest_before_commit);
	RUN(corrupt_stream_refused);
	RUN(existing_wrong_size_replaced);
	RUN(index_set_replace_remove_find);
	RUN(foreign_entries_preserved);
	RUN(index_update_callback);
	RUN(concurrent_writers);
	RUN(lease_blocks_gc);
	RUN(killed_holder_releases_locks);
	RUN(digest_paths_only_from_valid_digests);
	RUN(sha512_blob);
	RUN(damaged_is_not_empty);
	RUN(blob_links_refused);
	return test_done();
}

#define TEST_MODULE "layer"
#include "tests/unit/test.h"

#include "core/format/tar.h"
#include "core/base/buf.h"
#include "core/base/digest.h"
#include "core/base/err.h"
#include "core/format/layer.h"

#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

static char scratch[] = "/tmp/hoist-layer-test.XXXXXX";

static int sink_buf(void *arg, const void *data, size_t len, struct err *e)
{
	return buf_add(arg, data, len) < 0 ? err_set(e, ERR_NOMEM, "oom") : 0;
}

struct memsrc {
	const char *p;
	size_t len, pos;
};

static ssize_t src_mem(void *arg, void *dst, size_t len, struct err *e)
{
	struct memsrc *m = arg;
	size_t n = m->len - m->pos < len ? m->len - m->pos : len;

	memcpy(dst, m->p + m->pos, n);
	m->pos += n;
	return (ssize_t)n;
}

static void put(const char *path, const char *data, mode_t mode)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, mode);

	if (fd < 0 || write(fd, data, strlen(data)) != (ssize_t)strlen(data))
		fprintf(stderr, "cannot write %s\n", path), test_cur_failed = 1;
	if (fd >= 0) {
		fchmod(fd, mode);
		close(fd);
	}
}

static void sh(const char *fmt, const char *arg)
{
	char cmd[1024];

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
	snprintf(cmd, sizeof(cmd), fmt, arg, arg, arg);
#pragma GCC diagnostic pop
	if (system(cmd) != 0)
		fprintf(stderr, "failed: %s\n", cmd), test_cur_failed = 1;
}

/* A listing of a layer: "path type mode uid:gid mtime [-> link] [=data]". */
static void listing(struct buf *out, const struct buf *blob)
{
	struct tar_reader *r = NULL;
	struct tar_reader_opts ro;
	struct tar_header h;
	struct memsrc m = { blob->data, blob->len, 0 };
	struct err e = ERR_INIT;
	char data[64];
	int rc;

	memset(&ro, 0, sizeof(ro));
	ro.source = src_mem;
	ro.source_arg = &m;
	buf_reset(out);
	if (tar_reader_new(&r, &ro, &e) < 0)
		return;
	while ((rc = tar_reader_next(r, &h, &e)) > 0) {
		ssize_t n = tar_reader_read(r, data, sizeof(data) - 1, &e);

		buf_addf(out, "%s %s %04o %lld:%lld %lld", h.path, tar_type_name(h.type), h.mode,
			 (long long)h.uid, (long long)h.gid, (long long)h.mtime);
		if (h.link)
			buf_addf(out, " -> %s", h.link);
		if (n > 0) {
			data[n] = '\0';
			buf_addf(out, " =%s", data);
		}
		buf_addch(out, '\n');
	}
	if (rc < 0)
		buf_addf(out, "error: %s\n", e.msg);
	tar_reader_free(r);
}

/* Builds one layer from `adds`; returns the rc, fills *res and *blob. */
static int build(struct buf *blob, struct layer_result *res, const struct layer_add *adds,
		 size_t n, enum tar_compression c, int64_t mtime, struct err *e)
{
	struct layer_builder_opts bo;
	struct layer_write_opts wo;
	struct layer_builder *b = NULL;
	size_t i;
	int rc;

	memset(&bo, 0, sizeof(bo));
	bo.mtime = mtime;
	bo.tmpdir = scratch;
	memset(&wo, 0, sizeof(wo));
	wo.compression = c;
	wo.sink = sink_buf;
	wo.sink_arg = blob;
	buf_reset(blob);
	rc = layer_builder_new(&b, &bo, e);
	for (i = 0; rc == 0 && i < n; i++)
		rc = layer_builder_add(b, &adds[i], e);
	if (rc == 0)
		rc = layer_builder_write(b, &wo, res, e);
	layer_builder_free(b);
	return rc;
}

/* A context tree under `dir`, made with `umask_` and stamped with `when`. */
static void make_tree(const char *dir, mode_t umask_, time_t when)
{
	char p[512];
	mode_t old = umask(umask_);

	mkdir(dir, 0777);
	snprintf(p, sizeof(p), "%s/bin", dir);
	mkdir(p, 0777);
	snprintf(p, sizeof(p), "%s/bin/app", dir);
	put(p, "#!/bin/sh\necho app\n", 0777 & ~umask_);
	snprintf(p, sizeof(p), "%s/etc", dir);
	mkdir(p, 0777);
	snprintf(p, sizeof(p), "%s/etc/app.conf", dir);
	put(p, "key=value\n", 0666 & ~umask_);
	snprintf(p, sizeof(p), "%s/etc/z-hard.conf", dir);
	{
		char q[512];

		snprintf(q, sizeof(q), "%s/etc/app.conf", dir);
		if (link(q, p) < 0)
			test_cur_failed = 1;
	}
	snprintf(p, sizeof(p), "%s/etc/passwd-link", dir);
	if (symlink("../../../../etc/passwd", p) < 0)	/* points out of the context */
		test_cur_failed = 1;
	snprintf(p, sizeof(p), "%s/empty", dir);
	mkdir(p, 0777);
	umask(old);
	{
		char cmd[1024];

		snprintf(cmd, sizeof(cmd), "find '%s' -exec touch -h -d @%lld {} +", dir,
			 (long long)when);
		if (system(cmd) != 0)
			test_cur_failed = 1;
	}
}

TEST(spec_parse)
{
	char *s, *d;
	struct err e = ERR_INIT;

	CHECK_RC(layer_spec_parse(&s, &d, "bin/app:/usr/bin/app", &e), 0);
	CHECK_STR(s, "bin/app");
	CHECK_STR(d, "/usr/bin/app");
	free(s);
	free(d);
	CHECK_RC(layer_spec_parse(&s, &d, "a:b:/c/", &e), 0);
	CHECK_STR(s, "a:b");
	CHECK_STR(d, "/c/");
	free(s);
	free(d);
	CHECK_RC(layer_spec_parse(&s, &d, "nocolon", &e), ERR_INVALID);
	CHECK(strstr(e.msg, "SRC:DST") != NULL);
	CHECK_RC(layer_spec_parse(&s, &d, ":/x", &e), ERR_INVALID);
	CHECK_RC(layer_spec_parse(&s, &d, "x:", &e), ERR_INVALID);
	CHECK_STR(layer_media_type(TAR_COMPRESS_ZSTD), "application/vnd.oci.image.layer.v1.tar+zstd");
}

TEST(directory_tree)
{
	char dir[512];
	struct layer_add add = { dir, "/app", 0, 0, 0, 0, NULL };
	struct buf blob = BUF_INIT, list = BUF_INIT;
	struct layer_result res;
	struct digest d;
	struct err e = ERR_INIT;

	snprintf(dir, sizeof(dir), "%s/tree", scratch);
	make_tree(dir, 022, 1600000000);
	CHECK_RC(build(&blob, &res, &add, 1, TAR_COMPRESS_GZIP, 0, &e), 0);
	listing(&list, &blob);
	CHECK_STR(list.data,
		  "app/ directory 0755 0:0 0\n"
		  "app/bin/ directory 0755 0:0 0\n"
		  "app/bin/app file 0755 0:0 0 =#!/bin/sh\necho app\n\n"
		  "app/empty/ directory 0755 0:0 0\n"
		  "app/etc/ directory 0755 0:0 0\n"
		  "app/etc/app.conf file 0644 0:0 0 =key=value\n\n"
		  "app/etc/passwd-link symlink 0777 0:0 0 -> ../../../../etc/passwd\n"
		  "app/etc/z-hard.conf hard link 0644 0:0 0 -> app/etc/app.conf\n");
	CHECK_STR(res.desc.media_type, "application/vnd.oci.image.layer.v1.tar+gzip");
	CHECK_RC(digest_buffer(&d, DIGEST_SHA256, blob.data, blob.len, &e), 0);
	CHECK(digest_equal(&d, &res.desc.digest));
	CHECK(res.desc.size == (int64_t)blob.len);
	CHECK(res.n_entries == 8);
	layer_result_release(&res);
	buf_release(&blob);
	buf_release(&list);
}

TEST(reproducible_across_umask_and_mtime)
{
	char a[512], b[512];
	struct layer_add add[2] = { { a, "/srv/", 0, 0, 0, 0, NULL }, { NULL, "/", 0, 0, 0, 0, NULL } };
	struct buf blob = BUF_INIT;
	struct layer_result ra, rb;
	struct err e = ERR_INIT;
	static const enum tar_compression cs[] = {
		TAR_COMPRESS_NONE, TAR_COMPRESS_GZIP, TAR_COMPRESS_ZSTD,
	};
	size_t i;

	snprintf(a, sizeof(a), "%s/copy-a", scratch);
	snprintf(b, sizeof(b), "%s/copy-b", scratch);
	make_tree(a, 022, 1000);
	make_tree(b, 077, 1700000000);
	for (i = 0; i < 3; i++) {
		add[0].src = a;
		CHECK_RC(build(&blob, &ra, add, 1, cs[i], 1234, &e), 0);
		add[0].src = b;
		CHECK_RC(build(&blob, &rb, add, 1, cs[i], 1234, &e), 0);
		CHECK(digest_equal(&ra.desc.digest, &rb.desc.digest));
		CHECK(digest_equal(&ra.diff_id, &rb.diff_id));
		/* the diff_id does not depend on the compression */
		if (i > 0) {
			struct layer_result rn;

			CHECK_RC(build(&blob, &rn, add, 1, TAR_COMPRESS_NONE, 1234, &e), 0);
			CHECK(digest_equal(&rn.diff_id, &rb.diff_id));
			layer_result_release(&rn);
		}
		layer_result_release(&ra);
		layer_result_release(&rb);
	}
	/* a different SOURCE_DATE_EPOCH is a different layer */
	CHECK_RC(build(&blob, &ra, add, 1, TAR_COMPRESS_NONE, 1234, &e), 0);
	CHECK_RC(build(&blob, &rb, add, 1, TAR_COMPRESS_NONE, 1235, &e), 0);
	CHECK(!digest_equal(&ra.diff_id, &rb.diff_id));
	layer_result_release(&ra);
	layer_result_release(&rb);
	buf_release(&blob);
}

TEST(files_chmod_chown_and_parents)
{
	char f[512], g[512];
	struct layer_add adds[3] = {
		{ f, "/usr/local/bin/tool", LAYER_ADD_CHMOD | LAYER_ADD_CHOWN, 04750, 1000, 2000, NULL },
		{ g, "/opt/", 0, 0, 0, 0, NULL },
		{ g, "//opt/./x/../data.txt", LAYER_ADD_CHOWN, 0, 5, 6, NULL },
	};
	struct buf blob = BUF_INIT, list = BUF_INIT;
	struct layer_result res;
	struct err e = ERR_INIT;

	snprintf(f, sizeof(f), "%s/tool", scratch);
	snprintf(g, sizeof(g), "%s/data.txt", scratch);
	put(f, "T", 0600);
	put(g, "D", 0600);
	CHECK_RC(build(&blob, &res, adds, 3, TAR_COMPRESS_NONE, 99, &e), 0);
	listing(&list, &blob);
	/* the second add of /opt/data.txt wins */
	CHECK_STR(list.data,
		  "opt/ directory 0755 0:0 99\n"
		  "opt/data.txt file 0644 5:6 99 =D\n"
		  "usr/ directory 0755 0:0 99\n"
		  "usr/local/ directory 0755 0:0 99\n"
		  "usr/local/bin/ directory 0755 0:0 99\n"
		  "usr/local/bin/tool file 4750 1000:2000 99 =T\n");
	CHECK_STR(res.desc.media_type, "application/vnd.oci.image.layer.v1.tar");
	layer_result_release(&res);
	buf_release(&blob);
	buf_release(&list);
}

/* Makes a tarball with core/archive: "z" a file, "a" a hard link to it
 * (sorted first: the data must move), a symlink, a device node. */
static void make_tarball(const char *path, enum tar_compression c, const char *evil)
{
	struct buf out = BUF_INIT;
	struct tar_writer_opts o = { c, 0, 0, sink_buf, &out, 0 };
	struct tar_writer *w = NULL;
	struct tar_header h;
	struct tar_result res;
	struct err e = ERR_INIT;
	int fd;

	CHECK_RC(tar_writer_new(&w, &o, &e), 0);
	memset(&h, 0, sizeof(h));
	h.path = "./";
	h.type = TAR_DIR;
	h.mode = 0700;
	CHECK_RC(tar_writer_add(w, &h, NULL, 0, &e), 0);
	h.path = "./sub/z";
	h.type = TAR_FILE;
	h.mode = 0640;
	h.uid = 7;
	h.gid = 8;
	h.mtime = 555;
	h.size = 4;
	CHECK_RC(tar_writer_add(w, &h, "zzzz", 4, &e), 0);
	h.path = "a";
	h.type = TAR_HARDLINK;
	h.link = "./sub/z";
	h.size = 0;
	CHECK_RC(tar_writer_add(w, &h, NULL, 0, &e), 0);
	h.path = "sub/ln";
	h.type = TAR_SYMLINK;
	h.link = "/etc/hostname";
	h.mode = 0777;
	CHECK_RC(tar_writer_add(w, &h, NULL, 0, &e), 0);
	h.path = "/dev/null";	/* absolute names are taken as relative */
	h.type = TAR_CHAR;
	h.link = NULL;
	h.mode = 0666;
	h.devmajor = 1;
	h.devminor = 3;
	CHECK_RC(tar_writer_add(w, &h, NULL, 0, &e), 0);
	if (evil) {
		h.path = evil;
		h.type = TAR_FILE;
		h.size = 1;
		CHECK_RC(tar_writer_add(w, &h, "!", 1, &e), 0);
	}
	CHECK_RC(tar_writer_finish(w, &res, &e), 0);
	tar_writer_free(w);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	CHECK(fd >= 0 && write(fd, out.data, out.len) == (ssize_t)out.len);
	close(fd);
	buf_release(&out);
}

TEST(tarball_unpacked_as_add)
{
	char t[512], tz[512], te[512];
	struct layer_add add = { t, "/data/", LAYER_ADD_UNPACK, 0, 0, 0, NULL };
	struct buf blob = BUF_INIT, list = BUF_INIT, list2 = BUF_INIT;
	struct layer_result res;
	struct err e = ERR_INIT;
	static const char want[] =
		"data/ directory 0755 0:0 0\n"
		"data/a file 0640 7:8 0 =zzzz\n"
		"data/dev/ directory 0755 0:0 0\n"
		"data/dev/null character device 0666 7:8 0\n"
		"data/sub/ directory 0755 0:0 0\n"
		"data/sub/ln symlink 0777 7:8 0 -> /etc/hostname\n"
		"data/sub/z hard link 0640 7:8 0 -> data/a\n";

	snprintf(t, sizeof(t), "%s/rootfs.tar.gz", scratch);
	snprintf(tz, sizeof(tz), "%s/rootfs.tar.zst", scratch);
	snprintf(te, sizeof(te), "%s/evil.tar", scratch);
	make_tarball(t, TAR_COMPRESS_GZIP, NULL);
	make_tarball(tz, TAR_COMPRESS_ZSTD, NULL);
	CHECK_RC(build(&blob, &res, &add, 1, TAR_COMPRESS_GZIP, 0, &e), 0);
	listing(&list, &blob);
	CHECK_STR(list.data, want);
	layer_result_release(&res);
	add.src = tz;
	CHECK_RC(build(&blob, &res, &add, 1, TAR_COMPRESS_GZIP, 0, &e), 0);
	listing(&list2, &blob);
	CHECK_STR(list2.data, want);
	layer_result_release(&res);
	/* without the ADD flag (COPY), or DST not a directory: the file itself */
	add.src = t;
	add.flags = 0;
	CHECK_RC(build(&blob, &res, &add, 1, TAR_COMPRESS_NONE, 0, &e), 0);
	listing(&list, &blob);
	CHECK(strstr(list.data, "data/rootfs.tar.gz file 0644") != NULL);
	layer_result_release(&res);
	add.flags = LAYER_ADD_UNPACK;
	add.dst = "/data/r.tgz";
	CHECK_RC(build(&blob, &res, &add, 1, TAR_COMPRESS_NONE, 0, &e), 0);
	listing(&list, &blob);
	CHECK(strstr(list.data, "data/r.tgz file 0644") != NULL);
	layer_result_release(&res);
	/* an entry escaping with ".." is refused */
	make_tarball(te, TAR_COMPRESS_NONE, "sub/../../../etc/shadow");
	add.src = te;
	add.dst = "/data/";
	CHECK_RC(build(&blob, &res, &add, 1, TAR_COMPRESS_NONE, 0, &e), ERR_INVALID);
	CHECK(strstr(e.msg, "escapes") != NULL);
	buf_release(&blob);
	buf_release(&list);
	buf_release(&list2);
}

TEST(add_tar_stream)
{
	struct buf tarball = BUF_INIT, blob = BUF_INIT, list = BUF_INIT;
	struct tar_writer_opts o = { TAR_COMPRESS_ZSTD, 0, 0, sink_buf, &tarball, 0 };
	struct tar_writer *w = NULL;
	struct tar_header h;
	struct tar_result tr;
	struct layer_builder_opts bo;
	struct layer_write_opts wo;
	struct layer_builder *b = NULL;
	struct layer_result res;
	struct layer_add add = { "image", "/", LAYER_ADD_CHOWN, 0, 1, 1, NULL };
	struct memsrc m;
	struct err e = ERR_INIT;

	CHECK_RC(tar_writer_new(&w, &o, &e), 0);
	memset(&h, 0, sizeof(h));
	h.path = "etc/os-release";
	h.type = TAR_FILE;
	h.mode = 0644;
	h.size = 2;
	CHECK_RC(tar_writer_add(w, &h, "hi", 2, &e), 0);
	CHECK_RC(tar_writer_finish(w, &tr, &e), 0);
	tar_writer_free(w);
	m.p = tarball.data;
	m.len = tarball.len;
	m.pos = 0;
	memset(&bo, 0, sizeof(bo));
	bo.tmpdir = scratch;
	memset(&wo, 0, sizeof(wo));
	wo.sink = sink_buf;
	wo.sink_arg = &blob;
	CHECK_RC(layer_builder_new(&b, &bo, &e), 0);
	CHECK_RC(layer_builder_add_tar(b, src_mem, &m, &add, &e), 0);
	CHECK(layer_builder_count(b) == 1);
	CHECK_RC(layer_builder_write(b, &wo, &res, &e), 0);
	listing(&list, &blob);
	CHECK_STR(list.data, "etc/ directory 0755 0:0 0\netc/os-release file 0644 1:1 0 =hi\n");
	layer_result_release(&res);
	/* written twice: the same layer */
	buf_reset(&blob);
	CHECK_RC(layer_builder_write(b, &wo, &res, &e), 0);
	listing(&list, &blob);
	CHECK_STR(list.data, "etc/ directory 0755 0:0 0\netc/os-release file 0644 1:1 0 =hi\n");
	layer_result_release(&res);
	layer_builder_free(b);
	buf_release(&tarball);
	buf_release(&blob);
	buf_release(&list);
}

TEST(refusals)
{
	char f[512], fifo[512], d[512];
	struct layer_add add = { fifo, "/x", 0, 0, 0, 0, NULL };
	struct layer_add two[2] = { { f, "/a", 0, 0, 0, 0, NULL }, { f, "/a/b", 0, 0, 0, 0, NULL } };
	struct buf blob = BUF_INIT;
	struct layer_result res;
	struct err e = ERR_INIT;

	snprintf(f, sizeof(f), "%s/plain", scratch);
	snprintf(fifo, sizeof(fifo), "%s/fifo", scratch);
	snprintf(d, sizeof(d), "%s/withfifo", scratch);
	put(f, "p", 0644);
	CHECK(mkfifo(fifo, 0644) == 0);
	CHECK_RC(build(&blob, &res, &add, 1, TAR_COMPRESS_NONE, 0, &e), ERR_UNSUPPORTED);
	CHECK(strstr(e.msg, "is a fifo") != NULL);
	/* ... also deep in a directory */
	mkdir(d, 0755);
	sh("mkfifo '%s/p'", d);
	add.src = d;
	CHECK_RC(build(&blob, &res, &add, 1, TAR_COMPRESS_NONE, 0, &e), ERR_UNSUPPORTED);
	CHECK(strstr(e.msg, "withfifo/p") != NULL);
	/* a path needed as a file and as a directory */
	CHECK_RC(build(&blob, &res, two, 2, TAR_COMPRESS_NONE, 0, &e), ERR_INVALID);
	CHECK(strstr(e.msg, "'/a/b' needs a directory") != NULL);
	add.src = "/nonexistent/hoist";
	CHECK_RC(build(&blob, &res, &add, 1, TAR_COMPRESS_NONE, 0, &e), ERR_NOT_FOUND);
	add.src = "";
	CHECK_RC(build(&blob, &res, &add, 1, TAR_COMPRESS_NONE, 0, &e), ERR_INVALID);
	buf_release(&blob);
}

static enum layer_exclude exclude_logs(void *arg, const char *path, int is_dir)
{
	size_t n = strlen(path);

	if (n > 4 && !strcmp(path + n - 4, ".log"))
		return LAYER_EXCLUDE;
	if (is_dir && n >= 5 && !strcmp(path + n - 5, "/.git"))
		return LAYER_PRUNE;
	return LAYER_INCLUDE;
}

TEST(exclude_callback)
{
	char d[512];
	struct layer_builder_opts bo;
	struct layer_write_opts wo;
	struct layer_builder *b = NULL;
	struct layer_add add = { d, "/", 0, 0, 0, 0, NULL };
	struct layer_result res;
	struct buf blob = BUF_INIT, list = BUF_INIT;
	struct err e = ERR_INIT;

	snprintf(d, sizeof(d), "%s/ctx", scratch);
	sh("mkdir -p '%s/.git/objects' '%s/src' && touch '%s/a.log'", d);
	sh("touch '%s/.git/objects/x' '%s/src/main.c' '%s/src/debug.log'", d);
	memset(&bo, 0, sizeof(bo));
	bo.exclude = exclude_logs;
	bo.tmpdir = scratch;
	memset(&wo, 0, sizeof(wo));
	wo.sink = sink_buf;
	wo.sink_arg = &blob;
	CHECK_RC(layer_builder_new(&b, &bo, &e), 0);
	CHECK_RC(layer_builder_add(b, &add, &e), 0);
	CHECK_RC(layer_builder_write(b, &wo, &res, &e), 0);
	listing(&list, &blob);
	CHECK_STR(list.data, "src/ directory 0755 0:0 0\nsrc/main.c file 0644 0:0 0\n");
	layer_result_release(&res);
	layer_builder_free(b);
	buf_release(&blob);
	buf_release(&list);
}

TEST(file_changed_before_write)
{
	char f[512];
	struct layer_builder_opts bo;
	struct layer_write_opts wo;
	struct layer_builder *b = NULL;
	struct layer_add add = { f, "/f", 0, 0, 0, 0, NULL };
	struct layer_result res;
	struct buf blob = BUF_INIT;
	struct err e = ERR_INIT;

	snprintf(f, sizeof(f), "%s/changing", scratch);
	put(f, "12345", 0644);
	memset(&bo, 0, sizeof(bo));
	bo.tmpdir = scratch;
	memset(&wo, 0, sizeof(wo));
	wo.sink = sink_buf;
	wo.sink_arg = &blob;
	CHECK_RC(layer_builder_new(&b, &bo, &e), 0);
	CHECK_RC(layer_builder_add(b, &add, &e), 0);
	put(f, "123456789", 0644);
	CHECK_RC(layer_builder_write(b, &wo, &res, &e), ERR_IO);
	CHECK(strstr(e.msg, "grew") != NULL);
	layer_builder_free(b);
	buf_release(&blob);
}

int main(void)
{
	if (!mkdtemp(scratch)) {
		perror("mkdtemp");
		return 1;
	}
	RUN(spec_parse);
	RUN(directory_tree);
	RUN(reproducible_across_umask_and_mtime);
	RUN(files_chmod_chown_and_parents);
	RUN(tarball_unpacked_as_add);
	RUN(add_tar_stream);
	RUN(refusals);
	RUN(exclude_callback);
	RUN(file_changed_before_write);
	sh("rm -rf '%s'", scratch);
	return test_done();
}

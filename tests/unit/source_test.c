#define TEST_MODULE "source"
#include "core/ops/import.h"
#include "core/ops/pull.h"
#include "tests/unit/test.h"

#include "cache/blob.h"
#include "cache/layout.h"
#include "core/base/buf.h"
#include "core/base/err.h"
#include "core/ops/env.h"
#include "core/model/manifest.h"
#include "core/ops/source.h"
#include "core/ops/tarball.h"

#include <fcntl.h>
#include <ftw.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

static char dir[] = "/tmp/hoist-source-test.XXXXXX";

static const char *at(const char *rel)
{
	static char path[4096];

	snprintf(path, sizeof(path), "%s/%s", dir, rel);
	return path;
}

static int rm_one(const char *p, const struct stat *st, int flag, struct FTW *f)
{
	(void)st; (void)flag; (void)f;
	return remove(p);
}

/* Parses `spec`; checks how, path (relative to dir for bare paths) and ref. */
static void parse_is(const char *spec, unsigned flags, enum source_kind how, const char *path,
		     const char *ref)
{
	struct source s = SOURCE_INIT;
	struct err e = ERR_INIT;

	CHECK_RC(source_parse(&s, spec, flags, &e), 0);
	CHECK_RC(s.how, how);
	if (path)
		CHECK_STR(s.path, path);
	if (ref)
		CHECK_STR(s.ref, ref);
	else
		CHECK(s.ref == NULL);
	source_release(&s);
}

TEST(parse_transports)
{
	struct source s = SOURCE_INIT;
	struct err e = ERR_INIT;

	parse_is("oci:lay", 0, SOURCE_LAYOUT, "lay", NULL);
	parse_is("oci:lay:v1", 0, SOURCE_LAYOUT, "lay", "v1");
	parse_is("oci-archive:a.tar", 0, SOURCE_ARCHIVE, "a.tar", NULL);
	parse_is("oci-archive:a.tar:@1", 0, SOURCE_ARCHIVE, "a.tar", "@1");
	parse_is("docker-archive:a.tar:busybox:1", 0, SOURCE_ARCHIVE, "a.tar", "busybox:1");
	parse_is("tarball:a.tar:", 0, SOURCE_ARCHIVE, "a.tar", NULL);
	parse_is("alpine:3", 0, SOURCE_NONE, NULL, NULL);
	parse_is("-", 0, SOURCE_NONE, NULL, NULL);
	parse_is("-", SOURCE_STDIN, SOURCE_ARCHIVE, "-", NULL);
	CHECK_RC(source_parse(&s, "oci-archive:", 0, &e), ERR_USAGE);
	CHECK(strstr(e.msg, "a path must follow 'oci-archive:'") != NULL);
	source_release(&s);
	CHECK_RC(source_parse(&s, "oci::x", 0, &e), ERR_USAGE);
	source_release(&s);
}

TEST(parse_bare_paths)
{
	char spec[4200];
	int fd;

	CHECK_RC(mkdir(at("lay"), 0755), 0);
	fd = open(at("a.tar"), O_WRONLY | O_CREAT, 0644);
	CHECK(fd >= 0 && close(fd) == 0);
	fd = open(at("we@ird.tar"), O_WRONLY | O_CREAT, 0644);
	CHECK(fd >= 0 && close(fd) == 0);
#define BARE(rel, how, path, ref) do { \
	snprintf(spec, sizeof(spec), "%s/%s", dir, rel); \
	parse_is(spec, SOURCE_BARE, how, path ? at(path) : NULL, ref); \
} while (0)
	BARE("a.tar", SOURCE_ARCHIVE, "a.tar", NULL);
	BARE("lay", SOURCE_LAYOUT, "lay", NULL);
	/* FILE@TAG is the tarball a.tar with a reference, not a layout "a.tar@x:1" */
	BARE("a.tar@x:1", SOURCE_ARCHIVE, "a.tar", "x:1");
	BARE("a.tar@@0", SOURCE_ARCHIVE, "a.tar", "@0");
	BARE("a.tar:repo/x:1", SOURCE_ARCHIVE, "a.tar", "repo/x:1");
	BARE("lay@name", SOURCE_LAYOUT, "lay", "name");
	BARE("we@ird.tar", SOURCE_ARCHIVE, "we@ird.tar", NULL);
	BARE("we@ird.tar@v2", SOURCE_ARCHIVE, "we@ird.tar", "v2");
	/* ':' splits only after a file; what does not exist is a layout to open */
	BARE("lay:x", SOURCE_LAYOUT, "lay:x", NULL);
	BARE("missing@x", SOURCE_LAYOUT, "missing@x", NULL);
#undef BARE
}

/* Stores `s` as a blob of `l`; fills a descriptor of media type `mt`. */
static void put(struct descriptor *d, struct layout *l, const char *mt, const char *s)
{
	struct err e = ERR_INIT;

	descriptor_init(d);
	d->media_type = strdup(mt);
	d->size = (int64_t)strlen(s);
	CHECK_RC(blob_put(&d->digest, l, s, strlen(s), NULL, &e), 0);
}

/* An image of one layer whose bytes are `layer`; returns its manifest. */
static void image(struct descriptor *man, struct descriptor *lay, struct layout *l,
		  const char *layer)
{
	struct descriptor cfg;
	char json[1024];

	put(&cfg, l, MT_OCI_CONFIG, "{\"architecture\":\"amd64\",\"os\":\"linux\"}");
	put(lay, l, MT_OCI_LAYER, layer);
	snprintf(json, sizeof(json), "{\"schemaVersion\":2,\"mediaType\":\"%s\","
		 "\"config\":{\"mediaType\":\"%s\",\"digest\":\"%s\",\"size\":%lld},"
		 "\"layers\":[{\"mediaType\":\"%s\",\"digest\":\"%s\",\"size\":%lld}]}",
		 MT_OCI_MANIFEST, MT_OCI_CONFIG, cfg.digest.str, (long long)cfg.size,
		 MT_OCI_LAYER, lay->digest.str, (long long)lay->size);
	put(man, l, MT_OCI_MANIFEST, json);
	descriptor_release(&cfg);
}

/* Imports archive `path` (from a pipe when `pipe_it`) choosing `sel`. */
static int import(struct layout **out, const char *path, const char *sel, unsigned flags,
		  int pipe_it, struct err *e)
{
	int fd = open(path, O_RDONLY), p[2], rc;
	char buf[65536];
	ssize_t n;

	CHECK(fd >= 0);
	CHECK_RC(layout_open_scratch(out, dir, "import", LAYOUT_NO_SYNC, e), 0);
	if (pipe_it) {
		/* small enough to sit in the pipe whole */
		CHECK_RC(pipe(p), 0);
		while ((n = read(fd, buf, sizeof(buf))) > 0)
			CHECK(write(p[1], buf, (size_t)n) == n);
		close(p[1]);
		close(fd);
		fd = p[0];
	}
	rc = import_archive(*out, fd, sel, "latest", flags, e);
	close(fd);
	return rc;
}

TEST(oci_archive_round_trip)
{
	struct layout *src = NULL, *l = NULL;
	struct descriptor ma, la, mb, lb, got;
	struct pull_result imgs[2];
	struct layout_ref *refs = NULL;
	struct err e = ERR_INIT;
	size_t n = 0;

	CHECK_RC(layout_open(&src, at("src"), LAYOUT_CREATE | LAYOUT_NO_SYNC, &e), 0);
	image(&ma, &la, src, "layer of a");
	image(&mb, &lb, src, "layer of b");
	imgs[0].name = "a";
	imgs[0].desc = ma;
	imgs[1].name = "b";
	imgs[1].desc = mb;
	CHECK_RC(tarball_write_oci(at("two.tar"), src, imgs, 2, &e), 0);

	/* one image chosen: only its blobs are written (a file is read twice) */
	descriptor_init(&got);
	CHECK_RC(import(&l, at("two.tar"), "b", 0, 0, &e), 0);
	CHECK_RC(layout_index_find(&got, l, "latest", &e), 0);
	CHECK_STR(got.digest.str, mb.digest.str);
	CHECK(blob_has(l, &lb.digest, lb.size));
	CHECK(!blob_has(l, &la.digest, -1));
	layout_free(l);
	descriptor_release(&got);
	/* by position, from a pipe: read once, every file kept */
	CHECK_RC(import(&l, at("two.tar"), "@0", 0, 1, &e), 0);
	CHECK_RC(layout_index_find(&got, l, "latest", &e), 0);
	CHECK_STR(got.digest.str, ma.digest.str);
	CHECK(blob_has(l, &lb.digest, lb.size));
	layout_free(l);
	descriptor_release(&got);
	/* none chosen among two, or one that is not there */
	CHECK_RC(import(&l, at("two.tar"), NULL, 0, 0, &e), ERR_USAGE);
	CHECK(strstr(e.msg, "it holds 2 images ('a', 'b')") != NULL);
	layout_free(l);
	CHECK_RC(import(&l, at("two.tar"), "c", 0, 0, &e), ERR_NOT_FOUND);
	layout_free(l);
	CHECK_RC(import(&l, at("two.tar"), "@2", 0, 0, &e), ERR_NOT_FOUND);
	layout_free(l);
	/* every image, under its own name */
	CHECK_RC(import(&l, at("two.tar"), NULL, IMPORT_ALL, 0, &e), 0);
	CHECK_RC(layout_index_list(&refs, &n, l, &e), 0);
	CHECK_RC(n, 2);
	if (n == 2) {
		CHECK_STR(refs[0].name, "a");
		CHECK_STR(refs[1].desc.digest.str, mb.digest.str);
	}
	layout_refs_free(refs, n);
	layout_free(l);
	/* not an image archive */
	CHECK_RC(import(&l, at("src/oci-layout"), NULL, 0, 0, &e), ERR_INVALID);
	layout_free(l);

	layout_free(src);
	descriptor_release(&ma);
	descriptor_release(&la);
	descriptor_release(&mb);
	descriptor_release(&lb);
}

int main(void)
{
	if (!mkdtemp(dir)) {
		perror("mkdtemp");
		return 2;
	}
	RUN(parse_transports);
	RUN(parse_bare_paths);
	RUN(oci_archive_round_trip);
	nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	return test_done();
}

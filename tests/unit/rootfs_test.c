#define TEST_MODULE "rootfs"
#include "tests/unit/test.h"

#include "core/base/buf.h"
#include "core/base/err.h"
#include "core/model/manifest.h"
#include "core/ops/rootfs.h"

#include <stdio.h>

TEST(path_clean)
{
	struct buf b = BUF_INIT;
	struct err e = ERR_INIT;

	CHECK_RC(rootfs_path_clean(&b, "./a//b/", &e), 0);
	CHECK_STR(b.data, "a/b");
	CHECK_RC(rootfs_path_clean(&b, "/usr/./bin/../lib", &e), 0);
	CHECK_STR(b.data, "usr/lib");
	CHECK_RC(rootfs_path_clean(&b, "./", &e), 0);
	CHECK_STR(b.data, "");
	CHECK_RC(rootfs_path_clean(&b, "a/../../etc/passwd", &e), ERR_INVALID);
	CHECK(strstr(e.msg, "climbs out of the root") != NULL);
	CHECK_RC(rootfs_path_clean(&b, "..", &e), ERR_INVALID);
	buf_release(&b);
	CHECK_STR(rootfs_base_name("a/b/c"), "c");
	CHECK_STR(rootfs_base_name("c"), "c");
}

TEST(whiteouts)
{
	CHECK(rootfs_whiteout_ok(".wh.a"));
	CHECK(rootfs_whiteout_ok(ROOTFS_WH_OPAQUE));
	CHECK(!rootfs_whiteout_ok(".wh."));
	CHECK(!rootfs_whiteout_ok(".wh.."));
	CHECK(!rootfs_whiteout_ok(".wh..."));
}

/* Enough paths to grow the table a few times; each found again. */
TEST(paths)
{
	struct rootfs_paths s = { NULL, 0, 0 };
	struct rootfs_path *en;
	char p[32];
	int i, lost = 0;

	CHECK(rootfs_paths_find(&s, "a", 1) == NULL);
	en = rootfs_paths_get(&s, "a/b", 1);
	CHECK(en != NULL);
	if (en) {
		CHECK_STR(en->path, "a");
		CHECK(en->kind == ROOTFS_NONE && en->wh_layer == -1 && en->opq_layer == -1 &&
		      en->layer == -1);
		en->kind = ROOTFS_DIR;
	}
	for (i = 0; i < 5000; i++) {
		snprintf(p, sizeof(p), "a/f%d", i);
		if (!(en = rootfs_paths_get(&s, p, strlen(p))))
			break;
		en->layer = i;
	}
	CHECK_RC(s.n, 5001);
	for (i = 0; i < 5000; i++) {
		snprintf(p, sizeof(p), "a/f%d", i);
		en = rootfs_paths_find(&s, p, strlen(p));
		lost += !en || en->layer != i;
	}
	CHECK_RC(lost, 0);
	en = rootfs_paths_get(&s, "a", 1);
	CHECK(en && en->kind == ROOTFS_DIR);
	CHECK_RC(s.n, 5001);
	rootfs_paths_release(&s);
	CHECK(s.tab == NULL && s.n == 0);
}

TEST(image_check)
{
	struct manifest m;
	struct err e = ERR_INIT;

	manifest_init(&m);
	m.kind = MT_KIND_INDEX;
	CHECK_RC(rootfs_image_check(&m, &e), ERR_USAGE);
	manifest_release(&m);
}

int main(void)
{
	RUN(path_clean);
	RUN(whiteouts);
	RUN(paths);
	RUN(image_check);
	return test_done();
}

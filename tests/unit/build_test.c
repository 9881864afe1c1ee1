#define TEST_MODULE "build"
#include "tests/unit/test.h"

#include "cache/blob.h"
#include "cache/layout.h"
#include "core/ops/build.h"
#include "core/ops/build_spec.h"
#include "core/base/err.h"
#include "core/ops/env.h"
#include "core/base/json.h"

#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

static char scratch[] = "/tmp/hoist-build-test.XXXXXX";

static void put(const char *rel, const char *data)
{
	char path[512];
	int fd;

	snprintf(path, sizeof(path), "%s/%s", scratch, rel);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (fd >= 0) {
		if (write(fd, data, strlen(data)) < 0)
			perror("write");
		close(fd);
	}
}

/* A stage made of `a` at /t/a, an image copying it (COPY --from) for two
 * platforms, and an index over both: all in a layout, no registry. */
TEST(copy_from_stage_and_index)
{
	struct env env;
	struct build_spec s[2];
	struct build_result r[2];
	struct manifest idx;
	struct layout *l = NULL;
	struct err e = ERR_INIT;
	struct layer_add a;
	char src[512], dir[512];
	const char *plats[2] = { "linux/amd64", "linux/arm64" };
	size_t i;

	env_init(&env);
	manifest_init(&idx);
	snprintf(src, sizeof(src), "%s/a", scratch);
	snprintf(dir, sizeof(dir), "%s/multi", scratch);
	CHECK_RC(layout_open(&l, dir, LAYOUT_CREATE, &e), 0);
	for (i = 0; i < 2; i++) {
		struct build_spec *st;
		build_spec_init(&s[i]);
		build_result_init(&r[i]);
		s[i].platform = strdup(plats[i]);
		s[i].stages = calloc(1, sizeof(*s[i].stages));
		st = s[i].stages[0] = calloc(1, sizeof(*st));
		s[i].n_stages = 1;
		build_spec_init(st);
		memset(&a, 0, sizeof(a));
		a.src = src;
		a.dst = "/t/";
		CHECK_RC(build_spec_step(st, "COPY a /t/", 0, &e), 0);
		CHECK_RC(build_spec_add(st, &a, &e), 0);
		CHECK_RC(build_spec_step(&s[i], "COPY --from=0 /t/a /x", 0, &e), 0);
		a.src = "/t/a";
		a.dst = "/x";
		CHECK_RC(build_spec_add(&s[i], &a, &e), 0);
		CHECK_RC(build_spec_step_from(&s[i], NULL, 0, &e), 0);
		CHECK_RC(build_image(&r[i], &env, &s[i], l, BUILD_WITH_BASE, &e), 0);
		CHECK_RC(r[i].manifest.n_layers, 1);
		CHECK_STR(r[i].platform.arch, i ? "arm64" : "amd64");
	}
	CHECK_RC(build_index(&idx, r, 2, l, &e), 0);
	CHECK_STR(idx.media_type, MT_OCI_INDEX);
	CHECK_RC(idx.n_manifests, 2);
	CHECK(blob_has(l, &idx.digest, -1));
	/* a missing path is named */
	build_result_release(&r[0]);
	{
		const char *keep = s[0].steps[0].adds[0].src;
		s[0].steps[0].adds[0].src = "/nope";
		CHECK_RC(build_image(&r[0], &env, &s[0], l, BUILD_WITH_BASE, &e), ERR_NOT_FOUND);
		CHECK(strstr(e.msg, "'/nope' not found") != NULL);
		s[0].steps[0].adds[0].src = keep;
	}
	for (i = 0; i < 2; i++) {
		build_result_release(&r[i]);
		build_spec_release(&s[i]);
	}
	manifest_release(&idx);
	layout_free(l);
	env_release(&env);
}

static int build_once(struct digest *out, const char *dir, int64_t created)
{
	struct env env;
	struct build_spec s;
	struct build_result r;
	struct layout *l = NULL;
	struct err e = ERR_INIT;
	struct layer_add a;
	char src[512];
	int rc;

	env_init(&env);
	build_spec_init(&s);
	build_result_init(&r);
	memset(&a, 0, sizeof(a));
	snprintf(src, sizeof(src), "%s/a", scratch);
	a.src = src;
	a.dst = "/srv/";
	s.created = created;
	rc = layout_open(&l, dir, LAYOUT_CREATE, &e);
	if (rc == 0)
		rc = build_spec_step(&s, "add a", 0, &e);
	if (rc == 0)
		rc = build_spec_add(&s, &a, &e);
	if (rc == 0)
		rc = build_spec_env(&s, "PATH", "/bin", &e);
	if (rc == 0)
		rc = build_image(&r, &env, &s, l, BUILD_WITH_BASE, &e);
	if (rc == 0) {
		*out = r.manifest.digest;
		CHECK_RC(r.manifest.n_layers, 1);
		CHECK(r.base.repository == NULL);
		CHECK(blob_has(l, &r.config_digest, -1));
		CHECK(blob_has(l, &r.manifest.digest, -1));
	} else {
		fprintf(stderr, "build: %s\n", e.msg);
	}
	layout_free(l);
	build_result_release(&r);
	build_spec_release(&s);
	env_release(&env);
	return rc;
}

TEST(empty_base_reproducible)
{
	struct digest d1, d2, d3;
	char l1[512], l2[512];

	snprintf(l1, sizeof(l1), "%s/l1", scratch);
	snprintf(l2, sizeof(l2), "%s/l2", scratch);
	CHECK_RC(build_once(&d1, l1, 0), 0);
	chmod(scratch, 0700);
	CHECK_RC(build_once(&d2, l2, 0), 0);
	CHECK_STR(d1.str, d2.str);
	CHECK_RC(build_once(&d3, l2, 1700000000), 0);
	CHECK(strcmp(d1.str, d3.str) != 0);
}

int main(void)
{
	if (!mkdtemp(scratch))
		return 1;
	put("a", "alpha\n");
	put("b", "beta\n");
	RUN(copy_from_stage_and_index);
	RUN(empty_base_reproducible);
	{
		char cmd[600];
		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", scratch);
		if (system(cmd) != 0)
			fprintf(stderr, "cannot remove %s\n", scratch);
	}
	return test_done();
}

#define TEST_MODULE "build"
#include "tests/unit/test.h"

#include "cache/layout.h"
#include "core/build.h"
#include "core/containerfile.h"
#include "core/err.h"
#include "core/image.h"
#include "core/json.h"

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

static int spec_from_text(struct build_spec *s, const char *text, struct err *e)
{
	struct containerfile cf;
	int rc;

	rc = containerfile_parse(&cf, text, strlen(text), NULL, e);
	if (rc < 0)
		return rc;
	rc = build_spec_from_containerfile(s, &cf, scratch, e);
	containerfile_release(&cf);
	return rc;
}

TEST(containerfile_to_spec)
{
	struct build_spec s;
	struct err e = ERR_INIT;

	build_spec_init(&s);
	CHECK_RC(spec_from_text(&s, "FROM example.com/base:1\nWORKDIR /app\nCOPY a b ./\n"
			       "ENV X=1 Y=2\nLABEL k=v\nEXPOSE 80\nENTRYPOINT [\"/x\"]\n"
			       "USER 1:2\nCOPY --chown=5:6 --chmod=600 a /etc/\n", &e), 0);
	CHECK_STR(s.base, "example.com/base:1");
	CHECK_RC(s.n_steps, 8);
	CHECK_RC(s.steps[0].empty_layer, 1);
	CHECK_STR(s.steps[0].created_by, "WORKDIR /app");
	CHECK_RC(s.steps[1].empty_layer, 0);
	CHECK_RC(s.steps[1].n_adds, 2);
	if (s.steps[1].n_adds == 2)
		CHECK_STR(s.steps[1].adds[0].dst, "/app/./");
	CHECK_STR(s.workdir, "/app");
	CHECK_STR(kvlist_get(&s.env, "Y"), "2");
	CHECK_STR(kvlist_get(&s.labels, "k"), "v");
	CHECK(s.set_entrypoint && s.entrypoint.n == 1);
	CHECK_STR(s.user, "1:2");
	CHECK(s.steps[7].n_adds == 1 && s.steps[7].adds[0].uid == 5 &&
	      s.steps[7].adds[0].gid == 6 && s.steps[7].adds[0].chmod == 0600);
	build_spec_release(&s);

	build_spec_init(&s);
	CHECK_RC(spec_from_text(&s, "FROM scratch\nCOPY --from=x /a /b\n", &e), ERR_UNSUPPORTED);
	build_spec_release(&s);
	build_spec_init(&s);
	CHECK_RC(spec_from_text(&s, "FROM scratch\nCOPY ../a /b\n", &e), ERR_INVALID);
	CHECK(strstr(e.msg, "line 2") != NULL);
	build_spec_release(&s);
	build_spec_init(&s);
	CHECK_RC(spec_from_text(&s, "FROM scratch\nCOPY --chown=app a /b\n", &e), ERR_UNSUPPORTED);
	build_spec_release(&s);
}

static int build_once(struct digest *out, const char *dir, int64_t created)
{
	struct image_env env;
	struct build_spec s;
	struct build_result r;
	struct layout *l = NULL;
	struct err e = ERR_INIT;
	struct layer_add a;
	char src[512];
	int rc;

	image_env_init(&env);
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
		rc = image_build(&r, &env, &s, l, BUILD_WITH_BASE, &e);
	if (rc == 0) {
		*out = r.manifest.digest;
		CHECK_RC(r.manifest.n_layers, 1);
		CHECK(r.base.repository == NULL);
		CHECK(layout_blob_has(l, &r.config_digest, -1));
		CHECK(layout_blob_has(l, &r.manifest.digest, -1));
	} else {
		fprintf(stderr, "build: %s\n", e.msg);
	}
	layout_free(l);
	build_result_release(&r);
	build_spec_release(&s);
	image_env_release(&env);
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
	RUN(containerfile_to_spec);
	RUN(empty_base_reproducible);
	{
		char cmd[600];
		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", scratch);
		if (system(cmd) != 0)
			fprintf(stderr, "cannot remove %s\n", scratch);
	}
	return test_done();
}

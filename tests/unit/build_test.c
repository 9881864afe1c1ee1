#define TEST_MODULE "build"
#include "tests/unit/test.h"

#include "cache/layout.h"
#include "core/ops/build.h"
#include "core/format/containerfile.h"
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
	CHECK_RC(spec_from_text(&s, "FROM scratch\nCOPY ../a /b\n", &e), ERR_INVALID);
	CHECK(strstr(e.msg, "line 2") != NULL);
	build_spec_release(&s);
	build_spec_init(&s);
	/* names are kept for the build to look up in the base image */
	CHECK_RC(spec_from_text(&s, "FROM scratch\nCOPY --chown=app:staff a /b\n", &e), 0);
	CHECK(s.n_steps == 1 && s.steps[0].n_adds == 1);
	CHECK(s.steps[0].adds[0].flags & LAYER_ADD_CHOWN_NAME);
	CHECK_STR(s.steps[0].adds[0].owner, "app:staff");
	build_spec_release(&s);
	build_spec_init(&s);
	CHECK_RC(spec_from_text(&s, "FROM scratch\nCOPY --chown=a/b a /b\n", &e), ERR_INVALID);
	CHECK(strstr(e.msg, "line 2") != NULL);
	build_spec_release(&s);
}

TEST(containerfile_copy_from)
{
	struct build_spec s;
	struct err e = ERR_INIT;

	build_spec_init(&s);
	CHECK_RC(spec_from_text(&s, "FROM a.example/x:1 AS Tools\nCOPY a /t/\n"
			       "FROM scratch AS unused\nCOPY b /b\n"
			       "FROM b.example/y:2\nWORKDIR /w\n"
			       "COPY --from=tools --chown=3:4 /t/a /bin/* rel/\n"
			       "COPY --from=0 / /all/\n"
			       "COPY --from=c.example/z:3 /etc/conf /etc/\n", &e), 0);
	CHECK_STR(s.base, "b.example/y:2");
	CHECK_RC(s.n_stages, 3);
	CHECK(s.n_stages == 3 && s.stages[0] && !s.stages[1] && !s.stages[2]);
	if (s.n_stages == 3 && s.stages[0]) {
		CHECK_STR(s.stages[0]->base, "a.example/x:1");
		CHECK_RC(s.stages[0]->n_steps, 1);
	}
	CHECK_RC(s.n_steps, 4);
	if (s.n_steps == 4) {
		const struct build_step *st = &s.steps[1];
		CHECK_RC(st->from_stage, 1);
		CHECK(st->from == NULL);
		CHECK_RC(st->n_adds, 2);
		if (st->n_adds == 2) {
			/* image paths as written, DST joined to WORKDIR */
			CHECK_STR(st->adds[0].src, "/t/a");
			CHECK_STR(st->adds[1].src, "/bin/*");
			CHECK_STR(st->adds[0].dst, "/w/rel/");
			CHECK(st->adds[0].uid == 3 && st->adds[0].gid == 4);
		}
		CHECK_RC(s.steps[2].from_stage, 1);
		CHECK_STR(s.steps[3].from, "c.example/z:3");
		CHECK_RC(s.steps[3].from_stage, 0);
	}
	build_spec_release(&s);

	/* FROM an earlier stage continues it */
	build_spec_init(&s);
	CHECK_RC(spec_from_text(&s, "FROM a.example/x:1 AS Base\nENV A=1\nWORKDIR /w\nCOPY a ./\n"
			       "FROM base\nCOPY b ./\n", &e), 0);
	CHECK_STR(s.base, "a.example/x:1");
	CHECK_RC(s.n_steps, 4);
	CHECK_STR(kvlist_get(&s.env, "A"), "1");
	if (s.n_steps == 4 && s.steps[3].n_adds == 1)
		CHECK_STR(s.steps[3].adds[0].dst, "/w/./");
	build_spec_release(&s);

	build_spec_init(&s);
	CHECK_RC(spec_from_text(&s, "FROM scratch\nCOPY --from=1 /a /b\n", &e), ERR_INVALID);
	build_spec_release(&s);
	build_spec_init(&s);
	CHECK_RC(spec_from_text(&s, "FROM scratch\nADD --from=x /a /b\n", &e), ERR_INVALID);
	build_spec_release(&s);
	build_spec_init(&s);
	/* a stage copied from is converted too: its errors count */
	CHECK_RC(spec_from_text(&s, "FROM scratch AS s\nCOPY ../x /x\nFROM scratch\n"
			       "COPY --from=s /a /b\n", &e), ERR_INVALID);
	CHECK(strstr(e.msg, "line 2") != NULL);
	build_spec_release(&s);
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
	RUN(containerfile_to_spec);
	RUN(containerfile_copy_from);
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

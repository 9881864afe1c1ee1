#define TEST_MODULE "build_spec"
#include "tests/unit/test.h"

#include "core/base/err.h"
#include "core/format/containerfile.h"
#include "core/ops/build_spec.h"

#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

static char scratch[] = "/tmp/hoist-build-spec-test.XXXXXX";

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

int main(void)
{
	if (!mkdtemp(scratch))
		return 1;
	put("a", "alpha\n");
	put("b", "beta\n");
	RUN(containerfile_to_spec);
	RUN(containerfile_copy_from);
	{
		char cmd[600];
		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", scratch);
		if (system(cmd) != 0)
			fprintf(stderr, "cannot remove %s\n", scratch);
	}
	return test_done();
}

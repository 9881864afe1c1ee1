#define TEST_MODULE "env"
#include "tests/unit/test.h"

#include "core/base/err.h"
#include "core/model/manifest.h"
#include "core/ops/env.h"

static int n_events;
static struct env_progress last;

static void on_progress(void *arg, const struct env_progress *p)
{
	(void)arg;
	n_events++;
	last = *p;
}

TEST(progress_event)
{
	struct descriptor d;
	struct env_progress p;
	struct err e = ERR_INIT;

	descriptor_init(&d);
	CHECK_RC(digest_parse(&d.digest, "sha256:0123456789abcdef0123456789abcdef"
			      "0123456789abcdef0123456789abcdef", &e), 0);
	d.size = 42;
	env_progress_set(&p, &d, "pull", 7, 0);
	CHECK_STR(p.id, "0123456789ab");
	CHECK_STR(p.what, "pull");
	CHECK(p.done == 7 && p.total == 42 && !p.finished);
	env_progress_set(&p, &d, "exists", 42, 1);
	CHECK(p.done == 42 && p.finished);
	/* the callback sees the event as set */
	on_progress(NULL, &p);
	CHECK(n_events == 1 && !strcmp(last.id, "0123456789ab"));
}

TEST(offline_forbids_sessions)
{
	struct env env;
	struct reg *r = (struct reg *)&env;
	struct err e = ERR_INIT;

	env_init(&env);
	CHECK_RC(env.jobs, 4);
	env.offline = 1;
	CHECK_RC(env_reg(&r, &env, "example.com", &e), ERR_USAGE);
	CHECK(r == NULL);
	CHECK(strstr(e.msg, "--offline forbids the network") != NULL);
	CHECK_RC(env.n_regs, 0);
	env_release(&env);
}

int main(void)
{
	RUN(progress_event);
	RUN(offline_forbids_sessions);
	return test_done();
}

/* imgconfig_test - editing an image config JSON. */
#define TEST_MODULE "imgconfig"
#include "core/base/strvec.h"
#include "test.h"

#include "core/base/buf.h"
#include "core/base/err.h"
#include "core/model/imgconfig.h"
#include "core/base/json.h"
#include "core/model/manifest.h"

/* `j` serialised, compared with `want`. */
static int same(const struct json *j, const char *want)
{
	struct buf b = BUF_INIT;
	struct err e = ERR_INIT;
	int ok = json_serialize(&b, j, 0, &e) == 0 && !strcmp(b.data, want);

	if (!ok)
		fprintf(stderr, "got  %s\nwant %s\n", b.data, want);
	buf_release(&b);
	return ok;
}

static struct json *parse(const char *s)
{
	struct json *j = NULL;
	struct err e = ERR_INIT;

	json_parse(&j, s, strlen(s), &e);
	return j;
}

TEST(new_config)
{
	struct platform p = PLATFORM_INIT;
	struct json *c = imgconfig_new(NULL, NULL);

	CHECK(same(c, "{\"architecture\":\"amd64\",\"os\":\"linux\",\"config\":{},"
		   "\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[]}}"));
	json_free(c);
	p.os = "linux";
	p.arch = "arm64";
	p.variant = "v8";
	c = imgconfig_new(&p, "1970-01-01T00:00:00Z");
	CHECK(same(c, "{\"architecture\":\"arm64\",\"created\":\"1970-01-01T00:00:00Z\","
		   "\"os\":\"linux\",\"variant\":\"v8\",\"config\":{},"
		   "\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[]}}"));
	json_free(c);
}

TEST(time_format)
{
	char t[64];

	CHECK_RC(imgconfig_time(t, sizeof(t), 86400 + 61), 0);
	CHECK_STR(t, "1970-01-02T00:01:01Z");
	CHECK_RC(imgconfig_time(t, 4, 0), -1);
}

TEST(apply_edits)
{
	struct json *c = parse("{\"config\":{\"Env\":[\"A=1\",\"B=2\"],\"Cmd\":[\"sh\"]}}");
	struct kvlist env = KVLIST_INIT, labels = KVLIST_INIT;
	struct strvec ep = STRVEC_INIT, ports = STRVEC_INIT;
	struct imgconfig_edit ed = { 0 };

	kvlist_set(&env, "A", "3");
	kvlist_set(&env, "C", "4");
	kvlist_set(&labels, "l", "v");
	strvec_push(&ep, "/bin/app");
	strvec_push(&ports, "80/tcp");
	ed.env = &env;
	ed.entrypoint = &ep;
	ed.workdir = "/w";
	ed.labels = &labels;
	ed.expose = &ports;
	ed.flags = IMGCONFIG_ENTRYPOINT_DROPS_CMD;
	CHECK_RC(imgconfig_apply(c, &ed), 0);
	CHECK(same(c, "{\"config\":{\"Env\":[\"B=2\",\"A=3\",\"C=4\"],"
		   "\"Entrypoint\":[\"/bin/app\"],\"WorkingDir\":\"/w\",\"Labels\":{\"l\":\"v\"},"
		   "\"ExposedPorts\":{\"80/tcp\":{}}}}"));

	/* crane mutate: an empty entrypoint removes it; Cmd stays */
	strvec_clear(&ep);
	memset(&ed, 0, sizeof(ed));
	ed.entrypoint = &ep;
	ed.flags = IMGCONFIG_EMPTY_ARGV_DELETES;
	CHECK_RC(imgconfig_apply(c, &ed), 0);
	CHECK(json_get(json_get(c, "config"), "Entrypoint") == NULL);
	/* docker build: [] */
	ed.flags = 0;
	CHECK_RC(imgconfig_apply(c, &ed), 0);
	CHECK(same(json_get(json_get(c, "config"), "Entrypoint"), "[]"));
	json_free(c);
	kvlist_release(&env);
	kvlist_release(&labels);
	strvec_clear(&ports);
}

TEST(layers_and_history)
{
	struct json *c = parse("{\"rootfs\":null}"), *hist, *ids;

	CHECK_RC(imgconfig_layers(&hist, &ids, c), 0);
	CHECK_RC(imgconfig_history_add(hist, "T", "RUN x", 1), 0);
	CHECK_RC(imgconfig_history_add(hist, "T", "COPY y", 0), 0);
	CHECK(same(c, "{\"rootfs\":{\"diff_ids\":[],\"type\":\"layers\"},\"history\":["
		   "{\"created\":\"T\",\"created_by\":\"RUN x\",\"comment\":\"hoist\","
		   "\"empty_layer\":true},"
		   "{\"created\":\"T\",\"created_by\":\"COPY y\",\"comment\":\"hoist\"}]}"));
	CHECK(imgconfig_member(NULL, "x", 0) == NULL);
	json_free(c);
}

int main(void)
{
	RUN(new_config);
	RUN(time_format);
	RUN(apply_edits);
	RUN(layers_and_history);
	return test_done();
}

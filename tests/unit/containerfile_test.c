#define TEST_MODULE "containerfile"
#include "core/base/strvec.h"
#include "tests/unit/test.h"

#include "core/format/containerfile.h"
#include "core/format/dockerignore.h"
#include "core/base/err.h"

#include <stdlib.h>

static int parse(struct containerfile *cf, const char *text, const struct cf_parse_opts *o,
		 struct err *e)
{
	return containerfile_parse(cf, text, strlen(text), o, e);
}

/* "a|b|c" of a strvec. */
static const char *joined(const struct strvec *sv)
{
	static char out[1024];
	size_t i, n = 0;

	out[0] = '\0';
	for (i = 0; i < sv->n; i++)
		n += (size_t)snprintf(out + n, sizeof(out) - n, "%s%s", i ? "|" : "", sv->v[i]);
	return out;
}

TEST(every_instruction)
{
	static const char text[] =
		"# syntax=docker/dockerfile:1\n"
		"ARG BASE=debian:12\n"
		"FROM --platform=linux/amd64 ${BASE} AS Build\n"
		"ARG VERSION=1.0\n"
		"ENV APP=/opt/app PATH=\"/opt/app/bin:$PATH\"\n"
		"ENV LEGACY hello world\n"
		"LABEL org.opencontainers.image.version=$VERSION \"quoted key\"='single $VERSION'\n"
		"COPY --chmod=0755 --chown=10:20 bin/* lib/ $APP/\n"
		"ADD rootfs.tar.gz /\n"
		"COPY [\"with space.txt\", \"/data/\"]\n"
		"WORKDIR ${APP}\n"
		"USER 10:20\n"
		"ENTRYPOINT [\"/opt/app/bin/app\", \"--serve\"]\n"
		"CMD echo $HOME\n"
		"EXPOSE 8080 53/UDP 9000-9002\n"
		"VOLUME /data [\"/not-json\"\n"
		"STOPSIGNAL SIGTERM\n"
		"SHELL [\"/bin/bash\", \"-c\"]\n"
		"CMD run it\n";
	struct containerfile cf;
	struct err e = ERR_INIT;
	const struct cf_instr *in;

	CHECK_RC(parse(&cf, text, NULL, &e), 0);
	if (e.code)
		fprintf(stderr, "%s\n", e.msg);
	CHECK(cf.n_instrs == 18);
	CHECK(cf.n_stages == 1);
	CHECK_STR(cf.syntax, "docker/dockerfile:1");
	if (cf.n_instrs != 18)
		goto out;
	in = cf.instrs;
	CHECK(in[0].kind == CF_ARG && in[0].line == 2);
	CHECK_STR(kvlist_get(&in[0].kv, "BASE"), "debian:12");
	CHECK(in[1].kind == CF_FROM && in[1].line == 3);
	CHECK_STR(joined(&in[1].args), "debian:12");
	CHECK_STR(in[1].platform, "linux/amd64");
	CHECK_STR(in[1].stage_name, "build");
	CHECK_STR(cf.stages[0].name, "build");
	CHECK(cf.stages[0].from == 1 && cf.stages[0].end == 18);
	CHECK_STR(in[1].text, "FROM --platform=linux/amd64 ${BASE} AS Build");
	CHECK_STR(kvlist_get(&in[3].kv, "APP"), "/opt/app");
	CHECK_STR(kvlist_get(&in[3].kv, "PATH"), "/opt/app/bin:");	/* PATH unset in the file */
	CHECK_STR(kvlist_get(&in[4].kv, "LEGACY"), "hello world");
	CHECK_STR(kvlist_get(&in[5].kv, "org.opencontainers.image.version"), "1.0");
	CHECK_STR(kvlist_get(&in[5].kv, "quoted key"), "single $VERSION");
	CHECK(in[6].kind == CF_COPY);
	CHECK_STR(joined(&in[6].args), "bin/*|lib/|/opt/app/");
	CHECK(in[6].has_chmod && in[6].chmod == 0755);
	CHECK_STR(in[6].chown, "10:20");
	CHECK(in[7].kind == CF_ADD);
	CHECK_STR(joined(&in[7].args), "rootfs.tar.gz|/");
	CHECK(in[8].json_form);
	CHECK_STR(joined(&in[8].args), "with space.txt|/data/");
	CHECK(in[9].kind == CF_WORKDIR);
	CHECK_STR(joined(&in[9].args), "/opt/app");
	CHECK_STR(joined(&in[10].args), "10:20");
	CHECK(in[11].kind == CF_ENTRYPOINT && in[11].json_form);
	CHECK_STR(joined(&in[11].args), "/opt/app/bin/app|--serve");
	CHECK(in[12].kind == CF_CMD && !in[12].json_form);
	CHECK_STR(joined(&in[12].args), "/bin/sh|-c|echo $HOME");	/* never expanded */
	CHECK_STR(joined(&in[13].args), "8080/tcp|53/udp|9000/tcp|9001/tcp|9002/tcp");
	CHECK(in[14].kind == CF_VOLUME && !in[14].json_form);
	CHECK_STR(joined(&in[14].args), "/data|[/not-json");
	CHECK_STR(joined(&in[15].args), "SIGTERM");
	CHECK(in[16].kind == CF_SHELL);
	CHECK_STR(joined(&in[17].args), "/bin/bash|-c|run it");
out:
	containerfile_release(&cf);
}

TEST(continuations_comments_escape)
{
	static const char text[] =
		"\xef\xbb\xbf"
		"# escape=`\n"
		"\n"
		"FROM scratch\n"
		"COPY a `\n"
		"  # a comment inside\n"
		"\n"
		"     b `\n"
		"     C:\\dir\\x /d/\n"
		"# trailing comment\n"
		"LABEL x=`$notvar y=$$\r\n"
		"CMD [\"a\", `\n"
		"     \"b\"]";
	struct containerfile cf;
	struct err e = ERR_INIT;

	CHECK_RC(parse(&cf, text, NULL, &e), 0);
	if (e.code)
		fprintf(stderr, "%s\n", e.msg);
	CHECK(cf.escape == '`');
	CHECK(cf.n_instrs == 4);
	if (cf.n_instrs == 4) {
		CHECK(cf.instrs[1].line == 4);
		CHECK_STR(joined(&cf.instrs[1].args), "a|b|C:\\dir\\x|/d/");
		CHECK(cf.instrs[2].line == 10);
		CHECK_STR(kvlist_get(&cf.instrs[2].kv, "x"), "$notvar");
		CHECK_STR(kvlist_get(&cf.instrs[2].kv, "y"), "$$");
		CHECK(cf.instrs[3].json_form);
		CHECK_STR(joined(&cf.instrs[3].args), "a|b");
	}
	containerfile_release(&cf);
	/* a directive after an instruction is a comment; a second escape fails */
	CHECK_RC(parse(&cf, "FROM x\n# escape=`\nCOPY a \\\n b /\n", NULL, &e), 0);
	CHECK(cf.escape == '\\');
	CHECK(cf.n_instrs == 2 && !strcmp(joined(&cf.instrs[1].args), "a|b|/"));
	containerfile_release(&cf);
	CHECK_RC(parse(&cf, "# escape=`\n# escape=\\\nFROM x\n", NULL, &e), ERR_INVALID);
	CHECK_RC(parse(&cf, "# escape=x\nFROM x\n", NULL, &e), ERR_INVALID);
	CHECK(strstr(e.msg, "line 1:") != NULL);
}

static const char *lookup_test(void *arg, const char *name)
{
	if (!strcmp(name, "SET"))
		return "v";
	if (!strcmp(name, "EMPTY"))
		return "";
	return NULL;
}

TEST(expansion_forms)
{
	static const struct {
		const char *in, *out;
	} cases[] = {
		{ "$SET", "v" }, { "${SET}", "v" }, { "x${SET}y", "xvy" },
		{ "$SETx", "" }, { "${UNSET}", "" },
		{ "${UNSET:-def}", "def" }, { "${EMPTY:-def}", "def" }, { "${EMPTY-def}", "" },
		{ "${SET:-def}", "v" }, { "${SET:+alt}", "alt" }, { "${EMPTY:+alt}", "" },
		{ "${EMPTY+alt}", "alt" }, { "${UNSET+alt}", "" },
		{ "${UNSET:-${SET}-nested}", "v-nested" },
		{ "\\$SET", "$SET" }, { "'$SET'", "$SET" }, { "\"$SET\"", "v" },
		{ "\"a\\\"b\"", "a\"b" }, { "\"a\\xb\"", "a\\xb" }, { "$", "$" }, { "$1", "$1" },
		{ "a b", "a b" },
	};
	size_t i;
	struct err e = ERR_INIT;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *out = NULL;

		CHECK_RC(containerfile_expand_word(&out, cases[i].in, '\\', lookup_test, NULL, &e), 0);
		if (!out || strcmp(out, cases[i].out)) {
			fprintf(stderr, "expand '%s': '%s', want '%s'\n", cases[i].in,
				out ? out : "(null)", cases[i].out);
			test_cur_failed = 1;
		}
		free(out);
	}
	{
		char *out = NULL;

		CHECK_RC(containerfile_expand_word(&out, "${SET", '\\', lookup_test, NULL, &e), ERR_INVALID);
		CHECK_RC(containerfile_expand_word(&out, "${SET:?x}", '\\', lookup_test, NULL, &e), ERR_INVALID);
		CHECK_RC(containerfile_expand_word(&out, "${1x}", '\\', lookup_test, NULL, &e), ERR_INVALID);
		CHECK_RC(containerfile_expand_word(&out, "\"open", '\\', lookup_test, NULL, &e), ERR_INVALID);
		CHECK(out == NULL);
	}
}

TEST(arg_scopes_and_build_args)
{
	static const char text[] =
		"ARG TAG=12\n"
		"ARG UNUSED_GLOBAL\n"
		"FROM debian:$TAG AS base\n"
		"RUN_NOT_HERE_JUST_COMMENT=1\n";
	static const char text2[] =
		"ARG TAG=12\n"
		"FROM debian:$TAG\n"
		"LABEL before=\"[$TAG]\"\n"
		"ARG TAG\n"
		"ARG LOCAL=dflt OTHER=${LOCAL}-x\n"
		"LABEL after=$TAG local=$LOCAL other=$OTHER arch=$TARGETARCH\n"
		"ARG TARGETARCH\n"
		"ENV LOCAL=from-env\n"
		"LABEL envwins=$LOCAL arch=$TARGETARCH\n"
		"FROM base2\n"
		"LABEL fresh=[$LOCAL]\n";
	struct kvlist ba = KVLIST_INIT, pre = KVLIST_INIT;
	struct cf_parse_opts o = { &ba, &pre, 0 };
	struct containerfile cf;
	struct err e = ERR_INIT;

	CHECK_RC(parse(&cf, text, NULL, &e), ERR_INVALID);
	CHECK(strstr(e.msg, "line 4: unknown instruction 'RUN_NOT_HERE_JUST_COMMENT=1'") != NULL);
	kvlist_set(&ba, "TAG", "13");
	kvlist_set(&ba, "LOCAL", "over");
	kvlist_set(&ba, "NOBODY", "x");
	kvlist_set(&pre, "TARGETARCH", "arm64");
	err_clear(&e);
	CHECK_RC(parse(&cf, text2, &o, &e), 0);
	if (e.code)
		fprintf(stderr, "%s\n", e.msg);
	CHECK(cf.n_instrs == 11 && cf.n_stages == 2);
	if (cf.n_instrs == 11) {
		CHECK_STR(joined(&cf.instrs[1].args), "debian:13");
		CHECK_STR(kvlist_get(&cf.instrs[2].kv, "before"), "[]");
		CHECK_STR(kvlist_get(&cf.instrs[5].kv, "after"), "13");
		CHECK_STR(kvlist_get(&cf.instrs[5].kv, "local"), "over");
		/* a line's pairs expand against the state before it, as BuildKit does */
		CHECK_STR(kvlist_get(&cf.instrs[5].kv, "other"), "-x");
		CHECK_STR(kvlist_get(&cf.instrs[5].kv, "arch"), "");	/* not declared yet */
		CHECK_STR(kvlist_get(&cf.instrs[8].kv, "envwins"), "from-env");
		CHECK_STR(kvlist_get(&cf.instrs[8].kv, "arch"), "arm64");
		CHECK_STR(kvlist_get(&cf.instrs[10].kv, "fresh"), "[]");
		CHECK(cf.stages[1].from == 9 && cf.stages[1].end == 11);
	}
	CHECK_STR(joined(&cf.unused_build_args), "NOBODY");
	containerfile_release(&cf);
	/* FROM with predefined args, as buildx's $BUILDPLATFORM */
	kvlist_set(&pre, "BUILDPLATFORM", "linux/amd64");
	CHECK_RC(parse(&cf, "FROM --platform=$BUILDPLATFORM img:${TARGETARCH}\n", &o, &e), 0);
	CHECK(cf.n_instrs == 1);
	if (cf.n_instrs == 1) {
		CHECK_STR(cf.instrs[0].platform, "linux/amd64");
		CHECK_STR(joined(&cf.instrs[0].args), "img:arm64");
	}
	containerfile_release(&cf);
	kvlist_release(&ba);
	kvlist_release(&pre);
}

TEST(multi_stage_copy_from)
{
	static const char text[] =
		"FROM golang:1.22 AS build\n"
		"FROM scratch\n"
		"COPY --from=build --link /go/bin/app /app\n"
		"COPY --from=docker.io/library/busybox:1.36 /bin/busybox /bin/\n";
	struct containerfile cf;
	struct err e = ERR_INIT;

	CHECK_RC(parse(&cf, text, NULL, &e), 0);
	CHECK(cf.n_stages == 2 && cf.n_instrs == 4);
	if (cf.n_instrs == 4) {
		CHECK_STR(cf.instrs[2].from, "build");
		CHECK(cf.instrs[2].link);
		CHECK_STR(cf.instrs[3].from, "docker.io/library/busybox:1.36");
		CHECK(cf.stages[1].name == NULL);
	}
	containerfile_release(&cf);
	CHECK_RC(parse(&cf, "FROM a AS x\nFROM b AS X\n", NULL, &e), ERR_INVALID);
	CHECK(strstr(e.msg, "line 2: FROM: stage name 'x' used twice") != NULL);
}

TEST(refused_instructions)
{
	static const struct {
		const char *text;
		int code;
		const char *msg;
	} cases[] = {
		{ "FROM x\nCOPY a /\n\nRUN make\n", ERR_UNSUPPORTED,
		  "line 4: RUN needs a container runtime, which hoist build does not use: "
		  "build the files beforehand" },
		{ "FROM x\nrun \\\n  make\n", ERR_UNSUPPORTED, "line 2: RUN needs a container runtime" },
		{ "FROM x\nHEALTHCHECK CMD curl -f http://localhost/\n", ERR_UNSUPPORTED,
		  "line 2: HEALTHCHECK is a Docker-format setting run by a container runtime" },
		{ "FROM x\nONBUILD COPY . /app\n", ERR_UNSUPPORTED,
		  "line 2: ONBUILD triggers run in a downstream build with a container runtime" },
		{ "FROM x\nMAINTAINER me\n", ERR_UNSUPPORTED, "org.opencontainers.image.authors" },
		{ "FROM x\nFROBNICATE y\n", ERR_INVALID, "line 2: unknown instruction 'FROBNICATE'" },
		{ "COPY a /\n", ERR_INVALID, "line 1: COPY before the first FROM" },
		{ "# only a comment\n", ERR_INVALID, "no FROM instruction" },
		{ "", ERR_INVALID, "no FROM instruction" },
		{ "FROM\n", ERR_INVALID, "line 1: FROM takes an image" },
		{ "FROM a b\n", ERR_INVALID, "line 1: FROM takes an image" },
		{ "FROM --pull=always x\n", ERR_INVALID, "unknown flag '--pull'" },
		{ "ARG B\nFROM $B\n", ERR_INVALID, "line 2: FROM: the image name is empty" },
		{ "FROM x\nARG 1X=2\n", ERR_INVALID, "ARG: invalid name '1X'" },
		{ "FROM x\nARG\n", ERR_INVALID, "ARG needs a name" },
		{ "FROM x\nENV\n", ERR_INVALID, "ENV needs KEY=VALUE" },
		{ "FROM x\nENV A=1 B\n", ERR_INVALID, "ENV: 'B' is not KEY=VALUE" },
		{ "FROM x\nENV ONLYKEY\n", ERR_INVALID, "ENV needs KEY=VALUE" },
		{ "FROM x\nLABEL =v\n", ERR_INVALID, "LABEL: '=v' is not KEY=VALUE" },
		{ "FROM x\nCOPY a\n", ERR_INVALID, "COPY needs a source and a destination" },
		{ "FROM x\nCOPY a b /dst\n", ERR_INVALID, "destination directory ending in '/'" },
		{ "FROM x\nCOPY --chmod=999 a /\n", ERR_INVALID, "--chmod='999' is not an octal mode" },
		{ "FROM x\nCOPY --chmod=u+x a /\n", ERR_INVALID, "not an octal mode" },
		{ "FROM x\nCOPY --exclude=*.md a /\n", ERR_INVALID, "unknown or repeated flag '--exclude'" },
		{ "FROM x\nADD --from=y a /\n", ERR_INVALID, "unknown or repeated flag '--from'" },
		{ "FROM x\nADD https://example.com/f.tgz /\n", ERR_UNSUPPORTED,
		  "ADD of 'https://example.com/f.tgz': hoist build reads only local files" },
		{ "FROM x\nADD --checksum=sha256:00 f /\n", ERR_UNSUPPORTED, "download the file beforehand" },
		{ "FROM x\nCOPY \"$UNSET\" /\n", ERR_INVALID, "an empty path" },
		{ "FROM x\nCOPY 'open /\n", ERR_INVALID, "line 2: unterminated single quote" },
		{ "FROM x\nWORKDIR\n", ERR_INVALID, "WORKDIR needs a value" },
		{ "FROM x\nUSER $NOBODY\n", ERR_INVALID, "USER needs a value" },
		{ "FROM x\nENTRYPOINT\n", ERR_INVALID, "ENTRYPOINT needs a command" },
		{ "FROM x\nSHELL /bin/bash -c\n", ERR_INVALID, "SHELL must be a JSON array" },
		{ "FROM x\nEXPOSE 70000\n", ERR_INVALID, "EXPOSE: invalid port '70000'" },
		{ "FROM x\nEXPOSE 80/icmp\n", ERR_INVALID, "invalid port '80/icmp'" },
		{ "FROM x\nEXPOSE 90-80\n", ERR_INVALID, "invalid port" },
		{ "FROM x\nEXPOSE\n", ERR_INVALID, "EXPOSE needs a port" },
		{ "FROM x\nVOLUME\n", ERR_INVALID, "VOLUME needs a path" },
		{ "FROM x\nSTOPSIGNAL SIG;TERM\n", ERR_INVALID, "STOPSIGNAL: invalid signal" },
		{ "FROM x\nLABEL a=${b\n", ERR_INVALID, "line 2: missing '}'" },
		{ "FROM x\n\x1b[31mX\n", ERR_INVALID, "unknown instruction '?[31mX'" },
	};
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct containerfile cf;
		struct err e = ERR_INIT;
		int rc = parse(&cf, cases[i].text, NULL, &e);

		if (rc != cases[i].code || !strstr(e.msg, cases[i].msg)) {
			fprintf(stderr, "case %zu: rc %d, '%s'\n  want %d, '%s'\n", i, rc, e.msg,
				cases[i].code, cases[i].msg);
			test_cur_failed = 1;
		}
		CHECK(cf.n_instrs == 0);
		containerfile_release(&cf);
	}
}

TEST(limits)
{
	struct containerfile cf;
	struct cf_parse_opts o = { NULL, NULL, 16 };
	struct err e = ERR_INIT;

	CHECK_RC(parse(&cf, "FROM scratch\nCOPY a /\n", &o, &e), ERR_TOO_BIG);
	CHECK_RC(containerfile_parse(&cf, "FROM x\0y", 8, NULL, &e), ERR_INVALID);
	CHECK(strstr(e.msg, "NUL") != NULL);
	/* deep nesting is refused, not a stack overflow */
	{
		char text[4096];
		size_t n = 0;
		int i;

		n += (size_t)snprintf(text + n, sizeof(text) - n, "FROM x\nLABEL a=");
		for (i = 0; i < 100; i++)
			n += (size_t)snprintf(text + n, sizeof(text) - n, "${U:-");
		for (i = 0; i < 100; i++)
			n += (size_t)snprintf(text + n, sizeof(text) - n, "}");
		CHECK_RC(parse(&cf, text, NULL, &e), ERR_INVALID);
		CHECK(strstr(e.msg, "nested too deep") != NULL);
	}
}

TEST(dockerignore)
{
	static const char text[] =
		"# comment\n"
		"\n"
		"  *.log  \n"
		"/build\n"
		"**/node_modules\n"
		"docs/**/*.md\n"
		"!docs/README.md\n"
		"./tmp/../cache\n"
		"?.o\n"
		"[ab].bin\n"
		"!important.log\n";
	static const struct {
		const char *path;
		int excluded;
	} cases[] = {
		{ "app.log", 1 }, { "sub/app.log", 0 }, { "important.log", 0 },
		{ "build", 1 }, { "build/x/y.c", 1 }, { "./build/x", 1 }, { "/build", 1 },
		{ "src/build", 0 },
		{ "node_modules", 1 }, { "a/b/node_modules/x.js", 1 },
		{ "docs/a.md", 1 }, { "docs/x/y/z.md", 1 }, { "docs/README.md", 0 },
		{ "docs/a.txt", 0 }, { "cache/x", 1 }, { "tmp", 0 },
		{ "a.o", 1 }, { "ab.o", 0 }, { "a.bin", 1 }, { "c.bin", 0 },
		{ "src/main.c", 0 }, { "", 0 },
	};
	struct dockerignore di;
	struct err e = ERR_INIT;
	size_t i;

	dockerignore_init(&di);
	CHECK_RC(dockerignore_parse(&di, text, strlen(text), &e), 0);
	CHECK(di.patterns.n == 9);
	CHECK(di.has_exceptions);
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		if (dockerignore_match(&di, cases[i].path) != cases[i].excluded) {
			fprintf(stderr, "'%s': want %d\n", cases[i].path, cases[i].excluded);
			test_cur_failed = 1;
		}
	dockerignore_release(&di);
	/* exclude everything but one directory, the usual allow-list */
	dockerignore_init(&di);
	CHECK_RC(dockerignore_parse(&di, "*\n!src\n", 7, &e), 0);
	CHECK(dockerignore_match(&di, "src/main.c") == 0);
	CHECK(dockerignore_match(&di, "README") == 1);
	CHECK_RC(dockerignore_parse(&di, "x\n[unclosed\n", 12, &e), ERR_INVALID);
	CHECK(strstr(e.msg, ".dockerignore line 2") != NULL);
	dockerignore_release(&di);
}

int main(void)
{
	RUN(every_instruction);
	RUN(continuations_comments_escape);
	RUN(expansion_forms);
	RUN(arg_scopes_and_build_args);
	RUN(multi_stage_copy_from);
	RUN(refused_instructions);
	RUN(limits);
	RUN(dockerignore);
	return test_done();
}

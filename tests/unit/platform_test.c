#define TEST_MODULE "platform"
#include "core/base/strvec.h"
#include "tests/unit/test.h"

#include "core/base/buf.h"
#include "core/base/err.h"
#include "core/model/platform.h"

#include <sys/utsname.h>

/* Cases adapted from containerd/platforms platforms_test.go and
 * database.go.  hoist requires OS/ARCH (no host defaults), writes the
 * default variants out (arm -> arm/v7, arm64 -> arm64/v8) and uses
 * ":OSVERSION" rather than containerd's "OS(VERSION)". */

#define N(a) (sizeof(a) / sizeof((a)[0]))

static int str_eq(const char *a, const char *b)
{
	return a == b || (a && b && !strcmp(a, b));
}

TEST(parse_and_normalise)
{
	static const struct {
		const char *in;
		const char *os, *arch, *variant, *os_version;
		const char *formatted;
	} cases[] = {
		{ "linux/amd64", "linux", "amd64", NULL, NULL, "linux/amd64" },
		{ "linux/arm64", "linux", "arm64", "v8", NULL, "linux/arm64/v8" },
		{ "linux/arm64/v8", "linux", "arm64", "v8", NULL, "linux/arm64/v8" },
		{ "linux/arm64/8", "linux", "arm64", "v8", NULL, "linux/arm64/v8" },
		{ "linux/arm64/V8", "linux", "arm64", "v8", NULL, "linux/arm64/v8" },
		{ "linux/aarch64/v8.0", "linux", "arm64", "v8", NULL, "linux/arm64/v8" },
		{ "linux/arm64/v9", "linux", "arm64", "v9", NULL, "linux/arm64/v9" },
		{ "linux/Aarch64", "linux", "arm64", "v8", NULL, "linux/arm64/v8" },
		{ "linux/aarch64", "linux", "arm64", "v8", NULL, "linux/arm64/v8" },
		{ "linux/arm", "linux", "arm", "v7", NULL, "linux/arm/v7" },
		{ "linux/arm/7", "linux", "arm", "v7", NULL, "linux/arm/v7" },
		{ "linux/arm/v7", "linux", "arm", "v7", NULL, "linux/arm/v7" },
		{ "linux/arm/v6", "linux", "arm", "v6", NULL, "linux/arm/v6" },
		{ "linux/arm/6", "linux", "arm", "v6", NULL, "linux/arm/v6" },
		{ "linux/arm/5", "linux", "arm", "v5", NULL, "linux/arm/v5" },
		{ "linux/arm/8", "linux", "arm", "v8", NULL, "linux/arm/v8" },
		{ "linux/armhf", "linux", "arm", "v7", NULL, "linux/arm/v7" },
		{ "linux/armel", "linux", "arm", "v6", NULL, "linux/arm/v6" },
		{ "Linux/x86_64", "linux", "amd64", NULL, NULL, "linux/amd64" },
		{ "linux/x86-64", "linux", "amd64", NULL, NULL, "linux/amd64" },
		{ "linux/AMD64", "linux", "amd64", NULL, NULL, "linux/amd64" },
		{ "linux/amd64/v1", "linux", "amd64", NULL, NULL, "linux/amd64" },
		{ "linux/amd64/v3", "linux", "amd64", "v3", NULL, "linux/amd64/v3" },
		{ "linux/i386", "linux", "386", NULL, NULL, "linux/386" },
		{ "linux/i486", "linux", "386", NULL, NULL, "linux/386" },
		{ "linux/i586", "linux", "386", NULL, NULL, "linux/386" },
		{ "linux/i686", "linux", "386", NULL, NULL, "linux/386" },
		{ "linux/386", "linux", "386", NULL, NULL, "linux/386" },
		{ "linux/s390x", "linux", "s390x", NULL, NULL, "linux/s390x" },
		{ "linux/ppc64le", "linux", "ppc64le", NULL, NULL, "linux/ppc64le" },
		{ "linux/riscv64", "linux", "riscv64", NULL, NULL, "linux/riscv64" },
		{ "linux/mips64le", "linux", "mips64le", NULL, NULL, "linux/mips64le" },
		{ "macOS/arm64", "darwin", "arm64", "v8", NULL, "darwin/arm64/v8" },
		{ "macos/amd64", "darwin", "amd64", NULL, NULL, "darwin/amd64" },
		{ "FreeBSD/amd64", "freebsd", "amd64", NULL, NULL, "freebsd/amd64" },
		{ "windows/amd64:10.0.17763.1234", "windows", "amd64", NULL, "10.0.17763.1234",
		  "windows/amd64:10.0.17763.1234" },
		{ "windows/arm64/v8:10.0.26100.1", "windows", "arm64", "v8", "10.0.26100.1",
		  "windows/arm64/v8:10.0.26100.1" },
		{ "wasip1/wasm", "wasip1", "wasm", NULL, NULL, "wasip1/wasm" },
		{ "linux/some_arch-2", "linux", "some_arch-2", NULL, NULL, "linux/some_arch-2" },
	};
	struct platform p, r;
	struct err e = ERR_INIT;
	struct buf b = BUF_INIT;
	size_t i;

	for (i = 0; i < N(cases); i++) {
		if (platform_parse(&p, cases[i].in, &e) < 0) {
			fprintf(stderr, "  %s: rejected: %s\n", cases[i].in, e.msg);
			test_cur_failed = 1;
			continue;
		}
		if (!str_eq(p.os, cases[i].os) || !str_eq(p.arch, cases[i].arch) ||
		    !str_eq(p.variant, cases[i].variant) ||
		    !str_eq(p.os_version, cases[i].os_version)) {
			fprintf(stderr, "  %s: got %s/%s/%s:%s\n", cases[i].in, p.os, p.arch,
				p.variant ? p.variant : "(null)",
				p.os_version ? p.os_version : "(null)");
			test_cur_failed = 1;
		}
		buf_reset(&b);
		CHECK_RC(platform_format(&b, &p), 0);
		CHECK_STR(b.data, cases[i].formatted);
		/* formatting is stable: the formatted form parses to itself */
		CHECK_RC(platform_parse(&r, b.data, &e), 0);
		buf_reset(&b);
		CHECK_RC(platform_format(&b, &r), 0);
		CHECK_STR(b.data, cases[i].formatted);
		CHECK(platform_match(&p, &r) && platform_match(&r, &p));
		platform_release(&r);
		platform_release(&p);
	}
	buf_release(&b);
}

TEST(parse_errors)
{
	static const struct {
		const char *in;
		const char *msg;	/* a substring of the message */
	} cases[] = {
		{ "", "the platform is empty" },
		{ "linux", "invalid platform 'linux': no architecture" },
		{ "amd64", "no architecture" },
		{ "linux:10.0", "no architecture" },
		{ "linux/", "the architecture is empty" },
		{ "/amd64", "the OS is empty" },
		{ "/", "the OS is empty" },
		{ "/linux/arm", "the OS is empty" },
		{ "linux/arm/", "the variant is empty" },
		{ "linux//v7", "the architecture is empty" },
		{ "linux/arm/foo/bar", "too many '/'" },
		{ "linux/arm/v7/", "too many '/'" },
		{ "linux /arm", "OS 'linux ' may contain only" },
		{ "linux/&arm", "architecture '&arm' may contain only" },
		{ "linux/arm/v7!", "variant 'v7!' may contain only" },
		{ "lin.ux/amd64", "OS 'lin.ux'" },
		{ "linux/amd.64", "architecture 'amd.64'" },
		{ "linux/amd64:", "the OS version is empty" },
		{ "linux/amd64:10 0", "OS version '10 0'" },
		{ "linux/amd64:1:2", "OS version '1:2'" },
		{ "linux/amd64:1/2", "OS version '1/2'" },
		{ ":10.0", "the OS is empty" },
	};
	struct platform p;
	struct err e = ERR_INIT;
	size_t i;

	for (i = 0; i < N(cases); i++) {
		err_clear(&e);
		p.os = (char *)"junk";
		if (platform_parse(&p, cases[i].in, &e) != ERR_INVALID) {
			fprintf(stderr, "  accepted: '%s'\n", cases[i].in);
			test_cur_failed = 1;
			platform_release(&p);
			continue;
		}
		CHECK(p.os == NULL && p.arch == NULL && p.variant == NULL &&
		      p.os_version == NULL);
		CHECK(e.code == ERR_INVALID);
		if (!strstr(e.msg, cases[i].msg)) {
			fprintf(stderr, "  '%s': message '%s' lacks '%s'\n", cases[i].in, e.msg,
				cases[i].msg);
			test_cur_failed = 1;
		}
	}
	CHECK_RC(platform_parse(&p, NULL, &e), ERR_INVALID);
	CHECK_RC(platform_parse(&p, "linux", NULL), ERR_INVALID);

	/* control characters are replaced in messages */
	CHECK_RC(platform_parse(&p, "lin\x1b[2Jux/amd64", &e), ERR_INVALID);
	CHECK(strchr(e.msg, '\x1b') == NULL);
	CHECK(strstr(e.msg, "lin?[2Jux") != NULL);
}

#define PLAT(os, arch, variant, osv) \
	{ (char *)(os), (char *)(arch), (char *)(variant), (char *)(osv), STRVEC_INIT }

TEST(match)
{
	static const struct {
		const char *want;
		struct platform have;
		int match;
	} cases[] = {
		/* containerd TestParseSelector "matches" */
		{ "linux/arm64", PLAT("linux", "aarch64", NULL, NULL), 1 },
		{ "linux/arm64", PLAT("linux", "aarch64", "v8", NULL), 1 },
		{ "linux/arm64", PLAT("linux", "arm64", "v8", NULL), 1 },
		{ "linux/arm64", PLAT("linux", "arm64", NULL, NULL), 1 },
		{ "linux/arm64/v8", PLAT("linux", "aarch64", NULL, NULL), 1 },
		{ "linux/arm64/v8", PLAT("linux", "aarch64", "v8", NULL), 1 },
		{ "linux/arm64/v8", PLAT("linux", "arm64", NULL, NULL), 1 },
		{ "linux/arm64/v8", PLAT("linux", "arm64", "8", NULL), 1 },
		{ "linux/arm", PLAT("linux", "arm", "v7", NULL), 1 },
		{ "linux/arm", PLAT("linux", "armhf", NULL, NULL), 1 },
		{ "linux/arm", PLAT("linux", "arm", "7", NULL), 1 },
		{ "linux/arm/v6", PLAT("linux", "armel", NULL, NULL), 1 },
		{ "linux/arm/v6", PLAT("linux", "arm", "v6", NULL), 1 },
		{ "linux/arm/v7", PLAT("linux", "arm", NULL, NULL), 1 },
		{ "linux/arm/v7", PLAT("linux", "armhf", NULL, NULL), 1 },
		{ "linux/amd64", PLAT("linux", "x86_64", NULL, NULL), 1 },
		{ "linux/amd64", PLAT("Linux", "AMD64", NULL, NULL), 1 },
		{ "linux/386", PLAT("linux", "i686", NULL, NULL), 1 },
		{ "darwin/arm64", PLAT("macos", "arm64", NULL, NULL), 1 },
		/* want names no variant: any variant of the arch */
		{ "linux/amd64", PLAT("linux", "amd64", "v3", NULL), 1 },
		/* no fallback to older variants, no cross-arch */
		{ "linux/arm/v7", PLAT("linux", "arm", "v6", NULL), 0 },
		{ "linux/arm", PLAT("linux", "arm", "v6", NULL), 0 },
		{ "linux/arm/v6", PLAT("linux", "arm", NULL, NULL), 0 },
		{ "linux/arm64", PLAT("linux", "arm64", "v9", NULL), 0 },
		{ "linux/arm64/v9", PLAT("linux", "arm64", NULL, NULL), 0 },
		{ "linux/arm64", PLAT("linux", "arm", "v8", NULL), 0 },
		{ "linux/amd64/v3", PLAT("linux", "amd64", NULL, NULL), 0 },
		{ "linux/amd64", PLAT("linux", "386", NULL, NULL), 0 },
		{ "linux/amd64", PLAT("linux", "arm64", NULL, NULL), 0 },
		{ "linux/amd64", PLAT("windows", "amd64", NULL, NULL), 0 },
		{ "linux/amd64", PLAT("linux", NULL, NULL, NULL), 0 },
		{ "linux/amd64", PLAT(NULL, "amd64", NULL, NULL), 0 },
		/* os_version only when want has one */
		{ "windows/amd64", PLAT("windows", "amd64", NULL, "10.0.17763.1234"), 1 },
		{ "windows/amd64:10.0.17763.1234",
		  PLAT("windows", "amd64", NULL, "10.0.17763.1234"), 1 },
		{ "windows/amd64:10.0.17763.1234",
		  PLAT("windows", "amd64", NULL, "10.0.20348.1"), 0 },
		{ "windows/amd64:10.0.17763.1234", PLAT("windows", "amd64", NULL, NULL), 0 },
	};
	struct platform w;
	struct err e = ERR_INIT;
	size_t i;

	for (i = 0; i < N(cases); i++) {
		if (platform_parse(&w, cases[i].want, &e) < 0) {
			fprintf(stderr, "  %s: rejected: %s\n", cases[i].want, e.msg);
			test_cur_failed = 1;
			continue;
		}
		if (!platform_match(&w, &cases[i].have) != !cases[i].match) {
			fprintf(stderr, "  want %s, have %s/%s/%s:%s: expected %s\n",
				cases[i].want, cases[i].have.os ? cases[i].have.os : "(null)",
				cases[i].have.arch ? cases[i].have.arch : "(null)",
				cases[i].have.variant ? cases[i].have.variant : "",
				cases[i].have.os_version ? cases[i].have.os_version : "",
				cases[i].match ? "a match" : "no match");
			test_cur_failed = 1;
		}
		platform_release(&w);
	}
}

TEST(normalise_in_place)
{
	struct platform p = PLATFORM_INIT;
	struct buf b = BUF_INIT;

	/* as read from a manifest */
	p.os = strdup("Linux");
	p.arch = strdup("AArch64");
	CHECK_RC(platform_normalize(&p), 0);
	CHECK_STR(p.os, "linux");
	CHECK_STR(p.arch, "arm64");
	CHECK_STR(p.variant, "v8");
	CHECK_RC(platform_normalize(&p), 0);	/* idempotent */
	CHECK_RC(platform_format(&b, &p), 0);
	CHECK_STR(b.data, "linux/arm64/v8");
	platform_release(&p);

	p.os = strdup("linux");
	p.arch = strdup("amd64");
	p.variant = strdup("v1");
	CHECK_RC(platform_normalize(&p), 0);
	CHECK(p.variant == NULL);
	platform_release(&p);

	p.os = strdup("linux");
	p.arch = strdup("arm");
	p.variant = strdup("");
	CHECK_RC(platform_normalize(&p), 0);
	CHECK_STR(p.variant, "v7");
	platform_release(&p);

	p.os = strdup("linux");
	p.arch = strdup("ppc64le");
	p.variant = strdup("");
	CHECK_RC(platform_normalize(&p), 0);
	CHECK(p.variant == NULL);
	platform_release(&p);

	/* missing fields are left alone */
	CHECK_RC(platform_normalize(&p), 0);
	CHECK(p.os == NULL && p.arch == NULL && p.variant == NULL);
	p.os = strdup("MacOS");
	CHECK_RC(platform_normalize(&p), 0);
	CHECK_STR(p.os, "darwin");
	CHECK(p.arch == NULL);
	platform_release(&p);
	platform_release(&p);	/* twice is fine */
	platform_release(NULL);
	buf_release(&b);
}

TEST(format)
{
	struct platform p = PLAT("linux", "arm", "v7", NULL);
	struct platform q = PLAT("windows", "amd64", "", "10.0.1");
	struct platform bad = PLAT(NULL, "amd64", NULL, NULL);
	struct buf b = BUF_INIT;

	CHECK_RC(platform_format(&b, &p), 0);
	CHECK_STR(b.data, "linux/arm/v7");
	CHECK_RC(buf_addch(&b, ' '), 0);
	CHECK_RC(platform_format(&b, &q), 0);	/* appends; "" variant is omitted */
	CHECK_STR(b.data, "linux/arm/v7 windows/amd64:10.0.1");
	CHECK_RC(platform_format(&b, &bad), ERR_INVALID);
	buf_release(&b);
}

TEST(copy)
{
	struct platform p, c;
	struct buf b = BUF_INIT;

	CHECK_RC(platform_parse(&p, "windows/amd64:10.0.17763.1234", NULL), 0);
	CHECK_RC(strvec_push(&p.os_features, "win32k"), 0);
	CHECK_RC(platform_copy(&c, &p), 0);
	platform_release(&p);
	CHECK_STR(c.os, "windows");
	CHECK_STR(c.arch, "amd64");
	CHECK(c.variant == NULL);
	CHECK_STR(c.os_version, "10.0.17763.1234");
	CHECK(c.os_features.n == 1);
	CHECK_STR(c.os_features.v[0], "win32k");
	CHECK_RC(platform_format(&b, &c), 0);
	CHECK_STR(b.data, "windows/amd64:10.0.17763.1234");
	platform_release(&c);
	CHECK(c.os == NULL && c.os_features.n == 0);
	buf_release(&b);
}

TEST(host)
{
	struct platform h, p;
	struct utsname u;
	struct buf b = BUF_INIT;

	CHECK_RC(platform_host(&h), 0);
	CHECK(h.os && h.arch && *h.os && *h.arch);
	CHECK_RC(uname(&u), 0);
	if (!strcmp(u.sysname, "Linux"))
		CHECK_STR(h.os, "linux");
	if (!strcmp(u.machine, "x86_64")) {
		CHECK_STR(h.arch, "amd64");
		CHECK(h.variant == NULL);
	}
	if (!strcmp(u.machine, "aarch64")) {
		CHECK_STR(h.arch, "arm64");
		CHECK_STR(h.variant, "v8");
	}
	/* the formatted host platform parses back and matches itself */
	CHECK_RC(platform_format(&b, &h), 0);
	CHECK_RC(platform_parse(&p, b.data, NULL), 0);
	CHECK(platform_match(&p, &h));
	CHECK(platform_match(&h, &p));
	platform_release(&p);
	platform_release(&h);
	buf_release(&b);
}

int main(void)
{
	RUN(parse_and_normalise);
	RUN(parse_errors);
	RUN(match);
	RUN(normalise_in_place);
	RUN(format);
	RUN(copy);
	RUN(host);
	return test_done();
}

#define TEST_MODULE "ref"
#include "tests/unit/test.h"

#include "core/base/buf.h"
#include "core/base/err.h"
#include "core/model/ref.h"

#include <stdlib.h>

/* Most cases are ported from distribution/reference (reference_test.go,
 * normalize_test.go, regexp_test.go).  hoist always normalises, as
 * ParseNormalizedNamed + TagNameOnly do, so expectations are the normalised
 * forms: no registry -> docker.io, one component on docker.io -> library/,
 * no tag and no digest -> "latest".  Where hoist is deliberately stricter
 * than distribution's regular expressions (port range, IPv6 syntax, name
 * length counted after normalisation), the case says so. */

#define F64 "ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff"
#define SHA_F "sha256:" F64
#define SHA512_F "sha512:" F64 F64
#define SHA_BE "sha256:be178c0543eb17f5f3043021c9e5fcf30285e557a4fc309cce97ff9ca6182912"
#define SHA_DBCC "sha256:dbcc1c35ac38df41fd2f5e4130b32ffdb93ebae8b3dbe638c23575912276fc9c"
#define SHA_86 "sha256:86e0e091d0da6bde2456dbb48306f3956bbeb2eae1b5b9a43045843f69fe4aaa"
#define SHA_1234 "sha256:1234567890098765432112345667890098765432112345667890098765432112"
#define HEX64 "1a3f5e7d9c1b3a5f7e9d1c3b5a7f9e1d3c5b7a9f1e3d5d7c9b1a3f5e7d9c1b3a"
#define HUB "docker.io"

#define N(a) (sizeof(a) / sizeof((a)[0]))

struct valid_case {
	const char *in;
	const char *registry;
	const char *repository;
	const char *tag;	/* NULL: no tag */
	const char *digest;	/* NULL: no digest */
};

static const struct valid_case valid_cases[] = {
	/* reference_test.go TestReferenceParse */
	{ "test_com", HUB, "library/test_com", "latest", NULL },
	{ "test.com:tag", HUB, "library/test.com", "tag", NULL },
	{ "test.com:5000", HUB, "library/test.com", "5000", NULL },
	{ "test.com/repo:tag", "test.com", "repo", "tag", NULL },
	{ "test:5000/repo", "test:5000", "repo", "latest", NULL },
	{ "test:5000/repo:tag", "test:5000", "repo", "tag", NULL },
	{ "test:5000/repo@" SHA_F, "test:5000", "repo", NULL, SHA_F },
	{ "test:5000/repo:tag@" SHA_F, "test:5000", "repo", "tag", SHA_F },
	{ "lowercase:Uppercase", HUB, "library/lowercase", "Uppercase", NULL },
	{ "sub-dom1.foo.com/bar/baz/quux", "sub-dom1.foo.com", "bar/baz/quux", "latest", NULL },
	{ "sub-dom1.foo.com/bar/baz/quux:some-long-tag", "sub-dom1.foo.com", "bar/baz/quux",
	  "some-long-tag", NULL },
	{ "b.gcr.io/test.example.com/my-app:test.example.com", "b.gcr.io",
	  "test.example.com/my-app", "test.example.com", NULL },
	{ "xn--n3h.com/myimage:xn--n3h.com", "xn--n3h.com", "myimage", "xn--n3h.com", NULL },
	{ "xn--7o8h.com/myimage:xn--7o8h.com@" SHA512_F, "xn--7o8h.com", "myimage",
	  "xn--7o8h.com", SHA512_F },
	{ "foo_bar.com:8080", HUB, "library/foo_bar.com", "8080", NULL },
	{ "foo/foo_bar.com:8080", HUB, "foo/foo_bar.com", "8080", NULL },
	{ "192.168.1.1", HUB, "library/192.168.1.1", "latest", NULL },
	{ "192.168.1.1:tag", HUB, "library/192.168.1.1", "tag", NULL },
	{ "192.168.1.1:5000", HUB, "library/192.168.1.1", "5000", NULL },
	{ "192.168.1.1/repo", "192.168.1.1", "repo", "latest", NULL },
	{ "192.168.1.1:5000/repo", "192.168.1.1:5000", "repo", "latest", NULL },
	{ "192.168.1.1:5000/repo:5050", "192.168.1.1:5000", "repo", "5050", NULL },
	{ "[2001:db8::1]/repo", "[2001:db8::1]", "repo", "latest", NULL },
	{ "[2001:db8:1:2:3:4:5:6]/repo:tag", "[2001:db8:1:2:3:4:5:6]", "repo", "tag", NULL },
	{ "[2001:db8::1]:5000/repo", "[2001:db8::1]:5000", "repo", "latest", NULL },
	{ "[2001:db8::1]:5000/repo:tag", "[2001:db8::1]:5000", "repo", "tag", NULL },
	{ "[2001:db8::1]:5000/repo@" SHA_F, "[2001:db8::1]:5000", "repo", NULL, SHA_F },
	{ "[2001:db8::1]:5000/repo:tag@" SHA_F, "[2001:db8::1]:5000", "repo", "tag", SHA_F },
	{ "[2001:db8::]:5000/repo", "[2001:db8::]:5000", "repo", "latest", NULL },
	{ "[::1]:5000/repo", "[::1]:5000", "repo", "latest", NULL },

	/* reference_test.go TestSerialization, TestWithTag */
	{ "example.com:8000/named", "example.com:8000", "named", "latest", NULL },
	{ "example.com:8000/named:tagged", "example.com:8000", "named", "tagged", NULL },
	{ "other.com/named@" SHA_1234, "other.com", "named", NULL, SHA_1234 },
	{ "test.com/foo:tag", "test.com", "foo", "tag", NULL },
	{ "foo:tag2", HUB, "library/foo", "tag2", NULL },
	{ "test.com:8000/foo:tag4", "test.com:8000", "foo", "tag4", NULL },
	{ "test.com:8000/foo:TAG5", "test.com:8000", "foo", "TAG5", NULL },

	/* regexp_test.go TestReferenceRegexp */
	{ "registry.com:8080/myapp:tag", "registry.com:8080", "myapp", "tag", NULL },
	{ "registry.com:8080/myapp@" SHA_BE, "registry.com:8080", "myapp", NULL, SHA_BE },
	{ "registry.com:8080/myapp:tag2@" SHA_BE, "registry.com:8080", "myapp", "tag2", SHA_BE },
	/* "localhost" alone is a name and 8080 a tag */
	{ "localhost:8080@" SHA_BE, HUB, "library/localhost", "8080", SHA_BE },
	{ "localhost:8080/name@" SHA_BE, "localhost:8080", "name", NULL, SHA_BE },
	{ "localhost@" SHA_BE, HUB, "library/localhost", NULL, SHA_BE },

	/* regexp_test.go TestFullNameRegexp (names that match) */
	{ "short", HUB, "library/short", "latest", NULL },
	{ "simple/name", HUB, "simple/name", "latest", NULL },
	{ "library/ubuntu", HUB, "library/ubuntu", "latest", NULL },
	{ "docker/stevvooe/app", HUB, "docker/stevvooe/app", "latest", NULL },
	{ "aa/aa/aa/aa/aa/aa/aa/aa/aa/bb/bb/bb/bb/bb/bb", HUB,
	  "aa/aa/aa/aa/aa/aa/aa/aa/aa/bb/bb/bb/bb/bb/bb", "latest", NULL },
	{ "aa/aa/bb/bb/bb", HUB, "aa/aa/bb/bb/bb", "latest", NULL },
	{ "a/a/a/a", HUB, "a/a/a/a", "latest", NULL },
	{ "a", HUB, "library/a", "latest", NULL },
	{ "a/aa", HUB, "a/aa", "latest", NULL },
	{ "a/aa/a", HUB, "a/aa/a", "latest", NULL },
	{ "foo.com", HUB, "library/foo.com", "latest", NULL },
	{ "foo.com:8080/bar", "foo.com:8080", "bar", "latest", NULL },
	{ "foo.com/bar", "foo.com", "bar", "latest", NULL },
	{ "foo.com/bar/baz", "foo.com", "bar/baz", "latest", NULL },
	{ "localhost:8080/bar", "localhost:8080", "bar", "latest", NULL },
	{ "blog.foo.com/bar/baz", "blog.foo.com", "bar/baz", "latest", NULL },
	{ "aa-a/a", HUB, "aa-a/a", "latest", NULL },
	{ "foo_bar", HUB, "library/foo_bar", "latest", NULL },
	{ "foo_bar.com", HUB, "library/foo_bar.com", "latest", NULL },
	{ "foo.com/foo_bar", "foo.com", "foo_bar", "latest", NULL },
	{ "xn--n3h.com/myimage", "xn--n3h.com", "myimage", "latest", NULL },
	{ "xn--7o8h.com/myimage", "xn--7o8h.com", "myimage", "latest", NULL },
	{ "example.com/xn--7o8h.com/myimage", "example.com", "xn--7o8h.com/myimage", "latest",
	  NULL },
	{ "example.com/some_separator__underscore/myimage", "example.com",
	  "some_separator__underscore/myimage", "latest", NULL },
	{ "do__cker/docker", HUB, "do__cker/docker", "latest", NULL },
	{ "registry.io/foo/project--id.module--name.ver---sion--name", "registry.io",
	  "foo/project--id.module--name.ver---sion--name", "latest", NULL },
	{ "Asdf.com/foo/bar", "Asdf.com", "foo/bar", "latest", NULL },

	/* regexp_test.go TestDomainRegexp, as "DOMAIN/repo" (ports kept in
	 * range: hoist refuses ports above 65535) */
	{ "test.com/repo", "test.com", "repo", "latest", NULL },
	{ "test.com:10304/repo", "test.com:10304", "repo", "latest", NULL },
	{ "localhost/repo", "localhost", "repo", "latest", NULL },
	{ "a/repo", HUB, "a/repo", "latest", NULL },	/* "a" is no domain here */
	{ "a.b/repo", "a.b", "repo", "latest", NULL },
	{ "ab.cd.com/repo", "ab.cd.com", "repo", "latest", NULL },
	{ "a-b.com/repo", "a-b.com", "repo", "latest", NULL },
	{ "ab.c-om/repo", "ab.c-om", "repo", "latest", NULL },
	{ "0101.com/repo", "0101.com", "repo", "latest", NULL },
	{ "001a.com/repo", "001a.com", "repo", "latest", NULL },
	{ "b.gbc.io:443/repo", "b.gbc.io:443", "repo", "latest", NULL },
	{ "192.168.1.1:65535/repo", "192.168.1.1:65535", "repo", "latest", NULL },
	{ "[fd00:1:2::3]:7505/repo", "[fd00:1:2::3]:7505", "repo", "latest", NULL },
	{ "[2001:0db8:85a3:0000:0000:8a2e:0370:7334]:7505/repo",
	  "[2001:0db8:85a3:0000:0000:8a2e:0370:7334]:7505", "repo", "latest", NULL },

	/* normalize_test.go TestNormalizedSplitHostname */
	{ "test.com/foo", "test.com", "foo", "latest", NULL },
	{ "test_com/foo", HUB, "test_com/foo", "latest", NULL },
	{ "docker/migrator", HUB, "docker/migrator", "latest", NULL },
	{ "test.com:8080/foo", "test.com:8080", "foo", "latest", NULL },
	{ "test-com:8080/foo", "test-com:8080", "foo", "latest", NULL },
	{ "foo", HUB, "library/foo", "latest", NULL },
	{ "xn--n3h.com/foo", "xn--n3h.com", "foo", "latest", NULL },
	{ "xn--n3h.com:18080/foo", "xn--n3h.com:18080", "foo", "latest", NULL },
	{ "docker.io/foo", HUB, "library/foo", "latest", NULL },
	{ "docker.io/library/foo", HUB, "library/foo", "latest", NULL },
	{ "docker.io/library/foo/bar", HUB, "library/foo/bar", "latest", NULL },

	/* normalize_test.go TestValidateReferenceName, TestValidateRemoteName */
	{ "docker/docker", HUB, "docker/docker", "latest", NULL },
	{ "library/debian", HUB, "library/debian", "latest", NULL },
	{ "debian", HUB, "library/debian", "latest", NULL },
	{ "docker.io/docker/docker", HUB, "docker/docker", "latest", NULL },
	{ "docker.io/library/debian", HUB, "library/debian", "latest", NULL },
	{ "docker.io/debian", HUB, "library/debian", "latest", NULL },
	{ "index.docker.io/docker/docker", HUB, "docker/docker", "latest", NULL },
	{ "index.docker.io/library/debian", HUB, "library/debian", "latest", NULL },
	{ "index.docker.io/debian", HUB, "library/debian", "latest", NULL },
	{ "127.0.0.1:5000/docker/docker", "127.0.0.1:5000", "docker/docker", "latest", NULL },
	{ "127.0.0.1:5000/library/debian", "127.0.0.1:5000", "library/debian", "latest", NULL },
	{ "127.0.0.1:5000/debian", "127.0.0.1:5000", "debian", "latest", NULL },
	{ "192.168.0.1", HUB, "library/192.168.0.1", "latest", NULL },
	{ "192.168.0.1:80", HUB, "library/192.168.0.1", "80", NULL },
	{ "192.168.0.1:8/debian", "192.168.0.1:8", "debian", "latest", NULL },
	{ "192.168.0.2:25000/debian", "192.168.0.2:25000", "debian", "latest", NULL },
	{ "thisisthesongthatneverendsitgoesonandonandonthisisthesongthatnev", HUB,
	  "library/thisisthesongthatneverendsitgoesonandonandonthisisthesongthatnev", "latest",
	  NULL },
	{ "[fc00::1]:5000/docker", "[fc00::1]:5000", "docker", "latest", NULL },
	{ "[fc00::1]:5000/docker/docker", "[fc00::1]:5000", "docker/docker", "latest", NULL },
	{ "[fc00:1:2:3:4:5:6:7]:5000/library/debian", "[fc00:1:2:3:4:5:6:7]:5000",
	  "library/debian", "latest", NULL },
	{ "docker.io/" HEX64, HUB, "library/" HEX64, "latest", NULL },
	/* an upper-case first component is taken for a registry */
	{ "Docker/docker", "Docker", "docker", "latest", NULL },
	{ "DOCKER/docker", "DOCKER", "docker", "latest", NULL },
	{ "docker-rules/docker", HUB, "docker-rules/docker", "latest", NULL },
	{ "docker---rules/docker", HUB, "docker---rules/docker", "latest", NULL },
	{ "doc/docker", HUB, "doc/docker", "latest", NULL },
	{ "d/docker", HUB, "d/docker", "latest", NULL },
	{ "jess/t", HUB, "jess/t", "latest", NULL },
	{ "dock__er/docker", HUB, "dock__er/docker", "latest", NULL },

	/* normalize_test.go TestParseReferenceWithTagAndDigest, TestParseAnyReference */
	{ "busybox:latest@" SHA_86, HUB, "library/busybox", "latest", SHA_86 },
	{ "redis", HUB, "library/redis", "latest", NULL },
	{ "redis:latest", HUB, "library/redis", "latest", NULL },
	{ "docker.io/library/redis:latest", HUB, "library/redis", "latest", NULL },
	{ "redis@" SHA_DBCC, HUB, "library/redis", NULL, SHA_DBCC },
	{ "docker.io/library/redis@" SHA_DBCC, HUB, "library/redis", NULL, SHA_DBCC },
	{ "dmcgowan/myapp", HUB, "dmcgowan/myapp", "latest", NULL },
	{ "dmcgowan/myapp:latest", HUB, "dmcgowan/myapp", "latest", NULL },
	{ "docker.io/mcgowan/myapp:latest", HUB, "mcgowan/myapp", "latest", NULL },
	{ "dmcgowan/myapp@" SHA_DBCC, HUB, "dmcgowan/myapp", NULL, SHA_DBCC },
	{ "docker.io/dmcgowan/myapp@" SHA_DBCC, HUB, "dmcgowan/myapp", NULL, SHA_DBCC },
	{ "dbcc1c35ac38df41fd2f5e4130b32ffdb93ebae8b3dbe638c23575912276fc9", HUB,
	  "library/dbcc1c35ac38df41fd2f5e4130b32ffdb93ebae8b3dbe638c23575912276fc9", "latest",
	  NULL },
	{ "dbcc1", HUB, "library/dbcc1", "latest", NULL },

	/* the examples in ref.h, and a few more */
	{ "golang", HUB, "library/golang", "latest", NULL },
	{ "golang:1.20", HUB, "library/golang", "1.20", NULL },
	{ "index.docker.io/x", HUB, "library/x", "latest", NULL },
	{ "localhost:5000/a/b:c_d.e-f", "localhost:5000", "a/b", "c_d.e-f", NULL },
	{ "ghcr.io/o/r:_x", "ghcr.io", "o/r", "_x", NULL },
	{ "x/a.b-c_d__e", HUB, "x/a.b-c_d__e", "latest", NULL },
};

static const char *const invalid_cases[] = {
	/* reference_test.go TestReferenceParse, TestWithNameFailure */
	"",
	":justtag",
	"@" SHA_F,
	"repo@sha256:ffffffffffffffffffffffffffffffffff",
	"validname@invaliddigest:" F64,
	"Uppercase:tag",
	"test:5000/Uppercase/lowercase:tag",
	"aa/asdf$$^/aa",
	"[2001:db8::1]",
	"[2001:db8::1]:5000",
	"[2001:db8::1]:tag",
	"[fe80::1%eth0]:5000/repo",
	"[fe80::1%@invalidzone]:5000/repo",
	/* normalised, this name is docker.io/a/.../a: 265 characters */
	"a/a/a/a/a/a/a/a/a/a/a/a/a/a/a/a/a/a/a/a/a/a/a/a/a/a/a/a/a/a/a/a/a/a/a/a/a/a/a/a/a/a/"
	"a/a/a/a/a/a/a/a/a/a/a/a/a/a/a/a/a/a/a/a/a/a/a/a/a/a/a/a/a/a/a/a/a/a/a/a/a/a/a/a/a/a/"
	"a/a/a/a/a/a/a/a/a/a/a/a/a/a/a/a/a/a/a/a/a/a/a/a/a/a/a/a/a/a/a/a/a/a/a/a/a/a/a/a/a/a/"
	"a/a/a/a/a:tag-puts-this-over-max",
	/* normalize_test.go TestValidateReferenceName */
	"https://github.com/docker/docker",
	"docker/Docker",
	"-docker",
	"-docker/docker",
	"-docker.io/docker/docker",
	"docker///docker",
	"docker.io/docker/Docker",
	"docker.io/docker///docker",
	"[fc00::1]",
	"[fc00::1]:5000",
	"fc00::1:5000/debian",
	"[fe80::1%eth0]:5000/debian",
	"[2001:db8:3:4::192.0.2.33]:5000/debian",
	HEX64,
	/* normalize_test.go TestValidateRemoteName */
	"docker-/docker",
	"-docker-/docker",
	"____/____",
	"_docker/_docker",
	"dock..er/docker",
	"dock_.er/docker",
	"dock-.er/docker",
	"docker/",
	"this_is_not_a_valid_namespace_because_its_lenth_is_greater_than_255_this_is_not_a_"
	"valid_namespace_because_its_lenth_is_greater_than_255_this_is_not_a_valid_namespace_"
	"because_its_lenth_is_greater_than_255_this_is_not_a_valid_namespace_because_its_lenth_"
	"is_greater_than_255/docker",
	/* normalize_test.go TestInvalidReferenceComponents */
	"-foo",
	"busybox:-foo",
	"busybox@foo",
	/* regexp_test.go TestFullNameRegexp (names that do not match) */
	"a/a/a/a/",
	"a//a/a",
	"foo.com/",
	"foo.com:http/bar",
	"a^a",
	"asdf$$^/aa",
	"a-/a/a/a",
	"foo.com/a-/a/a",
	"-foo/bar",
	"foo/bar-",
	"foo-/bar",
	"foo/-bar",
	"_foo/bar",
	"foo_bar.com:8080/app",
	"foo_bar.com/app",	/* distribution takes it for a path; hoist for a bad registry */
	"docker_/docker_",
	"example.com/__underscore/myimage",
	"example.com/..dots/myimage",
	"example.com/.dots/myimage",
	"example.com/nodouble..dots/myimage",
	"docker./docker",
	".docker/docker",
	"do..cker/docker",
	"do__cker:8080/docker",
	"Foo/FarB",
	"a/a/a/a/a/a/a/a/a/a/a/a/a/a/a/a/a/a/a/a/a/a/a/a/a/a/a/a/a/a/a/a/a/a/a/a/a/a/a/a/a/a/"
	"a/a/a/a/a/a/a/a/a/a/a/a/a/a/a/a/a/a/a/a/a/a/a/a/a/a/a/a/a/a/a/a/a/a/a/a/a/a/a/a/a/a/"
	"a/a/a/a/a/a/a/a/a/a/a/a/a/a/a/a/a/a/a/a/a/a/a/a/a/a/a/a/a/a/a/a/a/a/a/a/a/a/a/a/a/a/"
	"a/a/a/a/a/a",
	/* regexp_test.go TestReferenceRegexp */
	"registry.com:8080/myapp@sha256:badbadbadbad",
	"registry.com:8080/myapp:invalid~tag",
	"bad_hostname.com:8080/myapp:tag",
	"localhost:http/name@" SHA_BE,
	"registry.com:8080/myapp@bad",
	"registry.com:8080/myapp@2bad",
	/* regexp_test.go TestDomainRegexp, as "DOMAIN/repo" */
	"test.com:http/repo",
	"-ab.com/repo",
	"ab-.com/repo",
	"ab.-com/repo",
	"ab.com-/repo",
	"192.168.1.1:75050/repo",	/* distribution's regexp allows any digits */
	"192.168.1.1:750050/repo",
	"[fd00:1:2::3]75050/repo",
	"[fd00:1:2::3]::75050/repo",
	"[fd00:1:2::3%eth0]:75050/repo",
	"[fd00123123123]:7505/repo",	/* "will fail in validation" there */
	"[2001:0db8:85a3:0000:0000:8a2e:0370:7334]:750505/repo",
	"fd00:1:2::3:75050/repo",
	/* more */
	"foo:",
	"foo@",
	"foo:bar:baz",
	"foo:x@y",
	"localhost:0/foo",
	"localhost:/foo",
	":5000/foo",
	"[::1/foo",
	"[::1]x/foo",
	"foo/bar:.x",
	"foo bar",
	"foo\nbar",
	"foo:" "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",	/* 129-character tag */
	"foo@sha256:" F64 "@" SHA_F,
	"foo@SHA256:" F64,
	"foo@sha256:FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF",
};

static int str_eq(const char *a, const char *b)
{
	return a == b || (a && b && !strcmp(a, b));
}

static void report(const char *what, const char *in, const char *got, const char *want)
{
	fprintf(stderr, "  %s: %s: got '%s', want '%s'\n", in, what, got ? got : "(null)",
		want ? want : "(null)");
	test_cur_failed = 1;
}

TEST(parse_valid)
{
	struct ref r, r2;
	struct err e = ERR_INIT;
	struct buf b = BUF_INIT;
	size_t i;

	for (i = 0; i < N(valid_cases); i++) {
		const struct valid_case *c = &valid_cases[i];
		if (ref_parse(&r, c->in, 0, &e) < 0) {
			fprintf(stderr, "  %s: rejected: %s\n", c->in, e.msg);
			test_cur_failed = 1;
			continue;
		}
		if (!str_eq(r.registry, c->registry))
			report("registry", c->in, r.registry, c->registry);
		if (!str_eq(r.repository, c->repository))
			report("repository", c->in, r.repository, c->repository);
		if (!str_eq(r.tag, c->tag))
			report("tag", c->in, r.tag, c->tag);
		if (!str_eq(r.digest, c->digest))
			report("digest", c->in, r.digest, c->digest);

		/* The formatted form parses back to the same reference. */
		buf_reset(&b);
		CHECK_RC(ref_format(&b, &r), 0);
		if (ref_parse(&r2, b.data, 0, &e) < 0) {
			fprintf(stderr, "  %s: formatted as '%s', which is rejected: %s\n", c->in,
				b.data, e.msg);
			test_cur_failed = 1;
		} else {
			CHECK_STR(r2.registry, r.registry);
			CHECK_STR(r2.repository, r.repository);
			CHECK(str_eq(r2.tag, r.tag));
			CHECK(str_eq(r2.digest, r.digest));
			ref_release(&r2);
		}
		ref_release(&r);
	}
	buf_release(&b);
}

TEST(parse_invalid)
{
	struct ref r;
	struct err e = ERR_INIT;
	size_t i;

	for (i = 0; i < N(invalid_cases); i++) {
		err_clear(&e);
		r.registry = (char *)"junk";
		if (ref_parse(&r, invalid_cases[i], 0, &e) != ERR_INVALID) {
			fprintf(stderr, "  accepted: '%s'\n", invalid_cases[i]);
			test_cur_failed = 1;
			ref_release(&r);
			continue;
		}
		CHECK(e.code == ERR_INVALID);
		CHECK(!strncmp(e.msg, "invalid reference '", 19));
		/* Nothing is allocated on failure: out is left empty. */
		CHECK(r.registry == NULL && r.repository == NULL && r.tag == NULL &&
		      r.digest == NULL);
	}
}

static void check_msg(const char *in, const char *want)
{
	struct ref r;
	struct err e = ERR_INIT;

	if (ref_parse(&r, in, 0, &e) != ERR_INVALID) {
		fprintf(stderr, "  accepted: '%s'\n", in);
		test_cur_failed = 1;
		ref_release(&r);
		return;
	}
	if (!strstr(e.msg, want)) {
		fprintf(stderr, "  '%s': message '%s' lacks '%s'\n", in, e.msg, want);
		test_cur_failed = 1;
	}
}

TEST(error_messages)
{
	check_msg("Foo:bar", "invalid reference 'Foo:bar': repository name must be lowercase");
	check_msg("test:5000/Uppercase/lowercase:tag", "repository name must be lowercase");
	check_msg("foo:x@y", "invalid reference 'foo:x@y': tag 'x@y' is invalid: "
		  "tags may contain only letters, digits, '_', '.' and '-'");
	check_msg("repo@sha256:ffff", "invalid reference 'repo@sha256:ffff': invalid digest "
		  "'sha256:ffff'");
	check_msg("validname@invaliddigest:" F64, "unsupported algorithm");
	check_msg("", "invalid reference '': the name is empty");
	check_msg(":justtag", "repository name is empty");
	check_msg("docker///docker", "empty component");
	check_msg("foo/", "empty component");
	check_msg("foo.com:http/bar", "port 'http'");
	check_msg("localhost:70000/bar", "from 1 to 65535");
	check_msg("[fe80::1%eth0]:5000/repo", "registry '[fe80::1%eth0]' is not a valid IPv6");
	check_msg("[::1]:5000", "must be followed by '/' and a repository path");
	check_msg("[::1/x", "no ']'");
	check_msg("bad_host.com/x", "registry host 'bad_host.com' is not a valid host name");
	check_msg("foo/-bar", "repository path component '-bar' must start and end");
	check_msg("foo/b$r", "component 'b$r' contains '$'");
	check_msg("https://ghcr.io/a/b", "no URL scheme: leave out 'https://'");
	check_msg(HEX64, "image ID");
	check_msg("busybox:-foo", "tag '-foo' is invalid");
	check_msg("busybox:", "the tag after ':' is empty");
}

TEST(messages_are_sanitised_and_bounded)
{
	struct ref r;
	struct err e = ERR_INIT;
	char big[2000];

	CHECK_RC(ref_parse(&r, "foo\x1b[31m/bar\t:x", 0, &e), ERR_INVALID);
	CHECK(strchr(e.msg, '\x1b') == NULL);
	CHECK(strchr(e.msg, '\t') == NULL);
	CHECK(strstr(e.msg, "foo?[31m") != NULL);

	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	big[500] = '$';
	CHECK_RC(ref_parse(&r, big, 0, &e), ERR_INVALID);
	CHECK(strstr(e.msg, "...") != NULL);
	CHECK(strlen(e.msg) < 600);

	big[500] = 'a';
	CHECK_RC(ref_parse(&r, big, 0, &e), ERR_INVALID);
	CHECK(strstr(e.msg, "2017 characters long, the limit is 255") != NULL);

	/* Without a struct err the code is still returned. */
	CHECK_RC(ref_parse(&r, "Foo", 0, NULL), ERR_INVALID);
	CHECK_RC(ref_parse(&r, "foo@sha256:00", 0, NULL), ERR_INVALID);
	CHECK_RC(ref_parse(&r, NULL, 0, NULL), ERR_INVALID);
}

TEST(name_length)
{
	char name[300];
	struct ref r;
	struct err e = ERR_INIT;
	size_t i;

	/* "example.com/" + 243 = 255 characters: the limit */
	memcpy(name, "example.com/", 12);
	for (i = 12; i < 255; i++)
		name[i] = 'a';
	name[255] = '\0';
	CHECK_RC(ref_parse(&r, name, 0, &e), 0);
	CHECK(strlen(r.repository) == 243);
	ref_release(&r);
	name[255] = 'a';
	name[256] = '\0';
	CHECK_RC(ref_parse(&r, name, 0, &e), ERR_INVALID);
	CHECK(strstr(e.msg, "256 characters long") != NULL);

	/* the tag does not count; "library/" does */
	memcpy(name + 255, ":tag", 5);
	CHECK_RC(ref_parse(&r, name, 0, &e), 0);
	ref_release(&r);
	for (i = 0; i < 255 - 18; i++)	/* docker.io/library/ + 237 */
		name[i] = 'b';
	name[i] = '\0';
	CHECK_RC(ref_parse(&r, name, 0, &e), 0);
	CHECK(strlen(r.repository) == 8 + 237);
	ref_release(&r);
	name[i] = 'b';
	name[i + 1] = '\0';
	CHECK_RC(ref_parse(&r, name, 0, &e), ERR_INVALID);

	/* tags: at most 128 characters */
	memcpy(name, "foo:", 4);
	for (i = 4; i < 4 + 128; i++)
		name[i] = 't';
	name[i] = '\0';
	CHECK_RC(ref_parse(&r, name, 0, &e), 0);
	ref_release(&r);
	name[i] = 't';
	name[i + 1] = '\0';
	CHECK_RC(ref_parse(&r, name, 0, &e), ERR_INVALID);
	CHECK(strstr(e.msg, "129 characters long, the limit is 128") != NULL);
}

TEST(flags)
{
	struct ref r;
	struct err e = ERR_INIT;

	CHECK_RC(ref_parse(&r, "busybox", REF_NO_DEFAULT_TAG, &e), 0);
	CHECK(r.tag == NULL);
	CHECK(r.digest == NULL);
	ref_release(&r);
	CHECK_RC(ref_parse(&r, "busybox:1", REF_NO_DEFAULT_TAG, &e), 0);
	CHECK_STR(r.tag, "1");
	ref_release(&r);
	/* a digest alone never gets a default tag */
	CHECK_RC(ref_parse(&r, "busybox@" SHA_F, 0, &e), 0);
	CHECK(r.tag == NULL);
	CHECK_STR(r.digest, SHA_F);
	ref_release(&r);

	CHECK_RC(ref_parse(&r, "localhost:5000/a/b", REF_NAME_ONLY, &e), 0);
	CHECK_STR(r.registry, "localhost:5000");
	CHECK_STR(r.repository, "a/b");
	CHECK(r.tag == NULL);
	ref_release(&r);
	CHECK_RC(ref_parse(&r, "busybox:1", REF_NAME_ONLY, &e), ERR_INVALID);
	CHECK(strstr(e.msg, "takes no tag") != NULL);
	CHECK_RC(ref_parse(&r, "busybox@" SHA_F, REF_NAME_ONLY, &e), ERR_INVALID);
	CHECK(strstr(e.msg, "takes no digest") != NULL);
}

/* normalize_test.go TestParseRepositoryInfo: every spelling gives FullName. */
TEST(repository_info)
{
	static const struct { const char *in, *full; } cases[] = {
		{ "fooo/bar", "docker.io/fooo/bar" },
		{ "docker.io/fooo/bar", "docker.io/fooo/bar" },
		{ "index.docker.io/fooo/bar", "docker.io/fooo/bar" },
		{ "ubuntu", "docker.io/library/ubuntu" },
		{ "docker.io/library/ubuntu", "docker.io/library/ubuntu" },
		{ "library/ubuntu", "docker.io/library/ubuntu" },
		{ "nonlibrary/ubuntu", "docker.io/nonlibrary/ubuntu" },
		{ "docker.io/nonlibrary/ubuntu", "docker.io/nonlibrary/ubuntu" },
		{ "other/library", "docker.io/other/library" },
		{ "docker.io/other/library", "docker.io/other/library" },
		{ "127.0.0.1:8000/private/moonbase", "127.0.0.1:8000/private/moonbase" },
		{ "127.0.0.1:8000/privatebase", "127.0.0.1:8000/privatebase" },
		{ "example.com/private/moonbase", "example.com/private/moonbase" },
		{ "example.com/privatebase", "example.com/privatebase" },
		{ "example.com:8000/private/moonbase", "example.com:8000/private/moonbase" },
		{ "example.com:8000/privatebasee", "example.com:8000/privatebasee" },
		{ "ubuntu-12.04-base", "docker.io/library/ubuntu-12.04-base" },
		{ "docker.io/library/ubuntu-12.04-base", "docker.io/library/ubuntu-12.04-base" },
		{ "index.docker.io/library/ubuntu-12.04-base",
		  "docker.io/library/ubuntu-12.04-base" },
		{ "foo", "docker.io/library/foo" },
		{ "docker.io/library/foo", "docker.io/library/foo" },
		{ "docker.io/foo", "docker.io/library/foo" },
		{ "library/foo/bar", "docker.io/library/foo/bar" },
		{ "docker.io/library/foo/bar", "docker.io/library/foo/bar" },
		{ "store/foo/bar", "docker.io/store/foo/bar" },
		{ "docker.io/store/foo/bar", "docker.io/store/foo/bar" },
		{ "Foo/bar", "Foo/bar" },
		{ "FOO/bar", "FOO/bar" },
	};
	struct ref r;
	struct err e = ERR_INIT;
	struct buf b = BUF_INIT;
	size_t i;

	for (i = 0; i < N(cases); i++) {
		if (ref_parse(&r, cases[i].in, REF_NAME_ONLY, &e) < 0) {
			fprintf(stderr, "  %s: rejected: %s\n", cases[i].in, e.msg);
			test_cur_failed = 1;
			continue;
		}
		buf_reset(&b);
		CHECK_RC(ref_format_name(&b, &r), 0);
		if (strcmp(b.data, cases[i].full))
			report("name", cases[i].in, b.data, cases[i].full);
		ref_release(&r);
	}
	buf_release(&b);
}

TEST(format)
{
	struct ref r;
	struct buf b = BUF_INIT;

	CHECK_RC(ref_parse(&r, "golang:1.20", 0, NULL), 0);
	CHECK_RC(ref_format(&b, &r), 0);
	CHECK_STR(b.data, "docker.io/library/golang:1.20");
	buf_reset(&b);
	CHECK_RC(ref_format_name(&b, &r), 0);
	CHECK_STR(b.data, "docker.io/library/golang");
	ref_release(&r);

	buf_reset(&b);
	CHECK_RC(ref_parse(&r, "busybox:latest@" SHA_86, 0, NULL), 0);
	CHECK_RC(ref_format(&b, &r), 0);
	CHECK_STR(b.data, "docker.io/library/busybox:latest@" SHA_86);
	ref_release(&r);

	buf_reset(&b);
	CHECK_RC(ref_parse(&r, "[::1]:5000/a@" SHA_F, 0, NULL), 0);
	CHECK_RC(ref_format(&b, &r), 0);
	CHECK_STR(b.data, "[::1]:5000/a@" SHA_F);
	ref_release(&r);

	/* appends */
	CHECK_RC(ref_parse(&r, "x", 0, NULL), 0);
	CHECK_RC(ref_format(&b, &r), 0);
	CHECK_STR(b.data, "[::1]:5000/a@" SHA_F "docker.io/library/x:latest");
	ref_release(&r);

	/* an empty ref cannot be formatted */
	ref_init(&r);
	CHECK_RC(ref_format(&b, &r), ERR_INVALID);
	buf_release(&b);
}

TEST(endpoint)
{
	struct ref r;

	CHECK_RC(ref_parse(&r, "golang", 0, NULL), 0);
	CHECK_STR(ref_endpoint(&r), "registry-1.docker.io");
	ref_release(&r);
	CHECK_RC(ref_parse(&r, "index.docker.io/golang", 0, NULL), 0);
	CHECK_STR(ref_endpoint(&r), "registry-1.docker.io");
	ref_release(&r);
	CHECK_RC(ref_parse(&r, "ghcr.io/a/b", 0, NULL), 0);
	CHECK_STR(ref_endpoint(&r), "ghcr.io");
	ref_release(&r);
	CHECK_RC(ref_parse(&r, "localhost:5000/a", 0, NULL), 0);
	CHECK_STR(ref_endpoint(&r), "localhost:5000");
	ref_release(&r);
	CHECK_RC(ref_parse(&r, "[::1]:5000/a", 0, NULL), 0);
	CHECK_STR(ref_endpoint(&r), "[::1]:5000");
	ref_release(&r);
}

TEST(copy_and_release)
{
	struct ref r, c;

	CHECK_RC(ref_parse(&r, "ghcr.io/a/b:t@" SHA_F, 0, NULL), 0);
	CHECK_RC(ref_copy(&c, &r), 0);
	ref_release(&r);
	CHECK_STR(c.registry, "ghcr.io");
	CHECK_STR(c.repository, "a/b");
	CHECK_STR(c.tag, "t");
	CHECK_STR(c.digest, SHA_F);
	ref_release(&c);
	CHECK(c.registry == NULL && c.repository == NULL && c.tag == NULL && c.digest == NULL);
	ref_release(&c);	/* twice is fine */
	ref_release(NULL);

	CHECK_RC(ref_parse(&r, "a", REF_NO_DEFAULT_TAG, NULL), 0);
	CHECK_RC(ref_copy(&c, &r), 0);
	CHECK(c.tag == NULL && c.digest == NULL);
	CHECK_STR(c.repository, "library/a");
	ref_release(&c);
	ref_release(&r);
}

TEST(loopback)
{
	static const char *yes[] = {
		"localhost", "localhost:5000", "LocalHost:1", "127.0.0.1", "127.0.0.1:5000",
		"127.1.2.3", "127.255.255.254:80", "[::1]", "[::1]:5000",
		"[0:0:0:0:0:0:0:1]:443", "[::ffff:127.0.0.1]",
	};
	static const char *no[] = {
		"", "docker.io", "example.com:5000", "localhost.example.com", "128.0.0.1",
		"126.0.0.1:5000", "10.0.0.1", "127.0.0.1.example.com", "[::2]", "[::1",
		"[::1]x", "[fe80::1]:5000", "0.0.0.0", "127", "localhos",
	};
	size_t i;

	for (i = 0; i < N(yes); i++)
		if (!ref_registry_is_loopback(yes[i]))
			fprintf(stderr, "  not loopback: %s\n", yes[i]), test_cur_failed = 1;
	for (i = 0; i < N(no); i++)
		if (ref_registry_is_loopback(no[i]))
			fprintf(stderr, "  loopback: %s\n", no[i]), test_cur_failed = 1;
	CHECK(!ref_registry_is_loopback(NULL));
}

TEST(parse_registry)
{
	static const char *const ok[][2] = {
		{ "localhost:5000", "localhost:5000" }, { "localhost", "localhost" },
		{ "registry.example", "registry.example" }, { "127.0.0.1:5000", "127.0.0.1:5000" },
		{ "[::1]:5000", "[::1]:5000" }, { "docker.io", "docker.io" },
		{ "index.docker.io", "docker.io" }, { "registry-1.docker.io", "docker.io" },
		{ "https://index.docker.io/v1/", "docker.io" }, { "HTTP://ghcr.io", "ghcr.io" },
		{ "https://registry.example:8443/v2/", "registry.example:8443" },
	};
	static const char *const bad[] = {
		"", "https://", "myhost", "registry.example/team", "foo_bar.example",
		"host:0", "host:99999", "[::1", "reg\033[31m.example", "-x.example",
	};
	struct err e = ERR_INIT;
	char *out;
	size_t i;

	for (i = 0; i < N(ok); i++) {
		out = NULL;
		CHECK_RC(ref_parse_registry(&out, ok[i][0], &e), 0);
		CHECK_STR(out, ok[i][1]);
		free(out);
	}
	for (i = 0; i < N(bad); i++) {
		out = (char *)1;
		if (ref_parse_registry(&out, bad[i], &e) != ERR_INVALID || out)
			fprintf(stderr, "  accepted: %s\n", bad[i]), test_cur_failed = 1;
		CHECK(!strchr(e.msg, '\033'));
	}
	CHECK_RC(ref_parse_registry(&out, NULL, &e), ERR_INVALID);
}

int main(void)
{
	RUN(parse_valid);
	RUN(parse_invalid);
	RUN(error_messages);
	RUN(messages_are_sanitised_and_bounded);
	RUN(name_length);
	RUN(flags);
	RUN(repository_info);
	RUN(format);
	RUN(endpoint);
	RUN(copy_and_release);
	RUN(loopback);
	RUN(parse_registry);
	return test_done();
}

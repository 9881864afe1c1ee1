#define TEST_MODULE "digest"
#include "tests/unit/test.h"

#include "core/base/digest.h"
#include "core/base/err.h"

#include <stdlib.h>
#include <unistd.h>

#define EMPTY256 "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

TEST(parse_valid)
{
	struct digest d;
	struct err e = ERR_INIT;

	CHECK_RC(digest_parse(&d, EMPTY256, &e), 0);
	CHECK(d.alg == DIGEST_SHA256);
	CHECK_STR(d.str, EMPTY256);
	CHECK_STR(digest_hex(&d), EMPTY256 + 7);
	CHECK_RC(digest_parse(&d, "sha512:cf83e1357eefb8bdf1542850d66d8007d620e4050b5715dc83f4a921d36ce9ce47d0d13c5d85f2b0ff8318d2877eec2f63b931bd47417a81a538327af927da3e", &e), 0);
	CHECK(d.alg == DIGEST_SHA512);
}

TEST(parse_invalid)
{
	static const char *bad[] = {
		"", "sha256", "sha256:", "sha256:abc",
		"SHA256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
		"sha256:E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855",
		"sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b8555",
		"sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b85",
		"sha256:../../../../etc/passwd",
		"sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b85/",
		"md5:d41d8cd98f00b204e9800998ecf8427e",
		"e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
		"sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b85\n",
	};
	struct digest d;
	struct err e = ERR_INIT;
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (digest_parse(&d, bad[i], &e) != ERR_INVALID)
			fprintf(stderr, "accepted: '%s'\n", bad[i]), test_cur_failed = 1;
		CHECK(strstr(e.msg, "invalid digest") != NULL);
		CHECK(!strchr(e.msg, '\n'));
	}
	CHECK(!digest_valid(NULL));
	/* embedded NUL in a length-delimited string */
	CHECK_RC(digest_parse_n(&d, EMPTY256 "\0x", sizeof(EMPTY256) + 1, &e), ERR_INVALID);
}

TEST(hash_known_vectors)
{
	struct digest d;
	struct digest_ctx ctx;
	struct err e = ERR_INIT;

	CHECK_RC(digest_buffer(&d, DIGEST_SHA256, "", 0, &e), 0);
	CHECK_STR(d.str, EMPTY256);
	CHECK_RC(digest_ctx_init(&ctx, DIGEST_SHA256, &e), 0);
	CHECK_RC(digest_ctx_update(&ctx, "a", 1, &e), 0);
	CHECK_RC(digest_ctx_update(&ctx, "bc", 2, &e), 0);
	CHECK(ctx.size == 3);
	digest_ctx_final(&ctx, &d);
	digest_ctx_release(&ctx);
	CHECK_STR(d.str, "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
	CHECK_RC(digest_buffer(&d, DIGEST_SHA512, "abc", 3, &e), 0);
	CHECK_STR(d.str, "sha512:ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f");
}

TEST(equal)
{
	struct digest a, b;

	digest_parse(&a, EMPTY256, NULL);
	b = a;
	CHECK(digest_equal(&a, &b));
	b.str[10] = b.str[10] == 'a' ? 'b' : 'a';
	CHECK(!digest_equal(&a, &b));
}

/* A file hashed from its offset to its end; a descriptor that cannot be
 * read is an error. */
TEST(hash_fd)
{
	char path[] = "/tmp/hoist-digest-XXXXXX";
	struct digest d, want;
	struct err e = ERR_INIT;
	int64_t size = -1;
	int fd = mkstemp(path);

	CHECK(fd >= 0);
	if (fd < 0)
		return;
	unlink(path);
	CHECK(write(fd, "xxabc", 5) == 5);
	CHECK(lseek(fd, 2, SEEK_SET) == 2);
	CHECK_RC(digest_fd(&d, &size, DIGEST_SHA256, fd, &e), 0);
	CHECK_RC(digest_buffer(&want, DIGEST_SHA256, "abc", 3, &e), 0);
	CHECK(digest_equal(&d, &want));
	CHECK(size == 3);
	close(fd);
	CHECK_RC(digest_fd(&d, &size, DIGEST_SHA256, fd, &e), ERR_IO);
}

int main(void)
{
	RUN(parse_valid);
	RUN(parse_invalid);
	RUN(hash_known_vectors);
	RUN(equal);
	RUN(hash_fd);
	return test_done();
}

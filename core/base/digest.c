#include "core/base/digest.h"

#include "core/base/err.h"
#include "core/base/text.h"

#include <errno.h>
#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const struct {
	const char *name;
	size_t hexlen;
	gnutls_digest_algorithm_t gt;
} algs[] = {
	[DIGEST_SHA256] = { "sha256", 64, GNUTLS_DIG_SHA256 },
	[DIGEST_SHA512] = { "sha512", 128, GNUTLS_DIG_SHA512 },
};

const char *digest_alg_name(enum digest_alg alg)
{
	return algs[alg].name;
}


static int parse_fail(struct err *e, const char *s, size_t len, const char *why)
{
	char q[96];

	text_clean(q, sizeof(q), s, len);
	return err_set(e, ERR_INVALID, "invalid digest '%s': %s", q, why);
}

int digest_parse_n(struct digest *out, const char *s, size_t len, struct err *e)
{
	size_t i, plen, hexlen;
	int alg = -1;

	for (i = 0; i < sizeof(algs) / sizeof(algs[0]); i++) {
		plen = strlen(algs[i].name);
		if (len > plen && !memcmp(s, algs[i].name, plen) && s[plen] == ':') {
			alg = (int)i;
			break;
		}
	}
	if (alg < 0) {
		if (memchr(s, ':', len))
			return parse_fail(e, s, len, "unsupported algorithm (want sha256 or sha512)");
		return parse_fail(e, s, len, "expected 'sha256:' followed by 64 hex digits");
	}
	plen = strlen(algs[alg].name) + 1;
	hexlen = algs[alg].hexlen;
	if (len - plen != hexlen)
		return parse_fail(e, s, len, alg == DIGEST_SHA256
				  ? "expected 64 hex digits after 'sha256:'"
				  : "expected 128 hex digits after 'sha512:'");
	for (i = plen; i < len; i++) {
		char c = s[i];
		if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
			return parse_fail(e, s, len, "hex digits must be 0-9 or lowercase a-f");
	}
	out->alg = (enum digest_alg)alg;
	memcpy(out->str, s, len);
	out->str[len] = '\0';
	return 0;
}

int digest_parse(struct digest *out, const char *s, struct err *e)
{
	if (!s)
		return err_set(e, ERR_INVALID, "missing digest");
	return digest_parse_n(out, s, strlen(s), e);
}

int digest_valid(const char *s)
{
	struct digest d;

	return s && digest_parse(&d, s, NULL) == 0;
}

int digest_equal(const struct digest *a, const struct digest *b)
{
	return a->alg == b->alg && !strcmp(a->str, b->str);
}

int digest_ctx_init(struct digest_ctx *ctx, enum digest_alg alg, struct err *e)
{
	gnutls_hash_hd_t h;
	int rc;

	ctx->alg = alg;
	ctx->size = 0;
	ctx->h = NULL;
	rc = gnutls_hash_init(&h, algs[alg].gt);
	if (rc < 0)
		return err_set(e, ERR_FAIL, "cannot start %s hash: %s", algs[alg].name,
			       gnutls_strerror(rc));
	ctx->h = h;
	return 0;
}

int digest_ctx_update(struct digest_ctx *ctx, const void *data, size_t len, struct err *e)
{
	int rc;

	if (!len)
		return 0;
	rc = gnutls_hash((gnutls_hash_hd_t)ctx->h, data, len);
	if (rc < 0)
		return err_set(e, ERR_FAIL, "hashing failed: %s", gnutls_strerror(rc));
	ctx->size += len;
	return 0;
}

void digest_ctx_final(struct digest_ctx *ctx, struct digest *out)
{
	static const char hex[] = "0123456789abcdef";
	unsigned char raw[64];
	size_t i, n = algs[ctx->alg].hexlen / 2, plen;

	gnutls_hash_output((gnutls_hash_hd_t)ctx->h, raw);
	out->alg = ctx->alg;
	plen = strlen(algs[ctx->alg].name);
	memcpy(out->str, algs[ctx->alg].name, plen);
	out->str[plen++] = ':';
	for (i = 0; i < n; i++) {
		out->str[plen + 2 * i] = hex[raw[i] >> 4];
		out->str[plen + 2 * i + 1] = hex[raw[i] & 15];
	}
	out->str[plen + 2 * n] = '\0';
}

void digest_ctx_release(struct digest_ctx *ctx)
{
	if (ctx->h)
		gnutls_hash_deinit((gnutls_hash_hd_t)ctx->h, NULL);
	ctx->h = NULL;
}

int digest_buffer(struct digest *out, enum digest_alg alg, const void *data, size_t len,
		  struct err *e)
{
	struct digest_ctx ctx;
	int rc;

	if ((rc = digest_ctx_init(&ctx, alg, e)) < 0)
		return rc;
	rc = digest_ctx_update(&ctx, data, len, e);
	if (rc == 0)
		digest_ctx_final(&ctx, out);
	digest_ctx_release(&ctx);
	return rc;
}

int digest_fd(struct digest *out, int64_t *out_size, enum digest_alg alg, int fd,
	      struct err *e)
{
	struct digest_ctx ctx;
	size_t cap = 1u << 16;
	char *io = malloc(cap);
	ssize_t n;
	int ret;

	*out_size = 0;
	if (!io)
		return err_set(e, ERR_NOMEM, "out of memory");
	if ((ret = digest_ctx_init(&ctx, alg, e)) < 0) {
		free(io);
		return ret;
	}
	for (;;) {
		n = read(fd, io, cap);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			ret = err_set_errno(e, ERR_IO, errno, "cannot read");
			goto out;
		}
		if (n == 0)
			break;
		if ((ret = digest_ctx_update(&ctx, io, (size_t)n, e)) < 0)
			goto out;
	}
	digest_ctx_final(&ctx, out);
	*out_size = (int64_t)ctx.size;
	ret = 0;
out:
	digest_ctx_release(&ctx);
	free(io);
	return ret;
}

/* digest.h - content digests (GnuTLS hashing behind one module).
 *
 * Parsing is strict: "sha256:" followed by exactly 64 lowercase hex digits,
 * or "sha512:" and 128 (accepted for reading; hoist writes sha256).  Nothing
 * that fails digest_parse() may ever become part of a path: code that turns a
 * digest into a file name takes a `struct digest`, never a string.
 */
#ifndef HOIST_DIGEST_H
#define HOIST_DIGEST_H

#include <stddef.h>
#include <stdint.h>

struct err;

enum digest_alg {
	DIGEST_SHA256 = 0,
	DIGEST_SHA512 = 1,
};

/* "sha512:" + 128 hex + NUL */
#define DIGEST_STR_MAX 136

/* A value type: copy it freely. */
struct digest {
	enum digest_alg alg;
	char str[DIGEST_STR_MAX];	/* "sha256:<hex>" */
};

/* Parses `s` (NUL-terminated).  Fails with ERR_INVALID and a message quoting
 * the (sanitised, truncated) input. */
int digest_parse(struct digest *out, const char *s, struct err *e);
/* As digest_parse(), for `len` bytes that need not be NUL-terminated. */
int digest_parse_n(struct digest *out, const char *s, size_t len, struct err *e);
/* Non-zero when `s` is a valid digest string. */
int digest_valid(const char *s);

/* The algorithm name ("sha256") and the hex part of a parsed digest. */
const char *digest_alg_name(enum digest_alg alg);
static inline const char *digest_hex(const struct digest *d)
{
	return d->str + 7;	/* "sha256:" and "sha512:" are both 7 bytes */
}
int digest_equal(const struct digest *a, const struct digest *b);

/* Streaming hashing.  A digest_ctx must be released exactly once after a
 * successful init, whether or not it was finalised. */
struct digest_ctx {
	enum digest_alg alg;
	void *h;		/* gnutls_hash_hd_t */
	uint64_t size;		/* bytes hashed so far */
};

int digest_ctx_init(struct digest_ctx *ctx, enum digest_alg alg, struct err *e);
int digest_ctx_update(struct digest_ctx *ctx, const void *data, size_t len, struct err *e);
/* Writes the digest of everything hashed; the ctx may then only be released. */
void digest_ctx_final(struct digest_ctx *ctx, struct digest *out);
void digest_ctx_release(struct digest_ctx *ctx);

/* One-shot hash of a buffer. */
int digest_buffer(struct digest *out, enum digest_alg alg, const void *data, size_t len,
		  struct err *e);
/* Hashes what `fd` holds from its offset to its end (the fd is not closed):
 * `out` and the byte count `*out_size`.  ERR_IO when a read fails. */
int digest_fd(struct digest *out, int64_t *out_size, enum digest_alg alg, int fd,
	      struct err *e);

#endif

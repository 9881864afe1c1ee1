/* base64.h - base64 with the standard alphabet and padding (Go's
 * encoding/base64 StdEncoding), for credentials and tokens.
 */
#ifndef HOIST_BASE64_H
#define HOIST_BASE64_H

#include <stddef.h>

struct buf;

/* Base64 with the standard alphabet and padding (Go's encoding/base64
 * StdEncoding).  Decoding is strict about the alphabet, the length and the
 * padding and lenient about unused trailing bits, as Go is.  *out is
 * malloc'd and NUL-terminated; on failure nothing is allocated and the
 * partial output is zeroed (it may be a secret).  ERR_INVALID, ERR_NOMEM. */
int base64_decode(char **out, size_t *outlen, const char *s, size_t len);
/* Appends the encoding of `len` bytes to `out`; 0 or ERR_NOMEM. */
int base64_encode(struct buf *out, const char *data, size_t len);

#endif

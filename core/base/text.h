/* text.h - untrusted text made fit for a message, and base64.
 *
 * Text that came from a server, a file or the command line is quoted into
 * error messages only through text_clean(), so that no message can carry a
 * terminal escape, a line break or a direction override.
 */
#ifndef HOIST_TEXT_H
#define HOIST_TEXT_H

#include <stddef.h>

struct buf;

/* Copies `len` bytes of `s` into `out` (`size` bytes, always NUL-terminated
 * when size > 0) for use on one line: ASCII and C1 control characters
 * (tab and newline included), invalid UTF-8, bidirectional-override and
 * line-separator characters each become '?'.  When the text does not fit,
 * it is cut at a character boundary and "..." is appended.  Returns the
 * length written. */
size_t text_clean(char *out, size_t size, const char *s, size_t len);

/* Base64 with the standard alphabet and padding (Go's encoding/base64
 * StdEncoding).  Decoding is strict about the alphabet, the length and the
 * padding and lenient about unused trailing bits, as Go is.  *out is
 * malloc'd and NUL-terminated; on failure nothing is allocated and the
 * partial output is zeroed (it may be a secret).  ERR_INVALID, ERR_NOMEM. */
int base64_decode(char **out, size_t *outlen, const char *s, size_t len);
/* Appends the encoding of `len` bytes to `out`; 0 or ERR_NOMEM. */
int base64_encode(struct buf *out, const char *data, size_t len);

#endif

/* text.h - untrusted text made fit for a message; small string helpers.
 *
 * Text that came from a server, a file or the command line is quoted into
 * error messages only through text_clean(), so that no message can carry a
 * terminal escape, a line break or a direction override.
 */
#ifndef HOIST_TEXT_H
#define HOIST_TEXT_H

#include <stddef.h>

/* Copies `len` bytes of `s` into `out` (`size` bytes, always NUL-terminated
 * when size > 0) for use on one line: ASCII and C1 control characters
 * (tab and newline included), invalid UTF-8, bidirectional-override and
 * line-separator characters each become '?'.  When the text does not fit,
 * it is cut at a character boundary and "..." is appended.  Returns the
 * length written. */
size_t text_clean(char *out, size_t size, const char *s, size_t len);

/* Copies at most 80 bytes of untrusted `s` into `out` for an error message,
 * control characters replaced by '?', "..." when cut. */
void text_quote(char *out, size_t outlen, const char *s);

/* A copy of `s`, or NULL when `s` is NULL (or memory ran out). */
char *text_dup(const char *s);

#endif

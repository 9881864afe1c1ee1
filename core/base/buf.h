/* buf.h - the growable byte buffer.
 *
 * struct buf follows git's strbuf discipline: `data` is never NULL and is
 * always NUL-terminated (a fresh buffer points at a shared empty string), so
 * it can be handed to string functions at any time.  buf_detach() hands the
 * bytes over to the caller.
 *
 * Allocation failure does not abort: the appending functions return
 * ERR_NOMEM (or ERR_TOO_BIG when `max` is set and would be exceeded), leave
 * the contents as they were and set the sticky `failed` flag, so a sequence of
 * appends may be checked once at the end with buf_failed().
 *
 * Anything filled from the network sets `max` (curl's dynbuf "too big").
 */
#ifndef HOIST_BUF_H
#define HOIST_BUF_H

#include <stdarg.h>
#include <stddef.h>

extern char buf_empty[];

struct buf {
	char *data;
	size_t len;
	size_t cap;	/* allocated bytes; 0 while `data` is buf_empty */
	size_t max;	/* cap on len, 0 = none */
	int failed;	/* 0, or the first error an append hit */
};

#define BUF_INIT { buf_empty, 0, 0, 0, 0 }

void buf_init(struct buf *b, size_t max);
/* Frees the contents and re-initialises (keeps `max`). */
void buf_release(struct buf *b);
/* Empties without freeing. */
void buf_reset(struct buf *b);
/* Makes room for `extra` more bytes plus the NUL. */
int buf_grow(struct buf *b, size_t extra);
int buf_add(struct buf *b, const void *data, size_t len);
int buf_addstr(struct buf *b, const char *s);
int buf_addch(struct buf *b, int c);
int buf_addf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int buf_vaddf(struct buf *b, const char *fmt, va_list ap);
/* Shortens to `len` bytes (len <= b->len). */
void buf_setlen(struct buf *b, size_t len);
/* Returns the bytes (always a malloc'd, NUL-terminated string, NULL only
 * on allocation failure) and re-initialises `b`.  The caller frees them. */
char *buf_detach(struct buf *b, size_t *len);
/* Non-zero after any failed append since init/release. */
static inline int buf_failed(const struct buf *b) { return b->failed; }

#endif

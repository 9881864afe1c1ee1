/* strvec.h - a NULL-terminated vector of malloc'd strings (git's strvec).
 *
 * `v` is never NULL (an empty vector points at a shared { NULL }), so it
 * can be handed to anything that takes an argv.  Allocation failure is
 * returned as ERR_NOMEM, never fatal.
 */
#ifndef HOIST_STRVEC_H
#define HOIST_STRVEC_H

#include <stddef.h>

/* A NULL-terminated vector of malloc'd strings. */
struct strvec {
	char **v;	/* never NULL: points at a shared { NULL } when empty */
	size_t n;
	size_t alloc;
};

extern char *strvec_empty[];
#define STRVEC_INIT { strvec_empty, 0, 0 }

void strvec_init(struct strvec *sv);
void strvec_clear(struct strvec *sv);
/* Appends a copy of `s`. */
int strvec_push(struct strvec *sv, const char *s);
int strvec_pushf(struct strvec *sv, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Appends `s` itself; takes ownership (frees it on failure). */
int strvec_push_nodup(struct strvec *sv, char *s);
/* Index of the first string equal to `s`, or -1. */
long strvec_find(const struct strvec *sv, const char *s);

#endif

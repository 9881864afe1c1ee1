/* report.h - messages to the user, all on stderr (stdout carries data only).
 *
 *	report_error("cannot open cache '%s'", dir);   ->  error: cannot open cache '...'
 *	report_warning(...), report_hint(...)           ->  warning: ... / hint: ...
 *	report_verbose(ctx, 1, "GET %s", url);          ->  shown with -v, formatted only then
 *
 * Messages are lower case, without a trailing period, say what failed first
 * and quote their subjects ('%s').  Every message is passed through
 * report_sanitize() before it is written (git's vreportf), so text that came
 * from a server cannot move the cursor, recolour the terminal or forge a
 * second line.  Each message is written with one call so that concurrent
 * writers do not interleave within a line.  A message longer than
 * REPORT_MAX - 1 bytes is cut.
 */
#ifndef HOIST_CMD_REPORT_H
#define HOIST_CMD_REPORT_H

#include <stdarg.h>
#include <stddef.h>

struct buf;
struct ctx;
struct err;

#define REPORT_MAX 4096

void report_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void report_warning(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void report_hint(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* "error: <fmt>: strerror(errnum)", then "; <what to do>" for an errno
 * the user can act on (err_errno_action(): a full disk, permissions, ...).
 * For system calls cmd/ makes itself; library errors carry it already. */
void report_errno(int errnum, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* "error: <prefix>: <e->msg>", or "error: <prefix>" when e has no message;
 * prefix is printf-formatted.  Returns EXIT_FAIL, or EXIT_USAGE when
 * e->code is ERR_USAGE, so a command can `return report_err(&e, "pull");`. */
int report_err(const struct err *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Prints the message (no prefix) when ctx->verbose >= level and ctx->quiet
 * is 0; level 0 is ordinary progress that -q silences.  Nothing is
 * formatted when the message is not shown. */
void report_verbose(const struct ctx *ctx, int level, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* The common prefix-and-sanitise step, for callers that build their own
 * prefix (prefix may be "" ). */
void report_vprint(const char *prefix, const char *fmt, va_list ap)
	__attribute__((format(printf, 2, 0)));

/* Replaces in place every ASCII control character except TAB (0x00-0x1f
 * other than 0x09, and 0x7f) by '?'.  Bytes >= 0x80 are kept, so UTF-8
 * text survives.  Returns s. */
char *report_sanitize(char *s);
/* Appends a sanitised copy of `s` to `out` (for data printed to stdout that
 * came from a server: tags, annotations, error bodies).  0 or ERR_NOMEM. */
int report_sanitize_buf(struct buf *out, const char *s);

#endif

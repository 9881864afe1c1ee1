/* err.h - errors as values.
 *
 * Every library function that can fail returns 0 on success or a negative
 * `enum err_code`, and fills a caller-owned `struct err` with a message that
 * says what failed and, where it helps, what to do.  Library code never
 * prints and never exits: only cmd/ reports errors and picks exit statuses.
 *
 * A `struct err *` argument may be NULL when the caller does not want the
 * message; the code is still returned.
 */
#ifndef HOIST_ERR_H
#define HOIST_ERR_H

#include <stdarg.h>

enum err_code {
	ERR_OK = 0,
	ERR_FAIL = -1,		/* anything not covered below */
	ERR_NOMEM = -2,		/* allocation failed */
	ERR_INVALID = -3,	/* malformed input: reference, digest, JSON, option */
	ERR_NOT_FOUND = -4,	/* no such blob, ref, tag, file */
	ERR_IO = -5,		/* filesystem error; sys_errno says which */
	ERR_DIGEST = -6,	/* content does not match its digest or size */
	ERR_TOO_BIG = -7,	/* a size cap was hit */
	ERR_NETWORK = -8,	/* connection, TLS, timeout */
	ERR_AUTH = -9,		/* credentials missing or refused */
	ERR_DENIED = -10,	/* authenticated but not allowed */
	ERR_UNSUPPORTED = -11,	/* a media type, algorithm or feature hoist refuses */
	ERR_LOCKED = -12,	/* a lock could not be taken in time */
	ERR_REGISTRY = -13,	/* the registry answered with an error */
	ERR_EXISTS = -14,	/* something that must not exist does */
	ERR_USAGE = -15,	/* the caller (user) asked for something impossible */
};

#define ERR_MSG_MAX 1024

struct err {
	int code;		/* enum err_code, 0 when clear */
	int sys_errno;		/* errno of a failed system call, or 0 */
	int http_status;	/* HTTP status of a failed request, or 0 */
	char msg[ERR_MSG_MAX];	/* what failed and what to do; never holds secrets */
};

#define ERR_INIT { 0, 0, 0, { 0 } }

/* Clears `e` (no-op on NULL). */
void err_clear(struct err *e);

/* Sets code and formatted message; returns `code` so callers can write
 * `return err_set(e, ERR_INVALID, "bad digest '%s'", s);`. */
int err_set(struct err *e, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* As err_set(), appending ": strerror(errnum)" and recording errnum, then,
 * for an errno the user can act on, "; <err_errno_action(errnum)>". */
int err_set_errno(struct err *e, int code, int errnum, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/* What to do about a failed system call's errno: ENOSPC and EDQUOT (free
 * space, 'hoist cache gc'), EACCES and EPERM (permissions), EROFS, EIO,
 * EUCLEAN (the disk), EMFILE and ENFILE (the open-file limit),
 * ENAMETOOLONG; NULL for the others.  A static string. */
const char *err_errno_action(int errnum);

/* Prepends context: "fmt: <old message>".  Returns e->code. */
int err_prefix(struct err *e, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* A short English name of a code ("invalid input", "not found", ...). */
const char *err_code_name(int code);

#endif

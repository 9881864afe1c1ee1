#include "core/base/err.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

void err_clear(struct err *e)
{
	if (!e)
		return;
	e->code = 0;
	e->sys_errno = 0;
	e->http_status = 0;
	e->msg[0] = '\0';
}

static void err_vset(struct err *e, int code, const char *fmt, va_list ap)
{
	e->code = code;
	vsnprintf(e->msg, sizeof(e->msg), fmt, ap);
}

int err_set(struct err *e, int code, const char *fmt, ...)
{
	va_list ap;

	if (!e)
		return code;
	e->sys_errno = 0;
	e->http_status = 0;
	va_start(ap, fmt);
	err_vset(e, code, fmt, ap);
	va_end(ap);
	return code;
}

const char *err_errno_action(int errnum)
{
	switch (errnum) {
	case ENOSPC:
		return "free space on that disk, or run 'hoist cache gc' to remove the blobs "
		       "no cached image needs";
	case EDQUOT:
		return "your disk quota is used up: free space, or run 'hoist cache gc' to "
		       "remove the blobs no cached image needs";
	case EACCES:
	case EPERM:
		return "check the permissions of that path and of the directories above it";
	case EROFS:
		return "that file system is mounted read-only: remount it read-write, or use "
		       "a directory elsewhere";
	case EIO:
		return "the disk or file system reported an error: check it (dmesg, fsck) "
		       "before retrying";
	case EUCLEAN:
		return "the file system is damaged: check it with fsck";
	case EMFILE:
	case ENFILE:
		return "too many open files: raise the limit (ulimit -n) or lower --jobs";
	case ENAMETOOLONG:
		return "use a shorter path";
	default:
		return NULL;
	}
}

int err_set_errno(struct err *e, int code, int errnum, const char *fmt, ...)
{
	const char *action = err_errno_action(errnum);
	va_list ap;
	size_t len;

	if (!e)
		return code;
	e->http_status = 0;
	va_start(ap, fmt);
	err_vset(e, code, fmt, ap);
	va_end(ap);
	e->sys_errno = errnum;
	len = strlen(e->msg);
	if (len < sizeof(e->msg))
		snprintf(e->msg + len, sizeof(e->msg) - len, ": %s%s%s", strerror(errnum),
			 action ? "; " : "", action ? action : "");
	return code;
}

int err_prefix(struct err *e, const char *fmt, ...)
{
	char old[ERR_MSG_MAX];
	va_list ap;
	int n;

	if (!e)
		return ERR_FAIL;
	memcpy(old, e->msg, sizeof(old));
	va_start(ap, fmt);
	n = vsnprintf(e->msg, sizeof(e->msg), fmt, ap);
	va_end(ap);
	if (n >= 0 && (size_t)n < sizeof(e->msg) && old[0])
		snprintf(e->msg + n, sizeof(e->msg) - (size_t)n, ": %s", old);
	return e->code ? e->code : ERR_FAIL;
}

const char *err_code_name(int code)
{
	switch (code) {
	case ERR_OK: return "ok";
	case ERR_NOMEM: return "out of memory";
	case ERR_INVALID: return "invalid input";
	case ERR_NOT_FOUND: return "not found";
	case ERR_IO: return "i/o error";
	case ERR_DIGEST: return "digest mismatch";
	case ERR_TOO_BIG: return "too big";
	case ERR_NETWORK: return "network error";
	case ERR_AUTH: return "authentication failed";
	case ERR_DENIED: return "access denied";
	case ERR_UNSUPPORTED: return "unsupported";
	case ERR_LOCKED: return "locked";
	case ERR_REGISTRY: return "registry error";
	case ERR_EXISTS: return "already exists";
	case ERR_USAGE: return "usage error";
	default: return "failure";
	}
}

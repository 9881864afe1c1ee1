#include "core/err.h"

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

int err_set_errno(struct err *e, int code, int errnum, const char *fmt, ...)
{
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
		snprintf(e->msg + len, sizeof(e->msg) - len, ": %s", strerror(errnum));
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

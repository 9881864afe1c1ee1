#include "cmd/report.h"

#include "cmd/cmd.h"
#include "cmd/exit.h"
#include "core/base/buf.h"
#include "core/base/err.h"

#include <stdio.h>
#include <string.h>

static int report_is_control(unsigned char c)
{
	return (c < 0x20 && c != '\t') || c == 0x7f;
}

char *report_sanitize(char *s)
{
	unsigned char *p;

	for (p = (unsigned char *)s; *p; p++)
		if (report_is_control(*p))
			*p = '?';
	return s;
}

int report_sanitize_buf(struct buf *out, const char *s)
{
	size_t start = out->len;
	int rc;

	rc = buf_addstr(out, s);
	if (rc < 0)
		return rc;
	report_sanitize(out->data + start);
	return 0;
}

void report_vprint(const char *prefix, const char *fmt, va_list ap)
{
	char msg[REPORT_MAX];
	size_t len;
	int n;

	n = snprintf(msg, sizeof(msg), "%s", prefix);
	if (n < 0)
		n = 0;
	len = (size_t)n < sizeof(msg) ? (size_t)n : sizeof(msg) - 1;
	n = vsnprintf(msg + len, sizeof(msg) - len, fmt, ap);
	if (n > 0)
		len += (size_t)n < sizeof(msg) - len ? (size_t)n : sizeof(msg) - len - 1;
	report_sanitize(msg);
	/* Room for the newline: overwrite the last byte of a cut message. */
	if (len >= sizeof(msg) - 1)
		len = sizeof(msg) - 2;
	msg[len++] = '\n';
	msg[len] = '\0';
	fflush(stdout);
	fputs(msg, stderr);
}

void report_error(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	report_vprint("error: ", fmt, ap);
	va_end(ap);
}

void report_warning(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	report_vprint("warning: ", fmt, ap);
	va_end(ap);
}

void report_hint(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	report_vprint("hint: ", fmt, ap);
	va_end(ap);
}

void report_errno(int errnum, const char *fmt, ...)
{
	char what[REPORT_MAX];
	const char *action = err_errno_action(errnum);
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	report_error("%s: %s%s%s", what, strerror(errnum), action ? "; " : "",
		     action ? action : "");
}

int report_err(const struct err *e, const char *fmt, ...)
{
	char prefix[REPORT_MAX];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(prefix, sizeof(prefix), fmt, ap);
	va_end(ap);
	if (n < 0)
		prefix[0] = '\0';
	if (e && e->msg[0])
		report_error("%s: %s", prefix, e->msg);
	else
		report_error("%s", prefix);
	return e && e->code == ERR_USAGE ? EXIT_USAGE : EXIT_FAIL;
}

void report_verbose(const struct ctx *ctx, int level, const char *fmt, ...)
{
	va_list ap;

	if (ctx->quiet || ctx->verbose < level)
		return;
	va_start(ap, fmt);
	report_vprint("", fmt, ap);
	va_end(ap);
}

#include "core/base/strvec.h"

#include "core/base/buf.h"
#include "core/base/err.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

char *strvec_empty[1];

void strvec_init(struct strvec *sv)
{
	sv->v = strvec_empty;
	sv->n = 0;
	sv->alloc = 0;
}

void strvec_clear(struct strvec *sv)
{
	size_t i;

	if (sv->alloc) {
		for (i = 0; i < sv->n; i++)
			free(sv->v[i]);
		free(sv->v);
	}
	strvec_init(sv);
}

int strvec_push_nodup(struct strvec *sv, char *s)
{
	char **nv;
	size_t na;

	if (!s)
		return ERR_NOMEM;
	if (sv->n + 2 > sv->alloc) {
		na = sv->alloc ? sv->alloc * 2 : 8;
		nv = sv->alloc ? realloc(sv->v, na * sizeof(*nv)) : malloc(na * sizeof(*nv));
		if (!nv) {
			free(s);
			return ERR_NOMEM;
		}
		sv->v = nv;
		sv->alloc = na;
	}
	sv->v[sv->n++] = s;
	sv->v[sv->n] = NULL;
	return 0;
}

int strvec_push(struct strvec *sv, const char *s)
{
	return strvec_push_nodup(sv, strdup(s));
}

int strvec_pushf(struct strvec *sv, const char *fmt, ...)
{
	struct buf b = BUF_INIT;
	va_list ap;
	int rc;

	va_start(ap, fmt);
	rc = buf_vaddf(&b, fmt, ap);
	va_end(ap);
	if (rc < 0) {
		buf_release(&b);
		return rc;
	}
	return strvec_push_nodup(sv, buf_detach(&b, NULL));
}

long strvec_find(const struct strvec *sv, const char *s)
{
	size_t i;

	for (i = 0; i < sv->n; i++)
		if (!strcmp(sv->v[i], s))
			return (long)i;
	return -1;
}

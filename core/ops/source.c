/* source.c - where an image that a command reads comes from.  See source.h. */
#include "core/ops/source.h"

#include "cache/layout.h"
#include "core/base/buf.h"
#include "core/base/err.h"
#include "core/ops/env.h"
#include "core/ops/import.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const struct {
	const char *prefix;
	enum source_kind how;
} transports[] = {
	{ "oci:", SOURCE_LAYOUT },
	{ "oci-archive:", SOURCE_ARCHIVE },
	{ "docker-archive:", SOURCE_ARCHIVE },
	{ "tarball:", SOURCE_ARCHIVE },
};

/* Sets path (the first `n` bytes of `p`) and ref (NULL when empty). */
static int source_set(struct source *s, enum source_kind how, const char *p, size_t n,
		      const char *ref, struct err *e)
{
	s->how = how;
	s->path = strndup(p, n);
	s->ref = ref && *ref ? strdup(ref) : NULL;
	if (!s->path || (ref && *ref && !s->ref))
		return err_set(e, ERR_NOMEM, "out of memory");
	return 0;
}

/* What kind of source the existing path `p` (its first `n` bytes) is:
 * 0 when it does not exist (or, with `file_only`, is a directory). */
static enum source_kind source_kind_of(const char *p, size_t n, int file_only)
{
	struct stat st;
	char *s = strndup(p, n);
	int rc = s ? stat(s, &st) : -1;

	free(s);
	if (rc < 0 || (file_only && S_ISDIR(st.st_mode)))
		return SOURCE_NONE;
	return S_ISDIR(st.st_mode) ? SOURCE_LAYOUT : SOURCE_ARCHIVE;
}

/* A bare path: as it is when it exists; else PATH@REF at the first '@'
 * after an existing PATH (so FILE@@0 is the first image), else FILE:REF
 * at the first ':' after an existing file; else a layout, which opening
 * will say is not there. */
static int source_parse_bare(struct source *s, const char *spec, struct err *e)
{
	const char *at, *colon = strchr(spec, ':');
	enum source_kind how = source_kind_of(spec, strlen(spec), 0);

	if (how)
		return source_set(s, how, spec, strlen(spec), NULL, e);
	for (at = strchr(spec, '@'); at; at = strchr(at + 1, '@'))
		if (at[1] && (how = source_kind_of(spec, (size_t)(at - spec), 0)))
			return source_set(s, how, spec, (size_t)(at - spec), at + 1, e);
	if (colon && colon[1] && (how = source_kind_of(spec, (size_t)(colon - spec), 1)))
		return source_set(s, how, spec, (size_t)(colon - spec), colon + 1, e);
	return source_set(s, SOURCE_LAYOUT, spec, strlen(spec), NULL, e);
}

int source_parse(struct source *s, const char *spec, unsigned flags, struct err *e)
{
	size_t i, n;

	for (i = 0; i < sizeof(transports) / sizeof(transports[0]); i++) {
		const char *rest, *colon;

		n = strlen(transports[i].prefix);
		if (strncmp(spec, transports[i].prefix, n))
			continue;
		rest = spec + n;
		colon = strchr(rest, ':');
		n = colon ? (size_t)(colon - rest) : strlen(rest);
		if (!n)
			return err_set(e, ERR_USAGE, "'%s': a path must follow '%s'", spec,
				       transports[i].prefix);
		return source_set(s, transports[i].how, rest, n, colon ? colon + 1 : NULL, e);
	}
	if ((flags & SOURCE_STDIN) && !strcmp(spec, "-"))
		return source_set(s, SOURCE_ARCHIVE, spec, 1, NULL, e);
	if (flags & SOURCE_BARE)
		return source_parse_bare(s, spec, e);
	s->how = SOURCE_NONE;
	return 0;
}

/* Reads the archive into a new scratch layout. */
static int source_open_archive(struct source *s, const char *tmp_dir, const char *what,
			       unsigned flags, struct err *e)
{
	int is_stdin = !strcmp(s->path, "-");
	int fd = is_stdin ? STDIN_FILENO : open(s->path, O_RDONLY | O_CLOEXEC);
	int ret;

	if (fd < 0)
		return err_set_errno(e, errno == ENOENT ? ERR_NOT_FOUND : ERR_IO, errno,
				     "cannot open it");	/* the caller names it */
	ret = layout_open_scratch(&s->l, tmp_dir, what, LAYOUT_NO_SYNC, e);
	if (ret < 0)
		err_prefix(e, "cannot make a scratch layout");
	else
		ret = import_archive(s->l, fd, s->ref, "latest",
					   flags & SOURCE_ALL ? IMPORT_ALL : 0, e);
	if (!is_stdin)
		close(fd);
	return ret;
}

int source_open(struct source *s, const char *ref, const char *tmp_dir,
		      const char *what, unsigned flags, struct err *e)
{
	if (ref) {
		free(s->ref);
		if (!(s->ref = strdup(ref)))
			return err_set(e, ERR_NOMEM, "out of memory");
	}
	s->name = NULL;
	if (s->how == SOURCE_ARCHIVE)
		return source_open_archive(s, tmp_dir, what, flags, e);
	if (s->how != SOURCE_LAYOUT)
		return err_set(e, ERR_USAGE, "not a layout or an archive");
	s->name = s->ref;
	return layout_open(&s->l, s->path, 0, e);
}

void source_release(struct source *s)
{
	layout_free(s->l);
	free(s->path);
	free(s->ref);
	memset(s, 0, sizeof(*s));
}

/* dockerignore.h - .dockerignore: which files of a build context are left
 * out, as Docker's patternmatcher decides.
 */
#ifndef HOIST_DOCKERIGNORE_H
#define HOIST_DOCKERIGNORE_H

#include "core/base/strvec.h"

#include <stddef.h>

struct err;

/* Patterns as Docker's patternmatcher reads them: one per line, '#'
 * comments, blank lines skipped, surrounding space trimmed, a leading '!'
 * an exception, a leading '/' ignored, cleaned as path.Clean does; '*' and
 * '?' never match '/', '**' matches any number of directories, [...]
 * classes and '\' escapes as in fnmatch(3).  A path is excluded when the
 * last pattern matching it or one of its parent directories is not an
 * exception. */
struct dockerignore {
	struct strvec patterns;
	unsigned char *exception;	/* per pattern: 1 for '!' */
	int has_exceptions;
};

void dockerignore_init(struct dockerignore *di);
void dockerignore_release(struct dockerignore *di);
/* Parses a .dockerignore file's text into an initialised `di` (appending).
 * ERR_INVALID for a malformed pattern ("[" unclosed), naming its line. */
int dockerignore_parse(struct dockerignore *di, const char *text, size_t len, struct err *e);
/* 1 when `path` (relative to the context root; "./" and '/' prefixes are
 * ignored) is excluded, else 0. */
int dockerignore_match(const struct dockerignore *di, const char *path);

#endif

/* fuzz.h - shared by the libFuzzer targets in tests/fuzz/.
 *
 * Each target is one file defining LLVMFuzzerTestOneInput().  `make fuzz`
 * links it with clang's -fsanitize=fuzzer; `make check` links it with
 * replay.c (a main() that feeds the committed corpus and regression inputs
 * to it) using the normal compiler, so fixed crashes stay fixed.
 *
 * A target checks properties beyond "no crash" with FUZZ_ASSERT, which
 * aborts (a finding for libFuzzer, a failure for the replay).
 */
#ifndef HOIST_FUZZ_H
#define HOIST_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_ASSERT(cond) do { \
	if (!(cond)) { \
		fprintf(stderr, "%s:%d: fuzz property failed: %s\n", __FILE__, __LINE__, #cond); \
		abort(); \
	} \
} while (0)

/* A NUL-terminated copy of the input (the caller frees), or NULL when the
 * input holds a NUL byte (string parsers never see one) or on ENOMEM. */
static inline char *fuzz_cstr(const uint8_t *data, size_t size)
{
	char *s;

	if (memchr(data, 0, size))
		return NULL;
	s = malloc(size + 1);
	if (!s)
		return NULL;
	memcpy(s, data, size);
	s[size] = 0;
	return s;
}

#endif

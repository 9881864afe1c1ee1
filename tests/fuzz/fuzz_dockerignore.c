/* fuzz_dockerignore.c - dockerignore_parse() on the input, and
 * dockerignore_match() of every input line (and fixed paths) against it. */
#include "tests/fuzz/fuzz.h"
#include "core/format/containerfile.h"
#include "core/format/dockerignore.h"
#include "core/base/err.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const paths[] = {
		"a", "a/b", "a/b/c.txt", "./x/y", "/abs/z", "node_modules/p/q.js",
		".git/HEAD", "Dockerfile", "", ".", "..", "a/../b", "**",
	};
	struct err e = ERR_INIT;
	struct dockerignore di;
	char *s = NULL, *line, *save = NULL;
	size_t i;

	dockerignore_init(&di);
	if (dockerignore_parse(&di, (const char *)data, size, &e))
		goto out;
	for (i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
		int m = dockerignore_match(&di, paths[i]);

		FUZZ_ASSERT(m == 0 || m == 1);
	}
	s = fuzz_cstr(data, size > 2048 ? 2048 : size);
	if (!s)
		goto out;
	for (line = strtok_r(s, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		int m = dockerignore_match(&di, line);

		FUZZ_ASSERT(m == 0 || m == 1);
	}
out:
	free(s);
	dockerignore_release(&di);
	return 0;
}

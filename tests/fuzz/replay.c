/* replay.c - the non-fuzzer driver of a fuzz target, for `make check`.
 *
 *   NAME_replay DIR...
 *
 * Feeds every regular file in each DIR (not recursive; missing DIRs are
 * skipped) to LLVMFuzzerTestOneInput() and prints one
 * "ok - fuzz-replay: NAME: N inputs from DIR" line per directory.  A crash,
 * a failed FUZZ_ASSERT or a sanitizer report ends the program with a
 * non-zero status, which tests/run counts as a failure; so does taking more
 * than REPLAY_SECONDS in all (a regression input that used to hang).
 */
#include "tests/fuzz/fuzz.h"

#include <dirent.h>
#include <errno.h>
#include <sys/stat.h>
#include <unistd.h>

#define REPLAY_SECONDS 300

/* The target's name, from argv[0]: ".../fuzz_NAME_replay" -> "NAME". */
static char fuzz_name[256] = "fuzz";

static void set_name(const char *argv0)
{
	const char *b = strrchr(argv0, '/');
	size_t len;

	b = b ? b + 1 : argv0;
	if (!strncmp(b, "fuzz_", 5))
		b += 5;
	len = strlen(b);
	if (len > 7 && !strcmp(b + len - 7, "_replay"))
		len -= 7;
	if (len >= sizeof(fuzz_name))
		len = sizeof(fuzz_name) - 1;
	memcpy(fuzz_name, b, len);
	fuzz_name[len] = 0;
}

static int replay_file(const char *path)
{
	FILE *f = fopen(path, "rb");
	uint8_t *data = NULL;
	size_t cap = 0, len = 0, n;
	int ret = -1;

	if (!f) {
		fprintf(stderr, "cannot open '%s': %s\n", path, strerror(errno));
		goto out;
	}
	for (;;) {
		if (len == cap) {
			size_t ncap = cap ? cap * 2 : 4096;
			uint8_t *p = realloc(data, ncap);

			if (!p)
				goto out;
			data = p;
			cap = ncap;
		}
		n = fread(data + len, 1, cap - len, f);
		len += n;
		if (n == 0)
			break;
	}
	if (ferror(f))
		goto out;
	/* Exactly `len` bytes, as libFuzzer passes them, so ASan sees reads
	 * past the end. */
	{
		uint8_t *exact = malloc(len ? len : 1);

		if (!exact)
			goto out;
		memcpy(exact, data, len);
		LLVMFuzzerTestOneInput(exact, len);
		free(exact);
	}
	ret = 0;
out:
	if (f)
		fclose(f);
	free(data);
	return ret;
}

static int cmp_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int replay_dir(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	char **names = NULL;
	size_t n = 0, cap = 0, i;
	int ret = -1, count = 0;

	if (!d)
		return errno == ENOENT ? 0 : -1;
	while ((de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		if (n == cap) {
			size_t ncap = cap ? cap * 2 : 64;
			char **p = realloc(names, ncap * sizeof(*names));

			if (!p)
				goto out;
			names = p;
			cap = ncap;
		}
		names[n] = strdup(de->d_name);
		if (!names[n])
			goto out;
		n++;
	}
	if (n)
		qsort(names, n, sizeof(*names), cmp_names);
	for (i = 0; i < n; i++) {
		char path[4096];
		struct stat st;

		if (snprintf(path, sizeof(path), "%s/%s", dir, names[i]) >= (int)sizeof(path))
			goto out;
		if (stat(path, &st) || !S_ISREG(st.st_mode))
			continue;
		if (replay_file(path))
			goto out;
		count++;
	}
	printf("ok - fuzz-replay: %s: %d inputs from %s\n", fuzz_name, count, dir);
	fflush(stdout);
	ret = 0;
out:
	if (ret)
		printf("not ok - fuzz-replay: %s: cannot read %s\n", fuzz_name, dir);
	for (i = 0; i < n; i++)
		free(names[i]);
	free(names);
	closedir(d);
	return ret;
}

int main(int argc, char **argv)
{
	int i, ret = 0;

	set_name(argv[0]);
	alarm(REPLAY_SECONDS);	/* SIGALRM ends a hang with a failure */
	for (i = 1; i < argc; i++)
		if (replay_dir(argv[i]))
			ret = 1;
	return ret;
}

/* fuzz_containerfile.c - containerfile_parse() with build args, and
 * containerfile_expand_word() on each line of the input. */
#include "tests/fuzz/fuzz.h"
#include "core/format/containerfile.h"
#include "core/base/err.h"
#include "core/model/manifest.h"

static const char *lookup(void *arg, const char *name)
{
	(void)arg;
	return !strcmp(name, "HOME") ? "/root" : NULL;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct err e = ERR_INIT;
	struct containerfile cf;
	struct kvlist args, pre;
	struct cf_parse_opts opts = { NULL, NULL, 0 };
	char *s = NULL, *line, *save = NULL, *w;
	int rc;

	kvlist_init(&args);
	kvlist_init(&pre);
	if (kvlist_set(&args, "VERSION", "1.2") || kvlist_set(&pre, "TARGETARCH", "amd64"))
		goto out;
	opts.build_args = &args;
	opts.predefined = &pre;
	rc = containerfile_parse(&cf, (const char *)data, size, &opts, &e);
	if (rc == 0) {
		FUZZ_ASSERT(cf.escape == '\\' || cf.escape == '`');
		FUZZ_ASSERT(cf.n_stages == 0 || cf.stages != NULL);
		containerfile_release(&cf);
	} else {
		FUZZ_ASSERT(rc < 0 && e.msg[0]);
	}
	s = fuzz_cstr(data, size > 4096 ? 4096 : size);
	if (!s)
		goto out;
	for (line = strtok_r(s, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		w = NULL;
		if (containerfile_expand_word(&w, line, '\\', lookup, NULL, &e) == 0)
			FUZZ_ASSERT(w);
		free(w);
	}
out:
	free(s);
	kvlist_release(&args);
	kvlist_release(&pre);
	return 0;
}

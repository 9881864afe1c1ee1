/* fuzz_manifest.c - manifest_parse() (with no hint and with each OCI and
 * Docker media type as the hint), manifest_index_find() and
 * imgconfig_parse() on the same bytes. */
#include "core/model/imgconfig.h"
#include "tests/fuzz/fuzz.h"
#include "core/base/err.h"
#include "core/model/manifest.h"
#include "core/model/platform.h"

static const char *const hints[] = {
	NULL,
	"application/vnd.oci.image.manifest.v1+json",
	"application/vnd.oci.image.index.v1+json",
	"application/vnd.docker.distribution.manifest.v2+json",
	"application/vnd.docker.distribution.manifest.list.v2+json",
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct err e = ERR_INIT;
	struct manifest m;
	struct imgconfig c;
	struct platform want = PLATFORM_INIT;
	size_t i;

	want.os = "linux";
	want.arch = "amd64";
	for (i = 0; i < sizeof(hints) / sizeof(hints[0]); i++) {
		if (manifest_parse(&m, (const char *)data, size, hints[i], 0, &e) == 0) {
			FUZZ_ASSERT(m.kind == MT_KIND_MANIFEST || m.kind == MT_KIND_INDEX);
			FUZZ_ASSERT(m.raw.len == size && !memcmp(m.raw.data, data, size));
			FUZZ_ASSERT(m.media_type != NULL);
			(void)manifest_index_find(&m, &want);
		}
		manifest_release(&m);
	}
	if (imgconfig_parse(&c, (const char *)data, size, 0, &e) == 0) {
		FUZZ_ASSERT(c.platform.os && c.platform.arch);
		FUZZ_ASSERT(c.raw.len == size);
	}
	imgconfig_release(&c);
	return 0;
}

/* fuzz_text.c - text_clean() never writes a control character or past
 * `size`; base64_decode() of anything and base64_encode() round trips. */
#include "core/base/base64.h"
#include "tests/fuzz/fuzz.h"
#include "core/base/buf.h"
#include "core/base/text.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const size_t sizes[] = { 1, 2, 4, 8, 17, 64, 200, 4096 };
	char out[4096 + 8];
	char *dec = NULL, *dec2 = NULL;
	size_t i, k, n, declen = 0, declen2 = 0;
	struct buf b = BUF_INIT;

	for (k = 0; k < sizeof(sizes) / sizeof(sizes[0]); k++) {
		memset(out, 'X', sizeof(out));
		n = text_clean(out, sizes[k], (const char *)data, size);
		FUZZ_ASSERT(n < sizes[k] && out[n] == 0);
		FUZZ_ASSERT(out[sizes[k]] == 'X');
		for (i = 0; i < n; i++) {
			unsigned char ch = (unsigned char)out[i];

			FUZZ_ASSERT(ch >= ' ' && ch != 0x7f);
		}
	}
	if (base64_decode(&dec, &declen, (const char *)data, size) == 0) {
		FUZZ_ASSERT(dec && dec[declen] == 0);
		FUZZ_ASSERT(base64_encode(&b, dec, declen) == 0);
		FUZZ_ASSERT(b.len == size);	/* strict length and padding */
		FUZZ_ASSERT(base64_decode(&dec2, &declen2, b.data, b.len) == 0);
		FUZZ_ASSERT(declen2 == declen && !memcmp(dec, dec2, declen));
	}
	buf_reset(&b);
	FUZZ_ASSERT(base64_encode(&b, (const char *)data, size) == 0);
	free(dec2);
	dec2 = NULL;
	FUZZ_ASSERT(base64_decode(&dec2, &declen2, b.data, b.len) == 0);
	FUZZ_ASSERT(declen2 == size && !memcmp(dec2, data, size));
	free(dec);
	free(dec2);
	buf_release(&b);
	return 0;
}

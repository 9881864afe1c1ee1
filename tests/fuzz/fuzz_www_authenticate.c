/* fuzz_www_authenticate.c - wire_parse_challenges_len(): the caps hold, and
 * a failed call leaves what earlier calls appended as it was. */
#include "tests/fuzz/fuzz.h"
#include "core/base/err.h"
#include "registry/wire.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct err e = ERR_INIT;
	struct wire_challenges c = WIRE_CHALLENGES_INIT;
	size_t i, j, before;

	if (wire_parse_challenges_len(&c, (const char *)data, size, &e) == 0) {
		FUZZ_ASSERT(c.n <= WIRE_MAX_CHALLENGES);
		for (i = 0; i < c.n; i++) {
			const struct wire_challenge *ch = &c.v[i];

			FUZZ_ASSERT(ch->scheme && *ch->scheme);
			FUZZ_ASSERT(ch->names.n == ch->values.n);
			FUZZ_ASSERT(ch->names.n <= WIRE_MAX_PARAMS);
			FUZZ_ASSERT(wire_challenges_find(&c, ch->scheme) != NULL);
			for (j = 0; j < ch->names.n; j++)
				FUZZ_ASSERT(wire_challenge_param(ch, ch->names.v[j]) != NULL);
			(void)wire_challenge_param(ch, "realm");
		}
		/* Appending the same header again: all or nothing. */
		before = c.n;
		if (wire_parse_challenges_len(&c, (const char *)data, size, &e))
			FUZZ_ASSERT(c.n == before);
		else
			FUZZ_ASSERT(c.n == 2 * before);
	}
	wire_challenges_release(&c);
	return 0;
}

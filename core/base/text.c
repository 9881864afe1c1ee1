/* text.c - see text.h. */
#include "core/base/text.h"

#include "core/base/buf.h"
#include "core/base/err.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* ---- server text ---- */

/* Length of the valid UTF-8 sequence at s (1..4), with its code point, or
 * 0 when the bytes are not valid UTF-8. */
static size_t utf8_seq(const unsigned char *s, size_t len, uint32_t *cp)
{
	size_t n, i;
	uint32_t v;

	if (s[0] < 0x80) {
		*cp = s[0];
		return 1;
	} else if (s[0] >= 0xc2 && s[0] <= 0xdf) {
		n = 2;
		v = s[0] & 0x1f;
	} else if (s[0] >= 0xe0 && s[0] <= 0xef) {
		n = 3;
		v = s[0] & 0x0f;
	} else if (s[0] >= 0xf0 && s[0] <= 0xf4) {
		n = 4;
		v = s[0] & 0x07;
	} else {
		return 0;
	}
	if (len < n)
		return 0;
	for (i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		v = (v << 6) | (s[i] & 0x3f);
	}
	if ((n == 3 && v < 0x800) || (n == 4 && (v < 0x10000 || v > 0x10ffff)) ||
	    (v >= 0xd800 && v <= 0xdfff))
		return 0;
	*cp = v;
	return n;
}

static int unsafe_cp(uint32_t cp)
{
	return cp < 0x20 || cp == 0x7f || (cp >= 0x80 && cp <= 0x9f) ||
	       (cp >= 0x200e && cp <= 0x200f) || (cp >= 0x2028 && cp <= 0x202e) ||
	       (cp >= 0x2066 && cp <= 0x2069);
}

/* Bytes that the character at s[0] takes in the input (*in) and in the
 * cleaned output (return value). */
static size_t clean_step(const unsigned char *s, size_t len, size_t *in)
{
	uint32_t cp;
	size_t n = utf8_seq(s, len, &cp);

	*in = n ? n : 1;
	return !n || unsafe_cp(cp) ? 1 : n;
}

size_t text_clean(char *out, size_t size, const char *s, size_t len)
{
	const unsigned char *u = (const unsigned char *)s;
	size_t i, o, in, w, room, limit, total = 0;

	if (!size)
		return 0;
	room = size - 1;
	for (i = 0; i < len && total <= room; i += in)
		total += clean_step(u + i, len - i, &in);
	limit = total <= room ? room : room >= 3 ? room - 3 : room;
	for (i = 0, o = 0; i < len; i += in) {
		w = clean_step(u + i, len - i, &in);
		if (o + w > limit)
			break;
		if (w == 1 && (in != 1 || u[i] < 0x20 || u[i] == 0x7f || u[i] >= 0x80))
			out[o] = '?';
		else
			memcpy(out + o, u + i, w);
		o += w;
	}
	if (i < len && room >= 3) {
		memcpy(out + o, "...", 3);
		o += 3;
	}
	out[o] = '\0';
	return o;
}

char *text_dup(const char *s)
{
	return s ? strdup(s) : NULL;
}

void text_quote(char *out, size_t outlen, const char *s)
{
	if (!s)
		s = "(null)";
	text_clean(out, outlen < 88 ? outlen : 88, s, strlen(s));
}

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

/* ---- base64 (standard alphabet, padded; strict about the alphabet, the
 * length and the padding, lenient about unused trailing bits as Go is) ---- */

static const char b64_chars[] =
	"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

static int b64_val(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

/* *out is malloc'd and NUL-terminated (the caller zeroes and frees it). */
int base64_decode(char **out, size_t *outlen, const char *s, size_t len)
{
	unsigned char *d;
	size_t i, o = 0, pad = 0;
	int v[4], k, ret = ERR_INVALID;

	*out = NULL;
	*outlen = 0;
	if (len % 4)
		return ERR_INVALID;
	if (len && s[len - 1] == '=')
		pad = (len > 1 && s[len - 2] == '=') ? 2 : 1;
	d = malloc(len / 4 * 3 + 1);
	if (!d)
		return ERR_NOMEM;
	for (i = 0; i < len; i += 4) {
		for (k = 0; k < 4; k++) {
			if (i + 4 == len && k >= 4 - (int)pad) {
				v[k] = 0;
				continue;
			}
			v[k] = b64_val((unsigned char)s[i + k]);
			if (v[k] < 0)
				goto out;
		}
		d[o++] = (unsigned char)(v[0] << 2 | v[1] >> 4);
		d[o++] = (unsigned char)((v[1] & 0xf) << 4 | v[2] >> 2);
		d[o++] = (unsigned char)((v[2] & 0x3) << 6 | v[3]);
	}
	o -= pad;
	d[o] = '\0';
	*out = (char *)d;
	*outlen = o;
	d = NULL;
	ret = 0;
out:
	if (d) {
		explicit_bzero(d, len / 4 * 3 + 1);
		free(d);
	}
	return ret;
}

int base64_encode(struct buf *out, const char *data, size_t len)
{
	const unsigned char *p = (const unsigned char *)data;
	size_t i;
	unsigned v;
	char q[4];

	if (len > SIZE_MAX / 2)
		return ERR_NOMEM;
	if (buf_grow(out, (len + 2) / 3 * 4))
		return ERR_NOMEM;
	for (i = 0; i < len; i += 3) {
		v = (unsigned)p[i] << 16;
		if (i + 1 < len)
			v |= (unsigned)p[i + 1] << 8;
		if (i + 2 < len)
			v |= p[i + 2];
		q[0] = b64_chars[v >> 18 & 63];
		q[1] = b64_chars[v >> 12 & 63];
		q[2] = i + 1 < len ? b64_chars[v >> 6 & 63] : '=';
		q[3] = i + 2 < len ? b64_chars[v & 63] : '=';
		buf_add(out, q, 4);
	}
	explicit_bzero(&v, sizeof(v));
	return buf_failed(out) ? ERR_NOMEM : 0;
}


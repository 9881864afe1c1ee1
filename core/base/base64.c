/* base64.c - see base64.h. */
#include "core/base/base64.h"

#include "core/base/buf.h"
#include "core/base/err.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

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

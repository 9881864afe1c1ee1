/* mediatype.c - see mediatype.h. */
#include "core/model/mediatype.h"

#include <stddef.h>
#include <string.h>
#include <strings.h>

/* Length of the type/subtype part: up to ';' with trailing blanks cut. */
static size_t mt_base_len(const char *s)
{
	size_t n = strcspn(s, ";");

	while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t'))
		n--;
	return n;
}

static int mt_is_name_char(char c, int first)
{
	if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'))
		return 1;
	return !first && c && strchr("!#$&^_.+-", c) != NULL;
}

/* One RFC 6838 restricted-name of 1..127 characters; returns its length or 0. */
static size_t mt_name_len(const char *s, size_t len)
{
	size_t i;

	if (len == 0 || !mt_is_name_char(s[0], 1))
		return 0;
	for (i = 1; i < len && i < 127 && mt_is_name_char(s[i], 0); i++)
		;
	return i;
}

int mediatype_valid(const char *s)
{
	size_t len, n;

	if (!s)
		return 0;
	len = strlen(s);
	n = mt_name_len(s, len);
	if (!n || n >= len || s[n] != '/')
		return 0;
	s += n + 1;
	len -= n + 1;
	n = mt_name_len(s, len);
	return n && n == len;
}

int mediatype_equal(const char *a, const char *b)
{
	size_t la, lb;

	if (!a || !b)
		return 0;
	la = mt_base_len(a);
	lb = mt_base_len(b);
	return la == lb && !strncasecmp(a, b, la);
}

/* Every type hoist knows, with what it says of its blob. */
static const struct mt_info {
	const char *mt;
	enum mt_kind kind;
	enum mediatype_family family;
	unsigned layer;		/* enum mediatype_layer_bits */
} mt_table[] = {
	{ MT_OCI_MANIFEST, MT_KIND_MANIFEST, MT_FAMILY_OCI, 0 },
	{ MT_DOCKER_MANIFEST, MT_KIND_MANIFEST, MT_FAMILY_DOCKER, 0 },
	{ MT_OCI_INDEX, MT_KIND_INDEX, MT_FAMILY_OCI, 0 },
	{ MT_DOCKER_LIST, MT_KIND_INDEX, MT_FAMILY_DOCKER, 0 },
	{ MT_OCI_CONFIG, MT_KIND_CONFIG, MT_FAMILY_OCI, 0 },
	{ MT_DOCKER_CONFIG, MT_KIND_CONFIG, MT_FAMILY_DOCKER, 0 },
	{ MT_OCI_LAYER, MT_KIND_LAYER, MT_FAMILY_OCI, 0 },
	{ MT_OCI_LAYER_GZIP, MT_KIND_LAYER, MT_FAMILY_OCI, MT_LAYER_GZIP },
	{ MT_OCI_LAYER_ZSTD, MT_KIND_LAYER, MT_FAMILY_OCI, MT_LAYER_ZSTD },
	{ MT_OCI_LAYER_ND, MT_KIND_LAYER, MT_FAMILY_OCI, MT_LAYER_FOREIGN },
	{ MT_OCI_LAYER_ND_GZIP, MT_KIND_LAYER, MT_FAMILY_OCI, MT_LAYER_FOREIGN | MT_LAYER_GZIP },
	{ MT_OCI_LAYER_ND_ZSTD, MT_KIND_LAYER, MT_FAMILY_OCI, MT_LAYER_FOREIGN | MT_LAYER_ZSTD },
	{ MT_DOCKER_LAYER_TAR, MT_KIND_LAYER, MT_FAMILY_DOCKER, 0 },
	{ MT_DOCKER_LAYER, MT_KIND_LAYER, MT_FAMILY_DOCKER, MT_LAYER_GZIP },
	{ MT_DOCKER_LAYER_FOREIGN_TAR, MT_KIND_LAYER, MT_FAMILY_DOCKER, MT_LAYER_FOREIGN },
	{ MT_DOCKER_LAYER_FOREIGN, MT_KIND_LAYER, MT_FAMILY_DOCKER,
	  MT_LAYER_FOREIGN | MT_LAYER_GZIP },
	{ MT_OCI_EMPTY, MT_KIND_UNKNOWN, MT_FAMILY_OCI, 0 },
	{ MT_DOCKER_SCHEMA1, MT_KIND_SCHEMA1, MT_FAMILY_DOCKER, 0 },
	{ MT_DOCKER_SCHEMA1_SIGNED, MT_KIND_SCHEMA1, MT_FAMILY_DOCKER, 0 },
};
#define MT_TABLE_LEN (sizeof(mt_table) / sizeof(mt_table[0]))

static const struct mt_info *mt_find(const char *media_type)
{
	size_t i;

	if (!media_type)
		return NULL;
	for (i = 0; i < MT_TABLE_LEN; i++)
		if (mediatype_equal(media_type, mt_table[i].mt))
			return &mt_table[i];
	return NULL;
}

enum mt_kind mediatype_classify(const char *media_type)
{
	const struct mt_info *t = mt_find(media_type);

	return t ? t->kind : MT_KIND_UNKNOWN;
}

enum mediatype_family mediatype_family(const char *media_type)
{
	const struct mt_info *t = mt_find(media_type);

	return t ? t->family : MT_FAMILY_NONE;
}

unsigned mediatype_layer_bits(const char *media_type)
{
	const struct mt_info *t = mt_find(media_type);

	return t && t->kind == MT_KIND_LAYER ? t->layer : 0;
}

const char *mediatype_convert(const char *media_type, enum mediatype_family family)
{
	const struct mt_info *t = mt_find(media_type);
	size_t i;

	if (!t || t->family == family || family == MT_FAMILY_NONE)
		return media_type;
	for (i = 0; i < MT_TABLE_LEN; i++)
		if (mt_table[i].family == family && mt_table[i].kind == t->kind &&
		    mt_table[i].layer == t->layer && t->kind != MT_KIND_UNKNOWN &&
		    t->kind != MT_KIND_SCHEMA1)
			return mt_table[i].mt;
	return NULL;
}

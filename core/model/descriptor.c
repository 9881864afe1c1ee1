/* descriptor.c - media types, key/value lists and OCI content descriptors. */
#include "core/base/base64.h"
#include "core/base/strvec.h"
#include "core/model/manifest.h"

#include "core/base/err.h"
#include "core/base/text.h"
#include "core/base/json.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* ---- media types ---- */

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

/* ---- kvlist ---- */

void kvlist_init(struct kvlist *kv)
{
	strvec_init(&kv->keys);
	strvec_init(&kv->values);
}

void kvlist_release(struct kvlist *kv)
{
	strvec_clear(&kv->keys);
	strvec_clear(&kv->values);
}

int kvlist_set(struct kvlist *kv, const char *key, const char *value)
{
	long i = strvec_find(&kv->keys, key);
	char *v;
	int rc;

	if (i >= 0) {
		v = strdup(value);
		if (!v)
			return ERR_NOMEM;
		free(kv->values.v[i]);
		kv->values.v[i] = v;
		return 0;
	}
	rc = strvec_push(&kv->keys, key);
	if (rc < 0)
		return rc;
	rc = strvec_push(&kv->values, value);
	if (rc < 0) {
		kv->keys.n--;
		free(kv->keys.v[kv->keys.n]);
		kv->keys.v[kv->keys.n] = NULL;
	}
	return rc;
}

const char *kvlist_get(const struct kvlist *kv, const char *key)
{
	long i = strvec_find(&kv->keys, key);

	return i >= 0 ? kv->values.v[i] : NULL;
}

int kvlist_copy(struct kvlist *out, const struct kvlist *src)
{
	size_t i;
	int rc;

	kvlist_init(out);
	for (i = 0; i < src->keys.n; i++) {
		rc = kvlist_set(out, src->keys.v[i], src->values.v[i]);
		if (rc < 0) {
			kvlist_release(out);
			return rc;
		}
	}
	return 0;
}

/* ---- JSON helpers shared with manifest.c ---- */

/* A string without embedded NUL ("\u0000"), which would truncate silently. */
static const char *plain_str(const struct json *j)
{
	const char *s = json_str(j);

	if (s && strlen(s) != json_str_len(j))
		return NULL;
	return s;
}

struct annot_arg {
	struct kvlist *kv;
	const char *what;
	struct err *e;
};

static int annot_one(const char *key, struct json *val, void *argp)
{
	struct annot_arg *arg = argp;
	const char *v = plain_str(val);
	char q[96];

	if (!v) {
		text_quote(q, sizeof(q), key);
		return err_set(arg->e, ERR_INVALID, "%s: annotation '%s' must have a string value",
			       arg->what, q);
	}
	if (kvlist_set(arg->kv, key, v) < 0)
		return err_set(arg->e, ERR_NOMEM, "%s: out of memory", arg->what);
	return 0;
}

int kvlist_from_json(struct kvlist *out, const struct json *j, const char *what,
			struct err *e)
{
	struct annot_arg arg = { out, what, e };

	if (!j || json_kind_of(j) == JSON_NULL)
		return 0;
	if (json_kind_of(j) != JSON_OBJECT)
		return err_set(e, ERR_INVALID, "%s: annotations must be an object of strings",
			       what);
	return json_obj_each(j, annot_one, &arg);
}


/* ---- platforms (filled here directly: see manifest.h) ---- */

static void desc_platform_free(struct platform *p)
{
	if (!p)
		return;
	free(p->os);
	free(p->arch);
	free(p->variant);
	free(p->os_version);
	strvec_clear(&p->os_features);
	free(p);
}

static struct platform *desc_platform_new(void)
{
	struct platform *p = calloc(1, sizeof(*p));

	if (p)
		strvec_init(&p->os_features);
	return p;
}

static struct platform *desc_platform_dup(const struct platform *src)
{
	struct platform *p = desc_platform_new();
	size_t i;

	if (!p)
		return NULL;
	if ((src->os && !(p->os = strdup(src->os))) ||
	    (src->arch && !(p->arch = strdup(src->arch))) ||
	    (src->variant && !(p->variant = strdup(src->variant))) ||
	    (src->os_version && !(p->os_version = strdup(src->os_version))))
		goto fail;
	for (i = 0; i < src->os_features.n; i++)
		if (strvec_push(&p->os_features, src->os_features.v[i]) < 0)
			goto fail;
	return p;
fail:
	desc_platform_free(p);
	return NULL;
}

/* Reads an optional string member into *out (strdup'd); ERR_INVALID if it
 * is there but not a plain string, or empty when `nonempty`. */
static int get_opt_str(char **out, const struct json *obj, const char *key, int nonempty,
		       const char *what, struct err *e)
{
	struct json *v = json_get(obj, key);
	const char *s;

	*out = NULL;
	if (!v)
		return 0;
	s = plain_str(v);
	if (!s || (nonempty && !*s))
		return err_set(e, ERR_INVALID, "%s: '%s' must be a%s string", what, key,
			       nonempty ? " non-empty" : "");
	*out = strdup(s);
	if (!*out)
		return err_set(e, ERR_NOMEM, "%s: out of memory", what);
	return 0;
}

/* Reads an optional array of plain strings. */
static int get_str_array(struct strvec *out, const struct json *obj, const char *key,
			 const char *what, struct err *e)
{
	struct json *arr = json_get(obj, key);
	size_t i, n;
	const char *s;

	if (!arr)
		return 0;
	if (json_kind_of(arr) != JSON_ARRAY)
		return err_set(e, ERR_INVALID, "%s: '%s' must be an array of strings", what, key);
	n = json_array_len(arr);
	for (i = 0; i < n; i++) {
		s = plain_str(json_array_get(arr, i));
		if (!s || !*s)
			return err_set(e, ERR_INVALID, "%s: %s[%zu] must be a non-empty string",
				       what, key, i);
		if (strvec_push(out, s) < 0)
			return err_set(e, ERR_NOMEM, "%s: out of memory", what);
	}
	return 0;
}

int platform_from_json(struct platform *p, const struct json *j, const char *what,
				struct err *e)
{
	int rc;

	if ((rc = get_opt_str(&p->os, j, "os", 1, what, e)) < 0 ||
	    (rc = get_opt_str(&p->arch, j, "architecture", 1, what, e)) < 0 ||
	    (rc = get_opt_str(&p->variant, j, "variant", 0, what, e)) < 0 ||
	    (rc = get_opt_str(&p->os_version, j, "os.version", 0, what, e)) < 0 ||
	    (rc = get_str_array(&p->os_features, j, "os.features", what, e)) < 0)
		return rc;
	if (!p->os || !p->arch)
		return err_set(e, ERR_INVALID, "%s: 'os' and 'architecture' are required",
			       what);
	/* An empty optional field means "none". */
	if (p->variant && !*p->variant) {
		free(p->variant);
		p->variant = NULL;
	}
	if (p->os_version && !*p->os_version) {
		free(p->os_version);
		p->os_version = NULL;
	}
	return 0;
}

/* ---- descriptors ---- */

void descriptor_init(struct descriptor *d)
{
	d->media_type = NULL;
	memset(&d->digest, 0, sizeof(d->digest));
	d->size = 0;
	d->artifact_type = NULL;
	d->platform = NULL;
	kvlist_init(&d->annotations);
	strvec_init(&d->urls);
	d->data = NULL;
	d->data_len = 0;
}

void descriptor_release(struct descriptor *d)
{
	free(d->media_type);
	free(d->artifact_type);
	desc_platform_free(d->platform);
	kvlist_release(&d->annotations);
	strvec_clear(&d->urls);
	free(d->data);
	descriptor_init(d);
}

int descriptor_copy(struct descriptor *out, const struct descriptor *src)
{
	size_t i;
	int ret = ERR_NOMEM;

	descriptor_init(out);
	out->digest = src->digest;
	out->size = src->size;
	if ((src->media_type && !(out->media_type = strdup(src->media_type))) ||
	    (src->artifact_type && !(out->artifact_type = strdup(src->artifact_type))) ||
	    (src->platform && !(out->platform = desc_platform_dup(src->platform))))
		goto out;
	if (kvlist_copy(&out->annotations, &src->annotations) < 0)
		goto out;
	for (i = 0; i < src->urls.n; i++)
		if (strvec_push(&out->urls, src->urls.v[i]) < 0)
			goto out;
	if (src->data) {
		out->data = malloc(src->data_len + 1);
		if (!out->data)
			goto out;
		memcpy(out->data, src->data, src->data_len);
		out->data[src->data_len] = '\0';
		out->data_len = src->data_len;
	}
	ret = 0;
out:
	if (ret < 0)
		descriptor_release(out);
	return ret;
}

/* Checks the embedded "data" against size and digest. */
static int descriptor_check_data(struct descriptor *d, const char *what, struct err *e)
{
	struct digest got;
	int rc;

	if ((int64_t)d->data_len != d->size)
		return err_set(e, ERR_DIGEST,
			       "%s: embedded data is %zu bytes but the size says %lld; "
			       "the document is corrupt or was tampered with",
			       what, d->data_len, (long long)d->size);
	rc = digest_buffer(&got, d->digest.alg, d->data, d->data_len, e);
	if (rc < 0)
		return err_prefix(e, "%s", what);
	if (!digest_equal(&got, &d->digest))
		return err_set(e, ERR_DIGEST,
			       "%s: embedded data hashes to %s, not %s; "
			       "the document is corrupt or was tampered with",
			       what, got.str, d->digest.str);
	return 0;
}

int descriptor_from_json(struct descriptor *out, const struct json *j, const char *what,
			 struct err *e)
{
	struct json *v;
	const char *s;
	char q[96], pwhat[128];
	int rc, ret;

	descriptor_init(out);
	if (!what)
		what = "descriptor";
	if (json_kind_of(j) != JSON_OBJECT) {
		ret = err_set(e, ERR_INVALID, "%s: a descriptor must be a JSON object", what);
		goto out;
	}

	v = json_get(j, "mediaType");
	s = plain_str(v);
	if (!v) {
		ret = err_set(e, ERR_INVALID, "%s: missing mediaType", what);
		goto out;
	}
	if (!mediatype_valid(s)) {
		text_quote(q, sizeof(q), s ? s : "(not a string)");
		ret = err_set(e, ERR_INVALID, "%s: invalid mediaType '%s' (want type/subtype)",
			      what, q);
		goto out;
	}
	if (!(out->media_type = strdup(s)))
		goto nomem;

	v = json_get(j, "digest");
	s = plain_str(v);
	if (!s) {
		ret = err_set(e, ERR_INVALID, "%s: %s digest", what,
			      v ? "non-string" : "missing");
		goto out;
	}
	ret = digest_parse(&out->digest, s, e);
	if (ret < 0) {
		err_prefix(e, "%s", what);
		goto out;
	}

	rc = json_get_int64(j, "size", &out->size);
	if (rc == ERR_NOT_FOUND) {
		ret = err_set(e, ERR_INVALID, "%s: missing size", what);
		goto out;
	}
	if (rc < 0 || out->size < 0 || out->size >= ((int64_t)1 << 62)) {
		ret = err_set(e, ERR_INVALID, "%s: size must be an integer from 0 to 2^62-1",
			      what);
		goto out;
	}

	ret = get_opt_str(&out->artifact_type, j, "artifactType", 0, what, e);
	if (ret < 0)
		goto out;
	if (out->artifact_type && !mediatype_valid(out->artifact_type)) {
		text_quote(q, sizeof(q), out->artifact_type);
		ret = err_set(e, ERR_INVALID, "%s: invalid artifactType '%s' (want type/subtype)",
			      what, q);
		goto out;
	}

	ret = get_str_array(&out->urls, j, "urls", what, e);
	if (ret < 0)
		goto out;
	ret = kvlist_from_json(&out->annotations, json_get(j, "annotations"), what, e);
	if (ret < 0)
		goto out;

	v = json_get(j, "platform");
	if (v) {
		snprintf(pwhat, sizeof(pwhat), "%s: platform", what);
		if (json_kind_of(v) != JSON_OBJECT) {
			ret = err_set(e, ERR_INVALID, "%s: platform must be an object", what);
			goto out;
		}
		if (!(out->platform = desc_platform_new()))
			goto nomem;
		ret = platform_from_json(out->platform, v, pwhat, e);
		if (ret < 0)
			goto out;
	}

	v = json_get(j, "data");
	if (v) {
		s = json_str(v);
		if (!s) {
			ret = err_set(e, ERR_INVALID, "%s: data must be a base64 string", what);
			goto out;
		}
		rc = base64_decode(&out->data, &out->data_len, s, json_str_len(v));
		if (rc == ERR_NOMEM)
			goto nomem;
		if (rc < 0) {
			ret = err_set(e, ERR_INVALID, "%s: data is not valid base64", what);
			goto out;
		}
		ret = descriptor_check_data(out, what, e);
		if (ret < 0)
			goto out;
	}
	return 0;
nomem:
	ret = err_set(e, ERR_NOMEM, "%s: out of memory", what);
out:
	descriptor_release(out);
	return ret;
}

static int cmp_str_ptr(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static struct json *platform_to_json(const struct platform *p)
{
	struct json *o = json_new_object(), *arr;
	size_t i;

	if (!o)
		return NULL;
	if ((p->arch && json_set_str(o, "architecture", p->arch) < 0) ||
	    (p->os && json_set_str(o, "os", p->os) < 0) ||
	    (p->os_version && json_set_str(o, "os.version", p->os_version) < 0))
		goto fail;
	if (p->os_features.n) {
		if (!(arr = json_new_array()) || json_set(o, "os.features", arr) < 0)
			goto fail;
		for (i = 0; i < p->os_features.n; i++)
			if (json_append(arr, json_new_string(p->os_features.v[i])) < 0)
				goto fail;
	}
	if (p->variant && json_set_str(o, "variant", p->variant) < 0)
		goto fail;
	return o;
fail:
	json_free(o);
	return NULL;
}

struct json *descriptor_to_json(const struct descriptor *d)
{
	struct json *o = json_new_object(), *sub;
	const char **keys = NULL;
	struct buf b64 = BUF_INIT;
	size_t i;

	if (!o)
		return NULL;
	if (json_set_str(o, "mediaType", d->media_type ? d->media_type : "") < 0 ||
	    json_set_str(o, "digest", d->digest.str) < 0 ||
	    json_set_int64(o, "size", d->size) < 0)
		goto fail;
	if (d->urls.n) {
		if (!(sub = json_new_array()) || json_set(o, "urls", sub) < 0)
			goto fail;
		for (i = 0; i < d->urls.n; i++)
			if (json_append(sub, json_new_string(d->urls.v[i])) < 0)
				goto fail;
	}
	if (d->annotations.keys.n) {
		/* Go writes map keys sorted. */
		keys = malloc(d->annotations.keys.n * sizeof(*keys));
		if (!keys || !(sub = json_new_object()) || json_set(o, "annotations", sub) < 0)
			goto fail;
		for (i = 0; i < d->annotations.keys.n; i++)
			keys[i] = d->annotations.keys.v[i];
		qsort(keys, d->annotations.keys.n, sizeof(*keys), cmp_str_ptr);
		for (i = 0; i < d->annotations.keys.n; i++)
			if (json_set_str(sub, keys[i], kvlist_get(&d->annotations, keys[i])) < 0)
				goto fail;
		free(keys);
		keys = NULL;
	}
	if (d->data && d->data_len) {
		int rc = base64_encode(&b64, d->data, d->data_len);
		if (!rc)
			rc = json_set(o, "data", json_new_string(b64.data));
		buf_release(&b64);
		if (rc < 0)
			goto fail;
	}
	if (d->platform && json_set(o, "platform", platform_to_json(d->platform)) < 0)
		goto fail;
	if (d->artifact_type && *d->artifact_type &&
	    json_set_str(o, "artifactType", d->artifact_type) < 0)
		goto fail;
	return o;
fail:
	free(keys);
	json_free(o);
	return NULL;
}

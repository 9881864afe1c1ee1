/* descriptor.c - OCI content descriptors.  See descriptor.h. */
#include "core/model/descriptor.h"

#include "core/base/base64.h"
#include "core/base/err.h"
#include "core/base/json.h"
#include "core/base/strvec.h"
#include "core/base/text.h"
#include "core/model/mediatype.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

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
	platform_free(d->platform);
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
	    (src->platform && !(out->platform = platform_dup(src->platform))))
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
	s = json_plain_str(v);
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
	s = json_plain_str(v);
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

	ret = json_get_opt_str(&out->artifact_type, j, "artifactType", 0, what, e);
	if (ret < 0)
		goto out;
	if (out->artifact_type && !mediatype_valid(out->artifact_type)) {
		text_quote(q, sizeof(q), out->artifact_type);
		ret = err_set(e, ERR_INVALID, "%s: invalid artifactType '%s' (want type/subtype)",
			      what, q);
		goto out;
	}

	ret = json_get_str_array(&out->urls, j, "urls", what, e);
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
		if (!(out->platform = platform_new()))
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

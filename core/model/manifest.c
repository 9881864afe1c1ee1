/* manifest.c - image manifests and indexes.  See manifest.h. */
#include "core/model/manifest.h"

#include "core/base/err.h"
#include "core/base/json.h"
#include "core/base/strvec.h"
#include "core/base/text.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define SCHEMA1_MSG "Docker schema 1 manifest: this format is deprecated and unsupported; " \
	"ask the image's publisher to push it again with a current tool (Docker schema 2 or OCI)"

void manifest_init(struct manifest *m)
{
	buf_init(&m->raw, 0);
	memset(&m->digest, 0, sizeof(m->digest));
	m->media_type = NULL;
	m->kind = MT_KIND_UNKNOWN;
	m->schema_version = 0;
	m->artifact_type = NULL;
	descriptor_init(&m->config);
	m->layers = NULL;
	m->n_layers = 0;
	m->manifests = NULL;
	m->n_manifests = 0;
	m->subject = NULL;
	kvlist_init(&m->annotations);
}

static void descriptors_free(struct descriptor *d, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		descriptor_release(&d[i]);
	free(d);
}

void manifest_release(struct manifest *m)
{
	buf_release(&m->raw);
	free(m->media_type);
	free(m->artifact_type);
	descriptor_release(&m->config);
	descriptors_free(m->layers, m->n_layers);
	descriptors_free(m->manifests, m->n_manifests);
	if (m->subject) {
		descriptor_release(m->subject);
		free(m->subject);
	}
	kvlist_release(&m->annotations);
	manifest_init(m);
}

/* A Content-Type that says nothing about which kind of manifest this is. */
static int mt_is_generic(const char *mt)
{
	return !mt || !*mt || mediatype_equal(mt, "application/json") ||
	       mediatype_equal(mt, "application/octet-stream") || mediatype_equal(mt, "text/plain");
}

/* Parses the array `key` of descriptors into *out / *n. */
static int parse_descriptors(struct descriptor **out, size_t *n, const struct json *doc,
			     const char *key, struct err *e)
{
	struct json *arr = json_get(doc, key);
	size_t i, len;
	char what[64];
	int rc;

	*out = NULL;
	*n = 0;
	if (json_kind_of(arr) != JSON_ARRAY)
		return err_set(e, ERR_INVALID, "%s '%s' array", arr ? "non-array" : "missing",
			       key);
	len = json_array_len(arr);
	if (!len)
		return 0;
	*out = calloc(len, sizeof(**out));
	if (!*out)
		return err_set(e, ERR_NOMEM, "out of memory reading '%s'", key);
	for (i = 0; i < len; i++) {
		snprintf(what, sizeof(what), "%s[%zu]", key, i);
		rc = descriptor_from_json(&(*out)[i], json_array_get(arr, i), what, e);
		if (rc < 0)
			return rc;
		*n = i + 1;
	}
	return 0;
}

/* Decides the media type: the document's wins, must agree with a specific
 * hint; else the hint; else inferred from the members present. */
static int manifest_media_type(struct manifest *m, const struct json *doc, const char *hint,
			       struct err *e)
{
	struct json *v = json_get(doc, "mediaType");
	const char *doc_mt = json_str(v);
	int has_manifests = json_get(doc, "manifests") != NULL;
	int has_image = json_get(doc, "config") || json_get(doc, "layers");
	char q1[96], q2[96];
	const char *mt;
	size_t len;

	if (v && (!doc_mt || !mediatype_valid(doc_mt) || strlen(doc_mt) != json_str_len(v))) {
		text_quote(q1, sizeof(q1), doc_mt ? doc_mt : "(not a string)");
		return err_set(e, ERR_INVALID, "invalid mediaType '%s' (want type/subtype)", q1);
	}
	if (doc_mt && !mt_is_generic(hint) && !mediatype_equal(doc_mt, hint)) {
		text_quote(q1, sizeof(q1), doc_mt);
		text_quote(q2, sizeof(q2), hint);
		return err_set(e, ERR_INVALID,
			       "media type mismatch: the document says '%s' but it was served or "
			       "referenced as '%s'; the registry or the referring index is wrong",
			       q1, q2);
	}
	if (has_manifests && has_image)
		return err_set(e, ERR_INVALID,
			       "ambiguous document: it has both 'manifests' (an index) and "
			       "'config'/'layers' (an image manifest)");
	if (doc_mt)
		mt = doc_mt;
	else if (!mt_is_generic(hint))
		mt = hint;
	else if (has_manifests)
		mt = MT_OCI_INDEX;
	else if (has_image)
		mt = MT_OCI_MANIFEST;
	else
		return err_set(e, ERR_INVALID,
			       "no mediaType, and neither 'manifests' nor 'config' and 'layers': "
			       "not an image manifest or index");
	m->kind = mediatype_classify(mt);
	if (m->kind == MT_KIND_SCHEMA1)
		return err_set(e, ERR_UNSUPPORTED, SCHEMA1_MSG);
	if (m->kind != MT_KIND_MANIFEST && m->kind != MT_KIND_INDEX) {
		text_quote(q1, sizeof(q1), mt);
		return err_set(e, ERR_UNSUPPORTED,
			       "unsupported media type '%s': not an image manifest or index", q1);
	}
	if (mt == hint && ((m->kind == MT_KIND_INDEX && has_image) ||
			   (m->kind == MT_KIND_MANIFEST && has_manifests))) {
		text_quote(q2, sizeof(q2), hint);
		return err_set(e, ERR_INVALID,
			       "media type mismatch: the document is an %s but it was served or "
			       "referenced as '%s'; the registry or the referring index is wrong",
			       has_image ? "image manifest" : "index", q2);
	}
	/* a Content-Type's parameters are not part of the media type */
	len = strcspn(mt, ";");
	while (len > 0 && (mt[len - 1] == ' ' || mt[len - 1] == '\t'))
		len--;
	if (!(m->media_type = strndup(mt, len)))
		return err_set(e, ERR_NOMEM, "out of memory");
	return 0;
}

static int manifest_parse_doc(struct manifest *m, const struct json *doc, const char *hint,
			      struct err *e)
{
	struct json *v;
	const char *s;
	int64_t sv;
	char q[96];
	int rc;

	if (json_kind_of(doc) != JSON_OBJECT)
		return err_set(e, ERR_INVALID, "not a JSON object");
	s = json_get_str(doc, "mediaType");
	rc = json_get_int64(doc, "schemaVersion", &sv);
	if (mediatype_classify(s) == MT_KIND_SCHEMA1 ||
	    (rc == 0 && sv == 1))
		return err_set(e, ERR_UNSUPPORTED, SCHEMA1_MSG);
	if (rc == ERR_NOT_FOUND)
		return err_set(e, ERR_INVALID, "missing schemaVersion");
	if (rc < 0 || sv != 2)
		return err_set(e, ERR_INVALID, "unsupported schemaVersion (want 2)");
	m->schema_version = 2;

	rc = manifest_media_type(m, doc, hint, e);
	if (rc < 0)
		return rc;

	if (m->kind == MT_KIND_MANIFEST) {
		v = json_get(doc, "config");
		if (!v)
			return err_set(e, ERR_INVALID, "image manifest without 'config'");
		rc = descriptor_from_json(&m->config, v, "config", e);
		if (rc < 0)
			return rc;
		rc = parse_descriptors(&m->layers, &m->n_layers, doc, "layers", e);
	} else {
		rc = parse_descriptors(&m->manifests, &m->n_manifests, doc, "manifests", e);
	}
	if (rc < 0)
		return rc;

	v = json_get(doc, "subject");
	if (v) {
		m->subject = malloc(sizeof(*m->subject));
		if (!m->subject)
			return err_set(e, ERR_NOMEM, "out of memory");
		rc = descriptor_from_json(m->subject, v, "subject", e);
		if (rc < 0) {
			free(m->subject);
			m->subject = NULL;
			return rc;
		}
	}

	v = json_get(doc, "artifactType");
	if (v) {
		s = json_str(v);
		if (!mediatype_valid(s) || strlen(s) != json_str_len(v)) {
			text_quote(q, sizeof(q), s ? s : "(not a string)");
			return err_set(e, ERR_INVALID,
				       "invalid artifactType '%s' (want type/subtype)", q);
		}
		if (!(m->artifact_type = strdup(s)))
			return err_set(e, ERR_NOMEM, "out of memory");
	}
	return kvlist_from_json(&m->annotations, json_get(doc, "annotations"), "manifest", e);
}

int manifest_parse(struct manifest *out, const char *data, size_t len,
		   const char *media_type_hint, size_t max, struct err *e)
{
	struct json *doc = NULL;
	int ret;

	manifest_init(out);
	if (!data)
		data = "";
	if (!max)
		max = MANIFEST_MAX_DEFAULT;
	if (len > max) {
		ret = err_set(e, ERR_TOO_BIG,
			      "manifest of %zu bytes exceeds the limit of %zu bytes", len, max);
		goto out;
	}
	if (mediatype_classify(media_type_hint) == MT_KIND_SCHEMA1) {
		ret = err_set(e, ERR_UNSUPPORTED, SCHEMA1_MSG);
		goto out;
	}
	if (buf_add(&out->raw, data, len) < 0) {
		ret = err_set(e, ERR_NOMEM, "out of memory reading a manifest");
		goto out;
	}
	ret = digest_buffer(&out->digest, DIGEST_SHA256, data, len, e);
	if (ret < 0)
		goto out;
	ret = json_parse(&doc, data, len, e);
	if (ret < 0)
		goto out;
	ret = manifest_parse_doc(out, doc, media_type_hint, e);
out:
	json_free(doc);
	if (ret == ERR_INVALID || ret == ERR_DIGEST)
		err_prefix(e, "invalid manifest");
	if (ret < 0)
		manifest_release(out);
	return ret;
}

const struct descriptor *manifest_index_find(const struct manifest *index,
					     const struct platform *want)
{
	size_t i;

	if (index->kind != MT_KIND_INDEX)
		return NULL;
	for (i = 0; i < index->n_manifests; i++) {
		const struct descriptor *d = &index->manifests[i];
		if (d->platform && platform_match(want, d->platform))
			return d;
	}
	return NULL;
}

/* 1 when `mt` names an image layer, one hoist reads or not. */
static int mt_is_image_layer(const char *mt)
{
	static const char *const prefixes[] = { "application/vnd.oci.image.layer.",
						"application/vnd.docker.image.rootfs." };
	size_t i;

	if (mediatype_classify(mt) == MT_KIND_LAYER)
		return 1;
	for (i = 0; mt && i < sizeof(prefixes) / sizeof(prefixes[0]); i++)
		if (!strncasecmp(mt, prefixes[i], strlen(prefixes[i])))
			return 1;
	return 0;
}

int manifest_is_image(const struct manifest *m)
{
	size_t i;

	if (mediatype_classify(m->config.media_type) != MT_KIND_CONFIG &&
	    !(mediatype_equal(m->media_type, MT_DOCKER_MANIFEST) &&
	      mediatype_equal(m->config.media_type, MT_DOCKER_CONFIG_LEGACY)))
		return 0;
	for (i = 0; i < m->n_layers; i++)
		if (mt_is_image_layer(m->layers[i].media_type))
			return 1;
	return m->n_layers == 0;
}

/* ---- media type families of documents hoist writes ---- */

/* The media type of descriptor object `d` in `family` (NULL: none). */
static const char *family_desc_mt(const struct json *d, enum mediatype_family family)
{
	const char *mt = json_get_str(d, "mediaType");

	if (!mt)
		return "";	/* nothing to convert */
	if (mediatype_equal(mt, MT_DOCKER_CONFIG_LEGACY) && family == MT_FAMILY_OCI)
		return MT_OCI_CONFIG;
	return mediatype_convert(mt, family);
}

/* Non-zero when every descriptor of the image manifest JSON `j` has a
 * name in `family`. */
static int family_fits(const struct json *j, enum mediatype_family family)
{
	const struct json *layers = json_get(j, "layers");
	size_t i, n = json_array_len(layers);

	if (!family_desc_mt(json_get(j, "config"), family))
		return 0;
	for (i = 0; i < n; i++)
		if (!family_desc_mt(json_array_get(layers, i), family))
			return 0;
	return 1;
}

/* Renames the type of descriptor object `d` into `family`. */
static int family_set(struct json *d, enum mediatype_family family)
{
	const char *mt = family_desc_mt(d, family);

	if (!mt || !*mt || mt == json_get_str(d, "mediaType"))
		return 0;
	return json_set_str(d, "mediaType", mt) < 0 ? ERR_NOMEM : 0;
}

/* 1 when every entry of the index JSON `j` is a Docker manifest or list. */
static int family_index_docker(const struct json *j)
{
	const struct json *arr = json_get(j, "manifests");
	size_t i, n = json_array_len(arr);

	for (i = 0; i < n; i++)
		if (mediatype_family(json_get_str(json_array_get(arr, i), "mediaType")) !=
		    MT_FAMILY_DOCKER)
			return 0;
	return 1;
}

int manifest_json_family(const char **out, struct json *j, int docker)
{
	struct json *layers = json_get(j, "layers");
	enum mediatype_family family;
	const char *mt;
	size_t i, n = json_array_len(layers);

	if (json_get(j, "manifests")) {
		docker = docker && family_index_docker(j);
		mt = docker ? MT_DOCKER_LIST : MT_OCI_INDEX;
	} else {
		docker = docker && family_fits(j, MT_FAMILY_DOCKER);
		family = docker ? MT_FAMILY_DOCKER : MT_FAMILY_OCI;
		mt = docker ? MT_DOCKER_MANIFEST : MT_OCI_MANIFEST;
		if (json_get(j, "config") && family_set(json_get(j, "config"), family) < 0)
			return ERR_NOMEM;
		for (i = 0; i < n; i++)
			if (family_set(json_array_get(layers, i), family) < 0)
				return ERR_NOMEM;
	}
	if (json_set_str(j, "mediaType", mt) < 0)
		return ERR_NOMEM;
	if (docker)
		json_del(j, "annotations");
	if (out)
		*out = mt;
	return 0;
}

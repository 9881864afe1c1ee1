#define TEST_MODULE "manifest"
#include "core/model/imgconfig.h"
#include "tests/unit/test.h"

#include "core/base/buf.h"
#include "core/base/digest.h"
#include "core/base/err.h"
#include "core/base/json.h"
#include "core/model/manifest.h"
#include "core/model/platform.h"

#include <stdint.h>
#include <stdlib.h>

#define D_CFG "sha256:b5b2b2c507a0944348e0303114d8d93aaaa081732b86451d9bce1f432a537bc7"
#define D_L1 "sha256:a2abf6c4d29d43a4bf9fbb769f524d0fb36a2edab49819c1bf3e76f409f953ea"
#define D_L2 "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
#define D_AMD "sha256:1111111111111111111111111111111111111111111111111111111111111111"
#define D_ARM "sha256:2222222222222222222222222222222222222222222222222222222222222222"
#define D_ARM7 "sha256:3333333333333333333333333333333333333333333333333333333333333333"
#define D_WIN "sha256:4444444444444444444444444444444444444444444444444444444444444444"
/* sha256 of "{}" */
#define D_EMPTY "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a"

static const char oci_manifest[] =
	"{\n"
	"  \"schemaVersion\": 2,\n"
	"  \"mediaType\": \"application/vnd.oci.image.manifest.v1+json\",\n"
	"  \"config\": {\n"
	"    \"mediaType\": \"application/vnd.oci.image.config.v1+json\",\n"
	"    \"digest\": \"" D_CFG "\",\n"
	"    \"size\": 1472\n"
	"  },\n"
	"  \"layers\": [\n"
	"    {\n"
	"      \"mediaType\": \"application/vnd.oci.image.layer.v1.tar+gzip\",\n"
	"      \"digest\": \"" D_L1 "\",\n"
	"      \"size\": 31357311\n"
	"    },\n"
	"    {\n"
	"      \"mediaType\": \"application/vnd.oci.image.layer.v1.tar+zstd\",\n"
	"      \"digest\": \"" D_L2 "\",\n"
	"      \"size\": 0,\n"
	"      \"annotations\": { \"org.opencontainers.image.title\": \"empty.tar\" }\n"
	"    }\n"
	"  ],\n"
	"  \"annotations\": {\n"
	"    \"org.opencontainers.image.created\": \"2024-01-02T03:04:05Z\",\n"
	"    \"org.opencontainers.image.base.name\": \"docker.io/library/debian:12\"\n"
	"  }\n"
	"}\n";

static const char oci_index[] =
	"{\"schemaVersion\":2,\"mediaType\":\"application/vnd.oci.image.index.v1+json\","
	"\"manifests\":["
	"{\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\",\"digest\":\"" D_AMD "\","
	"\"size\":1035,\"platform\":{\"architecture\":\"amd64\",\"os\":\"linux\"}},"
	"{\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\",\"digest\":\"" D_ARM7 "\","
	"\"size\":1035,\"platform\":{\"architecture\":\"arm\",\"os\":\"linux\",\"variant\":\"v7\"}},"
	"{\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\",\"digest\":\"" D_ARM "\","
	"\"size\":1035,\"platform\":{\"architecture\":\"arm64\",\"os\":\"linux\",\"variant\":\"v8\"}},"
	"{\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\",\"digest\":\"" D_L2 "\","
	"\"size\":566,\"annotations\":{\"vnd.docker.reference.digest\":\"" D_AMD "\","
	"\"vnd.docker.reference.type\":\"attestation-manifest\"},"
	"\"platform\":{\"architecture\":\"unknown\",\"os\":\"unknown\"}}"
	"],\"annotations\":{\"org.opencontainers.image.ref.name\":\"1.0\"}}";

static const char docker_manifest[] =
	"{\n"
	"   \"schemaVersion\": 2,\n"
	"   \"mediaType\": \"application/vnd.docker.distribution.manifest.v2+json\",\n"
	"   \"config\": {\n"
	"      \"mediaType\": \"application/vnd.docker.container.image.v1+json\",\n"
	"      \"size\": 7023,\n"
	"      \"digest\": \"" D_CFG "\"\n"
	"   },\n"
	"   \"layers\": [\n"
	"      {\n"
	"         \"mediaType\": \"application/vnd.docker.image.rootfs.diff.tar.gzip\",\n"
	"         \"size\": 32654,\n"
	"         \"digest\": \"" D_L1 "\"\n"
	"      },\n"
	"      {\n"
	"         \"mediaType\": \"application/vnd.docker.image.rootfs.foreign.diff.tar.gzip\",\n"
	"         \"size\": 16724,\n"
	"         \"digest\": \"" D_L2 "\",\n"
	"         \"urls\": [\"https://mcr.microsoft.com/v2/windows/servercore/blobs/" D_L2 "\"]\n"
	"      }\n"
	"   ]\n"
	"}";

static const char docker_list[] =
	"{\n"
	"  \"schemaVersion\": 2,\n"
	"  \"mediaType\": \"application/vnd.docker.distribution.manifest.list.v2+json\",\n"
	"  \"manifests\": [\n"
	"    {\n"
	"      \"mediaType\": \"application/vnd.docker.distribution.manifest.v2+json\",\n"
	"      \"size\": 7143,\n"
	"      \"digest\": \"" D_AMD "\",\n"
	"      \"platform\": { \"architecture\": \"amd64\", \"os\": \"linux\" }\n"
	"    },\n"
	"    {\n"
	"      \"mediaType\": \"application/vnd.docker.distribution.manifest.v2+json\",\n"
	"      \"size\": 7682,\n"
	"      \"digest\": \"" D_WIN "\",\n"
	"      \"platform\": {\n"
	"        \"architecture\": \"amd64\",\n"
	"        \"os\": \"windows\",\n"
	"        \"os.version\": \"10.0.17763.5458\",\n"
	"        \"os.features\": [\"win32k\"]\n"
	"      }\n"
	"    }\n"
	"  ]\n"
	"}\n";

static const char image_config_doc[] =
	"{\"architecture\":\"arm64\",\"variant\":\"v8\",\"os\":\"linux\","
	"\"created\":\"2024-01-02T03:04:05.123456789Z\","
	"\"config\":{\"Env\":[\"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin\"],"
	"\"Cmd\":[\"bash\"],\"Labels\":{\"a\":\"b\"}},"
	"\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[\"" D_L1 "\",\"" D_L2 "\"]},"
	"\"history\":[{\"created\":\"2024-01-02T03:04:05Z\",\"created_by\":\"ADD file:x in /\"}]}";

static int parse_desc(struct descriptor *d, const char *s, struct err *e)
{
	struct json *j = NULL;
	int rc;

	rc = json_parse(&j, s, strlen(s), e);
	if (rc == 0)
		rc = descriptor_from_json(d, j, "layers[2]", e);
	json_free(j);
	return rc;
}

static int parse_m(struct manifest *m, const char *s, const char *hint, struct err *e)
{
	return manifest_parse(m, s, strlen(s), hint, 0, e);
}

TEST(media_types)
{
	CHECK(mediatype_classify(MT_OCI_MANIFEST) == MT_KIND_MANIFEST);
	CHECK(mediatype_classify(MT_DOCKER_MANIFEST) == MT_KIND_MANIFEST);
	CHECK(mediatype_classify(MT_OCI_INDEX) == MT_KIND_INDEX);
	CHECK(mediatype_classify(MT_DOCKER_LIST "; charset=utf-8") == MT_KIND_INDEX);
	CHECK(mediatype_classify("Application/VND.OCI.Image.Index.v1+JSON") == MT_KIND_INDEX);
	CHECK(mediatype_classify(MT_DOCKER_CONFIG) == MT_KIND_CONFIG);
	CHECK(mediatype_classify(MT_OCI_LAYER_ZSTD) == MT_KIND_LAYER);
	CHECK(mediatype_classify(MT_DOCKER_LAYER_FOREIGN) == MT_KIND_LAYER);
	CHECK(mediatype_classify(MT_DOCKER_SCHEMA1_SIGNED) == MT_KIND_SCHEMA1);
	CHECK(mediatype_classify("application/json") == MT_KIND_UNKNOWN);
	CHECK(mediatype_classify(MT_OCI_MANIFEST "x") == MT_KIND_UNKNOWN);
	CHECK(mediatype_classify(NULL) == MT_KIND_UNKNOWN);

	CHECK(mediatype_valid("application/vnd.oci.image.manifest.v1+json"));
	CHECK(mediatype_valid("a/b"));
	CHECK(!mediatype_valid("a/b; charset=utf-8"));
	CHECK(!mediatype_valid("a"));
	CHECK(!mediatype_valid("a/"));
	CHECK(!mediatype_valid("/b"));
	CHECK(!mediatype_valid("a/b/c"));
	CHECK(!mediatype_valid(".a/b"));
	CHECK(!mediatype_valid("a b/c"));
	CHECK(!mediatype_valid(""));
	CHECK(!mediatype_valid(NULL));
}

TEST(media_type_length_limit)
{
	char s[300];

	memset(s, 'a', 127);
	s[127] = '/';
	memset(s + 128, 'b', 127);
	s[255] = '\0';
	CHECK(mediatype_valid(s));
	memset(s, 'a', 128);
	s[128] = '/';
	s[129] = 'b';
	s[130] = '\0';
	CHECK(!mediatype_valid(s));
}

TEST(kvlist_basics)
{
	struct kvlist kv = KVLIST_INIT, c;

	CHECK(kvlist_get(&kv, "a") == NULL);
	CHECK_RC(kvlist_set(&kv, "b", "1"), 0);
	CHECK_RC(kvlist_set(&kv, "a", "2"), 0);
	CHECK_RC(kvlist_set(&kv, "b", "3"), 0);
	CHECK(kv.keys.n == 2);
	CHECK_STR(kv.keys.v[0], "b");
	CHECK_STR(kvlist_get(&kv, "b"), "3");
	CHECK_STR(kvlist_get(&kv, "a"), "2");
	CHECK_RC(kvlist_copy(&c, &kv), 0);
	kvlist_release(&kv);
	CHECK_STR(kvlist_get(&c, "b"), "3");
	kvlist_release(&c);
}

TEST(descriptor_full_and_round_trip)
{
	static const char in[] =
		"{\"artifactType\":\"application/vnd.example+type\","
		"\"platform\":{\"variant\":\"v8\",\"os\":\"linux\",\"architecture\":\"arm64\","
		"\"os.features\":[\"f1\"],\"os.version\":\"1.0\"},"
		"\"annotations\":{\"z\":\"last\",\"a\":\"first\"},"
		"\"urls\":[\"https://example.com/blob\"],"
		"\"size\":2,\"digest\":\"" D_EMPTY "\",\"data\":\"e30=\","
		"\"mediaType\":\"application/vnd.oci.empty.v1+json\",\"unknownField\":[1]}";
	static const char want[] =
		"{\"mediaType\":\"application/vnd.oci.empty.v1+json\","
		"\"digest\":\"" D_EMPTY "\",\"size\":2,"
		"\"urls\":[\"https://example.com/blob\"],"
		"\"annotations\":{\"a\":\"first\",\"z\":\"last\"},"
		"\"data\":\"e30=\","
		"\"platform\":{\"architecture\":\"arm64\",\"os\":\"linux\",\"os.version\":\"1.0\","
		"\"os.features\":[\"f1\"],\"variant\":\"v8\"},"
		"\"artifactType\":\"application/vnd.example+type\"}";
	struct descriptor d, c, d2;
	struct err e = ERR_INIT;
	struct buf b = BUF_INIT, b2 = BUF_INIT;
	struct json *j;

	CHECK_RC(parse_desc(&d, in, &e), 0);
	CHECK_STR(d.media_type, MT_OCI_EMPTY);
	CHECK_STR(d.digest.str, D_EMPTY);
	CHECK(d.size == 2);
	CHECK(d.data_len == 2 && d.data && !memcmp(d.data, "{}", 2));
	CHECK(d.platform != NULL);
	if (d.platform) {
		CHECK_STR(d.platform->os, "linux");
		CHECK_STR(d.platform->arch, "arm64");
		CHECK_STR(d.platform->variant, "v8");
		CHECK_STR(d.platform->os_version, "1.0");
		CHECK(d.platform->os_features.n == 1);
	}
	CHECK_STR(kvlist_get(&d.annotations, "z"), "last");
	CHECK(d.urls.n == 1);

	CHECK_RC(descriptor_copy(&c, &d), 0);
	descriptor_release(&d);
	j = descriptor_to_json(&c);
	CHECK(j != NULL);
	CHECK_RC(json_serialize(&b, j, 0, &e), 0);
	CHECK_STR(b.data, want);
	json_free(j);

	/* and back: the serialisation parses to the same descriptor */
	CHECK_RC(parse_desc(&d2, b.data, &e), 0);
	j = descriptor_to_json(&d2);
	CHECK_RC(json_serialize(&b2, j, 0, &e), 0);
	CHECK_STR(b2.data, b.data);
	json_free(j);
	descriptor_release(&d2);
	descriptor_release(&c);
	buf_release(&b);
	buf_release(&b2);
}

TEST(descriptor_minimal_to_json)
{
	struct descriptor d;
	struct buf b = BUF_INIT;
	struct json *j;

	descriptor_init(&d);
	d.media_type = strdup(MT_OCI_MANIFEST);
	CHECK_RC(digest_parse(&d.digest, D_AMD, NULL), 0);
	d.size = 0;
	CHECK_RC(kvlist_set(&d.annotations, ANNOT_REF_NAME, "v1"), 0);
	j = descriptor_to_json(&d);
	CHECK_RC(json_serialize(&b, j, 0, NULL), 0);
	CHECK_STR(b.data, "{\"mediaType\":\"" MT_OCI_MANIFEST "\",\"digest\":\"" D_AMD
		  "\",\"size\":0,\"annotations\":{\"" ANNOT_REF_NAME "\":\"v1\"}}");
	json_free(j);
	buf_release(&b);
	descriptor_release(&d);
	CHECK(d.media_type == NULL);
	descriptor_release(&d);	/* twice is harmless */
}

#define DESC(extra, size, digest) \
	"{\"mediaType\":\"application/vnd.oci.image.layer.v1.tar\",\"size\":" size \
	",\"digest\":\"" digest "\"" extra "}"

TEST(descriptor_hostile)
{
	static const struct {
		const char *json;
		int code;
		const char *msg;
	} cases[] = {
		{ DESC("", "1", "sha256:../../etc/passwd"), ERR_INVALID,
		  "layers[2]: invalid digest 'sha256:../../etc/passwd'" },
		{ DESC("", "1", "sha256:" "../../../../../../../../../../../../../../../../../../"
		       "etc/passwd0000000000"), ERR_INVALID, "layers[2]: invalid digest" },
		{ DESC("", "1", "SHA256:E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855"),
		  ERR_INVALID, "layers[2]: invalid digest" },
		{ DESC("", "1", "md5:d41d8cd98f00b204e9800998ecf8427e"), ERR_INVALID,
		  "layers[2]: invalid digest" },
		{ DESC("", "-1", D_L2), ERR_INVALID, "layers[2]: size" },
		{ DESC("", "9223372036854775808", D_L2), ERR_INVALID, "layers[2]: size" },
		{ DESC("", "9223372036854775807", D_L2), ERR_INVALID, "layers[2]: size" },
		{ DESC("", "4611686018427387904", D_L2), ERR_INVALID, "layers[2]: size" },
		{ DESC("", "1.5", D_L2), ERR_INVALID, "layers[2]: size" },
		{ DESC("", "\"12\"", D_L2), ERR_INVALID, "layers[2]: size" },
		{ "{\"size\":1,\"digest\":\"" D_L2 "\"}", ERR_INVALID, "layers[2]: missing mediaType" },
		{ "{\"mediaType\":\"a/b\",\"digest\":\"" D_L2 "\"}", ERR_INVALID,
		  "layers[2]: missing size" },
		{ "{\"mediaType\":\"a/b\",\"size\":1}", ERR_INVALID, "layers[2]: missing digest" },
		{ "{\"mediaType\":\"a/b\",\"size\":1,\"digest\":5}", ERR_INVALID,
		  "layers[2]: non-string digest" },
		{ "{\"mediaType\":\"../x\",\"size\":1,\"digest\":\"" D_L2 "\"}", ERR_INVALID,
		  "layers[2]: invalid mediaType '../x'" },
		{ "{\"mediaType\":7,\"size\":1,\"digest\":\"" D_L2 "\"}", ERR_INVALID,
		  "layers[2]: invalid mediaType" },
		{ "{\"mediaType\":\"a/b\\u0000c/d\",\"size\":1,\"digest\":\"" D_L2 "\"}",
		  ERR_INVALID, "layers[2]: invalid mediaType" },
		{ "[1]", ERR_INVALID, "layers[2]: a descriptor must be a JSON object" },
		{ DESC(",\"urls\":\"https://x\"", "1", D_L2), ERR_INVALID, "urls" },
		{ DESC(",\"urls\":[1]", "1", D_L2), ERR_INVALID, "urls[0]" },
		{ DESC(",\"annotations\":{\"a\":1}", "1", D_L2), ERR_INVALID, "annotation 'a'" },
		{ DESC(",\"annotations\":[]", "1", D_L2), ERR_INVALID, "annotations" },
		{ DESC(",\"annotations\":{\"a\":\"x\\u0000y\"}", "1", D_L2), ERR_INVALID,
		  "annotation 'a'" },
		{ DESC(",\"platform\":{\"os\":\"linux\"}", "1", D_L2), ERR_INVALID,
		  "layers[2]: platform: 'os' and 'architecture' are required" },
		{ DESC(",\"platform\":{\"os\":\"linux\",\"architecture\":1}", "1", D_L2),
		  ERR_INVALID, "'architecture'" },
		{ DESC(",\"platform\":\"linux/amd64\"", "1", D_L2), ERR_INVALID, "platform" },
		{ DESC(",\"artifactType\":\"nope\"", "1", D_L2), ERR_INVALID, "artifactType" },
		/* embedded data must match size and digest */
		{ DESC(",\"data\":\"e30=\"", "2", D_L2), ERR_DIGEST, "hashes to " D_EMPTY },
		{ DESC(",\"data\":\"e30=\"", "3", D_EMPTY), ERR_DIGEST, "is 2 bytes" },
		{ DESC(",\"data\":\"e30\"", "2", D_EMPTY), ERR_INVALID, "base64" },
		{ DESC(",\"data\":\"e3=0\"", "2", D_EMPTY), ERR_INVALID, "base64" },
		{ DESC(",\"data\":\"e30 \"", "2", D_EMPTY), ERR_INVALID, "base64" },
		{ DESC(",\"data\":{}", "2", D_EMPTY), ERR_INVALID, "base64" },
	};
	struct descriptor d;
	struct err e;
	size_t i;
	int rc;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		err_clear(&e);
		rc = parse_desc(&d, cases[i].json, &e);
		if (rc != cases[i].code || !strstr(e.msg, cases[i].msg)) {
			fprintf(stderr, "case %zu: rc %d, '%s'\n  for %s\n", i, rc, e.msg,
				cases[i].json);
			test_cur_failed = 1;
		}
		CHECK(d.media_type == NULL && d.platform == NULL && d.data == NULL);
		descriptor_release(&d);
	}
}

TEST(descriptor_limits_accepted)
{
	struct descriptor d;
	struct err e = ERR_INIT;

	CHECK_RC(parse_desc(&d, DESC("", "4611686018427387903", D_L2), &e), 0);
	CHECK(d.size == INT64_C(4611686018427387903));
	descriptor_release(&d);
	CHECK_RC(parse_desc(&d, DESC(",\"data\":\"\"", "0", D_L2), &e), 0);
	CHECK(d.data_len == 0);
	descriptor_release(&d);
	/* sha512 digests are accepted for reading */
	CHECK_RC(parse_desc(&d, DESC("", "1", "sha512:"
		"cf83e1357eefb8bdf1542850d66d8007d620e4050b5715dc83f4a921d36ce9ce"
		"47d0d13c5d85f2b0ff8318d2877eec2f63b931bd47417a81a538327af927da3e"), &e), 0);
	CHECK(d.digest.alg == DIGEST_SHA512);
	descriptor_release(&d);
}

TEST(parse_oci_manifest)
{
	struct manifest m;
	struct digest want;
	struct err e = ERR_INIT;

	CHECK_RC(parse_m(&m, oci_manifest, MT_OCI_MANIFEST, &e), 0);
	CHECK(m.kind == MT_KIND_MANIFEST);
	CHECK(m.schema_version == 2);
	CHECK_STR(m.media_type, MT_OCI_MANIFEST);
	CHECK(m.raw.len == strlen(oci_manifest) && !memcmp(m.raw.data, oci_manifest, m.raw.len));
	CHECK_RC(digest_buffer(&want, DIGEST_SHA256, oci_manifest, strlen(oci_manifest), NULL), 0);
	CHECK(digest_equal(&m.digest, &want));
	CHECK_STR(m.config.media_type, MT_OCI_CONFIG);
	CHECK_STR(m.config.digest.str, D_CFG);
	CHECK(m.config.size == 1472);
	CHECK(m.n_layers == 2);
	if (m.n_layers == 2) {
		CHECK(m.layers[0].size == 31357311);
		CHECK_STR(m.layers[1].digest.str, D_L2);
		CHECK_STR(kvlist_get(&m.layers[1].annotations, "org.opencontainers.image.title"),
			  "empty.tar");
	}
	CHECK(m.n_manifests == 0 && m.subject == NULL && m.artifact_type == NULL);
	CHECK_STR(kvlist_get(&m.annotations, ANNOT_BASE_NAME), "docker.io/library/debian:12");
	CHECK(manifest_index_find(&m, NULL) == NULL);	/* not an index */
	manifest_release(&m);
	CHECK(m.raw.len == 0 && m.layers == NULL);
	manifest_release(&m);
}

TEST(parse_oci_index)
{
	struct manifest m;
	struct err e = ERR_INIT;

	CHECK_RC(parse_m(&m, oci_index, NULL, &e), 0);
	CHECK(m.kind == MT_KIND_INDEX);
	CHECK_STR(m.media_type, MT_OCI_INDEX);
	CHECK(m.n_manifests == 4);
	if (m.n_manifests == 4) {
		CHECK_STR(m.manifests[1].platform->arch, "arm");
		CHECK_STR(m.manifests[1].platform->variant, "v7");
		CHECK_STR(m.manifests[2].digest.str, D_ARM);
		CHECK(m.manifests[0].platform->variant == NULL);
		CHECK_STR(kvlist_get(&m.manifests[3].annotations, "vnd.docker.reference.type"),
			  "attestation-manifest");
	}
	CHECK_STR(kvlist_get(&m.annotations, ANNOT_REF_NAME), "1.0");
	CHECK(m.n_layers == 0 && m.config.media_type == NULL);
	manifest_release(&m);
}

TEST(parse_docker_manifest_and_list)
{
	struct manifest m;
	struct err e = ERR_INIT;

	CHECK_RC(parse_m(&m, docker_manifest, MT_DOCKER_MANIFEST, &e), 0);
	CHECK(m.kind == MT_KIND_MANIFEST);
	CHECK_STR(m.config.media_type, MT_DOCKER_CONFIG);
	CHECK(m.n_layers == 2);
	if (m.n_layers == 2) {
		CHECK(m.layers[1].urls.n == 1);
		CHECK(mediatype_classify(m.layers[1].media_type) == MT_KIND_LAYER);
	}
	manifest_release(&m);

	CHECK_RC(parse_m(&m, docker_list, MT_DOCKER_LIST "; charset=utf-8", &e), 0);
	CHECK(m.kind == MT_KIND_INDEX);
	CHECK_STR(m.media_type, MT_DOCKER_LIST);
	CHECK(m.n_manifests == 2);
	if (m.n_manifests == 2) {
		CHECK_STR(m.manifests[1].platform->os, "windows");
		CHECK_STR(m.manifests[1].platform->os_version, "10.0.17763.5458");
		CHECK_STR(m.manifests[1].platform->os_features.v[0], "win32k");
	}
	manifest_release(&m);
}

TEST(media_type_inference_and_hints)
{
	static const char no_mt_image[] =
		"{\"schemaVersion\":2,\"config\":{\"mediaType\":\"application/vnd.oci.empty.v1+json\","
		"\"digest\":\"" D_EMPTY "\",\"size\":2,\"data\":\"e30=\"},\"layers\":[],"
		"\"artifactType\":\"application/vnd.example.sbom+json\","
		"\"subject\":{\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\","
		"\"digest\":\"" D_AMD "\",\"size\":1035}}";
	static const char no_mt_index[] =
		"{\"schemaVersion\":2,\"manifests\":[]}";
	struct manifest m;
	struct err e = ERR_INIT;

	CHECK_RC(parse_m(&m, no_mt_image, NULL, &e), 0);
	CHECK(m.kind == MT_KIND_MANIFEST);
	CHECK_STR(m.media_type, MT_OCI_MANIFEST);
	CHECK(m.n_layers == 0);
	CHECK_STR(m.artifact_type, "application/vnd.example.sbom+json");
	CHECK(m.subject != NULL);
	if (m.subject)
		CHECK_STR(m.subject->digest.str, D_AMD);
	manifest_release(&m);
	CHECK(m.subject == NULL);

	CHECK_RC(parse_m(&m, no_mt_index, "application/json", &e), 0);
	CHECK(m.kind == MT_KIND_INDEX && m.n_manifests == 0);
	CHECK_STR(m.media_type, MT_OCI_INDEX);
	manifest_release(&m);

	/* no mediaType in the document: a specific hint is used */
	CHECK_RC(parse_m(&m, no_mt_index, MT_DOCKER_LIST, &e), 0);
	CHECK_STR(m.media_type, MT_DOCKER_LIST);
	manifest_release(&m);

	/* generic hints do not conflict */
	CHECK_RC(parse_m(&m, oci_manifest, "application/json", &e), 0);
	manifest_release(&m);
	CHECK_RC(parse_m(&m, oci_manifest, "", &e), 0);
	manifest_release(&m);

	/* the document wins but must agree with a specific hint */
	CHECK_RC(parse_m(&m, oci_manifest, MT_OCI_INDEX, &e), ERR_INVALID);
	CHECK(strstr(e.msg, "media type mismatch") != NULL);
	CHECK(strstr(e.msg, MT_OCI_INDEX) != NULL);
	CHECK(m.media_type == NULL && m.raw.len == 0);
	CHECK_RC(parse_m(&m, docker_manifest, MT_OCI_MANIFEST, &e), ERR_INVALID);
	CHECK(strstr(e.msg, "media type mismatch") != NULL);
	/* a hint naming the wrong structure */
	CHECK_RC(parse_m(&m, no_mt_index, MT_OCI_MANIFEST, &e), ERR_INVALID);
	CHECK(strstr(e.msg, "media type mismatch: the document is an index") != NULL);
	CHECK_RC(parse_m(&m, no_mt_image, MT_DOCKER_LIST, &e), ERR_INVALID);
	CHECK(strstr(e.msg, "the document is an image manifest") != NULL);
	/* parameters of a Content-Type are dropped */
	CHECK_RC(parse_m(&m, no_mt_index, MT_OCI_INDEX " ; charset=utf-8", &e), 0);
	CHECK_STR(m.media_type, MT_OCI_INDEX);
	manifest_release(&m);
	CHECK_RC(parse_m(&m, no_mt_index, MT_OCI_LAYER, &e), ERR_UNSUPPORTED);
	CHECK_RC(parse_m(&m, "{\"schemaVersion\":2}", NULL, &e), ERR_INVALID);
	CHECK_RC(parse_m(&m, "{\"schemaVersion\":2,\"mediaType\":\"" MT_OCI_CONFIG
			 "\",\"manifests\":[]}", NULL, &e), ERR_UNSUPPORTED);
}

TEST(schema1_refused)
{
	static const char s1[] =
		"{\"schemaVersion\":1,\"name\":\"library/hello\",\"tag\":\"latest\","
		"\"architecture\":\"amd64\",\"fsLayers\":[{\"blobSum\":\"" D_L2 "\"}],"
		"\"history\":[{\"v1Compatibility\":\"{}\"}]}";
	static const char s1_mt[] =
		"{\"schemaVersion\":2,\"mediaType\":\"" MT_DOCKER_SCHEMA1 "\"}";
	struct manifest m;
	struct err e = ERR_INIT;

	CHECK_RC(parse_m(&m, s1, NULL, &e), ERR_UNSUPPORTED);
	CHECK(strstr(e.msg, "Docker schema 1") && strstr(e.msg, "deprecated") &&
	      strstr(e.msg, "unsupported"));
	err_clear(&e);
	CHECK_RC(parse_m(&m, s1, MT_DOCKER_SCHEMA1_SIGNED, &e), ERR_UNSUPPORTED);
	CHECK(strstr(e.msg, "Docker schema 1") != NULL);
	err_clear(&e);
	CHECK_RC(parse_m(&m, oci_manifest, MT_DOCKER_SCHEMA1, &e), ERR_UNSUPPORTED);
	CHECK(strstr(e.msg, "Docker schema 1") != NULL);
	err_clear(&e);
	CHECK_RC(parse_m(&m, s1_mt, NULL, &e), ERR_UNSUPPORTED);
	CHECK(strstr(e.msg, "Docker schema 1") != NULL);
}

TEST(manifest_hostile)
{
	static const struct {
		const char *json;
		int code;
		const char *msg;
	} cases[] = {
		{ "{\"mediaType\":\"" MT_OCI_INDEX "\",\"manifests\":[]}", ERR_INVALID,
		  "missing schemaVersion" },
		{ "{\"schemaVersion\":3,\"manifests\":[]}", ERR_INVALID, "schemaVersion" },
		{ "{\"schemaVersion\":\"2\",\"manifests\":[]}", ERR_INVALID, "schemaVersion" },
		{ "{\"schemaVersion\":2.0,\"manifests\":[]}", ERR_INVALID, "schemaVersion" },
		{ "{\"schemaVersion\":2,\"manifests\":[],\"layers\":[]}", ERR_INVALID, "ambiguous" },
		{ "{\"schemaVersion\":2,\"mediaType\":\"" MT_OCI_MANIFEST "\",\"manifests\":[],"
		  "\"config\":{}}", ERR_INVALID, "ambiguous" },
		{ "{\"schemaVersion\":2,\"manifests\":{}}", ERR_INVALID, "'manifests' array" },
		{ "{\"schemaVersion\":2,\"mediaType\":\"" MT_OCI_INDEX "\"}", ERR_INVALID,
		  "missing 'manifests'" },
		{ "{\"schemaVersion\":2,\"mediaType\":\"" MT_OCI_MANIFEST "\",\"layers\":[]}",
		  ERR_INVALID, "without 'config'" },
		{ "{\"schemaVersion\":2,\"config\":{\"mediaType\":\"" MT_OCI_CONFIG "\","
		  "\"digest\":\"" D_CFG "\",\"size\":1}}", ERR_INVALID, "'layers'" },
		{ "{\"schemaVersion\":2,\"config\":{\"mediaType\":\"" MT_OCI_CONFIG "\","
		  "\"digest\":\"" D_CFG "\",\"size\":1},\"layers\":[" DESC("", "1", D_L1) ","
		  DESC("", "1", "sha256:../../etc/passwd") "]}", ERR_INVALID,
		  "invalid manifest: layers[1]: invalid digest 'sha256:../../etc/passwd'" },
		{ "{\"schemaVersion\":2,\"manifests\":[" DESC("", "-5", D_L1) "]}", ERR_INVALID,
		  "invalid manifest: manifests[0]: size" },
		{ "{\"schemaVersion\":2,\"manifests\":[" DESC("", "9223372036854775808", D_L1) "]}",
		  ERR_INVALID, "manifests[0]: size" },
		{ "{\"schemaVersion\":2,\"manifests\":[{\"digest\":\"" D_L1 "\",\"size\":1}]}",
		  ERR_INVALID, "manifests[0]: missing mediaType" },
		{ "{\"schemaVersion\":2,\"manifests\":[],\"subject\":{\"mediaType\":\"a/b\"}}",
		  ERR_INVALID, "subject: " },
		{ "{\"schemaVersion\":2,\"manifests\":[],\"annotations\":{\"k\":[]}}",
		  ERR_INVALID, "annotation 'k'" },
		{ "{\"schemaVersion\":2,\"manifests\":[],\"artifactType\":\"x\"}",
		  ERR_INVALID, "artifactType" },
		{ "{\"schemaVersion\":2,\"mediaType\":\"not a type\",\"manifests\":[]}",
		  ERR_INVALID, "invalid mediaType" },
		{ "{\"schemaVersion\":2,\"manifests\":[" DESC(",\"data\":\"e30=\"", "2", D_L1) "]}",
		  ERR_DIGEST, "manifests[0]: embedded data hashes to" },
		{ "[]", ERR_INVALID, "not a JSON object" },
		{ "", ERR_INVALID, "invalid manifest" },
		{ "{\"schemaVersion\":2,\"manifests\":[]} trailing", ERR_INVALID, "invalid JSON" },
	};
	struct manifest m;
	struct err e;
	size_t i;
	int rc;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		err_clear(&e);
		rc = parse_m(&m, cases[i].json, NULL, &e);
		if (rc != cases[i].code || !strstr(e.msg, cases[i].msg)) {
			fprintf(stderr, "case %zu: rc %d, '%s'\n  for %s\n", i, rc, e.msg,
				cases[i].json);
			test_cur_failed = 1;
		}
		CHECK(m.raw.len == 0 && m.media_type == NULL && m.layers == NULL &&
		      m.manifests == NULL && m.subject == NULL);
		manifest_release(&m);
	}
}

TEST(manifest_too_big_and_deep)
{
	struct manifest m;
	struct err e = ERR_INIT;
	struct buf b = BUF_INIT;
	size_t i;

	CHECK_RC(manifest_parse(&m, oci_manifest, strlen(oci_manifest), NULL, 100, &e),
		 ERR_TOO_BIG);
	CHECK(strstr(e.msg, "exceeds") != NULL);
	CHECK_RC(manifest_parse(&m, oci_manifest, strlen(oci_manifest), NULL,
				strlen(oci_manifest), &e), 0);
	manifest_release(&m);

	CHECK_RC(manifest_parse(&m, NULL, 0, NULL, 0, &e), ERR_INVALID);

	/* the default cap: 4 MiB */
	CHECK_RC(buf_addstr(&b, "{\"schemaVersion\":2,\"manifests\":[],\"annotations\":{\"a\":\""),
		 0);
	while (b.len < MANIFEST_MAX_DEFAULT)
		CHECK_RC(buf_addstr(&b, "xxxxxxxxxxxxxxxx"), 0);
	CHECK_RC(buf_addstr(&b, "\"}}"), 0);
	CHECK_RC(manifest_parse(&m, b.data, b.len, NULL, 0, &e), ERR_TOO_BIG);
	CHECK_RC(manifest_parse(&m, b.data, b.len, NULL, 2 * MANIFEST_MAX_DEFAULT, &e), 0);
	manifest_release(&m);
	buf_reset(&b);

	/* nesting deeper than the JSON parser allows */
	CHECK_RC(buf_addstr(&b, "{\"schemaVersion\":2,\"manifests\":[],\"x\":"), 0);
	for (i = 0; i < 1000; i++)
		buf_addch(&b, '[');
	for (i = 0; i < 1000; i++)
		buf_addch(&b, ']');
	buf_addch(&b, '}');
	CHECK(!buf_failed(&b));
	CHECK_RC(manifest_parse(&m, b.data, b.len, NULL, 0, &e), ERR_INVALID);
	CHECK(strstr(e.msg, "deeper") != NULL);
	buf_release(&b);
}

TEST(index_find)
{
	struct manifest m;
	struct platform want = PLATFORM_INIT;
	const struct descriptor *d;
	struct err e = ERR_INIT;

	CHECK_RC(parse_m(&m, oci_index, MT_OCI_INDEX, &e), 0);
	want.os = "linux";
	want.arch = "arm64";
	d = manifest_index_find(&m, &want);
	CHECK(d != NULL);
	if (d)
		CHECK_STR(d->digest.str, D_ARM);
	want.arch = "arm";
	want.variant = "v7";
	d = manifest_index_find(&m, &want);
	CHECK(d != NULL);
	if (d)
		CHECK_STR(d->digest.str, D_ARM7);
	want.arch = "amd64";
	want.variant = NULL;
	d = manifest_index_find(&m, &want);
	CHECK(d != NULL);
	if (d)
		CHECK_STR(d->digest.str, D_AMD);
	want.arch = "s390x";
	CHECK(manifest_index_find(&m, &want) == NULL);
	manifest_release(&m);

	CHECK_RC(parse_m(&m, docker_list, NULL, &e), 0);
	want.os = "windows";
	want.arch = "amd64";
	d = manifest_index_find(&m, &want);
	CHECK(d != NULL);
	if (d)
		CHECK_STR(d->digest.str, D_WIN);
	manifest_release(&m);
}

TEST(parse_image_config)
{
	struct imgconfig c;
	struct err e = ERR_INIT;
	struct json *cfg;

	CHECK_RC(imgconfig_parse(&c, image_config_doc, strlen(image_config_doc), 0, &e), 0);
	CHECK_STR(c.platform.os, "linux");
	CHECK_STR(c.platform.arch, "arm64");
	CHECK_STR(c.platform.variant, "v8");
	CHECK(c.platform.os_version == NULL);
	CHECK(c.n_diff_ids == 2);
	if (c.n_diff_ids == 2) {
		CHECK_STR(c.diff_ids[0].str, D_L1);
		CHECK_STR(c.diff_ids[1].str, D_L2);
	}
	CHECK_STR(c.created, "2024-01-02T03:04:05.123456789Z");
	CHECK(c.raw.len == strlen(image_config_doc));
	cfg = json_get(c.json, "config");
	CHECK_STR(json_get_str(json_get(cfg, "Labels"), "a"), "b");
	imgconfig_release(&c);
	CHECK(c.json == NULL && c.diff_ids == NULL);
	imgconfig_release(&c);
}

TEST(image_config_hostile)
{
	static const struct {
		const char *json;
		int code;
		const char *msg;
	} cases[] = {
		{ "{\"os\":\"linux\",\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[]}}",
		  ERR_INVALID, "'architecture'" },
		{ "{\"os\":\"linux\",\"architecture\":\"amd64\"}", ERR_INVALID, "rootfs" },
		{ "{\"os\":\"linux\",\"architecture\":\"amd64\",\"rootfs\":{\"type\":\"zfs\"}}",
		  ERR_INVALID, "rootfs.type" },
		{ "{\"os\":\"linux\",\"architecture\":\"amd64\",\"rootfs\":{\"type\":\"layers\","
		  "\"diff_ids\":[\"sha256:../../etc/passwd\"]}}", ERR_INVALID,
		  "invalid image config: rootfs.diff_ids[0]: invalid digest" },
		{ "{\"os\":\"linux\",\"architecture\":\"amd64\",\"rootfs\":{\"type\":\"layers\","
		  "\"diff_ids\":[\"" D_L1 "\",7]}}", ERR_INVALID, "rootfs.diff_ids[1]" },
		{ "{\"os\":\"linux\",\"architecture\":\"amd64\",\"rootfs\":{\"type\":\"layers\","
		  "\"diff_ids\":\"" D_L1 "\"}}", ERR_INVALID, "rootfs.diff_ids" },
		{ "{\"os\":\"linux\",\"architecture\":\"amd64\",\"created\":5,"
		  "\"rootfs\":{\"type\":\"layers\"}}", ERR_INVALID, "created" },
		{ "[]", ERR_INVALID, "not a JSON object" },
		{ "{", ERR_INVALID, "invalid image config: invalid JSON" },
	};
	struct imgconfig c;
	struct err e;
	size_t i;
	int rc;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		err_clear(&e);
		rc = imgconfig_parse(&c, cases[i].json, strlen(cases[i].json), 0, &e);
		if (rc != cases[i].code || !strstr(e.msg, cases[i].msg)) {
			fprintf(stderr, "case %zu: rc %d, '%s'\n  for %s\n", i, rc, e.msg,
				cases[i].json);
			test_cur_failed = 1;
		}
		CHECK(c.json == NULL && c.diff_ids == NULL && c.platform.os == NULL);
		imgconfig_release(&c);
	}
	CHECK_RC(imgconfig_parse(&c, image_config_doc, strlen(image_config_doc), 50, &e),
		 ERR_TOO_BIG);
}


/* Every layer type of both families is a layer, and knows what it says of
 * its blob; artifact types (SBOMs, attestations, encrypted layers, the empty
 * config) are arbitrary blobs. */
TEST(media_type_table)
{
	static const struct {
		const char *mt;
		enum mt_kind kind;
		enum mediatype_family family;
		unsigned bits;
	} cases[] = {
		{ "application/vnd.docker.image.rootfs.diff.tar", MT_KIND_LAYER,
		  MT_FAMILY_DOCKER, 0 },
		{ "application/vnd.docker.image.rootfs.diff.tar.gzip", MT_KIND_LAYER,
		  MT_FAMILY_DOCKER, MT_LAYER_GZIP },
		{ "application/vnd.docker.image.rootfs.foreign.diff.tar", MT_KIND_LAYER,
		  MT_FAMILY_DOCKER, MT_LAYER_FOREIGN },
		{ "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip", MT_KIND_LAYER,
		  MT_FAMILY_DOCKER, MT_LAYER_FOREIGN | MT_LAYER_GZIP },
		{ "application/vnd.oci.image.layer.v1.tar", MT_KIND_LAYER, MT_FAMILY_OCI, 0 },
		{ "application/vnd.oci.image.layer.v1.tar+zstd", MT_KIND_LAYER, MT_FAMILY_OCI,
		  MT_LAYER_ZSTD },
		{ "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip", MT_KIND_LAYER,
		  MT_FAMILY_OCI, MT_LAYER_FOREIGN | MT_LAYER_GZIP },
		{ "application/vnd.oci.image.layer.v1.tar+gzip+encrypted", MT_KIND_UNKNOWN,
		  MT_FAMILY_NONE, 0 },
		{ "application/vnd.oci.image.layer.v1.tar+invalid-suffix", MT_KIND_UNKNOWN,
		  MT_FAMILY_NONE, 0 },
		{ "application/vnd.docker.image.rootfs.diff.tar.zstd", MT_KIND_UNKNOWN,
		  MT_FAMILY_NONE, 0 },
		{ "application/vnd.oci.empty.v1+json", MT_KIND_UNKNOWN, MT_FAMILY_OCI, 0 },
		{ "application/spdx+json", MT_KIND_UNKNOWN, MT_FAMILY_NONE, 0 },
		{ "application/vnd.in-toto+json", MT_KIND_UNKNOWN, MT_FAMILY_NONE, 0 },
		{ "application/octet-stream", MT_KIND_UNKNOWN, MT_FAMILY_NONE, 0 },
		{ "application/vnd.oci.image.config.v1+json", MT_KIND_CONFIG, MT_FAMILY_OCI, 0 },
		{ "application/vnd.docker.container.image.v1+json", MT_KIND_CONFIG,
		  MT_FAMILY_DOCKER, 0 },
		{ "application/vnd.docker.distribution.manifest.list.v2+json", MT_KIND_INDEX,
		  MT_FAMILY_DOCKER, 0 },
	};
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		if (mediatype_classify(cases[i].mt) != cases[i].kind ||
		    mediatype_family(cases[i].mt) != cases[i].family ||
		    mediatype_layer_bits(cases[i].mt) != cases[i].bits) {
			fprintf(stderr, "media type table: %s\n", cases[i].mt);
			CHECK(0);
		}
	}
}

TEST(media_type_convert)
{
	CHECK_STR(mediatype_convert(MT_DOCKER_LAYER, MT_FAMILY_OCI), MT_OCI_LAYER_GZIP);
	CHECK_STR(mediatype_convert(MT_OCI_LAYER_GZIP, MT_FAMILY_DOCKER), MT_DOCKER_LAYER);
	CHECK_STR(mediatype_convert(MT_OCI_LAYER, MT_FAMILY_DOCKER), MT_DOCKER_LAYER_TAR);
	CHECK_STR(mediatype_convert(MT_DOCKER_LAYER_TAR, MT_FAMILY_OCI), MT_OCI_LAYER);
	CHECK_STR(mediatype_convert(MT_DOCKER_LAYER_FOREIGN, MT_FAMILY_OCI), MT_OCI_LAYER_ND_GZIP);
	CHECK_STR(mediatype_convert(MT_OCI_LAYER_ND, MT_FAMILY_DOCKER), MT_DOCKER_LAYER_FOREIGN_TAR);
	CHECK(mediatype_convert(MT_OCI_LAYER_ZSTD, MT_FAMILY_DOCKER) == NULL);
	CHECK(mediatype_convert(MT_OCI_LAYER_ND_ZSTD, MT_FAMILY_DOCKER) == NULL);
	CHECK(mediatype_convert(MT_OCI_EMPTY, MT_FAMILY_DOCKER) == NULL);
	CHECK_STR(mediatype_convert(MT_OCI_MANIFEST, MT_FAMILY_DOCKER), MT_DOCKER_MANIFEST);
	CHECK_STR(mediatype_convert(MT_DOCKER_LIST, MT_FAMILY_OCI), MT_OCI_INDEX);
	CHECK_STR(mediatype_convert(MT_DOCKER_CONFIG, MT_FAMILY_OCI), MT_OCI_CONFIG);
	CHECK(mediatype_convert(MT_DOCKER_SCHEMA1, MT_FAMILY_OCI) == NULL);
	CHECK_STR(mediatype_convert("application/vnd.in-toto+json", MT_FAMILY_DOCKER),
		  "application/vnd.in-toto+json");
	CHECK_STR(mediatype_convert(MT_OCI_LAYER_ZSTD, MT_FAMILY_OCI), MT_OCI_LAYER_ZSTD);
}

/* A manifest with one config and one layer of the given types. */
static int parse_typed(struct manifest *m, const char *mt, const char *cfg_mt,
		       const char *layer_mt, const char *extra)
{
	struct buf b = BUF_INIT;
	struct err e = ERR_INIT;
	int rc;

	buf_addf(&b, "{\"schemaVersion\":2,\"mediaType\":\"%s\",%s\"config\":{\"mediaType\":"
		 "\"%s\",\"digest\":\"" D_EMPTY "\",\"size\":2},\"layers\":[", mt, extra, cfg_mt);
	if (layer_mt)
		buf_addf(&b, "{\"mediaType\":\"%s\",\"digest\":\"" D_L1 "\",\"size\":3}",
			 layer_mt);
	buf_addstr(&b, "]}");
	rc = manifest_parse(m, b.data, b.len, NULL, 0, &e);
	buf_release(&b);
	return rc;
}

TEST(image_or_artifact)
{
	static const struct {
		const char *mt, *cfg, *layer, *extra;
		int image;
	} cases[] = {
		{ MT_OCI_MANIFEST, MT_OCI_CONFIG, MT_OCI_LAYER_GZIP, "", 1 },
		{ MT_DOCKER_MANIFEST, MT_DOCKER_CONFIG, MT_DOCKER_LAYER_TAR, "", 1 },
		{ MT_OCI_MANIFEST, MT_OCI_CONFIG, NULL, "", 1 },
		/* Docker 1.10's config type */
		{ MT_DOCKER_MANIFEST, "application/octet-stream", MT_DOCKER_LAYER, "", 1 },
		{ MT_OCI_MANIFEST, "application/octet-stream", MT_OCI_LAYER, "", 0 },
		/* encrypted layers: still an image, layers hoist cannot read */
		{ MT_OCI_MANIFEST, MT_OCI_CONFIG, MT_OCI_LAYER_GZIP "+encrypted", "", 1 },
		/* OCI 1.1 artifact */
		{ MT_OCI_MANIFEST, MT_OCI_EMPTY, "application/spdx+json",
		  "\"artifactType\":\"application/spdx+json\",", 0 },
		/* cosign signature, buildx attestation: the image config type */
		{ MT_OCI_MANIFEST, MT_OCI_CONFIG, "application/vnd.dev.cosign.simplesigning.v1+json",
		  "", 0 },
		{ MT_OCI_MANIFEST, MT_OCI_CONFIG, "application/vnd.in-toto+json", "", 0 },
		{ MT_OCI_MANIFEST, "application/vnd.cncf.helm.config.v1+json",
		  "application/tar+gzip", "", 0 },
	};
	struct manifest m;
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		CHECK_RC(parse_typed(&m, cases[i].mt, cases[i].cfg, cases[i].layer,
				     cases[i].extra), 0);
		if (manifest_is_image(&m) != cases[i].image) {
			fprintf(stderr, "manifest_is_image: case %zu\n", i);
			CHECK(0);
		}
		manifest_release(&m);
	}
}

static struct json *family_of(const char *doc, int docker, const char **mt)
{
	struct json *j = NULL;
	struct err e = ERR_INIT;

	*mt = NULL;
	if (json_parse(&j, doc, strlen(doc), &e) < 0 || manifest_json_family(mt, j, docker) < 0) {
		json_free(j);
		return NULL;
	}
	return j;
}

TEST(manifest_family)
{
	static const char base[] =
		"{\"schemaVersion\":2,\"mediaType\":\"" MT_DOCKER_MANIFEST "\","
		"\"config\":{\"mediaType\":\"" MT_DOCKER_CONFIG "\",\"digest\":\"" D_CFG "\","
		"\"size\":3},\"layers\":["
		"{\"mediaType\":\"" MT_DOCKER_LAYER "\",\"digest\":\"" D_L1 "\",\"size\":3},"
		"{\"mediaType\":\"%s\",\"digest\":\"" D_L2 "\",\"size\":0}],"
		"\"annotations\":{\"a\":\"b\"}}";
	struct buf b = BUF_INIT;
	struct json *j;
	const char *mt;

	/* a plain tar layer: Docker has its type, annotations go */
	buf_addf(&b, base, MT_OCI_LAYER);
	j = family_of(b.data, 1, &mt);
	CHECK(j != NULL);
	CHECK_STR(mt, MT_DOCKER_MANIFEST);
	CHECK_STR(json_get_str(j, "mediaType"), MT_DOCKER_MANIFEST);
	CHECK_STR(json_get_str(json_array_get(json_get(j, "layers"), 1), "mediaType"),
		  MT_DOCKER_LAYER_TAR);
	CHECK(json_get(j, "annotations") == NULL);
	json_free(j);

	/* a zstd layer: the whole image in OCI names, annotations kept */
	buf_reset(&b);
	buf_addf(&b, base, MT_OCI_LAYER_ZSTD);
	j = family_of(b.data, 1, &mt);
	CHECK(j != NULL);
	CHECK_STR(mt, MT_OCI_MANIFEST);
	CHECK_STR(json_get_str(j, "mediaType"), MT_OCI_MANIFEST);
	CHECK_STR(json_get_str(json_get(j, "config"), "mediaType"), MT_OCI_CONFIG);
	CHECK_STR(json_get_str(json_array_get(json_get(j, "layers"), 0), "mediaType"),
		  MT_OCI_LAYER_GZIP);
	CHECK_STR(json_get_str(json_array_get(json_get(j, "layers"), 1), "mediaType"),
		  MT_OCI_LAYER_ZSTD);
	CHECK_STR(json_get_str(json_get(j, "annotations"), "a"), "b");
	json_free(j);

	/* not asked for Docker: OCI */
	buf_reset(&b);
	buf_addf(&b, base, MT_DOCKER_LAYER);
	j = family_of(b.data, 0, &mt);
	CHECK(j != NULL);
	CHECK_STR(mt, MT_OCI_MANIFEST);
	json_free(j);

	/* indexes: a Docker list only when every entry is Docker's */
	j = family_of(docker_list, 1, &mt);
	CHECK(j != NULL);
	CHECK_STR(mt, MT_DOCKER_LIST);
	json_free(j);
	j = family_of(oci_index, 1, &mt);
	CHECK(j != NULL);
	CHECK_STR(mt, MT_OCI_INDEX);
	CHECK(json_get(j, "annotations") != NULL);
	json_free(j);
	buf_release(&b);
}

int main(void)
{
	RUN(media_types);
	RUN(media_type_length_limit);
	RUN(media_type_table);
	RUN(media_type_convert);
	RUN(image_or_artifact);
	RUN(manifest_family);
	RUN(kvlist_basics);
	RUN(descriptor_full_and_round_trip);
	RUN(descriptor_minimal_to_json);
	RUN(descriptor_hostile);
	RUN(descriptor_limits_accepted);
	RUN(parse_oci_manifest);
	RUN(parse_oci_index);
	RUN(parse_docker_manifest_and_list);
	RUN(media_type_inference_and_hints);
	RUN(schema1_refused);
	RUN(manifest_hostile);
	RUN(manifest_too_big_and_deep);
	RUN(index_find);
	RUN(parse_image_config);
	RUN(image_config_hostile);
	return test_done();
}

/* manifest.h - descriptors, manifests, indexes and image configs.
 *
 * Media types of the OCI image spec v1.1 and of Docker's schema2.  The bytes
 * of a manifest received or stored are the bytes that are hashed and written:
 * struct manifest keeps them in `raw`, and nothing re-serialises a manifest
 * hoist did not create.  Docker schema1 is refused with an error naming it.
 */
#ifndef HOIST_MANIFEST_H
#define HOIST_MANIFEST_H

#include "core/base/buf.h"
#include "core/base/digest.h"
#include "core/base/strvec.h"
#include "core/base/text.h"
#include "core/model/platform.h"

#include <stdint.h>

struct err;
struct json;

#define MT_OCI_MANIFEST "application/vnd.oci.image.manifest.v1+json"
#define MT_OCI_INDEX "application/vnd.oci.image.index.v1+json"
#define MT_OCI_CONFIG "application/vnd.oci.image.config.v1+json"
#define MT_OCI_LAYER "application/vnd.oci.image.layer.v1.tar"
#define MT_OCI_LAYER_GZIP "application/vnd.oci.image.layer.v1.tar+gzip"
#define MT_OCI_LAYER_ZSTD "application/vnd.oci.image.layer.v1.tar+zstd"
#define MT_OCI_LAYER_ND "application/vnd.oci.image.layer.nondistributable.v1.tar"
#define MT_OCI_LAYER_ND_GZIP "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip"
#define MT_OCI_LAYER_ND_ZSTD "application/vnd.oci.image.layer.nondistributable.v1.tar+zstd"
#define MT_OCI_EMPTY "application/vnd.oci.empty.v1+json"
#define MT_OCI_LAYOUT_HEADER "application/vnd.oci.layout.header.v1+json"

#define MT_DOCKER_MANIFEST "application/vnd.docker.distribution.manifest.v2+json"
#define MT_DOCKER_LIST "application/vnd.docker.distribution.manifest.list.v2+json"
#define MT_DOCKER_CONFIG "application/vnd.docker.container.image.v1+json"
#define MT_DOCKER_LAYER "application/vnd.docker.image.rootfs.diff.tar.gzip"
#define MT_DOCKER_LAYER_TAR "application/vnd.docker.image.rootfs.diff.tar"
#define MT_DOCKER_LAYER_FOREIGN "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip"
#define MT_DOCKER_LAYER_FOREIGN_TAR "application/vnd.docker.image.rootfs.foreign.diff.tar"
/* The config type Docker 1.10 wrote into schema 2 manifests. */
#define MT_DOCKER_CONFIG_LEGACY "application/octet-stream"
#define MT_DOCKER_SCHEMA1 "application/vnd.docker.distribution.manifest.v1+json"
#define MT_DOCKER_SCHEMA1_SIGNED "application/vnd.docker.distribution.manifest.v1+prettyjws"

#define ANNOT_REF_NAME "org.opencontainers.image.ref.name"
#define ANNOT_CREATED "org.opencontainers.image.created"
#define ANNOT_BASE_NAME "org.opencontainers.image.base.name"
#define ANNOT_BASE_DIGEST "org.opencontainers.image.base.digest"

/* Manifests and indexes larger than this are refused unless a caller
 * passes a larger cap (distribution's own limit is 4 MiB). */
#define MANIFEST_MAX_DEFAULT (4u << 20)

/* Classification of a media type.  Anything else (an artifact's config or
 * blobs, an SBOM, a signature, an encrypted layer) is MT_KIND_UNKNOWN: an
 * arbitrary blob, checked by digest and size only. */
enum mt_kind {
	MT_KIND_UNKNOWN = 0,
	MT_KIND_MANIFEST,	/* OCI or Docker image manifest */
	MT_KIND_INDEX,		/* OCI index or Docker manifest list */
	MT_KIND_CONFIG,		/* an image config */
	MT_KIND_LAYER,		/* a filesystem layer: a tar, plain or compressed */
	MT_KIND_SCHEMA1,	/* refused */
};
/* Compares the type/subtype part only: parameters after ';' and letter case
 * are ignored, so a Content-Type "...+json; charset=utf-8" classifies too. */
enum mt_kind mediatype_classify(const char *media_type);

/* The two families of media types.  A manifest uses one: podman, skopeo,
 * buildah and CRI-O refuse a Docker manifest naming OCI types. */
enum mediatype_family {
	MT_FAMILY_NONE = 0,	/* a type of neither (artifacts) */
	MT_FAMILY_OCI,		/* application/vnd.oci.* */
	MT_FAMILY_DOCKER,	/* application/vnd.docker.* */
};
enum mediatype_family mediatype_family(const char *media_type);

/* What a layer media type says of its blob: 0 for a plain tar, and 0 too
 * for a type that is no layer (check mediatype_classify() first). */
enum mediatype_layer_bits {
	MT_LAYER_GZIP = 1 << 0,
	MT_LAYER_ZSTD = 1 << 1,
	MT_LAYER_FOREIGN = 1 << 2,	/* nondistributable (OCI), foreign (Docker) */
};
unsigned mediatype_layer_bits(const char *media_type);

/* The type a blob of type `media_type` has in `family`: the manifest, index,
 * config or layer type (same compression, same distributability) of that
 * family; `media_type` itself when it is of `family` already or of no family.
 * NULL when `family` has no such type: Docker has none for zstd layers and
 * none for OCI's empty descriptor. */
const char *mediatype_convert(const char *media_type, enum mediatype_family family);
/* Non-zero when `s` has the shape the OCI spec requires of a media type:
 * ^[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}/[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}$ */
int mediatype_valid(const char *s);
/* Non-zero when two media types name the same type/subtype (parameters and
 * case ignored).  NULL equals nothing. */
int mediatype_equal(const char *a, const char *b);

/* A key/value list kept in insertion order (annotations, labels). */
struct kvlist {
	struct strvec keys;
	struct strvec values;
};
#define KVLIST_INIT { STRVEC_INIT, STRVEC_INIT }
void kvlist_init(struct kvlist *kv);
void kvlist_release(struct kvlist *kv);
/* Deep copy into an uninitialised `out` (left empty on failure). */
int kvlist_copy(struct kvlist *out, const struct kvlist *src);
/* Sets key (replacing an existing value). */
int kvlist_set(struct kvlist *kv, const char *key, const char *value);
const char *kvlist_get(const struct kvlist *kv, const char *key);
/* Adds the members of a JSON object of string -> string (annotations,
 * labels) to an initialised `out`; `j` NULL or JSON null adds nothing.
 * ERR_INVALID for anything else, naming `what`. */
int kvlist_from_json(struct kvlist *out, const struct json *j, const char *what,
		     struct err *e);

/* An OCI content descriptor. */
struct descriptor {
	char *media_type;
	struct digest digest;
	int64_t size;		/* >= 0, checked on parse */
	char *artifact_type;	/* or NULL */
	struct platform *platform;	/* or NULL */
	struct kvlist annotations;
	struct strvec urls;
	char *data;		/* decoded embedded "data", or NULL */
	size_t data_len;
};

void descriptor_init(struct descriptor *d);
/* Frees the contents and re-initialises. */
void descriptor_release(struct descriptor *d);
/* Deep copy into an uninitialised `out` (left initialised on failure). */
int descriptor_copy(struct descriptor *out, const struct descriptor *src);
/* Parses a descriptor object into `out` (need not be initialised; left
 * initialised and empty on failure).  Checks: mediaType present and
 * well-formed (mediatype_valid), digest by digest_parse(), size an integer
 * >= 0 and < 2^62, artifactType well-formed, urls an array of strings,
 * annotations an object of strings, platform with os and architecture,
 * embedded "data" valid base64 whose length and hash match size and digest
 * (ERR_DIGEST otherwise).  Unknown members are ignored, as the spec asks.
 * `what` names the descriptor in errors ("layers[2]: invalid digest ...");
 * NULL means "descriptor". */
int descriptor_from_json(struct descriptor *out, const struct json *j, const char *what,
			 struct err *e);
/* A new JSON object (caller frees), or NULL when out of memory.  Members in
 * the order Go's encoder writes image-spec's v1.Descriptor, so hoist's output
 * matches what Go tools write: mediaType, digest, size, urls, annotations
 * (keys sorted, as Go sorts map keys), data (base64), platform
 * {architecture, os, os.version, os.features, variant}, artifactType; empty
 * optional members are left out. */
struct json *descriptor_to_json(const struct descriptor *d);

/* Helpers shared by the descriptor and manifest code. */
/* Fills `p` (strings NULL, os_features initialised) from a JSON object with
 * "os", "architecture" (both required), "variant", "os.version" and
 * "os.features"; an index entry's platform or an image config's top level.
 * Values are copied as written (not normalised). */
int platform_from_json(struct platform *p, const struct json *j, const char *what,
				struct err *e);

/* A parsed image manifest or index. */
struct manifest {
	struct buf raw;		/* the exact bytes */
	struct digest digest;	/* sha256 of raw */
	char *media_type;	/* from the document, else the hint */
	enum mt_kind kind;	/* MT_KIND_MANIFEST or MT_KIND_INDEX */
	int schema_version;
	char *artifact_type;
	/* image manifest */
	struct descriptor config;
	struct descriptor *layers;
	size_t n_layers;
	/* index */
	struct descriptor *manifests;
	size_t n_manifests;
	/* both */
	struct descriptor *subject;	/* or NULL */
	struct kvlist annotations;
};

void manifest_init(struct manifest *m);
/* Frees the contents and re-initialises. */
void manifest_release(struct manifest *m);
/* Parses `len` bytes (copied into m->raw) into `out` (need not be
 * initialised; left initialised and empty on failure).  `media_type_hint` is the
 * Content-Type or descriptor media type (may be NULL); a mediaType in the
 * document wins and they must agree when both are present.  Refuses
 * schema1 with ERR_UNSUPPORTED, documents over `max` bytes (0 means
 * MANIFEST_MAX_DEFAULT) with ERR_TOO_BIG, and anything malformed with
 * ERR_INVALID. */
int manifest_parse(struct manifest *out, const char *data, size_t len,
		   const char *media_type_hint, size_t max, struct err *e);
/* The child of an index best matching `want` (the first whose platform
 * satisfies platform_match(want, child)), or NULL; NULL too when `index` is
 * not an index.  Children without a platform never match. */
const struct descriptor *manifest_index_find(const struct manifest *index,
					     const struct platform *want);
/* Non-zero when the media types of manifest `m` say it is an image: its
 * config is an image config (OCI's, Docker's, or application/octet-stream
 * in a Docker manifest, as Docker 1.10 wrote), and it has no layers or at
 * least one whose type names an image layer (a tar, or a variant hoist
 * cannot read such as "+encrypted").  Anything else is an artifact, whose
 * config and layers are arbitrary blobs: OCI 1.1 artifacts, and the older
 * ones that borrow the image config type while their layers are a
 * signature (cosign) or attestations (buildx, whose documentation says
 * that config "should be ignored"). */
int manifest_is_image(const struct manifest *m);

/* Makes the manifest or index JSON `j` (one hoist is writing) use one family
 * of media types, the blobs staying the same.  An image manifest (mediaType,
 * config and layers) is Docker schema 2 when `docker` is set and each of its
 * types has a Docker name (zstd layers have none), else OCI; an index is a
 * Docker manifest list when `docker` is set and every entry is a Docker
 * manifest or list, else an OCI index.  Types of neither family are kept.
 * Docker's formats have no annotations: a Docker result loses its
 * "annotations" member.  `*out` (may be NULL) gets the document's media type
 * (a static string).  0, or ERR_NOMEM. */
int manifest_json_family(const char **out, struct json *j, int docker);

/* The parts of an image config hoist reads (the whole document stays
 * available in `json` for mutation; the raw bytes in `raw`). */
struct imgconfig {
	struct buf raw;
	struct json *json;
	struct platform platform;	/* os, architecture, variant, os.version */
	struct digest *diff_ids;
	size_t n_diff_ids;
	char *created;		/* or NULL */
};

/* Image configs larger than this are refused unless a caller passes a
 * larger cap. */
#define IMAGE_CONFIG_MAX_DEFAULT (8u << 20)

void imgconfig_init(struct imgconfig *c);
/* Frees the contents and re-initialises. */
void imgconfig_release(struct imgconfig *c);
/* Parses `len` bytes (copied into c->raw) into `out` (need not be
 * initialised; left initialised and empty on failure).  Requires os and
 * architecture, and rootfs with type "layers" and diff_ids that are all
 * valid digests; reads variant, os.version, os.features, created.
 * ERR_TOO_BIG over `max` bytes (0 means IMAGE_CONFIG_MAX_DEFAULT),
 * ERR_INVALID when malformed. */
int imgconfig_parse(struct imgconfig *out, const char *data, size_t len, size_t max,
		       struct err *e);

#endif

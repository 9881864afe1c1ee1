/* mediatype.h - the media types of the OCI image spec v1.1 and of Docker's
 * schema 2: what each says of its blob, and the two families.
 */
#ifndef HOIST_MEDIATYPE_H
#define HOIST_MEDIATYPE_H

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

#endif

/* manifest.h - image manifests and indexes, OCI v1.1 and Docker schema 2.
 *
 * The bytes
 * of a manifest received or stored are the bytes that are hashed and written:
 * struct manifest keeps them in `raw`, and nothing re-serialises a manifest
 * hoist did not create.  Docker schema1 is refused with an error naming it.
 */
#ifndef HOIST_MANIFEST_H
#define HOIST_MANIFEST_H

#include "core/base/buf.h"
#include "core/base/digest.h"
#include "core/model/descriptor.h"
#include "core/model/mediatype.h"

#include <stdint.h>

struct err;
struct json;

/* Manifests and indexes larger than this are refused unless a caller
 * passes a larger cap (distribution's own limit is 4 MiB). */
#define MANIFEST_MAX_DEFAULT (4u << 20)

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

#endif

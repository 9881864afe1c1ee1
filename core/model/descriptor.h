/* descriptor.h - OCI content descriptors, and the annotation keys hoist
 * reads and writes.
 */
#ifndef HOIST_DESCRIPTOR_H
#define HOIST_DESCRIPTOR_H

#include "core/base/digest.h"
#include "core/base/strvec.h"
#include "core/model/kvlist.h"
#include "core/model/platform.h"

#include <stddef.h>
#include <stdint.h>

struct err;
struct json;

#define ANNOT_REF_NAME "org.opencontainers.image.ref.name"
#define ANNOT_CREATED "org.opencontainers.image.created"
#define ANNOT_BASE_NAME "org.opencontainers.image.base.name"
#define ANNOT_BASE_DIGEST "org.opencontainers.image.base.digest"

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

#endif

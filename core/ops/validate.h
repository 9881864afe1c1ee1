/* validate.h - every problem of an image or index (`hoist validate`), not
 * just the first: media types, digests and sizes of every manifest, config
 * and layer, diff_ids, and index platforms against their images' configs;
 * in an OCI layout or in a registry.
 */
#ifndef HOIST_VALIDATE_H
#define HOIST_VALIDATE_H

#include "core/base/strvec.h"

struct descriptor;
struct env;
struct err;
struct layout;
struct ref;

enum validate_flags {
	VALIDATE_FAST = 1 << 0,	/* layers: presence and size only, no digests, no diff_ids */
};

/* What a validation found: `problems` (each a "WHAT: PROBLEM" line, a
 * breach of the image spec), `notes` (the same form, for what could not be
 * checked but is allowed: a layout may leave blobs to another store), and
 * the manifests already checked, so that one report names each once. */
struct validate_report {
	struct strvec problems;
	struct strvec notes;
	struct strvec seen;
};

#define VALIDATE_REPORT_INIT { STRVEC_INIT, STRVEC_INIT, STRVEC_INIT }
void validate_report_release(struct validate_report *r);

/* Checks the image or index `root` (a descriptor of a manifest) whose
 * blobs are in `l`: media types, digests and sizes of every manifest,
 * config and layer, diff_ids against the uncompressed layers (not with
 * VALIDATE_FAST), and that an index entry's platform agrees with its
 * image's config.  A manifest `out` has already seen is not checked again.
 * Returns 0 when the checks could run (with or without problems), a
 * negative code when they could not. */
int validate_layout(struct validate_report *out, struct layout *l,
			  const struct descriptor *root, unsigned flags, struct err *e);

/* As validate_layout() for `ref` in its registry: manifests through
 * the cache contract, blobs streamed from the registry and checked as they
 * pass (nothing is stored).  A blob the registry lacks is a problem. */
int validate_ref(struct validate_report *out, struct env *env, const struct ref *ref,
		       unsigned flags, struct err *e);

#endif

/* reg_manifest.h - manifests and indexes on a registry: fetched (GET), looked
 * at (HEAD), pushed (PUT) and deleted, through a session of registry/reg.h.
 * What is received is capped at the session's manifest_max and checked
 * against the digest asked for and the one the registry names.
 */
#ifndef HOIST_REG_MANIFEST_H
#define HOIST_REG_MANIFEST_H

#include "core/base/digest.h"
#include "core/model/manifest.h"

#include <stddef.h>

struct err;
struct ref;
struct reg;

/* Fetches the manifest or index `ref` names (by digest when ref->digest is
 * set, else by tag) into `out` (need not be initialised; left initialised
 * and empty on failure), from the mirrors first (reg_mirror_add).  Refuses
 * schema1 (ERR_UNSUPPORTED, naming it), anything over manifest_max
 * (ERR_TOO_BIG), bytes that do not hash to the requested digest or to the
 * Docker-Content-Digest the registry sent (ERR_DIGEST). */
int reg_manifest_get(struct manifest *out, struct reg *r, const struct ref *ref,
		     struct err *e);
/* As reg_manifest_get(), from r's own registry only (never a mirror). */
int reg_manifest_get_direct(struct manifest *out, struct reg *r, const struct ref *ref,
			    struct err *e);
/* Media type, digest and size of the manifest `ref` names, by HEAD (mirrors
 * first); a registry that does not send Docker-Content-Digest costs a GET.
 * `out` need not be initialised; the caller releases it (descriptor_release). */
int reg_manifest_head(struct descriptor *out, struct reg *r, const struct ref *ref,
		      struct err *e);
/* Uploads `len` bytes as the manifest `tag_or_digest` of `repo`.  The
 * digest of the bytes goes to `out` (may be NULL); when `tag_or_digest` is a
 * digest the bytes must hash to it (ERR_DIGEST, nothing sent). */
int reg_manifest_put(struct digest *out, struct reg *r, const char *repo,
		     const char *tag_or_digest, const char *media_type, const void *data,
		     size_t len, struct err *e);
/* Deletes a manifest by digest (or a tag, where the registry allows it).
 * ERR_UNSUPPORTED when the registry does not: a tag on a registry that
 * deletes only by digest (distribution answers 400 DIGEST_INVALID), or a
 * registry whose deletes are switched off (405, UNSUPPORTED). */
int reg_manifest_delete(struct reg *r, const char *repo, const char *tag_or_digest,
			struct err *e);

#endif

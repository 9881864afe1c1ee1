/* verify.h - `hoist cache verify`: re-hash every blob, check that every
 * entry is complete, and with --repair remove what is corrupt and move or
 * drop the entries that needed it.
 */
#ifndef HOIST_VERIFY_H
#define HOIST_VERIFY_H

#include "core/base/digest.h"

#include <stddef.h>
#include <stdint.h>

struct err;
struct layout;

enum verify_flags {
	VERIFY_REPAIR = 1 << 0,
};

struct verify_problem {
	char *what;		/* "corrupt", "missing", "dropped", "moved", "removed" */
	char *name;		/* the entry concerned, or NULL for a blob */
	struct digest digest;	/* the blob concerned */
};

struct verify_report {
	size_t n_blobs;
	uint64_t bytes;
	size_t n_entries;
	size_t n_corrupt;	/* blobs whose content does not match their name */
	size_t n_missing;	/* (entry, blob) pairs: complete entries lacking a blob */
	struct verify_problem *problems;	/* in the order found */
	size_t n_problems;
};
void verify_report_release(struct verify_report *r);

/* Re-hashes every blob and checks that every index.json entry reaches only
 * present, intact blobs (metadata entries: their manifests and configs).
 * With VERIFY_REPAIR, under the gc lock (`wait_ms`): removes corrupt blobs;
 * an index.json entry that needed one moves to the metadata index when its
 * manifests and configs are intact, else it is dropped, as is a metadata
 * entry whose manifest is gone; the next pull fetches them again.  Nothing
 * is repaired unless every listing and read succeeded.  Returns 0 even when
 * problems were found (see the report). */
int verify_run(struct verify_report *out, struct layout *l, unsigned flags, int wait_ms,
	       struct err *e);

#endif

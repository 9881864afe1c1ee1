/* usage.h - usage records: when each named index entry was pulled and
 * last used, for `hoist cache ls` and `prune`.
 *
 * A record is .hoist/refs/<sha256 of the ref name>.json holding {"ref",
 * "digest", "pulled"}; its mtime is the last use.  The index updates of
 * cache/layout.h write and remove records, under index.lock.
 */
#ifndef HOIST_USAGE_H
#define HOIST_USAGE_H

#include "core/base/digest.h"

#include <stddef.h>
#include <stdint.h>

struct err;
struct layout;

/* Marks `ref_name` as used now: sets the mtime of its usage record
 * (utimensat; no lock, no index rewrite).  0, ERR_NOT_FOUND when the entry
 * has no record (written by another tool), ERR_IO.  Never fills an err:
 * callers usually ignore the result. */
int usage_touch(struct layout *l, const char *ref_name);

struct usage_info {
	struct digest digest;	/* as recorded; str "" when unreadable */
	int64_t pulled;		/* unix seconds when set, -1 when unknown */
	int64_t last_used;	/* unix seconds (the record's mtime) */
};
/* Reads the usage record of `ref_name`; ERR_NOT_FOUND when there is none. */
int usage_get(struct usage_info *out, struct layout *l, const char *ref_name, struct err *e);
/* Removes (counts only, with dry_run) the usage records, and leftover
 * temporary files, of names in neither index; under index.lock. */
int usage_prune(size_t *out_removed, struct layout *l, int dry_run, struct err *e);

/* (Over)writes the record of `ref_name`, naming digest `d` and pulled now.
 * For cache/layout.c's index updates: call under index.lock. */
int usage_set(struct layout *l, const char *ref_name, const struct digest *d, struct err *e);
/* Removes the record of `ref_name`, if any (under index.lock). */
void usage_remove(struct layout *l, const char *ref_name);

#endif

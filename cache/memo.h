/* memo.h - memo records: small facts a later run can reuse (the build's
 * layer cache), keyed by a digest of their inputs: a file
 * .hoist/memo/<kind>/<key hex> (kind: lowercase letters) of at most 4096
 * bytes.  `hoist cache gc` drops records unused for its grace period.
 */
#ifndef HOIST_MEMO_H
#define HOIST_MEMO_H

#include <stddef.h>
#include <stdint.h>

struct buf;
struct digest;
struct err;
struct layout;

/* Appends the record to `out`; ERR_NOT_FOUND when there is none.  Marks
 * it used (its mtime), which keeps it from gc. */
int memo_get(struct buf *out, struct layout *l, const char *kind, const struct digest *key,
	     struct err *e);
/* Writes (replaces) the record, without fsync (a temporary file renamed
 * over it): one lost or torn by a crash must read as wrong, so the record
 * carries what lets its reader check it whole. */
int memo_put(struct layout *l, const char *kind, const struct digest *key, const char *data,
	     size_t len, struct err *e);
/* Removes (counts only, with dry_run) the records, and temporary files,
 * last used before `cutoff` (unix seconds); for gc, under its lock. */
int memo_prune(size_t *out_removed, struct layout *l, int64_t cutoff, int dry_run,
	       struct err *e);

#endif

/* prune.h - `hoist cache prune`: drop index entries by age, count or
 * size, then gc; and the dropping that rm and verify --repair share.
 *
 * An entry's last use is its usage record's mtime (cache/usage.h), else
 * the mtime of its manifest blob.
 */
#ifndef HOIST_PRUNE_H
#define HOIST_PRUNE_H

#include "cache/gc.h"
#include "cache/layout.h"

#include <stddef.h>
#include <stdint.h>

struct digest;
struct err;

struct prune_options {
	int64_t older_than_s;	/* drop entries last used longer ago; < 0 off */
	long keep_last;		/* keep only the N most recently used; < 0 off */
	int64_t max_size;	/* drop least recently used until the total size of
				 * blobs reachable from what is left fits; < 0 off */
	const char *filter;	/* fnmatch(3) glob on the ref name: only matching
				 * entries are candidates; NULL = all */
	int all;		/* drop every candidate */
	struct gc_options gc;	/* for the gc that follows; GC_DRY_RUN = change nothing */
};

struct prune_report {
	struct gc_entry *dropped;	/* the entries dropped (or to be dropped) */
	size_t n_dropped;
	struct gc_report gc;	/* of the gc that followed (or would) */
};
void prune_report_release(struct prune_report *r);

/* Drops the entries the policies select (the union of --all, --older-than
 * and --keep-last among the candidates, then --max-size over what is left),
 * then runs gc (prune_apply).  `out` need not be initialised; release it
 * with prune_report_release() whatever the result. */
int prune_run(struct prune_report *out, struct layout *l, const struct prune_options *opt,
	      struct err *e);

/* Appends an entry to r->dropped (`*cap` its allocated length, 0 at
 * first), copying `name` (may be NULL). */
int prune_report_add(struct prune_report *r, size_t *cap, const char *name,
		     const struct digest *d, enum layout_index which, struct err *e);
/* Drops r->dropped from both indexes, then runs gc into r->gc.  With
 * GC_DRY_RUN nothing is dropped: gc reports what it would remove were they
 * gone. */
int prune_apply(struct prune_report *r, struct layout *l, const struct gc_options *opt,
		struct err *e);
/* Removes the `n` entries `drops` from the index each names, matched by
 * name and digest, so an entry re-pulled meanwhile (its digest changed)
 * stays. */
int prune_drop(struct layout *l, const struct gc_entry *drops, size_t n, struct err *e);

#endif

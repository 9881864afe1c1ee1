/* gc.h - cache maintenance on an OCI layout: gc (mark and sweep), prune,
 * remove, verify and list.
 *
 * Mark.  Everything reachable from index.json and .hoist/meta-index.json:
 * indexes -> child manifests -> config and layers, the `subject` of a kept
 * manifest, and referrers (manifests whose `subject` is a kept manifest).
 * Each manifest is read once; the marked set is a hash set of digests.
 * Blobs an entry names but that are missing are fine (metadata entries lack
 * layers by design).
 *
 * Sweep.  One readdir per blobs/<alg>/: an unmarked blob whose mtime is
 * older than the grace period is unlinked (and its .hoist/sources record
 * with it); files in .hoist/ingest whose flock can be taken (their writer
 * is dead) are unlinked; usage records of names in neither index go, and
 * memo records (memo_get) unused for longer than the grace period.
 * Names under blobs/ that are not digests (another tool's temporary files)
 * are never touched.
 *
 * Locking.  gc holds .hoist/gc.lock exclusively (layout_gc_lock) from before
 * it reads the indexes until its last unlink, so no writer holding a lease
 * runs meanwhile; see the argument in gc.c and above layout_lease_begin in
 * layout.c.  The struct layout passed in must hold no lease.
 */
#ifndef HOIST_GC_H
#define HOIST_GC_H

#include "cache/layout.h"
#include "core/base/buf.h"
#include "core/base/digest.h"

#include <stddef.h>
#include <stdint.h>

struct err;

enum gc_flags {
	GC_DRY_RUN = 1 << 0,	/* report what would go; change nothing */
};

#define GC_GRACE_DEFAULT_S 3600

struct gc_options {
	unsigned flags;		/* enum gc_flags */
	int64_t grace_s;	/* unreachable blobs younger than this stay (>= 0) */
	int wait_ms;		/* wait for the gc lock; < 0 forever, 0 try once */
};
#define GC_OPTIONS_INIT { 0, GC_GRACE_DEFAULT_S, 60000 }

/* One blob removed (or, with GC_DRY_RUN, that would be). */
struct gc_item {
	struct digest digest;
	int64_t size;
};

struct gc_report {
	size_t n_entries;	/* entries marked from (both indexes) */
	size_t n_blobs;		/* blob files found */
	size_t n_reachable;	/* of them reachable */
	size_t n_young;		/* unreachable but inside the grace period: kept */
	uint64_t young_bytes;
	struct gc_item *removed;	/* the blobs removed */
	size_t n_removed;
	uint64_t removed_bytes;
	size_t n_temp;		/* dead writers' temporary files removed */
	uint64_t temp_bytes;
	size_t n_records;	/* stale usage records removed */
	size_t n_memos;		/* memo records unused for the grace period, removed */
};
void gc_report_release(struct gc_report *r);

/* Runs gc.  `out` need not be initialised; release it with
 * gc_report_release() whatever the result.  ERR_LOCKED when writers hold
 * leases for longer than opt->wait_ms. */
int gc_run(struct gc_report *out, struct layout *l, const struct gc_options *opt,
	   struct err *e);

/* --- prune and remove ------------------------------------------------- */

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

/* An entry dropped (or to be dropped). */
struct prune_dropped {
	char *name;
	struct digest digest;
	enum layout_index which;
};

struct prune_report {
	struct prune_dropped *dropped;
	size_t n_dropped;
	struct gc_report gc;	/* of the gc that followed (or would) */
};
void prune_report_release(struct prune_report *r);

/* Drops the entries the policies select (the union of --all, --older-than
 * and --keep-last among the candidates, then --max-size over what is left),
 * then runs gc.  An entry re-pulled after it was selected (its digest
 * changed) is not dropped.  Last use is the usage record's mtime, else the
 * mtime of the entry's manifest blob. */
int prune_run(struct prune_report *out, struct layout *l, const struct prune_options *opt,
		struct err *e);

/* Drops the entries named `names` (exact ref names, from either index),
 * then runs gc.  ERR_NOT_FOUND naming the first name in neither index;
 * nothing is dropped then. */
int rm_run(struct prune_report *out, struct layout *l, const char *const *names,
		 size_t n, const struct gc_options *opt, struct err *e);

/* --- verify -------------------------------------------------------------- */

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
 * entry whose manifest is gone; the next pull fetches them again.  Returns
 * 0 even when problems were found (see the report). */
int verify_run(struct verify_report *out, struct layout *l, unsigned flags, int wait_ms,
		 struct err *e);

/* --- list ------------------------------------------------------------------ */

struct ls_entry {
	char *name;		/* ref name, or NULL when the entry has none */
	enum layout_index which;
	struct descriptor desc;
	char *platforms;	/* "linux/amd64, linux/arm64/v8", or NULL */
	int complete;		/* every blob it reaches is present */
	size_t n_missing;
	uint64_t unique_bytes;	/* blobs only this entry reaches */
	uint64_t shared_bytes;	/* blobs other entries reach too */
	int64_t pulled;		/* unix seconds, -1 unknown */
	int64_t last_used;	/* unix seconds, -1 unknown */
};

struct ls_summary {
	size_t n_entries;
	size_t n_blobs;
	uint64_t bytes;		/* of all blob files */
	uint64_t reclaimable;	/* of unreachable blobs (gc with grace 0) */
};

/* Lists the entries of index.json, then of the metadata index. */
int ls_entries(struct ls_entry **out, size_t *out_n, struct ls_summary *out_sum,
	       struct layout *l, struct err *e);
void ls_entries_free(struct ls_entry *entries, size_t n);

#endif

/* gc.h - `hoist cache gc`: mark and sweep on an OCI layout.
 *
 * Marks everything reachable from index.json and .hoist/meta-index.json
 * (cache/graph.h), referrers of what is kept included; then removes the
 * unmarked blobs older than a grace period (with their .hoist/sources
 * records), dead writers' temporary files, usage records of names in
 * neither index and unused memo records.  Names under blobs/ that are not
 * digests (other tools' temporary files) are never touched.
 */
#ifndef HOIST_GC_H
#define HOIST_GC_H

#include "cache/layout.h"
#include "core/base/digest.h"

#include <stddef.h>
#include <stdint.h>

struct err;

enum gc_flags {
	GC_DRY_RUN = 1 << 0,	/* report what would go; change nothing */
};

#define GC_GRACE_DEFAULT_S 3600

/* An entry of either index, by name (NULL for none), digest and index. */
struct gc_entry {
	char *name;
	struct digest digest;
	enum layout_index which;
};
/* Whether `x` is the entry of index `which` named `name` (NULL for none)
 * with digest string `digest` (NULL never matches). */
int gc_entry_is(const struct gc_entry *x, enum layout_index which, const char *name,
		const char *digest);

struct gc_options {
	unsigned flags;		/* enum gc_flags */
	int64_t grace_s;	/* unreachable blobs younger than this stay (>= 0) */
	int wait_ms;		/* wait for the gc lock; < 0 forever, 0 try once */
	/* Entries to treat as dropped already (a dry run of prune or rm, with
	 * GC_DRY_RUN); usage and memo records are not counted then. */
	const struct gc_entry *skip;
	size_t n_skip;
};
#define GC_OPTIONS_INIT { 0, GC_GRACE_DEFAULT_S, 60000, NULL, 0 }

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

/* Runs gc, holding .hoist/gc.lock exclusively (layout_gc_lock) from before
 * it reads the indexes until its last unlink; the struct layout passed in
 * must hold no lease.  `out` need not be initialised; release it with
 * gc_report_release() whatever the result.  ERR_LOCKED when writers hold
 * leases for longer than opt->wait_ms.  Nothing is removed when marking
 * fails (a listing or a manifest that cannot be read). */
int gc_run(struct gc_report *out, struct layout *l, const struct gc_options *opt,
	   struct err *e);

#endif

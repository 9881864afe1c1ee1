/* ls.h - `hoist cache ls`: the entries of both indexes with their sizes,
 * platforms and times, and what the blobs take on disk.
 */
#ifndef HOIST_LS_H
#define HOIST_LS_H

#include "cache/layout.h"
#include "core/model/manifest.h"

#include <stddef.h>
#include <stdint.h>

struct err;

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

/* Lists the entries of index.json, then of the metadata index.  A corrupt
 * manifest is shown as a leaf (verify reports it).  Free *out with
 * ls_entries_free(). */
int ls_entries(struct ls_entry **out, size_t *out_n, struct ls_summary *out_sum,
	       struct layout *l, struct err *e);
void ls_entries_free(struct ls_entry *entries, size_t n);

#endif

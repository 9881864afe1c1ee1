/* rm.h - `hoist cache rm`: drop index entries by name, then gc. */
#ifndef HOIST_RM_H
#define HOIST_RM_H

#include "cache/prune.h"

#include <stddef.h>

struct err;
struct gc_options;
struct layout;

/* Drops the entries named `names` (exact ref names, from either index),
 * then runs gc (prune_apply; GC_DRY_RUN changes nothing).  ERR_NOT_FOUND
 * naming the first name in neither index; nothing is dropped then.  `out`
 * need not be initialised; release it with prune_report_release(). */
int rm_run(struct prune_report *out, struct layout *l, const char *const *names, size_t n,
	   const struct gc_options *opt, struct err *e);

#endif

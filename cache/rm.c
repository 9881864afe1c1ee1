/* rm.c - dropping index entries by name, then gc.  See rm.h. */
#include "cache/rm.h"

#include "cache/layout.h"
#include "core/base/err.h"

#include <string.h>

/* Adds every entry of refs[] (the entries of both indexes) named `name` to
 * out->dropped.  1 when there was one, 0 when none, or an error. */
static int rm_add(struct prune_report *out, size_t *cap, struct layout_ref *const *refs,
		  const size_t *n_refs, const char *name, struct err *e)
{
	enum layout_index w;
	size_t k;
	int found = 0, ret;

	for (w = LAYOUT_INDEX_MAIN; w <= LAYOUT_INDEX_META; w++)
		for (k = 0; k < n_refs[w]; k++) {
			if (!refs[w][k].name || strcmp(refs[w][k].name, name))
				continue;
			if ((ret = prune_report_add(out, cap, refs[w][k].name,
						    &refs[w][k].desc.digest, w, e)) < 0)
				return ret;
			found = 1;
		}
	return found;
}

int rm_run(struct prune_report *out, struct layout *l, const char *const *names, size_t n,
	   const struct gc_options *opt, struct err *e)
{
	struct layout_ref *refs[2] = { NULL, NULL };
	size_t n_refs[2] = { 0, 0 }, cap = 0, i;
	enum layout_index w;
	int ret = -1;

	memset(out, 0, sizeof(*out));
	for (w = LAYOUT_INDEX_MAIN; w <= LAYOUT_INDEX_META; w++)
		if ((ret = layout_index_list_in(&refs[w], &n_refs[w], l, w, e)) < 0)
			goto out;
	for (i = 0; i < n; i++) {
		if ((ret = rm_add(out, &cap, refs, n_refs, names[i], e)) < 0)
			goto out;
		if (!ret) {
			ret = err_set(e, ERR_NOT_FOUND, "no image named '%.200s' in the cache '%s': "
				      "'hoist cache ls' lists the images it holds", names[i],
				      layout_path(l));
			goto out;
		}
	}
	ret = prune_apply(out, l, opt, e);
out:
	for (w = LAYOUT_INDEX_MAIN; w <= LAYOUT_INDEX_META; w++)
		layout_refs_free(refs[w], n_refs[w]);
	return ret;
}

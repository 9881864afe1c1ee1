/* prune.c - dropping index entries, then gc.  See prune.h. */
#include "cache/prune.h"

#include "cache/graph.h"
#include "core/base/err.h"
#include "core/base/json.h"
#include "core/model/manifest.h"

#include <fnmatch.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

void prune_report_release(struct prune_report *r)
{
	size_t i;

	if (!r)
		return;
	for (i = 0; i < r->n_dropped; i++)
		free(r->dropped[i].name);
	free(r->dropped);
	gc_report_release(&r->gc);
	memset(r, 0, sizeof(*r));
}

struct drop_arg {
	const struct gc_entry *drops;
	size_t n;
	enum layout_index which;
};

/* Rebuilds "manifests" without the entries to drop (matched by name and
 * digest, so an entry re-pulled meanwhile stays).  1 when nothing changed. */
static int drop_fn(struct json *index, void *arg, struct err *e)
{
	struct drop_arg *a = arg;
	struct json *old = json_get(index, "manifests"), *arr = json_new_array(), *m;
	const char *name, *dg;
	size_t i, k, n = json_array_len(old), kept = 0;

	if (!arr)
		return err_set(e, ERR_NOMEM, "out of memory");
	for (i = 0; i < n; i++) {
		m = json_array_get(old, i);
		name = json_get_str(json_get(m, "annotations"), ANNOT_REF_NAME);
		dg = json_get_str(m, "digest");
		for (k = 0; k < a->n; k++)
			if (gc_entry_is(&a->drops[k], a->which, name, dg))
				break;
		if (k < a->n)
			continue;
		if (json_append(arr, json_ref(m)) < 0) {
			json_free(arr);
			return err_set(e, ERR_NOMEM, "out of memory");
		}
		kept++;
	}
	if (kept == n) {
		json_free(arr);
		return 1;
	}
	if (json_set(index, "manifests", arr) < 0)
		return err_set(e, ERR_NOMEM, "out of memory");
	return 0;
}

int prune_drop(struct layout *l, const struct gc_entry *drops, size_t n, struct err *e)
{
	struct drop_arg a = { drops, n, LAYOUT_INDEX_MAIN };
	int ret;

	if (!n)
		return 0;
	if ((ret = layout_index_update_in(l, LAYOUT_INDEX_MAIN, drop_fn, &a, e)) < 0)
		return ret;
	a.which = LAYOUT_INDEX_META;
	return layout_index_update_in(l, LAYOUT_INDEX_META, drop_fn, &a, e);
}

int prune_report_add(struct prune_report *r, size_t *cap, const char *name,
		     const struct digest *d, enum layout_index which, struct err *e)
{
	if (r->n_dropped == *cap) {
		size_t c = *cap ? *cap * 2 : 16;
		struct gc_entry *p = realloc(r->dropped, c * sizeof(*p));

		if (!p)
			return err_set(e, ERR_NOMEM, "out of memory");
		r->dropped = p;
		*cap = c;
	}
	r->dropped[r->n_dropped].name = NULL;
	if (name && !(r->dropped[r->n_dropped].name = strdup(name)))
		return err_set(e, ERR_NOMEM, "out of memory");
	r->dropped[r->n_dropped].digest = *d;
	r->dropped[r->n_dropped++].which = which;
	return 0;
}

int prune_apply(struct prune_report *r, struct layout *l, const struct gc_options *opt,
		struct err *e)
{
	struct gc_options o = *opt;
	int ret;

	if (opt->flags & GC_DRY_RUN) {
		o.skip = r->dropped;
		o.n_skip = r->n_dropped;
		return gc_run(&r->gc, l, &o, e);
	}
	if ((ret = prune_drop(l, r->dropped, r->n_dropped, e)) < 0)
		return ret;
	o.skip = NULL;
	o.n_skip = 0;
	return gc_run(&r->gc, l, &o, e);
}

static int cmp_used_desc(const void *a, const void *b)
{
	const struct graph_entry *x = *(struct graph_entry *const *)a;
	const struct graph_entry *y = *(struct graph_entry *const *)b;

	return x->last_used < y->last_used ? 1 : x->last_used > y->last_used ? -1 : 0;
}

static void visit_unref(struct graph *g, struct graph_node *nd, void *arg)
{
	uint64_t *total = arg;

	(void)g;
	if (nd->refs && !--nd->refs && nd->listed && nd->size > 0)
		*total -= (uint64_t)nd->size;
}

/* --max-size: drops the least recently used of `cand` (most recently used
 * first) until the blobs the rest reach fit. */
static int prune_fit(struct graph *g, struct graph_entry *ents, size_t n_ents,
		     struct graph_entry **cand, size_t n_cand, int64_t max_size, struct err *e)
{
	uint64_t total = 0;
	size_t i;
	int ret;

	for (i = 0; i < g->n; i++)
		if (g->nodes[i].refs && g->nodes[i].listed && g->nodes[i].size > 0)
			total += (uint64_t)g->nodes[i].size;
	for (i = 0; i < n_ents; i++)
		if (ents[i].drop &&
		    (ret = graph_walk(g, ents[i].root, visit_unref, &total, e)) < 0)
			return ret;
	for (i = n_cand; i-- > 0 && total > (uint64_t)max_size;) {
		if (cand[i]->drop)
			continue;
		cand[i]->drop = 1;
		if ((ret = graph_walk(g, cand[i]->root, visit_unref, &total, e)) < 0)
			return ret;
	}
	return 0;
}

/* Marks the entries the policies select (drop = 1). */
static int prune_select(struct graph *g, struct graph_entry *ents, size_t n_ents,
			const struct prune_options *opt, struct err *e)
{
	struct graph_entry **cand = NULL;
	size_t n_cand = 0, i;
	int64_t now = (int64_t)time(NULL);
	int ret = -1;

	if (!(cand = calloc(n_ents + 1, sizeof(*cand))))
		return err_set(e, ERR_NOMEM, "out of memory");
	for (i = 0; i < n_ents; i++) {
		if ((ret = graph_entry_times(g, &ents[i], e)) < 0)
			goto out;
		if (opt->filter && fnmatch(opt->filter, ents[i].name ? ents[i].name : "", 0))
			continue;
		cand[n_cand++] = &ents[i];
	}
	/* most recently used first */
	qsort(cand, n_cand, sizeof(*cand), cmp_used_desc);
	for (i = 0; i < n_cand; i++) {
		if (opt->all)
			cand[i]->drop = 1;
		if (opt->older_than_s >= 0 && cand[i]->last_used < now - opt->older_than_s)
			cand[i]->drop = 1;
		if (opt->keep_last >= 0 && i >= (size_t)opt->keep_last)
			cand[i]->drop = 1;
	}
	ret = 0;
	if (opt->max_size >= 0)
		ret = prune_fit(g, ents, n_ents, cand, n_cand, opt->max_size, e);
out:
	free(cand);
	return ret;
}

int prune_run(struct prune_report *out, struct layout *l, const struct prune_options *opt,
	      struct err *e)
{
	struct graph g;
	struct graph_entry *ents = NULL;
	size_t n_ents = 0, n_blobs, cap = 0, i;
	int ret = -1;

	memset(out, 0, sizeof(*out));
	graph_init(&g, l);
	if ((ret = graph_list(&g, &n_blobs, 1, e)) < 0 ||
	    (ret = graph_entries(&g, &ents, &n_ents, NULL, NULL, e)) < 0 ||
	    (ret = prune_select(&g, ents, n_ents, opt, e)) < 0) {
		err_prefix(e, "nothing was dropped or removed");
		goto out;
	}
	for (i = 0; i < n_ents; i++)
		if (ents[i].drop && (ret = prune_report_add(out, &cap, ents[i].name,
							     &ents[i].desc.digest, ents[i].which,
							     e)) < 0)
			goto out;
	ret = prune_apply(out, l, &opt->gc, e);
out:
	graph_entries_free(ents, n_ents);
	graph_release(&g);
	return ret;
}

/* ls.c - listing a layout's entries.  See ls.h. */
#include "cache/ls.h"

#include "cache/blob.h"
#include "cache/graph.h"
#include "core/base/buf.h"
#include "core/base/err.h"
#include "core/model/imgconfig.h"
#include "core/model/manifest.h"
#include "core/model/platform.h"

#include <stdlib.h>
#include <string.h>

struct entry_sizes {
	uint64_t unique, shared;
	size_t missing;
};

static void visit_sizes(struct graph *g, struct graph_node *nd, void *arg)
{
	struct entry_sizes *s = arg;

	(void)g;
	if (!nd->listed) {
		s->missing++;
		return;
	}
	if (nd->size <= 0)
		return;
	if (nd->refs > 1)
		s->shared += (uint64_t)nd->size;
	else
		s->unique += (uint64_t)nd->size;
}

/* "linux/amd64, linux/arm64/v8" for an index (its children's platforms) or
 * an image (the descriptor's platform, else its config's); NULL if unknown. */
static char *entry_platforms(struct graph *g, const struct descriptor *desc)
{
	struct buf out = BUF_INIT, rd = BUF_INIT;
	struct manifest m;
	struct imgconfig cfg;
	size_t k;

	manifest_init(&m);
	imgconfig_init(&cfg);
	if (desc->platform) {
		platform_format(&out, desc->platform);
		goto out;
	}
	if (blob_read(&rd, g->l, &desc->digest, GRAPH_MANIFEST_MAX, NULL) < 0 ||
	    manifest_parse(&m, rd.data, rd.len, NULL, GRAPH_MANIFEST_MAX, NULL) < 0)
		goto out;
	if (m.kind == MT_KIND_INDEX) {
		for (k = 0; k < m.n_manifests; k++) {
			if (!m.manifests[k].platform)
				continue;
			if (out.len)
				buf_addstr(&out, ", ");
			platform_format(&out, m.manifests[k].platform);
		}
		goto out;
	}
	buf_reset(&rd);
	if (blob_read(&rd, g->l, &m.config.digest, IMGCONFIG_MAX_DEFAULT, NULL) == 0 &&
	    imgconfig_parse(&cfg, rd.data, rd.len, 0, NULL) == 0)
		platform_format(&out, &cfg.platform);
out:
	manifest_release(&m);
	imgconfig_release(&cfg);
	buf_release(&rd);
	if (!out.len || buf_failed(&out)) {
		buf_release(&out);
		return NULL;
	}
	return buf_detach(&out, NULL);
}

void ls_entries_free(struct ls_entry *entries, size_t n)
{
	size_t i;

	if (!entries)
		return;
	for (i = 0; i < n; i++) {
		free(entries[i].name);
		free(entries[i].platforms);
		descriptor_release(&entries[i].desc);
	}
	free(entries);
}

/* Fills `res` from entry `en` (taking its name and descriptor): sizes,
 * times and platforms. */
static int ls_fill(struct ls_entry *res, struct graph *g, struct graph_entry *en,
		   struct err *e)
{
	struct entry_sizes s;
	int ret;

	memset(&s, 0, sizeof(s));
	if ((ret = graph_walk(g, en->root, visit_sizes, &s, e)) < 0)
		return ret;
	graph_entry_times(g, en, NULL);	/* unknown when unreadable */
	res->name = en->name;
	en->name = NULL;
	res->which = en->which;
	descriptor_release(&res->desc);
	res->desc = en->desc;
	descriptor_init(&en->desc);
	res->complete = s.missing == 0;
	res->n_missing = s.missing;
	res->unique_bytes = s.unique;
	res->shared_bytes = s.shared;
	res->pulled = en->pulled;
	res->last_used = en->last_used;
	res->platforms = entry_platforms(g, &res->desc);
	return 0;
}

/* Adds the sizes of all blob files, and of the unreachable ones, to `sum`. */
static void ls_sum(struct ls_summary *sum, const struct graph *g)
{
	uint64_t size;
	size_t i;

	for (i = 0; i < g->n; i++) {
		if (!g->nodes[i].listed)
			continue;
		size = (uint64_t)(g->nodes[i].size > 0 ? g->nodes[i].size : 0);
		sum->bytes += size;
		if (!g->nodes[i].marked)
			sum->reclaimable += size;
	}
}

int ls_entries(struct ls_entry **out, size_t *out_n, struct ls_summary *out_sum,
	       struct layout *l, struct err *e)
{
	struct graph g;
	struct graph_entry *ents = NULL;
	struct ls_entry *res = NULL;
	size_t n_ents = 0, i;
	int ret = -1;

	*out = NULL;
	*out_n = 0;
	memset(out_sum, 0, sizeof(*out_sum));
	graph_init(&g, l);
	g.corrupt_ok = 1;	/* shown as such; verify reports it */
	if ((ret = graph_list(&g, &out_sum->n_blobs, 1, e)) < 0 ||
	    (ret = graph_entries(&g, &ents, &n_ents, NULL, NULL, e)) < 0 ||
	    (ret = graph_referrers(&g, e)) < 0)
		goto out;
	res = calloc(n_ents + 1, sizeof(*res));
	if (!res) {
		ret = err_set(e, ERR_NOMEM, "out of memory");
		goto out;
	}
	for (i = 0; i < n_ents; i++)
		descriptor_init(&res[i].desc);
	for (i = 0; i < n_ents; i++)
		if ((ret = ls_fill(&res[i], &g, &ents[i], e)) < 0)
			goto out;
	ls_sum(out_sum, &g);
	out_sum->n_entries = n_ents;
	*out = res;
	*out_n = n_ents;
	res = NULL;
	ret = 0;
out:
	ls_entries_free(res, n_ents);
	graph_entries_free(ents, n_ents);
	graph_release(&g);
	return ret;
}

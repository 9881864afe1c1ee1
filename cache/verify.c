/* verify.c - re-hashing a layout's blobs and checking its entries.  See
 * verify.h. */
#include "cache/verify.h"

#include "cache/blob.h"
#include "cache/graph.h"
#include "cache/layout.h"
#include "cache/prune.h"
#include "core/base/err.h"
#include "core/model/manifest.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

void verify_report_release(struct verify_report *r)
{
	size_t i;

	if (!r)
		return;
	for (i = 0; i < r->n_problems; i++) {
		free(r->problems[i].what);
		free(r->problems[i].name);
	}
	free(r->problems);
	memset(r, 0, sizeof(*r));
}

static int add_problem(struct verify_report *r, size_t *cap, const char *what,
		       const char *name, const struct digest *d)
{
	struct verify_problem *p;

	if (r->n_problems == *cap) {
		size_t c = *cap ? *cap * 2 : 16;

		if (!(p = realloc(r->problems, c * sizeof(*p))))
			return ERR_NOMEM;
		r->problems = p;
		*cap = c;
	}
	p = &r->problems[r->n_problems];
	p->what = strdup(what);
	p->name = name ? strdup(name) : NULL;
	p->digest = *d;
	if (!p->what || (name && !p->name)) {
		free(p->what);
		free(p->name);
		return ERR_NOMEM;
	}
	r->n_problems++;
	return 0;
}

/* Hashes blob file `nd`; sets nd->corrupt on a mismatch.  ENOENT is fine
 * (gc removed it meanwhile). */
static int hash_blob(struct graph *g, struct graph_node *nd, char *io, size_t io_len, struct err *e)
{
	struct digest_ctx ctx;
	struct digest got;
	ssize_t r;
	int fd, ret;

	fd = openat(g->dir_fd[nd->d.alg], digest_hex(&nd->d), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0) {
		if (errno == ENOENT) {
			nd->listed = 0;
			return 0;
		}
		return err_set_errno(e, ERR_IO, errno, "cannot open blob %s in '%s'", nd->d.str,
				     layout_path(g->l));
	}
	if ((ret = digest_ctx_init(&ctx, nd->d.alg, e)) < 0) {
		close(fd);
		return ret;
	}
	for (;;) {
		r = read(fd, io, io_len);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			ret = err_set_errno(e, ERR_IO, errno, "cannot read blob %s in '%s'",
					    nd->d.str, layout_path(g->l));
			goto out;
		}
		if (r == 0)
			break;
		if ((ret = digest_ctx_update(&ctx, io, (size_t)r, e)) < 0)
			goto out;
	}
	digest_ctx_final(&ctx, &got);
	nd->corrupt = !digest_equal(&got, &nd->d);
	ret = 0;
out:
	digest_ctx_release(&ctx);
	close(fd);
	return ret;
}

struct entry_check {
	int meta;		/* a metadata entry: only manifests/configs needed */
	size_t n_missing, n_bad_meta, n_bad;
	struct verify_report *r;
	size_t *cap;
	const char *name;
	uint32_t root;
	int oom;
};

static void visit_check(struct graph *g, struct graph_node *nd, void *arg)
{
	struct entry_check *c = arg;
	int needed_meta = nd->kind == MT_KIND_MANIFEST || nd->kind == MT_KIND_INDEX ||
			  nd->kind == MT_KIND_CONFIG;
	int bad = !nd->listed || nd->corrupt;

	if (!bad)
		return;
	if (needed_meta)
		c->n_bad_meta++;
	c->n_bad++;
	if (c->meta && (uint32_t)(nd - g->nodes) != c->root)
		return;	/* a metadata entry may lack the rest */
	if (!nd->listed) {
		c->n_missing++;
		if (add_problem(c->r, c->cap, "missing", c->name, &nd->d) < 0)
			c->oom = 1;
	}
}

/* Hashes every listed blob (nodes' `corrupt`), counting into `out`. */
static int verify_hash(struct verify_report *out, size_t *cap, struct graph *g, struct err *e)
{
	char *io = malloc(1u << 20);
	size_t i;
	int ret = -1;

	if (!io)
		return err_set(e, ERR_NOMEM, "out of memory");
	for (i = 0; i < g->n; i++) {
		if (!g->nodes[i].listed)
			continue;
		if ((ret = hash_blob(g, &g->nodes[i], io, 1u << 20, e)) < 0)
			goto out;
		if (!g->nodes[i].listed)
			continue;
		out->bytes += (uint64_t)g->nodes[i].size;
		if (!g->nodes[i].corrupt)
			continue;
		out->n_corrupt++;
		if (add_problem(out, cap, "corrupt", NULL, &g->nodes[i].d) < 0) {
			ret = err_set(e, ERR_NOMEM, "out of memory");
			goto out;
		}
	}
	ret = 0;
out:
	free(io);
	return ret;
}

/* Checks every entry; with `repair`, flags (drop = 1) and reports those to
 * move or drop. */
static int verify_entries(struct verify_report *out, size_t *cap, struct graph *g,
			  struct graph_entry *ents, size_t n_ents, int repair, struct err *e)
{
	struct entry_check c;
	const char *label;
	size_t i;
	int ret;

	for (i = 0; i < n_ents; i++) {
		memset(&c, 0, sizeof(c));
		c.meta = ents[i].which == LAYOUT_INDEX_META;
		c.r = out;
		c.cap = cap;
		c.name = ents[i].name ? ents[i].name : ents[i].desc.digest.str;
		c.root = ents[i].root;
		if ((ret = graph_walk(g, ents[i].root, visit_check, &c, e)) < 0)
			return ret;
		if (c.oom)
			return err_set(e, ERR_NOMEM, "out of memory");
		out->n_missing += c.n_missing;
		if (!repair)
			continue;
		label = NULL;
		if (!c.meta && c.n_bad) {
			ents[i].drop = 1;
			label = c.n_bad_meta ? "dropped" : "moved";
		} else if (c.meta && (!g->nodes[ents[i].root].listed ||
				      g->nodes[ents[i].root].corrupt)) {
			ents[i].drop = 1;
			label = "dropped";
		}
		if (label && add_problem(out, cap, label, c.name, &ents[i].desc.digest) < 0)
			return err_set(e, ERR_NOMEM, "out of memory");
	}
	return 0;
}

/* Removes the corrupt blobs. */
static int verify_remove_corrupt(struct verify_report *out, size_t *cap, struct graph *g,
				 struct err *e)
{
	struct graph_node *nd;
	size_t i;

	for (i = 0; i < g->n; i++) {
		nd = &g->nodes[i];
		if (!nd->listed || !nd->corrupt)
			continue;
		if (unlinkat(g->dir_fd[nd->d.alg], digest_hex(&nd->d), 0) < 0 && errno != ENOENT)
			return err_set_errno(e, ERR_IO, errno, "cannot remove corrupt blob %s from "
					     "'%s'", nd->d.str, layout_path(g->l));
		blob_sources_remove(g->l, &nd->d);
		if (add_problem(out, cap, "removed", NULL, &nd->d) < 0)
			return err_set(e, ERR_NOMEM, "out of memory");
	}
	return 0;
}

/* Applies the moves (out of index.json, into the metadata index) and drops
 * verify_entries() decided. */
static int verify_apply(const struct verify_report *out, struct layout *l,
			const struct graph_entry *ents, size_t n_ents, struct err *e)
{
	size_t i, k;
	int moved, ret;

	for (i = 0; i < n_ents; i++) {
		if (!ents[i].drop)
			continue;
		if (!ents[i].name) {
			struct gc_entry d = { NULL, ents[i].desc.digest, ents[i].which };

			if ((ret = prune_drop(l, &d, 1, e)) < 0)
				return ret;
			continue;
		}
		for (moved = 0, k = 0; k < out->n_problems; k++)
			if (out->problems[k].name && !strcmp(out->problems[k].what, "moved") &&
			    !strcmp(out->problems[k].name, ents[i].name) &&
			    digest_equal(&out->problems[k].digest, &ents[i].desc.digest))
				moved = 1;
		ret = layout_index_remove_in(l, ents[i].which, ents[i].name, e);
		if (ret < 0 && ret != ERR_NOT_FOUND)
			return ret;
		err_clear(e);
		if (moved && (ret = layout_index_set_in(l, LAYOUT_INDEX_META, ents[i].name,
							 &ents[i].desc, e)) < 0)
			return ret;
	}
	return 0;
}

int verify_run(struct verify_report *out, struct layout *l, unsigned flags, int wait_ms,
	       struct err *e)
{
	struct graph g;
	struct graph_entry *ents = NULL;
	size_t n_ents = 0, cap = 0;
	int repair = !!(flags & VERIFY_REPAIR), locked = 0, ret = -1;

	memset(out, 0, sizeof(*out));
	graph_init(&g, l);
	g.corrupt_ok = 1;	/* a corrupt manifest is a finding */
	/* Reading is safe without the gc lock (blobs are only ever renamed into
	 * place whole).  Repairing deletes and rewrites entries, so it holds the
	 * gc lock: no writer is between its blob checks and its index entry.
	 * Nothing is repaired unless every listing and read succeeded: an entry
	 * is moved or dropped only for blobs seen missing or corrupt. */
	if (repair) {
		if ((ret = layout_gc_lock(l, wait_ms, e)) < 0)
			goto out;
		locked = 1;
	}
	if ((ret = graph_list(&g, &out->n_blobs, 1, e)) < 0 ||
	    (ret = verify_hash(out, &cap, &g, e)) < 0 ||
	    (ret = graph_entries(&g, &ents, &n_ents, NULL, NULL, e)) < 0 ||
	    (ret = verify_entries(out, &cap, &g, ents, n_ents, repair, e)) < 0) {
		if (repair)
			err_prefix(e, "nothing was repaired");
		goto out;
	}
	out->n_entries = n_ents;
	if (repair && ((ret = verify_remove_corrupt(out, &cap, &g, e)) < 0 ||
		       (ret = verify_apply(out, l, ents, n_ents, e)) < 0))
		goto out;
	ret = 0;
out:
	if (locked)
		layout_gc_unlock(l);
	graph_entries_free(ents, n_ents);
	graph_release(&g);
	return ret;
}

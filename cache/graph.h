/* graph.h - a layout's blobs as one in-memory graph, shared privately by
 * gc, prune, rm, verify and ls.
 *
 * A node per digest (a hash set keyed by the digest's leading 64 bits),
 * edges from each manifest or index to what it names: config, layers, child
 * manifests and `subject`.  Each manifest is read and parsed once and
 * blobs/<alg>/ listed once, so a walk is linear in the number of blobs plus
 * the manifest bytes.
 */
#ifndef HOIST_GRAPH_H
#define HOIST_GRAPH_H

#include "cache/layout.h"
#include "core/base/buf.h"
#include "core/base/digest.h"
#include "core/model/manifest.h"

#include <stddef.h>
#include <stdint.h>

struct err;

/* Manifests larger than this are treated as leaves (and never referrers). */
#define GRAPH_MANIFEST_MAX (16u << 20)
#define GRAPH_N_ALGS 2

struct graph_node {
	struct digest d;
	uint64_t h;		/* digest_hash(&d): compared before the strings */
	int64_t size;		/* the file's when listed, else the descriptor's, else -1 */
	int64_t mtime;		/* -1 unless stat'd */
	uint32_t child0, n_child;	/* into graph.edges */
	uint32_t refs;		/* entries reaching it */
	uint32_t stamp;		/* last walk that visited it */
	unsigned char kind;	/* enum mt_kind */
	unsigned char expanded, marked, listed, corrupt, statted;
	unsigned char sourced;	/* has a .hoist/sources record (gc.c) */
};

struct graph_slot;

struct graph {
	struct layout *l;
	struct graph_node *nodes;
	size_t n, cap;
	struct graph_slot *slots;	/* open addressing; power-of-two size */
	size_t n_slots;
	uint32_t *edges;
	size_t n_edges, cap_edges;
	uint32_t *stack;
	size_t n_stack, cap_stack;
	uint32_t stamp;
	int dir_fd[GRAPH_N_ALGS];	/* blobs/sha256, blobs/sha512, or -1 */
	int src_fd[GRAPH_N_ALGS];	/* .hoist/sources/<alg>, or -1 (gc.c) */
	struct buf rd;		/* reused for manifest reads */
	int corrupt_ok;		/* a corrupt manifest is a leaf (verify, ls), not an error */
};

/* One entry of either index. */
struct graph_entry {
	char *name;
	enum layout_index which;
	struct descriptor desc;
	uint32_t root;
	int64_t last_used, pulled;
	int drop;
};

void graph_init(struct graph *g, struct layout *l);
void graph_release(struct graph *g);

/* The node of `d`, or -1 when there is none. */
long graph_find(const struct graph *g, const struct digest *d);

/* Reads blobs/<alg>/ once per algorithm: a listed node per file whose name
 * is a digest (*out_n counts them).  With `stat_all`, stats each (sizes for
 * ls, prune, verify).  A listing that fails part way is an error: what it
 * did not reach would pass for absent. */
int graph_list(struct graph *g, size_t *out_n, int stat_all, struct err *e);
/* stat of listed blob `nd` (no symlinks followed), once; fills its size
 * and mtime.  0, or -errno (-ENOENT also for a file that is not a regular
 * one). */
int graph_stat(struct graph *g, struct graph_node *nd);
/* The digest a file in blobs/<alg>/ (or .hoist/sources/<alg>/) is named
 * after, or -1 when `name` is not exactly the hex digits of one: the same
 * check as digest_parse() on "<alg>:<name>", without formatting that
 * string first (this runs once per blob file). */
int graph_digest_from_name(struct digest *out, enum digest_alg alg, const char *name);

typedef void graph_visit_fn(struct graph *g, struct graph_node *nd, void *arg);
/* Depth-first walk from node `root`, each node once, calling `fn` on each.
 * A manifest or index is read and parsed on its first visit.  One that is
 * missing, or that does not parse, references nothing hoist could know: a
 * leaf.  Any other failure is an error, never a leaf, since the blobs the
 * manifest references would go unmarked and be swept: a read error, a link
 * or other non-regular file, a size over GRAPH_MANIFEST_MAX, and a corrupt
 * blob unless g->corrupt_ok (verify reports those, ls shows them). */
int graph_walk(struct graph *g, uint32_t root, graph_visit_fn *fn, void *arg, struct err *e);

/* Whether graph_entries() leaves out the entry `r` of index `which`. */
typedef int graph_skip_fn(enum layout_index which, const struct layout_ref *r, void *arg);
/* Loads the entries of both indexes, index.json first (but those `skip`,
 * which may be NULL, leaves out), and walks each, marking what it reaches
 * and counting in each node's `refs` how many entries reach it.  Free
 * *out with graph_entries_free(). */
int graph_entries(struct graph *g, struct graph_entry **out, size_t *out_n,
		  graph_skip_fn *skip, void *arg, struct err *e);
void graph_entries_free(struct graph_entry *ents, size_t n);
/* Fills en->last_used and en->pulled: the usage record, else the mtime of
 * the entry's manifest.  A record that exists but cannot be read is ERR_IO
 * (ERR_NOMEM when memory ran out): prune must not judge an entry's age by
 * the fallback then. */
int graph_entry_times(struct graph *g, struct graph_entry *en, struct err *e);

/* Marks referrers: unmarked listed manifests whose `subject` is marked
 * (and what they reach, and so on until nothing changes).  Only unmarked
 * blobs that start like a JSON object are read; a candidate that cannot be
 * read is an error (it might be a referrer, and would be swept). */
int graph_referrers(struct graph *g, struct err *e);

#endif

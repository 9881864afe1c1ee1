/* output.h - where an image that an operation makes goes, and its name.
 *
 * build, mutate/append, flatten and rebase make an image and then push it,
 * name it in a layout or the cache, or write a docker-save tarball.  This is
 * that second half, in one place:
 *
 *	struct output o;
 *	output_open(&o, env, OUTPUT_LAYOUT, "dir", tmp_dir, "build", e);
 *	build_image(..., o.l, ...);		// the operation writes its blobs to o.l
 *	output_name(&o, &desc, tags, n, e);	// names it (or writes the tarball)
 *	... for a push: build_push_all(..., o.l, &o.root, tag, e) per tag
 *	output_close(&o);
 *
 * Safety: from open to close the destination is held under one lease, so a
 * `hoist cache gc` running meanwhile keeps every blob the operation wrote
 * before the name that references them exists (cache/layout.h explains leases).
 */
#ifndef HOIST_OUTPUT_H
#define HOIST_OUTPUT_H

#include "core/model/manifest.h"

#include <stddef.h>

struct descriptor;
struct err;
struct env;
struct layout;
struct ref;

enum output_kind {
	OUTPUT_PUSH = 0,	/* the new blobs staged in the cache (else a scratch
				 * layout), pushed by the caller from o.root */
	OUTPUT_CACHE,	/* env->cache, named by each tag */
	OUTPUT_LAYOUT,	/* an OCI layout at `path`, named by each tag or "latest" */
	OUTPUT_TARBALL,	/* a docker-save tarball at `path`, made from env->cache */
	OUTPUT_OCI_ARCHIVE,	/* an OCI archive (a tar of a layout) at `path`, made
				 * from env->cache, named as a layout is */
};

struct output {
	enum output_kind how;
	struct layout *l;	/* where the operation writes: borrowed from the output */
	struct descriptor root;	/* a push: what output_name() was given */
	/* private */
	const char *path;
	struct layout *own;	/* opened here: the scratch or the oci: layout */
	int leased;
};

/* Parses a destination: "cache", "oci:DIR", "oci-archive:FILE",
 * "tarball:FILE", and with `bare_file` a plain FILE (without ':') as
 * crane's -o takes.  *path points
 * into `spec` (NULL for the cache).  ERR_USAGE naming the forms taken. */
int output_parse(enum output_kind *how, const char **path, const char *spec, int bare_file,
		       struct err *e);

/* Opens the destination and takes its lease.  A push stages in the cache
 * (env->cache; unnamed there, so `hoist cache gc` removes what nothing else
 * uses after its grace period, and the next build can reuse a layer), or
 * without a cache in a scratch layout under `tmp_dir` (named after `what`),
 * whose blobs need no fsync and which output_close() removes.  ERR_*
 * from opening or leasing. */
int output_open(struct output *o, struct env *env, enum output_kind how,
		      const char *path, const char *tmp_dir, const char *what, struct err *e);
/* Names the image `d` in the destination: tags[0..n) as fully-qualified
 * references (a layout or an OCI archive with none gets "latest", and the
 * archive is written); for a push, keeps it in o.root (nothing is named);
 * for a tarball, writes it with tags[0] (the caller passes a placeholder
 * reference when the user gave none).  A tarball of an index is ERR_USAGE:
 * it holds images. */
int output_name(struct output *o, const struct descriptor *d, const struct ref *tags,
		      size_t n, struct err *e);
/* Ends the lease; closes and (scratch) removes what open made.  Safe on a
 * zeroed or half-opened output. */
void output_close(struct output *o);

#endif

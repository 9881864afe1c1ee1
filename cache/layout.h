/* layout.h - the OCI image-layout store (image-spec v1.1): opening and
 * creating a layout, its locks and leases, and its two indexes.
 *
 * A layout is a directory holding `oci-layout`, `index.json` and
 * `blobs/<alg>/<hex>` (cache/blob.h); layouts written by skopeo, umoci or
 * crane open as they are.  One struct layout may be shared by threads for
 * blob operations, leases and index updates; a lease is per struct layout,
 * not per thread.
 */
#ifndef HOIST_LAYOUT_H
#define HOIST_LAYOUT_H

#include "core/base/strvec.h"
#include "core/model/manifest.h"

#include <dirent.h>
#include <stddef.h>

struct err;
struct json;

struct layout;

enum layout_flags {
	/* Create the directory (with parents, mode 0755) and any missing
	 * oci-layout, index.json and blobs/sha256/.  An existing directory that
	 * is not a layout must be empty (apart from a half-created layout's own
	 * parts), so a mistyped path never turns $HOME into a layout. */
	LAYOUT_CREATE = 1 << 0,
	/* A scratch layout, thrown away after use (build's push staging):
	 * nothing is fsynced.  Never for the cache or a user's layout: a crash
	 * may leave files that are empty or short under their final names. */
	LAYOUT_NO_SYNC = 1 << 1,
	/* The layout is hoist's cache: a message about its damage says which
	 * `hoist cache` command repairs it. */
	LAYOUT_CACHE = 1 << 2,
};

/* Default wait for the implicit lease of blob writers and for index.lock. */
#define LAYOUT_LOCK_TIMEOUT_DEFAULT_MS 60000
/* index.json larger than this is refused (ERR_TOO_BIG). */
#define LAYOUT_INDEX_MAX (64u << 20)

/* Opens the layout at `path`.  Without LAYOUT_CREATE, `oci-layout`,
 * `index.json` and `blobs/` must exist: a directory that does not exist, or
 * is empty (apart from .hoist/), is ERR_NOT_FOUND ("no OCI layout at ...");
 * one that holds some of the three but not all is ERR_INVALID ("... is
 * damaged", naming what is missing and how to repair it), and one that
 * holds none but other files is ERR_INVALID too.  An imageLayoutVersion
 * other than 1.x is ERR_UNSUPPORTED.  Nothing is written unless
 * LAYOUT_CREATE is given and a part is missing (which repairs a damaged
 * layout whose directory holds nothing but layout parts). */
int layout_open(struct layout **out, const char *path, unsigned flags, struct err *e);
/* A new, empty layout in a new directory `tmp_dir`/hoist-`what`-XXXXXX,
 * opened with LAYOUT_CREATE | `flags`: a scratch layout, whose directory
 * layout_free() removes with everything in it. */
int layout_open_scratch(struct layout **out, const char *tmp_dir, const char *what,
			unsigned flags, struct err *e);
/* Closes the layout; ends any lease and gc lock still held; removes a
 * scratch layout's directory.  NULL is a no-op.  All blob writers must have
 * been committed or aborted. */
void layout_free(struct layout *l);
/* The root directory as given to layout_open() (borrowed). */
const char *layout_path(const struct layout *l);
/* Sets the wait used by the implicit lease of blob writers and by index
 * updates; < 0 waits forever, 0 tries once. */
void layout_set_lock_timeout(struct layout *l, int timeout_ms);

/* --- leases and the gc lock -------------------------------------------
 *
 * Anything that makes a blob present (or finds it present) and later names
 * it in an index holds a lease across the whole sequence:
 * layout_lease_begin() ... layout_index_set() ... layout_lease_end().  gc
 * takes the same lock exclusively and so never runs in between; the
 * argument is above layout_lease_begin() in layout.c.  Lock waits poll with
 * short sleeps until a timeout, then fail with ERR_LOCKED and a message
 * naming the holder's pid when /proc tells it. */

/* Takes (or, when already held by this struct layout, nests) a lease: a
 * shared flock on .hoist/gc.lock.  Waits up to `timeout_ms` (< 0 forever)
 * while gc holds it; then ERR_LOCKED.  ERR_USAGE while this struct layout
 * holds the gc lock.  Each successful call needs one layout_lease_end(). */
int layout_lease_begin(struct layout *l, int timeout_ms, struct err *e);
/* Ends one level of lease; the flock is dropped when the last one ends. */
void layout_lease_end(struct layout *l);
/* Takes .hoist/gc.lock exclusively: no lease is then held by any process.
 * ERR_LOCKED after `timeout_ms` while writers hold leases; ERR_USAGE while
 * this struct layout holds a lease or the gc lock already. */
int layout_gc_lock(struct layout *l, int timeout_ms, struct err *e);
void layout_gc_unlock(struct layout *l);

/* --- index.json and the metadata index -------------------------------
 *
 * index.json holds complete images only (every blob the entry reaches is
 * present), so any tool can copy any entry.  Manifests and configs fetched
 * without their layers (by inspection commands) are entries of
 * .hoist/meta-index.json, an OCI index of the same format kept under the
 * same lock and written the same way.  A ref name is in at most one of
 * them: setting it in one removes it from the other (except that a metadata
 * entry naming the digest the main index already has for that name is not
 * added).  gc marks from both; layout_ref_resolve() reads both.
 *
 * Entries are keyed by the annotation ANNOT_REF_NAME holding a
 * fully-qualified reference ("docker.io/library/golang:1.20"), so that
 * `skopeo inspect oci:DIR:docker.io/library/golang:1.20` finds them.
 * Updates take .hoist/index.lock, re-read the index, modify it, write a
 * temporary file, fsync and rename it over the index: readers never see a
 * torn file and concurrent writers never lose each other's entries.
 * Entries without a ref name and unknown fields are kept as they are. */

enum layout_index {
	LAYOUT_INDEX_MAIN = 0,	/* index.json: complete images */
	LAYOUT_INDEX_META = 1,	/* .hoist/meta-index.json: manifests and configs only */
};

/* The `_in` functions act on either index; the ones without act on
 * index.json.  Every set and remove runs under .hoist/index.lock and
 * replaces the file by rename, and layout_index_set_in() (over)writes the
 * entry's usage record in .hoist/refs/ (the "pulled" time is now), which
 * layout_index_remove_in() removes. */
int layout_index_set_in(struct layout *l, enum layout_index which, const char *ref_name,
			const struct descriptor *d, struct err *e);
int layout_index_remove_in(struct layout *l, enum layout_index which, const char *ref_name,
			   struct err *e);
int layout_index_find_in(struct descriptor *out, struct layout *l, enum layout_index which,
			 const char *ref_name, struct err *e);
/* Offline tag resolution: the entry named `ref_name` in index.json, else in
 * the metadata index; `out_which` (may be NULL) says which.  ERR_NOT_FOUND
 * when in neither. */
int layout_ref_resolve(struct descriptor *out, enum layout_index *out_which, struct layout *l,
		       const char *ref_name, struct err *e);

/* Adds `d` to index.json with ANNOT_REF_NAME = `ref_name` (overriding any
 * ref name among d's annotations).  An entry with that name is replaced in
 * place; further entries with the same name (left by other tools) are
 * dropped.  `ref_name` must match the image-spec's ref.name grammar
 * (ERR_INVALID), e.g. "docker.io/library/golang:1.20". */
int layout_index_set(struct layout *l, const char *ref_name, const struct descriptor *d,
		     struct err *e);
/* Removes every entry named `ref_name`; ERR_NOT_FOUND (index.json not
 * rewritten) when there is none. */
int layout_index_remove(struct layout *l, const char *ref_name, struct err *e);
/* The first entry named `ref_name` (into an initialised or released `out`);
 * ERR_NOT_FOUND when none. */
int layout_index_find(struct descriptor *out, struct layout *l, const char *ref_name,
		      struct err *e);

/* One entry of index.json. */
struct layout_ref {
	char *name;			/* ANNOT_REF_NAME, or NULL */
	struct descriptor desc;
};
/* All entries in file order; ERR_INVALID naming the first malformed one.
 * Free with layout_refs_free(). */
int layout_index_list(struct layout_ref **out, size_t *out_n, struct layout *l, struct err *e);
int layout_index_list_in(struct layout_ref **out, size_t *out_n, struct layout *l,
			 enum layout_index which, struct err *e);
void layout_refs_free(struct layout_ref *refs, size_t n);

/* index.json as parsed JSON (a new reference, the caller frees it). */
int layout_index_read(struct json **out, struct layout *l, struct err *e);
int layout_index_read_in(struct json **out, struct layout *l, enum layout_index which,
			 struct err *e);

/* Read-modify-write under .hoist/index.lock.  `fn` gets the parsed
 * index.json (an object; "manifests" is present as an array) and may change
 * it in place.  fn returns 0 to write the result, > 0 to leave index.json
 * untouched (layout_index_update then returns 0), or a negative code with
 * `e` filled to abort (returned as is). */
int layout_index_update(struct layout *l, int (*fn)(struct json *index, void *arg, struct err *e),
			void *arg, struct err *e);
int layout_index_update_in(struct layout *l, enum layout_index which,
			   int (*fn)(struct json *index, void *arg, struct err *e), void *arg,
			   struct err *e);

/* The layout's root directory, open O_DIRECTORY (borrowed; for the other
 * cache/ modules, which walk blobs/ and .hoist/ingest themselves). */
int layout_root_fd(const struct layout *l);
/* readdir(3) that tells the end of a directory from a failure to read it:
 * the next entry, or NULL with *out_errno 0 at the end and the errno of the
 * failure otherwise.  A listing cut short must never pass for a whole one
 * (gc and verify --repair would take what it missed for absent). */
struct dirent *layout_dir_next(DIR *d, int *out_errno);

#endif

/* layout.h - the OCI image-layout store (image-spec v1.1).
 *
 * A layout is a directory holding `oci-layout` ({"imageLayoutVersion":
 * "1.0.0"}), `index.json` and `blobs/<alg>/<hex>`.  Layouts written by skopeo,
 * umoci or crane open as they are.  hoist keeps its own working files in
 * `<root>/.hoist/` (created on the first write or lock, never under blobs/,
 * where other tools' gc would sweep them):
 *
 *   .hoist/ingest/      temporary blob files, each flocked by its writer
 *   .hoist/index.lock   flock serialising index.json read-modify-write
 *   .hoist/gc.lock      shared by writers holding a lease, exclusive for gc
 *   .hoist/meta-index.json   metadata-only entries (see below)
 *   .hoist/refs/<sha256 of the ref name>.json   usage record of an entry:
 *                       {"ref", "digest", "pulled"}; its mtime = last used
 *   .hoist/sources/<alg>/<hex>   where a blob came from, one
 *                       "registry/repository" per line (at most 32)
 *
 * Two indexes.  index.json holds complete images only (every blob the entry
 * reaches is present), so any tool can copy any entry.  Manifests and
 * configs fetched without their layers (by inspection commands) are entries
 * of .hoist/meta-index.json, an OCI index of the same format kept under the
 * same lock and written the same way.  A ref name is in at most one of them:
 * setting it in one removes it from the other (except that a metadata entry
 * naming the digest the main index already has for that name is not added).
 * gc marks from both; offline resolution (layout_ref_resolve) reads both.
 *
 * Blobs.  A blob is streamed into a temporary file in .hoist/ingest, hashed
 * while written, fsynced, checked against the expected digest and size and
 * only then renamed to blobs/<alg>/<hex> (and the directory fsynced).  Content
 * that does not match is never visible under a blob name.  Paths are built
 * only from a `struct digest` (re-validated), never from strings.
 *
 * index.json.  Entries are keyed by the annotation ANNOT_REF_NAME holding a
 * fully-qualified reference ("docker.io/library/golang:1.20"), so that
 * `skopeo inspect oci:DIR:docker.io/library/golang:1.20` finds them.  Updates
 * take .hoist/index.lock, re-read index.json, modify it, write a temporary
 * file, fsync and rename it over index.json: readers never see a torn file
 * and concurrent writers never lose each other's entries.  Entries without a
 * ref name and unknown fields are kept as they are.
 *
 * Leases and gc.  Anything that makes a blob present (or finds it present)
 * and later references it from index.json holds a lease across the whole
 * sequence: layout_lease_begin() ... layout_index_set() ... layout_lease_end().
 * gc takes the same lock exclusively and so never runs in between; see the
 * comment above layout_lease_begin() in layout.c for the full argument.
 * Blob writers take a lease implicitly for their own duration (free when the
 * caller already holds one), which protects the temporary file and the
 * rename but NOT the gap between the blob write and the index entry.
 *
 * Threads.  One struct layout may be shared by threads for blob operations,
 * leases and index updates (lazy state is guarded by a mutex; flocks are per
 * open file, so threads exclude each other like processes do).  A lease is
 * per struct layout, not per thread.
 *
 * Lock waits poll with short sleeps until a timeout and then fail with
 * ERR_LOCKED and a message naming the holder's pid when /proc tells it.
 */
#ifndef HOIST_LAYOUT_H
#define HOIST_LAYOUT_H

#include "core/base/strvec.h"
#include "core/model/manifest.h"

#include <dirent.h>
#include <stddef.h>
#include <stdint.h>

struct buf;
struct digest;
struct err;
struct json;

struct layout;
struct blob_writer;

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

/* --- leases and the gc lock ------------------------------------------- */

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

/* --- blobs ------------------------------------------------------------ */

/* Starts writing a blob.  `expect` (NULL = unknown) fixes the algorithm and
 * the digest the content must have; `expect_size` (-1 = unknown) the size.
 * Takes a lease implicitly (see above) with the layout's lock timeout. */
int blob_begin(struct blob_writer **out, struct layout *l, const struct digest *expect,
		      int64_t expect_size, struct err *e);
/* Appends `n` bytes: written with write(2) straight from `p` and hashed from
 * the same buffer.  Writing more than expect_size fails at once
 * (ERR_DIGEST).  After a failure the writer can only be aborted (commit
 * reports the failure again). */
int blob_writer_write(struct blob_writer *w, const void *p, size_t n, struct err *e);
/* Finishes: verifies size and digest (ERR_DIGEST, nothing stored), fsyncs,
 * renames into blobs/<alg>/<hex> (replacing an existing file of that name,
 * which this verified content can only repair) and fsyncs the directory.
 * `out` and `out_size` may be NULL.  Frees `w` always. */
int blob_writer_commit(struct digest *out, int64_t *out_size, struct blob_writer *w,
		       struct err *e);
/* The digest and size of what was written, before the commit (which then
 * stores it under that digest); no write may follow. */
void blob_writer_digest(struct digest *out, int64_t *out_size, struct blob_writer *w);
/* Discards the temporary file and frees `w`.  NULL is a no-op. */
void blob_writer_abort(struct blob_writer *w);

/* Writes `n` bytes as one blob (begin, write, commit); `expect` may be NULL,
 * `out` may be NULL.  A small blob (up to 1 MiB: manifests, configs) whose
 * file already holds exactly these bytes is left as it is: nothing
 * written, no fsync. */
int blob_put(struct digest *out, struct layout *l, const void *p, size_t n,
		    const struct digest *expect, struct err *e);
/* Blob files.  Every function below that reads a blob opens it without
 * following a symbolic link (O_NOFOLLOW, not even one to a file inside the
 * layout) and only when it is a regular file: a link or a directory, fifo
 * or device under a blob's name is refused with ERR_INVALID naming it, so a
 * layout cannot make hoist read, serve or upload a file outside it. */

/* Whether blob `d` is usable: 0 when it is a regular file (`out_size`, may
 * be NULL, gets its size), ERR_NOT_FOUND when no file has its name,
 * ERR_INVALID naming a link or other non-regular file and what to do,
 * ERR_IO when it cannot be looked at.  Nothing is opened. */
int blob_stat(int64_t *out_size, struct layout *l, const struct digest *d,
		     struct err *e);
/* 1 when blob `d` is a regular file of `size` bytes (any size when
 * size < 0), else 0 (also for a digest that does not validate, and for a
 * link or other non-regular file, which writing the blob then replaces).
 * The name and size are checked, not the content: use blob_read()
 * for that. */
int blob_has(struct layout *l, const struct digest *d, int64_t size);
/* Sets blob `d`'s mtime to now, so that gc's grace period counts from this
 * use (a blob the layer cache reuses); nothing when it is not there. */
void blob_touch(struct layout *l, const struct digest *d);
/* Opens blob `d` for reading: `*out_fd` (O_CLOEXEC, the caller closes it)
 * and its size.  ERR_NOT_FOUND when absent, ERR_INVALID when a link or not
 * a regular file (see above).  The content is not verified. */
int blob_open(int *out_fd, int64_t *out_size, struct layout *l, const struct digest *d,
		     struct err *e);
/* Appends blob `d` to `out` and verifies its digest (ERR_DIGEST naming the
 * corrupt file).  ERR_TOO_BIG when larger than `max` (0 = no cap).  On
 * failure `out` is left as it was. */
int blob_read(struct buf *out, struct layout *l, const struct digest *d, size_t max,
		     struct err *e);

/* --- index.json and the metadata index ------------------------------- */

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

/* --- usage records ------------------------------------------------------ */

/* Marks `ref_name` as used now: sets the mtime of its usage record
 * (utimensat; no lock, no index rewrite).  0, ERR_NOT_FOUND when the entry
 * has no record (written by another tool), ERR_IO.  Never fills an err:
 * callers usually ignore the result. */
int usage_touch(struct layout *l, const char *ref_name);

struct usage_info {
	struct digest digest;	/* as recorded; str "" when unreadable */
	int64_t pulled;		/* unix seconds when set, -1 when unknown */
	int64_t last_used;	/* unix seconds (the record's mtime) */
};
/* Reads the usage record of `ref_name`; ERR_NOT_FOUND when there is none. */
int usage_get(struct usage_info *out, struct layout *l, const char *ref_name,
			struct err *e);
/* Removes (counts only, with dry_run) the usage records, and leftover
 * temporary files, of names in neither index; under index.lock. */
int usage_prune(size_t *out_removed, struct layout *l, int dry_run,
			     struct err *e);

/* --- blob sources ------------------------------------------------------- */

/* Records that blob `d` came from `source` ("registry/repository", no
 * white space or control characters, at most 512 bytes; ERR_INVALID
 * otherwise), so a later push to that registry can mount it.  Appends a
 * line to .hoist/sources/<alg>/<hex> unless it is there already or the
 * file holds 32 lines.  The blob need not be present yet. */
int blob_source_add(struct layout *l, const struct digest *d, const char *source,
			   struct err *e);
/* Appends the recorded sources of `d` (none when there is no record) to an
 * initialised `out`, without duplicates. */
int blob_sources(struct strvec *out, struct layout *l, const struct digest *d,
			struct err *e);
/* Forgets the sources of `d` (gc, after deleting the blob). */
void blob_sources_remove(struct layout *l, const struct digest *d);

/* --- memo records --------------------------------------------------------- */

/* Small facts a later run can reuse, keyed by a digest of their inputs: a
 * file .hoist/memo/<kind>/<key hex> (kind: lowercase letters) of at most
 * 4096 bytes.  A record is written without fsync (a temporary file renamed
 * over it): one lost or torn by a crash must read as wrong, so the record
 * carries what lets its reader check it whole.  Reading one marks it used
 * (its mtime), and `hoist cache gc` drops records unused for longer than
 * its grace period. */
/* Appends the record to `out`; ERR_NOT_FOUND when there is none. */
int memo_get(struct buf *out, struct layout *l, const char *kind,
		    const struct digest *key, struct err *e);
/* Writes (replaces) the record. */
int memo_put(struct layout *l, const char *kind, const struct digest *key,
		    const char *data, size_t len, struct err *e);
/* Removes (counts only, with dry_run) the records, and temporary files,
 * last used before `cutoff` (unix seconds); for gc, under its lock. */
int memo_prune(size_t *out_removed, struct layout *l, int64_t cutoff, int dry_run,
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

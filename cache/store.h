/* store.h - what the cache/ modules share about an open layout, privately:
 * the definition of struct layout and helpers for the files under its root
 * (fsync that a scratch layout skips, temporary names, flock with a timeout,
 * index.lock, replacing a file by rename).  Not for use outside cache/.
 *
 * hoist's own files live in <root>/.hoist/, created on the first write or
 * lock and never under blobs/, where other tools' gc would sweep them.
 */
#ifndef HOIST_STORE_H
#define HOIST_STORE_H

#include <pthread.h>
#include <stddef.h>
#include <sys/stat.h>

struct buf;
struct err;
struct json;

/* <root>/.hoist/ */
#define STORE_HOIST_DIR ".hoist"
/* temporary blob files, each flocked by its writer until renamed */
#define STORE_INGEST_DIR ".hoist/ingest"
/* shared by writers holding a lease, exclusive for gc (layout_lease_begin) */
#define STORE_GC_LOCK ".hoist/gc.lock"
/* serialises every update of both indexes and of the usage records */
#define STORE_INDEX_LOCK ".hoist/index.lock"
#define STORE_INDEX_TMP ".hoist/index.json.tmp"
/* the metadata index (enum layout_index) */
#define STORE_META_INDEX ".hoist/meta-index.json"
#define STORE_META_INDEX_TMP ".hoist/meta-index.json.tmp"
/* usage records (cache/usage.h) */
#define STORE_REFS_DIR ".hoist/refs"
/* where each blob came from (blob_source_add) */
#define STORE_SOURCES_DIR ".hoist/sources"
/* the build's memo records (cache/memo.h) */
#define STORE_MEMO_DIR ".hoist/memo"

struct layout {
	char *root;		/* the path as given */
	int root_fd;		/* O_DIRECTORY */
	int timeout_ms;		/* implicit lease and index.lock wait */
	pthread_mutex_t mu;	/* guards everything below */
	int ingest_fd;		/* .hoist/ingest, -1 until first needed */
	int gc_fd;		/* .hoist/gc.lock while a lease or the gc lock is held */
	unsigned lease_depth;
	int gc_locked;
	unsigned tmp_seq;
	int no_sync;		/* LAYOUT_NO_SYNC: a scratch layout */
	int scratch;		/* layout_open_scratch(): removed by layout_free() */
	int cache;		/* LAYOUT_CACHE: messages name `hoist cache` */
	/* The last index.json (0) and meta-index.json (1) parsed, with the
	 * stat of the file they came from (layout.c's read_index). */
	struct json *idx[2];
	struct stat idx_st[2];
};

/* Appends the whole file open as `fd` to `out`, at most `max` bytes
 * (ERR_TOO_BIG naming `what` past that); on failure `out` is as it was. */
int store_read_all(struct buf *out, int fd, size_t max, const char *what, struct err *e);
/* fsync(fd) unless the layout is a scratch one (LAYOUT_NO_SYNC). */
int store_fsync(const struct layout *l, int fd);
/* fsyncs the directory `name` of `dirfd`; 0 or an errno value. */
int store_fsync_dir(const struct layout *l, int dirfd, const char *name);
/* mkdirat (mode 0755) that accepts an existing directory.  Returns 1 when
 * it created the directory, 0 when it existed, -errno on failure. */
int store_mkdir(int dirfd, const char *name);
/* A name for a temporary file: "<prefix>-<pid>-<seq>-<random>". */
void store_tmp_name(char *out, size_t outlen, struct layout *l, const char *prefix);
/* flock with a timeout (< 0 forever): polls LOCK_NB with short sleeps.
 * Returns 0 or an errno value (EWOULDBLOCK when the time ran out). */
int store_lock_wait(int fd, int op, int timeout_ms);
/* Creates .hoist/ and .hoist/ingest/ when missing and opens the latter
 * (l->ingest_fd).  The _locked form with l->mu held. */
int store_prepare(struct layout *l, struct err *e);
int store_prepare_locked(struct layout *l, struct err *e);
/* The wait set by layout_set_lock_timeout(). */
int store_lock_timeout(struct layout *l);

enum store_lock_kind { STORE_LOCK_LEASE, STORE_LOCK_GC, STORE_LOCK_INDEX };
/* The error for store_lock_wait()'s `rc` on the lock of `kind` open as
 * `fd`: ERR_LOCKED naming the holders' pids when the time ran out, else
 * ERR_IO.  Returns the code. */
int store_lock_failed(struct err *e, int rc, int fd, struct layout *l, int timeout_ms,
		      enum store_lock_kind kind);
/* Takes .hoist/index.lock exclusively into *out_fd (the caller closes it,
 * which unlocks), waiting the layout's lock timeout.  One lock serialises
 * both index files and the usage records, so an update that touches both
 * (a name moving between them) is atomic with respect to every other hoist
 * writer. */
int store_index_lock(int *out_fd, struct layout *l, struct err *e);
/* Writes `data` to `tmp`, fsyncs it and renames it over `name` (both
 * relative to the root), then fsyncs the directory `dir` ("." for the root).
 * Call under index.lock: the temporary name is fixed. */
int store_replace_file(struct layout *l, const char *tmp, const char *name, const char *dir,
		       const char *data, size_t len, struct err *e);

#endif

/* layer.h - deterministic image layers from local files.
 *
 * A layer_builder collects entries from `--add SRC:DST` specs (a file, a
 * directory copied recursively, or a local tarball unpacked as Docker's ADD
 * does) and from tar streams (COPY --from, append), then writes them as one
 * tar through core/format/tar.h into a caller sink, returning the descriptor
 * and the diff_id.  It never touches the cache: the build operation connects
 * the sink to a blob writer.
 *
 * Same inputs, same digests, on every machine:
 * - entries sorted by path (bytewise), each path once (a later add wins);
 *   missing parent directories added as 0755 root:root;
 * - every mtime is the builder's `mtime` (SOURCE_DATE_EPOCH, 0 when unset, as
 *   ko does); no atime, ctime, uname, gname or xattrs;
 * - owners 0:0 unless the add asks for UID:GID (LAYER_ADD_CHOWN);
 * - modes of local files are normalised, never taken from the disk (where
 *   umask and checkout tools decide them): directories 0755, files 0755 when
 *   any execute bit is set and 0644 otherwise, symlinks 0777, unless the add
 *   gives a mode (LAYER_ADD_CHMOD, for files and directories alike).  This is
 *   ko's rule for its own files and what BuildKit users get from a clean
 *   checkout; setuid/setgid/sticky bits need an explicit --chmod.
 *   Entries unpacked from a tarball keep the archive's modes and owners (the
 *   archive is the input), except that chmod/chown still override them;
 * - hard links are preserved: two local paths with one inode become a file
 *   and a hard link to it (the first in path order carries the data), as do
 *   hard links inside an unpacked tarball;
 * - symlinks are stored as links and never followed, the top-level SRC
 *   included: a link in the context that points outside it stays a link;
 * - sockets, fifos and devices on the local disk are refused with an error
 *   naming them (an unpacked tarball may carry fifos and device nodes).
 */
#ifndef HOIST_LAYER_H
#define HOIST_LAYER_H

#include "core/format/tar.h"
#include "core/base/digest.h"
#include "core/model/manifest.h"

#include <stddef.h>
#include <stdint.h>

struct err;

enum layer_add_flags {
	LAYER_ADD_CHMOD = 1 << 0,	/* `chmod` replaces the modes of what is added */
	LAYER_ADD_CHOWN = 1 << 1,	/* `uid`/`gid` replace 0:0 (and a tarball's owners) */
	LAYER_ADD_UNPACK = 1 << 2,	/* ADD: a SRC named *.tar, *.tar.gz, *.tgz,
					 * *.tar.zst or *.tzst with DST ending in '/'
					 * is unpacked into DST */
	LAYER_ADD_CHOWN_NAME = 1 << 3,	/* `owner` holds names ("user[:group]") for the
					 * caller (core/ops/build.c) to resolve into
					 * uid/gid and LAYER_ADD_CHOWN; the layer
					 * builder refuses it unresolved */
};

/* One SRC:DST.  DST is an absolute path in the image (a relative one is
 * taken from '/': the caller joins WORKDIR first); it is cleaned as
 * path.Clean does ("//a/./b/../c" is "/a/c", ".." stops at '/').
 * - SRC a file: DST ending in '/' means DST/basename(SRC), else DST itself.
 * - SRC a directory: its contents go into DST (the directory itself is not
 *   copied, as in Docker), DST getting SRC's normalised mode.
 * - SRC a symlink: stored as a link at the file rule's path. */
struct layer_add {
	const char *src;
	const char *dst;
	unsigned flags;		/* enum layer_add_flags */
	uint32_t chmod;		/* with LAYER_ADD_CHMOD: permission bits (07777) */
	int64_t uid, gid;	/* with LAYER_ADD_CHOWN */
	const char *owner;	/* with LAYER_ADD_CHOWN_NAME */
};

/* Splits "SRC:DST" at its last ':' into malloc'd strings.  ERR_INVALID when
 * either side is empty or there is no ':'. */
int layer_spec_parse(char **out_src, char **out_dst, const char *spec, struct err *e);

/* Asked about each local path found under a directory SRC (and about SRC
 * itself): `rel` is the path relative to SRC's directory walk root joined
 * to SRC as given ("ctx/a/b"), `is_dir` whether it is a directory. */
enum layer_exclude {
	LAYER_INCLUDE = 0,
	LAYER_EXCLUDE = 1,	/* leave this path out (a directory is still walked:
				 * an exception pattern may bring children back) */
	LAYER_PRUNE = 2,	/* leave this directory and everything under it out */
};
typedef enum layer_exclude layer_exclude_fn(void *arg, const char *path, int is_dir);

struct layer_builder_opts {
	int64_t mtime;			/* every entry's mtime */
	layer_exclude_fn *exclude;	/* may be NULL */
	void *exclude_arg;
	const char *tmpdir;		/* where unpacked tarball data is spooled
					 * (an unlinked file); NULL = "/var/tmp" */
	size_t max_entries;		/* 0 = 10 million */
};

struct layer_builder;

int layer_builder_new(struct layer_builder **out, const struct layer_builder_opts *o,
		      struct err *e);
/* Adds a local SRC as described above.  ERR_NOT_FOUND when SRC does not
 * exist (or is excluded), ERR_UNSUPPORTED for a socket, fifo or device,
 * ERR_INVALID for a tarball entry escaping with "..", ERR_IO on read errors.
 * Metadata is taken now, file data when the layer is written (a file that
 * changed size in between fails the write). */
int layer_builder_add(struct layer_builder *b, const struct layer_add *add, struct err *e);
/* Adds every entry of a tar stream (any compression core/archive reads) under
 * the directory add->dst (add->src is only used in messages and may be
 * NULL).  Entry names are taken relative to DST (a leading '/' or "./" is
 * dropped; ".." refused); data is spooled to opts.tmpdir. */
int layer_builder_add_tar(struct layer_builder *b, tar_source_fn *source, void *source_arg,
			  const struct layer_add *add, struct err *e);
/* Number of entries collected so far (parents not yet included). */
size_t layer_builder_count(const struct layer_builder *b);

struct layer_write_opts {
	enum tar_compression compression;
	int level;		/* 0 = default */
	int threads;		/* compression threads, 0 = one per CPU (same bytes) */
	tar_sink_fn *sink;
	void *sink_arg;
	int no_digest;		/* the sink hashes: desc.digest left empty */
};

struct layer_result {
	struct descriptor desc;	/* OCI layer media type by compression, digest, size */
	struct digest diff_id;
	int64_t diff_size;
	size_t n_entries;	/* tar entries written */
};

void layer_result_release(struct layer_result *r);
/* Fills `out` (its media type not set) from the sizes and digests of a
 * finished tar stream of compression `c`.  ERR_NOMEM. */
int layer_result_set(struct layer_result *out, const struct tar_result *res,
		     enum tar_compression c, struct err *e);

/* Writes the layer (the builder may be written again, say with another
 * compression).  *out need not be initialised; it is left released on
 * failure.  ERR_INVALID when a path is needed both as a directory and as
 * something else ("a" a file, "a/b" added), or the sink's error. */
int layer_builder_write(struct layer_builder *b, const struct layer_write_opts *o,
			struct layer_result *out, struct err *e);
/* The identity of the layer that layer_builder_write() with `o` would
 * write, without reading a byte of file data: a SHA-256 over `salt`, the
 * options and every entry (path, type, mode, owner, link target, the
 * hard-link sets), each local file standing for its contents by what lstat
 * said when it was added (size, device, inode, mtime and ctime in
 * nanoseconds, as git's index does).  A file rewritten since then has a new
 * ctime, so its key changes; the exception is a change within the clock
 * tick of its last one, which the caller excludes by trusting a key only
 * when *newest_ns (the latest mtime or ctime among the files, in ns since
 * the epoch) is a few seconds old.  Returns 1 (no key) when data was
 * spooled (tarballs, tar streams): those inputs have no identity but their
 * bytes.  ERR_NOMEM, or ERR_INVALID as layer_builder_write(). */
int layer_builder_key(struct digest *out, int64_t *newest_ns, struct layer_builder *b,
		      const struct layer_write_opts *o, const char *salt, struct err *e);
void layer_builder_free(struct layer_builder *b);

/* A tar stream to or from an open file `fd`, named `what` in errors
 * ("cannot write the tarball"). */
struct layer_file {
	int fd;
	const char *what;
};
/* A tar_sink_fn writing all of `data` to the layer_file `arg`. */
int layer_file_sink(void *arg, const void *data, size_t len, struct err *e);
/* A tar_source_fn reading the layer_file `arg`. */
ssize_t layer_file_source(void *arg, void *dst, size_t len, struct err *e);

/* The OCI layer media type for a compression. */
const char *layer_media_type(enum tar_compression c);

#endif

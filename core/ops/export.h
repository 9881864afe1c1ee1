/* export.h - the flattened filesystem of an image as one tar stream
 * (`hoist export`, crane's mutate.Extract done more carefully; COPY --from
 * and flatten use it too), from the layers of an OCI layout: the cache or
 * any other (local_image() makes an image complete in the cache first).
 * Layers are streamed: memory grows with the number of paths, never with
 * the bytes of the image.
 */
#ifndef HOIST_EXPORT_H
#define HOIST_EXPORT_H

#include "core/format/tar.h"

struct buf;
struct err;
struct layout;
struct manifest;

/* Writes the flattened filesystem of image manifest `m`, whose layers are
 * blobs of `l`, as one uncompressed tar to `sink`.  Layers are read top
 * down; a hash set of paths remembers what a higher layer already gave, hid
 * (.wh.NAME, applied to lower layers only), made opaque (.wh..wh..opq) or
 * turned into a non-directory.  Entry names are cleaned ("./a//b/" -> "a/b",
 * a leading '/' dropped); a name or hard-link target that climbs out of the
 * root with ".." is an error (ERR_INVALID naming the layer and the entry).
 * A path under a symlink or file of a higher (or the same) layer is hidden,
 * so the stream never holds a symlink `a` and an entry `a/...` at once.
 * Errors name the layer (by index and digest). */
int export_tar(struct layout *l, const struct manifest *m, tar_sink_fn *sink, void *arg,
		 struct err *e);
/* As export_tar(), through a writer made from `o` (its compression,
 * level and sink: a flattened layer for `hoist flatten`); `out` (may be
 * NULL) receives the stream's sizes, diff_id and digest. */
int export_to(struct tar_result *out, struct layout *l, const struct manifest *m,
		    const struct tar_writer_opts *o, struct err *e);

/* Chooses and renames the entries export_select() writes: `path` is
 * the cleaned entry name ("usr/bin/app", also a hard link's target, with
 * is_dir 0), `is_dir` whether it is a directory.  Returns 1 with the name
 * to write in `out` (empty on entry), 0 to leave the entry out, or a
 * negative error code. */
typedef int export_select_fn(void *arg, struct buf *out, const char *path, int is_dir,
			     struct err *e);

/* As export_tar(), writing only the entries `sel` chooses, under the
 * names it gives (COPY --from).  Whiteouts and hiding work on the whole
 * image as in export_tar(); a hard link whose target `sel` leaves out is
 * ERR_UNSUPPORTED. */
int export_select(struct layout *l, const struct manifest *m, export_select_fn *sel,
			void *sel_arg, tar_sink_fn *sink, void *arg, struct err *e);

#endif

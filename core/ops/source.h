/* source.h - where an image that a command reads comes from, when it is
 * not a registry: an OCI image layout, an OCI archive or a docker-save
 * tarball, named as skopeo's transports name them.
 *
 *	oci:DIR[:REF]			an OCI image layout
 *	oci-archive:FILE[:REF]		a tar of one (podman save --format oci-archive)
 *	docker-archive:FILE[:REF]	a docker-save tarball; also tarball:FILE[:REF]
 *
 * The two archive transports read either kind (the content tells which).
 * Where a command takes a path (push, validate's options) a bare path is a
 * source too: a directory is a layout, anything else an archive; PATH@REF
 * names an entry, and so does FILE:REF after a file that exists (as
 * skopeo's docker-archive:FILE:REPO:TAG).  "-" is an archive on standard
 * input where a command reads one (export, unpack).
 *
 * REF is an entry's name (a layout's org.opencontainers.image.ref.name, a
 * docker-save image's RepoTags entry) or, for an archive, @N: the Nth
 * image, from 0.  An archive is read into a scratch layout
 * (import_archive(), core/ops/import.h), so a command reads a layout
 * whatever the source was:
 *
 *	struct source s = SOURCE_INIT;
 *	source_parse(&s, argv[0], SOURCE_BARE, e);
 *	source_open(&s, NULL, tmp_dir, "push", 0, e);
 *	... read s.l, its entry s.name (NULL: the only one) ...
 *	source_release(&s);
 */
#ifndef HOIST_SOURCE_H
#define HOIST_SOURCE_H

struct err;
struct layout;

enum source_kind {
	SOURCE_NONE = 0,	/* not a local source: an image reference */
	SOURCE_LAYOUT,	/* an OCI image layout, read in place */
	SOURCE_ARCHIVE,	/* a docker-save tarball or an OCI archive */
};

enum source_flags {
	SOURCE_BARE = 1 << 0,	/* a path without a transport is a source */
	SOURCE_STDIN = 1 << 1,	/* "-" is an archive on standard input */
	/* Without a REF an archive's every image is read, each under its
	 * own name, not only the only one (validate, push --index). */
	SOURCE_ALL = 1 << 2,
};

struct source {
	enum source_kind how;
	char *path;		/* the directory or the file ("-": standard input) */
	char *ref;		/* REF, or NULL */
	/* After source_open(): */
	struct layout *l;	/* the layout to read (an archive's scratch layout) */
	const char *name;	/* its entry to read, or NULL: the only one (with
				 * SOURCE_ALL, an archive's every one) */
};

#define SOURCE_INIT { SOURCE_NONE, NULL, NULL, NULL, NULL }

/* Parses `spec` into `s` (initialised): s->how is SOURCE_NONE when it
 * names no local source (it is then an image reference).  ERR_USAGE for a
 * transport without a path; ERR_NOMEM. */
int source_parse(struct source *s, const char *spec, unsigned flags, struct err *e);

/* Opens the parsed source: the layout as it is, or the archive read into a
 * scratch layout under `tmp_dir` (named after `what`), which
 * source_release() removes.  `ref` (may be NULL) replaces the REF
 * the spec gave (push --ref).  Errors are import_archive()'s (an
 * archive of several images without a REF is ERR_USAGE) and layout_open()'s. */
int source_open(struct source *s, const char *ref, const char *tmp_dir,
		      const char *what, unsigned flags, struct err *e);

/* Frees what parse and open made; `s` is initialised again. */
void source_release(struct source *s);

#endif

/* libarchive_dl.h - libarchive, loaded on first use.
 *
 * hoist is not linked with libarchive: that library drags in libxml2, ICU,
 * libstdc++, liblzma, lz4, bz2, acl and libcrypto, which cost every run
 * (`hoist pull` of a cached tag included) about 8 ms of dynamic loading.
 * core/format/libarchive_dl.c defines the archive_*() functions of <archive.h>
 * and <archive_entry.h> that hoist uses, under their own names and with
 * their own prototypes, so that core/format/tar.c and its users compile
 * unchanged; the first call dlopen()s the libarchive the build was made
 * against (its soname, found at build time) and resolves the whole table
 * at once (systemd's dlopen_*() pattern).  The functions are hidden: the
 * executable does not export them, so libarchive's calls to itself are
 * never interposed.
 *
 * When the library cannot be loaded (or lacks a symbol), nothing is
 * resolved and every function fails the way libarchive's own do:
 * archive_read_new(), archive_write_new(), archive_entry_new*() return
 * NULL with errno ELIBACC; functions returning int return ARCHIVE_FATAL;
 * archive_error_string() says what could not be loaded.
 */
#ifndef HOIST_LIBARCHIVE_DL_H
#define HOIST_LIBARCHIVE_DL_H

struct err;

/* Loads libarchive now (once per process; thread-safe).  0, or ERR_NOT_FOUND
 * with `e` naming the library and why it could not be loaded. */
int libarchive_dl_load(struct err *e);

#endif

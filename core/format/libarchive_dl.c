/* libarchive_dl.c - libarchive, loaded on first use.  See libarchive_dl.h. */
#include "core/format/libarchive_dl.h"

#include "core/base/dl.h"
#include "core/base/err.h"

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/* Everything declared from here on, the archive_*() definitions below
 * included, stays inside the executable. */
#pragma GCC visibility push(hidden)
#include <archive.h>
#include <archive_entry.h>

#ifndef HOIST_LIBARCHIVE_SONAME
#error "HOIST_LIBARCHIVE_SONAME (e.g. \"libarchive.so.13\") is set by the Makefile"
#endif
_Static_assert(sizeof(HOIST_LIBARCHIVE_SONAME) > 1,
	       "the Makefile found no soname for libarchive.so (objdump -p)");

/* The functions hoist uses, F(return type, name, parameters, arguments,
 * value on failure) and V(name, parameters, arguments) for void ones.
 * archive_set_error() is variadic and written out below. */
#define LA_FUNCS(F, V) \
	F(struct archive *, archive_read_new, (void), (), NULL) \
	F(int, archive_read_free, (struct archive *a), (a), ARCHIVE_FATAL) \
	F(int, archive_read_support_filter_all, (struct archive *a), (a), ARCHIVE_FATAL) \
	F(int, archive_read_support_format_empty, (struct archive *a), (a), ARCHIVE_FATAL) \
	F(int, archive_read_support_format_raw, (struct archive *a), (a), ARCHIVE_FATAL) \
	F(int, archive_read_support_format_tar, (struct archive *a), (a), ARCHIVE_FATAL) \
	F(int, archive_read_open, (struct archive *a, void *d, archive_open_callback *o, \
		archive_read_callback *r, archive_close_callback *c), (a, d, o, r, c), \
		ARCHIVE_FATAL) \
	F(int, archive_read_open2, (struct archive *a, void *d, archive_open_callback *o, \
		archive_read_callback *r, archive_skip_callback *s, archive_close_callback *c), \
		(a, d, o, r, s, c), ARCHIVE_FATAL) \
	F(int, archive_read_open_memory, (struct archive *a, const void *p, size_t n), \
		(a, p, n), ARCHIVE_FATAL) \
	F(int, archive_read_next_header, (struct archive *a, struct archive_entry **en), \
		(a, en), ARCHIVE_FATAL) \
	F(la_ssize_t, archive_read_data, (struct archive *a, void *p, size_t n), (a, p, n), \
		ARCHIVE_FATAL) \
	F(struct archive *, archive_write_new, (void), (), NULL) \
	F(int, archive_write_free, (struct archive *a), (a), ARCHIVE_FATAL) \
	F(int, archive_write_close, (struct archive *a), (a), ARCHIVE_FATAL) \
	F(int, archive_write_add_filter_gzip, (struct archive *a), (a), ARCHIVE_FATAL) \
	F(int, archive_write_add_filter_none, (struct archive *a), (a), ARCHIVE_FATAL) \
	F(int, archive_write_set_filter_option, (struct archive *a, const char *m, \
		const char *o, const char *v), (a, m, o, v), ARCHIVE_FATAL) \
	F(int, archive_write_set_format_option, (struct archive *a, const char *m, \
		const char *o, const char *v), (a, m, o, v), ARCHIVE_FATAL) \
	F(int, archive_write_set_format_pax_restricted, (struct archive *a), (a), \
		ARCHIVE_FATAL) \
	F(int, archive_write_set_bytes_per_block, (struct archive *a, int n), (a, n), \
		ARCHIVE_FATAL) \
	F(int, archive_write_set_bytes_in_last_block, (struct archive *a, int n), (a, n), \
		ARCHIVE_FATAL) \
	F(int, archive_write_open, (struct archive *a, void *d, archive_open_callback *o, \
		archive_write_callback *w, archive_close_callback *c), (a, d, o, w, c), \
		ARCHIVE_FATAL) \
	F(int, archive_write_open2, (struct archive *a, void *d, archive_open_callback *o, \
		archive_write_callback *w, archive_close_callback *c, \
		archive_free_callback *f), (a, d, o, w, c, f), ARCHIVE_FATAL) \
	F(int, archive_write_header, (struct archive *a, struct archive_entry *en), (a, en), \
		ARCHIVE_FATAL) \
	F(la_ssize_t, archive_write_data, (struct archive *a, const void *p, size_t n), \
		(a, p, n), ARCHIVE_FATAL) \
	F(la_int64_t, archive_filter_bytes, (struct archive *a, int n), (a, n), -1) \
	F(struct archive_entry *, archive_entry_new, (void), (), NULL) \
	F(struct archive_entry *, archive_entry_new2, (struct archive *a), (a), NULL) \
	V(archive_entry_free, (struct archive_entry *en), (en)) \
	F(__LA_MODE_T, archive_entry_filetype, (struct archive_entry *en), (en), 0) \
	F(__LA_MODE_T, archive_entry_perm, (struct archive_entry *en), (en), 0) \
	F(la_int64_t, archive_entry_uid, (struct archive_entry *en), (en), 0) \
	F(la_int64_t, archive_entry_gid, (struct archive_entry *en), (en), 0) \
	F(la_int64_t, archive_entry_size, (struct archive_entry *en), (en), 0) \
	F(time_t, archive_entry_mtime, (struct archive_entry *en), (en), 0) \
	F(dev_t, archive_entry_rdevmajor, (struct archive_entry *en), (en), 0) \
	F(dev_t, archive_entry_rdevminor, (struct archive_entry *en), (en), 0) \
	F(const char *, archive_entry_pathname, (struct archive_entry *en), (en), NULL) \
	F(const char *, archive_entry_hardlink, (struct archive_entry *en), (en), NULL) \
	F(const char *, archive_entry_symlink, (struct archive_entry *en), (en), NULL) \
	V(archive_entry_set_filetype, (struct archive_entry *en, unsigned int v), (en, v)) \
	V(archive_entry_set_perm, (struct archive_entry *en, __LA_MODE_T v), (en, v)) \
	V(archive_entry_set_uid, (struct archive_entry *en, la_int64_t v), (en, v)) \
	V(archive_entry_set_gid, (struct archive_entry *en, la_int64_t v), (en, v)) \
	V(archive_entry_set_uname, (struct archive_entry *en, const char *v), (en, v)) \
	V(archive_entry_set_gname, (struct archive_entry *en, const char *v), (en, v)) \
	V(archive_entry_set_size, (struct archive_entry *en, la_int64_t v), (en, v)) \
	V(archive_entry_set_mtime, (struct archive_entry *en, time_t t, long ns), (en, t, ns)) \
	V(archive_entry_set_rdevmajor, (struct archive_entry *en, dev_t v), (en, v)) \
	V(archive_entry_set_rdevminor, (struct archive_entry *en, dev_t v), (en, v)) \
	V(archive_entry_set_pathname, (struct archive_entry *en, const char *v), (en, v)) \
	V(archive_entry_copy_pathname, (struct archive_entry *en, const char *v), (en, v)) \
	V(archive_entry_copy_hardlink, (struct archive_entry *en, const char *v), (en, v)) \
	V(archive_entry_copy_symlink, (struct archive_entry *en, const char *v), (en, v)) \
	V(archive_entry_xattr_add_entry, (struct archive_entry *en, const char *n, \
		const void *v, size_t len), (en, n, v, len)) \
	F(int, archive_entry_sparse_count, (struct archive_entry *en), (en), 0) \
	F(int, archive_entry_sparse_reset, (struct archive_entry *en), (en), 0) \
	F(int, archive_entry_sparse_next, (struct archive_entry *en, la_int64_t *off, \
		la_int64_t *len), (en, off, len), ARCHIVE_WARN) \
	F(int, archive_entry_xattr_reset, (struct archive_entry *en), (en), 0) \
	F(int, archive_entry_xattr_next, (struct archive_entry *en, const char **n, \
		const void **v, size_t *len), (en, n, v, len), ARCHIVE_WARN) \
	F(const char *, archive_error_string, (struct archive *a), (a), la_lib.error)

/* The resolved table: each member has the type of the function it holds
 * (so a prototype that disagrees with <archive.h> does not compile). */
#define LA_MEMBER(ret, name, params, args, fail) __typeof__(&name) name;
#define LA_VMEMBER(name, params, args) __typeof__(&name) name;
static struct {
	LA_FUNCS(LA_MEMBER, LA_VMEMBER)
	__typeof__(&archive_set_error) archive_set_error;
} la;

/* Resolves the table (core/base/dl.h). */
static void la_resolve(struct dl_lib *lib, void *h)
{
#define LA_RESOLVE(name) *(void **)&la.name = dl_sym(lib, h, #name);
#define LA_RESOLVE_F(ret, name, params, args, fail) LA_RESOLVE(name)
#define LA_RESOLVE_V(name, params, args) LA_RESOLVE(name)
	LA_FUNCS(LA_RESOLVE_F, LA_RESOLVE_V)
	LA_RESOLVE(archive_set_error)
}

static struct dl_lib la_lib = DL_LIB_INIT(HOIST_LIBARCHIVE_SONAME, la_resolve);

static int la_load(void)
{
	return dl_load(&la_lib);
}

int libarchive_dl_load(struct err *e)
{
	return dl_load_err(&la_lib, e);
}

#define LA_DEFINE(ret, name, params, args, fail) \
	ret name params \
	{ \
		return la_load() ? la.name args : (fail); \
	}
#define LA_VDEFINE(name, params, args) \
	void name params \
	{ \
		if (la_load()) \
			la.name args; \
	}
LA_FUNCS(LA_DEFINE, LA_VDEFINE)

void archive_set_error(struct archive *a, int err, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	if (!la_load())
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	la.archive_set_error(a, err, "%s", msg);
}

#pragma GCC visibility pop

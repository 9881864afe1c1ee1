/* dl.h - a shared library loaded on first use (systemd's dlopen_*()).
 *
 * hoist is not linked with libcurl or libarchive (registry/curl_dl.c,
 * core/format/libarchive_dl.c): each defines the library's functions under
 * their own names, and the first call loads the library and resolves its
 * whole table at once, through a `struct dl_lib` here.
 */
#ifndef HOIST_DL_H
#define HOIST_DL_H

struct err;

/* One library.  `resolve` fills the caller's table with dl_sym() for every
 * function it needs. */
struct dl_lib {
	const char *soname;			/* "libarchive.so.13" */
	void (*resolve)(struct dl_lib *lib, void *handle);
	int state;				/* 0 not tried, 1 loaded, -1 failed */
	const char *missing;			/* the first symbol not found */
	char error[512];			/* why loading failed */
};

#define DL_LIB_INIT(soname, resolve) { (soname), (resolve), 0, NULL, "" }

/* For `resolve`: the address of `name` in `handle`, or NULL (and the first
 * such name remembered: the load then fails, naming it). */
void *dl_sym(struct dl_lib *lib, void *handle, const char *name);

/* Loads the library now, once per process (thread-safe); the handle stays
 * open for the process's life, as the table points into it.  1 when it is
 * loaded; 0 with errno ELIBACC when it cannot be (lib->error says why). */
int dl_load(struct dl_lib *lib);

/* dl_load(), as 0 or ERR_NOT_FOUND with `e` naming the library and why it
 * could not be loaded. */
int dl_load_err(struct dl_lib *lib, struct err *e);

#endif

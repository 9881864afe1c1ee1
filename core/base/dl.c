/* dl.c - see dl.h. */
#include "core/base/dl.h"

#include "core/base/err.h"

#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

static pthread_mutex_t dl_mu = PTHREAD_MUTEX_INITIALIZER;

void *dl_sym(struct dl_lib *lib, void *handle, const char *name)
{
	void *p = lib->missing ? NULL : dlsym(handle, name);

	if (!p && !lib->missing)
		lib->missing = name;
	return p;
}

/* Opens and resolves; called once, under dl_mu. */
static void dl_open(struct dl_lib *lib)
{
	void *h = dlopen(lib->soname, RTLD_NOW | RTLD_LOCAL);
	const char *why;

	if (!h) {
		why = dlerror();
		if (why && strstr(why, lib->soname))
			snprintf(lib->error, sizeof(lib->error), "cannot load %s", why);
		else
			snprintf(lib->error, sizeof(lib->error), "cannot load %s: %s",
				 lib->soname, why ? why : "unknown error");
		lib->state = -1;
		return;
	}
	lib->resolve(lib, h);
	if (lib->missing) {
		snprintf(lib->error, sizeof(lib->error), "cannot load %s: it lacks %s",
			 lib->soname, lib->missing);
		dlclose(h);
		lib->state = -1;
		return;
	}
	__atomic_store_n(&lib->state, 1, __ATOMIC_RELEASE);
}

int dl_load(struct dl_lib *lib)
{
	int state = __atomic_load_n(&lib->state, __ATOMIC_ACQUIRE);

	if (state == 0) {
		pthread_mutex_lock(&dl_mu);
		if (lib->state == 0)
			dl_open(lib);
		state = lib->state;
		pthread_mutex_unlock(&dl_mu);
	}
	if (state < 0)
		errno = ELIBACC;
	return state > 0;
}

int dl_load_err(struct dl_lib *lib, struct err *e)
{
	if (dl_load(lib))
		return 0;
	return err_set(e, ERR_NOT_FOUND, "%s", lib->error);
}

/* curl_dl.c - libcurl, loaded on first use.  See curl_dl.h. */
#include "registry/curl_dl.h"

#include "core/base/dl.h"
#include "core/base/err.h"

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/* Everything declared from here on, the curl_*() definitions below
 * included, stays inside the executable.  <curl/curl.h>'s type-checking
 * macros would rename the definitions: the callers keep them. */
#pragma GCC visibility push(hidden)
#define CURL_DISABLE_TYPECHECK 1
#include <curl/curl.h>

#ifndef HOIST_LIBCURL_SONAME
#error "HOIST_LIBCURL_SONAME (e.g. \"libcurl-gnutls.so.4\") is set by the Makefile"
#endif
_Static_assert(sizeof(HOIST_LIBCURL_SONAME) > 1,
	       "the Makefile found no soname for libcurl.so (objdump -p)");

/* The functions hoist uses, F(return type, name, parameters, arguments,
 * value on failure) and V(name, parameters, arguments) for void ones.  The
 * variadic ones (*_setopt, curl_easy_getinfo) are written out below. */
#define CL_FUNCS(F, V) \
	F(CURLcode, curl_global_init, (long flags), (flags), CURLE_FAILED_INIT) \
	V(curl_global_cleanup, (void), ()) \
	F(CURL *, curl_easy_init, (void), (), NULL) \
	V(curl_easy_cleanup, (CURL *h), (h)) \
	F(const char *, curl_easy_strerror, (CURLcode c), (c), cl_lib.error) \
	F(CURLM *, curl_multi_init, (void), (), NULL) \
	F(CURLMcode, curl_multi_cleanup, (CURLM *m), (m), CURLM_BAD_HANDLE) \
	F(CURLMcode, curl_multi_add_handle, (CURLM *m, CURL *h), (m, h), CURLM_BAD_HANDLE) \
	F(CURLMcode, curl_multi_remove_handle, (CURLM *m, CURL *h), (m, h), \
		CURLM_BAD_HANDLE) \
	F(CURLMcode, curl_multi_perform, (CURLM *m, int *running), (m, running), \
		CURLM_BAD_HANDLE) \
	F(CURLMcode, curl_multi_poll, (CURLM *m, struct curl_waitfd fds[], unsigned int n, \
		int timeout_ms, int *numfds), (m, fds, n, timeout_ms, numfds), \
		CURLM_BAD_HANDLE) \
	F(CURLMsg *, curl_multi_info_read, (CURLM *m, int *left), (m, left), NULL) \
	F(CURLSH *, curl_share_init, (void), (), NULL) \
	F(CURLSHcode, curl_share_cleanup, (CURLSH *s), (s), CURLSHE_INVALID) \
	F(struct curl_slist *, curl_slist_append, (struct curl_slist *l, const char *s), \
		(l, s), NULL) \
	V(curl_slist_free_all, (struct curl_slist *l), (l)) \
	F(CURLU *, curl_url, (void), (), NULL) \
	V(curl_url_cleanup, (CURLU *u), (u)) \
	F(CURLUcode, curl_url_get, (CURLU *u, CURLUPart what, char **part, \
		unsigned int flags), (u, what, part, flags), CURLUE_OUT_OF_MEMORY) \
	F(CURLUcode, curl_url_set, (CURLU *u, CURLUPart what, const char *part, \
		unsigned int flags), (u, what, part, flags), CURLUE_OUT_OF_MEMORY) \
	V(curl_free, (void *p), (p))

/* The resolved table: each member has the type of the function it holds
 * (so a prototype that disagrees with <curl/curl.h> does not compile). */
#define CL_MEMBER(ret, name, params, args, fail) __typeof__(&name) name;
#define CL_VMEMBER(name, params, args) __typeof__(&name) name;
static struct {
	CL_FUNCS(CL_MEMBER, CL_VMEMBER)
	__typeof__(&curl_easy_setopt) curl_easy_setopt;
	__typeof__(&curl_easy_getinfo) curl_easy_getinfo;
	__typeof__(&curl_multi_setopt) curl_multi_setopt;
	__typeof__(&curl_share_setopt) curl_share_setopt;
} cl;

/* Resolves the table (core/base/dl.h). */
static void cl_resolve(struct dl_lib *lib, void *h)
{
#define CL_RESOLVE(name) *(void **)&cl.name = dl_sym(lib, h, #name);
#define CL_RESOLVE_F(ret, name, params, args, fail) CL_RESOLVE(name)
#define CL_RESOLVE_V(name, params, args) CL_RESOLVE(name)
	CL_FUNCS(CL_RESOLVE_F, CL_RESOLVE_V)
	CL_RESOLVE(curl_easy_setopt)
	CL_RESOLVE(curl_easy_getinfo)
	CL_RESOLVE(curl_multi_setopt)
	CL_RESOLVE(curl_share_setopt)
}

static struct dl_lib cl_lib = DL_LIB_INIT(HOIST_LIBCURL_SONAME, cl_resolve);

static int cl_load(void)
{
	return dl_load(&cl_lib);
}

int curl_dl_load(struct err *e)
{
	return dl_load_err(&cl_lib, e);
}

#define CL_DEFINE(ret, name, params, args, fail) \
	ret name params \
	{ \
		return cl_load() ? cl.name args : (fail); \
	}
#define CL_VDEFINE(name, params, args) \
	void name params \
	{ \
		if (cl_load()) \
			cl.name args; \
	}
CL_FUNCS(CL_DEFINE, CL_VDEFINE)

/* An option's argument, by the type its number encodes (as libcurl reads
 * it): long, a pointer (object or function), or curl_off_t. */
#define CL_FORWARD(fn, h, opt, ap, rc) \
	do { \
		if ((long)(opt) < CURLOPTTYPE_OBJECTPOINT) \
			rc = cl.fn(h, opt, va_arg(ap, long)); \
		else if ((long)(opt) < CURLOPTTYPE_OFF_T || (long)(opt) >= CURLOPTTYPE_BLOB) \
			rc = cl.fn(h, opt, va_arg(ap, void *)); \
		else \
			rc = cl.fn(h, opt, va_arg(ap, curl_off_t)); \
	} while (0)

CURLcode curl_easy_setopt(CURL *h, CURLoption opt, ...)
{
	CURLcode rc;
	va_list ap;

	if (!cl_load())
		return CURLE_FAILED_INIT;
	va_start(ap, opt);
	CL_FORWARD(curl_easy_setopt, h, opt, ap, rc);
	va_end(ap);
	return rc;
}

CURLMcode curl_multi_setopt(CURLM *m, CURLMoption opt, ...)
{
	CURLMcode rc;
	va_list ap;

	if (!cl_load())
		return CURLM_BAD_HANDLE;
	va_start(ap, opt);
	CL_FORWARD(curl_multi_setopt, m, opt, ap, rc);
	va_end(ap);
	return rc;
}

CURLSHcode curl_share_setopt(CURLSH *s, CURLSHoption opt, ...)
{
	CURLSHcode rc;
	va_list ap;

	if (!cl_load())
		return CURLSHE_INVALID;
	va_start(ap, opt);
	/* SHARE/UNSHARE take a curl_lock_data (an int); the rest pointers */
	if (opt == CURLSHOPT_SHARE || opt == CURLSHOPT_UNSHARE)
		rc = cl.curl_share_setopt(s, opt, va_arg(ap, int));
	else
		rc = cl.curl_share_setopt(s, opt, va_arg(ap, void *));
	va_end(ap);
	return rc;
}

/* Every CURLINFO_* takes one pointer. */
CURLcode curl_easy_getinfo(CURL *h, CURLINFO info, ...)
{
	CURLcode rc;
	va_list ap;

	if (!cl_load())
		return CURLE_FAILED_INIT;
	va_start(ap, info);
	rc = cl.curl_easy_getinfo(h, info, va_arg(ap, void *));
	va_end(ap);
	return rc;
}

#pragma GCC visibility pop

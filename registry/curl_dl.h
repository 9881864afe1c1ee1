/* curl_dl.h - libcurl, loaded on first use.
 *
 * hoist is not linked with libcurl: Debian's libcurl-gnutls drags in
 * Kerberos, LDAP, SASL, libssh2, librtmp, brotli, libpsl and more, which
 * cost every run about 8 ms of dynamic loading, also the runs that make no
 * request (a build into a layout, `hoist cache`, a pull of a cached
 * digest).  registry/curl_dl.c defines the curl_*() functions hoist uses,
 * under their own names and prototypes, so that registry/http.c compiles
 * unchanged; the first call dlopen()s the libcurl the build was made
 * against (its soname, found at build time) and resolves the whole table at
 * once (core/base/dl.h), as core/format/libarchive_dl.c does for libarchive.  The functions are
 * hidden: the executable does not export them.
 *
 * When the library cannot be loaded (or lacks a symbol), every function
 * fails the way libcurl's own do (NULL, CURLE_FAILED_INIT,
 * CURLM_BAD_HANDLE, ...); curl_dl_load() says why.
 */
#ifndef HOIST_CURL_DL_H
#define HOIST_CURL_DL_H

struct err;

/* Loads libcurl now (once per process; thread-safe).  0, or ERR_NOT_FOUND
 * with `e` naming the library and why it could not be loaded. */
int curl_dl_load(struct err *e);

#endif

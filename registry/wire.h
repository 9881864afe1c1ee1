/* wire.h - parsers for what a registry sends: WWW-Authenticate, Link,
 * distribution error bodies, Retry-After, Content-Range.  All read hostile
 * input: header values are capped at WIRE_MAX_HEADER bytes, counts are
 * capped, nothing recurses on the input, and server text reaches a message
 * only cleaned (text_clean) and cut.
 */
#ifndef HOIST_WIRE_H
#define HOIST_WIRE_H

#include "core/base/buf.h"
#include "core/base/strvec.h"
#include "core/base/text.h"

#include <stddef.h>
#include <stdint.h>
#include <time.h>

struct err;

#define WIRE_MAX_HEADER 8192		/* bytes in one header value */
#define WIRE_MAX_CHALLENGES 16		/* challenges in one wire_challenges */
#define WIRE_MAX_PARAMS 32		/* auth-params in one challenge */
#define WIRE_MAX_ERRORS 16		/* entries kept from an error body */
#define WIRE_MAX_ERROR_BODY (1024 * 1024)
#define WIRE_TEXT_MAX 200		/* bytes of server text kept per message */
#define WIRE_RETRY_AFTER_MAX 3600	/* seconds; longer waits are clamped */

/* ---- WWW-Authenticate (RFC 9110 §11.6.1) ---- */

struct wire_challenge {
	char *scheme;		/* lower-cased: "bearer", "basic" */
	struct strvec names;	/* lower-cased auth-param names, unique */
	struct strvec values;	/* values[i] belongs to names[i], unquoted */
	char *token68;		/* "Negotiate abc==" form, else NULL */
};

struct wire_challenges {
	struct wire_challenge *v;
	size_t n;
};

#define WIRE_CHALLENGES_INIT { NULL, 0 }

void wire_challenges_init(struct wire_challenges *c);
void wire_challenges_release(struct wire_challenges *c);

/* Parses one WWW-Authenticate header value and APPENDS its challenges to
 * `out` (initialised by the caller), so it can be called once per header
 * line of a response.  An empty value (or only white space and commas)
 * appends nothing and returns 0: the caller decides whether no challenge
 * is an error.  As the grammar says, "Bearer realm=" (nothing after '=')
 * is a token68 "realm=", not an empty parameter.
 * Errors: ERR_INVALID on a syntax error, a NUL byte, a duplicate parameter
 * name in a challenge (an ambiguity a server has no reason to create);
 * ERR_TOO_BIG over WIRE_MAX_HEADER bytes, WIRE_MAX_CHALLENGES challenges in
 * `out` or WIRE_MAX_PARAMS parameters; ERR_NOMEM.  On error `out` is left
 * as it was before the call. */
int wire_parse_challenges(struct wire_challenges *out, const char *header, struct err *e);
/* As above for `len` bytes that need not be NUL-terminated (a NUL among
 * them is ERR_INVALID). */
int wire_parse_challenges_len(struct wire_challenges *out, const char *header, size_t len,
			      struct err *e);

/* The first challenge with this scheme (case-insensitive), or NULL. */
const struct wire_challenge *wire_challenges_find(const struct wire_challenges *c,
						  const char *scheme);
/* The value of parameter `name` (case-insensitive), borrowed, or NULL. */
const char *wire_challenge_param(const struct wire_challenge *c, const char *name);

/* ---- Link (RFC 8288) ---- */

/* Finds the link whose (first) rel parameter holds the relation type
 * "next" (case-insensitive, among space-separated types) and stores its
 * URI-reference, as written, in *out (caller frees).  The first such link
 * wins; the whole value must parse.  The reference is not resolved: see
 * wire_resolve_url().  A caller following pages should also stop when the
 * resolved URL equals the one just fetched.
 * Errors: ERR_NOT_FOUND when there is no next link (empty value included);
 * ERR_INVALID on a syntax error, an empty "<>" next target or a character
 * outside printable ASCII in a target; ERR_TOO_BIG over WIRE_MAX_HEADER. */
int wire_link_next(char **out, const char *header, struct err *e);

/* Resolves `ref` against `base_url` (an absolute http or https URL), for
 * the forms registries send: an absolute http(s) URL, a network-path
 * reference "//host/path", an absolute path "/v2/...", a query "?last=...".
 * The fragment, if any, is dropped.  *out is the caller's.
 * Errors: ERR_UNSUPPORTED for any other scheme (file:, javascript:, ...), a
 * relative path ("page2") or a fragment-only reference; ERR_INVALID for
 * an empty reference, a bad base URL, or characters not allowed in a URI
 * (controls, space, non-ASCII, '\\', '<', '>', '"'). */
int wire_resolve_url(char **out, const char *base_url, const char *ref, struct err *e);

/* ---- distribution error bodies ---- */

struct wire_error {
	char *code;		/* "MANIFEST_UNKNOWN", cleaned; NULL when absent */
	char *message;		/* cleaned and truncated; NULL when absent */
};

struct wire_errors {
	struct wire_error v[WIRE_MAX_ERRORS];
	size_t n;		/* entries kept */
	size_t total;		/* entries the body held */
};

#define WIRE_ERRORS_INIT { { { NULL, NULL } }, 0, 0 }

void wire_errors_init(struct wire_errors *w);
void wire_errors_release(struct wire_errors *w);

/* Parses `len` bytes of {"errors":[{"code":..,"message":..,"detail":..}]}
 * ("detail" is ignored).  Bodies without "errors" but with a top-level
 * string "message", "error" or "details" (token servers, proxies) give one
 * entry without code.  Entries that are not objects or have neither code
 * nor message are skipped; at most WIRE_MAX_ERRORS are kept.  Codes and
 * messages pass through text_clean() (codes at most 64 bytes, messages
 * WIRE_TEXT_MAX).  `out` (initialised) is released first.
 * Errors: ERR_INVALID for an empty body, invalid JSON, a NUL byte, or JSON
 * that is not such an object; ERR_TOO_BIG over WIRE_MAX_ERROR_BODY. */
int wire_parse_errors(struct wire_errors *out, const char *body, size_t len, struct err *e);

/* The first entry whose code equals `code` (case-insensitive), or NULL. */
const struct wire_error *wire_errors_find(const struct wire_errors *w, const char *code);

/* Turns a failed response into one line in `e` and returns its code:
 *   "<what>: <problem>[: <what to do>] (HTTP <status>[ <CODE>][: '<message>'][ and N more])"
 * e.g. "GET manifest docker.io/library/x:1: manifest unknown: check the tag
 * or digest (HTTP 404 MANIFEST_UNKNOWN: 'manifest unknown')".
 * The first entry of `errs` with a known code decides; otherwise the
 * status does.  `errs` may be NULL (no or unparsable body); `what` may be
 * NULL; `registry` ("docker.io") goes into "run 'hoist auth login ...'"
 * hints and may be NULL.  e->http_status is set to `status`.
 * Codes: ERR_AUTH (UNAUTHORIZED, 401), ERR_DENIED (DENIED, 403),
 * ERR_NOT_FOUND (MANIFEST_UNKNOWN, NAME_UNKNOWN, BLOB_UNKNOWN, 404),
 * ERR_INVALID (TAG_INVALID, MANIFEST_INVALID, NAME_INVALID,
 * PAGINATION_NUMBER_INVALID, 400), ERR_DIGEST (DIGEST_INVALID,
 * SIZE_INVALID), ERR_UNSUPPORTED (UNSUPPORTED, 405, 501), ERR_TOO_BIG
 * (413), ERR_NETWORK (408), ERR_REGISTRY (TOOMANYREQUESTS, UNAVAILABLE,
 * BLOB_UPLOAD_*, MANIFEST_BLOB_UNKNOWN, RANGE_INVALID, 429, 5xx, others). */
int wire_status_error(struct err *e, long status, const struct wire_errors *errs,
		      const char *what, const char *registry);

/* ---- Retry-After (RFC 9110 §10.2.3) ---- */

/* Parses delta-seconds or an HTTP-date (IMF-fixdate, RFC 850, asctime;
 * GMT only) relative to `now`.  The result is clamped to
 * 0..WIRE_RETRY_AFTER_MAX (a date in the past gives 0).  Returns 0 or
 * ERR_INVALID (no message: callers just ignore a bad value). */
int wire_parse_retry_after(long *out_seconds, const char *value, time_t now);

/* ---- Content-Range / upload Range (RFC 9110 §14.4) ---- */

struct wire_range {
	int64_t start;		/* first byte */
	int64_t end;		/* last byte, inclusive, >= start */
	int64_t total;		/* complete length, or -1 when absent or "*" */
};

/* Parses "bytes 0-1023/2048", "bytes=0-1023" (total may be "*") and the
 * bare "0-1023" that registries put in the Range header of upload
 * responses (where "0-0" may also mean nothing received yet: the caller
 * knows).  Numbers are at most INT64_MAX.
 * Errors: ERR_INVALID for anything else, including the unsatisfied form
 * (a "*" range with only a length), end < start, end >= total, or an
 * overflow. */
int wire_parse_content_range(struct wire_range *out, const char *value, struct err *e);

#endif

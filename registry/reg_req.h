/* reg_req.h - the small pieces every request of the registry client is
 * built from: checks of what goes into a URL path, token scopes, URL
 * escaping, origins and sizes read from headers.  Internal to registry/
 * (reg, reg_blob, reg_manifest, reg_list); pure functions, no session.
 */
#ifndef HOIST_REG_REQ_H
#define HOIST_REG_REQ_H

#include "core/base/buf.h"

#include <stdint.h>

struct err;

/* Sets `e` to ERR_NOMEM ("out of memory") and returns ERR_NOMEM. */
int reg_req_nomem(struct err *e);

/* A repository name as the reference grammar allows (checked loosely: the
 * characters and the length), so that it can go into a URL path as is.
 * ERR_INVALID otherwise. */
int reg_req_check_repo(const char *repo, struct err *e);
/* A tag or a digest, safe in a URL path.  ERR_INVALID otherwise. */
int reg_req_check_ref(const char *tag_or_digest, struct err *e);

/* Appends the token scope "repository:REPO:ACTIONS".  0 or ERR_NOMEM. */
int reg_req_scope(struct buf *out, const char *repo, const char *actions);

/* Appends `s` percent-encoded: everything but RFC 3986's unreserved
 * characters (A-Z a-z 0-9 - . _ ~). */
void reg_req_url_escape(struct buf *b, const char *s);

/* Non-zero when URLs `a` and `b` have the same scheme, host and port. */
int reg_req_same_origin(const char *a, const char *b);

/* Parses a Content-Length style value (digits, trailing white space):
 * 0, or -1 when `s` is NULL or not such a number. */
int reg_req_parse_size(int64_t *out, const char *s);

#endif

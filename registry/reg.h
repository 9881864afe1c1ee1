/* reg.h - a session with one registry, for the distribution API (OCI
 * distribution v1.1 and the Docker registry v2 dialect) over registry/http.h:
 * the scheme, the auth scheme, credentials and bearer tokens, and the mirrors
 * its reads go to first.  The requests are in reg_manifest.h, reg_blob.h and
 * reg_list.h; what they receive is capped and verified.
 *
 * Errors: 0 or a negative enum err_code; `e` says what failed ("GET manifest
 * 127.0.0.1:5000/foo:bar: manifest unknown: ... (HTTP 404 ...)").
 */
#ifndef HOIST_REG_H
#define HOIST_REG_H

#include "core/base/buf.h"
#include "registry/creds.h"
#include "registry/http.h"

#include <stddef.h>

struct err;

struct reg_client_opts {
	struct http_client *http;	/* borrowed; required */
	creds_fn *creds;		/* credential lookup, or NULL (anonymous) */
	void *creds_arg;
	int insecure;			/* allow http anywhere (the http_client
					 * should skip TLS verification too) */
	size_t manifest_max;		/* 0: MANIFEST_MAX_DEFAULT */
	int page_size;			/* "n=" for tags and catalog; 0: not sent */
	/* PATCH chunk size for uploads; 0: one PATCH with the whole blob
	 * (raised to the registry's OCI-Chunk-Min-Length when it asks). */
	size_t upload_chunk;
	/* "https" or "http": that scheme only (a mirror written with one);
	 * NULL: https, then plain http where allowed (see reg_open). */
	const char *scheme;
};

struct reg;

/* Opens a session with `registry` ("docker.io", "localhost:5000", as in
 * struct ref; docker.io is reached at registry-1.docker.io).  No request
 * is made yet.  `o` is copied; o->http must outlive the session.
 *
 * Scheme: https.  Plain http is used only when `insecure` is set or the
 * registry is a loopback address (localhost, 127.0.0.0/8, [::1]), and then
 * only after https failed to connect, as docker does.  For a loopback
 * registry a TLS probe (http_tls_probe: a plain socket, no handshake)
 * finds out which one it speaks. */
int reg_open(struct reg **out, const struct reg_client_opts *o, const char *registry,
	     struct err *e);
/* NULL is a no-op.  Zeroes the cached tokens and credentials. */
void reg_free(struct reg *r);
/* Learns the scheme and the auth scheme now (a GET /v2/ unless a request
 * of the session has already been answered), as writes otherwise do when the
 * session has not yet; once per session. */
int reg_connect(struct reg *r, struct err *e);

/* Gives `r`, a session that has not talked to its registry yet, what
 * `from` (a session of the same registry and options, e.g. the main
 * thread's) has learnt: the scheme, the auth scheme and its tokens, so
 * that r's first request needs no ping (nor TLS probe) of its own: returns
 * 1.  Returns 0 and does nothing when `r` has pinged, `from` has not, or is
 * for another registry.  Reads `from`: it must not be in use on another
 * thread meanwhile. */
int reg_adopt(struct reg *r, const struct reg *from, struct err *e);

/* The registry name given to reg_open(). */
const char *reg_name(const struct reg *r);

/* Checks that the registry accepts the session's credentials (hoist auth
 * login): the ping, then GET /v2/ answering its challenge with them (Basic
 * as is; Bearer through a token request without a scope).  0 also when the
 * registry asks for no authentication at all.  ERR_AUTH when they are
 * refused (the message never holds them). */
int reg_auth_check(struct reg *r, struct err *e);
/* A bearer token for `repo` with pull access (and push with `push`), fresh
 * from the token realm with the session's credentials (hoist auth token);
 * a stored registry token is returned as is.  `*out` is the caller's
 * (zero it before freeing).  ERR_UNSUPPORTED when the registry does not use
 * bearer tokens (no challenge, or Basic). */
int reg_token(char **out, struct reg *r, const char *repo, int push, struct err *e);

/* ---- mirrors ---- */

/* Registry mirrors, as containerd's hosts.toml and podman's registries.conf
 * use them: the reads reg_manifest_get(), reg_manifest_head(),
 * reg_blob_get() and reg_blob_get_many() of `r` go to each mirror first, in the
 * order added, at the same repository path (after `prefix/` when `prefix`
 * is set), and fall back to the next mirror, then to `r`'s own registry,
 * when a mirror fails or lacks the content (any error but ERR_NOMEM and
 * ERR_USAGE).  A blob whose bytes already reached the sink is not retried
 * elsewhere.  What is received is verified as from the registry itself.
 * Writes, reg_blob_head() (existence at a destination), listings,
 * referrers and tokens always use `r`'s registry.  `mirror` is a session
 * opened with reg_open() on the mirror's host (so its own credentials);
 * reg_mirror_add() takes ownership of it, even on failure. */
int reg_mirror_add(struct reg *r, struct reg *mirror, const char *prefix, struct err *e);
/* Called (level 1) with "mirror: HOST served manifest docker.io/library/x"
 * or "mirror: HOST failed for ..., trying ...: why" lines; may be NULL. */
void reg_mirror_log_set(struct reg *r, void (*fn)(void *arg, int level, const char *line),
			void *arg);

/* ---- for the request modules (reg_manifest, reg_blob, reg_list) ---- */

/* The options the session was opened with (manifest_max filled in). */
const struct reg_client_opts *reg_opts(const struct reg *r);
/* "https://host[:port]" once the scheme is known (reg_ping), else NULL. */
const char *reg_base(const struct reg *r);

/* How much a request needs to know before it is sent. */
enum reg_need {
	/* The scheme only: a request without a body, sent through reg_send(),
	 * whose answer (a 401 challenge included) teaches what a ping would. */
	REG_NEED_SCHEME,
	/* The auth scheme too: requests whose credentials are computed before
	 * sending (parallel blob GETs) or whose body cannot be sent twice. */
	REG_NEED_ANSWER,
	/* A GET /v2/ itself (hoist auth login, hoist auth token). */
	REG_NEED_PING,
};

/* Decides the scheme (once per session) and learns the auth scheme, as far
 * as `need` asks; afterwards reg_base() is set.  The scheme is known without
 * a GET /v2/ when only one is possible (https for a registry that is neither
 * loopback nor insecure, a mirror written with its scheme) and, for a
 * loopback registry, from the TLS probe: TLS spoken means https (verified by
 * the request itself), a probe answered otherwise means plain http.  An
 * insecure registry that is not loopback is still pinged, https first.
 * Credentials are never sent before a challenge asks for them, so a first
 * request going without the ping changes nothing in what is sent to whom:
 * its 401 (reg_send) teaches what the ping's would have. */
int reg_ping(struct reg *r, enum reg_need need, struct err *e);

/* Sends `req` to the registry with the credentials `scope` (space-separated
 * token scopes, may be "" or NULL) needs, answering 401 challenges (a few
 * rounds).  Returns 0 with any status in `resp`: see reg_status_error().
 *
 * Auth: on a 401 the WWW-Authenticate challenge decides.  Bearer tokens are
 * requested from the realm with `service` and `scope` (anonymously, with
 * Basic credentials, or by the OAuth2 refresh_token POST when the
 * credentials hold an identity token) and cached per scope; a 401 naming new
 * scopes (insufficient_scope) is answered with a token for the union, once.
 * Basic credentials are sent only when challenged, and never over plain
 * http to a host that is not loopback unless `insecure`.  A token realm must
 * be http(s); one on a loopback or private IP address is refused unless the
 * registry itself is on that host or is loopback.  Credentials and tokens are
 * sent only to the registry's own origin (and the realm), never appear in
 * error messages, and are dropped by http.c on cross-origin redirects. */
int reg_send(struct reg *r, struct http_request *req, struct http_response *resp,
	     const char *scope, struct err *e);
/* The Authorization value ("" for none) for requests of `scope` that are
 * sent without reg_send() (parallel blob GETs): a cached token, else one
 * fetched now.  The caller zeroes `out` after use.  Needs REG_NEED_ANSWER. */
int reg_authorization(struct buf *out, struct reg *r, const char *scope, struct err *e);
/* Turns a response that is not a success into `e` ("<what>: ..." through
 * wire_status_error(), saying when the session's credentials were refused)
 * and returns its code. */
int reg_status_error(struct err *e, struct reg *r, const struct http_response *resp,
		     const char *what);

/* The mirrors of `r` (reg_mirror_add), in order: count and i-th session. */
size_t reg_mirror_count(const struct reg *r);
struct reg *reg_mirror_at(const struct reg *r, size_t i);
/* `repo` on mirror i: its prefix, a slash, the repository.  0 or ERR_NOMEM. */
int reg_mirror_repo(struct buf *out, const struct reg *r, size_t i, const char *repo);
/* Tells the mirror log that mirror i served `what` of `repo` (why NULL), or
 * failed with `why` and the next endpoint is tried. */
void reg_mirror_log(struct reg *r, size_t i, const char *repo, const char *what,
		    const struct err *why);
/* Whether a read that failed with `rc` on a mirror is tried on the next
 * endpoint: anything but a local failure (containerd and podman fall back
 * on any). */
int reg_mirror_fallback(int rc);

#endif

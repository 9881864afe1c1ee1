/* client.h - the distribution API client (OCI distribution v1.1 and the
 * Docker registry v2 dialect) over registry/http.h.
 *
 * A `struct reg` is one session with one registry: it decides the scheme
 * once, learns how the registry wants to be authenticated (from the ping of
 * /v2/, or from the 401 of its first request), and caches bearer tokens per
 * scope for its lifetime.  Everything it
 * receives is capped and verified: manifests by size and (when fetched by
 * digest, or when the registry names one) by digest, blobs by size and
 * digest as the bytes arrive.
 *
 * Scheme: https.  Plain http is used only when `insecure` is set or the
 * registry is a loopback address (localhost, 127.0.0.0/8, [::1]), and then
 * only after https failed to connect, as docker does.  For a loopback
 * registry a TLS probe (http_tls_probe: a plain socket, no handshake)
 * finds out which one it speaks.
 *
 * Ping: reads without a body (manifest GET and HEAD, blob HEAD, tags,
 * catalog, referrers) go first without a GET /v2/ when the scheme is known
 * without one (https for a registry that is neither loopback nor insecure;
 * a mirror's own scheme; a loopback registry's probe): their own 401
 * teaches the auth scheme (go-containerregistry and docker ping first; the
 * requests sent, and to whom credentials go, are the same).  Writes, blob
 * GETs and an insecure registry that is not loopback are pinged first.
 *
 * Auth: on a 401 the WWW-Authenticate challenge decides.  Bearer tokens are
 * requested from the realm with `service` and `scope` (anonymously, with
 * Basic credentials, or by the OAuth2 refresh_token POST when the
 * credentials hold an identity token); a 401 naming new scopes
 * (insufficient_scope) is answered with a token for the union, once.
 * Basic credentials are sent only when challenged, and never over plain
 * http to a host that is not loopback unless `insecure`.  A token realm must
 * be http(s); one on a loopback or private IP address is refused unless the
 * registry itself is on that host or is loopback.  Credentials and tokens are
 * sent only to the registry's own origin (and the realm), never appear in
 * error messages, and are dropped by http.c on cross-origin redirects.
 *
 * Errors: 0 or a negative enum err_code; `e` says what failed ("GET
 * manifest 127.0.0.1:5000/foo:bar: manifest unknown: ... (HTTP 404 ...)").
 * Registry error bodies go through wire_status_error().
 */
#ifndef HOIST_REG_CLIENT_H
#define HOIST_REG_CLIENT_H

#include "core/base/buf.h"
#include "core/base/digest.h"
#include "core/base/err.h"
#include "core/base/strvec.h"
#include "core/model/manifest.h"
#include "registry/creds.h"
#include "registry/http.h"

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct err;
struct ref;

/* Blobs smaller than this are uploaded with one PUT (POST, then PUT with
 * the body); larger ones are streamed with PATCH first. */
#define REG_MONOLITHIC_MAX (1u << 20)
/* Caps for listings (tags, catalog). */
#define REG_LIST_MAX_ENTRIES 1000000
#define REG_LIST_MAX_PAGES 100000
#define REG_LIST_PAGE_MAX_BYTES (32u << 20)

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
	 * NULL: https, then plain http where allowed (see above). */
	const char *scheme;
};

struct reg;

/* Opens a session with `registry` ("docker.io", "localhost:5000", as in
 * struct ref; docker.io is reached at registry-1.docker.io).  No request
 * is made yet.  `o` is copied; o->http must outlive the session. */
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

/* ---- manifests ---- */

/* Fetches the manifest or index `ref` names (by digest when ref->digest is
 * set, else by tag) into `out` (need not be initialised; left initialised
 * and empty on failure).  Refuses schema1 (ERR_UNSUPPORTED, naming it),
 * anything over manifest_max (ERR_TOO_BIG), bytes that do not hash to the
 * requested digest or to the Docker-Content-Digest the registry sent
 * (ERR_DIGEST). */
int reg_manifest_get(struct manifest *out, struct reg *r, const struct ref *ref,
		     struct err *e);
/* Media type, digest and size of the manifest `ref` names, by HEAD; a
 * registry that does not send Docker-Content-Digest costs a GET.  `out`
 * need not be initialised; the caller releases it (descriptor_release). */
int reg_manifest_head(struct descriptor *out, struct reg *r, const struct ref *ref,
		      struct err *e);
/* Uploads `len` bytes as the manifest `tag_or_digest` of `repo`.  The
 * digest of the bytes goes to `out` (may be NULL); when `tag_or_digest` is a
 * digest the bytes must hash to it (ERR_DIGEST, nothing sent). */
int reg_manifest_put(struct digest *out, struct reg *r, const char *repo,
		     const char *tag_or_digest, const char *media_type, const void *data,
		     size_t len, struct err *e);
/* Deletes a manifest by digest (or a tag, where the registry allows it). */
int reg_manifest_delete(struct reg *r, const char *repo, const char *tag_or_digest,
			struct err *e);

/* ---- blobs ---- */

/* Streams blob `d->digest` of `repo` to `sink`, following redirects (blob
 * storage gets no credentials) and resuming with Range after a dropped
 * connection (a few times).  More bytes than d->size abort the transfer;
 * at the end size and digest must match, else ERR_DIGEST: the sink has
 * then seen bytes that the caller must discard.  d->size < 0 means unknown
 * (only the digest is checked). */
int reg_blob_get(struct reg *r, const char *repo, const struct descriptor *d,
		 http_sink_fn sink, void *arg, struct err *e);
/* One blob of a reg_blob_get_many() batch.  The caller fills d, sink and arg;
 * the rest is output. */
struct reg_blob_fetch {
	const struct descriptor *d;	/* digest and size (-1: unknown) */
	http_sink_fn sink;		/* gets the body in order, once */
	void *arg;
	int rc;				/* 0 or the failure of this blob */
	struct err err;			/* what failed */
	int64_t done;			/* bytes handed to the sink */
};

enum reg_blobs_flags {
	/* The sinks hash the bytes and check the digest themselves (a
	 * layout blob writer does): the client checks the size only, so the
	 * data is hashed once.  A sink that does not verify must not be used
	 * with this flag. */
	REG_BLOBS_SINK_VERIFIES = 1 << 0,
};

/* Fetches n blobs of `repo` at once, at most `parallel` in flight over the
 * client's one curl multi handle: the token (when the registry wants one)
 * is fetched first, by one request, then the GETs run in parallel, each
 * streaming into its sink as bytes arrive (no buffering here).  A GET that
 * drops mid-body is resumed with Range, one that meets an expired token is
 * re-authorised; both then finish one at a time.  Each blob's outcome is in
 * fs[i].rc/err (a size or digest mismatch is ERR_DIGEST: its sink has seen
 * bytes the caller must discard).  Returns 0 when all succeeded, else the
 * first failure (also copied to `e`). */
int reg_blob_get_many(struct reg *r, const char *repo, struct reg_blob_fetch *fs, size_t n,
		  int parallel, unsigned flags, struct err *e);
/* 0 and the size (when the registry sends it, else -1) when the blob exists;
 * ERR_NOT_FOUND when it does not. `out_size` may be NULL. */
int reg_blob_head(int64_t *out_size, struct reg *r, const char *repo,
		  const struct digest *digest, struct err *e);
/* Makes blob `d` exist in `repo`: nothing when it is already there (HEAD);
 * a cross-repository mount from `mount_from` (a repository on the same
 * registry, or NULL) when the registry allows it (tried first, without the
 * HEAD: when the registry answers it with an upload session instead, the
 * HEAD follows and the session is cancelled if the blob is there, so an
 * existing blob costs one request or three); else an upload of d->size
 * bytes read from `fd` (with pread, from offset 0) when fd >= 0, otherwise
 * from `data`.  Small blobs go in one PUT, larger ones by PATCH (in chunks
 * with Content-Range when opts.upload_chunk or the registry's
 * OCI-Chunk-Min-Length asks), then PUT ?digest=.  The whole upload is
 * retried on a network failure or a retryable status.  With fd < 0, data
 * NULL and `mount_from` set, only the mount is tried: ERR_NOT_FOUND when
 * the registry would not mount (the upload it started is cancelled). */
int reg_blob_upload(struct reg *r, const char *repo, const struct descriptor *d, int fd,
		    const void *data, const char *mount_from, struct err *e);

/* What reg_blob_send() did. */
enum reg_blob_how {
	REG_BLOB_EXISTED = 0,	/* the HEAD found it: nothing sent */
	REG_BLOB_MOUNTED,	/* the registry mounted it from `mount_from` */
	REG_BLOB_UPLOADED,
};

/* reg_blob_upload() of a file (fd, or -1 with `mount_from` for a mount
 * only), telling in *out which of HEAD, mount and upload got it there: one
 * call where a caller would otherwise HEAD first and then upload (which
 * HEADs again). */
int reg_blob_send(enum reg_blob_how *out, struct reg *r, const char *repo,
		  const struct descriptor *d, int fd, const char *mount_from, struct err *e);

/* Uploads blob `d` (d->size bytes) to `repo` from a stream: `read` is
 * called for the next bytes and returns how many it wrote to `dst`
 * (1..len), or < 0 to abort the upload (the registry then never sees the
 * final PUT, so no blob appears).  No HEAD and no mount first (the caller
 * decided); POST, then PATCH (or one PUT below REG_MONOLITHIC_MAX, or
 * chunks when the registry asks), then PUT ?digest=.  A stream cannot be
 * replayed, so there is exactly one attempt: when the failure may go away
 * (e->code ERR_NETWORK, or e->http_status 408, 429 or >= 500) the caller
 * may start over with a fresh stream. */
int reg_blob_upload_stream(struct reg *r, const char *repo, const struct descriptor *d,
			   ssize_t (*read)(void *arg, char *dst, size_t len), void *arg,
			   struct err *e);

/* ---- listings ---- */

/* The tags of `repo`, all pages (n= opts.page_size, Link headers), in the
 * order the registry sent them; `out` (initialised) is appended to. */
int reg_list_tags(struct strvec *out, struct reg *r, const char *repo, struct err *e);
/* The repositories of the registry, all pages. */
int reg_list_catalog(struct strvec *out, struct reg *r, struct err *e);

/* The referrers of `subject` in `repo` as an OCI index (`out_index` need
 * not be initialised): the referrers API, or the "sha256-<hex>" tag when
 * the registry does not implement it (404); an empty index when neither
 * has any. */
int reg_list_referrers(struct manifest *out_index, struct reg *r, const char *repo,
		  const struct digest *subject, struct err *e);

#endif

/* client.h - the distribution API client (OCI distribution v1.1 and the
 * Docker registry v2 dialect) over registry/http.h.
 *
 * A `struct reg` is one session with one registry: it decides the scheme
 * once (a ping of /v2/), learns how the registry wants to be authenticated,
 * and caches bearer tokens per scope for its lifetime.  Everything it
 * receives is capped and verified: manifests by size and (when fetched by
 * digest, or when the registry names one) by digest, blobs by size and
 * digest as the bytes arrive.
 *
 * Scheme: https.  Plain http is used only when `insecure` is set or the
 * registry is a loopback address (localhost, 127.0.0.0/8, [::1]), and then
 * only after https failed to connect, as docker does.
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

#include "core/buf.h"
#include "core/digest.h"
#include "core/manifest.h"
#include "registry/creds.h"
#include "registry/http.h"

#include <stddef.h>
#include <stdint.h>

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
	reg_creds_fn *creds;		/* credential lookup, or NULL (anonymous) */
	void *creds_arg;
	int insecure;			/* allow http anywhere (the http_client
					 * should skip TLS verification too) */
	size_t manifest_max;		/* 0: MANIFEST_MAX_DEFAULT */
	int page_size;			/* "n=" for tags and catalog; 0: not sent */
	/* PATCH chunk size for uploads; 0: one PATCH with the whole blob
	 * (raised to the registry's OCI-Chunk-Min-Length when it asks). */
	size_t upload_chunk;
};

struct reg;

/* Opens a session with `registry` ("docker.io", "localhost:5000", as in
 * struct ref; docker.io is reached at registry-1.docker.io).  No request
 * is made yet.  `o` is copied; o->http must outlive the session. */
int reg_open(struct reg **out, const struct reg_client_opts *o, const char *registry,
	     struct err *e);
/* NULL is a no-op.  Zeroes the cached tokens and credentials. */
void reg_free(struct reg *r);
/* The registry name given to reg_open(). */
const char *reg_name(const struct reg *r);

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
/* 0 and the size (when the registry sends it, else -1) when the blob exists;
 * ERR_NOT_FOUND when it does not. `out_size` may be NULL. */
int reg_blob_head(int64_t *out_size, struct reg *r, const char *repo,
		  const struct digest *digest, struct err *e);
/* Makes blob `d` exist in `repo`: nothing when it is already there (HEAD);
 * a cross-repository mount from `mount_from` (a repository on the same
 * registry, or NULL) when the registry allows it; else an upload of d->size
 * bytes read from `fd` (with pread, from offset 0) when fd >= 0, otherwise
 * from `data`.  Small blobs go in one PUT, larger ones by PATCH (in chunks
 * with Content-Range when opts.upload_chunk or the registry's
 * OCI-Chunk-Min-Length asks), then PUT ?digest=.  The whole upload is
 * retried on a network failure or a retryable status.  With fd < 0, data
 * NULL and `mount_from` set, only the mount is tried: ERR_NOT_FOUND when
 * the registry would not mount (the upload it started is cancelled). */
int reg_blob_upload(struct reg *r, const char *repo, const struct descriptor *d, int fd,
		    const void *data, const char *mount_from, struct err *e);

/* ---- listings ---- */

/* The tags of `repo`, all pages (n= opts.page_size, Link headers), in the
 * order the registry sent them; `out` (initialised) is appended to. */
int reg_tags_list(struct strvec *out, struct reg *r, const char *repo, struct err *e);
/* The repositories of the registry, all pages. */
int reg_catalog(struct strvec *out, struct reg *r, struct err *e);

/* The referrers of `subject` in `repo` as an OCI index (`out_index` need
 * not be initialised): the referrers API, or the "sha256-<hex>" tag when
 * the registry does not implement it (404); an empty index when neither
 * has any. */
int reg_referrers(struct manifest *out_index, struct reg *r, const char *repo,
		  const struct digest *subject, struct err *e);

#endif

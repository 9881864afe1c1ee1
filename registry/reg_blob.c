/* reg_blob.c - blobs on a registry: fetches, HEAD, uploads.  See reg_blob.h. */
#include "registry/reg_blob.h"

#include "core/base/buf.h"
#include "core/base/strvec.h"
#include "registry/reg.h"
#include "registry/reg_req.h"
#include "registry/wire.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#define MAX_BLOB_RESUMES 5
#define MAX_UPLOAD_ATTEMPTS 3

struct blob_sink {
	http_sink_fn sink;
	void *arg;
	struct digest_ctx ctx;
	int hashing;		/* 0: the sink verifies the digest (REG_BLOBS_SINK_VERIFIES) */
	int64_t want;		/* -1: unknown */
	int64_t got;
	int64_t range_from;	/* the Range start of the current attempt */
	int64_t skip;		/* bytes still to drop: the server ignored our Range */
	int first;		/* the next byte is the first of this attempt */
	const struct http_response *resp;
	const char *what;
};

static int blob_sink_cb(void *arg, const char *data, size_t len, struct err *e)
{
	struct blob_sink *bs = arg;
	int rc;

	if (bs->first) {
		bs->first = 0;
		/* a 200 with the whole blob instead of a 206 after a resume:
		 * drop what we already have */
		if (bs->range_from && bs->resp &&
		    !http_response_header(bs->resp, "content-range"))
			bs->skip = bs->range_from;
	}
	if (bs->skip) {
		size_t k = bs->skip < (int64_t)len ? (size_t)bs->skip : len;
		bs->skip -= (int64_t)k;
		data += k;
		len -= k;
		if (!len)
			return 0;
	}
	if (bs->want >= 0 && (int64_t)len > bs->want - bs->got)
		return err_set(e, ERR_DIGEST, "the registry sent more than the %" PRId64
			       " bytes the descriptor announces", bs->want);	/* callers prefix bs->what */
	if (bs->hashing && (rc = digest_ctx_update(&bs->ctx, data, len, e)) < 0)
		return rc;
	bs->got += (int64_t)len;
	return bs->sink(bs->arg, data, len, e);
}

/* Size and (unless the sink verifies) digest, once the body is complete. */
static int blob_sink_check(struct blob_sink *bs, const struct digest *want, struct err *e)
{
	struct digest got;

	if (bs->want >= 0 && bs->got != bs->want)
		return err_set(e, ERR_DIGEST, "%s: got %" PRId64 " bytes, the descriptor "
			       "announces %" PRId64, bs->what, bs->got, bs->want);
	if (!bs->hashing)
		return 0;
	digest_ctx_final(&bs->ctx, &got);
	bs->hashing = 0;
	digest_ctx_release(&bs->ctx);
	if (!digest_equal(&got, want))
		return err_set(e, ERR_DIGEST, "%s: the content does not match its digest: got %s",
			       bs->what, got.str);
	return 0;
}

/* Fetches what is left of a blob, one request at a time (answering auth
 * challenges), resuming with Range after dropped connections. */
static int blob_get_rest(struct reg *r, const char *url, const char *scope, struct blob_sink *bs,
			 int resumes, struct err *e)
{
	struct http_request req;
	struct http_response resp;
	int ret;

	http_request_init(&req, "GET", NULL);
	http_response_init(&resp);
	for (;;) {
		int64_t before = bs->got;

		http_request_release(&req);
		http_request_init(&req, "GET", url);
		req.sink = blob_sink_cb;
		req.sink_arg = bs;
		bs->range_from = bs->got;
		bs->first = 1;
		bs->skip = 0;
		bs->resp = &resp;
		if (bs->got && http_request_header(&req, "Range: bytes=%" PRId64 "-", bs->got) < 0) {
			ret = reg_req_nomem(e);
			goto out;
		}
		ret = reg_send(r, &req, &resp, scope, e);
		if (ret == ERR_NETWORK && bs->got > before && resumes < MAX_BLOB_RESUMES &&
		    (bs->want < 0 || bs->got < bs->want)) {
			resumes++;
			err_clear(e);
			continue;
		}
		if (ret < 0) {
			err_prefix(e, "%s", bs->what);
			goto out;
		}
		if (resp.status >= 200 && resp.status < 300)
			break;
		ret = reg_status_error(e, r, &resp, bs->what);
		goto out;
	}
	ret = 0;
out:
	bs->resp = NULL;
	http_request_release(&req);
	http_response_release(&resp);
	return ret;
}

static int blob_names(struct buf *url, struct buf *what, struct reg *r, const char *repo,
		      const struct digest *d)
{
	buf_addf(url, "%s/v2/%s/blobs/%s", reg_base(r), repo, d->str);
	buf_addf(what, "GET blob %s/%s@%s", reg_name(r), repo, d->str);
	return buf_failed(url) || buf_failed(what) ? ERR_NOMEM : 0;
}

static int blob_get_one(struct reg *r, const char *repo, const struct descriptor *d,
			http_sink_fn sink, void *arg, struct err *e)
{
	struct buf url = BUF_INIT, what = BUF_INIT, scope = BUF_INIT;
	struct blob_sink bs;
	int ret = -1;

	memset(&bs, 0, sizeof(bs));
	if ((ret = reg_req_check_repo(repo, e)) < 0 || (ret = reg_ping(r, REG_NEED_ANSWER, e)) < 0)
		goto out;
	if (blob_names(&url, &what, r, repo, &d->digest) < 0 ||
	    reg_req_scope(&scope, repo, "pull") < 0) {
		ret = reg_req_nomem(e);
		goto out;
	}
	if ((ret = digest_ctx_init(&bs.ctx, d->digest.alg, e)) < 0)
		goto out;
	bs.hashing = 1;
	bs.sink = sink;
	bs.arg = arg;
	bs.want = d->size;
	bs.what = what.data;
	if ((ret = blob_get_rest(r, url.data, scope.data, &bs, 0, e)) < 0)
		goto out;
	ret = blob_sink_check(&bs, &d->digest, e);
out:
	if (bs.hashing)
		digest_ctx_release(&bs.ctx);
	buf_release(&url);
	buf_release(&what);
	buf_release(&scope);
	return ret;
}

/* One blob of reg_blob_get_many() in flight. */
struct blob_job {
	struct http_request req;
	struct http_response resp;
	struct buf url;
	struct buf what;
	struct blob_sink bs;
	int ready;		/* req and resp initialised */
};

/* The n jobs of a batch and the arrays http_do_many() takes. */
struct blob_batch {
	size_t n;
	struct blob_job *jobs;
	struct http_request **reqs;
	struct http_response **resps;
	struct err *errs;
	int *rcs;
};

static int blob_batch_alloc(struct blob_batch *b, size_t n)
{
	memset(b, 0, sizeof(*b));
	b->n = n;
	b->jobs = calloc(n, sizeof(*b->jobs));
	b->reqs = calloc(n, sizeof(*b->reqs));
	b->resps = calloc(n, sizeof(*b->resps));
	b->errs = calloc(n, sizeof(*b->errs));
	b->rcs = calloc(n, sizeof(*b->rcs));
	return b->jobs && b->reqs && b->resps && b->errs && b->rcs ? 0 : ERR_NOMEM;
}

static void blob_batch_release(struct blob_batch *b)
{
	size_t i;

	for (i = 0; b->jobs && i < b->n; i++) {
		struct blob_job *j = &b->jobs[i];
		if (!j->ready)
			continue;
		if (j->bs.hashing)
			digest_ctx_release(&j->bs.ctx);
		http_request_release(&j->req);
		http_response_release(&j->resp);
		buf_release(&j->url);
		buf_release(&j->what);
	}
	free(b->jobs);
	free(b->reqs);
	free(b->resps);
	free(b->errs);
	free(b->rcs);
}

/* Sets up job i of the batch for `f`: its GET, carrying `av` (the
 * Authorization value, "" for none), and its sink. */
static int blob_job_init(struct blob_batch *b, size_t i, struct reg *r, const char *repo,
			 const struct reg_blob_fetch *f, const struct buf *av, unsigned flags,
			 struct err *e)
{
	struct blob_job *j = &b->jobs[i];

	buf_init(&j->url, 0);
	buf_init(&j->what, 0);
	http_request_init(&j->req, "GET", NULL);
	http_response_init(&j->resp);
	j->ready = 1;
	if (blob_names(&j->url, &j->what, r, repo, &f->d->digest) < 0)
		return reg_req_nomem(e);
	j->req.url = j->url.data;
	j->req.sink = blob_sink_cb;
	j->req.sink_arg = &j->bs;
	if ((av->len && http_request_header(&j->req, "Authorization: %s", av->data) < 0) ||
	    strvec_push(&j->req.secret_headers, "authorization") < 0)
		return reg_req_nomem(e);
	j->bs.sink = f->sink;
	j->bs.arg = f->arg;
	j->bs.want = f->d->size;
	j->bs.what = j->what.data;
	j->bs.first = 1;
	j->bs.resp = &j->resp;
	if (!(flags & REG_BLOBS_SINK_VERIFIES)) {
		int rc = digest_ctx_init(&j->bs.ctx, f->d->digest.alg, e);
		if (rc < 0)
			return rc;
		j->bs.hashing = 1;
	}
	b->reqs[i] = &j->req;
	b->resps[i] = &j->resp;
	return 0;
}

/* The outcome of job i once http_do_many() is done: an expired token or a
 * dropped connection is finished serially, then size and digest checked.
 * Fills f->err and f->done; returns the blob's code. */
static int blob_job_finish(struct blob_batch *b, size_t i, struct reg *r, const char *scope,
			   struct reg_blob_fetch *f)
{
	struct blob_job *j = &b->jobs[i];
	int rc = b->rcs[i];

	f->err = b->errs[i];
	if (rc == 0 && j->resp.status >= 200 && j->resp.status < 300) {
		rc = 0;
	} else if ((rc == 0 && j->resp.status == 401) ||
		   (rc == ERR_NETWORK && j->bs.got > 0 &&
		    (j->bs.want < 0 || j->bs.got < j->bs.want))) {
		/* an expired token, or a dropped connection: go on serially */
		err_clear(&f->err);
		rc = blob_get_rest(r, j->url.data, scope, &j->bs, rc == ERR_NETWORK, &f->err);
	} else if (rc < 0) {
		err_prefix(&f->err, "%s", j->what.data);
	} else {
		rc = reg_status_error(&f->err, r, &j->resp, j->what.data);
	}
	if (rc == 0)
		rc = blob_sink_check(&j->bs, &f->d->digest, &f->err);
	f->done = j->bs.got;
	return rc;
}

/* reg_blob_get_many() on one endpoint. */
static int blobs_get_one(struct reg *r, const char *repo, struct reg_blob_fetch *fs, size_t n,
			 int parallel, unsigned flags, struct err *e)
{
	struct buf scope = BUF_INIT, av = BUF_INIT;
	struct blob_batch b;
	size_t i;
	int ret = -1, first = 0;

	memset(&b, 0, sizeof(b));
	for (i = 0; i < n; i++) {
		fs[i].rc = ERR_FAIL;
		err_clear(&fs[i].err);
		fs[i].done = 0;
	}
	if (!n)
		return 0;
	if ((ret = reg_req_check_repo(repo, e)) < 0 || (ret = reg_ping(r, REG_NEED_ANSWER, e)) < 0)
		goto out;
	if (reg_req_scope(&scope, repo, "pull") < 0 || blob_batch_alloc(&b, n) < 0) {
		ret = reg_req_nomem(e);
		goto out;
	}
	/* One serial request for the token (when the registry wants one);
	 * then every GET carries it.  A GET answered 401 (expired token) is
	 * finished serially below, answering the challenge. */
	if ((ret = reg_authorization(&av, r, scope.data, e)) < 0)
		goto out;
	for (i = 0; i < n; i++)
		if ((ret = blob_job_init(&b, i, r, repo, &fs[i], &av, flags, e)) < 0)
			goto out;
	http_do_many(reg_opts(r)->http, b.reqs, b.resps, b.rcs, b.errs, n, parallel);
	for (i = 0; i < n; i++) {
		fs[i].rc = blob_job_finish(&b, i, r, scope.data, &fs[i]);
		if (fs[i].rc < 0 && !first) {
			first = fs[i].rc;
			if (e)
				*e = fs[i].err;
		}
	}
	ret = first;
out:
	if (av.len)
		memset(av.data, 0, av.len);
	buf_release(&av);
	blob_batch_release(&b);
	if (ret < 0 && first == 0)
		for (i = 0; i < n; i++)
			if (fs[i].rc == ERR_FAIL && e) {
				fs[i].rc = ret;
				fs[i].err = *e;
			}
	buf_release(&scope);
	return ret;
}

static int blob_head_scoped(int64_t *out_size, struct reg *r, const char *repo,
			    const struct digest *digest, const char *scope, struct err *e)
{
	struct http_request req;
	struct http_response resp;
	struct buf url = BUF_INIT, what = BUF_INIT;
	int64_t size = -1;
	int ret = -1;

	http_request_init(&req, "HEAD", NULL);
	http_response_init(&resp);
	buf_addf(&url, "%s/v2/%s/blobs/%s", reg_base(r), repo, digest->str);
	buf_addf(&what, "HEAD blob %s/%s@%s", reg_name(r), repo, digest->str);
	if (buf_failed(&url) || buf_failed(&what)) {
		ret = reg_req_nomem(e);
		goto out;
	}
	req.url = url.data;
	if ((ret = reg_send(r, &req, &resp, scope, e)) < 0) {
		err_prefix(e, "%s", what.data);
		goto out;
	}
	if (resp.status != 200) {
		ret = reg_status_error(e, r, &resp, what.data);
		goto out;
	}
	if (reg_req_parse_size(&size, http_response_header(&resp, "content-length")) < 0)
		size = -1;
	if (out_size)
		*out_size = size;
	ret = 0;
out:
	http_request_release(&req);
	http_response_release(&resp);
	buf_release(&url);
	buf_release(&what);
	return ret;
}

int reg_blob_head(int64_t *out_size, struct reg *r, const char *repo,
		  const struct digest *digest, struct err *e)
{
	struct buf scope = BUF_INIT;
	int ret;

	if ((ret = reg_req_check_repo(repo, e)) < 0 || (ret = reg_ping(r, REG_NEED_SCHEME, e)) < 0)
		return ret;
	if (reg_req_scope(&scope, repo, "pull") < 0)
		return reg_req_nomem(e);
	ret = blob_head_scoped(out_size, r, repo, digest, scope.data, e);
	buf_release(&scope);
	return ret;
}

struct upload {
	struct reg *r;
	const char *repo;
	const struct descriptor *d;
	int fd;
	const void *data;
	ssize_t (*read)(void *arg, char *dst, size_t len);	/* a stream, or NULL */
	void *read_arg;
	const char *scope;
	const char *what;
	int retryable;		/* the last failure may go away on another try */
	int mounted;		/* the registry answered the mount with 201 */
	int existed;		/* a refused mount found the blob there already */
};

static int upload_fail(struct upload *u, const struct http_response *resp, struct err *e)
{
	u->retryable = resp->status == 408 || resp->status == 429 || resp->status >= 500;
	return reg_status_error(e, u->r, resp, u->what);
}

static int upload_location(char **out, struct upload *u, const struct http_response *resp,
			   const char *base, struct err *e)
{
	const char *loc = http_response_header(resp, "location");

	*out = NULL;
	if (!loc || !*loc)
		return err_set(e, ERR_REGISTRY, "%s: the registry sent no upload location "
			       "(HTTP %ld)", u->what, resp->status);
	if (wire_resolve_url(out, resp->url ? resp->url : base, loc, e) < 0)
		return err_prefix(e, "%s: unusable upload location", u->what);
	return 0;
}

static void upload_body(struct http_request *req, const struct upload *u, int64_t off,
			int64_t n)
{
	if (u->read) {
		req->body_read = u->read;
		req->body_read_arg = u->read_arg;
	} else if (u->fd >= 0) {
		req->body_fd = u->fd;
		req->body_offset = (off_t)off;
	} else {
		req->body = (const char *)u->data + off;
	}
	req->body_len = n;
}

/* Cancels the upload session at `loc` (a DELETE whose outcome does not
 * matter). */
static void upload_cancel(struct upload *u, const char *loc)
{
	struct http_request req;
	struct http_response resp;

	http_request_init(&req, "DELETE", loc);
	http_response_init(&resp);
	reg_send(u->r, &req, &resp, u->scope, NULL);
	http_request_release(&req);
	http_response_release(&resp);
}

/* The POST that opens an upload session, or mounts the blob from
 * `mount_from`: 1 when it was mounted, 0 with the session's location in
 * *loc (the caller's) and the registry's OCI-Chunk-Min-Length (else 0) in
 * *chunk_min, or the error. */
static int upload_start(char **loc, int64_t *chunk_min, struct upload *u,
			const char *mount_from, struct err *e)
{
	struct http_request req;
	struct http_response resp;
	struct buf url = BUF_INIT;
	const char *v;
	int ret = -1, rc;

	*chunk_min = 0;
	http_request_init(&req, "POST", NULL);
	http_response_init(&resp);
	buf_addf(&url, "%s/v2/%s/blobs/uploads/", reg_base(u->r), u->repo);
	if (mount_from) {
		buf_addstr(&url, "?mount=");
		reg_req_url_escape(&url, u->d->digest.str);
		buf_addstr(&url, "&from=");
		reg_req_url_escape(&url, mount_from);
	}
	if (buf_failed(&url)) {
		ret = reg_req_nomem(e);
		goto out;
	}
	req.url = url.data;
	if ((rc = reg_send(u->r, &req, &resp, u->scope, e)) < 0) {
		u->retryable = rc == ERR_NETWORK;
		ret = err_prefix(e, "%s", u->what);
		goto out;
	}
	if (mount_from && resp.status == 201) {
		u->mounted = 1;
		ret = 1;
		goto out;
	}
	if (resp.status != 202) {
		ret = upload_fail(u, &resp, e);
		goto out;
	}
	if ((v = http_response_header(&resp, "oci-chunk-min-length")) &&
	    (reg_req_parse_size(chunk_min, v) < 0 || *chunk_min > ((int64_t)1 << 40)))
		*chunk_min = 0;
	ret = upload_location(loc, u, &resp, url.data, e);
out:
	http_request_release(&req);
	http_response_release(&resp);
	buf_release(&url);
	return ret;
}

/* The body by PATCH, in chunks of opts.upload_chunk raised to `chunk_min`
 * (the whole blob when neither is set), each to the location the previous
 * answer gave: *loc is replaced as they come. */
static int upload_patches(char **loc, struct upload *u, int64_t chunk_min, struct err *e)
{
	struct http_request req;
	struct http_response resp;
	size_t opt_chunk = reg_opts(u->r)->upload_chunk;
	int64_t size = u->d->size, chunk, off;
	int ret = 0, rc;

	chunk = opt_chunk ? (int64_t)opt_chunk : size;
	if (chunk < chunk_min)
		chunk = chunk_min;
	if (chunk < 1)
		chunk = 1;
	http_request_init(&req, "PATCH", NULL);
	http_response_init(&resp);
	for (off = 0; off < size;) {
		int64_t n = size - off < chunk ? size - off : chunk;
		char *next = NULL;

		http_request_release(&req);
		http_request_init(&req, "PATCH", *loc);
		http_response_release(&resp);
		http_response_init(&resp);
		req.no_retry = 1;
		upload_body(&req, u, off, n);
		if (http_request_header(&req, "Content-Type: application/octet-stream") < 0 ||
		    http_request_header(&req, "Content-Range: %" PRId64 "-%" PRId64, off,
					off + n - 1) < 0) {
			ret = reg_req_nomem(e);
			break;
		}
		if ((rc = reg_send(u->r, &req, &resp, u->scope, e)) < 0) {
			u->retryable = rc == ERR_NETWORK;
			ret = err_prefix(e, "%s", u->what);
			break;
		}
		if (resp.status != 202 && resp.status != 204) {
			ret = upload_fail(u, &resp, e);
			break;
		}
		if ((ret = upload_location(&next, u, &resp, *loc, e)) < 0)
			break;
		free(*loc);
		*loc = next;
		off += n;
	}
	http_request_release(&req);
	http_response_release(&resp);
	return ret;
}

/* The PUT ?digest= that closes the session at `loc`, with the whole body
 * when `with_body` (a monolithic upload); checks the digest the registry
 * says it stored. */
static int upload_put(struct upload *u, const char *loc, int with_body, struct err *e)
{
	struct http_request req;
	struct http_response resp;
	struct buf url = BUF_INIT;
	const char *dcd;
	struct digest got;
	int ret = -1, rc;

	http_request_init(&req, "PUT", NULL);
	http_response_init(&resp);
	buf_addstr(&url, loc);
	buf_addstr(&url, strchr(loc, '?') ? "&digest=" : "?digest=");
	reg_req_url_escape(&url, u->d->digest.str);
	if (buf_failed(&url)) {
		ret = reg_req_nomem(e);
		goto out;
	}
	req.url = url.data;
	req.no_retry = 1;
	if (with_body) {
		upload_body(&req, u, 0, u->d->size);
		if (http_request_header(&req, "Content-Type: application/octet-stream") < 0) {
			ret = reg_req_nomem(e);
			goto out;
		}
	} else if (u->d->size == 0) {
		upload_body(&req, u, 0, 0);
	}
	if ((rc = reg_send(u->r, &req, &resp, u->scope, e)) < 0) {
		u->retryable = rc == ERR_NETWORK;
		ret = err_prefix(e, "%s", u->what);
		goto out;
	}
	if (resp.status < 200 || resp.status >= 300) {
		ret = upload_fail(u, &resp, e);
		goto out;
	}
	dcd = http_response_header(&resp, "docker-content-digest");
	if (dcd && *dcd && digest_parse(&got, dcd, NULL) == 0 && got.alg == u->d->digest.alg &&
	    !digest_equal(&got, &u->d->digest)) {
		ret = err_set(e, ERR_DIGEST, "%s: the registry stored it as %s", u->what, got.str);
		goto out;
	}
	ret = 0;
out:
	http_request_release(&req);
	http_response_release(&resp);
	buf_release(&url);
	return ret;
}

/* One attempt: POST (or mount), PATCHes unless monolithic, PUT. */
static int upload_once(struct upload *u, const char *mount_from, struct err *e)
{
	char *loc = NULL;
	int64_t size = u->d->size, chunk_min = 0;
	int ret, whole;

	u->retryable = 0;
	if ((ret = upload_start(&loc, &chunk_min, u, mount_from, e)) != 0) {
		ret = ret > 0 ? 0 : ret;	/* mounted */
		goto out;
	}
	if (mount_from && blob_head_scoped(NULL, u->r, u->repo, &u->d->digest, u->scope,
					   NULL) == 0) {
		/* no mount (202), but the blob is there already: the HEAD the
		 * mount replaced, asked only now; the session is not needed */
		upload_cancel(u, loc);
		u->existed = 1;
		goto out;
	}
	if (u->fd < 0 && !u->data && !u->read && size > 0) {
		/* a mount was all the caller could offer: cancel the upload */
		upload_cancel(u, loc);
		ret = err_set(e, ERR_NOT_FOUND, "%s: the registry did not mount it from '%s', and "
			      "no content was given to upload", u->what, mount_from ? mount_from : "");
		goto out;
	}
	/* small enough for the PUT alone, unless chunks were asked for */
	whole = size < (int64_t)REG_MONOLITHIC_MAX && !reg_opts(u->r)->upload_chunk && !chunk_min;
	if (!whole && (ret = upload_patches(&loc, u, chunk_min, e)) < 0)
		goto out;
	ret = upload_put(u, loc, whole && size > 0, e);
out:
	free(loc);
	return ret;
}

static int blob_upload(enum reg_blob_how *out_how, struct reg *r, const char *repo,
		       const struct descriptor *d, int fd, const void *data,
		       const char *mount_from, struct err *e)
{
	struct buf scope = BUF_INIT, what = BUF_INIT;
	struct upload u;
	int ret = -1, attempt;

	if ((ret = reg_req_check_repo(repo, e)) < 0)
		goto out;
	if (mount_from && (reg_req_check_repo(mount_from, NULL) < 0 || !strcmp(mount_from, repo)))
		mount_from = NULL;
	if (d->size < 0 || (fd < 0 && !data && d->size > 0 && !mount_from)) {
		ret = err_set(e, ERR_USAGE, "cannot upload blob %s: no content given", d->digest.str);
		goto out;
	}
	if ((ret = reg_ping(r, REG_NEED_ANSWER, e)) < 0)
		goto out;
	reg_req_scope(&scope, repo, "pull,push");
	if (mount_from) {
		buf_addch(&scope, ' ');
		reg_req_scope(&scope, mount_from, "pull");
	}
	buf_addf(&what, "upload blob %s/%s@%s", reg_name(r), repo, d->digest.str);
	if (buf_failed(&scope) || buf_failed(&what)) {
		ret = reg_req_nomem(e);
		goto out;
	}
	if (out_how)
		*out_how = REG_BLOB_EXISTED;
	if (!mount_from) {
		/* with a mount to try, the mount comes first: it is one request
		 * when it works (distribution answers 201 whether or not `repo`
		 * had the blob), and a 202 is followed by the HEAD (upload_once) */
		ret = blob_head_scoped(NULL, r, repo, &d->digest, scope.data, e);
		if (ret == 0)
			goto out;
		if (ret != ERR_NOT_FOUND)
			goto out;
		err_clear(e);
	}
	memset(&u, 0, sizeof(u));
	u.r = r;
	u.repo = repo;
	u.d = d;
	u.fd = fd;
	u.data = data;
	u.scope = scope.data;
	u.what = what.data;
	for (attempt = 0; attempt < MAX_UPLOAD_ATTEMPTS; attempt++) {
		ret = upload_once(&u, attempt == 0 ? mount_from : NULL, e);
		if (ret == 0 || !u.retryable)
			break;
	}
	if (ret < 0 && mount_from && e->http_status >= 400 && e->http_status < 500 &&
	    blob_head_scoped(NULL, r, repo, &d->digest, scope.data, NULL) == 0) {
		/* a registry that refuses mounts outright, for a blob that
		 * `repo` has: what the HEAD first would have found */
		err_clear(e);
		u.existed = 1;
		ret = 0;
	}
	if (ret == 0 && out_how)
		*out_how = u.existed ? REG_BLOB_EXISTED :
			   u.mounted ? REG_BLOB_MOUNTED : REG_BLOB_UPLOADED;
out:
	buf_release(&scope);
	buf_release(&what);
	return ret;
}

int reg_blob_upload(struct reg *r, const char *repo, const struct descriptor *d, int fd,
		    const void *data, const char *mount_from, struct err *e)
{
	return blob_upload(NULL, r, repo, d, fd, data, mount_from, e);
}

int reg_blob_send(enum reg_blob_how *out, struct reg *r, const char *repo,
		  const struct descriptor *d, int fd, const char *mount_from, struct err *e)
{
	*out = REG_BLOB_EXISTED;
	return blob_upload(out, r, repo, d, fd, NULL, mount_from, e);
}

int reg_blob_upload_stream(struct reg *r, const char *repo, const struct descriptor *d,
			   ssize_t (*read)(void *arg, char *dst, size_t len), void *arg,
			   struct err *e)
{
	struct buf scope = BUF_INIT, what = BUF_INIT;
	struct upload u;
	int ret = -1;

	if ((ret = reg_req_check_repo(repo, e)) < 0)
		goto out;
	if (d->size < 0 || !read) {
		ret = err_set(e, ERR_USAGE, "cannot upload blob %s: no content given", d->digest.str);
		goto out;
	}
	if ((ret = reg_ping(r, REG_NEED_ANSWER, e)) < 0)
		goto out;
	reg_req_scope(&scope, repo, "pull,push");
	buf_addf(&what, "upload blob %s/%s@%s", reg_name(r), repo, d->digest.str);
	if (buf_failed(&scope) || buf_failed(&what)) {
		ret = reg_req_nomem(e);
		goto out;
	}
	memset(&u, 0, sizeof(u));
	u.r = r;
	u.repo = repo;
	u.d = d;
	u.fd = -1;
	u.read = read;
	u.read_arg = arg;
	u.scope = scope.data;
	u.what = what.data;
	ret = upload_once(&u, NULL, e);
out:
	buf_release(&scope);
	buf_release(&what);
	return ret;
}
/* Counts what reaches the caller's sink, so that a mirror that failed
 * before sending anything can be replaced by the next endpoint. */
struct counting_sink {
	http_sink_fn sink;
	void *arg;
	int64_t n;
};

static int counting_sink_cb(void *arg, const char *data, size_t len, struct err *e)
{
	struct counting_sink *c = arg;

	c->n += (int64_t)len;
	return c->sink(c->arg, data, len, e);
}

int reg_blob_get(struct reg *r, const char *repo, const struct descriptor *d,
		 http_sink_fn sink, void *arg, struct err *e)
{
	struct buf mrepo = BUF_INIT;
	struct counting_sink cs = { sink, arg, 0 };
	struct err e2 = ERR_INIT;
	size_t i;
	int rc;

	for (i = 0; i < reg_mirror_count(r); i++) {
		if (reg_mirror_repo(&mrepo, r, i, repo) < 0) {
			rc = reg_req_nomem(e);
			goto out;
		}
		err_clear(&e2);
		cs.n = 0;
		rc = blob_get_one(reg_mirror_at(r, i), mrepo.data, d, counting_sink_cb, &cs, &e2);
		if (rc == 0) {
			reg_mirror_log(r, i, repo, "blob", NULL);
			goto out;
		}
		if (cs.n || !reg_mirror_fallback(rc)) {
			/* the sink has seen bytes: the caller must start over */
			if (e)
				*e = e2;
			goto out;
		}
		reg_mirror_log(r, i, repo, "blob", &e2);
	}
	rc = blob_get_one(r, repo, d, sink, arg, e);
out:
	buf_release(&mrepo);
	return rc;
}

int reg_blob_get_many(struct reg *r, const char *repo, struct reg_blob_fetch *fs, size_t n,
		  int parallel, unsigned flags, struct err *e)
{
	struct buf mrepo = BUF_INIT;
	struct reg_blob_fetch *sub = NULL;
	size_t *idx = NULL, n_pending = n, i, k, m;
	struct err e2 = ERR_INIT;
	int rc = 0;

	if (!reg_mirror_count(r))
		return blobs_get_one(r, repo, fs, n, parallel, flags, e);
	sub = calloc(n ? n : 1, sizeof(*sub));
	idx = calloc(n ? n : 1, sizeof(*idx));
	if (!sub || !idx) {
		rc = reg_req_nomem(e);
		goto out;
	}
	for (i = 0; i < n; i++) {
		idx[i] = i;
		fs[i].rc = ERR_FAIL;
		err_clear(&fs[i].err);
		fs[i].done = 0;
	}
	for (m = 0; m <= reg_mirror_count(r) && n_pending; m++) {
		int last = m == reg_mirror_count(r);
		size_t left = 0, served = 0;
		for (k = 0; k < n_pending; k++) {
			memset(&sub[k], 0, sizeof(sub[k]));
			sub[k].d = fs[idx[k]].d;
			sub[k].sink = fs[idx[k]].sink;
			sub[k].arg = fs[idx[k]].arg;
		}
		err_clear(&e2);
		if (last) {
			blobs_get_one(r, repo, sub, n_pending, parallel, flags, &e2);
		} else {
			if (reg_mirror_repo(&mrepo, r, m, repo) < 0) {
				rc = reg_req_nomem(e);
				goto out;
			}
			blobs_get_one(reg_mirror_at(r, m), mrepo.data, sub, n_pending, parallel,
				      flags, &e2);
		}
		for (k = 0; k < n_pending; k++) {
			struct reg_blob_fetch *f = &fs[idx[k]];
			f->rc = sub[k].rc;
			f->err = sub[k].err;
			f->done = sub[k].done;
			if (!last && f->rc < 0 && !f->done && reg_mirror_fallback(f->rc)) {
				if (!left)
					reg_mirror_log(r, m, repo, "blobs", &f->err);
				idx[left++] = idx[k];
			} else if (!last && f->rc == 0) {
				served++;
			}
		}
		if (served) {
			struct buf what = BUF_INIT;
			buf_addf(&what, "%zu blob%s", served, served == 1 ? "" : "s");
			if (!buf_failed(&what))
				reg_mirror_log(r, m, repo, what.data, NULL);
			buf_release(&what);
		}
		n_pending = left;
	}
	for (i = 0; i < n; i++) {
		if (fs[i].rc < 0) {
			rc = fs[i].rc;
			if (e)
				*e = fs[i].err;
			break;
		}
	}
out:
	free(sub);
	free(idx);
	buf_release(&mrepo);
	return rc;
}


/* reg_manifest.c - manifests on a registry.  See reg_manifest.h. */
#include "registry/reg_manifest.h"

#include "core/base/buf.h"
#include "core/base/err.h"
#include "core/model/mediatype.h"
#include "core/model/ref.h"
#include "registry/http.h"
#include "registry/reg.h"
#include "registry/reg_req.h"

#include <string.h>

static const char *const manifest_accept =
	"Accept: " MT_OCI_MANIFEST ", " MT_OCI_INDEX ", " MT_DOCKER_MANIFEST ", " MT_DOCKER_LIST
	", " MT_DOCKER_SCHEMA1_SIGNED ";q=0.1, " MT_DOCKER_SCHEMA1 ";q=0.1";

/* Copies the media type of a Content-Type value without parameters. */
static char *media_type_dup(const char *ct)
{
	size_t n;

	if (!ct)
		return NULL;
	n = strcspn(ct, "; \t");
	return strndup(ct, n);
}

static int digest_check(const struct digest *want, const char *data, size_t len,
			const struct digest *have_sha256, const char *what, struct err *e)
{
	struct digest got;
	int rc;

	if (want->alg == DIGEST_SHA256 && have_sha256) {
		got = *have_sha256;
	} else if ((rc = digest_buffer(&got, want->alg, data, len, e)) < 0) {
		return rc;
	}
	if (!digest_equal(&got, want))
		return err_set(e, ERR_DIGEST, "%s: the content does not match its digest: got %s",
			       what, got.str);
	return 0;
}

static int url_manifest(struct buf *url, struct buf *what, const char *method, struct reg *r,
			const char *repo, const char *part)
{
	buf_addf(url, "%s/v2/%s/manifests/%s", reg_base(r), repo, part);
	buf_addf(what, "%s manifest %s/%s%s%s", method, reg_name(r), repo,
		 strchr(part, ':') ? "@" : ":", part);
	return buf_failed(url) || buf_failed(what) ? ERR_NOMEM : 0;
}

/* The GET or HEAD of the manifest `ref` names, with the Accept list and the
 * pull scope, answered in `resp`; `what` gets "GET manifest REG/REPO:TAG".
 * 0 only for a 200 that is not a schema1 manifest. */
static int manifest_request(struct http_response *resp, struct buf *what, struct reg *r,
			    const struct ref *ref, const char *method, struct err *e)
{
	struct http_request req;
	struct buf url = BUF_INIT, scope = BUF_INIT;
	const char *part = ref->digest ? ref->digest : ref->tag ? ref->tag : "latest";
	const char *ct;
	size_t max = reg_opts(r)->manifest_max;
	int get = !strcmp(method, "GET"), ret;

	http_request_init(&req, method, NULL);
	if ((ret = reg_req_check_repo(ref->repository, e)) < 0 ||
	    (ret = reg_req_check_ref(part, e)) < 0 || (ret = reg_ping(r, REG_NEED_SCHEME, e)) < 0)
		goto out;
	if (url_manifest(&url, what, method, r, ref->repository, part) < 0 ||
	    reg_req_scope(&scope, ref->repository, "pull") < 0 ||
	    http_request_header(&req, "%s", manifest_accept) < 0) {
		ret = reg_req_nomem(e);
		goto out;
	}
	req.url = url.data;
	if (get)
		req.max_body = max;
	ret = reg_send(r, &req, resp, scope.data, e);
	if (ret == ERR_TOO_BIG && get) {
		ret = err_set(e, ERR_TOO_BIG, "%s: the manifest is larger than %zu bytes",
			      what->data, max);
		goto out;
	}
	if (ret < 0) {
		err_prefix(e, "%s", what->data);
		goto out;
	}
	if (resp->status != 200) {
		ret = reg_status_error(e, r, resp, what->data);
		goto out;
	}
	ct = http_response_header(resp, "content-type");
	if (ct && mediatype_classify(ct) == MT_KIND_SCHEMA1)
		ret = err_set(e, ERR_UNSUPPORTED, "%s: Docker schema1 manifests (%s) are not "
			      "supported: push the image again with a current client", what->data,
			      MT_DOCKER_SCHEMA1);
out:
	http_request_release(&req);
	buf_release(&url);
	buf_release(&scope);
	return ret;
}

static int manifest_get_one(struct manifest *out, struct reg *r, const struct ref *ref,
			    struct err *e)
{
	struct http_response resp;
	struct buf what = BUF_INIT;
	const char *ct, *dcd;
	struct digest want;
	int ret = -1;

	manifest_init(out);
	http_response_init(&resp);
	if ((ret = manifest_request(&resp, &what, r, ref, "GET", e)) < 0)
		goto out;
	ct = http_response_header(&resp, "content-type");
	/* by digest: the bytes are checked before the parser sees them */
	if (ref->digest) {
		if ((ret = digest_parse(&want, ref->digest, e)) < 0 ||
		    (ret = digest_check(&want, resp.body.data, resp.body.len, NULL,
					what.data, e)) < 0)
			goto out;
	}
	if ((ret = manifest_parse(out, resp.body.data, resp.body.len,
				  ct && mediatype_classify(ct) != MT_KIND_UNKNOWN ? ct : NULL,
				  reg_opts(r)->manifest_max, e)) < 0) {
		err_prefix(e, "%s", what.data);
		goto out;
	}
	dcd = http_response_header(&resp, "docker-content-digest");
	if (dcd && *dcd) {
		if (digest_parse(&want, dcd, NULL) < 0) {
			ret = err_set(e, ERR_INVALID, "%s: the registry sent an invalid "
				      "Docker-Content-Digest", what.data);
			goto out;
		}
		if ((ret = digest_check(&want, out->raw.data, out->raw.len, &out->digest,
					what.data, e)) < 0) {
			err_prefix(e, "Docker-Content-Digest %s", want.str);
			goto out;
		}
	}
	ret = 0;
out:
	if (ret < 0)
		manifest_release(out);
	http_response_release(&resp);
	buf_release(&what);
	return ret;
}

/* What a HEAD did not tell, from a GET. */
static int manifest_head_by_get(struct descriptor *out, struct reg *r, const struct ref *ref,
				struct err *e)
{
	struct manifest m;
	int ret;

	if ((ret = manifest_get_one(&m, r, ref, e)) < 0)
		return ret;
	out->media_type = strdup(m.media_type ? m.media_type : "");
	out->digest = m.digest;
	out->size = (int64_t)m.raw.len;
	manifest_release(&m);
	return out->media_type ? 0 : reg_req_nomem(e);
}

static int manifest_head_one(struct descriptor *out, struct reg *r, const struct ref *ref,
			     struct err *e)
{
	struct http_response resp;
	struct buf what = BUF_INIT;
	const char *ct, *dcd;
	int64_t size = -1;
	int ret = -1;

	descriptor_init(out);
	http_response_init(&resp);
	if ((ret = manifest_request(&resp, &what, r, ref, "HEAD", e)) < 0)
		goto out;
	ct = http_response_header(&resp, "content-type");
	dcd = http_response_header(&resp, "docker-content-digest");
	if (!dcd || !ct || mediatype_classify(ct) == MT_KIND_UNKNOWN ||
	    reg_req_parse_size(&size, http_response_header(&resp, "content-length")) < 0 ||
	    digest_parse(&out->digest, dcd, NULL) < 0) {
		ret = manifest_head_by_get(out, r, ref, e);	/* not enough to go on */
		goto out;
	}
	if ((size_t)size > reg_opts(r)->manifest_max) {
		ret = err_set(e, ERR_TOO_BIG, "%s: the manifest is larger than %zu bytes", what.data,
			      reg_opts(r)->manifest_max);
		goto out;
	}
	if (ref->digest && strcmp(ref->digest, out->digest.str)) {
		ret = err_set(e, ERR_DIGEST, "%s: the registry answered with another digest (%s)",
			      what.data, out->digest.str);
		goto out;
	}
	out->size = size;
	out->media_type = media_type_dup(ct);
	ret = out->media_type ? 0 : reg_req_nomem(e);
out:
	if (ret < 0)
		descriptor_release(out);
	http_response_release(&resp);
	buf_release(&what);
	return ret;
}

int reg_manifest_put(struct digest *out, struct reg *r, const char *repo,
		     const char *tag_or_digest, const char *media_type, const void *data,
		     size_t len, struct err *e)
{
	struct http_request req;
	struct http_response resp;
	struct buf url = BUF_INIT, what = BUF_INIT, scope = BUF_INIT;
	struct digest d, want;
	const char *dcd;
	int ret = -1;

	http_request_init(&req, "PUT", NULL);
	http_response_init(&resp);
	if ((ret = reg_req_check_repo(repo, e)) < 0 ||
	    (ret = reg_req_check_ref(tag_or_digest, e)) < 0)
		goto out;
	if (!media_type || !mediatype_valid(media_type)) {
		ret = err_set(e, ERR_INVALID, "invalid media type for a manifest");
		goto out;
	}
	if (strchr(tag_or_digest, ':')) {
		if ((ret = digest_parse(&want, tag_or_digest, e)) < 0 ||
		    (ret = digest_buffer(&d, want.alg, data, len, e)) < 0)
			goto out;
		if (!digest_equal(&d, &want)) {
			ret = err_set(e, ERR_DIGEST, "manifest to push as %s hashes to %s", want.str,
				      d.str);
			goto out;
		}
	}
	if ((ret = digest_buffer(&d, DIGEST_SHA256, data, len, e)) < 0 ||
	    (ret = reg_ping(r, REG_NEED_ANSWER, e)) < 0)
		goto out;
	if (url_manifest(&url, &what, "PUT", r, repo, tag_or_digest) < 0 ||
	    reg_req_scope(&scope, repo, "pull,push") < 0 ||
	    http_request_header(&req, "Content-Type: %s", media_type) < 0) {
		ret = reg_req_nomem(e);
		goto out;
	}
	req.url = url.data;
	req.body = data;
	req.body_len = (int64_t)len;
	if ((ret = reg_send(r, &req, &resp, scope.data, e)) < 0) {
		err_prefix(e, "%s", what.data);
		goto out;
	}
	if (resp.status < 200 || resp.status >= 300) {
		ret = reg_status_error(e, r, &resp, what.data);
		goto out;
	}
	dcd = http_response_header(&resp, "docker-content-digest");
	if (dcd && *dcd && digest_parse(&want, dcd, NULL) == 0 && want.alg == DIGEST_SHA256 &&
	    !digest_equal(&want, &d)) {
		ret = err_set(e, ERR_DIGEST, "%s: the registry stored it as %s, not %s", what.data,
			      want.str, d.str);
		goto out;
	}
	if (out)
		*out = d;
	ret = 0;
out:
	http_request_release(&req);
	http_response_release(&resp);
	buf_release(&url);
	buf_release(&what);
	buf_release(&scope);
	return ret;
}

/* A refused DELETE: "not supported" in the registry's terms, as
 * ERR_UNSUPPORTED with what is possible instead. */
static int delete_error(struct err *e, struct reg *r, const struct http_response *resp,
			const char *what, int is_tag)
{
	int ret = reg_status_error(e, r, resp, what);

	if (is_tag && (ret == ERR_UNSUPPORTED || resp->status == 405 || resp->status == 400))
		/* distribution answers a tag with 400 DIGEST_INVALID */
		ret = err_set(e, ERR_UNSUPPORTED, "%s: the registry does not delete tags, only "
			      "manifests by digest (HTTP %ld)", what, resp->status);
	else if (!is_tag && ret == ERR_UNSUPPORTED)
		ret = err_set(e, ERR_UNSUPPORTED, "%s: the registry does not delete manifests: "
			      "deleting must be enabled in its configuration (HTTP %ld)", what,
			      resp->status);
	if (e)
		e->http_status = (int)resp->status;
	return ret;
}

int reg_manifest_delete(struct reg *r, const char *repo, const char *tag_or_digest,
			struct err *e)
{
	struct http_request req;
	struct http_response resp;
	struct buf url = BUF_INIT, what = BUF_INIT, scope = BUF_INIT;
	int ret = -1;

	http_request_init(&req, "DELETE", NULL);
	http_response_init(&resp);
	if ((ret = reg_req_check_repo(repo, e)) < 0 ||
	    (ret = reg_req_check_ref(tag_or_digest, e)) < 0 ||
	    (ret = reg_ping(r, REG_NEED_ANSWER, e)) < 0)
		goto out;
	if (url_manifest(&url, &what, "DELETE", r, repo, tag_or_digest) < 0 ||
	    reg_req_scope(&scope, repo, "delete") < 0) {
		ret = reg_req_nomem(e);
		goto out;
	}
	req.url = url.data;
	if ((ret = reg_send(r, &req, &resp, scope.data, e)) < 0) {
		err_prefix(e, "%s", what.data);
		goto out;
	}
	if (resp.status < 200 || resp.status >= 300) {
		ret = delete_error(e, r, &resp, what.data, !strchr(tag_or_digest, ':'));
		goto out;
	}
	ret = 0;
out:
	http_request_release(&req);
	http_response_release(&resp);
	buf_release(&url);
	buf_release(&what);
	buf_release(&scope);
	return ret;
}

/* One manifest read on one endpoint: a GET into get_out, or a HEAD into
 * head_out when get_out is NULL. */
static int manifest_read_one(struct manifest *get_out, struct descriptor *head_out,
			     struct reg *r, const struct ref *ref, struct err *e)
{
	if (get_out)
		return manifest_get_one(get_out, r, ref, e);
	return manifest_head_one(head_out, r, ref, e);
}

/* A manifest read tried on each mirror in turn, then on r itself. */
static int manifest_read(struct manifest *get_out, struct descriptor *head_out,
			 struct reg *r, const struct ref *ref, struct err *e)
{
	struct buf repo = BUF_INIT;
	struct err e2 = ERR_INIT;
	struct ref mref;
	size_t i;
	int rc;

	for (i = 0; i < reg_mirror_count(r); i++) {
		if (reg_mirror_repo(&repo, r, i, ref->repository) < 0) {
			rc = reg_req_nomem(e);
			goto out;
		}
		mref = *ref;
		mref.repository = repo.data;
		err_clear(&e2);
		rc = manifest_read_one(get_out, head_out, reg_mirror_at(r, i), &mref, &e2);
		if (rc == 0) {
			reg_mirror_log(r, i, ref->repository, "manifest", NULL);
			goto out;
		}
		if (!reg_mirror_fallback(rc)) {
			if (e)
				*e = e2;
			goto out;
		}
		reg_mirror_log(r, i, ref->repository, "manifest", &e2);
	}
	rc = manifest_read_one(get_out, head_out, r, ref, e);
out:
	buf_release(&repo);
	return rc;
}

int reg_manifest_get(struct manifest *out, struct reg *r, const struct ref *ref,
		     struct err *e)
{
	return manifest_read(out, NULL, r, ref, e);
}

int reg_manifest_get_direct(struct manifest *out, struct reg *r, const struct ref *ref,
			    struct err *e)
{
	return manifest_get_one(out, r, ref, e);
}

int reg_manifest_head(struct descriptor *out, struct reg *r, const struct ref *ref,
		      struct err *e)
{
	return manifest_read(NULL, out, r, ref, e);
}


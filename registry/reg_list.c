/* reg_list.c - tags, catalog and referrers of a registry.  See reg_list.h. */
#include "registry/reg_list.h"

#include "core/base/err.h"
#include "core/base/json.h"
#include "core/base/strvec.h"
#include "core/model/mediatype.h"
#include "core/model/ref.h"
#include "registry/http.h"
#include "registry/reg.h"
#include "registry/reg_manifest.h"
#include "registry/reg_req.h"
#include "registry/wire.h"

#include <stdlib.h>
#include <string.h>

/* Appends the strings of array `key` in a page of a listing; *total counts
 * the entries of every page against REG_LIST_MAX_ENTRIES. */
static int list_page_add(struct strvec *out, size_t *total, const struct http_response *resp,
			 const char *key, const char *what, struct err *e)
{
	struct json *j = NULL, *arr;
	size_t i, n;
	int ret = -1;

	if (json_parse(&j, resp->body.data, resp->body.len, NULL) < 0 ||
	    json_kind_of(j) != JSON_OBJECT) {
		ret = err_set(e, ERR_INVALID, "%s: the registry sent invalid JSON", what);
		goto out;
	}
	arr = json_get(j, key);
	if (arr && json_kind_of(arr) != JSON_NULL && json_kind_of(arr) != JSON_ARRAY) {
		ret = err_set(e, ERR_INVALID, "%s: \"%s\" is not an array", what, key);
		goto out;
	}
	n = json_array_len(arr);
	for (i = 0; i < n; i++) {
		const char *s = json_str(json_array_get(arr, i));
		if (!s) {
			ret = err_set(e, ERR_INVALID, "%s: \"%s\"[%zu] is not a string", what,
				      key, i);
			goto out;
		}
		if (++*total > REG_LIST_MAX_ENTRIES) {
			ret = err_set(e, ERR_TOO_BIG, "%s: more than %d entries", what,
				      REG_LIST_MAX_ENTRIES);
			goto out;
		}
		if (strvec_push(out, s) < 0) {
			ret = reg_req_nomem(e);
			goto out;
		}
	}
	ret = 0;
out:
	json_free(j);
	return ret;
}

/* The next page a listing's Link header names, resolved against the page
 * `url`, into *out: 0, or 1 when there is none, or the error.  A next page
 * on another origin is refused. */
static int list_page_next(char **out, struct reg *r, const struct http_response *resp,
			  const char *url, const char *what, struct err *e)
{
	const char *link = http_response_header(resp, "link");
	char *next = NULL;
	int ret;

	*out = NULL;
	if (!link)
		return 1;
	ret = wire_link_next(&next, link, e);
	if (ret == ERR_NOT_FOUND)
		return 1;
	if (ret < 0) {
		err_prefix(e, "%s: invalid Link header", what);
		return ret;
	}
	ret = wire_resolve_url(out, resp->url ? resp->url : url, next, e);
	free(next);
	if (ret < 0) {
		err_prefix(e, "%s: unusable next page", what);
		return ret;
	}
	if (!reg_req_same_origin(*out, reg_base(r))) {
		free(*out);
		*out = NULL;
		return err_set(e, ERR_REGISTRY, "%s: the next page is on another host", what);
	}
	return 0;
}

/* GETs the pages of a listing from `first_url` on, appending the strings
 * of array `key` of each to `out`, until a page names no next one, or one
 * already fetched. */
static int list_pages(struct strvec *out, struct reg *r, const char *first_url,
		      const char *key, const char *scope, const char *what, struct err *e)
{
	struct http_request req;
	struct http_response resp;
	struct strvec seen = STRVEC_INIT;
	char *url = strdup(first_url), *next = NULL;
	size_t pages, total = 0;
	int ret = -1;

	http_request_init(&req, "GET", NULL);
	http_response_init(&resp);
	if (!url) {
		ret = reg_req_nomem(e);
		goto out;
	}
	for (pages = 0;; pages++) {
		if (pages >= REG_LIST_MAX_PAGES) {
			ret = err_set(e, ERR_TOO_BIG, "%s: more than %d pages", what,
				      REG_LIST_MAX_PAGES);
			goto out;
		}
		if (strvec_push(&seen, url) < 0) {
			ret = reg_req_nomem(e);
			goto out;
		}
		http_request_release(&req);
		http_request_init(&req, "GET", url);
		req.max_body = REG_LIST_PAGE_MAX_BYTES;
		if ((ret = reg_send(r, &req, &resp, scope, e)) < 0) {
			err_prefix(e, "%s", what);
			goto out;
		}
		if (resp.status != 200) {
			ret = reg_status_error(e, r, &resp, what);
			goto out;
		}
		if ((ret = list_page_add(out, &total, &resp, key, what, e)) < 0 ||
		    (ret = list_page_next(&next, r, &resp, url, what, e)) < 0)
			goto out;
		if (ret == 1 || strvec_find(&seen, next) >= 0)
			break;	/* the last page, or a loop */
		free(url);
		url = next;
		next = NULL;
	}
	ret = 0;
out:
	free(next);
	free(url);
	strvec_clear(&seen);
	http_request_release(&req);
	http_response_release(&resp);
	return ret;
}

int reg_list_tags(struct strvec *out, struct reg *r, const char *repo, struct err *e)
{
	struct buf url = BUF_INIT, what = BUF_INIT, scope = BUF_INIT;
	int ret;

	if ((ret = reg_req_check_repo(repo, e)) < 0 || (ret = reg_ping(r, REG_NEED_SCHEME, e)) < 0)
		goto out;
	buf_addf(&url, "%s/v2/%s/tags/list", reg_base(r), repo);
	if (reg_opts(r)->page_size > 0)
		buf_addf(&url, "?n=%d", reg_opts(r)->page_size);
	buf_addf(&what, "GET tags %s/%s", reg_name(r), repo);
	if (buf_failed(&url) || buf_failed(&what) || reg_req_scope(&scope, repo, "pull") < 0) {
		ret = reg_req_nomem(e);
		goto out;
	}
	ret = list_pages(out, r, url.data, "tags", scope.data, what.data, e);
out:
	buf_release(&url);
	buf_release(&what);
	buf_release(&scope);
	return ret;
}

int reg_list_catalog(struct strvec *out, struct reg *r, struct err *e)
{
	struct buf url = BUF_INIT, what = BUF_INIT;
	int ret;

	if ((ret = reg_ping(r, REG_NEED_SCHEME, e)) < 0)
		goto out;
	buf_addf(&url, "%s/v2/_catalog", reg_base(r));
	if (reg_opts(r)->page_size > 0)
		buf_addf(&url, "?n=%d", reg_opts(r)->page_size);
	buf_addf(&what, "GET catalog %s", reg_name(r));
	if (buf_failed(&url) || buf_failed(&what)) {
		ret = reg_req_nomem(e);
		goto out;
	}
	ret = list_pages(out, r, url.data, "repositories", "registry:catalog:*", what.data, e);
out:
	buf_release(&url);
	buf_release(&what);
	return ret;
}

/* ---- referrers ------------------------------------------------------------ */

static const char empty_index[] =
	"{\"schemaVersion\":2,\"mediaType\":\"" MT_OCI_INDEX "\",\"manifests\":[]}";

int reg_list_referrers(struct manifest *out_index, struct reg *r, const char *repo,
		       const struct digest *subject, struct err *e)
{
	struct http_request req;
	struct http_response resp;
	struct buf url = BUF_INIT, what = BUF_INIT, scope = BUF_INIT, tag = BUF_INIT;
	struct ref fb = REF_INIT;
	int ret = -1;

	manifest_init(out_index);
	http_request_init(&req, "GET", NULL);
	http_response_init(&resp);
	if ((ret = reg_req_check_repo(repo, e)) < 0 || (ret = reg_ping(r, REG_NEED_SCHEME, e)) < 0)
		goto out;
	buf_addf(&url, "%s/v2/%s/referrers/%s", reg_base(r), repo, subject->str);
	buf_addf(&what, "GET referrers %s/%s@%s", reg_name(r), repo, subject->str);
	if (buf_failed(&url) || buf_failed(&what) || reg_req_scope(&scope, repo, "pull") < 0 ||
	    http_request_header(&req, "Accept: " MT_OCI_INDEX) < 0) {
		ret = reg_req_nomem(e);
		goto out;
	}
	req.url = url.data;
	req.max_body = reg_opts(r)->manifest_max;
	if ((ret = reg_send(r, &req, &resp, scope.data, e)) < 0) {
		err_prefix(e, "%s", what.data);
		goto out;
	}
	if (resp.status == 200) {
		ret = manifest_parse(out_index, resp.body.data, resp.body.len, MT_OCI_INDEX,
				     reg_opts(r)->manifest_max, e);
		if (ret == 0 && out_index->kind != MT_KIND_INDEX)
			ret = err_set(e, ERR_INVALID, "%s: the registry did not send an index",
				      what.data);
		if (ret < 0)
			err_prefix(e, "%s", what.data);
		goto out;
	}
	if (resp.status != 404) {
		ret = reg_status_error(e, r, &resp, what.data);
		goto out;
	}
	/* The fallback of the distribution spec: the tag "<alg>-<hex>". */
	buf_addf(&tag, "%s-%s", digest_alg_name(subject->alg), digest_hex(subject));
	fb.registry = (char *)reg_name(r);
	fb.repository = (char *)repo;
	fb.tag = tag.data;
	if (buf_failed(&tag)) {
		ret = reg_req_nomem(e);
		goto out;
	}
	ret = reg_manifest_get_direct(out_index, r, &fb, e);
	if (ret == ERR_NOT_FOUND) {
		err_clear(e);
		ret = manifest_parse(out_index, empty_index, sizeof(empty_index) - 1, MT_OCI_INDEX,
				     0, e);
	} else if (ret == 0 && out_index->kind != MT_KIND_INDEX) {
		manifest_release(out_index);
		ret = err_set(e, ERR_INVALID, "%s: the fallback tag '%s' is not an index",
			      what.data, tag.data);
	}
out:
	http_request_release(&req);
	http_response_release(&resp);
	buf_release(&url);
	buf_release(&what);
	buf_release(&scope);
	buf_release(&tag);
	return ret;
}

/* reg_req.c - the small pieces of the registry client's requests.  See
 * reg_req.h. */
#include "registry/reg_req.h"

#include "core/base/digest.h"
#include "core/base/err.h"
#include "registry/http.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

int reg_req_nomem(struct err *e)
{
	return err_set(e, ERR_NOMEM, "out of memory");
}

void reg_req_url_escape(struct buf *b, const char *s)
{
	static const char hex[] = "0123456789ABCDEF";

	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		    c == '-' || c == '.' || c == '_' || c == '~') {
			buf_addch(b, c);
		} else {
			buf_addch(b, '%');
			buf_addch(b, hex[c >> 4]);
			buf_addch(b, hex[c & 15]);
		}
	}
}

int reg_req_check_repo(const char *repo, struct err *e)
{
	const char *p;

	if (!repo || !*repo || strlen(repo) > 255 || repo[0] == '/')
		return err_set(e, ERR_INVALID, "invalid repository name");
	for (p = repo; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '.' ||
		      *p == '_' || *p == '-' || *p == '/'))
			return err_set(e, ERR_INVALID, "invalid repository name '%.255s'", repo);
	if (strstr(repo, "//") || repo[p - repo - 1] == '/' || strstr(repo, ".."))
		return err_set(e, ERR_INVALID, "invalid repository name '%.255s'", repo);
	return 0;
}

int reg_req_check_ref(const char *s, struct err *e)
{
	const char *p;

	if (!s || !*s)
		return err_set(e, ERR_INVALID, "missing tag or digest");
	if (strchr(s, ':'))
		return digest_valid(s) ? 0 : err_set(e, ERR_INVALID, "invalid digest");
	if (strlen(s) > 128 || s[0] == '.' || s[0] == '-')
		return err_set(e, ERR_INVALID, "invalid tag");
	for (p = s; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		      (*p >= '0' && *p <= '9') || *p == '.' || *p == '_' || *p == '-'))
			return err_set(e, ERR_INVALID, "invalid tag");
	return 0;
}

int reg_req_same_origin(const char *a, const char *b)
{
	struct buf oa = BUF_INIT, ob = BUF_INIT;
	int same;

	same = http_url_origin(&oa, a, NULL) == 0 && http_url_origin(&ob, b, NULL) == 0 &&
	       !strcmp(oa.data, ob.data);
	buf_release(&oa);
	buf_release(&ob);
	return same;
}

int reg_req_scope(struct buf *out, const char *repo, const char *actions)
{
	buf_addf(out, "repository:%s:%s", repo, actions);
	return buf_failed(out) ? ERR_NOMEM : 0;
}

int reg_req_parse_size(int64_t *out, const char *s)
{
	char *end;
	long long v;

	if (!s || *s < '0' || *s > '9')
		return -1;
	errno = 0;
	v = strtoll(s, &end, 10);
	while (*end == ' ' || *end == '\t')
		end++;
	if (errno || *end || v < 0)
		return -1;
	*out = v;
	return 0;
}

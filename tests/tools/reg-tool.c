/* reg-tool - a test helper that drives the registry client (registry/reg*.c) from the shell.
 *
 *   reg-tool [OPTIONS] manifest REF        the manifest's bytes, verified
 *   reg-tool [OPTIONS] digest REF          its digest (GET, verified)
 *   reg-tool [OPTIONS] head REF            "MEDIATYPE DIGEST SIZE" (HEAD)
 *   reg-tool [OPTIONS] tags REPO           one tag a line, every page
 *   reg-tool [OPTIONS] catalog REGISTRY    one repository a line, every page
 *   reg-tool [OPTIONS] blob REPO@DIGEST    the blob's bytes (verified) on stdout
 *   reg-tool [OPTIONS] blob-head REPO@DIGEST   its size
 *   reg-tool [OPTIONS] push-blob REPO FILE [MOUNT_FROM]   uploads, prints the digest
 *   reg-tool [OPTIONS] put-manifest REF FILE MEDIATYPE   prints the digest
 *   reg-tool [OPTIONS] delete REF
 *   reg-tool [OPTIONS] referrers REPO@DIGEST   the referrers index
 *   reg-tool [OPTIONS] copy SRC DST        manifest (index: and children) and
 *                                          blobs; a mount when on one registry
 * OPTIONS: --insecure, --user U --pass P, --identity-token T, --ca-dir DIR
 *          (holding HOST:PORT/ca.crt),
 *          --page-size N, --chunk N (PATCH size), --size N (blob: expected size,
 *          default from HEAD), -v (trace HTTP to stderr).
 *
 * Not library code: it prints and exits.  Exit status 0 ok, 1 failed, 2 usage.
 */
#include "core/base/buf.h"
#include "core/base/digest.h"
#include "core/base/err.h"
#include "core/base/strvec.h"
#include "core/model/manifest.h"
#include "core/model/ref.h"
#include "registry/reg.h"
#include "registry/reg_blob.h"
#include "registry/reg_list.h"
#include "registry/reg_manifest.h"
#include "registry/creds.h"
#include "registry/http.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct tool {
	const char *user;
	const char *pass;
	const char *ca_dir;
	const char *identity_token;
	int insecure;
	int page_size;
	long chunk;
	long long size;
	int verbose;
	struct http_client *http;
};

static int usage(void)
{
	fputs("usage: reg-tool [--insecure] [--user U --pass P] [--identity-token T]\n"
	      "                [--ca-dir DIR] [--page-size N]\n"
	      "                [--chunk N] [--size N] [-v] COMMAND ARGS...\n"
	      "commands: manifest REF | digest REF | head REF | tags REPO | catalog REGISTRY |\n"
	      "          blob REPO@DIGEST | blob-head REPO@DIGEST | push-blob REPO FILE [FROM] |\n"
	      "          put-manifest REF FILE MEDIATYPE | delete REF | referrers REPO@DIGEST |\n"
	      "          copy SRC DST\n", stderr);
	return 2;
}

static int fail(const struct err *e)
{
	fprintf(stderr, "error: %s\n", e->msg);
	return 1;
}

static int creds_cb(struct creds *out, void *arg, const char *registry, struct err *e)
{
	struct tool *t = arg;

	(void)registry;
	memset(out, 0, sizeof(*out));
	if (t->identity_token) {
		out->identity_token = strdup(t->identity_token);
		if (!out->identity_token)
			return err_set(e, ERR_NOMEM, "out of memory");
		return 0;
	}
	if (!t->user)
		return ERR_NOT_FOUND;
	out->username = strdup(t->user);
	out->password = strdup(t->pass ? t->pass : "");
	if (!out->username || !out->password) {
		creds_release(out);
		return err_set(e, ERR_NOMEM, "out of memory");
	}
	return 0;
}

static void trace_cb(void *arg, const char *line)
{
	(void)arg;
	fprintf(stderr, "%s\n", line);
}

static int open_reg(struct reg **out, struct tool *t, const char *registry, struct err *e)
{
	struct reg_client_opts o;

	memset(&o, 0, sizeof(o));
	o.http = t->http;
	o.creds = creds_cb;
	o.creds_arg = t;
	o.insecure = t->insecure;
	o.page_size = t->page_size;
	o.upload_chunk = (size_t)t->chunk;
	return reg_open(out, &o, registry, e);
}

static int write_all(int fd, const char *p, size_t n)
{
	while (n) {
		ssize_t w = write(fd, p, n);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

static int fd_sink(void *arg, const char *data, size_t len, struct err *e)
{
	int fd = *(int *)arg;

	if (write_all(fd, data, len) < 0)
		return err_set_errno(e, ERR_IO, errno, "write failed");
	return 0;
}

static int cmd_manifest(struct tool *t, const char *s, int what)
{
	struct err e = ERR_INIT;
	struct ref ref = REF_INIT;
	struct reg *r = NULL;
	struct manifest m;
	struct descriptor d;
	int ret = 1;

	manifest_init(&m);
	descriptor_init(&d);
	if (ref_parse(&ref, s, 0, &e) < 0 || open_reg(&r, t, ref.registry, &e) < 0)
		goto fail;
	if (what == 'h') {
		if (reg_manifest_head(&d, r, &ref, &e) < 0)
			goto fail;
		printf("%s %s %lld\n", d.media_type, d.digest.str, (long long)d.size);
	} else {
		if (reg_manifest_get(&m, r, &ref, &e) < 0)
			goto fail;
		if (what == 'd')
			printf("%s\n", m.digest.str);
		else if (write_all(1, m.raw.data, m.raw.len) < 0)
			goto out;
	}
	ret = 0;
	goto out;
fail:
	ret = fail(&e);
out:
	manifest_release(&m);
	descriptor_release(&d);
	reg_free(r);
	ref_release(&ref);
	return ret;
}

static int cmd_list(struct tool *t, const char *s, int catalog)
{
	struct err e = ERR_INIT;
	struct ref ref = REF_INIT;
	struct strvec v = STRVEC_INIT;
	struct reg *r = NULL;
	int ret = 1;
	size_t i;

	if (catalog) {
		if (open_reg(&r, t, s, &e) < 0 || reg_list_catalog(&v, r, &e) < 0)
			goto fail;
	} else {
		if (ref_parse(&ref, s, REF_NAME_ONLY, &e) < 0 ||
		    open_reg(&r, t, ref.registry, &e) < 0 ||
		    reg_list_tags(&v, r, ref.repository, &e) < 0)
			goto fail;
	}
	for (i = 0; i < v.n; i++)
		printf("%s\n", v.v[i]);
	ret = 0;
	goto out;
fail:
	ret = fail(&e);
out:
	strvec_clear(&v);
	reg_free(r);
	ref_release(&ref);
	return ret;
}

static int cmd_blob(struct tool *t, const char *s, int head_only)
{
	struct err e = ERR_INIT;
	struct ref ref = REF_INIT;
	struct reg *r = NULL;
	struct descriptor d;
	int64_t size = -1;
	int fd = 1, ret = 1;

	descriptor_init(&d);
	if (ref_parse(&ref, s, REF_NO_DEFAULT_TAG, &e) < 0)
		goto fail;
	if (!ref.digest) {
		fprintf(stderr, "error: '%s' names no digest\n", s);
		goto out;
	}
	if (digest_parse(&d.digest, ref.digest, &e) < 0 || open_reg(&r, t, ref.registry, &e) < 0)
		goto fail;
	if (head_only || t->size < 0) {
		if (reg_blob_head(&size, r, ref.repository, &d.digest, &e) < 0)
			goto fail;
	} else {
		size = t->size;
	}
	if (head_only) {
		printf("%lld\n", (long long)size);
		ret = 0;
		goto out;
	}
	d.size = size;
	if (reg_blob_get(r, ref.repository, &d, fd_sink, &fd, &e) < 0)
		goto fail;
	ret = 0;
	goto out;
fail:
	ret = fail(&e);
out:
	descriptor_release(&d);
	reg_free(r);
	ref_release(&ref);
	return ret;
}

static int hash_fd(struct digest *out, int fd, int64_t *size, struct err *e)
{
	struct digest_ctx ctx;
	char b[65536];
	ssize_t n;
	int ret = -1;

	if (digest_ctx_init(&ctx, DIGEST_SHA256, e) < 0)
		return -1;
	*size = 0;
	while ((n = read(fd, b, sizeof(b))) != 0) {
		if (n < 0) {
			if (errno == EINTR)
				continue;
			err_set_errno(e, ERR_IO, errno, "read failed");
			goto out;
		}
		if (digest_ctx_update(&ctx, b, (size_t)n, e) < 0)
			goto out;
		*size += n;
	}
	digest_ctx_final(&ctx, out);
	ret = 0;
out:
	digest_ctx_release(&ctx);
	return ret;
}

static int cmd_push_blob(struct tool *t, const char *repo_s, const char *file,
			 const char *from)
{
	struct err e = ERR_INIT;
	struct ref ref = REF_INIT;
	struct reg *r = NULL;
	struct descriptor d;
	int fd = -1, ret = 1;

	descriptor_init(&d);
	fd = open(file, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		err_set_errno(&e, ERR_IO, errno, "cannot open '%s'", file);
		goto fail;
	}
	if (hash_fd(&d.digest, fd, &d.size, &e) < 0 ||
	    ref_parse(&ref, repo_s, REF_NAME_ONLY, &e) < 0 ||
	    open_reg(&r, t, ref.registry, &e) < 0 ||
	    reg_blob_upload(r, ref.repository, &d, fd, NULL, from, &e) < 0)
		goto fail;
	printf("%s\n", d.digest.str);
	ret = 0;
	goto out;
fail:
	ret = fail(&e);
out:
	if (fd >= 0)
		close(fd);
	descriptor_release(&d);
	reg_free(r);
	ref_release(&ref);
	return ret;
}

static int read_file(struct buf *out, const char *file, struct err *e)
{
	FILE *f = fopen(file, "rb");
	char b[65536];
	size_t n;

	if (!f)
		return err_set_errno(e, ERR_IO, errno, "cannot open '%s'", file);
	while ((n = fread(b, 1, sizeof(b), f)) > 0)
		buf_add(out, b, n);
	fclose(f);
	return buf_failed(out) ? err_set(e, ERR_NOMEM, "out of memory") : 0;
}

static int cmd_put_manifest(struct tool *t, const char *s, const char *file, const char *mt)
{
	struct err e = ERR_INIT;
	struct ref ref = REF_INIT;
	struct reg *r = NULL;
	struct buf b = BUF_INIT;
	struct digest d;
	int ret = 1;

	if (ref_parse(&ref, s, 0, &e) < 0 || read_file(&b, file, &e) < 0 ||
	    open_reg(&r, t, ref.registry, &e) < 0 ||
	    reg_manifest_put(&d, r, ref.repository, ref.digest ? ref.digest : ref.tag, mt, b.data,
			     b.len, &e) < 0)
		goto fail;
	printf("%s\n", d.str);
	ret = 0;
	goto out;
fail:
	ret = fail(&e);
out:
	buf_release(&b);
	reg_free(r);
	ref_release(&ref);
	return ret;
}

static int cmd_delete(struct tool *t, const char *s)
{
	struct err e = ERR_INIT;
	struct ref ref = REF_INIT;
	struct reg *r = NULL;
	int ret = 1;

	if (ref_parse(&ref, s, 0, &e) < 0 || open_reg(&r, t, ref.registry, &e) < 0 ||
	    reg_manifest_delete(r, ref.repository, ref.digest ? ref.digest : ref.tag, &e) < 0)
		ret = fail(&e);
	else
		ret = 0;
	reg_free(r);
	ref_release(&ref);
	return ret;
}

static int cmd_referrers(struct tool *t, const char *s)
{
	struct err e = ERR_INIT;
	struct ref ref = REF_INIT;
	struct reg *r = NULL;
	struct manifest m;
	struct digest d;
	int ret = 1;

	manifest_init(&m);
	if (ref_parse(&ref, s, REF_NO_DEFAULT_TAG, &e) < 0)
		goto fail;
	if (!ref.digest) {
		fprintf(stderr, "error: '%s' names no digest\n", s);
		goto out;
	}
	if (digest_parse(&d, ref.digest, &e) < 0 || open_reg(&r, t, ref.registry, &e) < 0 ||
	    reg_list_referrers(&m, r, ref.repository, &d, &e) < 0)
		goto fail;
	if (write_all(1, m.raw.data, m.raw.len) < 0)
		goto out;
	ret = 0;
	goto out;
fail:
	ret = fail(&e);
out:
	manifest_release(&m);
	reg_free(r);
	ref_release(&ref);
	return ret;
}

/* --- copy ----------------------------------------------------------------- */

struct copy {
	struct reg *src;
	struct reg *dst;
	const struct ref *sref;
	const struct ref *dref;
	int same;
};

static int copy_blob(struct copy *c, const struct descriptor *d, struct err *e)
{
	FILE *f;
	int fd, ret;

	if (c->same) {
		/* a mount, or ERR_NOT_FOUND when the registry wants the bytes */
		ret = reg_blob_upload(c->dst, c->dref->repository, d, -1, NULL,
				      c->sref->repository, e);
		if (ret != ERR_NOT_FOUND)
			return ret;
		err_clear(e);
	} else if (reg_blob_head(NULL, c->dst, c->dref->repository, &d->digest, NULL) == 0) {
		return 0;
	}
	f = tmpfile();
	if (!f)
		return err_set_errno(e, ERR_IO, errno, "cannot make a temporary file");
	fd = fileno(f);
	ret = reg_blob_get(c->src, c->sref->repository, d, fd_sink, &fd, e);
	if (ret == 0)
		ret = reg_blob_upload(c->dst, c->dref->repository, d, fd, NULL, NULL, e);
	fclose(f);
	return ret;
}

static int copy_manifest(struct copy *c, const struct ref *src, const char *dst_tag,
			 struct err *e)
{
	struct manifest m;
	size_t i;
	int ret;

	manifest_init(&m);
	ret = reg_manifest_get(&m, c->src, src, e);
	if (ret < 0)
		goto out;
	if (m.kind == MT_KIND_INDEX) {
		for (i = 0; i < m.n_manifests && ret == 0; i++) {
			struct ref child = *src;
			child.tag = NULL;
			child.digest = m.manifests[i].digest.str;
			ret = copy_manifest(c, &child, child.digest, e);
		}
	} else {
		ret = copy_blob(c, &m.config, e);
		for (i = 0; i < m.n_layers && ret == 0; i++)
			ret = copy_blob(c, &m.layers[i], e);
	}
	if (ret == 0)
		ret = reg_manifest_put(NULL, c->dst, c->dref->repository, dst_tag,
				       m.media_type, m.raw.data, m.raw.len, e);
out:
	manifest_release(&m);
	return ret;
}

static int cmd_copy(struct tool *t, const char *s, const char *d)
{
	struct err e = ERR_INIT;
	struct ref sref = REF_INIT, dref = REF_INIT;
	struct copy c;
	int ret = 1;

	memset(&c, 0, sizeof(c));
	if (ref_parse(&sref, s, 0, &e) < 0 || ref_parse(&dref, d, 0, &e) < 0 ||
	    open_reg(&c.src, t, sref.registry, &e) < 0)
		goto fail;
	c.same = !strcmp(sref.registry, dref.registry);
	if (c.same)
		c.dst = c.src;
	else if (open_reg(&c.dst, t, dref.registry, &e) < 0)
		goto fail;
	c.sref = &sref;
	c.dref = &dref;
	if (copy_manifest(&c, &sref, dref.digest ? dref.digest : dref.tag, &e) < 0)
		goto fail;
	ret = 0;
	goto out;
fail:
	ret = fail(&e);
out:
	if (c.dst != c.src)
		reg_free(c.dst);
	reg_free(c.src);
	ref_release(&sref);
	ref_release(&dref);
	return ret;
}

static int parse_num(const char *s, long long min, long long max, long long *out)
{
	char *end;
	long long v;

	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno || end == s || *end || v < min || v > max)
		return -1;
	*out = v;
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "insecure", no_argument, NULL, 'k' },
		{ "user", required_argument, NULL, 'u' },
		{ "pass", required_argument, NULL, 'p' },
		{ "ca-dir", required_argument, NULL, 'c' },
		{ "identity-token", required_argument, NULL, 'i' },
		{ "page-size", required_argument, NULL, 'n' },
		{ "chunk", required_argument, NULL, 'C' },
		{ "size", required_argument, NULL, 's' },
		{ NULL, 0, NULL, 0 },
	};
	struct tool t;
	struct http_client_opts ho;
	struct err e = ERR_INIT;
	const char *dirs[2] = { NULL, NULL };
	const char *cmd;
	long long v;
	int c, ret = 2, n;

	memset(&t, 0, sizeof(t));
	t.size = -1;
	while ((c = getopt_long(argc, argv, "+v", longopts, NULL)) != -1) {
		switch (c) {
		case 'k': t.insecure = 1; break;
		case 'u': t.user = optarg; break;
		case 'p': t.pass = optarg; break;
		case 'c': t.ca_dir = optarg; break;
		case 'i': t.identity_token = optarg; break;
		case 'v': t.verbose++; break;
		case 'n':
			if (parse_num(optarg, 1, 100000, &v) < 0)
				return usage();
			t.page_size = (int)v;
			break;
		case 'C':
			if (parse_num(optarg, 1, 1LL << 30, &v) < 0)
				return usage();
			t.chunk = (long)v;
			break;
		case 's':
			if (parse_num(optarg, 0, INT64_MAX, &v) < 0)
				return usage();
			t.size = v;
			break;
		default:
			return usage();
		}
	}
	if (optind >= argc)
		return usage();
	cmd = argv[optind];
	n = argc - optind - 1;
	argv += optind + 1;

	memset(&ho, 0, sizeof(ho));
	ho.user_agent = "hoist-reg-tool";
	ho.insecure = t.insecure;
	dirs[0] = t.ca_dir;
	ho.certs_dirs = t.ca_dir ? dirs : NULL;
	ho.retry_base_ms = 100;
	ho.trace = trace_cb;
	ho.trace_level = t.verbose;
	if (http_client_new(&t.http, &ho, &e) < 0)
		return fail(&e);

	if (!strcmp(cmd, "manifest") && n == 1)
		ret = cmd_manifest(&t, argv[0], 'm');
	else if (!strcmp(cmd, "digest") && n == 1)
		ret = cmd_manifest(&t, argv[0], 'd');
	else if (!strcmp(cmd, "head") && n == 1)
		ret = cmd_manifest(&t, argv[0], 'h');
	else if (!strcmp(cmd, "tags") && n == 1)
		ret = cmd_list(&t, argv[0], 0);
	else if (!strcmp(cmd, "catalog") && n == 1)
		ret = cmd_list(&t, argv[0], 1);
	else if (!strcmp(cmd, "blob") && n == 1)
		ret = cmd_blob(&t, argv[0], 0);
	else if (!strcmp(cmd, "blob-head") && n == 1)
		ret = cmd_blob(&t, argv[0], 1);
	else if (!strcmp(cmd, "push-blob") && (n == 2 || n == 3))
		ret = cmd_push_blob(&t, argv[0], argv[1], n == 3 ? argv[2] : NULL);
	else if (!strcmp(cmd, "put-manifest") && n == 3)
		ret = cmd_put_manifest(&t, argv[0], argv[1], argv[2]);
	else if (!strcmp(cmd, "delete") && n == 1)
		ret = cmd_delete(&t, argv[0]);
	else if (!strcmp(cmd, "referrers") && n == 1)
		ret = cmd_referrers(&t, argv[0]);
	else if (!strcmp(cmd, "copy") && n == 2)
		ret = cmd_copy(&t, argv[0], argv[1]);
	else
		ret = usage();
	http_client_free(t.http);
	if (fflush(stdout) != 0 || ferror(stdout)) {
		fprintf(stderr, "error: cannot write to stdout\n");
		ret = 1;
	}
	return ret;
}

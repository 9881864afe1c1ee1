/* validate.c - `hoist validate`: every problem of an image or index, not
 * just the first.  See validate.h. */
#include "core/ops/validate.h"

#include "cache/blob.h"
#include "cache/layout.h"
#include "core/base/err.h"
#include "core/format/tar.h"
#include "core/model/imgconfig.h"
#include "core/model/ref.h"
#include "registry/reg_blob.h"
#include "registry/reg_manifest.h"
#include "core/ops/env.h"
#include "core/ops/resolve.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Where blobs come from: a layout, or a registry repository. */
struct vctx {
	struct validate_report *out;
	unsigned flags;
	struct layout *l;
	struct env *env;
	const struct ref *ref;
	struct reg *reg;
	/* A manifest checked already, met again through another index entry:
	 * only that entry's platform is checked, nothing else is reported. */
	int platform_only;
};

static int problem(struct vctx *v, const char *what, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int problem(struct vctx *v, const char *what, const char *fmt, ...)
{
	struct buf b = BUF_INIT;
	va_list ap;
	int ret;

	if (v->platform_only)
		return 0;
	buf_addf(&b, "%s: ", what);
	va_start(ap, fmt);
	buf_vaddf(&b, fmt, ap);
	va_end(ap);
	ret = buf_failed(&b) ? ERR_NOMEM : strvec_push(&v->out->problems, b.data);
	buf_release(&b);
	return ret;
}

/* A blob that could not be read: not in a layout is a note (the image-layout
 * spec lets a layout leave blobs to an external store), anything else a
 * problem. */
static int unreadable(struct vctx *v, const char *what, const struct err *e)
{
	if (v->l && e->code == ERR_NOT_FOUND) {
		if (v->platform_only)
			return 0;
		if (strvec_pushf(&v->out->notes, "%s: not in the layout, so not checked", what) < 0)
			return ERR_NOMEM;
		return 0;
	}
	return problem(v, what, "%s", e->msg);
}

void validate_report_release(struct validate_report *r)
{
	strvec_clear(&r->problems);
	strvec_clear(&r->notes);
	strvec_clear(&r->seen);
}

/* Reads a manifest or config blob: 0 with `out` filled, 1 when a problem
 * was recorded, or a negative code. */
static int read_small(struct buf *out, struct vctx *v, const char *what,
		      const struct descriptor *d, int is_manifest)
{
	struct err e = ERR_INIT;
	int rc;

	if (v->l) {
		rc = blob_read(out, v->l, &d->digest, 64u << 20, &e);
	} else if (is_manifest) {
		struct ref r = REF_INIT;
		struct manifest m;

		manifest_init(&m);
		rc = ref_copy(&r, v->ref);
		if (rc == 0) {
			free(r.digest);
			free(r.tag);
			r.tag = NULL;
			r.digest = strdup(d->digest.str);
			rc = r.digest ? resolve_ref(&m, v->env, &r, &e) :
					err_set(&e, ERR_NOMEM, "out of memory");
		}
		if (rc == 0)
			rc = buf_add(out, m.raw.data, m.raw.len);
		manifest_release(&m);
		ref_release(&r);
	} else {
		rc = resolve_blob(out, v->env, v->ref, d, 64u << 20, &e);
	}
	if (rc == ERR_NOMEM)
		return rc;
	if (rc < 0)
		return unreadable(v, what, &e) < 0 ? ERR_NOMEM : 1;
	if ((int64_t)out->len != d->size)
		return problem(v, what, "size %zu, the descriptor says %lld", out->len,
			       (long long)d->size) < 0 ? ERR_NOMEM : 0;
	return 0;
}

/* ---- layers from a registry: reg_blob_get() on a thread, into a pipe ---- */

struct pipe_job {
	struct reg *reg;
	const char *repo;
	const struct descriptor *d;
	int fd;
	int rc;
	struct err e;
};

static int pipe_sink(void *arg, const char *data, size_t len, struct err *e)
{
	struct pipe_job *j = arg;

	while (len > 0) {
		ssize_t k = write(j->fd, data, len);

		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0)
			return err_set_errno(e, ERR_IO, errno, "cannot write to the pipe");
		data += k;
		len -= (size_t)k;
	}
	return 0;
}

static void *pipe_main(void *arg)
{
	struct pipe_job *j = arg;

	j->rc = reg_blob_get(j->reg, j->repo, j->d, pipe_sink, j, &j->e);
	close(j->fd);
	j->fd = -1;
	return NULL;
}

/* With VALIDATE_FAST: blob `d` is there, with its size. */
static int check_present(struct vctx *v, const char *what, const struct descriptor *d)
{
	struct err e = ERR_INIT;
	int64_t size;
	int rc;

	if (v->l) {
		if ((rc = blob_stat(&size, v->l, &d->digest, &e)) < 0)
			return unreadable(v, what, &e);
		if (size != d->size)
			return problem(v, what, "%lld bytes, the descriptor says %lld",
				       (long long)size, (long long)d->size);
		return 0;
	}
	rc = reg_blob_head(&size, v->reg, v->ref->repository, &d->digest, &e);
	if (rc < 0)
		return problem(v, what, "%s", e.msg);
	if (size >= 0 && size != d->size)
		return problem(v, what, "the registry has %lld bytes, the descriptor says %lld",
			       (long long)size, (long long)d->size);
	return 0;
}

static int null_sink(void *arg, const char *data, size_t len, struct err *e)
{
	(void)arg;
	(void)data;
	(void)len;
	(void)e;
	return 0;
}

/* An arbitrary blob (an artifact's config or layers, an SBOM, a signature,
 * an encrypted layer, an index entry of a type hoist does not know): its
 * size and digest, nothing of its content. */
static int check_blob(struct vctx *v, const char *what, const struct descriptor *d)
{
	struct err e = ERR_INIT;
	struct digest got;
	int64_t size;
	int fd = -1, rc;

	if (v->flags & VALIDATE_FAST)
		return check_present(v, what, d);
	if (!v->l) {
		/* reg_blob_get checks size and digest itself */
		rc = reg_blob_get(v->reg, v->ref->repository, d, null_sink, NULL, &e);
		if (rc == ERR_NOMEM)
			return rc;
		return rc < 0 ? problem(v, what, "%s", e.msg) : 0;
	}
	if ((rc = blob_open(&fd, &size, v->l, &d->digest, &e)) == 0)
		rc = digest_fd(&got, &size, d->digest.alg, fd, &e);
	if (fd >= 0)
		close(fd);
	if (rc == ERR_NOMEM)
		return rc;
	if (rc < 0)
		return unreadable(v, what, &e);
	if (size != d->size)
		return problem(v, what, "%lld bytes, the descriptor says %lld", (long long)size,
			       (long long)d->size);
	if (!digest_equal(&got, &d->digest))
		return problem(v, what, "the content's digest is %s", got.str);
	return 0;
}

/* Drains what the thread filling the pipe `fd` still writes, so that it
 * can finish, and joins it. */
static void pipe_join(int fd, pthread_t th)
{
	char sink[65536];

	while (read(fd, sink, sizeof(sink)) > 0)
		;
	pthread_join(th, NULL);
}

/* Layer `d` for reading in `*fd`: its blob in the layout, or a pipe that a
 * thread (`*th`, then `*started` is 1) fills from the registry.  1 when it
 * is open, else what problem() returned. */
static int check_layer_open(int *fd, struct pipe_job *job, pthread_t *th, int *started,
			    struct vctx *v, const char *what, const struct descriptor *d)
{
	struct err e = ERR_INIT;
	int64_t size;
	int p[2];

	if (v->l) {
		if (blob_open(fd, &size, v->l, &d->digest, &e) < 0)
			return unreadable(v, what, &e);
		return 1;
	}
	if (pipe2(p, O_CLOEXEC) < 0)
		return problem(v, what, "cannot make a pipe: %s", strerror(errno));
	*fd = p[0];
	job->fd = p[1];
	job->reg = v->reg;
	job->repo = v->ref->repository;
	job->d = d;
	if (pthread_create(th, NULL, pipe_main, job) != 0) {
		close(p[1]);
		job->fd = -1;
		return problem(v, what, "cannot start a thread");
	}
	*started = 1;
	return 1;
}

/* What reading layer `d` gave (`res`) against its descriptor, its media
 * type and the config's diff_id (may be NULL): every mismatch a problem. */
static int check_layer_result(struct vctx *v, const char *what, const struct descriptor *d,
			      const struct tar_result *res, const struct digest *diff_id)
{
	unsigned bits = mediatype_layer_bits(d->media_type);
	enum tar_compression want = bits & MT_LAYER_GZIP ? TAR_COMPRESS_GZIP :
				    bits & MT_LAYER_ZSTD ? TAR_COMPRESS_ZSTD : TAR_COMPRESS_NONE;
	int ret = 0;

	if (res->size != d->size)
		ret = problem(v, what, "%lld bytes, the descriptor says %lld",
			      (long long)res->size, (long long)d->size);
	if (ret == 0 && !digest_equal(&res->digest, &d->digest))
		ret = problem(v, what, "the content's digest is %s", res->digest.str);
	if (ret == 0 && res->compression != want)
		ret = problem(v, what, "the content is %s, the media type '%s' says %s",
			      tar_compression_name(res->compression), d->media_type,
			      tar_compression_name(want));
	if (ret == 0 && diff_id && !digest_equal(&res->diff_id, diff_id))
		ret = problem(v, what, "diff_id %s, the config says %s", res->diff_id.str,
			      diff_id->str);
	return ret;
}

static int check_layer(struct vctx *v, const char *what, const struct descriptor *d,
		       const struct digest *diff_id)
{
	struct tar_reader_opts o;
	struct tar_reader *r = NULL;
	struct tar_header h;
	struct tar_result res;
	struct pipe_job job;
	struct err e = ERR_INIT;
	pthread_t th;
	int fd = -1, started = 0, rc, ret = 0;

	memset(&job, 0, sizeof(job));
	job.fd = -1;
	if (v->flags & VALIDATE_FAST)
		return check_present(v, what, d);
	if ((ret = check_layer_open(&fd, &job, &th, &started, v, what, d)) != 1)
		goto out;
	ret = 0;
	memset(&o, 0, sizeof(o));
	o.fd = fd;
	if ((rc = tar_reader_new(&r, &o, &e)) < 0) {
		ret = problem(v, what, "%s", e.msg);
		goto out;
	}
	while ((rc = tar_reader_next(r, &h, &e)) == 1)
		;
	if (rc == 0)
		rc = tar_reader_finish(r, &res, &e);
	/* Drain what the thread still writes, so it can finish. */
	if (started) {
		pipe_join(fd, th);
		started = 0;
		if (job.rc < 0) {
			ret = problem(v, what, "%s", job.e.msg);
			goto out;
		}
	}
	if (rc < 0)
		ret = problem(v, what, "not a valid layer: %s", e.msg);
	else
		ret = check_layer_result(v, what, d, &res, diff_id);
out:
	if (started)
		pipe_join(fd, th);
	tar_reader_free(r);
	if (fd >= 0)
		close(fd);
	return ret;
}

static int check_image(struct vctx *v, const char *what, const struct descriptor *d,
		       const struct platform *want);

static int check_index(struct vctx *v, const char *what, struct manifest *m)
{
	struct buf cw = BUF_INIT;
	size_t i;
	int ret = 0;

	for (i = 0; i < m->n_manifests && ret >= 0; i++) {
		const struct descriptor *c = &m->manifests[i];

		buf_reset(&cw);
		buf_addf(&cw, "%s: manifests[%zu] %s", what, i, c->digest.str);
		if (buf_failed(&cw))
			ret = ERR_NOMEM;
		else
			ret = check_image(v, cw.data, c, c->platform);
	}
	buf_release(&cw);
	return ret;
}

static int plat_eq(const char *a, const char *b)
{
	if (!a || !*a)
		return !b || !*b;
	return b && !strcmp(a, b);
}

/* The family of a manifest's config and layers must be the manifest's own:
 * podman, skopeo, buildah and CRI-O refuse a Docker manifest naming OCI
 * types ("unsupported docker v2s2 media type"), and OCI tools do not know
 * Docker's.  Types of neither family (artifacts) mix with both. */
static int check_family(struct vctx *v, const char *what, const char *part,
			const char *mt, const char *manifest_mt)
{
	enum mediatype_family want = mediatype_family(manifest_mt), have = mediatype_family(mt);

	if (want == MT_FAMILY_NONE || have == MT_FAMILY_NONE || have == want)
		return 0;
	return problem(v, what, "%s: the %s media type '%s' in %s manifest: podman, skopeo "
		       "and CRI-O refuse an image that mixes the two; write the whole image "
		       "with OCI media types (the blobs stay the same)", part,
		       have == MT_FAMILY_OCI ? "OCI" : "Docker", mt,
		       want == MT_FAMILY_OCI ? "an OCI" : "a Docker schema 2");
}

static int check_families(struct vctx *v, const char *what, const struct manifest *m)
{
	char part[48];
	size_t i;
	int ret = check_family(v, what, "config", m->config.media_type, m->media_type);

	for (i = 0; i < m->n_layers && ret >= 0; i++) {
		snprintf(part, sizeof(part), "layers[%zu]", i);
		ret = check_family(v, what, part, m->layers[i].media_type, m->media_type);
	}
	return ret;
}

/* The config: an image's is read and parsed (`*have` set when it parses),
 * an artifact's is a blob (digest and size only).
 * `cw` names the config in problems. */
static int check_config(struct imgconfig *cfg, int *have, struct vctx *v, const char *cw,
			const struct manifest *m)
{
	struct buf raw = BUF_INIT;
	struct err e = ERR_INIT;
	int ret;

	*have = 0;
	if (!manifest_is_image(m)) {
		if (mediatype_equal(m->config.media_type, MT_OCI_EMPTY) && !m->artifact_type &&
		    (ret = problem(v, cw, "the config is the empty descriptor but the manifest "
				   "has no artifactType, which the image spec then requires; "
				   "set it to the artifact's media type")) < 0)
			return ret;
		return check_blob(v, cw, &m->config);
	}
	ret = read_small(&raw, v, cw, &m->config, 0);
	if (ret == 0) {
		if (imgconfig_parse(cfg, raw.data, raw.len, 0, &e) < 0)
			ret = problem(v, cw, "%s", e.msg);
		else
			*have = 1;
	}
	buf_release(&raw);
	return ret < 0 ? ret : 0;
}

/* An index entry's platform against its image's config. */
static int check_platform(struct vctx *v, const char *what, const struct platform *want,
			  const struct imgconfig *cfg)
{
	struct buf a = BUF_INIT, b = BUF_INIT;
	int ret, only;

	if (!want || (plat_eq(want->os, cfg->platform.os) &&
		      plat_eq(want->arch, cfg->platform.arch) &&
		      (!want->variant || plat_eq(want->variant, cfg->platform.variant))))
		return 0;
	platform_format(&a, want);
	platform_format(&b, &cfg->platform);
	only = v->platform_only;
	v->platform_only = 0;
	ret = problem(v, what, "the index says platform %s, the config says %s", a.data, b.data);
	v->platform_only = only;
	buf_release(&a);
	buf_release(&b);
	return ret;
}

/* Each layer: a filesystem layer is read as a tar and checked against its
 * media type and the config's diff_id (`cfg`, or NULL); any other type is
 * an arbitrary blob. */
static int check_layers(struct vctx *v, const char *what, const struct manifest *m,
			const struct imgconfig *cfg)
{
	struct buf lw = BUF_INIT;
	size_t i;
	int ret = 0;

	for (i = 0; i < m->n_layers && ret >= 0; i++) {
		const struct descriptor *ld = &m->layers[i];
		const struct digest *di = cfg && i < cfg->n_diff_ids ? &cfg->diff_ids[i] : NULL;

		buf_reset(&lw);
		buf_addf(&lw, "%s: layers[%zu] %s", what, i, ld->digest.str);
		if (buf_failed(&lw))
			ret = ERR_NOMEM;
		else if (mediatype_classify(ld->media_type) != MT_KIND_LAYER)
			ret = check_blob(v, lw.data, ld);
		else if (ld->urls.n && (mediatype_layer_bits(ld->media_type) & MT_LAYER_FOREIGN))
			continue;	/* foreign layers are not in the registry */
		else
			ret = check_layer(v, lw.data, ld, di);
	}
	buf_release(&lw);
	return ret;
}

/* An image manifest (or an artifact's): image semantics where its media
 * types say it is an image, digests and sizes everywhere. */
static int check_manifest(struct vctx *v, const char *what, const struct manifest *m,
			  const struct platform *want)
{
	struct buf cw = BUF_INIT;
	struct imgconfig cfg;
	int ret, have_cfg = 0;

	imgconfig_init(&cfg);
	if (!v->platform_only && (ret = check_families(v, what, m)) < 0)
		goto out;
	if (buf_addf(&cw, "%s: config %s", what, m->config.digest.str) < 0) {
		ret = ERR_NOMEM;
		goto out;
	}
	if ((ret = check_config(&cfg, &have_cfg, v, cw.data, m)) < 0)
		goto out;
	if (have_cfg && (ret = check_platform(v, what, want, &cfg)) < 0)
		goto out;
	if (v->platform_only)
		goto out;
	if (have_cfg && cfg.n_diff_ids != m->n_layers &&
	    (ret = problem(v, what, "%zu layers but %zu diff_ids in the config", m->n_layers,
			   cfg.n_diff_ids)) < 0)
		goto out;
	ret = check_layers(v, what, m, have_cfg ? &cfg : NULL);
out:
	imgconfig_release(&cfg);
	buf_release(&cw);
	return ret;
}

/* An index entry of a type hoist does not know, in a registry: it is
 * there by its digest, with its size. */
static int check_remote_entry(struct vctx *v, const char *what, const struct descriptor *d)
{
	struct ref r = { v->ref->registry, v->ref->repository, NULL, (char *)d->digest.str };
	struct descriptor got;
	struct err e = ERR_INIT;
	int ret;

	descriptor_init(&got);
	if ((ret = reg_manifest_head(&got, v->reg, &r, &e)) == ERR_NOMEM)
		return ret;
	if (ret < 0)
		ret = problem(v, what, "%s", e.msg);
	else if (got.size != d->size)
		ret = problem(v, what, "the registry has %lld bytes, the descriptor says %lld",
			      (long long)got.size, (long long)d->size);
	descriptor_release(&got);
	return ret;
}

/* 1 when the report has checked `d` for `want` already, as another
 * entry's (the same bytes under the same media type, for the same
 * platform, give the same findings); else 0, and from now on it has. */
/* 1 when `d` was checked already (its bytes under its media type give the
 * same findings whoever names them), else 0 and it is recorded; negative on
 * failure.  With `want`, an entry's platform is a finding of its own: keyed
 * apart, so that each platform an image is named with is checked once. */
static int check_seen(struct vctx *v, const struct descriptor *d, const struct platform *want)
{
	struct buf key = BUF_INIT;
	int ret;

	buf_addf(&key, "%s %s", d->digest.str, d->media_type ? d->media_type : "");
	if (want) {
		buf_addch(&key, ' ');
		if (platform_format(&key, want) < 0)
			buf_setlen(&key, 0);
	}
	if (buf_failed(&key) || !key.len)
		ret = ERR_NOMEM;
	else if (strvec_find(&v->out->seen, key.data) >= 0)
		ret = 1;
	else
		ret = strvec_push(&v->out->seen, key.data);
	buf_release(&key);
	return ret;
}

static int check_image(struct vctx *v, const char *what, const struct descriptor *d,
		       const struct platform *want)
{
	struct buf raw = BUF_INIT;
	struct manifest m;
	struct err e = ERR_INIT;
	enum mt_kind k = mediatype_classify(d->media_type);
	int ret;

	manifest_init(&m);
	if ((ret = check_seen(v, d, NULL)) < 0)
		return ret;
	if (ret == 1) {
		/* checked already: what is left is this entry's platform */
		if (!want || k != MT_KIND_MANIFEST || (ret = check_seen(v, d, want)) != 0)
			return ret < 0 ? ret : 0;
		v->platform_only = 1;
	} else if (want && (ret = check_seen(v, d, want)) < 0) {
		return ret;
	}
	if (k != MT_KIND_MANIFEST && k != MT_KIND_INDEX && k != MT_KIND_SCHEMA1) {
		/* an index may name anything: what hoist does not know is a blob */
		ret = v->l ? check_blob(v, what, d) : check_remote_entry(v, what, d);
		goto out;
	}
	if ((ret = read_small(&raw, v, what, d, 1)) != 0) {
		ret = ret > 0 ? 0 : ret;
		goto out;
	}
	if (manifest_parse(&m, raw.data, raw.len, d->media_type, 0, &e) < 0)
		ret = problem(v, what, "%s", e.msg);
	else if (m.kind == MT_KIND_INDEX)
		ret = check_index(v, what, &m);
	else
		ret = check_manifest(v, what, &m, want);
out:
	v->platform_only = 0;
	manifest_release(&m);
	buf_release(&raw);
	return ret < 0 ? ret : 0;
}

int validate_layout(struct validate_report *out, struct layout *l,
			  const struct descriptor *root, unsigned flags, struct err *e)
{
	struct vctx v;
	int ret;

	memset(&v, 0, sizeof(v));
	v.out = out;
	v.flags = flags;
	v.l = l;
	ret = check_image(&v, root->digest.str, root, root->platform);
	if (ret < 0)
		return err_set(e, ret, "out of memory");
	return 0;
}

int validate_ref(struct validate_report *out, struct env *env, const struct ref *ref,
		       unsigned flags, struct err *e)
{
	struct manifest m;
	struct descriptor d;
	struct vctx v;
	int ret;

	manifest_init(&m);
	descriptor_init(&d);
	memset(&v, 0, sizeof(v));
	v.out = out;
	v.flags = flags;
	v.env = env;
	v.ref = ref;
	if ((ret = resolve_ref(&m, env, ref, e)) < 0)
		goto out;
	if ((ret = env_reg(&v.reg, env, ref->registry, e)) < 0)
		goto out;
	d.media_type = strdup(m.media_type ? m.media_type : "");
	d.digest = m.digest;
	d.size = (int64_t)m.raw.len;
	if (!d.media_type) {
		ret = err_set(e, ERR_NOMEM, "out of memory");
		goto out;
	}
	ret = check_image(&v, d.digest.str, &d, NULL);
	if (ret < 0)
		err_set(e, ret, "out of memory");
out:
	descriptor_release(&d);
	manifest_release(&m);
	return ret;
}

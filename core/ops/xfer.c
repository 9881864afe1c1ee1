/* xfer.c - parallel blob transfers over per-thread HTTP clients.  See xfer.h. */
#include "core/ops/xfer.h"

#include "core/base/err.h"
#include "registry/reg.h"
#include "registry/reg_manifest.h"
#include "core/ops/env.h"
#include "registry/http.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

struct xfer_pool {
	struct env *env;
	pthread_mutex_t lock;
	size_t n, next;
	int stop;
	xfer_job_fn *fn;
	void *arg;
	int rc;			/* the first failure */
	struct err e;
	pthread_mutex_t reg_lock;	/* guards tmpl */
	struct reg *tmpl[2];		/* a pinged session per side (worker_adopt) */
};

static int xfer_creds(struct creds *out, void *arg, const char *registry, struct err *e)
{
	struct xfer_pool *p = arg;
	int rc;

	pthread_mutex_lock(&p->lock);
	rc = p->env->reg_opts.creds(out, p->env->reg_opts.creds_arg, registry, e);
	pthread_mutex_unlock(&p->lock);
	return rc;
}

int xfer_retryable(const struct err *e)
{
	return e->code == ERR_NETWORK || e->http_status == 408 || e->http_status == 429 ||
	       e->http_status >= 500;
}

/* Mirror lines from this worker's sessions, under the pool's lock. */
static void xfer_mirror_log(void *arg, int level, const char *line)
{
	xfer_log(arg, level, "%s", line);
}

/* Gives the worker's new session of `registry` what a ping learns (scheme,
 * auth, tokens), so that the workers do not each probe TLS and ping: from
 * the env's session when it has pinged (the caller's thread waits in
 * xfer_run(), so reading it is safe), else from one ping made once for the
 * pool on a template session, which is never used for anything else. */
static int worker_adopt(struct xfer_worker *w, enum xfer_side side, const char *registry,
			struct err *e)
{
	struct xfer_pool *p = w->pool;
	size_t i;
	int rc;

	for (i = 0; i < w->env->n_regs; i++)
		if (!strcmp(w->env->reg_names[i], registry) &&
		    (rc = reg_adopt(w->reg[side], w->env->regs[i], e)) != 0)
			return rc < 0 ? rc : 0;
	pthread_mutex_lock(&p->reg_lock);
	if (!p->tmpl[side]) {
		struct reg *t = NULL;
		/* over this worker's HTTP client: the connection stays for it */
		rc = env_reg_open(&t, w->env, &w->opts[side], registry, e);
		if (rc == 0 && (rc = reg_connect(t, e)) < 0) {
			reg_free(t);
			t = NULL;
		}
		if (rc < 0) {
			pthread_mutex_unlock(&p->reg_lock);
			return rc;
		}
		p->tmpl[side] = t;
	}
	rc = reg_adopt(w->reg[side], p->tmpl[side], e);
	pthread_mutex_unlock(&p->reg_lock);
	return rc < 0 ? rc : 0;
}

int xfer_worker_reg(struct reg **out, struct xfer_worker *w, enum xfer_side side,
		    const char *registry, struct err *e)
{
	int rc;

	*out = NULL;
	if (side == XFER_DST && w->use_env)
		return env_reg(out, w->env, registry, e);
	if (w->reg[side]) {
		if (strcmp(w->reg_name[side], registry))
			return err_set(e, ERR_USAGE, "xfer: one registry per side ('%s', not '%s')",
				       w->reg_name[side], registry);
		*out = w->reg[side];
		return 0;
	}
	if (!w->http[side])
		return err_set(e, ERR_USAGE, "xfer: side %d was not set up", (int)side);
	if (w->env->offline)
		return err_set(e, ERR_USAGE, "'%s' is needed from the registry, but --offline "
			       "forbids the network", registry);
	w->reg_name[side] = strdup(registry);
	if (!w->reg_name[side])
		return err_set(e, ERR_NOMEM, "out of memory");
	if ((rc = env_reg_open(&w->reg[side], w->env, &w->opts[side], registry, e)) < 0) {
		free(w->reg_name[side]);
		w->reg_name[side] = NULL;
		return rc;
	}
	reg_mirror_log_set(w->reg[side], xfer_mirror_log, w);
	if ((rc = worker_adopt(w, side, registry, e)) < 0)
		return rc;
	*out = w->reg[side];
	return 0;
}

void xfer_log(struct xfer_worker *w, int level, const char *fmt, ...)
{
	struct buf b = BUF_INIT;
	va_list ap;

	if (!w->env->log)
		return;
	va_start(ap, fmt);
	buf_vaddf(&b, fmt, ap);
	va_end(ap);
	if (!buf_failed(&b)) {
		pthread_mutex_lock(&w->pool->lock);
		w->env->log(w->env->log_arg, level, b.data);
		pthread_mutex_unlock(&w->pool->lock);
	}
	buf_release(&b);
}

void xfer_progress(struct xfer_worker *w, const struct descriptor *d, const char *what)
{
	struct env_progress p;

	if (!w->env->progress)
		return;
	env_progress_set(&p, d, what, d->size, 1);
	pthread_mutex_lock(&w->pool->lock);
	w->env->progress(w->env->progress_arg, &p);
	pthread_mutex_unlock(&w->pool->lock);
}

static void *xfer_thread(void *arg)
{
	struct xfer_worker *w = arg;
	struct xfer_pool *p = w->pool;
	struct err e = ERR_INIT;
	size_t i;
	int rc;

	for (;;) {
		pthread_mutex_lock(&p->lock);
		if (p->stop || p->next >= p->n) {
			pthread_mutex_unlock(&p->lock);
			break;
		}
		i = p->next++;
		pthread_mutex_unlock(&p->lock);
		err_clear(&e);
		rc = p->fn(w, i, p->arg, &e);
		if (rc < 0) {
			pthread_mutex_lock(&p->lock);
			if (!p->rc) {
				p->rc = rc;
				p->e = e;
			}
			p->stop = 1;
			pthread_mutex_unlock(&p->lock);
		}
	}
	return NULL;
}

static void worker_release(struct xfer_worker *w)
{
	int s;

	for (s = 0; s < 2; s++) {
		reg_free(w->reg[s]);
		free(w->reg_name[s]);
		http_client_free(w->http[s]);
	}
}

static int worker_init(struct xfer_worker *w, struct xfer_pool *p, int use_env, int sides,
		       struct err *e)
{
	int s, rc;

	memset(w, 0, sizeof(*w));
	w->pool = p;
	w->env = p->env;
	w->use_env = use_env;
	for (s = use_env ? 1 : 0; s < sides; s++) {
		w->opts[s] = p->env->reg_opts;
		if (p->env->reg_opts.creds) {
			w->opts[s].creds = xfer_creds;
			w->opts[s].creds_arg = p;
		}
		if ((rc = http_client_dup(&w->http[s], p->env->reg_opts.http, e)) < 0)
			return rc;
		w->opts[s].http = w->http[s];
	}
	return 0;
}

int xfer_run(struct env *env, size_t n, unsigned flags, xfer_job_fn *fn, void *arg,
	     struct err *e)
{
	struct xfer_pool p;
	struct xfer_worker *ws = NULL;
	pthread_t *tids = NULL;
	size_t nw, i, started = 0;
	int sides = flags & XFER_AUX ? 2 : 1, ret = 0;

	if (!n)
		return 0;
	memset(&p, 0, sizeof(p));
	p.env = env;
	p.n = n;
	p.fn = fn;
	p.arg = arg;
	pthread_mutex_init(&p.lock, NULL);
	pthread_mutex_init(&p.reg_lock, NULL);
	nw = env->jobs > 1 ? (size_t)env->jobs : 1;
	if (nw > n)
		nw = n;
	ws = calloc(nw, sizeof(*ws));
	tids = calloc(nw, sizeof(*tids));
	if (!ws || !tids) {
		ret = err_set(e, ERR_NOMEM, "out of memory");
		goto out;
	}
	if (nw == 1 && sides == 1) {
		/* one at a time: on this thread, with the env's sessions */
		if ((ret = worker_init(&ws[0], &p, 1, 1, e)) < 0)
			goto out;
		xfer_thread(&ws[0]);
	} else {
		for (i = 0; i < nw; i++)
			if ((ret = worker_init(&ws[i], &p, 0, sides, e)) < 0)
				goto out;
		for (started = 0; started < nw; started++) {
			if (pthread_create(&tids[started], NULL, xfer_thread, &ws[started]))
				break;
		}
		if (!started) {
			ret = err_set(e, ERR_FAIL, "cannot start a transfer thread");
			goto out;
		}
		for (i = 0; i < started; i++)
			pthread_join(tids[i], NULL);
		/* a thread that could not start left its jobs to the others */
	}
	if (p.rc < 0) {
		ret = p.rc;
		if (e)
			*e = p.e;
	}
out:
	for (i = 0; ws && i < nw; i++)
		worker_release(&ws[i]);
	free(ws);
	free(tids);
	reg_free(p.tmpl[0]);
	reg_free(p.tmpl[1]);
	pthread_mutex_destroy(&p.reg_lock);
	pthread_mutex_destroy(&p.lock);
	return ret;
}

/* ---- plans ---- */

#define PLAN_MAX_DEPTH 4

void xfer_plan_release(struct xfer_plan *plan)
{
	size_t i;

	for (i = 0; i < plan->n_mans; i++)
		manifest_release(&plan->mans[i]);
	for (i = 0; i < plan->n_blobs; i++)
		descriptor_release(&plan->blobs[i]);
	free(plan->mans);
	free(plan->blobs);
	memset(plan, 0, sizeof(*plan));
}

static const struct manifest *plan_manifest(const struct xfer_plan *plan,
					     const struct digest *d)
{
	size_t i;

	for (i = 0; i < plan->n_mans; i++)
		if (digest_equal(&plan->mans[i].digest, d))
			return &plan->mans[i];
	return NULL;
}

/* The manifest of the plan that lists blob `d` (config or layer), else
 * `m`, the one being walked. */
static const struct manifest *plan_blob_lister(const struct xfer_plan *plan,
					      const struct digest *d, const struct manifest *m)
{
	size_t i, j;

	for (i = 0; i < plan->n_mans; i++) {
		const struct manifest *pm = &plan->mans[i];
		if (pm->kind == MT_KIND_INDEX)
			continue;
		if (digest_equal(&pm->config.digest, d))
			return pm;
		for (j = 0; j < pm->n_layers; j++)
			if (digest_equal(&pm->layers[j].digest, d))
				return pm;
	}
	return m;
}

/* Adds blob `d` of manifest `m`, once: a blob listed again must have the
 * same size, as one digest is one content (else the blob would be sent for
 * the first descriptor and published with the other as well). */
static int plan_add_blob(struct xfer_plan *plan, const struct manifest *m,
			 const struct descriptor *d, struct err *e)
{
	struct descriptor *nb;
	size_t i;

	for (i = 0; i < plan->n_blobs; i++) {
		const struct descriptor *b = &plan->blobs[i];
		if (!digest_equal(&b->digest, &d->digest))
			continue;
		if (b->size == d->size)
			return 0;
		return err_set(e, ERR_INVALID, "blob %s: manifest %s gives %lld bytes, manifest "
			       "%s gives %lld: one descriptor is wrong", d->digest.str,
			       plan_blob_lister(plan, &d->digest, m)->digest.str,
			       (long long)b->size, m->digest.str, (long long)d->size);
	}
	nb = realloc(plan->blobs, (plan->n_blobs + 1) * sizeof(*nb));
	if (!nb)
		return err_set(e, ERR_NOMEM, "out of memory");
	plan->blobs = nb;
	if (descriptor_copy(&nb[plan->n_blobs], d) < 0)
		return err_set(e, ERR_NOMEM, "out of memory");
	plan->n_blobs++;
	return 0;
}

/* Checks that manifest `got`, which index `idx` lists as `c`, has the size
 * `c` gives. */
static int plan_check_child(const struct manifest *idx, const struct descriptor *c,
			    const struct manifest *got, struct err *e)
{
	if (!digest_equal(&got->digest, &c->digest))
		return err_set(e, ERR_DIGEST, "manifest %s hashes to %s", c->digest.str,
			       got->digest.str);
	if ((uint64_t)c->size != got->raw.len)
		return err_set(e, ERR_INVALID, "index %s lists manifest %s as %lld bytes, but it "
			       "has %zu bytes", idx->digest.str, c->digest.str, (long long)c->size,
			       got->raw.len);
	return 0;
}

static int plan_walk(struct xfer_plan *plan, struct manifest *m, xfer_fetch_fn *fetch,
		     void *arg, int depth, struct err *e);

/* The children of index `m`: each fetched and walked once, each descriptor
 * checked. */
static int plan_walk_children(struct xfer_plan *plan, const struct manifest *m,
			      xfer_fetch_fn *fetch, void *arg, int depth, struct err *e)
{
	const struct manifest *have;
	struct manifest child;
	size_t i;
	int ret = 0;

	manifest_init(&child);
	for (i = 0; i < m->n_manifests; i++) {
		const struct descriptor *c = &m->manifests[i];
		if ((have = plan_manifest(plan, &c->digest))) {
			if ((ret = plan_check_child(m, c, have, e)) < 0)
				goto out;
			continue;
		}
		if (depth >= PLAN_MAX_DEPTH) {
			ret = err_set(e, ERR_UNSUPPORTED, "indexes nested more than %d deep",
				      PLAN_MAX_DEPTH);
			goto out;
		}
		if ((ret = fetch(&child, arg, c, e)) < 0 ||
		    (ret = plan_check_child(m, c, &child, e)) < 0 ||
		    (ret = plan_walk(plan, &child, fetch, arg, depth + 1, e)) < 0)
			goto out;
		manifest_release(&child);
	}
out:
	manifest_release(&child);
	return ret;
}

static int plan_walk(struct xfer_plan *plan, struct manifest *m, xfer_fetch_fn *fetch,
		     void *arg, int depth, struct err *e)
{
	struct manifest *nm;
	size_t i;
	int ret;

	if (m->kind == MT_KIND_INDEX) {
		if ((ret = plan_walk_children(plan, m, fetch, arg, depth, e)) < 0)
			return ret;
	} else {
		if ((ret = plan_add_blob(plan, m, &m->config, e)) < 0)
			return ret;
		for (i = 0; i < m->n_layers; i++)
			if ((ret = plan_add_blob(plan, m, &m->layers[i], e)) < 0)
				return ret;
	}
	nm = realloc(plan->mans, (plan->n_mans + 1) * sizeof(*nm));
	if (!nm)
		return err_set(e, ERR_NOMEM, "out of memory");
	plan->mans = nm;
	nm[plan->n_mans++] = *m;	/* moved */
	manifest_init(m);
	return 0;
}

int xfer_plan_walk(struct xfer_plan *plan, struct manifest *root, xfer_fetch_fn *fetch,
		   void *arg, struct err *e)
{
	return plan_walk(plan, root, fetch, arg, 0, e);
}

int xfer_plan_put_manifests(struct env *env, struct reg *r, const char *repo,
			    const char *tag, const struct xfer_plan *plan, const char *what,
			    const char *dest, struct err *e)
{
	size_t i;
	int ret;

	for (i = 0; i < plan->n_mans; i++) {
		const struct manifest *m = &plan->mans[i];
		const char *mt = m->media_type;
		const char *name = m->digest.str;

		if (!mt)
			mt = m->kind == MT_KIND_INDEX ? MT_OCI_INDEX : MT_OCI_MANIFEST;
		if (i + 1 == plan->n_mans && tag)
			name = tag;
		env->n_manifest_requests++;
		if ((ret = reg_manifest_put(NULL, r, repo, name, mt, m->raw.data, m->raw.len,
					    e)) < 0)
			return ret;
		env_log(env, 1, "%s: manifest %s as %s:%s", what, m->digest.str, dest, name);
	}
	return 0;
}

/* xfer.h - parallel blob transfers for push and copy (internal to core/).
 *
 * The registry client is synchronous and a `struct http_client` serves one
 * thread at a time, so parallel transfers run on threads that each own
 * their HTTP clients (http_client_dup(): same certificates, retries and
 * trace, a connection pool of their own) and their registry sessions.  A
 * worker has two sides, each with one client and one session: side 0 (the
 * destination) and side 1 (a source, for copy's streaming reader thread).
 *
 * xfer_run() hands the jobs 0..n-1 out to min(jobs, n) workers; the first
 * failure stops the handing out (jobs already running finish) and is
 * returned.  With one worker and no XFER_AUX the job runs on the caller's
 * thread with the env's own sessions (no new connection, no new token).
 *
 * Logging and progress from workers go through xfer_log()/xfer_progress(),
 * which serialise the env's callbacks; credential lookups are serialised
 * the same way.  Jobs must not touch env->cache's index (blob reads are
 * fine: a struct layout is thread-safe for them) nor env->regs.
 */
#ifndef HOIST_XFER_H
#define HOIST_XFER_H

#include "core/ops/env.h"

#include <stddef.h>

struct err;
struct http_client;
struct reg;
struct xfer_pool;

enum xfer_side {
	XFER_DST = 0,
	XFER_SRC = 1,
};

struct xfer_worker {
	struct xfer_pool *pool;
	struct env *env;		/* borrowed: the caller's */
	int use_env;			/* side 0 is env's own sessions (one worker) */
	struct http_client *http[2];
	struct reg_client_opts opts[2];
	struct reg *reg[2];
	char *reg_name[2];
};

enum xfer_flags {
	XFER_AUX = 1 << 0,	/* workers need side 1 too (a second thread each) */
};

/* One job: returns 0 or a negative err_code with `e` filled. */
typedef int xfer_job_fn(struct xfer_worker *w, size_t i, void *arg, struct err *e);

/* Runs jobs 0..n-1 over min(env->jobs, n) workers (at least 1). */
int xfer_run(struct env *env, size_t n, unsigned flags, xfer_job_fn *fn, void *arg,
	     struct err *e);

/* The worker's session with `registry` on `side` (opened on first use; one
 * registry per side). */
int xfer_worker_reg(struct reg **out, struct xfer_worker *w, enum xfer_side side,
		    const char *registry, struct err *e);

void xfer_log(struct xfer_worker *w, int level, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* Reports blob `d` done (`what`: "push", "copy", "mount", "exists") to
 * env->progress, serialised with the other workers. */
void xfer_progress(struct xfer_worker *w, const struct descriptor *d, const char *what);

/* What an image (or index, with every child) is made of: the manifests in
 * the order they must be pushed (children before their index, the root
 * last) and the blobs (configs and layers) without duplicates. */
struct xfer_plan {
	struct manifest *mans;
	size_t n_mans;
	struct descriptor *blobs;
	size_t n_blobs;
};

#define XFER_PLAN_INIT { NULL, 0, NULL, 0 }

/* Fetches the manifest `d` names (a child of an index) into `out`. */
typedef int xfer_fetch_fn(struct manifest *out, void *arg, const struct descriptor *d,
			  struct err *e);

/* Adds `root` (moved into the plan: left initialised-empty) and everything
 * it reaches; children of indexes come from `fetch`.  Every descriptor is
 * checked, not only the first of a digest: ERR_INVALID when two give one
 * blob different sizes, or an index gives a manifest another size than its
 * bytes have (ERR_DIGEST: another digest). */
int xfer_plan_walk(struct xfer_plan *plan, struct manifest *root, xfer_fetch_fn *fetch,
		   void *arg, struct err *e);
void xfer_plan_release(struct xfer_plan *plan);

/* Puts the plan's manifests into `repo` of registry session `r` in order,
 * children by digest and the root last, by `tag` when given (else by
 * digest); `what` ("push", "copy") and `dest` name them in -v logs.  The
 * blobs must be there already. */
int xfer_plan_put_manifests(struct env *env, struct reg *r, const char *repo,
			    const char *tag, const struct xfer_plan *plan, const char *what,
			    const char *dest, struct err *e);

/* 1 when a failed transfer may succeed if tried again: a network error, or
 * HTTP 408, 429 or 5xx. */
int xfer_retryable(const struct err *e);

#endif

/* env.h - what every operation runs in: the registry sessions (opened on
 * first use, the config's mirrors applied), the cache, the pull policy and
 * cmd/'s log and progress callbacks.
 *
 * cmd/ fills one `struct env` per run; operations never print: they log
 * through env->log (shown with -v) and report blob transfers through
 * env->progress.
 */
#ifndef HOIST_ENV_H
#define HOIST_ENV_H

#include "registry/reg.h"

#include <stddef.h>
#include <stdint.h>

struct descriptor;
struct err;
struct layout;
struct platform;
struct reg;
struct settings;

enum pull_policy {
	PULL_MISSING = 0,	/* default: the network only for what the cache lacks */
	PULL_ALWAYS,		/* tags always re-resolved, cached content re-verified by size */
	PULL_NEVER,		/* as offline */
};

/* Progress of one blob transfer, for a display in cmd/. */
struct env_progress {
	char id[13];		/* short name: the first 12 hex digits of the digest */
	const char *what;	/* "pull", "push", "copy", "mount", "exists" */
	int64_t done;		/* bytes so far */
	int64_t total;		/* expected bytes, or -1 */
	int finished;		/* 1 once the blob is complete (or skipped) */
};

struct env {
	/* Set by the caller (cmd/), borrowed. */
	struct reg_client_opts reg_opts;	/* http client, credentials, insecure */
	struct layout *cache;		/* the cache, or NULL (no caching) */
	int offline;			/* no network at all */
	enum pull_policy pull;
	int jobs;			/* parallel blob transfers, >= 1 */
	const struct platform *platform;	/* --platform, or NULL */
	/* The config file's per-registry settings (mirrors, insecure), or
	 * NULL (core/model/settings.h). */
	const struct settings *settings;
	/* Log one line (already formatted, may contain server text: the
	 * callee sanitises).  level 1 = -v, 2 = -vv.  May be NULL. */
	void (*log)(void *arg, int level, const char *line);
	void *log_arg;
	/* Called as blob transfers advance; may be NULL. */
	void (*progress)(void *arg, const struct env_progress *p);
	void *progress_arg;

	/* Private: registry sessions opened so far, one per registry. */
	struct reg **regs;
	char **reg_names;
	size_t n_regs;
	/* Counters for tests and -v: requests this env caused. */
	unsigned long n_manifest_requests;
	unsigned long n_blob_requests;
};

void env_init(struct env *env);
/* Frees the registry sessions (not the borrowed fields). */
void env_release(struct env *env);

/* The session for `registry` ("docker.io", "localhost:5000"), opened on
 * first use with env_reg_open() and kept for the env's life.
 * ERR_USAGE when env->offline. */
int env_reg(struct reg **out, struct env *env, const char *registry,
		  struct err *e);

/* Opens a new session for `registry` with the options `o` (and so its
 * http client), env->settings applied: the registry's "insecure", and its
 * mirrors, each a session on the mirror's host (its own credentials, its
 * own "insecure"), which the reads of the session try first and fall back
 * from (reg_mirror_add(): pushes, tags and deletes never go to a mirror).
 * Which endpoint served is logged through env->log at level 1.  For
 * threads that need sessions of their own (core/ops/xfer.c). */
int env_reg_open(struct reg **out, const struct env *env,
		       const struct reg_client_opts *o, const char *registry, struct err *e);

void env_log(struct env *env, int level, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Sets `out` to the progress of blob `d`: `what` (as in struct
 * env_progress), `done` bytes of d->size, `finished` once it is complete
 * (or skipped). */
void env_progress_set(struct env_progress *out, const struct descriptor *d, const char *what,
		      int64_t done, int finished);

#endif

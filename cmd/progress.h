/* progress.h - the per-blob transfer display on stderr (a TTY only).
 *
 * One line per blob: short digest, what happens to it ("pull", "exists",
 * "copy"), bytes done of total and the rate, redrawn in place at most ten
 * times a second.  Disabled (every call a no-op) unless stderr is a
 * terminal and -q was not given, so logs and pipes never see it.
 */
#ifndef HOIST_CMD_PROGRESS_H
#define HOIST_CMD_PROGRESS_H

struct ctx;
struct env_progress;
struct progress;

/* A display for this command line, or NULL when there is to be none (not a
 * TTY, -q, -v logging that would interleave, or out of memory): NULL is a
 * valid argument to the other functions. */
struct progress *progress_new(const struct ctx *ctx);
/* For image_env.progress: `arg` is the struct progress. */
void progress_update(void *arg, const struct env_progress *p);
/* Draws the final state and frees; NULL is a no-op. */
void progress_free(struct progress *pr);

/* progress_new() hooked into ctx->env (progress and progress_arg); the
 * display or NULL as progress_new() returns. */
struct progress *progress_attach(struct ctx *ctx);
/* progress_free(pr), then unhooks ctx->env.progress. */
void progress_detach(struct ctx *ctx, struct progress *pr);

#endif

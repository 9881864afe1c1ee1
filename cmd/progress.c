/* progress.c - the transfer display.  See progress.h. */
#include "cmd/progress.h"

#include "cmd/cmd.h"
#include "core/base/buf.h"
#include "core/ops/env.h"
#include "core/base/units.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define PROGRESS_MAX_LINES 64
#define PROGRESS_INTERVAL_NS 100000000L	/* 10 Hz */

struct progress_line {
	char id[16];
	char what[8];
	int64_t done, total;
	int finished;
	struct timespec start;
};

struct progress {
	struct progress_line lines[PROGRESS_MAX_LINES];
	size_t n;
	size_t drawn;		/* lines on screen from the last draw */
	struct timespec last;
	int dirty;
};

static int64_t ns_between(const struct timespec *a, const struct timespec *b)
{
	return (int64_t)(b->tv_sec - a->tv_sec) * 1000000000 + (b->tv_nsec - a->tv_nsec);
}

struct progress *progress_new(const struct ctx *ctx)
{
	if (ctx->quiet || ctx->verbose > 0 || !isatty(STDERR_FILENO))
		return NULL;
	return calloc(1, sizeof(struct progress));
}

static void size_add(struct buf *b, int64_t n)
{
	if (n < 0)
		buf_addstr(b, "?");
	else
		units_format_size(b, (uint64_t)n);
}

static void draw(struct progress *pr)
{
	struct buf b = BUF_INIT;
	struct timespec now;
	size_t i;

	clock_gettime(CLOCK_MONOTONIC, &now);
	if (pr->drawn)
		buf_addf(&b, "\033[%zuA", pr->drawn);
	for (i = 0; i < pr->n; i++) {
		const struct progress_line *l = &pr->lines[i];
		int64_t ns = ns_between(&l->start, &now);

		buf_addf(&b, "\r\033[K%s  %-6s ", l->id, l->what);
		size_add(&b, l->done);
		buf_addstr(&b, " / ");
		size_add(&b, l->total);
		if (l->finished) {
			buf_addstr(&b, "  done");
		} else if (l->total >= 0 && l->done >= l->total) {
			buf_addstr(&b, "  verifying");
		} else if (ns > 0 && l->done > 0) {
			buf_addstr(&b, "  ");
			size_add(&b, (int64_t)((double)l->done * 1e9 / (double)ns));
			buf_addstr(&b, "/s");
		}
		buf_addch(&b, '\n');
	}
	if (!buf_failed(&b)) {
		fputs(b.data, stderr);
		fflush(stderr);
	}
	buf_release(&b);
	pr->drawn = pr->n;
	pr->last = now;
	pr->dirty = 0;
}

void progress_update(void *arg, const struct env_progress *p)
{
	struct progress *pr = arg;
	struct progress_line *l = NULL;
	struct timespec now;
	size_t i;

	if (!pr)
		return;
	for (i = 0; i < pr->n; i++)
		if (!strcmp(pr->lines[i].id, p->id)) {
			l = &pr->lines[i];
			break;
		}
	clock_gettime(CLOCK_MONOTONIC, &now);
	if (!l) {
		if (pr->n == PROGRESS_MAX_LINES) {
			/* drop the oldest finished line */
			for (i = 0; i < pr->n && !pr->lines[i].finished; i++)
				;
			if (i == pr->n)
				return;
			memmove(&pr->lines[i], &pr->lines[i + 1],
				(pr->n - i - 1) * sizeof(pr->lines[0]));
			pr->n--;
		}
		l = &pr->lines[pr->n++];
		memset(l, 0, sizeof(*l));
		snprintf(l->id, sizeof(l->id), "%s", p->id);
		l->start = now;
	}
	snprintf(l->what, sizeof(l->what), "%s", p->what);
	l->done = p->done;
	l->total = p->total;
	l->finished = p->finished;
	pr->dirty = 1;
	if (ns_between(&pr->last, &now) >= PROGRESS_INTERVAL_NS)
		draw(pr);
}

void progress_free(struct progress *pr)
{
	if (!pr)
		return;
	if (pr->dirty)
		draw(pr);
	free(pr);
}

struct progress *progress_attach(struct ctx *ctx)
{
	struct progress *pr = progress_new(ctx);

	ctx->env.progress = pr ? progress_update : NULL;
	ctx->env.progress_arg = pr;
	return pr;
}

void progress_detach(struct ctx *ctx, struct progress *pr)
{
	progress_free(pr);
	ctx->env.progress = NULL;
}

/* containerfile.h - the Containerfile subset hoist builds.
 *
 * Instructions: FROM [--platform=P] IMAGE [AS NAME], ARG NAME[=DEFAULT]...,
 * ENV (K=V... and the legacy "ENV K V"), LABEL, COPY and ADD ([--chmod=]
 * [--chown=] [--from=] [--link], several sources, globs kept as patterns,
 * the JSON-array form), WORKDIR, USER, ENTRYPOINT and CMD (JSON exec form,
 * or shell form run by SHELL, ["/bin/sh", "-c"] by default), SHELL,
 * EXPOSE, VOLUME, STOPSIGNAL; comments, line continuations, and the
 * `# syntax=` and `# escape=` parser directives.
 *
 * RUN, HEALTHCHECK, ONBUILD, MAINTAINER and anything unknown fail at their
 * line with a message that says what to do instead: hoist builds without a
 * container runtime.  ADD of a URL or git repository fails too: a build
 * reads only local files and images.
 *
 * Variables expand as Docker expands them, in ARG, ENV, LABEL, FROM, COPY,
 * ADD, WORKDIR, USER, EXPOSE, VOLUME and STOPSIGNAL (never in ENTRYPOINT,
 * CMD or SHELL): $VAR, ${VAR}, ${VAR:-default}, ${VAR:+alt}, ${VAR-default},
 * ${VAR+alt}; the escape character makes '$' literal; single quotes stop
 * expansion.  Scopes follow BuildKit: ARGs before the first FROM serve FROM
 * lines and are imported into a stage by a bare `ARG NAME`; --build-arg
 * overrides any ARG's default; ENV wins over ARG; each FROM starts afresh.
 * The caller's predefined args (TARGETOS, TARGETARCH, TARGETVARIANT,
 * TARGETPLATFORM, BUILDPLATFORM, ...) behave as global ARGs, as in buildx.
 * Only the file's own ARG/ENV are known to the parser: a base image's ENV
 * does not take part in expansion.
 */
#ifndef HOIST_CONTAINERFILE_H
#define HOIST_CONTAINERFILE_H

#include "core/base/buf.h"
#include "core/base/strvec.h"
#include "core/model/manifest.h"

#include <stddef.h>
#include <stdint.h>

struct err;

enum cf_kind {
	CF_FROM = 0,
	CF_ARG,
	CF_ENV,
	CF_LABEL,
	CF_COPY,
	CF_ADD,
	CF_WORKDIR,
	CF_USER,
	CF_ENTRYPOINT,
	CF_CMD,
	CF_SHELL,
	CF_EXPOSE,
	CF_VOLUME,
	CF_STOPSIGNAL,
};

/* The instruction's name in capitals ("COPY"). */
const char *containerfile_kind_name(enum cf_kind k);

/* One instruction, variables expanded. */
struct cf_instr {
	enum cf_kind kind;
	int line;		/* its first line, counted from 1 */
	char *text;		/* the instruction as written, continuations joined
				 * (for history's created_by) */
	/* FROM: [image]; WORKDIR, USER, STOPSIGNAL: [value];
	 * COPY, ADD: sources... then the destination;
	 * ENTRYPOINT, CMD, SHELL: argv (shell form already wrapped);
	 * EXPOSE: "PORT/PROTO" each (proto lower case, "tcp" added);
	 * VOLUME: paths. */
	struct strvec args;
	/* ARG: name -> value (the effective value; "" when undefined);
	 * ENV, LABEL: key -> value in order. */
	struct kvlist kv;
	char *platform;		/* FROM --platform, or NULL */
	char *stage_name;	/* FROM ... AS name (lower case), or NULL */
	char *from;		/* COPY --from, or NULL */
	char *chown;		/* COPY/ADD --chown as written (expanded), or NULL */
	int has_chmod;
	uint32_t chmod;		/* COPY/ADD --chmod, octal */
	int link;		/* COPY/ADD --link */
	int json_form;		/* ENTRYPOINT/CMD/COPY/ADD/VOLUME written as JSON */
};

/* A build stage: FROM and the instructions up to the next FROM. */
struct cf_stage {
	size_t from;		/* index of its FROM in instrs */
	size_t end;		/* one past its last instruction */
	const char *name;	/* borrowed from the FROM, or NULL */
};

struct containerfile {
	struct cf_instr *instrs;
	size_t n_instrs;
	struct cf_stage *stages;
	size_t n_stages;
	char escape;		/* '\\' or '`' */
	char *syntax;		/* the `# syntax=` directive, or NULL */
	struct strvec unused_build_args;	/* --build-arg names no ARG declared */
};

struct cf_parse_opts {
	const struct kvlist *build_args;	/* --build-arg K=V, may be NULL */
	const struct kvlist *predefined;	/* TARGETARCH etc., may be NULL */
	size_t max_size;			/* 0 = 1 MiB */
};

void containerfile_init(struct containerfile *cf);
void containerfile_release(struct containerfile *cf);
/* Parses `len` bytes of Containerfile text into `out` (need not be
 * initialised; left released on failure).  Errors (ERR_INVALID, ERR_UNSUPPORTED,
 * ERR_TOO_BIG) start with "line N: ". */
int containerfile_parse(struct containerfile *out, const char *text, size_t len,
			const struct cf_parse_opts *opts, struct err *e);

/* Expands variables in one word as the parser does (quotes removed, not
 * split): `lookup` returns a value or NULL for an unset name.  For callers
 * that know more variables than the file (a base image's ENV). */
int containerfile_expand_word(char **out, const char *word, char escape,
		   const char *(*lookup)(void *arg, const char *name), void *arg,
		   struct err *e);

#endif

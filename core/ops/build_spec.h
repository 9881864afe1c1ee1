/* build_spec.h - what to build: a base image (or none: an empty base with
 * OCI media types), an ordered list of steps (a step is a new layer made of
 * `--add SRC:DST` specs, or a config-only step recorded in history with
 * empty_layer) and the config changes.  cmd/build.c fills one from its
 * flags, or build_spec_from_containerfile() from a Containerfile;
 * build_image() (core/ops/build.h) builds it.
 */
#ifndef HOIST_BUILD_SPEC_H
#define HOIST_BUILD_SPEC_H

#include "core/base/buf.h"
#include "core/format/tar.h"
#include "core/format/layer.h"
#include "core/model/manifest.h"

#include <stddef.h>
#include <stdint.h>

struct containerfile;
struct err;

struct build_step {
	char *created_by;	/* history's created_by */
	int empty_layer;	/* 1: config only, no layer */
	struct layer_add *adds;	/* strings owned by the step */
	size_t n_adds;
	/* COPY --from: the adds' SRCs are paths (fnmatch patterns) in the
	 * flattened filesystem of an image, all with one DST: */
	char *from;		/* a reference, or NULL */
	size_t from_stage;	/* else 1 + an index into the spec's stages; 0: none */
};

struct build_spec {
	char *base;			/* reference, or NULL for the empty base */
	char *base_platform;		/* FROM --platform, or NULL (the target's) */
	/* the target platform "os/arch[/variant]" (multi-platform builds),
	 * or NULL: env->platform, else the base's (linux/amd64 for none) */
	char *platform;
	/* earlier Containerfile stages (FROM ... AS name) the steps COPY
	 * --from; NULL where unused.  Owned. */
	struct build_spec **stages;
	size_t n_stages;
	struct build_step *steps;
	size_t n_steps;
	/* config changes; strvecs/kvlists empty = unchanged */
	int set_entrypoint, set_cmd;
	struct strvec entrypoint, cmd;
	struct kvlist env, labels, annotations;
	struct strvec expose;		/* "80/tcp" */
	struct strvec volumes;
	char *workdir, *user, *stop_signal;	/* NULL = unchanged */
	int64_t created;		/* seconds since the epoch */
	/* layers */
	enum tar_compression compression;
	int level;			/* 0 = BUILD_GZIP_LEVEL_DEFAULT (build.h) for gzip */
	layer_exclude_fn *exclude;	/* .dockerignore; may be NULL */
	void *exclude_arg;
	const char *tmpdir;		/* borrowed; NULL = "/var/tmp" */
	/* 1: build every layer (docker build --no-cache); else a layer whose
	 * inputs are unchanged since the cache last built it is reused */
	int no_cache;
};

void build_spec_init(struct build_spec *s);
void build_spec_release(struct build_spec *s);
/* Appends a step (a layer unless `empty_layer`) described by `created_by`. */
int build_spec_step(struct build_spec *s, const char *created_by, int empty_layer,
		    struct err *e);
/* Appends one SRC:DST (strings copied) to the last step, which must be a
 * layer step. */
int build_spec_add(struct build_spec *s, const struct layer_add *add, struct err *e);
/* --chown "user[:group]" (names or numbers) on `a`: numbers now
 * (LAYER_ADD_CHOWN), names later, looked up in the base image's /etc/passwd
 * and /etc/group when the layer is built (LAYER_ADD_CHOWN_NAME, a->owner =
 * `spec`, borrowed until build_spec_add copies it).  Docker's rule: a user
 * without a group gets its user ID as group ID.  ERR_INVALID. */
int build_spec_owner(struct layer_add *a, const char *spec, struct err *e);
/* Makes the last step (a layer step) a COPY --from `from` (a reference;
 * copied) or, with `from` NULL, of stage `stage` (an index). */
int build_spec_step_from(struct build_spec *s, const char *from, size_t stage, struct err *e);
/* Sets K=V in the Env list (replacing an earlier K). */
int build_spec_env(struct build_spec *s, const char *key, const char *value, struct err *e);

/* Fills the initialised `s` from the last stage of a parsed Containerfile
 * whose COPY/ADD sources are relative to the directory `context` (globs
 * expanded there; sources must stay inside it).  Each COPY/ADD is a layer
 * step, every other instruction a config-only step.  COPY --from=NAME of an
 * earlier stage (by name or number) fills s->stages[i] for that stage
 * (recursively; stages nothing copies from are not looked at); any other
 * --from is an image reference.  FROM an earlier stage continues that
 * stage's spec (its base, steps and config changes, then this stage's). */
int build_spec_from_containerfile(struct build_spec *s, const struct containerfile *cf,
				  const char *context, struct err *e);

#endif

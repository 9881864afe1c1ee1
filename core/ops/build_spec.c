/* build_spec.c - what to build, from flags or a Containerfile.  See
 * build_spec.h. */
#include "core/ops/build_spec.h"

#include "core/base/err.h"
#include "core/format/containerfile.h"
#include "core/format/userdb.h"

#include <ctype.h>
#include <errno.h>
#include <glob.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

void build_spec_init(struct build_spec *s)
{
	memset(s, 0, sizeof(*s));
	strvec_init(&s->entrypoint);
	strvec_init(&s->cmd);
	strvec_init(&s->expose);
	strvec_init(&s->volumes);
	kvlist_init(&s->env);
	kvlist_init(&s->labels);
	kvlist_init(&s->annotations);
	s->compression = TAR_COMPRESS_GZIP;
}

static void build_step_release(struct build_step *st)
{
	size_t i;

	for (i = 0; i < st->n_adds; i++) {
		free((char *)st->adds[i].src);
		free((char *)st->adds[i].dst);
		free((char *)st->adds[i].owner);
	}
	free(st->adds);
	free(st->created_by);
	free(st->from);
}

void build_spec_release(struct build_spec *s)
{
	size_t i;

	for (i = 0; i < s->n_steps; i++)
		build_step_release(&s->steps[i]);
	free(s->steps);
	for (i = 0; i < s->n_stages; i++)
		if (s->stages[i]) {
			build_spec_release(s->stages[i]);
			free(s->stages[i]);
		}
	free(s->stages);
	free(s->base);
	free(s->base_platform);
	free(s->platform);
	strvec_clear(&s->entrypoint);
	strvec_clear(&s->cmd);
	strvec_clear(&s->expose);
	strvec_clear(&s->volumes);
	kvlist_release(&s->env);
	kvlist_release(&s->labels);
	kvlist_release(&s->annotations);
	free(s->workdir);
	free(s->user);
	free(s->stop_signal);
	build_spec_init(s);
}

int build_spec_step(struct build_spec *s, const char *created_by, int empty_layer,
		    struct err *e)
{
	struct build_step *n;

	n = realloc(s->steps, (s->n_steps + 1) * sizeof(*n));
	if (!n)
		return err_set(e, ERR_NOMEM, "out of memory");
	s->steps = n;
	memset(&n[s->n_steps], 0, sizeof(*n));
	n[s->n_steps].empty_layer = empty_layer;
	if (!(n[s->n_steps].created_by = strdup(created_by)))
		return err_set(e, ERR_NOMEM, "out of memory");
	s->n_steps++;
	return 0;
}

int build_spec_add(struct build_spec *s, const struct layer_add *add, struct err *e)
{
	struct build_step *st;
	struct layer_add *n;
	char *src, *dst, *owner;

	if (!s->n_steps || s->steps[s->n_steps - 1].empty_layer)
		return err_set(e, ERR_USAGE, "build: an add needs a layer step");
	st = &s->steps[s->n_steps - 1];
	n = realloc(st->adds, (st->n_adds + 1) * sizeof(*n));
	if (!n)
		return err_set(e, ERR_NOMEM, "out of memory");
	st->adds = n;
	src = strdup(add->src);
	dst = strdup(add->dst);
	owner = add->owner ? strdup(add->owner) : NULL;
	if (!src || !dst || (add->owner && !owner)) {
		free(src);
		free(dst);
		free(owner);
		return err_set(e, ERR_NOMEM, "out of memory");
	}
	n[st->n_adds] = *add;
	n[st->n_adds].src = src;
	n[st->n_adds].dst = dst;
	n[st->n_adds].owner = owner;
	st->n_adds++;
	return 0;
}

int build_spec_step_from(struct build_spec *s, const char *from, size_t stage, struct err *e)
{
	struct build_step *st;

	if (!s->n_steps || s->steps[s->n_steps - 1].empty_layer)
		return err_set(e, ERR_USAGE, "build: COPY --from needs a layer step");
	st = &s->steps[s->n_steps - 1];
	free(st->from);
	st->from = NULL;
	st->from_stage = 0;
	if (!from)
		st->from_stage = stage + 1;
	else if (!(st->from = strdup(from)))
		return err_set(e, ERR_NOMEM, "out of memory");
	return 0;
}

int build_spec_env(struct build_spec *s, const char *key, const char *value, struct err *e)
{
	if (!*key || strchr(key, '='))
		return err_set(e, ERR_INVALID, "invalid environment variable name '%s'", key);
	if (kvlist_set(&s->env, key, value) < 0)
		return err_set(e, ERR_NOMEM, "out of memory");
	return 0;
}

/* ---- Containerfile ---------------------------------------------------- */

/* `path` joined to `dir` when relative ("/" + path when dir is NULL). */
static int build_join(struct buf *out, const char *dir, const char *path)
{
	buf_reset(out);
	if (path[0] != '/') {
		buf_addstr(out, dir ? dir : "/");
		if (out->len && out->data[out->len - 1] != '/')
			buf_addch(out, '/');
	}
	buf_addstr(out, path);
	return buf_failed(out) ? ERR_NOMEM : 0;
}

/* A COPY source inside the context: no ".." component. */
static int build_src_check(const char *src, int line, struct err *e)
{
	const char *p = src;

	while (*p) {
		size_t n = strcspn(p, "/");
		if (n == 2 && p[0] == '.' && p[1] == '.')
			return err_set(e, ERR_INVALID, "line %d: source '%s' is outside the "
				       "build context", line, src);
		p += n;
		while (*p == '/')
			p++;
	}
	return 0;
}

int build_spec_owner(struct layer_add *a, const char *spec, struct err *e)
{
	int64_t uid, gid;
	int ret;

	if (!userdb_numeric(spec)) {
		/* the syntax now, the names when the layer is built (from the
		 * base image's files, build_ids_read): a number is no name */
		ret = userdb_resolve(&uid, &gid, spec, "", 0, "", 0, e);
		if (ret == ERR_INVALID)
			return ret;
		a->flags |= LAYER_ADD_CHOWN_NAME;
		a->owner = spec;
		return 0;
	}
	if ((ret = userdb_resolve(&uid, &gid, spec, NULL, 0, NULL, 0, e)) < 0)
		return ret;
	a->flags |= LAYER_ADD_CHOWN;
	a->uid = uid;
	a->gid = gid;
	return 0;
}

static int build_parse_chown(struct layer_add *a, const char *chown, int line, struct err *e)
{
	int ret = build_spec_owner(a, chown, e);

	return ret < 0 ? err_prefix(e, "line %d", line) : 0;
}

static int build_stage_fill(struct build_spec *root, struct build_spec *s,
			    const struct containerfile *cf, size_t stage, const char *context,
			    struct err *e);

/* COPY --from=`from` in stage `cur`: 1 with *out the index of the earlier
 * stage it names (FROM ... AS name, or its number), 0 for an image
 * reference, or an error. */
static int build_cf_stage_ref(size_t *out, const struct containerfile *cf, size_t cur,
			      const char *from, int line, struct err *e)
{
	const char *p;
	size_t j;

	for (j = 0; j < cur; j++)
		if (cf->stages[j].name && !strcasecmp(cf->stages[j].name, from)) {
			*out = j;
			return 1;
		}
	for (p = from; *p && isdigit((unsigned char)*p); p++)
		;
	if (*p || p == from)
		return 0;
	errno = 0;
	j = (size_t)strtoul(from, NULL, 10);
	if (errno || j >= cur)
		return err_set(e, ERR_INVALID, "line %d: --from=%s is not an earlier stage",
			       line, from);
	*out = j;
	return 1;
}

/* The stage spec root->stages[j], made and filled on first use. */
static int build_cf_stage(struct build_spec *root, const struct containerfile *cf, size_t j,
			  const char *context, struct err *e)
{
	struct build_spec *st;
	int ret;

	if (!root->stages) {
		if (!(root->stages = calloc(cf->n_stages, sizeof(*root->stages))))
			return err_set(e, ERR_NOMEM, "out of memory");
		root->n_stages = cf->n_stages;
	}
	if (j >= root->n_stages)
		return err_set(e, ERR_INVALID, "stage %zu out of range", j);
	if (root->stages[j])
		return 0;
	if (!(st = malloc(sizeof(*st))))
		return err_set(e, ERR_NOMEM, "out of memory");
	build_spec_init(st);
	st->created = root->created;
	st->compression = root->compression;
	st->level = root->level;
	st->exclude = root->exclude;
	st->exclude_arg = root->exclude_arg;
	st->tmpdir = root->tmpdir;
	st->no_cache = root->no_cache;
	root->stages[j] = st;
	if (root->platform && !(st->platform = strdup(root->platform)))
		return err_set(e, ERR_NOMEM, "out of memory");
	ret = build_stage_fill(root, st, cf, j, context, e);
	if (ret < 0)
		err_prefix(e, "stage %zu%s%s", j, cf->stages[j].name ? " " : "",
			   cf->stages[j].name ? cf->stages[j].name : "");
	return ret;
}

/* One COPY --from instruction as a layer step: SRCs are paths in the
 * image or stage. */
static int build_cf_copy_from(struct build_spec *root, struct build_spec *s,
			      const struct containerfile *cf, size_t cur,
			      const struct cf_instr *in, const char *context, struct layer_add *a,
			      struct err *e)
{
	size_t j = 0, i;
	int k, ret;

	if (in->kind == CF_ADD)
		return err_set(e, ERR_INVALID, "line %d: ADD has no --from (use COPY --from)",
			       in->line);
	if ((k = build_cf_stage_ref(&j, cf, cur, in->from, in->line, e)) < 0)
		return k;
	if (k && (ret = build_cf_stage(root, cf, j, context, e)) < 0)
		return ret;
	if ((ret = build_spec_step(s, in->text, 0, e)) < 0 ||
	    (ret = build_spec_step_from(s, k ? NULL : in->from, j, e)) < 0)
		return ret;
	for (i = 0; i + 1 < in->args.n; i++) {
		a->src = in->args.v[i];
		if ((ret = build_spec_add(s, a, e)) < 0)
			return ret;
	}
	return 0;
}

/* Adds to the last step of `s` the files the glob `pattern` (the COPY
 * source `arg` of line `line`, joined to the context) matches: matching
 * nothing is fine (BuildKit's AllowEmptyWildcard), and, as in Docker,
 * globs match what .dockerignore leaves. */
static int build_cf_glob(struct build_spec *s, struct layer_add *a, const char *pattern,
			 int line, const char *arg, struct err *e)
{
	glob_t g;
	size_t k;
	int ret = 0, grc = glob(pattern, 0, NULL, &g);

	if (grc == GLOB_NOMATCH) {
		globfree(&g);
		return 0;
	}
	if (grc != 0) {
		globfree(&g);
		return err_set(e, ERR_IO, "line %d: cannot expand '%s'", line, arg);
	}
	for (k = 0; k < g.gl_pathc && ret == 0; k++) {
		struct stat st;
		a->src = g.gl_pathv[k];
		if (s->exclude && s->exclude(s->exclude_arg, a->src,
					     !lstat(a->src, &st) && S_ISDIR(st.st_mode)))
			continue;
		ret = build_spec_add(s, a, e);
	}
	globfree(&g);
	return ret;
}

/* One COPY/ADD instruction of stage `cur` as a layer step. */
static int build_cf_copy(struct build_spec *root, struct build_spec *s,
			 const struct containerfile *cf, size_t cur, const struct cf_instr *in,
			 const char *context, const char *workdir, struct err *e)
{
	struct buf dst = BUF_INIT, src = BUF_INIT;
	struct layer_add a;
	size_t i, n_src;
	int ret;

	memset(&a, 0, sizeof(a));
	if (in->args.n < 2) {
		ret = err_set(e, ERR_INVALID, "line %d: %s needs a source and a destination",
			      in->line, containerfile_kind_name(in->kind));
		goto out;
	}
	n_src = in->args.n - 1;
	if ((ret = build_join(&dst, workdir, in->args.v[n_src])) < 0)
		goto nomem;
	if (in->has_chmod) {
		a.flags |= LAYER_ADD_CHMOD;
		a.chmod = in->chmod;
	}
	if (in->kind == CF_ADD)
		a.flags |= LAYER_ADD_UNPACK;
	if (in->chown && (ret = build_parse_chown(&a, in->chown, in->line, e)) < 0)
		goto out;
	if (in->from) {
		a.flags &= ~(unsigned)LAYER_ADD_UNPACK;
		a.dst = dst.data;
		ret = build_cf_copy_from(root, s, cf, cur, in, context, &a, e);
		goto out;
	}
	if ((ret = build_spec_step(s, in->text, 0, e)) < 0)
		goto out;
	a.dst = dst.data;
	for (i = 0; i < n_src; i++) {
		const char *p = in->args.v[i];
		while (*p == '/')
			p++;
		if ((ret = build_src_check(p, in->line, e)) < 0)
			goto out;
		buf_reset(&src);
		buf_addf(&src, "%s/%s", context, *p ? p : ".");
		if (buf_failed(&src))
			goto nomem;
		if (strpbrk(p, "*?[")) {
			if ((ret = build_cf_glob(s, &a, src.data, in->line, in->args.v[i], e)) < 0)
				goto out;
			continue;
		}
		a.src = src.data;
		if ((ret = build_spec_add(s, &a, e)) < 0)
			goto out;
	}
	ret = 0;
	goto out;
nomem:
	ret = err_set(e, ERR_NOMEM, "out of memory");
out:
	if (ret < 0 && ret != ERR_NOMEM && strncmp(e->msg, "line ", 5))
		err_prefix(e, "line %d", in->line);
	buf_release(&dst);
	buf_release(&src);
	return ret;
}

static int build_set_str(char **dst, const char *v, struct err *e)
{
	free(*dst);
	if (!(*dst = strdup(v)))
		return err_set(e, ERR_NOMEM, "out of memory");
	return 0;
}

static int build_set_argv(struct strvec *dst, int *set, const struct strvec *src,
			  struct err *e)
{
	size_t i;

	strvec_clear(dst);
	*set = 1;
	for (i = 0; i < src->n; i++)
		if (strvec_push(dst, src->v[i]) < 0)
			return err_set(e, ERR_NOMEM, "out of memory");
	return 0;
}

int build_spec_from_containerfile(struct build_spec *s, const struct containerfile *cf,
				  const char *context, struct err *e)
{
	if (!cf->n_stages)
		return err_set(e, ERR_INVALID, "the Containerfile has no FROM");
	return build_stage_fill(s, s, cf, cf->n_stages - 1, context, e);
}

/* Fills `s` from stage `stage` of `cf`; stages it copies from go to
 * root->stages. */
static int build_stage_fill(struct build_spec *root, struct build_spec *s,
			    const struct containerfile *cf, size_t stage, const char *context,
			    struct err *e)
{
	const struct cf_stage *st;
	const struct cf_instr *from;
	struct buf wd = BUF_INIT;
	size_t i, k;
	int ret = 0;

	st = &cf->stages[stage];
	from = &cf->instrs[st->from];
	for (i = 0; i < stage; i++)
		if (cf->stages[i].name && from->args.n &&
		    !strcasecmp(cf->stages[i].name, from->args.v[0]))
			break;
	if (i < stage) {
		/* FROM an earlier stage: that stage's base and steps, then ours
		 * (a stage without RUN is its base plus its layers) */
		if ((ret = build_stage_fill(root, s, cf, i, context, e)) < 0)
			return ret;
	} else {
		if (from->args.n && strcmp(from->args.v[0], "scratch") &&
		    (ret = build_set_str(&s->base, from->args.v[0], e)) < 0)
			return ret;
		if (from->platform &&
		    (ret = build_set_str(&s->base_platform, from->platform, e)) < 0)
			return ret;
	}
	for (i = st->from + 1; i < st->end && ret == 0; i++) {
		const struct cf_instr *in = &cf->instrs[i];
		switch (in->kind) {
		case CF_COPY:
		case CF_ADD:
			ret = build_cf_copy(root, s, cf, stage, in, context, s->workdir, e);
			continue;
		case CF_ARG:
			continue;	/* used by the parser; not part of the image */
		case CF_ENV:
			for (k = 0; k < in->kv.keys.n && ret == 0; k++)
				ret = build_spec_env(s, in->kv.keys.v[k], in->kv.values.v[k], e);
			break;
		case CF_LABEL:
			for (k = 0; k < in->kv.keys.n && ret == 0; k++)
				if (kvlist_set(&s->labels, in->kv.keys.v[k], in->kv.values.v[k]) < 0)
					ret = err_set(e, ERR_NOMEM, "out of memory");
			break;
		case CF_WORKDIR:
			if (!in->args.n)
				break;
			if (build_join(&wd, s->workdir, in->args.v[0]) < 0)
				ret = err_set(e, ERR_NOMEM, "out of memory");
			else
				ret = build_set_str(&s->workdir, wd.data, e);
			break;
		case CF_USER:
			if (in->args.n)
				ret = build_set_str(&s->user, in->args.v[0], e);
			break;
		case CF_STOPSIGNAL:
			if (in->args.n)
				ret = build_set_str(&s->stop_signal, in->args.v[0], e);
			break;
		case CF_ENTRYPOINT:
			ret = build_set_argv(&s->entrypoint, &s->set_entrypoint, &in->args, e);
			break;
		case CF_CMD:
			ret = build_set_argv(&s->cmd, &s->set_cmd, &in->args, e);
			break;
		case CF_EXPOSE:
			for (k = 0; k < in->args.n && ret == 0; k++)
				if (strvec_push(&s->expose, in->args.v[k]) < 0)
					ret = err_set(e, ERR_NOMEM, "out of memory");
			break;
		case CF_VOLUME:
			for (k = 0; k < in->args.n && ret == 0; k++)
				if (strvec_push(&s->volumes, in->args.v[k]) < 0)
					ret = err_set(e, ERR_NOMEM, "out of memory");
			break;
		case CF_SHELL:
		case CF_FROM:
			break;
		}
		if (ret == 0)
			ret = build_spec_step(s, in->text, 1, e);
	}
	buf_release(&wd);
	return ret;
}

/* build.c - building images without a container runtime.  See build.h. */
#include "core/build.h"

#include "cache/layout.h"
#include "core/containerfile.h"
#include "core/err.h"
#include "core/json.h"

#include <glob.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

/* ---- the spec --------------------------------------------------------- */

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
	}
	free(st->adds);
	free(st->created_by);
}

void build_spec_release(struct build_spec *s)
{
	size_t i;

	for (i = 0; i < s->n_steps; i++)
		build_step_release(&s->steps[i]);
	free(s->steps);
	free(s->base);
	free(s->base_platform);
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
	char *src, *dst;

	if (!s->n_steps || s->steps[s->n_steps - 1].empty_layer)
		return err_set(e, ERR_USAGE, "build: an add needs a layer step");
	st = &s->steps[s->n_steps - 1];
	n = realloc(st->adds, (st->n_adds + 1) * sizeof(*n));
	if (!n)
		return err_set(e, ERR_NOMEM, "out of memory");
	st->adds = n;
	src = strdup(add->src);
	dst = strdup(add->dst);
	if (!src || !dst) {
		free(src);
		free(dst);
		return err_set(e, ERR_NOMEM, "out of memory");
	}
	n[st->n_adds] = *add;
	n[st->n_adds].src = src;
	n[st->n_adds].dst = dst;
	st->n_adds++;
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

static int build_parse_chown(struct layer_add *a, const char *chown, int line, struct err *e)
{
	char *end;
	long long uid, gid;

	uid = strtoll(chown, &end, 10);
	if (end == chown || uid < 0 || uid > 0x7fffffff)
		goto bad;
	gid = uid;
	if (*end == ':') {
		const char *g = end + 1;
		gid = strtoll(g, &end, 10);
		if (end == g || gid < 0 || gid > 0x7fffffff)
			goto bad;
	}
	if (*end)
		goto bad;
	a->flags |= LAYER_ADD_CHOWN;
	a->uid = uid;
	a->gid = gid;
	return 0;
bad:
	return err_set(e, ERR_UNSUPPORTED, "line %d: --chown='%s': hoist takes numeric "
		       "UID[:GID] only (names need the base image's /etc/passwd)", line, chown);
}

/* One COPY/ADD instruction as a layer step. */
static int build_cf_copy(struct build_spec *s, const struct cf_instr *in, const char *context,
			 const char *workdir, struct err *e)
{
	struct buf dst = BUF_INIT, src = BUF_INIT;
	struct layer_add a;
	size_t i, n_src;
	int ret;

	memset(&a, 0, sizeof(a));
	if (in->from) {
		ret = err_set(e, ERR_UNSUPPORTED, "line %d: COPY --from is not supported yet",
			      in->line);
		goto out;
	}
	if (in->args.n < 2) {
		ret = err_set(e, ERR_INVALID, "line %d: %s needs a source and a destination",
			      in->line, cf_kind_name(in->kind));
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
			glob_t g;
			size_t k;
			int grc = glob(src.data, 0, NULL, &g);
			/* matching nothing is fine: BuildKit's AllowEmptyWildcard */
			if (grc == GLOB_NOMATCH) {
				globfree(&g);
				continue;
			}
			if (grc != 0) {
				globfree(&g);
				ret = err_set(e, ERR_IO, "line %d: cannot expand '%s'", in->line,
					      in->args.v[i]);
				goto out;
			}
			for (k = 0, ret = 0; k < g.gl_pathc && ret == 0; k++) {
				struct stat st;
				a.src = g.gl_pathv[k];
				/* as in Docker, globs match what .dockerignore leaves */
				if (s->exclude && s->exclude(s->exclude_arg, a.src,
							     !lstat(a.src, &st) && S_ISDIR(st.st_mode)))
					continue;
				ret = build_spec_add(s, &a, e);
			}
			globfree(&g);
			if (ret < 0)
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
	const struct cf_stage *st;
	const struct cf_instr *from;
	struct buf wd = BUF_INIT;
	size_t i, k;
	int ret = 0;

	if (!cf->n_stages)
		return err_set(e, ERR_INVALID, "the Containerfile has no FROM");
	st = &cf->stages[cf->n_stages - 1];
	from = &cf->instrs[st->from];
	for (i = 0; i + 1 < cf->n_stages; i++)
		if (cf->stages[i].name && from->args.n &&
		    !strcmp(cf->stages[i].name, from->args.v[0]))
			return err_set(e, ERR_UNSUPPORTED, "line %d: FROM an earlier stage is "
				       "not supported yet", from->line);
	if (from->args.n && strcmp(from->args.v[0], "scratch") &&
	    (ret = build_set_str(&s->base, from->args.v[0], e)) < 0)
		return ret;
	if (from->platform && (ret = build_set_str(&s->base_platform, from->platform, e)) < 0)
		return ret;
	for (i = st->from + 1; i < st->end && ret == 0; i++) {
		const struct cf_instr *in = &cf->instrs[i];
		switch (in->kind) {
		case CF_COPY:
		case CF_ADD:
			ret = build_cf_copy(s, in, context, s->workdir, e);
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

/* ---- the build -------------------------------------------------------- */

void build_result_init(struct build_result *r)
{
	manifest_init(&r->manifest);
	ref_init(&r->base);
	memset(&r->config_digest, 0, sizeof(r->config_digest));
}

void build_result_release(struct build_result *r)
{
	manifest_release(&r->manifest);
	ref_release(&r->base);
	build_result_init(r);
}

static int build_time(char *out, size_t n, int64_t t)
{
	struct tm tm;
	time_t tt = (time_t)t;

	if (!gmtime_r(&tt, &tm) || !strftime(out, n, "%Y-%m-%dT%H:%M:%SZ", &tm))
		return -1;
	return 0;
}

/* obj[key], created as an empty object/array when missing or null. */
static struct json *build_member(struct json *obj, const char *key, int array)
{
	struct json *j = json_get(obj, key);
	enum json_kind want = array ? JSON_ARRAY : JSON_OBJECT;

	if (j && json_kind_of(j) == want)
		return j;
	if (json_set(obj, key, array ? json_new_array() : json_new_object()) < 0)
		return NULL;
	return json_get(obj, key);
}

static int build_set_strvec(struct json *obj, const char *key, const struct strvec *sv)
{
	struct json *a = json_new_array();
	size_t i;

	if (!a)
		return ERR_NOMEM;
	for (i = 0; i < sv->n; i++)
		if (json_append(a, json_new_string(sv->v[i])) < 0) {
			json_free(a);
			return ERR_NOMEM;
		}
	return json_set(obj, key, a);
}

/* Env: replaces K=... in place or appends. */
static int build_env_set(struct json *config, const char *k, const char *v)
{
	struct json *env = build_member(config, "Env", 1);
	struct buf kv = BUF_INIT;
	size_t i, klen = strlen(k);
	int ret = ERR_NOMEM;

	if (!env || buf_addf(&kv, "%s=%s", k, v) < 0)
		goto out;
	for (i = 0; i < json_array_len(env); i++) {
		const char *s = json_str(json_array_get(env, i));
		if (s && !strncmp(s, k, klen) && s[klen] == '=') {
			if (json_array_del(env, i) < 0)
				goto out;
			break;
		}
	}
	ret = json_append(env, json_new_string(kv.data));
out:
	buf_release(&kv);
	return ret;
}

/* The config changes of the spec, in Docker's semantics. */
static int build_config_apply(struct json *cfg, const struct build_spec *s)
{
	struct json *c = build_member(cfg, "config", 0), *o;
	size_t i;
	int ret = 0;

	if (!c)
		return ERR_NOMEM;
	for (i = 0; i < s->env.keys.n && ret == 0; i++)
		ret = build_env_set(c, s->env.keys.v[i], s->env.values.v[i]);
	if (ret == 0 && s->set_entrypoint) {
		ret = build_set_strvec(c, "Entrypoint", &s->entrypoint);
		/* a new entrypoint drops the base's Cmd, as docker build does */
		if (ret == 0 && !s->set_cmd)
			json_del(c, "Cmd");
	}
	if (ret == 0 && s->set_cmd)
		ret = build_set_strvec(c, "Cmd", &s->cmd);
	if (ret == 0 && s->workdir)
		ret = json_set_str(c, "WorkingDir", s->workdir);
	if (ret == 0 && s->user)
		ret = json_set_str(c, "User", s->user);
	if (ret == 0 && s->stop_signal)
		ret = json_set_str(c, "StopSignal", s->stop_signal);
	if (ret == 0 && s->labels.keys.n) {
		if (!(o = build_member(c, "Labels", 0)))
			return ERR_NOMEM;
		for (i = 0; i < s->labels.keys.n && ret == 0; i++)
			ret = json_set_str(o, s->labels.keys.v[i], s->labels.values.v[i]);
	}
	if (ret == 0 && s->expose.n) {
		if (!(o = build_member(c, "ExposedPorts", 0)))
			return ERR_NOMEM;
		for (i = 0; i < s->expose.n && ret == 0; i++)
			ret = json_set(o, s->expose.v[i], json_new_object());
	}
	if (ret == 0 && s->volumes.n) {
		if (!(o = build_member(c, "Volumes", 0)))
			return ERR_NOMEM;
		for (i = 0; i < s->volumes.n && ret == 0; i++)
			ret = json_set(o, s->volumes.v[i], json_new_object());
	}
	return ret;
}

static int build_history_add(struct json *hist, const char *created, const char *created_by,
			     int empty)
{
	struct json *h = json_new_object();

	if (!h || json_set_str(h, "created", created) < 0 ||
	    json_set_str(h, "created_by", created_by) < 0 ||
	    json_set_str(h, "comment", "hoist") < 0 ||
	    (empty && json_set(h, "empty_layer", json_new_bool(1)) < 0)) {
		json_free(h);
		return ERR_NOMEM;
	}
	return json_append(hist, h);
}

/* A new config for the empty base. */
static struct json *build_config_empty(const struct platform *p)
{
	struct json *c = json_new_object(), *rootfs = json_new_object();

	if (!c || !rootfs || json_set_str(c, "architecture", p && p->arch ? p->arch : "amd64") < 0 ||
	    json_set_str(c, "os", p && p->os ? p->os : "linux") < 0 ||
	    (p && p->variant && json_set_str(c, "variant", p->variant) < 0) ||
	    json_set(c, "config", json_new_object()) < 0 ||
	    json_set_str(rootfs, "type", "layers") < 0 ||
	    json_set(rootfs, "diff_ids", json_new_array()) < 0) {
		json_free(c);
		json_free(rootfs);
		return NULL;
	}
	if (json_set(c, "rootfs", rootfs) < 0) {
		json_free(c);
		return NULL;
	}
	return c;
}

struct build_sink {
	struct blob_writer *w;
};

static int build_sink_write(void *arg, const void *data, size_t len, struct err *e)
{
	struct build_sink *s = arg;

	return blob_writer_write(s->w, data, len, e);
}

/* Writes step `st` as a layer blob into `dst`; fills `out`. */
static int build_layer(struct layer_result *out, const struct build_spec *s,
		       const struct build_step *st, struct layout *dst, int docker,
		       struct err *e)
{
	struct layer_builder_opts bo;
	struct layer_write_opts wo;
	struct layer_builder *b = NULL;
	struct build_sink sink = { NULL };
	struct digest d;
	size_t i;
	int ret;

	memset(&bo, 0, sizeof(bo));
	memset(out, 0, sizeof(*out));
	descriptor_init(&out->desc);
	bo.mtime = s->created;
	bo.exclude = s->exclude;
	bo.exclude_arg = s->exclude_arg;
	bo.tmpdir = s->tmpdir;
	if ((ret = layer_builder_new(&b, &bo, e)) < 0)
		goto out;
	for (i = 0; i < st->n_adds; i++)
		if ((ret = layer_builder_add(b, &st->adds[i], e)) < 0)
			goto out;
	if ((ret = layout_blob_begin(&sink.w, dst, NULL, -1, e)) < 0)
		goto out;
	memset(&wo, 0, sizeof(wo));
	wo.compression = s->compression;
	wo.level = s->level;
	if (!wo.level && s->compression == TAR_COMPRESS_GZIP)
		wo.level = BUILD_GZIP_LEVEL_DEFAULT;
	wo.sink = build_sink_write;
	wo.sink_arg = &sink;
	if ((ret = layer_builder_write(b, &wo, out, e)) < 0)
		goto out;
	ret = blob_writer_commit(&d, NULL, sink.w, e);
	sink.w = NULL;
	if (ret < 0)
		goto out;
	if (!digest_equal(&d, &out->desc.digest)) {
		ret = err_set(e, ERR_DIGEST, "layer digest mismatch (%s, written %s)",
			      out->desc.digest.str, d.str);
		goto out;
	}
	if (docker && s->compression == TAR_COMPRESS_GZIP) {
		char *mt = strdup(MT_DOCKER_LAYER);
		if (!mt) {
			ret = err_set(e, ERR_NOMEM, "out of memory");
			goto out;
		}
		free(out->desc.media_type);
		out->desc.media_type = mt;
	}
	ret = 0;
out:
	blob_writer_abort(sink.w);
	layer_builder_free(b);
	if (ret < 0)
		layer_result_release(out);
	return ret;
}

/* Makes `dst` hold the base's blobs: pulled by digest (through the cache),
 * without leaving an index.json entry for it in a layout that is not the
 * cache. */
static int build_pull_base(struct image_env *env, const struct ref *base,
			   const struct manifest *bm, struct layout *dst, struct err *e)
{
	struct image_pulled p;
	struct descriptor old;
	struct buf name = BUF_INIT;
	size_t i;
	int ret, existed = 0, have = 1;

	/* the warm path: every blob already there, nothing to pull or record */
	for (i = 0; i < bm->n_layers && have; i++)
		have = layout_blob_has(dst, &bm->layers[i].digest, bm->layers[i].size);
	if (have && layout_blob_has(dst, &bm->config.digest, bm->config.size))
		return 0;
	memset(&p, 0, sizeof(p));
	descriptor_init(&old);
	if (ref_format(&name, base) < 0) {
		ret = err_set(e, ERR_NOMEM, "out of memory");
		goto out;
	}
	if (dst != env->cache) {
		struct err ie = ERR_INIT;
		existed = layout_index_find(&old, dst, name.data, &ie) == 0;
	}
	ret = image_pull(&p, env, base, 1, dst, IMAGE_PULL_SINGLE, e);
	if (ret < 0) {
		err_prefix(e, "base image");
		goto out;
	}
	if (dst != env->cache && !existed && p.name) {
		struct err ie = ERR_INIT;
		layout_index_remove(dst, p.name, &ie);
	}
out:
	image_pulled_release(&p, 1);
	descriptor_release(&old);
	buf_release(&name);
	return ret;
}

static int build_manifest_json(struct buf *out, const char *mt, const struct descriptor *config,
			       const struct descriptor *layers, size_t n,
			       const struct kvlist *annot, struct err *e)
{
	struct json *m = json_new_object(), *arr = NULL, *an = NULL;
	size_t i;
	int ret = ERR_NOMEM;

	if (!m || json_set_int64(m, "schemaVersion", 2) < 0 || json_set_str(m, "mediaType", mt) < 0 ||
	    json_set(m, "config", descriptor_to_json(config)) < 0)
		goto out;
	if (!(arr = json_new_array()))
		goto out;
	for (i = 0; i < n; i++)
		if (json_append(arr, descriptor_to_json(&layers[i])) < 0)
			goto out;
	ret = json_set(m, "layers", arr);
	arr = NULL;
	if (ret < 0)
		goto out;
	if (annot->keys.n) {
		/* sorted keys, as Go writes a map */
		struct strvec keys = STRVEC_INIT;
		size_t j;
		ret = ERR_NOMEM;
		if (!(an = json_new_object()))
			goto out;
		for (i = 0; i < annot->keys.n; i++)
			if (strvec_push(&keys, annot->keys.v[i]) < 0) {
				strvec_clear(&keys);
				goto out;
			}
		for (i = 1; i < keys.n; i++)
			for (j = i; j > 0 && strcmp(keys.v[j - 1], keys.v[j]) > 0; j--) {
				char *t = keys.v[j];
				keys.v[j] = keys.v[j - 1];
				keys.v[j - 1] = t;
			}
		for (i = 0, ret = 0; i < keys.n && ret == 0; i++)
			ret = json_set_str(an, keys.v[i], kvlist_get(annot, keys.v[i]));
		strvec_clear(&keys);
		if (ret < 0)
			goto out;
		ret = json_set(m, "annotations", an);
		an = NULL;
		if (ret < 0)
			goto out;
	}
	ret = json_serialize(out, m, 0, e);
	goto done;
out:
	err_set(e, ERR_NOMEM, "out of memory");
done:
	json_free(arr);
	json_free(an);
	json_free(m);
	return ret;
}

int image_build(struct build_result *out, struct image_env *env, const struct build_spec *s,
		struct layout *dst, unsigned flags, struct err *e)
{
	struct ref base = REF_INIT;
	struct manifest bm;
	struct image_config bc;
	struct platform plat;
	struct buf raw = BUF_INIT, name = BUF_INIT;
	struct json *cfg = NULL, *hist, *diff_ids;
	struct descriptor *layers = NULL, cdesc;
	struct kvlist annot = KVLIST_INIT;
	size_t n_layers = 0, i;
	const char *mt = MT_OCI_MANIFEST;
	char created[64];
	int ret, docker = 0, have_plat = 0;

	manifest_init(&bm);
	image_config_init(&bc);
	platform_init(&plat);
	descriptor_init(&cdesc);
	if (build_time(created, sizeof(created), s->created) < 0) {
		ret = err_set(e, ERR_INVALID, "invalid creation time %lld", (long long)s->created);
		goto out;
	}
	if (s->base_platform) {
		if ((ret = platform_parse(&plat, s->base_platform, e)) < 0)
			goto out;
		have_plat = 1;
	}
	if (s->base) {
		if ((ret = ref_parse(&base, s->base, 0, e)) < 0)
			goto out;
		ret = image_resolve_image(&bm, NULL, env, &base, have_plat ? &plat : NULL, e);
		if (ret < 0) {
			err_prefix(e, "base image '%s'", s->base);
			goto out;
		}
		if ((ret = image_blob_read(&raw, env, &base, &bm.config, 0, e)) < 0 ||
		    (ret = image_config_parse(&bc, raw.data, raw.len, 0, e)) < 0) {
			err_prefix(e, "base image '%s' config", s->base);
			goto out;
		}
		if (!(cfg = json_copy(bc.json)))
			goto nomem;
		docker = mt_equal(bm.media_type, MT_DOCKER_MANIFEST);
		if (docker)
			mt = MT_DOCKER_MANIFEST;
		if (ref_copy(&out->base, &base) < 0)
			goto nomem;
		free(out->base.tag);
		out->base.tag = NULL;
		free(out->base.digest);
		if (!(out->base.digest = strdup(bm.digest.str)))
			goto nomem;
		if (ref_format(&name, &base) < 0 ||
		    kvlist_set(&annot, ANNOT_BASE_DIGEST, bm.digest.str) < 0 ||
		    kvlist_set(&annot, ANNOT_BASE_NAME, name.data) < 0)
			goto nomem;
		if ((flags & BUILD_WITH_BASE) &&
		    (ret = build_pull_base(env, &out->base, &bm, dst, e)) < 0)
			goto out;
		n_layers = bm.n_layers;
	} else {
		if (!(cfg = build_config_empty(have_plat ? &plat : env->platform)))
			goto nomem;
	}
	for (i = 0; i < s->annotations.keys.n; i++)
		if (kvlist_set(&annot, s->annotations.keys.v[i], s->annotations.values.v[i]) < 0)
			goto nomem;

	layers = calloc(n_layers + s->n_steps + 1, sizeof(*layers));
	if (!layers)
		goto nomem;
	for (i = 0; i < n_layers; i++)
		if (descriptor_copy(&layers[i], &bm.layers[i]) < 0)
			goto nomem;
	if (!(hist = build_member(cfg, "history", 1)) ||
	    !(diff_ids = build_member(build_member(cfg, "rootfs", 0), "diff_ids", 1)))
		goto nomem;
	if (!json_get_str(json_get(cfg, "rootfs"), "type") &&
	    json_set_str(json_get(cfg, "rootfs"), "type", "layers") < 0)
		goto nomem;
	for (i = 0; i < s->n_steps; i++) {
		const struct build_step *st = &s->steps[i];
		struct layer_result lr;
		if (!st->empty_layer) {
			if ((ret = build_layer(&lr, s, st, dst, docker, e)) < 0) {
				err_prefix(e, "'%s'", st->created_by);
				goto out;
			}
			layers[n_layers++] = lr.desc;
			descriptor_init(&lr.desc);
			ret = json_append(diff_ids, json_new_string(lr.diff_id.str));
			layer_result_release(&lr);
			if (ret < 0)
				goto nomem;
		}
		if (build_history_add(hist, created, st->created_by, st->empty_layer) < 0)
			goto nomem;
	}
	if (build_config_apply(cfg, s) < 0 || json_set_str(cfg, "created", created) < 0)
		goto nomem;

	buf_reset(&raw);
	if ((ret = json_serialize(&raw, cfg, 0, e)) < 0)
		goto out;
	if ((ret = layout_blob_put(&out->config_digest, dst, raw.data, raw.len, NULL, e)) < 0)
		goto out;
	if (!(cdesc.media_type = strdup(docker ? MT_DOCKER_CONFIG : MT_OCI_CONFIG)))
		goto nomem;
	cdesc.digest = out->config_digest;
	cdesc.size = (int64_t)raw.len;
	buf_reset(&raw);
	if ((ret = build_manifest_json(&raw, mt, &cdesc, layers, n_layers, &annot, e)) < 0)
		goto out;
	manifest_release(&out->manifest);
	if ((ret = manifest_parse(&out->manifest, raw.data, raw.len, mt, 0, e)) < 0)
		goto out;
	ret = layout_blob_put(NULL, dst, raw.data, raw.len, &out->manifest.digest, e);
	goto out;
nomem:
	ret = err_set(e, ERR_NOMEM, "out of memory");
out:
	if (layers)
		for (i = 0; i < n_layers; i++)
			descriptor_release(&layers[i]);
	free(layers);
	json_free(cfg);
	kvlist_release(&annot);
	descriptor_release(&cdesc);
	platform_release(&plat);
	image_config_release(&bc);
	manifest_release(&bm);
	ref_release(&base);
	buf_release(&raw);
	buf_release(&name);
	return ret;
}

int image_build_push(struct digest *out, struct image_env *env, const struct build_result *r,
		     struct layout *src, const char *ref_name, const struct ref *dst,
		     struct err *e)
{
	int ret;

	if (r->base.repository) {
		struct ref to = { dst->registry, dst->repository, NULL, r->base.digest };
		struct digest d;
		ret = image_copy(&d, env, &r->base, &to, 0, e);
		if (ret < 0) {
			err_prefix(e, "base image layers");
			return ret;
		}
	}
	return image_push_layout(out, env, src, ref_name, dst, 0, e);
}

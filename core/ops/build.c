/* build.c - building images without a container runtime: a spec made into
 * layers, a config and a manifest.  See build.h. */
#include "core/ops/build.h"

#include "cache/blob.h"
#include "cache/layout.h"
#include "cache/memo.h"
#include "core/base/strvec.h"
#include "core/format/containerfile.h"
#include "core/format/tar.h"
#include "core/base/err.h"
#include "core/ops/build_spec.h"
#include "core/ops/copy.h"
#include "core/ops/env.h"
#include "core/ops/export.h"
#include "core/model/imgconfig.h"
#include "core/base/json.h"
#include "core/format/userdb.h"
#include "core/ops/local.h"
#include "core/ops/pull.h"
#include "core/ops/push.h"
#include "core/ops/resolve.h"

#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

void build_result_init(struct build_result *r)
{
	manifest_init(&r->manifest);
	ref_init(&r->base);
	memset(&r->config_digest, 0, sizeof(r->config_digest));
	platform_init(&r->platform);
}

void build_result_release(struct build_result *r)
{
	manifest_release(&r->manifest);
	ref_release(&r->base);
	platform_release(&r->platform);
	build_result_init(r);
}

/* The config changes of the spec, in Docker's semantics. */
static int build_config_apply(struct json *cfg, const struct build_spec *s)
{
	struct imgconfig_edit ed = {
		.env = &s->env, .entrypoint = s->set_entrypoint ? &s->entrypoint : NULL,
		.cmd = s->set_cmd ? &s->cmd : NULL, .workdir = s->workdir, .user = s->user,
		.stop_signal = s->stop_signal, .labels = &s->labels, .expose = &s->expose,
		.volumes = &s->volumes, .flags = IMGCONFIG_ENTRYPOINT_DROPS_CMD,
	};

	return imgconfig_apply(cfg, &ed);
}

/* One build_image(): the root spec and the stages built so far, so that
 * a stage several COPY --from steps read is built once. */
struct build_ctx {
	const struct build_spec *root;
	struct manifest *stage_m;	/* [root->n_stages], built when stage_done */
	unsigned char *stage_done;
	struct layout *stage_l;		/* where the stages were built */
};

static int build_run(struct build_result *out, struct env *env,
		     struct build_ctx *bx, const struct build_spec *s,
		     struct layout *dst, unsigned flags, struct err *e);

/* COPY --from: which entries of the source image go where. */
struct build_pick {
	const struct build_step *st;
	const char *dst;		/* cleaned, no leading '/'; "" for the root */
	int dst_dir;			/* DST ends in '/' */
	struct strvec srcs;		/* cleaned patterns, "" for the root */
	unsigned char *found;
};

/* Cleans an absolute image path into `out` without the leading '/' ("..",
 * stops at the root). */
static int build_path_clean(struct buf *out, const char *in)
{
	const char *p = in;

	buf_reset(out);
	while (*p) {
		size_t n = strcspn(p, "/");
		if (n == 0 || (n == 1 && p[0] == '.')) {
			/* nothing */
		} else if (n == 2 && p[0] == '.' && p[1] == '.') {
			char *sl = strrchr(out->data, '/');
			buf_setlen(out, sl ? (size_t)(sl - out->data) : 0);
		} else {
			if (out->len)
				buf_addch(out, '/');
			buf_add(out, p, n);
		}
		p += n;
		while (*p == '/')
			p++;
	}
	return buf_failed(out) ? ERR_NOMEM : 0;
}

/* export_select_fn: an entry at or under a source goes under DST as Docker's
 * COPY puts it: a directory's contents into DST, a file to DST (or
 * DST/NAME when DST ends in '/'). */
static int build_pick_fn(void *arg, struct buf *out, const char *path, int is_dir,
			 struct err *e)
{
	struct build_pick *pk = arg;
	size_t len = strlen(path), i, j;
	char *pre;
	int ret = 0;

	if (!(pre = strdup(path)))
		return err_set(e, ERR_NOMEM, "out of memory");
	for (i = 0; i < pk->srcs.n && !ret; i++) {
		const char *pat = pk->srcs.v[i];
		const char *rel = NULL;
		if (!*pat) {
			rel = path;	/* the root: everything */
		} else {
			/* the shortest prefix of whole components matching */
			for (j = 1; j <= len; j++) {
				if (j < len && path[j] != '/')
					continue;
				pre[j] = '\0';
				if (!fnmatch(pat, pre, FNM_PATHNAME)) {
					rel = j < len ? path + j + 1 : "";
					pre[j] = path[j];
					break;
				}
				pre[j] = path[j];
			}
		}
		if (!rel)
			continue;
		pk->found[i] = 1;
		ret = 1;
		if (*rel || is_dir || !*pat) {
			/* inside a directory source, or the directory itself */
			buf_addstr(out, pk->dst);
			if (*rel && out->len)
				buf_addch(out, '/');
			buf_addstr(out, rel);
			if (!out->len)
				ret = 0;	/* DST "/" itself */
		} else if (pk->dst_dir || !*pk->dst) {
			const char *bn = strrchr(path, '/');
			buf_addstr(out, pk->dst);
			if (out->len)
				buf_addch(out, '/');
			buf_addstr(out, bn ? bn + 1 : path);
		} else {
			buf_addstr(out, pk->dst);
		}
	}
	free(pre);
	if (buf_failed(out))
		return err_set(e, ERR_NOMEM, "out of memory");
	return ret;
}

static int build_tmpfile(int *out, const char *tmpdir, struct err *e)
{
	struct buf p = BUF_INIT;

	*out = open(tmpdir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
	if (*out >= 0)
		return 0;
	if (buf_addf(&p, "%s/hoist-from.XXXXXX", tmpdir) < 0)
		return err_set(e, ERR_NOMEM, "out of memory");
	*out = mkostemp(p.data, O_CLOEXEC);
	if (*out >= 0)
		unlink(p.data);
	buf_release(&p);
	if (*out < 0)
		return err_set_errno(e, ERR_IO, errno, "cannot create a temporary file in '%s'",
				     tmpdir);
	return 0;
}

/* The image a COPY --from step reads: a reference's image for the target
 * platform, complete in the cache (through the cache contract), or an
 * earlier stage built into the cache (else `dst`).  `*out_l` is borrowed. */
static int build_from_image(struct manifest *out, struct layout **out_l, struct env *env,
			    struct build_ctx *bx, const struct build_step *st,
			    const struct platform *plat, struct layout *dst, struct err *e)
{
	struct ref ref = REF_INIT;
	struct manifest m;
	struct build_result sr;
	int ret;

	manifest_init(&m);
	build_result_init(&sr);
	if (st->from_stage) {
		const struct build_spec *ss = NULL;
		size_t k = st->from_stage - 1;

		if (st->from_stage <= bx->root->n_stages)
			ss = bx->root->stages[k];
		if (!ss) {
			ret = err_set(e, ERR_INVALID, "no stage %zu", k);
			goto out;
		}
		*out_l = env->cache ? env->cache : dst;
		if (bx->stage_done && bx->stage_done[k] && bx->stage_l == *out_l) {
			env_log(env, 1, "stage %zu: built already (%s)", k,
				  bx->stage_m[k].digest.str);
			ret = manifest_parse(out, bx->stage_m[k].raw.data, bx->stage_m[k].raw.len,
					     bx->stage_m[k].media_type, 0, e);
			goto out;
		}
		if ((ret = build_run(&sr, env, bx, ss, *out_l, BUILD_WITH_BASE, e)) < 0) {
			err_prefix(e, "stage %zu", k);
			goto out;
		}
		env_log(env, 1, "stage %zu: built (%s)", k, sr.manifest.digest.str);
		if (bx->stage_done &&
		    manifest_parse(&bx->stage_m[k], sr.manifest.raw.data, sr.manifest.raw.len,
				   sr.manifest.media_type, 0, NULL) == 0) {
			bx->stage_done[k] = 1;
			bx->stage_l = *out_l;
		}
		*out = sr.manifest;
		manifest_init(&sr.manifest);
		goto out;
	}
	if (!env->cache) {
		ret = err_set(e, ERR_USAGE, "COPY --from an image needs the cache");
		goto out;
	}
	*out_l = env->cache;
	if ((ret = ref_parse(&ref, st->from, 0, e)) < 0)
		goto out;
	if ((ret = resolve_image(&m, NULL, env, &ref, plat, e)) < 0)
		goto out;
	/* the image by digest: the cache holds it whole, whatever --platform */
	free(ref.tag);
	ref.tag = NULL;
	free(ref.digest);
	if (!(ref.digest = strdup(m.digest.str))) {
		ret = err_set(e, ERR_NOMEM, "out of memory");
		goto out;
	}
	ret = local_image(out, env, &ref, e);
out:
	if (ret < 0 && st->from)
		err_prefix(e, "--from=%s", st->from);
	manifest_release(&m);
	build_result_release(&sr);
	ref_release(&ref);
	return ret;
}

/* The base image's /etc/passwd and /etc/group, read once a --chown names
 * someone (docker looks names up in the image being built; hoist in its
 * base: files an earlier step added are not consulted). */
struct build_ids {
	int read;
	struct buf passwd, group;
	int have_passwd, have_group;
};

#define BUILD_IDS_MAX (4u << 20)

static int ids_pick(void *arg, struct buf *out, const char *path, int is_dir, struct err *e)
{
	(void)arg;
	if (is_dir || (strcmp(path, "etc/passwd") && strcmp(path, "etc/group")))
		return 0;
	return buf_addstr(out, path) < 0 ? err_set(e, ERR_NOMEM, "out of memory") : 1;
}

static int ids_sink(void *arg, const void *data, size_t len, struct err *e)
{
	struct buf *b = arg;

	if (b->len + len > BUILD_IDS_MAX)
		return err_set(e, ERR_TOO_BIG, "/etc/passwd and /etc/group are over %u MiB",
			       BUILD_IDS_MAX >> 20);
	return buf_add(b, data, len) < 0 ? err_set(e, ERR_NOMEM, "out of memory") : 0;
}

struct ids_src {
	const struct buf *b;
	size_t pos;
};

static ssize_t ids_source(void *arg, void *dst, size_t len, struct err *e)
{
	struct ids_src *m = arg;
	size_t n = m->b->len - m->pos;

	(void)e;
	if (n > len)
		n = len;
	memcpy(dst, m->b->data + m->pos, n);
	m->pos += n;
	return (ssize_t)n;
}

/* Reads the files out of the base image: in `dst` when the build put the
 * base there already, else made complete in the cache through the cache
 * contract (its layers fetched when it holds only metadata). */
static int build_ids_read(struct build_ids *ids, struct env *env, const struct ref *base,
			  const struct manifest *bm, struct layout *dst, int base_in_dst,
			  struct err *e)
{
	struct buf tar = BUF_INIT;
	struct manifest m;
	struct tar_reader *r = NULL;
	struct tar_reader_opts ro;
	struct ids_src src = { &tar, 0 };
	struct layout *l = dst;
	const struct manifest *use = bm;
	int ret;

	manifest_init(&m);
	ids->read = 1;
	if (!base_in_dst && !env->cache) {
		ret = err_set(e, ERR_USAGE, "looking up --chown names needs the base image's "
			      "layers: give a cache (--cache) or use numeric IDs");
		goto out;
	}
	if (!base_in_dst) {
		if ((ret = local_image(&m, env, base, e)) < 0)
			goto out;
		l = env->cache;
		use = &m;
	}
	if ((ret = export_select(l, use, ids_pick, NULL, ids_sink, &tar, e)) < 0)
		goto out;
	memset(&ro, 0, sizeof(ro));
	ro.source = ids_source;
	ro.source_arg = &src;
	if ((ret = tar_reader_new(&r, &ro, e)) < 0)
		goto out;
	for (;;) {
		struct tar_header h;
		struct buf *into;
		char chunk[4096];
		ssize_t n;

		if ((ret = tar_reader_next(r, &h, e)) <= 0)
			break;
		if (h.type != TAR_FILE)
			continue;	/* a link: treated as absent */
		if (!strcmp(h.path, "etc/passwd")) {
			into = &ids->passwd;
			ids->have_passwd = 1;
		} else {
			into = &ids->group;
			ids->have_group = 1;
		}
		while ((n = tar_reader_read(r, chunk, sizeof(chunk), e)) > 0)
			if (buf_add(into, chunk, (size_t)n) < 0) {
				ret = err_set(e, ERR_NOMEM, "out of memory");
				goto out;
			}
		if (n < 0) {
			ret = (int)n;
			goto out;
		}
	}
out:
	if (ret < 0)
		err_prefix(e, "reading the base image's /etc/passwd");
	tar_reader_free(r);
	manifest_release(&m);
	buf_release(&tar);
	return ret < 0 ? ret : 0;
}

/* `add` with its owner names turned into IDs. */
static int build_owner(struct layer_add *out, const struct layer_add *add,
		       const struct build_ids *ids, struct err *e)
{
	*out = *add;
	if (!(add->flags & LAYER_ADD_CHOWN_NAME))
		return 0;
	if (!ids->read)
		return err_set(e, ERR_USAGE, "--chown=%s: an empty base has no /etc/passwd: use "
			       "numeric IDs", add->owner);
	out->flags |= LAYER_ADD_CHOWN;
	return userdb_resolve(&out->uid, &out->gid, add->owner,
			      ids->have_passwd ? ids->passwd.data : NULL, ids->passwd.len,
			      ids->have_group ? ids->group.data : NULL, ids->group.len, e);
}

/* Adds what a COPY --from step copies to the layer builder `b`. */
static int build_layer_from(struct layer_builder *b, struct env *env,
			    struct build_ctx *bx, const struct build_spec *s,
			    const struct build_step *st, const struct platform *plat,
			    struct layout *dst, const struct build_ids *ids, struct err *e)
{
	struct build_pick pk;
	struct manifest m;
	struct layout *l = NULL;
	struct buf tmp = BUF_INIT, dpath = BUF_INIT;
	struct layer_add a;
	size_t i;
	struct layer_file tf = { -1, "a temporary file" };
	int ret;

	memset(&pk, 0, sizeof(pk));
	strvec_init(&pk.srcs);
	manifest_init(&m);
	if (!st->n_adds) {
		ret = err_set(e, ERR_INVALID, "nothing to copy");
		goto out;
	}
	pk.st = st;
	if (build_path_clean(&dpath, st->adds[0].dst) < 0)
		goto nomem;
	pk.dst = dpath.data;
	i = strlen(st->adds[0].dst);
	pk.dst_dir = i && st->adds[0].dst[i - 1] == '/';
	if (!(pk.found = calloc(st->n_adds, 1)))
		goto nomem;
	for (i = 0; i < st->n_adds; i++)
		if (build_path_clean(&tmp, st->adds[i].src) < 0 || strvec_push(&pk.srcs, tmp.data) < 0)
			goto nomem;
	if ((ret = build_from_image(&m, &l, env, bx, st, plat, dst, e)) < 0)
		goto out;
	if ((ret = build_tmpfile(&tf.fd, s->tmpdir ? s->tmpdir : "/var/tmp", e)) < 0)
		goto out;
	if ((ret = export_select(l, &m, build_pick_fn, &pk, layer_file_sink, &tf, e)) < 0)
		goto out;
	for (i = 0; i < st->n_adds; i++)
		if (!pk.found[i]) {
			if (st->from)
				ret = err_set(e, ERR_NOT_FOUND, "'%s' not found in image '%s'",
					      st->adds[i].src, st->from);
			else
				ret = err_set(e, ERR_NOT_FOUND, "'%s' not found in stage %zu",
					      st->adds[i].src, st->from_stage - 1);
			goto out;
		}
	if (lseek(tf.fd, 0, SEEK_SET) < 0) {
		ret = err_set_errno(e, ERR_IO, errno, "cannot read a temporary file");
		goto out;
	}
	if ((ret = build_owner(&a, &st->adds[0], ids, e)) < 0)
		goto out;
	a.src = st->from ? st->from : "stage";
	a.dst = "/";
	a.flags &= ~(unsigned)LAYER_ADD_UNPACK;
	ret = layer_builder_add_tar(b, layer_file_source, &tf, &a, e);
	goto out;
nomem:
	ret = err_set(e, ERR_NOMEM, "out of memory");
out:
	if (tf.fd >= 0)
		close(tf.fd);
	free(pk.found);
	strvec_clear(&pk.srcs);
	manifest_release(&m);
	buf_release(&tmp);
	buf_release(&dpath);
	return ret;
}

/* The layer memo (docker build's cache for COPY/ADD, keyed as git's index
 * keys files: core/format/layer.h): a record in the cache
 * "hoist-layer 1 <key hex> <digest> <size> <diff_id> <diff size> <entries>\n"
 * maps a layer_builder_key() to the layer it wrote. */
#define BUILD_MEMO_KIND "layers"
/* a key is trusted only when its newest file is older than this: a change
 * within the clock tick of the one before leaves stat unchanged */
#define BUILD_MEMO_SETTLE_NS (2 * (int64_t)1000000000)

static int memo_num(int64_t *out, const char *s)
{
	char *end;
	long long v;

	errno = 0;
	v = strtoll(s, &end, 10);
	if (*end || errno || v < 0 || *s < '0' || *s > '9')
		return -1;
	*out = v;
	return 0;
}

/* Fills `out` from a whole, well-formed record for `key`; -1 otherwise. */
static int build_memo_parse(struct layer_result *out, const char *rec, size_t len,
			    const struct digest *key, enum tar_compression c)
{
	char f[8][DIGEST_STR_MAX + 1];
	const char *p = rec, *end = rec + len;
	int64_t n;
	int i;

	for (i = 0; i < 8; i++) {
		const char *sp = p;
		size_t l;
		while (sp < end && *sp != ' ' && *sp != '\n')
			sp++;
		l = (size_t)(sp - p);
		if (!l || l >= sizeof(f[i]) || sp == end || *sp != (i < 7 ? ' ' : '\n'))
			return -1;
		memcpy(f[i], p, l);
		f[i][l] = '\0';
		p = sp + 1;
	}
	if (p != end || strcmp(f[0], "hoist-layer") || strcmp(f[1], "1") ||
	    strcmp(f[2], digest_hex(key)))
		return -1;
	memset(out, 0, sizeof(*out));
	descriptor_init(&out->desc);
	if (digest_parse(&out->desc.digest, f[3], NULL) < 0 ||
	    memo_num(&out->desc.size, f[4]) < 0 ||
	    digest_parse(&out->diff_id, f[5], NULL) < 0 ||
	    memo_num(&out->diff_size, f[6]) < 0 || memo_num(&n, f[7]) < 0)
		return -1;
	out->n_entries = (size_t)n;
	if (!(out->desc.media_type = strdup(layer_media_type(c))))
		return -1;
	return 0;
}

/* The memo's layer for `key`, present in `dst` (copied there from the cache
 * when need be): 0 and `out` filled, 1 when there is none to reuse. */
static int build_memo_get(struct layer_result *out, struct env *env,
			  const struct digest *key, enum tar_compression c, struct layout *dst)
{
	struct buf rec = BUF_INIT;
	int ret = 1;

	if (memo_get(&rec, env->cache, BUILD_MEMO_KIND, key, NULL) < 0)
		goto out;
	if (build_memo_parse(out, rec.data, rec.len, key, c) < 0) {
		layer_result_release(out);
		goto out;
	}
	if (blob_has(dst, &out->desc.digest, out->desc.size) ||
	    (dst != env->cache &&
	     blob_has(env->cache, &out->desc.digest, out->desc.size) &&
	     local_blob_copy(dst, env->cache, &out->desc, NULL) == 0)) {
		/* gc's grace period counts from this use */
		blob_touch(env->cache, &out->desc.digest);
		ret = 0;
	} else {
		layer_result_release(out);
	}
out:
	buf_release(&rec);
	return ret;
}

static void build_memo_put(struct layout *cache, const struct digest *key,
			   const struct layer_result *r)
{
	struct buf rec = BUF_INIT;

	if (buf_addf(&rec, "hoist-layer 1 %s %s %lld %s %lld %zu\n", digest_hex(key),
		     r->desc.digest.str, (long long)r->desc.size, r->diff_id.str,
		     (long long)r->diff_size, r->n_entries) == 0)
		memo_put(cache, BUILD_MEMO_KIND, key, rec.data, rec.len, NULL);
	buf_release(&rec);
}

/* A written layer's commit (fsync, rename, directory fsync: tens of ms for
 * a big layer on a slow disk) on a thread of its own, while the next layer
 * is built; then its memo record.  One at a time. */
struct build_commit {
	pthread_t th;
	int running;
	struct blob_writer *w;
	struct layer_result r;		/* what was written (digest, sizes) */
	struct layout *memo;		/* the cache, to record `key` in; or NULL */
	struct digest key;
	int ret;
	struct err e;
};

static int build_commit_do(struct build_commit *c)
{
	struct digest d;

	c->ret = blob_writer_commit(&d, NULL, c->w, &c->e);
	c->w = NULL;
	if (c->ret == 0 && !digest_equal(&d, &c->r.desc.digest))
		c->ret = err_set(&c->e, ERR_DIGEST, "layer digest mismatch (%s, written %s)",
				 c->r.desc.digest.str, d.str);
	if (c->ret == 0 && c->memo)
		build_memo_put(c->memo, &c->key, &c->r);
	return c->ret;
}

static void *build_commit_main(void *arg)
{
	build_commit_do(arg);
	return NULL;
}

/* Waits for the commit in flight, if any: its result (and message). */
static int build_commit_wait(struct build_commit *c, struct err *e)
{
	int ret;

	if (!c->running)
		return 0;
	pthread_join(c->th, NULL);
	c->running = 0;
	ret = c->ret;
	if (ret < 0 && e)
		*e = c->e;
	layer_result_release(&c->r);
	return ret;
}

/* Commits `w` holding the layer `r` (borrowed: copied) on a thread, or
 * here when no thread can be had; the one before must be waited for. */
static int build_commit_start(struct build_commit *c, struct blob_writer *w,
			      const struct layer_result *r, struct layout *memo,
			      const struct digest *key, struct err *e)
{
	memset(&c->r, 0, sizeof(c->r));
	descriptor_init(&c->r.desc);
	c->r.desc.digest = r->desc.digest;
	c->r.desc.size = r->desc.size;
	c->r.diff_id = r->diff_id;
	c->r.diff_size = r->diff_size;
	c->r.n_entries = r->n_entries;
	c->w = w;
	c->memo = memo;
	if (key)
		c->key = *key;
	err_clear(&c->e);
	if (pthread_create(&c->th, NULL, build_commit_main, c) == 0) {
		c->running = 1;
		return 0;
	}
	if (build_commit_do(c) < 0 && e)
		*e = c->e;
	return c->ret;
}

/* Adds the files of the layer step `st` (not a COPY --from) to `b`, their
 * owner names turned into IDs. */
static int build_layer_adds(struct layer_builder *b, const struct build_step *st,
			    const struct build_ids *ids, struct err *e)
{
	size_t i;
	int ret;

	for (i = 0; i < st->n_adds; i++) {
		struct layer_add a;

		if ((ret = build_owner(&a, &st->adds[i], ids, e)) < 0 ||
		    (ret = layer_builder_add(b, &a, e)) < 0)
			return ret;
	}
	return 0;
}

/* 1 when a memo key whose newest file changed at `newest` (ns since the
 * epoch) can be trusted: older than BUILD_MEMO_SETTLE_NS. */
static int build_memo_settled(int64_t newest)
{
	struct timespec now;

	return clock_gettime(CLOCK_REALTIME, &now) == 0 &&
	       newest < (int64_t)now.tv_sec * 1000000000 + now.tv_nsec - BUILD_MEMO_SETTLE_NS;
}

/* Writes step `st` as a layer blob into `dst`; fills `out`. */
static int build_layer(struct layer_result *out, struct env *env,
		       struct build_ctx *bx, const struct build_spec *s,
		       const struct build_step *st, const struct platform *plat,
		       struct layout *dst, const struct build_ids *ids,
		       struct build_commit *bc, struct err *e)
{
	struct layer_builder_opts bo;
	struct layer_write_opts wo;
	struct layer_builder *b = NULL;
	struct blob_writer *w = NULL;
	struct digest key;
	int64_t newest = 0, written;
	int ret, have_key = 0;

	memset(&bo, 0, sizeof(bo));
	memset(out, 0, sizeof(*out));
	descriptor_init(&out->desc);
	bo.mtime = s->created;
	bo.exclude = s->exclude;
	bo.exclude_arg = s->exclude_arg;
	bo.tmpdir = s->tmpdir;
	if ((ret = layer_builder_new(&b, &bo, e)) < 0)
		goto out;
	if (st->from || st->from_stage)
		ret = build_layer_from(b, env, bx, s, st, plat, dst, ids, e);
	else
		ret = build_layer_adds(b, st, ids, e);
	if (ret < 0)
		goto out;
	memset(&wo, 0, sizeof(wo));
	wo.compression = s->compression;
	wo.level = s->level;
	if (!wo.level && s->compression == TAR_COMPRESS_GZIP)
		wo.level = BUILD_GZIP_LEVEL_DEFAULT;
	if (env->cache && !s->no_cache) {
		if ((ret = layer_builder_key(&key, &newest, b, &wo, HOIST_VERSION, e)) < 0)
			goto out;
		have_key = ret == 0;
		if (have_key && build_memo_get(out, env, &key, s->compression, dst) == 0) {
			env_log(env, 1, "layer %s: reused (its files are unchanged)",
				  out->desc.digest.str);
			ret = 0;
			goto out;
		}
	}
	if ((ret = blob_begin(&w, dst, NULL, -1, e)) < 0)
		goto out;
	wo.sink = local_blob_sink;
	wo.sink_arg = w;
	wo.no_digest = 1;	/* the blob writer hashes what it writes: once */
	if ((ret = layer_builder_write(b, &wo, out, e)) < 0)
		goto out;
	blob_writer_digest(&out->desc.digest, &written, w);
	if (written != out->desc.size) {
		ret = err_set(e, ERR_IO, "layer of %lld bytes, %lld written", (long long)out->desc.size,
			      (long long)written);
		goto out;
	}
	if (have_key && !build_memo_settled(newest))
		have_key = 0;
	/* the commit overlaps the next layer; build_run() waits for it */
	if ((ret = build_commit_wait(bc, e)) < 0)
		goto out;
	ret = build_commit_start(bc, w, out, have_key ? env->cache : NULL, &key, e);
	w = NULL;
out:
	blob_writer_abort(w);
	layer_builder_free(b);
	if (ret < 0)
		layer_result_release(out);
	return ret;
}

/* Layers built ahead: while build_run() builds a layer on its thread, one
 * more thread builds the later steps that copy local files (no COPY
 * --from: those read stages and images), in order, each committed before
 * it counts as done.  A layer is mostly one thread's reading and another's
 * hashing beside the deflating workers, so the walk, the reads and the
 * commits of one layer fill the gaps of another. */
struct build_ahead {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	pthread_t th;
	int running, stop;
	struct env *env;
	const struct build_spec *s;
	const struct platform *plat;
	struct layout *dst;
	const struct build_ids *ids;
	size_t first;			/* steps [first, s->n_steps) */
	unsigned char *mine, *done;	/* per step: built here; finished */
	struct layer_result *lr;
	int *ret;
	struct err *errs;
};

/* A step the ahead thread may build: a layer of local files. */
static int build_ahead_ok(const struct build_step *st)
{
	return !st->empty_layer && !st->from && !st->from_stage;
}

static void *build_ahead_main(void *arg)
{
	struct build_ahead *a = arg;
	struct build_commit c;
	size_t k;

	memset(&c, 0, sizeof(c));
	for (k = a->first; k < a->s->n_steps; k++) {
		int ret, stop;

		if (!a->mine[k])
			continue;
		pthread_mutex_lock(&a->mu);
		stop = a->stop;
		pthread_mutex_unlock(&a->mu);
		if (stop)
			ret = err_set(&a->errs[k], ERR_FAIL, "stopped");
		else if ((ret = build_layer(&a->lr[k], a->env, NULL, a->s, &a->s->steps[k],
					    a->plat, a->dst, a->ids, &c,
					    &a->errs[k])) == 0 &&
			 (ret = build_commit_wait(&c, &a->errs[k])) < 0)
			layer_result_release(&a->lr[k]);
		pthread_mutex_lock(&a->mu);
		a->ret[k] = ret;
		a->done[k] = 1;
		pthread_cond_broadcast(&a->cv);
		pthread_mutex_unlock(&a->mu);
	}
	return NULL;
}

/* Frees the ahead thread's arrays and zeroes it. */
static void build_ahead_clear(struct build_ahead *a)
{
	free(a->mine);
	free(a->done);
	free(a->lr);
	free(a->ret);
	free(a->errs);
	memset(a, 0, sizeof(*a));
}

/* Starts the ahead thread when at least two layer steps can run side by
 * side and there are cores for it; else leaves `a` idle. */
static void build_ahead_start(struct build_ahead *a, struct env *env,
			      const struct build_spec *s, const struct platform *plat,
			      struct layout *dst, const struct build_ids *ids)
{
	size_t k, n = 0, first = 0;

	memset(a, 0, sizeof(*a));
	for (k = 0; k < s->n_steps && !n; k++)
		if (!s->steps[k].empty_layer)
			first = k, n = 1;
	if (!n || sysconf(_SC_NPROCESSORS_ONLN) < 2)
		return;
	n = 0;
	for (k = first + 1; k < s->n_steps; k++)
		n += build_ahead_ok(&s->steps[k]);
	if (!n)
		return;
	a->mine = calloc(s->n_steps, 1);
	a->done = calloc(s->n_steps, 1);
	a->lr = calloc(s->n_steps, sizeof(*a->lr));
	a->ret = calloc(s->n_steps, sizeof(*a->ret));
	a->errs = calloc(s->n_steps, sizeof(*a->errs));
	if (!a->mine || !a->done || !a->lr || !a->ret || !a->errs)
		goto none;
	for (k = first + 1; k < s->n_steps; k++)
		a->mine[k] = (unsigned char)build_ahead_ok(&s->steps[k]);
	for (k = 0; k < s->n_steps; k++)
		descriptor_init(&a->lr[k].desc);
	a->env = env;
	a->s = s;
	a->plat = plat;
	a->dst = dst;
	a->ids = ids;
	a->first = first + 1;
	if (pthread_mutex_init(&a->mu, NULL) != 0)
		goto none;
	if (pthread_cond_init(&a->cv, NULL) != 0) {
		pthread_mutex_destroy(&a->mu);
		goto none;
	}
	if (pthread_create(&a->th, NULL, build_ahead_main, a) != 0) {
		pthread_cond_destroy(&a->cv);
		pthread_mutex_destroy(&a->mu);
		goto none;
	}
	a->running = 1;
	return;
none:
	build_ahead_clear(a);
}

/* Step k's layer when the ahead thread builds it: waits, then moves it to
 * `out`; 1 when step k is not its. */
static int build_ahead_take(struct layer_result *out, struct build_ahead *a, size_t k,
			    struct err *e)
{
	int ret;

	if (!a->running || !a->mine[k])
		return 1;
	pthread_mutex_lock(&a->mu);
	while (!a->done[k])
		pthread_cond_wait(&a->cv, &a->mu);
	pthread_mutex_unlock(&a->mu);
	ret = a->ret[k];
	if (ret < 0) {
		*e = a->errs[k];
		return ret;
	}
	*out = a->lr[k];
	memset(&a->lr[k], 0, sizeof(a->lr[k]));
	descriptor_init(&a->lr[k].desc);
	return 0;
}

/* Stops (after the layer it is building) and joins the ahead thread. */
static void build_ahead_end(struct build_ahead *a)
{
	size_t k;

	if (!a->running)
		return;
	pthread_mutex_lock(&a->mu);
	a->stop = 1;
	pthread_mutex_unlock(&a->mu);
	pthread_join(a->th, NULL);
	for (k = 0; k < a->s->n_steps; k++)
		layer_result_release(&a->lr[k]);
	pthread_cond_destroy(&a->cv);
	pthread_mutex_destroy(&a->mu);
	build_ahead_clear(a);
}

/* Makes `dst` hold the base's blobs (pull_base()), unless it has
 * them all. */
static int build_pull_base(struct env *env, const struct ref *base,
			   const struct manifest *bm, struct layout *dst, struct err *e)
{
	size_t i;
	int have = 1;

	/* the warm path: every blob already there, nothing to pull or record */
	for (i = 0; i < bm->n_layers && have; i++)
		have = blob_has(dst, &bm->layers[i].digest, bm->layers[i].size);
	if (have && blob_has(dst, &bm->config.digest, bm->config.size))
		return 0;
	return pull_base(env, base, PULL_SINGLE, dst, e);
}

/* The image manifest (annotations in sorted order, as Go writes a map),
 * parsed into `out` and stored in `dst`: Docker schema 2 when `docker` and
 * its layers have Docker types (then without annotations), else OCI (see
 * manifest_json_family()). */
static int build_manifest_put(struct manifest *out, struct layout *dst, int docker,
			      const struct descriptor *config, const struct descriptor *layers,
			      size_t n, const struct kvlist *annot, struct err *e)
{
	struct json *m = json_new_object(), *arr = NULL, *an = NULL;
	const char *mt;
	size_t i;
	int ret = ERR_NOMEM;

	if (!m || json_set_int64(m, "schemaVersion", 2) < 0 ||
	    json_set_str(m, "mediaType", MT_OCI_MANIFEST) < 0 ||
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
	if ((ret = manifest_json_family(&mt, m, docker)) < 0)
		goto out;
	ret = local_manifest_put(out, dst, m, mt, e);
	goto done;
out:
	err_set(e, ERR_NOMEM, "out of memory");
done:
	json_free(arr);
	json_free(an);
	json_free(m);
	return ret;
}

int build_image(struct build_result *out, struct env *env, const struct build_spec *s,
		struct layout *dst, unsigned flags, struct err *e)
{
	struct build_ctx bx;
	size_t i;
	int ret;

	memset(&bx, 0, sizeof(bx));
	bx.root = s;
	if (s->n_stages) {
		bx.stage_m = calloc(s->n_stages, sizeof(*bx.stage_m));
		bx.stage_done = calloc(s->n_stages, 1);
		if (!bx.stage_m || !bx.stage_done) {
			free(bx.stage_m);
			free(bx.stage_done);
			return err_set(e, ERR_NOMEM, "out of memory");
		}
		for (i = 0; i < s->n_stages; i++)
			manifest_init(&bx.stage_m[i]);
	}
	ret = build_run(out, env, &bx, s, dst, flags, e);
	for (i = 0; bx.stage_m && i < s->n_stages; i++)
		manifest_release(&bx.stage_m[i]);
	free(bx.stage_m);
	free(bx.stage_done);
	return ret;
}

/* Whether a step of `s` gives --chown names. */
static int build_names_owners(const struct build_spec *s)
{
	size_t i, j;

	for (i = 0; i < s->n_steps; i++)
		for (j = 0; j < s->steps[i].n_adds; j++)
			if (s->steps[i].adds[j].flags & LAYER_ADD_CHOWN_NAME)
				return 1;
	return 0;
}

/* One build_run(): what the base gives and what the steps add. */
struct build_state {
	struct manifest bm, bidx;	/* the base's image manifest, and its index */
	struct imgconfig bc;		/* the base's config */
	struct json *cfg;		/* the config being built */
	struct descriptor *layers;	/* the base's layers, then the new ones */
	size_t n_layers;
	struct kvlist annot;		/* the manifest's annotations */
	struct build_ids ids;
	struct build_commit lc;		/* the last layer's commit */
	int docker;			/* the base is a Docker image */
};

static void build_state_init(struct build_state *st)
{
	memset(st, 0, sizeof(*st));
	manifest_init(&st->bm);
	manifest_init(&st->bidx);
	imgconfig_init(&st->bc);
	kvlist_init(&st->annot);
}

static void build_state_release(struct build_state *st)
{
	size_t i;

	for (i = 0; st->layers && i < st->n_layers; i++)
		descriptor_release(&st->layers[i]);
	free(st->layers);
	json_free(st->cfg);
	kvlist_release(&st->annot);
	buf_release(&st->ids.passwd);
	buf_release(&st->ids.group);
	imgconfig_release(&st->bc);
	manifest_release(&st->bm);
	manifest_release(&st->bidx);
}

/* The base image s->base for `want`: its manifest and config (copied as
 * the config to build), the annotations naming it, with BUILD_WITH_BASE
 * its blobs in `dst`, and the /etc/passwd --chown names need; out->base
 * names it by digest. */
static int build_base(struct build_state *st, struct build_result *out, struct env *env,
		      const struct build_spec *s, const struct platform *want,
		      struct layout *dst, unsigned flags, struct err *e)
{
	struct ref base = REF_INIT;
	struct buf raw = BUF_INIT, name = BUF_INIT;
	int ret;

	if ((ret = ref_parse(&base, s->base, 0, e)) < 0)
		goto out;
	ret = resolve_image(&st->bm, &st->bidx, env, &base, want, e);
	if (ret < 0) {
		err_prefix(e, "base image '%s'", s->base);
		goto out;
	}
	if ((ret = resolve_blob(&raw, env, &base, &st->bm.config, 0, e)) < 0 ||
	    (ret = imgconfig_parse(&st->bc, raw.data, raw.len, 0, e)) < 0) {
		err_prefix(e, "base image '%s' config", s->base);
		goto out;
	}
	/* a single-platform base must be what was asked for */
	if (want && st->bidx.kind != MT_KIND_INDEX && !platform_match(want, &st->bc.platform)) {
		struct buf w = BUF_INIT, h = BUF_INIT;
		platform_format(&w, want);
		platform_format(&h, &st->bc.platform);
		ret = err_set(e, ERR_NOT_FOUND, "base image '%s' is one image for %s, "
			      "not for %s", s->base, h.len ? h.data : "no platform",
			      w.len ? w.data : "?");
		buf_release(&w);
		buf_release(&h);
		goto out;
	}
	if (!(st->cfg = json_copy(st->bc.json)))
		goto nomem;
	st->docker = mediatype_equal(st->bm.media_type, MT_DOCKER_MANIFEST);
	if (ref_copy(&out->base, &base) < 0)
		goto nomem;
	free(out->base.tag);
	out->base.tag = NULL;
	free(out->base.digest);
	if (!(out->base.digest = strdup(st->bm.digest.str)))
		goto nomem;
	if (ref_format(&name, &base) < 0 ||
	    kvlist_set(&st->annot, ANNOT_BASE_DIGEST, st->bm.digest.str) < 0 ||
	    kvlist_set(&st->annot, ANNOT_BASE_NAME, name.data) < 0)
		goto nomem;
	if ((flags & BUILD_WITH_BASE) &&
	    (ret = build_pull_base(env, &out->base, &st->bm, dst, e)) < 0)
		goto out;
	if (build_names_owners(s) &&
	    (ret = build_ids_read(&st->ids, env, &out->base, &st->bm, dst,
				  !!(flags & BUILD_WITH_BASE), e)) < 0)
		goto out;
	st->n_layers = st->bm.n_layers;
	ret = 0;
	goto out;
nomem:
	ret = err_set(e, ERR_NOMEM, "out of memory");
out:
	ref_release(&base);
	buf_release(&raw);
	buf_release(&name);
	return ret;
}

/* Every step of `s`: a layer step's layer (built here, or by the ahead
 * thread) appended to st->layers and its diff_id to the config, and one
 * history entry per step. */
static int build_steps(struct build_state *st, struct env *env, struct build_ctx *bx,
		       const struct build_spec *s, const struct platform *target,
		       struct layout *dst, const char *created, struct err *e)
{
	struct json *hist, *diff_ids;
	struct build_ahead ahead;
	size_t i;
	int ret;

	memset(&ahead, 0, sizeof(ahead));
	if (!(st->layers = calloc(st->n_layers + s->n_steps + 1, sizeof(*st->layers))))
		goto nomem;
	for (i = 0; i < st->n_layers; i++)
		if (descriptor_copy(&st->layers[i], &st->bm.layers[i]) < 0)
			goto nomem;
	if (imgconfig_layers(&hist, &diff_ids, st->cfg) < 0)
		goto nomem;
	build_ahead_start(&ahead, env, s, target, dst, &st->ids);
	for (i = 0; i < s->n_steps; i++) {
		const struct build_step *step = &s->steps[i];
		struct layer_result lr;
		if (!step->empty_layer) {
			ret = build_ahead_take(&lr, &ahead, i, e);
			if (ret == 1)
				ret = build_layer(&lr, env, bx, s, step, target, dst, &st->ids, &st->lc,
						  e);
			if (ret < 0) {
				err_prefix(e, "'%s'", step->created_by);
				goto out;
			}
			st->layers[st->n_layers++] = lr.desc;
			descriptor_init(&lr.desc);
			ret = json_append(diff_ids, json_new_string(lr.diff_id.str));
			layer_result_release(&lr);
			if (ret < 0)
				goto nomem;
		}
		if (imgconfig_history_add(hist, created, step->created_by, step->empty_layer) < 0)
			goto nomem;
	}
	ret = 0;
	goto out;
nomem:
	ret = err_set(e, ERR_NOMEM, "out of memory");
out:
	build_ahead_end(&ahead);
	return ret;
}

/* The config and manifest, written while the last layer's commit runs:
 * both are stored blobs nothing names before build_run() returns; then
 * that commit's result. */
static int build_finish(struct build_result *out, struct build_state *st,
			const struct build_spec *s, struct layout *dst, const char *created,
			struct err *e)
{
	struct buf raw = BUF_INIT;
	struct descriptor cdesc;
	size_t i;
	int ret;

	descriptor_init(&cdesc);
	for (i = 0; i < s->annotations.keys.n; i++)
		if (kvlist_set(&st->annot, s->annotations.keys.v[i], s->annotations.values.v[i]) < 0)
			goto nomem;
	if (build_config_apply(st->cfg, s) < 0 || json_set_str(st->cfg, "created", created) < 0)
		goto nomem;
	platform_release(&out->platform);
	if ((ret = platform_from_json(&out->platform, st->cfg, "the config", e)) < 0)
		goto out;
	if ((ret = local_json_blob(&raw, &out->config_digest, dst, st->cfg, e)) < 0)
		goto out;
	if (!(cdesc.media_type = strdup(st->docker ? MT_DOCKER_CONFIG : MT_OCI_CONFIG)))
		goto nomem;
	cdesc.digest = out->config_digest;
	cdesc.size = (int64_t)raw.len;
	/* annotations asked for need OCI's format: Docker's has none, and the
	 * base annotations alone are left out of a Docker manifest */
	if ((ret = build_manifest_put(&out->manifest, dst, st->docker && !s->annotations.keys.n,
				      &cdesc, st->layers, st->n_layers, &st->annot, e)) < 0)
		goto out;
	ret = build_commit_wait(&st->lc, e);
	goto out;
nomem:
	ret = err_set(e, ERR_NOMEM, "out of memory");
out:
	descriptor_release(&cdesc);
	buf_release(&raw);
	return ret;
}

static int build_run(struct build_result *out, struct env *env,
		     struct build_ctx *bx, const struct build_spec *s,
		     struct layout *dst, unsigned flags, struct err *e)
{
	struct build_state st;
	struct platform plat, tplat;
	const struct platform *target = env->platform, *want;
	char created[64];
	int ret;

	build_state_init(&st);
	platform_init(&plat);
	platform_init(&tplat);
	if (imgconfig_time(created, sizeof(created), s->created) < 0) {
		ret = err_set(e, ERR_INVALID, "invalid creation time %lld", (long long)s->created);
		goto out;
	}
	if (s->platform) {
		if ((ret = platform_parse(&tplat, s->platform, e)) < 0)
			goto out;
		target = &tplat;
	}
	want = target;
	if (s->base_platform) {
		if ((ret = platform_parse(&plat, s->base_platform, e)) < 0)
			goto out;
		want = &plat;
	}
	if (s->base)
		ret = build_base(&st, out, env, s, want, dst, flags, e);
	else if (!(st.cfg = imgconfig_new(want, NULL)))
		ret = err_set(e, ERR_NOMEM, "out of memory");
	else
		ret = 0;
	if (ret == 0)
		ret = build_steps(&st, env, bx, s, target, dst, created, e);
	if (ret == 0)
		ret = build_finish(out, &st, s, dst, created, e);
out:
	if (ret < 0)
		build_commit_wait(&st.lc, NULL);	/* the error is the earlier one */
	build_state_release(&st);
	platform_release(&plat);
	platform_release(&tplat);
	return ret;
}

int build_push(struct digest *out, struct env *env, const struct build_result *r,
		     struct layout *src, const struct descriptor *root, const struct ref *dst,
		     struct err *e)
{
	return build_push_all(out, env, r, 1, src, root, dst, e);
}

int build_push_all(struct digest *out, struct env *env,
			 const struct build_result *r, size_t n, struct layout *src,
			 const struct descriptor *root, const struct ref *dst, struct err *e)
{
	size_t i, j;
	int ret;

	for (i = 0; i < n; i++) {
		struct ref to = { dst->registry, dst->repository, NULL, r[i].base.digest };
		struct digest d;
		if (!r[i].base.repository)
			continue;
		for (j = 0; j < i; j++)
			if (r[j].base.digest && !strcmp(r[j].base.digest, r[i].base.digest))
				break;
		if (j < i)
			continue;	/* that base is there already */
		if (!strcmp(r[i].base.registry, dst->registry)) {
			/* Same registry: the push itself mounts the base's layers
			 * (HEAD, then POST ?mount= on its parallel workers) once it
			 * knows where they are: no copy of the base first, no base
			 * manifest put, no blob HEADed twice.  The layers `src`
			 * lacks are the base's: their source is recorded there. */
			struct buf from = BUF_INIT;
			if (buf_addf(&from, "%s/%s", r[i].base.registry, r[i].base.repository) < 0)
				ret = err_set(e, ERR_NOMEM, "out of memory");
			else
				ret = 0;
			for (j = 0; ret == 0 && j < r[i].manifest.n_layers; j++) {
				const struct descriptor *l = &r[i].manifest.layers[j];
				if (!blob_has(src, &l->digest, l->size))
					ret = blob_source_add(src, &l->digest, from.data, e);
			}
			buf_release(&from);
			if (ret < 0)
				return ret;
			continue;
		}
		ret = copy_image(&d, env, &r[i].base, &to, 0, e);
		if (ret < 0) {
			err_prefix(e, "base image layers");
			return ret;
		}
	}
	return push_root(out, env, src, root, dst, e);
}

int build_index(struct manifest *out, const struct build_result *r, size_t n,
		      struct layout *dst, struct err *e)
{
	struct json *idx = json_new_object(), *arr = json_new_array();
	const char *mt = MT_DOCKER_LIST;
	size_t i;
	int ret = ERR_NOMEM;

	for (i = 0; i < n; i++)
		if (!mediatype_equal(r[i].manifest.media_type, MT_DOCKER_MANIFEST))
			mt = MT_OCI_INDEX;
	if (!idx || !arr || json_set_int64(idx, "schemaVersion", 2) < 0 ||
	    json_set_str(idx, "mediaType", mt) < 0)
		goto nomem;
	for (i = 0; i < n; i++) {
		struct descriptor d;
		struct platform p = PLATFORM_INIT;
		descriptor_init(&d);
		d.media_type = (char *)r[i].manifest.media_type;
		d.digest = r[i].manifest.digest;
		d.size = (int64_t)r[i].manifest.raw.len;
		p.os = r[i].platform.os;
		p.arch = r[i].platform.arch;
		p.variant = r[i].platform.variant;
		d.platform = &p;
		ret = json_append(arr, descriptor_to_json(&d));
		if (ret < 0)
			goto nomem;
	}
	ret = json_set(idx, "manifests", arr);
	arr = NULL;
	if (ret < 0)
		goto nomem;
	ret = local_manifest_put(out, dst, idx, mt, e);
	goto out;
nomem:
	ret = err_set(e, ERR_NOMEM, "out of memory");
out:
	json_free(arr);
	json_free(idx);
	return ret;
}

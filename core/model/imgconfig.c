/* imgconfig.c - image configs, read and edited.  See imgconfig.h. */
#include "core/model/imgconfig.h"

#include "core/base/err.h"
#include "core/base/json.h"
#include "core/base/strvec.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

struct json *imgconfig_member(struct json *obj, const char *key, int array)
{
	struct json *j = json_get(obj, key);
	enum json_kind want = array ? JSON_ARRAY : JSON_OBJECT;

	if (!obj)
		return NULL;
	if (j && json_kind_of(j) == want)
		return j;
	if (json_set(obj, key, array ? json_new_array() : json_new_object()) < 0)
		return NULL;
	return json_get(obj, key);
}

static int imgconfig_set_strvec(struct json *obj, const char *key, const struct strvec *sv,
				unsigned flags)
{
	struct json *a;
	size_t i;

	if (!sv->n && (flags & IMGCONFIG_EMPTY_ARGV_DELETES)) {
		json_del(obj, key);
		return 0;
	}
	if (!(a = json_new_array()))
		return ERR_NOMEM;
	for (i = 0; i < sv->n; i++)
		if (json_append(a, json_new_string(sv->v[i])) < 0) {
			json_free(a);
			return ERR_NOMEM;
		}
	return json_set(obj, key, a);
}

/* Env: replaces K=... in place or appends. */
static int imgconfig_env_set(struct json *config, const char *k, const char *v)
{
	struct json *env = imgconfig_member(config, "Env", 1);
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

/* obj[key] gets a key of {} for each string of `keys` (ExposedPorts,
 * Volumes). */
static int imgconfig_set_keys(struct json *c, const char *key, const struct strvec *keys)
{
	struct json *o;
	size_t i;
	int ret = 0;

	if (!keys || !keys->n)
		return 0;
	if (!(o = imgconfig_member(c, key, 0)))
		return ERR_NOMEM;
	for (i = 0; i < keys->n && ret == 0; i++)
		ret = json_set(o, keys->v[i], json_new_object());
	return ret;
}

int imgconfig_set_kvlist(struct json *obj, const char *key, const struct kvlist *kv)
{
	struct json *o;
	size_t i;
	int ret = 0;

	if (!kv || !kv->keys.n)
		return 0;
	if (!(o = imgconfig_member(obj, key, 0)))
		return ERR_NOMEM;
	for (i = 0; i < kv->keys.n && ret == 0; i++)
		ret = json_set_str(o, kv->keys.v[i], kv->values.v[i]);
	return ret;
}

int imgconfig_apply(struct json *cfg, const struct imgconfig_edit *ed)
{
	struct json *c = imgconfig_member(cfg, "config", 0);
	size_t i;
	int ret = 0;

	if (!c)
		return ERR_NOMEM;
	for (i = 0; ed->env && i < ed->env->keys.n && ret == 0; i++)
		ret = imgconfig_env_set(c, ed->env->keys.v[i], ed->env->values.v[i]);
	if (ret == 0 && ed->entrypoint) {
		ret = imgconfig_set_strvec(c, "Entrypoint", ed->entrypoint, ed->flags);
		if (ret == 0 && !ed->cmd && (ed->flags & IMGCONFIG_ENTRYPOINT_DROPS_CMD))
			json_del(c, "Cmd");
	}
	if (ret == 0 && ed->cmd)
		ret = imgconfig_set_strvec(c, "Cmd", ed->cmd, ed->flags);
	if (ret == 0 && ed->workdir)
		ret = json_set_str(c, "WorkingDir", ed->workdir);
	if (ret == 0 && ed->user)
		ret = json_set_str(c, "User", ed->user);
	if (ret == 0 && ed->stop_signal)
		ret = json_set_str(c, "StopSignal", ed->stop_signal);
	if (ret == 0)
		ret = imgconfig_set_kvlist(c, "Labels", ed->labels);
	if (ret == 0)
		ret = imgconfig_set_keys(c, "ExposedPorts", ed->expose);
	if (ret == 0)
		ret = imgconfig_set_keys(c, "Volumes", ed->volumes);
	return ret;
}

struct json *imgconfig_new(const struct platform *p, const char *created)
{
	struct json *c = json_new_object(), *rootfs = json_new_object();

	if (!c || !rootfs || json_set_str(c, "architecture", p && p->arch ? p->arch : "amd64") < 0 ||
	    (created && json_set_str(c, "created", created) < 0) ||
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

int imgconfig_time(char *out, size_t n, int64_t t)
{
	struct tm tm;
	time_t tt = (time_t)t;

	if (!gmtime_r(&tt, &tm) || !strftime(out, n, "%Y-%m-%dT%H:%M:%SZ", &tm))
		return -1;
	return 0;
}

int imgconfig_layers(struct json **hist, struct json **diff_ids, struct json *cfg)
{
	struct json *rootfs;

	if (!(*hist = imgconfig_member(cfg, "history", 1)) ||
	    !(*diff_ids = imgconfig_member(imgconfig_member(cfg, "rootfs", 0), "diff_ids", 1)))
		return ERR_NOMEM;
	rootfs = json_get(cfg, "rootfs");
	if (!json_get_str(rootfs, "type") && json_set_str(rootfs, "type", "layers") < 0)
		return ERR_NOMEM;
	return 0;
}

int imgconfig_history_add(struct json *hist, const char *created, const char *created_by,
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

/* ---- reading ---- */

void imgconfig_init(struct imgconfig *c)
{
	buf_init(&c->raw, 0);
	c->json = NULL;
	c->platform.os = NULL;
	c->platform.arch = NULL;
	c->platform.variant = NULL;
	c->platform.os_version = NULL;
	strvec_init(&c->platform.os_features);
	c->diff_ids = NULL;
	c->n_diff_ids = 0;
	c->created = NULL;
}

void imgconfig_release(struct imgconfig *c)
{
	buf_release(&c->raw);
	json_free(c->json);
	free(c->platform.os);
	free(c->platform.arch);
	free(c->platform.variant);
	free(c->platform.os_version);
	strvec_clear(&c->platform.os_features);
	free(c->diff_ids);
	free(c->created);
	imgconfig_init(c);
}

static int image_config_rootfs(struct imgconfig *c, struct err *e)
{
	struct json *rootfs = json_get(c->json, "rootfs"), *ids, *v;
	const char *type;
	size_t i, n;
	int rc;

	if (json_kind_of(rootfs) != JSON_OBJECT)
		return err_set(e, ERR_INVALID, "missing 'rootfs' object");
	type = json_get_str(rootfs, "type");
	if (!type || strcmp(type, "layers"))
		return err_set(e, ERR_INVALID, "rootfs.type must be \"layers\"");
	ids = json_get(rootfs, "diff_ids");
	if (!ids || json_kind_of(ids) == JSON_NULL)
		return 0;
	if (json_kind_of(ids) != JSON_ARRAY)
		return err_set(e, ERR_INVALID, "rootfs.diff_ids must be an array of digests");
	n = json_array_len(ids);
	if (!n)
		return 0;
	c->diff_ids = calloc(n, sizeof(*c->diff_ids));
	if (!c->diff_ids)
		return err_set(e, ERR_NOMEM, "out of memory");
	for (i = 0; i < n; i++) {
		v = json_array_get(ids, i);
		if (!json_str(v) || strlen(json_str(v)) != json_str_len(v))
			return err_set(e, ERR_INVALID, "rootfs.diff_ids[%zu] is not a string", i);
		rc = digest_parse(&c->diff_ids[i], json_str(v), e);
		if (rc < 0)
			return err_prefix(e, "rootfs.diff_ids[%zu]", i);
		c->n_diff_ids = i + 1;
	}
	return 0;
}

int imgconfig_parse(struct imgconfig *out, const char *data, size_t len, size_t max,
		       struct err *e)
{
	struct json *v;
	int ret;

	imgconfig_init(out);
	if (!data)
		data = "";
	if (!max)
		max = IMGCONFIG_MAX_DEFAULT;
	if (len > max) {
		ret = err_set(e, ERR_TOO_BIG,
			      "image config of %zu bytes exceeds the limit of %zu bytes", len, max);
		goto out;
	}
	if (buf_add(&out->raw, data, len) < 0) {
		ret = err_set(e, ERR_NOMEM, "out of memory reading an image config");
		goto out;
	}
	ret = json_parse(&out->json, data, len, e);
	if (ret < 0)
		goto out;
	if (json_kind_of(out->json) != JSON_OBJECT) {
		ret = err_set(e, ERR_INVALID, "not a JSON object");
		goto out;
	}
	ret = platform_from_json(&out->platform, out->json, "platform", e);
	if (ret < 0)
		goto out;
	ret = image_config_rootfs(out, e);
	if (ret < 0)
		goto out;
	v = json_get(out->json, "created");
	if (v && json_kind_of(v) != JSON_NULL) {
		if (!json_str(v) || strlen(json_str(v)) != json_str_len(v)) {
			ret = err_set(e, ERR_INVALID, "'created' must be a string");
			goto out;
		}
		if (!(out->created = strdup(json_str(v)))) {
			ret = err_set(e, ERR_NOMEM, "out of memory");
			goto out;
		}
	}
	ret = 0;
out:
	if (ret == ERR_INVALID)
		err_prefix(e, "invalid image config");
	if (ret < 0)
		imgconfig_release(out);
	return ret;
}

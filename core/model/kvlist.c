/* kvlist.c - see kvlist.h. */
#include "core/model/kvlist.h"

#include "core/base/err.h"
#include "core/base/json.h"
#include "core/base/text.h"

#include <stdlib.h>
#include <string.h>

void kvlist_init(struct kvlist *kv)
{
	strvec_init(&kv->keys);
	strvec_init(&kv->values);
}

void kvlist_release(struct kvlist *kv)
{
	strvec_clear(&kv->keys);
	strvec_clear(&kv->values);
}

int kvlist_set(struct kvlist *kv, const char *key, const char *value)
{
	long i = strvec_find(&kv->keys, key);
	char *v;
	int rc;

	if (i >= 0) {
		v = strdup(value);
		if (!v)
			return ERR_NOMEM;
		free(kv->values.v[i]);
		kv->values.v[i] = v;
		return 0;
	}
	rc = strvec_push(&kv->keys, key);
	if (rc < 0)
		return rc;
	rc = strvec_push(&kv->values, value);
	if (rc < 0) {
		kv->keys.n--;
		free(kv->keys.v[kv->keys.n]);
		kv->keys.v[kv->keys.n] = NULL;
	}
	return rc;
}

const char *kvlist_get(const struct kvlist *kv, const char *key)
{
	long i = strvec_find(&kv->keys, key);

	return i >= 0 ? kv->values.v[i] : NULL;
}

int kvlist_copy(struct kvlist *out, const struct kvlist *src)
{
	size_t i;
	int rc;

	kvlist_init(out);
	for (i = 0; i < src->keys.n; i++) {
		rc = kvlist_set(out, src->keys.v[i], src->values.v[i]);
		if (rc < 0) {
			kvlist_release(out);
			return rc;
		}
	}
	return 0;
}

/* ---- JSON helpers shared with manifest.c ---- */

struct annot_arg {
	struct kvlist *kv;
	const char *what;
	struct err *e;
};

static int annot_one(const char *key, struct json *val, void *argp)
{
	struct annot_arg *arg = argp;
	const char *v = json_plain_str(val);
	char q[96];

	if (!v) {
		text_quote(q, sizeof(q), key);
		return err_set(arg->e, ERR_INVALID, "%s: annotation '%s' must have a string value",
			       arg->what, q);
	}
	if (kvlist_set(arg->kv, key, v) < 0)
		return err_set(arg->e, ERR_NOMEM, "%s: out of memory", arg->what);
	return 0;
}

int kvlist_from_json(struct kvlist *out, const struct json *j, const char *what,
			struct err *e)
{
	struct annot_arg arg = { out, what, e };

	if (!j || json_kind_of(j) == JSON_NULL)
		return 0;
	if (json_kind_of(j) != JSON_OBJECT)
		return err_set(e, ERR_INVALID, "%s: annotations must be an object of strings",
			       what);
	return json_obj_each(j, annot_one, &arg);
}

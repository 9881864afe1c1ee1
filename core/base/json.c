#include "core/base/json.h"

#include "core/base/buf.h"
#include "core/base/err.h"
#include "core/base/strvec.h"

#include <json-c/json.h>
#include <limits.h>
#include <string.h>

#define JO(j) ((json_object *)(j))
#define JC(j) ((const json_object *)(j))

/* json-c accepts single-quoted strings even in strict mode; JSON does not. */
static int has_single_quote_outside_string(const char *data, size_t len)
{
	int in_str = 0;
	size_t i;

	for (i = 0; i < len; i++) {
		char c = data[i];
		if (in_str) {
			if (c == '\\')
				i++;
			else if (c == '"')
				in_str = 0;
		} else if (c == '"') {
			in_str = 1;
		} else if (c == '\'') {
			return 1;
		}
	}
	return 0;
}

int json_parse(struct json **out, const char *data, size_t len, struct err *e)
{
	struct json_tokener *tok;
	json_object *obj;
	enum json_tokener_error jerr;
	size_t used, i;
	int ret = ERR_INVALID;

	*out = NULL;
	if (len > INT_MAX)
		return err_set(e, ERR_TOO_BIG, "JSON document of %zu bytes is too large", len);
	if (memchr(data, '\0', len))
		return err_set(e, ERR_INVALID, "invalid JSON: contains a NUL byte");
	if (has_single_quote_outside_string(data, len))
		return err_set(e, ERR_INVALID, "invalid JSON: single-quoted string");
	tok = json_tokener_new_ex(JSON_MAX_DEPTH);
	if (!tok)
		return err_set(e, ERR_NOMEM, "out of memory parsing JSON");
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);
	obj = json_tokener_parse_ex(tok, data, (int)len);
	jerr = json_tokener_get_error(tok);
	if (jerr == json_tokener_continue) {
		/* A number at the very end needs a terminator to complete. */
		obj = json_tokener_parse_ex(tok, " ", 1);
		jerr = json_tokener_get_error(tok);
		if (jerr == json_tokener_success)
			used = len;
		else
			used = 0;
	} else {
		used = json_tokener_get_parse_end(tok);
	}
	if (jerr != json_tokener_success) {
		if (jerr == json_tokener_continue)
			err_set(e, ERR_INVALID, "invalid JSON: unexpected end of input");
		else if (jerr == json_tokener_error_depth)
			err_set(e, ERR_INVALID, "invalid JSON: nested deeper than %d levels",
				JSON_MAX_DEPTH);
		else
			err_set(e, ERR_INVALID, "invalid JSON at byte %zu: %s",
				json_tokener_get_parse_end(tok), json_tokener_error_desc(jerr));
		goto out;
	}
	for (i = used; i < len; i++) {
		char c = data[i];
		if (c != ' ' && c != '\t' && c != '\n' && c != '\r') {
			err_set(e, ERR_INVALID, "invalid JSON: trailing data at byte %zu", i);
			goto out;
		}
	}
	/* json-c's null is NULL, which is also "no value" here: no caller wants a
	 * document that is only null. */
	if (!obj) {
		err_set(e, ERR_INVALID, "JSON document is null");
		goto out;
	}
	*out = (struct json *)obj;
	obj = NULL;
	ret = 0;
out:
	json_object_put(obj);
	json_tokener_free(tok);
	return ret;
}

void json_free(struct json *j)
{
	json_object_put(JO(j));
}

struct json *json_ref(struct json *j)
{
	return (struct json *)json_object_get(JO(j));
}

enum json_kind json_kind_of(const struct json *j)
{
	switch (json_object_get_type(JC(j))) {
	case json_type_boolean: return JSON_BOOL;
	case json_type_int: return JSON_INT;
	case json_type_double: return JSON_DOUBLE;
	case json_type_string: return JSON_STRING;
	case json_type_object: return JSON_OBJECT;
	case json_type_array: return JSON_ARRAY;
	default: return JSON_NULL;
	}
}

struct json *json_get(const struct json *obj, const char *key)
{
	json_object *v = NULL;

	if (!json_object_is_type(JC(obj), json_type_object))
		return NULL;
	if (!json_object_object_get_ex(JC(obj), key, &v))
		return NULL;
	return (struct json *)v;
}

const char *json_str(const struct json *j)
{
	if (!json_object_is_type(JC(j), json_type_string))
		return NULL;
	return json_object_get_string(JO(j));
}

size_t json_str_len(const struct json *j)
{
	if (!json_object_is_type(JC(j), json_type_string))
		return 0;
	return (size_t)json_object_get_string_len(JC(j));
}

const char *json_get_str(const struct json *obj, const char *key)
{
	return json_str(json_get(obj, key));
}

int json_int64(const struct json *j, int64_t *out)
{
	if (!j)
		return ERR_NOT_FOUND;
	if (!json_object_is_type(JC(j), json_type_int))
		return ERR_INVALID;
	/* json-c keeps values above INT64_MAX as uint64 and clamps get_int64 */
	if (json_object_get_int64(JC(j)) == INT64_MAX &&
	    json_object_get_uint64(JC(j)) != (uint64_t)INT64_MAX)
		return ERR_INVALID;
	*out = json_object_get_int64(JC(j));
	return 0;
}

int json_get_int64(const struct json *obj, const char *key, int64_t *out)
{
	return json_int64(json_get(obj, key), out);
}

int json_is_true(const struct json *j)
{
	return json_object_is_type(JC(j), json_type_boolean) && json_object_get_boolean(JC(j));
}

size_t json_array_len(const struct json *arr)
{
	if (!json_object_is_type(JC(arr), json_type_array))
		return 0;
	return json_object_array_length(JC(arr));
}

struct json *json_array_get(const struct json *arr, size_t i)
{
	if (i >= json_array_len(arr))
		return NULL;
	return (struct json *)json_object_array_get_idx(JC(arr), i);
}

size_t json_obj_len(const struct json *obj)
{
	if (!json_object_is_type(JC(obj), json_type_object))
		return 0;
	return (size_t)json_object_object_length(JC(obj));
}

int json_obj_each(const struct json *obj,
		     int (*fn)(const char *key, struct json *val, void *arg), void *arg)
{
	struct json_object_iterator it, end;
	int rc;

	if (!json_object_is_type(JC(obj), json_type_object))
		return 0;
	it = json_object_iter_begin(JO(obj));
	end = json_object_iter_end(JO(obj));
	while (!json_object_iter_equal(&it, &end)) {
		rc = fn(json_object_iter_peek_name(&it),
			(struct json *)json_object_iter_peek_value(&it), arg);
		if (rc)
			return rc;
		json_object_iter_next(&it);
	}
	return 0;
}

struct json *json_new_object(void) { return (struct json *)json_object_new_object(); }
struct json *json_new_array(void) { return (struct json *)json_object_new_array(); }
struct json *json_new_int64(int64_t v) { return (struct json *)json_object_new_int64(v); }
struct json *json_new_bool(int v) { return (struct json *)json_object_new_boolean(v ? 1 : 0); }
struct json *json_new_null(void) { return (struct json *)json_object_new_null(); }

struct json *json_new_string(const char *s)
{
	return (struct json *)json_object_new_string(s);
}

struct json *json_new_string_len(const char *s, size_t len)
{
	if (len > INT_MAX)
		return NULL;
	return (struct json *)json_object_new_string_len(s, (int)len);
}

struct json *json_copy(const struct json *j)
{
	json_object *dst = NULL;

	if (json_object_deep_copy(JO(j), &dst, NULL) < 0)
		return NULL;
	return (struct json *)dst;
}

int json_set(struct json *obj, const char *key, struct json *val)
{
	if (!val)
		return ERR_NOMEM;
	if (!json_object_is_type(JC(obj), json_type_object)) {
		json_object_put(JO(val));
		return ERR_INVALID;
	}
	/* json_object_object_add replaces an existing key's value in place */
	if (json_object_object_add(JO(obj), key, JO(val)) < 0) {
		json_object_put(JO(val));
		return ERR_NOMEM;
	}
	return 0;
}

int json_set_str(struct json *obj, const char *key, const char *s)
{
	return json_set(obj, key, json_new_string(s));
}

int json_set_int64(struct json *obj, const char *key, int64_t v)
{
	return json_set(obj, key, json_new_int64(v));
}

void json_del(struct json *obj, const char *key)
{
	if (json_object_is_type(JC(obj), json_type_object))
		json_object_object_del(JO(obj), key);
}

int json_append(struct json *arr, struct json *val)
{
	if (!val)
		return ERR_NOMEM;
	if (!json_object_is_type(JC(arr), json_type_array) ||
	    json_object_array_add(JO(arr), JO(val)) < 0) {
		json_object_put(JO(val));
		return ERR_NOMEM;
	}
	return 0;
}

int json_array_del(struct json *arr, size_t i)
{
	if (i >= json_array_len(arr))
		return ERR_NOT_FOUND;
	return json_object_array_del_idx(JO(arr), i, 1) < 0 ? ERR_FAIL : 0;
}

int json_serialize(struct buf *out, const struct json *j, unsigned flags, struct err *e)
{
	int jf = JSON_C_TO_STRING_NOSLASHESCAPE;
	const char *s;
	size_t len;

	jf |= (flags & JSON_PRETTY) ? (JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED)
				    : JSON_C_TO_STRING_PLAIN;
	s = json_object_to_json_string_length(JO(j), jf, &len);
	if (!s)
		return err_set(e, ERR_NOMEM, "out of memory serialising JSON");
	if (buf_add(out, s, len) < 0)
		return err_set(e, ERR_NOMEM, "out of memory serialising JSON");
	return 0;
}

const char *json_plain_str(const struct json *j)
{
	const char *s = json_str(j);

	if (s && strlen(s) != json_str_len(j))
		return NULL;
	return s;
}

int json_get_opt_str(char **out, const struct json *obj, const char *key, int nonempty,
		     const char *what, struct err *e)
{
	struct json *v = json_get(obj, key);
	const char *s;

	*out = NULL;
	if (!v)
		return 0;
	s = json_plain_str(v);
	if (!s || (nonempty && !*s))
		return err_set(e, ERR_INVALID, "%s: '%s' must be a%s string", what, key,
			       nonempty ? " non-empty" : "");
	*out = strdup(s);
	if (!*out)
		return err_set(e, ERR_NOMEM, "%s: out of memory", what);
	return 0;
}

int json_get_str_array(struct strvec *out, const struct json *obj, const char *key,
		       const char *what, struct err *e)
{
	struct json *arr = json_get(obj, key);
	size_t i, n;
	const char *s;

	if (!arr)
		return 0;
	if (json_kind_of(arr) != JSON_ARRAY)
		return err_set(e, ERR_INVALID, "%s: '%s' must be an array of strings", what, key);
	n = json_array_len(arr);
	for (i = 0; i < n; i++) {
		s = json_plain_str(json_array_get(arr, i));
		if (!s || !*s)
			return err_set(e, ERR_INVALID, "%s: %s[%zu] must be a non-empty string",
				       what, key, i);
		if (strvec_push(out, s) < 0)
			return err_set(e, ERR_NOMEM, "%s: out of memory", what);
	}
	return 0;
}

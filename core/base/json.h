/* json.h - JSON values (json-c behind one module).
 *
 * `struct json` is opaque and reference counted.  Getters return borrowed
 * pointers that live as long as the parent; constructors return new
 * references that the caller frees with json_free() or hands to json_set() /
 * json_append(), which take ownership.
 *
 * Objects keep their keys in insertion order and json_serialize() writes them
 * in that order, so a document built in a fixed order serialises to the same
 * bytes on every machine.  Bytes received from elsewhere are never
 * re-serialised by hoist: see manifest.h.
 */
#ifndef HOIST_JSON_H
#define HOIST_JSON_H

#include <stddef.h>
#include <stdint.h>

struct buf;
struct strvec;
struct err;
struct json;

enum json_kind {
	JSON_NULL,
	JSON_BOOL,
	JSON_INT,
	JSON_DOUBLE,
	JSON_STRING,
	JSON_OBJECT,
	JSON_ARRAY,
};

/* Nesting deeper than this is refused by json_parse(). */
#define JSON_MAX_DEPTH 64

/* Parses exactly `len` bytes: one value, optional white space around it, no
 * trailing bytes, no NUL bytes, at most JSON_MAX_DEPTH levels.  A document
 * that is null is refused (ERR_INVALID, "JSON document is null"): *out is
 * never NULL on success. */
int json_parse(struct json **out, const char *data, size_t len, struct err *e);
void json_free(struct json *j);		/* NULL is a no-op */
struct json *json_ref(struct json *j);	/* another reference to j */

enum json_kind json_kind_of(const struct json *j);	/* JSON_NULL for NULL */

/* Object member `key`, or NULL when missing or `obj` is not an object. */
struct json *json_get(const struct json *obj, const char *key);
/* String member, or NULL when missing or not a string. */
const char *json_get_str(const struct json *obj, const char *key);
/* Integer member: 0, ERR_NOT_FOUND when missing, ERR_INVALID when not an
 * integer or out of int64 range (no message; callers know the context). */
int json_get_int64(const struct json *obj, const char *key, int64_t *out);

const char *json_str(const struct json *j);	/* NULL unless a string */
size_t json_str_len(const struct json *j);
int json_int64(const struct json *j, int64_t *out);	/* as json_get_int64 */
int json_is_true(const struct json *j);		/* 1 for true */

size_t json_array_len(const struct json *arr);	/* 0 unless an array */
struct json *json_array_get(const struct json *arr, size_t i);
size_t json_obj_len(const struct json *obj);	/* 0 unless an object */

/* Calls fn for each member in order; stops at and returns the first
 * non-zero return of fn. */
int json_obj_each(const struct json *obj,
		     int (*fn)(const char *key, struct json *val, void *arg), void *arg);

struct json *json_new_object(void);
struct json *json_new_array(void);
struct json *json_new_string(const char *s);
struct json *json_new_string_len(const char *s, size_t len);
struct json *json_new_int64(int64_t v);
struct json *json_new_bool(int v);
struct json *json_new_null(void);
/* A deep copy, or NULL on allocation failure. */
struct json *json_copy(const struct json *j);

/* Sets obj[key] = val, replacing an existing member in place (keeping its
 * position).  Takes ownership of `val` even on failure; val == NULL (failed
 * constructor) gives ERR_NOMEM. */
int json_set(struct json *obj, const char *key, struct json *val);
int json_set_str(struct json *obj, const char *key, const char *s);
int json_set_int64(struct json *obj, const char *key, int64_t v);
void json_del(struct json *obj, const char *key);
/* Appends to an array; takes ownership of `val` as json_set() does. */
int json_append(struct json *arr, struct json *val);
/* Removes element i of an array. */
int json_array_del(struct json *arr, size_t i);

enum json_flags {
	JSON_PRETTY = 1 << 0,	/* two-space indentation, else compact */
};

/* Appends the serialisation to `out` (no trailing newline).  Slashes are not
 * escaped, so output matches what Go's encoder writes for URLs. */
int json_serialize(struct buf *out, const struct json *j, unsigned flags, struct err *e);

/* The string value of `j` when it is a string without an embedded NUL
 * ("\u0000", which would truncate silently), else NULL. */
const char *json_plain_str(const struct json *j);
/* An optional string member `key` of `obj`, strdup'd into *out (NULL when
 * absent); ERR_INVALID naming `what` when it is not a plain string, or is
 * empty and `nonempty` is set; ERR_NOMEM. */
int json_get_opt_str(char **out, const struct json *obj, const char *key, int nonempty,
		     const char *what, struct err *e);
/* An optional array member `key` of non-empty plain strings, appended to
 * `out`; ERR_INVALID naming `what` for anything else; ERR_NOMEM. */
int json_get_str_array(struct strvec *out, const struct json *obj, const char *key,
		       const char *what, struct err *e);

#endif

/* kvlist.h - a key/value list kept in insertion order (annotations, labels).
 */
#ifndef HOIST_KVLIST_H
#define HOIST_KVLIST_H

#include "core/base/strvec.h"

struct err;
struct json;

struct kvlist {
	struct strvec keys;
	struct strvec values;
};
#define KVLIST_INIT { STRVEC_INIT, STRVEC_INIT }
void kvlist_init(struct kvlist *kv);
void kvlist_release(struct kvlist *kv);
/* Deep copy into an uninitialised `out` (left empty on failure). */
int kvlist_copy(struct kvlist *out, const struct kvlist *src);
/* Sets key (replacing an existing value). */
int kvlist_set(struct kvlist *kv, const char *key, const char *value);
const char *kvlist_get(const struct kvlist *kv, const char *key);
/* Adds the members of a JSON object of string -> string (annotations,
 * labels) to an initialised `out`; `j` NULL or JSON null adds nothing.
 * ERR_INVALID for anything else, naming `what`. */
int kvlist_from_json(struct kvlist *out, const struct json *j, const char *what,
		     struct err *e);

#endif

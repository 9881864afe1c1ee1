/* userdb.h - user and group names of an image, from its /etc/passwd and
 * /etc/group, for COPY --chown=NAME as docker resolves it.
 *
 * Docker's rule (the Dockerfile reference): "user:group" names or numbers;
 * a user without a group, name or number, gives the user's numeric ID as
 * the group ID too.
 */
#ifndef HOIST_USERDB_H
#define HOIST_USERDB_H

#include <stddef.h>
#include <stdint.h>

struct err;

/* Whether `spec` is all numbers ("UID" or "UID:GID"): those need no files. */
int userdb_numeric(const char *spec);
/* Resolves `spec` ("user[:group]", each a name or a number) against the
 * files' text (either may be NULL when absent).  ERR_INVALID for a
 * malformed spec, ERR_NOT_FOUND naming what is missing and where. */
int userdb_resolve(int64_t *out_uid, int64_t *out_gid, const char *spec, const char *passwd,
		   size_t passwd_len, const char *group, size_t group_len, struct err *e);

#endif

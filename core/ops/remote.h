/* remote.h - operations on a registry's names rather than on images: the
 * tags of a repository.
 */
#ifndef HOIST_REMOTE_H
#define HOIST_REMOTE_H

struct env;
struct err;
struct ref;
struct strvec;

/* The tags of repository `repo` (its tag and digest are ignored), appended
 * to the initialised `out` in the registry's order. */
int remote_tags_list(struct strvec *out, struct env *env, const struct ref *repo,
		    struct err *e);

#endif

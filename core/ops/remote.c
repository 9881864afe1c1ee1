/* remote.c - operations on a registry's names.  See remote.h. */
#include "core/ops/remote.h"

#include "core/model/ref.h"
#include "core/ops/env.h"
#include "registry/reg_list.h"

int remote_tags_list(struct strvec *out, struct env *env, const struct ref *repo,
		    struct err *e)
{
	struct reg *r;
	int ret;

	if ((ret = env_reg(&r, env, repo->registry, e)) < 0)
		return ret;
	return reg_list_tags(out, r, repo->repository, e);
}

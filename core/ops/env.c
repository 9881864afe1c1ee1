/* env.c - the environment of operations: registry sessions and logging.
 * See env.h. */
#include "core/ops/env.h"

#include "core/base/buf.h"
#include "core/base/err.h"
#include "core/model/manifest.h"
#include "core/model/settings.h"
#include "registry/reg.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

void env_init(struct env *env)
{
	memset(env, 0, sizeof(*env));
	env->jobs = 4;
}

void env_release(struct env *env)
{
	size_t i;

	for (i = 0; i < env->n_regs; i++) {
		reg_free(env->regs[i]);
		free(env->reg_names[i]);
	}
	free(env->regs);
	free(env->reg_names);
	env->regs = NULL;
	env->reg_names = NULL;
	env->n_regs = 0;
}

void env_log(struct env *env, int level, const char *fmt, ...)
{
	struct buf b = BUF_INIT;
	va_list ap;

	if (!env->log)
		return;
	va_start(ap, fmt);
	buf_vaddf(&b, fmt, ap);
	va_end(ap);
	if (!buf_failed(&b))
		env->log(env->log_arg, level, b.data);
	buf_release(&b);
}

void env_progress_set(struct env_progress *out, const struct descriptor *d, const char *what,
		      int64_t done, int finished)
{
	memcpy(out->id, digest_hex(&d->digest), 12);
	out->id[12] = '\0';
	out->what = what;
	out->done = done;
	out->total = d->size;
	out->finished = finished;
}

static void env_mirror_log(void *arg, int level, const char *line)
{
	const struct env *env = arg;

	if (env->log)
		env->log(env->log_arg, level, line);
}

int env_reg_open(struct reg **out, const struct env *env,
		       const struct reg_client_opts *o, const char *registry, struct err *e)
{
	const struct settings_registry *sr = settings_registry(env->settings, registry);
	struct reg_client_opts ro = *o;
	struct reg *r = NULL, *m;
	size_t i;
	int ret;

	*out = NULL;
	if (sr && sr->insecure)
		ro.insecure = 1;
	if ((ret = reg_open(&r, &ro, registry, e)) < 0)
		goto out;
	for (i = 0; sr && i < sr->n_mirrors; i++) {
		const struct settings_mirror *sm = &sr->mirrors[i];
		const struct settings_registry *msr = settings_registry(env->settings, sm->host);
		struct reg_client_opts mo = *o;
		if (msr && msr->insecure)
			mo.insecure = 1;
		mo.scheme = sm->scheme == SETTINGS_SCHEME_HTTP ? "http" :
			    sm->scheme == SETTINGS_SCHEME_HTTPS ? "https" : NULL;
		if ((ret = reg_open(&m, &mo, sm->host, e)) < 0) {
			err_prefix(e, "mirror '%s' of '%s'", sm->url, registry);
			goto out;
		}
		if ((ret = reg_mirror_add(r, m, sm->prefix, e)) < 0)
			goto out;
	}
	reg_mirror_log_set(r, env_mirror_log, (void *)env);
	*out = r;
	r = NULL;
	ret = 0;
out:
	reg_free(r);
	return ret;
}

int env_reg(struct reg **out, struct env *env, const char *registry,
		  struct err *e)
{
	struct reg **nr;
	char **nn;
	size_t i;
	int rc;

	*out = NULL;
	for (i = 0; i < env->n_regs; i++) {
		if (!strcmp(env->reg_names[i], registry)) {
			*out = env->regs[i];
			return 0;
		}
	}
	if (env->offline)
		return err_set(e, ERR_USAGE, "'%s' is needed from the registry, but --offline "
			       "forbids the network", registry);
	nr = realloc(env->regs, (env->n_regs + 1) * sizeof(*nr));
	if (!nr)
		return err_set(e, ERR_NOMEM, "out of memory");
	env->regs = nr;
	nn = realloc(env->reg_names, (env->n_regs + 1) * sizeof(*nn));
	if (!nn)
		return err_set(e, ERR_NOMEM, "out of memory");
	env->reg_names = nn;
	nn[env->n_regs] = strdup(registry);
	if (!nn[env->n_regs])
		return err_set(e, ERR_NOMEM, "out of memory");
	rc = env_reg_open(&nr[env->n_regs], env, &env->reg_opts, registry, e);
	if (rc < 0) {
		free(nn[env->n_regs]);
		return rc;
	}
	*out = nr[env->n_regs++];
	return 0;
}

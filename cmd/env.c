/* env.c - builds the image-operation environment (core/ops/env.h) from the
 * global options and the process environment.  This file and ctx.c are the
 * only places that read environment variables.
 *
 *   HOIST_CERTS_DIR   ':'-separated folders holding HOST[:PORT]/ca.crt,
 *                     client.cert, client.key; searched before docker's
 *                     /etc/docker/certs.d and podman's /etc/containers/certs.d
 *   HOIST_RETRY_BASE_MS  first retry back-off in ms (default 1000; tests
 *                     lower it)
 *   HOIST_LOW_SPEED_TIME  seconds below 1 KiB/s before a transfer is
 *                     abandoned (default 60; tests lower it)
 *   DOCKER_CONFIG, REGISTRY_AUTH_FILE, XDG_RUNTIME_DIR, HOME, PATH
 *                     where credentials and credential helpers are found
 *   TMPDIR            where scratch files go (ctx_tmp_dir())
 *   HOIST_CONFIG      the config file, when --config is not given
 *   XDG_CONFIG_HOME   where the config file is by default
 *                     (${XDG_CONFIG_HOME:-$HOME/.config}/hoist/config.json)
 */
#include "cmd/cmd.h"
#include "cmd/report.h"
#include "cache/layout.h"
#include "core/base/err.h"
#include "core/base/strvec.h"
#include "core/model/ref.h"
#include "core/model/settings.h"
#include "registry/http.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static const char *env_nonempty(const char *name)
{
	const char *v = getenv(name);

	return v && *v ? v : NULL;
}

const char *ctx_tmp_dir(void)
{
	const char *v = env_nonempty("TMPDIR");

	return v ? v : "/tmp";
}

int ctx_source_date_epoch(int64_t *out)
{
	const char *v = env_nonempty("SOURCE_DATE_EPOCH");
	char *end;
	long long t;

	*out = 0;
	if (!v)
		return EXIT_OK;
	errno = 0;
	t = strtoll(v, &end, 10);
	if (errno || *end || t < 0 || t > 253402300799LL) {
		report_error("SOURCE_DATE_EPOCH '%s' is not a number of seconds", v);
		return EXIT_USAGE;
	}
	*out = t;
	return EXIT_OK;
}

int ctx_creds_store(struct ctx *ctx, struct creds_store *out)
{
	struct buf path = BUF_INIT;
	const char *v, *home = env_nonempty("HOME");
	int rc = 0;

	(void)ctx;
	creds_store_init(out);
	if ((v = env_nonempty("DOCKER_CONFIG")))
		buf_addf(&path, "%s/config.json", v);
	else if (home)
		buf_addf(&path, "%s/.docker/config.json", home);
	if (path.len)
		rc |= creds_store_add_file(out, path.data);
	if ((v = env_nonempty("REGISTRY_AUTH_FILE")))
		rc |= creds_store_add_file(out, v);
	buf_reset(&path);
	if ((v = env_nonempty("XDG_RUNTIME_DIR"))) {
		buf_addf(&path, "%s/containers/auth.json", v);
		rc |= creds_store_add_file(out, path.data);
	}
	buf_reset(&path);
	if (home) {
		buf_addf(&path, "%s/.config/containers/auth.json", home);
		rc |= creds_store_add_file(out, path.data);
	}
	if ((v = env_nonempty("PATH")))
		rc |= creds_store_set_helper_path(out, v);
	rc |= buf_failed(&path);
	buf_release(&path);
	if (rc) {
		report_error("out of memory");
		return EXIT_FAIL;
	}
	return EXIT_OK;
}

static void env_trace(void *arg, const char *line)
{
	(void)arg;
	/* http.c redacted credentials; report_vprint sanitises */
	report_verbose(arg, 2, "%s", line);
}

static void env_log_line(void *arg, int level, const char *line)
{
	report_verbose(arg, level, "%s", line);
}

static long env_long(const char *name, long def, long min, long max)
{
	const char *v = env_nonempty(name);
	char *end;
	long n;

	if (!v)
		return def;
	errno = 0;
	n = strtol(v, &end, 10);
	if (errno || *end || n < min || n > max)
		return def;
	return n;
}

int ctx_load_config(struct ctx *ctx)
{
	struct buf path = BUF_INIT;
	struct err e = ERR_INIT;
	const char *v;
	int must_exist = 1, rc;

	if (ctx->config_state)
		return ctx->config_state > 0 ? EXIT_OK : EXIT_FAIL;
	ctx->config_state = -1;
	if (ctx->config_arg && *ctx->config_arg) {
		buf_addstr(&path, ctx->config_arg);
	} else if ((v = env_nonempty("HOIST_CONFIG"))) {
		buf_addstr(&path, v);
	} else {
		must_exist = 0;
		if ((v = env_nonempty("XDG_CONFIG_HOME")) && v[0] == '/')
			buf_addf(&path, "%s/hoist/config.json", v);
		else if ((v = env_nonempty("HOME")))
			buf_addf(&path, "%s/.config/hoist/config.json", v);
	}
	if (buf_failed(&path)) {
		report_error("out of memory");
		goto out;
	}
	if (path.len) {
		rc = settings_load(&ctx->settings, path.data, &e);
		if (rc < 0 && !(rc == ERR_NOT_FOUND && !must_exist)) {
			report_err(&e, "cannot use the config file");
			if (rc == ERR_NOT_FOUND)
				report_hint("--config and HOIST_CONFIG must name a file that exists");
			goto out;
		}
	}
	/* A flag beats the config file, which beats the built-in default. */
	if (!ctx->jobs)
		ctx->jobs = ctx->settings.jobs ? ctx->settings.jobs : CTX_JOBS_DEFAULT;
	if (!ctx->platform_arg && ctx->settings.platform) {
		if (platform_parse(&ctx->platform, ctx->settings.platform, &e) < 0) {
			report_err(&e, "cannot use the config file '%s'", path.data);
			goto out;
		}
		ctx->platform_arg = ctx->settings.platform;
	}
	ctx->config_state = 1;
out:
	buf_release(&path);
	return ctx->config_state > 0 ? EXIT_OK : EXIT_FAIL;
}

/* The config file's per-registry "ca" and "insecure" as http.c takes them,
 * keyed by the host[:port] requests go to. */
static int env_tls_hosts(struct ctx *ctx, struct http_client_opts *ho)
{
	const struct settings *s = &ctx->settings;
	size_t i, n = 0;

	if (!s->n_registries)
		return 0;
	ctx->tls_hosts = calloc(s->n_registries, sizeof(*ctx->tls_hosts));
	if (!ctx->tls_hosts)
		return -1;
	for (i = 0; i < s->n_registries; i++) {
		struct ref tmp = REF_INIT;
		if (!s->registries[i].ca && !s->registries[i].insecure)
			continue;
		tmp.registry = s->registries[i].host;
		ctx->tls_hosts[n].host = ref_endpoint(&tmp);
		ctx->tls_hosts[n].ca = s->registries[i].ca;
		ctx->tls_hosts[n].insecure = s->registries[i].insecure;
		n++;
	}
	ho->hosts = ctx->tls_hosts;
	ho->n_hosts = n;
	return 0;
}

int ctx_setup_env(struct ctx *ctx, int with_cache)
{
	struct http_client_opts ho;
	struct strvec dirs = STRVEC_INIT;
	struct buf ua = BUF_INIT;
	struct err e = ERR_INIT;
	const char *v;
	int ret = EXIT_FAIL;

	if (!ctx->env_ready) {
		if ((v = env_nonempty("HOIST_CERTS_DIR"))) {
			const char *p = v;
			while (*p) {
				size_t n = strcspn(p, ":");
				if (n)
					strvec_push_nodup(&dirs, strndup(p, n));
				p += n;
				if (*p == ':')
					p++;
			}
		}
		strvec_push(&dirs, "/etc/docker/certs.d");
		strvec_push(&dirs, "/etc/containers/certs.d");
		buf_addstr(&ua, "hoist/" HOIST_VERSION);
		if (buf_failed(&ua)) {
			report_error("out of memory");
			goto out;
		}
		memset(&ho, 0, sizeof(ho));
		ho.user_agent = ua.data;
		ho.insecure = ctx->insecure;
		ho.certs_dirs = (const char *const *)dirs.v;
		if (ctx_load_config(ctx) != EXIT_OK)
			goto out;
		if (env_tls_hosts(ctx, &ho) < 0) {
			report_error("out of memory");
			goto out;
		}
		ho.retry_base_ms = env_long("HOIST_RETRY_BASE_MS", 0, 1, 60000);
		ho.low_speed_time_s = env_long("HOIST_LOW_SPEED_TIME", 0, 1, 3600);
		if (ctx->verbose >= 2 && !ctx->quiet) {
			ho.trace = env_trace;
			ho.trace_arg = ctx;
			ho.trace_level = ctx->verbose;
		}
		if (http_client_new(&ctx->http, &ho, &e) < 0) {
			ret = report_err(&e, "cannot set up HTTP");
			goto out;
		}
		if (ctx_creds_store(ctx, &ctx->creds) != EXIT_OK)
			goto out;
		env_init(&ctx->env);
		ctx->env.reg_opts.http = ctx->http;
		ctx->env.reg_opts.creds = creds_store_lookup;
		ctx->env.reg_opts.creds_arg = &ctx->creds;
		ctx->env.reg_opts.insecure = ctx->insecure;
		ctx->env.offline = ctx->offline;
		if (ctx->offline)
			ctx->env.pull = PULL_NEVER;
		ctx->env.jobs = ctx->jobs > 0 ? ctx->jobs : CTX_JOBS_DEFAULT;
		ctx->env.settings = &ctx->settings;
		ctx->env.platform = ctx->platform_arg ? &ctx->platform : NULL;
		ctx->env.log = env_log_line;
		ctx->env.log_arg = ctx;
		ctx->env_ready = 1;
	}
	if (with_cache && !ctx->cache) {
		const char *dir = ctx_cache_dir(ctx);
		struct stat st;
		int created;
		if (!dir)
			goto out;
		created = lstat(dir, &st) && errno == ENOENT;
		if (layout_open(&ctx->cache, dir, LAYOUT_CREATE | LAYOUT_CACHE, &e) < 0) {
			ret = report_err(&e, "cannot open the cache '%s'", dir);
			goto out;
		}
		/* A cache hoist creates is private (0700), as the issue asks;
		 * one that exists keeps the mode its owner gave it. */
		if (created && chmod(dir, 0700))
			report_warning("cannot make the cache '%s' private: %s", dir,
				       strerror(errno));
		ctx->env.cache = ctx->cache;
	}
	ret = EXIT_OK;
out:
	strvec_clear(&dirs);
	buf_release(&ua);
	return ret;
}

void ctx_release_env(struct ctx *ctx)
{
	if (ctx->env_ready) {
		env_release(&ctx->env);
		creds_store_release(&ctx->creds);
		ctx->env_ready = 0;
	}
	layout_free(ctx->cache);
	ctx->cache = NULL;
	http_client_free(ctx->http);
	ctx->http = NULL;
}

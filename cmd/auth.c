/* auth.c - `hoist auth login|logout|get|token`: registry credentials as
 * docker and crane keep them (crane auth ...). */
#include "cmd/cmd.h"

#include "cmd/report.h"
#include "core/base/buf.h"
#include "core/base/err.h"
#include "core/base/json.h"
#include "core/model/ref.h"
#include "registry/reg.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Set in the environment while `hoist auth get` looks credentials up, so
 * that a credential helper that is hoist itself (credHelpers: "hoist")
 * answers "not found" instead of asking again, forever. */
#define AUTH_GET_NESTED_ENV "HOIST_AUTH_GET_NESTED"
/* What docker-credential-* helpers print when they have nothing. */
#define AUTH_NOT_FOUND "credentials not found in native keychain"
/* A password or server URL read from stdin is at most this long. */
#define AUTH_STDIN_MAX (64u << 10)

static void secret_zero(char *s, size_t len)
{
	volatile char *p = s;

	while (len--)
		*p++ = 0;
}

/* Reads all of stdin (at most AUTH_STDIN_MAX bytes) into `out`. */
static int auth_read_stdin(struct buf *out, const char *what)
{
	char chunk[4096];
	ssize_t n;

	for (;;) {
		n = read(STDIN_FILENO, chunk, sizeof(chunk));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			report_error("cannot read the %s from stdin: %s", what, strerror(errno));
			secret_zero(chunk, sizeof(chunk));
			return EXIT_FAIL;
		}
		if (n == 0)
			break;
		if (out->len + (size_t)n > AUTH_STDIN_MAX || buf_add(out, chunk, (size_t)n) < 0) {
			report_error("cannot read the %s from stdin: more than %u bytes", what,
				     AUTH_STDIN_MAX);
			secret_zero(chunk, sizeof(chunk));
			return EXIT_FAIL;
		}
	}
	secret_zero(chunk, sizeof(chunk));
	return EXIT_OK;
}

static int auth_registry(char **out, const char *arg)
{
	struct err e = ERR_INIT;

	if (ref_parse_registry(out, arg, &e) < 0) {
		report_err(&e, "cannot use '%s'", arg);
		return e.code == ERR_NOMEM ? EXIT_FAIL : EXIT_USAGE;
	}
	return EXIT_OK;
}

/* --- login ----------------------------------------------------------------- */

struct login_creds {
	const char *user;
	const char *password;
};

/* The creds_fn of the session that checks a login: the credentials
 * being tried, whatever the files say. */
static int login_creds_fn(struct creds *out, void *arg, const char *registry,
			  struct err *e)
{
	const struct login_creds *lc = arg;

	(void)registry;
	memset(out, 0, sizeof(*out));
	out->username = strdup(lc->user);
	out->password = strdup(lc->password);
	if (!out->username || !out->password) {
		creds_release(out);
		return err_set(e, ERR_NOMEM, "out of memory");
	}
	return 0;
}

static int cmd_auth_login(int argc, char **argv, struct ctx *ctx)
{
	static const char *const usage[] = {
		"hoist auth login <registry> -u <user> (-p <password> | --password-stdin)", NULL
	};
	const char *user = NULL, *password = NULL;
	int from_stdin = 0;
	const struct opt opts[] = {
		OPT_STRING('u', "username", &user, "<user>", "the user name"),
		OPT_STRING('p', "password", &password, "<password>",
			   "the password (visible to other users: prefer --password-stdin)"),
		OPT_FLAG(0, "password-stdin", &from_stdin, "read the password from stdin"),
		OPT_END(),
	};
	struct opt_spec spec = CMD_SPEC(ctx, usage, opts);
	struct reg_client_opts ro;
	struct login_creds lc;
	struct buf pw = BUF_INIT;
	struct reg *r = NULL;
	struct err e = ERR_INIT;
	char *registry = NULL;
	int ret = EXIT_FAIL, rc;

	rc = cmd_parse_options(ctx, &spec, &argc, &argv);
	if (rc != OPT_CONTINUE)
		return rc;
	if (argc != 1)
		return opt_usage_error(&spec, argc ? "too many arguments" : "no registry given");
	if (!user || !*user)
		return opt_usage_error(&spec, "no user name given (-u)");
	if (strchr(user, ':'))
		return opt_usage_error(&spec, "a user name cannot contain ':'");
	if (!!password == !!from_stdin)
		return opt_usage_error(&spec, password ? "give -p or --password-stdin, not both" :
				       "no password given (-p or --password-stdin)");
	if ((ret = auth_registry(&registry, argv[0])) != EXIT_OK)
		goto out;
	ret = EXIT_FAIL;
	if (from_stdin) {
		if (auth_read_stdin(&pw, "password") != EXIT_OK)
			goto out;
		/* docker strips one trailing newline (and a CR before it) */
		if (pw.len && pw.data[pw.len - 1] == '\n')
			buf_setlen(&pw, pw.len - 1);
		if (pw.len && pw.data[pw.len - 1] == '\r')
			buf_setlen(&pw, pw.len - 1);
		if (memchr(pw.data, '\0', pw.len)) {
			report_error("the password read from stdin contains a NUL byte");
			goto out;
		}
	} else {
		report_warning("a password given with -p can be seen by other users of this "
			       "machine: use --password-stdin");
		if (buf_addstr(&pw, password) < 0) {
			report_error("out of memory");
			goto out;
		}
	}
	if (!pw.len) {
		report_error("the password is empty");
		goto out;
	}
	if (ctx->offline) {
		report_error("cannot log in to '%s' with --offline: the credentials must be "
			     "checked against the registry", registry);
		ret = EXIT_USAGE;
		goto out;
	}
	lc.user = user;
	lc.password = pw.data;
	ro = ctx->env.reg_opts;
	ro.creds = login_creds_fn;
	ro.creds_arg = &lc;
	if (reg_open(&r, &ro, registry, &e) < 0 || reg_auth_check(r, &e) < 0) {
		ret = report_err(&e, "cannot log in to '%s'", registry);
		goto out;
	}
	if (creds_store_save(&ctx->creds, registry, user, pw.data, &e) < 0) {
		ret = report_err(&e, "cannot store the credentials for '%s'", registry);
		goto out;
	}
	report_verbose(ctx, 1, "stored the credentials for '%s' in %s", registry,
		       ctx->creds.files.n ? ctx->creds.files.v[0] : "a credential helper");
	report_verbose(ctx, 0, "Login Succeeded");
	ret = EXIT_OK;
out:
	reg_free(r);
	secret_zero(pw.data, pw.len);
	buf_release(&pw);
	free(registry);
	return ret;
}

/* --- logout ---------------------------------------------------------------- */

static int cmd_auth_logout(int argc, char **argv, struct ctx *ctx)
{
	static const char *const usage[] = { "hoist auth logout <registry>", NULL };
	const struct opt opts[] = { OPT_END() };
	struct opt_spec spec = CMD_SPEC(ctx, usage, opts);
	struct creds_store store = CREDS_STORE_INIT;
	struct err e = ERR_INIT;
	char *registry = NULL;
	int ret, rc;

	rc = cmd_parse_options(ctx, &spec, &argc, &argv);
	if (rc != OPT_CONTINUE)
		return rc;
	if (argc != 1)
		return opt_usage_error(&spec, argc ? "too many arguments" : "no registry given");
	if ((ret = auth_registry(&registry, argv[0])) != EXIT_OK)
		goto out;
	if ((ret = ctx_creds_store(ctx, &store)) != EXIT_OK)
		goto out;
	rc = creds_store_erase(&store, registry, &e);
	if (rc == ERR_NOT_FOUND) {
		report_verbose(ctx, 0, "Not logged in to %s", registry);
		ret = EXIT_OK;
	} else if (rc < 0) {
		ret = report_err(&e, "cannot remove the credentials for '%s'", registry);
	} else {
		report_verbose(ctx, 0, "Removing login credentials for %s", registry);
		ret = EXIT_OK;
	}
out:
	creds_store_release(&store);
	free(registry);
	return ret;
}

/* --- get ------------------------------------------------------------------- */

/* {"ServerURL":...,"Username":...,"Secret":...} and a newline, as
 * docker-credential-* helpers answer `get`. */
static int auth_get_print(const char *server, const struct creds *c)
{
	struct json *j = json_new_object();
	struct buf out = BUF_INIT;
	struct err e = ERR_INIT;
	const char *user = c->username ? c->username : "";
	const char *secret = c->password ? c->password : "";
	int ret = EXIT_FAIL;

	if (c->identity_token) {
		/* the helpers' convention for an identity (refresh) token */
		user = "<token>";
		secret = c->identity_token;
	}
	if (!j || json_set_str(j, "ServerURL", server) < 0 ||
	    json_set_str(j, "Username", user) < 0 || json_set_str(j, "Secret", secret) < 0 ||
	    json_serialize(&out, j, 0, &e) < 0 || buf_addch(&out, '\n') < 0) {
		report_error("out of memory");
		goto out;
	}
	fwrite(out.data, 1, out.len, stdout);
	ret = EXIT_OK;
out:
	secret_zero(out.data, out.len);
	buf_release(&out);
	json_free(j);
	return ret;
}

static int cmd_auth_get(int argc, char **argv, struct ctx *ctx)
{
	static const char *const usage[] = { "hoist auth get [<registry>]", NULL };
	const struct opt opts[] = { OPT_END() };
	struct opt_spec spec = CMD_SPEC(ctx, usage, opts);
	struct creds_store store = CREDS_STORE_INIT;
	struct creds c = CREDS_INIT;
	struct buf in = BUF_INIT;
	struct err e = ERR_INIT;
	const char *server;
	char *registry = NULL;
	int ret = EXIT_FAIL, rc;

	rc = cmd_parse_options(ctx, &spec, &argc, &argv);
	if (rc != OPT_CONTINUE)
		return rc;
	if (argc > 1)
		return opt_usage_error(&spec, "too many arguments");
	if (getenv(AUTH_GET_NESTED_ENV)) {
		/* hoist asked itself, through a credential helper: stop here */
		fputs(AUTH_NOT_FOUND "\n", stdout);
		return EXIT_FAIL;
	}
	if (argc) {
		server = argv[0];
	} else {
		/* the docker-credential-* protocol: the server URL on stdin */
		if (auth_read_stdin(&in, "server URL") != EXIT_OK)
			goto out;
		while (in.len && strchr(" \t\r\n", in.data[in.len - 1]))
			buf_setlen(&in, in.len - 1);
		server = in.data + strspn(in.data, " \t\r\n");
		if (memchr(in.data, '\0', in.len) || !*server) {
			report_error("no server URL on stdin");
			goto out;
		}
	}
	if ((ret = auth_registry(&registry, server)) != EXIT_OK)
		goto out;
	ret = EXIT_FAIL;
	if (ctx_creds_store(ctx, &store) != EXIT_OK)
		goto out;
	if (setenv(AUTH_GET_NESTED_ENV, "1", 1) < 0) {
		report_error("cannot set %s: %s", AUTH_GET_NESTED_ENV, strerror(errno));
		goto out;
	}
	rc = creds_store_get(&c, &store, registry, &e);
	if (rc == 0 && !c.identity_token && !(c.username && c.password))
		rc = ERR_NOT_FOUND;	/* a registry token alone has no helper form */
	if (rc == ERR_NOT_FOUND) {
		fputs(AUTH_NOT_FOUND "\n", stdout);
		goto out;
	}
	if (rc < 0) {
		ret = report_err(&e, "cannot look up the credentials for '%s'", registry);
		goto out;
	}
	ret = auth_get_print(server, &c);
out:
	unsetenv(AUTH_GET_NESTED_ENV);
	creds_release(&c);
	creds_store_release(&store);
	buf_release(&in);
	free(registry);
	return ret;
}

/* --- token ----------------------------------------------------------------- */

static int cmd_auth_token(int argc, char **argv, struct ctx *ctx)
{
	static const char *const usage[] = { "hoist auth token [--push] [-H] <repository>", NULL };
	int push = 0, header = 0;
	const struct opt opts[] = {
		OPT_FLAG(0, "push", &push, "ask for push access too"),
		OPT_FLAG('H', "header", &header, "print an 'Authorization: Bearer' header line"),
		OPT_END(),
	};
	struct opt_spec spec = CMD_SPEC(ctx, usage, opts);
	struct ref ref = REF_INIT;
	struct buf out = BUF_INIT;
	struct reg *r;
	struct err e = ERR_INIT;
	char *tok = NULL;
	int ret = EXIT_FAIL, rc;

	rc = cmd_parse_options(ctx, &spec, &argc, &argv);
	if (rc != OPT_CONTINUE)
		return rc;
	if (argc != 1)
		return opt_usage_error(&spec, argc ? "too many arguments" : "no repository given");
	if (ref_parse(&ref, argv[0], REF_NAME_ONLY, &e) < 0) {
		report_err(&e, "cannot use '%s'", argv[0]);
		ret = e.code == ERR_NOMEM ? EXIT_FAIL : EXIT_USAGE;
		goto out;
	}
	if (env_reg(&r, &ctx->env, ref.registry, &e) < 0 ||
	    reg_token(&tok, r, ref.repository, push, &e) < 0) {
		ret = report_err(&e, "cannot get a token for '%s/%s'", ref.registry,
				 ref.repository);
		goto out;
	}
	if (header)
		buf_addstr(&out, "Authorization: Bearer ");
	report_sanitize_buf(&out, tok);
	buf_addch(&out, '\n');
	if (buf_failed(&out)) {
		report_error("out of memory");
		goto out;
	}
	fwrite(out.data, 1, out.len, stdout);
	ret = EXIT_OK;
out:
	if (tok)
		secret_zero(tok, strlen(tok));
	free(tok);
	secret_zero(out.data, out.len);
	buf_release(&out);
	ref_release(&ref);
	return ret;
}

/* --- the group ------------------------------------------------------------- */

int cmd_auth(int argc, char **argv, struct ctx *ctx)
{
	static const struct cmd subs[] = {
		{ "login", cmd_auth_login, CMD_SETUP_ENV, "check and store credentials for a registry" },
		{ "logout", cmd_auth_logout, 0, "remove the stored credentials for a registry" },
		{ "get", cmd_auth_get, 0, "print credentials as a docker-credential helper does" },
		{ "token", cmd_auth_token, CMD_SETUP_ENV, "print a bearer token for a repository" },
		{ NULL, NULL, 0, NULL },
	};
	return cmd_group_run(ctx, "auth", subs, argc, argv);
}

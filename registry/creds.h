/* creds.h - registry credentials as docker and podman store them: auth
 * files (docker's config.json, podman's auth.json) and docker-credential-*
 * helpers, read and written.  Which files to read is the caller's choice
 * (cmd/ reads the environment and passes the paths in).  Nothing here ever
 * puts a secret into an error message.
 */
#ifndef HOIST_CREDS_H
#define HOIST_CREDS_H

#include "core/base/buf.h"
#include "core/base/strvec.h"

#include <stddef.h>

struct err;

/* What is known for one registry; every field may be NULL. */
struct creds {
	char *username;
	char *password;
	char *identity_token;	/* OAuth2 refresh token ("identitytoken") */
	char *registry_token;	/* a bearer token to send as is ("registrytoken") */
};

#define CREDS_INIT { NULL, NULL, NULL, NULL }

/* Frees the fields (zeroing the secrets first) and sets them to NULL. */
void creds_release(struct creds *c);

/* Looks up credentials for `registry` ("docker.io", "localhost:5000"):
 * fills `out` and returns 0 when found, ERR_NOT_FOUND when none, another
 * error when a file or helper failed.  The registry client calls this
 * through a function pointer of this type. */
typedef int creds_fn(struct creds *out, void *arg, const char *registry,
			 struct err *e);

/* The key Docker Hub's credentials are stored under. */
#define CREDS_DOCKER_HUB_KEY "https://index.docker.io/v1/"
#define CREDS_HELPER_TIMEOUT_MS 30000
#define CREDS_HELPER_OUTPUT_MAX (64u << 10)
/* Auth files larger than this are refused. */
#define CREDS_FILE_MAX (4u << 20)

/* An ordered list of auth files, as cmd/ builds it:
 *
 *   $DOCKER_CONFIG/config.json or ~/.docker/config.json   (written by save)
 *   $REGISTRY_AUTH_FILE
 *   $XDG_RUNTIME_DIR/containers/auth.json
 *   ~/.config/containers/auth.json
 *
 * Helpers: "docker-credential-<name>" is looked up in the directories of
 * `helper_path` (never $PATH: the library does not read the environment),
 * run without a shell in its own process group with the caller's
 * environment, given `helper_timeout_ms` and at most `helper_output_max`
 * bytes of output; its output never reaches a message except a short
 * excerpt with control characters replaced. */
struct creds_store {
	struct strvec files;	/* lookup order; files.v[0] is written by save */
	char *helper_path;	/* ":"-separated directories searched for
				 * docker-credential-*; NULL: helpers are an error */
	int helper_timeout_ms;	/* > 0 */
	size_t helper_output_max;	/* cap on a helper's stdout and stderr */
};

#define CREDS_STORE_INIT { STRVEC_INIT, NULL, CREDS_HELPER_TIMEOUT_MS, CREDS_HELPER_OUTPUT_MAX }

void creds_store_init(struct creds_store *s);
void creds_store_release(struct creds_store *s);
/* Appends an auth file (copied).  ERR_NOMEM only. */
int creds_store_add_file(struct creds_store *s, const char *path);
/* Sets the helper search path (copied; NULL clears it).  ERR_NOMEM only. */
int creds_store_set_helper_path(struct creds_store *s, const char *path);

/* Looks up `registry` through the files in order; a missing file is
 * skipped, a malformed one is an error naming the file (never its content).
 * In each file: credHelpers[registry] (the `docker-credential-<name> get`
 * exec protocol), else an `auths` entry (`auth` = base64 "user:pass", or
 * `username`/`password`, `identitytoken`, `registrytoken`), else credsStore
 * (a helper for every registry).  A helper that answers "credentials not
 * found", or an entry without credentials (`{}`), falls through.
 *
 * `auths` keys are matched as docker does: the registry itself, then
 * "https://REG", "http://REG", "https://REG/v1/", "https://REG/v2/", then
 * any key whose host (scheme and path stripped) is the registry.  Docker
 * Hub ("docker.io", "index.docker.io", "registry-1.docker.io") is keyed as
 * "https://index.docker.io/v1/" and also under the three host names.
 *
 * `out` is overwritten (not released first) and left empty unless 0 is
 * returned.  `registry` may also be given as a URL
 * ("https://index.docker.io/v1/"). */
int creds_store_get(struct creds *out, struct creds_store *s, const char *registry,
		    struct err *e);
/* As creds_store_get(), but podman's repository keys naming `repository`
 * ("org/repo") or one of its parents ("REG/org/repo", then "REG/org") are
 * tried first in each file's `auths`, most specific first.  `repository`
 * may be NULL. */
int creds_store_get_repo(struct creds *out, struct creds_store *s, const char *registry,
			 const char *repository, struct err *e);
/* creds_store_get() as a creds_fn; `arg` is the struct creds_store. */
int creds_store_lookup(struct creds *out, void *arg, const char *registry, struct err *e);

/* Stores `user`/`password` for `registry` (hoist auth login).  When the
 * first file names a helper for the registry (credHelpers, else
 * credsStore), `docker-credential-X store` gets them; otherwise the first
 * file is rewritten atomically (temporary file, fsync, rename) keeping every
 * other key, with auths[KEY] = {"auth": base64(user:pass)} where KEY is the
 * registry (CREDS_DOCKER_HUB_KEY for Docker Hub), or an existing key that
 * already matches it.  The file gets mode 0600; missing directories are
 * created 0700.  ERR_USAGE when there are no files; ERR_INVALID when `user`
 * contains ':' or the first file is malformed. */
int creds_store_save(struct creds_store *s, const char *registry, const char *user,
		     const char *password, struct err *e);

/* Removes the credentials for `registry` (hoist auth logout): the helper's
 * `erase` when one applies, and every `auths` key of the first file that
 * matches the registry (repository keys "REG/..." are kept).  ERR_NOT_FOUND
 * when nothing was removed. */
int creds_store_erase(struct creds_store *s, const char *registry, struct err *e);

#endif

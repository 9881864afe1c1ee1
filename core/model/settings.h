/* settings.h - hoist's config file (config.json), parsed and checked.
 *
 * The file is one JSON object:
 *
 *   { "cache": "/var/cache/hoist", "jobs": 8, "platform": "linux/arm64",
 *     "registries": { "docker.io": { "mirrors": ["https://mirror.example"],
 *                                    "insecure": false, "ca": "/etc/ca.crt" } } }
 *
 * Every key is optional.  Unknown keys, at any level, and values of the
 * wrong type are errors (ERR_INVALID) naming the key by its path
 * (`registries."docker.io".mirors`) with the closest known key as a hint.
 *
 * A mirror is "[http://|https://]HOST[:PORT][/PREFIX]": reads of
 * HOST/repo (the registry key) go to MIRROR/v2/PREFIX/repo first (PREFIX as
 * podman's registries.conf location "mirror.example/dockerhub").  Without a
 * scheme the client decides as for any registry (https, then plain http on
 * loopback or for an insecure registry).
 *
 * This module reads the file it is given and nothing else: where the file
 * is (XDG_CONFIG_HOME, --config, HOIST_CONFIG) and the precedence of flags,
 * environment and file are cmd/'s business (cmd/env.c).
 */
#ifndef HOIST_SETTINGS_H
#define HOIST_SETTINGS_H

#include <stddef.h>

struct err;

/* The largest config file read. */
#define SETTINGS_MAX_BYTES (1u << 20)
#define SETTINGS_JOBS_MAX 64
#define SETTINGS_MAX_MIRRORS 16

enum settings_scheme {
	SETTINGS_SCHEME_ANY = 0,	/* no scheme written: decided by the client */
	SETTINGS_SCHEME_HTTPS,
	SETTINGS_SCHEME_HTTP,
};

struct settings_mirror {
	char *url;		/* as written */
	char *host;		/* "mirror.example", "127.0.0.1:5001" */
	enum settings_scheme scheme;
	char *prefix;		/* repository prefix without slashes, or NULL */
};

struct settings_registry {
	char *host;		/* the key, "index.docker.io" normalised to "docker.io" */
	struct settings_mirror *mirrors;	/* tried in order for reads */
	size_t n_mirrors;
	int insecure;		/* plain http and unverified TLS for this host */
	char *ca;		/* a CA bundle (PEM) for this host's TLS, or NULL */
};

struct settings {
	char *path;		/* the file read, or NULL */
	char *cache;		/* "cache", or NULL */
	int jobs;		/* "jobs", 1..SETTINGS_JOBS_MAX; 0 when not set */
	char *platform;		/* "platform" (checked by platform_parse), or NULL */
	struct settings_registry *registries;
	size_t n_registries;
};

#define SETTINGS_INIT { NULL, NULL, 0, NULL, NULL, 0 }

void settings_init(struct settings *s);
void settings_release(struct settings *s);

/* Parses the config document `data` (len bytes) into `out` (initialised;
 * its old contents released and replaced on success, untouched on
 * failure).  `source` names the file in
 * messages (may be NULL).  ERR_INVALID for malformed JSON, unknown keys,
 * wrong types and values out of range, with the key's path. */
int settings_parse(struct settings *out, const char *data, size_t len, const char *source,
		   struct err *e);

/* Reads and parses the file `path` (at most SETTINGS_MAX_BYTES) into `out`
 * as settings_parse() does, and sets out->path.  A file
 * that does not exist is ERR_NOT_FOUND (the caller decides whether that is
 * fine: it is for the default file, not for --config).  A relative "ca" or
 * "cache" is taken relative to the file's folder. */
int settings_load(struct settings *out, const char *path, struct err *e);

/* The settings of registry `host` ("docker.io", "localhost:5000"), or NULL. */
const struct settings_registry *settings_registry(const struct settings *s, const char *host);

/* The known key closest to `key` among `known` (NULL-terminated), or NULL
 * when none is close (edit distance at most 2, or a third of the length). */
const char *settings_closest(const char *key, const char *const *known);

#endif

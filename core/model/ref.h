/* ref.h - image references, with the distribution reference grammar.
 *
 *   reference  := name [ ":" tag ] [ "@" digest ]
 *   name       := [ domain "/" ] path-component ( "/" path-component )*
 *   domain     := host [ ":" port ]   host: DNS name, IPv4, or "[" IPv6 "]"
 *   path-component := [a-z0-9]+ ( ( "." | "_" | "__" | "-"+ ) [a-z0-9]+ )*
 *   tag        := [A-Za-z0-9_][A-Za-z0-9_.-]{0,127}
 *
 * The first component is a domain when it contains "." or ":", is
 * "localhost", or has upper-case letters (as distribution decides).  Docker
 * Hub normalisation: no domain -> "docker.io"; one path component on
 * docker.io -> "library/NAME"; "index.docker.io" -> "docker.io".  With
 * neither tag nor digest, the tag is "latest" (unless REF_NO_DEFAULT_TAG).
 * Names are at most 255 characters (domain + "/" + path, after
 * normalisation).  hoist is stricter than distribution's regular expressions
 * in three places: a port must be 1-65535, a bracketed IPv6 address must
 * parse (no zone, no embedded IPv4), and a first component taken for a
 * registry must be a valid host name ("foo_bar.com/x" is refused).
 */
#ifndef HOIST_REF_H
#define HOIST_REF_H

#include "core/base/buf.h"
#include "core/base/digest.h"

struct err;

struct ref {
	char *registry;		/* "docker.io", "localhost:5000", "[::1]:5000" */
	char *repository;	/* "library/golang" */
	char *tag;		/* "1.20", or NULL */
	char *digest;		/* "sha256:...", validated by digest_parse, or NULL */
};

#define REF_INIT { NULL, NULL, NULL, NULL }

enum ref_flags {
	REF_NO_DEFAULT_TAG = 1 << 0,	/* leave tag NULL when neither is given */
	REF_NAME_ONLY = 1 << 1,		/* a repository: refuse tag and digest */
};

void ref_init(struct ref *r);
void ref_release(struct ref *r);
/* Deep copy; `out` is overwritten (not released) and left empty on failure
 * (ERR_NOMEM). */
int ref_copy(struct ref *out, const struct ref *src);

/* Parses and normalises.  On ERR_INVALID the message quotes the input and
 * names the bad part ("invalid reference 'Foo:bar': repository name must be
 * lowercase").  `out` is overwritten (not released first) and left empty
 * (all NULL) on failure.  REF_NAME_ONLY also leaves the tag NULL. */
int ref_parse(struct ref *out, const char *s, unsigned flags, struct err *e);

/* Parses a registry name as `hoist auth login` and `hoist catalog` take it:
 * "host[:port]", or a URL whose scheme and path are dropped
 * ("https://index.docker.io/v1/").  Docker Hub's names (docker.io,
 * index.docker.io, registry-1.docker.io) become "docker.io".  A bare name
 * that could not be a registry in a reference (no '.', no ':port', not
 * "localhost") is refused, as is "host/path" without a scheme.  *out is the
 * caller's.  ERR_INVALID (naming the input) or ERR_NOMEM. */
int ref_parse_registry(char **out, const char *s, struct err *e);

/* "docker.io/library/golang:1.20", "...@sha256:...", or both. */
int ref_format(struct buf *out, const struct ref *r);
/* "docker.io/library/golang" */
int ref_format_name(struct buf *out, const struct ref *r);
/* The host[:port] to connect to: "registry-1.docker.io" for docker.io. */
const char *ref_endpoint(const struct ref *r);
/* Non-zero when the registry is loopback: localhost, 127.0.0.0/8, [::1]
 * (with or without a port). */
int ref_registry_is_loopback(const char *registry);

#endif

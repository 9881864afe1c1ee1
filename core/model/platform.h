/* platform.h - image platforms: "os/arch[/variant][:osversion]".
 *
 * Normalisation follows containerd's platforms package: x86_64/x86-64 ->
 * amd64, aarch64 -> arm64 (variant v8 when none given; arm64/v8 is the same
 * platform as arm64), armhf -> arm/v7, armel -> arm/v6, i386/i686 -> 386,
 * "arm" alone -> arm/v7; os names lower-cased (macos -> darwin).  Unlike
 * containerd, hoist writes the default variants out: arm64 normalises to
 * arm64/v8 (and "8" to "v8"), arm to arm/v7 (and "7" to "v7"); amd64/v1
 * becomes plain amd64.  Arch and variant are lower-cased too.
 */
#ifndef HOIST_PLATFORM_H
#define HOIST_PLATFORM_H

#include "core/base/buf.h"
#include "core/base/strvec.h"

struct err;
struct json;

struct platform {
	char *os;		/* "linux" */
	char *arch;		/* "amd64" */
	char *variant;		/* "v8" or NULL */
	char *os_version;	/* "10.0.17763.1234" or NULL (Windows) */
	struct strvec os_features;
};

#define PLATFORM_INIT { NULL, NULL, NULL, NULL, STRVEC_INIT }

void platform_init(struct platform *p);
void platform_release(struct platform *p);
/* Deep copy into an initialised-or-released `out`. */
int platform_copy(struct platform *out, const struct platform *src);

/* Parses and normalises "os/arch[/variant][:osversion]"; "os" alone is not
 * accepted (crane requires os/arch).  ERR_INVALID with a message naming the
 * bad part.  os and arch may hold letters, digits, '_' and '-'; variant and
 * osversion also '.'.  `out` is overwritten and left empty on failure. */
int platform_parse(struct platform *out, const char *s, struct err *e);
/* Normalises in place (used on platforms read from manifests too); NULL
 * fields stay NULL.  0 or ERR_NOMEM (p unchanged then). */
int platform_normalize(struct platform *p);
/* The machine hoist runs on, from uname(), normalised (linux/amd64,
 * linux/arm64/v8, linux/arm/v7 for "armv7l", ...).  ERR_FAIL or ERR_NOMEM. */
int platform_host(struct platform *out);
/* "os/arch[/variant][:osversion]" appended to out; ERR_INVALID without os
 * or arch. */
int platform_format(struct buf *out, const struct platform *p);

/* Non-zero when an image of platform `have` satisfies a request for `want`,
 * as containerd's Only() matcher for want's arch, without fallbacks to
 * older variants: os and arch must be equal after normalisation; variant
 * must be equal when `want` names one, except that arm64 with no variant and
 * arm64/v8 match each other; os_version is compared only when want has one. */
int platform_match(const struct platform *want, const struct platform *have);

/* A new platform on the heap (all fields NULL), or NULL when out of memory. */
struct platform *platform_new(void);
/* platform_release() and free(); NULL is a no-op. */
void platform_free(struct platform *p);
/* A deep copy on the heap, or NULL when out of memory. */
struct platform *platform_dup(const struct platform *src);

/* Fills `p` (strings NULL, os_features initialised) from a JSON object with
 * "os", "architecture" (both required), "variant", "os.version" and
 * "os.features"; an index entry's platform or an image config's top level.
 * Values are copied as written (not normalised).  ERR_INVALID naming `what`. */
int platform_from_json(struct platform *p, const struct json *j, const char *what,
		       struct err *e);
/* A new JSON object {architecture, os, os.version, os.features, variant} in
 * the order Go's encoder writes them (empty members left out), or NULL when
 * out of memory. */
struct json *platform_to_json(const struct platform *p);

#endif

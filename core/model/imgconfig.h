/* imgconfig.h - image configs: the parts hoist reads (imgconfig_parse),
 * and editing the JSON in place (build, mutate).
 *
 * The editing functions return 0 or a negative err_code (ERR_NOMEM, or
 * ERR_INVALID when a member is not an object) and fill no struct err: the
 * caller reports "out of memory".
 */
#ifndef HOIST_IMGCONFIG_H
#define HOIST_IMGCONFIG_H

#include "core/base/buf.h"
#include "core/base/strvec.h"
#include "core/base/digest.h"
#include "core/model/kvlist.h"
#include "core/model/platform.h"

#include <stddef.h>
#include <stdint.h>

struct json;

enum imgconfig_flags {
	/* An entrypoint or cmd of no words removes the key (crane mutate)
	 * instead of setting [] (docker build). */
	IMGCONFIG_EMPTY_ARGV_DELETES = 1 << 0,
	/* A new entrypoint without a new cmd drops the base's Cmd, as docker
	 * build does. */
	IMGCONFIG_ENTRYPOINT_DROPS_CMD = 1 << 1,
};

/* The changes to the "config" member; every field borrowed, NULL (or
 * empty) leaves that part as it is.  Applied in this order: env,
 * entrypoint, cmd, workdir, user, stop_signal, labels, exposed ports,
 * volumes. */
struct imgconfig_edit {
	const struct kvlist *env;		/* K=V replaced in place or appended */
	const struct strvec *entrypoint;	/* NULL: not set */
	const struct strvec *cmd;		/* NULL: not set */
	const char *workdir, *user, *stop_signal;
	const struct kvlist *labels;
	const struct strvec *expose;		/* "80/tcp": keys of ExposedPorts */
	const struct strvec *volumes;		/* keys of Volumes */
	unsigned flags;				/* enum imgconfig_flags */
};

/* obj[key], created as an empty object (array when `array`) when missing
 * or of another kind; NULL when `obj` is NULL or on failure.  Borrowed. */
struct json *imgconfig_member(struct json *obj, const char *key, int array);

/* obj[key] (created as by imgconfig_member()) gets the string members of
 * `kv`, in order; nothing at all when `kv` is empty. */
int imgconfig_set_kvlist(struct json *obj, const char *key, const struct kvlist *kv);

/* Applies `ed` to cfg["config"] (created when missing). */
int imgconfig_apply(struct json *cfg, const struct imgconfig_edit *ed);

/* The config of an empty base: architecture, "created" (only when
 * `created` is not NULL), os, variant, config {}, rootfs {type, diff_ids
 * []}; `p` NULL (or its fields NULL) means linux/amd64.  The caller frees
 * it; NULL when out of memory. */
struct json *imgconfig_new(const struct platform *p, const char *created);

/* `t` (seconds since the epoch) as "2006-01-02T15:04:05Z" into `out` of
 * `n` bytes; -1 when it does not fit or is out of range. */
int imgconfig_time(char *out, size_t n, int64_t t);

/* Makes sure cfg has history [], rootfs.diff_ids [] and rootfs.type, and
 * points *hist and *diff_ids (borrowed) at the two arrays. */
int imgconfig_layers(struct json **hist, struct json **diff_ids, struct json *cfg);

/* Appends {created, created_by, comment "hoist"[, empty_layer true]} to
 * the history array `hist`. */
int imgconfig_history_add(struct json *hist, const char *created, const char *created_by,
			  int empty);

/* The parts of an image config hoist reads (the whole document stays
 * available in `json` for mutation; the raw bytes in `raw`). */
struct imgconfig {
	struct buf raw;
	struct json *json;
	struct platform platform;	/* os, architecture, variant, os.version */
	struct digest *diff_ids;
	size_t n_diff_ids;
	char *created;		/* or NULL */
};

/* Image configs larger than this are refused unless a caller passes a
 * larger cap. */
#define IMGCONFIG_MAX_DEFAULT (8u << 20)

void imgconfig_init(struct imgconfig *c);
/* Frees the contents and re-initialises. */
void imgconfig_release(struct imgconfig *c);
/* Parses `len` bytes (copied into c->raw) into `out` (need not be
 * initialised; left initialised and empty on failure).  Requires os and
 * architecture, and rootfs with type "layers" and diff_ids that are all
 * valid digests; reads variant, os.version, os.features, created.
 * ERR_TOO_BIG over `max` bytes (0 means IMGCONFIG_MAX_DEFAULT),
 * ERR_INVALID when malformed. */
int imgconfig_parse(struct imgconfig *out, const char *data, size_t len, size_t max,
		       struct err *e);

#endif

/* reg_list.h - what a registry lists, through a session of registry/reg.h:
 * the tags of a repository and the repositories (catalog), following Link
 * pages on the registry's own origin, and the referrers of a manifest.
 * Listings always use the session's own registry, never a mirror.
 */
#ifndef HOIST_REG_LIST_H
#define HOIST_REG_LIST_H

#include "core/base/digest.h"
#include "core/base/strvec.h"
#include "core/model/manifest.h"

struct err;
struct reg;

/* Caps for listings (tags, catalog). */
#define REG_LIST_MAX_ENTRIES 1000000
#define REG_LIST_MAX_PAGES 100000
#define REG_LIST_PAGE_MAX_BYTES (32u << 20)

/* The tags of `repo`, all pages (n= opts.page_size, Link headers), in the
 * order the registry sent them; `out` (initialised) is appended to. */
int reg_list_tags(struct strvec *out, struct reg *r, const char *repo, struct err *e);
/* The repositories of the registry, all pages. */
int reg_list_catalog(struct strvec *out, struct reg *r, struct err *e);

/* The referrers of `subject` in `repo` as an OCI index (`out_index` need
 * not be initialised): the referrers API, or the "sha256-<hex>" tag when
 * the registry does not implement it (404); an empty index when neither
 * has any. */
int reg_list_referrers(struct manifest *out_index, struct reg *r, const char *repo,
		       const struct digest *subject, struct err *e);

#endif

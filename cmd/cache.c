/* cache.c - `hoist cache ls|gc|prune|rm|verify`: keeping the cache in shape,
 * safely while pulls and builds use it (the locking is in cache/gc.c). */
#include "cmd/cmd.h"

#include "cache/gc.h"
#include "cache/layout.h"
#include "cmd/report.h"
#include "core/base/buf.h"
#include "core/base/err.h"
#include "core/base/json.h"
#include "core/base/strvec.h"
#include "core/model/ref.h"
#include "core/base/units.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define CACHE_WAIT_DEFAULT_MS 60000

/* Option callbacks: durations and sizes into int64_t targets. */
static int opt_duration(void *target, const char *arg, struct err *e)
{
	return units_parse_duration(target, arg, e);
}

static int opt_size(void *target, const char *arg, struct err *e)
{
	return units_parse_size(target, arg, e);
}

/* --wait in seconds to the lock timeout in ms. */
static int wait_ms(int64_t wait_s)
{
	return wait_s > 100000000 ? -1 : (int)(wait_s * 1000);
}

enum cache_open_how {
	CACHE_NEEDED = 0,
	CACHE_MISSING_OK = 1 << 0,	/* a cache never used: nothing to do */
	CACHE_REPAIR = 1 << 1,		/* recreate a damaged cache's missing parts */
};

/* Opens the cache.  *out stays NULL (and EXIT_OK is returned, with a note
 * on stderr) when there is no cache yet, i.e. its directory does not exist
 * or is empty, and CACHE_MISSING_OK: like `docker image ls` on a fresh
 * machine, a cache never used has nothing to list or collect.  A damaged
 * cache (a directory with some of a layout's parts) is an error that says
 * how to repair it; with CACHE_REPAIR its missing parts are recreated. */
static int cache_open(struct layout **out, struct ctx *ctx, unsigned how)
{
	struct err e = ERR_INIT;
	int rc;

	rc = layout_open(out, ctx->cache_dir, LAYOUT_CACHE, &e);
	if (rc == ERR_NOT_FOUND && (how & CACHE_MISSING_OK)) {
		report_verbose(ctx, 0, "no cache at '%s' yet: nothing to do", ctx->cache_dir);
		return EXIT_OK;
	}
	if (rc == ERR_INVALID && (how & CACHE_REPAIR)) {
		err_clear(&e);
		rc = layout_open(out, ctx->cache_dir, LAYOUT_CACHE | LAYOUT_CREATE, &e);
		if (rc == 0)
			report_verbose(ctx, 0, "repaired the cache '%s': recreated its missing "
				       "parts", ctx->cache_dir);
	}
	if (rc < 0)
		return report_err(&e, "cannot open the cache");
	return EXIT_OK;
}

static void fmt_time(char *out, size_t outlen, int64_t t)
{
	time_t tt = (time_t)t;
	struct tm tm;

	if (t < 0 || !gmtime_r(&tt, &tm) || !strftime(out, outlen, "%Y-%m-%dT%H:%M:%SZ", &tm))
		snprintf(out, outlen, "-");
}

static const char *size_str(struct buf *b, uint64_t n)
{
	buf_reset(b);
	units_format_size(b, n);
	return b->data;
}

/* Sets obj[key] = s, or leaves the member out when s is NULL (json-c has
 * no null value object). */
static int set_opt_str(struct json *obj, const char *key, const char *s)
{
	return s ? json_set_str(obj, key, s) : 0;
}

/* Writes `j` pretty-printed with a newline to stdout. */
static int print_json(struct json *j)
{
	struct buf b = BUF_INIT;
	struct err e = ERR_INIT;
	int ret = EXIT_OK;

	if (!j || json_serialize(&b, j, JSON_PRETTY, &e) < 0) {
		report_error("out of memory");
		ret = EXIT_FAIL;
	} else {
		fputs(b.data, stdout);
		fputc('\n', stdout);
	}
	buf_release(&b);
	return ret;
}

/* --- gc -------------------------------------------------------------------- */

static struct json *gc_json(const struct gc_report *r, int dry)
{
	struct json *j = json_new_object(), *arr = json_new_array(), *o;
	size_t i;
	int bad = !j || !arr;

	for (i = 0; !bad && i < r->n_removed; i++) {
		o = json_new_object();
		bad = json_append(arr, o) < 0 ||
		      json_set_str(o, "digest", r->removed[i].digest.str) < 0 ||
		      json_set_int64(o, "size", r->removed[i].size) < 0;
	}
	if (bad || json_set(j, "dryRun", json_new_bool(dry)) < 0 ||
	    json_set(j, "removed", json_ref(arr)) < 0 ||
	    json_set_int64(j, "bytesFreed", (int64_t)r->removed_bytes) < 0 ||
	    json_set_int64(j, "tempFiles", (int64_t)r->n_temp) < 0 ||
	    json_set_int64(j, "tempBytes", (int64_t)r->temp_bytes) < 0 ||
	    json_set_int64(j, "entries", (int64_t)r->n_entries) < 0 ||
	    json_set_int64(j, "blobs", (int64_t)r->n_blobs) < 0 ||
	    json_set_int64(j, "reachable", (int64_t)r->n_reachable) < 0 ||
	    json_set_int64(j, "keptInGrace", (int64_t)r->n_young) < 0 ||
	    json_set_int64(j, "keptInGraceBytes", (int64_t)r->young_bytes) < 0 ||
	    json_set_int64(j, "usageRecords", (int64_t)r->n_records) < 0 ||
	    json_set_int64(j, "memoRecords", (int64_t)r->n_memos) < 0) {
		json_free(j);
		j = NULL;
	}
	json_free(arr);
	return j;
}

static void gc_print(const struct gc_report *r, int dry)
{
	size_t i;

	for (i = 0; i < r->n_removed; i++)
		printf("%s %s %lld\n", dry ? "would remove" : "removed", r->removed[i].digest.str,
		       (long long)r->removed[i].size);
}

static void gc_summary(const struct ctx *ctx, const char *what, const struct gc_report *r, int dry)
{
	struct buf a = BUF_INIT, b = BUF_INIT;

	report_verbose(ctx, 0, "%s: %s %zu blob%s (%s) and %zu temporary file%s; kept %zu "
		       "reachable and %zu recent unreachable (%s)", what,
		       dry ? "would remove" : "removed", r->n_removed, r->n_removed == 1 ? "" : "s",
		       size_str(&a, r->removed_bytes + r->temp_bytes), r->n_temp,
		       r->n_temp == 1 ? "" : "s", r->n_reachable, r->n_young,
		       size_str(&b, r->young_bytes));
	buf_release(&a);
	buf_release(&b);
}

static int cmd_cache_gc(int argc, char **argv, struct ctx *ctx)
{
	static const char *const usage[] = {
		"hoist cache gc [--dry-run] [--grace <duration>] [--wait <duration>] [--json]", NULL
	};
	int json = 0, dry = 0, ret = EXIT_FAIL;
	int64_t grace = GC_GRACE_DEFAULT_S, wait = CACHE_WAIT_DEFAULT_MS / 1000;
	const struct opt opts[] = {
		OPT_FLAG('n', "dry-run", &dry, "show what would be removed; remove nothing"),
		OPT_CALLBACK(0, "grace", &grace, "<duration>",
			     "keep unreachable blobs younger than this (default 1h)", opt_duration),
		OPT_CALLBACK(0, "wait", &wait, "<duration>",
			     "wait this long for running pulls and builds (default 60s)",
			     opt_duration),
		OPT_FLAG(0, "json", &json, "write the report as JSON on stdout"),
		OPT_END(),
	};
	struct opt_spec spec = CMD_SPEC(ctx, usage, opts);
	struct gc_options o = GC_OPTIONS_INIT;
	struct gc_report r;
	struct layout *l = NULL;
	struct err e = ERR_INIT;
	int rc;

	memset(&r, 0, sizeof(r));
	rc = cmd_parse_options(ctx, &spec, &argc, &argv);
	if (rc != OPT_CONTINUE)
		return rc;
	if (argc > 0)
		return opt_usage_error(&spec, "unexpected argument '%s'", argv[0]);
	if ((ret = cache_open(&l, ctx, CACHE_MISSING_OK)) != EXIT_OK)
		goto out;
	ret = EXIT_FAIL;
	o.flags = dry ? GC_DRY_RUN : 0;
	o.grace_s = grace;
	o.wait_ms = wait_ms(wait);
	if (l && gc_run(&r, l, &o, &e) < 0) {
		ret = report_err(&e, "gc of '%s' failed", ctx->cache_dir);
		goto out;
	}
	if (json) {
		struct json *j = gc_json(&r, dry);

		ret = print_json(j);
		json_free(j);
	} else {
		gc_print(&r, dry);
		ret = EXIT_OK;
	}
	if (l)
		gc_summary(ctx, "gc", &r, dry);
out:
	gc_report_release(&r);
	layout_free(l);
	return ret;
}

/* --- prune and rm ------------------------------------------------------------ */

static int prune_output(const struct ctx *ctx, const char *what, const struct prune_report *r,
			int json, int dry, int summary)
{
	struct json *j, *arr, *o;
	struct buf s = BUF_INIT;
	size_t i;
	int bad, ret;

	if (json) {
		j = json_new_object();
		arr = json_new_array();
		bad = !j || !arr;
		for (i = 0; !bad && i < r->n_dropped; i++) {
			o = json_new_object();
			bad = json_append(arr, o) < 0 ||
			      set_opt_str(o, "ref", r->dropped[i].name) < 0 ||
			      json_set_str(o, "digest", r->dropped[i].digest.str) < 0 ||
			      json_set_str(o, "index", r->dropped[i].which == LAYOUT_INDEX_META
					   ? "metadata" : "main") < 0;
		}
		if (!bad && (json_set(j, "dropped", json_ref(arr)) < 0 ||
			     json_set(j, "gc", gc_json(&r->gc, dry)) < 0))
			bad = 1;
		json_free(arr);
		if (bad) {
			json_free(j);
			j = NULL;
		}
		ret = print_json(j);
		json_free(j);
	} else {
		for (i = 0; i < r->n_dropped; i++) {
			buf_reset(&s);
			report_sanitize_buf(&s, r->dropped[i].name ? r->dropped[i].name : "-");
			printf("%s %s %s\n", dry ? "would drop" : "dropped", s.data,
			       r->dropped[i].digest.str);
		}
		gc_print(&r->gc, dry);
		ret = EXIT_OK;
	}
	if (summary) {
		report_verbose(ctx, 0, "%s: %s %zu entr%s", what, dry ? "would drop" : "dropped",
			       r->n_dropped, r->n_dropped == 1 ? "y" : "ies");
		gc_summary(ctx, what, &r->gc, dry);
	}
	buf_release(&s);
	return ret;
}

static int cmd_cache_prune(int argc, char **argv, struct ctx *ctx)
{
	static const char *const usage[] = {
		"hoist cache prune [--older-than <duration>] [--keep-last <n>] "
		"[--max-size <size>] [--filter ref=<glob>] [--all] [--dry-run] [--json]",
		NULL
	};
	struct prune_options po = { -1, -1, -1, NULL, 0, GC_OPTIONS_INIT };
	const char *filter = NULL;
	int json = 0, dry = 0, keep = -1, ret = EXIT_FAIL;
	int64_t grace = GC_GRACE_DEFAULT_S, wait = CACHE_WAIT_DEFAULT_MS / 1000;
	const struct opt opts[] = {
		OPT_CALLBACK(0, "older-than", &po.older_than_s, "<duration>",
			     "drop images not used for this long", opt_duration),
		OPT_INT(0, "keep-last", &keep, "<n>", 0, 1000000000,
			"keep only the <n> most recently used images"),
		OPT_CALLBACK(0, "max-size", &po.max_size, "<size>",
			     "drop least recently used images until the cache fits", opt_size),
		OPT_STRING(0, "filter", &filter, "ref=<glob>",
			   "consider only images whose reference matches <glob>"),
		OPT_FLAG(0, "all", &po.all, "drop every image considered"),
		OPT_FLAG('n', "dry-run", &dry, "show what would be dropped; change nothing"),
		OPT_CALLBACK(0, "grace", &grace, "<duration>",
			     "keep unreachable blobs younger than this (default 1h)", opt_duration),
		OPT_CALLBACK(0, "wait", &wait, "<duration>",
			     "wait this long for running pulls and builds (default 60s)",
			     opt_duration),
		OPT_FLAG(0, "json", &json, "write the report as JSON on stdout"),
		OPT_END(),
	};
	struct opt_spec spec = CMD_SPEC(ctx, usage, opts);
	struct prune_report r;
	struct layout *l = NULL;
	struct err e = ERR_INIT;
	int rc;

	memset(&r, 0, sizeof(r));
	rc = cmd_parse_options(ctx, &spec, &argc, &argv);
	if (rc != OPT_CONTINUE)
		return rc;
	if (argc > 0)
		return opt_usage_error(&spec, "unexpected argument '%s'", argv[0]);
	if (filter) {
		if (strncmp(filter, "ref=", 4) || !filter[4])
			return opt_usage_error(&spec, "invalid filter '%s': want ref=<glob>",
					       filter);
		po.filter = filter + 4;
	}
	po.keep_last = keep;
	if (!po.all && po.older_than_s < 0 && po.keep_last < 0 && po.max_size < 0)
		return opt_usage_error(&spec, "nothing to prune by: give --older-than, "
				       "--keep-last, --max-size or --all");
	po.gc.flags = dry ? GC_DRY_RUN : 0;
	po.gc.grace_s = grace;
	po.gc.wait_ms = wait_ms(wait);
	if ((ret = cache_open(&l, ctx, CACHE_MISSING_OK)) != EXIT_OK)
		goto out;
	if (l && prune_run(&r, l, &po, &e) < 0) {
		ret = report_err(&e, "prune of '%s' failed", ctx->cache_dir);
		goto out;
	}
	ret = prune_output(ctx, "prune", &r, json, dry, l != NULL);
out:
	prune_report_release(&r);
	layout_free(l);
	return ret;
}

static int cmd_cache_rm(int argc, char **argv, struct ctx *ctx)
{
	static const char *const usage[] = {
		"hoist cache rm [--dry-run] [--grace <duration>] [--wait <duration>] [--json] "
		"<ref>...", NULL
	};
	int json = 0, dry = 0, ret = EXIT_FAIL, i;
	int64_t grace = GC_GRACE_DEFAULT_S, wait = CACHE_WAIT_DEFAULT_MS / 1000;
	const struct opt opts[] = {
		OPT_FLAG('n', "dry-run", &dry, "show what would be removed; change nothing"),
		OPT_CALLBACK(0, "grace", &grace, "<duration>",
			     "keep unreachable blobs younger than this (default 1h)", opt_duration),
		OPT_CALLBACK(0, "wait", &wait, "<duration>",
			     "wait this long for running pulls and builds (default 60s)",
			     opt_duration),
		OPT_FLAG(0, "json", &json, "write the report as JSON on stdout"),
		OPT_END(),
	};
	struct opt_spec spec = CMD_SPEC(ctx, usage, opts);
	struct gc_options o = GC_OPTIONS_INIT;
	struct strvec names = STRVEC_INIT;
	struct prune_report r;
	struct layout *l = NULL;
	struct err e = ERR_INIT;
	struct buf b = BUF_INIT;
	struct ref rf;
	int rc;

	memset(&r, 0, sizeof(r));
	rc = cmd_parse_options(ctx, &spec, &argc, &argv);
	if (rc != OPT_CONTINUE)
		return rc;
	if (argc < 1)
		return opt_usage_error(&spec, "name at least one image to remove");
	if ((ret = cache_open(&l, ctx, CACHE_NEEDED)) != EXIT_OK)
		goto out;
	ret = EXIT_FAIL;
	/* as listed by `hoist cache ls`, else normalised ("golang:1.20" is
	 * docker.io/library/golang:1.20) */
	for (i = 0; i < argc; i++) {
		struct descriptor d;
		int found;

		descriptor_init(&d);
		found = layout_ref_resolve(&d, NULL, l, argv[i], NULL) == 0;
		descriptor_release(&d);
		buf_reset(&b);
		ref_init(&rf);
		if (!found && ref_parse(&rf, argv[i], 0, NULL) == 0 && ref_format(&b, &rf) == 0)
			rc = strvec_push(&names, b.data);
		else
			rc = strvec_push(&names, argv[i]);
		ref_release(&rf);
		if (rc < 0) {
			report_error("out of memory");
			goto out;
		}
	}
	o.flags = dry ? GC_DRY_RUN : 0;
	o.grace_s = grace;
	o.wait_ms = wait_ms(wait);
	if (rm_run(&r, l, (const char *const *)names.v, names.n, &o, &e) < 0) {
		ret = report_err(&e, "cannot remove from the cache");
		goto out;
	}
	ret = prune_output(ctx, "rm", &r, json, dry, 1);
out:
	strvec_clear(&names);
	buf_release(&b);
	prune_report_release(&r);
	layout_free(l);
	return ret;
}

/* --- verify ------------------------------------------------------------------- */

static int cmd_cache_verify(int argc, char **argv, struct ctx *ctx)
{
	static const char *const usage[] = {
		"hoist cache verify [--repair] [--wait <duration>] [--json]", NULL
	};
	int json = 0, repair = 0, ret = EXIT_FAIL, bad;
	int64_t wait = CACHE_WAIT_DEFAULT_MS / 1000;
	const struct opt opts[] = {
		OPT_FLAG(0, "repair", &repair,
			 "remove corrupt blobs and the entries that needed them"),
		OPT_CALLBACK(0, "wait", &wait, "<duration>",
			     "with --repair, wait this long for running pulls (default 60s)",
			     opt_duration),
		OPT_FLAG(0, "json", &json, "write the report as JSON on stdout"),
		OPT_END(),
	};
	struct opt_spec spec = CMD_SPEC(ctx, usage, opts);
	struct verify_report r;
	struct layout *l = NULL;
	struct err e = ERR_INIT;
	struct buf s = BUF_INIT;
	struct json *j = NULL, *arr = NULL, *o;
	size_t i;
	int rc;

	memset(&r, 0, sizeof(r));
	rc = cmd_parse_options(ctx, &spec, &argc, &argv);
	if (rc != OPT_CONTINUE)
		return rc;
	if (argc > 0)
		return opt_usage_error(&spec, "unexpected argument '%s'", argv[0]);
	if ((ret = cache_open(&l, ctx, CACHE_MISSING_OK | (repair ? CACHE_REPAIR : 0))) !=
	    EXIT_OK)
		goto out;
	if (l && verify_run(&r, l, repair ? VERIFY_REPAIR : 0, wait_ms(wait), &e) < 0) {
		ret = report_err(&e, "verify of '%s' failed", ctx->cache_dir);
		goto out;
	}
	if (json) {
		j = json_new_object();
		arr = json_new_array();
		bad = !j || !arr;
		for (i = 0; !bad && i < r.n_problems; i++) {
			o = json_new_object();
			bad = json_append(arr, o) < 0 ||
			      json_set_str(o, "problem", r.problems[i].what) < 0 ||
			      set_opt_str(o, "ref", r.problems[i].name) < 0 ||
			      json_set_str(o, "digest", r.problems[i].digest.str) < 0;
		}
		if (bad || json_set(j, "problems", json_ref(arr)) < 0 ||
		    json_set_int64(j, "blobs", (int64_t)r.n_blobs) < 0 ||
		    json_set_int64(j, "bytes", (int64_t)r.bytes) < 0 ||
		    json_set_int64(j, "entries", (int64_t)r.n_entries) < 0 ||
		    json_set_int64(j, "corrupt", (int64_t)r.n_corrupt) < 0 ||
		    json_set_int64(j, "missing", (int64_t)r.n_missing) < 0 ||
		    json_set(j, "repaired", json_new_bool(repair)) < 0) {
			json_free(j);
			j = NULL;
		}
		if (print_json(j) != EXIT_OK)
			goto out;
	} else {
		for (i = 0; i < r.n_problems; i++) {
			buf_reset(&s);
			report_sanitize_buf(&s, r.problems[i].name ? r.problems[i].name : "-");
			printf("%s %s %s\n", r.problems[i].what, s.data, r.problems[i].digest.str);
		}
	}
	buf_reset(&s);
	if (l)
		report_verbose(ctx, 0, "verify: %zu blobs (%s), %zu entries: %zu corrupt, %zu "
			       "missing%s", r.n_blobs, size_str(&s, r.bytes), r.n_entries,
			       r.n_corrupt, r.n_missing,
			       repair && (r.n_corrupt || r.n_missing) ? "; repaired" : "");
	ret = (r.n_corrupt || r.n_missing) && !repair ? EXIT_FAIL : EXIT_OK;
	if (ret == EXIT_FAIL && !ctx->quiet)
		report_hint("run 'hoist cache verify --repair', then pull the images again");
out:
	json_free(j);
	json_free(arr);
	buf_release(&s);
	verify_report_release(&r);
	layout_free(l);
	return ret;
}

/* --- ls ------------------------------------------------------------------------ */

static const char *entry_kind(const struct ls_entry *c)
{
	enum mt_kind k = mediatype_classify(c->desc.media_type);

	return k == MT_KIND_INDEX ? "index" : k == MT_KIND_MANIFEST ? "image" : "other";
}

static const char *entry_layers(const struct ls_entry *c)
{
	if (c->which == LAYOUT_INDEX_META)
		return "metadata";
	return c->complete ? "present" : "incomplete";
}

static struct json *ls_json(const struct ls_entry *ents, size_t n,
			    const struct ls_summary *sum)
{
	struct json *j = json_new_object(), *arr = json_new_array(), *o, *s;
	char t1[32], t2[32];
	size_t i;
	int bad = !j || !arr;

	for (i = 0; !bad && i < n; i++) {
		const struct ls_entry *c = &ents[i];

		fmt_time(t1, sizeof(t1), c->pulled);
		fmt_time(t2, sizeof(t2), c->last_used);
		o = json_new_object();
		bad = json_append(arr, o) < 0 ||
		      set_opt_str(o, "ref", c->name) < 0 ||
		      json_set_str(o, "digest", c->desc.digest.str) < 0 ||
		      json_set_str(o, "mediaType", c->desc.media_type) < 0 ||
		      json_set_str(o, "kind", entry_kind(c)) < 0 ||
		      set_opt_str(o, "platforms", c->platforms) < 0 ||
		      json_set_str(o, "index",
				   c->which == LAYOUT_INDEX_META ? "metadata" : "main") < 0 ||
		      json_set_str(o, "layers", entry_layers(c)) < 0 ||
		      json_set_int64(o, "missingBlobs", (int64_t)c->n_missing) < 0 ||
		      json_set_int64(o, "uniqueSize", (int64_t)c->unique_bytes) < 0 ||
		      json_set_int64(o, "sharedSize", (int64_t)c->shared_bytes) < 0 ||
		      set_opt_str(o, "pulled", c->pulled >= 0 ? t1 : NULL) < 0 ||
		      set_opt_str(o, "lastUsed", c->last_used >= 0 ? t2 : NULL) < 0;
	}
	s = json_new_object();
	if (bad || json_set(j, "entries", json_ref(arr)) < 0 || json_set(j, "summary", s) < 0 ||
	    json_set_int64(s, "entries", (int64_t)sum->n_entries) < 0 ||
	    json_set_int64(s, "blobs", (int64_t)sum->n_blobs) < 0 ||
	    json_set_int64(s, "bytes", (int64_t)sum->bytes) < 0 ||
	    json_set_int64(s, "reclaimable", (int64_t)sum->reclaimable) < 0) {
		json_free(j);
		j = NULL;
	}
	json_free(arr);
	return j;
}

static int cmd_cache_ls(int argc, char **argv, struct ctx *ctx)
{
	static const char *const usage[] = { "hoist cache ls [--json]", NULL };
	int json = 0, ret = EXIT_FAIL;
	const struct opt opts[] = {
		OPT_FLAG(0, "json", &json, "write the list as JSON on stdout"),
		OPT_END(),
	};
	struct opt_spec spec = CMD_SPEC(ctx, usage, opts);
	struct ls_entry *ents = NULL;
	struct ls_summary sum;
	struct layout *l = NULL;
	struct err e = ERR_INIT;
	struct buf name = BUF_INIT, a = BUF_INIT, b = BUF_INIT;
	char t1[32], t2[32];
	size_t n = 0, i;
	struct json *j = NULL;
	int rc;

	memset(&sum, 0, sizeof(sum));
	rc = cmd_parse_options(ctx, &spec, &argc, &argv);
	if (rc != OPT_CONTINUE)
		return rc;
	if (argc > 0)
		return opt_usage_error(&spec, "unexpected argument '%s'", argv[0]);
	if ((ret = cache_open(&l, ctx, CACHE_MISSING_OK)) != EXIT_OK)
		goto out;
	if (l && ls_entries(&ents, &n, &sum, l, &e) < 0) {
		ret = report_err(&e, "cannot list the cache '%s'", ctx->cache_dir);
		goto out;
	}
	if (json) {
		j = ls_json(ents, n, &sum);
		if ((ret = print_json(j)) != EXIT_OK)
			goto out;
	} else {
		if (n)
			printf("%-40s %-19s %-6s %-10s %-11s %-10s %-10s %-20s %s\n", "REFERENCE",
			       "DIGEST", "TYPE", "LAYERS", "PLATFORMS", "UNIQUE", "SHARED",
			       "PULLED", "LAST USED");
		for (i = 0; i < n; i++) {
			buf_reset(&name);
			report_sanitize_buf(&name, ents[i].name ? ents[i].name : "-");
			fmt_time(t1, sizeof(t1), ents[i].pulled);
			fmt_time(t2, sizeof(t2), ents[i].last_used);
			printf("%-40s %-19.19s %-6s %-10s %-11s %-10s ", name.data,
			       ents[i].desc.digest.str, entry_kind(&ents[i]),
			       entry_layers(&ents[i]),
			       ents[i].platforms ? ents[i].platforms : "-",
			       size_str(&a, ents[i].unique_bytes));
			printf("%-10s %-20s %s\n", size_str(&b, ents[i].shared_bytes), t1, t2);
		}
	}
	if (l)
		report_verbose(ctx, 0, "%zu entr%s, %zu blobs, %s on disk, %s reclaimable by gc",
			       sum.n_entries, sum.n_entries == 1 ? "y" : "ies", sum.n_blobs,
			       size_str(&a, sum.bytes), size_str(&b, sum.reclaimable));
	ret = EXIT_OK;
out:
	json_free(j);
	buf_release(&name);
	buf_release(&a);
	buf_release(&b);
	ls_entries_free(ents, n);
	layout_free(l);
	return ret;
}

int cmd_cache(int argc, char **argv, struct ctx *ctx)
{
	static const struct cmd subs[] = {
		{ "ls", cmd_cache_ls, CMD_SETUP_CACHE_DIR, "list the cached images" },
		{ "gc", cmd_cache_gc, CMD_SETUP_CACHE_DIR, "remove blobs no image needs" },
		{ "prune", cmd_cache_prune, CMD_SETUP_CACHE_DIR,
		  "drop images by age, count or size, then gc" },
		{ "rm", cmd_cache_rm, CMD_SETUP_CACHE_DIR, "drop images, then gc" },
		{ "verify", cmd_cache_verify, CMD_SETUP_CACHE_DIR,
		  "re-hash every blob and check every image is complete" },
		{ NULL, NULL, 0, NULL },
	};

	return cmd_group_run(ctx, "cache", subs, argc, argv);
}

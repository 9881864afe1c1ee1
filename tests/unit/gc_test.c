/* gc_test - mark and sweep, prune, remove, verify and list on layouts made
 * here, blob by blob. */
#define TEST_MODULE "gc"
#include "core/base/strvec.h"
#include "test.h"

#include "cache/gc.h"
#include "cache/layout.h"
#include "core/base/buf.h"
#include "core/base/digest.h"
#include "core/base/err.h"
#include "core/model/manifest.h"

#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static char root[256];

static void mkroot(const char *name)
{
	const char *tmp = getenv("TMPDIR");

	snprintf(root, sizeof(root), "%s/hoist-gc-test-%ld-%s", tmp && *tmp ? tmp : "/tmp",
		 (long)getpid(), name);
}

static void rmroot(void)
{
	char cmd[512];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", root);
	if (system(cmd) != 0)
		fprintf(stderr, "cannot remove %s\n", root);
}

/* Stores `s` as a blob; fills `d` as a descriptor of media type `mt`. */
static void put(struct descriptor *d, struct layout *l, const char *mt, const char *s)
{
	struct err e = ERR_INIT;

	descriptor_init(d);
	CHECK_RC(blob_put(&d->digest, l, s, strlen(s), NULL, &e), 0);
	d->size = (int64_t)strlen(s);
	d->media_type = strdup(mt);
}

/* An image: config + layers given as strings; returns its manifest
 * descriptor in `out`. */
static void image(struct descriptor *out, struct layout *l, const char *cfg_text,
		  const char *const *layers, size_t n, const struct descriptor *subject)
{
	struct descriptor cfg, lay;
	struct buf m = BUF_INIT;
	size_t i;

	put(&cfg, l, MT_OCI_CONFIG, cfg_text);
	buf_addf(&m, "{\"schemaVersion\":2,\"mediaType\":\"" MT_OCI_MANIFEST "\",\"config\":"
		 "{\"mediaType\":\"" MT_OCI_CONFIG "\",\"digest\":\"%s\",\"size\":%lld},"
		 "\"layers\":[", cfg.digest.str, (long long)cfg.size);
	for (i = 0; i < n; i++) {
		put(&lay, l, MT_OCI_LAYER, layers[i]);
		buf_addf(&m, "%s{\"mediaType\":\"" MT_OCI_LAYER "\",\"digest\":\"%s\",\"size\":%lld}",
			 i ? "," : "", lay.digest.str, (long long)lay.size);
		descriptor_release(&lay);
	}
	buf_addstr(&m, "]");
	if (subject)
		buf_addf(&m, ",\"subject\":{\"mediaType\":\"" MT_OCI_MANIFEST "\",\"digest\":\"%s\","
			 "\"size\":%lld}", subject->digest.str, (long long)subject->size);
	buf_addstr(&m, "}");
	put(out, l, MT_OCI_MANIFEST, m.data);
	descriptor_release(&cfg);
	buf_release(&m);
}

static int present(struct layout *l, const char *s)
{
	struct digest d;

	digest_buffer(&d, DIGEST_SHA256, s, strlen(s), NULL);
	return blob_has(l, &d, -1);
}

static void make_old(const char *s)
{
	struct digest d;
	char path[512];
	struct timespec ts[2] = { { time(NULL) - 7200, 0 }, { time(NULL) - 7200, 0 } };

	digest_buffer(&d, DIGEST_SHA256, s, strlen(s), NULL);
	snprintf(path, sizeof(path), "%s/blobs/sha256/%s", root, digest_hex(&d));
	utimensat(AT_FDCWD, path, ts, 0);
}

static const char cfg1[] = "{\"architecture\":\"amd64\",\"os\":\"linux\",\"rootfs\":"
			   "{\"type\":\"layers\",\"diff_ids\":[]},\"n\":1}";
static const char cfg2[] = "{\"architecture\":\"arm64\",\"os\":\"linux\",\"rootfs\":"
			   "{\"type\":\"layers\",\"diff_ids\":[]},\"n\":2}";

TEST(mark_and_sweep)
{
	static const char *const la[] = { "shared layer", "a's layer" };
	static const char *const lb[] = { "shared layer", "b's layer" };
	struct layout *l = NULL;
	struct err e = ERR_INIT;
	struct descriptor a, b, junk, sig;
	struct gc_options o = GC_OPTIONS_INIT;
	struct gc_report r;

	mkroot("ms");
	CHECK_RC(layout_open(&l, root, LAYOUT_CREATE, &e), 0);
	image(&a, l, cfg1, la, 2, NULL);
	image(&b, l, cfg2, lb, 2, NULL);
	image(&sig, l, "{\"architecture\":\"amd64\",\"os\":\"linux\",\"rootfs\":{\"type\":"
	      "\"layers\",\"diff_ids\":[]},\"sig\":1}", NULL, 0, &a);
	put(&junk, l, MT_OCI_LAYER, "unreachable");
	CHECK_RC(layout_index_set(l, "example.com/a:1", &a, &e), 0);
	CHECK_RC(layout_index_set_in(l, LAYOUT_INDEX_META, "example.com/b:1", &b, &e), 0);

	/* everything is fresh: nothing goes under the default grace */
	CHECK_RC(gc_run(&r, l, &o, &e), 0);
	CHECK_RC(r.n_removed, 0);
	CHECK_RC(r.n_young, 1);
	CHECK_RC(r.n_entries, 2);
	gc_report_release(&r);

	make_old("unreachable");
	o.flags = GC_DRY_RUN;
	CHECK_RC(gc_run(&r, l, &o, &e), 0);
	CHECK_RC(r.n_removed, 1);
	CHECK(present(l, "unreachable"));
	gc_report_release(&r);

	o.flags = 0;
	CHECK_RC(gc_run(&r, l, &o, &e), 0);
	CHECK_RC(r.n_removed, 1);
	CHECK(digest_equal(&r.removed[0].digest, &junk.digest));
	CHECK_RC(r.removed_bytes, strlen("unreachable"));
	CHECK(!present(l, "unreachable"));
	CHECK(present(l, "shared layer") && present(l, "a's layer") && present(l, "b's layer"));
	CHECK(blob_has(l, &sig.digest, -1));	/* a referrer of a kept manifest */
	gc_report_release(&r);

	/* dropping a: its own layer goes, the shared one stays for b */
	CHECK_RC(layout_index_remove(l, "example.com/a:1", &e), 0);
	o.grace_s = 0;
	CHECK_RC(gc_run(&r, l, &o, &e), 0);
	CHECK(!present(l, "a's layer"));
	CHECK(!blob_has(l, &a.digest, -1));
	CHECK(!blob_has(l, &sig.digest, -1));	/* its subject went */
	CHECK(present(l, "shared layer"));
	CHECK(blob_has(l, &b.digest, -1));
	gc_report_release(&r);

	descriptor_release(&a);
	descriptor_release(&b);
	descriptor_release(&sig);
	descriptor_release(&junk);
	layout_free(l);
	rmroot();
}

TEST(metadata_entry_and_records)
{
	static const char *const la[] = { "layer one" };
	struct layout *l = NULL;
	struct err e = ERR_INIT;
	struct descriptor a, got;
	struct usage_info info;
	enum layout_index which;
	struct strvec src = STRVEC_INIT;

	mkroot("meta");
	CHECK_RC(layout_open(&l, root, LAYOUT_CREATE, &e), 0);
	image(&a, l, cfg1, la, 1, NULL);
	CHECK_RC(layout_index_set_in(l, LAYOUT_INDEX_META, "example.com/a:1", &a, &e), 0);
	descriptor_init(&got);
	CHECK_RC(layout_index_find(&got, l, "example.com/a:1", &e), ERR_NOT_FOUND);
	CHECK_RC(layout_ref_resolve(&got, &which, l, "example.com/a:1", &e), 0);
	CHECK(which == LAYOUT_INDEX_META);
	descriptor_release(&got);
	CHECK_RC(usage_get(&info, l, "example.com/a:1", &e), 0);
	CHECK(digest_equal(&info.digest, &a.digest));
	CHECK(info.pulled > 0 && info.last_used > 0);
	CHECK_RC(usage_touch(l, "example.com/a:1"), 0);
	CHECK_RC(usage_touch(l, "example.com/none:1"), ERR_NOT_FOUND);
	/* the complete image takes the name over from the metadata index */
	CHECK_RC(layout_index_set(l, "example.com/a:1", &a, &e), 0);
	CHECK_RC(layout_ref_resolve(&got, &which, l, "example.com/a:1", &e), 0);
	CHECK(which == LAYOUT_INDEX_MAIN);
	descriptor_release(&got);
	CHECK_RC(layout_index_find_in(&got, l, LAYOUT_INDEX_META, "example.com/a:1", &e),
		 ERR_NOT_FOUND);
	/* a metadata entry for the same digest leaves the complete one alone */
	CHECK_RC(layout_index_set_in(l, LAYOUT_INDEX_META, "example.com/a:1", &a, &e), 0);
	CHECK_RC(layout_index_find(&got, l, "example.com/a:1", &e), 0);
	descriptor_release(&got);
	CHECK_RC(layout_index_remove(l, "example.com/a:1", &e), 0);
	CHECK_RC(usage_get(&info, l, "example.com/a:1", &e), ERR_NOT_FOUND);

	/* blob sources: deduplicated, capped, validated */
	CHECK_RC(blob_source_add(l, &a.digest, "docker.io/library/a", &e), 0);
	CHECK_RC(blob_source_add(l, &a.digest, "docker.io/library/a", &e), 0);
	CHECK_RC(blob_source_add(l, &a.digest, "ghcr.io/x/a", &e), 0);
	CHECK_RC(blob_source_add(l, &a.digest, "bad source\n", &e), ERR_INVALID);
	CHECK_RC(blob_sources(&src, l, &a.digest, &e), 0);
	CHECK_RC(src.n, 2);
	CHECK_STR(src.v[0], "docker.io/library/a");
	CHECK_STR(src.v[1], "ghcr.io/x/a");
	strvec_clear(&src);
	descriptor_release(&a);
	layout_free(l);
	rmroot();
}

TEST(prune_keep_last_and_verify)
{
	static const char *const la[] = { "la" }, *const lb[] = { "lb" };
	struct layout *l = NULL;
	struct err e = ERR_INIT;
	struct descriptor a, b;
	struct prune_options po = { -1, 1, -1, NULL, 0, GC_OPTIONS_INIT };
	struct prune_report pr;
	struct verify_report vr;
	struct ls_entry *ents = NULL;
	struct ls_summary sum;
	char path[512];
	size_t n = 0;
	FILE *f;

	mkroot("prune");
	CHECK_RC(layout_open(&l, root, LAYOUT_CREATE, &e), 0);
	image(&a, l, cfg1, la, 1, NULL);
	image(&b, l, cfg2, lb, 1, NULL);
	CHECK_RC(layout_index_set(l, "example.com/a:1", &a, &e), 0);
	sleep(1);
	CHECK_RC(layout_index_set(l, "example.com/b:1", &b, &e), 0);
	CHECK_RC(ls_entries(&ents, &n, &sum, l, &e), 0);
	CHECK_RC(n, 2);
	CHECK(n == 2 && ents[0].complete && ents[0].platforms &&
	      !strcmp(ents[0].platforms, "linux/amd64"));
	CHECK_RC(sum.n_blobs, 6);
	ls_entries_free(ents, n);

	po.gc.grace_s = 0;
	CHECK_RC(prune_run(&pr, l, &po, &e), 0);
	CHECK_RC(pr.n_dropped, 1);
	CHECK(pr.n_dropped == 1 && !strcmp(pr.dropped[0].name, "example.com/a:1"));
	CHECK_RC(pr.gc.n_removed, 3);
	prune_report_release(&pr);

	CHECK_RC(verify_run(&vr, l, 0, 0, &e), 0);
	CHECK_RC(vr.n_corrupt, 0);
	CHECK_RC(vr.n_missing, 0);
	verify_report_release(&vr);
	{
		struct digest d;

		digest_buffer(&d, DIGEST_SHA256, "lb", 2, NULL);
		snprintf(path, sizeof(path), "%s/blobs/sha256/%s", root, digest_hex(&d));
	}
	f = fopen(path, "w");
	CHECK(f != NULL);
	if (f) {
		fputs("xx", f);
		fclose(f);
	}
	CHECK_RC(verify_run(&vr, l, 0, 0, &e), 0);
	CHECK_RC(vr.n_corrupt, 1);
	verify_report_release(&vr);
	CHECK_RC(verify_run(&vr, l, VERIFY_REPAIR, 0, &e), 0);
	verify_report_release(&vr);
	CHECK(!present(l, "lb"));
	CHECK_RC(ls_entries(&ents, &n, &sum, l, &e), 0);
	CHECK(n == 1 && ents[0].which == LAYOUT_INDEX_META);
	ls_entries_free(ents, n);
	descriptor_release(&a);
	descriptor_release(&b);
	layout_free(l);
	rmroot();
}

/* The sweep's fast paths: many victims (unlinked on several threads), only
 * existing sources records removed, a referrer larger than the head read
 * kept with what it names, a JSON blob without "subject" and a young blob
 * left alone. */
TEST(sweep_many_sources_big_referrer)
{
	static const char *const la[] = { "kept layer" };
	const char *big_layers[40];
	char names[40][32], junk[300][32], path[512];
	struct layout *l = NULL;
	struct err e = ERR_INIT;
	struct descriptor a, ref, d;
	struct gc_options o = GC_OPTIONS_INIT;
	struct gc_report r;
	struct strvec src = STRVEC_INIT;
	struct stat st;
	size_t i, found;

	mkroot("many");
	CHECK_RC(layout_open(&l, root, LAYOUT_CREATE, &e), 0);
	image(&a, l, cfg1, la, 1, NULL);
	for (i = 0; i < 40; i++) {
		snprintf(names[i], sizeof(names[i]), "referrer layer %zu", i);
		big_layers[i] = names[i];
	}
	image(&ref, l, cfg2, big_layers, 40, &a);
	CHECK(ref.size > 4096);
	CHECK_RC(layout_index_set(l, "example.com/a:1", &a, &e), 0);
	CHECK_RC(blob_source_add(l, &a.digest, "example.com/a", &e), 0);
	for (i = 0; i < 300; i++) {
		snprintf(junk[i], sizeof(junk[i]), i % 7 ? "junk %zu" : "{\"junk\":%zu}", i);
		put(&d, l, MT_OCI_LAYER, junk[i]);
		if (i % 3 == 0)
			CHECK_RC(blob_source_add(l, &d.digest, "example.com/junk", &e), 0);
		if (i < 299)
			make_old(junk[i]);
		descriptor_release(&d);
	}
	o.grace_s = 600;
	CHECK_RC(gc_run(&r, l, &o, &e), 0);
	CHECK_RC(r.n_removed, 299);
	CHECK_RC(r.n_young, 1);
	for (i = 0, found = 0; i < 299; i++)
		found += !present(l, junk[i]);
	CHECK_RC(found, 299);
	CHECK(present(l, junk[299]));
	CHECK(blob_has(l, &ref.digest, -1));	/* big referrer of a kept manifest */
	CHECK(present(l, "referrer layer 0") && present(l, "referrer layer 39"));
	CHECK(present(l, "kept layer"));
	gc_report_release(&r);
	/* sources: the removed blobs' records went, the kept one's stayed */
	CHECK_RC(blob_sources(&src, l, &a.digest, &e), 0);
	CHECK_RC(src.n, 1);
	strvec_clear(&src);
	digest_buffer(&d.digest, DIGEST_SHA256, junk[3], strlen(junk[3]), NULL);
	snprintf(path, sizeof(path), "%s/.hoist/sources/sha256/%s", root, digest_hex(&d.digest));
	CHECK(stat(path, &st) < 0);
	/* a second run finds nothing more */
	CHECK_RC(gc_run(&r, l, &o, &e), 0);
	CHECK_RC(r.n_removed, 0);
	gc_report_release(&r);
	descriptor_release(&a);
	descriptor_release(&ref);
	layout_free(l);
	rmroot();
}

/* Files under blobs/sha256/ whose names are not exactly 64 lowercase hex
 * digits (another tool's temporary files, a digest in upper case, one
 * digit short or long) are never swept, however old; a well-named old
 * unreachable file is. */
TEST(foreign_names_untouched)
{
	static const char *const names[] = {
		"tmp-skopeo-123",
		"0123456789ABCDEF0123456789abcdef0123456789abcdef0123456789abcdef",
		"0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcde",
		"0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef0",
		"0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdeg",
	};
	struct layout *l = NULL;
	struct err e = ERR_INIT;
	struct descriptor junk;
	struct gc_options o = GC_OPTIONS_INIT;
	struct gc_report r;
	struct timespec ts[2] = { { time(NULL) - 7200, 0 }, { time(NULL) - 7200, 0 } };
	struct stat st;
	char path[512];
	size_t i;
	int fd;

	mkroot("fn");
	CHECK_RC(layout_open(&l, root, LAYOUT_CREATE, &e), 0);
	put(&junk, l, MT_OCI_LAYER, "old unreachable");
	make_old("old unreachable");
	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		snprintf(path, sizeof(path), "%s/blobs/sha256/%s", root, names[i]);
		fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
		CHECK(fd >= 0);
		if (fd >= 0)
			close(fd);
		utimensat(AT_FDCWD, path, ts, 0);
	}
	o.grace_s = 60;
	CHECK_RC(gc_run(&r, l, &o, &e), 0);
	CHECK_RC(r.n_blobs, 1);
	CHECK_RC(r.n_removed, 1);
	CHECK(!present(l, "old unreachable"));
	gc_report_release(&r);
	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		snprintf(path, sizeof(path), "%s/blobs/sha256/%s", root, names[i]);
		CHECK(stat(path, &st) == 0);
	}
	descriptor_release(&junk);
	layout_free(l);
	rmroot();
}

/* The path of blob `d` under root. */
static void blob_file(char *out, size_t len, const struct digest *d)
{
	snprintf(out, len, "%s/blobs/sha256/%s", root, digest_hex(d));
}

/* A manifest that cannot be read (here: a directory under its name, or
 * content that does not match its digest) must stop gc and prune before
 * anything is removed: its layers would look unreachable.  verify and ls
 * report a corrupt manifest instead of stopping. */
TEST(unreadable_manifest_stops_gc)
{
	static const char *const la[] = { "la one", "la two" };
	struct layout *l = NULL;
	struct err e = ERR_INIT;
	struct descriptor a;
	struct gc_options o = GC_OPTIONS_INIT;
	struct prune_options po = { -1, -1, -1, NULL, 1, GC_OPTIONS_INIT };
	struct gc_report r;
	struct prune_report pr;
	struct verify_report vr;
	struct ls_entry *ents = NULL;
	struct ls_summary sum;
	struct buf raw = BUF_INIT;
	char path[512], moved[600];
	size_t n = 0;
	FILE *f;

	mkroot("unreadable");
	CHECK_RC(layout_open(&l, root, LAYOUT_CREATE, &e), 0);
	image(&a, l, cfg1, la, 2, NULL);
	CHECK_RC(layout_index_set(l, "example.com/a:1", &a, &e), 0);
	CHECK_RC(blob_read(&raw, l, &a.digest, 0, &e), 0);
	make_old("la one");
	make_old("la two");
	make_old(cfg1);
	o.grace_s = 0;
	po.gc.grace_s = 0;

	/* a directory where the manifest should be */
	blob_file(path, sizeof(path), &a.digest);
	snprintf(moved, sizeof(moved), "%s.saved", path);
	CHECK(rename(path, moved) == 0 && mkdir(path, 0755) == 0);
	CHECK(gc_run(&r, l, &o, &e) < 0);
	CHECK(strstr(e.msg, a.digest.str) != NULL);
	CHECK(strstr(e.msg, "nothing was removed") != NULL);
	CHECK_RC(r.n_removed, 0);
	gc_report_release(&r);
	CHECK(prune_run(&pr, l, &po, &e) < 0);
	CHECK(strstr(e.msg, a.digest.str) != NULL);
	CHECK_RC(pr.n_dropped, 0);
	prune_report_release(&pr);
	CHECK(present(l, "la one") && present(l, "la two") && present(l, cfg1));
	CHECK(rmdir(path) == 0 && rename(moved, path) == 0);

	/* the manifest's bytes changed: gc stops and says to repair first */
	f = fopen(path, "w");
	CHECK(f != NULL);
	if (f) {
		fwrite(raw.data, 1, raw.len - 1, f);
		fputs(" ", f);
		fclose(f);
	}
	CHECK_RC(gc_run(&r, l, &o, &e), ERR_DIGEST);
	CHECK(strstr(e.msg, "verify --repair") != NULL);
	gc_report_release(&r);
	CHECK(present(l, "la one") && present(l, "la two") && present(l, cfg1));
	CHECK_RC(ls_entries(&ents, &n, &sum, l, &e), 0);
	ls_entries_free(ents, n);
	CHECK_RC(verify_run(&vr, l, 0, 0, &e), 0);
	CHECK_RC(vr.n_corrupt, 1);
	verify_report_release(&vr);

	buf_release(&raw);
	descriptor_release(&a);
	layout_free(l);
	rmroot();
}

int main(void)
{
	RUN(mark_and_sweep);
	RUN(metadata_entry_and_records);
	RUN(prune_keep_last_and_verify);
	RUN(sweep_many_sources_big_referrer);
	RUN(foreign_names_untouched);
	RUN(unreadable_manifest_stops_gc);
	return test_done();
}

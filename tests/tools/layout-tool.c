/* layout-tool - a test helper that drives cache/layout.c from the shell.
 *
 *   layout-tool write-image DIR REF [--layers N] [--seed S] [--share-from SEED]
 *       writes a small, valid linux/amd64 OCI image into the layout at DIR
 *       (created when missing) through the store and names it REF in
 *       index.json; prints the manifest digest.  Layer i is generated from
 *       (seed, i) alone - even layers are plain tar, odd ones tar+gzip - so
 *       images with the same seed share their layers; --share-from SEED
 *       makes layer 0 that of an image written with --seed SEED.  With
 *       --meta only the config and manifest are stored, as a metadata entry
 *       (.hoist/meta-index.json).  The whole image is written under one
 *       lease, as a pull does.
 *   layout-tool find DIR REF     prints the digest REF names
 *   layout-tool ls DIR           prints "REF DIGEST" per entry ("-" if unnamed)
 *   layout-tool rm DIR REF       removes REF from index.json
 *
 * Not library code: it prints and exits, and may use libarchive directly.
 * Exit status 0 ok, 1 failed, 2 usage.
 */
#include "cache/blob.h"
#include "cache/layout.h"
#include "core/base/buf.h"
#include "core/base/digest.h"
#include "core/base/err.h"
#include "core/base/json.h"
#include "core/model/manifest.h"

#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <getopt.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MTIME 1700000000
#define CREATED "2024-01-01T00:00:00Z"
#define CHUNK 4096

static int fail(const struct err *e, const char *what)
{
	fprintf(stderr, "error: %s: %s\n", what, e->msg);
	return 1;
}

static int usage(void)
{
	fputs("usage: layout-tool write-image DIR REF [--layers N] [--seed S] [--share-from SEED] "
	      "[--meta]\n"
	      "       layout-tool find DIR REF\n"
	      "       layout-tool ls DIR\n"
	      "       layout-tool rm DIR REF\n", stderr);
	return 2;
}

static int parse_num(const char *s, long min, long max, long *out)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || end == s || *end || v < min || v > max)
		return -1;
	*out = v;
	return 0;
}

/* --- layers ------------------------------------------------------------ */

static la_ssize_t ar_write(struct archive *a, void *arg, const void *p, size_t n)
{
	(void)a;
	return buf_add(arg, p, n) < 0 ? -1 : (la_ssize_t)n;
}

static int ar_add(struct archive *a, const char *path, int dir, const void *data, size_t n)
{
	struct archive_entry *en = archive_entry_new();
	int rc;

	archive_entry_set_pathname(en, path);
	archive_entry_set_filetype(en, dir ? AE_IFDIR : AE_IFREG);
	archive_entry_set_perm(en, dir ? 0755 : 0644);
	archive_entry_set_size(en, dir ? 0 : (la_int64_t)n);
	archive_entry_set_mtime(en, MTIME, 0);
	archive_entry_set_uid(en, 0);
	archive_entry_set_gid(en, 0);
	archive_entry_set_uname(en, "root");
	archive_entry_set_gname(en, "root");
	rc = archive_write_header(a, en);
	if (rc == ARCHIVE_OK && !dir && n && archive_write_data(a, data, n) != (la_ssize_t)n)
		rc = ARCHIVE_FATAL;
	archive_entry_free(en);
	return rc == ARCHIVE_OK ? 0 : -1;
}

/* The layer generated from (seed, idx): a directory with two files. */
static int make_layer(struct buf *out, long seed, long idx, int gzip)
{
	struct archive *a = archive_write_new();
	struct buf name = BUF_INIT, text = BUF_INIT;
	unsigned char data[4096];
	uint32_t x = (uint32_t)(seed * 7919 + idx * 104729 + 1);
	size_t i, n = 1000 + (size_t)((seed * 7 + idx) % 3000);
	int ret = -1;

	for (i = 0; i < n; i++) {
		x = x * 1664525u + 1013904223u;
		data[i] = (unsigned char)(x >> 24);
	}
	if (!a || archive_write_set_format_pax_restricted(a) != ARCHIVE_OK ||
	    archive_write_set_bytes_in_last_block(a, 1) != ARCHIVE_OK)
		goto out;
	if (gzip && (archive_write_add_filter_gzip(a) != ARCHIVE_OK ||
		     archive_write_set_filter_option(a, "gzip", "timestamp", NULL) != ARCHIVE_OK))
		goto out;
	if (archive_write_open2(a, out, NULL, ar_write, NULL, NULL) != ARCHIVE_OK)
		goto out;
	buf_addf(&name, "hoist-layer-%ld-%ld/", seed, idx);
	buf_addf(&text, "hello from seed %ld layer %ld\n", seed, idx);
	if (buf_failed(&name) || buf_failed(&text) || ar_add(a, name.data, 1, NULL, 0) < 0)
		goto out;
	buf_addstr(&name, "hello.txt");
	if (ar_add(a, name.data, 0, text.data, text.len) < 0)
		goto out;
	buf_setlen(&name, name.len - strlen("hello.txt"));
	buf_addstr(&name, "data.bin");
	if (ar_add(a, name.data, 0, data, n) < 0 || archive_write_close(a) != ARCHIVE_OK)
		goto out;
	ret = buf_failed(out) ? -1 : 0;
out:
	if (ret < 0 && a)
		fprintf(stderr, "error: cannot build layer %ld: %s\n", idx,
			archive_error_string(a) ? archive_error_string(a) : "out of memory");
	archive_write_free(a);
	buf_release(&name);
	buf_release(&text);
	return ret;
}

/* Streams `p` into the store in small chunks and fills `d`. */
static int store_blob(struct descriptor *d, struct layout *l, const char *mt, const void *p,
		      size_t n, struct err *e)
{
	struct blob_writer *w = NULL;
	struct digest want;
	size_t off;
	int ret;

	descriptor_init(d);
	if ((ret = digest_buffer(&want, DIGEST_SHA256, p, n, e)) < 0 ||
	    (ret = blob_begin(&w, l, &want, (int64_t)n, e)) < 0)
		return ret;
	for (off = 0; off < n; off += CHUNK) {
		ret = blob_writer_write(w, (const char *)p + off, n - off < CHUNK ? n - off : CHUNK, e);
		if (ret < 0) {
			blob_writer_abort(w);
			return ret;
		}
	}
	if ((ret = blob_writer_commit(&d->digest, &d->size, w, e)) < 0)
		return ret;
	if (!(d->media_type = strdup(mt)))
		return err_set(e, ERR_NOMEM, "out of memory");
	return 0;
}

/* The descriptor of `p` without storing it (metadata-only entries). */
static int describe_blob(struct descriptor *d, const char *mt, const void *p, size_t n,
			 struct err *e)
{
	int ret;

	descriptor_init(d);
	if ((ret = digest_buffer(&d->digest, DIGEST_SHA256, p, n, e)) < 0)
		return ret;
	d->size = (int64_t)n;
	if (!(d->media_type = strdup(mt)))
		return err_set(e, ERR_NOMEM, "out of memory");
	return 0;
}

static int write_image(struct layout *l, const char *ref, long n_layers, long seed, long share,
		       int meta, struct err *e)
{
	struct descriptor *layers = calloc((size_t)n_layers + 1, sizeof(*layers));
	struct descriptor cfg_d, man_d;
	struct json *cfg = json_new_object(), *man = json_new_object(), *o, *arr, *diff, *hist;
	struct buf tar = BUF_INIT, gz = BUF_INIT, cb = BUF_INIT, mb = BUF_INIT, s = BUF_INIT;
	struct digest diff_id;
	long i, lseed;
	int ret = ERR_NOMEM, leased = 0;

	descriptor_init(&cfg_d);
	descriptor_init(&man_d);
	if (!layers || !cfg || !man)
		goto out;
	for (i = 0; i < n_layers; i++)
		descriptor_init(&layers[i]);
	/* the whole image under one lease: gc cannot run between our blob
	 * writes and the index.json entry that references them */
	if ((ret = layout_lease_begin(l, 60000, e)) < 0)
		goto out;
	leased = 1;
	ret = ERR_NOMEM;
	if (json_set_str(cfg, "created", CREATED) < 0 ||
	    json_set_str(cfg, "architecture", "amd64") < 0 || json_set_str(cfg, "os", "linux") < 0 ||
	    json_set(cfg, "config", o = json_new_object()) < 0 ||
	    json_set(o, "Env", arr = json_new_array()) < 0 ||
	    json_append(arr, json_new_string("PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:"
					     "/usr/bin:/sbin:/bin")) < 0 ||
	    json_set(o, "Cmd", arr = json_new_array()) < 0 ||
	    json_append(arr, json_new_string("/bin/sh")) < 0 ||
	    json_set(o, "Labels", arr = json_new_object()) < 0 ||
	    buf_addf(&s, "%ld", seed) < 0 ||
	    json_set_str(arr, "org.hoist.test.seed", s.data) < 0 ||
	    json_set(cfg, "rootfs", o = json_new_object()) < 0 ||
	    json_set_str(o, "type", "layers") < 0 ||
	    json_set(o, "diff_ids", diff = json_new_array()) < 0 ||
	    json_set(cfg, "history", hist = json_new_array()) < 0)
		goto out;
	for (i = 0; i < n_layers; i++) {
		lseed = (i == 0 && share >= 0) ? share : seed;
		buf_reset(&tar);
		buf_reset(&gz);
		if (make_layer(&tar, lseed, i, 0) < 0 || (i % 2 && make_layer(&gz, lseed, i, 1) < 0)) {
			ret = err_set(e, ERR_FAIL, "cannot build layer %ld", i);
			goto out;
		}
		if ((ret = digest_buffer(&diff_id, DIGEST_SHA256, tar.data, tar.len, e)) < 0)
			goto out;
		if (meta)
			ret = i % 2 ? describe_blob(&layers[i], MT_OCI_LAYER_GZIP, gz.data, gz.len, e)
				    : describe_blob(&layers[i], MT_OCI_LAYER, tar.data, tar.len, e);
		else
			ret = i % 2 ? store_blob(&layers[i], l, MT_OCI_LAYER_GZIP, gz.data, gz.len, e)
				    : store_blob(&layers[i], l, MT_OCI_LAYER, tar.data, tar.len, e);
		if (ret < 0)
			goto out;
		ret = ERR_NOMEM;
		buf_reset(&s);
		if (json_append(diff, json_new_string(diff_id.str)) < 0 ||
		    json_append(hist, o = json_new_object()) < 0 ||
		    json_set_str(o, "created", CREATED) < 0 ||
		    buf_addf(&s, "layout-tool layer %ld seed %ld", i, lseed) < 0 ||
		    json_set_str(o, "created_by", s.data) < 0)
			goto out;
	}
	if ((ret = json_serialize(&cb, cfg, 0, e)) < 0 ||
	    (ret = store_blob(&cfg_d, l, MT_OCI_CONFIG, cb.data, cb.len, e)) < 0)
		goto out;
	ret = ERR_NOMEM;
	if (json_set_int64(man, "schemaVersion", 2) < 0 ||
	    json_set_str(man, "mediaType", MT_OCI_MANIFEST) < 0 ||
	    json_set(man, "config", descriptor_to_json(&cfg_d)) < 0 ||
	    json_set(man, "layers", arr = json_new_array()) < 0)
		goto out;
	for (i = 0; i < n_layers; i++)
		if (json_append(arr, descriptor_to_json(&layers[i])) < 0)
			goto out;
	if ((ret = json_serialize(&mb, man, 0, e)) < 0 ||
	    (ret = store_blob(&man_d, l, MT_OCI_MANIFEST, mb.data, mb.len, e)) < 0 ||
	    (ret = layout_index_set_in(l, meta ? LAYOUT_INDEX_META : LAYOUT_INDEX_MAIN, ref,
					&man_d, e)) < 0)
		goto out;
	printf("%s\n", man_d.digest.str);
	ret = 0;
out:
	if (ret == ERR_NOMEM && !e->msg[0])
		err_set(e, ERR_NOMEM, "out of memory");
	if (leased)
		layout_lease_end(l);
	for (i = 0; layers && i < n_layers; i++)
		descriptor_release(&layers[i]);
	free(layers);
	descriptor_release(&cfg_d);
	descriptor_release(&man_d);
	json_free(cfg);
	json_free(man);
	buf_release(&tar);
	buf_release(&gz);
	buf_release(&cb);
	buf_release(&mb);
	buf_release(&s);
	return ret;
}

static int cmd_write_image(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "layers", required_argument, NULL, 'l' },
		{ "seed", required_argument, NULL, 's' },
		{ "share-from", required_argument, NULL, 'f' },
		{ "meta", no_argument, NULL, 'm' },
		{ NULL, 0, NULL, 0 },
	};
	struct layout *l = NULL;
	struct err e = ERR_INIT;
	long layers = 2, seed = 1, share = -1, *target;
	int c, ret, meta = 0;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (c == 'm') {
			meta = 1;
			continue;
		}
		target = c == 'l' ? &layers : c == 's' ? &seed : c == 'f' ? &share : NULL;
		if (!target || parse_num(optarg, c == 'l' ? 1 : 0, c == 'l' ? 64 : 1000000,
					 target) < 0)
			return usage();
	}
	if (argc - optind != 2)
		return usage();
	if (layout_open(&l, argv[optind], LAYOUT_CREATE, &e) < 0)
		return fail(&e, argv[optind]);
	ret = write_image(l, argv[optind + 1], layers, seed, share, meta, &e);
	layout_free(l);
	return ret < 0 ? fail(&e, "write-image") : 0;
}

static int cmd_find(int argc, char **argv)
{
	struct layout *l = NULL;
	struct err e = ERR_INIT;
	struct descriptor d;
	int ret;

	if (argc != 3)
		return usage();
	descriptor_init(&d);
	if (layout_open(&l, argv[1], 0, &e) < 0)
		return fail(&e, argv[1]);
	ret = layout_index_find(&d, l, argv[2], &e);
	if (!ret)
		printf("%s\n", d.digest.str);
	descriptor_release(&d);
	layout_free(l);
	return ret < 0 ? fail(&e, "find") : 0;
}

static int cmd_ls(int argc, char **argv)
{
	struct layout *l = NULL;
	struct err e = ERR_INIT;
	struct layout_ref *refs = NULL;
	size_t n = 0, i;
	int ret;

	if (argc != 2)
		return usage();
	if (layout_open(&l, argv[1], 0, &e) < 0)
		return fail(&e, argv[1]);
	ret = layout_index_list(&refs, &n, l, &e);
	for (i = 0; i < n; i++)
		printf("%s %s\n", refs[i].name ? refs[i].name : "-", refs[i].desc.digest.str);
	layout_refs_free(refs, n);
	layout_free(l);
	return ret < 0 ? fail(&e, "ls") : 0;
}

static int cmd_rm(int argc, char **argv)
{
	struct layout *l = NULL;
	struct err e = ERR_INIT;
	int ret;

	if (argc != 3)
		return usage();
	if (layout_open(&l, argv[1], 0, &e) < 0)
		return fail(&e, argv[1]);
	ret = layout_index_remove(l, argv[2], &e);
	layout_free(l);
	return ret < 0 ? fail(&e, "rm") : 0;
}

int main(int argc, char **argv)
{
	static const struct {
		const char *name;
		int (*fn)(int, char **);
	} cmds[] = {
		{ "write-image", cmd_write_image },
		{ "find", cmd_find },
		{ "ls", cmd_ls },
		{ "rm", cmd_rm },
	};
	size_t i;
	int ret;

	if (argc < 2)
		return usage();
	for (i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
		if (!strcmp(argv[1], cmds[i].name))
			break;
	if (i == sizeof(cmds) / sizeof(cmds[0]))
		return usage();
	ret = cmds[i].fn(argc - 1, argv + 1);
	if (fflush(stdout) || ferror(stdout)) {
		fprintf(stderr, "error: cannot write to stdout\n");
		return 1;
	}
	return ret;
}

#define TEST_MODULE "creds"
#include "tests/unit/test.h"

#include "core/base/buf.h"
#include "core/base/err.h"
#include "registry/creds.h"

#include <dirent.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* ---- fixtures ---- */

static char tmpdir[64];
static char path_a[128], path_b[128], path_c[128], helper_dir[128];

static void write_file(const char *path, const char *content, mode_t mode)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, mode);
	size_t len = strlen(content);

	if (fd < 0 || write(fd, content, len) != (ssize_t)len) {
		fprintf(stderr, "cannot write %s\n", path);
		test_cur_failed = 1;
	}
	if (fd >= 0)
		close(fd);
	chmod(path, mode);
}

/* The file's content (malloc'd), or NULL when missing. */
static char *slurp(const char *path)
{
	char *s = NULL;
	long n;
	FILE *f = fopen(path, "rb");

	if (!f)
		return NULL;
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	fseek(f, 0, SEEK_SET);
	s = calloc(1, (size_t)n + 1);
	if (s && fread(s, 1, (size_t)n, f) != (size_t)n) {
		free(s);
		s = NULL;
	}
	fclose(f);
	return s;
}

static int count_entries(const char *dir)
{
	struct dirent *d;
	DIR *dh = opendir(dir);
	int n = 0;

	if (!dh)
		return -1;
	while ((d = readdir(dh)))
		n += strcmp(d->d_name, ".") && strcmp(d->d_name, "..");
	closedir(dh);
	return n;
}

static void rm_rf(const char *dir)
{
	char cmd[256];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		fprintf(stderr, "cannot remove %s\n", dir);
}

/* A fake docker-credential-fake: answers by server URL, records store and
 * erase in the helper directory. */
static void write_helper(void)
{
	struct buf b = BUF_INIT;
	char path[256];

	buf_addf(&b,
		 "#!/bin/sh\n"
		 "D='%s'\n"
		 "case \"$1\" in\n"
		 "get)\n"
		 "  read -r url\n"
		 "  case \"$url\" in\n"
		 "  found.example) printf '{\"ServerURL\":\"%%s\",\"Username\":\"hu\",\"Secret\":\"hs\"}' \"$url\";;\n"
		 "  token.example) printf '{\"ServerURL\":\"x\",\"Username\":\"<token>\",\"Secret\":\"idtok\"}';;\n"
		 "  https://index.docker.io/v1/) printf '{\"Username\":\"hubu\",\"Secret\":\"hubs\"}';;\n"
		 "  garbage.example) echo 'this is not json';;\n"
		 "  fail.example) echo 'boom happened' >&2; exit 3;;\n"
		 "  leak.example) printf '{\"Username\":\"u\",\"Secret\":\"leaked\"}'; exit 5;;\n"
		 "  ctl.example) printf 'bad\\033[31mthing\\n' >&2; exit 4;;\n"
		 "  hang.example) sleep 30;;\n"
		 "  big.example) head -c 300000 /dev/zero | tr '\\0' a;;\n"
		 "  *) echo 'credentials not found in native keychain'; exit 1;;\n"
		 "  esac;;\n"
		 "store) cat > \"$D/stored\";;\n"
		 "erase)\n"
		 "  read -r url\n"
		 "  if [ \"$url\" = nothere.example ]; then echo 'credentials not found in native keychain'; exit 1; fi\n"
		 "  printf '%%s' \"$url\" > \"$D/erased\";;\n"
		 "*) exit 2;;\n"
		 "esac\n", helper_dir);
	snprintf(path, sizeof(path), "%s/docker-credential-fake", helper_dir);
	write_file(path, b.data, 0755);
	buf_release(&b);
}

static void setup(void)
{
	char tmpl[] = "/tmp/creds-test-XXXXXX";
	char cdir[128];

	if (!mkdtemp(tmpl)) {
		perror("mkdtemp");
		exit(1);
	}
	snprintf(tmpdir, sizeof(tmpdir), "%s", tmpl);
	snprintf(path_a, sizeof(path_a), "%s/docker/config.json", tmpdir);
	snprintf(path_b, sizeof(path_b), "%s/auth.json", tmpdir);
	snprintf(path_c, sizeof(path_c), "%s/containers/auth.json", tmpdir);
	snprintf(helper_dir, sizeof(helper_dir), "%s/bin", tmpdir);
	mkdir(helper_dir, 0700);
	snprintf(cdir, sizeof(cdir), "%s/containers", tmpdir);
	mkdir(cdir, 0700);
	write_helper();
}

/* Files a, b, c in order; a and its directory are absent at first. */
static void store_init(struct creds_store *s)
{
	char hp[300];

	creds_store_init(s);
	CHECK_RC(creds_store_add_file(s, path_a), 0);
	CHECK_RC(creds_store_add_file(s, path_b), 0);
	CHECK_RC(creds_store_add_file(s, path_c), 0);
	snprintf(hp, sizeof(hp), "%s/nonexistent::%s", tmpdir, helper_dir);
	CHECK_RC(creds_store_set_helper_path(s, hp), 0);
	s->helper_timeout_ms = 2000;
}

static void reset_files(void)
{
	char p[200];

	unlink(path_a);
	unlink(path_b);
	unlink(path_c);
	snprintf(p, sizeof(p), "%s/stored", helper_dir);
	unlink(p);
	snprintf(p, sizeof(p), "%s/erased", helper_dir);
	unlink(p);
}

/* Writes `json` to file b alone and looks `registry` up. */
static int lookup_in(struct creds *out, const char *json, const char *registry,
		     struct err *e)
{
	struct creds_store s;
	int rc;

	reset_files();
	write_file(path_b, json, 0600);
	store_init(&s);
	rc = creds_store_get(out, &s, registry, e);
	creds_store_release(&s);
	return rc;
}

/* ---- auths keys ---- */

TEST(key_forms)
{
	static const char *keys[] = {
		"localhost:5000", "https://localhost:5000", "http://localhost:5000",
		"https://localhost:5000/v1/", "https://localhost:5000/v2/",
		"https://LOCALHOST:5000/other/path",
	};
	static const char *hub_keys[] = {
		"https://index.docker.io/v1/", "docker.io", "index.docker.io",
		"registry-1.docker.io", "https://registry-1.docker.io/v2/",
		"https://index.docker.io/v1/something",
	};
	static const char *hub_names[] = {
		"docker.io", "index.docker.io", "registry-1.docker.io",
		"https://index.docker.io/v1/",
	};
	struct creds c = CREDS_INIT;
	struct err e = ERR_INIT;
	char json[256];
	size_t i, k;

	for (i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		snprintf(json, sizeof(json), "{\"auths\":{\"%s\":{\"auth\":\"Ym9iOnNlY3JldA==\"}}}",
			 keys[i]);
		if (lookup_in(&c, json, "localhost:5000", &e)) {
			fprintf(stderr, "key '%s' not matched: %s\n", keys[i], e.msg);
			test_cur_failed = 1;
		}
		CHECK_STR(c.username, "bob");
		CHECK_STR(c.password, "secret");
		creds_release(&c);
		CHECK_RC(lookup_in(&c, json, "localhost:5001", &e), ERR_NOT_FOUND);
		CHECK_RC(lookup_in(&c, json, "localhost", &e), ERR_NOT_FOUND);
	}
	for (i = 0; i < sizeof(hub_keys) / sizeof(hub_keys[0]); i++) {
		snprintf(json, sizeof(json), "{\"auths\":{\"%s\":{\"auth\":\"Ym9iOnNlY3JldA==\"}}}",
			 hub_keys[i]);
		for (k = 0; k < sizeof(hub_names) / sizeof(hub_names[0]); k++) {
			if (lookup_in(&c, json, hub_names[k], &e)) {
				fprintf(stderr, "hub key '%s' not matched for '%s'\n", hub_keys[i],
					hub_names[k]);
				test_cur_failed = 1;
			}
			CHECK_STR(c.password, "secret");
			creds_release(&c);
		}
		CHECK_RC(lookup_in(&c, json, "ghcr.io", &e), ERR_NOT_FOUND);
	}
	/* "docker.io" inside another host name is not Docker Hub */
	CHECK_RC(lookup_in(&c, "{\"auths\":{\"https://mirror.docker.io.example\":"
			   "{\"auth\":\"Ym9iOnNlY3JldA==\"}}}", "docker.io", &e), ERR_NOT_FOUND);
}

TEST(key_preference_and_repo_keys)
{
	struct creds c = CREDS_INIT;
	struct err e = ERR_INIT;
	struct creds_store s;
	/* bob:secret, u:p:w, carol: (no password), alice:pa:ss: */
	const char *json = "{\"auths\":{"
		"\"https://quay.io/x\":{\"auth\":\"dTpwOnc=\"},"
		"\"quay.io/org/repo\":{\"auth\":\"YWxpY2U6cGE6c3M6\"},"
		"\"quay.io/org\":{\"auth\":\"dTpwOnc=\"},"
		"\"quay.io\":{\"auth\":\"Ym9iOnNlY3JldA==\"}}}";

	/* the exact key wins over the host rule; repository keys are skipped */
	CHECK_RC(lookup_in(&c, json, "quay.io", &e), 0);
	CHECK_STR(c.username, "bob");
	creds_release(&c);
	store_init(&s);
	CHECK_RC(creds_store_get_repo(&c, &s, "quay.io", "org/repo", &e), 0);
	CHECK_STR(c.username, "alice");
	CHECK_STR(c.password, "pa:ss:");
	creds_release(&c);
	CHECK_RC(creds_store_get_repo(&c, &s, "quay.io", "org/other", &e), 0);
	CHECK_STR(c.username, "u");
	creds_release(&c);
	CHECK_RC(creds_store_get_repo(&c, &s, "quay.io", "another/x", &e), 0);
	CHECK_STR(c.username, "bob");
	creds_release(&c);
	creds_store_release(&s);

	/* only a repository key: not credentials for the whole registry */
	CHECK_RC(lookup_in(&c, "{\"auths\":{\"quay.io/org/repo\":{\"auth\":\"dTpwOnc=\"}}}",
			   "quay.io", &e), ERR_NOT_FOUND);
}

/* ---- entry forms ---- */

TEST(entry_forms)
{
	struct creds c = CREDS_INIT;
	struct err e = ERR_INIT;

	CHECK_RC(lookup_in(&c, "{\"auths\":{\"r.io\":{\"auth\":\"YWxpY2U6cGE6c3M6\"}}}", "r.io",
			   &e), 0);
	CHECK_STR(c.username, "alice");
	CHECK_STR(c.password, "pa:ss:");
	CHECK(!c.identity_token && !c.registry_token);
	creds_release(&c);
	CHECK(!c.username && !c.password);

	CHECK_RC(lookup_in(&c, "{\"auths\":{\"r.io\":{\"username\":\"u\",\"password\":\"p:q\"}}}",
			   "r.io", &e), 0);
	CHECK_STR(c.username, "u");
	CHECK_STR(c.password, "p:q");
	creds_release(&c);

	CHECK_RC(lookup_in(&c, "{\"auths\":{\"r.io\":{\"auth\":\"\",\"identitytoken\":\"rt\"}}}",
			   "r.io", &e), 0);
	CHECK(c.username == NULL && c.password == NULL);
	CHECK_STR(c.identity_token, "rt");
	creds_release(&c);

	CHECK_RC(lookup_in(&c, "{\"auths\":{\"r.io\":{\"username\":\"u\",\"identitytoken\":\"rt\"}}}",
			   "r.io", &e), 0);
	CHECK_STR(c.username, "u");
	CHECK_STR(c.identity_token, "rt");
	creds_release(&c);

	CHECK_RC(lookup_in(&c, "{\"auths\":{\"r.io\":{\"registrytoken\":\"bt\"}}}", "r.io", &e), 0);
	CHECK_STR(c.registry_token, "bt");
	creds_release(&c);

	/* no password, nothing else: not credentials */
	CHECK_RC(lookup_in(&c, "{\"auths\":{\"r.io\":{\"auth\":\"Y2Fyb2w6\"}}}", "r.io", &e),
		 ERR_NOT_FOUND);
	CHECK_RC(lookup_in(&c, "{\"auths\":{\"r.io\":{}}}", "r.io", &e), ERR_NOT_FOUND);
	CHECK_RC(lookup_in(&c, "{}", "r.io", &e), ERR_NOT_FOUND);
	CHECK_RC(lookup_in(&c, "", "r.io", &e), ERR_NOT_FOUND);
	CHECK(c.username == NULL);
}

TEST(malformed_files)
{
	static const char *bad[] = {
		"{\"auths\":{\"r.io\":{\"auth\":\"Ym9iOnNlY3JldA==\"",	/* truncated */
		"{\"auths\":{\"r.io\":{\"auth\":\"anVzdHNlY3JldA==\"}}}",	/* no ':' */
		"{\"auths\":{\"r.io\":{\"auth\":\"Ym9iOnNlY3JldA\"}}}",	/* no padding */
		"{\"auths\":{\"r.io\":{\"auth\":\"Ym9iOnNlY3Jl dA==\"}}}",	/* space */
		"{\"auths\":{\"r.io\":{\"auth\":\"Ym9iOnNlY3JldA=A\"}}}",	/* '=' inside */
		"{\"auths\":{\"r.io\":{\"auth\":\"Ym9i*nNlY3JldA==\"}}}",	/* alphabet */
		"{\"auths\":{\"r.io\":{\"auth\":12}}}",
		"{\"auths\":{\"r.io\":{\"password\":[\"secret\"]}}}",
		"{\"auths\":{\"r.io\":\"Ym9iOnNlY3JldA==\"}}",
		"{\"auths\":[\"secret\"]}",
		"[\"secret\"]",
		"{\"credHelpers\":\"secret\"}",
		"{\"credsStore\":{\"secret\":1}}",
		"{'auths':{}} secret",
	};
	struct creds c = CREDS_INIT;
	struct err e = ERR_INIT;
	size_t i;
	int rc;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err_clear(&e);
		rc = lookup_in(&c, bad[i], "r.io", &e);
		if (rc != ERR_INVALID || !strstr(e.msg, path_b)) {
			fprintf(stderr, "case %zu: rc %d, '%s'\n", i, rc, e.msg);
			test_cur_failed = 1;
		}
		CHECK(strstr(e.msg, "secret") == NULL);
		CHECK(strstr(e.msg, "Ym9i") == NULL);
		CHECK(c.username == NULL && c.password == NULL);
	}
	/* a malformed file stops the lookup even when an earlier one lacks the
	 * registry and a later one has it */
	reset_files();
}

TEST(file_order_and_missing)
{
	struct creds c = CREDS_INIT;
	struct err e = ERR_INIT;
	struct creds_store s;

	reset_files();
	store_init(&s);
	/* all files missing */
	CHECK_RC(creds_store_get(&c, &s, "r.io", &e), ERR_NOT_FOUND);
	CHECK(strstr(e.msg, "r.io") != NULL);
	/* b missing, c has it */
	write_file(path_c, "{\"auths\":{\"r.io\":{\"auth\":\"dTpwOnc=\"}}}", 0600);
	CHECK_RC(creds_store_get(&c, &s, "r.io", &e), 0);
	CHECK_STR(c.username, "u");
	creds_release(&c);
	/* b before c */
	write_file(path_b, "{\"auths\":{\"r.io\":{\"auth\":\"Ym9iOnNlY3JldA==\"}}}", 0600);
	CHECK_RC(creds_store_get(&c, &s, "r.io", &e), 0);
	CHECK_STR(c.username, "bob");
	creds_release(&c);
	/* an empty entry in b falls through to c */
	write_file(path_b, "{\"auths\":{\"r.io\":{}}}", 0600);
	CHECK_RC(creds_store_get(&c, &s, "r.io", &e), 0);
	CHECK_STR(c.username, "u");
	creds_release(&c);
	/* a malformed b is an error even though c has the entry */
	write_file(path_b, "{", 0600);
	CHECK_RC(creds_store_get(&c, &s, "r.io", &e), ERR_INVALID);
	CHECK(strstr(e.msg, path_b) != NULL);
	/* the creds_fn form */
	write_file(path_b, "{}", 0600);
	CHECK_RC(creds_store_lookup(&c, &s, "r.io", &e), 0);
	CHECK_STR(c.password, "p:w");
	creds_release(&c);
	CHECK_RC(creds_store_get(&c, &s, "", &e), ERR_INVALID);
	creds_store_release(&s);
}

/* ---- helpers ---- */

static int helper_lookup(struct creds *out, const char *json, const char *registry,
			 struct err *e, int timeout_ms)
{
	struct creds_store s;
	int rc;

	reset_files();
	write_file(path_b, json, 0600);
	store_init(&s);
	if (timeout_ms)
		s.helper_timeout_ms = timeout_ms;
	err_clear(e);
	rc = creds_store_get(out, &s, registry, e);
	creds_store_release(&s);
	return rc;
}

#define HELPERS "{\"credHelpers\":{\"found.example\":\"fake\",\"token.example\":\"fake\"," \
	"\"garbage.example\":\"fake\",\"fail.example\":\"fake\",\"hang.example\":\"fake\"," \
	"\"big.example\":\"fake\",\"none.example\":\"fake\",\"missing.example\":\"absent\"," \
	"\"ctl.example\":\"fake\",\"leak.example\":\"fake\",\"bad.example\":\"../fake\"}," \
	"\"auths\":{\"none.example\":{\"auth\":\"Ym9iOnNlY3JldA==\"}}}"

TEST(helper_get)
{
	struct creds c = CREDS_INIT;
	struct err e = ERR_INIT;
	struct timespec t0, t1;
	double secs;

	CHECK_RC(helper_lookup(&c, HELPERS, "found.example", &e, 0), 0);
	CHECK_STR(c.username, "hu");
	CHECK_STR(c.password, "hs");
	creds_release(&c);

	CHECK_RC(helper_lookup(&c, HELPERS, "token.example", &e, 0), 0);
	CHECK(c.username == NULL && c.password == NULL);
	CHECK_STR(c.identity_token, "idtok");
	creds_release(&c);

	/* helper says not found: the auths entry of the same file is used */
	CHECK_RC(helper_lookup(&c, HELPERS, "none.example", &e, 0), 0);
	CHECK_STR(c.username, "bob");
	creds_release(&c);
	CHECK_RC(helper_lookup(&c, "{\"credHelpers\":{\"x.example\":\"fake\"}}", "x.example",
			       &e, 0), ERR_NOT_FOUND);

	CHECK_RC(helper_lookup(&c, HELPERS, "garbage.example", &e, 0), ERR_INVALID);
	CHECK(strstr(e.msg, "docker-credential-fake") && strstr(e.msg, "malformed"));
	CHECK(strstr(e.msg, "this is not") == NULL);

	CHECK_RC(helper_lookup(&c, HELPERS, "fail.example", &e, 0), ERR_FAIL);
	CHECK(strstr(e.msg, "exit status 3") && strstr(e.msg, "boom happened"));
	CHECK(strstr(e.msg, path_b) != NULL);

	CHECK_RC(helper_lookup(&c, HELPERS, "leak.example", &e, 0), ERR_FAIL);
	CHECK(strstr(e.msg, "exit status 5") && !strstr(e.msg, "leaked"));

	CHECK_RC(helper_lookup(&c, HELPERS, "ctl.example", &e, 0), ERR_FAIL);
	CHECK(strstr(e.msg, "bad?[31mthing") != NULL);
	CHECK(strchr(e.msg, '\033') == NULL);

	CHECK_RC(helper_lookup(&c, HELPERS, "big.example", &e, 0), ERR_TOO_BIG);

	CHECK_RC(helper_lookup(&c, HELPERS, "missing.example", &e, 0), ERR_FAIL);
	CHECK(strstr(e.msg, "docker-credential-absent") && strstr(e.msg, "not found"));
	CHECK_RC(helper_lookup(&c, HELPERS, "bad.example", &e, 0), ERR_INVALID);

	clock_gettime(CLOCK_MONOTONIC, &t0);
	CHECK_RC(helper_lookup(&c, HELPERS, "hang.example", &e, 300), ERR_FAIL);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
	CHECK(secs < 5);
	CHECK(strstr(e.msg, "timed out") != NULL);
	CHECK(c.username == NULL && c.password == NULL && c.identity_token == NULL);
}

TEST(helper_default_store)
{
	struct creds c = CREDS_INIT;
	struct err e = ERR_INIT;
	struct creds_store s;

	/* credsStore applies to every registry, after auths */
	CHECK_RC(helper_lookup(&c, "{\"credsStore\":\"fake\"}", "found.example", &e, 0), 0);
	CHECK_STR(c.password, "hs");
	creds_release(&c);
	CHECK_RC(helper_lookup(&c, "{\"credsStore\":\"fake\",\"auths\":{\"found.example\":"
			       "{\"auth\":\"Ym9iOnNlY3JldA==\"}}}", "found.example", &e, 0), 0);
	CHECK_STR(c.username, "bob");
	creds_release(&c);
	/* Docker Hub is asked for as https://index.docker.io/v1/ */
	CHECK_RC(helper_lookup(&c, "{\"credsStore\":\"fake\"}", "docker.io", &e, 0), 0);
	CHECK_STR(c.username, "hubu");
	creds_release(&c);
	CHECK_RC(helper_lookup(&c, "{\"credHelpers\":{\"https://index.docker.io/v1/\":\"fake\"}}",
			       "index.docker.io", &e, 0), 0);
	CHECK_STR(c.password, "hubs");
	creds_release(&c);
	/* not found in b's helper: c is read next */
	write_file(path_b, "{\"credsStore\":\"fake\"}", 0600);
	write_file(path_c, "{\"auths\":{\"r.io\":{\"auth\":\"dTpwOnc=\"}}}", 0600);
	store_init(&s);
	CHECK_RC(creds_store_get(&c, &s, "r.io", &e), 0);
	CHECK_STR(c.username, "u");
	creds_release(&c);
	/* no helper path: a named helper is an error */
	CHECK_RC(creds_store_set_helper_path(&s, NULL), 0);
	CHECK_RC(creds_store_get(&c, &s, "r.io", &e), ERR_FAIL);
	creds_store_release(&s);
}

/* ---- save and erase ---- */

TEST(save_and_lookup)
{
	struct creds c = CREDS_INIT;
	struct err e = ERR_INIT;
	struct creds_store s;
	struct stat st;
	char dir[160], *text;

	reset_files();
	snprintf(dir, sizeof(dir), "%s/docker", tmpdir);
	rmdir(dir);
	store_init(&s);
	/* the directory and the file are created */
	CHECK_RC(creds_store_save(&s, "localhost:5000", "u", "p:w", &e), 0);
	CHECK(stat(dir, &st) == 0 && (st.st_mode & 0777) == 0700);
	CHECK(stat(path_a, &st) == 0 && (st.st_mode & 0777) == 0600);
	CHECK_RC(creds_store_get(&c, &s, "localhost:5000", &e), 0);
	CHECK_STR(c.username, "u");
	CHECK_STR(c.password, "p:w");
	creds_release(&c);
	text = slurp(path_a);
	CHECK(text && strstr(text, "\"localhost:5000\"") && strstr(text, "dTpwOnc="));
	free(text);

	/* other keys are kept; the mode is set to 0600 */
	write_file(path_a, "{\"psFormat\":\"table\",\"auths\":{\"other.io\":{\"auth\":\"Ym9iOnNlY3JldA==\","
		   "\"email\":\"x@y\"},\"https://index.docker.io/v1/\":{\"auth\":\"dTpwOnc=\"}},"
		   "\"HttpHeaders\":{\"X-A\":\"b\"},\"credHelpers\":{\"gcr.io\":\"gcloud\"}}", 0644);
	CHECK_RC(creds_store_save(&s, "docker.io", "hubuser", "hub:pass", &e), 0);
	CHECK_RC(creds_store_save(&s, "ghcr.io", "g", "h", &e), 0);
	CHECK(stat(path_a, &st) == 0 && (st.st_mode & 0777) == 0600);
	text = slurp(path_a);
	CHECK(text && strstr(text, "\"psFormat\"") && strstr(text, "\"X-A\"") &&
	      strstr(text, "\"gcloud\"") && strstr(text, "\"email\"") &&
	      strstr(text, "\"ghcr.io\""));
	CHECK(text && strstr(text, "\"https://index.docker.io/v1/\"") &&
	      !strstr(text, "\"docker.io\""));
	free(text);
	CHECK_RC(creds_store_get(&c, &s, "docker.io", &e), 0);
	CHECK_STR(c.username, "hubuser");
	CHECK_STR(c.password, "hub:pass");
	creds_release(&c);
	CHECK_RC(creds_store_get(&c, &s, "other.io", &e), 0);
	CHECK_STR(c.username, "bob");
	creds_release(&c);
	/* no temporary files left behind */
	CHECK(count_entries(dir) == 1);

	/* a user name with ':' cannot be stored */
	CHECK_RC(creds_store_save(&s, "r.io", "a:b", "pw", &e), ERR_INVALID);
	/* a malformed first file is not overwritten */
	write_file(path_a, "{\"auths\":", 0600);
	CHECK_RC(creds_store_save(&s, "r.io", "a", "topsecret", &e), ERR_INVALID);
	CHECK(strstr(e.msg, path_a) && !strstr(e.msg, "topsecret"));
	text = slurp(path_a);
	CHECK_STR(text, "{\"auths\":");
	free(text);

	/* a symbolic link is followed: its target is replaced */
	{
		char real[200];
		struct stat lst;

		snprintf(real, sizeof(real), "%s/real.json", tmpdir);
		write_file(real, "{\"x\":1}", 0600);
		unlink(path_a);
		CHECK(symlink(real, path_a) == 0);
		CHECK_RC(creds_store_save(&s, "r.io", "a", "b", &e), 0);
		CHECK(lstat(path_a, &lst) == 0 && S_ISLNK(lst.st_mode));
		text = slurp(real);
		CHECK(text && strstr(text, "\"r.io\"") && strstr(text, "\"x\""));
		free(text);
		unlink(path_a);
		unlink(real);
	}
	creds_store_release(&s);

	creds_store_init(&s);
	CHECK_RC(creds_store_save(&s, "r.io", "a", "b", &e), ERR_USAGE);
	creds_store_release(&s);
}

TEST(erase)
{
	struct creds c = CREDS_INIT;
	struct err e = ERR_INIT;
	struct creds_store s;
	char *text;

	reset_files();
	store_init(&s);
	CHECK_RC(creds_store_erase(&s, "r.io", &e), ERR_NOT_FOUND);
	write_file(path_a, "{\"auths\":{\"r.io\":{\"auth\":\"dTpwOnc=\"},"
		   "\"https://r.io/v1/\":{\"auth\":\"dTpwOnc=\"},"
		   "\"r.io/org/repo\":{\"auth\":\"dTpwOnc=\"},"
		   "\"other.io\":{\"auth\":\"Ym9iOnNlY3JldA==\"}},\"psFormat\":\"t\"}", 0600);
	CHECK_RC(creds_store_erase(&s, "r.io", &e), 0);
	CHECK_RC(creds_store_get(&c, &s, "r.io", &e), ERR_NOT_FOUND);
	text = slurp(path_a);
	CHECK(text && strstr(text, "other.io") && strstr(text, "psFormat") &&
	      strstr(text, "\"r.io/org/repo\"") && !strstr(text, "\"r.io\"") &&
	      !strstr(text, "v1"));
	free(text);
	CHECK_RC(creds_store_erase(&s, "r.io", &e), ERR_NOT_FOUND);
	CHECK_RC(creds_store_get(&c, &s, "other.io", &e), 0);
	creds_release(&c);
	creds_store_release(&s);
}

TEST(helper_store_and_erase)
{
	struct creds c = CREDS_INIT;
	struct err e = ERR_INIT;
	struct creds_store s;
	char p[200], *text;

	reset_files();
	mkdir(tmpdir, 0700);
	write_file(path_a, "{\"credsStore\":\"fake\",\"credHelpers\":{\"h.io\":\"nosuch\"}}", 0600);
	store_init(&s);
	CHECK_RC(creds_store_save(&s, "docker.io", "u", "s3:cr\"et", &e), 0);
	snprintf(p, sizeof(p), "%s/stored", helper_dir);
	text = slurp(p);
	CHECK_STR(text, "{\"ServerURL\":\"https://index.docker.io/v1/\",\"Username\":\"u\","
		  "\"Secret\":\"s3:cr\\\"et\"}");
	free(text);
	text = slurp(path_a);
	CHECK(text && !strstr(text, "s3") && !strstr(text, "auths"));
	free(text);
	/* credHelpers wins over credsStore, and a missing helper is an error */
	CHECK_RC(creds_store_save(&s, "h.io", "u", "pw", &e), ERR_FAIL);
	CHECK(strstr(e.msg, "docker-credential-nosuch") && !strstr(e.msg, "pw"));

	CHECK_RC(creds_store_erase(&s, "localhost:5000", &e), 0);
	snprintf(p, sizeof(p), "%s/erased", helper_dir);
	text = slurp(p);
	CHECK_STR(text, "localhost:5000");
	free(text);
	CHECK_RC(creds_store_erase(&s, "nothere.example", &e), ERR_NOT_FOUND);
	CHECK_RC(creds_store_get(&c, &s, "nothere.example", &e), ERR_NOT_FOUND);
	creds_store_release(&s);
}

int main(void)
{
	setup();
	RUN(key_forms);
	RUN(key_preference_and_repo_keys);
	RUN(entry_forms);
	RUN(malformed_files);
	RUN(file_order_and_missing);
	RUN(helper_get);
	RUN(helper_default_store);
	RUN(save_and_lookup);
	RUN(erase);
	RUN(helper_store_and_erase);
	rm_rf(tmpdir);
	return test_done();
}

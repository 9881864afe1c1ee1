/* creds.c - registry credentials: docker's config.json, podman's auth.json
 * and the docker-credential-* helpers.  See creds.h. */
#include "registry/creds.h"

#include "core/base/base64.h"
#include "core/base/buf.h"
#include "core/base/err.h"
#include "core/base/fs.h"
#include "core/base/strvec.h"
#include "core/base/text.h"
#include "core/base/json.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define HELPER_PREFIX "docker-credential-"
#define HELPER_NAME_MAX 64
#define EXCERPT_MAX 100

static const char *const hub_hosts[] = { "docker.io", "index.docker.io", "registry-1.docker.io" };
#define N_HUB_HOSTS (sizeof(hub_hosts) / sizeof(hub_hosts[0]))

/* ---- secrets ---- */

static void secret_free(char *s)
{
	if (!s)
		return;
	explicit_bzero(s, strlen(s));
	free(s);
}

static void buf_release_secret(struct buf *b)
{
	if (b->cap)
		explicit_bzero(b->data, b->cap);
	buf_release(b);
}

void creds_release(struct creds *c)
{
	if (!c)
		return;
	secret_free(c->username);
	secret_free(c->password);
	secret_free(c->identity_token);
	secret_free(c->registry_token);
	c->username = c->password = c->identity_token = c->registry_token = NULL;
}

/* ---- the store ---- */

void creds_store_init(struct creds_store *s)
{
	strvec_init(&s->files);
	s->helper_path = NULL;
	s->helper_timeout_ms = CREDS_HELPER_TIMEOUT_MS;
	s->helper_output_max = CREDS_HELPER_OUTPUT_MAX;
}

void creds_store_release(struct creds_store *s)
{
	if (!s)
		return;
	strvec_clear(&s->files);
	free(s->helper_path);
	creds_store_init(s);
}

int creds_store_add_file(struct creds_store *s, const char *path)
{
	return strvec_push(&s->files, path) ? ERR_NOMEM : 0;
}

int creds_store_set_helper_path(struct creds_store *s, const char *path)
{
	char *p = text_dup(path);

	if (path && !p)
		return ERR_NOMEM;
	free(s->helper_path);
	s->helper_path = p;
	return 0;
}

/* ---- registry names and auths keys ---- */

/* "https://Host:5000/v1/" -> "host:5000" (lower case); "host" as is. */
static int registry_host(struct buf *out, const char *s)
{
	const char *p = s;
	size_t n, i;

	if (!strncasecmp(p, "https://", 8))
		p += 8;
	else if (!strncasecmp(p, "http://", 7))
		p += 7;
	n = strcspn(p, "/");
	for (i = 0; i < n; i++)
		buf_addch(out, p[i] >= 'A' && p[i] <= 'Z' ? p[i] - 'A' + 'a' : p[i]);
	return buf_failed(out) ? ERR_NOMEM : 0;
}

static int is_hub(const char *host)
{
	size_t i;

	for (i = 0; i < N_HUB_HOSTS; i++)
		if (!strcmp(host, hub_hosts[i]))
			return 1;
	return 0;
}

/* What a lookup matches keys against. */
struct target {
	struct buf host;	/* "localhost:5000", "docker.io" */
	int hub;
	struct strvec exact;	/* keys tried in order before the host rule */
	struct strvec repo;	/* podman repository keys, most specific first */
};

static void target_release(struct target *t)
{
	buf_release(&t->host);
	strvec_clear(&t->exact);
	strvec_clear(&t->repo);
}

static int push_forms(struct strvec *sv, const char *h)
{
	if (strvec_push(sv, h) || strvec_pushf(sv, "https://%s", h) ||
	    strvec_pushf(sv, "http://%s", h) || strvec_pushf(sv, "https://%s/v1/", h) ||
	    strvec_pushf(sv, "https://%s/v2/", h))
		return ERR_NOMEM;
	return 0;
}

static int target_init(struct target *t, const char *registry, const char *repository,
		       struct err *e)
{
	const char *hosts[N_HUB_HOSTS];
	size_t i, nhosts, n;
	int ret = ERR_NOMEM;
	char *slash;

	buf_init(&t->host, 0);
	strvec_init(&t->exact);
	strvec_init(&t->repo);
	if (!registry || !*registry)
		return err_set(e, ERR_INVALID, "no registry given for a credential lookup");
	if (registry_host(&t->host, registry))
		goto out;
	if (!t->host.len || strpbrk(t->host.data, " \t\r\n\"\\"))
		return err_set(e, ERR_INVALID, "invalid registry name for a credential lookup");
	t->hub = is_hub(t->host.data);
	if (t->hub) {
		for (i = 0; i < N_HUB_HOSTS; i++)
			hosts[i] = hub_hosts[i];
		nhosts = N_HUB_HOSTS;
		if (strvec_push(&t->exact, CREDS_DOCKER_HUB_KEY))
			goto out;
	} else {
		hosts[0] = t->host.data;
		nhosts = 1;
	}
	for (i = 0; i < nhosts; i++)
		if (push_forms(&t->exact, hosts[i]))
			goto out;
	if (repository && *repository) {
		/* "REG/org/repo", "REG/org" for each host name, longest first. */
		struct buf r = BUF_INIT;

		if (buf_addstr(&r, repository)) {
			buf_release(&r);
			goto out;
		}
		for (n = r.len; n; ) {
			buf_setlen(&r, n);
			for (i = 0; i < nhosts; i++)
				if (strvec_pushf(&t->repo, "%s/%s", hosts[i], r.data)) {
					buf_release(&r);
					goto out;
				}
			slash = strrchr(r.data, '/');
			n = slash ? (size_t)(slash - r.data) : 0;
		}
		buf_release(&r);
	}
	ret = 0;
out:
	if (ret == ERR_NOMEM)
		err_set(e, ERR_NOMEM, "out of memory");
	return ret;
}

/* Does `key` name the target's registry (docker's ConvertToHostname rule:
 * scheme and path stripped)?  Keys with a path but no scheme are podman's
 * repository keys and do not name the registry. */
static int key_is_registry(const struct target *t, const char *key)
{
	struct buf h = BUF_INIT;
	int has_scheme, match = 0;
	size_t i;

	has_scheme = !strncasecmp(key, "https://", 8) || !strncasecmp(key, "http://", 7);
	if (!has_scheme && strchr(key, '/'))
		return 0;
	if (registry_host(&h, key))
		return 0;
	if (t->hub) {
		for (i = 0; i < N_HUB_HOSTS; i++)
			match |= !strcmp(h.data, hub_hosts[i]);
	} else {
		match = !strcmp(h.data, t->host.data);
	}
	buf_release(&h);
	return match;
}

struct key_scan {
	const struct target *t;
	const char *found;
};

static int key_scan_one(const char *key, struct json *val, void *arg)
{
	struct key_scan *ks = arg;

	if (key_is_registry(ks->t, key)) {
		ks->found = key;
		return 1;
	}
	return 0;
}

/* The member of `obj` for the target: repository keys (when `use_repo`),
 * then the exact forms, then the host rule.  NULL when none. */
static struct json *target_find(const char **out_key, const struct target *t,
				const struct json *obj, int use_repo)
{
	struct key_scan ks = { t, NULL };
	struct json *v;
	size_t i;

	if (use_repo) {
		for (i = 0; i < t->repo.n; i++)
			if ((v = json_get(obj, t->repo.v[i]))) {
				*out_key = t->repo.v[i];
				return v;
			}
	}
	for (i = 0; i < t->exact.n; i++)
		if ((v = json_get(obj, t->exact.v[i]))) {
			*out_key = t->exact.v[i];
			return v;
		}
	if (json_obj_each(obj, key_scan_one, &ks) && ks.found) {
		*out_key = ks.found;
		return json_get(obj, ks.found);
	}
	*out_key = NULL;
	return NULL;
}

/* The ServerURL a helper is given. */
static const char *target_server_url(const struct target *t)
{
	return t->hub ? CREDS_DOCKER_HUB_KEY : t->host.data;
}

/* ---- files ---- */

/* Loads `path`: 0 with *out set, or 0 with *out NULL when the file does not
 * exist.  The message names the file, never its content. */
static int file_load(struct json **out, const char *path, struct err *e)
{
	struct buf b = BUF_INIT;
	struct stat st;
	ssize_t n;
	int fd, ret = ERR_IO;

	*out = NULL;
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0) {
		if (errno == ENOENT || errno == ENOTDIR)
			return 0;
		return err_set_errno(e, ERR_IO, errno, "cannot open '%s'", path);
	}
	if (fstat(fd, &st)) {
		ret = err_set_errno(e, ERR_IO, errno, "cannot stat '%s'", path);
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		ret = err_set(e, ERR_INVALID, "'%s' is not a regular file", path);
		goto out;
	}
	if (st.st_size > (off_t)CREDS_FILE_MAX) {
		ret = err_set(e, ERR_TOO_BIG, "'%s' is larger than %u bytes", path,
			      CREDS_FILE_MAX);
		goto out;
	}
	/* One allocation up front: no realloc leaves copies of secrets. */
	b.max = CREDS_FILE_MAX;
	if (buf_grow(&b, (size_t)st.st_size + 1)) {
		ret = err_set(e, ERR_NOMEM, "out of memory reading '%s'", path);
		goto out;
	}
	for (;;) {
		if (b.len + 1 >= b.cap && buf_grow(&b, 4096)) {
			ret = err_set(e, buf_failed(&b), "cannot read '%s': too large", path);
			goto out;
		}
		n = read(fd, b.data + b.len, b.cap - b.len - 1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			ret = err_set_errno(e, ERR_IO, errno, "cannot read '%s'", path);
			goto out;
		}
		if (n == 0)
			break;
		b.len += (size_t)n;
		b.data[b.len] = '\0';
	}
	if (b.len == 0 || strspn(b.data, " \t\r\n") == b.len) {
		/* docker treats an empty file as an empty configuration */
		*out = json_new_object();
		ret = *out ? 0 : err_set(e, ERR_NOMEM, "out of memory");
		goto out;
	}
	ret = json_parse(out, b.data, b.len, e);
	if (ret) {
		err_prefix(e, "malformed auth file '%s'", path);
		goto out;
	}
	if (json_kind_of(*out) != JSON_OBJECT) {
		json_free(*out);
		*out = NULL;
		ret = err_set(e, ERR_INVALID, "malformed auth file '%s': not a JSON object", path);
		goto out;
	}
	ret = 0;
out:
	close(fd);
	buf_release_secret(&b);
	return ret;
}

/* Member `key` of `root` when it is an object (*out NULL when missing). */
static int get_object(struct json **out, const struct json *root, const char *key,
		      const char *path, struct err *e)
{
	struct json *v = json_get(root, key);

	*out = NULL;
	if (!v || json_kind_of(v) == JSON_NULL)
		return 0;
	if (json_kind_of(v) != JSON_OBJECT)
		return err_set(e, ERR_INVALID, "malformed auth file '%s': '%s' is not an object",
			       path, key);
	*out = v;
	return 0;
}

/* A string member of an auths entry: NULL when missing, null or empty;
 * ERR_INVALID when not a string. */
static int entry_str(const char **out, const struct json *entry, const char *member,
		     const char *path, const char *key, struct err *e)
{
	struct json *v = json_get(entry, member);

	*out = NULL;
	if (!v || json_kind_of(v) == JSON_NULL)
		return 0;
	if (json_kind_of(v) != JSON_STRING)
		return err_set(e, ERR_INVALID, "malformed auth file '%s': '%s' of '%s' is not a string",
			       path, member, key);
	if (json_str_len(v))
		*out = json_str(v);
	return 0;
}

static int dup_secret(char **out, const char *s)
{
	if (!s)
		return 0;
	*out = strdup(s);
	return *out ? 0 : ERR_NOMEM;
}

/* Fills `out` from an auths entry: 0, ERR_NOT_FOUND when the entry holds
 * no credentials, ERR_INVALID. */
static int entry_parse(struct creds *out, const struct json *entry, const char *path,
		       const char *key, struct err *e)
{
	const char *auth, *user, *pass, *itok, *rtok;
	char *dec = NULL, *colon;
	size_t declen = 0;
	int ret;

	if (json_kind_of(entry) != JSON_OBJECT)
		return err_set(e, ERR_INVALID, "malformed auth file '%s': entry '%s' is not an object",
			       path, key);
	if ((ret = entry_str(&auth, entry, "auth", path, key, e)) ||
	    (ret = entry_str(&user, entry, "username", path, key, e)) ||
	    (ret = entry_str(&pass, entry, "password", path, key, e)) ||
	    (ret = entry_str(&itok, entry, "identitytoken", path, key, e)) ||
	    (ret = entry_str(&rtok, entry, "registrytoken", path, key, e)))
		return ret;
	if (auth) {
		ret = base64_decode(&dec, &declen, auth, strlen(auth));
		if (ret == ERR_NOMEM) {
			ret = err_set(e, ERR_NOMEM, "out of memory");
			goto out;
		}
		if (ret || memchr(dec, '\0', declen) || !(colon = strchr(dec, ':'))) {
			ret = err_set(e, ERR_INVALID,
				      "malformed auth file '%s': 'auth' of '%s' is not base64 of "
				      "\"user:password\"", path, key);
			goto out;
		}
		*colon = '\0';
		user = dec;
		pass = colon + 1;
		if (!*user)
			user = NULL;
		if (!*pass)
			pass = NULL;
	}
	if (!pass && !itok && !rtok) {
		ret = ERR_NOT_FOUND;
		goto out;
	}
	if (dup_secret(&out->username, user) || dup_secret(&out->password, pass) ||
	    dup_secret(&out->identity_token, itok) || dup_secret(&out->registry_token, rtok)) {
		creds_release(out);
		ret = err_set(e, ERR_NOMEM, "out of memory");
		goto out;
	}
	ret = 0;
out:
	if (dec) {
		explicit_bzero(dec, declen);
		free(dec);
	}
	return ret;
}

/* ---- credential helpers ---- */

struct helper_run {
	struct buf out;		/* stdout, capped */
	struct buf errout;	/* stderr, capped */
	int status;		/* exit status when it exited */
};

static int helper_name_ok(const char *name)
{
	size_t n = strlen(name);

	return n && n <= HELPER_NAME_MAX && name[0] != '.' && name[0] != '-' &&
	       strspn(name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-") == n;
}

/* Finds docker-credential-NAME in the store's helper path. */
static int helper_find(struct buf *out, const struct creds_store *s, const char *name,
		       struct err *e)
{
	const char *p, *end;
	struct stat st;

	if (!helper_name_ok(name))
		return err_set(e, ERR_INVALID, "invalid credential helper name '%.64s'", name);
	for (p = s->helper_path; p && *p; p = *end ? end + 1 : end) {
		end = strchrnul(p, ':');
		if (end == p)	/* an empty entry would mean the current directory */
			continue;
		buf_reset(out);
		buf_add(out, p, (size_t)(end - p));
		buf_addf(out, "/" HELPER_PREFIX "%s", name);
		if (buf_failed(out))
			return err_set(e, ERR_NOMEM, "out of memory");
		if (!stat(out->data, &st) && S_ISREG(st.st_mode) && !access(out->data, X_OK))
			return 0;
	}
	return err_set(e, ERR_FAIL, "credential helper '" HELPER_PREFIX "%s' not found in the "
		       "helper search path", name);
}

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void set_nonblock(int fd)
{
	int fl = fcntl(fd, F_GETFL);

	if (fl >= 0)
		fcntl(fd, F_SETFL, fl | O_NONBLOCK);
}

static void close_fd(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

/* In the child: fds 0, 1, 2 from `fds`, everything else closed, default
 * signal handling, its own process group.  Only async-signal-safe calls. */
static void __attribute__((noreturn))
helper_child(const char *path, char *const argv[], const int fds[3])
{
	struct sigaction sa;
	sigset_t none;
	int moved[3], i;

	setpgid(0, 0);
	for (i = 0; i < 3; i++)
		if ((moved[i] = fcntl(fds[i], F_DUPFD, 3)) < 0)
			_exit(127);
	for (i = 0; i < 3; i++)
		if (dup2(moved[i], i) < 0)
			_exit(127);
	close_range(3, ~0U, 0);
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = SIG_DFL;
	sigaction(SIGPIPE, &sa, NULL);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	execv(path, argv);
	_exit(127);
}

static void helper_kill(pid_t pid)
{
	kill(-pid, SIGKILL);
	kill(pid, SIGKILL);
}

/* Reads what is available on *fd into b; closes *fd at EOF.  ERR_TOO_BIG
 * past the cap. */
static int helper_read(int *fd, struct buf *b)
{
	char chunk[4096];
	ssize_t n;
	int ret = 0;

	n = read(*fd, chunk, sizeof(chunk));
	if (n < 0) {
		if (errno != EINTR && errno != EAGAIN)
			close_fd(fd);
	} else if (n == 0) {
		close_fd(fd);
	} else if (buf_add(b, chunk, (size_t)n)) {
		ret = ERR_TOO_BIG;
	}
	explicit_bzero(chunk, sizeof(chunk));
	return ret;
}

/* A running helper: our ends of its stdin (a socket), stdout and stderr
 * (-1 once closed; [1] is the child's end until it runs), its pid (-1 once
 * reaped) and the deadline of the whole exchange. */
struct helper_proc {
	int in[2];
	int outp[2];
	int errp[2];
	pid_t pid;
	long long deadline;
};

/* Starts `path verb` on new pipes. */
static int helper_spawn(struct helper_proc *p, const char *path, const char *verb,
			const char *name, struct err *e)
{
	char *argv[3] = { (char *)path, (char *)verb, NULL };
	int child_fds[3];

	/* stdin is a socket so that a helper that exits early cannot raise
	 * SIGPIPE in the caller (send() with MSG_NOSIGNAL). */
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, p->in) ||
	    pipe2(p->outp, O_CLOEXEC) || pipe2(p->errp, O_CLOEXEC))
		return err_set_errno(e, ERR_FAIL, errno, "cannot run credential helper '"
				     HELPER_PREFIX "%s'", name);
	child_fds[0] = p->in[1];
	child_fds[1] = p->outp[1];
	child_fds[2] = p->errp[1];
	p->pid = fork();
	if (p->pid < 0)
		return err_set_errno(e, ERR_FAIL, errno, "cannot run credential helper '"
				     HELPER_PREFIX "%s'", name);
	if (p->pid == 0)
		helper_child(path, argv, child_fds);
	setpgid(p->pid, p->pid);	/* also done by the child; whichever runs first */
	close_fd(&p->in[1]);
	close_fd(&p->outp[1]);
	close_fd(&p->errp[1]);
	set_nonblock(p->in[0]);
	set_nonblock(p->outp[0]);
	set_nonblock(p->errp[0]);
	return 0;
}

/* Sends what the helper's stdin can take of input[*off..len). */
static void helper_feed(struct helper_proc *p, const char *input, size_t len, size_t *off)
{
	ssize_t n = send(p->in[0], input + *off, len - *off, MSG_NOSIGNAL | MSG_DONTWAIT);

	if (n > 0)
		*off += (size_t)n;
	if ((n < 0 && errno != EINTR && errno != EAGAIN) || *off == len)
		close_fd(&p->in[0]);
}

/* Reads what `fd`, the helper's stdout or stderr, has into r->out or
 * r->errout.  ERR_TOO_BIG past the cap. */
static int helper_drain(struct helper_proc *p, int fd, struct helper_run *r)
{
	if (fd == p->outp[0])
		return helper_read(&p->outp[0], &r->out);
	if (fd == p->errp[0])
		return helper_read(&p->errp[0], &r->errout);
	return 0;
}

/* Feeds `input` to the helper and reads its stdout and stderr into `r`
 * until all three are closed: 0, 1 when the deadline passed first, or an
 * error (output over the cap kills the helper). */
static int helper_pump(struct helper_proc *p, struct helper_run *r, const struct creds_store *s,
		       const char *name, const char *input, struct err *e)
{
	size_t inlen = strlen(input), inoff = 0;
	struct pollfd pfd[3];
	nfds_t nfd, i;

	if (!inlen)
		close_fd(&p->in[0]);
	while (p->in[0] >= 0 || p->outp[0] >= 0 || p->errp[0] >= 0) {
		long long left = p->deadline - now_ms();

		if (left <= 0)
			return 1;
		nfd = 0;
		if (p->in[0] >= 0)
			pfd[nfd++] = (struct pollfd){ .fd = p->in[0], .events = POLLOUT };
		if (p->outp[0] >= 0)
			pfd[nfd++] = (struct pollfd){ .fd = p->outp[0], .events = POLLIN };
		if (p->errp[0] >= 0)
			pfd[nfd++] = (struct pollfd){ .fd = p->errp[0], .events = POLLIN };
		if (poll(pfd, nfd, left > INT_MAX ? INT_MAX : (int)left) < 0) {
			if (errno == EINTR)
				continue;
			return err_set_errno(e, ERR_FAIL, errno, "credential helper '"
					     HELPER_PREFIX "%s'", name);
		}
		for (i = 0; i < nfd; i++) {
			if (!pfd[i].revents)
				continue;
			if (pfd[i].fd == p->in[0]) {
				helper_feed(p, input, inlen, &inoff);
			} else if (helper_drain(p, pfd[i].fd, r)) {
				helper_kill(p->pid);
				return err_set(e, ERR_TOO_BIG, "credential helper '" HELPER_PREFIX
					       "%s' wrote more than %zu bytes", name,
					       s->helper_output_max);
			}
		}
	}
	return 0;
}

/* Waits for the helper to exit, within the deadline: 0 with its wait
 * status in *status, 1 when the deadline passed first, or an error. */
static int helper_wait(struct helper_proc *p, int *status, const char *name, struct err *e)
{
	pid_t w;

	for (;;) {
		w = waitpid(p->pid, status, WNOHANG);
		if (w == p->pid) {
			p->pid = -1;
			return 0;
		}
		if (w < 0 && errno != EINTR) {
			p->pid = -1;
			return err_set_errno(e, ERR_FAIL, errno, "credential helper '"
					     HELPER_PREFIX "%s'", name);
		}
		if (now_ms() >= p->deadline)
			return 1;
		nanosleep(&(struct timespec){ 0, 5 * 1000 * 1000 }, NULL);
	}
}

/* Kills and reaps the helper if it still runs; closes every pipe. */
static void helper_proc_end(struct helper_proc *p)
{
	int status;

	if (p->pid > 0) {
		helper_kill(p->pid);
		while (waitpid(p->pid, &status, 0) < 0 && errno == EINTR)
			;
	}
	close_fd(&p->in[0]);
	close_fd(&p->in[1]);
	close_fd(&p->outp[0]);
	close_fd(&p->outp[1]);
	close_fd(&p->errp[0]);
	close_fd(&p->errp[1]);
}

/* Runs `path verb` with `input` on stdin; 0 when it exited (any status). */
static int helper_exec(struct helper_run *r, const struct creds_store *s, const char *path,
		       const char *name, const char *verb, const char *input, struct err *e)
{
	struct helper_proc p = { { -1, -1 }, { -1, -1 }, { -1, -1 }, -1, 0 };
	int ret, status;

	buf_init(&r->out, s->helper_output_max);
	buf_init(&r->errout, s->helper_output_max);
	r->status = -1;
	/* room for a normal answer up front: no realloc leaves a copy of it */
	buf_grow(&r->out, 4096 < s->helper_output_max ? 4096 : s->helper_output_max);
	if ((ret = helper_spawn(&p, path, verb, name, e)) < 0)
		goto out;
	p.deadline = now_ms() + s->helper_timeout_ms;
	/* the output closed, the exit is waited for within the same deadline */
	if ((ret = helper_pump(&p, r, s, name, input, e)) != 0 ||
	    (ret = helper_wait(&p, &status, name, e)) != 0)
		goto out;
	if (WIFSIGNALED(status)) {
		ret = err_set(e, ERR_FAIL, "credential helper '" HELPER_PREFIX "%s' %s was "
			      "killed by signal %d", name, verb, WTERMSIG(status));
		goto out;
	}
	r->status = WEXITSTATUS(status);
	if (r->status == 127 && !r->out.len && !r->errout.len) {
		ret = err_set(e, ERR_FAIL, "cannot run credential helper '" HELPER_PREFIX "%s'",
			      name);
		goto out;
	}
	ret = 0;
out:
	if (ret == 1)
		ret = err_set(e, ERR_FAIL, "credential helper '" HELPER_PREFIX "%s' %s timed "
			      "out after %d ms", name, verb, s->helper_timeout_ms);
	helper_proc_end(&p);
	if (ret) {
		buf_release_secret(&r->out);
		buf_release_secret(&r->errout);
	}
	return ret;
}

static void helper_run_release(struct helper_run *r)
{
	buf_release_secret(&r->out);
	buf_release_secret(&r->errout);
}

/* A short, printable excerpt of what a failing helper said: the first line
 * of stdout (where the protocol puts errors), else of stderr.  Dropped when
 * it contains `secret`. */
static void helper_excerpt(char *out, size_t size, const struct helper_run *r,
			   const char *secret)
{
	const struct buf *b = r->out.len ? &r->out : &r->errout;
	size_t i, o = 0, start = 0, n;

	out[0] = '\0';
	/* JSON on stdout may hold credentials even when the exit status is
	 * not 0: never quote it. */
	if (b == &r->out && r->out.data[strspn(r->out.data, " \t\r\n")] == '{')
		b = &r->errout;
	if (secret && *secret && strstr(b->data, secret))
		return;
	while (start < b->len && strchr(" \t\r\n", b->data[start]))
		start++;
	n = strcspn(b->data + start, "\r\n");
	while (n && strchr(" \t", b->data[start + n - 1]))
		n--;
	if (!n)
		return;
	o = (size_t)snprintf(out, size, ": ");
	for (i = 0; i < n && i < EXCERPT_MAX && o + 1 < size; i++) {
		unsigned char c = (unsigned char)b->data[start + i];

		out[o++] = c < 0x20 || c >= 0x7f ? '?' : (char)c;
	}
	if (i < n && o + 4 < size) {
		memcpy(out + o, "...", 3);
		o += 3;
	}
	out[o] = '\0';
}

static int helper_said_not_found(const struct helper_run *r)
{
	return strstr(r->out.data, "credentials not found") != NULL;
}

/* `get`: 0, ERR_NOT_FOUND, or an error. */
static int helper_get(struct creds *out, const struct creds_store *s, const char *name,
		      const char *server_url, struct err *e)
{
	struct helper_run r = { BUF_INIT, BUF_INIT, -1 };
	struct buf path = BUF_INIT;
	struct json *j = NULL;
	const char *user, *secret;
	char ex[EXCERPT_MAX + 16];
	int ret;

	if ((ret = helper_find(&path, s, name, e)))
		goto out;
	if ((ret = helper_exec(&r, s, path.data, name, "get", server_url, e)))
		goto out;
	if (r.status) {
		if (helper_said_not_found(&r)) {
			ret = ERR_NOT_FOUND;
			goto out;
		}
		helper_excerpt(ex, sizeof(ex), &r, NULL);
		ret = err_set(e, ERR_FAIL, "credential helper '" HELPER_PREFIX "%s' get failed "
			      "(exit status %d)%s", name, r.status, ex);
		goto out;
	}
	if (json_parse(&j, r.out.data, r.out.len, NULL) || json_kind_of(j) != JSON_OBJECT) {
		ret = err_set(e, ERR_INVALID, "credential helper '" HELPER_PREFIX "%s' get: "
			      "malformed output (not a JSON object)", name);
		goto out;
	}
	user = json_get_str(j, "Username");
	secret = json_get_str(j, "Secret");
	if ((json_get(j, "Username") && !user) || (json_get(j, "Secret") && !secret)) {
		ret = err_set(e, ERR_INVALID, "credential helper '" HELPER_PREFIX "%s' get: "
			      "malformed output (Username and Secret must be strings)", name);
		goto out;
	}
	if (!secret || !*secret) {
		ret = ERR_NOT_FOUND;
		goto out;
	}
	if (user && !strcmp(user, "<token>")) {
		out->identity_token = strdup(secret);
		ret = out->identity_token ? 0 : ERR_NOMEM;
	} else {
		ret = dup_secret(&out->username, user && *user ? user : NULL) ||
		      dup_secret(&out->password, secret) ? ERR_NOMEM : 0;
	}
	if (ret) {
		creds_release(out);
		err_set(e, ret, "out of memory");
	}
out:
	json_free(j);
	helper_run_release(&r);
	buf_release(&path);
	return ret;
}

/* `store` or `erase`; `secret` keeps the password out of the excerpt.
 * erase answers ERR_NOT_FOUND when the helper had nothing. */
static int helper_put(const struct creds_store *s, const char *name, const char *verb,
		      const char *input, const char *secret, struct err *e)
{
	struct helper_run r = { BUF_INIT, BUF_INIT, -1 };
	struct buf path = BUF_INIT;
	char ex[EXCERPT_MAX + 16];
	int ret;

	if ((ret = helper_find(&path, s, name, e)))
		goto out;
	if ((ret = helper_exec(&r, s, path.data, name, verb, input, e)))
		goto out;
	if (r.status) {
		if (!strcmp(verb, "erase") && helper_said_not_found(&r)) {
			ret = ERR_NOT_FOUND;
			goto out;
		}
		helper_excerpt(ex, sizeof(ex), &r, secret);
		ret = err_set(e, ERR_FAIL, "credential helper '" HELPER_PREFIX "%s' %s failed "
			      "(exit status %d)%s", name, verb, r.status, ex);
		goto out;
	}
	ret = 0;
out:
	helper_run_release(&r);
	buf_release(&path);
	return ret;
}

enum helper_which {
	HELPER_SPECIFIC = 1 << 0,	/* credHelpers[registry] */
	HELPER_DEFAULT = 1 << 1,	/* credsStore */
};

/* The helper named for the target in `root`: credHelpers first, then
 * credsStore, as `which` allows; *out NULL when none. */
static int file_helper(const char **out, const struct json *root, const struct target *t,
		       unsigned which, const char *path, struct err *e)
{
	struct json *helpers, *v;
	const char *key;
	int ret;

	*out = NULL;
	if ((ret = get_object(&helpers, root, "credHelpers", path, e)))
		return ret;
	if ((which & HELPER_SPECIFIC) && helpers && (v = target_find(&key, t, helpers, 0))) {
		if (json_kind_of(v) != JSON_STRING)
			return err_set(e, ERR_INVALID, "malformed auth file '%s': credHelpers "
				       "entry '%s' is not a string", path, key);
		if (json_str_len(v)) {
			*out = json_str(v);
			return 0;
		}
	}
	v = json_get(root, "credsStore");
	if (!v || json_kind_of(v) == JSON_NULL)
		return 0;
	if (json_kind_of(v) != JSON_STRING)
		return err_set(e, ERR_INVALID, "malformed auth file '%s': 'credsStore' is not a "
			       "string", path);
	if ((which & HELPER_DEFAULT) && json_str_len(v))
		*out = json_str(v);
	return 0;
}

/* ---- lookup ---- */

/* One file: credHelpers, auths, credsStore.  0, ERR_NOT_FOUND, or an error. */
static int lookup_file(struct creds *out, const struct creds_store *s,
		       const struct target *t, const struct json *root, const char *path,
		       struct err *e)
{
	struct json *auths, *entry;
	const char *helper, *key;
	int ret;

	if ((ret = file_helper(&helper, root, t, HELPER_SPECIFIC, path, e)))
		return ret;
	if (helper) {
		ret = helper_get(out, s, helper, target_server_url(t), e);
		if (ret != ERR_NOT_FOUND)
			goto out;
	}
	if ((ret = get_object(&auths, root, "auths", path, e)))
		return ret;
	if (auths && (entry = target_find(&key, t, auths, 1))) {
		ret = entry_parse(out, entry, path, key, e);
		if (ret != ERR_NOT_FOUND)
			return ret;
	}
	if ((ret = file_helper(&helper, root, t, HELPER_DEFAULT, path, e)))
		return ret;
	if (!helper)
		return ERR_NOT_FOUND;
	ret = helper_get(out, s, helper, target_server_url(t), e);
out:
	if (ret && ret != ERR_NOT_FOUND)
		err_prefix(e, "credentials for '%s' (helper named in '%s')", t->host.data, path);
	return ret;
}

int creds_store_get_repo(struct creds *out, struct creds_store *s, const char *registry,
			 const char *repository, struct err *e)
{
	struct target t;
	struct json *root = NULL;
	size_t i;
	int ret;

	*out = (struct creds)CREDS_INIT;
	if ((ret = target_init(&t, registry, repository, e)))
		goto out;
	ret = ERR_NOT_FOUND;
	for (i = 0; i < s->files.n; i++) {
		if ((ret = file_load(&root, s->files.v[i], e)))
			goto out;
		if (!root) {
			ret = ERR_NOT_FOUND;
			continue;
		}
		ret = lookup_file(out, s, &t, root, s->files.v[i], e);
		json_free(root);
		root = NULL;
		if (ret != ERR_NOT_FOUND)
			goto out;
	}
	if (ret == ERR_NOT_FOUND)
		err_set(e, ret, "no credentials for '%s'", t.host.data);
out:
	if (ret)
		creds_release(out);
	json_free(root);
	target_release(&t);
	return ret;
}

int creds_store_get(struct creds *out, struct creds_store *s, const char *registry,
		    struct err *e)
{
	return creds_store_get_repo(out, s, registry, NULL, e);
}

int creds_store_lookup(struct creds *out, void *arg, const char *registry, struct err *e)
{
	return creds_store_get_repo(out, arg, registry, NULL, e);
}

/* ---- writing the first file ---- */

/* mkdir -p of the directory part of `path`, new directories 0700. */
static int make_parent_dirs(const char *path, struct err *e)
{
	struct buf d = BUF_INIT;
	char *slash;
	size_t i;
	int ret = ERR_NOMEM;

	if (buf_addstr(&d, path))
		goto out;
	slash = strrchr(d.data, '/');
	if (!slash || slash == d.data) {
		ret = 0;
		goto out;
	}
	buf_setlen(&d, (size_t)(slash - d.data));
	for (i = 1; i <= d.len; i++) {
		if (i < d.len && d.data[i] != '/')
			continue;
		d.data[i] = '\0';
		if (mkdir(d.data, 0700) && errno != EEXIST) {
			ret = err_set_errno(e, ERR_IO, errno, "cannot create directory '%s'", d.data);
			goto out;
		}
		if (i < d.len)
			d.data[i] = '/';
	}
	ret = 0;
out:
	if (ret == ERR_NOMEM)
		err_set(e, ret, "out of memory");
	buf_release(&d);
	return ret;
}

/* Serialises `root` and replaces `path` atomically (a temporary file in the
 * same directory, fsync, rename), mode 0600.  A symbolic link is followed
 * and its target replaced, as docker does. */
static int file_store(const char *path, const struct json *root, struct err *e)
{
	struct buf data = BUF_INIT, tmp = BUF_INIT;
	char *real = NULL, *slash;
	const char *target = path;
	struct stat st;
	int fd = -1, dfd, ret, created = 0;

	if (!lstat(path, &st) && S_ISLNK(st.st_mode) && (real = realpath(path, NULL)))
		target = real;
	if ((ret = make_parent_dirs(target, e)))
		goto out;
	if ((ret = json_serialize(&data, root, JSON_PRETTY, e)))
		goto out;
	if (buf_addch(&data, '\n') || buf_addf(&tmp, "%s.tmp-XXXXXX", target)) {
		ret = err_set(e, ERR_NOMEM, "out of memory");
		goto out;
	}
	fd = mkostemp(tmp.data, O_CLOEXEC);
	if (fd < 0) {
		ret = err_set_errno(e, ERR_IO, errno, "cannot create a temporary file for '%s'",
				    target);
		goto out;
	}
	created = 1;
	if (fchmod(fd, 0600) || fs_write_all(fd, data.data, data.len) || fsync(fd)) {
		ret = err_set_errno(e, ERR_IO, errno, "cannot write '%s'", tmp.data);
		goto out;
	}
	if (close(fd)) {
		fd = -1;
		ret = err_set_errno(e, ERR_IO, errno, "cannot write '%s'", tmp.data);
		goto out;
	}
	fd = -1;
	if (rename(tmp.data, target)) {
		ret = err_set_errno(e, ERR_IO, errno, "cannot rename '%s' to '%s'", tmp.data,
				    target);
		goto out;
	}
	created = 0;
	buf_reset(&tmp);
	/* Make the rename durable. */
	slash = strrchr(target, '/');
	if (buf_add(&tmp, target, slash ? (size_t)(slash - target) : 0) == 0) {
		dfd = open(tmp.len ? tmp.data : (slash ? "/" : "."),
			   O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (dfd >= 0) {
			fsync(dfd);
			close(dfd);
		}
	}
	buf_reset(&tmp);
	ret = 0;
out:
	if (fd >= 0)
		close(fd);
	if (created)
		unlink(tmp.data);
	buf_release_secret(&data);
	buf_release(&tmp);
	free(real);
	return ret;
}

/* The first file's root and its "auths" object (created when missing). */
static int first_file_load(struct json **out, struct json **out_auths,
			   const struct creds_store *s, int create, struct err *e)
{
	const char *path;
	int ret;

	*out = NULL;
	*out_auths = NULL;
	if (!s->files.n)
		return err_set(e, ERR_USAGE, "no auth file configured to store credentials in");
	path = s->files.v[0];
	if ((ret = file_load(out, path, e)))
		goto out;
	if (!*out && !(*out = json_new_object())) {
		ret = err_set(e, ERR_NOMEM, "out of memory");
		goto out;
	}
	if ((ret = get_object(out_auths, *out, "auths", path, e)))
		goto out;
	if (!*out_auths && create) {
		if (json_set(*out, "auths", json_new_object())) {
			ret = err_set(e, ERR_NOMEM, "out of memory");
			goto out;
		}
		*out_auths = json_get(*out, "auths");
	}
	ret = 0;
out:
	if (ret) {
		json_free(*out);
		*out = NULL;
		*out_auths = NULL;
	}
	return ret;
}

int creds_store_save(struct creds_store *s, const char *registry, const char *user,
		     const char *password, struct err *e)
{
	struct buf pair = BUF_INIT, b64 = BUF_INIT, input = BUF_INIT;
	struct json *root = NULL, *auths, *entry = NULL, *msg = NULL;
	const char *helper, *key;
	char *keycopy = NULL;
	struct target t;
	int ret;

	if ((ret = target_init(&t, registry, NULL, e)))
		goto out;
	if (!user || !*user || strchr(user, ':') || !password) {
		ret = err_set(e, ERR_INVALID, "invalid user name for '%s': it must be non-empty "
			      "and must not contain ':'", t.host.data);
		goto out;
	}
	if ((ret = first_file_load(&root, &auths, s, 1, e)))
		goto out;
	if ((ret = file_helper(&helper, root, &t, HELPER_SPECIFIC | HELPER_DEFAULT,
			       s->files.v[0], e)))
		goto out;
	if (helper) {
		if (!(msg = json_new_object()) ||
		    json_set_str(msg, "ServerURL", target_server_url(&t)) ||
		    json_set_str(msg, "Username", user) || json_set_str(msg, "Secret", password) ||
		    json_serialize(&input, msg, 0, NULL)) {
			ret = err_set(e, ERR_NOMEM, "out of memory");
			goto out;
		}
		ret = helper_put(s, helper, "store", input.data, password, e);
		if (ret)
			err_prefix(e, "cannot store credentials for '%s'", t.host.data);
		goto out;
	}
	if (!target_find(&key, &t, auths, 0))
		key = target_server_url(&t);
	if (!(keycopy = strdup(key)) || buf_addf(&pair, "%s:%s", user, password) ||
	    base64_encode(&b64, pair.data, pair.len) || !(entry = json_new_object()) ||
	    json_set_str(entry, "auth", b64.data)) {
		ret = err_set(e, ERR_NOMEM, "out of memory");
		goto out;
	}
	ret = json_set(auths, keycopy, entry);
	entry = NULL;
	if (ret) {
		ret = err_set(e, ERR_NOMEM, "out of memory");
		goto out;
	}
	ret = file_store(s->files.v[0], root, e);
out:
	json_free(entry);
	json_free(msg);
	json_free(root);
	free(keycopy);
	buf_release_secret(&pair);
	buf_release_secret(&b64);
	buf_release_secret(&input);
	target_release(&t);
	return ret;
}

struct key_collect {
	const struct target *t;
	struct strvec keys;
};

static int key_collect_one(const char *key, struct json *val, void *arg)
{
	struct key_collect *kc = arg;
	size_t i;
	int match = key_is_registry(kc->t, key);

	for (i = 0; !match && i < kc->t->exact.n; i++)
		match = !strcmp(key, kc->t->exact.v[i]);
	if (match && strvec_push(&kc->keys, key))
		return ERR_NOMEM;
	return 0;
}

int creds_store_erase(struct creds_store *s, const char *registry, struct err *e)
{
	struct key_collect kc = { NULL, STRVEC_INIT };
	struct json *root = NULL, *auths;
	const char *helper;
	struct target t;
	int ret, removed = 0;
	size_t i;

	if ((ret = target_init(&t, registry, NULL, e)))
		goto out;
	if ((ret = first_file_load(&root, &auths, s, 0, e)))
		goto out;
	if ((ret = file_helper(&helper, root, &t, HELPER_SPECIFIC | HELPER_DEFAULT,
			       s->files.v[0], e)))
		goto out;
	if (helper) {
		ret = helper_put(s, helper, "erase", target_server_url(&t), NULL, e);
		if (ret && ret != ERR_NOT_FOUND) {
			err_prefix(e, "cannot erase credentials for '%s'", t.host.data);
			goto out;
		}
		removed = !ret;
	}
	kc.t = &t;
	if (auths && json_obj_each(auths, key_collect_one, &kc)) {
		ret = err_set(e, ERR_NOMEM, "out of memory");
		goto out;
	}
	for (i = 0; i < kc.keys.n; i++)
		json_del(auths, kc.keys.v[i]);
	if (kc.keys.n) {
		if ((ret = file_store(s->files.v[0], root, e)))
			goto out;
		removed = 1;
	}
	ret = removed ? 0 : err_set(e, ERR_NOT_FOUND, "not logged in to '%s'", t.host.data);
out:
	strvec_clear(&kc.keys);
	json_free(root);
	target_release(&t);
	return ret;
}

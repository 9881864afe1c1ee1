/* faultfs.so - an LD_PRELOAD shim that makes chosen file-system calls fail,
 * for the fault tests (tests/e2e/t0620-cache-faults.sh).
 *
 *   LD_PRELOAD=$TOOLS/faultfs.so FAULTFS_OP=read FAULTFS_PATH=/blobs/sha256/ab12 \
 *       FAULTFS_ERRNO=EIO hoist cache gc --grace 0s
 *
 * FAULTFS_OP     which calls fail, a comma-separated list of: open (open,
 *                openat and their 64 forms), read (read, pread), write
 *                (write, pwrite), readdir, fsync, rename, unlink
 * FAULTFS_PATH   a substring of the path the call acts on (for calls on a
 *                file descriptor or a DIR, the path /proc/self/fd names);
 *                unset or empty matches every path
 * FAULTFS_ERRNO  the errno: EIO, ENOSPC, EDQUOT, EACCES, EPERM, EROFS,
 *                EMFILE, ELOOP, ENOENT, or a number (default EIO)
 * FAULTFS_AFTER  let the first N matching calls through (default 0)
 * FAULTFS_TIMES  fail at most N times (default: every matching call)
 * FAULTFS_LOG    append "OP errno path" per injected failure to this file
 *
 * Not built with sanitizers (it is loaded before them; with ASan set
 * ASAN_OPTIONS=verify_asan_link_order=0).  Works under valgrind.
 */
#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <unistd.h>

enum { OP_OPEN = 1, OP_READ = 2, OP_WRITE = 4, OP_READDIR = 8, OP_FSYNC = 16,
       OP_RENAME = 32, OP_UNLINK = 64 };

static const struct { const char *name; int op; } op_names[] = {
	{ "open", OP_OPEN }, { "read", OP_READ }, { "write", OP_WRITE },
	{ "readdir", OP_READDIR }, { "fsync", OP_FSYNC }, { "rename", OP_RENAME },
	{ "unlink", OP_UNLINK },
};

static const struct { const char *name; int value; } errno_names[] = {
	{ "EIO", EIO }, { "ENOSPC", ENOSPC }, { "EDQUOT", EDQUOT }, { "EACCES", EACCES },
	{ "EPERM", EPERM }, { "EROFS", EROFS }, { "EMFILE", EMFILE }, { "ELOOP", ELOOP },
	{ "ENOENT", ENOENT },
};

static int cfg_ready, cfg_ops, cfg_errno = EIO;
static long cfg_after, cfg_times = -1;
static const char *cfg_path, *cfg_log;
static long n_seen, n_failed;

/* The next definition of `name` (libc's, or a sanitizer's), looked up once
 * per call site; racing threads store the same value. */
#define REAL(type, var, name) \
	static type var##_p; \
	type var = var##_p ? var##_p : (var##_p = (type)dlsym(RTLD_NEXT, name))

typedef ssize_t (*write_fn)(int, const void *, size_t);
typedef int (*open_fn)(const char *, int, ...);
typedef int (*open64_fn)(const char *, int, ...);
typedef int (*openat_fn)(int, const char *, int, ...);
typedef int (*openat64_fn)(int, const char *, int, ...);
typedef ssize_t (*read_fn)(int, void *, size_t);
typedef ssize_t (*pread_fn)(int, void *, size_t, off_t);
typedef ssize_t (*pread64_fn)(int, void *, size_t, off64_t);
typedef ssize_t (*pwrite_fn)(int, const void *, size_t, off_t);
typedef struct dirent *(*readdir_fn)(DIR *);
typedef struct dirent64 *(*readdir64_fn)(DIR *);
typedef int (*fsync_fn)(int);
typedef int (*fdatasync_fn)(int);
typedef int (*rename_fn)(const char *, const char *);
typedef int (*renameat_fn)(int, const char *, int, const char *);
typedef int (*unlink_fn)(const char *);
typedef int (*unlinkat_fn)(int, const char *, int);

static void config(void)
{
	const char *s;
	char buf[256], *tok, *save = NULL;
	size_t i;

	if (__atomic_load_n(&cfg_ready, __ATOMIC_ACQUIRE))
		return;
	s = getenv("FAULTFS_OP");
	snprintf(buf, sizeof(buf), "%s", s ? s : "");
	for (tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save))
		for (i = 0; i < sizeof(op_names) / sizeof(op_names[0]); i++)
			if (!strcmp(tok, op_names[i].name))
				cfg_ops |= op_names[i].op;
	cfg_path = getenv("FAULTFS_PATH");
	cfg_log = getenv("FAULTFS_LOG");
	if ((s = getenv("FAULTFS_ERRNO")) && *s) {
		cfg_errno = atoi(s);
		for (i = 0; i < sizeof(errno_names) / sizeof(errno_names[0]); i++)
			if (!strcmp(s, errno_names[i].name))
				cfg_errno = errno_names[i].value;
		if (cfg_errno <= 0)
			cfg_errno = EIO;
	}
	if ((s = getenv("FAULTFS_AFTER")))
		cfg_after = atol(s);
	if ((s = getenv("FAULTFS_TIMES")) && *s)
		cfg_times = atol(s);
	__atomic_store_n(&cfg_ready, 1, __ATOMIC_RELEASE);
}

/* The path `fd` is open on ("" when unknown). */
static void fd_path(char *out, size_t len, int fd)
{
	char link[64];
	ssize_t n;

	snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
	n = readlink(link, out, len - 1);
	out[n > 0 ? n : 0] = '\0';
}

/* The path of `name` relative to `dirfd`. */
static void at_path(char *out, size_t len, int dirfd, const char *name)
{
	char dir[PATH_MAX];

	if (name[0] == '/') {
		snprintf(out, len, "%s", name);
		return;
	}
	if (dirfd == AT_FDCWD) {
		if (!getcwd(dir, sizeof(dir)))
			dir[0] = '\0';
	} else {
		fd_path(dir, sizeof(dir), dirfd);
	}
	snprintf(out, len, "%s/%s", dir, name);
}

static void log_fault(const char *op, const char *path)
{
	REAL(write_fn, w, "write");
	REAL(open_fn, o, "open");
	char line[PATH_MAX + 64];
	int fd, n;

	if (!cfg_log || !*cfg_log)
		return;
	fd = o(cfg_log, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
	if (fd < 0)
		return;
	n = snprintf(line, sizeof(line), "%s %d %s\n", op, cfg_errno, path);
	if (n > 0)
		w(fd, line, (size_t)n < sizeof(line) ? (size_t)n : sizeof(line) - 1);
	close(fd);
}

/* Whether this call of `op` on `path` fails; sets errno when it does. */
static int fault(int op, const char *opname, const char *path)
{
	long seen;

	config();
	if (!(cfg_ops & op))
		return 0;
	if (cfg_path && *cfg_path && !strstr(path, cfg_path))
		return 0;
	seen = __atomic_fetch_add(&n_seen, 1, __ATOMIC_RELAXED);
	if (seen < cfg_after)
		return 0;
	if (cfg_times >= 0 && __atomic_fetch_add(&n_failed, 1, __ATOMIC_RELAXED) >= cfg_times)
		return 0;
	log_fault(opname, path);
	errno = cfg_errno;
	return 1;
}

static int fault_fd(int op, const char *opname, int fd)
{
	char path[PATH_MAX];

	config();
	if (!(cfg_ops & op))
		return 0;
	fd_path(path, sizeof(path), fd);
	return fault(op, opname, path);
}

static int fault_at(int op, const char *opname, int dirfd, const char *name)
{
	char path[PATH_MAX];

	config();
	if (!(cfg_ops & op) || !name)
		return 0;
	at_path(path, sizeof(path), dirfd, name);
	return fault(op, opname, path);
}

static mode_t open_mode(int flags, va_list ap)
{
	return (flags & O_CREAT) || (flags & O_TMPFILE) == O_TMPFILE ? va_arg(ap, mode_t) : 0;
}

int open(const char *path, int flags, ...)
{
	REAL(open_fn, f, "open");
	va_list ap;
	mode_t mode;

	va_start(ap, flags);
	mode = open_mode(flags, ap);
	va_end(ap);
	if (fault_at(OP_OPEN, "open", AT_FDCWD, path))
		return -1;
	return f(path, flags, mode);
}

int open64(const char *path, int flags, ...)
{
	REAL(open64_fn, f, "open64");
	va_list ap;
	mode_t mode;

	va_start(ap, flags);
	mode = open_mode(flags, ap);
	va_end(ap);
	if (fault_at(OP_OPEN, "open", AT_FDCWD, path))
		return -1;
	return f(path, flags, mode);
}

int openat(int dirfd, const char *path, int flags, ...)
{
	REAL(openat_fn, f, "openat");
	va_list ap;
	mode_t mode;

	va_start(ap, flags);
	mode = open_mode(flags, ap);
	va_end(ap);
	if (fault_at(OP_OPEN, "open", dirfd, path))
		return -1;
	return f(dirfd, path, flags, mode);
}

int openat64(int dirfd, const char *path, int flags, ...)
{
	REAL(openat64_fn, f, "openat64");
	va_list ap;
	mode_t mode;

	va_start(ap, flags);
	mode = open_mode(flags, ap);
	va_end(ap);
	if (fault_at(OP_OPEN, "open", dirfd, path))
		return -1;
	return f(dirfd, path, flags, mode);
}

ssize_t read(int fd, void *buf, size_t n)
{
	REAL(read_fn, f, "read");

	if (fault_fd(OP_READ, "read", fd))
		return -1;
	return f(fd, buf, n);
}

ssize_t pread(int fd, void *buf, size_t n, off_t off)
{
	REAL(pread_fn, f, "pread");

	if (fault_fd(OP_READ, "read", fd))
		return -1;
	return f(fd, buf, n, off);
}

ssize_t pread64(int fd, void *buf, size_t n, off64_t off)
{
	REAL(pread64_fn, f, "pread64");

	if (fault_fd(OP_READ, "read", fd))
		return -1;
	return f(fd, buf, n, off);
}

ssize_t write(int fd, const void *buf, size_t n)
{
	REAL(write_fn, f, "write");

	if (fault_fd(OP_WRITE, "write", fd))
		return -1;
	return f(fd, buf, n);
}

ssize_t pwrite(int fd, const void *buf, size_t n, off_t off)
{
	REAL(pwrite_fn, f, "pwrite");

	if (fault_fd(OP_WRITE, "write", fd))
		return -1;
	return f(fd, buf, n, off);
}

struct dirent *readdir(DIR *d)
{
	REAL(readdir_fn, f, "readdir");

	if (fault_fd(OP_READDIR, "readdir", dirfd(d)))
		return NULL;
	return f(d);
}

struct dirent64 *readdir64(DIR *d)
{
	REAL(readdir64_fn, f, "readdir64");

	if (fault_fd(OP_READDIR, "readdir", dirfd(d)))
		return NULL;
	return f(d);
}

int fsync(int fd)
{
	REAL(fsync_fn, f, "fsync");

	if (fault_fd(OP_FSYNC, "fsync", fd))
		return -1;
	return f(fd);
}

int fdatasync(int fd)
{
	REAL(fdatasync_fn, f, "fdatasync");

	if (fault_fd(OP_FSYNC, "fsync", fd))
		return -1;
	return f(fd);
}

int rename(const char *from, const char *to)
{
	REAL(rename_fn, f, "rename");

	if (fault_at(OP_RENAME, "rename", AT_FDCWD, to))
		return -1;
	return f(from, to);
}

int renameat(int fromfd, const char *from, int tofd, const char *to)
{
	REAL(renameat_fn, f, "renameat");

	if (fault_at(OP_RENAME, "rename", tofd, to))
		return -1;
	return f(fromfd, from, tofd, to);
}

int unlink(const char *path)
{
	REAL(unlink_fn, f, "unlink");

	if (fault_at(OP_UNLINK, "unlink", AT_FDCWD, path))
		return -1;
	return f(path);
}

int unlinkat(int dirfd, const char *path, int flags)
{
	REAL(unlinkat_fn, f, "unlinkat");

	if (fault_at(OP_UNLINK, "unlink", dirfd, path))
		return -1;
	return f(dirfd, path, flags);
}

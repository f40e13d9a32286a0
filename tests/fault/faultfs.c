/* faultfs.c -- LD_PRELOAD shim that fails or slows a daemon's writes and syncs on command.
 * What it interposes, when and how is in faultfs.h.
 *
 * Each hook loads the shared flags once (acquire); with none of its flags set it goes straight
 * to the next definition of the symbol (libc, or a sanitizer's interceptor in front of libc),
 * found with dlsym(RTLD_NEXT). Only then does it ask /proc/self/fd which file the descriptor
 * is, so the cost of a fault-free call is that one load. errno is left untouched unless a
 * fault is injected.
 *
 * Thread: the constructor maps the control file and resolves every next symbol before main(),
 * when the process has one thread; after that `ctl`, `prefix` and `real` are read-only. A
 * hook called earlier (by another library's constructor) resolves them itself, still single-
 * threaded. The hooks touch nothing else but the shared block's atomics.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "fault/faultfs.h"

/* Exported hooks are libc's own names, declared by libc's headers; these statics are ours. */
static struct {
	ssize_t (*write)(int, const void *, size_t);
	ssize_t (*writev)(int, const struct iovec *, int);
	ssize_t (*pwrite)(int, const void *, size_t, off_t);
	ssize_t (*pwrite64)(int, const void *, size_t, off64_t);
	ssize_t (*pwritev)(int, const struct iovec *, int, off_t);
	ssize_t (*pwritev64)(int, const struct iovec *, int, off64_t);
	ssize_t (*pwritev2)(int, const struct iovec *, int, off_t, int);
	ssize_t (*pwritev64v2)(int, const struct iovec *, int, off64_t, int);
	int (*fallocate)(int, int, off_t, off_t);
	int (*fallocate64)(int, int, off64_t, off64_t);
	int (*posix_fallocate)(int, off_t, off_t);
	int (*posix_fallocate64)(int, off64_t, off64_t);
	int (*fsync)(int);
	int (*fdatasync)(int);
	int (*sync_file_range)(int, off64_t, off64_t, unsigned int);
} real;

static bool resolved;
static struct ffs_ctl *ctl;          /* NULL: pass everything through */
static char prefix[FFS_PREFIX_MAX];  /* copied at load: the runner cannot move it under us */
static size_t prefix_len;

#define RESOLVE(name) (*(void **)(&real.name) = dlsym(RTLD_NEXT, #name))

static void resolve(void)
{
	RESOLVE(write);
	RESOLVE(writev);
	RESOLVE(pwrite);
	RESOLVE(pwrite64);
	RESOLVE(pwritev);
	RESOLVE(pwritev64);
	RESOLVE(pwritev2);
	RESOLVE(pwritev64v2);
	RESOLVE(fallocate);
	RESOLVE(fallocate64);
	RESOLVE(posix_fallocate);
	RESOLVE(posix_fallocate64);
	RESOLVE(fsync);
	RESOLVE(fdatasync);
	RESOLVE(sync_file_range);
	resolved = true;
}

static void map_ctl(void)
{
	const char *path = getenv(FFS_ENV);
	struct ffs_ctl *c;
	struct stat st;
	int fd;

	if (path == NULL || path[0] == '\0')
		return;
	fd = open(path, O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return;
	if (fstat(fd, &st) != 0 || st.st_size < (off_t)sizeof *c) {
		close(fd);
		return;
	}
	c = mmap(NULL, sizeof *c, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	close(fd);
	if (c == MAP_FAILED)
		return;
	if (__atomic_load_n(&c->magic, __ATOMIC_ACQUIRE) != FFS_MAGIC ||
	    c->version != FFS_VERSION || c->prefix[0] != '/' ||
	    memchr(c->prefix, '\0', sizeof c->prefix) == NULL) {
		munmap(c, sizeof *c);
		return;
	}
	memcpy(prefix, c->prefix, sizeof prefix);
	prefix_len = strlen(prefix);
	while (prefix_len > 1 && prefix[prefix_len - 1] == '/')
		prefix[--prefix_len] = '\0';
	ctl = c;
}

__attribute__((constructor)) static void faultfs_init(void)
{
	int saved = errno;

	if (!resolved)
		resolve();
	map_ctl();
	errno = saved;
}

/* The flags in force for this call, resolving the next symbols if no constructor ran yet. */
static inline uint32_t flags_now(void)
{
	if (__builtin_expect(!resolved, 0))
		resolve();
	if (ctl == NULL)
		return 0;
	return atomic_load_explicit(&ctl->flags, memory_order_acquire);
}

/* Whether @fd is a file at or under the prefix. Keeps errno. */
static bool fd_in_prefix(int fd)
{
	char link[32], path[PATH_MAX];
	int saved = errno;
	ssize_t n;

	snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
	n = readlink(link, path, sizeof path - 1);
	errno = saved;
	if (n <= 0)
		return false;
	path[n] = '\0';
	/* sockets and pipes read "socket:[123]", anonymous files "anon_inode:[eventfd]" */
	if (strncmp(path, prefix, prefix_len) != 0)
		return false;
	return path[prefix_len] == '\0' || path[prefix_len] == '/' ||
	       (prefix_len == 1 && prefix[0] == '/');
}

/* Whether to fail a call on @fd that @flag applies to; counts the hit. */
static bool inject(uint32_t flag, int fd)
{
	if (!(flags_now() & flag) || !fd_in_prefix(fd))
		return false;
	atomic_fetch_add_explicit(&ctl->hits, 1, memory_order_relaxed);
	return true;
}

/* fsync and fdatasync: sleep if slow, then whether to fail with EIO. */
static bool sync_fault(int fd)
{
	uint32_t f = flags_now();
	struct timespec ts;
	unsigned ms;

	if (!(f & (FFS_FSYNC_EIO | FFS_FSYNC_SLOW)) || !fd_in_prefix(fd))
		return false;
	if (f & FFS_FSYNC_SLOW) {
		ms = atomic_load_explicit(&ctl->fsync_delay_ms, memory_order_relaxed);
		ts.tv_sec = ms / 1000;
		ts.tv_nsec = (long)(ms % 1000) * 1000000L;
		/* an interrupted sleep resumes: the delay is a lower bound the tests rely on */
		while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
			;
		atomic_fetch_add_explicit(&ctl->hits, 1, memory_order_relaxed);
	}
	if (f & FFS_FSYNC_EIO) {
		atomic_fetch_add_explicit(&ctl->hits, 1, memory_order_relaxed);
		return true;
	}
	return false;
}

/* A symbol the C library lacks (pwritev2 on an old one) fails like the missing syscall. */
#define CALL_REAL(name, ...) \
	(real.name != NULL ? real.name(__VA_ARGS__) : (errno = ENOSYS, -1))

ssize_t write(int fd, const void *buf, size_t n)
{
	if (inject(FFS_WRITE_ENOSPC, fd)) {
		errno = ENOSPC;
		return -1;
	}
	return CALL_REAL(write, fd, buf, n);
}

ssize_t writev(int fd, const struct iovec *iov, int cnt)
{
	if (inject(FFS_WRITE_ENOSPC, fd)) {
		errno = ENOSPC;
		return -1;
	}
	return CALL_REAL(writev, fd, iov, cnt);
}

ssize_t pwrite(int fd, const void *buf, size_t n, off_t off)
{
	if (inject(FFS_WRITE_ENOSPC, fd)) {
		errno = ENOSPC;
		return -1;
	}
	return CALL_REAL(pwrite, fd, buf, n, off);
}

ssize_t pwrite64(int fd, const void *buf, size_t n, off64_t off)
{
	if (inject(FFS_WRITE_ENOSPC, fd)) {
		errno = ENOSPC;
		return -1;
	}
	return CALL_REAL(pwrite64, fd, buf, n, off);
}

ssize_t pwritev(int fd, const struct iovec *iov, int cnt, off_t off)
{
	if (inject(FFS_WRITE_ENOSPC, fd)) {
		errno = ENOSPC;
		return -1;
	}
	return CALL_REAL(pwritev, fd, iov, cnt, off);
}

ssize_t pwritev64(int fd, const struct iovec *iov, int cnt, off64_t off)
{
	if (inject(FFS_WRITE_ENOSPC, fd)) {
		errno = ENOSPC;
		return -1;
	}
	return CALL_REAL(pwritev64, fd, iov, cnt, off);
}

ssize_t pwritev2(int fd, const struct iovec *iov, int cnt, off_t off, int fl)
{
	if (inject(FFS_WRITE_ENOSPC, fd)) {
		errno = ENOSPC;
		return -1;
	}
	return CALL_REAL(pwritev2, fd, iov, cnt, off, fl);
}

ssize_t pwritev64v2(int fd, const struct iovec *iov, int cnt, off64_t off, int fl)
{
	if (inject(FFS_WRITE_ENOSPC, fd)) {
		errno = ENOSPC;
		return -1;
	}
	return CALL_REAL(pwritev64v2, fd, iov, cnt, off, fl);
}

int fallocate(int fd, int mode, off_t off, off_t len)
{
	if (inject(FFS_WRITE_ENOSPC, fd)) {
		errno = ENOSPC;
		return -1;
	}
	return CALL_REAL(fallocate, fd, mode, off, len);
}

int fallocate64(int fd, int mode, off64_t off, off64_t len)
{
	if (inject(FFS_WRITE_ENOSPC, fd)) {
		errno = ENOSPC;
		return -1;
	}
	return CALL_REAL(fallocate64, fd, mode, off, len);
}

/* posix_fallocate returns the error instead of setting errno */
int posix_fallocate(int fd, off_t off, off_t len)
{
	if (inject(FFS_WRITE_ENOSPC, fd))
		return ENOSPC;
	return real.posix_fallocate != NULL ? real.posix_fallocate(fd, off, len) : ENOSYS;
}

int posix_fallocate64(int fd, off64_t off, off64_t len)
{
	if (inject(FFS_WRITE_ENOSPC, fd))
		return ENOSPC;
	return real.posix_fallocate64 != NULL ? real.posix_fallocate64(fd, off, len) : ENOSYS;
}

int fsync(int fd)
{
	if (sync_fault(fd)) {
		errno = EIO;
		return -1;
	}
	return CALL_REAL(fsync, fd);
}

int fdatasync(int fd)
{
	if (sync_fault(fd)) {
		errno = EIO;
		return -1;
	}
	return CALL_REAL(fdatasync, fd);
}

/* only the EIO fault: a slow sync_file_range is not something storage waits on */
int sync_file_range(int fd, off64_t off, off64_t n, unsigned int fl)
{
	if (inject(FFS_FSYNC_EIO, fd)) {
		errno = EIO;
		return -1;
	}
	return CALL_REAL(sync_file_range, fd, off, n, fl);
}

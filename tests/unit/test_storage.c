/* test_storage.c -- main() of tests/test_storage and the helpers in test_storage.h. */
#define _GNU_SOURCE
#include "unit/test_storage.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "harness/runner.h"

static bool should_fail(atomic_long *count, long at, bool sticky)
{
	long n = atomic_fetch_add(count, 1) + 1;

	return at > 0 && (n == at || (sticky && n > at));
}

static ssize_t f_pwrite(void *data, int fd, const void *buf, size_t n, off_t off)
{
	struct fault_io *f = data;

	if (should_fail(&f->pwrites, f->pwrite_fail_at, f->sticky)) {
		if (f->pwrite_short && n > 1) {
			f->pwrite_short = false;
			return pwrite(fd, buf, n / 2, off); /* the rest fails on the next call */
		}
		errno = f->pwrite_errno ? f->pwrite_errno : ENOSPC;
		return -1;
	}
	return pwrite(fd, buf, n, off);
}

static int f_fdatasync(void *data, int fd)
{
	struct fault_io *f = data;

	if (should_fail(&f->fdatasyncs, f->fdatasync_fail_at, f->sticky)) {
		errno = f->fdatasync_errno ? f->fdatasync_errno : EIO;
		return -1;
	}
	return fdatasync(fd);
}

static int f_fsync(void *data, int fd)
{
	struct fault_io *f = data;

	if (should_fail(&f->fsyncs, f->fsync_fail_at, f->sticky)) {
		errno = EIO;
		return -1;
	}
	return fsync(fd);
}

static int f_ftruncate(void *data, int fd, off_t len)
{
	struct fault_io *f = data;

	atomic_fetch_add(&f->ftruncates, 1);
	return ftruncate(fd, len);
}

static int f_fallocate(void *data, int fd, off_t off, off_t len)
{
	struct fault_io *f = data;

	if (should_fail(&f->fallocates, f->fallocate_fail_at, f->sticky)) {
		errno = ENOSPC;
		return -1;
	}
	return fallocate(fd, 0, off, len);
}

void fault_io_init(struct fault_io *f)
{
	memset(f, 0, sizeof *f);
	f->io.data = f;
	f->io.pwrite = f_pwrite;
	f->io.fdatasync = f_fdatasync;
	f->io.fsync = f_fsync;
	f->io.ftruncate = f_ftruncate;
	f->io.fallocate = f_fallocate;
}

uint64_t test_rand(uint64_t *s)
{
	uint64_t x = *s ? *s : 0x9E3779B97F4A7C15ull;

	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	*s = x;
	return x * 0x2545F4914F6CDD1Dull;
}

void test_fill(void *p, size_t n, uint64_t seed)
{
	uint8_t *b = p;
	uint64_t s = seed * 2654435761u + 1;

	for (size_t i = 0; i < n; i++)
		b[i] = (uint8_t)(test_rand(&s) >> 56);
}

char *capture_stderr(void (*fn)(void *arg), void *arg)
{
	char tmpl[] = "/tmp/raftkv-stderr-XXXXXX";
	int fd = mkstemp(tmpl), saved;
	size_t len;
	char *out;

	CU_ASSERT_FATAL(fd >= 0);
	unlink(tmpl);
	fflush(stderr);
	saved = dup(STDERR_FILENO);
	dup2(fd, STDERR_FILENO);
	fn(arg);
	fflush(stderr);
	dup2(saved, STDERR_FILENO);
	close(saved);
	len = (size_t)lseek(fd, 0, SEEK_END);
	out = calloc(1, len + 1);
	CU_ASSERT_FATAL(out != NULL);
	if (pread(fd, out, len, 0) != (ssize_t)len)
		out[0] = '\0';
	close(fd);
	/* keep the lines visible in the test output */
	fputs(out, stderr);
	return out;
}

uint8_t *slurp(const char *path, size_t *len)
{
	struct stat st;
	uint8_t *p;
	int fd = open(path, O_RDONLY);

	CU_ASSERT_FATAL(fd >= 0);
	CU_ASSERT_FATAL(fstat(fd, &st) == 0);
	p = malloc((size_t)st.st_size + 1);
	CU_ASSERT_FATAL(p != NULL);
	CU_ASSERT_FATAL(pread(fd, p, (size_t)st.st_size, 0) == st.st_size);
	close(fd);
	*len = (size_t)st.st_size;
	return p;
}

void spit(const char *path, const void *p, size_t len)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);

	CU_ASSERT_FATAL(fd >= 0);
	CU_ASSERT_FATAL(write(fd, p, len) == (ssize_t)len);
	close(fd);
}

char *path_join(const char *dir, const char *name)
{
	char *p;

	CU_ASSERT_FATAL(asprintf(&p, "%s/%s", dir, name) >= 0);
	return p;
}

size_t count_files(const char *dir, const char *substr)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	size_t n = 0;

	if (d == NULL)
		return 0;
	while ((de = readdir(d)) != NULL)
		if (de->d_name[0] != '.' && strstr(de->d_name, substr) != NULL)
			n++;
	closedir(d);
	return n;
}

static CU_SuiteInfo suites[] = {
	{ "crc32c", NULL, NULL, NULL, NULL, crc32c_tests },
	{ "wal", NULL, NULL, NULL, NULL, wal_tests },
	{ "meta", NULL, NULL, NULL, NULL, meta_tests },
	{ "snapfile", NULL, NULL, NULL, NULL, snapfile_tests },
	CU_SUITE_INFO_NULL,
};

int main(int argc, char **argv)
{
	return rk_test_main(argc, argv, suites);
}

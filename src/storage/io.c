/* io.c -- libc io table and shared helpers; see io.h. */
#define _GNU_SOURCE /* fallocate() */
#include "storage/io.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static ssize_t libc_pwrite(void *data, int fd, const void *buf, size_t n, off_t off)
{
	(void)data;
	return pwrite(fd, buf, n, off);
}

static int libc_fdatasync(void *data, int fd)
{
	(void)data;
	return fdatasync(fd);
}

static int libc_fsync(void *data, int fd)
{
	(void)data;
	return fsync(fd);
}

static int libc_ftruncate(void *data, int fd, off_t len)
{
	(void)data;
	return ftruncate(fd, len);
}

static int libc_fallocate(void *data, int fd, off_t off, off_t len)
{
	(void)data;
	return fallocate(fd, 0, off, len);
}

const struct rk_storage_io rk_storage_io_libc = {
	.data = NULL,
	.pwrite = libc_pwrite,
	.fdatasync = libc_fdatasync,
	.fsync = libc_fsync,
	.ftruncate = libc_ftruncate,
	.fallocate = libc_fallocate,
};

static int nosync_sync(void *data, int fd)
{
	(void)data;
	(void)fd;
	return 0;
}

const struct rk_storage_io rk_storage_io_nosync = {
	.data = NULL,
	.pwrite = libc_pwrite,
	.fdatasync = nosync_sync,
	.fsync = nosync_sync,
	.ftruncate = libc_ftruncate,
	.fallocate = libc_fallocate,
};

int rk_storage_errno_code(int sys_errno)
{
	return sys_errno == ENOSPC || sys_errno == EDQUOT ? RK_ENOSPC : RK_EIO;
}

int rk_storage_pwrite_all(const struct rk_storage_io *io, int fd, const void *buf, size_t n,
			  off_t off, size_t *done)
{
	const char *p = buf;
	size_t left = n;
	ssize_t w;

	while (left > 0) {
		w = io->pwrite(io->data, fd, p, left, off);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		if (w == 0) {
			/* A regular file never takes zero bytes without an error; do not spin. */
			errno = EIO;
			break;
		}
		p += w;
		off += w;
		left -= (size_t)w;
	}
	if (done != NULL)
		*done = n - left;
	return left == 0 ? 0 : -1;
}

ssize_t rk_storage_pread_full(int fd, void *buf, size_t n, off_t off)
{
	char *p = buf;
	size_t got = 0;
	ssize_t r;

	while (got < n) {
		r = pread(fd, p + got, n - got, off + (off_t)got);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		if (r == 0)
			break;
		got += (size_t)r;
	}
	return (ssize_t)got;
}

int rk_storage_fsync_dir(const struct rk_storage_io *io, int dir_fd, const char *dir,
			 struct rk_err *err)
{
	if (io->fsync(io->data, dir_fd) != 0)
		return rk_err_errno(err, rk_storage_errno_code(errno), errno, "fsync directory %s",
				    dir);
	return RK_OK;
}

int rk_storage_mkdir(const struct rk_storage_io *io, const char *dir, struct rk_err *err)
{
	char *copy;
	int fd, rv;

	if (mkdir(dir, 0700) != 0) {
		if (errno == EEXIST)
			return RK_OK;
		return rk_err_errno(err, rk_storage_errno_code(errno), errno, "mkdir %s", dir);
	}
	copy = strdup(dir); /* dirname() may modify its argument */
	if (copy == NULL)
		return rk_err_set(err, RK_ENOMEM, "mkdir %s", dir);
	fd = open(dirname(copy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0) {
		rv = rk_err_errno(err, RK_EIO, errno, "open parent of %s", dir);
	} else {
		rv = rk_storage_fsync_dir(io, fd, dir, err);
		close(fd);
	}
	free(copy);
	return rv;
}

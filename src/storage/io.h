/* io.h -- the syscalls storage makes durable data with, behind a table tests can replace.
 *
 * Every write, sync and size change of the WAL, meta and snapshot files goes through a struct
 * rk_storage_io so that a test can make the Nth write fail with ENOSPC or EIO, return short, or
 * count fdatasync calls. Reads and renames go straight to libc: a failure there is reported but
 * never leaves durable state in doubt. Functions follow the libc convention (-1 and errno), so a
 * hook can forward to libc after deciding not to fail. Also: little-endian codecs for on-disk
 * integers (never memcpy a struct to disk) and small helpers shared by the storage files.
 *
 * Thread: an io table is read-only once installed; the hooks themselves must be thread-safe if
 * the object using them is (the WAL calls them from whichever appender flushes).
 */
#ifndef RK_STORAGE_IO_H
#define RK_STORAGE_IO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "common/err.h"

struct rk_storage_io {
	void *data; /* passed back to every hook */
	ssize_t (*pwrite)(void *data, int fd, const void *buf, size_t n, off_t off);
	int (*fdatasync)(void *data, int fd);
	int (*fsync)(void *data, int fd);
	int (*ftruncate)(void *data, int fd, off_t len);
	int (*fallocate)(void *data, int fd, off_t off, off_t len); /* mode 0 */
};

/* Plain libc; what a NULL io pointer means everywhere in storage. */
extern const struct rk_storage_io rk_storage_io_libc;

/* libc without fsync/fdatasync ([storage] fsync = false): writes reach the page cache only,
 * so a machine crash (not a process crash) can lose acknowledged writes. */
extern const struct rk_storage_io rk_storage_io_nosync;

/* RK_ENOSPC for ENOSPC/EDQUOT (the operator can free space), RK_EIO for anything else. */
int rk_storage_errno_code(int sys_errno);

/* pwrite all of @n bytes at @off, retrying short writes and EINTR. On failure returns -1 with
 * errno set; *@done (if not NULL) says how many bytes did reach the file. */
int rk_storage_pwrite_all(const struct rk_storage_io *io, int fd, const void *buf, size_t n,
			  off_t off, size_t *done);

/* pread exactly @n bytes at @off; returns bytes read (less than @n only at end of file) or -1. */
ssize_t rk_storage_pread_full(int fd, void *buf, size_t n, off_t off);

/* Create directory @dir if missing (one level) and then fsync its parent, so that the new
 * directory itself survives a crash along with what goes into it. Errors: RK_EIO, RK_ENOSPC. */
int rk_storage_mkdir(const struct rk_storage_io *io, const char *dir, struct rk_err *err);

/* fsync the directory @dir_fd so that creates, renames and unlinks in it are durable. */
int rk_storage_fsync_dir(const struct rk_storage_io *io, int dir_fd, const char *dir,
			 struct rk_err *err);

static inline void rk_put_le16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

static inline void rk_put_le32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static inline void rk_put_le64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static inline uint16_t rk_get_le16(const uint8_t *p)
{
	return (uint16_t)(p[0] | (p[1] << 8));
}

static inline uint32_t rk_get_le32(const uint8_t *p)
{
	uint32_t v = 0;

	for (int i = 3; i >= 0; i--)
		v = (v << 8) | p[i];
	return v;
}

static inline uint64_t rk_get_le64(const uint8_t *p)
{
	uint64_t v = 0;

	for (int i = 7; i >= 0; i--)
		v = (v << 8) | p[i];
	return v;
}

#endif

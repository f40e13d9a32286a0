/* meta.c -- hard state in two alternating checksummed slots; see meta.h.
 *
 * The slots sit 512 bytes apart so that each is inside its own sector: a torn write of one
 * cannot touch the other. The file is created complete (temp file, fsync, rename, fsync dir),
 * so a "meta" file with no valid slot is corruption, never a crash artifact.
 * Thread: owned by the log writer thread.
 */
#include "storage/meta.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stddef.h>
#include <stdio.h> /* renameat() */
#include <stdint.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/log.h"
#include "common/mem.h"
#include "storage/crc32c.h"

struct meta_slot_disk {
	char magic[8];       /* SLOT_MAGIC */
	uint8_t seq[8];      /* bumped by every save; the higher valid one wins */
	uint8_t term[8];
	uint8_t vote[8];
	uint8_t commit[8];
	uint8_t reserved[4]; /* zero */
	uint8_t crc[4];      /* CRC32C of bytes [0, 44) */
};
_Static_assert(sizeof(struct meta_slot_disk) == 48, "meta slot is 48 bytes");
_Static_assert(offsetof(struct meta_slot_disk, term) == 16, "meta slot layout");
_Static_assert(offsetof(struct meta_slot_disk, crc) == 44, "meta slot layout");

#define SLOT_MAGIC "RKMETA01"
#define SLOT_SIZE ((size_t)sizeof(struct meta_slot_disk))
#define SLOT_STRIDE 512
#define META_NAME "meta"
#define META_TMP "meta.tmp"

struct rk_meta {
	char *dir;
	int dir_fd;
	int fd;
	const struct rk_storage_io *io;
	uint64_t seq;  /* sequence of the newest slot on disk; it lives in slot seq % 2 */
	int fail_code; /* RK_OK, or the error that stopped us */
};

static void encode_slot(uint8_t *p, uint64_t seq, const struct rk_hard_state *hs)
{
	memset(p, 0, SLOT_SIZE);
	memcpy(p, SLOT_MAGIC, 8);
	rk_put_le64(p + offsetof(struct meta_slot_disk, seq), seq);
	rk_put_le64(p + offsetof(struct meta_slot_disk, term), hs->term);
	rk_put_le64(p + offsetof(struct meta_slot_disk, vote), hs->vote);
	rk_put_le64(p + offsetof(struct meta_slot_disk, commit), hs->commit);
	rk_put_le32(p + offsetof(struct meta_slot_disk, crc),
		    rk_crc32c(0, p, offsetof(struct meta_slot_disk, crc)));
}

static bool decode_slot(const uint8_t *p, uint64_t *seq, struct rk_hard_state *hs)
{
	if (memcmp(p, SLOT_MAGIC, 8) != 0 ||
	    rk_get_le32(p + offsetof(struct meta_slot_disk, crc)) !=
		    rk_crc32c(0, p, offsetof(struct meta_slot_disk, crc)))
		return false;
	*seq = rk_get_le64(p + offsetof(struct meta_slot_disk, seq));
	hs->term = rk_get_le64(p + offsetof(struct meta_slot_disk, term));
	hs->vote = rk_get_le64(p + offsetof(struct meta_slot_disk, vote));
	hs->commit = rk_get_le64(p + offsetof(struct meta_slot_disk, commit));
	return true;
}

static int fail(struct rk_meta *m, struct rk_err *err, const char *what)
{
	int code = rk_storage_errno_code(errno);

	m->fail_code = code;
	return rk_err_errno(err, code, errno, "%s %s/%s", what, m->dir, META_NAME);
}

/* Write a complete new file: slot 0 holds the zero state with sequence 1. */
static int create_file(struct rk_meta *m, struct rk_err *err)
{
	uint8_t buf[2 * SLOT_STRIDE] = { 0 };
	struct rk_hard_state zero = { 0 };
	int fd, rv;

	encode_slot(buf, 1, &zero);
	fd = openat(m->dir_fd, META_TMP, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return rk_err_errno(err, rk_storage_errno_code(errno), errno, "create %s/%s",
				    m->dir, META_TMP);
	if (rk_storage_pwrite_all(m->io, fd, buf, sizeof buf, 0, NULL) != 0 ||
	    m->io->fsync(m->io->data, fd) != 0) {
		rv = rk_err_errno(err, rk_storage_errno_code(errno), errno, "write %s/%s", m->dir,
				  META_TMP);
		goto err_unlink;
	}
	close(fd);
	if (renameat(m->dir_fd, META_TMP, m->dir_fd, META_NAME) != 0)
		return rk_err_errno(err, RK_EIO, errno, "rename %s/%s", m->dir, META_TMP);
	return rk_storage_fsync_dir(m->io, m->dir_fd, m->dir, err);
err_unlink:
	close(fd);
	unlinkat(m->dir_fd, META_TMP, 0);
	return rv;
}

static bool all_zero(const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (p[i] != 0)
			return false;
	}
	return true;
}

static int load(struct rk_meta *m, struct rk_hard_state *hs, struct rk_err *err)
{
	uint8_t buf[2 * SLOT_STRIDE] = { 0 };
	struct rk_hard_state st[2];
	uint64_t seq[2];
	bool ok[2];
	ssize_t got;

	got = rk_storage_pread_full(m->fd, buf, sizeof buf, 0);
	if (got < 0)
		return rk_err_errno(err, RK_EIO, errno, "read %s/%s", m->dir, META_NAME);
	for (int i = 0; i < 2; i++) {
		ok[i] = decode_slot(buf + i * SLOT_STRIDE, &seq[i], &st[i]);
		/* A slot never written yet (all zeros: a new file has only slot 0) is no damage. */
		if (!ok[i] && !all_zero(buf + i * SLOT_STRIDE, SLOT_STRIDE))
			rk_log(RK_LOG_WARN, "meta %s/%s: slot %d at offset %d is not valid", m->dir,
			       META_NAME, i, i * SLOT_STRIDE);
	}
	if (!ok[0] && !ok[1])
		return rk_err_set(err, RK_ECORRUPT, "meta %s/%s: both slots (offsets 0 and %d) fail their checksum; the term and vote are lost",
				  m->dir, META_NAME, SLOT_STRIDE);
	int pick = !ok[0] || (ok[1] && seq[1] > seq[0]) ? 1 : 0;

	m->seq = seq[pick];
	*hs = st[pick];
	return RK_OK;
}

int rk_meta_open(const char *dir, const struct rk_storage_io *io, struct rk_meta **out,
		 struct rk_hard_state *hs, struct rk_err *err)
{
	struct rk_meta *m;
	size_t dlen = strlen(dir);
	int rv;

	m = rk_calloc(1, sizeof *m);
	if (m == NULL)
		return rk_err_set(err, RK_ENOMEM, "meta");
	m->io = io != NULL ? io : &rk_storage_io_libc;
	m->fd = -1;
	m->dir = rk_malloc(dlen + 1);
	if (m->dir == NULL) {
		rv = rk_err_set(err, RK_ENOMEM, "meta");
		goto err_free;
	}
	memcpy(m->dir, dir, dlen + 1);
	rv = rk_storage_mkdir(m->io, dir, err);
	if (rv != RK_OK)
		goto err_free_dir;
	m->dir_fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (m->dir_fd < 0) {
		rv = rk_err_errno(err, RK_EIO, errno, "open %s", dir);
		goto err_free_dir;
	}
	/* a temp file is a creation that did not finish: the real file never existed */
	unlinkat(m->dir_fd, META_TMP, 0);
	m->fd = openat(m->dir_fd, META_NAME, O_RDWR | O_CLOEXEC);
	if (m->fd < 0 && errno == ENOENT) {
		rv = create_file(m, err);
		if (rv != RK_OK)
			goto err_close_dir;
		m->fd = openat(m->dir_fd, META_NAME, O_RDWR | O_CLOEXEC);
	}
	if (m->fd < 0) {
		rv = rk_err_errno(err, RK_EIO, errno, "open %s/%s", dir, META_NAME);
		goto err_close_dir;
	}
	rv = load(m, hs, err);
	if (rv != RK_OK)
		goto err_close_fd;
	*out = m;
	return RK_OK;
err_close_fd:
	close(m->fd);
err_close_dir:
	close(m->dir_fd);
err_free_dir:
	rk_free(m->dir);
err_free:
	rk_free(m);
	return rv;
}

int rk_meta_save(struct rk_meta *m, const struct rk_hard_state *hs, struct rk_err *err)
{
	uint8_t slot[SLOT_SIZE];
	uint64_t seq = m->seq + 1;
	off_t off = (off_t)(seq % 2) * SLOT_STRIDE;

	if (m->fail_code != RK_OK)
		return rk_err_set(err, RK_ESTOPPED, "meta %s/%s stopped by an earlier error",
				  m->dir, META_NAME);
	encode_slot(slot, seq, hs);
	if (rk_storage_pwrite_all(m->io, m->fd, slot, sizeof slot, off, NULL) != 0)
		return fail(m, err, "write");
	if (m->io->fdatasync(m->io->data, m->fd) != 0)
		return fail(m, err, "fdatasync");
	m->seq = seq;
	return RK_OK;
}

void rk_meta_close(struct rk_meta *m)
{
	if (m == NULL)
		return;
	close(m->fd);
	close(m->dir_fd);
	rk_free(m->dir);
	rk_free(m);
}

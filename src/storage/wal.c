/* wal.c -- segmented WAL with group commit; see wal.h for the contract, docs/storage.md for
 * the byte layout and the recovery rules.
 *
 * In memory each segment keeps the file offset of every record it holds (4 bytes per entry), so
 * a read is one binary search over segments plus one pread. Appenders encode records into
 * w->fill under w->lock and note there where a record starts a new segment ("rolls"); the
 * flusher swaps w->fill with the empty w->spare, drops the lock, writes the batch segment by
 * segment, and fdatasyncs once. A segment is closed (cut to its used size and fdatasynced)
 * before the next one is created, so every segment but the last is complete on disk: recovery
 * treats any bad byte in them as corruption and only the last one can have a torn tail.
 *
 * Locks: w->lock guards the state below; w->files_lock (taken before w->lock) keeps segment
 * fds open while a reader preads without w->lock. Only one thread does file I/O for appends or
 * truncation at a time (w->flushing); truncation, compaction and reset also set w->exclusive,
 * which holds off new appends until the segment list is consistent again.
 *
 * Thread: all entry points are thread-safe; the server's log writer thread owns the WAL.
 */
#define _GNU_SOURCE /* SEEK_DATA, SEEK_HOLE */
#include "storage/wal.h"

#include <assert.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/check.h"
#include "common/log.h"
#include "common/mem.h"
#include "storage/crc32c.h"

/* Segment header, at offset 0 of every segment file. */
struct seg_hdr_disk {
	char magic[8];        /* SEG_MAGIC */
	uint8_t version[4];   /* SEG_VERSION */
	uint8_t hdr_size[4];  /* SEG_HDR: lets a later version grow the header */
	uint8_t first[8];     /* index of the first record; equals the number in the file name */
	uint8_t reserved[4];  /* zero */
	uint8_t crc[4];       /* CRC32C of bytes [0, 28) */
};
_Static_assert(sizeof(struct seg_hdr_disk) == 32, "segment header is 32 bytes");
_Static_assert(offsetof(struct seg_hdr_disk, first) == 16, "segment header layout");
_Static_assert(offsetof(struct seg_hdr_disk, crc) == 28, "segment header layout");

/* Record header; the payload follows, then zero padding to a multiple of 8 bytes. */
struct rec_hdr_disk {
	uint8_t crc[4];      /* CRC32C of header bytes [4, 32) and the payload (not the padding) */
	uint8_t len[4];      /* payload bytes */
	uint8_t index[8];
	uint8_t term[8];
	uint8_t rtype;       /* REC_ENTRY */
	uint8_t etype;       /* enum rk_entry_type */
	uint8_t reserved[6]; /* zero */
};
_Static_assert(sizeof(struct rec_hdr_disk) == 32, "record header is 32 bytes");
_Static_assert(offsetof(struct rec_hdr_disk, len) == 4, "record header layout");
_Static_assert(offsetof(struct rec_hdr_disk, index) == 8, "record header layout");
_Static_assert(offsetof(struct rec_hdr_disk, term) == 16, "record header layout");
_Static_assert(offsetof(struct rec_hdr_disk, rtype) == 24, "record header layout");

#define SEG_MAGIC "RKWALSG1"
#define SEG_VERSION 1
#define SEG_HDR ((uint64_t)sizeof(struct seg_hdr_disk))
#define REC_HDR ((uint64_t)sizeof(struct rec_hdr_disk))
#define REC_ENTRY 1
#define SEG_NAME_LEN 28 /* "wal-" + 20 digits + ".seg" */
#define RESET_TMP "wal-reset.tmp"
#define MIN_SEGMENT_SIZE 4096
#define SPARE_KEEP (8u << 20) /* largest batch buffer kept between flushes */
#define RANGE_CHUNK (4u << 20) /* bytes per pread of rk_wal_read_range() */

struct seg {
	rk_index first;  /* index of its first record */
	rk_index count;  /* records in it, buffered ones included */
	uint32_t *offs;  /* file offset of each record; count used, cap allocated */
	size_t cap;
	uint64_t size;   /* logical end: header + all records, buffered included */
	uint64_t written; /* bytes in the file; only the flusher or the exclusive owner touch it */
	int fd;          /* -1 until the flusher has created the file */
};

struct roll {
	size_t off;      /* batch offset where @seg's records start */
	struct seg *seg; /* segment to create before writing them */
};

struct batch {
	uint8_t *buf;
	size_t len, cap;
	struct roll *rolls;
	size_t nrolls, rolls_cap;
};

struct rk_wal {
	pthread_mutex_t lock;          /* guards the fields below unless they say otherwise */
	pthread_cond_t cv;             /* durable, flushing, exclusive or fail_code changed */
	pthread_rwlock_t files_lock;   /* rd: a reader using a segment fd; wr: closing/unlinking */
	char *dir;                     /* immutable after open */
	int dir_fd;                    /* immutable after open */
	const struct rk_storage_io *io; /* immutable after open */
	uint64_t seg_size;             /* immutable after open */
	bool prealloc;                 /* cleared when the filesystem lacks fallocate */
	struct seg **segs;             /* ordered by first index; segs[nsegs - 1] is the tail */
	size_t nsegs, segs_cap;
	struct seg *wseg;              /* where the next flush starts writing; always created */
	rk_index last;                 /* last index appended (buffered included) */
	rk_index written;              /* last index written to a file (readable) */
	rk_index durable;              /* last index covered by a successful fdatasync */
	uint64_t seq_appended;         /* records ever appended; never goes back, unlike indexes */
	uint64_t seq_durable;          /* of those, how many a successful fdatasync covered */
	bool flushing;                 /* one thread is doing file I/O without the lock */
	bool exclusive;                /* truncation/compaction running: appends wait */
	struct batch fill;             /* appenders encode here */
	struct batch spare;            /* empty buffer swapped in by the next flush */
	int fail_code;                 /* RK_OK, or the error that stopped the WAL */
	struct rk_err fail_err;        /* its detail */
};

static void seg_name(char *buf, size_t cap, rk_index first)
{
	snprintf(buf, cap, "wal-%020" PRIu64 ".seg", first);
}

static uint64_t rec_size(uint64_t len)
{
	return REC_HDR + ((len + 7) & ~(uint64_t)7);
}

static struct seg *seg_new(rk_index first)
{
	struct seg *s = rk_calloc(1, sizeof *s);

	if (s == NULL)
		return NULL;
	s->first = first;
	s->size = SEG_HDR;
	s->written = SEG_HDR;
	s->fd = -1;
	return s;
}

static void seg_free(struct seg *s)
{
	if (s == NULL)
		return;
	if (s->fd >= 0)
		close(s->fd);
	rk_free(s->offs);
	rk_free(s);
}

static int seg_push_off(struct seg *s, uint64_t off)
{
	if (s->count == s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 1024;
		uint32_t *p = rk_realloc(s->offs, cap * sizeof *p);

		if (p == NULL)
			return RK_ENOMEM;
		s->offs = p;
		s->cap = cap;
	}
	s->offs[s->count++] = (uint32_t)off;
	return RK_OK;
}

static int segs_push(struct rk_wal *w, struct seg *s)
{
	if (w->nsegs == w->segs_cap) {
		size_t cap = w->segs_cap ? w->segs_cap * 2 : 16;
		struct seg **p = rk_realloc(w->segs, cap * sizeof *p);

		if (p == NULL)
			return RK_ENOMEM;
		w->segs = p;
		w->segs_cap = cap;
	}
	w->segs[w->nsegs++] = s;
	return RK_OK;
}

static struct seg *tail_seg(struct rk_wal *w)
{
	return w->segs[w->nsegs - 1];
}

static void encode_seg_hdr(uint8_t *p, rk_index first)
{
	memset(p, 0, SEG_HDR);
	memcpy(p + offsetof(struct seg_hdr_disk, magic), SEG_MAGIC, 8);
	rk_put_le32(p + offsetof(struct seg_hdr_disk, version), SEG_VERSION);
	rk_put_le32(p + offsetof(struct seg_hdr_disk, hdr_size), (uint32_t)SEG_HDR);
	rk_put_le64(p + offsetof(struct seg_hdr_disk, first), first);
	rk_put_le32(p + offsetof(struct seg_hdr_disk, crc),
		    rk_crc32c(0, p, offsetof(struct seg_hdr_disk, crc)));
}

/* True when @p holds a valid header for a segment whose first index is @first. */
static bool seg_hdr_ok(const uint8_t *p, rk_index first)
{
	return memcmp(p, SEG_MAGIC, 8) == 0 &&
	       rk_get_le32(p + offsetof(struct seg_hdr_disk, version)) == SEG_VERSION &&
	       rk_get_le32(p + offsetof(struct seg_hdr_disk, hdr_size)) == SEG_HDR &&
	       rk_get_le64(p + offsetof(struct seg_hdr_disk, first)) == first &&
	       rk_get_le32(p + offsetof(struct seg_hdr_disk, crc)) ==
		       rk_crc32c(0, p, offsetof(struct seg_hdr_disk, crc));
}

static void encode_rec(uint8_t *p, const struct rk_entry *e, rk_index index)
{
	uint32_t len = (uint32_t)e->data.len;
	uint64_t total = rec_size(len);

	memset(p, 0, REC_HDR);
	rk_put_le32(p + offsetof(struct rec_hdr_disk, len), len);
	rk_put_le64(p + offsetof(struct rec_hdr_disk, index), index);
	rk_put_le64(p + offsetof(struct rec_hdr_disk, term), e->term);
	p[offsetof(struct rec_hdr_disk, rtype)] = REC_ENTRY;
	p[offsetof(struct rec_hdr_disk, etype)] = e->type;
	if (len > 0)
		memcpy(p + REC_HDR, e->data.base, len);
	memset(p + REC_HDR + len, 0, total - REC_HDR - len);
	rk_put_le32(p, rk_crc32c(0, p + 4, REC_HDR - 4 + len));
}

/* Is there a complete, checksummed entry record at @p with @avail bytes available? Sets
 * *@total to its size with padding. Never trusts a field before range-checking it. */
static bool rec_ok(const uint8_t *p, uint64_t avail, uint64_t *total)
{
	uint32_t len;

	if (avail < REC_HDR)
		return false;
	len = rk_get_le32(p + offsetof(struct rec_hdr_disk, len));
	if (len > RK_WAL_MAX_ENTRY || rec_size(len) > avail)
		return false;
	if (p[offsetof(struct rec_hdr_disk, rtype)] != REC_ENTRY)
		return false;
	if (rk_get_le32(p) != rk_crc32c(0, p + 4, REC_HDR - 4 + len))
		return false;
	/* the padding is not checksummed but always zero: damage there is damage too */
	for (uint64_t i = REC_HDR + len; i < rec_size(len); i++)
		if (p[i] != 0)
			return false;
	*total = rec_size(len);
	return true;
}

static void set_failed_locked(struct rk_wal *w, int code, const struct rk_err *detail)
{
	if (w->fail_code != RK_OK)
		return;
	w->fail_code = code;
	rk_err_set(&w->fail_err, code, "%s", rk_err_text(detail, code));
	rk_log(RK_LOG_ERROR, "wal %s: stopped: %s", w->dir, w->fail_err.msg);
	pthread_cond_broadcast(&w->cv);
}

static int stopped(struct rk_wal *w, struct rk_err *err)
{
	return rk_err_set(err, RK_ESTOPPED, "wal stopped by an earlier error: %s", w->fail_err.msg);
}

static int io_fail(struct rk_err *err, int sys_errno, const char *what, const char *dir,
		   const char *name)
{
	return rk_err_errno(err, rk_storage_errno_code(sys_errno), sys_errno, "%s %s/%s", what,
			    dir, name);
}

/* Reserve the segment's space up front: later writes then cannot hit ENOSPC for lack of blocks
 * and the file size does not change on every group commit. Best effort on filesystems that
 * lack fallocate; ENOSPC is reported. */
static int maybe_prealloc(struct rk_wal *w, int fd, uint64_t from, const char *name,
			  struct rk_err *err)
{
	if (!w->prealloc || from >= w->seg_size)
		return RK_OK;
	if (w->io->fallocate(w->io->data, fd, (off_t)from, (off_t)(w->seg_size - from)) == 0)
		return RK_OK;
	if (errno == EOPNOTSUPP || errno == ENOSYS) {
		w->prealloc = false; /* benign race: only ever goes true -> false */
		return RK_OK;
	}
	return io_fail(err, errno, "fallocate", w->dir, name);
}

/* Create the file of segment @s (header durable, directory entry durable) and return its fd
 * in *@fd_out. The header is synced before any record goes in, so that a bad header can only
 * mean "crashed while creating": a last segment with a bad header and no records, which
 * recovery rewrites. One more fdatasync per segment is noise. */
static int create_seg_file(struct rk_wal *w, struct seg *s, int *fd_out, struct rk_err *err)
{
	char name[SEG_NAME_LEN + 1];
	uint8_t hdr[SEG_HDR];
	int fd, rv;

	seg_name(name, sizeof name, s->first);
	fd = openat(w->dir_fd, name, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return io_fail(err, errno, "create", w->dir, name);
	rv = maybe_prealloc(w, fd, 0, name, err);
	if (rv != RK_OK)
		goto err_close;
	encode_seg_hdr(hdr, s->first);
	if (rk_storage_pwrite_all(w->io, fd, hdr, sizeof hdr, 0, NULL) != 0) {
		rv = io_fail(err, errno, "write header of", w->dir, name);
		goto err_close;
	}
	if (w->io->fdatasync(w->io->data, fd) != 0) {
		rv = io_fail(err, errno, "fdatasync", w->dir, name);
		goto err_close;
	}
	rv = rk_storage_fsync_dir(w->io, w->dir_fd, w->dir, err);
	if (rv != RK_OK)
		goto err_close;
	*fd_out = fd;
	return RK_OK;
err_close:
	close(fd);
	return rv;
}

/* Write @n batch bytes at the end of @s. Flusher only. */
static int write_seg(struct rk_wal *w, struct seg *s, const uint8_t *p, size_t n,
		     struct rk_err *err)
{
	char name[SEG_NAME_LEN + 1];
	size_t done = 0;

	if (rk_storage_pwrite_all(w->io, s->fd, p, n, (off_t)s->written, &done) == 0) {
		s->written += n;
		return RK_OK;
	}
	seg_name(name, sizeof name, s->first);
	/* Whatever part did land is past the durable end: recovery cuts it as a torn tail. */
	return rk_err_errno(err, rk_storage_errno_code(errno), errno,
			    "write %zu bytes at %s/%s offset %" PRIu64 " (%zu written)", n, w->dir,
			    name, s->written, done);
}

static int sync_seg(struct rk_wal *w, struct seg *s, struct rk_err *err)
{
	char name[SEG_NAME_LEN + 1];

	if (w->io->fdatasync(w->io->data, s->fd) == 0)
		return RK_OK;
	seg_name(name, sizeof name, s->first);
	return io_fail(err, errno, "fdatasync", w->dir, name);
}

/* Cut a full segment to its used size (dropping the preallocated zeros) and make it durable,
 * before the next segment exists: only the last segment may ever have a torn tail. */
static int close_seg_file(struct rk_wal *w, struct seg *s, struct rk_err *err)
{
	char name[SEG_NAME_LEN + 1];

	if (w->io->ftruncate(w->io->data, s->fd, (off_t)s->written) != 0) {
		seg_name(name, sizeof name, s->first);
		return io_fail(err, errno, "ftruncate", w->dir, name);
	}
	return sync_seg(w, s, err);
}

/* Write batch @b starting in @s, creating rolled segments on the way, then one fdatasync.
 * Runs without w->lock; *@end gets the segment written last. */
static int flush_io(struct rk_wal *w, struct batch *b, struct seg *s, struct seg **end,
		    struct rk_err *err)
{
	size_t pos = 0;
	int rv, fd;

	for (size_t i = 0;; i++) {
		size_t stop = i < b->nrolls ? b->rolls[i].off : b->len;

		if (stop > pos) {
			rv = write_seg(w, s, b->buf + pos, stop - pos, err);
			if (rv != RK_OK)
				return rv;
		}
		pos = stop;
		if (i == b->nrolls)
			break;
		rv = close_seg_file(w, s, err);
		if (rv != RK_OK)
			return rv;
		rv = create_seg_file(w, b->rolls[i].seg, &fd, err);
		if (rv != RK_OK)
			return rv;
		RK_CHECK(pthread_mutex_lock(&w->lock) == 0);
		b->rolls[i].seg->fd = fd; /* readers look fds up under the lock */
		RK_CHECK(pthread_mutex_unlock(&w->lock) == 0);
		s = b->rolls[i].seg;
	}
	*end = s;
	return sync_seg(w, s, err);
}

/* Become the flusher: write and sync everything buffered. Called and returns with w->lock
 * held, drops it for the I/O. */
static int flush_locked(struct rk_wal *w, struct rk_err *err)
{
	struct batch b = w->fill;
	rk_index target = w->last;
	uint64_t target_seq = w->seq_appended;
	struct seg *s = w->wseg, *end = s;
	struct rk_err detail = { 0 };
	int rv;

	assert(!w->flushing);
	w->flushing = true;
	w->fill = w->spare;
	memset(&w->spare, 0, sizeof w->spare);
	RK_CHECK(pthread_mutex_unlock(&w->lock) == 0);

	rv = flush_io(w, &b, s, &end, &detail);

	RK_CHECK(pthread_mutex_lock(&w->lock) == 0);
	if (rv == RK_OK) {
		w->written = target;
		w->durable = target;
		w->seq_durable = target_seq;
		w->wseg = end;
	} else {
		set_failed_locked(w, rv, &detail);
		rk_err_set(err, rv, "%s", detail.msg);
	}
	b.len = 0;
	b.nrolls = 0;
	if (b.cap > SPARE_KEEP) {
		/* a burst grew it: give the memory back rather than keep it for good */
		rk_free(b.buf);
		b.buf = NULL;
		b.cap = 0;
	}
	w->spare = b; /* only the flusher touches the spare: it is still the empty one we left */
	w->flushing = false;
	pthread_cond_broadcast(&w->cv);
	return rv;
}

/* Wait until the first @target records ever appended are durable, flushing whenever nobody
 * else is (leader/follower). Counted in records, not indexes: a truncation may lower the last
 * index after our records were synced, and must not leave us waiting for indexes that are
 * gone. */
static int sync_locked(struct rk_wal *w, uint64_t target, struct rk_err *err)
{
	int rv;

	for (;;) {
		if (w->seq_durable >= target)
			return RK_OK;
		if (w->fail_code != RK_OK)
			return rk_err_set(err, w->fail_code, "%s", w->fail_err.msg);
		if (!w->flushing && !w->exclusive) {
			rv = flush_locked(w, err);
			if (rv != RK_OK)
				return rv;
			continue;
		}
		RK_CHECK(pthread_cond_wait(&w->cv, &w->lock) == 0);
	}
}

/* Flush what is buffered, then own the files alone until release_locked(). */
static int claim_locked(struct rk_wal *w, struct rk_err *err)
{
	int rv;

	for (;;) {
		if (w->fail_code != RK_OK)
			return stopped(w, err);
		if (!w->flushing && !w->exclusive) {
			if (w->fill.len == 0) {
				w->flushing = true;
				w->exclusive = true;
				return RK_OK;
			}
			rv = flush_locked(w, err);
			if (rv != RK_OK)
				return rv;
			continue;
		}
		RK_CHECK(pthread_cond_wait(&w->cv, &w->lock) == 0);
	}
}

static void release_locked(struct rk_wal *w)
{
	w->flushing = false;
	w->exclusive = false;
	pthread_cond_broadcast(&w->cv);
}

static int batch_reserve(struct batch *b, size_t more)
{
	size_t cap;
	uint8_t *p;

	if (b->len + more <= b->cap)
		return RK_OK;
	cap = b->cap ? b->cap : 64 * 1024;
	while (cap < b->len + more)
		cap *= 2;
	p = rk_realloc(b->buf, cap);
	if (p == NULL)
		return RK_ENOMEM;
	b->buf = p;
	b->cap = cap;
	return RK_OK;
}

static int batch_add_roll(struct batch *b, struct seg *s)
{
	if (b->nrolls == b->rolls_cap) {
		size_t cap = b->rolls_cap ? b->rolls_cap * 2 : 4;
		struct roll *p = rk_realloc(b->rolls, cap * sizeof *p);

		if (p == NULL)
			return RK_ENOMEM;
		b->rolls = p;
		b->rolls_cap = cap;
	}
	b->rolls[b->nrolls].off = b->len;
	b->rolls[b->nrolls].seg = s;
	b->nrolls++;
	return RK_OK;
}

/* Start a new segment at @first for records encoded from now on; its file is created by the
 * flush that writes them. */
static int roll_locked(struct rk_wal *w, rk_index first)
{
	struct seg *s = seg_new(first);

	if (s == NULL)
		return RK_ENOMEM;
	if (batch_add_roll(&w->fill, s) != RK_OK || segs_push(w, s) != RK_OK) {
		/* a roll entry without its segment is harmless: the failed WAL never flushes */
		seg_free(s);
		return RK_ENOMEM;
	}
	return RK_OK;
}

/* Encode @n entries into w->fill. With @assign the entries' own indexes are ignored and they
 * take the next ones; else they must be the next ones. All or nothing, except when memory runs
 * out half way, which stops the WAL. */
static int encode_locked(struct rk_wal *w, const struct rk_entry *entries, size_t n, bool assign,
			 struct rk_err *err)
{
	uint64_t total = 0;
	struct rk_err detail;
	int rv;

	while (w->exclusive && w->fail_code == RK_OK)
		RK_CHECK(pthread_cond_wait(&w->cv, &w->lock) == 0);
	if (w->fail_code != RK_OK)
		return stopped(w, err);
	for (size_t i = 0; i < n; i++) {
		rk_index want = w->last + 1 + i;

		if (!assign && entries[i].index != want)
			return rk_err_set(err, RK_EINVAL, "wal append: index %" PRIu64 " where %" PRIu64 " is next",
					  entries[i].index, want);
		if (entries[i].data.len > RK_WAL_MAX_ENTRY)
			return rk_err_set(err, RK_EINVAL, "wal append: entry %" PRIu64 " has %zu bytes, more than the maximum",
					  want, entries[i].data.len);
		total += rec_size(entries[i].data.len);
	}
	if (batch_reserve(&w->fill, total) != RK_OK)
		return rk_err_set(err, RK_ENOMEM, "wal append buffer of %" PRIu64 " bytes",
				  total);
	for (size_t i = 0; i < n; i++) {
		rk_index index = w->last + 1;
		uint64_t size = rec_size(entries[i].data.len);
		struct seg *t = tail_seg(w);

		if (t->count > 0 && t->size + size > w->seg_size) {
			rv = roll_locked(w, index);
			if (rv != RK_OK)
				goto err_stop;
			t = tail_seg(w);
		}
		rv = seg_push_off(t, t->size);
		if (rv != RK_OK)
			goto err_stop;
		encode_rec(w->fill.buf + w->fill.len, &entries[i], index);
		w->fill.len += size;
		t->size += size;
		w->last = index;
		w->seq_appended++;
	}
	return RK_OK;
err_stop:
	/* Part of the batch is encoded: stop rather than leave a half-appended batch behind. */
	rk_err_set(&detail, rv, "out of memory in the middle of an append batch");
	set_failed_locked(w, rv, &detail);
	return rk_err_set(err, rv, "%s", detail.msg);
}

int rk_wal_append(struct rk_wal *w, const struct rk_entry *entries, size_t n, struct rk_err *err)
{
	int rv;

	RK_CHECK(pthread_mutex_lock(&w->lock) == 0);
	rv = encode_locked(w, entries, n, false, err);
	RK_CHECK(pthread_mutex_unlock(&w->lock) == 0);
	return rv;
}

int rk_wal_sync(struct rk_wal *w, rk_index *durable, struct rk_err *err)
{
	int rv;

	RK_CHECK(pthread_mutex_lock(&w->lock) == 0);
	rv = sync_locked(w, w->seq_appended, err);
	if (durable != NULL)
		*durable = w->durable;
	RK_CHECK(pthread_mutex_unlock(&w->lock) == 0);
	return rv;
}

int rk_wal_append_sync(struct rk_wal *w, struct rk_entry *entries, size_t n, struct rk_err *err)
{
	bool assign = n > 0 && entries[0].index == 0;
	int rv;

	if (n == 0)
		return RK_OK;
	RK_CHECK(pthread_mutex_lock(&w->lock) == 0);
	rv = encode_locked(w, entries, n, assign, err);
	if (rv == RK_OK && assign) {
		for (size_t i = 0; i < n; i++)
			entries[i].index = w->last - (n - 1) + i;
	}
	if (rv == RK_OK)
		rv = sync_locked(w, w->seq_appended, err);
	RK_CHECK(pthread_mutex_unlock(&w->lock) == 0);
	return rv;
}

rk_index rk_wal_first_index(struct rk_wal *w)
{
	rk_index v;

	RK_CHECK(pthread_mutex_lock(&w->lock) == 0);
	v = w->segs[0]->first;
	RK_CHECK(pthread_mutex_unlock(&w->lock) == 0);
	return v;
}

rk_index rk_wal_last_index(struct rk_wal *w)
{
	rk_index v;

	RK_CHECK(pthread_mutex_lock(&w->lock) == 0);
	v = w->last;
	RK_CHECK(pthread_mutex_unlock(&w->lock) == 0);
	return v;
}

rk_index rk_wal_durable_index(struct rk_wal *w)
{
	rk_index v;

	RK_CHECK(pthread_mutex_lock(&w->lock) == 0);
	v = w->durable;
	RK_CHECK(pthread_mutex_unlock(&w->lock) == 0);
	return v;
}

bool rk_wal_is_failed(struct rk_wal *w)
{
	bool v;

	RK_CHECK(pthread_mutex_lock(&w->lock) == 0);
	v = w->fail_code != RK_OK;
	RK_CHECK(pthread_mutex_unlock(&w->lock) == 0);
	return v;
}

size_t rk_wal_segment_count(struct rk_wal *w)
{
	size_t v;

	RK_CHECK(pthread_mutex_lock(&w->lock) == 0);
	v = w->nsegs;
	RK_CHECK(pthread_mutex_unlock(&w->lock) == 0);
	return v;
}

/* Segment holding @index (which is in [first, last]). */
static struct seg *find_seg_locked(struct rk_wal *w, rk_index index)
{
	size_t lo = 0, hi = w->nsegs;

	while (hi - lo > 1) {
		size_t mid = lo + (hi - lo) / 2;

		if (w->segs[mid]->first <= index)
			lo = mid;
		else
			hi = mid;
	}
	return w->segs[lo];
}

int rk_wal_read(struct rk_wal *w, rk_index index, struct rk_entry *out, struct rk_err *err)
{
	char name[SEG_NAME_LEN + 1];
	struct seg *s;
	uint64_t off = 0, end = 0, len;
	uint8_t *buf;
	ssize_t got;
	int fd = -1, rv = RK_OK;

	RK_CHECK(pthread_rwlock_rdlock(&w->files_lock) == 0);
	RK_CHECK(pthread_mutex_lock(&w->lock) == 0);
	if (index < w->segs[0]->first) {
		rv = rk_err_set(err, RK_ECOMPACTED, "wal read %" PRIu64 ": compacted (first %" PRIu64 ")",
				index, w->segs[0]->first);
	} else if (index > w->written) {
		rv = rk_err_set(err, RK_EUNAVAILABLE, "wal read %" PRIu64 ": not written (last %" PRIu64 ")",
				index, w->written);
	} else {
		s = find_seg_locked(w, index);
		off = s->offs[index - s->first];
		end = index - s->first + 1 < s->count ? s->offs[index - s->first + 1] : s->size;
		fd = s->fd;
		seg_name(name, sizeof name, s->first);
	}
	RK_CHECK(pthread_mutex_unlock(&w->lock) == 0);
	if (rv != RK_OK)
		goto out_unlock;

	len = end - off;
	buf = rk_malloc(len);
	if (buf == NULL) {
		rv = rk_err_set(err, RK_ENOMEM, "wal read buffer");
		goto out_unlock;
	}
	got = rk_storage_pread_full(fd, buf, len, (off_t)off);
	if (got < 0) {
		rv = rk_err_errno(err, RK_EIO, errno, "read %s/%s offset %" PRIu64, w->dir, name,
				  off);
		goto err_free;
	}
	if ((uint64_t)got != len || !rec_ok(buf, len, &len) ||
	    rk_get_le64(buf + offsetof(struct rec_hdr_disk, index)) != index) {
		rv = rk_err_set(err, RK_ECORRUPT, "wal %s/%s offset %" PRIu64 ": record of entry %" PRIu64 " fails its checksum on read",
				w->dir, name, off, index);
		goto err_free;
	}
	out->index = index;
	out->term = rk_get_le64(buf + offsetof(struct rec_hdr_disk, term));
	out->type = buf[offsetof(struct rec_hdr_disk, etype)];
	out->data.len = rk_get_le32(buf + offsetof(struct rec_hdr_disk, len));
	if (out->data.len == 0) {
		out->data.base = NULL;
		rk_free(buf);
	} else {
		/* hand back the read buffer itself, payload moved to its start */
		memmove(buf, buf + REC_HDR, out->data.len);
		out->data.base = buf;
	}
	goto out_unlock;
err_free:
	rk_free(buf);
out_unlock:
	RK_CHECK(pthread_rwlock_unlock(&w->files_lock) == 0);
	return rv;
}

/* Where the records of [@lo, @hi] that one chunk read should cover live: same segment, at most
 * RANGE_CHUNK bytes (but at least one record). Sets *@fd, *@off, *@len and returns the last
 * index covered, or 0 with an error code in *@rv. Called with both WAL locks held. */
static rk_index plan_chunk_locked(struct rk_wal *w, rk_index lo, rk_index hi, int *fd,
				  uint64_t *off, uint64_t *len, char *name, size_t name_cap, int *rv,
				  struct rk_err *err)
{
	struct seg *s;
	rk_index last, k;
	uint64_t end;

	if (lo < w->segs[0]->first) {
		*rv = rk_err_set(err, RK_ECOMPACTED, "wal read %" PRIu64 ": compacted (first %" PRIu64 ")",
				 lo, w->segs[0]->first);
		return 0;
	}
	if (hi > w->written) {
		*rv = rk_err_set(err, RK_EUNAVAILABLE, "wal read %" PRIu64 ": not written (last %" PRIu64 ")",
				 hi, w->written);
		return 0;
	}
	s = find_seg_locked(w, lo);
	last = s->first + s->count - 1 < hi ? s->first + s->count - 1 : hi;
	*off = s->offs[lo - s->first];
	for (k = lo;; k++) {
		end = k - s->first + 1 < s->count ? s->offs[k - s->first + 1] : s->size;
		if (k == last || (k > lo && end - *off > RANGE_CHUNK))
			break;
	}
	if (k > lo && end - *off > RANGE_CHUNK) {
		k--; /* the chunk ends before the record that overflowed it */
		end = s->offs[k - s->first + 1];
	}
	*fd = s->fd;
	*len = end - *off;
	seg_name(name, name_cap, s->first);
	return k;
}

int rk_wal_read_range(struct rk_wal *w, rk_index lo, rk_index hi,
		      int (*fn)(void *data, const struct rk_entry *e), void *data,
		      struct rk_err *err)
{
	char name[SEG_NAME_LEN + 1];
	uint8_t *buf = NULL, *p;
	size_t cap = 0;
	uint64_t off = 0, len = 0, total;
	rk_index upto;
	struct rk_entry e;
	ssize_t got;
	int fd = -1, rv = RK_OK;

	while (lo != 0 && lo <= hi) {
		RK_CHECK(pthread_rwlock_rdlock(&w->files_lock) == 0);
		RK_CHECK(pthread_mutex_lock(&w->lock) == 0);
		upto = plan_chunk_locked(w, lo, hi, &fd, &off, &len, name, sizeof name, &rv, err);
		RK_CHECK(pthread_mutex_unlock(&w->lock) == 0);
		if (upto != 0 && len > cap) {
			rk_free(buf);
			cap = len;
			buf = rk_malloc(cap);
			if (buf == NULL) {
				cap = 0;
				rv = rk_err_set(err, RK_ENOMEM, "wal read buffer");
			}
		}
		got = upto != 0 && rv == RK_OK ? rk_storage_pread_full(fd, buf, len, (off_t)off) : 0;
		if (got < 0)
			rv = rk_err_errno(err, RK_EIO, errno, "read %s/%s offset %" PRIu64,
					  w->dir, name, off);
		RK_CHECK(pthread_rwlock_unlock(&w->files_lock) == 0);
		if (upto == 0 || rv != RK_OK)
			break;
		/* Parse and deliver without any WAL lock: @fn may call back into the WAL. */
		p = buf;
		for (rk_index i = lo; i <= upto; i++) {
			uint64_t at = (uint64_t)(p - buf);

			if (at >= (uint64_t)got || !rec_ok(p, (uint64_t)got - at, &total) ||
			    rk_get_le64(p + offsetof(struct rec_hdr_disk, index)) != i) {
				rv = rk_err_set(err, RK_ECORRUPT, "wal %s/%s offset %" PRIu64 ": record of entry %" PRIu64 " fails its checksum on read",
						w->dir, name, off + at, i);
				goto out;
			}
			e.index = i;
			e.term = rk_get_le64(p + offsetof(struct rec_hdr_disk, term));
			e.type = p[offsetof(struct rec_hdr_disk, etype)];
			e.data.len = rk_get_le32(p + offsetof(struct rec_hdr_disk, len));
			e.data.base = e.data.len ? p + REC_HDR : NULL;
			rv = fn(data, &e);
			if (rv != 0)
				goto out;
			p += total;
		}
		lo = upto + 1;
	}
out:
	rk_free(buf);
	return rv;
}

/* Close and unlink segment @s and make the unlink durable before the next one: deletions
 * then always leave a contiguous run of segments, whatever point a crash stops them at. */
static int remove_seg_file(struct rk_wal *w, struct seg *s, struct rk_err *err)
{
	char name[SEG_NAME_LEN + 1];

	seg_name(name, sizeof name, s->first);
	if (s->fd >= 0) {
		close(s->fd);
		s->fd = -1;
	}
	if (unlinkat(w->dir_fd, name, 0) != 0 && errno != ENOENT)
		return io_fail(err, errno, "unlink", w->dir, name);
	return rk_storage_fsync_dir(w->io, w->dir_fd, w->dir, err);
}

/* The exclusive part of truncate_after(); files_lock held for writing. */
static int truncate_files(struct rk_wal *w, rk_index index, struct rk_err *err)
{
	char name[SEG_NAME_LEN + 1];
	struct seg *s;
	uint64_t size;
	int rv;

	/* newest first, so that a crash leaves a prefix of the old log, never a gap */
	while (w->nsegs > 1 && tail_seg(w)->first > index + 1) {
		s = tail_seg(w);
		rv = remove_seg_file(w, s, err);
		if (rv != RK_OK)
			return rv;
		RK_CHECK(pthread_mutex_lock(&w->lock) == 0);
		w->nsegs--;
		RK_CHECK(pthread_mutex_unlock(&w->lock) == 0);
		seg_free(s);
	}
	s = tail_seg(w);
	size = index + 1 == s->first ? SEG_HDR : s->offs[index + 1 - s->first];
	seg_name(name, sizeof name, s->first);
	if (w->io->ftruncate(w->io->data, s->fd, (off_t)size) != 0)
		return io_fail(err, errno, "ftruncate", w->dir, name);
	rv = sync_seg(w, s, err);
	if (rv != RK_OK)
		return rv;
	RK_CHECK(pthread_mutex_lock(&w->lock) == 0);
	s->count = index + 1 - s->first;
	s->size = size;
	s->written = size;
	w->last = index;
	w->written = index;
	if (w->durable > index)
		w->durable = index;
	w->wseg = s;
	RK_CHECK(pthread_mutex_unlock(&w->lock) == 0);
	return maybe_prealloc(w, s->fd, size, name, err);
}

/* Run @op with the files to ourselves; a failure stops the WAL like a failed flush. */
static int run_exclusive(struct rk_wal *w, rk_index arg,
			 int (*op)(struct rk_wal *w, rk_index arg, struct rk_err *err),
			 struct rk_err *err)
{
	struct rk_err detail = { 0 };
	int rv;

	RK_CHECK(pthread_mutex_lock(&w->lock) == 0);
	rv = claim_locked(w, err);
	RK_CHECK(pthread_mutex_unlock(&w->lock) == 0);
	if (rv != RK_OK)
		return rv;
	RK_CHECK(pthread_rwlock_wrlock(&w->files_lock) == 0);
	rv = op(w, arg, &detail);
	RK_CHECK(pthread_rwlock_unlock(&w->files_lock) == 0);
	RK_CHECK(pthread_mutex_lock(&w->lock) == 0);
	if (rv != RK_OK && rv != RK_ECOMPACTED && rv != RK_EINVAL) {
		set_failed_locked(w, rv, &detail);
	}
	if (rv != RK_OK)
		rk_err_set(err, rv, "%s", rk_err_text(&detail, rv));
	release_locked(w);
	RK_CHECK(pthread_mutex_unlock(&w->lock) == 0);
	return rv;
}

static int truncate_op(struct rk_wal *w, rk_index index, struct rk_err *err)
{
	if (index >= w->last)
		return RK_OK;
	if (index + 1 < w->segs[0]->first)
		return rk_err_set(err, RK_ECOMPACTED, "wal truncate after %" PRIu64 ": below the first index %" PRIu64,
				  index, w->segs[0]->first);
	return truncate_files(w, index, err);
}

int rk_wal_truncate_after(struct rk_wal *w, rk_index index, struct rk_err *err)
{
	return run_exclusive(w, index, truncate_op, err);
}

static int reset_op(struct rk_wal *w, rk_index next, struct rk_err *err)
{
	char name[SEG_NAME_LEN + 1];
	struct seg *s;
	int fd, rv;

	if (next == 0)
		return rk_err_set(err, RK_EINVAL, "wal reset to index 0");
	s = seg_new(next);
	if (s == NULL)
		return rk_err_set(err, RK_ENOMEM, "wal segment");
	/* The new empty segment is complete under a temp name before any old one goes: recovery
	 * renames it in when no segment is left, and deletes it otherwise. */
	fd = openat(w->dir_fd, RESET_TMP, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0) {
		rv = io_fail(err, errno, "create", w->dir, RESET_TMP);
		goto err_free;
	}
	s->fd = fd;
	rv = maybe_prealloc(w, fd, 0, RESET_TMP, err);
	if (rv != RK_OK)
		goto err_unlink;
	{
		uint8_t hdr[SEG_HDR];

		encode_seg_hdr(hdr, next);
		if (rk_storage_pwrite_all(w->io, fd, hdr, sizeof hdr, 0, NULL) != 0) {
			rv = io_fail(err, errno, "write", w->dir, RESET_TMP);
			goto err_unlink;
		}
	}
	if (w->io->fdatasync(w->io->data, fd) != 0) {
		rv = io_fail(err, errno, "fdatasync", w->dir, RESET_TMP);
		goto err_unlink;
	}
	rv = rk_storage_fsync_dir(w->io, w->dir_fd, w->dir, err);
	if (rv != RK_OK)
		goto err_unlink;
	while (w->nsegs > 0) {
		struct seg *old = w->segs[0];

		rv = remove_seg_file(w, old, err);
		if (rv != RK_OK)
			goto err_unlink;
		RK_CHECK(pthread_mutex_lock(&w->lock) == 0);
		memmove(w->segs, w->segs + 1, (w->nsegs - 1) * sizeof *w->segs);
		w->nsegs--;
		RK_CHECK(pthread_mutex_unlock(&w->lock) == 0);
		seg_free(old);
	}
	seg_name(name, sizeof name, next);
	if (renameat(w->dir_fd, RESET_TMP, w->dir_fd, name) != 0) {
		rv = io_fail(err, errno, "rename to", w->dir, name);
		goto err_unlink;
	}
	rv = rk_storage_fsync_dir(w->io, w->dir_fd, w->dir, err);
	if (rv != RK_OK)
		goto err_unlink;
	RK_CHECK(pthread_mutex_lock(&w->lock) == 0);
	/* cannot fail: the list had at least one slot */
	w->segs[w->nsegs++] = s;
	w->last = w->written = w->durable = next - 1;
	w->wseg = s;
	RK_CHECK(pthread_mutex_unlock(&w->lock) == 0);
	return RK_OK;
err_unlink:
	/* Leave the temp file: recovery settles it. The WAL is stopped anyway. */
err_free:
	seg_free(s);
	return rv;
}

int rk_wal_reset(struct rk_wal *w, rk_index next, struct rk_err *err)
{
	return run_exclusive(w, next, reset_op, err);
}

static int compact_op(struct rk_wal *w, rk_index index, struct rk_err *err)
{
	int rv;

	if (index > w->last + 1)
		return reset_op(w, index, err);
	/* oldest first, so that a crash leaves a suffix of the log, never a gap */
	while (w->nsegs > 1 && w->segs[1]->first <= index) {
		struct seg *old = w->segs[0];

		rv = remove_seg_file(w, old, err);
		if (rv != RK_OK)
			return rv;
		RK_CHECK(pthread_mutex_lock(&w->lock) == 0);
		memmove(w->segs, w->segs + 1, (w->nsegs - 1) * sizeof *w->segs);
		w->nsegs--;
		RK_CHECK(pthread_mutex_unlock(&w->lock) == 0);
		seg_free(old);
	}
	return RK_OK;
}

int rk_wal_compact_before(struct rk_wal *w, rk_index index, struct rk_err *err)
{
	return run_exclusive(w, index, compact_op, err);
}

int rk_wal_align_to_snapshot(struct rk_wal *w, rk_index snap_index, struct rk_err *err)
{
	rk_index first, last;

	RK_CHECK(pthread_mutex_lock(&w->lock) == 0);
	first = w->segs[0]->first;
	last = w->last;
	RK_CHECK(pthread_mutex_unlock(&w->lock) == 0);
	if (last < snap_index)
		return rk_wal_reset(w, snap_index + 1, err);
	if (first > snap_index + 1)
		return rk_err_set(err, RK_ECORRUPT, "wal %s starts at %" PRIu64 " but the snapshot ends at %" PRIu64 ": entries in between are missing",
				  w->dir, first, snap_index);
	return RK_OK;
}

/* ------------------------------------------------------------------------------------------ */

static bool all_zero(const uint8_t *p, uint64_t n)
{
	for (uint64_t i = 0; i < n; i++)
		if (p[i] != 0)
			return false;
	return true;
}

/* Offset of the first valid record at or after @from (8-aligned), or 0 when there is none. */
static uint64_t find_valid_rec(const uint8_t *buf, uint64_t size, uint64_t from)
{
	uint64_t total;

	for (uint64_t p = (from + 7) & ~(uint64_t)7; p + REC_HDR <= size; p += 8)
		if (rec_ok(buf + p, size - p, &total))
			return p;
	return 0;
}

/* End of the last data region of a file of @size bytes: past it the file is a hole, which reads
 * as zeros. The preallocated part of the last segment is an unwritten extent, which ext4 and
 * xfs report as a hole, so recovery need not read (and scan) 64 MiB of zeros. Falls back to
 * @size where SEEK_DATA is not supported. */
static uint64_t data_end(int fd, uint64_t size)
{
	off_t pos = 0, d, h;
	uint64_t end = 0;

	for (;;) {
		d = lseek(fd, pos, SEEK_DATA);
		if (d < 0)
			return errno == ENXIO ? end : size;
		h = lseek(fd, d, SEEK_HOLE);
		if (h < 0)
			return size;
		end = (uint64_t)h;
		pos = h;
	}
}

/* Recovery reads every segment whole into one buffer, grown as needed and kept from segment
 * to segment: a fresh 64 MiB buffer per segment would fault in and zero every page again. */
struct scratch {
	uint8_t *p;
	uint64_t cap;
};

static int read_whole(int fd, uint64_t size, struct scratch *sc)
{
	if (size > sc->cap || sc->p == NULL) {
		rk_free(sc->p);
		sc->cap = 0;
		sc->p = rk_malloc(size ? size : 1);
		if (sc->p == NULL)
			return RK_ENOMEM;
		sc->cap = size;
	}
	if (rk_storage_pread_full(fd, sc->p, size, 0) != (ssize_t)size)
		return RK_EIO;
	return RK_OK;
}

/* Load segment file @name starting at @first: check header and every record. @expect is the
 * index it must start at (0: any, for the oldest). Only @is_last may have a torn tail. */
static int recover_seg(struct rk_wal *w, const char *name, rk_index first, bool is_last,
		       struct scratch *sc, struct rk_err *err)
{
	struct seg *s;
	struct stat st;
	uint8_t *buf = NULL;
	uint64_t size, off, total, bad;
	uint8_t hdr[SEG_HDR];
	int rv;

	s = seg_new(first);
	if (s == NULL)
		return rk_err_set(err, RK_ENOMEM, "wal segment");
	s->fd = openat(w->dir_fd, name, O_RDWR | O_CLOEXEC);
	if (s->fd < 0) {
		rv = io_fail(err, errno, "open", w->dir, name);
		goto err_free;
	}
	if (fstat(s->fd, &st) != 0) {
		rv = io_fail(err, errno, "stat", w->dir, name);
		goto err_free;
	}
	/* only the last segment is preallocated; the others end exactly at their last record */
	size = is_last ? data_end(s->fd, (uint64_t)st.st_size) : (uint64_t)st.st_size;
	rv = read_whole(s->fd, size, sc);
	buf = sc->p;
	if (rv != RK_OK) {
		rv = rk_err_set(err, rv, "read %s/%s", w->dir, name);
		goto err_free;
	}
	if (size < SEG_HDR || !seg_hdr_ok(buf, first)) {
		uint64_t from = size < SEG_HDR ? size : SEG_HDR;

		/* A new segment's header and first records share one unsynced write: a crash can
		 * tear it. Fine for the last segment as long as no record made it either. */
		if (!is_last || find_valid_rec(buf, size, from) != 0) {
			rv = rk_err_set(err, RK_ECORRUPT, "wal %s/%s offset 0: bad segment header",
					w->dir, name);
			goto err_free;
		}
		rk_log(RK_LOG_WARN, "wal %s/%s: torn segment header at offset 0 (%" PRIu64 " bytes), rewriting it empty",
		       w->dir, name, (uint64_t)st.st_size);
		encode_seg_hdr(hdr, first);
		if (w->io->ftruncate(w->io->data, s->fd, 0) != 0 ||
		    rk_storage_pwrite_all(w->io, s->fd, hdr, SEG_HDR, 0, NULL) != 0 ||
		    w->io->fdatasync(w->io->data, s->fd) != 0) {
			rv = io_fail(err, errno, "rewrite header of", w->dir, name);
			goto err_free;
		}
		goto done;
	}
	off = SEG_HDR;
	while (rec_ok(buf + off, size - off, &total)) {
		rk_index index = rk_get_le64(buf + off + offsetof(struct rec_hdr_disk, index));

		if (index != first + s->count) {
			rv = rk_err_set(err, RK_ECORRUPT, "wal %s/%s offset %" PRIu64 ": entry %" PRIu64 " where %" PRIu64 " was expected",
					w->dir, name, off, index, first + s->count);
			goto err_free;
		}
		if (seg_push_off(s, off) != RK_OK) {
			rv = rk_err_set(err, RK_ENOMEM, "wal index");
			goto err_free;
		}
		off += total;
	}
	s->size = s->written = off;
	if (off == size)
		goto done; /* a last segment may go on with a hole: unwritten, zeros */
	if (!is_last) {
		rv = rk_err_set(err, RK_ECORRUPT, "wal %s/%s offset %" PRIu64 ": bad record in a closed segment",
				w->dir, name, off);
		goto err_free;
	}
	if (all_zero(buf + off, size - off))
		goto done; /* the preallocated, never written part */
	bad = find_valid_rec(buf, size, off + 8);
	if (bad != 0) {
		rv = rk_err_set(err, RK_ECORRUPT, "wal %s/%s offset %" PRIu64 ": bad record followed by a valid one at offset %" PRIu64,
				w->dir, name, off, bad);
		goto err_free;
	}
	rk_log(RK_LOG_WARN, "wal %s/%s: torn record at offset %" PRIu64 " (%" PRIu64 " bytes to end of file), cutting the log after entry %" PRIu64,
	       w->dir, name, off, (uint64_t)st.st_size - off, first + s->count - 1);
	if (w->io->ftruncate(w->io->data, s->fd, (off_t)off) != 0) {
		rv = io_fail(err, errno, "ftruncate", w->dir, name);
		goto err_free;
	}
done:
	if (segs_push(w, s) != RK_OK) {
		seg_free(s);
		return rk_err_set(err, RK_ENOMEM, "wal segment list");
	}
	return RK_OK;
err_free:
	seg_free(s);
	return rv;
}

static int cmp_index(const void *a, const void *b)
{
	rk_index x = *(const rk_index *)a, y = *(const rk_index *)b;

	return x < y ? -1 : x > y;
}

/* First index in a segment file name, or 0 when @name is not one. */
static rk_index parse_seg_name(const char *name)
{
	rk_index v = 0;

	if (strlen(name) != SEG_NAME_LEN || strncmp(name, "wal-", 4) != 0 ||
	    strcmp(name + 24, ".seg") != 0)
		return 0;
	for (int i = 4; i < 24; i++) {
		if (name[i] < '0' || name[i] > '9')
			return 0;
		v = v * 10 + (rk_index)(name[i] - '0');
	}
	return v;
}

static int list_segs(struct rk_wal *w, rk_index **out, size_t *n_out, bool *have_tmp,
		     struct rk_err *err)
{
	rk_index *v = NULL, *p;
	size_t n = 0, cap = 0;
	struct dirent *de;
	DIR *d;
	int fd;

	fd = dup(w->dir_fd);
	if (fd < 0 || (d = fdopendir(fd)) == NULL) {
		if (fd >= 0)
			close(fd);
		return rk_err_errno(err, RK_EIO, errno, "list %s", w->dir);
	}
	/* the dup shares its offset with w->dir_fd: start from the top every time */
	rewinddir(d);
	*have_tmp = false;
	while ((de = readdir(d)) != NULL) {
		rk_index first = parse_seg_name(de->d_name);

		if (strcmp(de->d_name, RESET_TMP) == 0)
			*have_tmp = true;
		if (first == 0)
			continue;
		if (n == cap) {
			cap = cap ? cap * 2 : 64;
			p = rk_realloc(v, cap * sizeof *v);
			if (p == NULL) {
				rk_free(v);
				closedir(d);
				return rk_err_set(err, RK_ENOMEM, "wal segment list");
			}
			v = p;
		}
		v[n++] = first;
	}
	closedir(d);
	if (n > 0)
		qsort(v, n, sizeof *v, cmp_index);
	*out = v;
	*n_out = n;
	return RK_OK;
}

/* A reset that crashed: finish it when it had removed every old segment, else forget it. */
static int settle_reset_tmp(struct rk_wal *w, size_t nsegs, struct rk_err *err)
{
	uint8_t hdr[SEG_HDR];
	char name[SEG_NAME_LEN + 1];
	rk_index first;
	int fd;

	if (nsegs == 0) {
		fd = openat(w->dir_fd, RESET_TMP, O_RDONLY | O_CLOEXEC);
		if (fd >= 0 && rk_storage_pread_full(fd, hdr, SEG_HDR, 0) == (ssize_t)SEG_HDR) {
			first = rk_get_le64(hdr + offsetof(struct seg_hdr_disk, first));
			if (first != 0 && seg_hdr_ok(hdr, first)) {
				close(fd);
				seg_name(name, sizeof name, first);
				rk_log(RK_LOG_WARN, "wal %s: finishing an interrupted reset to %" PRIu64,
				       w->dir, first);
				if (renameat(w->dir_fd, RESET_TMP, w->dir_fd, name) != 0)
					return io_fail(err, errno, "rename to", w->dir, name);
				return rk_storage_fsync_dir(w->io, w->dir_fd, w->dir, err);
			}
		}
		if (fd >= 0)
			close(fd);
	}
	if (unlinkat(w->dir_fd, RESET_TMP, 0) != 0 && errno != ENOENT)
		return io_fail(err, errno, "unlink", w->dir, RESET_TMP);
	return RK_OK;
}

static int recover(struct rk_wal *w, struct rk_err *err)
{
	char name[SEG_NAME_LEN + 1];
	rk_index *firsts = NULL;
	struct scratch sc = { NULL, 0 };
	size_t n = 0;
	bool have_tmp;
	struct seg *t;
	int rv;

	rv = list_segs(w, &firsts, &n, &have_tmp, err);
	if (rv != RK_OK)
		return rv;
	if (have_tmp) {
		rv = settle_reset_tmp(w, n, err);
		if (rv != RK_OK)
			goto out;
		if (n == 0) {
			rk_free(firsts);
			rv = list_segs(w, &firsts, &n, &have_tmp, err);
			if (rv != RK_OK)
				return rv;
		}
	}
	for (size_t i = 0; i < n; i++) {
		seg_name(name, sizeof name, firsts[i]);
		if (i > 0) {
			struct seg *prev = w->segs[i - 1];

			if (prev->count == 0 || prev->first + prev->count != firsts[i]) {
				rv = rk_err_set(err, RK_ECORRUPT, "wal %s: segment %s starts at %" PRIu64 " but the one before ends at %" PRIu64 " (missing segment or index gap)",
						w->dir, name,
						firsts[i], prev->first + prev->count - 1);
				goto out;
			}
		}
		rv = recover_seg(w, name, firsts[i], i + 1 == n, &sc, err);
		if (rv != RK_OK)
			goto out;
	}
	rk_free(sc.p);
	sc.p = NULL;
	if (w->nsegs == 0) {
		t = seg_new(1);
		if (t == NULL || segs_push(w, t) != RK_OK) {
			seg_free(t);
			rv = rk_err_set(err, RK_ENOMEM, "wal segment");
			goto out;
		}
		rv = create_seg_file(w, t, &t->fd, err);
		if (rv != RK_OK)
			goto out;
	}
	t = tail_seg(w);
	seg_name(name, sizeof name, t->first);
	/* What we found may have reached only the page cache before a crash: make it durable
	 * before calling it durable. */
	rv = sync_seg(w, t, err);
	if (rv == RK_OK)
		rv = rk_storage_fsync_dir(w->io, w->dir_fd, w->dir, err);
	if (rv == RK_OK)
		rv = maybe_prealloc(w, t->fd, t->written, name, err);
	if (rv != RK_OK)
		goto out;
	w->wseg = t;
	w->last = w->written = w->durable = t->first + t->count - 1;
out:
	rk_free(sc.p);
	rk_free(firsts);
	return rv;
}

static void wal_free(struct rk_wal *w)
{
	for (size_t i = 0; i < w->nsegs; i++)
		seg_free(w->segs[i]);
	rk_free(w->segs);
	rk_free(w->fill.buf);
	rk_free(w->fill.rolls);
	rk_free(w->spare.buf);
	rk_free(w->spare.rolls);
	if (w->dir_fd >= 0)
		close(w->dir_fd);
	rk_free(w->dir);
	pthread_rwlock_destroy(&w->files_lock);
	pthread_cond_destroy(&w->cv);
	pthread_mutex_destroy(&w->lock);
	rk_free(w);
}

int rk_wal_open(const char *dir, const struct rk_wal_opts *opts, struct rk_wal **out,
		struct rk_err *err)
{
	struct rk_wal_opts def = { 0 };
	struct rk_wal *w;
	size_t dlen = strlen(dir);
	int rv;

	if (opts == NULL)
		opts = &def;
	if (opts->segment_size != 0 &&
	    (opts->segment_size < MIN_SEGMENT_SIZE || opts->segment_size > RK_WAL_MAX_SEGMENT_SIZE))
		return rk_err_set(err, RK_EINVAL, "wal segment size %" PRIu64 " outside [%u, %u]",
				  opts->segment_size, MIN_SEGMENT_SIZE,
				  RK_WAL_MAX_SEGMENT_SIZE);
	w = rk_calloc(1, sizeof *w);
	if (w == NULL)
		return rk_err_set(err, RK_ENOMEM, "wal");
	w->dir_fd = -1;
	RK_CHECK(pthread_mutex_init(&w->lock, NULL) == 0);
	RK_CHECK(pthread_cond_init(&w->cv, NULL) == 0);
	RK_CHECK(pthread_rwlock_init(&w->files_lock, NULL) == 0);
	w->io = opts->io != NULL ? opts->io : &rk_storage_io_libc;
	w->seg_size = opts->segment_size != 0 ? opts->segment_size : RK_WAL_DEFAULT_SEGMENT_SIZE;
	w->prealloc = !opts->no_prealloc;
	w->dir = rk_malloc(dlen + 1);
	if (w->dir == NULL) {
		rv = rk_err_set(err, RK_ENOMEM, "wal");
		goto err_free;
	}
	memcpy(w->dir, dir, dlen + 1);
	rv = rk_storage_mkdir(w->io, dir, err);
	if (rv != RK_OK)
		goto err_free;
	w->dir_fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (w->dir_fd < 0) {
		rv = rk_err_errno(err, RK_EIO, errno, "open %s", dir);
		goto err_free;
	}
	rv = recover(w, err);
	if (rv != RK_OK)
		goto err_free;
	*out = w;
	return RK_OK;
err_free:
	wal_free(w);
	return rv;
}

void rk_wal_close(struct rk_wal *w)
{
	if (w == NULL)
		return;
	assert(!w->flushing);
	wal_free(w);
}

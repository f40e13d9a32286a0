/* wal.h -- segmented append-only write-ahead log of Raft entries, with group commit.
 *
 * A directory of segment files "wal-<first index, 20 digits>.seg", each a header and then
 * CRC32C-framed records (docs/storage.md has the byte layout). Appends are encoded into a memory
 * buffer under the WAL lock; one thread at a time (the "flusher") takes the whole buffer, writes it
 * with one pwrite per segment touched and makes it durable with one fdatasync, while other
 * threads keep filling the next buffer. Two ways to drive it:
 *
 *   - many threads: rk_wal_append_sync() appends and blocks until the entries are durable; the
 *     first waiter that finds no flush running becomes the flusher for everyone buffered so far
 *     (leader/follower group commit);
 *   - one log-writer thread: rk_wal_append() per batch (no syscall), then rk_wal_sync(), which
 *     returns the highest durable index for the core (RK_IN_PERSISTED).
 *
 * Any write or sync error stops the WAL for good: the call that hit it returns RK_ENOSPC or
 * RK_EIO, every later append RK_ESTOPPED. The durable index never moves past what an fdatasync
 * that returned 0 covered, and a failed fdatasync is never retried (its dirty pages may already
 * be dropped). Bytes a failed write left in the file are a torn tail that recovery cuts.
 *
 * Thread: every function is thread-safe. The log writer thread owns the WAL in the server;
 * rk_wal_read() may come from any thread (catch-up reads). rk_wal_close() must not race anything.
 */
#ifndef RK_STORAGE_WAL_H
#define RK_STORAGE_WAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/err.h"
#include "raftkv/raft_types.h"
#include "storage/io.h"

#define RK_WAL_DEFAULT_SEGMENT_SIZE (64u << 20)
#define RK_WAL_MAX_SEGMENT_SIZE (1u << 30)
#define RK_WAL_MAX_ENTRY (256u << 20) /* payload bytes of one entry */

struct rk_wal_opts {
	uint64_t segment_size;           /* roll before a record would cross it; 0: default */
	bool no_prealloc;                /* skip fallocate() of new segments */
	const struct rk_storage_io *io;  /* borrowed for the WAL's life; NULL: libc */
};

struct rk_wal;

/* Open (creating if needed) the WAL in @dir and recover it: every record of every segment is
 * checked; a torn record at the very end of the last segment (short, or failing its CRC with
 * nothing valid after it) is cut off and logged with file and offset. @opts may be NULL.
 * Returns owned *@out. An empty new WAL expects index 1 next (see rk_wal_reset()).
 * Errors: RK_ECORRUPT (bad record before the tail, missing segment, index gap: the message names
 * file and offset), RK_EIO, RK_ENOSPC, RK_ENOMEM, RK_EINVAL (bad options). */
int rk_wal_open(const char *dir, const struct rk_wal_opts *opts, struct rk_wal **out,
		struct rk_err *err);

/* Free @w and close its files. Buffered entries not yet synced are dropped, not written: call
 * rk_wal_sync() first. No other call on @w may be running. */
void rk_wal_close(struct rk_wal *w);

/* First index still stored (last + 1 when empty), last index appended (buffered included), and
 * highest index known durable. */
rk_index rk_wal_first_index(struct rk_wal *w);
rk_index rk_wal_last_index(struct rk_wal *w);
rk_index rk_wal_durable_index(struct rk_wal *w);

/* Buffer @n entries for the next sync; no syscall. Borrows @entries for the call (the data is
 * copied). entries[0].index must be rk_wal_last_index() + 1 and the rest consecutive; nothing is
 * appended on error. Errors: RK_EINVAL (index not next, entry too large), RK_ESTOPPED (an
 * earlier error stopped the WAL), RK_ENOMEM (also stops the WAL if hit mid-batch). */
int rk_wal_append(struct rk_wal *w, const struct rk_entry *entries, size_t n,
		  struct rk_err *err);

/* Make everything appended so far durable (write + one fdatasync, shared with any concurrent
 * flusher) and store the highest durable index in *@durable (if not NULL), on error too.
 * Errors: RK_ENOSPC, RK_EIO (this or an earlier flush failed; the WAL is stopped). */
int rk_wal_sync(struct rk_wal *w, rk_index *durable, struct rk_err *err);

/* Append and wait until durable: the group-commit call for concurrent appenders. When
 * entries[0].index is 0 the WAL numbers the entries itself (consecutively, under its lock) and
 * writes the indexes back into @entries; otherwise as rk_wal_append(). Borrows @entries.
 * Errors: as rk_wal_append() and rk_wal_sync(). */
int rk_wal_append_sync(struct rk_wal *w, struct rk_entry *entries, size_t n, struct rk_err *err);

/* Read entry @index (first <= index <= last written) from disk, checking its CRC. Returns owned
 * out->data.base (free with rk_free(); NULL when the payload is empty).
 * Errors: RK_ECOMPACTED (below first), RK_EUNAVAILABLE (not written yet or beyond last),
 * RK_ECORRUPT, RK_EIO, RK_ENOMEM. */
int rk_wal_read(struct rk_wal *w, rk_index index, struct rk_entry *out, struct rk_err *err);

/* Call @fn for every entry in [@lo, @hi] in order, stopping at the first non-zero return, which
 * is returned. Reads whole runs of records per pread (the startup path that rebuilds the
 * in-memory log); every CRC is checked. The entry passed is borrowed for the call; @fn runs
 * without any WAL lock held. Errors: as rk_wal_read(). */
int rk_wal_read_range(struct rk_wal *w, rk_index lo, rk_index hi,
		      int (*fn)(void *data, const struct rk_entry *e), void *data,
		      struct rk_err *err);

/* Remove every entry after @index (a new leader's log conflicts, §3.5) and make the removal
 * durable before returning, so later appends cannot be acknowledged over a stale suffix.
 * Buffered entries are flushed first. No-op when @index >= last.
 * Errors: RK_ECOMPACTED (@index + 1 < first), RK_EIO, RK_ENOSPC, RK_ESTOPPED. */
int rk_wal_truncate_after(struct rk_wal *w, rk_index index, struct rk_err *err);

/* Entries below @index are covered by a durable snapshot: delete the segments that hold only
 * such entries (never the last segment; never rewrites a file). When @index > last + 1 the
 * whole log is dropped and restarts at @index (rk_wal_reset()). Call only after the snapshot
 * is durable. Errors: RK_EIO, RK_ESTOPPED. */
int rk_wal_compact_before(struct rk_wal *w, rk_index index, struct rk_err *err);

/* Drop every entry and restart the log so that the next append is @next (after installing a
 * snapshot that ends at @next - 1 beyond our log, or at startup when the snapshot is ahead of
 * the WAL). Crash-safe: a new segment is prepared under a temp name first.
 * Errors: RK_EINVAL (@next is 0), RK_EIO, RK_ENOSPC, RK_ESTOPPED. */
int rk_wal_reset(struct rk_wal *w, rk_index next, struct rk_err *err);

/* Startup, after loading the snapshot that ends at @snap_index (0: none): make the log continue
 * right after it. When the log ends before the snapshot (a crash between installing a snapshot
 * and resetting the log), it is reset to @snap_index + 1; when the log starts after
 * @snap_index + 1, entries between the two are missing: RK_ECORRUPT.
 * Errors: RK_ECORRUPT, and those of rk_wal_reset(). */
int rk_wal_align_to_snapshot(struct rk_wal *w, rk_index snap_index, struct rk_err *err);

/* True once a write or sync error stopped the WAL. */
bool rk_wal_is_failed(struct rk_wal *w);

/* Number of segment files (tests and stats). */
size_t rk_wal_segment_count(struct rk_wal *w);

#endif

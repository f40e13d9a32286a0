/* snapfile.h -- snapshot files: streamed, checksummed, installed by atomic rename.
 *
 * A snapshot file "snap-<index, 20 digits>-<term, 20 digits>.snap" holds a header (last included
 * index and term, membership configuration blob), the opaque body the KV store streams into it,
 * and a trailer with the body length and a CRC32C over everything before it (layout in
 * docs/storage.md). Files are written under a temp name, fsynced, renamed, and the directory is
 * fsynced, so a ".snap" name only ever denotes a complete file; a bad one is RK_ECORRUPT, never
 * silently replaced by an older one.
 *
 * The file is also the InstallSnapshot wire format: a leader sends raw bytes of its file
 * (rk_snapfile_pread_raw()) and a follower writes them at their offsets (rk_snapfile_recv_*()),
 * so the CRC covers the transfer end to end.
 *
 * Thread: each writer, receiver and reader object belongs to one thread at a time (the apply
 * thread writes snapshots); rk_snapfile_pread_raw() may be called from worker threads at once.
 * Cleanup of old files only after the new snapshot is durable: rk_snapfile_cleanup().
 */
#ifndef RK_STORAGE_SNAPFILE_H
#define RK_STORAGE_SNAPFILE_H

#include <stddef.h>
#include <stdint.h>

#include "common/err.h"
#include "raftkv/raft_types.h"
#include "storage/io.h"

#define RK_SNAPFILE_MAX_CONF (16u << 20) /* bytes of configuration blob */

struct rk_snapfile_meta {
	rk_index index;       /* last index the snapshot includes */
	rk_term term;         /* its term */
	struct rk_buf conf;   /* membership configuration, opaque here */
	uint64_t body_len;    /* bytes of body */
	uint64_t file_size;   /* bytes of the whole file (what a leader sends) */
};

struct rk_snapfile_writer;
struct rk_snapfile_reader;
struct rk_snapfile_recv;

/* Start writing a snapshot of everything up to @index@@term into a temp file in @dir. Borrows
 * @conf for the call, @io (NULL: libc) for the writer's life. Returns owned *@out.
 * Errors: RK_EINVAL (index 0, conf too large), RK_EIO, RK_ENOSPC, RK_ENOMEM. */
int rk_snapfile_begin(const char *dir, rk_index index, rk_term term, const void *conf,
		      size_t conf_len, const struct rk_storage_io *io,
		      struct rk_snapfile_writer **out, struct rk_err *err);

/* Append @n body bytes (any chunk size; buffered, streamed to the file). Borrows @p.
 * Errors: RK_EIO, RK_ENOSPC (the writer is then dead: only commit/abort remain, and commit
 * fails). */
int rk_snapfile_write(struct rk_snapfile_writer *w, const void *p, size_t n, struct rk_err *err);

/* Finish: trailer, fsync, rename to the final name, fsync the directory. Takes @w (freed on
 * success and error; on error the temp file is removed and no snapshot appears). When this
 * returns RK_OK the snapshot is durable; then call rk_snapfile_cleanup().
 * Errors: RK_EIO, RK_ENOSPC. */
int rk_snapfile_commit(struct rk_snapfile_writer *w, struct rk_err *err);

/* Drop an unfinished snapshot: remove the temp file. Takes @w. */
void rk_snapfile_abort(struct rk_snapfile_writer *w);

/* Open the newest snapshot in @dir and check its header and trailer (cheap); the body CRC is
 * checked as rk_snapfile_read() reaches its end, or by rk_snapfile_verify(). Returns owned
 * *@out. Errors: RK_ENOENT (no snapshot), RK_ECORRUPT (names file and offset), RK_EIO, RK_ENOMEM. */
int rk_snapfile_open_latest(const char *dir, struct rk_snapfile_reader **out, struct rk_err *err);

/* Open the snapshot file at @path (any name: a backup, say) and check its header and trailer as
 * rk_snapfile_open_latest() does. Returns owned *@out. Errors: RK_ENOENT, RK_ECORRUPT, RK_EIO,
 * RK_ENOMEM. */
int rk_snapfile_open_path(const char *path, struct rk_snapfile_reader **out, struct rk_err *err);

/* Meta of @r; returns borrowed (until rk_snapfile_close(@r)). */
const struct rk_snapfile_meta *rk_snapfile_meta(const struct rk_snapfile_reader *r);

/* Read up to @cap body bytes into @buf; *@got is 0 at the end. The call that reaches the end
 * checks the CRC: RK_ECORRUPT then means the body just read must be thrown away.
 * Errors: RK_ECORRUPT, RK_EIO. */
int rk_snapfile_read(struct rk_snapfile_reader *r, void *buf, size_t cap, size_t *got,
		     struct rk_err *err);

/* Read the whole file once and check the CRC, without moving the read position.
 * Errors: RK_ECORRUPT, RK_EIO, RK_ENOMEM. */
int rk_snapfile_verify(struct rk_snapfile_reader *r, struct rk_err *err);

/* Raw file bytes [@off, @off + @cap) for an InstallSnapshot chunk; *@got is short at the end.
 * Thread-safe against other raw reads. Errors: RK_EIO. */
int rk_snapfile_pread_raw(struct rk_snapfile_reader *r, uint64_t off, void *buf, size_t cap,
			  size_t *got, struct rk_err *err);

void rk_snapfile_close(struct rk_snapfile_reader *r);

/* Receive a snapshot from a leader: raw file bytes arrive in chunks at offsets (in any order,
 * repeats allowed) into a temp file. Returns owned *@out. Errors: RK_EIO, RK_ENOSPC, RK_ENOMEM. */
int rk_snapfile_recv_begin(const char *dir, rk_index index, rk_term term,
			   const struct rk_storage_io *io, struct rk_snapfile_recv **out,
			   struct rk_err *err);
int rk_snapfile_recv_chunk(struct rk_snapfile_recv *rv, uint64_t off, const void *p, size_t n,
			   struct rk_err *err);

/* Last chunk received: the file must be @total bytes, verify it completely (and that it is
 * @index@@term as announced), fsync, rename into place, fsync the directory. Takes @rv (freed,
 * temp removed on error). Errors: RK_ECORRUPT, RK_EINVAL (size or index/term mismatch),
 * RK_EIO, RK_ENOSPC. */
int rk_snapfile_recv_done(struct rk_snapfile_recv *rv, uint64_t total, struct rk_err *err);
void rk_snapfile_recv_abort(struct rk_snapfile_recv *rv);

/* The snapshot @index@@term is durable: remove every older snapshot file. Fails with RK_ENOENT
 * (and removes nothing) if that snapshot file is not there. Errors: RK_ENOENT, RK_EIO. */
int rk_snapfile_cleanup(const char *dir, rk_index index, rk_term term, struct rk_err *err);

/* Remove temp files left by a crash. Call at startup, before any writer or receiver exists.
 * Errors: RK_EIO. */
int rk_snapfile_remove_temps(const char *dir, struct rk_err *err);

#endif

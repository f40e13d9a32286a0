/* meta.h -- the Raft hard state (term, vote, commit), stored atomically and durably.
 *
 * One file "meta" with two checksummed slots carrying a sequence number; a save overwrites the
 * slot not holding the newest state (pwrite + fdatasync), so a torn write can only damage the
 * older copy and recovery picks the valid slot with the higher sequence. Layout in
 * docs/storage.md. An I/O error stops the object (RK_ESTOPPED later): a failed fdatasync is never
 * retried as if it had worked.
 *
 * Thread: not thread-safe; the server's log writer thread owns it.
 */
#ifndef RK_STORAGE_META_H
#define RK_STORAGE_META_H

#include "common/err.h"
#include "raftkv/raft_types.h"
#include "storage/io.h"

struct rk_meta;

/* Open (creating with an all-zero hard state if missing) the meta file in @dir and store the
 * newest valid hard state in *@hs. @io is borrowed for the object's life; NULL: libc. Returns
 * owned *@out. Errors: RK_ECORRUPT (no valid slot), RK_EIO, RK_ENOSPC, RK_ENOMEM. */
int rk_meta_open(const char *dir, const struct rk_storage_io *io, struct rk_meta **out,
		 struct rk_hard_state *hs, struct rk_err *err);

/* Replace the stored hard state with *@hs, durably, before returning. Borrows @hs.
 * Errors: RK_EIO, RK_ENOSPC (the object is then stopped), RK_ESTOPPED. */
int rk_meta_save(struct rk_meta *m, const struct rk_hard_state *hs, struct rk_err *err);

void rk_meta_close(struct rk_meta *m);

#endif

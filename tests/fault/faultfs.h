/* faultfs.h -- disk faults for a running raftkvd: the control block shared with the LD_PRELOAD
 * shim (faultfs.c, built as tests/fault/.libs/libfaultfs.so) and the runner's side of it.
 *
 * The runner creates a control file with ffs_ctl_create() and starts the daemon with
 *
 *   LD_PRELOAD=<ffs_shim_path()>  RK_FAULTFS=<control file>
 *   ASAN_OPTIONS=<...>:verify_asan_link_order=0     (only needed in --enable-asan builds)
 *
 * (ffs_child_env() builds such an environment). Both sides map the file MAP_SHARED, so
 * ffs_ctl_set() switches faults on and off in the running daemon at once, without signals.
 * The shim interposes, in the daemon:
 *
 *   FFS_FSYNC_EIO     fsync, fdatasync, sync_file_range fail with EIO (without syncing)
 *   FFS_WRITE_ENOSPC  write, writev, pwrite, pwrite64, pwritev, pwritev64, pwritev2,
 *                     pwritev64v2, fallocate, fallocate64 fail with ENOSPC (-1, errno),
 *                     posix_fallocate, posix_fallocate64 return ENOSPC; nothing is written
 *   FFS_FSYNC_SLOW    fsync, fdatasync first sleep fsync_delay_ms, then go on (to EIO if
 *                     FFS_FSYNC_EIO is set too, else to the real call)
 *
 * and only for descriptors whose /proc/self/fd link names a path equal to the prefix or under
 * it: sockets, pipes, eventfds, and stderr or log files elsewhere are never faulted (so keep
 * the daemon's log out of its data directory). With no flag set, a call costs one atomic load
 * before going to libc. That covers every call raftkvd's storage makes durable data with
 * (src/storage/io.c: pwrite, fdatasync, fsync, fallocate; snapfile.c: fsync of a directory);
 * ftruncate, rename, unlink and reads are not faulted.
 * Writes glibc makes internally (stdio's buffered fwrite/fflush) do not go through the
 * interposed symbols and are not faulted either, nor are O_SYNC/O_DSYNC writes treated as
 * syncs, msync, or raw syscall(2)s: storage uses none of them.
 *
 * If RK_FAULTFS is unset, or the file is missing, too short, or has the wrong magic or
 * version, the shim passes everything through. The prefix is read once, when the shim loads.
 *
 * AddressSanitizer: a preloaded library comes before the ASan runtime in the library list,
 * and ASan aborts at start ("ASan runtime does not come first") unless ASAN_OPTIONS contains
 * verify_asan_link_order=0. ffs_child_env() appends it; a runner that builds its own
 * environment must too. In such builds the shim itself is instrumented like the rest.
 *
 * Thread: the control functions may be called from any thread; the shim's hooks are
 * thread-safe (they only read the shared block and add to its counter).
 */
#ifndef RK_TESTS_FAULT_FAULTFS_H
#define RK_TESTS_FAULT_FAULTFS_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#define FFS_MAGIC 0x53464b52u /* "RKFS" little-endian */
#define FFS_VERSION 1u
#define FFS_ENV "RK_FAULTFS"        /* the daemon's environment: path of the control file */
#define FFS_SO_ENV "RK_FAULTFS_SO"  /* the runner's environment: overrides ffs_shim_path() */
#define FFS_PREFIX_MAX 256

#define FFS_FSYNC_EIO (1u << 0)
#define FFS_WRITE_ENOSPC (1u << 1)
#define FFS_FSYNC_SLOW (1u << 2)

/* The control file's layout: both sides are built from this header in the same build. */
struct ffs_ctl {
	uint32_t magic;                   /* FFS_MAGIC once the file is complete */
	uint32_t version;                 /* FFS_VERSION */
	_Atomic uint32_t flags;           /* FFS_* */
	_Atomic uint32_t fsync_delay_ms;  /* for FFS_FSYNC_SLOW */
	char prefix[FFS_PREFIX_MAX];      /* absolute, NUL-terminated; no trailing '/' */
	_Atomic uint64_t hits;            /* faults injected (a slow sync counts once) */
};

_Static_assert(offsetof(struct ffs_ctl, flags) == 8, "ffs_ctl layout");
_Static_assert(offsetof(struct ffs_ctl, prefix) == 16, "ffs_ctl layout");
_Static_assert(offsetof(struct ffs_ctl, hits) == 272, "ffs_ctl layout");
_Static_assert(sizeof(struct ffs_ctl) == 280, "ffs_ctl layout");
/* shared between processes: the atomics must be real instructions, not a lock in one process */
_Static_assert(ATOMIC_INT_LOCK_FREE == 2 && ATOMIC_LLONG_LOCK_FREE == 2, "lock-free atomics");

/* Create (or reset) the control file @path with no fault set, faulting only files under
 * @prefix (a directory; resolved with realpath() when it exists, so that it matches the
 * kernel's names of open files), and map it. Returns owned *@out (ffs_ctl_close()).
 * Errors: RK_EINVAL (@prefix empty or too long), RK_EIO (create, size or map failed). */
int ffs_ctl_create(const char *path, const char *prefix, struct ffs_ctl **out);

/* Switch faults: @flags (FFS_*, 0 for none) and the delay of FFS_FSYNC_SLOW. In force for
 * every call that starts after this returns. */
void ffs_ctl_set(struct ffs_ctl *c, uint32_t flags, uint32_t fsync_delay_ms);

/* Faults injected so far by every process using the file. */
uint64_t ffs_ctl_hits(struct ffs_ctl *c);

/* Unmap @c (NULL is fine). The file stays; a daemon using it keeps its own mapping. */
void ffs_ctl_close(struct ffs_ctl *c);

/* The shim to put in LD_PRELOAD: $RK_FAULTFS_SO if set, else the libfaultfs.so of this build
 * tree (compiled in). Returns borrowed (static, or the environment's). */
const char *ffs_shim_path(void);

/* A copy of @base (an environ-style array; NULL for none) with LD_PRELOAD set to the shim,
 * RK_FAULTFS to @ctl_path and verify_asan_link_order=0 appended to ASAN_OPTIONS; any earlier
 * values of those three are replaced (ASAN_OPTIONS: extended). Made before fork(), it can be
 * passed to execve() in the child. Returns owned *@out, freed with ffs_child_env_free().
 * Errors: RK_ENOMEM. */
int ffs_child_env(char *const *base, const char *ctl_path, char ***out);
void ffs_child_env_free(char **env);

#endif

/* hostcheck.h -- start-up checks of host settings that raftkvd's latency depends on.
 *
 * raftkvd changes no host setting: it reads a few sysfs files once at start and describes each
 * setting known to cost it, so that the operator sees it in the log (raftkvd(8), HOST
 * SETTINGS). Thread: main, before the node starts.
 */
#ifndef RK_SERVER_HOSTCHECK_H
#define RK_SERVER_HOSTCHECK_H

/* Called once per finding with a one-line message, borrowed for the call. */
typedef void rk_hostcheck_fn(void *ctx, const char *msg);

/* Read the settings under @sysfs ("/sys", or a copy of its layout in tests) and call @fn for
 * each finding. A file that is missing or unreadable means the setting does not apply to this
 * host (no cpuidle driver, not a guest): no finding. Returns the number of findings. */
unsigned rk_hostcheck_run(const char *sysfs, rk_hostcheck_fn *fn, void *ctx);

#endif

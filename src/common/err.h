/* err.h -- the one error enum of the server side, and optional detail for a failure.
 *
 * Every fallible function returns an int from this table (RK_OK is 0). The table is an X-macro
 * so that the enum and rk_strerror() cannot drift apart. Codes are stable within one build only:
 * they never go on the wire or to disk (the wire has its own status enum in proto/).
 */
#ifndef RK_COMMON_ERR_H
#define RK_COMMON_ERR_H

#include <stdarg.h>
#include <stddef.h>

#define RK_ERR_TABLE(X)                                                                 \
	X(RK_OK, "success")                                                             \
	X(RK_ENOMEM, "out of memory")                                                   \
	X(RK_EINVAL, "invalid argument")                                                \
	X(RK_EIO, "storage I/O failed")                                                 \
	X(RK_ENOSPC, "no space left on device")                                         \
	X(RK_ECORRUPT, "data is corrupt")                                               \
	X(RK_ENOENT, "no such file or entry")                                           \
	X(RK_EAGAIN, "more input needed")                                               \
	X(RK_EFULL, "queue is full")                                                    \
	X(RK_ESHUTDOWN, "shut down")                                                    \
	X(RK_EFRAME_HEADER, "bad frame header")                                         \
	X(RK_EFRAME_TOOBIG, "frame larger than the configured maximum")                 \
	X(RK_EFRAME_DECODE, "frame payload does not decode")                            \
	X(RK_EPROTO, "protocol violation")                                              \
	X(RK_ENOTLEADER, "not the leader")                                              \
	X(RK_ECOMPACTED, "log entry compacted away")                                    \
	X(RK_EUNAVAILABLE, "log entry not available")                                   \
	X(RK_ECONFCHANGE, "a membership change is already in progress")                 \
	X(RK_ETRANSFER, "a leadership transfer is in progress")                         \
	X(RK_ENOTFOUND, "key not found")                                                \
	X(RK_EEXISTS, "key exists")                                                     \
	X(RK_ECASFAILED, "compare-and-swap failed")                                     \
	X(RK_ETOOLARGE, "too large")                                                    \
	X(RK_ETIMEOUT, "timed out")                                                     \
	X(RK_EBUSY, "busy, try again")                                                  \
	X(RK_ECONFIG, "bad configuration")                                              \
	X(RK_ESTOPPED, "stopped after an earlier fatal error")                          \
	X(RK_ESTALE, "request older than its session's last applied one")

enum rk_err_code {
#define RK_ERR_ENUM(name, text) name,
	RK_ERR_TABLE(RK_ERR_ENUM)
#undef RK_ERR_ENUM
	RK_ERR__COUNT
};

/* Static text for @code; "unknown error" for a value outside the table. */
const char *rk_strerror(int code);

/* Optional detail for a failure: callers that care pass one, others pass NULL. */
struct rk_err {
	int code;
	char msg[256];
};

/* Record @code with a printf-style message in @err (if not NULL) and return @code, so that
 * callers can write `return rk_err_set(err, RK_EIO, "open %s", path);`. */
int rk_err_set(struct rk_err *err, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* As rk_err_set(), appending ": strerror(@sys_errno)" to the message. */
int rk_err_errno(struct rk_err *err, int code, int sys_errno, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/* The message in @err if one was set, else rk_strerror(@code). */
const char *rk_err_text(const struct rk_err *err, int code);

#endif

/* log.h -- leveled logging to stderr, one line per event, journald-friendly.
 *
 * rk_log() tests the level before formatting anything, so a disabled level costs one load and
 * one compare: debug lines may stay in warm paths. Lines look like
 *   2026-11-23T18:02:21.123Z n1 INFO joined as voter
 * When stderr is the journal (JOURNAL_STREAM set) the timestamp is left to journald and a
 * "<N>" priority prefix is written instead, so `journalctl -p warning` works.
 */
#ifndef RK_COMMON_LOG_H
#define RK_COMMON_LOG_H

#include <stdint.h>

enum rk_log_level {
	RK_LOG_ERROR = 0,
	RK_LOG_WARN = 1,
	RK_LOG_INFO = 2,
	RK_LOG_DEBUG = 3,
	RK_LOG_TRACE = 4,
};

extern int rk_log_level_cur; /* read by the macro; set with rk_log_set_level() */

void rk_log_set_level(enum rk_log_level level);
void rk_log_set_node(uint64_t node_id); /* 0: no node prefix */

/* Parse "error|warn|info|debug|trace"; returns 0 and sets @out, or -1. */
int rk_log_parse_level(const char *s, enum rk_log_level *out);

void rk_log_write(enum rk_log_level level, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

#define rk_log(level, ...)                                                              \
	do {                                                                            \
		if ((int)(level) <= rk_log_level_cur)                                   \
			rk_log_write((level), __VA_ARGS__);                             \
	} while (0)

#endif

/* log.c -- see log.h. Each line is formatted into a stack buffer and written with one write(2)
 * so that lines from different threads never interleave. */
#include "common/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

int rk_log_level_cur = RK_LOG_INFO;
static uint64_t log_node;
static int log_journal = -1; /* -1: not probed yet */

static const char *const level_name[] = { "ERROR", "WARN", "INFO", "DEBUG", "TRACE" };
static const int level_syslog[] = { 3, 4, 6, 7, 7 };

void rk_log_set_level(enum rk_log_level level)
{
	rk_log_level_cur = (int)level;
}

void rk_log_set_node(uint64_t node_id)
{
	log_node = node_id;
}

int rk_log_parse_level(const char *s, enum rk_log_level *out)
{
	static const char *const names[] = { "error", "warn", "info", "debug", "trace" };

	for (int i = 0; i < 5; i++) {
		if (strcmp(s, names[i]) == 0) {
			*out = (enum rk_log_level)i;
			return 0;
		}
	}
	return -1;
}

void rk_log_write(enum rk_log_level level, const char *fmt, ...)
{
	char line[1024];
	size_t n = 0;
	int rv;
	va_list ap;

	if (log_journal < 0)
		log_journal = getenv("JOURNAL_STREAM") != NULL;
	if (log_journal) {
		rv = snprintf(line, sizeof line, "<%d>", level_syslog[level]);
	} else {
		struct timespec ts;
		struct tm tm;

		clock_gettime(CLOCK_REALTIME, &ts);
		gmtime_r(&ts.tv_sec, &tm);
		rv = snprintf(line, sizeof line, "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ ",
			      tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
			      tm.tm_sec, ts.tv_nsec / 1000000);
	}
	n = rv > 0 ? (size_t)rv : 0;
	if (log_node != 0 && n < sizeof line) {
		rv = snprintf(line + n, sizeof line - n, "n%llu ", (unsigned long long)log_node);
		n += rv > 0 ? (size_t)rv : 0;
	}
	if (n < sizeof line) {
		rv = snprintf(line + n, sizeof line - n, "%s ", level_name[level]);
		n += rv > 0 ? (size_t)rv : 0;
	}
	if (n < sizeof line) {
		va_start(ap, fmt);
		rv = vsnprintf(line + n, sizeof line - n, fmt, ap);
		va_end(ap);
		n += rv > 0 ? (size_t)rv : 0;
	}
	if (n >= sizeof line)
		n = sizeof line - 1; /* truncated: keep the newline */
	line[n++] = '\n';
	/* Nothing useful can be done if stderr is gone. */
	if (write(STDERR_FILENO, line, n) < 0)
		return;
}

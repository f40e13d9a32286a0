/* node_config_int.h -- between the key table (node_config.c) and the file reader
 * (node_config_file.c). Not for use outside these two files. */
#ifndef RK_SERVER_NODE_CONFIG_INT_H
#define RK_SERVER_NODE_CONFIG_INT_H

#include <stdbool.h>

#include "common/err.h"
#include "server/node_config.h"

/* Set "[@section] @name = @value" in @c, remembering @origin (a line of @path, or
 * RK_CONFIG_ORIGIN_CMDLINE with @path NULL). An unknown section or key is refused. For a
 * member id already present, @replace overrides it (command line) instead of refusing it (a
 * second spelling of one id in the file: "member.1" and "member.01").
 * Errors: RK_ECONFIG (err: "ORIGIN: [SECTION] NAME = VALUE: PROBLEM"). */
int rk_config_apply(struct rk_config *c, const char *section, const char *name,
		    const char *value, const char *path, unsigned origin, bool replace,
		    struct rk_err *err);

#define RK_CONFIG_UNKNOWN_SECTION "unknown section (known: node, cluster, raft, server, storage, log)"

/* True if @section is one of the sections of raftkv.conf(5). */
bool rk_config_is_section(const char *section);

/* Record the one message format, "ORIGIN: [SECTION] NAME = VALUE: PROBLEM", in @err and
 * return RK_ECONFIG. @name NULL: a message about the section; @value NULL: about the key
 * (missing, unknown); @section "": a key above any section header. */
int rk_config_fail(struct rk_err *err, const char *path, unsigned origin, const char *section,
		   const char *name, const char *value, const char *fmt, ...)
	__attribute__((format(printf, 7, 8)));

#endif

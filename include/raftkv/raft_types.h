/* raft_types.h -- the vocabulary shared by the Raft core, the log storage and the server.
 *
 * Kept apart from raft.h so that storage can persist entries and hard state without depending
 * on the core's internals. Nothing here allocates.
 */
#ifndef RAFTKV_RAFT_TYPES_H
#define RAFTKV_RAFT_TYPES_H

#include <stddef.h>
#include <stdint.h>

typedef uint64_t rk_term;
typedef uint64_t rk_index;   /* log index; 0 means "none", the first entry is 1 */
typedef uint64_t rk_node_id; /* 0 means "none" (no vote, no known leader) */

/* A byte range. Who owns base is said by each function that passes one. */
struct rk_buf {
	void *base;
	size_t len;
};

enum rk_entry_type {
	RK_ENTRY_NORMAL = 1, /* a state-machine command (opaque to the core) */
	RK_ENTRY_NOOP = 2,   /* appended by a new leader (§5.4.2, §6.4) */
	RK_ENTRY_CONF = 3,   /* a membership configuration (§4.1), encoded by the core */
};

struct rk_entry {
	rk_term term;
	rk_index index;
	uint8_t type;       /* enum rk_entry_type */
	struct rk_buf data; /* payload; ownership as stated by the function passing it */
};

/* What must be durable before the node answers a vote or an append (§3.8 Figure 3.1). */
struct rk_hard_state {
	rk_term term;
	rk_node_id vote;
	rk_index commit; /* advisory: lets a restart re-apply without waiting for a leader */
};

#endif

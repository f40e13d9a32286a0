/* node.h -- one raftkvd node: the Raft core, its storage, the store and the threads that
 * drive them (docs/ARCHITECTURE.md, "Threads and ownership").
 *
 * Thread: rk_node_start and rk_node_stop from the main thread only.
 */
#ifndef RK_SERVER_NODE_H
#define RK_SERVER_NODE_H

#include <stdbool.h>
#include <stdint.h>

#include "common/err.h"
#include "server/node_config.h"

struct rk_node;

/* Open the data directory, recover the log and hard state, bind the listeners and start every
 * thread. Borrows @cfg for the call. Returns owned *@out.
 * Errors: RK_EIO, RK_ECORRUPT, RK_ENOMEM, RK_ECONFIG (with detail in @err). */
int rk_node_start(const struct rk_config *cfg, struct rk_node **out, struct rk_err *err);

/* Graceful stop: stop accepting, fail what is in flight, flush the log, join every thread,
 * close everything. Takes @n. */
void rk_node_stop(struct rk_node *n);

/* Whether the node stopped itself because its storage failed (it then raised SIGTERM). */
bool rk_node_storage_failed(struct rk_node *n);

/* The leader this node knows of (0: none yet). Any thread. */
uint64_t rk_node_leader(struct rk_node *n);

/* Restore a backup (raftkvctl snapshot save) into this node's empty data directory: verify
 * @file, install it as the node's snapshot, and start the log and hard state right after it.
 * Run on every node, from the same file, with every node stopped; then start them.
 * Errors: RK_EEXISTS (the data directory already holds a node), RK_ECORRUPT, RK_ECONFIG (this
 * node is not in the backup's membership), RK_EIO, RK_ENOSPC. */
int rk_node_restore(const struct rk_config *cfg, const char *file, struct rk_err *err);

#endif

/* node.h -- one raftkvd node: the Raft core, its storage, the store and the threads that
 * drive them (docs/ARCHITECTURE.md, "Threads and ownership").
 *
 * Thread: rk_node_start and rk_node_stop from the main thread only.
 */
#ifndef RK_SERVER_NODE_H
#define RK_SERVER_NODE_H

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

#endif

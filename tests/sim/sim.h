/* sim.h -- a deterministic simulated cluster for the Raft core.
 *
 * Time is an integer clock; every SIM_TICK units each live node gets rk_raft_tick(). Messages
 * are deep-copied into a network queue ordered by delivery time; the network can drop,
 * duplicate, delay (and so reorder) messages and cut any directed link. Each node has a fake
 * disk: a Ready's writes complete after an fsync latency, in order, and only then is the core
 * told rk_raft_persisted(); a crash loses every write still in flight. The state machine of a
 * node is the sequence of hashes of the entries it applied; its serialization is the snapshot.
 *
 * The built-in checker (on unless opts.no_check) verifies after every step: at most one leader
 * per term, log matching (same index@term => same entry and same previous term), state machine
 * safety (every node applies the same entry at an index), leader completeness (a new leader
 * holds every entry committed in an earlier term), and that a released ReadIndex is not below
 * anything applied before the read was asked. The first violation is kept in sim_violation().
 * Single-threaded; all randomness comes from the seed.
 */
#ifndef RK_TESTS_SIM_H
#define RK_TESTS_SIM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "raftkv/raft.h"

#define SIM_MAX_NODES 7
#define SIM_TICK 10 /* time units per tick */

struct sim_opts {
	int n_nodes;   /* 1..SIM_MAX_NODES, ids 1..n */
	int n_voters;  /* nodes 1..n_voters form the initial conf; the rest join later (0: all) */
	uint64_t seed;
	bool trace;    /* keep a transcript */
	bool no_check;
	unsigned election_ticks;  /* 0: 10 */
	unsigned heartbeat_ticks; /* 0: 1 */
	unsigned max_inflight;    /* 0: 8 */
	size_t max_msg_bytes;     /* 0: 4096 */
	size_t snap_chunk_bytes;  /* 0: 4096 */
	bool no_pre_vote;
	bool no_check_quorum;
	unsigned test_bugs;
	unsigned payload_pad;     /* extra bytes per proposed command */
	unsigned enomem_pct;      /* per time unit: make the core's allocations fail for a while */
};

struct sim;

struct sim *sim_new(const struct sim_opts *o);
void sim_free(struct sim *s);

/* ---- running ---- */
void sim_step(struct sim *s);               /* one time unit */
void sim_run(struct sim *s, unsigned ticks); /* ticks * SIM_TICK units */
/* Run until @pred(s, arg) holds or @max_ticks pass; returns whether it held. */
bool sim_run_until(struct sim *s, bool (*pred)(struct sim *, void *), void *arg,
		   unsigned max_ticks);
uint64_t sim_now(const struct sim *s);

/* ---- observing ---- */
int sim_leader(struct sim *s); /* a live leader of the highest term, 0 if none */
int sim_wait_leader(struct sim *s, unsigned max_ticks);
const struct rk_raft_status *sim_status(struct sim *s, int node); /* NULL when down */
struct rk_raft *sim_raft(struct sim *s, int node);
rk_index sim_applied(struct sim *s, int node);
/* Value of the NORMAL entry node applied at @index (0 if none/not normal). */
uint64_t sim_applied_value(struct sim *s, int node, rk_index index);
bool sim_wait_applied(struct sim *s, rk_index index, unsigned max_ticks); /* all live nodes */
bool sim_wait_applied_on(struct sim *s, int node, rk_index index, unsigned max_ticks);
/* Index at which @value was applied by @node, 0 if not. */
rk_index sim_find_value(struct sim *s, int node, uint64_t value);
const char *sim_violation(const struct sim *s); /* NULL while all is well */
const char *sim_transcript(const struct sim *s);
bool sim_trace_has(const struct sim *s, const char *text);
void sim_trace_clear(struct sim *s);
uint64_t sim_msgs_sent(const struct sim *s, int type);  /* per rk_msg_type, after faults */
uint64_t sim_rejects(const struct sim *s);              /* AppendEntries rejections */
void sim_reset_stats(struct sim *s);
int sim_n(const struct sim *s);
bool sim_up(const struct sim *s, int node);

/* ---- acting ---- */
/* Propose one command carrying @value on @node; returns its index or 0 (not leader...). */
rk_index sim_propose(struct sim *s, int node, uint64_t value);
/* Propose on the current leader, retrying through elections, until @value is applied by all
 * live nodes; returns its index or 0 on timeout (6.824's one()). */
rk_index sim_one(struct sim *s, uint64_t value, unsigned max_ticks);
int sim_conf_change(struct sim *s, int node, enum rk_conf_op op, int target);
int sim_transfer(struct sim *s, int node, int target);
int sim_read_index(struct sim *s, int node, uint64_t ctx);
/* Reads released on @node so far: how many with ctx, last status/index. */
bool sim_read_result(struct sim *s, int node, uint64_t ctx, int *status, rk_index *index);
int sim_snapshot(struct sim *s, int node, rk_index trailing); /* at applied index */
uint64_t sim_snapshot_chunks_recv(const struct sim *s, int node);

void sim_crash(struct sim *s, int node);
void sim_restart(struct sim *s, int node);
void sim_cut(struct sim *s, int from, int to, bool cut); /* one-way link */
void sim_isolate(struct sim *s, int node);                /* cut both ways from everyone */
void sim_partition(struct sim *s, unsigned mask_a);       /* nodes in mask_a vs the rest */
void sim_heal(struct sim *s);                              /* all links up */
/* Network faults in percent and latency range in time units. */
void sim_set_net(struct sim *s, unsigned drop_pct, unsigned dup_pct, unsigned lat_min,
		 unsigned lat_max);
void sim_set_long_delay(struct sim *s, unsigned pct, unsigned max_delay);
void sim_set_fsync(struct sim *s, unsigned lat_min, unsigned lat_max);

uint64_t sim_rand(struct sim *s);

#endif

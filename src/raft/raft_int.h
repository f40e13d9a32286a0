/* raft_int.h -- the core's private state, shared by its .c files (never by callers).
 *
 * Module split: raft.c (lifecycle, terms, step dispatch, Ready/advance, durability
 * bookkeeping), election.c (timeouts, pre-vote, votes, check-quorum, transfer), replication.c
 * (AppendEntries both ways, commit, snapshots), progress.c (per-follower flow control),
 * readindex.c, conf.c, rlog.c.
 */
#ifndef RK_RAFT_RAFT_INT_H
#define RK_RAFT_RAFT_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "raft/rlog.h"
#include "raftkv/raft.h"

enum pr_state {
	PR_PROBE = 0,     /* one append at a time until the match point is found */
	PR_REPLICATE = 1, /* optimistic pipelining, up to max_inflight messages */
	PR_SNAPSHOT = 2,  /* sending a snapshot in chunks */
};

struct rk_progress {
	rk_index match;      /* highest index known replicated (durable) there */
	rk_index next;       /* next index to send; > match */
	uint8_t state;       /* enum pr_state */
	bool paused;         /* probe: an append is out, wait for its answer or a heartbeat ack */
	bool active;         /* heard from since the last check-quorum round */
	unsigned infl_start; /* ring of in-flight appends: last index of each */
	unsigned infl_n;
	rk_index infl[RK_MAX_INFLIGHT];
	rk_index snap_index;  /* PR_SNAPSHOT: snapshot being sent */
	uint64_t snap_offset; /* PR_SNAPSHOT: next byte to send (acked so far) */
	unsigned snap_idle;   /* ticks since the last chunk went out */
	uint64_t read_ack;    /* highest ReadIndex round acknowledged */
	rk_index commit_sent; /* highest commit index told (append or heartbeat) this term */
};

struct held_msg {
	uint64_t need; /* persist id that must be durable before sending */
	struct rk_msg m;
};

struct pending_write {
	uint64_t id;
	rk_index index; /* last log entry as of this write */
	rk_term term;
};

struct pending_read {
	uint64_t ctx;
	rk_index index; /* 0 until the leader has committed an entry of its term */
	uint64_t round; /* heartbeat round confirming it; 0 until one is started */
	rk_node_id from; /* who asked: ourselves, or a follower that forwarded it */
};

struct rk_raft {
	struct rk_raft_config cfg;
	rk_node_id id;
	enum rk_state state;
	rk_term term;
	rk_node_id vote;
	rk_node_id leader;

	struct rk_rlog log;
	rk_index commit;
	rk_index applied_out; /* last index handed out in rd.committed */
	struct rk_conf conf;  /* latest in the log (or the snapshot's) */
	rk_index conf_index;  /* index of that CONF entry; snapshot index when from it */
	struct rk_snap_meta snap;

	unsigned election_elapsed;
	unsigned heartbeat_elapsed;
	unsigned rand_timeout;
	uint64_t rng;

	uint8_t votes[RK_CONF_MAX]; /* candidate: 0 unknown, 1 granted, 2 rejected */
	uint64_t self_vote_need;    /* candidate: persist id making our own vote durable */

	/* leader */
	struct rk_progress prs[RK_CONF_MAX]; /* parallel to conf.m */
	rk_index term_start;        /* index of this leader's no-op */
	rk_index pending_conf;      /* latest CONF entry index appended by this leader */
	rk_node_id transferee;
	unsigned transfer_elapsed;
	struct pending_read *reads; /* FIFO */
	size_t n_reads, cap_reads;
	uint64_t read_round;        /* last round started */
	bool read_round_wanted;
	bool bcast_wanted;          /* proposals arrived: send appends at the next Ready */

	/* durability */
	uint64_t last_id;      /* last persist id handed out */
	uint64_t durable_id;   /* highest id reported persisted */
	rk_index unstable;     /* first log index not yet handed out for writing */
	bool hs_dirty;
	struct rk_hard_state hs_out; /* last hard state handed out */
	struct pending_write *writes;
	size_t n_writes, cap_writes;
	rk_index durable_index;

	/* snapshot receiving */
	rk_index rx_index;      /* snapshot being received (0: none) */
	rk_term rx_term;
	uint64_t rx_next;       /* next byte expected */
	struct rk_chunk_write *chunks;
	size_t n_chunks, cap_chunks;
	bool install;
	struct rk_snap_meta install_meta;

	/* outputs */
	struct rk_msg *out;
	size_t n_out, cap_out;
	struct held_msg *held;
	size_t held_start, n_held, cap_held;
	struct rk_read *reads_out;
	size_t n_reads_out, cap_reads_out;
	struct rk_msg *rd_msgs; /* the msgs array handed out in the current Ready */
	size_t n_rd_msgs, cap_rd_msgs;

	char tbuf[512];
};

/* ---- raft.c ---- */
void rk_trace_fmt(struct rk_raft *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
#define TRACE(r, ...)                                                                   \
	do {                                                                            \
		if ((r)->cfg.tracer.line != NULL)                                       \
			rk_trace_fmt((r), __VA_ARGS__);                                 \
	} while (0)

int rk_grow(void **arr, size_t *cap, size_t need, size_t elem);
int rk_send(struct rk_raft *r, struct rk_msg *m);  /* leader traffic: out now */
int rk_reply(struct rk_raft *r, struct rk_msg *m); /* held until state is durable */
void rk_become_follower(struct rk_raft *r, rk_term term, rk_node_id leader);
void rk_become_leader(struct rk_raft *r);
void rk_set_term(struct rk_raft *r, rk_term term);
int rk_append_local(struct rk_raft *r, struct rk_entry *e, size_t n);
void rk_truncate_local(struct rk_raft *r, rk_index from);
void rk_conf_recompute(struct rk_raft *r);
void rk_conf_set(struct rk_raft *r, const struct rk_conf *c, rk_index index);
int rk_self_pos(const struct rk_raft *r);
bool rk_is_voter_self(const struct rk_raft *r);
unsigned rk_quorum(const struct rk_raft *r);
int rk_bug(const struct rk_raft *r, unsigned bug);

/* ---- election.c ---- */
void rk_reset_election_timer(struct rk_raft *r);
void rk_tick_election(struct rk_raft *r);
void rk_tick_leader(struct rk_raft *r);
int rk_campaign(struct rk_raft *r, bool pre, bool force);
int rk_recv_vote(struct rk_raft *r, const struct rk_msg *m);
int rk_recv_vote_resp(struct rk_raft *r, const struct rk_msg *m);
bool rk_in_lease(const struct rk_raft *r);
int rk_recv_timeout_now(struct rk_raft *r, const struct rk_msg *m);
void rk_maybe_send_timeout_now(struct rk_raft *r, int k);
void rk_count_self_vote(struct rk_raft *r);
uint64_t rk_persist_need(const struct rk_raft *r);
void rk_abort_transfer(struct rk_raft *r, const char *why);

/* ---- replication.c ---- */
int rk_send_append(struct rk_raft *r, int k, bool even_empty);
void rk_bcast_append(struct rk_raft *r);
int rk_bcast_heartbeat(struct rk_raft *r, uint64_t ctx);
int rk_recv_append(struct rk_raft *r, const struct rk_msg *m);
int rk_recv_append_resp(struct rk_raft *r, const struct rk_msg *m);
int rk_recv_heartbeat(struct rk_raft *r, const struct rk_msg *m);
int rk_recv_heartbeat_resp(struct rk_raft *r, const struct rk_msg *m);
int rk_recv_snapshot(struct rk_raft *r, const struct rk_msg *m);
int rk_recv_snapshot_resp(struct rk_raft *r, const struct rk_msg *m);
bool rk_maybe_commit(struct rk_raft *r);
void rk_send_commit_updates(struct rk_raft *r);
void rk_tick_snapshots(struct rk_raft *r);

/* ---- progress.c ---- */
void rk_pr_reset(struct rk_progress *p, rk_index next);
void rk_pr_become_probe(struct rk_progress *p);
void rk_pr_become_replicate(struct rk_progress *p);
void rk_pr_become_snapshot(struct rk_progress *p, rk_index snap_index);
bool rk_pr_is_paused(const struct rk_progress *p, unsigned max_inflight);
void rk_pr_sent(struct rk_progress *p, rk_index last, size_t n_entries);
void rk_pr_free_to(struct rk_progress *p, rk_index upto);
void rk_pr_free_first(struct rk_progress *p);
bool rk_pr_maybe_update(struct rk_progress *p, rk_index match);

/* ---- readindex.c ---- */
int rk_readindex_request(struct rk_raft *r, uint64_t ctx, rk_node_id from);
int rk_readindex_recv(struct rk_raft *r, const struct rk_msg *m);
void rk_readindex_on_commit(struct rk_raft *r);
void rk_readindex_on_ack(struct rk_raft *r);
void rk_readindex_start_round(struct rk_raft *r);
void rk_readindex_fail_all(struct rk_raft *r);
int rk_push_read(struct rk_raft *r, uint64_t ctx, rk_index index, int status);

/* ---- conf.c ---- */
int rk_conf_apply_op(struct rk_conf *c, enum rk_conf_op op, rk_node_id id);

#endif

/* raft.h -- the pure Raft core: election, replication, compaction, ReadIndex, leadership
 * transfer and single-server membership changes, with no I/O of its own.
 *
 * The core never reads a clock, touches a socket or a file, starts a thread or draws libc
 * randomness. The caller feeds it inputs (rk_raft_tick, rk_raft_recv, rk_raft_propose, ...)
 * and then drains its outputs in one batch (rk_raft_ready / rk_raft_advance):
 *
 *   rk_raft_ready(r, &rd)          under the node lock
 *     copy rd.hs / rd.entries / rd.chunks / rd.snap into a write batch for the log writer
 *     encode rd.msgs for the io thread (fill snapshot chunk bytes from the snapshot file)
 *     copy rd.committed (and rd.snap install) into the apply queue, rd.reads to the readers
 *   rk_raft_advance(r, &rd)        still under the lock: rd is dead after this
 *   ... the log writer writes + fsyncs the batch, then, under the lock:
 *   rk_raft_persisted(r, rd.persist_id)
 *
 * Durability contract (§3.8, §10.2.1): every message in rd.msgs may be sent at once. Replies
 * that rest on state not yet durable (a granted vote, an append or snapshot acknowledgement,
 * a vote request carrying the candidate's own vote) are held inside the core and appear in a
 * later Ready only after rk_raft_persisted() has covered the write they depend on. A leader
 * sends its new entries to followers before its own write finishes but counts itself in the
 * commit quorum only up to what it has been told is durable.
 *
 * Thread: one rk_raft is used by one thread at a time (the server holds rk_node.lock).
 */
#ifndef RAFTKV_RAFT_H
#define RAFTKV_RAFT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "raftkv/raft_types.h"

#define RK_CONF_MAX 16      /* members (voters + learners) in one configuration */
#define RK_MAX_INFLIGHT 64  /* upper bound for rk_raft_config.max_inflight */

/* ---- membership -------------------------------------------------------------------- */

enum rk_role_in_conf {
	RK_CONF_VOTER = 1,
	RK_CONF_LEARNER = 2, /* receives the log and snapshots, never votes nor counts */
};

struct rk_conf_member {
	rk_node_id id;
	uint8_t role; /* enum rk_role_in_conf */
};

/* A membership configuration (§4.1). Small and fixed-size on purpose: it is copied by value
 * into snapshot metadata and messages, and never allocates. */
struct rk_conf {
	unsigned n; /* members in m[] */
	struct rk_conf_member m[RK_CONF_MAX];
};

#define RK_CONF_ENCODED_MAX (8 + RK_CONF_MAX * 9)

/* Encode @c into @buf (at least RK_CONF_ENCODED_MAX bytes); returns the length written.
 * Layout: u32 magic+version, u32 n, then n x (u64 id LE, u8 role). */
size_t rk_conf_encode(const struct rk_conf *c, uint8_t *buf);

/* Decode @len bytes at @buf into @c. Errors: RK_ECORRUPT (bad magic, size, role, zero or
 * duplicate id). Bytes come from disk or the wire: never asserts on them. */
int rk_conf_decode(struct rk_conf *c, const void *buf, size_t len);

/* Index of @id in @c or -1. */
int rk_conf_find(const struct rk_conf *c, rk_node_id id);
bool rk_conf_is_voter(const struct rk_conf *c, rk_node_id id);
unsigned rk_conf_voters(const struct rk_conf *c);

/* Snapshot metadata: what a snapshot covers and the configuration as of its last entry. */
struct rk_snap_meta {
	rk_index index;
	rk_term term;
	uint64_t size; /* bytes of the serialized state machine */
	struct rk_conf conf;
};

/* ---- messages ---------------------------------------------------------------------- */

enum rk_msg_type {
	RK_MSG_VOTE = 1,      /* RequestVote: index/log_term = candidate's last entry */
	RK_MSG_VOTE_RESP,     /* reject = not granted */
	RK_MSG_PREVOTE,       /* §9.6: term = the term the candidate would campaign in */
	RK_MSG_PREVOTE_RESP,
	RK_MSG_APPEND,        /* index/log_term = prev entry; entries; commit */
	RK_MSG_APPEND_RESP,   /* ok: index = match; reject: index/log_term = conflict hint */
	RK_MSG_HEARTBEAT,     /* commit (capped at the follower's match); ctx = read round */
	RK_MSG_HEARTBEAT_RESP,/* ctx echoed */
	RK_MSG_SNAPSHOT,      /* one chunk: snap, offset, data (len set, bytes filled by caller), done */
	RK_MSG_SNAPSHOT_RESP, /* index = snap.index; offset = next byte wanted; reject = restart */
	RK_MSG_TIMEOUT_NOW,   /* §3.10: campaign now, skipping pre-vote and leases */
	RK_MSG_READ_INDEX,    /* follower -> leader: a forwarded read, ctx */
	RK_MSG_READ_INDEX_RESP, /* ctx, index to wait for; reject = leader could not confirm */
};
#define RK_MSG_TYPE_MAX RK_MSG_READ_INDEX_RESP /* highest valid enum rk_msg_type */

struct rk_msg {
	uint8_t type; /* enum rk_msg_type */
	bool reject;
	bool force;   /* VOTE/PREVOTE after TimeoutNow: voters ignore their leader lease */
	bool done;    /* SNAPSHOT: last chunk */
	rk_node_id from;
	rk_node_id to;
	rk_term term;
	rk_index index;
	rk_term log_term;
	rk_index commit;
	uint64_t ctx;    /* HEARTBEAT(_RESP): ReadIndex round being confirmed */
	uint64_t offset; /* SNAPSHOT(_RESP): byte offset of the chunk / next byte wanted */
	struct rk_entry *entries; /* APPEND: borrowed as the message is */
	size_t n_entries;
	struct rk_buf data;       /* SNAPSHOT: chunk bytes. Out of the core: data.len is set and
				   * data.base is NULL; the caller reads data.len bytes at
				   * offset of snapshot snap.index and sends them. */
	struct rk_snap_meta snap; /* SNAPSHOT */
};

/* ---- configuration ----------------------------------------------------------------- */

/* Trace sink: called with one complete line (no newline) per decision. NULL line: nothing
 * is formatted at all. */
struct rk_tracer {
	void *data;
	void (*line)(void *data, const char *line);
};

/* Test-only fault injection (rk_raft_config.test_bugs): each bit breaks one rule so that the
 * simulator's safety checker can prove it notices. Never set outside tests. */
enum rk_test_bug {
	RK_BUG_VOTE_NOT_DURABLE = 1u << 0, /* vote replied before durable, and never persisted */
	RK_BUG_COMMIT_OLD_TERM = 1u << 1,  /* count replicas of old-term entries and skip the
					    * new leader's no-op (Figure 3.7 unprotected) */
	RK_BUG_VOTE_ANY_LOG = 1u << 2,     /* skip the up-to-date log check (§5.4.1) */
	RK_BUG_READ_NO_CONFIRM = 1u << 3,  /* release reads without a quorum round (§6.4) */
};

struct rk_raft_config {
	rk_node_id id;
	unsigned election_ticks;   /* base election timeout; randomized in [e, 2e) ... */
	unsigned election_ticks_max; /* ... or in [e, max] when set (>= election_ticks) */
	unsigned heartbeat_ticks;  /* < election_ticks */
	unsigned max_inflight;     /* AppendEntries in flight per follower, 1..RK_MAX_INFLIGHT */
	size_t max_msg_bytes;      /* payload bytes per AppendEntries (at least one entry) */
	size_t snap_chunk_bytes;   /* bytes per InstallSnapshot chunk */
	bool pre_vote;             /* §9.6 */
	bool check_quorum;         /* §6.2 leader step-down + follower lease */
	uint64_t seed;             /* for the election-timeout PRNG; 0 is replaced by id */
	struct rk_tracer tracer;
	unsigned test_bugs;        /* enum rk_test_bug; tests only */
};

/* Fill @c with defaults for node @id (election 10, heartbeat 1, inflight 32, 1 MiB msgs,
 * 1 MiB chunks, pre-vote and check-quorum on). */
void rk_raft_config_default(struct rk_raft_config *c, rk_node_id id);

/* What the node had made durable, handed to rk_raft_new(). For a brand-new cluster member
 * pass snap = {0, 0, 0, initial conf}; for a node that will be added later, an empty conf. */
struct rk_raft_restore {
	struct rk_hard_state hs;
	struct rk_snap_meta snap;       /* last installed or taken snapshot (index 0: none) */
	const struct rk_entry *entries; /* borrowed for the call: the log after snap.index */
	size_t n_entries;
	bool take_data; /* rk_raft_new takes every entries[k].data.base, on success and on
			 * error (a restart skips one copy of the log); false: it copies */
};

struct rk_raft;

/* Create a core from durable state (copied: @rs is borrowed for the call, but see take_data).
 * Returns owned (free with rk_raft_free) or NULL with *rv set. Errors: RK_ENOMEM, RK_ECONFIG
 * (bad config), RK_ECORRUPT (entries not contiguous after snap.index, or terms going down). */
struct rk_raft *rk_raft_new(const struct rk_raft_config *cfg, const struct rk_raft_restore *rs,
			    int *rv);
void rk_raft_free(struct rk_raft *r);

/* ---- inputs ------------------------------------------------------------------------ */

/* One logical clock tick (the timer thread's period). */
void rk_raft_tick(struct rk_raft *r);

/* Feed a received message; @m and everything it points to is borrowed for the call.
 * Errors (the message is dropped; a newer term it carried may have been adopted first):
 * RK_ENOMEM, RK_EPROTO (malformed, e.g. entries not contiguous, or not addressed to us). */
int rk_raft_recv(struct rk_raft *r, const struct rk_msg *m);

/* Append @n commands to the leader's log as NORMAL entries. Takes every data.base in @cmds
 * (allocated with rk_malloc) on RK_OK; on error the caller keeps them all. *first gets the index of
 * the first one. Errors: RK_ENOTLEADER, RK_ETRANSFER (transfer in progress), RK_ENOMEM. */
int rk_raft_propose(struct rk_raft *r, struct rk_buf *cmds, size_t n, rk_index *first);

enum rk_conf_op {
	RK_CONF_ADD_VOTER = 1,   /* also promotes a learner */
	RK_CONF_ADD_LEARNER = 2,
	RK_CONF_REMOVE = 3,
};

/* Propose a single-server membership change (§4.1). Effective on append. Errors:
 * RK_ENOTLEADER, RK_ETRANSFER, RK_ECONFCHANGE (a change is uncommitted, or no entry of this
 * term is committed yet), RK_EINVAL (no-op change, unknown node, last voter), RK_ENOMEM. */
int rk_raft_propose_conf(struct rk_raft *r, enum rk_conf_op op, rk_node_id id, rk_index *index);

/* Ask for a linearizable read (§6.4). @ctx comes back in rd.reads with the index to wait for
 * (serve once applied >= index) or a failure status. On a follower the read is forwarded to
 * the leader; if either message is lost it never comes back, so the server times reads out.
 * Errors: RK_ENOTLEADER (no known leader), RK_ENOMEM. */
int rk_raft_read_index(struct rk_raft *r, uint64_t ctx);

/* Transfer leadership to @to (§3.10). Errors: RK_ENOTLEADER, RK_EINVAL (not a voter or self),
 * RK_ETRANSFER (another transfer running). */
int rk_raft_transfer(struct rk_raft *r, rk_node_id to);

/* Everything handed out in Ready number @persist_id (and before) is durable: entries written
 * and fsynced, hard state written, snapshot chunks written, a received snapshot installed. */
void rk_raft_persisted(struct rk_raft *r, uint64_t persist_id);

/* Metadata for a snapshot of the state machine at applied index @index (<= commit): its
 * term and the configuration as of @index, to store with the snapshot. size is left 0 for
 * the caller to fill. Errors: RK_EINVAL (index not applied yet, or already compacted). */
int rk_raft_snapshot_meta(const struct rk_raft *r, rk_index index, struct rk_snap_meta *meta);

/* The caller has durably written a snapshot described by @meta (from rk_raft_snapshot_meta(),
 * size filled in). The core makes it the one it sends to lagging followers and compacts its
 * log up to meta->index - @trailing (keeping a few entries lets slightly lagging followers
 * catch up without a snapshot). Errors: RK_EINVAL (not applied yet, older than the current
 * snapshot, or its term does not match the log). */
int rk_raft_snapshot_taken(struct rk_raft *r, const struct rk_snap_meta *meta, rk_index trailing);

/* ---- outputs ----------------------------------------------------------------------- */

enum rk_state {
	RK_FOLLOWER = 1,
	RK_PRE_CANDIDATE,
	RK_CANDIDATE,
	RK_LEADER,
};

enum rk_read_status {
	RK_READ_OK = 0,        /* serve once applied >= index */
	RK_READ_NOTLEADER = 1, /* lost leadership before the read was confirmed */
};

struct rk_read {
	uint64_t ctx;
	rk_index index;
	int status; /* enum rk_read_status */
};

/* A chunk of an incoming snapshot to write at @offset of the partial snapshot @snap.index. */
struct rk_chunk_write {
	struct rk_snap_meta snap;
	uint64_t offset;
	struct rk_buf data;
};

/* One batch of outputs. Everything is borrowed until rk_raft_advance(). The caller must
 * (1) persist, in order: chunks, then the snapshot install (snap_install: the received
 * snapshot replaces the log entirely and the state machine), then hs (if hs_changed) and
 * entries (entries[0].index truncates any durable entry at or after it) and report
 * rk_raft_persisted(persist_id) when all of it is durable; (2) send msgs now; (3) apply the
 * snapshot install, then committed, in order, on the apply thread; (4) serve reads. */
struct rk_ready {
	uint64_t persist_id; /* 0: nothing to persist in this batch */
	bool hs_changed;
	struct rk_hard_state hs;
	const struct rk_entry *entries;
	size_t n_entries;
	const struct rk_chunk_write *chunks;
	size_t n_chunks;
	bool snap_install;
	struct rk_snap_meta snap;
	struct rk_msg *msgs; /* mutable so the caller can fill snapshot chunk bytes in place */
	size_t n_msgs;
	const struct rk_entry *committed;
	size_t n_committed; /* the caller may take a prefix: lower it before rk_raft_advance()
			     * and the rest comes in the next batch */
	const struct rk_read *reads;
	size_t n_reads;
	/* soft state as of this batch, for routing clients: a proposal made at index i in term
	 * t failed if the entry applied at i has another term */
	enum rk_state state;
	rk_term term;
	rk_node_id leader;
};

/* True when rk_raft_ready() would return something. */
bool rk_raft_has_ready(const struct rk_raft *r);

/* Collect the outputs. Errors: RK_ENOMEM (nothing was taken; retry later). */
int rk_raft_ready(struct rk_raft *r, struct rk_ready *rd);

/* The caller is done with @rd (everything copied or handed off). */
void rk_raft_advance(struct rk_raft *r, struct rk_ready *rd);

/* ---- queries ----------------------------------------------------------------------- */

struct rk_raft_status {
	enum rk_state state;
	rk_term term;
	rk_node_id vote;
	rk_node_id leader;
	rk_index commit;
	rk_index last_index;
	rk_term last_term;
	rk_index first_index;  /* first entry still in the in-memory log */
	rk_index snap_index;
	rk_index durable_index; /* last index known durable on this node */
	rk_node_id transferee;  /* leader: transfer target or 0 */
};

void rk_raft_status(const struct rk_raft *r, struct rk_raft_status *st);

/* The configuration in force (the latest in the log, §4.1). Returns borrowed (until the next
 * input). */
const struct rk_conf *rk_raft_conf(const struct rk_raft *r);

/* Leader only: the replication progress of @id. Errors: RK_ENOTLEADER, RK_ENOENT. */
int rk_raft_progress(const struct rk_raft *r, rk_node_id id, rk_index *match, rk_index *next);

/* Entry @index of the in-memory log, returned borrowed (until the next input), or NULL when
 * compacted away or beyond the end. Tests and the checker use it. */
const struct rk_entry *rk_raft_entry(const struct rk_raft *r, rk_index index);

const char *rk_state_name(enum rk_state s);
const char *rk_msg_type_name(int type);

#endif

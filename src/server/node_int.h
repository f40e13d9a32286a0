/* node_int.h -- the state of one raftkvd node, shared by the files of src/server.
 *
 * Lock order: node.lock, then wait_lock, then the writer's and applier's queue locks. Nothing
 * does I/O with node.lock held: the Raft core is stepped under it, its outputs are copied out,
 * and the lock is dropped before anything is sent or written.
 *
 * | state                      | owner / guard                                    |
 * |----------------------------|--------------------------------------------------|
 * | raft                       | node.lock (workers, timer, log writer)           |
 * | kv writes, released reads  | apply thread                                     |
 * | wal, meta                  | log writer thread                                |
 * | sockets                    | io thread (rk_loop)                              |
 * | write/read waiters         | wait_lock                                        |
 * | peer connection ids        | atomics: io thread writes, senders read          |
 */
#ifndef RK_SERVER_NODE_INT_H
#define RK_SERVER_NODE_INT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "net/loop.h"
#include "net/rpc.h"
#include "raftkv/raft.h"
#include "server/node.h"
#include "server/node_config.h"
#include "storage/meta.h"
#include "storage/snapfile.h"
#include "storage/wal.h"
#include "store/kv.h"
#include "util/jobq.h"

#define WAIT_BUCKETS 4096 /* power of two */

enum conn_kind {
	CONN_CLIENT = 1,
	CONN_PEER_IN = 2,  /* accepted from a lower-id node; identified by its Hello */
	CONN_PEER_OUT = 3, /* dialled to a higher-id node; tag = its id */
};

/* A client request waiting for its entry to apply (key = log index) or for its read to be
 * released and served (key = read ctx, then the read index). */
struct waiter {
	struct waiter *next;
	uint64_t key;
	uint64_t conn;
	uint64_t req_id;
	uint64_t client_id; /* writes: identify the entry at the index as ours */
	uint64_t seq;
	uint64_t deadline_ms;
	rk_index read_index;
	void *req;          /* reads: the unpacked Raftkv__Request, owned */
	bool conf;          /* a membership change: the entry at key must be a CONF entry */
	rk_term term;       /* ... of this term (the leader's when it proposed) */
};

struct peer {
	rk_node_id id;
	atomic_ullong conn;          /* connection to send on; 0: none */
	atomic_bool dialing;         /* set by the timer when it dials, cleared by io */
	atomic_ullong next_dial_ms;  /* written by io on a failed dial, read by the timer */
	unsigned backoff_ms;         /* io thread only */
};

/* Committed entries and released reads for the apply thread, in Ready order. */
struct abatch {
	struct abatch *next;
	struct rk_entry *entries;
	size_t n_entries;
	struct rk_read *reads;
	size_t n_reads;
	bool install;            /* load the store from the newest snapshot file first */
};

/* A snapshot chunk received from the leader, to write at its offset. */
struct wchunk {
	rk_index index;
	rk_term term;
	uint64_t offset;
	size_t len;
	uint8_t data[];
};

/* One Ready's writes for the log writer (or, with persist_id 0, a compaction request). */
struct wbatch {
	struct wbatch *next;
	uint64_t persist_id;
	bool hs_changed;
	struct rk_hard_state hs;
	struct rk_entry *entries;
	size_t n_entries;
	struct wchunk **chunks;
	size_t n_chunks;
	bool snap_install;
	struct rk_snap_meta snap;
	rk_index compact_before;  /* drop WAL entries below this (after a snapshot) */
	struct abatch *then_apply; /* forwarded to the apply thread once this is durable */
};

/* A batch queue with one consumer thread. */
struct bqueue {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	void *head, *tail; /* first member of each item is its next pointer */
	bool closed;
};

struct rk_node {
	struct rk_config cfg;
	uint64_t cluster_id;
	unsigned tick_ms;

	pthread_mutex_t lock; /* guards raft */
	struct rk_raft *raft;
	bool was_leader;      /* under lock: to fail waiters on step-down */
	atomic_ullong leader; /* last known leader id, for NOT_LEADER hints; 0: unknown */

	struct rk_kv *kv;
	struct rk_wal *wal;
	struct rk_meta *meta;
	struct rk_hard_state saved_hs; /* log writer: what meta holds */
	atomic_bool failed;            /* storage failed: refuse writes */

	struct rk_loop *loop;
	struct rk_jobq jobs;
	struct peer peers[RK_CONFIG_MAX_MEMBERS];
	unsigned n_peers;

	pthread_mutex_t wait_lock;
	struct waiter *writes[WAIT_BUCKETS];
	struct waiter *reads[WAIT_BUCKETS];
	uint64_t next_read_ctx;

	struct bqueue wq; /* to the log writer */
	struct bqueue aq; /* to the apply thread */
	struct waiter *deferred_reads; /* apply thread: released reads not yet applied */

	/* Snapshots. snap_lock guards snap_reader (swapped by the apply thread, read by whoever
	 * fills InstallSnapshot chunks). */
	char snap_dir[RK_CONFIG_PATH_MAX + 8];
	pthread_rwlock_t snap_lock;
	struct rk_snapfile_reader *snap_reader; /* newest snapshot, or NULL */
	/* Taking a snapshot: the apply thread on its schedule, or a worker for a backup. Holding
	 * the store's read lock makes the image consistent from either. Order: before node.lock. */
	pthread_mutex_t snap_take_lock;
	rk_index snap_index;                    /* snap_take_lock: index of the newest snapshot */
	uint64_t bytes_since_snap;              /* apply thread: command bytes applied since */
	struct rk_snapfile_recv *recv;          /* log writer: snapshot being received */
	rk_index recv_index;
	rk_term recv_term;
	unsigned via_writer;  /* under lock: apply batches still travelling through the writer */

	pthread_t writer, applier, timer;
	pthread_t *workers;
	unsigned n_workers;
	atomic_bool stopping;
	int lock_fd;
};

/* node.c */
uint64_t rk_node_now_ms(void);
void rk_node_step_locked_flush(struct rk_node *n); /* call with lock; drops it */
void rk_node_send_peer(struct rk_node *n, struct rk_obuf *b, rk_node_id to);
struct peer *rk_node_peer(struct rk_node *n, rk_node_id id);

/* Take a snapshot of the store now unless the newest one is current; report the newest
 * snapshot's index and file size. Any thread. Errors: as the snapshot files, RK_EINVAL. */
int rk_node_snapshot_now(struct rk_node *n, rk_index *index, uint64_t *size);

/* client.c */
int rk_client_on_frame(struct rk_node *n, uint64_t conn, uint8_t type, const uint8_t *payload,
		       size_t len);
void rk_client_handle(struct rk_node *n, uint64_t conn, void *req);
void rk_client_reply(struct rk_node *n, uint64_t conn, uint64_t req_id, int status,
		     const void *value, size_t vlen, const char *msg);
void rk_client_serve_read(struct rk_node *n, struct waiter *w);
void rk_client_fail_read(struct rk_node *n, struct waiter *w, int status);
void rk_client_apply_result(struct rk_node *n, rk_index index, const struct rk_entry *e,
			    const struct rk_kv_result *res);
void rk_client_expire(struct rk_node *n, uint64_t now_ms);
void rk_client_fail_writes(struct rk_node *n, rk_index committed); /* those above it */
void rk_client_fail_all(struct rk_node *n);
int rk_node_push_client_job(struct rk_node *n, uint64_t conn, void *req);
void rk_client_release_read(struct rk_node *n, const struct rk_read *rd);

#endif

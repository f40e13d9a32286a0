/* node.c -- the runtime of one node: recovery, the Ready loop and the threads around the core.
 *
 * Threads (docs/ARCHITECTURE.md): io (rk_loop callbacks below), N workers (peer messages and
 * client requests from the job queue), timer (ticks, peer dialling, request deadlines), log
 * writer (WAL + hard state, group commit), apply (the store). Whoever steps the core under
 * node.lock also drains its Ready with rk_node_step_locked_flush(): copies the writes to the log
 * writer, the committed entries and released reads to the apply thread, encodes the messages,
 * drops the lock and only then sends.
 */
#include "config.h"

#include "server/node.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/check.h"
#include "common/log.h"
#include "common/mem.h"
#include "net/frame.h"
#include "server/node_int.h"

/* Cap of the peer redial backoff. A restarted peer is only fed again once the lower id has
 * redialled it, so this is also the worst wait of a restarted node for the leader: a failed
 * dial to a dead address costs next to nothing, a second of unavailability does not. */
#define MAX_BACKOFF_MS 250
#define EXPIRE_EVERY_MS 100
#define APPLY_RUN_MIN 256    /* entries in one apply batch that make it a store run */
#define APPLY_BATCH_MAX 262144 /* committed entries per apply batch, so per store run:
				* how long readers may wait (~0.3 s) */

uint64_t rk_node_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* ---- batch queues (one consumer each) ---- */

static void bq_init(struct bqueue *q)
{
	RK_CHECK(pthread_mutex_init(&q->lock, NULL) == 0);
	RK_CHECK(pthread_cond_init(&q->cond, NULL) == 0);
	q->head = q->tail = NULL;
	q->closed = false;
}

static void bq_destroy(struct bqueue *q)
{
	pthread_mutex_destroy(&q->lock);
	pthread_cond_destroy(&q->cond);
}

/* Items start with their next pointer. */
static void bq_push(struct bqueue *q, void *item)
{
	*(void **)item = NULL;
	RK_CHECK(pthread_mutex_lock(&q->lock) == 0);
	if (q->tail != NULL)
		*(void **)q->tail = item;
	else
		q->head = item;
	q->tail = item;
	RK_CHECK(pthread_cond_signal(&q->cond) == 0);
	RK_CHECK(pthread_mutex_unlock(&q->lock) == 0);
}

/* Take every queued item, waiting while there is none; NULL once closed and empty. */
static void *bq_take_all(struct bqueue *q)
{
	void *items;

	RK_CHECK(pthread_mutex_lock(&q->lock) == 0);
	while (q->head == NULL && !q->closed)
		RK_CHECK(pthread_cond_wait(&q->cond, &q->lock) == 0);
	items = q->head;
	q->head = q->tail = NULL;
	RK_CHECK(pthread_mutex_unlock(&q->lock) == 0);
	return items;
}

static void bq_close(struct bqueue *q)
{
	RK_CHECK(pthread_mutex_lock(&q->lock) == 0);
	q->closed = true;
	RK_CHECK(pthread_cond_broadcast(&q->cond) == 0);
	RK_CHECK(pthread_mutex_unlock(&q->lock) == 0);
}

/* Deep copy of @n entries into one allocation (the Ready's are borrowed until advance). */
static struct rk_entry *copy_entries(const struct rk_entry *src, size_t n)
{
	size_t bytes = n * sizeof *src;
	struct rk_entry *dst;
	uint8_t *p;

	for (size_t i = 0; i < n; i++)
		bytes += src[i].data.len;
	dst = rk_malloc(bytes > 0 ? bytes : 1);
	if (dst == NULL)
		return NULL;
	p = (uint8_t *)(dst + n);
	for (size_t i = 0; i < n; i++) {
		dst[i] = src[i];
		if (src[i].data.len > 0) {
			memcpy(p, src[i].data.base, src[i].data.len);
			dst[i].data.base = p;
			p += src[i].data.len;
		} else {
			dst[i].data.base = NULL;
		}
	}
	return dst;
}

/* ---- the Ready loop ---- */

struct outmsg {
	struct rk_obuf *b;
	rk_node_id to;
};

struct peer *rk_node_peer(struct rk_node *n, rk_node_id id)
{
	for (unsigned i = 0; i < n->n_peers; i++) {
		if (n->peers[i].id == id)
			return &n->peers[i];
	}
	return NULL;
}

void rk_node_send_peer(struct rk_node *n, struct rk_obuf *b, rk_node_id to)
{
	struct peer *p = rk_node_peer(n, to);
	uint64_t conn = p != NULL ? atomic_load(&p->conn) : 0;

	if (conn == 0) {
		rk_obuf_free(b); /* not connected: Raft retries */
		return;
	}
	rk_loop_send(n->loop, conn, b, RK_SEND_DROPPABLE);
}

static struct wchunk *copy_chunk(const struct rk_chunk_write *c)
{
	struct wchunk *w = rk_malloc(sizeof *w + c->data.len);

	if (w == NULL)
		return NULL;
	w->index = c->snap.index;
	w->term = c->snap.term;
	w->offset = c->offset;
	w->len = c->data.len;
	memcpy(w->data, c->data.base, c->data.len);
	return w;
}

struct drain_out {
	struct outmsg *msgs;
	size_t n_msgs, cap_msgs;
	struct rk_msg *snaps; /* InstallSnapshot chunks: bytes are read after the lock drops */
	size_t n_snaps, cap_snaps;
	bool stepped_down;
	rk_index commit; /* ... with this commit index */
};

static void push_msg(struct drain_out *o, struct rk_obuf *b, rk_node_id to)
{
	RK_CHECK(rk_array_reserve((void **)&o->msgs, &o->cap_msgs, o->n_msgs + 1, sizeof *o->msgs) ==
		 0);
	o->msgs[o->n_msgs].b = b;
	o->msgs[o->n_msgs].to = to;
	o->n_msgs++;
}

static void push_snap(struct drain_out *o, const struct rk_msg *m)
{
	RK_CHECK(rk_array_reserve((void **)&o->snaps, &o->cap_snaps, o->n_snaps + 1,
				  sizeof *o->snaps) == 0);
	o->snaps[o->n_snaps++] = *m; /* no entries: a plain copy is whole */
}

/* One rk_raft_ready/advance round. Returns false when there was nothing (or no memory). */
static bool drain_one_locked(struct rk_node *n, struct drain_out *o)
{
	struct rk_raft_status st;
	struct rk_ready rd;
	struct wbatch *wb = NULL;
	struct abatch *ab = NULL;

	if (!rk_raft_has_ready(n->raft) || rk_raft_ready(n->raft, &rd) != RK_OK)
		return false;
	/* A long stretch of committed entries (a restart's replay) goes to the apply thread in
	 * chunks, so that it starts applying while the rest is copied (the caller loops). */
	if (rd.n_committed > APPLY_BATCH_MAX)
		rd.n_committed = APPLY_BATCH_MAX;
	if (rd.n_committed > 0 || rd.n_reads > 0 || rd.snap_install) {
		ab = rk_calloc(1, sizeof *ab);
		RK_CHECK(ab != NULL);
		ab->install = rd.snap_install;
		if (rd.n_committed > 0) {
			ab->entries = copy_entries(rd.committed, rd.n_committed);
			RK_CHECK(ab->entries != NULL);
			ab->n_entries = rd.n_committed;
		}
		if (rd.n_reads > 0) {
			ab->reads = rk_malloc(rd.n_reads * sizeof *ab->reads);
			RK_CHECK(ab->reads != NULL);
			memcpy(ab->reads, rd.reads, rd.n_reads * sizeof *ab->reads);
			ab->n_reads = rd.n_reads;
		}
	}
	/* A received snapshot must be on disk before the store loads it, and whatever commits
	 * after it must apply after the load: while an install is in flight, apply batches ride
	 * with the writes and the writer forwards them in order. */
	if (rd.persist_id != 0 || (ab != NULL && (rd.snap_install || n->via_writer > 0))) {
		wb = rk_calloc(1, sizeof *wb);
		RK_CHECK(wb != NULL);
		wb->persist_id = rd.persist_id;
		wb->hs_changed = rd.hs_changed;
		wb->hs = rd.hs;
		if (rd.n_entries > 0) {
			wb->entries = copy_entries(rd.entries, rd.n_entries);
			RK_CHECK(wb->entries != NULL);
			wb->n_entries = rd.n_entries;
		}
		if (rd.n_chunks > 0) {
			wb->chunks = rk_calloc(rd.n_chunks, sizeof *wb->chunks);
			RK_CHECK(wb->chunks != NULL);
			for (size_t i = 0; i < rd.n_chunks; i++) {
				wb->chunks[i] = copy_chunk(&rd.chunks[i]);
				RK_CHECK(wb->chunks[i] != NULL);
			}
			wb->n_chunks = rd.n_chunks;
		}
		wb->snap_install = rd.snap_install;
		wb->snap = rd.snap;
		if (ab != NULL && (rd.snap_install || n->via_writer > 0)) {
			wb->then_apply = ab;
			n->via_writer++;
			ab = NULL;
		}
	}
	for (size_t i = 0; i < rd.n_msgs; i++) {
		struct rk_obuf *b;

		if (rd.msgs[i].type == RK_MSG_SNAPSHOT) {
			push_snap(o, &rd.msgs[i]);
			continue;
		}
		if (rk_rpc_encode_msg(&rd.msgs[i], (uint32_t)n->cfg.max_frame_bytes, &b) != RK_OK) {
			rk_log(RK_LOG_WARN, "dropping a %s to n%llu: does not encode",
			       rk_msg_type_name(rd.msgs[i].type), (unsigned long long)rd.msgs[i].to);
			continue;
		}
		push_msg(o, b, rd.msgs[i].to);
	}
	rk_raft_advance(n->raft, &rd);
	/* Queue in Ready order, still under the lock, so batches reach each thread in order. */
	if (wb != NULL)
		bq_push(&n->wq, wb);
	if (ab != NULL)
		bq_push(&n->aq, ab);
	rk_raft_status(n->raft, &st);
	atomic_store(&n->leader, st.leader);
	if (n->was_leader && st.state != RK_LEADER) {
		rk_log(RK_LOG_INFO, "stepped down in term %llu", (unsigned long long)st.term);
		o->stepped_down = true;
		o->commit = st.commit;
	} else if (!n->was_leader && st.state == RK_LEADER) {
		rk_log(RK_LOG_INFO, "became leader in term %llu", (unsigned long long)st.term);
	}
	n->was_leader = st.state == RK_LEADER;
	return true;
}

/* Fill an InstallSnapshot chunk from the snapshot file and send it; drop it when that
 * snapshot is no longer the newest (the core asks again). */
static void send_snapshot_chunk(struct rk_node *n, struct rk_msg *m)
{
	struct rk_err err = { 0 };
	struct rk_obuf *b = NULL;
	size_t got = 0;
	void *buf;

	buf = rk_malloc(m->data.len ? m->data.len : 1);
	if (buf == NULL)
		return;
	RK_CHECK(pthread_rwlock_rdlock(&n->snap_lock) == 0);
	if (n->snap_reader == NULL || rk_snapfile_meta(n->snap_reader)->index != m->snap.index ||
	    rk_snapfile_pread_raw(n->snap_reader, m->offset, buf, m->data.len, &got, &err) != RK_OK)
		got = SIZE_MAX;
	RK_CHECK(pthread_rwlock_unlock(&n->snap_lock) == 0);
	if (got != SIZE_MAX) {
		m->data.base = buf;
		m->data.len = got;
		if (rk_rpc_encode_msg(m, (uint32_t)n->cfg.max_frame_bytes, &b) == RK_OK)
			rk_node_send_peer(n, b, m->to);
	}
	rk_free(buf);
}

void rk_node_step_locked_flush(struct rk_node *n)
{
	struct drain_out o = { 0 };

	while (drain_one_locked(n, &o))
		;
	RK_CHECK(pthread_mutex_unlock(&n->lock) == 0);
	for (size_t i = 0; i < o.n_msgs; i++)
		rk_node_send_peer(n, o.msgs[i].b, o.msgs[i].to);
	for (size_t i = 0; i < o.n_snaps; i++)
		send_snapshot_chunk(n, &o.snaps[i]);
	rk_free(o.msgs);
	rk_free(o.snaps);
	/* A follower has no business holding client writes: the outcome of those not committed
	 * is now unknown. Committed ones stay: they apply, and the apply thread answers them
	 * (a leader that removed itself steps down the moment its removal commits). */
	if (o.stepped_down)
		rk_client_fail_writes(n, o.commit);
}

/* ---- log writer ---- */

/* Write one received snapshot chunk; a chunk of a newer snapshot starts a new file. */
static int write_chunk(struct rk_node *n, const struct wchunk *c, struct rk_err *err)
{
	int rv;

	if (n->recv == NULL || n->recv_index != c->index || n->recv_term != c->term) {
		if (n->recv != NULL)
			rk_snapfile_recv_abort(n->recv);
		n->recv = NULL;
		rv = rk_snapfile_recv_begin(n->snap_dir, c->index, c->term, NULL, &n->recv, err);
		if (rv != RK_OK)
			return rv;
		n->recv_index = c->index;
		n->recv_term = c->term;
	}
	return rk_snapfile_recv_chunk(n->recv, c->offset, c->data, c->len, err);
}

/* The received snapshot replaces the log: verify and rename it, then empty the WAL so that
 * the next entry is the one after the snapshot. Both durable before the core hears of it. */
static int install_snapshot(struct rk_node *n, const struct rk_snap_meta *snap, struct rk_err *err)
{
	int rv;

	if (n->recv == NULL || n->recv_index != snap->index)
		return rk_err_set(err, RK_EPROTO, "install of snapshot %llu that was not received",
				  (unsigned long long)snap->index);
	rv = rk_snapfile_recv_done(n->recv, snap->size, err);
	n->recv = NULL;
	if (rv != RK_OK)
		return rv;
	rv = rk_wal_reset(n->wal, snap->index + 1, err);
	if (rv != RK_OK)
		return rv;
	rk_log(RK_LOG_INFO, "installed snapshot %llu@%llu from the leader",
	       (unsigned long long)snap->index, (unsigned long long)snap->term);
	return RK_OK;
}

static int write_batch(struct rk_node *n, struct wbatch *b, struct rk_err *err)
{
	int rv = RK_OK;

	for (size_t i = 0; rv == RK_OK && i < b->n_chunks; i++)
		rv = write_chunk(n, b->chunks[i], err);
	if (rv == RK_OK && b->snap_install)
		rv = install_snapshot(n, &b->snap, err);
	if (rv == RK_OK && b->n_entries > 0) {
		rk_index first = b->entries[0].index;

		if (first <= rk_wal_last_index(n->wal))
			rv = rk_wal_truncate_after(n->wal, first - 1, err);
		if (rv == RK_OK)
			rv = rk_wal_append(n->wal, b->entries, b->n_entries, err);
	}
	if (rv == RK_OK && b->compact_before > rk_wal_first_index(n->wal))
		rv = rk_wal_compact_before(n->wal, b->compact_before, err);
	return rv;
}

static void free_wbatch(struct wbatch *b)
{
	for (size_t i = 0; i < b->n_chunks; i++)
		rk_free(b->chunks[i]);
	rk_free(b->chunks);
	rk_free(b->entries);
	rk_free(b);
}

static void *writer_main(void *arg)
{
	struct rk_node *n = arg;
	struct wbatch *b, *next;
	struct rk_err err = { 0 };
	bool failed_logged = false;

	/* Thread names make top -H, perf and gdb readable. */
	pthread_setname_np(pthread_self(), "rk-writer");
	while ((b = bq_take_all(&n->wq)) != NULL) {
		struct abatch *fwd = NULL, **fwd_tail = &fwd;
		unsigned n_fwd = 0;
		uint64_t max_id = 0;
		struct rk_hard_state hs = n->saved_hs;
		bool hs_dirty = false;
		int rv = RK_OK;

		for (; b != NULL; b = next) {
			next = b->next;
			if (rv == RK_OK)
				rv = write_batch(n, b, &err);
			if (b->hs_changed) {
				/* commit is advisory: only term and vote must be durable now */
				hs_dirty |= b->hs.term != n->saved_hs.term || b->hs.vote != n->saved_hs.vote;
				hs = b->hs;
			}
			if (b->persist_id != 0)
				max_id = b->persist_id;
			if (b->then_apply != NULL) {
				*fwd_tail = b->then_apply;
				fwd_tail = &b->then_apply->next;
				n_fwd++;
			}
			free_wbatch(b);
		}
		if (rv == RK_OK)
			rv = rk_wal_sync(n->wal, NULL, &err);
		if (rv == RK_OK && hs_dirty) {
			rv = rk_meta_save(n->meta, &hs, &err);
			if (rv == RK_OK)
				n->saved_hs = hs;
		}
		if (rv != RK_OK) {
			/* Never report as durable what is not: the core stays waiting, nothing more
			 * is acknowledged, and clients are refused with UNAVAILABLE. A failed
			 * fdatasync cannot be retried (the kernel may have dropped the dirty pages),
			 * and a node that stays up with a dead log would keep its leadership and
			 * block the cluster: stop the node (exit status 1, so that systemd restarts
			 * it and recovery re-reads what really is on disk). */
			atomic_store(&n->failed, true);
			if (!failed_logged) {
				rk_log(RK_LOG_ERROR, "storage failed: %s; stopping the node",
				       rk_err_text(&err, rv));
				kill(getpid(), SIGTERM);
			}
			failed_logged = true;
			continue;
		}
		/* Forward before telling the core, under the lock, so that any apply batch the
		 * core produces from here on queues behind these. */
		RK_CHECK(pthread_mutex_lock(&n->lock) == 0);
		while (fwd != NULL) {
			struct abatch *a = fwd;

			fwd = a->next;
			bq_push(&n->aq, a);
		}
		n->via_writer -= n_fwd;
		if (max_id != 0)
			rk_raft_persisted(n->raft, max_id);
		rk_node_step_locked_flush(n);
	}
	return NULL;
}

/* ---- apply ---- */

static void serve_deferred(struct rk_node *n)
{
	rk_index applied = rk_kv_applied_index(n->kv);
	struct waiter **pp = &n->deferred_reads, *w;

	while ((w = *pp) != NULL) {
		if (w->read_index <= applied) {
			*pp = w->next;
			rk_client_serve_read(n, w);
		} else {
			pp = &w->next;
		}
	}
}

struct snap_io {
	struct rk_snapfile_writer *w;
	struct rk_snapfile_reader *r;
	struct rk_err *err;
};

static int snap_write_cb(void *ctx, const void *buf, size_t len)
{
	struct snap_io *io = ctx;

	return rk_snapfile_write(io->w, buf, len, io->err);
}

static int snap_read_cb(void *ctx, void *buf, size_t cap, size_t *got)
{
	struct snap_io *io = ctx;

	return rk_snapfile_read(io->r, buf, cap, got, io->err);
}

/* Load the store from the newest snapshot file; on RK_OK the reader becomes the one chunks
 * are sent from. Apply thread (or start, before any thread). */
static int load_snapshot(struct rk_node *n, struct rk_snapfile_reader **out, struct rk_err *err)
{
	struct rk_snapfile_reader *r;
	struct snap_io io = { .err = err };
	int rv;

	rv = rk_snapfile_open_latest(n->snap_dir, &r, err);
	if (rv != RK_OK)
		return rv;
	io.r = r;
	rv = rk_kv_snapshot_load(n->kv, snap_read_cb, &io);
	if (rv != RK_OK) {
		unsigned long long index = rk_snapfile_meta(r)->index;

		rk_snapfile_close(r);
		return rk_err_set(err, rv, "load snapshot %llu: %s", index, rk_err_text(err, rv));
	}
	/* The reader was read through to the end: reopen for raw chunk reads from offset 0. */
	rk_snapfile_close(r);
	return rk_snapfile_open_latest(n->snap_dir, out, err);
}

static void swap_reader(struct rk_node *n, struct rk_snapfile_reader *r)
{
	struct rk_snapfile_reader *old;

	RK_CHECK(pthread_rwlock_wrlock(&n->snap_lock) == 0);
	old = n->snap_reader;
	n->snap_reader = r;
	RK_CHECK(pthread_rwlock_unlock(&n->snap_lock) == 0);
	if (old != NULL)
		rk_snapfile_close(old);
	n->snap_index = rk_snapfile_meta(r)->index;
}

/* Snapshot the store at the applied index, tell the core, and let the log writer drop what the
 * snapshot covers (keeping a tail so that slightly lagging followers need no snapshot). */
/* Caller holds snap_take_lock. */
static int take_snapshot(struct rk_node *n)
{
	uint8_t conf[RK_CONF_ENCODED_MAX];
	struct rk_snapfile_reader *r;
	struct rk_err err = { 0 };
	struct snap_io io = { .err = &err };
	struct rk_snap_meta meta;
	struct wbatch *wb;
	rk_index trailing = n->cfg.snapshot_entries != 0 ? n->cfg.snapshot_entries / 2 : 1000;
	uint64_t t0 = rk_node_now_ms();
	int rv;

	RK_CHECK(pthread_mutex_lock(&n->lock) == 0);
	rv = rk_raft_snapshot_meta(n->raft, rk_kv_applied_index(n->kv), &meta);
	RK_CHECK(pthread_mutex_unlock(&n->lock) == 0);
	if (rv != RK_OK)
		return rv;
	rv = rk_snapfile_begin(n->snap_dir, meta.index, meta.term, conf,
			       rk_conf_encode(&meta.conf, conf), NULL, &io.w, &err);
	if (rv == RK_OK) {
		rv = rk_kv_snapshot_save(n->kv, snap_write_cb, &io);
		if (rv != RK_OK)
			rk_snapfile_abort(io.w);
		else
			rv = rk_snapfile_commit(io.w, &err);
	}
	if (rv == RK_OK)
		rv = rk_snapfile_open_latest(n->snap_dir, &r, &err);
	if (rv != RK_OK) {
		rk_log(RK_LOG_ERROR, "snapshot at %llu failed: %s", (unsigned long long)meta.index,
		       rk_err_text(&err, rv));
		n->snap_index = meta.index; /* try again after another interval, not every entry */
		return rv;
	}
	meta.size = rk_snapfile_meta(r)->file_size;
	swap_reader(n, r);
	n->bytes_since_snap = 0;
	if (rk_snapfile_cleanup(n->snap_dir, meta.index, meta.term, &err) != RK_OK)
		rk_log(RK_LOG_WARN, "removing old snapshots: %s", err.msg);
	RK_CHECK(pthread_mutex_lock(&n->lock) == 0);
	rv = rk_raft_snapshot_taken(n->raft, &meta, trailing);
	if (rv == RK_OK && meta.index > trailing) {
		wb = rk_calloc(1, sizeof *wb);
		if (wb != NULL) {
			wb->compact_before = meta.index - trailing + 1;
			bq_push(&n->wq, wb);
		}
	}
	rk_node_step_locked_flush(n);
	/* The compacted log went back to malloc, not to the system: give the free pages back
	 * (a leader that compacted 1,000,000 entries kept ~200 MB it no longer used). */
	malloc_trim(0);
	rk_log(RK_LOG_INFO, "snapshot at %llu@%llu: %llu bytes in %llu ms",
	       (unsigned long long)meta.index, (unsigned long long)meta.term,
	       (unsigned long long)meta.size, (unsigned long long)(rk_node_now_ms() - t0));
	return RK_OK;
}

int rk_node_snapshot_now(struct rk_node *n, rk_index *index, uint64_t *size)
{
	int rv = RK_OK;

	RK_CHECK(pthread_mutex_lock(&n->snap_take_lock) == 0);
	if (n->snap_reader == NULL || rk_kv_applied_index(n->kv) > n->snap_index)
		rv = take_snapshot(n);
	RK_CHECK(pthread_rwlock_rdlock(&n->snap_lock) == 0);
	if (n->snap_reader == NULL) {
		rv = rv != RK_OK ? rv : RK_EINVAL; /* nothing applied yet: nothing to save */
	} else {
		*index = rk_snapfile_meta(n->snap_reader)->index;
		*size = rk_snapfile_meta(n->snap_reader)->file_size;
		rv = RK_OK;
	}
	RK_CHECK(pthread_rwlock_unlock(&n->snap_lock) == 0);
	RK_CHECK(pthread_mutex_unlock(&n->snap_take_lock) == 0);
	return rv;
}

static void apply_install(struct rk_node *n)
{
	struct rk_snapfile_reader *r;
	struct rk_err err = { 0 };
	int rv;

	rv = load_snapshot(n, &r, &err);
	if (rv != RK_OK) {
		/* The file was verified before the core heard of it: this is a disk fault. */
		rk_log(RK_LOG_ERROR, "cannot load the installed snapshot: %s", rk_err_text(&err, rv));
		abort();
	}
	swap_reader(n, r);
	malloc_trim(0); /* the store it replaced, and the log the install dropped */
}

static void *applier_main(void *arg)
{
	struct rk_node *n = arg;
	struct abatch *b, *next;

	pthread_setname_np(pthread_self(), "rk-apply");
	while ((b = bq_take_all(&n->aq)) != NULL) {
		for (; b != NULL; b = next) {
			next = b->next;
			if (b->install) {
				RK_CHECK(pthread_mutex_lock(&n->snap_take_lock) == 0);
				apply_install(n);
				RK_CHECK(pthread_mutex_unlock(&n->snap_take_lock) == 0);
			}
			/* A long stretch (a restart's replay, a follower catching up) applies as
			 * one store run per batch (at most APPLY_BATCH_MAX entries, the wait of
			 * readers): new keys are put in key order once per run. Short batches keep
			 * the per-entry lock. */
			bool run = b->n_entries >= APPLY_RUN_MIN;

			if (run)
				rk_kv_run_begin(n->kv);
			for (size_t i = 0; i < b->n_entries; i++) {
				const struct rk_entry *e = &b->entries[i];
				struct rk_kv_result res = { 0 };
				int rv;

				if (e->index <= rk_kv_applied_index(n->kv))
					continue;
				if (e->type != RK_ENTRY_NORMAL) {
					RK_CHECK(rk_kv_skip(n->kv, e->index) == RK_OK);
					rk_client_apply_result(n, e->index, e, NULL);
					continue;
				}
				/* Out of memory must not skip an entry: wait and retry. */
				while ((rv = rk_kv_apply(n->kv, e->index, e->data.base, e->data.len,
							 &res)) == RK_ENOMEM)
					usleep(10000);
				RK_CHECK(rv == RK_OK);
				n->bytes_since_snap += e->data.len;
				rk_client_apply_result(n, e->index, e, &res);
				rk_kv_result_release(&res);
			}
			if (run)
				rk_kv_run_end(n->kv);
			for (size_t i = 0; i < b->n_reads; i++)
				rk_client_release_read(n, &b->reads[i]);
			serve_deferred(n);
			rk_free(b->entries);
			rk_free(b->reads);
			rk_free(b);
		}
		RK_CHECK(pthread_mutex_lock(&n->snap_take_lock) == 0);
		if ((n->cfg.snapshot_entries != 0 &&
		     rk_kv_applied_index(n->kv) >= n->snap_index + n->cfg.snapshot_entries) ||
		    (n->cfg.snapshot_bytes != 0 && n->bytes_since_snap >= n->cfg.snapshot_bytes))
			take_snapshot(n);
		RK_CHECK(pthread_mutex_unlock(&n->snap_take_lock) == 0);
	}
	return NULL;
}

/* ---- timer ---- */

static void dial_peers(struct rk_node *n, uint64_t now)
{
	const struct rk_config_member *m;

	for (unsigned i = 0; i < n->n_peers; i++) {
		struct peer *p = &n->peers[i];

		/* One connection per pair: the lower id dials. */
		if (p->id <= n->cfg.id || atomic_load(&p->conn) != 0 || atomic_load(&p->dialing) ||
		    now < atomic_load(&p->next_dial_ms))
			continue;
		m = NULL;
		for (unsigned j = 0; j < n->cfg.n_members; j++) {
			if (n->cfg.members[j].id == p->id)
				m = &n->cfg.members[j];
		}
		if (m == NULL)
			continue;
		atomic_store(&p->dialing, true);
		const struct rk_config_addr *to = m->dial.len != 0 ? &m->dial : &m->peer;
		if (rk_loop_connect(n->loop, (const struct sockaddr *)&to->sa, to->len,
				    CONN_PEER_OUT, p->id) != RK_OK)
			atomic_store(&p->dialing, false);
	}
}

static void *timer_main(void *arg)
{
	struct rk_node *n = arg;
	struct timespec next;
	uint64_t last_expire = 0, now;

	pthread_setname_np(pthread_self(), "rk-timer");
	clock_gettime(CLOCK_MONOTONIC, &next);
	while (!atomic_load(&n->stopping)) {
		next.tv_nsec += (long)n->tick_ms * 1000000L;
		while (next.tv_nsec >= 1000000000L) {
			next.tv_nsec -= 1000000000L;
			next.tv_sec++;
		}
		while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &next, NULL) == EINTR)
			;
		if (atomic_load(&n->stopping))
			break;
		RK_CHECK(pthread_mutex_lock(&n->lock) == 0);
		rk_raft_tick(n->raft);
		rk_node_step_locked_flush(n);
		now = rk_node_now_ms();
		dial_peers(n, now);
		if (now - last_expire >= EXPIRE_EVERY_MS) {
			rk_client_expire(n, now);
			last_expire = now;
		}
	}
	return NULL;
}

/* ---- workers ---- */

struct job {
	int kind; /* CONN_CLIENT: req; otherwise msg */
	uint64_t conn;
	void *req;
	struct rk_rpc_msg msg;
};

static void *worker_main(void *arg)
{
	struct rk_node *n = arg;
	void *item;

	pthread_setname_np(pthread_self(), "rk-worker");
	while (rk_jobq_pop(&n->jobs, &item) == RK_OK) {
		struct job *j = item;

		if (j->kind == CONN_CLIENT) {
			rk_client_handle(n, j->conn, j->req);
		} else {
			RK_CHECK(pthread_mutex_lock(&n->lock) == 0);
			rk_raft_recv(n->raft, &j->msg.m);
			rk_node_step_locked_flush(n);
			rk_rpc_msg_free(&j->msg);
		}
		rk_free(j);
	}
	return NULL;
}

int rk_node_push_client_job(struct rk_node *n, uint64_t conn, void *req)
{
	struct job *j = rk_calloc(1, sizeof *j);
	int rv;

	if (j == NULL)
		return RK_ENOMEM;
	j->kind = CONN_CLIENT;
	j->conn = conn;
	j->req = req;
	rv = rk_jobq_push(&n->jobs, j);
	if (rv != RK_OK)
		rk_free(j);
	return rv;
}

/* ---- io thread callbacks ---- */

static void io_open(void *data, uint64_t conn, int kind, uint64_t tag)
{
	struct rk_node *n = data;
	struct rk_obuf *b;
	struct peer *p;

	if (kind != CONN_PEER_OUT)
		return;
	p = rk_node_peer(n, tag);
	if (p == NULL || rk_rpc_encode_hello(n->cluster_id, n->cfg.id, tag, &b) != RK_OK) {
		rk_loop_close(n->loop, conn);
		return;
	}
	rk_loop_send(n->loop, conn, b, 0);
	p->backoff_ms = 0;
	atomic_store(&p->conn, conn);
	atomic_store(&p->dialing, false);
	rk_log(RK_LOG_INFO, "connected to n%llu", (unsigned long long)tag);
}

/* The peer a connection speaks for: its dial tag, or the Hello it sent; 0 if none yet. */
static rk_node_id conn_peer(struct rk_node *n, uint64_t conn, int kind, uint64_t tag)
{
	if (kind == CONN_PEER_OUT)
		return tag;
	for (unsigned i = 0; i < n->n_peers; i++) {
		if (atomic_load(&n->peers[i].conn) == conn)
			return n->peers[i].id;
	}
	return 0;
}

static int io_peer_msg(struct rk_node *n, rk_node_id from, const uint8_t *payload, size_t len)
{
	struct job *j;
	int rv;

	j = rk_calloc(1, sizeof *j);
	if (j == NULL)
		return RK_OK; /* drop: Raft retries */
	rv = rk_rpc_decode_msg(payload, len, &j->msg);
	if (rv != RK_OK) {
		rk_free(j);
		return rv == RK_ENOMEM ? RK_OK : rv;
	}
	if (j->msg.m.to != n->cfg.id || j->msg.m.from != from) {
		rk_rpc_msg_free(&j->msg);
		rk_free(j);
		return RK_EPROTO;
	}
	j->kind = CONN_PEER_IN;
	if (rk_jobq_push(&n->jobs, j) != RK_OK) {
		rk_rpc_msg_free(&j->msg); /* overloaded: drop, Raft retries */
		rk_free(j);
	}
	return RK_OK;
}

static int io_frame(void *data, uint64_t conn, int kind, uint64_t tag, uint8_t type,
		    const uint8_t *payload, size_t len)
{
	struct rk_node *n = data;
	uint64_t cluster;
	rk_node_id from, to;
	struct peer *p;
	int rv;

	if (kind == CONN_CLIENT)
		return rk_client_on_frame(n, conn, type, payload, len);
	if (type == RK_FRAME_PEER_MSG) {
		/* Raft messages only after a Hello (inbound) or on our own dial (outbound). */
		from = conn_peer(n, conn, kind, tag);
		if (from == 0)
			return RK_EPROTO;
		return io_peer_msg(n, from, payload, len);
	}
	if (type != RK_FRAME_PEER_HELLO || kind != CONN_PEER_IN)
		return RK_EPROTO;
	rv = rk_rpc_decode_hello(payload, len, &cluster, &from, &to);
	if (rv != RK_OK)
		return rv;
	p = rk_node_peer(n, from);
	if (cluster != n->cluster_id || to != n->cfg.id || p == NULL || from >= n->cfg.id) {
		rk_log(RK_LOG_WARN, "refusing peer connection from n%llu (to n%llu, cluster %llx): "
				    "not a member of this cluster or wrong direction",
		       (unsigned long long)from, (unsigned long long)to, (unsigned long long)cluster);
		return RK_EPROTO;
	}
	atomic_store(&p->conn, conn);
	rk_log(RK_LOG_INFO, "n%llu connected", (unsigned long long)from);
	return RK_OK;
}

static void io_close(void *data, uint64_t conn, int kind, uint64_t tag, int reason)
{
	struct rk_node *n = data;
	struct peer *p;
	uint64_t c;

	(void)reason;
	if (kind == CONN_PEER_OUT) {
		p = rk_node_peer(n, tag);
		if (p == NULL)
			return;
		c = conn;
		if (conn != 0 && atomic_compare_exchange_strong(&p->conn, &c, 0))
			rk_log(RK_LOG_INFO, "lost connection to n%llu", (unsigned long long)tag);
		p->backoff_ms = p->backoff_ms == 0 ? 50 : p->backoff_ms * 2;
		if (p->backoff_ms > MAX_BACKOFF_MS)
			p->backoff_ms = MAX_BACKOFF_MS;
		/* Jitter keeps restarted nodes from dialling in lockstep. */
		atomic_store(&p->next_dial_ms, rk_node_now_ms() + p->backoff_ms / 2 +
						       (uint64_t)rand() % (p->backoff_ms / 2 + 1));
		atomic_store(&p->dialing, false);
	} else if (kind == CONN_PEER_IN && conn != 0) {
		for (unsigned i = 0; i < n->n_peers; i++) {
			c = conn;
			atomic_compare_exchange_strong(&n->peers[i].conn, &c, 0);
		}
	}
}

/* ---- start and stop ---- */



bool rk_node_storage_failed(struct rk_node *n)
{
	return atomic_load(&n->failed);
}

uint64_t rk_node_leader(struct rk_node *n)
{
	return atomic_load(&n->leader);
}

static uint64_t hash_cluster(const struct rk_config *cfg)
{
	uint64_t h = 0xcbf29ce484222325ull;

	/* Every node lists the same members, so every node computes the same id. */
	for (unsigned i = 0; i < cfg->n_members; i++) {
		const char *s = cfg->members[i].peer.text;

		h = (h ^ cfg->members[i].id) * 0x100000001b3ull;
		for (; *s; s++)
			h = (h ^ (uint8_t)*s) * 0x100000001b3ull;
	}
	return h;
}

static int mkdir_p(const char *path)
{
	char buf[RK_CONFIG_PATH_MAX];
	size_t len = strlen(path);

	if (len >= sizeof buf)
		return -1;
	memcpy(buf, path, len + 1);
	for (char *p = buf + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(buf, 0750) != 0 && errno != EEXIST)
			return -1;
		*p = '/';
	}
	return mkdir(buf, 0750) != 0 && errno != EEXIST ? -1 : 0;
}

struct load_ctx {
	struct rk_entry *v;
	size_t n, cap;
};

static int load_entry(void *data, const struct rk_entry *e)
{
	struct load_ctx *c = data;

	if (rk_array_reserve((void **)&c->v, &c->cap, c->n + 1, sizeof *c->v) != 0)
		return RK_ENOMEM;
	c->v[c->n] = *e;
	c->v[c->n].data.base = NULL;
	if (e->data.len > 0) {
		c->v[c->n].data.base = rk_malloc(e->data.len);
		if (c->v[c->n].data.base == NULL)
			return RK_ENOMEM;
		memcpy(c->v[c->n].data.base, e->data.base, e->data.len);
	}
	c->n++;
	return RK_OK;
}

static void free_loaded(struct load_ctx *c)
{
	for (size_t i = 0; i < c->n; i++)
		rk_free(c->v[i].data.base);
	rk_free(c->v);
}

static int open_storage(struct rk_node *n, struct rk_raft_restore *rs, struct load_ctx *lc,
			struct rk_err *err)
{
	char path[RK_CONFIG_PATH_MAX + 16];
	const struct rk_storage_io *io = n->cfg.fsync ? NULL : &rk_storage_io_nosync;
	struct rk_wal_opts wo = { .segment_size = n->cfg.segment_bytes, .io = io };
	rk_index first;
	int rv;

	if (mkdir_p(n->cfg.data_dir) != 0)
		return rk_err_errno(err, RK_EIO, errno, "create data directory %s", n->cfg.data_dir);
	snprintf(path, sizeof path, "%s/LOCK", n->cfg.data_dir);
	n->lock_fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0640);
	if (n->lock_fd < 0)
		return rk_err_errno(err, RK_EIO, errno, "open %s", path);
	if (flock(n->lock_fd, LOCK_EX | LOCK_NB) != 0)
		return rk_err_set(err, RK_EIO, "%s is in use by another raftkvd", n->cfg.data_dir);
	snprintf(n->snap_dir, sizeof n->snap_dir, "%s/snap", n->cfg.data_dir);
	if (mkdir(n->snap_dir, 0750) != 0 && errno != EEXIST)
		return rk_err_errno(err, RK_EIO, errno, "create %s", n->snap_dir);
	rv = rk_snapfile_remove_temps(n->snap_dir, err);
	if (rv != RK_OK)
		return rv;
	rv = load_snapshot(n, &n->snap_reader, err);
	if (rv == RK_OK) {
		const struct rk_snapfile_meta *sm = rk_snapfile_meta(n->snap_reader);

		rv = rk_conf_decode(&rs->snap.conf, sm->conf.base, sm->conf.len);
		if (rv != RK_OK)
			return rk_err_set(err, rv, "snapshot %llu: bad membership configuration",
					  (unsigned long long)sm->index);
		rs->snap.index = sm->index;
		rs->snap.term = sm->term;
		rs->snap.size = sm->file_size;
		n->snap_index = sm->index;
		rk_log(RK_LOG_INFO, "loaded snapshot %llu@%llu", (unsigned long long)sm->index,
		       (unsigned long long)sm->term);
	} else if (rv != RK_ENOENT) {
		return rv;
	}
	if (!n->cfg.fsync)
		rk_log(RK_LOG_WARN, "[storage] fsync = false: a machine crash can lose acknowledged "
				    "writes");
	rv = rk_meta_open(n->cfg.data_dir, io, &n->meta, &rs->hs, err);
	if (rv != RK_OK)
		return rv;
	n->saved_hs = rs->hs;
	snprintf(path, sizeof path, "%s/wal", n->cfg.data_dir);
	if (mkdir(path, 0750) != 0 && errno != EEXIST)
		return rk_err_errno(err, RK_EIO, errno, "create %s", path);
	rv = rk_wal_open(path, &wo, &n->wal, err);
	if (rv != RK_OK)
		return rv;
	/* A crash between installing a received snapshot and resetting the log leaves a log that
	 * ends before the snapshot: continue right after the snapshot instead. */
	if (rs->snap.index > 0) {
		rv = rk_wal_align_to_snapshot(n->wal, rs->snap.index, err);
		if (rv != RK_OK)
			return rv;
	}
	/* The core wants the log after the snapshot; older entries may linger until compaction. */
	first = rk_wal_first_index(n->wal);
	if (first <= rs->snap.index)
		first = rs->snap.index + 1;
	if (rk_wal_last_index(n->wal) >= first) {
		rv = rk_wal_read_range(n->wal, first, rk_wal_last_index(n->wal), load_entry, lc, err);
		if (rv != RK_OK)
			return rv;
	}
	rs->entries = lc->v;
	rs->n_entries = lc->n;
	rk_log(RK_LOG_INFO, "recovered term %llu, vote %llu, snapshot %llu, %zu log entries",
	       (unsigned long long)rs->hs.term, (unsigned long long)rs->hs.vote,
	       (unsigned long long)rs->snap.index, lc->n);
	return RK_OK;
}

static unsigned gcd(unsigned a, unsigned b)
{
	while (b != 0) {
		unsigned t = a % b;

		a = b;
		b = t;
	}
	return a;
}

static unsigned tick_for(const struct rk_config *cfg)
{
	unsigned g = gcd(cfg->heartbeat_ms, gcd(cfg->election_min_ms, cfg->election_max_ms));

	for (unsigned t = 10; t > 1; t--) {
		if (g % t == 0)
			return t;
	}
	return 1;
}

int rk_node_start(const struct rk_config *cfg, struct rk_node **out, struct rk_err *err)
{
	struct rk_raft_restore rs = { 0 };
	struct rk_raft_config rc;
	struct rk_kv_config kc;
	struct load_ctx lc = { 0 };
	struct rk_loop_config lcfg;
	struct rk_node *n;
	int rv;

	n = rk_calloc(1, sizeof *n);
	if (n == NULL)
		return RK_ENOMEM;
	n->cfg = *cfg;
	n->lock_fd = -1;
	n->cluster_id = hash_cluster(cfg);
	RK_CHECK(pthread_mutex_init(&n->lock, NULL) == 0);
	RK_CHECK(pthread_mutex_init(&n->wait_lock, NULL) == 0);
	RK_CHECK(pthread_rwlock_init(&n->snap_lock, NULL) == 0);
	RK_CHECK(pthread_mutex_init(&n->snap_take_lock, NULL) == 0);
	bq_init(&n->wq);
	bq_init(&n->aq);
	for (unsigned i = 0; i < cfg->n_members; i++) {
		n->peers[n->n_peers].id = cfg->members[i].id;
		atomic_init(&n->peers[n->n_peers].conn, 0);
		atomic_init(&n->peers[n->n_peers].dialing, false);
		atomic_init(&n->peers[n->n_peers].next_dial_ms, 0);
		n->n_peers++;
		/* The founding configuration, used until a snapshot carries a newer one. A joining
		 * member stays out: it is added through the log (member add, then promote). */
		if (cfg->members[i].join)
			continue;
		rs.snap.conf.m[rs.snap.conf.n].id = cfg->members[i].id;
		rs.snap.conf.m[rs.snap.conf.n].role = RK_CONF_VOTER;
		rs.snap.conf.n++;
	}

	rk_kv_config_default(&kc);
	kc.limits.max_key = (uint32_t)cfg->max_key_bytes;
	kc.limits.max_value = (uint32_t)cfg->max_value_bytes;
	rv = rk_kv_new(&kc, &n->kv);
	if (rv != RK_OK) {
		rk_err_set(err, rv, "create the store");
		goto err;
	}
	rv = open_storage(n, &rs, &lc, err);
	if (rv != RK_OK)
		goto err;
	/* The log will be replayed into the store: size its hash index for it once (a hint; a
	 * store without the memory just resizes as it goes). */
	if (lc.n > 0 && rk_kv_reserve(n->kv, lc.n) != RK_OK)
		rk_log(RK_LOG_WARN, "no memory to size the store's index for %zu entries", lc.n);

	/* The tick divides the heartbeat and both election bounds, so that each is exact, and
	 * is at most 10 ms, so that the randomized timeout has a fine grain. */
	n->tick_ms = tick_for(cfg);
	rk_raft_config_default(&rc, cfg->id);
	rc.heartbeat_ticks = cfg->heartbeat_ms / n->tick_ms;
	rc.election_ticks = cfg->election_min_ms / n->tick_ms;
	rc.election_ticks_max = cfg->election_max_ms / n->tick_ms;
	rc.max_msg_bytes = cfg->max_frame_bytes / 2;
	rc.seed = cfg->id * 0x9E3779B97F4A7C15ull ^ (uint64_t)time(NULL);
	/* The core takes the loaded entries' data as it is: one copy of the log fewer. */
	rs.take_data = true;
	n->raft = rk_raft_new(&rc, &rs, &rv);
	rk_free(lc.v);
	lc.v = NULL;
	lc.n = 0;
	if (n->raft == NULL) {
		rk_err_set(err, rv, "start the Raft core: %s", rk_strerror(rv));
		goto err;
	}

	rv = rk_jobq_init(&n->jobs, cfg->queue_size);
	if (rv != RK_OK) {
		rk_err_set(err, rv, "job queue");
		goto err;
	}
	lcfg = (struct rk_loop_config){
		.max_frame = (uint32_t)cfg->max_frame_bytes,
		.max_send_bytes = 64u << 20,
		.max_conns = 4096,
		.h = { n, io_open, io_frame, io_close },
	};
	rv = rk_loop_new(&lcfg, &n->loop);
	if (rv != RK_OK) {
		rk_err_set(err, rv, "event loop");
		goto err;
	}
	rv = rk_loop_listen(n->loop, (const struct sockaddr *)&cfg->client_listen.sa,
			    cfg->client_listen.len, CONN_CLIENT, err);
	if (rv == RK_OK)
		rv = rk_loop_listen(n->loop, (const struct sockaddr *)&cfg->peer_listen.sa,
				    cfg->peer_listen.len, CONN_PEER_IN, err);
	if (rv != RK_OK) {
		rk_err_set(err, rv, "listen on %s / %s: %s", cfg->client_listen.text,
			   cfg->peer_listen.text, err ? err->msg : "");
		goto err;
	}

	/* By default half the CPUs: the io thread, the log writer and the apply thread are busy
	 * under load too, and more workers than the cores they leave only add context switches
	 * (on 2 CPUs one worker did 15-20 % more puts per CPU second than two, and no worse on
	 * reads: docs/PERFORMANCE.md). */
	n->n_workers = cfg->workers ? cfg->workers : (unsigned)sysconf(_SC_NPROCESSORS_ONLN) / 2;
	if (n->n_workers == 0)
		n->n_workers = 1;
	n->workers = rk_calloc(n->n_workers, sizeof *n->workers);
	RK_CHECK(n->workers != NULL);
	RK_CHECK(rk_loop_start(n->loop) == RK_OK);
	RK_CHECK(pthread_create(&n->writer, NULL, writer_main, n) == 0);
	RK_CHECK(pthread_create(&n->applier, NULL, applier_main, n) == 0);
	for (unsigned i = 0; i < n->n_workers; i++)
		RK_CHECK(pthread_create(&n->workers[i], NULL, worker_main, n) == 0);
	RK_CHECK(pthread_create(&n->timer, NULL, timer_main, n) == 0);
	rk_log(RK_LOG_INFO, "serving clients on %s, peers on %s, %u workers",
	       cfg->client_listen.text, cfg->peer_listen.text, n->n_workers);
	*out = n;
	return RK_OK;
err:
	free_loaded(&lc);
	if (n->loop != NULL)
		rk_loop_free(n->loop);
	if (n->jobs.slots != NULL)
		rk_jobq_close(&n->jobs);
	rk_raft_free(n->raft);
	rk_kv_free(n->kv);
	if (n->wal != NULL)
		rk_wal_close(n->wal);
	if (n->meta != NULL)
		rk_meta_close(n->meta);
	if (n->snap_reader != NULL)
		rk_snapfile_close(n->snap_reader);
	if (n->lock_fd >= 0)
		close(n->lock_fd);
	bq_destroy(&n->wq);
	bq_destroy(&n->aq);
	pthread_rwlock_destroy(&n->snap_lock);
	rk_free(n);
	return rv;
}

void rk_node_stop(struct rk_node *n)
{
	void *item;

	atomic_store(&n->stopping, true);
	/* No new work: stop the network first, then let the threads finish what they hold. */
	rk_loop_stop(n->loop);
	RK_CHECK(pthread_join(n->timer, NULL) == 0);
	rk_jobq_shutdown(&n->jobs);
	for (unsigned i = 0; i < n->n_workers; i++)
		RK_CHECK(pthread_join(n->workers[i], NULL) == 0);
	while (rk_jobq_trypop(&n->jobs, &item) == RK_OK)
		rk_free(item);
	/* The writer flushes every queued batch (group commit) before it sees the close. */
	bq_close(&n->wq);
	RK_CHECK(pthread_join(n->writer, NULL) == 0);
	bq_close(&n->aq);
	RK_CHECK(pthread_join(n->applier, NULL) == 0);
	rk_client_fail_all(n);
	while (n->deferred_reads != NULL) {
		struct waiter *w = n->deferred_reads;

		n->deferred_reads = w->next;
		rk_client_fail_read(n, w, RK_EUNAVAILABLE);
	}
	rk_loop_free(n->loop);
	rk_jobq_close(&n->jobs);
	rk_raft_free(n->raft);
	rk_kv_free(n->kv);
	rk_wal_close(n->wal);
	rk_meta_close(n->meta);
	if (n->snap_reader != NULL)
		rk_snapfile_close(n->snap_reader);
	if (n->recv != NULL)
		rk_snapfile_recv_abort(n->recv);
	close(n->lock_fd);
	bq_destroy(&n->wq);
	bq_destroy(&n->aq);
	pthread_rwlock_destroy(&n->snap_lock);
	pthread_mutex_destroy(&n->snap_take_lock);
	pthread_mutex_destroy(&n->lock);
	pthread_mutex_destroy(&n->wait_lock);
	rk_free(n->workers);
	rk_free(n);
	rk_log(RK_LOG_INFO, "stopped");
}

/* True if @dir does not exist or holds nothing but a LOCK file. */
static bool dir_is_empty(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	bool empty = true;

	if (d == NULL)
		return errno == ENOENT;
	while (empty && (e = readdir(d)) != NULL) {
		if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0 &&
		    strcmp(e->d_name, "LOCK") != 0)
			empty = false;
	}
	closedir(d);
	return empty;
}

int rk_node_restore(const struct rk_config *cfg, const char *file, struct rk_err *err)
{
	char snap_dir[RK_CONFIG_PATH_MAX + 8], wal_dir[RK_CONFIG_PATH_MAX + 8];
	struct rk_snapfile_reader *r = NULL;
	struct rk_snapfile_recv *rv_recv = NULL;
	const struct rk_snapfile_meta *sm;
	struct rk_hard_state hs = { 0 };
	struct rk_meta *meta = NULL;
	struct rk_wal *wal = NULL;
	struct rk_conf conf;
	uint64_t off = 0;
	size_t got;
	void *buf = NULL;
	int rv;

	if (!dir_is_empty(cfg->data_dir))
		return rk_err_set(err, RK_EEXISTS, "%s already holds a node's data: restore into an "
				  "empty data directory (move the old one aside first)", cfg->data_dir);
	rv = rk_snapfile_open_path(file, &r, err);
	if (rv == RK_OK)
		rv = rk_snapfile_verify(r, err);
	if (rv != RK_OK)
		goto out;
	sm = rk_snapfile_meta(r);
	if (rk_conf_decode(&conf, sm->conf.base, sm->conf.len) != RK_OK) {
		rv = rk_err_set(err, RK_ECORRUPT, "%s: bad membership configuration", file);
		goto out;
	}
	if (rk_conf_find(&conf, cfg->id) < 0) {
		rv = rk_err_set(err, RK_ECONFIG, "node %llu is not a member of the backup's cluster",
				(unsigned long long)cfg->id);
		goto out;
	}
	snprintf(snap_dir, sizeof snap_dir, "%s/snap", cfg->data_dir);
	snprintf(wal_dir, sizeof wal_dir, "%s/wal", cfg->data_dir);
	if (mkdir_p(snap_dir) != 0 || mkdir_p(wal_dir) != 0) {
		rv = rk_err_errno(err, RK_EIO, errno, "create %s", cfg->data_dir);
		goto out;
	}
	/* The receive path verifies, fsyncs and renames, as for a snapshot from a leader. */
	buf = rk_malloc(1u << 20);
	if (buf == NULL) {
		rv = rk_err_set(err, RK_ENOMEM, "restore");
		goto out;
	}
	rv = rk_snapfile_recv_begin(snap_dir, sm->index, sm->term, NULL, &rv_recv, err);
	while (rv == RK_OK && off < sm->file_size) {
		rv = rk_snapfile_pread_raw(r, off, buf, 1u << 20, &got, err);
		if (rv == RK_OK && got == 0)
			rv = rk_err_set(err, RK_ECORRUPT, "%s: shorter than its header says", file);
		if (rv == RK_OK)
			rv = rk_snapfile_recv_chunk(rv_recv, off, buf, got, err);
		off += got;
	}
	if (rv == RK_OK) {
		rv = rk_snapfile_recv_done(rv_recv, sm->file_size, err);
		rv_recv = NULL;
	}
	if (rv == RK_OK)
		rv = rk_wal_open(wal_dir, NULL, &wal, err);
	if (rv == RK_OK)
		rv = rk_wal_reset(wal, sm->index + 1, err);
	if (rv == RK_OK)
		rv = rk_meta_open(cfg->data_dir, NULL, &meta, &hs, err);
	if (rv == RK_OK) {
		hs.term = sm->term;
		hs.vote = 0;
		hs.commit = sm->index;
		rv = rk_meta_save(meta, &hs, err);
	}
	if (rv == RK_OK)
		rk_log(RK_LOG_INFO, "restored %s: snapshot %llu@%llu into %s", file,
		       (unsigned long long)sm->index, (unsigned long long)sm->term, cfg->data_dir);
out:
	if (rv_recv != NULL)
		rk_snapfile_recv_abort(rv_recv);
	if (wal != NULL)
		rk_wal_close(wal);
	if (meta != NULL)
		rk_meta_close(meta);
	if (r != NULL)
		rk_snapfile_close(r);
	rk_free(buf);
	return rv;
}

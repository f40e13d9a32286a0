/* client.c -- client requests: decode, route (propose, ReadIndex, serve), and reply.
 *
 * A write is proposed under the node lock and parked in the write-waiter table under its log
 * index; the apply thread replies when that index applies, after checking that the entry there
 * is this request's (a new leader may have replaced it). A linearizable read is parked under a
 * fresh ReadIndex ctx; the core releases it with an index, and the apply thread serves it from
 * the store once applied >= index. Waiters carry a deadline; the timer answers TIMEOUT when it
 * passes (the outcome of a write is then unknown, and a retry with the same session and
 * sequence number applies at most once).
 *
 * Threads: rk_client_on_frame on io; rk_client_handle on workers; rk_client_apply_result,
 * rk_client_release_read and rk_client_serve_read on apply; rk_client_expire on timer.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "client.pb-c.h"
#include "common/check.h"
#include "common/log.h"
#include "common/mem.h"
#include "net/frame.h"
#include "server/node_int.h"

#define REQUEST_TIMEOUT_MS 5000
#define RANGE_DEFAULT_LIMIT 1000

static Raftkv__Status wire_status(int rv)
{
	switch (rv) {
	case RK_OK:
		return RAFTKV__STATUS__STATUS_OK;
	case RK_ENOTFOUND:
		return RAFTKV__STATUS__STATUS_NOT_FOUND;
	case RK_EEXISTS:
		return RAFTKV__STATUS__STATUS_EXISTS;
	case RK_ECASFAILED:
		return RAFTKV__STATUS__STATUS_CAS_FAILED;
	case RK_ENOTLEADER:
		return RAFTKV__STATUS__STATUS_NOT_LEADER;
	case RK_ETIMEOUT:
		return RAFTKV__STATUS__STATUS_TIMEOUT;
	case RK_ETOOLARGE:
		return RAFTKV__STATUS__STATUS_TOO_LARGE;
	case RK_EINVAL:
	case RK_ESTALE:
		return RAFTKV__STATUS__STATUS_BAD_REQUEST;
	case RK_EBUSY:
	case RK_EFULL:
	case RK_ETRANSFER: /* a leadership transfer is under way: retry shortly */
		return RAFTKV__STATUS__STATUS_BUSY;
	case RK_ECONFCHANGE: /* the previous membership change has not committed yet */
		return RAFTKV__STATUS__STATUS_BUSY;
	case RK_EUNAVAILABLE:
	case RK_ESTOPPED:
	case RK_EIO:
	case RK_ENOSPC:
	case RK_ESHUTDOWN:
		return RAFTKV__STATUS__STATUS_UNAVAILABLE;
	default:
		return RAFTKV__STATUS__STATUS_INTERNAL;
	}
}

static void send_response(struct rk_node *n, uint64_t conn, Raftkv__Response *resp)
{
	size_t len = protobuf_c_message_get_packed_size(&resp->base);
	struct rk_obuf *b = rk_obuf_new(RK_FRAME_HEADER_SIZE + len);

	if (b == NULL)
		return; /* the client times out and retries */
	rk_frame_header_write(b->data, RK_FRAME_CLIENT_RESPONSE, (uint32_t)len);
	protobuf_c_message_pack(&resp->base, b->data + RK_FRAME_HEADER_SIZE);
	b->len = RK_FRAME_HEADER_SIZE + len;
	rk_loop_send(n->loop, conn, b, 0);
}

static const char *leader_hint(struct rk_node *n)
{
	uint64_t leader = atomic_load(&n->leader);

	for (unsigned i = 0; i < n->cfg.n_members; i++) {
		if (leader != 0 && n->cfg.members[i].id == leader)
			return n->cfg.members[i].client.text;
	}
	return "";
}

void rk_client_reply(struct rk_node *n, uint64_t conn, uint64_t req_id, int status,
		     const void *value, size_t vlen, const char *msg)
{
	Raftkv__Response resp = RAFTKV__RESPONSE__INIT;

	resp.id = req_id;
	resp.status = wire_status(status);
	resp.value.data = (uint8_t *)value;
	resp.value.len = vlen;
	resp.message = (char *)(msg != NULL ? msg : (status == RK_OK ? "" : rk_strerror(status)));
	if (status == RK_ENOTLEADER)
		resp.leader_hint = (char *)leader_hint(n);
	send_response(n, conn, &resp);
}

/* ---- waiter tables (wait_lock) ---- */

static struct waiter **bucket(struct waiter **table, uint64_t key)
{
	return &table[(key * 0x9E3779B97F4A7C15ull) >> 52 & (WAIT_BUCKETS - 1)];
}

static void wait_insert(struct rk_node *n, struct waiter **table, struct waiter *w)
{
	struct waiter **b;

	RK_CHECK(pthread_mutex_lock(&n->wait_lock) == 0);
	b = bucket(table, w->key);
	w->next = *b;
	*b = w;
	RK_CHECK(pthread_mutex_unlock(&n->wait_lock) == 0);
}

static struct waiter *wait_remove(struct rk_node *n, struct waiter **table, uint64_t key)
{
	struct waiter **pp, *w;

	RK_CHECK(pthread_mutex_lock(&n->wait_lock) == 0);
	for (pp = bucket(table, key); (w = *pp) != NULL; pp = &w->next) {
		if (w->key == key) {
			*pp = w->next;
			break;
		}
	}
	RK_CHECK(pthread_mutex_unlock(&n->wait_lock) == 0);
	return w;
}

static void waiter_free(struct waiter *w)
{
	if (w->req != NULL)
		raftkv__request__free_unpacked(w->req, NULL);
	rk_free(w);
}

void rk_client_fail_read(struct rk_node *n, struct waiter *w, int status)
{
	rk_client_reply(n, w->conn, w->req_id, status, NULL, 0, NULL);
	waiter_free(w);
}

enum pick {
	PICK_ALL,
	PICK_EXPIRED, /* deadline_ms <= arg (now) */
	PICK_ABOVE,   /* parked under an index above arg */
};

/* Move the waiters of @table that @pick selects onto @out. */
static void collect(struct waiter **table, enum pick pick, uint64_t arg, struct waiter **out)
{
	struct waiter *w, **pp;

	for (unsigned i = 0; i < WAIT_BUCKETS; i++) {
		for (pp = &table[i]; (w = *pp) != NULL;) {
			if (pick == PICK_ALL || (pick == PICK_EXPIRED && w->deadline_ms <= arg) ||
			    (pick == PICK_ABOVE && w->key > arg)) {
				*pp = w->next;
				w->next = *out;
				*out = w;
			} else {
				pp = &w->next;
			}
		}
	}
}

static void fail_list(struct rk_node *n, struct waiter *w, int status, const char *msg)
{
	struct waiter *next;

	for (; w != NULL; w = next) {
		next = w->next;
		rk_client_reply(n, w->conn, w->req_id, status, NULL, 0, msg);
		waiter_free(w);
	}
}

void rk_client_expire(struct rk_node *n, uint64_t now_ms)
{
	struct waiter *writes = NULL, *reads = NULL;

	RK_CHECK(pthread_mutex_lock(&n->wait_lock) == 0);
	collect(n->writes, PICK_EXPIRED, now_ms, &writes);
	collect(n->reads, PICK_EXPIRED, now_ms, &reads);
	RK_CHECK(pthread_mutex_unlock(&n->wait_lock) == 0);
	fail_list(n, writes, RK_ETIMEOUT, "deadline passed: outcome unknown");
	fail_list(n, reads, RK_ETIMEOUT, "deadline passed");
}

void rk_client_fail_writes(struct rk_node *n, rk_index committed)
{
	struct waiter *writes = NULL;

	/* Reads the core holds come back as NOTLEADER through rd.reads by themselves. */
	RK_CHECK(pthread_mutex_lock(&n->wait_lock) == 0);
	collect(n->writes, PICK_ABOVE, committed, &writes);
	RK_CHECK(pthread_mutex_unlock(&n->wait_lock) == 0);
	fail_list(n, writes, RK_ETIMEOUT,
		  "leadership lost before the write applied: outcome unknown");
}

void rk_client_fail_all(struct rk_node *n)
{
	struct waiter *writes = NULL, *reads = NULL;

	RK_CHECK(pthread_mutex_lock(&n->wait_lock) == 0);
	collect(n->writes, PICK_ALL, 0, &writes);
	collect(n->reads, PICK_ALL, 0, &reads);
	RK_CHECK(pthread_mutex_unlock(&n->wait_lock) == 0);
	fail_list(n, writes, RK_ETIMEOUT, "node stopping: outcome unknown");
	fail_list(n, reads, RK_EUNAVAILABLE, "node stopping");
}

/* ---- io thread: decode and queue ---- */

int rk_client_on_frame(struct rk_node *n, uint64_t conn, uint8_t type, const uint8_t *payload,
		       size_t len)
{
	Raftkv__Request *req;
	int rv;

	if (type != RK_FRAME_CLIENT_REQUEST)
		return RK_EPROTO;
	req = raftkv__request__unpack(NULL, len, payload);
	if (req == NULL)
		return RK_EFRAME_DECODE;
	rv = rk_node_push_client_job(n, conn, req);
	if (rv != RK_OK) {
		rk_client_reply(n, conn, req->id, rv == RK_EFULL ? RK_EBUSY : RK_EUNAVAILABLE, NULL,
				0, "server overloaded: retry later");
		raftkv__request__free_unpacked(req, NULL);
	}
	return RK_OK;
}

/* ---- workers ---- */

static uint64_t wall_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void handle_status(struct rk_node *n, uint64_t conn, Raftkv__Request *req)
{
	Raftkv__Response resp = RAFTKV__RESPONSE__INIT;
	Raftkv__NodeStatus ns = RAFTKV__NODE_STATUS__INIT;
	Raftkv__Member mem[RK_CONF_MAX], *memp[RK_CONF_MAX];
	struct rk_raft_status st;
	struct rk_conf conf;

	RK_CHECK(pthread_mutex_lock(&n->lock) == 0);
	rk_raft_status(n->raft, &st);
	conf = *rk_raft_conf(n->raft);
	RK_CHECK(pthread_mutex_unlock(&n->lock) == 0);
	ns.id = n->cfg.id;
	ns.role = (char *)rk_state_name(st.state);
	if (rk_conf_find(&conf, n->cfg.id) < 0)
		ns.role = (char *)"non-member"; /* removed, or not yet added */
	else if (!rk_conf_is_voter(&conf, n->cfg.id))
		ns.role = (char *)"learner";
	ns.term = st.term;
	ns.leader = st.leader;
	ns.commit_index = st.commit;
	ns.applied_index = rk_kv_applied_index(n->kv);
	ns.first_index = st.first_index;
	ns.last_index = st.last_index;
	for (unsigned i = 0; i < conf.n; i++) {
		raftkv__member__init(&mem[i]);
		mem[i].id = conf.m[i].id;
		mem[i].learner = conf.m[i].role == RK_CONF_LEARNER;
		mem[i].peer_addr = (char *)"";
		mem[i].client_addr = (char *)"";
		for (unsigned j = 0; j < n->cfg.n_members; j++) {
			if (n->cfg.members[j].id == conf.m[i].id) {
				mem[i].peer_addr = n->cfg.members[j].peer.text;
				mem[i].client_addr = n->cfg.members[j].client.text;
			}
		}
		memp[i] = &mem[i];
	}
	ns.n_members = conf.n;
	ns.members = memp;
	resp.id = req->id;
	resp.node = &ns;
	send_response(n, conn, &resp);
	raftkv__request__free_unpacked(req, NULL);
}

static void handle_read(struct rk_node *n, uint64_t conn, Raftkv__Request *req)
{
	struct waiter *w;
	int rv;

	w = rk_calloc(1, sizeof *w);
	if (w == NULL) {
		rk_client_reply(n, conn, req->id, RK_EBUSY, NULL, 0, "out of memory");
		raftkv__request__free_unpacked(req, NULL);
		return;
	}
	w->conn = conn;
	w->req_id = req->id;
	w->req = req;
	if (req->serializable) {
		rk_client_serve_read(n, w); /* may be stale: the client asked for that */
		return;
	}
	w->deadline_ms = rk_node_now_ms() + REQUEST_TIMEOUT_MS;
	RK_CHECK(pthread_mutex_lock(&n->lock) == 0);
	w->key = ++n->next_read_ctx;
	/* Park before asking: the release can come out of this very step. */
	wait_insert(n, n->reads, w);
	rv = rk_raft_read_index(n->raft, w->key);
	if (rv != RK_OK) {
		RK_CHECK(pthread_mutex_unlock(&n->lock) == 0);
		w = wait_remove(n, n->reads, w->key);
		if (w != NULL)
			rk_client_fail_read(n, w, rv);
		return;
	}
	rk_node_step_locked_flush(n);
}

static void handle_write(struct rk_node *n, uint64_t conn, Raftkv__Request *req)
{
	struct rk_kv_cmd cmd = { 0 };
	struct rk_buf buf = { 0 };
	struct waiter *w = NULL;
	rk_index index;
	size_t len;
	int rv;

	cmd.op = (uint8_t)req->op;
	cmd.client_id = req->client_id;
	cmd.seq = req->seq;
	cmd.ts_ms = wall_ms();
	cmd.key = req->key.data;
	cmd.key_len = req->key.len;
	if (req->op != RAFTKV__OP__OP_DELETE) {
		cmd.value = req->value.data;
		cmd.value_len = req->value.len;
	}
	if (req->op == RAFTKV__OP__OP_CAS) {
		cmd.expected = req->expected.data;
		cmd.expected_len = req->expected.len;
	}
	if (req->client_id != 0 && req->seq == 0) {
		rv = RK_EINVAL;
		goto fail;
	}
	/* Oversized keys and values never reach the log. */
	rv = rk_kv_validate(n->kv, &cmd);
	if (rv != RK_OK)
		goto fail;
	if (atomic_load(&n->failed)) {
		rv = RK_EUNAVAILABLE;
		goto fail;
	}
	buf.len = rk_kv_cmd_size(&cmd);
	buf.base = rk_malloc(buf.len);
	w = rk_calloc(1, sizeof *w);
	if (buf.base == NULL || w == NULL) {
		rv = RK_EBUSY;
		goto fail;
	}
	rv = rk_kv_cmd_encode(&cmd, buf.base, buf.len, &len);
	if (rv != RK_OK)
		goto fail;
	w->conn = conn;
	w->req_id = req->id;
	w->client_id = req->client_id;
	w->seq = req->seq;
	w->deadline_ms = rk_node_now_ms() + REQUEST_TIMEOUT_MS;
	RK_CHECK(pthread_mutex_lock(&n->lock) == 0);
	rv = rk_raft_propose(n->raft, &buf, 1, &index);
	if (rv != RK_OK) {
		RK_CHECK(pthread_mutex_unlock(&n->lock) == 0);
		goto fail;
	}
	/* The entry cannot apply before the Ready below is drained: parking it now is safe. */
	buf.base = NULL;
	w->key = index;
	wait_insert(n, n->writes, w);
	raftkv__request__free_unpacked(req, NULL);
	rk_node_step_locked_flush(n);
	return;
fail:
	rk_client_reply(n, conn, req->id, rv, NULL, 0, NULL);
	rk_free(buf.base);
	rk_free(w);
	raftkv__request__free_unpacked(req, NULL);
}

/* Start a leadership transfer (§3.10): the leader catches the target up, then tells it to
 * campaign at once. The reply says the transfer started; clients watch status for the end. */
static void handle_transfer(struct rk_node *n, uint64_t conn, Raftkv__Request *req)
{
	int rv;

	RK_CHECK(pthread_mutex_lock(&n->lock) == 0);
	/* "Make n3 lead" when n3 already leads is done, not an error. */
	if (req->target == n->cfg.id && n->was_leader)
		rv = RK_OK;
	else
		rv = rk_raft_transfer(n->raft, req->target);
	rk_node_step_locked_flush(n);
	rk_client_reply(n, conn, req->id, rv, NULL, 0,
			rv == RK_EINVAL ? "target is not another voter of this cluster" : NULL);
	if (rv == RK_OK)
		rk_log(RK_LOG_INFO, "transferring leadership to n%llu",
		       (unsigned long long)req->target);
	raftkv__request__free_unpacked(req, NULL);
}

/* What the configuration already says about @id, for the idempotent answers below. */
static const char *member_state(const struct rk_conf *conf, uint64_t id)
{
	int k = rk_conf_find(conf, id);

	if (k < 0)
		return NULL;
	return conf->m[k].role == RK_CONF_LEARNER ? "learner" : "voter";
}

/* A membership change (§4.1, one server at a time): the leader proposes it and the reply waits
 * until the entry applies. Repeating a change that is already in force succeeds, so that a
 * client may retry one whose outcome it did not learn. */
static void handle_member(struct rk_node *n, uint64_t conn, Raftkv__Request *req)
{
	const char *msg = NULL, *now;
	struct rk_raft_status st;
	enum rk_conf_op op;
	struct waiter *w;
	rk_index index;
	bool known = false;
	int rv = RK_OK;

	for (unsigned i = 0; i < n->cfg.n_members; i++)
		known |= n->cfg.members[i].id == req->target;
	w = rk_calloc(1, sizeof *w);
	if (w == NULL) {
		rk_client_reply(n, conn, req->id, RK_EBUSY, NULL, 0, "out of memory");
		goto out;
	}
	RK_CHECK(pthread_mutex_lock(&n->lock) == 0);
	rk_raft_status(n->raft, &st);
	now = member_state(rk_raft_conf(n->raft), req->target);
	if (st.state != RK_LEADER) {
		rv = RK_ENOTLEADER;
	} else if (req->op == RAFTKV__OP__OP_MEMBER_ADD) {
		op = RK_CONF_ADD_LEARNER;
		if (!known) {
			rv = RK_EINVAL;
			msg = "no such member in the leader's [cluster] member lines: add a member.ID "
			      "line (with join) to every node's configuration first";
		} else if (now != NULL) {
			rv = strcmp(now, "learner") == 0 ? RK_OK : RK_EEXISTS;
			msg = rv == RK_OK ? "already a learner" : "already a voter";
			goto reply;
		}
	} else if (req->op == RAFTKV__OP__OP_MEMBER_PROMOTE) {
		op = RK_CONF_ADD_VOTER;
		if (now == NULL) {
			rv = RK_ENOTFOUND;
			msg = "not a member: add it as a learner first";
		} else if (strcmp(now, "voter") == 0) {
			msg = "already a voter";
			goto reply;
		}
	} else {
		op = RK_CONF_REMOVE;
		if (now == NULL) {
			rv = RK_ENOTFOUND;
			msg = "not a member";
		}
	}
	if (rv == RK_OK)
		rv = rk_raft_propose_conf(n->raft, op, req->target, &index);
	if (rv == RK_EINVAL && msg == NULL)
		msg = "refused: the last voter cannot be removed";
	if (rv != RK_OK)
		goto reply;
	w->conn = conn;
	w->req_id = req->id;
	w->conf = true;
	w->term = st.term;
	w->key = index;
	w->deadline_ms = rk_node_now_ms() + REQUEST_TIMEOUT_MS;
	wait_insert(n, n->writes, w);
	w = NULL;
	rk_log(RK_LOG_INFO, "membership: %s n%llu proposed at index %llu",
	       op == RK_CONF_ADD_LEARNER ? "add learner" : op == RK_CONF_ADD_VOTER ? "promote"
										  : "remove",
	       (unsigned long long)req->target, (unsigned long long)index);
	rk_node_step_locked_flush(n);
	goto out;
reply:
	RK_CHECK(pthread_mutex_unlock(&n->lock) == 0);
	rk_client_reply(n, conn, req->id, rv, NULL, 0, msg);
out:
	rk_free(w);
	raftkv__request__free_unpacked(req, NULL);
}

#define SNAPSHOT_CHUNK (1u << 20)

/* A backup, chunk by chunk: snapshot_index 0 takes a fresh snapshot on the leader (the newest
 * committed state, consistent: taken under the store's read lock) and returns its first
 * chunk; later requests name that snapshot and an offset. Served by the leader, so that the
 * backup is recent; a follower redirects. */
static void handle_snapshot(struct rk_node *n, uint64_t conn, Raftkv__Request *req)
{
	Raftkv__Response resp = RAFTKV__RESPONSE__INIT;
	struct rk_err err = { 0 };
	rk_index index = req->snapshot_index;
	uint64_t size = 0;
	size_t got = 0;
	void *buf = NULL;
	int rv = RK_OK;

	if (atomic_load(&n->leader) != n->cfg.id && index == 0) {
		rk_client_reply(n, conn, req->id, RK_ENOTLEADER, NULL, 0, NULL);
		goto out;
	}
	if (index == 0)
		rv = rk_node_snapshot_now(n, &index, &size);
	buf = rk_malloc(SNAPSHOT_CHUNK);
	if (rv == RK_OK && buf == NULL)
		rv = RK_EBUSY;
	if (rv == RK_OK) {
		RK_CHECK(pthread_rwlock_rdlock(&n->snap_lock) == 0);
		if (n->snap_reader == NULL || rk_snapfile_meta(n->snap_reader)->index != index) {
			rv = RK_EUNAVAILABLE;
			rk_err_set(&err, rv, "snapshot %llu was replaced by a newer one: start again",
				   (unsigned long long)index);
		} else {
			size = rk_snapfile_meta(n->snap_reader)->file_size;
			if (req->offset < size)
				rv = rk_snapfile_pread_raw(n->snap_reader, req->offset, buf,
							   SNAPSHOT_CHUNK, &got, &err);
		}
		RK_CHECK(pthread_rwlock_unlock(&n->snap_lock) == 0);
	}
	if (rv != RK_OK) {
		rk_client_reply(n, conn, req->id, rv, NULL, 0, rk_err_text(&err, rv));
		goto out;
	}
	resp.id = req->id;
	resp.value.data = buf;
	resp.value.len = got;
	resp.snapshot_index = index;
	resp.snapshot_size = size;
	resp.more = req->offset + got < size;
	send_response(n, conn, &resp);
out:
	rk_free(buf);
	raftkv__request__free_unpacked(req, NULL);
}

void rk_client_handle(struct rk_node *n, uint64_t conn, void *arg)
{
	Raftkv__Request *req = arg;

	switch (req->op) {
	case RAFTKV__OP__OP_GET:
	case RAFTKV__OP__OP_RANGE:
		if (req->key.len == 0 && req->op == RAFTKV__OP__OP_GET) {
			rk_client_reply(n, conn, req->id, RK_EINVAL, NULL, 0, "empty key");
			raftkv__request__free_unpacked(req, NULL);
			return;
		}
		handle_read(n, conn, req);
		return;
	case RAFTKV__OP__OP_PUT:
	case RAFTKV__OP__OP_PUT_IF_ABSENT:
	case RAFTKV__OP__OP_UPDATE:
	case RAFTKV__OP__OP_DELETE:
	case RAFTKV__OP__OP_APPEND:
	case RAFTKV__OP__OP_CAS:
		handle_write(n, conn, req);
		return;
	case RAFTKV__OP__OP_STATUS:
		handle_status(n, conn, req);
		return;
	case RAFTKV__OP__OP_TRANSFER_LEADER:
		handle_transfer(n, conn, req);
		return;
	case RAFTKV__OP__OP_SNAPSHOT:
		handle_snapshot(n, conn, req);
		return;
	case RAFTKV__OP__OP_MEMBER_ADD:
	case RAFTKV__OP__OP_MEMBER_PROMOTE:
	case RAFTKV__OP__OP_MEMBER_REMOVE:
		if (req->target == 0) {
			rk_client_reply(n, conn, req->id, RK_EINVAL, NULL, 0, "no target node id");
			raftkv__request__free_unpacked(req, NULL);
			return;
		}
		handle_member(n, conn, req);
		return;
	default:
		rk_client_reply(n, conn, req->id, RK_EINVAL, NULL, 0, "unknown operation");
		raftkv__request__free_unpacked(req, NULL);
		return;
	}
}

/* ---- apply thread ---- */

void rk_client_apply_result(struct rk_node *n, rk_index index, const struct rk_entry *e,
			    const struct rk_kv_result *res)
{
	struct waiter *w = wait_remove(n, n->writes, index);
	struct rk_kv_cmd cmd;

	if (w == NULL)
		return;
	if (w->conf) {
		/* Same index and term: the very entry proposed (Log Matching, §5.3). */
		if (e->type == RK_ENTRY_CONF && e->term == w->term)
			rk_client_reply(n, w->conn, w->req_id, RK_OK, NULL, 0, NULL);
		else
			rk_client_reply(n, w->conn, w->req_id, RK_ENOTLEADER, NULL, 0,
					"leadership changed: the membership change was not made");
		waiter_free(w);
		return;
	}
	/* The entry at our index may be another leader's: then ours was never committed. */
	if (res == NULL || rk_kv_cmd_decode(e->data.base, e->data.len, &cmd) != RK_OK ||
	    cmd.client_id != w->client_id || cmd.seq != w->seq) {
		rk_client_reply(n, w->conn, w->req_id, RK_ENOTLEADER, NULL, 0,
				"leadership changed: the write was not applied");
	} else {
		rk_client_reply(n, w->conn, w->req_id, res->status, res->value.base, res->value.len,
				NULL);
	}
	waiter_free(w);
}

void rk_client_release_read(struct rk_node *n, const struct rk_read *rd)
{
	struct waiter *w = wait_remove(n, n->reads, rd->ctx);

	if (w == NULL)
		return; /* expired meanwhile */
	if (rd->status != RK_READ_OK) {
		rk_client_fail_read(n, w, RK_ENOTLEADER);
		return;
	}
	w->read_index = rd->index;
	if (rk_kv_applied_index(n->kv) >= rd->index) {
		rk_client_serve_read(n, w);
		return;
	}
	w->next = n->deferred_reads;
	n->deferred_reads = w;
}

struct range_acc {
	Raftkv__KeyValue **kvs;
	size_t n, cap;
	int rv;
};

static int range_visit(void *ctx, const uint8_t *key, size_t klen, const uint8_t *val, size_t vlen)
{
	struct range_acc *a = ctx;
	Raftkv__KeyValue *kv;

	if (rk_array_reserve((void **)&a->kvs, &a->cap, a->n + 1, sizeof *a->kvs) != 0)
		return RK_ENOMEM;
	kv = rk_malloc(sizeof *kv + klen + vlen);
	if (kv == NULL)
		return RK_ENOMEM;
	raftkv__key_value__init(kv);
	kv->key.data = (uint8_t *)(kv + 1);
	kv->key.len = klen;
	memcpy(kv->key.data, key, klen);
	kv->value.data = kv->key.data + klen;
	kv->value.len = vlen;
	if (vlen > 0)
		memcpy(kv->value.data, val, vlen);
	a->kvs[a->n++] = kv;
	return RK_OK;
}

static void serve_range(struct rk_node *n, struct waiter *w, Raftkv__Request *req)
{
	Raftkv__Response resp = RAFTKV__RESPONSE__INIT;
	struct rk_kv_scan scan = { 0 };
	struct range_acc acc = { 0 };
	bool more = false;
	int rv;

	scan.start = req->key.data;
	scan.start_len = req->key.len;
	scan.end = req->end.data;
	scan.end_len = req->end.len;
	scan.prefix = req->prefix;
	scan.limit = req->limit ? req->limit : RANGE_DEFAULT_LIMIT;
	rv = rk_kv_range(n->kv, &scan, range_visit, &acc, &more);
	if (rv != RK_OK) {
		rk_client_reply(n, w->conn, w->req_id, RK_EBUSY, NULL, 0, "out of memory");
	} else {
		resp.id = w->req_id;
		resp.kvs = acc.kvs;
		resp.n_kvs = acc.n;
		resp.more = more;
		send_response(n, w->conn, &resp);
	}
	for (size_t i = 0; i < acc.n; i++)
		rk_free(acc.kvs[i]);
	rk_free(acc.kvs);
}

void rk_client_serve_read(struct rk_node *n, struct waiter *w)
{
	Raftkv__Request *req = w->req;
	struct rk_buf val = { 0 };
	int rv;

	if (req->op == RAFTKV__OP__OP_RANGE) {
		serve_range(n, w, req);
	} else {
		rv = rk_kv_get(n->kv, req->key.data, req->key.len, &val);
		rk_client_reply(n, w->conn, w->req_id, rv, val.base, val.len, NULL);
		rk_free(val.base);
	}
	waiter_free(w);
}

/* raft.c -- lifecycle, term rules, message dispatch, and the Ready/advance/persisted cycle.
 *
 * Durability bookkeeping: every Ready that carries something to persist gets the next persist
 * id; the log state at that point (last index@term) is remembered per id. Replies go through
 * rk_reply(), which holds them (FIFO) tagged with the id of the write they rest on; they are
 * released once rk_raft_persisted() reaches that id. Leader traffic goes through rk_send()
 * and is released at once (§10.2.1). A message that cannot be queued for lack of memory is
 * dropped: Raft already tolerates message loss, and the peer retries.
 */
#include <assert.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "common/err.h"
#include "common/mem.h"
#include "raft/raft_int.h"

void rk_raft_config_default(struct rk_raft_config *c, rk_node_id id)
{
	memset(c, 0, sizeof *c);
	c->id = id;
	c->election_ticks = 10;
	c->heartbeat_ticks = 1;
	c->max_inflight = 32;
	c->max_msg_bytes = 1u << 20;
	c->snap_chunk_bytes = 1u << 20;
	c->pre_vote = true;
	c->check_quorum = true;
}

const char *rk_state_name(enum rk_state s)
{
	switch (s) {
	case RK_FOLLOWER: return "follower";
	case RK_PRE_CANDIDATE: return "pre-candidate";
	case RK_CANDIDATE: return "candidate";
	case RK_LEADER: return "leader";
	}
	return "?";
}

const char *rk_msg_type_name(int type)
{
	static const char *const names[] = {
		"?", "RequestVote", "RequestVoteResp", "PreVote", "PreVoteResp",
		"AppendEntries", "AppendEntriesResp", "Heartbeat", "HeartbeatResp",
		"InstallSnapshot", "InstallSnapshotResp", "TimeoutNow", "ReadIndex",
		"ReadIndexResp",
	};

	if (type < 0 || type > RK_MSG_TYPE_MAX)
		return "?";
	return names[type];
}

void rk_trace_fmt(struct rk_raft *r, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(r->tbuf, sizeof r->tbuf, fmt, ap);
	va_end(ap);
	r->cfg.tracer.line(r->cfg.tracer.data, r->tbuf);
}

int rk_bug(const struct rk_raft *r, unsigned bug)
{
	return (r->cfg.test_bugs & bug) != 0;
}

int rk_self_pos(const struct rk_raft *r)
{
	return rk_conf_find(&r->conf, r->id);
}

bool rk_is_voter_self(const struct rk_raft *r)
{
	return rk_conf_is_voter(&r->conf, r->id);
}

unsigned rk_quorum(const struct rk_raft *r)
{
	return rk_conf_voters(&r->conf) / 2 + 1;
}

/* ---- output queues ---- */

int rk_grow(void **arr, size_t *cap, size_t need, size_t elem)
{
	void *p;
	size_t c;

	if (need <= *cap)
		return RK_OK;
	c = *cap == 0 ? 16 : *cap * 2;
	while (c < need)
		c *= 2;
	p = rk_realloc(*arr, c * elem);
	if (p == NULL)
		return RK_ENOMEM;
	*arr = p;
	*cap = c;
	return RK_OK;
}

int rk_send(struct rk_raft *r, struct rk_msg *m)
{
	int rv;

	m->from = r->id;
	rv = rk_grow((void **)&r->out, &r->cap_out, r->n_out + 1, sizeof *r->out);
	if (rv != RK_OK)
		return rv;
	r->out[r->n_out++] = *m;
	return RK_OK;
}

static bool has_unpersisted(const struct rk_raft *r)
{
	return r->unstable <= rk_rlog_last(&r->log) || r->hs_dirty || r->n_chunks > 0 ||
	       r->install;
}

/* The persist id after which everything decided so far is durable. */
uint64_t rk_persist_need(const struct rk_raft *r)
{
	return has_unpersisted(r) ? r->last_id + 1 : r->last_id;
}

int rk_reply(struct rk_raft *r, struct rk_msg *m)
{
	uint64_t need = rk_persist_need(r);
	size_t slot;
	int rv;

	if (need <= r->durable_id && r->n_held == 0)
		return rk_send(r, m);
	m->from = r->id;
	if (r->held_start + r->n_held == r->cap_held && r->held_start > 0) {
		memmove(r->held, r->held + r->held_start, r->n_held * sizeof *r->held);
		r->held_start = 0;
	}
	rv = rk_grow((void **)&r->held, &r->cap_held, r->held_start + r->n_held + 1,
		  sizeof *r->held);
	if (rv != RK_OK)
		return rv;
	slot = r->held_start + r->n_held++;
	r->held[slot].need = need;
	r->held[slot].m = *m;
	return RK_OK;
}

/* ---- state transitions ---- */

void rk_set_term(struct rk_raft *r, rk_term term)
{
	assert(term > r->term);
	r->term = term;
	r->vote = 0;
	r->hs_dirty = true;
}

static void reset_leader_state(struct rk_raft *r)
{
	r->transferee = 0;
	r->transfer_elapsed = 0;
	rk_readindex_fail_all(r);
}

void rk_become_follower(struct rk_raft *r, rk_term term, rk_node_id leader)
{
	if (term > r->term) {
		TRACE(r, ". term %" PRIu64 " > %" PRIu64 ": adopt it", term, r->term);
		rk_set_term(r, term);
	}
	if (r->state != RK_FOLLOWER)
		TRACE(r, ". %s -> follower", rk_state_name(r->state));
	if (r->state == RK_LEADER)
		reset_leader_state(r);
	r->state = RK_FOLLOWER;
	r->leader = leader;
	r->heartbeat_elapsed = 0;
	rk_reset_election_timer(r);
}

void rk_become_leader(struct rk_raft *r)
{
	struct rk_entry noop = {0};
	rk_index last = rk_rlog_last(&r->log);

	r->state = RK_LEADER;
	r->leader = r->id;
	r->heartbeat_elapsed = 0;
	r->election_elapsed = 0;
	r->transferee = 0;
	r->read_round = 0;
	r->read_round_wanted = false;
	for (unsigned k = 0; k < r->conf.n; k++) {
		rk_pr_reset(&r->prs[k], last + 1);
		if (r->conf.m[k].id == r->id)
			r->prs[k].match = r->durable_index;
	}
	r->term_start = last + 1;
	r->pending_conf = r->conf_index;
	TRACE(r, ". won term %" PRIu64 ": leader, append no-op at %" PRIu64, r->term, last + 1);
	noop.term = r->term;
	noop.index = last + 1;
	noop.type = RK_ENTRY_NOOP;
	if (rk_bug(r, RK_BUG_COMMIT_OLD_TERM)) {
		/* the no-op would mask the Figure 8 bug: the broken variant skips it */
		rk_bcast_append(r);
		return;
	}
	/* Without memory for the no-op the leader still leads: its first proposal lands at
	 * term_start instead, and nothing older commits before that one does. */
	(void)rk_append_local(r, &noop, 1);
	rk_bcast_append(r);
}

/* ---- configuration ---- */

void rk_conf_set(struct rk_raft *r, const struct rk_conf *c, rk_index index)
{
	struct rk_progress old[RK_CONF_MAX];
	struct rk_conf oldc = r->conf;

	r->conf = *c;
	r->conf_index = index;
	if (r->state != RK_LEADER)
		return;
	memcpy(old, r->prs, sizeof old);
	for (unsigned k = 0; k < c->n; k++) {
		int o = rk_conf_find(&oldc, c->m[k].id);

		if (o >= 0) {
			r->prs[k] = old[o];
		} else {
			rk_pr_reset(&r->prs[k], rk_rlog_last(&r->log) + 1);
			if (c->m[k].id == r->id)
				r->prs[k].match = r->durable_index;
		}
	}
	if (r->transferee != 0 && !rk_conf_is_voter(c, r->transferee))
		rk_abort_transfer(r, "transferee left the configuration");
}

void rk_conf_recompute(struct rk_raft *r)
{
	struct rk_conf c;

	for (rk_index i = rk_rlog_last(&r->log); i > r->snap.index && i > r->log.offset; i--) {
		const struct rk_entry *e = rk_rlog_get(&r->log, i);

		if (e->type == RK_ENTRY_CONF &&
		    rk_conf_decode(&c, e->data.base, e->data.len) == RK_OK) {
			if (i != r->conf_index || memcmp(&c, &r->conf, sizeof c) != 0)
				rk_conf_set(r, &c, i);
			return;
		}
	}
	rk_conf_set(r, &r->snap.conf, r->snap.index);
}

/* Append entries to the local log; takes every data.base. The caller reserved room. */
int rk_append_local(struct rk_raft *r, struct rk_entry *e, size_t n)
{
	int rv = rk_rlog_reserve(&r->log, n);

	if (rv != RK_OK)
		return rv;
	for (size_t k = 0; k < n; k++) {
		rv = rk_rlog_append(&r->log, &e[k]);
		assert(rv == RK_OK);
		if (e[k].type == RK_ENTRY_CONF) {
			struct rk_conf c;

			/* §4.1: a server uses the latest configuration in its log, committed
			 * or not. A CONF entry that does not decode is ignored here. */
			if (rk_conf_decode(&c, e[k].data.base, e[k].data.len) == RK_OK) {
				TRACE(r, ". conf at %" PRIu64 ": %u members, in force", e[k].index,
				      c.n);
				rk_conf_set(r, &c, e[k].index);
			}
		}
	}
	return RK_OK;
}

void rk_truncate_local(struct rk_raft *r, rk_index from)
{
	TRACE(r, ". truncate log from %" PRIu64, from);
	rk_rlog_truncate(&r->log, from);
	if (r->unstable > from)
		r->unstable = from;
	if (r->durable_index >= from)
		r->durable_index = from - 1;
	if (r->conf_index >= from)
		rk_conf_recompute(r);
}

/* ---- lifecycle ---- */

static uint64_t splitmix64(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

void rk_reset_election_timer(struct rk_raft *r)
{
	unsigned span = r->cfg.election_ticks_max != 0
				? r->cfg.election_ticks_max - r->cfg.election_ticks + 1
				: r->cfg.election_ticks;

	r->election_elapsed = 0;
	r->rand_timeout = r->cfg.election_ticks + (unsigned)(splitmix64(&r->rng) % span);
}

/* On a failed start with @rs->take_data, free the data of entries[from..] (those before are
 * in the log, which frees them). */
static void drop_restore_data(const struct rk_raft_restore *rs, size_t from)
{
	if (!rs->take_data)
		return;
	for (size_t k = from; k < rs->n_entries; k++)
		rk_free(rs->entries[k].data.base);
}

struct rk_raft *rk_raft_new(const struct rk_raft_config *cfg, const struct rk_raft_restore *rs,
			    int *rv)
{
	struct rk_raft *r;
	rk_index last;
	size_t k = 0;
	int err;

	if (cfg->id == 0 || cfg->heartbeat_ticks == 0 ||
	    cfg->election_ticks <= cfg->heartbeat_ticks ||
	    (cfg->election_ticks_max != 0 && cfg->election_ticks_max < cfg->election_ticks) ||
	    cfg->max_inflight == 0 ||
	    cfg->max_inflight > RK_MAX_INFLIGHT || cfg->max_msg_bytes == 0 ||
	    cfg->snap_chunk_bytes == 0 || rs->snap.conf.n > RK_CONF_MAX) {
		drop_restore_data(rs, 0);
		*rv = RK_ECONFIG;
		return NULL;
	}
	r = rk_calloc(1, sizeof *r);
	if (r == NULL) {
		drop_restore_data(rs, 0);
		*rv = RK_ENOMEM;
		return NULL;
	}
	r->cfg = *cfg;
	r->id = cfg->id;
	r->rng = cfg->seed != 0 ? cfg->seed : cfg->id;
	r->state = RK_FOLLOWER;
	r->term = rs->hs.term;
	r->vote = rs->hs.vote;
	r->snap = rs->snap;
	r->conf = rs->snap.conf;
	r->conf_index = rs->snap.index;
	rk_rlog_init(&r->log, rs->snap.index, rs->snap.term);
	err = rk_rlog_reserve(&r->log, rs->n_entries);
	if (err != RK_OK)
		goto err_free;
	for (k = 0; k < rs->n_entries; k++) {
		struct rk_entry e = rs->entries[k];

		if (e.index != rs->snap.index + 1 + k || e.term < rk_rlog_last_term(&r->log)) {
			err = RK_ECORRUPT;
			goto err_free;
		}
		if (rs->take_data) {
			if (e.data.len == 0) {
				rk_free(e.data.base);
				e.data.base = NULL;
			}
		} else if (e.data.len > 0) {
			e.data.base = rk_malloc(e.data.len);
			if (e.data.base == NULL) {
				err = RK_ENOMEM;
				goto err_free;
			}
			memcpy(e.data.base, rs->entries[k].data.base, e.data.len);
		} else {
			e.data.base = NULL;
		}
		rk_rlog_append(&r->log, &e);
	}
	last = rk_rlog_last(&r->log);
	rk_conf_recompute(r);
	r->commit = rs->hs.commit < last ? rs->hs.commit : last;
	if (r->commit < rs->snap.index)
		r->commit = rs->snap.index;
	r->applied_out = rs->snap.index;
	r->unstable = last + 1;
	r->durable_index = last;
	r->hs_out = rs->hs;
	rk_reset_election_timer(r);
	TRACE(r, "n%" PRIu64 " start term %" PRIu64 " vote n%" PRIu64 " log %" PRIu64 "@%" PRIu64 " commit %" PRIu64 " snap %" PRIu64,
	      r->id, r->term, r->vote, last, rk_rlog_last_term(&r->log), r->commit,
	      rs->snap.index);
	*rv = RK_OK;
	return r;
err_free:
	rk_rlog_close(&r->log);
	rk_free(r);
	drop_restore_data(rs, k);
	*rv = err;
	return NULL;
}

void rk_raft_free(struct rk_raft *r)
{
	if (r == NULL)
		return;
	rk_rlog_close(&r->log);
	for (size_t k = 0; k < r->n_chunks; k++)
		rk_free(r->chunks[k].data.base);
	rk_free(r->chunks);
	rk_free(r->out);
	rk_free(r->held);
	rk_free(r->reads);
	rk_free(r->reads_out);
	rk_free(r->writes);
	rk_free(r);
}

/* ---- inputs ---- */

void rk_raft_tick(struct rk_raft *r)
{
	if (r->state == RK_LEADER)
		rk_tick_leader(r);
	else
		rk_tick_election(r);
}

static bool from_leader_type(int t)
{
	return t == RK_MSG_APPEND || t == RK_MSG_HEARTBEAT || t == RK_MSG_SNAPSHOT;
}

int rk_raft_recv(struct rk_raft *r, const struct rk_msg *m)
{
	if (m->type < RK_MSG_VOTE || m->type > RK_MSG_TYPE_MAX || m->from == 0 ||
	    m->from == r->id || m->to != r->id)
		return RK_EPROTO;
	TRACE(r, "n%" PRIu64 " recv %s from n%" PRIu64 " t%" PRIu64 " %" PRIu64 "@%" PRIu64 "%s n=%zu commit=%" PRIu64,
	      r->id, rk_msg_type_name(m->type), m->from, m->term, m->index, m->log_term,
	      m->reject ? " reject" : "", m->n_entries, m->commit);
	if (m->term > r->term) {
		bool vote_req = m->type == RK_MSG_VOTE || m->type == RK_MSG_PREVOTE;

		if (vote_req && !m->force && rk_in_lease(r)) {
			TRACE(r, ". leader n%" PRIu64 " heard %u ticks ago: ignore (lease)", r->leader,
			      r->election_elapsed);
			return RK_OK;
		}
		if (m->type == RK_MSG_PREVOTE ||
		    (m->type == RK_MSG_PREVOTE_RESP && !m->reject)) {
			/* a pre-vote never changes anyone's term (§9.6) */
		} else {
			rk_become_follower(r, m->term, from_leader_type(m->type) ? m->from : 0);
		}
	} else if (m->term < r->term) {
		struct rk_msg resp = {0};

		if (from_leader_type(m->type)) {
			/* tell a stale leader about the new term; with pre-vote and leases it
			 * would otherwise never learn it from a vote request */
			TRACE(r, ". stale term: answer with t%" PRIu64, r->term);
			resp.type = m->type == RK_MSG_SNAPSHOT ? RK_MSG_SNAPSHOT_RESP
							       : RK_MSG_APPEND_RESP;
			resp.to = m->from;
			resp.term = r->term;
			resp.reject = true;
			rk_reply(r, &resp);
		} else if (m->type == RK_MSG_PREVOTE || m->type == RK_MSG_VOTE) {
			/* Figure 3.1: reply with our term, so that a candidate stuck in an old
			 * term that no leader contacts (it is no longer in their configuration)
			 * catches up and can still win when it is the one needed */
			TRACE(r, ". stale %s: reject with t%" PRIu64, rk_msg_type_name(m->type), r->term);
			resp.type = m->type == RK_MSG_VOTE ? RK_MSG_VOTE_RESP : RK_MSG_PREVOTE_RESP;
			resp.to = m->from;
			resp.term = r->term;
			resp.reject = true;
			rk_send(r, &resp);
		} else {
			TRACE(r, ". stale term: ignore");
		}
		return RK_OK;
	}

	switch (m->type) {
	case RK_MSG_VOTE:
	case RK_MSG_PREVOTE:
		return rk_recv_vote(r, m);
	case RK_MSG_VOTE_RESP:
	case RK_MSG_PREVOTE_RESP:
		return rk_recv_vote_resp(r, m);
	case RK_MSG_APPEND:
	case RK_MSG_HEARTBEAT:
	case RK_MSG_SNAPSHOT:
		if (r->state == RK_LEADER) {
			TRACE(r, ". another leader in my term: ignore");
			return RK_EPROTO;
		}
		if (r->state != RK_FOLLOWER)
			rk_become_follower(r, m->term, m->from);
		r->leader = m->from;
		r->election_elapsed = 0;
		if (m->type == RK_MSG_APPEND)
			return rk_recv_append(r, m);
		if (m->type == RK_MSG_HEARTBEAT)
			return rk_recv_heartbeat(r, m);
		return rk_recv_snapshot(r, m);
	case RK_MSG_APPEND_RESP:
		return r->state == RK_LEADER ? rk_recv_append_resp(r, m) : RK_OK;
	case RK_MSG_HEARTBEAT_RESP:
		return r->state == RK_LEADER ? rk_recv_heartbeat_resp(r, m) : RK_OK;
	case RK_MSG_SNAPSHOT_RESP:
		return r->state == RK_LEADER ? rk_recv_snapshot_resp(r, m) : RK_OK;
	case RK_MSG_TIMEOUT_NOW:
		return rk_recv_timeout_now(r, m);
	case RK_MSG_READ_INDEX:
		return rk_readindex_recv(r, m);
	case RK_MSG_READ_INDEX_RESP:
		return rk_push_read(r, m->ctx, m->reject ? 0 : m->index,
				    m->reject ? RK_READ_NOTLEADER : RK_READ_OK);
	}
	return RK_EPROTO;
}

int rk_raft_propose(struct rk_raft *r, struct rk_buf *cmds, size_t n, rk_index *first)
{
	rk_index last = rk_rlog_last(&r->log);
	int rv;

	if (r->state != RK_LEADER)
		return RK_ENOTLEADER;
	if (r->transferee != 0)
		return RK_ETRANSFER;
	rv = rk_rlog_reserve(&r->log, n);
	if (rv != RK_OK)
		return rv;
	for (size_t k = 0; k < n; k++) {
		struct rk_entry e = {r->term, last + 1 + k, RK_ENTRY_NORMAL, cmds[k]};

		rv = rk_rlog_append(&r->log, &e);
		assert(rv == RK_OK);
	}
	if (first != NULL)
		*first = last + 1;
	TRACE(r, "n%" PRIu64 " propose %zu at %" PRIu64 "@%" PRIu64, r->id, n, last + 1, r->term);
	/* appends go out at the next Ready: every proposal until then shares one message per
	 * follower (batching without a timer) */
	r->bcast_wanted = true;
	return RK_OK;
}

int rk_raft_propose_conf(struct rk_raft *r, enum rk_conf_op op, rk_node_id id, rk_index *index)
{
	struct rk_conf c = r->conf;
	struct rk_entry e = {0};
	int rv;

	if (r->state != RK_LEADER)
		return RK_ENOTLEADER;
	if (r->transferee != 0)
		return RK_ETRANSFER;
	/* one change at a time, and not before this term has committed an entry (§4.1,
	 * and the fix to single-server changes in Ongaro's raft-dev post of 2015) */
	if (r->pending_conf > r->commit || r->commit < r->term_start)
		return RK_ECONFCHANGE;
	rv = rk_conf_apply_op(&c, op, id);
	if (rv != RK_OK)
		return rv;
	e.data.base = rk_malloc(RK_CONF_ENCODED_MAX);
	if (e.data.base == NULL)
		return RK_ENOMEM;
	e.data.len = rk_conf_encode(&c, e.data.base);
	e.term = r->term;
	e.index = rk_rlog_last(&r->log) + 1;
	e.type = RK_ENTRY_CONF;
	TRACE(r, "n%" PRIu64 " propose conf op %d n%" PRIu64 " at %" PRIu64, r->id, (int)op, id,
	      e.index);
	rv = rk_append_local(r, &e, 1);
	if (rv != RK_OK) {
		rk_free(e.data.base);
		return rv;
	}
	r->pending_conf = e.index;
	if (index != NULL)
		*index = e.index;
	rk_bcast_append(r);
	/* a leader alone in the new config commits by itself once durable */
	return RK_OK;
}

int rk_raft_read_index(struct rk_raft *r, uint64_t ctx)
{
	struct rk_msg m = {0};

	if (r->state == RK_LEADER)
		return rk_readindex_request(r, ctx, r->id);
	if (r->leader == 0)
		return RK_ENOTLEADER;
	TRACE(r, "n%" PRIu64 " read %" PRIu64 ": forward to leader n%" PRIu64, r->id, ctx, r->leader);
	m.type = RK_MSG_READ_INDEX;
	m.to = r->leader;
	m.term = r->term;
	m.ctx = ctx;
	return rk_send(r, &m);
}

void rk_raft_persisted(struct rk_raft *r, uint64_t id)
{
	size_t k = 0;

	if (id > r->last_id)
		id = r->last_id;
	if (id <= r->durable_id)
		return;
	r->durable_id = id;
	while (k < r->n_writes && r->writes[k].id <= id) {
		rk_term t;

		if (rk_rlog_term(&r->log, r->writes[k].index, &t) == RK_OK &&
		    t == r->writes[k].term)
			r->durable_index = r->writes[k].index;
		k++;
	}
	if (k > 0) {
		memmove(r->writes, r->writes + k, (r->n_writes - k) * sizeof *r->writes);
		r->n_writes -= k;
	}
	if (r->state == RK_CANDIDATE)
		rk_count_self_vote(r);
	if (r->state == RK_LEADER) {
		int self = rk_self_pos(r);

		if (self >= 0)
			rk_pr_maybe_update(&r->prs[self], r->durable_index);
		if (rk_maybe_commit(r))
			rk_bcast_append(r);
	}
}

int rk_raft_snapshot_meta(const struct rk_raft *r, rk_index index, struct rk_snap_meta *meta)
{
	memset(meta, 0, sizeof *meta);
	if (index > r->applied_out || index <= r->log.offset ||
	    rk_rlog_term(&r->log, index, &meta->term) != RK_OK)
		return RK_EINVAL;
	meta->index = index;
	meta->conf = r->snap.conf;
	for (rk_index i = index; i > r->snap.index && i > r->log.offset; i--) {
		const struct rk_entry *e = rk_rlog_get(&r->log, i);

		if (e->type == RK_ENTRY_CONF &&
		    rk_conf_decode(&meta->conf, e->data.base, e->data.len) == RK_OK)
			break;
	}
	return RK_OK;
}

int rk_raft_snapshot_taken(struct rk_raft *r, const struct rk_snap_meta *meta, rk_index trailing)
{
	rk_index upto;
	rk_term t;

	if (meta->index > r->applied_out || meta->index <= r->snap.index ||
	    meta->index <= r->log.offset || rk_rlog_term(&r->log, meta->index, &t) != RK_OK ||
	    t != meta->term)
		return RK_EINVAL;
	r->snap = *meta;
	upto = meta->index > trailing ? meta->index - trailing : 0;
	if (upto >= r->unstable)
		upto = r->unstable - 1;
	TRACE(r, "n%" PRIu64 " snapshot at %" PRIu64 "@%" PRIu64 " (%" PRIu64 " bytes): compact to %" PRIu64,
	      r->id, meta->index, meta->term, meta->size, upto);
	rk_rlog_compact(&r->log, upto);
	return RK_OK;
}

/* ---- outputs ---- */

bool rk_raft_has_ready(const struct rk_raft *r)
{
	return r->n_out > 0 || (r->n_held > 0 && r->held[r->held_start].need <= r->durable_id) ||
	       has_unpersisted(r) || r->commit > r->applied_out || r->n_reads_out > 0 ||
	       r->read_round_wanted || r->bcast_wanted;
}

/* Point an outgoing append at its entries; false when they are gone (the leader stepped
 * down or compacted them since the message was queued): the message is then dropped and
 * the follower is retried later. */
static bool materialize(struct rk_raft *r, struct rk_msg *m)
{
	if (m->type != RK_MSG_APPEND || m->n_entries == 0)
		return true;
	if (r->state != RK_LEADER || m->term != r->term || m->index < r->log.offset ||
	    m->index + m->n_entries > rk_rlog_last(&r->log))
		return false;
	m->entries = rk_rlog_get(&r->log, m->index + 1);
	return true;
}

int rk_raft_ready(struct rk_raft *r, struct rk_ready *rd)
{
	rk_index last = rk_rlog_last(&r->log);
	size_t n_keep = 0;
	int rv;

	memset(rd, 0, sizeof *rd);
	if (r->bcast_wanted && r->state == RK_LEADER)
		rk_bcast_append(r);
	r->bcast_wanted = false;
	if (r->read_round_wanted && r->state == RK_LEADER)
		rk_readindex_start_round(r);
	r->read_round_wanted = false;
	/* release held replies whose writes are durable, keeping FIFO order behind them; on
	 * ENOMEM the rest stay held and nothing else was handed out */
	while (r->n_held > 0 && r->held[r->held_start].need <= r->durable_id) {
		rv = rk_send(r, &r->held[r->held_start].m);
		if (rv != RK_OK)
			return rv;
		r->held_start++;
		r->n_held--;
	}
	if (r->n_held == 0)
		r->held_start = 0;
	if (has_unpersisted(r)) {
		rv = rk_grow((void **)&r->writes, &r->cap_writes, r->n_writes + 1, sizeof *r->writes);
		if (rv != RK_OK)
			return rv;
		rd->persist_id = r->last_id + 1;
		r->writes[r->n_writes].id = rd->persist_id;
		r->writes[r->n_writes].index = last;
		r->writes[r->n_writes].term = rk_rlog_last_term(&r->log);
		r->n_writes++;
		r->last_id = rd->persist_id;
		rd->hs.term = r->term;
		rd->hs.vote = rk_bug(r, RK_BUG_VOTE_NOT_DURABLE) ? 0 : r->vote;
		rd->hs.commit = r->commit;
		rd->hs_changed = rd->hs.term != r->hs_out.term || rd->hs.vote != r->hs_out.vote ||
				 rd->hs.commit != r->hs_out.commit;
		if (r->unstable <= last) {
			rd->entries = rk_rlog_get(&r->log, r->unstable);
			rd->n_entries = (size_t)(last - r->unstable + 1);
		}
		rd->chunks = r->chunks;
		rd->n_chunks = r->n_chunks;
		rd->snap_install = r->install;
		rd->snap = r->install_meta;
	}
	for (size_t k = 0; k < r->n_out; k++)
		if (materialize(r, &r->out[k]))
			r->out[n_keep++] = r->out[k];
	r->n_out = n_keep;
	rd->msgs = r->out;
	rd->n_msgs = r->n_out;
	if (r->commit > r->applied_out) {
		rk_index from = r->applied_out + 1;
		rk_index to = r->commit < last ? r->commit : last;

		if (from > r->log.offset && to >= from) {
			rd->committed = rk_rlog_get(&r->log, from);
			rd->n_committed = (size_t)(to - from + 1);
		}
	}
	rd->reads = r->reads_out;
	rd->n_reads = r->n_reads_out;
	rd->state = r->state;
	rd->term = r->term;
	rd->leader = r->leader;
	return RK_OK;
}

void rk_raft_advance(struct rk_raft *r, struct rk_ready *rd)
{
	if (rd->persist_id != 0) {
		r->unstable = rk_rlog_last(&r->log) + 1;
		r->hs_dirty = false;
		if (rd->hs_changed)
			r->hs_out = rd->hs;
		for (size_t k = 0; k < r->n_chunks; k++)
			rk_free(r->chunks[k].data.base);
		r->n_chunks = 0;
		r->install = false;
	}
	r->applied_out += rd->n_committed;
	r->n_reads_out = 0;
	r->n_out = 0;
	memset(rd, 0, sizeof *rd);
}

/* ---- queries ---- */

void rk_raft_status(const struct rk_raft *r, struct rk_raft_status *st)
{
	st->state = r->state;
	st->term = r->term;
	st->vote = r->vote;
	st->leader = r->leader;
	st->commit = r->commit;
	st->last_index = rk_rlog_last(&r->log);
	st->last_term = rk_rlog_last_term(&r->log);
	st->first_index = rk_rlog_first(&r->log);
	st->snap_index = r->snap.index;
	st->durable_index = r->durable_index;
	st->transferee = r->transferee;
}

const struct rk_conf *rk_raft_conf(const struct rk_raft *r)
{
	return &r->conf;
}

int rk_raft_progress(const struct rk_raft *r, rk_node_id id, rk_index *match, rk_index *next)
{
	int k;

	if (r->state != RK_LEADER)
		return RK_ENOTLEADER;
	k = rk_conf_find(&r->conf, id);
	if (k < 0)
		return RK_ENOENT;
	*match = r->prs[k].match;
	*next = r->prs[k].next;
	return RK_OK;
}

const struct rk_entry *rk_raft_entry(const struct rk_raft *r, rk_index index)
{
	return rk_rlog_get(&r->log, index);
}

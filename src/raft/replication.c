/* replication.c -- AppendEntries on both sides (§3.5), commitment (§3.6.2, Figure 3.7) and
 * chunked InstallSnapshot (§5.3).
 *
 * Leader: a probe sends one append and waits; a follower that answered positively switches to
 * pipelining up to max_inflight appends of at most max_msg_bytes each. On a reject the
 * follower's hint (the conflicting term and its first index there, or its last index + 1) lets
 * the leader skip a whole term per round trip (§5.3 "fast backoff"). Followers that fall behind
 * the compacted prefix get the latest snapshot, one chunk per round trip, the chunks carrying
 * no bytes: the caller fills them from its snapshot file.
 */
#include <assert.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "common/mem.h"
#include "raft/raft_int.h"

static rk_node_id pr_id(const struct rk_raft *r, int k)
{
	return r->conf.m[k].id;
}

static void send_chunk(struct rk_raft *r, int k)
{
	struct rk_progress *p = &r->prs[k];
	struct rk_msg m = {0};
	uint64_t left;

	if (p->snap_index != r->snap.index) {
		/* a newer snapshot was taken meanwhile: the old file is gone, restart */
		p->snap_index = r->snap.index;
		p->snap_offset = 0;
	}
	left = r->snap.size - p->snap_offset;
	m.type = RK_MSG_SNAPSHOT;
	m.to = pr_id(r, k);
	m.term = r->term;
	m.snap = r->snap;
	m.index = r->snap.index;
	m.log_term = r->snap.term;
	m.offset = p->snap_offset;
	m.data.len = left < r->cfg.snap_chunk_bytes ? (size_t)left : r->cfg.snap_chunk_bytes;
	m.done = m.offset + m.data.len == r->snap.size;
	p->snap_idle = 0;
	TRACE(r, ". n%" PRIu64 " snapshot %" PRIu64 "@%" PRIu64 " chunk %" PRIu64 "+%zu%s",
	      m.to, m.snap.index, m.snap.term, m.offset, m.data.len, m.done ? " done" : "");
	rk_send(r, &m);
}

/* Send what progress k lacks. Returns whether a message went out. */
int rk_send_append(struct rk_raft *r, int k, bool even_empty)
{
	struct rk_progress *p = &r->prs[k];
	rk_index last = rk_rlog_last(&r->log);
	rk_index prev = p->next - 1;
	struct rk_msg m = {0};
	size_t n = 0, bytes = 0;
	rk_term prev_term;

	if (pr_id(r, k) == r->id || rk_pr_is_paused(p, r->cfg.max_inflight))
		return 0;
	if (rk_rlog_term(&r->log, prev, &prev_term) != RK_OK) {
		if (prev > last) {
			p->next = last + 1;
			prev = last;
			prev_term = rk_rlog_last_term(&r->log);
		} else {
			TRACE(r, ". n%" PRIu64 " needs %" PRIu64 ", compacted: send snapshot",
			      pr_id(r, k), p->next);
			rk_pr_become_snapshot(p, r->snap.index);
			send_chunk(r, k);
			return 1;
		}
	}
	while (prev + n < last) {
		size_t len = rk_rlog_get(&r->log, prev + n + 1)->data.len;

		if (n > 0 && bytes + len > r->cfg.max_msg_bytes)
			break;
		bytes += len;
		n++;
	}
	if (n == 0 && !even_empty && p->state == PR_REPLICATE)
		return 0;
	m.type = RK_MSG_APPEND;
	m.to = pr_id(r, k);
	m.term = r->term;
	m.index = prev;
	m.log_term = prev_term;
	m.commit = r->commit;
	m.n_entries = n; /* entries are pointed at in rk_raft_ready() */
	if (m.commit > p->commit_sent)
		p->commit_sent = m.commit;
	rk_send(r, &m);
	rk_pr_sent(p, prev + n, n);
	return 1;
}

void rk_bcast_append(struct rk_raft *r)
{
	for (unsigned k = 0; k < r->conf.n; k++)
		while (rk_send_append(r, (int)k, false) && r->prs[k].state == PR_REPLICATE)
			;
}

/* Tell each follower the commit index it has not heard yet (and could apply: never past its
 * match). Not done the moment an entry commits: with writes flowing, the next append carries
 * the new index anyway, and the separate empty append would cost every follower a message and
 * the leader's io thread two sends on the path of the client's reply. The leader calls this on
 * each tick instead, so an idle follower learns a commit at most one tick late. */
void rk_send_commit_updates(struct rk_raft *r)
{
	for (unsigned k = 0; k < r->conf.n; k++) {
		struct rk_progress *p = &r->prs[k];
		rk_index want = p->match < r->commit ? p->match : r->commit;

		if (pr_id(r, (int)k) == r->id || p->commit_sent >= want)
			continue;
		if (!rk_send_append(r, (int)k, true))
			continue;
		while (p->state == PR_REPLICATE && rk_send_append(r, (int)k, false))
			;
	}
}

int rk_bcast_heartbeat(struct rk_raft *r, uint64_t ctx)
{
	for (unsigned k = 0; k < r->conf.n; k++) {
		struct rk_msg m = {0};

		if (pr_id(r, (int)k) == r->id)
			continue;
		m.type = RK_MSG_HEARTBEAT;
		m.to = pr_id(r, (int)k);
		m.term = r->term;
		/* never tell a follower to commit past what it is known to hold */
		m.commit = r->prs[k].match < r->commit ? r->prs[k].match : r->commit;
		if (m.commit > r->prs[k].commit_sent)
			r->prs[k].commit_sent = m.commit;
		m.ctx = ctx;
		rk_send(r, &m);
	}
	return RK_OK;
}

static int cmp_desc(const void *a, const void *b)
{
	rk_index x = *(const rk_index *)a, y = *(const rk_index *)b;

	return x < y ? 1 : x > y ? -1 : 0;
}

bool rk_maybe_commit(struct rk_raft *r)
{
	rk_index m[RK_CONF_MAX];
	unsigned n = 0;
	rk_index idx;
	rk_term t;

	for (unsigned k = 0; k < r->conf.n; k++)
		if (r->conf.m[k].role == RK_CONF_VOTER)
			m[n++] = r->prs[k].match; /* own entry: durable index only */
	if (n == 0)
		return false;
	qsort(m, n, sizeof m[0], cmp_desc);
	idx = m[rk_quorum(r) - 1];
	if (idx <= r->commit || rk_rlog_term(&r->log, idx, &t) != RK_OK)
		return false;
	/* Figure 3.7: only an entry of the current term is committed by counting replicas */
	if (t != r->term && !rk_bug(r, RK_BUG_COMMIT_OLD_TERM)) {
		TRACE(r, ". %" PRIu64 "@%" PRIu64 " on a quorum but of an old term: wait", idx, t);
		return false;
	}
	TRACE(r, ". commit %" PRIu64 " -> %" PRIu64, r->commit, idx);
	r->commit = idx;
	rk_readindex_on_commit(r);
	if (!rk_conf_is_voter(&r->conf, r->id) && r->commit >= r->conf_index) {
		/* §4.2.2: a leader removed from the configuration steps down once the change
		 * is committed */
		TRACE(r, ". removed from the committed configuration: step down");
		rk_become_follower(r, r->term, 0);
		return false;
	}
	return true;
}

static void reply_append(struct rk_raft *r, const struct rk_msg *m, bool reject, rk_index index,
			 rk_term hint_term, rk_index hint)
{
	struct rk_msg resp = {0};

	resp.type = RK_MSG_APPEND_RESP;
	resp.to = m->from;
	resp.term = r->term;
	resp.reject = reject;
	resp.index = index;
	resp.log_term = hint_term;
	resp.commit = hint;
	rk_reply(r, &resp);
}

int rk_recv_append(struct rk_raft *r, const struct rk_msg *m)
{
	rk_index last = rk_rlog_last(&r->log);
	rk_index new_last = m->index + m->n_entries;
	struct rk_entry *copies = NULL;
	size_t skip = 0, n_new;
	rk_term t;
	int rv;

	for (size_t k = 0; k < m->n_entries; k++)
		if (m->entries[k].index != m->index + 1 + k || m->entries[k].term > m->term ||
		    (k > 0 && m->entries[k].term < m->entries[k - 1].term))
			return RK_EPROTO;
	if (m->index < r->commit) {
		TRACE(r, ". prev %" PRIu64 " below commit %" PRIu64 ": ack commit", m->index,
		      r->commit);
		reply_append(r, m, false, r->commit, 0, 0);
		return RK_OK;
	}
	if (rk_rlog_term(&r->log, m->index, &t) != RK_OK || t != m->log_term) {
		rk_index hint = last + 1;
		rk_term hint_term = 0;

		if (m->index <= last) {
			/* skip back over the whole conflicting term (§5.3 fast backoff) */
			hint_term = t;
			hint = m->index;
			while (hint - 1 > r->commit && hint - 1 > r->log.offset &&
			       rk_rlog_get(&r->log, hint - 1)->term == hint_term)
				hint--;
		}
		TRACE(r, ". no %" PRIu64 "@%" PRIu64 " here: reject, hint %" PRIu64 "@%" PRIu64,
		      m->index, m->log_term, hint, hint_term);
		reply_append(r, m, true, m->index, hint_term, hint);
		return RK_OK;
	}
	/* skip entries we already hold; the first one that differs truncates ours */
	while (skip < m->n_entries && m->entries[skip].index <= last &&
	       rk_rlog_get(&r->log, m->entries[skip].index)->term == m->entries[skip].term)
		skip++;
	n_new = m->n_entries - skip;
	if (n_new > 0) {
		if (m->entries[skip].index <= r->commit) {
			TRACE(r, ". append would overwrite committed %" PRIu64 ": drop",
			      m->entries[skip].index);
			return RK_EPROTO;
		}
		copies = rk_calloc(n_new, sizeof *copies);
		if (copies == NULL)
			return RK_ENOMEM;
		for (size_t k = 0; k < n_new; k++) {
			const struct rk_entry *src = &m->entries[skip + k];

			if (src->data.len == 0) {
				copies[k] = *src;
				copies[k].data.base = NULL;
				continue;
			}
			/* on failure copies[k..] are still zeroed: the unwind frees NULLs */
			void *p = rk_malloc(src->data.len);

			if (p == NULL) {
				rv = RK_ENOMEM;
				goto err_free;
			}
			copies[k] = *src;
			copies[k].data.base = p;
			memcpy(copies[k].data.base, m->entries[skip + k].data.base,
			       copies[k].data.len);
		}
		rv = rk_rlog_reserve(&r->log, n_new);
		if (rv != RK_OK)
			goto err_free;
		if (copies[0].index <= last)
			rk_truncate_local(r, copies[0].index);
		rv = rk_append_local(r, copies, n_new);
		assert(rv == RK_OK);
		rk_free(copies);
		TRACE(r, ". appended %" PRIu64 "..%" PRIu64, new_last - n_new + 1, new_last);
	}
	if (m->commit > r->commit) {
		rk_index c = m->commit < new_last ? m->commit : new_last;

		if (c > r->commit) {
			TRACE(r, ". commit %" PRIu64 " -> %" PRIu64, r->commit, c);
			r->commit = c;
		}
	}
	reply_append(r, m, false, new_last, 0, 0);
	return RK_OK;
err_free:
	for (size_t k = 0; k < n_new; k++)
		rk_free(copies[k].data.base);
	rk_free(copies);
	return rv;
}

static void send_more(struct rk_raft *r, int k)
{
	while (rk_send_append(r, k, false) && r->prs[k].state == PR_REPLICATE)
		;
}

int rk_recv_append_resp(struct rk_raft *r, const struct rk_msg *m)
{
	int k = rk_conf_find(&r->conf, m->from);
	struct rk_progress *p;

	if (k < 0)
		return RK_OK;
	p = &r->prs[k];
	p->active = true;
	if (m->reject) {
		rk_index next = m->commit;
		rk_term t;

		if (m->index < p->match || (p->state == PR_PROBE && m->index + 1 != p->next) ||
		    p->state == PR_SNAPSHOT) {
			TRACE(r, ". stale reject: ignore");
			return RK_OK;
		}
		if (m->log_term != 0) {
			/* jump to after our last entry of the follower's conflicting term */
			rk_index i = m->index < rk_rlog_last(&r->log) ? m->index : rk_rlog_last(&r->log);

			while (i > r->log.offset && rk_rlog_term(&r->log, i, &t) == RK_OK &&
			       t > m->log_term)
				i--;
			if (rk_rlog_term(&r->log, i, &t) == RK_OK && t == m->log_term)
				next = i + 1;
		}
		if (next > m->index)
			next = m->index;
		if (next <= p->match)
			next = p->match + 1;
		if (next == 0)
			next = 1;
		TRACE(r, ". n%" PRIu64 " rejected %" PRIu64 ": next %" PRIu64 " -> %" PRIu64,
		      m->from, m->index, p->next, next);
		p->next = next;
		rk_pr_become_probe(p);
		send_more(r, k);
		return RK_OK;
	}
	if (rk_pr_maybe_update(p, m->index)) {
		if (p->state == PR_PROBE)
			rk_pr_become_replicate(p);
		rk_pr_free_to(p, m->index);
		/* followers hear of a new commit with the next append or tick */
		if (!rk_maybe_commit(r) && r->state != RK_LEADER)
			return RK_OK;
		rk_maybe_send_timeout_now(r, k);
	} else if (p->state == PR_PROBE) {
		p->paused = false;
	}
	send_more(r, k);
	return RK_OK;
}

int rk_recv_heartbeat(struct rk_raft *r, const struct rk_msg *m)
{
	struct rk_msg resp = {0};
	rk_index last = rk_rlog_last(&r->log);
	rk_index c = m->commit < last ? m->commit : last;

	if (c > r->commit) {
		TRACE(r, ". commit %" PRIu64 " -> %" PRIu64, r->commit, c);
		r->commit = c;
	}
	resp.type = RK_MSG_HEARTBEAT_RESP;
	resp.to = m->from;
	resp.term = r->term;
	resp.ctx = m->ctx;
	return rk_reply(r, &resp);
}

int rk_recv_heartbeat_resp(struct rk_raft *r, const struct rk_msg *m)
{
	int k = rk_conf_find(&r->conf, m->from);
	struct rk_progress *p;

	if (k < 0)
		return RK_OK;
	p = &r->prs[k];
	p->active = true;
	if (m->ctx > p->read_ack)
		p->read_ack = m->ctx;
	if (p->state == PR_PROBE)
		p->paused = false;
	/* a full window with a live follower means appends were lost: free one slot so
	 * that a new append goes out; the follower's reject then restarts probing */
	if (p->state == PR_REPLICATE && p->infl_n >= r->cfg.max_inflight)
		rk_pr_free_first(p);
	/* behind with nothing new to send: the appends in between may be lost on an idle
	 * cluster; an empty one at next - 1 gets a reject that restarts probing */
	if (p->match < rk_rlog_last(&r->log) && rk_send_append(r, k, true))
		send_more(r, k);
	rk_readindex_on_ack(r);
	return RK_OK;
}

void rk_tick_snapshots(struct rk_raft *r)
{
	unsigned retry = r->cfg.election_ticks / 2 > 0 ? r->cfg.election_ticks / 2 : 1;

	for (unsigned k = 0; k < r->conf.n; k++) {
		struct rk_progress *p = &r->prs[k];

		if (p->state == PR_SNAPSHOT && ++p->snap_idle >= retry)
			send_chunk(r, (int)k);
	}
}

static void reply_snapshot(struct rk_raft *r, const struct rk_msg *m, bool reject, bool done,
			   uint64_t offset)
{
	struct rk_msg resp = {0};

	resp.type = RK_MSG_SNAPSHOT_RESP;
	resp.to = m->from;
	resp.term = r->term;
	resp.index = m->snap.index;
	resp.reject = reject;
	resp.done = done;
	resp.offset = offset;
	rk_reply(r, &resp);
}

int rk_recv_snapshot(struct rk_raft *r, const struct rk_msg *m)
{
	struct rk_chunk_write *cw;
	int rv;

	if (m->snap.index <= r->commit) {
		TRACE(r, ". snapshot %" PRIu64 " <= commit %" PRIu64 ": already have it",
		      m->snap.index, r->commit);
		reply_snapshot(r, m, false, true, m->snap.size);
		return RK_OK;
	}
	if (m->offset + m->data.len > m->snap.size || (m->data.len > 0 && m->data.base == NULL) ||
	    m->snap.conf.n > RK_CONF_MAX)
		return RK_EPROTO;
	if (r->rx_index != m->snap.index || r->rx_term != m->snap.term) {
		if (m->offset != 0) {
			TRACE(r, ". chunk of an unknown snapshot: ask for a restart");
			reply_snapshot(r, m, true, false, 0);
			return RK_OK;
		}
		r->rx_index = m->snap.index;
		r->rx_term = m->snap.term;
		r->rx_next = 0;
	}
	if (m->offset != r->rx_next) {
		TRACE(r, ". chunk at %" PRIu64 ", want %" PRIu64, m->offset, r->rx_next);
		reply_snapshot(r, m, false, false, r->rx_next);
		return RK_OK;
	}
	if (m->data.len > 0) {
		rv = rk_grow((void **)&r->chunks, &r->cap_chunks, r->n_chunks + 1,
			     sizeof *r->chunks);
		if (rv != RK_OK)
			return rv;
		cw = &r->chunks[r->n_chunks];
		cw->data.base = rk_malloc(m->data.len);
		if (cw->data.base == NULL)
			return RK_ENOMEM;
		memcpy(cw->data.base, m->data.base, m->data.len);
		cw->data.len = m->data.len;
		cw->snap = m->snap;
		cw->offset = m->offset;
		r->n_chunks++;
		r->rx_next += m->data.len;
	}
	if (!m->done) {
		reply_snapshot(r, m, false, false, r->rx_next);
		return RK_OK;
	}
	if (r->rx_next != m->snap.size) {
		r->rx_index = 0;
		return RK_EPROTO;
	}
	TRACE(r, ". install snapshot %" PRIu64 "@%" PRIu64 ": log reset, commit %" PRIu64,
	      m->snap.index, m->snap.term, m->snap.index);
	rk_rlog_reset(&r->log, m->snap.index, m->snap.term);
	r->snap = m->snap;
	r->commit = m->snap.index;
	r->applied_out = m->snap.index;
	r->unstable = m->snap.index + 1;
	r->durable_index = 0;
	r->install = true;
	r->install_meta = m->snap;
	r->rx_index = 0;
	rk_conf_set(r, &m->snap.conf, m->snap.index);
	reply_snapshot(r, m, false, true, m->snap.size);
	return RK_OK;
}

int rk_recv_snapshot_resp(struct rk_raft *r, const struct rk_msg *m)
{
	int k = rk_conf_find(&r->conf, m->from);
	struct rk_progress *p;

	if (k < 0)
		return RK_OK;
	p = &r->prs[k];
	p->active = true;
	if (p->state != PR_SNAPSHOT || m->index != p->snap_index)
		return RK_OK;
	if (m->done) {
		TRACE(r, ". n%" PRIu64 " installed snapshot %" PRIu64 ": probe", m->from, m->index);
		rk_pr_maybe_update(p, m->index);
		p->next = p->match + 1;
		rk_pr_become_probe(p);
		send_more(r, k);
		return RK_OK;
	}
	/* the follower knows what it holds: a restart (or a stale duplicate that restarted
	 * it) may have sent it back, so its offset wins even when lower than ours */
	p->snap_offset = m->reject ? 0 : m->offset;
	if (p->snap_offset > r->snap.size)
		p->snap_offset = 0;
	send_chunk(r, k);
	return RK_OK;
}

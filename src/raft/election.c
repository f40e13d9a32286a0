/* election.c -- election timeouts, pre-vote (§9.6), votes (§3.4), check-quorum and the
 * follower lease (§6.2), and leadership transfer (§3.10). */
#include <inttypes.h>
#include <string.h>

#include "common/err.h"
#include "raft/raft_int.h"

bool rk_in_lease(const struct rk_raft *r)
{
	return r->cfg.check_quorum && r->leader != 0 && r->election_elapsed < r->cfg.election_ticks;
}

/* Whether we were a voter in the configuration before the latest one. */
static bool was_voter(const struct rk_raft *r)
{
	struct rk_conf c;

	if (r->conf_index <= r->snap.index)
		return false;
	for (rk_index i = r->conf_index - 1; i > r->snap.index && i > r->log.offset; i--) {
		const struct rk_entry *e = rk_rlog_get(&r->log, i);

		if (e->type == RK_ENTRY_CONF && rk_conf_decode(&c, e->data.base, e->data.len) == RK_OK)
			return rk_conf_is_voter(&c, r->id);
	}
	return rk_conf_is_voter(&r->snap.conf, r->id);
}

/* §4.2.2: a server left out of its latest configuration still campaigns while that
 * configuration is uncommitted (it may be needed to commit it), without counting itself. */
static bool promotable(const struct rk_raft *r)
{
	return rk_is_voter_self(r) || (r->conf_index > r->commit && was_voter(r));
}

void rk_tick_election(struct rk_raft *r)
{
	r->election_elapsed++;
	if (r->election_elapsed < r->rand_timeout)
		return;
	r->election_elapsed = 0;
	if (!promotable(r)) {
		rk_reset_election_timer(r);
		return;
	}
	TRACE(r, "n%" PRIu64 " timeout (%s)", r->id, rk_state_name(r->state));
	rk_campaign(r, r->cfg.pre_vote, false);
}

void rk_abort_transfer(struct rk_raft *r, const char *why)
{
	TRACE(r, ". abort transfer to n%" PRIu64 ": %s", r->transferee, why);
	r->transferee = 0;
	r->transfer_elapsed = 0;
}

void rk_tick_leader(struct rk_raft *r)
{
	r->heartbeat_elapsed++;
	r->election_elapsed++;
	if (r->transferee != 0 && ++r->transfer_elapsed >= r->cfg.election_ticks)
		rk_abort_transfer(r, "election timeout passed");
	if (r->election_elapsed >= r->cfg.election_ticks) {
		unsigned active = 0;

		r->election_elapsed = 0;
		for (unsigned k = 0; k < r->conf.n; k++) {
			if (r->conf.m[k].role == RK_CONF_VOTER &&
			    (r->prs[k].active || r->conf.m[k].id == r->id))
				active++;
			r->prs[k].active = false;
		}
		if (r->cfg.check_quorum && active < rk_quorum(r)) {
			TRACE(r, "n%" PRIu64 " check-quorum: %u of %u voters heard: step down", r->id,
			      active, rk_conf_voters(&r->conf));
			rk_become_follower(r, r->term, 0);
			return;
		}
	}
	rk_tick_snapshots(r);
	if (r->heartbeat_elapsed >= r->cfg.heartbeat_ticks) {
		r->heartbeat_elapsed = 0;
		rk_bcast_heartbeat(r, r->read_round);
	}
	rk_send_commit_updates(r);
}

static unsigned count_votes(const struct rk_raft *r, uint8_t what)
{
	unsigned n = 0;

	for (unsigned k = 0; k < r->conf.n; k++)
		n += r->conf.m[k].role == RK_CONF_VOTER && r->votes[k] == what;
	return n;
}

static int won(struct rk_raft *r, bool pre, bool force)
{
	if (pre) {
		TRACE(r, ". pre-vote won: campaign for real");
		return rk_campaign(r, false, force);
	}
	rk_become_leader(r);
	return RK_OK;
}

int rk_campaign(struct rk_raft *r, bool pre, bool force)
{
	rk_term term = pre ? r->term + 1 : r->term;
	int self = rk_self_pos(r);

	memset(r->votes, 0, sizeof r->votes);
	if (pre) {
		r->state = RK_PRE_CANDIDATE;
		TRACE(r, ". pre-vote for term %" PRIu64, term);
	} else {
		rk_set_term(r, r->term + 1);
		term = r->term;
		r->vote = r->id;
		r->state = RK_CANDIDATE;
		TRACE(r, ". campaign: term %" PRIu64 ", vote self", term);
	}
	r->leader = 0;
	rk_reset_election_timer(r);
	/* our own real vote counts once durable, like any other (§3.8); a sole voter would
	 * otherwise lead a term it can forget, and lead it twice after a crash */
	r->self_vote_need = pre ? 0 : rk_persist_need(r);
	if (self >= 0 && pre)
		r->votes[self] = 1;
	if (pre && count_votes(r, 1) >= rk_quorum(r))
		return won(r, pre, force);
	for (unsigned k = 0; k < r->conf.n; k++) {
		struct rk_msg m = {0};

		if (r->conf.m[k].role != RK_CONF_VOTER || r->conf.m[k].id == r->id)
			continue;
		m.type = pre ? RK_MSG_PREVOTE : RK_MSG_VOTE;
		m.to = r->conf.m[k].id;
		m.term = term;
		m.index = rk_rlog_last(&r->log);
		m.log_term = rk_rlog_last_term(&r->log);
		m.force = force;
		/* a real vote request waits for our own vote to be durable: a candidate that
		 * forgets voting for itself could vote for another in the same term */
		if (pre)
			rk_send(r, &m);
		else
			rk_reply(r, &m);
	}
	if (!pre)
		rk_count_self_vote(r);
	return RK_OK;
}

int rk_recv_vote(struct rk_raft *r, const struct rk_msg *m)
{
	bool pre = m->type == RK_MSG_PREVOTE;
	rk_index last = rk_rlog_last(&r->log);
	rk_term last_term = rk_rlog_last_term(&r->log);
	bool can_vote = r->vote == m->from || (r->vote == 0 && r->leader == 0) ||
			(pre && m->term > r->term);
	bool up_to_date = m->log_term > last_term || (m->log_term == last_term && m->index >= last);
	struct rk_msg resp = {0};

	resp.type = pre ? RK_MSG_PREVOTE_RESP : RK_MSG_VOTE_RESP;
	resp.to = m->from;
	if (rk_bug(r, RK_BUG_VOTE_ANY_LOG))
		up_to_date = true;
	if (can_vote && up_to_date) {
		TRACE(r, ". candidate log %" PRIu64 "@%" PRIu64 " >= mine %" PRIu64 "@%" PRIu64 ": grant",
		      m->index, m->log_term, last, last_term);
		resp.term = m->term;
		if (pre)
			return rk_send(r, &resp);
		r->vote = m->from;
		r->hs_dirty = true;
		r->election_elapsed = 0;
		if (rk_bug(r, RK_BUG_VOTE_NOT_DURABLE))
			return rk_send(r, &resp);
		return rk_reply(r, &resp);
	}
	TRACE(r, ". reject: %s", !can_vote ? "already voted or have a leader"
					   : "candidate log is behind mine");
	resp.term = r->term;
	resp.reject = true;
	return pre ? rk_send(r, &resp) : rk_reply(r, &resp);
}

void rk_count_self_vote(struct rk_raft *r)
{
	int self = rk_self_pos(r);

	if (self < 0 || r->votes[self] != 0 || r->self_vote_need > r->durable_id)
		return;
	r->votes[self] = 1;
	if (count_votes(r, 1) >= rk_quorum(r))
		won(r, false, false);
}

int rk_recv_vote_resp(struct rk_raft *r, const struct rk_msg *m)
{
	bool pre = m->type == RK_MSG_PREVOTE_RESP;
	int k = rk_conf_find(&r->conf, m->from);

	if ((pre && r->state != RK_PRE_CANDIDATE) || (!pre && r->state != RK_CANDIDATE) || k < 0)
		return RK_OK;
	if (pre && !m->reject && m->term != r->term + 1)
		return RK_OK;
	r->votes[k] = m->reject ? 2 : 1;
	if (count_votes(r, 1) >= rk_quorum(r))
		return won(r, pre, false);
	if (count_votes(r, 2) >= rk_quorum(r)) {
		TRACE(r, ". lost the %s", pre ? "pre-vote" : "election");
		rk_become_follower(r, r->term, 0);
	}
	return RK_OK;
}

int rk_recv_timeout_now(struct rk_raft *r, const struct rk_msg *m)
{
	(void)m;
	if (!promotable(r)) {
		TRACE(r, ". not a voter: ignore");
		return RK_OK;
	}
	TRACE(r, ". leader hands over: campaign now");
	return rk_campaign(r, false, true);
}

void rk_maybe_send_timeout_now(struct rk_raft *r, int k)
{
	struct rk_msg m = {0};

	if (r->transferee == 0 || r->conf.m[k].id != r->transferee ||
	    r->prs[k].match != rk_rlog_last(&r->log))
		return;
	TRACE(r, ". n%" PRIu64 " caught up at %" PRIu64 ": TimeoutNow", r->transferee,
	      r->prs[k].match);
	m.type = RK_MSG_TIMEOUT_NOW;
	m.to = r->transferee;
	m.term = r->term;
	rk_send(r, &m);
}

int rk_raft_transfer(struct rk_raft *r, rk_node_id to)
{
	int k;

	if (r->state != RK_LEADER)
		return RK_ENOTLEADER;
	if (to == r->id || !rk_conf_is_voter(&r->conf, to))
		return RK_EINVAL;
	if (r->transferee != 0)
		return r->transferee == to ? RK_OK : RK_ETRANSFER;
	k = rk_conf_find(&r->conf, to);
	r->transferee = to;
	r->transfer_elapsed = 0;
	TRACE(r, "n%" PRIu64 " transfer leadership to n%" PRIu64 " (match %" PRIu64 ")", r->id, to,
	      r->prs[k].match);
	if (r->prs[k].match == rk_rlog_last(&r->log))
		rk_maybe_send_timeout_now(r, k);
	else
		rk_send_append(r, k, false);
	return RK_OK;
}

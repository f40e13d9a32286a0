/* readindex.c -- linearizable reads without log writes (§6.4).
 *
 * A read records the commit index once this leader has committed an entry of its own term;
 * then one heartbeat round (a round number in ctx, echoed by followers) confirms that no newer
 * leader exists. Rounds are batched: every read that arrives before the next rk_raft_ready()
 * shares one round. Reads are released in FIFO order once a quorum of voters (the leader
 * included) has acknowledged a round >= theirs; stepping down fails every pending read.
 */
#include <inttypes.h>
#include <string.h>

#include "common/err.h"
#include "raft/raft_int.h"

int rk_push_read(struct rk_raft *r, uint64_t ctx, rk_index index, int status)
{
	int rv = rk_grow((void **)&r->reads_out, &r->cap_reads_out, r->n_reads_out + 1,
			 sizeof *r->reads_out);

	if (rv != RK_OK)
		return rv;
	r->reads_out[r->n_reads_out].ctx = ctx;
	r->reads_out[r->n_reads_out].index = index;
	r->reads_out[r->n_reads_out].status = status;
	r->n_reads_out++;
	return RK_OK;
}

/* Hand a decided read to whoever asked: our own caller, or the follower that forwarded it. */
static int deliver(struct rk_raft *r, uint64_t ctx, rk_node_id from, rk_index index, int status)
{
	struct rk_msg m = {0};

	if (from == r->id)
		return rk_push_read(r, ctx, index, status);
	m.type = RK_MSG_READ_INDEX_RESP;
	m.to = from;
	m.term = r->term;
	m.ctx = ctx;
	m.index = index;
	m.reject = status != RK_READ_OK;
	return rk_send(r, &m);
}

static bool term_committed(const struct rk_raft *r)
{
	return r->commit >= r->term_start;
}

int rk_readindex_request(struct rk_raft *r, uint64_t ctx, rk_node_id from)
{
	struct pending_read *pr;
	int rv;

	/* reserve the output slot now so that releasing can never fail */
	rv = rk_grow((void **)&r->reads_out, &r->cap_reads_out, r->n_reads_out + r->n_reads + 1,
		     sizeof *r->reads_out);
	if (rv != RK_OK)
		return rv;
	if (rk_bug(r, RK_BUG_READ_NO_CONFIRM) ||
	    (term_committed(r) && rk_quorum(r) == 1 && rk_is_voter_self(r))) {
		TRACE(r, "n%" PRIu64 " read %" PRIu64 ": sole voter, index %" PRIu64, r->id, ctx,
		      r->commit);
		return deliver(r, ctx, from, r->commit, RK_READ_OK);
	}
	rv = rk_grow((void **)&r->reads, &r->cap_reads, r->n_reads + 1, sizeof *r->reads);
	if (rv != RK_OK)
		return rv;
	pr = &r->reads[r->n_reads++];
	pr->ctx = ctx;
	pr->from = from;
	pr->index = term_committed(r) ? r->commit : 0;
	pr->round = 0;
	if (pr->index != 0)
		r->read_round_wanted = true;
	TRACE(r, "n%" PRIu64 " read %" PRIu64 ": index %" PRIu64 "%s", r->id, ctx, pr->index,
	      pr->index == 0 ? " (wait for a commit in my term)" : ", confirm leadership");
	return RK_OK;
}

void rk_readindex_on_commit(struct rk_raft *r)
{
	if (!term_committed(r))
		return;
	for (size_t k = 0; k < r->n_reads; k++) {
		if (r->reads[k].index == 0) {
			r->reads[k].index = r->commit;
			r->read_round_wanted = true;
		}
	}
}

void rk_readindex_start_round(struct rk_raft *r)
{
	bool any = false;

	for (size_t k = 0; k < r->n_reads; k++) {
		if (r->reads[k].index != 0 && r->reads[k].round == 0) {
			if (!any)
				r->read_round++;
			r->reads[k].round = r->read_round;
			any = true;
		}
	}
	if (!any)
		return;
	TRACE(r, "n%" PRIu64 " read round %" PRIu64 ": heartbeat", r->id, r->read_round);
	rk_bcast_heartbeat(r, r->read_round);
	rk_readindex_on_ack(r);
}

static bool confirmed(const struct rk_raft *r, uint64_t round)
{
	unsigned acks = 0;

	for (unsigned k = 0; k < r->conf.n; k++) {
		if (r->conf.m[k].role != RK_CONF_VOTER)
			continue;
		if (r->conf.m[k].id == r->id || r->prs[k].read_ack >= round)
			acks++;
	}
	return acks >= rk_quorum(r);
}

void rk_readindex_on_ack(struct rk_raft *r)
{
	size_t k = 0;

	while (k < r->n_reads && r->reads[k].round != 0 && confirmed(r, r->reads[k].round)) {
		TRACE(r, ". read %" PRIu64 " confirmed by a quorum: release at %" PRIu64,
		      r->reads[k].ctx, r->reads[k].index);
		deliver(r, r->reads[k].ctx, r->reads[k].from, r->reads[k].index, RK_READ_OK);
		k++;
	}
	if (k == 0)
		return;
	memmove(r->reads, r->reads + k, (r->n_reads - k) * sizeof *r->reads);
	r->n_reads -= k;
}

void rk_readindex_fail_all(struct rk_raft *r)
{
	for (size_t k = 0; k < r->n_reads; k++) {
		TRACE(r, ". read %" PRIu64 " fails: no longer leader", r->reads[k].ctx);
		deliver(r, r->reads[k].ctx, r->reads[k].from, 0, RK_READ_NOTLEADER);
	}
	r->n_reads = 0;
}

int rk_readindex_recv(struct rk_raft *r, const struct rk_msg *m)
{
	if (r->state != RK_LEADER) {
		struct rk_msg resp = {0};

		TRACE(r, ". not the leader: refuse forwarded read %" PRIu64, m->ctx);
		resp.type = RK_MSG_READ_INDEX_RESP;
		resp.to = m->from;
		resp.term = r->term;
		resp.ctx = m->ctx;
		resp.reject = true;
		return rk_send(r, &resp);
	}
	return rk_readindex_request(r, m->ctx, m->from);
}

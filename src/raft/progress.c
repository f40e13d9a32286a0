/* progress.c -- per-follower flow control on the leader (§10.2): a follower is probed one
 * append at a time until its match point is known, then fed optimistically with up to
 * max_inflight appends in flight; a follower behind the compacted log gets a snapshot. */
#include <string.h>

#include "raft/raft_int.h"

void rk_pr_reset(struct rk_progress *p, rk_index next)
{
	memset(p, 0, sizeof *p);
	p->next = next;
	p->state = PR_PROBE;
	p->active = true;
}

static void infl_clear(struct rk_progress *p)
{
	p->infl_start = 0;
	p->infl_n = 0;
}

void rk_pr_become_probe(struct rk_progress *p)
{
	p->state = PR_PROBE;
	p->paused = false;
	infl_clear(p);
	if (p->next <= p->match)
		p->next = p->match + 1;
}

void rk_pr_become_replicate(struct rk_progress *p)
{
	p->state = PR_REPLICATE;
	p->paused = false;
	p->next = p->match + 1;
	infl_clear(p);
}

void rk_pr_become_snapshot(struct rk_progress *p, rk_index snap_index)
{
	p->state = PR_SNAPSHOT;
	p->paused = false;
	infl_clear(p);
	p->snap_index = snap_index;
	p->snap_offset = 0;
	p->snap_idle = 0;
}

bool rk_pr_is_paused(const struct rk_progress *p, unsigned max_inflight)
{
	switch (p->state) {
	case PR_PROBE:
		return p->paused;
	case PR_REPLICATE:
		return p->infl_n >= max_inflight;
	default:
		return true;
	}
}

void rk_pr_sent(struct rk_progress *p, rk_index last, size_t n_entries)
{
	if (p->state == PR_REPLICATE) {
		if (n_entries > 0) {
			p->infl[(p->infl_start + p->infl_n) % RK_MAX_INFLIGHT] = last;
			p->infl_n++;
			p->next = last + 1;
		}
	} else if (p->state == PR_PROBE) {
		p->paused = true;
	}
}

void rk_pr_free_to(struct rk_progress *p, rk_index upto)
{
	while (p->infl_n > 0 && p->infl[p->infl_start] <= upto) {
		p->infl_start = (p->infl_start + 1) % RK_MAX_INFLIGHT;
		p->infl_n--;
	}
}

bool rk_pr_maybe_update(struct rk_progress *p, rk_index match)
{
	bool updated = false;

	if (match > p->match) {
		p->match = match;
		p->paused = false;
		updated = true;
	}
	if (p->next < match + 1)
		p->next = match + 1;
	return updated;
}

void rk_pr_free_first(struct rk_progress *p)
{
	if (p->infl_n == 0)
		return;
	p->infl_start = (p->infl_start + 1) % RK_MAX_INFLIGHT;
	p->infl_n--;
}

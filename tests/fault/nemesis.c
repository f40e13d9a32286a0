/* nemesis.c -- rk-fault's faults: one at a time, in a shuffled round robin over the enabled
 * kinds, each held a while and then healed (the kinds are listed in docs/TESTING.md).
 * Thread: the nemesis thread, which owns the cluster while it runs; fr_heal(),
 * fr_restore_member() and fr_wait_leader() are called by the main thread after it stopped. */
#define _GNU_SOURCE
#include "config.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "raftkv/client.h"

#include "fault/faultfs.h"
#include "fault/faultrun.h"
#include "fault/proxy.h"
#include "harness/proc.h"

enum fault {
	F_KILL_ONE,
	F_KILL_LEADER,
	F_KILL_MAJORITY,
	F_PAUSE_ONE,
	F_PAUSE_LEADER,
	F_ISOLATE_ONE,
	F_ISOLATE_LEADER,
	F_SPLIT,
	F_ONEWAY_FROM_LEADER,
	F_ONEWAY_TO_LEADER,
	F_FLAP,
	F_SLOW_NET,
	F_TRANSFER,
	F_MEMBER,
	F_DISK_EIO,
	F_DISK_ENOSPC,
	F_DISK_SLOW,
	NFAULT
};

static const struct {
	const char *name;
	enum fr_group group;
} faults[NFAULT] = {
	[F_KILL_ONE] = { "kill -9 a node", FR_KILL },
	[F_KILL_LEADER] = { "kill -9 the leader", FR_KILL },
	[F_KILL_MAJORITY] = { "kill -9 a majority", FR_KILL },
	[F_PAUSE_ONE] = { "SIGSTOP a node", FR_PAUSE },
	[F_PAUSE_LEADER] = { "SIGSTOP the leader", FR_PAUSE },
	[F_ISOLATE_ONE] = { "isolate a node", FR_PARTITION },
	[F_ISOLATE_LEADER] = { "cut the leader off", FR_PARTITION },
	[F_SPLIT] = { "split majority/minority", FR_PARTITION },
	[F_ONEWAY_FROM_LEADER] = { "one-way: the leader's messages lost", FR_PARTITION },
	[F_ONEWAY_TO_LEADER] = { "one-way: messages to the leader lost", FR_PARTITION },
	[F_FLAP] = { "flapping partitions", FR_PARTITION },
	[F_SLOW_NET] = { "slow network", FR_PARTITION },
	[F_TRANSFER] = { "leadership transfer", FR_TRANSFER },
	[F_MEMBER] = { "remove a node, re-add as learner, promote", FR_MEMBER },
	[F_DISK_EIO] = { "fsync fails with EIO", FR_DISK },
	[F_DISK_ENOSPC] = { "writes fail with ENOSPC", FR_DISK },
	[F_DISK_SLOW] = { "slow fsync", FR_DISK },
};

/* The node that says it leads with the highest term, among running unpaused nodes; -1 if none. */
static int find_leader(struct fr_nemesis *nm)
{
	struct fc_cluster *c = &nm->r->cl;
	uint64_t best_term = 0;
	int best = -1;

	for (int i = 0; i < c->n; i++) {
		struct rkc_node_status st;

		if (c->nodes[i].pid == 0 || c->nodes[i].paused)
			continue;
		if (rkc_status(nm->admin, c->nodes[i].endpoint, &st) != RKC_OK)
			continue;
		if (strcmp(st.role, "leader") == 0 && st.term >= best_term) {
			best_term = st.term;
			best = i;
		}
	}
	return best;
}

int fr_wait_leader(struct fr_nemesis *nm, unsigned timeout_ms)
{
	uint64_t end = rk_test_now_ms() + timeout_ms;
	int l;

	while ((l = find_leader(nm)) < 0 && rk_test_now_ms() < end)
		usleep(50000);
	return l;
}

static int random_running(struct fr_nemesis *nm, int not)
{
	struct fc_cluster *c = &nm->r->cl;
	int cand[FC_MAX], n = 0;

	for (int i = 0; i < c->n; i++)
		if (c->nodes[i].pid != 0 && i != not)
			cand[n++] = i;
	return n == 0 ? -1 : cand[fr_rnd_below(&nm->r->nem_rng, (unsigned)n)];
}

/* Cut or blackhole every link between the nodes in @side (bit per index) and the others. */
static void partition(struct fc_cluster *c, unsigned side, enum fp_mode mode)
{
	for (int a = 0; a < c->n; a++)
		for (int b = 0; b < c->n; b++)
			if (a != b && ((side >> a) & 1) != ((side >> b) & 1))
				fp_proxy_set(c->proxy, c->nodes[a].id, c->nodes[b].id, mode, 0);
}

static bool is_voter(const struct rkc_node_status *st, unsigned id, bool *learner)
{
	for (unsigned i = 0; i < st->n_members; i++)
		if (st->members[i].id == id) {
			*learner = st->members[i].learner;
			return !*learner;
		}
	*learner = false;
	return false;
}

/* Bring node @i back as a voter: add as a learner, let it catch up, promote. Each step is
 * retried (libraftkv retries BUSY itself) until @timeout_ms. Returns 0 when the leader lists it
 * as a voter. */
int fr_restore_member(struct fr_nemesis *nm, int i, unsigned timeout_ms)
{
	struct fc_cluster *c = &nm->r->cl;
	uint64_t end = rk_test_now_ms() + timeout_ms, target = 0;
	unsigned id = c->nodes[i].id;

	for (bool first = true; rk_test_now_ms() < end; first = false) {
		struct rkc_node_status ls, fs;
		bool learner;
		int l;

		if (!first)
			usleep(100000);
		l = fr_wait_leader(nm, 2000);
		if (l < 0 || rkc_status(nm->admin, c->nodes[l].endpoint, &ls) != RKC_OK)
			continue;
		if (is_voter(&ls, id, &learner))
			return 0;
		if (!learner) {
			int rc = rkc_member_add(nm->admin, id);

			fc_logf(c, false, "member add n%u: %s", id, rkc_strstatus(rc));
			continue;
		}
		/* a learner: promote once it holds what the leader had committed when we first
		 * saw it a learner (the commit index moves on under load: chasing it could take
		 * forever) */
		if (target == 0)
			target = ls.commit_index;
		if (rkc_status(nm->admin, c->nodes[i].endpoint, &fs) != RKC_OK ||
		    fs.applied_index < target)
			continue;
		fc_logf(c, false, "member promote n%u: %s", id,
			rkc_strstatus(rkc_member_promote(nm->admin, id)));
	}
	return -1;
}

/* After an EIO/ENOSPC fault that fired, the node must stop (status 1). It stops gracefully,
 * which takes a moment: give it that, so that its exit is judged while the fault is known. */
static void await_storage_stop(struct fr_nemesis *nm, uint64_t hits)
{
	struct fc_cluster *c = &nm->r->cl;
	struct fc_node *nd = &c->nodes[nm->disk_node];
	uint64_t end = rk_test_now_ms() + (c->slow ? 20000 : 5000);

	while (nd->pid != 0 && rk_test_now_ms() < end) {
		fc_reap_exited(c);
		if (nd->pid != 0)
			usleep(50000);
	}
	if (nd->pid != 0)
		/* legitimate when only snapshot writes failed: a failed snapshot is abandoned
		 * and retried later, the log is untouched */
		fc_logf(c, true, "n%u kept running after %llu injected storage errors", nd->id,
			(unsigned long long)hits);
}

/* Undo whatever fault is in force: network, pauses, disks, dead nodes, then membership. */
void fr_heal(struct fr_nemesis *nm)
{
	struct fc_cluster *c = &nm->r->cl;

	fp_proxy_heal(c->proxy);
	for (int i = 0; i < c->n; i++)
		if (c->nodes[i].paused)
			fc_resume(c, i);
	if (nm->disk_node >= 0) {
		struct fc_node *nd = &c->nodes[nm->disk_node];
		uint64_t hits = ffs_ctl_hits(nd->ffs) - nm->disk_hits;

		ffs_ctl_set(nd->ffs, 0, 0);
		if (hits == 0) {
			fc_logf(c, false, "the disk fault on n%u never fired", nd->id);
			nm->r->disk_unfired++;
		} else if (nd->disk_fault) {
			await_storage_stop(nm, hits);
		}
		nm->disk_node = -1;
	}
	fc_reap_exited(c);
	for (int i = 0; i < c->n; i++)
		if (c->nodes[i].pid == 0) {
			fc_logf(c, false, "restart n%u", c->nodes[i].id);
			if (fc_start_node(c, i) != 0) {
				fc_logf(c, true, "PROBLEM: cannot restart n%u", c->nodes[i].id);
				nm->r->problems++;
			}
		}
	if (nm->removed >= 0) {
		if (fr_restore_member(nm, nm->removed, nm->r->cl.slow ? 60000 : 30000) != 0) {
			fc_logf(c, true, "PROBLEM: n%u could not be made a voter again",
				c->nodes[nm->removed].id);
			nm->r->problems++;
		}
		nm->removed = -1;
	}
}

/* Apply @f and hold it for @hold_ms (flapping and disk faults act during the hold). */
static void apply_fault(struct fr_nemesis *nm, enum fault f, unsigned hold_ms)
{
	struct fr_run *r = nm->r;
	struct fc_cluster *c = &r->cl;
	int l = -1, t = -1, rc;
	unsigned side = 0;

	switch (f) {
	case F_KILL_LEADER:
	case F_PAUSE_LEADER:
	case F_ISOLATE_LEADER:
	case F_ONEWAY_FROM_LEADER:
	case F_ONEWAY_TO_LEADER:
	case F_TRANSFER:
	case F_MEMBER:
		l = fr_wait_leader(nm, 3000);
		if (l < 0) {
			fc_logf(c, true, "%s: no leader now, skipped", faults[f].name);
			return;
		}
		break;
	default:
		break;
	}
	/* choose the target first: a fault that has none now is skipped, not counted */
	switch (f) {
	case F_KILL_ONE:
	case F_PAUSE_ONE:
		t = random_running(nm, -1);
		break;
	case F_KILL_LEADER:
	case F_PAUSE_LEADER:
	case F_ISOLATE_LEADER:
		t = l;
		break;
	case F_ISOLATE_ONE:
		t = (int)fr_rnd_below(&r->nem_rng, (unsigned)c->n);
		break;
	case F_TRANSFER:
	case F_MEMBER:
		t = random_running(nm, l);
		break;
	case F_DISK_EIO:
	case F_DISK_ENOSPC:
	case F_DISK_SLOW:
		t = fr_rnd_below(&r->nem_rng, 2) ? find_leader(nm) : -1;
		if (t < 0)
			t = random_running(nm, -1);
		if (t >= 0 && c->nodes[t].ffs == NULL)
			t = -1;
		break;
	default:
		t = 0; /* no single target */
		break;
	}
	if (t < 0) {
		fc_logf(c, true, "%s: no node to apply it to now, skipped", faults[f].name);
		return;
	}
	r->faults[f]++;
	switch (f) {
	case F_KILL_ONE:
	case F_KILL_LEADER:
		fc_logf(c, true, "%s: n%u", faults[f].name, c->nodes[t].id);
		fc_kill(c, t);
		break;
	case F_KILL_MAJORITY: {
		int k = c->n / 2 + 1;

		fc_logf(c, true, "%s: %d nodes", faults[f].name, k);
		for (int i = 0; i < k; i++) {
			t = random_running(nm, -1);
			if (t >= 0) {
				fc_logf(c, false, "kill -9 n%u", c->nodes[t].id);
				fc_kill(c, t);
			}
		}
		break;
	}
	case F_PAUSE_ONE:
	case F_PAUSE_LEADER:
		fc_logf(c, true, "%s: n%u", faults[f].name, c->nodes[t].id);
		fc_pause(c, t);
		break;
	case F_ISOLATE_ONE:
	case F_ISOLATE_LEADER:
		fc_logf(c, true, "%s: n%u", faults[f].name, c->nodes[t].id);
		partition(c, 1u << t, fr_rnd_below(&r->nem_rng, 2) ? FP_CUT : FP_BLACKHOLE);
		break;
	case F_SPLIT:
		for (int k = 0; k < c->n / 2;) {
			unsigned b = 1u << fr_rnd_below(&r->nem_rng, (unsigned)c->n);

			if (!(side & b)) {
				side |= b;
				k++;
			}
		}
		fc_logf(c, true, "%s: minority mask 0x%x", faults[f].name, side);
		partition(c, side, fr_rnd_below(&r->nem_rng, 2) ? FP_CUT : FP_BLACKHOLE);
		break;
	case F_ONEWAY_FROM_LEADER:
	case F_ONEWAY_TO_LEADER:
		fc_logf(c, true, "%s: n%u", faults[f].name, c->nodes[l].id);
		for (int i = 0; i < c->n; i++) {
			if (i == l)
				continue;
			if (f == F_ONEWAY_FROM_LEADER)
				fp_proxy_set(c->proxy, c->nodes[l].id, c->nodes[i].id, FP_BLACKHOLE, 0);
			else
				fp_proxy_set(c->proxy, c->nodes[i].id, c->nodes[l].id, FP_BLACKHOLE, 0);
		}
		break;
	case F_FLAP: {
		uint64_t end = rk_test_now_ms() + hold_ms;

		fc_logf(c, true, "%s", faults[f].name);
		while (rk_test_now_ms() < end && !atomic_load(&r->stop_nemesis)) {
			fp_proxy_heal(c->proxy);
			partition(c, 1u << fr_rnd_below(&r->nem_rng, (unsigned)c->n),
				  fr_rnd_below(&r->nem_rng, 2) ? FP_CUT : FP_BLACKHOLE);
			fr_nap(100 + fr_rnd_below(&r->nem_rng, 300), &r->stop_nemesis);
		}
		return;
	}
	case F_SLOW_NET: {
		unsigned d = 10 + fr_rnd_below(&r->nem_rng, 60);

		fc_logf(c, true, "%s: %u ms each way", faults[f].name, d);
		for (int a = 0; a < c->n; a++)
			for (int b = 0; b < c->n; b++)
				if (a != b)
					fp_proxy_set(c->proxy, c->nodes[a].id, c->nodes[b].id, FP_PASS, d);
		break;
	}
	case F_TRANSFER:
		rc = rkc_transfer_leader(nm->admin, c->nodes[t].id);
		fc_logf(c, true, "%s: n%u -> n%u: %s", faults[f].name, c->nodes[l].id,
			c->nodes[t].id, rkc_strstatus(rc));
		break;
	case F_MEMBER:
		nm->removed = t;
		rc = rkc_member_remove(nm->admin, c->nodes[t].id);
		fc_logf(c, true, "%s: remove n%u: %s", faults[f].name, c->nodes[t].id,
			rkc_strstatus(rc));
		break;
	case F_DISK_EIO:
	case F_DISK_ENOSPC:
	case F_DISK_SLOW:
		fc_logf(c, true, "%s: n%u", faults[f].name, c->nodes[t].id);
		nm->disk_node = t;
		nm->disk_hits = ffs_ctl_hits(c->nodes[t].ffs);
		c->nodes[t].disk_fault = f != F_DISK_SLOW;
		ffs_ctl_set(c->nodes[t].ffs,
			    f == F_DISK_EIO	    ? FFS_FSYNC_EIO
			    : f == F_DISK_ENOSPC ? FFS_WRITE_ENOSPC
						 : FFS_FSYNC_SLOW,
			    f == F_DISK_SLOW ? 200 + fr_rnd_below(&r->nem_rng, 300) : 0);
		break;
	default:
		break;
	}
	/* hold, watching for nodes that exit on their own */
	for (uint64_t end = rk_test_now_ms() + hold_ms;
	     rk_test_now_ms() < end && !atomic_load(&r->stop_nemesis);) {
		fr_nap(100, &r->stop_nemesis);
		fc_reap_exited(c);
	}
}

void *fr_nemesis_main(void *arg)
{
	struct fr_nemesis *nm = arg;
	struct fr_run *r = nm->r;
	enum fault order[NFAULT];
	int n = 0, next = 0;
	unsigned scale = r->cl.slow ? 2 : 1, hold;

	for (int f = 0; f < NFAULT; f++)
		if (r->o.groups & (1u << faults[f].group))
			order[n++] = (enum fault)f;
	/* A shuffled round robin: every kind of fault comes up once per round. */
	for (int i = n - 1; i > 0; i--) {
		int j = (int)fr_rnd_below(&r->nem_rng, (unsigned)i + 1);
		enum fault t = order[i];

		order[i] = order[j];
		order[j] = t;
	}
	while (!atomic_load(&r->stop_nemesis)) {
		fr_nap(r->o.interval_ms / 2 + fr_rnd_below(&r->nem_rng, r->o.interval_ms + 1),
		    &r->stop_nemesis);
		fc_reap_exited(&r->cl);
		if (atomic_load(&r->stop_nemesis) || n == 0)
			break;
		hold = scale * (r->o.hold_ms / 2 + fr_rnd_below(&r->nem_rng, r->o.hold_ms + 1));
		apply_fault(nm, order[next], hold);
		next = (next + 1) % n;
		fr_heal(nm);
		fc_logf(&r->cl, false, "healed");
	}
	fr_heal(nm);
	/* A node dies with the thread that forked it (PR_SET_PDEATHSIG follows the thread, not the
	 * process), and this thread restarted some: it hands the cluster over and stays until the
	 * main thread is done with it. */
	atomic_store(&r->nemesis_idle, true);
	while (!atomic_load(&r->release_nemesis))
		usleep(20000);
	return NULL;
}

int fr_nfaults(void)
{
	return NFAULT;
}

const char *fr_fault_name(int f)
{
	return faults[f].name;
}

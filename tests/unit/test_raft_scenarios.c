/* test_raft_scenarios.c -- the Raft core on a simulated cluster: scenarios after MIT 6.824's
 * Raft tests and etcd's, each a few lines. The simulator's checker runs under every step;
 * teardown asserts it found nothing. */
#include <CUnit/CUnit.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/err.h"
#include "sim/sim.h"

static struct sim *S;

void raft_scen_setup(void);
void raft_scen_teardown(void);

void raft_scen_setup(void)
{
	S = NULL;
}

void raft_scen_teardown(void)
{
	const char *dump = getenv("RK_SIM_DUMP");

	if (S != NULL && dump != NULL) {
		FILE *f = fopen(dump, "w");

		if (f != NULL) {
			fputs(sim_transcript(S), f);
			fclose(f);
		}
	}
	if (S != NULL && sim_violation(S) != NULL) {
		fprintf(stderr, "\nsafety violation: %s\n", sim_violation(S));
		CU_FAIL("safety violation");
	}
	sim_free(S);
	S = NULL;
}

static struct sim *start(int n, uint64_t seed)
{
	struct sim_opts o = {0};

	o.n_nodes = n;
	o.seed = seed;
	S = sim_new(&o);
	return S;
}

static struct sim *start_opts(struct sim_opts *o)
{
	S = sim_new(o);
	return S;
}

static int other_than(int a, int b)
{
	for (int k = 1; k <= sim_n(S); k++)
		if (k != a && k != b)
			return k;
	return 0;
}

static rk_term term_of(int node)
{
	return sim_status(S, node)->term;
}

#define SAFE() CU_ASSERT_PTR_NULL(sim_violation(S))

/* ---- election ---- */

static void test_initial_election(void)
{
	int l;
	rk_term t;

	start(3, 1);
	l = sim_wait_leader(S, 50);
	CU_ASSERT_NOT_EQUAL_FATAL(l, 0);
	t = term_of(l);
	sim_run(S, 100); /* no spurious elections while all is well */
	CU_ASSERT_EQUAL(sim_leader(S), l);
	CU_ASSERT_EQUAL(term_of(l), t);
	for (int k = 1; k <= 3; k++)
		CU_ASSERT_EQUAL(term_of(k), t);
	SAFE();
}

static void test_reelection(void)
{
	int l1, l2;

	start(3, 2);
	l1 = sim_wait_leader(S, 50);
	CU_ASSERT_NOT_EQUAL_FATAL(l1, 0);
	sim_isolate(S, l1);
	sim_run(S, 40);
	l2 = 0;
	for (int k = 1; k <= 3; k++)
		if (k != l1 && sim_status(S, k)->state == RK_LEADER)
			l2 = k;
	CU_ASSERT_NOT_EQUAL_FATAL(l2, 0);
	/* the old leader found no quorum for an election timeout: it stepped down */
	CU_ASSERT_NOT_EQUAL(sim_status(S, l1)->state, RK_LEADER);
	sim_heal(S);
	sim_run(S, 30);
	CU_ASSERT_EQUAL(sim_leader(S), l2);
	/* no quorum: no leader */
	sim_isolate(S, l2);
	sim_isolate(S, other_than(l2, 0));
	sim_run(S, 60);
	for (int k = 1; k <= 3; k++)
		CU_ASSERT_NOT_EQUAL(sim_status(S, k)->state, RK_LEADER);
	sim_heal(S);
	CU_ASSERT_NOT_EQUAL(sim_wait_leader(S, 60), 0);
	SAFE();
}

static void test_no_leader_without_quorum(void)
{
	int l;

	start(5, 3);
	l = sim_wait_leader(S, 50);
	CU_ASSERT_NOT_EQUAL_FATAL(l, 0);
	/* l and one other in a minority of 2 */
	unsigned mask = (1u << l) | (1u << other_than(l, 0));
	sim_partition(S, mask);
	sim_run(S, 100);
	for (int k = 1; k <= 5; k++)
		if (mask & (1u << k))
			CU_ASSERT_NOT_EQUAL(sim_status(S, k)->state, RK_LEADER);
	CU_ASSERT_NOT_EQUAL(sim_leader(S), 0); /* the majority side elected one */
	SAFE();
}

static void test_many_elections(void)
{
	start(7, 4);
	CU_ASSERT_NOT_EQUAL_FATAL(sim_wait_leader(S, 50), 0);
	for (int it = 0; it < 10; it++) {
		unsigned mask = 0;

		while (__builtin_popcount(mask) < 3)
			mask |= 1u << (1 + sim_rand(S) % 7);
		sim_partition(S, mask); /* 3 vs 4: the 4 must (re)elect */
		sim_run(S, 40);
		int l = sim_leader(S);
		CU_ASSERT(l != 0 && !(mask & (1u << l)));
		sim_heal(S);
		sim_run(S, 5);
	}
	CU_ASSERT_NOT_EQUAL(sim_one(S, 42, 100), 0);
	SAFE();
}

static void test_prevote_keeps_rejoiner_quiet(void)
{
	int l, f;
	rk_term t;

	start(3, 5);
	l = sim_wait_leader(S, 50);
	CU_ASSERT_NOT_EQUAL_FATAL(l, 0);
	t = term_of(l);
	f = other_than(l, 0);
	sim_isolate(S, f);
	sim_run(S, 200); /* f times out over and over, but only pre-votes */
	CU_ASSERT_EQUAL(term_of(f), t);
	sim_heal(S);
	sim_run(S, 50);
	CU_ASSERT_EQUAL(sim_leader(S), l); /* not disrupted */
	CU_ASSERT_EQUAL(term_of(l), t);
	CU_ASSERT_NOT_EQUAL(sim_one(S, 7, 50), 0);
	SAFE();
}

static void test_check_quorum_step_down(void)
{
	int l;

	start(5, 6);
	l = sim_wait_leader(S, 50);
	CU_ASSERT_NOT_EQUAL_FATAL(l, 0);
	/* one-way: the leader still reaches followers but hears nothing back */
	for (int k = 1; k <= 5; k++)
		sim_cut(S, k, l, true);
	sim_run(S, 25); /* > 2 election timeouts of ticks */
	CU_ASSERT_NOT_EQUAL(sim_status(S, l)->state, RK_LEADER);
	SAFE();
}

static void test_lease_ignores_disruptive_vote(void)
{
	struct sim_opts o = {0};
	int l, f;
	rk_term t;

	o.n_nodes = 3;
	o.seed = 7;
	o.no_pre_vote = true; /* the lease alone must protect the leader */
	start_opts(&o);
	l = sim_wait_leader(S, 50);
	CU_ASSERT_NOT_EQUAL_FATAL(l, 0);
	t = term_of(l);
	f = other_than(l, 0);
	sim_isolate(S, f);
	sim_run(S, 100);
	CU_ASSERT(term_of(f) > t); /* without pre-vote its term grows */
	sim_heal(S);
	sim_run(S, 30);
	/* the others ignore its votes while they hear from the leader; the leader learns
	 * the higher term from its append replies and a new election follows */
	CU_ASSERT_NOT_EQUAL(sim_leader(S), 0);
	CU_ASSERT_NOT_EQUAL(sim_one(S, 9, 80), 0);
	SAFE();
}

CU_TestInfo raft_election_tests[] = {
	{"initial_election", test_initial_election},
	{"reelection", test_reelection},
	{"no_leader_without_quorum", test_no_leader_without_quorum},
	{"many_elections", test_many_elections},
	{"prevote_keeps_rejoiner_quiet", test_prevote_keeps_rejoiner_quiet},
	{"check_quorum_step_down", test_check_quorum_step_down},
	{"lease_ignores_disruptive_vote", test_lease_ignores_disruptive_vote},
	CU_TEST_INFO_NULL,
};

/* ---- replication ---- */

static void test_basic_agreement(void)
{
	rk_index prev = 0;

	start(3, 11);
	for (uint64_t v = 100; v < 103; v++) {
		rk_index i = sim_one(S, v, 100);

		CU_ASSERT(i > prev);
		prev = i;
	}
	for (int k = 1; k <= 3; k++)
		CU_ASSERT_EQUAL(sim_applied_value(S, k, prev), 102);
	SAFE();
}

static void test_agree_follower_disconnected(void)
{
	int l, f;

	start(3, 12);
	CU_ASSERT_NOT_EQUAL(sim_one(S, 101, 100), 0);
	l = sim_leader(S);
	f = other_than(l, 0);
	sim_isolate(S, f);
	CU_ASSERT_NOT_EQUAL(sim_one(S, 102, 100), 0);
	CU_ASSERT_NOT_EQUAL(sim_one(S, 103, 100), 0);
	CU_ASSERT_EQUAL(sim_find_value(S, f, 103), 0);
	sim_heal(S);
	CU_ASSERT_NOT_EQUAL(sim_one(S, 104, 100), 0);
	CU_ASSERT_NOT_EQUAL(sim_find_value(S, f, 103), 0);
	SAFE();
}

static void test_no_commit_without_quorum(void)
{
	int l;
	rk_index i;

	start(5, 13);
	CU_ASSERT_NOT_EQUAL(sim_one(S, 10, 100), 0);
	l = sim_leader(S);
	sim_partition(S, (1u << l) | (1u << other_than(l, 0)));
	i = sim_propose(S, l, 11);
	CU_ASSERT_NOT_EQUAL_FATAL(i, 0);
	sim_run(S, 30);
	for (int k = 1; k <= 5; k++)
		CU_ASSERT_EQUAL(sim_find_value(S, k, 11), 0);
	sim_heal(S);
	CU_ASSERT_NOT_EQUAL(sim_one(S, 12, 100), 0);
	SAFE();
}

static void test_concurrent_proposals(void)
{
	int l;
	rk_index first = 0;
	struct rk_buf b[100];

	start(3, 14);
	l = sim_wait_leader(S, 50);
	CU_ASSERT_NOT_EQUAL_FATAL(l, 0);
	for (int k = 0; k < 100; k++) {
		uint64_t v = 5000 + (uint64_t)k;

		b[k].len = 8;
		b[k].base = malloc(8);
		memcpy(b[k].base, &v, 8);
	}
	/* one batch of 100 plus 50 single proposals in the same instant */
	CU_ASSERT_EQUAL_FATAL(rk_raft_propose(sim_raft(S, l), b, 100, &first), RK_OK);
	for (uint64_t v = 6000; v < 6050; v++)
		CU_ASSERT_NOT_EQUAL(sim_propose(S, l, v), 0);
	CU_ASSERT_TRUE(sim_wait_applied(S, first + 149, 50));
	for (int k = 1; k <= 3; k++) {
		CU_ASSERT_EQUAL(sim_applied_value(S, k, first), 5000);
		CU_ASSERT_EQUAL(sim_applied_value(S, k, first + 149), 6049);
	}
	SAFE();
}

static void test_rejoin_of_partitioned_leader(void)
{
	int l1, l2;

	start(3, 15);
	CU_ASSERT_NOT_EQUAL(sim_one(S, 101, 100), 0);
	l1 = sim_leader(S);
	sim_isolate(S, l1);
	/* the old leader takes proposals it can never commit */
	sim_propose(S, l1, 102);
	sim_propose(S, l1, 103);
	sim_propose(S, l1, 104);
	CU_ASSERT_NOT_EQUAL(sim_one(S, 103, 100), 0); /* the new leader commits */
	l2 = sim_leader(S);
	CU_ASSERT_NOT_EQUAL(l2, l1);
	sim_heal(S);
	sim_isolate(S, l2);
	CU_ASSERT_NOT_EQUAL(sim_one(S, 104, 100), 0);
	sim_heal(S);
	CU_ASSERT_NOT_EQUAL(sim_one(S, 105, 100), 0);
	CU_ASSERT_EQUAL(sim_find_value(S, l1, 102), 0); /* its stray entries were dropped */
	SAFE();
}

static void test_fast_backup(void)
{
	int l1, f1, l2, f2;
	rk_index idx;

	start(5, 16);
	CU_ASSERT_NOT_EQUAL(sim_one(S, 1, 100), 0);
	/* leader and one follower in a minority: 50 entries that never commit */
	l1 = sim_leader(S);
	f1 = other_than(l1, 0);
	sim_partition(S, (1u << l1) | (1u << f1));
	for (uint64_t v = 0; v < 50; v++)
		sim_propose(S, l1, 100 + v);
	sim_run(S, 5);
	/* the majority elects and commits 50 others */
	sim_run(S, 30);
	l2 = sim_leader(S);
	CU_ASSERT_FATAL(l2 != 0 && l2 != l1 && l2 != f1);
	for (uint64_t v = 0; v < 50; v++)
		sim_propose(S, l2, 200 + v);
	CU_ASSERT_TRUE(sim_wait_applied_on(S, l2, sim_status(S, l2)->last_index, 50));
	/* now only l2 and one more: 50 more that never commit */
	f2 = 0;
	for (int k = 1; k <= 5; k++)
		if (k != l1 && k != f1 && k != l2)
			f2 = k;
	sim_partition(S, (1u << l2) | (1u << f2));
	for (uint64_t v = 0; v < 50; v++)
		sim_propose(S, l2, 300 + v);
	sim_run(S, 5);
	/* bring the first minority back with the third: they must win and overwrite */
	sim_heal(S);
	for (int k = 1; k <= 5; k++) {
		sim_cut(S, l2, k, k != l2);
		sim_cut(S, k, l2, k != l2);
		sim_cut(S, f2, k, k != f2);
		sim_cut(S, k, f2, k != f2);
	}
	sim_reset_stats(S);
	idx = sim_one(S, 400, 200);
	CU_ASSERT_NOT_EQUAL(idx, 0);
	sim_heal(S);
	CU_ASSERT_NOT_EQUAL(sim_one(S, 401, 200), 0);
	/* one round trip per divergent term, not one per entry */
	printf("(%" PRIu64 " rejects) ", sim_rejects(S));
	CU_ASSERT(sim_rejects(S) < 20);
	for (int k = 1; k <= 5; k++)
		CU_ASSERT_EQUAL(sim_find_value(S, k, 300), 0);
	SAFE();
}

static void test_unreliable_agreement(void)
{
	start(5, 17);
	sim_set_net(S, 10, 10, 1, 8);
	sim_set_long_delay(S, 5, 100);
	for (uint64_t v = 0; v < 30; v++) {
		int l = sim_leader(S);

		if (l != 0)
			sim_propose(S, l, 700 + v);
		sim_run(S, 2);
	}
	sim_set_net(S, 0, 0, 1, 3);
	sim_set_long_delay(S, 0, 0);
	CU_ASSERT_NOT_EQUAL(sim_one(S, 800, 200), 0);
	SAFE();
}

/* 6.824 Figure 8: leaders crash shortly after proposing, often before committing. */
static void figure8(bool unreliable, uint64_t seed)
{
	start(5, seed);
	if (unreliable) {
		sim_set_net(S, 10, 5, 1, 10);
		sim_set_long_delay(S, 10, 200);
	}
	CU_ASSERT_NOT_EQUAL(sim_one(S, 1, 200), 0);
	for (int it = 0; it < 300; it++) {
		int l = sim_leader(S);
		int up = 0;

		if (l != 0)
			sim_propose(S, l, 10000 + (uint64_t)it);
		sim_run(S, sim_rand(S) % 10 < 9 ? 1 + (unsigned)(sim_rand(S) % 2) : 1 + (unsigned)(sim_rand(S) % 15));
		if (l != 0 && sim_rand(S) % 4 != 0)
			sim_crash(S, l);
		for (int k = 1; k <= 5; k++)
			up += sim_up(S, k);
		if (up < 3) {
			int k = 1 + (int)(sim_rand(S) % 5);

			sim_restart(S, k);
		}
	}
	sim_set_net(S, 0, 0, 1, 3);
	sim_set_long_delay(S, 0, 0);
	for (int k = 1; k <= 5; k++)
		sim_restart(S, k);
	CU_ASSERT_NOT_EQUAL(sim_one(S, 99999, 300), 0);
	SAFE();
}

static void test_figure8(void)
{
	figure8(false, 18);
}

static void test_figure8_unreliable(void)
{
	figure8(true, 19);
}

/* Figure 3.7 in slow motion: a leader re-elected with an entry of its previous term sees it
 * on a quorum before its new no-op, and must not commit it by counting. */
static void test_old_term_entry_waits_for_noop(void)
{
	struct sim_opts o = {0};
	int l, f, g;
	rk_index x;

	o.n_nodes = 3;
	o.seed = 24;
	o.trace = true;
	o.payload_pad = 100;  /* an entry is 108 bytes ... */
	o.max_msg_bytes = 50; /* ... so each append carries one */
	start_opts(&o);
	CU_ASSERT_NOT_EQUAL(sim_one(S, 1, 100), 0);
	l = sim_leader(S);
	f = other_than(l, 0);
	g = other_than(l, f);
	/* x lands on l's disk only */
	sim_isolate(S, l);
	x = sim_propose(S, l, 2);
	CU_ASSERT_NOT_EQUAL_FATAL(x, 0);
	sim_run(S, 1);
	sim_crash(S, l);
	sim_heal(S);
	sim_cut(S, f, g, true); /* only l, with the longest log, can win now */
	sim_cut(S, g, f, true);
	sim_restart(S, l);
	sim_trace_clear(S);
	CU_ASSERT_EQUAL(sim_wait_leader(S, 100), l);
	CU_ASSERT_TRUE(sim_wait_applied(S, x + 1, 50));
	CU_ASSERT_TRUE(sim_trace_has(S, "on a quorum but of an old term: wait"));
	CU_ASSERT_EQUAL(sim_applied_value(S, f, x), 2);
	SAFE();
}

/* Appends lost while the window is not full, then silence: heartbeats must restart it. */
static void test_idle_catch_up_after_losses(void)
{
	int l, f;
	rk_index last = 0;

	start(3, 25);
	CU_ASSERT_NOT_EQUAL(sim_one(S, 1, 100), 0);
	l = sim_leader(S);
	f = other_than(l, 0);
	sim_run(S, 3); /* f is replicating, pipelined */
	sim_cut(S, l, f, true);
	for (uint64_t v = 0; v < 3; v++) {
		last = sim_propose(S, l, 10 + v);
		sim_run(S, 1);
	}
	sim_cut(S, l, f, false);
	CU_ASSERT_TRUE(sim_wait_applied_on(S, f, last, 20)); /* no new proposal needed */
	SAFE();
}

CU_TestInfo raft_replication_tests[] = {
	{"idle_catch_up_after_losses", test_idle_catch_up_after_losses},
	{"old_term_entry_waits_for_noop", test_old_term_entry_waits_for_noop},
	{"basic_agreement", test_basic_agreement},
	{"agree_follower_disconnected", test_agree_follower_disconnected},
	{"no_commit_without_quorum", test_no_commit_without_quorum},
	{"concurrent_proposals", test_concurrent_proposals},
	{"rejoin_of_partitioned_leader", test_rejoin_of_partitioned_leader},
	{"fast_backup", test_fast_backup},
	{"unreliable_agreement", test_unreliable_agreement},
	{"figure8", test_figure8},
	{"figure8_unreliable", test_figure8_unreliable},
	CU_TEST_INFO_NULL,
};

/* ---- persistence ---- */

static void test_crash_all_and_restart(void)
{
	rk_index i1, i2;

	start(3, 21);
	i1 = sim_one(S, 11, 100);
	i2 = sim_one(S, 12, 100);
	CU_ASSERT_FATAL(i1 != 0 && i2 != 0);
	for (int k = 1; k <= 3; k++)
		sim_crash(S, k);
	for (int k = 1; k <= 3; k++)
		sim_restart(S, k);
	CU_ASSERT_NOT_EQUAL(sim_one(S, 13, 100), 0);
	for (int k = 1; k <= 3; k++) {
		CU_ASSERT_EQUAL(sim_applied_value(S, k, i1), 11);
		CU_ASSERT_EQUAL(sim_applied_value(S, k, i2), 12);
	}
	SAFE();
}

static void test_crash_leader_and_follower(void)
{
	int l, f;

	start(3, 22);
	CU_ASSERT_NOT_EQUAL(sim_one(S, 1, 100), 0);
	l = sim_leader(S);
	sim_crash(S, l);
	CU_ASSERT_NOT_EQUAL(sim_one(S, 2, 100), 0);
	f = sim_leader(S);
	sim_crash(S, other_than(l, f));
	sim_restart(S, l);
	CU_ASSERT_NOT_EQUAL(sim_one(S, 3, 100), 0);
	sim_restart(S, other_than(l, f));
	CU_ASSERT_NOT_EQUAL(sim_one(S, 4, 100), 0);
	SAFE();
}

static void test_slow_fsync_durability(void)
{
	int l;
	rk_index i;

	start(3, 23);
	sim_set_fsync(S, 20, 40); /* writes take 2-4 ticks: replies wait for them */
	l = sim_wait_leader(S, 80);
	CU_ASSERT_NOT_EQUAL_FATAL(l, 0);
	i = sim_propose(S, l, 55);
	CU_ASSERT_NOT_EQUAL_FATAL(i, 0);
	sim_run(S, 1);
	/* nothing is committed before two nodes have it on disk */
	CU_ASSERT_EQUAL(sim_find_value(S, l, 55), 0);
	CU_ASSERT_TRUE(sim_wait_applied(S, i, 60));
	SAFE();
}

CU_TestInfo raft_persistence_tests[] = {
	{"crash_all_and_restart", test_crash_all_and_restart},
	{"crash_leader_and_follower", test_crash_leader_and_follower},
	{"slow_fsync_durability", test_slow_fsync_durability},
	CU_TEST_INFO_NULL,
};

/* ---- snapshots ---- */

static void test_snapshot_to_lagging_follower(void)
{
	struct sim_opts o = {0};
	int l, f;
	rk_index last = 0;

	o.n_nodes = 3;
	o.seed = 31;
	o.snap_chunk_bytes = 200; /* the snapshot is ~16 bytes per entry: many chunks */
	start_opts(&o);
	CU_ASSERT_NOT_EQUAL(sim_one(S, 1, 100), 0);
	l = sim_leader(S);
	f = other_than(l, 0);
	sim_isolate(S, f);
	for (uint64_t v = 0; v < 60; v++)
		last = sim_one(S, 100 + v, 100);
	CU_ASSERT_NOT_EQUAL_FATAL(last, 0);
	l = sim_leader(S);
	CU_ASSERT_EQUAL(sim_snapshot(S, l, 0), RK_OK);
	CU_ASSERT_EQUAL(sim_status(S, l)->first_index, sim_status(S, l)->snap_index + 1);
	sim_heal(S);
	CU_ASSERT_TRUE(sim_wait_applied_on(S, f, last, 100));
	CU_ASSERT(sim_snapshot_chunks_recv(S, f) > 3);
	CU_ASSERT_EQUAL(sim_status(S, f)->snap_index, sim_status(S, l)->snap_index);
	CU_ASSERT_EQUAL(sim_applied_value(S, f, last), 159);
	CU_ASSERT_NOT_EQUAL(sim_one(S, 1000, 100), 0); /* and it follows the log after it */
	SAFE();
}

static void test_snapshot_and_crash(void)
{
	struct sim_opts o = {0};
	int l, f;
	rk_index last = 0;

	o.n_nodes = 3;
	o.seed = 32;
	o.snap_chunk_bytes = 128;
	start_opts(&o);
	sim_set_net(S, 0, 0, 3, 6);
	CU_ASSERT_NOT_EQUAL(sim_one(S, 1, 100), 0);
	l = sim_leader(S);
	f = other_than(l, 0);
	sim_isolate(S, f);
	for (uint64_t v = 0; v < 40; v++)
		last = sim_one(S, 100 + v, 100);
	for (int k = 1; k <= 3; k++)
		if (k != f)
			CU_ASSERT_EQUAL(sim_snapshot(S, k, 2), RK_OK);
	sim_heal(S);
	sim_run(S, 2); /* part of the chunks arrive */
	sim_crash(S, f);
	sim_run(S, 10);
	sim_restart(S, f);
	CU_ASSERT_TRUE(sim_wait_applied_on(S, f, last, 150));
	/* crash everyone: state comes back from snapshot + log */
	for (int k = 1; k <= 3; k++)
		sim_crash(S, k);
	for (int k = 1; k <= 3; k++)
		sim_restart(S, k);
	for (int k = 1; k <= 3; k++)
		CU_ASSERT(sim_applied(S, k) >= sim_status(S, k)->snap_index);
	CU_ASSERT_NOT_EQUAL(sim_one(S, 5000, 150), 0);
	for (int k = 1; k <= 3; k++)
		CU_ASSERT_EQUAL(sim_applied_value(S, k, last), 139);
	SAFE();
}

CU_TestInfo raft_snapshot_tests[] = {
	{"snapshot_to_lagging_follower", test_snapshot_to_lagging_follower},
	{"snapshot_and_crash", test_snapshot_and_crash},
	CU_TEST_INFO_NULL,
};

/* ---- ReadIndex ---- */

static void test_read_index(void)
{
	int l, st;
	rk_index idx, i;

	start(3, 41);
	i = sim_one(S, 1, 100);
	l = sim_leader(S);
	CU_ASSERT_EQUAL(sim_read_index(S, l, 1), RK_OK);
	CU_ASSERT_EQUAL(sim_read_index(S, l, 2), RK_OK);
	CU_ASSERT_FALSE(sim_read_result(S, l, 1, &st, &idx)); /* needs a heartbeat round */
	sim_run(S, 1);
	CU_ASSERT_TRUE(sim_read_result(S, l, 1, &st, &idx));
	CU_ASSERT_EQUAL(st, RK_READ_OK);
	CU_ASSERT(idx >= i);
	CU_ASSERT_TRUE(sim_read_result(S, l, 2, &st, &idx));
	/* a follower forwards to the leader and gets the index back */
	CU_ASSERT_EQUAL(sim_read_index(S, other_than(l, 0), 3), RK_OK);
	sim_run(S, 2);
	CU_ASSERT_TRUE(sim_read_result(S, other_than(l, 0), 3, &st, &idx));
	CU_ASSERT_EQUAL(st, RK_READ_OK);
	CU_ASSERT(idx >= i);
	SAFE();
}

static void test_read_index_refused_by_deposed_leader(void)
{
	int l1, l2, st;
	rk_index idx, i;

	start(3, 42);
	CU_ASSERT_NOT_EQUAL(sim_one(S, 1, 100), 0);
	l1 = sim_leader(S);
	sim_isolate(S, l1);
	CU_ASSERT_EQUAL(sim_read_index(S, l1, 7), RK_OK);
	/* meanwhile the others elect and commit a write */
	i = sim_one(S, 2, 100);
	l2 = sim_leader(S);
	CU_ASSERT_NOT_EQUAL(l2, l1);
	CU_ASSERT_NOT_EQUAL(i, 0);
	sim_run(S, 30);
	/* the read was never released OK: it failed when the leader stepped down */
	CU_ASSERT_TRUE(sim_read_result(S, l1, 7, &st, &idx));
	CU_ASSERT_EQUAL(st, RK_READ_NOTLEADER);
	SAFE();
}

static void test_read_index_waits_for_term_commit(void)
{
	int l, st;
	rk_index idx;

	start(3, 43);
	sim_set_fsync(S, 30, 30); /* the no-op of the new term takes a while to commit */
	l = sim_wait_leader(S, 100);
	CU_ASSERT_NOT_EQUAL_FATAL(l, 0);
	CU_ASSERT_EQUAL(sim_read_index(S, l, 5), RK_OK);
	sim_run(S, 1);
	CU_ASSERT_FALSE(sim_read_result(S, l, 5, &st, &idx));
	sim_run(S, 10);
	CU_ASSERT_TRUE(sim_read_result(S, l, 5, &st, &idx));
	CU_ASSERT_EQUAL(st, RK_READ_OK);
	CU_ASSERT(idx >= 1);
	SAFE();
}

static void test_single_node(void)
{
	int l, st;
	rk_index idx, i;

	start(1, 44);
	l = sim_wait_leader(S, 50);
	CU_ASSERT_EQUAL_FATAL(l, 1);
	i = sim_one(S, 5, 20);
	CU_ASSERT_NOT_EQUAL(i, 0);
	CU_ASSERT_EQUAL(sim_read_index(S, 1, 9), RK_OK);
	/* sole voter: no round needed, released in the same Ready */
	CU_ASSERT_TRUE(sim_read_result(S, 1, 9, &st, &idx));
	CU_ASSERT_EQUAL(st, RK_READ_OK);
	CU_ASSERT(idx >= i);
	sim_crash(S, 1);
	sim_restart(S, 1);
	CU_ASSERT_NOT_EQUAL(sim_one(S, 6, 50), 0);
	CU_ASSERT_EQUAL(sim_applied_value(S, 1, i), 5); /* committed before the crash */
	SAFE();
}

CU_TestInfo raft_read_tests[] = {
	{"single_node", test_single_node},
	{"read_index", test_read_index},
	{"refused_by_deposed_leader", test_read_index_refused_by_deposed_leader},
	{"waits_for_term_commit", test_read_index_waits_for_term_commit},
	CU_TEST_INFO_NULL,
};

/* ---- leadership transfer ---- */

static void test_transfer(void)
{
	int l, t;

	start(3, 51);
	CU_ASSERT_NOT_EQUAL(sim_one(S, 1, 100), 0);
	l = sim_leader(S);
	t = other_than(l, 0);
	CU_ASSERT_EQUAL(sim_transfer(S, l, l), RK_EINVAL);
	CU_ASSERT_EQUAL(sim_transfer(S, l, 9), RK_EINVAL);
	CU_ASSERT_EQUAL(sim_transfer(S, t, l), RK_ENOTLEADER);
	CU_ASSERT_EQUAL(sim_transfer(S, l, t), RK_OK);
	CU_ASSERT_EQUAL(sim_transfer(S, l, other_than(l, t)), RK_ETRANSFER);
	CU_ASSERT_EQUAL(sim_propose(S, l, 2), 0); /* proposals refused meanwhile */
	CU_ASSERT_EQUAL(sim_conf_change(S, l, RK_CONF_REMOVE, t), RK_ETRANSFER);
	sim_run(S, 5);
	CU_ASSERT_EQUAL(sim_leader(S), t);
	CU_ASSERT_NOT_EQUAL(sim_one(S, 3, 100), 0);
	SAFE();
}

static void test_transfer_catches_up_first(void)
{
	int l, t;

	start(3, 52);
	CU_ASSERT_NOT_EQUAL(sim_one(S, 1, 100), 0);
	l = sim_leader(S);
	t = other_than(l, 0);
	sim_isolate(S, t);
	for (uint64_t v = 0; v < 20; v++)
		CU_ASSERT_NOT_EQUAL(sim_one(S, 10 + v, 100), 0);
	sim_heal(S);
	CU_ASSERT_EQUAL(sim_transfer(S, l, t), RK_OK);
	sim_run(S, 8);
	CU_ASSERT_EQUAL(sim_leader(S), t);
	CU_ASSERT_NOT_EQUAL(sim_find_value(S, t, 29), 0);
	SAFE();
}

static void test_transfer_aborts(void)
{
	int l, t;

	start(3, 53);
	CU_ASSERT_NOT_EQUAL(sim_one(S, 1, 100), 0);
	l = sim_leader(S);
	t = other_than(l, 0);
	sim_isolate(S, t);
	CU_ASSERT_EQUAL(sim_transfer(S, l, t), RK_OK);
	sim_run(S, 12); /* > one election timeout */
	CU_ASSERT_EQUAL(sim_leader(S), l);
	CU_ASSERT_EQUAL(sim_status(S, l)->transferee, 0);
	CU_ASSERT_NOT_EQUAL(sim_propose(S, l, 2), 0); /* accepting proposals again */
	SAFE();
}

CU_TestInfo raft_transfer_tests[] = {
	{"transfer", test_transfer},
	{"catches_up_first", test_transfer_catches_up_first},
	{"aborts", test_transfer_aborts},
	CU_TEST_INFO_NULL,
};

/* ---- membership ---- */

static int wait_conf_change(enum rk_conf_op op, int target)
{
	for (int tries = 0; tries < 100; tries++) {
		int l = sim_leader(S);
		int rv = l != 0 ? sim_conf_change(S, l, op, target) : RK_ENOTLEADER;

		if (rv == RK_OK)
			return RK_OK;
		if (rv != RK_ECONFCHANGE && rv != RK_ENOTLEADER)
			return rv;
		sim_run(S, 1);
	}
	return RK_ETIMEOUT;
}

static void test_add_and_remove_voter(void)
{
	struct sim_opts o = {0};
	int l;

	o.n_nodes = 4;
	o.n_voters = 3;
	o.seed = 61;
	start_opts(&o);
	CU_ASSERT_NOT_EQUAL(sim_one(S, 1, 100), 0);
	CU_ASSERT_EQUAL(sim_applied(S, 4), 0); /* not a member yet */
	CU_ASSERT_EQUAL(wait_conf_change(RK_CONF_ADD_VOTER, 4), RK_OK);
	CU_ASSERT_NOT_EQUAL(sim_one(S, 2, 100), 0);
	CU_ASSERT_NOT_EQUAL(sim_find_value(S, 4, 2), 0);
	l = sim_leader(S);
	CU_ASSERT_EQUAL(rk_conf_voters(rk_raft_conf(sim_raft(S, l))), 4);
	/* remove a follower, then lose another: 3 voters left, 2 up still commit */
	int gone = other_than(l, 4);
	CU_ASSERT_EQUAL(wait_conf_change(RK_CONF_REMOVE, gone), RK_OK);
	CU_ASSERT_NOT_EQUAL(sim_one(S, 3, 100), 0);
	sim_crash(S, gone);
	sim_crash(S, other_than(l, gone) == 4 ? other_than(4, gone) : other_than(l, gone));
	CU_ASSERT_NOT_EQUAL(sim_one(S, 4, 200), 0);
	SAFE();
}

static void test_learner_catch_up_and_promotion(void)
{
	struct sim_opts o = {0};
	int l;
	rk_index m, n;

	o.n_nodes = 4;
	o.n_voters = 3;
	o.seed = 62;
	start_opts(&o);
	for (uint64_t v = 0; v < 30; v++)
		CU_ASSERT_NOT_EQUAL(sim_one(S, 10 + v, 100), 0);
	l = sim_leader(S);
	CU_ASSERT_EQUAL(sim_snapshot(S, l, 0), RK_OK); /* the learner needs the snapshot */
	CU_ASSERT_EQUAL(wait_conf_change(RK_CONF_ADD_LEARNER, 4), RK_OK);
	CU_ASSERT_NOT_EQUAL(sim_one(S, 100, 100), 0);
	CU_ASSERT_NOT_EQUAL(sim_find_value(S, 4, 39), 0);
	CU_ASSERT(sim_snapshot_chunks_recv(S, 4) > 0); /* it started from the snapshot */
	sim_run(S, 2); /* the learner's last ack is on its way */
	l = sim_leader(S);
	CU_ASSERT_EQUAL(rk_raft_progress(sim_raft(S, l), 4, &m, &n), RK_OK);
	CU_ASSERT_EQUAL(m, sim_status(S, l)->last_index); /* caught up */
	CU_ASSERT_EQUAL(sim_status(S, 4)->state, RK_FOLLOWER);
	/* a learner never counts: with two voters down nothing commits */
	for (int k = 1; k <= 3; k++)
		if (k != l)
			sim_crash(S, k);
	CU_ASSERT_NOT_EQUAL(sim_propose(S, l, 200), 0);
	sim_run(S, 8); /* less than check-quorum's step-down */
	CU_ASSERT_EQUAL(sim_find_value(S, l, 200), 0);
	CU_ASSERT_EQUAL(sim_find_value(S, 4, 200), 0);
	for (int k = 1; k <= 3; k++)
		sim_restart(S, k);
	CU_ASSERT_NOT_EQUAL(sim_wait_leader(S, 100), 0);
	CU_ASSERT_EQUAL(wait_conf_change(RK_CONF_ADD_VOTER, 4), RK_OK);
	CU_ASSERT_NOT_EQUAL(sim_one(S, 300, 100), 0);
	l = sim_leader(S);
	CU_ASSERT_TRUE(rk_conf_is_voter(rk_raft_conf(sim_raft(S, l)), 4));
	SAFE();
}

static void test_remove_leader(void)
{
	int l, l2;

	start(3, 63);
	CU_ASSERT_NOT_EQUAL(sim_one(S, 1, 100), 0);
	l = sim_leader(S);
	CU_ASSERT_EQUAL(wait_conf_change(RK_CONF_REMOVE, l), RK_OK);
	sim_run(S, 5);
	CU_ASSERT_NOT_EQUAL(sim_status(S, l)->state, RK_LEADER); /* stepped down on commit */
	l2 = sim_wait_leader(S, 100);
	CU_ASSERT(l2 != 0 && l2 != l);
	CU_ASSERT_FALSE(rk_conf_is_voter(rk_raft_conf(sim_raft(S, l2)), (rk_node_id)l));
	CU_ASSERT_NOT_EQUAL(sim_propose(S, l2, 2), 0);
	sim_run(S, 10);
	CU_ASSERT_NOT_EQUAL(sim_find_value(S, l2, 2), 0);
	sim_run(S, 100); /* the removed node does not disrupt */
	CU_ASSERT_EQUAL(sim_leader(S), l2);
	SAFE();
}

static void test_one_change_at_a_time(void)
{
	struct sim_opts o = {0};
	int l;

	o.n_nodes = 5;
	o.n_voters = 3;
	o.seed = 64;
	start_opts(&o);
	CU_ASSERT_NOT_EQUAL(sim_one(S, 1, 100), 0);
	l = sim_leader(S);
	CU_ASSERT_EQUAL(sim_conf_change(S, l, RK_CONF_ADD_VOTER, 4), RK_OK);
	CU_ASSERT_EQUAL(sim_conf_change(S, l, RK_CONF_ADD_VOTER, 5), RK_ECONFCHANGE);
	CU_ASSERT_EQUAL(sim_conf_change(S, l, RK_CONF_REMOVE, 9), RK_ECONFCHANGE);
	sim_run(S, 5);
	CU_ASSERT_EQUAL(sim_conf_change(S, l, RK_CONF_ADD_VOTER, 5), RK_OK);
	CU_ASSERT_NOT_EQUAL(sim_one(S, 2, 100), 0);
	CU_ASSERT_EQUAL(sim_conf_change(S, sim_leader(S), RK_CONF_REMOVE, 9), RK_EINVAL);
	SAFE();
}

CU_TestInfo raft_membership_tests[] = {
	{"add_and_remove_voter", test_add_and_remove_voter},
	{"learner_catch_up_and_promotion", test_learner_catch_up_and_promotion},
	{"remove_leader", test_remove_leader},
	{"one_change_at_a_time", test_one_change_at_a_time},
	CU_TEST_INFO_NULL,
};

/* ---- transcript ---- */

static void test_trace_first_election(void)
{
	struct sim_opts o = {0};

	o.n_nodes = 3;
	o.seed = 71;
	o.trace = true;
	start_opts(&o);
	CU_ASSERT_NOT_EQUAL_FATAL(sim_wait_leader(S, 50), 0);
	/* decisions are narrated: pre-vote, then the real campaign, then the win */
	CU_ASSERT_TRUE(sim_trace_has(S, ". pre-vote for term 1\n"));
	CU_ASSERT_TRUE(sim_trace_has(S, ". pre-vote won: campaign for real\n"));
	CU_ASSERT_TRUE(sim_trace_has(S, ". campaign: term 1, vote self\n"));
	CU_ASSERT_TRUE(sim_trace_has(S, ": grant\n"));
	CU_ASSERT_TRUE(sim_trace_has(S, ". won term 1: leader, append no-op at 1\n"));
	if (!sim_trace_has(S, ". won term 1"))
		fprintf(stderr, "%s", sim_transcript(S));
	SAFE();
}

CU_TestInfo raft_trace_tests[] = {
	{"first_election", test_trace_first_election},
	CU_TEST_INFO_NULL,
};

/* ---- throughput ---- */

static double now_sec(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Proposals through one leader of three, in batches as a server would hand them in, with
 * the simulator's copying and checking included: a lower bound for the core alone. */
static void test_throughput(void)
{
	enum { BATCH = 64, TOTAL = 64000 };
	struct sim_opts o = {0};
	rk_index first = 0, last = 0;
	uint64_t v = 1;
	double t0, dt;
	int l;

	o.n_nodes = 3;
	o.seed = 81;
	o.max_inflight = 32;
	o.max_msg_bytes = 64 * 1024;
	start_opts(&o);
	sim_set_net(S, 0, 0, 1, 1);
	sim_set_fsync(S, 1, 1);
	l = sim_wait_leader(S, 50);
	CU_ASSERT_NOT_EQUAL_FATAL(l, 0);
	t0 = now_sec();
	while (v <= TOTAL) {
		struct rk_buf b[BATCH];

		for (int k = 0; k < BATCH; k++, v++) {
			b[k].len = 64;
			b[k].base = calloc(1, 64);
			memcpy(b[k].base, &v, 8);
		}
		CU_ASSERT_EQUAL_FATAL(rk_raft_propose(sim_raft(S, l), b, BATCH, &first), RK_OK);
		if (last == 0)
			last = first - 1;
		last += BATCH;
		sim_step(S);
	}
	CU_ASSERT_TRUE(sim_wait_applied(S, last, 100));
	dt = now_sec() - t0;
	printf("\n    %d proposals committed and applied on 3 nodes in %.3f s: %.0f/s ", TOTAL, dt,
	       TOTAL / dt);
	CU_ASSERT_EQUAL(sim_applied_value(S, 2, last), TOTAL);
	/* The rate is information only: speed is judged by bench/, never by a timed test. */
	SAFE();
}

CU_TestInfo raft_perf_tests[] = {
	{"throughput", test_throughput},
	CU_TEST_INFO_NULL,
};

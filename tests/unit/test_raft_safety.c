/* test_raft_safety.c -- randomized safety checker: many seeds of random schedules with random
 * faults on the simulated cluster; the simulator's checker asserts the Raft safety properties
 * after every step, and after the faults heal a leader must appear and commit.
 *
 *   RK_SIM_SEEDS=N    seeds to run (default 1000)     RK_SIM_STEPS=N  ticks per seed (2000)
 *   RK_SIM_SEED=S     replay one seed                 RK_SIM_TRACE=1  print its transcript
 * A failure prints the seed and the command that replays it.
 */
#include <CUnit/CUnit.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "common/mem.h"
#include "harness/runner.h"
#include "sim/sim.h"

static uint64_t env_u64(const char *name, uint64_t dflt)
{
	const char *v = getenv(name);

	return v != NULL && *v != '\0' ? strtoull(v, NULL, 0) : dflt;
}

/* One random schedule. Returns NULL when all properties held, else a static description. */
/* Figure 8 style (§3.6.2): five voters, one entry per message, leaders crash soon after
 * proposing, so old-term entries often sit on a bare majority when a new leader takes over. */
static void figure8_step(struct sim *s, uint64_t *value)
{
	int l = sim_leader(s);
	int up = 0;

	if (l != 0)
		sim_propose(s, l, (*value)++);
	/* crash at any instant, not on tick boundaries: mid-replication */
	for (unsigned u = (unsigned)(sim_rand(s) % 40); u > 0; u--)
		sim_step(s);
	if (l != 0 && sim_rand(s) % 2 == 0)
		sim_crash(s, l);
	for (int k = 1; k <= sim_n(s); k++)
		up += sim_up(s, k);
	if (up < 3 || sim_rand(s) % 3 == 0)
		sim_restart(s, 1 + (int)(sim_rand(s) % (uint64_t)sim_n(s)));
}

static unsigned enomem_pct; /* set by the enomem suite */

static const char *run_seed(uint64_t seed, unsigned steps, unsigned bugs, bool trace)
{
	static char why[700];
	struct sim_opts o = {0};
	struct sim *s;
	uint64_t value = 1;
	uint64_t r;
	const char *v;
	bool f8;

	/* the seed also picks the cluster shape */
	r = seed * 0x9e3779b97f4a7c15ull + 1;
	o.n_nodes = (r >> 7) % 3 == 0 ? 5 : 3;
	o.seed = seed;
	o.trace = trace;
	o.test_bugs = bugs;
	o.enomem_pct = enomem_pct;
	o.max_inflight = 1 + (unsigned)((r >> 11) % 4);
	o.max_msg_bytes = 64 + (size_t)((r >> 17) % 256);
	o.snap_chunk_bytes = 64 + (size_t)((r >> 23) % 512);
	o.no_pre_vote = (r >> 29) % 4 == 0;
	/* not both: without pre-vote and lease a removed server that never learned of its
	 * removal deposes every leader (§4.2.3), a known liveness loss, not a bug */
	o.no_check_quorum = !o.no_pre_vote && (r >> 45) % 5 == 0;
	if (((r >> 33) % 3) == 0) {
		o.n_nodes = 5;
		o.n_voters = 3; /* two nodes join through membership changes */
	}
	f8 = (r >> 37) % 4 == 0 || (bugs & RK_BUG_COMMIT_OLD_TERM) != 0;
	if (f8) {
		o.n_nodes = 5;
		o.n_voters = 0;
		o.max_msg_bytes = 8; /* one entry per append */
	}
	s = sim_new(&o);
	sim_set_net(s, 0, 0, 1, 4);
	if (f8)
		sim_set_net(s, 10 + (unsigned)((r >> 41) % 40), 0, 1, 6);
	for (unsigned t = 0; f8 && t < steps / 2 && sim_violation(s) == NULL; t++)
		figure8_step(s, &value);
	for (unsigned t = 0; !f8 && t < steps && sim_violation(s) == NULL; t++) {
		unsigned dice = (unsigned)(sim_rand(s) % 1000);
		int node = 1 + (int)(sim_rand(s) % (uint64_t)sim_n(s));
		int l = sim_leader(s);

		if (dice < 300) {
			if (l != 0)
				sim_propose(s, l, value++);
		} else if (dice < 320) {
			sim_crash(s, node);
		} else if (dice < 360) {
			sim_restart(s, node);
		} else if (dice < 375) {
			sim_partition(s, (unsigned)(sim_rand(s) % (1u << (sim_n(s) + 1))) & ~1u);
		} else if (dice < 385) {
			sim_cut(s, node, 1 + (int)(sim_rand(s) % (uint64_t)sim_n(s)), true);
		} else if (dice < 420) {
			sim_heal(s);
		} else if (dice < 430) {
			sim_set_net(s, (unsigned)(sim_rand(s) % 30), (unsigned)(sim_rand(s) % 20), 1,
				    1 + (unsigned)(sim_rand(s) % 20));
			sim_set_long_delay(s, (unsigned)(sim_rand(s) % 10), 300);
		} else if (dice < 440) {
			sim_set_net(s, 0, 0, 1, 4);
			sim_set_long_delay(s, 0, 0);
		} else if (dice < 450) {
			sim_set_fsync(s, 1, 1 + (unsigned)(sim_rand(s) % 40));
		} else if (dice < 470) {
			sim_snapshot(s, node, sim_rand(s) % 3 == 0 ? 0 : sim_rand(s) % 10);
		} else if (dice < 490) {
			sim_read_index(s, sim_rand(s) % 2 ? node : l != 0 ? l : node, sim_rand(s));
		} else if (dice < 495) {
			if (l != 0)
				sim_transfer(s, l, node);
		} else if (dice < 505) {
			if (l != 0) {
				static const enum rk_conf_op ops[] = {
					RK_CONF_ADD_VOTER, RK_CONF_ADD_LEARNER, RK_CONF_REMOVE};

				sim_conf_change(s, l, ops[sim_rand(s) % 3], node);
			}
		}
		sim_run(s, 1);
	}
	if (enomem_pct > 0) {
		rk_mem_fail_after(-1);
		sim_set_fsync(s, 1, 3);
	}
	if (sim_violation(s) == NULL) {
		/* liveness after healing: restart everyone, a perfect network, then one commit.
		 * sim_one waits only for the members of the leader's configuration. */
		sim_heal(s);
		sim_set_net(s, 0, 0, 1, 4);
		sim_set_long_delay(s, 0, 0);
		sim_set_fsync(s, 1, 3);
		for (int k = 1; k <= sim_n(s); k++)
			sim_restart(s, k);
		if (sim_one(s, 1ull << 40, 400) == 0 && sim_violation(s) == NULL)
			snprintf(why, sizeof why, "liveness: no commit within 400 ticks after healing");
		else
			why[0] = '\0';
	} else {
		why[0] = '\0';
	}
	v = sim_violation(s);
	if (v != NULL)
		snprintf(why, sizeof why, "%s", v);
	if (trace && why[0] != '\0') {
		fputs(sim_transcript(s), stdout);
		for (int k = 1; k <= sim_n(s); k++) {
			const struct rk_raft_status *st = sim_status(s, k);
			const struct rk_conf *c;

			if (st == NULL) {
				printf("n%d down\n", k);
				continue;
			}
			c = rk_raft_conf(sim_raft(s, k));
			printf("n%d %s term %" PRIu64 " leader n%" PRIu64 " last %" PRIu64 "@%" PRIu64
			       " commit %" PRIu64 " applied %" PRIu64 " conf", k, rk_state_name(st->state),
			       st->term, st->leader, st->last_index, st->last_term, st->commit,
			       sim_applied(s, k));
			for (unsigned j = 0; j < c->n; j++)
				printf(" n%" PRIu64 "%s", c->m[j].id, c->m[j].role == RK_CONF_VOTER ? "" : "(l)");
			printf("\n");
		}
	}
	sim_free(s);
	return why[0] != '\0' ? why : NULL;
}

static void test_random_schedules(void)
{
	uint64_t one = env_u64("RK_SIM_SEED", 0);
	uint64_t seeds = env_u64("RK_SIM_SEEDS", 1000);
	unsigned steps = (unsigned)env_u64("RK_SIM_STEPS", 2000);
	bool trace = env_u64("RK_SIM_TRACE", 0) != 0;
	uint64_t first = one != 0 ? one : 1, last = one != 0 ? one : seeds;
	unsigned failures = 0;

	for (uint64_t seed = first; seed <= last; seed++) {
		const char *why = run_seed(seed, steps, 0, trace);

		if (why != NULL) {
			failures++;
			printf("\nseed %" PRIu64 ": %s\n  replay: RK_SIM_SEED=%" PRIu64
			       " RK_SIM_STEPS=%u RK_SIM_TRACE=1 tests/test_raft_safety\n",
			       seed, why, seed, steps);
			if (failures >= 5)
				break;
		}
	}
	CU_ASSERT_EQUAL(failures, 0);
}

/* The checker must bite: with a rule broken on purpose, some seed must fail. */
static bool bug_is_caught(unsigned bug, uint64_t max_seeds, unsigned steps)
{
	for (uint64_t seed = 1; seed <= max_seeds; seed++) {
		const char *why = run_seed(seed, steps, bug, false);

		if (why != NULL && strncmp(why, "liveness", 8) != 0) {
			printf("\n  bug %#x caught at seed %" PRIu64 ": %s\n", bug, seed, why);
			return true;
		}
	}
	return false;
}

static void test_checker_catches_vote_any_log(void)
{
	CU_ASSERT_TRUE(bug_is_caught(RK_BUG_VOTE_ANY_LOG, 300, 2000));
}

static void test_checker_catches_commit_old_term(void)
{
	CU_ASSERT_TRUE(bug_is_caught(RK_BUG_COMMIT_OLD_TERM, env_u64("RK_BITE_SEEDS", 300), 2000));
}

static void test_checker_catches_vote_not_durable(void)
{
	CU_ASSERT_TRUE(bug_is_caught(RK_BUG_VOTE_NOT_DURABLE, 300, 2000));
}

/* The same schedules while the core's allocations fail now and then: every failure must
 * leave it consistent (dropped messages, retried Ready), never unsafe, and nothing leaks
 * (LeakSanitizer). */
static void test_random_schedules_enomem(void)
{
	uint64_t seeds = env_u64("RK_SIM_ENOMEM_SEEDS", 200);
	unsigned failures = 0;

	enomem_pct = 5;
	for (uint64_t seed = 1; seed <= seeds && failures < 5; seed++) {
		const char *why = run_seed(seed, 1000, 0, false);

		if (why != NULL) {
			failures++;
			printf("\nenomem seed %" PRIu64 ": %s\n", seed, why);
		}
	}
	enomem_pct = 0;
	rk_mem_fail_after(-1);
	CU_ASSERT_EQUAL(failures, 0);
}

static void test_checker_catches_read_no_confirm(void)
{
	CU_ASSERT_TRUE(bug_is_caught(RK_BUG_READ_NO_CONFIRM, 300, 2000));
}

static CU_TestInfo safety_tests[] = {
	{"random_schedules", test_random_schedules},
	{"random_schedules_enomem", test_random_schedules_enomem},
	CU_TEST_INFO_NULL,
};

static CU_TestInfo bite_tests[] = {
	{"vote_any_log", test_checker_catches_vote_any_log},
	{"commit_old_term", test_checker_catches_commit_old_term},
	{"vote_not_durable", test_checker_catches_vote_not_durable},
	{"read_no_confirm", test_checker_catches_read_no_confirm},
	CU_TEST_INFO_NULL,
};

static CU_SuiteInfo suites[] = {
	{"safety", NULL, NULL, NULL, NULL, safety_tests},
	{"checker_bites", NULL, NULL, NULL, NULL, bite_tests},
	CU_SUITE_INFO_NULL,
};

int main(int argc, char **argv)
{
	return rk_test_main(argc, argv, suites);
}

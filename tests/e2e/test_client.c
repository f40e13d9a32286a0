/* test_client.c -- libraftkv against three real raftkvd processes: leader discovery from a
 * list of followers only, failover in the middle of a stream of writes with no write applied
 * twice, and a bounded failure when there is no quorum. */
#define _GNU_SOURCE
#include "config.h"

#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cluster.h"
#include "harness/runner.h"
#include "raftkv/client.h"

static struct cluster C;

static void setup(void)
{
	memset(&C, 0, sizeof C);
	CU_ASSERT_EQUAL_FATAL(cl_test_begin(&C, 3), 0);
}

static void teardown(void)
{
	cl_test_end(&C);
}

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static struct rkc_client *open_client(const int *nodes, int n, unsigned deadline_ms)
{
	char eps[256] = "";
	struct rkc_options o = { .endpoints = eps, .request_timeout_ms = 1000,
				 .deadline_ms = deadline_ms };
	struct rkc_client *c = NULL;

	for (int i = 0; i < n; i++)
		snprintf(eps + strlen(eps), sizeof eps - strlen(eps), "%s127.0.0.1:%d", i ? "," : "",
			 C.nodes[nodes[i]].client_port);
	CU_ASSERT_EQUAL(rkc_open(&o, &c), RKC_OK);
	return c;
}

static void test_discovers_leader_from_followers(void)
{
	int leader = cl_wait_leader(&C, 10000, -1), followers[2], k = 0;
	struct rkc_client *c;
	struct rkc_buf v = { 0 };
	char want[64];

	CU_ASSERT_FATAL(leader >= 0);
	for (int i = 0; i < 3; i++) {
		if (i != leader)
			followers[k++] = i;
	}
	/* The leader is not in the list: only a redirect can find it. */
	c = open_client(followers, 2, 10000);
	CU_ASSERT_PTR_NOT_NULL_FATAL(c);
	CU_ASSERT_EQUAL(rkc_put(c, "greeting", 8, "hello\0world", 11), RKC_OK);
	snprintf(want, sizeof want, "127.0.0.1:%d", C.nodes[leader].client_port);
	CU_ASSERT_STRING_EQUAL(rkc_last_endpoint(c), want);
	CU_ASSERT_EQUAL(rkc_get(c, "greeting", 8, false, &v), RKC_OK);
	CU_ASSERT_EQUAL(v.len, 11);
	CU_ASSERT(v.data != NULL && memcmp(v.data, "hello\0world", 11) == 0);
	rkc_buf_free(&v);
	/* Definite answers come back as such. */
	CU_ASSERT_EQUAL(rkc_put_if_absent(c, "greeting", 8, "x", 1), RKC_EXISTS);
	CU_ASSERT_EQUAL(rkc_update(c, "nope", 4, "x", 1), RKC_NOT_FOUND);
	CU_ASSERT_EQUAL(rkc_cas(c, "greeting", 8, "wrong", 5, "x", 1), RKC_CAS_FAILED);
	CU_ASSERT_EQUAL(rkc_delete(c, "greeting", 8), RKC_OK);
	CU_ASSERT_EQUAL(rkc_get(c, "greeting", 8, false, NULL), RKC_NOT_FOUND);
	CU_ASSERT_EQUAL(rkc_get(c, "", 0, false, NULL), RKC_EINVAL);
	rkc_close(c);
}

struct killer {
	int leader;
	atomic_int appended; /* appends acknowledged so far */
	atomic_bool killed;
};

static void *kill_leader_midway(void *arg)
{
	struct killer *k = arg;

	while (atomic_load(&k->appended) < 60)
		usleep(1000);
	cl_signal(&C, k->leader, SIGKILL);
	atomic_store(&k->killed, true);
	return NULL;
}

/* Exactly once through a failover: every append is retried (same session, same seq) until it
 * is acknowledged, and the final value holds each token exactly once, in order. */
static void test_failover_without_duplicates(void)
{
	int all[3] = { 0, 1, 2 };
	struct killer k = { .leader = cl_wait_leader(&C, 10000, -1) };
	struct rkc_client *c;
	struct rkc_buf v = { 0 };
	pthread_t t;
	char tok[32], *p, *save = NULL;
	int n = 0, st;

	CU_ASSERT_FATAL(k.leader >= 0);
	c = open_client(all, 3, 15000);
	CU_ASSERT_PTR_NOT_NULL_FATAL(c);
	CU_ASSERT_EQUAL_FATAL(pthread_create(&t, NULL, kill_leader_midway, &k), 0);
	for (int i = 0; i < 200; i++) {
		snprintf(tok, sizeof tok, "t%d,", i);
		st = rkc_append(c, "stream", 6, tok, strlen(tok));
		CU_ASSERT_EQUAL(st, RKC_OK);
		if (st != RKC_OK)
			fprintf(stderr, "append %d: %s (%s)\n", i, rkc_strstatus(st), rkc_last_error(c));
		atomic_store(&k.appended, i + 1);
	}
	pthread_join(t, NULL);
	CU_ASSERT(atomic_load(&k.killed));
	CU_ASSERT_EQUAL_FATAL(rkc_get(c, "stream", 6, false, &v), RKC_OK);
	for (p = strtok_r((char *)v.data, ",", &save); p != NULL; p = strtok_r(NULL, ",", &save)) {
		snprintf(tok, sizeof tok, "t%d", n);
		CU_ASSERT_STRING_EQUAL(p, tok); /* no duplicate, no hole, in order */
		n++;
	}
	CU_ASSERT_EQUAL(n, 200);
	rkc_buf_free(&v);
	rkc_close(c);
}

static void test_no_quorum_times_out(void)
{
	int all[3] = { 0, 1, 2 }, leader = cl_wait_leader(&C, 10000, -1);
	struct rkc_client *c;
	uint64_t t0;
	int st;

	CU_ASSERT_FATAL(leader >= 0);
	c = open_client(all, 3, 1500);
	CU_ASSERT_PTR_NOT_NULL_FATAL(c);
	CU_ASSERT_EQUAL(rkc_put(c, "before", 6, "1", 1), RKC_OK);
	/* Two of three gone: nothing can commit. */
	cl_signal(&C, (leader + 1) % 3, SIGKILL);
	cl_signal(&C, (leader + 2) % 3, SIGKILL);
	t0 = now_ms();
	st = rkc_put(c, "after", 5, "1", 1);
	CU_ASSERT(st == RKC_TIMEOUT || st == RKC_UNAVAILABLE);
	CU_ASSERT(now_ms() - t0 < 1500 + 1500); /* the deadline holds, give or take an attempt */
	CU_ASSERT(rkc_last_error(c)[0] != '\0');
	t0 = now_ms();
	st = rkc_get(c, "before", 6, false, NULL);
	CU_ASSERT(st == RKC_TIMEOUT || st == RKC_UNAVAILABLE);
	CU_ASSERT(now_ms() - t0 < 1500 + 1500);
	rkc_close(c);
}

/* Leadership moves where it is asked to, and the cluster keeps serving writes. */
static void test_transfer_leader(void)
{
	int all[3] = { 0, 1, 2 }, leader = cl_wait_leader(&C, 10000, -1), target;
	struct rkc_client *c;

	CU_ASSERT_FATAL(leader >= 0);
	target = (leader + 1) % 3;
	c = open_client(all, 3, 10000);
	CU_ASSERT_PTR_NOT_NULL_FATAL(c);
	CU_ASSERT_EQUAL(rkc_put(c, "t", 1, "before", 6), RKC_OK);
	CU_ASSERT_EQUAL(rkc_transfer_leader(c, C.nodes[target].id), RKC_OK);
	for (int i = 0; i < 100 && cl_wait_leader(&C, 10000, -1) != target; i++)
		usleep(50000);
	CU_ASSERT_EQUAL(cl_wait_leader(&C, 10000, -1), target);
	CU_ASSERT_EQUAL(rkc_put(c, "t", 1, "after", 5), RKC_OK);
	/* Not a member, or itself: refused. */
	CU_ASSERT_EQUAL(rkc_transfer_leader(c, 99), RKC_BAD_REQUEST);
	CU_ASSERT_EQUAL(rkc_transfer_leader(c, 0), RKC_EINVAL);
	rkc_close(c);
}

static int status_of(struct rkc_client *c, int i, struct rkc_node_status *st)
{
	char ep[32];

	snprintf(ep, sizeof ep, "127.0.0.1:%d", C.nodes[i].client_port);
	return rkc_status(c, ep, st);
}

/* Node @i has caught up with the leader @l and holds @val under "m" (serializable read). */
static bool caught_up(struct rkc_client *c, int i, int l, const char *val)
{
	struct rkc_node_status si, sl;
	struct rkc_buf v = { 0 };
	char ep[32];
	bool ok;

	for (int tries = 0; tries < 200; tries++) {
		if (status_of(c, i, &si) == RKC_OK && status_of(c, l, &sl) == RKC_OK &&
		    si.applied_index >= sl.commit_index && si.applied_index > 0)
			break;
		usleep(50000);
	}
	snprintf(ep, sizeof ep, "127.0.0.1:%d", C.nodes[i].client_port);
	{
		struct rkc_options o = { .endpoints = ep, .request_timeout_ms = 1000,
					 .deadline_ms = 2000 };
		struct rkc_client *one = NULL;

		if (rkc_open(&o, &one) != RKC_OK)
			return false;
		ok = rkc_get(one, "m", 1, true, &v) == RKC_OK && v.len == strlen(val) &&
		     memcmp(v.data, val, v.len) == 0;
		rkc_buf_free(&v);
		rkc_close(one);
	}
	return ok;
}

static unsigned voters(const struct rkc_node_status *st, uint64_t *learner)
{
	unsigned n = 0;

	*learner = 0;
	for (unsigned i = 0; i < st->n_members; i++) {
		if (st->members[i].learner)
			*learner = st->members[i].id;
		else
			n++;
	}
	return n;
}

/* Membership through the log: a joining node is added as a learner, catches up and is
 * promoted; a follower is removed and added back; the leader removes itself and another node
 * takes over. Repeated changes succeed; impossible ones are refused with a definite status. */
static void test_membership(void)
{
	int all[4] = { 0, 1, 2, 3 }, leader = cl_wait_leader(&C, 10000, 3), f, nl;
	struct rkc_node_status st;
	struct rkc_client *c;
	uint64_t learner;

	CU_ASSERT_FATAL(leader >= 0 && leader < 3);
	c = open_client(all, 4, 15000);
	CU_ASSERT_PTR_NOT_NULL_FATAL(c);
	CU_ASSERT_EQUAL(rkc_put(c, "m", 1, "v1", 2), RKC_OK);
	/* The joining node is not in the founding configuration. */
	CU_ASSERT_EQUAL(status_of(c, 3, &st), RKC_OK);
	CU_ASSERT_STRING_EQUAL(st.role, "non-member");
	CU_ASSERT_EQUAL(status_of(c, leader, &st), RKC_OK);
	CU_ASSERT_EQUAL(voters(&st, &learner), 3);
	CU_ASSERT_EQUAL(st.n_members, 3);

	/* join: add as a learner (twice: the second finds it done), catch up, promote */
	CU_ASSERT_EQUAL(rkc_member_add(c, 4), RKC_OK);
	CU_ASSERT_EQUAL(rkc_member_add(c, 4), RKC_OK);
	CU_ASSERT_EQUAL(status_of(c, leader, &st), RKC_OK);
	CU_ASSERT_EQUAL(voters(&st, &learner), 3);
	CU_ASSERT_EQUAL(learner, 4);
	CU_ASSERT_TRUE(caught_up(c, 3, leader, "v1"));
	CU_ASSERT_EQUAL(status_of(c, 3, &st), RKC_OK);
	CU_ASSERT_STRING_EQUAL(st.role, "learner");
	CU_ASSERT_EQUAL(rkc_member_promote(c, 4), RKC_OK);
	CU_ASSERT_EQUAL(rkc_member_promote(c, 4), RKC_OK);
	CU_ASSERT_EQUAL(status_of(c, leader, &st), RKC_OK);
	CU_ASSERT_EQUAL(voters(&st, &learner), 4);
	CU_ASSERT_EQUAL(learner, 0);
	/* definite refusals */
	CU_ASSERT_EQUAL(rkc_member_add(c, 4), RKC_EXISTS);
	CU_ASSERT_EQUAL(rkc_member_add(c, 99), RKC_BAD_REQUEST);
	CU_ASSERT_EQUAL(rkc_member_promote(c, 99), RKC_NOT_FOUND);
	CU_ASSERT_EQUAL(rkc_member_remove(c, 99), RKC_NOT_FOUND);
	CU_ASSERT_EQUAL(rkc_member_remove(c, 0), RKC_EINVAL);

	/* remove a follower and add it back */
	f = (leader + 1) % 3;
	CU_ASSERT_EQUAL(rkc_member_remove(c, C.nodes[f].id), RKC_OK);
	CU_ASSERT_EQUAL(rkc_member_remove(c, C.nodes[f].id), RKC_NOT_FOUND);
	CU_ASSERT_EQUAL(status_of(c, leader, &st), RKC_OK);
	CU_ASSERT_EQUAL(voters(&st, &learner), 3);
	CU_ASSERT_EQUAL(rkc_put(c, "m", 1, "v2", 2), RKC_OK);
	CU_ASSERT_EQUAL(rkc_member_add(c, C.nodes[f].id), RKC_OK);
	CU_ASSERT_TRUE(caught_up(c, f, leader, "v2"));
	CU_ASSERT_EQUAL(rkc_member_promote(c, C.nodes[f].id), RKC_OK);
	CU_ASSERT_EQUAL(status_of(c, leader, &st), RKC_OK);
	CU_ASSERT_EQUAL(voters(&st, &learner), 4);

	/* the leader removes itself: it steps down, another voter leads, writes go on */
	CU_ASSERT_EQUAL(rkc_member_remove(c, C.nodes[leader].id), RKC_OK);
	nl = -1;
	for (int i = 0; i < 200 && nl < 0; i++) {
		for (int j = 0; j < 4; j++) {
			if (j != leader && status_of(c, j, &st) == RKC_OK &&
			    strcmp(st.role, "leader") == 0)
				nl = j;
		}
		if (nl < 0)
			usleep(50000);
	}
	CU_ASSERT_FATAL(nl >= 0);
	CU_ASSERT_EQUAL(rkc_put(c, "m", 1, "v3", 2), RKC_OK);
	CU_ASSERT_EQUAL(status_of(c, nl, &st), RKC_OK);
	CU_ASSERT_EQUAL(voters(&st, &learner), 3);
	for (unsigned i = 0; i < st.n_members; i++)
		CU_ASSERT_NOT_EQUAL(st.members[i].id, C.nodes[leader].id);
	rkc_close(c);
}

static void setup_join(void)
{
	memset(&C, 0, sizeof C);
	C.n_join = 1;
	CU_ASSERT_EQUAL_FATAL(cl_test_begin(&C, 4), 0);
}

static void test_bad_endpoints(void)
{
	struct rkc_options o = { 0 };
	struct rkc_client *c = NULL;

	CU_ASSERT_EQUAL(rkc_open(&o, &c), RKC_EINVAL);
	o.endpoints = "127.0.0.1";
	CU_ASSERT_EQUAL(rkc_open(&o, &c), RKC_EINVAL);
	o.endpoints = "127.0.0.1:0";
	CU_ASSERT_EQUAL(rkc_open(&o, &c), RKC_EINVAL);
	o.endpoints = "example.com:80";
	CU_ASSERT_EQUAL(rkc_open(&o, &c), RKC_EINVAL);
	o.endpoints = "127.0.0.1:7001,[::1]:7002,localhost:7003";
	CU_ASSERT_EQUAL(rkc_open(&o, &c), RKC_OK);
	rkc_close(c);
}

static CU_TestInfo member_tests[] = {
	{ "membership", test_membership },
	CU_TEST_INFO_NULL,
};

static CU_TestInfo client_tests[] = {
	{ "discovers_leader_from_followers", test_discovers_leader_from_followers },
	{ "failover_without_duplicates", test_failover_without_duplicates },
	{ "transfer_leader", test_transfer_leader },
	{ "no_quorum_times_out", test_no_quorum_times_out },
	CU_TEST_INFO_NULL,
};

static CU_TestInfo offline_tests[] = {
	{ "bad_endpoints", test_bad_endpoints },
	CU_TEST_INFO_NULL,
};

static CU_SuiteInfo suites[] = {
	{ "client", NULL, NULL, setup, teardown, client_tests },
	{ "client_members", NULL, NULL, setup_join, teardown, member_tests },
	{ "client_offline", NULL, NULL, NULL, NULL, offline_tests },
	CU_SUITE_INFO_NULL,
};

int main(int argc, char **argv)
{
	signal(SIGPIPE, SIG_IGN);
	return rk_test_main(argc, argv, suites);
}

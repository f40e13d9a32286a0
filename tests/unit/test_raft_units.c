/* test_raft_units.c -- unit tests of the core's pieces: the in-memory log, configurations
 * and their encoding, follower progress, and an allocation-failure walk over the paths that
 * allocate (start-up, proposals, appends received). */
#include <CUnit/CUnit.h>
#include <limits.h>
#include <string.h>

#include "common/err.h"
#include "common/mem.h"
#include "raft/raft_int.h"
#include "raft/rlog.h"

static struct rk_entry ent(rk_index i, rk_term t, const char *s)
{
	struct rk_entry e = {t, i, RK_ENTRY_NORMAL, {NULL, 0}};

	if (s != NULL) {
		e.data.len = strlen(s);
		e.data.base = rk_malloc(e.data.len);
		memcpy(e.data.base, s, e.data.len);
	}
	return e;
}

/* ---- rlog ---- */

static void test_rlog_append_get_term(void)
{
	struct rk_rlog l;
	rk_term t;

	rk_rlog_init(&l, 0, 0);
	CU_ASSERT_EQUAL(rk_rlog_last(&l), 0);
	CU_ASSERT_EQUAL(rk_rlog_last_term(&l), 0);
	for (rk_index i = 1; i <= 200; i++) {
		struct rk_entry e = ent(i, 1 + i / 50, "x");

		CU_ASSERT_EQUAL_FATAL(rk_rlog_append(&l, &e), RK_OK);
	}
	CU_ASSERT_EQUAL(rk_rlog_last(&l), 200);
	CU_ASSERT_EQUAL(rk_rlog_get(&l, 100)->index, 100);
	CU_ASSERT_EQUAL(rk_rlog_term(&l, 120, &t), RK_OK);
	CU_ASSERT_EQUAL(t, 3);
	CU_ASSERT_EQUAL(rk_rlog_term(&l, 201, &t), RK_EUNAVAILABLE);
	CU_ASSERT_PTR_NULL(rk_rlog_get(&l, 0));
	CU_ASSERT_PTR_NULL(rk_rlog_get(&l, 201));
	CU_ASSERT_EQUAL(rk_rlog_bytes(&l, 1, 10), 10);
	rk_rlog_close(&l);
}

static void test_rlog_truncate_compact_reset(void)
{
	struct rk_rlog l;
	rk_term t;

	rk_rlog_init(&l, 10, 2);
	CU_ASSERT_EQUAL(rk_rlog_term(&l, 10, &t), RK_OK);
	CU_ASSERT_EQUAL(t, 2);
	CU_ASSERT_EQUAL(rk_rlog_term(&l, 9, &t), RK_ECOMPACTED);
	for (rk_index i = 11; i <= 1000; i++) {
		struct rk_entry e = ent(i, 3, i % 2 ? "ab" : NULL);

		CU_ASSERT_EQUAL_FATAL(rk_rlog_append(&l, &e), RK_OK);
	}
	rk_rlog_truncate(&l, 501);
	CU_ASSERT_EQUAL(rk_rlog_last(&l), 500);
	/* compaction slides the window; appends after it reuse the dead front */
	for (rk_index c = 20; c <= 480; c += 20) {
		rk_rlog_compact(&l, c);
		struct rk_entry e = ent(rk_rlog_last(&l) + 1, 4, "y");

		CU_ASSERT_EQUAL_FATAL(rk_rlog_append(&l, &e), RK_OK);
	}
	CU_ASSERT_EQUAL(rk_rlog_first(&l), 481);
	CU_ASSERT_EQUAL(rk_rlog_term(&l, 480, &t), RK_OK);
	CU_ASSERT_EQUAL(t, 3);
	CU_ASSERT_EQUAL(rk_rlog_get(&l, 481)->index, 481);
	CU_ASSERT_EQUAL(rk_rlog_last(&l), 524);
	CU_ASSERT_EQUAL(rk_rlog_last_term(&l), 4);
	rk_rlog_reset(&l, 2000, 9);
	CU_ASSERT_EQUAL(rk_rlog_last(&l), 2000);
	CU_ASSERT_EQUAL(rk_rlog_last_term(&l), 9);
	CU_ASSERT_EQUAL(rk_rlog_first(&l), 2001);
	rk_rlog_close(&l);
}

CU_TestInfo raft_rlog_tests[] = {
	{"append_get_term", test_rlog_append_get_term},
	{"truncate_compact_reset", test_rlog_truncate_compact_reset},
	CU_TEST_INFO_NULL,
};

/* ---- conf ---- */

static void test_conf_roundtrip(void)
{
	struct rk_conf c = {0}, d;
	uint8_t buf[RK_CONF_ENCODED_MAX];
	size_t n;

	CU_ASSERT_EQUAL(rk_conf_apply_op(&c, RK_CONF_ADD_VOTER, 1), RK_OK);
	CU_ASSERT_EQUAL(rk_conf_apply_op(&c, RK_CONF_ADD_VOTER, 2), RK_OK);
	CU_ASSERT_EQUAL(rk_conf_apply_op(&c, RK_CONF_ADD_LEARNER, 77), RK_OK);
	CU_ASSERT_EQUAL(rk_conf_apply_op(&c, RK_CONF_ADD_LEARNER, 77), RK_EINVAL);
	CU_ASSERT_EQUAL(rk_conf_apply_op(&c, RK_CONF_ADD_LEARNER, 2), RK_EINVAL); /* no demote */
	CU_ASSERT_EQUAL(rk_conf_voters(&c), 2);
	n = rk_conf_encode(&c, buf);
	CU_ASSERT_EQUAL(n, 8 + 3 * 9);
	CU_ASSERT_EQUAL(rk_conf_decode(&d, buf, n), RK_OK);
	CU_ASSERT_EQUAL(d.n, 3);
	CU_ASSERT_EQUAL(d.m[2].id, 77);
	CU_ASSERT_EQUAL(d.m[2].role, RK_CONF_LEARNER);
	CU_ASSERT_TRUE(rk_conf_is_voter(&d, 2));
	CU_ASSERT_FALSE(rk_conf_is_voter(&d, 77));
	/* promote, then remove */
	CU_ASSERT_EQUAL(rk_conf_apply_op(&c, RK_CONF_ADD_VOTER, 77), RK_OK);
	CU_ASSERT_EQUAL(rk_conf_voters(&c), 3);
	CU_ASSERT_EQUAL(rk_conf_apply_op(&c, RK_CONF_REMOVE, 1), RK_OK);
	CU_ASSERT_EQUAL(rk_conf_find(&c, 1), -1);
	CU_ASSERT_EQUAL(rk_conf_apply_op(&c, RK_CONF_REMOVE, 1), RK_EINVAL);
	CU_ASSERT_EQUAL(rk_conf_apply_op(&c, RK_CONF_REMOVE, 2), RK_OK);
	CU_ASSERT_EQUAL(rk_conf_apply_op(&c, RK_CONF_REMOVE, 77), RK_EINVAL); /* last voter */
}

static void test_conf_decode_rejects_garbage(void)
{
	struct rk_conf c = {0}, d;
	uint8_t buf[RK_CONF_ENCODED_MAX];
	size_t n;

	rk_conf_apply_op(&c, RK_CONF_ADD_VOTER, 5);
	rk_conf_apply_op(&c, RK_CONF_ADD_VOTER, 6);
	n = rk_conf_encode(&c, buf);
	CU_ASSERT_EQUAL(rk_conf_decode(&d, buf, n - 1), RK_ECORRUPT);  /* short */
	CU_ASSERT_EQUAL(rk_conf_decode(&d, buf, 4), RK_ECORRUPT);
	buf[0] ^= 1;                                                   /* magic */
	CU_ASSERT_EQUAL(rk_conf_decode(&d, buf, n), RK_ECORRUPT);
	buf[0] ^= 1;
	buf[8 + 9 + 8] = 9;                                            /* role */
	CU_ASSERT_EQUAL(rk_conf_decode(&d, buf, n), RK_ECORRUPT);
	buf[8 + 9 + 8] = RK_CONF_VOTER;
	buf[8 + 9] = 5;                                                /* duplicate id */
	CU_ASSERT_EQUAL(rk_conf_decode(&d, buf, n), RK_ECORRUPT);
	memset(buf + 8 + 9, 0, 8);                                     /* id 0 */
	CU_ASSERT_EQUAL(rk_conf_decode(&d, buf, n), RK_ECORRUPT);
	buf[4] = 200;                                                  /* n too big */
	CU_ASSERT_EQUAL(rk_conf_decode(&d, buf, n), RK_ECORRUPT);
}

CU_TestInfo raft_conf_tests[] = {
	{"roundtrip", test_conf_roundtrip},
	{"decode_rejects_garbage", test_conf_decode_rejects_garbage},
	CU_TEST_INFO_NULL,
};

/* ---- progress ---- */

static void test_progress_window(void)
{
	struct rk_progress p;

	rk_pr_reset(&p, 11);
	CU_ASSERT_FALSE(rk_pr_is_paused(&p, 3));
	rk_pr_sent(&p, 12, 2); /* probe: one at a time */
	CU_ASSERT_TRUE(rk_pr_is_paused(&p, 3));
	CU_ASSERT_TRUE(rk_pr_maybe_update(&p, 12));
	rk_pr_become_replicate(&p);
	CU_ASSERT_EQUAL(p.next, 13);
	rk_pr_sent(&p, 15, 3);
	rk_pr_sent(&p, 18, 3);
	CU_ASSERT_FALSE(rk_pr_is_paused(&p, 3));
	rk_pr_sent(&p, 20, 2);
	CU_ASSERT_TRUE(rk_pr_is_paused(&p, 3)); /* window full */
	CU_ASSERT_EQUAL(p.next, 21);
	rk_pr_free_to(&p, 18);
	CU_ASSERT_EQUAL(p.infl_n, 1);
	CU_ASSERT_FALSE(rk_pr_is_paused(&p, 3));
	CU_ASSERT_FALSE(rk_pr_maybe_update(&p, 10)); /* stale ack */
	rk_pr_become_probe(&p);
	CU_ASSERT_EQUAL(p.infl_n, 0);
	rk_pr_become_snapshot(&p, 40);
	CU_ASSERT_TRUE(rk_pr_is_paused(&p, 3));
}

CU_TestInfo raft_progress_tests[] = {
	{"window", test_progress_window},
	CU_TEST_INFO_NULL,
};

/* ---- allocation failures ---- */

static struct rk_raft *single_leader(int *rv)
{
	struct rk_raft_config c;
	struct rk_raft_restore rs = {0};
	struct rk_raft *r;
	struct rk_ready rd;

	rk_raft_config_default(&c, 1);
	rs.snap.conf.n = 1;
	rs.snap.conf.m[0].id = 1;
	rs.snap.conf.m[0].role = RK_CONF_VOTER;
	r = rk_raft_new(&c, &rs, rv);
	if (r == NULL)
		return NULL;
	for (int k = 0; k < 30 && r->state != RK_LEADER; k++)
		rk_raft_tick(r);
	while (rk_raft_has_ready(r) && rk_raft_ready(r, &rd) == RK_OK) {
		uint64_t id = rd.persist_id;

		rk_raft_advance(r, &rd);
		if (id != 0)
			rk_raft_persisted(r, id);
	}
	return r;
}

static void test_alloc_propose_walk(void)
{
	int ok_at = -1;

	for (long k = 0; k < 200 && ok_at < 0; k++) {
		struct rk_raft *r;
		struct rk_buf cmds[100];
		struct rk_ready rd;
		int rv;

		rk_mem_count(1);
		rk_mem_fail_after(-1);
		r = single_leader(&rv);
		CU_ASSERT_PTR_NOT_NULL_FATAL(r);
		CU_ASSERT_EQUAL(r->state, RK_LEADER);
		for (int j = 0; j < 100; j++) {
			cmds[j].len = 16;
			cmds[j].base = rk_malloc(16);
			memset(cmds[j].base, j, 16);
		}
		rk_mem_fail_after(k);
		/* enough entries that the log must grow */
		rv = rk_raft_propose(r, cmds, 100, NULL);
		if (rv != RK_OK) /* on error the caller keeps the commands */
			for (int j = 0; j < 100; j++)
				rk_free(cmds[j].base);
		else
			rv = rk_raft_ready(r, &rd);
		if (rv == RK_OK) {
			CU_ASSERT_EQUAL(rd.n_entries, 100);
			rk_raft_advance(r, &rd);
			ok_at = (int)k;
		} else {
			CU_ASSERT_EQUAL(rv, RK_ENOMEM);
		}
		rk_mem_fail_after(-1);
		rk_raft_free(r);
		CU_ASSERT_EQUAL(rk_mem_live(), 0);
		rk_mem_count(0);
	}
	CU_ASSERT(ok_at > 0); /* at least one failure was walked */
}

static void test_alloc_new_and_recv_walk(void)
{
	int ok_at = -1;
	struct rk_entry src[5];
	char payload[5][8];

	for (int j = 0; j < 5; j++) {
		memset(payload[j], 'a' + j, sizeof payload[j]);
		src[j].term = 1;
		src[j].index = (rk_index)j + 1;
		src[j].type = RK_ENTRY_NORMAL;
		src[j].data.base = payload[j];
		src[j].data.len = sizeof payload[j];
	}
	for (long k = 0; k < 400 && ok_at < 0; k++) {
		struct rk_raft_config c;
		struct rk_raft_restore rs = {0};
		struct rk_raft *r;
		struct rk_msg m = {0};
		struct rk_ready rd;
		int rv;

		rk_mem_count(1);
		rk_mem_fail_after(k);
		rk_raft_config_default(&c, 2);
		rs.snap.conf.n = 2;
		rs.snap.conf.m[0].id = 1;
		rs.snap.conf.m[0].role = RK_CONF_VOTER;
		rs.snap.conf.m[1].id = 2;
		rs.snap.conf.m[1].role = RK_CONF_VOTER;
		rs.entries = src;
		rs.n_entries = 2; /* restart with 2 durable entries */
		rs.hs.term = 1;
		r = rk_raft_new(&c, &rs, &rv);
		if (r == NULL) {
			CU_ASSERT_EQUAL(rv, RK_ENOMEM);
			goto next;
		}
		m.type = RK_MSG_APPEND;
		m.from = 1;
		m.to = 2;
		m.term = 2;
		m.index = 2;
		m.log_term = 1;
		m.commit = 4;
		m.entries = src + 2;
		m.n_entries = 3;
		rv = rk_raft_recv(r, &m);
		if (rv == RK_OK)
			rv = rk_raft_ready(r, &rd);
		if (rv == RK_OK) {
			CU_ASSERT_EQUAL(rd.n_entries, 3);
			CU_ASSERT_EQUAL(rd.n_committed, 4);
			CU_ASSERT_EQUAL(rd.n_msgs, 0); /* the ack waits for the write */
			rk_raft_advance(r, &rd);
			ok_at = (int)k;
		} else {
			CU_ASSERT_EQUAL(rv, RK_ENOMEM);
		}
		rk_raft_free(r);
next:
		rk_mem_fail_after(-1);
		CU_ASSERT_EQUAL(rk_mem_live(), 0);
		rk_mem_count(0);
	}
	CU_ASSERT(ok_at > 0);
}

CU_TestInfo raft_alloc_tests[] = {
	{"propose_walk", test_alloc_propose_walk},
	{"new_and_recv_walk", test_alloc_new_and_recv_walk},
	CU_TEST_INFO_NULL,
};

/* ---- the core on its raw API: durability contract, pipelining, batching ---- */

static struct rk_raft *node3(rk_node_id id, struct rk_hard_state hs)
{
	struct rk_raft_config c;
	struct rk_raft_restore rs = {0};
	int rv;

	rk_raft_config_default(&c, id);
	c.seed = 7;
	rs.hs = hs;
	for (unsigned k = 0; k < 3; k++) {
		rs.snap.conf.m[k].id = k + 1;
		rs.snap.conf.m[k].role = RK_CONF_VOTER;
	}
	rs.snap.conf.n = 3;
	return rk_raft_new(&c, &rs, &rv);
}

static void test_vote_reply_waits_for_persist(void)
{
	struct rk_hard_state hs = {0};
	struct rk_raft *r = node3(2, hs);
	struct rk_msg m = {0};
	struct rk_ready rd;
	uint64_t id;

	CU_ASSERT_PTR_NOT_NULL_FATAL(r);
	m.type = RK_MSG_VOTE;
	m.from = 1;
	m.to = 2;
	m.term = 1;
	CU_ASSERT_EQUAL(rk_raft_recv(r, &m), RK_OK);
	CU_ASSERT_EQUAL(rk_raft_ready(r, &rd), RK_OK);
	CU_ASSERT_NOT_EQUAL(rd.persist_id, 0);
	CU_ASSERT_TRUE(rd.hs_changed);
	CU_ASSERT_EQUAL(rd.hs.term, 1);
	CU_ASSERT_EQUAL(rd.hs.vote, 1);
	CU_ASSERT_EQUAL(rd.n_msgs, 0); /* the grant is held */
	id = rd.persist_id;
	rk_raft_advance(r, &rd);
	CU_ASSERT_FALSE(rk_raft_has_ready(r));
	rk_raft_persisted(r, id);
	CU_ASSERT_TRUE(rk_raft_has_ready(r));
	CU_ASSERT_EQUAL(rk_raft_ready(r, &rd), RK_OK);
	CU_ASSERT_EQUAL(rd.persist_id, 0);
	CU_ASSERT_EQUAL_FATAL(rd.n_msgs, 1);
	CU_ASSERT_EQUAL(rd.msgs[0].type, RK_MSG_VOTE_RESP);
	CU_ASSERT_FALSE(rd.msgs[0].reject);
	rk_raft_advance(r, &rd);
	rk_raft_free(r);
}

static void test_leader_counts_itself_only_when_durable(void)
{
	struct rk_hard_state hs = {0};
	struct rk_raft *r = node3(1, hs);
	struct rk_msg m = {0};
	struct rk_ready rd;
	uint64_t id = 0;
	int guard = 0;

	CU_ASSERT_PTR_NOT_NULL_FATAL(r);
	/* campaign without pre-vote results: tick until candidate, persist, win */
	while (r->state != RK_PRE_CANDIDATE && guard++ < 100)
		rk_raft_tick(r);
	rk_raft_ready(r, &rd);
	rk_raft_advance(r, &rd);
	m.type = RK_MSG_PREVOTE_RESP;
	m.from = 2;
	m.to = 1;
	m.term = 1;
	rk_raft_recv(r, &m);
	CU_ASSERT_EQUAL_FATAL(r->state, RK_CANDIDATE);
	rk_raft_ready(r, &rd);
	CU_ASSERT_EQUAL(rd.n_msgs, 0); /* vote requests wait for our own vote on disk */
	id = rd.persist_id;
	rk_raft_advance(r, &rd);
	rk_raft_persisted(r, id);
	rk_raft_ready(r, &rd);
	CU_ASSERT_EQUAL(rd.n_msgs, 2);
	rk_raft_advance(r, &rd);
	m.type = RK_MSG_VOTE_RESP;
	rk_raft_recv(r, &m);
	CU_ASSERT_EQUAL_FATAL(r->state, RK_LEADER);
	/* the no-op goes to followers before it is durable here */
	rk_raft_ready(r, &rd);
	CU_ASSERT_EQUAL(rd.n_entries, 1);
	CU_ASSERT(rd.n_msgs >= 2);
	CU_ASSERT_EQUAL(rd.msgs[0].type, RK_MSG_APPEND);
	id = rd.persist_id;
	rk_raft_advance(r, &rd);
	/* one follower acks: 2 of 3 have it, but ours is not durable yet */
	memset(&m, 0, sizeof m);
	m.type = RK_MSG_APPEND_RESP;
	m.from = 2;
	m.to = 1;
	m.term = 1;
	m.index = 1;
	rk_raft_recv(r, &m);
	CU_ASSERT_EQUAL(r->commit, 0);
	rk_raft_persisted(r, id);
	CU_ASSERT_EQUAL(r->commit, 1);
	rk_raft_ready(r, &rd);
	CU_ASSERT_EQUAL(rd.n_committed, 1);
	rk_raft_advance(r, &rd);
	rk_raft_free(r);
}

/* Elect node 1 of three by hand, persist everything, and have n2 and n3 ack the no-op. */
static struct rk_raft *elected(unsigned max_inflight, size_t max_bytes)
{
	struct rk_hard_state hs = {0};
	struct rk_raft *r = node3(1, hs);
	struct rk_msg m = {0};
	struct rk_ready rd;
	int guard = 0;

	r->cfg.max_inflight = max_inflight;
	r->cfg.max_msg_bytes = max_bytes;
	while (r->state != RK_PRE_CANDIDATE && guard++ < 100)
		rk_raft_tick(r);
	m.to = 1;
	m.term = 1;
	for (int step = 0; step < 4; step++) {
		while (rk_raft_has_ready(r)) {
			uint64_t id;

			rk_raft_ready(r, &rd);
			id = rd.persist_id;
			rk_raft_advance(r, &rd);
			if (id != 0)
				rk_raft_persisted(r, id);
		}
		m.from = 2 + (rk_node_id)(step % 2);
		m.type = step < 1 ? RK_MSG_PREVOTE_RESP : step < 2 ? RK_MSG_VOTE_RESP
								: RK_MSG_APPEND_RESP;
		m.index = step < 2 ? 0 : 1;
		rk_raft_recv(r, &m);
	}
	while (rk_raft_has_ready(r)) {
		rk_raft_ready(r, &rd);
		rk_raft_advance(r, &rd);
	}
	return r;
}

static size_t count_appends(const struct rk_ready *rd, rk_node_id to, size_t *entries)
{
	size_t n = 0;

	for (size_t k = 0; k < rd->n_msgs; k++) {
		if (rd->msgs[k].type == RK_MSG_APPEND && rd->msgs[k].to == to) {
			n++;
			if (entries != NULL)
				*entries += rd->msgs[k].n_entries;
		}
	}
	return n;
}

static struct rk_buf cmd(size_t len)
{
	struct rk_buf b = {rk_malloc(len), len};

	memset(b.base, 'c', len);
	return b;
}

static void test_pipelining_window(void)
{
	struct rk_raft *r = elected(4, 1 << 20);
	struct rk_msg ack = {0};
	struct rk_ready rd;
	size_t sent = 0;

	CU_ASSERT_EQUAL_FATAL(r->state, RK_LEADER);
	CU_ASSERT_EQUAL(r->commit, 1);
	/* six proposals, each in its own Ready: only four appends may be in flight */
	for (int k = 0; k < 6; k++) {
		struct rk_buf b = cmd(10);

		CU_ASSERT_EQUAL(rk_raft_propose(r, &b, 1, NULL), RK_OK);
		rk_raft_ready(r, &rd);
		sent += count_appends(&rd, 2, NULL);
		rk_raft_advance(r, &rd);
	}
	CU_ASSERT_EQUAL(sent, 4);
	/* an ack for the first two frees two slots: the rest goes in one append */
	ack.type = RK_MSG_APPEND_RESP;
	ack.from = 2;
	ack.to = 1;
	ack.term = 1;
	ack.index = 3;
	rk_raft_recv(r, &ack);
	rk_raft_ready(r, &rd);
	{
		size_t entries = 0;

		CU_ASSERT_EQUAL(count_appends(&rd, 2, &entries), 1);
		CU_ASSERT_EQUAL(entries, 2);
	}
	rk_raft_advance(r, &rd);
	rk_raft_free(r);
}

static void test_batching_byte_limit(void)
{
	struct rk_raft *r = elected(8, 250);
	struct rk_buf b[10];
	struct rk_ready rd;
	size_t entries = 0;

	CU_ASSERT_EQUAL_FATAL(r->state, RK_LEADER);
	for (int k = 0; k < 10; k++)
		b[k] = cmd(100);
	CU_ASSERT_EQUAL(rk_raft_propose(r, b, 10, NULL), RK_OK);
	rk_raft_ready(r, &rd);
	/* ten 100-byte entries at most 250 bytes per message: five appends of two */
	CU_ASSERT_EQUAL(count_appends(&rd, 3, &entries), 5);
	CU_ASSERT_EQUAL(entries, 10);
	CU_ASSERT_EQUAL(rd.n_entries, 10); /* and all of them to our own disk */
	rk_raft_advance(r, &rd);
	rk_raft_free(r);
}

/* On a leader from elected(): propose @n commands, make them durable here and have n2
 * acknowledge them all, so that they commit. Their appends went out in one Ready. */
static void commit_n(struct rk_raft *r, int n)
{
	struct rk_msg ack = {0};
	struct rk_buf b[16];
	struct rk_ready rd;
	rk_index last = r->commit + (rk_index)n;
	uint64_t id;

	CU_ASSERT_FATAL(n > 0 && n <= 16);
	for (int k = 0; k < n; k++)
		b[k] = cmd(10);
	CU_ASSERT_EQUAL(rk_raft_propose(r, b, (size_t)n, NULL), RK_OK);
	rk_raft_ready(r, &rd);
	CU_ASSERT_EQUAL(count_appends(&rd, 2, NULL), 1);
	id = rd.persist_id;
	rk_raft_advance(r, &rd);
	rk_raft_persisted(r, id);
	ack.type = RK_MSG_APPEND_RESP;
	ack.from = 2;
	ack.to = 1;
	ack.term = 1;
	ack.index = last;
	rk_raft_recv(r, &ack);
	CU_ASSERT_EQUAL_FATAL(r->commit, last);
}

/* The appends of one Ready to @to that carry no entries, and the commit of the last one. */
static size_t empty_appends(const struct rk_ready *rd, rk_node_id to, rk_index *commit)
{
	size_t n = 0;

	for (size_t k = 0; k < rd->n_msgs; k++) {
		if (rd->msgs[k].type == RK_MSG_APPEND && rd->msgs[k].to == to &&
		    rd->msgs[k].n_entries == 0) {
			n++;
			*commit = rd->msgs[k].commit;
		}
	}
	return n;
}

/* A new commit index is not broadcast the moment it advances (the next append would carry it);
 * a follower that holds the entry hears of it at the next tick, and only once. */
static void test_commit_told_at_next_tick(void)
{
	struct rk_raft *r = elected(8, 1 << 20);
	struct rk_ready rd;
	rk_index commit = 0;

	CU_ASSERT_EQUAL_FATAL(r->state, RK_LEADER);
	r->cfg.heartbeat_ticks = 5; /* keep heartbeats out of the next two ticks */
	r->heartbeat_elapsed = 0;
	commit_n(r, 1); /* entry 2 */
	if (rk_raft_has_ready(r)) {
		rk_raft_ready(r, &rd);
		CU_ASSERT_EQUAL(count_appends(&rd, 2, NULL), 0);
		CU_ASSERT_EQUAL(count_appends(&rd, 3, NULL), 0);
		rk_raft_advance(r, &rd);
	}
	rk_raft_tick(r);
	rk_raft_ready(r, &rd);
	CU_ASSERT_EQUAL(empty_appends(&rd, 2, &commit), 1);
	CU_ASSERT_EQUAL(commit, 2);
	/* n3 has not acknowledged entry 2: it must not be told to commit it, and the append
	 * carrying it is already on its way */
	CU_ASSERT_EQUAL(count_appends(&rd, 3, NULL), 0);
	rk_raft_advance(r, &rd);
	rk_raft_tick(r);
	if (rk_raft_has_ready(r)) {
		rk_raft_ready(r, &rd);
		CU_ASSERT_EQUAL(count_appends(&rd, 2, NULL), 0);
		rk_raft_advance(r, &rd);
	}
	rk_raft_free(r);
}

/* The caller may take a prefix of the committed entries; the rest comes in the next Ready. */
static void test_committed_prefix(void)
{
	struct rk_raft *r = elected(8, 1 << 20);
	struct rk_ready rd;

	CU_ASSERT_EQUAL_FATAL(r->state, RK_LEADER);
	commit_n(r, 10); /* entries 2..11 */
	rk_raft_ready(r, &rd);
	CU_ASSERT_EQUAL_FATAL(rd.n_committed, 10);
	CU_ASSERT_EQUAL(rd.committed[0].index, 2);
	rd.n_committed = 3; /* take entries 2..4 only */
	rk_raft_advance(r, &rd);
	CU_ASSERT_TRUE(rk_raft_has_ready(r));
	rk_raft_ready(r, &rd);
	CU_ASSERT_EQUAL_FATAL(rd.n_committed, 7);
	CU_ASSERT_EQUAL(rd.committed[0].index, 5);
	CU_ASSERT_EQUAL(rd.committed[6].index, 11);
	rk_raft_advance(r, &rd);
	CU_ASSERT_FALSE(rk_raft_has_ready(r));
	rk_raft_free(r);
}

/* Ticks until a fresh follower of a 3-node cluster (no leader ever heard) starts campaigning. */
static unsigned ticks_to_campaign(unsigned e, unsigned max, uint64_t seed)
{
	struct rk_raft_config c;
	struct rk_raft_restore rs = {0};
	struct rk_raft_status st;
	struct rk_ready rd;
	struct rk_raft *r;
	unsigned t = 0;
	int rv;

	rk_raft_config_default(&c, 1);
	c.seed = seed;
	c.election_ticks = e;
	c.election_ticks_max = max;
	for (unsigned k = 0; k < 3; k++) {
		rs.snap.conf.m[k].id = k + 1;
		rs.snap.conf.m[k].role = RK_CONF_VOTER;
	}
	rs.snap.conf.n = 3;
	r = rk_raft_new(&c, &rs, &rv);
	CU_ASSERT_PTR_NOT_NULL_FATAL(r);
	for (;;) {
		bool asked = false;

		rk_raft_tick(r);
		t++;
		while (rk_raft_has_ready(r) && rk_raft_ready(r, &rd) == RK_OK) {
			for (size_t i = 0; i < rd.n_msgs; i++)
				asked |= rd.msgs[i].type == RK_MSG_PREVOTE || rd.msgs[i].type == RK_MSG_VOTE;
			rk_raft_advance(r, &rd);
		}
		rk_raft_status(r, &st);
		if (asked || st.state != RK_FOLLOWER || t > 1000)
			break;
	}
	rk_raft_free(r);
	return t;
}

/* The election timeout is drawn from [election_ticks, election_ticks_max] when a maximum is
 * set (the server maps election_timeout_min_ms/max_ms onto it), else from [e, 2e). */
static void test_election_timeout_range(void)
{
	unsigned lo = UINT_MAX, hi = 0;

	for (uint64_t seed = 1; seed <= 300; seed++) {
		unsigned t = ticks_to_campaign(10, 40, seed);

		lo = t < lo ? t : lo;
		hi = t > hi ? t : hi;
	}
	CU_ASSERT(lo >= 10);
	CU_ASSERT(hi <= 40);
	CU_ASSERT(hi > 20); /* the range past 2e is really used */
	CU_ASSERT(lo < 15); /* and its low end too */
	lo = UINT_MAX;
	hi = 0;
	for (uint64_t seed = 1; seed <= 300; seed++) {
		unsigned t = ticks_to_campaign(10, 0, seed);

		lo = t < lo ? t : lo;
		hi = t > hi ? t : hi;
	}
	CU_ASSERT(lo >= 10);
	CU_ASSERT(hi <= 19);
	/* A maximum below the minimum is a configuration error. */
	{
		struct rk_raft_config c;
		struct rk_raft_restore rs = {0};
		int rv = RK_OK;

		rk_raft_config_default(&c, 1);
		c.election_ticks_max = 5;
		CU_ASSERT_PTR_NULL(rk_raft_new(&c, &rs, &rv));
		CU_ASSERT_EQUAL(rv, RK_ECONFIG);
	}
}

/* With take_data the core keeps the restored entries' data blocks instead of copying them, and
 * frees every one of them when the start fails too (no leak, no double free). */
static void test_restore_takes_data(void)
{
	for (int fail = 0; fail < 3; fail++) {
		struct rk_entry src[3];
		struct rk_raft_config c;
		struct rk_raft_restore rs = {0};
		struct rk_raft *r;
		int rv = RK_OK;

		rk_mem_count(1);
		for (int j = 0; j < 3; j++) {
			src[j] = (struct rk_entry){ .term = 1, .index = (rk_index)j + 1,
						    .type = RK_ENTRY_NORMAL };
			src[j].data.len = 8;
			src[j].data.base = rk_malloc(8);
			CU_ASSERT_PTR_NOT_NULL_FATAL(src[j].data.base);
			memset(src[j].data.base, 'a' + j, 8);
		}
		rk_raft_config_default(&c, 1);
		rs.snap.conf.n = 1;
		rs.snap.conf.m[0].id = 1;
		rs.snap.conf.m[0].role = RK_CONF_VOTER;
		rs.hs.term = 1;
		rs.entries = src;
		rs.n_entries = 3;
		rs.take_data = true;
		if (fail == 1)
			src[2].index = 7; /* a gap: RK_ECORRUPT after two entries were taken */
		if (fail == 2)
			c.max_inflight = 0; /* RK_ECONFIG before any was */
		r = rk_raft_new(&c, &rs, &rv);
		if (fail == 0) {
			CU_ASSERT_PTR_NOT_NULL_FATAL(r);
			CU_ASSERT_EQUAL(rk_rlog_last(&r->log), 3);
			CU_ASSERT_PTR_EQUAL(rk_rlog_get(&r->log, 2)->data.base, src[1].data.base);
			rk_raft_free(r);
		} else {
			CU_ASSERT_PTR_NULL(r);
			CU_ASSERT_EQUAL(rv, fail == 1 ? RK_ECORRUPT : RK_ECONFIG);
		}
		CU_ASSERT_EQUAL(rk_mem_live(), 0);
		rk_mem_count(0);
	}
}

CU_TestInfo raft_core_tests[] = {
	{"restore_takes_data", test_restore_takes_data},
	{"election_timeout_range", test_election_timeout_range},
	{"pipelining_window", test_pipelining_window},
	{"batching_byte_limit", test_batching_byte_limit},
	{"commit_told_at_next_tick", test_commit_told_at_next_tick},
	{"committed_prefix", test_committed_prefix},
	{"vote_reply_waits_for_persist", test_vote_reply_waits_for_persist},
	{"leader_counts_itself_only_when_durable", test_leader_counts_itself_only_when_durable},
	CU_TEST_INFO_NULL,
};

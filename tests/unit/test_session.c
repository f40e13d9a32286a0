/* test_session.c -- rk_kv_apply: exactly-once sessions, expiry, the applied index. */
#include <stdio.h>

#include "unit/test_store.h"

static void test_duplicate_returns_original(void)
{
	struct rk_kv *kv = ts_new_kv(64, 256, 0, 16);
	struct rk_kv_result res;
	uint64_t d, seq;
	int status;
	char *v;

	CU_ASSERT_EQUAL(ts_apply(kv, 1, RK_KV_PUT, 1, 1, 10, "k", "first", NULL, &res), RK_OK);
	CU_ASSERT_FALSE(res.duplicate);
	d = rk_kv_digest(kv);
	/* The retry carries the same (client, seq); even a different payload changes nothing. */
	CU_ASSERT_EQUAL(ts_apply(kv, 2, RK_KV_PUT, 1, 1, 20, "k", "second", NULL, &res), RK_OK);
	CU_ASSERT_TRUE(res.duplicate);
	v = ts_get(kv, "k");
	CU_ASSERT_STRING_EQUAL(v, "first");
	free(v);
	/* Only the clock moved (it is part of the digest), so compare the data another way. */
	CU_ASSERT_EQUAL(rk_kv_session_get(kv, 1, &seq, &status), RK_OK);
	CU_ASSERT_EQUAL(seq, 1);
	CU_ASSERT_EQUAL(status, RK_OK);
	CU_ASSERT_EQUAL(rk_kv_applied_index(kv), 2);
	(void)d;

	/* An append retried must not append twice. */
	CU_ASSERT_EQUAL(ts_apply(kv, 3, RK_KV_APPEND, 1, 2, 20, "k", "+", NULL, NULL), RK_OK);
	CU_ASSERT_EQUAL(ts_apply(kv, 4, RK_KV_APPEND, 1, 2, 20, "k", "+", NULL, NULL), RK_OK);
	d = rk_kv_digest(kv);
	CU_ASSERT_EQUAL(ts_apply(kv, 5, RK_KV_APPEND, 1, 2, 20, "k", "+", NULL, NULL), RK_OK);
	CU_ASSERT_EQUAL(rk_kv_digest(kv), d); /* same timestamp: nothing at all changed */
	v = ts_get(kv, "k");
	CU_ASSERT_STRING_EQUAL(v, "first+");
	free(v);

	/* Failed results are remembered too. */
	CU_ASSERT_EQUAL(ts_apply(kv, 6, RK_KV_PUT_IF_ABSENT, 1, 3, 20, "k", "x", NULL, NULL),
			RK_EEXISTS);
	CU_ASSERT_EQUAL(ts_apply(kv, 7, RK_KV_DELETE, 2, 1, 20, "k", NULL, NULL, NULL), RK_OK);
	CU_ASSERT_EQUAL(ts_apply(kv, 8, RK_KV_PUT_IF_ABSENT, 1, 3, 20, "k", "x", NULL, &res),
			RK_EEXISTS);
	CU_ASSERT_TRUE(res.duplicate);
	CU_ASSERT_PTR_NULL(ts_get(kv, "k"));

	/* Older than the last: a distinct status; a gap forward is fine. */
	CU_ASSERT_EQUAL(ts_apply(kv, 9, RK_KV_PUT, 1, 2, 20, "k", "x", NULL, &res), RK_ESTALE);
	CU_ASSERT_TRUE(res.duplicate);
	CU_ASSERT_EQUAL(ts_apply(kv, 10, RK_KV_PUT, 1, 10, 20, "k", "y", NULL, NULL), RK_OK);
	/* client 0: no session, applied every time. */
	CU_ASSERT_EQUAL(ts_apply(kv, 11, RK_KV_APPEND, 0, 0, 20, "z", "a", NULL, NULL), RK_OK);
	CU_ASSERT_EQUAL(ts_apply(kv, 12, RK_KV_APPEND, 0, 0, 20, "z", "a", NULL, NULL), RK_OK);
	v = ts_get(kv, "z");
	CU_ASSERT_STRING_EQUAL(v, "aa");
	free(v);
	/* seq 0 with a session is refused and creates no session. */
	CU_ASSERT_EQUAL(ts_apply(kv, 13, RK_KV_PUT, 9, 0, 20, "q", "a", NULL, NULL), RK_EINVAL);
	CU_ASSERT_EQUAL(rk_kv_session_get(kv, 9, &seq, &status), RK_ENOTFOUND);
	rk_kv_free(kv);
}

static void test_applied_index_and_corrupt(void)
{
	struct rk_kv *kv = ts_new_kv(64, 256, 0, 16);
	struct rk_kv_result res;
	static const uint8_t junk[] = {1, 2, 3};
	size_t len;
	uint8_t *buf;

	CU_ASSERT_EQUAL(rk_kv_applied_index(kv), 0);
	CU_ASSERT_EQUAL(rk_kv_apply(kv, 3, junk, sizeof junk, &res), RK_OK);
	CU_ASSERT_EQUAL(res.status, RK_ECORRUPT);
	CU_ASSERT_EQUAL(rk_kv_applied_index(kv), 3);
	buf = ts_encode(RK_KV_PUT, 1, 1, 1, "k", "v", NULL, &len);
	CU_ASSERT_EQUAL(rk_kv_apply(kv, 3, buf, len, &res), RK_EINVAL);
	CU_ASSERT_EQUAL(rk_kv_apply(kv, 2, buf, len, &res), RK_EINVAL);
	CU_ASSERT_PTR_NULL(ts_get(kv, "k"));
	CU_ASSERT_EQUAL(rk_kv_skip(kv, 4), RK_OK);
	CU_ASSERT_EQUAL(rk_kv_skip(kv, 4), RK_EINVAL);
	CU_ASSERT_EQUAL(rk_kv_apply(kv, 5, buf, len, &res), RK_OK);
	CU_ASSERT_EQUAL(res.status, RK_OK);
	CU_ASSERT_EQUAL(rk_kv_applied_index(kv), 5);
	free(buf);
	/* A read through the log returns the value and leaves no session. */
	CU_ASSERT_EQUAL(ts_apply(kv, 6, RK_KV_GET, 0, 0, 2, "k", NULL, NULL, &res), RK_OK);
	CU_ASSERT(res.value.len == 1 && memcmp(res.value.base, "v", 1) == 0);
	rk_kv_result_release(&res);
	CU_ASSERT_EQUAL(ts_apply(kv, 7, RK_KV_GET, 0, 0, 2, "nope", NULL, NULL, &res),
			RK_ENOTFOUND);
	CU_ASSERT_PTR_NULL(res.value.base);
	rk_kv_free(kv);
}

static void test_expiry_by_leader_time(void)
{
	struct rk_kv *kv = ts_new_kv(64, 256, 1000 /* ms */, 16);
	struct rk_kv_stats st;
	uint64_t seq;
	int status;

	CU_ASSERT_EQUAL(ts_apply(kv, 1, RK_KV_PUT, 1, 1, 100, "a", "1", NULL, NULL), RK_OK);
	CU_ASSERT_EQUAL(ts_apply(kv, 2, RK_KV_PUT, 2, 1, 1100, "b", "1", NULL, NULL), RK_OK);
	/* 1100 - 100 = 1000: not more than the timeout, client 1 is still there. */
	CU_ASSERT_EQUAL(rk_kv_session_get(kv, 1, &seq, &status), RK_OK);
	CU_ASSERT_EQUAL(ts_apply(kv, 3, RK_KV_PUT, 2, 2, 1101, "b", "2", NULL, NULL), RK_OK);
	CU_ASSERT_EQUAL(rk_kv_session_get(kv, 1, &seq, &status), RK_ENOTFOUND);
	CU_ASSERT_EQUAL(rk_kv_session_get(kv, 2, &seq, &status), RK_OK);
	/* A new leader with a clock behind: the store clock does not go back, and sessions
	 * are stamped with the store clock. */
	CU_ASSERT_EQUAL(ts_apply(kv, 4, RK_KV_PUT, 3, 1, 50, "c", "1", NULL, NULL), RK_OK);
	rk_kv_stats(kv, &st);
	CU_ASSERT_EQUAL(st.clock_ms, 1101);
	CU_ASSERT_EQUAL(st.sessions, 2);
	/* A retry that arrives after its session expired is applied as new (documented). */
	CU_ASSERT_EQUAL(ts_apply(kv, 5, RK_KV_PUT, 4, 1, 5000, "d", "1", NULL, NULL), RK_OK);
	rk_kv_stats(kv, &st);
	CU_ASSERT_EQUAL(st.sessions, 1); /* 2 and 3 expired */
	/* A live session whose own entry arrives late still deduplicates. */
	CU_ASSERT_EQUAL(ts_apply(kv, 6, RK_KV_PUT, 4, 1, 5900, "d", "x", NULL, NULL), RK_OK);
	CU_ASSERT_EQUAL(rk_kv_session_get(kv, 4, &seq, &status), RK_OK);
	CU_ASSERT_EQUAL(seq, 1);
	rk_kv_free(kv);
}

static void test_bounded_table(void)
{
	struct rk_kv *kv = ts_new_kv(64, 256, 0, 3 /* sessions */);
	struct rk_kv_stats st;
	uint64_t c, seq;
	int status;

	for (c = 1; c <= 3; c++)
		ts_apply(kv, c, RK_KV_PUT, c, 1, 10, "k", "v", NULL, NULL);
	/* Client 1 used again: client 2 is now the least recently used and goes first. */
	ts_apply(kv, 4, RK_KV_PUT, 1, 2, 10, "k", "v", NULL, NULL);
	ts_apply(kv, 5, RK_KV_PUT, 4, 1, 10, "k", "v", NULL, NULL);
	rk_kv_stats(kv, &st);
	CU_ASSERT_EQUAL(st.sessions, 3);
	CU_ASSERT_EQUAL(rk_kv_session_get(kv, 2, &seq, &status), RK_ENOTFOUND);
	CU_ASSERT_EQUAL(rk_kv_session_get(kv, 1, &seq, &status), RK_OK);
	CU_ASSERT_EQUAL(rk_kv_session_get(kv, 3, &seq, &status), RK_OK);
	CU_ASSERT_EQUAL(rk_kv_session_get(kv, 4, &seq, &status), RK_OK);
	rk_kv_free(kv);
}

/* Two replicas fed the same entries: random ops, retries, stale requests, leader clocks that
 * jump back and forth. Everything observable must match. */
static void test_replicas_agree(void)
{
	struct rk_kv *a = ts_new_kv(16, 64, 300, 20);
	struct rk_kv *b = ts_new_kv(16, 64, 300, 20);
	struct rk_kv_result ra, rb;
	struct rk_kv_stats sa, sb;
	uint64_t seed = 99, lastseq[40] = {0}, ts = 1000, sqa, sqb;
	char key[8], val[8], exp[8];
	uint8_t *buf;
	size_t len;
	int i, stat_a, stat_b, ga, gb, mismatches = 0;

	for (i = 1; i <= 20000; i++) {
		uint64_t client = 1 + ts_rand(&seed) % 40;
		uint64_t r = ts_rand(&seed);
		uint8_t op = (uint8_t)(2 + r % 6);
		uint64_t seq;

		if (r % 10 == 0 && lastseq[client - 1] > 0)
			seq = lastseq[client - 1] - (r / 10) % 2; /* retry or stale */
		else
			seq = ++lastseq[client - 1];
		ts += (ts_rand(&seed) % 20);
		snprintf(key, sizeof key, "k%u", (unsigned)(ts_rand(&seed) % 50));
		snprintf(val, sizeof val, "v%u", (unsigned)(ts_rand(&seed) % 5));
		snprintf(exp, sizeof exp, "v%u", (unsigned)(ts_rand(&seed) % 5));
		buf = ts_encode(op, client, seq, ts - (ts_rand(&seed) % 100), key,
				op == RK_KV_DELETE ? NULL : val, op == RK_KV_CAS ? exp : NULL, &len);
		CU_ASSERT_EQUAL(rk_kv_apply(a, (uint64_t)i, buf, len, &ra), RK_OK);
		CU_ASSERT_EQUAL(rk_kv_apply(b, (uint64_t)i, buf, len, &rb), RK_OK);
		mismatches += ra.status != rb.status || ra.duplicate != rb.duplicate;
		free(buf);
	}
	CU_ASSERT_EQUAL(mismatches, 0);
	CU_ASSERT_EQUAL(rk_kv_digest(a), rk_kv_digest(b));
	rk_kv_stats(a, &sa);
	rk_kv_stats(b, &sb);
	CU_ASSERT_EQUAL(sa.sessions, sb.sessions);
	CU_ASSERT(sa.sessions <= 20);
	CU_ASSERT_EQUAL(sa.keys, sb.keys);
	for (i = 1; i <= 40; i++) {
		ga = rk_kv_session_get(a, (uint64_t)i, &sqa, &stat_a);
		gb = rk_kv_session_get(b, (uint64_t)i, &sqb, &stat_b);
		CU_ASSERT_EQUAL(ga, gb);
		if (ga == RK_OK && gb == RK_OK)
			CU_ASSERT(sqa == sqb && stat_a == stat_b);
	}
	rk_kv_free(a);
	rk_kv_free(b);
}

/* Every op through rk_kv_apply against a reference model: statuses and final contents. */
#define MKEYS 24
#define MAXV 12

struct mval {
	bool present;
	size_t len;
	char v[MAXV];
};

static int model_apply(struct mval *m, uint8_t op, const char *val, const char *exp)
{
	size_t vl = val ? strlen(val) : 0, xl = exp ? strlen(exp) : 0;

	if (vl > MAXV || xl > MAXV)
		return RK_ETOOLARGE;
	switch (op) {
	case RK_KV_PUT:
		break;
	case RK_KV_PUT_IF_ABSENT:
		if (m->present)
			return RK_EEXISTS;
		break;
	case RK_KV_UPDATE:
		if (!m->present)
			return RK_ENOTFOUND;
		break;
	case RK_KV_DELETE:
		if (!m->present)
			return RK_ENOTFOUND;
		m->present = false;
		return RK_OK;
	case RK_KV_APPEND:
		if (!m->present)
			break;
		if (m->len + vl > MAXV)
			return RK_ETOOLARGE;
		memcpy(m->v + m->len, val, vl);
		m->len += vl;
		return RK_OK;
	case RK_KV_CAS:
		if (!m->present)
			return RK_ENOTFOUND;
		if (m->len != xl || memcmp(m->v, exp, xl) != 0)
			return RK_ECASFAILED;
		break;
	default:
		return m->present ? RK_OK : RK_ENOTFOUND;
	}
	m->present = true;
	m->len = vl;
	memcpy(m->v, val, vl);
	return RK_OK;
}

static void test_apply_matches_model(void)
{
	static const char *vals[] = {"", "a", "bb", "cccc", "dddddd", "0123456789", "0123456789ab",
				     "0123456789abc"};
	struct rk_kv *kv = ts_new_kv(8, MAXV, 0, 16);
	struct mval m[MKEYS];
	struct rk_kv_result res;
	struct rk_buf b;
	uint64_t seed = 2024, idx = 0;
	char key[8], expbuf[MAXV + 1];
	const char *val, *exp;
	int i, k, want, wrong = 0;

	memset(m, 0, sizeof m);
	for (i = 0; i < 30000; i++) {
		uint8_t op = (uint8_t)(1 + ts_rand(&seed) % 7);

		k = (int)(ts_rand(&seed) % MKEYS);
		snprintf(key, sizeof key, "k%d", k);
		val = vals[ts_rand(&seed) % 8];
		exp = vals[ts_rand(&seed) % 8];
		if (op == RK_KV_CAS && m[k].present && ts_rand(&seed) % 2) {
			memcpy(expbuf, m[k].v, m[k].len); /* often the right expectation */
			expbuf[m[k].len] = '\0';
			exp = expbuf;
		}
		if (op == RK_KV_GET || op == RK_KV_DELETE)
			val = NULL;
		if (op != RK_KV_CAS)
			exp = NULL;
		want = model_apply(&m[k], op, val, exp);
		if (ts_apply(kv, ++idx, op, 0, 0, 1, key, val, exp, &res) != want)
			wrong++;
		if (op == RK_KV_GET && want == RK_OK &&
		    (res.value.len != m[k].len ||
		     (m[k].len && memcmp(res.value.base, m[k].v, m[k].len) != 0)))
			wrong++;
		rk_kv_result_release(&res);
	}
	CU_ASSERT_EQUAL(wrong, 0);
	for (k = 0; k < MKEYS; k++) {
		snprintf(key, sizeof key, "k%d", k);
		if (rk_kv_get(kv, key, strlen(key), &b) == RK_OK) {
			CU_ASSERT(m[k].present && b.len == m[k].len &&
				  (b.len == 0 || memcmp(b.base, m[k].v, b.len) == 0));
			rk_free(b.base);
		} else {
			CU_ASSERT_FALSE(m[k].present);
		}
	}
	rk_kv_free(kv);
}

CU_TestInfo test_session_tests[] = {
	{"duplicate_returns_original", test_duplicate_returns_original},
	{"applied_index_and_corrupt", test_applied_index_and_corrupt},
	{"expiry_by_leader_time", test_expiry_by_leader_time},
	{"bounded_table", test_bounded_table},
	{"replicas_agree", test_replicas_agree},
	{"apply_matches_model", test_apply_matches_model},
	CU_TEST_INFO_NULL,
};

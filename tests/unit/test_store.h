/* test_store.h -- helpers shared by the suites of tests/test_store. */
#ifndef RK_TESTS_TEST_STORE_H
#define RK_TESTS_TEST_STORE_H

#include <CUnit/CUnit.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "common/mem.h"
#include "store/kv.h"

extern CU_TestInfo test_kv_tests[];
extern CU_TestInfo test_skiplist_tests[];
extern CU_TestInfo test_cmd_tests[];
extern CU_TestInfo test_session_tests[];
extern CU_TestInfo test_snapshot_tests[];
extern CU_TestInfo test_stress_tests[];

/* A store with small limits so that size checks are cheap to reach. */
static inline struct rk_kv *ts_new_kv(uint32_t max_key, uint32_t max_value,
				      uint64_t timeout_ms, uint32_t max_sessions)
{
	struct rk_kv_config cfg;
	struct rk_kv *kv = NULL;

	rk_kv_config_default(&cfg);
	cfg.limits.max_key = max_key;
	cfg.limits.max_value = max_value;
	cfg.session_timeout_ms = timeout_ms;
	cfg.max_sessions = max_sessions;
	CU_ASSERT_FATAL(rk_kv_new(&cfg, &kv) == RK_OK);
	return kv;
}

/* Encode a command into a fresh malloc'ed buffer; returns owned, sets *len. */
static inline uint8_t *ts_encode(uint8_t op, uint64_t client, uint64_t seq, uint64_t ts,
				 const char *key, const char *val, const char *exp, size_t *len)
{
	struct rk_kv_cmd c = {
		.op = op,
		.client_id = client,
		.seq = seq,
		.ts_ms = ts,
		.key = (const uint8_t *)key,
		.key_len = key ? strlen(key) : 0,
		.value = (const uint8_t *)val,
		.value_len = val ? strlen(val) : 0,
		.expected = (const uint8_t *)exp,
		.expected_len = exp ? strlen(exp) : 0,
	};
	size_t n = rk_kv_cmd_size(&c);
	uint8_t *buf = malloc(n);

	CU_ASSERT_FATAL(buf != NULL);
	CU_ASSERT_FATAL(rk_kv_cmd_encode(&c, buf, n, len) == RK_OK);
	return buf;
}

/* Apply one command at @index; returns the result status (asserts rk_kv_apply succeeded). */
static inline int ts_apply(struct rk_kv *kv, uint64_t index, uint8_t op, uint64_t client,
			   uint64_t seq, uint64_t ts, const char *key, const char *val,
			   const char *exp, struct rk_kv_result *out)
{
	struct rk_kv_result res;
	size_t len;
	uint8_t *buf = ts_encode(op, client, seq, ts, key, val, exp, &len);
	int rv = rk_kv_apply(kv, index, buf, len, &res);

	free(buf);
	CU_ASSERT_EQUAL_FATAL(rv, RK_OK);
	if (out != NULL)
		*out = res;
	else
		rk_kv_result_release(&res);
	return res.status;
}

/* Value of @key as a NUL-terminated malloc'ed string, or NULL when absent. */
static inline char *ts_get(struct rk_kv *kv, const char *key)
{
	struct rk_buf b;
	char *s;

	if (rk_kv_get(kv, key, strlen(key), &b) != RK_OK)
		return NULL;
	s = malloc(b.len + 1);
	if (b.len)
		memcpy(s, b.base, b.len);
	s[b.len] = '\0';
	rk_free(b.base);
	return s;
}

/* Deterministic PRNG for tests (xorshift64*). */
static inline uint64_t ts_rand(uint64_t *s)
{
	uint64_t x = *s;

	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	*s = x;
	return x * 0x2545f4914f6cdd1dULL;
}

#endif

/* test_cmd.c -- command encoding: round trips, field rules, and garbage that must not crash. */
#include "unit/test_store.h"

static void test_round_trip(void)
{
	static const uint8_t key[] = {'k', 0, 'y'}, val[] = {0, 1, 2, 0}, exp[] = {9};
	uint8_t buf[128];
	struct rk_kv_cmd c = {
		.op = RK_KV_CAS,
		.client_id = 0x0102030405060708ULL,
		.seq = 42,
		.ts_ms = 1700000000123ULL,
		.key = key,
		.key_len = sizeof key,
		.value = val,
		.value_len = sizeof val,
		.expected = exp,
		.expected_len = sizeof exp,
	};
	struct rk_kv_cmd d;
	size_t len;

	CU_ASSERT_EQUAL(rk_kv_cmd_size(&c), RK_KV_CMD_HEADER + 8);
	CU_ASSERT_EQUAL_FATAL(rk_kv_cmd_encode(&c, buf, sizeof buf, &len), RK_OK);
	CU_ASSERT_EQUAL(len, RK_KV_CMD_HEADER + 8);
	/* Little-endian fields at fixed offsets. */
	CU_ASSERT_EQUAL(buf[0], 1);
	CU_ASSERT_EQUAL(buf[1], RK_KV_CAS);
	CU_ASSERT_EQUAL(buf[4], 3);
	CU_ASSERT_EQUAL(buf[16], 0x08);
	CU_ASSERT_EQUAL(buf[23], 0x01);
	CU_ASSERT_EQUAL(buf[24], 42);
	CU_ASSERT_EQUAL_FATAL(rk_kv_cmd_decode(buf, len, &d), RK_OK);
	CU_ASSERT_EQUAL(d.op, RK_KV_CAS);
	CU_ASSERT_EQUAL(d.client_id, c.client_id);
	CU_ASSERT_EQUAL(d.seq, 42);
	CU_ASSERT_EQUAL(d.ts_ms, c.ts_ms);
	CU_ASSERT(d.key_len == 3 && memcmp(d.key, key, 3) == 0);
	CU_ASSERT(d.value_len == 4 && memcmp(d.value, val, 4) == 0);
	CU_ASSERT(d.expected_len == 1 && d.expected[0] == 9);
	CU_ASSERT_PTR_EQUAL(d.key, buf + RK_KV_CMD_HEADER); /* zero-copy */
	/* Too small a buffer. */
	CU_ASSERT_EQUAL(rk_kv_cmd_encode(&c, buf, len - 1, &len), RK_EINVAL);
}

static void test_every_op(void)
{
	uint8_t op;
	size_t len;
	struct rk_kv_cmd d;
	uint8_t *buf;

	for (op = RK_KV_GET; op <= RK_KV_CAS; op++) {
		bool has_val = op != RK_KV_GET && op != RK_KV_DELETE;

		buf = ts_encode(op, 3, 4, 5, "key", has_val ? "value" : NULL,
				op == RK_KV_CAS ? "old" : NULL, &len);
		CU_ASSERT_EQUAL(rk_kv_cmd_decode(buf, len, &d), RK_OK);
		CU_ASSERT_EQUAL(d.op, op);
		CU_ASSERT_EQUAL(d.value_len, has_val ? 5 : 0);
		free(buf);
	}
}

static void test_field_rules(void)
{
	uint8_t buf[128];
	size_t len;
	struct rk_kv_cmd d, c = {.op = RK_KV_DELETE, .key = (const uint8_t *)"k", .key_len = 1,
				 .value = (const uint8_t *)"v", .value_len = 1};

	CU_ASSERT_EQUAL(rk_kv_cmd_encode(&c, buf, sizeof buf, &len), RK_EINVAL);
	c.op = RK_KV_PUT;
	c.expected = (const uint8_t *)"x";
	c.expected_len = 1;
	CU_ASSERT_EQUAL(rk_kv_cmd_encode(&c, buf, sizeof buf, &len), RK_EINVAL);
	c.op = 0;
	CU_ASSERT_EQUAL(rk_kv_cmd_encode(&c, buf, sizeof buf, &len), RK_EINVAL);
	c.op = 8;
	CU_ASSERT_EQUAL(rk_kv_cmd_encode(&c, buf, sizeof buf, &len), RK_EINVAL);
	/* A valid encoding, then each header field broken in turn. */
	c.op = RK_KV_PUT;
	c.expected_len = 0;
	CU_ASSERT_EQUAL_FATAL(rk_kv_cmd_encode(&c, buf, sizeof buf, &len), RK_OK);
	buf[0] = 2;
	CU_ASSERT_EQUAL(rk_kv_cmd_decode(buf, len, &d), RK_ECORRUPT);
	buf[0] = 1;
	buf[2] = 1;
	CU_ASSERT_EQUAL(rk_kv_cmd_decode(buf, len, &d), RK_ECORRUPT);
	buf[2] = 0;
	buf[1] = RK_KV_DELETE; /* a delete may not carry a value */
	CU_ASSERT_EQUAL(rk_kv_cmd_decode(buf, len, &d), RK_ECORRUPT);
	buf[1] = RK_KV_PUT;
	CU_ASSERT_EQUAL(rk_kv_cmd_decode(buf, len - 1, &d), RK_ECORRUPT);
	buf[len] = 0;
	CU_ASSERT_EQUAL(rk_kv_cmd_decode(buf, len + 1, &d), RK_ECORRUPT);
	buf[4] = 0xff; /* key length far past the end */
	CU_ASSERT_EQUAL(rk_kv_cmd_decode(buf, len, &d), RK_ECORRUPT);
	CU_ASSERT_EQUAL(rk_kv_cmd_decode(NULL, 0, &d), RK_ECORRUPT);
	CU_ASSERT_EQUAL(rk_kv_cmd_decode(buf, 10, &d), RK_ECORRUPT);
}

static void test_validate(void)
{
	struct rk_kv_limits lim = {.max_key = 3, .max_value = 4};
	struct rk_kv_cmd c = {.op = RK_KV_PUT, .client_id = 1, .seq = 1,
			      .key = (const uint8_t *)"abc", .key_len = 3,
			      .value = (const uint8_t *)"1234", .value_len = 4};

	CU_ASSERT_EQUAL(rk_kv_cmd_validate(&lim, &c), RK_OK);
	c.seq = 0;
	CU_ASSERT_EQUAL(rk_kv_cmd_validate(&lim, &c), RK_EINVAL);
	c.client_id = 0; /* no session: seq does not matter */
	CU_ASSERT_EQUAL(rk_kv_cmd_validate(&lim, &c), RK_OK);
	c.key_len = 4;
	CU_ASSERT_EQUAL(rk_kv_cmd_validate(&lim, &c), RK_ETOOLARGE);
	c.key_len = 3;
	c.value_len = 5;
	CU_ASSERT_EQUAL(rk_kv_cmd_validate(&lim, &c), RK_ETOOLARGE);
	c.op = RK_KV_CAS;
	c.value_len = 1;
	c.expected = (const uint8_t *)"12345";
	c.expected_len = 5;
	CU_ASSERT_EQUAL(rk_kv_cmd_validate(&lim, &c), RK_ETOOLARGE);
}

static void test_random_bytes(void)
{
	/* Pure garbage, then valid encodings with random bytes flipped: decode either refuses
	 * cleanly or returns views inside the buffer; ASan catches any stray read. */
	uint64_t seed = 12345;
	struct rk_kv_cmd d;
	uint8_t *buf;
	size_t len, i, n, ok = 0;
	int round, rv;

	for (round = 0; round < 4000; round++) {
		n = (size_t)(ts_rand(&seed) % 96);
		buf = malloc(n ? n : 1);
		for (i = 0; i < n; i++)
			buf[i] = (uint8_t)ts_rand(&seed);
		if (round % 2 == 0 && n > 0)
			buf[0] = 1; /* get past the version byte more often */
		rv = rk_kv_cmd_decode(buf, n, &d);
		CU_ASSERT(rv == RK_OK || rv == RK_ECORRUPT);
		if (rv == RK_OK)
			CU_ASSERT(d.expected + d.expected_len == buf + n);
		free(buf);
	}
	for (round = 0; round < 4000; round++) {
		buf = ts_encode((uint8_t)(1 + round % 7), 9, 9, 9, "some-key",
				round % 7 == 0 || round % 7 == 4 ? NULL : "v",
				round % 7 == 6 ? "e" : NULL, &len);
		buf[ts_rand(&seed) % len] ^= (uint8_t)(1u << (ts_rand(&seed) % 8));
		rv = rk_kv_cmd_decode(buf, len, &d);
		CU_ASSERT(rv == RK_OK || rv == RK_ECORRUPT);
		ok += rv == RK_OK;
		free(buf);
	}
	CU_ASSERT(ok > 0); /* flips in ids and payload still decode */
}

CU_TestInfo test_cmd_tests[] = {
	{"round_trip", test_round_trip},
	{"every_op", test_every_op},
	{"field_rules", test_field_rules},
	{"validate", test_validate},
	{"random_bytes", test_random_bytes},
	CU_TEST_INFO_NULL,
};

/* test_kv_snapshot.c -- streamed snapshot save/load and its failure modes. */
#include <stdio.h>

#include "unit/test_store.h"

/* An in-memory stream: save appends, load reads back in chunks of awkward sizes. */
struct mstream {
	uint8_t *data;
	size_t len, cap;
	size_t pos;      /* read position */
	size_t chunk;    /* largest read; cycles through odd sizes when 0 */
	size_t calls;
	size_t max_write;
	int fail_write_at; /* fail the Nth write with RK_EIO; 0: never */
};

static int ms_write(void *ctx, const void *buf, size_t len)
{
	struct mstream *m = ctx;

	m->calls++;
	if (m->fail_write_at != 0 && (int)m->calls == m->fail_write_at)
		return RK_EIO;
	if (len > m->max_write)
		m->max_write = len;
	if (m->len + len > m->cap) {
		m->cap = (m->len + len) * 2;
		m->data = realloc(m->data, m->cap);
		CU_ASSERT_FATAL(m->data != NULL);
	}
	memcpy(m->data + m->len, buf, len);
	m->len += len;
	return RK_OK;
}

static int ms_read(void *ctx, void *buf, size_t cap, size_t *got)
{
	static const size_t odd[] = {1, 7, 13, 4093, 3, 65537, 17};
	struct mstream *m = ctx;
	size_t n = m->chunk ? m->chunk : odd[m->calls % 7];

	m->calls++;
	if (n > cap)
		n = cap;
	if (n > m->len - m->pos)
		n = m->len - m->pos;
	memcpy(buf, m->data + m->pos, n);
	m->pos += n;
	*got = n;
	return RK_OK;
}

static void fill(struct rk_kv *kv, int nkeys, int nclients)
{
	char key[32], val[64];
	uint64_t idx = rk_kv_applied_index(kv);
	int i;

	for (i = 0; i < nkeys; i++) {
		snprintf(key, sizeof key, "key:%07d", i);
		snprintf(val, sizeof val, "value-%d-%s", i * 7, i % 3 ? "x" : "");
		CU_ASSERT_EQUAL(rk_kv_put(kv, key, strlen(key), val, i % 11 ? strlen(val) : 0),
				RK_OK);
	}
	/* Binary keys and a NUL-filled value too. */
	CU_ASSERT_EQUAL(rk_kv_put(kv, "\0bin\0", 5, "\0\0\0", 3), RK_OK);
	for (i = 1; i <= nclients; i++) {
		snprintf(key, sizeof key, "s%d", i);
		ts_apply(kv, ++idx, i % 2 ? RK_KV_PUT : RK_KV_PUT_IF_ABSENT, (uint64_t)i,
			 (uint64_t)i * 3, 1000 + (uint64_t)i, key, "v", NULL, NULL);
	}
}

static struct rk_kv *fresh(void)
{
	return ts_new_kv(64, 1 << 20, 1u << 30, 1000);
}

static void test_round_trip_100k(void)
{
	struct rk_kv *a = fresh(), *b = fresh();
	struct mstream m = {0};
	struct rk_kv_stats sa, sb;
	uint64_t sq;
	int status;

	fill(a, 100000, 300);
	CU_ASSERT_EQUAL_FATAL(rk_kv_snapshot_save(a, ms_write, &m), RK_OK);
	CU_ASSERT(m.max_write <= 64 * 1024);
	CU_ASSERT(m.calls > 10); /* it streamed */
	m.calls = 0;
	CU_ASSERT_EQUAL_FATAL(rk_kv_snapshot_load(b, ms_read, &m), RK_OK);
	CU_ASSERT_EQUAL(rk_kv_digest(a), rk_kv_digest(b));
	rk_kv_stats(a, &sa);
	rk_kv_stats(b, &sb);
	CU_ASSERT_EQUAL(sa.keys, sb.keys);
	CU_ASSERT_EQUAL(sa.sessions, 300);
	CU_ASSERT_EQUAL(sb.sessions, 300);
	CU_ASSERT_EQUAL(sa.applied, sb.applied);
	CU_ASSERT_EQUAL(sa.clock_ms, sb.clock_ms);
	CU_ASSERT_EQUAL(sa.value_bytes, sb.value_bytes);
	CU_ASSERT_EQUAL(rk_kv_session_get(b, 7, &sq, &status), RK_OK);
	CU_ASSERT_EQUAL(sq, 21);
	/* The restored store keeps working: a retry is still a duplicate, new keys go in. */
	CU_ASSERT_EQUAL(ts_apply(b, sb.applied + 1, RK_KV_PUT, 7, 21, 5000, "s7", "w", NULL,
				 NULL), RK_OK);
	CU_ASSERT_EQUAL(rk_kv_put(b, "zzz", 3, "1", 1), RK_OK);
	CU_ASSERT_EQUAL(rk_kv_delete(b, "key:0000005", 11), RK_OK);
	free(m.data);
	rk_kv_free(a);
	rk_kv_free(b);
}

static void test_large_values_and_empty(void)
{
	struct rk_kv *a = fresh(), *b = fresh(), *c = fresh();
	struct mstream m = {0}, e = {0};
	static uint8_t big[300000];
	size_t i;

	for (i = 0; i < sizeof big; i++)
		big[i] = (uint8_t)(i * 31);
	CU_ASSERT_EQUAL(rk_kv_put(a, "big", 3, big, sizeof big), RK_OK);
	CU_ASSERT_EQUAL(rk_kv_put(a, "small", 5, "s", 1), RK_OK);
	CU_ASSERT_EQUAL(rk_kv_snapshot_save(a, ms_write, &m), RK_OK);
	m.chunk = 1000;
	CU_ASSERT_EQUAL(rk_kv_snapshot_load(b, ms_read, &m), RK_OK);
	CU_ASSERT_EQUAL(rk_kv_digest(a), rk_kv_digest(b));
	/* An empty store round-trips, and loading it empties a full one. */
	CU_ASSERT_EQUAL(rk_kv_snapshot_save(c, ms_write, &e), RK_OK);
	CU_ASSERT_EQUAL(rk_kv_snapshot_load(b, ms_read, &e), RK_OK);
	CU_ASSERT_EQUAL(rk_kv_digest(b), rk_kv_digest(c));
	free(m.data);
	free(e.data);
	rk_kv_free(a);
	rk_kv_free(b);
	rk_kv_free(c);
}

/* Load @len bytes of @src into a store holding one key; expect @want and no change. */
static void load_bad(const uint8_t *src, size_t len, int want)
{
	struct rk_kv *kv = fresh();
	struct mstream m = {.data = (uint8_t *)src, .len = len};
	uint64_t before;

	CU_ASSERT_EQUAL(rk_kv_put(kv, "keep", 4, "me", 2), RK_OK);
	before = rk_kv_digest(kv);
	rk_mem_count(1);
	CU_ASSERT_EQUAL(rk_kv_snapshot_load(kv, ms_read, &m), want);
	CU_ASSERT_EQUAL(rk_mem_live(), 0);
	rk_mem_count(0);
	CU_ASSERT_EQUAL(rk_kv_digest(kv), before);
	rk_kv_free(kv);
}

static void test_truncated_and_corrupt(void)
{
	struct rk_kv *a = fresh();
	struct mstream m = {0};
	uint64_t seed = 5;
	uint8_t *copy;
	size_t cut, i;

	fill(a, 200, 5);
	CU_ASSERT_EQUAL_FATAL(rk_kv_snapshot_save(a, ms_write, &m), RK_OK);
	/* Every prefix is refused (the stream is a few KiB: try them all). */
	for (cut = 0; cut < m.len; cut += 1 + cut / 64)
		load_bad(m.data, cut, RK_ECORRUPT);
	load_bad(m.data, m.len - 1, RK_ECORRUPT);
	/* Trailing garbage. */
	copy = malloc(m.len + 1);
	memcpy(copy, m.data, m.len);
	copy[m.len] = 0;
	load_bad(copy, m.len + 1, RK_ECORRUPT);
	/* Single bit flips anywhere: the checksum or a structural check catches each. */
	for (i = 0; i < 300; i++) {
		size_t at = (size_t)(ts_rand(&seed) % m.len);

		memcpy(copy, m.data, m.len);
		copy[at] ^= (uint8_t)(1u << (ts_rand(&seed) % 8));
		load_bad(copy, m.len, RK_ECORRUPT);
	}
	/* Garbage that starts with the right magic and a huge key count. */
	memcpy(copy, m.data, m.len);
	memset(copy + 32, 0xff, 8);
	load_bad(copy, m.len, RK_ECORRUPT);
	/* Pure garbage. */
	for (i = 0; i < m.len; i++)
		copy[i] = (uint8_t)ts_rand(&seed);
	load_bad(copy, m.len, RK_ECORRUPT);
	free(copy);
	free(m.data);
	rk_kv_free(a);
}

/* A store whose limits are below the data refuses the stream rather than exceed them. */
static void test_limits_on_load(void)
{
	struct rk_kv *a = fresh(), *small = ts_new_kv(8, 16, 0, 16), *few = ts_new_kv(64, 64, 0, 2);
	struct mstream m = {0};

	CU_ASSERT_EQUAL(rk_kv_put(a, "longer-than-8", 13, "v", 1), RK_OK);
	ts_apply(a, 1, RK_KV_PUT, 1, 1, 5, "x", "1", NULL, NULL);
	ts_apply(a, 2, RK_KV_PUT, 2, 1, 5, "x", "1", NULL, NULL);
	ts_apply(a, 3, RK_KV_PUT, 3, 1, 5, "x", "1", NULL, NULL);
	CU_ASSERT_EQUAL_FATAL(rk_kv_snapshot_save(a, ms_write, &m), RK_OK);
	CU_ASSERT_EQUAL(rk_kv_snapshot_load(small, ms_read, &m), RK_ECORRUPT);
	m.pos = 0;
	CU_ASSERT_EQUAL(rk_kv_snapshot_load(few, ms_read, &m), RK_ECORRUPT); /* 3 sessions > 2 */
	free(m.data);
	rk_kv_free(a);
	rk_kv_free(small);
	rk_kv_free(few);
}

static int read_fails(void *ctx, void *buf, size_t cap, size_t *got)
{
	(void)ctx;
	(void)buf;
	(void)cap;
	*got = 0;
	return RK_EIO;
}

static void test_callback_errors_and_enomem(void)
{
	struct rk_kv *a = fresh(), *b;
	struct mstream m = {0}, w = {.fail_write_at = 2};
	uint64_t before;
	long n;
	int rv = RK_ENOMEM;

	fill(a, 3000, 20);
	CU_ASSERT_EQUAL(rk_kv_snapshot_save(a, ms_write, &w), RK_EIO);
	CU_ASSERT_EQUAL(rk_kv_snapshot_load(a, read_fails, NULL), RK_EIO);
	CU_ASSERT_EQUAL_FATAL(rk_kv_snapshot_save(a, ms_write, &m), RK_OK);
	/* Allocation failures at a spread of points during the load. */
	for (n = 0; rv != RK_OK; n += 1 + n / 8) {
		b = fresh();
		rk_kv_put(b, "keep", 4, "me", 2);
		before = rk_kv_digest(b);
		m.pos = 0;
		rk_mem_count(1);
		rk_mem_fail_after(n);
		rv = rk_kv_snapshot_load(b, ms_read, &m);
		rk_mem_fail_after(-1);
		if (rv != RK_OK) {
			CU_ASSERT_EQUAL(rv, RK_ENOMEM);
			CU_ASSERT_EQUAL(rk_kv_digest(b), before);
			/* Nothing the failed load allocated survives. */
			CU_ASSERT_EQUAL(rk_mem_live(), 0);
		}
		rk_mem_count(0);
		if (rv == RK_OK)
			CU_ASSERT_EQUAL(rk_kv_digest(a), rk_kv_digest(b));
		rk_kv_free(b);
	}
	free(m.data);
	free(w.data);
	rk_kv_free(a);
}

CU_TestInfo test_snapshot_tests[] = {
	{"round_trip_100k", test_round_trip_100k},
	{"large_values_and_empty", test_large_values_and_empty},
	{"truncated_and_corrupt", test_truncated_and_corrupt},
	{"limits_on_load", test_limits_on_load},
	{"callback_errors_and_enomem", test_callback_errors_and_enomem},
	CU_TEST_INFO_NULL,
};

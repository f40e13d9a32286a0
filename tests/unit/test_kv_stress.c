/* test_kv_stress.c -- readers (gets, scans) racing the apply thread; run it under TSan too.
 *
 * Every value is "<key>|<n>" so a reader can tell a torn or mismatched value from a good one.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>

#include "unit/test_store.h"

#define NREADERS 3
#define NKEYS 2000
#define NAPPLY 40000

struct stress {
	struct rk_kv *kv;
	atomic_bool done;
	atomic_long bad;
	atomic_long reads;
};

static bool value_ok(const uint8_t *key, size_t klen, const uint8_t *val, size_t vlen)
{
	size_t i;

	if (vlen < klen + 2 || memcmp(val, key, klen) != 0 || val[klen] != '|')
		return false;
	for (i = klen + 1; i < vlen; i++)
		if (val[i] < '0' || val[i] > '9')
			return false;
	return true;
}

struct scan_state {
	uint8_t prev[32];
	size_t prev_len;
	size_t n;
	bool ok;
};

static int check_pair(void *ctx, const uint8_t *key, size_t klen, const uint8_t *val, size_t vlen)
{
	struct scan_state *s = ctx;
	int c;

	if (klen > sizeof s->prev || !value_ok(key, klen, val, vlen)) {
		s->ok = false;
		return 1;
	}
	if (s->n > 0) {
		c = memcmp(s->prev, key, s->prev_len < klen ? s->prev_len : klen);
		if (c > 0 || (c == 0 && s->prev_len >= klen))
			s->ok = false;
	}
	memcpy(s->prev, key, klen);
	s->prev_len = klen;
	s->n++;
	return 0;
}

static void *reader(void *arg)
{
	struct stress *st = arg;
	uint64_t seed = (uint64_t)(uintptr_t)&seed | 1, last_applied = 0, a;
	struct scan_state ss;
	struct rk_kv_scan scan;
	char key[32];
	struct rk_buf b;
	bool more;
	int rv;

	while (!atomic_load(&st->done)) {
		snprintf(key, sizeof key, "key%05u", (unsigned)(ts_rand(&seed) % NKEYS));
		rv = rk_kv_get(st->kv, key, strlen(key), &b);
		if (rv == RK_OK) {
			if (!value_ok((const uint8_t *)key, strlen(key), b.base, b.len))
				atomic_fetch_add(&st->bad, 1);
			rk_free(b.base);
		} else if (rv != RK_ENOTFOUND) {
			atomic_fetch_add(&st->bad, 1);
		}
		if (ts_rand(&seed) % 8 == 0) {
			memset(&scan, 0, sizeof scan);
			memset(&ss, 0, sizeof ss);
			ss.ok = true;
			snprintf(key, sizeof key, "key%u", (unsigned)(ts_rand(&seed) % 20));
			scan.start = key;
			scan.start_len = strlen(key);
			scan.prefix = ts_rand(&seed) % 2 == 0;
			scan.limit = 1 + ts_rand(&seed) % 200;
			rk_kv_range(st->kv, &scan, check_pair, &ss, &more);
			if (!ss.ok || ss.n > scan.limit || (more && ss.n != scan.limit))
				atomic_fetch_add(&st->bad, 1);
		}
		a = rk_kv_applied_index(st->kv);
		if (a < last_applied)
			atomic_fetch_add(&st->bad, 1);
		last_applied = a;
		atomic_fetch_add(&st->reads, 1);
	}
	return NULL;
}

static void test_readers_vs_apply(void)
{
	struct stress st = {.kv = ts_new_kv(32, 64, 10000, 64)};
	pthread_t th[NREADERS];
	uint64_t seed = 3, i;
	char key[32], val[64];
	uint8_t *buf;
	size_t len;
	int t;

	atomic_init(&st.done, false);
	atomic_init(&st.bad, 0);
	atomic_init(&st.reads, 0);
	for (t = 0; t < NREADERS; t++)
		CU_ASSERT_FATAL(pthread_create(&th[t], NULL, reader, &st) == 0);
	for (i = 1; i <= NAPPLY; i++) {
		unsigned k = (unsigned)(ts_rand(&seed) % NKEYS);
		uint8_t op = ts_rand(&seed) % 4 == 0 ? RK_KV_DELETE : RK_KV_PUT;

		snprintf(key, sizeof key, "key%05u", k);
		snprintf(val, sizeof val, "%s|%llu", key, (unsigned long long)ts_rand(&seed));
		buf = ts_encode(op, 1 + i % 50, 1 + i / 50, i, key, op == RK_KV_PUT ? val : NULL,
				NULL, &len);
		{
			struct rk_kv_result res;

			CU_ASSERT_EQUAL(rk_kv_apply(st.kv, i, buf, len, &res), RK_OK);
			rk_kv_result_release(&res);
		}
		free(buf);
	}
	atomic_store(&st.done, true);
	for (t = 0; t < NREADERS; t++)
		pthread_join(th[t], NULL);
	CU_ASSERT_EQUAL(atomic_load(&st.bad), 0);
	CU_ASSERT(atomic_load(&st.reads) > 0);
	rk_kv_free(st.kv);
}

/* Snapshot save runs on the apply thread while readers go on. */
static int sink(void *ctx, const void *buf, size_t len)
{
	(void)buf;
	*(size_t *)ctx += len;
	return RK_OK;
}

static void test_save_with_readers(void)
{
	struct stress st = {.kv = ts_new_kv(32, 64, 10000, 64)};
	pthread_t th[NREADERS];
	char key[32], val[64];
	size_t total = 0;
	int t, i;

	for (i = 0; i < NKEYS; i++) {
		snprintf(key, sizeof key, "key%05d", i);
		snprintf(val, sizeof val, "%s|%d", key, i);
		rk_kv_put(st.kv, key, strlen(key), val, strlen(val));
	}
	atomic_init(&st.done, false);
	atomic_init(&st.bad, 0);
	atomic_init(&st.reads, 0);
	for (t = 0; t < NREADERS; t++)
		CU_ASSERT_FATAL(pthread_create(&th[t], NULL, reader, &st) == 0);
	for (i = 0; i < 20; i++) {
		CU_ASSERT_EQUAL(rk_kv_snapshot_save(st.kv, sink, &total), RK_OK);
		snprintf(key, sizeof key, "key%05d", i);
		snprintf(val, sizeof val, "%s|%d", key, i * 2);
		rk_kv_put(st.kv, key, strlen(key), val, strlen(val));
	}
	atomic_store(&st.done, true);
	for (t = 0; t < NREADERS; t++)
		pthread_join(th[t], NULL);
	CU_ASSERT_EQUAL(atomic_load(&st.bad), 0);
	CU_ASSERT(total > 0);
	rk_kv_free(st.kv);
}

CU_TestInfo test_stress_tests[] = {
	{"readers_vs_apply", test_readers_vs_apply},
	{"save_with_readers", test_save_with_readers},
	CU_TEST_INFO_NULL,
};

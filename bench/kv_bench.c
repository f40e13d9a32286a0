/* kv_bench.c -- throughput and memory of the store (src/store) for N keys of 16 bytes with
 * 100-byte values (default 1,000,000). Not a test: prints numbers. Build without sanitizers.
 *
 *   bench/kv_bench [nkeys]
 *
 * Memory is the heap in use (mallinfo2) after the load minus before, per key, next to the
 * target of 2 x raw bytes + 64 B per key. Rates are per CPU second (CLOCK_PROCESS_CPUTIME_ID).
 */
#define _GNU_SOURCE
#include <inttypes.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/err.h"
#include "common/mem.h"
#include "store/kv.h"

#define KLEN 16
#define VLEN 100

/* CPU time of this process: the benchmark is single-threaded, and on a shared machine wall
 * time would mostly measure the other tenants. */
static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Key i: 16 hex digits of a bijective scramble of i, so inserts arrive in random order. */
static void make_key(uint64_t i, char *k)
{
	static const char hex[] = "0123456789abcdef";
	uint64_t x = (i + 1) * 0x9e3779b97f4a7c15ULL;
	int j;

	for (j = 0; j < KLEN; j++) {
		k[j] = hex[x & 15];
		x >>= 4;
	}
}

static long statm_rss_pages(void)
{
	long size = 0, rss = 0;
	FILE *f = fopen("/proc/self/statm", "r");

	if (f == NULL)
		return 0;
	if (fscanf(f, "%ld %ld", &size, &rss) != 2)
		rss = 0;
	fclose(f);
	return rss;
}

static int count_fn(void *ctx, const uint8_t *key, size_t klen, const uint8_t *val, size_t vlen)
{
	(void)key;
	(void)val;
	*(size_t *)ctx += klen + vlen;
	return 0;
}

struct membuf {
	uint8_t *data;
	size_t len, cap, pos;
};

static int mb_write(void *ctx, const void *buf, size_t len)
{
	struct membuf *m = ctx;

	if (m->len + len > m->cap) {
		size_t cap = m->cap ? m->cap * 2 : 1 << 20;
		uint8_t *p;

		while (cap < m->len + len)
			cap *= 2;
		p = realloc(m->data, cap);
		if (p == NULL)
			return RK_ENOMEM;
		m->data = p;
		m->cap = cap;
	}
	memcpy(m->data + m->len, buf, len);
	m->len += len;
	return RK_OK;
}

static int mb_read(void *ctx, void *buf, size_t cap, size_t *got)
{
	struct membuf *m = ctx;
	size_t n = m->len - m->pos < cap ? m->len - m->pos : cap;

	memcpy(buf, m->data + m->pos, n);
	m->pos += n;
	*got = n;
	return RK_OK;
}

int main(int argc, char **argv)
{
	uint64_t n = argc > 1 ? strtoull(argv[1], NULL, 10) : 1000000, i, seed = 1;
	struct rk_kv_config cfg;
	struct rk_kv_result res;
	struct rk_kv_stats st;
	struct rk_kv *kv;
	struct rk_buf b;
	struct rk_kv_scan scan;
	char key[KLEN], val[VLEN], start[KLEN];
	uint8_t cmdbuf[256];
	size_t sink = 0, len;
	struct mallinfo2 m0, m1;
	long rss0, rss1;
	double t, per_key, target;
	int rv;

	memset(val, 'v', sizeof val);
	rk_kv_config_default(&cfg);
	m0 = mallinfo2();
	rss0 = statm_rss_pages();
	if (rk_kv_new(&cfg, &kv) != RK_OK)
		return 1;

	t = now_s();
	for (i = 0; i < n; i++) {
		make_key(i, key);
		memcpy(val, &i, sizeof i);
		if (rk_kv_put(kv, key, KLEN, val, VLEN) != RK_OK)
			return 1;
	}
	t = now_s() - t;
	printf("put (insert)      %10.0f ops/s\n", (double)n / t);
	m1 = mallinfo2();
	rss1 = statm_rss_pages();

	t = now_s();
	for (i = 0; i < n; i++) {
		seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
		make_key((seed >> 20) % n, key);
		rv = rk_kv_get(kv, key, KLEN, &b);
		if (rv != RK_OK)
			return 1;
		sink += b.len;
		rk_free(b.base);
	}
	t = now_s() - t;
	printf("get (hit, copy)   %10.0f ops/s\n", (double)n / t);

	t = now_s();
	for (i = 0; i < n; i++) {
		make_key(i ^ 1, key);
		if (rk_kv_get(kv, key, KLEN - 1, &b) != RK_ENOTFOUND)
			return 1;
	}
	t = now_s() - t;
	printf("get (miss)        %10.0f ops/s\n", (double)n / t);

	t = now_s();
	for (i = 0; i < n; i++) {
		seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
		make_key((seed >> 20) % n, key);
		if (rk_kv_put(kv, key, KLEN, val, VLEN) != RK_OK)
			return 1;
	}
	t = now_s() - t;
	printf("put (overwrite)   %10.0f ops/s\n", (double)n / t);

	t = now_s();
	for (i = 0; i < n; i++) {
		struct rk_kv_cmd c = {
			.op = RK_KV_PUT,
			.client_id = 1 + i % 1000,
			.seq = 1 + i / 1000,
			.ts_ms = i,
			.key = (const uint8_t *)key,
			.key_len = KLEN,
			.value = (const uint8_t *)val,
			.value_len = VLEN,
		};

		seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
		make_key((seed >> 20) % n, key);
		if (rk_kv_cmd_encode(&c, cmdbuf, sizeof cmdbuf, &len) != RK_OK ||
		    rk_kv_apply(kv, i + 1, cmdbuf, len, &res) != RK_OK || res.status != RK_OK)
			return 1;
	}
	t = now_s() - t;
	printf("apply (put, 1000 sessions) %10.0f ops/s\n", (double)n / t);

	memset(&scan, 0, sizeof scan);
	t = now_s();
	rk_kv_range(kv, &scan, count_fn, &sink, NULL);
	t = now_s() - t;
	printf("full scan         %10.0f keys/s\n", (double)n / t);

	t = now_s();
	for (i = 0; i < 100000; i++) {
		seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
		make_key((seed >> 20) % n, start);
		scan.start = start;
		scan.start_len = KLEN;
		scan.limit = 100;
		rk_kv_range(kv, &scan, count_fn, &sink, NULL);
	}
	t = now_s() - t;
	printf("range (100 keys)  %10.0f scans/s (%.0f keys/s)\n", 1e5 / t, 1e7 / t);

	{
		struct membuf mb = {0};
		struct rk_kv *copy;
		uint64_t d0, d1;

		t = now_s();
		if (rk_kv_snapshot_save(kv, mb_write, &mb) != RK_OK)
			return 1;
		t = now_s() - t;
		printf("snapshot save     %10.0f keys/s (%.0f MB/s, %zu bytes)\n", (double)n / t,
		       (double)mb.len / t / 1e6, mb.len);
		if (rk_kv_new(&cfg, &copy) != RK_OK)
			return 1;
		t = now_s();
		if (rk_kv_snapshot_load(copy, mb_read, &mb) != RK_OK)
			return 1;
		t = now_s() - t;
		printf("snapshot load     %10.0f keys/s\n", (double)n / t);
		t = now_s();
		d0 = rk_kv_digest(kv);
		t = now_s() - t;
		d1 = rk_kv_digest(copy);
		printf("digest            %10.0f keys/s (%s after load)\n", (double)n / t,
		       d0 == d1 ? "equal" : "DIFFERENT");
		rk_kv_free(copy);
		free(mb.data);
	}

	rk_kv_stats(kv, &st);
	per_key = (double)(m1.uordblks - m0.uordblks) / (double)n;
	if (per_key <= 0.0) {
		/* Sanitizer allocators do not report through mallinfo2: fall back to RSS. */
		printf("(heap statistics unavailable, using RSS)\n");
		per_key = (double)(rss1 - rss0) * 4096.0 / (double)n;
	}
	target = 2.0 * (KLEN + VLEN) + 64;
	printf("memory            %10.1f B/key heap (%.1f B/key RSS), raw %d B/key, target "
	       "%.0f B/key, ratio to target %.2f\n",
	       per_key, (double)(rss1 - rss0) * 4096.0 / (double)n, KLEN + VLEN, target,
	       per_key / target);
	printf("keys %zu, index %zu B, (sink %zu)\n", st.keys, st.index_bytes, sink);
	rk_kv_free(kv);
	return 0;
}

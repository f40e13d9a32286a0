/* test_kv.c -- the store's operations, their error cases, scans and allocation failures. */
#include <stdio.h>

#include "common/check.h"

#include "unit/test_store.h"

#define K(s) (s), strlen(s)

static void test_put_get_overwrite(void)
{
	struct rk_kv *kv = ts_new_kv(64, 256, 0, 16);
	struct rk_buf b;
	char *v;

	CU_ASSERT_EQUAL(rk_kv_get(kv, K("a"), &b), RK_ENOTFOUND);
	CU_ASSERT_EQUAL(rk_kv_put(kv, K("a"), K("one")), RK_OK);
	v = ts_get(kv, "a");
	CU_ASSERT_STRING_EQUAL(v, "one");
	free(v);
	/* Same length (in place) and a different length (new value block). */
	CU_ASSERT_EQUAL(rk_kv_put(kv, K("a"), K("two")), RK_OK);
	v = ts_get(kv, "a");
	CU_ASSERT_STRING_EQUAL(v, "two");
	free(v);
	CU_ASSERT_EQUAL(rk_kv_put(kv, K("a"), K("three!")), RK_OK);
	v = ts_get(kv, "a");
	CU_ASSERT_STRING_EQUAL(v, "three!");
	free(v);
	rk_kv_free(kv);
}

static void test_empty_key_and_value(void)
{
	struct rk_kv *kv = ts_new_kv(64, 256, 0, 16);
	struct rk_buf b;
	struct rk_kv_stats st;

	/* The empty key is refused everywhere; the empty value is a real value. */
	CU_ASSERT_EQUAL(rk_kv_put(kv, "", 0, K("x")), RK_EINVAL);
	CU_ASSERT_EQUAL(rk_kv_get(kv, "", 0, &b), RK_EINVAL);
	CU_ASSERT_EQUAL(rk_kv_delete(kv, "", 0), RK_EINVAL);
	CU_ASSERT_EQUAL(rk_kv_put(kv, K("k"), "", 0), RK_OK);
	CU_ASSERT_EQUAL(rk_kv_get(kv, K("k"), &b), RK_OK);
	CU_ASSERT_EQUAL(b.len, 0);
	CU_ASSERT_PTR_NULL(b.base);
	CU_ASSERT_EQUAL(rk_kv_put_if_absent(kv, K("k"), K("y")), RK_EEXISTS);
	CU_ASSERT_EQUAL(rk_kv_cas(kv, K("k"), "", 0, K("z")), RK_OK);
	CU_ASSERT_EQUAL(rk_kv_cas(kv, K("k"), "", 0, K("w")), RK_ECASFAILED);
	CU_ASSERT_EQUAL(rk_kv_put(kv, K("k"), "", 0), RK_OK);
	CU_ASSERT_EQUAL(rk_kv_append(kv, K("k"), "", 0), RK_OK);
	CU_ASSERT_EQUAL(rk_kv_append(kv, K("k"), K("ab")), RK_OK);
	rk_kv_stats(kv, &st);
	CU_ASSERT_EQUAL(st.keys, 1);
	CU_ASSERT_EQUAL(st.value_bytes, 2);
	rk_kv_free(kv);
}

static void test_conditional_ops(void)
{
	struct rk_kv *kv = ts_new_kv(64, 256, 0, 16);
	char *v;

	CU_ASSERT_EQUAL(rk_kv_update(kv, K("u"), K("1")), RK_ENOTFOUND);
	CU_ASSERT_EQUAL(rk_kv_delete(kv, K("u")), RK_ENOTFOUND);
	CU_ASSERT_EQUAL(rk_kv_cas(kv, K("u"), K("0"), K("1")), RK_ENOTFOUND);
	CU_ASSERT_EQUAL(rk_kv_put_if_absent(kv, K("u"), K("1")), RK_OK);
	CU_ASSERT_EQUAL(rk_kv_put_if_absent(kv, K("u"), K("2")), RK_EEXISTS);
	CU_ASSERT_EQUAL(rk_kv_update(kv, K("u"), K("3")), RK_OK);
	CU_ASSERT_EQUAL(rk_kv_cas(kv, K("u"), K("2"), K("4")), RK_ECASFAILED);
	CU_ASSERT_EQUAL(rk_kv_cas(kv, K("u"), K("33"), K("4")), RK_ECASFAILED);
	v = ts_get(kv, "u");
	CU_ASSERT_STRING_EQUAL(v, "3");
	free(v);
	CU_ASSERT_EQUAL(rk_kv_cas(kv, K("u"), K("3"), K("4")), RK_OK);
	v = ts_get(kv, "u");
	CU_ASSERT_STRING_EQUAL(v, "4");
	free(v);
	CU_ASSERT_EQUAL(rk_kv_append(kv, K("n"), K("ab")), RK_OK); /* creates */
	CU_ASSERT_EQUAL(rk_kv_append(kv, K("n"), K("cd")), RK_OK);
	v = ts_get(kv, "n");
	CU_ASSERT_STRING_EQUAL(v, "abcd");
	free(v);
	CU_ASSERT_EQUAL(rk_kv_delete(kv, K("u")), RK_OK);
	CU_ASSERT_EQUAL(rk_kv_delete(kv, K("u")), RK_ENOTFOUND);
	CU_ASSERT_PTR_NULL(ts_get(kv, "u"));
	rk_kv_free(kv);
}

static void test_size_limits(void)
{
	struct rk_kv *kv = ts_new_kv(4, 8, 0, 16);
	struct rk_kv_cmd c = {.op = RK_KV_PUT, .client_id = 1, .seq = 1};
	char *v;

	CU_ASSERT_EQUAL(rk_kv_put(kv, K("12345"), K("v")), RK_ETOOLARGE);
	CU_ASSERT_EQUAL(rk_kv_put(kv, K("1234"), K("123456789")), RK_ETOOLARGE);
	CU_ASSERT_EQUAL(rk_kv_put(kv, K("1234"), K("12345678")), RK_OK);
	CU_ASSERT_EQUAL(rk_kv_append(kv, K("1234"), K("9")), RK_ETOOLARGE);
	CU_ASSERT_EQUAL(rk_kv_append(kv, K("ab"), K("123456789")), RK_ETOOLARGE);
	CU_ASSERT_EQUAL(rk_kv_cas(kv, K("1234"), K("123456789"), K("x")), RK_ETOOLARGE);
	v = ts_get(kv, "1234");
	CU_ASSERT_STRING_EQUAL(v, "12345678");
	free(v);
	CU_ASSERT_PTR_NULL(ts_get(kv, "ab"));

	/* The pre-proposal check gives the same answers. */
	c.key = (const uint8_t *)"12345";
	c.key_len = 5;
	CU_ASSERT_EQUAL(rk_kv_validate(kv, &c), RK_ETOOLARGE);
	c.key_len = 4;
	c.value = (const uint8_t *)"123456789";
	c.value_len = 9;
	CU_ASSERT_EQUAL(rk_kv_validate(kv, &c), RK_ETOOLARGE);
	c.value_len = 8;
	CU_ASSERT_EQUAL(rk_kv_validate(kv, &c), RK_OK);
	c.key_len = 0;
	CU_ASSERT_EQUAL(rk_kv_validate(kv, &c), RK_EINVAL);

	/* Apply enforces them too, and append growth fails the same way on every replica. */
	CU_ASSERT_EQUAL(ts_apply(kv, 1, RK_KV_APPEND, 1, 1, 10, "1234", "x", NULL, NULL),
			RK_ETOOLARGE);
	CU_ASSERT_EQUAL(ts_apply(kv, 2, RK_KV_PUT, 1, 2, 10, "123456", "x", NULL, NULL),
			RK_ETOOLARGE);
	rk_kv_free(kv);
}

/* ---- scans ---- */

struct collect {
	char out[4096]; /* "key=value," for each visited pair; NULs shown as '0' */
	size_t n;
	int stop_after; /* 0: never */
	int seen;
};

static void put_printable(struct collect *c, const uint8_t *p, size_t n)
{
	size_t i;

	for (i = 0; i < n && c->n + 1 < sizeof c->out; i++)
		c->out[c->n++] = p[i] ? (char)p[i] : '0';
	c->out[c->n] = '\0';
}

static int collect_fn(void *ctx, const uint8_t *key, size_t klen, const uint8_t *val,
		      size_t vlen)
{
	struct collect *c = ctx;

	put_printable(c, key, klen);
	if (val != NULL) {
		put_printable(c, (const uint8_t *)"=", 1);
		put_printable(c, val, vlen);
	}
	put_printable(c, (const uint8_t *)",", 1);
	c->seen++;
	return c->stop_after != 0 && c->seen == c->stop_after ? 99 : 0;
}

static const char *scan(struct rk_kv *kv, const char *start, size_t slen, const char *end,
			size_t elen, bool prefix, size_t limit, bool *more, struct collect *c)
{
	struct rk_kv_scan s = {
		.start = start,
		.start_len = slen,
		.end = end,
		.end_len = elen,
		.prefix = prefix,
		.keys_only = true,
		.limit = limit,
	};

	memset(c, 0, sizeof *c);
	CU_ASSERT_EQUAL(rk_kv_range(kv, &s, collect_fn, c, more), RK_OK);
	return c->out;
}

static void test_binary_keys_and_order(void)
{
	struct rk_kv *kv = ts_new_kv(64, 256, 0, 16);
	static const struct {
		const char *k;
		size_t n;
	} keys[] = {
		{"b", 1}, {"a", 1}, {"a\0", 2}, {"a\0b", 3}, {"ab", 2}, {"abc", 3},
		{"\0", 1}, {"\0\0", 2}, {"\xff", 1}, {"aa", 2},
	};
	struct collect c;
	struct rk_buf b;
	bool more;
	size_t i;

	for (i = 0; i < RK_ARRAY_SIZE(keys); i++)
		CU_ASSERT_EQUAL(rk_kv_put(kv, keys[i].k, keys[i].n, keys[i].k, keys[i].n), RK_OK);
	/* Keys differing only after a NUL are distinct. */
	CU_ASSERT_EQUAL(rk_kv_get(kv, "a\0b", 3, &b), RK_OK);
	CU_ASSERT_EQUAL(b.len, 3);
	CU_ASSERT(memcmp(b.base, "a\0b", 3) == 0);
	rk_free(b.base);
	CU_ASSERT_EQUAL(rk_kv_get(kv, "a\0c", 3, &b), RK_ENOTFOUND);
	/* Byte order: memcmp, then shorter first. */
	CU_ASSERT_STRING_EQUAL(scan(kv, NULL, 0, NULL, 0, false, 0, &more, &c),
			       "0,00,a,a0,a0b,aa,ab,abc,b,\xff,");
	CU_ASSERT_FALSE(more);
	/* [a, ab) */
	CU_ASSERT_STRING_EQUAL(scan(kv, "a", 1, "ab", 2, false, 0, &more, &c), "a,a0,a0b,aa,");
	/* Prefix "a": every key starting with it, including "a" itself. */
	CU_ASSERT_STRING_EQUAL(scan(kv, "a", 1, NULL, 0, true, 0, &more, &c),
			       "a,a0,a0b,aa,ab,abc,");
	CU_ASSERT_STRING_EQUAL(scan(kv, "a\0", 2, NULL, 0, true, 0, &more, &c), "a0,a0b,");
	CU_ASSERT_STRING_EQUAL(scan(kv, "\0", 1, NULL, 0, true, 0, &more, &c), "0,00,");
	CU_ASSERT_STRING_EQUAL(scan(kv, "zz", 2, NULL, 0, true, 0, &more, &c), "");
	/* Limits and the more flag. */
	CU_ASSERT_STRING_EQUAL(scan(kv, "a", 1, NULL, 0, true, 3, &more, &c), "a,a0,a0b,");
	CU_ASSERT_TRUE(more);
	CU_ASSERT_STRING_EQUAL(scan(kv, "a", 1, NULL, 0, true, 6, &more, &c),
			       "a,a0,a0b,aa,ab,abc,");
	CU_ASSERT_FALSE(more); /* exactly at the limit with nothing after: no more */
	CU_ASSERT_STRING_EQUAL(scan(kv, "a", 1, "b", 1, false, 6, &more, &c),
			       "a,a0,a0b,aa,ab,abc,");
	CU_ASSERT_FALSE(more);
	CU_ASSERT_STRING_EQUAL(scan(kv, "a", 1, "b", 1, false, 5, &more, &c), "a,a0,a0b,aa,ab,");
	CU_ASSERT_TRUE(more);
	/* Start between keys, an end before the start, an end equal to the start. */
	CU_ASSERT_STRING_EQUAL(scan(kv, "a\0a", 3, "ab", 2, false, 0, &more, &c), "a0b,aa,");
	CU_ASSERT_STRING_EQUAL(scan(kv, "b", 1, "a", 1, false, 0, &more, &c), "");
	CU_ASSERT_STRING_EQUAL(scan(kv, "b", 1, "b", 1, false, 0, &more, &c), "");
	rk_kv_free(kv);
}

static void test_scan_values_and_stop(void)
{
	struct rk_kv *kv = ts_new_kv(64, 256, 0, 16);
	struct rk_kv_scan s = {.start = "k", .start_len = 1, .prefix = true};
	struct collect c;
	bool more = true;

	rk_kv_put(kv, K("k1"), K("v1"));
	rk_kv_put(kv, K("k2"), K(""));
	rk_kv_put(kv, K("k3"), K("v3"));
	memset(&c, 0, sizeof c);
	CU_ASSERT_EQUAL(rk_kv_range(kv, &s, collect_fn, &c, &more), RK_OK);
	CU_ASSERT_STRING_EQUAL(c.out, "k1=v1,k2=,k3=v3,");
	CU_ASSERT_FALSE(more);
	memset(&c, 0, sizeof c);
	c.stop_after = 2;
	CU_ASSERT_EQUAL(rk_kv_range(kv, &s, collect_fn, &c, &more), 99);
	CU_ASSERT_STRING_EQUAL(c.out, "k1=v1,k2=,");
	rk_kv_free(kv);
}

static void test_scan_edges(void)
{
	struct rk_kv *kv = ts_new_kv(64, 256, 0, 16);
	struct collect c;
	bool more;

	CU_ASSERT_STRING_EQUAL(scan(kv, NULL, 0, NULL, 0, false, 0, &more, &c), "");
	CU_ASSERT_STRING_EQUAL(scan(kv, "a", 1, NULL, 0, true, 5, &more, &c), "");
	CU_ASSERT_FALSE(more);
	rk_kv_put(kv, K("a"), K("1"));
	rk_kv_put(kv, K("b"), K("2"));
	rk_kv_put(kv, K("c"), K("3"));
	/* An empty prefix selects everything; an empty start with an end: from the first key. */
	CU_ASSERT_STRING_EQUAL(scan(kv, "", 0, NULL, 0, true, 0, &more, &c), "a,b,c,");
	CU_ASSERT_STRING_EQUAL(scan(kv, NULL, 0, "c", 1, false, 0, &more, &c), "a,b,");
	CU_ASSERT_STRING_EQUAL(scan(kv, NULL, 0, "c", 1, false, 1, &more, &c), "a,");
	CU_ASSERT_TRUE(more);
	/* The end is exclusive even when the limit lands right before it. */
	CU_ASSERT_STRING_EQUAL(scan(kv, NULL, 0, "c", 1, false, 2, &more, &c), "a,b,");
	CU_ASSERT_FALSE(more);
	/* more is optional. */
	CU_ASSERT_STRING_EQUAL(scan(kv, NULL, 0, NULL, 0, false, 1, NULL, &c), "a,");
	rk_kv_free(kv);
}

static void test_digest_tracks_content(void)
{
	struct rk_kv *a = ts_new_kv(64, 256, 0, 16), *b = ts_new_kv(64, 256, 0, 16);

	CU_ASSERT_EQUAL(rk_kv_digest(a), rk_kv_digest(b));
	rk_kv_put(a, K("k"), K("v"));
	CU_ASSERT_NOT_EQUAL(rk_kv_digest(a), rk_kv_digest(b));
	rk_kv_put(b, K("k"), K("w"));
	CU_ASSERT_NOT_EQUAL(rk_kv_digest(a), rk_kv_digest(b));
	rk_kv_put(b, K("k"), K("v"));
	CU_ASSERT_EQUAL(rk_kv_digest(a), rk_kv_digest(b));
	/* Moving bytes between key and value changes the digest. */
	rk_kv_put(a, K("kv"), K(""));
	rk_kv_put(b, K("k"), K("vv"));
	CU_ASSERT_NOT_EQUAL(rk_kv_digest(a), rk_kv_digest(b));
	/* Insertion order does not matter, content does. */
	rk_kv_free(a);
	rk_kv_free(b);
	a = ts_new_kv(64, 256, 0, 16);
	b = ts_new_kv(64, 256, 0, 16);
	rk_kv_put(a, K("x"), K("1"));
	rk_kv_put(a, K("y"), K("2"));
	rk_kv_put(b, K("y"), K("2"));
	rk_kv_put(b, K("x"), K("1"));
	CU_ASSERT_EQUAL(rk_kv_digest(a), rk_kv_digest(b));
	rk_kv_free(a);
	rk_kv_free(b);
}

/* ---- a random walk against a simple model ---- */

#define MODEL_KEYS 512

struct walk_ctx {
	bool ok;
	size_t n;
	size_t prev_len;
	uint8_t prev_buf[8];
};

static int bytes_cmp(const uint8_t *a, size_t alen, const uint8_t *b, size_t blen)
{
	int c = memcmp(a, b, alen < blen ? alen : blen);

	return c != 0 ? c : (alen > blen) - (alen < blen);
}

/* Checks that a full scan is strictly ascending and that every value is 4 bytes. */
static int walk_fn(void *ctx, const uint8_t *key, size_t klen, const uint8_t *val, size_t vlen)
{
	struct walk_ctx *w = ctx;

	(void)val;
	if (vlen != 4 || klen > sizeof w->prev_buf)
		w->ok = false;
	else if (w->n > 0 && bytes_cmp(w->prev_buf, w->prev_len, key, klen) >= 0)
		w->ok = false;
	if (klen <= sizeof w->prev_buf) {
		memcpy(w->prev_buf, key, klen);
		w->prev_len = klen;
	}
	w->n++;
	return 0;
}

/* Model key @i into @key: slots < 256 are "k" + one byte, the others "k" + the same byte + 1,
 * so that short keys are prefixes of long ones, and NUL bytes occur. Returns its length. */
static size_t model_key(int i, uint8_t key[3])
{
	key[0] = 'k';
	key[1] = (uint8_t)i;
	key[2] = 1;
	return i < 256 ? 2 : 3;
}

static void test_random_model(void)
{
	struct rk_kv *kv = ts_new_kv(64, 256, 0, 16);
	static bool present[MODEL_KEYS];
	static uint32_t val[MODEL_KEYS];
	struct rk_kv_scan s = {0};
	struct walk_ctx w;
	struct rk_buf b;
	uint64_t seed = 42;
	uint8_t key[3];
	uint32_t v;
	size_t live = 0, klen;
	int i, step, rv;

	memset(present, 0, sizeof present);
	for (step = 0; step < 60000; step++) {
		i = (int)(ts_rand(&seed) % MODEL_KEYS);
		klen = model_key(i, key);
		v = (uint32_t)ts_rand(&seed);
		switch (ts_rand(&seed) % 4) {
		case 0:
		case 1:
			CU_ASSERT_EQUAL(rk_kv_put(kv, key, klen, &v, 4), RK_OK);
			live += !present[i];
			present[i] = true;
			val[i] = v;
			break;
		case 2:
			rv = rk_kv_delete(kv, key, klen);
			CU_ASSERT_EQUAL(rv, present[i] ? RK_OK : RK_ENOTFOUND);
			live -= present[i];
			present[i] = false;
			break;
		default:
			rv = rk_kv_get(kv, key, klen, &b);
			CU_ASSERT_EQUAL(rv, present[i] ? RK_OK : RK_ENOTFOUND);
			if (rv == RK_OK) {
				CU_ASSERT(b.len == 4 && memcmp(b.base, &val[i], 4) == 0);
				rk_free(b.base);
			}
		}
	}
	memset(&w, 0, sizeof w);
	w.ok = true;
	CU_ASSERT_EQUAL(rk_kv_range(kv, &s, walk_fn, &w, NULL), RK_OK);
	CU_ASSERT_TRUE(w.ok);
	CU_ASSERT_EQUAL(w.n, live);
	rk_kv_free(kv);
}

/* The same random writes, once one by one and once in runs (new keys linked in key order at
 * each run's end; keys created and deleted inside a run; runs of every length): the two stores
 * hold the same pairs in the same order. */
static void test_runs_match_plain_writes(void)
{
	struct rk_kv *plain = ts_new_kv(64, 256, 0, 16), *runs = ts_new_kv(64, 256, 0, 16);
	struct rk_kv_scan s = {0};
	struct rk_kv_stats sp, sr;
	struct walk_ctx w;
	uint64_t seed = 99;
	uint8_t key[3];
	uint32_t v;
	size_t klen;
	int i, step, run_len = 0, left = 0;

	for (step = 0; step < 40000; step++) {
		if (left == 0) {
			if (run_len > 0)
				rk_kv_run_end(runs);
			run_len = (int)(ts_rand(&seed) % 3000);
			left = run_len > 0 ? run_len : 50; /* 50 plain writes between some runs */
			if (run_len > 0)
				rk_kv_run_begin(runs);
		}
		left--;
		i = (int)(ts_rand(&seed) % MODEL_KEYS);
		klen = model_key(i, key);
		v = (uint32_t)ts_rand(&seed);
		if (ts_rand(&seed) % 4 == 0) {
			CU_ASSERT_EQUAL(rk_kv_delete(runs, key, klen), rk_kv_delete(plain, key, klen));
		} else {
			CU_ASSERT_EQUAL(rk_kv_put(runs, key, klen, &v, 4), RK_OK);
			CU_ASSERT_EQUAL(rk_kv_put(plain, key, klen, &v, 4), RK_OK);
		}
	}
	if (run_len > 0)
		rk_kv_run_end(runs);
	CU_ASSERT_EQUAL(rk_kv_digest(runs), rk_kv_digest(plain));
	rk_kv_stats(runs, &sr);
	rk_kv_stats(plain, &sp);
	CU_ASSERT_EQUAL(sr.keys, sp.keys);
	memset(&w, 0, sizeof w);
	w.ok = true;
	CU_ASSERT_EQUAL(rk_kv_range(runs, &s, walk_fn, &w, NULL), RK_OK);
	CU_ASSERT_TRUE(w.ok);
	CU_ASSERT_EQUAL(w.n, sp.keys);
	rk_kv_free(runs);
	rk_kv_free(plain);
}

/* Many keys in, most out again: the index grows, then shrinks, incrementally. */
static void test_grow_and_shrink(void)
{
	struct rk_kv *kv = ts_new_kv(64, 256, 0, 16);
	struct rk_kv_stats st;
	char key[32];
	int i, n = 50000, bad = 0;
	struct rk_buf b;

	for (i = 0; i < n; i++) {
		snprintf(key, sizeof key, "key-%08d", i);
		if (rk_kv_put(kv, K(key), K(key)) != RK_OK)
			bad++;
		/* Everything stays reachable while the buckets move. */
		if (i % 97 == 0) {
			snprintf(key, sizeof key, "key-%08d", i / 2);
			if (rk_kv_get(kv, K(key), &b) != RK_OK)
				bad++;
			rk_free(b.base);
		}
	}
	rk_kv_stats(kv, &st);
	CU_ASSERT_EQUAL(st.keys, (size_t)n);
	CU_ASSERT(st.index_bytes >= (size_t)n * sizeof(void *) / 2);
	for (i = 0; i < n - 100; i++) {
		snprintf(key, sizeof key, "key-%08d", i);
		if (rk_kv_delete(kv, K(key)) != RK_OK)
			bad++;
	}
	for (i = n - 100; i < n; i++) {
		snprintf(key, sizeof key, "key-%08d", i);
		if (rk_kv_get(kv, K(key), &b) != RK_OK)
			bad++;
		rk_free(b.base);
	}
	CU_ASSERT_EQUAL(bad, 0);
	rk_kv_stats(kv, &st);
	CU_ASSERT_EQUAL(st.keys, 100);
	CU_ASSERT(st.index_bytes < 4096 * sizeof(void *));
	rk_kv_free(kv);
}

/* ---- allocation failure walk ---- */

typedef int (*op_fn)(struct rk_kv *kv);

static int op_put_new(struct rk_kv *kv)
{
	return rk_kv_put(kv, K("new"), K("value"));
}

static int op_put_new_in_run(struct rk_kv *kv)
{
	int rv;

	rk_kv_run_begin(kv);
	rv = rk_kv_put(kv, K("new"), K("value"));
	rk_kv_run_end(kv);
	return rv;
}

static int op_put_grow(struct rk_kv *kv)
{
	return rk_kv_put(kv, K("k5"), K("a longer value than before"));
}

static int op_append(struct rk_kv *kv)
{
	return rk_kv_append(kv, K("k7"), K("tail"));
}

static int op_cas(struct rk_kv *kv)
{
	return rk_kv_cas(kv, K("k3"), K("v3"), K("v3-but-longer"));
}

static int op_apply_new_session(struct rk_kv *kv)
{
	size_t len;
	uint8_t *buf = ts_encode(RK_KV_PUT, 77, 1, 500, "fresh", "val", NULL, &len);
	struct rk_kv_result res;
	int rv = rk_kv_apply(kv, rk_kv_applied_index(kv) + 1, buf, len, &res);

	free(buf);
	rk_kv_result_release(&res);
	return rv;
}

static int op_apply_get(struct rk_kv *kv)
{
	size_t len;
	uint8_t *buf = ts_encode(RK_KV_GET, 0, 0, 500, "k1", NULL, NULL, &len);
	struct rk_kv_result res;
	int rv = rk_kv_apply(kv, rk_kv_applied_index(kv) + 1, buf, len, &res);

	free(buf);
	if (rv == RK_OK)
		CU_ASSERT(res.value.len == 2 && memcmp(res.value.base, "v1", 2) == 0);
	rk_kv_result_release(&res);
	return rv;
}

static void fail_walk(op_fn op)
{
	struct rk_kv *kv;
	uint64_t before;
	rk_index applied;
	char key[8], val[8];
	long n;
	int i, rv;

	for (n = 0; n < 50; n++) {
		rk_mem_count(1);
		kv = ts_new_kv(64, 256, 0, 16);
		for (i = 0; i < 10; i++) {
			snprintf(key, sizeof key, "k%d", i);
			snprintf(val, sizeof val, "v%d", i);
			rk_kv_put(kv, K(key), K(val));
		}
		CU_ASSERT_EQUAL(ts_apply(kv, 1, RK_KV_PUT, 5, 1, 100, "s", "x", NULL, NULL), RK_OK);
		before = rk_kv_digest(kv);
		applied = rk_kv_applied_index(kv);
		rk_mem_fail_after(n);
		rv = op(kv);
		rk_mem_fail_after(-1);
		if (rv == RK_ENOMEM) {
			CU_ASSERT_EQUAL(rk_kv_digest(kv), before);
			CU_ASSERT_EQUAL(rk_kv_applied_index(kv), applied);
		} else {
			CU_ASSERT_EQUAL(rv, RK_OK);
		}
		rk_kv_free(kv);
		CU_ASSERT_EQUAL(rk_mem_live(), 0);
		rk_mem_count(0);
		if (rv == RK_OK)
			break;
	}
	CU_ASSERT_EQUAL(rv, RK_OK);
}

static void test_enomem_walk(void)
{
	fail_walk(op_put_new);
	fail_walk(op_put_new_in_run);
	fail_walk(op_put_grow);
	fail_walk(op_append);
	fail_walk(op_cas);
	fail_walk(op_apply_new_session);
	fail_walk(op_apply_get);
}

static void test_new_enomem(void)
{
	struct rk_kv_config cfg;
	struct rk_kv *kv = NULL;
	long n;
	int rv = RK_ENOMEM;

	rk_kv_config_default(&cfg);
	for (n = 0; n < 20 && rv != RK_OK; n++) {
		rk_mem_count(1);
		rk_mem_fail_after(n);
		rv = rk_kv_new(&cfg, &kv);
		rk_mem_fail_after(-1);
		if (rv == RK_OK)
			rk_kv_free(kv);
		else
			CU_ASSERT_EQUAL(rv, RK_ENOMEM);
		CU_ASSERT_EQUAL(rk_mem_live(), 0);
		rk_mem_count(0);
	}
	CU_ASSERT_EQUAL(rv, RK_OK);
	cfg.max_sessions = 0;
	CU_ASSERT_EQUAL(rk_kv_new(&cfg, &kv), RK_EINVAL);
}

CU_TestInfo test_kv_tests[] = {
	{"runs_match_plain_writes", test_runs_match_plain_writes},
	{"put_get_overwrite", test_put_get_overwrite},
	{"empty_key_and_value", test_empty_key_and_value},
	{"conditional_ops", test_conditional_ops},
	{"size_limits", test_size_limits},
	{"binary_keys_and_order", test_binary_keys_and_order},
	{"scan_values_and_stop", test_scan_values_and_stop},
	{"scan_edges", test_scan_edges},
	{"digest_tracks_content", test_digest_tracks_content},
	{"random_model", test_random_model},
	{"grow_and_shrink", test_grow_and_shrink},
	{"enomem_walk", test_enomem_walk},
	{"new_enomem", test_new_enomem},
	CU_TEST_INFO_NULL,
};

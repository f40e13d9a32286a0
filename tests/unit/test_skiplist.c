/* test_skiplist.c -- the skiplist and the hash index under the store, driven directly. */
#include <stdio.h>
#include <stdlib.h>

#include "store/hash.h"
#include "store/skiplist.h"
#include "unit/test_store.h"

static struct rk_kent *mk(struct rk_slist *sl, const void *key, size_t klen)
{
	uint8_t level = rk_slist_random_level(sl);
	struct rk_kent *e = rk_calloc(1, rk_kent_size(level, (uint32_t)klen));

	CU_ASSERT_FATAL(e != NULL);
	e->level = level;
	e->klen = (uint32_t)klen;
	e->hash = (uint32_t)rk_hash64(key, klen, 0);
	memcpy(rk_kent_key(e), key, klen);
	return e;
}

static void check_sorted(const struct rk_slist *sl, size_t want)
{
	const struct rk_kent *e, *prev = NULL;
	size_t n = 0;
	int lvl;

	for (e = rk_slist_first(sl); e != NULL; prev = e, e = e->next[0], n++)
		if (prev != NULL)
			CU_ASSERT(rk_keycmp(rk_kent_key(prev), prev->klen, rk_kent_key(e),
					    e->klen) < 0);
	CU_ASSERT_EQUAL(n, want);
	CU_ASSERT_EQUAL(sl->count, want);
	/* Every higher level is a sorted subsequence of the level below. */
	for (lvl = 1; lvl < sl->level; lvl++)
		for (e = sl->head->next[lvl]; e != NULL && e->next[lvl] != NULL; e = e->next[lvl])
			CU_ASSERT(rk_keycmp(rk_kent_key(e), e->klen, rk_kent_key(e->next[lvl]),
					    e->next[lvl]->klen) < 0);
	/* The list knows its last entry at every level (the head where a level is empty). */
	for (lvl = 0; lvl < RK_SL_MAXLEVEL; lvl++) {
		const struct rk_kent *x = sl->head;

		while (x->next[lvl] != NULL)
			x = x->next[lvl];
		CU_ASSERT_PTR_EQUAL(sl->last[lvl], x);
	}
}

/* Ascending keys take the no-search path; removing the last entries and inserting below and
 * above them again keeps the per-level last entries right. */
static void test_ascending_and_tail_removal(void)
{
	struct rk_slist sl;
	struct rk_kent *all[1200];
	char key[16];
	int i, n = 1000;

	CU_ASSERT_FATAL(rk_slist_init(&sl) == RK_OK);
	check_sorted(&sl, 0);
	for (i = 0; i < n; i++) {
		snprintf(key, sizeof key, "%06d", i * 2);
		all[i] = mk(&sl, key, strlen(key));
		rk_slist_insert(&sl, all[i]);
	}
	check_sorted(&sl, (size_t)n);
	for (i = n - 1; i >= n - 300; i--) { /* from the end */
		rk_slist_remove(&sl, all[i]);
		rk_free(all[i]);
	}
	check_sorted(&sl, (size_t)n - 300);
	for (i = n - 300; i < n; i++) { /* odd keys: in between, then above the end */
		snprintf(key, sizeof key, "%06d", i < n - 150 ? (i - 500) * 2 + 1 : i * 2);
		all[i] = mk(&sl, key, strlen(key));
		rk_slist_insert(&sl, all[i]);
	}
	check_sorted(&sl, (size_t)n);
	for (i = 0; i < n; i++) {
		rk_slist_remove(&sl, all[i]);
		rk_free(all[i]);
	}
	check_sorted(&sl, 0);
	snprintf(key, sizeof key, "%06d", 1);
	all[0] = mk(&sl, key, strlen(key));
	rk_slist_insert(&sl, all[0]);
	check_sorted(&sl, 1);
	rk_slist_close(&sl);
}

static void test_insert_seek_remove(void)
{
	struct rk_slist sl;
	struct rk_kent *e, *all[2000];
	char key[16];
	int i, n = 2000;
	uint64_t seed = 7;

	CU_ASSERT_FATAL(rk_slist_init(&sl) == RK_OK);
	/* Insert in a shuffled order. */
	for (i = 0; i < n; i++) {
		snprintf(key, sizeof key, "%06d", i * 2);
		all[i] = mk(&sl, key, strlen(key));
	}
	for (i = n - 1; i > 0; i--) {
		int j = (int)(ts_rand(&seed) % (uint64_t)(i + 1));
		e = all[i];
		all[i] = all[j];
		all[j] = e;
	}
	for (i = 0; i < n; i++)
		rk_slist_insert(&sl, all[i]);
	check_sorted(&sl, (size_t)n);
	/* Seek lands on the key or the next one; past the end gives NULL. */
	e = rk_slist_seek(&sl, (const uint8_t *)"000010", 6);
	CU_ASSERT(e != NULL && memcmp(rk_kent_key(e), "000010", 6) == 0);
	e = rk_slist_seek(&sl, (const uint8_t *)"000011", 6);
	CU_ASSERT(e != NULL && memcmp(rk_kent_key(e), "000012", 6) == 0);
	e = rk_slist_seek(&sl, (const uint8_t *)"00001", 5);
	CU_ASSERT(e != NULL && memcmp(rk_kent_key(e), "000010", 6) == 0);
	CU_ASSERT_PTR_NULL(rk_slist_seek(&sl, (const uint8_t *)"9", 1));
	CU_ASSERT_PTR_EQUAL(rk_slist_seek(&sl, (const uint8_t *)"", 0), rk_slist_first(&sl));
	/* Remove half, checking order each time in a while. */
	for (i = 0; i < n; i += 2) {
		rk_slist_remove(&sl, all[i]);
		rk_free(all[i]);
		if (i % 200 == 0)
			check_sorted(&sl, (size_t)(n - i / 2 - 1));
	}
	check_sorted(&sl, (size_t)n / 2);
	rk_slist_close(&sl);
}

static int cmp_ent(const void *a, const void *b)
{
	const struct rk_kent *x = *(struct rk_kent *const *)a, *y = *(struct rk_kent *const *)b;

	return rk_keycmp(rk_kent_key(x), x->klen, rk_kent_key(y), y->klen);
}

/* Sorted batches link like one insert each, into an empty list, between existing keys (some
 * batches below, between and above them), and the list stays usable for single inserts. */
static void test_insert_sorted_batches(void)
{
	struct rk_slist sl;
	struct rk_kent *batch[1500], *e;
	char key[16];
	size_t total = 0;
	uint64_t seed = 11;
	int i, round;

	CU_ASSERT_FATAL(rk_slist_init(&sl) == RK_OK);
	rk_slist_insert_sorted(&sl, batch, 0);
	check_sorted(&sl, 0);
	for (round = 0; round < 4; round++) {
		int n = round == 0 ? 1500 : round == 1 ? 3 : 700;

		/* distinct keys: a round's own residue mod 4, in a random order, then sorted */
		for (i = 0; i < n; i++) {
			unsigned k = (unsigned)(ts_rand(&seed) % 100000) / 4 * 4 + (unsigned)round;

			snprintf(key, sizeof key, "%07u", k);
			batch[i] = mk(&sl, key, strlen(key));
		}
		qsort(batch, (size_t)n, sizeof *batch, cmp_ent);
		{
			int m = 0; /* drop duplicates drawn in this round */

			for (i = 0; i < n; i++) {
				if (m > 0 && cmp_ent(&batch[m - 1], &batch[i]) == 0)
					rk_free(batch[i]);
				else
					batch[m++] = batch[i];
			}
			n = m;
		}
		rk_slist_insert_sorted(&sl, batch, (size_t)n);
		total += (size_t)n;
		check_sorted(&sl, total);
	}
	/* above every key (the fast path relies on last[]) and below every key */
	e = mk(&sl, "9999999", 7);
	rk_slist_insert(&sl, e);
	e = mk(&sl, "0", 1);
	rk_slist_insert(&sl, e);
	check_sorted(&sl, total + 2);
	rk_slist_close(&sl);
}

static void test_hash_spread(void)
{
	/* Similar keys must not collide in the low bits the buckets use. */
	static uint8_t hits[1024];
	char key[32];
	int i, max = 0;

	memset(hits, 0, sizeof hits);
	for (i = 0; i < 8192; i++) {
		snprintf(key, sizeof key, "user:%d", i);
		hits[rk_hash64(key, strlen(key), 0) & 1023]++;
	}
	for (i = 0; i < 1024; i++)
		if (hits[i] > max)
			max = hits[i];
	CU_ASSERT(max < 30); /* mean 8 */
	CU_ASSERT_NOT_EQUAL(rk_hash64("a", 1, 0), rk_hash64("a\0", 2, 0));
	CU_ASSERT_NOT_EQUAL(rk_hash64("", 0, 0), rk_hash64("\0", 1, 0));
	CU_ASSERT_EQUAL(rk_hash64("abc", 3, 5), rk_hash64("abc", 3, 5));
}

static void test_hindex_incremental(void)
{
	struct rk_hindex hi;
	struct rk_slist sl;
	struct rk_kent *e;
	char key[16];
	int i, n = 20000, missing = 0, resizing_seen = 0;

	CU_ASSERT_FATAL(rk_hindex_init(&hi, 16) == RK_OK);
	CU_ASSERT_FATAL(rk_slist_init(&sl) == RK_OK);
	for (i = 0; i < n; i++) {
		snprintf(key, sizeof key, "h%d", i);
		e = mk(&sl, key, strlen(key));
		rk_hindex_insert(&hi, e);
		rk_slist_insert(&sl, e);
		rk_hindex_step(&hi);
		resizing_seen += hi.moving != SIZE_MAX;
		/* Look up an older key every step: both tables are searched mid-resize. */
		snprintf(key, sizeof key, "h%d", i / 3);
		if (rk_hindex_find(&hi, (const uint8_t *)key, strlen(key),
				   rk_hash64(key, strlen(key), 0)) == NULL)
			missing++;
	}
	CU_ASSERT_EQUAL(missing, 0);
	CU_ASSERT(resizing_seen > 0);
	CU_ASSERT_EQUAL(rk_hindex_count(&hi), (size_t)n);
	/* No resize ever falls behind: the table never exceeds load 2. */
	CU_ASSERT(rk_hindex_count(&hi) <= 2 * (hi.t[0].mask + 1));
	for (i = 0; i < n; i++) {
		snprintf(key, sizeof key, "h%d", i);
		e = rk_hindex_find(&hi, (const uint8_t *)key, strlen(key),
				   rk_hash64(key, strlen(key), 0));
		CU_ASSERT_FATAL(e != NULL);
		rk_hindex_remove(&hi, e);
		rk_hindex_step(&hi);
		rk_slist_remove(&sl, e);
		rk_free(e);
	}
	CU_ASSERT_EQUAL(rk_hindex_count(&hi), 0);
	rk_hindex_close(&hi);
	rk_slist_close(&sl);
}

/* Reserving grows the index at once (finishing a resize under way), keeps every entry
 * findable, and the inserts up to the reserved size then never start a resize. */
static void test_hindex_reserve(void)
{
	struct rk_hindex hi;
	struct rk_slist sl;
	struct rk_kent *e;
	char key[16];
	int i, n = 3000, resizing_seen = 0;

	CU_ASSERT_FATAL(rk_hindex_init(&hi, 16) == RK_OK);
	CU_ASSERT_FATAL(rk_slist_init(&sl) == RK_OK);
	for (i = 0; i < 17; i++) { /* one past 16: a resize has started */
		snprintf(key, sizeof key, "r%d", i);
		e = mk(&sl, key, strlen(key));
		rk_hindex_insert(&hi, e);
		rk_slist_insert(&sl, e);
	}
	CU_ASSERT(hi.moving != SIZE_MAX);
	CU_ASSERT_EQUAL(rk_hindex_reserve(&hi, 17 + 3000), RK_OK);
	CU_ASSERT_EQUAL(hi.moving, SIZE_MAX);
	CU_ASSERT_EQUAL(hi.t[0].mask + 1, 4096);
	CU_ASSERT_EQUAL(rk_hindex_reserve(&hi, 100), RK_OK); /* smaller: nothing to do */
	CU_ASSERT_EQUAL(hi.t[0].mask + 1, 4096);
	for (i = 17; i < n; i++) {
		snprintf(key, sizeof key, "r%d", i);
		e = mk(&sl, key, strlen(key));
		rk_hindex_insert(&hi, e);
		rk_slist_insert(&sl, e);
		rk_hindex_step(&hi);
		resizing_seen += hi.moving != SIZE_MAX;
	}
	CU_ASSERT_EQUAL(resizing_seen, 0);
	for (i = 0; i < n; i++) {
		snprintf(key, sizeof key, "r%d", i);
		CU_ASSERT_PTR_NOT_NULL(rk_hindex_find(&hi, (const uint8_t *)key, strlen(key),
						      rk_hash64(key, strlen(key), 0)));
	}
	CU_ASSERT_EQUAL(rk_hindex_count(&hi), (size_t)n);
	rk_hindex_close(&hi);
	rk_slist_close(&sl);
}

CU_TestInfo test_skiplist_tests[] = {
	{"insert_sorted_batches", test_insert_sorted_batches},
	{"hindex_reserve", test_hindex_reserve},
	{"insert_seek_remove", test_insert_seek_remove},
	{"ascending_and_tail_removal", test_ascending_and_tail_removal},
	{"hash_spread", test_hash_spread},
	{"hindex_incremental", test_hindex_incremental},
	CU_TEST_INFO_NULL,
};

/* hash.c -- key hash and the incrementally resized chained index; see hash.h.
 *
 * Resize rule: grow to twice the buckets when entries reach the bucket count (load 1), shrink
 * to the smallest power of two >= 2 * entries when entries fall under 1/8 of the buckets. Each
 * write moves at least MOVE_CHAINS non-empty buckets (or visits MOVE_VISITS buckets), so a grow
 * started at n entries finishes within n / MOVE_CHAINS writes, long before the new table (2n
 * buckets) reaches its own grow point at 2n entries. Only one resize runs at a time.
 * Owner: the store's writer; rk_hindex_find also runs on readers under the read lock.
 */
#include "store/hash.h"

#include <assert.h>

#include "common/err.h"
#include "common/mem.h"

enum { MOVE_CHAINS = 4, MOVE_VISITS = 64 };

/* Odd 64-bit constants drawn at random for this project. */
#define K0 0x9362da5cc13da58bULL
#define K1 0xf6fadfa7e5c15b63ULL
#define K2 0x7e6ddce7a7ace733ULL
#define K3 0x2c63888f28f00481ULL
#define K4 0x8f7b7676d015b0ddULL

/* 64x64 -> 128-bit multiply folded back to 64 bits: every input bit reaches every output bit. */
static inline uint64_t fold(uint64_t a, uint64_t b)
{
	__uint128_t r = (__uint128_t)a * b;

	return (uint64_t)r ^ (uint64_t)(r >> 64);
}

static inline uint64_t load64(const uint8_t *p)
{
	uint64_t v;

	memcpy(&v, p, sizeof v);
	/* Little-endian on every host: snapshot checksums and digests cross machines. */
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
	v = __builtin_bswap64(v);
#endif
	return v;
}

/* Up to 7 trailing bytes packed little-end first; @n < 8. */
static inline uint64_t load_tail(const uint8_t *p, size_t n)
{
	uint64_t v = 0;
	size_t i;

	for (i = 0; i < n; i++)
		v |= (uint64_t)p[i] << (8 * i);
	return v;
}

uint64_t rk_hash64(const void *p, size_t len, uint64_t seed)
{
	const uint8_t *s = p;
	uint64_t h = seed ^ ((uint64_t)len * K0);
	size_t n = len;
	uint64_t a, b;

	while (n >= 16) {
		h = fold(load64(s) ^ K1 ^ h, load64(s + 8) ^ K2);
		s += 16;
		n -= 16;
	}
	if (n >= 8) {
		a = load64(s);
		b = load_tail(s + 8, n - 8);
	} else {
		a = load_tail(s, n);
		b = 0;
	}
	h = fold(a ^ K1 ^ h, b ^ K2);
	return fold(h ^ K3, (uint64_t)len ^ K4);
}

uint64_t rk_hash_absorb(uint64_t d, uint64_t x)
{
	return fold(d ^ K3, x ^ K4) ^ (x * K0);
}

static int htab_alloc(struct rk_htab *t, size_t buckets)
{
	t->slots = rk_calloc(buckets, sizeof *t->slots);
	if (t->slots == NULL)
		return RK_ENOMEM;
	t->mask = buckets - 1;
	t->used = 0;
	return RK_OK;
}

int rk_hindex_init(struct rk_hindex *hi, size_t buckets)
{
	assert(buckets >= 2 && (buckets & (buckets - 1)) == 0);
	memset(hi, 0, sizeof *hi);
	hi->moving = SIZE_MAX;
	hi->min_buckets = buckets;
	return htab_alloc(&hi->t[0], buckets);
}

void rk_hindex_close(struct rk_hindex *hi)
{
	rk_free(hi->t[0].slots);
	rk_free(hi->t[1].slots);
	memset(hi, 0, sizeof *hi);
	hi->moving = SIZE_MAX;
}

static struct rk_kent *chain_find(const struct rk_htab *t, const uint8_t *key, size_t klen,
				  uint32_t h32)
{
	struct rk_kent *e;

	for (e = t->slots[h32 & t->mask]; e != NULL; e = e->hnext)
		if (e->hash == h32 && rk_kent_key_eq(e, key, klen))
			return e;
	return NULL;
}

struct rk_kent *rk_hindex_find(const struct rk_hindex *hi, const uint8_t *key, size_t klen,
			       uint64_t h)
{
	uint32_t h32 = (uint32_t)h;
	struct rk_kent *e = chain_find(&hi->t[0], key, klen, h32);

	if (e == NULL && hi->moving != SIZE_MAX)
		e = chain_find(&hi->t[1], key, klen, h32);
	return e;
}

static void start_resize(struct rk_hindex *hi, size_t buckets)
{
	/* A failed allocation is not an error: the old table keeps working with longer chains,
	 * and the next write tries again. */
	if (htab_alloc(&hi->t[1], buckets) != RK_OK) {
		hi->t[1].slots = NULL;
		return;
	}
	hi->moving = 0;
}

static void finish_resize(struct rk_hindex *hi)
{
	assert(hi->t[0].used == 0);
	rk_free(hi->t[0].slots);
	hi->t[0] = hi->t[1];
	hi->t[1].slots = NULL;
	hi->t[1].mask = 0;
	hi->t[1].used = 0;
	hi->moving = SIZE_MAX;
}

void rk_hindex_step(struct rk_hindex *hi)
{
	struct rk_htab *from = &hi->t[0], *to = &hi->t[1];
	int chains = 0, visits = 0;
	struct rk_kent *e, *nx;

	if (hi->moving == SIZE_MAX)
		return;
	while (hi->moving <= from->mask && chains < MOVE_CHAINS && visits < MOVE_VISITS) {
		e = from->slots[hi->moving];
		visits++;
		if (e != NULL)
			chains++;
		for (; e != NULL; e = nx) {
			nx = e->hnext;
			e->hnext = to->slots[e->hash & to->mask];
			to->slots[e->hash & to->mask] = e;
			from->used--;
			to->used++;
		}
		from->slots[hi->moving] = NULL;
		hi->moving++;
	}
	if (hi->moving > from->mask)
		finish_resize(hi);
}

int rk_hindex_reserve(struct rk_hindex *hi, size_t n)
{
	size_t buckets;

	while (hi->moving != SIZE_MAX)
		rk_hindex_step(hi);
	buckets = hi->t[0].mask + 1;
	if (buckets >= n)
		return RK_OK;
	/* the same cap as growth: buckets are chosen by the 32 stored hash bits */
	while (buckets < n && buckets - 1 < UINT32_MAX)
		buckets *= 2;
	if (htab_alloc(&hi->t[1], buckets) != RK_OK) {
		hi->t[1].slots = NULL;
		return RK_ENOMEM;
	}
	hi->moving = 0;
	while (hi->moving != SIZE_MAX)
		rk_hindex_step(hi);
	return RK_OK;
}

void rk_hindex_insert(struct rk_hindex *hi, struct rk_kent *e)
{
	struct rk_htab *t = hi->moving != SIZE_MAX ? &hi->t[1] : &hi->t[0];
	size_t b = e->hash & t->mask;

	e->hnext = t->slots[b];
	t->slots[b] = e;
	t->used++;
	/* Buckets are indexed by the 32 stored hash bits, so stop growing at 2^32 buckets. */
	if (hi->moving == SIZE_MAX && t->used > t->mask && t->mask < UINT32_MAX)
		start_resize(hi, (t->mask + 1) * 2);
}

static int chain_unlink(struct rk_htab *t, struct rk_kent *e)
{
	struct rk_kent **pp;

	if (t->slots == NULL)
		return 0;
	for (pp = &t->slots[e->hash & t->mask]; *pp != NULL; pp = &(*pp)->hnext) {
		if (*pp == e) {
			*pp = e->hnext;
			e->hnext = NULL;
			t->used--;
			return 1;
		}
	}
	return 0;
}

void rk_hindex_remove(struct rk_hindex *hi, struct rk_kent *e)
{
	size_t want;

	if (!chain_unlink(&hi->t[0], e)) {
		int found = chain_unlink(&hi->t[1], e);

		assert(found);
		(void)found;
	}
	if (hi->moving == SIZE_MAX && hi->t[0].mask + 1 > hi->min_buckets &&
	    hi->t[0].used < (hi->t[0].mask + 1) / 8) {
		for (want = hi->min_buckets; want < hi->t[0].used * 2; want *= 2)
			;
		start_resize(hi, want);
	}
}

size_t rk_hindex_bytes(const struct rk_hindex *hi)
{
	size_t n = (hi->t[0].mask + 1) * sizeof(struct rk_kent *);

	if (hi->t[1].slots != NULL)
		n += (hi->t[1].mask + 1) * sizeof(struct rk_kent *);
	return n;
}

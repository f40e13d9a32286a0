/* hash.h -- the key hash and the incrementally resized hash index of the store.
 *
 * The index maps a key to its struct rk_kent through chained buckets (the chain link lives in
 * the entry, so the index itself costs one pointer per bucket). Growing or shrinking allocates
 * a second bucket array and moves a few buckets on every write (rk_hindex_step), the way an
 * incremental collector would: no single write pays for rehashing millions of keys. While a
 * move is under way lookups search both arrays. Owner: the store's writer; readers may call
 * rk_hindex_find concurrently with each other but never with a writer (the store's rwlock).
 */
#ifndef RK_STORE_HASH_H
#define RK_STORE_HASH_H

#include <stddef.h>
#include <stdint.h>

#include "store/entry.h"

/* 64-bit hash of @len bytes at @p. Fixed (not per-process) on purpose: nothing that replicas
 * compare depends on bucket order, but tests and digests like reproducible values. */
uint64_t rk_hash64(const void *p, size_t len, uint64_t seed);

/* Fold @x into the running digest @d; order-sensitive. */
uint64_t rk_hash_absorb(uint64_t d, uint64_t x);

struct rk_htab {
	struct rk_kent **slots; /* bucket heads; NULL only for the idle second table */
	size_t mask;            /* bucket count - 1 (a power of two) */
	size_t used;            /* entries chained in this table */
};

struct rk_hindex {
	struct rk_htab t[2]; /* t[1] is the destination while a resize is under way */
	size_t moving;       /* next bucket of t[0] to move; SIZE_MAX when not resizing */
	size_t min_buckets;  /* never shrink below this */
};

/* Allocate the first table of @buckets (a power of two). Errors: RK_ENOMEM. */
int rk_hindex_init(struct rk_hindex *hi, size_t buckets);

/* Free the bucket arrays (not the entries: the skiplist owns the walk that frees them). */
void rk_hindex_close(struct rk_hindex *hi);

/* The entry for @key with hash @h, or NULL. Returns borrowed (until the next write). */
struct rk_kent *rk_hindex_find(const struct rk_hindex *hi, const uint8_t *key, size_t klen,
			       uint64_t h);

/* Chain @e (absent, e->hash set) into the index. Never fails: a resize that cannot get memory
 * is simply retried on a later write, with longer chains meanwhile. */
void rk_hindex_insert(struct rk_hindex *hi, struct rk_kent *e);

/* Unchain @e, which must be present. */
void rk_hindex_remove(struct rk_hindex *hi, struct rk_kent *e);

/* Grow now, all at once, to at least @n buckets (rounded up to a power of two; a resize under
 * way is finished first), so that the index reaches @n entries without an incremental resize
 * or a lookup in two tables. For a writer that knows a bulk of inserts is coming. Errors:
 * RK_ENOMEM (the index is as before, and works). */
int rk_hindex_reserve(struct rk_hindex *hi, size_t n);

/* Do a bounded amount of resize work; called by the writer once per mutation. */
void rk_hindex_step(struct rk_hindex *hi);

/* Entries indexed. */
static inline size_t rk_hindex_count(const struct rk_hindex *hi)
{
	return hi->t[0].used + hi->t[1].used;
}

/* Bytes held by the bucket arrays (for memory accounting). */
size_t rk_hindex_bytes(const struct rk_hindex *hi);

#endif

/* entry.h -- the one record per key that the hash index and the skiplist share.
 *
 * Layout of one allocation (64-bit):
 *   0  hnext   hash-chain successor
 *   8  val     value bytes, a separate allocation (NULL iff vlen == 0)
 *  16  vlen, klen, hash (u32 each), level (u8), 3 bytes padding
 *  32  next[level]  skiplist successors
 *  ..  key bytes (klen, not NUL-terminated)
 * The value lives apart so that overwriting or appending to it never moves the entry: both
 * structures keep pointing at the same address, and an overwrite costs one hash lookup instead
 * of a skiplist search. The entry is freed only by the store after it left both structures.
 * Owner: the store's writer (apply thread); readers see entries only under the read lock.
 */
#ifndef RK_STORE_ENTRY_H
#define RK_STORE_ENTRY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define RK_SL_MAXLEVEL 16 /* p = 1/4: enough for 4^16 keys before towers stop growing */

struct rk_kent {
	struct rk_kent *hnext;  /* next entry in the same hash bucket */
	uint8_t *val;           /* owned value bytes; NULL iff vlen == 0 */
	uint32_t vlen;          /* value length in bytes */
	uint32_t klen;          /* key length in bytes; >= 1 except for the skiplist head */
	uint32_t hash;          /* low 32 bits of rk_hash64(key): bucket choice without the key */
	uint8_t level;          /* skiplist tower height, 1..RK_SL_MAXLEVEL */
	uint8_t pending;        /* 1: in the hash only, waiting to be linked in key order */
	struct rk_kent *next[]; /* [level] skiplist successors, then the key bytes */
};

_Static_assert(sizeof(struct rk_kent) == 32, "rk_kent header is 32 bytes on LP64");

static inline uint8_t *rk_kent_key(const struct rk_kent *e)
{
	return (uint8_t *)(uintptr_t)(e->next + e->level);
}

static inline size_t rk_kent_size(uint32_t level, uint32_t klen)
{
	return sizeof(struct rk_kent) + (size_t)level * sizeof(struct rk_kent *) + klen;
}

/* Byte order of keys: memcmp over the common length, then the shorter key first. */
static inline int rk_keycmp(const uint8_t *a, size_t alen, const uint8_t *b, size_t blen)
{
	size_t n = alen < blen ? alen : blen;
	int c = n ? memcmp(a, b, n) : 0;

	if (c != 0)
		return c;
	return (alen > blen) - (alen < blen);
}

static inline bool rk_kent_key_eq(const struct rk_kent *e, const uint8_t *key, size_t klen)
{
	return e->klen == klen && memcmp(rk_kent_key(e), key, klen) == 0;
}

#endif

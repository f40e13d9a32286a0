/* skiplist.h -- ordered index over the store's entries for range and prefix scans.
 *
 * A classic skiplist (p = 1/4) whose nodes are the struct rk_kent records themselves: the tower
 * of successors sits inside the entry, sized to its level, so an ordered index costs about
 * 1.33 pointers per key. Order is rk_keycmp (memcmp, then length). Owner: the store's writer;
 * readers walk it concurrently with each other under the store's read lock.
 */
#ifndef RK_STORE_SKIPLIST_H
#define RK_STORE_SKIPLIST_H

#include "store/entry.h"

struct rk_slist {
	struct rk_kent *head; /* sentinel with RK_SL_MAXLEVEL successors and no key */
	int level;            /* levels in use, 1..RK_SL_MAXLEVEL */
	size_t count;         /* entries linked */
	uint64_t rng;         /* xorshift state for tower heights (shape only, never results) */
	struct rk_kent *last[RK_SL_MAXLEVEL]; /* last entry at each level (head: none), so that
					       * a key above every other links without a search */
};

/* Errors: RK_ENOMEM. */
int rk_slist_init(struct rk_slist *sl);

/* Free the head and every linked entry with its value. */
void rk_slist_close(struct rk_slist *sl);

/* A tower height for a new entry. */
uint8_t rk_slist_random_level(struct rk_slist *sl);

/* First entry whose key is >= @key (NULL: none). Returns borrowed (until the next write). */
struct rk_kent *rk_slist_seek(const struct rk_slist *sl, const uint8_t *key, size_t klen);

static inline struct rk_kent *rk_slist_first(const struct rk_slist *sl)
{
	return sl->head->next[0];
}

/* Link @e (key absent, e->level set). Never fails. A key greater than every linked key (keys
 * written in ascending order, a log replayed after a restart) links in O(level) without a
 * search. */
void rk_slist_insert(struct rk_slist *sl, struct rk_kent *e);

/* Link the @n entries of @es (keys absent from the list and distinct, in ascending key order,
 * levels set). Each search starts from the predecessors of the entry before it, so a sorted
 * batch costs about as much as walking the list once, not @n searches from the head. */
void rk_slist_insert_sorted(struct rk_slist *sl, struct rk_kent *const *es, size_t n);

/* Unlink @e, which must be linked. The caller frees it. */
void rk_slist_remove(struct rk_slist *sl, struct rk_kent *e);

/* Bulk loading in key order: @tail[] starts as the head at every level (rk_slist_tail_init);
 * each rk_slist_append links @e after the current last entry. The caller guarantees order. */
void rk_slist_tail_init(struct rk_slist *sl, struct rk_kent **tail);
void rk_slist_append(struct rk_slist *sl, struct rk_kent **tail, struct rk_kent *e);

#endif

/* skiplist.c -- ordered index of the store; see skiplist.h.
 *
 * Writers find the predecessor at every level with one descent (the "update" vector) and
 * splice; removal repeats the descent for the entry's key, which is cheaper than keeping
 * backward links in every entry (8 more bytes per key). The list keeps its last entry at every
 * level, the predecessors of a key above all others, so ascending inserts skip the descent.
 * Heights only shape performance: they
 * come from a per-list PRNG and never influence what a read or an apply returns.
 * Owner: the store's writer; seek and walks also run on readers under the read lock.
 */
#include "store/skiplist.h"

#include <assert.h>

#include "common/err.h"
#include "common/mem.h"

int rk_slist_init(struct rk_slist *sl)
{
	sl->head = rk_calloc(1, rk_kent_size(RK_SL_MAXLEVEL, 0));
	if (sl->head == NULL)
		return RK_ENOMEM;
	sl->head->level = RK_SL_MAXLEVEL;
	for (int i = 0; i < RK_SL_MAXLEVEL; i++)
		sl->last[i] = sl->head;
	sl->level = 1;
	sl->count = 0;
	sl->rng = 0x2545f4914f6cdd1dULL;
	return RK_OK;
}

void rk_slist_close(struct rk_slist *sl)
{
	struct rk_kent *e, *nx;

	if (sl->head == NULL)
		return;
	for (e = sl->head->next[0]; e != NULL; e = nx) {
		nx = e->next[0];
		rk_free(e->val);
		rk_free(e);
	}
	rk_free(sl->head);
	sl->head = NULL;
	sl->count = 0;
}

uint8_t rk_slist_random_level(struct rk_slist *sl)
{
	uint64_t x = sl->rng;
	uint8_t level = 1;

	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	sl->rng = x;
	/* Two bits per level: each level is kept with probability 1/4. */
	while (level < RK_SL_MAXLEVEL && (x & 3) == 0) {
		level++;
		x >>= 2;
	}
	return level;
}

static inline int node_cmp(const struct rk_kent *n, const uint8_t *key, size_t klen)
{
	return rk_keycmp(rk_kent_key(n), n->klen, key, klen);
}

/* Fill @update[i] with the last node at level i whose key is < @key. */
static void find_preds(const struct rk_slist *sl, const uint8_t *key, size_t klen,
		       struct rk_kent **update)
{
	struct rk_kent *x = sl->head, *nx;
	int i;

	for (i = sl->level - 1; i >= 0; i--) {
		while ((nx = x->next[i]) != NULL && node_cmp(nx, key, klen) < 0)
			x = nx;
		update[i] = x;
	}
}

struct rk_kent *rk_slist_seek(const struct rk_slist *sl, const uint8_t *key, size_t klen)
{
	struct rk_kent *x = sl->head, *nx;
	int i;

	for (i = sl->level - 1; i >= 0; i--)
		while ((nx = x->next[i]) != NULL && node_cmp(nx, key, klen) < 0)
			x = nx;
	return x->next[0];
}

/* Link @e after update[i] at each of its levels; update[i] then points at @e, which is what a
 * following larger key needs there. */
static void link_after(struct rk_slist *sl, struct rk_kent *e, struct rk_kent **update)
{
	int i;

	if (e->level > sl->level)
		sl->level = e->level;
	for (i = 0; i < e->level; i++) {
		e->next[i] = update[i]->next[i];
		update[i]->next[i] = e;
		if (e->next[i] == NULL)
			sl->last[i] = e;
		update[i] = e;
	}
	sl->count++;
}

void rk_slist_insert(struct rk_slist *sl, struct rk_kent *e)
{
	struct rk_kent *update[RK_SL_MAXLEVEL];
	int i;

	if (sl->last[0] == sl->head || node_cmp(sl->last[0], rk_kent_key(e), e->klen) < 0) {
		/* after every key: the last entries are the predecessors (the head above level) */
		for (i = 0; i < e->level; i++)
			update[i] = sl->last[i];
	} else {
		find_preds(sl, rk_kent_key(e), e->klen, update);
		assert(update[0]->next[0] == NULL ||
		       node_cmp(update[0]->next[0], rk_kent_key(e), e->klen) != 0);
		for (i = sl->level; i < e->level; i++)
			update[i] = sl->head;
	}
	link_after(sl, e, update);
}

void rk_slist_insert_sorted(struct rk_slist *sl, struct rk_kent *const *es, size_t n)
{
	struct rk_kent *update[RK_SL_MAXLEVEL];
	int i, top;

	for (i = 0; i < RK_SL_MAXLEVEL; i++)
		update[i] = sl->head;
	for (size_t k = 0; k < n; k++) {
		struct rk_kent *e = es[k], *x, *nx;
		const uint8_t *key = rk_kent_key(e);

		assert(k == 0 || node_cmp(es[k - 1], key, e->klen) < 0);
		/* update[] holds the predecessors of the previous (smaller) key, all before @e. A
		 * finger search: climb while the level above still has to move right (its
		 * successor is before @e), so that the levels above @top keep their predecessors
		 * untouched, then walk down from there. The cost grows with the log of the
		 * distance from the previous key, not of the list's length. */
		top = 0;
		while (top + 1 < sl->level && (nx = update[top + 1]->next[top + 1]) != NULL &&
		       node_cmp(nx, key, e->klen) < 0)
			top++;
		x = update[top];
		for (i = top; i >= 0; i--) {
			if (update[i] != sl->head &&
			    (x == sl->head || node_cmp(update[i], rk_kent_key(x), x->klen) > 0))
				x = update[i];
			while ((nx = x->next[i]) != NULL && node_cmp(nx, key, e->klen) < 0)
				x = nx;
			update[i] = x;
		}
		assert(update[0]->next[0] == NULL ||
		       node_cmp(update[0]->next[0], key, e->klen) != 0);
		link_after(sl, e, update);
	}
}

void rk_slist_remove(struct rk_slist *sl, struct rk_kent *e)
{
	struct rk_kent *update[RK_SL_MAXLEVEL];
	int i;

	find_preds(sl, rk_kent_key(e), e->klen, update);
	assert(update[0]->next[0] == e);
	for (i = 0; i < e->level; i++) {
		assert(update[i]->next[i] == e);
		update[i]->next[i] = e->next[i];
		if (sl->last[i] == e)
			sl->last[i] = update[i];
	}
	while (sl->level > 1 && sl->head->next[sl->level - 1] == NULL)
		sl->level--;
	sl->count--;
}

void rk_slist_tail_init(struct rk_slist *sl, struct rk_kent **tail)
{
	int i;

	for (i = 0; i < RK_SL_MAXLEVEL; i++)
		tail[i] = sl->head;
}

void rk_slist_append(struct rk_slist *sl, struct rk_kent **tail, struct rk_kent *e)
{
	link_after(sl, e, tail); /* tail[i] is the last entry at level i: nothing follows it */
}

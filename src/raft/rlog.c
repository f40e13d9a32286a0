/* rlog.c -- in-memory log window; see rlog.h. */
#include "raft/rlog.h"

#include <assert.h>
#include <string.h>

#include "common/err.h"
#include "common/mem.h"

void rk_rlog_init(struct rk_rlog *l, rk_index offset, rk_term offset_term)
{
	memset(l, 0, sizeof *l);
	l->offset = offset;
	l->offset_term = offset_term;
}

static void free_range(struct rk_rlog *l, size_t from, size_t to)
{
	for (size_t k = from; k < to; k++) {
		rk_free(l->e[k].data.base);
		l->e[k].data.base = NULL;
	}
}

void rk_rlog_close(struct rk_rlog *l)
{
	free_range(l, l->start, l->start + l->n);
	rk_free(l->e);
	memset(l, 0, sizeof *l);
}

int rk_rlog_term(const struct rk_rlog *l, rk_index i, rk_term *t)
{
	if (i == l->offset) {
		*t = l->offset_term;
		return RK_OK;
	}
	if (i < l->offset)
		return RK_ECOMPACTED;
	if (i > rk_rlog_last(l))
		return RK_EUNAVAILABLE;
	*t = rk_rlog_get(l, i)->term;
	return RK_OK;
}

rk_term rk_rlog_term_or0(const struct rk_rlog *l, rk_index i)
{
	rk_term t = 0;

	if (i == 0 || rk_rlog_term(l, i, &t) != RK_OK)
		return 0;
	return t;
}

rk_term rk_rlog_last_term(const struct rk_rlog *l)
{
	return l->n == 0 ? l->offset_term : l->e[l->start + l->n - 1].term;
}

int rk_rlog_reserve(struct rk_rlog *l, size_t more)
{
	struct rk_entry *e;
	size_t cap;

	if (l->start + l->n + more <= l->cap)
		return RK_OK;
	/* Slide down first when the dead front is at least as big as the live part: the move
	 * is then paid for by the compactions that made the hole. */
	if (l->start > 0 && l->start >= l->n && l->n + more <= l->cap) {
		memmove(l->e, l->e + l->start, l->n * sizeof *l->e);
		l->start = 0;
		return RK_OK;
	}
	cap = l->cap == 0 ? 64 : l->cap;
	while (cap < l->n + more)
		cap *= 2;
	if (cap < 2 * (l->n + more))
		cap *= 2;
	e = rk_malloc(cap * sizeof *e);
	if (e == NULL)
		return RK_ENOMEM;
	if (l->n > 0)
		memcpy(e, l->e + l->start, l->n * sizeof *e);
	rk_free(l->e);
	l->e = e;
	l->cap = cap;
	l->start = 0;
	return RK_OK;
}

int rk_rlog_append(struct rk_rlog *l, const struct rk_entry *e)
{
	int rv;

	assert(e->index == rk_rlog_last(l) + 1);
	rv = rk_rlog_reserve(l, 1);
	if (rv != RK_OK)
		return rv;
	l->e[l->start + l->n] = *e;
	l->n++;
	return RK_OK;
}

void rk_rlog_truncate(struct rk_rlog *l, rk_index i)
{
	size_t keep;

	if (i > rk_rlog_last(l))
		return;
	assert(i > l->offset);
	keep = (size_t)(i - l->offset - 1);
	free_range(l, l->start + keep, l->start + l->n);
	l->n = keep;
}

void rk_rlog_compact(struct rk_rlog *l, rk_index i)
{
	size_t drop;

	if (i <= l->offset)
		return;
	assert(i <= rk_rlog_last(l));
	drop = (size_t)(i - l->offset);
	l->offset_term = rk_rlog_get(l, i)->term;
	free_range(l, l->start, l->start + drop);
	l->start += drop;
	l->n -= drop;
	l->offset = i;
	if (l->n == 0)
		l->start = 0;
}

void rk_rlog_reset(struct rk_rlog *l, rk_index i, rk_term t)
{
	free_range(l, l->start, l->start + l->n);
	l->start = 0;
	l->n = 0;
	l->offset = i;
	l->offset_term = t;
}

size_t rk_rlog_bytes(const struct rk_rlog *l, rk_index from, rk_index to)
{
	size_t sum = 0;

	for (rk_index i = from; i <= to; i++)
		sum += rk_rlog_get(l, i)->data.len;
	return sum;
}

/* rlog.h -- the core's in-memory log: a contiguous window of entries after a compacted prefix.
 *
 * Entries live in one array e[start .. start+n); index i is at e[start + (i - offset - 1)], so
 * access by index is O(1) and a run of entries is contiguous (messages and Ready point straight
 * into it, borrowed until the log next changes). Compaction frees payloads at the front and
 * slides the window; the array is moved down only when the dead front outgrows the live part,
 * so the amortized cost per entry stays O(1). The log owns every entry's data.base.
 */
#ifndef RK_RAFT_RLOG_H
#define RK_RAFT_RLOG_H

#include <stddef.h>

#include "raftkv/raft_types.h"

struct rk_rlog {
	struct rk_entry *e; /* array of cap entries; live ones in [start, start + n) */
	size_t start;
	size_t n;
	size_t cap;
	rk_index offset;    /* index of the last compacted entry (0: none) */
	rk_term offset_term;
};

void rk_rlog_init(struct rk_rlog *l, rk_index offset, rk_term offset_term);
void rk_rlog_close(struct rk_rlog *l);

static inline rk_index rk_rlog_first(const struct rk_rlog *l)
{
	return l->offset + 1;
}

static inline rk_index rk_rlog_last(const struct rk_rlog *l)
{
	return l->offset + l->n;
}

/* Entry @i, returned borrowed (until the log changes), or NULL outside [first, last]. */
static inline struct rk_entry *rk_rlog_get(const struct rk_rlog *l, rk_index i)
{
	if (i <= l->offset || i > l->offset + l->n)
		return NULL;
	return &l->e[l->start + (size_t)(i - l->offset - 1)];
}

/* Term of entry @i into *t: RK_OK, RK_ECOMPACTED (i < offset) or RK_EUNAVAILABLE (i > last).
 * The term of index offset (and of 0) is known. */
int rk_rlog_term(const struct rk_rlog *l, rk_index i, rk_term *t);

/* Term of @i, or 0 when unknown. */
rk_term rk_rlog_term_or0(const struct rk_rlog *l, rk_index i);

rk_term rk_rlog_last_term(const struct rk_rlog *l);

/* Make room for @more entries at the end. Errors: RK_ENOMEM. */
int rk_rlog_reserve(struct rk_rlog *l, size_t more);

/* Append @e (its index must be last + 1). Takes e->data.base on RK_OK. Errors: RK_ENOMEM. */
int rk_rlog_append(struct rk_rlog *l, const struct rk_entry *e);

/* Drop entries >= @i, freeing their payloads. */
void rk_rlog_truncate(struct rk_rlog *l, rk_index i);

/* Drop entries <= @i (<= last), freeing their payloads; offset becomes @i. */
void rk_rlog_compact(struct rk_rlog *l, rk_index i);

/* Drop everything; the log restarts after @i@@t (a snapshot install). */
void rk_rlog_reset(struct rk_rlog *l, rk_index i, rk_term t);

/* Payload bytes of entries [from, to]. */
size_t rk_rlog_bytes(const struct rk_rlog *l, rk_index from, rk_index to);

#endif

/* hist.c -- log-bucketed histogram; see hist.h for the bucket layout. */
#include "config.h"

#include "bench/hist.h"

#include <string.h>

#define SUB (1u << RKB_HIST_SUB_BITS)

void rkb_hist_init(struct rkb_hist *h)
{
	memset(h, 0, sizeof *h);
	h->min = UINT64_MAX;
}

/* Below 2 * SUB the value is its own index. Above, with the top bit at position msb, keep the
 * RKB_HIST_SUB_BITS + 1 leading bits m (SUB <= m < 2 * SUB) and the shift s that drops the
 * rest: index = SUB * s + m, which is contiguous with the exact range and increasing. */
unsigned rkb_hist_index(uint64_t ns)
{
	unsigned msb, shift;

	if (ns < 2 * SUB)
		return (unsigned)ns;
	msb = 63u - (unsigned)__builtin_clzll(ns);
	shift = msb - RKB_HIST_SUB_BITS;
	return SUB * shift + (unsigned)(ns >> shift);
}

void rkb_hist_bounds(unsigned idx, uint64_t *lo, uint64_t *hi)
{
	unsigned shift;
	uint64_t m;

	if (idx < 2 * SUB) {
		*lo = *hi = idx;
		return;
	}
	shift = idx / SUB - 1;
	m = idx % SUB + SUB;
	*lo = m << shift;
	*hi = *lo + (((uint64_t)1 << shift) - 1);
}

void rkb_hist_record(struct rkb_hist *h, uint64_t ns)
{
	h->buckets[rkb_hist_index(ns)]++;
	h->count++;
	h->sum += ns;
	if (ns < h->min)
		h->min = ns;
	if (ns > h->max)
		h->max = ns;
}

void rkb_hist_merge(struct rkb_hist *into, const struct rkb_hist *from)
{
	for (unsigned i = 0; i < RKB_HIST_BUCKETS; i++)
		into->buckets[i] += from->buckets[i];
	into->count += from->count;
	into->sum += from->sum;
	if (from->min < into->min)
		into->min = from->min;
	if (from->max > into->max)
		into->max = from->max;
}

uint64_t rkb_hist_quantile(const struct rkb_hist *h, double q)
{
	uint64_t rank, seen = 0, lo, hi, mid;

	if (h->count == 0)
		return 0;
	if (q >= 1.0)
		return h->max;
	/* The smallest sample with at least q of all samples at or below it. */
	rank = (uint64_t)(q * (double)h->count);
	if ((double)rank < q * (double)h->count)
		rank++;
	if (rank == 0)
		rank = 1;
	for (unsigned i = 0; i < RKB_HIST_BUCKETS; i++) {
		seen += h->buckets[i];
		if (seen < rank)
			continue;
		rkb_hist_bounds(i, &lo, &hi);
		mid = lo + (hi - lo) / 2;
		if (mid < h->min)
			mid = h->min;
		if (mid > h->max)
			mid = h->max;
		return mid;
	}
	return h->max;
}

/* hist.h -- log-bucketed latency histogram for the benchmark client (HDR-style).
 *
 * Values (nanoseconds) below 64 get a bucket each; above, every power of two is split into 32
 * equal sub-buckets, so a bucket's width is at most 1/32 of its lower bound: a reported
 * percentile (the bucket's midpoint, clamped to the observed min and max) is within ~1.6% of
 * the true sample. Recording is an index computation and an increment: no allocation, no
 * floating point. The exact min, max and sum are kept beside the buckets.
 */
#ifndef RK_BENCH_HIST_H
#define RK_BENCH_HIST_H

#include <stdint.h>

#define RKB_HIST_SUB_BITS 5                        /* 32 sub-buckets per power of two */
#define RKB_HIST_BUCKETS ((64 + 1) << RKB_HIST_SUB_BITS) /* covers every uint64_t value */

struct rkb_hist {
	uint64_t count;
	uint64_t sum;  /* ns */
	uint64_t min;  /* ns; UINT64_MAX while empty */
	uint64_t max;  /* ns */
	uint64_t buckets[RKB_HIST_BUCKETS];
};

void rkb_hist_init(struct rkb_hist *h);
void rkb_hist_record(struct rkb_hist *h, uint64_t ns);
/* Add every sample of @from into @into. */
void rkb_hist_merge(struct rkb_hist *into, const struct rkb_hist *from);
/* The value at quantile @q (0 < q <= 1) in ns; 0 for an empty histogram. */
uint64_t rkb_hist_quantile(const struct rkb_hist *h, double q);
/* Bucket of @ns and the bucket's [lo, hi] range (exposed for the tests). */
unsigned rkb_hist_index(uint64_t ns);
void rkb_hist_bounds(unsigned idx, uint64_t *lo, uint64_t *hi);

#endif

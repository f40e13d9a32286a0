/* test_queue.c -- the work queue: order, exactly-once delivery under contention, full/empty
 * edges, and shutdown while consumers sleep. */
#include "config.h"

#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <unistd.h>

#include "common/err.h"
#include "harness/runner.h"
#include "util/jobq.h"

#define ITEM(i) ((void *)(uintptr_t)((i) + 1)) /* never NULL */
#define INDEX(p) ((size_t)(uintptr_t)(p) - 1)

static void test_fifo_single_producer(void)
{
	struct rk_jobq q;
	void *item;

	CU_ASSERT_EQUAL_FATAL(rk_jobq_init(&q, 1000), RK_OK);
	for (size_t i = 0; i < 1000; i++)
		CU_ASSERT_EQUAL(rk_jobq_push(&q, ITEM(i)), RK_OK);
	CU_ASSERT_EQUAL(rk_jobq_size(&q), 1000);
	for (size_t i = 0; i < 1000; i++) {
		CU_ASSERT_EQUAL(rk_jobq_pop(&q, &item), RK_OK);
		CU_ASSERT_EQUAL(INDEX(item), i);
	}
	CU_ASSERT_EQUAL(rk_jobq_trypop(&q, &item), RK_EAGAIN);
	rk_jobq_close(&q);
}

static void test_full_and_empty_edges(void)
{
	struct rk_jobq q;
	void *item;
	unsigned int cap;

	CU_ASSERT_EQUAL(rk_jobq_init(&q, 0), RK_EINVAL);
	CU_ASSERT_EQUAL_FATAL(rk_jobq_init(&q, 5), RK_OK);
	cap = q.capacity;
	CU_ASSERT(cap >= 5);
	CU_ASSERT_EQUAL(rk_jobq_trypop(&q, &item), RK_EAGAIN);
	for (unsigned int i = 0; i < cap; i++)
		CU_ASSERT_EQUAL(rk_jobq_push(&q, ITEM(i)), RK_OK);
	/* Exactly at capacity: the next push is refused and the caller keeps the item. */
	CU_ASSERT_EQUAL(rk_jobq_push(&q, ITEM(cap)), RK_EFULL);
	CU_ASSERT_EQUAL(rk_jobq_size(&q), cap);
	CU_ASSERT_EQUAL(rk_jobq_trypop(&q, &item), RK_OK);
	CU_ASSERT_EQUAL(INDEX(item), 0);
	/* One slot freed: one push fits again, and order is kept across the wrap. */
	CU_ASSERT_EQUAL(rk_jobq_push(&q, ITEM(cap)), RK_OK);
	CU_ASSERT_EQUAL(rk_jobq_push(&q, ITEM(cap + 1)), RK_EFULL);
	for (unsigned int i = 1; i <= cap; i++) {
		CU_ASSERT_EQUAL(rk_jobq_trypop(&q, &item), RK_OK);
		CU_ASSERT_EQUAL(INDEX(item), i);
	}
	CU_ASSERT_EQUAL(rk_jobq_trypop(&q, &item), RK_EAGAIN);
	CU_ASSERT_EQUAL(rk_jobq_size(&q), 0);
	rk_jobq_close(&q);
}

/* ---- 4 producers x 4 consumers x 1,000,000 items ---- */

#define MPMC_THREADS 4
#define MPMC_ITEMS 1000000

struct mpmc {
	struct rk_jobq q;
	atomic_uchar *seen;    /* per item: times delivered */
	atomic_long delivered; /* total deliveries */
	atomic_long full;      /* pushes refused with RK_EFULL (backpressure exercised) */
	int next_producer;
	pthread_mutex_t lock;
};

static void *mpmc_producer(void *arg)
{
	struct mpmc *m = arg;
	size_t base;
	int rv;

	pthread_mutex_lock(&m->lock);
	base = (size_t)m->next_producer++ * MPMC_ITEMS;
	pthread_mutex_unlock(&m->lock);
	for (size_t i = 0; i < MPMC_ITEMS; i++) {
		while ((rv = rk_jobq_push(&m->q, ITEM(base + i))) == RK_EFULL) {
			atomic_fetch_add_explicit(&m->full, 1, memory_order_relaxed);
			sched_yield();
		}
		if (rv != RK_OK)
			abort();
	}
	return NULL;
}

static void *mpmc_consumer(void *arg)
{
	struct mpmc *m = arg;
	void *item;

	while (rk_jobq_pop(&m->q, &item) == RK_OK) {
		atomic_fetch_add_explicit(&m->seen[INDEX(item)], 1, memory_order_relaxed);
		atomic_fetch_add_explicit(&m->delivered, 1, memory_order_relaxed);
	}
	return NULL;
}

static void test_mpmc_exactly_once(void)
{
	const size_t total = (size_t)MPMC_THREADS * MPMC_ITEMS;
	pthread_t prod[MPMC_THREADS], cons[MPMC_THREADS];
	struct mpmc m = { .next_producer = 0 };
	size_t missing = 0, dup = 0;

	m.seen = calloc(total, sizeof *m.seen);
	CU_ASSERT_PTR_NOT_NULL_FATAL(m.seen);
	pthread_mutex_init(&m.lock, NULL);
	atomic_init(&m.delivered, 0);
	atomic_init(&m.full, 0);
	/* Small ring so that producers hit "full" and consumers hit "empty" many times. */
	CU_ASSERT_EQUAL_FATAL(rk_jobq_init(&m.q, 1024), RK_OK);
	for (int i = 0; i < MPMC_THREADS; i++)
		CU_ASSERT_EQUAL_FATAL(pthread_create(&cons[i], NULL, mpmc_consumer, &m), 0);
	for (int i = 0; i < MPMC_THREADS; i++)
		CU_ASSERT_EQUAL_FATAL(pthread_create(&prod[i], NULL, mpmc_producer, &m), 0);
	for (int i = 0; i < MPMC_THREADS; i++)
		pthread_join(prod[i], NULL);
	/* Every item is queued; shutdown lets consumers drain what is left, then stop. */
	rk_jobq_shutdown(&m.q);
	for (int i = 0; i < MPMC_THREADS; i++)
		pthread_join(cons[i], NULL);

	for (size_t i = 0; i < total; i++) {
		unsigned char c = atomic_load(&m.seen[i]);
		missing += c == 0;
		dup += c > 1;
	}
	CU_ASSERT_EQUAL(missing, 0);
	CU_ASSERT_EQUAL(dup, 0);
	CU_ASSERT_EQUAL(atomic_load(&m.delivered), (long)total);
	CU_ASSERT_EQUAL(rk_jobq_size(&m.q), 0);
	rk_jobq_close(&m.q);
	pthread_mutex_destroy(&m.lock);
	free(m.seen);
}

/* ---- shutdown while consumers sleep ---- */

struct waiter {
	struct rk_jobq *q;
	atomic_int result;
	atomic_int done;
};

static void *waiter_main(void *arg)
{
	struct waiter *w = arg;
	void *item;

	atomic_store(&w->result, rk_jobq_pop(w->q, &item));
	atomic_store(&w->done, 1);
	return NULL;
}

static void test_shutdown_wakes_waiters(void)
{
	struct rk_jobq q;
	struct waiter w[6];
	pthread_t t[6];
	void *item;
	int asleep = 0;

	CU_ASSERT_EQUAL_FATAL(rk_jobq_init(&q, 16), RK_OK);
	for (int i = 0; i < 6; i++) {
		w[i].q = &q;
		atomic_init(&w[i].result, -1);
		atomic_init(&w[i].done, 0);
		CU_ASSERT_EQUAL_FATAL(pthread_create(&t[i], NULL, waiter_main, &w[i]), 0);
	}
	/* Wait (bounded) until all six are parked in read(efd). */
	for (int spins = 0; spins < 5000 && asleep < 6; spins++) {
		usleep(1000);
		asleep = atomic_load(&q.sleepers);
	}
	CU_ASSERT_EQUAL(asleep, 6);
	for (int i = 0; i < 6; i++)
		CU_ASSERT_EQUAL(atomic_load(&w[i].done), 0);

	/* One item wakes exactly one waiter with that item... */
	CU_ASSERT_EQUAL(rk_jobq_push(&q, ITEM(7)), RK_OK);
	rk_jobq_shutdown(&q);
	for (int i = 0; i < 6; i++)
		pthread_join(t[i], NULL);
	/* ...and shutdown releases the rest with RK_ESHUTDOWN. */
	int ok = 0, shut = 0;
	for (int i = 0; i < 6; i++) {
		ok += atomic_load(&w[i].result) == RK_OK;
		shut += atomic_load(&w[i].result) == RK_ESHUTDOWN;
	}
	CU_ASSERT_EQUAL(ok, 1);
	CU_ASSERT_EQUAL(shut, 5);
	/* After shutdown: pushes are refused, pops return at once. */
	CU_ASSERT_EQUAL(rk_jobq_push(&q, ITEM(8)), RK_ESHUTDOWN);
	CU_ASSERT_EQUAL(rk_jobq_pop(&q, &item), RK_ESHUTDOWN);
	CU_ASSERT_EQUAL(rk_jobq_trypop(&q, &item), RK_ESHUTDOWN);
	rk_jobq_shutdown(&q); /* idempotent */
	rk_jobq_close(&q);
}

static void test_items_queued_before_shutdown_are_drained(void)
{
	struct rk_jobq q;
	void *item;

	CU_ASSERT_EQUAL_FATAL(rk_jobq_init(&q, 8), RK_OK);
	CU_ASSERT_EQUAL(rk_jobq_push(&q, ITEM(1)), RK_OK);
	CU_ASSERT_EQUAL(rk_jobq_push(&q, ITEM(2)), RK_OK);
	rk_jobq_shutdown(&q);
	CU_ASSERT_EQUAL(rk_jobq_pop(&q, &item), RK_OK);
	CU_ASSERT_EQUAL(INDEX(item), 1);
	CU_ASSERT_EQUAL(rk_jobq_pop(&q, &item), RK_OK);
	CU_ASSERT_EQUAL(INDEX(item), 2);
	CU_ASSERT_EQUAL(rk_jobq_pop(&q, &item), RK_ESHUTDOWN);
	rk_jobq_close(&q);
}

/* Pushes to a consumer that is asleep (or waking) post one token, not one per item; a second
 * sleeper gets a token of its own. */
static void test_one_token_per_sleeper(void)
{
	struct rk_jobq q;
	uint64_t v;
	int posted = 0;

	CU_ASSERT_EQUAL_FATAL(rk_jobq_init(&q, 64), RK_OK);
	CU_ASSERT_EQUAL_FATAL(fcntl(q.efd, F_SETFL, O_NONBLOCK), 0);
	atomic_fetch_add(&q.sleepers, 1); /* as a consumer does just before read() */
	for (size_t i = 0; i < 10; i++)
		CU_ASSERT_EQUAL(rk_jobq_push(&q, ITEM(i)), RK_OK);
	atomic_fetch_add(&q.sleepers, 1);
	CU_ASSERT_EQUAL(rk_jobq_push(&q, ITEM(10)), RK_OK);
	while (read(q.efd, &v, sizeof v) == (ssize_t)sizeof v)
		posted++;
	CU_ASSERT_EQUAL(posted, 2);
	atomic_store(&q.sleepers, 0);
	atomic_store(&q.tokens, 0);
	rk_jobq_close(&q);
}

static CU_TestInfo queue_tests[] = {
	{ "fifo_single_producer", test_fifo_single_producer },
	{ "full_and_empty_edges", test_full_and_empty_edges },
	{ "mpmc_4x4_exactly_once", test_mpmc_exactly_once },
	{ "shutdown_wakes_waiters", test_shutdown_wakes_waiters },
	{ "drain_after_shutdown", test_items_queued_before_shutdown_are_drained },
	{ "one_token_per_sleeper", test_one_token_per_sleeper },
	CU_TEST_INFO_NULL,
};

static CU_SuiteInfo suites[] = {
	{ "jobq", NULL, NULL, NULL, NULL, queue_tests },
	CU_SUITE_INFO_NULL,
};

int main(int argc, char **argv)
{
	return rk_test_main(argc, argv, suites);
}

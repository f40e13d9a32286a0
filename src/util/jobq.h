/* jobq.h -- bounded MPMC queue of pointers: the hand-off from the io thread to the workers.
 *
 * A ck_ring holds the items (lock-free for consumers; producers are serialised); an eventfd in semaphore mode puts idle consumers
 * to sleep so that an empty queue costs no CPU. Producers never block: a full queue is reported
 * so that the caller can apply backpressure (reply BUSY, stop reading a socket).
 *
 * Threads: any number of producers and consumers. rk_jobq_init/close belong to the owner,
 * with no producer or consumer running.
 */
#ifndef RK_UTIL_JOBQ_H
#define RK_UTIL_JOBQ_H

#include <ck_ring.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>

struct rk_jobq {
	struct ck_ring ring;
	struct ck_ring_buffer *slots; /* ring size slots; the ring holds size - 1 items */
	unsigned int capacity;        /* items it can hold: what init was asked for, rounded up */
	int efd;                      /* eventfd, EFD_SEMAPHORE: one token wakes one sleeper */
	atomic_int sleepers;          /* consumers inside (or about to enter) read(efd) */
	atomic_int tokens;            /* posted to efd and not yet read: wakes already on the way */
	atomic_bool shut;             /* set once by rk_jobq_shutdown() */
	pthread_mutex_t push_lock;    /* serialises producers (see jobq.c for why) */
};

/* Make @q hold at least @capacity items (1 .. 2^30). Errors: RK_EINVAL, RK_ENOMEM, RK_EIO. */
int rk_jobq_init(struct rk_jobq *q, unsigned int capacity);

/* Release @q's resources. Items still queued are not freed: the owner drains them first. */
void rk_jobq_close(struct rk_jobq *q);

/* Queue @item (not NULL) without blocking. Takes @item on RK_OK.
 * Errors: RK_EFULL (queue full: caller keeps @item), RK_ESHUTDOWN. */
int rk_jobq_push(struct rk_jobq *q, void *item);

/* Block until an item is available and return it in @item (owned by the caller).
 * After shutdown, items already queued are still returned; then RK_ESHUTDOWN. */
int rk_jobq_pop(struct rk_jobq *q, void **item);

/* As rk_jobq_pop() without blocking: RK_EAGAIN when empty. */
int rk_jobq_trypop(struct rk_jobq *q, void **item);

/* Refuse further pushes and wake every consumer, now and later. Idempotent. */
void rk_jobq_shutdown(struct rk_jobq *q);

/* Items queued now (a snapshot: may be stale by the time it is read). */
unsigned int rk_jobq_size(struct rk_jobq *q);

#endif

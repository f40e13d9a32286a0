/* kv_int.h -- what kv.c and kv_snap.c share: the store object and its swappable state.
 * Lock: rk_kv.lock guards st; the apply thread is the only one that takes it for writing. */
#ifndef RK_STORE_KV_INT_H
#define RK_STORE_KV_INT_H

#include <pthread.h>
#include <stdatomic.h>

#include "common/check.h"
#include "store/hash.h"
#include "store/kv.h"
#include "store/session.h"
#include "store/skiplist.h"

#define KV_HASH_SEED 0x609e467ada679f81ULL
#define KV_MIN_BUCKETS 16

/* Everything a snapshot replaces at once. */
struct kv_state {
	struct rk_hindex idx;     /* key -> entry */
	struct rk_slist sl;       /* entries in key order; owns them */
	struct rk_sessions sess;  /* exactly-once table */
	uint64_t clock_ms;        /* max leader timestamp applied so far; never goes back */
	size_t key_bytes;         /* sum of key lengths */
	size_t value_bytes;       /* sum of value lengths */
	struct rk_kent **pend;    /* in a run: new entries in the hash only (e->pending), any order */
	size_t n_pend, cap_pend;
};

struct rk_kv {
	pthread_rwlock_t lock;     /* guards st; held exclusively only by the apply thread */
	struct rk_kv_config cfg;   /* immutable after rk_kv_new */
	struct kv_state st;
	_Atomic uint64_t applied;  /* written under the write lock, read anywhere */
	bool run;                  /* apply thread: between rk_kv_run_begin and _end (lock held) */
};

static inline void kv_rdlock(struct rk_kv *kv)
{
	RK_CHECK(pthread_rwlock_rdlock(&kv->lock) == 0);
}

static inline void kv_wrlock(struct rk_kv *kv)
{
	RK_CHECK(pthread_rwlock_wrlock(&kv->lock) == 0);
}

static inline void kv_unlock(struct rk_kv *kv)
{
	RK_CHECK(pthread_rwlock_unlock(&kv->lock) == 0);
}

/* The write lock for one write, unless a run holds it already. */
static inline void kv_write_begin(struct rk_kv *kv)
{
	if (!kv->run)
		kv_wrlock(kv);
}

static inline void kv_write_end(struct rk_kv *kv)
{
	if (!kv->run)
		kv_unlock(kv);
}

/* Build an empty state with @buckets hash buckets (a power of two). Errors: RK_ENOMEM. */
int kv_state_init(struct kv_state *st, const struct rk_kv_config *cfg, size_t buckets);
/* Free the state with every entry and session. */
void kv_state_close(struct kv_state *st);

#endif

/* session.h -- client sessions for exactly-once writes (§6.3 of the Raft dissertation).
 *
 * client_id -> (last seq applied, its result status, store clock when it was applied). Sessions
 * sit in a hash table for lookup and on a list in order of last use (oldest first), which lets
 * expiry and eviction pop from the front. The store clock only moves forward (see kv.c), so
 * list order is also last_ms order. Every change is driven by applied log entries, which makes
 * the table identical on every replica. The bucket array is sized for max sessions up front,
 * so it never rehashes. Owner: the store's writer (apply thread).
 */
#ifndef RK_STORE_SESSION_H
#define RK_STORE_SESSION_H

#include <stddef.h>
#include <stdint.h>

struct rk_session {
	struct rk_session *hnext;  /* bucket chain */
	struct rk_session *older;  /* use list: towards the oldest */
	struct rk_session *newer;  /* use list: towards the newest */
	uint64_t client_id;        /* never 0 (0 means "no session") */
	uint64_t last_seq;         /* highest seq applied for this client */
	uint64_t last_ms;          /* store clock when last_seq was applied */
	int status;                /* result of last_seq: an RK_* code */
};

struct rk_sessions {
	struct rk_session **buckets; /* [mask + 1] */
	size_t mask;
	size_t count;                /* <= max */
	size_t max;                  /* bound: the oldest is evicted to admit a new one */
	struct rk_session *oldest;   /* front of the use list */
	struct rk_session *newest;   /* back of the use list */
};

/* Errors: RK_ENOMEM, RK_EINVAL (@max == 0). */
int rk_sessions_init(struct rk_sessions *s, size_t max);
void rk_sessions_close(struct rk_sessions *s);

/* Returns borrowed (until the next change), or NULL. */
struct rk_session *rk_sessions_find(const struct rk_sessions *s, uint64_t client_id);

/* Drop sessions whose last use is more than @timeout_ms before @now_ms (0: never expire). */
void rk_sessions_expire(struct rk_sessions *s, uint64_t now_ms, uint64_t timeout_ms);

/* Record @seq/@status for @sess at @now_ms and make it the newest. */
void rk_sessions_touch(struct rk_sessions *s, struct rk_session *sess, uint64_t seq,
		       int status, uint64_t now_ms);

/* Link @sess (allocated by the caller with rk_malloc, fields filled, client absent) as the
 * newest, evicting the oldest when the table is full. Takes @sess. */
void rk_sessions_add(struct rk_sessions *s, struct rk_session *sess);

#endif

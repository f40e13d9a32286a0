/* session.c -- the exactly-once session table; see session.h for the rules.
 * Owner: apply thread (through kv.c, under the store's write lock). */
#include "store/session.h"

#include <assert.h>
#include <string.h>

#include "common/err.h"
#include "common/mem.h"

static size_t bucket_of(const struct rk_sessions *s, uint64_t client_id)
{
	/* Client ids are often small counters: scramble before masking. */
	uint64_t x = client_id * 0x8a119b9e16bc1733ULL;

	return (size_t)(x ^ (x >> 29)) & s->mask;
}

int rk_sessions_init(struct rk_sessions *s, size_t max)
{
	size_t n = 16;

	memset(s, 0, sizeof *s);
	if (max == 0)
		return RK_EINVAL;
	while (n < max && n < ((size_t)1 << 40))
		n *= 2;
	s->buckets = rk_calloc(n, sizeof *s->buckets);
	if (s->buckets == NULL)
		return RK_ENOMEM;
	s->mask = n - 1;
	s->max = max;
	return RK_OK;
}

void rk_sessions_close(struct rk_sessions *s)
{
	struct rk_session *x, *nx;

	for (x = s->oldest; x != NULL; x = nx) {
		nx = x->newer;
		rk_free(x);
	}
	rk_free(s->buckets);
	memset(s, 0, sizeof *s);
}

struct rk_session *rk_sessions_find(const struct rk_sessions *s, uint64_t client_id)
{
	struct rk_session *x;

	for (x = s->buckets[bucket_of(s, client_id)]; x != NULL; x = x->hnext)
		if (x->client_id == client_id)
			return x;
	return NULL;
}

static void list_unlink(struct rk_sessions *s, struct rk_session *x)
{
	if (x->older != NULL)
		x->older->newer = x->newer;
	else
		s->oldest = x->newer;
	if (x->newer != NULL)
		x->newer->older = x->older;
	else
		s->newest = x->older;
	x->older = x->newer = NULL;
}

static void list_push_newest(struct rk_sessions *s, struct rk_session *x)
{
	x->older = s->newest;
	x->newer = NULL;
	if (s->newest != NULL)
		s->newest->newer = x;
	else
		s->oldest = x;
	s->newest = x;
}

static void drop(struct rk_sessions *s, struct rk_session *x)
{
	struct rk_session **pp = &s->buckets[bucket_of(s, x->client_id)];

	while (*pp != x)
		pp = &(*pp)->hnext;
	*pp = x->hnext;
	list_unlink(s, x);
	s->count--;
	rk_free(x);
}

void rk_sessions_expire(struct rk_sessions *s, uint64_t now_ms, uint64_t timeout_ms)
{
	if (timeout_ms == 0)
		return;
	/* last_ms <= now_ms always holds: the clock never goes back. */
	while (s->oldest != NULL && now_ms - s->oldest->last_ms > timeout_ms)
		drop(s, s->oldest);
}

void rk_sessions_touch(struct rk_sessions *s, struct rk_session *sess, uint64_t seq,
		       int status, uint64_t now_ms)
{
	sess->last_seq = seq;
	sess->status = status;
	sess->last_ms = now_ms;
	if (s->newest != sess) {
		list_unlink(s, sess);
		list_push_newest(s, sess);
	}
}

void rk_sessions_add(struct rk_sessions *s, struct rk_session *sess)
{
	size_t b;

	assert(sess->client_id != 0 && rk_sessions_find(s, sess->client_id) == NULL);
	if (s->count >= s->max)
		drop(s, s->oldest);
	b = bucket_of(s, sess->client_id);
	sess->hnext = s->buckets[b];
	s->buckets[b] = sess;
	list_push_newest(s, sess);
	s->count++;
}

/* kv.c -- state machine: hash index for lookups, skiplist for ordered scans, session table for
 * exactly-once, applied through rk_kv_apply(). One struct rk_kent per key, chained in its hash
 * bucket and linked in the skiplist; the value is a separate block so that overwrites never
 * move the entry. Removal unchains from the hash, unlinks from the skiplist, then frees.
 * Every write allocates what it needs before it touches anything, so RK_ENOMEM always leaves
 * the store as it was. Owner: apply thread (writes); readers: any thread under the read lock.
 */
#define _GNU_SOURCE
#include "store/kv.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "common/check.h"
#include "common/err.h"
#include "common/mem.h"
#include "store/kv_int.h"

enum put_mode { PUT_ANY, PUT_IF_ABSENT, PUT_IF_PRESENT };

void rk_kv_config_default(struct rk_kv_config *cfg)
{
	cfg->limits.max_key = 4096;
	cfg->limits.max_value = 1 << 20;
	cfg->session_timeout_ms = 60ULL * 60 * 1000;
	cfg->max_sessions = 65536;
}

int kv_state_init(struct kv_state *st, const struct rk_kv_config *cfg, size_t buckets)
{
	int rv;

	memset(st, 0, sizeof *st);
	rv = rk_hindex_init(&st->idx, buckets);
	if (rv != RK_OK)
		goto err;
	st->idx.min_buckets = KV_MIN_BUCKETS;
	rv = rk_slist_init(&st->sl);
	if (rv != RK_OK)
		goto err_close_idx;
	rv = rk_sessions_init(&st->sess, cfg->max_sessions);
	if (rv != RK_OK)
		goto err_close_sl;
	return RK_OK;
err_close_sl:
	rk_slist_close(&st->sl);
err_close_idx:
	rk_hindex_close(&st->idx);
err:
	return rv;
}

void kv_state_close(struct kv_state *st)
{
	for (size_t i = 0; i < st->n_pend; i++) {
		rk_free(st->pend[i]->val);
		rk_free(st->pend[i]);
	}
	rk_free(st->pend);
	st->pend = NULL;
	st->n_pend = st->cap_pend = 0;
	rk_sessions_close(&st->sess);
	rk_slist_close(&st->sl);
	rk_hindex_close(&st->idx);
}

int rk_kv_new(const struct rk_kv_config *cfg, struct rk_kv **out)
{
	pthread_rwlockattr_t attr;
	struct rk_kv *kv;
	int rv;

	if (cfg->limits.max_key == 0 || cfg->limits.max_value == 0 || cfg->max_sessions == 0)
		return RK_EINVAL;
	kv = rk_calloc(1, sizeof *kv);
	if (kv == NULL)
		return RK_ENOMEM;
	kv->cfg = *cfg;
	rv = kv_state_init(&kv->st, cfg, KV_MIN_BUCKETS);
	if (rv != RK_OK)
		goto err_free;
	/* Writer preference: a steady stream of scans must not starve the apply thread. */
	RK_CHECK(pthread_rwlockattr_init(&attr) == 0);
	RK_CHECK(pthread_rwlockattr_setkind_np(&attr,
					       PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP) == 0);
	if (pthread_rwlock_init(&kv->lock, &attr) != 0) {
		pthread_rwlockattr_destroy(&attr);
		rv = RK_ENOMEM;
		goto err_close_state;
	}
	pthread_rwlockattr_destroy(&attr);
	atomic_init(&kv->applied, 0);
	*out = kv;
	return RK_OK;
err_close_state:
	kv_state_close(&kv->st);
err_free:
	rk_free(kv);
	return rv;
}

void rk_kv_free(struct rk_kv *kv)
{
	if (kv == NULL)
		return;
	kv_state_close(&kv->st);
	RK_CHECK(pthread_rwlock_destroy(&kv->lock) == 0);
	rk_free(kv);
}

static inline uint64_t key_hash(const void *key, size_t klen)
{
	return rk_hash64(key, klen, KV_HASH_SEED);
}

/* ---- reads ---- */

static int copy_out(const uint8_t *src, size_t len, struct rk_buf *out)
{
	out->base = NULL;
	out->len = 0;
	if (len == 0)
		return RK_OK;
	out->base = rk_malloc(len);
	if (out->base == NULL)
		return RK_ENOMEM;
	memcpy(out->base, src, len);
	out->len = len;
	return RK_OK;
}

int rk_kv_get(struct rk_kv *kv, const void *key, size_t klen, struct rk_buf *out)
{
	struct rk_kent *e;
	int rv;

	out->base = NULL;
	out->len = 0;
	if (klen == 0)
		return RK_EINVAL;
	kv_rdlock(kv);
	e = rk_hindex_find(&kv->st.idx, key, klen, key_hash(key, klen));
	rv = e == NULL ? RK_ENOTFOUND : copy_out(e->val, e->vlen, out);
	kv_unlock(kv);
	return rv;
}

static bool in_scan(const struct rk_kv_scan *scan, const struct rk_kent *e)
{
	const uint8_t *k = rk_kent_key(e);

	if (scan->prefix)
		return e->klen >= scan->start_len &&
		       (scan->start_len == 0 || memcmp(k, scan->start, scan->start_len) == 0);
	if (scan->end_len == 0)
		return true;
	return rk_keycmp(k, e->klen, scan->end, scan->end_len) < 0;
}

int rk_kv_range(struct rk_kv *kv, const struct rk_kv_scan *scan, rk_kv_visit_fn fn, void *ctx,
		bool *more)
{
	static const uint8_t empty[1];
	struct rk_kent *e;
	size_t n = 0;
	int rv = RK_OK;

	if (more != NULL)
		*more = false;
	kv_rdlock(kv);
	e = scan->start_len == 0 ? rk_slist_first(&kv->st.sl)
				 : rk_slist_seek(&kv->st.sl, scan->start, scan->start_len);
	/* Keys are sorted, so the first key outside the prefix or at/after end ends the scan. */
	for (; e != NULL && in_scan(scan, e); e = e->next[0]) {
		if (scan->limit != 0 && n == scan->limit) {
			if (more != NULL)
				*more = true;
			break;
		}
		if (scan->keys_only)
			rv = fn(ctx, rk_kent_key(e), e->klen, NULL, 0);
		else /* never NULL for a value, even an empty one: NULL means keys_only */
			rv = fn(ctx, rk_kent_key(e), e->klen, e->val ? e->val : empty, e->vlen);
		if (rv != 0)
			break;
		n++;
	}
	kv_unlock(kv);
	return rv;
}

rk_index rk_kv_applied_index(const struct rk_kv *kv)
{
	return atomic_load_explicit(&kv->applied, memory_order_acquire);
}

int rk_kv_validate(const struct rk_kv *kv, const struct rk_kv_cmd *cmd)
{
	return rk_kv_cmd_validate(&kv->cfg.limits, cmd);
}

void rk_kv_stats(struct rk_kv *kv, struct rk_kv_stats *out)
{
	kv_rdlock(kv);
	out->keys = kv->st.sl.count;
	out->sessions = kv->st.sess.count;
	out->key_bytes = kv->st.key_bytes;
	out->value_bytes = kv->st.value_bytes;
	out->index_bytes = rk_hindex_bytes(&kv->st.idx);
	out->clock_ms = kv->st.clock_ms;
	out->applied = atomic_load_explicit(&kv->applied, memory_order_relaxed);
	kv_unlock(kv);
}

int rk_kv_session_get(struct rk_kv *kv, uint64_t client_id, uint64_t *seq, int *status)
{
	struct rk_session *s;
	int rv = RK_ENOTFOUND;

	kv_rdlock(kv);
	s = rk_sessions_find(&kv->st.sess, client_id);
	if (s != NULL) {
		*seq = s->last_seq;
		*status = s->status;
		rv = RK_OK;
	}
	kv_unlock(kv);
	return rv;
}

/* ---- writes (write lock held: the *_locked helpers) ---- */

static int check_sizes(const struct rk_kv *kv, size_t klen, size_t vlen)
{
	if (klen == 0)
		return RK_EINVAL;
	if (klen > kv->cfg.limits.max_key || vlen > kv->cfg.limits.max_value)
		return RK_ETOOLARGE;
	return RK_OK;
}

/* Set e's value to @val; in place when the length is unchanged (no allocation). */
static int set_value_locked(struct rk_kv *kv, struct rk_kent *e, const void *val, size_t vlen)
{
	uint8_t *nv = NULL;

	if (vlen == e->vlen) {
		if (vlen)
			memcpy(e->val, val, vlen);
		return RK_OK;
	}
	if (vlen != 0) {
		nv = rk_malloc(vlen);
		if (nv == NULL)
			return RK_ENOMEM;
		memcpy(nv, val, vlen);
	}
	rk_free(e->val);
	kv->st.value_bytes = kv->st.value_bytes - e->vlen + vlen;
	e->val = nv;
	e->vlen = (uint32_t)vlen;
	return RK_OK;
}

static int cmp_kent(const void *a, const void *b)
{
	const struct rk_kent *x = *(struct rk_kent *const *)a, *y = *(struct rk_kent *const *)b;

	return rk_keycmp(rk_kent_key(x), x->klen, rk_kent_key(y), y->klen);
}

/* Link the run's new entries into the skiplist: one sort, then one sorted pass (see
 * rk_slist_insert_sorted). Never fails. */
static void link_pending(struct kv_state *st)
{
	if (st->n_pend == 0)
		return;
	qsort(st->pend, st->n_pend, sizeof *st->pend, cmp_kent);
	for (size_t i = 0; i < st->n_pend; i++)
		st->pend[i]->pending = 0;
	rk_slist_insert_sorted(&st->sl, st->pend, st->n_pend);
	st->n_pend = 0;
}

/* Allocate and link a new entry (in a run: into the hash, and the skiplist at the run's end).
 * @hash is key_hash(key). */
static int insert_locked(struct rk_kv *kv, const void *key, size_t klen, uint64_t hash,
			 const void *val, size_t vlen)
{
	uint8_t level = rk_slist_random_level(&kv->st.sl);
	struct rk_kent *e;
	uint8_t *v = NULL;

	if (kv->run && rk_array_reserve((void **)&kv->st.pend, &kv->st.cap_pend,
					kv->st.n_pend + 1, sizeof *kv->st.pend) != 0)
		return RK_ENOMEM;
	if (vlen != 0) {
		v = rk_malloc(vlen);
		if (v == NULL)
			return RK_ENOMEM;
		memcpy(v, val, vlen);
	}
	e = rk_malloc(rk_kent_size(level, (uint32_t)klen));
	if (e == NULL) {
		rk_free(v);
		return RK_ENOMEM;
	}
	e->hnext = NULL;
	e->val = v;
	e->vlen = (uint32_t)vlen;
	e->klen = (uint32_t)klen;
	e->hash = (uint32_t)hash;
	e->level = level;
	memcpy(rk_kent_key(e), key, klen);
	rk_hindex_insert(&kv->st.idx, e);
	e->pending = kv->run;
	if (kv->run)
		kv->st.pend[kv->st.n_pend++] = e;
	else
		rk_slist_insert(&kv->st.sl, e);
	kv->st.key_bytes += klen;
	kv->st.value_bytes += vlen;
	return RK_OK;
}

static int put_locked(struct rk_kv *kv, const void *key, size_t klen, const void *val,
		      size_t vlen, enum put_mode mode)
{
	uint64_t h;
	struct rk_kent *e;
	int rv;

	rv = check_sizes(kv, klen, vlen);
	if (rv != RK_OK)
		return rv;
	h = key_hash(key, klen);
	e = rk_hindex_find(&kv->st.idx, key, klen, h);
	if (e != NULL) {
		if (mode == PUT_IF_ABSENT)
			return RK_EEXISTS;
		rv = set_value_locked(kv, e, val, vlen);
	} else {
		if (mode == PUT_IF_PRESENT)
			return RK_ENOTFOUND;
		rv = insert_locked(kv, key, klen, h, val, vlen);
	}
	if (rv == RK_OK)
		rk_hindex_step(&kv->st.idx);
	return rv;
}

static int delete_locked(struct rk_kv *kv, const void *key, size_t klen)
{
	struct rk_kent *e;
	int rv;

	rv = check_sizes(kv, klen, 0);
	if (rv != RK_OK)
		return rv;
	e = rk_hindex_find(&kv->st.idx, key, klen, key_hash(key, klen));
	if (e == NULL)
		return RK_ENOTFOUND;
	if (e->pending)
		link_pending(&kv->st); /* rare: a key created and deleted in the same run */
	rk_hindex_remove(&kv->st.idx, e);
	rk_slist_remove(&kv->st.sl, e);
	kv->st.key_bytes -= e->klen;
	kv->st.value_bytes -= e->vlen;
	rk_free(e->val);
	rk_free(e);
	rk_hindex_step(&kv->st.idx);
	return RK_OK;
}

static int append_locked(struct rk_kv *kv, const void *key, size_t klen, const void *val,
			 size_t vlen)
{
	struct rk_kent *e;
	uint8_t *nv;
	size_t total;
	uint64_t h;
	int rv;

	rv = check_sizes(kv, klen, vlen);
	if (rv != RK_OK)
		return rv;
	h = key_hash(key, klen);
	e = rk_hindex_find(&kv->st.idx, key, klen, h);
	if (e == NULL) {
		rv = insert_locked(kv, key, klen, h, val, vlen);
		if (rv == RK_OK)
			rk_hindex_step(&kv->st.idx);
		return rv;
	}
	total = (size_t)e->vlen + vlen;
	if (total > kv->cfg.limits.max_value)
		return RK_ETOOLARGE;
	if (vlen == 0)
		return RK_OK;
	/* realloc may extend in place; on failure the old block is untouched. */
	nv = rk_realloc(e->val, total);
	if (nv == NULL)
		return RK_ENOMEM;
	memcpy(nv + e->vlen, val, vlen);
	e->val = nv;
	e->vlen = (uint32_t)total;
	kv->st.value_bytes += vlen;
	return RK_OK;
}

static int cas_locked(struct rk_kv *kv, const void *key, size_t klen, const void *expected,
		      size_t xlen, const void *val, size_t vlen)
{
	struct rk_kent *e;
	int rv;

	rv = check_sizes(kv, klen, vlen);
	if (rv == RK_OK && xlen > kv->cfg.limits.max_value)
		rv = RK_ETOOLARGE;
	if (rv != RK_OK)
		return rv;
	e = rk_hindex_find(&kv->st.idx, key, klen, key_hash(key, klen));
	if (e == NULL)
		return RK_ENOTFOUND;
	if (e->vlen != xlen || (xlen != 0 && memcmp(e->val, expected, xlen) != 0))
		return RK_ECASFAILED;
	return set_value_locked(kv, e, val, vlen);
}

/* Run the data part of @cmd; returns its status, or RK_ENOMEM with nothing changed. */
static int exec_locked(struct rk_kv *kv, const struct rk_kv_cmd *c)
{
	switch (c->op) {
	case RK_KV_PUT:
		return put_locked(kv, c->key, c->key_len, c->value, c->value_len, PUT_ANY);
	case RK_KV_PUT_IF_ABSENT:
		return put_locked(kv, c->key, c->key_len, c->value, c->value_len, PUT_IF_ABSENT);
	case RK_KV_UPDATE:
		return put_locked(kv, c->key, c->key_len, c->value, c->value_len, PUT_IF_PRESENT);
	case RK_KV_DELETE:
		return delete_locked(kv, c->key, c->key_len);
	case RK_KV_APPEND:
		return append_locked(kv, c->key, c->key_len, c->value, c->value_len);
	case RK_KV_CAS:
		return cas_locked(kv, c->key, c->key_len, c->expected, c->expected_len, c->value,
				  c->value_len);
	default:
		return RK_EINVAL; /* decode admits only known ops; GET is handled by the caller */
	}
}

#define DIRECT_WRITE(call)                                                              \
	do {                                                                            \
		int rv_;                                                                \
		kv_write_begin(kv);                                                     \
		rv_ = (call);                                                           \
		kv_write_end(kv);                                                       \
		return rv_;                                                             \
	} while (0)

int rk_kv_put(struct rk_kv *kv, const void *key, size_t klen, const void *val, size_t vlen)
{
	DIRECT_WRITE(put_locked(kv, key, klen, val, vlen, PUT_ANY));
}

int rk_kv_put_if_absent(struct rk_kv *kv, const void *key, size_t klen, const void *val,
			size_t vlen)
{
	DIRECT_WRITE(put_locked(kv, key, klen, val, vlen, PUT_IF_ABSENT));
}

int rk_kv_update(struct rk_kv *kv, const void *key, size_t klen, const void *val, size_t vlen)
{
	DIRECT_WRITE(put_locked(kv, key, klen, val, vlen, PUT_IF_PRESENT));
}

int rk_kv_append(struct rk_kv *kv, const void *key, size_t klen, const void *val, size_t vlen)
{
	DIRECT_WRITE(append_locked(kv, key, klen, val, vlen));
}

int rk_kv_delete(struct rk_kv *kv, const void *key, size_t klen)
{
	DIRECT_WRITE(delete_locked(kv, key, klen));
}

int rk_kv_cas(struct rk_kv *kv, const void *key, size_t klen, const void *expected,
	      size_t xlen, const void *val, size_t vlen)
{
	DIRECT_WRITE(cas_locked(kv, key, klen, expected, xlen, val, vlen));
}

/* ---- apply ---- */

void rk_kv_result_release(struct rk_kv_result *res)
{
	rk_free(res->value.base);
	res->value.base = NULL;
	res->value.len = 0;
}

static bool session_live(const struct rk_kv *kv, const struct rk_session *s, uint64_t now)
{
	uint64_t timeout = kv->cfg.session_timeout_ms;

	return timeout == 0 || now - s->last_ms <= timeout;
}

/* Apply a decoded command. Order matters for RK_ENOMEM: everything that can fail (the new
 * session record, the data change) happens before the clock, the expiry and the session
 * table move, so a failure leaves the state exactly as it was. */
static int apply_cmd_locked(struct rk_kv *kv, const struct rk_kv_cmd *c,
			    struct rk_kv_result *res)
{
	struct kv_state *st = &kv->st;
	uint64_t now = c->ts_ms > st->clock_ms ? c->ts_ms : st->clock_ms;
	struct rk_session *s = NULL, *fresh = NULL;
	struct rk_kent *e;
	int status, rv;

	status = rk_kv_cmd_validate(&kv->cfg.limits, c);
	if (c->op == RK_KV_GET) {
		/* A read through the log: linearizable without ReadIndex; no session. */
		if (status == RK_OK) {
			e = rk_hindex_find(&st->idx, c->key, c->key_len,
					   key_hash(c->key, c->key_len));
			if (e == NULL) {
				status = RK_ENOTFOUND;
			} else {
				rv = copy_out(e->val, e->vlen, &res->value);
				if (rv != RK_OK)
					return rv;
			}
		}
		res->status = status;
		goto advance_clock;
	}
	/* seq 0 with a session is refused by validation; it must not create one either. */
	if (c->client_id != 0 && c->seq != 0) {
		s = rk_sessions_find(&st->sess, c->client_id);
		/* An idle session that expiry below will drop counts as absent already. */
		if (s != NULL && !session_live(kv, s, now))
			s = NULL;
		if (s != NULL && c->seq <= s->last_seq) {
			res->status = c->seq == s->last_seq ? s->status : RK_ESTALE;
			res->duplicate = true;
			goto advance_clock;
		}
		if (s == NULL) {
			fresh = rk_malloc(sizeof *fresh);
			if (fresh == NULL)
				return RK_ENOMEM;
		}
	}
	if (status == RK_OK)
		status = exec_locked(kv, c);
	if (status == RK_ENOMEM) {
		rk_free(fresh);
		return RK_ENOMEM;
	}
	res->status = status;
	st->clock_ms = now;
	rk_sessions_expire(&st->sess, now, kv->cfg.session_timeout_ms);
	if (fresh != NULL) {
		memset(fresh, 0, sizeof *fresh);
		fresh->client_id = c->client_id;
		fresh->last_seq = c->seq;
		fresh->status = status;
		fresh->last_ms = now;
		rk_sessions_add(&st->sess, fresh);
	} else if (s != NULL) {
		rk_sessions_touch(&st->sess, s, c->seq, status, now);
	}
	return RK_OK;
advance_clock:
	st->clock_ms = now;
	rk_sessions_expire(&st->sess, now, kv->cfg.session_timeout_ms);
	return RK_OK;
}

int rk_kv_apply(struct rk_kv *kv, rk_index index, const void *data, size_t len,
		struct rk_kv_result *res)
{
	struct rk_kv_cmd cmd;
	int rv = RK_OK;

	res->status = RK_OK;
	res->value.base = NULL;
	res->value.len = 0;
	res->duplicate = false;
	kv_write_begin(kv);
	if (index <= atomic_load_explicit(&kv->applied, memory_order_relaxed)) {
		rv = RK_EINVAL;
		goto out_unlock;
	}
	if (rk_kv_cmd_decode(data, len, &cmd) != RK_OK) {
		/* Same bytes on every replica, so the same answer: the entry is consumed. */
		res->status = RK_ECORRUPT;
	} else {
		rv = apply_cmd_locked(kv, &cmd, res);
		if (rv != RK_OK)
			goto out_unlock;
	}
	atomic_store_explicit(&kv->applied, index, memory_order_release);
out_unlock:
	kv_write_end(kv);
	return rv;
}

void rk_kv_run_begin(struct rk_kv *kv)
{
	assert(!kv->run);
	kv_wrlock(kv);
	kv->run = true;
}

void rk_kv_run_end(struct rk_kv *kv)
{
	assert(kv->run);
	link_pending(&kv->st);
	kv->run = false;
	kv_unlock(kv);
}

int rk_kv_reserve(struct rk_kv *kv, size_t n)
{
	int rv;

	kv_write_begin(kv);
	rv = rk_hindex_reserve(&kv->st.idx, rk_hindex_count(&kv->st.idx) + n);
	kv_write_end(kv);
	return rv;
}

int rk_kv_skip(struct rk_kv *kv, rk_index index)
{
	int rv = RK_OK;

	kv_write_begin(kv);
	if (index <= atomic_load_explicit(&kv->applied, memory_order_relaxed))
		rv = RK_EINVAL;
	else
		atomic_store_explicit(&kv->applied, index, memory_order_release);
	kv_write_end(kv);
	return rv;
}

/* kv_snap.c -- streamed snapshots and the replica digest of the store.
 *
 * Stream, version 1, little-endian (docs/store.md has the table):
 *   header   "RKKVSNAP" | u32 version | u32 flags (0) | u64 applied | u64 clock_ms
 *            | u64 key_count | u64 session_count                         (48 bytes)
 *   keys     key_count x { u32 klen | u32 vlen | key | value }, strictly ascending
 *   sessions session_count x { u64 client_id | u64 last_seq | u64 last_ms | u32 status
 *            | u32 0 }, oldest use first                                  (32 bytes each)
 *   trailer  "RKKVEND1" | u64 checksum                                    (16 bytes)
 * The checksum folds the header bytes, then the hash of every key and value, then every session
 * record; it is computed over fields rather than raw chunks so that writer and reader agree
 * whatever sizes the callbacks move. Session statuses are written as stable numbers (the
 * RK_* codes are only stable within one build). Save walks the live skiplist under the read
 * lock; nothing is copied except through a 64 KiB staging buffer.
 *
 * Threads: save and load run on the apply thread (the only writer). Save holds the read lock
 * (readers go on); load builds aside with no lock and swaps under the write lock. The digest
 * takes the read lock and may run anywhere.
 */
#include <string.h>

#include "common/err.h"
#include "common/mem.h"
#include "store/kv_int.h"

#define SNAP_MAGIC "RKKVSNAP"
#define SNAP_END "RKKVEND1"
#define SNAP_VERSION 1
#define SNAP_HEADER 48
#define SNAP_SESSION 32
#define SNAP_TRAILER 16
#define CHUNK (64 * 1024)
#define MAX_PRESIZE ((size_t)1 << 20) /* buckets sized from an untrusted count, at most */

static void put32(uint8_t *p, uint32_t v)
{
	int i;

	for (i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static void put64(uint8_t *p, uint64_t v)
{
	int i;

	for (i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t get64(const uint8_t *p)
{
	return (uint64_t)get32(p) | (uint64_t)get32(p + 4) << 32;
}

/* Stable numbers for session statuses, aligned with Status in proto/client.proto. */
static const struct {
	int code;
	uint32_t stable;
} status_map[] = {
	{RK_OK, 0},	       {RK_ENOTFOUND, 1}, {RK_EEXISTS, 2},
	{RK_ECASFAILED, 3}, {RK_ETOOLARGE, 6}, {RK_EINVAL, 7},
};

static uint32_t status_to_stable(int code)
{
	size_t i;

	for (i = 0; i < sizeof status_map / sizeof status_map[0]; i++)
		if (status_map[i].code == code)
			return status_map[i].stable;
	return 7; /* cannot happen: sessions only record the statuses above */
}

static int status_from_stable(uint32_t stable, int *code)
{
	size_t i;

	for (i = 0; i < sizeof status_map / sizeof status_map[0]; i++) {
		if (status_map[i].stable == stable) {
			*code = status_map[i].code;
			return RK_OK;
		}
	}
	return RK_ECORRUPT;
}

static uint64_t absorb_pair(uint64_t c, const uint8_t *key, size_t klen, const uint8_t *val,
			    size_t vlen)
{
	c = rk_hash_absorb(c, rk_hash64(key, klen, klen));
	return rk_hash_absorb(c, rk_hash64(val, vlen, ~(uint64_t)vlen));
}

static void encode_session(uint8_t *p, const struct rk_session *s)
{
	put64(p, s->client_id);
	put64(p + 8, s->last_seq);
	put64(p + 16, s->last_ms);
	put32(p + 24, status_to_stable(s->status));
	put32(p + 28, 0);
}

/* ---- digest ---- */

uint64_t rk_kv_digest(struct rk_kv *kv)
{
	uint8_t rec[SNAP_SESSION];
	const struct rk_kent *e;
	const struct rk_session *s;
	uint64_t d = KV_HASH_SEED;

	kv_rdlock(kv);
	for (e = rk_slist_first(&kv->st.sl); e != NULL; e = e->next[0])
		d = absorb_pair(d, rk_kent_key(e), e->klen, e->val, e->vlen);
	d = rk_hash_absorb(d, kv->st.sl.count);
	for (s = kv->st.sess.oldest; s != NULL; s = s->newer) {
		encode_session(rec, s);
		d = rk_hash_absorb(d, rk_hash64(rec, sizeof rec, 1));
	}
	d = rk_hash_absorb(d, kv->st.sess.count);
	d = rk_hash_absorb(d, kv->st.clock_ms);
	kv_unlock(kv);
	return d;
}

/* ---- save ---- */

struct swriter {
	rk_kv_write_fn fn;
	void *ctx;
	uint8_t *buf; /* CHUNK bytes of staging */
	size_t len;   /* bytes staged */
};

static int sw_flush(struct swriter *w)
{
	int rv = RK_OK;

	if (w->len != 0)
		rv = w->fn(w->ctx, w->buf, w->len);
	w->len = 0;
	return rv;
}

static int sw_put(struct swriter *w, const void *p, size_t n)
{
	int rv;

	if (n == 0)
		return RK_OK;
	if (n >= CHUNK / 2) {
		/* Big values go straight from the entry to the sink: no second copy. */
		rv = sw_flush(w);
		return rv != RK_OK ? rv : w->fn(w->ctx, p, n);
	}
	if (w->len + n > CHUNK) {
		rv = sw_flush(w);
		if (rv != RK_OK)
			return rv;
	}
	memcpy(w->buf + w->len, p, n);
	w->len += n;
	return RK_OK;
}

static int save_locked(struct rk_kv *kv, struct swriter *w)
{
	uint8_t hdr[SNAP_HEADER], rec[SNAP_SESSION], tr[SNAP_TRAILER];
	const struct rk_kent *e;
	const struct rk_session *s;
	uint64_t c;
	int rv;

	memcpy(hdr, SNAP_MAGIC, 8);
	put32(hdr + 8, SNAP_VERSION);
	put32(hdr + 12, 0);
	put64(hdr + 16, atomic_load_explicit(&kv->applied, memory_order_relaxed));
	put64(hdr + 24, kv->st.clock_ms);
	put64(hdr + 32, kv->st.sl.count);
	put64(hdr + 40, kv->st.sess.count);
	c = rk_hash64(hdr, sizeof hdr, KV_HASH_SEED);
	rv = sw_put(w, hdr, sizeof hdr);
	for (e = rk_slist_first(&kv->st.sl); e != NULL && rv == RK_OK; e = e->next[0]) {
		put32(rec, e->klen);
		put32(rec + 4, e->vlen);
		rv = sw_put(w, rec, 8);
		if (rv == RK_OK)
			rv = sw_put(w, rk_kent_key(e), e->klen);
		if (rv == RK_OK)
			rv = sw_put(w, e->val, e->vlen);
		c = absorb_pair(c, rk_kent_key(e), e->klen, e->val, e->vlen);
	}
	for (s = kv->st.sess.oldest; s != NULL && rv == RK_OK; s = s->newer) {
		encode_session(rec, s);
		rv = sw_put(w, rec, sizeof rec);
		c = rk_hash_absorb(c, rk_hash64(rec, sizeof rec, 1));
	}
	if (rv != RK_OK)
		return rv;
	memcpy(tr, SNAP_END, 8);
	put64(tr + 8, c);
	rv = sw_put(w, tr, sizeof tr);
	return rv != RK_OK ? rv : sw_flush(w);
}

int rk_kv_snapshot_save(struct rk_kv *kv, rk_kv_write_fn fn, void *ctx)
{
	struct swriter w = {.fn = fn, .ctx = ctx, .len = 0};
	int rv;

	w.buf = rk_malloc(CHUNK);
	if (w.buf == NULL)
		return RK_ENOMEM;
	/* The caller is the only writer, so the read lock is enough for a consistent image and
	 * lets readers go on while the stream is written. */
	kv_rdlock(kv);
	rv = save_locked(kv, &w);
	kv_unlock(kv);
	rk_free(w.buf);
	return rv;
}

/* ---- load ---- */

struct sreader {
	rk_kv_read_fn fn;
	void *ctx;
	uint8_t *buf; /* CHUNK bytes */
	size_t pos;   /* next unread byte in buf */
	size_t len;   /* bytes in buf */
};

static int sr_fill(struct sreader *r)
{
	size_t got = 0;
	int rv;

	rv = r->fn(r->ctx, r->buf, CHUNK, &got);
	if (rv != RK_OK)
		return rv;
	if (got == 0 || got > CHUNK)
		return RK_ECORRUPT; /* truncated (or a source that overran the buffer) */
	r->pos = 0;
	r->len = got;
	return RK_OK;
}

static int sr_get(struct sreader *r, void *dst, size_t n)
{
	uint8_t *d = dst;
	size_t k;
	int rv;

	while (n > 0) {
		if (r->pos == r->len) {
			rv = sr_fill(r);
			if (rv != RK_OK)
				return rv;
		}
		k = r->len - r->pos < n ? r->len - r->pos : n;
		memcpy(d, r->buf + r->pos, k);
		r->pos += k;
		d += k;
		n -= k;
	}
	return RK_OK;
}

/* The stream must end right after the trailer. */
static int sr_expect_end(struct sreader *r)
{
	size_t got = 0;
	int rv;

	if (r->pos != r->len)
		return RK_ECORRUPT;
	rv = r->fn(r->ctx, r->buf, CHUNK, &got);
	if (rv != RK_OK)
		return rv;
	return got == 0 ? RK_OK : RK_ECORRUPT;
}

static int load_keys(struct rk_kv *kv, struct sreader *r, struct kv_state *st, uint64_t nkeys,
		     uint64_t *c)
{
	struct rk_kent *tail[RK_SL_MAXLEVEL], *prev = NULL, *e;
	uint8_t rec[8];
	uint32_t klen, vlen;
	uint8_t level;
	uint64_t i;
	int rv;

	rk_slist_tail_init(&st->sl, tail);
	for (i = 0; i < nkeys; i++) {
		rv = sr_get(r, rec, sizeof rec);
		if (rv != RK_OK)
			return rv;
		klen = get32(rec);
		vlen = get32(rec + 4);
		/* The limits bound every length: garbage cannot ask for a huge allocation. */
		if (klen == 0 || klen > kv->cfg.limits.max_key || vlen > kv->cfg.limits.max_value)
			return RK_ECORRUPT;
		level = rk_slist_random_level(&st->sl);
		e = rk_malloc(rk_kent_size(level, klen));
		if (e == NULL)
			return RK_ENOMEM;
		memset(e, 0, sizeof *e);
		e->level = level;
		e->klen = klen;
		rv = sr_get(r, rk_kent_key(e), klen);
		if (rv == RK_OK && prev != NULL &&
		    rk_keycmp(rk_kent_key(prev), prev->klen, rk_kent_key(e), klen) >= 0)
			rv = RK_ECORRUPT;
		if (rv == RK_OK && vlen != 0) {
			e->val = rk_malloc(vlen);
			rv = e->val == NULL ? RK_ENOMEM : sr_get(r, e->val, vlen);
		}
		if (rv != RK_OK) {
			rk_free(e->val);
			rk_free(e);
			return rv;
		}
		e->vlen = vlen;
		e->hash = (uint32_t)rk_hash64(rk_kent_key(e), klen, KV_HASH_SEED);
		rk_hindex_insert(&st->idx, e);
		rk_hindex_step(&st->idx);
		rk_slist_append(&st->sl, tail, e);
		st->key_bytes += klen;
		st->value_bytes += vlen;
		*c = absorb_pair(*c, rk_kent_key(e), klen, e->val, vlen);
		prev = e;
	}
	return RK_OK;
}

static int load_sessions(struct sreader *r, struct kv_state *st, uint64_t nsess, uint64_t *c)
{
	uint8_t rec[SNAP_SESSION];
	struct rk_session *s;
	uint64_t i, prev_ms = 0;
	int status, rv;

	for (i = 0; i < nsess; i++) {
		rv = sr_get(r, rec, sizeof rec);
		if (rv != RK_OK)
			return rv;
		*c = rk_hash_absorb(*c, rk_hash64(rec, sizeof rec, 1));
		if (status_from_stable(get32(rec + 24), &status) != RK_OK || get32(rec + 28) != 0)
			return RK_ECORRUPT;
		/* Use order is last_ms order, and nothing was used after the clock. */
		if (get64(rec) == 0 || get64(rec + 8) == 0 || get64(rec + 16) < prev_ms ||
		    get64(rec + 16) > st->clock_ms)
			return RK_ECORRUPT;
		if (rk_sessions_find(&st->sess, get64(rec)) != NULL)
			return RK_ECORRUPT;
		s = rk_calloc(1, sizeof *s);
		if (s == NULL)
			return RK_ENOMEM;
		s->client_id = get64(rec);
		s->last_seq = get64(rec + 8);
		s->last_ms = get64(rec + 16);
		s->status = status;
		prev_ms = s->last_ms;
		rk_sessions_add(&st->sess, s);
	}
	return RK_OK;
}

static int load_from(struct rk_kv *kv, struct sreader *r, struct kv_state *st,
		     uint64_t *applied)
{
	uint8_t hdr[SNAP_HEADER], tr[SNAP_TRAILER];
	uint64_t nkeys, nsess, c;
	size_t buckets = KV_MIN_BUCKETS;
	int rv;

	rv = sr_get(r, hdr, sizeof hdr);
	if (rv != RK_OK)
		return rv;
	if (memcmp(hdr, SNAP_MAGIC, 8) != 0 || get32(hdr + 8) != SNAP_VERSION ||
	    get32(hdr + 12) != 0)
		return RK_ECORRUPT;
	*applied = get64(hdr + 16);
	nkeys = get64(hdr + 32);
	nsess = get64(hdr + 40);
	if (nsess > kv->cfg.max_sessions)
		return RK_ECORRUPT;
	while (buckets < nkeys && buckets < MAX_PRESIZE)
		buckets *= 2;
	rv = kv_state_init(st, &kv->cfg, buckets);
	if (rv != RK_OK)
		return rv;
	st->clock_ms = get64(hdr + 24);
	c = rk_hash64(hdr, sizeof hdr, KV_HASH_SEED);
	rv = load_keys(kv, r, st, nkeys, &c);
	if (rv == RK_OK)
		rv = load_sessions(r, st, nsess, &c);
	if (rv == RK_OK)
		rv = sr_get(r, tr, sizeof tr);
	if (rv == RK_OK && (memcmp(tr, SNAP_END, 8) != 0 || get64(tr + 8) != c))
		rv = RK_ECORRUPT;
	if (rv == RK_OK)
		rv = sr_expect_end(r);
	if (rv != RK_OK)
		kv_state_close(st);
	return rv;
}

int rk_kv_snapshot_load(struct rk_kv *kv, rk_kv_read_fn fn, void *ctx)
{
	struct sreader r = {.fn = fn, .ctx = ctx, .pos = 0, .len = 0};
	struct kv_state st, old;
	uint64_t applied = 0;
	int rv;

	r.buf = rk_malloc(CHUNK);
	if (r.buf == NULL)
		return RK_ENOMEM;
	rv = load_from(kv, &r, &st, &applied);
	rk_free(r.buf);
	if (rv != RK_OK)
		return rv;
	kv_wrlock(kv);
	old = kv->st;
	kv->st = st;
	atomic_store_explicit(&kv->applied, applied, memory_order_release);
	kv_unlock(kv);
	/* Freeing millions of entries happens outside the lock: nobody can reach them now. */
	kv_state_close(&old);
	return RK_OK;
}

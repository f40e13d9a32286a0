/* checker.c -- per-key linearizability search (Wing & Gong, with Lowe's memo) and the shrinking
 * of a violation to a small window.
 *
 * Search. One key's ops become events (a call at invocation, a return at completion) in a doubly
 * linked list ordered by time, calls first on equal times. Scanning from the head, any call met
 * before the first return may be linearized next: it was invoked before every pending op ended.
 * Linearizing applies the op to the model and unlinks its call and return; meeting a return
 * means the op it ends was never placed, so we undo the last choice and try the next call after
 * it. A memo of (set of linearized ops, model state) already explored cuts revisits: two paths
 * reaching the same pair have the same future. Indeterminate ops (INFO) have a call but no
 * return, so nothing forces them in; the search succeeds when no return is left.
 *
 * Pruning that keeps real histories (8 clients, INFO ops from faults) near linear, each argued
 * where it is done: a legal read is taken with no alternative (take_read()); INFO calls are tried
 * after the determinate ones; the memo treats a node as explored when one with the same
 * determinate ops, the same state and a subset of its INFO ops was (dominated()); INFO writes no
 * one read are dropped or merged (drop_unobserved()); on append-only keys an append must fit
 * the pending reads (fits_reads()). tests/unit/test_checker.c compares the result with brute
 * force on many small random histories.
 *
 * States are interned: an id per distinct value, values stored as chains (an append node points
 * at the state it extends), with a polynomial hash that an append extends in O(len(token)). That
 * keeps an append key of thousands of tokens from copying its whole value at every step.
 *
 * Shrinking. Cutting a history at time T1 -- keeping ops invoked by T1, turning ops still
 * pending at T1 into INFO writes and dropping their reads -- keeps a linearizable history
 * linearizable (truncate its linearization at the first op invoked after T1). Cutting at T0 from
 * the other end -- dropping ops completed by T0, treating ops pending at T0 likewise, starting
 * from a wildcard state -- does too. So a cut window that still fails is a real witness, and
 * both cuts are monotone, which lets us binary-search the latest T0 and earliest T1. Dropping a
 * read is sound as well; dropping a write is not (it could orphan a later read), so we never do.
 */
#include "config.h" /* _GNU_SOURCE: memmem */

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/mem.h"
#include "fault/checker.h"
#include "fault/checker_int.h"

#define NONE UINT32_MAX

/* Model ops: a history op after its outcome is folded in. */
enum mkind {
	M_READ,	    /* state must equal a (a.p == NULL: absent) */
	M_NOTFOUND, /* state must be absent */
	M_CASFAIL,  /* state must be present and differ from a */
	M_PUT,	    /* state := a */
	M_APPEND,   /* state := state . a (absent: a) */
	M_CAS,	    /* state must equal a; state := b */
	M_DELETE,   /* state must be present; state := absent */
};

struct mop {
	enum mkind kind;
	bool det;      /* has a return bound and must be linearized */
	bool was_det;  /* determinate in the history (for reports) */
	bool anon;     /* an INFO write whose value nothing reads: see drop_unobserved() */
	uint32_t cls;  /* INFO ops with the same effect share a class (NONE: alone in it) */
	uint32_t rank; /* place in its class by invocation: the search uses a class in order */
	const struct rk_chk_val *a, *b;
	size_t hop; /* history op */
	uint64_t inv, ret;
	uint64_t zob; /* random bits, 0 for INFO: the memo hashes the set's determinate part */
};

#define MAIN 0 /* list head of determinate calls and returns */
#define INFO 1 /* list head of indeterminate calls */

struct ent {
	uint32_t prev, next;
	uint32_t op;
	bool call;
	uint64_t t;
};

/* S_HIDDEN: present, holding the value of an anonymous INFO write: no read or cas can match it. */
enum skind { S_ABSENT, S_WILD, S_LIT, S_APP, S_HIDDEN };

#define HIDDEN 2 /* the state id of S_HIDDEN; 0 is absent, 1 the wildcard */

struct state {
	enum skind kind;
	bool wild;	 /* the chain starts at the wildcard: value = unknown . suffix */
	uint32_t parent; /* S_APP: the state extended */
	uint32_t chain;	 /* next state in the same intern bucket */
	const char *p;	 /* S_LIT: the value; S_APP: the token (borrowed from history) */
	size_t n;
	size_t len; /* bytes in the whole value (wild: in the known suffix) */
	uint64_t hash;
};

struct memo {
	uint64_t key; /* set hash ^ mixed state id; 0 marks an empty slot (key 0 remapped to 1) */
	uint32_t state;
	uint64_t *bits; /* the set in build_form()'s compact form, in the run's arena */
};

struct bitchunk {
	struct bitchunk *next;
	size_t used, cap; /* in words */
	uint64_t w[];
};

struct frame {
	uint32_t call; /* entry linearized */
	uint32_t ret;  /* for an indeterminate call: the first return when it was chosen */
	uint32_t prev_state;
	bool forced; /* a read taken with no alternative: backtracking skips past it */
};

struct run {
	const struct rk_chk_history *h;
	struct mop *ops;
	size_t nops, ndet;
	bool grow_only;	  /* only appends and reads: the value only ever grows */
	struct ent *ents; /* [0] is the head sentinel */
	size_t nents;
	struct state *st;
	size_t nst, stcap;
	uint32_t *buckets;
	size_t nbuckets;
	struct memo *memo;
	size_t memocap, nmemo;
	struct bitchunk *bits_arena;
	size_t words;	    /* per set */
	uint64_t *cur;	    /* the set being built */
	uint64_t *detmask;  /* the determinate ops */
	size_t top_word;    /* highest word holding a determinate op ever linearized */
	uint32_t *info_lin; /* INFO ops linearized, in the order chosen */
	size_t ninfo;
	uint64_t *form;	    /* scratch for build_form() */
	uint32_t *cls_used; /* per class of INFO ops: how many are linearized */
	char *scratch;
	size_t scratchcap;
	size_t bytes; /* what this run allocated, against the budget */
	/* budget */
	uint64_t max_steps;
	size_t max_bytes;
	uint64_t deadline_ns; /* 0: none */
	/* result */
	uint64_t steps;
	size_t deepest;
	uint32_t stuck_op; /* mop index; NONE if never stuck */
	uint32_t stuck_state;
};

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static uint64_t mix64(uint64_t x)
{
	x += 0x9e3779b97f4a7c15ULL;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
	return x ^ (x >> 31);
}

void rk_chk_opts_default(struct rk_chk_opts *o)
{
	o->max_steps = 50000000;
	o->max_bytes = (size_t)512 << 20;
	o->max_ms = 60000;
	o->shrink_limit = 200;
}

const char *rk_chk_verdict_str(enum rk_chk_verdict v)
{
	switch (v) {
	case RK_CHK_LINEARIZABLE:
		return "linearizable";
	case RK_CHK_VIOLATION:
		return "NOT linearizable";
	case RK_CHK_UNKNOWN:
		return "unknown (budget exceeded)";
	}
	return "?";
}

/* ---- states ---- */

static bool over_budget(const struct run *r)
{
	return r->max_bytes != 0 && r->bytes > r->max_bytes;
}

static void *run_alloc(struct run *r, size_t size)
{
	void *p = rk_malloc(size);
	if (p != NULL)
		r->bytes += size;
	return p;
}

/* Does the value of state @s, read backwards, match the last bytes of p[0..n)? For a concrete
 * chain that is equality (the caller has checked the length); for a wild one, "ends with". */
static bool tail_matches(const struct run *r, uint32_t s, const char *p, size_t n)
{
	size_t end = n;

	for (;;) {
		const struct state *x = &r->st[s];
		switch (x->kind) {
		case S_APP:
			if (end < x->n || memcmp(p + end - x->n, x->p, x->n) != 0)
				return false;
			end -= x->n;
			s = x->parent;
			break;
		case S_LIT:
			return end == x->n && memcmp(p, x->p, x->n) == 0;
		case S_WILD:
			return true;
		case S_ABSENT:
		case S_HIDDEN:
			return false;
		}
	}
}

/* May state @s hold value @v (absent when v->p == NULL)? */
static bool state_matches(const struct run *r, uint32_t s, const struct rk_chk_val *v)
{
	const struct state *x = &r->st[s];

	if (v->p == NULL)
		return x->kind == S_ABSENT || x->kind == S_WILD;
	if (x->kind == S_ABSENT || x->kind == S_HIDDEN)
		return false;
	if (x->wild)
		return x->len <= v->len && tail_matches(r, s, v->p, v->len);
	return x->len == v->len && x->hash == v->hash && tail_matches(r, s, v->p, v->len);
}

static uint64_t bucket_of(uint64_t hash, size_t len, bool wild)
{
	return mix64(hash ^ ((uint64_t)len << 1) ^ (wild ? 1 : 0));
}

static int grow_states(struct run *r)
{
	if (r->nst == r->stcap) {
		size_t ncap = r->stcap * 2;
		struct state *n = rk_realloc(r->st, ncap * sizeof *n);
		if (n == NULL)
			return RK_ENOMEM;
		r->bytes += r->stcap * sizeof *n;
		r->st = n;
		r->stcap = ncap;
	}
	if (r->nst * 2 > r->nbuckets) {
		size_t nb = r->nbuckets * 2;
		uint32_t *b = rk_malloc(nb * sizeof *b);
		if (b == NULL)
			return RK_ENOMEM;
		r->bytes += r->nbuckets * sizeof *b;
		for (size_t i = 0; i < nb; i++)
			b[i] = NONE;
		for (uint32_t s = HIDDEN + 1; s < r->nst; s++) {
			size_t j = (size_t)bucket_of(r->st[s].hash, r->st[s].len, r->st[s].wild) &
				   (nb - 1);
			r->st[s].chain = b[j];
			b[j] = s;
		}
		rk_free(r->buckets);
		r->buckets = b;
		r->nbuckets = nb;
	}
	return RK_OK;
}

static int ensure_scratch(struct run *r, size_t size)
{
	char *n;

	if (size <= r->scratchcap)
		return RK_OK;
	n = rk_realloc(r->scratch, size);
	if (n == NULL)
		return RK_ENOMEM;
	r->bytes += size - r->scratchcap;
	r->scratch = n;
	r->scratchcap = size;
	return RK_OK;
}

/* Write the known bytes of @s (its suffix, if wild) at the start of the scratch buffer. */
static int materialize(struct run *r, uint32_t s, size_t extra)
{
	size_t end = r->st[s].len;
	int rv = ensure_scratch(r, end + extra + 1);

	if (rv != RK_OK)
		return rv;
	r->scratch[end] = '\0';
	for (;;) {
		const struct state *x = &r->st[s];
		if (x->kind == S_APP) {
			end -= x->n;
			memcpy(r->scratch + end, x->p, x->n);
			s = x->parent;
			continue;
		}
		if (x->kind == S_LIT)
			memcpy(r->scratch, x->p, x->n);
		return RK_OK;
	}
}

/* The id of the state "@parent . @v" (parent NONE: the literal @v), created if new. */
static int intern(struct run *r, uint32_t parent, const struct rk_chk_val *v, uint32_t *out)
{
	const struct state *px = parent == NONE ? NULL : &r->st[parent];
	uint64_t hash = px == NULL ? v->hash : px->hash * v->pow + v->hash;
	size_t len = px == NULL ? v->len : px->len + v->len;
	bool wild = px != NULL && px->wild;
	bool built = false;
	size_t j;
	int rv;

	if (px != NULL && px->kind == S_ABSENT)
		return intern(r, NONE, v, out);
	if (px != NULL && px->kind == S_HIDDEN) {
		*out = HIDDEN; /* still holds the unread value */
		return RK_OK;
	}
	j = (size_t)bucket_of(hash, len, wild) & (r->nbuckets - 1);
	for (uint32_t s = r->buckets[j]; s != NONE; s = r->st[s].chain) {
		const struct state *x = &r->st[s];
		if (x->hash != hash || x->len != len || x->wild != wild)
			continue;
		if (x->kind == S_APP && x->parent == parent && x->n == v->len &&
		    memcmp(x->p, v->p, v->len) == 0) {
			*out = s;
			return RK_OK;
		}
		if (px == NULL) {
			if (tail_matches(r, s, v->p, v->len)) {
				*out = s;
				return RK_OK;
			}
			continue;
		}
		/* Same hash by another path ("a" + "bc" vs put "abc"): compare whole values. */
		if (!built) {
			rv = materialize(r, parent, v->len);
			if (rv != RK_OK)
				return rv;
			memcpy(r->scratch + px->len, v->p, v->len);
			built = true;
		}
		if (tail_matches(r, s, r->scratch, len)) {
			*out = s;
			return RK_OK;
		}
	}
	rv = grow_states(r);
	if (rv != RK_OK)
		return rv;
	r->st[r->nst] = (struct state){
		.kind = px == NULL ? S_LIT : S_APP,
		.wild = wild,
		.parent = parent,
		.p = v->p,
		.n = v->len,
		.len = len,
		.hash = hash,
	};
	j = (size_t)bucket_of(hash, len, wild) & (r->nbuckets - 1);
	r->st[r->nst].chain = r->buckets[j];
	r->buckets[j] = (uint32_t)r->nst;
	*out = (uint32_t)r->nst++;
	return RK_OK;
}

/* Apply @op to state @s. Returns 1 and the next state in *out when the op may take effect now,
 * 0 when not, or a negative error. */
static int apply(struct run *r, uint32_t s, const struct mop *op, uint32_t *out)
{
	const struct state *x = &r->st[s];
	int rv;

	if (op->anon) {
		if (op->kind == M_CAS && (!state_matches(r, s, op->a) || op->a->p == NULL))
			return 0;
		*out = HIDDEN;
		return 1;
	}
	switch (op->kind) {
	case M_READ:
		if (!state_matches(r, s, op->a))
			return 0;
		if (!x->wild) {
			*out = s;
			return 1;
		}
		/* A read pins the wildcard down to the value seen. */
		if (op->a->p == NULL) {
			*out = 0;
			return 1;
		}
		rv = intern(r, NONE, op->a, out);
		return rv == RK_OK ? 1 : -rv;
	case M_NOTFOUND:
		if (x->kind == S_ABSENT || x->kind == S_WILD) {
			*out = 0;
			return 1;
		}
		return 0;
	case M_CASFAIL:
		if (x->kind == S_ABSENT)
			return 0;
		if (!x->wild && state_matches(r, s, op->a))
			return 0;
		/* A wildcard could be any other value: keep it (over-approximates; sound). */
		*out = s;
		return 1;
	case M_PUT:
		rv = intern(r, NONE, op->a, out);
		return rv == RK_OK ? 1 : -rv;
	case M_APPEND:
		rv = intern(r, s, op->a, out);
		return rv == RK_OK ? 1 : -rv;
	case M_CAS:
		if (!state_matches(r, s, op->a) || op->a->p == NULL)
			return 0;
		rv = intern(r, NONE, op->b, out);
		return rv == RK_OK ? 1 : -rv;
	case M_DELETE:
		if (x->kind == S_ABSENT)
			return 0;
		*out = 0;
		return 1;
	}
	return 0;
}

/* ---- memo ---- */

/* The current set in the memo's compact form, built in r->form:
 *   [0] lo | hi << 32: determinate ops in words below lo are all linearized, above hi none
 *   [1] number of INFO ops linearized
 *   then the determinate bits of words lo..hi-1, then the INFO op indices, sorted, two a word.
 * Ops are numbered in invocation order and only a few are pending at once, so lo..hi is a
 * word or two wherever the search is: an entry costs a few words, not nops/8 bytes. */
static size_t build_form(struct run *r)
{
	size_t lo = 0, hi, n = 2, ninfo = 0;
	uint32_t *info;

	while (lo < r->words && (r->cur[lo] & r->detmask[lo]) == r->detmask[lo])
		lo++;
	hi = r->top_word + 1;
	while (hi > lo && (r->cur[hi - 1] & r->detmask[hi - 1]) == 0)
		hi--;
	if (hi < lo)
		hi = lo;
	r->form[0] = (uint64_t)lo | (uint64_t)hi << 32;
	for (size_t w = lo; w < hi; w++)
		r->form[n++] = r->cur[w] & r->detmask[w];
	info = (uint32_t *)(r->form + n);
	for (size_t i = 0; i < r->ninfo; i++) {
		/* insertion sort: a handful of INFO ops at most, as a rule */
		uint32_t v = r->info_lin[i];
		size_t j = ninfo++;
		while (j > 0 && info[j - 1] > v) {
			info[j] = info[j - 1];
			j--;
		}
		info[j] = v;
	}
	r->form[1] = ninfo;
	return n + (ninfo + 1) / 2;
}

static uint64_t *form_copy(struct run *r, size_t len)
{
	struct bitchunk *c = r->bits_arena;
	uint64_t *dst;

	if (c == NULL || c->cap - c->used < len) {
		size_t cap = len > 8192 ? len : 8192;
		c = run_alloc(r, sizeof *c + cap * sizeof(uint64_t));
		if (c == NULL)
			return NULL;
		c->next = r->bits_arena;
		c->used = 0;
		c->cap = cap;
		r->bits_arena = c;
	}
	dst = c->w + c->used;
	memcpy(dst, r->form, len * sizeof(uint64_t));
	c->used += len;
	return dst;
}

/* Is the current set (in r->form) no better than @seen: the same determinate ops, and a
 * superset of its indeterminate ones? Then what failed from @seen fails from here: an INFO op
 * applied already could as well have been left out for good. */
static bool dominated(const struct run *r, const uint64_t *seen)
{
	size_t lo = (uint32_t)seen[0], hi = (size_t)(seen[0] >> 32), n = 2 + hi - lo;
	const uint32_t *a, *b;
	size_t na = seen[1], nb = r->form[1], j = 0;

	if (seen[0] != r->form[0] || memcmp(seen + 2, r->form + 2, (hi - lo) * sizeof *seen) != 0)
		return false;
	if (na > nb)
		return false;
	a = (const uint32_t *)(seen + n);
	b = (const uint32_t *)(r->form + n);
	for (size_t i = 0; i < na; i++) {
		while (j < nb && b[j] < a[i])
			j++;
		if (j == nb || b[j] != a[i])
			return false;
	}
	return true;
}

/* Record (cur set, @state) in the memo unless a node that dominates it is there already; the
 * key hashes only the determinate part of the set, so such nodes share it.
 * Returns 1 if it was new, 0 if dominated, or a negative error. */
static int memo_add(struct run *r, uint64_t sethash, uint32_t state)
{
	uint64_t key = sethash ^ mix64(state);
	size_t j, len;

	if (key == 0)
		key = 1;
	if ((r->nmemo + 1) * 2 > r->memocap) {
		size_t ncap = r->memocap * 2;
		struct memo *m = run_alloc(r, ncap * sizeof *m);
		if (m == NULL)
			return -RK_ENOMEM;
		memset(m, 0, ncap * sizeof *m);
		for (size_t i = 0; i < r->memocap; i++) {
			if (r->memo[i].key == 0)
				continue;
			j = (size_t)r->memo[i].key & (ncap - 1);
			while (m[j].key != 0)
				j = (j + 1) & (ncap - 1);
			m[j] = r->memo[i];
		}
		rk_free(r->memo);
		r->bytes -= r->memocap * sizeof *m;
		r->memo = m;
		r->memocap = ncap;
	}
	len = build_form(r);
	j = (size_t)key & (r->memocap - 1);
	while (r->memo[j].key != 0) {
		if (r->memo[j].key == key && r->memo[j].state == state &&
		    dominated(r, r->memo[j].bits))
			return 0;
		j = (j + 1) & (r->memocap - 1);
	}
	r->memo[j].bits = form_copy(r, len);
	if (r->memo[j].bits == NULL)
		return -RK_ENOMEM;
	r->memo[j].key = key;
	r->memo[j].state = state;
	r->nmemo++;
	return 1;
}

/* ---- building a run ---- */

/* Which ops of the key to check, and how. */
struct window {
	bool has_t0, has_t1;
	uint64_t t0, t1;  /* see the file comment */
	const bool *drop; /* per history op: leave out (reads only); may be NULL */
};

static int cmp_ent(const void *pa, const void *pb)
{
	const struct ent *a = pa, *b = pb;

	if (a->t != b->t)
		return a->t < b->t ? -1 : 1;
	if (a->call != b->call)
		return a->call ? -1 : 1; /* equal times overlap */
	return a->op < b->op ? -1 : a->op > b->op;
}

static bool is_observation(enum mkind k)
{
	return k == M_READ || k == M_NOTFOUND || k == M_CASFAIL;
}

/* Fold @op's outcome into a model op; false when it has no effect to check. */
static bool to_mop(const struct rk_chk_op *op, struct mop *m)
{
	memset(m, 0, sizeof *m);
	m->det = op->status == RK_CHK_OK;
	m->a = &op->arg[0];
	m->b = &op->arg[1];
	if (op->status == RK_CHK_FAIL) {
		if (op->reason == RK_CHK_REASON_NONE)
			return false;
		m->kind = op->reason == RK_CHK_REASON_NOT_FOUND ? M_NOTFOUND : M_CASFAIL;
		m->det = true;
		return true;
	}
	switch (op->kind) {
	case RK_CHK_GET:
		m->kind = M_READ;
		m->a = &op->result;
		return op->status == RK_CHK_OK;
	case RK_CHK_PUT:
		m->kind = M_PUT;
		return true;
	case RK_CHK_APPEND:
		m->kind = M_APPEND;
		return true;
	case RK_CHK_CAS:
		m->kind = M_CAS;
		return true;
	case RK_CHK_DELETE:
		m->kind = M_DELETE;
		return true;
	}
	return false;
}

/* The value an indeterminate op would leave in the key, or NULL if it is not a put, an append
 * or a cas. */
static const struct rk_chk_val *written(const struct mop *m)
{
	switch (m->kind) {
	case M_PUT:
	case M_APPEND:
		return m->a;
	case M_CAS:
		return m->b;
	default:
		return NULL;
	}
}

static int cmp_len_desc(const void *pa, const void *pb)
{
	const struct rk_chk_val *a = *(const struct rk_chk_val *const *)pa;
	const struct rk_chk_val *b = *(const struct rk_chk_val *const *)pb;
	return a->len > b->len ? -1 : a->len < b->len;
}

/* Leave out or merge indeterminate writes that nothing could have seen: the search would
 * otherwise try every order and subset of them between two reads (k! for appends, whose states
 * all differ), at every level it backtracks through.
 *
 * An INFO write X of value v can only show through (a) an observed value containing v -- a read
 * result or a cas's expected value, since until something overwrites X the value contains v, and
 * a cas cannot overwrite it without expecting v -- or (b) making the key present, which only a
 * successful delete or a cas-failed can tell (and a not-found contradict). So if v occurs in no
 * observed value and no such presence check ended after X began, any linearization that applies
 * X stays legal with X removed: the states differ only until the next put or delete, and nothing
 * looks. Such an X is dropped.
 *
 * If a presence check does follow, X is kept as "anonymous": it leaves the hidden state
 * (present, unreadable, unequal to any cas expectation), a cas only if its expectation holds.
 * Anonymous puts and appends then all have the same effect, and so do all INFO deletes:
 * see assign_classes(). */
static int drop_unobserved(struct run *r)
{
	const struct rk_chk_val **seen = rk_malloc((r->nops + 1) * sizeof *seen);
	uint64_t presence_until = 0; /* latest return of a presence check */
	size_t nseen = 0, kept = 0, out = 0;

	if (seen == NULL)
		return RK_ENOMEM;
	for (size_t i = 0; i < r->nops; i++) {
		const struct mop *m = &r->ops[i];
		if ((m->kind == M_DELETE && m->det) || m->kind == M_CASFAIL ||
		    m->kind == M_NOTFOUND)
			if (m->ret > presence_until)
				presence_until = m->ret;
		if ((m->kind == M_READ || m->kind == M_CAS || m->kind == M_CASFAIL) &&
		    m->a->p != NULL)
			seen[nseen++] = m->a;
	}
	/* A value that is a prefix of a longer one adds no substrings: with appends most reads are
	 * prefixes of the last, so this leaves few values to search. */
	qsort(seen, nseen, sizeof *seen, cmp_len_desc);
	for (size_t i = 0; i < nseen; i++) {
		bool dup = false;
		for (size_t j = 0; j < kept && !dup; j++)
			dup = memcmp(seen[j]->p, seen[i]->p, seen[i]->len) == 0;
		if (!dup)
			seen[kept++] = seen[i];
	}
	for (size_t i = 0; i < r->nops; i++) {
		const struct mop *x = &r->ops[i];
		const struct rk_chk_val *v = written(x);
		bool observed = x->det || v == NULL || v->len == 0;
		for (size_t j = 0; !observed && j < kept; j++)
			observed = memmem(seen[j]->p, seen[j]->len, v->p, v->len) != NULL;
		if (!observed && x->inv > presence_until)
			continue;
		r->ops[out] = *x;
		r->ops[out++].anon = !observed;
	}
	r->nops = out;
	rk_free(seen);
	return RK_OK;
}

static bool same_val(const struct rk_chk_val *a, const struct rk_chk_val *b)
{
	if (a->p == NULL || b->p == NULL)
		return a->p == b->p;
	return a->len == b->len && a->hash == b->hash && memcmp(a->p, b->p, a->len) == 0;
}

/* Do INFO ops @x and @y have the same effect on every state? */
static bool same_effect(const struct mop *x, const struct mop *y)
{
	if (x->kind != y->kind || x->anon != y->anon)
		return false;
	switch (x->kind) {
	case M_DELETE:
		return true;
	case M_PUT:
	case M_APPEND:
		return x->anon || same_val(x->a, y->a);
	case M_CAS:
		return same_val(x->a, y->a) && (x->anon || same_val(x->b, y->b));
	default:
		return false;
	}
}

/* Group INFO ops with the same effect (every INFO delete; every anonymous put or append) into
 * classes ranked by invocation. With no return bound, the earliest invoked unused op of a class
 * can stand in wherever a later one is applied, and the later one take the earlier one's place
 * if that was used later: so the search uses each class in rank order and tries only its next
 * op at each node, instead of each of them. */
static int assign_classes(struct run *r)
{
	uint32_t ncls = 0;

	r->cls_used = rk_calloc(r->nops + 1, sizeof *r->cls_used);
	if (r->cls_used == NULL)
		return RK_ENOMEM;
	for (size_t i = 0; i < r->nops; i++)
		r->ops[i].cls = NONE;
	for (size_t i = 0; i < r->nops; i++) {
		struct mop *x = &r->ops[i];
		uint32_t members = 0;
		if (x->det || x->cls != NONE)
			continue;
		for (size_t j = i + 1; j < r->nops; j++) {
			if (!r->ops[j].det && r->ops[j].cls == NONE && same_effect(x, &r->ops[j])) {
				r->ops[j].cls = ncls;
				members++;
			}
		}
		if (members == 0)
			continue;
		x->cls = ncls;
		/* rank by invocation time, ties by position (lines may be out of time order) */
		for (size_t j = i; j < r->nops; j++) {
			struct mop *y = &r->ops[j];
			if (y->cls != ncls)
				continue;
			y->rank = 0;
			for (size_t l = i; l < r->nops; l++)
				if (r->ops[l].cls == ncls &&
				    (r->ops[l].inv < y->inv || (r->ops[l].inv == y->inv && l < j)))
					y->rank++;
		}
		ncls++;
	}
	return RK_OK;
}

static void run_free(struct run *r)
{
	struct bitchunk *c = r->bits_arena;

	while (c != NULL) {
		struct bitchunk *next = c->next;
		rk_free(c);
		c = next;
	}
	rk_free(r->ops);
	rk_free(r->ents);
	rk_free(r->st);
	rk_free(r->buckets);
	rk_free(r->memo);
	rk_free(r->cur);
	rk_free(r->detmask);
	rk_free(r->info_lin);
	rk_free(r->form);
	rk_free(r->cls_used);
	rk_free(r->scratch);
	memset(r, 0, sizeof *r);
}

/* Build the run of @key's ops (indices @idx, @n of them) cut to @w. */
static int run_init(struct run *r, const struct rk_chk_history *h, const size_t *idx, size_t n,
		    const struct window *w)
{
	size_t e = 2; /* after the two list heads */

	memset(r, 0, sizeof *r);
	r->h = h;
	r->stuck_op = NONE;
	r->ops = rk_calloc(n + 1, sizeof *r->ops);
	r->ents = rk_calloc(2 * n + 2, sizeof *r->ents);
	r->stcap = 64;
	r->st = rk_calloc(r->stcap, sizeof *r->st);
	r->nbuckets = 128;
	r->buckets = rk_malloc(r->nbuckets * sizeof *r->buckets);
	r->memocap = 1024;
	r->memo = rk_calloc(r->memocap, sizeof *r->memo);
	if (r->ops == NULL || r->ents == NULL || r->st == NULL || r->buckets == NULL ||
	    r->memo == NULL)
		goto err;
	for (size_t i = 0; i < r->nbuckets; i++)
		r->buckets[i] = NONE;

	for (size_t k = 0; k < n; k++) {
		const struct rk_chk_op *op = &h->ops[idx[k]];
		struct mop *m = &r->ops[r->nops];
		if ((w->drop != NULL && w->drop[idx[k]]) || !to_mop(op, m))
			continue;
		m->hop = idx[k];
		m->inv = op->invoke_ns;
		m->ret = m->det ? op->return_ns : UINT64_MAX;
		m->was_det = m->det;
		if (w->has_t1) {
			if (m->inv > w->t1)
				continue;
			if (m->det && m->ret > w->t1) {
				if (is_observation(m->kind))
					continue;
				m->det = false;
				m->ret = UINT64_MAX;
			}
		}
		if (w->has_t0) {
			if (m->det && m->ret <= w->t0)
				continue;
			if (m->inv <= w->t0) {
				if (is_observation(m->kind))
					continue;
				m->det = false;
				m->ret = UINT64_MAX;
			}
		}
		r->nops++;
	}
	if (drop_unobserved(r) != RK_OK || assign_classes(r) != RK_OK)
		goto err;
	r->grow_only = true;
	for (size_t i = 0; i < r->nops; i++)
		if (r->ops[i].kind != M_APPEND && r->ops[i].kind != M_READ)
			r->grow_only = false;
	for (size_t i = 0; i < r->nops; i++) {
		struct mop *m = &r->ops[i];
		m->zob = m->det ? mix64(((uint64_t)i << 1) ^ 0x5bd1e995ULL) : 0;
		r->ents[e++] = (struct ent){.op = (uint32_t)i, .call = true, .t = m->inv};
		if (m->det) {
			r->ents[e++] = (struct ent){.op = (uint32_t)i, .call = false, .t = m->ret};
			r->ndet++;
		}
	}
	r->nents = e;
	qsort(r->ents + 2, e - 2, sizeof *r->ents, cmp_ent);
	/* Two lists in time order: determinate calls and all returns from MAIN; indeterminate
	 * calls from INFO, which the search tries only after the determinate ones. */
	{
		uint32_t tail[2] = {MAIN, INFO};
		r->ents[MAIN] = (struct ent){.prev = NONE, .next = NONE, .op = NONE};
		r->ents[INFO] = (struct ent){.prev = NONE, .next = NONE, .op = NONE};
		for (uint32_t i = 2; i < e; i++) {
			int l = r->ents[i].call && !r->ops[r->ents[i].op].det;
			r->ents[i].prev = tail[l];
			r->ents[i].next = NONE;
			r->ents[tail[l]].next = i;
			tail[l] = i;
		}
	}
	r->words = (r->nops + 63) / 64;
	r->cur = rk_calloc(r->words + 1, sizeof *r->cur);
	r->detmask = rk_calloc(r->words + 1, sizeof *r->detmask);
	r->info_lin = rk_calloc(r->nops + 1, sizeof *r->info_lin);
	r->form = rk_calloc(r->words + r->nops / 2 + 4, sizeof *r->form);
	if (r->cur == NULL || r->detmask == NULL || r->info_lin == NULL || r->form == NULL)
		goto err;
	for (size_t i = 0; i < r->nops; i++)
		if (r->ops[i].det)
			r->detmask[i / 64] |= 1ULL << (i % 64);
	/* State 0 is absent, 1 the wildcard (the start of a window cut at T0). */
	r->st[0] = (struct state){.kind = S_ABSENT, .parent = NONE, .chain = NONE};
	r->st[1] = (struct state){.kind = S_WILD,
				  .wild = true,
				  .parent = NONE,
				  .chain = NONE,
				  .hash = 0x2545f4914f6cdd1dULL};
	r->st[HIDDEN] = (struct state){.kind = S_HIDDEN, .parent = NONE, .chain = NONE};
	r->nst = 3;
	r->bytes = (n + 1) * sizeof *r->ops + (2 * n + 2) * sizeof *r->ents +
		   r->stcap * sizeof *r->st + r->nbuckets * sizeof *r->buckets +
		   r->memocap * sizeof *r->memo;
	return RK_OK;
err:
	run_free(r);
	return RK_ENOMEM;
}

/* ---- the search ---- */

static void unlink_ent(struct run *r, uint32_t i)
{
	struct ent *x = &r->ents[i];
	r->ents[x->prev].next = x->next;
	if (x->next != NONE)
		r->ents[x->next].prev = x->prev;
}

static void relink_ent(struct run *r, uint32_t i)
{
	struct ent *x = &r->ents[i];
	r->ents[x->prev].next = i;
	if (x->next != NONE)
		r->ents[x->next].prev = i;
}

/* The return entry of each op, found once: ops are few enough to scan. */
static int find_returns(struct run *r, uint32_t **out)
{
	uint32_t *ret = rk_malloc((r->nops + 1) * sizeof *ret);

	if (ret == NULL)
		return RK_ENOMEM;
	for (size_t i = 0; i < r->nops; i++)
		ret[i] = NONE;
	for (uint32_t i = 2; i < r->nents; i++)
		if (!r->ents[i].call)
			ret[r->ents[i].op] = i;
	*out = ret;
	return RK_OK;
}

/* When the value only grows, every read not yet linearized will see an extension of the value
 * now. So appending @v to a state of @plen bytes must put v at offset plen of each of them.
 * Checking the nearest reads prunes a wrong order of appends at once, instead of at the first
 * read that tells, after trying every order of the appends in between. */
static bool fits_reads(const struct run *r, size_t plen, const struct rk_chk_val *v)
{
	int seen = 0;

	for (uint32_t e = r->ents[MAIN].next; e != NONE && seen < 32; e = r->ents[e].next) {
		const struct mop *m = &r->ops[r->ents[e].op];
		if (!r->ents[e].call || m->kind != M_READ)
			continue;
		seen++;
		if (m->a->p == NULL || m->a->len < plen + v->len ||
		    memcmp(m->a->p + plen, v->p, v->len) != 0)
			return false;
	}
	return true;
}

/* Where the search stands: the path so far and what it left. */
struct path {
	struct frame *stack;
	size_t depth;
	uint32_t *ret; /* per op: its return entry */
	uint32_t state;
	uint64_t sethash; /* xor of the linearized ops' zob */
	size_t left;	  /* determinate ops not yet linearized */
};

enum { TRY_NO, TRY_DONE, TRY_SEEN }; /* illegal now; linearized; legal but explored before */

/* Try to linearize call entry @e next; @forced marks a choice with no alternative (see
 * search()). Returns a TRY_ value, or a negative error. */
static int try_call(struct run *r, struct path *p, uint32_t e, uint32_t rt, bool forced)
{
	const struct ent *x = &r->ents[e];
	const struct mop *m = &r->ops[x->op];
	uint32_t next;
	int ok = apply(r, p->state, m, &next);

	if (ok <= 0)
		return ok;
	if (m->kind == M_APPEND && r->grow_only && !m->anon && r->st[p->state].kind != S_HIDDEN &&
	    !r->st[p->state].wild && !fits_reads(r, r->st[p->state].len, m->a))
		return TRY_NO;
	r->cur[x->op / 64] |= 1ULL << (x->op % 64);
	if (!m->det)
		r->info_lin[r->ninfo++] = x->op;
	if (m->cls != NONE)
		r->cls_used[m->cls]++;
	else if (x->op / 64 > r->top_word)
		r->top_word = x->op / 64;
	ok = memo_add(r, p->sethash ^ m->zob, next);
	if (ok <= 0) {
		r->cur[x->op / 64] &= ~(1ULL << (x->op % 64));
		if (!m->det)
			r->ninfo--;
		if (m->cls != NONE)
			r->cls_used[m->cls]--;
		return ok == 0 ? TRY_SEEN : ok;
	}
	p->stack[p->depth++] = (struct frame){
		.call = e,
		.ret = rt,
		.prev_state = p->state,
		.forced = forced,
	};
	p->sethash ^= m->zob;
	p->state = next;
	unlink_ent(r, e);
	if (m->det) {
		unlink_ent(r, p->ret[x->op]);
		p->left--;
	}
	return TRY_DONE;
}

/* Undo the last choice; returns its frame. */
static struct frame undo(struct run *r, struct path *p)
{
	struct frame f = p->stack[--p->depth];
	uint32_t op = r->ents[f.call].op;
	const struct mop *m = &r->ops[op];

	if (m->det) {
		relink_ent(r, p->ret[op]);
		p->left++;
	} else {
		r->ninfo--; /* undo is last-in first-out */
	}
	if (m->cls != NONE)
		r->cls_used[m->cls]--;
	relink_ent(r, f.call);
	r->cur[op / 64] &= ~(1ULL << (op % 64));
	p->sethash ^= m->zob;
	p->state = f.prev_state;
	return f;
}

/* Linearize a read that is legal now, if there is one among the candidates: TRY_DONE, TRY_NO
 * (none), TRY_SEEN (one, but this node was explored before), or a negative error.
 *
 * Taking it is no loss: a read does not change the state, and everything that had to precede
 * it is already linearized (it is a candidate), so any linearization from here that places it
 * later still works with it moved first. The search then tries no alternative at this level. */
static int take_read(struct run *r, struct path *p)
{
	if (r->st[p->state].wild)
		return TRY_NO; /* a read narrows the wildcard: it does change the state */
	for (uint32_t e = r->ents[MAIN].next; r->ents[e].call; e = r->ents[e].next) {
		if (is_observation(r->ops[r->ents[e].op].kind)) {
			int ok = try_call(r, p, e, NONE, true);
			if (ok != TRY_NO)
				return ok;
		}
	}
	return TRY_NO;
}

/* Run the search from @init. Sets *verdict; errors: RK_ENOMEM.
 *
 * At each level a legal read is taken with no alternative (take_read()); failing that, the
 * candidates are the determinate calls before the first return R, then the indeterminate calls
 * invoked by R's time. Trying the latter last makes the search put off an INFO op until some
 * read needs it, rather than drag it through every order of what follows. */
static int search(struct run *r, uint32_t init, enum rk_chk_verdict *verdict)
{
	struct path p = {.state = init, .left = r->ndet};
	uint32_t e = NONE, rt = NONE; /* rt: the first return, once the scan reached it */
	bool fresh = true;	      /* a new level: look for a read first */
	int rv = RK_OK, ok;

	rv = find_returns(r, &p.ret);
	if (rv != RK_OK)
		return rv;
	p.stack = rk_malloc((r->nops + 1) * sizeof *p.stack);
	if (p.stack == NULL) {
		rv = RK_ENOMEM;
		goto out;
	}
	*verdict = RK_CHK_LINEARIZABLE;
	while (p.left > 0) {
		if (++r->steps % 4096 == 0 &&
		    ((r->deadline_ns != 0 && now_ns() > r->deadline_ns) || over_budget(r))) {
			*verdict = RK_CHK_UNKNOWN;
			break;
		}
		if (r->max_steps != 0 && r->steps > r->max_steps) {
			*verdict = RK_CHK_UNKNOWN;
			break;
		}
		if (fresh) {
			fresh = false;
			ok = take_read(r, &p);
			if (ok < 0) {
				rv = -ok;
				goto out;
			}
			if (ok == TRY_DONE) {
				fresh = true;
				continue;
			}
			e = r->ents[MAIN].next;
			rt = NONE;
			if (ok == TRY_SEEN)
				goto backtrack;
			continue;
		}
		if (rt == NONE && !r->ents[e].call) {
			/* End of the determinate candidates: on to the indeterminate ones. */
			rt = e;
			e = r->ents[INFO].next;
			continue;
		}
		if (rt == NONE || (e != NONE && r->ents[e].t <= r->ents[rt].t)) {
			const struct mop *m = &r->ops[r->ents[e].op];
			/* Reads legal here were taken by take_read(); the others cannot be. Of
			 * a class of INFO ops, only the next unused one stands for them all. */
			if ((is_observation(m->kind) && !r->st[p.state].wild) ||
			    (m->cls != NONE && m->rank != r->cls_used[m->cls]))
				ok = TRY_NO;
			else
				ok = try_call(r, &p, e, rt, false);
			if (ok < 0) {
				rv = -ok;
				goto out;
			}
			if (ok == TRY_DONE)
				fresh = true;
			else
				e = r->ents[e].next;
			continue;
		}
		/* No candidate left: R's op cannot be placed after what we chose. */
		if (p.depth >= r->deepest || r->stuck_op == NONE) {
			r->deepest = p.depth;
			r->stuck_op = r->ents[rt].op;
			r->stuck_state = p.state;
		}
	backtrack:
		for (;;) {
			struct frame f;
			if (p.depth == 0) {
				*verdict = RK_CHK_VIOLATION;
				goto out;
			}
			f = undo(r, &p);
			if (f.forced)
				continue; /* no alternative at that level either */
			e = r->ents[f.call].next;
			rt = f.ret; /* NONE for a determinate call: its scan resumes in MAIN */
			break;
		}
	}
	if (*verdict == RK_CHK_LINEARIZABLE) {
		r->deepest = p.depth;
		r->stuck_op = NONE;
	}
out:
	rk_free(p.stack);
	rk_free(p.ret);
	return rv;
}

/* ---- per key: check, then shrink ---- */

struct keyctx {
	const struct rk_chk_history *h;
	const struct rk_chk_opts *opts;
	size_t *idx; /* the key's ops */
	size_t n;
	uint64_t deadline_ns;
	uint64_t window_steps; /* budget of one window's search */
};

/* Check @w; the run is kept in @r (caller frees) for the report. */
static int check_window(struct keyctx *k, const struct window *w, struct run *r,
			enum rk_chk_verdict *v)
{
	int rv = run_init(r, k->h, k->idx, k->n, w);
	if (rv != RK_OK)
		return rv;
	r->max_steps = w->has_t0 || w->has_t1 ? k->window_steps : k->opts->max_steps;
	r->max_bytes = k->opts->max_bytes;
	r->deadline_ns = k->deadline_ns;
	return search(r, w->has_t0 ? 1 : 0, v);
}

/* Does @w fail? Budget exhaustion counts as "no": a window we could not decide shows nothing;
 * *gave_up tells that case apart when not NULL. */
static int window_fails(struct keyctx *k, const struct window *w, bool *fails, bool *gave_up)
{
	struct run r;
	enum rk_chk_verdict v;
	int rv = check_window(k, w, &r, &v);

	run_free(&r);
	*fails = rv == RK_OK && v == RK_CHK_VIOLATION;
	if (gave_up != NULL)
		*gave_up = rv == RK_OK && v == RK_CHK_UNKNOWN;
	return rv;
}

static int cmp_u64(const void *pa, const void *pb)
{
	uint64_t a = *(const uint64_t *)pa, b = *(const uint64_t *)pb;
	return a < b ? -1 : a > b;
}

static char *state_text(struct run *r, uint32_t s)
{
	size_t n = r->st[s].len;
	char *out;

	if (r->st[s].kind == S_ABSENT)
		return strdup("absent");
	if (r->st[s].kind == S_HIDDEN)
		return strdup("the unread value of an INFO write");
	if (materialize(r, s, 0) != RK_OK)
		return NULL;
	out = malloc(n + 48);
	if (out == NULL)
		return NULL;
	if (n <= RK_CHK_ELIDE_OVER)
		snprintf(out, n + 48, "%s\"%.*s\"", r->st[s].wild ? "..." : "", (int)n, r->scratch);
	else
		snprintf(out, n + 48, "%s\"%.*s...%.*s\" (%zu bytes)", r->st[s].wild ? "..." : "",
			 RK_CHK_ELIDE_HEAD, r->scratch, RK_CHK_ELIDE_TAIL,
			 r->scratch + n - RK_CHK_ELIDE_TAIL, n);
	return out;
}

/* Shrink a violation of @k to the smallest failing window and fill @res from it. */
static int shrink(struct keyctx *k, uint64_t hint_t1, bool known_fail, struct rk_chk_keyres *res)
{
	struct window w = {0};
	uint64_t *times = NULL;
	bool *drop = NULL, fails, gave_up, found_any = false;
	size_t nt = 0, lo, hi;
	struct run r;
	enum rk_chk_verdict v;
	int rv = RK_ENOMEM;

	times = rk_malloc((k->n + 1) * sizeof *times);
	drop = rk_calloc(k->h->nops + 1, sizeof *drop);
	if (times == NULL || drop == NULL)
		goto out;
	for (size_t i = 0; i < k->n; i++) {
		struct mop m;
		if (to_mop(&k->h->ops[k->idx[i]], &m) && m.det)
			times[nt++] = k->h->ops[k->idx[i]].return_ns;
	}
	qsort(times, nt, sizeof *times, cmp_u64);

	/* Cut where the full search got stuck, then find the latest T0 by galloping back from it:
	 * windows near the end are short, so the probes stay cheap. If nothing fails below that
	 * T1 (the stuck point need not be the cause), do the same with no T1. */
	for (int pass = 0; pass < 2; pass++) {
		size_t end = nt, j, step, pass_at;
		bool found = false;
		w.has_t1 = pass == 0 && hint_t1 != UINT64_MAX;
		w.t1 = hint_t1;
		if (pass == 0 && !w.has_t1)
			continue;
		if (w.has_t1)
			for (end = 0; end < nt && times[end] < w.t1; end++)
				;
		/* probe end-1, end-2, end-4, ...; then "no T0" */
		w.has_t0 = true;
		pass_at = end;
		for (step = 1, j = end; !found;) {
			if (j == 0) {
				w.has_t0 = false;
				if (!w.has_t1) {
					/* the whole history: known to fail, or too big to tell */
					found = known_fail;
					break;
				}
				rv = window_fails(k, &w, &fails, NULL);
				if (rv != RK_OK)
					goto out;
				if (fails)
					found = true;
				break;
			}
			j = j > step ? j - step : 0;
			step *= 2;
			w.t0 = times[j];
			rv = window_fails(k, &w, &fails, &gave_up);
			if (rv != RK_OK)
				goto out;
			if (fails)
				found = true;
			else if (gave_up)
				break; /* wider windows will not be easier */
			else
				pass_at = j;
		}
		if (!found)
			continue;
		found_any = true;
		if (w.has_t0) {
			/* fails at j, passes at pass_at: the latest failing T0 lies in [j, pass_at)
			 */
			lo = j;
			while (pass_at - lo > 1) {
				size_t mid = lo + (pass_at - lo) / 2;
				w.t0 = times[mid];
				rv = window_fails(k, &w, &fails, NULL);
				if (rv != RK_OK)
					goto out;
				if (fails)
					lo = mid;
				else
					pass_at = mid;
			}
			w.t0 = times[lo];
		}
		break;
	}
	if (!found_any) {
		rv = RK_OK; /* no window shows a violation: the verdict stays unknown */
		goto out;
	}
	/* With T0 fixed, the earliest T1 that still fails (monotone again). */
	{
		size_t a = 0, b = nt; /* candidates times[a..b) after T0, up to the current T1 */
		while (a < nt && w.has_t0 && times[a] <= w.t0)
			a++;
		if (w.has_t1)
			while (b > a && times[b - 1] > w.t1)
				b--;
		bool had_t1 = w.has_t1;
		uint64_t t1 = w.t1;
		w.has_t1 = true;
		if (b > a) {
			lo = a;
			hi = b - 1; /* times[hi] <= current T1: fails (or T1 was unset: check) */
			w.t1 = times[hi];
			rv = window_fails(k, &w, &fails, NULL);
			if (rv != RK_OK)
				goto out;
			if (fails) {
				while (lo < hi) {
					size_t mid = lo + (hi - lo) / 2;
					w.t1 = times[mid];
					rv = window_fails(k, &w, &fails, NULL);
					if (rv != RK_OK)
						goto out;
					if (fails)
						hi = mid;
					else
						lo = mid + 1;
				}
				w.t1 = times[lo];
			} else {
				w.has_t1 = had_t1;
				w.t1 = t1;
			}
		} else {
			w.has_t1 = had_t1;
			w.t1 = t1;
		}
	}
	/* Drop reads one at a time while the window still fails. */
	w.drop = drop;
	rv = check_window(k, &w, &r, &v);
	if (rv != RK_OK)
		goto out_run;
	if (r.nops <= k->opts->shrink_limit) {
		size_t nobs = 0, *obs = rk_malloc((r.nops + 1) * sizeof *obs);
		if (obs == NULL) {
			rv = RK_ENOMEM;
			goto out_run;
		}
		for (size_t i = 0; i < r.nops; i++)
			if (is_observation(r.ops[i].kind))
				obs[nobs++] = r.ops[i].hop;
		for (size_t i = 0; i < nobs; i++) {
			drop[obs[i]] = true;
			rv = window_fails(k, &w, &fails, NULL);
			if (rv != RK_OK) {
				rk_free(obs);
				goto out_run;
			}
			if (!fails)
				drop[obs[i]] = false;
		}
		rk_free(obs);
		run_free(&r);
		rv = check_window(k, &w, &r, &v);
		if (rv != RK_OK)
			goto out_run;
	}
	/* Report from the final run; if the budget ran out on the way, it proves nothing. */
	if (v != RK_CHK_VIOLATION) {
		rv = RK_OK;
		goto out_run;
	}
	res->window = calloc(r.nops + 1, sizeof *res->window);
	if (res->window == NULL) {
		rv = RK_ENOMEM;
		goto out_run;
	}
	for (size_t i = 0; i < r.nops; i++) {
		res->window[i].op = r.ops[i].hop;
		res->window[i].indeterminate = r.ops[i].was_det && !r.ops[i].det;
	}
	res->nwindow = r.nops;
	res->window_unknown_start = w.has_t0;
	res->window_start = w.t0;
	res->required = r.ndet;
	res->deepest = r.deepest;
	if (r.stuck_op != NONE) {
		res->stuck_op = r.ops[r.stuck_op].hop;
		res->stuck_state = state_text(&r, r.stuck_state);
	}
	rv = RK_OK;
out_run:
	run_free(&r);
out:
	rk_free(times);
	rk_free(drop);
	return rv;
}

void rk_chk_keyres_clear(struct rk_chk_keyres *res)
{
	free(res->window);
	free(res->stuck_state);
	res->window = NULL;
	res->stuck_state = NULL;
	res->nwindow = 0;
}

int rk_chk_check_key(const struct rk_chk_history *h, size_t key, const struct rk_chk_opts *opts,
		     struct rk_chk_keyres *res, struct rk_err *err)
{
	struct keyctx k = {.h = h, .opts = opts};
	struct window w = {0};
	struct run r;
	uint64_t start = now_ns(), hint = UINT64_MAX;
	int rv;

	memset(res, 0, sizeof *res);
	res->key = key;
	res->stuck_op = SIZE_MAX;
	k.idx = rk_malloc((h->nops + 1) * sizeof *k.idx);
	if (k.idx == NULL)
		return rk_err_set(err, RK_ENOMEM, "key %s", h->keys[key]);
	for (size_t i = 0; i < h->nops; i++)
		if (h->ops[i].key == key)
			k.idx[k.n++] = i;
	if (opts->max_ms != 0)
		k.deadline_ns = start + opts->max_ms * 1000000ULL;
	k.window_steps = opts->max_steps / 4 > 1000000 ? opts->max_steps / 4 : opts->max_steps;

	rv = check_window(&k, &w, &r, &res->verdict);
	if (r.stuck_op != NONE) {
		hint = r.ops[r.stuck_op].ret;
		res->stuck_op = r.ops[r.stuck_op].hop;
		res->deepest = r.deepest;
	}
	res->nops = r.nops;
	res->steps = r.steps;
	res->ns = now_ns() - start;
	run_free(&r);
	if (rv == RK_OK && res->verdict == RK_CHK_VIOLATION)
		rv = shrink(&k, hint, true, res);
	/* Out of budget: if the search got stuck somewhere, windows around that point are much
	 * smaller than the whole, and one that fails proves a violation on its own. */
	if (rv == RK_OK && res->verdict == RK_CHK_UNKNOWN && hint != UINT64_MAX) {
		rv = shrink(&k, hint, false, res);
		if (rv == RK_OK && res->nwindow > 0)
			res->verdict = RK_CHK_VIOLATION;
	}
	rk_free(k.idx);
	if (rv != RK_OK) {
		rk_chk_keyres_clear(res);
		return rk_err_set(err, rv, "key %s: %s", h->keys[key], rk_strerror(rv));
	}
	return RK_OK;
}

int rk_chk_check(const struct rk_chk_history *h, const struct rk_chk_opts *opts,
		 struct rk_chk_result **out, struct rk_err *err)
{
	struct rk_chk_result *res = calloc(1, sizeof *res);
	int rv;

	if (res == NULL)
		return rk_err_set(err, RK_ENOMEM, "result");
	res->keys = calloc(h->nkeys + 1, sizeof *res->keys);
	if (res->keys == NULL) {
		free(res);
		return rk_err_set(err, RK_ENOMEM, "result");
	}
	res->verdict = RK_CHK_LINEARIZABLE;
	for (size_t key = 0; key < h->nkeys; key++) {
		rv = rk_chk_check_key(h, key, opts, &res->keys[key], err);
		if (rv != RK_OK) {
			rk_chk_result_free(res);
			return rv;
		}
		res->nkeys++;
		if (res->keys[key].verdict == RK_CHK_VIOLATION)
			res->verdict = RK_CHK_VIOLATION;
		else if (res->keys[key].verdict == RK_CHK_UNKNOWN &&
			 res->verdict == RK_CHK_LINEARIZABLE)
			res->verdict = RK_CHK_UNKNOWN;
	}
	*out = res;
	return RK_OK;
}

void rk_chk_result_free(struct rk_chk_result *r)
{
	if (r == NULL)
		return;
	for (size_t i = 0; i < r->nkeys; i++)
		rk_chk_keyres_clear(&r->keys[i]);
	free(r->keys);
	free(r);
}

void rk_chk_print_result(FILE *f, const struct rk_chk_history *h, const struct rk_chk_result *r)
{
	for (size_t i = 0; i < r->nkeys; i++) {
		const struct rk_chk_keyres *k = &r->keys[i];
		size_t older = 0;
		if (k->verdict == RK_CHK_LINEARIZABLE)
			continue;
		fprintf(f, "key %s: %s (%zu ops, %" PRIu64 " steps)\n", h->keys[k->key],
			rk_chk_verdict_str(k->verdict), k->nops, k->steps);
		if (k->verdict == RK_CHK_UNKNOWN && k->stuck_op != SIZE_MAX) {
			fprintf(f, "  the search got no further than %zu ops placed, then: ",
				k->deepest);
			rk_chk_print_op(f, h, k->stuck_op);
			fputs("\n  (a likely place to look; no window there could be shown to fail)\n",
			      f);
		}
		if (k->verdict != RK_CHK_VIOLATION)
			continue;
		if (k->nwindow == 0) {
			fputs("  (no window: the budget ran out while shrinking)\n", f);
			continue;
		}
		fprintf(f, "  smallest failing window: %zu ops%s\n", k->nwindow,
			k->window_unknown_start ? ", starting from an unknown value" : "");
		for (size_t j = 0; j < k->nwindow; j++) {
			const struct rk_chk_op *op = &h->ops[k->window[j].op];
			/* INFO ops from long before the window are in it (they may still land) but
			 * rarely the point: count them instead of listing them. */
			if (k->window_unknown_start && op->status == RK_CHK_INFO &&
			    op->invoke_ns <= k->window_start && k->window[j].op != k->stuck_op) {
				older++;
				continue;
			}
			fputs(k->window[j].op == k->stuck_op ? "  > " : "    ", f);
			rk_chk_print_op(f, h, k->window[j].op);
			fputs(k->window[j].indeterminate ? "  (as INFO: crosses the window edge)\n"
							 : "\n",
			      f);
		}
		if (older > 0)
			fprintf(f, "    (and %zu INFO ops invoked before the window, not shown)\n",
				older);
		if (k->stuck_op != SIZE_MAX) {
			fprintf(f,
				"  no order works: the longest places %zu ops, then op %" PRIu64
				" (marked >) fits nowhere; the value there: %s\n",
				k->deepest, h->ops[k->stuck_op].id,
				k->stuck_state != NULL ? k->stuck_state : "?");
		}
	}
}

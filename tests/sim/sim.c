/* sim.c -- the simulated cluster; see sim.h. */
#include "sim/sim.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "common/mem.h"

struct net_msg {
	uint64_t at;
	uint64_t seq;
	struct rk_msg m; /* deep copy: entries[] with payloads, data */
};

struct disk_write {
	uint64_t at;
	uint64_t id;
	struct rk_hard_state hs;
	bool hs_changed;
	struct rk_entry *entries; /* copies */
	size_t n_entries;
	bool install;
	struct rk_snap_meta snap;
	uint8_t *blob; /* install: the snapshot bytes */
};

struct node {
	int id;
	bool up;
	struct rk_raft *r;
	struct rk_raft_status st;
	/* durable */
	struct rk_hard_state hs;
	struct rk_entry *dlog; /* entries after dsnap.index */
	size_t dlog_n, dlog_cap;
	struct rk_snap_meta dsnap;
	uint8_t *dsnap_blob;
	/* in flight to the disk */
	struct disk_write *w;
	size_t w_start, w_n, w_cap;
	/* volatile */
	uint8_t *rx_blob;
	size_t rx_cap;
	uint64_t *hist; /* hash of the entry applied at index i (hist[i]); [0] unused */
	uint64_t *vals; /* value of a NORMAL entry applied at i, else 0 */
	size_t hist_cap;
	rk_index applied;
	struct rk_read *reads;
	size_t n_reads, cap_reads;
	uint64_t chunks_recv;
};

struct sim {
	struct sim_opts o;
	uint64_t rng;
	uint64_t now;
	struct node nodes[SIM_MAX_NODES + 1];
	struct rk_conf conf0;
	/* network */
	struct net_msg *q; /* binary heap on (at, seq) */
	size_t q_n, q_cap;
	uint64_t seq;
	bool cut[SIM_MAX_NODES + 1][SIM_MAX_NODES + 1];
	unsigned drop_pct, dup_pct, lat_min, lat_max, long_pct, long_max;
	unsigned fs_min, fs_max;
	uint64_t sent[16];
	uint64_t rejects;
	/* transcript */
	char *tr;
	size_t tr_len, tr_cap;
	/* checker */
	char violation[512];
	rk_node_id *leader_of_term; /* index: term */
	size_t lot_cap;
	struct {
		rk_term term;
		uint64_t hash;
		rk_term cterm; /* term of the first leader seen committing it (0: not seen) */
	} *committed; /* index: log index */
	size_t com_cap;
	rk_index com_max;
	rk_index cterm_upto; /* committed[1..cterm_upto].cterm are known */
	struct ent_key {
		rk_index index;
		rk_term term;
		uint64_t hash;
		rk_term prev_term;
	} *ents; /* open addressing on (index, term) */
	size_t ents_cap, ents_n;
	uint64_t next_value;
};

static void *xrealloc(void *p, size_t n)
{
	void *q = realloc(p, n == 0 ? 1 : n);

	if (q == NULL) {
		fprintf(stderr, "sim: out of memory\n");
		abort();
	}
	return q;
}

static void *xcalloc(size_t n, size_t sz)
{
	void *p = calloc(n == 0 ? 1 : n, sz == 0 ? 1 : sz);

	if (p == NULL) {
		fprintf(stderr, "sim: out of memory\n");
		abort();
	}
	return p;
}

static void *xdup(const void *p, size_t n)
{
	void *q;

	if (n == 0)
		return NULL;
	q = xrealloc(NULL, n);
	memcpy(q, p, n);
	return q;
}

uint64_t sim_rand(struct sim *s)
{
	uint64_t z = (s->rng += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static unsigned rand_between(struct sim *s, unsigned lo, unsigned hi)
{
	return hi <= lo ? lo : lo + (unsigned)(sim_rand(s) % (hi - lo + 1));
}

static uint64_t hash_bytes(uint64_t h, const void *p, size_t n)
{
	const uint8_t *b = p;

	for (size_t k = 0; k < n; k++)
		h = (h ^ b[k]) * 0x100000001b3ull;
	return h;
}

static uint64_t entry_hash(const struct rk_entry *e)
{
	uint64_t h = 0xcbf29ce484222325ull;

	h = hash_bytes(h, &e->type, 1);
	return hash_bytes(h, e->data.base, e->data.len);
}

static void violate(struct sim *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void violate(struct sim *s, const char *fmt, ...)
{
	va_list ap;

	if (s->violation[0] != '\0')
		return;
	va_start(ap, fmt);
	vsnprintf(s->violation, sizeof s->violation, fmt, ap);
	va_end(ap);
}

/* ---- transcript ---- */

static void tr_append(struct sim *s, const char *text)
{
	size_t n = strlen(text);

	if (s->tr_len + n + 1 > s->tr_cap) {
		s->tr_cap = (s->tr_len + n + 1) * 2;
		s->tr = xrealloc(s->tr, s->tr_cap);
	}
	memcpy(s->tr + s->tr_len, text, n + 1);
	s->tr_len += n;
}

static void trace_line(void *data, const char *line)
{
	struct sim *s = data;
	char pre[32];

	if (line[0] == '.')
		snprintf(pre, sizeof pre, "%*s", 8, "");
	else
		snprintf(pre, sizeof pre, "t=%-6" PRIu64 "", s->now);
	tr_append(s, pre);
	tr_append(s, line);
	tr_append(s, "\n");
}

const char *sim_transcript(const struct sim *s)
{
	return s->tr != NULL ? s->tr : "";
}

bool sim_trace_has(const struct sim *s, const char *text)
{
	return s->tr != NULL && strstr(s->tr, text) != NULL;
}

void sim_trace_clear(struct sim *s)
{
	s->tr_len = 0;
	if (s->tr != NULL)
		s->tr[0] = '\0';
}

/* ---- checker tables ---- */

static void com_reserve(struct sim *s, rk_index i)
{
	if (i >= s->com_cap) {
		size_t c = s->com_cap == 0 ? 1024 : s->com_cap;

		while (c <= i)
			c *= 2;
		s->committed = xrealloc(s->committed, c * sizeof *s->committed);
		memset(s->committed + s->com_cap, 0, (c - s->com_cap) * sizeof *s->committed);
		s->com_cap = c;
	}
}

static void check_committed(struct sim *s, int node, rk_index i, rk_term term, uint64_t h)
{
	com_reserve(s, i);
	if (s->committed[i].hash == 0 && s->committed[i].term == 0) {
		s->committed[i].term = term;
		s->committed[i].hash = h;
		if (i > s->com_max)
			s->com_max = i;
		return;
	}
	if (s->committed[i].hash != h || (term != 0 && s->committed[i].term != 0 &&
					   s->committed[i].term != term))
		violate(s, "state machine safety: n%d applied a different entry at %" PRIu64
			   " (term %" PRIu64 " vs %" PRIu64 ")",
			node, i, term, s->committed[i].term);
	if (s->committed[i].term == 0)
		s->committed[i].term = term;
}

static void ents_grow(struct sim *s);

static struct ent_key *ents_slot(struct sim *s, rk_index index, rk_term term)
{
	size_t mask = s->ents_cap - 1;
	size_t k = (size_t)((index * 0x9e3779b97f4a7c15ull) ^ (term * 0xc2b2ae3d27d4eb4full)) & mask;

	while (s->ents[k].index != 0 && !(s->ents[k].index == index && s->ents[k].term == term))
		k = (k + 1) & mask;
	return &s->ents[k];
}

static void ents_grow(struct sim *s)
{
	struct ent_key *old = s->ents;
	size_t old_cap = s->ents_cap;

	s->ents_cap = old_cap == 0 ? 4096 : old_cap * 2;
	s->ents = xcalloc(s->ents_cap, sizeof *s->ents);
	for (size_t k = 0; k < old_cap; k++)
		if (old[k].index != 0)
			*ents_slot(s, old[k].index, old[k].term) = old[k];
	free(old);
}

static void check_entry(struct sim *s, int node, const struct rk_entry *e, rk_term prev_term)
{
	struct ent_key *k;
	uint64_t h = entry_hash(e);

	if ((s->ents_n + 1) * 2 > s->ents_cap)
		ents_grow(s);
	k = ents_slot(s, e->index, e->term);
	if (k->index == 0) {
		k->index = e->index;
		k->term = e->term;
		k->hash = h;
		k->prev_term = prev_term;
		s->ents_n++;
		return;
	}
	if (k->hash != h)
		violate(s, "log matching: n%d has a different entry at %" PRIu64 "@%" PRIu64, node,
			e->index, e->term);
	if (prev_term != 0 && k->prev_term != 0 && k->prev_term != prev_term)
		violate(s, "log matching: n%d entry %" PRIu64 "@%" PRIu64 " follows term %" PRIu64
			   ", elsewhere %" PRIu64,
			node, e->index, e->term, prev_term, k->prev_term);
	if (k->prev_term == 0)
		k->prev_term = prev_term;
}

static void check_leader(struct sim *s, int node, rk_term term)
{
	struct node *n = &s->nodes[node];

	if (term >= s->lot_cap) {
		size_t c = s->lot_cap == 0 ? 256 : s->lot_cap;

		while (c <= term)
			c *= 2;
		s->leader_of_term = xrealloc(s->leader_of_term, c * sizeof *s->leader_of_term);
		memset(s->leader_of_term + s->lot_cap, 0, (c - s->lot_cap) * sizeof(rk_node_id));
		s->lot_cap = c;
	}
	if (s->leader_of_term[term] == (rk_node_id)node)
		return;
	if (s->leader_of_term[term] != 0) {
		violate(s, "election safety: n%" PRIu64 " and n%d both lead term %" PRIu64,
			s->leader_of_term[term], node, term);
		return;
	}
	s->leader_of_term[term] = (rk_node_id)node;
	/* leader completeness: every entry committed in an earlier term is in the log of the
	 * new leader (a leader of an older term, elected late, owes nothing to newer ones) */
	for (rk_index i = n->st.snap_index + 1; i <= s->com_max && i <= s->cterm_upto; i++) {
		const struct rk_entry *e;

		if (i < n->st.first_index)
			continue;
		if (s->committed[i].term == 0 && s->committed[i].hash == 0)
			continue;
		if (s->committed[i].cterm == 0 || s->committed[i].cterm >= term)
			continue;
		e = rk_raft_entry(n->r, i);
		if (e == NULL || e->term != s->committed[i].term || entry_hash(e) != s->committed[i].hash) {
			violate(s, "leader completeness: n%d leads term %" PRIu64 " without committed %" PRIu64
				   "@%" PRIu64,
				node, term, i, s->committed[i].term);
			return;
		}
	}
}

/* ---- state machine ---- */

static void hist_reserve(struct node *n, rk_index i)
{
	if (i < n->hist_cap)
		return;
	size_t c = n->hist_cap == 0 ? 256 : n->hist_cap;

	while (c <= i)
		c *= 2;
	n->hist = xrealloc(n->hist, c * sizeof *n->hist);
	n->vals = xrealloc(n->vals, c * sizeof *n->vals);
	memset(n->hist + n->hist_cap, 0, (c - n->hist_cap) * sizeof *n->hist);
	memset(n->vals + n->hist_cap, 0, (c - n->hist_cap) * sizeof *n->vals);
	n->hist_cap = c;
}

/* Snapshot layout: u64 applied, then per index 1..applied: u64 hash, u64 value. */
static uint8_t *sm_serialize(struct node *n, uint64_t *size)
{
	uint8_t *b;

	*size = 8 + n->applied * 16;
	b = xrealloc(NULL, (size_t)*size);
	memcpy(b, &n->applied, 8);
	for (rk_index i = 1; i <= n->applied; i++) {
		memcpy(b + 8 + (i - 1) * 16, &n->hist[i], 8);
		memcpy(b + 16 + (i - 1) * 16, &n->vals[i], 8);
	}
	return b;
}

static void sm_restore(struct sim *s, struct node *n, const uint8_t *b, uint64_t size,
		       rk_index index)
{
	rk_index applied = 0;

	if (index == 0) {
		n->applied = 0;
		return;
	}
	if (size < 8)
		goto bad;
	memcpy(&applied, b, 8);
	if (applied != index || size != 8 + applied * 16)
		goto bad;
	hist_reserve(n, applied);
	for (rk_index i = 1; i <= applied; i++) {
		memcpy(&n->hist[i], b + 8 + (i - 1) * 16, 8);
		memcpy(&n->vals[i], b + 16 + (i - 1) * 16, 8);
		check_committed(s, n->id, i, 0, n->hist[i]);
	}
	n->applied = applied;
	return;
bad:
	violate(s, "n%d: snapshot blob does not decode (index %" PRIu64 ", size %" PRIu64 ")", n->id,
		index, size);
}

static void sm_apply(struct sim *s, struct node *n, const struct rk_entry *e)
{
	uint64_t v = 0;

	if (e->index != n->applied + 1) {
		violate(s, "n%d: applied %" PRIu64 " after %" PRIu64, n->id, e->index, n->applied);
		return;
	}
	hist_reserve(n, e->index);
	n->hist[e->index] = entry_hash(e);
	if (e->type == RK_ENTRY_NORMAL && e->data.len >= 8)
		memcpy(&v, e->data.base, 8);
	n->vals[e->index] = v;
	n->applied = e->index;
	check_committed(s, n->id, e->index, e->term, n->hist[e->index]);
}

/* ---- network ---- */

static bool q_less(const struct net_msg *a, const struct net_msg *b)
{
	return a->at < b->at || (a->at == b->at && a->seq < b->seq);
}

static void q_push(struct sim *s, struct net_msg *nm)
{
	size_t i;

	if (s->q_n == s->q_cap) {
		s->q_cap = s->q_cap == 0 ? 256 : s->q_cap * 2;
		s->q = xrealloc(s->q, s->q_cap * sizeof *s->q);
	}
	i = s->q_n++;
	while (i > 0 && q_less(nm, &s->q[(i - 1) / 2])) {
		s->q[i] = s->q[(i - 1) / 2];
		i = (i - 1) / 2;
	}
	s->q[i] = *nm;
}

static void q_pop(struct sim *s, struct net_msg *out)
{
	struct net_msg last;
	size_t i = 0;

	*out = s->q[0];
	last = s->q[--s->q_n];
	for (;;) {
		size_t c = 2 * i + 1;

		if (c >= s->q_n)
			break;
		if (c + 1 < s->q_n && q_less(&s->q[c + 1], &s->q[c]))
			c++;
		if (!q_less(&s->q[c], &last))
			break;
		s->q[i] = s->q[c];
		i = c;
	}
	if (s->q_n > 0)
		s->q[i] = last;
}

static void msg_copy(struct rk_msg *dst, const struct rk_msg *src)
{
	*dst = *src;
	dst->entries = NULL;
	if (src->n_entries > 0) {
		dst->entries = xrealloc(NULL, src->n_entries * sizeof *dst->entries);
		for (size_t k = 0; k < src->n_entries; k++) {
			dst->entries[k] = src->entries[k];
			dst->entries[k].data.base = xdup(src->entries[k].data.base,
							 src->entries[k].data.len);
		}
	}
	dst->data.base = xdup(src->data.base, src->data.len);
}

static void msg_free(struct rk_msg *m)
{
	for (size_t k = 0; k < m->n_entries; k++)
		free(m->entries[k].data.base);
	free(m->entries);
	free(m->data.base);
}

static void net_send(struct sim *s, const struct rk_msg *m)
{
	struct net_msg nm;
	unsigned copies = 1;

	if (m->to < 1 || m->to > (rk_node_id)s->o.n_nodes)
		return;
	if (s->cut[m->from][m->to] || rand_between(s, 1, 100) <= s->drop_pct)
		return;
	if (s->dup_pct > 0 && rand_between(s, 1, 100) <= s->dup_pct)
		copies = 2;
	s->sent[m->type]++;
	if (m->type == RK_MSG_APPEND_RESP && m->reject)
		s->rejects++;
	while (copies-- > 0) {
		nm.at = s->now + rand_between(s, s->lat_min, s->lat_max);
		if (s->long_pct > 0 && rand_between(s, 1, 100) <= s->long_pct)
			nm.at += rand_between(s, 0, s->long_max);
		nm.seq = s->seq++;
		msg_copy(&nm.m, m);
		q_push(s, &nm);
	}
}

/* ---- nodes ---- */

static void refresh(struct sim *s, struct node *n);
static void drain(struct sim *s, struct node *n);

static void dlog_append(struct sim *s, struct node *n, const struct rk_entry *e)
{
	rk_index last = n->dsnap.index + n->dlog_n;

	if (e->index <= n->dsnap.index)
		return; /* covered by the durable snapshot already */
	if (e->index > last + 1) {
		violate(s, "n%d: durable log gap: write %" PRIu64 " after %" PRIu64, n->id, e->index,
			last);
		return;
	}
	while (n->dsnap.index + n->dlog_n >= e->index) {
		n->dlog_n--;
		free(n->dlog[n->dlog_n].data.base);
	}
	if (n->dlog_n == n->dlog_cap) {
		n->dlog_cap = n->dlog_cap == 0 ? 64 : n->dlog_cap * 2;
		n->dlog = xrealloc(n->dlog, n->dlog_cap * sizeof *n->dlog);
	}
	n->dlog[n->dlog_n] = *e;
	n->dlog[n->dlog_n].data.base = xdup(e->data.base, e->data.len);
	n->dlog_n++;
}

static void dlog_drop_through(struct node *n, rk_index upto)
{
	size_t drop = 0;

	while (drop < n->dlog_n && n->dlog[drop].index <= upto) {
		free(n->dlog[drop].data.base);
		drop++;
	}
	if (drop == 0)
		return;
	memmove(n->dlog, n->dlog + drop, (n->dlog_n - drop) * sizeof *n->dlog);
	n->dlog_n -= drop;
}

static void write_free(struct disk_write *w)
{
	for (size_t k = 0; k < w->n_entries; k++)
		free(w->entries[k].data.base);
	free(w->entries);
	free(w->blob);
}

static void write_complete(struct sim *s, struct node *n, struct disk_write *w)
{
	if (w->install && w->snap.index > n->dsnap.index) {
		free(n->dsnap_blob);
		n->dsnap_blob = w->blob;
		w->blob = NULL;
		n->dsnap = w->snap;
		dlog_drop_through(n, UINT64_MAX);
	}
	if (w->hs_changed)
		n->hs = w->hs;
	for (size_t k = 0; k < w->n_entries; k++)
		dlog_append(s, n, &w->entries[k]);
	rk_raft_persisted(n->r, w->id);
	write_free(w);
	drain(s, n);
}

static void process_ready(struct sim *s, struct node *n, struct rk_ready *rd)
{
	if (rd->persist_id != 0) {
		struct disk_write w = {0};
		uint64_t prev_at = n->w_n > 0 ? n->w[n->w_start + n->w_n - 1].at : 0;

		w.at = s->now + rand_between(s, s->fs_min, s->fs_max);
		if (w.at < prev_at)
			w.at = prev_at;
		w.id = rd->persist_id;
		w.hs = rd->hs;
		w.hs_changed = rd->hs_changed;
		for (size_t k = 0; k < rd->n_chunks; k++) {
			const struct rk_chunk_write *c = &rd->chunks[k];

			if (c->offset + c->data.len > n->rx_cap) {
				n->rx_cap = (size_t)(c->offset + c->data.len) * 2;
				n->rx_blob = xrealloc(n->rx_blob, n->rx_cap);
			}
			memcpy(n->rx_blob + c->offset, c->data.base, c->data.len);
			n->chunks_recv++;
		}
		if (rd->snap_install) {
			w.install = true;
			w.snap = rd->snap;
			w.blob = xdup(n->rx_blob, (size_t)rd->snap.size);
			sm_restore(s, n, n->rx_blob, rd->snap.size, rd->snap.index);
		}
		if (rd->n_entries > 0) {
			w.entries = xrealloc(NULL, rd->n_entries * sizeof *w.entries);
			w.n_entries = rd->n_entries;
			for (size_t k = 0; k < rd->n_entries; k++) {
				const struct rk_entry *e = &rd->entries[k];
				const struct rk_entry *p = rk_raft_entry(n->r, e->index - 1);

				w.entries[k] = *e;
				w.entries[k].data.base = xdup(e->data.base, e->data.len);
				if (!s->o.no_check)
					check_entry(s, n->id, e, p != NULL ? p->term : 0);
			}
		}
		if (n->w_start + n->w_n == n->w_cap) {
			if (n->w_start > 0) {
				memmove(n->w, n->w + n->w_start, n->w_n * sizeof *n->w);
				n->w_start = 0;
			} else {
				n->w_cap = n->w_cap == 0 ? 16 : n->w_cap * 2;
				n->w = xrealloc(n->w, n->w_cap * sizeof *n->w);
			}
		}
		n->w[n->w_start + n->w_n++] = w;
	}
	for (size_t k = 0; k < rd->n_msgs; k++) {
		struct rk_msg *m = &rd->msgs[k];

		if (m->type == RK_MSG_SNAPSHOT) {
			/* the caller's part: fill the chunk from the snapshot file, or drop the
			 * message when that snapshot is no longer the current one */
			if (n->dsnap.index != m->snap.index || m->offset + m->data.len > n->dsnap.size)
				continue;
			m->data.base = n->dsnap_blob + m->offset;
			net_send(s, m);
			m->data.base = NULL;
			continue;
		}
		net_send(s, m);
	}
	if (rd->snap_install && rd->snap.index > n->applied)
		violate(s, "n%d: install did not restore", n->id);
	for (size_t k = 0; k < rd->n_committed; k++)
		sm_apply(s, n, &rd->committed[k]);
	for (size_t k = 0; k < rd->n_reads; k++) {
		if (n->n_reads == n->cap_reads) {
			n->cap_reads = n->cap_reads == 0 ? 16 : n->cap_reads * 2;
			n->reads = xrealloc(n->reads, n->cap_reads * sizeof *n->reads);
		}
		n->reads[n->n_reads++] = rd->reads[k];
		if (rd->reads[k].status == RK_READ_OK && !s->o.no_check) {
			/* linearizability: the read must see every entry applied anywhere before
			 * it was asked (the sim uses ctx = that index) */
			if (rd->reads[k].index < (rd->reads[k].ctx >> 20))
				violate(s, "n%d: stale read %" PRIu64 " released at %" PRIu64
					   " but %" PRIu64 " was applied before it was asked",
					n->id, rd->reads[k].ctx, rd->reads[k].index,
					rd->reads[k].ctx >> 20);
		}
	}
}

static void drain(struct sim *s, struct node *n)
{
	struct rk_ready rd;

	while (n->up && rk_raft_has_ready(n->r)) {
		if (rk_raft_ready(n->r, &rd) != RK_OK)
			break;
		process_ready(s, n, &rd);
		rk_raft_advance(n->r, &rd);
	}
	refresh(s, n);
}

static void refresh(struct sim *s, struct node *n)
{
	if (!n->up)
		return;
	rk_raft_status(n->r, &n->st);
	if (n->st.state == RK_LEADER && !s->o.no_check) {
		/* entries reach commit first on a leader: the first one seen past an index
		 * committed it, in its term */
		if (n->st.commit > s->cterm_upto) {
			com_reserve(s, n->st.commit);
			for (rk_index i = s->cterm_upto + 1; i <= n->st.commit; i++)
				s->committed[i].cterm = n->st.term;
			s->cterm_upto = n->st.commit;
		}
		check_leader(s, n->id, n->st.term);
	}
}

static void node_boot(struct sim *s, struct node *n)
{
	struct rk_raft_config c;
	struct rk_raft_restore rs = {0};
	int rv;

	rk_raft_config_default(&c, (rk_node_id)n->id);
	c.election_ticks = s->o.election_ticks;
	c.heartbeat_ticks = s->o.heartbeat_ticks;
	c.max_inflight = s->o.max_inflight;
	c.max_msg_bytes = s->o.max_msg_bytes;
	c.snap_chunk_bytes = s->o.snap_chunk_bytes;
	c.pre_vote = !s->o.no_pre_vote;
	c.check_quorum = !s->o.no_check_quorum;
	c.seed = sim_rand(s);
	c.test_bugs = s->o.test_bugs;
	if (s->o.trace) {
		c.tracer.data = s;
		c.tracer.line = trace_line;
	}
	rs.hs = n->hs;
	rs.snap = n->dsnap;
	rs.entries = n->dlog;
	rs.n_entries = n->dlog_n;
	if (s->o.enomem_pct > 0)
		rk_mem_fail_after(-1); /* restarts are not what the ENOMEM runs exercise */
	n->r = rk_raft_new(&c, &rs, &rv);
	if (n->r == NULL) {
		violate(s, "n%d: rk_raft_new: %s", n->id, rk_strerror(rv));
		return;
	}
	n->up = true;
	n->applied = 0;
	sm_restore(s, n, n->dsnap_blob, n->dsnap.size, n->dsnap.index);
	n->n_reads = 0;
	drain(s, n);
}

struct sim *sim_new(const struct sim_opts *o)
{
	struct sim *s = xcalloc(1, sizeof *s);
	int voters;

	s->o = *o;
	if (getenv("RK_SIM_TRACE") != NULL && *getenv("RK_SIM_TRACE") == '2')
		s->o.trace = true; /* scenario debugging: RK_SIM_TRACE=2 */
	if (s->o.n_nodes < 1 || s->o.n_nodes > SIM_MAX_NODES)
		s->o.n_nodes = 3;
	if (s->o.election_ticks == 0)
		s->o.election_ticks = 10;
	if (s->o.heartbeat_ticks == 0)
		s->o.heartbeat_ticks = 1;
	if (s->o.max_inflight == 0)
		s->o.max_inflight = 8;
	if (s->o.max_msg_bytes == 0)
		s->o.max_msg_bytes = 4096;
	if (s->o.snap_chunk_bytes == 0)
		s->o.snap_chunk_bytes = 4096;
	s->rng = o->seed ^ 0x5eed5eed5eedull;
	s->lat_min = 1;
	s->lat_max = 3;
	s->fs_min = 1;
	s->fs_max = 3;
	s->next_value = 1000;
	voters = s->o.n_voters > 0 && s->o.n_voters <= s->o.n_nodes ? s->o.n_voters : s->o.n_nodes;
	for (int k = 1; k <= voters; k++) {
		s->conf0.m[s->conf0.n].id = (rk_node_id)k;
		s->conf0.m[s->conf0.n].role = RK_CONF_VOTER;
		s->conf0.n++;
	}
	for (int k = 1; k <= s->o.n_nodes; k++) {
		struct node *n = &s->nodes[k];

		n->id = k;
		if (k <= voters)
			n->dsnap.conf = s->conf0;
		node_boot(s, n);
	}
	return s;
}

static void node_down(struct node *n)
{
	for (size_t k = 0; k < n->w_n; k++)
		write_free(&n->w[n->w_start + k]);
	n->w_start = 0;
	n->w_n = 0;
	rk_raft_free(n->r);
	n->r = NULL;
	n->up = false;
}

void sim_free(struct sim *s)
{
	struct net_msg nm;

	if (s == NULL)
		return;
	if (s->o.enomem_pct > 0)
		rk_mem_fail_after(-1);
	for (int k = 1; k <= s->o.n_nodes; k++) {
		struct node *n = &s->nodes[k];

		if (n->up)
			node_down(n);
		for (size_t j = 0; j < n->dlog_n; j++)
			free(n->dlog[j].data.base);
		free(n->dlog);
		free(n->w);
		free(n->dsnap_blob);
		free(n->rx_blob);
		free(n->hist);
		free(n->vals);
		free(n->reads);
	}
	while (s->q_n > 0) {
		q_pop(s, &nm);
		msg_free(&nm.m);
	}
	free(s->q);
	free(s->tr);
	free(s->leader_of_term);
	free(s->committed);
	free(s->ents);
	free(s);
}

void sim_crash(struct sim *s, int node)
{
	struct node *n = &s->nodes[node];

	if (!n->up)
		return;
	if (s->o.trace) {
		char line[64];

		snprintf(line, sizeof line, "t=%-6" PRIu64 "n%d crash\n", s->now, node);
		tr_append(s, line);
	}
	node_down(n);
}

void sim_restart(struct sim *s, int node)
{
	struct node *n = &s->nodes[node];

	if (n->up)
		return;
	node_boot(s, n);
}

/* ---- time ---- */

void sim_step(struct sim *s)
{
	struct net_msg nm;

	s->now++;
	if (s->o.enomem_pct > 0) {
		/* the next few allocations of the core succeed, then all fail for this unit */
		if (rand_between(s, 1, 100) <= s->o.enomem_pct)
			rk_mem_fail_after((long)rand_between(s, 0, 8));
		else
			rk_mem_fail_after(-1);
	}
	for (int k = 1; k <= s->o.n_nodes; k++) {
		struct node *n = &s->nodes[k];

		while (n->up && n->w_n > 0 && n->w[n->w_start].at <= s->now) {
			struct disk_write w = n->w[n->w_start];

			n->w_start++;
			n->w_n--;
			write_complete(s, n, &w);
		}
	}
	while (s->q_n > 0 && s->q[0].at <= s->now) {
		struct node *n;

		q_pop(s, &nm);
		n = &s->nodes[nm.m.to];
		/* the link may have been cut while the message was in flight */
		if (n->up && !s->cut[nm.m.from][nm.m.to]) {
			rk_raft_recv(n->r, &nm.m);
			drain(s, n);
		}
		msg_free(&nm.m);
	}
	if (s->now % SIM_TICK == 0) {
		for (int k = 1; k <= s->o.n_nodes; k++) {
			struct node *n = &s->nodes[k];

			if (!n->up)
				continue;
			rk_raft_tick(n->r);
			drain(s, n);
		}
	}
}

void sim_run(struct sim *s, unsigned ticks)
{
	for (uint64_t k = 0; k < (uint64_t)ticks * SIM_TICK; k++)
		sim_step(s);
}

bool sim_run_until(struct sim *s, bool (*pred)(struct sim *, void *), void *arg,
		   unsigned max_ticks)
{
	for (uint64_t k = 0; k <= (uint64_t)max_ticks * SIM_TICK; k++) {
		if (pred(s, arg))
			return true;
		sim_step(s);
	}
	return pred(s, arg);
}

uint64_t sim_now(const struct sim *s)
{
	return s->now;
}

/* ---- observing ---- */

int sim_n(const struct sim *s)
{
	return s->o.n_nodes;
}

bool sim_up(const struct sim *s, int node)
{
	return s->nodes[node].up;
}

int sim_leader(struct sim *s)
{
	int best = 0;
	rk_term bt = 0;

	for (int k = 1; k <= s->o.n_nodes; k++) {
		struct node *n = &s->nodes[k];

		if (n->up && n->st.state == RK_LEADER && n->st.term >= bt) {
			best = k;
			bt = n->st.term;
		}
	}
	return best;
}

static bool has_leader(struct sim *s, void *arg)
{
	(void)arg;
	return sim_leader(s) != 0;
}

int sim_wait_leader(struct sim *s, unsigned max_ticks)
{
	sim_run_until(s, has_leader, NULL, max_ticks);
	return sim_leader(s);
}

const struct rk_raft_status *sim_status(struct sim *s, int node)
{
	return s->nodes[node].up ? &s->nodes[node].st : NULL;
}

struct rk_raft *sim_raft(struct sim *s, int node)
{
	return s->nodes[node].r;
}

rk_index sim_applied(struct sim *s, int node)
{
	return s->nodes[node].applied;
}

uint64_t sim_applied_value(struct sim *s, int node, rk_index index)
{
	struct node *n = &s->nodes[node];

	return index >= 1 && index <= n->applied ? n->vals[index] : 0;
}

rk_index sim_find_value(struct sim *s, int node, uint64_t value)
{
	struct node *n = &s->nodes[node];

	for (rk_index i = 1; i <= n->applied; i++)
		if (n->vals[i] == value)
			return i;
	return 0;
}

struct applied_arg {
	int node;
	rk_index index;
};

static bool all_applied(struct sim *s, void *arg)
{
	struct applied_arg *a = arg;

	for (int k = 1; k <= s->o.n_nodes; k++) {
		if (a->node != 0 && k != a->node)
			continue;
		if (s->nodes[k].up && s->nodes[k].applied < a->index)
			return false;
	}
	return true;
}

bool sim_wait_applied(struct sim *s, rk_index index, unsigned max_ticks)
{
	struct applied_arg a = {0, index};

	return sim_run_until(s, all_applied, &a, max_ticks);
}

bool sim_wait_applied_on(struct sim *s, int node, rk_index index, unsigned max_ticks)
{
	struct applied_arg a = {node, index};

	return sim_run_until(s, all_applied, &a, max_ticks);
}

const char *sim_violation(const struct sim *s)
{
	return s->violation[0] != '\0' ? s->violation : NULL;
}

uint64_t sim_msgs_sent(const struct sim *s, int type)
{
	return type >= 0 && type < 16 ? s->sent[type] : 0;
}

uint64_t sim_rejects(const struct sim *s)
{
	return s->rejects;
}

void sim_reset_stats(struct sim *s)
{
	memset(s->sent, 0, sizeof s->sent);
	s->rejects = 0;
}

uint64_t sim_snapshot_chunks_recv(const struct sim *s, int node)
{
	return s->nodes[node].chunks_recv;
}

/* ---- acting ---- */

rk_index sim_propose(struct sim *s, int node, uint64_t value)
{
	struct node *n = &s->nodes[node];
	struct rk_buf b;
	rk_index idx = 0;

	if (!n->up)
		return 0;
	b.len = 8 + s->o.payload_pad;
	b.base = malloc(b.len);
	if (b.base == NULL)
		abort();
	memset(b.base, 0xab, b.len);
	memcpy(b.base, &value, 8);
	if (rk_raft_propose(n->r, &b, 1, &idx) != RK_OK) {
		free(b.base);
		return 0;
	}
	drain(s, n);
	return idx;
}

/* Nodes that must apply a committed value in sim_one(): up, linked both ways with the
 * leader, and members of its configuration. */
static bool expected(struct sim *s, int l, int k)
{
	struct node *n = &s->nodes[k];

	if (!n->up)
		return false;
	if (k == l)
		return true;
	if (s->cut[l][k] || s->cut[k][l] || !s->nodes[l].up)
		return false;
	return rk_conf_find(rk_raft_conf(s->nodes[l].r), (rk_node_id)k) >= 0;
}

rk_index sim_one(struct sim *s, uint64_t value, unsigned max_ticks)
{
	uint64_t deadline = s->now + (uint64_t)max_ticks * SIM_TICK;

	while (s->now < deadline) {
		int l = sim_leader(s);
		rk_index idx = l != 0 ? sim_propose(s, l, value) : 0;

		if (idx != 0) {
			uint64_t until = s->now + 30 * SIM_TICK;

			while (s->now < until && s->now < deadline) {
				bool all = s->nodes[l].up && sim_find_value(s, l, value) != 0;

				for (int k = 1; all && k <= s->o.n_nodes; k++)
					if (expected(s, l, k) && sim_find_value(s, k, value) == 0)
						all = false;
				if (all)
					return sim_find_value(s, l, value);
				sim_step(s);
			}
		} else {
			sim_run(s, 1);
		}
	}
	return 0;
}

int sim_conf_change(struct sim *s, int node, enum rk_conf_op op, int target)
{
	struct node *n = &s->nodes[node];
	int rv;

	if (!n->up)
		return RK_ENOTLEADER;
	rv = rk_raft_propose_conf(n->r, op, (rk_node_id)target, NULL);
	drain(s, n);
	return rv;
}

int sim_transfer(struct sim *s, int node, int target)
{
	struct node *n = &s->nodes[node];
	int rv;

	if (!n->up)
		return RK_ENOTLEADER;
	rv = rk_raft_transfer(n->r, (rk_node_id)target);
	drain(s, n);
	return rv;
}

int sim_read_index(struct sim *s, int node, uint64_t ctx)
{
	struct node *n = &s->nodes[node];
	int rv;

	if (!n->up)
		return RK_ENOTLEADER;
	/* the high bits of ctx carry the highest index applied anywhere right now: the
	 * checker demands the released index be at least that */
	rv = rk_raft_read_index(n->r, (s->com_max << 20) | (ctx & 0xfffff));
	drain(s, n);
	return rv;
}

bool sim_read_result(struct sim *s, int node, uint64_t ctx, int *status, rk_index *index)
{
	struct node *n = &s->nodes[node];

	for (size_t k = 0; k < n->n_reads; k++) {
		if ((n->reads[k].ctx & 0xfffff) == (ctx & 0xfffff)) {
			*status = n->reads[k].status;
			*index = n->reads[k].index;
			return true;
		}
	}
	return false;
}

int sim_snapshot(struct sim *s, int node, rk_index trailing)
{
	struct node *n = &s->nodes[node];
	struct rk_snap_meta meta;
	uint8_t *blob;
	int rv;

	if (!n->up || n->applied == 0 || n->applied <= n->dsnap.index)
		return RK_EINVAL;
	rv = rk_raft_snapshot_meta(n->r, n->applied, &meta);
	if (rv != RK_OK)
		return rv;
	blob = sm_serialize(n, &meta.size);
	/* the snapshot file is written and synced before the core is told */
	rv = rk_raft_snapshot_taken(n->r, &meta, trailing);
	if (rv != RK_OK) {
		free(blob);
		return rv;
	}
	free(n->dsnap_blob);
	n->dsnap_blob = blob;
	n->dsnap = meta;
	dlog_drop_through(n, n->dsnap.index);
	drain(s, n);
	return RK_OK;
}

void sim_cut(struct sim *s, int from, int to, bool cut)
{
	s->cut[from][to] = cut;
}

void sim_isolate(struct sim *s, int node)
{
	for (int k = 1; k <= s->o.n_nodes; k++) {
		if (k == node)
			continue;
		s->cut[node][k] = true;
		s->cut[k][node] = true;
	}
}

void sim_partition(struct sim *s, unsigned mask_a)
{
	for (int a = 1; a <= s->o.n_nodes; a++)
		for (int b = 1; b <= s->o.n_nodes; b++)
			s->cut[a][b] = ((mask_a >> a) & 1) != ((mask_a >> b) & 1);
}

void sim_heal(struct sim *s)
{
	memset(s->cut, 0, sizeof s->cut);
}

void sim_set_net(struct sim *s, unsigned drop_pct, unsigned dup_pct, unsigned lat_min,
		 unsigned lat_max)
{
	s->drop_pct = drop_pct;
	s->dup_pct = dup_pct;
	s->lat_min = lat_min;
	s->lat_max = lat_max;
}

void sim_set_long_delay(struct sim *s, unsigned pct, unsigned max_delay)
{
	s->long_pct = pct;
	s->long_max = max_delay;
}

void sim_set_fsync(struct sim *s, unsigned lat_min, unsigned lat_max)
{
	s->fs_min = lat_min;
	s->fs_max = lat_max;
}

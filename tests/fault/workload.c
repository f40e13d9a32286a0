/* workload.c -- rk-fault's clients: random operations on contended keys, each recorded with
 * its invocation and completion times, and the history file they make (docs/TESTING.md).
 * Thread: fr_client_main() runs in each client thread on its own struct fr_client; the rest is
 * called by the main thread once the clients have stopped. */
#define _GNU_SOURCE
#include "config.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "raftkv/client.h"

#include "fault/faultrun.h"
#include "harness/proc.h"

static const char *const op_names[] = { "get", "put", "cas", "append", "delete" };

uint64_t fr_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* splitmix64: one generator per thread, seeded from the run's seed. */
uint64_t fr_rnd(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

unsigned fr_rnd_below(uint64_t *s, unsigned n)
{
	return n == 0 ? 0 : (unsigned)(fr_rnd(s) % n);
}

void fr_nap(unsigned ms, const atomic_bool *stop)
{
	uint64_t end = rk_test_now_ms() + ms;

	while ((stop == NULL || !atomic_load(stop)) && rk_test_now_ms() < end) {
		uint64_t left = end - rk_test_now_ms();

		usleep((useconds_t)(left > 50 ? 50000 : left * 1000));
	}
}

static struct fr_op *oplog_add(struct fr_oplog *l)
{
	if (l->n == l->cap) {
		size_t cap = l->cap ? 2 * l->cap : 1024;
		struct fr_op *v = realloc(l->v, cap * sizeof *v);

		if (v == NULL)
			return NULL;
		l->v = v;
		l->cap = cap;
	}
	memset(&l->v[l->n], 0, sizeof l->v[0]);
	return &l->v[l->n++];
}

void fr_oplog_free(struct fr_oplog *l)
{
	for (size_t i = 0; i < l->n; i++) {
		free(l->v[i].arg0);
		free(l->v[i].arg1);
		free(l->v[i].result);
	}
	free(l->v);
	memset(l, 0, sizeof *l);
}

/* A value read, as a history token. Ours are printable and free of spaces, never "" or "-": a
 * value that is not gets its odd bytes replaced by '?', which keeps the history well formed
 * and makes it a value no client wrote, so the checker reports the corruption. */
static char *read_token(const struct rkc_buf *val)
{
	char *t = malloc(val->len + 2);
	size_t n = 0;

	if (t == NULL)
		return NULL;
	if (val->len == 0 || (val->len == 1 && val->data[0] == '-'))
		t[n++] = '?';
	for (size_t i = 0; i < val->len; i++)
		t[n++] = val->data[i] > ' ' && val->data[i] < 0x7f ? (char)val->data[i] : '?';
	t[n] = '\0';
	return t;
}

/* Map a libraftkv status to the history: only answers from the cluster are definite. */
static void complete(struct fr_run *r, struct fr_op *o, int rc, const struct rkc_buf *val)
{
	o->ret_ns = fr_now_ns();
	switch (rc) {
	case RKC_OK:
		o->status = FR_OK;
		if (o->kind == FR_GET && (o->result = read_token(val)) == NULL) {
			o->status = FR_INFO; /* out of memory: the read is lost, not absent */
			o->reason = "client-enomem";
		}
		return;
	case RKC_NOT_FOUND:
		if (o->kind == FR_GET) {
			o->status = FR_OK; /* result NULL: absent */
			return;
		}
		o->status = FR_FAIL;
		o->reason = "not-found";
		return;
	case RKC_CAS_FAILED:
		o->status = FR_FAIL;
		o->reason = "cas-failed";
		return;
	case RKC_EXISTS:
	case RKC_TOO_LARGE:
	case RKC_BAD_REQUEST:
	case RKC_EINVAL:
		/* refused before reaching the data, and impossible for our requests: a bug */
		atomic_fetch_add(&r->odd_status, 1);
		o->status = FR_FAIL;
		o->reason = rkc_strstatus(rc);
		return;
	case RKC_INTERNAL:
	case RKC_EPROTO:
		/* a server bug, or a reply the client cannot read; the outcome is unknown */
		atomic_fetch_add(&r->odd_status, 1);
		o->status = FR_INFO;
		o->reason = rkc_strstatus(rc);
		return;
	default:
		/* TIMEOUT, UNAVAILABLE, NOT_LEADER after every redirect, BUSY past the deadline,
		 * ENOMEM in the client: the write may or may not have happened. */
		o->status = FR_INFO;
		o->reason = rkc_strstatus(rc);
		return;
	}
}

/* A value as a history token: "-" for absent, "" for the empty value (ours never are). */
static void put_token(FILE *f, const char *s)
{
	fputs(s == NULL ? "-" : *s == '\0' ? "\"\"" : s, f);
}

int fr_write_history(const struct fr_run *r, const char *path, const struct fr_oplog *logs,
		     int nlogs)
{
	FILE *f = fopen(path, "we");
	int bad;

	if (f == NULL)
		return -1;
	fprintf(f, "# raftkv fault run: INVOKE id process time op key args / OK|FAIL|INFO id time\n");
	for (int i = 0; i < nlogs; i++) {
		for (size_t j = 0; j < logs[i].n; j++) {
			const struct fr_op *o = &logs[i].v[j];

			fprintf(f, "INVOKE %" PRIu64 " %u %" PRIu64 " %s %s", o->id, o->proc,
				o->inv_ns - r->t0_ns, op_names[o->kind], o->key);
			if (o->arg0 != NULL) {
				fputc(' ', f);
				put_token(f, o->arg0);
			}
			if (o->arg1 != NULL) {
				fputc(' ', f);
				put_token(f, o->arg1);
			}
			fputc('\n', f);
			fprintf(f, "%s %" PRIu64 " %" PRIu64,
				o->status == FR_OK ? "OK" : o->status == FR_FAIL ? "FAIL" : "INFO",
				o->id, o->ret_ns - r->t0_ns);
			if (o->status == FR_OK && o->kind == FR_GET) {
				fputc(' ', f);
				put_token(f, o->result);
			} else if (o->status != FR_OK) {
				fprintf(f, " %s", o->reason != NULL ? o->reason : "-");
			}
			fputc('\n', f);
		}
	}
	/* a short history could show reads whose writes are missing: fail, never check it */
	bad = ferror(f);
	return fclose(f) == 0 && !bad ? 0 : -1;
}

void fr_count(const struct fr_oplog *logs, int nlogs, size_t *ok, size_t *fail, size_t *info)
{
	*ok = *fail = *info = 0;
	for (int i = 0; i < nlogs; i++)
		for (size_t j = 0; j < logs[i].n; j++) {
			*ok += logs[i].v[j].status == FR_OK;
			*fail += logs[i].v[j].status == FR_FAIL;
			*info += logs[i].v[j].status == FR_INFO;
		}
}

void fr_key_name(char *buf, size_t len, unsigned gen, int slot, int regs)
{
	if (slot < regs)
		snprintf(buf, len, "g%u-r%d", gen, slot);
	else
		snprintf(buf, len, "g%u-a%d", gen, slot - regs);
}

/* --stale-reads: a serializable get from a random node, through a client of that node alone. */
static int stale_get(struct fr_client *c, const char *key, struct rkc_buf *val)
{
	struct fr_run *r = c->run;
	int k = (int)fr_rnd_below(&c->rng, (unsigned)r->cl.n);

	if (c->node_rkc[k] == NULL) {
		struct rkc_options o = { .endpoints = r->cl.nodes[k].endpoint,
					 .request_timeout_ms = r->req_timeout_ms,
					 .deadline_ms = r->deadline_ms };

		if (rkc_open(&o, &c->node_rkc[k]) != RKC_OK)
			return RKC_ENOMEM;
	}
	return rkc_get(c->node_rkc[k], key, strlen(key), true, val);
}

static void one_op(struct fr_client *c)
{
	struct fr_run *r = c->run;
	int nslots = r->o.regs + r->o.appkeys;
	int slot = (int)fr_rnd_below(&c->rng, (unsigned)nslots);
	unsigned gen = atomic_load(&r->generation);
	struct rkc_buf val = { 0 };
	unsigned dice = fr_rnd_below(&c->rng, 100);
	char fresh[48];
	struct fr_op *o = oplog_add(&c->log);
	int rc;

	if (o == NULL)
		return;
	o->id = atomic_fetch_add(&r->next_op_id, 1);
	o->proc = c->proc;
	fr_key_name(o->key, sizeof o->key, gen, slot, r->o.regs);
	snprintf(fresh, sizeof fresh, "p%u-%" PRIu64 "%s", c->proc, ++c->written,
		 slot < r->o.regs ? "" : ";");
	if (slot >= r->o.regs)
		o->kind = dice < 60 ? FR_APPEND : FR_GET;
	else
		o->kind = dice < 40 ? FR_GET : dice < 65 ? FR_PUT : dice < 85 ? FR_CAS : FR_DELETE;
	switch (o->kind) {
	case FR_GET:
		break;
	case FR_PUT:
	case FR_APPEND:
		o->arg0 = strdup(fresh);
		break;
	case FR_CAS:
		/* expect the last value this client saw there; when it saw none, a value nobody
		 * writes (client 0 numbers its values from 1), which must fail */
		o->arg0 = strdup(c->last[slot][0] != '\0' ? c->last[slot] : "p0-0");
		o->arg1 = strdup(fresh);
		break;
	case FR_DELETE:
		break;
	}
	if ((o->kind != FR_GET && o->kind != FR_DELETE && o->arg0 == NULL) ||
	    (o->kind == FR_CAS && o->arg1 == NULL)) {
		free(o->arg0);
		free(o->arg1);
		c->log.n--;
		return;
	}
	o->inv_ns = fr_now_ns();
	switch (o->kind) {
	case FR_GET:
		rc = r->o.stale_reads ? stale_get(c, o->key, &val)
				       : rkc_get(c->rkc, o->key, strlen(o->key), false, &val);
		break;
	case FR_PUT:
		rc = rkc_put(c->rkc, o->key, strlen(o->key), o->arg0, strlen(o->arg0));
		break;
	case FR_APPEND:
		rc = rkc_append(c->rkc, o->key, strlen(o->key), o->arg0, strlen(o->arg0));
		break;
	case FR_CAS:
		rc = rkc_cas(c->rkc, o->key, strlen(o->key), o->arg0, strlen(o->arg0), o->arg1,
			     strlen(o->arg1));
		break;
	default:
		rc = rkc_delete(c->rkc, o->key, strlen(o->key));
		break;
	}
	complete(r, o, rc, &val);
	if (o->status == FR_OK && o->kind == FR_GET && o->result != NULL)
		snprintf(c->last[slot], sizeof c->last[slot], "%s", o->result);
	else if (o->status == FR_OK && (o->kind == FR_PUT || o->kind == FR_CAS))
		snprintf(c->last[slot], sizeof c->last[slot], "%s", fresh);
	rkc_buf_free(&val);
}

void *fr_client_main(void *arg)
{
	struct fr_client *c = arg;
	struct fr_run *r = c->run;
	unsigned gen = atomic_load(&r->generation);

	while (!atomic_load(&r->stop_clients)) {
		if (atomic_load(&r->generation) != gen) {
			gen = atomic_load(&r->generation);
			memset(c->last, 0, sizeof c->last);
		}
		one_op(c);
		if (r->o.think_ms > 0)
			fr_nap(fr_rnd_below(&c->rng, 2 * r->o.think_ms + 1), &r->stop_clients);
	}
	for (int k = 0; k < FC_MAX; k++)
		rkc_close(c->node_rkc[k]);
	return NULL;
}

/* Read every key of every generation once more, linearizably, after everything healed. */
int fr_final_reads(struct fr_run *r, struct rkc_client *rkc, struct fr_oplog *log)
{
	unsigned gens = atomic_load(&r->generation);

	for (unsigned g = 0; g <= gens; g++) {
		for (int s = 0; s < r->o.regs + r->o.appkeys; s++) {
			char key[24];
			bool done = false;

			fr_key_name(key, sizeof key, g, s, r->o.regs);
			for (int tries = 0; tries < 10 && !done; tries++) {
				struct rkc_buf val = { 0 };
				struct fr_op *o = oplog_add(log);
				int rc;

				if (o == NULL)
					return -1;
				o->id = atomic_fetch_add(&r->next_op_id, 1);
				o->proc = (unsigned)r->o.clients;
				o->kind = FR_GET;
				snprintf(o->key, sizeof o->key, "%s", key);
				o->inv_ns = fr_now_ns();
				rc = rkc_get(rkc, key, strlen(key), false, &val);
				complete(r, o, rc, &val);
				rkc_buf_free(&val);
				done = o->status == FR_OK;
			}
			if (!done) {
				fprintf(stderr, "rk-fault: final read of %s failed\n", key);
				return -1;
			}
		}
	}
	return 0;
}

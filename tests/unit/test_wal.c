/* test_wal.c -- WAL: round trips, group commit, truncation, compaction, torn tails at every
 * byte, corruption before the tail, and injected write/sync failures. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/err.h"
#include "common/mem.h"
#include "harness/runner.h"
#include "storage/wal.h"
#include "unit/test_storage.h"

#define SEG1 "wal-00000000000000000001.seg"
#define SEG_HDR 32 /* wal.c layout, see docs/storage.md */
#define REC_HDR 32
#define TORN_SALT 45 /* makes entry 5 carry 40 bytes: fewer cut points to try */

/* Entry @index's payload: length and bytes derived from the index and @salt. */
static size_t payload_len(rk_index index, uint64_t salt)
{
	return (size_t)((index * 7919 + salt) % 300);
}

/* File offset of entry @index in a segment starting at @first written by append_range(). */
static size_t rec_off_fwd(rk_index first, rk_index index, uint64_t salt)
{
	size_t off = SEG_HDR;

	for (rk_index i = first; i < index; i++)
		off += REC_HDR + ((payload_len(i, salt) + 7) & ~(size_t)7);
	return off;
}

static void make_entry(struct rk_entry *e, rk_index index, uint64_t salt, uint8_t *buf)
{
	e->index = index;
	e->term = 1 + index / 50 + salt;
	e->type = RK_ENTRY_NORMAL;
	e->data.len = payload_len(index, salt);
	e->data.base = buf;
	test_fill(buf, e->data.len, index ^ (salt << 32));
}

static void append_range(struct rk_wal *w, rk_index lo, rk_index hi, uint64_t salt, bool sync)
{
	uint8_t buf[300];
	struct rk_entry e;
	struct rk_err err = { 0 };
	rk_index durable = 0;

	for (rk_index i = lo; i <= hi; i++) {
		make_entry(&e, i, salt, buf);
		CU_ASSERT_EQUAL_FATAL(rk_wal_append(w, &e, 1, &err), RK_OK);
		if (sync && i % 16 == 0) /* several groups, so records carry several syncs */
			CU_ASSERT_EQUAL(rk_wal_sync(w, &durable, &err), RK_OK);
	}
	if (sync) {
		CU_ASSERT_EQUAL(rk_wal_sync(w, &durable, &err), RK_OK);
		CU_ASSERT_EQUAL(durable, hi);
	}
}

static void check_range(struct rk_wal *w, rk_index lo, rk_index hi, uint64_t salt)
{
	uint8_t want[300];
	struct rk_entry e, r;
	struct rk_err err = { 0 };

	for (rk_index i = lo; i <= hi; i++) {
		make_entry(&e, i, salt, want);
		CU_ASSERT_EQUAL_FATAL(rk_wal_read(w, i, &r, &err), RK_OK);
		CU_ASSERT_EQUAL(r.index, i);
		CU_ASSERT_EQUAL(r.term, e.term);
		CU_ASSERT_EQUAL(r.type, RK_ENTRY_NORMAL);
		CU_ASSERT_EQUAL_FATAL(r.data.len, e.data.len);
		if (r.data.len > 0)
			CU_ASSERT(memcmp(r.data.base, want, r.data.len) == 0);
		rk_free(r.data.base);
	}
}

static struct rk_wal *open_ok(const char *dir, const struct rk_wal_opts *opts)
{
	struct rk_wal *w = NULL;
	struct rk_err err = { 0 };
	int rv = rk_wal_open(dir, opts, &w, &err);

	if (rv != RK_OK)
		fprintf(stderr, "rk_wal_open: %s\n", rk_err_text(&err, rv));
	CU_ASSERT_EQUAL_FATAL(rv, RK_OK);
	return w;
}

static void test_round_trip(void)
{
	char *dir = rk_test_tmpdir("wal");
	struct rk_wal *w = open_ok(dir, NULL);
	struct rk_entry e = { .index = 5 };
	struct rk_err err = { 0 };

	CU_ASSERT_EQUAL(rk_wal_first_index(w), 1);
	CU_ASSERT_EQUAL(rk_wal_last_index(w), 0);
	append_range(w, 1, 200, 0, true);
	check_range(w, 1, 200, 0);
	/* a gap is refused, nothing appended */
	CU_ASSERT_EQUAL(rk_wal_append(w, &e, 1, &err), RK_EINVAL);
	CU_ASSERT_EQUAL(rk_wal_last_index(w), 200);
	CU_ASSERT_EQUAL(rk_wal_read(w, 201, &e, &err), RK_EUNAVAILABLE);
	rk_wal_close(w);

	w = open_ok(dir, NULL);
	CU_ASSERT_EQUAL(rk_wal_last_index(w), 200);
	CU_ASSERT_EQUAL(rk_wal_durable_index(w), 200);
	check_range(w, 1, 200, 0);
	append_range(w, 201, 260, 0, true);
	rk_wal_close(w);
	w = open_ok(dir, NULL);
	check_range(w, 1, 260, 0);
	rk_wal_close(w);
	rk_test_rmtree(dir);
}

static void test_segments(void)
{
	char *dir = rk_test_tmpdir("wal");
	struct rk_wal_opts o = { .segment_size = 4096 };
	struct rk_wal *w = open_ok(dir, &o);
	size_t nseg;

	append_range(w, 1, 600, 0, true);
	nseg = rk_wal_segment_count(w);
	CU_ASSERT(nseg > 20);
	CU_ASSERT_EQUAL(count_files(dir, ".seg"), nseg);
	check_range(w, 1, 600, 0);
	rk_wal_close(w);
	/* reopen with another segment size: existing segments stay as they are */
	o.segment_size = 16384;
	w = open_ok(dir, &o);
	CU_ASSERT_EQUAL(rk_wal_segment_count(w), nseg);
	check_range(w, 1, 600, 0);
	append_range(w, 601, 700, 0, true);
	rk_wal_close(w);
	w = open_ok(dir, &o);
	check_range(w, 1, 700, 0);
	rk_wal_close(w);
	rk_test_rmtree(dir);
}

struct range_check {
	rk_index next;
	uint64_t salt;
	rk_index stop_at; /* return 7 from this index on; 0: never */
	int bad;
};

static int range_cb(void *data, const struct rk_entry *e)
{
	struct range_check *c = data;
	uint8_t want[300];
	struct rk_entry x;

	if (c->stop_at != 0 && e->index >= c->stop_at)
		return 7;
	make_entry(&x, c->next, c->salt, want);
	if (e->index != c->next || e->term != x.term || e->data.len != x.data.len ||
	    (x.data.len > 0 && memcmp(e->data.base, want, x.data.len) != 0))
		c->bad++;
	c->next++;
	return 0;
}

struct big_check {
	rk_index next;
	int bad;
};

static int big_cb(void *data, const struct rk_entry *e)
{
	struct big_check *c = data;
	const uint8_t *p = e->data.base;

	if (e->index != c->next || e->data.len != (size_t)(e->index * 100003 % (3 << 20)) ||
	    (e->data.len > 0 && (p[0] != (uint8_t)e->index || p[e->data.len - 1] != 0x5A)))
		c->bad++;
	c->next++;
	return 0;
}

static void test_read_range(void)
{
	char *dir = rk_test_tmpdir("wal");
	struct rk_wal_opts o = { .segment_size = 4096 };
	struct rk_wal *w = open_ok(dir, &o);
	struct range_check c = { .next = 1 };
	struct big_check b;
	struct rk_err err = { 0 };
	uint8_t *big = malloc(3 << 20);

	append_range(w, 1, 300, 0, true);
	CU_ASSERT_EQUAL(rk_wal_read_range(w, 1, 300, range_cb, &c, &err), RK_OK);
	CU_ASSERT_EQUAL(c.next, 301);
	CU_ASSERT_EQUAL(c.bad, 0);
	c = (struct range_check){ .next = 17, .stop_at = 200 };
	CU_ASSERT_EQUAL(rk_wal_read_range(w, 17, 300, range_cb, &c, &err), 7);
	CU_ASSERT_EQUAL(c.next, 200);
	CU_ASSERT_EQUAL(c.bad, 0);
	CU_ASSERT_EQUAL(rk_wal_read_range(w, 250, 301, range_cb, &c, &err), RK_EUNAVAILABLE);
	CU_ASSERT_EQUAL(rk_wal_compact_before(w, 100, &err), RK_OK);
	CU_ASSERT_EQUAL(rk_wal_read_range(w, 1, 300, range_cb, &c, &err), RK_ECOMPACTED);
	rk_wal_close(w);

	/* entries of up to 3 MiB: several chunks of the 4 MiB reads, some of a single record */
	o.segment_size = 0;
	w = open_ok(dir, &o);
	CU_ASSERT_EQUAL(rk_wal_reset(w, 1, &err), RK_OK);
	for (rk_index i = 1; i <= 24; i++) {
		struct rk_entry e = { .index = i, .term = 1, .type = RK_ENTRY_NORMAL };

		e.data.len = (size_t)(i * 100003 % (3 << 20));
		memset(big, 0x5A, e.data.len);
		big[0] = (uint8_t)i;
		e.data.base = big;
		CU_ASSERT_EQUAL_FATAL(rk_wal_append(w, &e, 1, &err), RK_OK);
	}
	CU_ASSERT_EQUAL(rk_wal_sync(w, NULL, &err), RK_OK);
	b = (struct big_check){ .next = 1 };
	CU_ASSERT_EQUAL(rk_wal_read_range(w, 1, 24, big_cb, &b, &err), RK_OK);
	CU_ASSERT_EQUAL(b.next, 25);
	CU_ASSERT_EQUAL(b.bad, 0);
	rk_wal_close(w);
	free(big);
	rk_test_rmtree(dir);
}

/* Damage after startup shows on read, as RK_ECORRUPT naming the file. */
static void test_read_detects_damage(void)
{
	char *dir = rk_test_tmpdir("wal");
	char *p = path_join(dir, SEG1);
	struct rk_wal_opts o = { .no_prealloc = true };
	struct rk_wal *w = open_ok(dir, &o);
	struct range_check c = { .next = 1 };
	struct rk_err err = { 0 };
	struct rk_entry e;
	size_t len;
	uint8_t *buf;

	append_range(w, 1, 50, 0, true);
	buf = slurp(p, &len);
	buf[rec_off_fwd(1, 20, 0) + REC_HDR] ^= 0x40;
	spit(p, buf, len); /* rewrites the same inode the WAL has open */
	CU_ASSERT_EQUAL(rk_wal_read(w, 20, &e, &err), RK_ECORRUPT);
	CU_ASSERT(strstr(err.msg, SEG1) != NULL);
	CU_ASSERT_EQUAL(rk_wal_read_range(w, 1, 50, range_cb, &c, &err), RK_ECORRUPT);
	CU_ASSERT_EQUAL(c.next, 20);
	CU_ASSERT(strstr(err.msg, SEG1) != NULL);
	rk_wal_close(w);
	free(buf);
	free(p);
	rk_test_rmtree(dir);
}

/* ------------------------------------------------------------------------ group commit */

#define GC_THREADS 8
#define GC_PER_THREAD 2000

struct gc_arg {
	struct rk_wal *w;
	int id;
	rk_index *got; /* index the WAL gave each of our appends */
	int fails;
	bool racing;   /* truncations run too: durable may drop below our index again */
	int count;     /* appends to do; 0: GC_PER_THREAD */
};

static void *gc_thread(void *p)
{
	struct gc_arg *a = p;
	uint8_t buf[64];
	struct rk_entry e;
	struct rk_err err;

	memset(buf, 0xA5, sizeof buf);
	for (int i = 0; i < (a->count ? a->count : GC_PER_THREAD); i++) {
		buf[0] = (uint8_t)a->id;
		memcpy(buf + 1, &i, sizeof i);
		e = (struct rk_entry){ .index = 0, .term = 1, .type = RK_ENTRY_NORMAL,
				       .data = { buf, 1 + sizeof i + (size_t)(i % 50) } };
		if (rk_wal_append_sync(a->w, &e, 1, &err) != RK_OK) {
			a->fails++;
			continue;
		}
		/* durable means durable: the WAL must say so too */
		if (!a->racing && rk_wal_durable_index(a->w) < e.index)
			a->fails++;
		a->got[i] = e.index;
	}
	return NULL;
}

struct reader_arg {
	struct rk_wal *w;
	volatile int stop;
	long reads, errors;
};

/* Reads durable entries while appenders run: exercises the read path against flushes. */
static void *reader_thread(void *p)
{
	struct reader_arg *a = p;
	uint64_t s = 99;
	struct rk_entry e;
	struct rk_err err;

	while (!__atomic_load_n(&a->stop, __ATOMIC_ACQUIRE)) {
		rk_index d = rk_wal_durable_index(a->w);

		if (d == 0)
			continue;
		if (rk_wal_read(a->w, 1 + test_rand(&s) % d, &e, &err) != RK_OK)
			a->errors++;
		else
			rk_free(e.data.base);
		a->reads++;
	}
	return NULL;
}

static void test_group_commit(void)
{
	char *dir = rk_test_tmpdir("wal");
	struct rk_wal_opts o = { .segment_size = 256 * 1024 };
	struct fault_io f;
	struct gc_arg args[GC_THREADS];
	pthread_t th[GC_THREADS], rth;
	struct reader_arg ra = { 0 };
	struct rk_wal *w;
	long syncs;
	const long total = (long)GC_THREADS * GC_PER_THREAD;

	fault_io_init(&f);
	o.io = &f.io;
	w = open_ok(dir, &o);
	ra.w = w;
	atomic_store(&f.fdatasyncs, 0);
	CU_ASSERT_FATAL(pthread_create(&rth, NULL, reader_thread, &ra) == 0);
	for (int t = 0; t < GC_THREADS; t++) {
		args[t] = (struct gc_arg){ .w = w, .id = t };
		args[t].got = calloc(GC_PER_THREAD, sizeof(rk_index));
		CU_ASSERT_FATAL(pthread_create(&th[t], NULL, gc_thread, &args[t]) == 0);
	}
	for (int t = 0; t < GC_THREADS; t++) {
		pthread_join(th[t], NULL);
		CU_ASSERT_EQUAL(args[t].fails, 0);
	}
	__atomic_store_n(&ra.stop, 1, __ATOMIC_RELEASE);
	pthread_join(rth, NULL);
	CU_ASSERT_EQUAL(ra.errors, 0);
	syncs = atomic_load(&f.fdatasyncs);
	fprintf(stderr, "(%ld appends, %ld fdatasync, %.1f appends/sync, %ld concurrent reads) ",
		total, syncs, (double)total / (double)(syncs ? syncs : 1), ra.reads);
	CU_ASSERT(syncs * 2 < total);
	CU_ASSERT_EQUAL(rk_wal_last_index(w), (rk_index)total);
	CU_ASSERT_EQUAL(rk_wal_durable_index(w), (rk_index)total);
	rk_wal_close(w);

	/* after reopen: every append is there, in the slot the WAL reported, with its payload */
	w = open_ok(dir, NULL);
	CU_ASSERT_EQUAL(rk_wal_last_index(w), (rk_index)total);
	for (int t = 0; t < GC_THREADS; t++) {
		for (int i = 0; i < GC_PER_THREAD; i++) {
			struct rk_entry e;
			struct rk_err err;
			int seq;

			CU_ASSERT_EQUAL_FATAL(rk_wal_read(w, args[t].got[i], &e, &err), RK_OK);
			CU_ASSERT_EQUAL(e.data.len, 1 + sizeof seq + (size_t)(i % 50));
			memcpy(&seq, (uint8_t *)e.data.base + 1, sizeof seq);
			CU_ASSERT(((uint8_t *)e.data.base)[0] == t && seq == i);
			rk_free(e.data.base);
		}
		free(args[t].got);
	}
	rk_wal_close(w);
	rk_test_rmtree(dir);
}

/* ------------------------------------------------------------------ truncate / compact */

struct trunc_arg {
	struct rk_wal *w;
	volatile int stop;
	int truncations, errors;
};

static void *truncator(void *p)
{
	struct trunc_arg *a = p;
	struct rk_err err;

	while (!__atomic_load_n(&a->stop, __ATOMIC_ACQUIRE)) {
		rk_index last = rk_wal_last_index(a->w);

		if (last > 10) {
			if (rk_wal_truncate_after(a->w, last - 5, &err) != RK_OK)
				a->errors++;
			a->truncations++;
		}
		usleep(2000);
	}
	return NULL;
}

/* Truncations racing group commit: nobody hangs waiting for indexes that were cut away, nobody
 * gets an error, and the result reopens. */
static void test_truncate_while_appending(void)
{
	char *dir = rk_test_tmpdir("wal");
	struct rk_wal_opts o = { .segment_size = 8192 };
	struct rk_wal *w = open_ok(dir, &o);
	struct gc_arg args[4];
	struct trunc_arg ta = { .w = w };
	pthread_t th[4], tt;
	rk_index last;

	CU_ASSERT_FATAL(pthread_create(&tt, NULL, truncator, &ta) == 0);
	for (int t = 0; t < 4; t++) {
		args[t] = (struct gc_arg){ .w = w, .id = t, .racing = true, .count = 400 };
		args[t].got = calloc(GC_PER_THREAD, sizeof(rk_index));
		CU_ASSERT_FATAL(pthread_create(&th[t], NULL, gc_thread, &args[t]) == 0);
	}
	for (int t = 0; t < 4; t++) {
		pthread_join(th[t], NULL);
		CU_ASSERT_EQUAL(args[t].fails, 0);
		free(args[t].got);
	}
	__atomic_store_n(&ta.stop, 1, __ATOMIC_RELEASE);
	pthread_join(tt, NULL);
	CU_ASSERT_EQUAL(ta.errors, 0);
	CU_ASSERT(ta.truncations > 0);
	last = rk_wal_last_index(w);
	CU_ASSERT_EQUAL(rk_wal_durable_index(w), last);
	rk_wal_close(w);
	w = open_ok(dir, &o);
	CU_ASSERT_EQUAL(rk_wal_last_index(w), last);
	for (rk_index i = 1; i <= last; i++) {
		struct rk_entry e;
		struct rk_err err;

		CU_ASSERT_EQUAL_FATAL(rk_wal_read(w, i, &e, &err), RK_OK);
		rk_free(e.data.base);
	}
	rk_wal_close(w);
	rk_test_rmtree(dir);
}

static void test_truncate_after(void)
{
	char *dir = rk_test_tmpdir("wal");
	struct rk_wal_opts o = { .segment_size = 4096 };
	struct rk_wal *w = open_ok(dir, &o);
	struct rk_err err = { 0 };
	struct rk_entry e;
	size_t before;
	rk_index first_of_seg = 0;

	append_range(w, 1, 400, 0, true);
	before = rk_wal_segment_count(w);
	/* mid-segment, several segments back */
	CU_ASSERT_EQUAL(rk_wal_truncate_after(w, 150, &err), RK_OK);
	CU_ASSERT_EQUAL(rk_wal_last_index(w), 150);
	CU_ASSERT_EQUAL(rk_wal_durable_index(w), 150);
	CU_ASSERT(rk_wal_segment_count(w) < before);
	CU_ASSERT_EQUAL(rk_wal_read(w, 151, &e, &err), RK_EUNAVAILABLE);
	check_range(w, 1, 150, 0);
	/* the new leader's entries, other terms and payloads */
	append_range(w, 151, 300, 1, true);
	rk_wal_close(w);
	w = open_ok(dir, &o);
	CU_ASSERT_EQUAL(rk_wal_last_index(w), 300);
	check_range(w, 1, 150, 0);
	check_range(w, 151, 300, 1);

	/* exactly at a segment boundary: find the first index of the last segment */
	for (rk_index i = 300; i > 1; i--) {
		char name[64];
		struct stat st;
		char *p;

		snprintf(name, sizeof name, "wal-%020" PRIu64 ".seg", i);
		p = path_join(dir, name);
		if (stat(p, &st) == 0 && i > 151) {
			first_of_seg = i;
			free(p);
			break;
		}
		free(p);
	}
	CU_ASSERT_FATAL(first_of_seg > 151);
	before = rk_wal_segment_count(w);
	CU_ASSERT_EQUAL(rk_wal_truncate_after(w, first_of_seg - 1, &err), RK_OK);
	/* the segment starting right after the cut stays, emptied, as the tail */
	CU_ASSERT_EQUAL(rk_wal_segment_count(w), before);
	CU_ASSERT_EQUAL(rk_wal_last_index(w), first_of_seg - 1);
	append_range(w, first_of_seg, first_of_seg + 40, 2, true);
	rk_wal_close(w);
	w = open_ok(dir, &o);
	CU_ASSERT_EQUAL(rk_wal_last_index(w), first_of_seg + 40);
	check_range(w, 151, first_of_seg - 1, 1);
	check_range(w, first_of_seg, first_of_seg + 40, 2);

	/* truncating everything keeps the log's start */
	CU_ASSERT_EQUAL(rk_wal_truncate_after(w, 0, &err), RK_OK);
	CU_ASSERT_EQUAL(rk_wal_last_index(w), 0);
	CU_ASSERT_EQUAL(rk_wal_segment_count(w), 1);
	/* beyond the end: nothing to do */
	CU_ASSERT_EQUAL(rk_wal_truncate_after(w, 99, &err), RK_OK);
	append_range(w, 1, 10, 3, false); /* buffered: truncation flushes first */
	CU_ASSERT_EQUAL(rk_wal_truncate_after(w, 5, &err), RK_OK);
	CU_ASSERT_EQUAL(rk_wal_last_index(w), 5);
	rk_wal_close(w);
	w = open_ok(dir, &o);
	CU_ASSERT_EQUAL(rk_wal_last_index(w), 5);
	check_range(w, 1, 5, 3);
	rk_wal_close(w);
	rk_test_rmtree(dir);
}

static void test_compact_before(void)
{
	char *dir = rk_test_tmpdir("wal");
	struct rk_wal_opts o = { .segment_size = 4096 };
	struct rk_wal *w = open_ok(dir, &o);
	struct rk_err err = { 0 };
	struct rk_entry e;
	rk_index first;
	size_t before;

	append_range(w, 1, 400, 0, true);
	before = rk_wal_segment_count(w);
	CU_ASSERT_EQUAL(rk_wal_compact_before(w, 200, &err), RK_OK);
	first = rk_wal_first_index(w);
	CU_ASSERT(first > 1 && first <= 200);
	CU_ASSERT(rk_wal_segment_count(w) < before);
	CU_ASSERT_EQUAL(count_files(dir, ".seg"), rk_wal_segment_count(w));
	CU_ASSERT_EQUAL(rk_wal_read(w, first - 1, &e, &err), RK_ECOMPACTED);
	check_range(w, first, 400, 0);
	/* idempotent, and never below what it already dropped */
	CU_ASSERT_EQUAL(rk_wal_compact_before(w, 100, &err), RK_OK);
	CU_ASSERT_EQUAL(rk_wal_first_index(w), first);
	CU_ASSERT_EQUAL(rk_wal_truncate_after(w, first - 2, &err), RK_ECOMPACTED);
	CU_ASSERT_FALSE(rk_wal_is_failed(w));
	rk_wal_close(w);
	w = open_ok(dir, &o);
	CU_ASSERT_EQUAL(rk_wal_first_index(w), first);
	check_range(w, first, 400, 0);
	/* compaction up to the end keeps the last segment */
	CU_ASSERT_EQUAL(rk_wal_compact_before(w, 401, &err), RK_OK);
	CU_ASSERT_EQUAL(rk_wal_segment_count(w), 1);
	CU_ASSERT_EQUAL(rk_wal_last_index(w), 400);
	/* a snapshot beyond the log: restart it */
	CU_ASSERT_EQUAL(rk_wal_compact_before(w, 1000, &err), RK_OK);
	CU_ASSERT_EQUAL(rk_wal_first_index(w), 1000);
	CU_ASSERT_EQUAL(rk_wal_last_index(w), 999);
	append_range(w, 1000, 1100, 0, true);
	rk_wal_close(w);
	w = open_ok(dir, &o);
	CU_ASSERT_EQUAL(rk_wal_first_index(w), 1000);
	CU_ASSERT_EQUAL(rk_wal_last_index(w), 1100);
	check_range(w, 1000, 1100, 0);
	CU_ASSERT_EQUAL(rk_wal_reset(w, 5000, &err), RK_OK);
	rk_wal_close(w);
	w = open_ok(dir, &o);
	CU_ASSERT_EQUAL(rk_wal_first_index(w), 5000);
	CU_ASSERT_EQUAL(rk_wal_last_index(w), 4999);
	rk_wal_close(w);
	rk_test_rmtree(dir);
}

static void test_align_to_snapshot(void)
{
	char *dir = rk_test_tmpdir("wal");
	struct rk_wal_opts o = { .segment_size = 4096 };
	struct rk_wal *w = open_ok(dir, &o);
	struct rk_err err = { 0 };

	CU_ASSERT_EQUAL(rk_wal_align_to_snapshot(w, 0, &err), RK_OK); /* fresh node */
	append_range(w, 1, 300, 0, true);
	CU_ASSERT_EQUAL(rk_wal_align_to_snapshot(w, 0, &err), RK_OK);
	CU_ASSERT_EQUAL(rk_wal_align_to_snapshot(w, 300, &err), RK_OK);
	CU_ASSERT_EQUAL(rk_wal_last_index(w), 300);
	CU_ASSERT_EQUAL(rk_wal_compact_before(w, 200, &err), RK_OK);
	CU_ASSERT(rk_wal_first_index(w) > 2);
	/* a snapshot older than the log's start: a hole nobody can fill */
	CU_ASSERT_EQUAL(rk_wal_align_to_snapshot(w, 1, &err), RK_ECORRUPT);
	CU_ASSERT(strstr(err.msg, "missing") != NULL);
	CU_ASSERT_FALSE(rk_wal_is_failed(w));
	/* a snapshot beyond the log: the log restarts after it */
	CU_ASSERT_EQUAL(rk_wal_align_to_snapshot(w, 500, &err), RK_OK);
	CU_ASSERT_EQUAL(rk_wal_first_index(w), 501);
	CU_ASSERT_EQUAL(rk_wal_last_index(w), 500);
	append_range(w, 501, 510, 0, true);
	rk_wal_close(w);
	rk_test_rmtree(dir);
}

/* A reset interrupted after the old segments went: recovery finishes it. */
static void test_reset_interrupted(void)
{
	char *dir = rk_test_tmpdir("wal");
	struct rk_wal *w = open_ok(dir, NULL);
	struct rk_err err = { 0 };
	char *seg, *tmp;
	uint8_t hdr[SEG_HDR];
	int fd;

	CU_ASSERT_EQUAL(rk_wal_reset(w, 77, &err), RK_OK);
	rk_wal_close(w);
	seg = path_join(dir, "wal-00000000000000000077.seg");
	tmp = path_join(dir, "wal-reset.tmp");
	CU_ASSERT_FATAL(rename(seg, tmp) == 0);
	w = open_ok(dir, NULL);
	CU_ASSERT_EQUAL(rk_wal_last_index(w), 76);
	append_range(w, 77, 80, 0, true);
	rk_wal_close(w);
	/* with segments present, a leftover temp is just dropped */
	fd = open(seg, O_RDONLY);
	CU_ASSERT_FATAL(fd >= 0 && pread(fd, hdr, sizeof hdr, 0) == (ssize_t)sizeof hdr);
	close(fd);
	spit(tmp, hdr, sizeof hdr);
	w = open_ok(dir, NULL);
	CU_ASSERT_EQUAL(rk_wal_last_index(w), 80);
	CU_ASSERT_EQUAL(count_files(dir, "reset"), 0);
	rk_wal_close(w);
	free(seg);
	free(tmp);
	rk_test_rmtree(dir);
}

/* ------------------------------------------------------------------------- torn tails */

struct open_call {
	const char *dir;
	const struct rk_wal_opts *opts;
	struct rk_wal *w;
	struct rk_err err;
	int rv;
};

static void do_open(void *p)
{
	struct open_call *c = p;

	c->rv = rk_wal_open(c->dir, c->opts, &c->w, &c->err);
}

/* Build a 5-entry WAL, return its segment bytes and where the last record starts. */
static uint8_t *golden(const struct rk_wal_opts *o, size_t *len, size_t *last_off)
{
	char *dir = rk_test_tmpdir("walg");
	char *p = path_join(dir, SEG1);
	struct rk_wal *w = open_ok(dir, o);
	uint8_t *buf;
	size_t off = SEG_HDR;

	append_range(w, 1, 4, TORN_SALT, true);
	append_range(w, 5, 5, TORN_SALT, true);
	rk_wal_close(w);
	buf = slurp(p, len);
	for (rk_index i = 1; i < 5; i++)
		off += REC_HDR + ((payload_len(i, TORN_SALT) + 7) & ~(size_t)7);
	*last_off = off;
	free(p);
	rk_test_rmtree(dir);
	return buf;
}

/* Every cut point inside the last record (and garbage instead of zeros): recovery keeps the
 * first four entries exactly, cuts the file back to them, and logs it. */
static void torn_case(bool prealloc, bool garbage)
{
	struct rk_wal_opts o = { .segment_size = 8192, .no_prealloc = !prealloc };
	size_t len, last_off, end, cuts = 0;
	uint8_t *gold = golden(&o, &len, &last_off);
	uint64_t s = 5;

	/* with preallocation, zeroing the (zero) padding changes nothing: stop before it */
	end = last_off + REC_HDR + (prealloc ? payload_len(5, TORN_SALT)
					      : ((payload_len(5, TORN_SALT) + 7) & ~(size_t)7));
	CU_ASSERT_FATAL(end <= len);
	for (size_t cut = last_off; cut < end; cut++, cuts++) {
		char *dir = rk_test_tmpdir("walt");
		char *p = path_join(dir, SEG1);
		uint8_t *img = malloc(len);
		struct open_call c = { .dir = dir, .opts = &o };
		size_t img_len = prealloc ? len : cut;
		char *log = NULL;
		struct stat st;

		memcpy(img, gold, len);
		/* prealloc: what did not land reads as zeros; else the file just ends */
		memset(img + cut, 0, len - cut);
		if (garbage && cut > last_off)
			for (size_t i = last_off; i < cut; i++)
				img[i] = (uint8_t)test_rand(&s);
		spit(p, img, img_len);
		if (cut == last_off + 1 || cut == end - 1)
			log = capture_stderr(do_open, &c);
		else
			do_open(&c);
		CU_ASSERT_EQUAL_FATAL(c.rv, RK_OK);
		CU_ASSERT_EQUAL(rk_wal_last_index(c.w), 4);
		check_range(c.w, 1, 4, TORN_SALT);
		if (log != NULL) {
			/* the cut is reported with file and offset */
			char want[64];

			snprintf(want, sizeof want, "offset %zu", last_off);
			CU_ASSERT(strstr(log, "torn") != NULL);
			CU_ASSERT(strstr(log, SEG1) != NULL);
			CU_ASSERT(strstr(log, want) != NULL);
			free(log);
		}
		/* the log goes on from the cut, and the re-appended entry survives a reopen */
		append_range(c.w, 5, 6, 9, true);
		rk_wal_close(c.w);
		c.w = open_ok(dir, &o);
		CU_ASSERT_EQUAL(rk_wal_last_index(c.w), 6);
		check_range(c.w, 5, 6, 9);
		rk_wal_close(c.w);
		if (!prealloc) {
			CU_ASSERT(stat(p, &st) == 0 && (size_t)st.st_size > last_off);
		}
		free(img);
		free(p);
		rk_test_rmtree(dir);
	}
	CU_ASSERT(cuts >= REC_HDR + payload_len(5, TORN_SALT));
	free(gold);
}

static void test_torn_every_byte(void)
{
	torn_case(false, false);
}

static void test_torn_every_byte_prealloc(void)
{
	torn_case(true, false);
}

static void test_torn_garbage(void)
{
	torn_case(false, true);
}

/* Random cut points over a multi-segment log: only the last segment can be cut, and the
 * entries before the cut all survive. */
static void test_torn_random(void)
{
	struct rk_wal_opts o = { .segment_size = 4096, .no_prealloc = true };
	uint64_t s = 1234;

	for (int round = 0; round < 12; round++) {
		char *dir = rk_test_tmpdir("walr");
		struct rk_wal *w = open_ok(dir, &o);
		rk_index n = 60 + test_rand(&s) % 100, last;
		char name[64], *p;
		struct stat st;
		size_t cut;

		append_range(w, 1, n, 0, true);
		rk_wal_close(w);
		/* the last segment's first index: scan down for a file */
		for (last = n;; last--) {
			snprintf(name, sizeof name, "wal-%020" PRIu64 ".seg", last);
			p = path_join(dir, name);
			if (stat(p, &st) == 0)
				break;
			free(p);
		}
		cut = SEG_HDR + test_rand(&s) % ((size_t)st.st_size - SEG_HDR);
		CU_ASSERT_FATAL(truncate(p, (off_t)cut) == 0);
		w = open_ok(dir, &o);
		CU_ASSERT(rk_wal_last_index(w) >= last - 1);
		CU_ASSERT(rk_wal_last_index(w) < n);
		check_range(w, 1, rk_wal_last_index(w), 0);
		CU_ASSERT(stat(p, &st) == 0 && (size_t)st.st_size <= cut);
		rk_wal_close(w);
		free(p);
		rk_test_rmtree(dir);
	}
}

/* ------------------------------------------------------------------ corruption before tail */

static void expect_corrupt(const char *dir, const struct rk_wal_opts *o, const char *file,
			   size_t off)
{
	struct rk_wal *w = NULL;
	struct rk_err err = { 0 };
	char want[64];

	CU_ASSERT_EQUAL(rk_wal_open(dir, o, &w, &err), RK_ECORRUPT);
	CU_ASSERT(strstr(err.msg, file) != NULL);
	if (off != (size_t)-1) {
		snprintf(want, sizeof want, "offset %zu", off);
		CU_ASSERT(strstr(err.msg, want) != NULL);
	}
	if (strstr(err.msg, file) == NULL)
		fprintf(stderr, "unexpected message: %s\n", err.msg);
	if (w != NULL)
		rk_wal_close(w);
}

static size_t rec_off(rk_index first, rk_index index, uint64_t salt)
{
	size_t off = SEG_HDR;

	for (rk_index i = first; i < index; i++)
		off += REC_HDR + ((payload_len(i, salt) + 7) & ~(size_t)7);
	return off;
}

static void test_bitflip_before_tail(void)
{
	struct rk_wal_opts o = { .segment_size = 1 << 20 };
	uint64_t s = 77;

	for (int round = 0; round < 24; round++) {
		char *dir = rk_test_tmpdir("walc");
		char *p = path_join(dir, SEG1);
		struct rk_wal *w;
		rk_index victim = 1 + test_rand(&s) % 39; /* 40 entries: never the last one */
		size_t off = rec_off(1, victim, 0), rlen, len;
		uint8_t *buf;

		o.no_prealloc = round % 2;
		w = open_ok(dir, &o);
		append_range(w, 1, 40, 0, true);
		rk_wal_close(w);
		buf = slurp(p, &len);
		rlen = REC_HDR + payload_len(victim, 0);
		buf[off + test_rand(&s) % rlen] ^= (uint8_t)(1u << (test_rand(&s) % 8));
		spit(p, buf, len);
		expect_corrupt(dir, &o, SEG1, off);
		free(buf);
		free(p);
		rk_test_rmtree(dir);
	}
}

/* Damage in a closed segment, a missing segment, a segment with a bad header. */
static void test_corrupt_segments(void)
{
	struct rk_wal_opts o = { .segment_size = 4096 };
	char *dir = rk_test_tmpdir("walc");
	struct rk_wal *w = open_ok(dir, &o);
	char name[3][64], *p[3];
	rk_index i;
	uint8_t *buf[3];
	size_t len[3], k = 0;

	append_range(w, 1, 200, 0, true);
	rk_wal_close(w);
	/* the first three segments */
	for (i = 1; k < 3 && i <= 200; i++) {
		struct stat st;
		char *q;

		snprintf(name[k], sizeof name[k], "wal-%020" PRIu64 ".seg", i);
		q = path_join(dir, name[k]);
		if (stat(q, &st) == 0) {
			p[k] = q;
			buf[k] = slurp(q, &len[k]);
			k++;
		} else {
			free(q);
		}
	}
	CU_ASSERT_FATAL(k == 3);

	/* the very last byte of a closed segment: still corruption, it is not the tail */
	buf[0][len[0] - 1] ^= 0x10;
	spit(p[0], buf[0], len[0]);
	expect_corrupt(dir, &o, name[0], (size_t)-1);
	buf[0][len[0] - 1] ^= 0x10;
	/* a closed segment cut short */
	spit(p[0], buf[0], len[0] - 3);
	expect_corrupt(dir, &o, name[0], (size_t)-1);
	spit(p[0], buf[0], len[0]);
	/* a missing segment in the middle */
	CU_ASSERT_FATAL(unlink(p[1]) == 0);
	expect_corrupt(dir, &o, name[2], (size_t)-1);
	spit(p[1], buf[1], len[1]);
	/* a bad header on a closed segment */
	buf[1][3] ^= 0x01;
	spit(p[1], buf[1], len[1]);
	expect_corrupt(dir, &o, name[1], 0);
	buf[1][3] ^= 0x01;
	spit(p[1], buf[1], len[1]);
	/* all repaired: everything is back */
	w = open_ok(dir, &o);
	check_range(w, 1, 200, 0);
	rk_wal_close(w);
	for (k = 0; k < 3; k++) {
		free(p[k]);
		free(buf[k]);
	}
	rk_test_rmtree(dir);
}

/* A bad record in the last segment followed by valid ones is corruption, not a torn tail. */
static void test_bad_then_valid_in_tail(void)
{
	struct rk_wal_opts o = { .no_prealloc = true };
	char *dir = rk_test_tmpdir("walc");
	char *p = path_join(dir, SEG1);
	struct rk_wal *w = open_ok(dir, &o);
	size_t off = rec_off(1, 39, 0), len;
	uint8_t *buf;

	append_range(w, 1, 40, 0, true);
	rk_wal_close(w);
	buf = slurp(p, &len);
	/* zero the length field of entry 39: its framing is lost, entry 40 is fine */
	memset(buf + off + 4, 0xEE, 4);
	spit(p, buf, len);
	expect_corrupt(dir, &o, SEG1, off);
	free(buf);
	free(p);
	rk_test_rmtree(dir);
}

/* ------------------------------------------------------------------------ process kill */

/* A child appends from 4 threads and reports each durable index through a pipe; it is killed
 * with SIGKILL at a random moment. Whatever it was told is durable must be there after reopen,
 * with the right payload, and the log reopened must be a clean prefix of what it wrote. */
struct kill_arg {
	struct rk_wal *w;
	int fd;
	int id;
};

static void *kill_appender(void *p)
{
	struct kill_arg *a = p;
	uint8_t buf[300];
	struct rk_entry e;
	struct rk_err err;

	for (;;) {
		rk_index next = rk_wal_last_index(a->w) + 1;

		make_entry(&e, next, 0, buf); /* just some payload */
		e.index = 0;
		e.term = 3;
		buf[0] = (uint8_t)a->id;
		if (rk_wal_append_sync(a->w, &e, 1, &err) != RK_OK)
			_exit(3);
		/* one write per report: atomic for a pipe */
		if (write(a->fd, &e.index, sizeof e.index) != (ssize_t)sizeof e.index)
			_exit(4);
	}
	return NULL;
}

static void test_kill_during_appends(void)
{
	struct rk_wal_opts o = { .segment_size = 16384 };
	uint64_t s = 2024;

	for (int round = 0; round < 4; round++) {
		char *dir = rk_test_tmpdir("walk");
		rk_index reported = 0, v;
		int pfd[2], status;
		pid_t pid;

		o.no_prealloc = round % 2;
		CU_ASSERT_FATAL(pipe(pfd) == 0);
		pid = fork();
		CU_ASSERT_FATAL(pid >= 0);
		if (pid == 0) {
			struct kill_arg a[4];
			pthread_t th[4];
			struct rk_wal *w;
			struct rk_err err;

			close(pfd[0]);
			if (rk_wal_open(dir, &o, &w, &err) != RK_OK)
				_exit(2);
			for (int t = 0; t < 4; t++) {
				a[t] = (struct kill_arg){ .w = w, .fd = pfd[1], .id = t };
				pthread_create(&th[t], NULL, kill_appender, &a[t]);
			}
			for (;;)
				pause();
		}
		close(pfd[1]);
		/* let it get going (slow under sanitizers), then kill at a random moment */
		while (reported < 20 && read(pfd[0], &v, sizeof v) == (ssize_t)sizeof v)
			if (v > reported)
				reported = v;
		usleep((useconds_t)(test_rand(&s) % 100000));
		kill(pid, SIGKILL);
		waitpid(pid, &status, 0);
		CU_ASSERT(WIFSIGNALED(status));
		while (read(pfd[0], &v, sizeof v) == (ssize_t)sizeof v)
			if (v > reported)
				reported = v;
		close(pfd[0]);

		struct rk_wal *w = open_ok(dir, &o);
		rk_index last = rk_wal_last_index(w);

		CU_ASSERT(reported > 0);
		CU_ASSERT(last >= reported);
		for (rk_index i = 1; i <= last; i++) {
			struct rk_entry e;
			struct rk_err err;

			CU_ASSERT_EQUAL_FATAL(rk_wal_read(w, i, &e, &err), RK_OK);
			CU_ASSERT_EQUAL(e.term, 3);
			CU_ASSERT(e.data.len < 300 && (e.data.len == 0 || ((uint8_t *)e.data.base)[0] < 4));
			rk_free(e.data.base);
		}
		rk_wal_close(w);
		rk_test_rmtree(dir);
	}
}

/* ------------------------------------------------------------------- injected failures */

static void fail_case(int kind)
{
	char *dir = rk_test_tmpdir("walf");
	struct fault_io f;
	struct rk_wal_opts o = { .segment_size = 8192 };
	struct rk_wal *w;
	struct rk_err err = { 0 };
	struct rk_entry e;
	uint8_t buf[300];
	rk_index durable = 0;
	int want, rv;

	fault_io_init(&f);
	o.io = &f.io;
	w = open_ok(dir, &o);
	append_range(w, 1, 30, 0, true);
	switch (kind) {
	case 0: /* disk full on the next write */
		f.pwrite_fail_at = atomic_load(&f.pwrites) + 1;
		f.pwrite_errno = ENOSPC;
		f.sticky = true;
		want = RK_ENOSPC;
		break;
	case 1: /* a short write, then the disk is full */
		f.pwrite_fail_at = atomic_load(&f.pwrites) + 1;
		f.pwrite_errno = ENOSPC;
		f.pwrite_short = true;
		f.sticky = true;
		want = RK_ENOSPC;
		break;
	case 2: /* EIO on write */
		f.pwrite_fail_at = atomic_load(&f.pwrites) + 1;
		f.pwrite_errno = EIO;
		want = RK_EIO;
		break;
	case 3: /* fdatasync fails: fsyncgate */
		f.fdatasync_fail_at = atomic_load(&f.fdatasyncs) + 1;
		want = RK_EIO;
		break;
	default: /* no space for the next segment's preallocation */
		f.fallocate_fail_at = atomic_load(&f.fallocates) + 1;
		want = RK_ENOSPC;
		break;
	}
	/* enough to need a new segment, so kind 4 fails too */
	for (rk_index i = 31; i <= 80; i++) {
		make_entry(&e, i, 0, buf);
		CU_ASSERT_EQUAL_FATAL(rk_wal_append(w, &e, 1, &err), RK_OK);
	}
	rv = rk_wal_sync(w, &durable, &err);
	CU_ASSERT_EQUAL(rv, want);
	CU_ASSERT(err.msg[0] != '\0');
	CU_ASSERT_EQUAL(durable, 30);
	CU_ASSERT_EQUAL(rk_wal_durable_index(w), 30);
	CU_ASSERT(rk_wal_is_failed(w));
	/* stopped for good, and no fsync is retried as if it had worked */
	long syncs = atomic_load(&f.fdatasyncs);
	make_entry(&e, 81, 0, buf);
	CU_ASSERT_EQUAL(rk_wal_append(w, &e, 1, &err), RK_ESTOPPED);
	CU_ASSERT(strstr(err.msg, "earlier") != NULL);
	e.index = 0;
	CU_ASSERT_EQUAL(rk_wal_append_sync(w, &e, 1, &err), RK_ESTOPPED);
	CU_ASSERT_NOT_EQUAL(rk_wal_sync(w, &durable, &err), RK_OK);
	CU_ASSERT_EQUAL(durable, 30);
	CU_ASSERT_EQUAL(rk_wal_truncate_after(w, 10, &err), RK_ESTOPPED);
	CU_ASSERT_EQUAL(atomic_load(&f.fdatasyncs), syncs);
	check_range(w, 1, 30, 0);
	rk_wal_close(w);

	/* everything durable before the failure is intact; a partial tail is cut */
	w = open_ok(dir, NULL);
	CU_ASSERT(rk_wal_last_index(w) >= 30);
	check_range(w, 1, 30, 0);
	if (kind != 3)
		CU_ASSERT(rk_wal_last_index(w) < 80);
	check_range(w, 31, rk_wal_last_index(w), 0);
	rk_wal_close(w);
	rk_test_rmtree(dir);
}

static void test_fail_enospc(void)
{
	fail_case(0);
}

static void test_fail_short_write(void)
{
	fail_case(1);
}

static void test_fail_eio_write(void)
{
	fail_case(2);
}

static void test_fail_fdatasync(void)
{
	fail_case(3);
}

static void test_fail_fallocate(void)
{
	fail_case(4);
}

/* Concurrent appenders when the disk fills: every appender gets an error for what was not made
 * durable, none is told an entry is durable that is not. */
static void test_fail_group(void)
{
	char *dir = rk_test_tmpdir("walf");
	struct fault_io f;
	struct rk_wal_opts o = { 0 };
	struct gc_arg args[4];
	pthread_t th[4];
	struct rk_wal *w;
	rk_index durable, max_ok = 0;

	fault_io_init(&f);
	f.pwrite_fail_at = 40;
	f.pwrite_errno = ENOSPC;
	f.sticky = true;
	o.io = &f.io;
	w = open_ok(dir, &o);
	for (int t = 0; t < 4; t++) {
		args[t] = (struct gc_arg){ .w = w, .id = t };
		args[t].got = calloc(GC_PER_THREAD, sizeof(rk_index));
		CU_ASSERT_FATAL(pthread_create(&th[t], NULL, gc_thread, &args[t]) == 0);
	}
	for (int t = 0; t < 4; t++) {
		pthread_join(th[t], NULL);
		CU_ASSERT(args[t].fails > 0);
		for (int i = 0; i < GC_PER_THREAD; i++)
			if (args[t].got[i] > max_ok)
				max_ok = args[t].got[i];
	}
	durable = rk_wal_durable_index(w);
	CU_ASSERT(max_ok <= durable);
	CU_ASSERT(rk_wal_is_failed(w));
	rk_wal_close(w);
	w = open_ok(dir, NULL);
	CU_ASSERT(rk_wal_last_index(w) >= durable);
	for (int t = 0; t < 4; t++) {
		for (int i = 0; i < GC_PER_THREAD; i++) {
			struct rk_entry e;
			struct rk_err err;

			if (args[t].got[i] == 0)
				continue;
			CU_ASSERT_EQUAL_FATAL(rk_wal_read(w, args[t].got[i], &e, &err), RK_OK);
			CU_ASSERT(((uint8_t *)e.data.base)[0] == t);
			rk_free(e.data.base);
		}
		free(args[t].got);
	}
	rk_wal_close(w);
	rk_test_rmtree(dir);
}

/* Fail the Nth allocation of a recovery, for every N until it succeeds: each failure is
 * RK_ENOMEM and frees everything (walks every unwind label). */
static void test_open_enomem(void)
{
	char *dir = rk_test_tmpdir("walm");
	struct rk_wal_opts o = { .segment_size = 4096, .no_prealloc = true };
	struct rk_wal *w = open_ok(dir, &o);
	struct rk_err err;
	long n;
	int rv;

	append_range(w, 1, 100, 0, true);
	rk_wal_close(w);
	for (n = 0;; n++) {
		rk_mem_count(1);
		rk_mem_fail_after(n);
		rv = rk_wal_open(dir, &o, &w, &err);
		rk_mem_fail_after(-1);
		if (rv == RK_OK)
			break;
		CU_ASSERT_EQUAL_FATAL(rv, RK_ENOMEM);
		CU_ASSERT_EQUAL(rk_mem_live(), 0);
	}
	CU_ASSERT(n > 3);
	check_range(w, 1, 100, 0);
	rk_wal_close(w);
	CU_ASSERT_EQUAL(rk_mem_live(), 0);
	rk_mem_count(0);
	rk_test_rmtree(dir);
}

/* Out of memory while appending: refused cleanly before anything is encoded, or the WAL
 * stops; what was durable stays durable. */
static void test_append_enomem(void)
{
	char *dir = rk_test_tmpdir("walm");
	struct rk_wal_opts o = { .segment_size = 4096, .no_prealloc = true };
	struct rk_wal *w;
	struct rk_err err;
	struct rk_entry e[40];
	static uint8_t bufs[40][300];
	int rv;

	for (long n = 0; n < 12; n++) {
		w = open_ok(dir, &o);
		rk_index last = rk_wal_last_index(w);

		for (int i = 0; i < 40; i++)
			make_entry(&e[i], last + 1 + (rk_index)i, 0, bufs[i]);
		rk_mem_fail_after(n);
		rv = rk_wal_append(w, e, 40, &err);
		rk_mem_fail_after(-1);
		if (rv == RK_OK) {
			CU_ASSERT_EQUAL(rk_wal_sync(w, NULL, &err), RK_OK);
			CU_ASSERT_EQUAL(rk_wal_last_index(w), last + 40);
		} else {
			CU_ASSERT_EQUAL(rv, RK_ENOMEM);
			CU_ASSERT(rk_wal_last_index(w) == last || rk_wal_is_failed(w));
		}
		rk_wal_close(w);
	}
	w = open_ok(dir, &o);
	check_range(w, 1, rk_wal_last_index(w), 0);
	rk_wal_close(w);
	rk_test_rmtree(dir);
}

CU_TestInfo wal_tests[] = {
	{ "open_enomem", test_open_enomem },
	{ "append_enomem", test_append_enomem },
	{ "round_trip", test_round_trip },
	{ "segments", test_segments },
	{ "read_range", test_read_range },
	{ "read_detects_damage", test_read_detects_damage },
	{ "group_commit", test_group_commit },
	{ "truncate_after", test_truncate_after },
	{ "truncate_while_appending", test_truncate_while_appending },
	{ "compact_before", test_compact_before },
	{ "reset_interrupted", test_reset_interrupted },
	{ "align_to_snapshot", test_align_to_snapshot },
	{ "torn_every_byte", test_torn_every_byte },
	{ "torn_every_byte_prealloc", test_torn_every_byte_prealloc },
	{ "torn_garbage", test_torn_garbage },
	{ "torn_random", test_torn_random },
	{ "bitflip_before_tail", test_bitflip_before_tail },
	{ "corrupt_segments", test_corrupt_segments },
	{ "bad_then_valid_in_tail", test_bad_then_valid_in_tail },
	{ "kill_during_appends", test_kill_during_appends },
	{ "fail_enospc", test_fail_enospc },
	{ "fail_short_write", test_fail_short_write },
	{ "fail_eio_write", test_fail_eio_write },
	{ "fail_fdatasync", test_fail_fdatasync },
	{ "fail_fallocate", test_fail_fallocate },
	{ "fail_group", test_fail_group },
	CU_TEST_INFO_NULL,
};

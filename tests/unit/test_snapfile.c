/* test_snapfile.c -- snapshot files: streamed round trip, corruption, chunked receive, failed
 * writes, cleanup of old snapshots and of the WAL segments they cover. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "common/mem.h"
#include "harness/runner.h"
#include "storage/snapfile.h"
#include "storage/wal.h"
#include "unit/test_storage.h"

#define BODY_SEED 31
static const char conf_blob[] = "n1=10.0.0.1:7000 n2=10.0.0.2:7000 n3=10.0.0.3:7000";

/* Write a snapshot whose body is @len PRNG bytes, streamed in odd-sized chunks. */
static void write_snap(const char *dir, rk_index index, rk_term term, size_t len,
		       const struct rk_storage_io *io, int want)
{
	struct rk_snapfile_writer *w;
	struct rk_err err = { 0 };
	uint8_t *body = malloc(len + 1);
	uint64_t s = index;
	size_t pos = 0;
	int rv = RK_OK;

	CU_ASSERT_FATAL(body != NULL);
	test_fill(body, len, BODY_SEED + index);
	CU_ASSERT_FATAL(rk_snapfile_begin(dir, index, term, conf_blob, sizeof conf_blob, io, &w,
					  &err) == RK_OK);
	while (pos < len && rv == RK_OK) {
		size_t n = 1 + (size_t)(test_rand(&s) % 70001);

		if (n > len - pos)
			n = len - pos;
		rv = rk_snapfile_write(w, body + pos, n, &err);
		pos += n;
	}
	if (rv == RK_OK)
		rv = rk_snapfile_commit(w, &err);
	else
		rk_snapfile_abort(w);
	CU_ASSERT_EQUAL(rv, want);
	free(body);
}

/* Read the newest snapshot back in odd chunks and compare. */
static int read_back_cmp(const char *dir, rk_index index, rk_term term, size_t len, bool cmp)
{
	struct rk_snapfile_reader *r;
	const struct rk_snapfile_meta *m;
	struct rk_err err = { 0 };
	uint8_t *want = malloc(len + 1), buf[65536];
	uint64_t s = 3;
	size_t pos = 0, got;
	int rv;

	test_fill(want, len, BODY_SEED + index);
	rv = rk_snapfile_open_latest(dir, &r, &err);
	if (rv != RK_OK) {
		free(want);
		return rv;
	}
	m = rk_snapfile_meta(r);
	CU_ASSERT_EQUAL(m->index, index);
	CU_ASSERT_EQUAL(m->term, term);
	CU_ASSERT_EQUAL(m->body_len, len);
	CU_ASSERT_EQUAL(m->conf.len, sizeof conf_blob);
	CU_ASSERT(memcmp(m->conf.base, conf_blob, sizeof conf_blob) == 0);
	for (;;) {
		size_t cap = 1 + (size_t)(test_rand(&s) % sizeof buf);

		rv = rk_snapfile_read(r, buf, cap, &got, &err);
		if (rv != RK_OK || got == 0)
			break;
		CU_ASSERT_FATAL(pos + got <= len);
		if (cmp)
			CU_ASSERT(memcmp(buf, want + pos, got) == 0);
		pos += got;
	}
	if (rv == RK_OK)
		CU_ASSERT_EQUAL(pos, len);
	rk_snapfile_close(r);
	free(want);
	return rv;
}

static int read_back(const char *dir, rk_index index, rk_term term, size_t len)
{
	return read_back_cmp(dir, index, term, len, true);
}

static void test_round_trip(void)
{
	char *dir = rk_test_tmpdir("snap");
	struct rk_snapfile_reader *r;
	struct rk_err err = { 0 };
	const size_t len = 5 * 1000 * 1000 + 17;

	CU_ASSERT_EQUAL(rk_snapfile_open_latest(dir, &r, &err), RK_ENOENT);
	write_snap(dir, 1000, 4, len, NULL, RK_OK);
	CU_ASSERT_EQUAL(count_files(dir, ".tmp"), 0);
	CU_ASSERT_EQUAL(read_back(dir, 1000, 4, len), RK_OK);
	CU_ASSERT_FATAL(rk_snapfile_open_latest(dir, &r, &err) == RK_OK);
	CU_ASSERT_EQUAL(rk_snapfile_verify(r, &err), RK_OK);
	rk_snapfile_close(r);
	/* an empty body is fine too, and the newer snapshot wins */
	write_snap(dir, 1001, 4, 0, NULL, RK_OK);
	CU_ASSERT_EQUAL(read_back(dir, 1001, 4, 0), RK_OK);
	rk_test_rmtree(dir);
}

static char *only_snap(const char *dir, rk_index index, rk_term term)
{
	char name[80];

	snprintf(name, sizeof name, "snap-%020" PRIu64 "-%020" PRIu64 ".snap", index, term);
	return path_join(dir, name);
}

static void test_corruption(void)
{
	char *dir = rk_test_tmpdir("snap");
	char *p;
	struct rk_snapfile_reader *r;
	struct rk_err err = { 0 };
	const size_t len = 300000;
	uint8_t *buf;
	size_t flen;

	write_snap(dir, 50, 2, len, NULL, RK_OK);
	p = only_snap(dir, 50, 2);
	buf = slurp(p, &flen);

	/* a body byte: the header is fine, reading through finds it, and so does verify */
	buf[48 + sizeof conf_blob + 123456] ^= 0x04;
	spit(p, buf, flen);
	CU_ASSERT_EQUAL(read_back_cmp(dir, 50, 2, len, false), RK_ECORRUPT);
	CU_ASSERT_FATAL(rk_snapfile_open_latest(dir, &r, &err) == RK_OK);
	CU_ASSERT_EQUAL(rk_snapfile_verify(r, &err), RK_ECORRUPT);
	CU_ASSERT(strstr(err.msg, p) != NULL);
	rk_snapfile_close(r);
	buf[48 + sizeof conf_blob + 123456] ^= 0x04;

	/* the configuration blob */
	buf[50] ^= 0x01;
	spit(p, buf, flen);
	CU_ASSERT_EQUAL(rk_snapfile_open_latest(dir, &r, &err), RK_ECORRUPT);
	CU_ASSERT(strstr(err.msg, "offset 0") != NULL);
	buf[50] ^= 0x01;

	/* truncated: the trailer is gone */
	spit(p, buf, flen - 5);
	CU_ASSERT_EQUAL(rk_snapfile_open_latest(dir, &r, &err), RK_ECORRUPT);
	CU_ASSERT(strstr(err.msg, p) != NULL);
	spit(p, buf, 10);
	CU_ASSERT_EQUAL(rk_snapfile_open_latest(dir, &r, &err), RK_ECORRUPT);

	/* whole again */
	spit(p, buf, flen);
	CU_ASSERT_EQUAL(read_back(dir, 50, 2, len), RK_OK);
	free(buf);
	free(p);
	rk_test_rmtree(dir);
}

/* Leader's file sent raw in chunks, out of order and with repeats; follower installs it. */
static void test_chunked_receive(void)
{
	char *src = rk_test_tmpdir("snaps"), *dst = rk_test_tmpdir("snapd");
	struct rk_snapfile_reader *r;
	struct rk_snapfile_recv *rv;
	struct rk_err err = { 0 };
	const size_t len = 2 * 1000 * 1000 + 3, chunk = 65536;
	uint8_t *buf = malloc(chunk);
	uint64_t total, s = 11;
	size_t nchunks, got, *order;

	write_snap(src, 700, 9, len, NULL, RK_OK);
	CU_ASSERT_FATAL(rk_snapfile_open_latest(src, &r, &err) == RK_OK);
	total = rk_snapfile_meta(r)->file_size;
	nchunks = (size_t)((total + chunk - 1) / chunk);
	order = malloc(nchunks * sizeof *order);
	for (size_t i = 0; i < nchunks; i++)
		order[i] = i;
	for (size_t i = nchunks - 1; i > 0; i--) {
		size_t j = (size_t)(test_rand(&s) % (i + 1)), t = order[i];

		order[i] = order[j];
		order[j] = t;
	}
	CU_ASSERT_FATAL(rk_snapfile_recv_begin(dst, 700, 9, NULL, &rv, &err) == RK_OK);
	for (size_t i = 0; i < nchunks; i++) {
		uint64_t off = order[i] * chunk;

		CU_ASSERT_EQUAL(rk_snapfile_pread_raw(r, off, buf, chunk, &got, &err), RK_OK);
		CU_ASSERT_EQUAL(rk_snapfile_recv_chunk(rv, off, buf, got, &err), RK_OK);
		if (i % 7 == 0) /* a retransmission */
			CU_ASSERT_EQUAL(rk_snapfile_recv_chunk(rv, off, buf, got, &err), RK_OK);
	}
	CU_ASSERT_EQUAL(rk_snapfile_pread_raw(r, total, buf, chunk, &got, &err), RK_OK);
	CU_ASSERT_EQUAL(got, 0);
	CU_ASSERT_EQUAL(count_files(dst, ".tmp"), 1);
	CU_ASSERT_EQUAL(rk_snapfile_recv_done(rv, total, &err), RK_OK);
	CU_ASSERT_EQUAL(count_files(dst, ".tmp"), 0);
	CU_ASSERT_EQUAL(read_back(dst, 700, 9, len), RK_OK);

	/* a corrupted chunk: refused, nothing installed, temp gone */
	CU_ASSERT_FATAL(rk_snapfile_recv_begin(dst, 800, 9, NULL, &rv, &err) == RK_OK);
	for (uint64_t off = 0; off < total; off += chunk) {
		CU_ASSERT_EQUAL(rk_snapfile_pread_raw(r, off, buf, chunk, &got, &err), RK_OK);
		if (off == 5 * chunk)
			buf[100] ^= 0x20;
		CU_ASSERT_EQUAL(rk_snapfile_recv_chunk(rv, off, buf, got, &err), RK_OK);
	}
	CU_ASSERT_EQUAL(rk_snapfile_recv_done(rv, total, &err), RK_EINVAL); /* says 700, not 800 */
	CU_ASSERT_FATAL(rk_snapfile_recv_begin(dst, 700, 9, NULL, &rv, &err) == RK_OK);
	for (uint64_t off = 0; off < total; off += chunk) {
		CU_ASSERT_EQUAL(rk_snapfile_pread_raw(r, off, buf, chunk, &got, &err), RK_OK);
		if (off == 5 * chunk)
			buf[100] ^= 0x20;
		CU_ASSERT_EQUAL(rk_snapfile_recv_chunk(rv, off, buf, got, &err), RK_OK);
	}
	CU_ASSERT_EQUAL(rk_snapfile_recv_done(rv, total, &err), RK_ECORRUPT);
	/* missing the last chunk */
	CU_ASSERT_FATAL(rk_snapfile_recv_begin(dst, 700, 9, NULL, &rv, &err) == RK_OK);
	CU_ASSERT_EQUAL(rk_snapfile_pread_raw(r, 0, buf, chunk, &got, &err), RK_OK);
	CU_ASSERT_EQUAL(rk_snapfile_recv_chunk(rv, 0, buf, got, &err), RK_OK);
	CU_ASSERT_EQUAL(rk_snapfile_recv_done(rv, total, &err), RK_EINVAL);
	/* abandoned half way */
	CU_ASSERT_FATAL(rk_snapfile_recv_begin(dst, 700, 9, NULL, &rv, &err) == RK_OK);
	rk_snapfile_recv_abort(rv);
	CU_ASSERT_EQUAL(count_files(dst, ".tmp"), 0);
	CU_ASSERT_EQUAL(count_files(dst, ".snap"), 1);
	CU_ASSERT_EQUAL(read_back(dst, 700, 9, len), RK_OK);

	rk_snapfile_close(r);
	free(order);
	free(buf);
	rk_test_rmtree(src);
	rk_test_rmtree(dst);
}

static void test_write_failures(void)
{
	char *dir = rk_test_tmpdir("snap"), *stale;
	struct rk_snapfile_writer *w;
	struct rk_err err = { 0 };
	struct fault_io f;

	/* disk full half way through the body */
	fault_io_init(&f);
	f.pwrite_fail_at = 2;
	f.pwrite_errno = ENOSPC;
	f.sticky = true;
	write_snap(dir, 10, 1, 3 * 1000 * 1000, &f.io, RK_ENOSPC);
	CU_ASSERT_EQUAL(count_files(dir, "snap-"), 0);
	/* the final fsync fails */
	fault_io_init(&f);
	f.fsync_fail_at = 1;
	write_snap(dir, 10, 1, 1000, &f.io, RK_EIO);
	CU_ASSERT_EQUAL(count_files(dir, "snap-"), 0);
	/* abort leaves nothing; remove_temps sweeps what a crash would leave */
	CU_ASSERT_FATAL(rk_snapfile_begin(dir, 10, 1, NULL, 0, NULL, &w, &err) == RK_OK);
	CU_ASSERT_EQUAL(rk_snapfile_write(w, "x", 1, &err), RK_OK);
	rk_snapfile_abort(w);
	CU_ASSERT_EQUAL(count_files(dir, "snap-"), 0);
	stale = path_join(dir, "snap-00000000000000000010-00000000000000000001.tmp-abcdef");
	spit(stale, "x", 1);
	free(stale);
	CU_ASSERT_EQUAL(count_files(dir, ".tmp-"), 1);
	CU_ASSERT_EQUAL(rk_snapfile_remove_temps(dir, &err), RK_OK);
	CU_ASSERT_EQUAL(count_files(dir, ".tmp-"), 0);
	rk_test_rmtree(dir);
}

/* The server's sequence after a snapshot: commit, then drop older snapshots and the WAL
 * segments the new one covers; nothing goes before the new snapshot is durable. */
static void test_cleanup(void)
{
	char *dir = rk_test_tmpdir("snap");
	struct rk_wal_opts o = { .segment_size = 4096 };
	struct rk_wal *w;
	struct rk_err err = { 0 };
	uint8_t buf[200];
	struct rk_entry e;
	size_t nseg;

	CU_ASSERT_FATAL(rk_wal_open(dir, &o, &w, &err) == RK_OK);
	for (rk_index i = 1; i <= 300; i++) {
		test_fill(buf, sizeof buf, i);
		e = (struct rk_entry){ .index = i, .term = 2, .type = RK_ENTRY_NORMAL,
				       .data = { buf, sizeof buf } };
		CU_ASSERT_EQUAL_FATAL(rk_wal_append(w, &e, 1, &err), RK_OK);
	}
	CU_ASSERT_EQUAL(rk_wal_sync(w, NULL, &err), RK_OK);
	nseg = rk_wal_segment_count(w);
	write_snap(dir, 100, 2, 5000, NULL, RK_OK);
	write_snap(dir, 200, 2, 5000, NULL, RK_OK);
	/* not there yet: nothing may go */
	CU_ASSERT_EQUAL(rk_snapfile_cleanup(dir, 250, 2, &err), RK_ENOENT);
	CU_ASSERT_EQUAL(count_files(dir, ".snap"), 2);
	write_snap(dir, 250, 2, 5000, NULL, RK_OK);
	CU_ASSERT_EQUAL(rk_snapfile_cleanup(dir, 250, 2, &err), RK_OK);
	CU_ASSERT_EQUAL(count_files(dir, ".snap"), 1);
	CU_ASSERT_EQUAL(rk_wal_compact_before(w, 251, &err), RK_OK);
	CU_ASSERT(rk_wal_segment_count(w) < nseg);
	CU_ASSERT(rk_wal_first_index(w) <= 251);
	CU_ASSERT_EQUAL(count_files(dir, ".seg"), rk_wal_segment_count(w));
	rk_wal_close(w);
	CU_ASSERT_FATAL(rk_wal_open(dir, &o, &w, &err) == RK_OK);
	CU_ASSERT(rk_wal_first_index(w) <= 251);
	CU_ASSERT_EQUAL(rk_wal_last_index(w), 300);
	rk_wal_close(w);
	CU_ASSERT_EQUAL(read_back(dir, 250, 2, 5000), RK_OK);
	rk_test_rmtree(dir);
}

static void test_enomem(void)
{
	char *dir = rk_test_tmpdir("snap");
	struct rk_snapfile_writer *w;
	struct rk_snapfile_reader *r;
	struct rk_err err;
	long n;
	int rv;

	for (n = 0;; n++) {
		rk_mem_count(1);
		rk_mem_fail_after(n);
		rv = rk_snapfile_begin(dir, 5, 1, conf_blob, sizeof conf_blob, NULL, &w, &err);
		if (rv == RK_OK)
			rv = rk_snapfile_write(w, "body", 4, &err);
		if (rv == RK_OK)
			rv = rk_snapfile_commit(w, &err);
		rk_mem_fail_after(-1);
		if (rv == RK_OK)
			break;
		CU_ASSERT_EQUAL_FATAL(rv, RK_ENOMEM);
		CU_ASSERT_EQUAL(rk_mem_live(), 0);
		CU_ASSERT_EQUAL(count_files(dir, "snap-"), 0);
	}
	CU_ASSERT_EQUAL(rk_mem_live(), 0);
	for (n = 0;; n++) {
		rk_mem_count(1);
		rk_mem_fail_after(n);
		rv = rk_snapfile_open_latest(dir, &r, &err);
		if (rv == RK_OK) {
			rv = rk_snapfile_verify(r, &err);
			if (rv != RK_OK)
				rk_snapfile_close(r);
		}
		rk_mem_fail_after(-1);
		if (rv == RK_OK)
			break;
		CU_ASSERT_EQUAL_FATAL(rv, RK_ENOMEM);
		CU_ASSERT_EQUAL(rk_mem_live(), 0);
	}
	rk_snapfile_close(r);
	CU_ASSERT_EQUAL(rk_mem_live(), 0);
	rk_mem_count(0);
	rk_test_rmtree(dir);
}

CU_TestInfo snapfile_tests[] = {
	{ "enomem", test_enomem },
	{ "round_trip", test_round_trip },
	{ "corruption", test_corruption },
	{ "chunked_receive", test_chunked_receive },
	{ "write_failures", test_write_failures },
	{ "cleanup", test_cleanup },
	CU_TEST_INFO_NULL,
};

/* test_meta.c -- hard state: round trip, torn slot, both slots bad, failed sync. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "common/mem.h"
#include "harness/runner.h"
#include "storage/meta.h"
#include "unit/test_storage.h"

#define SLOT_STRIDE 512 /* matches meta.c: slot k at k * 512 */

static void test_round_trip(void)
{
	char *dir = rk_test_tmpdir("meta");
	struct rk_hard_state hs, in;
	struct rk_meta *m;
	struct rk_err err = { 0 };

	CU_ASSERT_FATAL(rk_meta_open(dir, NULL, &m, &hs, &err) == RK_OK);
	CU_ASSERT_EQUAL(hs.term, 0);
	CU_ASSERT_EQUAL(hs.vote, 0);
	CU_ASSERT_EQUAL(hs.commit, 0);
	for (uint64_t i = 1; i <= 5; i++) {
		in = (struct rk_hard_state){ .term = i, .vote = i % 3, .commit = 10 * i };
		CU_ASSERT_EQUAL(rk_meta_save(m, &in, &err), RK_OK);
	}
	rk_meta_close(m);
	CU_ASSERT_FATAL(rk_meta_open(dir, NULL, &m, &hs, &err) == RK_OK);
	CU_ASSERT_EQUAL(hs.term, 5);
	CU_ASSERT_EQUAL(hs.vote, 2);
	CU_ASSERT_EQUAL(hs.commit, 50);
	/* saves go on after a reopen, alternating from where they were */
	in = (struct rk_hard_state){ .term = 6, .vote = 1, .commit = 60 };
	CU_ASSERT_EQUAL(rk_meta_save(m, &in, &err), RK_OK);
	rk_meta_close(m);
	CU_ASSERT_FATAL(rk_meta_open(dir, NULL, &m, &hs, &err) == RK_OK);
	CU_ASSERT_EQUAL(hs.term, 6);
	rk_meta_close(m);
	rk_test_rmtree(dir);
}

/* Tear the slot that holds @which state: 0 = the newest, 1 = the older one. */
static void torn_case(int which)
{
	char *dir = rk_test_tmpdir("meta");
	char *path = path_join(dir, "meta");
	struct rk_hard_state hs, in;
	struct rk_meta *m;
	struct rk_err err = { 0 };
	uint8_t *buf;
	size_t len;

	CU_ASSERT_FATAL(rk_meta_open(dir, NULL, &m, &hs, &err) == RK_OK);
	in = (struct rk_hard_state){ .term = 7, .vote = 2, .commit = 3 }; /* seq 2: slot 0 */
	CU_ASSERT_EQUAL(rk_meta_save(m, &in, &err), RK_OK);
	in = (struct rk_hard_state){ .term = 8, .vote = 3, .commit = 4 }; /* seq 3: slot 1 */
	CU_ASSERT_EQUAL(rk_meta_save(m, &in, &err), RK_OK);
	rk_meta_close(m);

	buf = slurp(path, &len);
	CU_ASSERT_FATAL(len >= 2 * SLOT_STRIDE);
	/* a torn write: the second half of the slot never made it */
	memset(buf + (which == 0 ? SLOT_STRIDE : 0) + 20, 0, 28);
	spit(path, buf, len);
	CU_ASSERT_FATAL(rk_meta_open(dir, NULL, &m, &hs, &err) == RK_OK);
	CU_ASSERT_EQUAL(hs.term, which == 0 ? 7 : 8);
	CU_ASSERT_EQUAL(hs.vote, which == 0 ? 2 : 3);
	/* the next save overwrites the bad slot, leaving the good one alone */
	in = (struct rk_hard_state){ .term = 9, .vote = 1, .commit = 5 };
	CU_ASSERT_EQUAL(rk_meta_save(m, &in, &err), RK_OK);
	rk_meta_close(m);
	CU_ASSERT_FATAL(rk_meta_open(dir, NULL, &m, &hs, &err) == RK_OK);
	CU_ASSERT_EQUAL(hs.term, 9);
	rk_meta_close(m);
	free(buf);
	free(path);
	rk_test_rmtree(dir);
}

static void test_torn_newest(void)
{
	torn_case(0);
}

static void test_torn_older(void)
{
	torn_case(1);
}

static void test_both_corrupt(void)
{
	char *dir = rk_test_tmpdir("meta");
	char *path = path_join(dir, "meta");
	struct rk_hard_state hs, in = { .term = 3 };
	struct rk_meta *m;
	struct rk_err err = { 0 };
	uint8_t *buf;
	size_t len;

	CU_ASSERT_FATAL(rk_meta_open(dir, NULL, &m, &hs, &err) == RK_OK);
	CU_ASSERT_EQUAL(rk_meta_save(m, &in, &err), RK_OK);
	rk_meta_close(m);
	buf = slurp(path, &len);
	buf[17] ^= 0x01;
	buf[SLOT_STRIDE + 17] ^= 0x80;
	spit(path, buf, len);
	CU_ASSERT_EQUAL(rk_meta_open(dir, NULL, &m, &hs, &err), RK_ECORRUPT);
	CU_ASSERT(strstr(err.msg, "meta") != NULL);
	CU_ASSERT(strstr(err.msg, "both slots") != NULL);
	free(buf);
	free(path);
	rk_test_rmtree(dir);
}

static void test_sync_failure_stops(void)
{
	char *dir = rk_test_tmpdir("meta");
	struct rk_hard_state hs, in = { .term = 4, .vote = 1 };
	struct fault_io f;
	struct rk_meta *m;
	struct rk_err err = { 0 };

	fault_io_init(&f);
	CU_ASSERT_FATAL(rk_meta_open(dir, &f.io, &m, &hs, &err) == RK_OK);
	CU_ASSERT_EQUAL(rk_meta_save(m, &in, &err), RK_OK);
	f.fdatasync_fail_at = atomic_load(&f.fdatasyncs) + 1;
	in.term = 5;
	CU_ASSERT_EQUAL(rk_meta_save(m, &in, &err), RK_EIO);
	in.term = 6;
	CU_ASSERT_EQUAL(rk_meta_save(m, &in, &err), RK_ESTOPPED);
	rk_meta_close(m);
	/* whatever the failed save did, one of the two durable states comes back */
	CU_ASSERT_FATAL(rk_meta_open(dir, NULL, &m, &hs, &err) == RK_OK);
	CU_ASSERT(hs.term == 4 || hs.term == 5);
	rk_meta_close(m);

	fault_io_init(&f);
	f.pwrite_fail_at = 1;
	f.pwrite_errno = ENOSPC;
	CU_ASSERT_FATAL(rk_meta_open(dir, &f.io, &m, &hs, &err) == RK_OK);
	CU_ASSERT_EQUAL(rk_meta_save(m, &in, &err), RK_ENOSPC);
	CU_ASSERT_EQUAL(rk_meta_save(m, &in, &err), RK_ESTOPPED);
	rk_meta_close(m);
	rk_test_rmtree(dir);
}

static void test_open_enomem(void)
{
	char *dir = rk_test_tmpdir("meta");
	struct rk_hard_state hs;
	struct rk_meta *m;
	struct rk_err err;
	int rv;

	for (long n = 0;; n++) {
		rk_mem_count(1);
		rk_mem_fail_after(n);
		rv = rk_meta_open(dir, NULL, &m, &hs, &err);
		rk_mem_fail_after(-1);
		if (rv == RK_OK)
			break;
		CU_ASSERT_EQUAL_FATAL(rv, RK_ENOMEM);
		CU_ASSERT_EQUAL(rk_mem_live(), 0);
	}
	rk_meta_close(m);
	CU_ASSERT_EQUAL(rk_mem_live(), 0);
	rk_mem_count(0);
	rk_test_rmtree(dir);
}

CU_TestInfo meta_tests[] = {
	{ "open_enomem", test_open_enomem },
	{ "round_trip", test_round_trip },
	{ "torn_newest_slot", test_torn_newest },
	{ "torn_older_slot", test_torn_older },
	{ "both_corrupt", test_both_corrupt },
	{ "sync_failure_stops", test_sync_failure_stops },
	CU_TEST_INFO_NULL,
};

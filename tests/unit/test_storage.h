/* test_storage.h -- shared pieces of the storage test program: the suites, and an io table
 * that counts calls and fails the Nth one (ENOSPC, EIO, or a short write). */
#ifndef RK_TEST_STORAGE_H
#define RK_TEST_STORAGE_H

#include <CUnit/CUnit.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "storage/io.h"

extern CU_TestInfo crc32c_tests[];
extern CU_TestInfo wal_tests[];
extern CU_TestInfo meta_tests[];
extern CU_TestInfo snapfile_tests[];

/* A failing-io table. Call counts are 1-based; *_fail_at 0 means never. After the failing call
 * every later call of that kind fails too when @sticky (a full disk stays full). */
struct fault_io {
	struct rk_storage_io io; /* hand &f->io to the object under test */
	atomic_long pwrites, fdatasyncs, fsyncs, ftruncates, fallocates;
	long pwrite_fail_at;
	int pwrite_errno;
	bool pwrite_short;     /* the failing pwrite first writes half of its bytes */
	long fdatasync_fail_at;
	int fdatasync_errno;
	long fsync_fail_at;
	long fallocate_fail_at;
	bool sticky;
};

void fault_io_init(struct fault_io *f);

/* Deterministic PRNG for test data (xorshift64*). */
uint64_t test_rand(uint64_t *state);
void test_fill(void *p, size_t n, uint64_t seed);

/* Run @fn with stderr redirected to a buffer; returns an owned NUL-terminated copy of what was
 * logged (free()). */
char *capture_stderr(void (*fn)(void *arg), void *arg);

/* Read / write a whole file (test scaffolding; aborts the test on failure). */
uint8_t *slurp(const char *path, size_t *len);
void spit(const char *path, const void *p, size_t len);
char *path_join(const char *dir, const char *name); /* owned */
size_t count_files(const char *dir, const char *substr);

#endif

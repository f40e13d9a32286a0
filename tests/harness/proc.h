/* proc.h -- helpers for tests that run real processes: temporary directories, free loopback
 * ports, reaping children with a bound. No CUnit here: the fault runner (a plain program) uses
 * them as well as the CUnit programs. */
#ifndef RK_TESTS_PROC_H
#define RK_TESTS_PROC_H

#include <stdint.h>
#include <sys/types.h>

/* A fresh empty directory under $TMPDIR (or /tmp) for one test; returns owned path. */
char *rk_test_tmpdir(const char *tag);

/* Remove a directory tree made by rk_test_tmpdir() and free @path. */
void rk_test_rmtree(char *path);

/* CLOCK_MONOTONIC in milliseconds. */
uint64_t rk_test_now_ms(void);

/* @n (at most 64) distinct ports free on 127.0.0.1 now. Returns 0 or -1. */
int rk_test_free_ports(int *out, int n);

/* Wait up to @timeout_ms for child @pid to end. Returns its exit status, 128 + the signal that
 * killed it, -1 if it is not our child, -2 if it is still running at the deadline. */
int rk_test_reap(pid_t pid, unsigned timeout_ms);

#endif

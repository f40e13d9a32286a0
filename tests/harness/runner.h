/* runner.h -- the main() of every CUnit test program.
 *
 *   tests/test_queue                 run every suite of the program
 *   tests/test_queue SUITE           run one suite
 *   tests/test_queue SUITE TEST      run one test of one suite
 *   tests/test_queue --list          list suites and tests
 * RK_TEST_SUITE / RK_TEST_NAME in the environment do the same as the arguments (handy under
 * `make check TESTS=...`). The exit status is 0 only when every assertion passed.
 */
#ifndef RK_TESTS_RUNNER_H
#define RK_TESTS_RUNNER_H

#include <CUnit/CUnit.h>

#include "proc.h"

int rk_test_main(int argc, char **argv, CU_SuiteInfo *suites);

#endif

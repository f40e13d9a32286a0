/* test_store_main.c -- the suites of the store (src/store). */
#include "harness/runner.h"
#include "unit/test_store.h"

static CU_SuiteInfo suites[] = {
	{"kv", NULL, NULL, NULL, NULL, test_kv_tests},
	{"skiplist", NULL, NULL, NULL, NULL, test_skiplist_tests},
	{"cmd", NULL, NULL, NULL, NULL, test_cmd_tests},
	{"session", NULL, NULL, NULL, NULL, test_session_tests},
	{"snapshot", NULL, NULL, NULL, NULL, test_snapshot_tests},
	{"stress", NULL, NULL, NULL, NULL, test_stress_tests},
	CU_SUITE_INFO_NULL,
};

int main(int argc, char **argv)
{
	return rk_test_main(argc, argv, suites);
}

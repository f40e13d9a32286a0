/* runner.c -- shared main() for the CUnit programs; see runner.h. */
#define _GNU_SOURCE
#include "runner.h"

#include <CUnit/Basic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void list_tests(void)
{
	CU_pSuite s;
	CU_pTest t;

	for (s = CU_get_registry()->pSuite; s != NULL; s = s->pNext) {
		printf("%s\n", s->pName);
		for (t = s->pTest; t != NULL; t = t->pNext)
			printf("  %s\n", t->pName);
	}
}

int rk_test_main(int argc, char **argv, CU_SuiteInfo *suites)
{
	const char *suite_name = getenv("RK_TEST_SUITE");
	const char *test_name = getenv("RK_TEST_NAME");
	CU_pSuite suite;
	CU_pTest test;
	int failed;

	if (CU_initialize_registry() != CUE_SUCCESS) {
		fprintf(stderr, "%s: CU_initialize_registry: %s\n", argv[0], CU_get_error_msg());
		return 2;
	}
	if (CU_register_suites(suites) != CUE_SUCCESS) {
		fprintf(stderr, "%s: CU_register_suites: %s\n", argv[0], CU_get_error_msg());
		CU_cleanup_registry();
		return 2;
	}
	if (argc > 1 && strcmp(argv[1], "--list") == 0) {
		list_tests();
		CU_cleanup_registry();
		return 0;
	}
	if (argc > 1)
		suite_name = argv[1];
	if (argc > 2)
		test_name = argv[2];
	if (suite_name != NULL && *suite_name == '\0')
		suite_name = NULL;
	if (test_name != NULL && *test_name == '\0')
		test_name = NULL;

	CU_basic_set_mode(CU_BRM_VERBOSE);
	if (suite_name == NULL) {
		CU_basic_run_tests();
	} else {
		suite = CU_get_suite(suite_name);
		if (suite == NULL) {
			fprintf(stderr, "%s: no suite named '%s' (try --list)\n", argv[0], suite_name);
			CU_cleanup_registry();
			return 2;
		}
		if (test_name == NULL) {
			CU_basic_run_suite(suite);
		} else {
			test = CU_get_test(suite, test_name);
			if (test == NULL) {
				fprintf(stderr, "%s: no test '%s' in suite '%s'\n", argv[0], test_name,
					suite_name);
				CU_cleanup_registry();
				return 2;
			}
			CU_basic_run_test(suite, test);
		}
	}
	/* A suite whose init failed counts as failed, not as "nothing ran". */
	failed = CU_get_number_of_failures() != 0 || CU_get_number_of_suites_failed() != 0 ||
		 CU_get_number_of_tests_run() == 0;
	printf("\n");
	CU_cleanup_registry();
	return failed ? 1 : 0;
}

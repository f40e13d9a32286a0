/* test_raft.c -- main() of tests/test_raft: unit suites of the Raft core and the scenario
 * suites run on the simulated cluster. */
#include "harness/runner.h"

extern CU_TestInfo raft_rlog_tests[];
extern CU_TestInfo raft_conf_tests[];
extern CU_TestInfo raft_progress_tests[];
extern CU_TestInfo raft_alloc_tests[];
extern CU_TestInfo raft_core_tests[];
extern CU_TestInfo raft_election_tests[];
extern CU_TestInfo raft_replication_tests[];
extern CU_TestInfo raft_persistence_tests[];
extern CU_TestInfo raft_snapshot_tests[];
extern CU_TestInfo raft_read_tests[];
extern CU_TestInfo raft_transfer_tests[];
extern CU_TestInfo raft_membership_tests[];
extern CU_TestInfo raft_trace_tests[];
extern CU_TestInfo raft_perf_tests[];
void raft_scen_setup(void);
void raft_scen_teardown(void);

static CU_SuiteInfo suites[] = {
	{"rlog", NULL, NULL, NULL, NULL, raft_rlog_tests},
	{"conf", NULL, NULL, NULL, NULL, raft_conf_tests},
	{"progress", NULL, NULL, NULL, NULL, raft_progress_tests},
	{"alloc", NULL, NULL, NULL, NULL, raft_alloc_tests},
	{"core", NULL, NULL, NULL, NULL, raft_core_tests},
	{"election", NULL, NULL, raft_scen_setup, raft_scen_teardown, raft_election_tests},
	{"replication", NULL, NULL, raft_scen_setup, raft_scen_teardown, raft_replication_tests},
	{"persistence", NULL, NULL, raft_scen_setup, raft_scen_teardown, raft_persistence_tests},
	{"snapshot", NULL, NULL, raft_scen_setup, raft_scen_teardown, raft_snapshot_tests},
	{"readindex", NULL, NULL, raft_scen_setup, raft_scen_teardown, raft_read_tests},
	{"transfer", NULL, NULL, raft_scen_setup, raft_scen_teardown, raft_transfer_tests},
	{"membership", NULL, NULL, raft_scen_setup, raft_scen_teardown, raft_membership_tests},
	{"trace", NULL, NULL, raft_scen_setup, raft_scen_teardown, raft_trace_tests},
	{"perf", NULL, NULL, raft_scen_setup, raft_scen_teardown, raft_perf_tests},
	CU_SUITE_INFO_NULL,
};

int main(int argc, char **argv)
{
	return rk_test_main(argc, argv, suites);
}

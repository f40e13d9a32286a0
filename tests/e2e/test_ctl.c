/* test_ctl.c -- raftkvctl through its real binary: `local start` brings up a cluster, every
 * command and exit status, JSON that parses, `shell` from a pipe, `local status/stop`. */
#define _GNU_SOURCE
#include "config.h"

#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <unistd.h>

#include "harness/runner.h"

static char *dir;       /* the local cluster's directory */
static char ctl[1024];  /* the raftkvctl binary */
static char eps[256];
static int base_port;
static char out[65536], err[4096];

/* Three consecutive client ports and their peer ports (base + 1000) that are free now. */
static int free_base(void)
{
	for (int tries = 0; tries < 50; tries++) {
		int base = 20000 + (int)(((unsigned)getpid() * 7919u + (unsigned)tries * 104729u) % 30000u);
		bool ok = true;

		for (int i = 0; i < 3 && ok; i++) {
			for (int k = 0; k < 2 && ok; k++) {
				struct sockaddr_in sa = { .sin_family = AF_INET };
				int fd = socket(AF_INET, SOCK_STREAM, 0);

				sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
				sa.sin_port = htons((uint16_t)(base + i + k * 1000));
				ok = fd >= 0 && bind(fd, (struct sockaddr *)&sa, sizeof sa) == 0;
				if (fd >= 0)
					close(fd);
			}
		}
		if (ok)
			return base;
	}
	return -1;
}

/* Run `raftkvctl ARGS` (a shell fragment), feeding @input; capture stdout and stderr; return
 * the exit status. */
static int run(const char *input, const char *args)
{
	char cmd[4096], of[512], ef[512];
	FILE *f;
	int st;
	size_t n;

	snprintf(of, sizeof of, "%s/out", dir);
	snprintf(ef, sizeof ef, "%s/err", dir);
	snprintf(cmd, sizeof cmd, "%s%s%s'%s' --endpoints %s %s >'%s' 2>'%s'",
		 input ? "printf '%b' '" : "", input ? input : "", input ? "' | " : "", ctl, eps,
		 args, of, ef);
	st = system(cmd);
	f = fopen(of, "r");
	n = f ? fread(out, 1, sizeof out - 1, f) : 0;
	out[n] = '\0';
	if (f)
		fclose(f);
	f = fopen(ef, "r");
	n = f ? fread(err, 1, sizeof err - 1, f) : 0;
	err[n] = '\0';
	if (f)
		fclose(f);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static bool json_parses(const char *text)
{
	char path[512], cmd[1024];
	FILE *f;

	snprintf(path, sizeof path, "%s/json", dir);
	f = fopen(path, "w");
	if (f == NULL)
		return false;
	fputs(text, f);
	fclose(f);
	snprintf(cmd, sizeof cmd, "python3 -c 'import json,sys; json.load(open(sys.argv[1]))' '%s'",
		 path);
	return system(cmd) == 0;
}

static int suite_init(void)
{
	const char *d = getenv("RAFTKVCTL");
	char cmd[2048];

	snprintf(ctl, sizeof ctl, "%s", d && *d ? d : "./src/raftkvctl");
	dir = rk_test_tmpdir("ctl");
	base_port = free_base();
	if (dir == NULL || base_port < 0)
		return -1;
	snprintf(eps, sizeof eps, "127.0.0.1:%d,127.0.0.1:%d,127.0.0.1:%d", base_port,
		 base_port + 1, base_port + 2);
	snprintf(cmd, sizeof cmd, "'%s' local start -n 3 --dir '%s/cluster' --base-port %d >'%s/start' 2>&1",
		 ctl, dir, base_port, dir);
	return system(cmd) == 0 ? 0 : -1;
}

static int suite_clean(void)
{
	char cmd[2048];
	int rv;

	snprintf(cmd, sizeof cmd, "'%s' local stop --dir '%s/cluster' >/dev/null 2>&1", ctl, dir);
	rv = system(cmd);
	rk_test_rmtree(dir);
	return rv == 0 ? 0 : -1;
}

static void test_data_commands_and_exit_statuses(void)
{
	CU_ASSERT_EQUAL(run(NULL, "put k1 v1"), 0);
	CU_ASSERT_STRING_EQUAL(out, "OK\n");
	CU_ASSERT_EQUAL(run(NULL, "get k1"), 0);
	CU_ASSERT_STRING_EQUAL(out, "v1\n");
	CU_ASSERT_EQUAL(run(NULL, "get k1 --serializable"), 0);
	CU_ASSERT_EQUAL(run(NULL, "put k1 other --if-absent"), 1); /* EXISTS */
	CU_ASSERT(strstr(err, "key exists") != NULL);
	CU_ASSERT(strchr(err, '\n') == err + strlen(err) - 1); /* one line */
	CU_ASSERT_EQUAL(run(NULL, "update missing v"), 1);      /* NOT_FOUND */
	CU_ASSERT_EQUAL(run(NULL, "get missing"), 1);
	CU_ASSERT_STRING_EQUAL(out, "");
	CU_ASSERT_EQUAL(run(NULL, "update k1 v2"), 0);
	CU_ASSERT_EQUAL(run(NULL, "cas k1 wrong v3"), 1);       /* CAS_FAILED */
	CU_ASSERT_EQUAL(run(NULL, "cas k1 v2 v3"), 0);
	CU_ASSERT_EQUAL(run(NULL, "get k1"), 0);
	CU_ASSERT_STRING_EQUAL(out, "v3\n");
	CU_ASSERT_EQUAL(run(NULL, "append log a"), 0);
	CU_ASSERT_EQUAL(run(NULL, "append log b"), 0);
	CU_ASSERT_EQUAL(run(NULL, "get log"), 0);
	CU_ASSERT_STRING_EQUAL(out, "ab\n");
	CU_ASSERT_EQUAL(run(NULL, "put p/1 x"), 0);
	CU_ASSERT_EQUAL(run(NULL, "put p/2 y"), 0);
	CU_ASSERT_EQUAL(run(NULL, "keys p/"), 0);
	CU_ASSERT_STRING_EQUAL(out, "p/1\np/2\n");
	CU_ASSERT_EQUAL(run(NULL, "keys p/ --limit 1"), 0);
	CU_ASSERT_STRING_EQUAL(out, "p/1\n");
	CU_ASSERT(strstr(err, "more") != NULL);
	CU_ASSERT_EQUAL(run(NULL, "range p/ p/2"), 0);
	CU_ASSERT_STRING_EQUAL(out, "p/1\tx\n");
	CU_ASSERT_EQUAL(run(NULL, "del p/1"), 0);
	CU_ASSERT_EQUAL(run(NULL, "del p/1"), 1);
	CU_ASSERT_EQUAL(run(NULL, "status"), 0);
	CU_ASSERT(strstr(out, "leader") != NULL && strstr(out, "follower") != NULL);
	CU_ASSERT_EQUAL(run(NULL, "member list"), 0);
	CU_ASSERT(strstr(out, "voter") != NULL);
	/* Hand leadership to node 2, to node 3, and to node 3 again (already the leader: done at
	 * once): each time the command waits until the target leads. */
	CU_ASSERT_EQUAL(run(NULL, "--timeout 10000 leader transfer 2"), 0);
	CU_ASSERT_EQUAL(run(NULL, "--timeout 10000 leader transfer 3"), 0);
	CU_ASSERT_EQUAL(run(NULL, "--timeout 10000 leader transfer 3"), 0);
	CU_ASSERT_EQUAL(run(NULL, "-w json status"), 0);
	CU_ASSERT(strstr(out, "\"id\":3,\"role\":\"leader\"") != NULL);
	CU_ASSERT_EQUAL(run(NULL, "leader transfer 42"), 2); /* not a member: BAD_REQUEST */
	CU_ASSERT_EQUAL(run(NULL, "leader transfer x"), 2);
	CU_ASSERT_EQUAL(run(NULL, "put after-transfer ok"), 0);
}

/* member remove/add/promote through the binary: the configuration changes as asked, repeats
 * of a change in force succeed, impossible ones give their exit status. */
static void test_member_commands(void)
{
	CU_ASSERT_EQUAL(run(NULL, "--timeout 10000 member remove 1"), 0);
	CU_ASSERT_STRING_EQUAL(out, "OK\n");
	CU_ASSERT_EQUAL(run(NULL, "--timeout 10000 member remove 1"), 1); /* NOT_FOUND */
	CU_ASSERT(strstr(err, "not a member") != NULL);
	CU_ASSERT_EQUAL(run(NULL, "member list"), 0);
	CU_ASSERT(strstr(out, "\n1 ") == NULL && strstr(out, "\n2 ") != NULL);
	CU_ASSERT_EQUAL(run(NULL, "--timeout 10000 put during-removal yes"), 0);
	CU_ASSERT_EQUAL(run(NULL, "--timeout 10000 member add 1"), 0);
	CU_ASSERT_EQUAL(run(NULL, "-w json member list"), 0);
	CU_ASSERT(strstr(out, "{\"id\":1,") != NULL && strstr(out, "\"learner\":true") != NULL);
	CU_ASSERT_EQUAL(run(NULL, "--timeout 10000 member promote 1"), 0);
	CU_ASSERT_EQUAL(run(NULL, "--timeout 10000 member promote 1"), 0); /* already: done */
	CU_ASSERT_EQUAL(run(NULL, "--timeout 10000 member add 1"), 1);     /* EXISTS: a voter */
	CU_ASSERT_EQUAL(run(NULL, "member add 4"), 2); /* not in the nodes' member lines */
	CU_ASSERT(strstr(err, "member.ID") != NULL);
	CU_ASSERT_EQUAL(run(NULL, "member promote 9"), 1);
	CU_ASSERT_EQUAL(run(NULL, "-w json member list"), 0);
	CU_ASSERT(json_parses(out));
	CU_ASSERT(strstr(out, "\"learner\":true") == NULL);
	CU_ASSERT(strstr(out, "{\"id\":1,") != NULL);
	CU_ASSERT_EQUAL(run("member remove 9\\nmember list\\n", "shell"), 0);
	CU_ASSERT(strncmp(out, "ERR NOT_FOUND", 13) == 0);
	CU_ASSERT(strstr(out, "1=127.0.0.1:") != NULL);
	CU_ASSERT_EQUAL(run(NULL, "--timeout 10000 get during-removal"), 0);
	CU_ASSERT_STRING_EQUAL(out, "yes\n");
}

static void test_usage_errors(void)
{
	CU_ASSERT_EQUAL(run(NULL, "frobnicate"), 2);
	CU_ASSERT(strstr(err, "unknown command") != NULL);
	CU_ASSERT_EQUAL(run(NULL, "put onlykey"), 2);
	CU_ASSERT_EQUAL(run(NULL, "keys --limit zero"), 2);
	CU_ASSERT_EQUAL(run(NULL, "get k1 --bogus"), 2);
	CU_ASSERT_EQUAL(run(NULL, "-w yaml get k1"), 2);
	CU_ASSERT_EQUAL(run(NULL, "member add x"), 2);
	CU_ASSERT_EQUAL(run(NULL, "member add"), 2);
	CU_ASSERT_EQUAL(run(NULL, "member frob 2"), 2);
	CU_ASSERT_EQUAL(run(NULL, "member list extra"), 2);
	CU_ASSERT_EQUAL(run(NULL, "--help"), 0);
	CU_ASSERT(strstr(out, "Exit status") != NULL);
}

static void test_json_output_parses(void)
{
	CU_ASSERT_EQUAL(run(NULL, "-w json put j \"a\\\"b\""), 0);
	CU_ASSERT(json_parses(out));
	CU_ASSERT_EQUAL(run(NULL, "-w json get j"), 0);
	CU_ASSERT(json_parses(out));
	CU_ASSERT(strstr(out, "\"value\":\"a\\\"b\"") != NULL);
	CU_ASSERT_EQUAL(run(NULL, "-w json keys"), 0);
	CU_ASSERT(json_parses(out));
	CU_ASSERT_EQUAL(run(NULL, "-w json range a z"), 0);
	CU_ASSERT(json_parses(out));
	CU_ASSERT_EQUAL(run(NULL, "-w json status"), 0);
	CU_ASSERT(json_parses(out));
	CU_ASSERT_EQUAL(run(NULL, "-w json member list"), 0);
	CU_ASSERT(json_parses(out));
	CU_ASSERT_EQUAL(run(NULL, "-w json get nothing-here"), 1);
	CU_ASSERT(json_parses(out));
	CU_ASSERT(strstr(out, "NOT_FOUND") != NULL);
}

static void test_shell_from_a_pipe(void)
{
	/* Exactly one line per command, in order, errors included. */
	CU_ASSERT_EQUAL(run("put s1 \"two words\"\\nget s1\\nget none\\nbogus\\nappend s1 \\\\n!\\n"
			    "get s1\\nkeys s\\n",
			    "shell"),
			0);
	CU_ASSERT_STRING_EQUAL(out, "OK\n"
				    "two words\n"
				    "ERR NOT_FOUND key not found\n"
				    "ERR USAGE unknown command 'bogus'\n"
				    "OK\n"
				    "two words\\n!\n"
				    "s1\n");
}

static void test_unreachable_is_exit_3(void)
{
	char saved[256];

	memcpy(saved, eps, sizeof eps);
	snprintf(eps, sizeof eps, "127.0.0.1:1");
	CU_ASSERT_EQUAL(run(NULL, "--timeout 300 get k1"), 3);
	CU_ASSERT(err[0] != '\0');
	CU_ASSERT_EQUAL(run(NULL, "--timeout 300 put k1 v"), 3);
	snprintf(eps, sizeof eps, "not-an-address");
	CU_ASSERT_EQUAL(run(NULL, "get k1"), 2);
	memcpy(eps, saved, sizeof eps);
}

static void test_local_status(void)
{
	char cmd[2048];
	int st;

	snprintf(cmd, sizeof cmd, "'%s' local status --dir '%s/cluster' >'%s/out' 2>&1", ctl, dir,
		 dir);
	st = system(cmd);
	CU_ASSERT(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	/* A second start in the same directory refuses while the first runs. */
	snprintf(cmd, sizeof cmd, "'%s' local start --dir '%s/cluster' --base-port %d >/dev/null 2>&1",
		 ctl, dir, base_port);
	st = system(cmd);
	CU_ASSERT(WIFEXITED(st) && WEXITSTATUS(st) == 2);
}

/* Backup, write more, stop, restore every node from the backup into empty data directories,
 * start: the backup's data is there, the later write is not, and the cluster works. */
static void test_snapshot_save_and_restore(void)
{
	char cmd[4096], backup[512];
	int st;

	snprintf(backup, sizeof backup, "%s/backup.snap", dir);
	CU_ASSERT_EQUAL(run(NULL, "put in-backup yes"), 0);
	snprintf(cmd, sizeof cmd, "snapshot save '%s'", backup);
	CU_ASSERT_EQUAL_FATAL(run(NULL, cmd), 0);
	CU_ASSERT(strstr(out, "OK snapshot at index") != NULL);
	CU_ASSERT_EQUAL(run(NULL, "put after-backup yes"), 0);
	snprintf(cmd, sizeof cmd, "'%s' local stop --dir '%s/cluster' >/dev/null 2>&1", ctl, dir);
	CU_ASSERT_EQUAL_FATAL(system(cmd), 0);
	for (int i = 1; i <= 3; i++) {
		/* Refused while the old data is in place; done once it is moved aside. */
		snprintf(cmd, sizeof cmd, "'%s' -c '%s/cluster/node%d.conf' --restore '%s' 2>/dev/null",
			 getenv("RAFTKVD"), dir, i, backup);
		st = system(cmd);
		CU_ASSERT(WIFEXITED(st) && WEXITSTATUS(st) == 2);
		snprintf(cmd, sizeof cmd, "mv '%s/cluster/node%d' '%s/cluster/old%d' && "
					  "'%s' -c '%s/cluster/node%d.conf' --restore '%s' 2>/dev/null",
			 dir, i, dir, i, getenv("RAFTKVD"), dir, i, backup);
		CU_ASSERT_EQUAL(system(cmd), 0);
	}
	snprintf(cmd, sizeof cmd, "'%s' local start --dir '%s/cluster' --base-port %d >/dev/null 2>&1",
		 ctl, dir, base_port);
	CU_ASSERT_EQUAL_FATAL(system(cmd), 0);
	CU_ASSERT_EQUAL(run(NULL, "get in-backup"), 0);
	CU_ASSERT_STRING_EQUAL(out, "yes\n");
	CU_ASSERT_EQUAL(run(NULL, "get k1"), 0);
	CU_ASSERT_EQUAL(run(NULL, "get after-backup"), 1);
	CU_ASSERT_EQUAL(run(NULL, "put after-restore yes"), 0);
	/* A file that is not a backup is refused. */
	snprintf(cmd, sizeof cmd, "'%s' -c '%s/cluster/node1.conf' --restore /etc/hostname "
				  ">/dev/null 2>&1", getenv("RAFTKVD"), dir);
	st = system(cmd);
	CU_ASSERT(WIFEXITED(st) && WEXITSTATUS(st) != 0);
}

static CU_TestInfo ctl_tests[] = {
	{ "data_commands_and_exit_statuses", test_data_commands_and_exit_statuses },
	{ "member_commands", test_member_commands },
	{ "usage_errors", test_usage_errors },
	{ "json_output_parses", test_json_output_parses },
	{ "shell_from_a_pipe", test_shell_from_a_pipe },
	{ "unreachable_is_exit_3", test_unreachable_is_exit_3 },
	{ "local_status", test_local_status },
	{ "snapshot_save_and_restore", test_snapshot_save_and_restore },
	CU_TEST_INFO_NULL,
};

static CU_SuiteInfo suites[] = {
	{ "raftkvctl", suite_init, suite_clean, NULL, NULL, ctl_tests },
	CU_SUITE_INFO_NULL,
};

int main(int argc, char **argv)
{
	signal(SIGPIPE, SIG_IGN);
	return rk_test_main(argc, argv, suites);
}

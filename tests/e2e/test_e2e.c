/* test_e2e.c -- three real raftkvd processes on 127.0.0.1: election and redirects, kill -9 of
 * the leader, a paused follower, a paused leader that must not serve a stale read, malformed
 * input on both listeners, and a restart of the whole cluster (graceful and kill -9).
 *
 * Each test starts a fresh cluster on ports found free and stops every process by PID. On a
 * failure the data directories and logs are kept and the log tails printed. */
#define _GNU_SOURCE
#include "config.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cluster.h"
#include "harness/runner.h"
#include "net/frame.h"

#define LEADER_WAIT_MS 10000

static struct cluster C;
static int paused = -1; /* a node under SIGSTOP: it cannot answer, so leader lookups skip it */

static void setup(void)
{
	paused = -1;
	memset(&C, 0, sizeof C);
	CU_ASSERT_EQUAL_FATAL(cl_test_begin(&C, 3), 0);
}

static void teardown(void)
{
	cl_test_end(&C);
}

static int port_of(int i)
{
	return C.nodes[i].client_port;
}

/* Poll a serializable read on node @i until it returns @want (or 5 s pass). */
static bool eventually_reads(int i, const char *key, const char *want)
{
	for (int t = 0; t < 250; t++) {
		char *v = NULL;
		int st = tc_get(port_of(i), key, true, &v);
		bool ok = st == RAFTKV__STATUS__STATUS_OK && v != NULL && strcmp(v, want) == 0;

		free(v);
		if (ok)
			return true;
		usleep(20000);
	}
	return false;
}

static bool process_alive(int i)
{
	return C.nodes[i].pid != 0 && waitpid(C.nodes[i].pid, NULL, WNOHANG) == 0;
}

/* Whether @st says "try again, maybe elsewhere": the outcome of a write is then unknown,
 * and a retry with the same session and sequence number applies it at most once. */
static bool retryable(int st)
{
	return st < 0 || st == RAFTKV__STATUS__STATUS_NOT_LEADER ||
	       st == RAFTKV__STATUS__STATUS_TIMEOUT || st == RAFTKV__STATUS__STATUS_UNAVAILABLE ||
	       st == RAFTKV__STATUS__STATUS_BUSY;
}

/* A write as a client does it: to the leader, following leadership changes. */
static int write_retry(Raftkv__Op op, const char *k, const char *v, const char *expected,
		       uint64_t client, uint64_t seq)
{
	int st = -1;

	for (int attempt = 0; attempt < 50; attempt++) {
		int leader = cl_wait_leader(&C, LEADER_WAIT_MS, paused);

		if (leader < 0)
			break;
		st = tc_op(port_of(leader), op, k, v, expected, client, seq);
		if (!retryable(st))
			return st;
		usleep(50000);
	}
	return st;
}

/* Put @n keys "<prefix><i>"; every one must be acknowledged. */
static void put_many(const char *prefix, int n, uint64_t client, uint64_t *seq)
{
	char k[64], v[64];

	for (int i = 0; i < n; i++) {
		snprintf(k, sizeof k, "%s%d", prefix, i);
		snprintf(v, sizeof v, "value-%s%d", prefix, i);
		CU_ASSERT_EQUAL_FATAL(write_retry(RAFTKV__OP__OP_PUT, k, v, NULL, client, ++*seq),
				      RAFTKV__STATUS__STATUS_OK);
	}
}

/* Linearizable read of @key from the leader, following leadership changes. */
static int read_retry(const char *key, char **out)
{
	int st = -1;

	for (int attempt = 0; attempt < 50; attempt++) {
		int leader = cl_wait_leader(&C, LEADER_WAIT_MS, paused);

		if (leader < 0)
			break;
		st = tc_get(port_of(leader), key, false, out);
		if (!retryable(st))
			return st;
		free(*out);
		*out = NULL;
		usleep(50000);
	}
	return st;
}

static void check_many(const char *prefix, int n)
{
	char k[64], v[64], *got;

	for (int i = 0; i < n; i++) {
		snprintf(k, sizeof k, "%s%d", prefix, i);
		snprintf(v, sizeof v, "value-%s%d", prefix, i);
		got = NULL;
		CU_ASSERT_EQUAL(read_retry(k, &got), RAFTKV__STATUS__STATUS_OK);
		CU_ASSERT(got != NULL && strcmp(got, v) == 0);
		free(got);
	}
}

static void test_leader_writes_and_redirects(void)
{
	Raftkv__Request req = RAFTKV__REQUEST__INIT;
	Raftkv__Response *resp;
	char hint[64];
	uint64_t seq = 0;
	int leader = cl_wait_leader(&C, LEADER_WAIT_MS, -1);

	CU_ASSERT_FATAL(leader >= 0);
	put_many("k", 20, 11, &seq);
	check_many("k", 20);
	snprintf(hint, sizeof hint, "127.0.0.1:%d", port_of(leader));
	for (int i = 0; i < 3; i++) {
		if (i == leader)
			continue;
		/* A write sent to a follower: NOT_LEADER with the leader's client address. */
		req.id = 5;
		req.op = RAFTKV__OP__OP_PUT;
		req.key.data = (uint8_t *)"x";
		req.key.len = 1;
		resp = tc_call(port_of(i), &req, 5000);
		CU_ASSERT_PTR_NOT_NULL_FATAL(resp);
		CU_ASSERT_EQUAL(resp->id, 5);
		CU_ASSERT_EQUAL(resp->status, RAFTKV__STATUS__STATUS_NOT_LEADER);
		CU_ASSERT_STRING_EQUAL(resp->leader_hint, hint);
		raftkv__response__free_unpacked(resp, NULL);
		/* A linearizable read on a follower (forwarded ReadIndex, served locally once
		 * applied) sees every acknowledged write at once; serializable ones catch up. */
		{
			char *v = NULL;

			CU_ASSERT_EQUAL(tc_get(port_of(i), "k19", false, &v), RAFTKV__STATUS__STATUS_OK);
			CU_ASSERT(v != NULL && strcmp(v, "value-k19") == 0);
			free(v);
		}
		CU_ASSERT(eventually_reads(i, "k0", "value-k0"));
	}
	/* Errors that are answers: a definite "no" from the state machine. */
	CU_ASSERT_EQUAL(write_retry(RAFTKV__OP__OP_PUT_IF_ABSENT, "k1", "v", NULL, 11,
			      ++seq),
			RAFTKV__STATUS__STATUS_EXISTS);
	CU_ASSERT_EQUAL(write_retry(RAFTKV__OP__OP_UPDATE, "nope", "v", NULL, 11, ++seq),
			RAFTKV__STATUS__STATUS_NOT_FOUND);
	CU_ASSERT_EQUAL(write_retry(RAFTKV__OP__OP_CAS, "k1", "new", "wrong", 11, ++seq),
			RAFTKV__STATUS__STATUS_CAS_FAILED);
	CU_ASSERT_EQUAL(write_retry(RAFTKV__OP__OP_CAS, "k1", "new", "value-k1", 11,
			      ++seq),
			RAFTKV__STATUS__STATUS_OK);
	CU_ASSERT_EQUAL(tc_get(port_of(cl_wait_leader(&C, LEADER_WAIT_MS, -1)), "missing", false, NULL),
			RAFTKV__STATUS__STATUS_NOT_FOUND);
	/* A retry of an applied write (same session and seq) is answered, not applied again. */
	CU_ASSERT_EQUAL(write_retry(RAFTKV__OP__OP_APPEND, "log", "a", NULL, 12, 1),
			RAFTKV__STATUS__STATUS_OK);
	CU_ASSERT_EQUAL(write_retry(RAFTKV__OP__OP_APPEND, "log", "a", NULL, 12, 1),
			RAFTKV__STATUS__STATUS_OK);
	CU_ASSERT_EQUAL(write_retry(RAFTKV__OP__OP_APPEND, "log", "b", NULL, 12, 2),
			RAFTKV__STATUS__STATUS_OK);
	{
		char *v = NULL;

		CU_ASSERT_EQUAL(read_retry("log", &v), RAFTKV__STATUS__STATUS_OK);
		CU_ASSERT(v != NULL && strcmp(v, "ab") == 0);
		free(v);
	}
}

static void test_kill_leader(void)
{
	uint64_t seq = 0;
	int old = cl_wait_leader(&C, LEADER_WAIT_MS, -1), leader;

	CU_ASSERT_FATAL(old >= 0);
	put_many("a", 50, 21, &seq);
	cl_signal(&C, old, SIGKILL);
	/* A new leader within a few election timeouts (150-300 ms each). */
	leader = cl_wait_leader(&C, LEADER_WAIT_MS, old);
	CU_ASSERT_FATAL(leader >= 0);
	CU_ASSERT_NOT_EQUAL(leader, old);
	check_many("a", 50);
	put_many("b", 10, 21, &seq);
	/* The old node comes back from its own log and catches up. */
	CU_ASSERT_EQUAL_FATAL(cl_start_node(&C, old), 0);
	CU_ASSERT(eventually_reads(old, "b9", "value-b9"));
	CU_ASSERT(eventually_reads(old, "a0", "value-a0"));
}

static void test_paused_follower(void)
{
	uint64_t seq = 0;
	int leader = cl_wait_leader(&C, LEADER_WAIT_MS, -1), f;

	CU_ASSERT_FATAL(leader >= 0);
	f = (leader + 1) % 3;
	cl_signal(&C, f, SIGSTOP);
	paused = f;
	/* Two of three: the cluster keeps serving. */
	put_many("p", 30, 31, &seq);
	check_many("p", 30);
	cl_signal(&C, f, SIGCONT);
	paused = -1;
	CU_ASSERT(eventually_reads(f, "p29", "value-p29"));
}

static void test_paused_leader_serves_no_stale_read(void)
{
	uint64_t seq = 0;
	int old = cl_wait_leader(&C, LEADER_WAIT_MS, -1), leader;
	char role[32];

	CU_ASSERT_FATAL(old >= 0);
	CU_ASSERT_EQUAL_FATAL(write_retry(RAFTKV__OP__OP_PUT, "k", "v1", NULL, 41, ++seq),
			      RAFTKV__STATUS__STATUS_OK);
	old = cl_wait_leader(&C, LEADER_WAIT_MS, -1);
	CU_ASSERT_FATAL(old >= 0);
	cl_signal(&C, old, SIGSTOP);
	paused = old;
	leader = cl_wait_leader(&C, LEADER_WAIT_MS, old);
	CU_ASSERT_FATAL(leader >= 0 && leader != old);
	CU_ASSERT_EQUAL_FATAL(write_retry(RAFTKV__OP__OP_PUT, "k", "v2", NULL, 41, ++seq),
			      RAFTKV__STATUS__STATUS_OK);
	cl_signal(&C, old, SIGCONT);
	paused = -1;
	/* The old leader wakes up believing it leads; a linearizable read there must never
	 * return the value it last knew. */
	for (int i = 0; i < 20; i++) {
		char *v = NULL;
		int st = tc_get(port_of(old), "k", false, &v);

		if (st == RAFTKV__STATUS__STATUS_OK)
			CU_ASSERT(v != NULL && strcmp(v, "v2") == 0);
		free(v);
		usleep(10000);
	}
	/* And it steps down. */
	for (int i = 0; i < 100; i++) {
		if (tc_status(port_of(old), NULL, NULL, NULL, role, sizeof role) == 0 &&
		    strcmp(role, "leader") != 0)
			break;
		usleep(20000);
	}
	CU_ASSERT_STRING_NOT_EQUAL(role, "leader");
	CU_ASSERT(eventually_reads(old, "k", "v2"));
}

static void test_malformed_input_on_both_listeners(void)
{
	static const char http[] = "GET / HTTP/1.1\r\nHost: raftkv\r\n\r\n";
	uint8_t huge[RK_FRAME_HEADER_SIZE], bad_msg[RK_FRAME_HEADER_SIZE + 1], noise[4096];
	uint8_t no_hello[RK_FRAME_HEADER_SIZE + 2];
	uint64_t seq = 0;
	int leader = cl_wait_leader(&C, LEADER_WAIT_MS, -1);

	CU_ASSERT_FATAL(leader >= 0);
	rk_frame_header_write(huge, RK_FRAME_CLIENT_REQUEST, 0xFFFFFFF0u);
	rk_frame_header_write(bad_msg, RK_FRAME_CLIENT_REQUEST, 1);
	bad_msg[RK_FRAME_HEADER_SIZE] = 0x0F; /* field 1, wire type 7: not protobuf */
	rk_frame_header_write(no_hello, RK_FRAME_PEER_MSG, 2);
	no_hello[RK_FRAME_HEADER_SIZE] = 0x08; /* type = VOTE, without a Hello first */
	no_hello[RK_FRAME_HEADER_SIZE + 1] = 0x01;
	srand(1234);
	for (size_t i = 0; i < sizeof noise; i++)
		noise[i] = (uint8_t)rand();
	for (int i = 0; i < 3; i++) {
		int ports[2] = { C.nodes[i].client_port, C.nodes[i].peer_port };

		for (int p = 0; p < 2; p++) {
			CU_ASSERT(tc_raw_closes(ports[p], http, sizeof http - 1));
			CU_ASSERT(tc_raw_closes(ports[p], huge, sizeof huge));
			CU_ASSERT(tc_raw_closes(ports[p], noise, sizeof noise));
			if (p == 0)
				CU_ASSERT(tc_raw_closes(ports[p], bad_msg, sizeof bad_msg));
			if (p == 1)
				CU_ASSERT(tc_raw_closes(ports[p], no_hello, sizeof no_hello));
			/* A truncated frame: the node waits for the rest; we hang up. */
			CU_ASSERT(tc_raw_send(ports[p], huge, 5));
		}
	}
	/* Every node is alive, and the cluster serves as before. */
	for (int i = 0; i < 3; i++)
		CU_ASSERT(process_alive(i));
	leader = cl_wait_leader(&C, LEADER_WAIT_MS, -1);
	CU_ASSERT_FATAL(leader >= 0);
	put_many("m", 10, 51, &seq);
	check_many("m", 10);
}

static void restart_all(bool graceful)
{
	uint64_t seq = 0;
	int leader = cl_wait_leader(&C, LEADER_WAIT_MS, -1);

	CU_ASSERT_FATAL(leader >= 0);
	put_many("r", 40, 61, &seq);
	for (int i = 0; i < 3; i++) {
		if (graceful) {
			CU_ASSERT_EQUAL(cl_stop_node(&C, i), 0); /* SIGTERM: clean exit 0 */
		} else {
			cl_signal(&C, i, SIGKILL);
		}
	}
	for (int i = 0; i < 3; i++)
		CU_ASSERT_EQUAL_FATAL(cl_start_node(&C, i), 0);
	leader = cl_wait_leader(&C, LEADER_WAIT_MS, -1);
	CU_ASSERT_FATAL(leader >= 0);
	check_many("r", 40);
	put_many("s", 5, 61, &seq);
	check_many("s", 5);
}

static void test_restart_all_graceful(void)
{
	restart_all(true);
}

static void test_restart_all_after_kill9(void)
{
	restart_all(false);
}

static void setup_snapshots(void)
{
	paused = -1;
	memset(&C, 0, sizeof C);
	C.snapshot_entries = 40; /* snapshot and compact often */
	CU_ASSERT_EQUAL_FATAL(cl_test_begin(&C, 3), 0);
}

static bool log_mentions(int i, const char *what)
{
	char cmd[1024];

	snprintf(cmd, sizeof cmd, "grep -q '%s' '%s'", what, C.nodes[i].log);
	return system(cmd) == 0;
}

/* A follower that was down while the others compacted their logs comes back through a
 * chunked InstallSnapshot, then restarts from that snapshot on its own. */
static void test_catch_up_through_snapshot(void)
{
	uint64_t seq = 0;
	int leader = cl_wait_leader(&C, LEADER_WAIT_MS, -1), f;

	CU_ASSERT_FATAL(leader >= 0);
	f = (leader + 1) % 3;
	put_many("early", 10, 71, &seq);
	CU_ASSERT(eventually_reads(f, "early9", "value-early9"));
	cl_signal(&C, f, SIGKILL);
	put_many("late", 300, 71, &seq);
	/* The leader's log no longer reaches back to what the dead follower has. */
	CU_ASSERT(tc_first_index(port_of(leader)) > 20);
	CU_ASSERT(log_mentions(leader, "snapshot at"));
	CU_ASSERT_EQUAL_FATAL(cl_start_node(&C, f), 0);
	CU_ASSERT(eventually_reads(f, "late299", "value-late299"));
	CU_ASSERT(eventually_reads(f, "early0", "value-early0"));
	CU_ASSERT(eventually_reads(f, "late0", "value-late0"));
	CU_ASSERT(log_mentions(f, "installed snapshot"));
	/* Restart the follower: it loads its installed snapshot and replays the rest. */
	CU_ASSERT_EQUAL(cl_stop_node(&C, f), 0);
	CU_ASSERT_EQUAL_FATAL(cl_start_node(&C, f), 0);
	CU_ASSERT(eventually_reads(f, "late150", "value-late150"));
	CU_ASSERT(log_mentions(f, "loaded snapshot"));
	/* And the whole cluster after kill -9, from snapshots plus log tails. */
	for (int i = 0; i < 3; i++)
		cl_signal(&C, i, SIGKILL);
	for (int i = 0; i < 3; i++)
		CU_ASSERT_EQUAL_FATAL(cl_start_node(&C, i), 0);
	leader = cl_wait_leader(&C, LEADER_WAIT_MS, -1);
	CU_ASSERT_FATAL(leader >= 0);
	check_many("late", 300);
	check_many("early", 10);
}

/* Type=notify: raftkvd says READY=1 on $NOTIFY_SOCKET once it knows a leader; a node that
 * finds no quorum is READY anyway after a bounded wait, saying so, so that systemd does not
 * kill the first node of a cluster while it waits for its peers. */
static int notify_fd = -1;
static char notify_path[512];

static int notify_listen(void)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	char *d = rk_test_tmpdir("notify");

	if (d == NULL)
		return -1;
	snprintf(notify_path, sizeof notify_path, "%s/notify", d);
	free(d);
	if (strlen(notify_path) >= sizeof sa.sun_path)
		return -1;
	memcpy(sa.sun_path, notify_path, strlen(notify_path) + 1);
	notify_fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (notify_fd < 0 || bind(notify_fd, (struct sockaddr *)&sa, sizeof sa) != 0)
		return -1;
	return setenv("NOTIFY_SOCKET", notify_path, 1);
}

/* The next datagram that says READY=1, within @ms; "" if none. */
static const char *notify_next_ready(unsigned ms, char *buf, size_t cap)
{
	struct pollfd p = { .fd = notify_fd, .events = POLLIN };

	buf[0] = '\0';
	while (poll(&p, 1, (int)ms) == 1) {
		ssize_t n = recv(notify_fd, buf, cap - 1, 0);

		if (n <= 0)
			break;
		buf[n] = '\0';
		if (strstr(buf, "READY=1") != NULL)
			return buf;
	}
	buf[0] = '\0';
	return buf;
}

static void setup_notify(void)
{
	memset(&C, 0, sizeof C);
	CU_ASSERT_EQUAL_FATAL(notify_listen(), 0);
	CU_ASSERT_EQUAL_FATAL(cl_test_begin(&C, 3), 0);
	unsetenv("NOTIFY_SOCKET");
}

static void teardown_notify(void)
{
	cl_test_end(&C);
	if (notify_fd >= 0)
		close(notify_fd);
	notify_fd = -1;
	unlink(notify_path);
	*strrchr(notify_path, '/') = '\0';
	rmdir(notify_path);
}

static void test_ready_once_joined(void)
{
	char buf[512];

	for (int i = 0; i < 3; i++) {
		notify_next_ready(15000, buf, sizeof buf);
		CU_ASSERT_PTR_NOT_NULL(strstr(buf, "READY=1"));
		CU_ASSERT_PTR_NOT_NULL(strstr(buf, "; leader n"));
	}
	CU_ASSERT(cl_wait_leader(&C, 10000, -1) >= 0);
	/* Alone, a node cannot join: READY after the bounded wait, and it says why. */
	for (int i = 0; i < 3; i++)
		CU_ASSERT_EQUAL(cl_stop_node(&C, i), 0);
	CU_ASSERT_EQUAL_FATAL(setenv("NOTIFY_SOCKET", notify_path, 1), 0);
	CU_ASSERT_EQUAL(cl_start_node(&C, 2), 0);
	unsetenv("NOTIFY_SOCKET");
	notify_next_ready(20000, buf, sizeof buf);
	CU_ASSERT_PTR_NOT_NULL(strstr(buf, "READY=1"));
	CU_ASSERT_PTR_NOT_NULL(strstr(buf, "no leader yet"));
}

static CU_TestInfo notify_tests[] = {
	{ "ready_once_joined", test_ready_once_joined },
	CU_TEST_INFO_NULL,
};

static CU_TestInfo snapshot_tests[] = {
	{ "catch_up_through_snapshot", test_catch_up_through_snapshot },
	CU_TEST_INFO_NULL,
};

static CU_TestInfo e2e_tests[] = {
	{ "leader_writes_and_redirects", test_leader_writes_and_redirects },
	{ "kill_leader", test_kill_leader },
	{ "paused_follower", test_paused_follower },
	{ "paused_leader_serves_no_stale_read", test_paused_leader_serves_no_stale_read },
	{ "malformed_input_on_both_listeners", test_malformed_input_on_both_listeners },
	{ "restart_all_graceful", test_restart_all_graceful },
	{ "restart_all_after_kill9", test_restart_all_after_kill9 },
	CU_TEST_INFO_NULL,
};

static CU_SuiteInfo suites[] = {
	{ "e2e", NULL, NULL, setup, teardown, e2e_tests },
	{ "e2e_snapshot", NULL, NULL, setup_snapshots, teardown, snapshot_tests },
	{ "e2e_notify", NULL, NULL, setup_notify, teardown_notify, notify_tests },
	CU_SUITE_INFO_NULL,
};

int main(int argc, char **argv)
{
	signal(SIGPIPE, SIG_IGN);
	return rk_test_main(argc, argv, suites);
}

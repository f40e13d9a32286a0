/* test_bench.c -- the benchmark client: its hand codecs against protobuf-c, the HTTP and base64
 * helpers, the histogram's error bound, and a smoke run of raftkv-bench (200 puts, 200
 * linearizable and 200 serializable gets) against a real 3-node cluster on 127.0.0.1.
 *
 * The smoke suite runs bench/raftkv-bench from the directory of this program ($RAFTKV_BENCH
 * overrides it); the cluster comes from tests/e2e/cluster.c (free ports, stop by PID). */
#include "config.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench/hist.h"
#include "bench/wire.h"
#include "client.pb-c.h"
#include "cluster.h"
#include "common/err.h"
#include "harness/runner.h"
#include "net/frame.h"

/* ---- codecs ---- */

static void check_request(uint64_t id, Raftkv__Op op, const char *key, const char *val,
			  bool serializable, uint64_t client_id, uint64_t seq)
{
	struct rkb_req r = {
		.id = id, .op = op, .key = (const uint8_t *)key, .klen = strlen(key),
		.val = (const uint8_t *)val, .vlen = strlen(val), .serializable = serializable,
		.client_id = client_id, .seq = seq,
	};
	Raftkv__Request pb = RAFTKV__REQUEST__INIT;
	uint8_t mine[1024], theirs[1024];
	size_t n, m;

	pb.id = id;
	pb.op = op;
	pb.key.data = (uint8_t *)key;
	pb.key.len = strlen(key);
	pb.value.data = (uint8_t *)val;
	pb.value.len = strlen(val);
	pb.serializable = serializable;
	pb.client_id = client_id;
	pb.seq = seq;
	CU_ASSERT_TRUE_FATAL(rkb_req_max(r.klen, r.vlen) <= sizeof mine);
	n = rkb_req_encode(&r, mine);
	CU_ASSERT_TRUE(n <= rkb_req_max(r.klen, r.vlen));
	CU_ASSERT_EQUAL_FATAL(rk_frame_encode(RK_FRAME_CLIENT_REQUEST, &pb.base,
					      RK_FRAME_DEFAULT_MAX, theirs, sizeof theirs, &m),
			      RK_OK);
	CU_ASSERT_EQUAL(n, m);
	CU_ASSERT_TRUE(n == m && memcmp(mine, theirs, n) == 0);
}

static void test_request_matches_protobuf_c(void)
{
	check_request(1, RAFTKV__OP__OP_PUT, "0000000000000001", "value", false, 77, 1);
	check_request(UINT64_MAX, RAFTKV__OP__OP_GET, "k", "", true, 0, 0);
	check_request(300, RAFTKV__OP__OP_STATUS, "", "", false, 0, 0);
	check_request(1ull << 40 | 5, RAFTKV__OP__OP_PUT, "key", "v", false, 1ull << 63, 128);
}

static void test_response_decode(void)
{
	Raftkv__Response pb = RAFTKV__RESPONSE__INIT;
	Raftkv__NodeStatus node = RAFTKV__NODE_STATUS__INIT;
	Raftkv__KeyValue kv = RAFTKV__KEY_VALUE__INIT, *kvs[1] = { &kv };
	uint8_t buf[1024];
	struct rkb_resp r;
	size_t n;

	pb.id = 0x123456789ull;
	pb.status = RAFTKV__STATUS__STATUS_NOT_LEADER;
	pb.value.data = (uint8_t *)"abc";
	pb.value.len = 3;
	pb.leader_hint = (char *)"127.0.0.1:7002";
	pb.message = (char *)"not the leader";
	pb.more = true;
	pb.n_kvs = 1;
	pb.kvs = kvs;
	node.role = (char *)"follower";
	node.term = 9;
	pb.node = &node;
	n = protobuf_c_message_pack(&pb.base, buf);
	CU_ASSERT_EQUAL_FATAL(rkb_resp_decode(buf, n, &r), 0);
	CU_ASSERT_EQUAL(r.id, 0x123456789ull);
	CU_ASSERT_EQUAL(r.status, RAFTKV__STATUS__STATUS_NOT_LEADER);
	CU_ASSERT_EQUAL(r.vlen, 3);
	CU_ASSERT_EQUAL(r.hint_len, strlen("127.0.0.1:7002"));
	CU_ASSERT_TRUE(r.hint != NULL && memcmp(r.hint, "127.0.0.1:7002", r.hint_len) == 0);
	/* Every strict prefix is either a shorter valid message or refused, never read past. */
	for (size_t i = 0; i < n; i++)
		(void)rkb_resp_decode(buf, i, &r);
	CU_ASSERT_EQUAL(rkb_resp_decode((const uint8_t *)"\x0a\x05", 2, &r), -1);
	CU_ASSERT_EQUAL(rkb_resp_decode((const uint8_t *)"\x08\xff", 2, &r), -1);
	CU_ASSERT_EQUAL(rkb_resp_decode((const uint8_t *)"\x0b", 1, &r), -1);
}

static void test_base64(void)
{
	char out[16];

	CU_ASSERT_EQUAL(rkb_b64_encode((const uint8_t *)"", 0, out), 0);
	CU_ASSERT_EQUAL(rkb_b64_encode((const uint8_t *)"f", 1, out), 4);
	CU_ASSERT_NSTRING_EQUAL(out, "Zg==", 4);
	CU_ASSERT_EQUAL(rkb_b64_encode((const uint8_t *)"fo", 2, out), 4);
	CU_ASSERT_NSTRING_EQUAL(out, "Zm8=", 4);
	CU_ASSERT_EQUAL(rkb_b64_encode((const uint8_t *)"foob", 4, out), 8);
	CU_ASSERT_NSTRING_EQUAL(out, "Zm9vYg==", 8);
	CU_ASSERT_EQUAL(rkb_b64_encode((const uint8_t *)"\xff\xfe\xfd", 3, out), 4);
	CU_ASSERT_NSTRING_EQUAL(out, "//79", 4);
}

static void test_http_parse(void)
{
	static const char two[] = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
				  "content-length: 7\r\n\r\n{\"a\":1}"
				  "HTTP/1.1 503 Service Unavailable\r\nConnection: close\r\n"
				  "Transfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n";
	struct rkb_http h;
	size_t used, first;

	CU_ASSERT_EQUAL(rkb_http_parse(two, sizeof two - 1, &h, &used), 1);
	CU_ASSERT_EQUAL(h.status, 200);
	CU_ASSERT_FALSE(h.close);
	CU_ASSERT_EQUAL(h.body_len, 7);
	CU_ASSERT_TRUE(h.body != NULL && memcmp(h.body, "{\"a\":1}", 7) == 0);
	first = used;
	CU_ASSERT_EQUAL(rkb_http_parse(two + first, sizeof two - 1 - first, &h, &used), 1);
	CU_ASSERT_EQUAL(h.status, 503);
	CU_ASSERT_TRUE(h.close);
	CU_ASSERT_EQUAL(first + used, sizeof two - 1);
	/* Every prefix of a response is "need more", never a wrong answer. */
	for (size_t i = 0; i < first; i++)
		CU_ASSERT_EQUAL(rkb_http_parse(two, i, &h, &used), 0);
	for (size_t i = 0, second = used; i < second; i++)
		CU_ASSERT_EQUAL(rkb_http_parse(two + first, i, &h, &used), 0);
	CU_ASSERT_EQUAL(rkb_http_parse("SSH-2.0-x\r\n\r\n", 13, &h, &used), -1);
}

static void test_hist_error_bound(void)
{
	static struct rkb_hist h;
	uint64_t lo, hi, prev_hi = 0;

	/* Buckets tile the integers with no gap or overlap, each at most 1/32 of its lower end
	 * wide. */
	for (unsigned i = 0; i < 1900; i++) {
		rkb_hist_bounds(i, &lo, &hi);
		CU_ASSERT_TRUE_FATAL(i == 0 ? lo == 0 : lo == prev_hi + 1);
		CU_ASSERT_TRUE_FATAL(hi - lo <= lo / 32);
		CU_ASSERT_EQUAL_FATAL(rkb_hist_index(lo), i);
		CU_ASSERT_EQUAL_FATAL(rkb_hist_index(hi), i);
		prev_hi = hi;
	}
	CU_ASSERT_TRUE(rkb_hist_index(UINT64_MAX) < RKB_HIST_BUCKETS);
	/* 1..100000 us: each quantile within 2% of the exact one. */
	rkb_hist_init(&h);
	for (uint64_t v = 1; v <= 100000; v++)
		rkb_hist_record(&h, v * 1000);
	CU_ASSERT_EQUAL(h.count, 100000);
	CU_ASSERT_EQUAL(h.min, 1000);
	CU_ASSERT_EQUAL(h.max, 100000000);
	for (int i = 0; i < 4; i++) {
		static const double q[] = { 0.5, 0.9, 0.99, 0.999 };
		double exact = q[i] * 100000 * 1000, got = (double)rkb_hist_quantile(&h, q[i]);

		CU_ASSERT_TRUE(got > exact * 0.98 && got < exact * 1.02);
	}
	CU_ASSERT_EQUAL(rkb_hist_quantile(&h, 1.0), 100000000);
}

static CU_TestInfo unit_tests[] = {
	{ "request_matches_protobuf_c", test_request_matches_protobuf_c },
	{ "response_decode", test_response_decode },
	{ "base64", test_base64 },
	{ "http_parse", test_http_parse },
	{ "hist_error_bound", test_hist_error_bound },
	CU_TEST_INFO_NULL,
};

/* ---- smoke: the real tool against a real cluster ---- */

static struct cluster C;

static void smoke_setup(void)
{
	memset(&C, 0, sizeof C);
	CU_ASSERT_EQUAL_FATAL(cl_test_begin(&C, 3), 0);
}

static void smoke_teardown(void)
{
	cl_test_end(&C);
}

static const char *bench_path(void)
{
	static char path[4096];
	const char *env = getenv("RAFTKV_BENCH");
	ssize_t n;
	char *slash;

	if (env != NULL && *env)
		return env;
	n = readlink("/proc/self/exe", path, sizeof path - 32);
	if (n <= 0)
		return "bench/raftkv-bench";
	path[n] = '\0';
	slash = strrchr(path, '/');
	strcpy(slash != NULL ? slash + 1 : path, "raftkv-bench");
	return path;
}

/* Run raftkv-bench with @args (NULL-terminated, after the program name) and return its
 * stdout (owned) and exit status, killing it after 20 s. */
static char *run_bench(const char *const *args, int *status)
{
	const char *argv[32];
	static char out[65536];
	size_t have = 0;
	int pfd[2], n = 0;
	pid_t pid;

	argv[n++] = "raftkv-bench";
	while (*args != NULL && n < 31)
		argv[n++] = *args++;
	argv[n] = NULL;
	if (pipe(pfd) != 0)
		return NULL;
	pid = fork();
	if (pid < 0)
		return NULL;
	if (pid == 0) {
		dup2(pfd[1], 1);
		close(pfd[0]);
		close(pfd[1]);
		alarm(20);
		execv(bench_path(), (char *const *)argv);
		_exit(127);
	}
	close(pfd[1]);
	for (;;) {
		ssize_t r = read(pfd[0], out + have, sizeof out - 1 - have);

		if (r <= 0)
			break;
		have += (size_t)r;
	}
	out[have] = '\0';
	close(pfd[0]);
	waitpid(pid, status, 0);
	return strdup(out);
}

/* The number after "@name": in the JSON line @s, or -1. */
static double json_num(const char *s, const char *name)
{
	char pat[64];
	const char *p;

	snprintf(pat, sizeof pat, "\"%s\":", name);
	p = strstr(s, pat);
	return p != NULL ? strtod(p + strlen(pat), NULL) : -1;
}

static void smoke_one(const char *what, const char *const *args)
{
	int status = -1;
	char *out = run_bench(args, &status);

	CU_ASSERT_PTR_NOT_NULL_FATAL(out);
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0 || json_num(out, "errors") != 0)
		fprintf(stderr, "\n%s: raftkv-bench status %d, output: %s\n", what, status, out);
	CU_ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	CU_ASSERT_EQUAL(json_num(out, "ops"), 200);
	CU_ASSERT_EQUAL(json_num(out, "errors"), 0);
	CU_ASSERT_EQUAL(json_num(out, "misses"), 0);
	CU_ASSERT_TRUE(json_num(out, "ops_per_s") > 0);
	CU_ASSERT_TRUE(json_num(out, "p99_us") >= json_num(out, "p50_us"));
	CU_ASSERT_TRUE(json_num(out, "max_us") >= json_num(out, "p99_us"));
	CU_ASSERT_TRUE(json_num(out, "server_cpu_s") >= 0);
	free(out);
}

static void test_put_then_get(void)
{
	char endpoints[256], pids[128];
	size_t e = 0, p = 0;

	CU_ASSERT_TRUE_FATAL(cl_wait_leader(&C, 10000, -1) >= 0);
	for (int i = 0; i < C.n; i++) {
		e += (size_t)snprintf(endpoints + e, sizeof endpoints - e, "%s127.0.0.1:%d",
				      i ? "," : "", C.nodes[i].client_port);
		p += (size_t)snprintf(pids + p, sizeof pids - p, "%s%d", i ? "," : "",
				      (int)C.nodes[i].pid);
	}
	{
		char ep_opt[300], pid_opt[160];
		const char *put[] = {
			ep_opt,	  pid_opt, "--target-leader", "--clients=8",	   "--conns=2",
			"--json", "put",   "--total=200",     "--sequential-keys", NULL};
		const char *get_l[] = { ep_opt, pid_opt, "--target-leader", "--clients=8", "--json",
					"get", "--total=200", "--key-space=200", NULL };
		const char *get_s[] = {
			ep_opt, pid_opt,       "--clients=6",	  "--conns=3",	     "--json",
			"get",	"--total=200", "--key-space=200", "--consistency=s", NULL};

		snprintf(ep_opt, sizeof ep_opt, "--endpoints=%s", endpoints);
		snprintf(pid_opt, sizeof pid_opt, "--server-pids=%s", pids);
		smoke_one("put", put);
		smoke_one("linearizable get", get_l);
		/* Followers may lag the last puts for a moment: a miss would not be an error, but
		 * the smoke test wants every key found, so let them catch up. */
		usleep(300000);
		smoke_one("serializable get", get_s);
	}
}

static CU_TestInfo smoke_tests[] = {
	{ "put_then_get", test_put_then_get },
	CU_TEST_INFO_NULL,
};

static CU_SuiteInfo suites[] = {
	{ "bench_units", NULL, NULL, NULL, NULL, unit_tests },
	{ "bench_smoke", NULL, NULL, smoke_setup, smoke_teardown, smoke_tests },
	CU_SUITE_INFO_NULL,
};

int main(int argc, char **argv)
{
	signal(SIGPIPE, SIG_IGN);
	return rk_test_main(argc, argv, suites);
}

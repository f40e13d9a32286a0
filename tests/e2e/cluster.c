/* cluster.c -- see cluster.h. */
#define _GNU_SOURCE
#include "config.h"

#include "cluster.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <CUnit/CUnit.h>

#include "harness/runner.h"
#include "net/frame.h"

static const char *daemon_path(void)
{
	const char *p = getenv("RAFTKVD");

	return p != NULL && *p ? p : "./src/raftkvd";
}

static int write_conf(struct cluster *c, int i)
{
	struct cl_node *nd = &c->nodes[i];
	FILE *f = fopen(nd->conf, "w");

	if (f == NULL)
		return -1;
	fprintf(f, "[node]\nid = %llu\nclient_listen = 127.0.0.1:%d\npeer_listen = 127.0.0.1:%d\n"
		   "data_dir = %s\n\n[cluster]\n",
		(unsigned long long)nd->id, nd->client_port, nd->peer_port, nd->dir);
	for (int j = 0; j < c->n; j++)
		fprintf(f, "member.%llu = 127.0.0.1:%d 127.0.0.1:%d%s\n",
			(unsigned long long)c->nodes[j].id, c->nodes[j].peer_port,
			c->nodes[j].client_port, j >= c->n - c->n_join ? " join" : "");
	fprintf(f, "\n[raft]\nheartbeat_ms = %u\nelection_timeout_min_ms = %u\n"
		   "election_timeout_max_ms = %u\n",
		c->heartbeat_ms, c->election_ms, 2 * c->election_ms);
	if (c->snapshot_entries != 0)
		fprintf(f, "snapshot_entries = %llu\n", (unsigned long long)c->snapshot_entries);
	fprintf(f, "\n[server]\nworkers = 2\n\n[log]\nlevel = info\n");
	return fclose(f) == 0 ? 0 : -1;
}

int cl_start_node(struct cluster *c, int i)
{
	struct cl_node *nd = &c->nodes[i];
	pid_t pid;
	int fd;

	pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		/* If the test program dies (a crash, a sanitizer abort), its daemons die with it
		 * instead of living on as orphans. */
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (getppid() == 1)
			_exit(127);
		fd = open(nd->log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
		if (fd >= 0) {
			dup2(fd, STDERR_FILENO);
			dup2(fd, STDOUT_FILENO);
		}
		execl(daemon_path(), "raftkvd", "-c", nd->conf, (char *)NULL);
		_exit(127);
	}
	nd->pid = pid;
	return 0;
}

int cl_start(struct cluster *c, int n)
{
	memset(c->nodes, 0, sizeof c->nodes);
	c->n = n;
	/* Sanitizer builds run several times slower: give heartbeats room, or check-quorum
	 * deposes leaders that are merely slow. */
	bool slow = getenv("RK_E2E_SLOW") != NULL && strcmp(getenv("RK_E2E_SLOW"), "1") == 0;
	int ports[2 * CL_MAX];

	if (c->heartbeat_ms == 0)
		c->heartbeat_ms = slow ? 60 : 20;
	if (c->election_ms == 0)
		c->election_ms = slow ? 600 : 150;
	c->root = rk_test_tmpdir("e2e");
	if (c->root == NULL || n > CL_MAX || rk_test_free_ports(ports, 2 * n) != 0)
		return -1;
	for (int i = 0; i < n; i++) {
		struct cl_node *nd = &c->nodes[i];

		nd->id = (uint64_t)i + 1;
		nd->client_port = ports[2 * i];
		nd->peer_port = ports[2 * i + 1];
		snprintf(nd->conf, sizeof nd->conf, "%s/n%d.conf", c->root, i + 1);
		snprintf(nd->dir, sizeof nd->dir, "%s/data%d", c->root, i + 1);
		snprintf(nd->log, sizeof nd->log, "%s/n%d.log", c->root, i + 1);
	}
	for (int i = 0; i < n; i++) {
		if (write_conf(c, i) != 0 || cl_start_node(c, i) != 0)
			return -1;
	}
	return 0;
}

int cl_stop_node(struct cluster *c, int i)
{
	struct cl_node *nd = &c->nodes[i];
	int st;

	if (nd->pid == 0)
		return -1;
	kill(nd->pid, SIGCONT); /* a stopped process cannot act on SIGTERM */
	kill(nd->pid, SIGTERM);
	st = rk_test_reap(nd->pid, 10000);
	if (st == -2) {
		kill(nd->pid, SIGKILL);
		st = rk_test_reap(nd->pid, 10000);
		st = -1;
	}
	nd->pid = 0;
	return st;
}

void cl_signal(struct cluster *c, int i, int sig)
{
	struct cl_node *nd = &c->nodes[i];

	if (nd->pid == 0)
		return;
	kill(nd->pid, sig);
	if (sig == SIGKILL) {
		rk_test_reap(nd->pid, 10000);
		nd->pid = 0;
	}
}

void cl_dump_logs(struct cluster *c)
{
	char cmd[1200];

	for (int i = 0; i < c->n; i++) {
		fprintf(stderr, "---- %s (last 30 lines)\n", c->nodes[i].log);
		snprintf(cmd, sizeof cmd, "tail -n 30 '%s' >&2", c->nodes[i].log);
		if (system(cmd) != 0)
			fprintf(stderr, "(no log)\n");
	}
}

int cl_stop_all(struct cluster *c)
{
	int bad = 0;

	for (int i = 0; i < c->n; i++) {
		if (c->nodes[i].pid != 0 && cl_stop_node(c, i) != 0) {
			fprintf(stderr, "e2e: n%d did not exit cleanly (see %s)\n", i + 1,
				c->nodes[i].log);
			bad++;
		}
	}
	return bad;
}

void cl_destroy(struct cluster *c, bool keep)
{
	for (int i = 0; i < c->n; i++) {
		if (c->nodes[i].pid != 0)
			cl_stop_node(c, i);
	}
	if (keep) {
		cl_dump_logs(c);
		fprintf(stderr, "e2e: kept %s\n", c->root);
		free(c->root);
	} else {
		rk_test_rmtree(c->root);
	}
	c->root = NULL;
}

int cl_test_begin(struct cluster *c, int n)
{
	c->failures_before = CU_get_number_of_failures();
	return cl_start(c, n);
}

void cl_test_end(struct cluster *c)
{
	CU_ASSERT_EQUAL(cl_stop_all(c), 0);
	cl_destroy(c, CU_get_number_of_failures() != c->failures_before);
}

int cl_wait_leader(struct cluster *c, unsigned timeout_ms, int skip)
{
	uint64_t deadline = rk_test_now_ms() + timeout_ms;

	while (rk_test_now_ms() < deadline) {
		uint64_t leader = 0, l, term;
		int agree = 0, asked = 0;

		for (int i = 0; i < c->n; i++) {
			if (i == skip || c->nodes[i].pid == 0)
				continue;
			asked++;
			if (tc_status(c->nodes[i].client_port, &l, &term, NULL, NULL, 0) != 0 || l == 0)
				continue;
			if (leader == 0 || leader == l) {
				leader = l;
				agree++;
			}
		}
		/* Followers go on naming a dead leader until their election timeout: the named
		 * node must be one we run, not skipped, and must itself say it leads. */
		if (leader != 0 && agree == asked && leader <= (uint64_t)c->n &&
		    (int)leader - 1 != skip && c->nodes[leader - 1].pid != 0) {
			char role[32];

			if (tc_status(c->nodes[leader - 1].client_port, NULL, NULL, NULL, role,
				      sizeof role) == 0 &&
			    strcmp(role, "leader") == 0)
				return (int)leader - 1;
		}
		usleep(20000);
	}
	return -1;
}

/* ---- client ---- */

static int dial(int port)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), one = 1;

	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd < 0)
		return -1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	if (connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
		close(fd);
		return -1;
	}
	return fd;
}

static int read_full(int fd, uint8_t *p, size_t n, uint64_t deadline)
{
	while (n > 0) {
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		uint64_t now = rk_test_now_ms();
		ssize_t r;

		if (now >= deadline || poll(&pfd, 1, (int)(deadline - now)) <= 0)
			return -1;
		r = read(fd, p, n);
		if (r <= 0)
			return -1;
		p += r;
		n -= (size_t)r;
	}
	return 0;
}

Raftkv__Response *tc_call(int port, Raftkv__Request *req, unsigned timeout_ms)
{
	uint64_t deadline = rk_test_now_ms() + timeout_ms;
	size_t len = protobuf_c_message_get_packed_size(&req->base);
	uint8_t *buf = malloc(RK_FRAME_HEADER_SIZE + len), hdr[RK_FRAME_HEADER_SIZE], type;
	Raftkv__Response *resp = NULL;
	uint32_t plen;
	int fd = dial(port);

	if (fd < 0 || buf == NULL)
		goto out;
	rk_frame_header_write(buf, RK_FRAME_CLIENT_REQUEST, (uint32_t)len);
	protobuf_c_message_pack(&req->base, buf + RK_FRAME_HEADER_SIZE);
	if (write(fd, buf, RK_FRAME_HEADER_SIZE + len) != (ssize_t)(RK_FRAME_HEADER_SIZE + len))
		goto out;
	if (read_full(fd, hdr, sizeof hdr, deadline) != 0 ||
	    rk_frame_header_parse(hdr, sizeof hdr, 64u << 20, &type, &plen) != 0)
		goto out;
	free(buf);
	buf = malloc(plen ? plen : 1);
	if (buf == NULL || read_full(fd, buf, plen, deadline) != 0)
		goto out;
	resp = raftkv__response__unpack(NULL, plen, buf);
out:
	free(buf);
	if (fd >= 0)
		close(fd);
	return resp;
}

int tc_op(int port, Raftkv__Op op, const char *key, const char *val, const char *expected,
	  uint64_t client_id, uint64_t seq)
{
	Raftkv__Request req = RAFTKV__REQUEST__INIT;
	Raftkv__Response *resp;
	int st;

	req.id = 1;
	req.op = op;
	req.key.data = (uint8_t *)key;
	req.key.len = key ? strlen(key) : 0;
	req.value.data = (uint8_t *)val;
	req.value.len = val ? strlen(val) : 0;
	req.expected.data = (uint8_t *)expected;
	req.expected.len = expected ? strlen(expected) : 0;
	req.client_id = client_id;
	req.seq = seq;
	resp = tc_call(port, &req, 5000);
	if (resp == NULL)
		return -1;
	st = (int)resp->status;
	raftkv__response__free_unpacked(resp, NULL);
	return st;
}

int tc_put(int port, const char *key, const char *val, uint64_t client_id, uint64_t seq)
{
	return tc_op(port, RAFTKV__OP__OP_PUT, key, val, NULL, client_id, seq);
}

int tc_get(int port, const char *key, bool serializable, char **out)
{
	Raftkv__Request req = RAFTKV__REQUEST__INIT;
	Raftkv__Response *resp;
	int st;

	req.id = 2;
	req.op = RAFTKV__OP__OP_GET;
	req.key.data = (uint8_t *)key;
	req.key.len = strlen(key);
	req.serializable = serializable;
	resp = tc_call(port, &req, 5000);
	if (resp == NULL)
		return -1;
	st = (int)resp->status;
	if (out != NULL) {
		*out = malloc(resp->value.len + 1);
		if (*out != NULL) {
			if (resp->value.len > 0)
				memcpy(*out, resp->value.data, resp->value.len);
			(*out)[resp->value.len] = '\0';
		}
	}
	raftkv__response__free_unpacked(resp, NULL);
	return st;
}

int tc_status(int port, uint64_t *leader, uint64_t *term, uint64_t *applied, char *role,
	      size_t role_len)
{
	Raftkv__Request req = RAFTKV__REQUEST__INIT;
	Raftkv__Response *resp;

	req.id = 3;
	req.op = RAFTKV__OP__OP_STATUS;
	resp = tc_call(port, &req, 1000);
	if (resp == NULL || resp->node == NULL) {
		if (resp != NULL)
			raftkv__response__free_unpacked(resp, NULL);
		return -1;
	}
	if (leader != NULL)
		*leader = resp->node->leader;
	if (term != NULL)
		*term = resp->node->term;
	if (applied != NULL)
		*applied = resp->node->applied_index;
	if (role != NULL)
		snprintf(role, role_len, "%s", resp->node->role);
	raftkv__response__free_unpacked(resp, NULL);
	return 0;
}

bool tc_raw_closes(int port, const void *bytes, size_t len)
{
	uint8_t buf[256];
	uint64_t deadline = rk_test_now_ms() + 5000;
	int fd = dial(port);
	bool closed = false;

	if (fd < 0)
		return false;
	if (write(fd, bytes, len) == (ssize_t)len) {
		while (rk_test_now_ms() < deadline) {
			struct pollfd pfd = { .fd = fd, .events = POLLIN };
			ssize_t r;

			if (poll(&pfd, 1, 100) <= 0)
				continue;
			r = read(fd, buf, sizeof buf);
			if (r <= 0) {
				closed = true;
				break;
			}
		}
	}
	close(fd);
	return closed;
}

bool tc_raw_send(int port, const void *bytes, size_t len)
{
	int fd = dial(port);
	bool sent;

	if (fd < 0)
		return false;
	sent = write(fd, bytes, len) == (ssize_t)len;
	close(fd);
	return sent;
}

uint64_t tc_first_index(int port)
{
	Raftkv__Request req = RAFTKV__REQUEST__INIT;
	Raftkv__Response *resp;
	uint64_t first = 0;

	req.id = 4;
	req.op = RAFTKV__OP__OP_STATUS;
	resp = tc_call(port, &req, 1000);
	if (resp != NULL && resp->node != NULL)
		first = resp->node->first_index;
	if (resp != NULL)
		raftkv__response__free_unpacked(resp, NULL);
	return first;
}

/* test_faultio.c -- the fault runner's building blocks: the TCP fault proxy (tests/fault/proxy.c)
 * and the disk-fault shim (tests/fault/faultfs.c with its control side faultfs_ctl.c).
 *
 * Proxy tests hold both ends themselves: a client socket dialled to the link's port (node a)
 * and the socket the target listener accepted from the proxy (node b), so that every byte in
 * either direction is checked where it arrives. Time is asserted only as a lower bound (a
 * delayed byte is never early); "nothing arrives" waits a short while, which can only ever
 * make such a check pass wrongly, never fail on a slow machine.
 *
 * Shim tests run tests/fault/faultfs-probe under LD_PRELOAD with a control file and read what
 * each of its calls returned. Every child is waited for by PID.
 */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/err.h"
#include "fault/faultfs.h"
#include "fault/proxy.h"
#include "harness/runner.h"

#ifndef RK_FAULTFS_PROBE
#error "RK_FAULTFS_PROBE (the path of faultfs-probe) must be defined by the Makefile"
#endif

extern char **environ;

#define WAIT_MS 10000  /* for things that must happen: only a broken proxy waits this long */
#define QUIET_MS 300   /* for things that must not happen */

/* ---- sockets ---- */

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* A listener on 127.0.0.1 (port in *@port); @rcvbuf > 0 caps the accepted sockets' buffer. */
static int listen_lo(int rcvbuf, int *port)
{
	struct sockaddr_in sa = {.sin_family = AF_INET};
	socklen_t len = sizeof sa;
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -1;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (rcvbuf > 0)
		setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
	if (bind(fd, (struct sockaddr *)&sa, sizeof sa) != 0 || listen(fd, 16) != 0 ||
	    getsockname(fd, (struct sockaddr *)&sa, &len) != 0) {
		close(fd);
		return -1;
	}
	*port = ntohs(sa.sin_port);
	return fd;
}

static int connect_lo(int port, int sndbuf)
{
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -1;
	if (sndbuf > 0)
		setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof sndbuf);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
		close(fd);
		return -1;
	}
	return fd;
}

/* Milliseconds from now until @end (a now_ms() time), 0 once past. */
static int left_ms(uint64_t end)
{
	uint64_t now = now_ms();

	return end > now ? (int)(end - now) : 0;
}

static bool readable_within(int fd, int ms)
{
	struct pollfd pfd = {.fd = fd, .events = POLLIN};

	return poll(&pfd, 1, ms) == 1;
}

static int accept_within(int lfd, int ms)
{
	if (!readable_within(lfd, ms))
		return -1;
	return accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
}

static bool send_all(int fd, const void *buf, size_t n)
{
	const char *p = buf;

	while (n > 0) {
		ssize_t w = send(fd, p, n, MSG_NOSIGNAL);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return false;
		p += w;
		n -= (size_t)w;
	}
	return true;
}

/* Read exactly @n bytes within WAIT_MS; true if they all came. */
static bool recv_exact(int fd, void *buf, size_t n)
{
	char *p = buf;
	uint64_t end = now_ms() + WAIT_MS;

	while (n > 0) {
		ssize_t r;

		if (!readable_within(fd, left_ms(end)))
			return false;
		r = recv(fd, p, n, 0);
		if (r <= 0)
			return false;
		p += r;
		n -= (size_t)r;
	}
	return true;
}

/* Whether the peer of @fd ends the stream (FIN or reset) within WAIT_MS; data is skipped. */
static bool closes(int fd)
{
	uint64_t end = now_ms() + WAIT_MS;
	char buf[4096];

	for (;;) {
		ssize_t r;

		if (!readable_within(fd, left_ms(end)))
			return false;
		r = recv(fd, buf, sizeof buf, 0);
		if (r == 0 || (r < 0 && errno != EINTR && errno != EAGAIN))
			return true;
	}
}

/* ---- proxy fixture: link 1 -> 2 in front of a listener of the test's ---- */

static struct {
	struct fp_proxy *p;
	int target;     /* node 2's listener */
	int to_port;
	int port;       /* the link's port: node 1 dials it */
} F;

static void proxy_setup(void)
{
	memset(&F, 0, sizeof F);
	F.target = listen_lo(64 << 10, &F.to_port);
	if (F.target < 0 || fp_proxy_new(&F.p) != RK_OK)
		return;
	if (fp_proxy_link(F.p, 1, 2, F.to_port, &F.port) != RK_OK) {
		fp_proxy_free(F.p);
		F.p = NULL;
	}
}

static void proxy_teardown(void)
{
	fp_proxy_free(F.p);
	if (F.target >= 0)
		close(F.target);
	F.p = NULL;
}

/* A connection through the link: *@c is node 1's end, *@s node 2's. */
static bool open_pair(int *c, int *s, int sndbuf)
{
	*s = -1;
	*c = connect_lo(F.port, sndbuf);
	if (*c < 0)
		return false;
	*s = accept_within(F.target, WAIT_MS);
	return *s >= 0;
}

static struct fp_link_stats stats(unsigned a, unsigned b)
{
	struct fp_link_stats st;

	CU_ASSERT_EQUAL(fp_proxy_stats(F.p, a, b, &st), RK_OK);
	return st;
}

/* Poll the counters until @cond (an expression over `st`) holds, within WAIT_MS. */
#define EVENTUALLY(a, b, cond)                                                  \
	do {                                                                    \
		uint64_t end_ = now_ms() + WAIT_MS;                             \
		struct fp_link_stats st = stats(a, b);                          \
		while (!(cond) && now_ms() < end_) {                            \
			usleep(2000);                                           \
			st = stats(a, b);                                       \
		}                                                               \
		CU_ASSERT(cond);                                                \
	} while (0)

/* ---- proxy tests ---- */

static void test_roundtrip(void)
{
	char buf[16];
	int c, s;

	CU_ASSERT_PTR_NOT_NULL_FATAL(F.p);
	CU_ASSERT_FATAL(open_pair(&c, &s, 0));
	CU_ASSERT(send_all(c, "ping", 4));
	CU_ASSERT(recv_exact(s, buf, 4) && memcmp(buf, "ping", 4) == 0);
	CU_ASSERT(send_all(s, "pong", 4));
	CU_ASSERT(recv_exact(c, buf, 4) && memcmp(buf, "pong", 4) == 0);
	/* a half close passes through, and the other direction keeps going */
	shutdown(c, SHUT_WR);
	CU_ASSERT(closes(s));
	CU_ASSERT(send_all(s, "bye", 3));
	CU_ASSERT(recv_exact(c, buf, 3) && memcmp(buf, "bye", 3) == 0);
	close(s);
	CU_ASSERT(closes(c));
	close(c);
	EVENTUALLY(1, 2, st.open == 0 && st.closed == 1);
	/* oriented as asked: dir[0] is 2 -> 1 here */
	EVENTUALLY(2, 1, st.dir[0].fwd_bytes == 7 && st.dir[1].fwd_bytes == 4 &&
				 st.accepted == 1 && st.faulted == 0);
}

/* Byte @i of the test stream. */
static uint8_t stream_byte(uint64_t i)
{
	uint64_t z = (i >> 3) + 0x9e3779b97f4a7c15u;

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
	z ^= z >> 31;
	return (uint8_t)(z >> ((i & 7) * 8));
}

#define STREAM_LEN (16u << 20)

/* Send what the socket takes now from @pos; returns the new position. */
static size_t pump_out(int fd, size_t pos)
{
	uint8_t buf[65536];

	while (pos < STREAM_LEN) {
		size_t n = STREAM_LEN - pos < sizeof buf ? STREAM_LEN - pos : sizeof buf;
		ssize_t w;

		for (size_t i = 0; i < n; i++)
			buf[i] = stream_byte(pos + i);
		w = send(fd, buf, n, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (w <= 0)
			break;
		pos += (size_t)w;
	}
	return pos;
}

static void test_stream_backpressure(void)
{
	size_t sent = 0, got = 0, bad = 0;
	uint64_t end;
	uint8_t buf[65536];
	int c, s;

	CU_ASSERT_PTR_NOT_NULL_FATAL(F.p);
	/* small socket buffers at both ends, so that the proxy's own buffer is what fills */
	CU_ASSERT_FATAL(open_pair(&c, &s, 64 << 10));

	/* node 2 reads nothing: node 1 can send only until every buffer on the way is full */
	for (;;) {
		struct pollfd pfd = {.fd = c, .events = POLLOUT};
		size_t before = sent;

		sent = pump_out(c, sent);
		if (sent == STREAM_LEN)
			break;
		if (sent == before && poll(&pfd, 1, QUIET_MS) == 0)
			break;
	}
	EVENTUALLY(1, 2, st.dir[0].buffered_max == FP_BUF_MAX);
	CU_ASSERT(stats(1, 2).dir[0].buffered_max <= FP_BUF_MAX);
	fprintf(stderr, "[stalled after %zu of %u bytes] ", sent, STREAM_LEN);

	/* then everything flows, intact and in order */
	end = now_ms() + 60000;
	while (got < STREAM_LEN && now_ms() < end) {
		struct pollfd pfd[2] = {{.fd = s, .events = POLLIN},
					{.fd = c, .events = sent < STREAM_LEN ? POLLOUT : 0}};

		if (poll(pfd, 2, 1000) <= 0)
			continue;
		if (pfd[1].revents & POLLOUT)
			sent = pump_out(c, sent);
		if (pfd[0].revents & POLLIN) {
			ssize_t r = recv(s, buf, sizeof buf, MSG_DONTWAIT);

			if (r <= 0)
				break;
			for (ssize_t i = 0; i < r; i++)
				bad += buf[i] != stream_byte(got + (size_t)i);
			got += (size_t)r;
		}
	}
	CU_ASSERT_EQUAL(got, STREAM_LEN);
	CU_ASSERT_EQUAL(bad, 0);
	CU_ASSERT_EQUAL(stats(1, 2).dir[0].fwd_bytes, STREAM_LEN);
	CU_ASSERT(stats(1, 2).dir[0].buffered_max <= FP_BUF_MAX);
	close(c);
	close(s);
}

static void test_blackhole(void)
{
	char buf[16];
	int c, s, c2, s2;

	CU_ASSERT_PTR_NOT_NULL_FATAL(F.p);
	CU_ASSERT_FATAL(open_pair(&c, &s, 0));
	CU_ASSERT_EQUAL(fp_proxy_set(F.p, 1, 2, FP_BLACKHOLE, 0), RK_OK);
	CU_ASSERT(send_all(c, "lost", 4));
	EVENTUALLY(1, 2, st.dir[0].dropped_bytes == 4);
	CU_ASSERT(!readable_within(s, QUIET_MS));
	/* asymmetric: 2 -> 1 still passes on the same connection */
	CU_ASSERT(send_all(s, "back", 4));
	CU_ASSERT(recv_exact(c, buf, 4) && memcmp(buf, "back", 4) == 0);
	CU_ASSERT_EQUAL(stats(1, 2).open, 1);

	/* healing the direction closes the connection with a hole in it, on both sides */
	CU_ASSERT_EQUAL(fp_proxy_set(F.p, 1, 2, FP_PASS, 0), RK_OK);
	CU_ASSERT_EQUAL(stats(1, 2).faulted, 1);
	CU_ASSERT_EQUAL(stats(1, 2).open, 0);
	CU_ASSERT(closes(c));
	CU_ASSERT(closes(s));
	close(c);
	close(s);

	/* a new connection passes */
	CU_ASSERT_FATAL(open_pair(&c, &s, 0));
	CU_ASSERT(send_all(c, "again", 5));
	CU_ASSERT(recv_exact(s, buf, 5) && memcmp(buf, "again", 5) == 0);

	/* a blackhole that dropped nothing leaves the connection alone; named from the other end */
	CU_ASSERT_FATAL(open_pair(&c2, &s2, 0));
	CU_ASSERT_EQUAL(fp_proxy_set(F.p, 2, 1, FP_BLACKHOLE, 0), RK_OK);
	CU_ASSERT(send_all(s2, "gone", 4));
	EVENTUALLY(2, 1, st.dir[0].dropped_bytes == 4);
	CU_ASSERT(!readable_within(c2, QUIET_MS));
	fp_proxy_heal(F.p);
	CU_ASSERT_EQUAL(stats(1, 2).open, 1);
	CU_ASSERT(closes(c2));
	CU_ASSERT(closes(s2));
	CU_ASSERT(send_all(c, "kept", 4));
	CU_ASSERT(recv_exact(s, buf, 4) && memcmp(buf, "kept", 4) == 0);
	CU_ASSERT(send_all(s, "also", 4));
	CU_ASSERT(recv_exact(c, buf, 4) && memcmp(buf, "also", 4) == 0);
	close(c);
	close(s);
	close(c2);
	close(s2);
}

static void test_blackhole_fin(void)
{
	int c, s;

	CU_ASSERT_PTR_NOT_NULL_FATAL(F.p);
	CU_ASSERT_FATAL(open_pair(&c, &s, 0));
	/* a FIN is lost on a partition as well: node 2 keeps its half open until the heal */
	CU_ASSERT_EQUAL(fp_proxy_set(F.p, 1, 2, FP_BLACKHOLE, 0), RK_OK);
	shutdown(c, SHUT_WR);
	CU_ASSERT(!readable_within(s, QUIET_MS));
	fp_proxy_heal(F.p);
	CU_ASSERT(closes(s));
	CU_ASSERT(closes(c));
	CU_ASSERT_EQUAL(stats(1, 2).faulted, 1);
	close(c);
	close(s);
}

static void test_cut(void)
{
	char buf[16];
	int c, s, c2, s2;

	CU_ASSERT_PTR_NOT_NULL_FATAL(F.p);
	CU_ASSERT_FATAL(open_pair(&c, &s, 0));
	CU_ASSERT_EQUAL(fp_proxy_set(F.p, 2, 1, FP_CUT, 0), RK_OK);
	CU_ASSERT_EQUAL(stats(1, 2).open, 0);
	CU_ASSERT(closes(c));
	CU_ASSERT(closes(s));
	close(c);
	close(s);

	/* while cut, a new connection is accepted and closed, and never reaches node 2 */
	c = connect_lo(F.port, 0);
	CU_ASSERT_FATAL(c >= 0);
	CU_ASSERT(closes(c));
	close(c);
	CU_ASSERT(!readable_within(F.target, QUIET_MS));
	/* the other direction passing does not uncut the link */
	CU_ASSERT_EQUAL(fp_proxy_set(F.p, 1, 2, FP_PASS, 0), RK_OK);
	c = connect_lo(F.port, 0);
	CU_ASSERT_FATAL(c >= 0);
	CU_ASSERT(closes(c));
	close(c);
	EVENTUALLY(1, 2, st.accepted == 3 && st.faulted == 3 && st.closed == 3);

	fp_proxy_heal(F.p);
	CU_ASSERT_FATAL(open_pair(&c2, &s2, 0));
	CU_ASSERT(send_all(c2, "healed", 6));
	CU_ASSERT(recv_exact(s2, buf, 6) && memcmp(buf, "healed", 6) == 0);
	close(c2);
	close(s2);
}

static void test_delay(void)
{
	char buf[16];
	uint64_t t0;
	int c, s;

	CU_ASSERT_PTR_NOT_NULL_FATAL(F.p);
	CU_ASSERT_FATAL(open_pair(&c, &s, 0));
	CU_ASSERT_EQUAL(fp_proxy_set(F.p, 1, 2, FP_PASS, 300), RK_OK);
	t0 = now_ms();
	CU_ASSERT(send_all(c, "a", 1));
	CU_ASSERT(recv_exact(s, buf, 1) && buf[0] == 'a');
	CU_ASSERT(now_ms() - t0 >= 300);
	/* order is kept across separate writes */
	t0 = now_ms();
	CU_ASSERT(send_all(c, "b", 1));
	usleep(50000);
	CU_ASSERT(send_all(c, "c", 1));
	CU_ASSERT(recv_exact(s, buf, 2) && memcmp(buf, "bc", 2) == 0);
	CU_ASSERT(now_ms() - t0 >= 300 + 50);
	/* the other direction has no delay of its own; nothing to assert on time, only delivery */
	CU_ASSERT(send_all(s, "d", 1));
	CU_ASSERT(recv_exact(c, buf, 1) && buf[0] == 'd');
	close(c);
	close(s);
}

static void test_refused(void)
{
	int dead_port, lfd, port, c;

	CU_ASSERT_PTR_NOT_NULL_FATAL(F.p);
	/* a port nobody listens on: bound and closed again */
	lfd = listen_lo(0, &dead_port);
	CU_ASSERT_FATAL(lfd >= 0);
	close(lfd);
	CU_ASSERT_EQUAL(fp_proxy_link(F.p, 1, 3, dead_port, &port), RK_OK);
	c = connect_lo(port, 0);
	CU_ASSERT_FATAL(c >= 0);
	CU_ASSERT(closes(c));
	close(c);
	EVENTUALLY(1, 3, st.refused == 1 && st.closed == 1 && st.open == 0);
}

static void test_errors(void)
{
	struct fp_link_stats st;
	int port;

	CU_ASSERT_PTR_NOT_NULL_FATAL(F.p);
	CU_ASSERT_EQUAL(fp_proxy_link(F.p, 1, 2, F.to_port, &port), RK_EINVAL);
	CU_ASSERT_EQUAL(fp_proxy_link(F.p, 2, 1, F.to_port, &port), RK_EINVAL);
	CU_ASSERT_EQUAL(fp_proxy_link(F.p, 4, 4, F.to_port, &port), RK_EINVAL);
	CU_ASSERT_EQUAL(fp_proxy_link(F.p, 4, 5, 0, &port), RK_EINVAL);
	CU_ASSERT_EQUAL(fp_proxy_set(F.p, 1, 3, FP_CUT, 0), RK_ENOENT);
	CU_ASSERT_EQUAL(fp_proxy_set(F.p, 1, 2, (enum fp_mode)7, 0), RK_EINVAL);
	CU_ASSERT_EQUAL(fp_proxy_stats(F.p, 3, 1, &st), RK_ENOENT);
}

static void *control_thread(void *arg)
{
	unsigned src = *(unsigned *)arg;

	for (int i = 0; i < 300; i++) {
		fp_proxy_set(F.p, src, 3 - src, (enum fp_mode)(i % 3), (unsigned)i % 5);
		if (i % 7 == 0)
			fp_proxy_heal(F.p);
	}
	return NULL;
}

/* Control calls from several threads while traffic flows (for TSan, and for the queueing of
 * commands); then a heal leaves a working link. */
static void test_control_threads(void)
{
	unsigned one = 1, two = 2;
	pthread_t t1, t2;
	char buf[8];
	int c, s;

	CU_ASSERT_PTR_NOT_NULL_FATAL(F.p);
	CU_ASSERT_FATAL(open_pair(&c, &s, 0));
	CU_ASSERT_FATAL(pthread_create(&t1, NULL, control_thread, &one) == 0);
	CU_ASSERT_FATAL(pthread_create(&t2, NULL, control_thread, &two) == 0);
	for (int i = 0; i < 100; i++) {
		send(c, "x", 1, MSG_NOSIGNAL | MSG_DONTWAIT);
		send(s, "y", 1, MSG_NOSIGNAL | MSG_DONTWAIT);
	}
	pthread_join(t1, NULL);
	pthread_join(t2, NULL);
	fp_proxy_heal(F.p);
	close(c);
	close(s);
	/* the old pair may or may not have survived; a new one must work */
	CU_ASSERT_FATAL(open_pair(&c, &s, 0));
	CU_ASSERT(send_all(c, "ok", 2));
	CU_ASSERT(recv_exact(s, buf, 2) && memcmp(buf, "ok", 2) == 0);
	close(c);
	close(s);
}

/* Freeing proxies with connections open and bytes held closes and frees everything (the
 * leak check is valgrind's or LeakSanitizer's); two proxies live side by side. */
static void test_free_open(void)
{
	struct fp_proxy *q;
	int c[3], s[3], qc, qs, qport;

	CU_ASSERT_PTR_NOT_NULL_FATAL(F.p);
	CU_ASSERT_FATAL(fp_proxy_new(&q) == RK_OK);
	CU_ASSERT_FATAL(fp_proxy_link(q, 7, 8, F.to_port, &qport) == RK_OK);
	CU_ASSERT_EQUAL(fp_proxy_set(F.p, 1, 2, FP_PASS, 60000), RK_OK);
	for (int i = 0; i < 3; i++) {
		CU_ASSERT_FATAL(open_pair(&c[i], &s[i], 0));
		CU_ASSERT(send_all(c[i], "held", 4));
	}
	qc = connect_lo(qport, 0);
	CU_ASSERT_FATAL(qc >= 0);
	qs = accept_within(F.target, WAIT_MS);
	CU_ASSERT_FATAL(qs >= 0);
	CU_ASSERT(send_all(qc, "q", 1));
	CU_ASSERT(recv_exact(qs, &(char){0}, 1));
	fp_proxy_free(q);
	CU_ASSERT(closes(qc));
	CU_ASSERT(closes(qs));
	fp_proxy_free(F.p);
	F.p = NULL;
	for (int i = 0; i < 3; i++) {
		CU_ASSERT(closes(c[i]));
		CU_ASSERT(closes(s[i]));
		close(c[i]);
		close(s[i]);
	}
	close(qc);
	close(qs);
}

/* ---- shim: a probe process under LD_PRELOAD ---- */

static struct {
	char *root;     /* temporary directory */
	char data[512]; /* the prefix faults apply to */
	char other[512];
	char ctl_path[512];
	struct ffs_ctl *ctl;
} S;

static void shim_setup(void)
{
	memset(&S, 0, sizeof S);
	S.root = rk_test_tmpdir("faultio");
	if (S.root == NULL)
		return;
	snprintf(S.data, sizeof S.data, "%s/data", S.root);
	snprintf(S.other, sizeof S.other, "%s/other", S.root);
	snprintf(S.ctl_path, sizeof S.ctl_path, "%s/faultfs.ctl", S.root);
	if (mkdir(S.data, 0700) != 0 || mkdir(S.other, 0700) != 0 ||
	    ffs_ctl_create(S.ctl_path, S.data, &S.ctl) != RK_OK)
		S.ctl = NULL;
}

static void shim_teardown(void)
{
	ffs_ctl_close(S.ctl);
	rk_test_rmtree(S.root);
	S.ctl = NULL;
	S.root = NULL;
}

struct probe {
	pid_t pid;
	int in;  /* the probe's stdin */
	int out; /* its stdout */
};

enum env_kind { ENV_PLAIN, ENV_SHIM, ENV_SHIM_NO_CTL };

/* Start faultfs-probe on @dir for @rounds rounds with the shim (and @ctl_path), or without. */
static bool probe_start(struct probe *pr, enum env_kind kind, const char *ctl_path,
			const char *dir, int rounds)
{
	char rounds_s[16];
	char *argv[] = {RK_FAULTFS_PROBE, (char *)dir, rounds_s, NULL};
	char **env = NULL;
	int in[2], out[2];

	snprintf(rounds_s, sizeof rounds_s, "%d", rounds);
	if (kind != ENV_PLAIN) {
		if (ffs_child_env(environ, ctl_path, &env) != RK_OK)
			return false;
		if (kind == ENV_SHIM_NO_CTL) {
			size_t j = 0;

			for (size_t i = 0; env[i] != NULL; i++) {
				if (strncmp(env[i], FFS_ENV "=", strlen(FFS_ENV) + 1) == 0)
					free(env[i]);
				else
					env[j++] = env[i];
			}
			env[j] = NULL;
		}
	}
	if (pipe2(in, O_CLOEXEC) != 0)
		goto err_env;
	if (pipe2(out, O_CLOEXEC) != 0)
		goto err_in;
	pr->pid = fork();
	if (pr->pid < 0)
		goto err_out;
	if (pr->pid == 0) {
		/* only async-signal-safe calls between fork and exec */
		dup2(in[0], STDIN_FILENO);
		dup2(out[1], STDOUT_FILENO);
		execve(argv[0], argv, env != NULL ? env : environ);
		_exit(127);
	}
	close(in[0]);
	close(out[1]);
	pr->in = in[1];
	pr->out = out[0];
	ffs_child_env_free(env);
	return true;
err_out:
	close(out[0]);
	close(out[1]);
err_in:
	close(in[0]);
	close(in[1]);
err_env:
	ffs_child_env_free(env);
	return false;
}

/* Read one round of output (up to "end") into @buf; true if complete. */
static bool probe_round(struct probe *pr, char *buf, size_t size)
{
	size_t len = 0;
	uint64_t end = now_ms() + 30000;

	buf[0] = '\0';
	while (strstr(buf, "end\n") == NULL) {
		ssize_t r;

		if (len + 1 >= size || !readable_within(pr->out, left_ms(end)))
			return false;
		/* one byte at a time: the next round's lines must stay in the pipe */
		r = read(pr->out, buf + len, 1);
		if (r <= 0)
			return false;
		len += (size_t)r;
		buf[len] = '\0';
	}
	return true;
}

static void probe_next(struct probe *pr)
{
	CU_ASSERT(write(pr->in, "n", 1) == 1);
}

/* Close the pipes and wait for the probe; its exit status (or -1). */
static int probe_finish(struct probe *pr)
{
	int status;

	close(pr->in);
	close(pr->out);
	if (waitpid(pr->pid, &status, 0) != pr->pid)
		return -1;
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/* The number after "@key=" in a round's output, or -1000 when missing. */
static long val(const char *out, const char *key)
{
	size_t n = strlen(key);

	for (const char *p = out; p != NULL && *p != '\0'; p = strchr(p, '\n'), p = p ? p + 1 : p)
		if (strncmp(p, key, n) == 0 && p[n] == '=')
			return strtol(p + n + 1, NULL, 10);
	return -1000;
}

/* One round of the probe on @dir, output in @buf. */
static bool probe_once(enum env_kind kind, const char *ctl_path, const char *dir, char *buf,
		       size_t size)
{
	struct probe pr;
	bool ok;

	if (!probe_start(&pr, kind, ctl_path, dir, 1))
		return false;
	ok = probe_round(&pr, buf, size);
	if (probe_finish(&pr) != 0)
		ok = false;
	if (!ok)
		fprintf(stderr, "\nprobe output:\n%s\n", buf);
	return ok;
}

static const char *const write_steps[] = {"write", "pwrite", "pwrite64", "writev", "pwritev",
					  "pwritev2", "fallocate", "fallocate64",
					  "posix_fallocate"};
static const char *const sync_steps[] = {"fdatasync", "fsync", "sync_file_range", "dirfsync"};
static const char *const all_steps[] = {"open", "write", "pwrite", "pwrite64", "writev",
					"pwritev", "pwritev2", "fallocate", "fallocate64",
					"posix_fallocate", "fdatasync", "fsync",
					"sync_file_range", "dirfsync"};

#define N_OF(a) (sizeof(a) / sizeof((a)[0]))

/* Every step of @got as in @want (a run without the shim: fallocate may be unsupported). */
static void same_results(const char *got, const char *want)
{
	for (size_t i = 0; i < N_OF(all_steps); i++) {
		if (val(got, all_steps[i]) != val(want, all_steps[i]))
			fprintf(stderr, "\n%s: %ld, without the shim %ld\n", all_steps[i],
				val(got, all_steps[i]), val(want, all_steps[i]));
		CU_ASSERT_EQUAL(val(got, all_steps[i]), val(want, all_steps[i]));
	}
}

static char baseline[4096];

static void get_baseline(void)
{
	CU_ASSERT_FATAL(probe_once(ENV_PLAIN, NULL, S.data, baseline, sizeof baseline));
	CU_ASSERT_EQUAL(val(baseline, "write"), 0);
	CU_ASSERT_EQUAL(val(baseline, "pwrite"), 0);
	CU_ASSERT_EQUAL(val(baseline, "fsync"), 0);
	CU_ASSERT_EQUAL(val(baseline, "fdatasync"), 0);
}

/* ---- shim tests ---- */

static void test_shim_passthrough(void)
{
	char out[4096];

	CU_ASSERT_PTR_NOT_NULL_FATAL(S.ctl);
	get_baseline();
	CU_ASSERT_FATAL(probe_once(ENV_SHIM, S.ctl_path, S.data, out, sizeof out));
	same_results(out, baseline);
	CU_ASSERT_EQUAL(ffs_ctl_hits(S.ctl), 0);
}

static void test_shim_bad_control(void)
{
	char out[4096], bad[600];
	FILE *f;

	CU_ASSERT_PTR_NOT_NULL_FATAL(S.ctl);
	get_baseline();
	ffs_ctl_set(S.ctl, FFS_FSYNC_EIO | FFS_WRITE_ENOSPC, 0);
	/* no RK_FAULTFS at all */
	CU_ASSERT_FATAL(probe_once(ENV_SHIM_NO_CTL, S.ctl_path, S.data, out, sizeof out));
	same_results(out, baseline);
	/* a file that is not a control block, and one that does not exist */
	snprintf(bad, sizeof bad, "%s/bad.ctl", S.root);
	f = fopen(bad, "w");
	CU_ASSERT_FATAL(f != NULL);
	for (int i = 0; i < 100; i++)
		fputs("not a control block\n", f);
	fclose(f);
	CU_ASSERT_FATAL(probe_once(ENV_SHIM, bad, S.data, out, sizeof out));
	same_results(out, baseline);
	snprintf(bad, sizeof bad, "%s/missing.ctl", S.root);
	CU_ASSERT_FATAL(probe_once(ENV_SHIM, bad, S.data, out, sizeof out));
	same_results(out, baseline);
	CU_ASSERT_EQUAL(ffs_ctl_hits(S.ctl), 0);
}

static void test_shim_fsync_eio(void)
{
	char out[4096];

	CU_ASSERT_PTR_NOT_NULL_FATAL(S.ctl);
	get_baseline();
	ffs_ctl_set(S.ctl, FFS_FSYNC_EIO, 0);
	CU_ASSERT_FATAL(probe_once(ENV_SHIM, S.ctl_path, S.data, out, sizeof out));
	for (size_t i = 0; i < N_OF(sync_steps); i++)
		CU_ASSERT_EQUAL(val(out, sync_steps[i]), EIO);
	for (size_t i = 0; i < N_OF(write_steps); i++)
		CU_ASSERT_EQUAL(val(out, write_steps[i]), val(baseline, write_steps[i]));
	CU_ASSERT_EQUAL(ffs_ctl_hits(S.ctl), N_OF(sync_steps));
}

static void test_shim_write_enospc(void)
{
	char out[4096];

	CU_ASSERT_PTR_NOT_NULL_FATAL(S.ctl);
	ffs_ctl_set(S.ctl, FFS_WRITE_ENOSPC, 0);
	/* the probe's own output is written to a pipe with write(2) and must still arrive */
	CU_ASSERT_FATAL(probe_once(ENV_SHIM, S.ctl_path, S.data, out, sizeof out));
	CU_ASSERT_EQUAL(val(out, "open"), 0);
	for (size_t i = 0; i < N_OF(write_steps); i++)
		CU_ASSERT_EQUAL(val(out, write_steps[i]), ENOSPC);
	for (size_t i = 0; i < N_OF(sync_steps); i++)
		CU_ASSERT_EQUAL(val(out, sync_steps[i]), 0);
	CU_ASSERT_EQUAL(ffs_ctl_hits(S.ctl), N_OF(write_steps));
}

static void test_shim_outside_prefix(void)
{
	char out[4096];

	CU_ASSERT_PTR_NOT_NULL_FATAL(S.ctl);
	get_baseline();
	ffs_ctl_set(S.ctl, FFS_FSYNC_EIO | FFS_WRITE_ENOSPC | FFS_FSYNC_SLOW, 5000);
	/* S.other, and S.data's sibling whose name merely starts like it */
	CU_ASSERT_FATAL(probe_once(ENV_SHIM, S.ctl_path, S.other, out, sizeof out));
	same_results(out, baseline);
	strcat(S.other, "/../data2");
	CU_ASSERT_FATAL(mkdir(S.other, 0700) == 0);
	CU_ASSERT_FATAL(probe_once(ENV_SHIM, S.ctl_path, S.other, out, sizeof out));
	same_results(out, baseline);
	CU_ASSERT_EQUAL(ffs_ctl_hits(S.ctl), 0);
}

static void test_shim_slow(void)
{
	char out[4096];

	CU_ASSERT_PTR_NOT_NULL_FATAL(S.ctl);
	ffs_ctl_set(S.ctl, FFS_FSYNC_SLOW, 300);
	CU_ASSERT_FATAL(probe_once(ENV_SHIM, S.ctl_path, S.data, out, sizeof out));
	CU_ASSERT_EQUAL(val(out, "fsync"), 0);
	CU_ASSERT_EQUAL(val(out, "fdatasync"), 0);
	CU_ASSERT_EQUAL(val(out, "dirfsync"), 0);
	CU_ASSERT(val(out, "fsync_ms") >= 300);
	CU_ASSERT(val(out, "fdatasync_ms") >= 300);
	/* fsync, fdatasync and the directory's fsync; sync_file_range is never slowed */
	CU_ASSERT_EQUAL(ffs_ctl_hits(S.ctl), 3);
}

/* Faults switched while the process runs take effect at its next call. */
static void test_shim_toggle(void)
{
	struct probe pr;
	char out[4096];

	CU_ASSERT_PTR_NOT_NULL_FATAL(S.ctl);
	CU_ASSERT_FATAL(probe_start(&pr, ENV_SHIM, S.ctl_path, S.data, 3));
	CU_ASSERT(probe_round(&pr, out, sizeof out));
	CU_ASSERT_EQUAL(val(out, "fsync"), 0);
	CU_ASSERT_EQUAL(val(out, "write"), 0);
	ffs_ctl_set(S.ctl, FFS_FSYNC_EIO | FFS_WRITE_ENOSPC, 0);
	probe_next(&pr);
	CU_ASSERT(probe_round(&pr, out, sizeof out));
	CU_ASSERT_EQUAL(val(out, "fsync"), EIO);
	CU_ASSERT_EQUAL(val(out, "write"), ENOSPC);
	CU_ASSERT_EQUAL(ffs_ctl_hits(S.ctl), N_OF(sync_steps) + N_OF(write_steps));
	ffs_ctl_set(S.ctl, 0, 0);
	probe_next(&pr);
	CU_ASSERT(probe_round(&pr, out, sizeof out));
	CU_ASSERT_EQUAL(val(out, "fsync"), 0);
	CU_ASSERT_EQUAL(val(out, "write"), 0);
	CU_ASSERT_EQUAL(probe_finish(&pr), 0);
	CU_ASSERT_EQUAL(ffs_ctl_hits(S.ctl), N_OF(sync_steps) + N_OF(write_steps));
}

/* A prefix given through a symlink matches the files' real names. */
static void test_shim_symlink_prefix(void)
{
	char link[600], ctl2[600], out[4096];
	struct ffs_ctl *c2;

	CU_ASSERT_PTR_NOT_NULL_FATAL(S.ctl);
	snprintf(link, sizeof link, "%s/link", S.root);
	snprintf(ctl2, sizeof ctl2, "%s/faultfs2.ctl", S.root);
	CU_ASSERT_FATAL(symlink(S.data, link) == 0);
	CU_ASSERT_FATAL(ffs_ctl_create(ctl2, link, &c2) == RK_OK);
	ffs_ctl_set(c2, FFS_FSYNC_EIO, 0);
	CU_ASSERT_FATAL(probe_once(ENV_SHIM, ctl2, link, out, sizeof out));
	CU_ASSERT_EQUAL(val(out, "fsync"), EIO);
	CU_ASSERT_EQUAL(ffs_ctl_hits(c2), N_OF(sync_steps));
	ffs_ctl_close(c2);
	CU_ASSERT_EQUAL(ffs_ctl_create(ctl2, "", &c2), RK_EINVAL);
}

static CU_TestInfo proxy_tests[] = {
	{"roundtrip", test_roundtrip},
	{"stream_backpressure", test_stream_backpressure},
	{"blackhole", test_blackhole},
	{"blackhole_fin", test_blackhole_fin},
	{"cut", test_cut},
	{"delay", test_delay},
	{"refused", test_refused},
	{"errors", test_errors},
	{"control_threads", test_control_threads},
	{"free_open", test_free_open},
	CU_TEST_INFO_NULL,
};

static CU_TestInfo shim_tests[] = {
	{"passthrough", test_shim_passthrough},
	{"bad_control", test_shim_bad_control},
	{"fsync_eio", test_shim_fsync_eio},
	{"write_enospc", test_shim_write_enospc},
	{"outside_prefix", test_shim_outside_prefix},
	{"slow", test_shim_slow},
	{"toggle", test_shim_toggle},
	{"symlink_prefix", test_shim_symlink_prefix},
	CU_TEST_INFO_NULL,
};

static CU_SuiteInfo suites[] = {
	{"proxy", NULL, NULL, proxy_setup, proxy_teardown, proxy_tests},
	{"shim", NULL, NULL, shim_setup, shim_teardown, shim_tests},
	CU_SUITE_INFO_NULL,
};

int main(int argc, char **argv)
{
	/* a peer closing while we write must be an error return, not a signal */
	signal(SIGPIPE, SIG_IGN);
	return rk_test_main(argc, argv, suites);
}

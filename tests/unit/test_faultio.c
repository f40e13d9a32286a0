/* test_faultio.c -- the fault runner's building blocks: the TCP fault proxy (tests/fault/proxy.c).
 *
 * Proxy tests hold both ends themselves: a client socket dialled to the link's port (node a)
 * and the socket the target listener accepted from the proxy (node b), so that every byte in
 * either direction is checked where it arrives. Time is asserted only as a lower bound (a
 * delayed byte is never early); "nothing arrives" waits a short while, which can only ever
 * make such a check pass wrongly, never fail on a slow machine.
 */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
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
#include <time.h>
#include <unistd.h>

#include "common/err.h"
#include "fault/proxy.h"
#include "harness/runner.h"

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

		if (!readable_within(fd, (int)(end > now_ms() ? end - now_ms() : 0)))
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

		if (!readable_within(fd, (int)(end > now_ms() ? end - now_ms() : 0)))
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

static CU_SuiteInfo suites[] = {
	{"proxy", NULL, NULL, proxy_setup, proxy_teardown, proxy_tests},
	CU_SUITE_INFO_NULL,
};

int main(int argc, char **argv)
{
	/* a peer closing while we write must be an error return, not a signal */
	signal(SIGPIPE, SIG_IGN);
	return rk_test_main(argc, argv, suites);
}

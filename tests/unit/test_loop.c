/* test_loop.c -- the io thread's event loop over real loopback sockets: echo across many
 * connections, bad input closing only the offending connection, send-queue bounds, outbound
 * connects, and stop with connections open. */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/err.h"
#include "harness/runner.h"
#include "net/frame.h"
#include "net/loop.h"

enum { KIND_CLIENT = 1, KIND_PEER = 2 };

struct echo {
	struct rk_loop *loop;
	atomic_int opened, closed, frames, refuse_type; /* refuse_type: on_frame fails on it */
	atomic_int last_close_reason;
	atomic_ullong last_open_conn, last_open_tag, last_close_tag;
};

static void on_open(void *data, uint64_t conn, int kind, uint64_t tag)
{
	struct echo *e = data;

	(void)kind;
	atomic_store(&e->last_open_conn, conn);
	atomic_store(&e->last_open_tag, tag);
	atomic_fetch_add(&e->opened, 1);
}

static int on_frame(void *data, uint64_t conn, int kind, uint64_t tag, uint8_t type,
		    const uint8_t *payload, size_t len)
{
	struct echo *e = data;
	struct rk_obuf *b;

	(void)kind;
	(void)tag;
	atomic_fetch_add(&e->frames, 1);
	if (type == atomic_load(&e->refuse_type))
		return RK_EFRAME_DECODE;
	b = rk_obuf_new(RK_FRAME_HEADER_SIZE + len);
	if (b == NULL)
		return RK_ENOMEM;
	rk_frame_header_write(b->data, type, (uint32_t)len);
	memcpy(b->data + RK_FRAME_HEADER_SIZE, payload, len);
	b->len = RK_FRAME_HEADER_SIZE + len;
	return rk_loop_send(e->loop, conn, b, 0) == RK_OK ? RK_OK : RK_EIO;
}

static void on_close(void *data, uint64_t conn, int kind, uint64_t tag, int reason)
{
	struct echo *e = data;

	(void)conn;
	(void)kind;
	atomic_store(&e->last_close_reason, reason);
	atomic_store(&e->last_close_tag, tag);
	atomic_fetch_add(&e->closed, 1);
}

static struct echo E;
static struct sockaddr_in client_addr, peer_addr;

static int loop_setup(size_t max_send)
{
	struct rk_loop_config cfg = {
		.max_frame = 1u << 20,
		.max_send_bytes = max_send,
		.max_conns = 64,
		.h = { &E, on_open, on_frame, on_close },
	};
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = 0 };
	struct sockaddr_storage ss;
	socklen_t len;

	memset(&E, 0, sizeof E);
	atomic_store(&E.refuse_type, -1);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (rk_loop_new(&cfg, &E.loop) != RK_OK)
		return -1;
	if (rk_loop_listen(E.loop, (struct sockaddr *)&sa, sizeof sa, KIND_CLIENT, NULL) != RK_OK ||
	    rk_loop_listen(E.loop, (struct sockaddr *)&sa, sizeof sa, KIND_PEER, NULL) != RK_OK)
		return -1;
	rk_loop_listen_addr(E.loop, 0, &ss, &len);
	memcpy(&client_addr, &ss, sizeof client_addr);
	rk_loop_listen_addr(E.loop, 1, &ss, &len);
	memcpy(&peer_addr, &ss, sizeof peer_addr);
	return rk_loop_start(E.loop) == RK_OK ? 0 : -1;
}

static int setup(void)
{
	return loop_setup(1u << 20);
}

static int teardown(void)
{
	rk_loop_free(E.loop);
	return 0;
}

static int dial(const struct sockaddr_in *sa)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct timeval tv = { .tv_sec = 10 };

	if (fd < 0)
		return -1;
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
	if (connect(fd, (const struct sockaddr *)sa, sizeof *sa) != 0) {
		close(fd);
		return -1;
	}
	return fd;
}

static int write_all(int fd, const void *p, size_t n)
{
	const uint8_t *b = p;

	while (n > 0) {
		ssize_t w = write(fd, b, n);
		if (w <= 0)
			return -1;
		b += w;
		n -= (size_t)w;
	}
	return 0;
}

static int read_all(int fd, void *p, size_t n)
{
	uint8_t *b = p;

	while (n > 0) {
		ssize_t r = read(fd, b, n);
		if (r <= 0)
			return -1;
		b += r;
		n -= (size_t)r;
	}
	return 0;
}

static int send_frame(int fd, uint8_t type, const void *payload, uint32_t len)
{
	uint8_t h[RK_FRAME_HEADER_SIZE];

	rk_frame_header_write(h, type, len);
	if (write_all(fd, h, sizeof h) != 0)
		return -1;
	return write_all(fd, payload, len);
}

/* Read one frame back; returns its payload length or -1. */
static long recv_frame(int fd, uint8_t *type, void *payload, size_t cap)
{
	uint8_t h[RK_FRAME_HEADER_SIZE];
	uint32_t len;

	if (read_all(fd, h, sizeof h) != 0)
		return -1;
	if (rk_frame_header_parse(h, sizeof h, (uint32_t)cap, type, &len) != RK_OK)
		return -1;
	if (read_all(fd, payload, len) != 0)
		return -1;
	return (long)len;
}

/* True once the server has closed @fd (read returns EOF or reset). */
static int is_closed_by_peer(int fd)
{
	uint8_t b[256];
	ssize_t r;

	for (;;) {
		r = read(fd, b, sizeof b);
		if (r == 0 || (r < 0 && errno == ECONNRESET))
			return 1;
		if (r < 0)
			return 0; /* timeout: still open */
	}
}

static int wait_for(atomic_int *v, int want)
{
	for (int i = 0; i < 5000 && atomic_load(v) < want; i++)
		usleep(1000);
	return atomic_load(v) >= want;
}

static void test_echo_many_connections(void)
{
	int fds[10];
	uint8_t buf[2048], type;
	char msg[64];

	for (int i = 0; i < 10; i++) {
		fds[i] = dial(&client_addr);
		CU_ASSERT_FATAL(fds[i] >= 0);
	}
	/* Interleave: each round sends one frame per connection, then reads each reply. */
	for (int round = 0; round < 100; round++) {
		for (int i = 0; i < 10; i++) {
			int n = snprintf(msg, sizeof msg, "conn %d round %d", i, round);
			CU_ASSERT_EQUAL_FATAL(send_frame(fds[i], RK_FRAME_CLIENT_REQUEST, msg, (uint32_t)n), 0);
		}
		for (int i = 0; i < 10; i++) {
			int n = snprintf(msg, sizeof msg, "conn %d round %d", i, round);
			CU_ASSERT_EQUAL_FATAL(recv_frame(fds[i], &type, buf, sizeof buf), n);
			CU_ASSERT_EQUAL(type, RK_FRAME_CLIENT_REQUEST);
			CU_ASSERT(memcmp(buf, msg, (size_t)n) == 0);
		}
	}
	CU_ASSERT_EQUAL(atomic_load(&E.frames), 1000);
	for (int i = 0; i < 10; i++)
		close(fds[i]);
	CU_ASSERT(wait_for(&E.closed, 10));
	CU_ASSERT_EQUAL(atomic_load(&E.last_close_reason), RK_OK);
}

/* A pipelined burst in one write comes back whole and in order. */
static void test_pipelined_burst(void)
{
	uint8_t stream[200 * (RK_FRAME_HEADER_SIZE + 100)], buf[256], type;
	size_t off = 0;
	int fd = dial(&client_addr);

	CU_ASSERT_FATAL(fd >= 0);
	for (int i = 0; i < 200; i++) {
		rk_frame_header_write(stream + off, RK_FRAME_CLIENT_RESPONSE, 100);
		memset(stream + off + RK_FRAME_HEADER_SIZE, i, 100);
		off += RK_FRAME_HEADER_SIZE + 100;
	}
	CU_ASSERT_EQUAL_FATAL(write_all(fd, stream, off), 0);
	for (int i = 0; i < 200; i++) {
		CU_ASSERT_EQUAL_FATAL(recv_frame(fd, &type, buf, sizeof buf), 100);
		CU_ASSERT_EQUAL(buf[0], (uint8_t)i);
		CU_ASSERT_EQUAL(buf[99], (uint8_t)i);
	}
	close(fd);
}

static void test_bad_input_closes_only_that_connection(void)
{
	static const char garbage[] = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";
	uint8_t huge[RK_FRAME_HEADER_SIZE], buf[64], type;
	struct rk_loop_stats st;
	int good = dial(&client_addr), bad;

	CU_ASSERT_FATAL(good >= 0);
	/* Garbage bytes. */
	bad = dial(&client_addr);
	CU_ASSERT_EQUAL_FATAL(write_all(bad, garbage, sizeof garbage - 1), 0);
	CU_ASSERT(is_closed_by_peer(bad));
	close(bad);
	/* A header announcing more than max_frame. */
	bad = dial(&client_addr);
	rk_frame_header_write(huge, RK_FRAME_CLIENT_REQUEST, 0x7FFFFFFF);
	CU_ASSERT_EQUAL_FATAL(write_all(bad, huge, sizeof huge), 0);
	CU_ASSERT(is_closed_by_peer(bad));
	close(bad);
	/* A well-framed message the handler refuses (e.g. a payload that does not decode). */
	atomic_store(&E.refuse_type, RK_FRAME_CLIENT_RESPONSE);
	bad = dial(&client_addr);
	CU_ASSERT_EQUAL_FATAL(send_frame(bad, RK_FRAME_CLIENT_RESPONSE, "zz", 2), 0);
	CU_ASSERT(is_closed_by_peer(bad));
	close(bad);
	/* A truncated frame followed by EOF: closed quietly, nothing delivered. */
	bad = dial(&client_addr);
	CU_ASSERT_EQUAL_FATAL(write_all(bad, huge, 5), 0);
	close(bad);

	/* The well-behaved client never noticed. */
	CU_ASSERT_EQUAL_FATAL(send_frame(good, RK_FRAME_CLIENT_REQUEST, "still here", 10), 0);
	CU_ASSERT_EQUAL(recv_frame(good, &type, buf, sizeof buf), 10);
	CU_ASSERT(memcmp(buf, "still here", 10) == 0);
	rk_loop_stats(E.loop, &st);
	CU_ASSERT_EQUAL(st.proto_errors, 3);
	close(good);
}

/* The server side of the connection a test client holds: the last one opened. */
static uint64_t accepted_conn(int before)
{
	wait_for(&E.opened, before + 1);
	return atomic_load(&E.last_open_conn);
}

static struct rk_obuf *blob(size_t n)
{
	struct rk_obuf *b = rk_obuf_new(n);

	memset(b->data, 'x', n);
	b->len = n;
	return b;
}

static void test_send_queue_bounds(void)
{
	struct rk_loop_stats st;
	int fd, before;
	uint64_t conn;

	/* A client that never reads: droppable messages over the bound are dropped... */
	before = atomic_load(&E.opened);
	fd = dial(&client_addr);
	CU_ASSERT_FATAL(fd >= 0);
	conn = accepted_conn(before);
	for (int i = 0; i < 200; i++)
		CU_ASSERT_EQUAL(rk_loop_send(E.loop, conn, blob(64 << 10), RK_SEND_DROPPABLE), RK_OK);
	for (int i = 0; i < 2000; i++) {
		rk_loop_stats(E.loop, &st);
		if (st.dropped_msgs > 0)
			break;
		usleep(1000);
	}
	CU_ASSERT(st.dropped_msgs > 0);
	/* ...and the connection stays up. */
	CU_ASSERT_EQUAL(atomic_load(&E.closed), 0);
	/* A reply that does not fit closes it instead. */
	for (int i = 0; i < 200; i++)
		rk_loop_send(E.loop, conn, blob(64 << 10), 0);
	CU_ASSERT(wait_for(&E.closed, 1));
	CU_ASSERT_EQUAL(atomic_load(&E.last_close_reason), RK_EFULL);
	close(fd);
	/* Sending to a connection that is gone is harmless. */
	CU_ASSERT_EQUAL(rk_loop_send(E.loop, conn, blob(10), 0), RK_OK);
}

static void test_outbound_connect(void)
{
	struct sockaddr_in nowhere = peer_addr;
	int fd;

	/* The loop dials its own peer listener: both ends open, tag reported on ours. */
	CU_ASSERT_EQUAL(rk_loop_connect(E.loop, (struct sockaddr *)&peer_addr, sizeof peer_addr,
					KIND_PEER, 77),
			RK_OK);
	CU_ASSERT(wait_for(&E.opened, 2));
	/* Dial a port nobody listens on: find one by binding and closing. */
	fd = socket(AF_INET, SOCK_STREAM, 0);
	nowhere.sin_port = 0;
	bind(fd, (struct sockaddr *)&nowhere, sizeof nowhere);
	{
		socklen_t l = sizeof nowhere;
		getsockname(fd, (struct sockaddr *)&nowhere, &l);
	}
	close(fd);
	CU_ASSERT_EQUAL(rk_loop_connect(E.loop, (struct sockaddr *)&nowhere, sizeof nowhere,
					KIND_PEER, 99),
			RK_OK);
	CU_ASSERT(wait_for(&E.closed, 1));
	CU_ASSERT_EQUAL(atomic_load(&E.last_close_tag), 99);
	CU_ASSERT_EQUAL(atomic_load(&E.last_close_reason), RK_EIO);
}

static void test_close_flushes_first(void)
{
	uint8_t buf[16], type;
	int before = atomic_load(&E.opened), fd = dial(&client_addr);
	uint64_t conn = accepted_conn(before);
	struct rk_obuf *b = rk_obuf_new(RK_FRAME_HEADER_SIZE + 3);

	rk_frame_header_write(b->data, RK_FRAME_CLIENT_RESPONSE, 3);
	memcpy(b->data + RK_FRAME_HEADER_SIZE, "bye", 3);
	b->len = RK_FRAME_HEADER_SIZE + 3;
	CU_ASSERT_EQUAL(rk_loop_send(E.loop, conn, b, 0), RK_OK);
	CU_ASSERT_EQUAL(rk_loop_close(E.loop, conn), RK_OK);
	CU_ASSERT_EQUAL(recv_frame(fd, &type, buf, sizeof buf), 3);
	CU_ASSERT(is_closed_by_peer(fd));
	close(fd);
}

static void test_stop_closes_everything(void)
{
	int fds[3];

	for (int i = 0; i < 3; i++)
		fds[i] = dial(&client_addr);
	CU_ASSERT(wait_for(&E.opened, 3));
	rk_loop_stop(E.loop);
	CU_ASSERT_EQUAL(atomic_load(&E.closed), 3);
	CU_ASSERT_EQUAL(atomic_load(&E.last_close_reason), RK_ESHUTDOWN);
	for (int i = 0; i < 3; i++) {
		CU_ASSERT(is_closed_by_peer(fds[i]));
		close(fds[i]);
	}
	CU_ASSERT_EQUAL(rk_loop_send(E.loop, 1, blob(4), 0), RK_ESHUTDOWN);
}

static int setup_small_queue(void)
{
	return loop_setup(256u << 10);
}

static CU_TestInfo loop_tests[] = {
	{ "echo_many_connections", test_echo_many_connections },
	{ "pipelined_burst", test_pipelined_burst },
	{ "bad_input_closes_only_that_connection", test_bad_input_closes_only_that_connection },
	{ "outbound_connect", test_outbound_connect },
	{ "close_flushes_first", test_close_flushes_first },
	{ "stop_closes_everything", test_stop_closes_everything },
	CU_TEST_INFO_NULL,
};

static CU_TestInfo bound_tests[] = {
	{ "send_queue_bounds", test_send_queue_bounds },
	CU_TEST_INFO_NULL,
};

static CU_SuiteInfo suites[] = {
	{ "loop", NULL, NULL, (CU_SetUpFunc)setup, (CU_TearDownFunc)teardown, loop_tests },
	{ "loop_bounds", NULL, NULL, (CU_SetUpFunc)setup_small_queue, (CU_TearDownFunc)teardown, bound_tests },
	CU_SUITE_INFO_NULL,
};

int main(int argc, char **argv)
{
	return rk_test_main(argc, argv, suites);
}

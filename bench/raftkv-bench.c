/* raftkv-bench -- load generator for raftkv and, with --etcd, for etcd's v3 JSON gateway.
 *
 *   raftkv-bench [--endpoints=H:P,...] [--conns=N] [--clients=M] [--target-leader] [--etcd]
 *                [--rate=R] [--duration=S | --total=T] [--warmup=S] [--server-pids=P,...]
 *                [--json] COMMAND [command options]
 *   COMMAND: put [--key-size=16] [--val-size=256] [--sequential-keys] [--key-space=K]
 *            get [KEY] [--key-space=K] [--consistency=l|s]
 *            mixed [--read-ratio=0.9] [--key-space=K] [--consistency=l|s]
 *            status
 *
 * Design. One thread, one epoll set. M logical clients share N connections (client i uses
 * connection i mod N); each client has exactly one request outstanding, so M is the
 * concurrency the server sees and raftkv connections carry up to ceil(M/N) pipelined requests
 * matched back by id. etcd's gateway speaks HTTP/1.1, which cannot match replies out of order,
 * so in etcd mode every client owns its own keep-alive connection (N = M).
 *
 * The client must not hide the server's cost: every buffer is allocated before the clock
 * starts, requests are written straight into the connection's output buffer by a hand encoder
 * (wire.c), replies are decoded in place, and all requests generated while handling one batch
 * of events leave in one write() per connection. Latency is measured from the moment a request
 * is generated (or, with --rate, from the moment it was due: a server that falls behind the
 * schedule is charged the queueing it caused) to the moment its reply is parsed, and recorded
 * in a log-bucketed histogram (hist.h). Server CPU comes from /proc/PID/stat (utime + stime,
 * clock ticks) around the measured window; the client reports its own CPU the same way.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include "bench/hist.h"
#include "bench/wire.h"
#include "client.pb-c.h"
#include "common/err.h"
#include "net/frame.h"

#define MAX_ENDPOINTS 16
#define MAX_CLIENTS 65536
#define MAX_PIDS 16
#define IN_BUF (256u << 10)    /* initial receive buffer per connection */
#define ID_CLIENT_SHIFT 40     /* request id = client index << 40 | per-client counter */
#define N_STATUS 11            /* raftkv.Status values 0..10 */
#define HTTP_CODES 600

enum mode { MODE_PUT, MODE_GET, MODE_MIXED, MODE_STATUS };
enum phase { PH_WARMUP, PH_MEASURE, PH_DRAIN, PH_DONE };
enum kind { K_WRITE, K_READ };

struct endpoint {
	char text[128];        /* host:port as given (scheme stripped) */
	struct sockaddr_storage sa;
	socklen_t salen;
};

struct opts {
	struct endpoint ep[MAX_ENDPOINTS];
	int n_ep;
	int conns, clients;
	bool target_leader, etcd, json, no_session;
	double rate;           /* ops/s over all clients; 0: as fast as replies come */
	double duration;       /* s; 0: run --total requests */
	double warmup;         /* s, discarded before measuring (--duration runs only) */
	double timeout;        /* s to wait for outstanding replies at the end */
	uint64_t total;
	pid_t pids[MAX_PIDS];
	int n_pids;
	enum mode mode;
	size_t key_size, val_size;
	bool sequential;
	uint64_t key_space;    /* 0: unbounded (sequential puts) */
	bool serializable;
	double read_ratio;
	const char *fixed_key; /* get KEY */
	uint64_t seed;
};

struct conn {
	int fd;
	int ep;                /* index into opts.ep */
	bool dead, dirty, polling_out;
	uint8_t *in;
	size_t in_len, in_cap;
	uint8_t *out;
	size_t out_off, out_len, out_cap;
	struct conn *next_dirty;
	int http_client;       /* etcd: the client waiting on this connection, or -1 */
};

struct client {
	struct conn *c;
	uint64_t req_id;       /* id of the outstanding request */
	uint64_t counter;      /* requests issued */
	uint64_t client_id;    /* session id (raftkv writes) */
	uint64_t seq;          /* last session seq used */
	uint64_t t0;           /* ns: when the outstanding request was due */
	uint64_t rng;
	enum kind kind;
	bool busy, dead, counted; /* counted: outstanding request belongs to the measurement */
};

struct stats {
	uint64_t ok, misses, errors;
	uint64_t status[N_STATUS];      /* raftkv */
	uint64_t http[HTTP_CODES];      /* etcd */
	uint64_t conn_lost, bad_reply, unfinished;
	struct rkb_hist all, kind[2];
};

static struct opts O = {
	.conns = 1, .clients = 1, .timeout = 10, .key_size = 16, .val_size = 256,
	.read_ratio = 0.9,
};
static struct conn *conns;
static struct client *clients;
static struct stats S;
static int epfd = -1, tfd = -1;
static enum phase phase;
static uint64_t t_start, t_end, t_measure, t_stop, t_last;
static uint64_t issued, next_key, next_slot, slot_ns;
static int *idle;              /* stack of client indexes with nothing outstanding */
static int n_idle;
static int n_live;           /* clients whose connection is up */
static struct conn *dirty_head;
static uint8_t *value;         /* val_size bytes, same for every put */
static char *value_b64;
static size_t value_b64_len;
static char http_head_put[256], http_head_get[256];
static size_t http_head_put_len, http_head_get_len;
static int leader_ep = -1;

static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

static void die(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fputs("raftkv-bench: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
	exit(2);
}

static void *xcalloc(size_t n, size_t size)
{
	void *p = calloc(n, size);

	if (p == NULL)
		die("out of memory");
	return p;
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static uint64_t xorshift(uint64_t *s)
{
	uint64_t x = *s;

	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	return *s = x;
}

/* ---- options ---- */

static void usage(FILE *f)
{
	fputs("usage: raftkv-bench [OPTIONS] put|get [KEY]|mixed|status [COMMAND OPTIONS]\n"
	      "  --endpoints=H:P,...   servers (default 127.0.0.1:7001); etcd: its client URLs\n"
	      "  --conns=N             connections (raftkv; etcd uses one per client)\n"
	      "  --clients=M           concurrent clients, one request outstanding each\n"
	      "  --target-leader       send everything to the leader (found by a status call)\n"
	      "  --etcd                drive etcd's v3 JSON gateway over HTTP/1.1\n"
	      "  --total=T             requests to send (default 10000)\n"
	      "  --duration=S          measure for S seconds instead of --total\n"
	      "  --warmup=S            run S seconds unmeasured first (with --duration)\n"
	      "  --rate=R              at most R requests/s in all (latency at a fixed load)\n"
	      "  --timeout=S           wait at most S seconds for replies at the end (default 10)\n"
	      "  --server-pids=P,...   report the CPU these processes used per op\n"
	      "  --no-session          writes without a session (client_id 0)\n"
	      "  --json                one JSON line instead of the report\n"
	      "  --seed=N              seed of the key generator\n"
	      "put:   --key-size=16 --val-size=256 [--sequential-keys] [--key-space=K]\n"
	      "get:   [KEY] [--key-space=10000] [--consistency=l|s]\n"
	      "mixed: [--read-ratio=0.9] [--key-space=10000] [--consistency=l|s] + put options\n"
	      "status: print each endpoint's role and the leader\n",
	      f);
}

static double parse_double(const char *name, const char *s, double min)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(s, &end);
	if (errno != 0 || end == s || *end != '\0' || !(v >= min))
		die("--%s: bad value '%s'", name, s);
	return v;
}

static uint64_t parse_u64(const char *name, const char *s, uint64_t min, uint64_t max)
{
	char *end;
	unsigned long long v;

	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || *s == '-' || v < min || v > max)
		die("--%s: bad value '%s' (%" PRIu64 "..%" PRIu64 ")", name, s, min, max);
	return v;
}

static void parse_endpoint(struct endpoint *e, const char *s, size_t n)
{
	struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM }, *res;
	char host[128], *colon;
	int rv;

	if (n >= 7 && strncmp(s, "http://", 7) == 0) {
		s += 7;
		n -= 7;
	}
	while (n > 0 && s[n - 1] == '/')
		n--;
	if (n == 0 || n >= sizeof e->text)
		die("bad endpoint '%.*s'", (int)n, s);
	memcpy(e->text, s, n);
	e->text[n] = '\0';
	memcpy(host, s, n);
	host[n] = '\0';
	colon = strrchr(host, ':');
	if (colon == NULL)
		die("endpoint '%s' has no port", e->text);
	*colon = '\0';
	if (host[0] == '[' && colon[-1] == ']') {
		colon[-1] = '\0';
		memmove(host, host + 1, strlen(host));
	}
	rv = getaddrinfo(host, colon + 1, &hints, &res);
	if (rv != 0)
		die("endpoint '%s': %s", e->text, gai_strerror(rv));
	memcpy(&e->sa, res->ai_addr, res->ai_addrlen);
	e->salen = res->ai_addrlen;
	freeaddrinfo(res);
}

static void parse_endpoints(const char *s)
{
	O.n_ep = 0;
	while (*s) {
		size_t n = strcspn(s, ",");

		if (O.n_ep == MAX_ENDPOINTS)
			die("at most %d endpoints", MAX_ENDPOINTS);
		if (n > 0)
			parse_endpoint(&O.ep[O.n_ep++], s, n);
		s += n;
		if (*s == ',')
			s++;
	}
	if (O.n_ep == 0)
		die("--endpoints: empty");
}

static void parse_pids(const char *s)
{
	O.n_pids = 0;
	while (*s) {
		char buf[32];
		size_t n = strcspn(s, ",");

		if (O.n_pids == MAX_PIDS || n == 0 || n >= sizeof buf)
			die("--server-pids: bad list");
		memcpy(buf, s, n);
		buf[n] = '\0';
		O.pids[O.n_pids++] = (pid_t)parse_u64("server-pids", buf, 1, INT32_MAX);
		s += n;
		if (*s == ',')
			s++;
	}
}

enum {
	OPT_ENDPOINTS = 256, OPT_CONNS, OPT_CLIENTS, OPT_TARGET_LEADER, OPT_ETCD, OPT_TOTAL,
	OPT_DURATION, OPT_WARMUP, OPT_RATE, OPT_TIMEOUT, OPT_PIDS, OPT_JSON, OPT_KEY_SIZE,
	OPT_VAL_SIZE, OPT_SEQ, OPT_RANDOM, OPT_KEY_SPACE, OPT_CONSISTENCY, OPT_READ_RATIO,
	OPT_NO_SESSION, OPT_SEED, OPT_HELP,
};

static void parse_args(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "endpoints", required_argument, NULL, OPT_ENDPOINTS },
		{ "conns", required_argument, NULL, OPT_CONNS },
		{ "clients", required_argument, NULL, OPT_CLIENTS },
		{ "target-leader", no_argument, NULL, OPT_TARGET_LEADER },
		{ "etcd", no_argument, NULL, OPT_ETCD },
		{ "total", required_argument, NULL, OPT_TOTAL },
		{ "duration", required_argument, NULL, OPT_DURATION },
		{ "warmup", required_argument, NULL, OPT_WARMUP },
		{ "rate", required_argument, NULL, OPT_RATE },
		{ "timeout", required_argument, NULL, OPT_TIMEOUT },
		{ "server-pids", required_argument, NULL, OPT_PIDS },
		{ "json", no_argument, NULL, OPT_JSON },
		{ "key-size", required_argument, NULL, OPT_KEY_SIZE },
		{ "val-size", required_argument, NULL, OPT_VAL_SIZE },
		{ "sequential-keys", no_argument, NULL, OPT_SEQ },
		{ "random", no_argument, NULL, OPT_RANDOM },
		{ "key-space", required_argument, NULL, OPT_KEY_SPACE },
		{ "consistency", required_argument, NULL, OPT_CONSISTENCY },
		{ "read-ratio", required_argument, NULL, OPT_READ_RATIO },
		{ "no-session", no_argument, NULL, OPT_NO_SESSION },
		{ "seed", required_argument, NULL, OPT_SEED },
		{ "help", no_argument, NULL, OPT_HELP },
		{ NULL, 0, NULL, 0 },
	};
	bool conns_set = false, ks_set = false;
	const char *cmd;
	int c;

	parse_endpoints("127.0.0.1:7001");
	O.seed = (uint64_t)time(NULL) ^ (uint64_t)getpid() << 32;
	while ((c = getopt_long(argc, argv, "h", lo, NULL)) != -1) {
		switch (c) {
		case OPT_ENDPOINTS: parse_endpoints(optarg); break;
		case OPT_CONNS:
			O.conns = (int)parse_u64("conns", optarg, 1, MAX_CLIENTS);
			conns_set = true;
			break;
		case OPT_CLIENTS:
			O.clients = (int)parse_u64("clients", optarg, 1, MAX_CLIENTS);
			break;
		case OPT_TARGET_LEADER: O.target_leader = true; break;
		case OPT_ETCD: O.etcd = true; break;
		case OPT_TOTAL: O.total = parse_u64("total", optarg, 1, UINT64_MAX >> 1); break;
		case OPT_DURATION: O.duration = parse_double("duration", optarg, 0.001); break;
		case OPT_WARMUP: O.warmup = parse_double("warmup", optarg, 0); break;
		case OPT_RATE: O.rate = parse_double("rate", optarg, 0.001); break;
		case OPT_TIMEOUT: O.timeout = parse_double("timeout", optarg, 0.001); break;
		case OPT_PIDS: parse_pids(optarg); break;
		case OPT_JSON: O.json = true; break;
		case OPT_KEY_SIZE: O.key_size = parse_u64("key-size", optarg, 1, 4096); break;
		case OPT_VAL_SIZE: O.val_size = parse_u64("val-size", optarg, 0, 1u << 20); break;
		case OPT_SEQ: O.sequential = true; break;
		case OPT_RANDOM: O.sequential = false; break;
		case OPT_KEY_SPACE:
			O.key_space = parse_u64("key-space", optarg, 1, UINT64_MAX >> 1);
			ks_set = true;
			break;
		case OPT_CONSISTENCY:
			if (strcmp(optarg, "l") == 0 || strcmp(optarg, "linearizable") == 0)
				O.serializable = false;
			else if (strcmp(optarg, "s") == 0 || strcmp(optarg, "serializable") == 0)
				O.serializable = true;
			else
				die("--consistency: l or s, not '%s'", optarg);
			break;
		case OPT_READ_RATIO: O.read_ratio = parse_double("read-ratio", optarg, 0); break;
		case OPT_NO_SESSION: O.no_session = true; break;
		case OPT_SEED: O.seed = parse_u64("seed", optarg, 1, UINT64_MAX); break;
		case OPT_HELP:
		case 'h': usage(stdout); exit(0);
		default: usage(stderr); exit(2);
		}
	}
	if (optind >= argc) {
		usage(stderr);
		exit(2);
	}
	cmd = argv[optind++];
	if (strcmp(cmd, "put") == 0)
		O.mode = MODE_PUT;
	else if (strcmp(cmd, "get") == 0 || strcmp(cmd, "range") == 0)
		O.mode = MODE_GET;
	else if (strcmp(cmd, "mixed") == 0)
		O.mode = MODE_MIXED;
	else if (strcmp(cmd, "status") == 0)
		O.mode = MODE_STATUS;
	else
		die("unknown command '%s' (put, get, mixed, status)", cmd);
	if (O.mode == MODE_GET && optind < argc)
		O.fixed_key = argv[optind++];
	if (optind < argc)
		die("unexpected argument '%s'", argv[optind]);
	if (O.read_ratio > 1)
		die("--read-ratio must be in [0, 1]");
	if (O.duration == 0 && O.total == 0)
		O.total = 10000;
	if (O.duration > 0 && O.total > 0)
		die("--total and --duration exclude each other");
	if (O.warmup > 0 && O.duration == 0)
		die("--warmup needs --duration");
	if (!ks_set)
		O.key_space = O.mode == MODE_PUT ? (O.sequential ? 0 : 100000) : 10000;
	if (O.fixed_key != NULL)
		O.key_size = strlen(O.fixed_key);
	if (O.etcd) {
		/* HTTP/1.1 cannot match replies out of order: one client per connection. */
		O.conns = O.clients;
	} else if (O.conns > O.clients) {
		if (conns_set)
			fprintf(stderr, "raftkv-bench: --conns=%d > --clients=%d: using %d\n",
				O.conns, O.clients, O.clients);
		O.conns = O.clients;
	}
}

/* ---- blocking calls for discovery (not measured) ---- */

static int dial(const struct endpoint *e, int timeout_ms)
{
	int fd = socket(e->sa.ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0), one = 1;
	struct pollfd pfd;
	socklen_t len = sizeof one;

	if (fd < 0)
		return -1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	if (connect(fd, (const struct sockaddr *)&e->sa, e->salen) == 0)
		return fd;
	if (errno != EINPROGRESS)
		goto fail;
	pfd.fd = fd;
	pfd.events = POLLOUT;
	if (poll(&pfd, 1, timeout_ms) != 1 ||
	    getsockopt(fd, SOL_SOCKET, SO_ERROR, &one, &len) != 0 || one != 0)
		goto fail;
	return fd;
fail:
	close(fd);
	return -1;
}

/* Send @req, then read until @complete says the @n bytes in @buf hold a whole reply (> 0) or
 * are garbage (< 0). Returns the byte count, or -1. */
static ssize_t call(const struct endpoint *e, const void *req, size_t len, uint8_t *buf,
		    size_t cap, int (*complete)(const uint8_t *, size_t))
{
	uint64_t deadline = now_ns() + 2000000000u;
	size_t have = 0, sent = 0;
	int fd = dial(e, 1000), done = 0;

	if (fd < 0)
		return -1;
	while (sent < len) {
		struct pollfd pfd = { .fd = fd, .events = POLLOUT };
		ssize_t w = write(fd, (const uint8_t *)req + sent, len - sent);

		if (w > 0) {
			sent += (size_t)w;
			continue;
		}
		if (w < 0 && errno != EAGAIN && errno != EINTR)
			goto fail;
		if (now_ns() > deadline || poll(&pfd, 1, 100) < 0)
			goto fail;
	}
	while (done == 0 && have < cap && now_ns() < deadline) {
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		ssize_t r = read(fd, buf + have, cap - have);

		if (r > 0) {
			have += (size_t)r;
			done = complete(buf, have);
		} else if (r == 0 || (errno != EAGAIN && errno != EINTR)) {
			goto fail;
		} else {
			poll(&pfd, 1, 100);
		}
	}
	close(fd);
	return done > 0 ? (ssize_t)have : -1;
fail:
	close(fd);
	return -1;
}

static int frame_complete(const uint8_t *p, size_t n)
{
	uint8_t type;
	uint32_t len;
	int rv = rk_frame_header_parse(p, n, RK_FRAME_DEFAULT_MAX, &type, &len);

	if (rv == RK_EAGAIN)
		return 0;
	if (rv != RK_OK || type != RK_FRAME_CLIENT_RESPONSE)
		return -1;
	return n >= RK_FRAME_HEADER_SIZE + (size_t)len;
}

static int http_complete(const uint8_t *p, size_t n)
{
	struct rkb_http h;
	size_t used;

	return rkb_http_parse((const char *)p, n, &h, &used);
}

/* STATUS of raftkv endpoint @i, returned owned (or NULL). */
static Raftkv__Response *raftkv_status(int i)
{
	struct rkb_req r = { .id = 1, .op = RAFTKV__OP__OP_STATUS };
	uint8_t req[64], buf[64 << 10];
	size_t len = rkb_req_encode(&r, req);
	ssize_t n = call(&O.ep[i], req, len, buf, sizeof buf, frame_complete);

	if (n < 0)
		return NULL;
	return raftkv__response__unpack(NULL, (size_t)n - RK_FRAME_HEADER_SIZE,
					buf + RK_FRAME_HEADER_SIZE);
}

/* The decimal string after "@name":" in @body (grpc-gateway writes uint64 as strings). */
static uint64_t json_u64(const char *body, size_t n, const char *name)
{
	char pat[64];
	const char *p;
	int len = snprintf(pat, sizeof pat, "\"%s\":", name);

	p = memmem(body, n, pat, (size_t)len);
	if (p == NULL)
		return 0;
	p += len;
	while (p < body + n && (*p == '"' || *p == ' '))
		p++;
	return strtoull(p, NULL, 10);
}

/* etcd maintenance status of endpoint @i: its member id and the leader's, 0 when unknown. */
static int etcd_status(int i, uint64_t *member, uint64_t *leader)
{
	char req[512], buf[16 << 10];
	int len = snprintf(req, sizeof req,
			   "POST /v3/maintenance/status HTTP/1.1\r\nHost: %s\r\n"
			   "Content-Type: application/json\r\nContent-Length: 2\r\n\r\n{}",
			   O.ep[i].text);
	ssize_t n = call(&O.ep[i], req, (size_t)len, (uint8_t *)buf, sizeof buf, http_complete);
	struct rkb_http h;
	size_t used;

	if (n < 0 || rkb_http_parse(buf, (size_t)n, &h, &used) != 1 || h.status != 200 ||
	    h.body == NULL)
		return -1;
	*member = json_u64(h.body, h.body_len, "member_id");
	*leader = json_u64(h.body, h.body_len, "leader");
	return 0;
}

/* The endpoint named @text, added to the list when it is not there yet; -1 if unusable. */
static int endpoint_by_text(const char *text)
{
	for (int i = 0; i < O.n_ep; i++) {
		if (strcmp(O.ep[i].text, text) == 0)
			return i;
	}
	if (*text == '\0' || O.n_ep == MAX_ENDPOINTS)
		return -1;
	parse_endpoint(&O.ep[O.n_ep], text, strlen(text));
	return O.n_ep++;
}

/* One round over the endpoints: the index of the leader, or -1. Prints each when @verbose. */
static int find_leader_once(bool verbose)
{
	int found = -1;

	for (int i = 0; i < O.n_ep; i++) {
		if (O.etcd) {
			uint64_t member = 0, leader = 0;

			if (etcd_status(i, &member, &leader) != 0) {
				if (verbose)
					printf("%s: unreachable\n", O.ep[i].text);
				continue;
			}
			if (verbose)
				printf("%s: member %" PRIx64 " leader %" PRIx64 "%s\n",
				       O.ep[i].text, member, leader,
				       member == leader ? " (leader)" : "");
			if (member != 0 && member == leader && found < 0)
				found = i;
		} else {
			Raftkv__Response *r = raftkv_status(i);
			Raftkv__NodeStatus *ns = r != NULL ? r->node : NULL;

			if (ns == NULL) {
				if (verbose)
					printf("%s: unreachable\n", O.ep[i].text);
				if (r != NULL)
					raftkv__response__free_unpacked(r, NULL);
				continue;
			}
			if (verbose)
				printf("%s: n%" PRIu64 " %s term %" PRIu64 " leader n%" PRIu64
				       " commit %" PRIu64 " applied %" PRIu64 "\n",
				       O.ep[i].text, ns->id, ns->role, ns->term, ns->leader,
				       ns->commit_index, ns->applied_index);
			if (found < 0 && strcmp(ns->role, "leader") == 0)
				found = i;
			/* A follower that knows the leader names its client address. */
			for (size_t m = 0; found < 0 && ns->leader != 0 && m < ns->n_members; m++) {
				if (ns->members[m]->id == ns->leader)
					found = endpoint_by_text(ns->members[m]->client_addr);
			}
			raftkv__response__free_unpacked(r, NULL);
		}
	}
	return found;
}

static int find_leader(double wait_s)
{
	uint64_t deadline = now_ns() + (uint64_t)(wait_s * 1e9);
	int i;

	while ((i = find_leader_once(false)) < 0 && now_ns() < deadline)
		usleep(100000);
	return i;
}

/* ---- CPU accounting ---- */

/* utime + stime of @pid in clock ticks, or -1 (fields 14 and 15 of /proc/PID/stat, counted
 * after the parenthesised command name, which may itself hold spaces). */
static long long proc_ticks(pid_t pid)
{
	char path[64], buf[1024], *p;
	unsigned long long ut, st;
	ssize_t n;
	int fd;

	snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	n = read(fd, buf, sizeof buf - 1);
	close(fd);
	if (n <= 0)
		return -1;
	buf[n] = '\0';
	p = strrchr(buf, ')');
	if (p == NULL || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut,
				&st) != 2)
		return -1;
	return (long long)(ut + st);
}

static double servers_cpu_s(void)
{
	long long sum = 0;

	for (int i = 0; i < O.n_pids; i++) {
		long long t = proc_ticks(O.pids[i]);

		if (t < 0)
			die("server pid %d: cannot read /proc/%d/stat", (int)O.pids[i],
			    (int)O.pids[i]);
		sum += t;
	}
	return (double)sum / (double)sysconf(_SC_CLK_TCK);
}

static double self_cpu_s(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
	       (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

/* ---- the engine ---- */

static void mark_dirty(struct conn *c)
{
	if (!c->dirty) {
		c->dirty = true;
		c->next_dirty = dirty_head;
		dirty_head = c;
	}
}

/* Room for @n more bytes at the end of @c's output buffer. Only grows when a slow server
 * lets requests pile up (bounded by one request per client). */
static uint8_t *out_room(struct conn *c, size_t n)
{
	if (c->out_off > 0 && c->out_len + n > c->out_cap) {
		memmove(c->out, c->out + c->out_off, c->out_len - c->out_off);
		c->out_len -= c->out_off;
		c->out_off = 0;
	}
	if (c->out_len + n > c->out_cap) {
		size_t cap = c->out_cap * 2 > c->out_len + n ? c->out_cap * 2 : c->out_len + n;
		uint8_t *p = realloc(c->out, cap);

		if (p == NULL)
			die("out of memory");
		c->out = p;
		c->out_cap = cap;
	}
	return c->out + c->out_len;
}

/* The key for key number @k: @key_size bytes, the number in zero-padded decimal. */
static void format_key(uint64_t k, uint8_t *out)
{
	size_t i = O.key_size;

	memset(out, '0', O.key_size);
	while (i > 0 && k > 0) {
		out[--i] = (uint8_t)('0' + k % 10);
		k /= 10;
	}
	if (O.key_size > 20)
		out[0] = 'k';
}

static uint64_t pick_key(struct client *cl)
{
	if (O.mode == MODE_PUT && O.sequential) {
		uint64_t k = next_key++;

		return O.key_space > 0 ? k % O.key_space : k;
	}
	return xorshift(&cl->rng) % (O.key_space > 0 ? O.key_space : 1);
}

static void encode_raftkv(struct client *cl, enum kind kind, const uint8_t *key)
{
	struct rkb_req r = {
		.id = cl->req_id, .key = key, .klen = O.key_size,
	};
	uint8_t *p;

	if (kind == K_WRITE) {
		r.op = RAFTKV__OP__OP_PUT;
		r.val = value;
		r.vlen = O.val_size;
		if (!O.no_session) {
			r.client_id = cl->client_id;
			r.seq = ++cl->seq;
		}
	} else {
		r.op = RAFTKV__OP__OP_GET;
		r.serializable = O.serializable;
	}
	p = out_room(cl->c, rkb_req_max(O.key_size, O.val_size));
	cl->c->out_len += rkb_req_encode(&r, p);
}

static void put_str(uint8_t **p, const char *s, size_t n)
{
	memcpy(*p, s, n);
	*p += n;
}

static void encode_http(struct client *cl, int idx, enum kind kind, const uint8_t *key)
{
	size_t max = 512 + 2 * O.key_size + value_b64_len;
	uint8_t *p = out_room(cl->c, max), *start = p;

	if (kind == K_WRITE) {
		put_str(&p, http_head_put, http_head_put_len);
		put_str(&p, "{\"key\":\"", 8);
		p += rkb_b64_encode(key, O.key_size, (char *)p);
		put_str(&p, "\",\"value\":\"", 11);
		put_str(&p, value_b64, value_b64_len);
		put_str(&p, "\"}", 2);
	} else {
		put_str(&p, http_head_get, http_head_get_len);
		put_str(&p, "{\"key\":\"", 8);
		p += rkb_b64_encode(key, O.key_size, (char *)p);
		if (O.serializable)
			put_str(&p, "\",\"serializable\":true}", 22);
		else
			put_str(&p, "\"}", 2);
	}
	cl->c->out_len += (size_t)(p - start);
	cl->c->http_client = idx;
}

static void issue(int idx, uint64_t due)
{
	struct client *cl = &clients[idx];
	uint8_t key[4096];
	enum kind kind;

	switch (O.mode) {
	case MODE_PUT: kind = K_WRITE; break;
	case MODE_GET: kind = K_READ; break;
	default:
		kind = (double)(xorshift(&cl->rng) >> 11) * 0x1p-53 < O.read_ratio ? K_READ
										   : K_WRITE;
		break;
	}
	if (O.fixed_key != NULL)
		memcpy(key, O.fixed_key, O.key_size);
	else
		format_key(pick_key(cl), key);
	cl->counter++;
	cl->req_id =
		(uint64_t)idx << ID_CLIENT_SHIFT | (cl->counter & ((1ull << ID_CLIENT_SHIFT) - 1));
	cl->kind = kind;
	cl->t0 = due;
	cl->busy = true;
	cl->counted = phase == PH_MEASURE;
	issued += cl->counted;
	if (O.etcd)
		encode_http(cl, idx, kind, key);
	else
		encode_raftkv(cl, kind, key);
	mark_dirty(cl->c);
}

static bool may_issue(void)
{
	if (phase == PH_WARMUP)
		return true;
	if (phase != PH_MEASURE)
		return false;
	return O.total == 0 || issued < O.total;
}

static void arm_timer(uint64_t at_ns)
{
	struct itimerspec its = { 0 };

	its.it_value.tv_sec = (time_t)(at_ns / 1000000000u);
	its.it_value.tv_nsec = (long)(at_ns % 1000000000u);
	if (its.it_value.tv_sec == 0 && its.it_value.tv_nsec == 0)
		its.it_value.tv_nsec = 1;
	if (timerfd_settime(tfd, TFD_TIMER_ABSTIME, &its, NULL) != 0)
		die("timerfd_settime: %s", strerror(errno));
}

/* Give every idle client its next request, as far as --total and --rate allow. */
static void dispatch(uint64_t now)
{
	while (n_idle > 0 && may_issue()) {
		uint64_t due = now;

		if (O.rate > 0) {
			if (next_slot > now) {
				arm_timer(next_slot);
				return;
			}
			due = next_slot;
			next_slot += slot_ns;
		}
		issue(idle[--n_idle], due);
	}
}

static void complete(int idx, uint64_t now, int status_slot, bool ok, bool miss)
{
	struct client *cl = &clients[idx];
	uint64_t lat = now > cl->t0 ? now - cl->t0 : 0;

	cl->busy = false;
	if (cl->counted) {
		if (ok) {
			S.ok++;
			S.misses += miss;
			rkb_hist_record(&S.all, lat);
			rkb_hist_record(&S.kind[cl->kind], lat);
		} else {
			S.errors++;
		}
		if (O.etcd)
			S.http[status_slot]++;
		else
			S.status[status_slot]++;
		t_last = now;
	}
	if (!cl->dead)
		idle[n_idle++] = idx;
}

static void kill_conn(struct conn *c, const char *why)
{
	if (c->dead)
		return;
	if (phase != PH_DONE)
		fprintf(stderr, "raftkv-bench: connection to %s lost: %s\n", O.ep[c->ep].text, why);
	c->dead = true;
	epoll_ctl(epfd, EPOLL_CTL_DEL, c->fd, NULL);
	close(c->fd);
	c->fd = -1;
	for (int i = 0; i < O.clients; i++) {
		struct client *cl = &clients[i];

		if (cl->c != c)
			continue;
		cl->dead = true;
		n_live--;
		if (cl->busy) {
			cl->busy = false;
			if (cl->counted) {
				S.errors++;
				S.conn_lost++;
			}
		}
	}
	/* Clients of a dead connection never come back: drop them from the idle stack. */
	for (int i = 0; i < n_idle;) {
		if (clients[idle[i]].dead)
			idle[i] = idle[--n_idle];
		else
			i++;
	}
}

static void flush(struct conn *c)
{
	while (c->out_off < c->out_len) {
		ssize_t w = write(c->fd, c->out + c->out_off, c->out_len - c->out_off);

		if (w > 0) {
			c->out_off += (size_t)w;
			continue;
		}
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0 && errno == EAGAIN) {
			if (!c->polling_out) {
				struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT,
							 .data.ptr = c};

				epoll_ctl(epfd, EPOLL_CTL_MOD, c->fd, &ev);
				c->polling_out = true;
			}
			return;
		}
		kill_conn(c, w < 0 ? strerror(errno) : "write returned 0");
		return;
	}
	c->out_off = c->out_len = 0;
	if (c->polling_out) {
		struct epoll_event ev = { .events = EPOLLIN, .data.ptr = c };

		epoll_ctl(epfd, EPOLL_CTL_MOD, c->fd, &ev);
		c->polling_out = false;
	}
}

static void flush_dirty(void)
{
	while (dirty_head != NULL) {
		struct conn *c = dirty_head;

		dirty_head = c->next_dirty;
		c->dirty = false;
		if (!c->dead)
			flush(c);
	}
}

static void on_raftkv_frame(struct conn *c, const uint8_t *payload, size_t len, uint64_t now)
{
	struct rkb_resp r;
	uint64_t idx;
	struct client *cl;
	int st;

	if (rkb_resp_decode(payload, len, &r) != 0) {
		S.bad_reply++;
		kill_conn(c, "reply does not decode");
		return;
	}
	idx = r.id >> ID_CLIENT_SHIFT;
	if (idx >= (uint64_t)O.clients || !clients[idx].busy || clients[idx].req_id != r.id ||
	    clients[idx].c != c) {
		S.bad_reply++;
		return; /* not a reply we wait for */
	}
	cl = &clients[idx];
	st = r.status >= 0 && r.status < N_STATUS ? r.status : RAFTKV__STATUS__STATUS_INTERNAL;
	/* A get of a key nobody wrote is an answer, not a failure (etcd says so with no kvs). */
	if (st == RAFTKV__STATUS__STATUS_NOT_FOUND && cl->kind == K_READ)
		complete((int)idx, now, st, true, true);
	else
		complete((int)idx, now, st, st == RAFTKV__STATUS__STATUS_OK, false);
}

static void parse_raftkv(struct conn *c, uint64_t now)
{
	size_t pos = 0;

	while (!c->dead) {
		uint8_t type;
		uint32_t len;
		int rv = rk_frame_header_parse(c->in + pos, c->in_len - pos, RK_FRAME_DEFAULT_MAX,
					       &type, &len);

		if (rv == RK_EAGAIN)
			break;
		if (rv != RK_OK || type != RK_FRAME_CLIENT_RESPONSE) {
			S.bad_reply++;
			kill_conn(c, "bad frame header");
			return;
		}
		if (c->in_len - pos < RK_FRAME_HEADER_SIZE + (size_t)len) {
			if (RK_FRAME_HEADER_SIZE + (size_t)len > c->in_cap) {
				uint8_t *p = realloc(c->in, RK_FRAME_HEADER_SIZE + (size_t)len);

				if (p == NULL)
					die("out of memory");
				c->in = p;
				c->in_cap = RK_FRAME_HEADER_SIZE + (size_t)len;
			}
			break;
		}
		on_raftkv_frame(c, c->in + pos + RK_FRAME_HEADER_SIZE, len, now);
		pos += RK_FRAME_HEADER_SIZE + (size_t)len;
	}
	if (c->dead)
		return;
	memmove(c->in, c->in + pos, c->in_len - pos);
	c->in_len -= pos;
}

static void parse_http(struct conn *c, uint64_t now)
{
	size_t pos = 0;

	while (!c->dead && pos < c->in_len) {
		struct rkb_http h;
		size_t used;
		int rv = rkb_http_parse((const char *)c->in + pos, c->in_len - pos, &h, &used);
		int idx = c->http_client, slot;

		if (rv == 0)
			break;
		if (rv < 0 || idx < 0) {
			S.bad_reply++;
			kill_conn(c, rv < 0 ? "reply is not HTTP" : "reply nobody asked for");
			return;
		}
		c->http_client = -1;
		slot = h.status > 0 && h.status < HTTP_CODES ? h.status : 0;
		/* A range that finds nothing answers 200 without "kvs". */
		complete(idx, now, slot, h.status == 200,
			 clients[idx].kind == K_READ && h.body != NULL &&
				 memmem(h.body, h.body_len, "\"kvs\"", 5) == NULL);
		pos += used;
		if (h.close)
			kill_conn(c, "server closed the connection");
	}
	if (c->dead)
		return;
	if (pos == 0 && c->in_len == c->in_cap) {
		uint8_t *p = realloc(c->in, c->in_cap * 2);

		if (p == NULL)
			die("out of memory");
		c->in = p;
		c->in_cap *= 2;
	}
	memmove(c->in, c->in + pos, c->in_len - pos);
	c->in_len -= pos;
}

static void on_readable(struct conn *c)
{
	for (;;) {
		size_t space;
		ssize_t r;
		uint64_t now;

		if (c->in_len == c->in_cap) {
			uint8_t *p = realloc(c->in, c->in_cap * 2);

			if (p == NULL)
				die("out of memory");
			c->in = p;
			c->in_cap *= 2;
		}
		space = c->in_cap - c->in_len;
		r = read(c->fd, c->in + c->in_len, space);

		if (r == 0) {
			kill_conn(c, "closed by the server");
			return;
		}
		if (r < 0) {
			if (errno == EINTR)
				continue;
			if (errno != EAGAIN)
				kill_conn(c, strerror(errno));
			return;
		}
		now = now_ns();
		c->in_len += (size_t)r;
		if (O.etcd)
			parse_http(c, now);
		else
			parse_raftkv(c, now);
		if (c->dead || (size_t)r < space)
			return; /* a short read: the socket is drained */
	}
}

static void open_conns(void)
{
	struct epoll_event ev = { .events = EPOLLIN };

	conns = xcalloc((size_t)O.conns, sizeof *conns);
	for (int i = 0; i < O.conns; i++) {
		struct conn *c = &conns[i];

		c->ep = leader_ep >= 0 ? leader_ep : i % O.n_ep;
		c->fd = dial(&O.ep[c->ep], 3000);
		if (c->fd < 0)
			die("cannot connect to %s", O.ep[c->ep].text);
		c->in_cap = IN_BUF;
		c->in = xcalloc(c->in_cap, 1);
		c->out_cap =
			(size_t)(O.clients / O.conns + 1) * (rkb_req_max(O.key_size, O.val_size) +
							     512 + 2 * O.key_size + value_b64_len);
		c->out = xcalloc(c->out_cap, 1);
		c->http_client = -1;
		ev.data.ptr = c;
		if (epoll_ctl(epfd, EPOLL_CTL_ADD, c->fd, &ev) != 0)
			die("epoll_ctl: %s", strerror(errno));
	}
}

static void setup(void)
{
	uint64_t rng = O.seed | 1;
	int len;

	value = xcalloc(O.val_size + 1, 1);
	for (size_t i = 0; i < O.val_size; i++)
		value[i] = (uint8_t)('a' + xorshift(&rng) % 26);
	value_b64 = xcalloc(4 * (O.val_size / 3 + 1) + 1, 1);
	value_b64_len = rkb_b64_encode(value, O.val_size, value_b64);
	if (O.etcd) {
		size_t kb = 4 * ((O.key_size + 2) / 3);
		const char *host = O.ep[leader_ep >= 0 ? leader_ep : 0].text;

		len = snprintf(http_head_put, sizeof http_head_put,
			       "POST /v3/kv/put HTTP/1.1\r\nHost: %s\r\n"
			       "Content-Type: application/json\r\nContent-Length: %zu\r\n\r\n",
			       host, 8 + kb + 11 + value_b64_len + 2);
		http_head_put_len = (size_t)len;
		len = snprintf(http_head_get, sizeof http_head_get,
			       "POST /v3/kv/range HTTP/1.1\r\nHost: %s\r\n"
			       "Content-Type: application/json\r\nContent-Length: %zu\r\n\r\n",
			       host, 8 + kb + (O.serializable ? 22 : 2));
		http_head_get_len = (size_t)len;
	}
	epfd = epoll_create1(EPOLL_CLOEXEC);
	tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	if (epfd < 0 || tfd < 0)
		die("epoll/timerfd: %s", strerror(errno));
	{
		struct epoll_event ev = { .events = EPOLLIN, .data.ptr = NULL };

		epoll_ctl(epfd, EPOLL_CTL_ADD, tfd, &ev);
	}
	open_conns();
	clients = xcalloc((size_t)O.clients, sizeof *clients);
	idle = xcalloc((size_t)O.clients, sizeof *idle);
	for (int i = 0; i < O.clients; i++) {
		struct client *cl = &clients[i];

		cl->c = &conns[i % O.conns];
		cl->client_id = (O.seed << 20 ^ O.seed >> 20) + (uint64_t)i + 1;
		cl->rng = O.seed * 0x9E3779B97F4A7C15ull + (uint64_t)i * 0xBF58476D1CE4E5B9ull + 1;
		idle[i] = O.clients - 1 - i;
	}
	n_idle = n_live = O.clients;
	rkb_hist_init(&S.all);
	rkb_hist_init(&S.kind[0]);
	rkb_hist_init(&S.kind[1]);
}

static double cpu0_servers, cpu0_self, cpu_servers, cpu_self;

static void start_measuring(uint64_t now)
{
	phase = PH_MEASURE;
	t_measure = now;
	t_last = now;
	if (O.rate > 0)
		next_slot = now;
	cpu0_servers = O.n_pids > 0 ? servers_cpu_s() : 0;
	cpu0_self = self_cpu_s();
	t_stop = O.duration > 0 ? now + (uint64_t)(O.duration * 1e9) : 0;
}

static bool any_busy(void)
{
	for (int i = 0; i < O.clients; i++) {
		if (clients[i].busy && !clients[i].dead)
			return true;
	}
	return false;
}

static void run(void)
{
	struct epoll_event evs[256];
	uint64_t now = now_ns(), drain_deadline = 0;

	t_start = now;
	slot_ns = O.rate > 0 ? (uint64_t)(1e9 / O.rate) : 0;
	next_slot = now;
	if (O.warmup > 0) {
		phase = PH_WARMUP;
	} else {
		start_measuring(now);
	}
	dispatch(now);
	flush_dirty();
	while (phase != PH_DONE) {
		int timeout = 100, n;

		n = epoll_wait(epfd, evs, (int)(sizeof evs / sizeof evs[0]), timeout);
		if (n < 0 && errno != EINTR)
			die("epoll_wait: %s", strerror(errno));
		for (int i = 0; i < n; i++) {
			struct conn *c = evs[i].data.ptr;

			if (c == NULL) {
				uint64_t ticks;

				if (read(tfd, &ticks, sizeof ticks) < 0 && errno != EAGAIN)
					die("timerfd read: %s", strerror(errno));
				continue;
			}
			if (c->dead)
				continue;
			if (evs[i].events & (EPOLLIN | EPOLLERR | EPOLLHUP))
				on_readable(c);
			if (!c->dead && (evs[i].events & EPOLLOUT))
				mark_dirty(c);
		}
		now = now_ns();
		if (phase == PH_WARMUP && now >= t_start + (uint64_t)(O.warmup * 1e9))
			start_measuring(now);
		if (phase == PH_MEASURE &&
		    ((t_stop > 0 && now >= t_stop) || (O.total > 0 && issued >= O.total))) {
			phase = PH_DRAIN;
			drain_deadline = now + (uint64_t)(O.timeout * 1e9);
		}
		dispatch(now);
		flush_dirty();
		if (phase == PH_DRAIN && (!any_busy() || now >= drain_deadline))
			phase = PH_DONE;
		if (n_live == 0)
			phase = PH_DONE; /* every connection is gone */
	}
	t_end = t_last > t_measure ? t_last : now;
	for (int i = 0; i < O.clients; i++) {
		if (clients[i].busy && clients[i].counted) {
			S.unfinished++;
			S.errors++;
		}
	}
	cpu_servers = O.n_pids > 0 ? servers_cpu_s() - cpu0_servers : 0;
	cpu_self = self_cpu_s() - cpu0_self;
}

/* ---- report ---- */

static const char *status_name(int st)
{
	static const char *const names[N_STATUS] = {
		"OK", "NOT_FOUND", "EXISTS", "CAS_FAILED", "NOT_LEADER", "TIMEOUT",
		"TOO_LARGE", "BAD_REQUEST", "UNAVAILABLE", "BUSY", "INTERNAL",
	};
	return st >= 0 && st < N_STATUS ? names[st] : "?";
}

static const char *mode_name(void)
{
	switch (O.mode) {
	case MODE_PUT: return "put";
	case MODE_GET: return O.serializable ? "get-s" : "get-l";
	case MODE_MIXED: return O.serializable ? "mixed-s" : "mixed-l";
	default: return "status";
	}
}

static double us(uint64_t ns)
{
	return (double)ns / 1000.0;
}

static void print_json(double secs, uint64_t done)
{
	const struct rkb_hist *h = &S.all;
	bool first = true;

	printf("{\"system\":\"%s\",\"op\":\"%s\",\"conns\":%d,\"clients\":%d,"
	       "\"key_size\":%zu,\"val_size\":%zu,\"rate\":%.0f,\"ops\":%" PRIu64 ","
	       "\"secs\":%.4f,\"ops_per_s\":%.1f,\"mean_us\":%.1f,\"p50_us\":%.1f,\"p90_us\":%.1f,"
	       "\"p99_us\":%.1f,\"p999_us\":%.1f,\"max_us\":%.1f,\"errors\":%" PRIu64 ","
	       "\"misses\":%" PRIu64 ",",
	       O.etcd ? "etcd" : "raftkv", mode_name(), O.conns, O.clients, O.key_size, O.val_size,
	       O.rate, done, secs, secs > 0 ? (double)done / secs : 0.0,
	       h->count ? us(h->sum) / (double)h->count : 0.0, us(rkb_hist_quantile(h, 0.50)),
	       us(rkb_hist_quantile(h, 0.90)), us(rkb_hist_quantile(h, 0.99)),
	       us(rkb_hist_quantile(h, 0.999)), us(h->max), S.errors, S.misses);
	if (O.n_pids > 0)
		printf("\"server_cpu_s\":%.3f,\"server_cpu_us_per_op\":%.2f,", cpu_servers,
		       done ? cpu_servers * 1e6 / (double)done : 0.0);
	printf("\"client_cpu_us_per_op\":%.2f,\"status\":{",
	       done ? cpu_self * 1e6 / (double)done : 0.0);
	if (O.etcd) {
		for (int i = 0; i < HTTP_CODES; i++) {
			if (S.http[i] > 0) {
				printf("%s\"http_%d\":%" PRIu64, first ? "" : ",", i, S.http[i]);
				first = false;
			}
		}
	} else {
		for (int i = 0; i < N_STATUS; i++) {
			if (S.status[i] > 0) {
				printf("%s\"%s\":%" PRIu64, first ? "" : ",", status_name(i),
				       S.status[i]);
				first = false;
			}
		}
	}
	if (S.conn_lost) {
		printf("%s\"conn_lost\":%" PRIu64, first ? "" : ",", S.conn_lost);
		first = false;
	}
	if (S.unfinished) {
		printf("%s\"unfinished\":%" PRIu64, first ? "" : ",", S.unfinished);
		first = false;
	}
	if (S.bad_reply)
		printf("%s\"bad_reply\":%" PRIu64, first ? "" : ",", S.bad_reply);
	printf("}}\n");
}

static void print_hist_line(const char *label, const struct rkb_hist *h)
{
	if (h->count == 0)
		return;
	printf("  %-8s p50 %9.1f  p90 %9.1f  p99 %9.1f  p99.9 %9.1f  max %9.1f  mean %9.1f us\n",
	       label, us(rkb_hist_quantile(h, 0.50)), us(rkb_hist_quantile(h, 0.90)),
	       us(rkb_hist_quantile(h, 0.99)), us(rkb_hist_quantile(h, 0.999)), us(h->max),
	       us(h->sum) / (double)h->count);
}

static void print_report(double secs, uint64_t done)
{
	printf("raftkv-bench: %s %s, %d endpoint(s)%s%s, %d conns, %d clients, key %zu B, value "
	       "%zu B\n",
	       O.etcd ? "etcd" : "raftkv", mode_name(), O.n_ep, leader_ep >= 0 ? ", leader " : "",
	       leader_ep >= 0 ? O.ep[leader_ep].text : "", O.conns, O.clients, O.key_size,
	       O.val_size);
	if (O.rate > 0)
		printf("  rate     %.0f ops/s requested (latency counted from when each request "
		       "was due)\n",
		       O.rate);
	printf("  done     %" PRIu64 " ok in %.3f s: %.1f ops/s", done, secs,
	       secs > 0 ? (double)done / secs : 0.0);
	if (S.misses)
		printf(" (%" PRIu64 " reads found no key)", S.misses);
	printf("\n");
	print_hist_line("latency", &S.all);
	if (O.mode == MODE_MIXED) {
		print_hist_line("reads", &S.kind[K_READ]);
		print_hist_line("writes", &S.kind[K_WRITE]);
	}
	printf("  errors   %" PRIu64, S.errors);
	if (O.etcd) {
		for (int i = 0; i < HTTP_CODES; i++) {
			if (S.http[i] > 0 && i != 200)
				printf("  HTTP %d: %" PRIu64, i, S.http[i]);
		}
	} else {
		for (int i = 1; i < N_STATUS; i++) {
			if (S.status[i] > 0 && !(i == RAFTKV__STATUS__STATUS_NOT_FOUND && S.misses))
				printf("  %s: %" PRIu64, status_name(i), S.status[i]);
		}
	}
	if (S.conn_lost)
		printf("  connection lost: %" PRIu64, S.conn_lost);
	if (S.unfinished)
		printf("  unanswered: %" PRIu64, S.unfinished);
	if (S.bad_reply)
		printf("  bad replies: %" PRIu64, S.bad_reply);
	printf("\n");
	if (O.n_pids > 0)
		printf("  servers  %.2f CPU s for %d process(es): %.1f us CPU per op\n",
		       cpu_servers, O.n_pids, done ? cpu_servers * 1e6 / (double)done : 0.0);
	printf("  client   %.1f us CPU per op\n", done ? cpu_self * 1e6 / (double)done : 0.0);
}

int main(int argc, char **argv)
{
	double secs;
	uint64_t done;

	signal(SIGPIPE, SIG_IGN); /* a server that hangs up is seen by write(), not a signal */
	parse_args(argc, argv);
	if (O.mode == MODE_STATUS) {
		int i = find_leader_once(true);

		if (i < 0) {
			printf("no leader\n");
			return 1;
		}
		printf("leader: %s\n", O.ep[i].text);
		return 0;
	}
	if (O.target_leader) {
		leader_ep = find_leader(10.0);
		if (leader_ep < 0)
			die("no leader found among the endpoints within 10 s");
	}
	setup();
	run();
	done = S.ok;
	secs = (double)(t_end - t_measure) / 1e9;
	if (O.json)
		print_json(secs, done);
	else
		print_report(secs, done);
	return S.errors > 0 ? 1 : 0;
}

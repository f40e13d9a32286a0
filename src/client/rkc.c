/* rkc.c -- libraftkv: a synchronous client over one connection at a time; see client.h.
 *
 * Routing: requests go to `cur`, the endpoint last seen to lead (or the redirect target a
 * follower named, which need not be in the list). NOT_LEADER with a hint moves there; without
 * one (an election is under way) the client waits a little and tries the next endpoint. A
 * connection that fails or an attempt that times out closes the connection and moves on.
 *
 * Retries: every write takes the next sequence number of the client's session once, before
 * its first attempt, and keeps it across retries, so the state machine applies it at most
 * once whatever happened to earlier attempts. Server answers that say "not now" (BUSY, TIMEOUT,
 * UNAVAILABLE) are retried with a growing pause until the call's deadline.
 */
#include "config.h"

#include "raftkv/client.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "client.pb-c.h"
#include "net/frame.h"

#define ADDR_MAX 64
#define MAX_RESPONSE (64u << 20)
#define PAUSE_MIN_MS 10
#define PAUSE_MAX_MS 200

struct endpoint {
	char text[ADDR_MAX];
	struct sockaddr_storage sa;
	socklen_t len;
};

struct rkc_client {
	struct endpoint *eps;
	size_t n_eps;
	size_t cur;              /* endpoint in use when !use_hint */
	struct endpoint hint;    /* a redirect target outside the list */
	bool use_hint;
	int fd;                  /* connection to the endpoint in use, or -1 */
	unsigned req_timeout_ms;
	unsigned deadline_ms;
	uint64_t client_id;
	uint64_t seq;            /* last sequence number taken by a write */
	uint64_t next_id;        /* request ids, to match replies */
	uint8_t *buf;            /* send and receive buffer */
	size_t cap;
	char err[256];
	char last_ep[ADDR_MAX];
};

static const char *const status_text[] = {
	[RKC_OK] = "ok",
	[RKC_NOT_FOUND] = "key not found",
	[RKC_EXISTS] = "key exists",
	[RKC_CAS_FAILED] = "compare-and-swap failed",
	[RKC_NOT_LEADER] = "not the leader",
	[RKC_TIMEOUT] = "timed out",
	[RKC_TOO_LARGE] = "too large",
	[RKC_BAD_REQUEST] = "bad request",
	[RKC_UNAVAILABLE] = "unavailable",
	[RKC_BUSY] = "server busy",
	[RKC_INTERNAL] = "internal server error",
};

const char *rkc_strstatus(int status)
{
	if (status >= 0 && status <= RKC_INTERNAL)
		return status_text[status];
	switch (status) {
	case RKC_EINVAL:
		return "invalid argument";
	case RKC_ENOMEM:
		return "out of memory";
	case RKC_EPROTO:
		return "protocol error";
	default:
		return "unknown status";
	}
}

static void set_err(struct rkc_client *c, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static void set_err(struct rkc_client *c, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(c->err, sizeof c->err, fmt, ap);
	va_end(ap);
}

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* "A.B.C.D:PORT", "[V6]:PORT" or "localhost:PORT". */
static int parse_endpoint(const char *s, size_t len, struct endpoint *ep)
{
	char host[ADDR_MAX];
	const char *colon;
	char *end;
	long port;
	size_t hlen;

	if (len == 0 || len >= sizeof ep->text)
		return -1;
	memcpy(ep->text, s, len);
	ep->text[len] = '\0';
	colon = strrchr(ep->text, ':');
	if (colon == NULL)
		return -1;
	errno = 0;
	port = strtol(colon + 1, &end, 10);
	if (errno != 0 || *end != '\0' || end == colon + 1 || port < 1 || port > 65535)
		return -1;
	hlen = (size_t)(colon - ep->text);
	memset(&ep->sa, 0, sizeof ep->sa);
	if (hlen >= 2 && ep->text[0] == '[' && ep->text[hlen - 1] == ']') {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ep->sa;

		memcpy(host, ep->text + 1, hlen - 2);
		host[hlen - 2] = '\0';
		if (inet_pton(AF_INET6, host, &s6->sin6_addr) != 1)
			return -1;
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons((uint16_t)port);
		ep->len = sizeof *s6;
		return 0;
	}
	struct sockaddr_in *s4 = (struct sockaddr_in *)&ep->sa;

	memcpy(host, ep->text, hlen);
	host[hlen] = '\0';
	if (strcmp(host, "localhost") == 0)
		strcpy(host, "127.0.0.1");
	if (inet_pton(AF_INET, host, &s4->sin_addr) != 1)
		return -1;
	s4->sin_family = AF_INET;
	s4->sin_port = htons((uint16_t)port);
	ep->len = sizeof *s4;
	return 0;
}

int rkc_open(const struct rkc_options *opts, struct rkc_client **out)
{
	struct rkc_client *c;
	const char *p, *comma;
	size_t n = 1;

	if (opts == NULL || opts->endpoints == NULL || *opts->endpoints == '\0')
		return RKC_EINVAL;
	for (p = opts->endpoints; *p; p++)
		n += *p == ',';
	c = calloc(1, sizeof *c);
	if (c == NULL)
		return RKC_ENOMEM;
	c->eps = calloc(n, sizeof *c->eps);
	if (c->eps == NULL) {
		free(c);
		return RKC_ENOMEM;
	}
	for (p = opts->endpoints; *p; p = *comma ? comma + 1 : comma) {
		comma = strchr(p, ',');
		if (comma == NULL)
			comma = p + strlen(p);
		if (parse_endpoint(p, (size_t)(comma - p), &c->eps[c->n_eps]) != 0) {
			free(c->eps);
			free(c);
			return RKC_EINVAL;
		}
		c->n_eps++;
	}
	c->fd = -1;
	c->req_timeout_ms = opts->request_timeout_ms ? opts->request_timeout_ms : 2000;
	c->deadline_ms = opts->deadline_ms ? opts->deadline_ms : 10000;
	c->client_id = opts->client_id;
	while (c->client_id == 0) {
		if (getrandom(&c->client_id, sizeof c->client_id, 0) != sizeof c->client_id)
			c->client_id = (uint64_t)now_ms() ^ (uint64_t)getpid() << 32;
	}
	*out = c;
	return RKC_OK;
}

static void disconnect(struct rkc_client *c)
{
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
}

void rkc_close(struct rkc_client *c)
{
	if (c == NULL)
		return;
	disconnect(c);
	free(c->buf);
	free(c->eps);
	free(c);
}

const char *rkc_last_error(const struct rkc_client *c)
{
	return c->err;
}

const char *rkc_last_endpoint(const struct rkc_client *c)
{
	return c->last_ep;
}

void rkc_buf_free(struct rkc_buf *b)
{
	if (b == NULL)
		return;
	free(b->data);
	b->data = NULL;
	b->len = 0;
}

static const struct endpoint *current(const struct rkc_client *c)
{
	return c->use_hint ? &c->hint : &c->eps[c->cur];
}

/* Move on to the next endpoint of the list. */
static void rotate(struct rkc_client *c)
{
	disconnect(c);
	if (c->use_hint)
		c->use_hint = false;
	else
		c->cur = (c->cur + 1) % c->n_eps;
}

/* Follow a redirect to @addr: an endpoint of the list if it is one, else the hint slot. */
static void redirect(struct rkc_client *c, const char *addr)
{
	disconnect(c);
	for (size_t i = 0; i < c->n_eps; i++) {
		if (strcmp(c->eps[i].text, addr) == 0) {
			c->cur = i;
			c->use_hint = false;
			return;
		}
	}
	if (parse_endpoint(addr, strlen(addr), &c->hint) == 0)
		c->use_hint = true;
	else
		rotate(c);
}

static int wait_fd(int fd, short events, uint64_t until)
{
	struct pollfd pfd = { .fd = fd, .events = events };
	uint64_t now;
	int rv;

	for (;;) {
		now = now_ms();
		if (now >= until)
			return 0;
		rv = poll(&pfd, 1, (int)(until - now));
		if (rv >= 0 || errno != EINTR)
			return rv;
	}
}

static int connect_current(struct rkc_client *c, uint64_t until)
{
	const struct endpoint *ep = current(c);
	int fd, one = 1, soerr = 0;
	socklen_t sl = sizeof soerr;

	fd = socket(ep->sa.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		set_err(c, "socket: %s", strerror(errno));
		return -1;
	}
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	if (connect(fd, (const struct sockaddr *)&ep->sa, ep->len) != 0) {
		if (errno != EINPROGRESS) {
			set_err(c, "connect %s: %s", ep->text, strerror(errno));
			close(fd);
			return -1;
		}
		if (wait_fd(fd, POLLOUT, until) <= 0) {
			set_err(c, "connect %s: timed out", ep->text);
			close(fd);
			return -1;
		}
		if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) != 0 || soerr != 0) {
			set_err(c, "connect %s: %s", ep->text, strerror(soerr ? soerr : errno));
			close(fd);
			return -1;
		}
	}
	c->fd = fd;
	return 0;
}

static int reserve(struct rkc_client *c, size_t n)
{
	uint8_t *p;
	size_t cap = c->cap ? c->cap : 4096;

	if (n <= c->cap)
		return 0;
	while (cap < n)
		cap *= 2;
	p = realloc(c->buf, cap);
	if (p == NULL)
		return -1;
	c->buf = p;
	c->cap = cap;
	return 0;
}

/* Send (@out) or receive all @n bytes at @p before @until. Returns 0, or -1 on a timeout, a
 * closed connection or an error. */
static int transfer_all(struct rkc_client *c, uint8_t *p, size_t n, uint64_t until, bool out)
{
	while (n > 0) {
		ssize_t k = out ? send(c->fd, p, n, MSG_NOSIGNAL) : recv(c->fd, p, n, 0);

		if (k > 0) {
			p += k;
			n -= (size_t)k;
		} else if (k < 0 && (errno == EAGAIN || errno == EINTR)) {
			if (wait_fd(c->fd, out ? POLLOUT : POLLIN, until) <= 0)
				return -1;
		} else {
			return -1;
		}
	}
	return 0;
}

/* One attempt on the current connection: send @req, wait for the reply with its id.
 * Returns 0 with *@resp owned, or -1 (connection unusable: the caller moves on). */
static int attempt(struct rkc_client *c, Raftkv__Request *req, uint64_t until,
		   Raftkv__Response **resp)
{
	size_t len = protobuf_c_message_get_packed_size(&req->base);
	uint8_t hdr[RK_FRAME_HEADER_SIZE], type;
	uint32_t plen;

	if (reserve(c, RK_FRAME_HEADER_SIZE + len) != 0) {
		set_err(c, "out of memory");
		return -1;
	}
	rk_frame_header_write(c->buf, RK_FRAME_CLIENT_REQUEST, (uint32_t)len);
	protobuf_c_message_pack(&req->base, c->buf + RK_FRAME_HEADER_SIZE);
	if (transfer_all(c, c->buf, RK_FRAME_HEADER_SIZE + len, until, true) != 0) {
		set_err(c, "send to %s: %s", current(c)->text,
			now_ms() >= until ? "timed out" : strerror(errno));
		return -1;
	}
	for (;;) {
		if (transfer_all(c, hdr, sizeof hdr, until, false) != 0) {
			set_err(c, "no reply from %s: %s", current(c)->text,
				now_ms() >= until ? "timed out" : "connection closed");
			return -1;
		}
		if (rk_frame_header_parse(hdr, sizeof hdr, MAX_RESPONSE, &type, &plen) != 0 ||
		    type != RK_FRAME_CLIENT_RESPONSE) {
			set_err(c, "%s sent a bad frame", current(c)->text);
			return -1;
		}
		if (reserve(c, plen ? plen : 1) != 0 || transfer_all(c, c->buf, plen, until, false) != 0) {
			set_err(c, "reading the reply from %s failed", current(c)->text);
			return -1;
		}
		*resp = raftkv__response__unpack(NULL, plen, c->buf);
		if (*resp == NULL) {
			set_err(c, "%s sent a reply that does not decode", current(c)->text);
			return -1;
		}
		if ((*resp)->id == req->id)
			return 0;
		/* A late reply to an attempt that timed out on this connection: skip it. */
		raftkv__response__free_unpacked(*resp, NULL);
	}
}

static void pause_ms(unsigned *pause, uint64_t deadline)
{
	uint64_t now = now_ms();
	unsigned ms = *pause;

	if (now + ms > deadline)
		ms = now < deadline ? (unsigned)(deadline - now) : 0;
	if (ms > 0)
		usleep(ms * 1000u);
	*pause = *pause * 2 > PAUSE_MAX_MS ? PAUSE_MAX_MS : *pause * 2;
}

/* Send @req until an answer that is final, or the deadline. Returns the status; on a status
 * from the server *@out holds its reply (returns owned). */
static int call(struct rkc_client *c, Raftkv__Request *req, bool direct, Raftkv__Response **out)
{
	uint64_t deadline = now_ms() + c->deadline_ms, until;
	unsigned pause = PAUSE_MIN_MS;
	int last = RKC_UNAVAILABLE;
	size_t failures = 0;
	Raftkv__Response *resp;

	*out = NULL;
	c->err[0] = '\0';
	c->last_ep[0] = '\0';
	req->id = ++c->next_id;
	while (now_ms() < deadline) {
		until = now_ms() + c->req_timeout_ms;
		if (until > deadline)
			until = deadline;
		if (c->fd < 0 && connect_current(c, until) != 0) {
			last = RKC_UNAVAILABLE;
			if (direct)
				return last;
			rotate(c);
			/* A full round of unreachable nodes: wait before the next round. */
			if (++failures % c->n_eps == 0)
				pause_ms(&pause, deadline);
			continue;
		}
		if (attempt(c, req, until, &resp) != 0) {
			last = now_ms() >= until ? RKC_TIMEOUT : RKC_UNAVAILABLE;
			disconnect(c);
			if (direct)
				return last;
			rotate(c);
			continue;
		}
		snprintf(c->last_ep, sizeof c->last_ep, "%s", current(c)->text);
		switch (resp->status) {
		case RAFTKV__STATUS__STATUS_NOT_LEADER:
			last = RKC_NOT_LEADER;
			set_err(c, "%s is not the leader%s%s", current(c)->text,
				*resp->leader_hint ? "; leader is " : "", resp->leader_hint);
			if (direct) {
				*out = resp;
				return last;
			}
			if (*resp->leader_hint != '\0') {
				redirect(c, resp->leader_hint);
			} else {
				rotate(c); /* an election is under way */
				pause_ms(&pause, deadline);
			}
			raftkv__response__free_unpacked(resp, NULL);
			continue;
		case RAFTKV__STATUS__STATUS_BUSY:
		case RAFTKV__STATUS__STATUS_TIMEOUT:
		case RAFTKV__STATUS__STATUS_UNAVAILABLE:
			/* Not final: the same request (same seq for a write) is safe to repeat. */
			last = (int)resp->status;
			set_err(c, "%s: %s", current(c)->text, resp->message);
			if (direct) {
				*out = resp;
				return last;
			}
			if (resp->status == RAFTKV__STATUS__STATUS_UNAVAILABLE)
				rotate(c);
			raftkv__response__free_unpacked(resp, NULL);
			pause_ms(&pause, deadline);
			continue;
		default:
			if (resp->status != RAFTKV__STATUS__STATUS_OK && *resp->message)
				set_err(c, "%s", resp->message);
			*out = resp;
			return (int)resp->status;
		}
	}
	if (c->err[0] == '\0')
		set_err(c, "no answer within %u ms", c->deadline_ms);
	return last == RKC_NOT_LEADER ? RKC_UNAVAILABLE : (last == RKC_UNAVAILABLE ? last : RKC_TIMEOUT);
}

static int copy_buf(struct rkc_buf *dst, const ProtobufCBinaryData *src)
{
	dst->data = malloc(src->len + 1);
	if (dst->data == NULL)
		return RKC_ENOMEM;
	if (src->len > 0)
		memcpy(dst->data, src->data, src->len);
	dst->data[src->len] = '\0';
	dst->len = src->len;
	return RKC_OK;
}

int rkc_get(struct rkc_client *c, const void *key, size_t klen, bool serializable,
	    struct rkc_buf *val)
{
	Raftkv__Request req = RAFTKV__REQUEST__INIT;
	Raftkv__Response *resp;
	int st;

	if (klen == 0)
		return RKC_EINVAL;
	req.op = RAFTKV__OP__OP_GET;
	req.key.data = (uint8_t *)key;
	req.key.len = klen;
	req.serializable = serializable;
	st = call(c, &req, false, &resp);
	if (st == RKC_OK && val != NULL)
		st = copy_buf(val, &resp->value);
	if (resp != NULL)
		raftkv__response__free_unpacked(resp, NULL);
	return st;
}

static int write_op(struct rkc_client *c, Raftkv__Op op, const void *key, size_t klen,
		    const void *expected, size_t elen, const void *val, size_t vlen)
{
	Raftkv__Request req = RAFTKV__REQUEST__INIT;
	Raftkv__Response *resp;
	int st;

	if (klen == 0)
		return RKC_EINVAL;
	req.op = op;
	req.key.data = (uint8_t *)key;
	req.key.len = klen;
	req.value.data = (uint8_t *)val;
	req.value.len = vlen;
	req.expected.data = (uint8_t *)expected;
	req.expected.len = elen;
	req.client_id = c->client_id;
	req.seq = ++c->seq; /* once per write: every retry carries the same number */
	st = call(c, &req, false, &resp);
	if (resp != NULL)
		raftkv__response__free_unpacked(resp, NULL);
	return st;
}

int rkc_put(struct rkc_client *c, const void *key, size_t klen, const void *val, size_t vlen)
{
	return write_op(c, RAFTKV__OP__OP_PUT, key, klen, NULL, 0, val, vlen);
}

int rkc_put_if_absent(struct rkc_client *c, const void *key, size_t klen, const void *val,
		      size_t vlen)
{
	return write_op(c, RAFTKV__OP__OP_PUT_IF_ABSENT, key, klen, NULL, 0, val, vlen);
}

int rkc_update(struct rkc_client *c, const void *key, size_t klen, const void *val, size_t vlen)
{
	return write_op(c, RAFTKV__OP__OP_UPDATE, key, klen, NULL, 0, val, vlen);
}

int rkc_delete(struct rkc_client *c, const void *key, size_t klen)
{
	return write_op(c, RAFTKV__OP__OP_DELETE, key, klen, NULL, 0, NULL, 0);
}

int rkc_append(struct rkc_client *c, const void *key, size_t klen, const void *val, size_t vlen)
{
	return write_op(c, RAFTKV__OP__OP_APPEND, key, klen, NULL, 0, val, vlen);
}

int rkc_cas(struct rkc_client *c, const void *key, size_t klen, const void *expected,
	    size_t elen, const void *val, size_t vlen)
{
	return write_op(c, RAFTKV__OP__OP_CAS, key, klen, expected, elen, val, vlen);
}

void rkc_kvs_free(struct rkc_kv *kvs, size_t n)
{
	if (kvs == NULL)
		return;
	for (size_t i = 0; i < n; i++) {
		free(kvs[i].key.data);
		free(kvs[i].value.data);
	}
	free(kvs);
}

int rkc_range(struct rkc_client *c, const struct rkc_range *r, struct rkc_kv **kvs, size_t *n,
	      bool *more)
{
	Raftkv__Request req = RAFTKV__REQUEST__INIT;
	Raftkv__Response *resp;
	struct rkc_kv *v = NULL;
	int st;

	*kvs = NULL;
	*n = 0;
	req.op = RAFTKV__OP__OP_RANGE;
	req.key.data = (uint8_t *)r->start;
	req.key.len = r->start_len;
	req.end.data = (uint8_t *)r->end;
	req.end.len = r->end_len;
	req.prefix = r->prefix;
	req.limit = r->limit;
	req.serializable = r->serializable;
	st = call(c, &req, false, &resp);
	if (st == RKC_OK) {
		v = calloc(resp->n_kvs ? resp->n_kvs : 1, sizeof *v);
		if (v == NULL)
			st = RKC_ENOMEM;
		for (size_t i = 0; st == RKC_OK && i < resp->n_kvs; i++) {
			st = copy_buf(&v[i].key, &resp->kvs[i]->key);
			if (st == RKC_OK)
				st = copy_buf(&v[i].value, &resp->kvs[i]->value);
		}
		if (st == RKC_OK) {
			*kvs = v;
			*n = resp->n_kvs;
			if (more != NULL)
				*more = resp->more;
		} else {
			rkc_kvs_free(v, resp->n_kvs);
		}
	}
	if (resp != NULL)
		raftkv__response__free_unpacked(resp, NULL);
	return st;
}

int rkc_status(struct rkc_client *c, const char *endpoint, struct rkc_node_status *st)
{
	Raftkv__Request req = RAFTKV__REQUEST__INIT;
	Raftkv__Response *resp;
	struct endpoint saved_hint = c->hint;
	bool saved_use = c->use_hint;
	int rv;

	memset(st, 0, sizeof *st);
	disconnect(c);
	if (parse_endpoint(endpoint, strlen(endpoint), &c->hint) != 0) {
		set_err(c, "bad endpoint '%s'", endpoint);
		c->hint = saved_hint;
		return RKC_EINVAL;
	}
	c->use_hint = true;
	req.op = RAFTKV__OP__OP_STATUS;
	rv = call(c, &req, true, &resp);
	disconnect(c);
	c->hint = saved_hint;
	c->use_hint = saved_use;
	if (rv == RKC_OK && (resp == NULL || resp->node == NULL))
		rv = RKC_EPROTO;
	if (rv == RKC_OK) {
		const Raftkv__NodeStatus *ns = resp->node;

		st->id = ns->id;
		snprintf(st->role, sizeof st->role, "%s", ns->role);
		st->term = ns->term;
		st->leader = ns->leader;
		st->commit_index = ns->commit_index;
		st->applied_index = ns->applied_index;
		st->first_index = ns->first_index;
		st->last_index = ns->last_index;
		for (size_t i = 0; i < ns->n_members && i < 16; i++) {
			st->members[i].id = ns->members[i]->id;
			snprintf(st->members[i].peer_addr, sizeof st->members[i].peer_addr, "%s",
				 ns->members[i]->peer_addr);
			snprintf(st->members[i].client_addr, sizeof st->members[i].client_addr, "%s",
				 ns->members[i]->client_addr);
			st->members[i].learner = ns->members[i]->learner;
			st->n_members++;
		}
	}
	if (resp != NULL)
		raftkv__response__free_unpacked(resp, NULL);
	return rv;
}


/* An operation on node @id of the cluster: membership, leadership. */
static int member_op(struct rkc_client *c, Raftkv__Op op, uint64_t id)
{
	Raftkv__Request req = RAFTKV__REQUEST__INIT;
	Raftkv__Response *resp;
	int st;

	if (id == 0)
		return RKC_EINVAL;
	req.op = op;
	req.target = id;
	st = call(c, &req, false, &resp);
	if (resp != NULL)
		raftkv__response__free_unpacked(resp, NULL);
	return st;
}

int rkc_member_add(struct rkc_client *c, uint64_t id)
{
	return member_op(c, RAFTKV__OP__OP_MEMBER_ADD, id);
}

int rkc_member_promote(struct rkc_client *c, uint64_t id)
{
	return member_op(c, RAFTKV__OP__OP_MEMBER_PROMOTE, id);
}

int rkc_member_remove(struct rkc_client *c, uint64_t id)
{
	return member_op(c, RAFTKV__OP__OP_MEMBER_REMOVE, id);
}

int rkc_transfer_leader(struct rkc_client *c, uint64_t target)
{
	return member_op(c, RAFTKV__OP__OP_TRANSFER_LEADER, target);
}

static int write_fd(int fd, const uint8_t *p, size_t n)
{
	while (n > 0) {
		ssize_t w = write(fd, p, n);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

int rkc_snapshot_save(struct rkc_client *c, int fd, uint64_t *index, uint64_t *size)
{
	Raftkv__Request req = RAFTKV__REQUEST__INIT;
	Raftkv__Response *resp;
	uint64_t snap = 0, total = 0, off = 0;
	int st = RKC_UNAVAILABLE;

	/* A newer snapshot may replace ours mid-way, or the leader may change: start over. */
	for (int attempt = 0; attempt < 3; attempt++) {
		if (ftruncate(fd, 0) != 0 || lseek(fd, 0, SEEK_SET) != 0) {
			set_err(c, "cannot rewind the output: %s", strerror(errno));
			return RKC_EINVAL;
		}
		snap = 0;
		off = 0;
		for (;;) {
			req.op = RAFTKV__OP__OP_SNAPSHOT;
			req.snapshot_index = snap;
			req.offset = off;
			st = call(c, &req, snap != 0, &resp);
			if (st != RKC_OK) {
				if (resp != NULL)
					raftkv__response__free_unpacked(resp, NULL);
				break;
			}
			if (snap == 0) {
				snap = resp->snapshot_index;
				total = resp->snapshot_size;
			}
			if (resp->snapshot_index != snap || (resp->value.len == 0 && off < total)) {
				raftkv__response__free_unpacked(resp, NULL);
				set_err(c, "the snapshot changed while it was read");
				st = RKC_EPROTO;
				break;
			}
			if (write_fd(fd, resp->value.data, resp->value.len) != 0) {
				set_err(c, "write: %s", strerror(errno));
				raftkv__response__free_unpacked(resp, NULL);
				return RKC_EINVAL;
			}
			off += resp->value.len;
			raftkv__response__free_unpacked(resp, NULL);
			if (off >= total) {
				if (index != NULL)
					*index = snap;
				if (size != NULL)
					*size = total;
				return RKC_OK;
			}
		}
		if (st != RKC_UNAVAILABLE && st != RKC_EPROTO && st != RKC_TIMEOUT)
			return st;
	}
	return st;
}

/* loop.c -- the io thread's epoll loop; see loop.h for the contract.
 *
 * Owner: the io thread owns the epoll fd, listeners, the connection table, every reader and
 * send queue. Other threads reach it only through the outbox (ob_lock + list + eventfd).
 * The outbox is swapped out whole under the lock and processed without it, and a producer
 * writes the eventfd only when it found the outbox empty, so a burst of replies costs one
 * wakeup. Level-triggered epoll: EPOLLIN always, EPOLLOUT only while a send queue is stuck.
 */
#include "config.h"

#include "net/loop.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/uio.h>
#include <unistd.h>

#include "common/check.h"
#include "common/log.h"
#include "common/mem.h"
#include "net/frame.h"

#define MAX_LISTENERS 8
#define READ_CHUNK (64u << 10)
#define READ_BUDGET (1u << 20) /* bytes per connection per wakeup: fairness between conns */
#define MAX_IOV 64
#define EV_BATCH 128

#define TAG_EVENTFD (UINT64_C(1) << 62)
#define TAG_LISTENER (UINT64_C(1) << 63)
/* Connection ids (and epoll tags) are generation << 32 | slot; the generation is kept below
 * bit 62 so that an id never looks like one of the tags above. */
#define GEN_MASK ((UINT32_C(1) << 30) - 1)

/* Internal command bits in rk_obuf.flags, above the public RK_SEND_* bits. */
#define CMD_CLOSE (1u << 16)
#define CMD_CONNECT (1u << 17)

struct connect_req {
	struct sockaddr_storage sa;
	socklen_t len;
	int kind;
	uint64_t tag;
};

struct conn {
	int fd;             /* -1: slot free */
	uint32_t gen;       /* bumped on every free, so stale ids miss */
	int kind;
	uint64_t tag;
	bool connecting;    /* non-blocking connect in progress */
	bool closing;       /* close once the send queue is empty */
	bool want_out;      /* EPOLLOUT armed */
	bool dirty;         /* on the flush list */
	struct conn *dirty_next;
	unsigned next_free;
	struct rk_frame_reader rd;
	struct rk_obuf *sq_head, *sq_tail;
	size_t sq_bytes;
};

struct listener {
	int fd;
	int kind;
	struct sockaddr_storage sa;
	socklen_t len;
};

struct rk_loop {
	struct rk_loop_config cfg;
	int epfd;
	int efd;
	pthread_t thread;
	bool started;
	atomic_bool stopping;
	struct listener ls[MAX_LISTENERS];
	unsigned n_ls;
	struct conn *conns; /* cfg.max_conns slots */
	unsigned free_head; /* first free slot, or max_conns */
	unsigned n_open;
	struct conn *dirty;
	pthread_mutex_t ob_lock;
	struct rk_obuf *ob_head, *ob_tail; /* guarded by ob_lock */
	bool ob_closed;                    /* guarded by ob_lock */
	struct rk_loop_stats st;           /* written by the io thread, read racily */
};

#define STAT_ADD(l, f, n) __atomic_fetch_add(&(l)->st.f, (n), __ATOMIC_RELAXED)

struct rk_obuf *rk_obuf_new(size_t cap)
{
	struct rk_obuf *b = rk_malloc(sizeof *b + cap);

	if (b == NULL)
		return NULL;
	b->next = NULL;
	b->conn = 0;
	b->len = 0;
	b->off = 0;
	b->cap = cap;
	b->flags = 0;
	return b;
}

void rk_obuf_free(struct rk_obuf *b)
{
	rk_free(b);
}

static uint64_t conn_id(const struct rk_loop *l, const struct conn *c)
{
	return (uint64_t)(c->gen & GEN_MASK) << 32 | (uint64_t)(c - l->conns);
}

static struct conn *conn_lookup(struct rk_loop *l, uint64_t id)
{
	uint32_t slot = (uint32_t)id;
	struct conn *c;

	if (slot >= l->cfg.max_conns)
		return NULL;
	c = &l->conns[slot];
	if (c->fd < 0 || (c->gen & GEN_MASK) != (uint32_t)(id >> 32))
		return NULL;
	return c;
}

int rk_loop_new(const struct rk_loop_config *cfg, struct rk_loop **out)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.u64 = TAG_EVENTFD };
	struct rk_loop *l;
	int rv = RK_ENOMEM;

	l = rk_calloc(1, sizeof *l);
	if (l == NULL)
		return RK_ENOMEM;
	l->cfg = *cfg;
	if (l->cfg.max_conns == 0)
		l->cfg.max_conns = 1024;
	l->conns = rk_calloc(l->cfg.max_conns, sizeof *l->conns);
	if (l->conns == NULL)
		goto err_free;
	for (unsigned i = 0; i < l->cfg.max_conns; i++) {
		l->conns[i].fd = -1;
		l->conns[i].gen = 1;
		l->conns[i].next_free = i + 1;
	}
	l->free_head = 0;
	rv = RK_EIO;
	l->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (l->epfd < 0)
		goto err_conns;
	l->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (l->efd < 0)
		goto err_epoll;
	if (epoll_ctl(l->epfd, EPOLL_CTL_ADD, l->efd, &ev) != 0)
		goto err_efd;
	RK_CHECK(pthread_mutex_init(&l->ob_lock, NULL) == 0);
	atomic_init(&l->stopping, false);
	*out = l;
	return RK_OK;
err_efd:
	close(l->efd);
err_epoll:
	close(l->epfd);
err_conns:
	rk_free(l->conns);
err_free:
	rk_free(l);
	return rv;
}

int rk_loop_listen(struct rk_loop *l, const struct sockaddr *sa, socklen_t len, int kind,
		   struct rk_err *err)
{
	struct epoll_event ev = { .events = EPOLLIN };
	struct listener *ls;
	int fd, one = 1;

	if (l->n_ls == MAX_LISTENERS || l->started)
		return rk_err_set(err, RK_EINVAL, "too many listeners or loop already started");
	fd = socket(sa->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return rk_err_errno(err, RK_EIO, errno, "socket");
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0)
		goto err_errno;
	if (bind(fd, sa, len) != 0)
		goto err_errno;
	if (listen(fd, 1024) != 0)
		goto err_errno;
	ls = &l->ls[l->n_ls];
	ls->len = sizeof ls->sa;
	if (getsockname(fd, (struct sockaddr *)&ls->sa, &ls->len) != 0)
		goto err_errno;
	ev.data.u64 = TAG_LISTENER | l->n_ls;
	if (epoll_ctl(l->epfd, EPOLL_CTL_ADD, fd, &ev) != 0)
		goto err_errno;
	ls->fd = fd;
	ls->kind = kind;
	l->n_ls++;
	return RK_OK;
err_errno:
	rk_err_errno(err, RK_EIO, errno, "listen");
	close(fd);
	return RK_EIO;
}

int rk_loop_listen_addr(struct rk_loop *l, unsigned i, struct sockaddr_storage *sa, socklen_t *len)
{
	if (i >= l->n_ls)
		return RK_EINVAL;
	*sa = l->ls[i].sa;
	*len = l->ls[i].len;
	return RK_OK;
}

/* ---- connections (io thread) ---- */

static struct conn *conn_alloc(struct rk_loop *l, int fd, int kind, uint64_t tag)
{
	struct conn *c;

	if (l->free_head >= l->cfg.max_conns)
		return NULL;
	c = &l->conns[l->free_head];
	if (rk_frame_reader_init(&c->rd, l->cfg.max_frame) != RK_OK)
		return NULL;
	l->free_head = c->next_free;
	c->fd = fd;
	c->kind = kind;
	c->tag = tag;
	c->connecting = c->closing = c->want_out = c->dirty = false;
	c->sq_head = c->sq_tail = NULL;
	c->sq_bytes = 0;
	__atomic_fetch_add(&l->n_open, 1, __ATOMIC_RELAXED);
	return c;
}

static void conn_close(struct rk_loop *l, struct conn *c, int reason)
{
	uint64_t id = conn_id(l, c);
	bool was_open = !c->connecting;
	struct rk_obuf *b;

	epoll_ctl(l->epfd, EPOLL_CTL_DEL, c->fd, NULL);
	RK_CHECK(close(c->fd) == 0 || errno == EINTR);
	while ((b = c->sq_head) != NULL) {
		c->sq_head = b->next;
		rk_obuf_free(b);
	}
	rk_frame_reader_close(&c->rd);
	c->fd = -1;
	c->gen = (c->gen + 1) & GEN_MASK;
	if (c->gen == 0)
		c->gen = 1;
	c->next_free = l->free_head;
	l->free_head = (unsigned)(c - l->conns);
	__atomic_fetch_sub(&l->n_open, 1, __ATOMIC_RELAXED);
	STAT_ADD(l, closed, 1);
	/* A slot still on the flush list is skipped there while free (fd < 0). */
	if (l->cfg.h.on_close != NULL)
		l->cfg.h.on_close(l->cfg.h.data, was_open ? id : 0, c->kind, c->tag, reason);
}

static void set_out(struct rk_loop *l, struct conn *c, bool on)
{
	struct epoll_event ev = { .events = EPOLLIN | (on ? EPOLLOUT : 0u) };

	if (c->want_out == on)
		return;
	if (c->connecting)
		ev.events = EPOLLOUT;
	ev.data.u64 = conn_id(l, c);
	RK_CHECK(epoll_ctl(l->epfd, EPOLL_CTL_MOD, c->fd, &ev) == 0);
	c->want_out = on;
}

/* Write as much of the send queue as the socket takes. Returns false if @c was closed. */
static bool conn_flush(struct rk_loop *l, struct conn *c)
{
	struct iovec iov[MAX_IOV];
	struct rk_obuf *b;
	ssize_t n;
	int cnt;

	while (c->sq_head != NULL) {
		cnt = 0;
		for (b = c->sq_head; b != NULL && cnt < MAX_IOV; b = b->next) {
			iov[cnt].iov_base = b->data + b->off;
			iov[cnt].iov_len = b->len - b->off;
			cnt++;
		}
		n = writev(c->fd, iov, cnt);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK) {
				set_out(l, c, true);
				return true;
			}
			rk_log(RK_LOG_DEBUG, "connection %llu: write: %s",
			       (unsigned long long)conn_id(l, c), strerror(errno));
			conn_close(l, c, RK_EIO);
			return false;
		}
		STAT_ADD(l, bytes_out, (uint64_t)n);
		c->sq_bytes -= (size_t)n;
		while (n > 0) {
			b = c->sq_head;
			size_t left = b->len - b->off;

			if ((size_t)n < left) {
				b->off += (size_t)n;
				break;
			}
			n -= (ssize_t)left;
			c->sq_head = b->next;
			if (c->sq_head == NULL)
				c->sq_tail = NULL;
			rk_obuf_free(b);
		}
	}
	set_out(l, c, false);
	if (c->closing) {
		conn_close(l, c, RK_OK);
		return false;
	}
	return true;
}

static void mark_dirty(struct rk_loop *l, struct conn *c)
{
	if (c->dirty)
		return;
	c->dirty = true;
	c->dirty_next = l->dirty;
	l->dirty = c;
}

static void flush_dirty(struct rk_loop *l)
{
	struct conn *c;

	while ((c = l->dirty) != NULL) {
		l->dirty = c->dirty_next;
		c->dirty = false;
		if (c->fd >= 0 && !c->connecting && !c->want_out)
			conn_flush(l, c);
	}
}

static void do_accept(struct rk_loop *l, struct listener *ls)
{
	struct epoll_event ev = { .events = EPOLLIN };
	struct conn *c;
	int fd, one = 1;

	for (;;) {
		fd = accept4(ls->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			if (errno != EAGAIN && errno != EWOULDBLOCK)
				rk_log(RK_LOG_WARN, "accept: %s", strerror(errno));
			return;
		}
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
		c = conn_alloc(l, fd, ls->kind, 0);
		if (c == NULL) {
			rk_log(RK_LOG_WARN, "refusing a connection: %u connections open (or out of memory)",
			       l->n_open);
			close(fd);
			continue;
		}
		ev.data.u64 = conn_id(l, c);
		RK_CHECK(epoll_ctl(l->epfd, EPOLL_CTL_ADD, fd, &ev) == 0);
		STAT_ADD(l, accepted, 1);
		if (l->cfg.h.on_open != NULL)
			l->cfg.h.on_open(l->cfg.h.data, conn_id(l, c), c->kind, 0);
	}
}

/* Read what is there (up to a budget), hand every complete frame to on_frame. */
static void conn_read(struct rk_loop *l, struct conn *c)
{
	size_t budget = READ_BUDGET, len, room;
	const uint8_t *payload;
	uint8_t type, *p;
	ssize_t n;
	int rv;

	while (budget > 0) {
		rv = rk_frame_reader_space(&c->rd, READ_CHUNK, &p, &room);
		if (rv != RK_OK) {
			conn_close(l, c, rv);
			return;
		}
		n = read(c->fd, p, room);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return;
			conn_close(l, c, RK_EIO);
			return;
		}
		if (n == 0) {
			conn_close(l, c, RK_OK);
			return;
		}
		STAT_ADD(l, bytes_in, (uint64_t)n);
		rk_frame_reader_commit(&c->rd, (size_t)n);
		budget = budget > (size_t)n ? budget - (size_t)n : 0;
		while ((rv = rk_frame_reader_next(&c->rd, &type, &payload, &len)) == RK_OK) {
			STAT_ADD(l, frames_in, 1);
			rv = l->cfg.h.on_frame(l->cfg.h.data, conn_id(l, c), c->kind, c->tag, type,
					       payload, len);
			if (rv != RK_OK) {
				STAT_ADD(l, proto_errors, 1);
				rk_log(RK_LOG_WARN, "closing connection %llu: %s",
				       (unsigned long long)conn_id(l, c), rk_strerror(rv));
				conn_close(l, c, rv);
				return;
			}
		}
		if (rv != RK_EAGAIN) {
			STAT_ADD(l, proto_errors, 1);
			rk_log(RK_LOG_WARN, "closing connection %llu: %s",
			       (unsigned long long)conn_id(l, c), rk_strerror(rv));
			conn_close(l, c, rv);
			return;
		}
		if ((size_t)n < room)
			return; /* the socket is drained: skip the read that would say EAGAIN */
	}
}

static void connect_done(struct rk_loop *l, struct conn *c)
{
	int soerr = 0;
	socklen_t sl = sizeof soerr;

	if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) != 0)
		soerr = errno;
	if (soerr != 0) {
		rk_log(RK_LOG_DEBUG, "connect (tag %llu): %s", (unsigned long long)c->tag,
		       strerror(soerr));
		conn_close(l, c, RK_EIO);
		return;
	}
	c->connecting = false;
	c->want_out = true; /* registered for EPOLLOUT only: force the MOD below */
	set_out(l, c, false);
	if (l->cfg.h.on_open != NULL)
		l->cfg.h.on_open(l->cfg.h.data, conn_id(l, c), c->kind, c->tag);
	mark_dirty(l, c);
}

static void start_connect(struct rk_loop *l, const struct connect_req *req)
{
	struct epoll_event ev;
	struct conn *c;
	int fd, one = 1;

	fd = socket(req->sa.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		goto fail;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	if (connect(fd, (const struct sockaddr *)&req->sa, req->len) != 0 && errno != EINPROGRESS) {
		close(fd);
		goto fail;
	}
	c = conn_alloc(l, fd, req->kind, req->tag);
	if (c == NULL) {
		close(fd);
		goto fail;
	}
	c->connecting = true;
	c->want_out = true;
	ev.events = EPOLLOUT;
	ev.data.u64 = conn_id(l, c);
	RK_CHECK(epoll_ctl(l->epfd, EPOLL_CTL_ADD, fd, &ev) == 0);
	return;
fail:
	if (l->cfg.h.on_close != NULL)
		l->cfg.h.on_close(l->cfg.h.data, 0, req->kind, req->tag, RK_EIO);
}

static void enqueue_send(struct rk_loop *l, struct rk_obuf *b)
{
	struct conn *c = conn_lookup(l, b->conn);

	if (c == NULL || c->closing) {
		rk_obuf_free(b);
		return;
	}
	if (c->sq_head != NULL && c->sq_bytes + b->len > l->cfg.max_send_bytes) {
		if (b->flags & RK_SEND_DROPPABLE) {
			STAT_ADD(l, dropped_msgs, 1);
			rk_obuf_free(b);
			return;
		}
		rk_log(RK_LOG_WARN, "closing connection %llu: %zu bytes of replies unread",
		       (unsigned long long)b->conn, c->sq_bytes);
		rk_obuf_free(b);
		conn_close(l, c, RK_EFULL);
		return;
	}
	b->next = NULL;
	b->off = 0;
	if (c->sq_tail != NULL)
		c->sq_tail->next = b;
	else
		c->sq_head = b;
	c->sq_tail = b;
	c->sq_bytes += b->len;
	mark_dirty(l, c);
}

static void drain_outbox(struct rk_loop *l)
{
	struct rk_obuf *b, *next;
	uint64_t v;
	struct conn *c;

	while (read(l->efd, &v, sizeof v) > 0)
		;
	RK_CHECK(pthread_mutex_lock(&l->ob_lock) == 0);
	b = l->ob_head;
	l->ob_head = l->ob_tail = NULL;
	RK_CHECK(pthread_mutex_unlock(&l->ob_lock) == 0);
	for (; b != NULL; b = next) {
		next = b->next;
		if (b->flags & CMD_CONNECT) {
			start_connect(l, (const struct connect_req *)b->data);
			rk_obuf_free(b);
		} else if (b->flags & CMD_CLOSE) {
			/* Close once the queue is written: now via the flush list, or when a
			 * stuck queue drains on EPOLLOUT, or after a pending connect. */
			c = conn_lookup(l, b->conn);
			if (c != NULL) {
				c->closing = true;
				mark_dirty(l, c);
			}
			rk_obuf_free(b);
		} else {
			enqueue_send(l, b);
		}
	}
}

static void *loop_main(void *arg)
{
	struct rk_loop *l = arg;
	struct epoll_event evs[EV_BATCH];
	struct conn *c;
	int n;

	pthread_setname_np(pthread_self(), "rk-io");
	while (!atomic_load(&l->stopping)) {
		n = epoll_wait(l->epfd, evs, EV_BATCH, -1);
		if (n < 0) {
			RK_CHECK(errno == EINTR);
			continue;
		}
		for (int i = 0; i < n; i++) {
			uint64_t tag = evs[i].data.u64;

			if (tag == TAG_EVENTFD) {
				drain_outbox(l);
				continue;
			}
			if (tag & TAG_LISTENER) {
				do_accept(l, &l->ls[tag & 0xff]);
				continue;
			}
			c = conn_lookup(l, tag);
			if (c == NULL)
				continue; /* closed (and maybe reused) earlier in this batch */
			if (c->connecting) {
				connect_done(l, c);
				continue;
			}
			if ((evs[i].events & EPOLLOUT) && !conn_flush(l, c))
				continue;
			if (evs[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR))
				conn_read(l, c);
		}
		flush_dirty(l);
	}
	/* Stopping: the outbox is closed; write what goes without blocking, then close all. */
	drain_outbox(l);
	flush_dirty(l);
	for (unsigned i = 0; i < l->cfg.max_conns; i++) {
		c = &l->conns[i];
		if (c->fd >= 0)
			conn_close(l, c, RK_ESHUTDOWN);
	}
	return NULL;
}

int rk_loop_start(struct rk_loop *l)
{
	if (pthread_create(&l->thread, NULL, loop_main, l) != 0)
		return RK_EIO;
	l->started = true;
	return RK_OK;
}

static int outbox_push(struct rk_loop *l, struct rk_obuf *b)
{
	bool was_empty;
	uint64_t one = 1;

	b->next = NULL;
	RK_CHECK(pthread_mutex_lock(&l->ob_lock) == 0);
	if (l->ob_closed) {
		RK_CHECK(pthread_mutex_unlock(&l->ob_lock) == 0);
		rk_obuf_free(b);
		return RK_ESHUTDOWN;
	}
	was_empty = l->ob_head == NULL;
	if (l->ob_tail != NULL)
		l->ob_tail->next = b;
	else
		l->ob_head = b;
	l->ob_tail = b;
	RK_CHECK(pthread_mutex_unlock(&l->ob_lock) == 0);
	/* Only the push that made the outbox non-empty needs to wake the loop: it drains the
	 * whole list, including what was added after this write. */
	if (was_empty)
		RK_CHECK(write(l->efd, &one, sizeof one) == (ssize_t)sizeof one || errno == EAGAIN);
	return RK_OK;
}

int rk_loop_send(struct rk_loop *l, uint64_t conn, struct rk_obuf *b, unsigned flags)
{
	b->conn = conn;
	b->flags = flags & RK_SEND_DROPPABLE;
	return outbox_push(l, b);
}

int rk_loop_connect(struct rk_loop *l, const struct sockaddr *sa, socklen_t len, int kind,
		    uint64_t tag)
{
	struct rk_obuf *b = rk_obuf_new(sizeof(struct connect_req));
	struct connect_req *req;

	if (b == NULL)
		return RK_ENOMEM;
	if (len > sizeof req->sa) {
		rk_obuf_free(b);
		return RK_EINVAL;
	}
	req = (struct connect_req *)b->data;
	memset(req, 0, sizeof *req);
	memcpy(&req->sa, sa, len);
	req->len = len;
	req->kind = kind;
	req->tag = tag;
	b->flags = CMD_CONNECT;
	return outbox_push(l, b);
}

int rk_loop_close(struct rk_loop *l, uint64_t conn)
{
	struct rk_obuf *b = rk_obuf_new(0);

	if (b == NULL)
		return RK_ENOMEM;
	b->conn = conn;
	b->flags = CMD_CLOSE;
	return outbox_push(l, b);
}

void rk_loop_stop(struct rk_loop *l)
{
	uint64_t one = 1;

	RK_CHECK(pthread_mutex_lock(&l->ob_lock) == 0);
	l->ob_closed = true;
	RK_CHECK(pthread_mutex_unlock(&l->ob_lock) == 0);
	if (!l->started)
		return;
	atomic_store(&l->stopping, true);
	RK_CHECK(write(l->efd, &one, sizeof one) == (ssize_t)sizeof one || errno == EAGAIN);
	RK_CHECK(pthread_join(l->thread, NULL) == 0);
	l->started = false;
}

void rk_loop_free(struct rk_loop *l)
{
	struct rk_obuf *b;

	if (l == NULL)
		return;
	rk_loop_stop(l);
	for (unsigned i = 0; i < l->cfg.max_conns; i++) {
		if (l->conns[i].fd >= 0)
			conn_close(l, &l->conns[i], RK_ESHUTDOWN);
	}
	while ((b = l->ob_head) != NULL) {
		l->ob_head = b->next;
		rk_obuf_free(b);
	}
	for (unsigned i = 0; i < l->n_ls; i++)
		close(l->ls[i].fd);
	close(l->efd);
	close(l->epfd);
	RK_CHECK(pthread_mutex_destroy(&l->ob_lock) == 0);
	rk_free(l->conns);
	rk_free(l);
}

void rk_loop_stats(struct rk_loop *l, struct rk_loop_stats *st)
{
	st->accepted = __atomic_load_n(&l->st.accepted, __ATOMIC_RELAXED);
	st->closed = __atomic_load_n(&l->st.closed, __ATOMIC_RELAXED);
	st->frames_in = __atomic_load_n(&l->st.frames_in, __ATOMIC_RELAXED);
	st->bytes_in = __atomic_load_n(&l->st.bytes_in, __ATOMIC_RELAXED);
	st->bytes_out = __atomic_load_n(&l->st.bytes_out, __ATOMIC_RELAXED);
	st->dropped_msgs = __atomic_load_n(&l->st.dropped_msgs, __ATOMIC_RELAXED);
	st->proto_errors = __atomic_load_n(&l->st.proto_errors, __ATOMIC_RELAXED);
	st->open_conns = __atomic_load_n(&l->n_open, __ATOMIC_RELAXED);
}

/* proxy.c -- the fault proxy of the runner; see proxy.h for what it does.
 *
 * Design: each accepted connection is a struct conn with two sockets (fd[0] from the dialling
 * node a, fd[1] to the target b) and two flows, flow[d] reading fd[d] and writing fd[1 - d]
 * (so flow[0] is a -> b). A flow is a queue of chunks, each stamped with the time the proxy
 * read it; a chunk is due once that time plus the direction's delay has passed. Reads and
 * writes are both level-triggered: after every batch of events, pump_all() writes whatever is
 * due on every connection, recomputes which events each socket needs (EPOLLIN while its flow
 * has room or is blackholed, EPOLLOUT while due bytes wait on a full socket), and returns the
 * time of the next chunk to fall due, which becomes the epoll timeout. The number of
 * connections is small (a few per pair of nodes), so walking all of them is cheaper than
 * keeping a timer heap correct.
 *
 * A socket that reported EPOLLHUP keeps reporting it whatever its interest mask, so one that
 * needs no event (its flow is full) is taken out of the epoll set until it does ("parked").
 * Connections closed while a batch is handled stay allocated (marked dead, on p->dead) until
 * the batch is over, as later events of the batch may still point at them.
 *
 * Owner: the proxy thread (loop()) owns epfd, links, connections and their buffers. Other
 * threads touch only lock, cond and cmd, and write efd (see run()).
 */
#include "config.h"

#include <arpa/inet.h>
#include <assert.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "common/check.h"
#include "common/err.h"
#include "fault/proxy.h"

#define READ_MAX 65536u           /* bytes per read() */
#define READ_BUDGET (256u << 10)  /* per socket per batch, so that one stream cannot starve */
#define MAX_EVENTS 64

enum ref_kind { REF_EVENTFD, REF_LISTENER, REF_CONN };

/* What an epoll event points at. */
struct ref {
	enum ref_kind kind;
	unsigned side; /* REF_CONN: which fd of the connection */
	void *obj;     /* struct link (REF_LISTENER) or struct conn (REF_CONN) */
};

struct chunk {
	struct chunk *next;
	uint64_t read_ns; /* when the proxy read it (CLOCK_MONOTONIC) */
	size_t len, off;  /* off: bytes of it already written */
	unsigned char data[];
};

/* One direction of one connection: reads conn->fd[d], writes conn->fd[1 - d]. */
struct flow {
	struct chunk *head, *tail;
	size_t buffered; /* bytes in the chunks not yet written; <= FP_BUF_MAX */
	bool eof;        /* the sender's FIN was read (or thrown away) */
	bool shut;       /* the FIN was passed on: shutdown(SHUT_WR) of the receiver */
	bool tainted;    /* bytes or a FIN were thrown away: the stream has a hole */
};

struct link;

struct conn {
	struct link *l;
	struct conn *prev, *next; /* in l->conns; once dead, next is the link of p->dead */
	int fd[2];                /* [0] accepted from node a, [1] dialled to node b */
	struct ref ref[2];
	uint32_t armed[2];        /* events registered for fd[i] */
	bool registered[2];       /* fd[i] is in the epoll set (false while parked) */
	bool hup[2];              /* fd[i] reported EPOLLHUP */
	bool connecting;          /* fd[1]'s non-blocking connect has not finished */
	bool dead;                /* closed; freed at the end of the batch */
	struct flow flow[2];      /* [0]: a -> b, [1]: b -> a */
};

struct dir {
	enum fp_mode mode;
	unsigned delay_ms;
	uint64_t fwd_bytes, dropped_bytes;
	uint64_t buffered_max;
};

struct link {
	unsigned a, b;        /* node a dials node b through this link */
	int to_port;          /* node b's real port */
	int port;             /* where the proxy listens */
	int lfd;
	struct ref ref;
	struct dir dir[2];    /* [0]: a -> b, [1]: b -> a */
	struct conn *conns;   /* open connections */
	uint64_t accepted, closed, refused, faulted, open;
};

enum cmd_type { CMD_LINK, CMD_SET, CMD_HEAL, CMD_STATS, CMD_STOP };

/* A control call in flight; lives on the caller's stack until done. */
struct cmd {
	enum cmd_type type;
	unsigned a, b;          /* LINK, STATS: the pair; SET: src, dst */
	int to_port;            /* LINK */
	enum fp_mode mode;      /* SET */
	unsigned delay_ms;      /* SET */
	int port;               /* LINK: result */
	struct fp_link_stats stats; /* STATS: result */
	int rv;
	bool done;              /* guarded by fp_proxy.lock */
};

struct fp_proxy {
	pthread_t thread;
	int epfd;
	int efd;                /* eventfd: a command is waiting */
	struct ref efd_ref;
	pthread_mutex_t lock;   /* guards cmd and cmd->done */
	pthread_cond_t cond;    /* cmd taken or done */
	struct cmd *cmd;        /* the one pending command, NULL when none */
	/* proxy thread only below */
	struct link **links;
	size_t n_links;
	struct conn *dead;      /* closed during this batch */
	bool stop;
	unsigned char scratch[READ_MAX];
};

static uint64_t now_ns(void)
{
	struct timespec ts;

	RK_CHECK(clock_gettime(CLOCK_MONOTONIC, &ts) == 0);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static bool is_cut(const struct link *l)
{
	return l->dir[0].mode == FP_CUT || l->dir[1].mode == FP_CUT;
}

/* The link between @x and @y, and in *@d the index of direction @x -> @y; NULL if none. */
static struct link *find_link(struct fp_proxy *p, unsigned x, unsigned y, unsigned *d)
{
	for (size_t i = 0; i < p->n_links; i++) {
		struct link *l = p->links[i];

		if (l->a == x && l->b == y) {
			*d = 0;
			return l;
		}
		if (l->a == y && l->b == x) {
			*d = 1;
			return l;
		}
	}
	return NULL;
}

static void free_chunks(struct flow *f)
{
	while (f->head != NULL) {
		struct chunk *c = f->head;

		f->head = c->next;
		free(c);
	}
	f->tail = NULL;
	f->buffered = 0;
}

/* Close both sockets of @c and retire it. @faulted: closed by a fault, not by its nodes. */
static void close_conn(struct fp_proxy *p, struct conn *c, bool faulted)
{
	struct link *l = c->l;

	assert(!c->dead);
	for (unsigned i = 0; i < 2; i++) {
		/* closing the only descriptor of a socket also takes it out of the epoll set */
		if (c->fd[i] >= 0)
			close(c->fd[i]);
		c->fd[i] = -1;
		free_chunks(&c->flow[i]);
	}
	if (c->prev != NULL)
		c->prev->next = c->next;
	else
		l->conns = c->next;
	if (c->next != NULL)
		c->next->prev = c->prev;
	l->open--;
	l->closed++;
	if (faulted)
		l->faulted++;
	c->dead = true;
	c->prev = NULL;
	c->next = p->dead;
	p->dead = c;
}

static void free_dead(struct fp_proxy *p)
{
	while (p->dead != NULL) {
		struct conn *c = p->dead;

		p->dead = c->next;
		free(c);
	}
}

/* Close every connection of @l; with @d < 2, only those that lost bytes in direction @d. */
static void close_conns(struct fp_proxy *p, struct link *l, unsigned d)
{
	struct conn *c = l->conns;

	while (c != NULL) {
		struct conn *next = c->next;

		if (d >= 2 || c->flow[d].tainted)
			close_conn(p, c, true);
		c = next;
	}
}

static uint64_t due_ns(const struct conn *c, unsigned d, const struct chunk *ch)
{
	return ch->read_ns + (uint64_t)c->l->dir[d].delay_ms * 1000000u;
}

/* Make the epoll registration of @c's sockets match what they are waiting for. */
static void update_events(struct fp_proxy *p, struct conn *c, uint64_t now)
{
	for (unsigned i = 0; i < 2; i++) {
		const struct flow *in = &c->flow[i], *out = &c->flow[1 - i];
		struct epoll_event ev = {0};
		uint32_t want = 0;

		if (c->connecting) {
			/* nothing moves before the target answers; fd[0] waits, reporting only
			 * a hangup or an error */
			want = i == 1 ? EPOLLOUT : 0;
		} else {
			if (!in->eof &&
			    (c->l->dir[i].mode == FP_BLACKHOLE || in->buffered < FP_BUF_MAX))
				want |= EPOLLIN;
			if (out->head != NULL && due_ns(c, 1 - i, out->head) <= now)
				want |= EPOLLOUT;
		}
		if (c->hup[i] && want == 0) {
			if (c->registered[i])
				RK_CHECK(epoll_ctl(p->epfd, EPOLL_CTL_DEL, c->fd[i], NULL) == 0);
			c->registered[i] = false;
			continue;
		}
		if (c->registered[i] && c->armed[i] == want)
			continue;
		ev.events = want;
		ev.data.ptr = &c->ref[i];
		RK_CHECK(epoll_ctl(p->epfd, c->registered[i] ? EPOLL_CTL_MOD : EPOLL_CTL_ADD,
				   c->fd[i], &ev) == 0);
		c->registered[i] = true;
		c->armed[i] = want;
	}
}

static void set_nodelay(int fd)
{
	int one = 1;

	/* Raft messages are small and latency-bound; Nagle would add delays no fault asked for */
	(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

/* A node dialled the link: connect to its target. Takes @fd. */
static void start_conn(struct fp_proxy *p, struct link *l, int fd)
{
	struct sockaddr_in sa = {0};
	struct conn *c;
	int rv;

	c = calloc(1, sizeof *c);
	if (c == NULL) {
		close(fd);
		l->closed++;
		return;
	}
	c->l = l;
	c->fd[0] = fd;
	c->fd[1] = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	for (unsigned i = 0; i < 2; i++)
		c->ref[i] = (struct ref){.kind = REF_CONN, .side = i, .obj = c};
	c->next = l->conns;
	if (l->conns != NULL)
		l->conns->prev = c;
	l->conns = c;
	l->open++;
	if (c->fd[1] < 0)
		goto refused;
	set_nodelay(c->fd[0]);
	set_nodelay(c->fd[1]);
	sa.sin_family = AF_INET;
	sa.sin_port = htons((uint16_t)l->to_port);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	rv = connect(c->fd[1], (const struct sockaddr *)&sa, sizeof sa);
	if (rv != 0 && errno != EINPROGRESS)
		goto refused;
	c->connecting = rv != 0;
	update_events(p, c, now_ns());
	return;
refused:
	l->refused++;
	close_conn(p, c, false);
}

static void on_accept(struct fp_proxy *p, struct link *l)
{
	for (;;) {
		int fd = accept4(l->lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

		if (fd < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			/* EAGAIN; or out of descriptors, retried at the next wakeup */
			return;
		}
		l->accepted++;
		if (is_cut(l)) {
			close(fd);
			l->closed++;
			l->faulted++;
			continue;
		}
		start_conn(p, l, fd);
	}
}

/* Read what fd[@d] has into flow @d (or throw it away if the direction is blackholed).
 * May close @c. */
static void read_flow(struct fp_proxy *p, struct conn *c, unsigned d)
{
	struct flow *f = &c->flow[d];
	struct dir *dir = &c->l->dir[d];
	size_t total = 0;

	while (!f->eof && total < READ_BUDGET) {
		bool drop = dir->mode == FP_BLACKHOLE;
		size_t want = READ_MAX;
		struct chunk *ch;
		ssize_t n;

		if (!drop) {
			if (f->buffered >= FP_BUF_MAX)
				return;
			if (want > FP_BUF_MAX - f->buffered)
				want = FP_BUF_MAX - f->buffered;
		}
		n = read(c->fd[d], p->scratch, want);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno != EAGAIN)
				close_conn(p, c, false);
			return;
		}
		if (n == 0) {
			f->eof = true;
			/* a FIN lost on a partition is a hole like lost bytes */
			if (drop)
				f->tainted = true;
			return;
		}
		total += (size_t)n;
		if (drop) {
			dir->dropped_bytes += (uint64_t)n;
			f->tainted = true;
			continue;
		}
		ch = malloc(sizeof *ch + (size_t)n);
		if (ch == NULL) {
			close_conn(p, c, false);
			return;
		}
		ch->next = NULL;
		/* stamped after the read, not at the wakeup: bytes may have arrived in between,
		 * and none may leave before its full delay */
		ch->read_ns = now_ns();
		ch->len = (size_t)n;
		ch->off = 0;
		memcpy(ch->data, p->scratch, (size_t)n);
		if (f->tail != NULL)
			f->tail->next = ch;
		else
			f->head = ch;
		f->tail = ch;
		f->buffered += (size_t)n;
		if (f->buffered > dir->buffered_max)
			dir->buffered_max = f->buffered;
	}
}

/* Write the due chunks of flow @d to fd[1 - @d], then pass on a FIN that has been reached.
 * Returns false if @c was closed. */
static bool write_flow(struct fp_proxy *p, struct conn *c, unsigned d, uint64_t now)
{
	struct flow *f = &c->flow[d];
	int to = c->fd[1 - d];

	while (f->head != NULL && due_ns(c, d, f->head) <= now) {
		struct chunk *ch = f->head;
		ssize_t n = send(to, ch->data + ch->off, ch->len - ch->off, MSG_NOSIGNAL);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN)
				return true;
			close_conn(p, c, false);
			return false;
		}
		ch->off += (size_t)n;
		f->buffered -= (size_t)n;
		c->l->dir[d].fwd_bytes += (uint64_t)n;
		if (ch->off == ch->len) {
			f->head = ch->next;
			if (f->head == NULL)
				f->tail = NULL;
			free(ch);
		}
	}
	if (f->eof && !f->tainted && !f->shut && f->head == NULL) {
		/* ENOTCONN if the receiver is gone already: the next write will tell */
		(void)shutdown(to, SHUT_WR);
		f->shut = true;
	}
	return true;
}

static void on_conn_event(struct fp_proxy *p, struct conn *c, unsigned side, uint32_t events)
{
	if (c->dead)
		return;
	if (c->connecting) {
		int err = 0;
		socklen_t len = sizeof err;

		if (side == 0) {
			/* node a hung up before node b answered */
			close_conn(p, c, false);
			return;
		}
		if (getsockopt(c->fd[1], SOL_SOCKET, SO_ERROR, &err, &len) != 0 || err != 0) {
			c->l->refused++;
			close_conn(p, c, false);
			return;
		}
		c->connecting = false;
		return;
	}
	if (events & EPOLLERR) {
		close_conn(p, c, false);
		return;
	}
	if (events & EPOLLHUP)
		c->hup[side] = true;
	if (events & (EPOLLIN | EPOLLHUP))
		read_flow(p, c, side);
}

/* Write what is due everywhere, finish connections whose both streams ended, refresh epoll
 * interest. Returns the epoll timeout (ms) until the next chunk falls due, or -1. */
static int pump_all(struct fp_proxy *p)
{
	uint64_t now = now_ns(), next = UINT64_MAX;

	for (size_t i = 0; i < p->n_links; i++) {
		struct conn *c = p->links[i]->conns;

		while (c != NULL) {
			struct conn *cn = c->next;

			if (!c->connecting) {
				if (!write_flow(p, c, 0, now) || !write_flow(p, c, 1, now))
					goto next;
				if (c->flow[0].shut && c->flow[1].shut) {
					close_conn(p, c, false);
					goto next;
				}
				for (unsigned d = 0; d < 2; d++) {
					const struct chunk *h = c->flow[d].head;
					uint64_t due = h != NULL ? due_ns(c, d, h) : UINT64_MAX;

					if (due > now && due < next)
						next = due;
				}
			}
			update_events(p, c, now);
next:
			c = cn;
		}
	}
	if (next == UINT64_MAX)
		return -1;
	/* round up: waking a little late is fine, early would only spin */
	return (int)((next - now + 999999u) / 1000000u);
}

static int do_link(struct fp_proxy *p, struct cmd *cmd)
{
	struct sockaddr_in sa = {0};
	socklen_t len = sizeof sa;
	struct epoll_event ev = {0};
	struct link **links, *l;
	unsigned d;
	int rv;

	if (cmd->a == cmd->b || cmd->to_port <= 0 || cmd->to_port > 65535 ||
	    find_link(p, cmd->a, cmd->b, &d) != NULL)
		return RK_EINVAL;
	links = realloc(p->links, (p->n_links + 1) * sizeof *links);
	if (links == NULL)
		return RK_ENOMEM;
	p->links = links;
	l = calloc(1, sizeof *l);
	if (l == NULL)
		return RK_ENOMEM;
	l->a = cmd->a;
	l->b = cmd->b;
	l->to_port = cmd->to_port;
	l->ref = (struct ref){.kind = REF_LISTENER, .obj = l};
	l->lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (l->lfd < 0) {
		rv = RK_EIO;
		goto err_free;
	}
	sa.sin_family = AF_INET;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind(l->lfd, (const struct sockaddr *)&sa, sizeof sa) != 0 || listen(l->lfd, 64) != 0 ||
	    getsockname(l->lfd, (struct sockaddr *)&sa, &len) != 0) {
		rv = RK_EIO;
		goto err_close;
	}
	l->port = ntohs(sa.sin_port);
	ev.events = EPOLLIN;
	ev.data.ptr = &l->ref;
	if (epoll_ctl(p->epfd, EPOLL_CTL_ADD, l->lfd, &ev) != 0) {
		rv = RK_EIO;
		goto err_close;
	}
	p->links[p->n_links++] = l;
	cmd->port = l->port;
	return RK_OK;
err_close:
	close(l->lfd);
err_free:
	free(l);
	return rv;
}

/* Direction @d of @l becomes @mode: cut closes everything, leaving a blackhole closes what
 * lost bytes in it. */
static void set_dir(struct fp_proxy *p, struct link *l, unsigned d, enum fp_mode mode,
		    unsigned delay_ms)
{
	enum fp_mode old = l->dir[d].mode;

	l->dir[d].mode = mode;
	l->dir[d].delay_ms = delay_ms;
	if (is_cut(l))
		close_conns(p, l, 2);
	else if (old == FP_BLACKHOLE && mode != FP_BLACKHOLE)
		close_conns(p, l, d);
}

static int do_stats(struct fp_proxy *p, struct cmd *cmd)
{
	struct fp_link_stats *s = &cmd->stats;
	unsigned d;
	struct link *l = find_link(p, cmd->a, cmd->b, &d);

	if (l == NULL)
		return RK_ENOENT;
	memset(s, 0, sizeof *s);
	for (unsigned i = 0; i < 2; i++) {
		/* d is the link's index of a -> b as the caller named them */
		const struct dir *dir = &l->dir[i == 0 ? d : 1 - d];

		s->dir[i].fwd_bytes = dir->fwd_bytes;
		s->dir[i].dropped_bytes = dir->dropped_bytes;
		s->dir[i].buffered_max = dir->buffered_max;
	}
	s->accepted = l->accepted;
	s->closed = l->closed;
	s->refused = l->refused;
	s->faulted = l->faulted;
	s->open = l->open;
	return RK_OK;
}

static void exec_cmd(struct fp_proxy *p, struct cmd *cmd)
{
	struct link *l;
	unsigned d;

	cmd->rv = RK_OK;
	switch (cmd->type) {
	case CMD_LINK:
		cmd->rv = do_link(p, cmd);
		break;
	case CMD_SET:
		l = find_link(p, cmd->a, cmd->b, &d);
		if (l == NULL)
			cmd->rv = RK_ENOENT;
		else
			set_dir(p, l, d, cmd->mode, cmd->delay_ms);
		break;
	case CMD_HEAL:
		for (size_t i = 0; i < p->n_links; i++)
			for (d = 0; d < 2; d++)
				set_dir(p, p->links[i], d, FP_PASS, 0);
		break;
	case CMD_STATS:
		cmd->rv = do_stats(p, cmd);
		break;
	case CMD_STOP:
		p->stop = true;
		break;
	}
}

static void on_eventfd(struct fp_proxy *p)
{
	uint64_t token;

	/* EAGAIN: a token already consumed along with an earlier one */
	(void)!read(p->efd, &token, sizeof token);
	RK_CHECK(pthread_mutex_lock(&p->lock) == 0);
	if (p->cmd != NULL) {
		exec_cmd(p, p->cmd);
		p->cmd->done = true;
		p->cmd = NULL;
		RK_CHECK(pthread_cond_broadcast(&p->cond) == 0);
	}
	RK_CHECK(pthread_mutex_unlock(&p->lock) == 0);
}

static void *loop(void *arg)
{
	struct fp_proxy *p = arg;
	struct epoll_event ev[MAX_EVENTS];
	int timeout = -1;

	while (!p->stop) {
		int n = epoll_wait(p->epfd, ev, MAX_EVENTS, timeout);

		if (n < 0) {
			RK_CHECK(errno == EINTR);
			n = 0;
		}
		for (int i = 0; i < n; i++) {
			struct ref *r = ev[i].data.ptr;

			switch (r->kind) {
			case REF_EVENTFD:
				on_eventfd(p);
				break;
			case REF_LISTENER:
				on_accept(p, r->obj);
				break;
			case REF_CONN:
				on_conn_event(p, r->obj, r->side, ev[i].events);
				break;
			}
		}
		free_dead(p);
		timeout = pump_all(p);
		free_dead(p);
	}
	return NULL;
}

/* Hand @cmd to the proxy thread and wait until it has been carried out. Commands from
 * several threads queue up one at a time. */
static int run(struct fp_proxy *p, struct cmd *cmd)
{
	uint64_t one = 1;

	cmd->done = false;
	RK_CHECK(pthread_mutex_lock(&p->lock) == 0);
	while (p->cmd != NULL)
		RK_CHECK(pthread_cond_wait(&p->cond, &p->lock) == 0);
	p->cmd = cmd;
	RK_CHECK(write(p->efd, &one, sizeof one) == (ssize_t)sizeof one);
	while (!cmd->done)
		RK_CHECK(pthread_cond_wait(&p->cond, &p->lock) == 0);
	RK_CHECK(pthread_mutex_unlock(&p->lock) == 0);
	return cmd->rv;
}

int fp_proxy_new(struct fp_proxy **out)
{
	struct epoll_event ev = {0};
	struct fp_proxy *p;
	int rv = RK_EIO;

	p = calloc(1, sizeof *p);
	if (p == NULL)
		return RK_ENOMEM;
	p->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (p->epfd < 0)
		goto err_free;
	p->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (p->efd < 0)
		goto err_close_ep;
	p->efd_ref = (struct ref){.kind = REF_EVENTFD};
	ev.events = EPOLLIN;
	ev.data.ptr = &p->efd_ref;
	if (epoll_ctl(p->epfd, EPOLL_CTL_ADD, p->efd, &ev) != 0)
		goto err_close_efd;
	if (pthread_mutex_init(&p->lock, NULL) != 0)
		goto err_close_efd;
	if (pthread_cond_init(&p->cond, NULL) != 0)
		goto err_destroy_lock;
	if (pthread_create(&p->thread, NULL, loop, p) != 0)
		goto err_destroy_cond;
	*out = p;
	return RK_OK;
err_destroy_cond:
	pthread_cond_destroy(&p->cond);
err_destroy_lock:
	pthread_mutex_destroy(&p->lock);
err_close_efd:
	close(p->efd);
err_close_ep:
	close(p->epfd);
err_free:
	free(p);
	return rv;
}

void fp_proxy_free(struct fp_proxy *p)
{
	struct cmd cmd = {.type = CMD_STOP};

	if (p == NULL)
		return;
	run(p, &cmd);
	RK_CHECK(pthread_join(p->thread, NULL) == 0);
	/* the thread is gone: its state is ours now */
	for (size_t i = 0; i < p->n_links; i++) {
		struct link *l = p->links[i];

		while (l->conns != NULL)
			close_conn(p, l->conns, false);
		close(l->lfd);
		free(l);
	}
	free_dead(p);
	free(p->links);
	pthread_cond_destroy(&p->cond);
	pthread_mutex_destroy(&p->lock);
	close(p->efd);
	close(p->epfd);
	free(p);
}

int fp_proxy_link(struct fp_proxy *p, unsigned a, unsigned b, int to_port, int *port_out)
{
	struct cmd cmd = {.type = CMD_LINK, .a = a, .b = b, .to_port = to_port};
	int rv = run(p, &cmd);

	if (rv == RK_OK)
		*port_out = cmd.port;
	return rv;
}

int fp_proxy_set(struct fp_proxy *p, unsigned src, unsigned dst, enum fp_mode mode,
		 unsigned delay_ms)
{
	struct cmd cmd = {.type = CMD_SET, .a = src, .b = dst, .mode = mode, .delay_ms = delay_ms};

	if (mode != FP_PASS && mode != FP_BLACKHOLE && mode != FP_CUT)
		return RK_EINVAL;
	return run(p, &cmd);
}

void fp_proxy_heal(struct fp_proxy *p)
{
	struct cmd cmd = {.type = CMD_HEAL};

	run(p, &cmd);
}

int fp_proxy_stats(struct fp_proxy *p, unsigned a, unsigned b, struct fp_link_stats *out)
{
	struct cmd cmd = {.type = CMD_STATS, .a = a, .b = b};
	int rv = run(p, &cmd);

	if (rv == RK_OK)
		*out = cmd.stats;
	return rv;
}

/* loop.h -- the io thread: one epoll loop over listeners and connections.
 *
 * The loop owns every socket. It accepts, reads straight into each connection's frame reader,
 * and hands every complete frame to on_frame() on the io thread; the handler decodes it and
 * queues work elsewhere. Other threads never touch a socket: they send, connect and close
 * through rk_loop_send/_connect/_close, which queue a command in the loop's outbox and wake
 * it with an eventfd. Connections are named by a 64-bit id (slot + generation), so a reply
 * for a connection that closed meanwhile is dropped instead of reaching a reused slot.
 *
 * Send queues are bounded per connection (max_send_bytes): a message marked droppable (a
 * Raft message: the protocol tolerates loss) is dropped when the queue is over its bound; any
 * other (a client reply) closes the connection instead, since a client that does not read
 * its replies would otherwise grow memory without bound.
 *
 * Threads: rk_loop_new/listen/start/stop/free from the owner; send/connect/close from any
 * thread; the handlers run on the io thread only.
 */
#ifndef RK_NET_LOOP_H
#define RK_NET_LOOP_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "common/err.h"

/* An outgoing message: the caller encodes into data[0..len) and hands it to rk_loop_send(). */
struct rk_obuf {
	struct rk_obuf *next; /* outbox and send-queue link; the loop's */
	uint64_t conn;
	size_t len;   /* bytes to send */
	size_t off;   /* bytes already sent; the loop's */
	size_t cap;   /* bytes allocated at data */
	unsigned flags;
	_Alignas(16) uint8_t data[]; /* aligned: the loop keeps structs here too */
};

/* Returns owned (give it to rk_loop_send or rk_obuf_free), or NULL when out of memory. */
struct rk_obuf *rk_obuf_new(size_t cap);
void rk_obuf_free(struct rk_obuf *b);

enum rk_send_flags {
	RK_SEND_DROPPABLE = 1u << 0, /* drop, rather than close the connection, when over bound */
};

struct rk_loop_handlers {
	void *data;
	/* A connection opened: accepted on a listener of @kind, or an rk_loop_connect() with
	 * @tag completed. */
	void (*on_open)(void *data, uint64_t conn, int kind, uint64_t tag);
	/* A complete frame; @payload is borrowed for the call. Return RK_OK to go on reading,
	 * anything else closes the connection with that reason. */
	int (*on_frame)(void *data, uint64_t conn, int kind, uint64_t tag, uint8_t type,
			const uint8_t *payload, size_t len);
	/* The connection is gone (@reason: RK_OK for an orderly EOF or rk_loop_close(), an
	 * error code otherwise); also for a connect that failed (@conn then never opened). */
	void (*on_close)(void *data, uint64_t conn, int kind, uint64_t tag, int reason);
};

struct rk_loop_config {
	uint32_t max_frame;      /* payload bytes; larger frames close the connection */
	size_t max_send_bytes;   /* per-connection send-queue bound */
	unsigned max_conns;      /* connections at once; beyond, accepts are refused */
	struct rk_loop_handlers h;
};

struct rk_loop;

/* Errors: RK_ENOMEM, RK_EIO. */
int rk_loop_new(const struct rk_loop_config *cfg, struct rk_loop **out);

/* Listen on @sa (port 0 picks a free port; see rk_loop_listen_addr). Connections accepted
 * on it get @kind. Before rk_loop_start() only. Errors: RK_EIO (with the address in @err). */
int rk_loop_listen(struct rk_loop *l, const struct sockaddr *sa, socklen_t len, int kind,
		   struct rk_err *err);

/* The address listener number @i (in rk_loop_listen order) is bound to. */
int rk_loop_listen_addr(struct rk_loop *l, unsigned i, struct sockaddr_storage *sa,
			socklen_t *len);

/* Start the io thread. Errors: RK_EIO. */
int rk_loop_start(struct rk_loop *l);

/* Stop accepting and reading, flush what can be written without blocking, close every
 * connection (on_close is called for each) and join the io thread. Idempotent. */
void rk_loop_stop(struct rk_loop *l);
void rk_loop_free(struct rk_loop *l);

/* Queue @b for connection @conn. Takes @b always (freed if the connection is gone).
 * Errors: RK_ESHUTDOWN (loop stopped; @b freed). */
int rk_loop_send(struct rk_loop *l, uint64_t conn, struct rk_obuf *b, unsigned flags);

/* Open a connection to @sa; on_open(tag) or on_close(tag) reports the outcome.
 * Errors: RK_ENOMEM, RK_ESHUTDOWN. */
int rk_loop_connect(struct rk_loop *l, const struct sockaddr *sa, socklen_t len, int kind,
		    uint64_t tag);

/* Close @conn after what is queued for it has been written. Errors: RK_ENOMEM, RK_ESHUTDOWN. */
int rk_loop_close(struct rk_loop *l, uint64_t conn);

/* Counters, for status and tests (read racily from any thread). */
struct rk_loop_stats {
	uint64_t accepted, closed, frames_in, bytes_in, bytes_out, dropped_msgs, proto_errors;
	unsigned open_conns;
};
void rk_loop_stats(struct rk_loop *l, struct rk_loop_stats *st);

#endif

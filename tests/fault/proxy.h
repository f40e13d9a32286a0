/* proxy.h -- a TCP proxy between raftkvd nodes that loses, delays or cuts traffic on command.
 *
 * The fault runner makes one link per pair of nodes a < b: node a's raftkv.conf says
 * `dial.b = 127.0.0.1:PORT` (PORT from fp_proxy_link()), and the proxy forwards each connection
 * accepted there to node b's real peer port. Faults apply per direction of a link:
 *
 *   FP_PASS       forward; with delay_ms > 0 every byte is held at least delay_ms (from the
 *                 moment the proxy read it, using the delay in force when it is due), order kept.
 *   FP_BLACKHOLE  bytes (and a FIN) from src are read and thrown away; the connection stays
 *                 open and the other direction keeps working. The stream now has a hole, so
 *                 when the direction leaves FP_BLACKHOLE every connection that lost anything
 *                 in that direction is closed (both sides) and the nodes reconnect. Bytes the
 *                 proxy had already buffered before the fault are still delivered.
 *   FP_CUT        the whole link, both directions: open connections are closed at once, new
 *                 ones are accepted and closed at once. The link stays cut while either of its
 *                 directions is FP_CUT.
 *
 * Each direction of each connection buffers at most FP_BUF_MAX bytes; when full, the proxy
 * stops reading the sending side, so TCP backpressure reaches the sender. A blackholed
 * direction is always read (and discarded). When one side ends its stream (FIN), the proxy
 * shuts down writing to the other side once the buffered bytes are delivered; a reset or error
 * on either side closes both.
 *
 * Thread: one epoll thread per proxy owns every socket and all state. Every control call below
 * may be made from any other thread (never from the proxy's own thread: there is none that
 * calls back); it hands a command to the proxy thread through a mutex + eventfd and returns
 * after the proxy thread has carried it out, so a fault is in force (and the connections it
 * closes are closed) when fp_proxy_set() returns. Many proxies may live in one process.
 */
#ifndef RK_TESTS_FAULT_PROXY_H
#define RK_TESTS_FAULT_PROXY_H

#include <stdint.h>

#define FP_BUF_MAX (4u << 20) /* bytes buffered per direction of one connection */

struct fp_proxy;

enum fp_mode { FP_PASS, FP_BLACKHOLE, FP_CUT };

/* Counters of one link, oriented as the caller named the pair: dir[0] is @a -> @b. */
struct fp_link_stats {
	struct {
		uint64_t fwd_bytes;     /* delivered to the receiving node */
		uint64_t dropped_bytes; /* read and thrown away by FP_BLACKHOLE */
		uint64_t buffered_max;  /* most bytes one connection held; <= FP_BUF_MAX */
	} dir[2];
	uint64_t accepted;  /* connections accepted from the dialling node (including cut ones) */
	uint64_t closed;    /* connections ended, for any reason */
	uint64_t refused;   /* of those, the target could not be reached */
	uint64_t faulted;   /* of those, closed by FP_CUT or by the end of a blackhole */
	uint64_t open;      /* connections open now */
};

/* Create a proxy with no links and start its thread. Returns owned *@out.
 * Errors: RK_ENOMEM, RK_EIO (epoll, eventfd or thread creation failed). */
int fp_proxy_new(struct fp_proxy **out);

/* Stop the thread, close every listener and connection, free @p (NULL is fine). */
void fp_proxy_free(struct fp_proxy *p);

/* Listen on 127.0.0.1 (a port chosen by the kernel; *@port_out gets it) for connections from
 * node @a to node @b and forward each to 127.0.0.1:@to_port. If the target refuses, the
 * accepted connection is closed. Every direction starts FP_PASS without delay.
 * Errors: RK_EINVAL (@a == @b, a link for the pair exists, bad port), RK_ENOMEM, RK_EIO. */
int fp_proxy_link(struct fp_proxy *p, unsigned a, unsigned b, int to_port, int *port_out);

/* Fault direction @src -> @dst of the link between the two (either orientation of the pair).
 * @delay_ms is used with FP_PASS only (FP_BLACKHOLE/FP_CUT keep it, it applies again when the
 * direction passes). Errors: RK_ENOENT (no such link), RK_EINVAL (bad mode). */
int fp_proxy_set(struct fp_proxy *p, unsigned src, unsigned dst, enum fp_mode mode,
		 unsigned delay_ms);

/* Every direction of every link back to FP_PASS with no delay (closing, as fp_proxy_set()
 * does, the connections that lost bytes). */
void fp_proxy_heal(struct fp_proxy *p);

/* Counters of the link between @a and @b, dir[0] being @a -> @b. Errors: RK_ENOENT. */
int fp_proxy_stats(struct fp_proxy *p, unsigned a, unsigned b, struct fp_link_stats *out);

#endif

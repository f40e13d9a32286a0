/* rpc.h -- Raft messages on the wire: struct rk_msg <-> raftkv.peer.Message frames.
 *
 * The only place where the core's message struct meets protobuf-c. Encoding writes one
 * complete frame (header + payload) into a fresh rk_obuf ready for rk_loop_send(). Decoding
 * validates what the core would otherwise have to trust (type ranges, entry types, the
 * snapshot's configuration) and keeps the entry bytes where protobuf-c unpacked them.
 *
 * Thread: any; no shared state.
 */
#ifndef RK_NET_RPC_H
#define RK_NET_RPC_H

#include <stddef.h>
#include <stdint.h>

#include "net/loop.h"
#include "raftkv/raft.h"

/* A decoded message and what its pointers point into. */
struct rk_rpc_msg {
	struct rk_msg m;   /* entries and data borrow from the fields below */
	void *pb;          /* the unpacked protobuf message */
	struct rk_entry *ents;
};

/* Encode @m as a RK_FRAME_PEER_MSG frame; returns owned buffer in @out.
 * Errors: RK_ENOMEM, RK_EFRAME_TOOBIG (over @max_payload). */
int rk_rpc_encode_msg(const struct rk_msg *m, uint32_t max_payload, struct rk_obuf **out);

/* Decode a RK_FRAME_PEER_MSG payload into @out (free with rk_rpc_msg_free). Errors:
 * RK_EFRAME_DECODE (not a message, or fields out of range), RK_ENOMEM. */
int rk_rpc_decode_msg(const uint8_t *payload, size_t len, struct rk_rpc_msg *out);
void rk_rpc_msg_free(struct rk_rpc_msg *msg);

/* The first frame of a peer connection. */
int rk_rpc_encode_hello(uint64_t cluster_id, rk_node_id from, rk_node_id to,
			struct rk_obuf **out);
/* Errors: RK_EFRAME_DECODE. */
int rk_rpc_decode_hello(const uint8_t *payload, size_t len, uint64_t *cluster_id,
			rk_node_id *from, rk_node_id *to);

#endif

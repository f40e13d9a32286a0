/* rpc.c -- rk_msg <-> protobuf; see rpc.h. */
#include "config.h"

#include "net/rpc.h"

#include <string.h>

#include "common/mem.h"
#include "net/frame.h"
#include "peer.pb-c.h"

/* Entries per message kept on the stack while encoding; larger batches allocate. */
#define STACK_ENTRIES 32

static int pack_frame(const ProtobufCMessage *pb, uint8_t type, uint32_t max_payload,
		      struct rk_obuf **out)
{
	size_t len = protobuf_c_message_get_packed_size(pb);
	struct rk_obuf *b;

	if (len > max_payload)
		return RK_EFRAME_TOOBIG;
	b = rk_obuf_new(RK_FRAME_HEADER_SIZE + len);
	if (b == NULL)
		return RK_ENOMEM;
	rk_frame_header_write(b->data, type, (uint32_t)len);
	protobuf_c_message_pack(pb, b->data + RK_FRAME_HEADER_SIZE);
	b->len = RK_FRAME_HEADER_SIZE + len;
	*out = b;
	return RK_OK;
}

int rk_rpc_encode_msg(const struct rk_msg *m, uint32_t max_payload, struct rk_obuf **out)
{
	Raftkv__Peer__Message pb = RAFTKV__PEER__MESSAGE__INIT;
	Raftkv__Peer__SnapMeta snap = RAFTKV__PEER__SNAP_META__INIT;
	Raftkv__Peer__Entry ent_stack[STACK_ENTRIES], *ents = ent_stack;
	Raftkv__Peer__Entry *ptr_stack[STACK_ENTRIES], **ptrs = ptr_stack;
	uint8_t conf[RK_CONF_ENCODED_MAX];
	int rv;

	pb.type = m->type;
	pb.reject = m->reject;
	pb.force = m->force;
	pb.done = m->done;
	pb.from = m->from;
	pb.to = m->to;
	pb.term = m->term;
	pb.index = m->index;
	pb.log_term = m->log_term;
	pb.commit = m->commit;
	pb.ctx = m->ctx;
	pb.offset = m->offset;
	if (m->n_entries > STACK_ENTRIES) {
		ents = rk_malloc(m->n_entries * sizeof *ents);
		ptrs = rk_malloc(m->n_entries * sizeof *ptrs);
		if (ents == NULL || ptrs == NULL) {
			rv = RK_ENOMEM;
			goto out;
		}
	}
	for (size_t i = 0; i < m->n_entries; i++) {
		const struct rk_entry *e = &m->entries[i];

		raftkv__peer__entry__init(&ents[i]);
		ents[i].term = e->term;
		ents[i].index = e->index;
		ents[i].type = e->type;
		ents[i].data.data = e->data.base;
		ents[i].data.len = e->data.len;
		ptrs[i] = &ents[i];
	}
	pb.n_entries = m->n_entries;
	pb.entries = ptrs;
	if (m->type == RK_MSG_SNAPSHOT) {
		snap.index = m->snap.index;
		snap.term = m->snap.term;
		snap.size = m->snap.size;
		snap.conf.data = conf;
		snap.conf.len = rk_conf_encode(&m->snap.conf, conf);
		pb.snap = &snap;
		pb.data.data = m->data.base;
		pb.data.len = m->data.len;
	}
	rv = pack_frame(&pb.base, RK_FRAME_PEER_MSG, max_payload, out);
out:
	if (ents != ent_stack)
		rk_free(ents);
	if (ptrs != ptr_stack)
		rk_free(ptrs);
	return rv;
}

int rk_rpc_decode_msg(const uint8_t *payload, size_t len, struct rk_rpc_msg *out)
{
	Raftkv__Peer__Message *pb;
	struct rk_msg *m = &out->m;
	int rv = RK_EFRAME_DECODE;

	memset(out, 0, sizeof *out);
	pb = raftkv__peer__message__unpack(NULL, len, payload);
	if (pb == NULL)
		return RK_EFRAME_DECODE;
	if (pb->type < RK_MSG_VOTE || pb->type > RK_MSG_TYPE_MAX)
		goto err;
	m->type = (uint8_t)pb->type;
	m->reject = pb->reject;
	m->force = pb->force;
	m->done = pb->done;
	m->from = pb->from;
	m->to = pb->to;
	m->term = pb->term;
	m->index = pb->index;
	m->log_term = pb->log_term;
	m->commit = pb->commit;
	m->ctx = pb->ctx;
	m->offset = pb->offset;
	if (pb->n_entries > 0) {
		out->ents = rk_malloc(pb->n_entries * sizeof *out->ents);
		if (out->ents == NULL) {
			rv = RK_ENOMEM;
			goto err;
		}
		for (size_t i = 0; i < pb->n_entries; i++) {
			const Raftkv__Peer__Entry *pe = pb->entries[i];

			if (pe->type < RK_ENTRY_NORMAL || pe->type > RK_ENTRY_CONF)
				goto err;
			out->ents[i].term = pe->term;
			out->ents[i].index = pe->index;
			out->ents[i].type = (uint8_t)pe->type;
			out->ents[i].data.base = pe->data.data;
			out->ents[i].data.len = pe->data.len;
		}
		m->entries = out->ents;
		m->n_entries = pb->n_entries;
	}
	if (m->type == RK_MSG_SNAPSHOT) {
		if (pb->snap == NULL)
			goto err;
		m->snap.index = pb->snap->index;
		m->snap.term = pb->snap->term;
		m->snap.size = pb->snap->size;
		if (rk_conf_decode(&m->snap.conf, pb->snap->conf.data, pb->snap->conf.len) != RK_OK)
			goto err;
		m->data.base = pb->data.data;
		m->data.len = pb->data.len;
	}
	out->pb = pb;
	return RK_OK;
err:
	rk_free(out->ents);
	out->ents = NULL;
	raftkv__peer__message__free_unpacked(pb, NULL);
	return rv;
}

void rk_rpc_msg_free(struct rk_rpc_msg *msg)
{
	rk_free(msg->ents);
	if (msg->pb != NULL)
		raftkv__peer__message__free_unpacked(msg->pb, NULL);
	memset(msg, 0, sizeof *msg);
}

int rk_rpc_encode_hello(uint64_t cluster_id, rk_node_id from, rk_node_id to,
			struct rk_obuf **out)
{
	Raftkv__Peer__Hello pb = RAFTKV__PEER__HELLO__INIT;

	pb.cluster_id = cluster_id;
	pb.from = from;
	pb.to = to;
	return pack_frame(&pb.base, RK_FRAME_PEER_HELLO, UINT32_MAX, out);
}

int rk_rpc_decode_hello(const uint8_t *payload, size_t len, uint64_t *cluster_id,
			rk_node_id *from, rk_node_id *to)
{
	Raftkv__Peer__Hello *pb = raftkv__peer__hello__unpack(NULL, len, payload);

	if (pb == NULL)
		return RK_EFRAME_DECODE;
	*cluster_id = pb->cluster_id;
	*from = pb->from;
	*to = pb->to;
	raftkv__peer__hello__free_unpacked(pb, NULL);
	return *from != 0 ? RK_OK : RK_EFRAME_DECODE;
}

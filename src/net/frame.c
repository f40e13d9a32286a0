/* frame.c -- frame codec; see frame.h for the layout. */
#include "config.h"

#include "net/frame.h"

#include <string.h>

#include "client.pb-c.h"
#include "peer.pb-c.h"
#include "common/err.h"
#include "common/mem.h"

#define READER_INITIAL (64u << 10)

_Static_assert(RK_FRAME_HEADER_SIZE == 8, "frame header layout is part of the wire protocol");

static const ProtobufCMessageDescriptor *const frame_desc[RK_FRAME__END] = {
	[RK_FRAME_CLIENT_REQUEST] = &raftkv__request__descriptor,
	[RK_FRAME_CLIENT_RESPONSE] = &raftkv__response__descriptor,
	[RK_FRAME_PEER_HELLO] = &raftkv__peer__hello__descriptor,
	[RK_FRAME_PEER_MSG] = &raftkv__peer__message__descriptor,
};

static const ProtobufCMessageDescriptor *desc_of(uint8_t type)
{
	return type < RK_FRAME__END ? frame_desc[type] : NULL;
}

int rk_frame_header_parse(const uint8_t *p, size_t n, uint32_t max_payload, uint8_t *type,
			  uint32_t *len)
{
	uint32_t l;

	if (n < RK_FRAME_HEADER_SIZE)
		return RK_EAGAIN;
	if (p[0] != RK_FRAME_MAGIC0 || p[1] != RK_FRAME_MAGIC1 || p[2] != RK_FRAME_VERSION ||
	    desc_of(p[3]) == NULL)
		return RK_EFRAME_HEADER;
	l = (uint32_t)p[4] << 24 | (uint32_t)p[5] << 16 | (uint32_t)p[6] << 8 | (uint32_t)p[7];
	if (l > max_payload)
		return RK_EFRAME_TOOBIG;
	*type = p[3];
	*len = l;
	return RK_OK;
}

void rk_frame_header_write(uint8_t *p, uint8_t type, uint32_t len)
{
	p[0] = RK_FRAME_MAGIC0;
	p[1] = RK_FRAME_MAGIC1;
	p[2] = RK_FRAME_VERSION;
	p[3] = type;
	p[4] = (uint8_t)(len >> 24);
	p[5] = (uint8_t)(len >> 16);
	p[6] = (uint8_t)(len >> 8);
	p[7] = (uint8_t)len;
}

size_t rk_frame_size(const ProtobufCMessage *msg)
{
	return RK_FRAME_HEADER_SIZE + protobuf_c_message_get_packed_size(msg);
}

int rk_frame_encode(uint8_t type, const ProtobufCMessage *msg, uint32_t max_payload, uint8_t *out,
		    size_t cap, size_t *written)
{
	const ProtobufCMessageDescriptor *d = desc_of(type);
	size_t len;

	if (d == NULL || msg->descriptor != d)
		return RK_EINVAL;
	len = protobuf_c_message_get_packed_size(msg);
	if (len > max_payload)
		return RK_EFRAME_TOOBIG;
	if (cap < RK_FRAME_HEADER_SIZE + len)
		return RK_EAGAIN;
	rk_frame_header_write(out, type, (uint32_t)len);
	protobuf_c_message_pack(msg, out + RK_FRAME_HEADER_SIZE);
	*written = RK_FRAME_HEADER_SIZE + len;
	return RK_OK;
}

int rk_frame_unpack(uint8_t type, const uint8_t *payload, size_t len, ProtobufCMessage **out)
{
	const ProtobufCMessageDescriptor *d = desc_of(type);
	ProtobufCMessage *m;

	if (d == NULL)
		return RK_EFRAME_HEADER;
	m = protobuf_c_message_unpack(d, NULL, len, payload);
	if (m == NULL)
		return RK_EFRAME_DECODE;
	*out = m;
	return RK_OK;
}

int rk_frame_reader_init(struct rk_frame_reader *r, uint32_t max_payload)
{
	r->buf = rk_malloc(READER_INITIAL);
	if (r->buf == NULL)
		return RK_ENOMEM;
	r->cap = READER_INITIAL;
	r->start = 0;
	r->end = 0;
	r->max_payload = max_payload;
	r->error = RK_OK;
	return RK_OK;
}

void rk_frame_reader_close(struct rk_frame_reader *r)
{
	rk_free(r->buf);
	r->buf = NULL;
	r->cap = r->start = r->end = 0;
}

/* Make room for @want more bytes after end: slide the unconsumed bytes to the front first
 * (cheap: at most one partial frame is ever left), and grow only if that is not enough. */
static int reserve(struct rk_frame_reader *r, size_t want)
{
	size_t pending = r->end - r->start;
	size_t need, cap;
	uint8_t *p;

	if (r->cap - r->end >= want)
		return RK_OK;
	if (r->start > 0) {
		memmove(r->buf, r->buf + r->start, pending);
		r->start = 0;
		r->end = pending;
		if (r->cap - r->end >= want)
			return RK_OK;
	}
	need = pending + want;
	cap = r->cap;
	while (cap < need)
		cap *= 2;
	p = rk_realloc(r->buf, cap);
	if (p == NULL)
		return RK_ENOMEM;
	r->buf = p;
	r->cap = cap;
	return RK_OK;
}

int rk_frame_reader_space(struct rk_frame_reader *r, size_t want, uint8_t **p, size_t *n)
{
	int rv;

	if (r->error != RK_OK)
		return r->error;
	rv = reserve(r, want);
	if (rv != RK_OK)
		return rv;
	*p = r->buf + r->end;
	*n = r->cap - r->end;
	return RK_OK;
}

void rk_frame_reader_commit(struct rk_frame_reader *r, size_t n)
{
	r->end += n;
}

int rk_frame_reader_feed(struct rk_frame_reader *r, const void *data, size_t n)
{
	uint8_t *p;
	size_t room;
	int rv;

	rv = rk_frame_reader_space(r, n, &p, &room);
	if (rv != RK_OK)
		return rv;
	memcpy(p, data, n);
	rk_frame_reader_commit(r, n);
	return RK_OK;
}

int rk_frame_reader_next(struct rk_frame_reader *r, uint8_t *type, const uint8_t **payload,
			 size_t *len)
{
	size_t pending = r->end - r->start;
	uint32_t l;
	uint8_t t;
	int rv;

	if (r->error != RK_OK)
		return r->error;
	rv = rk_frame_header_parse(r->buf + r->start, pending, r->max_payload, &t, &l);
	if (rv == RK_EAGAIN)
		return rv;
	if (rv != RK_OK) {
		r->error = rv;
		return rv;
	}
	if (pending < RK_FRAME_HEADER_SIZE + (size_t)l)
		return RK_EAGAIN;
	*type = t;
	*payload = r->buf + r->start + RK_FRAME_HEADER_SIZE;
	*len = l;
	r->start += RK_FRAME_HEADER_SIZE + (size_t)l;
	if (r->start == r->end)
		r->start = r->end = 0;
	return RK_OK;
}

size_t rk_frame_reader_pending(const struct rk_frame_reader *r)
{
	return r->end - r->start;
}

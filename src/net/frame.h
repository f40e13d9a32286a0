/* frame.h -- length-prefixed frames around protobuf-c messages, and incremental decoding.
 *
 * Every message on a raftkv connection (client or peer) is one frame:
 *
 *   offset size  field
 *   0      2     magic 0x52 0x4B ("RK"): catches a peer that speaks something else at once
 *   2      1     version, RK_FRAME_VERSION
 *   3      1     type, enum rk_frame_type: says which protobuf message the payload is
 *   4      4     payload length, big-endian, at most the receiver's configured maximum
 *   8      n     payload: one packed protobuf message
 *
 * No checksum: TCP checks the bytes in transit, and the magic + version + type + bounded length
 * reject a stream that is out of step. A reader that sees a bad header or an oversized length
 * cannot find the next frame boundary, so the only safe reaction is to close the connection;
 * the reader stays in that error state.
 *
 * Thread: a reader belongs to one connection and so to the io thread; encoding is pure.
 */
#ifndef RK_NET_FRAME_H
#define RK_NET_FRAME_H

#include <protobuf-c/protobuf-c.h>
#include <stddef.h>
#include <stdint.h>

#define RK_FRAME_MAGIC0 0x52
#define RK_FRAME_MAGIC1 0x4B
#define RK_FRAME_VERSION 1
#define RK_FRAME_HEADER_SIZE 8
#define RK_FRAME_DEFAULT_MAX (16u << 20) /* payload bytes; the config can raise it */

enum rk_frame_type {
	RK_FRAME_CLIENT_REQUEST = 1,  /* raftkv.Request */
	RK_FRAME_CLIENT_RESPONSE = 2, /* raftkv.Response */
	RK_FRAME_PEER_HELLO = 3,      /* raftkv.peer.Hello: first frame of a peer connection */
	RK_FRAME_PEER_MSG = 4,        /* raftkv.peer.Message: one Raft message */
	RK_FRAME__END,
};

/* Parse the header at @p (@n bytes available). On RK_OK sets @type and @len.
 * Errors: RK_EAGAIN (fewer than RK_FRAME_HEADER_SIZE bytes), RK_EFRAME_HEADER (bad magic,
 * version or type), RK_EFRAME_TOOBIG (length over @max_payload). */
int rk_frame_header_parse(const uint8_t *p, size_t n, uint32_t max_payload, uint8_t *type,
			  uint32_t *len);

/* Write a header for a payload of @len bytes of @type at @p (RK_FRAME_HEADER_SIZE bytes). */
void rk_frame_header_write(uint8_t *p, uint8_t type, uint32_t len);

/* Bytes rk_frame_encode() needs for @msg: header + packed size. */
size_t rk_frame_size(const ProtobufCMessage *msg);

/* Encode @msg as one frame of @type into @out (@cap bytes) and set @written.
 * Errors: RK_EINVAL (unknown type, or the message is not the type's), RK_EFRAME_TOOBIG (payload
 * over @max_payload), RK_EAGAIN (@cap too small: nothing usable was written). */
int rk_frame_encode(uint8_t type, const ProtobufCMessage *msg, uint32_t max_payload, uint8_t *out,
		    size_t cap, size_t *written);

/* Decode @len payload bytes of a frame of @type into a message, returned owned in @out (free it
 * with protobuf_c_message_free_unpacked(@out, NULL)). Errors: RK_EFRAME_HEADER (unknown type),
 * RK_EFRAME_DECODE (the bytes are not a valid message of that type). */
int rk_frame_unpack(uint8_t type, const uint8_t *payload, size_t len, ProtobufCMessage **out);

/* Incremental reader: bytes go in as they arrive, whole frames come out. Owns its buffer, which
 * grows to fit the largest frame seen (bounded by max_payload) and is reused. */
struct rk_frame_reader {
	uint8_t *buf;
	size_t cap;           /* bytes allocated at buf */
	size_t start;         /* first byte not yet consumed */
	size_t end;           /* one past the last byte received */
	uint32_t max_payload; /* larger frames are refused with RK_EFRAME_TOOBIG */
	int error;            /* sticky: once a stream is out of step it stays so */
};

/* Errors: RK_ENOMEM. */
int rk_frame_reader_init(struct rk_frame_reader *r, uint32_t max_payload);
void rk_frame_reader_close(struct rk_frame_reader *r);

/* Space to receive into, for a read(2) straight into the buffer: at least @want bytes (fewer
 * never), returned borrowed until the next call on @r. Then rk_frame_reader_commit() the count
 * received. Errors: RK_ENOMEM, or the reader's sticky error. */
int rk_frame_reader_space(struct rk_frame_reader *r, size_t want, uint8_t **p, size_t *n);
void rk_frame_reader_commit(struct rk_frame_reader *r, size_t n);

/* Copy @n bytes in (for callers that already hold the bytes elsewhere). Errors: as _space. */
int rk_frame_reader_feed(struct rk_frame_reader *r, const void *data, size_t n);

/* The next complete frame: sets @type and a view of its payload, borrowed until the next call
 * on @r. Errors: RK_EAGAIN (no complete frame yet), RK_EFRAME_HEADER, RK_EFRAME_TOOBIG (both
 * sticky: close the connection). */
int rk_frame_reader_next(struct rk_frame_reader *r, uint8_t *type, const uint8_t **payload,
			 size_t *len);

/* Bytes received and not yet returned as frames. */
size_t rk_frame_reader_pending(const struct rk_frame_reader *r);

#endif

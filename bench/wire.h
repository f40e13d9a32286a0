/* wire.h -- the benchmark client's hot-path codecs: raftkv requests and responses by hand, and
 * just enough HTTP/1.1 and base64 to drive etcd's JSON gateway.
 *
 * protobuf-c's unpack allocates a message per reply and pack wants the size first; at tens of
 * thousands of requests a second that is the client's cost, not the server's. The request
 * encoder writes the same bytes protobuf-c would (fields in number order, proto3 defaults
 * left out: the tests compare the two); the response decoder reads only id, status, the value
 * length and leader_hint, skips everything else and never allocates.
 */
#ifndef RK_BENCH_WIRE_H
#define RK_BENCH_WIRE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A raftkv.Request (only the fields the benchmark sends). Borrows key and value. */
struct rkb_req {
	uint64_t id;
	int op;             /* RAFTKV__OP__* */
	const uint8_t *key;
	size_t klen;
	const uint8_t *val;
	size_t vlen;
	bool serializable;
	uint64_t client_id; /* 0: no session */
	uint64_t seq;
};

/* Upper bound of rkb_req_encode()'s output for these key and value sizes (frame included). */
size_t rkb_req_max(size_t klen, size_t vlen);

/* Write @r as one client-request frame (header + payload) at @out, which has room for
 * rkb_req_max() bytes. Returns the bytes written. */
size_t rkb_req_encode(const struct rkb_req *r, uint8_t *out);

/* What the benchmark reads of a raftkv.Response; hint borrows the payload. */
struct rkb_resp {
	uint64_t id;
	int status;        /* RAFTKV__STATUS__* */
	size_t vlen;       /* length of value */
	const char *hint;  /* leader_hint, not NUL-terminated; NULL when absent */
	size_t hint_len;
};

/* Decode a Response payload (@n bytes, frame header already stripped). Returns 0, or -1 when
 * the bytes are not a well-formed message. */
int rkb_resp_decode(const uint8_t *p, size_t n, struct rkb_resp *out);

/* Standard base64 (with padding) of @n bytes into @out (4 * ((n + 2) / 3) bytes, no NUL).
 * Returns the length written. */
size_t rkb_b64_encode(const uint8_t *in, size_t n, char *out);

/* One parsed HTTP/1.1 response. body borrows the input; NULL for a chunked body. */
struct rkb_http {
	int status;        /* e.g. 200 */
	const char *body;
	size_t body_len;
	bool close;        /* the server said Connection: close */
};

/* Parse the response at the start of @p (@n bytes). Returns 1 with @out and @consumed (bytes
 * of this response) set when it is complete, 0 when more bytes are needed, -1 when it is not
 * HTTP/1.x. Bodies are delimited by Content-Length or chunked encoding (no trailers). */
int rkb_http_parse(const char *p, size_t n, struct rkb_http *out, size_t *consumed);

#endif

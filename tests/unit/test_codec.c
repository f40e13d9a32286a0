/* test_codec.c -- the wire frame codec: round trips, byte-at-a-time and concatenated input,
 * each header error, undecodable payloads, and a few thousand random byte strings. */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "client.pb-c.h"
#include "common/err.h"
#include "common/mem.h"
#include "harness/runner.h"
#include "net/frame.h"

#define MAX_PAYLOAD (1u << 20)

/* Deterministic PRNG (splitmix64): failures replay. */
static uint64_t rng_state;
static uint64_t rng(void)
{
	uint64_t z = (rng_state += 0x9E3779B97F4A7C15ull);
	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
	return z ^ (z >> 31);
}

static void make_request(Raftkv__Request *req, uint64_t id, uint8_t *key, size_t klen,
			 uint8_t *val, size_t vlen)
{
	raftkv__request__init(req);
	req->id = id;
	req->op = RAFTKV__OP__OP_CAS;
	req->key.data = key;
	req->key.len = klen;
	req->value.data = val;
	req->value.len = vlen;
	req->expected.data = val;
	req->expected.len = vlen / 2;
	req->client_id = 0xDEADBEEFCAFEull;
	req->seq = id * 3;
	req->limit = 7;
}

static void check_request(const ProtobufCMessage *m, uint64_t id, const uint8_t *key, size_t klen,
			  const uint8_t *val, size_t vlen)
{
	const Raftkv__Request *req = (const Raftkv__Request *)m;

	CU_ASSERT_PTR_EQUAL_FATAL(m->descriptor, &raftkv__request__descriptor);
	CU_ASSERT_EQUAL(req->id, id);
	CU_ASSERT_EQUAL(req->op, RAFTKV__OP__OP_CAS);
	CU_ASSERT_EQUAL_FATAL(req->key.len, klen);
	CU_ASSERT(klen == 0 || memcmp(req->key.data, key, klen) == 0);
	CU_ASSERT_EQUAL_FATAL(req->value.len, vlen);
	CU_ASSERT(vlen == 0 || memcmp(req->value.data, val, vlen) == 0);
	CU_ASSERT_EQUAL(req->expected.len, vlen / 2);
	CU_ASSERT_EQUAL(req->client_id, 0xDEADBEEFCAFEull);
	CU_ASSERT_EQUAL(req->seq, id * 3);
	CU_ASSERT_EQUAL(req->limit, 7);
}

static void test_round_trip_binary_key(void)
{
	uint8_t key[] = { 'a', 0, 'b', 0, 0xFF };
	uint8_t val[300];
	Raftkv__Request req;
	struct rk_frame_reader r;
	uint8_t buf[1024], type;
	const uint8_t *payload;
	size_t n, len;
	ProtobufCMessage *m;

	for (size_t i = 0; i < sizeof val; i++)
		val[i] = (uint8_t)i;
	make_request(&req, 42, key, sizeof key, val, sizeof val);
	CU_ASSERT_EQUAL_FATAL(rk_frame_encode(RK_FRAME_CLIENT_REQUEST, &req.base, MAX_PAYLOAD, buf,
					      sizeof buf, &n),
			      RK_OK);
	CU_ASSERT_EQUAL(n, rk_frame_size(&req.base));
	CU_ASSERT_EQUAL(buf[0], 'R');
	CU_ASSERT_EQUAL(buf[1], 'K');

	CU_ASSERT_EQUAL_FATAL(rk_frame_reader_init(&r, MAX_PAYLOAD), RK_OK);
	CU_ASSERT_EQUAL(rk_frame_reader_feed(&r, buf, n), RK_OK);
	CU_ASSERT_EQUAL_FATAL(rk_frame_reader_next(&r, &type, &payload, &len), RK_OK);
	CU_ASSERT_EQUAL(type, RK_FRAME_CLIENT_REQUEST);
	CU_ASSERT_EQUAL(len, n - RK_FRAME_HEADER_SIZE);
	CU_ASSERT_EQUAL_FATAL(rk_frame_unpack(type, payload, len, &m), RK_OK);
	check_request(m, 42, key, sizeof key, val, sizeof val);
	protobuf_c_message_free_unpacked(m, NULL);
	CU_ASSERT_EQUAL(rk_frame_reader_next(&r, &type, &payload, &len), RK_EAGAIN);
	CU_ASSERT_EQUAL(rk_frame_reader_pending(&r), 0);
	rk_frame_reader_close(&r);
}

/* Encode @count requests of varying sizes back to back into one stream. */
static uint8_t *encode_stream(int count, size_t *total, uint8_t *key, uint8_t *val)
{
	uint8_t *stream = malloc((size_t)count * 1200);
	size_t off = 0, n;
	Raftkv__Request req;

	for (int i = 0; i < count; i++) {
		make_request(&req, (uint64_t)i + 1, key, (size_t)(i % 17), val, (size_t)(i * 7 % 1000));
		CU_ASSERT_EQUAL_FATAL(rk_frame_encode(RK_FRAME_CLIENT_REQUEST, &req.base, MAX_PAYLOAD,
						      stream + off, (size_t)count * 1200 - off, &n),
				      RK_OK);
		off += n;
	}
	*total = off;
	return stream;
}

/* Feed @stream in pieces of 1..@max_piece bytes; every message must come out, in order. */
static void feed_in_pieces(const uint8_t *stream, size_t total, int count, size_t max_piece,
			   const uint8_t *key, const uint8_t *val)
{
	struct rk_frame_reader r;
	size_t off = 0, len;
	int got = 0;
	uint8_t type;
	const uint8_t *payload;
	ProtobufCMessage *m;

	CU_ASSERT_EQUAL_FATAL(rk_frame_reader_init(&r, MAX_PAYLOAD), RK_OK);
	while (off < total) {
		size_t piece = 1 + (size_t)(rng() % max_piece);
		uint8_t *dst;
		size_t room;

		if (piece > total - off)
			piece = total - off;
		/* Alternate the two ways in: read-into-buffer and copy-in. */
		if (rng() & 1) {
			CU_ASSERT_EQUAL_FATAL(rk_frame_reader_space(&r, piece, &dst, &room), RK_OK);
			CU_ASSERT_FATAL(room >= piece);
			memcpy(dst, stream + off, piece);
			rk_frame_reader_commit(&r, piece);
		} else {
			CU_ASSERT_EQUAL_FATAL(rk_frame_reader_feed(&r, stream + off, piece), RK_OK);
		}
		off += piece;
		while (rk_frame_reader_next(&r, &type, &payload, &len) == RK_OK) {
			got++;
			CU_ASSERT_EQUAL_FATAL(rk_frame_unpack(type, payload, len, &m), RK_OK);
			check_request(m, (uint64_t)got, key, (size_t)((got - 1) % 17), val,
				      (size_t)((got - 1) * 7 % 1000));
			protobuf_c_message_free_unpacked(m, NULL);
		}
	}
	CU_ASSERT_EQUAL(got, count);
	CU_ASSERT_EQUAL(rk_frame_reader_pending(&r), 0);
	rk_frame_reader_close(&r);
}

static void test_split_and_concatenated(void)
{
	uint8_t key[17], val[1000];
	size_t total;
	uint8_t *stream;

	rng_state = 1;
	for (size_t i = 0; i < sizeof key; i++)
		key[i] = (uint8_t)rng();
	for (size_t i = 0; i < sizeof val; i++)
		val[i] = (uint8_t)rng();
	stream = encode_stream(200, &total, key, val);
	feed_in_pieces(stream, total, 200, 1, key, val);     /* a byte at a time */
	feed_in_pieces(stream, total, 200, 13, key, val);    /* splits inside headers */
	feed_in_pieces(stream, total, 200, 4096, key, val);  /* several frames per read */
	feed_in_pieces(stream, total, 200, total, key, val); /* all at once */
	free(stream);
}

static int next_error(const uint8_t *bytes, size_t n, uint32_t max)
{
	struct rk_frame_reader r;
	uint8_t type;
	const uint8_t *payload;
	size_t len;
	int rv, again;

	if (rk_frame_reader_init(&r, max) != RK_OK)
		return -1;
	rk_frame_reader_feed(&r, bytes, n);
	rv = rk_frame_reader_next(&r, &type, &payload, &len);
	/* Errors are sticky: the stream cannot be resynchronised. */
	again = rk_frame_reader_next(&r, &type, &payload, &len);
	if (rv != RK_OK && rv != RK_EAGAIN)
		CU_ASSERT_EQUAL(again, rv);
	if (rv != RK_OK && rv != RK_EAGAIN)
		CU_ASSERT_EQUAL(rk_frame_reader_feed(&r, "x", 1), rv);
	rk_frame_reader_close(&r);
	return rv;
}

static void test_header_errors(void)
{
	uint8_t h[RK_FRAME_HEADER_SIZE + 4] = { 0 };

	rk_frame_header_write(h, RK_FRAME_CLIENT_REQUEST, 4);
	CU_ASSERT_EQUAL(next_error(h, sizeof h, 100), RK_OK);
	CU_ASSERT_EQUAL(next_error(h, RK_FRAME_HEADER_SIZE - 1, 100), RK_EAGAIN); /* short header */
	CU_ASSERT_EQUAL(next_error(h, sizeof h - 1, 100), RK_EAGAIN);             /* short payload */

	h[0] = 'G'; /* "GET / HTTP/1.1" from a confused client */
	CU_ASSERT_EQUAL(next_error(h, sizeof h, 100), RK_EFRAME_HEADER);
	rk_frame_header_write(h, RK_FRAME_CLIENT_REQUEST, 4);
	h[2] = RK_FRAME_VERSION + 1;
	CU_ASSERT_EQUAL(next_error(h, sizeof h, 100), RK_EFRAME_HEADER);
	rk_frame_header_write(h, 0, 4);
	CU_ASSERT_EQUAL(next_error(h, sizeof h, 100), RK_EFRAME_HEADER);
	rk_frame_header_write(h, RK_FRAME__END, 4);
	CU_ASSERT_EQUAL(next_error(h, sizeof h, 100), RK_EFRAME_HEADER);
	rk_frame_header_write(h, 0xFF, 4);
	CU_ASSERT_EQUAL(next_error(h, sizeof h, 100), RK_EFRAME_HEADER);

	/* Oversized: refused from the header alone, before any payload is buffered. */
	rk_frame_header_write(h, RK_FRAME_CLIENT_REQUEST, 101);
	CU_ASSERT_EQUAL(next_error(h, RK_FRAME_HEADER_SIZE, 100), RK_EFRAME_TOOBIG);
	rk_frame_header_write(h, RK_FRAME_CLIENT_REQUEST, 0xFFFFFFFFu);
	CU_ASSERT_EQUAL(next_error(h, RK_FRAME_HEADER_SIZE, 100), RK_EFRAME_TOOBIG);
	rk_frame_header_write(h, RK_FRAME_CLIENT_REQUEST, 100);
	CU_ASSERT_EQUAL(next_error(h, RK_FRAME_HEADER_SIZE, 100), RK_EAGAIN); /* exactly max: fine */
}

static void test_undecodable_payload(void)
{
	/* Field 1 with wire type 7 (does not exist), a truncated varint, a length past the end. */
	static const uint8_t bad[][4] = { { 0x0F }, { 0x08, 0x80 }, { 0x1A, 0x05, 'a' } };
	static const size_t bad_len[] = { 1, 2, 3 };
	ProtobufCMessage *m = NULL;

	for (size_t i = 0; i < 3; i++)
		CU_ASSERT_EQUAL(rk_frame_unpack(RK_FRAME_CLIENT_REQUEST, bad[i], bad_len[i], &m),
				RK_EFRAME_DECODE);
	CU_ASSERT_EQUAL(rk_frame_unpack(0x77, bad[0], 1, &m), RK_EFRAME_HEADER);
	/* An empty payload is a valid message with every field at its default. */
	CU_ASSERT_EQUAL_FATAL(rk_frame_unpack(RK_FRAME_CLIENT_RESPONSE, bad[0], 0, &m), RK_OK);
	CU_ASSERT_EQUAL(((Raftkv__Response *)m)->status, RAFTKV__STATUS__STATUS_OK);
	protobuf_c_message_free_unpacked(m, NULL);
}

static void test_encode_errors(void)
{
	uint8_t key[4] = "abcd", val[200] = { 0 }, buf[64];
	Raftkv__Request req;
	Raftkv__Response resp;
	size_t n = 0;

	make_request(&req, 1, key, sizeof key, val, sizeof val);
	CU_ASSERT_EQUAL(rk_frame_encode(RK_FRAME_CLIENT_REQUEST, &req.base, 100, buf, sizeof buf, &n),
			RK_EFRAME_TOOBIG);
	CU_ASSERT_EQUAL(rk_frame_encode(RK_FRAME_CLIENT_REQUEST, &req.base, MAX_PAYLOAD, buf,
					sizeof buf, &n),
			RK_EAGAIN);
	raftkv__response__init(&resp);
	CU_ASSERT_EQUAL(rk_frame_encode(RK_FRAME_CLIENT_REQUEST, &resp.base, MAX_PAYLOAD, buf,
					sizeof buf, &n),
			RK_EINVAL);
	CU_ASSERT_EQUAL(rk_frame_encode(0x33, &resp.base, MAX_PAYLOAD, buf, sizeof buf, &n),
			RK_EINVAL);
	CU_ASSERT_EQUAL(n, 0);
}

static void test_large_frame_grows_reader(void)
{
	size_t vlen = 3u << 20, n, len;
	uint8_t *val = malloc(vlen), *buf = malloc(2 * vlen), type;
	const uint8_t *payload;
	Raftkv__Request req;
	struct rk_frame_reader r;
	ProtobufCMessage *m;

	CU_ASSERT_PTR_NOT_NULL_FATAL(val);
	CU_ASSERT_PTR_NOT_NULL_FATAL(buf);
	memset(val, 0xAB, vlen);
	make_request(&req, 9, val, 3, val, vlen);
	CU_ASSERT_EQUAL_FATAL(rk_frame_encode(RK_FRAME_CLIENT_REQUEST, &req.base, 8u << 20, buf,
					      2 * vlen, &n),
			      RK_OK);
	CU_ASSERT_EQUAL_FATAL(rk_frame_reader_init(&r, 8u << 20), RK_OK);
	for (size_t off = 0; off < n; off += 65536)
		CU_ASSERT_EQUAL(rk_frame_reader_feed(&r, buf + off, n - off < 65536 ? n - off : 65536),
				RK_OK);
	CU_ASSERT_EQUAL_FATAL(rk_frame_reader_next(&r, &type, &payload, &len), RK_OK);
	CU_ASSERT_EQUAL_FATAL(rk_frame_unpack(type, payload, len, &m), RK_OK);
	check_request(m, 9, val, 3, val, vlen);
	protobuf_c_message_free_unpacked(m, NULL);
	rk_frame_reader_close(&r);
	/* The same frame (4.5 MiB: value + half of it as `expected`) against a 4 MiB limit is
	 * refused from its header alone. */
	CU_ASSERT_EQUAL(next_error(buf, RK_FRAME_HEADER_SIZE, 4u << 20), RK_EFRAME_TOOBIG);
	free(val);
	free(buf);
}

/* Random garbage, half of it behind a valid header so that the payload decoder sees it too.
 * Every outcome must be one of the documented codes; ASan/UBSan catch any bad access. */
static void test_random_garbage(void)
{
	uint8_t bytes[512];
	int outcomes[RK_ERR__COUNT] = { 0 };

	rng_state = 0x5EED;
	for (int i = 0; i < 5000; i++) {
		struct rk_frame_reader r;
		size_t n = (size_t)(rng() % sizeof bytes), off = 0, len;
		uint8_t type;
		const uint8_t *payload;
		ProtobufCMessage *m;
		int rv;

		for (size_t j = 0; j < n; j++)
			bytes[j] = (uint8_t)rng();
		if ((i & 1) && n >= RK_FRAME_HEADER_SIZE)
			rk_frame_header_write(bytes, (uint8_t)(1 + rng() % (RK_FRAME__END - 1)),
					      (uint32_t)(n - RK_FRAME_HEADER_SIZE));
		CU_ASSERT_EQUAL_FATAL(rk_frame_reader_init(&r, 256), RK_OK);
		while (off < n) {
			size_t piece = 1 + (size_t)(rng() % 64);

			if (piece > n - off)
				piece = n - off;
			if (rk_frame_reader_feed(&r, bytes + off, piece) != RK_OK)
				break;
			off += piece;
			while ((rv = rk_frame_reader_next(&r, &type, &payload, &len)) == RK_OK) {
				int u = rk_frame_unpack(type, payload, len, &m);

				CU_ASSERT(u == RK_OK || u == RK_EFRAME_DECODE);
				if (u == RK_OK)
					protobuf_c_message_free_unpacked(m, NULL);
				outcomes[u]++;
			}
			CU_ASSERT(rv == RK_EAGAIN || rv == RK_EFRAME_HEADER || rv == RK_EFRAME_TOOBIG);
			outcomes[rv]++;
		}
		rk_frame_reader_close(&r);
	}
	/* The corpus really reached every branch. */
	CU_ASSERT(outcomes[RK_EFRAME_HEADER] > 0);
	CU_ASSERT(outcomes[RK_EFRAME_TOOBIG] > 0);
	CU_ASSERT(outcomes[RK_EFRAME_DECODE] > 0);
	CU_ASSERT(outcomes[RK_OK] > 0);
}

static void test_reader_out_of_memory(void)
{
	struct rk_frame_reader r;
	uint8_t big[200000];

	rk_mem_fail_after(0);
	CU_ASSERT_EQUAL(rk_frame_reader_init(&r, MAX_PAYLOAD), RK_ENOMEM);
	rk_mem_fail_after(-1);
	CU_ASSERT_EQUAL_FATAL(rk_frame_reader_init(&r, MAX_PAYLOAD), RK_OK);
	memset(big, 0, sizeof big);
	rk_mem_fail_after(0);
	CU_ASSERT_EQUAL(rk_frame_reader_feed(&r, big, sizeof big), RK_ENOMEM);
	rk_mem_fail_after(-1);
	/* Not sticky: memory pressure is not a protocol error. */
	CU_ASSERT_EQUAL(rk_frame_reader_feed(&r, big, sizeof big), RK_OK);
	CU_ASSERT_EQUAL(rk_frame_reader_pending(&r), sizeof big);
	rk_frame_reader_close(&r);
}

static CU_TestInfo codec_tests[] = {
	{ "round_trip_binary_key", test_round_trip_binary_key },
	{ "split_and_concatenated", test_split_and_concatenated },
	{ "header_errors", test_header_errors },
	{ "undecodable_payload", test_undecodable_payload },
	{ "encode_errors", test_encode_errors },
	{ "large_frame_grows_reader", test_large_frame_grows_reader },
	{ "random_garbage", test_random_garbage },
	{ "reader_out_of_memory", test_reader_out_of_memory },
	CU_TEST_INFO_NULL,
};

static CU_SuiteInfo suites[] = {
	{ "frame", NULL, NULL, NULL, NULL, codec_tests },
	CU_SUITE_INFO_NULL,
};

int main(int argc, char **argv)
{
	return rk_test_main(argc, argv, suites);
}

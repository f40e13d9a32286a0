/* test_rpc.c -- Raft messages through protobuf and back: every field of every type, large
 * entry batches, snapshot chunks with their configuration, and refusal of bad input. */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "harness/runner.h"
#include "net/frame.h"
#include "net/rpc.h"

static struct rk_obuf *encode(const struct rk_msg *m)
{
	struct rk_obuf *b = NULL;

	CU_ASSERT_EQUAL(rk_rpc_encode_msg(m, 64u << 20, &b), RK_OK);
	return b;
}

/* Decode the payload of frame @b into @out; checks the header on the way. */
static int decode(const struct rk_obuf *b, struct rk_rpc_msg *out)
{
	uint8_t type;
	uint32_t len;

	CU_ASSERT_EQUAL_FATAL(rk_frame_header_parse(b->data, b->len, 64u << 20, &type, &len), RK_OK);
	CU_ASSERT_EQUAL(type, RK_FRAME_PEER_MSG);
	CU_ASSERT_EQUAL(len + RK_FRAME_HEADER_SIZE, b->len);
	return rk_rpc_decode_msg(b->data + RK_FRAME_HEADER_SIZE, len, out);
}

static void check_same(const struct rk_msg *a, const struct rk_msg *b)
{
	CU_ASSERT_EQUAL(a->type, b->type);
	CU_ASSERT_EQUAL(a->reject, b->reject);
	CU_ASSERT_EQUAL(a->force, b->force);
	CU_ASSERT_EQUAL(a->done, b->done);
	CU_ASSERT_EQUAL(a->from, b->from);
	CU_ASSERT_EQUAL(a->to, b->to);
	CU_ASSERT_EQUAL(a->term, b->term);
	CU_ASSERT_EQUAL(a->index, b->index);
	CU_ASSERT_EQUAL(a->log_term, b->log_term);
	CU_ASSERT_EQUAL(a->commit, b->commit);
	CU_ASSERT_EQUAL(a->ctx, b->ctx);
	CU_ASSERT_EQUAL(a->offset, b->offset);
	CU_ASSERT_EQUAL_FATAL(a->n_entries, b->n_entries);
	for (size_t i = 0; i < a->n_entries; i++) {
		CU_ASSERT_EQUAL(a->entries[i].term, b->entries[i].term);
		CU_ASSERT_EQUAL(a->entries[i].index, b->entries[i].index);
		CU_ASSERT_EQUAL(a->entries[i].type, b->entries[i].type);
		CU_ASSERT_EQUAL_FATAL(a->entries[i].data.len, b->entries[i].data.len);
		CU_ASSERT(a->entries[i].data.len == 0 ||
			  memcmp(a->entries[i].data.base, b->entries[i].data.base,
				 a->entries[i].data.len) == 0);
	}
}

static void test_every_type_round_trips(void)
{
	for (int t = RK_MSG_VOTE; t <= RK_MSG_TYPE_MAX; t++) {
		struct rk_msg m = {
			.type = (uint8_t)t, .reject = t & 1, .force = t == RK_MSG_VOTE, .done = false,
			.from = 3, .to = 5, .term = 1000 + (rk_term)t, .index = 77777, .log_term = 99,
			.commit = 77000, .ctx = 0xFEEDull << 20, .offset = 0,
		};
		struct rk_rpc_msg d;
		struct rk_obuf *b;

		if (t == RK_MSG_SNAPSHOT)
			continue; /* its own test */
		b = encode(&m);
		CU_ASSERT_EQUAL_FATAL(decode(b, &d), RK_OK);
		check_same(&m, &d.m);
		rk_rpc_msg_free(&d);
		rk_obuf_free(b);
	}
}

static void test_entry_batches(void)
{
	static const size_t counts[] = { 1, 31, 32, 33, 1000 };

	for (size_t c = 0; c < sizeof counts / sizeof counts[0]; c++) {
		size_t n = counts[c];
		struct rk_entry *e = calloc(n, sizeof *e);
		char *data = malloc(n * 8);
		struct rk_msg m = { .type = RK_MSG_APPEND, .from = 1, .to = 2, .term = 4,
				    .index = 10, .log_term = 3, .commit = 9 };
		struct rk_rpc_msg d;
		struct rk_obuf *b;

		for (size_t i = 0; i < n; i++) {
			e[i].term = 4;
			e[i].index = 11 + i;
			e[i].type = i == 0 ? RK_ENTRY_NOOP : RK_ENTRY_NORMAL;
			memcpy(data + i * 8, "k\0v-data", 8);
			data[i * 8 + 7] = (char)i;
			e[i].data.base = i == 0 ? NULL : data + i * 8;
			e[i].data.len = i == 0 ? 0 : 8;
		}
		m.entries = e;
		m.n_entries = n;
		b = encode(&m);
		CU_ASSERT_EQUAL_FATAL(decode(b, &d), RK_OK);
		check_same(&m, &d.m);
		rk_rpc_msg_free(&d);
		rk_obuf_free(b);
		free(e);
		free(data);
	}
}

static void test_snapshot_chunk(void)
{
	char chunk[5000];
	struct rk_msg m = { .type = RK_MSG_SNAPSHOT, .from = 1, .to = 4, .term = 9,
			    .offset = 65536, .done = true };
	struct rk_rpc_msg d;
	struct rk_obuf *b;

	memset(chunk, 'S', sizeof chunk);
	m.data.base = chunk;
	m.data.len = sizeof chunk;
	m.snap.index = 12345;
	m.snap.term = 8;
	m.snap.size = 70536;
	m.snap.conf.n = 3;
	m.snap.conf.m[0] = (struct rk_conf_member){ 1, RK_CONF_VOTER };
	m.snap.conf.m[1] = (struct rk_conf_member){ 2, RK_CONF_VOTER };
	m.snap.conf.m[2] = (struct rk_conf_member){ 4, RK_CONF_LEARNER };
	b = encode(&m);
	CU_ASSERT_EQUAL_FATAL(decode(b, &d), RK_OK);
	check_same(&m, &d.m);
	CU_ASSERT_EQUAL(d.m.snap.index, 12345);
	CU_ASSERT_EQUAL(d.m.snap.term, 8);
	CU_ASSERT_EQUAL(d.m.snap.size, 70536);
	CU_ASSERT_EQUAL(d.m.snap.conf.n, 3);
	CU_ASSERT_EQUAL(d.m.snap.conf.m[2].id, 4);
	CU_ASSERT_EQUAL(d.m.snap.conf.m[2].role, RK_CONF_LEARNER);
	CU_ASSERT_EQUAL_FATAL(d.m.data.len, sizeof chunk);
	CU_ASSERT(memcmp(d.m.data.base, chunk, sizeof chunk) == 0);
	rk_rpc_msg_free(&d);
	rk_obuf_free(b);
}

static void test_refuses_bad_input(void)
{
	struct rk_msg m = { .type = RK_MSG_APPEND, .from = 1, .to = 2 };
	struct rk_entry e = { .term = 1, .index = 1, .type = RK_ENTRY_NORMAL };
	struct rk_rpc_msg d;
	struct rk_obuf *b;
	uint8_t junk[64];

	/* Unknown message type. */
	m.type = 200;
	b = encode(&m);
	CU_ASSERT_EQUAL(decode(b, &d), RK_EFRAME_DECODE);
	rk_obuf_free(b);
	/* Unknown entry type. */
	m.type = RK_MSG_APPEND;
	e.type = 9;
	m.entries = &e;
	m.n_entries = 1;
	b = encode(&m);
	CU_ASSERT_EQUAL(decode(b, &d), RK_EFRAME_DECODE);
	rk_obuf_free(b);
	/* A snapshot chunk without metadata (type changed after encoding a plain message). */
	m.type = RK_MSG_APPEND;
	m.n_entries = 0;
	m.type = RK_MSG_HEARTBEAT;
	b = encode(&m);
	b->data[RK_FRAME_HEADER_SIZE + 1] = RK_MSG_SNAPSHOT; /* field 1 varint value */
	CU_ASSERT_EQUAL(decode(b, &d), RK_EFRAME_DECODE);
	rk_obuf_free(b);
	/* Random bytes: refused or decoded, never a crash (ASan watches). */
	srand(7);
	for (int i = 0; i < 3000; i++) {
		size_t n = (size_t)rand() % sizeof junk;

		for (size_t j = 0; j < n; j++)
			junk[j] = (uint8_t)rand();
		if (rk_rpc_decode_msg(junk, n, &d) == RK_OK)
			rk_rpc_msg_free(&d);
	}
	/* Too big for the receiver's limit. */
	m.type = RK_MSG_HEARTBEAT;
	CU_ASSERT_EQUAL(rk_rpc_encode_msg(&m, 2, &b), RK_EFRAME_TOOBIG);
}

static void test_hello(void)
{
	struct rk_obuf *b;
	uint64_t cluster;
	rk_node_id from, to;

	CU_ASSERT_EQUAL_FATAL(rk_rpc_encode_hello(0xC1C1, 2, 3, &b), RK_OK);
	CU_ASSERT_EQUAL(b->data[3], RK_FRAME_PEER_HELLO);
	CU_ASSERT_EQUAL(rk_rpc_decode_hello(b->data + RK_FRAME_HEADER_SIZE,
					    b->len - RK_FRAME_HEADER_SIZE, &cluster, &from, &to),
			RK_OK);
	CU_ASSERT_EQUAL(cluster, 0xC1C1);
	CU_ASSERT_EQUAL(from, 2);
	CU_ASSERT_EQUAL(to, 3);
	rk_obuf_free(b);
	/* from = 0 is not a node. */
	CU_ASSERT_EQUAL_FATAL(rk_rpc_encode_hello(1, 0, 3, &b), RK_OK);
	CU_ASSERT_EQUAL(rk_rpc_decode_hello(b->data + RK_FRAME_HEADER_SIZE,
					    b->len - RK_FRAME_HEADER_SIZE, &cluster, &from, &to),
			RK_EFRAME_DECODE);
	rk_obuf_free(b);
}

static CU_TestInfo rpc_tests[] = {
	{ "every_type_round_trips", test_every_type_round_trips },
	{ "entry_batches", test_entry_batches },
	{ "snapshot_chunk", test_snapshot_chunk },
	{ "refuses_bad_input", test_refuses_bad_input },
	{ "hello", test_hello },
	CU_TEST_INFO_NULL,
};

static CU_SuiteInfo suites[] = {
	{ "rpc", NULL, NULL, NULL, NULL, rpc_tests },
	CU_SUITE_INFO_NULL,
};

int main(int argc, char **argv)
{
	return rk_test_main(argc, argv, suites);
}

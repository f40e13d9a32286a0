/* cmd.h -- the binary encoding of a state-machine write command (the payload of a normal
 * Raft entry).
 *
 * Version 1, little-endian, a fixed 40-byte header then the byte strings:
 *   off size field
 *     0    1  version        1
 *     1    1  op             enum rk_kv_op
 *     2    2  flags          0 (reserved; a decoder of this version refuses anything else)
 *     4    4  key_len
 *     8    4  value_len      0 unless put, put-if-absent, update, append, cas
 *    12    4  expected_len   0 unless cas
 *    16    8  client_id      0: no session (no exactly-once)
 *    24    8  seq            >= 1 when client_id != 0
 *    32    8  timestamp_ms   stamped by the leader when it proposes; drives session expiry
 *    40       key, value, expected, back to back; the entry ends exactly there
 * Decoding is zero-copy: the decoded command points into the entry bytes. docs/store.md has
 * the full rules. Pure functions, any thread.
 */
#ifndef RK_STORE_CMD_H
#define RK_STORE_CMD_H

#include <stddef.h>
#include <stdint.h>

#define RK_KV_CMD_VERSION 1
#define RK_KV_CMD_HEADER 40

/* Numbered like Op in proto/client.proto so the server can map one to the other directly. */
enum rk_kv_op {
	RK_KV_GET = 1, /* a read through the log: returns the value, touches no session */
	RK_KV_PUT = 2,
	RK_KV_PUT_IF_ABSENT = 3,
	RK_KV_UPDATE = 4,
	RK_KV_DELETE = 5,
	RK_KV_APPEND = 6,
	RK_KV_CAS = 7,
};

/* Size limits from the configuration; identical on every replica (apply checks them too). */
struct rk_kv_limits {
	uint32_t max_key;   /* bytes, >= 1 */
	uint32_t max_value; /* bytes; also bounds an append result and a cas expected value */
};

struct rk_kv_cmd {
	uint8_t op;            /* enum rk_kv_op */
	uint64_t client_id;    /* 0: no session */
	uint64_t seq;          /* per-client sequence number, from 1 */
	uint64_t ts_ms;        /* leader wall clock at proposal, in ms */
	const uint8_t *key;    /* borrowed: encode reads it, decode points into the entry */
	size_t key_len;
	const uint8_t *value;  /* as key */
	size_t value_len;
	const uint8_t *expected; /* as key; cas only */
	size_t expected_len;
};

/* Bytes rk_kv_cmd_encode() writes for @cmd (no checks). */
size_t rk_kv_cmd_size(const struct rk_kv_cmd *cmd);

/* Encode @cmd into @buf (@cap bytes) and set *@len. Borrows @cmd and its byte strings for the
 * call. Errors: RK_EINVAL (unknown op, a field the op does not carry, a length over 4 GiB, or
 * @cap too small). */
int rk_kv_cmd_encode(const struct rk_kv_cmd *cmd, void *buf, size_t cap, size_t *len);

/* Decode the entry bytes @data/@len into @cmd, whose pointers then borrow @data (until the
 * caller releases the entry). Never trusts the input. Errors: RK_ECORRUPT. */
int rk_kv_cmd_decode(const void *data, size_t len, struct rk_kv_cmd *cmd);

/* What the server checks before proposing (apply repeats it, so a bad command that reaches
 * the log anyway fails identically everywhere). Errors: RK_ETOOLARGE (key, value or expected
 * over the limits), RK_EINVAL (empty key, seq 0 with a session, unknown op, a field the op
 * does not carry). */
int rk_kv_cmd_validate(const struct rk_kv_limits *lim, const struct rk_kv_cmd *cmd);

#endif

/* cmd.c -- command encoding; the byte layout is in cmd.h and docs/store.md.
 * No state: any thread. Decode never trusts its input (it comes from the log). */
#include "store/cmd.h"

#include <stdbool.h>
#include <string.h>

#include "common/err.h"

enum {
	OFF_VERSION = 0,
	OFF_OP = 1,
	OFF_FLAGS = 2,
	OFF_KLEN = 4,
	OFF_VLEN = 8,
	OFF_XLEN = 12,
	OFF_CLIENT = 16,
	OFF_SEQ = 24,
	OFF_TS = 32,
};

_Static_assert(OFF_TS + 8 == RK_KV_CMD_HEADER, "command header layout");

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

static void put32(uint8_t *p, uint32_t v)
{
	int i;

	for (i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static void put64(uint8_t *p, uint64_t v)
{
	int i;

	for (i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static uint16_t get16(const uint8_t *p)
{
	return (uint16_t)(p[0] | (p[1] << 8));
}

static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t get64(const uint8_t *p)
{
	return (uint64_t)get32(p) | (uint64_t)get32(p + 4) << 32;
}

/* Which byte strings an op carries besides the key. */
static bool op_known(unsigned op)
{
	return op >= RK_KV_GET && op <= RK_KV_CAS;
}

static bool op_has_value(unsigned op)
{
	return op == RK_KV_PUT || op == RK_KV_PUT_IF_ABSENT || op == RK_KV_UPDATE ||
	       op == RK_KV_APPEND || op == RK_KV_CAS;
}

static bool fields_fit_op(unsigned op, size_t vlen, size_t xlen)
{
	if (!op_known(op))
		return false;
	if (vlen != 0 && !op_has_value(op))
		return false;
	if (xlen != 0 && op != RK_KV_CAS)
		return false;
	return true;
}

size_t rk_kv_cmd_size(const struct rk_kv_cmd *cmd)
{
	return RK_KV_CMD_HEADER + cmd->key_len + cmd->value_len + cmd->expected_len;
}

int rk_kv_cmd_encode(const struct rk_kv_cmd *cmd, void *buf, size_t cap, size_t *len)
{
	uint8_t *p = buf;
	size_t need;

	if (!fields_fit_op(cmd->op, cmd->value_len, cmd->expected_len))
		return RK_EINVAL;
	if (cmd->key_len > UINT32_MAX || cmd->value_len > UINT32_MAX ||
	    cmd->expected_len > UINT32_MAX)
		return RK_EINVAL;
	need = rk_kv_cmd_size(cmd);
	if (cap < need)
		return RK_EINVAL;
	p[OFF_VERSION] = RK_KV_CMD_VERSION;
	p[OFF_OP] = cmd->op;
	put16(p + OFF_FLAGS, 0);
	put32(p + OFF_KLEN, (uint32_t)cmd->key_len);
	put32(p + OFF_VLEN, (uint32_t)cmd->value_len);
	put32(p + OFF_XLEN, (uint32_t)cmd->expected_len);
	put64(p + OFF_CLIENT, cmd->client_id);
	put64(p + OFF_SEQ, cmd->seq);
	put64(p + OFF_TS, cmd->ts_ms);
	p += RK_KV_CMD_HEADER;
	if (cmd->key_len)
		memcpy(p, cmd->key, cmd->key_len);
	p += cmd->key_len;
	if (cmd->value_len)
		memcpy(p, cmd->value, cmd->value_len);
	p += cmd->value_len;
	if (cmd->expected_len)
		memcpy(p, cmd->expected, cmd->expected_len);
	*len = need;
	return RK_OK;
}

int rk_kv_cmd_decode(const void *data, size_t len, struct rk_kv_cmd *cmd)
{
	const uint8_t *p = data;
	uint64_t klen, vlen, xlen;

	if (p == NULL || len < RK_KV_CMD_HEADER)
		return RK_ECORRUPT;
	if (p[OFF_VERSION] != RK_KV_CMD_VERSION || get16(p + OFF_FLAGS) != 0)
		return RK_ECORRUPT;
	klen = get32(p + OFF_KLEN);
	vlen = get32(p + OFF_VLEN);
	xlen = get32(p + OFF_XLEN);
	/* Three u32 lengths cannot overflow a u64 sum. */
	if ((uint64_t)RK_KV_CMD_HEADER + klen + vlen + xlen != (uint64_t)len)
		return RK_ECORRUPT;
	if (!fields_fit_op(p[OFF_OP], (size_t)vlen, (size_t)xlen))
		return RK_ECORRUPT;
	cmd->op = p[OFF_OP];
	cmd->client_id = get64(p + OFF_CLIENT);
	cmd->seq = get64(p + OFF_SEQ);
	cmd->ts_ms = get64(p + OFF_TS);
	cmd->key = p + RK_KV_CMD_HEADER;
	cmd->key_len = (size_t)klen;
	cmd->value = cmd->key + klen;
	cmd->value_len = (size_t)vlen;
	cmd->expected = cmd->value + vlen;
	cmd->expected_len = (size_t)xlen;
	return RK_OK;
}

int rk_kv_cmd_validate(const struct rk_kv_limits *lim, const struct rk_kv_cmd *cmd)
{
	if (!fields_fit_op(cmd->op, cmd->value_len, cmd->expected_len))
		return RK_EINVAL;
	if (cmd->key_len == 0)
		return RK_EINVAL;
	if (cmd->op != RK_KV_GET && cmd->client_id != 0 && cmd->seq == 0)
		return RK_EINVAL;
	if (cmd->key_len > lim->max_key || cmd->value_len > lim->max_value ||
	    cmd->expected_len > lim->max_value)
		return RK_ETOOLARGE;
	return RK_OK;
}

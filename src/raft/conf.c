/* conf.c -- membership configurations: lookup, single-server changes and the byte encoding
 * carried by CONF entries and snapshot metadata (little-endian, versioned by the magic). */
#include <string.h>

#include "common/err.h"
#include "raft/raft_int.h"

#define CONF_MAGIC 0x52434631u /* "RCF1" */

static void put_u32(uint8_t *p, uint32_t v)
{
	for (int k = 0; k < 4; k++)
		p[k] = (uint8_t)(v >> (8 * k));
}

static void put_u64(uint8_t *p, uint64_t v)
{
	for (int k = 0; k < 8; k++)
		p[k] = (uint8_t)(v >> (8 * k));
}

static uint32_t get_u32(const uint8_t *p)
{
	uint32_t v = 0;

	for (int k = 3; k >= 0; k--)
		v = (v << 8) | p[k];
	return v;
}

static uint64_t get_u64(const uint8_t *p)
{
	uint64_t v = 0;

	for (int k = 7; k >= 0; k--)
		v = (v << 8) | p[k];
	return v;
}

size_t rk_conf_encode(const struct rk_conf *c, uint8_t *buf)
{
	size_t off = 8;

	put_u32(buf, CONF_MAGIC);
	put_u32(buf + 4, c->n);
	for (unsigned k = 0; k < c->n; k++) {
		put_u64(buf + off, c->m[k].id);
		buf[off + 8] = c->m[k].role;
		off += 9;
	}
	return off;
}

int rk_conf_decode(struct rk_conf *c, const void *buf, size_t len)
{
	const uint8_t *p = buf;
	uint32_t n;

	if (len < 8 || get_u32(p) != CONF_MAGIC)
		return RK_ECORRUPT;
	n = get_u32(p + 4);
	if (n > RK_CONF_MAX || len != 8 + (size_t)n * 9)
		return RK_ECORRUPT;
	memset(c, 0, sizeof *c);
	for (uint32_t k = 0; k < n; k++) {
		rk_node_id id = get_u64(p + 8 + k * 9);
		uint8_t role = p[8 + k * 9 + 8];

		if (id == 0 || (role != RK_CONF_VOTER && role != RK_CONF_LEARNER) ||
		    rk_conf_find(c, id) >= 0)
			return RK_ECORRUPT;
		c->m[k].id = id;
		c->m[k].role = role;
		c->n = k + 1;
	}
	return RK_OK;
}

int rk_conf_find(const struct rk_conf *c, rk_node_id id)
{
	for (unsigned k = 0; k < c->n; k++)
		if (c->m[k].id == id)
			return (int)k;
	return -1;
}

bool rk_conf_is_voter(const struct rk_conf *c, rk_node_id id)
{
	int k = rk_conf_find(c, id);

	return k >= 0 && c->m[k].role == RK_CONF_VOTER;
}

unsigned rk_conf_voters(const struct rk_conf *c)
{
	unsigned v = 0;

	for (unsigned k = 0; k < c->n; k++)
		v += c->m[k].role == RK_CONF_VOTER;
	return v;
}

int rk_conf_apply_op(struct rk_conf *c, enum rk_conf_op op, rk_node_id id)
{
	int k = rk_conf_find(c, id);

	if (id == 0)
		return RK_EINVAL;
	switch (op) {
	case RK_CONF_ADD_VOTER:
	case RK_CONF_ADD_LEARNER: {
		uint8_t role = op == RK_CONF_ADD_VOTER ? RK_CONF_VOTER : RK_CONF_LEARNER;

		if (k >= 0) {
			/* demoting a voter is a remove then an add: keep changes single-step */
			if (c->m[k].role == role || role == RK_CONF_LEARNER)
				return RK_EINVAL;
			c->m[k].role = role;
			return RK_OK;
		}
		if (c->n == RK_CONF_MAX)
			return RK_EINVAL;
		c->m[c->n].id = id;
		c->m[c->n].role = role;
		c->n++;
		return RK_OK;
	}
	case RK_CONF_REMOVE:
		if (k < 0)
			return RK_EINVAL;
		if (c->m[k].role == RK_CONF_VOTER && rk_conf_voters(c) == 1)
			return RK_EINVAL;
		memmove(&c->m[k], &c->m[k + 1], (c->n - (unsigned)k - 1) * sizeof c->m[0]);
		c->n--;
		memset(&c->m[c->n], 0, sizeof c->m[0]);
		return RK_OK;
	}
	return RK_EINVAL;
}

/* node_config.c -- raftkv.conf keys: one table, strict value parsers, cross-field checks.
 *
 * keys[] is the only list of scalar keys: setting from the file (node_config_file.c) or the
 * command line, the origins kept for messages, and rk_config_dump() all walk it. Members
 * ("[cluster] member.ID") are the one key family outside it.
 *
 * Values are parsed here, never with iniparser_getint()/getboolean(): those take "12abc",
 * octal "010", negative numbers and anything starting with 'y' as true. A value either parses
 * completely and falls in its key's range, or the load stops with a message that names it.
 */
#include "config.h"

#include <arpa/inet.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "server/node_config.h"
#include "server/node_config_int.h"

enum key_index {
	K_NODE_ID,
	K_CLIENT_LISTEN,
	K_PEER_LISTEN,
	K_DATA_DIR, /* last of [node]: rk_config_dump() writes [cluster] after it */
	K_ELECTION_MIN,
	K_ELECTION_MAX,
	K_HEARTBEAT,
	K_SNAPSHOT_ENTRIES,
	K_SNAPSHOT_BYTES,
	K_WORKERS,
	K_QUEUE_SIZE,
	K_MAX_KEY,
	K_MAX_VALUE,
	K_MAX_FRAME,
	K_FSYNC,
	K_SEGMENT,
	K_LOG_LEVEL,
	NKEYS
};
_Static_assert(NKEYS <= RK_CONFIG_KEYS_MAX, "rk_config.origin too small for the key table");
_Static_assert(RK_CONFIG_ADDR_MAX >= INET6_ADDRSTRLEN + sizeof "[]:65535" - 1,
	       "an IPv6 address and port must fit rk_config_addr.text");

enum value_type {
	T_ID,    /* 1 .. 2^64-1 */
	T_COUNT, /* plain decimal */
	T_BYTES, /* decimal with an optional K/M/G/T (KiB/MiB/GiB/TiB) suffix */
	T_BOOL,
	T_ADDR,
	T_PATH,
	T_LEVEL,
};

enum field_width { W_NONE, W_UNSIGNED, W_U64, W_SIZE };

struct key_def {
	const char *section;
	const char *name;
	enum value_type type;
	enum field_width width; /* C type of the field at off, numeric types only */
	size_t off;             /* of the field in struct rk_config */
	uint64_t min, max;      /* inclusive, numeric types only */
};

#define KiB (UINT64_C(1) << 10)
#define MiB (UINT64_C(1) << 20)
#define GiB (UINT64_C(1) << 30)
#define TiB (UINT64_C(1) << 40)

#define F(field) offsetof(struct rk_config, field)

/* Ranges are wide enough for any real deployment and narrow enough to catch a unit mistake
 * (seconds for milliseconds, bits for bytes). Size limits follow the storage and wire code:
 * a frame length is 32 bits, a WAL segment at most 1 GiB, one WAL entry at most 256 MiB. */
static const struct key_def keys[NKEYS] = {
	[K_NODE_ID] = { "node", "id", T_ID, W_U64, F(id), 1, UINT64_MAX },
	[K_CLIENT_LISTEN] = { "node", "client_listen", T_ADDR, W_NONE, F(client_listen), 0, 0 },
	[K_PEER_LISTEN] = { "node", "peer_listen", T_ADDR, W_NONE, F(peer_listen), 0, 0 },
	[K_DATA_DIR] = { "node", "data_dir", T_PATH, W_NONE, F(data_dir), 0, 0 },
	[K_ELECTION_MIN] = { "raft", "election_timeout_min_ms", T_COUNT, W_UNSIGNED,
			     F(election_min_ms), 10, 60000 },
	[K_ELECTION_MAX] = { "raft", "election_timeout_max_ms", T_COUNT, W_UNSIGNED,
			     F(election_max_ms), 10, 60000 },
	[K_HEARTBEAT] = { "raft", "heartbeat_ms", T_COUNT, W_UNSIGNED, F(heartbeat_ms), 1, 30000 },
	[K_SNAPSHOT_ENTRIES] = { "raft", "snapshot_entries", T_COUNT, W_U64, F(snapshot_entries),
				 0, UINT64_C(1) << 40 },
	[K_SNAPSHOT_BYTES] = { "raft", "snapshot_bytes", T_BYTES, W_U64, F(snapshot_bytes), 0,
			       TiB },
	[K_WORKERS] = { "server", "workers", T_COUNT, W_UNSIGNED, F(workers), 0, 1024 },
	[K_QUEUE_SIZE] = { "server", "queue_size", T_COUNT, W_UNSIGNED, F(queue_size), 1,
			   UINT64_C(1) << 24 },
	[K_MAX_KEY] = { "server", "max_key_bytes", T_BYTES, W_SIZE, F(max_key_bytes), 1,
			64 * KiB },
	[K_MAX_VALUE] = { "server", "max_value_bytes", T_BYTES, W_SIZE, F(max_value_bytes), 1,
			  64 * MiB },
	[K_MAX_FRAME] = { "server", "max_frame_bytes", T_BYTES, W_SIZE, F(max_frame_bytes),
			  64 * KiB, GiB },
	[K_FSYNC] = { "storage", "fsync", T_BOOL, W_NONE, F(fsync), 0, 0 },
	[K_SEGMENT] = { "storage", "segment_bytes", T_BYTES, W_U64, F(segment_bytes), MiB, GiB },
	[K_LOG_LEVEL] = { "log", "level", T_LEVEL, W_NONE, F(log_level), 0, 0 },
};

#undef F

static const char *const sections[] = { "node", "cluster", "raft", "server", "storage", "log" };

#define MEMBER_PREFIX "member."
#define DIAL_PREFIX "dial."
#define TWO_ADDRESSES "expected two addresses: PEER_HOST:PORT CLIENT_HOST:PORT [join]"
#define VALUE_SHOWN 60 /* longer values are cut in messages so that the problem stays visible */

void rk_config_defaults(struct rk_config *c)
{
	memset(c, 0, sizeof *c);
	c->election_min_ms = 300;
	c->election_max_ms = 600;
	c->heartbeat_ms = 50;
	c->snapshot_entries = 100000;
	c->snapshot_bytes = GiB;
	c->workers = 0;
	c->queue_size = 65536;
	c->max_key_bytes = 4 * KiB;
	c->max_value_bytes = MiB;
	c->max_frame_bytes = 16 * MiB;
	c->fsync = true;
	c->segment_bytes = 64 * MiB;
	c->log_level = RK_LOG_INFO;
}

/* "raftkv.conf:12", "raftkv.conf" (a default), "command line" into @buf; returns @buf. */
static const char *format_origin(char *buf, size_t n, const char *path, unsigned origin)
{
	if (origin == RK_CONFIG_ORIGIN_CMDLINE)
		snprintf(buf, n, "command line");
	else if (path == NULL)
		snprintf(buf, n, "configuration");
	else if (origin == RK_CONFIG_ORIGIN_DEFAULT)
		snprintf(buf, n, "%s", path);
	else
		snprintf(buf, n, "%s:%u", path, origin);
	return buf;
}

int rk_config_fail(struct rk_err *err, const char *path, unsigned origin, const char *section,
		   const char *name, const char *value, const char *fmt, ...)
{
	char where[128], problem[160], shown[VALUE_SHOWN + 4];
	va_list ap;

	if (err == NULL)
		return RK_ECONFIG;
	va_start(ap, fmt);
	vsnprintf(problem, sizeof problem, fmt, ap);
	va_end(ap);
	format_origin(where, sizeof where, path, origin);
	if (name == NULL)
		return rk_err_set(err, RK_ECONFIG, "%s: [%s]: %s", where, section, problem);
	if (*section == '\0')
		return rk_err_set(err, RK_ECONFIG, "%s: %s: %s", where, name, problem);
	if (value == NULL)
		return rk_err_set(err, RK_ECONFIG, "%s: [%s] %s: %s", where, section, name,
				  problem);
	if (strlen(value) > VALUE_SHOWN)
		snprintf(shown, sizeof shown, "%.*s...", VALUE_SHOWN, value);
	else
		snprintf(shown, sizeof shown, "%s", value);
	return rk_err_set(err, RK_ECONFIG, "%s: [%s] %s = %s: %s", where, section, name, shown,
			  problem);
}

/* The value parsers return NULL on success, else the problem (static text). */

static const char *parse_u64(const char *s, bool bytes, uint64_t *out)
{
	const char *p = s;
	uint64_t v = 0, unit = 1;

	if (*s == '\0')
		return "empty value";
	if (*s == '-')
		return "must not be negative";
	if (*s < '0' || *s > '9')
		goto bad;
	for (; *p >= '0' && *p <= '9'; p++) {
		unsigned d = (unsigned)(*p - '0');
		if (v > (UINT64_MAX - d) / 10)
			return "out of range";
		v = v * 10 + d;
	}
	if (bytes) {
		p += strspn(p, " \t");
		switch (*p) {
		case 'k': case 'K': unit = KiB; break;
		case 'm': case 'M': unit = MiB; break;
		case 'g': case 'G': unit = GiB; break;
		case 't': case 'T': unit = TiB; break;
		default: break;
		}
		if (unit != 1)
			p++;
		/* "64M" and "64MiB" mean the same; "64MB" is refused rather than guessed at */
		if (unit != 1 && p[0] == 'i' && p[1] == 'B')
			p += 2;
		if (v > UINT64_MAX / unit)
			return "out of range";
		v *= unit;
	}
	if (*p != '\0')
		goto bad;
	*out = v;
	return NULL;
bad:
	return bytes ? "not a size: expected digits with an optional K, M, G or T suffix"
		     : "not a non-negative decimal integer";
}

static const char *parse_bool(const char *s, bool *out)
{
	static const char *const yes[] = { "true", "yes", "on", "1" };
	static const char *const no[] = { "false", "no", "off", "0" };

	for (size_t i = 0; i < sizeof yes / sizeof yes[0]; i++) {
		if (strcasecmp(s, yes[i]) == 0) {
			*out = true;
			return NULL;
		}
		if (strcasecmp(s, no[i]) == 0) {
			*out = false;
			return NULL;
		}
	}
	return "not a boolean: expected true or false";
}

static const char *parse_level(const char *s, enum rk_log_level *out)
{
	char low[16];
	size_t i;

	for (i = 0; s[i] != '\0' && i + 1 < sizeof low; i++)
		low[i] = (char)((s[i] >= 'A' && s[i] <= 'Z') ? s[i] - 'A' + 'a' : s[i]);
	low[i] = '\0';
	if (s[i] != '\0' || rk_log_parse_level(low, out) != 0)
		return "not a log level: expected error, warn, info, debug or trace";
	return NULL;
}

int rk_config_parse_addr(const char *s, struct rk_config_addr *out, struct rk_err *err)
{
	struct rk_config_addr a = { .len = 0 };
	char host[INET6_ADDRSTRLEN];
	const char *h = s, *end, *port;
	size_t hlen;
	uint64_t pnum;
	bool v6 = s[0] == '[';

	if (*s == '\0')
		return rk_err_set(err, RK_EINVAL, "empty address");
	if (strlen(s) >= RK_CONFIG_ADDR_MAX)
		return rk_err_set(err, RK_EINVAL, "address too long");
	if (v6) {
		h = s + 1;
		end = strchr(h, ']');
		if (end == NULL || end[1] != ':')
			return rk_err_set(err, RK_EINVAL, "expected [IPV6]:PORT");
		port = end + 2;
	} else {
		end = strrchr(s, ':');
		if (end == NULL)
			return rk_err_set(err, RK_EINVAL, "no port: expected HOST:PORT");
		if (memchr(s, ':', (size_t)(end - s)) != NULL)
			return rk_err_set(err, RK_EINVAL,
					  "IPv6 host without brackets: write [HOST]:PORT");
		port = end + 1;
	}
	hlen = (size_t)(end - h);
	if (hlen == 0 || hlen >= sizeof host)
		return rk_err_set(err, RK_EINVAL, "bad host: expected a numeric IP address");
	memcpy(host, h, hlen);
	host[hlen] = '\0';
	if (parse_u64(port, false, &pnum) != NULL || pnum == 0 || pnum > 65535)
		return rk_err_set(err, RK_EINVAL, "bad port: expected 1..65535");

	if (v6) {
		struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)(void *)&a.sa;
		if (inet_pton(AF_INET6, host, &in6->sin6_addr) != 1)
			return rk_err_set(err, RK_EINVAL, "bad host: not a numeric IPv6 address");
		in6->sin6_family = AF_INET6;
		in6->sin6_port = htons((uint16_t)pnum);
		a.len = sizeof *in6;
	} else {
		struct sockaddr_in *in = (struct sockaddr_in *)(void *)&a.sa;
		/* inet_pton, not inet_aton: "127.1" and "0x7f.0.0.1" are typos, not addresses */
		if (inet_pton(AF_INET, host, &in->sin_addr) != 1)
			return rk_err_set(err, RK_EINVAL,
					  "bad host: not a numeric IPv4 address (no name lookup)");
		in->sin_family = AF_INET;
		in->sin_port = htons((uint16_t)pnum);
		a.len = sizeof *in;
	}
	snprintf(a.text, sizeof a.text, "%s", s);
	*out = a;
	return RK_OK;
}

static in_port_t get_port(const struct rk_config_addr *a)
{
	if (a->sa.ss_family == AF_INET)
		return ((const struct sockaddr_in *)(const void *)&a->sa)->sin_port;
	return ((const struct sockaddr_in6 *)(const void *)&a->sa)->sin6_port;
}

static bool is_same_addr(const struct rk_config_addr *a, const struct rk_config_addr *b)
{
	const struct sockaddr_in6 *a6 = (const void *)&a->sa, *b6 = (const void *)&b->sa;
	const struct sockaddr_in *a4 = (const void *)&a->sa, *b4 = (const void *)&b->sa;

	if (a->sa.ss_family != b->sa.ss_family || get_port(a) != get_port(b))
		return false;
	if (a->sa.ss_family == AF_INET)
		return a4->sin_addr.s_addr == b4->sin_addr.s_addr;
	return memcmp(&a6->sin6_addr, &b6->sin6_addr, sizeof a6->sin6_addr) == 0;
}

static bool is_wildcard(const struct rk_config_addr *a)
{
	if (a->sa.ss_family == AF_INET)
		return ((const struct sockaddr_in *)(const void *)&a->sa)->sin_addr.s_addr ==
		       htonl(INADDR_ANY);
	return IN6_IS_ADDR_UNSPECIFIED(
		&((const struct sockaddr_in6 *)(const void *)&a->sa)->sin6_addr);
}

/* Would binding both fail? Same port and the same host, or a wildcard on either side (Linux
 * binds [::] dual-stack by default, so the families need not match). */
static bool is_colliding(const struct rk_config_addr *a, const struct rk_config_addr *b)
{
	if (get_port(a) != get_port(b))
		return false;
	return is_same_addr(a, b) || is_wildcard(a) || is_wildcard(b);
}

static void store_number(struct rk_config *c, const struct key_def *k, uint64_t v)
{
	char *field = (char *)c + k->off;

	/* the range check before this keeps v within the field's type */
	switch (k->width) {
	case W_UNSIGNED:
		*(unsigned *)(void *)field = (unsigned)v;
		break;
	case W_SIZE:
		*(size_t *)(void *)field = (size_t)v;
		break;
	case W_U64:
	case W_NONE:
		*(uint64_t *)(void *)field = v;
		break;
	}
}

static uint64_t load_number(const struct rk_config *c, const struct key_def *k)
{
	const char *field = (const char *)c + k->off;

	switch (k->width) {
	case W_UNSIGNED:
		return *(const unsigned *)(const void *)field;
	case W_SIZE:
		return *(const size_t *)(const void *)field;
	case W_U64:
	case W_NONE:
	default:
		return *(const uint64_t *)(const void *)field;
	}
}

/* Parse @value for keys[@ki] into @c and note @origin. */
static int set_key(struct rk_config *c, enum key_index ki, const char *value, const char *path,
		   unsigned origin, struct rk_err *err)
{
	const struct key_def *k = &keys[ki];
	char *field = (char *)c + k->off;
	const char *problem = NULL;
	struct rk_err aerr;
	uint64_t v;

	switch (k->type) {
	case T_ID:
	case T_COUNT:
	case T_BYTES:
		problem = parse_u64(value, k->type == T_BYTES, &v);
		if (problem == NULL && k->type == T_ID && v == 0)
			problem = "must be a positive integer";
		else if (problem == NULL && (v < k->min || v > k->max))
			return rk_config_fail(err, path, origin, k->section, k->name, value,
					      "out of range %llu..%llu",
					      (unsigned long long)k->min,
					      (unsigned long long)k->max);
		if (problem == NULL)
			store_number(c, k, v);
		break;
	case T_BOOL:
		problem = parse_bool(value, (bool *)(void *)field);
		break;
	case T_LEVEL:
		problem = parse_level(value, (enum rk_log_level *)(void *)field);
		break;
	case T_ADDR:
		if (rk_config_parse_addr(value, (struct rk_config_addr *)(void *)field, &aerr) !=
		    RK_OK)
			return rk_config_fail(err, path, origin, k->section, k->name, value, "%s",
					      aerr.msg);
		break;
	case T_PATH:
		if (*value == '\0')
			problem = "empty value";
		else if (value[0] != '/')
			problem = "must be an absolute path";
		else if (strlen(value) >= RK_CONFIG_PATH_MAX)
			problem = "path too long";
		else
			snprintf(field, RK_CONFIG_PATH_MAX, "%s", value);
		break;
	}
	if (problem != NULL)
		return rk_config_fail(err, path, origin, k->section, k->name, value, "%s", problem);
	c->origin[ki] = origin;
	return RK_OK;
}

static int find_key(const char *section, const char *name)
{
	for (int i = 0; i < NKEYS; i++)
		if (strcmp(keys[i].section, section) == 0 && strcmp(keys[i].name, name) == 0)
			return i;
	return -1;
}

bool rk_config_is_section(const char *section)
{
	for (size_t i = 0; i < sizeof sections / sizeof sections[0]; i++)
		if (strcmp(sections[i], section) == 0)
			return true;
	return false;
}

/* "member.ID = PEER CLIENT", kept sorted by id. */
static int set_member(struct rk_config *c, const char *name, const char *value, const char *path,
		      unsigned origin, bool replace, struct rk_err *err)
{
	struct rk_config_member m = { .origin = origin };
	struct rk_config_addr *addrs[2] = { &m.peer, &m.client };
	static const char *const what[2] = { "peer", "client" };
	char words[2 * RK_CONFIG_ADDR_MAX + 8], *w, *save = NULL;
	struct rk_err aerr;
	unsigned i;
	int n;

	if (parse_u64(name + strlen(MEMBER_PREFIX), false, &m.id) != NULL)
		return rk_config_fail(err, path, origin, "cluster", name, NULL,
				      "unknown key: expected member.ID with a decimal ID");
	if (m.id == 0)
		return rk_config_fail(err, path, origin, "cluster", name, NULL,
				      "member id must be a positive integer");
	if (strlen(value) >= sizeof words)
		return rk_config_fail(err, path, origin, "cluster", name, value, "value too long");
	snprintf(words, sizeof words, "%s", value);
	for (n = 0, w = strtok_r(words, " \t", &save); w != NULL;
	     w = strtok_r(NULL, " \t", &save), n++) {
		if (n == 2 && strcmp(w, "join") == 0) {
			m.join = true;
			continue;
		}
		if (n >= 2)
			return rk_config_fail(err, path, origin, "cluster", name, value, "%s",
					      TWO_ADDRESSES);
		if (rk_config_parse_addr(w, addrs[n], &aerr) != RK_OK)
			return rk_config_fail(err, path, origin, "cluster", name, value,
					      "%s address: %s", what[n], aerr.msg);
		/* others dial this address: "anywhere" cannot be dialled */
		if (is_wildcard(addrs[n]))
			return rk_config_fail(err, path, origin, "cluster", name, value,
					      "%s address: a wildcard cannot be dialled", what[n]);
	}
	if (n != 2 + m.join)
		return rk_config_fail(err, path, origin, "cluster", name, value, "%s",
				      TWO_ADDRESSES);

	for (i = 0; i < c->n_members && c->members[i].id < m.id; i++)
		;
	if (i < c->n_members && c->members[i].id == m.id) {
		if (!replace)
			return rk_config_fail(err, path, origin, "cluster", name, value,
					      "duplicate member id %llu (also on line %u)",
					      (unsigned long long)m.id, c->members[i].origin);
		c->members[i] = m;
		return RK_OK;
	}
	if (c->n_members == RK_CONFIG_MAX_MEMBERS)
		return rk_config_fail(err, path, origin, "cluster", name, value,
				      "more than %d members", RK_CONFIG_MAX_MEMBERS);
	memmove(&c->members[i + 1], &c->members[i], (c->n_members - i) * sizeof c->members[0]);
	c->members[i] = m;
	c->n_members++;
	return RK_OK;
}

/* "dial.ID = ADDRESS": connect to member ID there instead of at its peer address. The member's
 * identity (its peer address, hashed into the cluster id) stays what member.ID says, so that
 * one node can reach another through a proxy or a NAT without the others knowing. */
static int set_dial(struct rk_config *c, const char *name, const char *value, const char *path,
		    unsigned origin, bool replace, struct rk_err *err)
{
	struct rk_config_member d = { .dial_origin = origin };
	struct rk_err aerr;
	unsigned i;

	if (parse_u64(name + strlen(DIAL_PREFIX), false, &d.id) != NULL || d.id == 0)
		return rk_config_fail(err, path, origin, "cluster", name, NULL,
				      "unknown key: expected dial.ID with a positive decimal ID");
	if (rk_config_parse_addr(value, &d.dial, &aerr) != RK_OK)
		return rk_config_fail(err, path, origin, "cluster", name, value, "%s", aerr.msg);
	if (is_wildcard(&d.dial))
		return rk_config_fail(err, path, origin, "cluster", name, value,
				      "a wildcard cannot be dialled");
	for (i = 0; i < c->n_dials; i++) {
		if (c->dials[i].id != d.id)
			continue;
		if (!replace)
			return rk_config_fail(err, path, origin, "cluster", name, value,
					      "duplicate dial.%llu (also on line %u)",
					      (unsigned long long)d.id, c->dials[i].dial_origin);
		c->dials[i] = d;
		return RK_OK;
	}
	if (c->n_dials == RK_CONFIG_MAX_MEMBERS)
		return rk_config_fail(err, path, origin, "cluster", name, value,
				      "more than %d dial lines", RK_CONFIG_MAX_MEMBERS);
	c->dials[c->n_dials++] = d;
	return RK_OK;
}

int rk_config_apply(struct rk_config *c, const char *section, const char *name,
		    const char *value, const char *path, unsigned origin, bool replace,
		    struct rk_err *err)
{
	int ki;

	if (*section == '\0')
		return rk_config_fail(err, path, origin, "", name, NULL,
				      "key outside any [section]");
	if (!rk_config_is_section(section))
		return rk_config_fail(err, path, origin, section, NULL, NULL, "%s",
				      RK_CONFIG_UNKNOWN_SECTION);
	if (strcmp(section, "cluster") == 0) {
		if (strncmp(name, DIAL_PREFIX, strlen(DIAL_PREFIX)) == 0)
			return set_dial(c, name, value, path, origin, replace, err);
		if (strncmp(name, MEMBER_PREFIX, strlen(MEMBER_PREFIX)) != 0)
			return rk_config_fail(err, path, origin, section, name, NULL,
					      "unknown key: [cluster] holds only member.ID and "
					      "dial.ID lines");
		return set_member(c, name, value, path, origin, replace, err);
	}
	ki = find_key(section, name);
	if (ki < 0)
		return rk_config_fail(err, path, origin, section, name, NULL, "unknown key");
	return set_key(c, (enum key_index)ki, value, path, origin, err);
}

int rk_config_set(struct rk_config *c, const char *key, const char *value, struct rk_err *err)
{
	char section[32], name[64];
	const char *dot = strchr(key, '.');
	size_t slen = dot != NULL ? (size_t)(dot - key) : 0;

	if (slen == 0 || slen >= sizeof section || dot[1] == '\0' || strlen(dot + 1) >= sizeof name)
		return rk_err_set(err, RK_ECONFIG,
				  "command line: %s: expected SECTION.KEY, e.g. raft.heartbeat_ms",
				  key);
	/* lower-case, as iniparser does with the file, so that both spellings agree */
	for (size_t i = 0; i <= slen; i++)
		section[i] = i == slen ? '\0' : key[i];
	snprintf(name, sizeof name, "%s", dot + 1);
	for (char *p = section; *p != '\0'; p++)
		*p = (*p >= 'A' && *p <= 'Z') ? (char)(*p - 'A' + 'a') : *p;
	for (char *p = name; *p != '\0'; p++)
		*p = (*p >= 'A' && *p <= 'Z') ? (char)(*p - 'A' + 'a') : *p;
	return rk_config_apply(c, section, name, value, NULL, RK_CONFIG_ORIGIN_CMDLINE, true, err);
}

/* "300, line 12", "300, the default" or "300, from the command line": the other key of a
 * cross check (the message already names the file). */
static const char *format_other(char *buf, size_t n, const struct rk_config *c,
				const char *path, enum key_index ki)
{
	unsigned long long v = load_number(c, &keys[ki]);

	if (c->origin[ki] == RK_CONFIG_ORIGIN_DEFAULT)
		snprintf(buf, n, "%llu, the default", v);
	else if (c->origin[ki] == RK_CONFIG_ORIGIN_CMDLINE || path == NULL)
		snprintf(buf, n, "%llu, from the command line", v);
	else
		snprintf(buf, n, "%llu, line %u", v, c->origin[ki]);
	return buf;
}

/* rk_config_fail() about numeric keys[@ki], showing its value, "(default)" when not set. */
__attribute__((format(printf, 5, 6))) static int
fail_number(const struct rk_config *c, const char *path, enum key_index ki, struct rk_err *err,
	    const char *fmt, ...)
{
	char num[48], problem[160];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(problem, sizeof problem, fmt, ap);
	va_end(ap);
	snprintf(num, sizeof num, "%llu%s", (unsigned long long)load_number(c, &keys[ki]),
		 c->origin[ki] == RK_CONFIG_ORIGIN_DEFAULT ? " (default)" : "");
	return rk_config_fail(err, path, c->origin[ki], keys[ki].section, keys[ki].name, num, "%s",
			      problem);
}

/* Fill an unset listen address from the member entry, or check a set one against it. */
static int check_listen(struct rk_config *c, const char *path, enum key_index ki,
			const struct rk_config_addr *member, const char *what, struct rk_err *err)
{
	struct rk_config_addr *l = (struct rk_config_addr *)(void *)((char *)c + keys[ki].off);

	if (c->origin[ki] == RK_CONFIG_ORIGIN_DEFAULT || l->len == 0) {
		*l = *member;
		return RK_OK;
	}
	if (is_same_addr(l, member))
		return RK_OK;
	if (is_wildcard(l) && get_port(l) == get_port(member))
		return RK_OK;
	return rk_config_fail(err, path, c->origin[ki], keys[ki].section, keys[ki].name, l->text,
			      "must be the own member's %s address %s or a wildcard with its port",
			      what, member->text);
}

/* Every address of the cluster is someone's identity: two members at one address would each
 * get the other's traffic. Peer and client addresses share one namespace. */
static int check_members(const struct rk_config *c, const char *path, struct rk_err *err)
{
	static const char *const what[2] = { "peer", "client" };

	for (unsigned i = 0; i < c->n_members; i++) {
		const struct rk_config_member *m = &c->members[i];
		const struct rk_config_addr *mine[2] = { &m->peer, &m->client };
		char name[48], value[2 * RK_CONFIG_ADDR_MAX + 1];

		snprintf(name, sizeof name, "member.%llu", (unsigned long long)m->id);
		snprintf(value, sizeof value, "%s %s", m->peer.text, m->client.text);
		if (is_same_addr(&m->peer, &m->client))
			return rk_config_fail(err, path, m->origin, "cluster", name, value,
					      "peer and client address are the same");
		for (unsigned j = 0; j < i; j++) {
			const struct rk_config_member *o = &c->members[j];
			const struct rk_config_addr *theirs[2] = { &o->peer, &o->client };
			for (int a = 0; a < 2; a++) {
				for (int b = 0; b < 2; b++) {
					if (!is_same_addr(mine[a], theirs[b]))
						continue;
					return rk_config_fail(
						err, path, m->origin, "cluster", name, value,
						"duplicate address: %s %s is member.%llu's %s address",
						what[a], mine[a]->text, (unsigned long long)o->id,
						what[b]);
				}
			}
		}
	}
	return RK_OK;
}

static int attach_dials(struct rk_config *c, const char *path, struct rk_err *err)
{
	for (unsigned i = 0; i < c->n_dials; i++) {
		const struct rk_config_member *d = &c->dials[i];
		struct rk_config_member *m = NULL;
		char name[48];

		for (unsigned j = 0; j < c->n_members; j++)
			if (c->members[j].id == d->id)
				m = &c->members[j];
		snprintf(name, sizeof name, "dial.%llu", (unsigned long long)d->id);
		if (m == NULL)
			return rk_config_fail(err, path, d->dial_origin, "cluster", name,
					      d->dial.text, "no member.%llu to dial",
					      (unsigned long long)d->id);
		if (d->id == c->id)
			return rk_config_fail(err, path, d->dial_origin, "cluster", name,
					      d->dial.text, "a node does not dial itself");
		m->dial = d->dial;
		m->dial_origin = d->dial_origin;
	}
	return RK_OK;
}

int rk_config_validate(struct rk_config *c, const char *path, struct rk_err *err)
{
	const struct rk_config_member *self;
	char other[160];
	uint64_t entry_max;
	enum key_index ki;
	int rv;

	if (c->id == 0)
		return rk_config_fail(err, path, 0, "node", "id", NULL,
				      "missing: the own member id is required");
	if (c->data_dir[0] == '\0')
		return rk_config_fail(err, path, 0, "node", "data_dir", NULL, "missing: required");
	if (c->n_members == 0)
		return rk_config_fail(err, path, 0, "cluster", NULL, NULL,
				      "no member.ID entries: list every member, this one too");
	rv = check_members(c, path, err);
	if (rv != RK_OK)
		return rv;
	rv = attach_dials(c, path, err);
	if (rv != RK_OK)
		return rv;
	{
		unsigned founders = 0;

		for (unsigned i = 0; i < c->n_members; i++)
			founders += !c->members[i].join;
		if (founders == 0)
			return rk_config_fail(err, path, c->members[0].origin, "cluster", NULL,
					      NULL, "every member is marked join: a new cluster "
						    "needs at least one founding member");
	}
	self = rk_config_self(c);
	if (self == NULL) {
		char ids[RK_CONFIG_MAX_MEMBERS * 22] = "";
		size_t n = 0;
		for (unsigned i = 0; i < c->n_members && n < sizeof ids; i++)
			n += (size_t)snprintf(ids + n, sizeof ids - n, "%s%llu", i ? ", " : "",
					      (unsigned long long)c->members[i].id);
		return fail_number(c, path, K_NODE_ID, err,
				   "not among the [cluster] member ids (%s)", ids);
	}

	if (c->election_min_ms >= c->election_max_ms)
		return fail_number(c, path, K_ELECTION_MIN, err,
				   "must be less than election_timeout_max_ms (%s)",
				   format_other(other, sizeof other, c, path, K_ELECTION_MAX));
	if (c->heartbeat_ms >= c->election_min_ms)
		return fail_number(c, path, K_HEARTBEAT, err,
				   "must be less than election_timeout_min_ms (%s)",
				   format_other(other, sizeof other, c, path, K_ELECTION_MIN));
	if (c->snapshot_entries == 0 && c->snapshot_bytes == 0)
		return fail_number(c, path, K_SNAPSHOT_ENTRIES, err,
				   "snapshot_bytes is 0 too: the log would never be compacted");

	/* One entry carries a whole key and value: it must fit a frame (client request,
	 * AppendEntries) and one WAL segment. */
	entry_max = (uint64_t)c->max_key_bytes + c->max_value_bytes + RK_CONFIG_FRAME_SLACK;
	if (entry_max > c->max_frame_bytes)
		return fail_number(c, path, K_MAX_FRAME, err,
				   "too small for max_key_bytes + max_value_bytes + %d (%llu)",
				   RK_CONFIG_FRAME_SLACK, (unsigned long long)entry_max);
	if (entry_max > c->segment_bytes)
		return fail_number(c, path, K_SEGMENT, err,
				   "too small for max_key_bytes + max_value_bytes + %d (%llu)",
				   RK_CONFIG_FRAME_SLACK, (unsigned long long)entry_max);

	rv = check_listen(c, path, K_CLIENT_LISTEN, &self->client, "client", err);
	if (rv == RK_OK)
		rv = check_listen(c, path, K_PEER_LISTEN, &self->peer, "peer", err);
	if (rv != RK_OK)
		return rv;
	if (is_colliding(&c->client_listen, &c->peer_listen)) {
		/* blame the one that was set; peer_listen if both were */
		ki = c->origin[K_PEER_LISTEN] != RK_CONFIG_ORIGIN_DEFAULT ? K_PEER_LISTEN
									    : K_CLIENT_LISTEN;
		return rk_config_fail(err, path, c->origin[ki], "node", keys[ki].name,
				      ki == K_PEER_LISTEN ? c->peer_listen.text
							  : c->client_listen.text,
				      "collides with %s (%s): both cannot be bound",
				      ki == K_PEER_LISTEN ? "client_listen" : "peer_listen",
				      ki == K_PEER_LISTEN ? c->client_listen.text
							  : c->peer_listen.text);
	}
	return RK_OK;
}

const struct rk_config_member *rk_config_self(const struct rk_config *c)
{
	for (unsigned i = 0; i < c->n_members; i++)
		if (c->members[i].id == c->id)
			return &c->members[i];
	return NULL;
}

int rk_config_dump(const struct rk_config *c, FILE *f)
{
	static const char *const levels[] = { "error", "warn", "info", "debug", "trace" };
	const char *section = "";

	for (int i = 0; i < NKEYS; i++) {
		const struct key_def *k = &keys[i];
		const char *field = (const char *)c + k->off;

		if (strcmp(section, k->section) != 0) {
			fprintf(f, "%s[%s]\n", i > 0 ? "\n" : "", k->section);
			section = k->section;
		}
		/* unset keys are left out: "id = 0" or "data_dir =" would not load back */
		switch (k->type) {
		case T_ID:
		case T_COUNT:
		case T_BYTES:
			if (k->type != T_ID || c->id != 0)
				fprintf(f, "%s = %llu\n", k->name,
					(unsigned long long)load_number(c, k));
			break;
		case T_BOOL:
			fprintf(f, "%s = %s\n", k->name,
				*(const bool *)(const void *)field ? "true" : "false");
			break;
		case T_LEVEL:
			fprintf(f, "%s = %s\n", k->name, levels[c->log_level]);
			break;
		case T_ADDR:
			if (*field != '\0')
				fprintf(f, "%s = %s\n", k->name, field);
			break;
		case T_PATH:
			/* quoted: iniparser cuts an unquoted value at '#' or ';' */
			if (*field != '\0')
				fprintf(f, "%s = \"%s\"\n", k->name, field);
			break;
		}
		if (i == K_DATA_DIR) {
			fprintf(f, "\n[cluster]\n");
			for (unsigned m = 0; m < c->n_members; m++)
				fprintf(f, "member.%llu = %s %s%s\n",
					(unsigned long long)c->members[m].id,
					c->members[m].peer.text, c->members[m].client.text,
					c->members[m].join ? " join" : "");
			for (unsigned m = 0; m < c->n_members; m++)
				if (c->members[m].dial_origin != 0)
					fprintf(f, "dial.%llu = %s\n",
						(unsigned long long)c->members[m].id,
						c->members[m].dial.text);
		}
	}
	return fflush(f) == 0 && !ferror(f) ? RK_OK : RK_EIO;
}

/* node_config.h -- the configuration of one raftkvd node: an ini file, then command-line overrides.
 *
 * Named node_config.h, not config.h: every .c here opens with `#include "config.h"` for autoconf's
 * header, and a config.h next to src/server/main.c would shadow it (quoted includes look in the
 * including file's directory first).
 *
 * Order of use: rk_config_defaults(), rk_config_load() (the file over the defaults), then one
 * rk_config_set() per command-line override, then rk_config_validate() (cross-field checks and
 * the listen addresses). Every failure is RK_ECONFIG with one line in err->msg naming where the
 * value came from, the key and the problem:
 *   raftkv.conf:27: [raft] heartbeat_ms = 900: must be less than election_timeout_min_ms (300)
 * raftkv.conf(5) documents every key; the key table in node_config.c is the one list of them,
 * node_config_file.c reads the file.
 *
 * struct rk_config is plain data (no pointers): copy it freely, nothing to free.
 * Thread: load, set and validate belong to one thread at a time per object; rk_config_load()
 * swaps iniparser's process-wide error callback while it parses (see node_config.c).
 */
#ifndef RK_SERVER_NODE_CONFIG_H
#define RK_SERVER_NODE_CONFIG_H

#include <limits.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/socket.h>

#include "common/err.h"
#include "common/log.h"

#define RK_CONFIG_MAX_MEMBERS 16  /* = RK_CONF_MAX of the Raft core */
#define RK_CONFIG_ADDR_MAX 64     /* bytes of an address as written, NUL included */
#define RK_CONFIG_PATH_MAX 4096   /* bytes of data_dir, NUL included */
#define RK_CONFIG_KEYS_MAX 24     /* room in rk_config.origin; node_config.c asserts it fits */
#define RK_CONFIG_FRAME_SLACK 4096 /* frame bytes beyond key + value: ids, session, headers */

/* rk_config.origin / rk_config_member.origin: where a value came from. Other values are the
 * line of the file that set it. */
#define RK_CONFIG_ORIGIN_DEFAULT 0u
#define RK_CONFIG_ORIGIN_CMDLINE UINT_MAX

/* A numeric IPv4 or IPv6 address and port, as written and as a socket address. */
struct rk_config_addr {
	char text[RK_CONFIG_ADDR_MAX]; /* "127.0.0.1:8001", "[::1]:8001"; "" while unset */
	struct sockaddr_storage sa;    /* AF_INET or AF_INET6 */
	socklen_t len;                 /* bytes of sa in use; 0 while unset */
};

struct rk_config_member {
	uint64_t id;                  /* > 0, unique in the cluster */
	struct rk_config_addr peer;   /* where the other nodes connect to it */
	struct rk_config_addr client; /* where clients connect; sent in NOT_LEADER redirects */
	struct rk_config_addr dial;   /* "dial.ID": where this node connects to reach it (a
				       * proxy or NAT in between); unset: peer */
	bool join;                    /* "join": not a voter of a new cluster; it joins through
				       * raftkvctl member add/promote */
	unsigned origin;              /* line in the file, or RK_CONFIG_ORIGIN_CMDLINE */
	unsigned dial_origin;         /* line of dial.ID; 0: not given */
};

struct rk_config {
	/* [node] */
	uint64_t id;                          /* this node's member id; 0 until set (required) */
	struct rk_config_addr client_listen;  /* bound for clients; validate fills it from the */
	struct rk_config_addr peer_listen;    /* ... own member entry when not set */
	char data_dir[RK_CONFIG_PATH_MAX];    /* absolute path; "" until set (required) */

	/* [cluster] */
	struct rk_config_member members[RK_CONFIG_MAX_MEMBERS]; /* sorted by id, ids unique */
	unsigned n_members;
	/* dial.ID lines, read in any order relative to member.ID; validate moves them into
	 * members[].dial. */
	struct rk_config_member dials[RK_CONFIG_MAX_MEMBERS];
	unsigned n_dials;

	/* [raft] */
	unsigned election_min_ms;  /* election timeout drawn from [min, max]; min < max */
	unsigned election_max_ms;
	unsigned heartbeat_ms;     /* leader's idle AppendEntries interval; < election_min_ms */
	uint64_t snapshot_entries; /* snapshot after this many applied entries; 0: never */
	uint64_t snapshot_bytes;   /* ... or after this many log bytes; 0: never; not both 0 */

	/* [server] */
	unsigned workers;          /* worker threads; 0: one per online CPU (caller resolves) */
	unsigned queue_size;       /* jobs queued for the workers; the queue rounds it up */
	size_t max_key_bytes;
	size_t max_value_bytes;
	size_t max_frame_bytes;    /* frame payload limit, client and peer connections; holds
				    * max_key + max_value + RK_CONFIG_FRAME_SLACK */

	/* [storage] */
	bool fsync;                /* false: acknowledged writes can be lost (tests only) */
	uint64_t segment_bytes;    /* WAL segment size; holds one largest entry */

	/* [log] */
	enum rk_log_level log_level;

	/* Private to node_config.c: where each scalar key came from, for messages. */
	unsigned origin[RK_CONFIG_KEYS_MAX];
};

/* Fill @c with the defaults of raftkv.conf(5); id, data_dir and the members stay unset. */
void rk_config_defaults(struct rk_config *c);

/* Read the ini file @path over what @c holds (call rk_config_defaults() first). Every key of
 * the file must be known; a key given twice, even in two blocks of one section, is an error
 * (iniparser alone would keep the last one silently). Members accumulate in @c.
 * Errors: RK_ECONFIG (unreadable file, ini syntax, unknown section or key, duplicate key, bad
 * value: err names path, line, key and problem), RK_ENOMEM. On error @c is partly updated. */
int rk_config_load(struct rk_config *c, const char *path, struct rk_err *err);

/* Override one key from the command line: @key is "section.name" ("raft.heartbeat_ms",
 * "node.id", "cluster.member.4"), @value as it would be written in the file. A member
 * override replaces the member of that id or adds one. Call after rk_config_load().
 * Errors: RK_ECONFIG (unknown key, bad value; err says "command line: ..."). */
int rk_config_set(struct rk_config *c, const char *key, const char *value, struct rk_err *err);

/* Check what single values cannot show: required keys, own id among the members, unique
 * addresses, timeouts in order, sizes that fit in frames and segments; then fill unset listen
 * addresses from the own member entry. A set listen address must be the member's address or
 * the wildcard (0.0.0.0 or [::]) with the member's port: the member entry is what the other
 * nodes and the clients are told, the listen address only what is bound. @path is the file
 * given to rk_config_load(), for messages (NULL if none was read).
 * Errors: RK_ECONFIG. */
int rk_config_validate(struct rk_config *c, const char *path, struct rk_err *err);

/* This node's own member entry, returned borrowed (until @c changes); NULL before validate. */
const struct rk_config_member *rk_config_self(const struct rk_config *c);

/* Parse "A.B.C.D:PORT" or "[IPV6]:PORT" into @out. Hosts are numeric only: no name lookup at
 * start-up, so a config validates the same way offline and a member's identity cannot change
 * under DNS. PORT is decimal 1..65535. No IPv6 zone ids ("%eth0").
 * Errors: RK_EINVAL (err->msg: the problem, without the address). */
int rk_config_parse_addr(const char *s, struct rk_config_addr *out, struct rk_err *err);

/* Write @c as a loadable ini file, every key included (for `raftkvd --print-config`).
 * Errors: RK_EIO (a write to @f failed). */
int rk_config_dump(const struct rk_config *c, FILE *f);

#endif

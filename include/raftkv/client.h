/* client.h -- libraftkv: the C client of raftkv.
 *
 * A client is made from a list of endpoints (the nodes' client addresses). It sends each request
 * to the node it believes leads, follows NOT_LEADER redirects, moves on to the next endpoint when
 * a node cannot be reached, and gives up when the request's deadline passes. Writes belong to a
 * session (a client id chosen at random when the client is opened, and a sequence number per
 * write): a write retried after a timeout or a lost connection is applied at most once, so a
 * retry is always safe.
 *
 * Thread safety: a client is not thread-safe; use one client per thread (they are cheap: one
 * connection each). Different clients may be used from different threads at once.
 *
 * Errors: every call returns a status from enum rkc_status. RKC_OK and the "definite no"
 * statuses (RKC_NOT_FOUND, RKC_EXISTS, RKC_CAS_FAILED) are answers from the cluster. After
 * RKC_TIMEOUT or RKC_UNAVAILABLE the outcome of a write is unknown (it may or may not have been
 * applied); retrying it with the same call is safe. rkc_last_error() gives a human-readable
 * detail of the last failure.
 *
 * Link with `pkg-config --libs raftkv`.
 */
#ifndef RAFTKV_CLIENT_H
#define RAFTKV_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Values 0-10 are the wire statuses of proto/client.proto; the rest arise in the client. */
enum rkc_status {
	RKC_OK = 0,
	RKC_NOT_FOUND = 1,    /* the key does not exist */
	RKC_EXISTS = 2,       /* put-if-absent: the key exists */
	RKC_CAS_FAILED = 3,   /* cas: the current value is not the expected one */
	RKC_NOT_LEADER = 4,   /* only seen when redirects are exhausted */
	RKC_TIMEOUT = 5,      /* no answer in time: the outcome of a write is unknown */
	RKC_TOO_LARGE = 6,    /* key or value over the cluster's limit; nothing was written */
	RKC_BAD_REQUEST = 7,  /* the server refused the request as malformed */
	RKC_UNAVAILABLE = 8,  /* no node reachable, or no quorum: outcome of a write unknown */
	RKC_BUSY = 9,         /* the server is overloaded: retried until the deadline */
	RKC_INTERNAL = 10,    /* a server bug; the message says what */
	RKC_EINVAL = 100,     /* a bad argument (e.g. an empty key, no endpoints) */
	RKC_ENOMEM = 101,     /* out of memory in the client */
	RKC_EPROTO = 102,     /* the server sent something this client does not understand */
};

/* Static text for @status. */
const char *rkc_strstatus(int status);

struct rkc_options {
	const char *endpoints;       /* "host:port,host:port,..." (numeric IPv4/IPv6 hosts) */
	unsigned request_timeout_ms; /* one attempt on one node; 0: 2000 */
	unsigned deadline_ms;        /* one call, all retries included; 0: 10000 */
	uint64_t client_id;          /* session id; 0: a random one */
};

struct rkc_client;

/* Make a client. No connection is made until the first request. Returns owned *@out (free with
 * rkc_close). Errors: RKC_EINVAL (no or unparsable endpoints), RKC_ENOMEM. */
int rkc_open(const struct rkc_options *opts, struct rkc_client **out);
void rkc_close(struct rkc_client *c);

/* Detail of the last failure on @c (the server's message or the client's reason); returns
 * borrowed (until the next call on @c). Empty after success. */
const char *rkc_last_error(const struct rkc_client *c);

/* The endpoint the last request was answered by, "" if none; returns borrowed. */
const char *rkc_last_endpoint(const struct rkc_client *c);

/* A byte string returned by the library: free with rkc_buf_free(). */
struct rkc_buf {
	uint8_t *data; /* NUL-terminated for convenience (the NUL is not counted in len) */
	size_t len;
};
void rkc_buf_free(struct rkc_buf *b);

/* Read @key. Linearizable unless @serializable (then any node answers, possibly stale).
 * On RKC_OK, @val receives the value (returns owned). */
int rkc_get(struct rkc_client *c, const void *key, size_t klen, bool serializable,
	    struct rkc_buf *val);

int rkc_put(struct rkc_client *c, const void *key, size_t klen, const void *val, size_t vlen);
/* RKC_EXISTS when the key exists. */
int rkc_put_if_absent(struct rkc_client *c, const void *key, size_t klen, const void *val,
		      size_t vlen);
/* RKC_NOT_FOUND when the key does not exist. */
int rkc_update(struct rkc_client *c, const void *key, size_t klen, const void *val, size_t vlen);
/* RKC_NOT_FOUND when the key does not exist. */
int rkc_delete(struct rkc_client *c, const void *key, size_t klen);
/* Append @val to the value of @key, creating it if absent. */
int rkc_append(struct rkc_client *c, const void *key, size_t klen, const void *val, size_t vlen);
/* Set @key to @val if its value is @expected: RKC_NOT_FOUND, RKC_CAS_FAILED otherwise. */
int rkc_cas(struct rkc_client *c, const void *key, size_t klen, const void *expected,
	    size_t elen, const void *val, size_t vlen);

struct rkc_kv {
	struct rkc_buf key;
	struct rkc_buf value;
};

struct rkc_range {
	const void *start;  /* first key (inclusive), or the prefix */
	size_t start_len;
	const void *end;    /* exclusive end; 0 length: unbounded; ignored with prefix */
	size_t end_len;
	bool prefix;        /* every key starting with start */
	unsigned limit;     /* at most this many pairs; 0: the server's default (1000) */
	bool serializable;
};

/* The pairs selected by @r in byte order: *@kvs returns owned (free with rkc_kvs_free), *@n
 * pairs, *@more set when the limit cut the result short. */
int rkc_range(struct rkc_client *c, const struct rkc_range *r, struct rkc_kv **kvs, size_t *n,
	      bool *more);
void rkc_kvs_free(struct rkc_kv *kvs, size_t n);

struct rkc_member {
	uint64_t id;
	char peer_addr[64];
	char client_addr[64];
	bool learner;
};

struct rkc_node_status {
	uint64_t id;
	char role[16];        /* follower, pre-candidate, candidate, leader, learner, non-member */
	uint64_t term;
	uint64_t leader;      /* 0: unknown */
	uint64_t commit_index;
	uint64_t applied_index;
	uint64_t first_index;
	uint64_t last_index;
	unsigned n_members;
	struct rkc_member members[16];
};

/* Ask the node at @endpoint (one of the client's endpoints or any other "host:port") for its
 * status; no redirects. */
int rkc_status(struct rkc_client *c, const char *endpoint, struct rkc_node_status *st);

/* Ask the leader to hand leadership to node @target (a voter that is caught up). RKC_OK means
 * the transfer started; it completes within an election timeout or is abandoned (watch
 * rkc_status). RKC_BAD_REQUEST: @target is not another voter; RKC_BUSY: a transfer runs. */
int rkc_transfer_leader(struct rkc_client *c, uint64_t target);

/* Membership changes, one server at a time (the leader refuses a second change until the
 * first has committed, which the client retries as RKC_BUSY until its deadline). Each returns
 * once the change is in the log's applied configuration on the leader. @id must be listed in
 * the nodes' configuration files (raftkv.conf(5), member.ID, with "join" for a node that was
 * not a founding member). Repeating a change already in force succeeds.
 * rkc_member_add: @id becomes a learner (receives the log, does not vote). RKC_EXISTS: @id is
 * already a voter. RKC_BAD_REQUEST: not in the configuration files.
 * rkc_member_promote: learner @id becomes a voter. RKC_NOT_FOUND: @id is not a member.
 * rkc_member_remove: @id leaves the configuration. RKC_NOT_FOUND: not a member;
 * RKC_BAD_REQUEST: the last voter. Removing the leader makes it step down once committed.
 * After RKC_TIMEOUT or RKC_UNAVAILABLE the change may or may not have been made. */
int rkc_member_add(struct rkc_client *c, uint64_t id);
int rkc_member_promote(struct rkc_client *c, uint64_t id);
int rkc_member_remove(struct rkc_client *c, uint64_t id);

/* A consistent backup: the leader takes a fresh snapshot of the store and the client writes the
 * whole snapshot file to @fd (restore it with `raftkvd --restore FILE`, see raftkvd(8)).
 * *@index (may be NULL) gets the last log index the backup holds, *@size its bytes. */
int rkc_snapshot_save(struct rkc_client *c, int fd, uint64_t *index, uint64_t *size);

#ifdef __cplusplus
}
#endif

#endif

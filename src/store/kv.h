/* kv.h -- the replicated key-value state machine.
 *
 * Committed entries reach the store through rk_kv_apply() on the apply thread, its only writer.
 * Workers read concurrently (rk_kv_get, rk_kv_range): released ReadIndex reads and serializable
 * reads. One pthread rwlock (writer-preferring) guards everything; readers share it, the apply
 * thread takes it exclusively once per entry, or once per run of entries (rk_kv_run_begin).
 * Keys and values are binary byte strings; the empty key is refused (RK_EINVAL), the empty
 * value is a value like any other. docs/store.md has the layout, the command and snapshot
 * formats and the session rules.
 *
 * Thread rules:
 *   Role apply (the only writer): rk_kv_apply, rk_kv_skip, rk_kv_put and the other direct
 *     writes, rk_kv_snapshot_save, rk_kv_snapshot_load.
 *   Any thread: rk_kv_get, rk_kv_range, rk_kv_digest, rk_kv_stats, rk_kv_applied_index,
 *     rk_kv_validate, rk_kv_session_get.
 * rk_kv_new/rk_kv_free: no other thread may use the store.
 */
#ifndef RK_STORE_KV_H
#define RK_STORE_KV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "raftkv/raft_types.h"
#include "store/cmd.h"

struct rk_kv;

/* Every field shapes what apply does, so all replicas must run with the same values (a
 * mismatch makes replicas diverge: treat them as cluster-wide settings, not per-node ones). */
struct rk_kv_config {
	struct rk_kv_limits limits;  /* apply enforces them too */
	uint64_t session_timeout_ms; /* drop sessions idle longer than this; 0: never by age */
	uint32_t max_sessions;       /* bound of the session table (the oldest is evicted) */
};

/* 4 KiB keys, 1 MiB values, 1 hour sessions, 65536 sessions. */
void rk_kv_config_default(struct rk_kv_config *cfg);

/* Create an empty store (applied index 0). Borrows @cfg for the call. Returns owned *@out.
 * Errors: RK_ENOMEM, RK_EINVAL (a zero limit or max_sessions). */
int rk_kv_new(const struct rk_kv_config *cfg, struct rk_kv **out);

/* Free @kv with every key and session. Takes @kv (NULL is fine). */
void rk_kv_free(struct rk_kv *kv);

/* ---- reads: any thread, under the read lock ---- */

/* Copy the value of @key into @out (base from rk_malloc, NULL when the value is empty).
 * Returns owned out->base. Errors: RK_ENOTFOUND, RK_ENOMEM, RK_EINVAL (empty key). */
int rk_kv_get(struct rk_kv *kv, const void *key, size_t klen, struct rk_buf *out);

struct rk_kv_scan {
	const void *start;  /* first key, inclusive (NULL/0: from the smallest key); or the prefix */
	size_t start_len;
	const void *end;    /* exclusive end (0 length: unbounded); ignored with prefix */
	size_t end_len;
	bool prefix;        /* every key that starts with start (an empty prefix: every key) */
	bool keys_only;     /* pass NULL/0 as the value */
	size_t limit;       /* at most this many pairs; 0: no limit */
};

/* Called for each pair in byte order with the read lock held: key and value are borrowed for
 * the call only; copy them out, do not call back into the store. @val is NULL only for a
 * keys_only scan. Non-zero stops the scan and becomes rk_kv_range's return value. */
typedef int (*rk_kv_visit_fn)(void *ctx, const uint8_t *key, size_t klen, const uint8_t *val,
			      size_t vlen);

/* Visit the pairs selected by @scan; *@more (may be NULL) is set when the limit cut the result
 * short, i.e. at least one more pair matches. Errors: whatever @fn returns. */
int rk_kv_range(struct rk_kv *kv, const struct rk_kv_scan *scan, rk_kv_visit_fn fn, void *ctx,
		bool *more);

/* Highest index applied (or skipped); lock-free, for ReadIndex waits. */
rk_index rk_kv_applied_index(const struct rk_kv *kv);

/* Check a command against the configured limits before proposing it (see
 * rk_kv_cmd_validate). Lock-free: the limits never change. */
int rk_kv_validate(const struct rk_kv *kv, const struct rk_kv_cmd *cmd);

struct rk_kv_stats {
	size_t keys;
	size_t sessions;
	size_t key_bytes;   /* sum of key lengths */
	size_t value_bytes; /* sum of value lengths */
	size_t index_bytes; /* hash bucket arrays */
	uint64_t clock_ms;  /* newest leader timestamp applied */
	rk_index applied;
};
void rk_kv_stats(struct rk_kv *kv, struct rk_kv_stats *st);

/* Session of @client_id: its last seq and result status. Errors: RK_ENOTFOUND. */
int rk_kv_session_get(struct rk_kv *kv, uint64_t client_id, uint64_t *seq, int *status);

/* A hash over every key and value in byte order, the sessions in use order and the store
 * clock (not the applied index): equal on replicas that applied the same entries. */
uint64_t rk_kv_digest(struct rk_kv *kv);

/* ---- writes: role apply ---- */

/* What a client gets back for one applied command. */
struct rk_kv_result {
	int status;         /* RK_OK, RK_ENOTFOUND, RK_EEXISTS, RK_ECASFAILED, RK_ETOOLARGE,
			     * RK_EINVAL, RK_ESTALE (seq older than the session's last),
			     * RK_ECORRUPT (the entry does not decode) */
	struct rk_buf value; /* returns owned (rk_free): the value for RK_KV_GET, else empty */
	bool duplicate;     /* a retry answered from the session table: nothing was applied */
};

/* Decode and apply the committed entry @index (> applied index) whose payload is @data/@len
 * (borrowed for the call), filling @res. Every outcome that depends only on the log, including
 * a malformed entry, is a status in @res with RK_OK returned, and the applied index moves to
 * @index. Errors: RK_ENOMEM (nothing changed: the caller may retry the same entry, but a
 * replica that cannot apply must stop rather than skip it), RK_EINVAL (@index not above the
 * applied index; nothing changed). */
int rk_kv_apply(struct rk_kv *kv, rk_index index, const void *data, size_t len,
		struct rk_kv_result *res);

/* A run of writes under one hold of the write lock, for a long stretch of committed entries
 * (a restart's log replay, a follower catching up): readers wait until rk_kv_run_end(), and
 * keys created in the run are linked into the ordered index at its end with one sort and one
 * sorted pass, instead of one skiplist search each (random keys: most of an insert's cost).
 * Between the two, rk_kv_apply, rk_kv_skip and the direct writes below work as usual, and this
 * thread must not read the store (the read lock would deadlock). Role: apply. Never fail. */
void rk_kv_run_begin(struct rk_kv *kv);
void rk_kv_run_end(struct rk_kv *kv);

/* Advance the applied index over an entry that is not a command (no-op, configuration).
 * Errors: RK_EINVAL (@index not above the applied index). */
int rk_kv_skip(struct rk_kv *kv, rk_index index);

/* A hint from the writer: about @n more keys are coming (a restart's log replay). The hash
 * index grows for them now, in one go, instead of resizing step by step under the inserts.
 * Errors: RK_ENOMEM (nothing changed; the store works as before). */
int rk_kv_reserve(struct rk_kv *kv, size_t n);

/* Free the value in @res (safe on a zeroed result). */
void rk_kv_result_release(struct rk_kv_result *res);

/* Direct writes without the log, sessions or applied index (tests, benchmarks, tools). Each
 * borrows its byte strings for the call and returns the status rk_kv_apply would report, or
 * RK_ENOMEM with the store unchanged. */
int rk_kv_put(struct rk_kv *kv, const void *key, size_t klen, const void *val, size_t vlen);
int rk_kv_put_if_absent(struct rk_kv *kv, const void *key, size_t klen, const void *val,
			size_t vlen);
int rk_kv_update(struct rk_kv *kv, const void *key, size_t klen, const void *val, size_t vlen);
int rk_kv_append(struct rk_kv *kv, const void *key, size_t klen, const void *val, size_t vlen);
int rk_kv_delete(struct rk_kv *kv, const void *key, size_t klen);
int rk_kv_cas(struct rk_kv *kv, const void *key, size_t klen, const void *expected,
	      size_t xlen, const void *val, size_t vlen);

/* ---- snapshots: role apply ---- */

/* Stream sink: consume @len bytes at @buf (borrowed for the call). Returns RK_OK or an error
 * that aborts the save and is returned by it. */
typedef int (*rk_kv_write_fn)(void *ctx, const void *buf, size_t len);

/* Stream source: copy up to @cap bytes into @buf and set *@got; *@got == 0 means the end of
 * the stream. Returns RK_OK or an error that aborts the load and is returned by it. */
typedef int (*rk_kv_read_fn)(void *ctx, void *buf, size_t cap, size_t *got);

/* Write the whole state (keys, sessions, clock, applied index) through @fn in chunks of at
 * most 64 KiB (a large value goes through in one piece). Holds the read lock throughout:
 * readers go on, and the caller being the only writer, the image is the state at the applied
 * index. Errors: RK_ENOMEM, anything @fn returns. */
int rk_kv_snapshot_save(struct rk_kv *kv, rk_kv_write_fn fn, void *ctx);

/* Replace the whole state with the stream read through @fn. The new state is built aside and
 * swapped in at the end, so on any error the store is unchanged. Errors: RK_ECORRUPT
 * (truncated, trailing bytes, bad magic/version/checksum, keys out of order or over the
 * limits, bad sessions), RK_ENOMEM, anything @fn returns. */
int rk_kv_snapshot_load(struct rk_kv *kv, rk_kv_read_fn fn, void *ctx);

#endif

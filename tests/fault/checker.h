/* checker.h -- linearizability checker for histories recorded by the fault-testing runner.
 *
 * A history is a text file, one event per line (blank lines and lines starting with '#' are
 * ignored; fields are separated by spaces or tabs):
 *
 *   INVOKE <op-id> <process> <time-ns> <op> <key> [args]
 *   OK     <op-id> <time-ns> [result]
 *   FAIL   <op-id> <time-ns> [reason ...]
 *   INFO   <op-id> <time-ns> [reason ...]
 *
 *   op        args        OK result                FAIL means
 *   get       -           the value, or - (absent)  (read dropped)
 *   put       v           -                         not applied
 *   cas       old new     -                         not applied; reason cas-failed or not-found
 *                                                    also records what the cas saw
 *   append    v           -                         not applied
 *   delete    -           -                         not applied; reason not-found records absence
 *
 * op-id, process and times are unsigned decimal integers; op-ids are unique; the process only
 * labels reports. Keys and values are tokens of printable non-space bytes; a lone "-" is
 * reserved for "absent" and "" spells the empty value. OK = completed with that result. FAIL =
 * definitely did not take effect. INFO = unknown outcome (timeout, lost connection): the op may
 * take effect at any time after its invocation, or never; an INFO read says nothing and is
 * dropped. An op with no completion line by the end of the file counts as INFO (the runner
 * died). Lines may be out of time order: events are ordered by time, and equal times count as
 * overlapping (the permissive reading). An OK delete means a key was removed (the store answers
 * not-found otherwise).
 *
 * Keys are independent registers, so the check runs per key: Wing & Gong's search with Lowe's
 * refinements and a memo of (set of linearized ops, model state), as described in
 * docs/TESTING.md. Not thread-safe; one history may be checked by one thread at a time.
 */
#ifndef RK_TESTS_FAULT_CHECKER_H
#define RK_TESTS_FAULT_CHECKER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "common/err.h"

enum rk_chk_opkind {
	RK_CHK_GET,
	RK_CHK_PUT,
	RK_CHK_CAS,
	RK_CHK_APPEND,
	RK_CHK_DELETE,
};

enum rk_chk_status {
	RK_CHK_OK,   /* completed, with its result */
	RK_CHK_FAIL, /* definitely not applied */
	RK_CHK_INFO, /* indeterminate: maybe applied, any time after invocation */
};

/* What a FAIL reply says about the state besides "not applied". */
enum rk_chk_reason {
	RK_CHK_REASON_NONE,	  /* nothing (rejected before it reached the data) */
	RK_CHK_REASON_CAS_FAILED, /* cas: the key held a value other than old */
	RK_CHK_REASON_NOT_FOUND,  /* cas or delete: the key was absent */
};

/* A value in a history: bytes (not NUL-terminated in general) or absent. */
struct rk_chk_val {
	const char *p; /* borrowed from the history's arena; NULL when absent */
	size_t len;
	uint64_t hash; /* polynomial hash of the bytes, see checker.c */
	uint64_t pow;  /* CHK_BASE^len, to extend a hash by this value */
};

struct rk_chk_op {
	uint64_t id;
	uint64_t process;
	uint64_t invoke_ns;
	uint64_t return_ns; /* UINT64_MAX for INFO */
	enum rk_chk_opkind kind;
	enum rk_chk_status status;
	enum rk_chk_reason reason; /* FAIL only */
	size_t key;		   /* index into rk_chk_history.keys */
	struct rk_chk_val arg[2];  /* put/append: arg[0]; cas: old, new */
	struct rk_chk_val result;  /* OK get: the value read (absent: p == NULL) */
	unsigned invoke_line;
	unsigned complete_line; /* 0 when the file ended first */
};

struct rk_chk_history {
	struct rk_chk_op *ops; /* in order of their INVOKE lines */
	size_t nops;
	char **keys; /* NUL-terminated key names, in order of first use */
	size_t nkeys;
	void *arena; /* private: storage for every string above */
};

/* Parse a history. On RK_OK returns owned *out (free with rk_chk_history_free()). On a
 * malformed history returns RK_EPROTO with "NAME:LINE: what" in @err; RK_ENOMEM, RK_EIO. */
int rk_chk_history_parse_file(FILE *f, const char *name, struct rk_chk_history **out,
			      struct rk_err *err);
int rk_chk_history_parse_buf(const char *buf, size_t len, struct rk_chk_history **out,
			     struct rk_err *err);
void rk_chk_history_free(struct rk_chk_history *h);

/* Budget per key. The search is exponential in the worst case (it is NP-complete); when a budget
 * runs out the key's verdict is RK_CHK_UNKNOWN, never a guess. Zero means unlimited. */
struct rk_chk_opts {
	uint64_t max_steps;  /* search steps (one tried or undone op each) per key */
	size_t max_bytes;    /* memo + state memory per key */
	uint64_t max_ms;     /* wall-clock per key, including the shrinking of a violation */
	size_t shrink_limit; /* try dropping single reads from windows up to this many ops */
};

/* Defaults: 50M steps, 512 MiB, 60 s, shrink windows up to 200 ops. */
void rk_chk_opts_default(struct rk_chk_opts *o);

enum rk_chk_verdict {
	RK_CHK_LINEARIZABLE,
	RK_CHK_VIOLATION,
	RK_CHK_UNKNOWN, /* a budget ran out first */
};

const char *rk_chk_verdict_str(enum rk_chk_verdict v);

/* A step of the report: one op of the smallest failing window. */
struct rk_chk_wop {
	size_t op;	    /* index into rk_chk_history.ops */
	bool indeterminate; /* the window treats this op as INFO (it straddles a window edge) */
};

struct rk_chk_keyres {
	size_t key;
	enum rk_chk_verdict verdict;
	size_t nops;	/* ops the search considered (dropped reads and FAILs excluded) */
	uint64_t steps; /* search steps of the full check (shrinking not counted) */
	uint64_t ns;	/* wall time of the full check */
	/* RK_CHK_VIOLATION: the smallest failing window found (none, nwindow == 0, if the budget
	 * ran out while shrinking). */
	struct rk_chk_wop *window; /* in invocation order */
	size_t nwindow;
	bool window_unknown_start; /* the window starts from an unknown state */
	uint64_t window_start;	   /* then: ops completed by this time are left out */
	size_t stuck_op;   /* the op whose completion no order could reach; SIZE_MAX if none */
	char *stuck_state; /* owned: the model state at the deepest point of the search */
	size_t deepest;	   /* ops linearized at that point */
	size_t required;   /* determinate ops in the window */
};

struct rk_chk_result {
	enum rk_chk_verdict verdict; /* worst over keys: VIOLATION > UNKNOWN > LINEARIZABLE */
	struct rk_chk_keyres *keys;  /* one per history key, same order */
	size_t nkeys;
};

/* Check every key of @h (borrowed for the call). Returns owned *out on RK_OK whatever the
 * verdict. Errors: RK_ENOMEM. */
int rk_chk_check(const struct rk_chk_history *h, const struct rk_chk_opts *opts,
		 struct rk_chk_result **out, struct rk_err *err);

/* Check one key; fills @res (free its members with rk_chk_keyres_clear()). */
int rk_chk_check_key(const struct rk_chk_history *h, size_t key, const struct rk_chk_opts *opts,
		     struct rk_chk_keyres *res, struct rk_err *err);
void rk_chk_keyres_clear(struct rk_chk_keyres *res);
void rk_chk_result_free(struct rk_chk_result *r);

/* Values longer than RK_CHK_ELIDE_OVER bytes are printed as their first RK_CHK_ELIDE_HEAD and
 * last RK_CHK_ELIDE_TAIL bytes (an append value's end is where its latest appends are). */
#define RK_CHK_ELIDE_OVER 160
#define RK_CHK_ELIDE_HEAD 48
#define RK_CHK_ELIDE_TAIL 96

/* Print one op as "line 12 op 7 p3 [100, 250] cas a b -> ok". */
void rk_chk_print_op(FILE *f, const struct rk_chk_history *h, size_t op);

/* Print the verdict of @r for humans: one line per key with a problem, and each violation's
 * window. */
void rk_chk_print_result(FILE *f, const struct rk_chk_history *h, const struct rk_chk_result *r);

/*
 * Direct checks for append-only keys, complementary to the search and cheap. The runner makes
 * every append's value a unique token ending in a separator byte that occurs nowhere else in it
 * ("p3-17;"), and reads every key once more after healing the cluster; @final is that read.
 */
enum rk_chk_append_problem {
	RK_CHK_APPEND_FINE,
	RK_CHK_APPEND_GARBAGE, /* final value does not split into tokens (no trailing separator) */
	RK_CHK_APPEND_UNKNOWN, /* a token no append of the key ever wrote */
	RK_CHK_APPEND_FAILED,  /* a token of a FAILed append (definitely not applied) */
	RK_CHK_APPEND_DUPLICATE, /* a token present twice: applied more than once */
	RK_CHK_APPEND_LOST,	 /* a token of an OK append missing from the final value */
	RK_CHK_APPEND_ORDER, /* tokens out of real-time order: b before a though a ended first */
	RK_CHK_APPEND_NOT_PREFIX, /* an OK read of the key that is not a prefix of the final value
				   */
};

struct rk_chk_append_report {
	enum rk_chk_append_problem problem; /* the first problem found */
	size_t op;			    /* the op concerned; SIZE_MAX if none */
	size_t other;			    /* ORDER: the op that should have come first */
	size_t tokens;			    /* tokens in the final value */
	char detail[256];		    /* one line for humans */
};

/* True when every write of @key is an append whose value ends in the same byte, found nowhere
 * else in it; stores that byte in *sep. */
bool rk_chk_is_append_key(const struct rk_chk_history *h, size_t key, char *sep);

/* The final read of @key: the OK get invoked last, provided it started after every determinate
 * op of the key had completed. Returns its op index, or SIZE_MAX when there is none. */
size_t rk_chk_final_read(const struct rk_chk_history *h, size_t key);

/* Check the appends of @key against @final (borrowed; @final_len bytes, NULL = absent) split on
 * @sep. Fills @rep; returns RK_OK whether or not a problem was found (look at rep->problem).
 * Errors: RK_EINVAL (the key has writes other than appends), RK_ENOMEM. */
int rk_chk_appends(const struct rk_chk_history *h, size_t key, const char *final, size_t final_len,
		   char sep, struct rk_chk_append_report *rep, struct rk_err *err);

/* A whole check as rk-check runs it. */
struct rk_chk_run_opts {
	struct rk_chk_opts search;
	bool appends; /* also run the direct append checks */
	bool verbose; /* per-key statistics and passes */
	bool quiet;   /* the verdict line only */
};

/* Parse the history at @path ("-": stdin), check it, print the verdict (and unless quiet, every
 * problem with its smallest window) to @out. Returns rk-check's exit status: 0 linearizable,
 * 1 violation, 2 unreadable or malformed history, 3 some key ran out of budget. */
int rk_chk_run_file(const char *path, const struct rk_chk_run_opts *ro, FILE *out);

#endif

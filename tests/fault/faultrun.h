/* faultrun.h -- the pieces of rk-fault shared by its three files: rk-fault.c (options, the run,
 * the final checks), workload.c (the clients and their history), nemesis.c (the faults).
 *
 * Threads and ownership: each client thread owns its struct client (libraftkv client, op log);
 * the nemesis thread owns the cluster (r->cl) and struct nemesis while it runs; the main thread
 * owns everything else, and the cluster again once the nemesis has been joined. Shared while
 * threads run: only the atomics of struct run.
 */
#ifndef RK_TESTS_FAULT_FAULTRUN_H
#define RK_TESTS_FAULT_FAULTRUN_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "fault/fcluster.h"

struct rkc_client;

enum fr_group { FR_KILL, FR_PAUSE, FR_PARTITION, FR_TRANSFER, FR_MEMBER, FR_DISK, FR_NGROUP };

extern const char *const fr_group_names[FR_NGROUP];

struct fr_opts {
	int nodes;
	int clients;
	int regs;              /* register keys per generation */
	int appkeys;           /* append-only keys per generation */
	unsigned seconds;      /* of faults and load */
	unsigned interval_ms;  /* mean gap between two faults */
	unsigned hold_ms;      /* mean time a fault is held (doubled under sanitizers) */
	unsigned think_ms;     /* mean pause of a client between two ops */
	unsigned generation_s; /* keys are replaced by fresh ones this often */
	uint64_t seed;
	unsigned groups;       /* bit per enum fr_group */
	bool keep;    /* keep the run's directory even after a clean run */
	bool discard; /* remove it even after a failed run */
	bool verbose;
	bool stale_reads; /* clients read serializably: a planted bug that the checks must catch */
};

enum fr_kind { FR_GET, FR_PUT, FR_CAS, FR_APPEND, FR_DELETE };
enum fr_status { FR_OK, FR_FAIL, FR_INFO };

/* One operation of the history. */
struct fr_op {
	uint64_t id;
	uint64_t inv_ns, ret_ns; /* CLOCK_MONOTONIC around the call */
	unsigned proc;
	enum fr_kind kind;
	enum fr_status status;
	const char *reason; /* FAIL/INFO: static text */
	char key[24];
	char *arg0, *arg1;  /* owned */
	char *result;       /* owned; OK get: the value, NULL when absent */
};

struct fr_oplog {
	struct fr_op *v;
	size_t n, cap;
};

struct fr_run;

struct fr_client {
	struct fr_run *run;
	unsigned proc;
	pthread_t thread;
	struct rkc_client *rkc;
	struct rkc_client *node_rkc[FC_MAX]; /* --stale-reads: one client per node, or NULL */
	struct fr_oplog log;
	uint64_t rng;
	uint64_t written;  /* values this client wrote */
	char last[64][48]; /* per key slot: the last value it saw (what its cas expects) */
};

#define FR_NFAULT_MAX 32

struct fr_run {
	struct fr_opts o;
	struct fc_cluster cl;
	char endpoints[512];
	unsigned req_timeout_ms, deadline_ms; /* libraftkv: one attempt, one call */
	uint64_t t0_ns;                       /* history times count from here */
	atomic_uint_fast64_t next_op_id;
	atomic_bool stop_clients;
	atomic_bool stop_nemesis;
	atomic_bool nemesis_idle;    /* the nemesis healed and handed the cluster to main */
	atomic_bool release_nemesis; /* main is done with the cluster: the nemesis may end */
	atomic_uint generation;
	struct fr_client *clients;
	unsigned faults[FR_NFAULT_MAX]; /* applied, by fault kind (nemesis thread) */
	unsigned problems;              /* found by the nemesis thread (crashes, failed heals) */
	unsigned disk_unfired;          /* disk faults that no call hit while they were set */
	atomic_uint odd_status;         /* replies that cannot happen to our requests (bugs) */
	uint64_t nem_rng;
};

struct fr_nemesis {
	struct fr_run *r;
	struct rkc_client *admin; /* all endpoints; status, transfer, membership */
	int removed;              /* node index taken out of the configuration, or -1 */
	int disk_node;            /* node index with a disk fault set, or -1 */
	uint64_t disk_hits;       /* its shim's hit count when the fault was set */
};

/* ---- helpers (workload.c) ---- */
uint64_t fr_now_ns(void);
uint64_t fr_rnd(uint64_t *state); /* splitmix64 */
unsigned fr_rnd_below(uint64_t *state, unsigned n);
/* Sleep @ms in slices; returns early once *@stop (may be NULL) is true. */
void fr_nap(unsigned ms, const atomic_bool *stop);
void fr_key_name(char *buf, size_t len, unsigned gen, int slot, int regs);

/* ---- the workload (workload.c) ---- */
/* Thread body of a client: random ops until r->stop_clients. @arg: struct fr_client. */
void *fr_client_main(void *arg);
/* Linearizable get of every key of every generation, recorded in @log (process = clients).
 * Returns 0, or -1 when a key could not be read. */
int fr_final_reads(struct fr_run *r, struct rkc_client *rkc, struct fr_oplog *log);
int fr_write_history(const struct fr_run *r, const char *path, const struct fr_oplog *logs,
		     int nlogs);
void fr_count(const struct fr_oplog *logs, int nlogs, size_t *ok, size_t *fail, size_t *info);
void fr_oplog_free(struct fr_oplog *l);

/* ---- the nemesis (nemesis.c) ---- */
/* Thread body: faults one at a time until r->stop_nemesis, each healed; then heals, sets
 * r->nemesis_idle and waits for r->release_nemesis. @arg: struct fr_nemesis. */
void *fr_nemesis_main(void *arg);
/* Undo every fault in force: network, pauses, disks, dead nodes, membership. */
void fr_heal(struct fr_nemesis *nm);
/* Make node @i a voter again (add as learner, catch up, promote). Returns 0 or -1. */
int fr_restore_member(struct fr_nemesis *nm, int i, unsigned timeout_ms);
/* Index of the node that leads, waiting up to @timeout_ms; -1 if none. */
int fr_wait_leader(struct fr_nemesis *nm, unsigned timeout_ms);
/* Number of fault kinds and the name of one (for reports). */
int fr_nfaults(void);
const char *fr_fault_name(int f);

#endif

/* fcluster.h -- the fault runner's cluster: real raftkvd processes on 127.0.0.1 whose peer
 * links all pass through one fault proxy (tests/fault/proxy.h), each started under the
 * disk-fault shim (tests/fault/faultfs.h) with a control file of its own, so that the nemesis
 * can cut, blackhole or delay any direction of any link and fail any node's disk at will.
 *
 * Node i (0-based) has id i + 1. For a pair a < b, node a dials b (the lower id dials), so
 * node a's raftkv.conf says dial.b = the proxy's listener for (a, b), which forwards to b's
 * peer port. Clients talk to the nodes directly.
 *
 * A node is started with PR_SET_PDEATHSIG, so that it dies with the runner if that crashes;
 * the signal follows the thread that forked the node, so start nodes only from threads that
 * outlive them.
 *
 * Thread: every call is made by the thread that owns the cluster at the time, except
 * fc_endpoints() and the fields read after fc_start() returns, which never change.
 */
#ifndef RK_TESTS_FAULT_FCLUSTER_H
#define RK_TESTS_FAULT_FCLUSTER_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#define FC_MAX 5
#define FC_SANITIZER_EXIT 66 /* ASan's exit status for the nodes, set by the runner */

struct fp_proxy;
struct ffs_ctl;

struct fc_node {
	unsigned id;
	pid_t pid;          /* 0: not running */
	bool paused;        /* SIGSTOPped by us */
	int client_port;
	int peer_port;
	char endpoint[32];  /* "127.0.0.1:PORT" of the client listener */
	char conf[512];
	char dir[512];
	char log[512];
	char ctl_path[512]; /* the disk-fault shim's control file */
	struct ffs_ctl *ffs;/* NULL when the shim is not available */
	bool disk_fault;    /* an EIO/ENOSPC fault was set on it since it last started: exit
			     * status 1 is then the node stopping on a storage error, as it must */
	unsigned starts;
	unsigned unexpected_exits; /* exits we did not cause and no disk fault explains */
};

struct fc_cluster {
	int n;
	struct fc_node nodes[FC_MAX];
	char *root;            /* owned: the temporary directory holding everything */
	struct fp_proxy *proxy;
	const char *raftkvd;   /* the daemon to run */
	const char *shim;      /* the disk-fault shim, or NULL: no disk faults */
	bool slow;             /* sanitizer build: slower timing */
	unsigned heartbeat_ms, election_ms;
	uint64_t snapshot_entries;
	FILE *log;             /* the nemesis log (borrowed) */
	uint64_t t0_ms;        /* run start, for log times */
};

/* Make the directory, the proxy and the configs, and start every node. Returns 0 or -1 with a
 * message on stderr. */
int fc_start(struct fc_cluster *c, int n);
/* (Re)start node @i with its data. No-op if running. */
int fc_start_node(struct fc_cluster *c, int i);
/* kill -9 node @i and reap it. */
void fc_kill(struct fc_cluster *c, int i);
void fc_pause(struct fc_cluster *c, int i);
void fc_resume(struct fc_cluster *c, int i);
/* Reap nodes that exited on their own; any exit but status 1 after a disk fault (disk_fault)
 * is counted in unexpected_exits. Returns how many exited. */
int fc_reap_exited(struct fc_cluster *c);
/* SIGTERM every node; returns how many did not exit with status 0. Under ASan the runner
 * sets FC_SANITIZER_EXIT for the nodes, so a memory error never looks like status 1. */
int fc_stop_all(struct fc_cluster *c);
/* Stop everything, free the proxy, and remove the directory unless @keep. */
void fc_destroy(struct fc_cluster *c, bool keep);
/* "ep1,ep2,..." of every node's client address into @buf. */
void fc_endpoints(const struct fc_cluster *c, char *buf, size_t len);
/* Append a timestamped line to the nemesis log (and stdout when @echo). */
void fc_logf(struct fc_cluster *c, bool echo, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

#endif

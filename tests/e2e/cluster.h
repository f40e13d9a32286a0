/* cluster.h -- real raftkvd processes on 127.0.0.1 for end-to-end tests, and a small blocking
 * client. Every process is started and stopped by PID; ports are found free at start (bound
 * to port 0 by the kernel, then released); data lives in a fresh temporary directory.
 *
 * The daemon is $RAFTKVD (set by `make check`), or ./src/raftkvd.
 */
#ifndef RK_TESTS_CLUSTER_H
#define RK_TESTS_CLUSTER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "client.pb-c.h"

#define CL_MAX 5

struct cl_node {
	uint64_t id;
	pid_t pid;        /* 0: not running */
	int client_port;
	int peer_port;
	char conf[512];
	char dir[512];
	char log[512];
};

struct cluster {
	int n;
	struct cl_node nodes[CL_MAX];
	char *root;
	unsigned heartbeat_ms, election_ms;
	uint64_t snapshot_entries; /* 0: the daemon's default */
	int n_join;                /* the last n_join nodes are listed with "join": not founders */
	unsigned failures_before;  /* CUnit failures when the test began (cl_test_begin) */
};

/* Write configs for @n nodes and start them all. Returns 0 or -1. */
int cl_start(struct cluster *c, int n);
/* Start node @i (again) with its existing data. */
int cl_start_node(struct cluster *c, int i);
/* SIGTERM node @i and wait (up to 10 s, then SIGKILL); returns its exit status or -1. */
int cl_stop_node(struct cluster *c, int i);
/* Send @sig to node @i; for SIGKILL also reaps it. */
void cl_signal(struct cluster *c, int i, int sig);
/* SIGTERM every running node; returns how many did not exit with status 0. */
int cl_stop_all(struct cluster *c);
/* Stop every node by PID and remove the data (kept, with the logs, when @keep). */
void cl_destroy(struct cluster *c, bool keep);
/* Per-test fixture. Begin: start @n nodes (options already set in @c) and note CUnit's failure
 * count. End: assert every running node stops cleanly (exit 0: under sanitizers this also
 * catches leaks and errors in the daemons), then remove the data, or keep it and print the
 * logs if the test failed. */
int cl_test_begin(struct cluster *c, int n);
void cl_test_end(struct cluster *c);
/* Index of the node every reachable node agrees is leader, within @timeout_ms; -1 if none.
 * @skip (or -1): a node not to ask (stopped). */
int cl_wait_leader(struct cluster *c, unsigned timeout_ms, int skip);
/* Print the tail of every node's log to stderr (on failure). */
void cl_dump_logs(struct cluster *c);

/* ---- a minimal blocking client (the real one is libraftkv) ---- */

/* Send @req to 127.0.0.1:@port and wait up to @timeout_ms for the reply. Returns the reply
 * (free with raftkv__response__free_unpacked) or NULL on connection error or timeout. */
Raftkv__Response *tc_call(int port, Raftkv__Request *req, unsigned timeout_ms);

/* Shorthands returning the wire status, or -1 on connection error / timeout. */
int tc_put(int port, const char *key, const char *val, uint64_t client_id, uint64_t seq);
int tc_op(int port, Raftkv__Op op, const char *key, const char *val, const char *expected,
	  uint64_t client_id, uint64_t seq);
/* @out (may be NULL) gets a malloc'd NUL-terminated copy of the value. */
int tc_get(int port, const char *key, bool serializable, char **out);
/* Status of one node: role and leader (may be NULL). Returns 0 or -1. */
int tc_status(int port, uint64_t *leader, uint64_t *term, uint64_t *applied, char *role,
	      size_t role_len);
/* First index still in node's in-memory log (grows as snapshots compact it); 0 on error. */
uint64_t tc_first_index(int port);

/* Sends raw bytes on a fresh connection and reports whether the server closed it. */
bool tc_raw_closes(int port, const void *bytes, size_t len);
/* Sends raw bytes on a fresh connection and hangs up; true if they were sent. */
bool tc_raw_send(int port, const void *bytes, size_t len);

#endif

/* rk-fault.c -- Jepsen-style fault runner: real raftkvd processes, concurrent clients recording a
 * history, a nemesis injecting faults, and a verdict from the linearizability checker.
 *
 *   rk-fault [--nodes 3|5] [--clients K] [--seconds S | --minutes M] [--seed S]
 *            [--faults kill,pause,partition,transfer,member,disk] [--interval MS]
 *            [--hold MS] [--keys R] [--append-keys A] [--think MS] [--generation S]
 *            [--stale-reads] [--keep|--discard] [-v]
 *
 * --stale-reads makes the clients' gets serializable (served by whichever node they reach,
 * possibly stale): a planted bug, to see the checks catch what a broken server would do.
 * The run's directory is removed after a clean run and kept after a failed one; --keep keeps
 * it always, --discard never.
 *
 * Threads (faultrun.h says who owns what):
 *   - K client threads (workload.c): each owns a libraftkv client and its recorded ops;
 *   - the nemesis thread (nemesis.c): owns the cluster (processes, proxy, disk-fault controls)
 *     and an admin client, applies one fault at a time and heals it;
 *   - the main thread (here): waits out the run, then alone heals, checks recovery, reads every
 *     key, compares the replicas, writes the history and runs the checker.
 *
 * Keys: R registers (get, put, cas, delete) and A append-only keys (append, get). Every key
 * lives for one "generation" (--generation seconds) and is then replaced by a fresh one, so
 * that no key's history grows past what the checker can search, however long the run.
 * Every written value is unique; appends end in ';' for the exactly-once checks.
 *
 * SIGINT or SIGTERM ends the run early but cleanly: the load stops, the cluster is healed and
 * checked as after a full run, every node is stopped and the directory removed (or kept, as
 * above). The signals are blocked in every thread and taken by the main thread's wait, so no
 * handler interrupts a client's system call.
 *
 * Exit status: 0 no problem found, 1 a violation or a recovery/convergence/crash problem (the
 * run's directory is kept: history, nemesis log, node logs), 2 usage or setup error, 128 + the
 * signal when interrupted and nothing was found in the shortened run.
 */
#define _GNU_SOURCE
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "raftkv/client.h"

#include "fault/checker.h"
#include "fault/faultfs.h"
#include "fault/faultrun.h"
#include "harness/proc.h"

const char *const fr_group_names[FR_NGROUP] = { "kill",     "pause",  "partition",
						   "transfer", "member", "disk" };

static uint64_t fnv(uint64_t h, const struct rkc_buf *b)
{
	for (size_t x = 0; x < b->len; x++)
		h = (h ^ b->data[x]) * 0x100000001b3ull;
	return (h ^ 0xff) * 0x100000001b3ull; /* a separator: "ab","c" != "a","bc" */
}

/* FNV-1a over every key and value a node holds, read locally (serializable), a page at a
 * time. The cluster takes no writes while this runs. */
static int node_digest(struct fr_run *r, int i, uint64_t *digest, size_t *nkeys)
{
	struct rkc_options ro = { .endpoints = r->cl.nodes[i].endpoint,
				  .request_timeout_ms = r->req_timeout_ms,
				  .deadline_ms = r->deadline_ms };
	struct rkc_range rg = { .start = "", .limit = 500, .serializable = true };
	struct rkc_client *one = NULL;
	uint64_t h = 0xcbf29ce484222325ull;
	char *from = NULL;
	bool more = true;
	int rc = RKC_OK;

	*nkeys = 0;
	if (rkc_open(&ro, &one) != RKC_OK)
		return -1;
	while (more && rc == RKC_OK) {
		struct rkc_kv *kvs = NULL;
		size_t n = 0;

		rc = rkc_range(one, &rg, &kvs, &n, &more);
		for (size_t k = 0; rc == RKC_OK && k < n; k++)
			h = fnv(fnv(h, &kvs[k].key), &kvs[k].value);
		*nkeys += n;
		if (rc == RKC_OK && more && n > 0) {
			/* the next page starts just after the last key: that key plus a 0 byte */
			free(from);
			from = malloc(kvs[n - 1].key.len + 1);
			if (from == NULL) {
				rc = RKC_ENOMEM;
			} else {
				memcpy(from, kvs[n - 1].key.data, kvs[n - 1].key.len);
				from[kvs[n - 1].key.len] = '\0';
				rg.start = from;
				rg.start_len = kvs[n - 1].key.len + 1;
			}
		}
		rkc_kvs_free(kvs, n);
	}
	rkc_close(one);
	free(from);
	if (rc != RKC_OK) {
		fprintf(stderr, "rk-fault: range on n%d: %s\n", i + 1, rkc_strstatus(rc));
		return -1;
	}
	*digest = h;
	return 0;
}

/* Every node applies everything the leader committed, then holds the same data. */
static int check_convergence(struct fr_run *r, struct fr_nemesis *nm)
{
	struct fc_cluster *c = &r->cl;
	uint64_t end = rk_test_now_ms() + (c->slow ? 60000 : 30000);
	uint64_t d[FC_MAX];
	size_t nk[FC_MAX];

	for (;;) {
		struct rkc_node_status ls, st;
		int l = fr_wait_leader(nm, 5000), behind = 0;

		if (l >= 0 && rkc_status(nm->admin, c->nodes[l].endpoint, &ls) == RKC_OK) {
			for (int i = 0; i < c->n; i++)
				if (rkc_status(nm->admin, c->nodes[i].endpoint, &st) != RKC_OK ||
				    st.applied_index < ls.commit_index)
					behind++;
			if (behind == 0)
				break;
		}
		if (rk_test_now_ms() > end) {
			printf("rk-fault: PROBLEM: replicas did not catch up with the leader in time\n");
			return -1;
		}
		usleep(100000);
	}
	for (int i = 0; i < c->n; i++) {
		if (node_digest(r, i, &d[i], &nk[i]) != 0)
			return -1;
		printf("rk-fault: n%u holds %zu keys, digest %016" PRIx64 "\n", c->nodes[i].id, nk[i],
		       d[i]);
	}
	for (int i = 1; i < c->n; i++)
		if (d[i] != d[0] || nk[i] != nk[0]) {
			printf("rk-fault: PROBLEM: replicas diverge (n1 and n%u)\n", c->nodes[i].id);
			return -1;
		}
	return 0;
}

/* Under ASan a memory error exits 1 by default, the status of a node that stops on a storage
 * error: give the nodes (which inherit our environment) another one. Before any thread. */
static void set_node_asan_exitcode(void)
{
	const char *old = getenv("ASAN_OPTIONS");
	char buf[1024];

	snprintf(buf, sizeof buf, "%s%sexitcode=%d", old != NULL ? old : "",
		 old != NULL && *old != '\0' ? " " : "", FC_SANITIZER_EXIT);
	setenv("ASAN_OPTIONS", buf, 1);
}

static void usage(FILE *f)
{
	fputs("usage: rk-fault [--nodes 3|5] [--clients K] [--seconds S | --minutes M] [--seed S]\n"
	      "                [--faults kill,pause,partition,transfer,member,disk|all]\n"
	      "                [--interval MS] [--hold MS] [--keys R] [--append-keys A]\n"
	      "                [--think MS] [--generation S] [--stale-reads] [--keep|--discard] [-v]\n",
	      f);
}

static int parse_u64(const char *s, uint64_t *out)
{
	char *end;

	if (s == NULL || *s < '0' || *s > '9')
		return -1;
	errno = 0;
	*out = strtoull(s, &end, 10);
	return *end == '\0' && errno == 0 ? 0 : -1;
}

static int parse_groups(const char *s, unsigned *out)
{
	char buf[256], *save = NULL;

	*out = 0;
	if (strcmp(s, "all") == 0) {
		*out = (1u << FR_NGROUP) - 1;
		return 0;
	}
	if (strcmp(s, "none") == 0)
		return 0;
	snprintf(buf, sizeof buf, "%s", s);
	for (char *t = strtok_r(buf, ",", &save); t != NULL; t = strtok_r(NULL, ",", &save)) {
		int g;

		for (g = 0; g < FR_NGROUP && strcmp(t, fr_group_names[g]) != 0; g++)
			;
		if (g == FR_NGROUP) {
			fprintf(stderr, "rk-fault: unknown fault group '%s'\n", t);
			return -1;
		}
		*out |= 1u << g;
	}
	return 0;
}

static int parse_opts(int argc, char **argv, struct fr_opts *o)
{
	*o = (struct fr_opts){ .nodes = 3, .clients = 8, .regs = 4, .appkeys = 2, .seconds = 60,
			    .interval_ms = 1500, .hold_ms = 2000, .think_ms = 15, .generation_s = 30,
			    .seed = (uint64_t)time(NULL), .groups = (1u << FR_NGROUP) - 1 };
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		uint64_t n = 0;

		if (strcmp(a, "--keep") == 0) {
			o->keep = true;
			continue;
		}
		if (strcmp(a, "-v") == 0) {
			o->verbose = true;
			continue;
		}
		if (strcmp(a, "--discard") == 0) {
			o->discard = true;
			continue;
		}
		if (strcmp(a, "--stale-reads") == 0) {
			o->stale_reads = true;
			continue;
		}
		if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
			usage(stdout);
			exit(0);
		}
		if (strcmp(a, "--faults") == 0) {
			if (v == NULL || parse_groups(v, &o->groups) != 0)
				return -1;
			i++;
			continue;
		}
		if (parse_u64(v, &n) != 0) {
			fprintf(stderr, "rk-fault: %s needs a number\n", a);
			return -1;
		}
		i++;
		if (strcmp(a, "--nodes") == 0 && (n == 3 || n == 5))
			o->nodes = (int)n;
		else if (strcmp(a, "--clients") == 0 && n >= 1 && n <= 64)
			o->clients = (int)n;
		else if (strcmp(a, "--seconds") == 0 && n >= 1)
			o->seconds = (unsigned)n;
		else if (strcmp(a, "--minutes") == 0 && n >= 1 && n <= 100000)
			o->seconds = (unsigned)n * 60;
		else if (strcmp(a, "--seed") == 0)
			o->seed = n;
		else if (strcmp(a, "--interval") == 0 && n >= 100)
			o->interval_ms = (unsigned)n;
		else if (strcmp(a, "--keys") == 0 && n >= 1 && n <= 32)
			o->regs = (int)n;
		else if (strcmp(a, "--append-keys") == 0 && n <= 32)
			o->appkeys = (int)n;
		else if (strcmp(a, "--hold") == 0 && n >= 100 && n <= 600000)
			o->hold_ms = (unsigned)n;
		else if (strcmp(a, "--think") == 0 && n <= 10000)
			o->think_ms = (unsigned)n;
		else if (strcmp(a, "--generation") == 0 && n >= 1)
			o->generation_s = (unsigned)n;
		else {
			fprintf(stderr, "rk-fault: bad option or value: %s %s\n", a, v);
			return -1;
		}
	}
	return 0;
}

static void print_summary(struct fr_run *r, struct fr_oplog *logs, int nlogs, double minutes)
{
	size_t ok, fail, info, off = 0;
	char line[1024];

	fr_count(logs, nlogs, &ok, &fail, &info);
	printf("rk-fault: %zu ops (%zu ok, %zu failed, %zu indeterminate) in %.1f min, seed %" PRIu64
	       "\n",
	       ok + fail + info, ok, fail, info, minutes, r->o.seed);
	line[0] = '\0';
	for (int f = 0; f < fr_nfaults(); f++)
		if (r->faults[f] != 0 && off < sizeof line)
			off += (size_t)snprintf(line + off, sizeof line - off, "%s%s x%u",
						off ? ", " : "", fr_fault_name(f), r->faults[f]);
	printf("rk-fault: faults: %s\n", off ? line : "none");
	if (r->disk_unfired != 0)
		printf("rk-fault: %u disk faults were set while nothing wrote or synced\n",
		       r->disk_unfired);
}

/* Sleep up to @ms; returns the stop signal (SIGINT, SIGTERM) if one came, else 0. */
static int wait_signal(const sigset_t *stop, unsigned ms)
{
	struct timespec ts = { (time_t)(ms / 1000), (long)(ms % 1000) * 1000000L };
	int sig = sigtimedwait(stop, NULL, &ts);

	return sig > 0 ? sig : 0;
}

int main(int argc, char **argv)
{
	static struct fr_run run = { .next_op_id = 1 };
	struct fr_run *r = &run;
	struct fr_nemesis nm = { .r = r, .removed = -1, .disk_node = -1 };
	struct rkc_client *final_rkc = NULL;
	struct fr_oplog *logs = NULL;
	pthread_t nem_thread;
	char hist[600], nemlog[600];
	const char *slow = getenv("RK_E2E_SLOW");
	bool bad = false, nem_started = false;
	int status = 2, nrun = 0, stop_sig = 0;
	sigset_t stop;
	uint64_t t_start, gen_start;

	signal(SIGPIPE, SIG_IGN);
	/* Before any thread or node starts: they inherit the mask (raftkvd blocks these two
	 * itself and takes them with sigwait, so its stop by SIGTERM is unchanged). */
	sigemptyset(&stop);
	sigaddset(&stop, SIGINT);
	sigaddset(&stop, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &stop, NULL);
	set_node_asan_exitcode();
	if (parse_opts(argc, argv, &r->o) != 0) {
		usage(stderr);
		return 2;
	}
	r->cl.raftkvd = getenv("RAFTKVD") != NULL ? getenv("RAFTKVD") : "./src/raftkvd";
	r->cl.shim = ffs_shim_path();
	r->cl.slow = slow != NULL && strcmp(slow, "1") == 0;
	if (!(r->o.groups & (1u << FR_DISK))) {
		r->cl.shim = NULL;
	} else if (access(r->cl.shim, R_OK) != 0) {
		fprintf(stderr, "rk-fault: disk-fault shim %s: %s (build it, or set %s)\n",
			r->cl.shim, strerror(errno), FFS_SO_ENV);
		return 2;
	}
	r->req_timeout_ms = r->cl.slow ? 2000 : 700;
	r->deadline_ms = r->cl.slow ? 5000 : 1500;
	r->nem_rng = r->o.seed * 0x2545f4914f6cdd1dull + 1;
	printf("rk-fault: %d nodes, %d clients, %u s, seed %" PRIu64 " (replay: --seed %" PRIu64
	       ")\n",
	       r->o.nodes, r->o.clients, r->o.seconds, r->o.seed, r->o.seed);
	fflush(stdout);

	if (fc_start(&r->cl, r->o.nodes) != 0)
		goto out;
	snprintf(hist, sizeof hist, "%s/history.txt", r->cl.root);
	snprintf(nemlog, sizeof nemlog, "%s/nemesis.log", r->cl.root);
	r->cl.log = fopen(nemlog, "we");
	fc_endpoints(&r->cl, r->endpoints, sizeof r->endpoints);
	{
		struct rkc_options ao = { .endpoints = r->endpoints,
					  .request_timeout_ms = r->req_timeout_ms,
					  .deadline_ms = 2 * r->deadline_ms };

		if (rkc_open(&ao, &nm.admin) != RKC_OK || rkc_open(&ao, &final_rkc) != RKC_OK)
			goto out;
	}
	if (fr_wait_leader(&nm, r->cl.slow ? 60000 : 20000) < 0) {
		fprintf(stderr, "rk-fault: no leader at start\n");
		goto out;
	}
	logs = calloc((size_t)r->o.clients + 1, sizeof *logs);
	r->clients = calloc((size_t)r->o.clients, sizeof *r->clients);
	if (logs == NULL || r->clients == NULL)
		goto out;
	r->t0_ns = fr_now_ns();
	t_start = rk_test_now_ms();
	gen_start = t_start;
	for (int i = 0; i < r->o.clients; i++) {
		struct fr_client *c = &r->clients[i];
		struct rkc_options co = { .endpoints = r->endpoints,
					  .request_timeout_ms = r->req_timeout_ms,
					  .deadline_ms = r->deadline_ms };

		c->run = r;
		c->proc = (unsigned)i;
		c->rng = r->o.seed ^ (0x9e3779b97f4a7c15ull * (uint64_t)(i + 1));
		if (rkc_open(&co, &c->rkc) != RKC_OK ||
		    pthread_create(&c->thread, NULL, fr_client_main, c) != 0) {
			rkc_close(c->rkc);
			c->rkc = NULL;
			break;
		}
		nrun++;
	}
	if (nrun < r->o.clients || pthread_create(&nem_thread, NULL, fr_nemesis_main, &nm) != 0) {
		atomic_store(&r->stop_clients, true);
		for (int i = 0; i < nrun; i++)
			pthread_join(r->clients[i].thread, NULL);
		goto out;
	}
	nem_started = true;
	fc_logf(&r->cl, true, "clients and nemesis started");

	/* The run: move to fresh keys every generation. */
	while (rk_test_now_ms() - t_start < (uint64_t)r->o.seconds * 1000) {
		stop_sig = wait_signal(&stop, 200);
		if (stop_sig != 0) {
			printf("rk-fault: %s after %.1f s: ending the run early\n", strsignal(stop_sig),
			       (double)(rk_test_now_ms() - t_start) / 1000.0);
			fflush(stdout);
			break;
		}
		if (rk_test_now_ms() - gen_start >= (uint64_t)r->o.generation_s * 1000) {
			atomic_fetch_add(&r->generation, 1);
			gen_start = rk_test_now_ms();
		}
	}
	atomic_store(&r->stop_nemesis, true);
	while (!atomic_load(&r->nemesis_idle))
		fr_nap(20, NULL);
	atomic_store(&r->stop_clients, true);
	for (int i = 0; i < nrun; i++) {
		pthread_join(r->clients[i].thread, NULL);
		logs[i] = r->clients[i].log;
		memset(&r->clients[i].log, 0, sizeof r->clients[i].log);
	}
	fc_logf(&r->cl, true, "load stopped; healing everything");

	/* Heal, then the cluster must take a write within a bound. */
	fr_heal(&nm);
	for (int i = 0; i < r->cl.n; i++)
		if (fr_restore_member(&nm, i, r->cl.slow ? 60000 : 30000) != 0) {
			printf("rk-fault: PROBLEM: n%u is not a voter after healing\n",
			       r->cl.nodes[i].id);
			bad = true;
		}
	{
		uint64_t t0 = rk_test_now_ms(), bound = r->cl.slow ? 30000 : 10000;
		int rc = RKC_TIMEOUT;

		while (rc != RKC_OK && rk_test_now_ms() - t0 < bound)
			rc = rkc_put(final_rkc, "recovery", 8, "ok", 2);
		if (rc != RKC_OK) {
			printf("rk-fault: PROBLEM: no write committed within %llu ms of healing (%s)\n",
			       (unsigned long long)bound, rkc_strstatus(rc));
			bad = true;
		} else {
			fc_logf(&r->cl, true, "recovered: a write committed %llu ms after healing",
				(unsigned long long)(rk_test_now_ms() - t0));
		}
	}
	if (!bad && fr_final_reads(r, final_rkc, &logs[r->o.clients]) != 0)
		bad = true;
	if (!bad && check_convergence(r, &nm) != 0)
		bad = true;
	if (r->problems != 0)
		bad = true;
	for (int i = 0; i < r->cl.n; i++)
		if (r->cl.nodes[i].unexpected_exits != 0)
			bad = true;

	print_summary(r, logs, r->o.clients + 1, (double)(rk_test_now_ms() - t_start) / 60000.0);
	if (atomic_load(&r->odd_status) != 0) {
		printf("rk-fault: PROBLEM: %u impossible replies (history reasons)\n",
		       atomic_load(&r->odd_status));
		bad = true;
	}
	if (fr_write_history(r, hist, logs, r->o.clients + 1) != 0) {
		printf("rk-fault: PROBLEM: cannot write %s; no verdict\n", hist);
		bad = true;
	} else {
		struct rk_chk_run_opts ro = { .appends = true, .verbose = r->o.verbose };
		int v;

		rk_chk_opts_default(&ro.search);
		printf("rk-fault: checking %s\n", hist);
		fflush(stdout);
		v = rk_chk_run_file(hist, &ro, stdout);
		if (v == 1)
			printf("rk-fault: VIOLATION (replay the check: rk-check %s)\n", hist);
		else if (v == 3)
			printf("rk-fault: the checker ran out of budget on some key (unknown)\n");
		bad = bad || v != 0;
	}
	if (fc_stop_all(&r->cl) != 0)
		bad = true;
	status = bad ? 1 : stop_sig != 0 ? 128 + stop_sig : 0;
	if (bad)
		printf("rk-fault: FAILED\n");
	else if (stop_sig != 0)
		printf("rk-fault: interrupted: 0 violations in the shortened run\n");
	else
		printf("rk-fault: passed: 0 violations\n");
out:
	if (nem_started) {
		atomic_store(&r->release_nemesis, true);
		pthread_join(nem_thread, NULL);
	}
	if (status == 2)
		fprintf(stderr, "rk-fault: setup failed\n");
	rkc_close(nm.admin);
	rkc_close(final_rkc);
	if (r->cl.log != NULL)
		fclose(r->cl.log);
	r->cl.log = NULL;
	if (r->cl.root != NULL)
		fc_destroy(&r->cl, r->o.keep || ((status == 1 || status == 2) && !r->o.discard));
	for (int i = 0; i < nrun; i++) {
		rkc_close(r->clients[i].rkc);
		fr_oplog_free(&r->clients[i].log); /* empty unless the run never started */
	}
	if (logs != NULL)
		for (int i = 0; i <= r->o.clients; i++)
			fr_oplog_free(&logs[i]);
	free(logs);
	free(r->clients);
	return status;
}

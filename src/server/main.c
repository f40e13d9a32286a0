/* main.c -- raftkvd entry point: command line, configuration, signals, then the node.
 *
 * Exit statuses (raftkvd(8)): 0 clean stop, 1 runtime failure, 2 usage or configuration error.
 * SIGTERM or SIGINT stops gracefully (stop accepting, answer or fail what is in flight, flush
 * the log); a second one during that stop exits at once. The signals are blocked in every
 * thread and taken with sigwait() by the main thread, so no handler runs inside a lock.
 */
#include "config.h"

#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <systemd/sd-daemon.h>
#include <unistd.h>

#include "common/log.h"
#include "server/hostcheck.h"
#include "server/node.h"
#include "server/node_config.h"

#define DEFAULT_CONFIG SYSCONFDIR "/raftkv/raftkv.conf"

static void usage(FILE *f)
{
	fprintf(f, "Usage: raftkvd [-c FILE] [-s SECTION.KEY=VALUE]... [--print-config | --restore FILE]\n"
		   "Raft-replicated key-value store daemon.\n\n"
		   "  -c, --config FILE      node configuration (default %s)\n"
		   "  -s, --set S.K=VALUE    override one configuration key, e.g. node.id=2\n"
		   "      --print-config     print the effective configuration and exit\n"
		   "      --restore FILE     restore a backup into the empty data directory and exit\n"
		   "  -V, --version          print the version and exit\n"
		   "  -h, --help             print this help and exit\n\n"
		   "See raftkvd(8) and raftkv.conf(5).\n",
		DEFAULT_CONFIG);
}

static void log_host_finding(void *ctx, const char *msg)
{
	(void)ctx;
	rk_log(RK_LOG_WARN, "%s", msg);
}

static void exit_now(int sig)
{
	(void)sig;
	_exit(1);
}

#define JOIN_WAIT_MS 10000

/* Returns the stop signal if one came while waiting, else 0 after READY. */
static int wait_joined(struct rk_node *node, const struct rk_config *cfg, const sigset_t *sigs)
{
	const struct timespec step = { 0, 50 * 1000 * 1000 };
	uint64_t leader = 0;
	int sig;

	for (unsigned waited = 0; waited < JOIN_WAIT_MS; waited += 50) {
		leader = rk_node_leader(node);
		if (leader != 0)
			break;
		sig = sigtimedwait(sigs, NULL, &step);
		if (sig > 0)
			return sig;
	}
	if (leader != 0)
		sd_notifyf(0, "READY=1\nSTATUS=node %llu serving clients on %s; leader n%llu",
			   (unsigned long long)cfg->id, cfg->client_listen.text,
			   (unsigned long long)leader);
	else
		sd_notifyf(0, "READY=1\nSTATUS=node %llu serving clients on %s; no leader yet "
			      "(waiting for a quorum of peers)",
			   (unsigned long long)cfg->id, cfg->client_listen.text);
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "set", required_argument, NULL, 's' },
		{ "print-config", no_argument, NULL, 'P' },
		{ "restore", required_argument, NULL, 'R' },
		{ "version", no_argument, NULL, 'V' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *path = DEFAULT_CONFIG;
	const char *sets[64];
	unsigned n_sets = 0;
	bool print = false, failed;
	const char *restore = NULL;
	struct rk_config cfg;
	struct rk_err err = { 0 };
	struct rk_node *node;
	sigset_t sigs;
	int c, sig, rv;

	while ((c = getopt_long(argc, argv, "c:s:Vh", opts, NULL)) != -1) {
		switch (c) {
		case 'c':
			path = optarg;
			break;
		case 's':
			if (n_sets == sizeof sets / sizeof sets[0]) {
				fprintf(stderr, "raftkvd: too many --set options\n");
				return 2;
			}
			sets[n_sets++] = optarg;
			break;
		case 'P':
			print = true;
			break;
		case 'R':
			restore = optarg;
			break;
		case 'V':
			printf("raftkvd %s\n", PACKAGE_VERSION);
			return 0;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "raftkvd: unexpected argument '%s'\n", argv[optind]);
		return 2;
	}

	rk_config_defaults(&cfg);
	rv = rk_config_load(&cfg, path, &err);
	for (unsigned i = 0; rv == RK_OK && i < n_sets; i++) {
		char key[128];
		const char *eq = strchr(sets[i], '=');

		if (eq == NULL || (size_t)(eq - sets[i]) >= sizeof key) {
			fprintf(stderr, "raftkvd: --set %s: expected SECTION.KEY=VALUE\n", sets[i]);
			return 2;
		}
		memcpy(key, sets[i], (size_t)(eq - sets[i]));
		key[eq - sets[i]] = '\0';
		rv = rk_config_set(&cfg, key, eq + 1, &err);
	}
	if (rv == RK_OK)
		rv = rk_config_validate(&cfg, path, &err);
	if (rv != RK_OK) {
		fprintf(stderr, "raftkvd: %s\n", rk_err_text(&err, rv));
		return 2;
	}
	if (print) {
		rk_config_dump(&cfg, stdout);
		return 0;
	}
	rk_log_set_level(cfg.log_level);
	rk_log_set_node(cfg.id);
	if (restore != NULL) {
		rv = rk_node_restore(&cfg, restore, &err);
		if (rv != RK_OK) {
			fprintf(stderr, "raftkvd: restore: %s\n", rk_err_text(&err, rv));
			return rv == RK_EEXISTS || rv == RK_ECONFIG ? 2 : 1;
		}
		return 0;
	}

	/* Before any thread starts, so that every thread inherits the mask. */
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGTERM);
	sigaddset(&sigs, SIGINT);
	pthread_sigmask(SIG_BLOCK, &sigs, NULL);
	signal(SIGPIPE, SIG_IGN);

	rk_hostcheck_run("/sys", log_host_finding, NULL);
	rv = rk_node_start(&cfg, &node, &err);
	if (rv != RK_OK) {
		rk_log(RK_LOG_ERROR, "cannot start: %s", rk_err_text(&err, rv));
		return rv == RK_ECONFIG ? 2 : 1;
	}
	/* Type=notify: READY once the node has joined the cluster (it knows a leader, or leads),
	 * so that `systemctl start` returns with the node part of a working cluster. A node
	 * that finds no quorum within JOIN_WAIT_MS (the first node of a cluster, started alone)
	 * is READY anyway: it serves what it can (redirects, serializable reads) and must not
	 * be killed by the start timeout while it waits for its peers. A no-op outside systemd. */
	sig = wait_joined(node, &cfg, &sigs);
	if (sig == 0 && sigwait(&sigs, &sig) != 0)
		sig = SIGTERM;
	sd_notify(0, "STOPPING=1\nSTATUS=stopping");
	rk_log(RK_LOG_INFO, "%s: stopping (again to exit at once)", strsignal(sig));
	signal(SIGTERM, exit_now);
	signal(SIGINT, exit_now);
	pthread_sigmask(SIG_UNBLOCK, &sigs, NULL);
	failed = rk_node_storage_failed(node);
	rk_node_stop(node);
	return failed ? 1 : 0;
}

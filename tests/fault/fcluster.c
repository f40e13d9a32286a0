/* fcluster.c -- see fcluster.h. */
#define _GNU_SOURCE
#include "fault/fcluster.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <limits.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fault/faultfs.h"
#include "fault/proxy.h"
#include "harness/proc.h"

void fc_logf(struct fc_cluster *c, bool echo, const char *fmt, ...)
{
	uint64_t t = rk_test_now_ms() - c->t0_ms;
	char line[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof line, fmt, ap);
	va_end(ap);
	if (c->log != NULL) {
		fprintf(c->log, "%6llu.%03llu %s\n", (unsigned long long)(t / 1000),
			(unsigned long long)(t % 1000), line);
		fflush(c->log);
	}
	if (echo) {
		printf("[%4llu.%llus] %s\n", (unsigned long long)(t / 1000),
		       (unsigned long long)(t % 1000 / 100), line);
		fflush(stdout);
	}
}

static int write_conf(struct fc_cluster *c, int i, const int *dial_ports)
{
	struct fc_node *nd = &c->nodes[i];
	FILE *f = fopen(nd->conf, "w");

	if (f == NULL)
		return -1;
	fprintf(f, "[node]\nid = %u\nclient_listen = 127.0.0.1:%d\npeer_listen = 127.0.0.1:%d\n"
		   "data_dir = %s\n\n[cluster]\n",
		nd->id, nd->client_port, nd->peer_port, nd->dir);
	for (int j = 0; j < c->n; j++)
		fprintf(f, "member.%u = 127.0.0.1:%d 127.0.0.1:%d\n", c->nodes[j].id,
			c->nodes[j].peer_port, c->nodes[j].client_port);
	/* every link goes through the proxy: only the dialling (lower-id) side needs the line */
	for (int j = i + 1; j < c->n; j++)
		fprintf(f, "dial.%u = 127.0.0.1:%d\n", c->nodes[j].id, dial_ports[j]);
	fprintf(f, "\n[raft]\nheartbeat_ms = %u\nelection_timeout_min_ms = %u\n"
		   "election_timeout_max_ms = %u\nsnapshot_entries = %llu\n",
		c->heartbeat_ms, c->election_ms, 2 * c->election_ms,
		(unsigned long long)c->snapshot_entries);
	fprintf(f, "\n[server]\nworkers = 2\n\n[storage]\nfsync = true\n\n[log]\nlevel = info\n");
	return fclose(f) == 0 ? 0 : -1;
}

int fc_start_node(struct fc_cluster *c, int i)
{
	struct fc_node *nd = &c->nodes[i];
	char **env = NULL;
	pid_t pid, parent = getpid();

	if (nd->pid != 0)
		return 0;
	/* The environment is made before fork(): after it, in a threaded process, only
	 * async-signal-safe calls are allowed. */
	if (c->shim != NULL && nd->ffs != NULL && ffs_child_env(environ, nd->ctl_path, &env) != 0)
		return -1;
	pid = fork();
	if (pid < 0) {
		ffs_child_env_free(env);
		return -1;
	}
	if (pid == 0) {
		int fd;

		/* The nodes die with the runner if it crashes. */
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (getppid() != parent)
			_exit(127);
		fd = open(nd->log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
		if (fd >= 0) {
			dup2(fd, STDERR_FILENO);
			dup2(fd, STDOUT_FILENO);
		}
		execve(c->raftkvd, (char *[]){ "raftkvd", "-c", nd->conf, NULL },
		       env != NULL ? env : environ);
		_exit(127);
	}
	ffs_child_env_free(env);
	nd->pid = pid;
	nd->paused = false;
	nd->disk_fault = false;
	nd->starts++;
	return 0;
}

int fc_start(struct fc_cluster *c, int n)
{
	int ports[2 * FC_MAX], dial[FC_MAX][FC_MAX] = { { 0 } };
	char real[PATH_MAX];

	c->n = n;
	c->t0_ms = rk_test_now_ms();
	if (c->heartbeat_ms == 0)
		c->heartbeat_ms = c->slow ? 60 : 30;
	if (c->election_ms == 0)
		c->election_ms = c->slow ? 600 : 250;
	if (c->snapshot_entries == 0)
		c->snapshot_entries = 2000;
	c->root = rk_test_tmpdir("fault");
	if (c->root != NULL && realpath(c->root, real) != NULL) {
		free(c->root);
		c->root = strdup(real);
	}
	if (c->root == NULL || n < 1 || n > FC_MAX || rk_test_free_ports(ports, 2 * n) != 0) {
		fprintf(stderr, "rk-fault: cannot make a directory or find free ports\n");
		return -1;
	}
	if (fp_proxy_new(&c->proxy) != 0) {
		fprintf(stderr, "rk-fault: cannot start the fault proxy\n");
		return -1;
	}
	for (int i = 0; i < n; i++) {
		struct fc_node *nd = &c->nodes[i];

		nd->id = (unsigned)i + 1;
		nd->client_port = ports[2 * i];
		nd->peer_port = ports[2 * i + 1];
		snprintf(nd->endpoint, sizeof nd->endpoint, "127.0.0.1:%d", nd->client_port);
		snprintf(nd->conf, sizeof nd->conf, "%s/n%d.conf", c->root, i + 1);
		snprintf(nd->dir, sizeof nd->dir, "%s/data%d", c->root, i + 1);
		snprintf(nd->log, sizeof nd->log, "%s/n%d.log", c->root, i + 1);
		snprintf(nd->ctl_path, sizeof nd->ctl_path, "%s/n%d.faultfs", c->root, i + 1);
		/* made now, so that the shim's prefix is the path the kernel reports */
		if (mkdir(nd->dir, 0750) != 0 ||
		    (c->shim != NULL && ffs_ctl_create(nd->ctl_path, nd->dir, &nd->ffs) != 0)) {
			fprintf(stderr, "rk-fault: cannot make %s\n", nd->ctl_path);
			return -1;
		}
	}
	for (int a = 0; a < n; a++)
		for (int b = a + 1; b < n; b++)
			if (fp_proxy_link(c->proxy, c->nodes[a].id, c->nodes[b].id,
					  c->nodes[b].peer_port, &dial[a][b]) != 0) {
				fprintf(stderr, "rk-fault: cannot open a proxy link\n");
				return -1;
			}
	for (int i = 0; i < n; i++) {
		if (write_conf(c, i, dial[i]) != 0 || fc_start_node(c, i) != 0) {
			fprintf(stderr, "rk-fault: cannot configure or start n%d\n", i + 1);
			return -1;
		}
	}
	return 0;
}

static void note_exit(struct fc_cluster *c, int i, int st)
{
	struct fc_node *nd = &c->nodes[i];
	bool expected = nd->disk_fault && st == 1;

	nd->pid = 0;
	nd->paused = false;
	if (expected) {
		fc_logf(c, false, "n%u stopped on a storage error (exit 1), as it must", nd->id);
		return;
	}
	nd->unexpected_exits++;
	fc_logf(c, true, "PROBLEM: n%u exited on its own with status %d (see %s)", nd->id, st,
		nd->log);
}

void fc_kill(struct fc_cluster *c, int i)
{
	struct fc_node *nd = &c->nodes[i];

	if (nd->pid == 0)
		return;
	kill(nd->pid, SIGKILL);
	rk_test_reap(nd->pid, 10000);
	nd->pid = 0;
	nd->paused = false;
}

void fc_pause(struct fc_cluster *c, int i)
{
	if (c->nodes[i].pid != 0 && kill(c->nodes[i].pid, SIGSTOP) == 0)
		c->nodes[i].paused = true;
}

void fc_resume(struct fc_cluster *c, int i)
{
	if (c->nodes[i].pid != 0)
		kill(c->nodes[i].pid, SIGCONT);
	c->nodes[i].paused = false;
}

int fc_reap_exited(struct fc_cluster *c)
{
	int n = 0;

	for (int i = 0; i < c->n; i++) {
		int st;

		if (c->nodes[i].pid == 0)
			continue;
		st = rk_test_reap(c->nodes[i].pid, 0);
		if (st == -2)
			continue;
		note_exit(c, i, st);
		n++;
	}
	return n;
}

int fc_stop_all(struct fc_cluster *c)
{
	int bad = 0;

	for (int i = 0; i < c->n; i++) {
		struct fc_node *nd = &c->nodes[i];
		int st;

		if (nd->pid == 0)
			continue;
		kill(nd->pid, SIGCONT); /* a stopped process cannot act on SIGTERM */
		kill(nd->pid, SIGTERM);
		st = rk_test_reap(nd->pid, 20000);
		if (st == -2) {
			kill(nd->pid, SIGKILL);
			rk_test_reap(nd->pid, 10000);
		}
		nd->pid = 0;
		if (st != 0) {
			fc_logf(c, true, "PROBLEM: n%u did not stop cleanly on SIGTERM (status %d)",
				nd->id, st);
			bad++;
		}
	}
	return bad;
}

void fc_destroy(struct fc_cluster *c, bool keep)
{
	for (int i = 0; i < c->n; i++) {
		fc_kill(c, i);
		if (c->nodes[i].ffs != NULL)
			ffs_ctl_close(c->nodes[i].ffs);
		c->nodes[i].ffs = NULL;
	}
	if (c->proxy != NULL)
		fp_proxy_free(c->proxy);
	c->proxy = NULL;
	if (keep) {
		fprintf(stderr, "rk-fault: kept %s (history, nemesis log, node logs)\n", c->root);
		free(c->root);
	} else {
		rk_test_rmtree(c->root);
	}
	c->root = NULL;
}

void fc_endpoints(const struct fc_cluster *c, char *buf, size_t len)
{
	size_t off = 0;

	buf[0] = '\0';
	for (int i = 0; i < c->n && off < len; i++)
		off += (size_t)snprintf(buf + off, len - off, "%s%s", i ? "," : "",
					c->nodes[i].endpoint);
}

/* proc.c -- see proc.h. */
#define _GNU_SOURCE
#include "proc.h"

#include <arpa/inet.h>
#include <ftw.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

char *rk_test_tmpdir(const char *tag)
{
	const char *base = getenv("TMPDIR");
	char *path;

	if (base == NULL || *base == '\0')
		base = "/tmp";
	if (asprintf(&path, "%s/raftkv-%s-XXXXXX", base, tag) < 0)
		return NULL;
	if (mkdtemp(path) == NULL) {
		free(path);
		return NULL;
	}
	return path;
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

void rk_test_rmtree(char *path)
{
	if (path == NULL)
		return;
	nftw(path, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	free(path);
}

uint64_t rk_test_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

int rk_test_free_ports(int *out, int n)
{
	int fds[64], rv = 0;

	if (n > 64)
		return -1;
	/* Every socket stays bound until all are chosen, or the kernel may hand out the same port
	 * twice. */
	for (int i = 0; i < n; i++) {
		struct sockaddr_in sa = { .sin_family = AF_INET };
		socklen_t len = sizeof sa;

		sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		fds[i] = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		out[i] = -1;
		if (fds[i] >= 0 && bind(fds[i], (struct sockaddr *)&sa, sizeof sa) == 0 &&
		    getsockname(fds[i], (struct sockaddr *)&sa, &len) == 0)
			out[i] = ntohs(sa.sin_port);
		if (out[i] < 0)
			rv = -1;
	}
	for (int i = 0; i < n; i++)
		if (fds[i] >= 0)
			close(fds[i]);
	return rv;
}

int rk_test_reap(pid_t pid, unsigned timeout_ms)
{
	uint64_t deadline = rk_test_now_ms() + timeout_ms;
	int st;

	for (;;) {
		pid_t r = waitpid(pid, &st, WNOHANG);

		if (r == pid)
			return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
		if (r < 0)
			return -1;
		if (rk_test_now_ms() >= deadline)
			return -2;
		usleep(5000);
	}
}

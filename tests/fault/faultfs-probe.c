/* faultfs-probe.c -- makes every call the disk-fault shim interposes on one file and prints
 * what each returned, for tests/unit/test_faultio.c.
 *
 *   faultfs-probe DIR [ROUNDS]
 *
 * Each round (re)creates DIR/probe.dat and prints, one per line, "step=E" where E is the
 * errno the step failed with (0: success), the time fsync and fdatasync took ("fsync_ms=N"),
 * then "end". Between rounds it waits for one byte on stdin, so that a test can switch faults
 * while the process runs. Output goes with write(2) to stdout (a pipe, which the shim must
 * never fault). Exit status 0, or 2 on bad usage.
 */
#include "config.h" /* _GNU_SOURCE: fallocate, sync_file_range, pwritev2 */

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

static void say(const char *name, long v)
{
	char line[96];
	int n = snprintf(line, sizeof line, "%s=%ld\n", name, v);

	/* stdout is a pipe: a write the shim faulted here would be the shim's bug, and the
	 * test would see the line missing */
	if (write(STDOUT_FILENO, line, (size_t)n) != n)
		exit(3);
}

/* errno of a -1/errno call */
static long err_of(long rv)
{
	return rv < 0 ? errno : 0;
}

static long ms_since(const struct timespec *t0)
{
	struct timespec t1;

	clock_gettime(CLOCK_MONOTONIC, &t1);
	return (t1.tv_sec - t0->tv_sec) * 1000L + (t1.tv_nsec - t0->tv_nsec) / 1000000L;
}

static void round_once(const char *dir)
{
	char path[4096], buf[4096];
	struct iovec iov[2] = {{buf, 100}, {buf + 100, 100}};
	struct timespec t0;
	int fd, dfd;
	long rv;

	memset(buf, 'x', sizeof buf);
	snprintf(path, sizeof path, "%s/probe.dat", dir);
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	say("open", fd < 0 ? errno : 0);
	if (fd < 0)
		goto out;
	say("write", err_of(write(fd, buf, sizeof buf)));
	say("pwrite", err_of(pwrite(fd, buf, sizeof buf, 4096)));
	say("pwrite64", err_of(pwrite64(fd, buf, sizeof buf, 8192)));
	say("writev", err_of(writev(fd, iov, 2)));
	say("pwritev", err_of(pwritev(fd, iov, 2, 16384)));
	say("pwritev2", err_of(pwritev2(fd, iov, 2, 20480, 0)));
	say("fallocate", err_of(fallocate(fd, 0, 0, 65536)));
	say("fallocate64", err_of(fallocate64(fd, 0, 0, 65536)));
	say("posix_fallocate", posix_fallocate(fd, 0, 131072));
	clock_gettime(CLOCK_MONOTONIC, &t0);
	rv = err_of(fdatasync(fd));
	say("fdatasync_ms", ms_since(&t0));
	say("fdatasync", rv);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	rv = err_of(fsync(fd));
	say("fsync_ms", ms_since(&t0));
	say("fsync", rv);
	say("sync_file_range", err_of(sync_file_range(fd, 0, 0, SYNC_FILE_RANGE_WRITE)));
	close(fd);
	dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	say("dirfsync", dfd < 0 ? errno : err_of(fsync(dfd)));
	if (dfd >= 0)
		close(dfd);
out:
	if (write(STDOUT_FILENO, "end\n", 4) != 4)
		exit(3);
}

int main(int argc, char **argv)
{
	long rounds = 1;
	char c;

	if (argc < 2 || argc > 3) {
		fprintf(stderr, "usage: %s DIR [ROUNDS]\n", argv[0]);
		return 2;
	}
	if (argc == 3)
		rounds = strtol(argv[2], NULL, 10);
	for (long r = 0; r < rounds; r++) {
		if (r > 0 && read(STDIN_FILENO, &c, 1) != 1)
			break;
		round_once(argv[1]);
	}
	return 0;
}

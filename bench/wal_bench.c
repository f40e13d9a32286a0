/* wal_bench.c -- WAL group-commit throughput next to the raw fdatasync rate of the same disk.
 *
 *   bench/wal_bench [-d DIR] [-t SECONDS] [-s ENTRY_BYTES]
 *
 * For 1, 8 and 64 threads each calling rk_wal_append_sync() in a loop, prints appends/s, MB/s
 * of payload and appends per fdatasync; before that, one thread doing pwrite + fdatasync of one
 * entry at a time in the same directory gives the disk's raw sync rate, and every WAL line
 * shows its ratio to it. DIR defaults to a fresh directory under $TMPDIR or /var/tmp, which is
 * removed afterwards.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdbool.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/err.h"
#include "storage/wal.h"

static double seconds = 3.0;
static size_t entry_bytes = 256;
static atomic_long syncs;
static atomic_int stop;

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static ssize_t count_pwrite(void *data, int fd, const void *buf, size_t n, off_t off)
{
	(void)data;
	return pwrite(fd, buf, n, off);
}

static int count_fdatasync(void *data, int fd)
{
	(void)data;
	atomic_fetch_add(&syncs, 1);
	return fdatasync(fd);
}

static int plain_fsync(void *data, int fd)
{
	(void)data;
	return fsync(fd);
}

static int plain_ftruncate(void *data, int fd, off_t len)
{
	(void)data;
	return ftruncate(fd, len);
}

static int plain_fallocate(void *data, int fd, off_t off, off_t len)
{
	(void)data;
	return fallocate(fd, 0, off, len);
}

static const struct rk_storage_io counting_io = {
	.pwrite = count_pwrite,
	.fdatasync = count_fdatasync,
	.fsync = plain_fsync,
	.ftruncate = plain_ftruncate,
	.fallocate = plain_fallocate,
};

/* One entry at a time, each made durable alone: what the disk gives without batching. With
 * @prealloc the file is fallocated first, as WAL segments are, so that fdatasync need not
 * journal a size change each time: the fairer baseline for what batching adds. */
static double raw_sync_rate(const char *dir, bool prealloc)
{
	char *path = NULL;
	char *buf = calloc(1, entry_bytes);
	double t0, t;
	long n = 0;
	off_t off = 0;
	int fd;

	if (asprintf(&path, "%s/raw.dat", dir) < 0 || buf == NULL) {
		perror("alloc");
		exit(1);
	}
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	if (fd < 0) {
		perror(path);
		exit(1);
	}
	if (prealloc && fallocate(fd, 0, 0, 256 << 20) != 0) {
		perror("fallocate");
		exit(1);
	}
	t0 = now();
	do {
		if (pwrite(fd, buf, entry_bytes, off) != (ssize_t)entry_bytes || fdatasync(fd) != 0) {
			perror("raw write");
			exit(1);
		}
		off += (off_t)entry_bytes;
		n++;
		t = now();
	} while (t - t0 < seconds);
	close(fd);
	unlink(path);
	free(path);
	free(buf);
	return (double)n / (t - t0);
}

struct worker {
	struct rk_wal *w;
	long appends;
	pthread_t th;
};

static void *append_loop(void *p)
{
	struct worker *wk = p;
	char *buf = malloc(entry_bytes);
	struct rk_entry e;
	struct rk_err err;

	memset(buf, 'x', entry_bytes);
	while (!atomic_load(&stop)) {
		e = (struct rk_entry){ .index = 0, .term = 1, .type = RK_ENTRY_NORMAL,
				       .data = { buf, entry_bytes } };
		if (rk_wal_append_sync(wk->w, &e, 1, &err) != RK_OK) {
			fprintf(stderr, "append: %s\n", err.msg);
			exit(1);
		}
		wk->appends++;
	}
	free(buf);
	return NULL;
}

static void run_wal(const char *dir, int threads, double raw, double raw_pre)
{
	struct rk_wal_opts o = { .io = &counting_io };
	struct worker *wk = calloc((size_t)threads, sizeof *wk);
	char *sub = NULL;
	struct rk_wal *w;
	struct rk_err err;
	double t0, t;
	long total = 0, s;
	int rv;

	if (asprintf(&sub, "%s/wal-%d", dir, threads) < 0 || wk == NULL) {
		perror("alloc");
		exit(1);
	}
	rv = rk_wal_open(sub, &o, &w, &err);
	if (rv != RK_OK) {
		fprintf(stderr, "open: %s\n", rk_err_text(&err, rv));
		exit(1);
	}
	atomic_store(&stop, 0);
	atomic_store(&syncs, 0);
	t0 = now();
	for (int i = 0; i < threads; i++) {
		wk[i].w = w;
		pthread_create(&wk[i].th, NULL, append_loop, &wk[i]);
	}
	while (now() - t0 < seconds)
		usleep(10000);
	atomic_store(&stop, 1);
	for (int i = 0; i < threads; i++) {
		pthread_join(wk[i].th, NULL);
		total += wk[i].appends;
	}
	t = now() - t0;
	s = atomic_load(&syncs);
	printf("wal  %2d appenders: %10.0f appends/s %8.2f MB/s %6.1f appends/fdatasync "
	       "%6.1fx raw %6.1fx raw-prealloc\n",
	       threads, (double)total / t, (double)total * (double)entry_bytes / t / 1e6,
	       (double)total / (double)(s ? s : 1), (double)total / t / raw,
	       (double)total / t / raw_pre);
	rk_wal_close(w);
	free(sub);
	free(wk);
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

int main(int argc, char **argv)
{
	const char *dir = NULL;
	char tmpl[4096];
	bool made = false;
	double raw, raw_pre;
	int c;

	while ((c = getopt(argc, argv, "d:t:s:h")) != -1) {
		switch (c) {
		case 'd':
			dir = optarg;
			break;
		case 't':
			seconds = atof(optarg);
			break;
		case 's':
			entry_bytes = (size_t)atol(optarg);
			break;
		default:
			fprintf(stderr, "usage: %s [-d DIR] [-t SECONDS] [-s ENTRY_BYTES]\n", argv[0]);
			return c == 'h' ? 0 : 2;
		}
	}
	if (seconds <= 0 || entry_bytes == 0 || entry_bytes > RK_WAL_MAX_ENTRY) {
		fprintf(stderr, "bad -t or -s\n");
		return 2;
	}
	if (dir == NULL) {
		const char *base = getenv("TMPDIR");

		snprintf(tmpl, sizeof tmpl, "%s/wal_bench-XXXXXX",
			 base != NULL && *base != '\0' ? base : "/var/tmp");
		if (mkdtemp(tmpl) == NULL) {
			perror(tmpl);
			return 1;
		}
		dir = tmpl;
		made = true;
	}
	printf("dir %s, %zu-byte entries, %.1f s per run\n", dir, entry_bytes, seconds);
	raw = raw_sync_rate(dir, false);
	printf("raw  1 writer:    %10.0f write+fdatasync/s %8.2f MB/s  (file grows each write)\n",
	       raw, raw * (double)entry_bytes / 1e6);
	raw_pre = raw_sync_rate(dir, true);
	printf("raw  1 writer:    %10.0f write+fdatasync/s %8.2f MB/s  (preallocated file)\n",
	       raw_pre, raw_pre * (double)entry_bytes / 1e6);
	run_wal(dir, 1, raw, raw_pre);
	run_wal(dir, 8, raw, raw_pre);
	run_wal(dir, 64, raw, raw_pre);
	if (made)
		nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	return 0;
}

/* faultfs_ctl.c -- the runner's side of the disk-fault shim: create the shared control file,
 * switch faults, read the counter, build a daemon's environment. See faultfs.h.
 *
 * Owner: whoever created the control block; ffs_ctl_set() and ffs_ctl_hits() are atomic and
 * may race with each other and with the shim in other processes.
 */
#include "config.h"

#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "common/err.h"
#include "fault/faultfs.h"

#ifndef RK_FAULTFS_SO
#error "RK_FAULTFS_SO (the path of the built shim) must be defined by the Makefile"
#endif

int ffs_ctl_create(const char *path, const char *prefix, struct ffs_ctl **out)
{
	char real[PATH_MAX];
	struct ffs_ctl *c;
	size_t len;
	int fd, rv = RK_EIO;

	if (prefix == NULL || prefix[0] == '\0')
		return RK_EINVAL;
	/* the shim compares with what /proc/self/fd says, which has every symlink resolved */
	if (realpath(prefix, real) == NULL) {
		if (strlen(prefix) >= sizeof real)
			return RK_EINVAL;
		strcpy(real, prefix);
	}
	len = strlen(real);
	while (len > 1 && real[len - 1] == '/')
		real[--len] = '\0';
	if (len >= FFS_PREFIX_MAX)
		return RK_EINVAL;

	/* no O_TRUNC: a daemon may still map an old file of the same name, and touching its
	 * mapping while the file is shorter than the block would kill it with SIGBUS */
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0)
		return RK_EIO;
	if (ftruncate(fd, (off_t)sizeof *c) != 0)
		goto out_close;
	c = mmap(NULL, sizeof *c, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (c == MAP_FAILED)
		goto out_close;
	__atomic_store_n(&c->magic, 0, __ATOMIC_RELAXED);
	c->version = FFS_VERSION;
	atomic_store(&c->flags, 0);
	atomic_store(&c->fsync_delay_ms, 0);
	memcpy(c->prefix, real, len + 1);
	atomic_store(&c->hits, 0);
	/* last: a shim that loads while the file is being made sees no magic and passes through */
	__atomic_store_n(&c->magic, FFS_MAGIC, __ATOMIC_RELEASE);
	*out = c;
	rv = RK_OK;
out_close:
	close(fd);
	return rv;
}

void ffs_ctl_set(struct ffs_ctl *c, uint32_t flags, uint32_t fsync_delay_ms)
{
	/* the delay first: a hook that sees FFS_FSYNC_SLOW (acquire) sees its delay */
	atomic_store_explicit(&c->fsync_delay_ms, fsync_delay_ms, memory_order_relaxed);
	atomic_store_explicit(&c->flags, flags, memory_order_release);
}

uint64_t ffs_ctl_hits(struct ffs_ctl *c)
{
	return atomic_load(&c->hits);
}

void ffs_ctl_close(struct ffs_ctl *c)
{
	if (c != NULL)
		munmap(c, sizeof *c);
}

const char *ffs_shim_path(void)
{
	const char *env = getenv(FFS_SO_ENV);

	return env != NULL && env[0] != '\0' ? env : RK_FAULTFS_SO;
}

void ffs_child_env_free(char **env)
{
	if (env == NULL)
		return;
	for (char **e = env; *e != NULL; e++)
		free(*e);
	free(env);
}

static char *join(const char *a, const char *b, const char *c)
{
	size_t la = strlen(a), lb = strlen(b), lc = strlen(c);
	char *s = malloc(la + lb + lc + 1);

	if (s != NULL) {
		memcpy(s, a, la);
		memcpy(s + la, b, lb);
		memcpy(s + la + lb, c, lc + 1);
	}
	return s;
}

static int has_name(const char *entry, const char *name)
{
	size_t n = strlen(name);

	return strncmp(entry, name, n) == 0 && entry[n] == '=';
}

int ffs_child_env(char *const *base, const char *ctl_path, char ***out)
{
	const char *asan = NULL;
	size_t n = 0, k = 0;
	char **env;

	for (size_t i = 0; base != NULL && base[i] != NULL; i++) {
		n++;
		if (has_name(base[i], "ASAN_OPTIONS"))
			asan = base[i] + strlen("ASAN_OPTIONS=");
	}
	env = calloc(n + 4, sizeof *env);
	if (env == NULL)
		return RK_ENOMEM;
	for (size_t i = 0; i < n; i++) {
		if (has_name(base[i], "LD_PRELOAD") || has_name(base[i], FFS_ENV) ||
		    has_name(base[i], "ASAN_OPTIONS"))
			continue;
		env[k] = strdup(base[i]);
		if (env[k++] == NULL)
			goto err;
	}
	env[k] = join("LD_PRELOAD=", ffs_shim_path(), "");
	if (env[k++] == NULL)
		goto err;
	env[k] = join(FFS_ENV "=", ctl_path, "");
	if (env[k++] == NULL)
		goto err;
	/* ASan splits options at ':' (and spaces); a later repeat of an option wins */
	env[k] = asan != NULL && asan[0] != '\0'
			 ? join("ASAN_OPTIONS=", asan, ":verify_asan_link_order=0")
			 : join("ASAN_OPTIONS=", "verify_asan_link_order=0", "");
	if (env[k++] == NULL)
		goto err;
	*out = env;
	return RK_OK;
err:
	ffs_child_env_free(env);
	return RK_ENOMEM;
}

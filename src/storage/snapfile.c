/* snapfile.c -- snapshot file writer, reader and receiver; see snapfile.h.
 *
 * The writer CRCs bytes as they enter its 1 MiB buffer, so the body is streamed once and never
 * held whole. The reader trusts nothing before checking it: header fields are range-checked
 * against the file size, the header CRC covers the configuration blob, and the trailer has its
 * own CRC, so a truncated or foreign file is rejected before any body byte is handed out.
 * Temp names carry a random suffix ("snap-...-<term>.tmp-XXXXXX") so that a local snapshot and
 * one being received never collide.
 *
 * Thread: writer/receiver/reader objects have one owner thread (the apply thread writes);
 * rk_snapfile_pread_raw() is a plain pread and may run on workers concurrently.
 */
#define _GNU_SOURCE /* mkostemp() */
#include "storage/snapfile.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/log.h"
#include "common/mem.h"
#include "storage/crc32c.h"

struct snap_hdr_disk {
	char magic[8];       /* HDR_MAGIC */
	uint8_t version[4];  /* SNAP_VERSION */
	uint8_t conf_len[4]; /* bytes of configuration blob right after the header */
	uint8_t index[8];    /* last included index */
	uint8_t term[8];     /* its term */
	uint8_t reserved[12]; /* zero */
	uint8_t crc[4];      /* CRC32C of bytes [0, 44) and then the configuration blob */
};
_Static_assert(sizeof(struct snap_hdr_disk) == 48, "snapshot header is 48 bytes");
_Static_assert(offsetof(struct snap_hdr_disk, index) == 16, "snapshot header layout");
_Static_assert(offsetof(struct snap_hdr_disk, crc) == 44, "snapshot header layout");

struct snap_trailer_disk {
	char magic[8];       /* TRAILER_MAGIC */
	uint8_t body_len[8]; /* bytes between the configuration blob and the trailer */
	uint8_t crc[4];      /* CRC32C of the whole file before the trailer */
	uint8_t self_crc[4]; /* CRC32C of trailer bytes [0, 20) */
};
_Static_assert(sizeof(struct snap_trailer_disk) == 24, "snapshot trailer is 24 bytes");
_Static_assert(offsetof(struct snap_trailer_disk, crc) == 16, "snapshot trailer layout");

#define HDR_MAGIC "RKSNAP01"
#define TRAILER_MAGIC "RKSNPEND"
#define SNAP_VERSION 1
#define HDR_SIZE ((uint64_t)sizeof(struct snap_hdr_disk))
#define TRAILER_SIZE ((uint64_t)sizeof(struct snap_trailer_disk))
#define NAME_LEN 51 /* "snap-" + 20 + "-" + 20 + ".snap" */
#define NAME_CAP 80
#define WBUF_SIZE (1u << 20)

struct rk_snapfile_writer {
	char *dir;
	int dir_fd;
	int fd;
	const struct rk_storage_io *io;
	char tmp[NAME_CAP];   /* temp file name in dir */
	char name[NAME_CAP];  /* final name */
	uint8_t *buf;         /* WBUF_SIZE bytes, holding file bytes [off, off + len) */
	size_t len;
	uint64_t off;
	uint64_t body_len;
	uint32_t crc;         /* over every byte handed to the buffer so far */
	int fail_code;        /* a failed write leaves the file useless */
};

struct rk_snapfile_reader {
	int fd;
	char *path;            /* for messages */
	struct rk_snapfile_meta meta;
	uint64_t body_off;     /* file offset of the body */
	uint64_t pos;          /* body bytes returned so far */
	uint32_t crc_hdr;      /* CRC state after header + conf */
	uint32_t crc_run;      /* CRC state after header + conf + pos body bytes */
	uint32_t crc_want;     /* from the trailer */
};

struct rk_snapfile_recv {
	char *dir;
	int dir_fd;
	int fd;
	const struct rk_storage_io *io;
	rk_index index;
	rk_term term;
	char tmp[NAME_CAP];
	char name[NAME_CAP];
	uint64_t high;         /* highest end offset written */
};

static void snap_name(char *buf, size_t cap, rk_index index, rk_term term)
{
	snprintf(buf, cap, "snap-%020" PRIu64 "-%020" PRIu64 ".snap", index, term);
}

static bool parse_snap_name(const char *name, rk_index *index, rk_term *term)
{
	uint64_t v[2] = { 0, 0 };

	if (strlen(name) != NAME_LEN || strncmp(name, "snap-", 5) != 0 || name[25] != '-' ||
	    strcmp(name + 46, ".snap") != 0)
		return false;
	for (int k = 0; k < 2; k++) {
		for (int i = 0; i < 20; i++) {
			char c = name[5 + 21 * k + i];

			if (c < '0' || c > '9')
				return false;
			v[k] = v[k] * 10 + (uint64_t)(c - '0');
		}
	}
	*index = v[0];
	*term = v[1];
	return true;
}

static char *dup_str(const char *s)
{
	size_t n = strlen(s) + 1;
	char *p = rk_malloc(n);

	if (p != NULL)
		memcpy(p, s, n);
	return p;
}

/* Create "<prefix>.tmp-XXXXXX" in @dir; stores the name (relative to @dir) in @tmp. */
static int create_temp(const char *dir, const char *prefix, char *tmp, size_t cap, int *fd_out,
		       struct rk_err *err)
{
	size_t dlen = strlen(dir);
	char *path = rk_malloc(dlen + cap + 2);
	int fd;

	if (path == NULL)
		return rk_err_set(err, RK_ENOMEM, "snapshot temp name");
	snprintf(tmp, cap, "%s.tmp-XXXXXX", prefix);
	memcpy(path, dir, dlen);
	path[dlen] = '/';
	memcpy(path + dlen + 1, tmp, strlen(tmp) + 1);
	fd = mkostemp(path, O_CLOEXEC);
	if (fd < 0) {
		int e = errno;

		rk_free(path);
		return rk_err_errno(err, rk_storage_errno_code(e), e, "create temp snapshot in %s",
				    dir);
	}
	memcpy(tmp, path + dlen + 1, strlen(tmp) + 1);
	rk_free(path);
	*fd_out = fd;
	return RK_OK;
}

static int open_dir(const struct rk_storage_io *io, const char *dir, int *fd_out,
		    struct rk_err *err)
{
	int rv = rk_storage_mkdir(io, dir, err);

	if (rv != RK_OK)
		return rv;
	*fd_out = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (*fd_out < 0)
		return rk_err_errno(err, RK_EIO, errno, "open %s", dir);
	return RK_OK;
}

/* fsync the file, rename it to its final name, fsync the directory. */
static int install(const struct rk_storage_io *io, int dir_fd, const char *dir, int fd,
		   const char *tmp, const char *name, struct rk_err *err)
{
	if (io->fsync(io->data, fd) != 0)
		return rk_err_errno(err, rk_storage_errno_code(errno), errno, "fsync %s/%s", dir,
				    tmp);
	if (renameat(dir_fd, tmp, dir_fd, name) != 0)
		return rk_err_errno(err, RK_EIO, errno, "rename %s/%s to %s", dir, tmp, name);
	return rk_storage_fsync_dir(io, dir_fd, dir, err);
}

/* ------------------------------------------------------------------------------- writer */

static int wflush(struct rk_snapfile_writer *w, struct rk_err *err)
{
	if (w->len == 0)
		return RK_OK;
	if (rk_storage_pwrite_all(w->io, w->fd, w->buf, w->len, (off_t)w->off, NULL) != 0) {
		w->fail_code = rk_storage_errno_code(errno);
		return rk_err_errno(err, w->fail_code, errno, "write %s/%s offset %" PRIu64, w->dir,
				    w->tmp, w->off);
	}
	w->off += w->len;
	w->len = 0;
	return RK_OK;
}

static int wput(struct rk_snapfile_writer *w, const void *p, size_t n, struct rk_err *err)
{
	const uint8_t *src = p;
	int rv;

	if (w->fail_code != RK_OK)
		return rk_err_set(err, w->fail_code, "snapshot %s/%s: an earlier write failed",
				  w->dir, w->tmp);
	w->crc = rk_crc32c(w->crc, p, n);
	while (n > 0) {
		size_t k = WBUF_SIZE - w->len < n ? WBUF_SIZE - w->len : n;

		memcpy(w->buf + w->len, src, k);
		w->len += k;
		src += k;
		n -= k;
		if (w->len == WBUF_SIZE) {
			rv = wflush(w, err);
			if (rv != RK_OK)
				return rv;
		}
	}
	return RK_OK;
}

static void writer_free(struct rk_snapfile_writer *w, bool unlink_tmp)
{
	if (w->fd >= 0)
		close(w->fd);
	if (unlink_tmp)
		unlinkat(w->dir_fd, w->tmp, 0);
	close(w->dir_fd);
	rk_free(w->buf);
	rk_free(w->dir);
	rk_free(w);
}

int rk_snapfile_begin(const char *dir, rk_index index, rk_term term, const void *conf,
		      size_t conf_len, const struct rk_storage_io *io,
		      struct rk_snapfile_writer **out, struct rk_err *err)
{
	struct rk_snapfile_writer *w;
	uint8_t hdr[HDR_SIZE];
	uint32_t crc;
	int rv;

	if (index == 0 || conf_len > RK_SNAPFILE_MAX_CONF)
		return rk_err_set(err, RK_EINVAL, "snapshot index %" PRIu64 ", conf %zu bytes",
				  index, conf_len);
	w = rk_calloc(1, sizeof *w);
	if (w == NULL)
		return rk_err_set(err, RK_ENOMEM, "snapshot writer");
	w->fd = -1;
	w->io = io != NULL ? io : &rk_storage_io_libc;
	w->dir = dup_str(dir);
	w->buf = rk_malloc(WBUF_SIZE);
	if (w->dir == NULL || w->buf == NULL) {
		rv = rk_err_set(err, RK_ENOMEM, "snapshot writer");
		goto err_free;
	}
	rv = open_dir(w->io, dir, &w->dir_fd, err);
	if (rv != RK_OK)
		goto err_free;
	snap_name(w->name, sizeof w->name, index, term);
	{
		char prefix[NAME_CAP];

		snprintf(prefix, sizeof prefix, "snap-%020" PRIu64 "-%020" PRIu64, index, term);
		rv = create_temp(dir, prefix, w->tmp, sizeof w->tmp, &w->fd, err);
	}
	if (rv != RK_OK)
		goto err_close_dir;
	memset(hdr, 0, sizeof hdr);
	memcpy(hdr, HDR_MAGIC, 8);
	rk_put_le32(hdr + offsetof(struct snap_hdr_disk, version), SNAP_VERSION);
	rk_put_le32(hdr + offsetof(struct snap_hdr_disk, conf_len), (uint32_t)conf_len);
	rk_put_le64(hdr + offsetof(struct snap_hdr_disk, index), index);
	rk_put_le64(hdr + offsetof(struct snap_hdr_disk, term), term);
	crc = rk_crc32c(0, hdr, offsetof(struct snap_hdr_disk, crc));
	crc = rk_crc32c(crc, conf, conf_len);
	rk_put_le32(hdr + offsetof(struct snap_hdr_disk, crc), crc);
	rv = wput(w, hdr, sizeof hdr, err);
	if (rv == RK_OK && conf_len > 0)
		rv = wput(w, conf, conf_len, err);
	if (rv != RK_OK)
		goto err_unlink;
	*out = w;
	return RK_OK;
err_unlink:
	writer_free(w, true);
	return rv;
err_close_dir:
	close(w->dir_fd);
err_free:
	rk_free(w->buf);
	rk_free(w->dir);
	rk_free(w);
	return rv;
}

int rk_snapfile_write(struct rk_snapfile_writer *w, const void *p, size_t n, struct rk_err *err)
{
	int rv = wput(w, p, n, err);

	if (rv == RK_OK)
		w->body_len += n;
	return rv;
}

int rk_snapfile_commit(struct rk_snapfile_writer *w, struct rk_err *err)
{
	uint8_t tr[TRAILER_SIZE];
	int rv;

	memcpy(tr, TRAILER_MAGIC, 8);
	rk_put_le64(tr + offsetof(struct snap_trailer_disk, body_len), w->body_len);
	rk_put_le32(tr + offsetof(struct snap_trailer_disk, crc), w->crc);
	rk_put_le32(tr + offsetof(struct snap_trailer_disk, self_crc),
		    rk_crc32c(0, tr, offsetof(struct snap_trailer_disk, self_crc)));
	rv = wput(w, tr, sizeof tr, err);
	if (rv == RK_OK)
		rv = wflush(w, err);
	if (rv == RK_OK)
		rv = install(w->io, w->dir_fd, w->dir, w->fd, w->tmp, w->name, err);
	if (rv != RK_OK) {
		/* If only the directory fsync failed, the renamed file is complete and fsynced: it
		 * may stay (it may also have replaced an equal one). The caller just must not count
		 * on it, nor clean up older snapshots. */
		writer_free(w, true);
		return rv;
	}
	rk_log(RK_LOG_INFO, "snapshot %s/%s written (%" PRIu64 " body bytes)", w->dir, w->name,
	       w->body_len);
	writer_free(w, false);
	return RK_OK;
}

void rk_snapfile_abort(struct rk_snapfile_writer *w)
{
	if (w != NULL)
		writer_free(w, true);
}

/* ------------------------------------------------------------------------------- reader */

static int corrupt(struct rk_snapfile_reader *r, struct rk_err *err, uint64_t off,
		   const char *what)
{
	return rk_err_set(err, RK_ECORRUPT, "snapshot %s offset %" PRIu64 ": %s", r->path, off,
			  what);
}

/* Check header, configuration and trailer of the file open as r->fd. */
static int reader_load(struct rk_snapfile_reader *r, struct rk_err *err)
{
	uint8_t hdr[HDR_SIZE], tr[TRAILER_SIZE];
	struct stat st;
	uint64_t size, conf_len;
	uint32_t crc;

	if (fstat(r->fd, &st) != 0)
		return rk_err_errno(err, RK_EIO, errno, "stat %s", r->path);
	size = (uint64_t)st.st_size;
	if (size < HDR_SIZE + TRAILER_SIZE)
		return corrupt(r, err, 0, "file too short for header and trailer");
	if (rk_storage_pread_full(r->fd, hdr, HDR_SIZE, 0) != (ssize_t)HDR_SIZE ||
	    rk_storage_pread_full(r->fd, tr, TRAILER_SIZE, (off_t)(size - TRAILER_SIZE)) !=
		    (ssize_t)TRAILER_SIZE)
		return rk_err_errno(err, RK_EIO, errno, "read %s", r->path);
	if (memcmp(hdr, HDR_MAGIC, 8) != 0 ||
	    rk_get_le32(hdr + offsetof(struct snap_hdr_disk, version)) != SNAP_VERSION)
		return corrupt(r, err, 0, "bad magic or version");
	conf_len = rk_get_le32(hdr + offsetof(struct snap_hdr_disk, conf_len));
	if (conf_len > RK_SNAPFILE_MAX_CONF || HDR_SIZE + conf_len + TRAILER_SIZE > size)
		return corrupt(r, err, 8, "configuration length out of range");
	if (memcmp(tr, TRAILER_MAGIC, 8) != 0 ||
	    rk_get_le32(tr + offsetof(struct snap_trailer_disk, self_crc)) !=
		    rk_crc32c(0, tr, offsetof(struct snap_trailer_disk, self_crc)))
		return corrupt(r, err, size - TRAILER_SIZE, "bad trailer");
	r->meta.body_len = rk_get_le64(tr + offsetof(struct snap_trailer_disk, body_len));
	if (r->meta.body_len != size - HDR_SIZE - conf_len - TRAILER_SIZE)
		return corrupt(r, err, size - TRAILER_SIZE,
			       "body length in trailer does not match the file size");
	r->meta.conf.len = conf_len;
	r->meta.conf.base = rk_malloc(conf_len ? conf_len : 1);
	if (r->meta.conf.base == NULL)
		return rk_err_set(err, RK_ENOMEM, "snapshot configuration");
	if (rk_storage_pread_full(r->fd, r->meta.conf.base, conf_len, (off_t)HDR_SIZE) !=
	    (ssize_t)conf_len)
		return rk_err_errno(err, RK_EIO, errno, "read %s", r->path);
	crc = rk_crc32c(0, hdr, offsetof(struct snap_hdr_disk, crc));
	crc = rk_crc32c(crc, r->meta.conf.base, conf_len);
	if (crc != rk_get_le32(hdr + offsetof(struct snap_hdr_disk, crc)))
		return corrupt(r, err, 0, "header or configuration fails its checksum");
	r->meta.index = rk_get_le64(hdr + offsetof(struct snap_hdr_disk, index));
	r->meta.term = rk_get_le64(hdr + offsetof(struct snap_hdr_disk, term));
	r->meta.file_size = size;
	r->body_off = HDR_SIZE + conf_len;
	r->crc_hdr = rk_crc32c(rk_crc32c(0, hdr, HDR_SIZE), r->meta.conf.base, conf_len);
	r->crc_run = r->crc_hdr;
	r->crc_want = rk_get_le32(tr + offsetof(struct snap_trailer_disk, crc));
	return RK_OK;
}

/* Open the file @name in @dir (or adopt @fd when >= 0). */
static int reader_open(const char *dir, const char *name, int fd,
		       struct rk_snapfile_reader **out, struct rk_err *err)
{
	struct rk_snapfile_reader *r;
	size_t dlen = strlen(dir), nlen = strlen(name);
	int rv;

	r = rk_calloc(1, sizeof *r);
	if (r == NULL)
		return rk_err_set(err, RK_ENOMEM, "snapshot reader");
	r->fd = -1;
	r->path = rk_malloc(dlen + nlen + 2);
	if (r->path == NULL) {
		rv = rk_err_set(err, RK_ENOMEM, "snapshot reader");
		goto err_free;
	}
	memcpy(r->path, dir, dlen);
	r->path[dlen] = '/';
	memcpy(r->path + dlen + 1, name, nlen + 1);
	r->fd = fd >= 0 ? fd : open(r->path, O_RDONLY | O_CLOEXEC);
	if (r->fd < 0) {
		rv = rk_err_errno(err, errno == ENOENT ? RK_ENOENT : RK_EIO, errno, "open %s",
				  r->path);
		goto err_free;
	}
	rv = reader_load(r, err);
	if (rv != RK_OK)
		goto err_free;
	*out = r;
	return RK_OK;
err_free:
	if (fd < 0 && r->fd >= 0)
		close(r->fd);
	rk_free(r->meta.conf.base);
	rk_free(r->path);
	rk_free(r);
	return rv;
}

/* Name of the newest snapshot file in @dir into @name; RK_ENOENT when there is none. */
static int find_latest(const char *dir, char *name, size_t cap, struct rk_err *err)
{
	rk_index bi = 0, i;
	rk_term bt = 0, t;
	bool found = false;
	struct dirent *de;
	DIR *d = opendir(dir);

	if (d == NULL)
		return rk_err_errno(err, errno == ENOENT ? RK_ENOENT : RK_EIO, errno, "list %s",
				    dir);
	while ((de = readdir(d)) != NULL) {
		if (!parse_snap_name(de->d_name, &i, &t))
			continue;
		if (!found || i > bi || (i == bi && t > bt)) {
			bi = i;
			bt = t;
			found = true;
		}
	}
	closedir(d);
	if (!found)
		return rk_err_set(err, RK_ENOENT, "no snapshot in %s", dir);
	snap_name(name, cap, bi, bt);
	return RK_OK;
}

int rk_snapfile_open_latest(const char *dir, struct rk_snapfile_reader **out, struct rk_err *err)
{
	char name[NAME_CAP];
	rk_index index;
	rk_term term;
	int rv;

	rv = find_latest(dir, name, sizeof name, err);
	if (rv != RK_OK)
		return rv;
	rv = reader_open(dir, name, -1, out, err);
	if (rv != RK_OK)
		return rv;
	parse_snap_name(name, &index, &term);
	if ((*out)->meta.index != index || (*out)->meta.term != term) {
		rv = corrupt(*out, err, 16, "index or term differ from the file name");
		rk_snapfile_close(*out);
		*out = NULL;
	}
	return rv;
}

int rk_snapfile_open_path(const char *path, struct rk_snapfile_reader **out, struct rk_err *err)
{
	char dir[4096];
	const char *slash = strrchr(path, '/');
	size_t dlen;

	if (slash == NULL)
		return reader_open(".", path, -1, out, err);
	dlen = (size_t)(slash - path);
	if (dlen == 0)
		dlen = 1; /* "/name" */
	if (dlen >= sizeof dir)
		return rk_err_set(err, RK_EINVAL, "path too long: %s", path);
	memcpy(dir, path, dlen);
	dir[dlen] = '\0';
	return reader_open(dir, slash + 1, -1, out, err);
}

const struct rk_snapfile_meta *rk_snapfile_meta(const struct rk_snapfile_reader *r)
{
	return &r->meta;
}

int rk_snapfile_read(struct rk_snapfile_reader *r, void *buf, size_t cap, size_t *got,
		     struct rk_err *err)
{
	uint64_t left = r->meta.body_len - r->pos;
	size_t n = left < cap ? (size_t)left : cap;
	ssize_t k;

	*got = 0;
	if (n > 0) {
		k = rk_storage_pread_full(r->fd, buf, n, (off_t)(r->body_off + r->pos));
		if (k < 0)
			return rk_err_errno(err, RK_EIO, errno, "read %s", r->path);
		if ((size_t)k != n)
			return corrupt(r, err, r->body_off + r->pos + (uint64_t)k,
				       "file shrank while reading");
		r->crc_run = rk_crc32c(r->crc_run, buf, n);
		r->pos += n;
		*got = n;
	}
	if (r->pos == r->meta.body_len && (n > 0 || left == 0) && r->crc_run != r->crc_want)
		return corrupt(r, err, r->meta.file_size - TRAILER_SIZE,
			       "body fails its checksum");
	return RK_OK;
}

int rk_snapfile_verify(struct rk_snapfile_reader *r, struct rk_err *err)
{
	size_t cap = 1u << 20;
	uint8_t *buf = rk_malloc(cap);
	uint64_t pos = 0;
	uint32_t crc = r->crc_hdr;
	int rv = RK_OK;

	if (buf == NULL)
		return rk_err_set(err, RK_ENOMEM, "snapshot verify buffer");
	while (pos < r->meta.body_len) {
		size_t n = r->meta.body_len - pos < cap ? (size_t)(r->meta.body_len - pos) : cap;
		ssize_t k = rk_storage_pread_full(r->fd, buf, n, (off_t)(r->body_off + pos));

		if (k < 0) {
			rv = rk_err_errno(err, RK_EIO, errno, "read %s", r->path);
			goto out;
		}
		if ((size_t)k != n) {
			rv = corrupt(r, err, r->body_off + pos + (uint64_t)k, "file too short");
			goto out;
		}
		crc = rk_crc32c(crc, buf, n);
		pos += n;
	}
	if (crc != r->crc_want)
		rv = corrupt(r, err, r->meta.file_size - TRAILER_SIZE, "body fails its checksum");
out:
	rk_free(buf);
	return rv;
}

int rk_snapfile_pread_raw(struct rk_snapfile_reader *r, uint64_t off, void *buf, size_t cap,
			  size_t *got, struct rk_err *err)
{
	ssize_t k;

	*got = 0;
	if (off >= r->meta.file_size)
		return RK_OK;
	if (cap > r->meta.file_size - off)
		cap = (size_t)(r->meta.file_size - off);
	k = rk_storage_pread_full(r->fd, buf, cap, (off_t)off);
	if (k < 0)
		return rk_err_errno(err, RK_EIO, errno, "read %s offset %" PRIu64, r->path, off);
	*got = (size_t)k;
	return RK_OK;
}

void rk_snapfile_close(struct rk_snapfile_reader *r)
{
	if (r == NULL)
		return;
	if (r->fd >= 0)
		close(r->fd);
	rk_free(r->meta.conf.base);
	rk_free(r->path);
	rk_free(r);
}

/* ------------------------------------------------------------------------------ receiver */

static void recv_free(struct rk_snapfile_recv *rv, bool unlink_tmp)
{
	if (rv->fd >= 0)
		close(rv->fd);
	if (unlink_tmp)
		unlinkat(rv->dir_fd, rv->tmp, 0);
	close(rv->dir_fd);
	rk_free(rv->dir);
	rk_free(rv);
}

int rk_snapfile_recv_begin(const char *dir, rk_index index, rk_term term,
			   const struct rk_storage_io *io, struct rk_snapfile_recv **out,
			   struct rk_err *err)
{
	struct rk_snapfile_recv *rv;
	char prefix[NAME_CAP];
	int rc;

	if (index == 0)
		return rk_err_set(err, RK_EINVAL, "snapshot index 0");
	rv = rk_calloc(1, sizeof *rv);
	if (rv == NULL)
		return rk_err_set(err, RK_ENOMEM, "snapshot receiver");
	rv->fd = -1;
	rv->io = io != NULL ? io : &rk_storage_io_libc;
	rv->index = index;
	rv->term = term;
	rv->dir = dup_str(dir);
	if (rv->dir == NULL) {
		rc = rk_err_set(err, RK_ENOMEM, "snapshot receiver");
		goto err_free;
	}
	rc = open_dir(rv->io, dir, &rv->dir_fd, err);
	if (rc != RK_OK)
		goto err_free;
	snap_name(rv->name, sizeof rv->name, index, term);
	snprintf(prefix, sizeof prefix, "snap-%020" PRIu64 "-%020" PRIu64 ".recv", index, term);
	rc = create_temp(dir, prefix, rv->tmp, sizeof rv->tmp, &rv->fd, err);
	if (rc != RK_OK)
		goto err_close_dir;
	*out = rv;
	return RK_OK;
err_close_dir:
	close(rv->dir_fd);
err_free:
	rk_free(rv->dir);
	rk_free(rv);
	return rc;
}

int rk_snapfile_recv_chunk(struct rk_snapfile_recv *rv, uint64_t off, const void *p, size_t n,
			   struct rk_err *err)
{
	/* the offset comes off the wire: no off_t overflow */
	if (off > (uint64_t)INT64_MAX - n)
		return rk_err_set(err, RK_EINVAL, "snapshot chunk at offset %" PRIu64 " out of range", off);
	if (rk_storage_pwrite_all(rv->io, rv->fd, p, n, (off_t)off, NULL) != 0)
		return rk_err_errno(err, rk_storage_errno_code(errno), errno,
				    "write %s/%s offset %" PRIu64, rv->dir, rv->tmp, off);
	if (off + n > rv->high)
		rv->high = off + n;
	return RK_OK;
}

int rk_snapfile_recv_done(struct rk_snapfile_recv *rv, uint64_t total, struct rk_err *err)
{
	struct rk_snapfile_reader *r = NULL;
	int fd, rc;

	if (rv->high != total) {
		rc = rk_err_set(err, RK_EINVAL, "snapshot %s/%s: received %" PRIu64 " bytes, leader announced %" PRIu64,
				rv->dir, rv->tmp, rv->high,
				total);
		goto err_free;
	}
	/* the reader adopts a duplicate: our fd stays ours to fsync and close */
	fd = dup(rv->fd);
	if (fd < 0) {
		rc = rk_err_errno(err, RK_EIO, errno, "dup");
		goto err_free;
	}
	rc = reader_open(rv->dir, rv->tmp, fd, &r, err);
	if (rc != RK_OK) {
		close(fd);
		goto err_free;
	}
	if (r->meta.index != rv->index || r->meta.term != rv->term) {
		rc = rk_err_set(err, RK_EINVAL, "snapshot %s/%s is %" PRIu64 "@%" PRIu64 ", leader announced %" PRIu64 "@%" PRIu64,
				rv->dir, rv->tmp,
				r->meta.index, r->meta.term, rv->index, rv->term);
		goto err_close;
	}
	rc = rk_snapfile_verify(r, err);
	if (rc != RK_OK)
		goto err_close;
	rk_snapfile_close(r);
	rc = install(rv->io, rv->dir_fd, rv->dir, rv->fd, rv->tmp, rv->name, err);
	if (rc != RK_OK)
		goto err_free; /* as in rk_snapfile_commit(): a renamed file is complete */
	recv_free(rv, false);
	return RK_OK;
err_close:
	rk_snapfile_close(r);
err_free:
	recv_free(rv, true);
	return rc;
}

void rk_snapfile_recv_abort(struct rk_snapfile_recv *rv)
{
	if (rv != NULL)
		recv_free(rv, true);
}

/* ------------------------------------------------------------------------------- cleanup */

static bool is_temp_name(const char *name)
{
	return strncmp(name, "snap-", 5) == 0 && strstr(name, ".tmp-") != NULL;
}

/* Remove the files of @dir that @pick selects, then fsync the directory once. */
static int remove_matching(const char *dir, bool (*pick)(const char *name, const void *arg),
			   const void *arg, struct rk_err *err)
{
	struct dirent *de;
	int dir_fd, rv = RK_OK;
	bool removed = false;
	DIR *d;

	dir_fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dir_fd < 0)
		return rk_err_errno(err, RK_EIO, errno, "open %s", dir);
	d = opendir(dir);
	if (d == NULL) {
		rv = rk_err_errno(err, RK_EIO, errno, "list %s", dir);
		goto out;
	}
	while ((de = readdir(d)) != NULL) {
		if (!pick(de->d_name, arg))
			continue;
		if (unlinkat(dir_fd, de->d_name, 0) != 0 && errno != ENOENT) {
			rv = rk_err_errno(err, RK_EIO, errno, "unlink %s/%s", dir, de->d_name);
			break;
		}
		rk_log(RK_LOG_INFO, "snapshot cleanup: removed %s/%s", dir, de->d_name);
		removed = true;
	}
	closedir(d);
	if (removed && fsync(dir_fd) != 0 && rv == RK_OK)
		rv = rk_err_errno(err, RK_EIO, errno, "fsync directory %s", dir);
out:
	close(dir_fd);
	return rv;
}

struct keep {
	rk_index index;
	rk_term term;
};

static bool pick_older(const char *name, const void *arg)
{
	const struct keep *k = arg;
	rk_index i;
	rk_term t;

	if (!parse_snap_name(name, &i, &t))
		return false;
	return i < k->index || (i == k->index && t < k->term);
}

int rk_snapfile_cleanup(const char *dir, rk_index index, rk_term term, struct rk_err *err)
{
	char name[NAME_CAP], *path;
	struct keep k = { index, term };
	size_t dlen = strlen(dir);
	int rv;

	/* Never remove the older ones unless the one that replaces them is there. */
	snap_name(name, sizeof name, index, term);
	path = rk_malloc(dlen + strlen(name) + 2);
	if (path == NULL)
		return rk_err_set(err, RK_ENOMEM, "snapshot path");
	sprintf(path, "%s/%s", dir, name);
	rv = access(path, F_OK) == 0 ? RK_OK
				     : rk_err_errno(err, RK_ENOENT, errno, "snapshot %s", path);
	rk_free(path);
	if (rv != RK_OK)
		return rv;
	return remove_matching(dir, pick_older, &k, err);
}

static bool pick_temp(const char *name, const void *arg)
{
	(void)arg;
	return is_temp_name(name);
}

int rk_snapfile_remove_temps(const char *dir, struct rk_err *err)
{
	return remove_matching(dir, pick_temp, NULL, err);
}

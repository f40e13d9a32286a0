/* raftkvctl.c -- the command-line client of raftkv (raftkvctl(1)).
 *
 * One command per invocation, or `shell`: one command per line on stdin, one result line per
 * command, with one client (and connection) for the whole session. Values print raw on stdout;
 * errors are one line on stderr. Exit status: 0 success, 1 a definite "no" (NOT_FOUND, EXISTS,
 * CAS_FAILED, TOO_LARGE: nothing was written), 2 usage or configuration error, 3 unavailable or
 * timed out (the outcome of a write is unknown).
 *
 * `local start|stop|status` runs a cluster of raftkvd processes on 127.0.0.1 for development:
 * it writes one config per node into DIR, starts the daemons in their own sessions, records
 * their PIDs in DIR/pids and stops them by those PIDs.
 */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "raftkv/client.h"

#define EXIT_NO 1
#define EXIT_USAGE 2
#define EXIT_UNKNOWN 3
#define MAX_ARGS 16

enum format { FMT_TABLE, FMT_JSON };

struct ctl {
	const char *endpoints;
	unsigned timeout_ms;
	enum format fmt;
	bool shell;           /* one line per result; values escaped */
	struct rkc_client *c; /* opened on first use */
};

static const char *const usage_text =
	"Usage: raftkvctl [--endpoints HOST:PORT,...] [--timeout MS] [-w table|json] COMMAND ...\n"
	"\n"
	"Commands:\n"
	"  put KEY VALUE [--if-absent]   write a value (--if-absent: only if KEY is new)\n"
	"  update KEY VALUE              overwrite an existing key\n"
	"  get KEY [--serializable]      print the value (--serializable: any node, may be stale)\n"
	"  del KEY                       delete a key\n"
	"  append KEY VALUE              append to a value, creating it if absent\n"
	"  cas KEY OLD NEW               set KEY to NEW if its value is OLD\n"
	"  keys [PREFIX] [--limit N]     list keys, in byte order\n"
	"  range START END [--limit N]   list pairs with START <= key < END\n"
	"  status                        one row per endpoint: id, role, term, leader, indexes\n"
	"  member list                   the cluster's members (as the leader sees them)\n"
	"  member add ID                 add node ID as a learner (listed in the configs)\n"
	"  member promote ID             make learner ID a voter\n"
	"  member remove ID              remove node ID from the cluster\n"
	"  leader transfer ID            hand leadership to node ID and wait until it leads\n"
	"  snapshot save FILE            a consistent backup (restore: raftkvd --restore FILE)\n"
	"  shell                         read commands from stdin, one result line each\n"
	"  local start -n N --dir DIR [--base-port P] [--foreground]\n"
	"  local stop --dir DIR\n"
	"  local status --dir DIR\n"
	"\n"
	"Endpoints also come from RAFTKV_ENDPOINTS (default 127.0.0.1:7001,127.0.0.1:7002,"
	"127.0.0.1:7003).\n"
	"Exit status: 0 ok, 1 definite no, 2 usage error, 3 unavailable or timed out.\n"
	"See raftkvctl(1).\n";

static bool shell_mode; /* every result, errors included, is one line on stdout */

/* A usage problem: one line on stderr, or "ERR USAGE ..." on stdout in shell mode. */
static int usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int usage_error(const char *fmt, ...)
{
	va_list ap;

	fputs(shell_mode ? "ERR USAGE " : "raftkvctl: ", shell_mode ? stdout : stderr);
	va_start(ap, fmt);
	vfprintf(shell_mode ? stdout : stderr, fmt, ap);
	va_end(ap);
	fputs(shell_mode ? "\n" : " (raftkvctl --help)\n", shell_mode ? stdout : stderr);
	return EXIT_USAGE;
}

static int exit_code(int st)
{
	switch (st) {
	case RKC_OK:
		return 0;
	case RKC_NOT_FOUND:
	case RKC_EXISTS:
	case RKC_CAS_FAILED:
	case RKC_TOO_LARGE:
		return EXIT_NO;
	case RKC_BAD_REQUEST:
	case RKC_EINVAL:
		return EXIT_USAGE;
	default:
		return EXIT_UNKNOWN;
	}
}

static const char *status_name(int st)
{
	switch (st) {
	case RKC_OK: return "OK";
	case RKC_NOT_FOUND: return "NOT_FOUND";
	case RKC_EXISTS: return "EXISTS";
	case RKC_CAS_FAILED: return "CAS_FAILED";
	case RKC_NOT_LEADER: return "NOT_LEADER";
	case RKC_TIMEOUT: return "TIMEOUT";
	case RKC_TOO_LARGE: return "TOO_LARGE";
	case RKC_BAD_REQUEST: return "BAD_REQUEST";
	case RKC_UNAVAILABLE: return "UNAVAILABLE";
	case RKC_BUSY: return "BUSY";
	case RKC_INTERNAL: return "INTERNAL";
	case RKC_EINVAL: return "INVALID";
	case RKC_ENOMEM: return "NO_MEMORY";
	default: return "PROTOCOL";
	}
}

/* ---- output ---- */

/* Bytes as a JSON string body. */
static void put_json_str(FILE *f, const uint8_t *p, size_t n)
{
	fputc('"', f);
	for (size_t i = 0; i < n; i++) {
		uint8_t ch = p[i];

		if (ch == '"' || ch == '\\')
			fprintf(f, "\\%c", ch);
		else if (ch == '\n')
			fputs("\\n", f);
		else if (ch == '\t')
			fputs("\\t", f);
		else if (ch < 0x20 || ch >= 0x7f)
			fprintf(f, "\\u%04x", ch);
		else
			fputc(ch, f);
	}
	fputc('"', f);
}

/* Bytes on one line (shell mode): C-style escapes for anything that would break the line. */
static void put_escaped(FILE *f, const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		uint8_t ch = p[i];

		if (ch == '\\')
			fputs("\\\\", f);
		else if (ch == '\n')
			fputs("\\n", f);
		else if (ch == '\r')
			fputs("\\r", f);
		else if (ch == '\t')
			fputs("\\t", f);
		else if (ch < 0x20 || ch == 0x7f)
			fprintf(f, "\\x%02x", ch);
		else
			fputc(ch, f);
	}
}

static void put_value(struct ctl *x, const uint8_t *p, size_t n)
{
	if (x->shell)
		put_escaped(stdout, p, n);
	else
		fwrite(p, 1, n, stdout);
}

/* Report a failed call: one line (stderr, or stdout as "ERR ..." in shell mode). */
static int fail(struct ctl *x, int st)
{
	const char *detail = x->c != NULL ? rkc_last_error(x->c) : "";

	if (strcmp(detail, rkc_strstatus(st)) == 0)
		detail = ""; /* the server's message says nothing more than the status */

	if (x->fmt == FMT_JSON && !x->shell) {
		printf("{\"status\":\"%s\",\"error\":", status_name(st));
		put_json_str(stdout, (const uint8_t *)(*detail ? detail : rkc_strstatus(st)),
			     strlen(*detail ? detail : rkc_strstatus(st)));
		printf("}\n");
	}
	if (x->shell)
		printf("ERR %s %s\n", status_name(st), *detail ? detail : rkc_strstatus(st));
	else
		fprintf(stderr, "raftkvctl: %s%s%s\n", rkc_strstatus(st), *detail ? ": " : "", detail);
	return exit_code(st);
}

static int ok(struct ctl *x)
{
	if (x->fmt == FMT_JSON && !x->shell)
		printf("{\"status\":\"OK\"}\n");
	else
		printf("OK\n");
	return 0;
}

/* ---- commands ---- */

static int client(struct ctl *x)
{
	struct rkc_options o = { .endpoints = x->endpoints, .request_timeout_ms = 0,
				 .deadline_ms = x->timeout_ms };
	int st;

	if (x->c != NULL)
		return RKC_OK;
	st = rkc_open(&o, &x->c);
	if (st != RKC_OK)
		usage_error("bad endpoint list '%s'", x->endpoints);
	return st;
}

/* Pull the flags a command accepts out of @argv (in place); the rest are positional. */
struct cmd_flags {
	bool if_absent, serializable;
	long limit;
	const char *bad;
};

static int split_flags(int argc, char **argv, struct cmd_flags *fl)
{
	int n = 0;

	memset(fl, 0, sizeof *fl);
	for (int i = 0; i < argc; i++) {
		if (strcmp(argv[i], "--if-absent") == 0) {
			fl->if_absent = true;
		} else if (strcmp(argv[i], "--serializable") == 0) {
			fl->serializable = true;
		} else if (strcmp(argv[i], "--limit") == 0 || strncmp(argv[i], "--limit=", 8) == 0) {
			const char *v = argv[i][7] == '=' ? argv[i] + 8 : (i + 1 < argc ? argv[++i] : "");
			char *end;

			errno = 0;
			fl->limit = strtol(v, &end, 10);
			if (errno || *end || end == v || fl->limit < 1 || fl->limit > 1000000)
				fl->bad = "--limit takes a number from 1 to 1000000";
		} else if (strncmp(argv[i], "--", 2) == 0 && argv[i][2] != '\0') {
			fl->bad = argv[i];
		} else {
			argv[n++] = argv[i];
		}
	}
	return n;
}

static int cmd_get(struct ctl *x, char **a, int n, const struct cmd_flags *fl)
{
	struct rkc_buf v = { 0 };
	int st;

	if (n != 1)
		return usage_error("get takes KEY");
	if ((st = client(x)) != RKC_OK)
		return EXIT_USAGE;
	st = rkc_get(x->c, a[0], strlen(a[0]), fl->serializable, &v);
	if (st != RKC_OK)
		return fail(x, st);
	if (x->fmt == FMT_JSON && !x->shell) {
		printf("{\"status\":\"OK\",\"key\":");
		put_json_str(stdout, (const uint8_t *)a[0], strlen(a[0]));
		printf(",\"value\":");
		put_json_str(stdout, v.data, v.len);
		printf("}\n");
	} else {
		put_value(x, v.data, v.len);
		putchar('\n');
	}
	rkc_buf_free(&v);
	return 0;
}

static int cmd_write(struct ctl *x, const char *name, char **a, int n, const struct cmd_flags *fl)
{
	int st;

	if (strcmp(name, "del") == 0 && n != 1)
		return usage_error("del takes KEY");
	if (strcmp(name, "cas") == 0 && n != 3)
		return usage_error("cas takes KEY OLD NEW");
	if ((strcmp(name, "put") == 0 || strcmp(name, "update") == 0 ||
	     strcmp(name, "append") == 0) && n != 2)
		return usage_error("%s takes KEY VALUE", name);
	if ((st = client(x)) != RKC_OK)
		return EXIT_USAGE;
	if (strcmp(name, "put") == 0)
		st = (fl->if_absent ? rkc_put_if_absent : rkc_put)(x->c, a[0], strlen(a[0]), a[1],
								    strlen(a[1]));
	else if (strcmp(name, "update") == 0)
		st = rkc_update(x->c, a[0], strlen(a[0]), a[1], strlen(a[1]));
	else if (strcmp(name, "append") == 0)
		st = rkc_append(x->c, a[0], strlen(a[0]), a[1], strlen(a[1]));
	else if (strcmp(name, "del") == 0)
		st = rkc_delete(x->c, a[0], strlen(a[0]));
	else
		st = rkc_cas(x->c, a[0], strlen(a[0]), a[1], strlen(a[1]), a[2], strlen(a[2]));
	return st == RKC_OK ? ok(x) : fail(x, st);
}

static int cmd_range(struct ctl *x, bool keys_only, char **a, int n, const struct cmd_flags *fl)
{
	struct rkc_range r = { 0 };
	struct rkc_kv *kvs;
	size_t cnt;
	bool more = false;
	int st;

	if (keys_only) {
		if (n > 1)
			return usage_error("keys takes [PREFIX]");
		r.prefix = true;
		r.start = n == 1 ? a[0] : "";
		r.start_len = strlen(r.start);
	} else {
		if (n != 2)
			return usage_error("range takes START END");
		r.start = a[0];
		r.start_len = strlen(a[0]);
		r.end = a[1];
		r.end_len = strlen(a[1]);
	}
	r.limit = (unsigned)fl->limit;
	r.serializable = fl->serializable;
	if ((st = client(x)) != RKC_OK)
		return EXIT_USAGE;
	st = rkc_range(x->c, &r, &kvs, &cnt, &more);
	if (st != RKC_OK)
		return fail(x, st);
	if (x->fmt == FMT_JSON && !x->shell) {
		printf("{\"status\":\"OK\",\"more\":%s,\"%s\":[", more ? "true" : "false",
		       keys_only ? "keys" : "kvs");
		for (size_t i = 0; i < cnt; i++) {
			if (i)
				putchar(',');
			if (keys_only) {
				put_json_str(stdout, kvs[i].key.data, kvs[i].key.len);
			} else {
				printf("{\"key\":");
				put_json_str(stdout, kvs[i].key.data, kvs[i].key.len);
				printf(",\"value\":");
				put_json_str(stdout, kvs[i].value.data, kvs[i].value.len);
				putchar('}');
			}
		}
		printf("]}\n");
	} else if (x->shell) {
		/* One line: space-separated keys (or key=value), escaped. */
		for (size_t i = 0; i < cnt; i++) {
			if (i)
				putchar(' ');
			put_escaped(stdout, kvs[i].key.data, kvs[i].key.len);
			if (!keys_only) {
				putchar('=');
				put_escaped(stdout, kvs[i].value.data, kvs[i].value.len);
			}
		}
		printf("%s\n", more ? (cnt ? " ..." : "...") : "");
	} else {
		for (size_t i = 0; i < cnt; i++) {
			put_value(x, kvs[i].key.data, kvs[i].key.len);
			if (!keys_only) {
				putchar('\t');
				put_value(x, kvs[i].value.data, kvs[i].value.len);
			}
			putchar('\n');
		}
		if (more)
			fprintf(stderr, "raftkvctl: more keys follow; raise --limit to see them\n");
	}
	rkc_kvs_free(kvs, cnt);
	return 0;
}

/* Each endpoint of the list, in turn. */
static int for_each_endpoint(const char *list, int (*fn)(const char *ep, void *arg), void *arg)
{
	char ep[128];
	const char *p = list, *comma;
	int rv = 0;

	while (*p) {
		comma = strchr(p, ',');
		if (comma == NULL)
			comma = p + strlen(p);
		if ((size_t)(comma - p) < sizeof ep) {
			memcpy(ep, p, (size_t)(comma - p));
			ep[comma - p] = '\0';
			if (fn(ep, arg) != 0)
				rv = 1;
		}
		p = *comma ? comma + 1 : comma;
	}
	return rv;
}

struct status_ctx {
	struct ctl *x;
	int rows, reachable, worst;
};

static int status_row(const char *ep, void *arg)
{
	struct status_ctx *s = arg;
	struct rkc_node_status st;
	int rv = rkc_status(s->x->c, ep, &st);

	if (s->x->fmt == FMT_JSON && !s->x->shell) {
		printf("%s", s->rows ? "," : "[");
		if (rv == RKC_OK)
			printf("{\"endpoint\":\"%s\",\"id\":%llu,\"role\":\"%s\",\"term\":%llu,"
			       "\"leader\":%llu,\"commit\":%llu,\"applied\":%llu}",
			       ep, (unsigned long long)st.id, st.role, (unsigned long long)st.term,
			       (unsigned long long)st.leader, (unsigned long long)st.commit_index,
			       (unsigned long long)st.applied_index);
		else
			printf("{\"endpoint\":\"%s\",\"error\":\"%s\"}", ep, status_name(rv));
	} else if (s->x->shell) {
		if (s->rows)
			printf("; ");
		if (rv == RKC_OK)
			printf("%s id=%llu role=%s term=%llu leader=%llu commit=%llu applied=%llu", ep,
			       (unsigned long long)st.id, st.role, (unsigned long long)st.term,
			       (unsigned long long)st.leader, (unsigned long long)st.commit_index,
			       (unsigned long long)st.applied_index);
		else
			printf("%s error=%s", ep, status_name(rv));
	} else {
		if (s->rows == 0)
			printf("%-4s %-22s %-14s %-6s %-7s %-10s %s\n", "ID", "ADDRESS", "ROLE", "TERM",
			       "LEADER", "COMMIT", "APPLIED");
		if (rv == RKC_OK)
			printf("%-4llu %-22s %-14s %-6llu %-7llu %-10llu %llu\n",
			       (unsigned long long)st.id, ep, st.role, (unsigned long long)st.term,
			       (unsigned long long)st.leader, (unsigned long long)st.commit_index,
			       (unsigned long long)st.applied_index);
		else
			printf("%-4s %-22s %s\n", "-", ep, status_name(rv));
	}
	s->rows++;
	if (rv == RKC_OK)
		s->reachable++;
	else
		s->worst = rv;
	return 0;
}

static int cmd_status(struct ctl *x, int n)
{
	struct status_ctx s = { .x = x };

	if (n != 0)
		return usage_error("status takes no arguments");
	if (client(x) != RKC_OK)
		return EXIT_USAGE;
	for_each_endpoint(x->endpoints, status_row, &s);
	if (x->fmt == FMT_JSON && !x->shell)
		printf("]\n");
	else if (x->shell)
		printf("\n");
	/* Partly reachable is still an answer; nothing reachable is "unavailable". */
	return s.reachable > 0 ? 0 : EXIT_UNKNOWN;
}

struct member_ctx {
	struct ctl *x;
	bool done;     /* st holds a configuration */
	bool leader;   /* ... the leader's, which is the newest */
	int err;
	struct rkc_node_status st;
};

/* The leader's configuration when some endpoint leads, else the first one answered: a node
 * that was removed, or lags, may hold an older one. */
static int member_list_from(const char *ep, void *arg)
{
	struct member_ctx *m = arg;
	struct rkc_node_status st;
	int rv;

	if (m->leader)
		return 0;
	rv = rkc_status(m->x->c, ep, &st);
	if (rv != RKC_OK || st.n_members == 0) {
		m->err = rv != RKC_OK ? rv : m->err;
		return 0;
	}
	if (!m->done || strcmp(st.role, "leader") == 0) {
		m->st = st;
		m->done = true;
		m->leader = strcmp(st.role, "leader") == 0;
	}
	return 0;
}

static void member_print(struct ctl *x, const struct rkc_node_status *st)
{
	if (x->fmt == FMT_JSON && !x->shell) {
		printf("[");
		for (unsigned i = 0; i < st->n_members; i++)
			printf("%s{\"id\":%llu,\"peer\":\"%s\",\"client\":\"%s\",\"learner\":%s}",
			       i ? "," : "", (unsigned long long)st->members[i].id,
			       st->members[i].peer_addr, st->members[i].client_addr,
			       st->members[i].learner ? "true" : "false");
		printf("]\n");
	} else if (x->shell) {
		for (unsigned i = 0; i < st->n_members; i++)
			printf("%s%llu=%s/%s%s", i ? " " : "", (unsigned long long)st->members[i].id,
			       st->members[i].peer_addr, st->members[i].client_addr,
			       st->members[i].learner ? "(learner)" : "");
		printf("\n");
	} else {
		printf("%-4s %-22s %-22s %s\n", "ID", "PEER", "CLIENT", "ROLE");
		for (unsigned i = 0; i < st->n_members; i++)
			printf("%-4llu %-22s %-22s %s\n", (unsigned long long)st->members[i].id,
			       st->members[i].peer_addr, st->members[i].client_addr,
			       st->members[i].learner ? "learner" : "voter");
	}
}

static int cmd_member(struct ctl *x, char **a, int n)
{
	struct member_ctx m = { .x = x, .err = RKC_UNAVAILABLE };

	uint64_t id;
	char *end;
	int st;

	if (n < 1)
		return usage_error("member takes list|add|remove|promote");
	if (strcmp(a[0], "list") == 0) {
		if (n != 1)
			return usage_error("member list takes no arguments");
		if (client(x) != RKC_OK)
			return EXIT_USAGE;
		for_each_endpoint(x->endpoints, member_list_from, &m);
		if (!m.done)
			return fail(x, m.err);
		member_print(x, &m.st);
		return 0;
	}
	if (strcmp(a[0], "add") != 0 && strcmp(a[0], "remove") != 0 &&
	    strcmp(a[0], "promote") != 0)
		return usage_error("member takes list|add|remove|promote, not '%s'", a[0]);
	if (n != 2)
		return usage_error("member %s takes ID", a[0]);
	errno = 0;
	id = strtoull(a[1], &end, 10);
	if (errno || *end || id == 0 || a[1][0] == '-')
		return usage_error("member %s: ID is a node id (a positive number)", a[0]);
	if (client(x) != RKC_OK)
		return EXIT_USAGE;
	if (strcmp(a[0], "add") == 0)
		st = rkc_member_add(x->c, id);
	else if (strcmp(a[0], "promote") == 0)
		st = rkc_member_promote(x->c, id);
	else
		st = rkc_member_remove(x->c, id);
	return st == RKC_OK ? ok(x) : fail(x, st);
}

struct leader_ctx {
	struct ctl *x;
	uint64_t leader;
};

static int leader_of(const char *ep, void *arg)
{
	struct leader_ctx *l = arg;
	struct rkc_node_status st;

	if (l->leader == 0 && rkc_status(l->x->c, ep, &st) == RKC_OK &&
	    strcmp(st.role, "leader") == 0)
		l->leader = st.id;
	return 0;
}

static uint64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* leader transfer ID: start the transfer, then wait (within --timeout) until ID leads. */
static int cmd_leader(struct ctl *x, char **a, int n)
{
	struct leader_ctx l = { .x = x };
	uint64_t target, deadline = mono_ms() + x->timeout_ms;
	char *end;
	int st;

	if (n != 2 || strcmp(a[0], "transfer") != 0)
		return usage_error("leader takes transfer ID");
	errno = 0;
	target = strtoull(a[1], &end, 10);
	if (errno || *end || target == 0)
		return usage_error("leader transfer: ID is a node id (a positive number)");
	if (client(x) != RKC_OK)
		return EXIT_USAGE;
	st = rkc_transfer_leader(x->c, target);
	if (st != RKC_OK)
		return fail(x, st);
	while (mono_ms() < deadline) {
		l.leader = 0;
		for_each_endpoint(x->endpoints, leader_of, &l);
		if (l.leader == target)
			return ok(x);
		usleep(50000);
	}
	fprintf(shell_mode ? stdout : stderr, "%sleader transfer to %llu did not complete in %u ms\n",
		shell_mode ? "ERR TIMEOUT " : "raftkvctl: ", (unsigned long long)target, x->timeout_ms);
	return EXIT_UNKNOWN;
}

/* snapshot save FILE: a consistent backup, written to FILE.tmp, fsynced, then renamed. */
static int cmd_snapshot(struct ctl *x, char **a, int n)
{
	char tmp[PATH_MAX];
	uint64_t index = 0, size = 0;
	int fd, st;

	if (n != 2 || strcmp(a[0], "save") != 0)
		return usage_error("snapshot takes save FILE");
	if (snprintf(tmp, sizeof tmp, "%s.tmp", a[1]) >= (int)sizeof tmp)
		return usage_error("snapshot save: path too long");
	if (client(x) != RKC_OK)
		return EXIT_USAGE;
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return usage_error("snapshot save: %s: %s", tmp, strerror(errno));
	st = rkc_snapshot_save(x->c, fd, &index, &size);
	if (st == RKC_OK && (fsync(fd) != 0 || rename(tmp, a[1]) != 0)) {
		close(fd);
		unlink(tmp);
		return usage_error("snapshot save: %s: %s", a[1], strerror(errno));
	}
	close(fd);
	if (st != RKC_OK) {
		unlink(tmp);
		return fail(x, st);
	}
	if (x->fmt == FMT_JSON && !x->shell)
		printf("{\"status\":\"OK\",\"index\":%llu,\"bytes\":%llu}\n",
		       (unsigned long long)index, (unsigned long long)size);
	else
		printf("OK snapshot at index %llu, %llu bytes, saved to %s\n",
		       (unsigned long long)index, (unsigned long long)size, a[1]);
	return 0;
}

static int run_local(int argc, char **argv);

static int dispatch(struct ctl *x, int argc, char **argv)
{
	struct cmd_flags fl;
	const char *cmd;
	int n;

	if (argc < 1)
		return usage_error("no command");
	cmd = argv[0];
	if (strcmp(cmd, "local") == 0)
		return x->shell ? usage_error("local is not available in shell mode")
				: run_local(argc - 1, argv + 1);
	n = split_flags(argc - 1, argv + 1, &fl);
	if (fl.bad != NULL)
		return usage_error("%s: unknown or bad option %s", cmd, fl.bad);
	if (strcmp(cmd, "get") == 0)
		return cmd_get(x, argv + 1, n, &fl);
	if (strcmp(cmd, "put") == 0 || strcmp(cmd, "update") == 0 || strcmp(cmd, "del") == 0 ||
	    strcmp(cmd, "append") == 0 || strcmp(cmd, "cas") == 0)
		return cmd_write(x, cmd, argv + 1, n, &fl);
	if (strcmp(cmd, "keys") == 0)
		return cmd_range(x, true, argv + 1, n, &fl);
	if (strcmp(cmd, "range") == 0)
		return cmd_range(x, false, argv + 1, n, &fl);
	if (strcmp(cmd, "status") == 0)
		return cmd_status(x, n);
	if (strcmp(cmd, "member") == 0)
		return cmd_member(x, argv + 1, n);
	if (strcmp(cmd, "leader") == 0)
		return cmd_leader(x, argv + 1, n);
	if (strcmp(cmd, "snapshot") == 0)
		return x->shell ? usage_error("snapshot is not available in shell mode")
				: cmd_snapshot(x, argv + 1, n);
	return usage_error("unknown command '%s'", cmd);
}

/* ---- shell ---- */

/* Split @line into words: blanks separate, "double quotes" group, backslash escapes (\n \t
 * \\ \" \xHH). Returns the word count, or -1 on an unterminated quote. */
static int split_words(char *line, char **words, int max)
{
	char *r = line, *w = line;
	int n = 0;

	for (;;) {
		while (*r == ' ' || *r == '\t')
			r++;
		if (*r == '\0' || *r == '\n')
			return n;
		if (n == max)
			return -1;
		words[n++] = w;
		bool quoted = false;

		while (*r && (quoted || (*r != ' ' && *r != '\t' && *r != '\n'))) {
			if (*r == '"') {
				quoted = !quoted;
				r++;
			} else if (*r == '\\' && r[1]) {
				r++;
				if (*r == 'n') {
					*w++ = '\n';
					r++;
				} else if (*r == 't') {
					*w++ = '\t';
					r++;
				} else if (*r == 'x' && isxdigit((unsigned char)r[1]) &&
					   isxdigit((unsigned char)r[2])) {
					char hex[3] = { r[1], r[2], 0 };

					*w++ = (char)strtol(hex, NULL, 16);
					r += 3;
				} else {
					*w++ = *r++;
				}
			} else {
				*w++ = *r++;
			}
		}
		if (quoted)
			return -1;
		if (*r)
			r++;
		*w++ = '\0';
	}
}

static int run_shell(struct ctl *x)
{
	char *line = NULL, *words[MAX_ARGS];
	size_t cap = 0;
	int n, last = 0;

	x->shell = true;
	shell_mode = true;
	while (getline(&line, &cap, stdin) >= 0) {
		n = split_words(line, words, MAX_ARGS);
		if (n == 0)
			continue;
		if (n < 0)
			usage_error("unterminated quote or too many words");
		else if (strcmp(words[0], "quit") == 0 || strcmp(words[0], "exit") == 0)
			break;
		else
			last = dispatch(x, n, words);
		fflush(stdout);
	}
	(void)last;
	free(line);
	return 0;
}

/* ---- local clusters ---- */

static const char *daemon_path(void)
{
	static char buf[PATH_MAX];
	const char *env = getenv("RAFTKVD");

	if (env != NULL && *env)
		return env;
	snprintf(buf, sizeof buf, "%s/raftkvd", SBINDIR);
	if (access(buf, X_OK) == 0)
		return buf;
	return "raftkvd"; /* from PATH */
}

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

struct local {
	int n;
	char dir[PATH_MAX];
	int base;
	bool foreground;
	pid_t pids[8];
};

static int write_configs(struct local *L)
{
	char path[PATH_MAX + 32];
	FILE *f;

	for (int i = 1; i <= L->n; i++) {
		snprintf(path, sizeof path, "%s/node%d.conf", L->dir, i);
		f = fopen(path, "w");
		if (f == NULL) {
			fprintf(stderr, "raftkvctl: local: %s: %s\n", path, strerror(errno));
			return -1;
		}
		fprintf(f, "# written by raftkvctl local start\n[node]\nid = %d\ndata_dir = %s/node%d\n"
			   "\n[cluster]\n", i, L->dir, i);
		for (int j = 1; j <= L->n; j++)
			fprintf(f, "member.%d = 127.0.0.1:%d 127.0.0.1:%d\n", j, L->base + 1000 + j - 1,
				L->base + j - 1);
		if (fclose(f) != 0)
			return -1;
	}
	return 0;
}

static int read_pids(struct local *L)
{
	char path[PATH_MAX + 16];
	FILE *f;
	int i, n = 0;
	long pid;

	snprintf(path, sizeof path, "%s/pids", L->dir);
	f = fopen(path, "r");
	if (f == NULL)
		return -1;
	while (n < 8 && fscanf(f, "%d %ld", &i, &pid) == 2) {
		if (i >= 1 && i <= 8) {
			L->pids[i - 1] = (pid_t)pid;
			if (i > n)
				n = i;
		}
	}
	fclose(f);
	L->n = n;
	return n > 0 ? 0 : -1;
}

static int write_pids(const struct local *L)
{
	char path[PATH_MAX + 16];
	FILE *f;

	snprintf(path, sizeof path, "%s/pids", L->dir);
	f = fopen(path, "w");
	if (f == NULL)
		return -1;
	for (int i = 0; i < L->n; i++)
		fprintf(f, "%d %ld\n", i + 1, (long)L->pids[i]);
	return fclose(f);
}

static bool alive(pid_t pid)
{
	int st;

	if (pid <= 0)
		return false;
	if (waitpid(pid, &st, WNOHANG) == pid)
		return false; /* our child, just reaped */
	return kill(pid, 0) == 0;
}

static void stop_pids(struct local *L)
{
	uint64_t deadline = now_ms() + 10000;
	bool any;

	for (int i = 0; i < L->n; i++) {
		if (alive(L->pids[i]))
			kill(L->pids[i], SIGTERM);
	}
	do {
		any = false;
		for (int i = 0; i < L->n; i++)
			any |= alive(L->pids[i]);
		if (any)
			usleep(20000);
	} while (any && now_ms() < deadline);
	for (int i = 0; i < L->n; i++) {
		if (alive(L->pids[i])) {
			fprintf(stderr, "raftkvctl: local: node %d (pid %ld) did not stop; killing it\n",
				i + 1, (long)L->pids[i]);
			kill(L->pids[i], SIGKILL);
		}
	}
}

static void endpoints_of(const struct local *L, char *buf, size_t cap)
{
	buf[0] = '\0';
	for (int i = 0; i < L->n; i++)
		snprintf(buf + strlen(buf), cap - strlen(buf), "%s127.0.0.1:%d", i ? "," : "",
			 L->base + i);
}

static volatile sig_atomic_t got_signal;

static void on_signal(int sig)
{
	got_signal = sig;
}

static int local_start(struct local *L)
{
	char eps[512], path[PATH_MAX + 32];
	struct rkc_options o = { .endpoints = eps, .deadline_ms = 500, .request_timeout_ms = 300 };
	struct rkc_client *c;
	struct rkc_node_status st;
	uint64_t deadline;
	int leader = 0;

	if (mkdir(L->dir, 0755) != 0 && errno != EEXIST) {
		fprintf(stderr, "raftkvctl: local: %s: %s\n", L->dir, strerror(errno));
		return EXIT_USAGE;
	}
	{
		char real[PATH_MAX];

		if (realpath(L->dir, real) == NULL) {
			fprintf(stderr, "raftkvctl: local: %s: %s\n", L->dir, strerror(errno));
			return EXIT_USAGE;
		}
		memcpy(L->dir, real, sizeof real);
	}
	{
		struct local old = *L;

		if (read_pids(&old) == 0) {
			for (int i = 0; i < old.n; i++) {
				if (alive(old.pids[i])) {
					fprintf(stderr, "raftkvctl: local: a cluster already runs in %s "
							"(pid %ld); stop it with: raftkvctl local stop --dir %s\n",
						L->dir, (long)old.pids[i], L->dir);
					return EXIT_USAGE;
				}
			}
		}
	}
	if (write_configs(L) != 0)
		return EXIT_USAGE;
	for (int i = 0; i < L->n; i++) {
		pid_t pid = fork();

		if (pid < 0) {
			fprintf(stderr, "raftkvctl: local: fork: %s\n", strerror(errno));
			stop_pids(L);
			return EXIT_UNKNOWN;
		}
		if (pid == 0) {
			int fd;

			/* Own session: a Ctrl-C in the terminal reaches raftkvctl only, which then
			 * stops every node with one SIGTERM. */
			setsid();
			snprintf(path, sizeof path, "%s/node%d.log", L->dir, i + 1);
			fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
			if (fd >= 0) {
				dup2(fd, STDOUT_FILENO);
				dup2(fd, STDERR_FILENO);
			}
			snprintf(path, sizeof path, "%s/node%d.conf", L->dir, i + 1);
			execlp(daemon_path(), "raftkvd", "-c", path, (char *)NULL);
			fprintf(stderr, "raftkvctl: exec %s: %s\n", daemon_path(), strerror(errno));
			_exit(127);
		}
		L->pids[i] = pid;
	}
	write_pids(L);
	endpoints_of(L, eps, sizeof eps);
	if (rkc_open(&o, &c) != RKC_OK)
		return EXIT_USAGE;
	deadline = now_ms() + 15000;
	while (leader == 0 && now_ms() < deadline) {
		for (int i = 0; i < L->n; i++) {
			if (!alive(L->pids[i])) {
				fprintf(stderr, "raftkvctl: local: node %d exited; see %s/node%d.log\n",
					i + 1, L->dir, i + 1);
				rkc_close(c);
				stop_pids(L);
				return EXIT_UNKNOWN;
			}
			snprintf(path, sizeof path, "127.0.0.1:%d", L->base + i);
			if (rkc_status(c, path, &st) == RKC_OK && strcmp(st.role, "leader") == 0)
				leader = i + 1;
		}
		if (leader == 0)
			usleep(100000);
	}
	rkc_close(c);
	if (leader == 0) {
		fprintf(stderr, "raftkvctl: local: no leader within 15 s; see %s/node*.log\n", L->dir);
		if (L->foreground)
			stop_pids(L);
		return EXIT_UNKNOWN;
	}
	printf("raftkv: %d nodes on 127.0.0.1, leader n%d, data and logs in %s\n", L->n, leader,
	       L->dir);
	printf("endpoints: %s\n", eps);
	printf("try:       RAFTKV_ENDPOINTS=%s raftkvctl put hello world\n", eps);
	if (!L->foreground) {
		printf("stop with: raftkvctl local stop --dir %s\n", L->dir);
		return 0;
	}
	printf("Ctrl-C stops the cluster.\n");
	fflush(stdout);
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	while (!got_signal) {
		bool any = false;

		for (int i = 0; i < L->n; i++)
			any |= alive(L->pids[i]);
		if (!any) {
			fprintf(stderr, "raftkvctl: local: every node exited\n");
			return EXIT_UNKNOWN;
		}
		usleep(200000);
	}
	printf("\nstopping...\n");
	stop_pids(L);
	snprintf(path, sizeof path, "%s/pids", L->dir);
	unlink(path);
	printf("stopped; data kept in %s\n", L->dir);
	return 0;
}

static int run_local(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "dir", required_argument, NULL, 'd' },
		{ "base-port", required_argument, NULL, 'p' },
		{ "foreground", no_argument, NULL, 'f' },
		{ NULL, 0, NULL, 0 },
	};
	struct local L = { .n = 3, .base = 7001 };
	const char *sub;
	char path[PATH_MAX + 16], *end;
	int c;

	if (argc < 1)
		return usage_error("local takes start|stop|status");
	sub = argv[0];
	L.dir[0] = '\0';
	optind = 1;
	while ((c = getopt_long(argc, argv, "n:", opts, NULL)) != -1) {
		switch (c) {
		case 'n':
			L.n = (int)strtol(optarg, &end, 10);
			if (*end || L.n < 1 || L.n > 7)
				return usage_error("-n takes 1 to 7");
			break;
		case 'd':
			snprintf(L.dir, sizeof L.dir, "%s", optarg);
			break;
		case 'p':
			L.base = (int)strtol(optarg, &end, 10);
			if (*end || L.base < 1024 || L.base > 64000)
				return usage_error("--base-port takes 1024 to 64000");
			break;
		case 'f':
			L.foreground = true;
			break;
		default:
			return usage_error("local: bad option");
		}
	}
	if (optind < argc)
		return usage_error("local %s: unexpected argument '%s'", sub, argv[optind]);
	if (L.dir[0] == '\0')
		return usage_error("local %s needs --dir DIR", sub);
	if (strcmp(sub, "start") == 0)
		return local_start(&L);
	if (read_pids(&L) != 0) {
		fprintf(stderr, "raftkvctl: local: no cluster recorded in %s\n", L.dir);
		return strcmp(sub, "status") == 0 ? EXIT_UNKNOWN : EXIT_USAGE;
	}
	if (strcmp(sub, "stop") == 0) {
		stop_pids(&L);
		snprintf(path, sizeof path, "%s/pids", L.dir);
		unlink(path);
		printf("stopped %d nodes\n", L.n);
		return 0;
	}
	if (strcmp(sub, "status") == 0) {
		int up = 0;

		for (int i = 0; i < L.n; i++) {
			bool a = alive(L.pids[i]);

			printf("node %d pid %ld %s\n", i + 1, (long)L.pids[i], a ? "running" : "stopped");
			up += a;
		}
		return up == L.n ? 0 : EXIT_UNKNOWN;
	}
	return usage_error("local takes start|stop|status");
}

/* ---- main ---- */

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "endpoints", required_argument, NULL, 'e' },
		{ "timeout", required_argument, NULL, 't' },
		{ "write-out", required_argument, NULL, 'w' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	struct ctl x = { .timeout_ms = 5000, .fmt = FMT_TABLE };
	char *end;
	int c, rv;

	x.endpoints = getenv("RAFTKV_ENDPOINTS");
	if (x.endpoints == NULL || *x.endpoints == '\0')
		x.endpoints = "127.0.0.1:7001,127.0.0.1:7002,127.0.0.1:7003";
	/* Options before the command only: the command's own flags follow it. */
	while ((c = getopt_long(argc, argv, "+e:t:w:hV", opts, NULL)) != -1) {
		switch (c) {
		case 'e':
			x.endpoints = optarg;
			break;
		case 't':
			errno = 0;
			x.timeout_ms = (unsigned)strtoul(optarg, &end, 10);
			if (errno || *end || x.timeout_ms == 0 || x.timeout_ms > 3600000)
				return usage_error("--timeout takes milliseconds, 1 to 3600000");
			break;
		case 'w':
			if (strcmp(optarg, "json") == 0)
				x.fmt = FMT_JSON;
			else if (strcmp(optarg, "table") == 0)
				x.fmt = FMT_TABLE;
			else
				return usage_error("-w takes table or json");
			break;
		case 'h':
			fputs(usage_text, stdout);
			return 0;
		case 'V':
			printf("raftkvctl %s\n", PACKAGE_VERSION);
			return 0;
		default:
			fputs(usage_text, stderr);
			return EXIT_USAGE;
		}
	}
	signal(SIGPIPE, SIG_IGN);
	if (optind < argc && strcmp(argv[optind], "shell") == 0) {
		if (optind + 1 != argc)
			return usage_error("shell takes no arguments");
		rv = run_shell(&x);
	} else {
		rv = dispatch(&x, argc - optind, argv + optind);
	}
	rkc_close(x.c);
	return rv;
}

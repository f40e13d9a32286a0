/* test_config.c -- raftkv.conf: the shipped sample loads, defaults fill what is absent, the
 * command line wins over the file, and every kind of bad file is refused with RK_ECONFIG and
 * one line naming the file, the key and the problem. */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/err.h"
#include "harness/runner.h"
#include "server/hostcheck.h"
#include "server/node_config.h"

#ifndef RK_TOP_SRCDIR
#define RK_TOP_SRCDIR "."
#endif

/* A valid 3-node cluster seen from node 1; cases append to it or replace parts. */
#define NODE "[node]\nid = 1\ndata_dir = /var/lib/raftkv/n1\n"
#define MEMBERS                                                                                    \
	"[cluster]\n"                                                                              \
	"member.1 = 127.0.0.1:8001 127.0.0.1:7001\n"                                               \
	"member.2 = 127.0.0.1:8002 127.0.0.1:7002\n"                                               \
	"member.3 = 127.0.0.1:8003 127.0.0.1:7003\n"
#define GOOD NODE MEMBERS

static char *dir; /* per-test temp directory, owned */
static char path[512];

static int setup(void)
{
	dir = rk_test_tmpdir("config");
	return dir == NULL ? -1 : 0;
}

static int teardown(void)
{
	rk_test_rmtree(dir);
	dir = NULL;
	return 0;
}

/* Write @text to DIR/bad.conf and leave its path in `path`. */
static const char *write_conf(const char *text)
{
	FILE *f;

	snprintf(path, sizeof path, "%s/bad.conf", dir);
	f = fopen(path, "w");
	CU_ASSERT_PTR_NOT_NULL_FATAL(f);
	CU_ASSERT_EQUAL(fputs(text, f) >= 0, 1);
	CU_ASSERT_EQUAL_FATAL(fclose(f), 0);
	return path;
}

/* Load and validate @text; returns the first error. */
static int load_text(const char *text, struct rk_config *c, struct rk_err *err)
{
	int rv;

	rk_config_defaults(c);
	memset(err, 0, sizeof *err);
	rv = rk_config_load(c, write_conf(text), err);
	if (rv == RK_OK)
		rv = rk_config_validate(c, path, err);
	return rv;
}

/* @text must fail with RK_ECONFIG, and the message name the file, @key and @word. */
static void expect_bad(const char *text, const char *key, const char *word, int line)
{
	struct rk_config c;
	struct rk_err err;
	int rv = load_text(text, &c, &err);

	CU_ASSERT_EQUAL(rv, RK_ECONFIG);
	CU_ASSERT_EQUAL(err.code, RK_ECONFIG);
	CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "bad.conf"));
	CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, key));
	CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, word));
	CU_ASSERT_PTR_NULL(strchr(err.msg, '\n')); /* one line */
	if (getenv("RK_TEST_VERBOSE") != NULL) /* to review the wording */
		fprintf(stderr, "  %s\n", err.msg);
	if (rv != RK_ECONFIG || strstr(err.msg, key) == NULL || strstr(err.msg, word) == NULL)
		fprintf(stderr, "\n  case at line %d: rv %d, message \"%s\" lacks \"%s\"/\"%s\"\n",
			line, rv, err.msg, key, word);
}
#define BAD(text, key, word) expect_bad((text), (key), (word), __LINE__)

static void expect_good(const char *text, struct rk_config *c, int line)
{
	struct rk_err err;
	int rv = load_text(text, c, &err);

	CU_ASSERT_EQUAL(rv, RK_OK);
	if (rv != RK_OK)
		fprintf(stderr, "\n  case at line %d: rv %d: %s\n", line, rv, err.msg);
}
#define GOOD_CONF(text, c) expect_good((text), (c), __LINE__)

static in_port_t port_of(const struct rk_config_addr *a)
{
	if (a->sa.ss_family == AF_INET)
		return ntohs(((const struct sockaddr_in *)(const void *)&a->sa)->sin_port);
	return ntohs(((const struct sockaddr_in6 *)(const void *)&a->sa)->sin6_port);
}

/* ---- good files ----------------------------------------------------------------------- */

static void test_sample_loads(void)
{
	const char *top = getenv("RK_TOP_SRCDIR");
	char sample[1024];
	struct rk_config c;
	struct rk_err err = { 0 };

	snprintf(sample, sizeof sample, "%s/etc/raftkv.conf", top != NULL ? top : RK_TOP_SRCDIR);
	rk_config_defaults(&c);
	CU_ASSERT_EQUAL_FATAL(rk_config_load(&c, sample, &err), RK_OK);
	CU_ASSERT_EQUAL_FATAL(rk_config_validate(&c, sample, &err), RK_OK);
	CU_ASSERT_EQUAL(c.id, 1);
	CU_ASSERT_EQUAL(c.n_members, 3);
	CU_ASSERT_STRING_EQUAL(c.data_dir, "/var/lib/raftkv/node1");
	CU_ASSERT_STRING_EQUAL(c.client_listen.text, "127.0.0.1:7001");
	CU_ASSERT_STRING_EQUAL(c.peer_listen.text, "127.0.0.1:8001");
	CU_ASSERT_EQUAL(c.election_min_ms, 300);
	CU_ASSERT_EQUAL(c.election_max_ms, 600);
	CU_ASSERT_EQUAL(c.heartbeat_ms, 50);
	CU_ASSERT_EQUAL(c.queue_size, 65536);
	CU_ASSERT_EQUAL(c.max_value_bytes, 1048576);
	CU_ASSERT_EQUAL(c.snapshot_bytes, 1u << 30);
	CU_ASSERT_EQUAL(c.max_frame_bytes, 16u << 20);
	CU_ASSERT_EQUAL(c.fsync, true);
	CU_ASSERT_EQUAL(c.segment_bytes, 64u << 20);
	CU_ASSERT_EQUAL(c.log_level, RK_LOG_INFO);
	CU_ASSERT_PTR_EQUAL(rk_config_self(&c), &c.members[0]);
	CU_ASSERT_STRING_EQUAL(c.members[2].client.text, "127.0.0.1:7003");
	if (err.msg[0] != '\0')
		fprintf(stderr, "\n  sample: %s\n", err.msg);
}

static void test_defaults_when_absent(void)
{
	struct rk_config c, d;

	GOOD_CONF(GOOD, &c);
	rk_config_defaults(&d);
	CU_ASSERT_EQUAL(c.election_min_ms, 300);
	CU_ASSERT_EQUAL(c.election_max_ms, 600);
	CU_ASSERT_EQUAL(c.heartbeat_ms, 50);
	CU_ASSERT_EQUAL(c.snapshot_entries, 100000);
	CU_ASSERT_EQUAL(c.snapshot_bytes, 1u << 30);
	CU_ASSERT_EQUAL(c.workers, 0);
	CU_ASSERT_EQUAL(c.queue_size, 65536);
	CU_ASSERT_EQUAL(c.max_key_bytes, 4096);
	CU_ASSERT_EQUAL(c.max_value_bytes, 1u << 20);
	CU_ASSERT_EQUAL(c.max_frame_bytes, 16u << 20);
	CU_ASSERT_EQUAL(c.fsync, true);
	CU_ASSERT_EQUAL(c.segment_bytes, 64u << 20);
	CU_ASSERT_EQUAL(c.log_level, RK_LOG_INFO);
	CU_ASSERT_EQUAL(d.id, 0);
	CU_ASSERT_EQUAL(d.n_members, 0);
	/* listen addresses come from the own member entry */
	CU_ASSERT_STRING_EQUAL(c.client_listen.text, "127.0.0.1:7001");
	CU_ASSERT_STRING_EQUAL(c.peer_listen.text, "127.0.0.1:8001");
	CU_ASSERT_EQUAL(port_of(&c.peer_listen), 8001);
}

static void test_value_syntax(void)
{
	struct rk_config c;

	/* iniparser lower-cases names, strips quotes and inline comments; sizes take suffixes;
	 * booleans and levels are case-insensitive. */
	GOOD_CONF("[NODE]\nID = 1\nData_Dir = \"/srv/raft kv/n1\"  ; quoted\n" MEMBERS
		  "[raft]\nheartbeat_ms = 20 # ms\nsnapshot_bytes = 512M\n"
		  "[server]\nmax_value_bytes = 2MiB\nmax_key_bytes = 1 K\nmax_frame_bytes = 1G\n"
		  "workers = 1024\nqueue_size = 16777216\n"
		  "[storage]\nfsync = Off\nsegment_bytes = 128m\n[log]\nlevel = DEBUG\n",
		  &c);
	CU_ASSERT_STRING_EQUAL(c.data_dir, "/srv/raft kv/n1");
	CU_ASSERT_EQUAL(c.heartbeat_ms, 20);
	CU_ASSERT_EQUAL(c.snapshot_bytes, 512u << 20);
	CU_ASSERT_EQUAL(c.max_value_bytes, 2u << 20);
	CU_ASSERT_EQUAL(c.max_key_bytes, 1024);
	CU_ASSERT_EQUAL(c.max_frame_bytes, 1u << 30);
	CU_ASSERT_EQUAL(c.workers, 1024);
	CU_ASSERT_EQUAL(c.queue_size, 1u << 24);
	CU_ASSERT_EQUAL(c.fsync, false);
	CU_ASSERT_EQUAL(c.segment_bytes, 128u << 20);
	CU_ASSERT_EQUAL(c.log_level, RK_LOG_DEBUG);

	/* a section may come back in a second block as long as no key repeats */
	GOOD_CONF("[node]\nid = 2\n[cluster]\nmember.2 = 10.0.0.2:8000 10.0.0.2:7000\n"
		  "member.1 = 10.0.0.1:8000 10.0.0.1:7000\n[node]\ndata_dir = /d\n",
		  &c);
	CU_ASSERT_EQUAL(c.members[0].id, 1); /* sorted by id */
	CU_ASSERT_STRING_EQUAL(c.peer_listen.text, "10.0.0.2:8000");

	/* IPv6, and wildcard listeners with the member's ports */
	GOOD_CONF("[node]\nid = 7\ndata_dir = /d\nclient_listen = [::]:7000\n"
		  "peer_listen = 0.0.0.0:8000\n"
		  "[cluster]\nmember.7 = [2001:db8::7]:8000 [2001:db8::7]:7000\n"
		  "member.8 = [2001:db8::8]:8000 [2001:db8::8]:7000\n",
		  &c);
	CU_ASSERT_EQUAL(c.client_listen.sa.ss_family, AF_INET6);
	CU_ASSERT_EQUAL(port_of(&c.client_listen), 7000);
	CU_ASSERT_STRING_EQUAL(c.members[0].peer.text, "[2001:db8::7]:8000");

	/* CRLF line ends and a continued value; line numbers stay right after it */
	GOOD_CONF("[node]\r\nid = 1\r\ndata_dir = /d\r\n[raft]\r\nheartbeat_ms = \\\r\n 90\r\n"
		  MEMBERS,
		  &c);
	CU_ASSERT_EQUAL(c.heartbeat_ms, 90);
	BAD("[raft]\nheartbeat_ms = \\\n 900\n# comment \\\nid = 2\n[node]\nid = 1\n"
	    "data_dir = /d\n" MEMBERS,
	    "bad.conf:2: [raft] heartbeat_ms = 900", "less than");

	/* the EXAMPLE of raftkv.conf(5) */
	GOOD_CONF("[node]\nid = 2\npeer_listen = 0.0.0.0:8000\nclient_listen = 0.0.0.0:7000\n"
		  "data_dir = /var/lib/raftkv\n\n[cluster]\n"
		  "member.1 = 10.0.0.1:8000 10.0.0.1:7000\n"
		  "member.2 = 10.0.0.2:8000 10.0.0.2:7000\n"
		  "member.3 = 10.0.0.3:8000 10.0.0.3:7000\n\n[log]\nlevel = info\n",
		  &c);
	CU_ASSERT_STRING_EQUAL(rk_config_self(&c)->client.text, "10.0.0.2:7000");

	/* a listen address equal to the member's is fine too */
	GOOD_CONF("[node]\nid = 1\ndata_dir = /d\nclient_listen = 127.0.0.1:7001\n" MEMBERS, &c);
}

static void test_overrides_win(void)
{
	struct rk_config c;
	struct rk_err err = { 0 };

	rk_config_defaults(&c);
	CU_ASSERT_EQUAL_FATAL(rk_config_load(&c, write_conf(GOOD "[raft]\nheartbeat_ms = 40\n"),
					     &err),
			      RK_OK);
	CU_ASSERT_EQUAL(rk_config_set(&c, "raft.heartbeat_ms", "25", &err), RK_OK);
	CU_ASSERT_EQUAL(rk_config_set(&c, "node.id", "2", &err), RK_OK);
	CU_ASSERT_EQUAL(rk_config_set(&c, "Server.Workers", "8", &err), RK_OK);
	CU_ASSERT_EQUAL(rk_config_set(&c, "storage.fsync", "false", &err), RK_OK);
	CU_ASSERT_EQUAL(rk_config_set(&c, "cluster.member.3", "127.0.0.1:9003 127.0.0.1:9103",
				      &err),
			RK_OK);
	CU_ASSERT_EQUAL(rk_config_set(&c, "cluster.member.4", "127.0.0.1:8004 127.0.0.1:7004",
				      &err),
			RK_OK);
	CU_ASSERT_EQUAL_FATAL(rk_config_validate(&c, path, &err), RK_OK);
	CU_ASSERT_EQUAL(c.heartbeat_ms, 25);
	CU_ASSERT_EQUAL(c.id, 2);
	CU_ASSERT_EQUAL(c.workers, 8);
	CU_ASSERT_EQUAL(c.fsync, false);
	CU_ASSERT_EQUAL(c.n_members, 4);
	CU_ASSERT_STRING_EQUAL(c.members[2].peer.text, "127.0.0.1:9003");
	CU_ASSERT_STRING_EQUAL(c.peer_listen.text, "127.0.0.1:8002"); /* member 2's now */

	/* bad overrides say where they came from */
	CU_ASSERT_EQUAL(rk_config_set(&c, "raft.heartbeat", "25", &err), RK_ECONFIG);
	CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "command line"));
	CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "unknown key"));
	CU_ASSERT_EQUAL(rk_config_set(&c, "heartbeat_ms", "25", &err), RK_ECONFIG);
	CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "SECTION.KEY"));
	CU_ASSERT_EQUAL(rk_config_set(&c, "server.workers", "many", &err), RK_ECONFIG);
	CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "command line: [server] workers = many"));
	CU_ASSERT_EQUAL(rk_config_set(&c, "raft.election_timeout_min_ms", "20", &err), RK_OK);
	CU_ASSERT_EQUAL(rk_config_validate(&c, path, &err), RK_ECONFIG);
	CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "command line: [raft] heartbeat_ms = 25"));
	CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "(20, from the command line)"));
	/* no err given: still the code */
	CU_ASSERT_EQUAL(rk_config_set(&c, "nope.nope", "1", NULL), RK_ECONFIG);
	CU_ASSERT_EQUAL(rk_config_validate(&c, path, NULL), RK_ECONFIG);
}

static void test_dump_reloads(void)
{
	struct rk_config a, b;
	struct rk_err err = { 0 };
	char dump[600];
	FILE *f;

	GOOD_CONF(GOOD "[storage]\nfsync = false\n[node]\nclient_listen = 0.0.0.0:7001\n", &a);
	snprintf(dump, sizeof dump, "%s/dump.conf", dir);
	f = fopen(dump, "w");
	CU_ASSERT_PTR_NOT_NULL_FATAL(f);
	CU_ASSERT_EQUAL(rk_config_dump(&a, f), RK_OK);
	fclose(f);
	rk_config_defaults(&b);
	CU_ASSERT_EQUAL_FATAL(rk_config_load(&b, dump, &err), RK_OK);
	CU_ASSERT_EQUAL_FATAL(rk_config_validate(&b, dump, &err), RK_OK);
	CU_ASSERT_EQUAL(b.id, a.id);
	CU_ASSERT_EQUAL(b.n_members, a.n_members);
	CU_ASSERT_EQUAL(b.fsync, false);
	CU_ASSERT_STRING_EQUAL(b.client_listen.text, "0.0.0.0:7001");
	CU_ASSERT_STRING_EQUAL(b.data_dir, a.data_dir);
	/* everything but where the values came from */
	memset(a.origin, 0, sizeof a.origin);
	memset(b.origin, 0, sizeof b.origin);
	for (unsigned i = 0; i < a.n_members; i++)
		a.members[i].origin = b.members[i].origin = 0;
	CU_ASSERT_EQUAL(memcmp(&a, &b, sizeof a), 0);
}

static void test_parse_addr(void)
{
	struct rk_config_addr a;
	struct rk_err err;

	CU_ASSERT_EQUAL(rk_config_parse_addr("10.1.2.3:65535", &a, &err), RK_OK);
	CU_ASSERT_EQUAL(a.sa.ss_family, AF_INET);
	CU_ASSERT_EQUAL(a.len, sizeof(struct sockaddr_in));
	CU_ASSERT_EQUAL(port_of(&a), 65535);
	CU_ASSERT_EQUAL(rk_config_parse_addr("[::1]:1", &a, &err), RK_OK);
	CU_ASSERT_EQUAL(a.sa.ss_family, AF_INET6);
	CU_ASSERT_EQUAL(a.len, sizeof(struct sockaddr_in6));
	CU_ASSERT_STRING_EQUAL(a.text, "[::1]:1");

	static const char *const bad[] = {
		"", "10.1.2.3", "10.1.2.3:", "10.1.2.3:0", "10.1.2.3:65536", "10.1.2.3:80x",
		"10.1.2.3:-1", "localhost:80", "127.1:80", "::1:80", "[::1]80", "[::1:80",
		"[10.1.2.3]:80", ":80", "10.1.2.3:+80", "[fe80::1%eth0]:80",
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		CU_ASSERT_EQUAL(rk_config_parse_addr(bad[i], &a, &err), RK_EINVAL);
		CU_ASSERT_NOT_EQUAL(err.msg[0], '\0');
	}
}

/* ---- bad files ------------------------------------------------------------------------ */

static void test_file_errors(void)
{
	struct rk_config c;
	struct rk_err err = { 0 };
	char missing[600];

	rk_config_defaults(&c);
	snprintf(missing, sizeof missing, "%s/missing.conf", dir);
	CU_ASSERT_EQUAL(rk_config_load(&c, missing, &err), RK_ECONFIG);
	CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "missing.conf: cannot open"));
	CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "No such file"));

	CU_ASSERT_EQUAL(rk_config_load(&c, dir, &err), RK_ECONFIG);
	CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "directory"));

	if (geteuid() != 0) { /* root reads anything */
		write_conf(GOOD);
		CU_ASSERT_EQUAL_FATAL(chmod(path, 0), 0);
		CU_ASSERT_EQUAL(rk_config_load(&c, path, &err), RK_ECONFIG);
		CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "Permission denied"));
		CU_ASSERT_EQUAL(chmod(path, 0600), 0);
	}
}

static void test_syntax_and_unknown(void)
{
	/* ini syntax, reported by iniparser with the line, on one line of ours */
	BAD("[node]\nid 1\n", "bad.conf:2: syntax error", ": id 1");
	BAD("[node\nid = 1\n", "bad.conf:1: syntax error", "[node");
	BAD("[node]\nid = 1\ndata_dir = /\n\n#\n[cluster]\nmember.1 = x y\nx\ny\n",
	    "bad.conf:8: syntax error", "(and more errors)");
	{
		char longline[1200] = "[node]\nid = 1";
		memset(longline + strlen(longline), '1', 1100);
		BAD(longline, "bad.conf:2", "too long");
	}
	/* typo protection */
	BAD(GOOD "[nodes]\nx = 1\n", "[nodes]", "unknown section");
	BAD(GOOD "[raft]\nheartbeat = 50\n", "heartbeat", "unknown key");
	BAD(GOOD "[server]\nworker = 4\n", "bad.conf:9: [server] worker", "unknown key");
	BAD("id = 1\n" GOOD, "id", "outside any [section]");
	BAD(GOOD "[cluster]\nmembers = 4\n", "members", "unknown key");
	BAD(GOOD "[cluster]\nmember.x = 127.0.0.1:1 127.0.0.1:2\n", "member.x", "unknown key");
	/* duplicates that iniparser alone would swallow */
	BAD(GOOD "[cluster]\nmember.2 = 127.0.0.1:8009 127.0.0.1:7009\n", "member.2",
	    "duplicate key (first on line 6");
	BAD(GOOD "[node]\nID = 3\n", "bad.conf:9: [node] id", "duplicate key");
	BAD(GOOD "[cluster]\nmember.01 = 127.0.0.1:8009 127.0.0.1:7009\n", "member.01",
	    "duplicate member id 1 (also on line 5)");
}

static void test_bad_values(void)
{
	/* integers: garbage, sign, base prefixes, overflow, empty, ranges */
	BAD(GOOD "[raft]\nheartbeat_ms = abc\n", "[raft] heartbeat_ms = abc", "integer");
	BAD(GOOD "[raft]\nheartbeat_ms = 12abc\n", "heartbeat_ms = 12abc", "integer");
	BAD(GOOD "[raft]\nheartbeat_ms = 0x10\n", "heartbeat_ms", "integer");
	BAD(GOOD "[raft]\nheartbeat_ms = -5\n", "heartbeat_ms = -5", "negative");
	BAD(GOOD "[raft]\nheartbeat_ms =\n", "heartbeat_ms", "empty");
	BAD(GOOD "[raft]\nheartbeat_ms = 0\n", "heartbeat_ms = 0", "out of range");
	BAD(GOOD "[raft]\nsnapshot_entries = 99999999999999999999999\n", "snapshot_entries",
	    "out of range");
	BAD(GOOD "[raft]\nelection_timeout_max_ms = 600000\n", "election_timeout_max_ms",
	    "out of range");
	BAD(GOOD "[server]\nworkers = 1025\n", "workers = 1025", "out of range 0..1024");
	BAD(GOOD "[server]\nqueue_size = 0\n", "queue_size = 0", "out of range");
	BAD(GOOD "[server]\nqueue_size = 16777217\n", "queue_size", "out of range");
	BAD(GOOD "[server]\nmax_key_bytes = 0\n", "max_key_bytes = 0", "out of range");
	BAD(GOOD "[server]\nmax_value_bytes = 0\n", "max_value_bytes = 0", "out of range");
	BAD(GOOD "[server]\nmax_frame_bytes = 0\n", "max_frame_bytes = 0", "out of range");
	BAD(GOOD "[server]\nmax_value_bytes = 1MB\n", "max_value_bytes = 1MB", "not a size");
	BAD(GOOD "[server]\nmax_value_bytes = 99999999999999T\n", "max_value_bytes",
	    "out of range");
	BAD(GOOD "[storage]\nsegment_bytes = 4K\n", "segment_bytes = 4K", "out of range");
	BAD(GOOD "[storage]\nfsync = maybe\n", "fsync = maybe", "boolean");
	BAD(GOOD "[log]\nlevel = verbose\n", "[log] level = verbose", "not a log level");
	BAD("[node]\nid = 0\ndata_dir = /d\n" MEMBERS, "[node] id = 0", "positive");
	BAD("[node]\nid = one\ndata_dir = /d\n" MEMBERS, "[node] id = one", "integer");
	BAD("[node]\nid = 1\ndata_dir = var/lib\n" MEMBERS, "data_dir = var/lib", "absolute");
	BAD("[node]\nid = 1\ndata_dir =\n" MEMBERS, "data_dir", "empty");
	/* addresses */
	BAD(GOOD "[node]\nclient_listen = 127.0.0.1\n", "client_listen = 127.0.0.1", "no port");
	BAD(GOOD "[node]\npeer_listen = 127.0.0.1:99999\n", "peer_listen", "bad port");
	BAD(GOOD "[node]\npeer_listen = node1:8001\n", "peer_listen = node1:8001", "numeric");
	BAD(GOOD "[cluster]\nmember.4 = 127.0.0.1:8004\n", "member.4", "two addresses");
	BAD(GOOD "[cluster]\nmember.4 = 127.0.0.1:8004 127.0.0.1:7004 x\n", "member.4",
	    "two addresses");
	BAD(GOOD "[cluster]\nmember.4 = 127.0.0.1:8004 ::1:7004\n", "member.4",
	    "client address: IPv6 host without brackets");
	BAD(GOOD "[cluster]\nmember.4 = 127.0.0.1.1:8004 127.0.0.1:7004\n", "member.4",
	    "peer address: bad host");
	BAD(GOOD "[cluster]\nmember.0 = 127.0.0.1:8004 127.0.0.1:7004\n", "member.0", "positive");
	BAD(GOOD "[cluster]\nmember.4 = 0.0.0.0:8004 127.0.0.1:7004\n", "member.4",
	    "peer address: a wildcard cannot be dialled");
	BAD(GOOD "[cluster]\nmember.4 = 127.0.0.1:8004 [::]:7004\n", "member.4",
	    "client address: a wildcard");
	{
		char huge[400];
		snprintf(huge, sizeof huge, GOOD "[cluster]\nmember.4 = %0200d\n", 1);
		BAD(huge, "member.4 = 0000000", "too long");
	}
}

static void test_cross_field(void)
{
	/* required keys */
	BAD("[node]\ndata_dir = /d\n" MEMBERS, "[node] id", "missing");
	BAD("[node]\nid = 1\n" MEMBERS, "[node] data_dir", "missing");
	BAD(NODE "[cluster]\n", "[cluster]", "no member.ID entries");
	BAD(NODE, "[cluster]", "no member.ID entries");
	/* membership */
	BAD("[node]\nid = 4\ndata_dir = /d\n" MEMBERS, "[node] id = 4",
	    "not among the [cluster] member ids (1, 2, 3)");
	BAD(GOOD "[cluster]\nmember.4 = 127.0.0.1:8001 127.0.0.1:7004\n", "member.4",
	    "duplicate address: peer 127.0.0.1:8001 is member.1's peer address");
	BAD(GOOD "[cluster]\nmember.4 = 127.0.0.1:8004 127.0.0.1:7002\n", "member.4",
	    "client 127.0.0.1:7002 is member.2's client address");
	BAD(GOOD "[cluster]\nmember.4 = 127.0.0.1:8004 127.0.0.1:8003\n", "member.4",
	    "member.3's peer address");
	BAD(GOOD "[cluster]\nmember.4 = 127.0.0.1:8004 127.0.0.1:8004\n", "member.4",
	    "peer and client address are the same");
	{
		char many[2048] = NODE "[cluster]\n";
		for (int i = 1; i <= 17; i++)
			snprintf(many + strlen(many), sizeof many - strlen(many),
				 "member.%d = 10.0.0.%d:8000 10.0.0.%d:7000\n", i, i, i);
		BAD(many, "member.17", "more than 16 members");
	}
	/* timeouts */
	BAD(GOOD "[raft]\nelection_timeout_min_ms = 700\n", "election_timeout_min_ms = 700",
	    "must be less than election_timeout_max_ms (600, the default)");
	BAD(GOOD "[raft]\nelection_timeout_min_ms = 500\nelection_timeout_max_ms = 500\n",
	    "bad.conf:9: [raft] election_timeout_min_ms = 500", "(500, line 10)");
	BAD(GOOD "[raft]\nheartbeat_ms = 900\n", "[raft] heartbeat_ms = 900",
	    "must be less than election_timeout_min_ms (300, the default)");
	BAD(GOOD "[raft]\nheartbeat_ms = 300\n", "heartbeat_ms = 300", "less than");
	BAD(GOOD "[raft]\nelection_timeout_min_ms = 40\n", "heartbeat_ms = 50 (default)",
	    "less than election_timeout_min_ms (40, line 9)");
	BAD(GOOD "[raft]\nsnapshot_entries = 0\nsnapshot_bytes = 0\n", "snapshot_entries = 0",
	    "never be compacted");
	/* sizes that must nest */
	BAD(GOOD "[server]\nmax_value_bytes = 64M\n", "max_frame_bytes = 16777216 (default)",
	    "too small");
	BAD(GOOD "[storage]\nsegment_bytes = 1M\n", "segment_bytes = 1048576", "too small");
	/* listen addresses against the own member entry */
	BAD(GOOD "[node]\nclient_listen = 127.0.0.1:9999\n", "client_listen = 127.0.0.1:9999",
	    "must be the own member's client address 127.0.0.1:7001");
	BAD(GOOD "[node]\npeer_listen = 0.0.0.0:9999\n", "peer_listen = 0.0.0.0:9999",
	    "own member's peer address");
	BAD(GOOD "[node]\npeer_listen = 127.0.0.2:8001\n", "peer_listen", "own member's");
	BAD("[node]\nid = 1\ndata_dir = /d\nclient_listen = 0.0.0.0:7000\n[cluster]\n"
	    "member.1 = 10.0.0.1:7000 10.0.0.2:7000\nmember.2 = 10.0.0.3:7000 10.0.0.4:7000\n",
	    "client_listen = 0.0.0.0:7000", "collides with peer_listen (10.0.0.1:7000)");
}

/* dial.ID: where this node connects to another (a proxy, a NAT) without changing who it is. */
static void test_dial(void)
{
	struct rk_config c;
	char text[1024];
	FILE *f;

	GOOD_CONF(NODE "[cluster]\ndial.3 = 127.0.0.1:9103\n"
		       "member.1 = 127.0.0.1:8001 127.0.0.1:7001\n"
		       "member.2 = 127.0.0.1:8002 127.0.0.1:7002\n"
		       "member.3 = 127.0.0.1:8003 127.0.0.1:7003\n",
		  &c);
	CU_ASSERT_EQUAL(port_of(&c.members[2].dial), 9103);
	CU_ASSERT_EQUAL(port_of(&c.members[2].peer), 8003); /* the identity is unchanged */
	CU_ASSERT_EQUAL(c.members[1].dial.len, 0);          /* member 2: its peer address */
	/* the dump keeps it */
	f = fmemopen(text, sizeof text, "w");
	CU_ASSERT_PTR_NOT_NULL_FATAL(f);
	CU_ASSERT_EQUAL(rk_config_dump(&c, f), RK_OK);
	fclose(f);
	CU_ASSERT_PTR_NOT_NULL(strstr(text, "dial.3 = 127.0.0.1:9103\n"));

	/* join: listed, but not a founding voter */
	GOOD_CONF(GOOD "[cluster]\nmember.4 = 127.0.0.1:8004 127.0.0.1:7004 join\n", &c);
	CU_ASSERT_EQUAL(c.n_members, 4);
	CU_ASSERT_TRUE(c.members[3].join);
	CU_ASSERT_FALSE(c.members[0].join);
	f = fmemopen(text, sizeof text, "w");
	CU_ASSERT_PTR_NOT_NULL_FATAL(f);
	CU_ASSERT_EQUAL(rk_config_dump(&c, f), RK_OK);
	fclose(f);
	CU_ASSERT_PTR_NOT_NULL(strstr(text, "member.4 = 127.0.0.1:8004 127.0.0.1:7004 join\n"));
	BAD(GOOD "[cluster]\nmember.4 = 127.0.0.1:8004 127.0.0.1:7004 joins\n", "member.4",
	    "[join]");
	BAD(NODE "[cluster]\nmember.1 = 127.0.0.1:8001 127.0.0.1:7001 join\n", "[cluster]",
	    "founding member");

	BAD(GOOD "[cluster]\ndial.4 = 127.0.0.1:9104\n", "dial.4", "no member.4 to dial");
	BAD(GOOD "[cluster]\ndial.1 = 127.0.0.1:9101\n", "dial.1", "does not dial itself");
	BAD(GOOD "[cluster]\ndial.2 = 0.0.0.0:9102\n", "dial.2", "wildcard");
	BAD(GOOD "[cluster]\ndial.2 = localhost:9102\n", "dial.2", "dial.2 = localhost");
	BAD(GOOD "[cluster]\ndial.x = 127.0.0.1:9102\n", "dial.x", "positive decimal ID");
	BAD(GOOD "[cluster]\ndial.2 = 127.0.0.1:9102\ndial.2 = 127.0.0.1:9103\n", "dial.2",
	    "duplicate");
}

/* ---- host checks ---------------------------------------------------------------------- */

/* Write @text to DIR/@rel, making the directories on the way. */
static void write_sys(const char *rel, const char *text)
{
	char p[512];
	FILE *f;

	snprintf(p, sizeof p, "%s/%s", dir, rel);
	for (char *s = strchr(p + strlen(dir) + 1, '/'); s != NULL; s = strchr(s + 1, '/')) {
		*s = '\0';
		CU_ASSERT_FATAL(mkdir(p, 0700) == 0 || errno == EEXIST);
		*s = '/';
	}
	f = fopen(p, "w");
	CU_ASSERT_PTR_NOT_NULL_FATAL(f);
	CU_ASSERT(fputs(text, f) >= 0);
	CU_ASSERT_EQUAL_FATAL(fclose(f), 0);
}

struct findings {
	unsigned n;
	char last[512];
};

static void collect(void *ctx, const char *msg)
{
	struct findings *f = ctx;

	f->n++;
	snprintf(f->last, sizeof f->last, "%s", msg);
}

static unsigned run_checks(struct findings *f)
{
	memset(f, 0, sizeof *f);
	return rk_hostcheck_run(dir, collect, f);
}

#define DRIVER "devices/system/cpu/cpuidle/current_driver"
#define POLL "module/haltpoll/parameters/guest_halt_poll_ns"

/* A guest that halts idle vCPUs at once is reported, once, in one line naming the setting;
 * polling on, another idle driver, or no such files (bare metal, a container's /sys) are not. */
static void test_halt_poll(void)
{
	struct findings f;

	CU_ASSERT_EQUAL(run_checks(&f), 0); /* empty tree */
	write_sys(DRIVER, "haltpoll\n");
	CU_ASSERT_EQUAL(run_checks(&f), 0); /* no parameter file */
	write_sys(POLL, "0\n");
	CU_ASSERT_EQUAL(run_checks(&f), 1);
	CU_ASSERT_EQUAL(f.n, 1);
	CU_ASSERT_PTR_NOT_NULL(strstr(f.last, "guest_halt_poll_ns = 0"));
	CU_ASSERT_PTR_NOT_NULL(strstr(f.last, "raftkvd(8)"));
	CU_ASSERT_PTR_NULL(strchr(f.last, '\n'));
	write_sys(POLL, "200000\n");
	CU_ASSERT_EQUAL(run_checks(&f), 0);
	write_sys(POLL, "garbage\n");
	CU_ASSERT_EQUAL(run_checks(&f), 0);
	write_sys(POLL, "0\n");
	write_sys(DRIVER, "acpi_idle\n");
	CU_ASSERT_EQUAL(run_checks(&f), 0);
	CU_ASSERT_EQUAL(f.n, 0);
}

static CU_TestInfo host_tests[] = {
	{ "halt_poll", test_halt_poll },
	CU_TEST_INFO_NULL,
};

static CU_TestInfo good_tests[] = {
	{ "dial", test_dial },
	{ "sample_loads", test_sample_loads },
	{ "defaults_when_absent", test_defaults_when_absent },
	{ "value_syntax", test_value_syntax },
	{ "overrides_win", test_overrides_win },
	{ "dump_reloads", test_dump_reloads },
	{ "parse_addr", test_parse_addr },
	CU_TEST_INFO_NULL,
};

static CU_TestInfo bad_tests[] = {
	{ "file_errors", test_file_errors },
	{ "syntax_and_unknown", test_syntax_and_unknown },
	{ "bad_values", test_bad_values },
	{ "cross_field", test_cross_field },
	CU_TEST_INFO_NULL,
};

static CU_SuiteInfo suites[] = {
	{ "config_good", setup, teardown, NULL, NULL, good_tests },
	{ "config_bad", setup, teardown, NULL, NULL, bad_tests },
	{ "hostcheck", setup, teardown, NULL, NULL, host_tests },
	CU_SUITE_INFO_NULL,
};

int main(int argc, char **argv)
{
	return rk_test_main(argc, argv, suites);
}

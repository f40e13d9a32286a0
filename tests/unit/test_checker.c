/* test_checker.c -- the linearizability checker (tests/fault): parsing, known counterexamples,
 * legal histories with several orders and with indeterminate ops, the append checks, and random
 * histories generated from a correct register (always accepted) or a stale one (rejected).
 *
 * RK_CHECKER_BENCH=N (ops per client, 8 clients, one key) makes random/big_key print ops/key
 * checked per second; RK_CHECKER_DUMP=PATH saves each generated history as PATH.0, PATH.1, ...
 * for rk-check; RK_CHECKER_VERBOSE=1 prints the reports of the checks; RK_CHECKER_SEED and
 * RK_CHECKER_ITERS vary random/brute_force (default 12345, 3000 histories).
 */
#include "config.h" /* _GNU_SOURCE: fmemopen, open_memstream */

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "fault/checker.h"
#include "harness/runner.h"

/* ---- helpers ---- */

static unsigned rnd(unsigned *s, unsigned n)
{
	*s = *s * 1103515245u + 12345u;
	return ((*s >> 8) & 0xffffff) % n;
}

static struct rk_chk_history *parse(const char *text)
{
	struct rk_chk_history *h = NULL;
	struct rk_err err = {0};
	int rv = rk_chk_history_parse_buf(text, strlen(text), &h, &err);

	if (rv != RK_OK)
		fprintf(stderr, "\nparse: %s\n", err.msg);
	CU_ASSERT_EQUAL_FATAL(rv, RK_OK);
	return h;
}

/* The verdict of @text; with @print, the report goes to stderr (handy when a test fails). */
static enum rk_chk_verdict verdict_of(const char *text)
{
	struct rk_chk_history *h = parse(text);
	struct rk_chk_result *res = NULL;
	struct rk_chk_opts o;
	enum rk_chk_verdict v;

	rk_chk_opts_default(&o);
	CU_ASSERT_EQUAL_FATAL(rk_chk_check(h, &o, &res, NULL), RK_OK);
	v = res->verdict;
	if (getenv("RK_CHECKER_VERBOSE") != NULL)
		rk_chk_print_result(stderr, h, res);
	rk_chk_result_free(res);
	rk_chk_history_free(h);
	return v;
}

#define LIN(text) CU_ASSERT_EQUAL(verdict_of(text), RK_CHK_LINEARIZABLE)
#define BAD(text) CU_ASSERT_EQUAL(verdict_of(text), RK_CHK_VIOLATION)

/* ---- parsing ---- */

static void test_parse_fields(void)
{
	struct rk_chk_history *h = parse("# a comment\n"
					 "\n"
					 "INVOKE 7 2 100 cas k old new\n"
					 "INVOKE 8 3 110 get k\n"
					 "FAIL 7 150 cas-failed\n"
					 "OK 8 160 -\n"
					 "INVOKE 9 3 170 put j \"\"\n"
					 "INFO 9 999 connection reset by peer\n"
					 "INVOKE 10 4 180\tappend  k x;\r\n");

	CU_ASSERT_EQUAL(h->nops, 4);
	CU_ASSERT_EQUAL(h->nkeys, 2);
	CU_ASSERT_STRING_EQUAL(h->keys[0], "k");
	CU_ASSERT_STRING_EQUAL(h->keys[1], "j");
	CU_ASSERT_EQUAL(h->ops[0].kind, RK_CHK_CAS);
	CU_ASSERT_EQUAL(h->ops[0].status, RK_CHK_FAIL);
	CU_ASSERT_EQUAL(h->ops[0].reason, RK_CHK_REASON_CAS_FAILED);
	CU_ASSERT_EQUAL(h->ops[0].return_ns, 150);
	CU_ASSERT_EQUAL(h->ops[0].arg[1].len, 3);
	CU_ASSERT_EQUAL(h->ops[0].invoke_line, 3);
	CU_ASSERT_EQUAL(h->ops[0].complete_line, 5);
	CU_ASSERT_PTR_NULL(h->ops[1].result.p); /* "-" is absent */
	CU_ASSERT_PTR_NOT_NULL(h->ops[2].arg[0].p);
	CU_ASSERT_EQUAL(h->ops[2].arg[0].len, 0); /* "" is the empty value */
	CU_ASSERT_EQUAL(h->ops[2].status, RK_CHK_INFO);
	CU_ASSERT_EQUAL(h->ops[2].return_ns, UINT64_MAX); /* INFO has no return bound */
	/* No completion by EOF: indeterminate. */
	CU_ASSERT_EQUAL(h->ops[3].status, RK_CHK_INFO);
	CU_ASSERT_EQUAL(h->ops[3].complete_line, 0);
	CU_ASSERT_EQUAL(h->ops[3].arg[0].len, 2);
	rk_chk_history_free(h);
}

static void expect_parse_error(const char *text, const char *where)
{
	struct rk_chk_history *h = NULL;
	struct rk_err err = {0};

	CU_ASSERT_EQUAL(rk_chk_history_parse_buf(text, strlen(text), &h, &err), RK_EPROTO);
	CU_ASSERT_PTR_NULL(h);
	if (strstr(err.msg, where) == NULL) {
		fprintf(stderr, "\nwanted \"%s\" in \"%s\"\n", where, err.msg);
		CU_FAIL("error message");
	}
}

static void test_parse_errors(void)
{
	expect_parse_error("INVOKE 1 1 0 put k a\nOK 1 x\n", "history:2: expected a decimal");
	expect_parse_error("INVOKE 1 1 0 put k a\nDONE 1 5\n", "history:2: unknown event DONE");
	expect_parse_error("INVOKE 1 1 0 frob k\n", "history:1: unknown op frob");
	expect_parse_error("\n\nINVOKE 1 1 0 put k\n", "history:3: wrong number of arguments");
	expect_parse_error("INVOKE 1 1 0 get k x\n", "history:1: wrong number");
	expect_parse_error("INVOKE 1 1 0 put\n", "history:1: INVOKE needs");
	expect_parse_error("INVOKE 1 1 0 put k a\nINVOKE 1 2 3 get k\n",
			   "history:2: duplicate op-id 1");
	expect_parse_error("OK 4 10\n", "history:1: completion of an op never invoked: 4");
	expect_parse_error("INVOKE 1 1 0 put k a\nOK 1 5\nOK 1 6\n",
			   "history:3: second completion");
	expect_parse_error("INVOKE 1 1 50 put k a\nOK 1 5\n", "history:2: completion before");
	expect_parse_error("INVOKE 1 1 0 get k\nOK 1 5\n", "history:2: OK of a get needs");
	expect_parse_error("INVOKE 1 1 0 put k a\nOK 1 5 done\n", "history:2: OK of a write");
	expect_parse_error("INVOKE 1 1 0 put k -\n", "history:1: \"-\" (absent)");
	expect_parse_error("INVOKE 1 1 0 put k a\nOK\n", "history:2: completion needs");
	expect_parse_error("INVOKE -1 1 0 put k a\n",
			   "history:1: expected a decimal number for op-id");
	expect_parse_error("INVOKE 1 1 99999999999999999999999 put k a\n", "bad number for time");
	expect_parse_error("INVOKE 1 1 0 put k a\x01\n", "history:1: control character");
}

static void test_parse_file(void)
{
	char text[] = "INVOKE 1 1 0 put k a\nOK 1 5\nINVOKE 2 1 6 get k\nOK 2 9 a\n";
	FILE *f = fmemopen(text, strlen(text), "r");
	struct rk_chk_history *h = NULL;
	struct rk_err err = {0};

	CU_ASSERT_PTR_NOT_NULL_FATAL(f);
	CU_ASSERT_EQUAL(rk_chk_history_parse_file(f, "mem", &h, &err), RK_OK);
	fclose(f);
	CU_ASSERT_EQUAL(h->nops, 2);
	rk_chk_history_free(h);

	f = fmemopen(text, 10, "r"); /* cut mid-line: "INVOKE 1 1" */
	CU_ASSERT_EQUAL(rk_chk_history_parse_file(f, "cut", &h, &err), RK_EPROTO);
	CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "cut:1:"));
	fclose(f);
}

/* ---- counterexamples that must be rejected ---- */

static void test_stale_read(void)
{
	/* The read starts after "put b" completed, and still returns a. */
	BAD("INVOKE 1 1 0 put x a\nOK 1 10\n"
	    "INVOKE 2 1 20 put x b\nOK 2 30\n"
	    "INVOKE 3 2 40 get x\nOK 3 50 a\n");
}

static void test_lost_write(void)
{
	/* An acknowledged put that no later read sees. */
	BAD("INVOKE 1 1 0 put x a\nOK 1 10\n"
	    "INVOKE 2 2 20 get x\nOK 2 30 -\n");
	BAD("INVOKE 1 1 0 put x a\nOK 1 10\n"
	    "INVOKE 2 1 15 put x b\nOK 2 20\n"
	    "INVOKE 3 2 30 get x\nOK 3 40 b\n"
	    "INVOKE 4 2 50 get x\nOK 4 60 a\n"); /* b lost, then a resurfaces */
}

static void test_read_never_written(void)
{
	BAD("INVOKE 1 1 0 put x a\nOK 1 10\n"
	    "INVOKE 2 2 5 get x\nOK 2 30 zz\n");
	/* An append result that no order of the appends can produce. */
	BAD("INVOKE 1 1 0 append x a;\nINVOKE 2 2 0 append x b;\nOK 1 10\nOK 2 10\n"
	    "INVOKE 3 3 20 get x\nOK 3 30 b;b;\n");
}

static void test_cas_applied_twice(void)
{
	/* Both CAS from 0 succeed though nothing sets 0 again. */
	BAD("INVOKE 1 1 0 put x 0\nOK 1 10\n"
	    "INVOKE 2 1 20 cas x 0 1\nINVOKE 3 2 21 cas x 0 2\nOK 2 30\nOK 3 31\n");
	/* Same, with an indeterminate put of 0 that happens before both: still only one 0. */
	BAD("INVOKE 1 1 0 put x 0\nOK 1 10\n"
	    "INVOKE 2 1 20 cas x 0 1\nOK 2 30\nINVOKE 3 2 40 cas x 0 2\nOK 3 50\n");
	/* ...but an INFO put of 0 concurrent with them explains it. */
	LIN("INVOKE 1 1 0 put x 0\nOK 1 10\nINVOKE 9 3 15 put x 0\nINFO 9 16\n"
	    "INVOKE 2 1 20 cas x 0 1\nOK 2 30\nINVOKE 3 2 40 cas x 0 2\nOK 3 50\n");
}

static void test_duplicated_append(void)
{
	const char *text = "INVOKE 1 1 0 append x t1;\nINFO 1 10 timeout\n"
			   "INVOKE 2 1 20 append x t2;\nOK 2 30\n"
			   "INVOKE 3 2 40 get x\nOK 3 50 t1;t2;t1;\n";
	struct rk_chk_history *h = parse(text);
	struct rk_chk_append_report rep;
	size_t fin;
	char sep;

	BAD(text);
	CU_ASSERT_TRUE(rk_chk_is_append_key(h, 0, &sep));
	CU_ASSERT_EQUAL(sep, ';');
	fin = rk_chk_final_read(h, 0);
	CU_ASSERT_EQUAL(fin, 2);
	CU_ASSERT_EQUAL(
		rk_chk_appends(h, 0, h->ops[fin].result.p, h->ops[fin].result.len, sep, &rep, NULL),
		RK_OK);
	CU_ASSERT_EQUAL(rep.problem, RK_CHK_APPEND_DUPLICATE);
	CU_ASSERT_EQUAL(rep.op, 0);
	rk_chk_history_free(h);
}

static void test_read_before_write_invoked(void)
{
	/* The read completes before the put that writes b is even invoked. */
	BAD("INVOKE 1 2 0 get x\nOK 1 10 b\n"
	    "INVOKE 2 1 20 put x b\nOK 2 30\n");
	/* Even if the put is indeterminate: it may take effect only after its invocation. */
	BAD("INVOKE 1 2 0 get x\nOK 1 10 b\n"
	    "INVOKE 2 1 20 put x b\nINFO 2 30\n");
}

static void test_info_applies_once(void)
{
	/* An INFO put seen, then unseen with nothing to undo it. */
	BAD("INVOKE 1 1 0 put x a\nOK 1 10\nINVOKE 2 2 20 put x b\nINFO 2 25\n"
	    "INVOKE 3 3 30 get x\nOK 3 40 b\nINVOKE 4 3 50 get x\nOK 4 60 a\n");
}

static void test_failed_ops_not_applied(void)
{
	/* FAIL is definite: the value must not appear. */
	BAD("INVOKE 1 1 0 put x a\nOK 1 10\nINVOKE 2 1 20 put x b\nFAIL 2 30 not-leader\n"
	    "INVOKE 3 2 40 get x\nOK 3 50 b\n");
	/* A CAS that failed although the value matched, with no concurrent write. */
	BAD("INVOKE 1 1 0 put x a\nOK 1 10\nINVOKE 2 1 20 cas x a c\nFAIL 2 30 cas-failed\n");
	/* not-found while the key exists. */
	BAD("INVOKE 1 1 0 put x a\nOK 1 10\nINVOKE 2 1 20 delete x\nFAIL 2 30 not-found\n");
	/* An OK delete of an absent key (the store answers not-found). */
	BAD("INVOKE 1 1 0 delete x\nOK 1 10\n");
}

/* ---- legal histories ---- */

static void test_concurrent_orders(void)
{
	/* put a and put b overlap each other and the reads: a then b ... */
	LIN("INVOKE 1 1 0 put x a\nINVOKE 2 2 10 put x b\n"
	    "INVOKE 3 3 20 get x\nOK 3 30 a\nINVOKE 4 3 40 get x\nOK 4 50 b\n"
	    "OK 2 90\nOK 1 100\nINVOKE 5 3 110 get x\nOK 5 120 b\n");
	/* ... or b then a: both legal. */
	LIN("INVOKE 1 1 0 put x a\nINVOKE 2 2 10 put x b\n"
	    "INVOKE 3 3 20 get x\nOK 3 30 b\nINVOKE 4 3 40 get x\nOK 4 50 a\n"
	    "OK 2 90\nOK 1 100\nINVOKE 5 3 110 get x\nOK 5 120 a\n");
	/* But not a, b, a. */
	BAD("INVOKE 1 1 0 put x a\nINVOKE 2 2 10 put x b\n"
	    "INVOKE 3 3 20 get x\nOK 3 30 a\nINVOKE 4 3 40 get x\nOK 4 50 b\n"
	    "OK 2 90\nOK 1 100\nINVOKE 5 3 110 get x\nOK 5 120 a\n");
	/* A read concurrent with a write may see either side. */
	LIN("INVOKE 1 1 0 put x a\nOK 1 10\nINVOKE 2 1 20 put x b\n"
	    "INVOKE 3 2 21 get x\nINVOKE 4 3 22 get x\nOK 3 25 b\nOK 4 26 a\nOK 2 30\n");
	/* Lines out of time order are ordered by time; equal times overlap, so a read invoked
	 * at the very time a put returned may still miss it. */
	LIN("INVOKE 2 2 10 get x\nINVOKE 1 1 0 put x a\nOK 2 15 -\nOK 1 10\n");
	BAD("INVOKE 2 2 11 get x\nINVOKE 1 1 0 put x a\nOK 2 15 -\nOK 1 10\n");
}

static void test_indeterminate_writes(void)
{
	/* Took effect (seen late, long after the timeout). */
	LIN("INVOKE 1 1 0 put x a\nOK 1 10\nINVOKE 2 2 20 put x b\nINFO 2 30 timeout\n"
	    "INVOKE 3 3 40 get x\nOK 3 50 a\nINVOKE 4 3 1000 get x\nOK 4 1010 b\n");
	/* Never took effect. */
	LIN("INVOKE 1 1 0 put x a\nOK 1 10\nINVOKE 2 2 20 put x b\nINFO 2 30 timeout\n"
	    "INVOKE 3 3 40 get x\nOK 3 50 a\n");
	/* Never completed at all (the runner died): same as INFO. */
	LIN("INVOKE 1 1 0 put x a\nOK 1 10\nINVOKE 2 2 20 append x b\n"
	    "INVOKE 3 3 40 get x\nOK 3 50 ab\n");
	/* An indeterminate read says nothing. */
	LIN("INVOKE 1 1 0 put x a\nOK 1 10\nINVOKE 2 2 20 get x\nINFO 2 30\n");
	/* An indeterminate CAS only applies when it matches. */
	LIN("INVOKE 1 1 0 put x a\nOK 1 10\nINVOKE 2 2 20 cas x a b\nINFO 2 30\n"
	    "INVOKE 3 3 40 get x\nOK 3 50 b\n");
	BAD("INVOKE 1 1 0 put x a\nOK 1 10\nINVOKE 2 2 20 cas x z b\nINFO 2 30\n"
	    "INVOKE 3 3 40 get x\nOK 3 50 b\n");
}

static void test_failed_cas(void)
{
	LIN("INVOKE 1 1 0 put x a\nOK 1 10\nINVOKE 2 1 20 cas x b c\nFAIL 2 30 cas-failed\n"
	    "INVOKE 3 2 40 get x\nOK 3 50 a\n");
	/* A FAIL without a reason carries no observation: even a matching CAS may fail. */
	LIN("INVOKE 1 1 0 put x a\nOK 1 10\nINVOKE 2 1 20 cas x a c\nFAIL 2 30 not-leader\n"
	    "INVOKE 3 2 40 get x\nOK 3 50 a\n");
	/* cas-failed concurrent with the write that made it fail. */
	LIN("INVOKE 1 1 0 put x a\nOK 1 10\nINVOKE 2 1 20 cas x a c\nINVOKE 4 3 21 put x d\n"
	    "FAIL 2 30 cas-failed\nOK 4 31\n");
	LIN("INVOKE 1 1 0 cas x a b\nFAIL 1 10 not-found\n");
}

static void test_delete_and_absent(void)
{
	LIN("INVOKE 1 1 0 get x\nOK 1 5 -\n"
	    "INVOKE 2 1 10 put x a\nOK 2 20\n"
	    "INVOKE 3 2 30 delete x\nOK 3 40\n"
	    "INVOKE 4 2 50 get x\nOK 4 60 -\n"
	    "INVOKE 5 1 70 delete x\nFAIL 5 80 not-found\n"
	    "INVOKE 6 1 90 append x q\nOK 6 95\nINVOKE 7 2 96 get x\nOK 7 99 q\n");
	/* Two concurrent deletes cannot both succeed. */
	BAD("INVOKE 1 1 0 put x a\nOK 1 10\n"
	    "INVOKE 2 1 20 delete x\nINVOKE 3 2 20 delete x\nOK 2 30\nOK 3 30\n");
	/* The empty value is a value, not absence. */
	BAD("INVOKE 1 1 0 put x \"\"\nOK 1 10\nINVOKE 2 2 20 get x\nOK 2 30 -\n");
	LIN("INVOKE 1 1 0 put x \"\"\nOK 1 10\nINVOKE 2 2 20 get x\nOK 2 30 \"\"\n");
}

static void test_keys_independent(void)
{
	struct rk_chk_history *h = parse("INVOKE 1 1 0 put x a\nOK 1 10\n"
					 "INVOKE 2 1 20 put y b\nOK 2 30\n"
					 "INVOKE 3 2 40 get y\nOK 3 50 -\n"
					 "INVOKE 4 2 60 get x\nOK 4 70 a\n");
	struct rk_chk_result *res = NULL;
	struct rk_chk_opts o;

	rk_chk_opts_default(&o);
	CU_ASSERT_EQUAL_FATAL(rk_chk_check(h, &o, &res, NULL), RK_OK);
	CU_ASSERT_EQUAL(res->verdict, RK_CHK_VIOLATION);
	CU_ASSERT_EQUAL(res->nkeys, 2);
	CU_ASSERT_EQUAL(res->keys[0].verdict, RK_CHK_LINEARIZABLE);
	CU_ASSERT_EQUAL(res->keys[1].verdict, RK_CHK_VIOLATION);
	/* The window is the put and the read that missed it. */
	CU_ASSERT_EQUAL(res->keys[1].nwindow, 2);
	CU_ASSERT_EQUAL(res->keys[1].stuck_op, 2);
	rk_chk_result_free(res);
	rk_chk_history_free(h);
}

static void test_unread_info_writes(void)
{
	/* An INFO put nobody read can still be why a delete found the key. */
	LIN("INVOKE 1 1 0 put x a\nINFO 1 5\nINVOKE 2 2 10 delete x\nOK 2 20\n");
	LIN("INVOKE 1 1 0 append x a\nINFO 1 5\nINVOKE 2 2 10 cas x b c\nFAIL 2 20 cas-failed\n");
	/* ... but only once. */
	BAD("INVOKE 1 1 0 put x a\nINFO 1 5\nINVOKE 2 2 10 delete x\nOK 2 20\n"
	    "INVOKE 3 2 30 delete x\nOK 3 40\n");
	LIN("INVOKE 1 1 0 put x a\nINFO 1 5\nINVOKE 4 3 0 put x b\nINFO 4 5\n"
	    "INVOKE 2 2 10 delete x\nOK 2 20\nINVOKE 3 2 30 delete x\nOK 3 40\n");
	/* Not before it was invoked. */
	BAD("INVOKE 2 2 10 delete x\nOK 2 20\nINVOKE 1 1 30 put x a\nINFO 1 35\n");
	/* Its value can never be read, nor its key found absent until a delete. */
	BAD("INVOKE 1 1 0 put x a\nINFO 1 5\nINVOKE 2 2 10 delete x\nOK 2 20\n"
	    "INVOKE 3 2 30 get x\nOK 3 40 b\n");
}

/* ---- against brute force on tiny histories ---- */

struct bop {
	int kind; /* RK_CHK_GET.. */
	bool det, obs_casfail, obs_notfound;
	const char *a, *b; /* args; get: the result (NULL = absent) */
	int inv, ret;
};

static bool brute(const struct bop *ops, int n, unsigned used, const char *st)
{
	bool all = true;

	for (int i = 0; i < n; i++)
		if (ops[i].det && !(used & (1u << i)))
			all = false;
	if (all)
		return true;
	for (int i = 0; i < n; i++) {
		const struct bop *o = &ops[i];
		char buf[64];
		const char *next = st;
		bool ok = true;
		if (used & (1u << i))
			continue;
		for (int j = 0; j < n; j++) /* everything that ended before o began goes first */
			if (ops[j].det && !(used & (1u << j)) && ops[j].ret < o->inv)
				ok = false;
		if (!ok)
			continue;
		if (o->obs_casfail) {
			ok = st != NULL && strcmp(st, o->a) != 0;
		} else if (o->obs_notfound) {
			ok = st == NULL;
		} else {
			switch (o->kind) {
			case RK_CHK_GET:
				ok = o->a == NULL ? st == NULL
						  : st != NULL && strcmp(st, o->a) == 0;
				break;
			case RK_CHK_PUT:
				next = o->a;
				break;
			case RK_CHK_APPEND:
				snprintf(buf, sizeof buf, "%s%s", st != NULL ? st : "", o->a);
				next = buf;
				break;
			case RK_CHK_CAS:
				ok = st != NULL && strcmp(st, o->a) == 0;
				next = o->b;
				break;
			case RK_CHK_DELETE:
				ok = st != NULL;
				next = NULL;
				break;
			}
		}
		if (ok && brute(ops, n, used | (1u << i), next))
			return true;
	}
	return false;
}

static void test_against_brute_force(void)
{
	static const char *const vals[] = {"a", "b", "ab", "ba", NULL};
	const char *seed = getenv("RK_CHECKER_SEED"), *iters = getenv("RK_CHECKER_ITERS");
	unsigned s = seed != NULL ? (unsigned)atoi(seed) : 12345;
	int lin = 0, bad = 0, n_iter = iters != NULL ? atoi(iters) : 3000;

	for (int iter = 0; iter < n_iter; iter++) {
		struct bop ops[8];
		int n = 0;
		char *text = NULL;
		size_t len = 0;
		FILE *f = open_memstream(&text, &len);
		struct rk_chk_history *h;
		struct rk_chk_result *res = NULL;
		struct rk_chk_opts o;
		bool want;

		for (int c = 0; c < 3; c++) {
			int t = (int)rnd(&s, 4);
			int per = 1 + (int)rnd(&s, 3);
			for (int k = 0; k < per && n < 8; k++, n++) {
				struct bop *op = &ops[n];
				static const char *const names[] = {"get", "put", "cas", "append",
								    "delete"};
				unsigned st = rnd(&s, 10);
				memset(op, 0, sizeof *op);
				op->kind = (int)rnd(&s, 5);
				op->inv = t + (int)rnd(&s, 3);
				op->ret = op->inv + (int)rnd(&s, 6);
				t = op->ret + (int)rnd(&s, 2);
				op->a = vals[rnd(&s, 4)];
				op->b = vals[rnd(&s, 4)];
				fprintf(f, "INVOKE %d %d %d %s k", n + 1, c, op->inv,
					names[op->kind]);
				if (op->kind == RK_CHK_PUT || op->kind == RK_CHK_APPEND)
					fprintf(f, " %s", op->a);
				if (op->kind == RK_CHK_CAS)
					fprintf(f, " %s %s", op->a, op->b);
				fputc('\n', f);
				if (op->kind == RK_CHK_GET) {
					op->a = vals[rnd(&s, 5)];
					op->det = st < 8;
					fprintf(f, "%s %d %d %s\n", op->det ? "OK" : "INFO", n + 1,
						op->ret,
						op->det ? (op->a != NULL ? op->a : "-") : "");
					continue;
				}
				if (st < 6) {
					op->det = true;
					fprintf(f, "OK %d %d\n", n + 1, op->ret);
				} else if (st < 8) {
					fprintf(f, "INFO %d %d\n", n + 1, op->ret);
				} else if (op->kind == RK_CHK_CAS || op->kind == RK_CHK_DELETE) {
					op->det = true;
					op->obs_casfail = op->kind == RK_CHK_CAS && st == 8;
					op->obs_notfound = !op->obs_casfail;
					fprintf(f, "FAIL %d %d %s\n", n + 1, op->ret,
						op->obs_casfail ? "cas-failed" : "not-found");
				} else {
					fprintf(f, "FAIL %d %d\n", n + 1, op->ret);
					op->kind = -1; /* never applied: leave out of the brute
							  force */
				}
			}
		}
		fclose(f);
		/* Drop what the checker drops: FAILs without a reason, indeterminate reads. */
		for (int i = 0; i < n; i++) {
			if (ops[i].kind == -1 || (ops[i].kind == RK_CHK_GET && !ops[i].det)) {
				ops[i] = ops[n - 1];
				n--;
				i--;
			}
		}
		want = brute(ops, n, 0, NULL);
		h = parse(text);
		rk_chk_opts_default(&o);
		CU_ASSERT_EQUAL_FATAL(rk_chk_check(h, &o, &res, NULL), RK_OK);
		if (res->verdict != (want ? RK_CHK_LINEARIZABLE : RK_CHK_VIOLATION)) {
			fprintf(stderr, "\nbrute force says %s for:\n%s", want ? "yes" : "no",
				text);
			CU_FAIL("checker disagrees with brute force");
		}
		lin += want;
		bad += !want;
		rk_chk_result_free(res);
		rk_chk_history_free(h);
		free(text);
	}
	CU_ASSERT(lin > 300); /* both outcomes well represented */
	CU_ASSERT(bad > 300);
}

/* ---- the append checks ---- */

static struct rk_chk_append_report appends_of(const char *text, const char *final)
{
	struct rk_chk_history *h = parse(text);
	struct rk_chk_append_report rep;
	char sep = 0;

	CU_ASSERT_TRUE(rk_chk_is_append_key(h, 0, &sep));
	CU_ASSERT_EQUAL(
		rk_chk_appends(h, 0, final, final != NULL ? strlen(final) : 0, sep, &rep, NULL),
		RK_OK);
	rk_chk_history_free(h);
	return rep;
}

static void test_append_checks(void)
{
	/* a ended before b began; c is indeterminate; d failed; e is concurrent with b. */
	const char *text =
		"INVOKE 1 1 0 append k a;\nOK 1 10\n"
		"INVOKE 2 1 20 append k b;\nINVOKE 5 3 25 append k e;\nOK 2 30\nOK 5 35\n"
		"INVOKE 3 2 40 append k c;\nINFO 3 50\n"
		"INVOKE 4 2 60 append k d;\nFAIL 4 70\n"
		"INVOKE 6 4 80 get k\nOK 6 90 a;e;\n";
	struct rk_chk_append_report rep;
	struct rk_chk_history *h;
	struct rk_err err = {0};

	CU_ASSERT_EQUAL(appends_of(text, "a;e;b;").problem, RK_CHK_APPEND_FINE);
	CU_ASSERT_EQUAL(appends_of(text, "a;e;c;b;").problem, RK_CHK_APPEND_ORDER); /* b < c */
	CU_ASSERT_EQUAL(appends_of(text, "a;e;b;c;").tokens, 4);
	CU_ASSERT_EQUAL(appends_of(text, "a;b;").problem, RK_CHK_APPEND_NOT_PREFIX); /* read a;e; */
	CU_ASSERT_EQUAL(appends_of(text, "a;e;").problem, RK_CHK_APPEND_LOST);	     /* b */
	CU_ASSERT_EQUAL(appends_of(text, "a;e;b;b;").problem, RK_CHK_APPEND_DUPLICATE);
	CU_ASSERT_EQUAL(appends_of(text, "a;e;b;z;").problem, RK_CHK_APPEND_UNKNOWN);
	CU_ASSERT_EQUAL(appends_of(text, "a;e;b;d;").problem, RK_CHK_APPEND_FAILED);
	CU_ASSERT_EQUAL(appends_of(text, "a;e;b;c").problem, RK_CHK_APPEND_GARBAGE);
	rep = appends_of("INVOKE 1 1 0 append k a;\nOK 1 10\nINVOKE 2 1 20 append k b;\nOK 2 30\n",
			 "b;a;");
	CU_ASSERT_EQUAL(rep.problem, RK_CHK_APPEND_ORDER);
	CU_ASSERT_EQUAL(rep.op, 0); /* a, which ended before b began, comes after it */
	CU_ASSERT_EQUAL(rep.other, 1);
	CU_ASSERT_EQUAL(appends_of("INVOKE 1 1 0 append k a;\nOK 1 10\n", NULL).problem,
			RK_CHK_APPEND_LOST);

	/* Keys with other writes, or with unseparated tokens, are not append keys. */
	h = parse("INVOKE 1 1 0 append k a;\nINVOKE 2 1 0 put k b;\nINVOKE 3 1 0 append j ab\n"
		  "INVOKE 4 1 0 append j a;b;\n");
	CU_ASSERT_FALSE(rk_chk_is_append_key(h, 0, NULL));
	CU_ASSERT_FALSE(rk_chk_is_append_key(h, 1, NULL));
	CU_ASSERT_EQUAL(rk_chk_appends(h, 0, "a;", 2, ';', &rep, &err), RK_EINVAL);
	CU_ASSERT_EQUAL(rk_chk_final_read(h, 0), SIZE_MAX);
	rk_chk_history_free(h);
	/* A final read concurrent with an append is not final. */
	h = parse("INVOKE 1 1 0 append k a;\nINVOKE 2 2 5 get k\nOK 2 8 -\nOK 1 10\n");
	CU_ASSERT_EQUAL(rk_chk_final_read(h, 0), SIZE_MAX);
	rk_chk_history_free(h);
}

/* ---- random histories from a simulated register ---- */

enum { G_GET, G_PUT, G_CAS, G_APPEND, G_DELETE };

struct gop {
	uint64_t id, proc, inv, lin, ret;
	int kind, key;
	char arg[2][32];
	int status; /* RK_CHK_OK, _FAIL, _INFO */
	bool applied;
	const char *reason;
	char *result; /* get: owned value; NULL = absent */
};

struct gkey {
	char *val; /* owned; NULL = absent */
	/* past values and when the write that replaced them returned (stale-read bug) */
	bool det;      /* val was written by a determinate op: applied once, at a known time */
	uint64_t wret; /* when that op returned */
	char *old[64];
	bool old_det[64];
	uint64_t old_wret[64], old_sup_inv[64], old_until[64];
	size_t nold;
};

struct gen {
	unsigned seed;
	int clients, ops, keys;
	int info_pct, fail_pct;
	bool appends;  /* only appends and gets */
	int stale_pct; /* the injected bug: a read returns a value overwritten before it began */
	int max_stale;
	int injected;
};

static int cmp_lin(const void *pa, const void *pb)
{
	const struct gop *a = pa, *b = pb;
	return a->lin < b->lin ? -1 : a->lin > b->lin;
}

struct gev {
	uint64_t t;
	size_t op;
	bool call;
};

static int cmp_gev(const void *pa, const void *pb)
{
	const struct gev *a = pa, *b = pb;
	if (a->t != b->t)
		return a->t < b->t ? -1 : 1;
	if (a->call != b->call)
		return a->call ? 1 : -1; /* returns first: keep equal-time pairs ordered */
	return a->op < b->op ? -1 : a->op > b->op;
}

static void set_val(struct gkey *k, const char *v, const struct gop *w)
{
	bool det = w->status == RK_CHK_OK;
	uint64_t until = det ? w->ret : UINT64_MAX;

	if (k->val != NULL && k->nold < 64) {
		k->old_det[k->nold] = k->det;
		k->old_wret[k->nold] = k->wret;
		k->old_sup_inv[k->nold] = w->inv;
		k->old[k->nold] = k->val;
		k->old_until[k->nold++] = until;
	} else {
		free(k->val);
	}
	k->val = v != NULL ? strdup(v) : NULL;
	k->det = det;
	k->wret = w->ret;
}

/* Simulate @g->clients sequential clients against one correct copy of @g->keys registers and
 * return the history text (owned; free()). Each op takes effect at a random instant between its
 * invocation and its return; an indeterminate one at any later instant, or never. */
static char *generate(struct gen *g)
{
	size_t n = (size_t)g->clients * (size_t)g->ops, ng = 0, nev = 0;
	struct gop *ops = calloc(n + (size_t)g->keys, sizeof *ops);
	struct gkey *keys = calloc((size_t)g->keys, sizeof *keys);
	struct gev *ev = calloc(2 * (n + (size_t)g->keys), sizeof *ev);
	unsigned s = g->seed;
	uint64_t end = 0;
	char *text = NULL;
	size_t textlen = 0;
	FILE *f;

	CU_ASSERT_PTR_NOT_NULL_FATAL(ops);
	for (int c = 0; c < g->clients; c++) {
		uint64_t t = rnd(&s, 50);
		for (int i = 0; i < g->ops; i++) {
			struct gop *op = &ops[ng];
			unsigned r = rnd(&s, 100);
			op->id = ng + 1;
			op->proc = (uint64_t)c;
			op->inv = t + rnd(&s, 30);
			op->lin = op->inv + rnd(&s, 60);
			op->ret = op->lin + 1 + rnd(&s, 60);
			op->key = (int)rnd(&s, (unsigned)g->keys);
			t = op->ret;
			if (g->appends)
				op->kind = r < 60 ? G_APPEND : G_GET;
			else
				op->kind = r < 35   ? G_GET
					   : r < 65 ? G_PUT
					   : r < 85 ? G_CAS
					   : r < 92 ? G_APPEND
						    : G_DELETE;
			snprintf(op->arg[0], sizeof op->arg[0], "v%llu%s",
				 (unsigned long long)op->id, g->appends ? ";" : "");
			snprintf(op->arg[1], sizeof op->arg[1], "c%llu",
				 (unsigned long long)op->id);
			op->status = RK_CHK_OK;
			r = rnd(&s, 100);
			if (op->kind != G_GET && r < (unsigned)g->fail_pct) {
				op->status = RK_CHK_FAIL;
			} else if (r < (unsigned)(g->fail_pct + g->info_pct)) {
				op->status = RK_CHK_INFO;
				op->lin = op->inv +
					  rnd(&s, 2000); /* may land long after the timeout */
				op->applied = rnd(&s, 2) == 0;
			}
			ng++;
		}
	}
	qsort(ops, ng, sizeof *ops, cmp_lin);
	for (size_t i = 0; i < ng; i++) {
		struct gop *op = &ops[i];
		struct gkey *k = &keys[op->key];
		bool take = op->status == RK_CHK_OK || (op->status == RK_CHK_INFO && op->applied);

		if (op->lin > end)
			end = op->lin;
		if (op->ret > end)
			end = op->ret;
		switch (op->kind) {
		case G_GET:
			op->result = k->val != NULL ? strdup(k->val) : NULL;
			if (op->status != RK_CHK_OK || g->injected >= g->max_stale ||
			    (int)rnd(&s, 100) >= g->stale_pct)
				break;
			for (size_t j = k->nold; j-- > 0;) {
				/* Only a definite anomaly: the writer of the old value ended before
				 * the overwrite began, which ended before the read began. (An INFO
				 * writer could be placed again after the overwrite.) */
				if (k->old[j] != NULL && k->old_det[j] &&
				    k->old_wret[j] < k->old_sup_inv[j] &&
				    k->old_until[j] < op->inv) {
					free(op->result);
					op->result = strdup(k->old[j]);
					g->injected++;
					break;
				}
			}
			break;
		case G_PUT:
			if (take)
				set_val(k, op->arg[0], op);
			break;
		case G_APPEND:
			if (take) {
				size_t a = k->val != NULL ? strlen(k->val) : 0;
				char *v = malloc(a + strlen(op->arg[0]) + 1);
				memcpy(v, k->val != NULL ? k->val : "", a);
				strcpy(v + a, op->arg[0]);
				set_val(k, v, op);
				free(v);
			}
			break;
		case G_CAS:
			/* Half the time expect the current value, so that some succeed. */
			if (k->val != NULL && rnd(&s, 2) == 0)
				snprintf(op->arg[0], sizeof op->arg[0], "%s", k->val);
			if (op->status == RK_CHK_FAIL)
				break;
			if (k->val == NULL || strcmp(k->val, op->arg[0]) != 0) {
				if (op->status == RK_CHK_OK) {
					op->status = RK_CHK_FAIL;
					op->reason = k->val == NULL ? "not-found" : "cas-failed";
				}
			} else if (take) {
				set_val(k, op->arg[1], op);
			}
			break;
		case G_DELETE:
			if (op->status == RK_CHK_FAIL)
				break;
			if (k->val == NULL) {
				if (op->status == RK_CHK_OK) {
					op->status = RK_CHK_FAIL;
					op->reason = "not-found";
				}
			} else if (take) {
				set_val(k, NULL, op);
			}
			break;
		}
	}
	/* The final reads, after everything (the runner's reads after healing). */
	for (int key = 0; key < g->keys; key++) {
		struct gop *op = &ops[ng++];
		op->id = ng + 1000000;
		op->kind = G_GET;
		op->key = key;
		op->inv = end + 10;
		op->ret = end + 20;
		op->status = RK_CHK_OK;
		op->result = keys[key].val != NULL ? strdup(keys[key].val) : NULL;
	}
	for (size_t i = 0; i < ng; i++) {
		ev[nev++] = (struct gev){.t = ops[i].inv, .op = i, .call = true};
		ev[nev++] = (struct gev){.t = ops[i].ret, .op = i, .call = false};
	}
	qsort(ev, nev, sizeof *ev, cmp_gev);
	f = open_memstream(&text, &textlen);
	CU_ASSERT_PTR_NOT_NULL_FATAL(f);
	for (size_t i = 0; i < nev; i++) {
		const struct gop *op = &ops[ev[i].op];
		static const char *const names[] = {"get", "put", "cas", "append", "delete"};
		if (ev[i].call) {
			fprintf(f, "INVOKE %llu %llu %llu %s k%d", (unsigned long long)op->id,
				(unsigned long long)op->proc, (unsigned long long)op->inv,
				names[op->kind], op->key);
			if (op->kind == G_PUT || op->kind == G_APPEND)
				fprintf(f, " %s", op->arg[0]);
			if (op->kind == G_CAS)
				fprintf(f, " %s %s", op->arg[0], op->arg[1]);
			fputc('\n', f);
			continue;
		}
		fprintf(f, "%s %llu %llu",
			op->status == RK_CHK_OK	    ? "OK"
			: op->status == RK_CHK_FAIL ? "FAIL"
						    : "INFO",
			(unsigned long long)op->id, (unsigned long long)op->ret);
		if (op->status == RK_CHK_OK && op->kind == G_GET)
			fprintf(f, " %s", op->result != NULL ? op->result : "-");
		if (op->status == RK_CHK_FAIL && op->reason != NULL)
			fprintf(f, " %s", op->reason);
		if (op->status == RK_CHK_INFO)
			fputs(" timeout", f);
		fputc('\n', f);
	}
	fclose(f);
	for (size_t i = 0; i < ng; i++)
		free(ops[i].result);
	for (int key = 0; key < g->keys; key++) {
		free(keys[key].val);
		for (size_t j = 0; j < keys[key].nold; j++)
			free(keys[key].old[j]);
	}
	free(ops);
	free(keys);
	free(ev);
	return text;
}

static struct rk_chk_result *check_generated(struct gen *g, struct rk_chk_history **hp)
{
	char *text = generate(g);
	struct rk_chk_history *h = parse(text);
	struct rk_chk_result *res = NULL;
	struct rk_chk_opts o;
	const char *dump = getenv("RK_CHECKER_DUMP");

	if (dump != NULL) { /* keep every history as DUMP.N, to replay with rk-check */
		static int seq;
		char path[512];
		FILE *f;
		snprintf(path, sizeof path, "%s.%d", dump, seq++);
		f = fopen(path, "w");
		if (f != NULL) {
			fputs(text, f);
			fclose(f);
		}
	}
	free(text);
	rk_chk_opts_default(&o);
	o.max_ms = 10000;
	CU_ASSERT_EQUAL_FATAL(rk_chk_check(h, &o, &res, NULL), RK_OK);
	*hp = h;
	return res;
}

static void test_random_correct(void)
{
	for (unsigned seed = 1; seed <= 30; seed++) {
		struct gen g = {.seed = seed,
				.clients = 8,
				.ops = 60,
				.keys = 3,
				.info_pct = seed % 3 == 0 ? 10 : 3,
				.fail_pct = 5};
		struct rk_chk_history *h;
		struct rk_chk_result *res = check_generated(&g, &h);
		if (res->verdict != RK_CHK_LINEARIZABLE) {
			fprintf(stderr, "\nseed %u:\n", seed);
			rk_chk_print_result(stderr, h, res);
		}
		CU_ASSERT_EQUAL(res->verdict, RK_CHK_LINEARIZABLE);
		rk_chk_result_free(res);
		rk_chk_history_free(h);
	}
}

static void test_random_appends(void)
{
	for (unsigned seed = 100; seed < 110; seed++) {
		struct gen g = {.seed = seed,
				.clients = 8,
				.ops = 80,
				.keys = 2,
				.info_pct = 5,
				.fail_pct = 5,
				.appends = true};
		struct rk_chk_history *h;
		struct rk_chk_result *res = check_generated(&g, &h);
		CU_ASSERT_EQUAL(res->verdict, RK_CHK_LINEARIZABLE);
		for (size_t key = 0; key < h->nkeys; key++) {
			struct rk_chk_append_report rep;
			size_t fin = rk_chk_final_read(h, key);
			char sep;
			CU_ASSERT_TRUE(rk_chk_is_append_key(h, key, &sep));
			CU_ASSERT_NOT_EQUAL_FATAL(fin, SIZE_MAX);
			CU_ASSERT_EQUAL(rk_chk_appends(h, key, h->ops[fin].result.p,
						       h->ops[fin].result.len, sep, &rep, NULL),
					RK_OK);
			if (rep.problem != RK_CHK_APPEND_FINE)
				fprintf(stderr, "\nseed %u: %s\n", seed, rep.detail);
			CU_ASSERT_EQUAL(rep.problem, RK_CHK_APPEND_FINE);
		}
		rk_chk_result_free(res);
		rk_chk_history_free(h);
	}
}

static void test_random_stale_rejected(void)
{
	int rejected = 0, runs = 0;

	for (unsigned seed = 1; seed <= 30; seed++) {
		struct gen g = {.seed = seed,
				.clients = 8,
				.ops = 60,
				.keys = 3,
				.info_pct = 3,
				.fail_pct = 5,
				.stale_pct = 10,
				.max_stale = 1000};
		struct rk_chk_history *h;
		struct rk_chk_result *res = check_generated(&g, &h);
		if (g.injected > 0) {
			runs++;
			CU_ASSERT_EQUAL(res->verdict, RK_CHK_VIOLATION);
			rejected += res->verdict == RK_CHK_VIOLATION;
		}
		rk_chk_result_free(res);
		rk_chk_history_free(h);
	}
	CU_ASSERT(runs >= 20); /* the bug did fire in most runs */
	CU_ASSERT_EQUAL(rejected, runs);
}

/* One stale read in a long history: the report must point at it with a handful of ops. */
static void test_window_is_small(void)
{
	int checked = 0;

	for (unsigned seed = 40; seed < 50; seed++) {
		struct gen g = {.seed = seed,
				.clients = 8,
				.ops = 150,
				.keys = 1,
				.info_pct = 2,
				.fail_pct = 2,
				.stale_pct = 3,
				.max_stale = 1};
		struct rk_chk_history *h;
		struct rk_chk_result *res = check_generated(&g, &h);
		const struct rk_chk_keyres *k = &res->keys[0];
		if (g.injected == 1) {
			checked++;
			CU_ASSERT_EQUAL(res->verdict, RK_CHK_VIOLATION);
			CU_ASSERT(k->nwindow >= 2);
			CU_ASSERT(k->nwindow <=
				  30); /* INFO ops from before the window stay in it */
			CU_ASSERT_NOT_EQUAL(k->stuck_op, SIZE_MAX);
			if (k->stuck_op != SIZE_MAX)
				CU_ASSERT_EQUAL(h->ops[k->stuck_op].kind, RK_CHK_GET);
			if (getenv("RK_CHECKER_VERBOSE") != NULL)
				rk_chk_print_result(stderr, h, res);
		}
		rk_chk_result_free(res);
		rk_chk_history_free(h);
	}
	CU_ASSERT(checked >= 5);
}

/* A violation too deep for the full search's budget is still found from a window where the
 * search got stuck, or at least pointed at. */
static void test_deep_violation_small_budget(void)
{
	int proven = 0, runs = 0;

	for (unsigned seed = 60; seed < 70; seed++) {
		struct gen g = {.seed = seed,
				.clients = 8,
				.ops = 150,
				.keys = 1,
				.info_pct = 2,
				.fail_pct = 2,
				.stale_pct = 3,
				.max_stale = 1};
		char *text = generate(&g);
		struct rk_chk_history *h = parse(text);
		struct rk_chk_keyres kr;
		struct rk_chk_opts o;

		free(text);
		rk_chk_opts_default(&o);
		o.max_steps = 3000; /* far too few for ~1 200 ops */
		CU_ASSERT_EQUAL_FATAL(rk_chk_check_key(h, 0, &o, &kr, NULL), RK_OK);
		if (g.injected == 1) {
			runs++;
			CU_ASSERT_NOT_EQUAL(kr.verdict, RK_CHK_LINEARIZABLE);
			CU_ASSERT_NOT_EQUAL(kr.stuck_op, SIZE_MAX);
			proven += kr.verdict == RK_CHK_VIOLATION;
			if (kr.verdict == RK_CHK_VIOLATION)
				CU_ASSERT(kr.nwindow > 0);
		}
		rk_chk_keyres_clear(&kr);
		rk_chk_history_free(h);
	}
	CU_ASSERT(runs >= 5);
	if (getenv("RK_CHECKER_VERBOSE") != NULL)
		fprintf(stderr, "\n%d of %d proven from windows\n", proven, runs);
	CU_ASSERT(proven >= 1);
}

static void test_budget_unknown(void)
{
	struct gen g = {
		.seed = 7, .clients = 8, .ops = 100, .keys = 1, .info_pct = 20, .fail_pct = 0};
	char *text = generate(&g);
	struct rk_chk_history *h = parse(text);
	struct rk_chk_keyres kr;
	struct rk_chk_opts o;

	free(text);
	rk_chk_opts_default(&o);
	o.max_steps = 50;
	CU_ASSERT_EQUAL(rk_chk_check_key(h, 0, &o, &kr, NULL), RK_OK);
	CU_ASSERT_EQUAL(kr.verdict, RK_CHK_UNKNOWN);
	CU_ASSERT_STRING_EQUAL(rk_chk_verdict_str(kr.verdict), "unknown (budget exceeded)");
	rk_chk_keyres_clear(&kr);
	o.max_steps = 0;
	o.max_bytes = 4096; /* less than the run's own arrays */
	CU_ASSERT_EQUAL(rk_chk_check_key(h, 0, &o, &kr, NULL), RK_OK);
	CU_ASSERT_EQUAL(kr.verdict, RK_CHK_UNKNOWN);
	rk_chk_keyres_clear(&kr);
	rk_chk_history_free(h);
}

/* Thousands of ops on one key, 8 clients: checked well within the test's time. */
static void test_big_key(void)
{
	const char *bench = getenv("RK_CHECKER_BENCH");
	int ops = bench != NULL && atoi(bench) > 0 ? atoi(bench) : 500; /* per client */

	for (int appends = 0; appends < 2; appends++) {
		struct gen g = {.seed = 99,
				.clients = 8,
				.ops = ops,
				.keys = 1,
				.info_pct = 2,
				.fail_pct = 2,
				.appends = appends != 0};
		struct rk_chk_history *h;
		struct rk_chk_result *res = check_generated(&g, &h);
		const struct rk_chk_keyres *k = &res->keys[0];
		CU_ASSERT_EQUAL(res->verdict, RK_CHK_LINEARIZABLE);
		if (getenv("RK_CHECKER_BENCH") != NULL)
			fprintf(stderr, "\n%s: %s, %zu ops, %llu steps, %.3f s, %.0f ops/s\n",
				appends ? "append" : "mixed", rk_chk_verdict_str(k->verdict),
				k->nops, (unsigned long long)k->steps, (double)k->ns / 1e9,
				(double)k->nops * 1e9 / (double)(k->ns + 1));
		rk_chk_result_free(res);
		rk_chk_history_free(h);
	}
}

static CU_TestInfo parse_tests[] = {
	{"fields", test_parse_fields},
	{"errors", test_parse_errors},
	{"file", test_parse_file},
	CU_TEST_INFO_NULL,
};

static CU_TestInfo reject_tests[] = {
	{"stale_read", test_stale_read},
	{"lost_write", test_lost_write},
	{"read_never_written", test_read_never_written},
	{"cas_applied_twice", test_cas_applied_twice},
	{"duplicated_append", test_duplicated_append},
	{"read_before_write_invoked", test_read_before_write_invoked},
	{"info_applies_once", test_info_applies_once},
	{"failed_ops_not_applied", test_failed_ops_not_applied},
	CU_TEST_INFO_NULL,
};

static CU_TestInfo accept_tests[] = {
	{"concurrent_orders", test_concurrent_orders},
	{"indeterminate_writes", test_indeterminate_writes},
	{"failed_cas", test_failed_cas},
	{"delete_and_absent", test_delete_and_absent},
	{"keys_independent", test_keys_independent},
	{"unread_info_writes", test_unread_info_writes},
	CU_TEST_INFO_NULL,
};

static CU_TestInfo append_tests[] = {
	{"checks", test_append_checks},
	CU_TEST_INFO_NULL,
};

static CU_TestInfo random_tests[] = {
	{"brute_force", test_against_brute_force},
	{"correct", test_random_correct},
	{"appends", test_random_appends},
	{"stale_rejected", test_random_stale_rejected},
	{"window_is_small", test_window_is_small},
	{"budget_unknown", test_budget_unknown},
	{"deep_violation_small_budget", test_deep_violation_small_budget},
	{"big_key", test_big_key},
	CU_TEST_INFO_NULL,
};

static CU_SuiteInfo suites[] = {
	{"parse", NULL, NULL, NULL, NULL, parse_tests},
	{"reject", NULL, NULL, NULL, NULL, reject_tests},
	{"accept", NULL, NULL, NULL, NULL, accept_tests},
	{"appends", NULL, NULL, NULL, NULL, append_tests},
	{"random", NULL, NULL, NULL, NULL, random_tests},
	CU_SUITE_INFO_NULL,
};

int main(int argc, char **argv)
{
	return rk_test_main(argc, argv, suites);
}

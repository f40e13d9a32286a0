/* report.c -- one full check of a history file with a verdict for humans: the linearizability
 * search of every key plus the direct append checks. rk-check and the fault runner both end
 * here, so that a history saved by the runner reads the same under rk-check. */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "fault/checker.h"

static void print_append_problem(FILE *out, const struct rk_chk_history *h, size_t key,
				 size_t fin, const struct rk_chk_append_report *rep)
{
	fprintf(out, "key %s: append check failed: %s\n", h->keys[key], rep->detail);
	fprintf(out, "    final read: ");
	rk_chk_print_op(out, h, fin);
	fputc('\n', out);
	if (rep->op != SIZE_MAX) {
		fprintf(out, "    ");
		rk_chk_print_op(out, h, rep->op);
		fputc('\n', out);
	}
	if (rep->other != SIZE_MAX) {
		fprintf(out, "    ");
		rk_chk_print_op(out, h, rep->other);
		fputc('\n', out);
	}
}

/* Run the append checks on every append-only key that has a final read, printing problems (and
 * with @verbose, passes) to @out unless it is NULL; returns the number of keys with a problem, or
 * -1 on error. */
static int check_appends(const struct rk_chk_history *h, FILE *out, bool verbose)
{
	int bad = 0;

	for (size_t key = 0; key < h->nkeys; key++) {
		struct rk_chk_append_report rep;
		struct rk_err err = { 0 };
		size_t fin;
		char sep;

		if (!rk_chk_is_append_key(h, key, &sep))
			continue;
		fin = rk_chk_final_read(h, key);
		if (fin == SIZE_MAX) {
			if (out != NULL && verbose)
				fprintf(out,
					"key %s: append checks skipped (no final read after the other ops)\n",
					h->keys[key]);
			continue;
		}
		if (rk_chk_appends(h, key, h->ops[fin].result.p, h->ops[fin].result.len, sep, &rep,
				   &err) != RK_OK) {
			fprintf(stderr, "rk-check: %s\n", rk_err_text(&err, err.code));
			return -1;
		}
		if (rep.problem == RK_CHK_APPEND_FINE) {
			if (out != NULL && verbose)
				fprintf(out, "key %s: appends fine (%zu tokens)\n", h->keys[key],
					rep.tokens);
			continue;
		}
		bad++;
		if (out != NULL)
			print_append_problem(out, h, key, fin, &rep);
	}
	return bad;
}

static void print_key_stats(FILE *out, const struct rk_chk_history *h,
			    const struct rk_chk_result *res)
{
	for (size_t i = 0; i < res->nkeys; i++) {
		const struct rk_chk_keyres *k = &res->keys[i];
		double s = (double)k->ns / 1e9;

		fprintf(out, "key %s: %s, %zu ops, %" PRIu64 " steps, %.3f s (%.0f ops/s)\n",
			h->keys[k->key], rk_chk_verdict_str(k->verdict), k->nops, k->steps, s,
			s > 0 ? (double)k->nops / s : 0.0);
	}
}

int rk_chk_run_file(const char *path, const struct rk_chk_run_opts *ro, FILE *out)
{
	struct rk_chk_history *h = NULL;
	struct rk_chk_result *res = NULL;
	struct rk_err err = { 0 };
	int rv, bad, status;
	FILE *f;

	f = strcmp(path, "-") == 0 ? stdin : fopen(path, "r");
	if (f == NULL) {
		perror(path);
		return 2;
	}
	rv = rk_chk_history_parse_file(f, f == stdin ? "stdin" : path, &h, &err);
	if (f != stdin)
		fclose(f);
	if (rv != RK_OK) {
		fprintf(stderr, "rk-check: %s\n", rk_err_text(&err, rv));
		return 2;
	}
	rv = rk_chk_check(h, &ro->search, &res, &err);
	if (rv != RK_OK) {
		fprintf(stderr, "rk-check: %s\n", rk_err_text(&err, rv));
		rk_chk_history_free(h);
		return 2;
	}
	if (ro->verbose)
		print_key_stats(out, h, res);
	bad = ro->appends ? check_appends(h, NULL, false) : 0;
	if (bad < 0)
		status = 2;
	else if (res->verdict == RK_CHK_VIOLATION || bad > 0)
		status = 1;
	else
		status = res->verdict == RK_CHK_UNKNOWN ? 3 : 0;
	if (status != 2) {
		fprintf(out, "%s\n", status == 0   ? "linearizable"
				     : status == 1 ? "NOT linearizable"
						   : "unknown (budget exceeded)");
		if (!ro->quiet) {
			rk_chk_print_result(out, h, res);
			if (ro->appends)
				check_appends(h, out, ro->verbose);
		}
	}
	rk_chk_result_free(res);
	rk_chk_history_free(h);
	return status;
}

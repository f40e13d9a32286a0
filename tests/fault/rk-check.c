/* rk-check.c -- command-line front end of the linearizability checker.
 *
 *   rk-check [-v] [-q] [--max-steps N] [--max-ms N] [--max-mb N] [--no-appends] HISTORY|-
 *
 * Prints "linearizable" and exits 0; on a violation prints "NOT linearizable", each failing key
 * with its smallest failing window, and exits 1; exits 2 on a malformed history or bad usage, 3
 * when no violation was found but some key ran out of budget ("unknown"). Append-only keys with
 * a final read (see checker.h) also get the direct append checks; a problem there is a violation.
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "fault/checker.h"

static void usage(FILE *f)
{
	fputs("usage: rk-check [-v] [-q] [--max-steps N] [--max-ms N] [--max-mb N] [--no-appends] "
	      "HISTORY|-\n",
	      f);
}

static int parse_num(const char *s, uint64_t *out)
{
	char *end;

	if (s == NULL || *s < '0' || *s > '9')
		return -1;
	*out = strtoull(s, &end, 10);
	return *end == '\0' ? 0 : -1;
}

/* Run the append checks on every append-only key that has a final read, printing problems (and
 * with @verbose, passes) to @out unless it is NULL; returns the number of keys with a problem, or
 * -1 on error. */
static int check_appends(const struct rk_chk_history *h, FILE *out, bool verbose)
{
	int bad = 0;

	for (size_t key = 0; key < h->nkeys; key++) {
		struct rk_chk_append_report rep;
		struct rk_err err = {0};
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
		if (out == NULL)
			continue;
		fprintf(out, "key %s: append check failed: %s\n", h->keys[key], rep.detail);
		fprintf(out, "    final read: ");
		rk_chk_print_op(out, h, fin);
		fputc('\n', out);
		if (rep.op != SIZE_MAX) {
			fprintf(out, "    ");
			rk_chk_print_op(out, h, rep.op);
			fputc('\n', out);
		}
		if (rep.other != SIZE_MAX) {
			fprintf(out, "    ");
			rk_chk_print_op(out, h, rep.other);
			fputc('\n', out);
		}
	}
	return bad;
}

int main(int argc, char **argv)
{
	struct rk_chk_opts opts;
	struct rk_chk_history *h = NULL;
	struct rk_chk_result *res = NULL;
	struct rk_err err = {0};
	bool verbose = false, quiet = false, appends = true;
	const char *path = NULL;
	FILE *f;
	int rv, bad, status;

	rk_chk_opts_default(&opts);
	for (int i = 1; i < argc; i++) {
		uint64_t n;
		if (strcmp(argv[i], "-v") == 0) {
			verbose = true;
		} else if (strcmp(argv[i], "-q") == 0) {
			quiet = true;
		} else if (strcmp(argv[i], "--no-appends") == 0) {
			appends = false;
		} else if (strcmp(argv[i], "--max-steps") == 0 && parse_num(argv[i + 1], &n) == 0) {
			opts.max_steps = n;
			i++;
		} else if (strcmp(argv[i], "--max-ms") == 0 && parse_num(argv[i + 1], &n) == 0) {
			opts.max_ms = n;
			i++;
		} else if (strcmp(argv[i], "--max-mb") == 0 && parse_num(argv[i + 1], &n) == 0) {
			opts.max_bytes = (size_t)n << 20;
			i++;
		} else if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
			usage(stdout);
			return 0;
		} else if (path == NULL && (argv[i][0] != '-' || strcmp(argv[i], "-") == 0)) {
			path = argv[i];
		} else {
			usage(stderr);
			return 2;
		}
	}
	if (path == NULL) {
		usage(stderr);
		return 2;
	}
	f = strcmp(path, "-") == 0 ? stdin : fopen(path, "r");
	if (f == NULL) {
		perror(path);
		return 2;
	}
	rv = rk_chk_history_parse_file(f, strcmp(path, "-") == 0 ? "stdin" : path, &h, &err);
	if (f != stdin)
		fclose(f);
	if (rv != RK_OK) {
		fprintf(stderr, "rk-check: %s\n", rk_err_text(&err, rv));
		return 2;
	}
	rv = rk_chk_check(h, &opts, &res, &err);
	if (rv != RK_OK) {
		fprintf(stderr, "rk-check: %s\n", rk_err_text(&err, rv));
		rk_chk_history_free(h);
		return 2;
	}
	if (verbose) {
		for (size_t i = 0; i < res->nkeys; i++) {
			const struct rk_chk_keyres *k = &res->keys[i];
			double s = (double)k->ns / 1e9;
			printf("key %s: %s, %zu ops, %" PRIu64 " steps, %.3f s (%.0f ops/s)\n",
			       h->keys[k->key], rk_chk_verdict_str(k->verdict), k->nops, k->steps,
			       s, s > 0 ? (double)k->nops / s : 0.0);
		}
	}
	bad = appends ? check_appends(h, NULL, false) : 0;
	if (bad < 0) {
		status = 2;
	} else if (res->verdict == RK_CHK_VIOLATION || bad > 0) {
		status = 1;
	} else {
		status = res->verdict == RK_CHK_UNKNOWN ? 3 : 0;
	}
	if (status != 2) {
		printf("%s\n", status == 0   ? "linearizable"
			       : status == 1 ? "NOT linearizable"
					     : "unknown (budget exceeded)");
		if (!quiet) {
			rk_chk_print_result(stdout, h, res);
			if (appends)
				check_appends(h, stdout, verbose);
		}
	}
	rk_chk_result_free(res);
	rk_chk_history_free(h);
	return status;
}

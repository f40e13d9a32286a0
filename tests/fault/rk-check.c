/* rk-check.c -- command-line front end of the linearizability checker.
 *
 *   rk-check [-v] [-q] [--max-steps N] [--max-ms N] [--max-mb N] [--no-appends] HISTORY|-
 *
 * Prints "linearizable" and exits 0; on a violation prints "NOT linearizable", each failing key
 * with its smallest failing window, and exits 1; exits 2 on a malformed history or bad usage, 3
 * when no violation was found but some key ran out of budget ("unknown"). Append-only keys with
 * a final read (see checker.h) also get the direct append checks; a problem there is a violation.
 */
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

int main(int argc, char **argv)
{
	struct rk_chk_run_opts ro = { .appends = true };
	const char *path = NULL;

	rk_chk_opts_default(&ro.search);
	for (int i = 1; i < argc; i++) {
		uint64_t n;
		if (strcmp(argv[i], "-v") == 0) {
			ro.verbose = true;
		} else if (strcmp(argv[i], "-q") == 0) {
			ro.quiet = true;
		} else if (strcmp(argv[i], "--no-appends") == 0) {
			ro.appends = false;
		} else if (strcmp(argv[i], "--max-steps") == 0 && parse_num(argv[i + 1], &n) == 0) {
			ro.search.max_steps = n;
			i++;
		} else if (strcmp(argv[i], "--max-ms") == 0 && parse_num(argv[i + 1], &n) == 0) {
			ro.search.max_ms = n;
			i++;
		} else if (strcmp(argv[i], "--max-mb") == 0 && parse_num(argv[i + 1], &n) == 0) {
			ro.search.max_bytes = (size_t)n << 20;
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
	return rk_chk_run_file(path, &ro, stdout);
}

/* main.c -- raftkvd entry point: command line, then hand over to the node runtime.
 *
 * Exit statuses (raftkvd(8)): 0 clean stop, 1 runtime failure, 2 usage or configuration error.
 */
#include "config.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>

static void usage(FILE *f)
{
	fprintf(f, "Usage: raftkvd [OPTIONS]\n"
		   "Raft-replicated key-value store daemon.\n\n"
		   "  -V, --version   print the version and exit\n"
		   "  -h, --help      print this help and exit\n\n"
		   "See raftkvd(8).\n");
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "version", no_argument, NULL, 'V' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int c;

	while ((c = getopt_long(argc, argv, "Vh", opts, NULL)) != -1) {
		switch (c) {
		case 'V':
			printf("raftkvd %s\n", PACKAGE_VERSION);
			return 0;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	fprintf(stderr, "raftkvd: the node runtime is not part of this build yet; only --version and "
			"--help work\n");
	return 2;
}

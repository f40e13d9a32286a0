/* check.h -- checks that stay on in release builds.
 *
 * assert() guards our own invariants and vanishes with NDEBUG. RK_CHECK() is for results that
 * "cannot happen" (a syscall on a descriptor we own failing with EBADF, a mutex we hold failing
 * to unlock): continuing would corrupt state, so it aborts with file:line in every build. Never
 * use either on bytes that came from the network or the disk: those get an error code.
 */
#ifndef RK_COMMON_CHECK_H
#define RK_COMMON_CHECK_H

#include <stdio.h>
#include <stdlib.h>

#define RK_CHECK(cond)                                                                  \
	do {                                                                            \
		if (__builtin_expect(!(cond), 0)) {                                     \
			fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, \
				#cond);                                                 \
			abort();                                                        \
		}                                                                       \
	} while (0)

#define RK_ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define RK_UNUSED(x) ((void)(x))

#endif

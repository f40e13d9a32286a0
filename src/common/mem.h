/* mem.h -- allocation wrappers with a failure-injection hook for tests.
 *
 * Modules that must handle out-of-memory cleanly (the Raft core, the store, the codecs) allocate
 * through these so that a test can make the Nth allocation fail and walk every unwind path,
 * asserting RK_ENOMEM and no leaked block each time. With no hook set they are plain libc calls.
 */
#ifndef RK_COMMON_MEM_H
#define RK_COMMON_MEM_H

#include <stddef.h>

void *rk_malloc(size_t size);
void *rk_calloc(size_t nmemb, size_t size);
void *rk_realloc(void *ptr, size_t size);
void rk_free(void *ptr);

/* Make room for @need elements of @elem bytes in the array *@base of capacity *@cap, doubling
 * (from 16) when it is too small. Returns 0, or -1 with *@base and *@cap unchanged. */
int rk_array_reserve(void **base, size_t *cap, size_t need, size_t elem);

/* Test hook: after @countdown more successful allocations, fail every later one until the hook
 * is cleared with rk_mem_fail_after(-1). Not thread-safe: tests set it from a single thread. */
void rk_mem_fail_after(long countdown);

/* Live blocks handed out by the wrappers since start (allocations minus frees). Counted only
 * while a hook is armed or counting is on, so the fast path stays one branch. */
long rk_mem_live(void);
void rk_mem_count(int on);

#endif

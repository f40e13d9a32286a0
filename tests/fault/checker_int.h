/* checker_int.h -- what history.c and checker.c share and nothing else needs. */
#ifndef RK_TESTS_FAULT_CHECKER_INT_H
#define RK_TESTS_FAULT_CHECKER_INT_H

#include <stddef.h>
#include <stdint.h>

/* Values hash as sum((byte + 1) * BASE^(n-1-i)) mod 2^64, so that the hash of a concatenation is
 * hash(a) * BASE^len(b) + hash(b): an append extends a state's hash without reading the state. */
#define CHK_BASE 0x100000001b3ULL

/* Hash of @len bytes at @p; stores CHK_BASE^len in *pow when not NULL. */
uint64_t rk_chk_hash_bytes(const char *p, size_t len, uint64_t *pow);

#endif

/* crc32c.h -- CRC-32C (Castagnoli), the checksum of every WAL record, meta slot and snapshot.
 *
 * Chosen over CRC-32 because x86-64 computes it in hardware (SSE4.2 `crc32`), which keeps the
 * checksum off the append profile. Thread: any; the tables are built once, under pthread_once.
 */
#ifndef RK_STORAGE_CRC32C_H
#define RK_STORAGE_CRC32C_H

#include <stddef.h>
#include <stdint.h>

/* Extend @crc (0 to start, or a previous result) over @n bytes at @p. Chunked calls give the
 * same result as one call over the concatenation. */
uint32_t rk_crc32c(uint32_t crc, const void *p, size_t n);

/* The two implementations behind rk_crc32c(), exposed so tests can cross-check them.
 * rk_crc32c_hw() must only be called when rk_crc32c_has_hw() is true. */
uint32_t rk_crc32c_sw(uint32_t crc, const void *p, size_t n);
uint32_t rk_crc32c_hw(uint32_t crc, const void *p, size_t n);
int rk_crc32c_has_hw(void);

#endif

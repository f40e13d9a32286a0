/* crc32c.c -- CRC-32C: SSE4.2 instruction when the CPU has it, else slice-by-8 tables.
 *
 * Both work on the reflected polynomial 0x82F63B78 with the conventional pre- and post-inversion,
 * so rk_crc32c(0, "123456789", 9) == 0xE3069283. Slice-by-8 folds eight input bytes per step
 * through eight 256-entry tables (table[k][b] = CRC of byte b followed by k zero bytes); the
 * hardware path feeds the `crc32` instruction eight bytes at a time after aligning the pointer.
 * Thread: any. The tables and the dispatch choice are set up once under pthread_once.
 */
#include "storage/crc32c.h"

#include <pthread.h>
#include <string.h>

#if defined(__x86_64__)
#include <nmmintrin.h>
#endif

#define POLY 0x82F63B78u

static uint32_t table[8][256];
static int have_hw;
static pthread_once_t init_once = PTHREAD_ONCE_INIT;

static void init_tables(void)
{
	for (uint32_t b = 0; b < 256; b++) {
		uint32_t c = b;

		for (int k = 0; k < 8; k++)
			c = (c & 1) ? (c >> 1) ^ POLY : c >> 1;
		table[0][b] = c;
	}
	for (uint32_t b = 0; b < 256; b++)
		for (int k = 1; k < 8; k++)
			table[k][b] = (table[k - 1][b] >> 8) ^ table[0][table[k - 1][b] & 0xFF];
#if defined(__x86_64__)
	__builtin_cpu_init();
	have_hw = __builtin_cpu_supports("sse4.2");
#endif
}

static uint64_t load_le64(const unsigned char *p)
{
	uint64_t v = 0;

	for (int i = 7; i >= 0; i--)
		v = (v << 8) | p[i];
	return v;
}

static uint32_t sw_update(uint32_t c, const unsigned char *p, size_t n)
{
	while (n > 0 && ((uintptr_t)p & 7) != 0) {
		c = (c >> 8) ^ table[0][(c ^ *p++) & 0xFF];
		n--;
	}
	while (n >= 8) {
		uint64_t v = load_le64(p) ^ c;

		c = table[7][v & 0xFF] ^ table[6][(v >> 8) & 0xFF] ^ table[5][(v >> 16) & 0xFF] ^
		    table[4][(v >> 24) & 0xFF] ^ table[3][(v >> 32) & 0xFF] ^
		    table[2][(v >> 40) & 0xFF] ^ table[1][(v >> 48) & 0xFF] ^ table[0][v >> 56];
		p += 8;
		n -= 8;
	}
	while (n-- > 0)
		c = (c >> 8) ^ table[0][(c ^ *p++) & 0xFF];
	return c;
}

uint32_t rk_crc32c_sw(uint32_t crc, const void *p, size_t n)
{
	pthread_once(&init_once, init_tables);
	return ~sw_update(~crc, p, n);
}

#if defined(__x86_64__)
__attribute__((target("sse4.2"))) static uint32_t hw_update(uint32_t c, const unsigned char *p,
							      size_t n)
{
	uint64_t c64;

	while (n > 0 && ((uintptr_t)p & 7) != 0) {
		c = _mm_crc32_u8(c, *p++);
		n--;
	}
	c64 = c;
	while (n >= 8) {
		uint64_t v;

		memcpy(&v, p, 8); /* aligned here; memcpy keeps the access well-defined */
		c64 = _mm_crc32_u64(c64, v);
		p += 8;
		n -= 8;
	}
	c = (uint32_t)c64;
	while (n-- > 0)
		c = _mm_crc32_u8(c, *p++);
	return c;
}

uint32_t rk_crc32c_hw(uint32_t crc, const void *p, size_t n)
{
	return ~hw_update(~crc, p, n);
}
#else
uint32_t rk_crc32c_hw(uint32_t crc, const void *p, size_t n)
{
	return rk_crc32c_sw(crc, p, n);
}
#endif

int rk_crc32c_has_hw(void)
{
	pthread_once(&init_once, init_tables);
	return have_hw;
}

uint32_t rk_crc32c(uint32_t crc, const void *p, size_t n)
{
	pthread_once(&init_once, init_tables);
#if defined(__x86_64__)
	if (have_hw)
		return ~hw_update(~crc, p, n);
#endif
	return ~sw_update(~crc, p, n);
}

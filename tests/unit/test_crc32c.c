/* test_crc32c.c -- CRC-32C against published vectors, and hardware against table. */
#include <stdlib.h>
#include <string.h>

#include "storage/crc32c.h"
#include "unit/test_storage.h"

typedef uint32_t (*crc_fn)(uint32_t, const void *, size_t);

static void check_vectors(crc_fn f)
{
	uint8_t buf[32];

	CU_ASSERT_EQUAL(f(0, "123456789", 9), 0xE3069283u);
	CU_ASSERT_EQUAL(f(0, "", 0), 0u);
	memset(buf, 0, sizeof buf);
	CU_ASSERT_EQUAL(f(0, buf, 32), 0x8A9136AAu);
	memset(buf, 0xFF, sizeof buf);
	CU_ASSERT_EQUAL(f(0, buf, 32), 0x62A8AB43u);
	for (int i = 0; i < 32; i++)
		buf[i] = (uint8_t)i;
	CU_ASSERT_EQUAL(f(0, buf, 32), 0x46DD794Eu);
	for (int i = 0; i < 32; i++)
		buf[i] = (uint8_t)(31 - i);
	CU_ASSERT_EQUAL(f(0, buf, 32), 0x113FDB5Cu);
}

static void test_vectors_sw(void)
{
	check_vectors(rk_crc32c_sw);
}

static void test_vectors_hw(void)
{
	if (!rk_crc32c_has_hw()) {
		fprintf(stderr, "(no SSE4.2: hardware path not tested) ");
		return;
	}
	check_vectors(rk_crc32c_hw);
}

static void test_vectors_dispatch(void)
{
	check_vectors(rk_crc32c);
}

/* Chunked updates equal one pass, whatever the split. */
static void test_chunked(void)
{
	uint8_t buf[1000];
	uint32_t whole, part;

	test_fill(buf, sizeof buf, 7);
	whole = rk_crc32c(0, buf, sizeof buf);
	for (size_t cut = 0; cut <= sizeof buf; cut += 37) {
		part = rk_crc32c(rk_crc32c(0, buf, cut), buf + cut, sizeof buf - cut);
		CU_ASSERT_EQUAL(part, whole);
	}
}

/* Random lengths at every alignment: the word loops and the byte tails must agree. */
static void test_hw_vs_table(void)
{
	enum { MAX = 4096 + 16 };
	uint8_t *buf = malloc(MAX);
	uint64_t s = 42;

	CU_ASSERT_FATAL(buf != NULL);
	test_fill(buf, MAX, 1);
	for (int i = 0; i < 3000; i++) {
		size_t align = test_rand(&s) % 8;
		size_t len = (size_t)(test_rand(&s) % (i < 200 ? 64 : 4096));
		uint32_t seed = (uint32_t)test_rand(&s);
		uint32_t sw = rk_crc32c_sw(seed, buf + align, len);

		CU_ASSERT_EQUAL(rk_crc32c(seed, buf + align, len), sw);
		if (rk_crc32c_has_hw())
			CU_ASSERT_EQUAL(rk_crc32c_hw(seed, buf + align, len), sw);
	}
	free(buf);
}

CU_TestInfo crc32c_tests[] = {
	{ "vectors_sw", test_vectors_sw },
	{ "vectors_hw", test_vectors_hw },
	{ "vectors_dispatch", test_vectors_dispatch },
	{ "chunked", test_chunked },
	{ "hw_vs_table", test_hw_vs_table },
	CU_TEST_INFO_NULL,
};

/* mem.c -- allocation wrappers; see mem.h. The counters are plain globals on purpose: the hook
 * is a single-threaded test facility, and production leaves it disarmed. */
#include "common/mem.h"

#include <stdlib.h>

static long fail_countdown = -1; /* -1: never fail */
static int counting;
static long live;

static int should_fail(void)
{
	if (fail_countdown < 0)
		return 0;
	if (fail_countdown == 0)
		return 1;
	fail_countdown--;
	return 0;
}

void *rk_malloc(size_t size)
{
	void *p;

	if (should_fail())
		return NULL;
	p = malloc(size);
	if (counting && p != NULL)
		live++;
	return p;
}

void *rk_calloc(size_t nmemb, size_t size)
{
	void *p;

	if (should_fail())
		return NULL;
	p = calloc(nmemb, size);
	if (counting && p != NULL)
		live++;
	return p;
}

void *rk_realloc(void *ptr, size_t size)
{
	void *p;

	if (should_fail())
		return NULL;
	p = realloc(ptr, size);
	if (counting && p != NULL && ptr == NULL)
		live++;
	return p;
}

void rk_free(void *ptr)
{
	if (counting && ptr != NULL)
		live--;
	free(ptr);
}

void rk_mem_fail_after(long countdown)
{
	fail_countdown = countdown;
}

long rk_mem_live(void)
{
	return live;
}

void rk_mem_count(int on)
{
	counting = on;
	live = 0;
}

int rk_array_reserve(void **base, size_t *cap, size_t need, size_t elem)
{
	size_t n = *cap ? *cap : 16;
	void *p;

	if (need <= *cap)
		return 0;
	while (n < need)
		n *= 2;
	p = rk_realloc(*base, n * elem);
	if (p == NULL)
		return -1;
	*base = p;
	*cap = n;
	return 0;
}

/*
 * Allocation hooks for the tests of allocation failures: every allocation
 * from the `left`-th on fails (left -1: none fails); calls and live blocks
 * are counted, so a test can fail each allocation in turn and check that
 * nothing leaked. Use: fail_alloc fa = { n, 0, 0 };
 * khang_allocator hooks = FAIL_ALLOC_HOOKS(fa);
 */
#ifndef KH_TEST_FAIL_ALLOC_H
#define KH_TEST_FAIL_ALLOC_H

#include <stdlib.h>

typedef struct fail_alloc {
	long left;   /* allocations before the failures begin; -1: never fail */
	long count;  /* calls of malloc and realloc */
	long live;   /* blocks allocated and not freed */
} fail_alloc;

static inline void *fa_malloc(size_t size, void *payload)
{
	fail_alloc *fa = payload;
	fa->count++;
	if (fa->left == 0)
		return NULL;
	if (fa->left > 0)
		fa->left--;
	void *p = malloc(size);
	if (p)
		fa->live++;
	return p;
}

static inline void *fa_realloc(void *ptr, size_t size, void *payload)
{
	fail_alloc *fa = payload;
	fa->count++;
	if (fa->left == 0)
		return NULL;
	if (fa->left > 0)
		fa->left--;
	void *p = realloc(ptr, size);
	if (p && !ptr)
		fa->live++;
	return p;
}

static inline void fa_free(void *ptr, void *payload)
{
	fail_alloc *fa = payload;
	if (ptr)
		fa->live--;
	free(ptr);
}

#define FAIL_ALLOC_HOOKS(fa) { fa_malloc, fa_realloc, fa_free, &(fa) }

#endif /* KH_TEST_FAIL_ALLOC_H */

/* Allocation through the caller's hooks, and the address set. */
#include <stdlib.h>

#include "util.h"

static void *libc_malloc(size_t size, void *payload)
{
	(void)payload;
	return malloc(size);
}

static void *libc_realloc(void *ptr, size_t size, void *payload)
{
	(void)payload;
	return realloc(ptr, size);
}

static void libc_free(void *ptr, void *payload)
{
	(void)payload;
	free(ptr);
}

int kh_alloc_init(kh_alloc *a, const khang_allocator *user)
{
	if (!user) {
		a->malloc_fn = libc_malloc;
		a->realloc_fn = libc_realloc;
		a->free_fn = libc_free;
		a->payload = NULL;
		return 0;
	}
	if (!user->malloc_fn || !user->realloc_fn || !user->free_fn)
		return kh_error(KHANG_EINVAL, "allocator: malloc_fn, realloc_fn and free_fn must all be set");
	a->malloc_fn = user->malloc_fn;
	a->realloc_fn = user->realloc_fn;
	a->free_fn = user->free_fn;
	a->payload = user->payload;
	return 0;
}

void *kh_malloc(const kh_alloc *a, size_t size)
{
	void *p = a->malloc_fn(size ? size : 1, a->payload);
	if (!p)
		kh_error(KHANG_ENOMEM, "out of memory allocating %zu bytes", size);
	return p;
}

void *kh_calloc(const kh_alloc *a, size_t n, size_t size)
{
	size_t total;
	if (kh_mul_overflow_size(n, size, &total)) {
		kh_error(KHANG_ENOMEM, "allocation of %zu x %zu bytes overflows", n, size);
		return NULL;
	}
	void *p = kh_malloc(a, total);
	if (p)
		memset(p, 0, total);
	return p;
}

void *kh_realloc(const kh_alloc *a, void *ptr, size_t size)
{
	void *p = a->realloc_fn(ptr, size ? size : 1, a->payload);
	if (!p)
		kh_error(KHANG_ENOMEM, "out of memory reallocating to %zu bytes", size);
	return p;
}

void *kh_reallocarray(const kh_alloc *a, void *ptr, size_t n, size_t size)
{
	size_t total;
	if (kh_mul_overflow_size(n, size, &total)) {
		kh_error(KHANG_ENOMEM, "allocation of %zu x %zu bytes overflows", n, size);
		return NULL;
	}
	return kh_realloc(a, ptr, total);
}

void kh_free(const kh_alloc *a, void *ptr)
{
	if (ptr)
		a->free_fn(ptr, a->payload);
}

char *kh_strdup(const kh_alloc *a, const char *s)
{
	size_t n = strlen(s) + 1;
	char *p = kh_malloc(a, n);
	if (p)
		memcpy(p, s, n);
	return p;
}

/* ---- address set ------------------------------------------------------ */

static inline size_t addr_hash(uint64_t v)
{
	v ^= v >> 33;
	v *= 0xff51afd7ed558ccdULL;
	v ^= v >> 33;
	return (size_t)v;
}

void kh_addrset_init(kh_addrset *s, const kh_alloc *alloc)
{
	memset(s, 0, sizeof(*s));
	s->alloc = alloc;
}

static int addrset_grow(kh_addrset *s)
{
	size_t ncap = s->cap ? s->cap * 2 : 64;
	uint64_t *n = kh_calloc(s->alloc, ncap, sizeof(uint64_t));
	if (!n)
		return KHANG_ENOMEM;
	for (size_t i = 0; i < s->cap; i++) {
		uint64_t v = s->slots[i];
		if (!v)
			continue;
		size_t j = addr_hash(v) & (ncap - 1);
		while (n[j])
			j = (j + 1) & (ncap - 1);
		n[j] = v;
	}
	kh_free(s->alloc, s->slots);
	s->slots = n;
	s->cap = ncap;
	return 0;
}

int kh_addrset_add(kh_addrset *s, uint64_t addr)
{
	if (addr == 0) {
		if (s->has_zero)
			return 0;
		s->has_zero = true;
		return 1;
	}
	if ((s->count + 1) * 4 >= s->cap * 3) {
		int rc = addrset_grow(s);
		if (rc < 0)
			return rc;
	}
	size_t j = addr_hash(addr) & (s->cap - 1);
	while (s->slots[j]) {
		if (s->slots[j] == addr)
			return 0;
		j = (j + 1) & (s->cap - 1);
	}
	s->slots[j] = addr;
	s->count++;
	return 1;
}

bool kh_addrset_has(const kh_addrset *s, uint64_t addr)
{
	if (addr == 0)
		return s->has_zero;
	if (!s->cap)
		return false;
	size_t j = addr_hash(addr) & (s->cap - 1);
	while (s->slots[j]) {
		if (s->slots[j] == addr)
			return true;
		j = (j + 1) & (s->cap - 1);
	}
	return false;
}

void kh_addrset_clear(kh_addrset *s)
{
	if (s->slots)
		memset(s->slots, 0, s->cap * sizeof(uint64_t));
	s->count = 0;
	s->has_zero = false;
}

void kh_addrset_free(kh_addrset *s)
{
	kh_free(s->alloc, s->slots);
	s->slots = NULL;
	s->cap = s->count = 0;
	s->has_zero = false;
}

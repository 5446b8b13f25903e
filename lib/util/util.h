/*
 * Internal utilities: error records, allocation hooks, overflow-checked
 * arithmetic and bounded little-endian byte access. Nothing here is exported.
 *
 * Rules for the whole library:
 * - File and dump bytes are read only through kh_le*() on a pointer that was
 *   bounds-checked with kh_span_ok(), or through struct kh_cursor; never by
 *   casting bytes to a struct.
 * - Every size computed from input goes through kh_add_overflow() /
 *   kh_mul_overflow().
 * - Functions that fail call kh_error() (which records a message for
 *   khang_error_last()) and return its negative code.
 */
#ifndef KH_UTIL_H
#define KH_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "khang/common.h"
#include "khang/errors.h"

#if defined(__GNUC__) || defined(__clang__)
#  define KH_PRINTF(a, b) __attribute__((format(printf, a, b)))
#  define KH_UNLIKELY(x) __builtin_expect(!!(x), 0)
#  define KH_LIKELY(x) __builtin_expect(!!(x), 1)
#else
#  define KH_PRINTF(a, b)
#  define KH_UNLIKELY(x) (x)
#  define KH_LIKELY(x) (x)
#endif

#define KH_ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define KH_MIN(a, b) ((a) < (b) ? (a) : (b))
#define KH_MAX(a, b) ((a) > (b) ? (a) : (b))

/* ---- errors ---------------------------------------------------------- */

/* Record code and message for this thread; returns code (negative). */
int kh_error(int code, const char *fmt, ...) KH_PRINTF(2, 3);
/* Prepend context to the current message: "ctx: <old message>". Returns code. */
int kh_error_context(int code, const char *fmt, ...) KH_PRINTF(2, 3);

/* ---- allocation ------------------------------------------------------ */

typedef struct kh_alloc {
	void *(*malloc_fn)(size_t size, void *payload);
	void *(*realloc_fn)(void *ptr, size_t size, void *payload);
	void (*free_fn)(void *ptr, void *payload);
	void *payload;
} kh_alloc;

/* Fill *a from the user's hooks (NULL: libc). Returns KHANG_EINVAL if the
 * hooks are incomplete. */
int kh_alloc_init(kh_alloc *a, const khang_allocator *user);
/* These record KHANG_ENOMEM via kh_error() on failure and return NULL. */
void *kh_malloc(const kh_alloc *a, size_t size);
void *kh_calloc(const kh_alloc *a, size_t n, size_t size);
void *kh_realloc(const kh_alloc *a, void *ptr, size_t size);
/* realloc to n * size bytes with overflow check */
void *kh_reallocarray(const kh_alloc *a, void *ptr, size_t n, size_t size);
void kh_free(const kh_alloc *a, void *ptr);
char *kh_strdup(const kh_alloc *a, const char *s);

/* Copy src into dst (cap bytes, cap > 0), truncating; always NUL-terminated. */
static inline void kh_copy_str(char *dst, size_t cap, const char *src)
{
	size_t n = strlen(src);
	if (n >= cap)
		n = cap - 1;
	memcpy(dst, src, n);
	dst[n] = '\0';
}

/* ---- overflow-checked arithmetic (true on overflow) ------------------ */

static inline bool kh_add_overflow_u64(uint64_t a, uint64_t b, uint64_t *out)
{
	*out = a + b;
	return *out < a;
}

static inline bool kh_mul_overflow_u64(uint64_t a, uint64_t b, uint64_t *out)
{
	if (a != 0 && b > UINT64_MAX / a)
		return true;
	*out = a * b;
	return false;
}

static inline bool kh_add_overflow_size(size_t a, size_t b, size_t *out)
{
	*out = a + b;
	return *out < a;
}

static inline bool kh_mul_overflow_size(size_t a, size_t b, size_t *out)
{
	if (a != 0 && b > SIZE_MAX / a)
		return true;
	*out = a * b;
	return false;
}

/* true if [off, off + n) lies inside a buffer of len bytes */
static inline bool kh_span_ok(size_t len, uint64_t off, uint64_t n)
{
	return off <= len && n <= len - off;
}

/* ---- little-endian loads from a pointer the caller bounds-checked ---- */

static inline uint16_t kh_le16(const uint8_t *p)
{
	return (uint16_t)(p[0] | (uint16_t)p[1] << 8);
}

static inline uint32_t kh_le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static inline uint64_t kh_le64(const uint8_t *p)
{
	return (uint64_t)kh_le32(p) | (uint64_t)kh_le32(p + 4) << 32;
}

static inline void kh_put_le16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

static inline void kh_put_le32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static inline void kh_put_le64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

/* ---- bounded cursor over a byte buffer -------------------------------
 * Reads past the end set c->overrun and yield 0; check once at the end with
 * kh_cur_ok(). This keeps parsers short without ever reading out of bounds. */

typedef struct kh_cursor {
	const uint8_t *data;
	size_t len;
	size_t pos;
	bool overrun;
} kh_cursor;

static inline void kh_cur_init(kh_cursor *c, const void *data, size_t len)
{
	c->data = (const uint8_t *)data;
	c->len = len;
	c->pos = 0;
	c->overrun = false;
}

static inline bool kh_cur_ok(const kh_cursor *c)
{
	return !c->overrun;
}

/* Move to absolute offset; past the end marks overrun. */
static inline void kh_cur_seek(kh_cursor *c, uint64_t off)
{
	if (off > c->len) {
		c->overrun = true;
		c->pos = c->len;
	} else {
		c->pos = (size_t)off;
	}
}

static inline const uint8_t *kh_cur_take(kh_cursor *c, size_t n)
{
	if (c->overrun || n > c->len - c->pos) {
		c->overrun = true;
		return NULL;
	}
	const uint8_t *p = c->data + c->pos;
	c->pos += n;
	return p;
}

static inline uint8_t kh_cur_u8(kh_cursor *c)
{
	const uint8_t *p = kh_cur_take(c, 1);
	return p ? p[0] : 0;
}

static inline uint16_t kh_cur_u16(kh_cursor *c)
{
	const uint8_t *p = kh_cur_take(c, 2);
	return p ? kh_le16(p) : 0;
}

static inline uint32_t kh_cur_u32(kh_cursor *c)
{
	const uint8_t *p = kh_cur_take(c, 4);
	return p ? kh_le32(p) : 0;
}

static inline uint64_t kh_cur_u64(kh_cursor *c)
{
	const uint8_t *p = kh_cur_take(c, 8);
	return p ? kh_le64(p) : 0;
}

/* Read at absolute offset without moving (bounded; 0 and overrun if out). */
static inline uint32_t kh_cur_u32_at(kh_cursor *c, uint64_t off)
{
	if (!kh_span_ok(c->len, off, 4)) {
		c->overrun = true;
		return 0;
	}
	return kh_le32(c->data + off);
}

static inline uint64_t kh_cur_u64_at(kh_cursor *c, uint64_t off)
{
	if (!kh_span_ok(c->len, off, 8)) {
		c->overrun = true;
		return 0;
	}
	return kh_le64(c->data + off);
}

static inline unsigned kh_popcount64(uint64_t v)
{
#if defined(__GNUC__) || defined(__clang__)
	return (unsigned)__builtin_popcountll(v);
#else
	v = v - ((v >> 1) & 0x5555555555555555ULL);
	v = (v & 0x3333333333333333ULL) + ((v >> 2) & 0x3333333333333333ULL);
	v = (v + (v >> 4)) & 0x0F0F0F0F0F0F0F0FULL;
	return (unsigned)((v * 0x0101010101010101ULL) >> 56);
#endif
}

/* ---- a visited-set for cycle detection in list walks ------------------
 * Open addressing over 64-bit addresses, bounded by the caller's limit. */

typedef struct kh_addrset {
	const kh_alloc *alloc;
	uint64_t *slots;  /* 0 = empty; address 0 is stored via has_zero */
	size_t cap;       /* power of two */
	size_t count;
	bool has_zero;
} kh_addrset;

void kh_addrset_init(kh_addrset *s, const kh_alloc *alloc);
/* Returns 1 if added, 0 if it was already there, KHANG_ENOMEM on failure. */
int kh_addrset_add(kh_addrset *s, uint64_t addr);
bool kh_addrset_has(const kh_addrset *s, uint64_t addr);
void kh_addrset_clear(kh_addrset *s);
void kh_addrset_free(kh_addrset *s);

#endif /* KH_UTIL_H */

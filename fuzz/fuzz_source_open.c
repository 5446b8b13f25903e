/*
 * Fuzz the dump reader through the public API: open the input as a dump
 * held in memory; if it opens, check the header information, then make a
 * bounded number of physical reads, translations and virtual reads at
 * addresses taken from the header (DTB, list heads, KDBG), from pointers
 * read along the way (so list walks happen) and from a generator seeded by
 * the input's tail. Every call's result must be one of its documented codes
 * and its out-parameters consistent with it; a failed invariant aborts.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "khang.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define OPS 32
#define BUF 12288

#define CHECK(cond)                                                                     \
	do {                                                                            \
		if (!(cond)) {                                                          \
			fprintf(stderr, "fuzz_source_open: invariant failed: %s (line %d): %s\n", \
			        #cond, __LINE__, khang_error_last());                   \
			abort();                                                        \
		}                                                                       \
	} while (0)

static uint64_t next_rand(uint64_t *s)
{
	uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
	return z ^ (z >> 31);
}

/* Seed from the last 16 bytes and the size: mutating the tail (page data
 * in most dumps) steers the accesses without touching the header. */
static uint64_t seed_of(const uint8_t *data, size_t size)
{
	uint64_t h = 0xCBF29CE484222325ull ^ size;
	for (size_t i = size > 16 ? size - 16 : 0; i < size; i++)
		h = (h ^ data[i]) * 0x100000001B3ull;
	return h;
}

static uint64_t load_le(const uint8_t *p, size_t n)
{
	uint64_t v = 0;
	for (size_t i = 0; i < n; i++)
		v |= (uint64_t)p[i] << (8 * i);
	return v;
}

static int canonical(uint64_t va)
{
	uint64_t top = va >> 47;
	return top == 0 || top == 0x1FFFF;
}

static void check_info(const khang_source *src, const khang_source_info *info, size_t size)
{
	CHECK(info->header_size == 0x1000 || info->header_size == 0x2000);
	CHECK(info->file_size == size);
	CHECK(info->pages_missing <= info->pages_indexed);
	CHECK((unsigned)info->dump_type <= KHANG_DUMP_RDMP_A);
	CHECK(info->pae == 0 || info->pae == 1);
	CHECK(memchr(info->comment, 0, sizeof info->comment) != NULL);
	if (info->arch == KHANG_ARCH_X64)
		CHECK(info->machine_type == 0x8664);
	if (info->arch == KHANG_ARCH_X86)
		CHECK(info->machine_type == 0x14C);
	if (info->arch == KHANG_ARCH_ARM64)
		CHECK(info->machine_type == 0xAA64);
	CHECK(khang_source_warning_count(src) >= info->warnings);

	/* an older caller's smaller structure: nothing past its size is written */
	union {
		khang_source_info info;
		uint8_t bytes[sizeof(khang_source_info)];
	} small;
	size_t cut = offsetof(khang_source_info, dtb);
	memset(&small, 0xA5, sizeof small);
	small.info.size = cut;
	int rc = khang_source_get_info(&small.info, src);
	CHECK(rc == 0 || rc == KHANG_EINVAL);
	for (size_t i = cut; i < sizeof small; i++)
		CHECK(small.bytes[i] == 0xA5);

	const uint8_t *ctx = NULL;
	size_t ctx_len = 0;
	CHECK(khang_source_context_record(&ctx, &ctx_len, src) == 0);
	CHECK(ctx != NULL && (ctx_len == 1200 || ctx_len == 3000));
	volatile uint8_t sum = 0;
	for (size_t i = 0; i < ctx_len; i++)
		sum ^= ctx[i];
	(void)sum;
}

static void check_warnings(const khang_source *src)
{
	uint32_t n = khang_source_warning_count(src);
	for (uint32_t i = 0; i < n && i < 64; i++) {
		const char *w = khang_source_warning(src, i);
		CHECK(w != NULL);
		(void)strlen(w);
	}
	if (n < 64)
		CHECK(khang_source_warning(src, n) == NULL);
}

static void do_read_physical(khang_source *src, const khang_source_info *info, uint64_t pa,
                             uint8_t *buf, size_t len)
{
	size_t got = (size_t)-1;
	uint64_t missing = 0;
	int rc = khang_read_physical(src, pa, buf, len, &got, &missing);
	CHECK(rc == 0 || rc == KHANG_ENOTPRESENT || rc == KHANG_ERANGE);
	if (rc == KHANG_ERANGE)
		CHECK(len > UINT64_MAX - pa);
	else
		CHECK(got <= len);
	if (rc == 0)
		CHECK(got == len);
	if (rc == KHANG_ENOTPRESENT)
		CHECK(missing == pa + got);
	/* every page it claims is past the end of the file (so none is inside
	 * it): no byte can be read. (pages_indexed may be the header's claim,
	 * e.g. a bitmap's TotalPresentPages, hence the > 0.) */
	if (info->pages_indexed > 0 && info->pages_missing == info->pages_indexed && len)
		CHECK(rc != 0 && got == 0);
	/* NULL out-parameters are allowed */
	rc = khang_read_physical(src, pa, buf, len < 16 ? len : 16, NULL, NULL);
	CHECK(rc == 0 || rc == KHANG_ENOTPRESENT || rc == KHANG_ERANGE);
}

/* Translate va; if it works, a one-byte virtual read and a physical read
 * of the translation must agree. Returns 1 with *pa on success. */
static int do_translate(khang_source *src, const khang_source_info *info, uint64_t dtb,
                        uint64_t va, uint64_t *pa)
{
	int rc = khang_translate(pa, src, dtb, va);
	CHECK(rc == 0 || rc == KHANG_ENOTPRESENT || rc == KHANG_ERANGE ||
	      rc == KHANG_EUNSUPPORTED);
	if (info->arch == KHANG_ARCH_X64 && !canonical(va))
		CHECK(rc == KHANG_ERANGE || rc == KHANG_EUNSUPPORTED);
	if (info->arch == KHANG_ARCH_X86 && va > 0xFFFFFFFFull)
		CHECK(rc == KHANG_ERANGE || rc == KHANG_EUNSUPPORTED);
	if (rc == KHANG_ERANGE && info->arch == KHANG_ARCH_X64)
		CHECK(!canonical(va));
	if (rc == KHANG_ERANGE && info->arch == KHANG_ARCH_X86)
		CHECK(va > 0xFFFFFFFFull);
	if (rc != 0)
		return 0;
	CHECK((*pa & 0xFFF) == (va & 0xFFF));
	CHECK(*pa < (1ull << 52));
	uint8_t v = 0, p = 0;
	size_t got = 0;
	int rv = khang_read_virtual(src, dtb, va, &v, 1, &got, NULL);
	int rp = khang_read_physical(src, *pa, &p, 1, NULL, NULL);
	CHECK(rv == rp);
	if (rv == 0)
		CHECK(v == p && got == 1);
	return 1;
}

static void do_read_virtual(khang_source *src, uint64_t dtb, uint64_t va, uint8_t *buf,
                            size_t len)
{
	size_t got = (size_t)-1;
	uint64_t missing = 0;
	int rc = khang_read_virtual(src, dtb, va, buf, len, &got, &missing);
	CHECK(rc == 0 || rc == KHANG_ENOTPRESENT || rc == KHANG_ERANGE ||
	      rc == KHANG_EUNSUPPORTED);
	CHECK(got <= len);
	if (rc == 0)
		CHECK(got == len);
	if (rc == KHANG_ENOTPRESENT)
		CHECK(missing == va + got);
}

static void exercise(khang_source *src, const khang_source_info *info, uint64_t seed)
{
	static uint8_t buf[BUF];
	size_t ptr = info->arch == KHANG_ARCH_X86 ? 4 : 8;
	uint64_t cand[10] = {
		info->ps_active_process_head, info->ps_loaded_module_list,
		info->kd_debugger_data_block, info->pfn_database, info->dtb,
		info->arch == KHANG_ARCH_X86 ? 0x80000000ull : 0xFFFFF80000000000ull,
		0, 0, 0, 0,
	};
	size_t ncand = 6;
	for (int op = 0; op < OPS; op++) {
		uint64_t r = next_rand(&seed);
		uint64_t a;
		switch ((r >> 8) & 7) {
		case 0: case 1: case 2: case 3:
			a = cand[(r >> 16) % ncand] + ((r >> 32) & 0x7) * ptr;
			break;
		case 4:
			a = info->max_pfn ? ((r >> 12) % info->max_pfn) << 12 : r >> 20;
			break;
		case 5: {
			static const uint64_t edges[] = {
				0x00007FFFFFFFFFFFull, 0x0000800000000000ull, 0xFFFF800000000000ull,
				UINT64_MAX, 0xFFFFFFFFull, 0x100000000ull, 0, 0xFFFFFFFFFFFFF000ull,
			};
			a = edges[(r >> 16) & 7];
			break;
		}
		default:
			a = next_rand(&seed);
			break;
		}
		size_t len = (r & 3) == 0 ? (size_t)(next_rand(&seed) % BUF) : (size_t)((r >> 4) & 15);
		uint64_t dtb = (r >> 40) % 8 == 0 ? info->dtb : 0;
		uint64_t pa;
		switch (r & 0x30) {
		case 0x00:
			do_read_physical(src, info, a, buf, len);
			break;
		case 0x10:
			if (do_translate(src, info, dtb, a, &pa) && ncand < 10)
				cand[ncand++] = pa; /* also try it as a VA or PA later */
			break;
		default:
			do_read_virtual(src, dtb, a, buf, len);
			/* follow a pointer read there: list walks */
			if (ncand < 10 && khang_read_virtual(src, dtb, a, buf, ptr, NULL, NULL) == 0)
				cand[ncand++] = load_le(buf, ptr);
			else if (ncand == 10)
				cand[6 + (r >> 50) % 4] = load_le(buf, ptr);
			break;
		}
	}
	khang_tlb_stats st;
	CHECK(khang_source_tlb_stats(&st, src) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const uint8_t empty[1];
	uint64_t seed = seed_of(data, size);
	khang_source_opts opts = KHANG_SOURCE_OPTS_INIT;
	static const uint32_t tlbs[4] = { 0, 1, 2, 7 };
	opts.tlb_entries = tlbs[seed & 3];
	if (seed & 4)
		opts.flags |= KHANG_SOURCE_QUIET_TRUNCATION;

	khang_source *src = (khang_source *)&opts; /* must be reset on failure */
	int rc = khang_source_open_memory(&src, size ? data : empty, size, &opts);
	if (rc != 0) {
		CHECK(rc == KHANG_EFORMAT || rc == KHANG_ECORRUPT || rc == KHANG_EUNSUPPORTED ||
		      rc == KHANG_ENOMEM);
		CHECK(src == NULL);
		CHECK(khang_error_last_code() == rc);
		return 0;
	}
	CHECK(src != NULL);
	khang_source_info info;
	memset(&info, 0, sizeof info); /* not KHANG_SOURCE_INFO_INIT: -Wmissing-field-initializers */
	info.size = sizeof info;
	CHECK(khang_source_get_info(&info, src) == 0);
	check_info(src, &info, size);
	exercise(src, &info, seed);
	check_warnings(src);
	khang_source_free(src);
	return 0;
}

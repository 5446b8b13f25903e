/*
 * Self-test of the forge (tests/forge), without libkhang: page tables are
 * checked through the forge's own walker and through a small independent
 * x64 walk over the written dump bytes; file layouts are checked byte by
 * byte against docs/FORMAT.md.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "forge.h"

#define KVA 0xFFFFF80000000000ull

static void test_sparse_store(void **state)
{
	(void)state;
	fg_forge *f = fg_new(FG_X64, 16ull << 20); /* 64 GiB */
	assert_non_null(f);
	assert_int_equal(fg_stored_pages(f), 1); /* the kernel PML4 */
	uint64_t pa = 60ull << 30;
	assert_int_equal(fg_phys_write(f, pa + 0xFFE, "abcd", 4), 0);
	assert_int_equal(fg_stored_pages(f), 3);
	char buf[8] = { 1 };
	fg_phys_read(f, pa + 0xFFC, buf, 8);
	assert_memory_equal(buf, "\0\0abcd\0\0", 8);
	fg_phys_read(f, 30ull << 30, buf, 8);
	assert_memory_equal(buf, "\0\0\0\0\0\0\0\0", 8);
	assert_true(fg_page_stored(f, pa >> 12));
	assert_false(fg_page_stored(f, (pa >> 12) + 2));
	/* beyond the physical address width */
	assert_int_equal(fg_phys_write(f, 1ull << 52, "x", 1), -1);
	fg_free(f);
	assert_null(fg_new(FG_X86, 1ull << 21));
	assert_null(fg_new(FG_X64, 0));
	fg_free(NULL);
}

static void test_alloc_skips_holes(void **state)
{
	(void)state;
	fg_forge *f = fg_new(FG_X64, 64);
	static const fg_run runs[] = { { 0, 4 }, { 10, 2 } };
	assert_int_equal(fg_set_runs(f, runs, 2), 0);
	assert_int_equal(fg_alloc_page(f), 2); /* PFN 1 is the kernel DTB */
	assert_int_equal(fg_alloc_page(f), 3);
	assert_int_equal(fg_phys_write(f, 10 * 0x1000, "x", 1), 0); /* stored: skipped */
	assert_int_equal(fg_alloc_page(f), 11);
	assert_int_equal(fg_alloc_page(f), 0);
	static const fg_run bad[] = { { 4, 4 }, { 6, 2 } };
	assert_int_equal(fg_set_runs(f, bad, 2), -1);
	assert_int_equal(fg_set_runs(f, bad, 0), -1);
	size_t n;
	assert_int_equal(fg_runs(f, &n)[1].base, 10);
	assert_int_equal(n, 2);
	fg_free(f);
}

static void check_pa(fg_forge *f, uint64_t dtb, uint64_t va, uint64_t want)
{
	uint64_t pa = 0;
	assert_int_equal(fg_translate(f, dtb, va, &pa), 0);
	assert_int_equal(pa, want);
}

static void test_map_x64(void **state)
{
	(void)state;
	fg_forge *f = fg_new(FG_X64, 1u << 20); /* 4 GiB */
	uint64_t k = fg_kernel_dtb(f), pa;
	assert_int_equal(fg_map(f, k, KVA + 0x5000, 0x7000, FG_PAGE_4K, 0), 0);
	check_pa(f, k, KVA + 0x5123, 0x7123);
	assert_int_equal(fg_map(f, k, KVA + 0x200000, 0x400000, FG_PAGE_2M, 0), 0);
	check_pa(f, k, KVA + 0x3FFFFF, 0x5FFFFF);
	assert_int_equal(fg_map(f, k, KVA + 0x40000000, 0x80000000, FG_PAGE_1G, FG_MAP_NX), 0);
	check_pa(f, k, KVA + 0x7FFFFFFF, 0xBFFFFFFF);
	assert_int_equal(fg_map(f, k, KVA + 0x6000, 0x9000, FG_PAGE_4K, FG_MAP_TRANSITION), 0);
	check_pa(f, k, KVA + 0x6010, 0x9010);
	assert_int_equal(fg_map(f, k, KVA + 0x7000, 0x9000, FG_PAGE_4K, FG_MAP_NOT_PRESENT), 0);
	assert_int_equal(fg_translate(f, k, KVA + 0x7000, &pa), -1);
	assert_int_equal(fg_translate(f, k, KVA + 0x8000, &pa), -1);
	/* errors: misaligned, non-canonical, 4K inside a large page, large
	 * page over a table, unsupported size, transition large page */
	assert_int_equal(fg_map(f, k, KVA + 0x201000, 0, FG_PAGE_2M, 0), -1);
	assert_int_equal(fg_map(f, k, 0x0000800000000000ull, 0, FG_PAGE_4K, 0), -1);
	assert_int_equal(fg_map(f, k, KVA + 0x201000, 0, FG_PAGE_4K, 0), -1);
	assert_int_equal(fg_map(f, k, KVA, 0, FG_PAGE_2M, 0), -1);
	assert_int_equal(fg_map(f, k, KVA, 0, FG_PAGE_4M, 0), -1);
	assert_int_equal(fg_map(f, k, KVA + 0x600000, 0, FG_PAGE_2M, FG_MAP_TRANSITION), -1);
	assert_true(strlen(fg_error(f)) > 0);
	/* write_virtual spans pages and maps fresh ones */
	uint64_t before = fg_stored_pages(f);
	assert_int_equal(fg_write_virtual(f, k, KVA + 0x10FFE, "hello", 5), 0);
	assert_int_equal(fg_stored_pages(f), before + 2); /* two data pages; the PT exists */
	char buf[5];
	assert_int_equal(fg_read_virtual(f, k, KVA + 0x10FFE, buf, 5), 0);
	assert_memory_equal(buf, "hello", 5);
	assert_int_equal(fg_write_virtual(f, k, KVA + 0x7000, "x", 1), -1); /* paged out */
	assert_int_equal(fg_write_u64(f, k, KVA + 0x5008, 0x1122334455667788ull), 0);
	uint8_t raw[8];
	fg_phys_read(f, 0x7008, raw, 8);
	assert_int_equal(fg_get_le64(raw), 0x1122334455667788ull);
	fg_free(f);
}

static void test_map_x86(void **state)
{
	(void)state;
	fg_forge *f = fg_new(FG_X86_PAE, 1u << 20);
	uint64_t k = fg_kernel_dtb(f);
	assert_int_equal(fg_map(f, k, 0x80200000, 0x1400000, FG_PAGE_2M, 0), 0);
	check_pa(f, k, 0x80212345, 0x1412345);
	assert_int_equal(fg_map(f, k, 0x80000000, 0x1400000, FG_PAGE_4M, 0), -1);
	assert_int_equal(fg_map(f, k, 0x100000000ull, 0, FG_PAGE_4K, 0), -1);
	assert_int_equal(fg_map(f, k, 0xFFFFF000, 0x123456000ull, FG_PAGE_4K, 0), 0);
	check_pa(f, k, 0xFFFFFFFF, 0x123456FFFull);
	fg_free(f);

	f = fg_new(FG_X86, 1u << 18);
	k = fg_kernel_dtb(f);
	assert_int_equal(fg_map(f, k, 0x80400000, 0x800000, FG_PAGE_4M, 0), 0);
	check_pa(f, k, 0x807FFFFF, 0xBFFFFF);
	assert_int_equal(fg_map(f, k, 0x80000000, 0x100000000ull, FG_PAGE_4K, 0), -1);
	assert_int_equal(fg_map(f, k, 0x80000000, 0, FG_PAGE_2M, 0), -1);
	assert_int_equal(fg_map(f, k, 0x80001000, 0x3000, FG_PAGE_4K, FG_MAP_TRANSITION), 0);
	check_pa(f, k, 0x80001004, 0x3004);
	/* 32-bit PTEs: the entry is 4 bytes at PT + index * 4 */
	uint8_t pde[4], pte[4];
	fg_phys_read(f, k + (0x80001000 >> 22) * 4, pde, 4);
	fg_phys_read(f, (fg_get_le32(pde) & 0xFFFFF000) + 1 * 4, pte, 4);
	assert_int_equal(fg_get_le32(pte), 0x3000 | 1u << 11 | 4u << 5);
	fg_free(f);
}

static void test_shared_kernel_half(void **state)
{
	(void)state;
	static const fg_arch archs[] = { FG_X64, FG_X86_PAE, FG_X86 };
	for (size_t i = 0; i < 3; i++) {
		fg_forge *f = fg_new(archs[i], 4096);
		uint64_t kva = archs[i] == FG_X64 ? KVA : 0x80000000;
		uint64_t uva = 0x10000;
		uint64_t k = fg_kernel_dtb(f);
		assert_int_equal(fg_write_virtual(f, k, kva, "early", 5), 0);
		uint64_t u = fg_new_dtb(f);
		assert_int_not_equal(u, 0);
		/* a kernel mapping made after the process exists, through it */
		uint64_t late = archs[i] == FG_X64 ? 0xFFFFF88000000000ull : 0xC0400000ull;
		assert_int_equal(fg_write_virtual(f, u, late, "late", 4), 0);
		assert_int_equal(fg_write_virtual(f, u, uva, "user", 4), 0);
		char b[5];
		assert_int_equal(fg_read_virtual(f, u, kva, b, 5), 0);
		assert_memory_equal(b, "early", 5);
		assert_int_equal(fg_read_virtual(f, k, late, b, 4), 0);
		assert_memory_equal(b, "late", 4);
		assert_int_equal(fg_read_virtual(f, k, uva, b, 4), -1);
		assert_int_equal(fg_read_virtual(f, u, uva, b, 4), 0);
		fg_free(f);
	}
}

/* ---- written bytes ---------------------------------------------------- */

static uint64_t le64(const uint8_t *p)
{
	return fg_get_le64(p);
}

/* An independent x64 walk over a full dump in memory (one run from 0). */
static uint64_t walk_full_x64(const uint8_t *d, uint64_t va)
{
	uint64_t table = le64(d + 0x10) & ~0xFFFull;
	static const int shifts[] = { 39, 30, 21, 12 };
	for (int l = 0; l < 4; l++) {
		uint64_t e = le64(d + 0x2000 + table + ((va >> shifts[l]) & 511) * 8);
		if (!(e & 1))
			return UINT64_MAX;
		if (l == 3 || (e & 0x80)) {
			uint64_t size = 1ull << shifts[l];
			return (e & 0xFFFFFFFFFF000ull & ~(size - 1)) | (va & (size - 1));
		}
		table = e & 0xFFFFFFFFFF000ull;
	}
	return UINT64_MAX;
}

static void test_full_x64_bytes(void **state)
{
	(void)state;
	fg_forge *f = fg_new(FG_X64, 64);
	uint64_t k = fg_kernel_dtb(f);
	assert_int_equal(fg_write_virtual(f, k, KVA + 0x1234, "payload", 7), 0);
	fg_header *h = fg_header_of(f);
	h->bugcheck_code = 0xE2;
	h->pfn_database = 0xFFFFFA8000000000ull;
	strcpy(h->comment, "hi");
	uint8_t *d;
	size_t n;
	assert_int_equal(fg_write_memory(f, &d, &n, NULL), 0);
	assert_int_equal(n, 0x2000 + 64 * 0x1000);
	assert_memory_equal(d, "PAGEDU64", 8);
	assert_int_equal(fg_get_le32(d + 0x08), 0xF);
	assert_int_equal(fg_get_le32(d + 0x0C), 19041);
	assert_int_equal(le64(d + 0x10), k);
	assert_int_equal(le64(d + 0x18), 0xFFFFFA8000000000ull);
	assert_memory_equal(d + 0x20, "PAGEPAGEPAGEPAGE", 16); /* lists unset */
	assert_int_equal(fg_get_le32(d + 0x30), 0x8664);
	assert_int_equal(fg_get_le32(d + 0x38), 0xE2);
	assert_int_equal(fg_get_le32(d + 0x88), 1);  /* NumberOfRuns */
	assert_int_equal(le64(d + 0x90), 64);        /* NumberOfPages */
	assert_int_equal(le64(d + 0x98), 0);         /* BasePage */
	assert_int_equal(le64(d + 0xA0), 64);        /* PageCount */
	assert_int_equal(fg_get_le32(d + 0xF98), 1); /* DumpType */
	assert_string_equal((const char *)d + 0xFB0, "hi");
	assert_int_equal(le64(d + 0xFA0), n);         /* RequiredDumpSpace */
	assert_memory_equal(d + 0x1040, "PAGE", 4);   /* ProductType unset */
	uint64_t pa = walk_full_x64(d, KVA + 0x1234);
	assert_true(pa < 64 * 0x1000);
	assert_memory_equal(d + 0x2000 + pa, "payload", 7);
	free(d);

	/* truncation */
	fg_write_opts o = FG_WRITE_OPTS_INIT;
	o.truncate_to = 0x2000 + 3 * 0x1000 + 5;
	assert_int_equal(fg_write_memory(f, &d, &n, &o), 0);
	assert_int_equal(n, o.truncate_to);
	assert_int_equal(le64(d + 0xFA0), 0x2000 + 64 * 0x1000);
	free(d);
	fg_free(f);
}

static unsigned popcount_bytes(const uint8_t *p, size_t n)
{
	unsigned c = 0;
	for (size_t i = 0; i < n; i++)
		for (int b = 0; b < 8; b++)
			c += (p[i] >> b) & 1;
	return c;
}

static void test_bitmap_bytes(void **state)
{
	(void)state;
	fg_forge *f = fg_new(FG_X86_PAE, 1000 + 13);
	static const fg_run runs[] = { { 0, 100 }, { 200, 813 } };
	assert_int_equal(fg_set_runs(f, runs, 2), 0);
	assert_int_equal(fg_phys_write(f, 1012 * 0x1000ull, "last", 4), 0);
	assert_int_equal(fg_phys_write(f, 150 * 0x1000ull, "hole", 4), 0);
	fg_write_opts o = FG_WRITE_OPTS_INIT;
	uint8_t *d;
	size_t n;

	o.format = FG_FMT_BITMAP_FULL;
	assert_int_equal(fg_write_memory(f, &d, &n, &o), 0);
	assert_memory_equal(d, "PAGEDUMP", 8);
	assert_int_equal(d[0x5C], 1); /* PaeEnabled */
	assert_int_equal(fg_get_le32(d + 0xF88), 5);
	assert_memory_equal(d + 0x1000, "FDMPDUMP", 8);
	uint64_t first = le64(d + 0x1020);
	assert_int_equal(first % 0x1000, 0);
	assert_int_equal(le64(d + 0x1028), 913);
	assert_int_equal(le64(d + 0x1030), 1013);
	assert_int_equal(popcount_bytes(d + 0x1038, (1013 + 7) / 8), 913);
	assert_int_equal(d[0x1038 + 1012 / 8], 0x1F); /* bits 1008..1012 */
	assert_int_equal(n, first + 913 * 0x1000);
	assert_memory_equal(d + first + (100 + 1012 - 200) * 0x1000, "last", 4);
	uint64_t off;
	assert_int_equal(fg_page_offset(f, &o, 1012, &off), 0);
	assert_int_equal(off, first + 912 * 0x1000);
	assert_int_equal(fg_page_offset(f, &o, 150, &off), 0);
	assert_int_equal(off, 0);
	free(d);

	o.format = FG_FMT_BITMAP_KERNEL;
	o.kernel_only = 1;
	assert_int_equal(fg_write_memory(f, &d, &n, &o), 0);
	assert_memory_equal(d + 0x1000, "SDMPDUMP", 8);
	assert_int_equal(fg_get_le32(d + 0xF88), 6);
	assert_int_equal(le64(d + 0x1028), 2); /* DTB page and the 'last' page */
	assert_int_equal(n, le64(d + 0x1020) + 2 * 0x1000);
	free(d);

	o.format = FG_FMT_SUMMARY;
	o.bitmap_bits = 2000;
	assert_int_equal(fg_write_memory(f, &d, &n, &o), 0);
	assert_int_equal(fg_get_le32(d + 0xF88), 2);
	assert_int_equal(le64(d + 0x1030), 2000);
	free(d);

	o.format = FG_FMT_RDMP8;
	assert_int_equal(fg_write_memory(f, &d, &n, &o), -1); /* 32-bit header */
	fg_free(f);
}

static void test_rdmp_bytes(void **state)
{
	(void)state;
	fg_forge *f = fg_new(FG_X64, 300);
	static const fg_run runs[] = { { 0, 100 }, { 200, 100 } };
	assert_int_equal(fg_set_runs(f, runs, 2), 0);
	fg_write_opts o = FG_WRITE_OPTS_INIT;
	uint8_t *d;
	size_t n;
	o.format = FG_FMT_RDMPA;
	assert_int_equal(fg_write_memory(f, &d, &n, &o), 0);
	assert_int_equal(fg_get_le32(d + 0xF98), 0xA);
	assert_int_equal(fg_get_le32(d + 0x2000), 0x40);
	assert_memory_equal(d + 0x2004, "RDMPDUMP", 8);
	uint64_t meta = le64(d + 0x2010), first = le64(d + 0x2018);
	assert_int_equal(meta - 0x20, first - 0x2040);
	assert_int_equal(first, 0x2030 + 2 * 16);
	assert_int_equal(fg_get_le32(d + 0x2020), 2);
	assert_int_equal(le64(d + 0x2028), 200);
	assert_int_equal(le64(d + 0x2040), 200);
	assert_int_equal(le64(d + 0x2048), 100);
	assert_int_equal(n, first + 200 * 0x1000);
	free(d);
	o.format = FG_FMT_RDMP9;
	o.rdmp_page_align = 1;
	assert_int_equal(fg_write_memory(f, &d, &n, &o), 0);
	assert_int_equal(le64(d + 0x2018), 0x3000);
	assert_int_equal(le64(d + 0x2010) - 0x20, 0x3000 - 0x2040);
	assert_int_equal(le64(d + 0x2020), 0);
	free(d);
	fg_free(f);
}

static void test_sparse_file(void **state)
{
	(void)state;
	char path[] = "/tmp/fg_sparse_XXXXXX";
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	close(fd);
	fg_forge *f = fg_new(FG_X64, 16ull << 20);
	assert_int_equal(fg_write_virtual(f, fg_kernel_dtb(f), KVA, "x", 1), 0);
	assert_int_equal(fg_phys_write(f, (16ull << 32) - 4, "end", 3), 0);
	clock_t t0 = clock();
	assert_int_equal(fg_write_file(f, path, NULL), 0);
	double secs = (double)(clock() - t0) / CLOCKS_PER_SEC;
	struct stat st;
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal((uint64_t)st.st_size, 0x2000 + (64ull << 30));
	assert_true((uint64_t)st.st_blocks * 512 < (1u << 20));
	assert_true(secs < 1.0);
	FILE *fp = fopen(path, "rb");
	char b[3];
	assert_int_equal(fseeko(fp, (off_t)(0x2000 + (16ull << 32) - 4), SEEK_SET), 0);
	assert_int_equal(fread(b, 1, 3, fp), 3);
	assert_memory_equal(b, "end", 3);
	fclose(fp);
	unlink(path);
	fg_free(f);
}

static void test_header32_fields(void **state)
{
	(void)state;
	fg_forge *f = fg_new(FG_X86, 16);
	fg_header *h = fg_header_of(f);
	h->system_time = 0x1122334455667788ull;
	h->system_uptime = 42;
	h->product_type = 3;
	h->suite_mask = 0x110;
	h->ps_active_process_head = 0x80551234;
	h->context_len = 1200;
	memset(h->context, 0xAB, 1200);
	uint8_t *d;
	size_t n;
	assert_int_equal(fg_write_memory(f, &d, &n, NULL), 0);
	assert_int_equal(n, 0x1000 + 16 * 0x1000);
	assert_int_equal(fg_get_le32(d + 0x1C), 0x80551234);
	assert_int_equal(fg_get_le32(d + 0x20), 0x14C);
	assert_int_equal(d[0x5C], 0);
	assert_int_equal(fg_get_le32(d + 0x64), 1);
	assert_int_equal(fg_get_le32(d + 0x68), 16);
	assert_int_equal(fg_get_le32(d + 0x70), 16);
	assert_int_equal(d[0x320], 0xAB);
	assert_int_equal(d[0x320 + 1199], 0xAB);
	assert_memory_equal(d + 0x7D0, "PAGE", 4);
	assert_int_equal(fg_get_le32(d + 0xF94), 3);
	assert_int_equal(fg_get_le32(d + 0xF98), 0x110);
	assert_int_equal(le64(d + 0xFB8), 42);
	assert_int_equal(le64(d + 0xFC0), 0x1122334455667788ull);
	free(d);
	h->context_len = 1201;
	assert_int_equal(fg_write_memory(f, &d, &n, NULL), -1);
	fg_free(f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sparse_store),
		cmocka_unit_test(test_alloc_skips_holes),
		cmocka_unit_test(test_map_x64),
		cmocka_unit_test(test_map_x86),
		cmocka_unit_test(test_shared_kernel_half),
		cmocka_unit_test(test_full_x64_bytes),
		cmocka_unit_test(test_bitmap_bytes),
		cmocka_unit_test(test_rdmp_bytes),
		cmocka_unit_test(test_sparse_file),
		cmocka_unit_test(test_header32_fields),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

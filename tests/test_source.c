/*
 * The dump reader through the public API (khang/source.h), on dumps written
 * by the forge (tests/forge), which shares no code with the library.
 *
 * - round trips: every format x every architecture x every way of opening
 *   (file mapped, file with pread, memory, memory without translation cache)
 * - large pages, transition and paged-out PTEs, reads across pages
 * - physical runs with holes, odd bitmap sizes, truncated files
 * - damaged headers: 'PAGE' fill, run counts, overflowing sizes, signatures,
 *   tiny files: a clear error, never a crash
 * - the real dumps of ../shared/realdumps (skipped when absent)
 * - allocation failure at every allocation of open
 */
#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "forge.h"
#include "khang.h"

#define PAGE 0x1000u
#define RAM_PAGES 1024u
#define PAT_LEN 0x2100u
#define X64_KVA 0xFFFFF80012340000ull
#define X86_KVA 0x81230000ull
#define UVA 0x10000ull

/* ---- opening helpers -------------------------------------------------- */

enum open_mode { OPEN_FILE, OPEN_FILE_PREAD, OPEN_MEMORY, OPEN_MEMORY_NO_TLB, OPEN_MODES };

static const char *const mode_names[OPEN_MODES] = { "file", "file-pread", "memory",
	                                             "memory-no-tlb" };

typedef struct dump {
	khang_source *src;
	uint8_t *mem;   /* dump bytes (memory modes and buffers written to files) */
	size_t len;
	char path[64];  /* temporary file, "" if none (temp_path() fills it) */
} dump;

static khang_source_info info_of(const khang_source *src)
{
	khang_source_info info;
	memset(&info, 0, sizeof info); /* KHANG_SOURCE_INFO_INIT trips -Wmissing-field-initializers */
	info.size = sizeof info;
	assert_int_equal(khang_source_get_info(&info, src), 0);
	return info;
}

/* Temporary dumps live in one directory, emptied at exit, so that a test
 * failing between writing and closing a dump leaves nothing behind. */
static char g_tmpdir[] = "/tmp/khang_test_source_XXXXXX";

static void tmpdir_remove(void)
{
	DIR *d = opendir(g_tmpdir);
	if (!d)
		return;
	struct dirent *e;
	while ((e = readdir(d)) != NULL) {
		char path[sizeof g_tmpdir + 256];
		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof path, "%s/%s", g_tmpdir, e->d_name);
		unlink(path);
	}
	closedir(d);
	rmdir(g_tmpdir);
}

static void temp_path(char *path)
{
	snprintf(path, 64, "%s/dump_XXXXXX", g_tmpdir);
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	close(fd);
}

static void write_bytes(const char *path, const uint8_t *data, size_t len)
{
	FILE *fp = fopen(path, "wb");
	assert_non_null(fp);
	assert_int_equal(fwrite(data, 1, len, fp), len);
	assert_int_equal(fclose(fp), 0);
}

/* Open bytes already in d->mem the given way; returns the library's code. */
static int open_bytes(dump *d, int mode, uint32_t flags)
{
	khang_source_opts opts = KHANG_SOURCE_OPTS_INIT;
	opts.flags = flags;
	d->src = NULL;
	if (mode == OPEN_FILE || mode == OPEN_FILE_PREAD) {
		if (!d->path[0]) {
			temp_path(d->path);
			write_bytes(d->path, d->mem, d->len);
		}
		if (mode == OPEN_FILE_PREAD)
			opts.flags |= KHANG_SOURCE_NO_MMAP;
		return khang_source_open(&d->src, d->path, &opts);
	}
	if (mode == OPEN_MEMORY_NO_TLB)
		opts.tlb_entries = 1;
	return khang_source_open_memory(&d->src, d->mem, d->len, &opts);
}

/* Write the forge's dump the given way and open it; asserts success. */
static void open_forge(dump *d, fg_forge *f, const fg_write_opts *o, int mode, uint32_t flags)
{
	memset(d, 0, sizeof *d);
	if (mode == OPEN_FILE || mode == OPEN_FILE_PREAD) {
		temp_path(d->path);
		assert_int_equal(fg_write_file(f, d->path, o), 0);
	} else {
		assert_int_equal(fg_write_memory(f, &d->mem, &d->len, o), 0);
	}
	int rc = open_bytes(d, mode, flags);
	if (rc != 0)
		print_error("open (%s) failed: %d %s\n", mode_names[mode], rc, khang_error_last());
	assert_int_equal(rc, 0);
	assert_non_null(d->src);
}

static void dump_close(dump *d)
{
	khang_source_free(d->src);
	d->src = NULL;
	free(d->mem);
	d->mem = NULL;
	if (d->path[0])
		unlink(d->path);
	d->path[0] = 0;
}

/* Open a byte buffer (taken over) from memory, a mapped file and a read
 * file; every way must give the same code. Returns it. */
static int open_all_ways(uint8_t *buf, size_t len, int expect)
{
	static const int modes[] = { OPEN_MEMORY, OPEN_FILE, OPEN_FILE_PREAD };
	dump d;
	memset(&d, 0, sizeof d);
	d.mem = buf;
	d.len = len;
	int first = 0;
	for (size_t i = 0; i < 3; i++) {
		int rc = open_bytes(&d, modes[i], 0);
		if (rc != expect)
			print_error("open (%s): got %d (%s), expected %d\n", mode_names[modes[i]], rc,
			            khang_error_last(), expect);
		assert_int_equal(rc, expect);
		if (rc != 0)
			assert_null(d.src);
		if (i == 0)
			first = rc;
		khang_source_free(d.src);
		d.src = NULL;
	}
	dump_close(&d);
	return first;
}

/* As open_all_ways, accepting any of the listed codes (the same each way). */
static int open_all_ways_any(uint8_t *buf, size_t len, const int *ok, size_t nok)
{
	dump d;
	memset(&d, 0, sizeof d);
	d.mem = buf;
	d.len = len;
	int rc = open_bytes(&d, OPEN_MEMORY, 0);
	int found = 0;
	for (size_t i = 0; i < nok; i++)
		found |= rc == ok[i];
	if (!found)
		print_error("open: got %d (%s), not an accepted code\n", rc, khang_error_last());
	assert_true(found);
	if (rc == 0) {
		/* it opened: reading anything must not crash */
		uint8_t b[64];
		khang_source_info info = info_of(d.src);
		khang_read_physical(d.src, 0, b, sizeof b, NULL, NULL);
		khang_read_physical(d.src, info.max_pfn ? (info.max_pfn - 1) * PAGE : 0, b, sizeof b,
		                    NULL, NULL);
		khang_read_virtual(d.src, 0, 0xFFFFF80000000000ull, b, sizeof b, NULL, NULL);
	}
	khang_source_free(d.src);
	d.src = NULL;
	int rc2 = open_bytes(&d, OPEN_FILE_PREAD, 0);
	assert_int_equal(rc2, rc);
	khang_source_free(d.src);
	d.src = NULL;
	dump_close(&d);
	return rc;
}

static void expect_read_phys(khang_source *src, uint64_t pa, size_t len, int rc_want,
                             size_t read_want, uint64_t missing_want)
{
	uint8_t buf[0x3000];
	size_t got = 12345;
	uint64_t missing = 0;
	assert_true(len <= sizeof buf);
	int rc = khang_read_physical(src, pa, buf, len, &got, &missing);
	if (rc != rc_want)
		print_error("read_physical 0x%llx+0x%zx: got %d (%s), expected %d\n",
		            (unsigned long long)pa, len, rc, khang_error_last(), rc_want);
	assert_int_equal(rc, rc_want);
	assert_int_equal(got, read_want);
	if (rc == KHANG_ENOTPRESENT)
		assert_int_equal(missing, missing_want);
}

static void expect_read_virt(khang_source *src, uint64_t dtb, uint64_t va, size_t len,
                             int rc_want, size_t read_want, uint64_t missing_want)
{
	uint8_t buf[0x3000];
	size_t got = 12345;
	uint64_t missing = 0;
	assert_true(len <= sizeof buf);
	int rc = khang_read_virtual(src, dtb, va, buf, len, &got, &missing);
	if (rc != rc_want)
		print_error("read_virtual 0x%llx+0x%zx: got %d (%s), expected %d\n",
		            (unsigned long long)va, len, rc, khang_error_last(), rc_want);
	assert_int_equal(rc, rc_want);
	assert_int_equal(got, read_want);
	if (rc == KHANG_ENOTPRESENT)
		assert_int_equal(missing, missing_want);
}

static void expect_bytes_virt(khang_source *src, uint64_t dtb, uint64_t va, const void *want,
                              size_t len)
{
	uint8_t *buf = malloc(len);
	size_t got = 0;
	int rc = khang_read_virtual(src, dtb, va, buf, len, &got, NULL);
	if (rc != 0)
		print_error("read_virtual 0x%llx+0x%zx: %d (%s)\n", (unsigned long long)va, len, rc,
		            khang_error_last());
	assert_int_equal(rc, 0);
	assert_int_equal(got, len);
	assert_memory_equal(buf, want, len);
	free(buf);
}

static void expect_bytes_phys(khang_source *src, uint64_t pa, const void *want, size_t len)
{
	uint8_t *buf = malloc(len);
	size_t got = 0;
	int rc = khang_read_physical(src, pa, buf, len, &got, NULL);
	if (rc != 0)
		print_error("read_physical 0x%llx+0x%zx: %d (%s)\n", (unsigned long long)pa, len, rc,
		            khang_error_last());
	assert_int_equal(rc, 0);
	assert_int_equal(got, len);
	assert_memory_equal(buf, want, len);
	free(buf);
}

static void expect_translate(khang_source *src, uint64_t dtb, uint64_t va, uint64_t pa_want)
{
	uint64_t pa = 0;
	int rc = khang_translate(&pa, src, dtb, va);
	if (rc != 0)
		print_error("translate 0x%llx: %d (%s)\n", (unsigned long long)va, rc, khang_error_last());
	assert_int_equal(rc, 0);
	assert_int_equal(pa, pa_want);
}

static void expect_translate_fails(khang_source *src, uint64_t dtb, uint64_t va, int rc_want)
{
	uint64_t pa = 0;
	int rc = khang_translate(&pa, src, dtb, va);
	if (rc != rc_want)
		print_error("translate 0x%llx: got %d, expected %d\n", (unsigned long long)va, rc, rc_want);
	assert_int_equal(rc, rc_want);
}

/* ---- the round-trip scene --------------------------------------------- */

/* One machine: a 0x2100-byte pattern across four kernel pages, a transition
 * page, a mapped page followed by a paged-out one and an unmapped one, a
 * process with a user page, and every header field set. */
typedef struct scene {
	fg_forge *f;
	fg_arch arch;
	uint64_t kdtb, udtb, kva;
	uint64_t tpfn; /* the transition page */
	uint8_t pat[PAT_LEN];
} scene;

static uint64_t arch_kva(fg_arch arch)
{
	return arch == FG_X64 ? X64_KVA : X86_KVA;
}

static void scene_build(scene *s, fg_arch arch)
{
	memset(s, 0, sizeof *s);
	s->arch = arch;
	s->f = fg_new(arch, RAM_PAGES);
	assert_non_null(s->f);
	s->kdtb = fg_kernel_dtb(s->f);
	s->kva = arch_kva(arch);
	for (size_t i = 0; i < PAT_LEN; i++)
		s->pat[i] = (uint8_t)(i * 7 + (i >> 8) + (unsigned)arch);
	fg_forge *f = s->f;
	assert_int_equal(fg_write_virtual(f, s->kdtb, s->kva + 0xF80, s->pat, PAT_LEN), 0);

	s->tpfn = fg_alloc_page(f);
	assert_int_not_equal(s->tpfn, 0);
	assert_int_equal(fg_phys_write(f, s->tpfn * PAGE, "transition page", 15), 0);
	assert_int_equal(fg_map(f, s->kdtb, s->kva + 0x10000, s->tpfn * PAGE, FG_PAGE_4K,
	                        FG_MAP_TRANSITION), 0);

	uint8_t fives[PAGE];
	memset(fives, 0x5A, sizeof fives);
	assert_int_equal(fg_write_virtual(f, s->kdtb, s->kva + 0x20000, fives, PAGE), 0);
	assert_int_equal(fg_map(f, s->kdtb, s->kva + 0x21000, 0x777000, FG_PAGE_4K,
	                        FG_MAP_NOT_PRESENT), 0);

	s->udtb = fg_new_dtb(f);
	assert_int_not_equal(s->udtb, 0);
	assert_int_equal(fg_write_virtual(f, s->udtb, UVA + 0xFF8, "user-space-bytes", 16), 0);

	fg_header *h = fg_header_of(f);
	h->build = arch == FG_X64 ? 19041 : 9600;
	h->processors = 4;
	h->bugcheck_code = 0x1000007E;
	h->bugcheck_params[0] = 0xC0000005;
	for (int i = 1; i < 4; i++)
		h->bugcheck_params[i] = s->kva + (uint64_t)i;
	h->pfn_database = s->kva + 0x100000;
	h->ps_loaded_module_list = s->kva + 0x200;
	h->ps_active_process_head = s->kva + 0x300;
	h->kd_debugger_data_block = s->kva + 0x400;
	h->system_time = 0x01D7123456789ABCull;
	h->system_uptime = 0x123456789ull;
	h->product_type = 1;
	h->suite_mask = 0x110;
	strcpy(h->comment, "forge test dump");
	h->context_len = 64;
	for (int i = 0; i < 64; i++)
		h->context[i] = (uint8_t)(0xC0 + i);
}

/* info.max_pfn: one past the highest PFN the index can hold. For run-based
 * formats that is one past the highest PFN written; for bitmap formats it is
 * the bitmap's bit count (the library does not scan the bitmap at open). */
static uint64_t expected_max_pfn(fg_forge *f, const fg_write_opts *o)
{
	uint64_t max = 0, off;
	size_t nruns;
	const fg_run *runs = fg_runs(f, &nruns);
	uint64_t end = runs[nruns - 1].base + runs[nruns - 1].count;
	if (o->format == FG_FMT_SUMMARY || o->format == FG_FMT_BITMAP_FULL || o->format == FG_FMT_BITMAP_KERNEL)
		return o->bitmap_bits ? o->bitmap_bits : end;
	for (uint64_t pfn = 0; pfn < end + 64; pfn++) {
		assert_int_equal(fg_page_offset(f, o, pfn, &off), 0);
		if (off)
			max = pfn + 1;
	}
	return max;
}

/* Checks every field; the max_pfn mismatch is returned (1) rather than
 * asserted, so that the reads are still checked. */
static int check_info(const scene *s, khang_source *src, const fg_write_opts *o)
{
	khang_source_info info = info_of(src);
	fg_layout lay;
	assert_int_equal(fg_layout_of(s->f, o, &lay), 0);
	static const khang_dump_type types[] = { KHANG_DUMP_FULL, KHANG_DUMP_SUMMARY,
		KHANG_DUMP_BITMAP_FULL, KHANG_DUMP_BITMAP_KERNEL, KHANG_DUMP_RDMP_8,
		KHANG_DUMP_RDMP_9, KHANG_DUMP_RDMP_A };
	int x64 = s->arch == FG_X64;
	assert_int_equal(info.arch, x64 ? KHANG_ARCH_X64 : KHANG_ARCH_X86);
	assert_int_equal(info.dump_type, types[o->format]);
	assert_int_equal(info.machine_type, x64 ? 0x8664 : 0x14C);
	assert_int_equal(info.major_version, 0xF);
	assert_int_equal(info.build, x64 ? 19041 : 9600);
	assert_int_equal(info.processors, 4);
	assert_int_equal(info.pae, s->arch == FG_X86_PAE);
	assert_int_equal(info.bugcheck_code, 0x1000007E);
	assert_int_equal(info.bugcheck_params[0], 0xC0000005);
	assert_int_equal(info.bugcheck_params[3], s->kva + 3);
	assert_int_equal(info.dtb, s->kdtb);
	assert_int_equal(info.pfn_database, s->kva + 0x100000);
	assert_int_equal(info.ps_loaded_module_list, s->kva + 0x200);
	assert_int_equal(info.ps_active_process_head, s->kva + 0x300);
	assert_int_equal(info.kd_debugger_data_block, s->kva + 0x400);
	assert_int_equal(info.system_time, 0x01D7123456789ABCull);
	assert_int_equal(info.system_uptime, 0x123456789ull);
	assert_int_equal(info.product_type, 1);
	assert_int_equal(info.suite_mask, 0x110);
	assert_string_equal(info.comment, "forge test dump");
	assert_int_equal(info.header_size, lay.header_size);
	assert_int_equal(info.file_size, lay.file_size);
	assert_int_equal(info.pages_indexed, lay.present_pages);
	assert_int_equal(info.pages_missing, 0);
	uint64_t want_max = expected_max_pfn(s->f, o);
	int bad_max = info.max_pfn != want_max;
	if (bad_max)
		print_error("max_pfn: got 0x%llx, expected 0x%llx (one past the highest PFN held)\n",
		            (unsigned long long)info.max_pfn, (unsigned long long)want_max);
	assert_int_equal(info.warnings, 0);
	assert_int_equal(khang_source_warning_count(src), 0);
	assert_null(khang_source_warning(src, 0));

	const uint8_t *ctx;
	size_t ctx_len;
	assert_int_equal(khang_source_context_record(&ctx, &ctx_len, src), 0);
	assert_int_equal(ctx_len, lay.header_size == 0x2000 ? 3000 : 1200);
	assert_memory_equal(ctx, fg_header_of(s->f)->context, 64);
	return bad_max;
}

static void check_reads(scene *s, khang_source *src, const fg_write_opts *o)
{
	fg_forge *f = s->f;
	uint64_t kva = s->kva, pa;

	/* the pattern, across four pages; through dtb 0, the kernel's and a process's */
	expect_bytes_virt(src, 0, kva + 0xF80, s->pat, PAT_LEN);
	expect_bytes_virt(src, s->kdtb, kva + 0xF80, s->pat, PAT_LEN);
	expect_bytes_virt(src, s->udtb, kva + 0xF80, s->pat, PAT_LEN);
	expect_bytes_virt(src, 0, kva + 0x1FFD, s->pat + 0x107D, 7);
	for (uint64_t off = 0; off < 0x4000; off += 0x1000) {
		assert_int_equal(fg_translate(f, s->kdtb, kva + off + 0x123, &pa), 0);
		expect_translate(src, 0, kva + off + 0x123, pa);
		if (off) /* the page's first bytes; the last page holds 0x80 of the pattern */
			expect_bytes_phys(src, pa - 0x123, s->pat + (off - 0xF80),
			                  off < 0x3000 ? 0x100 : PAT_LEN - (off - 0xF80));
	}

	/* transition PTE: the page is in RAM */
	expect_translate(src, 0, kva + 0x10004, s->tpfn * PAGE + 4);
	expect_bytes_virt(src, 0, kva + 0x10000, "transition page", 15);

	/* a read running into a paged-out page stops there */
	expect_read_virt(src, 0, kva + 0x20FF0, 0x20, KHANG_ENOTPRESENT, 0x10, kva + 0x21000);
	expect_read_virt(src, 0, kva + 0x21000, 8, KHANG_ENOTPRESENT, 0, kva + 0x21000);
	expect_read_virt(src, 0, kva + 0x22000, 8, KHANG_ENOTPRESENT, 0, kva + 0x22000);
	expect_translate_fails(src, 0, kva + 0x21000, KHANG_ENOTPRESENT);
	expect_translate_fails(src, 0, kva + 0x22000, KHANG_ENOTPRESENT);
	assert_true(strlen(khang_error_last()) > 0);

	/* the process's own half */
	expect_bytes_virt(src, s->udtb, UVA + 0xFF8, "user-space-bytes", 16);
	expect_read_virt(src, 0, UVA + 0xFF8, 16, KHANG_ENOTPRESENT, 0, UVA + 0xFF8);

	/* physical memory past RAM; zero-length reads */
	expect_read_phys(src, (uint64_t)RAM_PAGES * PAGE, 16, KHANG_ENOTPRESENT, 0,
	                 (uint64_t)RAM_PAGES * PAGE);
	expect_read_phys(src, 0x1000, 0, 0, 0, 0);
	expect_read_virt(src, 0, kva + 0x22000, 0, 0, 0, 0);

	/* an untouched RAM page: zeros in a dump of all RAM, absent from a kernel dump */
	uint64_t untouched = (uint64_t)(RAM_PAGES - 3) * PAGE;
	assert_false(fg_page_stored(f, RAM_PAGES - 3));
	if (o->kernel_only && o->format != FG_FMT_FULL) {
		expect_read_phys(src, untouched, 8, KHANG_ENOTPRESENT, 0, untouched);
	} else {
		static const uint8_t zeros[8];
		expect_bytes_phys(src, untouched, zeros, 8);
	}
}

typedef struct matrix_case {
	fg_arch arch;
	fg_format fmt;
	int kernel_only;
	int rdmp_align;
	char name[64];
} matrix_case;

static void test_roundtrip(void **state)
{
	const matrix_case *c = *state;
	scene s;
	scene_build(&s, c->arch);
	fg_write_opts o = FG_WRITE_OPTS_INIT;
	o.format = c->fmt;
	o.kernel_only = c->kernel_only;
	o.rdmp_page_align = c->rdmp_align;
	int bad_max = 0;
	for (int mode = 0; mode < OPEN_MODES; mode++) {
		dump d;
		open_forge(&d, s.f, &o, mode, 0);
		bad_max |= check_info(&s, d.src, &o);
		check_reads(&s, d.src, &o);
		/* the translation cache: hits when on, none when off */
		khang_tlb_stats st;
		assert_int_equal(khang_source_tlb_stats(&st, d.src), 0);
		if (mode == OPEN_MEMORY_NO_TLB)
			assert_int_equal(st.hits, 0);
		else
			assert_true(st.hits > 0);
		assert_true(st.misses > 0);
		dump_close(&d);
	}
	fg_free(s.f);
	assert_false(bad_max); /* info.max_pfn, printed above */
}

/* ---- large pages ------------------------------------------------------ */

static void check_large(fg_forge *f, const fg_write_opts *o, uint64_t va, uint64_t pa,
                        uint64_t size)
{
	static const int modes[] = { OPEN_FILE, OPEN_FILE_PREAD, OPEN_MEMORY };
	for (size_t m = 0; m < 3; m++) {
		fg_layout lay;
		assert_int_equal(fg_layout_of(f, o, &lay), 0);
		if (modes[m] == OPEN_MEMORY && lay.file_size > (64u << 20))
			continue; /* big full dumps: files only */
		dump d;
		open_forge(&d, f, o, modes[m], 0);
		expect_translate(d.src, 0, va, pa);
		expect_translate(d.src, 0, va + size - 1, pa + size - 1);
		expect_translate(d.src, 0, va + size / 2 + 0x123, pa + size / 2 + 0x123);
		expect_bytes_virt(d.src, 0, va + 0x10, "first", 5);
		expect_bytes_virt(d.src, 0, va + size / 2 + 0xFFC, "middle", 6); /* spans pages */
		expect_bytes_virt(d.src, 0, va + size - 4, "last", 4);
		/* past the large page: a separately mapped 4K page */
		expect_bytes_virt(d.src, 0, va + size - 2, "st4k", 4);
		dump_close(&d);
	}
}

static void large_case(fg_arch arch, uint64_t ram_pages, uint64_t va, uint64_t pa,
                       fg_page_size size, uint64_t bytes)
{
	fg_forge *f = fg_new(arch, ram_pages);
	uint64_t k = fg_kernel_dtb(f);
	assert_int_equal(fg_map(f, k, va, pa, size, 0), 0);
	assert_int_equal(fg_write_virtual(f, k, va + 0x10, "first", 5), 0);
	assert_int_equal(fg_write_virtual(f, k, va + bytes / 2 + 0xFFC, "middle", 6), 0);
	assert_int_equal(fg_write_virtual(f, k, va + bytes - 4, "last", 4), 0);
	assert_int_equal(fg_write_virtual(f, k, va + bytes, "4k", 2), 0); /* maps a 4K page */
	/* the data went where the large page points */
	uint8_t b[5];
	fg_phys_read(f, pa + 0x10, b, 5);
	assert_memory_equal(b, "first", 5);

	static const fg_format fmts[] = { FG_FMT_FULL, FG_FMT_BITMAP_KERNEL, FG_FMT_BITMAP_FULL,
		                          FG_FMT_RDMP8 };
	for (size_t i = 0; i < 4; i++) {
		fg_write_opts o = FG_WRITE_OPTS_INIT;
		o.format = fmts[i];
		o.kernel_only = fmts[i] != FG_FMT_FULL && fmts[i] != FG_FMT_BITMAP_FULL;
		if (fmts[i] == FG_FMT_RDMP8 && arch != FG_X64)
			continue;
		check_large(f, &o, va, pa, bytes);
	}
	fg_free(f);
}

static void test_large_x64_2m(void **state)
{
	(void)state;
	large_case(FG_X64, 4096, 0xFFFFF80040000000ull, 0x400000, FG_PAGE_2M, 2u << 20);
}

static void test_large_x64_1g(void **state)
{
	(void)state;
	large_case(FG_X64, 0x80000, 0xFFFFF80100000000ull, 0x40000000, FG_PAGE_1G, 1u << 30);
}

static void test_large_pae_2m(void **state)
{
	(void)state;
	large_case(FG_X86_PAE, 4096, 0x80400000ull, 0x600000, FG_PAGE_2M, 2u << 20);
}

static void test_large_x86_4m(void **state)
{
	(void)state;
	large_case(FG_X86, 4096, 0x80800000ull, 0x800000, FG_PAGE_4M, 4u << 20);
}

/* ---- physical runs and holes ------------------------------------------ */

static void holes_case(fg_arch arch, const fg_write_opts *o)
{
	static const fg_run runs[] = { { 0, 0x100 }, { 0x200, 0x100 }, { 0x1000, 0x10 } };
	fg_forge *f = fg_new(arch, 0x1010);
	assert_int_equal(fg_set_runs(f, runs, 3), 0);
	uint8_t a[PAGE], b[PAGE];
	memset(a, 0xAA, sizeof a);
	memset(b, 0xBB, sizeof b);
	assert_int_equal(fg_phys_write(f, 0xFF000, a, PAGE), 0);     /* last page of run 0 */
	assert_int_equal(fg_phys_write(f, 0x150000, a, PAGE), 0);    /* in the hole: not in the dump */
	assert_int_equal(fg_phys_write(f, 0x200000, b, PAGE), 0);    /* first of run 1 */
	assert_int_equal(fg_phys_write(f, 0x100F000, b, PAGE), 0);   /* last of run 2 */
	assert_int_equal(fg_phys_write(f, 0x100F800, "tail", 4), 0);
	for (int mode = 0; mode < OPEN_MODES; mode++) {
		dump d;
		open_forge(&d, f, o, mode, 0);
		expect_bytes_phys(d.src, 0xFF000, a, PAGE);
		expect_read_phys(d.src, 0xFFFF0, 0x20, KHANG_ENOTPRESENT, 0x10, 0x100000);
		expect_read_phys(d.src, 0x150000, 8, KHANG_ENOTPRESENT, 0, 0x150000);
		expect_read_phys(d.src, 0x1FFFF8, 16, KHANG_ENOTPRESENT, 0, 0x1FFFF8);
		expect_bytes_phys(d.src, 0x200000, b, PAGE);
		expect_bytes_phys(d.src, 0x100F800, "tail", 4);
		expect_read_phys(d.src, 0x100FFF8, 16, KHANG_ENOTPRESENT, 8, 0x1010000);
		expect_read_phys(d.src, 0x1010000, 16, KHANG_ENOTPRESENT, 0, 0x1010000);
		khang_source_info info = info_of(d.src);
		assert_int_equal(info.max_pfn, 0x1010);
		if (!o->kernel_only)
			assert_int_equal(info.pages_indexed, 0x210);
		dump_close(&d);
	}
	fg_free(f);
}

static void test_holes(void **state)
{
	(void)state;
	static const fg_format fmts[] = { FG_FMT_FULL, FG_FMT_SUMMARY, FG_FMT_BITMAP_FULL,
		FG_FMT_BITMAP_KERNEL, FG_FMT_RDMP8, FG_FMT_RDMP9, FG_FMT_RDMPA };
	static const fg_arch archs[] = { FG_X64, FG_X86_PAE, FG_X86 };
	for (size_t a = 0; a < 3; a++) {
		for (size_t i = 0; i < sizeof fmts / sizeof fmts[0]; i++) {
			for (int k = 0; k < 2; k++) {
				fg_write_opts o = FG_WRITE_OPTS_INIT;
				o.format = fmts[i];
				o.kernel_only = k;
				o.rdmp_page_align = k;
				if (fmts[i] >= FG_FMT_RDMP8 && archs[a] != FG_X64)
					continue;
				holes_case(archs[a], &o);
			}
		}
	}
}

/* Two runs that touch: a read across the seam works. */
static void test_adjacent_runs(void **state)
{
	(void)state;
	static const fg_run runs[] = { { 0, 0x80 }, { 0x80, 0x80 } };
	fg_forge *f = fg_new(FG_X64, 0x100);
	assert_int_equal(fg_set_runs(f, runs, 2), 0);
	assert_int_equal(fg_phys_write(f, 0x7FFFC, "seam", 4), 0);
	assert_int_equal(fg_phys_write(f, 0x80000, "line", 4), 0);
	for (int mode = 0; mode < OPEN_MODES; mode++) {
		dump d;
		open_forge(&d, f, NULL, mode, 0);
		expect_bytes_phys(d.src, 0x7FFFC, "seamline", 8);
		dump_close(&d);
	}
	fg_free(f);
}

/* The most runs that fit the 700-byte buffer open; 32-bit and 64-bit. */
static void test_max_runs(void **state)
{
	(void)state;
	static const struct {
		fg_arch arch;
		size_t n;
	} cases[] = { { FG_X64, 42 }, { FG_X86, 86 } };
	for (size_t c = 0; c < 2; c++) {
		fg_run runs[86];
		size_t n = cases[c].n;
		for (size_t i = 0; i < n; i++)
			runs[i] = (fg_run){ 4 * i, 2 };
		fg_forge *f = fg_new(cases[c].arch, 4 * n);
		assert_int_equal(fg_set_runs(f, runs, n), 0);
		assert_int_equal(fg_phys_write(f, (4 * (n - 1) + 1) * PAGE, "lastrun", 7), 0);
		dump d;
		open_forge(&d, f, NULL, OPEN_MEMORY, 0);
		expect_bytes_phys(d.src, (4 * (n - 1) + 1) * PAGE, "lastrun", 7);
		expect_read_phys(d.src, (4 * (n - 1) + 2) * PAGE, 1, KHANG_ENOTPRESENT, 0,
		                 (4 * (n - 1) + 2) * PAGE);
		assert_int_equal(info_of(d.src).pages_indexed, 2 * n);
		dump_close(&d);
		fg_free(f);
	}
}

/* ---- bitmaps whose size is not a multiple of 32 ----------------------- */

static void test_bitmap_odd_bits(void **state)
{
	(void)state;
	static const fg_arch archs[] = { FG_X64, FG_X86 };
	static const uint64_t extra[] = { 0, 50 };
	int bad_max = 0;
	for (size_t a = 0; a < 2; a++) {
		for (size_t e = 0; e < 2; e++) {
			fg_forge *f = fg_new(archs[a], 1013);
			assert_int_equal(fg_phys_write(f, 1012 * PAGE + 0xFF0, "final page", 10), 0);
			fg_write_opts o = FG_WRITE_OPTS_INIT;
			o.format = FG_FMT_BITMAP_FULL;
			o.bitmap_bits = extra[e] ? 1013 + extra[e] : 0;
			for (int mode = 0; mode < OPEN_MODES; mode++) {
				dump d;
				open_forge(&d, f, &o, mode, 0);
				khang_source_info info = info_of(d.src);
				assert_int_equal(info.pages_indexed, 1013);
				if (info.max_pfn != 1013 + extra[e]) { /* the bitmap's bit count */
					print_error("max_pfn: got 0x%llx, expected 0x%llx\n",
					            (unsigned long long)info.max_pfn, (unsigned long long)(1013 + extra[e]));
					bad_max = 1;
				}
				expect_bytes_phys(d.src, 1012 * PAGE + 0xFF0, "final page", 10);
				expect_read_phys(d.src, 1012 * PAGE + 0xFF8, 16, KHANG_ENOTPRESENT, 8,
				                 1013 * PAGE);
				expect_read_phys(d.src, (1013 + extra[e] + 5) * PAGE, 1, KHANG_ENOTPRESENT, 0,
				                 (1013 + extra[e] + 5) * PAGE);
				dump_close(&d);
			}
			fg_free(f);
		}
	}
	assert_false(bad_max); /* info.max_pfn, printed above */
}

/* ---- truncated files -------------------------------------------------- */

/* Returns 1 if warnings were counted despite KHANG_SOURCE_QUIET_TRUNCATION
 * (checked last by the caller, so that the reads are checked anyway). */
static int truncated_case(fg_arch arch, fg_format fmt, int kernel_only)
{
	int noisy = 0;
	fg_forge *f = fg_new(arch, 256);
	/* stored pages 99, 100, 200 (and page tables at the bottom) */
	assert_int_equal(fg_phys_write(f, 99 * PAGE, "ninety-nine", 11), 0);
	assert_int_equal(fg_phys_write(f, 100 * PAGE, "hundred", 7), 0);
	assert_int_equal(fg_phys_write(f, 200 * PAGE, "two hundred", 11), 0);
	fg_write_opts o = FG_WRITE_OPTS_INIT;
	o.format = fmt;
	o.kernel_only = kernel_only;
	uint64_t off99, off100;
	assert_int_equal(fg_page_offset(f, &o, 99, &off99), 0);
	assert_int_equal(fg_page_offset(f, &o, 100, &off100), 0);
	assert_int_equal(off100, off99 + PAGE);
	fg_layout lay;
	assert_int_equal(fg_layout_of(f, &o, &lay), 0);
	o.truncate_to = off100 + 123; /* cut inside page 100 */
	uint64_t missing = lay.present_pages - (off100 - lay.first_page) / PAGE;

	for (int mode = 0; mode < OPEN_MODES; mode++) {
		for (int quiet = 0; quiet < 2; quiet++) {
			dump d;
			open_forge(&d, f, &o, mode, quiet ? KHANG_SOURCE_QUIET_TRUNCATION : 0);
			khang_source_info info = info_of(d.src);
			assert_int_equal(info.file_size, off100 + 123);
			assert_int_equal(info.pages_indexed, lay.present_pages);
			assert_int_equal(info.pages_missing, missing);
			if (quiet) {
				if (info.warnings != 0 || khang_source_warning_count(d.src) != 0) {
					print_error("QUIET_TRUNCATION: %u warnings: %s\n", info.warnings,
					            khang_source_warning(d.src, 0));
					noisy = 1;
				}
			} else {
				assert_true(info.warnings >= 1);
				assert_true(khang_source_warning_count(d.src) >= 1);
				assert_non_null(khang_source_warning(d.src, 0));
				assert_true(strlen(khang_source_warning(d.src, 0)) > 0);
			}
			expect_bytes_phys(d.src, 99 * PAGE, "ninety-nine", 11);
			expect_read_phys(d.src, 100 * PAGE, 7, KHANG_ENOTPRESENT, 0, 100 * PAGE);
			expect_read_phys(d.src, 100 * PAGE - 4, 8, KHANG_ENOTPRESENT, 4, 100 * PAGE);
			expect_read_phys(d.src, 200 * PAGE, 11, KHANG_ENOTPRESENT, 0, 200 * PAGE);
			dump_close(&d);
		}
	}
	fg_free(f);
	return noisy;
}

static void test_truncated(void **state)
{
	(void)state;
	int noisy = 0;
	noisy |= truncated_case(FG_X64, FG_FMT_FULL, 0);
	noisy |= truncated_case(FG_X86_PAE, FG_FMT_FULL, 0);
	noisy |= truncated_case(FG_X86, FG_FMT_BITMAP_FULL, 0);
	noisy |= truncated_case(FG_X64, FG_FMT_BITMAP_KERNEL, 1);
	noisy |= truncated_case(FG_X64, FG_FMT_RDMPA, 0);
	noisy |= truncated_case(FG_X64, FG_FMT_RDMP8, 1);
	assert_false(noisy); /* KHANG_SOURCE_QUIET_TRUNCATION counted warnings, printed above */
}

/* A dump cut right after its header: opens, every page missing. */
static void test_header_only_file(void **state)
{
	(void)state;
	fg_forge *f = fg_new(FG_X64, 64);
	fg_write_opts o = FG_WRITE_OPTS_INIT;
	o.truncate_to = 0x2000;
	dump d;
	open_forge(&d, f, &o, OPEN_MEMORY, 0);
	khang_source_info info = info_of(d.src);
	assert_int_equal(info.pages_indexed, 64);
	assert_int_equal(info.pages_missing, 64);
	expect_read_phys(d.src, 0, 1, KHANG_ENOTPRESENT, 0, 0);
	expect_translate_fails(d.src, 0, X64_KVA, KHANG_ENOTPRESENT);
	dump_close(&d);
	fg_free(f);
}

/* ---- header fields left as 'PAGE' fill -------------------------------- */

static void test_page_fill_reads_zero(void **state)
{
	(void)state;
	static const fg_arch archs[] = { FG_X64, FG_X86 };
	for (size_t a = 0; a < 2; a++) {
		fg_forge *f = fg_new(archs[a], 64);
		fg_header_of(f)->processors = FG_UNSET32; /* everything else unset by default */
		static const fg_format fmts[] = { FG_FMT_FULL, FG_FMT_BITMAP_KERNEL };
		for (size_t i = 0; i < 2; i++) {
			fg_write_opts o = FG_WRITE_OPTS_INIT;
			o.format = fmts[i];
			dump d;
			open_forge(&d, f, &o, OPEN_MEMORY, 0);
			/* make sure the fill is really there */
			const uint8_t *pfn_db = d.mem + (archs[a] == FG_X64 ? 0x18 : 0x14);
			assert_memory_equal(pfn_db, "PAGE", 4);
			khang_source_info info = info_of(d.src);
			assert_int_equal(info.processors, 0);
			assert_int_equal(info.bugcheck_code, 0);
			for (int p = 0; p < 4; p++)
				assert_int_equal(info.bugcheck_params[p], 0);
			assert_int_equal(info.pfn_database, 0);
			assert_int_equal(info.ps_loaded_module_list, 0);
			assert_int_equal(info.ps_active_process_head, 0);
			assert_int_equal(info.kd_debugger_data_block, 0);
			assert_int_equal(info.system_time, 0);
			assert_int_equal(info.system_uptime, 0);
			assert_int_equal(info.product_type, 0);
			assert_int_equal(info.suite_mask, 0);
			assert_string_equal(info.comment, "");
			/* the set fields are still read */
			assert_int_equal(info.build, 19041);
			assert_int_equal(info.dtb, fg_kernel_dtb(f));
			dump_close(&d);
		}
		fg_free(f);
	}
}

/* ---- damaged headers -------------------------------------------------- */

/* A small dump of the given format as bytes, for patching. */
static uint8_t *small_dump(fg_arch arch, fg_format fmt, int kernel_only, size_t *len)
{
	fg_forge *f = fg_new(arch, 32);
	assert_int_equal(fg_phys_write(f, 5 * PAGE, "page five", 9), 0);
	fg_write_opts o = FG_WRITE_OPTS_INIT;
	o.format = fmt;
	o.kernel_only = kernel_only;
	uint8_t *buf;
	assert_int_equal(fg_write_memory(f, &buf, len, &o), 0);
	fg_free(f);
	/* it opens as written */
	dump d;
	memset(&d, 0, sizeof d);
	d.mem = buf;
	d.len = *len;
	assert_int_equal(open_bytes(&d, OPEN_MEMORY, 0), 0);
	expect_bytes_phys(d.src, 5 * PAGE, "page five", 9);
	khang_source_free(d.src);
	return buf;
}

static void test_too_many_runs(void **state)
{
	(void)state;
	static const uint32_t counts64[] = { 43, 1000, 0xFFFFFFFFu };
	for (size_t i = 0; i < 3; i++) {
		size_t len;
		uint8_t *b = small_dump(FG_X64, FG_FMT_FULL, 0, &len);
		fg_put_le32(b + 0x88, counts64[i]);
		open_all_ways(b, len, KHANG_ECORRUPT);
	}
	static const uint32_t counts32[] = { 87, 0x10000, 0xFFFFFFFFu };
	for (size_t i = 0; i < 3; i++) {
		size_t len;
		uint8_t *b = small_dump(FG_X86, FG_FMT_FULL, 0, &len);
		fg_put_le32(b + 0x64, counts32[i]);
		open_all_ways(b, len, KHANG_ECORRUPT);
	}
}

static void test_run_overflow(void **state)
{
	(void)state;
	size_t len;
	uint8_t *b;
	/* BasePage + PageCount wraps */
	b = small_dump(FG_X64, FG_FMT_FULL, 0, &len);
	fg_put_le64(b + 0x98, 0xFFFFFFFFFFFFFFF0ull);
	fg_put_le64(b + 0xA0, 0x100);
	open_all_ways(b, len, KHANG_ECORRUPT);
	/* PageCount * 4096 wraps */
	b = small_dump(FG_X64, FG_FMT_FULL, 0, &len);
	fg_put_le64(b + 0xA0, 1ull << 60);
	open_all_ways(b, len, KHANG_ECORRUPT);
	/* the sum of two runs wraps */
	b = small_dump(FG_X64, FG_FMT_FULL, 0, &len);
	fg_put_le32(b + 0x88, 2);
	fg_put_le64(b + 0x98, 0);
	fg_put_le64(b + 0xA0, 1ull << 63);
	fg_put_le64(b + 0xA8, 1ull << 63);
	fg_put_le64(b + 0xB0, 1ull << 63);
	open_all_ways(b, len, KHANG_ECORRUPT);
	/* a big but representable claim: a truncated dump or a corrupt one */
	static const int ok[] = { 0, KHANG_ECORRUPT };
	b = small_dump(FG_X64, FG_FMT_FULL, 0, &len);
	fg_put_le64(b + 0xA0, 1ull << 40);
	open_all_ways_any(b, len, ok, 2);
	b = small_dump(FG_X86, FG_FMT_FULL, 0, &len);
	fg_put_le32(b + 0x6C, 0xFFFFFFFFu);
	fg_put_le32(b + 0x70, 0xFFFFFFFFu);
	open_all_ways_any(b, len, ok, 2);
	/* overlapping runs */
	b = small_dump(FG_X64, FG_FMT_FULL, 0, &len);
	fg_put_le32(b + 0x88, 2);
	fg_put_le64(b + 0xA0, 16);
	fg_put_le64(b + 0xA8, 8);
	fg_put_le64(b + 0xB0, 16);
	open_all_ways_any(b, len, ok, 2);
}

static void test_bitmap_overflow(void **state)
{
	(void)state;
	static const int ok[] = { 0, KHANG_ECORRUPT };
	static const fg_arch archs[] = { FG_X64, FG_X86 };
	for (size_t a = 0; a < 2; a++) {
		uint64_t bh = archs[a] == FG_X64 ? 0x2000 : 0x1000;
		size_t len;
		uint8_t *b;
		/* Pages (bit count) whose bitmap cannot be in the file */
		static const uint64_t bits[] = { 1ull << 40, 1ull << 62, UINT64_MAX, UINT64_MAX - 7 };
		for (size_t i = 0; i < 4; i++) {
			b = small_dump(archs[a], FG_FMT_BITMAP_FULL, 0, &len);
			fg_put_le64(b + bh + 0x30, bits[i]);
			open_all_ways(b, len, KHANG_ECORRUPT);
		}
		/* FirstPage over the header or the bitmap */
		const uint64_t firsts_bad[] = { 0, 0x100, bh, bh + 0x38 };
		for (size_t i = 0; i < 4; i++) {
			b = small_dump(archs[a], FG_FMT_BITMAP_KERNEL, 1, &len);
			fg_put_le64(b + bh + 0x20, firsts_bad[i]);
			open_all_ways(b, len, KHANG_ECORRUPT);
		}
		/* TotalPresentPages disagreeing with the bitmap: never a crash */
		b = small_dump(archs[a], FG_FMT_BITMAP_KERNEL, 1, &len);
		fg_put_le64(b + bh + 0x28, UINT64_MAX);
		open_all_ways_any(b, len, ok, 2);
		/* the file ends inside the bitmap */
		b = small_dump(archs[a], FG_FMT_BITMAP_FULL, 0, &len);
		fg_put_le64(b + bh + 0x30, 1u << 20);
		open_all_ways(b, (size_t)bh + 0x38 + 100, KHANG_ECORRUPT);
	}
}

/* FirstPage beyond the file, or so far that page offsets wrap: corrupt, or
 * a dump whose pages are all missing; never header bytes read as a page. */
static void test_bitmap_first_page_far(void **state)
{
	(void)state;
	static const fg_arch archs[] = { FG_X64, FG_X86 };
	for (size_t a = 0; a < 2; a++) {
		uint64_t bh = archs[a] == FG_X64 ? 0x2000 : 0x1000;
		size_t len;
		uint8_t *b;
		static const uint64_t firsts_far[] = { 1ull << 40, UINT64_MAX & ~0xFFFull,
			                               UINT64_MAX - 5 };
		for (size_t i = 0; i < 3; i++) {
			b = small_dump(archs[a], FG_FMT_BITMAP_KERNEL, 1, &len);
			fg_put_le64(b + bh + 0x20, firsts_far[i]);
			dump d;
			memset(&d, 0, sizeof d);
			d.mem = b;
			d.len = len;
			int rc = open_bytes(&d, OPEN_MEMORY, 0);
			assert_true(rc == 0 || rc == KHANG_ECORRUPT);
			if (rc == 0) {
				khang_source_info info = info_of(d.src);
				assert_int_equal(info.pages_missing, info.pages_indexed);
				expect_read_phys(d.src, 5 * PAGE, 1, KHANG_ENOTPRESENT, 0, 5 * PAGE);
			}
			khang_source_free(d.src);
			d.src = NULL;
			dump_close(&d);
		}
	}
}

static void test_rdmp_damage(void **state)
{
	(void)state;
	size_t len;
	uint8_t *b;
	/* MetadataSize and FirstPageOffset disagree */
	b = small_dump(FG_X64, FG_FMT_RDMPA, 0, &len);
	fg_put_le64(b + 0x2010, fg_get_le64(b + 0x2010) + 16);
	open_all_ways(b, len, KHANG_ECORRUPT);
	/* FirstPageOffset (and MetadataSize) enormous */
	b = small_dump(FG_X64, FG_FMT_RDMP8, 1, &len);
	fg_put_le64(b + 0x2018, UINT64_MAX - 0xFFF);
	fg_put_le64(b + 0x2010, UINT64_MAX - 0xFFF - 0x2020);
	open_all_ways(b, len, KHANG_ECORRUPT);
	/* NumberOfRanges far beyond the file */
	b = small_dump(FG_X64, FG_FMT_RDMPA, 0, &len);
	fg_put_le32(b + 0x2020, 0xFFFFFFFFu);
	open_all_ways(b, len, KHANG_ECORRUPT);
	/* a range whose Pfn + Count wraps */
	b = small_dump(FG_X64, FG_FMT_RDMPA, 0, &len);
	fg_put_le64(b + 0x2030, UINT64_MAX - 4);
	open_all_ways(b, len, KHANG_ECORRUPT);
	/* a range whose Count * 4096 wraps */
	b = small_dump(FG_X64, FG_FMT_RDMP9, 0, &len);
	fg_put_le64(b + 0x2038, 1ull << 60);
	open_all_ways(b, len, KHANG_ECORRUPT);
}

static void test_bad_signatures(void **state)
{
	(void)state;
	static const struct {
		fg_arch arch;
		fg_format fmt;
		size_t off;
	} cases[] = {
		{ FG_X64, FG_FMT_FULL, 0x0 },        /* 'PAGE' */
		{ FG_X64, FG_FMT_FULL, 0x4 },        /* 'DU64' */
		{ FG_X86, FG_FMT_FULL, 0x0 },
		{ FG_X86, FG_FMT_FULL, 0x4 },        /* 'DUMP' */
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		size_t len;
		uint8_t *b = small_dump(cases[i].arch, cases[i].fmt, 0, &len);
		b[cases[i].off] ^= 0x20;
		open_all_ways(b, len, KHANG_EFORMAT);
	}
	/* swapped widths: a 64-bit signature on a 32-bit header */
	size_t len;
	uint8_t *b = small_dump(FG_X86, FG_FMT_FULL, 0, &len);
	memcpy(b + 4, "DU64", 4);
	static const int ok_type[] = { KHANG_EFORMAT, KHANG_ECORRUPT, KHANG_EUNSUPPORTED };
	open_all_ways_any(b, len, ok_type, 3);
	/* a DumpType this version does not know */
	b = small_dump(FG_X64, FG_FMT_FULL, 0, &len);
	fg_put_le32(b + 0xF98, 0x63);
	open_all_ways_any(b, len, ok_type, 3);
	b = small_dump(FG_X64, FG_FMT_FULL, 0, &len);
	fg_put_le32(b + 0xF98, 0x45474150u);
	open_all_ways_any(b, len, ok_type, 3);
}

/* The signatures of the bitmap and RDMP headers: the file is a recognised
 * kernel dump ('PAGEDU64'/'PAGEDUMP') whose inner header is inconsistent, so
 * KHANG_ECORRUPT (errors.h); KHANG_EFORMAT is for files that are not dumps. */
static void test_bad_inner_signatures(void **state)
{
	(void)state;
	static const struct {
		fg_arch arch;
		fg_format fmt;
		size_t off;
	} cases[] = {
		{ FG_X64, FG_FMT_BITMAP_KERNEL, 0x2000 }, /* 'SDMP' */
		{ FG_X64, FG_FMT_BITMAP_FULL, 0x2000 },   /* 'FDMP' */
		{ FG_X64, FG_FMT_BITMAP_FULL, 0x2004 },   /* its 'DUMP' */
		{ FG_X86, FG_FMT_SUMMARY, 0x1000 },
		{ FG_X64, FG_FMT_RDMP8, 0x2004 },    /* 'RDMP' */
		{ FG_X64, FG_FMT_RDMPA, 0x2008 },    /* its 'DUMP' */
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		size_t len;
		uint8_t *b = small_dump(cases[i].arch, cases[i].fmt, 0, &len);
		b[cases[i].off] ^= 0x20;
		open_all_ways(b, len, KHANG_ECORRUPT);
	}
}

static void test_tiny_files(void **state)
{
	(void)state;
	static const struct {
		const char *bytes;
		size_t len;
	} tiny[] = {
		{ "", 0 }, { "P", 1 }, { "PAGE", 4 }, { "PAGEDU6", 7 }, { "MZ\x90\0", 4 },
	};
	for (size_t i = 0; i < sizeof tiny / sizeof tiny[0]; i++) {
		uint8_t *b = malloc(tiny[i].len + 1);
		memcpy(b, tiny[i].bytes, tiny[i].len);
		open_all_ways(b, tiny[i].len, KHANG_EFORMAT);
	}
	/* a valid signature, then nothing / half a header */
	static const int ok[] = { KHANG_EFORMAT, KHANG_ECORRUPT };
	static const size_t cuts[] = { 8, 0x100, 0xF9C, 0x1FFF };
	for (size_t i = 0; i < 4; i++) {
		size_t len;
		uint8_t *b = small_dump(FG_X64, FG_FMT_FULL, 0, &len);
		open_all_ways_any(b, cuts[i], ok, 2);
	}
	size_t len;
	uint8_t *b = small_dump(FG_X86, FG_FMT_FULL, 0, &len);
	open_all_ways_any(b, 0xFFF, ok, 2);
	/* a bitmap dump cut inside its bitmap header */
	b = small_dump(FG_X64, FG_FMT_BITMAP_FULL, 0, &len);
	open_all_ways_any(b, 0x2000 + 0x30, ok, 2);
	/* not even a page of data, but a complete header: opens (truncated) */
	b = small_dump(FG_X64, FG_FMT_FULL, 0, &len);
	open_all_ways(b, 0x2000 + 10, 0);
}

/* ---- addresses out of range, bad arguments ---------------------------- */

static void test_address_range(void **state)
{
	(void)state;
	scene s;
	scene_build(&s, FG_X64);
	dump d;
	open_forge(&d, s.f, NULL, OPEN_MEMORY, 0);
	static const uint64_t noncanon[] = { 0x0000800000000000ull, 0x8000000000000000ull,
		                             0xFFFF7FFFFFFFFFFFull, 0x1234567812345678ull };
	for (size_t i = 0; i < 4; i++) {
		expect_translate_fails(d.src, 0, noncanon[i], KHANG_ERANGE);
		expect_read_virt(d.src, 0, noncanon[i], 8, KHANG_ERANGE, 0, 0);
	}
	/* the canonical edges are in range (just not mapped) */
	expect_translate_fails(d.src, 0, 0x00007FFFFFFFF000ull, KHANG_ENOTPRESENT);
	expect_translate_fails(d.src, 0, 0xFFFF800000000000ull, KHANG_ENOTPRESENT);
	/* physical addresses that wrap */
	expect_read_phys(d.src, UINT64_MAX - 4, 16, KHANG_ERANGE, 0, 0);
	dump_close(&d);
	fg_free(s.f);

	scene_build(&s, FG_X86_PAE);
	open_forge(&d, s.f, NULL, OPEN_MEMORY, 0);
	expect_translate_fails(d.src, 0, 0x100000000ull, KHANG_ERANGE);
	expect_read_virt(d.src, 0, 0x100000000ull, 8, KHANG_ERANGE, 0, 0);
	expect_translate_fails(d.src, 0, 0xFFFFF000ull, KHANG_ENOTPRESENT);
	dump_close(&d);
	fg_free(s.f);
}

static void test_bad_arguments(void **state)
{
	(void)state;
	khang_source *src = (khang_source *)&src;
	uint8_t buf[8];
	assert_int_equal(khang_source_open(&src, "/nonexistent/khang/dump.dmp", NULL), KHANG_EIO);
	assert_null(src);
	src = (khang_source *)&src;
	assert_int_equal(khang_source_open(&src, NULL, NULL), KHANG_EINVAL);
	assert_null(src);
	assert_int_equal(khang_read_physical(NULL, 0, buf, 1, NULL, NULL), KHANG_EINVAL);
	assert_int_equal(khang_read_virtual(NULL, 0, 0, buf, 1, NULL, NULL), KHANG_EINVAL);
	uint64_t pa;
	assert_int_equal(khang_translate(&pa, NULL, 0, 0), KHANG_EINVAL);
	assert_int_equal(khang_source_warning_count(NULL), 0);
	khang_source_free(NULL);

	/* options: older (smaller) accepted; larger with a non-zero tail rejected */
	size_t len;
	uint8_t *b = small_dump(FG_X64, FG_FMT_FULL, 0, &len);
	struct {
		khang_source_opts o;
		uint64_t tail;
	} big;
	memset(&big, 0, sizeof big);
	assert_int_equal(khang_source_opts_init(&big.o, sizeof big.o), 0);
	big.o.size = sizeof big;
	assert_int_equal(khang_source_open_memory(&src, b, len, &big.o), 0);
	khang_source_free(src);
	big.tail = 1;
	src = (khang_source *)&src;
	assert_int_equal(khang_source_open_memory(&src, b, len, &big.o), KHANG_EINVAL);
	int out_kept = src != NULL; /* "set to NULL on failure": asserted last */
	khang_source_opts small = KHANG_SOURCE_OPTS_INIT;
	small.size = offsetof(khang_source_opts, allocator);
	assert_int_equal(khang_source_open_memory(&src, b, len, &small), 0);
	/* info: a smaller (older) structure is filled only up to its size */
	union {
		khang_source_info info;
		uint8_t bytes[sizeof(khang_source_info)];
	} u;
	memset(&u, 0xA5, sizeof u);
	u.info.size = offsetof(khang_source_info, dtb);
	assert_int_equal(khang_source_get_info(&u.info, src), 0);
	assert_int_equal(u.info.arch, KHANG_ARCH_X64);
	for (size_t i = offsetof(khang_source_info, dtb); i < sizeof u; i++)
		assert_int_equal(u.bytes[i], 0xA5);
	/* reads with NULL out-parameters; NULL buffer */
	assert_int_equal(khang_read_physical(src, 5 * PAGE, buf, 4, NULL, NULL), 0);
	assert_int_equal(khang_read_physical(src, 5 * PAGE, NULL, 4, NULL, NULL), KHANG_EINVAL);
	assert_int_equal(khang_translate(NULL, src, 0, 0), KHANG_EINVAL);
	khang_source_free(src);
	free(b);
	if (out_kept)
		print_error("open with bad options: *out not set to NULL\n");
	assert_false(out_kept);
}

/* A NULL output pointer is an invalid argument, not a crash. */
static void test_null_out(void **state)
{
	(void)state;
	uint8_t buf[8] = { 0 };
	assert_int_equal(khang_source_open(NULL, "/tmp", NULL), KHANG_EINVAL);
	assert_int_equal(khang_source_open_memory(NULL, buf, sizeof buf, NULL), KHANG_EINVAL);
}

/* ---- a 64 GiB machine ------------------------------------------------- */

static void test_64gib(void **state)
{
	(void)state;
	fg_forge *f = fg_new(FG_X64, 16ull << 20);
	uint64_t k = fg_kernel_dtb(f);
	uint64_t top = (16ull << 32) - PAGE;
	assert_int_equal(fg_phys_write(f, top, "top of RAM", 10), 0);
	assert_int_equal(fg_map(f, k, X64_KVA, top, FG_PAGE_4K, 0), 0);
	/* a 1 GiB region mapped with 4K pages, costing only page tables */
	assert_int_equal(fg_map_linear(f, k, 0xFFFFF80200000000ull, 32ull << 30, 1u << 30,
	                               FG_PAGE_4K, 0), 0);
	assert_int_equal(fg_phys_write(f, (32ull << 30) + 0x3FFFF000, "end of GiB", 10), 0);
	static const fg_format fmts[] = { FG_FMT_FULL, FG_FMT_BITMAP_FULL, FG_FMT_BITMAP_KERNEL,
		                          FG_FMT_RDMPA };
	for (size_t i = 0; i < 4; i++) {
		fg_write_opts o = FG_WRITE_OPTS_INIT;
		o.format = fmts[i];
		o.kernel_only = fmts[i] == FG_FMT_BITMAP_KERNEL;
		for (int mode = OPEN_FILE; mode <= OPEN_FILE_PREAD; mode++) {
			dump d;
			open_forge(&d, f, &o, mode, 0);
			khang_source_info info = info_of(d.src);
			assert_int_equal(info.max_pfn, 16ull << 20);
			if (!o.kernel_only)
				assert_int_equal(info.pages_indexed, 16ull << 20);
			expect_bytes_phys(d.src, top, "top of RAM", 10);
			expect_bytes_virt(d.src, 0, X64_KVA, "top of RAM", 10);
			expect_bytes_virt(d.src, 0, 0xFFFFF80200000000ull + 0x3FFFF000, "end of GiB", 10);
			dump_close(&d);
		}
	}
	fg_free(f);
}

/* ---- real dumps ------------------------------------------------------- */

static int real_dump_path(char *path, size_t size, const char *name)
{
	const char *dir = getenv("KHANG_SHARED_DIR");
	if (!dir || !*dir) {
		printf("skipped: KHANG_SHARED_DIR is not set (real dump %s)\n", name);
		return 0;
	}
	snprintf(path, size, "%s/realdumps/%s", dir, name);
	if (access(path, R_OK) != 0) {
		printf("skipped: %s not found\n", path);
		return 0;
	}
	return 1;
}

static void test_real_triage_x64(void **state)
{
	(void)state;
	char path[4096];
	if (!real_dump_path(path, sizeof path, "triage_x64.dmp"))
		skip();
	for (int pread = 0; pread < 2; pread++) {
		khang_source *src = NULL;
		khang_source_opts opts = KHANG_SOURCE_OPTS_INIT;
		opts.flags = pread ? KHANG_SOURCE_NO_MMAP : 0;
		int rc = khang_source_open(&src, path, &opts);
		if (rc != 0)
			print_error("open %s: %d %s\n", path, rc, khang_error_last());
		assert_int_equal(rc, 0);
		khang_source_info info = info_of(src);
		assert_int_equal(info.arch, KHANG_ARCH_X64);
		assert_int_equal(info.dump_type, KHANG_DUMP_TRIAGE);
		assert_int_equal(info.major_version, 0xF);
		assert_int_equal(info.build, 19041);
		assert_int_equal(info.dtb, 0x1ad000);
		assert_int_equal(info.pfn_database, 0xfffff8047c6fc500ull);
		assert_int_equal(info.ps_loaded_module_list, 0xfffff8047c62a390ull);
		assert_int_equal(info.ps_active_process_head, 0xfffff8047c61e200ull);
		assert_int_equal(info.machine_type, 0x8664);
		assert_int_equal(info.processors, 16);
		assert_int_equal(info.bugcheck_code, 0x1000007e);
		assert_int_equal(info.bugcheck_params[0], 0xffffffffc0000005ull);
		assert_int_equal(info.bugcheck_params[1], 0xfffff8048b58334cull);
		assert_int_equal(info.bugcheck_params[2], 0xffff850429891ee8ull);
		assert_int_equal(info.bugcheck_params[3], 0xffff850429891720ull);
		assert_int_equal(info.kd_debugger_data_block, 0xfffff8047c600b20ull);
		assert_int_equal(info.product_type, 1);
		assert_int_equal(info.suite_mask, 0x110);
		assert_int_equal(info.header_size, 0x2000);
		const uint8_t *ctx;
		size_t ctx_len;
		assert_int_equal(khang_source_context_record(&ctx, &ctx_len, src), 0);
		assert_int_equal(ctx_len, 3000);
		/* The header's CONTEXT (file offset 0x348) is the exception's: Rip
		 * (+0xF8) is BugCheckParameter2, in amdppm; Rsp (+0x98) frame 8's
		 * stack pointer. (Read from the file bytes; ContextFlags 0x10001F.) */
		assert_int_equal(fg_get_le32(ctx + 0x30), 0x10001F);
		assert_int_equal(fg_get_le64(ctx + 0xF8), 0xfffff8048b58334cull);
		assert_int_equal(fg_get_le64(ctx + 0x98), 0xffff850429892120ull);
		/* a triage dump holds no page tables */
		uint64_t pa;
		assert_int_not_equal(khang_translate(&pa, src, 0, 0xfffff8047c62a390ull), 0);
		khang_source_free(src);
	}
}

static void test_real_triage_arm64(void **state)
{
	(void)state;
	char path[4096];
	if (!real_dump_path(path, sizeof path, "triage_arm64.dmp"))
		skip();
	khang_source *src = NULL;
	int rc = khang_source_open(&src, path, NULL);
	if (rc != 0)
		print_error("open %s: %d %s\n", path, rc, khang_error_last());
	assert_int_equal(rc, 0);
	khang_source_info info = info_of(src);
	assert_int_equal(info.arch, KHANG_ARCH_ARM64);
	assert_int_equal(info.machine_type, 0xAA64);
	assert_int_equal(info.build, 22000);
	assert_int_equal(info.processors, 8);
	assert_int_equal(info.bugcheck_code, 0x1C8);
	uint64_t pa;
	assert_int_equal(khang_translate(&pa, src, 0, 0xFFFFF80000000000ull), KHANG_EUNSUPPORTED);
	khang_source_free(src);
}

/* ---- allocation failure ----------------------------------------------- */

typedef struct failing_alloc {
	long fail_at; /* index of the allocation that fails */
	long calls;
	long live;
} failing_alloc;

static void *fa_malloc(size_t size, void *payload)
{
	failing_alloc *a = payload;
	if (a->calls++ == a->fail_at)
		return NULL;
	void *p = malloc(size);
	if (p)
		a->live++;
	return p;
}

static void *fa_realloc(void *ptr, size_t size, void *payload)
{
	failing_alloc *a = payload;
	if (a->calls++ == a->fail_at)
		return NULL;
	void *p = realloc(ptr, size);
	if (p && !ptr)
		a->live++;
	return p;
}

static void fa_free(void *ptr, void *payload)
{
	failing_alloc *a = payload;
	if (ptr)
		a->live--;
	free(ptr);
}

/* Returns the number of failed opens that left *out unchanged (the API
 * promises NULL); asserted by the caller after every path was run. */
static int alloc_failure_case(fg_forge *f, const fg_write_opts *o, int mode)
{
	int out_kept = 0;
	dump d;
	memset(&d, 0, sizeof d);
	if (mode == OPEN_FILE || mode == OPEN_FILE_PREAD) {
		temp_path(d.path);
		assert_int_equal(fg_write_file(f, d.path, o), 0);
	} else {
		assert_int_equal(fg_write_memory(f, &d.mem, &d.len, o), 0);
	}
	long n;
	for (n = 0; n < 100000; n++) {
		failing_alloc fa = { n, 0, 0 };
		khang_allocator al = { fa_malloc, fa_realloc, fa_free, &fa };
		khang_source_opts opts = KHANG_SOURCE_OPTS_INIT;
		opts.allocator = &al;
		opts.flags = mode == OPEN_FILE_PREAD ? KHANG_SOURCE_NO_MMAP : 0;
		khang_source *src = (khang_source *)&opts;
		int rc = mode == OPEN_MEMORY ? khang_source_open_memory(&src, d.mem, d.len, &opts)
		                             : khang_source_open(&src, d.path, &opts);
		if (rc != 0) {
			if (rc != KHANG_ENOMEM)
				print_error("failing allocation %ld: got %d (%s)\n", n, rc, khang_error_last());
			assert_int_equal(rc, KHANG_ENOMEM);
			if (src != NULL) {
				if (!out_kept)
					print_error("failing allocation %ld: *out not set to NULL\n", n);
				out_kept++;
			}
			assert_int_equal(fa.live, 0);
			continue;
		}
		/* opened (the failure was absorbed, or never reached): use and close */
		uint8_t b[16];
		khang_read_physical(src, 5 * PAGE, b, sizeof b, NULL, NULL);
		khang_read_virtual(src, 0, X64_KVA, b, sizeof b, NULL, NULL);
		khang_source_free(src);
		assert_int_equal(fa.live, 0);
		if (fa.calls <= n)
			break; /* the n-th allocation was never asked for: every path covered */
	}
	assert_true(n > 0);
	assert_true(n < 100000);
	dump_close(&d);
	return out_kept;
}

static void test_alloc_failure(void **state)
{
	(void)state;
	static const struct {
		fg_arch arch;
		fg_format fmt;
		int kernel_only;
		int mode;
	} cases[] = {
		{ FG_X64, FG_FMT_FULL, 0, OPEN_FILE },
		{ FG_X64, FG_FMT_FULL, 0, OPEN_FILE_PREAD },
		{ FG_X64, FG_FMT_BITMAP_KERNEL, 1, OPEN_MEMORY },
		{ FG_X64, FG_FMT_BITMAP_FULL, 0, OPEN_FILE_PREAD },
		{ FG_X64, FG_FMT_RDMPA, 0, OPEN_MEMORY },
		{ FG_X64, FG_FMT_RDMP8, 1, OPEN_FILE },
		{ FG_X86_PAE, FG_FMT_SUMMARY, 1, OPEN_MEMORY },
		{ FG_X86, FG_FMT_FULL, 0, OPEN_MEMORY },
	};
	int out_kept = 0;
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		scene s;
		scene_build(&s, cases[i].arch);
		fg_write_opts o = FG_WRITE_OPTS_INIT;
		o.format = cases[i].fmt;
		o.kernel_only = cases[i].kernel_only;
		o.truncate_to = i == 1 ? 0x2000 + 100 * PAGE : 0; /* the truncation warning path too */
		out_kept += alloc_failure_case(s.f, &o, cases[i].mode);
		fg_free(s.f);
	}
	assert_int_equal(out_kept, 0);
}

/* ---- main ------------------------------------------------------------- */

static matrix_case g_cases[64];

static size_t build_matrix(void)
{
	static const struct {
		fg_format fmt;
		const char *name;
		int kernel_only;
		int align;
	} fmts[] = {
		{ FG_FMT_FULL, "full", 0, 0 },
		{ FG_FMT_SUMMARY, "summary-kernel", 1, 0 },
		{ FG_FMT_SUMMARY, "summary-all", 0, 0 },
		{ FG_FMT_BITMAP_FULL, "bitmap-full", 0, 0 },
		{ FG_FMT_BITMAP_KERNEL, "bitmap-kernel", 1, 0 },
		{ FG_FMT_BITMAP_KERNEL, "bitmap-kernel-all", 0, 0 },
		{ FG_FMT_RDMP8, "rdmp8-kernel", 1, 0 },
		{ FG_FMT_RDMP9, "rdmp9-all", 0, 0 },
		{ FG_FMT_RDMPA, "rdmpA-all", 0, 0 },
		{ FG_FMT_RDMPA, "rdmpA-kernel-aligned", 1, 1 },
		{ FG_FMT_RDMP8, "rdmp8-all-aligned", 0, 1 },
	};
	static const struct {
		fg_arch arch;
		const char *name;
	} archs[] = { { FG_X64, "x64" }, { FG_X86_PAE, "x86pae" }, { FG_X86, "x86" } };
	size_t n = 0;
	for (size_t a = 0; a < 3; a++) {
		for (size_t i = 0; i < sizeof fmts / sizeof fmts[0]; i++) {
			if (fmts[i].fmt >= FG_FMT_RDMP8 && archs[a].arch != FG_X64)
				continue; /* RDMP needs the 64-bit header */
			matrix_case *c = &g_cases[n++];
			c->arch = archs[a].arch;
			c->fmt = fmts[i].fmt;
			c->kernel_only = fmts[i].kernel_only;
			c->rdmp_align = fmts[i].align;
			snprintf(c->name, sizeof c->name, "roundtrip_%s_%s", archs[a].name, fmts[i].name);
		}
	}
	return n;
}

int main(void)
{
	if (!mkdtemp(g_tmpdir)) {
		perror("mkdtemp");
		return 1;
	}
	atexit(tmpdir_remove);
	static const struct CMUnitTest fixed[] = {
		cmocka_unit_test(test_large_x64_2m),
		cmocka_unit_test(test_large_x64_1g),
		cmocka_unit_test(test_large_pae_2m),
		cmocka_unit_test(test_large_x86_4m),
		cmocka_unit_test(test_holes),
		cmocka_unit_test(test_adjacent_runs),
		cmocka_unit_test(test_max_runs),
		cmocka_unit_test(test_bitmap_odd_bits),
		cmocka_unit_test(test_truncated),
		cmocka_unit_test(test_header_only_file),
		cmocka_unit_test(test_page_fill_reads_zero),
		cmocka_unit_test(test_too_many_runs),
		cmocka_unit_test(test_run_overflow),
		cmocka_unit_test(test_bitmap_overflow),
		cmocka_unit_test(test_bitmap_first_page_far),
		cmocka_unit_test(test_rdmp_damage),
		cmocka_unit_test(test_bad_signatures),
		cmocka_unit_test(test_bad_inner_signatures),
		cmocka_unit_test(test_tiny_files),
		cmocka_unit_test(test_address_range),
		cmocka_unit_test(test_bad_arguments),
		cmocka_unit_test(test_64gib),
		cmocka_unit_test(test_real_triage_x64),
		cmocka_unit_test(test_real_triage_arm64),
		cmocka_unit_test(test_alloc_failure),
		cmocka_unit_test(test_null_out), /* last: a crash here ends a sanitizer run */
	};
	size_t nm = build_matrix();
	size_t nf = sizeof fixed / sizeof fixed[0];
	struct CMUnitTest *tests = calloc(nm + nf, sizeof *tests);
	for (size_t i = 0; i < nm; i++) {
		tests[i].name = g_cases[i].name;
		tests[i].test_func = test_roundtrip;
		tests[i].initial_state = &g_cases[i];
	}
	memcpy(tests + nm, fixed, sizeof fixed);
	int failed = _cmocka_run_group_tests("test_source", tests, nm + nf, NULL, NULL);
	free(tests);
	return failed;
}

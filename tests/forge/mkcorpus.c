/*
 * fg_mkcorpus DIR: write the seed corpus of fuzz/fuzz_source_open: a small
 * dump (< ~64 KiB) of every format for every architecture, plus a few
 * damaged variants (truncated, odd bitmap size, page-aligned RDMP).
 *
 * Each machine has two physical runs with a hole between them, a kernel
 * address space with a data page holding list heads and a 'KDBG' block,
 * a transition page, a paged-out page and a large page, and one process
 * address space; the header points at those structures so the fuzzer has
 * real translations and lists to follow.
 */
#include <stdio.h>
#include <string.h>

#include "forge.h"

#define CHECK(x)                                                                  \
	do {                                                                      \
		if (!(x)) {                                                       \
			fprintf(stderr, "mkcorpus: %s failed: %s\n", #x, fg_error(f)); \
			fg_free(f);                                               \
			return NULL;                                              \
		}                                                                 \
	} while (0)

static fg_forge *machine(fg_arch arch)
{
	static const fg_run runs[] = { { 0, 12 }, { 0x20, 2 } };
	int x64 = arch == FG_X64;
	uint64_t kva = x64 ? 0xFFFFF80000001000ull : 0x80001000ull;
	uint64_t uva = x64 ? 0x7FF700010000ull : 0x00400000ull;
	uint64_t ptr = x64 ? 8 : 4;
	fg_forge *f = fg_new(arch, 0x22);
	if (!f)
		return NULL;
	CHECK(fg_set_runs(f, runs, 2) == 0);
	uint64_t k = fg_kernel_dtb(f);

	/* data page: a two-entry circular list at +0x100 (head) / +0x200, a
	 * one-entry module list at +0x300, a KDBG block at +0x400 */
	uint64_t head = kva + 0x100, node = kva + 0x200, mods = kva + 0x300, kdbg = kva + 0x400;
	CHECK(fg_write_ptr(f, k, head, node) == 0);
	CHECK(fg_write_ptr(f, k, head + ptr, node) == 0);
	CHECK(fg_write_ptr(f, k, node, head) == 0);
	CHECK(fg_write_ptr(f, k, node + ptr, head) == 0);
	CHECK(fg_write_ptr(f, k, mods, mods) == 0);
	CHECK(fg_write_ptr(f, k, mods + ptr, mods) == 0);
	CHECK(fg_write_u32(f, k, kdbg + 0x10, 0x4742444B) == 0);
	CHECK(fg_write_u32(f, k, kdbg + 0x14, 0x340) == 0);
	CHECK(fg_write_u64(f, k, kdbg + 0x18, kva & ~0xFFFFFull) == 0);
	CHECK(fg_write_u64(f, k, kdbg + 0x48, mods) == 0);
	CHECK(fg_write_u64(f, k, kdbg + 0x50, head) == 0);
	/* a page spanning write into the next page */
	CHECK(fg_write_virtual(f, k, kva + 0xFFC, "spanning", 8) == 0);

	/* transition page, paged-out page, large page onto PA 0 */
	uint64_t tp = fg_alloc_page(f);
	CHECK(tp != 0);
	CHECK(fg_phys_write(f, tp * FG_PAGE_SIZE, "transition", 10) == 0);
	CHECK(fg_map(f, k, kva + 0x3000, tp * FG_PAGE_SIZE, FG_PAGE_4K, FG_MAP_TRANSITION) == 0);
	CHECK(fg_map(f, k, kva + 0x4000, 0x1234000, FG_PAGE_4K, FG_MAP_NOT_PRESENT) == 0);
	if (arch == FG_X86)
		CHECK(fg_map(f, k, 0x80400000, 0, FG_PAGE_4M, 0) == 0);
	else
		CHECK(fg_map(f, k, kva - 0x1000 + 0x200000, 0, FG_PAGE_2M, FG_MAP_NX) == 0);

	/* a process */
	uint64_t u = fg_new_dtb(f);
	CHECK(u != 0);
	CHECK(fg_write_virtual(f, u, uva, "user page", 9) == 0);

	fg_header *h = fg_header_of(f);
	h->build = x64 ? 19041 : 7601;
	h->processors = 2;
	h->bugcheck_code = 0xE2;
	for (int i = 0; i < 4; i++)
		h->bugcheck_params[i] = 0x1000 + (uint64_t)i;
	h->pfn_database = x64 ? 0xFFFFFA8000000000ull : 0x84000000ull;
	h->ps_active_process_head = head;
	h->ps_loaded_module_list = mods;
	h->kd_debugger_data_block = kdbg;
	h->system_time = 0x01D9000000000000ull;
	h->system_uptime = 123456789;
	h->product_type = 1;
	h->suite_mask = 0x110;
	strcpy(h->comment, "forge seed");
	h->context_len = 16;
	memset(h->context, 0xCC, 16);
	return f;
}

static int emit(fg_forge *f, const char *dir, const char *name, const fg_write_opts *o)
{
	char path[4096];
	snprintf(path, sizeof path, "%s/%s", dir, name);
	if (fg_write_file(f, path, o) != 0) {
		fprintf(stderr, "mkcorpus: %s: %s\n", path, fg_error(f));
		return 1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	static const struct {
		fg_arch arch;
		const char *name;
	} archs[] = { { FG_X64, "x64" }, { FG_X86_PAE, "pae" }, { FG_X86, "x86" } };
	static const struct {
		fg_format fmt;
		const char *name;
		int kernel_only;
	} fmts[] = {
		{ FG_FMT_FULL, "full", 0 },         { FG_FMT_SUMMARY, "summary", 1 },
		{ FG_FMT_BITMAP_FULL, "bmfull", 0 }, { FG_FMT_BITMAP_KERNEL, "bmkernel", 1 },
		{ FG_FMT_RDMP8, "rdmp8", 1 },        { FG_FMT_RDMP9, "rdmp9", 0 },
		{ FG_FMT_RDMPA, "rdmpa", 1 },
	};
	int bad = 0;
	if (argc != 2) {
		fprintf(stderr, "usage: fg_mkcorpus DIR\n");
		return 2;
	}
	for (size_t a = 0; a < sizeof archs / sizeof archs[0]; a++) {
		fg_forge *f = machine(archs[a].arch);
		if (!f)
			return 1;
		for (size_t i = 0; i < sizeof fmts / sizeof fmts[0]; i++) {
			char name[64];
			fg_write_opts o = FG_WRITE_OPTS_INIT;
			o.format = fmts[i].fmt;
			o.kernel_only = fmts[i].kernel_only;
			if (o.format >= FG_FMT_RDMP8 && archs[a].arch != FG_X64)
				continue;
			snprintf(name, sizeof name, "%s_%s.dmp", archs[a].name, fmts[i].name);
			bad |= emit(f, argv[1], name, &o);
		}
		/* damaged and odd variants */
		fg_write_opts o = FG_WRITE_OPTS_INIT;
		char name[64];
		o.truncate_to = (archs[a].arch == FG_X64 ? 0x2000 : 0x1000) + 5 * FG_PAGE_SIZE + 100;
		snprintf(name, sizeof name, "%s_full_truncated.dmp", archs[a].name);
		bad |= emit(f, argv[1], name, &o);
		o = (fg_write_opts)FG_WRITE_OPTS_INIT;
		o.format = FG_FMT_BITMAP_FULL;
		o.bitmap_bits = 0x22 + 37;
		snprintf(name, sizeof name, "%s_bmfull_oddbits.dmp", archs[a].name);
		bad |= emit(f, argv[1], name, &o);
		if (archs[a].arch == FG_X64) {
			o = (fg_write_opts)FG_WRITE_OPTS_INIT;
			o.format = FG_FMT_RDMPA;
			o.rdmp_page_align = 1;
			bad |= emit(f, argv[1], "x64_rdmpa_aligned.dmp", &o);
			o = (fg_write_opts)FG_WRITE_OPTS_INIT;
			o.header = FG_HDR_32;
			o.kernel_only = 1;
			o.format = FG_FMT_BITMAP_KERNEL;
			bad |= emit(f, argv[1], "x64_bmkernel_hdr32.dmp", &o);
		}
		fg_free(f);
	}
	return bad;
}

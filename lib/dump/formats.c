/*
 * Kernel dump headers and page indexes: full (runs), bitmap (types 2, 5, 6,
 * 7), RDMP (8, 9, 0xA), triage and header-only (no physical pages).
 * Offsets and decisions: docs/formats.md.
 */
#include <stdio.h>
#include <stdlib.h>

#include "source_int.h"
#include "triage.h"

/* 64-bit header ('PAGEDU64') */
#define H64_DTB 0x10
#define H64_PFNDB 0x18
#define H64_MODLIST 0x20
#define H64_PROCHEAD 0x28
#define H64_MACHINE 0x30
#define H64_NPROC 0x34
#define H64_BUGCODE 0x38
#define H64_BUGPARAM 0x40
#define H64_KDDEBUGGER 0x80
#define H64_PMB 0x88
#define H64_CONTEXT 0x348
#define H64_CONTEXT_LEN 3000
#define H64_DUMPTYPE 0xF98
#define H64_SYSTIME 0xFA8
#define H64_COMMENT 0xFB0
#define H64_UPTIME 0x1030
#define H64_PRODUCT 0x1040
#define H64_SUITE 0x1044
#define H64_ATTRIBUTES 0x1050
#define H64_SIZE 0x2000

/* 32-bit header ('PAGEDUMP') */
#define H32_DTB 0x10
#define H32_PFNDB 0x14
#define H32_MODLIST 0x18
#define H32_PROCHEAD 0x1C
#define H32_MACHINE 0x20
#define H32_NPROC 0x24
#define H32_BUGCODE 0x28
#define H32_BUGPARAM 0x2C
#define H32_PAE 0x5C
#define H32_KDDEBUGGER 0x60
#define H32_PMB 0x64
#define H32_CONTEXT 0x320
#define H32_CONTEXT_LEN 1200
#define H32_COMMENT 0x820
#define H32_DUMPTYPE 0xF88
#define H32_PRODUCT 0xF94
#define H32_SUITE 0xF98
#define H32_UPTIME 0xFB8
#define H32_SYSTIME 0xFC0
#define H32_SIZE 0x1000

#define PMB_BUFFER_LEN 700u

#define SIG_PAGE 0x45474150u
#define SIG_DUMP 0x504D5544u
#define SIG_DU64 0x34365544u
#define SIG_SDMP 0x504D4453u
#define SIG_FDMP 0x504D4446u
#define SIG_RDMP 0x504D4452u

/* Attributes bits (64-bit header) */
#define ATTR_ENCRYPTED (1u << 8)
#define ATTR_DECRYPTED (1u << 9)

static uint32_t hdr32(const khang_source *src, size_t off)
{
	uint32_t v = kh_le32(src->header + off);
	return v == KH_PAGE_FILL32 ? 0 : v;
}

static uint64_t hdr64(const khang_source *src, size_t off)
{
	uint64_t v = kh_le64(src->header + off);
	return v == KH_PAGE_FILL64 ? 0 : v;
}

static khang_arch arch_of(uint32_t machine)
{
	switch (machine) {
	case 0x14C: return KHANG_ARCH_X86;
	case 0x8664: return KHANG_ARCH_X64;
	case 0xAA64: return KHANG_ARCH_ARM64;
	default: return KHANG_ARCH_UNKNOWN;
	}
}

static void copy_comment(char *dst, const uint8_t *src)
{
	size_t i;
	for (i = 0; i < 128 && src[i]; i++)
		dst[i] = (src[i] >= 0x20 && src[i] < 0x7F) ? (char)src[i] : '?';
	dst[i] = '\0';
	if (i >= 4 && memcmp(dst, "PAGE", 4) == 0)
		dst[0] = '\0'; /* unset: filled with the PAGE pattern */
}

int kh_parse_header(khang_source *src)
{
	khang_source_info *in = &src->info;
	bool is64 = kh_le32(src->header + 4) == SIG_DU64;

	in->header_size = is64 ? H64_SIZE : H32_SIZE;
	in->major_version = hdr32(src, 0x08);
	in->build = hdr32(src, 0x0C);
	if (is64) {
		in->dtb = hdr64(src, H64_DTB);
		in->pfn_database = hdr64(src, H64_PFNDB);
		in->ps_loaded_module_list = hdr64(src, H64_MODLIST);
		in->ps_active_process_head = hdr64(src, H64_PROCHEAD);
		in->machine_type = hdr32(src, H64_MACHINE);
		in->processors = hdr32(src, H64_NPROC);
		in->bugcheck_code = hdr32(src, H64_BUGCODE);
		for (int i = 0; i < 4; i++)
			in->bugcheck_params[i] = hdr64(src, H64_BUGPARAM + 8 * (size_t)i);
		in->kd_debugger_data_block = hdr64(src, H64_KDDEBUGGER);
		in->dump_type = (khang_dump_type)hdr32(src, H64_DUMPTYPE);
		in->system_time = hdr64(src, H64_SYSTIME);
		in->system_uptime = hdr64(src, H64_UPTIME);
		in->product_type = hdr32(src, H64_PRODUCT);
		in->suite_mask = hdr32(src, H64_SUITE);
		copy_comment(in->comment, src->header + H64_COMMENT);
		uint32_t attrs = hdr32(src, H64_ATTRIBUTES);
		if ((attrs & ATTR_ENCRYPTED) && !(attrs & ATTR_DECRYPTED))
			kh_source_warn(src, "header marks the dump as encrypted (Attributes 0x%x): page contents will not be readable",
			               attrs);
	} else {
		in->dtb = hdr32(src, H32_DTB);
		in->pfn_database = hdr32(src, H32_PFNDB);
		in->ps_loaded_module_list = hdr32(src, H32_MODLIST);
		in->ps_active_process_head = hdr32(src, H32_PROCHEAD);
		in->machine_type = hdr32(src, H32_MACHINE);
		in->processors = hdr32(src, H32_NPROC);
		in->bugcheck_code = hdr32(src, H32_BUGCODE);
		for (int i = 0; i < 4; i++)
			in->bugcheck_params[i] = hdr32(src, H32_BUGPARAM + 4 * (size_t)i);
		in->kd_debugger_data_block = hdr32(src, H32_KDDEBUGGER);
		in->dump_type = (khang_dump_type)hdr32(src, H32_DUMPTYPE);
		in->system_time = hdr64(src, H32_SYSTIME);
		in->system_uptime = hdr64(src, H32_UPTIME);
		in->product_type = hdr32(src, H32_PRODUCT);
		in->suite_mask = hdr32(src, H32_SUITE);
		copy_comment(in->comment, src->header + H32_COMMENT);
		in->pae = src->header[H32_PAE] == 1;
	}
	in->arch = arch_of(in->machine_type);
	if (in->arch == KHANG_ARCH_UNKNOWN)
		return kh_error(KHANG_EUNSUPPORTED, "header: unknown MachineImageType 0x%x", in->machine_type);
	if (is64 && in->arch == KHANG_ARCH_X86)
		kh_source_warn(src, "x86 machine type in a 64-bit header");
	if (!is64 && in->arch != KHANG_ARCH_X86)
		return kh_error(KHANG_ECORRUPT, "32-bit header with MachineImageType 0x%x", in->machine_type);
	if (in->processors > 4096) {
		kh_source_warn(src, "header: NumberProcessors %u is implausible; treated as unknown", in->processors);
		in->processors = 0;
	}
	return 0;
}

/* ---- run index (full and RDMP dumps) ------------------------------------ */

static int cmp_run(const void *a, const void *b)
{
	const kh_run *x = a, *y = b;
	return x->base_pfn < y->base_pfn ? -1 : x->base_pfn > y->base_pfn;
}

/* Sort runs by PFN, reject overlaps, compute totals and the truncation. */
static int finish_runs(khang_source *src, const char *what)
{
	kh_page_index *idx = &src->index;
	uint64_t missing = 0;

	qsort(idx->runs, idx->nruns, sizeof(kh_run), cmp_run);
	idx->pages = 0;
	idx->max_pfn = 0;
	for (size_t i = 0; i < idx->nruns; i++) {
		const kh_run *r = &idx->runs[i];
		uint64_t end_pfn, bytes, end_off;
		if (kh_add_overflow_u64(r->base_pfn, r->count, &end_pfn) || end_pfn > (1ull << 40))
			return kh_error(KHANG_ECORRUPT, "%s: run %zu (PFN 0x%llx, %llu pages) exceeds the physical address space",
			                what, i, (unsigned long long)r->base_pfn, (unsigned long long)r->count);
		if (i > 0 && r->base_pfn < idx->runs[i - 1].base_pfn + idx->runs[i - 1].count)
			return kh_error(KHANG_ECORRUPT, "%s: runs overlap at PFN 0x%llx", what,
			                (unsigned long long)r->base_pfn);
		if (kh_mul_overflow_u64(r->count, KH_PAGE_SIZE, &bytes) ||
		    kh_add_overflow_u64(r->file_off, bytes, &end_off))
			return kh_error(KHANG_ECORRUPT, "%s: run %zu's file extent overflows", what, i);
		if (end_off > src->file.size) {
			uint64_t have = r->file_off >= src->file.size ? 0
			                : (src->file.size - r->file_off) / KH_PAGE_SIZE;
			missing += r->count - have;
		}
		idx->pages += r->count;
		idx->max_pfn = end_pfn;
	}
	src->info.pages_indexed = idx->pages;
	src->info.pages_missing = missing;
	src->info.max_pfn = idx->max_pfn;
	return 0;
}

static int build_full(khang_source *src)
{
	bool is64 = src->info.header_size == H64_SIZE;
	size_t pmb = is64 ? H64_PMB : H32_PMB;
	size_t first = is64 ? 0x10 : 0x08;     /* offset of Run[0] in the descriptor */
	size_t run_len = is64 ? 16 : 8;
	uint32_t nruns = kh_le32(src->header + pmb);
	uint64_t declared = is64 ? kh_le64(src->header + pmb + 8) : kh_le32(src->header + pmb + 4);

	if (nruns == KH_PAGE_FILL32)
		return kh_error(KHANG_ECORRUPT, "full dump: PhysicalMemoryBlock is not set (PAGE fill)");
	if (nruns > (PMB_BUFFER_LEN - first) / run_len)
		return kh_error(KHANG_ECORRUPT, "full dump: NumberOfRuns %u does not fit the %u-byte PhysicalMemoryBlock",
		                nruns, PMB_BUFFER_LEN);
	kh_page_index *idx = &src->index;
	idx->kind = KH_INDEX_RUNS;
	idx->runs = kh_calloc(&src->alloc, nruns ? nruns : 1, sizeof(kh_run));
	if (!idx->runs)
		return KHANG_ENOMEM;
	uint64_t off = src->info.header_size;
	for (uint32_t i = 0; i < nruns; i++) {
		const uint8_t *p = src->header + pmb + first + run_len * i;
		kh_run *r = &idx->runs[idx->nruns];
		r->base_pfn = is64 ? kh_le64(p) : kh_le32(p);
		r->count = is64 ? kh_le64(p + 8) : kh_le32(p + 4);
		r->file_off = off;
		uint64_t bytes;
		if (kh_mul_overflow_u64(r->count, KH_PAGE_SIZE, &bytes) || kh_add_overflow_u64(off, bytes, &off))
			return kh_error(KHANG_ECORRUPT, "full dump: run %u (%llu pages) overflows the file offset",
			                i, (unsigned long long)r->count);
		if (r->count)
			idx->nruns++;
	}
	int rc = finish_runs(src, "full dump");
	if (rc < 0)
		return rc;
	if (declared != idx->pages && declared != KH_PAGE_FILL64 && declared != KH_PAGE_FILL32)
		kh_source_warn(src, "full dump: NumberOfPages %llu differs from the sum of the runs %llu (using the runs)",
		               (unsigned long long)declared, (unsigned long long)idx->pages);
	return 0;
}

/* RDMP header at the 64-bit header size: marker, 'RDMP', 'DUMP',
 * MetadataSize @0x10, FirstPageOffset @0x18; type 0xA adds NumberOfRanges
 * @0x20 and TotalNumberOfPages @0x28; {Pfn, Count} ranges from @0x30. */
static int build_rdmp(khang_source *src)
{
	const uint64_t base = H64_SIZE;
	uint8_t h[0x30];
	int rc;

	if (src->info.header_size != H64_SIZE)
		return kh_error(KHANG_EUNSUPPORTED, "RDMP dump types need the 64-bit header");
	rc = kh_file_read(&src->file, base, h, sizeof(h));
	if (rc < 0)
		return kh_error(KHANG_ECORRUPT, "RDMP dump: file too short for the RDMP header");
	if (kh_le32(h + 4) != SIG_RDMP || kh_le32(h + 8) != SIG_DUMP)
		return kh_error(KHANG_ECORRUPT, "RDMP dump: bad RDMP header signature 0x%08x", kh_le32(h + 4));
	uint64_t meta = kh_le64(h + 0x10);
	uint64_t first_page = kh_le64(h + 0x18);
	uint64_t ranges_off = base + 0x30;
	if (first_page < ranges_off || meta < 0x20 || meta - 0x20 != first_page - (base + 0x40))
		return kh_error(KHANG_ECORRUPT, "RDMP dump: MetadataSize 0x%llx and FirstPageOffset 0x%llx disagree",
		                (unsigned long long)meta, (unsigned long long)first_page);
	uint64_t max_ranges = (first_page - ranges_off) / 16;
	if (max_ranges > meta / 16)
		max_ranges = meta / 16;
	if (src->info.dump_type == KHANG_DUMP_RDMP_A) {
		uint64_t n = kh_le64(h + 0x20);
		if (n > max_ranges)
			return kh_error(KHANG_ECORRUPT, "RDMP dump: NumberOfRanges %llu exceeds the metadata (%llu)",
			                (unsigned long long)n, (unsigned long long)max_ranges);
		max_ranges = n;
	}
	if (ranges_off + max_ranges * 16 > src->file.size)
		return kh_error(KHANG_ECORRUPT, "RDMP dump: PFN range table (%llu entries) is past the end of the file",
		                (unsigned long long)max_ranges);

	kh_page_index *idx = &src->index;
	idx->kind = KH_INDEX_RUNS;
	idx->runs = kh_calloc(&src->alloc, max_ranges ? (size_t)max_ranges : 1, sizeof(kh_run));
	if (!idx->runs)
		return KHANG_ENOMEM;
	uint64_t off = first_page;
	for (uint64_t i = 0; i < max_ranges; i++) {
		uint8_t e[16];
		rc = kh_file_read(&src->file, ranges_off + 16 * i, e, sizeof(e));
		if (rc < 0)
			return rc;
		uint64_t pfn = kh_le64(e), count = kh_le64(e + 8);
		if (count == 0)
			break; /* a zero entry ends the table */
		kh_run *r = &idx->runs[idx->nruns++];
		r->base_pfn = pfn;
		r->count = count;
		r->file_off = off;
		uint64_t bytes;
		if (kh_mul_overflow_u64(count, KH_PAGE_SIZE, &bytes) || kh_add_overflow_u64(off, bytes, &off))
			return kh_error(KHANG_ECORRUPT, "RDMP dump: range %llu (%llu pages) overflows the file offset",
			                (unsigned long long)i, (unsigned long long)count);
	}
	rc = finish_runs(src, "RDMP dump");
	if (rc < 0)
		return rc;
	if (src->info.dump_type == KHANG_DUMP_RDMP_A && kh_le64(h + 0x28) != idx->pages)
		kh_source_warn(src, "RDMP dump: TotalNumberOfPages %llu differs from the ranges' sum %llu",
		               (unsigned long long)kh_le64(h + 0x28), (unsigned long long)idx->pages);
	return 0;
}

/* ---- bitmap index ------------------------------------------------------- */

/* Set bits in nbits bits starting at a byte-aligned position. */
static uint64_t count_bits(const uint8_t *p, uint64_t nbits)
{
	uint64_t full_bytes = nbits / 8, j = 0, cnt = 0;
	for (; j + 8 <= full_bytes; j += 8)
		cnt += kh_popcount64(kh_le64(p + j));
	for (; j < full_bytes; j++)
		cnt += kh_popcount64(p[j]);
	if (nbits & 7)
		cnt += kh_popcount64(p[j] & ((1u << (nbits & 7)) - 1));
	return cnt;
}

/* Fill the rank tables of superblocks [ranked_super, last]. */
static void extend_rank(kh_page_index *idx, uint64_t last)
{
	if (last >= idx->nsuper)
		last = idx->nsuper - 1;
	for (uint64_t s = idx->ranked_super; s <= last; s++) {
		uint64_t in_super = 0;
		idx->rank_super[s] = idx->ranked_total;
		for (uint64_t b = 0; b < KH_RANK_SUPER_BITS / KH_RANK_BLOCK_BITS; b++) {
			uint64_t bit0 = s * KH_RANK_SUPER_BITS + b * KH_RANK_BLOCK_BITS;
			if (bit0 > idx->nbits)
				break;
			idx->rank_block[bit0 / KH_RANK_BLOCK_BITS] = (uint16_t)in_super;
			uint64_t bits = KH_MIN((uint64_t)KH_RANK_BLOCK_BITS, idx->nbits - bit0);
			in_super += count_bits(idx->bitmap + bit0 / 8, bits);
		}
		idx->ranked_total += in_super;
	}
	if (last + 1 > idx->ranked_super)
		idx->ranked_super = last + 1;
}

static int build_bitmap(khang_source *src)
{
	uint64_t base = src->info.header_size;
	uint8_t h[0x38];
	kh_page_index *idx = &src->index;
	int rc;

	rc = kh_file_read(&src->file, base, h, sizeof(h));
	if (rc < 0)
		return kh_error(KHANG_ECORRUPT, "bitmap dump: file too short for the bitmap header");
	uint32_t sig = kh_le32(h);
	if (sig != SIG_SDMP && sig != SIG_FDMP)
		return kh_error(KHANG_ECORRUPT, "bitmap dump: bad bitmap header signature 0x%08x (want 'SDMP' or 'FDMP')", sig);
	if (kh_le32(h + 4) != SIG_DUMP)
		return kh_error(KHANG_ECORRUPT, "bitmap dump: bad second signature 0x%08x (want 'DUMP')", kh_le32(h + 4));
	uint64_t first_page = kh_le64(h + 0x20);
	uint64_t present = kh_le64(h + 0x28);
	uint64_t nbits = kh_le64(h + 0x30);
	uint64_t bm_off = base + 0x38;
	uint64_t bm_bytes = nbits / 8 + ((nbits & 7) != 0);

	if (nbits > (1ull << 40))
		return kh_error(KHANG_ECORRUPT, "bitmap dump: bitmap of %llu bits exceeds the physical address space",
		                (unsigned long long)nbits);
	if (bm_off + bm_bytes > src->file.size)
		return kh_error(KHANG_ECORRUPT, "bitmap dump: bitmap of %llu bits runs past the end of the file",
		                (unsigned long long)nbits);
	uint64_t data_bytes, data_end;
	if (kh_mul_overflow_u64(nbits, KH_PAGE_SIZE, &data_bytes) || kh_add_overflow_u64(first_page, data_bytes, &data_end))
		return kh_error(KHANG_ECORRUPT, "bitmap dump: FirstPage 0x%llx + %llu pages overflows",
		                (unsigned long long)first_page, (unsigned long long)nbits);
	if (first_page < bm_off + bm_bytes)
		return kh_error(KHANG_ECORRUPT, "bitmap dump: FirstPage 0x%llx overlaps the bitmap (ends at 0x%llx)",
		                (unsigned long long)first_page, (unsigned long long)(bm_off + bm_bytes));

	idx->kind = KH_INDEX_BITMAP;
	idx->nbits = nbits;
	idx->first_page_off = first_page;
	const uint8_t *view = kh_file_view(&src->file, bm_off, (size_t)bm_bytes);
	if (view) {
		idx->bitmap = view;
	} else {
		idx->bitmap_copy = kh_malloc(&src->alloc, (size_t)bm_bytes);
		if (!idx->bitmap_copy)
			return KHANG_ENOMEM;
		rc = kh_file_read(&src->file, bm_off, idx->bitmap_copy, (size_t)bm_bytes);
		if (rc < 0)
			return rc;
		idx->bitmap = idx->bitmap_copy;
	}

	/* Rank tables, filled lazily by extend_rank(): opening costs nothing
	 * that grows with the dump, and a lookup counts bits only up to the
	 * superblock it needs, once. */
	uint64_t nsuper = nbits / KH_RANK_SUPER_BITS + 1;
	uint64_t nblock = nbits / KH_RANK_BLOCK_BITS + 1;
	/* not zeroed: an entry is read only after extend_rank() wrote it */
	idx->rank_super = kh_reallocarray(&src->alloc, NULL, (size_t)nsuper, sizeof(uint64_t));
	idx->rank_block = kh_reallocarray(&src->alloc, NULL, (size_t)nblock, sizeof(uint16_t));
	if (!idx->rank_super || !idx->rank_block)
		return KHANG_ENOMEM;
	idx->nsuper = nsuper;
	idx->ranked_super = 0;
	idx->ranked_total = 0;
	idx->max_pfn = nbits;
	src->info.max_pfn = nbits;

	/* Present pages: the header's count when it is plausible, else count. */
	if (present == KH_PAGE_FILL64 || present > nbits) {
		extend_rank(idx, nsuper - 1);
		if (present != KH_PAGE_FILL64)
			kh_source_warn(src, "bitmap dump: TotalPresentPages %llu exceeds the bitmap's %llu bits (using the bitmap: %llu)",
			               (unsigned long long)present, (unsigned long long)nbits,
			               (unsigned long long)idx->ranked_total);
		present = idx->ranked_total;
	}
	idx->pages = present;
	idx->header_present = present;
	src->info.pages_indexed = present;
	uint64_t avail = first_page >= src->file.size ? 0 : (src->file.size - first_page) / KH_PAGE_SIZE;
	src->info.pages_missing = present > avail ? present - avail : 0;
	return 0;
}

int kh_build_index(khang_source *src)
{
	int rc;

	switch (src->info.dump_type) {
	case KHANG_DUMP_FULL:
		rc = build_full(src);
		break;
	case KHANG_DUMP_SUMMARY:
	case KHANG_DUMP_BITMAP_FULL:
	case KHANG_DUMP_BITMAP_KERNEL:
	case KHANG_DUMP_AUTOMATIC:
		rc = build_bitmap(src);
		break;
	case KHANG_DUMP_RDMP_8:
	case KHANG_DUMP_RDMP_9:
	case KHANG_DUMP_RDMP_A:
		rc = build_rdmp(src);
		break;
	case KHANG_DUMP_TRIAGE:
		src->index.kind = KH_INDEX_NONE;
		rc = src->info.arch == KHANG_ARCH_ARM64 ? 0 : kh_triage_parse(src);
		break;
	case KHANG_DUMP_HEADER:
		src->index.kind = KH_INDEX_NONE;
		rc = 0;
		break;
	default:
		return kh_error(KHANG_EUNSUPPORTED, "header: unknown DumpType %u", (unsigned)src->info.dump_type);
	}
	if (rc < 0)
		return rc;
	if (src->info.pages_missing && !(src->flags & KHANG_SOURCE_QUIET_TRUNCATION))
		kh_source_warn(src, "file truncated: %llu of %llu pages are past its end and read as missing",
		               (unsigned long long)src->info.pages_missing,
		               (unsigned long long)src->info.pages_indexed);
	return 0;
}

void kh_index_free(const kh_alloc *a, kh_page_index *idx)
{
	kh_free(a, idx->runs);
	kh_free(a, idx->bitmap_copy);
	kh_free(a, idx->rank_super);
	kh_free(a, idx->rank_block);
	memset(idx, 0, sizeof(*idx));
}

/* ---- PFN -> file offset -------------------------------------------------- */

static int lookup_runs(const kh_page_index *idx, uint64_t pfn, uint64_t *out)
{
	size_t lo = 0, hi = idx->nruns;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		const kh_run *r = &idx->runs[mid];
		if (pfn < r->base_pfn)
			hi = mid;
		else if (pfn - r->base_pfn >= r->count)
			lo = mid + 1;
		else {
			*out = r->file_off + (pfn - r->base_pfn) * KH_PAGE_SIZE;
			return 0;
		}
	}
	return KHANG_ENOTPRESENT;
}

static int lookup_bitmap(kh_page_index *idx, uint64_t pfn, uint64_t *out)
{
	if (pfn >= idx->nbits || !(idx->bitmap[pfn / 8] & (1u << (pfn & 7))))
		return KHANG_ENOTPRESENT;
	if (pfn / KH_RANK_SUPER_BITS >= idx->ranked_super)
		extend_rank(idx, pfn / KH_RANK_SUPER_BITS);
	uint64_t rank = idx->rank_super[pfn / KH_RANK_SUPER_BITS] + idx->rank_block[pfn / KH_RANK_BLOCK_BITS];
	uint64_t word0 = (pfn / KH_RANK_BLOCK_BITS) * (KH_RANK_BLOCK_BITS / 64);
	uint64_t wordp = pfn / 64;
	for (uint64_t w = word0; w < wordp; w++)
		rank += kh_popcount64(kh_le64(idx->bitmap + w * 8));
	/* bits below pfn in its own word; read bytewise since the bitmap may end
	 * within this word */
	uint64_t byte0 = wordp * 8;
	for (uint64_t b = byte0; b < pfn / 8; b++)
		rank += kh_popcount64(idx->bitmap[b]);
	rank += kh_popcount64(idx->bitmap[pfn / 8] & ((1u << (pfn & 7)) - 1));
	*out = idx->first_page_off + rank * KH_PAGE_SIZE;
	return 0;
}

int kh_pfn_to_offset(khang_source *src, uint64_t pfn, uint64_t *out)
{
	uint64_t off;
	int rc;

	switch (src->index.kind) {
	case KH_INDEX_RUNS:
		rc = lookup_runs(&src->index, pfn, &off);
		break;
	case KH_INDEX_BITMAP:
		rc = lookup_bitmap(&src->index, pfn, &off);
		if (!src->index.count_checked && src->index.ranked_super >= src->index.nsuper) {
			src->index.count_checked = true;
			if (src->index.ranked_total != src->index.header_present)
				kh_source_warn(src, "bitmap dump: TotalPresentPages %llu differs from the %llu bits set",
				               (unsigned long long)src->index.header_present,
				               (unsigned long long)src->index.ranked_total);
		}
		break;
	default:
		rc = KHANG_ENOTPRESENT;
		break;
	}
	if (rc < 0)
		return kh_error(KHANG_ENOTPRESENT, "physical page 0x%llx is not in the dump", (unsigned long long)pfn);
	if (off > src->file.size || src->file.size - off < KH_PAGE_SIZE)
		return kh_error(KHANG_ENOTPRESENT, "physical page 0x%llx is past the end of the truncated file",
		                (unsigned long long)pfn);
	*out = off;
	return 0;
}

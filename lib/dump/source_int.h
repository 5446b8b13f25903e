/*
 * The source object and its physical page index (internal).
 *
 * Page index kinds:
 * - RUNS: a sorted array of {base PFN, page count, file offset}; used for full
 *   dumps (PhysicalMemoryBlock) and RDMP dumps (PFN ranges). Lookup is a
 *   binary search: O(log runs); memory O(runs).
 * - BITMAP: the dump's bitmap (bit i = PFN i present) with a two-level rank
 *   structure: a 64-bit cumulative count per superblock of 2^16 bits and a
 *   16-bit count per 512-bit block within its superblock. PFN -> file offset
 *   is O(1): two table loads and at most eight popcounts. The tables are
 *   filled lazily, superblock by superblock, up to the highest PFN looked up,
 *   so opening does not read the bitmap. Memory is 1/32 of the bitmap (2 KiB
 *   + 64 KiB for a 64 GiB machine), allocated untouched.
 * - NONE: no physical memory (header-only and triage dumps).
 */
#ifndef KH_SOURCE_INT_H
#define KH_SOURCE_INT_H

#include "khang/source.h"
#include "fileio.h"

#define KH_PAGE_SIZE 4096u
#define KH_PAGE_SHIFT 12
#define KH_SOURCE_MAGIC 0x4b48534fu /* 'KHSO' */
#define KH_MAX_WARNINGS_KEPT 64
#define KH_PAGE_FILL32 0x45474150u
#define KH_PAGE_FILL64 0x4547415045474150ull

/* Bitmap rank geometry. */
#define KH_RANK_SUPER_BITS 65536u
#define KH_RANK_BLOCK_BITS 512u

typedef enum kh_index_kind {
	KH_INDEX_NONE = 0,
	KH_INDEX_RUNS,
	KH_INDEX_BITMAP
} kh_index_kind;

typedef struct kh_run {
	uint64_t base_pfn;
	uint64_t count;
	uint64_t file_off;  /* file offset of the run's first page */
} kh_run;

typedef struct kh_page_index {
	kh_index_kind kind;
	/* RUNS */
	kh_run *runs;
	size_t nruns;
	/* BITMAP */
	const uint8_t *bitmap;   /* into the mapping, or bitmap_copy */
	uint8_t *bitmap_copy;    /* owned, when the file is not addressable */
	uint64_t nbits;
	uint64_t first_page_off;
	uint64_t *rank_super;    /* cumulative set bits before each superblock */
	uint16_t *rank_block;    /* set bits before each block, within its superblock */
	uint64_t nsuper;         /* superblocks in the bitmap */
	uint64_t ranked_super;   /* superblocks [0, ranked_super) have valid ranks */
	uint64_t ranked_total;   /* set bits in those superblocks */
	uint64_t header_present; /* TotalPresentPages as the header says */
	bool count_checked;      /* the full count was compared with the header */
	/* common */
	uint64_t pages;          /* pages the index claims */
	uint64_t max_pfn;        /* one past the highest PFN held */
} kh_page_index;

typedef struct kh_tlb_entry {
	uint64_t dtb;
	uint64_t vpn;      /* va >> 12, plus 1 so 0 means empty */
	uint64_t pfn;
} kh_tlb_entry;

struct kh_kernel;
struct kh_triage;

struct khang_source {
	uint32_t magic;
	kh_alloc alloc;
	const struct khang_layout *user_layout;  /* borrowed, from the options */
	uint32_t flags;                           /* khang_source_flags */
	uint32_t max_list;                        /* longest list walked */
	char *image_path;                         /* copy of the option, or NULL */
	struct kh_kernel *kernel;                 /* discovered on first need */
	struct kh_triage *triage;                 /* DumpType 4: the triage header and copies */
	/* The object layer's per-source cache (processors, processes, threads),
	 * built on first need and released by objects_free at source free. */
	void *objects;
	void (*objects_free)(khang_source *src);
	kh_file file;
	uint8_t header[0x2000];   /* copy of the header (0x1000 used for 32-bit) */
	khang_source_info info;
	kh_page_index index;
	/* translation cache */
	kh_tlb_entry *tlb;
	uint32_t tlb_mask;        /* entries - 1; 0 = disabled */
	khang_tlb_stats tlb_stats;
	/* warnings */
	uint32_t nwarnings;
	char *warnings[KH_MAX_WARNINGS_KEPT];
	/* scratch page for pread-mode reads */
	uint8_t scratch[KH_PAGE_SIZE];
};

/* Validate a handle at the API boundary. */
static inline bool kh_source_ok(const khang_source *src)
{
	return src && src->magic == KH_SOURCE_MAGIC;
}

/* Record a warning (kept with text for the first KH_MAX_WARNINGS_KEPT). */
void kh_source_warn(khang_source *src, const char *fmt, ...) KH_PRINTF(2, 3);

/* Format parsing (formats.c): fill src->info from src->header and build
 * src->index. */
int kh_parse_header(khang_source *src);
int kh_build_index(khang_source *src);
void kh_index_free(const kh_alloc *a, kh_page_index *idx);

/* File offset of a physical page; KHANG_ENOTPRESENT when the PFN is not in
 * the dump or its page lies past the end of the file. */
int kh_pfn_to_offset(khang_source *src, uint64_t pfn, uint64_t *out);

/* Read bytes that lie within one physical page. */
int kh_phys_read_in_page(khang_source *src, uint64_t pa, void *buf, size_t len);

/* Virtual reads for the object layers: no error context is added (the
 * caller adds its own). dtb 0 is the kernel address space. */
int kh_vread(khang_source *src, uint64_t dtb, uint64_t va, void *buf, size_t len);
/* A pointer-sized value (8 bytes on x64, 4 on x86). */
int kh_vread_ptr(khang_source *src, uint64_t dtb, uint64_t va, uint64_t *out);
int kh_vread_u32(khang_source *src, uint64_t dtb, uint64_t va, uint32_t *out);
int kh_vread_u64(khang_source *src, uint64_t dtb, uint64_t va, uint64_t *out);
static inline unsigned kh_ptr_size(const khang_source *src)
{
	return src->info.arch == KHANG_ARCH_X86 ? 4 : 8;
}

/* Address translation (mmu.c). dtb 0 means the kernel DTB. */
int kh_mmu_translate(khang_source *src, uint64_t dtb, uint64_t va, uint64_t *out_pa);
int kh_tlb_init(khang_source *src, uint32_t entries);
void kh_tlb_free(khang_source *src);

#endif /* KH_SOURCE_INT_H */

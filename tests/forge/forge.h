/*
 * forge: a writer of synthetic Windows kernel memory dumps, for tests,
 * benchmarks and fuzz corpora.
 *
 * The forge builds a machine's physical memory and page tables page by page
 * and writes them out as a dump file in any of the layouts of
 * docs/FORMAT.md. It is deliberately independent of libkhang (it includes
 * nothing from lib/ or include/), so a test that writes with the forge and
 * reads with the library does not confirm the library with itself.
 *
 * Model
 * - Physical memory is [0, ram_pages) in 4 KiB pages, as one run, or the runs
 *   given to fg_set_runs(). It is sparse: only pages that were written or
 *   allocated are stored; every other page reads as zeros. A 64 GiB machine
 *   costs nothing until its pages are touched.
 * - Page tables live in that physical memory. fg_new() creates the kernel
 *   address space (its CR3 is fg_kernel_dtb()); fg_new_dtb() adds process
 *   address spaces sharing the kernel half.
 * - fg_write_file() / fg_write_memory() write the dump. Writing costs
 *   O(stored pages + runs), plus the bitmap of bitmap dumps; files are sparse
 *   (pages never stored are holes).
 *
 * Conventions: functions returning int give 0 on success and -1 on failure,
 * with a message in fg_error(). Running out of memory aborts the program
 * (this is a test tool). A forge is used by one thread at a time.
 */
#ifndef KHANG_FORGE_H
#define KHANG_FORGE_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define FG_PAGE_SIZE 0x1000u

/* The 'PAGE' fill Windows leaves in header fields it does not set. A header
 * field holding one of these values is written as the fill. */
#define FG_UNSET32 0x45474150u
#define FG_UNSET64 0x4547415045474150ull

/* ---- the machine ------------------------------------------------------ */

typedef enum fg_arch {
	FG_X64 = 0,     /* 4-level paging, 64-bit header by default */
	FG_X86_PAE = 1, /* 3-level PAE paging, 32-bit header by default */
	FG_X86 = 2      /* 2-level non-PAE paging, 32-bit entries */
} fg_arch;

typedef struct fg_forge fg_forge;

/* One run of physical memory: PFNs [base, base + count). */
typedef struct fg_run {
	uint64_t base;
	uint64_t count;
} fg_run;

/*
 * Header values. fg_new() sets major_version 0xF, build 19041, processors 1,
 * dtb to the kernel DTB, machine_type and pae_enabled from the arch, and
 * every other field to FG_UNSET32 / FG_UNSET64 (written as 'PAGE' fill).
 * Change fields through fg_header_of(). On a 32-bit header, 64-bit values
 * are truncated to 32 bits.
 */
typedef struct fg_header {
	uint32_t major_version;
	uint32_t build;                  /* MinorVersion */
	uint64_t dtb;                    /* DirectoryTableBase */
	uint64_t pfn_database;
	uint64_t ps_loaded_module_list;
	uint64_t ps_active_process_head;
	uint32_t machine_type;           /* MachineImageType */
	uint32_t processors;             /* NumberProcessors */
	uint32_t bugcheck_code;
	uint64_t bugcheck_params[4];
	uint64_t kd_debugger_data_block;
	uint64_t system_time;
	uint64_t system_uptime;
	uint32_t product_type;
	uint32_t suite_mask;
	uint32_t pae_enabled;            /* 32-bit header only (one byte) */
	uint32_t dump_type;              /* 0: the format's value; else written as is */
	char comment[128];               /* "" leaves the field as fill */
	uint8_t context[3000];           /* CONTEXT record bytes */
	uint32_t context_len;            /* 0 leaves the field as fill; max 1200 on 32-bit headers */
} fg_header;

/* Create a machine with ram_pages pages of RAM as one run [0, ram_pages) and
 * an empty kernel address space. NULL if ram_pages is 0 or too large for
 * the architecture (x86 non-PAE: 4 GiB). */
fg_forge *fg_new(fg_arch arch, uint64_t ram_pages);
void fg_free(fg_forge *f);

fg_arch fg_arch_of(const fg_forge *f);
/* The message of the last failure ("" if none). */
const char *fg_error(const fg_forge *f);
/* Header values to edit before writing. */
fg_header *fg_header_of(fg_forge *f);

/* Replace the physical memory map by n runs (sorted, non-overlapping,
 * non-empty; at most 4096). Pages already stored outside the runs stay in
 * the forge but are not written to the dump. */
int fg_set_runs(fg_forge *f, const fg_run *runs, size_t n);
/* The runs (count in *n). Borrowed. */
const fg_run *fg_runs(const fg_forge *f, size_t *n);

/* ---- physical memory -------------------------------------------------- */

/* A fresh zeroed page: the lowest PFN at or above the allocation cursor that
 * is inside a run and not yet stored. Returns its PFN, or 0 when memory is
 * exhausted (PFN 0 is never handed out). */
uint64_t fg_alloc_page(fg_forge *f);
/* Move the allocation cursor (default 1), e.g. above a region the test
 * reserves for fg_map_linear(). */
void fg_set_alloc_cursor(fg_forge *f, uint64_t pfn);
/* Write / read physical memory (any addresses, spanning pages). Writing
 * stores the touched pages; reading an unstored page gives zeros. */
int fg_phys_write(fg_forge *f, uint64_t pa, const void *data, size_t len);
int fg_phys_read(const fg_forge *f, uint64_t pa, void *buf, size_t len);
/* 1 if the page is stored in the forge. */
int fg_page_stored(const fg_forge *f, uint64_t pfn);
/* Number of stored pages (written, allocated and page tables). */
uint64_t fg_stored_pages(const fg_forge *f);

/* ---- address spaces --------------------------------------------------- */

typedef enum fg_page_size {
	FG_PAGE_4K = 0,
	FG_PAGE_2M = 1, /* x64 and PAE */
	FG_PAGE_4M = 2, /* x86 non-PAE */
	FG_PAGE_1G = 3  /* x64 */
} fg_page_size;

enum fg_map_flags {
	/* Write the final PTE as a transition PTE: valid 0, transition (bit 11)
	 * 1, prototype (bit 10) 0, PFN kept: the page is still in RAM. 4K only. */
	FG_MAP_TRANSITION = 1u << 0,
	/* Write an invalid, non-transition PTE (a pagefile PTE whose offset is
	 * pa >> 12, or 1 if that is 0): the page is paged out. */
	FG_MAP_NOT_PRESENT = 1u << 1,
	/* Set the no-execute bit 63 (x64 and PAE only). */
	FG_MAP_NX = 1u << 2,
	/* Read-only: clear the write bit. */
	FG_MAP_READONLY = 1u << 3
};

/* The kernel address space's CR3 value. */
uint64_t fg_kernel_dtb(const fg_forge *f);
/* A new address space whose kernel half (x64 VAs >= 0xFFFF800000000000,
 * x86 VAs >= 0x80000000) is the kernel's: later kernel mappings made through
 * any address space are seen by all. Returns its CR3, 0 on failure. */
uint64_t fg_new_dtb(fg_forge *f);

/* Map the page of the given size at va to pa (both aligned to the size).
 * Tables are allocated on demand. An existing entry of the same size is
 * replaced; a mapping that would cut a large page or a table fails.
 * x64 VAs must be canonical (48-bit); x86 VAs below 4 GiB; x86 non-PAE
 * physical addresses below 4 GiB. */
int fg_map(fg_forge *f, uint64_t dtb, uint64_t va, uint64_t pa, fg_page_size size,
           unsigned flags);
/* Map [va, va + len) to [pa, pa + len) with pages of the given size,
 * without storing the data pages: only page tables cost memory. */
int fg_map_linear(fg_forge *f, uint64_t dtb, uint64_t va, uint64_t pa, uint64_t len,
                  fg_page_size size, unsigned flags);
/* Translate as the MMU would, also through transition PTEs.
 * 0 with *pa; -1 if unmapped or paged out (message in fg_error()). */
int fg_translate(fg_forge *f, uint64_t dtb, uint64_t va, uint64_t *pa);

/* Write bytes at a VA (spanning pages). Pages that are not mapped yet are
 * mapped to fresh 4 KiB pages; a page that is mapped not-present fails. */
int fg_write_virtual(fg_forge *f, uint64_t dtb, uint64_t va, const void *data, size_t len);
/* Read bytes at a VA; every page must be mapped (or transition). */
int fg_read_virtual(fg_forge *f, uint64_t dtb, uint64_t va, void *buf, size_t len);

/* Little-endian field writers for building kernel structures. fg_write_ptr
 * writes 8 bytes on x64 and 4 on x86. */
int fg_write_u8(fg_forge *f, uint64_t dtb, uint64_t va, uint8_t v);
int fg_write_u16(fg_forge *f, uint64_t dtb, uint64_t va, uint16_t v);
int fg_write_u32(fg_forge *f, uint64_t dtb, uint64_t va, uint32_t v);
int fg_write_u64(fg_forge *f, uint64_t dtb, uint64_t va, uint64_t v);
int fg_write_ptr(fg_forge *f, uint64_t dtb, uint64_t va, uint64_t v);

/* ---- output ----------------------------------------------------------- */

typedef enum fg_format {
	FG_FMT_FULL = 0,          /* DumpType 1: PhysicalMemoryBlock runs */
	FG_FMT_SUMMARY = 1,       /* DumpType 2: 'SDMP' bitmap */
	FG_FMT_BITMAP_FULL = 2,   /* DumpType 5: 'FDMP' bitmap */
	FG_FMT_BITMAP_KERNEL = 3, /* DumpType 6: 'SDMP' bitmap */
	FG_FMT_RDMP8 = 4,         /* DumpType 8: 'RDMP' PFN ranges */
	FG_FMT_RDMP9 = 5,         /* DumpType 9 */
	FG_FMT_RDMPA = 6          /* DumpType 0xA: adds NumberOfRanges, TotalNumberOfPages */
} fg_format;

typedef enum fg_header_width {
	FG_HDR_AUTO = 0, /* 64-bit for x64, 32-bit for x86 */
	FG_HDR_32 = 1,   /* 'PAGEDUMP', 0x1000 bytes */
	FG_HDR_64 = 2    /* 'PAGEDU64', 0x2000 bytes */
} fg_header_width;

/*
 * Output options (FG_WRITE_OPTS_INIT: a full dump of all RAM).
 *
 * Layouts, with H the header size:
 * - FULL: pages of all runs back to back from H.
 * - SUMMARY / BITMAP_*: bitmap header at H ('SDMP' for 2 and 6, 'FDMP' for
 *   5; FirstPage @+0x20, TotalPresentPages @+0x28, Pages @+0x30, bitmap
 *   @+0x38); present pages in PFN order from FirstPage, which is page
 *   aligned. The same layout is written under 32-bit headers.
 * - RDMP*: 64-bit header only (fg_write_* fails with a 32-bit header). At
 *   0x2000: u32 0x40, 'RDMP', 'DUMP', u32 0, u64 MetadataSize @0x2010, u64
 *   FirstPageOffset @0x2018; @0x2020 u32 NumberOfRanges, u32 0, @0x2028 u64
 *   TotalNumberOfPages (type 0xA; zeros for 8 and 9); ranges {u64 Pfn, u64
 *   Count} from 0x2030; present pages packed from FirstPageOffset.
 *   FirstPageOffset = 0x2030 + 16 * ranges (MetadataSize = FirstPageOffset -
 *   0x2020, so MetadataSize - 0x20 == FirstPageOffset - 0x2040), or the next
 *   page boundary with rdmp_page_align (the gap holds {0, 0} ranges).
 * The header's PhysicalMemoryBlock always holds the runs (at most 42 with a
 * 64-bit header, 86 with a 32-bit one; more fails for FULL and leaves the
 * block as fill for the other formats).
 */
typedef struct fg_write_opts {
	fg_format format;
	fg_header_width header;
	/* Bitmap and RDMP formats: only pages stored in the forge (and inside a
	 * run) are present, as in a kernel dump; else every RAM page is. */
	int kernel_only;
	/* Bitmap formats: number of bits (Pages); 0: one past the last run. PFNs
	 * at or above it are left out. */
	uint64_t bitmap_bits;
	/* Cut the output to this many bytes (0: no cut). */
	uint64_t truncate_to;
	/* RDMP: align FirstPageOffset to a page boundary. */
	int rdmp_page_align;
} fg_write_opts;

#define FG_WRITE_OPTS_INIT { FG_FMT_FULL, FG_HDR_AUTO, 0, 0, 0, 0 }

/* Write the dump (opts NULL: defaults). The file is created or replaced,
 * and sparse. */
int fg_write_file(fg_forge *f, const char *path, const fg_write_opts *opts);
/* Write the dump to a malloc'd buffer (free() it). Meant for small dumps:
 * the whole dump is allocated. */
int fg_write_memory(fg_forge *f, uint8_t **out, size_t *out_len, const fg_write_opts *opts);

/* Byte offsets of the dump layout written for these options: header size,
 * offset of the first page, and the file offset of PFN pfn's page
 * (*page_off = 0 if the page is not in the dump). For tests that patch or
 * cut files at precise places. */
typedef struct fg_layout {
	uint64_t header_size;
	uint64_t first_page;     /* offset of the first stored page */
	uint64_t present_pages;  /* pages in the dump */
	uint64_t file_size;      /* before truncation */
} fg_layout;
int fg_layout_of(fg_forge *f, const fg_write_opts *opts, fg_layout *out);
int fg_page_offset(fg_forge *f, const fg_write_opts *opts, uint64_t pfn, uint64_t *page_off);

/* ---- byte helpers for tests that patch dumps -------------------------- */

static inline void fg_put_le32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static inline void fg_put_le64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static inline uint32_t fg_get_le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static inline uint64_t fg_get_le64(const uint8_t *p)
{
	return (uint64_t)fg_get_le32(p) | (uint64_t)fg_get_le32(p + 4) << 32;
}

#ifdef __cplusplus
}
#endif

#endif /* KHANG_FORGE_H */

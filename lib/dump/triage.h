/*
 * Triage (small) kernel dumps, DumpType 4 (internal).
 *
 * A triage dump holds no page tables and no physical memory: after the
 * header comes a TRIAGE_DUMP header (at 0x2000 on x64, 0x1000 on x86) with
 * file offsets of copies of the crashing processor's KPRCB, the current
 * ETHREAD and EPROCESS, the current thread's stack (from TopOfStack), the
 * KDBG block, the driver list with its string pool, unloaded drivers, and
 * "data blocks": {u64 VA, u32 file offset, u32 size} ranges of extra memory.
 * The library presents all of these as one virtual address space: copies
 * first, then the data blocks (sorted, binary search). Everything else reads
 * as KHANG_ENOTPRESENT.
 *
 * TRIAGE_DUMP64 offsets were checked against a real Windows 10 dump
 * (../shared/realdumps/triage_x64.dmp); TRIAGE_DUMP32 follows the public
 * structure definitions and is not yet checked against a real x86 dump.
 */
#ifndef KH_TRIAGE_H
#define KH_TRIAGE_H

#include "source_int.h"

#define KH_TRIAGE_MAX_COPIES 8

typedef struct kh_triage_region {
	uint64_t va;
	uint64_t len;
	uint64_t off;   /* file offset */
} kh_triage_region;

enum kh_triage_copy {
	KH_TRIAGE_PRCB = 0,
	KH_TRIAGE_THREAD,
	KH_TRIAGE_PROCESS,
	KH_TRIAGE_STACK,
	KH_TRIAGE_KDBG,
	KH_TRIAGE_DATAPAGE,
	KH_TRIAGE_NCOPIES
};

typedef struct kh_triage {
	uint64_t header_off;          /* 0x2000 or 0x1000 */
	uint32_t size_of_dump;
	uint32_t valid_offset;
	uint32_t context_off, exception_off, mm_off, unloaded_off;
	uint32_t prcb_off, process_off, thread_off;
	uint32_t stack_off, stack_size;
	uint32_t driver_list_off, driver_count, driver_stride;
	uint32_t string_pool_off, string_pool_size;
	uint32_t triage_options;
	uint64_t top_of_stack;
	uint32_t kdbg_off, kdbg_size;
	uint32_t blocks_off, blocks_count;
	uint32_t processor;           /* the crashing processor (KPRCB.Number) */
	/* copies of the header, by kh_triage_copy; len 0 = not placed */
	kh_triage_region copies[KH_TRIAGE_NCOPIES];
	uint32_t copy_size[KH_TRIAGE_NCOPIES]; /* bytes available in the file */
	/* data blocks sorted by VA */
	kh_triage_region *blocks;
	size_t nblocks;
	uint64_t max_block_len;
} kh_triage;

/* Parse the triage header (called while opening a DumpType 4 dump). */
int kh_triage_parse(khang_source *src);
void kh_triage_free(khang_source *src);

/* Read virtual memory from the copies and data blocks. */
int kh_triage_read(khang_source *src, uint64_t va, void *buf, size_t len);

/* Give a copy its virtual address once a layer above knows it (the
 * process copy: the thread's Process pointer needs the layout). */
void kh_triage_place(khang_source *src, enum kh_triage_copy which, uint64_t va);

/* A driver list entry (i < driver_count): name from the string pool,
 * base, size, timestamp. */
int kh_triage_driver(khang_source *src, uint32_t i, char *name, size_t cap, uint64_t *base, uint32_t *size,
                     uint32_t *timestamp);

/* Unloaded drivers recorded in the triage dump: the number of entries the
 * file holds (0 when there is no section), and entry i (name in UTF-8 with
 * non-ASCII characters as '?', start and end VA). The section is a count
 * (8 bytes on x64, 4 on x86) followed by DUMP_UNLOADED_DRIVERS entries:
 * a UNICODE_STRING whose Length gives the name's length, the name itself
 * (at most 12 UTF-16 characters, truncated), start and end addresses. */
uint32_t kh_triage_unloaded_count(khang_source *src);
int kh_triage_unloaded(khang_source *src, uint32_t i, char *name, size_t cap, uint64_t *start, uint64_t *end);

#endif /* KH_TRIAGE_H */

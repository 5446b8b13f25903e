/*
 * fg_triage: writes a triage (small) dump, DumpType 4, from a forge's
 * memory: the main header as the forge writes it, then a TRIAGE_DUMP header
 * (x64 at 0x2000, x86 at 0x1000), copies of the KPRCB, process and thread,
 * the stack from TopOfStack, the KDBG block, a driver list with its string
 * pool, the data blocks (ranges of virtual memory copied from the forge),
 * and the 'TRGD' marker at ValidOffset. Layout of the structures: see
 * docs/formats.md.
 */
#ifndef FG_TRIAGE_H
#define FG_TRIAGE_H

#include <stddef.h>
#include <stdint.h>

#include "forge.h"

typedef struct fg_triage_range {
	uint64_t va;
	uint32_t size;
} fg_triage_range;

typedef struct fg_triage_driver {
	const char *path;     /* "\\SystemRoot\\system32\\ntoskrnl.exe" */
	uint64_t base;
	uint32_t size;
	uint32_t timestamp;
} fg_triage_driver;

typedef struct fg_triage_opts {
	fg_triage_range prcb;      /* the crashing processor's KPRCB */
	fg_triage_range process;   /* current EPROCESS */
	fg_triage_range thread;    /* current ETHREAD */
	fg_triage_range stack;     /* va = TopOfStack */
	fg_triage_range kdbg;      /* the KDBG block (va = header KdDebuggerDataBlock) */
	const fg_triage_range *blocks;
	size_t nblocks;
	const fg_triage_driver *drivers;
	size_t ndrivers;
	/* unloaded drivers: path is the name (12 characters kept), base and
	 * base + size the range; timestamp unused */
	const fg_triage_driver *unloaded;
	size_t nunloaded;
} fg_triage_opts;

/* Build the dump in a malloc'd buffer. Ranges are read from the kernel
 * address space of f (unmapped bytes are written as zeros). */
int fg_triage_write(fg_forge *f, const fg_triage_opts *o, uint8_t **out, size_t *out_len);

#endif /* FG_TRIAGE_H */

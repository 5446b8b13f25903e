/*
 * Shared by the benchmarks: the large test system (a Windows 10 2004 x64
 * kernel with 64 processors, 2,000 processes and 40,000 threads: 20 per
 * process, most waiting on one or two dispatcher objects, one in ten on
 * five objects held in an array of their own, one in twenty ready on a
 * processor's queue), clocks, and allocation accounting through the
 * library's allocation hooks.
 */
#ifndef BENCH_SYSTEM_H
#define BENCH_SYSTEM_H

#include <stddef.h>
#include <stdint.h>

#include "khang.h"
#include "forge.h"

#define BENCH_NCPUS 64
#define BENCH_NPROCS 2000
#define BENCH_THREADS_PER_PROC 20

/* The system in a forge of ram_pages pages (sparse); free with fg_free(). */
fg_forge *bench_system_new(uint64_t ram_pages);

double bench_now(void);
/* Peak resident set (VmHWM) in KiB, -1 if unknown. */
long bench_peak_rss_kib(void);

typedef struct bench_counter {
	size_t live, peak, calls;
} bench_counter;
/* Allocation hooks that count live and peak bytes into c. */
void bench_counter_hooks(bench_counter *c, khang_allocator *hooks);

#endif /* BENCH_SYSTEM_H */

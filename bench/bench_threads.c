/*
 * bench_threads: what walking every thread costs.
 *
 * A Windows 10 2004 x64 kernel with 64 processors, 2,000 processes and
 * 40,000 threads (20 per process; most waiting on one or two dispatcher
 * objects, one in ten on five objects held in an array of their own, one in
 * twenty ready on a processor's queue), written by the forge as a bitmap
 * kernel dump held in memory.
 *
 * Measured:
 * 1. open + kernel discovery;
 * 2. the first walk over all threads with every accessor, the owning
 *    process, and every wait object (this reads the process and thread
 *    lists and the structures), then the same walk again (cached);
 * 3. processors and ready queues;
 * 4. the library's peak heap (through the allocation hooks), and the
 *    process's peak resident set (which includes the forge and the dump).
 * Target (issue 4): the first walk under 200 ms and under 64 MiB.
 *
 * usage: bench_threads
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "khang.h"
#include "bench_system.h"

#define NCPUS BENCH_NCPUS
#define NPROCS BENCH_NPROCS
#define THREADS_PER_PROC BENCH_THREADS_PER_PROC

/* ---- the walk ---------------------------------------------------------------------- */

typedef struct sums {
	uint64_t threads, waits, mutant_owners, skipped, x;
} sums;

static int walk_threads(khang_source *src, sums *s)
{
	khang_thread_iter *it;
	const khang_thread *t;
	memset(s, 0, sizeof(*s));
	if (khang_thread_iter_new(&it, src, NULL) != 0)
		return -1;
	while (khang_thread_next(&t, it) == 0) {
		const khang_process *p;
		s->threads++;
		if (khang_thread_process(&p, t) == 0)
			s->x += (uint64_t)khang_process_pid(p) + strlen(khang_process_name(p));
		s->x += (uint64_t)khang_thread_tid(t) + (uint64_t)khang_thread_pid(t) + khang_thread_address(t);
		s->x += (uint64_t)khang_thread_state(t) + strlen(khang_thread_state_name(t));
		s->x += (uint64_t)khang_thread_wait_reason(t) + strlen(khang_thread_wait_reason_name(t));
		s->x += (uint64_t)khang_thread_wait_mode(t) + (uint64_t)khang_thread_wait_irql(t);
		s->x += (uint64_t)khang_thread_wait_ms(t) + (uint64_t)khang_thread_wait_tick(t);
		s->x += (uint64_t)khang_thread_priority(t) + (uint64_t)khang_thread_base_priority(t);
		s->x += (uint64_t)khang_thread_processor(t) + (uint64_t)khang_thread_ideal_processor(t);
		s->x += (uint64_t)khang_thread_context_switches(t) + (uint64_t)khang_thread_kernel_ms(t);
		s->x += (uint64_t)khang_thread_user_ms(t) + (uint64_t)khang_thread_alertable(t);
		s->x += (uint64_t)khang_thread_suspend_count(t) + (uint64_t)khang_thread_is_gui(t);
		s->x += khang_thread_start_address(t) + khang_thread_win32_start_address(t) + khang_thread_teb(t);
		s->x += khang_thread_stack_init(t) + khang_thread_stack_base(t) + khang_thread_stack_limit(t);
		s->x += khang_thread_kernel_stack(t) + khang_thread_create_time(t) + khang_thread_win32_thread(t);
		s->x += (uint64_t)khang_thread_is_system(t) + (uint64_t)khang_thread_is_terminated(t);
		const uint64_t *irps;
		size_t ni;
		if (khang_thread_irps(&irps, &ni, t) == 0)
			s->x += ni;
		int n = khang_thread_wait_count(t);
		for (int i = 0; i < n; i++) {
			khang_wait_object w = KHANG_WAIT_OBJECT_INIT;
			if (khang_thread_wait_object(&w, t, (size_t)i) != 0)
				continue;
			s->waits++;
			s->x += w.object + (uint64_t)w.type + (uint64_t)w.signal_state;
			if (w.owner)
				s->mutant_owners++;
		}
	}
	s->skipped = khang_thread_iter_skipped(it);
	khang_thread_iter_free(it);
	return 0;
}

int main(void)
{
	uint8_t *dump;
	size_t len;
	double build_s;
	printf("bench_threads: %d CPUs, %d processes, %d threads (x64, Windows 10 2004)\n", NCPUS, NPROCS,
	       NPROCS * THREADS_PER_PROC);
	double tb = bench_now();
	fg_forge *f = bench_system_new(1u << 18); /* 1 GiB of RAM */
	fg_write_opts wo = FG_WRITE_OPTS_INIT;
	wo.format = FG_FMT_BITMAP_KERNEL;
	wo.kernel_only = 1;
	if (!f || fg_write_memory(f, &dump, &len, &wo) != 0) {
		fprintf(stderr, "cannot build the dump\n");
		return 1;
	}
	fg_free(f);
	build_s = bench_now() - tb;
	printf("  dump: %.1f MiB, built in %.2f s (not measured)\n", (double)len / (1 << 20), build_s);

	bench_counter c;
	khang_allocator hooks;
	bench_counter_hooks(&c, &hooks);
	khang_source_opts so = KHANG_SOURCE_OPTS_INIT;
	so.allocator = &hooks;
	khang_source *src;
	khang_kernel_info ki = KHANG_KERNEL_INFO_INIT;
	double t0 = bench_now();
	if (khang_source_open_memory(&src, dump, len, &so) != 0 || khang_source_kernel_info(&ki, src) != 0) {
		fprintf(stderr, "open: %s\n", khang_error_last());
		return 1;
	}
	double open_s = bench_now() - t0;
	size_t heap0 = c.live;

	sums s1, s2;
	t0 = bench_now();
	if (walk_threads(src, &s1) != 0) {
		fprintf(stderr, "walk: %s\n", khang_error_last());
		return 1;
	}
	double walk1 = bench_now() - t0;
	t0 = bench_now();
	walk_threads(src, &s2);
	double walk2 = bench_now() - t0;

	t0 = bench_now();
	khang_processor_iter *pi;
	const khang_processor *p;
	unsigned ncpu = 0, busy = 0;
	if (khang_processor_iter_new(&pi, src) == 0) {
		while (khang_processor_next(&p, pi) == 0) {
			const khang_thread *t;
			ncpu++;
			if (khang_processor_thread(&t, p, KHANG_PROCESSOR_CURRENT) == 0 && khang_processor_is_idle(p) == 0)
				busy++;
		}
		khang_processor_iter_free(pi);
	}
	khang_ready_iter *ri;
	unsigned nready = 0;
	if (khang_ready_iter_new(&ri, src, NULL) == 0) {
		khang_ready_entry e = KHANG_READY_ENTRY_INIT;
		while (khang_ready_next(&e, ri) == 0)
			nready++;
		khang_ready_iter_free(ri);
	}
	double cpu_s = bench_now() - t0;

	printf("  open + kernel discovery:         %8.2f ms\n", open_s * 1e3);
	printf("  first walk, all threads:         %8.2f ms  (%" PRIu64 " threads, %" PRIu64 " wait objects, %" PRIu64
	       " mutant owners, %" PRIu64 " skipped)\n",
	       walk1 * 1e3, s1.threads, s1.waits, s1.mutant_owners, s1.skipped);
	printf("  second walk (cached):            %8.2f ms\n", walk2 * 1e3);
	printf("  processors and ready queues:     %8.2f ms  (%u CPUs, %u ready threads)\n", cpu_s * 1e3, ncpu, nready);
	printf("  library heap: peak %.1f MiB (%.1f MiB after open), %zu allocations\n", (double)c.peak / (1 << 20),
	       (double)heap0 / (1 << 20), c.calls);
	printf("  process peak resident set: %.1f MiB (the forge and the %.1f MiB dump included)\n",
	       (double)bench_peak_rss_kib() / 1024, (double)len / (1 << 20));
	printf("  per thread: %.2f us, %.0f bytes of heap\n", walk1 * 1e6 / (double)(s1.threads ? s1.threads : 1),
	       (double)(c.peak - heap0) / (double)(s1.threads ? s1.threads : 1));
	printf("  target: first walk < 200 ms: %s; peak heap < 64 MiB: %s\n", walk1 < 0.2 ? "yes" : "NO",
	       c.peak < (64u << 20) ? "yes" : "NO");
	if (s1.x != s2.x || s1.threads != s2.threads)
		printf("  (the second walk differs!)\n");
	khang_source_free(src);
	free(dump);
	return 0;
}

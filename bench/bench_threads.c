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
#include "fg_kernel.h"

#define NCPUS 64
#define NPROCS 2000
#define THREADS_PER_PROC 20
#define NOBJECTS 64

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* Peak resident set (VmHWM) in KiB, -1 if unknown. */
static long peak_rss_kib(void)
{
	char line[256];
	long v = -1;
	FILE *f = fopen("/proc/self/status", "r");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "VmHWM: %ld", &v) == 1)
			break;
	fclose(f);
	return v;
}

/* ---- allocation accounting ------------------------------------------------------ */

typedef struct counter {
	size_t live, peak, calls;
} counter;

/* a size header in front of each block */
#define HDR 16

static void *c_malloc(size_t size, void *payload)
{
	counter *c = payload;
	uint8_t *p = malloc(size + HDR);
	if (!p)
		return NULL;
	memcpy(p, &size, sizeof(size));
	c->live += size;
	c->calls++;
	if (c->live > c->peak)
		c->peak = c->live;
	return p + HDR;
}

static void c_free(void *ptr, void *payload)
{
	counter *c = payload;
	if (!ptr)
		return;
	uint8_t *p = (uint8_t *)ptr - HDR;
	size_t size;
	memcpy(&size, p, sizeof(size));
	c->live -= size;
	free(p);
}

static void *c_realloc(void *ptr, size_t size, void *payload)
{
	counter *c = payload;
	if (!ptr)
		return c_malloc(size, payload);
	uint8_t *p = (uint8_t *)ptr - HDR;
	size_t old;
	memcpy(&old, p, sizeof(old));
	uint8_t *n = realloc(p, size + HDR);
	if (!n)
		return NULL;
	memcpy(n, &size, sizeof(size));
	c->live = c->live - old + size;
	c->calls++;
	if (c->live > c->peak)
		c->peak = c->live;
	return n + HDR;
}

/* ---- the dump ------------------------------------------------------------------------ */

static int build(uint8_t **out, size_t *len, double *secs)
{
	double t0 = now_s();
	const kh_layout *l = kh_layout_builtin_by_guid_string("5278AFF86C341677D7D7835C85B7B844", 1);
	if (!l)
		return -1;
	fg_forge *f = fg_new(FG_X64, 1u << 18); /* 1 GiB of RAM, sparse */
	fg_kernel_opts o = { 0 };
	o.ncpus = NCPUS;
	fg_kernel *k = fg_kernel_new(f, l, &o);
	if (!k)
		return -1;
	static const char *const kinds[] = { "EventSynchronizationObject", "EventNotificationObject", "MutantObject",
		                             "SemaphoreObject", "QueueObject", "TimerNotificationObject" };
	uint64_t objects[NOBJECTS];
	for (int i = 0; i < NOBJECTS; i++)
		objects[i] = fg_kernel_add_object(k, kinds[i % 6], 0);
	uint64_t first_thread = 0;
	for (uint32_t p = 0; p < NPROCS; p++) {
		char name[16];
		snprintf(name, sizeof(name), "proc%04u.exe", p);
		uint64_t proc = fg_kernel_add_process(k, name, 0x100 + 4 * p, 4);
		for (uint32_t t = 0; t < THREADS_PER_PROC; t++) {
			uint32_t n = p * THREADS_PER_PROC + t;
			uint64_t thr = fg_kernel_add_thread(k, proc, 0x10000 + 4 * n);
			if (!first_thread)
				first_thread = thr;
			fg_kernel_set(k, thr, KH_F_KTHREAD_WaitTime, 100000 - n % 5000);
			fg_kernel_set(k, thr, KH_F_KTHREAD_Priority, 8 + n % 4);
			fg_kernel_set(k, thr, KH_F_KTHREAD_Teb, 0x7ff600000000ull + 0x2000ull * n);
			if (n % 20 == 19) {
				fg_kernel_ready_thread(k, (int)(n % NCPUS), thr, 8 + n % 4);
				continue;
			}
			uint64_t w[5];
			unsigned cnt = n % 10 == 0 ? 5 : 1 + n % 2;
			for (unsigned i = 0; i < cnt; i++)
				w[i] = objects[(n + 7 * i) % NOBJECTS];
			fg_kernel_thread_wait(k, thr, w, cnt, cnt > 1);
			fg_kernel_set(k, thr, KH_F_KTHREAD_WaitReason, n % 2 ? 6 : 13);
		}
	}
	/* mutants owned by threads */
	for (int i = 2; i < NOBJECTS; i += 6)
		fg_kernel_set(k, objects[i], KH_F_KMUTANT_OwnerThread, first_thread);
	fg_write_opts wo = FG_WRITE_OPTS_INIT;
	wo.format = FG_FMT_BITMAP_KERNEL;
	wo.kernel_only = 1;
	int rc = fg_write_memory(f, out, len, &wo);
	if (rc)
		fprintf(stderr, "forge: %s\n", fg_error(f));
	fg_kernel_free(k);
	fg_free(f);
	*secs = now_s() - t0;
	return rc;
}

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
	if (build(&dump, &len, &build_s) != 0) {
		fprintf(stderr, "cannot build the dump\n");
		return 1;
	}
	printf("  dump: %.1f MiB, built in %.2f s (not measured)\n", (double)len / (1 << 20), build_s);

	counter c = { 0, 0, 0 };
	khang_allocator hooks = { c_malloc, c_realloc, c_free, &c };
	khang_source_opts so = KHANG_SOURCE_OPTS_INIT;
	so.allocator = &hooks;
	khang_source *src;
	khang_kernel_info ki = KHANG_KERNEL_INFO_INIT;
	double t0 = now_s();
	if (khang_source_open_memory(&src, dump, len, &so) != 0 || khang_source_kernel_info(&ki, src) != 0) {
		fprintf(stderr, "open: %s\n", khang_error_last());
		return 1;
	}
	double open_s = now_s() - t0;
	size_t heap0 = c.live;

	sums s1, s2;
	t0 = now_s();
	if (walk_threads(src, &s1) != 0) {
		fprintf(stderr, "walk: %s\n", khang_error_last());
		return 1;
	}
	double walk1 = now_s() - t0;
	t0 = now_s();
	walk_threads(src, &s2);
	double walk2 = now_s() - t0;

	t0 = now_s();
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
	double cpu_s = now_s() - t0;

	printf("  open + kernel discovery:         %8.2f ms\n", open_s * 1e3);
	printf("  first walk, all threads:         %8.2f ms  (%" PRIu64 " threads, %" PRIu64 " wait objects, %" PRIu64
	       " mutant owners, %" PRIu64 " skipped)\n",
	       walk1 * 1e3, s1.threads, s1.waits, s1.mutant_owners, s1.skipped);
	printf("  second walk (cached):            %8.2f ms\n", walk2 * 1e3);
	printf("  processors and ready queues:     %8.2f ms  (%u CPUs, %u ready threads)\n", cpu_s * 1e3, ncpu, nready);
	printf("  library heap: peak %.1f MiB (%.1f MiB after open), %zu allocations\n", (double)c.peak / (1 << 20),
	       (double)heap0 / (1 << 20), c.calls);
	printf("  process peak resident set: %.1f MiB (the forge and the %.1f MiB dump included)\n",
	       (double)peak_rss_kib() / 1024, (double)len / (1 << 20));
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

/* The benchmarks' shared system builder, clocks and allocation counter. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench_system.h"
#include "fg_kernel.h"

#define NCPUS BENCH_NCPUS
#define NPROCS BENCH_NPROCS
#define THREADS_PER_PROC BENCH_THREADS_PER_PROC
#define NOBJECTS 64

double bench_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* Peak resident set (VmHWM) in KiB, -1 if unknown. */
long bench_peak_rss_kib(void)
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

/* a size header in front of each block */
#define HDR 16

static void *c_malloc(size_t size, void *payload)
{
	bench_counter *c = payload;
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
	bench_counter *c = payload;
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
	bench_counter *c = payload;
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

fg_forge *bench_system_new(uint64_t ram_pages)
{
	const kh_layout *l = kh_layout_builtin_by_guid_string("5278AFF86C341677D7D7835C85B7B844", 1);
	if (!l)
		return NULL;
	fg_forge *f = fg_new(FG_X64, ram_pages); /* sparse */
	if (!f)
		return NULL;
	fg_kernel_opts o = { 0 };
	o.ncpus = NCPUS;
	fg_kernel *k = fg_kernel_new(f, l, &o);
	if (!k) {
		fg_free(f);
		return NULL;
	}
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
	fg_kernel_free(k);
	return f;
}

void bench_counter_hooks(bench_counter *c, khang_allocator *hooks)
{
	memset(c, 0, sizeof(*c));
	hooks->malloc_fn = c_malloc;
	hooks->realloc_fn = c_realloc;
	hooks->free_fn = c_free;
	hooks->payload = c;
}


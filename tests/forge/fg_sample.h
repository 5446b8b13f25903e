/*
 * fg_sample: a small, deterministic kernel built with fg_kernel for the
 * object layer's tests, the CLI's golden outputs and the fuzz_walk corpus,
 * with a record of everything written so tests can check every accessor
 * against it.
 *
 * The machine (the same layout on every build, adapted to what the build's
 * structures have):
 * - ncpus processors (2..8) with MHz, vendor, CPU id, counters, DPC depths,
 *   IRQL and saved special registers; CPU 1 runs a thread, CPU 2 has a next
 *   (standby) thread, the others are idle;
 * - processes System (4), svchost.exe, explorer.exe (GUI, session 1, image
 *   path, handle table) and zombie.exe (exiting);
 * - explorer.exe threads in every _KTHREAD_STATE and every _KWAIT_REASON of
 *   the build, waits on every dispatcher type (one thread waits on ten
 *   objects, beyond KTHREAD.WaitBlock), a mutant owned by a svchost thread, a
 *   thread and a process object, ready threads on two processors and on the
 *   shared ready queue (builds that have one), two IRPs, and a main thread
 *   that is not the first on the list.
 * Tick count 100000, 15.625 ms per tick.
 */
#ifndef FG_SAMPLE_H
#define FG_SAMPLE_H

#include "fg_kernel.h"

#define FG_SAMPLE_MAX_THREADS 160
#define FG_SAMPLE_MAX_OBJECTS 16
#define FG_SAMPLE_TICK_COUNT 100000u

typedef struct fg_sample_thread {
	uint64_t va;
	uint64_t process;          /* EPROCESS */
	uint32_t pid, tid;
	unsigned state, wait_reason, wait_mode;
	uint32_t wait_time;        /* tick when the wait began */
	unsigned priority, base_priority;
	uint64_t teb, win32thread, start, win32start;
	uint64_t stack_init, stack_base, stack_limit, kernel_stack;
	uint64_t create_time;
	uint32_t kernel_ticks, user_ticks, context_switches;
	unsigned suspend_count, alertable, terminated;
	uint32_t processor, ideal;
	unsigned nobjects;         /* wait objects, for waiting threads */
	uint64_t objects[16];
	unsigned wait_type;        /* 0 WaitAll, 1 WaitAny */
	uint64_t first_block;
	int ready;                 /* -2 not ready, -1 shared queue, else the processor */
	unsigned nirps;
	uint64_t irps[2];
} fg_sample_thread;

typedef struct fg_sample_process {
	uint64_t va;
	uint32_t pid, ppid;
	const char *name;
	const char *path;          /* NULL: none */
	int session;               /* -1: none */
	uint64_t create_time, exit_time, peb;
	uint32_t handles;          /* 0: no handle table */
	int exiting, gui;
	int base_priority;
	unsigned first_thread, nthreads; /* in threads[] */
} fg_sample_process;

typedef struct fg_sample_object {
	uint64_t va;
	const char *kobject;       /* _KOBJECTS name; "ThreadObject"/"ProcessObject" for those */
	int32_t signal;
	uint64_t owner;            /* mutant owner thread */
} fg_sample_object;

typedef struct fg_sample_cpu {
	uint64_t kpcr, kprcb, current, next, idle;
	unsigned irql;
	uint32_t mhz, family, model, stepping;
	uint64_t features;
	uint32_t interrupts, ticks[4];  /* kernel, user, dpc, interrupt */
	uint32_t dpc, tdpc;
	uint64_t cr0, cr3, cr4, gdtr_base, idtr_base, lstar;
	uint16_t gdtr_limit, idtr_limit;
} fg_sample_cpu;

typedef struct fg_sample {
	fg_forge *f;
	fg_kernel *k;
	const kh_layout *l;
	bool x86;
	unsigned ncpus;
	fg_sample_cpu cpus[8];
	fg_sample_process procs[8];   /* in active list order (System first) */
	unsigned nprocs;
	fg_sample_thread threads[FG_SAMPLE_MAX_THREADS]; /* process by process, list order */
	unsigned nthreads;
	fg_sample_object objects[FG_SAMPLE_MAX_OBJECTS];
	unsigned nobjects;
	unsigned explorer;            /* index in procs */
	unsigned main_thread;         /* explorer's earliest created thread */
	unsigned all_types_waiter;    /* waits on ten objects */
	unsigned irp_thread;
	unsigned running;             /* CPU 1's current thread */
	unsigned standby;             /* CPU 2's next thread */
	unsigned nready;              /* threads in ready queues */
	uint64_t shared_queue;        /* 0 when the build has none */
} fg_sample;

/* Build the sample for a layout (x64 or x86; the forge's arch follows the
 * layout). Aborts on failure (test code). */
fg_sample *fg_sample_new(const kh_layout *l, unsigned ncpus);
void fg_sample_free(fg_sample *s);
/* Write the dump (fmt: FG_FMT_FULL, FG_FMT_BITMAP_KERNEL...). 0 or -1. */
int fg_sample_write(fg_sample *s, fg_format fmt, uint8_t **out, size_t *len);
int fg_sample_write_file(fg_sample *s, fg_format fmt, const char *path);
/* Index of a thread by address, or -1. */
int fg_sample_thread_index(const fg_sample *s, uint64_t va);
/* File offset of the first memory page of the dump fg_sample_write writes. */
int fg_sample_first_page(fg_sample *s, fg_format fmt, uint64_t *out);
/* File offset of the byte at kernel VA va in that dump, or -1 (unmapped,
 * or the page is not in the dump). */
int64_t fg_sample_file_offset(fg_sample *s, fg_format fmt, uint64_t va);

/* The base dumps of fuzz/fuzz_walk (and its corpus, tests/forge/mk_walk_corpus.c):
 * 0 x64 Windows 10 2004 (by GUID), 1 x64 Windows 7 SP1, 2 x86 PAE Windows 7,
 * 3 x86 non-PAE Windows 7; four processors, with fg_sample_add_irp(); written
 * as FG_WALK_FORMAT. */
#define FG_WALK_BASES 4
#define FG_WALK_FORMAT FG_FMT_BITMAP_KERNEL
fg_sample *fg_sample_walk_base(int index);

/* A third IRP on the thread that has two: an IRP_MJ_READ sent to
 * partmgr.sys's device (location 3, the top of the stack) and passed down
 * to disk.sys's (location 2 of 3, current); location 1 is still unused.
 * Made after everything else, so no other object moves; not recorded in the
 * thread's irps[]. Returns s. */
fg_sample *fg_sample_add_irp(fg_sample *s);

#endif /* FG_SAMPLE_H */

/*
 * The object layer (internal): processors, processes, threads, wait blocks
 * and ready queues, read from the dump with the kernel's layout.
 *
 * Everything is read once, on first need, and cached per source in a
 * kh_objects hung off src->objects (released by src->objects_free when the
 * source is freed). Handles given to callers point into these caches and
 * never move:
 * - processors: one array, one slot per processor the kernel declares
 *   (slots that could not be read are marked and skipped);
 * - processes: one array filled from the active process list, allocated
 *   once the list has been walked;
 * - a process's threads: one array per process, allocated once its thread
 *   lists have been walked;
 * - "extra" processes and threads (on no list: the Idle process and idle
 *   threads, objects named by wait blocks) are allocated one by one and kept
 *   in arrays of pointers sorted by address (at most KH_MAX_EXTRAS each).
 * Lookups by address and id use sorted pointer arrays built on first use.
 *
 * Memory is O(processors + processes + threads): a thread costs about 250
 * bytes; the dump is never copied. Every list walk is bounded by
 * src->max_list (and all threads together by KH_THREAD_CAP_FACTOR times
 * that) and cycle-safe.
 *
 * Structures are read with one bounded virtual read per object into a
 * scratch buffer (kh_objbuf) that remembers which pages were readable, so a
 * structure that straddles a missing page still gives the fields of the
 * pages that are there.
 */
#ifndef KH_OBJECTS_H
#define KH_OBJECTS_H

#include "kernel/kernel.h"
#include "khang/process.h"
#include "khang/processor.h"
#include "khang/thread.h"

#define KH_CPU_MAGIC 0x4b484350u    /* 'KHCP' */
#define KH_PROC_MAGIC 0x4b485052u   /* 'KHPR' */
#define KH_THREAD_MAGIC 0x4b485448u /* 'KHTH' */
#define KH_MAX_CPUS 4096u           /* processors read at most */
#define KH_MAX_WAIT_BLOCKS 64u      /* MAXIMUM_WAIT_OBJECTS */
#define KH_MAX_EXTRAS 4096u         /* processes / threads read from an address */
#define KH_OBJBUF_MAX 0x4000u       /* bytes of one structure read at once */
#define KH_THREAD_CAP_FACTOR 8u     /* all threads <= factor * max_list */

struct kh_objects;

struct khang_processor {
	uint32_t magic;
	uint32_t index;
	struct kh_objects *o;
	bool ok;                   /* read; false: skipped */
	int err;                   /* why not (KHANG_ENOTPRESENT / KHANG_ECORRUPT) */
	uint64_t kpcr, kprcb;
	uint64_t current, next, idle;
	uint64_t shared_ready_queue;
	int irql;
	int64_t mhz, family, model, stepping, features, group, group_index;
	int64_t interrupts, ticks[4], dpc_depth, tdpc_depth, ready_summary;
	char vendor[16];
};

/* One decoded wait block. */
typedef struct kh_wait {
	uint64_t block;       /* KWAIT_BLOCK address */
	uint64_t object;
	uint64_t owner;       /* KMUTANT.OwnerThread */
	int32_t signal;
	int32_t wait_key;     /* -1 unknown */
	int16_t raw_type;     /* -1 header unreadable */
	int16_t block_state;  /* -1 unknown */
	int8_t wait_type;     /* -1 unknown */
} kh_wait;

/* Which thread fields were read (bits of khang_thread.have). */
enum kh_thread_have {
	KH_T_STATE = 1u << 0,
	KH_T_WAIT_REASON = 1u << 1,
	KH_T_WAIT_MODE = 1u << 2,
	KH_T_WAIT_IRQL = 1u << 3,
	KH_T_WAIT_TIME = 1u << 4,
	KH_T_PRIORITY = 1u << 5,
	KH_T_BASE_PRIORITY = 1u << 6,
	KH_T_PROCESSOR = 1u << 7,
	KH_T_IDEAL = 1u << 8,
	KH_T_CSWITCH = 1u << 9,
	KH_T_KTIME = 1u << 10,
	KH_T_UTIME = 1u << 11,
	KH_T_ALERTABLE = 1u << 12,
	KH_T_SUSPEND = 1u << 13,
	KH_T_SYSTEM = 1u << 14,
	KH_T_TERMINATED = 1u << 15,
	KH_T_PID = 1u << 16,
	KH_T_TID = 1u << 17,
	KH_T_WIN32THREAD = 1u << 18,
	KH_T_WAIT_BLOCKS = 1u << 19,  /* WaitBlockList (and count on 8+) read */
};

struct khang_thread {
	uint32_t magic;
	uint32_t have;             /* enum kh_thread_have */
	struct kh_objects *o;
	khang_process *process;    /* the owner handle, when known */
	uint64_t va;
	uint64_t process_va;       /* KTHREAD.Process */
	uint64_t pid, tid;
	uint64_t teb, win32thread, start, win32start;
	uint64_t stack_init, stack_base, stack_limit, kernel_stack;
	uint64_t create_time;
	uint64_t wait_block_list;
	uint32_t wait_time, kernel_ticks, user_ticks, context_switches;
	uint32_t processor, ideal;
	uint8_t state, wait_reason, wait_mode, wait_irql;
	uint8_t priority, base_priority, suspend_count, flags; /* flags: bit0 alertable, bit1 system, bit2 terminated */
	uint8_t wait_block_count;
	bool waits_loaded, irps_loaded;
	uint16_t nwaits;
	uint16_t waits_skipped;
	kh_wait *waits;
	uint64_t *irps;
	uint32_t nirps;
};

struct khang_process {
	uint32_t magic;
	uint32_t have;             /* bits below */
	struct kh_objects *o;
	uint64_t va;
	uint64_t pid, ppid;
	uint64_t dtb, peb, create_time, exit_time;
	uint64_t session, object_table, image_name_info;
	int64_t active_threads, base_priority;
	int exiting, gui;          /* -1 unknown */
	char name[16];
	/* read on first use */
	char *image_path;
	bool image_path_tried;
	bool session_tried, handles_tried;
	int64_t session_id, handle_count;
	/* threads */
	bool threads_loaded;
	int threads_status;
	khang_thread *threads;
	size_t nthreads;
	uint32_t threads_skipped;
};

#define KH_P_PID (1u << 0)
#define KH_P_PPID (1u << 1)
#define KH_P_NAME (1u << 2)

/* A structure read into memory, page by page. */
typedef struct kh_objbuf {
	uint64_t va;
	uint32_t len;
	uint64_t valid;            /* bit i: page i of the span was readable */
	uint8_t data[KH_OBJBUF_MAX];
} kh_objbuf;

typedef struct kh_objects {
	khang_source *src;
	kh_kernel *k;
	const kh_layout *l;
	unsigned ps;               /* pointer size */
	uint32_t time_increment;   /* nt!KeTimeIncrement (100 ns), 0 if unknown */
	/* per-build constants */
	int64_t type_thread, type_process, type_mutant;
	int64_t state_waiting, state_ready;
	uint8_t dispatcher[256];   /* DISPATCHER_HEADER.Type -> khang_dispatcher_type */
	/* processors */
	bool cpus_loaded;
	int cpus_status;
	char cpus_msg[200];
	khang_processor *cpus;
	uint32_t ncpus;
	uint32_t cpus_skipped;
	/* processes */
	bool procs_loaded;
	int procs_status;
	char procs_msg[200];
	khang_process *procs;
	size_t nprocs;
	uint32_t procs_skipped;
	khang_process **procs_by_pid;
	khang_process **procs_by_va;
	/* all threads (indexes over the processes' arrays) */
	bool all_threads_loaded;
	khang_thread **threads_by_va;
	khang_thread **threads_by_tid;
	size_t nthreads_all;
	uint64_t threads_total;    /* threads read so far, for the cap */
	uint64_t thread_cap;
	bool cap_warned;
	/* extras, sorted by address */
	khang_process **xprocs;
	size_t nxprocs;
	khang_thread **xthreads;
	size_t nxthreads;
	/* scratch */
	kh_objbuf ob;
} kh_objects;

/* The object cache of a source, created on first use. KHANG_EUNSUPPORTED
 * in limited mode (no layout). */
int kh_objects_get(khang_source *src, kh_objects **out);

/* ---- structure reads (objects.c) ----------------------------------------- */

/* Read len bytes at va into o->ob (capped at KH_OBJBUF_MAX). 0 when at
 * least one page was readable, else KHANG_ENOTPRESENT. */
int kh_objbuf_read(kh_objects *o, uint64_t va, uint32_t len);
/* An integer field of the structure in o->ob, at base (offset of the
 * structure within the buffer) plus the field's offset: 0, KHANG_ENOTFOUND
 * (not in the layout) or KHANG_ENOTPRESENT (its page is missing or it lies
 * past the buffer). No error message is recorded. */
int kh_ob_u64(const kh_objects *o, uint32_t base, kh_field_id id, uint64_t *out);
/* Raw bytes of a field (struct/array kinds too); n <= field size. */
int kh_ob_bytes(const kh_objects *o, uint32_t base, kh_field_id id, void *dst, size_t n);
/* DISPATCHER_HEADER.Type of the object whose header is at base in o->ob. */
int kh_ob_type(const kh_objects *o, uint32_t base, uint64_t *out);
/* Offset of a field or 0 when absent (for embedded structs known to exist). */
uint32_t kh_off(const kh_objects *o, kh_field_id id);

/* true when the LIST_ENTRY at head has both links NULL: a list the kernel
 * never initialised (idle threads' ETHREAD lists), walked as empty. */
bool kh_list_uninitialised(khang_source *src, uint64_t head);

/* ---- loading (process.c, thread.c, processor.c) ----------------------------- */

int kh_load_processors(kh_objects *o);
int kh_load_processes(kh_objects *o);
int kh_load_threads(kh_objects *o, khang_process *p);
int kh_load_all_threads(kh_objects *o);

/* Decode the thread at va into t. expect_process: the owner the thread must
 * name (0: any). Returns 0, KHANG_ENOTPRESENT or KHANG_ECORRUPT with a
 * message. */
int kh_thread_decode(kh_objects *o, uint64_t va, uint64_t expect_process, khang_thread *t);
int kh_process_decode(kh_objects *o, uint64_t va, khang_process *p);

/* Lookups that also read objects from an address (extras). */
int kh_find_thread(kh_objects *o, uint64_t va, khang_thread **out);
int kh_find_process(kh_objects *o, uint64_t va, khang_process **out);

/* Wait blocks (wait.c). */
int kh_thread_load_waits(khang_thread *t);

/* Handle checks at the API boundary. */
static inline bool kh_thread_ok(const khang_thread *t)
{
	return t && t->magic == KH_THREAD_MAGIC;
}
static inline bool kh_process_ok(const khang_process *p)
{
	return p && p->magic == KH_PROC_MAGIC;
}
static inline bool kh_processor_ok(const khang_processor *p)
{
	return p && p->magic == KH_CPU_MAGIC && p->ok;
}

/* Milliseconds since a tick count (-1 when unknown). */
int64_t kh_ticks_since_ms(const kh_objects *o, uint32_t tick);
/* Milliseconds of a tick duration (-1 when unknown). */
int64_t kh_ticks_ms(const kh_objects *o, uint64_t ticks);

#endif /* KH_OBJECTS_H */

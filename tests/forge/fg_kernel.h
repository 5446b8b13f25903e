/*
 * fg_kernel: lays out a Windows kernel in a forge address space, using the
 * field offsets of a kh_layout (the library's generated tables, themselves
 * checked against the ISF files by test_layout): the kernel image with its
 * CodeView record, kernel globals, the KDBG block (optionally encoded as
 * Windows 8+ keeps it in memory), KUSER_SHARED_DATA, one KPCR/KPRCB and idle
 * thread per processor, the System process with a thread, and the loaded
 * module list. Tests add processes, threads and modules on top.
 *
 * This is test code: allocation failures abort.
 */
#ifndef FG_KERNEL_H
#define FG_KERNEL_H

#include <stdbool.h>
#include <stdint.h>

#include "forge.h"
#include "layout/layout.h"

typedef struct fg_kernel fg_kernel;

typedef struct fg_kernel_opts {
	uint32_t ncpus;             /* default 2 */
	uint64_t kernel_base;       /* 0: a default per architecture */
	bool has_guid;              /* write this GUID/age (RSDS order) instead of the layout's */
	uint8_t guid[16];
	uint32_t age;
	bool encode_kdbg;           /* store KDBG encoded with KiWaitNever/KiWaitAlways */
	bool no_kdbg;               /* leave KdDebuggerDataBlock unset in the header */
	uint32_t tick_count;        /* KUSER_SHARED_DATA tick count (default 100000) */
} fg_kernel_opts;

/* Build the kernel into f (whose arch must match the layout's). */
fg_kernel *fg_kernel_new(fg_forge *f, const kh_layout *l, const fg_kernel_opts *opts);
void fg_kernel_free(fg_kernel *k);

uint64_t fg_kernel_base(const fg_kernel *k);
/* Kernel VA of a global (0 if the kernel has none). */
uint64_t fg_kernel_global(const fg_kernel *k, kh_global_id id);
uint64_t fg_kernel_system_process(const fg_kernel *k);
uint64_t fg_kernel_prcb(const fg_kernel *k, uint32_t cpu);
uint64_t fg_kernel_idle_thread(const fg_kernel *k, uint32_t cpu);

/* Zeroed kernel memory (mapped on demand), 16-byte aligned. */
uint64_t fg_kernel_alloc(fg_kernel *k, uint64_t size);
/* Write an integer field (bitfields read-modify-write). Fails (-1) if the
 * layout lacks the field. */
int fg_kernel_set(fg_kernel *k, uint64_t struct_va, kh_field_id id, uint64_t value);
/* Address of a field (0 if absent). */
uint64_t fg_kernel_addr(const fg_kernel *k, uint64_t struct_va, kh_field_id id);
/* Initialise a LIST_ENTRY as empty / insert entry at the tail of head. */
void fg_kernel_list_init(fg_kernel *k, uint64_t head);
void fg_kernel_list_append(fg_kernel *k, uint64_t head, uint64_t entry);
/* A UNICODE_STRING at va holding the ASCII text s (buffer allocated). */
void fg_kernel_unicode(fg_kernel *k, uint64_t va, const char *s);

/* A process (EPROCESS) on the active list; returns its VA. */
uint64_t fg_kernel_add_process(fg_kernel *k, const char *image_name, uint32_t pid, uint32_t ppid);
/* A thread (ETHREAD) of a process, on both of its thread lists. */
uint64_t fg_kernel_add_thread(fg_kernel *k, uint64_t process, uint32_t tid);
/* Make thread the current thread of a processor. */
void fg_kernel_set_current(fg_kernel *k, uint32_t cpu, uint64_t thread);
/* A loaded module (entry appended to PsLoadedModuleList). */
uint64_t fg_kernel_add_module(fg_kernel *k, const char *name, uint64_t base, uint32_t size);
/* An entry of the unloaded-driver ring (nt!MmUnloadedDrivers, 50 slots,
 * wrapping; MmLastUnloadedDriver is advanced). when is a FILETIME. */
void fg_kernel_add_unloaded(fg_kernel *k, const char *name, uint64_t start, uint64_t end, uint64_t when);

/* ---- objects: threads, waits, ready queues (issue 4) -----------------------
 * fg_kernel_new also writes: DISPATCHER_HEADER.Type of processes (3) and
 * threads (6) (values by name from the layout's _KOBJECTS), empty
 * Header.WaitListHead lists, the Idle process ("Idle"), idle threads in state
 * Running, each KPRCB's 32 DispatcherReadyListHead lists (empty), and, on
 * layouts with KPRCB.SharedReadyQueue, one KSHARED_READY_QUEUE (empty lists)
 * used by every processor. fg_kernel_add_thread initialises ETHREAD.IrpList
 * and counts the thread in EPROCESS.ActiveThreads. */

const kh_layout *fg_kernel_layout(const fg_kernel *k);
uint32_t fg_kernel_ncpus(const fg_kernel *k);
uint64_t fg_kernel_pcr(const fg_kernel *k, uint32_t cpu);
uint64_t fg_kernel_idle_process(const fg_kernel *k);
/* The shared ready queue, or 0 when the layout has none. */
uint64_t fg_kernel_shared_ready_queue(const fg_kernel *k);
/* Write raw bytes at a kernel VA. */
void fg_kernel_write(fg_kernel *k, uint64_t va, const void *data, size_t len);
/* Value of a named enum constant on the layout's build (aborts if unknown). */
int64_t fg_kernel_enum(const fg_kernel *k, kh_enum_id e, const char *name);

/* Scheduling state of a thread: KTHREAD.State, WaitReason, WaitMode and
 * WaitTime (the tick count when the wait began). */
void fg_kernel_thread_state(fg_kernel *k, uint64_t thread, unsigned state, unsigned wait_reason, unsigned wait_mode,
                            uint32_t wait_time);
/* A dispatcher object of the _KOBJECTS type named kobject ("MutantObject",
 * "EventSynchronizationObject", ...), sized for the largest kind, with
 * Header.Type, Header.SignalState and an empty Header.WaitListHead. */
uint64_t fg_kernel_add_object(fg_kernel *k, const char *kobject, int32_t signal_state);
/* Make a thread wait on n objects (1..64) with wait_type (0 WaitAll,
 * 1 WaitAny): wait blocks as the build keeps them (Windows 7: a circular
 * NextWaitBlock chain; 8 and later: WaitBlockList + WaitBlockCount), in
 * KTHREAD.WaitBlock for up to 3 objects, else in an allocated array; each
 * block (Thread, Object, WaitKey, WaitType, BlockState WaitBlockActive)
 * linked into its object's WaitListHead when that list is initialised.
 * Sets State Waiting. Returns the address of the first wait block. */
uint64_t fg_kernel_thread_wait(fg_kernel *k, uint64_t thread, const uint64_t *objects, unsigned n, unsigned wait_type);
/* Queue a thread as ready at a priority: on processor cpu's
 * DispatcherReadyListHead (cpu >= 0) or on the shared ready queue (cpu < 0),
 * through KTHREAD.WaitListEntry; sets the queue's ReadySummary bit, State
 * Ready, Priority and NextProcessor (cpu, or 0). */
void fg_kernel_ready_thread(fg_kernel *k, int cpu, uint64_t thread, unsigned priority);
/* EPROCESS.Session -> an MM_SESSION_SPACE with this SessionId. */
void fg_kernel_set_session(fg_kernel *k, uint64_t process, uint32_t session_id);
/* SeAuditProcessCreationInfo.ImageFileName -> OBJECT_NAME_INFORMATION. */
void fg_kernel_set_image_path(fg_kernel *k, uint64_t process, const char *path);
/* EPROCESS.ObjectTable -> a HANDLE_TABLE counting n handles (Windows 7:
 * HandleCount; 8 and later: FreeLists[0].HandleCount). */
void fg_kernel_set_handle_count(fg_kernel *k, uint64_t process, uint32_t n);
/* An IRP queued on the thread's ETHREAD.IrpList; returns its address. */
uint64_t fg_kernel_add_irp(fg_kernel *k, uint64_t thread);
/* A DRIVER_OBJECT (Type 4) named name ("\\Driver\\foo") whose image is
 * [start, start + size); returns its address. */
uint64_t fg_kernel_add_driver(fg_kernel *k, const char *name, uint64_t start, uint32_t size);
/* A DEVICE_OBJECT (Type 3) of a driver; returns its address. */
uint64_t fg_kernel_add_device(fg_kernel *k, uint64_t driver);
/* An IRP with stack_count locations after it (not on any list): Type 6,
 * StackCount, CurrentLocation = current, CurrentStackLocation pointing at
 * that location, Tail.Overlay.Thread = thread. Returns its address. */
uint64_t fg_kernel_new_irp(fg_kernel *k, uint64_t thread, int stack_count, int current);
/* The address of stack location index (1-based) of an IRP from
 * fg_kernel_new_irp(); set its fields with fg_kernel_set(). */
uint64_t fg_kernel_irp_location(const fg_kernel *k, uint64_t irp, int index);

#endif /* FG_KERNEL_H */

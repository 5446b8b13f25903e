/**
 * @file khang/processor.h
 * @brief Processors of the dumped system: KPCR/KPRCB, the threads each one
 *        runs, its counters and saved special registers, and the ready
 *        queues (what WinDbg shows with !cpuinfo, !running, !pcr, !prcb and
 *        !ready).
 *
 * Processors come from nt!KiProcessorBlock (one KPRCB pointer per processor,
 * as many as nt!KeNumberProcessors or, when that is unreadable, the dump
 * header's NumberProcessors). A processor whose KPRCB cannot be read (page
 * not in the dump) or does not hold its own number is skipped and counted
 * (see khang_processor_iter_skipped()), and a warning is recorded on the
 * source.
 *
 * Processor handles are borrowed from the source: they stay valid as long as
 * the source and must not be freed. They are read once, on first use, and
 * cached.
 *
 * Values that cannot be known (a field the kernel's layout lacks, a page not
 * in the dump) read as -1 for the signed accessors, 0 for addresses and ""
 * for strings.
 *
 * Everything here needs the kernel's structure layout: in limited mode (see
 * khang_source_kernel_info()) the functions that take a source return
 * KHANG_EUNSUPPORTED.
 *
 * Thread safety: as for the source (one thread at a time per source).
 */
#ifndef KHANG_PROCESSOR_H
#define KHANG_PROCESSOR_H

#include "common.h"
#include "source.h"

KHANG_BEGIN_DECL

/** @brief A processor (opaque, borrowed from the source). */
typedef struct khang_processor khang_processor;
/** @brief Iterator over the processors. */
typedef struct khang_processor_iter khang_processor_iter;
/** @brief A thread (opaque, borrowed from the source; see khang/thread.h). */
typedef struct khang_thread khang_thread;

/**
 * @brief Start iterating the processors, in processor number order.
 * @param[out] out the new iterator (NULL on failure); free it with
 *             khang_processor_iter_free()
 * @param src the source
 * @return 0; KHANG_EINVAL (NULL or invalid argument); KHANG_EUNSUPPORTED
 *         (limited mode, an architecture or dump type without a kernel
 *         address space, or a layout without the KPRCB fields);
 *         KHANG_ENOTFOUND (nt!KiProcessorBlock is unknown); KHANG_ENOMEM.
 *         Same thread rules as the source.
 */
KHANG_API int khang_processor_iter_new(khang_processor_iter **out, khang_source *src);

/**
 * @brief Next processor.
 * @param[out] out the processor (borrowed from the source)
 * @param it the iterator
 * @return 0, KHANG_ITEROVER at the end, or KHANG_EINVAL.
 */
KHANG_API int khang_processor_next(const khang_processor **out, khang_processor_iter *it);

/**
 * @brief Free an iterator (NULL allowed).
 * @param it the iterator, or NULL (nothing happens)
 */
KHANG_API void khang_processor_iter_free(khang_processor_iter *it);

/**
 * @brief Processors that could not be read and were skipped (their KPRCB
 *        page is missing or it does not hold its own number).
 * @param it the iterator (NULL gives 0)
 * @return the count, 0 if none.
 */
KHANG_API uint32_t khang_processor_iter_skipped(const khang_processor_iter *it);

/**
 * @brief Number of processors the kernel says it has (readable or not).
 * @param[out] out the count
 * @param src the source
 * @return 0, or an error as for khang_processor_iter_new().
 */
KHANG_API int khang_processor_count(uint32_t *out, khang_source *src);

/**
 * @brief The processor with a given number.
 * @param[out] out the processor (borrowed)
 * @param src the source
 * @param index processor number (0 .. count - 1)
 * @return 0; KHANG_ENOTFOUND (no such processor); KHANG_ENOTPRESENT (its
 *         KPRCB could not be read: khang_error_last() says why); or an error
 *         as for khang_processor_iter_new().
 */
KHANG_API int khang_processor_get(const khang_processor **out, khang_source *src, uint32_t index);

/**
 * @brief Processor number (KPRCB.Number).
 * @param p the processor
 * @return the value.
 */
KHANG_API uint32_t khang_processor_index(const khang_processor *p);
/**
 * @brief Address of the KPCR (x64: the GS base of kernel mode).
 * @param p the processor
 * @return the address.
 */
KHANG_API uint64_t khang_processor_kpcr(const khang_processor *p);
/**
 * @brief Address of the KPRCB.
 * @param p the processor
 * @return the address.
 */
KHANG_API uint64_t khang_processor_kprcb(const khang_processor *p);
/**
 * @brief Address of the thread running on the processor (KPRCB.CurrentThread), 0 if unknown.
 * @param p the processor
 * @return the address.
 */
KHANG_API uint64_t khang_processor_current_thread_address(const khang_processor *p);
/**
 * @brief Address of the thread selected to run next (KPRCB.NextThread), 0 if none.
 * @param p the processor
 * @return the address.
 */
KHANG_API uint64_t khang_processor_next_thread_address(const khang_processor *p);
/**
 * @brief Address of the processor's idle thread (KPRCB.IdleThread), 0 if unknown.
 * @param p the processor
 * @return the address.
 */
KHANG_API uint64_t khang_processor_idle_thread_address(const khang_processor *p);

/** @brief Which of a processor's threads khang_processor_thread() returns. */
typedef enum khang_processor_slot {
	KHANG_PROCESSOR_CURRENT = 0, /**< KPRCB.CurrentThread */
	KHANG_PROCESSOR_NEXT = 1,    /**< KPRCB.NextThread */
	KHANG_PROCESSOR_IDLE = 2     /**< KPRCB.IdleThread */
} khang_processor_slot;

/**
 * @brief A processor's current, next or idle thread as a thread handle.
 *
 * Threads that are on no process's thread list (idle threads) are read from
 * their address and kept with the source like the others.
 * @param[out] out the thread (borrowed from the source)
 * @param p the processor
 * @param slot which thread
 * @return 0; KHANG_ENOTFOUND (the slot is empty, e.g. no next thread);
 *         KHANG_ECORRUPT (the address does not hold a thread object);
 *         KHANG_ENOTPRESENT (the thread's page is not in the dump);
 *         KHANG_EINVAL; KHANG_ENOMEM.
 */
KHANG_API int khang_processor_thread(const khang_thread **out, const khang_processor *p, khang_processor_slot slot);

/**
 * @brief Whether the processor is idle (its current thread is its idle thread).
 * @param p the processor
 * @return 1, 0, or -1 when unknown.
 */
KHANG_API int khang_processor_is_idle(const khang_processor *p);

/**
 * @brief IRQL saved in the KPCR, or -1 when unknown.
 * @param p the processor
 * @return the value.
 */
KHANG_API int khang_processor_irql(const khang_processor *p);
/**
 * @brief Clock speed in MHz (KPRCB.MHz), or -1.
 * @param p the processor
 * @return the value.
 */
KHANG_API int64_t khang_processor_mhz(const khang_processor *p);
/**
 * @brief CPUID vendor string ("GenuineIntel", "AuthenticAMD").
 * @param p the processor
 * @return a string borrowed from the source, never NULL; "" when unknown.
 */
KHANG_API const char *khang_processor_vendor(const khang_processor *p);
/**
 * @brief CPU family (KPRCB.CpuType), or -1.
 * @param p the processor
 * @return the value.
 */
KHANG_API int64_t khang_processor_family(const khang_processor *p);
/**
 * @brief CPU model (KPRCB.CpuModel), or -1.
 * @param p the processor
 * @return the value.
 */
KHANG_API int64_t khang_processor_model(const khang_processor *p);
/**
 * @brief CPU stepping (KPRCB.CpuStepping), or -1.
 * @param p the processor
 * @return the value.
 */
KHANG_API int64_t khang_processor_stepping(const khang_processor *p);
/**
 * @brief KPRCB.FeatureBits (the kernel's KF_* flags), or -1.
 * @param p the processor
 * @return the value.
 */
KHANG_API int64_t khang_processor_feature_bits(const khang_processor *p);
/**
 * @brief Processor group (KPRCB.Group), or -1.
 * @param p the processor
 * @return the value.
 */
KHANG_API int64_t khang_processor_group(const khang_processor *p);
/**
 * @brief Index within the group (KPRCB.GroupIndex), or -1.
 * @param p the processor
 * @return the value.
 */
KHANG_API int64_t khang_processor_group_index(const khang_processor *p);
/**
 * @brief Interrupts taken (KPRCB.InterruptCount), or -1.
 * @param p the processor
 * @return the value.
 */
KHANG_API int64_t khang_processor_interrupt_count(const khang_processor *p);

/** @brief Time counters of a processor (clock ticks). */
typedef enum khang_processor_time {
	KHANG_PROCESSOR_TIME_KERNEL = 0,    /**< KPRCB.KernelTime */
	KHANG_PROCESSOR_TIME_USER = 1,      /**< KPRCB.UserTime */
	KHANG_PROCESSOR_TIME_DPC = 2,       /**< KPRCB.DpcTime */
	KHANG_PROCESSOR_TIME_INTERRUPT = 3  /**< KPRCB.InterruptTime */
} khang_processor_time;

/**
 * @brief A time counter in clock ticks.
 * @param p the processor
 * @param which the counter
 * @return the ticks, or -1 when unknown (also for an unknown @p which).
 *         Multiply by the time increment (khang_kernel_info.time_increment,
 *         100 ns units) for the time.
 */
KHANG_API int64_t khang_processor_ticks(const khang_processor *p, khang_processor_time which);

/**
 * @brief DPCs queued on the processor (KPRCB.DpcData[0].DpcQueueDepth), or -1.
 * @param p the processor
 * @return the value.
 */
KHANG_API int64_t khang_processor_dpc_queue_depth(const khang_processor *p);
/**
 * @brief Threaded DPCs queued (KPRCB.DpcData[1].DpcQueueDepth), or -1.
 * @param p the processor
 * @return the value.
 */
KHANG_API int64_t khang_processor_threaded_dpc_queue_depth(const khang_processor *p);
/**
 * @brief What a processor's DPC machinery was doing (KHANG_PROCESSOR_DPC_INIT).
 *
 * The fields a DPC_WATCHDOG_VIOLATION (0x133) points at: the routine that
 * was running and the watchdog's counters. Values the kernel's layout does
 * not have are -1 (counters) or 0 (addresses).
 */
typedef struct khang_processor_dpc {
	size_t size;             /**< sizeof(khang_processor_dpc) */
	uint64_t routine;        /**< the DPC routine running: KPRCB.CurrentDpcRoutine (Windows 10 1903 and later), else
	                              the DeferredRoutine of KPRCB.DpcData[0].ActiveDpc; 0 none or unknown */
	uint64_t active_dpc;     /**< the KDPC being run (KPRCB.DpcData[0].ActiveDpc); 0 none or unknown */
	int routine_active;      /**< KPRCB.DpcRoutineActive: 1 a DPC routine is running, 0 not, -1 unknown */
	int64_t time_count;      /**< clock ticks the running DPC has taken (KPRCB.DpcTimeCount), -1 unknown */
	int64_t time_limit;      /**< the single-DPC limit in ticks (KPRCB.DpcTimeLimit), -1 unknown */
	int64_t watchdog_period; /**< the cumulative DISPATCH_LEVEL limit (KPRCB.DpcWatchdogPeriod), -1 unknown */
	int64_t watchdog_count;  /**< the cumulative watchdog counter (KPRCB.DpcWatchdogCount), -1 unknown */
} khang_processor_dpc;

/** Static initialiser for @ref khang_processor_dpc. */
#define KHANG_PROCESSOR_DPC_INIT KHANG_SIZED_INIT(khang_processor_dpc)

/**
 * @brief The DPC routine and DPC watchdog counters of a processor.
 *
 * Read from the dump on each call (a few small reads); no allocation.
 * Thread safety: as the other processor accessors (one source, one thread).
 * @param[out] out filled up to out->size bytes (set it first)
 * @param p the processor
 * @return 0 (fields the dump does not hold are -1 / 0); KHANG_EINVAL for a
 *         NULL argument, a skipped processor or out->size too small.
 */
KHANG_API int khang_processor_dpc_info(khang_processor_dpc *out, const khang_processor *p);

/**
 * @brief KPRCB.ReadySummary: bit p set when ready list p is not empty.
 * @param p the processor
 * @return the value; -1 when unknown.
 */
KHANG_API int64_t khang_processor_ready_summary(const khang_processor *p);
/**
 * @brief Address of the shared ready queue the processor uses
 *        (KPRCB.SharedReadyQueue, Windows 8.1 and later).
 * @param p the processor
 * @return the address; 0 when none.
 */
KHANG_API uint64_t khang_processor_shared_ready_queue(const khang_processor *p);

/**
 * @brief Special registers and MSRs saved in KPRCB.ProcessorState.
 *
 * The kernel saves them when it freezes the processors for the dump. CR8
 * and the MSRs exist on x64 only; XCR0 from Windows 8 (x64) and 10 (x86);
 * the FS base MSR from Windows 10. No Windows layout saves EFER.
 */
typedef enum khang_register {
	KHANG_REG_CR0 = 0,          /**< CR0 */
	KHANG_REG_CR2 = 1,          /**< CR2 (last page-fault address) */
	KHANG_REG_CR3 = 2,          /**< CR3 (page directory base) */
	KHANG_REG_CR4 = 3,          /**< CR4 */
	KHANG_REG_CR8 = 4,          /**< CR8 (task priority; x64) */
	KHANG_REG_KERNEL_DR0 = 5,   /**< kernel DR0 */
	KHANG_REG_KERNEL_DR7 = 6,   /**< kernel DR7 */
	KHANG_REG_GDTR_BASE = 7,    /**< GDTR base */
	KHANG_REG_GDTR_LIMIT = 8,   /**< GDTR limit */
	KHANG_REG_IDTR_BASE = 9,    /**< IDTR base */
	KHANG_REG_IDTR_LIMIT = 10,  /**< IDTR limit */
	KHANG_REG_TR = 11,          /**< task register selector */
	KHANG_REG_LDTR = 12,        /**< LDT selector */
	KHANG_REG_MSR_GS_BASE = 13,        /**< IA32_GS_BASE (x64) */
	KHANG_REG_MSR_KERNEL_GS_BASE = 14, /**< IA32_KERNEL_GS_BASE, the swapped GS (x64) */
	KHANG_REG_MSR_STAR = 15,           /**< IA32_STAR (x64) */
	KHANG_REG_MSR_LSTAR = 16,          /**< IA32_LSTAR: the 64-bit system call entry (x64) */
	KHANG_REG_MSR_CSTAR = 17,          /**< IA32_CSTAR: the compatibility-mode entry (x64) */
	KHANG_REG_MSR_SYSCALL_MASK = 18,   /**< IA32_FMASK (x64) */
	KHANG_REG_MSR_FS_BASE = 19,        /**< IA32_FS_BASE (x64, Windows 10 and later) */
	KHANG_REG_XCR0 = 20,               /**< XCR0 */
	KHANG_REG_COUNT = 21               /**< number of register ids */
} khang_register;

/**
 * @brief Name of a register id ("cr0", "gdtr_base", "msr_lstar"...).
 * @param reg the register id
 * @return a static string; "?" for an unknown id. Thread-safe.
 */
KHANG_API const char *khang_register_name(khang_register reg);

/**
 * @brief Read a saved special register or MSR.
 * @param[out] out the value
 * @param p the processor
 * @param reg which register
 * @return 0; KHANG_ENOTFOUND (this kernel's layout or architecture does
 *         not save it); KHANG_ENOTPRESENT (its page is not in the dump);
 *         KHANG_EINVAL (NULL, bad handle or unknown id).
 */
KHANG_API int khang_processor_register(uint64_t *out, const khang_processor *p, khang_register reg);

/* ---- ready queues (!ready) ---------------------------------------------- */

/** @brief Iterator over the threads in ready queues. */
typedef struct khang_ready_iter khang_ready_iter;

/**
 * @brief One thread in a ready queue. Fill @c size first (KHANG_READY_ENTRY_INIT).
 */
typedef struct khang_ready_entry {
	size_t size;                 /**< sizeof(khang_ready_entry) */
	const khang_thread *thread;  /**< the ready thread (borrowed from the source) */
	uint64_t thread_address;     /**< its KTHREAD address */
	uint32_t priority;           /**< the queue's priority (0..31) */
	int32_t processor;           /**< the processor of a per-processor queue, -1 for a shared queue */
	uint64_t queue;              /**< KPRCB address, or the KSHARED_READY_QUEUE address */
	int64_t ready_ms;            /**< how long it has been ready (KeTickCount - WaitTime) in ms; -1 if unknown */
} khang_ready_entry;

/** Static initialiser for @ref khang_ready_entry. */
#define KHANG_READY_ENTRY_INIT KHANG_SIZED_INIT(khang_ready_entry)

/**
 * @brief Start iterating the ready threads, processor by processor in
 *        number order: the shared ready queue the processor uses (Windows
 *        8.1 and later; each shared queue once, before the first processor
 *        that uses it), then the processor's own
 *        KPRCB.DispatcherReadyListHead lists. Within a queue, threads come
 *        by priority (31 first), in list order.
 *
 * Every list is walked, whatever ReadySummary says; each walk is bounded
 * and cycle-safe. A list that is broken (unreadable link, loop) ends with
 * what was read before the break and counts as skipped.
 * @param[out] out the iterator; free with khang_ready_iter_free()
 * @param src the source
 * @param processor only this processor's queues (and its shared queue), or
 *        NULL for all
 * @return 0; KHANG_EINVAL; KHANG_ENOMEM; errors as for khang_processor_iter_new().
 */
KHANG_API int khang_ready_iter_new(khang_ready_iter **out, khang_source *src, const khang_processor *processor);

/**
 * @brief Next ready thread.
 * @param[out] out filled up to out->size bytes (out->size must be set)
 * @param it the iterator
 * @return 0, KHANG_ITEROVER at the end, or KHANG_EINVAL.
 */
KHANG_API int khang_ready_next(khang_ready_entry *out, khang_ready_iter *it);

/**
 * @brief Ready list entries that could not be read (broken lists, non-thread entries).
 * @param it the iterator
 * @return the value.
 */
KHANG_API uint32_t khang_ready_iter_skipped(const khang_ready_iter *it);

/**
 * @brief Free an iterator (NULL allowed).
 * @param it the iterator, or NULL (nothing happens)
 */
KHANG_API void khang_ready_iter_free(khang_ready_iter *it);

KHANG_END_DECL

#endif /* KHANG_PROCESSOR_H */

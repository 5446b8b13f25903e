/**
 * @file khang/thread.h
 * @brief Threads of the dumped system (KTHREAD/ETHREAD): iteration over all
 *        threads or one process's, lookups, state and wait reason with their
 *        names on the dump's Windows build, wait times, and the dispatcher
 *        objects a waiting thread waits on (what WinDbg's !thread and Mex's
 *        !mex.lt show).
 *
 * A process's threads are read once, on first use, from both of its thread
 * lists (EPROCESS.ThreadListHead through ETHREAD.ThreadListEntry, then
 * KPROCESS.ThreadListHead through KTHREAD.ThreadListEntry, adding the
 * threads only the second one holds). Walks are bounded by the source's
 * max_list_entries and cycle-safe. An entry that does not hold a thread
 * object of that process (DISPATCHER_HEADER.Type is not ThreadObject, or
 * KTHREAD.Process names another process) or cannot be read is skipped and
 * counted (khang_thread_iter_skipped()); a broken list (unreadable link or
 * loop) ends with what was read before the break and counts as one skipped
 * entry. Each damage records a warning on the source.
 *
 * Thread handles are borrowed from the source: valid as long as the source,
 * never freed by the caller. Threads on no list (idle threads, a thread
 * named by a wait object) are read from their address when asked for.
 *
 * Unknown values (a field the layout lacks, a page not in the dump) read as
 * -1 for signed accessors, 0 for addresses, "" for strings.
 *
 * Windows 7 and later differ in how wait blocks are kept: Windows 7 chains
 * them through KWAIT_BLOCK.NextWaitBlock (circular, from
 * KTHREAD.WaitBlockList); Windows 8 and later keep
 * KTHREAD.WaitBlockList[KTHREAD.WaitBlockCount]. Both are handled.
 *
 * Everything here needs the kernel's structure layout: in limited mode the
 * functions that take a source return KHANG_EUNSUPPORTED.
 *
 * Thread safety: as for the source (one thread at a time per source).
 */
#ifndef KHANG_THREAD_H
#define KHANG_THREAD_H

#include "common.h"
#include "source.h"

KHANG_BEGIN_DECL

/** @brief A thread (opaque, borrowed from the source). */
typedef struct khang_thread khang_thread;
/** @brief Iterator over threads. */
typedef struct khang_thread_iter khang_thread_iter;
/** @brief A process (opaque, borrowed from the source; see khang/process.h). */
typedef struct khang_process khang_process;

/** @brief _KTHREAD_STATE values (the same on every Windows build). */
enum khang_thread_state_value {
	KHANG_THREAD_INITIALIZED = 0,   /**< Initialized */
	KHANG_THREAD_READY = 1,         /**< Ready: in a ready queue */
	KHANG_THREAD_RUNNING = 2,       /**< Running on a processor */
	KHANG_THREAD_STANDBY = 3,       /**< Standby: selected to run next */
	KHANG_THREAD_TERMINATED = 4,    /**< Terminated */
	KHANG_THREAD_WAITING = 5,       /**< Waiting */
	KHANG_THREAD_TRANSITION = 6,    /**< Transition: ready, kernel stack paged out */
	KHANG_THREAD_DEFERRED_READY = 7,/**< DeferredReady */
	KHANG_THREAD_GATE_WAIT = 8,     /**< GateWaitObsolete */
	KHANG_THREAD_WAITING_FOR_PROCESS_IN_SWAP = 9 /**< WaitingForProcessInSwap (Windows 10 and later) */
};

/**
 * @brief _KWAIT_REASON values that are the same on every build this
 *        library knows (Windows 7 to 11). Later values differ (on Windows 7
 *        37 is MaximumWaitReason, from Windows 8 WrAlertByThreadId): use
 *        khang_thread_wait_reason_name() for names.
 */
enum khang_wait_reason_value {
	KHANG_WAIT_EXECUTIVE = 0,
	KHANG_WAIT_FREE_PAGE = 1,
	KHANG_WAIT_PAGE_IN = 2,
	KHANG_WAIT_POOL_ALLOCATION = 3,
	KHANG_WAIT_DELAY_EXECUTION = 4,
	KHANG_WAIT_SUSPENDED = 5,
	KHANG_WAIT_USER_REQUEST = 6,
	KHANG_WAIT_WR_EXECUTIVE = 7,
	KHANG_WAIT_WR_FREE_PAGE = 8,
	KHANG_WAIT_WR_PAGE_IN = 9,
	KHANG_WAIT_WR_POOL_ALLOCATION = 10,
	KHANG_WAIT_WR_DELAY_EXECUTION = 11,
	KHANG_WAIT_WR_SUSPENDED = 12,
	KHANG_WAIT_WR_USER_REQUEST = 13,
	KHANG_WAIT_WR_QUEUE = 15,
	KHANG_WAIT_WR_LPC_RECEIVE = 16,
	KHANG_WAIT_WR_LPC_REPLY = 17,
	KHANG_WAIT_WR_VIRTUAL_MEMORY = 18,
	KHANG_WAIT_WR_PAGE_OUT = 19,
	KHANG_WAIT_WR_RENDEZVOUS = 20,
	KHANG_WAIT_WR_KEYED_EVENT = 21,
	KHANG_WAIT_WR_TERMINATED = 22,
	KHANG_WAIT_WR_PROCESS_IN_SWAP = 23,
	KHANG_WAIT_WR_CPU_RATE_CONTROL = 24,
	KHANG_WAIT_WR_CALLOUT_STACK = 25,
	KHANG_WAIT_WR_KERNEL = 26,
	KHANG_WAIT_WR_RESOURCE = 27,
	KHANG_WAIT_WR_PUSH_LOCK = 28,
	KHANG_WAIT_WR_MUTEX = 29,
	KHANG_WAIT_WR_QUANTUM_END = 30,
	KHANG_WAIT_WR_DISPATCH_INT = 31,
	KHANG_WAIT_WR_PREEMPTED = 32,
	KHANG_WAIT_WR_YIELD_EXECUTION = 33,
	KHANG_WAIT_WR_FAST_MUTEX = 34,
	KHANG_WAIT_WR_GUARDED_MUTEX = 35,
	KHANG_WAIT_WR_RUNDOWN = 36
};

/* ---- iteration and lookup ------------------------------------------------ */

/**
 * @brief Start iterating threads: all threads of all active processes
 *        (process list order, each process's threads in list order), or one
 *        process's threads. Idle threads, whose Idle process is on no list,
 *        are not included (see khang_processor_thread()).
 * @param[out] out the new iterator (NULL on failure); free it with
 *             khang_thread_iter_free()
 * @param src the source
 * @param process one process (borrowed from the same source), or NULL for all
 * @return 0; KHANG_EINVAL (NULL or bad handle, or a process of another
 *         source); KHANG_EUNSUPPORTED (limited mode, a dump without a kernel
 *         address space, a layout without the thread fields);
 *         KHANG_ENOTFOUND (nt!PsActiveProcessHead unknown); KHANG_ENOMEM.
 */
KHANG_API int khang_thread_iter_new(khang_thread_iter **out, khang_source *src, const khang_process *process);

/**
 * @brief Next thread. A process's threads are read when the iterator
 *        reaches it.
 * @param[out] out the thread (borrowed from the source)
 * @param it the iterator
 * @return 0; KHANG_ITEROVER at the end; KHANG_EINVAL; KHANG_ENOMEM (the
 *         walk cannot go on).
 */
KHANG_API int khang_thread_next(const khang_thread **out, khang_thread_iter *it);

/**
 * @brief Free an iterator (NULL allowed).
 * @param it the iterator, or NULL (nothing happens)
 */
KHANG_API void khang_thread_iter_free(khang_thread_iter *it);

/**
 * @brief Damaged entries skipped so far: thread list entries that were not
 *        threads of their process or could not be read, broken lists, and
 *        (for the all-threads iterator) damaged process list entries.
 * @param it the iterator (NULL gives 0)
 * @return the count.
 */
KHANG_API uint32_t khang_thread_iter_skipped(const khang_thread_iter *it);

/**
 * @brief Find a thread of an active process by thread id (reads every
 *        process's threads on first use).
 * @param[out] out the thread (borrowed)
 * @param src the source
 * @param tid the thread id (Cid.UniqueThread)
 * @return 0; KHANG_ENOTFOUND; or an error as for khang_thread_iter_new().
 */
KHANG_API int khang_thread_by_tid(const khang_thread **out, khang_source *src, uint64_t tid);

/**
 * @brief The thread whose ETHREAD is at an address: a thread of an active
 *        process, or else read from that address if it holds a thread object.
 * @param[out] out the thread (borrowed)
 * @param src the source
 * @param va the ETHREAD (KTHREAD) address
 * @return 0; KHANG_ECORRUPT (no thread object there); KHANG_ENOTPRESENT
 *         (page not in the dump); KHANG_ELIMIT (too many such threads were
 *         asked for); or an error as for khang_thread_iter_new().
 */
KHANG_API int khang_thread_by_address(const khang_thread **out, khang_source *src, uint64_t va);

/* ---- identity ---------------------------------------------------------------- */

/**
 * @brief Address of the ETHREAD (also the KTHREAD).
 * @param t the thread
 * @return the address.
 */
KHANG_API uint64_t khang_thread_address(const khang_thread *t);
/**
 * @brief Thread id (Cid.UniqueThread).
 * @param t the thread
 * @return the value; -1 when unknown.
 */
KHANG_API int64_t khang_thread_tid(const khang_thread *t);
/**
 * @brief Process id (Cid.UniqueProcess).
 * @param t the thread
 * @return the value; -1 when unknown.
 */
KHANG_API int64_t khang_thread_pid(const khang_thread *t);
/**
 * @brief Address of the owning process (KTHREAD.Process).
 * @param t the thread
 * @return the address; 0 when unknown.
 */
KHANG_API uint64_t khang_thread_process_address(const khang_thread *t);
/**
 * @brief The owning process.
 * @param[out] out the process (borrowed)
 * @param t the thread
 * @return 0; KHANG_ECORRUPT (KTHREAD.Process does not point to a process);
 *         KHANG_ENOTFOUND (unknown); KHANG_ENOTPRESENT; KHANG_EINVAL.
 */
KHANG_API int khang_thread_process(const khang_process **out, const khang_thread *t);

/* ---- scheduling state -------------------------------------------------------- */

/**
 * @brief KTHREAD.State (see khang_thread_state_value).
 * @param t the thread
 * @return the value; -1 when unknown.
 */
KHANG_API int khang_thread_state(const khang_thread *t);
/**
 * @brief Name of the state on the dump's build ("Waiting", "Ready"...).
 * @param t the thread
 * @return a string borrowed from the source, never NULL; "Unknown" when unknown.
 */
KHANG_API const char *khang_thread_state_name(const khang_thread *t);
/**
 * @brief KTHREAD.WaitReason (see khang_wait_reason_value).
 * @param t the thread
 * @return the value; -1 when unknown.
 */
KHANG_API int khang_thread_wait_reason(const khang_thread *t);
/**
 * @brief Name of the wait reason on the dump's build ("WrUserRequest", "WrAlertByThreadId"...).
 * @param t the thread
 * @return a string borrowed from the source, never NULL; "Unknown" when unknown.
 */
KHANG_API const char *khang_thread_wait_reason_name(const khang_thread *t);
/**
 * @brief KTHREAD.WaitMode: 0 KernelMode, 1 UserMode.
 * @param t the thread
 * @return the value; -1 when unknown.
 */
KHANG_API int khang_thread_wait_mode(const khang_thread *t);
/**
 * @brief KTHREAD.WaitIrql.
 * @param t the thread
 * @return the value; -1 when unknown.
 */
KHANG_API int khang_thread_wait_irql(const khang_thread *t);
/**
 * @brief KTHREAD.WaitTime: the tick count when the thread last started to wait or became ready.
 * @param t the thread
 * @return the value; -1 when unknown.
 */
KHANG_API int64_t khang_thread_wait_tick(const khang_thread *t);
/**
 * @brief How long the thread has waited (or been ready), in milliseconds:
 *        ((TickCount - WaitTime) mod 2^32 * TickCountMultiplier) >> 24.
 * @param t the thread
 * @return the milliseconds, or -1 when the dump's tick count or the
 *         thread's WaitTime is unknown. Meaningful for waiting and ready
 *         threads; WinDbg prints it for every thread.
 */
KHANG_API int64_t khang_thread_wait_ms(const khang_thread *t);
/**
 * @brief Current priority (KTHREAD.Priority).
 * @param t the thread
 * @return the value; -1 when unknown.
 */
KHANG_API int khang_thread_priority(const khang_thread *t);
/**
 * @brief Base priority (KTHREAD.BasePriority).
 * @param t the thread
 * @return the value; -1 when unknown.
 */
KHANG_API int khang_thread_base_priority(const khang_thread *t);
/**
 * @brief The processor the thread runs on, was last on, or is queued for
 *        (KTHREAD.NextProcessor; on Windows 8 and later its number part).
 * @param t the thread
 * @return the processor number, or -1 when unknown.
 */
KHANG_API int64_t khang_thread_processor(const khang_thread *t);
/**
 * @brief Ideal processor (KTHREAD.IdealProcessor).
 * @param t the thread
 * @return the value; -1 when unknown.
 */
KHANG_API int64_t khang_thread_ideal_processor(const khang_thread *t);
/**
 * @brief Context switches (KTHREAD.ContextSwitches).
 * @param t the thread
 * @return the value; -1 when unknown.
 */
KHANG_API int64_t khang_thread_context_switches(const khang_thread *t);
/**
 * @brief Kernel-mode time in clock ticks (KTHREAD.KernelTime).
 * @param t the thread
 * @return the value; -1 when unknown.
 */
KHANG_API int64_t khang_thread_kernel_ticks(const khang_thread *t);
/**
 * @brief User-mode time in clock ticks (KTHREAD.UserTime).
 * @param t the thread
 * @return the value; -1 when unknown.
 */
KHANG_API int64_t khang_thread_user_ticks(const khang_thread *t);
/**
 * @brief Kernel-mode time in milliseconds (ticks x nt!KeTimeIncrement).
 * @param t the thread
 * @return the milliseconds, or -1 when the ticks or the increment are unknown.
 */
KHANG_API int64_t khang_thread_kernel_ms(const khang_thread *t);
/**
 * @brief User-mode time in milliseconds.
 * @param t the thread
 * @return the value; -1 when unknown.
 */
KHANG_API int64_t khang_thread_user_ms(const khang_thread *t);
/**
 * @brief 1 if the wait is alertable (KTHREAD.Alertable), 0 if not, -1 when unknown.
 * @param t the thread
 * @return the value.
 */
KHANG_API int khang_thread_alertable(const khang_thread *t);
/**
 * @brief KTHREAD.SuspendCount.
 * @param t the thread
 * @return the value; -1 when unknown.
 */
KHANG_API int khang_thread_suspend_count(const khang_thread *t);
/**
 * @brief 1 for a system (kernel-only) thread (KTHREAD.SystemThread), 0 if not, -1 when unknown.
 * @param t the thread
 * @return the value.
 */
KHANG_API int khang_thread_is_system(const khang_thread *t);
/**
 * @brief 1 once the thread has terminated (ETHREAD.Terminated), 0 if not, -1 when unknown.
 * @param t the thread
 * @return the value.
 */
KHANG_API int khang_thread_is_terminated(const khang_thread *t);

/* ---- addresses and times ------------------------------------------------------- */

/**
 * @brief ETHREAD.StartAddress.
 * @param t the thread
 * @return the address; 0 when unknown.
 */
KHANG_API uint64_t khang_thread_start_address(const khang_thread *t);
/**
 * @brief ETHREAD.Win32StartAddress (the user-mode start routine).
 * @param t the thread
 * @return the address; 0 when unknown.
 */
KHANG_API uint64_t khang_thread_win32_start_address(const khang_thread *t);
/**
 * @brief User-mode TEB address.
 * @param t the thread
 * @return the address; 0 for a system thread or unknown.
 */
KHANG_API uint64_t khang_thread_teb(const khang_thread *t);
/**
 * @brief Top of the kernel stack (KTHREAD.InitialStack, WinDbg's "Stack Init").
 * @param t the thread
 * @return the value; 0 when unknown.
 */
KHANG_API uint64_t khang_thread_stack_init(const khang_thread *t);
/**
 * @brief Base (highest address) of the kernel stack (KTHREAD.StackBase).
 * @param t the thread
 * @return the address; 0 when unknown.
 */
KHANG_API uint64_t khang_thread_stack_base(const khang_thread *t);
/**
 * @brief Limit (lowest address) of the kernel stack (KTHREAD.StackLimit).
 * @param t the thread
 * @return the address; 0 when unknown.
 */
KHANG_API uint64_t khang_thread_stack_limit(const khang_thread *t);
/**
 * @brief Saved kernel stack pointer of a thread that is not running (KTHREAD.KernelStack).
 * @param t the thread
 * @return the value; 0 when unknown.
 */
KHANG_API uint64_t khang_thread_kernel_stack(const khang_thread *t);
/**
 * @brief KTHREAD.Win32Thread (win32k's thread information).
 * @param t the thread
 * @return the value; 0 for none or unknown.
 */
KHANG_API uint64_t khang_thread_win32_thread(const khang_thread *t);
/**
 * @brief 1 for a GUI thread (Win32Thread set), 0 if not, -1 when unknown.
 * @param t the thread
 * @return the value.
 */
KHANG_API int khang_thread_is_gui(const khang_thread *t);
/**
 * @brief Creation time as a FILETIME (ETHREAD.CreateTime).
 * @param t the thread
 * @return the time; 0 when unknown.
 */
KHANG_API uint64_t khang_thread_create_time(const khang_thread *t);

/**
 * @brief The IRPs queued to the thread (ETHREAD.IrpList through
 *        IRP.ThreadListEntry), read on first use; bounded and cycle-safe.
 * @param[out] out receives an array of IRP addresses borrowed from the
 *             source (NULL when there are none)
 * @param[out] count receives the number of IRPs
 * @param t the thread
 * @return 0 (also when the list broke: the IRPs read before the break are
 *         given and a warning is recorded); KHANG_ENOTFOUND (the layout has
 *         no IrpList); KHANG_EINVAL; KHANG_ENOMEM.
 */
KHANG_API int khang_thread_irps(const uint64_t **out, size_t *count, const khang_thread *t);

/* ---- wait objects ------------------------------------------------------------------ */

/** @brief Dispatcher object types, normalised across builds (from _KOBJECTS). */
typedef enum khang_dispatcher_type {
	KHANG_OBJECT_UNKNOWN = 0,              /**< header unreadable or type unknown */
	KHANG_OBJECT_EVENT_NOTIFICATION = 1,   /**< NotificationEvent (manual reset) */
	KHANG_OBJECT_EVENT_SYNCHRONIZATION = 2,/**< SynchronizationEvent (auto reset) */
	KHANG_OBJECT_MUTANT = 3,               /**< Mutant (mutex) */
	KHANG_OBJECT_PROCESS = 4,              /**< Process */
	KHANG_OBJECT_QUEUE = 5,                /**< Queue (I/O completion, worker) */
	KHANG_OBJECT_SEMAPHORE = 6,            /**< Semaphore */
	KHANG_OBJECT_THREAD = 7,               /**< Thread */
	KHANG_OBJECT_GATE = 8,                 /**< Gate */
	KHANG_OBJECT_TIMER_NOTIFICATION = 9,   /**< NotificationTimer */
	KHANG_OBJECT_TIMER_SYNCHRONIZATION = 10,/**< SynchronizationTimer */
	KHANG_OBJECT_PRIQUEUE = 11,            /**< PriQueue (Windows 8.1 and later) */
	KHANG_OBJECT_EVENT_PAIR = 12,          /**< EventPair (Windows 7) */
	KHANG_OBJECT_OTHER = 13                /**< another kernel object type */
} khang_dispatcher_type;

/**
 * @brief One wait block of a waiting thread and the object it waits on.
 * Fill @c size first (KHANG_WAIT_OBJECT_INIT).
 */
typedef struct khang_wait_object {
	size_t size;                   /**< sizeof(khang_wait_object) */
	uint64_t wait_block;           /**< address of the KWAIT_BLOCK */
	uint64_t object;               /**< address of the dispatcher object waited on */
	khang_dispatcher_type type;    /**< its type, normalised */
	int32_t raw_type;              /**< DISPATCHER_HEADER.Type, -1 if the header was unreadable */
	const char *type_name;         /**< "SynchronizationEvent", "Mutant"...; "Unknown" when unreadable (static string) */
	int32_t signal_state;          /**< DISPATCHER_HEADER.SignalState (valid when raw_type >= 0) */
	int32_t wait_type;             /**< KWAIT_BLOCK.WaitType: 0 WaitAll, 1 WaitAny, 2 WaitNotification, 3 WaitDequeue; -1 unknown */
	int32_t wait_key;              /**< KWAIT_BLOCK.WaitKey (the index in the wait call); -1 unknown */
	int32_t block_state;           /**< KWAIT_BLOCK.BlockState; -1 unknown */
	const char *block_state_name;  /**< its name on the dump's build ("WaitBlockActive"), "" when unknown */
	uint64_t owner_address;        /**< a mutant: KMUTANT.OwnerThread (0 when free or unknown) */
	const khang_thread *owner;     /**< a mutant: its owner thread, NULL when free or unreadable */
	const khang_thread *thread;    /**< a thread object: that thread; else NULL */
	const khang_process *process;  /**< a process object: that process; else NULL */
} khang_wait_object;

/** Static initialiser for @ref khang_wait_object. */
#define KHANG_WAIT_OBJECT_INIT KHANG_SIZED_INIT(khang_wait_object)

/**
 * @brief Number of wait blocks of a waiting thread (0 for a thread that is
 *        not in the Waiting state), read on first use.
 *
 * At most 64 blocks are read (MAXIMUM_WAIT_OBJECTS); a Windows 7 chain that
 * loops or cannot be read ends with the blocks read before; on Windows 8
 * and later a WaitBlockCount over 64 is damage and no block is read. Each
 * case is counted (khang_thread_wait_skipped()) and records a warning.
 * @param t the thread
 * @return the count, or a negative code (KHANG_EINVAL, KHANG_ENOMEM).
 */
KHANG_API int khang_thread_wait_count(const khang_thread *t);

/**
 * @brief Wait blocks of the thread that could not be read (a block whose
 *        page is missing, a Windows 7 chain that loops or is too long, a
 *        WaitBlockCount over 64); 0 when none. Reads the wait blocks on
 *        first use, like khang_thread_wait_count().
 * @param t the thread
 * @return the count (0 for NULL or an invalid handle).
 */
KHANG_API uint32_t khang_thread_wait_skipped(const khang_thread *t);

/**
 * @brief One of a waiting thread's wait blocks and its object.
 * @param[out] out filled up to out->size bytes (out->size must be set)
 * @param t the thread
 * @param index 0 .. khang_thread_wait_count() - 1
 * @return 0; KHANG_ENOTFOUND (index out of range); KHANG_EINVAL; KHANG_ENOMEM.
 */
KHANG_API int khang_thread_wait_object(khang_wait_object *out, const khang_thread *t, size_t index);

/**
 * @brief Display name of a normalised dispatcher type ("Mutant").
 * @param type the type
 * @return a static string, never NULL. Thread-safe.
 */
KHANG_API const char *khang_dispatcher_type_name(khang_dispatcher_type type);

/* ---- formatting ------------------------------------------------------------------------ */

/**
 * @brief Format a duration as Mex's !mex.lt does: "765ms", "42s.937",
 *        "6m:30.718", "23h:56:06.250", "1d.00:48:53.796"; "-" for a
 *        negative (unknown) value.
 * @param[out] buf receives the NUL-terminated text (truncated to fit)
 * @param len size of @p buf (24 bytes always suffice)
 * @param ms the duration in milliseconds
 * @return the length of the full text (like snprintf), or KHANG_EINVAL
 *         (NULL buf with len > 0). Thread-safe.
 */
KHANG_API int khang_format_duration(char *buf, size_t len, int64_t ms);

/**
 * @brief Format a FILETIME (100 ns since 1601, UTC) as
 *        "2017-07-10 08:39:08.606"; "-" for 0.
 * @param[out] buf receives the text (truncated to fit)
 * @param len size of @p buf (32 bytes always suffice)
 * @param filetime the time
 * @return the length of the full text, or KHANG_EINVAL. Thread-safe.
 */
KHANG_API int khang_format_filetime(char *buf, size_t len, uint64_t filetime);

KHANG_END_DECL

#endif /* KHANG_THREAD_H */

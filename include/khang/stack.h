/**
 * @file khang/stack.h
 * @brief Call stacks: thread stacks (x64 unwinding with the unwind data of
 *        the images in the dump or on the image search path, x86 frame
 *        chains), trap frames into user mode, a verified stack scan where
 *        unwind data is missing, symbols, and unique-stack grouping.
 *
 * A walk starts from a register context (a thread's saved switch frame, the
 * context of a running processor, or a CONTEXT record in the dump) and
 * steps frame by frame. It is bounded (frame count, the thread's stacks, a
 * stack pointer that increases within one stack) and ends with a reason:
 * the end of the stack, an address in no module, a module whose unwind data
 * is not available and a scan that found nothing, an unreadable stack page.
 *
 * Thread safety: as for the source (one thread at a time per source).
 */
#ifndef KHANG_STACK_H
#define KHANG_STACK_H

#include "common.h"
#include "source.h"
#include "thread.h"

KHANG_BEGIN_DECL

/** @brief A walked call stack (opaque, owned by the caller). */
typedef struct khang_stack khang_stack;

/** @brief How a frame was found. */
typedef enum khang_frame_kind {
	KHANG_FRAME_CONTEXT = 0, /**< the starting context itself */
	KHANG_FRAME_UNWIND = 1,  /**< unwound with the function's unwind data (x86: the frame-pointer chain) */
	KHANG_FRAME_LEAF = 2,    /**< caller of a leaf function (return address at the stack pointer) */
	KHANG_FRAME_TRAP = 3,    /**< continued through a machine frame or a KTRAP_FRAME (interrupt, exception, system call) */
	KHANG_FRAME_SCAN = 4     /**< found by scanning the stack: lower confidence */
} khang_frame_kind;

/** @brief One frame. */
typedef struct khang_frame {
	uint64_t ip;             /**< instruction pointer (the return address for callers) */
	uint64_t sp;             /**< stack pointer in that frame (WinDbg's Child-SP) */
	khang_frame_kind kind;   /**< how it was found */
} khang_frame;

/** @brief Flags of @ref khang_stack_opts. */
typedef enum khang_stack_flags {
	/** Never scan the stack: a frame without unwind data ends the walk. */
	KHANG_STACK_NO_SCAN = 1u << 0,
	/** Also accept scanned return addresses whose call instruction cannot
	 *  be checked because the code bytes are not readable (by default such
	 *  candidates are skipped). */
	KHANG_STACK_SCAN_UNVERIFIED = 1u << 1,
	/** Stop at the trap frame of a system call instead of continuing into
	 *  user mode. */
	KHANG_STACK_KERNEL_ONLY = 1u << 2
} khang_stack_flags;

/** @brief Options for a walk (KHANG_STACK_OPTS_INIT). Older callers may pass
 *         a smaller size: the missing members take their defaults. */
typedef struct khang_stack_opts {
	size_t size;             /**< sizeof(khang_stack_opts) */
	uint32_t max_frames;     /**< 0: 256 (at most 4096) */
	uint32_t flags;          /**< khang_stack_flags */
	uint32_t scan_bytes;     /**< bytes of stack one scan looks at; 0: 0x4000 */
} khang_stack_opts;

/** Static initialiser for @ref khang_stack_opts. */
#define KHANG_STACK_OPTS_INIT KHANG_SIZED_INIT(khang_stack_opts)

/** @brief Why a walk ended (@ref khang_stack_end). */
typedef enum khang_stack_end_code {
	KHANG_STACK_END_COMPLETE = 0,     /**< the end of the stack: a return address of 0, or the thread's start */
	KHANG_STACK_END_FRAME_LIMIT = 1,  /**< max_frames reached */
	KHANG_STACK_END_NO_MODULE = 2,    /**< an address in no known module, and the scan found nothing */
	KHANG_STACK_END_NO_UNWIND = 3,    /**< no unwind data for a module, and the scan found nothing */
	KHANG_STACK_END_NOT_PRESENT = 4,  /**< a stack page (or a trap frame) is not in the dump */
	KHANG_STACK_END_BAD_SP = 5,       /**< the stack pointer left the thread's stacks or did not increase */
	KHANG_STACK_END_CORRUPT = 6,      /**< malformed unwind data, or a frame-pointer chain that is not one */
	KHANG_STACK_END_USER_MODE = 7     /**< stopped at the switch to user mode (KHANG_STACK_KERNEL_ONLY, or no process address space) */
} khang_stack_end_code;

/** @brief Where a thread's walk started (@ref khang_stack_start). */
typedef enum khang_stack_start_code {
	KHANG_STACK_START_CONTEXT_VA = 0,    /**< a CONTEXT record at an address (khang_stack_walk_context) */
	KHANG_STACK_START_SWITCH_FRAME = 1,  /**< the switch frame at KTHREAD.KernelStack (a thread that is not running) */
	KHANG_STACK_START_DUMP_CONTEXT = 2,  /**< the dump header's context record (the thread running on the crashing processor) */
	KHANG_STACK_START_PRCB_CONTEXT = 3   /**< KPRCB.ProcessorState.ContextFrame of the processor the thread runs on */
} khang_stack_start_code;

/** @brief A frame with its module and symbol (@ref khang_stack_frame_info).
 *  Fill @c size first (KHANG_FRAME_INFO_INIT). Strings are owned by the
 *  stack and live as long as it. */
typedef struct khang_frame_info {
	size_t size;             /**< sizeof(khang_frame_info) */
	uint64_t ip;             /**< as khang_frame.ip */
	uint64_t sp;             /**< as khang_frame.sp */
	khang_frame_kind kind;   /**< as khang_frame.kind */
	int user_mode;           /**< 1 for a user-mode frame (read through the process's address space) */
	const char *module;      /**< WinDbg's module name ("nt", "amdppm", "ntdll"); "" when in no known module */
	uint64_t module_base;    /**< the module's base; 0 when in no module */
	const char *symbol;      /**< the function name when known, else "" */
	uint64_t offset;         /**< ip - symbol address, or ip - module base when no symbol is known */
	const char *text;        /**< "nt!KeWaitForSingleObject+0x377", "TmXPFlt+0x1bce3" or "0x..." */
	uint64_t trap_frame;     /**< KHANG_FRAME_TRAP frames continued through a KTRAP_FRAME: its address; else 0 */
} khang_frame_info;

/** Static initialiser for @ref khang_frame_info. */
#define KHANG_FRAME_INFO_INIT KHANG_SIZED_INIT(khang_frame_info)

/**
 * @brief Walk the stack from a CONTEXT record stored in the dump (for
 *        example the one a bugcheck parameter points to).
 * @param[out] out the stack; free with khang_stack_free(). Set even when the
 *             walk ended early (see khang_stack_end_reason()).
 * @param src the source
 * @param context_va address of the CONTEXT record (x64 or x86, as the dump)
 * @param opts options or NULL
 * @return 0; KHANG_ENOTPRESENT if the CONTEXT cannot be read;
 *         KHANG_EUNSUPPORTED for other architectures; KHANG_EINVAL;
 *         KHANG_ENOMEM.
 */
KHANG_API int khang_stack_walk_context(khang_stack **out, khang_source *src, uint64_t context_va,
                                       const khang_stack_opts *opts);

/**
 * @brief Walk a thread's stack.
 *
 * The walk starts from the thread's saved context: for a thread that is not
 * running, the switch frame at KTHREAD.KernelStack (x64: _KSWITCH_FRAME,
 * instruction pointer Return, stack pointer KernelStack + 0x40; x86: the
 * frame SwapContext leaves, see docs/stacks.md); for a running thread, the
 * dump header's context record when its stack pointer is on this thread's
 * stacks (the crashing processor), else the processor's
 * KPRCB.ProcessorState.ContextFrame. It stays within the thread's kernel
 * stack [StackLimit, StackBase] and the processor's DPC and ISR stacks, and
 * continues through system-call and interrupt trap frames into the previous
 * mode (user-mode frames are read through the process's address space and
 * named with the process's module list).
 * @param[out] out the stack; free with khang_stack_free(). Set even when the
 *             walk ended early (see khang_stack_end()).
 * @param thread the thread (borrowed from a source)
 * @param opts options or NULL
 * @return 0; KHANG_ENOTPRESENT when the starting context cannot be read
 *         (the switch frame's page, or the processor's context, is not in
 *         the dump); KHANG_EUNSUPPORTED (architecture, or no layout);
 *         KHANG_EINVAL; KHANG_ENOMEM.
 */
KHANG_API int khang_stack_walk(khang_stack **out, const khang_thread *thread, const khang_stack_opts *opts);

/**
 * @brief Number of frames (the first is the starting context).
 * @param stack the stack
 * @return the count (0 for NULL).
 */
KHANG_API size_t khang_stack_frame_count(const khang_stack *stack);

/**
 * @brief One frame.
 * @param[out] out the frame
 * @param stack the stack
 * @param index 0 .. count - 1
 * @return 0, KHANG_ERANGE, KHANG_EINVAL.
 */
KHANG_API int khang_stack_frame(khang_frame *out, const khang_stack *stack, size_t index);

/**
 * @brief One frame with its module and symbol (named on first request and
 *        kept in the stack).
 * @param[out] out the frame; set out->size first (KHANG_FRAME_INFO_INIT)
 * @param stack the stack
 * @param index 0 .. count - 1
 * @return 0, KHANG_ERANGE, KHANG_EINVAL (NULL, or a size too small);
 *         KHANG_ENOMEM.
 */
KHANG_API int khang_stack_frame_info(khang_frame_info *out, khang_stack *stack, size_t index);

/**
 * @brief Why the walk ended, as text.
 * @param stack the stack
 * @return a static or stack-owned string, never NULL.
 */
KHANG_API const char *khang_stack_end_reason(const khang_stack *stack);

/**
 * @brief Why the walk ended, as a code.
 * @param stack the stack
 * @return a khang_stack_end_code (KHANG_STACK_END_CORRUPT for NULL).
 */
KHANG_API khang_stack_end_code khang_stack_end(const khang_stack *stack);

/**
 * @brief Where the walk started.
 * @param stack the stack
 * @return a khang_stack_start_code.
 */
KHANG_API khang_stack_start_code khang_stack_start(const khang_stack *stack);

/**
 * @brief Address of the thread whose stack this is.
 * @param stack the stack
 * @return the ETHREAD address; 0 for a walk from a CONTEXT record or NULL.
 */
KHANG_API uint64_t khang_stack_thread_address(const khang_stack *stack);

/**
 * @brief Free a stack.
 * @param stack the stack, or NULL (nothing happens)
 */
KHANG_API void khang_stack_free(khang_stack *stack);

/* ---- unique stacks ----------------------------------------------------------- */

/** @brief Threads grouped by identical stacks (opaque, owned by the caller). */
typedef struct khang_unique_stacks khang_unique_stacks;

/** @brief Options of @ref khang_unique_stacks_new (KHANG_UNIQUE_OPTS_INIT). */
typedef struct khang_unique_opts {
	size_t size;                   /**< sizeof(khang_unique_opts) */
	const khang_process *process;  /**< only this process's threads; NULL: all threads */
	const char *module_filter;     /**< keep stacks with a frame in a module whose name holds this text (case-insensitive); NULL: all */
	const char *symbol_filter;     /**< keep stacks with a frame whose text ("nt!KeWait...+0x..") holds this text (case-insensitive); NULL: all */
	khang_stack_opts stack;        /**< options of each walk (size 0: defaults) */
} khang_unique_opts;

/** Static initialiser for @ref khang_unique_opts. */
#define KHANG_UNIQUE_OPTS_INIT KHANG_SIZED_INIT(khang_unique_opts)

/**
 * @brief Walk the stacks of all threads (or one process's) and group the
 *        threads whose frame lists (instruction pointers, in order) are
 *        equal, like !us and !mex.us: each distinct stack once, with its
 *        threads. Groups are sorted by thread count (largest first), then
 *        by the address of their first thread.
 *
 * Memory is proportional to the distinct stacks plus one address per
 * thread. A thread whose walk cannot start (its switch frame is not in the
 * dump) is counted in khang_unique_stacks_skipped().
 * @param[out] out the groups; free with khang_unique_stacks_free()
 * @param src the source
 * @param opts options or NULL
 * @return 0; KHANG_EUNSUPPORTED (no layout); errors of the thread iterator;
 *         KHANG_EINVAL; KHANG_ENOMEM.
 */
KHANG_API int khang_unique_stacks_new(khang_unique_stacks **out, khang_source *src, const khang_unique_opts *opts);

/**
 * @brief Number of groups (distinct stacks kept by the filters).
 * @param u the groups
 * @return the count (0 for NULL).
 */
KHANG_API size_t khang_unique_stacks_count(const khang_unique_stacks *u);

/**
 * @brief Threads in the groups kept (the sum of the groups' sizes).
 * @param u the groups
 * @return the count.
 */
KHANG_API size_t khang_unique_stacks_thread_total(const khang_unique_stacks *u);

/**
 * @brief Threads walked (before filtering).
 * @param u the groups
 * @return the count.
 */
KHANG_API size_t khang_unique_stacks_walked(const khang_unique_stacks *u);

/**
 * @brief Threads whose stack could not be walked at all.
 * @param u the groups
 * @return the count.
 */
KHANG_API uint32_t khang_unique_stacks_skipped(const khang_unique_stacks *u);

/**
 * @brief The stack of a group (that of its first thread).
 * @param u the groups
 * @param group 0 .. count - 1
 * @return the stack, owned by @p u (do not free); NULL when out of range.
 */
KHANG_API khang_stack *khang_unique_stacks_stack(const khang_unique_stacks *u, size_t group);

/**
 * @brief Number of threads of a group.
 * @param u the groups
 * @param group 0 .. count - 1
 * @return the count; 0 when out of range.
 */
KHANG_API size_t khang_unique_stacks_thread_count(const khang_unique_stacks *u, size_t group);

/**
 * @brief One thread of a group (in thread-list order).
 * @param u the groups
 * @param group 0 .. count - 1
 * @param index 0 .. khang_unique_stacks_thread_count() - 1
 * @return the thread, borrowed from the source; NULL when out of range.
 */
KHANG_API const khang_thread *khang_unique_stacks_thread(const khang_unique_stacks *u, size_t group, size_t index);

/**
 * @brief Free the groups (and their stacks).
 * @param u the groups, or NULL (nothing happens)
 */
KHANG_API void khang_unique_stacks_free(khang_unique_stacks *u);

KHANG_END_DECL

#endif /* KHANG_STACK_H */

/**
 * @file khang/stack.h
 * @brief Call stacks: x64 unwinding with the unwind data of the images in
 *        the dump (or found on the image search path).
 *
 * A walk starts from a register context and steps frame by frame. It is
 * bounded (frame count, strictly increasing stack pointer) and ends with a
 * reason: the end of the stack, an address in no module, a module whose
 * unwind data is not available, an unreadable stack page.
 *
 * Thread safety: as for the source (one thread at a time per source).
 */
#ifndef KHANG_STACK_H
#define KHANG_STACK_H

#include "common.h"
#include "source.h"

KHANG_BEGIN_DECL

/** @brief A walked call stack (opaque, owned by the caller). */
typedef struct khang_stack khang_stack;

/** @brief How a frame was found. */
typedef enum khang_frame_kind {
	KHANG_FRAME_CONTEXT = 0, /**< the starting context itself */
	KHANG_FRAME_UNWIND = 1,  /**< unwound with the function's unwind data */
	KHANG_FRAME_LEAF = 2,    /**< caller of a leaf function (return address at the stack pointer) */
	KHANG_FRAME_TRAP = 3,    /**< continued through a machine frame (interrupt, exception, trap) */
	KHANG_FRAME_SCAN = 4     /**< found by scanning the stack: lower confidence */
} khang_frame_kind;

/** @brief One frame. */
typedef struct khang_frame {
	uint64_t ip;             /**< instruction pointer (the return address for callers) */
	uint64_t sp;             /**< stack pointer in that frame */
	khang_frame_kind kind;   /**< how it was found */
} khang_frame;

/** @brief Options for a walk (KHANG_STACK_OPTS_INIT). */
typedef struct khang_stack_opts {
	size_t size;             /**< sizeof(khang_stack_opts) */
	uint32_t max_frames;     /**< 0: 256 */
} khang_stack_opts;

/** Static initialiser for @ref khang_stack_opts. */
#define KHANG_STACK_OPTS_INIT KHANG_SIZED_INIT(khang_stack_opts)

/**
 * @brief Walk the stack from an x64 CONTEXT record stored in the dump (for
 *        example the one a bugcheck parameter points to).
 * @param[out] out the stack; free with khang_stack_free(). Set even when the
 *             walk ended early (see khang_stack_end_reason()).
 * @param src the source
 * @param context_va address of the CONTEXT record
 * @param opts options or NULL
 * @return 0; KHANG_ENOTPRESENT if the CONTEXT cannot be read;
 *         KHANG_EUNSUPPORTED for architectures other than x64;
 *         KHANG_EINVAL; KHANG_ENOMEM.
 */
KHANG_API int khang_stack_walk_context(khang_stack **out, khang_source *src, uint64_t context_va,
                                       const khang_stack_opts *opts);

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
 * @brief Why the walk ended.
 * @param stack the stack
 * @return a static or stack-owned string, never NULL.
 */
KHANG_API const char *khang_stack_end_reason(const khang_stack *stack);

/**
 * @brief Free a stack.
 * @param stack the stack, or NULL (nothing happens)
 */
KHANG_API void khang_stack_free(khang_stack *stack);

KHANG_END_DECL

#endif /* KHANG_STACK_H */

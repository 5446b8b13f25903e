/* Stack walking (internal): register sets and the x64 unwinder. */
#ifndef KH_STACK_INT_H
#define KH_STACK_INT_H

#include "kernel/kernel.h"
#include "khang/stack.h"

/* x64 registers in CONTEXT / unwind-code order: rax rcx rdx rbx rsp rbp rsi
 * rdi r8..r15, then rip. */
enum { KH_RAX = 0, KH_RSP = 4, KH_RBP = 5, KH_R15 = 15, KH_RIP = 16, KH_NREGS = 17 };

typedef struct kh_regs {
	uint64_t r[KH_NREGS];
} kh_regs;

/* Registers from an x64 CONTEXT record (at least 0x100 bytes). */
int kh_regs_from_context_x64(kh_regs *out, const uint8_t *ctx, size_t len);

/* Reads 8 bytes of stack at va. */
typedef int (*kh_mem_read_fn)(void *ctx, uint64_t va, uint64_t *out);

/* One unwind step in a given image: rva is rip's offset in it, name is for
 * messages. Memory comes from read. Same results as kh_unwind_x64_step. */
int kh_unwind_x64_image(kh_pe *pe, uint32_t rva, const char *name, kh_mem_read_fn read, void *ctx, kh_regs *regs,
                        khang_frame_kind *kind);

/* One unwind step: regs holds a frame's registers; on success it holds the
 * caller's, and *kind says how the step was made. Errors end the walk with
 * a message (module unknown, no unwind data, unreadable stack, ...). */
int kh_unwind_x64_step(khang_source *src, kh_regs *regs, khang_frame_kind *kind);

#endif /* KH_STACK_INT_H */

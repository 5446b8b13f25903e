/*
 * fg_stack: thread stacks for tests, benchmarks and fuzz seeds, built on
 * top of fg_kernel's public functions.
 *
 * - Modules: synthetic x64/x86 PE images (fg_pe) whose functions are
 *   described by their x64 unwind codes (every operation, chained info,
 *   machine frames) or, on x86, by an ebp frame of a given size. Kernel
 *   modules go on PsLoadedModuleList; the kernel itself ("nt") is rebuilt
 *   with functions at the RVAs the layout gives their names; user-mode
 *   modules go into a process's address space and PEB loader list.
 * - Chains: a stack is built outermost frame first, as the code would have
 *   left it: calls (return address, then the callee's prologue, simulated
 *   from the same unwind codes the image carries), interrupts (a machine
 *   frame, or a KTRAP_FRAME for nt's trap entry points), system calls
 *   (user-mode frames, then a KTRAP_FRAME at the top of the kernel stack).
 *   Every frame is recorded with the stack pointer and the kind a correct
 *   walk must report, innermost first.
 * - Ends: a waiting thread's switch frame (x64 _KSWITCH_FRAME; the x86
 *   frame SwapContext leaves), or a running thread's context in the dump
 *   header or its processor's KPRCB.ProcessorState.ContextFrame.
 *
 * Test code: failures abort.
 */
#ifndef FG_STACK_H
#define FG_STACK_H

#include <stdbool.h>
#include <stdint.h>

#include "fg_kernel.h"

/* unwind code slot: offset in prologue, operation, info */
#define FG_UW(off, op, info) ((uint16_t)((off) | ((op) << 8) | ((info) << 12)))
enum {
	FG_UWOP_PUSH_NONVOL = 0,
	FG_UWOP_ALLOC_LARGE = 1,
	FG_UWOP_ALLOC_SMALL = 2,
	FG_UWOP_SET_FPREG = 3,
	FG_UWOP_SAVE_NONVOL = 4,
	FG_UWOP_SAVE_NONVOL_FAR = 5,
	FG_UWOP_SAVE_XMM128 = 8,
	FG_UWOP_SAVE_XMM128_FAR = 9,
	FG_UWOP_PUSH_MACHFRAME = 10
};
enum { FG_RAX, FG_RCX, FG_RDX, FG_RBX, FG_RSP, FG_RBP, FG_RSI, FG_RDI, FG_R8, FG_R9, FG_R10, FG_R11, FG_R12, FG_R13, FG_R14, FG_R15 };

typedef struct fg_stack fg_stack;
typedef struct fg_module fg_module;
typedef struct fg_fn fg_fn;
typedef struct fg_chain fg_chain;

/* k must have been built in f. */
fg_stack *fg_stack_new(fg_forge *f, fg_kernel *k);
void fg_stack_free(fg_stack *s);
fg_kernel *fg_stack_kernel(const fg_stack *s);

/* ---- modules ------------------------------------------------------------------ */

/* A kernel module at base with text_size bytes of code (image built and
 * listed by fg_module_place). */
fg_module *fg_stack_module(fg_stack *s, const char *name, uint64_t base, uint32_t text_size);
/* The kernel image, to add nt functions at their layout RVAs. */
fg_module *fg_stack_nt(fg_stack *s);
/* A user-mode module of a process prepared with fg_stack_user_process. */
fg_module *fg_stack_user_module(fg_stack *s, uint64_t process, const char *name, uint64_t base, uint32_t text_size);

/* An x64 function: size bytes at rva (0: the next free place; nt: the
 * layout's RVA of name), its UNWIND_INFO (prologue size, frame register and
 * offset/16, codes in unwind order), chained to parent when not NULL (the
 * chained part holds only its own codes). An export of that name is added
 * (for nt only when rva is given: layouts without function RVAs, such as
 * the x86 ones, name nt's frames from its exports). Returns the function. */
fg_fn *fg_fn_x64(fg_module *m, const char *name, uint32_t rva, uint32_t size, uint8_t prolog, uint8_t frame_reg,
                 uint8_t frame_off16, const uint16_t *codes, unsigned ncodes, fg_fn *parent);
/* A function without a RUNTIME_FUNCTION (x64 leaf). */
fg_fn *fg_fn_leaf(fg_module *m, const char *name, uint32_t rva, uint32_t size);
/* An x86 function: "push ebp; mov ebp, esp; sub esp, locals" (ebp frame),
 * or with ebp_frame false: KiSwapContext's "sub esp, 10h" saving ebx, esi,
 * edi, ebp (a switch frame's frame 0). */
fg_fn *fg_fn_x86(fg_module *m, const char *name, uint32_t rva, uint32_t size, uint32_t locals, bool ebp_frame);
uint64_t fg_fn_va(const fg_fn *f);
/* Raw bytes in the module's code (e.g. an epilogue). */
void fg_module_write(fg_module *m, uint32_t rva, const void *data, size_t len);

enum fg_place_flags {
	FG_PLACE_NO_IMAGE = 1u << 0,  /* listed, but no page of the image in the dump */
	FG_PLACE_NO_PDATA = 1u << 1,  /* the image without its exception directory */
	FG_PLACE_HEADERS_ONLY = 1u << 2 /* only the header page in the dump (code missing) */
};
/* Build the image, write it to the dump (as flags say) and list the module.
 * Call after the chains that use it (call sites are written into it). */
void fg_module_place(fg_module *m, unsigned flags);
/* Write the image as a file (for the image search path). */
void fg_module_save(fg_module *m, const char *path);
uint64_t fg_module_base(const fg_module *m);

/* ---- processes in user mode ------------------------------------------------------ */

/* Give a process its own address space (KPROCESS.DirectoryTableBase), a PEB
 * and an empty loader list. Returns the DTB. */
uint64_t fg_stack_user_process(fg_stack *s, uint64_t process, uint64_t peb);
/* A thread's TEB with its user stack [limit, base). */
void fg_stack_user_teb(fg_stack *s, uint64_t thread, uint64_t process, uint64_t teb, uint64_t stack_base,
                       uint64_t stack_limit);

/* ---- chains -------------------------------------------------------------------- */

typedef struct fg_frame {
	uint64_t ip, sp;
	int kind;          /* khang_frame_kind */
	bool user;
	uint64_t trap;     /* KTRAP_FRAME for trap continuations */
} fg_frame;

#define FG_MAX_FRAMES 64

/* A thread's stack: its kernel stack [top - size, top) (KTHREAD
 * InitialStack/StackBase/StackLimit are set). */
fg_chain *fg_chain_new(fg_stack *s, uint64_t thread, uint64_t kstack_top, uint32_t kstack_size);
void fg_chain_free(fg_chain *c);
/* Start in user mode (before the first call) with a user stack top. */
void fg_chain_user(fg_chain *c, uint64_t process, uint64_t user_top);
/* The outermost frame is the first call (its caller's return address is
 * 0). ip_off: offset of the frame's instruction pointer in fn (for a caller:
 * a return address; a call is written before it). */
void fg_chain_call(fg_chain *c, fg_fn *fn, uint32_t ip_off);
/* Innermost frame in its prologue: only codes at offsets <= ip_off run. */
void fg_chain_call_partial(fg_chain *c, fg_fn *fn, uint32_t ip_off);
/* The current innermost function allocates more (alloca, frame pointers). */
void fg_chain_alloca(fg_chain *c, uint32_t bytes);
/* An interrupt in the innermost frame taken by a handler whose codes start
 * with PUSH_MACHFRAME (info: error code). */
void fg_chain_interrupt(fg_chain *c, fg_fn *handler, uint32_t ip_off);
/* An interrupt or exception through a KTRAP_FRAME (nt trap entry point
 * such as KiPageFault); the handler frame's sp (x64) / ebp (x86) is the
 * trap frame. */
void fg_chain_trap(fg_chain *c, fg_fn *entry, uint32_t ip_off);
/* A system call from the innermost (user-mode) frame: KTRAP_FRAME at the
 * top of the kernel stack (KTHREAD.TrapFrame), then the entry frame
 * (KiSystemServiceCopyEnd / KiFastCallEntry) at ip_off. */
void fg_chain_syscall(fg_chain *c, fg_fn *entry, uint32_t ip_off);

/* Finish as a waiting thread: the switch frame below the innermost frame
 * (which must be KiSwapContext: x64 any function, x86 an fg_fn_x86 with
 * ebp_frame false), KTHREAD.KernelStack, state Waiting. */
void fg_chain_wait(fg_chain *c);
/* Finish as a running thread on cpu: its context in the dump header
 * (header true) or in the processor's KPRCB context; state Running,
 * current thread of cpu. */
void fg_chain_run(fg_chain *c, uint32_t cpu, bool header);

/* The frames a correct walk gives, innermost first. */
size_t fg_chain_frames(const fg_chain *c, fg_frame *out, size_t cap);
/* Address of the stack slot holding frame i's return address (the slot
 * below frame i + 1's sp), for tests that damage stacks. */
uint64_t fg_chain_ret_slot(const fg_chain *c, size_t i);
uint64_t fg_chain_kernel_stack(const fg_chain *c);

/* ---- samples (fg_stack_sample.c) --------------------------------------------------- */

/* The systems of the stack golden tests and fuzz_stack's base dumps
 * (written as FG_FMT_BITMAP_KERNEL, kernel pages only):
 * 0 x64 Windows 10 2004: app.exe with a user address space (ntdll.dll on
 *   its loader list); three system threads waiting with one stack through
 *   filter.sys, one with another; a system call from user mode; a thread
 *   running on processor 1 (the dump header's context); a stack through a
 *   driver without unwind data (scanned frames);
 * 1 x86 PAE Windows 7 SP1: two threads with one stack, one system call.
 * NULL if the layout is missing. */
#define FG_STACK_SAMPLES 2
fg_forge *fg_stack_sample(int which);

#endif /* FG_STACK_H */

/* Stack walking (internal): register sets, the x64 unwinder, the walker
 * shared by thread walks, CONTEXT walks and unique stacks. */
#ifndef KH_STACK_INT_H
#define KH_STACK_INT_H

#include "kernel/kernel.h"
#include "khang/stack.h"

/* x64 registers in CONTEXT / unwind-code order: rax rcx rdx rbx rsp rbp rsi
 * rdi r8..r15, then rip. x86 uses the same slots for eax..edi, eip. */
enum { KH_RAX = 0, KH_RBX = 3, KH_RSP = 4, KH_RBP = 5, KH_RSI = 6, KH_RDI = 7, KH_R15 = 15, KH_RIP = 16, KH_NREGS = 17 };

typedef struct kh_regs {
	uint64_t r[KH_NREGS];
} kh_regs;

/* Registers from an x64 CONTEXT record (at least 0x100 bytes). */
int kh_regs_from_context_x64(kh_regs *out, const uint8_t *ctx, size_t len);
/* Registers from an x86 CONTEXT record (at least 0xCC bytes). */
int kh_regs_from_context_x86(kh_regs *out, const uint8_t *ctx, size_t len);

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

/* ---- user-mode modules of a process (umods.c) ------------------------------ */

typedef struct kh_umod {
	uint64_t base;
	uint32_t size;
	uint32_t timestamp;
	char name[64];        /* BaseDllName */
	char short_name[64];  /* without extension */
	bool pe_tried, pe_ok;
	kh_pe pe;             /* read through the process's address space */
	void *pe_ctx;
} kh_umod;

typedef struct kh_umods {
	uint64_t process;     /* EPROCESS */
	uint64_t dtb;
	bool loaded;
	kh_umod *mods;        /* sorted by base */
	size_t n;
} kh_umods;

/* Load the module list of the process (PEB.Ldr InLoadOrderModuleList,
 * bounded) once. Never fails hard: an unreadable PEB gives no modules. */
void kh_umods_load(khang_source *src, kh_umods *u);
kh_umod *kh_umods_at(kh_umods *u, uint64_t va);
/* The module's image (parsed on first use), or NULL. */
kh_pe *kh_umod_image(khang_source *src, kh_umods *u, kh_umod *m);
void kh_umods_free(khang_source *src, kh_umods *u);

/* ---- the walker (walk.c) ---------------------------------------------------- */

/* A stack range [lo, hi) a walk may use. */
typedef struct kh_range {
	uint64_t lo, hi;
	bool user;
} kh_range;

#define KH_MAX_RANGES 6

/* Per-frame extras kept beside the public khang_frame. */
typedef struct kh_frame_x {
	uint64_t trap;        /* KTRAP_FRAME address for trap continuations */
	uint8_t user;         /* user-mode frame */
} kh_frame_x;

/* Names of a frame, made on request (stack.c). */
typedef struct kh_frame_names {
	char *module;
	char *symbol;
	char *text;
	uint64_t module_base;
	uint64_t offset;
} kh_frame_names;

struct khang_stack {
	uint32_t magic;
	khang_source *src;
	khang_frame *frames;
	kh_frame_x *fx;
	kh_frame_names *names;   /* NULL until a frame's names are asked for */
	size_t nframes, cap;
	uint64_t thread;         /* ETHREAD, 0 for CONTEXT walks */
	uint64_t process;        /* EPROCESS of the thread (user modules) */
	uint64_t dtb;            /* the process's DTB (0: none) */
	khang_stack_end_code end;
	khang_stack_start_code start;
	struct kh_umods *umods;  /* borrowed from the walk cache while walking; owned copy for naming (may be NULL) */
	bool owns_umods;
	char end_reason[256];
};

#define KH_STACK_MAGIC 0x4b485354u /* 'KHST' */

/* Options normalised. */
typedef struct kh_walk_opts {
	uint32_t max_frames;
	uint32_t flags;
	uint32_t scan_bytes;
} kh_walk_opts;

int kh_walk_opts_get(kh_walk_opts *out, const khang_stack_opts *opts, const char *who);

/* A cache shared by the walks of many threads (unique stacks): the user
 * modules of the last process seen. */
#define KH_MAX_TRAP_FNS 32

typedef struct kh_walk_cache {
	khang_source *src;
	kh_umods umods;
	/* RVA ranges of nt's trap entry points (from the layout), found once */
	bool traps_ready;
	unsigned ntrap;
	uint32_t trap_lo[KH_MAX_TRAP_FNS], trap_hi[KH_MAX_TRAP_FNS];
} kh_walk_cache;

void kh_walk_cache_free(kh_walk_cache *c);

/* Walk a thread with a cache (NULL: a private one). */
int kh_stack_walk_thread(khang_stack **out, const khang_thread *thread, const kh_walk_opts *o, kh_walk_cache *cache);

/* Stack objects (stack.c). */
khang_stack *kh_stack_new(khang_source *src);
int kh_stack_push(khang_stack *s, uint64_t ip, uint64_t sp, khang_frame_kind kind, uint64_t trap, bool user);
void kh_stack_set_end(khang_stack *s, khang_stack_end_code code, const char *fmt, ...) KH_PRINTF(3, 4);

/* Walk from a register set (walk.c): the core loop. */
typedef struct kh_walk kh_walk;
int kh_walk_from_regs(khang_stack *s, kh_walk *w, kh_regs *regs, bool user);

/* Is there a call instruction just before ret? 1 yes, 0 no, -1 the code
 * bytes are not readable (scan.c). x86: 32-bit code (no REX). */
int kh_call_before(khang_source *src, uint64_t dtb, kh_pe *pe, uint64_t base, uint64_t ret, bool x86);

#endif /* KH_STACK_INT_H */

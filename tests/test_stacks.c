/*
 * Thread stacks on writer-made dumps (tests/forge/fg_stack): synthetic
 * images whose .pdata uses every unwind operation, stacks built to match,
 * and walks that must return exactly the frames written -- x64 and x86,
 * waiting and running threads, trap frames into user mode, the scan
 * fallback, damaged stacks, the image search path, and unique stacks.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "khang.h"
#include "fg_stack.h"
#include "layout/layout.h"

#define DRV 0xfffff80560000000ull
#define DRV2 0xfffff80561000000ull
#define DRV3 0xfffff80562000000ull
#define KSTACK 0xffffd00021580000ull
#define KSIZE 0x6000u
#define UW FG_UW

typedef struct world {
	fg_forge *f;
	fg_kernel *k;
	fg_stack *s;
	bool x86;
	uint8_t *buf;
	size_t len;
	khang_source *src;
	uint64_t proc;
} world;

static const kh_layout *x64_layout(void)
{
	const kh_layout *l = kh_layout_builtin_by_guid_string("5278AFF86C341677D7D7835C85B7B844", 1);
	assert_non_null(l);
	return l;
}

static const kh_layout *x86_layout(void)
{
	kh_layout_candidate c[4];
	assert_true(kh_layout_builtin_candidates(KHANG_ARCH_X86, 7601, 1, c, 4) > 0);
	return c[0].layout;
}

static void world_new(world *w, const kh_layout *l)
{
	memset(w, 0, sizeof(*w));
	kh_layout_info li;
	kh_layout_get_info(l, &li);
	w->x86 = li.arch == KHANG_ARCH_X86;
	w->f = fg_new(w->x86 ? (li.pae ? FG_X86_PAE : FG_X86) : FG_X64, 16384);
	assert_non_null(w->f);
	fg_kernel_opts o = { 0 };
	o.ncpus = 2;
	w->k = fg_kernel_new(w->f, l, &o);
	assert_non_null(w->k);
	w->s = fg_stack_new(w->f, w->k);
	w->proc = fg_kernel_add_process(w->k, "app.exe", 0x100, 4);
}

static void world_open(world *w, const khang_source_opts *so)
{
	fg_write_opts wo = FG_WRITE_OPTS_INIT;
	wo.format = FG_FMT_BITMAP_KERNEL;
	wo.kernel_only = 1;
	assert_int_equal(fg_write_memory(w->f, &w->buf, &w->len, &wo), 0);
	int rc = khang_source_open_memory(&w->src, w->buf, w->len, so);
	if (rc)
		fprintf(stderr, "open: %s\n", khang_error_last());
	assert_int_equal(rc, 0);
}

static void world_free(world *w)
{
	khang_source_free(w->src);
	free(w->buf);
	fg_stack_free(w->s);
	fg_kernel_free(w->k);
	fg_free(w->f);
}

static khang_stack *walk(world *w, uint64_t thread, uint32_t flags)
{
	const khang_thread *t;
	khang_stack *st;
	khang_stack_opts o = KHANG_STACK_OPTS_INIT;
	o.flags = flags;
	assert_int_equal(khang_thread_by_address(&t, w->src, thread), 0);
	int rc = khang_stack_walk(&st, t, &o);
	if (rc)
		fprintf(stderr, "walk: %s\n", khang_error_last());
	assert_int_equal(rc, 0);
	return st;
}

static void print_stack(khang_stack *st)
{
	for (size_t i = 0; i < khang_stack_frame_count(st); i++) {
		khang_frame_info fi = KHANG_FRAME_INFO_INIT;
		assert_int_equal(khang_stack_frame_info(&fi, st, i), 0);
		printf("  %2zu %016llx %016llx %d %s\n", i, (unsigned long long)fi.sp, (unsigned long long)fi.ip, fi.kind,
		       fi.text);
	}
	printf("  end %d: %s\n", khang_stack_end(st), khang_stack_end_reason(st));
}

/* The walk gives exactly the frames written. */
static void expect_frames(khang_stack *st, const fg_frame *want, size_t n)
{
	if (khang_stack_frame_count(st) != n)
		print_stack(st);
	assert_int_equal(khang_stack_frame_count(st), n);
	for (size_t i = 0; i < n; i++) {
		khang_frame_info fi = KHANG_FRAME_INFO_INIT;
		assert_int_equal(khang_stack_frame_info(&fi, st, i), 0);
		if (fi.ip != want[i].ip || fi.sp != want[i].sp || (int)fi.kind != want[i].kind) {
			print_stack(st);
			printf("frame %zu: want %016llx %016llx %d\n", i, (unsigned long long)want[i].sp,
			       (unsigned long long)want[i].ip, want[i].kind);
		}
		assert_int_equal(fi.ip, want[i].ip);
		assert_int_equal(fi.sp, want[i].sp);
		assert_int_equal(fi.kind, want[i].kind);
		assert_int_equal(fi.user_mode, want[i].user);
		if (want[i].kind == KHANG_FRAME_TRAP && want[i].trap)
			assert_int_equal(fi.trap_frame, want[i].trap);
	}
}

/* Walk thread t and check it gives exactly the frames chain c wrote. */
static khang_stack *walk_expect(world *w, fg_chain *c, uint64_t t)
{
	fg_frame want[FG_MAX_FRAMES];
	size_t n = fg_chain_frames(c, want, FG_MAX_FRAMES);
	khang_stack *st = walk(w, t, 0);
	expect_frames(st, want, n);
	return st;
}


/* The same frames from the CONTEXT record in processor cpu's KPRCB (a walk
 * that knows no thread: unbounded, kinds and addresses unchanged). */
static void expect_context_walk(world *w, uint32_t cpu, const fg_frame *want, size_t n)
{
	const kh_layout *l = fg_kernel_layout(w->k);
	uint64_t at = fg_kernel_prcb(w->k, cpu) + kh_layout_offset(l, KH_F_KPRCB_ProcessorState) +
	              kh_layout_offset(l, KH_F_KPROCESSOR_STATE_ContextFrame);
	khang_stack *st;
	assert_int_equal(khang_stack_walk_context(&st, w->src, at, NULL), 0);
	assert_int_equal(khang_stack_start(st), KHANG_STACK_START_CONTEXT_VA);
	assert_int_equal(khang_stack_thread_address(st), 0);
	expect_frames(st, want, n);
	khang_stack_free(st);
	assert_int_equal(khang_stack_walk_context(&st, w->src, 0x1000, NULL), KHANG_ENOTPRESENT);
}

static const char *frame_text(khang_stack *st, size_t i)
{
	khang_frame_info fi = KHANG_FRAME_INFO_INIT;
	assert_int_equal(khang_stack_frame_info(&fi, st, i), 0);
	return fi.text;
}

/* ---- x64: the functions ------------------------------------------------------------- */

typedef struct fns64 {
	fg_module *nt, *drv;
	fg_fn *start, *swap, *swap_thread, *commit, *wait;
	fg_fn *small, *large0, *large1, *fp, *cparent, *cchild, *intr, *intr_err, *leaf;
} fns64;

static void make_fns64(world *w, fns64 *x)
{
	x->nt = fg_stack_nt(w->s);
	/* KiSwapContext saves every non-volatile register (as the real one does) */
	static const uint16_t swap[] = { UW(18, FG_UWOP_ALLOC_SMALL, 4),  UW(14, FG_UWOP_PUSH_NONVOL, FG_R15),
		                         UW(12, FG_UWOP_PUSH_NONVOL, FG_R14), UW(10, FG_UWOP_PUSH_NONVOL, FG_R13),
		                         UW(8, FG_UWOP_PUSH_NONVOL, FG_R12),  UW(6, FG_UWOP_PUSH_NONVOL, FG_RDI),
		                         UW(5, FG_UWOP_PUSH_NONVOL, FG_RSI),  UW(4, FG_UWOP_PUSH_NONVOL, FG_RBX),
		                         UW(2, FG_UWOP_PUSH_NONVOL, FG_RBP) };
	x->swap = fg_fn_x64(x->nt, "KiSwapContext", 0, 0x100, 18, 0, 0, swap, 9, NULL);
	static const uint16_t st[] = { UW(4, FG_UWOP_ALLOC_SMALL, 5) };
	x->start = fg_fn_x64(x->nt, "KiStartSystemThread", 0, 0x40, 4, 0, 0, st, 1, NULL);
	static const uint16_t sw[] = { UW(7, FG_UWOP_ALLOC_LARGE, 0), 0x130 / 8, UW(2, FG_UWOP_PUSH_NONVOL, FG_RBX),
		                       UW(1, FG_UWOP_PUSH_NONVOL, FG_RBP) };
	x->swap_thread = fg_fn_x64(x->nt, "KiSwapThread", 0, 0x200, 7, 0, 0, sw, 4, NULL);
	static const uint16_t cm[] = { UW(4, FG_UWOP_ALLOC_SMALL, 9), UW(2, FG_UWOP_PUSH_NONVOL, FG_R12) };
	x->commit = fg_fn_x64(x->nt, "KiCommitThreadWait", 0, 0x200, 4, 0, 0, cm, 2, NULL);
	static const uint16_t kw[] = { UW(9, FG_UWOP_SAVE_NONVOL, FG_RSI), 0x40 / 8, UW(5, FG_UWOP_ALLOC_SMALL, 13),
		                       UW(1, FG_UWOP_PUSH_NONVOL, FG_RDI) };
	x->wait = fg_fn_x64(x->nt, "KeWaitForSingleObject", 0, 0x400, 9, 0, 0, kw, 4, NULL);

	x->drv = fg_stack_module(w->s, "drv.sys", DRV, 0x10000);
	/* push rbx; push rbp; sub rsp, 0x28 */
	static const uint16_t sm[] = { UW(6, FG_UWOP_ALLOC_SMALL, 4), UW(2, FG_UWOP_PUSH_NONVOL, FG_RBP),
		                       UW(1, FG_UWOP_PUSH_NONVOL, FG_RBX) };
	x->small = fg_fn_x64(x->drv, "SmallFrame", 0, 0x100, 6, 0, 0, sm, 3, NULL);
	/* push rdi; sub rsp, 0x200 (large, size/8); mov [rsp+0x100], rsi */
	static const uint16_t l0[] = { UW(12, FG_UWOP_SAVE_NONVOL, FG_RSI), 0x100 / 8, UW(8, FG_UWOP_ALLOC_LARGE, 0),
		                       0x200 / 8, UW(1, FG_UWOP_PUSH_NONVOL, FG_RDI) };
	x->large0 = fg_fn_x64(x->drv, "LargeFrame", 0, 0x100, 12, 0, 0, l0, 5, NULL);
	/* sub rsp, 0x310 (large, 32-bit size); r12 at +0x20 (far); xmm6 at +0x40; xmm7 at +0x60 (far) */
	static const uint16_t l1[] = { UW(24, FG_UWOP_SAVE_XMM128_FAR, 7), 0x60, 0, UW(18, FG_UWOP_SAVE_XMM128, 6), 0x40 / 16,
		                       UW(13, FG_UWOP_SAVE_NONVOL_FAR, FG_R12), 0x20, 0, UW(7, FG_UWOP_ALLOC_LARGE, 1), 0x310, 0 };
	x->large1 = fg_fn_x64(x->drv, "HugeFrame", 0, 0x100, 24, 0, 0, l1, 11, NULL);
	/* push rbp; sub rsp, 0x40; lea rbp, [rsp+0x20]; then alloca */
	static const uint16_t fp[] = { UW(10, FG_UWOP_SET_FPREG, 0), UW(5, FG_UWOP_ALLOC_SMALL, 7),
		                       UW(1, FG_UWOP_PUSH_NONVOL, FG_RBP) };
	x->fp = fg_fn_x64(x->drv, "FramePointer", 0, 0x100, 10, FG_RBP, 2, fp, 3, NULL);
	/* chained: the parent pushes r13, the chained part allocates 0x20 */
	static const uint16_t cp[] = { UW(2, FG_UWOP_PUSH_NONVOL, FG_R13) };
	x->cparent = fg_fn_x64(x->drv, "ChainParent", 0, 0x40, 2, 0, 0, cp, 1, NULL);
	static const uint16_t cc[] = { UW(4, FG_UWOP_ALLOC_SMALL, 3) };
	x->cchild = fg_fn_x64(x->drv, "ChainChild", 0, 0x100, 4, 0, 0, cc, 1, x->cparent);
	/* interrupt handlers: machine frame (without / with error code), then sub rsp, 0x18 */
	static const uint16_t in0[] = { UW(4, FG_UWOP_ALLOC_SMALL, 2), UW(0, FG_UWOP_PUSH_MACHFRAME, 0) };
	x->intr = fg_fn_x64(x->drv, "Interrupt", 0, 0x100, 4, 0, 0, in0, 2, NULL);
	static const uint16_t in1[] = { UW(4, FG_UWOP_ALLOC_SMALL, 2), UW(0, FG_UWOP_PUSH_MACHFRAME, 1) };
	x->intr_err = fg_fn_x64(x->drv, "Exception", 0, 0x100, 4, 0, 0, in1, 2, NULL);
	x->leaf = fg_fn_leaf(x->drv, "Leaf", 0, 0x20);
}

/* A system thread through every kind of frame, waiting. */
static uint64_t build_all_codes(world *w, fns64 *x, fg_chain **out, uint64_t top, uint32_t tid)
{
	uint64_t t = fg_kernel_add_thread(w->k, w->proc, tid);
	fg_chain *c = fg_chain_new(w->s, t, top, KSIZE);
	fg_chain_call(c, x->start, 0x28);
	fg_chain_call(c, x->cchild, 0x40);
	fg_chain_call(c, x->large1, 0x60);
	fg_chain_call(c, x->fp, 0x50);
	fg_chain_alloca(c, 0x100);
	fg_chain_call(c, x->large0, 0x30);
	fg_chain_call(c, x->small, 0x40);
	fg_chain_interrupt(c, x->intr_err, 0x20);
	fg_chain_call(c, x->small, 0x48);
	fg_chain_interrupt(c, x->intr, 0x30);
	fg_chain_call(c, x->wait, 0x377);
	fg_chain_call(c, x->commit, 0x14f);
	fg_chain_call(c, x->swap_thread, 0x17d);
	fg_chain_call(c, x->swap, 0x76);
	fg_chain_wait(c);
	*out = c;
	return t;
}

static void test_x64_waiting_all_codes(void **state)
{
	world w;
	fns64 x;
	fg_chain *c;
	(void)state;
	world_new(&w, x64_layout());
	make_fns64(&w, &x);
	uint64_t t = build_all_codes(&w, &x, &c, KSTACK, 0x200);
	fg_module_place(x.nt, 0);
	fg_module_place(x.drv, 0);
	world_open(&w, NULL);
	fg_frame want[FG_MAX_FRAMES];
	size_t n = fg_chain_frames(c, want, FG_MAX_FRAMES);
	khang_stack *st = walk(&w, t, 0);
	expect_frames(st, want, n);
	assert_int_equal(khang_stack_end(st), KHANG_STACK_END_COMPLETE);
	assert_int_equal(khang_stack_start(st), KHANG_STACK_START_SWITCH_FRAME);
	assert_int_equal(khang_stack_thread_address(st), t);
	/* WinDbg's names: nt from the layout's symbols, drivers by export */
	assert_string_equal(frame_text(st, 0), "nt!KiSwapContext+0x76");
	assert_string_equal(frame_text(st, 1), "nt!KiSwapThread+0x17d");
	assert_string_equal(frame_text(st, 3), "nt!KeWaitForSingleObject+0x377");
	assert_string_equal(frame_text(st, 4), "drv!Interrupt+0x30");
	khang_frame_info fi = KHANG_FRAME_INFO_INIT;
	assert_int_equal(khang_stack_frame_info(&fi, st, 3), 0);
	assert_string_equal(fi.module, "nt");
	assert_string_equal(fi.symbol, "KeWaitForSingleObject");
	assert_int_equal(fi.offset, 0x377);
	assert_int_equal(khang_stack_frame_info(&fi, st, 5), 0);
	assert_int_equal(fi.kind, KHANG_FRAME_TRAP);
	khang_stack_free(st);
	/* frame limit */
	const khang_thread *th;
	assert_int_equal(khang_thread_by_address(&th, w.src, t), 0);
	khang_stack_opts o = KHANG_STACK_OPTS_INIT;
	o.max_frames = 3;
	assert_int_equal(khang_stack_walk(&st, th, &o), 0);
	assert_int_equal(khang_stack_frame_count(st), 3);
	assert_int_equal(khang_stack_end(st), KHANG_STACK_END_FRAME_LIMIT);
	khang_stack_free(st);
	/* an older caller's options (max_frames only) */
	o.size = offsetof(khang_stack_opts, max_frames) + sizeof(uint32_t);
	o.max_frames = 0;
	assert_int_equal(khang_stack_walk(&st, th, &o), 0);
	assert_int_equal(khang_stack_frame_count(st), n);
	khang_stack_free(st);
	o.size = 4;
	assert_int_equal(khang_stack_walk(&st, th, &o), KHANG_EINVAL);
	assert_int_equal(khang_stack_walk(&st, NULL, NULL), KHANG_EINVAL);
	fg_chain_free(c);
	world_free(&w);
}

/* Running threads: the dump header's context (the crashing processor),
 * else the KPRCB's; the innermost frames at an epilogue, in a prologue and
 * in a leaf function. */
static void test_x64_running(void **state)
{
	world w;
	fns64 x;
	(void)state;
	world_new(&w, x64_layout());
	make_fns64(&w, &x);
	/* epilogue of SmallFrame at +0x80: add rsp, 0x28; pop rbp; pop rbx; ret */
	static const uint8_t epi[] = { 0x48, 0x83, 0xC4, 0x28, 0x5D, 0x5B, 0xC3 };
	fg_module_write(x.drv, (uint32_t)(fg_fn_va(x.small) - DRV) + 0x80, epi, sizeof(epi));

	uint64_t t1 = fg_kernel_add_thread(w.k, w.proc, 0x301);
	fg_chain *c1 = fg_chain_new(w.s, t1, KSTACK, KSIZE);
	fg_chain_call(c1, x.start, 0x28);
	fg_chain_call(c1, x.large0, 0x30);
	fg_chain_call(c1, x.small, 0x80);
	fg_chain_run(c1, 1, true);

	uint64_t t2 = fg_kernel_add_thread(w.k, w.proc, 0x302);
	fg_chain *c2 = fg_chain_new(w.s, t2, KSTACK + 0x10000, KSIZE);
	fg_chain_call(c2, x.start, 0x28);
	fg_chain_call(c2, x.small, 0x48);
	fg_chain_call_partial(c2, x.large0, 8); /* after "sub rsp", before the save */
	fg_chain_run(c2, 0, false);

	uint64_t t3 = fg_kernel_add_thread(w.k, w.proc, 0x303);
	fg_chain *c3 = fg_chain_new(w.s, t3, KSTACK + 0x20000, KSIZE);
	fg_chain_call(c3, x.start, 0x28);
	fg_chain_call(c3, x.cchild, 0x44);
	fg_chain_call(c3, x.leaf, 0x10);
	fg_chain_wait(c3);
	fg_module_place(x.nt, 0);
	fg_module_place(x.drv, 0);
	world_open(&w, NULL);

	fg_frame want[FG_MAX_FRAMES];
	size_t n = fg_chain_frames(c1, want, FG_MAX_FRAMES);
	khang_stack *st = walk(&w, t1, 0);
	expect_frames(st, want, n);
	assert_int_equal(khang_stack_start(st), KHANG_STACK_START_DUMP_CONTEXT);
	assert_int_equal(khang_stack_end(st), KHANG_STACK_END_COMPLETE);
	khang_stack_free(st);

	n = fg_chain_frames(c2, want, FG_MAX_FRAMES);
	st = walk(&w, t2, 0);
	expect_frames(st, want, n);
	assert_int_equal(khang_stack_start(st), KHANG_STACK_START_PRCB_CONTEXT);
	khang_stack_free(st);
	expect_context_walk(&w, 0, want, n);

	/* a leaf (no RUNTIME_FUNCTION) as frame 0 of a switch frame */
	n = fg_chain_frames(c3, want, FG_MAX_FRAMES);
	assert_int_equal(want[1].kind, KHANG_FRAME_LEAF);
	st = walk(&w, t3, 0);
	expect_frames(st, want, n);
	khang_stack_free(st);
	fg_chain_free(c1);
	fg_chain_free(c2);
	fg_chain_free(c3);
	world_free(&w);
}

/* A system call: user-mode frames (ntdll, through the process's address
 * space and its loader list), the KTRAP_FRAME at the top of the kernel
 * stack, and a page fault in kernel mode through nt!KiPageFault's trap
 * frame. */
static void test_x64_trap_frames(void **state)
{
	world w;
	fns64 x;
	(void)state;
	world_new(&w, x64_layout());
	make_fns64(&w, &x);
	fg_fn *sce = fg_fn_leaf(x.nt, "KiSystemServiceCopyEnd", 0, 0x40);
	fg_fn *pf = fg_fn_leaf(x.nt, "KiPageFault", 0, 0x400);
	static const uint16_t ntw[] = { UW(4, FG_UWOP_ALLOC_SMALL, 7) };
	fg_fn *ntwait = fg_fn_x64(x.nt, "NtWaitForSingleObject", 0, 0x200, 4, 0, 0, ntw, 1, NULL);

	uint64_t peb = 0x000000e5a1b2c000ull;
	fg_stack_user_process(w.s, w.proc, peb);
	fg_module *ntdll = fg_stack_user_module(w.s, w.proc, "ntdll.dll", 0x00007ffe86300000ull, 0x8000);
	static const uint16_t u0[] = { UW(4, FG_UWOP_ALLOC_SMALL, 9) };
	fg_fn *rtl = fg_fn_x64(ntdll, "RtlUserThreadStart", 0, 0x80, 4, 0, 0, u0, 1, NULL);
	static const uint16_t u1[] = { UW(6, FG_UWOP_ALLOC_SMALL, 5), UW(2, FG_UWOP_PUSH_NONVOL, FG_RBX) };
	fg_fn *worker = fg_fn_x64(ntdll, "TppWorkerThread", 0, 0x400, 6, 0, 0, u1, 2, NULL);
	fg_fn *stub = fg_fn_leaf(ntdll, "NtWaitForSingleObject", 0, 0x20);

	uint64_t t = fg_kernel_add_thread(w.k, w.proc, 0x400);
	uint64_t ustack = 0x000000e5a1c00000ull;
	fg_stack_user_teb(w.s, t, w.proc, 0x000000e5a1b2e000ull, ustack, ustack - 0x10000);
	fg_chain *c = fg_chain_new(w.s, t, KSTACK, KSIZE);
	fg_chain_user(c, w.proc, ustack);
	fg_chain_call(c, rtl, 0x21);
	fg_chain_call(c, worker, 0x2c3);
	fg_chain_call(c, stub, 0x14);
	fg_chain_syscall(c, sce, 0x13);
	fg_chain_call(c, ntwait, 0x20);
	fg_chain_call(c, x.small, 0x40);
	fg_chain_trap(c, pf, 0x260);
	fg_chain_call(c, x.wait, 0x377);
	fg_chain_call(c, x.commit, 0x14f);
	fg_chain_call(c, x.swap_thread, 0x17d);
	fg_chain_call(c, x.swap, 0x76);
	fg_chain_wait(c);
	fg_module_place(x.nt, 0);
	fg_module_place(x.drv, 0);
	fg_module_place(ntdll, 0);
	world_open(&w, NULL);

	fg_frame want[FG_MAX_FRAMES];
	size_t n = fg_chain_frames(c, want, FG_MAX_FRAMES);
	khang_stack *st = walk(&w, t, 0);
	expect_frames(st, want, n);
	assert_int_equal(khang_stack_end(st), KHANG_STACK_END_COMPLETE);
	assert_string_equal(frame_text(st, 4), "nt!KiPageFault+0x260");
	assert_string_equal(frame_text(st, 7), "nt!KiSystemServiceCopyEnd+0x13");
	assert_string_equal(frame_text(st, 8), "ntdll!NtWaitForSingleObject+0x14");
	assert_string_equal(frame_text(st, 10), "ntdll!RtlUserThreadStart+0x21");
	khang_frame_info fi = KHANG_FRAME_INFO_INIT;
	assert_int_equal(khang_stack_frame_info(&fi, st, 8), 0);
	assert_int_equal(fi.user_mode, 1);
	assert_string_equal(fi.module, "ntdll");
	assert_int_equal(fi.trap_frame, KSTACK - 0x190);
	khang_stack_free(st);
	/* kernel only: ends at the system call */
	st = walk(&w, t, KHANG_STACK_KERNEL_ONLY);
	expect_frames(st, want, 8);
	assert_int_equal(khang_stack_end(st), KHANG_STACK_END_USER_MODE);
	khang_stack_free(st);
	fg_chain_free(c);
	world_free(&w);
}

/* Unwind data missing: a driver without .pdata (code present: return
 * addresses are checked), a driver whose image is not in the dump
 * (return addresses cannot be checked: skipped unless asked), scanning off. */
static void test_x64_scan(void **state)
{
	world w;
	fns64 x;
	(void)state;
	world_new(&w, x64_layout());
	make_fns64(&w, &x);
	fg_module *np = fg_stack_module(w.s, "nopdata.sys", DRV2, 0x4000);
	static const uint16_t a[] = { UW(6, FG_UWOP_ALLOC_SMALL, 4), UW(2, FG_UWOP_PUSH_NONVOL, FG_RBP),
		                      UW(1, FG_UWOP_PUSH_NONVOL, FG_RBX) };
	fg_fn *na = fg_fn_x64(np, "A", 0, 0x100, 6, 0, 0, a, 3, NULL);
	fg_fn *nb = fg_fn_x64(np, "B", 0, 0x100, 6, 0, 0, a, 3, NULL);
	fg_module *gone = fg_stack_module(w.s, "gone.sys", DRV3, 0x4000);
	fg_fn *ga = fg_fn_x64(gone, "A", 0, 0x100, 6, 0, 0, a, 3, NULL);
	fg_fn *gb = fg_fn_x64(gone, "B", 0, 0x100, 6, 0, 0, a, 3, NULL);

	uint64_t t1 = fg_kernel_add_thread(w.k, w.proc, 0x501);
	fg_chain *c1 = fg_chain_new(w.s, t1, KSTACK, KSIZE);
	fg_chain_call(c1, x.start, 0x28);
	fg_chain_call(c1, x.small, 0x40);
	fg_chain_call(c1, na, 0x30);
	fg_chain_call(c1, nb, 0x30);
	fg_chain_run(c1, 1, true);

	uint64_t t2 = fg_kernel_add_thread(w.k, w.proc, 0x502);
	fg_chain *c2 = fg_chain_new(w.s, t2, KSTACK + 0x10000, KSIZE);
	fg_chain_call(c2, x.start, 0x28);
	fg_chain_call(c2, x.small, 0x40);
	fg_chain_call(c2, ga, 0x30);
	fg_chain_call(c2, gb, 0x30);
	fg_chain_run(c2, 0, false);
	fg_module_place(x.nt, 0);
	fg_module_place(x.drv, 0);
	fg_module_place(np, FG_PLACE_NO_PDATA);
	fg_module_place(gone, FG_PLACE_NO_IMAGE);
	world_open(&w, NULL);

	fg_frame want[FG_MAX_FRAMES];
	size_t n = fg_chain_frames(c1, want, FG_MAX_FRAMES);
	want[1].kind = KHANG_FRAME_SCAN; /* nopdata!A, found from B */
	want[2].kind = KHANG_FRAME_SCAN; /* drv!SmallFrame, found from A */
	khang_stack *st = walk(&w, t1, 0);
	expect_frames(st, want, n);
	khang_stack_free(st);
	st = walk(&w, t1, KHANG_STACK_NO_SCAN);
	assert_int_equal(khang_stack_frame_count(st), 1);
	assert_int_equal(khang_stack_end(st), KHANG_STACK_END_NO_UNWIND);
	assert_non_null(strstr(khang_stack_end_reason(st), "nopdata"));
	khang_stack_free(st);

	/* gone.sys: its return address cannot be checked */
	n = fg_chain_frames(c2, want, FG_MAX_FRAMES);
	fg_frame skip[FG_MAX_FRAMES];
	skip[0] = want[0];
	skip[1] = want[2];
	skip[1].kind = KHANG_FRAME_SCAN;
	skip[2] = want[3];
	st = walk(&w, t2, 0);
	expect_frames(st, skip, 3);
	khang_stack_free(st);
	want[1].kind = KHANG_FRAME_SCAN;
	want[2].kind = KHANG_FRAME_SCAN;
	st = walk(&w, t2, KHANG_STACK_SCAN_UNVERIFIED);
	expect_frames(st, want, n);
	khang_stack_free(st);
	st = walk(&w, t2, KHANG_STACK_NO_SCAN);
	assert_int_equal(khang_stack_frame_count(st), 1);
	assert_non_null(strstr(khang_stack_end_reason(st), "no image of gone"));
	khang_stack_free(st);
	fg_chain_free(c1);
	fg_chain_free(c2);
	world_free(&w);
}

/* The image search path supplies an image that is not in the dump. */
static void test_x64_image_path(void **state)
{
	world w;
	fns64 x;
	(void)state;
	world_new(&w, x64_layout());
	make_fns64(&w, &x);
	uint64_t t;
	fg_chain *c;
	t = build_all_codes(&w, &x, &c, KSTACK, 0x600);
	fg_module_place(x.nt, 0);
	fg_module_place(x.drv, FG_PLACE_NO_IMAGE);
	char dir[] = "/tmp/khang_stacks_XXXXXX", path[300];
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/drv.sys", dir);
	fg_module_save(x.drv, path);
	khang_source_opts so = KHANG_SOURCE_OPTS_INIT;
	so.image_path = dir;
	world_open(&w, &so);
	khang_stack *st = walk_expect(&w, c, t);
	khang_stack_free(st);
	unlink(path);
	rmdir(dir);
	fg_chain_free(c);
	world_free(&w);
}

/* Damaged stacks end with a reason: a machine frame whose stack pointer
 * goes back, one that leaves the thread's stacks, a missing stack page, a
 * return address in no module. */
static void test_x64_damaged(void **state)
{
	world w;
	fns64 x;
	(void)state;
	world_new(&w, x64_layout());
	make_fns64(&w, &x);
	fg_chain *c[4];
	uint64_t t[4];
	for (unsigned i = 0; i < 4; i++) {
		if (i != 2) {
			t[i] = build_all_codes(&w, &x, &c[i], KSTACK + 0x10000ull * i, 0x700 + i);
			continue;
		}
		/* a frame pointer function with a big alloca: the frames span pages */
		t[i] = fg_kernel_add_thread(w.k, w.proc, 0x700 + i);
		c[i] = fg_chain_new(w.s, t[i], KSTACK + 0x10000ull * i, KSIZE);
		fg_chain_call(c[i], x.start, 0x28);
		fg_chain_call(c[i], x.fp, 0x50);
		fg_chain_alloca(c[i], 0x1800);
		fg_chain_call(c[i], x.small, 0x40);
		fg_chain_call(c[i], x.wait, 0x377);
		fg_chain_call(c[i], x.swap, 0x76);
		fg_chain_wait(c[i]);
	}
	fg_frame want[FG_MAX_FRAMES];
	size_t n = fg_chain_frames(c[0], want, FG_MAX_FRAMES);
	/* frame 4 is drv!Interrupt; its machine frame's RSP is at its sp + 0x18 + 24 */
	uint64_t mf = want[4].sp + 0x18;
	uint64_t v = want[4].sp - 0x100;
	fg_kernel_write(w.k, mf + 24, &v, 8);
	v = KSTACK + 0x10000 + 0x100; /* thread 1: into another thread's stack */
	fg_chain_frames(c[1], want, FG_MAX_FRAMES);
	mf = want[4].sp + 0x18;
	fg_kernel_write(w.k, mf + 24, &v, 8);
	/* thread 2: the page holding FramePointer's return address is not in the dump */
	n = fg_chain_frames(c[2], want, FG_MAX_FRAMES);
	uint64_t page = fg_chain_ret_slot(c[2], 3) & ~0xFFFull;
	assert_true(page > (fg_chain_kernel_stack(c[2]) | 0xFFF));
	/* thread 3: a return address in no module */
	fg_chain_frames(c[3], want, FG_MAX_FRAMES);
	v = 0xfffff80599990000ull;
	fg_kernel_write(w.k, fg_chain_ret_slot(c[3], 2), &v, 8);
	fg_module_place(x.nt, 0);
	fg_module_place(x.drv, 0);
	uint64_t pa;
	assert_int_equal(fg_translate(w.f, fg_kernel_dtb(w.f), page, &pa), 0);
	assert_int_equal(fg_map(w.f, fg_kernel_dtb(w.f), page, pa, FG_PAGE_4K, FG_MAP_NOT_PRESENT), 0);
	world_open(&w, NULL);

	khang_stack *st = walk(&w, t[0], 0);
	assert_int_equal(khang_stack_frame_count(st), 5);
	assert_int_equal(khang_stack_end(st), KHANG_STACK_END_BAD_SP);
	assert_non_null(strstr(khang_stack_end_reason(st), "did not increase"));
	khang_stack_free(st);
	st = walk(&w, t[1], 0);
	assert_int_equal(khang_stack_frame_count(st), 5);
	assert_int_equal(khang_stack_end(st), KHANG_STACK_END_BAD_SP);
	assert_non_null(strstr(khang_stack_end_reason(st), "left the thread's stacks"));
	khang_stack_free(st);
	st = walk(&w, t[2], 0);
	assert_int_equal(khang_stack_frame_count(st), n - 1);
	assert_int_equal(khang_stack_end(st), KHANG_STACK_END_NOT_PRESENT);
	khang_stack_free(st);
	st = walk(&w, t[3], KHANG_STACK_NO_SCAN);
	assert_int_equal(khang_stack_frame_count(st), 4); /* the bad address is frame 3 */
	assert_int_equal(khang_stack_end(st), KHANG_STACK_END_NO_MODULE);
	khang_stack_free(st);
	/* scanning goes on past the bad return address */
	st = walk(&w, t[3], 0);
	assert_true(khang_stack_frame_count(st) > 4);
	khang_frame f;
	assert_int_equal(khang_stack_frame(&f, st, 4), 0);
	assert_int_equal(f.kind, KHANG_FRAME_SCAN);
	khang_stack_free(st);
	for (unsigned i = 0; i < 4; i++)
		fg_chain_free(c[i]);
	world_free(&w);
}

/* ---- x86 ------------------------------------------------------------------------------ */

#define DRV86 0x8f000000u
#define KSTACK86 0xa0000000u
#define KSIZE86 0x3000u

typedef struct fns86 {
	fg_module *m;
	fg_fn *start, *a, *b, *c, *wait, *swap, *entry, *ntwait;
} fns86;

static void make_fns86(world *w, fns86 *x)
{
	x->m = fg_stack_module(w->s, "krnl86.sys", DRV86, 0x8000);
	x->start = fg_fn_x86(x->m, "ThreadStart", 0, 0x80, 0x10, true);
	x->a = fg_fn_x86(x->m, "FuncA", 0, 0x100, 0x40, true);
	x->b = fg_fn_x86(x->m, "FuncB", 0, 0x100, 0x0, true);
	x->c = fg_fn_x86(x->m, "FuncC", 0, 0x100, 0x124, true);
	x->wait = fg_fn_x86(x->m, "WaitForObject", 0, 0x100, 0x20, true);
	x->swap = fg_fn_x86(x->m, "SwapContext", 0, 0x40, 0, false);
	x->entry = fg_fn_x86(x->m, "FastCallEntry", 0, 0x200, 0, true);
	x->ntwait = fg_fn_x86(x->m, "NtWait", 0, 0x100, 0x18, true);
}

static void test_x86_waiting_running(void **state)
{
	world w;
	fns86 x;
	(void)state;
	world_new(&w, x86_layout());
	make_fns86(&w, &x);
	uint64_t t1 = fg_kernel_add_thread(w.k, w.proc, 0x10);
	fg_chain *c1 = fg_chain_new(w.s, t1, KSTACK86, KSIZE86);
	fg_chain_call(c1, x.start, 0x20);
	fg_chain_call(c1, x.a, 0x30);
	fg_chain_call(c1, x.b, 0x40);
	fg_chain_call(c1, x.c, 0x50);
	fg_chain_call(c1, x.wait, 0x60);
	fg_chain_call(c1, x.swap, 0x26);
	fg_chain_wait(c1);
	uint64_t t2 = fg_kernel_add_thread(w.k, w.proc, 0x14);
	fg_chain *c2 = fg_chain_new(w.s, t2, KSTACK86 + 0x10000, KSIZE86);
	fg_chain_call(c2, x.start, 0x20);
	fg_chain_call(c2, x.b, 0x44);
	fg_chain_call(c2, x.c, 0x55);
	fg_chain_run(c2, 1, true);
	uint64_t t3 = fg_kernel_add_thread(w.k, w.proc, 0x18);
	fg_chain *c3 = fg_chain_new(w.s, t3, KSTACK86 + 0x20000, KSIZE86);
	fg_chain_call(c3, x.start, 0x20);
	fg_chain_call(c3, x.a, 0x34);
	fg_chain_call(c3, x.b, 0x48);
	fg_chain_call(c3, x.c, 0x58);
	fg_chain_run(c3, 0, false);
	/* thread 4: a frame whose saved ebp is lost: the scan finds the rest */
	uint64_t t4 = fg_kernel_add_thread(w.k, w.proc, 0x1c);
	fg_chain *c4 = fg_chain_new(w.s, t4, KSTACK86 + 0x30000, KSIZE86);
	fg_chain_call(c4, x.start, 0x20);
	fg_chain_call(c4, x.a, 0x30);
	fg_chain_call(c4, x.b, 0x40);
	fg_chain_call(c4, x.wait, 0x60);
	fg_chain_call(c4, x.swap, 0x26);
	fg_chain_wait(c4);
	fg_frame want4[FG_MAX_FRAMES];
	size_t n4 = fg_chain_frames(c4, want4, FG_MAX_FRAMES);
	/* FuncB's saved ebp (just below its return slot) */
	uint32_t zero = 0;
	fg_kernel_write(w.k, fg_chain_ret_slot(c4, 2) - 4, &zero, 4);
	fg_module_place(x.m, 0);
	world_open(&w, NULL);

	fg_frame want[FG_MAX_FRAMES];
	size_t n = fg_chain_frames(c1, want, FG_MAX_FRAMES);
	khang_stack *st = walk(&w, t1, 0);
	expect_frames(st, want, n);
	assert_int_equal(khang_stack_end(st), KHANG_STACK_END_COMPLETE);
	assert_string_equal(frame_text(st, 0), "krnl86!SwapContext+0x26");
	assert_string_equal(frame_text(st, 1), "krnl86!WaitForObject+0x60");
	khang_stack_free(st);
	n = fg_chain_frames(c2, want, FG_MAX_FRAMES);
	st = walk(&w, t2, 0);
	expect_frames(st, want, n);
	assert_int_equal(khang_stack_start(st), KHANG_STACK_START_DUMP_CONTEXT);
	khang_stack_free(st);
	n = fg_chain_frames(c3, want, FG_MAX_FRAMES);
	st = walk(&w, t3, 0);
	expect_frames(st, want, n);
	assert_int_equal(khang_stack_start(st), KHANG_STACK_START_PRCB_CONTEXT);
	khang_stack_free(st);
	expect_context_walk(&w, 0, want, n);
	/* FuncB's frame pointer chain broke: the frames above it are scanned */
	for (size_t i = 4; i < n4; i++)
		want4[i].kind = KHANG_FRAME_SCAN;
	st = walk(&w, t4, 0);
	expect_frames(st, want4, n4);
	khang_stack_free(st);
	st = walk(&w, t4, KHANG_STACK_NO_SCAN);
	assert_int_equal(khang_stack_frame_count(st), 4);
	assert_int_equal(khang_stack_end(st), KHANG_STACK_END_CORRUPT);
	khang_stack_free(st);
	fg_chain_free(c1);
	fg_chain_free(c2);
	fg_chain_free(c3);
	fg_chain_free(c4);
	world_free(&w);
}

/* x86 system call: KTRAP_FRAME (KTHREAD.TrapFrame) into user mode. */
static void test_x86_syscall(void **state)
{
	world w;
	fns86 x;
	(void)state;
	world_new(&w, x86_layout());
	make_fns86(&w, &x);
	fg_stack_user_process(w.s, w.proc, 0x7ffdf000u);
	fg_module *ntdll = fg_stack_user_module(w.s, w.proc, "ntdll.dll", 0x77000000u, 0x8000);
	fg_fn *rtl = fg_fn_x86(ntdll, "RtlUserThreadStart", 0, 0x80, 0x10, true);
	fg_fn *work = fg_fn_x86(ntdll, "TpWorker", 0, 0x200, 0x40, true);
	fg_fn *stub = fg_fn_x86(ntdll, "NtWaitForSingleObject", 0, 0x40, 0, true);
	uint64_t t = fg_kernel_add_thread(w.k, w.proc, 0x20);
	fg_stack_user_teb(w.s, t, w.proc, 0x7ffde000u, 0x00200000u, 0x001f0000u);
	fg_chain *c = fg_chain_new(w.s, t, KSTACK86, KSIZE86);
	fg_chain_user(c, w.proc, 0x00200000u);
	fg_chain_call(c, rtl, 0x22);
	fg_chain_call(c, work, 0x90);
	fg_chain_call(c, stub, 0xc);
	fg_chain_syscall(c, x.entry, 0x12a);
	fg_chain_call(c, x.ntwait, 0x40);
	fg_chain_call(c, x.wait, 0x60);
	fg_chain_call(c, x.swap, 0x26);
	fg_chain_wait(c);
	fg_module_place(x.m, 0);
	fg_module_place(ntdll, 0);
	world_open(&w, NULL);
	khang_stack *st = walk_expect(&w, c, t);
	assert_int_equal(khang_stack_end(st), KHANG_STACK_END_COMPLETE);
	assert_string_equal(frame_text(st, 3), "krnl86!FastCallEntry+0x12a");
	assert_string_equal(frame_text(st, 4), "ntdll!NtWaitForSingleObject+0xc");
	khang_stack_free(st);
	fg_chain_free(c);
	world_free(&w);
}

/* ---- unique stacks -------------------------------------------------------------------- */

static void test_unique(void **state)
{
	world w;
	fns64 x;
	(void)state;
	world_new(&w, x64_layout());
	make_fns64(&w, &x);
	uint64_t other = fg_kernel_add_process(w.k, "other.exe", 0x200, 4);
	uint64_t t[6];
	fg_chain *c[6];
	/* 3 identical stacks in app.exe, 2 others in other.exe, 1 alone */
	for (unsigned i = 0; i < 6; i++) {
		t[i] = fg_kernel_add_thread(w.k, i < 3 || i == 5 ? w.proc : other, 0x800 + 4 * i);
		c[i] = fg_chain_new(w.s, t[i], KSTACK + 0x10000ull * i, KSIZE);
		fg_chain_call(c[i], x.start, 0x28);
		fg_chain_call(c[i], x.small, i < 3 ? 0x40 : 0x48);
		if (i == 5)
			fg_chain_call(c[i], x.large0, 0x30);
		fg_chain_call(c[i], x.wait, 0x377);
		fg_chain_call(c[i], x.swap, 0x76);
		fg_chain_wait(c[i]);
	}
	fg_module_place(x.nt, 0);
	fg_module_place(x.drv, 0);
	world_open(&w, NULL);

	khang_unique_stacks *u;
	assert_int_equal(khang_unique_stacks_new(&u, w.src, NULL), 0);
	/* the kernel's own idle and System threads have no stack here */
	assert_int_equal(khang_unique_stacks_count(u), 3);
	assert_int_equal(khang_unique_stacks_thread_total(u), 6);
	assert_true(khang_unique_stacks_skipped(u) >= 1);
	assert_int_equal(khang_unique_stacks_walked(u), 6 + khang_unique_stacks_skipped(u));
	assert_int_equal(khang_unique_stacks_thread_count(u, 0), 3);
	assert_int_equal(khang_unique_stacks_thread_count(u, 1), 2);
	assert_int_equal(khang_unique_stacks_thread_count(u, 2), 1);
	for (unsigned i = 0; i < 3; i++)
		assert_int_equal(khang_thread_address(khang_unique_stacks_thread(u, 0, i)), t[i]);
	assert_int_equal(khang_thread_address(khang_unique_stacks_thread(u, 2, 0)), t[5]);
	khang_stack *st = khang_unique_stacks_stack(u, 0);
	assert_int_equal(khang_stack_frame_count(st), 4);
	assert_string_equal(frame_text(st, 2), "drv!SmallFrame+0x40");
	assert_null(khang_unique_stacks_stack(u, 3));
	assert_null(khang_unique_stacks_thread(u, 0, 3));
	khang_unique_stacks_free(u);

	/* one process; a symbol filter; a module filter */
	const khang_process *p;
	assert_int_equal(khang_process_by_address(&p, w.src, other), 0);
	khang_unique_opts o = KHANG_UNIQUE_OPTS_INIT;
	o.process = p;
	assert_int_equal(khang_unique_stacks_new(&u, w.src, &o), 0);
	assert_int_equal(khang_unique_stacks_count(u), 1);
	assert_int_equal(khang_unique_stacks_thread_count(u, 0), 2);
	khang_unique_stacks_free(u);
	o.process = NULL;
	o.symbol_filter = "largeframe";
	assert_int_equal(khang_unique_stacks_new(&u, w.src, &o), 0);
	assert_int_equal(khang_unique_stacks_count(u), 1);
	assert_int_equal(khang_unique_stacks_thread_count(u, 0), 1);
	khang_unique_stacks_free(u);
	o.symbol_filter = NULL;
	o.module_filter = "DRV";
	assert_int_equal(khang_unique_stacks_new(&u, w.src, &o), 0);
	assert_int_equal(khang_unique_stacks_thread_total(u), 6);
	khang_unique_stacks_free(u);
	o.module_filter = "nosuch";
	assert_int_equal(khang_unique_stacks_new(&u, w.src, &o), 0);
	assert_int_equal(khang_unique_stacks_count(u), 0);
	khang_unique_stacks_free(u);
	o.size = 8;
	assert_int_equal(khang_unique_stacks_new(&u, w.src, &o), KHANG_EINVAL);
	khang_unique_stacks_free(NULL);
	for (unsigned i = 0; i < 6; i++)
		fg_chain_free(c[i]);
	world_free(&w);
}

/* Every allocation failure is an error, never a crash or a leak. */
static int fail_after;
static void *fail_malloc(size_t n, void *ctx)
{
	(void)ctx;
	if (fail_after-- == 0)
		return NULL;
	return malloc(n);
}
static void *fail_realloc(void *p, size_t n, void *ctx)
{
	(void)ctx;
	if (fail_after-- == 0)
		return NULL;
	return realloc(p, n);
}
static void fail_free(void *p, void *ctx)
{
	(void)ctx;
	free(p);
}

static void test_alloc_failures(void **state)
{
	world w;
	fns64 x;
	fg_chain *c;
	(void)state;
	world_new(&w, x64_layout());
	make_fns64(&w, &x);
	uint64_t t = build_all_codes(&w, &x, &c, KSTACK, 0x900);
	fg_module_place(x.nt, 0);
	fg_module_place(x.drv, 0);
	fg_write_opts wo = FG_WRITE_OPTS_INIT;
	wo.format = FG_FMT_BITMAP_KERNEL;
	wo.kernel_only = 1;
	assert_int_equal(fg_write_memory(w.f, &w.buf, &w.len, &wo), 0);
	bool done = false;
	for (int i = 0; i < 2000 && !done; i++) {
		khang_allocator a = { fail_malloc, fail_realloc, fail_free, NULL };
		khang_source_opts so = KHANG_SOURCE_OPTS_INIT;
		so.allocator = &a;
		khang_source *src;
		fail_after = 1 << 30;
		assert_int_equal(khang_source_open_memory(&src, w.buf, w.len, &so), 0);
		/* the layers below are loaded with memory to spare (a failed module
		 * list load is theirs to test) */
		const khang_thread *th;
		const khang_module *mod;
		assert_int_equal(khang_thread_by_address(&th, src, t), 0);
		assert_int_equal(khang_source_module_at(&mod, src, DRV), 0);
		khang_thread_iter *it;
		assert_int_equal(khang_thread_iter_new(&it, src, NULL), 0);
		while (khang_thread_next(&th, it) == 0)
			;
		khang_thread_iter_free(it);
		fail_after = i;
		khang_unique_stacks *u = NULL;
		int rc = khang_unique_stacks_new(&u, src, NULL);
		if (rc == 0) {
			khang_stack *st = khang_unique_stacks_stack(u, 0);
			for (size_t f = 0; st && f < khang_stack_frame_count(st); f++) {
				khang_frame_info fi = KHANG_FRAME_INFO_INIT;
				if (khang_stack_frame_info(&fi, st, f) < 0)
					break;
			}
			done = fail_after >= 0;
		}
		khang_unique_stacks_free(u);
		fail_after = 1 << 30;
		khang_source_free(src);
	}
	assert_true(done);
	fg_chain_free(c);
	world_free(&w);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_x64_waiting_all_codes),
		cmocka_unit_test(test_x64_running),
		cmocka_unit_test(test_x64_trap_frames),
		cmocka_unit_test(test_x64_scan),
		cmocka_unit_test(test_x64_image_path),
		cmocka_unit_test(test_x64_damaged),
		cmocka_unit_test(test_x86_waiting_running),
		cmocka_unit_test(test_x86_syscall),
		cmocka_unit_test(test_unique),
		cmocka_unit_test(test_alloc_failures),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

/* fg_stack_sample: the sample systems of the stack golden tests and of
 * fuzz_stack (see fg_stack.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fg_stack.h"
#include "layout/layout.h"

#define UW FG_UW
#define DRV 0xfffff80560000000ull
#define DRV2 0xfffff80561000000ull
#define KSTACK 0xffffd00021580000ull

static fg_forge *x64(fg_kernel **kout, fg_stack **sout)
{
	const kh_layout *l = kh_layout_builtin_by_guid_string("5278AFF86C341677D7D7835C85B7B844", 1);
	fg_forge *f = fg_new(FG_X64, 16384);
	fg_kernel_opts o = { 0 };
	o.ncpus = 2;
	fg_kernel *k = l && f ? fg_kernel_new(f, l, &o) : NULL;
	if (!k) {
		return NULL;
	}
	fg_stack *s = fg_stack_new(f, k);
	uint64_t app = fg_kernel_add_process(k, "app.exe", 0x1a4, 4);

	fg_module *nt = fg_stack_nt(s);
	static const uint16_t swap[] = { UW(18, FG_UWOP_ALLOC_SMALL, 4),  UW(14, FG_UWOP_PUSH_NONVOL, FG_R15),
		                         UW(12, FG_UWOP_PUSH_NONVOL, FG_R14), UW(10, FG_UWOP_PUSH_NONVOL, FG_R13),
		                         UW(8, FG_UWOP_PUSH_NONVOL, FG_R12),  UW(6, FG_UWOP_PUSH_NONVOL, FG_RDI),
		                         UW(5, FG_UWOP_PUSH_NONVOL, FG_RSI),  UW(4, FG_UWOP_PUSH_NONVOL, FG_RBX),
		                         UW(2, FG_UWOP_PUSH_NONVOL, FG_RBP) };
	fg_fn *kswap = fg_fn_x64(nt, "KiSwapContext", 0, 0x100, 18, 0, 0, swap, 9, NULL);
	static const uint16_t st[] = { UW(4, FG_UWOP_ALLOC_SMALL, 5) };
	fg_fn *start = fg_fn_x64(nt, "KiStartSystemThread", 0, 0x40, 4, 0, 0, st, 1, NULL);
	static const uint16_t sw[] = { UW(7, FG_UWOP_ALLOC_LARGE, 0), 0x130 / 8, UW(2, FG_UWOP_PUSH_NONVOL, FG_RBX),
		                       UW(1, FG_UWOP_PUSH_NONVOL, FG_RBP) };
	fg_fn *kst = fg_fn_x64(nt, "KiSwapThread", 0, 0x200, 7, 0, 0, sw, 4, NULL);
	static const uint16_t cm[] = { UW(4, FG_UWOP_ALLOC_SMALL, 9), UW(2, FG_UWOP_PUSH_NONVOL, FG_R12) };
	fg_fn *kct = fg_fn_x64(nt, "KiCommitThreadWait", 0, 0x200, 4, 0, 0, cm, 2, NULL);
	static const uint16_t kw[] = { UW(9, FG_UWOP_SAVE_NONVOL, FG_RSI), 0x40 / 8, UW(5, FG_UWOP_ALLOC_SMALL, 13),
		                       UW(1, FG_UWOP_PUSH_NONVOL, FG_RDI) };
	fg_fn *kwait = fg_fn_x64(nt, "KeWaitForSingleObject", 0, 0x400, 9, 0, 0, kw, 4, NULL);
	fg_fn *sce = fg_fn_leaf(nt, "KiSystemServiceCopyEnd", 0, 0x40);
	static const uint16_t ntw[] = { UW(4, FG_UWOP_ALLOC_SMALL, 7) };
	fg_fn *ntwait = fg_fn_x64(nt, "NtWaitForSingleObject", 0, 0x200, 4, 0, 0, ntw, 1, NULL);

	fg_module *drv = fg_stack_module(s, "filter.sys", DRV, 0x10000);
	static const uint16_t sm[] = { UW(6, FG_UWOP_ALLOC_SMALL, 4), UW(2, FG_UWOP_PUSH_NONVOL, FG_RBP),
		                       UW(1, FG_UWOP_PUSH_NONVOL, FG_RBX) };
	fg_fn *worker = fg_fn_x64(drv, "FilterWorker", 0, 0x100, 6, 0, 0, sm, 3, NULL);
	static const uint16_t fp[] = { UW(10, FG_UWOP_SET_FPREG, 0), UW(5, FG_UWOP_ALLOC_SMALL, 7),
		                       UW(1, FG_UWOP_PUSH_NONVOL, FG_RBP) };
	fg_fn *query = fg_fn_x64(drv, "FilterQuery", 0, 0x300, 10, FG_RBP, 2, fp, 3, NULL);
	fg_module *np = fg_stack_module(s, "nopdata.sys", DRV2, 0x4000);
	fg_fn *npa = fg_fn_x64(np, "Poll", 0, 0x100, 6, 0, 0, sm, 3, NULL);

	fg_stack_user_process(s, app, 0x000000e5a1b2c000ull);
	fg_module *ntdll = fg_stack_user_module(s, app, "ntdll.dll", 0x00007ffe86300000ull, 0x8000);
	static const uint16_t u0[] = { UW(4, FG_UWOP_ALLOC_SMALL, 9) };
	fg_fn *rtl = fg_fn_x64(ntdll, "RtlUserThreadStart", 0, 0x80, 4, 0, 0, u0, 1, NULL);
	static const uint16_t u1[] = { UW(6, FG_UWOP_ALLOC_SMALL, 5), UW(2, FG_UWOP_PUSH_NONVOL, FG_RBX) };
	fg_fn *tpw = fg_fn_x64(ntdll, "TppWorkerThread", 0, 0x400, 6, 0, 0, u1, 2, NULL);
	fg_fn *stub = fg_fn_leaf(ntdll, "NtWaitForSingleObject", 0, 0x20);

	/* four system threads: three alike */
	for (unsigned i = 0; i < 4; i++) {
		uint64_t t = fg_kernel_add_thread(k, app, 0x200 + 4 * i);
		fg_chain *c = fg_chain_new(s, t, KSTACK + 0x10000ull * i, 0x6000);
		fg_chain_call(c, start, 0x28);
		fg_chain_call(c, query, i < 3 ? 0x1b0 : 0x1c4);
		fg_chain_alloca(c, 0x40);
		fg_chain_call(c, worker, 0x40);
		fg_chain_call(c, kwait, 0x377);
		fg_chain_call(c, kct, 0x14f);
		fg_chain_call(c, kst, 0x17d);
		fg_chain_call(c, kswap, 0x76);
		fg_chain_wait(c);
		fg_chain_free(c);
	}
	/* a system call from user mode */
	uint64_t t = fg_kernel_add_thread(k, app, 0x220);
	uint64_t ustack = 0x000000e5a1c00000ull;
	fg_stack_user_teb(s, t, app, 0x000000e5a1b2e000ull, ustack, ustack - 0x10000);
	fg_chain *c = fg_chain_new(s, t, KSTACK + 0x40000, 0x6000);
	fg_chain_user(c, app, ustack);
	fg_chain_call(c, rtl, 0x21);
	fg_chain_call(c, tpw, 0x2c3);
	fg_chain_call(c, stub, 0x14);
	fg_chain_syscall(c, sce, 0x13);
	fg_chain_call(c, ntwait, 0x20);
	fg_chain_call(c, kwait, 0x377);
	fg_chain_call(c, kct, 0x14f);
	fg_chain_call(c, kst, 0x17d);
	fg_chain_call(c, kswap, 0x76);
	fg_chain_wait(c);
	fg_chain_free(c);
	/* running on processor 1 */
	t = fg_kernel_add_thread(k, app, 0x224);
	c = fg_chain_new(s, t, KSTACK + 0x50000, 0x6000);
	fg_chain_call(c, start, 0x28);
	fg_chain_call(c, worker, 0x48);
	fg_chain_run(c, 1, true);
	fg_chain_free(c);
	/* through a driver without unwind data */
	t = fg_kernel_add_thread(k, app, 0x228);
	c = fg_chain_new(s, t, KSTACK + 0x60000, 0x6000);
	fg_chain_call(c, start, 0x28);
	fg_chain_call(c, worker, 0x40);
	fg_chain_call(c, npa, 0x30);
	fg_chain_call(c, kwait, 0x377);
	fg_chain_call(c, kswap, 0x76);
	fg_chain_wait(c);
	fg_chain_free(c);

	fg_module_place(nt, 0);
	fg_module_place(drv, 0);
	fg_module_place(np, FG_PLACE_NO_PDATA);
	fg_module_place(ntdll, 0);
	*kout = k;
	*sout = s;
	return f;
}

static fg_forge *x86(fg_kernel **kout, fg_stack **sout)
{
	kh_layout_candidate cand[4];
	fg_forge *f = fg_new(FG_X86_PAE, 16384);
	fg_kernel_opts o = { 0 };
	o.ncpus = 2;
	fg_kernel *k = NULL;
	if (f && kh_layout_builtin_candidates(KHANG_ARCH_X86, 7601, 1, cand, 4) > 0)
		k = fg_kernel_new(f, cand[0].layout, &o);
	if (!k) {
		return NULL;
	}
	fg_stack *s = fg_stack_new(f, k);
	uint64_t app = fg_kernel_add_process(k, "app.exe", 0x1a4, 4);
	fg_module *m = fg_stack_module(s, "krnl86.sys", 0x8f000000u, 0x8000);
	fg_fn *start = fg_fn_x86(m, "ThreadStart", 0, 0x80, 0x10, true);
	fg_fn *a = fg_fn_x86(m, "DispatchIrp", 0, 0x100, 0x40, true);
	fg_fn *wait = fg_fn_x86(m, "WaitForObject", 0, 0x100, 0x20, true);
	fg_fn *swap = fg_fn_x86(m, "SwapContext", 0, 0x40, 0, false);
	fg_fn *entry = fg_fn_x86(m, "FastCallEntry", 0, 0x200, 0, true);
	fg_fn *ntw = fg_fn_x86(m, "NtWait", 0, 0x100, 0x18, true);
	fg_stack_user_process(s, app, 0x7ffdf000u);
	fg_module *ntdll = fg_stack_user_module(s, app, "ntdll.dll", 0x77000000u, 0x8000);
	fg_fn *rtl = fg_fn_x86(ntdll, "RtlUserThreadStart", 0, 0x80, 0x10, true);
	fg_fn *stub = fg_fn_x86(ntdll, "NtWaitForSingleObject", 0, 0x40, 0, true);
	for (unsigned i = 0; i < 2; i++) {
		uint64_t t = fg_kernel_add_thread(k, app, 0x300 + 4 * i);
		fg_chain *c = fg_chain_new(s, t, 0xa0000000u + 0x10000u * i, 0x3000);
		fg_chain_call(c, start, 0x20);
		fg_chain_call(c, a, 0x30);
		fg_chain_call(c, wait, 0x60);
		fg_chain_call(c, swap, 0x26);
		fg_chain_wait(c);
		fg_chain_free(c);
	}
	uint64_t t = fg_kernel_add_thread(k, app, 0x308);
	fg_stack_user_teb(s, t, app, 0x7ffde000u, 0x00200000u, 0x001f0000u);
	fg_chain *c = fg_chain_new(s, t, 0xa0020000u, 0x3000);
	fg_chain_user(c, app, 0x00200000u);
	fg_chain_call(c, rtl, 0x22);
	fg_chain_call(c, stub, 0xc);
	fg_chain_syscall(c, entry, 0x12a);
	fg_chain_call(c, ntw, 0x40);
	fg_chain_call(c, wait, 0x60);
	fg_chain_call(c, swap, 0x26);
	fg_chain_wait(c);
	fg_chain_free(c);
	fg_module_place(m, 0);
	fg_module_place(ntdll, 0);
	*kout = k;
	*sout = s;
	return f;
}

fg_forge *fg_stack_sample(int which)
{
	fg_kernel *k;
	fg_stack *s;
	fg_forge *f = which == 0 ? x64(&k, &s) : x86(&k, &s);
	if (!f)
		return NULL;
	fg_stack_free(s);
	fg_kernel_free(k);
	return f;
}

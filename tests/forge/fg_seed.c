/* fg_seed: the logoff hang of the seed notes (see fg_seed.h). */
#include <string.h>

#include "fg_alpc.h"
#include "fg_seed.h"
#include "layout/layout.h"

#define UW FG_UW
#define NOW 2000000u                        /* KUSER_SHARED_DATA tick count */
#define SECONDS(s) ((uint32_t)((s) * 64u))  /* 15.625 ms ticks */
#define FLTMGR_BASE 0xfffff80470a00000ull
#define TMPREFLT_BASE 0xfffff80471200000ull
#define TMXPFLT_BASE 0xfffff80471400000ull
#define KSTACK 0xffffd00031580000ull

/* most functions: sub rsp, 0x28 */
static const uint16_t small[] = { UW(4, FG_UWOP_ALLOC_SMALL, 4) };

static fg_fn *fn(fg_module *m, const char *name, uint32_t rva, uint32_t size)
{
	return fg_fn_x64(m, name, rva, size, 4, 0, 0, small, 1, NULL);
}

/* a process with a user address space and an ntdll */
static fg_module *user_process(fg_stack *s, uint64_t proc, uint64_t peb, uint64_t ntdll_base)
{
	fg_stack_user_process(s, proc, peb);
	return fg_stack_user_module(s, proc, "ntdll.dll", ntdll_base, 0x8000);
}

static void idle_waiter(fg_kernel *k, uint64_t proc, uint32_t tid, uint64_t event, unsigned seconds)
{
	uint64_t t = fg_kernel_add_thread(k, proc, tid);
	fg_kernel_thread_wait(k, t, &event, 1, 1);
	fg_kernel_thread_state(k, t, 5, (unsigned)fg_kernel_enum(k, KH_E_KWAIT_REASON, "UserRequest"), 1,
	                       NOW - SECONDS(seconds));
}

static void finish_header(fg_forge *f, const char *comment)
{
	fg_header *h = fg_header_of(f);
	h->bugcheck_code = 0xE2; /* MANUALLY_INITIATED_CRASH: the hung VM was crashed on purpose */
	for (int i = 0; i < 4; i++)
		h->bugcheck_params[i] = 0;
	strcpy(h->comment, comment);
}

/* The functions both architectures' cases share, made per architecture;
 * the return addresses that differ between them; the modules to place. */
typedef struct seed_fns {
	fg_fn *kswap, *kst, *kct, *kwait, *syscall_entry, *ntclose, *obclose, *iopclose, *iofcall, *alpcsend,
	    *alpcwait, *alpcreply, *fltdispatch, *fltpre, *tmprecb, *tmxpwait;
	uint32_t kswap_ip, syscall_ip, stub_ip; /* in KiSwapContext, the system call entry, ntdll's stubs */
	fg_module *modules[8];
} seed_fns;

/* smss, csrss, winlogon and svchost with an idle thread each; explorer */
static void add_processes(fg_kernel *k, fg_seed *sd, uint64_t ev)
{
	uint64_t smss = fg_kernel_add_process(k, "smss.exe", 356, 4);
	idle_waiter(k, smss, 360, ev, 3600);
	uint64_t csrss = fg_kernel_add_process(k, "csrss.exe", 512, 504);
	idle_waiter(k, csrss, 516, ev, 3500);
	uint64_t winlogon = fg_kernel_add_process(k, "winlogon.exe", 588, 504);
	idle_waiter(k, winlogon, 592, ev, 95);
	sd->svchost = fg_kernel_add_process(k, "svchost.exe", 1044, 684);
	idle_waiter(k, sd->svchost, 1048, ev, 600);
	sd->explorer = fg_kernel_add_process(k, "explorer.exe", 4232, 4200);
}

/* nt's wait from KeWaitForSingleObject down to the switch; the chain ends */
static void wait_and_finish(fg_chain *c, const seed_fns *x)
{
	fg_chain_call(c, x->kwait, 0x377);
	fg_chain_call(c, x->kct, 0x14f);
	fg_chain_call(c, x->kst, 0x17d);
	fg_chain_call(c, x->kswap, x->kswap_ip);
	fg_chain_wait(c);
	fg_chain_free(c);
}

/* explorer's main thread from its NtClose stub: the system call, the
 * close path, the filter stack into TmXPFlt's wait; then the scan event
 * it waits on and its idle sibling, and the connection port svchost uses */
static void explorer_close(fg_forge *f, fg_kernel *k, fg_seed *sd, fg_chain *c, fg_fn *e_close, const seed_fns *x,
                           uint64_t ev, uint64_t *sport, uint64_t *cport)
{
	fg_chain_call(c, e_close, x->stub_ip);
	fg_chain_syscall(c, x->syscall_entry, x->syscall_ip);
	fg_chain_call(c, x->ntclose, 0x3f);
	fg_chain_call(c, x->obclose, 0x6b);
	fg_chain_call(c, x->iopclose, 0x5a);
	fg_chain_call(c, x->iofcall, 0x55);
	fg_chain_call(c, x->fltdispatch, 0x3a5);
	fg_chain_call(c, x->fltpre, 0x4d2);
	fg_chain_call(c, x->tmprecb, 0x19b);
	fg_chain_call(c, x->tmxpwait, 0xe3); /* TmXPFlt+0x1bce3 */
	wait_and_finish(c, x);
	uint64_t scan_done = fg_kernel_add_object(k, "EventNotificationObject", 0);
	fg_kernel_thread_wait(k, sd->main_thread, &scan_done, 1, 1);
	fg_kernel_thread_state(k, sd->main_thread, 5, 0, 0, NOW - SECONDS(112));
	/* explorer's other threads: an RPC worker waiting to receive, idle waits */
	idle_waiter(k, sd->explorer, 4240, ev, 30);
	uint64_t conn = fg_alpc_connection_port(f, k, sd->explorer, "OLE5D6B6AE6A3F4C0E8B1C2D3E4F5A6");
	fg_alpc_connect(f, k, conn, sd->explorer, sd->svchost, sport, cport);
}

/* the svchost thread from its NtAlpcSendWaitReceivePort stub: the system
 * call and the wait for the reply; then its message and wait record; then
 * every module placed */
static void svchost_call(fg_forge *f, fg_kernel *k, fg_seed *sd, fg_chain *c, fg_fn *s_alpc, const seed_fns *x,
                         uint64_t sport, uint64_t cport)
{
	fg_chain_call(c, s_alpc, x->stub_ip);
	fg_chain_syscall(c, x->syscall_entry, x->syscall_ip);
	fg_chain_call(c, x->alpcsend, 0x73);
	fg_chain_call(c, x->alpcreply, 0x4d);
	fg_chain_call(c, x->alpcwait, 0x5a);
	wait_and_finish(c, x);
	sd->message = fg_alpc_message(f, k, sport, KHANG_ALPC_QUEUE_MAIN, cport, sd->client_thread, 0);
	fg_alpc_wait_reply(f, k, sd->client_thread, sd->message, 0x1f4c, NOW - SECONDS(85)); /* 1:25 */
	for (size_t i = 0; i < 8; i++)
		fg_module_place(x->modules[i], 0);
}

int fg_seed_new(fg_seed *sd)
{
	const kh_layout *l = kh_layout_builtin_by_guid_string("5278AFF86C341677D7D7835C85B7B844", 1);
	memset(sd, 0, sizeof(*sd));
	if (!l)
		return -1;
	fg_forge *f = fg_new(FG_X64, 1u << 20); /* 4 GiB of RAM */
	fg_kernel_opts o = { 0 };
	o.ncpus = 4;
	o.tick_count = NOW;
	fg_kernel *k = fg_kernel_new(f, l, &o);
	fg_stack *s = fg_stack_new(f, k);
	sd->f = f;

	/* memory: 16 GiB, 13.3 GiB available (the seed's !vm) */
	uint64_t phys = 4194156, avail = 3479978;
	fg_kernel_write(k, fg_kernel_global(k, KH_G_MmNumberOfPhysicalPages), &phys, 8);
	fg_kernel_write(k, fg_kernel_global(k, KH_G_MmAvailablePages), &avail, 8);

	/* nt */
	fg_module *nt = fg_stack_nt(s);
	static const uint16_t swap[] = { UW(18, FG_UWOP_ALLOC_SMALL, 4),  UW(14, FG_UWOP_PUSH_NONVOL, FG_R15),
		                         UW(12, FG_UWOP_PUSH_NONVOL, FG_R14), UW(10, FG_UWOP_PUSH_NONVOL, FG_R13),
		                         UW(8, FG_UWOP_PUSH_NONVOL, FG_R12),  UW(6, FG_UWOP_PUSH_NONVOL, FG_RDI),
		                         UW(5, FG_UWOP_PUSH_NONVOL, FG_RSI),  UW(4, FG_UWOP_PUSH_NONVOL, FG_RBX),
		                         UW(2, FG_UWOP_PUSH_NONVOL, FG_RBP) };
	fg_fn *kswap = fg_fn_x64(nt, "KiSwapContext", 0, 0x100, 18, 0, 0, swap, 9, NULL);
	fg_fn *kst = fn(nt, "KiSwapThread", 0, 0x200);
	fg_fn *kct = fn(nt, "KiCommitThreadWait", 0, 0x200);
	fg_fn *kwait = fn(nt, "KeWaitForSingleObject", 0, 0x400);
	fg_fn *sce = fg_fn_leaf(nt, "KiSystemServiceCopyEnd", 0, 0x40);
	fg_fn *ntclose = fn(nt, "NtClose", 0, 0x100);
	fg_fn *obclose = fn(nt, "ObpCloseHandle", 0, 0x200);
	fg_fn *iopclose = fn(nt, "IopCloseFile", 0, 0x300);
	fg_fn *iofcall = fn(nt, "IofCallDriver", 0, 0x100);
	fg_fn *alpcsend = fn(nt, "NtAlpcSendWaitReceivePort", 0, 0x400);
	fg_fn *alpcwait = fn(nt, "AlpcpSignalAndWait", 0, 0x200);
	fg_fn *alpcreply = fn(nt, "AlpcpReceiveSynchronousReply", 0, 0x200);

	/* the filter stack: FLTMGR (inbox), TmPreFlt and TmXPFlt (third-party) */
	fg_module *fltmgr = fg_stack_module(s, "FLTMGR.SYS", FLTMGR_BASE, 0x20000);
	fg_fn *fltdispatch = fn(fltmgr, "FltpDispatch", 0x1000, 0x400);
	fg_fn *fltpre = fn(fltmgr, "FltpPerformPreCallbacks", 0x3000, 0x600);
	fg_module *tmpre = fg_stack_module(s, "TmPreFlt.sys", TMPREFLT_BASE, 0x10000);
	fg_fn *tmprecb = fn(tmpre, "TmpPreCleanup", 0x2400, 0x300);
	fg_module *tmxp = fg_stack_module(s, "TmXPFlt.sys", TMXPFLT_BASE, 0x40000);
	fg_fn *tmxpwait = fn(tmxp, "TmXPFltWaitForScan", 0x1bc00, 0x200);
	sd->tmxpflt_base = TMXPFLT_BASE;

	/* processes */
	uint64_t ev = fg_kernel_add_object(k, "EventSynchronizationObject", 0);
	add_processes(k, sd, ev);

	/* explorer's main thread: WinMain -> NtClose -> ... -> TmXPFlt -> wait */
	fg_module *entdll = user_process(s, sd->explorer, 0x000000a6e0c3a000ull, 0x00007ffe86300000ull);
	fg_fn *e_rtl = fn(entdll, "RtlUserThreadStart", 0, 0x80);
	fg_fn *e_close = fg_fn_leaf(entdll, "NtClose", 0, 0x20);
	fg_module *exe = fg_stack_user_module(s, sd->explorer, "explorer.exe", 0x00007ff6c2f40000ull, 0x10000);
	fg_fn *winmain = fn(exe, "wWinMain", 0x1000, 0x800);
	sd->main_thread = fg_kernel_add_thread(k, sd->explorer, 4236);
	fg_kernel_set(k, sd->main_thread, KH_F_ETHREAD_CreateTime, 132400000000000000ull);
	fg_kernel_set(k, sd->main_thread, KH_F_KTHREAD_Win32Thread, 0xffff9b0000a41010ull);
	uint64_t ustack = 0x000000a6e0f00000ull;
	fg_stack_user_teb(s, sd->main_thread, sd->explorer, 0x000000a6e0c3c000ull, ustack, ustack - 0x40000);
	fg_chain *c = fg_chain_new(s, sd->main_thread, KSTACK, 0x6000);
	fg_chain_user(c, sd->explorer, ustack);
	fg_chain_call(c, e_rtl, 0x21);
	fg_chain_call(c, winmain, 0x2c3);
	seed_fns x = { kswap, kst, kct, kwait, sce, ntclose, obclose, iopclose, iofcall, alpcsend, alpcwait, alpcreply,
		       fltdispatch, fltpre, tmprecb, tmxpwait, 0x76, 0x25, 0x14, { 0 } };
	uint64_t sport, cport;
	explorer_close(f, k, sd, c, e_close, &x, ev, &sport, &cport);

	/* the svchost thread in logoff work: a COM call to explorer */
	fg_module *sntdll = user_process(s, sd->svchost, 0x0000009c5e41c000ull, 0x00007ffe86300000ull);
	fg_fn *s_rtl = fn(sntdll, "RtlUserThreadStart", 0, 0x80);
	fg_fn *s_alpc = fg_fn_leaf(sntdll, "NtAlpcSendWaitReceivePort", 0x2000, 0x20);
	fg_module *netprofm = fg_stack_user_module(s, sd->svchost, "netprofmsvc.dll", 0x00007ffe5a1e0000ull, 0x10000);
	fg_fn *logoff = fn(netprofm, "NetProfileManUserLogOff", 0x4000, 0x600);
	sd->client_thread = fg_kernel_add_thread(k, sd->svchost, 5012);
	uint64_t sstack = 0x0000009c5e800000ull;
	fg_stack_user_teb(s, sd->client_thread, sd->svchost, 0x0000009c5e41e000ull, sstack, sstack - 0x40000);
	c = fg_chain_new(s, sd->client_thread, KSTACK + 0x10000, 0x6000);
	fg_chain_user(c, sd->svchost, sstack);
	fg_chain_call(c, s_rtl, 0x21);
	fg_chain_call(c, logoff, 0x1e5);
	fg_module *mods[8] = { nt, fltmgr, tmpre, tmxp, entdll, exe, sntdll, netprofm };
	memcpy(x.modules, mods, sizeof(mods));
	svchost_call(f, k, sd, c, s_alpc, &x, sport, cport);
	fg_stack_free(s);
	fg_kernel_free(k);

	finish_header(f, "libkhang sample: logoff hang (synthetic, after the seed case)");
	return 0;
}

/* ---- the same case on x86 (Windows 7 SP1 PAE) ---------------------------------- */

#define FLTMGR_X86 0x8b200000ull
#define TMPREFLT_X86 0x8b400000ull
#define TMXPFLT_X86 0x8b600000ull
#define KSTACK_X86 0x9a000000ull

/* an x86 function with an ebp frame of locals bytes */
static fg_fn *fn86(fg_module *m, const char *name, uint32_t rva, uint32_t size, uint32_t locals)
{
	return fg_fn_x86(m, name, rva, size, locals, true);
}

int fg_seed_new_x86(fg_seed *sd)
{
	kh_layout_candidate cand[4];
	memset(sd, 0, sizeof(*sd));
	if (kh_layout_builtin_candidates(KHANG_ARCH_X86, 7601, 1, cand, 4) == 0)
		return -1;
	fg_forge *f = fg_new(FG_X86_PAE, 1u << 20); /* 4 GiB of RAM */
	fg_kernel_opts o = { 0 };
	o.ncpus = 4;
	o.tick_count = NOW;
	fg_kernel *k = fg_kernel_new(f, cand[0].layout, &o);
	fg_stack *s = fg_stack_new(f, k);
	sd->f = f;

	/* memory: 4 GiB, 3.1 GiB available (PFN_NUMBER is 32 bits) */
	uint32_t phys = 1048416, avail = 812345;
	fg_kernel_write(k, fg_kernel_global(k, KH_G_MmNumberOfPhysicalPages), &phys, 4);
	fg_kernel_write(k, fg_kernel_global(k, KH_G_MmAvailablePages), &avail, 4);

	/* nt: the x86 layouts give no function RVAs, so ours (exported) */
	fg_module *nt = fg_stack_nt(s);
	fg_fn *kswap = fg_fn_x86(nt, "KiSwapContext", 0x40000, 0x40, 0, false);
	fg_fn *kst = fn86(nt, "KiSwapThread", 0x40100, 0x200, 0x20);
	fg_fn *kct = fn86(nt, "KiCommitThreadWait", 0x40400, 0x200, 0x18);
	fg_fn *kwait = fn86(nt, "KeWaitForSingleObject", 0x40800, 0x400, 0x2c);
	fg_fn *fce = fn86(nt, "KiFastCallEntry", 0x41000, 0x200, 0);
	fg_fn *ntclose = fn86(nt, "NtClose", 0x41400, 0x100, 0x10);
	fg_fn *obclose = fn86(nt, "ObpCloseHandle", 0x41600, 0x200, 0x28);
	fg_fn *iopclose = fn86(nt, "IopCloseFile", 0x41a00, 0x300, 0x30);
	fg_fn *iofcall = fn86(nt, "IofCallDriver", 0x42000, 0x100, 0);
	fg_fn *alpcsend = fn86(nt, "NtAlpcSendWaitReceivePort", 0x42400, 0x400, 0x60);
	fg_fn *alpcwait = fn86(nt, "AlpcpSignalAndWait", 0x42c00, 0x200, 0x14);
	fg_fn *alpcreply = fn86(nt, "AlpcpReceiveSynchronousReply", 0x43000, 0x200, 0x1c);

	/* the filter stack */
	fg_module *fltmgr = fg_stack_module(s, "FLTMGR.SYS", FLTMGR_X86, 0x20000);
	fg_fn *fltdispatch = fn86(fltmgr, "FltpDispatch", 0x1000, 0x400, 0x10);
	fg_fn *fltpre = fn86(fltmgr, "FltpPerformPreCallbacks", 0x3000, 0x600, 0x44);
	fg_module *tmpre = fg_stack_module(s, "TmPreFlt.sys", TMPREFLT_X86, 0x10000);
	fg_fn *tmprecb = fn86(tmpre, "TmpPreCleanup", 0x2400, 0x300, 0x20);
	fg_module *tmxp = fg_stack_module(s, "TmXPFlt.sys", TMXPFLT_X86, 0x40000);
	fg_fn *tmxpwait = fn86(tmxp, "TmXPFltWaitForScan", 0x1bc00, 0x200, 0x1c);
	sd->tmxpflt_base = TMXPFLT_X86;

	/* processes */
	uint64_t ev = fg_kernel_add_object(k, "EventSynchronizationObject", 0);
	add_processes(k, sd, ev);

	/* explorer's main thread: WinMain -> NtClose -> ... -> TmXPFlt -> wait */
	fg_stack_user_process(s, sd->explorer, 0x7ffdf000u);
	fg_module *entdll = fg_stack_user_module(s, sd->explorer, "ntdll.dll", 0x77000000u, 0x8000);
	fg_fn *e_rtl = fn86(entdll, "RtlUserThreadStart", 0, 0x80, 0x10);
	fg_fn *e_close = fn86(entdll, "NtClose", 0, 0x40, 0);
	fg_module *exe = fg_stack_user_module(s, sd->explorer, "explorer.exe", 0x00e30000u, 0x10000);
	fg_fn *winmain = fn86(exe, "wWinMain", 0x1000, 0x800, 0x120);
	sd->main_thread = fg_kernel_add_thread(k, sd->explorer, 4236);
	fg_kernel_set(k, sd->main_thread, KH_F_ETHREAD_CreateTime, 132400000000000000ull);
	fg_kernel_set(k, sd->main_thread, KH_F_KTHREAD_Win32Thread, 0xfe41c010u);
	fg_stack_user_teb(s, sd->main_thread, sd->explorer, 0x7ffde000u, 0x00200000u, 0x00100000u);
	fg_chain *c = fg_chain_new(s, sd->main_thread, KSTACK_X86, 0x3000);
	fg_chain_user(c, sd->explorer, 0x00200000u);
	fg_chain_call(c, e_rtl, 0x22);
	fg_chain_call(c, winmain, 0x2c3);
	seed_fns x = { kswap, kst, kct, kwait, fce, ntclose, obclose, iopclose, iofcall, alpcsend, alpcwait, alpcreply,
		       fltdispatch, fltpre, tmprecb, tmxpwait, 0x26, 0x12a, 0xc, { 0 } };
	uint64_t sport, cport;
	explorer_close(f, k, sd, c, e_close, &x, ev, &sport, &cport);

	/* the svchost thread in logoff work: a COM call to explorer */
	fg_stack_user_process(s, sd->svchost, 0x7ffd8000u);
	fg_module *sntdll = fg_stack_user_module(s, sd->svchost, "ntdll.dll", 0x77000000u, 0x8000);
	fg_fn *s_rtl = fn86(sntdll, "RtlUserThreadStart", 0, 0x80, 0x10);
	fg_fn *s_alpc = fn86(sntdll, "NtAlpcSendWaitReceivePort", 0x2000, 0x40, 0);
	fg_module *netprofm = fg_stack_user_module(s, sd->svchost, "netprofmsvc.dll", 0x6e1e0000u, 0x10000);
	fg_fn *logoff = fn86(netprofm, "NetProfileManUserLogOff", 0x4000, 0x600, 0x48);
	sd->client_thread = fg_kernel_add_thread(k, sd->svchost, 5012);
	fg_stack_user_teb(s, sd->client_thread, sd->svchost, 0x7ffd7000u, 0x01800000u, 0x01700000u);
	c = fg_chain_new(s, sd->client_thread, KSTACK_X86 + 0x10000, 0x3000);
	fg_chain_user(c, sd->svchost, 0x01800000u);
	fg_chain_call(c, s_rtl, 0x22);
	fg_chain_call(c, logoff, 0x1e5);
	fg_module *mods[8] = { nt, fltmgr, tmpre, tmxp, entdll, exe, sntdll, netprofm };
	memcpy(x.modules, mods, sizeof(mods));
	svchost_call(f, k, sd, c, s_alpc, &x, sport, cport);
	fg_stack_free(s);
	fg_kernel_free(k);
	finish_header(f, "libkhang sample: logoff hang, x86 (synthetic, after the seed case)");
	return 0;
}

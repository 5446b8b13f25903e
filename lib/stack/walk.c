/*
 * Stack walks: where a walk starts (a thread's switch frame, a running
 * processor's context, a CONTEXT record), the step loop for x64 and x86,
 * trap frames into the previous mode, the verified stack scan, and the
 * bounds every walk keeps.
 *
 * Starting points
 * - x64 waiting/ready thread: KTHREAD.KernelStack points to a _KSWITCH_FRAME
 *   (0x40 bytes: P1Home..P5Home, ApcBypass at 0x28, Rbp at 0x30, Return at
 *   0x38): ip = Return (in nt!KiSwapContext), sp = KernelStack + 0x40.
 * - x86 waiting/ready thread: KTHREAD.KernelStack is the stack pointer
 *   SwapContext saved. From there: [+0x00] the exception list, [+0x04] the
 *   APC bypass flag (EFLAGS on NT 5), [+0x08] the return address into
 *   KiSwapContext (after "call SwapContext"); then the four registers
 *   KiSwapContext saved with "sub esp, 10h" in the order that leaves ebp
 *   last, "so the debugger can find the saved ebp": [+0x0C] ebp, [+0x10]
 *   edi, [+0x14] esi, [+0x18] ebx; and [+0x1C] KiSwapContext's own return
 *   address (into KiSwapThread or its older callers). Frame 0 is ip =
 *   [+0x08], esp = KernelStack + 0x0C, ebp = [+0x0C]; frame 1 is ip =
 *   [+0x1C], esp = KernelStack + 0x20 (KiDispatchInterrupt saves three
 *   registers instead of four: [+0x18] is then tried); the ebp chain
 *   follows. See docs/stacks.md.
 * - A running thread: the dump header's context record when its stack
 *   pointer is on the thread's stacks (the processor that crashed), else
 *   KPRCB.ProcessorState.ContextFrame of the processor it runs on.
 *
 * Bounds: a thread's walk stays within its kernel stack [StackLimit,
 * StackBase], the DPC and ISR stacks of its processor, and (user mode) the
 * TEB's stack; within one stack the stack pointer must increase; each stack
 * is entered once. Walks from a CONTEXT record only require an increasing
 * stack pointer.
 */
#include <stdio.h>

#include "objects/objects.h"
#include "stack_int.h"

#define DEFAULT_MAX_FRAMES 256u
#define MAX_FRAMES 4096u
#define DEFAULT_SCAN 0x4000u
#define MAX_SCAN 0x100000u
#define KSTACK_X64 0x6000u
#define KSTACK_X86 0x3000u
#define MAX_KSTACK (16u << 20)
#define USER_TOP_X64 0x00007FFFFFFF0000ull
#define USER_TOP_X86 0x80000000ull
#define KTRAP_X64_SIZE 0x190u

/* Trap entry points: a frame in one of these continues through the
 * KTRAP_FRAME at its stack pointer (x64) or frame pointer (x86). */
static const kh_fn_id trap_fns_x64[] = {
	KH_FN_KiSystemServiceCopyEnd, KH_FN_KiSystemServiceCopyStart, KH_FN_KiSystemServiceStart,
	KH_FN_KiSystemServiceRepeat, KH_FN_KiSystemServiceUser, KH_FN_KiSystemServiceExit,
	KH_FN_KiSystemCall64, KH_FN_KiSystemCall64Shadow, KH_FN_KiSystemCall32, KH_FN_KiSystemCall32Shadow,
	KH_FN_KiPageFault, KH_FN_KiPageFaultShadow, KH_FN_KiGeneralProtectionFault, KH_FN_KiSegmentNotPresentFault,
	KH_FN_KiStackFault, KH_FN_KiDebugTrapOrFault, KH_FN_KiBreakpointTrap, KH_FN_KiInvalidOpcodeFault,
	KH_FN_KiDoubleFaultAbort, KH_FN_KiNmiInterrupt, KH_FN_KiIpiInterrupt, KH_FN_KiDpcInterrupt,
	KH_FN_KiApcInterrupt, KH_FN_KiSwInterrupt, KH_FN_KiMcheckAbort, KH_FN_KiRaiseSecurityCheckFailure,
};
static const kh_fn_id trap_fns_x86[] = {
	KH_FN_KiFastCallEntry, KH_FN_KiFastCallEntry2, KH_FN_KiSystemService, KH_FN_KiServiceExit,
	KH_FN_KiServiceExit2, KH_FN_KiTrap02, KH_FN_KiTrap08, KH_FN_KiTrap0D, KH_FN_KiTrap0E,
};

struct kh_walk {
	khang_source *src;
	kh_kernel *k;
	const kh_layout *l;
	bool x86;
	unsigned ps;
	kh_walk_opts o;
	khang_stack *s;
	uint64_t dtb;             /* the process's address space for user frames (0: none) */
	uint64_t trap_frame;      /* KTHREAD.TrapFrame, 0 if unknown */
	bool bounded;
	kh_range ranges[KH_MAX_RANGES];
	unsigned nranges;
	uint32_t visited;         /* ranges entered */
	int cur;                  /* range of the current sp, -1 none */
	uint64_t user_lo, user_hi;/* the TEB's stack, or 0/0 */
	uint64_t teb;
	bool x86_switch;          /* next step is frame 0 -> 1 of an x86 switch frame */
	uint64_t switch_sp;       /* KernelStack of that frame */
	kh_umods *umods;          /* user modules (loaded on first need), may be NULL */
	const kh_walk_cache *traps; /* trap entry ranges */
	bool read_failed;         /* a stack read of the last step failed */
	uint64_t read_va;
};

int kh_walk_opts_get(kh_walk_opts *out, const khang_stack_opts *opts, const char *who)
{
	out->max_frames = DEFAULT_MAX_FRAMES;
	out->flags = 0;
	out->scan_bytes = DEFAULT_SCAN;
	if (!opts)
		return 0;
	if (opts->size < offsetof(khang_stack_opts, max_frames) + sizeof(uint32_t))
		return kh_error(KHANG_EINVAL, "%s: options size %zu too small", who, opts->size);
	if (opts->size > sizeof(khang_stack_opts)) {
		const uint8_t *tail = (const uint8_t *)opts + sizeof(khang_stack_opts);
		for (size_t i = 0; i < opts->size - sizeof(khang_stack_opts); i++)
			if (tail[i])
				return kh_error(KHANG_EINVAL, "%s: options from a newer version (size %zu)", who, opts->size);
	}
	if (opts->max_frames)
		out->max_frames = KH_MIN(opts->max_frames, MAX_FRAMES);
	if (opts->size >= offsetof(khang_stack_opts, flags) + sizeof(uint32_t))
		out->flags = opts->flags;
	if (opts->size >= offsetof(khang_stack_opts, scan_bytes) + sizeof(uint32_t) && opts->scan_bytes)
		out->scan_bytes = KH_MIN(opts->scan_bytes, MAX_SCAN);
	return 0;
}

/* ---- memory --------------------------------------------------------------------- */

static int rd(kh_walk *w, bool user, uint64_t va, uint64_t *out)
{
	int rc;
	if (w->x86) {
		uint32_t v;
		rc = kh_vread_u32(w->src, user ? w->dtb : 0, va, &v);
		*out = v;
	} else {
		rc = kh_vread_u64(w->src, user ? w->dtb : 0, va, out);
	}
	if (rc < 0) {
		w->read_failed = true;
		w->read_va = va;
	}
	return rc;
}

typedef struct uw_ctx {
	kh_walk *w;
	bool user;
} uw_ctx;

static int uw_read(void *ctx, uint64_t va, uint64_t *out)
{
	uw_ctx *c = ctx;
	int rc = kh_vread_u64(c->w->src, c->user ? c->w->dtb : 0, va, out);
	if (rc < 0) {
		c->w->read_failed = true;
		c->w->read_va = va;
	}
	return rc;
}

/* ---- modules ------------------------------------------------------------------- */

typedef struct where {
	uint64_t base;
	const char *name;
	kh_pe *pe;        /* image to unwind with / read code from; NULL if none */
	bool found;
} where;

static bool is_user_va(const kh_walk *w, uint64_t va)
{
	return va < (w->x86 ? USER_TOP_X86 : USER_TOP_X64);
}

static kh_umods *user_modules(kh_walk *w)
{
	if (!w->umods || !w->dtb)
		return NULL;
	kh_umods_load(w->src, w->umods);
	return w->umods;
}

static where locate(kh_walk *w, uint64_t va, bool user, bool want_image)
{
	where r = { 0, "", NULL, false };
	if (user) {
		kh_umods *u = user_modules(w);
		kh_umod *m = u ? kh_umods_at(u, va) : NULL;
		if (m) {
			r.found = true;
			r.base = m->base;
			r.name = m->short_name;
			r.pe = want_image ? kh_umod_image(w->src, u, m) : NULL;
		}
		return r;
	}
	if (is_user_va(w, va))
		return r;
	khang_module *m = kh_kernel_module_at(w->src, va);
	if (m) {
		r.found = true;
		r.base = m->base;
		r.name = m->short_name;
		r.pe = want_image ? kh_module_unwind_image(w->src, m) : NULL;
	}
	return r;
}

/* ---- ranges -------------------------------------------------------------------- */

static void add_range(kh_walk *w, uint64_t lo, uint64_t hi, bool user)
{
	if (lo >= hi || hi - lo > MAX_KSTACK || w->nranges >= KH_MAX_RANGES)
		return;
	for (unsigned i = 0; i < w->nranges; i++)
		if (w->ranges[i].lo == lo && w->ranges[i].hi == hi)
			return;
	w->ranges[w->nranges].lo = lo;
	w->ranges[w->nranges].hi = hi;
	w->ranges[w->nranges].user = user;
	w->nranges++;
}

static int range_of(const kh_walk *w, uint64_t sp, bool user)
{
	for (unsigned i = 0; i < w->nranges; i++)
		if (w->ranges[i].user == user && sp >= w->ranges[i].lo && sp <= w->ranges[i].hi)
			return (int)i;
	return -1;
}

/* The user stack from the TEB (NT_TIB StackBase / StackLimit), added as a
 * range when readable. */
static void user_range(kh_walk *w)
{
	if (w->user_hi || !w->teb || !w->dtb)
		return;
	uint64_t base = 0, limit = 0;
	if (rd(w, true, w->teb + w->ps, &base) < 0 || rd(w, true, w->teb + 2ull * w->ps, &limit) < 0) {
		w->read_failed = false;
		return;
	}
	if (limit < base && base - limit <= (256u << 20) && is_user_va(w, base - 1)) {
		w->user_lo = limit;
		w->user_hi = base;
		if (w->nranges < KH_MAX_RANGES) {
			w->ranges[w->nranges].lo = limit;
			w->ranges[w->nranges].hi = base;
			w->ranges[w->nranges].user = true;
			w->nranges++;
		}
	}
}

/* ---- trap frames ---------------------------------------------------------------- */

static void trap_ranges(kh_walk *w, kh_walk_cache *c)
{
	const kh_fn_id *fns = w->x86 ? trap_fns_x86 : trap_fns_x64;
	size_t n = w->x86 ? KH_ARRAY_SIZE(trap_fns_x86) : KH_ARRAY_SIZE(trap_fns_x64);
	w->traps = c;
	if (c->traps_ready)
		return;
	c->traps_ready = true;
	c->ntrap = 0;
	if (!w->l || !w->k)
		return;
	for (size_t i = 0; i < n && c->ntrap < KH_MAX_TRAP_FNS; i++) {
		uint32_t rva, size;
		if (kh_layout_function(w->l, fns[i], &rva, &size) && size) {
			c->trap_lo[c->ntrap] = rva;
			c->trap_hi[c->ntrap] = rva + size;
			c->ntrap++;
		}
	}
}

static bool in_trap_fn(const kh_walk *w, uint64_t ip)
{
	const kh_walk_cache *c = w->traps;
	if (!w->k || !c || !c->ntrap || ip < w->k->info.base)
		return false;
	uint64_t rva = ip - w->k->info.base;
	for (unsigned i = 0; i < c->ntrap; i++)
		if (rva >= c->trap_lo[i] && rva < c->trap_hi[i])
			return true;
	return false;
}

static uint32_t field_off(const kh_walk *w, kh_field_id id, uint32_t fallback)
{
	if (w->l && kh_layout_has(w->l, id))
		return kh_layout_offset(w->l, id);
	return fallback;
}

/* Continue through the KTRAP_FRAME at t: 1 done (regs hold the interrupted
 * context, *user its mode), 0 not a usable trap frame, <0 unreadable. */
static int via_trap(kh_walk *w, uint64_t t, kh_regs *regs, bool *user)
{
	uint64_t ip, sp, bp, cs;
	int rc;
	if (w->x86) {
		uint32_t o_eip = field_off(w, KH_F_KTRAP_FRAME_Eip, 0x68), o_cs = field_off(w, KH_F_KTRAP_FRAME_SegCs, 0x6C);
		uint32_t o_ebp = field_off(w, KH_F_KTRAP_FRAME_Ebp, 0x60), o_esp = field_off(w, KH_F_KTRAP_FRAME_HardwareEsp, 0x74);
		if ((rc = rd(w, false, t + o_eip, &ip)) < 0 || (rc = rd(w, false, t + o_cs, &cs)) < 0 ||
		    (rc = rd(w, false, t + o_ebp, &bp)) < 0)
			return rc;
		cs &= 0xFFFF;
		if (cs & 1) {
			if ((rc = rd(w, false, t + o_esp, &sp)) < 0)
				return rc;
			if (!is_user_va(w, ip) || !is_user_va(w, sp) || !sp)
				return 0;
			*user = true;
		} else {
			sp = t + o_esp; /* a kernel-mode trap frame ends before HardwareEsp */
			if (is_user_va(w, ip) || ip == 0)
				return 0;
			*user = false;
		}
		uint64_t ebx = 0, esi = 0, edi = 0;
		rd(w, false, t + field_off(w, KH_F_KTRAP_FRAME_Ebx, 0x5C), &ebx);
		rd(w, false, t + field_off(w, KH_F_KTRAP_FRAME_Esi, 0x58), &esi);
		rd(w, false, t + field_off(w, KH_F_KTRAP_FRAME_Edi, 0x54), &edi);
		w->read_failed = false;
		regs->r[KH_RBX] = ebx;
		regs->r[KH_RSI] = esi;
		regs->r[KH_RDI] = edi;
	} else {
		uint32_t o_rip = field_off(w, KH_F_KTRAP_FRAME_Rip, 0x168), o_cs = field_off(w, KH_F_KTRAP_FRAME_SegCs, 0x170);
		uint32_t o_rsp = field_off(w, KH_F_KTRAP_FRAME_Rsp, 0x180), o_rbp = field_off(w, KH_F_KTRAP_FRAME_Rbp, 0x158);
		if ((rc = rd(w, false, t + o_rip, &ip)) < 0 || (rc = rd(w, false, t + o_cs, &cs)) < 0 ||
		    (rc = rd(w, false, t + o_rsp, &sp)) < 0 || (rc = rd(w, false, t + o_rbp, &bp)) < 0)
			return rc;
		cs &= 0xFFFF;
		if ((cs & 3) == 3) {
			if (!is_user_va(w, ip) || !is_user_va(w, sp) || !sp)
				return 0;
			*user = true;
			uint64_t rbx = 0, rsi = 0, rdi = 0;
			rd(w, false, t + field_off(w, KH_F_KTRAP_FRAME_Rbx, 0x140), &rbx);
			rd(w, false, t + field_off(w, KH_F_KTRAP_FRAME_Rsi, 0x150), &rsi);
			rd(w, false, t + field_off(w, KH_F_KTRAP_FRAME_Rdi, 0x148), &rdi);
			w->read_failed = false;
			regs->r[KH_RBX] = rbx;
			regs->r[KH_RSI] = rsi;
			regs->r[KH_RDI] = rdi;
		} else if ((cs & 3) == 0) {
			if (is_user_va(w, ip) || ip == 0 || sp <= t)
				return 0;
			*user = false;
		} else {
			return 0;
		}
	}
	regs->r[KH_RIP] = ip;
	regs->r[KH_RSP] = sp;
	regs->r[KH_RBP] = bp;
	return 1;
}

/* ---- scanning ------------------------------------------------------------------- */

/* Scan upward from regs' sp for a return address after a call into a known
 * module. 1 found (regs updated), 0 none. */
static int scan(kh_walk *w, kh_regs *regs, bool user)
{
	uint64_t sp = regs->r[KH_RSP];
	uint64_t a = (sp + w->ps - 1) & ~(uint64_t)(w->ps - 1);
	uint64_t hi = a + w->o.scan_bytes;
	if (hi < a)
		hi = UINT64_MAX;
	if (w->bounded) {
		int ri = range_of(w, sp, user);
		if (ri >= 0 && w->ranges[ri].hi < hi)
			hi = w->ranges[ri].hi;
	}
	for (; a + w->ps <= hi && a >= sp; a += w->ps) {
		uint64_t v;
		if (rd(w, user, a, &v) < 0) {
			w->read_failed = false;
			a = (a | 0xFFF) + 1 - w->ps; /* skip the missing page */
			continue;
		}
		if (!v || v == regs->r[KH_RIP])
			continue;
		if (user != is_user_va(w, v))
			continue;
		where m = locate(w, v, user, true);
		if (!m.found)
			continue;
		int c = kh_call_before(w->src, user ? w->dtb : 0, m.pe, m.base, v, w->x86);
		if (c == 0 || (c < 0 && !(w->o.flags & KHANG_STACK_SCAN_UNVERIFIED)))
			continue;
		regs->r[KH_RIP] = v;
		regs->r[KH_RSP] = a + w->ps;
		return 1;
	}
	return 0;
}

/* ---- one step ------------------------------------------------------------------- */

typedef struct step_out {
	khang_frame_kind kind;
	uint64_t trap;
	bool user;
	khang_stack_end_code end;   /* when the step failed */
	char why[200];
} step_out;

/* After a failed unwind: scan, or end with the reason. 0 stepped, 1 ended. */
static int fallback(kh_walk *w, kh_regs *regs, bool user, step_out *so, khang_stack_end_code code, const char *why)
{
	if (w->read_failed) {
		so->end = KHANG_STACK_END_NOT_PRESENT;
		snprintf(so->why, sizeof(so->why), "stack at 0x%llx is not in the dump", (unsigned long long)w->read_va);
		return 1;
	}
	if (!(w->o.flags & KHANG_STACK_NO_SCAN) && scan(w, regs, user)) {
		so->kind = KHANG_FRAME_SCAN;
		so->user = user;
		return 0;
	}
	so->end = code;
	kh_copy_str(so->why, sizeof(so->why), why);
	if (!(w->o.flags & KHANG_STACK_NO_SCAN)) {
		size_t n = strlen(so->why);
		snprintf(so->why + n, sizeof(so->why) - n, "; the stack scan found no return address");
	}
	return 1;
}

static int step_trap(kh_walk *w, uint64_t t, kh_regs *regs, bool *user, step_out *so)
{
	kh_regs r = *regs;
	bool u = false;
	int rc = via_trap(w, t, &r, &u);
	if (rc <= 0) {
		w->read_failed = false;
		return 0;
	}
	if (u && (w->o.flags & KHANG_STACK_KERNEL_ONLY)) {
		so->end = KHANG_STACK_END_USER_MODE;
		snprintf(so->why, sizeof(so->why), "user mode at 0x%llx (trap frame 0x%llx): not followed",
		         (unsigned long long)r.r[KH_RIP], (unsigned long long)t);
		return -1;
	}
	*regs = r;
	*user = u;
	so->kind = KHANG_FRAME_TRAP;
	so->trap = t;
	so->user = u;
	return 1;
}

static int step_x64(kh_walk *w, kh_regs *regs, bool user, step_out *so)
{
	uint64_t rip = regs->r[KH_RIP];
	so->user = user;
	if (!user && (in_trap_fn(w, rip) || (w->trap_frame && regs->r[KH_RSP] == w->trap_frame))) {
		bool u = user;
		int rc = step_trap(w, regs->r[KH_RSP], regs, &u, so);
		if (rc != 0)
			return rc > 0 ? 0 : 1;
	}
	if (user && !w->dtb) {
		so->end = KHANG_STACK_END_USER_MODE;
		snprintf(so->why, sizeof(so->why), "user mode at 0x%llx: no process address space to read",
		         (unsigned long long)rip);
		return 1;
	}
	char why[200];
	where m = locate(w, rip, user, true);
	if (!m.found) {
		snprintf(why, sizeof(why), "0x%llx is in no %s module", (unsigned long long)rip, user ? "user-mode" : "loaded");
		return fallback(w, regs, user, so, KHANG_STACK_END_NO_MODULE, why);
	}
	if (!m.pe) {
		snprintf(why, sizeof(why), "no image of %s to unwind with (not in the dump or the image path)", m.name);
		return fallback(w, regs, user, so, KHANG_STACK_END_NO_UNWIND, why);
	}
	kh_regs r = *regs;
	khang_frame_kind kind;
	uw_ctx c = { w, user };
	w->read_failed = false;
	int rc = kh_unwind_x64_image(m.pe, (uint32_t)(rip - m.base), m.name, uw_read, &c, &r, &kind);
	if (rc == 0) {
		*regs = r;
		so->kind = kind;
		/* a machine frame in kernel code may return to user mode */
		if (kind == KHANG_FRAME_TRAP && !user && is_user_va(w, r.r[KH_RIP])) {
			if (w->o.flags & KHANG_STACK_KERNEL_ONLY) {
				so->end = KHANG_STACK_END_USER_MODE;
				snprintf(so->why, sizeof(so->why), "user mode at 0x%llx: not followed",
				         (unsigned long long)r.r[KH_RIP]);
				return 1;
			}
			so->user = true;
		}
		return 0;
	}
	kh_copy_str(why, sizeof(why), khang_error_last());
	return fallback(w, regs, user, so,
	                rc == KHANG_ECORRUPT || rc == KHANG_ELIMIT ? KHANG_STACK_END_CORRUPT : KHANG_STACK_END_NO_UNWIND, why);
}

static int step_x86(kh_walk *w, kh_regs *regs, bool user, step_out *so)
{
	uint64_t eip = regs->r[KH_RIP], esp = regs->r[KH_RSP], ebp = regs->r[KH_RBP];
	so->user = user;
	if (w->x86_switch) {
		/* frame 0 -> 1 of the switch frame: KiSwapContext's return address */
		w->x86_switch = false;
		static const uint32_t at[] = { 0x1C, 0x18 };
		for (size_t i = 0; i < KH_ARRAY_SIZE(at); i++) {
			uint64_t v;
			if (rd(w, false, w->switch_sp + at[i], &v) < 0) {
				w->read_failed = false;
				continue;
			}
			where m = locate(w, v, false, true);
			if (!m.found)
				continue;
			int c = kh_call_before(w->src, 0, m.pe, m.base, v, true);
			if (c == 0)
				continue;
			regs->r[KH_RIP] = v;
			regs->r[KH_RSP] = w->switch_sp + at[i] + 4;
			so->kind = KHANG_FRAME_UNWIND;
			return 0;
		}
	}
	if (!user && (in_trap_fn(w, eip) || (w->trap_frame && ebp == w->trap_frame))) {
		bool u = user;
		int rc = step_trap(w, ebp, regs, &u, so);
		if (rc != 0)
			return rc > 0 ? 0 : 1;
	}
	if (user && !w->dtb) {
		so->end = KHANG_STACK_END_USER_MODE;
		snprintf(so->why, sizeof(so->why), "user mode at 0x%llx: no process address space to read",
		         (unsigned long long)eip);
		return 1;
	}
	char why[200];
	bool ok = ebp && !(ebp & 3) && ebp >= esp;
	if (ok && w->bounded) {
		int ri = range_of(w, esp, user);
		ok = ri >= 0 && range_of(w, ebp, user) == ri && ebp + 8 <= w->ranges[ri].hi;
	}
	if (ok) {
		uint64_t nebp, ret;
		w->read_failed = false;
		if (rd(w, user, ebp, &nebp) < 0 || rd(w, user, ebp + 4, &ret) < 0)
			return fallback(w, regs, user, so, KHANG_STACK_END_NOT_PRESENT, "");
		if (ret == 0) {
			regs->r[KH_RIP] = 0;
			regs->r[KH_RSP] = ebp + 8;
			so->kind = KHANG_FRAME_UNWIND;
			return 0;
		}
		if (locate(w, ret, user, false).found) {
			regs->r[KH_RIP] = ret;
			regs->r[KH_RSP] = ebp + 8;
			regs->r[KH_RBP] = nebp;
			so->kind = KHANG_FRAME_UNWIND;
			return 0;
		}
		snprintf(why, sizeof(why), "frame pointer 0x%llx: return address 0x%llx is in no module",
		         (unsigned long long)ebp, (unsigned long long)ret);
		return fallback(w, regs, user, so, KHANG_STACK_END_CORRUPT, why);
	}
	snprintf(why, sizeof(why), "frame pointer 0x%llx is not on the stack above 0x%llx", (unsigned long long)ebp,
	         (unsigned long long)esp);
	return fallback(w, regs, user, so, KHANG_STACK_END_CORRUPT, why);
}

/* ---- the loop ------------------------------------------------------------------- */

int kh_walk_from_regs(khang_stack *s, kh_walk *w, kh_regs *regs, bool user)
{
	int rc;
	if (w->bounded) {
		w->cur = range_of(w, regs->r[KH_RSP], user);
		if (w->cur >= 0)
			w->visited |= 1u << w->cur;
	}
	bool ended = false;
	while (!(ended = s->nframes >= w->o.max_frames)) {
		uint64_t prev_sp = regs->r[KH_RSP];
		step_out so;
		memset(&so, 0, sizeof(so));
		w->read_failed = false;
		rc = w->x86 ? step_x86(w, regs, user, &so) : step_x64(w, regs, user, &so);
		if (rc != 0) {
			kh_stack_set_end(s, so.end, "%s", so.why);
			break;
		}
		if (regs->r[KH_RIP] == 0) {
			kh_stack_set_end(s, KHANG_STACK_END_COMPLETE, "end of the stack (return address 0)");
			break;
		}
		bool nuser = so.user;
		uint64_t sp = regs->r[KH_RSP];
		if (nuser && !user)
			user_range(w);
		if (w->bounded && (!nuser || w->user_hi)) {
			int ri = range_of(w, sp, nuser);
			if (ri < 0) {
				kh_stack_set_end(s, KHANG_STACK_END_BAD_SP, "stack pointer 0x%llx left the thread's stacks",
				                 (unsigned long long)sp);
				break;
			}
			if (ri == w->cur && nuser == user) {
				if (sp <= prev_sp) {
					kh_stack_set_end(s, KHANG_STACK_END_BAD_SP, "stack pointer did not increase (0x%llx after 0x%llx)",
					                 (unsigned long long)sp, (unsigned long long)prev_sp);
					break;
				}
			} else if (w->visited & (1u << ri)) {
				kh_stack_set_end(s, KHANG_STACK_END_BAD_SP, "stack pointer 0x%llx went back to a stack already left",
				                 (unsigned long long)sp);
				break;
			}
			w->visited |= 1u << ri;
			w->cur = ri;
		} else if (nuser == user && sp <= prev_sp && so.kind != KHANG_FRAME_TRAP) {
			kh_stack_set_end(s, KHANG_STACK_END_BAD_SP, "stack pointer did not increase (0x%llx after 0x%llx)",
			                 (unsigned long long)sp, (unsigned long long)prev_sp);
			break;
		} else if (nuser != user) {
			w->cur = -1;
		}
		if ((rc = kh_stack_push(s, regs->r[KH_RIP], sp, so.kind, so.trap, nuser)) < 0)
			return rc;
		user = nuser;
	}
	if (ended)
		kh_stack_set_end(s, KHANG_STACK_END_FRAME_LIMIT, "frame limit (%u) reached", w->o.max_frames);
	return 0;
}

/* ---- start points ---------------------------------------------------------------- */

static void walk_init(kh_walk *w, khang_source *src, const kh_walk_opts *o, khang_stack *s, kh_walk_cache *c)
{
	memset(w, 0, sizeof(*w));
	w->src = src;
	w->x86 = src->info.arch == KHANG_ARCH_X86;
	w->ps = w->x86 ? 4 : 8;
	w->o = *o;
	w->s = s;
	w->cur = -1;
	if (kh_kernel_get(src, &w->k) == 0)
		w->l = w->k->layout;
	else
		w->k = NULL;
	trap_ranges(w, c);
}

int kh_regs_from_context_x86(kh_regs *out, const uint8_t *ctx, size_t len)
{
	if (len < 0xCC)
		return kh_error(KHANG_ECORRUPT, "x86 CONTEXT of %zu bytes is too short", len);
	memset(out, 0, sizeof(*out));
	out->r[KH_RDI] = kh_le32(ctx + 0x9C);
	out->r[KH_RSI] = kh_le32(ctx + 0xA0);
	out->r[KH_RBX] = kh_le32(ctx + 0xA4);
	out->r[2] = kh_le32(ctx + 0xA8);
	out->r[1] = kh_le32(ctx + 0xAC);
	out->r[KH_RAX] = kh_le32(ctx + 0xB0);
	out->r[KH_RBP] = kh_le32(ctx + 0xB4);
	out->r[KH_RIP] = kh_le32(ctx + 0xB8);
	out->r[KH_RSP] = kh_le32(ctx + 0xC4);
	return 0;
}

static int regs_from_context(const kh_walk *w, kh_regs *out, const uint8_t *ctx, size_t len)
{
	return w->x86 ? kh_regs_from_context_x86(out, ctx, len) : kh_regs_from_context_x64(out, ctx, len);
}

KHANG_API int khang_stack_walk_context(khang_stack **out, khang_source *src, uint64_t context_va,
                                       const khang_stack_opts *opts)
{
	uint8_t ctx[0x100];
	kh_regs regs;
	kh_walk_opts o;
	kh_walk w;
	int rc;

	if (!out || !kh_source_ok(src))
		return kh_error(KHANG_EINVAL, "khang_stack_walk_context: NULL or invalid argument");
	*out = NULL;
	if ((rc = kh_walk_opts_get(&o, opts, "khang_stack_walk_context")) < 0)
		return rc;
	if (src->info.arch != KHANG_ARCH_X64 && src->info.arch != KHANG_ARCH_X86)
		return kh_error(KHANG_EUNSUPPORTED, "stack walk: %s is not supported", khang_arch_name(src->info.arch));
	size_t clen = src->info.arch == KHANG_ARCH_X86 ? 0xCC : 0x100;
	if ((rc = kh_vread(src, 0, context_va, ctx, clen)) < 0)
		return kh_error(rc, "CONTEXT at 0x%llx is not in the dump", (unsigned long long)context_va);
	khang_stack *s = kh_stack_new(src);
	if (!s)
		return KHANG_ENOMEM;
	kh_walk_cache cache;
	memset(&cache, 0, sizeof(cache));
	cache.src = src;
	walk_init(&w, src, &o, s, &cache);
	regs_from_context(&w, &regs, ctx, clen);
	s->start = KHANG_STACK_START_CONTEXT_VA;
	bool user = is_user_va(&w, regs.r[KH_RIP]);
	if ((rc = kh_stack_push(s, regs.r[KH_RIP], regs.r[KH_RSP], KHANG_FRAME_CONTEXT, 0, user)) < 0 ||
	    (rc = kh_walk_from_regs(s, &w, &regs, user)) < 0) {
		khang_stack_free(s);
		return rc;
	}
	*out = s;
	return 0;
}

void kh_walk_cache_free(kh_walk_cache *c)
{
	if (c && c->src)
		kh_umods_free(c->src, &c->umods);
}

/* The processor the thread is running on, or NULL. */
static khang_processor *running_on(kh_objects *o, const khang_thread *t)
{
	if (kh_load_processors(o) < 0)
		return NULL;
	for (uint32_t i = 0; i < o->ncpus; i++)
		if (o->cpus[i].ok && o->cpus[i].current == t->va)
			return &o->cpus[i];
	return NULL;
}

/* Thread stacks: the kernel stack and, for a running thread, its
 * processor's DPC and ISR stacks. */
static void thread_ranges(kh_walk *w, const khang_thread *t, const khang_processor *cpu)
{
	uint64_t hi = t->stack_base ? t->stack_base : t->stack_init;
	uint64_t lo = t->stack_limit;
	if (hi && !lo)
		lo = hi - (w->x86 ? KSTACK_X86 : KSTACK_X64);
	if (hi && lo < hi)
		add_range(w, lo, hi, false);
	if (cpu && w->l) {
		uint64_t v;
		uint64_t size = w->x86 ? KSTACK_X86 : KSTACK_X64;
		if (kh_read_field(w->src, 0, cpu->kprcb, w->l, KH_F_KPRCB_DpcStack, &v) == 0 && v > size)
			add_range(w, v - size, v, false);
		if (kh_read_field(w->src, 0, cpu->kprcb, w->l, KH_F_KPRCB_IsrStack, &v) == 0 && v > size)
			add_range(w, v - size, v, false);
	}
	w->bounded = w->nranges > 0;
}

static bool sp_on_thread(const kh_walk *w, uint64_t sp)
{
	return range_of(w, sp, false) >= 0;
}

int kh_stack_walk_thread(khang_stack **out, const khang_thread *t, const kh_walk_opts *o, kh_walk_cache *cache)
{
	kh_objects *ob = t->o;
	khang_source *src = ob->src;
	kh_walk w;
	kh_regs regs;
	int rc;

	*out = NULL;
	if (src->info.arch != KHANG_ARCH_X64 && src->info.arch != KHANG_ARCH_X86)
		return kh_error(KHANG_EUNSUPPORTED, "stack walk: %s is not supported", khang_arch_name(src->info.arch));
	khang_stack *s = kh_stack_new(src);
	if (!s)
		return KHANG_ENOMEM;
	kh_walk_cache local;
	memset(&local, 0, sizeof(local));
	kh_walk_cache *c = cache ? cache : &local;
	if (!c->src)
		c->src = src;
	walk_init(&w, src, o, s, c);
	s->thread = t->va;
	s->process = t->process_va;
	if (t->process)
		s->dtb = t->process->dtb;
	else if (w.l && t->process_va)
		kh_read_field(src, 0, t->process_va, w.l, KH_F_KPROCESS_DirectoryTableBase, &s->dtb);
	w.dtb = s->dtb;
	w.teb = t->teb;
	if (w.l)
		kh_read_field(src, 0, t->va, w.l, KH_F_KTHREAD_TrapFrame, &w.trap_frame);

	if (c->umods.process != t->process_va || c->umods.dtb != s->dtb) {
		kh_umods_free(src, &c->umods);
		c->umods.process = t->process_va;
		c->umods.dtb = s->dtb;
	}
	w.umods = s->dtb && t->process_va ? &c->umods : NULL;

	int64_t running = 2;
	if (w.l)
		kh_layout_enum_value(w.l, KH_E_KTHREAD_STATE, "Running", &running);
	khang_processor *cpu = (t->have & KH_T_STATE) && t->state == running ? running_on(ob, t) : NULL;
	thread_ranges(&w, t, cpu);

	bool have = false;
	if (cpu) {
		const uint8_t *ctx;
		size_t clen;
		if (khang_source_context_record(&ctx, &clen, src) == 0 && regs_from_context(&w, &regs, ctx, clen) == 0 &&
		    regs.r[KH_RIP] && sp_on_thread(&w, regs.r[KH_RSP])) {
			have = true;
			s->start = KHANG_STACK_START_DUMP_CONTEXT;
		}
		if (!have && w.l && kh_layout_has(w.l, KH_F_KPRCB_ProcessorState) &&
		    kh_layout_has(w.l, KH_F_KPROCESSOR_STATE_ContextFrame)) {
			uint64_t at = cpu->kprcb + kh_layout_offset(w.l, KH_F_KPRCB_ProcessorState) +
			              kh_layout_offset(w.l, KH_F_KPROCESSOR_STATE_ContextFrame);
			uint8_t buf[0x100];
			size_t blen = w.x86 ? 0xCC : 0x100;
			if ((rc = kh_vread(src, 0, at, buf, blen)) < 0) {
				kh_error(rc, "thread 0x%llx runs on processor %u: its KPRCB context at 0x%llx is not in the dump",
				         (unsigned long long)t->va, cpu->index, (unsigned long long)at);
				goto fail;
			}
			regs_from_context(&w, &regs, buf, blen);
			have = true;
			s->start = KHANG_STACK_START_PRCB_CONTEXT;
		}
	}
	if (!have) {
		uint64_t ks = t->kernel_stack;
		uint8_t sw[0x40];
		if (!ks) {
			rc = kh_error(KHANG_ENOTPRESENT, "thread 0x%llx: KTHREAD.KernelStack is unknown", (unsigned long long)t->va);
			goto fail;
		}
		if ((rc = kh_vread(src, 0, ks, sw, w.x86 ? 0x20 : 0x40)) < 0) {
			kh_error(rc, "thread 0x%llx: its switch frame at 0x%llx (KTHREAD.KernelStack) is not in the dump",
			         (unsigned long long)t->va, (unsigned long long)ks);
			goto fail;
		}
		memset(&regs, 0, sizeof(regs));
		if (w.x86) {
			regs.r[KH_RIP] = kh_le32(sw + 8);
			regs.r[KH_RSP] = ks + 0xC;
			regs.r[KH_RBP] = kh_le32(sw + 0xC);
			w.x86_switch = true;
			w.switch_sp = ks;
		} else {
			uint32_t o_ret = field_off(&w, KH_F_KSWITCH_FRAME_Return, 0x38);
			uint32_t o_rbp = field_off(&w, KH_F_KSWITCH_FRAME_Rbp, 0x30);
			if (o_ret > 0x38 || o_rbp > 0x38)
				o_ret = 0x38, o_rbp = 0x30;
			regs.r[KH_RIP] = kh_le64(sw + o_ret);
			regs.r[KH_RBP] = kh_le64(sw + o_rbp);
			regs.r[KH_RSP] = ks + 0x40;
		}
		s->start = KHANG_STACK_START_SWITCH_FRAME;
	}
	bool user = is_user_va(&w, regs.r[KH_RIP]);
	if ((rc = kh_stack_push(s, regs.r[KH_RIP], regs.r[KH_RSP], KHANG_FRAME_CONTEXT, 0, user)) < 0)
		goto fail;
	if (user)
		user_range(&w);
	if (w.bounded && !user && !sp_on_thread(&w, regs.r[KH_RSP])) {
		kh_stack_set_end(s, KHANG_STACK_END_BAD_SP, "stack pointer 0x%llx is not on the thread's stacks",
		                 (unsigned long long)regs.r[KH_RSP]);
	} else if (regs.r[KH_RIP] == 0) {
		kh_stack_set_end(s, KHANG_STACK_END_COMPLETE, "end of the stack (instruction pointer 0)");
	} else if ((rc = kh_walk_from_regs(s, &w, &regs, user)) < 0) {
		goto fail;
	}
	if (!cache)
		kh_walk_cache_free(&local);
	*out = s;
	return 0;
fail:
	if (!cache)
		kh_walk_cache_free(&local);
	khang_stack_free(s);
	return rc;
}

KHANG_API int khang_stack_walk(khang_stack **out, const khang_thread *thread, const khang_stack_opts *opts)
{
	kh_walk_opts o;
	int rc;
	if (!out || !kh_thread_ok(thread))
		return kh_error(KHANG_EINVAL, "khang_stack_walk: NULL or invalid argument");
	*out = NULL;
	if ((rc = kh_walk_opts_get(&o, opts, "khang_stack_walk")) < 0)
		return rc;
	return kh_stack_walk_thread(out, thread, &o, NULL);
}

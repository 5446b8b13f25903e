/*
 * The bugcheck rule of khang_hang_verdict().
 *
 * Crash bugchecks end the analysis ("crash, not a hang", with the faulting
 * module when a parameter holds the address). Hang-type bugchecks are
 * explained from their parameters; two of them name their culprit, and the
 * verdict blames it:
 *
 *  - 0x133 DPC_WATCHDOG_VIOLATION: the processor that bugchecked was at
 *    DISPATCH_LEVEL too long, in one DPC (parameter 1 = 0) or in total (1).
 *    The DPC routine it was running comes from its KPRCB
 *    (CurrentDpcRoutine, or DpcData[0].ActiveDpc->DeferredRoutine) or from
 *    the frame nt!KiExecuteAllDpcs called; the driver is the first
 *    third-party module on the stack from the clock interrupt down to the
 *    DPC dispatcher, else the DPC routine's module.
 *  - 0x9F DRIVER_POWER_STATE_FAILURE with parameter 1 = 3: parameter 4 is
 *    the power IRP a device stack held too long; the driver is the one its
 *    current stack location was sent to. With parameter 1 = 4 the
 *    transition waited for the PnP lock: parameter 3 is the thread holding
 *    it, and the driver the one that thread is blocked in.
 *  - 0x101 CLOCK_WATCHDOG_TIMEOUT: the processor that stopped answering
 *    (parameter 4) and the DPC routine it was inside, from its KPRCB.
 *
 * The processor that bugchecked: triage dumps record it; otherwise it is the
 * processor whose current thread's stack starts from the dump header's
 * context record.
 */
#include <stdio.h>
#include <string.h>

#include "analysis.h"
#include "khang/irp.h"
#include "khang/process.h"
#include "khang/stack.h"
#include "dump/source_int.h"

static const struct {
	uint32_t code;
	const char *name;
	bool hang;
	int addr_param; /* 1-based parameter holding the faulting address, 0 none */
} bugchecks[] = {
	{ 0x0A, "IRQL_NOT_LESS_OR_EQUAL", false, 4 },
	{ 0x1E, "KMODE_EXCEPTION_NOT_HANDLED", false, 2 },
	{ 0x3B, "SYSTEM_SERVICE_EXCEPTION", false, 2 },
	{ 0x50, "PAGE_FAULT_IN_NONPAGED_AREA", false, 3 },
	{ 0x7E, "SYSTEM_THREAD_EXCEPTION_NOT_HANDLED", false, 2 },
	{ 0x7F, "UNEXPECTED_KERNEL_MODE_TRAP", false, 0 },
	{ 0x8E, "KERNEL_MODE_EXCEPTION_NOT_HANDLED", false, 2 },
	{ 0x9F, "DRIVER_POWER_STATE_FAILURE", true, 0 },
	{ 0xD1, "DRIVER_IRQL_NOT_LESS_OR_EQUAL", false, 4 },
	{ 0xE2, "MANUALLY_INITIATED_CRASH", true, 0 },
	{ 0xEF, "CRITICAL_PROCESS_DIED", true, 0 },
	{ 0x101, "CLOCK_WATCHDOG_TIMEOUT", true, 0 },
	{ 0x133, "DPC_WATCHDOG_VIOLATION", true, 0 },
	{ 0x139, "KERNEL_SECURITY_CHECK_FAILURE", false, 0 },
	{ 0x161, "LIVE_SYSTEM_DUMP", true, 0 },
	{ 0x1C8, "MANUALLY_INITIATED_POWER_BUTTON_HOLD", true, 0 },
};

/* ---- the processor that bugchecked --------------------------------------------------- */

/* WinDbg's short names of the kernel and the HALs (hal, halmacpi, ...) */
static bool is_kernel_or_hal(const char *module)
{
	return !strcmp(module, "nt") || !strncmp(module, "hal", 3);
}

/* The crashing processor and its current thread's stack (*stack owned by
 * the caller); false when it cannot be told. */
static bool crash_cpu(khang_source *src, const khang_processor **cpu, khang_stack **stack)
{
	khang_triage_info ti = KHANG_TRIAGE_INFO_INIT;
	uint32_t n = 0;
	*cpu = NULL;
	*stack = NULL;
	if (khang_processor_count(&n, src) < 0)
		return false;
	bool triage = khang_source_triage_info(&ti, src) == 0;
	for (uint32_t i = 0; i < n; i++) {
		const khang_processor *p;
		const khang_thread *t;
		khang_stack *st;
		if (triage && i != ti.processor)
			continue;
		if (khang_processor_get(&p, src, i) < 0)
			continue;
		if (khang_processor_thread(&t, p, KHANG_PROCESSOR_CURRENT) < 0 || khang_stack_walk(&st, t, NULL) < 0) {
			if (triage) {
				*cpu = p;
				return true;
			}
			continue;
		}
		if (triage || khang_stack_start(st) == KHANG_STACK_START_DUMP_CONTEXT) {
			*cpu = p;
			*stack = st;
			return true;
		}
		khang_stack_free(st);
	}
	return false;
}

/* The kernel or a HAL, by file name (ntoskrnl.exe, ntkrnlmp.exe, hal.dll,
 * halmacpi.dll, ...; any case). */
static bool kernel_image(const char *name)
{
	char low[16];
	size_t i;
	for (i = 0; name[i] && i + 1 < sizeof(low); i++)
		low[i] = (char)((name[i] >= 'A' && name[i] <= 'Z') ? name[i] + 32 : name[i]);
	low[i] = '\0';
	size_t n = strlen(low);
	return (!strncmp(low, "nt", 2) && n > 4 && !strcmp(low + n - 4, ".exe")) ||
	       (!strncmp(low, "hal", 3) && n > 4 && !strcmp(low + n - 4, ".dll"));
}

/* ---- 0x133 ----------------------------------------------------------------------- */

typedef struct dpc_finding {
	uint32_t cpu;
	const khang_thread *thread;
	char routine[160];   /* symbol of the DPC routine, "" unknown */
	char module[64];     /* the driver blamed, "" none */
	char frames[768];    /* key frames, innermost first */
	bool on_stack;       /* module was found on the stack (else: the routine's) */
} dpc_finding;

static void module_of(khang_source *src, uint64_t va, char *out, size_t len)
{
	const khang_module *m;
	out[0] = '\0';
	if (va && khang_source_module_at(&m, src, va) == 0)
		kh_copy_str(out, len, khang_module_name(m));
}

static void dpc_from_stack(khang_source *src, khang_stack *st, dpc_finding *d, char *routine_module, size_t rm_len)
{
	size_t n = khang_stack_frame_count(st), dispatcher = n, first_driver = n, first_other = n;
	/* the DPC dispatcher and the first frames outside nt and hal */
	for (size_t i = 0; i < n; i++) {
		khang_frame_info fi = KHANG_FRAME_INFO_INIT;
		if (khang_stack_frame_info(&fi, st, i) < 0 || fi.user_mode)
			break;
		if (!strncmp(fi.text, "nt!KiExecuteAllDpcs", 19) || !strncmp(fi.text, "nt!KiRetireDpcList", 18)) {
			dispatcher = i;
			break;
		}
		char mod[64];
		module_of(src, fi.ip, mod, sizeof(mod));
		if (first_other == n && fi.module[0] && !is_kernel_or_hal(fi.module))
			first_other = i;
		if (first_driver == n && mod[0] && !kh_v_is_inbox(mod)) {
			first_driver = i;
			d->on_stack = true;
			kh_copy_str(d->module, sizeof(d->module), mod);
		}
	}
	/* the routine nt!KiExecuteAllDpcs called, when the KPRCB did not say */
	if (!d->routine[0] && dispatcher < n && dispatcher > 0) {
		khang_frame_info fi = KHANG_FRAME_INFO_INIT;
		if (khang_stack_frame_info(&fi, st, dispatcher - 1) == 0 && fi.module[0] && !is_kernel_or_hal(fi.module)) {
			if (fi.symbol[0])
				snprintf(d->routine, sizeof(d->routine), "%s!%s", fi.module, fi.symbol);
			else
				kh_copy_str(d->routine, sizeof(d->routine), fi.text);
			module_of(src, fi.ip, routine_module, rm_len);
		}
	}
	if (!d->module[0] && first_other < n) {
		khang_frame_info fi = KHANG_FRAME_INFO_INIT;
		if (khang_stack_frame_info(&fi, st, first_other) == 0) {
			module_of(src, fi.ip, d->module, sizeof(d->module));
			d->on_stack = d->module[0] != '\0';
		}
	}
	/* key frames: from the first frame outside nt/hal (the interrupted code)
	 * to the dispatcher, at most 10 */
	size_t from = first_other < n ? first_other : 0, used = 0;
	for (size_t i = from; i < n && i <= dispatcher && i < from + 10; i++) {
		khang_frame_info fi = KHANG_FRAME_INFO_INIT;
		if (khang_stack_frame_info(&fi, st, i) < 0 || fi.user_mode)
			break;
		size_t l = strlen(fi.text);
		if (used + l + 5 >= sizeof(d->frames))
			break;
		used += (size_t)snprintf(d->frames + used, sizeof(d->frames) - used, "%s%s", used ? " <- " : "", fi.text);
	}
}

/* Blames a driver for a DPC watchdog violation; false when nothing is known
 * beyond the parameters. */
static bool explain_dpc_watchdog(khang_verdict *v, khang_source *src, const uint64_t p[4])
{
	const khang_processor *cpu;
	khang_stack *st;
	dpc_finding d;
	char routine_module[64] = "";
	memset(&d, 0, sizeof(d));
	if (!crash_cpu(src, &cpu, &st)) {
		kh_v_warn(v, "DPC watchdog: the processor that bugchecked could not be found");
		return false;
	}
	d.cpu = khang_processor_index(cpu);
	khang_processor_thread(&d.thread, cpu, KHANG_PROCESSOR_CURRENT);
	khang_processor_dpc dpc = KHANG_PROCESSOR_DPC_INIT;
	if (khang_processor_dpc_info(&dpc, cpu) == 0 && dpc.routine) {
		khang_source_symbolize(d.routine, sizeof(d.routine), src, dpc.routine);
		module_of(src, dpc.routine, routine_module, sizeof(routine_module));
	}
	if (st)
		dpc_from_stack(src, st, &d, routine_module, sizeof(routine_module));
	else
		kh_v_warn(v, "DPC watchdog: the stack of processor %u could not be walked", d.cpu);
	khang_stack_free(st);
	/* no third-party frame: blame the routine's module when it is not nt */
	if (!d.module[0] && routine_module[0] && !kh_v_is_inbox(routine_module))
		kh_copy_str(d.module, sizeof(d.module), routine_module);
	if (!d.module[0] && routine_module[0] && !kernel_image(routine_module))
		kh_copy_str(d.module, sizeof(d.module), routine_module);

	int64_t count = p[0] == 0 ? (int64_t)p[1] : -1, limit = p[0] == 0 ? (int64_t)p[2] : -1;
	char ticks[96] = "", detail[320] = "";
	if (count >= 0 && limit > 0)
		snprintf(ticks, sizeof(ticks), "%lld clock ticks, limit %lld", (long long)count, (long long)limit);
	if (d.routine[0] || ticks[0])
		snprintf(detail, sizeof(detail), " (%s%s%s%s)", d.routine[0] ? "routine " : "", d.routine,
		         d.routine[0] && ticks[0] ? ", " : "", ticks);
	kh_v_step(v, KHANG_STEP_PROCESSOR, d.thread, NULL, 0, -1, "processor %u %s%s%s%s%s%s", d.cpu,
	          p[0] == 0 ? "ran one DPC too long" : "stayed at DISPATCH_LEVEL or above too long in total", detail,
	          d.module[0] ? (d.on_stack ? "; the driver on its stack: " : "; the routine's driver: ") : "", d.module, d.frames[0] ? "; key frames: " : "",
	          d.frames);
	if (!d.module[0])
		return false; /* nothing to blame beyond the kernel: the analysis goes on */
	v->category = KHANG_VERDICT_BLOCKED_IN_DRIVER;
	v->confidence = d.module[0] ? 80 : 60;
	v->culprit_thread = d.thread;
	if (d.thread)
		khang_thread_process(&v->culprit_process, d.thread);
	kh_copy_str(v->culprit_module, sizeof(v->culprit_module), d.module);
	if (p[0] == 0)
		kh_v_summary(v, "DPC watchdog: a DPC ran too long%s%s on processor %u%s", d.module[0] ? " in " : "", d.module,
		             d.cpu, detail);
	else
		kh_v_summary(v, "DPC watchdog: processor %u stayed at DISPATCH_LEVEL too long in total%s%s%s", d.cpu,
		             d.module[0] ? ", in " : "", d.module, detail);
	return true;
}

/* ---- 0x9F ------------------------------------------------------------------------ */

static bool explain_power_irp(khang_verdict *v, khang_source *src, const uint64_t p[4])
{
	khang_irp irp = KHANG_IRP_INIT;
	if (khang_irp_read(&irp, src, p[3]) < 0) {
		kh_v_warn(v, "the blocked power IRP 0x%llx: %s", (unsigned long long)p[3], khang_error_last());
		return false;
	}
	char what[160] = "";
	if (irp.current_location >= 1 && irp.current_location <= irp.stack_count) {
		khang_irp_location loc = KHANG_IRP_LOCATION_INIT;
		if (khang_irp_location_read(&loc, src, irp.address, (uint32_t)irp.current_location) == 0 && loc.power_state >= 0)
			snprintf(what, sizeof(what), " (%s %s %s)", khang_irp_minor_name(loc.major, loc.minor),
			         loc.power_type == 1 ? "device" : "system", khang_power_state_name(loc.power_type, loc.power_state));
		else
			snprintf(what, sizeof(what), " (%s %s)", khang_irp_major_name(irp.major),
			         khang_irp_minor_name(irp.major, irp.minor));
	}
	if (!irp.driver_name[0] && !irp.module[0]) {
		kh_v_step(v, KHANG_STEP_NOTE, NULL, NULL, p[3], -1,
		          "power IRP 0x%llx%s: its current stack location (%d of %d) names no readable driver",
		          (unsigned long long)irp.address, what, irp.current_location, irp.stack_count);
		return false;
	}
	kh_v_step(v, KHANG_STEP_NOTE, NULL, NULL, p[3], -1,
	          "power IRP 0x%llx%s is held by %s%s%s%s (device 0x%llx, stack location %d of %d; the device stack's "
	          "physical device object is 0x%llx)",
	          (unsigned long long)irp.address, what, irp.driver_name[0] ? irp.driver_name : "a driver",
	          irp.module[0] ? " (" : "", irp.module, irp.module[0] ? ")" : "", (unsigned long long)irp.device,
	          irp.current_location, irp.stack_count, (unsigned long long)p[1]);
	v->category = KHANG_VERDICT_BLOCKED_IN_DRIVER;
	v->confidence = irp.module[0] ? 80 : 60;
	kh_copy_str(v->culprit_module, sizeof(v->culprit_module), irp.module[0] ? irp.module : irp.driver_name);
	kh_v_summary(v, "power IRP 0x%llx%s was not completed in time by %s", (unsigned long long)irp.address, what,
	             irp.module[0] ? irp.module : irp.driver_name);
	return true;
}

/* 0x9F with parameter 1 = 4: a power transition timed out waiting for the
 * PnP lock; parameter 3 is the thread that holds it. Blames the third-party
 * driver that thread is blocked in; false when there is none (the other
 * rules may explain what the thread waits for). */
static bool explain_pnp_lock(khang_verdict *v, khang_source *src, const uint64_t p[4])
{
	const khang_thread *t;
	if (khang_thread_by_address(&t, src, p[2]) < 0) {
		kh_v_warn(v, "the thread holding the PnP lock (0x%llx): %s", (unsigned long long)p[2], khang_error_last());
		return false;
	}
	kh_blocked_in b;
	char lab[96];
	kh_v_find_blocked_in(src, t, &b);
	kh_v_thread_label(t, lab, sizeof(lab));
	kh_v_step(v, KHANG_STEP_THREAD, t, NULL, 0, khang_thread_wait_ms(t),
	          "thread 0x%llx (%s) holds the PnP lock the power transition waited %llu s for%s%s%s%s",
	          (unsigned long long)p[2], lab, (unsigned long long)p[1], b.module[0] ? "; it is blocked in " : "",
	          b.module, b.frames[0] ? ": " : "", b.frames);
	v->culprit_thread = t;
	khang_thread_process(&v->culprit_process, t);
	if (!b.module[0])
		return false;
	v->category = KHANG_VERDICT_BLOCKED_IN_DRIVER;
	v->confidence = 75;
	kh_copy_str(v->culprit_module, sizeof(v->culprit_module), b.module);
	kh_v_summary(v, "a power transition timed out on the PnP lock, held by thread %s, which is blocked in %s", lab,
	             b.module);
	return true;
}

/* 0x101 CLOCK_WATCHDOG_TIMEOUT: parameter 4 is the processor that stopped
 * answering clock interrupts. Its KPRCB says what it ran: the current
 * thread, its IRQL and, when it was inside a DPC routine, which; a
 * third-party DPC routine decides the verdict. Its stack is not walked: a
 * processor that did not answer may not have saved its context for the
 * dump, and an older context would mislead. */
static bool explain_clock_watchdog(khang_verdict *v, khang_source *src, const uint64_t p[4])
{
	const khang_processor *cpu;
	if (p[3] > UINT32_MAX || khang_processor_get(&cpu, src, (uint32_t)p[3]) < 0) {
		kh_v_warn(v, "the processor that stopped answering (%llu): %s", (unsigned long long)p[3],
		          khang_error_last());
		return false;
	}
	const khang_thread *t = NULL;
	char lab[96] = "", sym[160] = "", mod[64] = "";
	if (khang_processor_thread(&t, cpu, KHANG_PROCESSOR_CURRENT) == 0)
		kh_v_thread_label(t, lab, sizeof(lab));
	khang_processor_dpc dpc = KHANG_PROCESSOR_DPC_INIT;
	if (khang_processor_dpc_info(&dpc, cpu) == 0 && dpc.routine_active != 0 && dpc.routine) {
		khang_source_symbolize(sym, sizeof(sym), src, dpc.routine);
		module_of(src, dpc.routine, mod, sizeof(mod));
	}
	char irql[16] = "?";
	if (khang_processor_irql(cpu) >= 0)
		snprintf(irql, sizeof(irql), "%d", khang_processor_irql(cpu));
	kh_v_step(v, KHANG_STEP_PROCESSOR, t, NULL, 0, -1,
	          "processor %u stopped answering clock interrupts: IRQL %s, current thread %s%s%s%s", (unsigned)p[3], irql,
	          lab[0] ? lab : "unknown", sym[0] ? ", inside the DPC routine " : "", sym,
	          "; its stack is not walked: its saved registers may predate the hang");
	if (!mod[0] || kernel_image(mod) || kh_v_is_inbox(mod))
		return false;
	v->category = KHANG_VERDICT_BLOCKED_IN_DRIVER;
	v->confidence = 70;
	v->culprit_thread = t;
	if (t)
		khang_thread_process(&v->culprit_process, t);
	kh_copy_str(v->culprit_module, sizeof(v->culprit_module), mod);
	kh_v_summary(v, "processor %u stopped answering clock interrupts inside the DPC routine %s (%s)", (unsigned)p[3],
	             sym, mod);
	return true;
}

/* ---- the rule -------------------------------------------------------------------- */

bool kh_rule_bugcheck(khang_verdict *v, khang_source *src)
{
	khang_source_info in = KHANG_SOURCE_INFO_INIT;
	khang_source_get_info(&in, src);
	uint32_t code = in.bugcheck_code, base = code & ~0x10000000u; /* the _M variants */
	if (!code) {
		kh_v_check(v, "bugcheck", KHANG_CHECK_OK, "no bugcheck recorded (a live or debugger-written dump)");
		return false;
	}
	const char *name = "an unlisted bugcheck";
	bool hang = false;
	int ap = 0;
	for (size_t i = 0; i < KH_ARRAY_SIZE(bugchecks); i++)
		if (bugchecks[i].code == base) {
			name = bugchecks[i].name;
			hang = bugchecks[i].hang;
			ap = bugchecks[i].addr_param;
		}
	const uint64_t *p = in.bugcheck_params;
	if (hang) {
		char why[256] = "";
		const khang_process *proc;
		switch (base) {
		case 0x133:
			if (p[0] == 0)
				snprintf(why, sizeof(why), "; one DPC ran too long (%llu ticks, limit %llu)",
				         (unsigned long long)p[1], (unsigned long long)p[2]);
			else if (p[0] == 1)
				snprintf(why, sizeof(why), "; the processor spent too long at DISPATCH_LEVEL or above in total");
			break;
		case 0x101:
			snprintf(why, sizeof(why), "; processor %llu stopped answering clock interrupts", (unsigned long long)p[3]);
			break;
		case 0x9F:
			if (p[0] == 3) {
				snprintf(why, sizeof(why), "; a device (object 0x%llx) did not complete power IRP 0x%llx in time",
				         (unsigned long long)p[1], (unsigned long long)p[3]);
			} else if (p[0] == 4) {
				snprintf(why, sizeof(why), "; a power state transition timed out waiting to synchronise with PnP");
			}
			break;
		case 0xEF:
			if (khang_process_by_address(&proc, src, p[0]) == 0)
				snprintf(why, sizeof(why), "; the critical process %s (PID %lld) died", khang_process_name(proc),
				         (long long)khang_process_pid(proc));
			else
				snprintf(why, sizeof(why), "; a critical process (0x%llx) died", (unsigned long long)p[0]);
			break;
		case 0xE2:
			snprintf(why, sizeof(why), "; the dump was forced (keyboard or debugger) on a system that hung");
			break;
		case 0x1C8:
			snprintf(why, sizeof(why), "; the dump was forced by holding the power button on a system that hung");
			break;
		default:
			break;
		}
		kh_v_check(v, "bugcheck", KHANG_CHECK_OK, "0x%x %s%s: analysed as a hang", code, name, why);
		if (src->triage)
			kh_v_warn(v, "a triage dump holds only the crashing processor, its current thread and process: "
			             "other processors, threads, locks and ALPC waits cannot be seen");
		if (base == 0x133 && p[0] <= 1)
			return explain_dpc_watchdog(v, src, p);
		if (base == 0x9F && p[0] == 3)
			return explain_power_irp(v, src, p);
		if (base == 0x9F && p[0] == 4)
			return explain_pnp_lock(v, src, p);
		if (base == 0x101)
			return explain_clock_watchdog(v, src, p);
		return false;
	}
	char where[160] = "";
	if (ap) {
		uint64_t addr = p[ap - 1];
		char sym[128];
		khang_source_symbolize(sym, sizeof(sym), src, addr);
		const khang_module *m;
		if (khang_source_module_at(&m, src, addr) == 0)
			kh_copy_str(v->culprit_module, sizeof(v->culprit_module), khang_module_name(m));
		snprintf(where, sizeof(where), " at %s", sym);
	}
	kh_v_check(v, "bugcheck", KHANG_CHECK_FOUND, "0x%x %s: the system crashed", code, name);
	kh_v_step(v, KHANG_STEP_NOTE, NULL, NULL, 0, -1, "bugcheck 0x%x %s (0x%llx, 0x%llx, 0x%llx, 0x%llx)%s", code,
	          name, (unsigned long long)p[0], (unsigned long long)p[1], (unsigned long long)p[2],
	          (unsigned long long)p[3], where);
	v->category = KHANG_VERDICT_CRASH;
	v->confidence = 95;
	kh_v_summary(v, "crash, not a hang: bugcheck 0x%x (%s)%s", code, name, where);
	return true;
}

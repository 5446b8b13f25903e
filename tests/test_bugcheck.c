/* The verdict explains hang-type bugchecks from their parameters and keeps
 * analysing; other bugchecks are crashes (test_verdict.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "khang.h"
#include "fg_kernel.h"
#include "fg_scenario.h"

/* A forge's system written as a kernel dump and analysed; the summary and
 * steps printed. Free with analysed_free(). */
typedef struct analysed {
	uint8_t *buf;
	khang_source *src;
	khang_verdict *v;
} analysed;

static void analyse(analysed *a, fg_forge *f)
{
	size_t len;
	fg_write_opts wo = FG_WRITE_OPTS_INIT;
	wo.format = FG_FMT_BITMAP_KERNEL;
	wo.kernel_only = 1;
	assert_int_equal(fg_write_memory(f, &a->buf, &len, &wo), 0);
	assert_int_equal(khang_source_open_memory(&a->src, a->buf, len, NULL), 0);
	assert_int_equal(khang_hang_verdict(&a->v, a->src, NULL), 0);
	printf("  %s\n", khang_verdict_summary(a->v));
	for (size_t i = 0; i < khang_verdict_step_count(a->v); i++) {
		khang_verdict_step st = KHANG_VERDICT_STEP_INIT;
		khang_verdict_step_at(&st, a->v, i);
		printf("    step: %s\n", st.text);
	}
}

static void analysed_free(analysed *a)
{
	khang_verdict_free(a->v);
	khang_source_free(a->src);
	free(a->buf);
}

static char *bugcheck_text(uint32_t code, const uint64_t params[4], int with_process)
{
	const kh_layout *l = kh_layout_builtin_by_guid_string("5278AFF86C341677D7D7835C85B7B844", 1);
	fg_forge *f = fg_new(FG_X64, 16384);
	fg_kernel_opts o = { 0 };
	o.ncpus = 2;
	fg_kernel *k = fg_kernel_new(f, l, &o);
	uint64_t p0 = params[0];
	if (with_process)
		p0 = fg_kernel_add_process(k, "csrss.exe", 512, 504);
	fg_header *h = fg_header_of(f);
	h->bugcheck_code = code;
	h->bugcheck_params[0] = p0;
	for (int i = 1; i < 4; i++)
		h->bugcheck_params[i] = params[i];
	analysed a;
	analyse(&a, f);
	assert_int_not_equal(khang_verdict_get_category(a.v), KHANG_VERDICT_CRASH);
	char *out = NULL;
	for (size_t i = 0; i < khang_verdict_check_count(a.v); i++) {
		khang_verdict_check c = KHANG_VERDICT_CHECK_INIT;
		khang_verdict_check_at(&c, a.v, i);
		if (!strcmp(c.name, "bugcheck"))
			out = strdup(c.text);
	}
	printf("  %s\n", out ? out : "(none)");
	analysed_free(&a);
	fg_kernel_free(k);
	fg_free(f);
	assert_non_null(out);
	return out;
}

static void test_dpc_watchdog(void **state)
{
	(void)state;
	static const uint64_t one[4] = { 0, 0x501, 0x500, 0 }, total[4] = { 1, 0x1e00, 0xfffff80412345678, 0 };
	char *t = bugcheck_text(0x133, one, 0);
	assert_non_null(strstr(t, "DPC_WATCHDOG_VIOLATION; one DPC ran too long (1281 ticks, limit 1280)"));
	free(t);
	t = bugcheck_text(0x133, total, 0);
	assert_non_null(strstr(t, "too long at DISPATCH_LEVEL or above in total"));
	free(t);
}

static void test_clock_watchdog(void **state)
{
	(void)state;
	static const uint64_t p[4] = { 0x18, 0, 0xffffcb81a1e8f180, 5 };
	char *t = bugcheck_text(0x101, p, 0);
	assert_non_null(strstr(t, "processor 5 stopped answering"));
	free(t);
}

/* Processor 1 stopped answering inside a DPC routine of netfoo.sys (and
 * processor 0, in one of ndis.sys, is only the other one). */
static void test_clock_watchdog_dpc(void **state)
{
	(void)state;
	for (int third_party = 0; third_party < 2; third_party++) {
		fg_forge *f = fg_new(FG_X64, 16384);
		fg_kernel_opts o = { 0 };
		o.ncpus = 2;
		fg_kernel *k = fg_kernel_new(f, kh_layout_builtin_by_guid_string("5278AFF86C341677D7D7835C85B7B844", 1), &o);
		uint64_t kb = fg_kernel_base(k);
		fg_kernel_add_module(k, "ndis.sys", kb + 0x5000000, 0x10000);
		fg_kernel_add_module(k, "netfoo.sys", kb + 0x5100000, 0x10000);
		for (uint32_t cpu = 0; cpu < 2; cpu++) {
			uint64_t routine = cpu == 1 && third_party ? kb + 0x5100040 : kb + 0x5000080;
			assert_int_equal(fg_kernel_set(k, fg_kernel_prcb(k, cpu), KH_F_KPRCB_DpcRoutineActive, 1), 0);
			assert_int_equal(fg_kernel_set(k, fg_kernel_prcb(k, cpu), KH_F_KPRCB_CurrentDpcRoutine, routine), 0);
		}
		fg_header *h = fg_header_of(f);
		h->bugcheck_code = 0x101;
		h->bugcheck_params[0] = 0x18;
		h->bugcheck_params[2] = fg_kernel_prcb(k, 1);
		h->bugcheck_params[3] = 1;
		analysed a;
		analyse(&a, f);
		khang_verdict *v = a.v;
		khang_verdict_step st = KHANG_VERDICT_STEP_INIT;
		assert_int_equal(khang_verdict_step_at(&st, v, 0), 0);
		assert_non_null(strstr(st.text, "processor 1 stopped answering clock interrupts: IRQL"));
		if (third_party) {
			assert_int_equal(khang_verdict_get_category(v), KHANG_VERDICT_BLOCKED_IN_DRIVER);
			assert_string_equal(khang_verdict_culprit_module(v), "netfoo.sys");
			assert_string_equal(khang_verdict_summary(v), "processor 1 stopped answering clock interrupts inside "
			                                              "the DPC routine netfoo+0x40 (netfoo.sys)");
		} else {
			/* an inbox routine is said, not blamed */
			assert_non_null(strstr(st.text, "inside the DPC routine ndis+0x80"));
			assert_int_not_equal(khang_verdict_get_category(v), KHANG_VERDICT_BLOCKED_IN_DRIVER);
		}
		analysed_free(&a);
		fg_kernel_free(k);
		fg_free(f);
	}
}

static void test_critical_process(void **state)
{
	(void)state;
	static const uint64_t p[4] = { 0, 0, 0, 0 };
	char *t = bugcheck_text(0xEF, p, 1);
	assert_non_null(strstr(t, "the critical process csrss.exe (PID 512) died"));
	free(t);
}

static void test_power_state(void **state)
{
	(void)state;
	static const uint64_t p[4] = { 3, 0xffffa00000123450, 0xfffff80412000000, 0xffffa00000abc010 };
	char *t = bugcheck_text(0x9F, p, 0);
	assert_non_null(strstr(t, "did not complete power IRP 0xffffa00000abc010"));
	free(t);
}

/* ---- the culprit of a DPC watchdog violation (0x133) ------------------------------- */

typedef struct dpc_world {
	fg_forge *f;
	fg_kernel *k;
	analysed a;
	uint64_t routine;
} dpc_world;

/* fg_scn_dpc_watchdog's system, analysed */
static void dpc_world_new(dpc_world *w, const uint64_t params[4], bool in_dpc, bool routine_in_prcb)
{
	memset(w, 0, sizeof(*w));
	w->f = fg_new(FG_X64, 16384);
	fg_kernel_opts o = { 0 };
	o.ncpus = 2;
	w->k = fg_kernel_new(w->f, kh_layout_builtin_by_guid_string("5278AFF86C341677D7D7835C85B7B844", 1), &o);
	fg_scn_dpc_watchdog(w->f, w->k, params, in_dpc, routine_in_prcb, &w->routine);
	analyse(&w->a, w->f);
}

static void dpc_world_free(dpc_world *w)
{
	analysed_free(&w->a);
	fg_kernel_free(w->k);
	fg_free(w->f);
}

static void test_dpc_culprit(void **state)
{
	(void)state;
	static const uint64_t one[4] = { 0, 0x501, 0x500, 0 };
	dpc_world w;
	dpc_world_new(&w, one, true, true);
	assert_int_equal(khang_verdict_get_category(w.a.v), KHANG_VERDICT_BLOCKED_IN_DRIVER);
	assert_string_equal(khang_verdict_culprit_module(w.a.v), "netfoo.sys");
	assert_string_equal(khang_verdict_summary(w.a.v), "DPC watchdog: a DPC ran too long in netfoo.sys on processor 1 "
	                                                "(routine ndis!NdisDpc, 1281 clock ticks, limit 1280)");
	const khang_thread *t = khang_verdict_culprit_thread(w.a.v);
	assert_non_null(t);
	assert_int_equal(khang_thread_tid(t), 0x44);
	khang_verdict_step st = KHANG_VERDICT_STEP_INIT;
	assert_int_equal(khang_verdict_step_at(&st, w.a.v, 0), 0);
	assert_int_equal(st.kind, KHANG_STEP_PROCESSOR);
	assert_non_null(strstr(st.text, "key frames: netfoo!Spin+0x10 <- ndis!NdisDpc+0x30 <- nt!KiExecuteAllDpcs+0x20"));
	/* the processor's DPC state as the API gives it */
	const khang_processor *p;
	khang_processor_dpc d = KHANG_PROCESSOR_DPC_INIT;
	assert_int_equal(khang_processor_get(&p, w.a.src, 1), 0);
	assert_int_equal(khang_processor_dpc_info(&d, p), 0);
	assert_int_equal(d.routine, w.routine);
	assert_int_equal(d.active_dpc, 0);
	assert_int_equal(khang_processor_get(&p, w.a.src, 0), 0);
	assert_int_equal(khang_processor_dpc_info(&d, p), 0);
	assert_int_equal(d.routine, 0);
	d.size = 4;
	assert_int_equal(khang_processor_dpc_info(&d, p), KHANG_EINVAL);
	dpc_world_free(&w);

	/* without the KPRCB's word: the routine is the frame the dispatcher called */
	dpc_world_new(&w, one, true, false);
	assert_string_equal(khang_verdict_culprit_module(w.a.v), "netfoo.sys");
	assert_non_null(strstr(khang_verdict_summary(w.a.v), "(routine ndis!NdisDpc, 1281 clock ticks"));
	dpc_world_free(&w);
}

static void test_dpc_cumulative(void **state)
{
	(void)state;
	static const uint64_t total[4] = { 1, 0x1e00, 0xfffff80412345678, 0 };
	dpc_world w;
	dpc_world_new(&w, total, false, false);
	assert_int_equal(khang_verdict_get_category(w.a.v), KHANG_VERDICT_BLOCKED_IN_DRIVER);
	assert_string_equal(khang_verdict_culprit_module(w.a.v), "netfoo.sys");
	assert_string_equal(khang_verdict_summary(w.a.v),
	                    "DPC watchdog: processor 1 stayed at DISPATCH_LEVEL too long in total, in netfoo.sys");
	dpc_world_free(&w);
}

/* ---- the blocked power IRP (0x9F, parameter 1 = 3) ------------------------------------ */

static uint64_t missing_irp;

static void power_verdict(analysed *a, bool irp_present, bool system_state)
{
	const kh_layout *l = kh_layout_builtin_by_guid_string("5278AFF86C341677D7D7835C85B7B844", 1);
	fg_forge *f = fg_new(FG_X64, 16384);
	fg_kernel *k = fg_kernel_new(f, l, NULL);
	fg_scn_power_irp(f, k, irp_present, system_state);
	missing_irp = fg_header_of(f)->bugcheck_params[3];
	analyse(a, f);
	fg_kernel_free(k);
	fg_free(f);
}

static void test_power_irp(void **state)
{
	(void)state;
	analysed a;
	power_verdict(&a, true, true);
	assert_int_equal(khang_verdict_get_category(a.v), KHANG_VERDICT_BLOCKED_IN_DRIVER);
	assert_string_equal(khang_verdict_culprit_module(a.v), "usbfoo.sys");
	assert_non_null(strstr(khang_verdict_summary(a.v), "(IRP_MN_SET_POWER system S3 (sleeping)) was not completed "
	                                                   "in time by usbfoo.sys"));
	khang_verdict_step st = KHANG_VERDICT_STEP_INIT;
	assert_int_equal(khang_verdict_step_at(&st, a.v, 0), 0);
	assert_non_null(strstr(st.text, "is held by \\Driver\\usbfoo (usbfoo.sys)"));
	assert_non_null(strstr(st.text, "stack location 2 of 2"));
	analysed_free(&a);

	power_verdict(&a, true, false);
	assert_non_null(strstr(khang_verdict_summary(a.v), "(IRP_MN_SET_POWER device D3)"));
	analysed_free(&a);

	/* the IRP is not in the dump: said, and the analysis goes on */
	power_verdict(&a, false, true);
	assert_int_not_equal(khang_verdict_get_category(a.v), KHANG_VERDICT_BLOCKED_IN_DRIVER);
	bool warned = false;
	char want[64];
	snprintf(want, sizeof(want), "the blocked power IRP 0x%llx", (unsigned long long)missing_irp);
	for (size_t i = 0; i < khang_verdict_warning_count(a.v); i++)
		if (strstr(khang_verdict_warning(a.v, i), want))
			warned = true;
	assert_true(warned);
	analysed_free(&a);
}

/* ---- the PnP lock (0x9F, parameter 1 = 4) ------------------------------------------ */

static void test_pnp_lock(void **state)
{
	(void)state;
	fg_forge *f = fg_new(FG_X64, 16384);
	fg_kernel_opts o = { 0 };
	o.tick_count = 100000;
	fg_kernel *k = fg_kernel_new(f, kh_layout_builtin_by_guid_string("5278AFF86C341677D7D7835C85B7B844", 1), &o);
	uint64_t t = fg_scn_pnp_lock(f, k, 100000, 5);
	analysed a;
	analyse(&a, f);
	khang_verdict *v = a.v;
	khang_verdict_step st = KHANG_VERDICT_STEP_INIT;
	assert_int_equal(khang_verdict_step_at(&st, v, 0), 0);
	assert_int_equal(khang_verdict_get_category(v), KHANG_VERDICT_BLOCKED_IN_DRIVER);
	assert_string_equal(khang_verdict_culprit_module(v), "pnpfoo.sys");
	assert_int_equal(khang_thread_address(khang_verdict_culprit_thread(v)), t);
	assert_string_equal(khang_verdict_summary(v), "a power transition timed out on the PnP lock, held by thread "
	                                              "System 4.136, which is blocked in pnpfoo.sys");
	assert_int_equal(st.kind, KHANG_STEP_THREAD);
	assert_non_null(strstr(st.text, "waited 300 s for; it is blocked in pnpfoo.sys: "
	                                "nt!KeWaitForSingleObject+0x40 <- pnpfoo!StartDevice+0x30"));
	analysed_free(&a);
	/* the thread is not there: a warning, and the other rules go on (here
	 * the generic one finds the same thread blocked in pnpfoo.sys) */
	fg_header_of(f)->bugcheck_params[2] = 0xffffa00077770000ull;
	analyse(&a, f);
	v = a.v;
	assert_null(strstr(khang_verdict_summary(v), "PnP lock"));
	assert_string_equal(khang_verdict_culprit_module(v), "pnpfoo.sys");
	assert_non_null(strstr(khang_verdict_warning(v, 0), "the thread holding the PnP lock (0xffffa00077770000)"));
	analysed_free(&a);
	fg_kernel_free(k);
	fg_free(f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_dpc_watchdog),
		cmocka_unit_test(test_clock_watchdog),
		cmocka_unit_test(test_clock_watchdog_dpc),
		cmocka_unit_test(test_critical_process),
		cmocka_unit_test(test_power_state),
		cmocka_unit_test(test_dpc_culprit),
		cmocka_unit_test(test_dpc_cumulative),
		cmocka_unit_test(test_power_irp),
		cmocka_unit_test(test_pnp_lock),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

/*
 * Triage (small) dumps on the real ../shared/realdumps/triage_x64.dmp:
 * the triage header's fields, the current thread, process and KPRCB read
 * through the library with the kernel's exact built-in layout, and the
 * driver list (0x97 entries, amdppm.sys and Wdf01000.sys where the stack's
 * frames fall). Skips when the shared data is absent.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <cmocka.h>

#include "khang.h"
#include "kernel/kernel.h"
#include "fg_kernel.h"
#include "fg_triage.h"

static khang_source *open_real(const char *name, const khang_source_opts *o)
{
	char path[1024];
	const char *shared = getenv("KHANG_SHARED_DIR");
	khang_source *src = NULL;
	snprintf(path, sizeof(path), "%s/realdumps/%s", shared ? shared : "", name);
	if (!shared || khang_source_open(&src, path, o) != 0) {
		printf("SKIP: %s not available (set KHANG_SHARED_DIR to the shared data folder)\n", path);
		return NULL;
	}
	return src;
}

static void test_triage_header(void **state)
{
	khang_triage_info ti = KHANG_TRIAGE_INFO_INIT;
	(void)state;
	khang_source *src = open_real("triage_x64.dmp", NULL);
	if (!src)
		skip();
	assert_int_equal(khang_source_triage_info(&ti, src), 0);
	assert_int_equal(ti.size_of_dump, 0x13a28c);
	assert_int_equal(ti.triage_options, 0xffffffff);
	assert_int_equal(ti.top_of_stack, 0xffff850429890ee8ull);
	assert_int_equal(ti.stack_size, 0x2118);
	assert_int_equal(ti.drivers, 0x97);
	assert_int_equal(ti.data_blocks, 0x727);
	assert_true(ti.processor < 16);
	assert_int_not_equal(ti.prcb, 0);
	assert_int_not_equal(ti.thread, 0);
	/* the stack copy reads at its address: the return address of the
	 * context (rsp = TopOfStack) is inside nt */
	uint64_t v;
	assert_int_equal(khang_read_virtual(src, 0, ti.top_of_stack, &v, 8, NULL, NULL), 0);
	/* physical memory and translation do not exist in a triage dump */
	uint64_t pa;
	assert_int_equal(khang_translate(&pa, src, 0, ti.top_of_stack), KHANG_EUNSUPPORTED);
	uint8_t b;
	assert_int_equal(khang_read_physical(src, 0x1000, &b, 1, NULL, NULL), KHANG_ENOTPRESENT);
	/* an address that no copy or block holds */
	uint64_t missing;
	size_t got;
	assert_int_equal(khang_read_virtual(src, 0, 0xffff800000000000ull, &v, 8, &got, &missing), KHANG_ENOTPRESENT);
	assert_int_equal(got, 0);
	assert_int_equal(missing, 0xffff800000000000ull);
	khang_source_free(src);
}

static void test_triage_thread_process(void **state)
{
	const khang_layout *exact;
	khang_source_opts o = KHANG_SOURCE_OPTS_INIT;
	khang_kernel_info ki = KHANG_KERNEL_INFO_INIT;
	khang_triage_info ti = KHANG_TRIAGE_INFO_INIT;
	(void)state;
	/* the kernel of this dump, by its PDB GUID (README) */
	assert_int_equal(khang_layout_builtin(&exact, "5278AFF86C341677D7D7835C85B7B844", 1), 0);
	o.layout = exact;
	khang_source *src = open_real("triage_x64.dmp", &o);
	if (!src)
		skip();
	assert_int_equal(khang_source_kernel_info(&ki, src), 0);
	assert_int_equal(ki.base, 0xfffff8047ba00000ull);
	assert_int_equal(ki.kdbg_valid, 1);
	assert_ptr_equal(ki.layout, exact);
	printf("layout check %d: %s\n", ki.check, ki.layout_note);
	assert_true(ki.check == KHANG_CHECK_PASSED || ki.check == KHANG_CHECK_PARTIAL);
	assert_int_equal(khang_source_triage_info(&ti, src), 0);
	assert_int_not_equal(ti.process, 0);

	const kh_layout *l = (const kh_layout *)exact;
	uint64_t v, cur, state_v, pid, tid, cpu;
	/* KPRCB: its number is the crashing CPU, its current thread the copy */
	assert_int_equal(kh_read_field(src, 0, ti.prcb, l, KH_F_KPRCB_Number, &cpu), 0);
	assert_int_equal(cpu, ti.processor);
	assert_true(cpu < 16);
	assert_int_equal(kh_read_field(src, 0, ti.prcb, l, KH_F_KPRCB_CurrentThread, &cur), 0);
	assert_int_equal(cur, ti.thread);
	/* the thread: Running, on that CPU, in the process copy */
	assert_int_equal(kh_read_field(src, 0, ti.thread, l, KH_F_KTHREAD_State, &state_v), 0);
	assert_int_equal(state_v, 2); /* Running */
	assert_string_equal(kh_layout_enum_name(l, KH_E_KTHREAD_STATE, (int64_t)state_v), "Running");
	assert_int_equal(kh_read_field(src, 0, ti.thread, l, KH_F_KTHREAD_Process, &v), 0);
	assert_int_equal(v, ti.process);
	uint64_t cid = kh_field_addr(l, ti.thread, KH_F_ETHREAD_Cid);
	assert_int_equal(kh_read_field(src, 0, cid, l, KH_F_CLIENT_ID_UniqueProcess, &pid), 0);
	assert_int_equal(kh_read_field(src, 0, cid, l, KH_F_CLIENT_ID_UniqueThread, &tid), 0);
	uint64_t ppid;
	assert_int_equal(kh_read_field(src, 0, ti.process, l, KH_F_EPROCESS_UniqueProcessId, &ppid), 0);
	assert_int_equal(pid, ppid);
	assert_true(tid != 0 && tid % 4 == 0);
	char name[16] = { 0 };
	assert_int_equal(khang_read_virtual(src, 0, kh_field_addr(l, ti.process, KH_F_EPROCESS_ImageFileName), name, 15,
	                                    NULL, NULL),
	                 0);
	printf("current thread 0x%llx TID %llu in process %s (PID %llu) on CPU %llu\n", (unsigned long long)ti.thread,
	       (unsigned long long)tid, name, (unsigned long long)pid, (unsigned long long)cpu);
	assert_true(name[0] >= 0x20 && name[0] < 0x7f);
	khang_source_free(src);
}

static void test_triage_drivers(void **state)
{
	(void)state;
	khang_source *src = open_real("triage_x64.dmp", NULL);
	if (!src)
		skip();
	khang_module_iter *it;
	const khang_module *m;
	int n = 0;
	assert_int_equal(khang_module_iter_new(&it, src), 0);
	while (khang_module_next(&m, it) == 0)
		n++;
	assert_int_equal(n, 0x97);
	khang_module_iter_free(it);
	/* frame 8 and frame 14 of the README's stack */
	assert_int_equal(khang_source_module_at(&m, src, 0xfffff8048b58334cull), 0);
	assert_string_equal(khang_module_name(m), "amdppm.sys");
	assert_int_equal(khang_module_base(m), 0xfffff8048b580000ull);
	assert_int_equal(khang_module_size(m), 0x3b000);
	assert_int_equal(khang_module_timestamp(m), 0xc9c03000);
	assert_int_equal(khang_source_module_at(&m, src, 0xfffff804799cc027ull), 0);
	assert_string_equal(khang_module_name(m), "Wdf01000.sys");
	assert_int_equal(khang_module_timestamp(m), 0xa9a9d36e);
	assert_string_equal(khang_module_path(m), "\\SystemRoot\\system32\\drivers\\Wdf01000.sys");
	char text[64];
	khang_source_symbolize(text, sizeof(text), src, 0xfffff8048b58334cull);
	assert_string_equal(text, "amdppm+0x334c");
	khang_source_free(src);
}

/* The four unloaded drivers of the real dump, in the file's order. */
static void test_triage_unloaded(void **state)
{
	static const struct {
		const char *name;
		uint64_t start, end;
	} want[] = {
		{ "dam.sys", 0xfffff80487de0000ull, 0xfffff80487dfc000ull },
		{ "WdBoot.sys", 0xfffff80479d30000ull, 0xfffff80479d42000ull },
		{ "hwpolicy.sys", 0xfffff804802c0000ull, 0xfffff804802d1000ull },
		{ "mcupdate.dll", 0xfffff804793e0000ull, 0xfffff80479409000ull },
	};
	(void)state;
	khang_source *src = open_real("triage_x64.dmp", NULL);
	if (!src)
		skip();
	size_t n = 0;
	assert_int_equal(khang_source_unloaded_driver_count(src, &n), 0);
	assert_int_equal(n, 4);
	for (size_t i = 0; i < n; i++) {
		khang_unloaded_driver u = KHANG_UNLOADED_DRIVER_INIT;
		assert_int_equal(khang_source_unloaded_driver(&u, src, i), 0);
		assert_string_equal(u.name, want[i].name);
		assert_int_equal(u.start, want[i].start);
		assert_int_equal(u.end, want[i].end);
	}
	/* an older caller's smaller structure is filled only up to its size */
	struct {
		khang_unloaded_driver u;
		uint64_t canary;
	} small = { KHANG_UNLOADED_DRIVER_INIT, 0x5a5a5a5a5a5a5a5aull };
	small.u.size = offsetof(khang_unloaded_driver, unload_time);
	small.u.unload_time = 0x77;
	assert_int_equal(khang_source_unloaded_driver(&small.u, src, 0), 0);
	assert_int_equal(small.u.unload_time, 0x77);
	assert_int_equal(small.u.size, offsetof(khang_unloaded_driver, unload_time));
	small.u.size = 8;
	assert_int_equal(khang_source_unloaded_driver(&small.u, src, 0), KHANG_EINVAL);
	khang_source_free(src);
}

static void test_triage_arm64(void **state)
{
	khang_source_info in = KHANG_SOURCE_INFO_INIT;
	khang_kernel_info ki = KHANG_KERNEL_INFO_INIT;
	(void)state;
	khang_source *src = open_real("triage_arm64.dmp", NULL);
	if (!src)
		skip();
	assert_int_equal(khang_source_get_info(&in, src), 0);
	assert_int_equal(in.arch, KHANG_ARCH_ARM64);
	assert_int_equal(in.build, 22000);
	assert_int_equal(in.processors, 8);
	assert_int_equal(in.bugcheck_code, 0x1C8);
	/* ARM64 analysis is out of scope for now, and says so */
	assert_int_equal(khang_source_kernel_info(&ki, src), KHANG_EUNSUPPORTED);
	assert_non_null(strstr(khang_error_last(), "arm64"));
	khang_source_free(src);
}

/* The verdict on the real dump: a crash, not a hang, in amdppm; named from
 * amdppm's PDB when the image path holds it. */
static void test_triage_verdict(void **state)
{
	char images[1024];
	const char *shared = getenv("KHANG_SHARED_DIR");
	(void)state;
	for (int with_images = 0; with_images < 2; with_images++) {
		khang_source_opts o = KHANG_SOURCE_OPTS_INIT;
		snprintf(images, sizeof(images), "%s/realdumps/symbols", shared ? shared : "");
		o.image_path = with_images ? images : NULL;
		khang_source *src = open_real("triage_x64.dmp", &o);
		if (!src)
			skip();
		khang_verdict *v;
		assert_int_equal(khang_hang_verdict(&v, src, NULL), 0);
		printf("  %s\n", khang_verdict_summary(v));
		assert_int_equal(khang_verdict_get_category(v), KHANG_VERDICT_CRASH);
		assert_string_equal(khang_verdict_culprit_module(v), "amdppm.sys");
		assert_string_equal(khang_verdict_summary(v),
		                    with_images ? "crash, not a hang: bugcheck 0x1000007e (SYSTEM_THREAD_EXCEPTION_NOT_HANDLED) "
		                                  "at amdppm!WriteIoMemRawEx+0x70"
		                                : "crash, not a hang: bugcheck 0x1000007e (SYSTEM_THREAD_EXCEPTION_NOT_HANDLED) "
		                                  "at amdppm+0x334c");
		khang_verdict_free(v);
		khang_source_free(src);
	}
}

/* Writer-made triage dumps (x64 with the kernel's PE header among the data
 * blocks, so the exact layout is found; x86 PAE and non-PAE by build): every
 * triage field and copy reads back. */
static void synthetic(const kh_layout *l, fg_arch arch, bool expect_exact)
{
	kh_layout_info li;
	kh_layout_get_info(l, &li);
	bool x64 = arch == FG_X64;
	unsigned ps = x64 ? 8 : 4;
	fg_forge *f = fg_new(arch, 16384);
	fg_kernel_opts ko = { 0 };
	ko.ncpus = 2;
	fg_kernel *k = fg_kernel_new(f, l, &ko);
	uint64_t proc = fg_kernel_add_process(k, "explorer.exe", 4232, 4200);
	uint64_t thread = fg_kernel_add_thread(k, proc, 4236);
	fg_kernel_set_current(k, 1, thread);
	/* a stack with a recognisable word at its top */
	uint64_t stack = fg_kernel_alloc(k, 0x2000);
	uint64_t marker = 0x1122334455667788ull;
	assert_int_equal(fg_write_virtual(f, fg_kernel_dtb(f), stack + 0x100, &marker, ps), 0);

	/* the page of the kernel's debug directory and CodeView record */
	uint32_t lfanew = 0, dbg = 0;
	assert_int_equal(fg_read_virtual(f, fg_kernel_dtb(f), fg_kernel_base(k) + 0x3C, &lfanew, 4), 0);
	assert_int_equal(fg_read_virtual(f, fg_kernel_dtb(f), fg_kernel_base(k) + lfanew + 24 + (x64 ? 0x70 : 0x60) + 6 * 8,
	                                 &dbg, 4),
	                 0);
	/* a DPC watchdog violation on processor 1 while it ran a DPC of TmXPFlt.sys:
	 * the KPRCB names the routine (CurrentDpcRoutine where the kernel has it,
	 * else DpcData[0].ActiveDpc -> KDPC.DeferredRoutine) */
	uint64_t routine = fg_kernel_base(k) + 0x4000100;
	uint64_t kdpc = fg_kernel_alloc(k, 0x40);
	assert_int_equal(fg_kernel_set(k, kdpc, KH_F_KDPC_DeferredRoutine, routine), 0);
	bool named = fg_kernel_set(k, fg_kernel_prcb(k, 1), KH_F_KPRCB_CurrentDpcRoutine, routine) == 0 ||
	             fg_kernel_set(k, fg_kernel_prcb(k, 1), KH_F_KPRCB_ActiveDpc, kdpc) == 0;
	fg_header *h = fg_header_of(f);
	h->bugcheck_code = 0x133;
	h->bugcheck_params[0] = 0;
	h->bugcheck_params[1] = 0x501;
	h->bugcheck_params[2] = 0x500;
	fg_triage_range blocks[] = {
		{ kdpc, 0x40 },
		{ fg_kernel_global(k, KH_G_KiProcessorBlock), 2 * ps },
		{ fg_kernel_base(k), 0x1000 }, /* the kernel's PE header */
		{ fg_kernel_base(k) + (dbg & ~0xFFFu), 0x1000 },
	};
	fg_triage_driver drivers[] = {
		{ "\\SystemRoot\\system32\\ntoskrnl.exe", fg_kernel_base(k), 0x800000, 0x11111111 },
		{ "\\SystemRoot\\system32\\drivers\\TmXPFlt.sys", fg_kernel_base(k) + 0x4000000, 0x80000, 0x22222222 },
	};
	fg_triage_driver unloaded[] = {
		{ "old.sys", fg_kernel_base(k) + 0x5000000, 0x20000, 0 },
		{ "averyverylongname.sys", fg_kernel_base(k) + 0x5100000, 0x1000, 0 },
	};
	fg_triage_opts to = { 0 };
	to.unloaded = unloaded;
	to.nunloaded = 2;
	to.prcb.va = fg_kernel_prcb(k, 1);
	to.prcb.size = kh_layout_struct_size(l, KH_S_KPRCB);
	to.process.va = proc;
	to.process.size = kh_layout_struct_size(l, KH_S_EPROCESS);
	to.thread.va = thread;
	to.thread.size = kh_layout_struct_size(l, KH_S_ETHREAD);
	to.stack.va = stack + 0x100;
	to.stack.size = 0x1f00;
	to.kdbg.va = fg_kernel_global(k, KH_G_KdDebuggerDataBlock);
	to.kdbg.size = 0x340;
	to.blocks = blocks;
	to.nblocks = 4;
	to.drivers = drivers;
	to.ndrivers = 2;
	uint8_t *img;
	size_t len;
	assert_int_equal(fg_triage_write(f, &to, &img, &len), 0);

	khang_source *src = NULL;
	assert_int_equal(khang_source_open_memory(&src, img, len, NULL), 0);
	khang_triage_info ti = KHANG_TRIAGE_INFO_INIT;
	assert_int_equal(khang_source_triage_info(&ti, src), 0);
	assert_int_equal(ti.processor, 1);
	assert_int_equal(ti.prcb, fg_kernel_prcb(k, 1));
	assert_int_equal(ti.thread, thread);
	assert_int_equal(ti.top_of_stack, stack + 0x100);
	assert_int_equal(ti.stack_size, 0x1f00);
	assert_int_equal(ti.drivers, 2);
	assert_int_equal(ti.data_blocks, 4);
	assert_int_equal(ti.size_of_dump, len);
	uint64_t v = 0;
	assert_int_equal(khang_read_virtual(src, 0, stack + 0x100, &v, ps, NULL, NULL), 0);
	assert_int_equal(v, x64 ? marker : (marker & 0xFFFFFFFFull));

	khang_kernel_info ki = KHANG_KERNEL_INFO_INIT;
	assert_int_equal(khang_source_kernel_info(&ki, src), 0);
	assert_int_equal(ki.base, fg_kernel_base(k));
	assert_non_null(ki.layout);
	if (expect_exact) {
		assert_ptr_equal(ki.layout, (const khang_layout *)l);
	} else {
		kh_layout_info ci;
		kh_layout_get_info((const kh_layout *)ki.layout, &ci);
		assert_int_equal(ci.build, li.build);
		assert_int_equal(ci.pae, li.pae);
	}
	assert_true(ki.check == KHANG_CHECK_PASSED || ki.check == KHANG_CHECK_PARTIAL);
	/* the process copy was placed at the thread's Process */
	assert_int_equal(khang_source_triage_info(&ti, src), 0);
	assert_int_equal(ti.process, proc);
	char name[16] = { 0 };
	assert_int_equal(khang_read_virtual(src, 0, kh_field_addr(l, proc, KH_F_EPROCESS_ImageFileName), name, 15, NULL, NULL), 0);
	assert_string_equal(name, "explorer.exe");
	/* drivers */
	const khang_module *m;
	assert_int_equal(khang_source_module_at(&m, src, fg_kernel_base(k) + 0x4001000), 0);
	assert_string_equal(khang_module_name(m), "TmXPFlt.sys");
	assert_int_equal(khang_module_timestamp(m), 0x22222222);
	/* unloaded drivers: names cut to 12 characters as the format keeps them */
	size_t nu = 0;
	khang_unloaded_driver u = KHANG_UNLOADED_DRIVER_INIT;
	assert_int_equal(khang_source_unloaded_driver_count(src, &nu), 0);
	assert_int_equal(nu, 2);
	assert_int_equal(khang_source_unloaded_driver(&u, src, 1), 0);
	assert_string_equal(u.name, "averyverylon");
	assert_int_equal(u.start, fg_kernel_base(k) + 0x5100000);
	assert_int_equal(u.end, fg_kernel_base(k) + 0x5101000);
	assert_int_equal(u.unload_time, 0);
	assert_int_equal(khang_source_unloaded_driver_at(&u, src, fg_kernel_base(k) + 0x501ffff), 0);
	assert_string_equal(u.name, "old.sys");
	assert_int_equal(khang_source_unloaded_driver_at(&u, src, fg_kernel_base(k) + 0x5020000), KHANG_ENOTFOUND);
	assert_int_equal(khang_source_unloaded_driver(&u, src, 2), KHANG_ENOTFOUND);
	/* the verdict blames the DPC routine's driver */
	khang_verdict *vd;
	assert_int_equal(khang_hang_verdict(&vd, src, NULL), 0);
	printf("  %s\n", khang_verdict_summary(vd));
	khang_verdict_step st = KHANG_VERDICT_STEP_INIT;
	assert_int_equal(khang_verdict_step_at(&st, vd, 0), 0);
	printf("  step: %s\n", st.text);
	if (!named) {
		/* Windows 7 keeps neither: the stack copy would tell (here it is empty) */
		assert_string_equal(st.text, "processor 1 ran one DPC too long (1281 clock ticks, limit 1280)");
		assert_int_not_equal(khang_verdict_get_category(vd), KHANG_VERDICT_BLOCKED_IN_DRIVER);
		goto verdict_done;
	}
	assert_int_equal(khang_verdict_get_category(vd), KHANG_VERDICT_BLOCKED_IN_DRIVER);
	assert_string_equal(khang_verdict_culprit_module(vd), "TmXPFlt.sys");
	assert_string_equal(khang_verdict_summary(vd), "DPC watchdog: a DPC ran too long in TmXPFlt.sys on processor 1 "
	                                              "(routine TmXPFlt+0x100, 1281 clock ticks, limit 1280)");
	assert_int_equal(khang_thread_tid(khang_verdict_culprit_thread(vd)), 4236);
	assert_true(khang_verdict_warning_count(vd) >= 1);
	assert_non_null(strstr(khang_verdict_warning(vd, 0), "a triage dump holds only the crashing processor"));
verdict_done:
	khang_verdict_free(vd);
	for (uint32_t i = 0; i < khang_source_warning_count(src); i++)
		printf("  warning: %s\n", khang_source_warning(src, i));
	khang_source_free(src);
	free(img);
	fg_kernel_free(k);
	fg_free(f);
}

static void test_triage_synthetic_x64(void **state)
{
	(void)state;
	synthetic(kh_layout_builtin_by_guid_string("5278AFF86C341677D7D7835C85B7B844", 1), FG_X64, true);
}

static void test_triage_synthetic_x86(void **state)
{
	kh_layout_candidate c[4];
	(void)state;
	for (int pae = 0; pae < 2; pae++) {
		size_t n = kh_layout_builtin_candidates(KHANG_ARCH_X86, 7601, pae, c, 4);
		assert_true(n > 0);
		synthetic(c[0].layout, pae ? FG_X86_PAE : FG_X86, false);
	}
	/* Windows 10 x86: the DPC routine through DpcData[0].ActiveDpc */
	assert_true(kh_layout_builtin_candidates(KHANG_ARCH_X86, 10240, 1, c, 4) > 0);
	synthetic(c[0].layout, FG_X86_PAE, false);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_triage_header),
		cmocka_unit_test(test_triage_thread_process),
		cmocka_unit_test(test_triage_drivers),
		cmocka_unit_test(test_triage_unloaded),
		cmocka_unit_test(test_triage_arm64),
		cmocka_unit_test(test_triage_verdict),
		cmocka_unit_test(test_triage_synthetic_x64),
		cmocka_unit_test(test_triage_synthetic_x86),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

/*
 * Kernel discovery on forge-made dumps: for a sample of built-in kernels of
 * every build (x64 by PDB GUID, x86 by build, PAE and non-PAE) the library
 * finds KernBase and the GUID, picks the exact layout, validates it, reads
 * the globals and lists the modules. Also: an unknown GUID (chosen by build
 * and validation), an encoded KDBG, a missing KDBG, a wrong layout given by
 * the caller (rejected with the failing check named), and damaged lists.
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

typedef struct built {
	fg_forge *f;
	fg_kernel *k;
	uint8_t *buf;
	size_t len;
	khang_source *src;
} built;

static fg_arch arch_of(const kh_layout *l)
{
	kh_layout_info li;
	kh_layout_get_info(l, &li);
	if (li.arch == KHANG_ARCH_X64)
		return FG_X64;
	return li.pae ? FG_X86_PAE : FG_X86;
}

static void build(built *b, const kh_layout *l, const fg_kernel_opts *o, const khang_source_opts *so)
{
	memset(b, 0, sizeof(*b));
	b->f = fg_new(arch_of(l), 16384);
	assert_non_null(b->f);
	b->k = fg_kernel_new(b->f, l, o);
	assert_non_null(b->k);
}

static void open_built(built *b, const khang_source_opts *so)
{
	fg_write_opts wo = FG_WRITE_OPTS_INIT;
	wo.format = FG_FMT_BITMAP_KERNEL;
	wo.kernel_only = 1;
	assert_int_equal(fg_write_memory(b->f, &b->buf, &b->len, &wo), 0);
	int rc = khang_source_open_memory(&b->src, b->buf, b->len, so);
	if (rc)
		fprintf(stderr, "open: %s\n", khang_error_last());
	assert_int_equal(rc, 0);
}

static void done(built *b)
{
	khang_source_free(b->src);
	free(b->buf);
	fg_kernel_free(b->k);
	fg_free(b->f);
}

static void expect_discovery(const kh_layout *l, khang_layout_source want_source)
{
	built b;
	kh_layout_info li;
	khang_kernel_info ki = KHANG_KERNEL_INFO_INIT;
	char want_id[64], gs[33];

	kh_layout_get_info(l, &li);
	build(&b, l, NULL, NULL);
	uint64_t ntmod = fg_kernel_add_module(b.k, "TmXPFlt.sys", fg_kernel_base(b.k) + 0x4000000, 0x80000);
	(void)ntmod;
	/* 52 unloads into the ring of 50: the two oldest are overwritten */
	for (uint32_t i = 0; i < 52; i++) {
		char nm[16];
		snprintf(nm, sizeof(nm), "u%u.sys", i);
		fg_kernel_add_unloaded(b.k, nm, fg_kernel_base(b.k) + 0x6000000 + 0x10000ull * i,
		                       fg_kernel_base(b.k) + 0x6008000 + 0x10000ull * i, 0x01d0000000000000ull + i);
	}
	open_built(&b, NULL);
	assert_int_equal(khang_source_kernel_info(&ki, b.src), 0);
	if (ki.check != KHANG_CHECK_PASSED)
		fprintf(stderr, "%s: check %d: %s\n", li.description, ki.check, ki.layout_note);
	assert_int_equal(ki.base, fg_kernel_base(b.k));
	assert_int_equal(ki.kdbg_valid, 1);
	assert_int_equal(ki.check, KHANG_CHECK_PASSED);
	if (want_source == KHANG_LAYOUT_BUILTIN_GUID) {
		assert_ptr_equal(ki.layout, (const khang_layout *)l);
	} else {
		/* by build: several updates of one build may validate alike (x86
		 * data has no GUIDs); the newest of the same build and PAE mode wins */
		kh_layout_info ci;
		kh_layout_get_info((const kh_layout *)ki.layout, &ci);
		assert_int_equal(ci.build, li.build);
		assert_int_equal(ci.pae, li.pae);
		assert_int_equal(ci.arch, li.arch);
	}
	assert_int_equal(khang_layout_source_kind(ki.layout), want_source);
	if (li.has_guid) {
		kh_guid_format(li.guid, gs);
		snprintf(want_id, sizeof(want_id), "%s%X", gs, li.age);
		assert_string_equal(ki.pdb_id, want_id);
	}
	assert_int_equal(ki.ki_processor_block, fg_kernel_global(b.k, KH_G_KiProcessorBlock));
	assert_int_equal(ki.ps_active_process_head, fg_kernel_global(b.k, KH_G_PsActiveProcessHead));
	assert_int_equal(ki.tick_multiplier, 0x0FA00000);
	assert_int_equal(ki.tick_count, 100000);
	/* 100000 - 99936 = 64 ticks = 1000 ms */
	assert_int_equal(khang_source_ticks_to_ms(b.src, 99936), 1000);

	/* modules, in list order, with lookups */
	khang_module_iter *it;
	const khang_module *m;
	const char *want[] = { "ntoskrnl.exe", "hal.dll", "TmXPFlt.sys" };
	int rc = khang_module_iter_new(&it, b.src);
	if (rc)
		fprintf(stderr, "%s: modules: %s\n", li.description, khang_error_last());
	assert_int_equal(rc, 0);
	for (size_t i = 0; i < 3; i++) {
		assert_int_equal(khang_module_next(&m, it), 0);
		assert_string_equal(khang_module_name(m), want[i]);
	}
	assert_int_equal(khang_module_next(&m, it), KHANG_ITEROVER);
	assert_int_equal(khang_module_iter_skipped(it), 0);
	khang_module_iter_free(it);
	rc = khang_source_module_at(&m, b.src, fg_kernel_base(b.k) + 0x401bce3);
	if (rc) {
		assert_int_equal(khang_module_iter_new(&it, b.src), 0);
		while (khang_module_next(&m, it) == 0)
			fprintf(stderr, "%s: module %s %llx %x\n", li.description, khang_module_name(m),
			        (unsigned long long)khang_module_base(m), khang_module_size(m));
		khang_module_iter_free(it);
	}
	assert_int_equal(rc, 0);
	assert_string_equal(khang_module_name(m), "TmXPFlt.sys");
	char sym[128];
	khang_source_symbolize(sym, sizeof(sym), b.src, fg_kernel_base(b.k) + 0x401bce3);
	assert_string_equal(sym, "TmXPFlt+0x1bce3");
	/* unloaded drivers: newest first, 50 kept */
	size_t nu = 0;
	khang_unloaded_driver u = KHANG_UNLOADED_DRIVER_INIT;
	assert_int_equal(khang_source_unloaded_driver_count(b.src, &nu), 0);
	assert_int_equal(nu, 50);
	assert_int_equal(khang_source_unloaded_driver(&u, b.src, 0), 0);
	assert_string_equal(u.name, "u51.sys");
	assert_int_equal(u.start, fg_kernel_base(b.k) + 0x6000000 + 0x10000ull * 51);
	assert_int_equal(u.end, u.start + 0x8000);
	assert_int_equal(u.unload_time, 0x01d0000000000000ull + 51);
	assert_int_equal(khang_source_unloaded_driver(&u, b.src, 49), 0);
	assert_string_equal(u.name, "u2.sys");
	assert_int_equal(khang_source_unloaded_driver_at(&u, b.src, fg_kernel_base(b.k) + 0x6070010), 0);
	assert_string_equal(u.name, "u7.sys");
	khang_source_symbolize(sym, sizeof(sym), b.src, fg_kernel_base(b.k) + 0x6070010);
	assert_string_equal(sym, "<Unloaded_u7.sys>+0x10");
	assert_int_equal(khang_source_unloaded_driver_at(&u, b.src, fg_kernel_base(b.k) + 0x6010010), KHANG_ENOTFOUND);
	khang_source_symbolize(sym, sizeof(sym), b.src, 0x1234);
	assert_string_equal(sym, "0x1234");
	/* a kernel function the layout knows by name */
	uint32_t rva, size;
	if (kh_layout_function(l, kh_fn_lookup("KeWaitForSingleObject"), &rva, &size)) {
		khang_source_symbolize(sym, sizeof(sym), b.src, fg_kernel_base(b.k) + rva + 0x10);
		assert_string_equal(sym, "nt!KeWaitForSingleObject+0x10");
	}
	done(&b);
}

/* One GUID layout per build (two where there are several), and x86 by build. */
static void test_builtin_sample(void **state)
{
	uint32_t seen_build[64] = { 0 };
	int seen_count[64] = { 0 };
	size_t nbuilds = 0, tested_guid = 0, tested_x86_pae = 0, tested_x86 = 0;
	(void)state;
	for (size_t i = 0; i < kh_layout_builtin_count(); i++) {
		const kh_layout *l = kh_layout_builtin_at(i);
		kh_layout_info li;
		kh_layout_get_info(l, &li);
		if (li.partial)
			continue;
		if (li.source == KH_LAYOUT_BUILTIN_GUID) {
			size_t j;
			for (j = 0; j < nbuilds && seen_build[j] != li.build; j++)
				;
			if (j == nbuilds) {
				assert_true(nbuilds < 64);
				seen_build[nbuilds++] = li.build;
			}
			if (seen_count[j] >= 2)
				continue;
			seen_count[j]++;
			expect_discovery(l, KHANG_LAYOUT_BUILTIN_GUID);
			tested_guid++;
		} else if (li.arch == KHANG_ARCH_X86) {
			if (li.pae ? tested_x86_pae >= 2 : tested_x86 >= 2)
				continue;
			/* x86 kernels are identified by build: PAE and non-PAE of the
			 * same build must both be found */
			expect_discovery(l, KHANG_LAYOUT_BUILTIN_BUILD);
			if (li.pae)
				tested_x86_pae++;
			else
				tested_x86++;
		}
	}
	printf("discovered %zu x64 kernels (GUID) over %zu builds, %zu x86 PAE, %zu x86 non-PAE\n", tested_guid,
	       nbuilds, tested_x86_pae, tested_x86);
	assert_true(tested_guid >= 10);
	assert_true(nbuilds >= 7);
	assert_int_equal(tested_x86_pae, 2);
	assert_int_equal(tested_x86, 2);
}

static const kh_layout *first_guid_layout(uint32_t build)
{
	for (size_t i = 0; i < kh_layout_builtin_count(); i++) {
		const kh_layout *l = kh_layout_builtin_at(i);
		kh_layout_info li;
		kh_layout_get_info(l, &li);
		if (li.source == KH_LAYOUT_BUILTIN_GUID && li.build == build)
			return l;
	}
	return NULL;
}

/* A kernel whose GUID the library does not know: chosen by build and
 * validation, said to be approximate. */
static void test_unknown_guid(void **state)
{
	built b;
	fg_kernel_opts o = { 0 };
	khang_kernel_info ki = KHANG_KERNEL_INFO_INIT;
	(void)state;
	const kh_layout *l = first_guid_layout(19041);
	assert_non_null(l);
	o.has_guid = true;
	memset(o.guid, 0xAB, 16);
	o.age = 7;
	build(&b, l, &o, NULL);
	open_built(&b, NULL);
	assert_int_equal(khang_source_kernel_info(&ki, b.src), 0);
	assert_string_equal(ki.pdb_id, "ABABABABABABABABABABABABABABABAB7");
	assert_non_null(ki.layout);
	assert_int_equal(khang_layout_source_kind(ki.layout), KHANG_LAYOUT_BUILTIN_BUILD);
	assert_int_equal(khang_layout_build(ki.layout), 19041);
	assert_int_equal(ki.check, KHANG_CHECK_PASSED);
	assert_non_null(strstr(ki.layout_note, "approximate"));
	done(&b);
}

static void test_encoded_kdbg(void **state)
{
	built b;
	fg_kernel_opts o = { 0 };
	khang_kernel_info ki = KHANG_KERNEL_INFO_INIT;
	(void)state;
	const kh_layout *l = first_guid_layout(19041);
	o.encode_kdbg = true;
	build(&b, l, &o, NULL);
	open_built(&b, NULL);
	assert_int_equal(khang_source_kernel_info(&ki, b.src), 0);
	assert_int_equal(ki.kdbg_valid, 1);
	assert_int_equal(ki.kdbg_was_encoded, 1);
	assert_int_equal(ki.base, fg_kernel_base(b.k));
	assert_int_equal(ki.check, KHANG_CHECK_PASSED);
	done(&b);
}

static void test_no_kdbg(void **state)
{
	built b;
	fg_kernel_opts o = { 0 };
	khang_kernel_info ki = KHANG_KERNEL_INFO_INIT;
	(void)state;
	o.no_kdbg = true;
	build(&b, first_guid_layout(17763), &o, NULL);
	open_built(&b, NULL);
	assert_int_equal(khang_source_kernel_info(&ki, b.src), 0);
	assert_int_equal(ki.kdbg_valid, 0);
	/* the base still comes from the module list, the layout from the GUID */
	assert_int_equal(ki.base, fg_kernel_base(b.k));
	assert_int_equal(ki.check, KHANG_CHECK_PASSED);
	done(&b);
}

/* The caller insists on a layout of another build: it is used (the caller
 * asked) but reported as failed, naming the check. */
static void test_wrong_user_layout(void **state)
{
	built b;
	khang_source_opts so = KHANG_SOURCE_OPTS_INIT;
	khang_kernel_info ki = KHANG_KERNEL_INFO_INIT;
	(void)state;
	const kh_layout *right = first_guid_layout(19041), *wrong = first_guid_layout(7601);
	assert_non_null(wrong);
	build(&b, right, NULL, NULL);
	so.layout = (const khang_layout *)wrong;
	open_built(&b, &so);
	assert_int_equal(khang_source_kernel_info(&ki, b.src), 0);
	assert_int_equal(ki.check, KHANG_CHECK_FAILED);
	assert_ptr_equal(ki.layout, (const khang_layout *)wrong);
	printf("wrong layout note: %s\n", ki.layout_note);
	/* the failing check is named: here the layout's symbol addresses */
	assert_non_null(strstr(ki.layout_note, "PsActiveProcessHead: the layout puts it at"));
	assert_true(khang_source_warning_count(b.src) > 0);
	done(&b);
}

/* A GUID layout that does not fit (the dump's structures are laid out as
 * another build) is rejected and never used silently. */
static void test_wrong_guid_rejected(void **state)
{
	built b;
	fg_kernel_opts o = { 0 };
	khang_kernel_info ki = KHANG_KERNEL_INFO_INIT;
	kh_layout_info li;
	(void)state;
	const kh_layout *w7 = first_guid_layout(7601), *w10 = first_guid_layout(19041);
	/* structures of 7601, but the RSDS names the 19041 kernel */
	kh_layout_get_info(w10, &li);
	uint8_t g[16];
	memcpy(g, li.guid, 16);
	uint8_t t[8] = { g[3], g[2], g[1], g[0], g[5], g[4], g[7], g[6] };
	memcpy(o.guid, t, 8);
	memcpy(o.guid + 8, g + 8, 8);
	o.has_guid = true;
	o.age = li.age;
	build(&b, w7, &o, NULL);
	open_built(&b, NULL);
	assert_int_equal(khang_source_kernel_info(&ki, b.src), 0);
	assert_ptr_not_equal(ki.layout, (const khang_layout *)w10);
	/* a warning names the failing check of the exact layout */
	int found = 0;
	for (uint32_t i = 0; i < khang_source_warning_count(b.src); i++) {
		const char *w = khang_source_warning(b.src, i);
		if (w && strstr(w, "failed validation"))
			found = 1;
	}
	assert_true(found);
	done(&b);
}

/* Regression: structures of 7601 in a dump whose header says 19041 and whose
 * kernel GUID is unknown. The 19041 by-build table shares many offsets with
 * 7601 (KPCR, KPRCB.Number, UniqueProcessId next to ActiveProcessLinks), so
 * checks that only touch those passed; it must be rejected. */
static void test_wrong_build_rejected(void **state)
{
	built b;
	fg_kernel_opts o = { 0 };
	khang_kernel_info ki = KHANG_KERNEL_INFO_INIT;
	(void)state;
	o.has_guid = true;
	memset(o.guid, 0x5A, 16);
	o.age = 1;
	build(&b, first_guid_layout(7601), &o, NULL);
	fg_header_of(b.f)->build = 19041;
	open_built(&b, NULL);
	assert_int_equal(khang_source_kernel_info(&ki, b.src), 0);
	if (ki.layout)
		assert_int_not_equal(khang_layout_build(ki.layout), 19041);
	printf("note: %s\n", ki.layout_note);
	done(&b);
}

/* A looping module list ends the walk with a warning, not a hang. */
static void test_module_list_loop(void **state)
{
	built b;
	(void)state;
	const kh_layout *l = first_guid_layout(19041);
	build(&b, l, NULL, NULL);
	uint64_t e = fg_kernel_add_module(b.k, "loop.sys", 0xfffff80500000000ull, 0x1000);
	/* point the entry's Flink at itself */
	fg_write_ptr(b.f, fg_kernel_dtb(b.f), e, e);
	open_built(&b, NULL);
	khang_module_iter *it;
	const khang_module *m;
	assert_int_equal(khang_module_iter_new(&it, b.src), 0);
	int n = 0;
	while (khang_module_next(&m, it) == 0)
		n++;
	assert_int_equal(n, 3);
	assert_true(khang_module_iter_skipped(it) > 0);
	khang_module_iter_free(it);
	done(&b);
}

/* Processor pages missing: validation is partial, not failed. */
static void test_missing_prcb_page(void **state)
{
	built b;
	khang_kernel_info ki = KHANG_KERNEL_INFO_INIT;
	fg_kernel_opts o = { 0 };
	(void)state;
	o.ncpus = 4;
	build(&b, first_guid_layout(19041), &o, NULL);
	uint64_t prcb = fg_kernel_prcb(b.k, 3);
	assert_int_equal(fg_map(b.f, fg_kernel_dtb(b.f), prcb & ~0xFFFull, 0x5000000, FG_PAGE_4K, FG_MAP_NOT_PRESENT), 0);
	open_built(&b, NULL);
	assert_int_equal(khang_source_kernel_info(&ki, b.src), 0);
	assert_int_equal(ki.check, KHANG_CHECK_PARTIAL);
	done(&b);
}

/* A layout loaded from an ISF file at run time (a kernel the caller knows
 * better than the built-in tables): used, validated, and its full symbol
 * table names functions the built-in list does not carry. */
static void test_isf_layout(void **state)
{
	const char *shared = getenv("KHANG_SHARED_DIR");
	char path[1024];
	khang_layout *isf = NULL;
	built b;
	khang_source_opts so = KHANG_SOURCE_OPTS_INIT;
	khang_kernel_info ki = KHANG_KERNEL_INFO_INIT;
	(void)state;
	snprintf(path, sizeof(path), "%s/layouts/isf/symbols/windows/ntkrnlmp.pdb/5278AFF86C341677D7D7835C85B7B844-1.json.xz",
	         shared ? shared : "");
	int rc = shared ? khang_layout_load_isf(&isf, path) : KHANG_ENOTFOUND;
	if (rc == KHANG_EUNSUPPORTED || rc == KHANG_EIO || rc == KHANG_ENOTFOUND) {
		printf("SKIP: cannot load %s (%s)\n", path, khang_error_last());
		skip();
	}
	assert_int_equal(rc, 0);
	/* build the dump from the built-in table of the same kernel */
	const kh_layout *builtin = kh_layout_builtin_by_guid_string("5278AFF86C341677D7D7835C85B7B844", 1);
	assert_non_null(builtin);
	build(&b, builtin, NULL, NULL);
	so.layout = isf;
	open_built(&b, &so);
	assert_int_equal(khang_source_kernel_info(&ki, b.src), 0);
	assert_ptr_equal(ki.layout, isf);
	assert_int_equal(ki.check, KHANG_CHECK_PASSED);
	assert_int_equal(khang_layout_source_kind(ki.layout), KHANG_LAYOUT_ISF);
	/* a function only the ISF's full symbol table knows */
	kh_symbol sym;
	assert_int_equal(kh_layout_symbol_by_name((const kh_layout *)isf, "PnpDeviceActionWorker", &sym), 0);
	char text[128];
	khang_source_symbolize(text, sizeof(text), b.src, fg_kernel_base(b.k) + sym.rva + 0x4cc);
	assert_string_equal(text, "nt!PnpDeviceActionWorker+0x4cc");
	done(&b);
	khang_layout_free(isf);
}

static void test_unsupported_dumps(void **state)
{
	khang_kernel_info ki = KHANG_KERNEL_INFO_INIT;
	const char *shared = getenv("KHANG_SHARED_DIR");
	char path[1024];
	khang_source *src = NULL;
	(void)state;
	snprintf(path, sizeof(path), "%s/realdumps/triage_arm64.dmp", shared ? shared : "");
	if (!shared || khang_source_open(&src, path, NULL) != 0) {
		printf("SKIP: %s not available\n", path);
		skip();
	}
	assert_int_equal(khang_source_kernel_info(&ki, src), KHANG_EUNSUPPORTED);
	khang_source_free(src);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_builtin_sample),
		cmocka_unit_test(test_unknown_guid),
		cmocka_unit_test(test_encoded_kdbg),
		cmocka_unit_test(test_no_kdbg),
		cmocka_unit_test(test_wrong_user_layout),
		cmocka_unit_test(test_wrong_guid_rejected),
		cmocka_unit_test(test_wrong_build_rejected),
		cmocka_unit_test(test_module_list_loop),
		cmocka_unit_test(test_missing_prcb_page),
		cmocka_unit_test(test_isf_layout),
		cmocka_unit_test(test_unsupported_dumps),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

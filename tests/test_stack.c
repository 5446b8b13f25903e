/*
 * x64 unwinding on the real ../shared/realdumps/triage_x64.dmp with the real
 * amdppm.sys and Wdf01000.sys images (image search path): starting from the
 * CONTEXT record at BugCheckParameter4, the walk must give frames 8..23 of
 * the stack in ../shared/realdumps/README.md, same return addresses and
 * stack pointers. nt frames need ntoskrnl.exe's .pdata, which is not there:
 * the walk ends at frame 24 saying so. amdppm's frames are named from its
 * real PDB (public symbols) as the README names them; Wdf01000 has no PDB
 * here and keeps module+offset names. The PDB is found in the symbol store
 * layout (amdppm.pdb/GUIDAGE/amdppm.pdb) and in a flat directory.
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

static const struct {
	uint64_t ip, sp;
	const char *sym;
} want[] = {
	{ 0xfffff8048b58334c, 0xffff850429892120, "amdppm!WriteIoMemRawEx+0x70" },
	{ 0xfffff8048b58313f, 0xffff850429892150, "amdppm!WriteGenAddrEx+0x6b" },
	{ 0xfffff8048b583234, 0xffff850429892180, "amdppm!WriteGenAddrMaybeHiddenEx+0x18" },
	{ 0xfffff8048b5a0e8f, 0xffff8504298921b0, "amdppm!InitAcpiCpc+0x317" },
	{ 0xfffff8048b5a83f6, 0xffff850429892210, "amdppm!ProcLibDeviceStart+0x886" },
	{ 0xfffff8048b59f852, 0xffff850429892340, "amdppm!EvtDevicePrepareHardware+0xd2" },
	{ 0xfffff804799cc027, 0xffff850429892380, "Wdf01000+0x7c027" },
	{ 0xfffff80479966f81, 0xffff8504298923d0, "Wdf01000+0x16f81" },
	{ 0xfffff804799cb227, 0xffff850429892410, "Wdf01000+0x7b227" },
	{ 0xfffff804799c9e21, 0xffff850429892460, "Wdf01000+0x79e21" },
	{ 0xfffff804799c99da, 0xffff8504298924a0, "Wdf01000+0x799da" },
	{ 0xfffff804799cb6b1, 0xffff850429892530, "Wdf01000+0x7b6b1" },
	{ 0xfffff804799cb47a, 0xffff8504298925a0, "Wdf01000+0x7b47a" },
	{ 0xfffff804799d299e, 0xffff850429892630, "Wdf01000+0x8299e" },
	{ 0xfffff8047995cc5f, 0xffff850429892660, "Wdf01000+0xcc5f" },
	{ 0xfffff8047995a866, 0xffff8504298926d0, "Wdf01000+0xa866" },
};

static void real_unwind(const char *images)
{
	char path[1024];
	const char *shared = getenv("KHANG_SHARED_DIR");
	khang_source *src = NULL;
	khang_source_opts o = KHANG_SOURCE_OPTS_INIT;
	snprintf(path, sizeof(path), "%s/realdumps/triage_x64.dmp", shared ? shared : "");
	o.image_path = images;
	if (khang_source_open(&src, path, &o) != 0) {
		printf("SKIP: %s not available (set KHANG_SHARED_DIR to the shared data folder)\n", path);
		skip();
	}
	khang_source_info in = KHANG_SOURCE_INFO_INIT;
	khang_source_get_info(&in, src);
	khang_stack *st;
	assert_int_equal(khang_stack_walk_context(&st, src, in.bugcheck_params[3], NULL), 0);
	size_t n = khang_stack_frame_count(st);
	printf("%zu frames; end: %s\n", n, khang_stack_end_reason(st));
	for (size_t i = 0; i < n; i++) {
		khang_frame f;
		char sym[128];
		khang_stack_frame(&f, st, i);
		khang_source_symbolize(sym, sizeof(sym), src, f.ip);
		printf("  %2zu %016llx %016llx %d %s\n", i + 8, (unsigned long long)f.ip, (unsigned long long)f.sp, f.kind, sym);
	}
	assert_true(n >= sizeof(want) / sizeof(want[0]));
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		khang_frame f;
		char sym[128];
		assert_int_equal(khang_stack_frame(&f, st, i), 0);
		assert_int_equal(f.ip, want[i].ip);
		assert_int_equal(f.sp, want[i].sp);
		khang_source_symbolize(sym, sizeof(sym), src, f.ip);
		assert_string_equal(sym, want[i].sym);
	}
	/* the frame's parts */
	khang_frame_info fi = KHANG_FRAME_INFO_INIT;
	assert_int_equal(khang_stack_frame_info(&fi, st, 3), 0);
	assert_string_equal(fi.module, "amdppm");
	assert_string_equal(fi.symbol, "InitAcpiCpc");
	assert_int_equal(fi.offset, 0x317);
	khang_stack_free(st);
	khang_source_free(src);
}

static void test_real_unwind(void **state)
{
	char images[1024];
	const char *shared = getenv("KHANG_SHARED_DIR");
	(void)state;
	if (!shared) {
		printf("SKIP: set KHANG_SHARED_DIR to the shared data folder\n");
		skip();
	}
	snprintf(images, sizeof(images), "%s/realdumps/symbols", shared);
	real_unwind(images);
}

/* The same files in one flat directory (links to them). */
static void test_real_unwind_flat(void **state)
{
	const char *shared = getenv("KHANG_SHARED_DIR");
	char dir[] = "/tmp/khang-flat-XXXXXX", from[1024], to[1024];
	static const char *const files[][2] = {
		{ "amdppm.sys/c9c030003b000/amdppm.sys", "amdppm.sys" },
		{ "Wdf01000.sys/a9a9d36ed1000/Wdf01000.sys", "Wdf01000.sys" },
		{ "amdppm.pdb/1C19FDDB27BB3399D9B45973EFEAFCF31/amdppm.pdb", "amdppm.pdb" },
	};
	(void)state;
	if (!shared) {
		printf("SKIP: set KHANG_SHARED_DIR to the shared data folder\n");
		skip();
	}
	assert_non_null(mkdtemp(dir));
	for (size_t i = 0; i < 3; i++) {
		snprintf(from, sizeof(from), "%s/realdumps/symbols/%s", shared, files[i][0]);
		snprintf(to, sizeof(to), "%s/%s", dir, files[i][1]);
		assert_int_equal(symlink(from, to), 0);
	}
	real_unwind(dir);
	for (size_t i = 0; i < 3; i++) {
		snprintf(to, sizeof(to), "%s/%s", dir, files[i][1]);
		unlink(to);
	}
	rmdir(dir);
}

/* Without the image path the images are not in the triage dump: without
 * scanning the walk stops at once and says why. */
static void test_real_no_images(void **state)
{
	char path[1024];
	const char *shared = getenv("KHANG_SHARED_DIR");
	khang_source *src = NULL;
	(void)state;
	snprintf(path, sizeof(path), "%s/realdumps/triage_x64.dmp", shared ? shared : "");
	if (!shared || khang_source_open(&src, path, NULL) != 0) {
		printf("SKIP: %s not available\n", path);
		skip();
	}
	khang_source_info in = KHANG_SOURCE_INFO_INIT;
	khang_source_get_info(&in, src);
	khang_stack *st;
	khang_stack_opts so = KHANG_STACK_OPTS_INIT;
	so.flags = KHANG_STACK_NO_SCAN;
	assert_int_equal(khang_stack_walk_context(&st, src, in.bugcheck_params[3], &so), 0);
	assert_int_equal(khang_stack_frame_count(st), 1);
	assert_int_equal(khang_stack_end(st), KHANG_STACK_END_NO_UNWIND);
	assert_non_null(strstr(khang_stack_end_reason(st), "amdppm"));
	khang_stack_free(st);
	/* By default the stack is scanned for return addresses that follow a
	 * call in the code pages the triage dump holds: the next one is frame 9
	 * (amdppm!WriteGenAddrEx+0x6b), found as a lower-confidence frame. */
	assert_int_equal(khang_stack_walk_context(&st, src, in.bugcheck_params[3], NULL), 0);
	assert_true(khang_stack_frame_count(st) > 1);
	khang_frame f;
	assert_int_equal(khang_stack_frame(&f, st, 1), 0);
	assert_int_equal(f.kind, KHANG_FRAME_SCAN);
	assert_int_equal(f.ip, 0xfffff8048b58313full);
	assert_int_equal(f.sp, 0xffff850429892150ull);
	khang_stack_free(st);
	khang_source_free(src);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_real_unwind),
		cmocka_unit_test(test_real_unwind_flat),
		cmocka_unit_test(test_real_no_images),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

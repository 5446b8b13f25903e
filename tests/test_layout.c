/*
 * Tests of the kernel layouts: the built-in tables (indexes, invariants,
 * known offsets, the triage dump's kernel), the run-time ISF loader (valid
 * and hostile documents, allocation failures) and, when the shared data is
 * there (KHANG_SHARED_DIR), the built-in tables against the ISF files they
 * were generated from.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "fail_alloc.h"

#include "khang.h"
#include "layout/layout.h"
#include "util/util.h"

static const uint8_t xz_bomb[] = {
	0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00, 0x00, 0x04, 0xe6, 0xd6, 0xb4, 0x46, 0x02, 0x00, 0x21, 0x01,
	0x1c, 0x00, 0x00, 0x00, 0x10, 0xcf, 0x58, 0xcc, 0xff, 0xff, 0x11, 0x01, 0x6c, 0x5d, 0x00, 0x10,
	0x6f, 0xfb, 0xbf, 0xfe, 0xa3, 0xb1, 0x5e, 0xe5, 0xf8, 0x3f, 0xb2, 0xaa, 0x26, 0x55, 0xf8, 0x68,
	0x70, 0x41, 0x70, 0x15, 0x0f, 0x8d, 0xfd, 0x1e, 0x4c, 0x1b, 0x8a, 0x42, 0xb7, 0x19, 0xf4, 0x69,
	0x18, 0x71, 0xae, 0x66, 0x23, 0x8a, 0x8a, 0x4d, 0x2f, 0xa3, 0x0d, 0xd9, 0x7f, 0xa6, 0xe3, 0x8c,
	0x23, 0x11, 0x53, 0xe0, 0x59, 0x18, 0xc5, 0x75, 0x8a, 0xe2, 0x77, 0xf8, 0xb6, 0x94, 0x7f, 0x0c,
	0x6a, 0xc0, 0xde, 0x74, 0x49, 0x64, 0xe2, 0xe9, 0x5c, 0x53, 0xb2, 0x04, 0xd8, 0xf7, 0x44, 0x0c,
	0xab, 0x5f, 0x0d, 0x6d, 0x46, 0xe9, 0xe5, 0xc3, 0x76, 0x88, 0xb7, 0x96, 0x57, 0xac, 0xb6, 0x4d,
	0xe1, 0x69, 0x1d, 0x6f, 0xfb, 0x4b, 0x88, 0x10, 0x6c, 0x42, 0xcb, 0x88, 0x3f, 0x5c, 0x00, 0x8f,
	0xd0, 0x4e, 0xaf, 0x26, 0x28, 0x94, 0x71, 0x1f, 0x3d, 0x8f, 0x24, 0xe1, 0x70, 0x9e, 0xa7, 0x23,
	0x5f, 0xec, 0x28, 0xcb, 0x85, 0xd1, 0x95, 0x98, 0x8a, 0x7e, 0x2a, 0x91, 0xf2, 0x27, 0x75, 0xf7,
	0x19, 0xc0, 0x06, 0x98, 0x4d, 0x98, 0xfd, 0xd8, 0xaf, 0xd5, 0x90, 0x0f, 0xc4, 0x25, 0x53, 0xf8,
	0xf5, 0x91, 0x36, 0x31, 0x05, 0xa5, 0xb0, 0xee, 0x6f, 0xc1, 0x70, 0x4d, 0x47, 0x0c, 0xd1, 0x91,
	0x11, 0xaa, 0xad, 0x60, 0x1d, 0xba, 0xce, 0xb1, 0x27, 0x18, 0x5c, 0x59, 0x86, 0xe9, 0x66, 0x52,
	0x58, 0xbe, 0xe9, 0x76, 0xac, 0x59, 0xe4, 0xe5, 0x5b, 0x05, 0x08, 0xf9, 0xc7, 0xda, 0xad, 0xfc,
	0xfb, 0x52, 0x2b, 0x74, 0xcd, 0x1e, 0x5b, 0x20, 0x42, 0xf9, 0xdd, 0x53, 0x3d, 0xf8, 0x29, 0x64,
	0x09, 0x3b, 0x80, 0xcb, 0x2a, 0x6c, 0xdf, 0xb5, 0x3b, 0xf0, 0xc4, 0xbd, 0x2e, 0x5f, 0xaa, 0x0f,
	0x3e, 0x4b, 0x66, 0x42, 0x90, 0x13, 0x0e, 0xff, 0x10, 0x93, 0xf8, 0x71, 0x78, 0x59, 0xf8, 0x0b,
	0xcd, 0xff, 0x95, 0x28, 0x46, 0x0f, 0xa9, 0xfc, 0x7c, 0xde, 0xfb, 0x9a, 0x30, 0x2e, 0x56, 0xc0,
	0x8f, 0x85, 0xf3, 0x83, 0x81, 0xc0, 0x65, 0xc4, 0x25, 0x53, 0xf8, 0xf5, 0x91, 0x36, 0x31, 0x05,
	0xa5, 0xb0, 0xee, 0x6f, 0xc1, 0x70, 0x4d, 0x47, 0x0c, 0xd1, 0x91, 0x11, 0xaa, 0xad, 0x60, 0x1d,
	0xba, 0xce, 0xb1, 0x27, 0x18, 0x5c, 0x59, 0x86, 0xe9, 0x66, 0x52, 0x58, 0xbe, 0xe9, 0x76, 0xac,
	0x59, 0xe4, 0xe5, 0x5b, 0x05, 0x08, 0xf9, 0xc7, 0xda, 0xad, 0xfc, 0xfb, 0x52, 0x2b, 0x74, 0xcd,
	0x1e, 0x5b, 0x20, 0x42, 0xf9, 0xdd, 0x53, 0x3d, 0xf8, 0x29, 0x64, 0x09, 0x3b, 0x80, 0xcb, 0x2a,
	0x6c, 0xdf, 0xb5, 0x3b, 0xf0, 0xc4, 0xbc, 0x48, 0x27, 0xe6, 0x58, 0x80, 0x00, 0xed, 0x00, 0x05,
	0x00, 0x1c, 0xa6, 0x24, 0xf1, 0x00, 0x00, 0x00, 0x42, 0x1b, 0xcf, 0x8e, 0xbf, 0xac, 0xef, 0xaf,
	0x00, 0x01, 0x93, 0x03, 0x80, 0x80, 0x80, 0x01, 0x86, 0xcf, 0xef, 0x5f, 0xb1, 0xc4, 0x67, 0xfb,
	0x02, 0x00, 0x00, 0x00, 0x00, 0x04, 0x59, 0x5a
};

/* ---- helpers ------------------------------------------------------------------ */

#define TRIAGE_BASE UINT64_C(0xfffff8047ba00000)

static const kh_layout *guid_layout(const char *guid, uint32_t age)
{
	const kh_layout *l = kh_layout_builtin_by_guid_string(guid, age);
	if (l == NULL)
		fail_msg("no built-in layout for %s-%u", guid, (unsigned)age);
	return l;
}

static bool ends_with(const char *s, const char *suffix)
{
	size_t a = strlen(s), b = strlen(suffix);
	return a >= b && strcmp(s + a - b, suffix) == 0;
}

/* the x86 layout made from profile `profile` (e.g. "Win7SP1x86_24000") */
static const kh_layout *x86_layout(uint32_t build, int pae, const char *profile)
{
	kh_layout_candidate c[8];
	size_t n = kh_layout_builtin_candidates(KHANG_ARCH_X86, build, pae, c, 8);
	for (size_t i = 0; i < n && i < 8; i++) {
		kh_layout_info info;
		kh_layout_get_info(c[i].layout, &info);
		if (c[i].match == KH_MATCH_EXACT_BUILD && ends_with(info.origin, profile))
			return c[i].layout;
	}
	fail_msg("no x86 layout %u/%d %s", (unsigned)build, pae, profile);
	return NULL;
}

static uint32_t off(const kh_layout *l, kh_field_id id)
{
	return kh_layout_offset(l, id);
}

/* check the invariants every layout must satisfy */
static void check_invariants(const kh_layout *l)
{
	kh_layout_info info;

	assert_true(kh_layout_valid(l));
	kh_layout_get_info(l, &info);
	assert_non_null(info.description);
	assert_true(info.arch == KHANG_ARCH_X86 || info.arch == KHANG_ARCH_X64);
	for (int f = 0; f < KH_FIELD_COUNT; f++) {
		const kh_field *fld = kh_layout_field(l, (kh_field_id)f);
		if (!kh_field_present(fld))
			continue;
		uint32_t ssize = kh_layout_struct_size(l, kh_field_struct((kh_field_id)f));
		if ((uint64_t)fld->offset + fld->size > ssize)
			fail_msg("%s: %s at 0x%x+%u beyond struct size 0x%x", info.description,
			         kh_field_name((kh_field_id)f), fld->offset, fld->size, ssize);
		assert_true(fld->kind <= KH_FK_ENUM);
		if (fld->kind == KH_FK_BITFIELD) {
			assert_true(fld->bit_len >= 1);
			assert_true((unsigned)fld->bit_pos + fld->bit_len <= 8u * fld->size);
		} else {
			assert_int_equal(fld->bit_len, 0);
		}
	}
	for (int e = 0; e < KH_ENUM_COUNT; e++) {
		int64_t prev = INT64_MIN;
		for (int64_t v = -2; v < 64; v++) {
			const char *n = kh_layout_enum_name(l, (kh_enum_id)e, v);
			if (n != NULL) {
				int64_t back;
				assert_true(kh_layout_enum_value(l, (kh_enum_id)e, n, &back));
				assert_true(back == v);
				assert_true(v > prev);
				prev = v;
			}
		}
	}
}

/* ---- built-in tables ------------------------------------------------------------- */

static void test_builtin_index(void **state)
{
	size_t guids = 0, x86 = 0, x64_build = 0, partial = 0;
	(void)state;

	assert_int_equal(kh_layout_builtin_count(), KH_BUILTIN_LAYOUT_COUNT);
	assert_null(kh_layout_builtin_at(KH_BUILTIN_LAYOUT_COUNT));
	for (size_t i = 0; i < kh_layout_builtin_count(); i++) {
		const kh_layout *l = kh_layout_builtin_at(i);
		kh_layout_info info;
		check_invariants(l);
		assert_true(kh_layout_is_builtin(l));
		kh_layout_get_info(l, &info);
		if (info.source == KH_LAYOUT_BUILTIN_GUID) {
			char g[33];
			guids++;
			assert_true(info.has_guid);
			assert_true(info.build >= 7601);
			kh_guid_format(info.guid, g);
			assert_ptr_equal(kh_layout_builtin_by_guid_string(g, info.age), l);
			/* the listed functions are sorted by RVA and resolve to themselves */
			uint32_t prev = 0;
			for (int f = 0; f < KH_FN_COUNT; f++) {
				uint32_t rva, size;
				if (!kh_layout_function(l, (kh_fn_id)f, &rva, &size))
					continue;
				kh_symbol s;
				uint32_t o = 99;
				assert_int_equal(kh_layout_symbol_at(l, rva, &s, &o), 0);
				assert_int_equal(o, 0);
				assert_int_equal(s.rva, rva);
				(void)prev;
			}
			assert_true(kh_layout_global_rva(l, KH_G_PsActiveProcessHead) != 0);
			assert_true(kh_layout_global_rva(l, KH_G_KiProcessorBlock) != 0);
		} else if (info.arch == KHANG_ARCH_X86) {
			x86++;
			assert_int_equal(info.source, KH_LAYOUT_BUILTIN_BUILD);
			assert_false(info.has_guid);
			assert_int_equal(kh_layout_symbol_count(l), 0);
		} else if (info.partial) {
			partial++;
			assert_int_equal(info.source, KH_LAYOUT_BUILTIN_PARTIAL);
		} else {
			x64_build++;
			assert_int_equal(info.source, KH_LAYOUT_BUILTIN_BUILD);
		}
	}
	printf("built-in layouts: %zu by GUID, %zu x64 by build, %zu x86, %zu partial\n", guids, x64_build,
	       x86, partial);
	assert_int_equal(guids, 213);
	assert_int_equal(guids, KH_BUILTIN_GUID_COUNT);
	assert_int_equal(x86, 16);
	assert_int_equal(partial, 2);
	assert_int_equal(x64_build, 8);
}

/* values from ../shared/layouts/notes/key_offsets.md */
static void test_known_offsets(void **state)
{
	(void)state;
	/* 19041.3570 */
	const kh_layout *l = guid_layout("606FF669409B00F7FC8C61A9C1670129", 1);
	assert_int_equal(off(l, KH_F_KPCR_Self), 0x18);
	assert_int_equal(off(l, KH_F_KPCR_CurrentPrcb), 0x20);
	assert_int_equal(off(l, KH_F_KPCR_Prcb), 0x180);
	assert_int_equal(kh_layout_field(l, KH_F_KPCR_Prcb)->kind, KH_FK_STRUCT);
	assert_int_equal(kh_layout_struct_size(l, KH_S_KPCR), 0xb080);
	assert_int_equal(off(l, KH_F_KPRCB_MHz), 0x44);
	assert_int_equal(off(l, KH_F_KPRCB_VendorString), 0x8590);
	assert_int_equal(off(l, KH_F_KPRCB_DispatcherReadyListHead), 0x7c80);
	assert_int_equal(kh_layout_field(l, KH_F_KPRCB_DispatcherReadyListHead)->size, 32 * 16);
	assert_int_equal(off(l, KH_F_KPRCB_ReadySummary), 0x7c18);
	assert_int_equal(off(l, KH_F_KPRCB_ProcessorState), 0x100);
	assert_int_equal(off(l, KH_F_KTHREAD_State), 0x184);
	assert_int_equal(off(l, KH_F_KTHREAD_WaitReason), 0x283);
	assert_int_equal(off(l, KH_F_KTHREAD_WaitTime), 0x1b4);
	assert_int_equal(off(l, KH_F_KTHREAD_KernelStack), 0x58);
	assert_int_equal(off(l, KH_F_KTHREAD_Process), 0x220);
	assert_int_equal(off(l, KH_F_KTHREAD_ApcStateProcess), 0x98 + 0x20);
	assert_int_equal(off(l, KH_F_KTHREAD_WaitBlockCount), 0x24b);
	assert_int_equal(off(l, KH_F_ETHREAD_Cid), 0x478);
	assert_int_equal(off(l, KH_F_ETHREAD_UniqueThread), 0x480);
	assert_int_equal(off(l, KH_F_ETHREAD_AlpcWaitListEntry), 0x538);
	assert_int_equal(off(l, KH_F_EPROCESS_UniqueProcessId), 0x440);
	assert_int_equal(off(l, KH_F_EPROCESS_ImageFileName), 0x5a8);
	assert_int_equal(off(l, KH_F_EPROCESS_ThreadListHead), 0x5e0);
	assert_int_equal(off(l, KH_F_KPROCESS_DirectoryTableBase), 0x28);
	assert_int_equal(off(l, KH_F_KWAIT_BLOCK_Object), 0x20);
	assert_false(kh_layout_has(l, KH_F_KWAIT_BLOCK_NextWaitBlock));
	assert_int_equal(off(l, KH_F_KALPC_MESSAGE_WaitingThread), 0x20);
	assert_int_equal(off(l, KH_F_KALPC_MESSAGE_ServerThread), 0xc8);
	assert_int_equal(off(l, KH_F_ALPC_PORT_WaitQueue), 0xe8);
	assert_int_equal(off(l, KH_F_KLDR_DATA_TABLE_ENTRY_BaseDllName), 0x58);
	assert_int_equal(kh_layout_struct_size(l, KH_S_KLDR_DATA_TABLE_ENTRY), 0xa0);
	assert_int_equal(off(l, KH_F_KUSER_SHARED_DATA_TickCount), 0x320);
	assert_int_equal(off(l, KH_F_KUSER_SHARED_DATA_TickCountMultiplier), 4);
	assert_int_equal(off(l, KH_F_KSPECIAL_REGISTERS_MsrLStar), 0xc0);
	/* bitfield */
	const kh_field *f = kh_layout_field(l, KH_F_KTHREAD_Alertable);
	assert_int_equal(f->kind, KH_FK_BITFIELD);
	assert_int_equal(f->offset, 0x74);
	assert_int_equal(f->bit_pos, 4);
	assert_int_equal(f->bit_len, 1);
	/* x64 switch frame constants */
	assert_int_equal(kh_layout_struct_size(l, KH_S_KSWITCH_FRAME), 0x40);
	assert_int_equal(off(l, KH_F_KSWITCH_FRAME_Return), 0x38);
	assert_int_equal(off(l, KH_F_KSWITCH_FRAME_Rbp), 0x30);
	assert_int_equal(off(l, KH_F_KSWITCH_FRAME_ApcBypass), 0x28);

	/* Windows 7 SP1 x64 7601.24540 */
	l = guid_layout("339E74133576439CBCDF7E0229DA3773", 1);
	assert_int_equal(off(l, KH_F_KWAIT_BLOCK_NextWaitBlock), 0x20);
	assert_int_equal(off(l, KH_F_KWAIT_BLOCK_WaitType), 0x2a);
	assert_false(kh_layout_has(l, KH_F_KTHREAD_WaitBlockCount));
	assert_int_equal(off(l, KH_F_KALPC_MESSAGE_WaitingThread), 0x58);
	assert_int_equal(off(l, KH_F_KALPC_MESSAGE_PortQueue), 0x68);
	assert_int_equal(off(l, KH_F_KALPC_MESSAGE_OwnerPort), 0x70);
	assert_int_equal(off(l, KH_F_KTHREAD_StackBase), 0x278);
	assert_int_equal(off(l, KH_F_KPRCB_MHz), 0x5f4);
	assert_false(kh_layout_has(l, KH_F_KPRCB_SharedReadyQueue));
	/* Win7 has no _KLDR_DATA_TABLE_ENTRY: the _LDR_ one stands in */
	assert_int_equal(off(l, KH_F_KLDR_DATA_TABLE_ENTRY_DllBase), 0x30);
	assert_int_equal(off(l, KH_F_KLDR_DATA_TABLE_ENTRY_FullDllName), 0x48);

	/* x86 Windows 7 SP1 non-PAE and 10 19041 */
	l = x86_layout(7601, 0, " Win7SP1x86");
	assert_int_equal(off(l, KH_F_KPCR_Self), 0x1c);
	assert_int_equal(off(l, KH_F_KPCR_CurrentPrcb), 0x20);
	assert_int_equal(kh_layout_field(l, KH_F_KPCR_CurrentPrcb)->kind, KH_FK_POINTER);
	assert_int_equal(off(l, KH_F_KPCR_Prcb), 0x120);
	assert_int_equal(off(l, KH_F_KTHREAD_State), 0x68);
	assert_int_equal(off(l, KH_F_KWAIT_BLOCK_NextWaitBlock), 0x10);
	assert_int_equal(off(l, KH_F_KTRAP_FRAME_Eip), 0x68);
	assert_int_equal(off(l, KH_F_KTRAP_FRAME_HardwareEsp), 0x74);
	assert_false(kh_layout_has(l, KH_F_KTRAP_FRAME_Rip));
	assert_false(kh_layout_has(l, KH_F_KSWITCH_FRAME_Return));
	assert_int_equal(kh_layout_struct_size(l, KH_S_KSWITCH_FRAME), 0);
	l = x86_layout(19041, 1, " Win10x86_19041");
	assert_int_equal(off(l, KH_F_EPROCESS_UniqueProcessId), 0xe4);
	assert_int_equal(off(l, KH_F_ETHREAD_Cid), 0x2ac);
	assert_int_equal(kh_layout_struct_size(l, KH_S_KTHREAD), 0x280);
	assert_int_equal(kh_layout_struct_size(l, KH_S_MMPTE), 8);
}

static void test_triage_kernel(void **state)
{
	/* ../shared/realdumps/README.md: kernel 5278AFF8...-1 at 0xfffff8047ba00000 */
	static const struct {
		uint64_t va;
		const char *name;
		uint32_t offset;
	} frames[] = {
		{ UINT64_C(0xfffff8047bdf5a80), "KeBugCheckEx", 0 },
		{ UINT64_C(0xfffff8047bdcc052), "__C_specific_handler", 0xa2 },
		{ UINT64_C(0xfffff8047bdfe942), "RtlpExecuteHandlerForException", 0x12 },
		{ UINT64_C(0xfffff8047bd2bf97), "RtlDispatchException", 0x297 },
		{ UINT64_C(0xfffff8047bd2ab86), "KiDispatchException", 0x186 },
		{ UINT64_C(0xfffff8047be07bac), "KiExceptionDispatch", 0x12c },
		{ UINT64_C(0xfffff8047be031f5), "KiSegmentNotPresentFault", 0x335 },
		{ UINT64_C(0xfffff8047bc52f55), "IofCallDriver", 0x55 },
		{ UINT64_C(0xfffff8047c1548a6), "PnpAsynchronousCall", 0xea },
		{ UINT64_C(0xfffff8047bce0d1e), "PnpSendIrp", 0x9e },
		{ UINT64_C(0xfffff8047bd6ab7c), "PnpStartDevice", 0x88 },
		{ UINT64_C(0xfffff8047c123760), "PnpStartDeviceNode", 0xec },
		{ UINT64_C(0xfffff8047c12362f), "PipProcessStartPhase1", 0x73 },
		{ UINT64_C(0xfffff8047c126bdd), "PipProcessDevNodeTree", 0x319 },
		{ UINT64_C(0xfffff8047c1bdf0c), "PiProcessStartSystemDevices", 0x60 },
		{ UINT64_C(0xfffff8047bd6c2ec), "PnpDeviceActionWorker", 0x4cc },
		{ UINT64_C(0xfffff8047bc25975), "ExpWorkerThread", 0x105 },
		{ UINT64_C(0xfffff8047bd17e25), "PspSystemThreadStartup", 0x55 },
		{ UINT64_C(0xfffff8047bdfd0d8), "KiStartSystemThread", 0x28 },
		{ UINT64_C(0xfffff8047be0f4e1), NULL, 0 },   /* "inside an unnamed range" */
	};
	(void)state;
	const kh_layout *l = guid_layout("5278AFF86C341677D7D7835C85B7B844", 1);
	kh_layout_info info;
	kh_layout_get_info(l, &info);
	assert_string_equal(info.description, "10.0.19041.804");
	assert_int_equal(info.build, 19041);
	assert_int_equal(info.qfe, 804);
	assert_int_equal(info.source, KH_LAYOUT_BUILTIN_GUID);
	assert_int_equal(kh_layout_global_rva(l, KH_G_PsLoadedModuleList), UINT64_C(0xfffff8047c62a390) - TRIAGE_BASE);
	assert_int_equal(kh_layout_global_rva(l, KH_G_PsActiveProcessHead), UINT64_C(0xfffff8047c61e200) - TRIAGE_BASE);
	assert_int_equal(kh_layout_global_rva(l, KH_G_KdDebuggerDataBlock), UINT64_C(0xfffff8047c600b20) - TRIAGE_BASE);
	assert_int_equal(kh_layout_global_rva(l, KH_G_KeTickCount), 0); /* x64 has none */
	for (size_t i = 0; i < KH_ARRAY_SIZE(frames); i++) {
		kh_symbol s;
		uint32_t o;
		int rc = kh_layout_symbol_at(l, frames[i].va - TRIAGE_BASE, &s, &o);
		if (frames[i].name == NULL) {
			assert_int_equal(rc, KHANG_ENOTFOUND);
			continue;
		}
		if (rc != 0)
			fail_msg("frame %zu (%s) not found", i, frames[i].name);
		assert_string_equal(s.name, frames[i].name);
		assert_int_equal(o, frames[i].offset);
		assert_int_equal(s.fn, kh_fn_lookup(frames[i].name));
	}
	uint32_t rva, size;
	assert_true(kh_layout_function(l, KH_FN_KeBugCheckEx, &rva, &size));
	assert_int_equal(rva, UINT64_C(0xfffff8047bdf5a80) - TRIAGE_BASE);
	assert_int_equal(size, 0x130);
	kh_symbol s;
	assert_int_equal(kh_layout_symbol_by_name(l, "KiSwapContext", &s), 0);
	assert_int_equal(s.fn, KH_FN_KiSwapContext);
	assert_int_equal(kh_layout_symbol_by_name(l, "PsActiveProcessHead", &s), 0);
	assert_int_equal(s.rva, 0xc1e200);
	assert_int_equal(kh_layout_symbol_by_name(l, "NoSuchFunction", &s), KHANG_ENOTFOUND);
	assert_int_equal(kh_layout_symbol_at(l, UINT64_C(1) << 33, &s, NULL), KHANG_ENOTFOUND);
	assert_int_equal(kh_layout_symbol_at(l, 0, &s, NULL), KHANG_ENOTFOUND);

	/* the GUID as it is stored in the RSDS record: Data1..3 little-endian */
	static const uint8_t rsds[16] = { 0xF8, 0xAF, 0x78, 0x52, 0x34, 0x6C, 0x77, 0x16,
	                                  0xD7, 0xD7, 0x83, 0x5C, 0x85, 0xB7, 0xB8, 0x44 };
	assert_ptr_equal(kh_layout_builtin_by_guid(rsds, 1), l);
	assert_null(kh_layout_builtin_by_guid(rsds, 2));
	assert_null(kh_layout_builtin_by_guid_string("5278AFF86C341677D7D7835C85B7B84", 1));
	assert_null(kh_layout_builtin_by_guid_string("5278AFF86C341677D7D7835C85B7B844X", 1));
	assert_ptr_equal(kh_layout_builtin_by_guid_string("5278aff86c341677d7d7835c85b7b844", 1), l);

	/* public lookup */
	const khang_layout *pl = NULL;
	char text[64];
	assert_int_equal(khang_layout_builtin(&pl, "{5278AFF8-6C34-1677-D7D7-835C85B7B844}", 1), 0);
	assert_ptr_equal(pl, l);
	assert_int_equal(khang_layout_guid(pl, text, sizeof(text)), 0);
	assert_string_equal(text, "5278AFF86C341677D7D7835C85B7B844-1");
	assert_int_equal(khang_layout_guid(pl, text, 10), KHANG_EBUFSIZE);
	assert_int_equal(khang_layout_arch(pl), KHANG_ARCH_X64);
	assert_int_equal(khang_layout_build(pl), 19041);
	assert_int_equal(khang_layout_source_kind(pl), KHANG_LAYOUT_BUILTIN_GUID);
	assert_string_equal(khang_layout_description(pl), "10.0.19041.804");
	assert_true(khang_layout_symbol_count(pl) > 300);
	khang_layout_free((khang_layout *)(uintptr_t)pl); /* ignored */
	assert_int_equal(khang_layout_builtin(&pl, "5278AFF86C341677D7D7835C85B7B844", 7), KHANG_ENOTFOUND);
	assert_null(pl);
	assert_int_equal(khang_layout_builtin(&pl, "not-a-guid", 1), KHANG_EINVAL);
	assert_int_equal(khang_layout_builtin(NULL, "5278AFF86C341677D7D7835C85B7B844", 1), KHANG_EINVAL);
	assert_string_equal(khang_layout_description(NULL), "");
	assert_int_equal(khang_layout_arch(NULL), KHANG_ARCH_UNKNOWN);
	assert_int_equal(khang_layout_guid(NULL, text, sizeof(text)), KHANG_EINVAL);
	khang_layout_free(NULL);
}

static void test_candidates(void **state)
{
	kh_layout_candidate c[16];
	kh_layout_info info;
	size_t n;
	(void)state;

	n = kh_layout_builtin_candidates(KHANG_ARCH_X64, 19041, -1, c, 16);
	assert_int_equal(n, 1);
	assert_int_equal(c[0].match, KH_MATCH_EXACT_BUILD);
	kh_layout_get_info(c[0].layout, &info);
	assert_int_equal(info.build, 19041);
	assert_int_equal(info.source, KH_LAYOUT_BUILTIN_BUILD);
	assert_int_equal(off(c[0].layout, KH_F_KTHREAD_State), 0x184);
	/* a field that moved between 19041 updates is absent from the by-build table */
	assert_false(kh_layout_has(c[0].layout, KH_F_KTHREAD_ResourceIndex));
	assert_true(kh_layout_has(guid_layout("606FF669409B00F7FC8C61A9C1670129", 1), KH_F_KTHREAD_ResourceIndex));
	assert_int_equal(kh_layout_global_rva(c[0].layout, KH_G_PsActiveProcessHead), 0);

	n = kh_layout_builtin_candidates(KHANG_ARCH_X64, 19045, 1, c, 16);
	assert_int_equal(n, 1);
	assert_int_equal(c[0].match, KH_MATCH_SAME_KERNEL);
	n = kh_layout_builtin_candidates(KHANG_ARCH_X64, 18363, -1, c, 16);
	assert_int_equal(n, 1);
	assert_int_equal(c[0].match, KH_MATCH_SAME_KERNEL);

	/* 24H2: the partial table, then the nearest full one below */
	n = kh_layout_builtin_candidates(KHANG_ARCH_X64, 26100, -1, c, 16);
	assert_int_equal(n, 2);
	assert_int_equal(c[0].match, KH_MATCH_EXACT_BUILD);
	kh_layout_get_info(c[0].layout, &info);
	assert_true(info.partial);
	assert_int_equal(off(c[0].layout, KH_F_EPROCESS_UniqueProcessId), 0x1d0);
	assert_int_equal(off(c[0].layout, KH_F_EPROCESS_ActiveProcessLinks), 0x1d8);
	assert_int_equal(off(c[0].layout, KH_F_KTHREAD_State), 0x184);
	assert_int_equal(kh_layout_field(c[0].layout, KH_F_KTHREAD_State)->size, 1);
	assert_int_equal(off(c[0].layout, KH_F_KTHREAD_ApcStateProcess), 0xb8);
	assert_int_equal(kh_layout_struct_size(c[0].layout, KH_S_KPROCESS), 0x1c8);
	assert_int_equal(kh_layout_struct_size(c[0].layout, KH_S_KTHREAD), 0x4c0);
	assert_false(kh_layout_has(c[0].layout, KH_F_KPROCESS_DirectoryTableBase));
	assert_false(kh_layout_has(c[0].layout, KH_F_KPRCB_CurrentThread));
	assert_int_equal(c[1].match, KH_MATCH_NEAREST);
	kh_layout_get_info(c[1].layout, &info);
	assert_int_equal(info.build, 22000);
	/* 22H2 runs the 23H2 kernel */
	n = kh_layout_builtin_candidates(KHANG_ARCH_X64, 22621, -1, c, 16);
	assert_int_equal(n, 2);
	assert_int_equal(c[0].match, KH_MATCH_SAME_KERNEL);
	kh_layout_get_info(c[0].layout, &info);
	assert_int_equal(info.build, 22631);
	/* unknown builds: nearest below and above */
	n = kh_layout_builtin_candidates(KHANG_ARCH_X64, 15063, -1, c, 16);
	assert_int_equal(n, 2);
	kh_layout_get_info(c[0].layout, &info);
	assert_int_equal(info.build, 14393);
	kh_layout_get_info(c[1].layout, &info);
	assert_int_equal(info.build, 17763);
	assert_int_equal(kh_layout_builtin_candidates(KHANG_ARCH_X64, 30000, -1, NULL, 0), 1);

	/* x86: exact PAE mode first (newest update first), then the other mode */
	n = kh_layout_builtin_candidates(KHANG_ARCH_X86, 7601, 0, c, 16);
	assert_int_equal(n, 3);
	assert_int_equal(c[0].match, KH_MATCH_EXACT_BUILD);
	assert_int_equal(c[1].match, KH_MATCH_EXACT_BUILD);
	kh_layout_get_info(c[0].layout, &info);
	assert_int_equal(info.qfe, 23418);
	assert_false(info.pae);
	assert_int_equal(c[2].match, KH_MATCH_OTHER_PAE);
	kh_layout_get_info(c[2].layout, &info);
	assert_true(info.pae);
	n = kh_layout_builtin_candidates(KHANG_ARCH_X86, 7600, 1, c, 16);
	assert_int_equal(n, 1);
	assert_int_equal(c[0].match, KH_MATCH_OTHER_PAE);
	n = kh_layout_builtin_candidates(KHANG_ARCH_X86, 9600, -1, c, 16);
	assert_int_equal(n, 2);
	n = kh_layout_builtin_candidates(KHANG_ARCH_X86, 19045, 1, c, 16);
	assert_int_equal(n, 1);
	assert_int_equal(c[0].match, KH_MATCH_SAME_KERNEL);
	/* truncated output still counts */
	assert_int_equal(kh_layout_builtin_candidates(KHANG_ARCH_X86, 7601, 0, c, 1), 3);
	assert_int_equal(kh_layout_builtin_candidates(KHANG_ARCH_ARM64, 22000, -1, c, 16), 0);
}

static void test_enums(void **state)
{
	int64_t v;
	(void)state;
	const kh_layout *l = guid_layout("606FF669409B00F7FC8C61A9C1670129", 1);
	assert_string_equal(kh_layout_enum_name(l, KH_E_KTHREAD_STATE, 5), "Waiting");
	assert_string_equal(kh_layout_enum_name(l, KH_E_KTHREAD_STATE, 2), "Running");
	assert_string_equal(kh_layout_enum_name(l, KH_E_KWAIT_REASON, 17), "WrLpcReply");
	assert_string_equal(kh_layout_enum_name(l, KH_E_KWAIT_REASON, 37), "WrAlertByThreadId");
	assert_string_equal(kh_layout_enum_name(l, KH_E_KOBJECTS, 2), "MutantObject");
	assert_null(kh_layout_enum_name(l, KH_E_KWAIT_REASON, 1000));
	assert_null(kh_layout_enum_name(l, KH_ENUM_COUNT, 0));
	assert_true(kh_layout_enum_value(l, KH_E_KWAIT_REASON, "WrResource", &v));
	assert_int_equal(v, 27);
	assert_false(kh_layout_enum_value(l, KH_E_KWAIT_REASON, "NoSuchReason", &v));
	/* Windows 7 x64 has no _KTHREAD_STATE in its PDB: borrowed from 8.1 */
	l = guid_layout("339E74133576439CBCDF7E0229DA3773", 1);
	assert_string_equal(kh_layout_enum_name(l, KH_E_KTHREAD_STATE, 5), "Waiting");
	assert_string_equal(kh_layout_enum_name(l, KH_E_KWAIT_REASON, 13), "WrUserRequest");
	/* x86 layouts carry no enums: borrowed from x64 */
	l = x86_layout(7601, 1, " Win7SP1x86_24000");
	assert_string_equal(kh_layout_enum_name(l, KH_E_KWAIT_REASON, 17), "WrLpcReply");
	assert_string_equal(kh_layout_enum_name(l, KH_E_KTHREAD_STATE, 5), "Waiting");
}

static void test_get_field_values(void **state)
{
	uint8_t buf[0x500];
	uint64_t u;
	int64_t i;
	(void)state;
	const kh_layout *l = guid_layout("606FF669409B00F7FC8C61A9C1670129", 1);

	memset(buf, 0, sizeof(buf));
	buf[0x184] = 5;                      /* State */
	kh_put_le32(buf + 0x74, 1u << 4);    /* MiscFlags: Alertable */
	kh_put_le64(buf + 0x220, UINT64_C(0xffffa0012345f080));
	buf[0xc3] = 0xF0;                    /* Priority (char) = -16 */
	assert_int_equal(kh_layout_get_u64(l, KH_F_KTHREAD_State, buf, sizeof(buf), &u), 0);
	assert_int_equal(u, 5);
	assert_int_equal(kh_layout_get_u64(l, KH_F_KTHREAD_Alertable, buf, sizeof(buf), &u), 0);
	assert_int_equal(u, 1);
	assert_int_equal(kh_layout_get_u64(l, KH_F_KTHREAD_Process, buf, sizeof(buf), &u), 0);
	assert_true(u == UINT64_C(0xffffa0012345f080));
	assert_int_equal(kh_layout_get_i64(l, KH_F_KTHREAD_Priority, buf, sizeof(buf), &i), 0);
	assert_int_equal(i, -16);
	assert_int_equal(kh_layout_get_u64(l, KH_F_KTHREAD_Priority, buf, sizeof(buf), &u), 0);
	assert_int_equal(u, 0xF0);
	assert_int_equal(kh_layout_get_u64(l, KH_F_KTHREAD_State, buf, 0x184, &u), KHANG_ERANGE);
	assert_int_equal(kh_layout_get_u64(l, KH_F_KTHREAD_ApcState, buf, sizeof(buf), &u), KHANG_EINVAL);
	assert_int_equal(kh_layout_get_u64(l, KH_F_KWAIT_BLOCK_NextWaitBlock, buf, sizeof(buf), &u),
	                 KHANG_ENOTFOUND);
	const kh_field *f = NULL;
	assert_int_equal(kh_layout_require(l, KH_F_KWAIT_BLOCK_NextWaitBlock, &f), KHANG_ENOTFOUND);
	assert_non_null(strstr(khang_error_last(), "KWAIT_BLOCK.NextWaitBlock"));
	assert_int_equal(kh_layout_require(l, KH_F_KTHREAD_State, &f), 0);
	assert_int_equal(f->offset, 0x184);
	assert_false(kh_field_present(kh_layout_field(l, KH_FIELD_COUNT)));
	assert_false(kh_field_present(kh_layout_field(NULL, KH_F_KTHREAD_State)));
	assert_int_equal(kh_layout_offset(l, KH_F_KTHREAD_ThreadFlags), 0x78);
	assert_string_equal(kh_field_name(KH_F_KTHREAD_State), "KTHREAD.State");
	assert_string_equal(kh_struct_name(KH_S_EPROCESS), "EPROCESS");
	assert_int_equal(kh_field_struct(KH_F_EPROCESS_Peb), KH_S_EPROCESS);
	assert_string_equal(kh_fn_name(KH_FN_KiSwapContext), "KiSwapContext");
	assert_int_equal(kh_fn_lookup("KiSwapContext"), KH_FN_KiSwapContext);
	assert_int_equal(kh_fn_lookup("KiSwapContextX"), -1);
	assert_int_equal(kh_global_lookup("PsActiveProcessHead"), KH_G_PsActiveProcessHead);
	assert_null(kh_fn_name(KH_FN_COUNT));
}

/* ---- ISF loading --------------------------------------------------------------- */

#define ISF_META(machine) \
	"\"metadata\":{\"format\":\"6.1.0\",\"windows\":{\"pdb\":{\"GUID\":\"0123456789ABCDEF0123456789abcdef\"," \
	"\"age\":3,\"database\":\"ntkrnlmp.pdb\",\"machine_type\":" machine "},\"pe\":{\"major\":10,\"minor\":0," \
	"\"revision\":26100,\"build\":1}}}"
#define ISF_BASE \
	"\"base_types\":{\"pointer\":{\"size\":8,\"kind\":\"int\",\"signed\":false,\"endian\":\"little\"}," \
	"\"unsigned char\":{\"size\":1,\"kind\":\"char\",\"signed\":false,\"endian\":\"little\"}," \
	"\"char\":{\"size\":1,\"kind\":\"char\",\"signed\":true,\"endian\":\"little\"}," \
	"\"unsigned long\":{\"size\":4,\"kind\":\"int\",\"signed\":false,\"endian\":\"little\"}}"
#define ISF_LIST \
	"\"_LIST_ENTRY\":{\"kind\":\"struct\",\"size\":16,\"fields\":{" \
	"\"Flink\":{\"offset\":0,\"type\":{\"kind\":\"pointer\",\"subtype\":{\"kind\":\"struct\",\"name\":\"_LIST_ENTRY\"}}}," \
	"\"Blink\":{\"offset\":8,\"type\":{\"kind\":\"pointer\",\"subtype\":{\"kind\":\"struct\",\"name\":\"_LIST_ENTRY\"}}}}}," \
	"\"_KAPC_STATE\":{\"kind\":\"struct\",\"size\":48,\"fields\":{" \
	"\"ApcListHead\":{\"offset\":0,\"type\":{\"kind\":\"array\",\"count\":2,\"subtype\":{\"kind\":\"struct\",\"name\":\"_LIST_ENTRY\"}}}," \
	"\"Process\":{\"offset\":32,\"type\":{\"kind\":\"pointer\",\"subtype\":{\"kind\":\"struct\",\"name\":\"_KPROCESS\"}}}}}"
#define KT_STATE "\"State\":{\"offset\":388,\"type\":{\"kind\":\"base\",\"name\":\"unsigned char\"}}"
#define KT_FIELDS \
	KT_STATE "," \
	"\"Alertable\":{\"offset\":116,\"type\":{\"kind\":\"bitfield\",\"bit_position\":4,\"bit_length\":1," \
	"\"type\":{\"kind\":\"base\",\"name\":\"unsigned long\"}}}," \
	"\"ApcState\":{\"offset\":152,\"type\":{\"kind\":\"struct\",\"name\":\"_KAPC_STATE\"}}," \
	"\"WaitReason\":{\"offset\":643,\"type\":{\"kind\":\"enum\",\"name\":\"_KWAIT_REASON\"}}," \
	"\"WaitBlockList\":{\"offset\":208,\"type\":{\"kind\":\"pointer\",\"subtype\":{\"kind\":\"function\"}}}," \
	"\"Teb\":{\"offset\":240,\"type\":{\"kind\":\"pointer\",\"base\":\"pointer64\",\"subtype\":{\"kind\":\"base\",\"name\":\"void\"}}}," \
	"\"Priority\":{\"offset\":195,\"type\":{\"kind\":\"base\",\"name\":\"char\"}}," \
	"\"Queue\":{\"offset\":232,\"type\":{\"kind\":\"struct\",\"name\":\"_NOT_DEFINED_HERE\"}}"
#define ISF_ENUMS \
	"\"enums\":{\"_KWAIT_REASON\":{\"base\":\"unsigned char\",\"size\":1,\"constants\":{\"Executive\":0," \
	"\"WrLpcReply\":17,\"MaximumWaitReason\":37,\"WrAlertByThreadId\":37}}}"
#define ISF_SYMBOLS \
	"\"symbols\":{\"KiSwapContext\":{\"address\":4096},\"KxSwapContext\":{\"address\":4096}," \
	"\"KeWaitForSingleObject\":{\"address\":8192},\"??_C@_0BA@string@\":{\"address\":12288}," \
	"\"_C_specific_handler\":{\"address\":16384,\"linkage_name\":\"__C_specific_handler\"}," \
	"\"PsActiveProcessHead\":{\"address\":65536},\"ImageBase\":{\"address\":0},\"Last\":{\"address\":70000}}"

static char docbuf[16384];

/* a complete document with the given pieces replaced */
static const char *make_doc(const char *meta, const char *kthread_size, const char *kt_fields, const char *symbols)
{
	int n = snprintf(docbuf, sizeof(docbuf),
	                 "{%s," ISF_BASE ",\"user_types\":{" ISF_LIST ",\"_KTHREAD\":{\"kind\":\"struct\",\"size\":%s,"
	                 "\"fields\":{%s}}}," ISF_ENUMS ",%s}",
	                 meta, kthread_size, kt_fields, symbols);
	assert_true(n > 0 && (size_t)n < sizeof(docbuf));
	return docbuf;
}

static const char *good_doc(void)
{
	return make_doc(ISF_META("34404"), "1216", KT_FIELDS, ISF_SYMBOLS);
}

static bool have_isf_support(void)
{
	kh_layout *l = NULL;
	const char *d = good_doc();
	int rc = kh_layout_load_isf_memory(&l, NULL, d, strlen(d), NULL);
	kh_layout_free(l);
	if (rc == KHANG_EUNSUPPORTED) {
		printf("skipped: libkhang was built without json-c (%s)\n", khang_error_last());
		return false;
	}
	return true;
}

static void test_isf_minimal(void **state)
{
	kh_layout *l = NULL;
	kh_layout_info info;
	kh_isf_options o = { "dir/mini.json", 0, 0, 0 };
	kh_symbol s;
	uint32_t o2;
	(void)state;
	if (!have_isf_support())
		skip();
	const char *d = good_doc();
	assert_int_equal(kh_layout_load_isf_memory(&l, NULL, d, strlen(d), &o), 0);
	check_invariants(l);
	kh_layout_get_info(l, &info);
	assert_int_equal(info.arch, KHANG_ARCH_X64);
	assert_int_equal(info.source, KH_LAYOUT_ISF);
	assert_int_equal(info.build, 26100);
	assert_int_equal(info.qfe, 1);
	assert_true(info.has_guid);
	assert_int_equal(info.age, 3);
	assert_string_equal(info.description, "ISF mini.json: 10.0.26100.1 x64");
	assert_false(kh_layout_is_builtin(l));
	assert_int_equal(off(l, KH_F_KTHREAD_State), 388);
	assert_int_equal(kh_layout_field(l, KH_F_KTHREAD_State)->kind, KH_FK_INT);
	const kh_field *f = kh_layout_field(l, KH_F_KTHREAD_Alertable);
	assert_int_equal(f->kind, KH_FK_BITFIELD);
	assert_int_equal(f->size, 4);
	assert_int_equal(f->bit_pos, 4);
	assert_int_equal(off(l, KH_F_KTHREAD_ApcStateProcess), 152 + 32);
	assert_int_equal(kh_layout_field(l, KH_F_KTHREAD_ApcStateProcess)->kind, KH_FK_POINTER);
	assert_int_equal(kh_layout_field(l, KH_F_KTHREAD_ApcState)->size, 48);
	assert_int_equal(kh_layout_field(l, KH_F_KTHREAD_WaitReason)->kind, KH_FK_ENUM);
	assert_int_equal(kh_layout_field(l, KH_F_KTHREAD_Teb)->size, 8);
	assert_int_equal(kh_layout_field(l, KH_F_KTHREAD_WaitBlockList)->kind, KH_FK_POINTER);
	assert_false(kh_layout_has(l, KH_F_KTHREAD_Queue));   /* undefined struct type */
	assert_false(kh_layout_has(l, KH_F_KPRCB_CurrentThread));
	assert_int_equal(kh_layout_struct_size(l, KH_S_KTHREAD), 1216);
	assert_int_equal(kh_layout_struct_size(l, KH_S_LIST_ENTRY), 16);
	assert_int_equal(off(l, KH_F_KSWITCH_FRAME_Return), 0x38);
	assert_int_equal(kh_layout_struct_size(l, KH_S_KSWITCH_FRAME), 0x40);
	/* enums: from the file, and borrowed */
	assert_string_equal(kh_layout_enum_name(l, KH_E_KWAIT_REASON, 17), "WrLpcReply");
	assert_string_equal(kh_layout_enum_name(l, KH_E_KWAIT_REASON, 37), "WrAlertByThreadId");
	assert_string_equal(kh_layout_enum_name(l, KH_E_KTHREAD_STATE, 5), "Waiting");
	/* symbols */
	assert_int_equal(kh_layout_symbol_at(l, 4096 + 5, &s, &o2), 0);
	assert_string_equal(s.name, "KiSwapContext");
	assert_int_equal(o2, 5);
	assert_int_equal(s.size, 4096);
	assert_int_equal(s.fn, KH_FN_KiSwapContext);
	assert_int_equal(kh_layout_symbol_at(l, 8192 + 4095, &s, &o2), 0);
	assert_string_equal(s.name, "KeWaitForSingleObject");
	assert_int_equal(kh_layout_symbol_at(l, 12288 + 1, &s, &o2), KHANG_ENOTFOUND);
	assert_int_equal(kh_layout_symbol_at(l, 16384 + 0x10, &s, &o2), 0);
	assert_string_equal(s.name, "__C_specific_handler");
	assert_int_equal(kh_layout_symbol_at(l, 70000, &s, &o2), 0);   /* last: size unknown */
	assert_int_equal(kh_layout_symbol_at(l, 70001, &s, &o2), KHANG_ENOTFOUND);
	assert_int_equal(kh_layout_symbol_at(l, 10, &s, &o2), KHANG_ENOTFOUND);
	assert_int_equal(kh_layout_symbol_by_name(l, "__C_specific_handler", &s), 0);
	assert_int_equal(s.rva, 16384);
	assert_int_equal(kh_layout_symbol_by_name(l, "??_C@_0BA@string@", &s), 0);
	assert_int_equal(kh_layout_symbol_by_name(l, "ImageBase", &s), 0);
	assert_int_equal(kh_layout_symbol_by_name(l, "Nope", &s), KHANG_ENOTFOUND);
	assert_int_equal(kh_layout_global_rva(l, KH_G_PsActiveProcessHead), 65536);
	uint32_t rva, size;
	assert_true(kh_layout_function(l, KH_FN_KeWaitForSingleObject, &rva, &size));
	assert_int_equal(rva, 8192);
	assert_int_equal(size, 4096);
	assert_false(kh_layout_function(l, KH_FN_KiSwapThread, &rva, &size));
	assert_int_equal(kh_layout_symbol_count(l), 8);
	kh_layout_free(l);

	/* the architecture from the pointer size when there is no machine type */
	d = make_doc("\"metadata\":{}", "1216", KT_STATE, "\"symbols\":{}");
	assert_int_equal(kh_layout_load_isf_memory(&l, NULL, d, strlen(d), NULL), 0);
	kh_layout_get_info(l, &info);
	assert_int_equal(info.arch, KHANG_ARCH_X64);
	assert_false(info.has_guid);
	assert_int_equal(info.build, 0);
	assert_string_equal(info.description, "ISF (memory): x64, build unknown");
	kh_layout_free(l);

	/* a build hint names the build when the file does not */
	kh_isf_options hint = { NULL, 7601, 0, 0 };
	assert_int_equal(kh_layout_load_isf_memory(&l, NULL, d, strlen(d), &hint), 0);
	assert_int_equal(khang_layout_build(l), 7601);
	kh_layout_free(l);

	/* public API */
	khang_layout *pl = NULL;
	char text[64];
	d = good_doc();
	assert_int_equal(khang_layout_load_isf_memory(&pl, d, strlen(d)), 0);
	assert_int_equal(khang_layout_source_kind(pl), KHANG_LAYOUT_ISF);
	assert_int_equal(khang_layout_arch(pl), KHANG_ARCH_X64);
	assert_int_equal(khang_layout_build(pl), 26100);
	assert_int_equal(khang_layout_guid(pl, text, sizeof(text)), 0);
	assert_string_equal(text, "0123456789ABCDEF0123456789ABCDEF-3");
	assert_int_equal(khang_layout_symbol_count(pl), 8);
	assert_string_equal(khang_layout_description(pl), "ISF (memory): 10.0.26100.1 x64");
	khang_layout_free(pl);
	assert_int_equal(khang_layout_load_isf_memory(NULL, d, 1), KHANG_EINVAL);
	assert_int_equal(khang_layout_load_isf(&pl, "/nonexistent/dir/x.json"), KHANG_EIO);
	assert_null(pl);
	assert_int_equal(khang_layout_load_isf(&pl, NULL), KHANG_EINVAL);
}

typedef struct bad_case {
	const char *what;
	int expect;
} bad_case;

static void expect_fail(const char *what, const void *data, size_t len, const kh_isf_options *o, int expect)
{
	kh_layout *l = (kh_layout *)(uintptr_t)1;
	int rc = kh_layout_load_isf_memory(&l, NULL, data, len, o);
	if (rc != expect)
		fail_msg("%s: got %d (%s), expected %d", what, rc, khang_error_last(), expect);
	assert_null(l);
	assert_true(strlen(khang_error_last()) > 0);
	printf("  %-28s -> %s\n", what, khang_error_last());
}

static void test_isf_malformed(void **state)
{
	char deep[400];
	(void)state;
	if (!have_isf_support())
		skip();

	static const struct {
		const char *what;
		const char *text;
		int expect;
	} plain[] = {
		{ "empty", "", KHANG_EFORMAT },
		{ "truncated", "{\"user_types\": {", KHANG_EFORMAT },
		{ "array", "[1, 2]", KHANG_EFORMAT },
		{ "no user_types", "{}", KHANG_EFORMAT },
		{ "user_types array", "{\"user_types\": [], \"base_types\": {}}", KHANG_ECORRUPT },
		{ "garbage", "\x01\x02\x03 not json", KHANG_EFORMAT },
		{ "trailing data", "{\"user_types\": {}, \"base_types\": {}} xyz", KHANG_EFORMAT },
		{ "no architecture", "{\"user_types\": {}, \"base_types\": {}}", KHANG_EUNSUPPORTED },
		{ "nul inside", "{\"user_types\"\0: {}}", KHANG_EFORMAT },
	};
	for (size_t i = 0; i < KH_ARRAY_SIZE(plain); i++) {
		size_t len = strlen(plain[i].text);
		if (strcmp(plain[i].what, "nul inside") == 0)
			len = 18;
		expect_fail(plain[i].what, plain[i].text, len, NULL, plain[i].expect);
	}

	const char *d;
	d = make_doc(ISF_META("34404"), "2000000", KT_STATE, ISF_SYMBOLS);
	expect_fail("struct too large", d, strlen(d), NULL, KHANG_ECORRUPT);
	d = make_doc(ISF_META("34404"), "-8", KT_STATE, ISF_SYMBOLS);
	expect_fail("negative struct size", d, strlen(d), NULL, KHANG_ECORRUPT);
	d = make_doc(ISF_META("34404"), "\"1216\"", KT_STATE, ISF_SYMBOLS);
	expect_fail("struct size string", d, strlen(d), NULL, KHANG_ECORRUPT);
	d = make_doc(ISF_META("34404"), "1216",
	             "\"State\":{\"offset\":5000,\"type\":{\"kind\":\"base\",\"name\":\"unsigned char\"}}", ISF_SYMBOLS);
	expect_fail("offset beyond struct", d, strlen(d), NULL, KHANG_ECORRUPT);
	d = make_doc(ISF_META("34404"), "1216",
	             "\"State\":{\"offset\":1215,\"type\":{\"kind\":\"base\",\"name\":\"unsigned long\"}}", ISF_SYMBOLS);
	expect_fail("field crosses struct end", d, strlen(d), NULL, KHANG_ECORRUPT);
	d = make_doc(ISF_META("34404"), "1216",
	             "\"State\":{\"offset\":-1,\"type\":{\"kind\":\"base\",\"name\":\"unsigned char\"}}", ISF_SYMBOLS);
	expect_fail("negative offset", d, strlen(d), NULL, KHANG_ECORRUPT);
	d = make_doc(ISF_META("34404"), "1216",
	             "\"State\":{\"offset\":1.5,\"type\":{\"kind\":\"base\",\"name\":\"unsigned char\"}}", ISF_SYMBOLS);
	expect_fail("fractional offset", d, strlen(d), NULL, KHANG_ECORRUPT);
	d = make_doc(ISF_META("34404"), "1216",
	             "\"State\":{\"offset\":99999999999999999999999,\"type\":{\"kind\":\"base\",\"name\":\"unsigned char\"}}",
	             ISF_SYMBOLS);
	expect_fail("huge offset", d, strlen(d), NULL, KHANG_ECORRUPT);
	d = make_doc(ISF_META("34404"), "1216", "\"State\":{\"offset\":4,\"type\":\"unsigned char\"}", ISF_SYMBOLS);
	expect_fail("type is a string", d, strlen(d), NULL, KHANG_ECORRUPT);
	d = make_doc(ISF_META("34404"), "1216", "\"State\":{\"offset\":4,\"type\":{\"kind\":\"weird\"}}", ISF_SYMBOLS);
	expect_fail("unknown type kind", d, strlen(d), NULL, KHANG_ECORRUPT);
	d = make_doc(ISF_META("34404"), "1216", "\"State\":[1,2,3]", ISF_SYMBOLS);
	expect_fail("field is an array", d, strlen(d), NULL, KHANG_ECORRUPT);
	d = make_doc(ISF_META("34404"), "1216",
	             "\"Alertable\":{\"offset\":116,\"type\":{\"kind\":\"bitfield\",\"bit_position\":30,\"bit_length\":8,"
	             "\"type\":{\"kind\":\"base\",\"name\":\"unsigned long\"}}}",
	             ISF_SYMBOLS);
	expect_fail("bitfield past its unit", d, strlen(d), NULL, KHANG_ECORRUPT);
	d = make_doc(ISF_META("34404"), "1216",
	             "\"Alertable\":{\"offset\":116,\"type\":{\"kind\":\"bitfield\",\"bit_position\":0,\"bit_length\":0,"
	             "\"type\":{\"kind\":\"base\",\"name\":\"unsigned long\"}}}",
	             ISF_SYMBOLS);
	expect_fail("zero-length bitfield", d, strlen(d), NULL, KHANG_ECORRUPT);
	d = make_doc(ISF_META("34404"), "1216",
	             "\"WaitBlock\":{\"offset\":0,\"type\":{\"kind\":\"array\",\"count\":1000000000,"
	             "\"subtype\":{\"kind\":\"base\",\"name\":\"unsigned long\"}}}",
	             ISF_SYMBOLS);
	expect_fail("huge array", d, strlen(d), NULL, KHANG_ECORRUPT);
	d = make_doc(ISF_META("34404"), "1216",
	             "\"WaitBlock\":{\"offset\":0,\"type\":{\"kind\":\"array\",\"count\":400,"
	             "\"subtype\":{\"kind\":\"base\",\"name\":\"unsigned long\"}}}",
	             ISF_SYMBOLS);
	expect_fail("array past struct end", d, strlen(d), NULL, KHANG_ECORRUPT);
	/* array of array of ... deeper than the type limit */
	{
		static char fields[4096];
		char *p = fields;
		p += sprintf(p, "\"WaitBlock\":{\"offset\":0,\"type\":");
		for (int i = 0; i < 20; i++)
			p += sprintf(p, "{\"kind\":\"array\",\"count\":1,\"subtype\":");
		p += sprintf(p, "{\"kind\":\"base\",\"name\":\"unsigned char\"}");
		for (int i = 0; i < 20; i++)
			*p++ = '}';
		*p++ = '}';
		*p = '\0';
		d = make_doc(ISF_META("34404"), "1216", fields, ISF_SYMBOLS);
		expect_fail("deep type nesting", d, strlen(d), NULL, KHANG_ECORRUPT);
	}
	d = make_doc(ISF_META("43620"), "1216", KT_STATE, ISF_SYMBOLS);
	expect_fail("arm64", d, strlen(d), NULL, KHANG_EUNSUPPORTED);
	d = make_doc(ISF_META("\"x\""), "1216", KT_STATE, ISF_SYMBOLS);
	expect_fail("machine type string", d, strlen(d), NULL, KHANG_ECORRUPT);
	d = make_doc(ISF_META("332"), "1216", KT_STATE, ISF_SYMBOLS);
	expect_fail("x86 with 8-byte pointers", d, strlen(d), NULL, KHANG_ECORRUPT);
	d = make_doc("\"metadata\":{\"windows\":{\"pdb\":{\"GUID\":\"xyz\",\"age\":1}}}", "1216", KT_STATE, ISF_SYMBOLS);
	expect_fail("malformed GUID", d, strlen(d), NULL, KHANG_ECORRUPT);
	d = make_doc(ISF_META("34404"), "1216", KT_STATE, "\"symbols\":{\"A\":{\"address\":\"0x10\"}}");
	expect_fail("symbol address string", d, strlen(d), NULL, KHANG_ECORRUPT);
	d = make_doc(ISF_META("34404"), "1216", KT_STATE, "\"symbols\":{\"A\":{\"address\":1099511627776}}");
	expect_fail("symbol address > 4 GiB", d, strlen(d), NULL, KHANG_ECORRUPT);
	d = make_doc(ISF_META("34404"), "1216", KT_STATE, "\"symbols\":{\"A\":{\"address\":-5}}");
	expect_fail("negative symbol address", d, strlen(d), NULL, KHANG_ECORRUPT);
	d = make_doc(ISF_META("34404"), "1216", KT_STATE, "\"symbols\":{\"A\":7}");
	expect_fail("symbol not an object", d, strlen(d), NULL, KHANG_ECORRUPT);
	d = make_doc(ISF_META("34404"), "1216", KT_STATE, "\"symbols\":[]");
	expect_fail("symbols array", d, strlen(d), NULL, KHANG_ECORRUPT);

	/* enum constants of the wrong type */
	{
		int n = snprintf(docbuf, sizeof(docbuf),
		                 "{" ISF_META("34404") "," ISF_BASE ",\"user_types\":{},"
		                 "\"enums\":{\"_KWAIT_REASON\":{\"size\":1,\"constants\":{\"A\":\"1\"}}}}");
		assert_true(n > 0);
		expect_fail("enum constant string", docbuf, strlen(docbuf), NULL, KHANG_ECORRUPT);
	}

	/* deep JSON nesting */
	{
		char *p = deep;
		p += sprintf(p, "{\"user_types\":");
		for (int i = 0; i < 100; i++)
			*p++ = '[';
		for (int i = 0; i < 100; i++)
			*p++ = ']';
		*p++ = '}';
		*p = '\0';
		expect_fail("deep JSON nesting", deep, strlen(deep), NULL, KHANG_EFORMAT);
	}

	/* limits */
	d = good_doc();
	kh_isf_options small = { "small", 0, 64, 0 };
	expect_fail("input over the limit", d, strlen(d), &small, KHANG_ELIMIT);
	kh_isf_options smalljson = { "smalljson", 0, 0, 64 };
	expect_fail("JSON over the limit", d, strlen(d), &smalljson, KHANG_ELIMIT);
	kh_isf_options bomb = { "bomb.json.xz", 0, 0, (size_t)1 << 20 };
	int rc = kh_layout_load_isf_memory(NULL, NULL, xz_bomb, sizeof(xz_bomb), &bomb);
	assert_int_equal(rc, KHANG_EINVAL);
	kh_layout *l = NULL;
	rc = kh_layout_load_isf_memory(&l, NULL, xz_bomb, sizeof(xz_bomb), &bomb);
	if (rc == KHANG_EUNSUPPORTED) {
		printf("  (xz cases skipped: %s)\n", khang_error_last());
	} else {
		expect_fail("xz bomb", xz_bomb, sizeof(xz_bomb), &bomb, KHANG_ELIMIT);
		expect_fail("truncated xz", xz_bomb, 100, NULL, KHANG_ECORRUPT);
		uint8_t damaged[sizeof(xz_bomb)];
		memcpy(damaged, xz_bomb, sizeof(damaged));
		damaged[40] ^= 0x55;
		expect_fail("damaged xz", damaged, sizeof(damaged), NULL, KHANG_ECORRUPT);
		/* 2 MiB of spaces is not a JSON document */
		expect_fail("xz of blanks", xz_bomb, sizeof(xz_bomb), NULL, KHANG_EFORMAT);
	}
}

static void test_isf_alloc_failures(void **state)
{
	(void)state;
	if (!have_isf_support())
		skip();
	const char *d = good_doc();
	int n;
	for (n = 0; n < 1000; n++) {
		fail_alloc fa = { n, 0, 0 };
		khang_allocator hooks = FAIL_ALLOC_HOOKS(fa);
		kh_alloc a;
		kh_layout *l = NULL;
		assert_int_equal(kh_alloc_init(&a, &hooks), 0);
		int rc = kh_layout_load_isf_memory(&l, &a, d, strlen(d), NULL);
		if (rc == 0) {
			check_invariants(l);
			kh_layout_free(l);
			assert_int_equal(fa.live, 0);
			break;
		}
		assert_int_equal(rc, KHANG_ENOMEM);
		assert_null(l);
		if (fa.live != 0)
			fail_msg("allocation %d failed: %ld blocks leaked", n, fa.live);
	}
	printf("load succeeded once %d allocations were allowed\n", n);
	assert_true(n > 3 && n < 1000);
}

/* ---- the built-in tables against the ISF files they came from ----------------- */

static const char *shared_dir(void)
{
	const char *dir = getenv("KHANG_SHARED_DIR");
	static char probe[1024];
	if (dir == NULL || *dir == '\0') {
		printf("skipped: KHANG_SHARED_DIR is not set\n");
		return NULL;
	}
	snprintf(probe, sizeof(probe), "%s/layouts/isf/symbols/windows/ntkrnlmp.pdb", dir);
	FILE *f = fopen(probe, "r");
	if (f == NULL) {
		printf("skipped: %s not found\n", probe);
		return NULL;
	}
	fclose(f);
	return dir;
}

static void compare_layouts(const kh_layout *isf, const kh_layout *builtin, bool symbols)
{
	kh_layout_info a, b;
	kh_layout_get_info(isf, &a);
	kh_layout_get_info(builtin, &b);
	assert_int_equal(a.arch, b.arch);
	assert_int_equal(a.pae, b.pae);
	assert_int_equal(a.build, b.build);
	assert_int_equal(a.qfe, b.qfe);
	for (int f = 0; f < KH_FIELD_COUNT; f++) {
		const kh_field *x = kh_layout_field(isf, (kh_field_id)f);
		const kh_field *y = kh_layout_field(builtin, (kh_field_id)f);
		if (memcmp(x, y, sizeof(*x)) != 0)
			fail_msg("%s: %s ISF {0x%x,%u,%u,%u,%u} built-in {0x%x,%u,%u,%u,%u}", b.description,
			         kh_field_name((kh_field_id)f), x->offset, x->size, x->kind, x->bit_pos, x->bit_len,
			         y->offset, y->size, y->kind, y->bit_pos, y->bit_len);
	}
	for (int s = 0; s < KH_STRUCT_COUNT; s++) {
		if (kh_layout_struct_size(isf, (kh_struct_id)s) != kh_layout_struct_size(builtin, (kh_struct_id)s))
			fail_msg("%s: size of %s", b.description, kh_struct_name((kh_struct_id)s));
	}
	for (int e = 0; e < KH_ENUM_COUNT; e++) {
		for (int64_t v = 0; v < 64; v++) {
			const char *x = kh_layout_enum_name(isf, (kh_enum_id)e, v);
			const char *y = kh_layout_enum_name(builtin, (kh_enum_id)e, v);
			if ((x == NULL) != (y == NULL) || (x && strcmp(x, y) != 0))
				fail_msg("%s: enum %d value %lld: %s / %s", b.description, e, (long long)v, x ? x : "-",
				         y ? y : "-");
		}
	}
	if (!symbols)
		return;
	for (int g = 0; g < KH_GLOBAL_COUNT; g++)
		assert_int_equal(kh_layout_global_rva(isf, (kh_global_id)g), kh_layout_global_rva(builtin, (kh_global_id)g));
	for (int f = 0; f < KH_FN_COUNT; f++) {
		uint32_t r1 = 0, s1 = 0, r2 = 0, s2 = 0;
		bool p1 = kh_layout_function(isf, (kh_fn_id)f, &r1, &s1);
		bool p2 = kh_layout_function(builtin, (kh_fn_id)f, &r2, &s2);
		if (p1 != p2 || r1 != r2 || s1 != s2)
			fail_msg("%s: %s ISF %d 0x%x+0x%x built-in %d 0x%x+0x%x", b.description, kh_fn_name((kh_fn_id)f),
			         p1, r1, s1, p2, r2, s2);
		if (p2) {
			/* both resolve the function's middle to the same name */
			kh_symbol x, y;
			uint32_t ox, oy;
			uint32_t mid = r2 + s2 / 2;
			assert_int_equal(kh_layout_symbol_at(builtin, mid, &y, &oy), 0);
			assert_int_equal(kh_layout_symbol_at(isf, mid, &x, &ox), 0);
			if (strcmp(x.name, y.name) != 0 && x.rva != y.rva)
				fail_msg("%s: 0x%x is %s in the ISF, %s built in", b.description, mid, x.name, y.name);
		}
	}
}

static void test_builtin_matches_isf_x64(void **state)
{
	static const char *const sample[] = {
		"339E74133576439CBCDF7E0229DA3773-1", /* 7601.24540 */
		"B3E18239FF83427FBBCA75184BDE8388-1", /* 9600.20173 */
		"169C65213E3E42DDBEB4E3AC66312B82-1", /* 9600.21620 */
		"DBBC830E3E9A48FDA25A2144C146930E-1", /* 14393.6343 */
		"8B11040A5928757B11390AC78F6B6925-1", /* 17763.379 */
		"1806D020A6E46538D7AC3325FAC114D8-1", /* 17763.5933 */
		"616A94E33A4827B451B0E19C14C03792-1", /* 18362.535 (1909) */
		"DCA4AD4BEEB4746D48F84C0125019E43-1", /* 18362.836 */
		"5278AFF86C341677D7D7835C85B7B844-1", /* 19041.804, the triage dump's kernel */
		"606FF669409B00F7FC8C61A9C1670129-1", /* 19041.3570 */
		"879AD95F3461091BB6318FA98072AD8E-1", /* 20348.2529 */
		"32C1A669D5FFEFD41091F636CFDB6E99-1", /* 22000.318 */
		"0CE4A95C0CD782A7596B034D8648E585-1", /* 22000.2538 */
	};
	(void)state;
	const char *dir = shared_dir();
	if (dir == NULL)
		skip();
	if (!have_isf_support())
		skip();
	for (size_t i = 0; i < KH_ARRAY_SIZE(sample); i++) {
		char path[1024];
		kh_layout *l = NULL;
		snprintf(path, sizeof(path), "%s/layouts/isf/symbols/windows/ntkrnlmp.pdb/%s.json.xz", dir, sample[i]);
		int rc = kh_layout_load_isf_file(&l, NULL, path, NULL);
		if (rc != 0)
			fail_msg("%s: %s", path, khang_error_last());
		check_invariants(l);
		char guid[33];
		memcpy(guid, sample[i], 32);
		guid[32] = '\0';
		const kh_layout *b = kh_layout_builtin_by_guid_string(guid, 1);
		assert_non_null(b);
		compare_layouts(l, b, true);
		printf("  %s %-16s %zu symbols: matches\n", sample[i], khang_layout_description(b),
		       kh_layout_symbol_count(l));
		kh_layout_free(l);
	}
}

static void test_builtin_matches_isf_x86(void **state)
{
	static const struct {
		const char *file;
		uint32_t build;
		int pae;
	} sample[] = {
		{ "Win7SP0x86", 7600, 0 },
		{ "Win7SP1x86_23418", 7601, 0 },
		{ "Win7SP1x86_24000", 7601, 1 },
		{ "Win81U1x86", 9600, 1 },
		{ "Win10x86_10586", 10586, 1 },
		{ "Win10x86_19041", 19041, 1 },
	};
	(void)state;
	const char *dir = shared_dir();
	if (dir == NULL)
		skip();
	if (!have_isf_support())
		skip();
	for (size_t i = 0; i < KH_ARRAY_SIZE(sample); i++) {
		char path[1024];
		char origin[64];
		kh_layout *l = NULL;
		snprintf(path, sizeof(path), "%s/layouts/x86/%s.json.xz", dir, sample[i].file);
		int rc = kh_layout_load_isf_file(&l, NULL, path, NULL);
		if (rc != 0)
			fail_msg("%s: %s", path, khang_error_last());
		check_invariants(l);
		snprintf(origin, sizeof(origin), " %s", sample[i].file);
		const kh_layout *b = x86_layout(sample[i].build, sample[i].pae, origin);
		compare_layouts(l, b, false);
		printf("  %-18s %s: matches\n", sample[i].file, khang_layout_description(b));
		kh_layout_free(l);
	}
}

static void test_isf_triage_symbols(void **state)
{
	(void)state;
	const char *dir = shared_dir();
	if (dir == NULL)
		skip();
	if (!have_isf_support())
		skip();
	char path[1024];
	khang_layout *l = NULL;
	snprintf(path, sizeof(path), "%s/layouts/isf/symbols/windows/ntkrnlmp.pdb/5278AFF86C341677D7D7835C85B7B844-1.json.xz",
	         dir);
	assert_int_equal(khang_layout_load_isf(&l, path), 0);
	assert_string_equal(khang_layout_description(l), "ISF 5278AFF86C341677D7D7835C85B7B844-1.json.xz: 10.0.19041.804 x64");
	kh_symbol s;
	uint32_t o;
	/* functions outside the built-in list are named from the full table */
	assert_int_equal(kh_fn_lookup("RtlVirtualUnwind"), -1);
	assert_int_equal(kh_layout_symbol_by_name(l, "RtlVirtualUnwind", &s), 0);
	assert_true(s.size > 0x10);
	uint32_t unwind = s.rva;
	assert_int_equal(kh_layout_symbol_at(l, unwind + 0x10, &s, &o), 0);
	assert_string_equal(s.name, "RtlVirtualUnwind");
	assert_int_equal(o, 0x10);
	assert_int_equal(s.fn, -1);
	assert_int_equal(kh_layout_symbol_at(l, UINT64_C(0xfffff8047bdfe942) - TRIAGE_BASE, &s, &o), 0);
	assert_string_equal(s.name, "RtlpExecuteHandlerForException");
	assert_int_equal(o, 0x12);
	assert_int_equal(s.fn, KH_FN_RtlpExecuteHandlerForException);
	assert_int_equal(kh_layout_symbol_at(l, UINT64_C(0xfffff8047bdcc052) - TRIAGE_BASE, &s, &o), 0);
	assert_string_equal(s.name, "__C_specific_handler");
	assert_int_equal(o, 0xa2);
	assert_int_equal(kh_layout_symbol_at(l, UINT64_C(0xfffff8047bdfd0d8) - TRIAGE_BASE, &s, &o), 0);
	assert_string_equal(s.name, "KiStartSystemThread");
	assert_int_equal(o, 0x28);
	/* frame 1 of the README's stack lies in a range without public symbols */
	assert_int_equal(kh_layout_symbol_at(l, UINT64_C(0xfffff8047be0f4e1) - TRIAGE_BASE, &s, &o), KHANG_ENOTFOUND);
	assert_int_equal(kh_layout_symbol_by_name(l, "PsLoadedModuleList", &s), 0);
	assert_int_equal(s.rva, UINT64_C(0xfffff8047c62a390) - TRIAGE_BASE);
	assert_true(khang_layout_symbol_count(l) > 30000);
	khang_layout_free(l);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_builtin_index),
		cmocka_unit_test(test_known_offsets),
		cmocka_unit_test(test_triage_kernel),
		cmocka_unit_test(test_candidates),
		cmocka_unit_test(test_enums),
		cmocka_unit_test(test_get_field_values),
		cmocka_unit_test(test_isf_minimal),
		cmocka_unit_test(test_isf_malformed),
		cmocka_unit_test(test_isf_alloc_failures),
		cmocka_unit_test(test_builtin_matches_isf_x64),
		cmocka_unit_test(test_builtin_matches_isf_x86),
		cmocka_unit_test(test_isf_triage_symbols),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

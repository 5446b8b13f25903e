/* Writes the seed corpus of fuzz_kernel: small kernel dumps laid out by
 * fg_kernel (x64 by GUID, x86 PAE by build). usage: mk_kernel_corpus DIR */
#include <stdio.h>
#include <stdlib.h>

#include "fg_kernel.h"
#include "fg_triage.h"

static int write_one(const char *dir, const char *name, const kh_layout *l, fg_arch arch, bool encode)
{
	char path[1024];
	fg_forge *f = fg_new(arch, 8192);
	fg_kernel_opts o = { 0 };
	o.ncpus = 1;
	o.encode_kdbg = encode;
	fg_kernel *k = fg_kernel_new(f, l, &o);
	uint64_t p = fg_kernel_add_process(k, "explorer.exe", 3000, 600);
	fg_kernel_add_thread(k, p, 3004);
	fg_kernel_add_module(k, "TmXPFlt.sys", fg_kernel_base(k) + 0x4000000, 0x80000);
	fg_kernel_add_unloaded(k, "dam.sys", fg_kernel_base(k) + 0x5000000, fg_kernel_base(k) + 0x501c000, 0x01d7000000000000ull);
	fg_write_opts wo = FG_WRITE_OPTS_INIT;
	wo.format = FG_FMT_BITMAP_KERNEL;
	wo.kernel_only = 1;
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	int rc = fg_write_file(f, path, &wo);
	if (rc)
		fprintf(stderr, "%s: %s\n", path, fg_error(f));
	fg_kernel_free(k);
	fg_free(f);
	return rc != 0;
}

/* A small triage dump of the same kernel (the copies, a few data blocks). */
static int write_triage(const char *dir, const char *name, const kh_layout *l, fg_arch arch)
{
	char path[1024];
	bool x64 = arch == FG_X64;
	fg_forge *f = fg_new(arch, 8192);
	fg_kernel_opts o = { 0 };
	o.ncpus = 1;
	fg_kernel *k = fg_kernel_new(f, l, &o);
	uint64_t p = fg_kernel_add_process(k, "explorer.exe", 3000, 600);
	uint64_t t = fg_kernel_add_thread(k, p, 3004);
	fg_kernel_set_current(k, 0, t);
	uint64_t stack = fg_kernel_alloc(k, 0x1000);
	fg_triage_range blocks[] = { { fg_kernel_global(k, KH_G_KiProcessorBlock), x64 ? 8 : 4 },
		                     { fg_kernel_base(k), 0x1000 } };
	fg_triage_driver drivers[] = { { "\\SystemRoot\\system32\\ntoskrnl.exe", fg_kernel_base(k), 0x800000, 1 } };
	fg_triage_opts to = { 0 };
	to.prcb.va = fg_kernel_prcb(k, 0);
	to.prcb.size = kh_layout_struct_size(l, KH_S_KPRCB);
	to.process.va = p;
	to.process.size = kh_layout_struct_size(l, KH_S_EPROCESS);
	to.thread.va = t;
	to.thread.size = kh_layout_struct_size(l, KH_S_ETHREAD);
	to.stack.va = stack + 0x800;
	to.stack.size = 0x800;
	to.kdbg.va = fg_kernel_global(k, KH_G_KdDebuggerDataBlock);
	to.kdbg.size = 0x340;
	to.blocks = blocks;
	to.nblocks = 2;
	to.drivers = drivers;
	to.ndrivers = 1;
	fg_triage_driver unloaded[] = { { "WdBoot.sys", fg_kernel_base(k) + 0x5000000, 0x12000, 0 } };
	to.unloaded = unloaded;
	to.nunloaded = 1;
	uint8_t *img;
	size_t len;
	int bad = fg_triage_write(f, &to, &img, &len) != 0;
	if (!bad) {
		snprintf(path, sizeof(path), "%s/%s", dir, name);
		FILE *out = fopen(path, "wb");
		bad = !out || fwrite(img, 1, len, out) != len;
		if (out)
			bad |= fclose(out) != 0;
		free(img);
	}
	fg_kernel_free(k);
	fg_free(f);
	return bad;
}

int main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: %s DIR\n", argv[0]);
		return 2;
	}
	int bad = 0;
	const kh_layout *x64 = kh_layout_builtin_by_guid_string("5278AFF86C341677D7D7835C85B7B844", 1);
	kh_layout_candidate c[4];
	size_t n = kh_layout_builtin_candidates(KHANG_ARCH_X86, 7601, 1, c, 4);
	if (!x64 || n == 0) {
		fprintf(stderr, "built-in layouts missing\n");
		return 1;
	}
	bad |= write_one(argv[1], "x64_19041", x64, FG_X64, false);
	bad |= write_one(argv[1], "x64_19041_encoded_kdbg", x64, FG_X64, true);
	bad |= write_one(argv[1], "x86pae_7601", c[0].layout, FG_X86_PAE, false);
	bad |= write_triage(argv[1], "triage_x64_19041", x64, FG_X64);
	bad |= write_triage(argv[1], "triage_x86pae_7601", c[0].layout, FG_X86_PAE);
	return bad;
}

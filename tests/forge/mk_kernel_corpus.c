/* Writes the seed corpus of fuzz_kernel: small kernel dumps laid out by
 * fg_kernel (x64 by GUID, x86 PAE by build). usage: mk_kernel_corpus DIR */
#include <stdio.h>
#include <stdlib.h>

#include "fg_kernel.h"

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
	return bad;
}

/*
 * mk_sample FILE: writes the bundled sample dump: an x64 Windows 10 (19041)
 * kernel laid out with the real built-in layout of ntkrnlmp.pdb
 * 5278AFF86C341677D7D7835C85B7B844-1, four processors, a few processes of
 * the seed case (svchost.exe, explorer.exe) and the drivers it involves
 * (FLTMGR.SYS, TmXPFlt.sys), as a kernel bitmap dump (DumpType 6).
 * Later issues add the threads, waits and ALPC ports of the seed case.
 */
#include <stdio.h>
#include <stdlib.h>

#include "fg_kernel.h"

int main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: %s FILE\n", argv[0]);
		return 2;
	}
	const kh_layout *l = kh_layout_builtin_by_guid_string("5278AFF86C341677D7D7835C85B7B844", 1);
	if (!l) {
		fprintf(stderr, "mk_sample: built-in layout missing\n");
		return 1;
	}
	fg_forge *f = fg_new(FG_X64, 1u << 20); /* 4 GiB of RAM */
	fg_kernel_opts o = { 0 };
	o.ncpus = 4;
	fg_kernel *k = fg_kernel_new(f, l, &o);
	uint64_t base = fg_kernel_base(k);
	fg_kernel_add_module(k, "FLTMGR.SYS", base + 0x3000000, 0x7e000);
	fg_kernel_add_module(k, "TmXPFlt.sys", base + 0x3100000, 0x1f0000);
	uint64_t smss = fg_kernel_add_process(k, "smss.exe", 340, 4);
	fg_kernel_add_thread(k, smss, 344);
	uint64_t svc = fg_kernel_add_process(k, "svchost.exe", 1044, 684);
	fg_kernel_add_thread(k, svc, 1048);
	fg_kernel_add_thread(k, svc, 5012);
	uint64_t exp = fg_kernel_add_process(k, "explorer.exe", 4232, 4200);
	fg_kernel_add_thread(k, exp, 4236);
	fg_header *h = fg_header_of(f);
	h->bugcheck_code = 0xE2; /* MANUALLY_INITIATED_CRASH: a hang forced to a dump */
	for (int i = 0; i < 4; i++)
		h->bugcheck_params[i] = 0;
	snprintf(h->comment, sizeof(h->comment), "libkhang sample dump (synthetic)");
	fg_write_opts wo = FG_WRITE_OPTS_INIT;
	wo.format = FG_FMT_BITMAP_KERNEL;
	wo.kernel_only = 1;
	int rc = fg_write_file(f, argv[1], &wo);
	if (rc)
		fprintf(stderr, "mk_sample: %s\n", fg_error(f));
	fg_kernel_free(k);
	fg_free(f);
	return rc != 0;
}

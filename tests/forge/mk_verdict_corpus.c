/* Writes the seed corpus of fuzz_verdict: small dumps of the hang scenarios
 * (deadlock, mutant chain, ERESOURCE chain, CPU starvation, a DPC watchdog
 * violation with its stack, a power IRP held by a driver, reads pending in
 * the disk stack, the PnP lock held by a thread blocked in a driver) on x64
 * Windows 10
 * and x86 Windows 7 PAE. usage: mk_verdict_corpus DIR */
#include <stdio.h>
#include <stdlib.h>

#include "fg_scenario.h"

static int write(const char *dir, const char *name, const kh_layout *l, fg_arch arch, int which)
{
	char path[1024];
	fg_forge *f = fg_new(arch, 8192);
	fg_kernel_opts o = { 0 };
	o.ncpus = which == 3 || which == 4 ? 2 : 1;
	fg_kernel *k = fg_kernel_new(f, l, &o);
	uint64_t t[3];
	switch (which) {
	case 0: fg_scn_deadlock(k, 100000, 1236, t); break;
	case 1: fg_scn_mutant_chain(k, 100000, 800, t); break;
	case 2: fg_scn_eresource(k, 100000, 900, 0, t); break;
	case 3: fg_scn_starvation(k, 100000, 2); break;
	case 4: {
		static const uint64_t p[4] = { 0, 0x501, 0x500, 0 };
		fg_scn_dpc_watchdog(f, k, p, true, true, NULL);
		break;
	}
	case 5: fg_scn_power_irp(f, k, true, true); break;
	case 6: fg_scn_storage(k, 100000, 5); break;
	default: fg_scn_pnp_lock(f, k, 100000, 5); break;
	}
	if (which < 4 || which == 6)
		fg_header_of(f)->bugcheck_code = 0xE2;
	fg_write_opts wo = FG_WRITE_OPTS_INIT;
	wo.format = FG_FMT_BITMAP_KERNEL;
	wo.kernel_only = 1;
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	int rc = fg_write_file(f, path, &wo);
	fg_kernel_free(k);
	fg_free(f);
	return rc != 0;
}

int main(int argc, char **argv)
{
	static const char *names[] = { "deadlock", "mutant_chain", "eresource", "starvation", "dpc_watchdog",
		                       "power_irp", "storage", "pnp_lock" };
	char name[64];
	int bad = 0;
	kh_layout_candidate c[4];
	if (argc != 2) {
		fprintf(stderr, "usage: %s DIR\n", argv[0]);
		return 2;
	}
	const kh_layout *x64 = kh_layout_builtin_by_guid_string("5278AFF86C341677D7D7835C85B7B844", 1);
	if (!x64 || !kh_layout_builtin_candidates(KHANG_ARCH_X86, 7601, 1, c, 4))
		return 1;
	for (int i = 0; i < 8; i++) {
		snprintf(name, sizeof(name), "x64_%s", names[i]);
		bad |= write(argv[1], name, x64, FG_X64, i);
	}
	bad |= write(argv[1], "x86pae_deadlock", c[0].layout, FG_X86_PAE, 0);
	bad |= write(argv[1], "x86pae_power_irp", c[0].layout, FG_X86_PAE, 5);
	return bad;
}

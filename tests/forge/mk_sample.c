/*
 * mk_sample FILE: writes the bundled sample dump, the logoff hang of the
 * seed notes (tests/forge/fg_seed.h) on the real built-in layout of Windows
 * 10 2004 x64, as a kernel bitmap dump (DumpType 6). `khang analyze` on it
 * names TmXPFlt.sys, explorer.exe's main thread and the svchost.exe thread.
 */
#include <stdio.h>

#include "fg_seed.h"

int main(int argc, char **argv)
{
	fg_seed sd;
	if (argc != 2) {
		fprintf(stderr, "usage: %s FILE\n", argv[0]);
		return 2;
	}
	if (fg_seed_new(&sd) != 0) {
		fprintf(stderr, "mk_sample: built-in layout missing\n");
		return 1;
	}
	fg_write_opts wo = FG_WRITE_OPTS_INIT;
	wo.format = FG_FMT_BITMAP_KERNEL;
	wo.kernel_only = 1;
	int rc = fg_write_file(sd.f, argv[1], &wo);
	if (rc)
		fprintf(stderr, "mk_sample: %s\n", fg_error(sd.f));
	fg_free(sd.f);
	return rc != 0;
}

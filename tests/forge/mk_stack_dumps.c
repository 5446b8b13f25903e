/*
 * mk_stack_dumps DIR: the dumps of the khang CLI's stack golden tests and the
 * Python binding tests (fg_stack_sample):
 * - stacks_x64.dmp: Windows 10 2004 x64; app.exe with a user address space
 *   (ntdll.dll on its loader list); three system threads waiting with the
 *   same stack through filter.sys, one waiting with another; a thread in a
 *   system call (user frames, KTRAP_FRAME); a thread running on processor
 *   1 (the dump header's context); a thread whose stack goes through a
 *   driver without unwind data (scanned frames).
 * - stacks_x86.dmp: Windows 7 SP1 x86 PAE; two threads with the same
 *   stack, one in a system call.
 */
#include <stdio.h>
#include <stdlib.h>

#include "fg_stack.h"

static int write_dump(fg_forge *f, const char *dir, const char *name)
{
	char path[1024];
	fg_write_opts wo = FG_WRITE_OPTS_INIT;
	wo.format = FG_FMT_BITMAP_KERNEL;
	wo.kernel_only = 1;
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	if (fg_write_file(f, path, &wo) != 0) {
		fprintf(stderr, "mk_stack_dumps: %s: %s\n", path, fg_error(f));
		return 1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: mk_stack_dumps DIR\n");
		return 2;
	}
	char cmd[1100];
	snprintf(cmd, sizeof(cmd), "mkdir -p '%s'", argv[1]);
	if (system(cmd) != 0)
		return 1;
	int rc = 0;
	static const char *const names[FG_STACK_SAMPLES] = { "stacks_x64.dmp", "stacks_x86.dmp" };
	for (int i = 0; i < FG_STACK_SAMPLES; i++) {
		fg_forge *f = fg_stack_sample(i);
		if (!f) {
			fprintf(stderr, "mk_stack_dumps: cannot build %s\n", names[i]);
			return 1;
		}
		rc |= write_dump(f, argv[1], names[i]);
		fg_free(f);
	}
	return rc;
}

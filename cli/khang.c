/* khang: Windows kernel memory dump hang analysis from the command line. */
#include <stdio.h>
#include <string.h>

#include "cli.h"

typedef struct command {
	const char *name;
	int (*run)(const cli_opts *o);
	const char *args;
	const char *help;
} command;

static const command commands[] = {
	{ "analyze", cmd_analyze, "DUMP", "why the system hangs: verdict, evidence, checks (--dot FILE, --long-wait MS)" },
	{ "info", cmd_info, "DUMP", "dump header, kernel, layout and its validation" },
	{ "modules", cmd_modules, "DUMP", "loaded kernel modules (like lm)" },
	{ "cpus", cmd_cpus, "DUMP", "processors and what runs on them (like !cpuinfo, !running)" },
	{ "ready", cmd_ready, "DUMP", "threads in the ready queues (like !ready)" },
	{ "pcr", cmd_pcr, "DUMP N", "processor N's KPCR (like !pcr)" },
	{ "prcb", cmd_prcb, "DUMP N", "processor N's KPRCB and saved registers (like !prcb)" },
	{ "ps", cmd_ps, "DUMP", "active processes (like !process 0 0, !mex.p)" },
	{ "threads", cmd_threads, "DUMP [-p P]", "threads, of process P (PID or name) (like !mex.lt)" },
	{ "thread", cmd_thread, "DUMP ADDR", "one thread and what it waits on (like !thread)" },
	{ "irp", cmd_irp, "DUMP ADDR", "an IRP, its stack locations and their drivers (like !irp)" },
	{ "stack", cmd_stack, "DUMP THREAD", "a thread's call stack (like kn)" },
	{ "stacks", cmd_stacks, "DUMP [OPTS]", "all stacks; --unique groups them (like !us, !mex.us); -p P, --module M, --symbol S" },
	{ "alpc", cmd_alpc, "DUMP [-p P]", "ALPC ports, of process P (like !alpc /lpp); --waits: ALPC waits (like !lpcwait)" },
};

static void usage(FILE *f)
{
	fprintf(f, "usage: khang COMMAND [--json] [-v] [--isf FILE] DUMP [ARGS]\n\n"
	           "Reads a Windows kernel memory dump (complete, kernel, automatic/active,\n"
	           "triage; x64 and x86) and tells why the system hung.\n\ncommands:\n");
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		fprintf(f, "  %-10s %-12s %s\n", commands[i].name, commands[i].args, commands[i].help);
	fprintf(f, "\noptions:\n"
	           "  --json      one JSON document on stdout (with a \"schema\" version)\n"
	           "  -v          more detail\n"
	           "  --isf FILE  kernel layout (Volatility 3 ISF .json/.json.xz) for a kernel\n"
	           "              the built-in tables do not know\n"
	           "  --image-path DIRS  module images (for unwinding) and PDBs (for names): ':'-\n"
	           "              separated directories, flat or symbol stores (name/TIMESTAMPSIZE/name)\n"
	           "  --version   print the version\n\n"
	           "exit status: 0 success, 2 error (bad arguments or unreadable dump)\n");
}

int main(int argc, char **argv)
{
	cli_opts o = { 0 };
	const command *cmd = NULL;
	int i = 1;

	if (argc >= 2 && (strcmp(argv[1], "--version") == 0 || strcmp(argv[1], "version") == 0)) {
		printf("khang %s\n", khang_version(NULL, NULL, NULL));
		return 0;
	}
	if (argc >= 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "help") == 0)) {
		usage(stdout);
		return 0;
	}
	if (argc < 2) {
		usage(stderr);
		return 2;
	}
	for (size_t c = 0; c < sizeof(commands) / sizeof(commands[0]); c++)
		if (strcmp(argv[1], commands[c].name) == 0)
			cmd = &commands[c];
	if (!cmd) {
		fprintf(stderr, "khang: unknown command '%s' (see khang --help)\n", argv[1]);
		return 2;
	}
	for (i = 2; i < argc; i++) {
		if (strcmp(argv[i], "--json") == 0)
			o.json = true;
		else if (strcmp(argv[i], "-v") == 0)
			o.verbose = true;
		else if (strcmp(argv[i], "--isf") == 0 && i + 1 < argc)
			o.isf = argv[++i];
		else if (strcmp(argv[i], "--image-path") == 0 && i + 1 < argc)
			o.image_path = argv[++i];
		else if (!o.dump)
			o.dump = argv[i];
		else
			break;
	}
	if (!o.dump) {
		fprintf(stderr, "khang %s: no dump file given\n", cmd->name);
		return 2;
	}
	o.argc = argc - i;
	o.argv = argv + i;
	return cmd->run(&o);
}

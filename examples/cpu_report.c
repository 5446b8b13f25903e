/*
 * cpu_report: each processor, whether it is idle or busy, what runs on it,
 * and how many threads wait in its ready queues (WinDbg's !running and
 * !ready, in short).
 *
 *   usage: cpu_report MEMORY.DMP
 *
 * A hang with busy processors and long ready queues is CPU starvation; one
 * with idle processors is a wait (see the verdict example).
 */
#include <inttypes.h>
#include <stdio.h>

#include <khang.h>

int main(int argc, char **argv)
{
	khang_source *src = NULL;
	khang_processor_iter *it = NULL;
	const khang_processor *cpu;
	unsigned busy = 0, total = 0;
	int rc;

	if (argc != 2) {
		fprintf(stderr, "usage: %s MEMORY.DMP\n", argv[0]);
		return 2;
	}
	if (khang_source_open(&src, argv[1], NULL) < 0) {
		fprintf(stderr, "%s: %s\n", argv[1], khang_error_last());
		return 1;
	}
	/* Processors come from nt!KiProcessorBlock, in number order. */
	if (khang_processor_iter_new(&it, src) < 0) {
		fprintf(stderr, "processors: %s\n", khang_error_last());
		khang_source_free(src);
		return 1;
	}
	while ((rc = khang_processor_next(&cpu, it)) == 0) {
		const khang_thread *cur = NULL;
		const khang_process *proc = NULL;
		khang_ready_iter *rit;
		khang_ready_entry e = KHANG_READY_ENTRY_INIT; /* sets e.size */
		unsigned ready = 0;
		int idle = khang_processor_is_idle(cpu); /* 1, 0, or -1 unknown */

		total++;
		if (idle == 0)
			busy++;
		printf("processor %u: %s", khang_processor_index(cpu),
		       idle > 0 ? "idle" : idle == 0 ? "busy" : "unknown");

		/* The thread it runs (KPRCB.CurrentThread) and that thread's process. */
		if (khang_processor_thread(&cur, cpu, KHANG_PROCESSOR_CURRENT) == 0) {
			khang_thread_process(&proc, cur);
			printf(", running %s tid %" PRId64 " (thread %016" PRIx64 ")",
			       proc ? khang_process_name(proc) : "?", khang_thread_tid(cur),
			       khang_thread_address(cur));
		}

		/* Count its ready threads: its own queues and its shared queue. */
		if (khang_ready_iter_new(&rit, src, cpu) == 0) {
			while (khang_ready_next(&e, rit) == 0)
				ready++;
			khang_ready_iter_free(rit);
		}
		printf(", ready threads: %u\n", ready);
	}
	if (rc != KHANG_ITEROVER)
		fprintf(stderr, "processors: %s\n", khang_error_last());
	khang_processor_iter_free(it);

	printf("\nProcessors: %u, busy: %u, idle or unknown: %u\n", total, busy, total - busy);
	khang_source_free(src);
	return 0;
}

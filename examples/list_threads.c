/*
 * list_threads: every thread of a dump with its process, state, wait time
 * and wait reason (the view of WinDbg's !mex.lt).
 *
 *   usage: list_threads MEMORY.DMP [PID]
 *
 * Shows two nested iterators (processes, then each process's threads),
 * accessors that answer -1 / "Unknown" when the dump does not say, and
 * khang_format_duration() for wait times.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

#include <khang.h>

/* Print one thread as a table row. */
static void print_thread(const khang_process *p, const khang_thread *t)
{
	char wait[32];

	/* The wait time in ms (-1 when unknown) as "d:hh:mm:ss.mmm", or "-". */
	khang_format_duration(wait, sizeof(wait), khang_thread_wait_ms(t));
	printf("%-16.16s %6" PRId64 "  %016" PRIx64 " %6" PRId64 "  %-12s %14s  %s\n",
	       khang_process_name(p), khang_process_pid(p), khang_thread_address(t),
	       khang_thread_tid(t), khang_thread_state_name(t), wait,
	       khang_thread_wait_reason_name(t));
}

int main(int argc, char **argv)
{
	khang_source *src = NULL;
	khang_process_iter *pit = NULL;
	const khang_process *p;
	size_t count = 0;
	int rc;

	if (argc < 2) {
		fprintf(stderr, "usage: %s MEMORY.DMP [PID]\n", argv[0]);
		return 2;
	}
	/* Only this process when a PID is given (-1: all of them). */
	int64_t only_pid = argc > 2 ? (int64_t)strtoll(argv[2], NULL, 0) : -1;

	if (khang_source_open(&src, argv[1], NULL) < 0) {
		fprintf(stderr, "%s: %s\n", argv[1], khang_error_last());
		return 1;
	}
	/* Processes come from nt!PsActiveProcessHead. Like modules, processes
	 * and threads are borrowed from the source: never freed one by one. */
	if (khang_process_iter_new(&pit, src) < 0) {
		fprintf(stderr, "processes: %s\n", khang_error_last());
		khang_source_free(src);
		return 1;
	}
	printf("%-16s %6s  %-16s %6s  %-12s %14s  %s\n",
	       "Process", "PID", "Thread", "TID", "State", "Wait time", "Wait reason");
	while ((rc = khang_process_next(&p, pit)) == 0) {
		khang_thread_iter *tit;
		const khang_thread *t;

		if (only_pid >= 0 && khang_process_pid(p) != only_pid)
			continue;
		/* The threads of one process (pass NULL for every thread). */
		if (khang_thread_iter_new(&tit, src, p) < 0) {
			fprintf(stderr, "%s: threads: %s\n", khang_process_name(p), khang_error_last());
			continue;
		}
		while (khang_thread_next(&t, tit) == 0) {
			print_thread(p, t);
			count++;
		}
		khang_thread_iter_free(tit);
	}
	if (rc != KHANG_ITEROVER)
		fprintf(stderr, "processes: %s\n", khang_error_last());
	khang_process_iter_free(pit);

	printf("\nThread Count: %zu\n", count);
	khang_source_free(src);
	return 0;
}

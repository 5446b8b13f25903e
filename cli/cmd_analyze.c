/* khang analyze: the hang verdict, its evidence and the checks made. */
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static const char *status_word(khang_check_status s)
{
	switch (s) {
	case KHANG_CHECK_OK: return "ok";
	case KHANG_CHECK_FOUND: return "FOUND";
	default: return "-";
	}
}

int cmd_analyze(const cli_opts *o)
{
	const char *dot_file = NULL;
	khang_verdict_opts vo = KHANG_VERDICT_OPTS_INIT;
	for (int i = 0; i < o->argc; i++) {
		if (strcmp(o->argv[i], "--dot") == 0 && i + 1 < o->argc) {
			dot_file = o->argv[++i];
		} else if (strcmp(o->argv[i], "--long-wait") == 0 && i + 1 < o->argc) {
			vo.long_wait_ms = (uint32_t)strtoul(o->argv[++i], NULL, 10);
		} else {
			fprintf(stderr, "khang analyze: unknown argument '%s'\n", o->argv[i]);
			return 2;
		}
	}
	khang_source *src = cli_open(o);
	if (!src)
		return 2;
	khang_verdict *v;
	if (khang_hang_verdict(&v, src, &vo) < 0) {
		fprintf(stderr, "khang: %s\n", khang_error_last());
		cli_close(src);
		return 2;
	}
	khang_verdict_category cat = khang_verdict_get_category(v);
	int exit_code = (cat == KHANG_VERDICT_NO_HANG || cat == KHANG_VERDICT_UNKNOWN) ? 1 : 0;

	if (dot_file) {
		const char *dot = khang_verdict_dot(v);
		FILE *f = fopen(dot_file, "w");
		if (!dot || !f || fputs(dot, f) < 0) {
			fprintf(stderr, "khang: cannot write %s\n", dot_file);
			exit_code = 2;
		}
		if (f)
			fclose(f);
	}
	if (o->json) {
		const char *json = khang_verdict_json(v);
		if (!json) {
			fprintf(stderr, "khang: %s\n", khang_error_last());
			exit_code = 2;
		} else {
			printf("%s\n", json);
		}
		khang_verdict_free(v);
		cli_close(src);
		return exit_code;
	}

	printf("verdict:  %s (confidence %d%%)\n", khang_verdict_category_name(cat), khang_verdict_confidence(v));
	printf("summary:  %s\n", khang_verdict_summary(v));
	const khang_thread *ct = khang_verdict_culprit_thread(v);
	const khang_process *cp = khang_verdict_culprit_process(v);
	if (ct || cp || khang_verdict_culprit_module(v)[0]) {
		printf("culprit: ");
		if (ct)
			printf(" thread 0x%llx (TID %lld)", (unsigned long long)khang_thread_address(ct),
			       (long long)khang_thread_tid(ct));
		if (cp)
			printf(" process %s (PID %lld)", khang_process_name(cp), (long long)khang_process_pid(cp));
		if (khang_verdict_culprit_module(v)[0])
			printf(" module %s", khang_verdict_culprit_module(v));
		printf("\n");
	}
	if (khang_verdict_step_count(v)) {
		printf("\nevidence:\n");
		for (size_t i = 0; i < khang_verdict_step_count(v); i++) {
			khang_verdict_step st = KHANG_VERDICT_STEP_INIT;
			khang_verdict_step_at(&st, v, i);
			printf("  %zu. %s\n", i + 1, st.text);
		}
	}
	printf("\nchecks:\n");
	for (size_t i = 0; i < khang_verdict_check_count(v); i++) {
		khang_verdict_check c = KHANG_VERDICT_CHECK_INIT;
		khang_verdict_check_at(&c, v, i);
		printf("  %-9s %-6s %s\n", c.name, status_word(c.status), c.text);
	}
	if (khang_verdict_warning_count(v)) {
		printf("\nwarnings:\n");
		for (size_t i = 0; i < khang_verdict_warning_count(v); i++)
			printf("  %s\n", khang_verdict_warning(v, i));
	}
	if (o->verbose) {
		khang_kernel_info ki = KHANG_KERNEL_INFO_INIT;
		if (khang_source_kernel_info(&ki, src) == 0)
			printf("\nkernel:   %s, layout %s\n", ki.pdb_id[0] ? ki.pdb_id : "(no PDB id)", ki.layout_note);
		printf("graph:    %zu edges\n", khang_verdict_edge_count(v));
	}
	khang_verdict_free(v);
	cli_print_warnings(src);
	cli_close(src);
	return exit_code;
}

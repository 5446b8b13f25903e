/*
 * verdict: why did the system hang? Opens a dump, runs libkhang's hang
 * analysis and prints its answer: the category, a one-line summary, the
 * evidence chain (who waits on whom) and the checks that were made.
 *
 *   usage: verdict MEMORY.DMP
 *
 * This is what `khang analyze` prints, in a few lines of C.
 */
#include <inttypes.h>
#include <stdio.h>

#include <khang.h>

static const char *status_name(khang_check_status s)
{
	switch (s) {
	case KHANG_CHECK_OK: return "ok";
	case KHANG_CHECK_FOUND: return "FOUND";
	default: return "not run";
	}
}

int main(int argc, char **argv)
{
	khang_source *src = NULL;
	khang_verdict *v = NULL;

	if (argc != 2) {
		fprintf(stderr, "usage: %s MEMORY.DMP\n", argv[0]);
		return 2;
	}
	if (khang_source_open(&src, argv[1], NULL) < 0) {
		fprintf(stderr, "%s: %s\n", argv[1], khang_error_last());
		return 1;
	}

	/* Run every check (processors, ready queues, locks, waits, ALPC...).
	 * NULL options: the default thresholds. The verdict is ours to free. */
	if (khang_hang_verdict(&v, src, NULL) < 0) {
		fprintf(stderr, "verdict: %s\n", khang_error_last());
		khang_source_free(src);
		return 1;
	}

	khang_verdict_category cat = khang_verdict_get_category(v);
	printf("category:   %s\n", khang_verdict_category_name(cat));
	printf("summary:    %s\n", khang_verdict_summary(v));
	printf("confidence: %d%%\n", khang_verdict_confidence(v));
	if (*khang_verdict_culprit_module(v))
		printf("module:     %s\n", khang_verdict_culprit_module(v));

	/* The evidence, one step per line: threads, the objects they wait on,
	 * their owners... Structures with a size field are set with their
	 * _INIT macro before each call. */
	printf("\nchain:\n");
	for (size_t i = 0; i < khang_verdict_step_count(v); i++) {
		khang_verdict_step st = KHANG_VERDICT_STEP_INIT;
		if (khang_verdict_step_at(&st, v, i) == 0)
			printf("  %zu. %s\n", i + 1, st.text);
	}

	printf("\nchecks:\n");
	for (size_t i = 0; i < khang_verdict_check_count(v); i++) {
		khang_verdict_check ck = KHANG_VERDICT_CHECK_INIT;
		if (khang_verdict_check_at(&ck, v, i) == 0)
			printf("  %-8s %-8s %s\n", ck.name, status_name(ck.status), ck.text);
	}

	/* What could not be read (damaged lists, missing pages) is reported,
	 * not fatal. */
	for (size_t i = 0; i < khang_verdict_warning_count(v); i++)
		printf("warning: %s\n", khang_verdict_warning(v, i));

	khang_verdict_free(v);
	khang_source_free(src);
	return 0;
}

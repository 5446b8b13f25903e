/*
 * Fuzz the whole pipeline: open a (mutated) scenario dump, run the hang
 * verdict, render it. Invariants: the category is a valid value, the JSON
 * always parses, steps/checks/edges are consistent with their counts.
 */
#include <stdint.h>
#include <stddef.h>
#include <string.h>

#include "fuzz_check.h"
#include "json_check.h"
#include "khang.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	khang_source *src;
	khang_source_opts o = KHANG_SOURCE_OPTS_INIT;
	o.max_list_entries = 256;
	if (khang_source_open_memory(&src, data, size, &o) != 0)
		return 0;
	khang_verdict *v;
	int rc = khang_hang_verdict(&v, src, NULL);
	FUZZ_CHECK(rc == 0 || rc == KHANG_ENOMEM);
	if (rc == 0) {
		khang_verdict_category c = khang_verdict_get_category(v);
		FUZZ_CHECK((int)c >= 0 && (int)c < KHANG_VERDICT_CATEGORY_COUNT);
		FUZZ_CHECK(strcmp(khang_verdict_category_name(c), "invalid") != 0);
		FUZZ_CHECK(khang_verdict_confidence(v) >= 0 && khang_verdict_confidence(v) <= 100);
		const char *json = khang_verdict_json(v);
		FUZZ_CHECK(json && json_valid(json));
		FUZZ_CHECK(khang_verdict_dot(v) != NULL);
		for (size_t i = 0; i < khang_verdict_step_count(v); i++) {
			khang_verdict_step st = KHANG_VERDICT_STEP_INIT;
			FUZZ_CHECK(khang_verdict_step_at(&st, v, i) == 0 && st.text);
		}
		khang_verdict_step st = KHANG_VERDICT_STEP_INIT;
		FUZZ_CHECK(khang_verdict_step_at(&st, v, khang_verdict_step_count(v)) == KHANG_ERANGE);
		for (size_t i = 0; i < khang_verdict_check_count(v); i++) {
			khang_verdict_check ck = KHANG_VERDICT_CHECK_INIT;
			FUZZ_CHECK(khang_verdict_check_at(&ck, v, i) == 0 && ck.name && ck.text);
		}
		for (size_t i = 0; i < khang_verdict_edge_count(v); i++) {
			khang_verdict_edge e = KHANG_VERDICT_EDGE_INIT;
			FUZZ_CHECK(khang_verdict_edge_at(&e, v, i) == 0);
		}
		khang_verdict_free(v);
	}
	khang_source_free(src);
	return 0;
}

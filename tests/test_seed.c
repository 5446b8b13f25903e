/*
 * End to end: the seed case (tests/forge/fg_seed.h) written as a full and a
 * bitmap dump: khang_hang_verdict() says it is an ALPC chain from the
 * svchost.exe thread to explorer.exe's main thread, blocked in TmXPFlt.sys,
 * with the checks the seed's engineer made (CPUs idle, memory fine, no
 * contended lock). The same on Windows 7 SP1 x86 PAE (fg_seed_new_x86).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "khang.h"
#include "fg_seed.h"
#include "../fuzz/json_check.h"

static const char *check_text(khang_verdict *v, const char *name, khang_check_status *status)
{
	for (size_t i = 0; i < khang_verdict_check_count(v); i++) {
		khang_verdict_check c = KHANG_VERDICT_CHECK_INIT;
		khang_verdict_check_at(&c, v, i);
		if (!strcmp(c.name, name)) {
			*status = c.status;
			return c.text;
		}
	}
	return NULL;
}

static void seed(fg_format fmt, bool x86)
{
	fg_seed sd;
	uint8_t *buf;
	size_t len;
	khang_source *src;
	khang_verdict *v;
	assert_int_equal(x86 ? fg_seed_new_x86(&sd) : fg_seed_new(&sd), 0);
	fg_write_opts wo = FG_WRITE_OPTS_INIT;
	wo.format = fmt;
	wo.kernel_only = 1;
	assert_int_equal(fg_write_memory(sd.f, &buf, &len, &wo), 0);
	assert_int_equal(khang_source_open_memory(&src, buf, len, NULL), 0);
	assert_int_equal(khang_hang_verdict(&v, src, NULL), 0);
	if (x86) {
		khang_source_info si = KHANG_SOURCE_INFO_INIT;
		assert_int_equal(khang_source_get_info(&si, src), 0);
		assert_int_equal(si.arch, KHANG_ARCH_X86);
	}
	printf("  %s\n", khang_verdict_summary(v));
	for (size_t i = 0; i < khang_verdict_step_count(v); i++) {
		khang_verdict_step st = KHANG_VERDICT_STEP_INIT;
		khang_verdict_step_at(&st, v, i);
		printf("    %zu. %s\n", i + 1, st.text);
	}
	assert_int_equal(khang_verdict_get_category(v), KHANG_VERDICT_ALPC_CHAIN);
	assert_string_equal(khang_verdict_culprit_module(v), "TmXPFlt.sys");
	assert_non_null(khang_verdict_culprit_thread(v));
	assert_int_equal(khang_thread_address(khang_verdict_culprit_thread(v)), sd.main_thread);
	assert_string_equal(khang_process_name(khang_verdict_culprit_process(v)), "explorer.exe");
	const char *sum = khang_verdict_summary(v);
	assert_non_null(strstr(sum, "svchost.exe"));
	assert_non_null(strstr(sum, "explorer.exe"));
	assert_non_null(strstr(sum, "TmXPFlt.sys"));
	assert_non_null(strstr(sum, "1m:25"));
	/* the chain: the client, who should serve it, the blocked main thread */
	khang_verdict_step st = KHANG_VERDICT_STEP_INIT;
	khang_verdict_step_at(&st, v, 0);
	assert_int_equal(khang_thread_address(st.thread), sd.client_thread);
	assert_non_null(strstr(st.text, "no server thread has taken the message"));
	khang_verdict_step_at(&st, v, khang_verdict_step_count(v) - 1);
	assert_non_null(strstr(st.text, "TmXPFlt"));
	assert_non_null(strstr(st.text, "nt!KeWaitForSingleObject"));
	assert_non_null(strstr(st.text, "FLTMGR"));
	assert_null(strstr(st.text, "wWinMain")); /* the kernel part only: user mode is cut off */
	/* what was ruled out */
	khang_check_status cs;
	const char *t = check_text(v, "cpu", &cs);
	assert_non_null(t);
	assert_int_equal(cs, KHANG_CHECK_OK);
	assert_string_equal(t, "all 4 processors idle");
	t = check_text(v, "memory", &cs);
	assert_non_null(t);
	assert_int_equal(cs, KHANG_CHECK_OK);
	t = check_text(v, "locks", &cs);
	assert_int_equal(cs, KHANG_CHECK_OK);
	t = check_text(v, "alpc", &cs);
	assert_int_equal(cs, KHANG_CHECK_FOUND);
	assert_true(json_valid(khang_verdict_json(v)));
	khang_verdict_free(v);
	khang_source_free(src);
	free(buf);
	fg_free(sd.f);
}

static void test_seed_bitmap(void **state)
{
	(void)state;
	seed(FG_FMT_BITMAP_KERNEL, false);
}

static void test_seed_full(void **state)
{
	(void)state;
	seed(FG_FMT_FULL, false);
}

/* the same case on Windows 7 SP1 x86 PAE */
static void test_seed_x86_bitmap(void **state)
{
	(void)state;
	seed(FG_FMT_BITMAP_KERNEL, true);
}

static void test_seed_x86_full(void **state)
{
	(void)state;
	seed(FG_FMT_FULL, true);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_seed_bitmap),
		cmocka_unit_test(test_seed_full),
		cmocka_unit_test(test_seed_x86_bitmap),
		cmocka_unit_test(test_seed_x86_full),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

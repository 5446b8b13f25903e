/* The verdict explains hang-type bugchecks from their parameters and keeps
 * analysing; other bugchecks are crashes (test_verdict.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "khang.h"
#include "fg_kernel.h"

static char *bugcheck_text(uint32_t code, const uint64_t params[4], int with_process)
{
	const kh_layout *l = kh_layout_builtin_by_guid_string("5278AFF86C341677D7D7835C85B7B844", 1);
	fg_forge *f = fg_new(FG_X64, 16384);
	fg_kernel_opts o = { 0 };
	o.ncpus = 2;
	fg_kernel *k = fg_kernel_new(f, l, &o);
	uint64_t p0 = params[0];
	if (with_process)
		p0 = fg_kernel_add_process(k, "csrss.exe", 512, 504);
	fg_header *h = fg_header_of(f);
	h->bugcheck_code = code;
	h->bugcheck_params[0] = p0;
	for (int i = 1; i < 4; i++)
		h->bugcheck_params[i] = params[i];
	uint8_t *buf;
	size_t len;
	fg_write_opts wo = FG_WRITE_OPTS_INIT;
	wo.format = FG_FMT_BITMAP_KERNEL;
	wo.kernel_only = 1;
	assert_int_equal(fg_write_memory(f, &buf, &len, &wo), 0);
	khang_source *src;
	khang_verdict *v;
	assert_int_equal(khang_source_open_memory(&src, buf, len, NULL), 0);
	assert_int_equal(khang_hang_verdict(&v, src, NULL), 0);
	assert_int_not_equal(khang_verdict_get_category(v), KHANG_VERDICT_CRASH);
	char *out = NULL;
	for (size_t i = 0; i < khang_verdict_check_count(v); i++) {
		khang_verdict_check c = KHANG_VERDICT_CHECK_INIT;
		khang_verdict_check_at(&c, v, i);
		if (!strcmp(c.name, "bugcheck"))
			out = strdup(c.text);
	}
	printf("  %s\n", out ? out : "(none)");
	khang_verdict_free(v);
	khang_source_free(src);
	free(buf);
	fg_kernel_free(k);
	fg_free(f);
	assert_non_null(out);
	return out;
}

static void test_dpc_watchdog(void **state)
{
	(void)state;
	static const uint64_t one[4] = { 0, 0x501, 0x500, 0 }, total[4] = { 1, 0x1e00, 0xfffff80412345678, 0 };
	char *t = bugcheck_text(0x133, one, 0);
	assert_non_null(strstr(t, "DPC_WATCHDOG_VIOLATION; one DPC ran too long (1281 ticks, limit 1280)"));
	free(t);
	t = bugcheck_text(0x133, total, 0);
	assert_non_null(strstr(t, "too long at DISPATCH_LEVEL or above in total"));
	free(t);
}

static void test_clock_watchdog(void **state)
{
	(void)state;
	static const uint64_t p[4] = { 0x18, 0, 0xffffcb81a1e8f180, 5 };
	char *t = bugcheck_text(0x101, p, 0);
	assert_non_null(strstr(t, "processor 5 stopped answering"));
	free(t);
}

static void test_critical_process(void **state)
{
	(void)state;
	static const uint64_t p[4] = { 0, 0, 0, 0 };
	char *t = bugcheck_text(0xEF, p, 1);
	assert_non_null(strstr(t, "the critical process csrss.exe (PID 512) died"));
	free(t);
}

static void test_power_state(void **state)
{
	(void)state;
	static const uint64_t p[4] = { 3, 0xffffa00000123450, 0xfffff80412000000, 0xffffa00000abc010 };
	char *t = bugcheck_text(0x9F, p, 0);
	assert_non_null(strstr(t, "did not complete power IRP 0xffffa00000abc010"));
	free(t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_dpc_watchdog),
		cmocka_unit_test(test_clock_watchdog),
		cmocka_unit_test(test_critical_process),
		cmocka_unit_test(test_power_state),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

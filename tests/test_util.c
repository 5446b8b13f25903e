/* Unit tests of the internal utilities: errors, overflow helpers, cursor, address set. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "util/util.h"
#include "khang.h"

static void test_error_message(void **state)
{
	(void)state;
	khang_error_clear();
	assert_string_equal(khang_error_last(), "");
	assert_int_equal(kh_error(KHANG_ECORRUPT, "field %s = %d", "X", 7), KHANG_ECORRUPT);
	assert_string_equal(khang_error_last(), "field X = 7");
	assert_int_equal(khang_error_last_code(), KHANG_ECORRUPT);
	kh_error_context(KHANG_ECORRUPT, "thread 0x%x", 0x10);
	assert_string_equal(khang_error_last(), "thread 0x10: field X = 7");
	assert_string_equal(khang_strerror(KHANG_ENOTPRESENT), "data not present in the dump");
	assert_string_equal(khang_strerror(12345), "unknown error");
}

static void test_overflow(void **state)
{
	uint64_t r;
	size_t s;
	(void)state;
	assert_false(kh_add_overflow_u64(1, 2, &r));
	assert_int_equal(r, 3);
	assert_true(kh_add_overflow_u64(UINT64_MAX, 1, &r));
	assert_true(kh_mul_overflow_u64(1ull << 33, 1ull << 31, &r));
	assert_false(kh_mul_overflow_u64(0, UINT64_MAX, &r));
	assert_true(kh_mul_overflow_size(SIZE_MAX / 2 + 1, 2, &s));
	assert_true(kh_span_ok(10, 2, 8));
	assert_false(kh_span_ok(10, 2, 9));
	assert_false(kh_span_ok(10, 11, 0));
	assert_false(kh_span_ok(10, 5, UINT64_MAX));
}

static void test_cursor(void **state)
{
	const uint8_t buf[] = { 1, 0, 2, 0, 0, 0, 3, 0, 0, 0, 0, 0, 0, 0 };
	kh_cursor c;
	(void)state;
	kh_cur_init(&c, buf, sizeof(buf));
	assert_int_equal(kh_cur_u16(&c), 1);
	assert_int_equal(kh_cur_u32(&c), 2);
	assert_int_equal(kh_cur_u64(&c), 3);
	assert_true(kh_cur_ok(&c));
	assert_int_equal(kh_cur_u8(&c), 0);
	assert_false(kh_cur_ok(&c));
	kh_cur_init(&c, buf, sizeof(buf));
	assert_int_equal(kh_cur_u32_at(&c, 2), 2);
	assert_int_equal(kh_cur_u64_at(&c, 7), 0);
	assert_false(kh_cur_ok(&c));
}

static void test_addrset(void **state)
{
	kh_alloc a;
	kh_addrset s;
	(void)state;
	kh_alloc_init(&a, NULL);
	kh_addrset_init(&s, &a);
	for (uint64_t i = 0; i < 1000; i++)
		assert_int_equal(kh_addrset_add(&s, 0xffff800000000000ull + i * 8), 1);
	assert_int_equal(kh_addrset_add(&s, 0xffff800000000000ull), 0);
	assert_int_equal(kh_addrset_add(&s, 0), 1);
	assert_int_equal(kh_addrset_add(&s, 0), 0);
	assert_true(kh_addrset_has(&s, 0xffff800000000000ull + 999 * 8));
	assert_false(kh_addrset_has(&s, 0xffff800000000000ull + 1000 * 8));
	kh_addrset_free(&s);
}

static void test_version(void **state)
{
	int ma, mi, pa;
	(void)state;
	assert_string_equal(khang_version(&ma, &mi, &pa), KHANG_VERSION_STRING);
	assert_int_equal(ma, KHANG_VERSION_MAJOR);
	assert_int_equal(mi, KHANG_VERSION_MINOR);
	assert_int_equal(pa, KHANG_VERSION_PATCH);
	assert_string_equal(khang_arch_name(KHANG_ARCH_X64), "x64");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_error_message),
		cmocka_unit_test(test_overflow),
		cmocka_unit_test(test_cursor),
		cmocka_unit_test(test_addrset),
		cmocka_unit_test(test_version),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

/*
 * IRPs (khang/irp.h) on forged kernels, x64 and x86: the header, every stack
 * location, the device -> driver -> module resolution, power parameters,
 * and the errors for memory that is not an IRP.
 */
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

typedef struct built {
	fg_forge *f;
	fg_kernel *k;
	uint8_t *buf;
	size_t len;
	khang_source *src;
	uint64_t irp, pci_dev, foo_dev, thread, bad_irp, zero_irp, bad_dev_irp, skew_irp, small_irp;
} built;

static const kh_layout *w10(void)
{
	return kh_layout_builtin_by_guid_string("5278AFF86C341677D7D7835C85B7B844", 1);
}

static const kh_layout *x86_layout(void)
{
	kh_layout_candidate c[4];
	size_t n = kh_layout_builtin_candidates(KHANG_ARCH_X86, 7601, 1, c, 4);
	assert_true(n > 0);
	return c[0].layout;
}

/* A power IRP with 3 locations: location 1 names pci's device, location 2
 * (current) foo's, location 3 is empty; every field of a location is read
 * as written, whatever order a real stack would use. Plus malformed IRPs
 * for the error paths. */
static void build(built *b, const kh_layout *l)
{
	kh_layout_info li;
	memset(b, 0, sizeof(*b));
	kh_layout_get_info(l, &li);
	b->f = fg_new(li.arch == KHANG_ARCH_X64 ? FG_X64 : li.pae ? FG_X86_PAE : FG_X86, 16384);
	b->k = fg_kernel_new(b->f, l, NULL);
	assert_non_null(b->k);
	fg_kernel *k = b->k;
	uint64_t base = fg_kernel_base(k);
	fg_kernel_add_module(k, "pci.sys", base + 0x3000000, 0x80000);
	fg_kernel_add_module(k, "foo.sys", base + 0x3100000, 0x20000);
	uint64_t pci = fg_kernel_add_driver(k, "\\Driver\\pci", base + 0x3000000, 0x80000);
	uint64_t foo = fg_kernel_add_driver(k, "\\Driver\\foo", base + 0x3100000, 0x20000);
	b->pci_dev = fg_kernel_add_device(k, pci);
	b->foo_dev = fg_kernel_add_device(k, foo);
	uint64_t proc = fg_kernel_add_process(k, "app.exe", 100, 4);
	b->thread = fg_kernel_add_thread(k, proc, 104);

	b->irp = fg_kernel_new_irp(k, b->thread, 3, 2);
	fg_kernel_set(k, b->irp, KH_F_IRP_Status, 0x103); /* STATUS_PENDING */
	fg_kernel_set(k, b->irp, KH_F_IRP_PendingReturned, 1);
	for (int i = 1; i <= 2; i++) {
		uint64_t loc = fg_kernel_irp_location(k, b->irp, i);
		fg_kernel_set(k, loc, KH_F_IO_STACK_LOCATION_MajorFunction, 0x16); /* IRP_MJ_POWER */
		fg_kernel_set(k, loc, KH_F_IO_STACK_LOCATION_MinorFunction, 2);    /* IRP_MN_SET_POWER */
		fg_kernel_set(k, loc, KH_F_IO_STACK_LOCATION_DeviceObject, i == 1 ? b->pci_dev : b->foo_dev);
		fg_kernel_set(k, loc, KH_F_IO_STACK_LOCATION_PowerType, 0);   /* SystemPowerState */
		fg_kernel_set(k, loc, KH_F_IO_STACK_LOCATION_PowerState, 5);  /* PowerSystemHibernate */
		fg_kernel_set(k, loc, KH_F_IO_STACK_LOCATION_PowerAction, 3); /* PowerActionHibernate */
		fg_kernel_set(k, loc, KH_F_IO_STACK_LOCATION_CompletionRoutine, base + 0x3000100 + (uint64_t)i);
		fg_kernel_set(k, loc, KH_F_IO_STACK_LOCATION_Control, 0xe0);
	}
	/* not an IRP: a device object */
	b->bad_irp = b->pci_dev;
	/* StackCount 0 */
	b->zero_irp = fg_kernel_new_irp(k, 0, 1, 1);
	fg_kernel_set(k, b->zero_irp, KH_F_IRP_StackCount, 0);
	/* a location naming something that is not a device; an IRP still to be sent */
	b->bad_dev_irp = fg_kernel_new_irp(k, 0, 2, 1);
	fg_kernel_set(k, fg_kernel_irp_location(k, b->bad_dev_irp, 1), KH_F_IO_STACK_LOCATION_DeviceObject, b->thread);
	/* a packet too small for its stack count */
	b->small_irp = fg_kernel_new_irp(k, 0, 2, 1);
	fg_kernel_set(k, b->small_irp, KH_F_IRP_Size, 0x40);
	/* CurrentStackLocation disagreeing with CurrentLocation */
	b->skew_irp = fg_kernel_new_irp(k, 0, 2, 1);
	fg_kernel_set(k, b->skew_irp, KH_F_IRP_CurrentStackLocation, fg_kernel_irp_location(k, b->skew_irp, 2));

	fg_write_opts wo = FG_WRITE_OPTS_INIT;
	wo.format = FG_FMT_BITMAP_KERNEL;
	wo.kernel_only = 1;
	assert_int_equal(fg_write_memory(b->f, &b->buf, &b->len, &wo), 0);
	assert_int_equal(khang_source_open_memory(&b->src, b->buf, b->len, NULL), 0);
}

static void done(built *b)
{
	khang_source_free(b->src);
	free(b->buf);
	fg_kernel_free(b->k);
	fg_free(b->f);
}

static void check_layout(const kh_layout *l)
{
	built b;
	build(&b, l);
	khang_irp irp = KHANG_IRP_INIT;
	assert_int_equal(khang_irp_read(&irp, b.src, b.irp), 0);
	assert_int_equal(irp.address, b.irp);
	assert_int_equal(irp.thread, b.thread);
	assert_int_equal(irp.stack_count, 3);
	assert_int_equal(irp.current_location, 2);
	assert_int_equal(irp.status, 0x103);
	assert_int_equal(irp.pending_returned, 1);
	assert_int_equal(irp.cancel, 0);
	assert_int_equal(irp.major, 0x16);
	assert_int_equal(irp.minor, 2);
	assert_int_equal(irp.device, b.foo_dev);
	assert_int_not_equal(irp.driver, 0);
	assert_string_equal(irp.driver_name, "\\Driver\\foo");
	assert_string_equal(irp.module, "foo.sys");

	khang_irp_location loc = KHANG_IRP_LOCATION_INIT;
	assert_int_equal(khang_irp_location_read(&loc, b.src, b.irp, 1), 0);
	assert_int_equal(loc.index, 1);
	assert_int_equal(loc.current, 0);
	assert_int_equal(loc.device, b.pci_dev);
	assert_string_equal(loc.driver_name, "\\Driver\\pci");
	assert_string_equal(loc.module, "pci.sys");
	assert_int_equal(loc.power_type, 0);
	assert_int_equal(loc.power_state, 5);
	assert_int_equal(loc.power_action, 3);
	assert_int_equal(loc.control, 0xe0);
	assert_int_equal(loc.completion_routine, fg_kernel_base(b.k) + 0x3000101);
	assert_string_equal(khang_power_state_name(loc.power_type, loc.power_state), "S4 (hibernate)");
	assert_int_equal(khang_irp_location_read(&loc, b.src, b.irp, 2), 0);
	assert_int_equal(loc.current, 1);
	assert_string_equal(loc.module, "foo.sys");
	/* location 3: never used */
	assert_int_equal(khang_irp_location_read(&loc, b.src, b.irp, 3), 0);
	assert_int_equal(loc.device, 0);
	assert_int_equal(loc.power_state, -1);
	assert_string_equal(loc.driver_name, "");
	assert_int_equal(khang_irp_location_read(&loc, b.src, b.irp, 0), KHANG_ENOTFOUND);
	assert_int_equal(khang_irp_location_read(&loc, b.src, b.irp, 4), KHANG_ENOTFOUND);

	/* errors */
	assert_int_equal(khang_irp_read(&irp, b.src, b.bad_irp), KHANG_ECORRUPT);
	assert_int_equal(khang_irp_read(&irp, b.src, b.zero_irp), KHANG_ECORRUPT);
	assert_int_equal(khang_irp_read(&irp, b.src, 0x10), KHANG_ENOTPRESENT);
	assert_int_equal(khang_irp_read(&irp, b.src, b.small_irp), KHANG_ECORRUPT);
	assert_non_null(strstr(khang_error_last(), "too small for 2 stack locations"));
	/* a wrong device object: the location is read, its driver left empty */
	assert_int_equal(khang_irp_read(&irp, b.src, b.bad_dev_irp), 0);
	assert_int_equal(irp.device, b.thread);
	assert_int_equal(irp.driver, 0);
	assert_string_equal(irp.module, "");
	/* CurrentStackLocation disagrees: read from CurrentLocation, with a warning */
	uint32_t w = khang_source_warning_count(b.src);
	assert_int_equal(khang_irp_read(&irp, b.src, b.skew_irp), 0);
	assert_int_equal(khang_source_warning_count(b.src), w + 1);
	assert_non_null(strstr(khang_source_warning(b.src, w), "CurrentStackLocation"));
	/* sizes */
	khang_irp small = KHANG_IRP_INIT, part = KHANG_IRP_INIT;
	small.size = 8;
	assert_int_equal(khang_irp_read(&small, b.src, b.irp), KHANG_EINVAL);
	part.size = offsetof(khang_irp, flags) + sizeof(uint32_t) + sizeof(int32_t) + 2 * sizeof(int);
	assert_int_equal(khang_irp_read(&part, b.src, b.irp), 0);
	assert_int_equal(part.current_location, 2);
	assert_int_equal(part.size, offsetof(khang_irp, flags) + sizeof(uint32_t) + sizeof(int32_t) + 2 * sizeof(int));
	assert_int_equal(khang_irp_read(NULL, b.src, b.irp), KHANG_EINVAL);
	done(&b);
}

static void test_irp_x64(void **state)
{
	(void)state;
	check_layout(w10());
}

static void test_irp_x86(void **state)
{
	(void)state;
	check_layout(x86_layout());
}

static void test_names(void **state)
{
	(void)state;
	assert_string_equal(khang_irp_major_name(0x16), "IRP_MJ_POWER");
	assert_string_equal(khang_irp_major_name(0), "IRP_MJ_CREATE");
	assert_string_equal(khang_irp_major_name(0x1b), "IRP_MJ_PNP");
	assert_string_equal(khang_irp_major_name(0x1c), "IRP_MJ_?");
	assert_string_equal(khang_irp_minor_name(0x16, 2), "IRP_MN_SET_POWER");
	assert_string_equal(khang_irp_minor_name(0x16, 4), "");
	assert_string_equal(khang_irp_minor_name(0x1b, 0x17), "IRP_MN_SURPRISE_REMOVAL");
	assert_string_equal(khang_irp_minor_name(0x1b, 0x0e), "");
	assert_string_equal(khang_irp_minor_name(0x0e, 2), "");
	assert_string_equal(khang_power_state_name(1, 4), "D3");
	assert_string_equal(khang_power_state_name(0, 1), "S0 (working)");
	assert_string_equal(khang_power_state_name(0, 7), "unspecified");
	assert_string_equal(khang_power_state_name(2, 1), "unspecified");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_irp_x64),
		cmocka_unit_test(test_irp_x86),
		cmocka_unit_test(test_names),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

/* fg_scenario: hang scenarios (see fg_scenario.h). */
#include <string.h>

#include "fg_scenario.h"
#include "fg_stack.h"

uint64_t fg_scn_mutant(fg_kernel *k, uint64_t owner)
{
	uint64_t m = fg_kernel_add_object(k, "MutantObject", 0);
	fg_kernel_set(k, m, KH_F_KMUTANT_OwnerThread, owner);
	return m;
}

void fg_scn_wait(fg_kernel *k, uint64_t t, const uint64_t *objs, unsigned n, uint32_t now, unsigned minutes)
{
	fg_kernel_thread_wait(k, t, objs, n, 1);
	fg_kernel_thread_state(k, t, 5, 0, 0, now - minutes * FG_TICKS_PER_MINUTE);
}

void fg_scn_deadlock(fg_kernel *k, uint32_t now, uint32_t pid, uint64_t out[2])
{
	uint64_t p = fg_kernel_add_process(k, "app.exe", pid, 600);
	uint64_t a = fg_kernel_add_thread(k, p, pid + 4), b = fg_kernel_add_thread(k, p, pid + 8);
	uint64_t m1 = fg_scn_mutant(k, a), m2 = fg_scn_mutant(k, b);
	fg_scn_wait(k, a, &m2, 1, now, 7);
	fg_scn_wait(k, b, &m1, 1, now, 6);
	out[0] = a;
	out[1] = b;
}

void fg_scn_mutant_chain(fg_kernel *k, uint32_t now, uint32_t pid, uint64_t out[3])
{
	uint64_t p = fg_kernel_add_process(k, "svc.exe", pid, 600);
	for (int i = 0; i < 3; i++)
		out[i] = fg_kernel_add_thread(k, p, pid + 4 + 4 * (uint32_t)i);
	uint64_t mb = fg_scn_mutant(k, out[1]), mc = fg_scn_mutant(k, out[2]);
	uint64_t ev = fg_kernel_add_object(k, "EventNotificationObject", 0);
	fg_scn_wait(k, out[0], &mb, 1, now, 9);
	fg_scn_wait(k, out[1], &mc, 1, now, 8);
	fg_scn_wait(k, out[2], &ev, 1, now, 8);
}

uint64_t fg_scn_eresource(fg_kernel *k, uint32_t now, uint32_t pid, unsigned cpu, uint64_t out[3])
{
	const kh_layout *l = fg_kernel_layout(k);
	uint64_t p = fg_kernel_add_process(k, "filesvc.exe", pid, 4);
	out[0] = fg_kernel_add_thread(k, p, pid + 4);
	fg_kernel_thread_state(k, out[0], 2, 0, 0, now);
	fg_kernel_set_current(k, cpu, out[0]);
	uint64_t r = fg_kernel_alloc(k, kh_layout_struct_size(l, KH_S_ERESOURCE));
	fg_kernel_list_append(k, fg_kernel_global(k, KH_G_ExpSystemResourcesList),
	                      fg_kernel_addr(k, r, KH_F_ERESOURCE_SystemResourcesList));
	uint64_t ev = fg_kernel_add_object(k, "EventSynchronizationObject", 0);
	fg_kernel_set(k, r, KH_F_ERESOURCE_ExclusiveWaiters, ev);
	fg_kernel_set(k, r, KH_F_ERESOURCE_NumberOfExclusiveWaiters, 2);
	fg_kernel_set(k, r, KH_F_ERESOURCE_Flag, 0x80);
	fg_kernel_set(k, r, KH_F_ERESOURCE_ActiveCount, 1);
	fg_kernel_set(k, fg_kernel_addr(k, r, KH_F_ERESOURCE_OwnerEntry), KH_F_OWNER_ENTRY_OwnerThread, out[0]);
	for (int i = 1; i < 3; i++) {
		out[i] = fg_kernel_add_thread(k, p, pid + 4 + 4 * (uint32_t)i);
		fg_scn_wait(k, out[i], &ev, 1, now, 6 - (unsigned)i);
	}
	return r;
}

void fg_scn_starvation(fg_kernel *k, uint32_t now, unsigned nready)
{
	uint64_t hog = fg_kernel_add_process(k, "miner.exe", 3000, 600);
	for (uint32_t cpu = 0; cpu < fg_kernel_ncpus(k); cpu++) {
		uint64_t t = fg_kernel_add_thread(k, hog, 3004 + 4 * cpu);
		fg_kernel_thread_state(k, t, 2, 0, 0, now);
		fg_kernel_set(k, t, KH_F_KTHREAD_Priority, 15);
		fg_kernel_set_current(k, cpu, t);
	}
	uint64_t victim = fg_kernel_add_process(k, "explorer.exe", 4232, 4200);
	for (uint32_t i = 0; i < nready; i++) {
		uint64_t t = fg_kernel_add_thread(k, victim, 4236 + 4 * i);
		fg_kernel_ready_thread(k, (int)(i % fg_kernel_ncpus(k)), t, 8);
		fg_kernel_set(k, t, KH_F_KTHREAD_WaitTime, now - 640 * (i + 1)); /* 10 s, 20 s, ... */
	}
}

uint64_t fg_scn_dpc_watchdog(fg_forge *f, fg_kernel *k, const uint64_t params[4], bool in_dpc, bool routine_in_prcb,
                             uint64_t *routine)
{
	fg_stack *s = fg_stack_new(f, k);
	fg_module *nt = fg_stack_nt(s);
	static const uint16_t sm[] = { FG_UW(4, FG_UWOP_ALLOC_SMALL, 4) };
	static const uint16_t in0[] = { FG_UW(4, FG_UWOP_ALLOC_SMALL, 2), FG_UW(0, FG_UWOP_PUSH_MACHFRAME, 0) };
	fg_fn *idle = fg_fn_x64(nt, "KiIdleLoop", 0, 0x40, 4, 0, 0, sm, 1, NULL);
	fg_fn *start = fg_fn_x64(nt, "KiStartSystemThread", 0, 0x40, 4, 0, 0, sm, 1, NULL);
	fg_fn *retire = fg_fn_x64(nt, "KiRetireDpcList", 0, 0x40, 4, 0, 0, sm, 1, NULL);
	fg_fn *all = fg_fn_x64(nt, "KiExecuteAllDpcs", 0, 0x40, 4, 0, 0, sm, 1, NULL);
	fg_fn *intr = fg_fn_x64(nt, "KiInterruptDispatchNoLock", 0, 0x40, 4, 0, 0, in0, 2, NULL);
	fg_fn *bc = fg_fn_x64(nt, "KeBugCheckEx", 0, 0x40, 4, 0, 0, sm, 1, NULL);
	fg_module *ndis = fg_stack_module(s, "ndis.sys", FG_SCN_NDIS, 0x1000);
	fg_fn *dpc = fg_fn_x64(ndis, "NdisDpc", 0, 0x80, 4, 0, 0, sm, 1, NULL);
	fg_module *netfoo = fg_stack_module(s, "netfoo.sys", FG_SCN_NETFOO, 0x1000);
	fg_fn *spin = fg_fn_x64(netfoo, "Spin", 0, 0x80, 4, 0, 0, sm, 1, NULL);

	uint64_t proc = fg_kernel_add_process(k, "System", 4, 0);
	uint64_t t = fg_kernel_add_thread(k, proc, 0x44);
	fg_chain *c = fg_chain_new(s, t, 0xffffd00021580000ull, 0x6000);
	if (in_dpc) {
		fg_chain_call(c, idle, 0x20);
		fg_chain_call(c, retire, 0x20);
		fg_chain_call(c, all, 0x20);
		fg_chain_call(c, dpc, 0x30);
	} else {
		fg_chain_call(c, start, 0x20);
	}
	fg_chain_call(c, spin, 0x10);
	fg_chain_interrupt(c, intr, 0x30);
	fg_chain_call(c, bc, 0x10);
	fg_chain_run(c, 1, true);
	fg_chain_free(c);
	fg_module_place(nt, 0);
	fg_module_place(ndis, 0);
	fg_module_place(netfoo, 0);
	if (in_dpc && routine_in_prcb)
		fg_kernel_set(k, fg_kernel_prcb(k, 1), KH_F_KPRCB_CurrentDpcRoutine, fg_fn_va(dpc));
	if (routine)
		*routine = fg_fn_va(dpc);
	fg_stack_free(s);
	fg_header *h = fg_header_of(f);
	h->bugcheck_code = 0x133;
	memcpy(h->bugcheck_params, params, sizeof(h->bugcheck_params));
	return t;
}

uint64_t fg_scn_power_irp(fg_forge *f, fg_kernel *k, bool irp_present, bool system_state)
{
	uint64_t base = fg_kernel_base(k);
	fg_kernel_add_module(k, "pci.sys", base + 0x3000000, 0x80000);
	fg_kernel_add_module(k, "usbfoo.sys", base + 0x3100000, 0x20000);
	uint64_t pdo = fg_kernel_add_device(k, fg_kernel_add_driver(k, "\\Driver\\pci", base + 0x3000000, 0x80000));
	uint64_t fdo = fg_kernel_add_device(k, fg_kernel_add_driver(k, "\\Driver\\usbfoo", base + 0x3100000, 0x20000));
	uint64_t irp = fg_kernel_new_irp(k, 0, 2, 2);
	for (int i = 1; i <= 2; i++) {
		uint64_t loc = fg_kernel_irp_location(k, irp, i);
		fg_kernel_set(k, loc, KH_F_IO_STACK_LOCATION_MajorFunction, 0x16); /* IRP_MJ_POWER */
		fg_kernel_set(k, loc, KH_F_IO_STACK_LOCATION_MinorFunction, 2);    /* IRP_MN_SET_POWER */
		fg_kernel_set(k, loc, KH_F_IO_STACK_LOCATION_DeviceObject, i == 1 ? pdo : fdo);
		fg_kernel_set(k, loc, KH_F_IO_STACK_LOCATION_PowerType, system_state ? 0 : 1);
		fg_kernel_set(k, loc, KH_F_IO_STACK_LOCATION_PowerState, 4); /* PowerSystemSleeping3 / PowerDeviceD3 */
	}
	fg_header *h = fg_header_of(f);
	h->bugcheck_code = 0x9F;
	h->bugcheck_params[0] = 3;
	h->bugcheck_params[1] = pdo;
	h->bugcheck_params[2] = base + 0x10000;
	h->bugcheck_params[3] = irp_present ? irp : fg_kernel_base(k) - 0x10000000ull;
	return irp;
}

/* an IRP on thread t's list whose current location names a device of driver */
static void pending_irp(fg_kernel *k, uint64_t t, uint64_t driver)
{
	uint64_t irp = fg_kernel_new_irp(k, t, 2, 1);
	uint64_t loc = fg_kernel_irp_location(k, irp, 1);
	fg_kernel_set(k, loc, KH_F_IO_STACK_LOCATION_DeviceObject, fg_kernel_add_device(k, driver));
	fg_kernel_set(k, loc, KH_F_IO_STACK_LOCATION_MajorFunction, 3); /* IRP_MJ_READ */
	fg_kernel_list_append(k, fg_kernel_addr(k, t, KH_F_ETHREAD_IrpList), fg_kernel_addr(k, irp, KH_F_IRP_ThreadListEntry));
}

void fg_scn_storage(fg_kernel *k, uint32_t now, unsigned minutes)
{
	uint64_t kb = fg_kernel_base(k);
	fg_kernel_add_module(k, "disk.sys", kb + 0x5000000, 0x20000);
	fg_kernel_add_module(k, "STORPORT.SYS", kb + 0x5100000, 0x40000);
	fg_kernel_add_module(k, "flt.sys", kb + 0x5200000, 0x10000);
	uint64_t disk = fg_kernel_add_driver(k, "\\Driver\\disk", kb + 0x5000000, 0x20000);
	uint64_t stor = fg_kernel_add_driver(k, "\\Driver\\storahci", kb + 0x5100000, 0x40000);
	uint64_t flt = fg_kernel_add_driver(k, "\\FileSystem\\flt", kb + 0x5200000, 0x10000);
	uint64_t p = fg_kernel_add_process(k, "sqlservr.exe", 2000, 684);
	uint64_t ev = fg_kernel_add_object(k, "EventNotificationObject", 0);
	uint64_t t1 = fg_kernel_add_thread(k, p, 2004), t2 = fg_kernel_add_thread(k, p, 2008);
	uint64_t t3 = fg_kernel_add_thread(k, p, 2012);
	fg_scn_wait(k, t1, &ev, 1, now, minutes);
	fg_scn_wait(k, t2, &ev, 1, now, 0);
	fg_scn_wait(k, t3, &ev, 1, now, 9);
	pending_irp(k, t1, disk);
	pending_irp(k, t1, disk);
	pending_irp(k, t2, stor);
	pending_irp(k, t3, flt);
}

uint64_t fg_scn_pnp_lock(fg_forge *f, fg_kernel *k, uint32_t now, unsigned minutes)
{
	fg_stack *s = fg_stack_new(f, k);
	fg_module *nt = fg_stack_nt(s);
	static const uint16_t sm[] = { FG_UW(4, FG_UWOP_ALLOC_SMALL, 4) };
	fg_fn *start = fg_fn_x64(nt, "KiStartSystemThread", 0, 0x40, 4, 0, 0, sm, 1, NULL);
	fg_fn *wait = fg_fn_x64(nt, "KeWaitForSingleObject", 0, 0x80, 4, 0, 0, sm, 1, NULL);
	fg_fn *commit = fg_fn_x64(nt, "KiCommitThreadWait", 0, 0x80, 4, 0, 0, sm, 1, NULL);
	fg_fn *swap_thread = fg_fn_x64(nt, "KiSwapThread", 0, 0x80, 4, 0, 0, sm, 1, NULL);
	fg_fn *swap = fg_fn_x64(nt, "KiSwapContext", 0, 0x80, 4, 0, 0, sm, 1, NULL);
	fg_module *drv = fg_stack_module(s, "pnpfoo.sys", FG_SCN_PNPFOO, 0x1000);
	fg_fn *dev = fg_fn_x64(drv, "StartDevice", 0, 0x80, 4, 0, 0, sm, 1, NULL);

	uint64_t proc = fg_kernel_add_process(k, "System", 4, 0);
	uint64_t t = fg_kernel_add_thread(k, proc, 0x88);
	fg_chain *c = fg_chain_new(s, t, 0xffffd00021600000ull, 0x6000);
	fg_chain_call(c, start, 0x20);
	fg_chain_call(c, dev, 0x30);
	fg_chain_call(c, wait, 0x40);
	fg_chain_call(c, commit, 0x20);
	fg_chain_call(c, swap_thread, 0x20);
	fg_chain_call(c, swap, 0x10);
	fg_chain_wait(c);
	fg_chain_free(c);
	fg_module_place(nt, 0);
	fg_module_place(drv, 0);
	fg_stack_free(s);
	uint64_t ev = fg_kernel_add_object(k, "EventNotificationObject", 0);
	fg_scn_wait(k, t, &ev, 1, now, minutes);
	fg_header *h = fg_header_of(f);
	h->bugcheck_code = 0x9F;
	h->bugcheck_params[0] = 4;
	h->bugcheck_params[1] = 300;
	h->bugcheck_params[2] = t;
	h->bugcheck_params[3] = 0;
	return t;
}

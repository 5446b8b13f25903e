/* fg_scenario: hang scenarios (see fg_scenario.h). */
#include "fg_scenario.h"

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

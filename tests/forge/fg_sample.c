/* fg_sample: the object layer's sample kernel (see fg_sample.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fg_sample.h"

#define FT_BASE 0x01D2F8D0B4A1C000ull /* 2017-07-10 08:30:00 UTC as a FILETIME (approx.) */

_Noreturn static void die(const char *what)
{
	fprintf(stderr, "fg_sample: %s\n", what);
	abort();
}

/* fg_kernel_set for fields every layout has */
static void must(fg_kernel *k, uint64_t va, kh_field_id id, uint64_t v)
{
	if (fg_kernel_set(k, va, id, v) != 0) {
		fprintf(stderr, "fg_sample: layout lacks %s\n", kh_field_name(id));
		abort();
	}
}

static uint64_t read_ptr(fg_sample *s, uint64_t va)
{
	uint8_t b[8] = { 0 };
	uint64_t v = 0;
	unsigned ps = s->x86 ? 4 : 8;
	if (fg_read_virtual(s->f, fg_kernel_dtb(s->f), va, b, ps) != 0)
		die("read");
	for (unsigned i = 0; i < ps; i++)
		v |= (uint64_t)b[i] << (8 * i);
	return v;
}

static unsigned add_process(fg_sample *s, const char *name, uint32_t pid, uint32_t ppid, int session)
{
	fg_kernel *k = s->k;
	unsigned i = s->nprocs++;
	fg_sample_process *p = &s->procs[i];
	memset(p, 0, sizeof(*p));
	p->va = fg_kernel_add_process(k, name, pid, ppid);
	p->pid = pid;
	p->ppid = ppid;
	p->name = name;
	p->session = session;
	p->first_thread = s->nthreads;
	p->create_time = FT_BASE + 600000000ull * (i + 1);
	p->base_priority = 8;
	p->peb = s->x86 ? 0x7ffd3000u - 0x1000u * i : 0x7ff66a125000ull + 0x1000000ull * i;
	must(k, p->va, KH_F_EPROCESS_CreateTime, p->create_time);
	must(k, p->va, KH_F_EPROCESS_Peb, p->peb);
	must(k, p->va, KH_F_KPROCESS_BasePriority, 8);
	if (session >= 0)
		fg_kernel_set_session(k, p->va, (uint32_t)session);
	return i;
}

/* Record a thread (new, or existing at va) and give it the attributes of
 * its index; the caller sets state and waits. */
static unsigned add_thread(fg_sample *s, unsigned proc, uint32_t tid, uint64_t existing)
{
	fg_kernel *k = s->k;
	if (s->nthreads >= FG_SAMPLE_MAX_THREADS)
		die("too many threads");
	unsigned n = s->nthreads++;
	fg_sample_thread *t = &s->threads[n];
	fg_sample_process *p = &s->procs[proc];
	memset(t, 0, sizeof(*t));
	t->va = existing ? existing : fg_kernel_add_thread(k, p->va, tid);
	t->process = p->va;
	t->pid = p->pid;
	t->tid = tid;
	t->ready = -2;
	p->nthreads++;
	bool x86 = s->x86;
	t->teb = p->pid == 4 ? 0 : x86 ? 0x7ffd0000u - 0x1000u * n : 0x7ff66a12e000ull + 0x2000ull * n;
	t->start = fg_kernel_base(k) + 0x1000 + 0x10 * n;
	t->win32start = p->pid == 4 ? t->start : x86 ? 0x01001000u + 0x10u * n : 0x7ff694781468ull + 0x10ull * n;
	t->stack_base = x86 ? 0x9a000000u + 0x4000u * n : 0xffffd00021580000ull + 0x8000ull * n;
	t->stack_limit = t->stack_base - (x86 ? 0x3000 : 0x6000);
	t->stack_init = t->stack_base - (x86 ? 0x210 : 0x370);
	t->kernel_stack = t->stack_init - 0x140;
	t->create_time = p->create_time + 10000000ull * (n + 1);
	t->kernel_ticks = 3 * n + 1;
	t->user_ticks = 2 * n;
	t->context_switches = 1000 + 7 * n;
	t->priority = 8 + n % 5;
	t->base_priority = 8;
	t->ideal = n % s->ncpus;
	t->processor = n % s->ncpus;
	t->wait_time = FG_SAMPLE_TICK_COUNT - (97 * n % 5000) - 1;
	must(k, t->va, KH_F_KTHREAD_Teb, t->teb);
	must(k, t->va, KH_F_ETHREAD_StartAddress, t->start);
	must(k, t->va, KH_F_ETHREAD_Win32StartAddress, t->win32start);
	must(k, t->va, KH_F_KTHREAD_StackBase, t->stack_base);
	must(k, t->va, KH_F_KTHREAD_StackLimit, t->stack_limit);
	must(k, t->va, KH_F_KTHREAD_InitialStack, t->stack_init);
	must(k, t->va, KH_F_KTHREAD_KernelStack, t->kernel_stack);
	must(k, t->va, KH_F_ETHREAD_CreateTime, t->create_time);
	must(k, t->va, KH_F_KTHREAD_KernelTime, t->kernel_ticks);
	must(k, t->va, KH_F_KTHREAD_UserTime, t->user_ticks);
	must(k, t->va, KH_F_KTHREAD_ContextSwitches, t->context_switches);
	must(k, t->va, KH_F_KTHREAD_Priority, t->priority);
	must(k, t->va, KH_F_KTHREAD_BasePriority, t->base_priority);
	must(k, t->va, KH_F_KTHREAD_IdealProcessor, t->ideal);
	if (fg_kernel_set(k, t->va, KH_F_KTHREAD_NextProcessorNumber, t->processor) != 0)
		must(k, t->va, KH_F_KTHREAD_NextProcessor, t->processor);
	must(k, t->va, KH_F_KTHREAD_WaitTime, t->wait_time);
	must(k, t->va, KH_F_KTHREAD_SystemThread, p->pid == 4);
	return n;
}

static void set_state(fg_sample *s, unsigned i, const char *state, const char *reason, unsigned mode)
{
	fg_sample_thread *t = &s->threads[i];
	t->state = (unsigned)fg_kernel_enum(s->k, KH_E_KTHREAD_STATE, state);
	t->wait_reason = (unsigned)fg_kernel_enum(s->k, KH_E_KWAIT_REASON, reason);
	t->wait_mode = mode;
	must(s->k, t->va, KH_F_KTHREAD_State, t->state);
	must(s->k, t->va, KH_F_KTHREAD_WaitReason, t->wait_reason);
	must(s->k, t->va, KH_F_KTHREAD_WaitMode, t->wait_mode);
}

static void set_gui(fg_sample *s, unsigned i)
{
	fg_sample_thread *t = &s->threads[i];
	t->win32thread = s->x86 ? 0xfe000000u + 0x100u * i : 0xfffff90100744010ull + 0x100ull * i;
	must(s->k, t->va, KH_F_KTHREAD_Win32Thread, t->win32thread);
}

static void wait_on(fg_sample *s, unsigned i, const uint64_t *objs, unsigned n, unsigned type)
{
	fg_sample_thread *t = &s->threads[i];
	t->nobjects = n;
	memcpy(t->objects, objs, n * sizeof(*objs));
	t->wait_type = type;
	t->first_block = fg_kernel_thread_wait(s->k, t->va, objs, n, type);
}

static uint64_t add_object(fg_sample *s, const char *kobject, int32_t signal)
{
	if (s->nobjects >= FG_SAMPLE_MAX_OBJECTS)
		die("too many objects");
	fg_sample_object *o = &s->objects[s->nobjects++];
	o->kobject = kobject;
	o->signal = signal;
	o->va = fg_kernel_add_object(s->k, kobject, signal);
	return o->va;
}

static void ready(fg_sample *s, unsigned i, int cpu, unsigned priority)
{
	fg_sample_thread *t = &s->threads[i];
	fg_kernel_ready_thread(s->k, cpu, t->va, priority);
	t->state = (unsigned)fg_kernel_enum(s->k, KH_E_KTHREAD_STATE, "Ready");
	t->priority = priority;
	t->processor = cpu >= 0 ? (uint32_t)cpu : 0;
	t->ready = cpu;
	s->nready++;
}

static void setup_cpus(fg_sample *s)
{
	fg_kernel *k = s->k;
	const kh_layout *l = s->l;
	for (unsigned i = 0; i < s->ncpus; i++) {
		fg_sample_cpu *c = &s->cpus[i];
		uint64_t prcb = fg_kernel_prcb(k, i);
		c->kprcb = prcb;
		c->kpcr = fg_kernel_pcr(k, i);
		c->idle = c->current = fg_kernel_idle_thread(k, i);
		c->irql = i == 0 ? 2 : 0;
		c->mhz = 2295;
		c->family = 6;
		c->model = 79;
		c->stepping = 1;
		c->features = 0x311b3fff;
		c->interrupts = 0x6b89 + i;
		c->ticks[0] = 0x3191 + i;
		c->ticks[1] = 9 + i;
		c->ticks[2] = 1;
		c->ticks[3] = i;
		c->dpc = i;
		c->tdpc = i % 2;
		must(k, c->kpcr, KH_F_KPCR_Irql, c->irql);
		must(k, prcb, KH_F_KPRCB_MHz, c->mhz);
		must(k, prcb, KH_F_KPRCB_CpuType, c->family);
		must(k, prcb, KH_F_KPRCB_CpuModel, c->model);
		must(k, prcb, KH_F_KPRCB_CpuStepping, c->stepping);
		must(k, prcb, KH_F_KPRCB_FeatureBits, c->features);
		must(k, prcb, KH_F_KPRCB_InterruptCount, c->interrupts);
		must(k, prcb, KH_F_KPRCB_KernelTime, c->ticks[0]);
		must(k, prcb, KH_F_KPRCB_UserTime, c->ticks[1]);
		must(k, prcb, KH_F_KPRCB_DpcTime, c->ticks[2]);
		must(k, prcb, KH_F_KPRCB_InterruptTime, c->ticks[3]);
		must(k, prcb, KH_F_KPRCB_DpcQueueDepth, c->dpc);
		must(k, prcb, KH_F_KPRCB_ThreadedDpcQueueDepth, c->tdpc);
		must(k, prcb, KH_F_KPRCB_GroupIndex, i);
		fg_kernel_write(k, fg_kernel_addr(k, prcb, KH_F_KPRCB_VendorString), "GenuineIntel", 13);
		uint64_t specials =
		    fg_kernel_addr(k, fg_kernel_addr(k, prcb, KH_F_KPRCB_ProcessorState), KH_F_KPROCESSOR_STATE_SpecialRegisters);
		c->cr0 = 0x80050033;
		c->cr3 = fg_kernel_dtb(s->f);
		c->cr4 = s->x86 ? 0x406f9 : 0x1506f8;
		c->gdtr_base = s->x86 ? 0x80b95000u + 0x1000u * i : 0xfffff8035b000000ull + 0x10000ull * i;
		c->idtr_base = c->gdtr_base + 0x800;
		c->gdtr_limit = 0x57;
		c->idtr_limit = 0xfff;
		c->lstar = s->x86 ? 0 : fg_kernel_base(k) + 0x200000;
		must(k, specials, KH_F_KSPECIAL_REGISTERS_Cr0, c->cr0);
		must(k, specials, KH_F_KSPECIAL_REGISTERS_Cr3, c->cr3);
		must(k, specials, KH_F_KSPECIAL_REGISTERS_Cr4, c->cr4);
		must(k, fg_kernel_addr(k, specials, KH_F_KSPECIAL_REGISTERS_Gdtr), KH_F_KDESCRIPTOR_Base, c->gdtr_base);
		must(k, fg_kernel_addr(k, specials, KH_F_KSPECIAL_REGISTERS_Gdtr), KH_F_KDESCRIPTOR_Limit, c->gdtr_limit);
		must(k, fg_kernel_addr(k, specials, KH_F_KSPECIAL_REGISTERS_Idtr), KH_F_KDESCRIPTOR_Base, c->idtr_base);
		must(k, fg_kernel_addr(k, specials, KH_F_KSPECIAL_REGISTERS_Idtr), KH_F_KDESCRIPTOR_Limit, c->idtr_limit);
		if (kh_layout_has(l, KH_F_KSPECIAL_REGISTERS_MsrLStar))
			must(k, specials, KH_F_KSPECIAL_REGISTERS_MsrLStar, c->lstar);
	}
}

fg_sample *fg_sample_new(const kh_layout *l, unsigned ncpus)
{
	kh_layout_info li;
	kh_layout_get_info(l, &li);
	if (ncpus < 3 || ncpus > 8)
		die("ncpus must be 3..8");
	fg_sample *s = calloc(1, sizeof(*s));
	if (!s)
		die("out of memory");
	s->l = l;
	s->x86 = li.arch == KHANG_ARCH_X86;
	s->ncpus = ncpus;
	s->f = fg_new(s->x86 ? (li.pae ? FG_X86_PAE : FG_X86) : FG_X64, 8192);
	if (!s->f)
		die("fg_new");
	fg_kernel_opts o = { 0 };
	o.ncpus = ncpus;
	o.tick_count = FG_SAMPLE_TICK_COUNT;
	s->k = fg_kernel_new(s->f, l, &o);
	if (!s->k)
		die("fg_kernel_new");
	fg_kernel *k = s->k;
	s->shared_queue = fg_kernel_shared_ready_queue(k);
	setup_cpus(s);

	/* System and its thread (made by fg_kernel_new) */
	fg_sample_process *sys = &s->procs[s->nprocs++];
	memset(sys, 0, sizeof(*sys));
	sys->va = fg_kernel_system_process(k);
	sys->pid = 4;
	sys->name = "System";
	sys->session = -1;
	sys->base_priority = -1; /* not written */
	uint64_t tle = read_ptr(s, fg_kernel_addr(k, sys->va, KH_F_EPROCESS_ThreadListHead));
	unsigned st = add_thread(s, 0, 8, tle - kh_layout_offset(l, KH_F_ETHREAD_ThreadListEntry));
	set_state(s, st, "Waiting", "WrQueue", 0);

	/* svchost.exe */
	unsigned svc = add_process(s, "svchost.exe", 0x3c0, 0x2a0, 0);
	unsigned s0 = add_thread(s, svc, 0x3c4, 0);
	unsigned s1 = add_thread(s, svc, 0x3c8, 0);
	unsigned s2 = add_thread(s, svc, 0x3cc, 0);

	/* explorer.exe */
	unsigned ex = add_process(s, "explorer.exe", 0xc8c, 0xdb8, 1);
	s->explorer = ex;
	fg_sample_process *exp = &s->procs[ex];
	exp->path = "\\Device\\HarddiskVolume1\\Windows\\explorer.exe";
	exp->gui = 1;
	exp->handles = 184;
	fg_kernel_set_image_path(k, exp->va, exp->path);
	must(k, exp->va, KH_F_EPROCESS_Win32Process, s->x86 ? 0xfe600000u : 0xfffff90100600000ull);
	fg_kernel_set_handle_count(k, exp->va, exp->handles);
	unsigned e0 = add_thread(s, ex, 0xfe8, 0);  /* a window thread */
	unsigned e1 = add_thread(s, ex, 0xcc4, 0);  /* waits on every type */
	unsigned e2 = add_thread(s, ex, 0xfac, 0);  /* the main thread */
	unsigned e3 = add_thread(s, ex, 0xa54, 0);  /* ready, CPU 0, 8 */
	unsigned e4 = add_thread(s, ex, 0x198, 0);  /* ready, CPU 0, 10 */
	unsigned e5 = add_thread(s, ex, 0x3d8, 0);  /* ready, shared queue 9 */
	unsigned e6 = add_thread(s, ex, 0x418, 0);  /* running on CPU 1 */
	unsigned e7 = add_thread(s, ex, 0x410, 0);  /* standby on CPU 2 */
	unsigned e8 = add_thread(s, ex, 0x40c, 0);  /* IRPs, waits on a queue */
	unsigned e9 = add_thread(s, ex, 0x31c, 0);  /* suspended */
	s->main_thread = e2;
	s->all_types_waiter = e1;
	s->irp_thread = e8;
	s->running = e6;
	s->standby = e7;

	/* every other state */
	for (int v = 0; v < 16; v++) {
		const char *n = kh_layout_enum_name(l, KH_E_KTHREAD_STATE, v);
		if (!n || !strcmp(n, "Waiting") || !strcmp(n, "Ready") || !strcmp(n, "Running") || !strcmp(n, "Standby"))
			continue;
		unsigned t = add_thread(s, ex, 0x1000 + 4u * (unsigned)v, 0);
		set_state(s, t, n, "Executive", 0);
		if (!strcmp(n, "Terminated")) {
			s->threads[t].terminated = 1;
			must(k, s->threads[t].va, KH_F_ETHREAD_Terminated, 1);
		}
	}
	/* every wait reason (waiting on one event, below) */
	unsigned first_reason = s->nthreads;
	for (int v = 0; v < 64; v++) {
		const char *n = kh_layout_enum_name(l, KH_E_KWAIT_REASON, v);
		if (!n || !strncmp(n, "Maximum", 7))
			break;
		unsigned t = add_thread(s, ex, 0x2000 + 4u * (unsigned)v, 0);
		set_state(s, t, "Waiting", n, v % 2);
	}
	unsigned end_reason = s->nthreads;

	/* zombie.exe: exiting, one terminated thread */
	unsigned zb = add_process(s, "zombie.exe", 0x1234, 0xc8c, 1);
	fg_sample_process *zp = &s->procs[zb];
	zp->exiting = 1;
	zp->exit_time = zp->create_time + 50000000ull;
	must(k, zp->va, KH_F_EPROCESS_ProcessExiting, 1);
	must(k, zp->va, KH_F_EPROCESS_ExitTime, zp->exit_time);
	unsigned z0 = add_thread(s, zb, 0x1238, 0);
	set_state(s, z0, "Terminated", "WrTerminated", 0);
	s->threads[z0].terminated = 1;
	must(k, s->threads[z0].va, KH_F_ETHREAD_Terminated, 1);

	/* dispatcher objects */
	uint64_t ev_n = add_object(s, "EventNotificationObject", 0);
	uint64_t ev_s = add_object(s, "EventSynchronizationObject", 0);
	uint64_t mut = add_object(s, "MutantObject", 0);
	s->objects[s->nobjects - 1].owner = s->threads[s1].va;
	must(k, mut, KH_F_KMUTANT_OwnerThread, s->threads[s1].va);
	uint64_t sem = add_object(s, "SemaphoreObject", 2);
	uint64_t tmn = add_object(s, "TimerNotificationObject", 0);
	uint64_t tms = add_object(s, "TimerSynchronizationObject", 0);
	uint64_t que = add_object(s, "QueueObject", 0);
	uint64_t gat = add_object(s, "GateObject", 0);

	/* waits and states */
	set_state(s, s0, "Waiting", "UserRequest", 1);
	wait_on(s, s0, &ev_n, 1, 1);
	set_state(s, s1, "Waiting", "WrLpcReply", 1);
	wait_on(s, s1, &ev_s, 1, 1);
	set_state(s, s2, "Waiting", "Executive", 0);
	uint64_t tp[2] = { s->threads[e2].va, zp->va };
	wait_on(s, s2, tp, 2, 0);
	set_state(s, st, "Waiting", "WrQueue", 0);
	wait_on(s, st, &que, 1, 1);

	set_state(s, e0, "Waiting", "WrUserRequest", 1);
	set_gui(s, e0);
	wait_on(s, e0, &ev_s, 1, 1);
	set_state(s, e1, "Waiting", "UserRequest", 1);
	uint64_t all[10] = { ev_n, ev_s, mut, sem, tmn, tms, que, gat, s->threads[s0].va, s->procs[svc].va };
	wait_on(s, e1, all, 10, 1);
	set_state(s, e2, "Waiting", "WrUserRequest", 1);
	set_gui(s, e2);
	uint64_t two[2] = { ev_n, mut };
	wait_on(s, e2, two, 2, 1);
	/* the main thread was created first: earliest time, not first on the list */
	s->threads[e2].create_time = exp->create_time + 1;
	must(k, s->threads[e2].va, KH_F_ETHREAD_CreateTime, s->threads[e2].create_time);
	set_state(s, e3, "Ready", "Executive", 0);
	ready(s, e3, 0, 8);
	set_state(s, e4, "Ready", "WrQueue", 0);
	ready(s, e4, 0, 10);
	set_state(s, e5, "Ready", "Executive", 0);
	ready(s, e5, s->shared_queue ? -1 : (int)ncpus - 1, 9);
	set_state(s, e6, "Running", "Executive", 0);
	s->threads[e6].processor = 1;
	if (fg_kernel_set(k, s->threads[e6].va, KH_F_KTHREAD_NextProcessorNumber, 1) != 0)
		must(k, s->threads[e6].va, KH_F_KTHREAD_NextProcessor, 1);
	fg_kernel_set_current(k, 1, s->threads[e6].va);
	s->cpus[1].current = s->threads[e6].va;
	set_state(s, e7, "Standby", "Executive", 0);
	s->threads[e7].processor = 2;
	if (fg_kernel_set(k, s->threads[e7].va, KH_F_KTHREAD_NextProcessorNumber, 2) != 0)
		must(k, s->threads[e7].va, KH_F_KTHREAD_NextProcessor, 2);
	must(k, fg_kernel_prcb(k, 2), KH_F_KPRCB_NextThread, s->threads[e7].va);
	s->cpus[2].next = s->threads[e7].va;
	set_state(s, e8, "Waiting", "WrQueue", 0);
	s->threads[e8].alertable = 1;
	must(k, s->threads[e8].va, KH_F_KTHREAD_Alertable, 1);
	wait_on(s, e8, &que, 1, 1);
	for (unsigned i = 0; i < 2; i++)
		s->threads[e8].irps[s->threads[e8].nirps++] = fg_kernel_add_irp(k, s->threads[e8].va);
	set_state(s, e9, "Waiting", "Suspended", 0);
	s->threads[e9].suspend_count = 1;
	must(k, s->threads[e9].va, KH_F_KTHREAD_SuspendCount, 1);
	wait_on(s, e9, &sem, 1, 1);
	for (unsigned t = first_reason; t < end_reason; t++)
		wait_on(s, t, &ev_s, 1, 1);
	return s;
}

void fg_sample_free(fg_sample *s)
{
	if (!s)
		return;
	fg_kernel_free(s->k);
	fg_free(s->f);
	free(s);
}

static void opts_for(fg_write_opts *wo, fg_format fmt)
{
	fg_write_opts d = FG_WRITE_OPTS_INIT;
	*wo = d;
	wo->format = fmt;
	wo->kernel_only = fmt != FG_FMT_FULL;
}

int fg_sample_write(fg_sample *s, fg_format fmt, uint8_t **out, size_t *len)
{
	fg_write_opts wo;
	opts_for(&wo, fmt);
	return fg_write_memory(s->f, out, len, &wo);
}

int fg_sample_write_file(fg_sample *s, fg_format fmt, const char *path)
{
	fg_write_opts wo;
	opts_for(&wo, fmt);
	return fg_write_file(s->f, path, &wo);
}

int fg_sample_thread_index(const fg_sample *s, uint64_t va)
{
	for (unsigned i = 0; i < s->nthreads; i++)
		if (s->threads[i].va == va)
			return (int)i;
	return -1;
}

int fg_sample_first_page(fg_sample *s, fg_format fmt, uint64_t *out)
{
	fg_write_opts wo;
	fg_layout lay;
	opts_for(&wo, fmt);
	if (fg_layout_of(s->f, &wo, &lay) != 0)
		return -1;
	*out = lay.first_page;
	return 0;
}

int64_t fg_sample_file_offset(fg_sample *s, fg_format fmt, uint64_t va)
{
	fg_write_opts wo;
	uint64_t pa, off;
	opts_for(&wo, fmt);
	if (fg_translate(s->f, fg_kernel_dtb(s->f), va, &pa) != 0 || fg_page_offset(s->f, &wo, pa >> 12, &off) != 0 || !off)
		return -1;
	return (int64_t)(off + (pa & 0xFFF));
}

fg_sample *fg_sample_walk_base(int index)
{
	const kh_layout *l = NULL;
	if (index == 0) {
		l = kh_layout_builtin_by_guid_string("5278AFF86C341677D7D7835C85B7B844", 1);
	} else if (index == 1) {
		for (size_t i = 0; i < kh_layout_builtin_count() && !l; i++) {
			kh_layout_info li;
			kh_layout_get_info(kh_layout_builtin_at(i), &li);
			if (li.source == KH_LAYOUT_BUILTIN_GUID && li.build == 7601)
				l = kh_layout_builtin_at(i);
		}
	} else if (index == 2 || index == 3) {
		kh_layout_candidate c[4];
		if (kh_layout_builtin_candidates(KHANG_ARCH_X86, 7601, index == 2, c, 4) > 0)
			l = c[0].layout;
	}
	return l ? fg_sample_add_irp(fg_sample_new(l, 4)) : NULL;
}

fg_sample *fg_sample_add_irp(fg_sample *s)
{
	fg_kernel *k = s->k;
	uint64_t kb = fg_kernel_base(k);
	for (unsigned i = 0; i < s->nthreads; i++) {
		if (s->threads[i].nirps != 2)
			continue;
		fg_kernel_add_module(k, "partmgr.sys", kb + 0x5000000, 0x20000);
		fg_kernel_add_module(k, "disk.sys", kb + 0x5100000, 0x20000);
		uint64_t pm = fg_kernel_add_device(k, fg_kernel_add_driver(k, "\\Driver\\partmgr", kb + 0x5000000, 0x20000));
		uint64_t disk = fg_kernel_add_device(k, fg_kernel_add_driver(k, "\\Driver\\disk", kb + 0x5100000, 0x20000));
		uint64_t irp = fg_kernel_new_irp(k, s->threads[i].va, 3, 2);
		for (int n = 2; n <= 3; n++) {
			uint64_t loc = fg_kernel_irp_location(k, irp, n);
			fg_kernel_set(k, loc, KH_F_IO_STACK_LOCATION_MajorFunction, 3); /* IRP_MJ_READ */
			fg_kernel_set(k, loc, KH_F_IO_STACK_LOCATION_DeviceObject, n == 2 ? disk : pm);
			fg_kernel_set(k, loc, KH_F_IO_STACK_LOCATION_CompletionRoutine, kb + 0x5000400);
		}
		fg_kernel_set(k, irp, KH_F_IRP_Status, 0x103);
		fg_kernel_list_append(k, fg_kernel_addr(k, s->threads[i].va, KH_F_ETHREAD_IrpList),
		                      fg_kernel_addr(k, irp, KH_F_IRP_ThreadListEntry));
		break;
	}
	return s;
}

/* Processors (KiProcessorBlock -> KPRCB, KPCR), their registers, and the
 * ready queues. */
#include <stdio.h>
#include <stdlib.h>

#include "objects.h"

#define READY_PRIORITIES 32u

struct khang_processor_iter {
	kh_objects *o;
	uint32_t next;
};

typedef struct ready_item {
	uint64_t thread;
	uint64_t queue;
	int64_t ready_ms;
	int32_t processor;
	uint32_t priority;
	const khang_thread *handle;
} ready_item;

struct khang_ready_iter {
	kh_objects *o;
	ready_item *items;
	size_t n, cap, next;
	uint32_t skipped;
};

/* ---- loading --------------------------------------------------------------------- */

static int64_t field_i64(kh_objects *o, uint64_t va, kh_field_id id)
{
	uint64_t v;
	if (!kh_layout_has(o->l, id) || kh_read_field(o->src, 0, va, o->l, id, &v) < 0)
		return -1;
	return (int64_t)v;
}

static uint64_t field_ptr(kh_objects *o, uint64_t va, kh_field_id id)
{
	uint64_t v;
	if (!kh_layout_has(o->l, id) || kh_read_field(o->src, 0, va, o->l, id, &v) < 0)
		return 0;
	return v;
}

static void read_processor(kh_objects *o, khang_processor *p, uint32_t i, uint64_t kpb)
{
	khang_source *src = o->src;
	const kh_layout *l = o->l;
	uint64_t prcb = 0, num;
	p->magic = KH_CPU_MAGIC;
	p->index = i;
	p->o = o;
	p->irql = -1;
	int rc = kh_vread_ptr(src, 0, kpb + (uint64_t)i * o->ps, &prcb);
	if (rc < 0 || !prcb) {
		p->err = KHANG_ENOTPRESENT;
		o->cpus_skipped++;
		kh_source_warn(src, "processor %u: KiProcessorBlock[%u] is %s", i, i, rc < 0 ? "not in the dump" : "NULL");
		return;
	}
	p->kprcb = prcb;
	p->kpcr = prcb - kh_layout_offset(l, KH_F_KPCR_Prcb);
	if (kh_read_field(src, 0, prcb, l, KH_F_KPRCB_Number, &num) < 0) {
		p->err = KHANG_ENOTPRESENT;
		o->cpus_skipped++;
		kh_source_warn(src, "processor %u: KPRCB 0x%llx is not in the dump", i, (unsigned long long)prcb);
		return;
	}
	if (num != i) {
		p->err = KHANG_ECORRUPT;
		o->cpus_skipped++;
		kh_source_warn(src, "processor %u: KPRCB 0x%llx holds processor number %llu", i, (unsigned long long)prcb,
		               (unsigned long long)num);
		return;
	}
	p->ok = true;
	p->current = field_ptr(o, prcb, KH_F_KPRCB_CurrentThread);
	p->next = field_ptr(o, prcb, KH_F_KPRCB_NextThread);
	p->idle = field_ptr(o, prcb, KH_F_KPRCB_IdleThread);
	p->shared_ready_queue = field_ptr(o, prcb, KH_F_KPRCB_SharedReadyQueue);
	int64_t irql = field_i64(o, p->kpcr, KH_F_KPCR_Irql);
	p->irql = irql >= 0 && irql < 256 ? (int)irql : -1;
	p->mhz = field_i64(o, prcb, KH_F_KPRCB_MHz);
	p->family = field_i64(o, prcb, KH_F_KPRCB_CpuType);
	p->model = field_i64(o, prcb, KH_F_KPRCB_CpuModel);
	p->stepping = field_i64(o, prcb, KH_F_KPRCB_CpuStepping);
	p->features = field_i64(o, prcb, KH_F_KPRCB_FeatureBits);
	p->group = field_i64(o, prcb, KH_F_KPRCB_Group);
	p->group_index = field_i64(o, prcb, KH_F_KPRCB_GroupIndex);
	p->interrupts = field_i64(o, prcb, KH_F_KPRCB_InterruptCount);
	p->ticks[KHANG_PROCESSOR_TIME_KERNEL] = field_i64(o, prcb, KH_F_KPRCB_KernelTime);
	p->ticks[KHANG_PROCESSOR_TIME_USER] = field_i64(o, prcb, KH_F_KPRCB_UserTime);
	p->ticks[KHANG_PROCESSOR_TIME_DPC] = field_i64(o, prcb, KH_F_KPRCB_DpcTime);
	p->ticks[KHANG_PROCESSOR_TIME_INTERRUPT] = field_i64(o, prcb, KH_F_KPRCB_InterruptTime);
	p->dpc_depth = field_i64(o, prcb, KH_F_KPRCB_DpcQueueDepth);
	p->tdpc_depth = field_i64(o, prcb, KH_F_KPRCB_ThreadedDpcQueueDepth);
	p->ready_summary = field_i64(o, prcb, KH_F_KPRCB_ReadySummary);
	/* VendorString: 12 characters and a NUL; printable ASCII only */
	uint64_t vs = kh_field_addr(l, prcb, KH_F_KPRCB_VendorString);
	char v[13];
	if (vs && kh_vread(src, 0, vs, v, 12) == 0) {
		size_t j;
		for (j = 0; j < 12 && v[j]; j++)
			p->vendor[j] = (v[j] >= 0x20 && v[j] < 0x7F) ? v[j] : '?';
		p->vendor[j] = '\0';
	}
}

static uint32_t declared_count(kh_objects *o)
{
	uint64_t g = kh_kernel_global(o->k, KH_G_KeNumberProcessors);
	uint32_t n = 0;
	if (!g || kh_vread_u32(o->src, 0, g, &n) < 0 || n == 0 || n > KH_MAX_CPUS)
		n = o->src->info.processors;
	if (n > KH_MAX_CPUS)
		n = KH_MAX_CPUS;
	return n ? n : 1;
}

static int load_processors(kh_objects *o)
{
	const kh_layout *l = o->l;
	if (!kh_layout_has(l, KH_F_KPCR_Prcb) || !kh_layout_has(l, KH_F_KPRCB_Number) ||
	    !kh_layout_has(l, KH_F_KPRCB_CurrentThread))
		return kh_error(KHANG_EUNSUPPORTED, "processors: the layout %s has no KPRCB fields",
		                khang_layout_description((const khang_layout *)l));
	uint64_t kpb = o->k->ki_processor_block;
	if (!kpb)
		return kh_error(KHANG_ENOTFOUND, "processors: nt!KiProcessorBlock is unknown");
	uint32_t n = declared_count(o);
	o->cpus = kh_calloc(&o->src->alloc, n, sizeof(*o->cpus));
	if (!o->cpus)
		return KHANG_ENOMEM;
	o->ncpus = n;
	for (uint32_t i = 0; i < n; i++)
		read_processor(o, &o->cpus[i], i, kpb);
	return 0;
}

int kh_load_processors(kh_objects *o)
{
	if (!o->cpus_loaded) {
		o->cpus_loaded = true;
		o->cpus_status = load_processors(o);
		if (o->cpus_status < 0)
			kh_copy_str(o->cpus_msg, sizeof(o->cpus_msg), khang_error_last());
	}
	if (o->cpus_status < 0)
		return kh_error(o->cpus_status, "%s", o->cpus_msg);
	return 0;
}

static int processors_of(khang_source *src, kh_objects **out)
{
	int rc = kh_objects_get(src, out);
	if (rc < 0)
		return rc;
	return kh_load_processors(*out);
}

/* ---- public: iteration ---------------------------------------------------------- */

KHANG_API int khang_processor_iter_new(khang_processor_iter **out, khang_source *src)
{
	kh_objects *o;
	if (!out || !kh_source_ok(src))
		return kh_error(KHANG_EINVAL, "khang_processor_iter_new: NULL or invalid argument");
	*out = NULL;
	int rc = processors_of(src, &o);
	if (rc < 0)
		return rc;
	khang_processor_iter *it = kh_calloc(&src->alloc, 1, sizeof(*it));
	if (!it)
		return KHANG_ENOMEM;
	it->o = o;
	*out = it;
	return 0;
}

KHANG_API int khang_processor_next(const khang_processor **out, khang_processor_iter *it)
{
	if (!out || !it)
		return kh_error(KHANG_EINVAL, "khang_processor_next: NULL argument");
	while (it->next < it->o->ncpus) {
		const khang_processor *p = &it->o->cpus[it->next++];
		if (p->ok) {
			*out = p;
			return 0;
		}
	}
	return KHANG_ITEROVER;
}

KHANG_API void khang_processor_iter_free(khang_processor_iter *it)
{
	if (it)
		kh_free(&it->o->src->alloc, it);
}

KHANG_API uint32_t khang_processor_iter_skipped(const khang_processor_iter *it)
{
	return it ? it->o->cpus_skipped : 0;
}

KHANG_API int khang_processor_count(uint32_t *out, khang_source *src)
{
	kh_objects *o;
	if (!out || !kh_source_ok(src))
		return kh_error(KHANG_EINVAL, "khang_processor_count: NULL or invalid argument");
	int rc = processors_of(src, &o);
	if (rc < 0)
		return rc;
	*out = o->ncpus;
	return 0;
}

KHANG_API int khang_processor_get(const khang_processor **out, khang_source *src, uint32_t index)
{
	kh_objects *o;
	if (!out || !kh_source_ok(src))
		return kh_error(KHANG_EINVAL, "khang_processor_get: NULL or invalid argument");
	*out = NULL;
	int rc = processors_of(src, &o);
	if (rc < 0)
		return rc;
	if (index >= o->ncpus)
		return kh_error(KHANG_ENOTFOUND, "processor %u: the system has %u processors", index, o->ncpus);
	const khang_processor *p = &o->cpus[index];
	if (!p->ok)
		return kh_error(p->err, "processor %u: its KPRCB (0x%llx) %s", index, (unsigned long long)p->kprcb,
		                p->err == KHANG_ECORRUPT ? "holds another processor number" : "is not in the dump");
	*out = p;
	return 0;
}

/* ---- public: accessors ------------------------------------------------------------ */

KHANG_API uint32_t khang_processor_index(const khang_processor *p)
{
	return kh_processor_ok(p) ? p->index : 0;
}

KHANG_API uint64_t khang_processor_kpcr(const khang_processor *p)
{
	return kh_processor_ok(p) ? p->kpcr : 0;
}

KHANG_API uint64_t khang_processor_kprcb(const khang_processor *p)
{
	return kh_processor_ok(p) ? p->kprcb : 0;
}

KHANG_API uint64_t khang_processor_current_thread_address(const khang_processor *p)
{
	return kh_processor_ok(p) ? p->current : 0;
}

KHANG_API uint64_t khang_processor_next_thread_address(const khang_processor *p)
{
	return kh_processor_ok(p) ? p->next : 0;
}

KHANG_API uint64_t khang_processor_idle_thread_address(const khang_processor *p)
{
	return kh_processor_ok(p) ? p->idle : 0;
}

KHANG_API int khang_processor_thread(const khang_thread **out, const khang_processor *p, khang_processor_slot slot)
{
	if (!out || !kh_processor_ok(p))
		return kh_error(KHANG_EINVAL, "khang_processor_thread: NULL or invalid argument");
	*out = NULL;
	uint64_t va;
	switch (slot) {
	case KHANG_PROCESSOR_CURRENT: va = p->current; break;
	case KHANG_PROCESSOR_NEXT: va = p->next; break;
	case KHANG_PROCESSOR_IDLE: va = p->idle; break;
	default: return kh_error(KHANG_EINVAL, "khang_processor_thread: unknown slot %d", (int)slot);
	}
	if (!va)
		return kh_error(KHANG_ENOTFOUND, "processor %u: no %s thread", p->index,
		                slot == KHANG_PROCESSOR_NEXT ? "next" : slot == KHANG_PROCESSOR_IDLE ? "idle" : "current");
	khang_thread *t;
	int rc = kh_find_thread(p->o, va, &t);
	if (rc < 0)
		return kh_error_context(rc, "processor %u", p->index);
	*out = t;
	return 0;
}

KHANG_API int khang_processor_is_idle(const khang_processor *p)
{
	if (!kh_processor_ok(p) || !p->current || !p->idle)
		return -1;
	return p->current == p->idle;
}

KHANG_API int khang_processor_irql(const khang_processor *p)
{
	return kh_processor_ok(p) ? p->irql : -1;
}

#define P_I64(name, field)                                        \
	KHANG_API int64_t khang_processor_##name(const khang_processor *p) \
	{                                                         \
		return kh_processor_ok(p) ? p->field : -1;        \
	}
P_I64(mhz, mhz)
P_I64(family, family)
P_I64(model, model)
P_I64(stepping, stepping)
P_I64(feature_bits, features)
P_I64(group, group)
P_I64(group_index, group_index)
P_I64(interrupt_count, interrupts)
P_I64(dpc_queue_depth, dpc_depth)
P_I64(threaded_dpc_queue_depth, tdpc_depth)
P_I64(ready_summary, ready_summary)
#undef P_I64

#define DPC_MIN_SIZE (offsetof(khang_processor_dpc, routine) + sizeof(uint64_t))

KHANG_API int khang_processor_dpc_info(khang_processor_dpc *out, const khang_processor *p)
{
	if (!out || out->size < DPC_MIN_SIZE || !kh_processor_ok(p))
		return kh_error(KHANG_EINVAL, "khang_processor_dpc_info: NULL or invalid argument (set out->size)");
	kh_objects *o = p->o;
	khang_processor_dpc d;
	memset(&d, 0, sizeof(d));
	d.active_dpc = field_ptr(o, p->kprcb, KH_F_KPRCB_ActiveDpc);
	d.routine = field_ptr(o, p->kprcb, KH_F_KPRCB_CurrentDpcRoutine);
	if (!d.routine && d.active_dpc)
		d.routine = field_ptr(o, d.active_dpc, KH_F_KDPC_DeferredRoutine);
	int64_t active = field_i64(o, p->kprcb, KH_F_KPRCB_DpcRoutineActive);
	d.routine_active = active < 0 ? -1 : active != 0;
	d.time_count = field_i64(o, p->kprcb, KH_F_KPRCB_DpcTimeCount);
	d.time_limit = field_i64(o, p->kprcb, KH_F_KPRCB_DpcTimeLimit);
	d.watchdog_period = field_i64(o, p->kprcb, KH_F_KPRCB_DpcWatchdogPeriod);
	d.watchdog_count = field_i64(o, p->kprcb, KH_F_KPRCB_DpcWatchdogCount);
	size_t n = KH_MIN(out->size, sizeof(d));
	d.size = n;
	memcpy(out, &d, n);
	return 0;
}

KHANG_API const char *khang_processor_vendor(const khang_processor *p)
{
	return kh_processor_ok(p) ? p->vendor : "";
}

KHANG_API int64_t khang_processor_ticks(const khang_processor *p, khang_processor_time which)
{
	if (!kh_processor_ok(p) || (unsigned)which > KHANG_PROCESSOR_TIME_INTERRUPT)
		return -1;
	return p->ticks[which];
}

KHANG_API uint64_t khang_processor_shared_ready_queue(const khang_processor *p)
{
	return kh_processor_ok(p) ? p->shared_ready_queue : 0;
}

/* ---- registers ------------------------------------------------------------------------ */

static const struct {
	const char *name;
	kh_field_id field;      /* KSPECIAL_REGISTERS field */
	kh_field_id sub;        /* KDESCRIPTOR field for GDTR/IDTR, else the same as field */
} registers[KHANG_REG_COUNT] = {
	[KHANG_REG_CR0] = { "cr0", KH_F_KSPECIAL_REGISTERS_Cr0, KH_F_KSPECIAL_REGISTERS_Cr0 },
	[KHANG_REG_CR2] = { "cr2", KH_F_KSPECIAL_REGISTERS_Cr2, KH_F_KSPECIAL_REGISTERS_Cr2 },
	[KHANG_REG_CR3] = { "cr3", KH_F_KSPECIAL_REGISTERS_Cr3, KH_F_KSPECIAL_REGISTERS_Cr3 },
	[KHANG_REG_CR4] = { "cr4", KH_F_KSPECIAL_REGISTERS_Cr4, KH_F_KSPECIAL_REGISTERS_Cr4 },
	[KHANG_REG_CR8] = { "cr8", KH_F_KSPECIAL_REGISTERS_Cr8, KH_F_KSPECIAL_REGISTERS_Cr8 },
	[KHANG_REG_KERNEL_DR0] = { "kernel_dr0", KH_F_KSPECIAL_REGISTERS_KernelDr0, KH_F_KSPECIAL_REGISTERS_KernelDr0 },
	[KHANG_REG_KERNEL_DR7] = { "kernel_dr7", KH_F_KSPECIAL_REGISTERS_KernelDr7, KH_F_KSPECIAL_REGISTERS_KernelDr7 },
	[KHANG_REG_GDTR_BASE] = { "gdtr_base", KH_F_KSPECIAL_REGISTERS_Gdtr, KH_F_KDESCRIPTOR_Base },
	[KHANG_REG_GDTR_LIMIT] = { "gdtr_limit", KH_F_KSPECIAL_REGISTERS_Gdtr, KH_F_KDESCRIPTOR_Limit },
	[KHANG_REG_IDTR_BASE] = { "idtr_base", KH_F_KSPECIAL_REGISTERS_Idtr, KH_F_KDESCRIPTOR_Base },
	[KHANG_REG_IDTR_LIMIT] = { "idtr_limit", KH_F_KSPECIAL_REGISTERS_Idtr, KH_F_KDESCRIPTOR_Limit },
	[KHANG_REG_TR] = { "tr", KH_F_KSPECIAL_REGISTERS_Tr, KH_F_KSPECIAL_REGISTERS_Tr },
	[KHANG_REG_LDTR] = { "ldtr", KH_F_KSPECIAL_REGISTERS_Ldtr, KH_F_KSPECIAL_REGISTERS_Ldtr },
	[KHANG_REG_MSR_GS_BASE] = { "msr_gs_base", KH_F_KSPECIAL_REGISTERS_MsrGsBase, KH_F_KSPECIAL_REGISTERS_MsrGsBase },
	[KHANG_REG_MSR_KERNEL_GS_BASE] = { "msr_kernel_gs_base", KH_F_KSPECIAL_REGISTERS_MsrGsSwap,
	                                   KH_F_KSPECIAL_REGISTERS_MsrGsSwap },
	[KHANG_REG_MSR_STAR] = { "msr_star", KH_F_KSPECIAL_REGISTERS_MsrStar, KH_F_KSPECIAL_REGISTERS_MsrStar },
	[KHANG_REG_MSR_LSTAR] = { "msr_lstar", KH_F_KSPECIAL_REGISTERS_MsrLStar, KH_F_KSPECIAL_REGISTERS_MsrLStar },
	[KHANG_REG_MSR_CSTAR] = { "msr_cstar", KH_F_KSPECIAL_REGISTERS_MsrCStar, KH_F_KSPECIAL_REGISTERS_MsrCStar },
	[KHANG_REG_MSR_SYSCALL_MASK] = { "msr_syscall_mask", KH_F_KSPECIAL_REGISTERS_MsrSyscallMask,
	                                 KH_F_KSPECIAL_REGISTERS_MsrSyscallMask },
	[KHANG_REG_MSR_FS_BASE] = { "msr_fs_base", KH_F_KSPECIAL_REGISTERS_MsrFsBase, KH_F_KSPECIAL_REGISTERS_MsrFsBase },
	[KHANG_REG_XCR0] = { "xcr0", KH_F_KSPECIAL_REGISTERS_Xcr0, KH_F_KSPECIAL_REGISTERS_Xcr0 },
};

KHANG_API const char *khang_register_name(khang_register reg)
{
	return (unsigned)reg < KHANG_REG_COUNT ? registers[reg].name : "?";
}

KHANG_API int khang_processor_register(uint64_t *out, const khang_processor *p, khang_register reg)
{
	if (!out || !kh_processor_ok(p) || (unsigned)reg >= KHANG_REG_COUNT)
		return kh_error(KHANG_EINVAL, "khang_processor_register: NULL or invalid argument");
	const kh_layout *l = p->o->l;
	kh_field_id f = registers[reg].field, sub = registers[reg].sub;
	uint64_t state = kh_field_addr(l, p->kprcb, KH_F_KPRCB_ProcessorState);
	uint64_t specials = state ? kh_field_addr(l, state, KH_F_KPROCESSOR_STATE_SpecialRegisters) : 0;
	if (!specials || !kh_layout_has(l, f) || !kh_layout_has(l, sub))
		return kh_error(KHANG_ENOTFOUND, "processor %u: this kernel does not save %s", p->index,
		                registers[reg].name);
	int rc;
	if (sub != f)
		rc = kh_read_field(p->o->src, 0, kh_field_addr(l, specials, f), l, sub, out);
	else
		rc = kh_read_field(p->o->src, 0, specials, l, f, out);
	if (rc < 0)
		return kh_error_context(rc, "processor %u: %s", p->index, registers[reg].name);
	return 0;
}

/* ---- ready queues --------------------------------------------------------------------- */

typedef struct ready_walk {
	khang_ready_iter *it;
	uint32_t entry_off;
	uint32_t priority;
	int32_t processor;
	uint64_t queue;
} ready_walk;

static int add_ready(uint64_t entry, void *payload)
{
	ready_walk *w = payload;
	khang_ready_iter *it = w->it;
	kh_objects *o = it->o;
	uint64_t va = entry - w->entry_off;
	khang_thread *t;
	int rc = kh_find_thread(o, va, &t);
	if (rc < 0) {
		if (rc == KHANG_ENOMEM)
			return rc;
		it->skipped++;
		kh_source_warn(o->src, "ready queue 0x%llx priority %u: %s", (unsigned long long)w->queue, w->priority,
		               khang_error_last());
		return 0;
	}
	if (it->n == it->cap) {
		size_t ncap = it->cap ? it->cap * 2 : 16;
		ready_item *ni = kh_reallocarray(&o->src->alloc, it->items, ncap, sizeof(*ni));
		if (!ni)
			return KHANG_ENOMEM;
		it->items = ni;
		it->cap = ncap;
	}
	ready_item *r = &it->items[it->n++];
	r->thread = va;
	r->queue = w->queue;
	r->priority = w->priority;
	r->processor = w->processor;
	r->handle = t;
	r->ready_ms = (t->have & KH_T_WAIT_TIME) ? kh_ticks_since_ms(o, t->wait_time) : -1;
	return 0;
}

/* Walk the 32 lists of LIST_ENTRY[32] at heads. */
static int walk_queue(khang_ready_iter *it, uint64_t heads, uint64_t queue, int32_t processor)
{
	kh_objects *o = it->o;
	ready_walk w = { it, kh_layout_offset(o->l, KH_F_KTHREAD_WaitListEntry), 0, processor, queue };
	for (int prio = (int)READY_PRIORITIES - 1; prio >= 0; prio--) {
		uint32_t n;
		bool broken;
		w.priority = (uint32_t)prio;
		int rc = kh_walk_list(o->src, heads + (uint64_t)prio * 2 * o->ps, add_ready, &w, &n, &broken);
		if (rc < 0)
			return rc;
		if (broken) {
			it->skipped++;
			kh_source_warn(o->src, "ready queue 0x%llx priority %d: walk stopped after %u entries",
			               (unsigned long long)queue, prio, n);
		}
	}
	return 0;
}

static int collect_ready(khang_ready_iter *it, const khang_processor *only)
{
	kh_objects *o = it->o;
	const kh_layout *l = o->l;
	kh_addrset shared;
	int rc = 0;
	kh_addrset_init(&shared, &o->src->alloc);
	for (uint32_t i = 0; i < o->ncpus; i++) {
		const khang_processor *p = &o->cpus[i];
		if (!p->ok || (only && only != p))
			continue;
		uint64_t q = p->shared_ready_queue;
		if (q && kh_layout_has(l, KH_F_KSHARED_READY_QUEUE_ReadyListHead)) {
			int added = kh_addrset_add(&shared, q);
			if (added < 0) {
				rc = added;
				break;
			}
			if (added == 1) {
				rc = walk_queue(it, kh_field_addr(l, q, KH_F_KSHARED_READY_QUEUE_ReadyListHead), q, -1);
				if (rc < 0)
					break;
			}
		}
		uint64_t heads = kh_field_addr(l, p->kprcb, KH_F_KPRCB_DispatcherReadyListHead);
		if (heads) {
			rc = walk_queue(it, heads, p->kprcb, (int32_t)p->index);
			if (rc < 0)
				break;
		}
	}
	kh_addrset_free(&shared);
	return rc;
}

KHANG_API int khang_ready_iter_new(khang_ready_iter **out, khang_source *src, const khang_processor *processor)
{
	kh_objects *o;
	if (!out || !kh_source_ok(src) || (processor && !kh_processor_ok(processor)))
		return kh_error(KHANG_EINVAL, "khang_ready_iter_new: NULL or invalid argument");
	*out = NULL;
	int rc = processors_of(src, &o);
	if (rc < 0)
		return rc;
	if (processor && processor->o != o)
		return kh_error(KHANG_EINVAL, "khang_ready_iter_new: the processor belongs to another source");
	if (!kh_layout_has(o->l, KH_F_KTHREAD_WaitListEntry))
		return kh_error(KHANG_EUNSUPPORTED, "ready queues: the layout has no KTHREAD.WaitListEntry");
	khang_ready_iter *it = kh_calloc(&src->alloc, 1, sizeof(*it));
	if (!it)
		return KHANG_ENOMEM;
	it->o = o;
	rc = collect_ready(it, processor);
	if (rc < 0) {
		kh_free(&src->alloc, it->items);
		kh_free(&src->alloc, it);
		return rc;
	}
	*out = it;
	return 0;
}

KHANG_API int khang_ready_next(khang_ready_entry *out, khang_ready_iter *it)
{
	if (!out || !it || out->size < offsetof(khang_ready_entry, thread_address))
		return kh_error(KHANG_EINVAL, "khang_ready_next: NULL or invalid argument (set out->size)");
	if (it->next >= it->n)
		return KHANG_ITEROVER;
	const ready_item *r = &it->items[it->next++];
	khang_ready_entry tmp;
	memset(&tmp, 0, sizeof(tmp));
	tmp.thread = r->handle;
	tmp.thread_address = r->thread;
	tmp.priority = r->priority;
	tmp.processor = r->processor;
	tmp.queue = r->queue;
	tmp.ready_ms = r->ready_ms;
	size_t n = KH_MIN(out->size, sizeof(tmp));
	tmp.size = n;
	memcpy(out, &tmp, n);
	return 0;
}

KHANG_API uint32_t khang_ready_iter_skipped(const khang_ready_iter *it)
{
	return it ? it->skipped : 0;
}

KHANG_API void khang_ready_iter_free(khang_ready_iter *it)
{
	if (!it)
		return;
	const kh_alloc *a = &it->o->src->alloc;
	kh_free(a, it->items);
	kh_free(a, it);
}

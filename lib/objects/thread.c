/* Threads: each process's thread lists, iteration, lookups and accessors. */
#include <stdio.h>
#include <stdlib.h>

#include "objects.h"

struct khang_thread_iter {
	kh_objects *o;
	khang_process *only;   /* one process, or NULL for all */
	size_t pi;             /* process index (all) */
	size_t ti;             /* thread index within the process */
	bool entered;          /* the skipped count of process pi was added */
	uint32_t skipped;
};

/* ---- decoding ------------------------------------------------------------------ */

int kh_thread_decode(kh_objects *o, uint64_t va, uint64_t expect_process, khang_thread *t)
{
	const kh_layout *l = o->l;
	uint64_t v;
	memset(t, 0, sizeof(*t));
	t->magic = KH_THREAD_MAGIC;
	t->o = o;
	t->va = va;

	uint32_t size = kh_layout_struct_size(l, KH_S_ETHREAD);
	if (!size)
		size = kh_layout_struct_size(l, KH_S_KTHREAD);
	if (!size)
		size = kh_off(o, KH_F_KTHREAD_Process) + 0x100;
	if (kh_objbuf_read(o, va, size) < 0)
		return kh_error(KHANG_ENOTPRESENT, "thread 0x%llx: not in the dump", (unsigned long long)va);
	uint32_t hdr = kh_off(o, KH_F_KTHREAD_Header);
	if (kh_ob_type(o, hdr, &v) < 0)
		return kh_error(KHANG_ENOTPRESENT, "thread 0x%llx: header not in the dump", (unsigned long long)va);
	if ((int64_t)v != o->type_thread)
		return kh_error(KHANG_ECORRUPT, "0x%llx is not a thread (object type %llu)", (unsigned long long)va,
		                (unsigned long long)v);
	int rc = kh_ob_u64(o, 0, KH_F_KTHREAD_Process, &v);
	if (rc == 0)
		t->process_va = v;
	else if (expect_process)
		return kh_error(KHANG_ENOTPRESENT, "thread 0x%llx: KTHREAD.Process not in the dump", (unsigned long long)va);
	if (expect_process && t->process_va != expect_process)
		return kh_error(KHANG_ECORRUPT, "thread 0x%llx: KTHREAD.Process is 0x%llx, not its process 0x%llx",
		                (unsigned long long)va, (unsigned long long)t->process_va,
		                (unsigned long long)expect_process);

#define GET(id, field, bit, type)                       \
	do {                                            \
		if (kh_ob_u64(o, 0, (id), &v) == 0) {   \
			t->field = (type)v;             \
			t->have |= (bit);               \
		}                                       \
	} while (0)
	GET(KH_F_KTHREAD_State, state, KH_T_STATE, uint8_t);
	GET(KH_F_KTHREAD_WaitReason, wait_reason, KH_T_WAIT_REASON, uint8_t);
	GET(KH_F_KTHREAD_WaitMode, wait_mode, KH_T_WAIT_MODE, uint8_t);
	GET(KH_F_KTHREAD_WaitIrql, wait_irql, KH_T_WAIT_IRQL, uint8_t);
	GET(KH_F_KTHREAD_WaitTime, wait_time, KH_T_WAIT_TIME, uint32_t);
	GET(KH_F_KTHREAD_Priority, priority, KH_T_PRIORITY, uint8_t);
	GET(KH_F_KTHREAD_BasePriority, base_priority, KH_T_BASE_PRIORITY, uint8_t);
	if (kh_layout_has(l, KH_F_KTHREAD_NextProcessorNumber))
		GET(KH_F_KTHREAD_NextProcessorNumber, processor, KH_T_PROCESSOR, uint32_t);
	else
		GET(KH_F_KTHREAD_NextProcessor, processor, KH_T_PROCESSOR, uint32_t);
	GET(KH_F_KTHREAD_IdealProcessor, ideal, KH_T_IDEAL, uint32_t);
	GET(KH_F_KTHREAD_ContextSwitches, context_switches, KH_T_CSWITCH, uint32_t);
	GET(KH_F_KTHREAD_KernelTime, kernel_ticks, KH_T_KTIME, uint32_t);
	GET(KH_F_KTHREAD_UserTime, user_ticks, KH_T_UTIME, uint32_t);
	GET(KH_F_KTHREAD_SuspendCount, suspend_count, KH_T_SUSPEND, uint8_t);
	GET(KH_F_KTHREAD_Win32Thread, win32thread, KH_T_WIN32THREAD, uint64_t);
	GET(KH_F_ETHREAD_UniqueProcess, pid, KH_T_PID, uint64_t);
	GET(KH_F_ETHREAD_UniqueThread, tid, KH_T_TID, uint64_t);
	GET(KH_F_KTHREAD_WaitBlockList, wait_block_list, KH_T_WAIT_BLOCKS, uint64_t);
#undef GET
	if (kh_ob_u64(o, 0, KH_F_KTHREAD_Alertable, &v) == 0) {
		t->flags |= v ? 1 : 0;
		t->have |= KH_T_ALERTABLE;
	}
	if (kh_ob_u64(o, 0, KH_F_KTHREAD_SystemThread, &v) == 0) {
		t->flags |= v ? 2 : 0;
		t->have |= KH_T_SYSTEM;
	}
	if (kh_ob_u64(o, 0, KH_F_ETHREAD_Terminated, &v) == 0) {
		t->flags |= v ? 4 : 0;
		t->have |= KH_T_TERMINATED;
	}
	if (kh_layout_has(l, KH_F_KTHREAD_WaitBlockCount)) {
		if (kh_ob_u64(o, 0, KH_F_KTHREAD_WaitBlockCount, &v) == 0)
			t->wait_block_count = (uint8_t)v;
		else
			t->have &= ~(uint32_t)KH_T_WAIT_BLOCKS;
	}
	if (kh_ob_u64(o, 0, KH_F_KTHREAD_Teb, &v) == 0)
		t->teb = v;
	if (kh_ob_u64(o, 0, KH_F_ETHREAD_StartAddress, &v) == 0)
		t->start = v;
	if (kh_ob_u64(o, 0, KH_F_ETHREAD_Win32StartAddress, &v) == 0)
		t->win32start = v;
	if (kh_ob_u64(o, 0, KH_F_KTHREAD_InitialStack, &v) == 0)
		t->stack_init = v;
	if (kh_ob_u64(o, 0, KH_F_KTHREAD_StackBase, &v) == 0)
		t->stack_base = v;
	if (kh_ob_u64(o, 0, KH_F_KTHREAD_StackLimit, &v) == 0)
		t->stack_limit = v;
	if (kh_ob_u64(o, 0, KH_F_KTHREAD_KernelStack, &v) == 0)
		t->kernel_stack = v;
	uint8_t t8[8];
	if (kh_ob_bytes(o, 0, KH_F_ETHREAD_CreateTime, t8, 8) == 0)
		t->create_time = kh_le64(t8);
	return 0;
}

/* ---- a process's thread lists ------------------------------------------------ */

typedef struct walk_ctx {
	kh_objects *o;
	kh_addrset *seen;
	uint64_t *order;
	size_t n, cap;
	uint32_t entry_off;
} walk_ctx;

static int add_entry(uint64_t entry, void *payload)
{
	walk_ctx *c = payload;
	uint64_t va = entry - c->entry_off;
	int added = kh_addrset_add(c->seen, va);
	if (added <= 0)
		return added; /* seen through the other list, or out of memory */
	if (c->n == c->cap) {
		size_t ncap = c->cap ? c->cap * 2 : 16;
		uint64_t *nv = kh_reallocarray(&c->o->src->alloc, c->order, ncap, sizeof(*nv));
		if (!nv)
			return KHANG_ENOMEM;
		c->order = nv;
		c->cap = ncap;
	}
	c->order[c->n++] = va;
	return 0;
}

static const struct {
	kh_field_id head, entry;
	const char *name;
} thread_lists[] = {
	{ KH_F_EPROCESS_ThreadListHead, KH_F_ETHREAD_ThreadListEntry, "EPROCESS" },
	{ KH_F_KPROCESS_ThreadListHead, KH_F_KTHREAD_ThreadListEntry, "KPROCESS" },
};

/* The layout has what reading threads needs. */
static int check_thread_layout(const kh_objects *o)
{
	const kh_layout *l = o->l;
	bool any = false;
	for (size_t i = 0; i < KH_ARRAY_SIZE(thread_lists); i++)
		any |= kh_layout_has(l, thread_lists[i].head) && kh_layout_has(l, thread_lists[i].entry);
	if (!any || !kh_layout_has(l, KH_F_KTHREAD_Process))
		return kh_error(KHANG_EUNSUPPORTED, "threads: the layout %s lacks the thread lists or KTHREAD.Process",
		                khang_layout_description((const khang_layout *)l));
	return 0;
}

static int load_threads(kh_objects *o, khang_process *p)
{
	khang_source *src = o->src;
	const kh_layout *l = o->l;
	int rc = check_thread_layout(o);
	if (rc < 0)
		return rc;
	kh_addrset seen;
	kh_addrset_init(&seen, &src->alloc);
	walk_ctx c = { o, &seen, NULL, 0, 0, 0 };
	for (size_t i = 0; i < KH_ARRAY_SIZE(thread_lists); i++) {
		if (!kh_layout_has(l, thread_lists[i].head) || !kh_layout_has(l, thread_lists[i].entry))
			continue;
		c.entry_off = kh_layout_offset(l, thread_lists[i].entry);
		uint64_t head = kh_field_addr(l, p->va, thread_lists[i].head);
		if (kh_list_uninitialised(src, head))
			continue;
		uint32_t n;
		bool broken;
		rc = kh_walk_list(src, head, add_entry, &c, &n, &broken);
		if (rc < 0)
			goto out;
		if (broken) {
			p->threads_skipped++;
			kh_source_warn(src, "process 0x%llx (%s): %s thread list: walk stopped after %u entries "
			               "(unreadable link, loop or limit)",
			               (unsigned long long)p->va, p->name, thread_lists[i].name, n);
		}
	}
	if (c.n) {
		p->threads = kh_calloc(&src->alloc, c.n, sizeof(*p->threads));
		if (!p->threads) {
			rc = KHANG_ENOMEM;
			goto out;
		}
	}
	for (size_t i = 0; i < c.n; i++) {
		if (o->threads_total >= o->thread_cap) {
			p->threads_skipped += (uint32_t)KH_MIN(c.n - i, (size_t)UINT32_MAX);
			if (!o->cap_warned) {
				o->cap_warned = true;
				kh_source_warn(src, "threads: more than %llu threads; the rest are not read",
				               (unsigned long long)o->thread_cap);
			}
			break;
		}
		khang_thread *t = &p->threads[p->nthreads];
		if (kh_thread_decode(o, c.order[i], p->va, t) < 0) {
			p->threads_skipped++;
			kh_source_warn(src, "process 0x%llx (%s): %s", (unsigned long long)p->va, p->name, khang_error_last());
			memset(t, 0, sizeof(*t));
			continue;
		}
		t->process = p;
		p->nthreads++;
		o->threads_total++;
	}
out:
	kh_free(&src->alloc, c.order);
	kh_addrset_free(&seen);
	return rc;
}

int kh_load_threads(kh_objects *o, khang_process *p)
{
	if (!p->threads_loaded) {
		p->threads_loaded = true;
		p->threads_status = load_threads(o, p);
	}
	if (p->threads_status < 0)
		return kh_error(p->threads_status, "threads of process 0x%llx: %s", (unsigned long long)p->va,
		                p->threads_status == KHANG_ENOMEM ? "out of memory" : "the layout lacks the thread lists");
	return 0;
}

static int cmp_thread_va(const void *a, const void *b)
{
	const khang_thread *x = *(khang_thread *const *)a, *y = *(khang_thread *const *)b;
	return x->va < y->va ? -1 : x->va > y->va;
}

static int cmp_thread_tid(const void *a, const void *b)
{
	const khang_thread *x = *(khang_thread *const *)a, *y = *(khang_thread *const *)b;
	if (x->tid != y->tid)
		return x->tid < y->tid ? -1 : 1;
	return x->va < y->va ? -1 : x->va > y->va;
}

int kh_load_all_threads(kh_objects *o)
{
	const kh_alloc *a = &o->src->alloc;
	if (o->all_threads_loaded)
		return 0;
	int rc = kh_load_processes(o);
	if (rc < 0)
		return rc;
	size_t total = 0;
	for (size_t i = 0; i < o->nprocs; i++) {
		rc = kh_load_threads(o, &o->procs[i]);
		if (rc < 0)
			return rc;
		total += o->procs[i].nthreads;
	}
	if (total) {
		o->threads_by_va = kh_calloc(a, total, sizeof(*o->threads_by_va));
		o->threads_by_tid = kh_calloc(a, total, sizeof(*o->threads_by_tid));
		if (!o->threads_by_va || !o->threads_by_tid) {
			kh_free(a, o->threads_by_va);
			kh_free(a, o->threads_by_tid);
			o->threads_by_va = o->threads_by_tid = NULL;
			return KHANG_ENOMEM;
		}
		size_t n = 0;
		for (size_t i = 0; i < o->nprocs; i++)
			for (size_t j = 0; j < o->procs[i].nthreads; j++) {
				o->threads_by_va[n] = o->threads_by_tid[n] = &o->procs[i].threads[j];
				n++;
			}
		qsort(o->threads_by_va, total, sizeof(*o->threads_by_va), cmp_thread_va);
		qsort(o->threads_by_tid, total, sizeof(*o->threads_by_tid), cmp_thread_tid);
	}
	o->nthreads_all = total;
	o->all_threads_loaded = true;
	return 0;
}

/* ---- public: iteration and lookup ------------------------------------------- */

KHANG_API int khang_thread_iter_new(khang_thread_iter **out, khang_source *src, const khang_process *process)
{
	kh_objects *o;
	if (!out || !kh_source_ok(src) || (process && !kh_process_ok(process)))
		return kh_error(KHANG_EINVAL, "khang_thread_iter_new: NULL or invalid argument");
	*out = NULL;
	int rc = kh_objects_get(src, &o);
	if (rc < 0)
		return rc;
	if (process && process->o != o)
		return kh_error(KHANG_EINVAL, "khang_thread_iter_new: the process belongs to another source");
	khang_process *p = (khang_process *)process;
	rc = p ? kh_load_threads(o, p) : kh_load_processes(o);
	if (rc == 0 && !p)
		rc = check_thread_layout(o);
	if (rc < 0)
		return rc;
	khang_thread_iter *it = kh_calloc(&src->alloc, 1, sizeof(*it));
	if (!it)
		return KHANG_ENOMEM;
	it->o = o;
	it->only = p;
	it->skipped = p ? p->threads_skipped : o->procs_skipped;
	*out = it;
	return 0;
}

KHANG_API int khang_thread_next(const khang_thread **out, khang_thread_iter *it)
{
	if (!out || !it)
		return kh_error(KHANG_EINVAL, "khang_thread_next: NULL argument");
	if (it->only) {
		if (it->ti >= it->only->nthreads)
			return KHANG_ITEROVER;
		*out = &it->only->threads[it->ti++];
		return 0;
	}
	kh_objects *o = it->o;
	while (it->pi < o->nprocs) {
		khang_process *p = &o->procs[it->pi];
		if (!it->entered) {
			int rc = kh_load_threads(o, p);
			if (rc == KHANG_ENOMEM)
				return rc;
			it->entered = true;
			it->skipped += p->threads_skipped;
		}
		if (it->ti < p->nthreads) {
			*out = &p->threads[it->ti++];
			return 0;
		}
		it->pi++;
		it->ti = 0;
		it->entered = false;
	}
	return KHANG_ITEROVER;
}

KHANG_API void khang_thread_iter_free(khang_thread_iter *it)
{
	if (it)
		kh_free(&it->o->src->alloc, it);
}

KHANG_API uint32_t khang_thread_iter_skipped(const khang_thread_iter *it)
{
	return it ? it->skipped : 0;
}

KHANG_API int khang_thread_by_tid(const khang_thread **out, khang_source *src, uint64_t tid)
{
	kh_objects *o;
	if (!out || !kh_source_ok(src))
		return kh_error(KHANG_EINVAL, "khang_thread_by_tid: NULL or invalid argument");
	*out = NULL;
	int rc = kh_objects_get(src, &o);
	if (rc < 0)
		return rc;
	rc = kh_load_all_threads(o);
	if (rc < 0)
		return rc;
	size_t lo = 0, hi = o->nthreads_all;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (o->threads_by_tid[mid]->tid < tid)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo < o->nthreads_all && o->threads_by_tid[lo]->tid == tid && (o->threads_by_tid[lo]->have & KH_T_TID)) {
		*out = o->threads_by_tid[lo];
		return 0;
	}
	return kh_error(KHANG_ENOTFOUND, "no thread of an active process has TID %llu (0x%llx)",
	                (unsigned long long)tid, (unsigned long long)tid);
}

KHANG_API int khang_thread_by_address(const khang_thread **out, khang_source *src, uint64_t va)
{
	kh_objects *o;
	khang_thread *t;
	if (!out || !kh_source_ok(src))
		return kh_error(KHANG_EINVAL, "khang_thread_by_address: NULL or invalid argument");
	*out = NULL;
	int rc = kh_objects_get(src, &o);
	if (rc < 0)
		return rc;
	rc = kh_find_thread(o, va, &t);
	if (rc < 0)
		return rc;
	*out = t;
	return 0;
}

/* ---- public: accessors ---------------------------------------------------------- */

#define HAVE(t, bit) (kh_thread_ok(t) && ((t)->have & (bit)))

KHANG_API uint64_t khang_thread_address(const khang_thread *t)
{
	return kh_thread_ok(t) ? t->va : 0;
}

KHANG_API int64_t khang_thread_tid(const khang_thread *t)
{
	return HAVE(t, KH_T_TID) ? (int64_t)t->tid : -1;
}

KHANG_API int64_t khang_thread_pid(const khang_thread *t)
{
	return HAVE(t, KH_T_PID) ? (int64_t)t->pid : -1;
}

KHANG_API uint64_t khang_thread_process_address(const khang_thread *t)
{
	return kh_thread_ok(t) ? t->process_va : 0;
}

KHANG_API int khang_thread_process(const khang_process **out, const khang_thread *ct)
{
	if (!out || !kh_thread_ok(ct))
		return kh_error(KHANG_EINVAL, "khang_thread_process: NULL or invalid argument");
	*out = NULL;
	khang_thread *t = (khang_thread *)ct;
	if (!t->process) {
		if (!t->process_va)
			return kh_error(KHANG_ENOTFOUND, "thread 0x%llx: its process is unknown", (unsigned long long)t->va);
		khang_process *p;
		int rc = kh_find_process(t->o, t->process_va, &p);
		if (rc < 0)
			return kh_error_context(rc, "thread 0x%llx", (unsigned long long)t->va);
		t->process = p;
	}
	*out = t->process;
	return 0;
}

KHANG_API int khang_thread_state(const khang_thread *t)
{
	return HAVE(t, KH_T_STATE) ? t->state : -1;
}

static const char *enum_name(const khang_thread *t, kh_enum_id e, uint32_t bit, int64_t value)
{
	if (!HAVE(t, bit))
		return "Unknown";
	const char *n = kh_layout_enum_name(t->o->l, e, value);
	return n ? n : "Unknown";
}

KHANG_API const char *khang_thread_state_name(const khang_thread *t)
{
	return enum_name(t, KH_E_KTHREAD_STATE, KH_T_STATE, kh_thread_ok(t) ? t->state : 0);
}

KHANG_API int khang_thread_wait_reason(const khang_thread *t)
{
	return HAVE(t, KH_T_WAIT_REASON) ? t->wait_reason : -1;
}

KHANG_API const char *khang_thread_wait_reason_name(const khang_thread *t)
{
	return enum_name(t, KH_E_KWAIT_REASON, KH_T_WAIT_REASON, kh_thread_ok(t) ? t->wait_reason : 0);
}

KHANG_API int khang_thread_wait_mode(const khang_thread *t)
{
	return HAVE(t, KH_T_WAIT_MODE) ? t->wait_mode : -1;
}

KHANG_API int khang_thread_wait_irql(const khang_thread *t)
{
	return HAVE(t, KH_T_WAIT_IRQL) ? t->wait_irql : -1;
}

KHANG_API int64_t khang_thread_wait_tick(const khang_thread *t)
{
	return HAVE(t, KH_T_WAIT_TIME) ? (int64_t)t->wait_time : -1;
}

KHANG_API int64_t khang_thread_wait_ms(const khang_thread *t)
{
	return HAVE(t, KH_T_WAIT_TIME) ? kh_ticks_since_ms(t->o, t->wait_time) : -1;
}

KHANG_API int khang_thread_priority(const khang_thread *t)
{
	return HAVE(t, KH_T_PRIORITY) ? (int8_t)t->priority : -1;
}

KHANG_API int khang_thread_base_priority(const khang_thread *t)
{
	return HAVE(t, KH_T_BASE_PRIORITY) ? (int8_t)t->base_priority : -1;
}

KHANG_API int64_t khang_thread_processor(const khang_thread *t)
{
	return HAVE(t, KH_T_PROCESSOR) ? (int64_t)t->processor : -1;
}

KHANG_API int64_t khang_thread_ideal_processor(const khang_thread *t)
{
	return HAVE(t, KH_T_IDEAL) ? (int64_t)t->ideal : -1;
}

KHANG_API int64_t khang_thread_context_switches(const khang_thread *t)
{
	return HAVE(t, KH_T_CSWITCH) ? (int64_t)t->context_switches : -1;
}

KHANG_API int64_t khang_thread_kernel_ticks(const khang_thread *t)
{
	return HAVE(t, KH_T_KTIME) ? (int64_t)t->kernel_ticks : -1;
}

KHANG_API int64_t khang_thread_user_ticks(const khang_thread *t)
{
	return HAVE(t, KH_T_UTIME) ? (int64_t)t->user_ticks : -1;
}

KHANG_API int64_t khang_thread_kernel_ms(const khang_thread *t)
{
	return HAVE(t, KH_T_KTIME) ? kh_ticks_ms(t->o, t->kernel_ticks) : -1;
}

KHANG_API int64_t khang_thread_user_ms(const khang_thread *t)
{
	return HAVE(t, KH_T_UTIME) ? kh_ticks_ms(t->o, t->user_ticks) : -1;
}

KHANG_API int khang_thread_alertable(const khang_thread *t)
{
	return HAVE(t, KH_T_ALERTABLE) ? (t->flags & 1) != 0 : -1;
}

KHANG_API int khang_thread_suspend_count(const khang_thread *t)
{
	return HAVE(t, KH_T_SUSPEND) ? t->suspend_count : -1;
}

KHANG_API int khang_thread_is_system(const khang_thread *t)
{
	return HAVE(t, KH_T_SYSTEM) ? (t->flags & 2) != 0 : -1;
}

KHANG_API int khang_thread_is_terminated(const khang_thread *t)
{
	return HAVE(t, KH_T_TERMINATED) ? (t->flags & 4) != 0 : -1;
}

KHANG_API uint64_t khang_thread_start_address(const khang_thread *t)
{
	return kh_thread_ok(t) ? t->start : 0;
}

KHANG_API uint64_t khang_thread_win32_start_address(const khang_thread *t)
{
	return kh_thread_ok(t) ? t->win32start : 0;
}

KHANG_API uint64_t khang_thread_teb(const khang_thread *t)
{
	return kh_thread_ok(t) ? t->teb : 0;
}

KHANG_API uint64_t khang_thread_stack_init(const khang_thread *t)
{
	return kh_thread_ok(t) ? t->stack_init : 0;
}

KHANG_API uint64_t khang_thread_stack_base(const khang_thread *t)
{
	return kh_thread_ok(t) ? t->stack_base : 0;
}

KHANG_API uint64_t khang_thread_stack_limit(const khang_thread *t)
{
	return kh_thread_ok(t) ? t->stack_limit : 0;
}

KHANG_API uint64_t khang_thread_kernel_stack(const khang_thread *t)
{
	return kh_thread_ok(t) ? t->kernel_stack : 0;
}

KHANG_API uint64_t khang_thread_win32_thread(const khang_thread *t)
{
	return kh_thread_ok(t) ? t->win32thread : 0;
}

KHANG_API int khang_thread_is_gui(const khang_thread *t)
{
	return HAVE(t, KH_T_WIN32THREAD) ? t->win32thread != 0 : -1;
}

KHANG_API uint64_t khang_thread_create_time(const khang_thread *t)
{
	return kh_thread_ok(t) ? t->create_time : 0;
}

/* ---- IRPs ------------------------------------------------------------------------- */

typedef struct irp_ctx {
	const kh_alloc *a;
	uint64_t *v;
	size_t n, cap;
	uint32_t off;
} irp_ctx;

static int add_irp(uint64_t entry, void *payload)
{
	irp_ctx *c = payload;
	if (c->n == c->cap) {
		size_t ncap = c->cap ? c->cap * 2 : 4;
		uint64_t *nv = kh_reallocarray(c->a, c->v, ncap, sizeof(*nv));
		if (!nv)
			return KHANG_ENOMEM;
		c->v = nv;
		c->cap = ncap;
	}
	c->v[c->n++] = entry - c->off;
	return 0;
}

KHANG_API int khang_thread_irps(const uint64_t **out, size_t *count, const khang_thread *ct)
{
	if (!out || !count || !kh_thread_ok(ct))
		return kh_error(KHANG_EINVAL, "khang_thread_irps: NULL or invalid argument");
	*out = NULL;
	*count = 0;
	khang_thread *t = (khang_thread *)ct;
	kh_objects *o = t->o;
	if (!kh_layout_has(o->l, KH_F_ETHREAD_IrpList) || !kh_layout_has(o->l, KH_F_IRP_ThreadListEntry))
		return kh_error(KHANG_ENOTFOUND, "thread 0x%llx: the layout has no ETHREAD.IrpList", (unsigned long long)t->va);
	uint64_t head = kh_field_addr(o->l, t->va, KH_F_ETHREAD_IrpList), flink;
	/* most threads have none: an empty list (Flink = head) costs one read */
	if (!t->irps_loaded && kh_vread_ptr(o->src, 0, head, &flink) == 0 &&
	    (flink == head || (flink == 0 && kh_list_uninitialised(o->src, head))))
		t->irps_loaded = true;
	if (!t->irps_loaded) {
		irp_ctx c = { &o->src->alloc, NULL, 0, 0, kh_layout_offset(o->l, KH_F_IRP_ThreadListEntry) };
		uint32_t n;
		bool broken;
		int rc = kh_walk_list(o->src, head, add_irp, &c, &n, &broken);
		if (rc < 0) {
			kh_free(c.a, c.v);
			return rc;
		}
		if (broken)
			kh_source_warn(o->src, "thread 0x%llx: IRP list: walk stopped after %u entries", (unsigned long long)t->va,
			               n);
		t->irps = c.v;
		t->nirps = (uint32_t)c.n;
		t->irps_loaded = true;
	}
	*out = t->irps;
	*count = t->nirps;
	return 0;
}

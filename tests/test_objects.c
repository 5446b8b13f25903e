/*
 * The object layer on forge-made dumps: processors, processes, threads, wait
 * objects and ready queues, checked field by field against what the forge
 * wrote (fg_sample), for Windows 7, 8.1, 10 and 11 x64 kernels (by GUID)
 * and x86 kernels (PAE and non-PAE, Windows 7 and 10), in full and bitmap
 * dumps. Also: limited mode, damaged lists and wait chains, a missing KPRCB
 * page, failing allocations, the list limits, argument checks and the text
 * formats of durations and times.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <cmocka.h>

#include "fail_alloc.h"

#include "khang.h"
#include "kernel/kernel.h"
#include "fg_sample.h"

#define TICK_MULT 0x0FA00000u
#define TIME_INC 156250u

typedef struct built {
	fg_sample *s;
	uint8_t *buf;
	size_t len;
	khang_source *src;
} built;

static const kh_layout *guid_layout(uint32_t build)
{
	for (size_t i = 0; i < kh_layout_builtin_count(); i++) {
		const kh_layout *l = kh_layout_builtin_at(i);
		kh_layout_info li;
		kh_layout_get_info(l, &li);
		if (li.source == KH_LAYOUT_BUILTIN_GUID && li.build == build)
			return l;
	}
	return NULL;
}

static const kh_layout *x86_layout(uint32_t build, int pae)
{
	kh_layout_candidate c[4];
	size_t n = kh_layout_builtin_candidates(KHANG_ARCH_X86, build, pae, c, 4);
	assert_true(n > 0);
	kh_layout_info li;
	kh_layout_get_info(c[0].layout, &li);
	assert_int_equal(li.build, build);
	assert_int_equal(li.pae, pae);
	return c[0].layout;
}

static void open_sample(built *b, fg_format fmt, const khang_source_opts *so)
{
	assert_int_equal(fg_sample_write(b->s, fmt, &b->buf, &b->len), 0);
	int rc = khang_source_open_memory(&b->src, b->buf, b->len, so);
	if (rc)
		fprintf(stderr, "open: %s\n", khang_error_last());
	assert_int_equal(rc, 0);
}

static void build(built *b, const kh_layout *l, fg_format fmt)
{
	memset(b, 0, sizeof(*b));
	b->s = fg_sample_new(l, 4);
	open_sample(b, fmt, NULL);
}

static void done(built *b)
{
	khang_source_free(b->src);
	free(b->buf);
	fg_sample_free(b->s);
}

static bool has_warning(khang_source *src, const char *needle)
{
	for (uint32_t i = 0; i < khang_source_warning_count(src) && i < 64; i++) {
		const char *w = khang_source_warning(src, i);
		if (w && strstr(w, needle))
			return true;
	}
	return false;
}

static int64_t ms_since(uint32_t tick)
{
	return (int64_t)(((uint64_t)(uint32_t)(FG_SAMPLE_TICK_COUNT - tick) * TICK_MULT) >> 24);
}

/* ---- processors -------------------------------------------------------------------- */

static void check_processors(const fg_sample *s, khang_source *src)
{
	khang_processor_iter *it;
	const khang_processor *p;
	uint32_t count;
	assert_int_equal(khang_processor_count(&count, src), 0);
	assert_int_equal(count, s->ncpus);
	assert_int_equal(khang_processor_iter_new(&it, src), 0);
	for (unsigned i = 0; i < s->ncpus; i++) {
		const fg_sample_cpu *c = &s->cpus[i];
		assert_int_equal(khang_processor_next(&p, it), 0);
		const khang_processor *q;
		assert_int_equal(khang_processor_get(&q, src, i), 0);
		assert_ptr_equal(p, q);
		assert_int_equal(khang_processor_index(p), i);
		assert_int_equal(khang_processor_kpcr(p), c->kpcr);
		assert_int_equal(khang_processor_kprcb(p), c->kprcb);
		assert_int_equal(khang_processor_current_thread_address(p), c->current);
		assert_int_equal(khang_processor_next_thread_address(p), c->next);
		assert_int_equal(khang_processor_idle_thread_address(p), c->idle);
		assert_int_equal(khang_processor_is_idle(p), c->current == c->idle);
		assert_int_equal(khang_processor_irql(p), c->irql);
		assert_int_equal(khang_processor_mhz(p), c->mhz);
		assert_string_equal(khang_processor_vendor(p), "GenuineIntel");
		assert_int_equal(khang_processor_family(p), c->family);
		assert_int_equal(khang_processor_model(p), c->model);
		assert_int_equal(khang_processor_stepping(p), c->stepping);
		assert_int_equal(khang_processor_feature_bits(p), c->features);
		assert_int_equal(khang_processor_group_index(p), i);
		assert_int_equal(khang_processor_interrupt_count(p), c->interrupts);
		assert_int_equal(khang_processor_ticks(p, KHANG_PROCESSOR_TIME_KERNEL), c->ticks[0]);
		assert_int_equal(khang_processor_ticks(p, KHANG_PROCESSOR_TIME_USER), c->ticks[1]);
		assert_int_equal(khang_processor_ticks(p, KHANG_PROCESSOR_TIME_DPC), c->ticks[2]);
		assert_int_equal(khang_processor_ticks(p, KHANG_PROCESSOR_TIME_INTERRUPT), c->ticks[3]);
		assert_int_equal(khang_processor_ticks(p, (khang_processor_time)9), -1);
		assert_int_equal(khang_processor_dpc_queue_depth(p), c->dpc);
		assert_int_equal(khang_processor_threaded_dpc_queue_depth(p), c->tdpc);
		assert_int_equal(khang_processor_shared_ready_queue(p), s->shared_queue);
		/* ready summary: CPU 0 has priorities 8 and 10; without a shared
		 * queue the last CPU has 9 */
		int64_t want = i == 0 ? (1 << 8) | (1 << 10) : (!s->shared_queue && i == s->ncpus - 1) ? 1 << 9 : 0;
		assert_int_equal(khang_processor_ready_summary(p), want);
		/* saved special registers */
		uint64_t r;
		assert_int_equal(khang_processor_register(&r, p, KHANG_REG_CR0), 0);
		assert_int_equal(r, c->cr0);
		assert_int_equal(khang_processor_register(&r, p, KHANG_REG_CR3), 0);
		assert_int_equal(r, c->cr3);
		assert_int_equal(khang_processor_register(&r, p, KHANG_REG_CR4), 0);
		assert_int_equal(r, c->cr4);
		assert_int_equal(khang_processor_register(&r, p, KHANG_REG_GDTR_BASE), 0);
		assert_int_equal(r, c->gdtr_base);
		assert_int_equal(khang_processor_register(&r, p, KHANG_REG_GDTR_LIMIT), 0);
		assert_int_equal(r, c->gdtr_limit);
		assert_int_equal(khang_processor_register(&r, p, KHANG_REG_IDTR_BASE), 0);
		assert_int_equal(r, c->idtr_base);
		assert_int_equal(khang_processor_register(&r, p, KHANG_REG_IDTR_LIMIT), 0);
		assert_int_equal(r, c->idtr_limit);
		if (s->x86) {
			assert_int_equal(khang_processor_register(&r, p, KHANG_REG_MSR_LSTAR), KHANG_ENOTFOUND);
			assert_int_equal(khang_processor_register(&r, p, KHANG_REG_CR8), KHANG_ENOTFOUND);
		} else {
			assert_int_equal(khang_processor_register(&r, p, KHANG_REG_MSR_LSTAR), 0);
			assert_int_equal(r, c->lstar);
			assert_int_equal(khang_processor_register(&r, p, KHANG_REG_MSR_GS_BASE), 0);
		}
		assert_int_equal(khang_processor_register(&r, p, KHANG_REG_COUNT), KHANG_EINVAL);
		/* threads */
		const khang_thread *t;
		assert_int_equal(khang_processor_thread(&t, p, KHANG_PROCESSOR_CURRENT), 0);
		assert_int_equal(khang_thread_address(t), c->current);
		assert_int_equal(khang_processor_thread(&t, p, KHANG_PROCESSOR_IDLE), 0);
		assert_int_equal(khang_thread_address(t), c->idle);
		assert_string_equal(khang_thread_state_name(t), "Running");
		assert_int_equal(khang_thread_processor(t), i);
		const khang_process *idle_proc;
		assert_int_equal(khang_thread_process(&idle_proc, t), 0);
		assert_string_equal(khang_process_name(idle_proc), "Idle");
		assert_int_equal(khang_process_address(idle_proc), fg_kernel_idle_process(s->k));
		if (c->next) {
			assert_int_equal(khang_processor_thread(&t, p, KHANG_PROCESSOR_NEXT), 0);
			assert_int_equal(khang_thread_address(t), c->next);
		} else {
			assert_int_equal(khang_processor_thread(&t, p, KHANG_PROCESSOR_NEXT), KHANG_ENOTFOUND);
		}
	}
	assert_int_equal(khang_processor_next(&p, it), KHANG_ITEROVER);
	assert_int_equal(khang_processor_iter_skipped(it), 0);
	khang_processor_iter_free(it);
	assert_int_equal(khang_processor_get(&p, src, s->ncpus), KHANG_ENOTFOUND);
	/* the idle threads of the Idle process, on its KTHREAD list */
	const khang_process *idle;
	assert_int_equal(khang_process_by_address(&idle, src, fg_kernel_idle_process(s->k)), 0);
	khang_thread_iter *ti;
	const khang_thread *t;
	assert_int_equal(khang_thread_iter_new(&ti, src, idle), 0);
	unsigned n = 0;
	while (khang_thread_next(&t, ti) == 0) {
		assert_int_equal(khang_thread_address(t), s->cpus[n].idle);
		n++;
	}
	assert_int_equal(n, s->ncpus);
	assert_int_equal(khang_thread_iter_skipped(ti), 0);
	khang_thread_iter_free(ti);
}

/* ---- threads ------------------------------------------------------------------------- */

static khang_dispatcher_type type_of(const char *kobject)
{
	static const struct {
		const char *n;
		khang_dispatcher_type t;
	} m[] = {
		{ "EventNotificationObject", KHANG_OBJECT_EVENT_NOTIFICATION },
		{ "EventSynchronizationObject", KHANG_OBJECT_EVENT_SYNCHRONIZATION },
		{ "MutantObject", KHANG_OBJECT_MUTANT },
		{ "SemaphoreObject", KHANG_OBJECT_SEMAPHORE },
		{ "TimerNotificationObject", KHANG_OBJECT_TIMER_NOTIFICATION },
		{ "TimerSynchronizationObject", KHANG_OBJECT_TIMER_SYNCHRONIZATION },
		{ "QueueObject", KHANG_OBJECT_QUEUE },
		{ "GateObject", KHANG_OBJECT_GATE },
	};
	for (size_t i = 0; i < sizeof(m) / sizeof(m[0]); i++)
		if (!strcmp(m[i].n, kobject))
			return m[i].t;
	return KHANG_OBJECT_UNKNOWN;
}

static void check_wait_object(const fg_sample *s, khang_source *src, const fg_sample_thread *st, const khang_thread *t,
                              unsigned i)
{
	khang_wait_object w = KHANG_WAIT_OBJECT_INIT;
	assert_int_equal(khang_thread_wait_object(&w, t, i), 0);
	assert_int_equal(w.size, sizeof(w));
	assert_int_equal(w.object, st->objects[i]);
	assert_int_equal(w.wait_key, i);
	assert_int_equal(w.wait_type, st->wait_type);
	assert_string_equal(w.block_state_name, "WaitBlockActive");
	int obj = -1;
	for (unsigned o = 0; o < s->nobjects; o++)
		if (s->objects[o].va == w.object)
			obj = (int)o;
	if (obj >= 0) {
		const fg_sample_object *so = &s->objects[obj];
		assert_int_equal(w.type, type_of(so->kobject));
		assert_string_equal(w.type_name, khang_dispatcher_type_name(w.type));
		assert_int_equal(w.signal_state, so->signal);
		assert_null(w.thread);
		assert_null(w.process);
		if (w.type == KHANG_OBJECT_MUTANT) {
			assert_int_equal(w.owner_address, so->owner);
			assert_non_null(w.owner);
			assert_int_equal(khang_thread_address(w.owner), so->owner);
		} else {
			assert_null(w.owner);
		}
		return;
	}
	int ti = fg_sample_thread_index(s, w.object);
	if (ti >= 0) {
		assert_int_equal(w.type, KHANG_OBJECT_THREAD);
		assert_string_equal(w.type_name, "Thread");
		assert_non_null(w.thread);
		assert_int_equal(khang_thread_tid(w.thread), s->threads[ti].tid);
		const khang_thread *same;
		assert_int_equal(khang_thread_by_address(&same, src, w.object), 0);
		assert_ptr_equal(same, w.thread);
		return;
	}
	assert_int_equal(w.type, KHANG_OBJECT_PROCESS);
	assert_string_equal(w.type_name, "Process");
	assert_non_null(w.process);
	assert_int_equal(khang_process_address(w.process), w.object);
}

static void check_thread(const fg_sample *s, khang_source *src, unsigned idx, const khang_thread *t)
{
	const fg_sample_thread *st = &s->threads[idx];
	const kh_layout *l = s->l;
	assert_int_equal(khang_thread_address(t), st->va);
	assert_int_equal(khang_thread_tid(t), st->tid);
	assert_int_equal(khang_thread_pid(t), st->pid);
	assert_int_equal(khang_thread_process_address(t), st->process);
	const khang_process *p;
	assert_int_equal(khang_thread_process(&p, t), 0);
	assert_int_equal(khang_process_address(p), st->process);
	assert_int_equal(khang_thread_state(t), st->state);
	assert_string_equal(khang_thread_state_name(t), kh_layout_enum_name(l, KH_E_KTHREAD_STATE, st->state));
	assert_int_equal(khang_thread_wait_reason(t), st->wait_reason);
	assert_string_equal(khang_thread_wait_reason_name(t), kh_layout_enum_name(l, KH_E_KWAIT_REASON, st->wait_reason));
	assert_int_equal(khang_thread_wait_mode(t), st->wait_mode);
	assert_int_equal(khang_thread_wait_irql(t), 0);
	assert_int_equal(khang_thread_wait_tick(t), st->wait_time);
	assert_int_equal(khang_thread_wait_ms(t), ms_since(st->wait_time));
	assert_int_equal(khang_thread_priority(t), st->priority);
	assert_int_equal(khang_thread_base_priority(t), st->base_priority);
	assert_int_equal(khang_thread_processor(t), st->processor);
	assert_int_equal(khang_thread_ideal_processor(t), st->ideal);
	assert_int_equal(khang_thread_context_switches(t), st->context_switches);
	assert_int_equal(khang_thread_kernel_ticks(t), st->kernel_ticks);
	assert_int_equal(khang_thread_user_ticks(t), st->user_ticks);
	assert_int_equal(khang_thread_kernel_ms(t), (int64_t)st->kernel_ticks * TIME_INC / 10000);
	assert_int_equal(khang_thread_user_ms(t), (int64_t)st->user_ticks * TIME_INC / 10000);
	assert_int_equal(khang_thread_alertable(t), st->alertable);
	assert_int_equal(khang_thread_suspend_count(t), st->suspend_count);
	assert_int_equal(khang_thread_is_system(t), st->pid == 4);
	assert_int_equal(khang_thread_is_terminated(t), st->terminated);
	assert_int_equal(khang_thread_start_address(t), st->start);
	assert_int_equal(khang_thread_win32_start_address(t), st->win32start);
	assert_int_equal(khang_thread_teb(t), st->teb);
	assert_int_equal(khang_thread_stack_init(t), st->stack_init);
	assert_int_equal(khang_thread_stack_base(t), st->stack_base);
	assert_int_equal(khang_thread_stack_limit(t), st->stack_limit);
	assert_int_equal(khang_thread_kernel_stack(t), st->kernel_stack);
	assert_int_equal(khang_thread_win32_thread(t), st->win32thread);
	assert_int_equal(khang_thread_is_gui(t), st->win32thread != 0);
	assert_int_equal(khang_thread_create_time(t), st->create_time);
	/* wait objects */
	int n = khang_thread_wait_count(t);
	if (st->state == KHANG_THREAD_WAITING) {
		assert_int_equal(n, st->nobjects);
		for (unsigned i = 0; i < st->nobjects; i++)
			check_wait_object(s, src, st, t, i);
	} else {
		assert_int_equal(n, 0);
	}
	khang_wait_object w = KHANG_WAIT_OBJECT_INIT;
	assert_int_equal(khang_thread_wait_object(&w, t, (size_t)n), KHANG_ENOTFOUND);
	assert_int_equal(khang_thread_wait_skipped(t), 0);
	/* IRPs */
	const uint64_t *irps;
	size_t nirps;
	assert_int_equal(khang_thread_irps(&irps, &nirps, t), 0);
	assert_int_equal(nirps, st->nirps);
	for (size_t i = 0; i < nirps; i++)
		assert_int_equal(irps[i], st->irps[i]);
	/* lookups give the same handle */
	const khang_thread *same;
	assert_int_equal(khang_thread_by_tid(&same, src, st->tid), 0);
	assert_ptr_equal(same, t);
	assert_int_equal(khang_thread_by_address(&same, src, st->va), 0);
	assert_ptr_equal(same, t);
}

static void check_processes_and_threads(const fg_sample *s, khang_source *src)
{
	khang_process_iter *it;
	const khang_process *p;
	kh_layout_info li;
	kh_layout_get_info(s->l, &li);
	bool win7 = li.build < 9200;
	const khang_process *handles[8];
	assert_int_equal(khang_process_iter_new(&it, src), 0);
	for (unsigned i = 0; i < s->nprocs; i++) {
		const fg_sample_process *sp = &s->procs[i];
		assert_int_equal(khang_process_next(&p, it), 0);
		handles[i] = p;
		assert_int_equal(khang_process_address(p), sp->va);
		assert_int_equal(khang_process_pid(p), sp->pid);
		assert_int_equal(khang_process_parent_pid(p), sp->ppid);
		assert_string_equal(khang_process_name(p), sp->name);
		assert_string_equal(khang_process_image_path(p), sp->path ? sp->path : "");
		assert_int_equal(khang_process_session_id(p), sp->session);
		assert_int_equal(khang_process_create_time(p), sp->create_time);
		assert_int_equal(khang_process_exit_time(p), sp->exit_time);
		assert_int_equal(khang_process_dtb(p), fg_kernel_dtb(s->f));
		assert_int_equal(khang_process_thread_count(p), sp->nthreads);
		/* handle counts: Windows 7 keeps one; later builds need
		 * nt!ExpFreeListCount, which the built-in layouts lack */
		assert_int_equal(khang_process_handle_count(p), sp->handles && win7 ? (int64_t)sp->handles : -1);
		assert_int_equal(khang_process_peb(p), sp->peb);
		assert_int_equal(khang_process_is_exiting(p), sp->exiting);
		assert_int_equal(khang_process_is_gui(p), sp->gui);
		assert_int_equal(khang_process_base_priority(p), sp->base_priority < 0 ? 0 : sp->base_priority);
		const khang_process *q;
		assert_int_equal(khang_process_by_pid(&q, src, sp->pid), 0);
		assert_ptr_equal(q, p);
		assert_int_equal(khang_process_by_address(&q, src, sp->va), 0);
		assert_ptr_equal(q, p);
		/* the process's own threads */
		khang_thread_iter *ti;
		const khang_thread *t;
		assert_int_equal(khang_thread_iter_new(&ti, src, p), 0);
		for (unsigned j = 0; j < sp->nthreads; j++) {
			assert_int_equal(khang_thread_next(&t, ti), 0);
			assert_int_equal(khang_thread_address(t), s->threads[sp->first_thread + j].va);
		}
		assert_int_equal(khang_thread_next(&t, ti), KHANG_ITEROVER);
		assert_int_equal(khang_thread_iter_skipped(ti), 0);
		khang_thread_iter_free(ti);
	}
	assert_int_equal(khang_process_next(&p, it), KHANG_ITEROVER);
	assert_int_equal(khang_process_iter_skipped(it), 0);
	khang_process_iter_free(it);
	assert_int_equal(khang_process_by_pid(&p, src, 999), KHANG_ENOTFOUND);

	/* all threads, in process and list order */
	khang_thread_iter *ti;
	const khang_thread *t;
	assert_int_equal(khang_thread_iter_new(&ti, src, NULL), 0);
	for (unsigned i = 0; i < s->nthreads; i++) {
		assert_int_equal(khang_thread_next(&t, ti), 0);
		check_thread(s, src, i, t);
	}
	assert_int_equal(khang_thread_next(&t, ti), KHANG_ITEROVER);
	assert_int_equal(khang_thread_next(&t, ti), KHANG_ITEROVER);
	assert_int_equal(khang_thread_iter_skipped(ti), 0);
	khang_thread_iter_free(ti);

	/* the main thread: earliest created, not first on the list */
	assert_int_equal(khang_process_main_thread(&t, handles[s->explorer]), 0);
	assert_int_equal(khang_thread_address(t), s->threads[s->main_thread].va);
	assert_int_equal(khang_thread_is_gui(t), 1);
	assert_true(s->main_thread != s->procs[s->explorer].first_thread);
	assert_int_equal(khang_thread_by_tid(&t, src, 0xdead0), KHANG_ENOTFOUND);
}

/* ---- ready queues ------------------------------------------------------------------------ */

static void expect_ready(khang_ready_iter *it, const fg_sample *s, int32_t cpu, uint64_t queue, unsigned prio)
{
	khang_ready_entry e = KHANG_READY_ENTRY_INIT;
	assert_int_equal(khang_ready_next(&e, it), 0);
	assert_int_equal(e.processor, cpu);
	assert_int_equal(e.queue, queue);
	assert_int_equal(e.priority, prio);
	int idx = fg_sample_thread_index(s, e.thread_address);
	assert_true(idx >= 0);
	const fg_sample_thread *st = &s->threads[idx];
	assert_int_equal(st->ready, cpu);
	assert_int_equal(st->priority, prio);
	assert_non_null(e.thread);
	assert_int_equal(khang_thread_address(e.thread), e.thread_address);
	assert_int_equal(khang_thread_state(e.thread), KHANG_THREAD_READY);
	assert_int_equal(e.ready_ms, ms_since(st->wait_time));
}

static void check_ready(const fg_sample *s, khang_source *src)
{
	khang_ready_iter *it;
	khang_ready_entry e = KHANG_READY_ENTRY_INIT;
	assert_int_equal(khang_ready_iter_new(&it, src, NULL), 0);
	if (s->shared_queue)
		expect_ready(it, s, -1, s->shared_queue, 9);
	expect_ready(it, s, 0, s->cpus[0].kprcb, 10);
	expect_ready(it, s, 0, s->cpus[0].kprcb, 8);
	if (!s->shared_queue)
		expect_ready(it, s, (int32_t)s->ncpus - 1, s->cpus[s->ncpus - 1].kprcb, 9);
	assert_int_equal(khang_ready_next(&e, it), KHANG_ITEROVER);
	assert_int_equal(khang_ready_iter_skipped(it), 0);
	khang_ready_iter_free(it);
	/* one processor: its shared queue and its own lists */
	const khang_processor *p;
	assert_int_equal(khang_processor_get(&p, src, 0), 0);
	assert_int_equal(khang_ready_iter_new(&it, src, p), 0);
	if (s->shared_queue)
		expect_ready(it, s, -1, s->shared_queue, 9);
	expect_ready(it, s, 0, s->cpus[0].kprcb, 10);
	expect_ready(it, s, 0, s->cpus[0].kprcb, 8);
	assert_int_equal(khang_ready_next(&e, it), KHANG_ITEROVER);
	khang_ready_iter_free(it);
	assert_int_equal(khang_processor_get(&p, src, 1), 0);
	assert_int_equal(khang_ready_iter_new(&it, src, p), 0);
	if (s->shared_queue)
		expect_ready(it, s, -1, s->shared_queue, 9);
	assert_int_equal(khang_ready_next(&e, it), KHANG_ITEROVER);
	khang_ready_iter_free(it);
}

static void check_all(const fg_sample *s, khang_source *src)
{
	check_processors(s, src);
	check_processes_and_threads(s, src);
	check_ready(s, src);
}

/* The layouts tested: x64 Windows 7, 8.1, 10 (two), 11 by GUID; x86 7 PAE,
 * 7 non-PAE, 10 PAE. */
static size_t test_layouts(const kh_layout **out)
{
	size_t n = 0;
	out[n++] = guid_layout(7601);
	out[n++] = guid_layout(9600);
	out[n++] = kh_layout_builtin_by_guid_string("5278AFF86C341677D7D7835C85B7B844", 1); /* 19041 */
	out[n++] = guid_layout(17763);
	out[n++] = guid_layout(22000);
	out[n++] = x86_layout(7601, 1);
	out[n++] = x86_layout(7601, 0);
	out[n++] = x86_layout(19041, 1);
	for (size_t i = 0; i < n; i++)
		assert_non_null(out[i]);
	return n;
}

static void test_sample_every_layout(void **state)
{
	const kh_layout *ls[8];
	static const fg_format fmts[] = { FG_FMT_FULL, FG_FMT_BITMAP_KERNEL, FG_FMT_BITMAP_FULL };
	(void)state;
	size_t n = test_layouts(ls);
	unsigned runs = 0;
	for (size_t i = 0; i < n; i++) {
		kh_layout_info li;
		kh_layout_get_info(ls[i], &li);
		for (size_t f = 0; f < sizeof(fmts) / sizeof(fmts[0]); f++) {
			built b;
			build(&b, ls[i], fmts[f]);
			khang_kernel_info ki = KHANG_KERNEL_INFO_INIT;
			assert_int_equal(khang_source_kernel_info(&ki, b.src), 0);
			if (ki.check != KHANG_CHECK_PASSED)
				fprintf(stderr, "%s: %s\n", li.description, ki.layout_note);
			assert_int_equal(ki.check, KHANG_CHECK_PASSED);
			check_all(b.s, b.src);
			if (khang_source_warning_count(b.src)) {
				for (uint32_t w = 0; w < khang_source_warning_count(b.src); w++)
					fprintf(stderr, "%s: warning: %s\n", li.description, khang_source_warning(b.src, w));
			}
			assert_int_equal(khang_source_warning_count(b.src), 0);
			runs++;
			done(&b);
		}
		printf("%s: checked in 3 formats\n", li.description);
	}
	assert_int_equal(runs, n * 3);
}

/* ---- formats --------------------------------------------------------------------------- */

static void test_format_duration(void **state)
{
	char b[32];
	(void)state;
	static const struct {
		int64_t ms;
		const char *want;
	} cases[] = {
		{ 765, "765ms" },          { 0, "0ms" },
		{ 42937, "42s.937" },      { 1640, "1s.640" },
		{ 390718, "6m:30.718" },   { 68265, "1m:08.265" },
		{ 85406, "1m:25.406" },    { 86166250, "23h:56:06.250" },
		{ 3984, "3s.984" },        { 89333796, "1d.00:48:53.796" },
		{ 86400000, "1d.00:00:00.000" }, { -1, "-" },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int n = khang_format_duration(b, sizeof(b), cases[i].ms);
		assert_string_equal(b, cases[i].want);
		assert_int_equal(n, (int)strlen(cases[i].want));
	}
	/* truncation: the full length is returned */
	assert_int_equal(khang_format_duration(b, 4, 390718), 9);
	assert_string_equal(b, "6m:");
	assert_int_equal(khang_format_duration(NULL, 0, 765), 5);
	assert_int_equal(khang_format_duration(NULL, 4, 765), KHANG_EINVAL);
	int len = khang_format_duration(b, sizeof(b), INT64_MAX);
	assert_int_equal(len, (int)strlen(b));
	assert_string_equal(b, "106751991167d.07:12:55.807");
}

static void test_format_filetime(void **state)
{
	char b[40];
	(void)state;
	assert_int_equal(khang_format_filetime(b, sizeof(b), 131441495486060000ull), 23);
	assert_string_equal(b, "2017-07-10 08:39:08.606");
	khang_format_filetime(b, sizeof(b), 1);
	assert_string_equal(b, "1601-01-01 00:00:00.000");
	khang_format_filetime(b, sizeof(b), 0);
	assert_string_equal(b, "-");
	khang_format_filetime(b, sizeof(b), 116444736000000000ull); /* the Unix epoch */
	assert_string_equal(b, "1970-01-01 00:00:00.000");
	khang_format_filetime(b, sizeof(b), 126227808000000000ull + 864000000000ull * 59); /* 2001-03-01 */
	assert_string_equal(b, "2001-03-01 00:00:00.000");
	int len = khang_format_filetime(b, sizeof(b), UINT64_MAX);
	assert_int_equal(len, (int)strlen(b));
	assert_string_equal(b, "60056-05-28 05:36:10.955");
	assert_string_equal(khang_dispatcher_type_name((khang_dispatcher_type)99), "Unknown");
	assert_string_equal(khang_register_name(KHANG_REG_MSR_LSTAR), "msr_lstar");
	assert_string_equal(khang_register_name((khang_register)-1), "?");
}

/* ---- argument checks -------------------------------------------------------------------- */

static void test_bad_arguments(void **state)
{
	built b, c;
	(void)state;
	build(&b, guid_layout(9600), FG_FMT_BITMAP_KERNEL);
	build(&c, guid_layout(9600), FG_FMT_BITMAP_KERNEL);
	khang_thread_iter *ti;
	khang_process_iter *pi;
	khang_processor_iter *ci;
	khang_ready_iter *ri;
	const khang_process *p;
	const khang_thread *t;
	assert_int_equal(khang_thread_iter_new(NULL, b.src, NULL), KHANG_EINVAL);
	assert_int_equal(khang_thread_iter_new(&ti, NULL, NULL), KHANG_EINVAL);
	assert_int_equal(khang_process_iter_new(&pi, NULL), KHANG_EINVAL);
	assert_int_equal(khang_processor_iter_new(&ci, NULL), KHANG_EINVAL);
	assert_int_equal(khang_ready_iter_new(&ri, NULL, NULL), KHANG_EINVAL);
	assert_int_equal(khang_thread_next(&t, NULL), KHANG_EINVAL);
	/* a process of another source */
	assert_int_equal(khang_process_by_pid(&p, c.src, 4), 0);
	assert_int_equal(khang_thread_iter_new(&ti, b.src, p), KHANG_EINVAL);
	/* a non-handle */
	uint64_t junk[64] = { 0 };
	assert_int_equal(khang_thread_iter_new(&ti, b.src, (const khang_process *)junk), KHANG_EINVAL);
	assert_int_equal(khang_thread_tid((const khang_thread *)junk), -1);
	assert_int_equal(khang_thread_address(NULL), 0);
	assert_string_equal(khang_thread_state_name(NULL), "Unknown");
	assert_string_equal(khang_process_name(NULL), "");
	assert_string_equal(khang_process_image_path((const khang_process *)junk), "");
	assert_int_equal(khang_process_pid(NULL), -1);
	assert_int_equal(khang_processor_index(NULL), 0);
	assert_int_equal(khang_processor_mhz(NULL), -1);
	assert_string_equal(khang_processor_vendor(NULL), "");
	assert_int_equal(khang_thread_wait_count(NULL), KHANG_EINVAL);
	assert_int_equal(khang_thread_wait_skipped(NULL), 0);
	khang_wait_object w = KHANG_WAIT_OBJECT_INIT;
	assert_int_equal(khang_thread_wait_object(&w, NULL, 0), KHANG_EINVAL);
	assert_int_equal(khang_process_main_thread(&t, NULL), KHANG_EINVAL);
	/* a too small output structure */
	assert_int_equal(khang_process_by_pid(&p, b.src, 0xc8c), 0);
	assert_int_equal(khang_process_main_thread(&t, p), 0);
	w.size = 4;
	assert_int_equal(khang_thread_wait_object(&w, t, 0), KHANG_EINVAL);
	/* an older caller's smaller structure is filled up to its size */
	w.size = offsetof(khang_wait_object, raw_type);
	w.raw_type = 12345;
	assert_int_equal(khang_thread_wait_object(&w, t, 0), 0);
	assert_int_equal(w.raw_type, 12345);
	assert_true(w.object != 0);
	/* free functions accept NULL */
	khang_thread_iter_free(NULL);
	khang_process_iter_free(NULL);
	khang_processor_iter_free(NULL);
	khang_ready_iter_free(NULL);
	assert_int_equal(khang_thread_iter_skipped(NULL), 0);
	/* an address that is not a thread or process */
	assert_int_equal(khang_thread_by_address(&t, b.src, fg_kernel_base(b.s->k)), KHANG_ECORRUPT);
	assert_int_equal(khang_process_by_address(&p, b.src, b.s->threads[0].va), KHANG_ECORRUPT);
	assert_int_equal(khang_thread_by_address(&t, b.src, 0x10), KHANG_ENOTPRESENT);
	done(&b);
	done(&c);
}

/* ---- limited mode ---------------------------------------------------------------------- */

static void test_limited_mode(void **state)
{
	(void)state;
	/* an unknown kernel GUID and a KPCR whose Self pointer is wrong: no
	 * layout validates */
	fg_forge *f = fg_new(FG_X64, 8192);
	fg_kernel_opts o = { 0 };
	o.has_guid = true;
	memset(o.guid, 0x5A, 16);
	o.age = 3;
	fg_kernel *k = fg_kernel_new(f, guid_layout(7601), &o);
	uint64_t p = fg_kernel_add_process(k, "explorer.exe", 0xc8c, 0xdb8);
	uint64_t tva = fg_kernel_add_thread(k, p, 0xfe8);
	assert_int_equal(fg_kernel_set(k, fg_kernel_pcr(k, 0), KH_F_KPCR_Self, 0x1234), 0);
	fg_write_opts wo = FG_WRITE_OPTS_INIT;
	wo.format = FG_FMT_BITMAP_KERNEL;
	wo.kernel_only = 1;
	uint8_t *buf;
	size_t len;
	assert_int_equal(fg_write_memory(f, &buf, &len, &wo), 0);
	khang_source *src;
	assert_int_equal(khang_source_open_memory(&src, buf, len, NULL), 0);
	khang_kernel_info ki = KHANG_KERNEL_INFO_INIT;
	assert_int_equal(khang_source_kernel_info(&ki, src), 0);
	if (ki.check != KHANG_CHECK_NONE)
		fprintf(stderr, "not limited: %s\n", ki.layout_note);
	assert_int_equal(ki.check, KHANG_CHECK_NONE);
	khang_thread_iter *ti;
	khang_process_iter *pi;
	khang_processor_iter *ci;
	khang_ready_iter *ri;
	const khang_thread *t;
	const khang_process *pr;
	uint32_t n;
	assert_int_equal(khang_thread_iter_new(&ti, src, NULL), KHANG_EUNSUPPORTED);
	assert_non_null(strstr(khang_error_last(), "limited mode"));
	assert_int_equal(khang_process_iter_new(&pi, src), KHANG_EUNSUPPORTED);
	assert_int_equal(khang_processor_iter_new(&ci, src), KHANG_EUNSUPPORTED);
	assert_int_equal(khang_processor_count(&n, src), KHANG_EUNSUPPORTED);
	assert_int_equal(khang_ready_iter_new(&ri, src, NULL), KHANG_EUNSUPPORTED);
	assert_int_equal(khang_thread_by_address(&t, src, tva), KHANG_EUNSUPPORTED);
	assert_int_equal(khang_thread_by_tid(&t, src, 0xfe8), KHANG_EUNSUPPORTED);
	assert_int_equal(khang_process_by_pid(&pr, src, 0xc8c), KHANG_EUNSUPPORTED);
	assert_int_equal(khang_process_by_address(&pr, src, p), KHANG_EUNSUPPORTED);
	khang_source_free(src);
	free(buf);
	fg_kernel_free(k);
	fg_free(f);
}

/* ---- damaged input --------------------------------------------------------------------- */

static uint64_t rd_ptr(const built *b, uint64_t va)
{
	uint8_t x[8] = { 0 };
	uint64_t v = 0;
	unsigned ps = b->s->x86 ? 4 : 8;
	assert_int_equal(fg_read_virtual(b->s->f, fg_kernel_dtb(b->s->f), va, x, ps), 0);
	for (unsigned i = 0; i < ps; i++)
		v |= (uint64_t)x[i] << (8 * i);
	return v;
}

static void wr_ptr(const built *b, uint64_t va, uint64_t v)
{
	assert_int_equal(fg_write_ptr(b->s->f, fg_kernel_dtb(b->s->f), va, v), 0);
}

/* Count explorer's threads through the API. */
static unsigned explorer_threads(khang_source *src, uint32_t *skipped)
{
	const khang_process *p;
	khang_thread_iter *ti;
	const khang_thread *t;
	unsigned n = 0;
	assert_int_equal(khang_process_by_pid(&p, src, 0xc8c), 0);
	assert_int_equal(khang_thread_iter_new(&ti, src, p), 0);
	while (khang_thread_next(&t, ti) == 0)
		n++;
	*skipped = khang_thread_iter_skipped(ti);
	khang_thread_iter_free(ti);
	return n;
}

/* A thread list that loops back into itself (not through the head). */
static void test_cyclic_thread_list(void **state)
{
	(void)state;
	const kh_layout *ls[8];
	size_t nl = test_layouts(ls);
	for (size_t li = 0; li < nl; li += 3) {
		built b;
		memset(&b, 0, sizeof(b));
		b.s = fg_sample_new(ls[li], 4);
		const fg_sample *s = b.s;
		const fg_sample_process *ex = &s->procs[s->explorer];
		uint32_t eoff = kh_layout_offset(s->l, KH_F_ETHREAD_ThreadListEntry);
		/* ETHREAD list: thread 5 -> thread 2 */
		wr_ptr(&b, s->threads[ex->first_thread + 5].va + eoff, s->threads[ex->first_thread + 2].va + eoff);
		open_sample(&b, FG_FMT_BITMAP_KERNEL, NULL);
		uint32_t skipped;
		/* the KTHREAD list still holds every thread */
		assert_int_equal(explorer_threads(b.src, &skipped), ex->nthreads);
		assert_int_equal(skipped, 1);
		assert_true(has_warning(b.src, "EPROCESS thread list: walk stopped after 6 entries"));
		khang_source_free(b.src);
		free(b.buf);

		/* both lists loop: the threads before the loop are kept */
		uint32_t koff = kh_layout_offset(s->l, KH_F_KTHREAD_ThreadListEntry);
		wr_ptr(&b, s->threads[ex->first_thread + 5].va + koff, s->threads[ex->first_thread + 2].va + koff);
		open_sample(&b, FG_FMT_BITMAP_KERNEL, NULL);
		assert_int_equal(explorer_threads(b.src, &skipped), 6);
		assert_int_equal(skipped, 2);
		/* the all-threads walk goes on past explorer and counts it */
		khang_thread_iter *ti;
		const khang_thread *t;
		unsigned n = 0;
		assert_int_equal(khang_thread_iter_new(&ti, b.src, NULL), 0);
		while (khang_thread_next(&t, ti) == 0)
			n++;
		assert_int_equal(n, s->nthreads - ex->nthreads + 6);
		assert_int_equal(khang_thread_iter_skipped(ti), 2);
		khang_thread_iter_free(ti);
		done(&b);
	}
}

/* A thread whose KTHREAD.Process is garbage is skipped and counted. */
static void test_garbage_process_pointer(void **state)
{
	(void)state;
	const kh_layout *ls[8];
	size_t nl = test_layouts(ls);
	for (size_t li = 0; li < nl; li += 2) {
		built b;
		memset(&b, 0, sizeof(b));
		b.s = fg_sample_new(ls[li], 4);
		const fg_sample *s = b.s;
		const fg_sample_process *ex = &s->procs[s->explorer];
		uint64_t victim = s->threads[ex->first_thread + 3].va;
		assert_int_equal(fg_kernel_set(s->k, victim, KH_F_KTHREAD_Process, s->x86 ? 0xdeadbeefu : 0xdeadbeefdeadull), 0);
		open_sample(&b, FG_FMT_FULL, NULL);
		uint32_t skipped;
		assert_int_equal(explorer_threads(b.src, &skipped), ex->nthreads - 1);
		assert_int_equal(skipped, 1);
		assert_true(has_warning(b.src, "KTHREAD.Process is 0xdeadbeef"));
		const khang_thread *t;
		assert_int_equal(khang_thread_by_tid(&t, b.src, s->threads[ex->first_thread + 3].tid), KHANG_ENOTFOUND);
		/* read from its address, it is a thread whose process cannot be found */
		assert_int_equal(khang_thread_by_address(&t, b.src, victim), 0);
		const khang_process *p;
		assert_true(khang_thread_process(&p, t) < 0);
		/* the ready queue that holds it still lists it */
		khang_ready_iter *ri;
		assert_int_equal(khang_ready_iter_new(&ri, b.src, NULL), 0);
		khang_ready_iter_free(ri);
		done(&b);
	}
}

/* Windows 7 wait block chain that loops; Windows 8+ count out of range. */
static void test_wait_block_damage(void **state)
{
	(void)state;
	const kh_layout *ls[8];
	size_t nl = test_layouts(ls);
	for (size_t li = 0; li < nl; li++) {
		built b;
		memset(&b, 0, sizeof(b));
		b.s = fg_sample_new(ls[li], 4);
		const fg_sample *s = b.s;
		const fg_sample_thread *m = &s->threads[s->main_thread];    /* two blocks */
		const fg_sample_thread *all = &s->threads[s->all_types_waiter]; /* ten */
		uint32_t bsize = kh_layout_struct_size(s->l, KH_S_KWAIT_BLOCK);
		bool chain = kh_layout_has(s->l, KH_F_KWAIT_BLOCK_NextWaitBlock);
		if (chain) {
			/* block 1 -> block 1: a loop that never returns to the first */
			uint64_t b1 = m->first_block + bsize;
			assert_int_equal(fg_kernel_set(s->k, b1, KH_F_KWAIT_BLOCK_NextWaitBlock, b1), 0);
			/* the ten blocks: block 4 -> an unmapped address */
			assert_int_equal(fg_kernel_set(s->k, all->first_block + 4 * bsize, KH_F_KWAIT_BLOCK_NextWaitBlock,
			                               s->x86 ? 0x7000u : 0x7000u),
			                 0);
		} else {
			assert_int_equal(fg_kernel_set(s->k, m->va, KH_F_KTHREAD_WaitBlockCount, 200), 0);
			/* move the ten blocks so that the last five fall on a page that
			 * is not mapped: past the end of the last allocation */
			uint64_t area = fg_kernel_alloc(s->k, 0x2000);
			uint64_t end = (area + 0x2000 + 0xFFF) & ~0xFFFull;
			uint8_t blocks[5 * 0x30];
			assert_int_equal(fg_read_virtual(s->f, fg_kernel_dtb(s->f), all->first_block, blocks, 5 * bsize), 0);
			fg_kernel_write(s->k, end - 5 * bsize, blocks, 5 * bsize);
			assert_int_equal(fg_kernel_set(s->k, all->va, KH_F_KTHREAD_WaitBlockList, end - 5 * bsize), 0);
		}
		open_sample(&b, FG_FMT_BITMAP_KERNEL, NULL);
		const khang_thread *t;
		assert_int_equal(khang_thread_by_address(&t, b.src, m->va), 0);
		int n = khang_thread_wait_count(t);
		if (chain) {
			assert_int_equal(n, 2);
			assert_true(has_warning(b.src, "wait block chain loops after 2 blocks"));
		} else {
			assert_int_equal(n, 0);
			assert_true(has_warning(b.src, "WaitBlockCount 200 is more than 64"));
		}
		assert_int_equal(khang_thread_wait_skipped(t), 1);
		assert_int_equal(khang_thread_by_address(&t, b.src, all->va), 0);
		n = khang_thread_wait_count(t);
		assert_true(n >= 4 && n < 10);
		assert_true(khang_thread_wait_skipped(t) >= 1);
		for (int i = 0; i < n; i++) {
			khang_wait_object w = KHANG_WAIT_OBJECT_INIT;
			assert_int_equal(khang_thread_wait_object(&w, t, (size_t)i), 0);
		}
		done(&b);
	}
}

/* A processor whose KPRCB page is missing is skipped and counted. */
static void test_missing_prcb(void **state)
{
	(void)state;
	const kh_layout *ls[8];
	size_t nl = test_layouts(ls);
	for (size_t li = 0; li < nl; li++) {
		built b;
		memset(&b, 0, sizeof(b));
		b.s = fg_sample_new(ls[li], 4);
		const fg_sample *s = b.s;
		/* the page that holds KPRCB.Number */
		uint64_t num = s->cpus[3].kprcb + kh_layout_offset(s->l, KH_F_KPRCB_Number);
		assert_int_equal(fg_map(s->f, fg_kernel_dtb(s->f), num & ~0xFFFull, 0x5000000, FG_PAGE_4K, FG_MAP_NOT_PRESENT), 0);
		open_sample(&b, FG_FMT_BITMAP_KERNEL, NULL);
		khang_processor_iter *it;
		const khang_processor *p;
		assert_int_equal(khang_processor_iter_new(&it, b.src), 0);
		unsigned n = 0;
		while (khang_processor_next(&p, it) == 0) {
			assert_int_equal(khang_processor_index(p), n);
			n++;
		}
		assert_int_equal(n, 3);
		assert_int_equal(khang_processor_iter_skipped(it), 1);
		khang_processor_iter_free(it);
		assert_int_equal(khang_processor_get(&p, b.src, 3), KHANG_ENOTPRESENT);
		assert_non_null(strstr(khang_error_last(), "processor 3"));
		assert_true(has_warning(b.src, "processor 3: KPRCB"));
		/* the ready queues of the other processors are still read */
		khang_ready_iter *ri;
		assert_int_equal(khang_ready_iter_new(&ri, b.src, NULL), 0);
		khang_ready_entry e = KHANG_READY_ENTRY_INIT;
		unsigned nr = 0;
		while (khang_ready_next(&e, ri) == 0)
			nr++;
		assert_int_equal(nr, s->shared_queue ? 3 : 2);
		khang_ready_iter_free(ri);
		done(&b);
	}
}

/* Damaged process list entries: a non-process and a loop. */
static void test_damaged_process_list(void **state)
{
	built b;
	(void)state;
	memset(&b, 0, sizeof(b));
	b.s = fg_sample_new(guid_layout(22000), 4);
	const fg_sample *s = b.s;
	/* svchost's header says it is an event */
	assert_int_equal(fg_kernel_set(s->k, s->procs[1].va, KH_F_DISPATCHER_HEADER_Type, 0), 0);
	open_sample(&b, FG_FMT_BITMAP_KERNEL, NULL);
	khang_process_iter *it;
	const khang_process *p;
	assert_int_equal(khang_process_iter_new(&it, b.src), 0);
	unsigned n = 0;
	while (khang_process_next(&p, it) == 0)
		n++;
	assert_int_equal(n, s->nprocs - 1);
	assert_int_equal(khang_process_iter_skipped(it), 1);
	khang_process_iter_free(it);
	assert_true(has_warning(b.src, "is not a process (object type 0)"));
	khang_thread_iter *ti;
	const khang_thread *t;
	assert_int_equal(khang_thread_iter_new(&ti, b.src, NULL), 0);
	n = 0;
	while (khang_thread_next(&t, ti) == 0)
		n++;
	assert_int_equal(n, s->nthreads - s->procs[1].nthreads);
	assert_int_equal(khang_thread_iter_skipped(ti), 1);
	khang_thread_iter_free(ti);
	khang_source_free(b.src);
	free(b.buf);

	/* a loop: explorer's Flink back to svchost */
	assert_int_equal(fg_kernel_set(s->k, s->procs[1].va, KH_F_DISPATCHER_HEADER_Type,
	                               (uint64_t)fg_kernel_enum(s->k, KH_E_KOBJECTS, "ProcessObject")),
	                 0);
	uint32_t off = kh_layout_offset(s->l, KH_F_EPROCESS_ActiveProcessLinks);
	wr_ptr(&b, s->procs[2].va + off, s->procs[1].va + off);
	open_sample(&b, FG_FMT_BITMAP_KERNEL, NULL);
	assert_int_equal(khang_process_iter_new(&it, b.src), 0);
	n = 0;
	while (khang_process_next(&p, it) == 0)
		n++;
	assert_int_equal(n, 3);
	assert_int_equal(khang_process_iter_skipped(it), 1);
	khang_process_iter_free(it);
	assert_true(rd_ptr(&b, s->procs[2].va + off) == s->procs[1].va + off);
	done(&b);
}

/* max_list_entries bounds each list and, times 8, all threads together. */
static void test_list_limits(void **state)
{
	built b;
	(void)state;
	memset(&b, 0, sizeof(b));
	b.s = fg_sample_new(guid_layout(19041), 4);
	khang_source_opts so = KHANG_SOURCE_OPTS_INIT;
	so.max_list_entries = 5;
	open_sample(&b, FG_FMT_BITMAP_KERNEL, &so);
	khang_thread_iter *ti;
	const khang_thread *t;
	assert_int_equal(khang_thread_iter_new(&ti, b.src, NULL), 0);
	unsigned n = 0;
	while (khang_thread_next(&t, ti) == 0)
		n++;
	assert_true(n <= 40);
	assert_true(n > 0);
	assert_true(khang_thread_iter_skipped(ti) > 0);
	khang_thread_iter_free(ti);
	assert_true(has_warning(b.src, "walk stopped after 5 entries"));
	done(&b);
}

/* ---- allocation failures ------------------------------------------------------------------ */

/* Everything the CLI views do, tolerant of errors. */
static int walk_everything(khang_source *src)
{
	int rc = 0;
	khang_processor_iter *ci;
	const khang_processor *p;
	if (khang_processor_iter_new(&ci, src) == 0) {
		while (khang_processor_next(&p, ci) == 0) {
			const khang_thread *t;
			if (khang_processor_thread(&t, p, KHANG_PROCESSOR_CURRENT) < 0)
				rc = -1;
		}
		khang_processor_iter_free(ci);
	} else {
		rc = -1;
	}
	khang_thread_iter *ti;
	const khang_thread *t;
	if (khang_thread_iter_new(&ti, src, NULL) == 0) {
		int r;
		while ((r = khang_thread_next(&t, ti)) == 0) {
			const khang_process *pr;
			if (khang_thread_process(&pr, t) < 0)
				rc = -1;
			khang_process_image_path(pr);
			int n = khang_thread_wait_count(t);
			if (n < 0)
				rc = -1;
			for (int i = 0; i < n; i++) {
				khang_wait_object w = KHANG_WAIT_OBJECT_INIT;
				if (khang_thread_wait_object(&w, t, (size_t)i) < 0)
					rc = -1;
			}
			const uint64_t *irps;
			size_t ni;
			if (khang_thread_irps(&irps, &ni, t) < 0)
				rc = -1;
		}
		if (r != KHANG_ITEROVER)
			rc = -1;
		khang_thread_iter_free(ti);
	} else {
		rc = -1;
	}
	khang_ready_iter *ri;
	if (khang_ready_iter_new(&ri, src, NULL) == 0) {
		khang_ready_entry e = KHANG_READY_ENTRY_INIT;
		while (khang_ready_next(&e, ri) == 0)
			;
		khang_ready_iter_free(ri);
	} else {
		rc = -1;
	}
	return rc;
}

static void test_allocation_failures(void **state)
{
	built b;
	(void)state;
	memset(&b, 0, sizeof(b));
	b.s = fg_sample_new(guid_layout(7601), 4);
	assert_int_equal(fg_sample_write(b.s, FG_FMT_BITMAP_KERNEL, &b.buf, &b.len), 0);
	fail_alloc fa = { -1, 0, 0 };
	khang_allocator hooks = FAIL_ALLOC_HOOKS(fa);
	khang_source_opts so = KHANG_SOURCE_OPTS_INIT;
	so.allocator = &hooks;
	/* count the allocations of a full walk, then fail each one in turn */
	khang_source *src;
	assert_int_equal(khang_source_open_memory(&src, b.buf, b.len, &so), 0);
	long base = fa.count;
	assert_int_equal(walk_everything(src), 0);
	long total = fa.count - base;
	khang_source_free(src);
	assert_true(total > 10);
	unsigned failures = 0;
	for (long i = 0; i < total; i++) {
		fa.count = 0;
		fa.left = -1;
		assert_int_equal(khang_source_open_memory(&src, b.buf, b.len, &so), 0);
		fa.left = i;
		if (walk_everything(src) < 0)
			failures++;
		fa.left = -1;
		khang_source_free(src);
	}
	printf("%ld allocations in a full walk; %u failure points reported an error\n", total, failures);
	assert_true(failures > 0);
	done(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sample_every_layout),
		cmocka_unit_test(test_format_duration),
		cmocka_unit_test(test_format_filetime),
		cmocka_unit_test(test_bad_arguments),
		cmocka_unit_test(test_limited_mode),
		cmocka_unit_test(test_cyclic_thread_list),
		cmocka_unit_test(test_garbage_process_pointer),
		cmocka_unit_test(test_wait_block_damage),
		cmocka_unit_test(test_missing_prcb),
		cmocka_unit_test(test_damaged_process_list),
		cmocka_unit_test(test_list_limits),
		cmocka_unit_test(test_allocation_failures),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

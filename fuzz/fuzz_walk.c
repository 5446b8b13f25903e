/*
 * Fuzz the object layer: processors, processes, threads, wait objects and
 * ready queues, on writer-made dumps whose memory pages the input mutates.
 *
 * At start-up four dumps are built with the forge's sample kernel
 * (fg_sample: x64 Windows 10 2004, x64 Windows 7, x86 PAE and x86 non-PAE
 * Windows 7; bitmap kernel dumps). An input selects one and patches its page
 * area (everything after the header and bitmap, so the dump still opens):
 *
 *   byte 0       base dump (mod 4)
 *   byte 1       bit 0: max_list_entries 64 instead of 512
 *   then records { u32 LE offset into the page area (mod its size),
 *                  u8 n (1..16 after mod), n bytes to write }
 *
 * Every iterator and accessor runs; invariants are checked with FUZZ_CHECK
 * (always on). tests/forge/mk_walk_corpus.c writes the seed corpus.
 */
#include "fuzz_check.h"
#include "fuzz_patch.h"
#include <stdint.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "khang.h"
#include "fg_sample.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

typedef struct base {
	uint8_t *data;
	size_t len;
	uint64_t first_page;
} base;

static base bases[FG_WALK_BASES];
static int ready_bases;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	if (!ready_bases) {
		for (int i = 0; i < FG_WALK_BASES; i++) {
			fg_sample *s = fg_sample_walk_base(i);
			FUZZ_CHECK(s != NULL);
			FUZZ_CHECK(fg_sample_write(s, FG_WALK_FORMAT, &bases[i].data, &bases[i].len) == 0);
			FUZZ_CHECK(fg_sample_first_page(s, FG_WALK_FORMAT, &bases[i].first_page) == 0);
			FUZZ_CHECK(bases[i].first_page < bases[i].len);
			fg_sample_free(s);
		}
		ready_bases = 1;
	}
	return 0;
}

static void check_string(const char *s, size_t max)
{
	FUZZ_CHECK(s != NULL);
	FUZZ_CHECK(strlen(s) <= max);
}

/* An IRP and its stack locations: bounded counts, NUL-terminated names. */
static void check_irp(khang_source *src, uint64_t va)
{
	khang_irp irp = KHANG_IRP_INIT;
	int rc = khang_irp_read(&irp, src, va);
	FUZZ_CHECK(rc == 0 || rc == KHANG_ENOTPRESENT || rc == KHANG_ECORRUPT || rc == KHANG_ERANGE ||
	           rc == KHANG_EUNSUPPORTED);
	if (rc != 0)
		return;
	FUZZ_CHECK(irp.stack_count >= 1 && irp.stack_count <= 127 && irp.address == va);
	check_string(irp.driver_name, 63);
	check_string(irp.module, 63);
	(void)khang_irp_major_name(irp.major);
	(void)khang_irp_minor_name(irp.major, irp.minor);
	for (int i = 0; i <= irp.stack_count + 1; i++) {
		khang_irp_location l = KHANG_IRP_LOCATION_INIT;
		rc = khang_irp_location_read(&l, src, va, (uint32_t)i);
		if (i < 1 || i > irp.stack_count) {
			FUZZ_CHECK(rc == KHANG_ENOTFOUND);
			continue;
		}
		FUZZ_CHECK(rc == 0 && l.index == (uint32_t)i && l.current == (i == irp.current_location));
		check_string(l.driver_name, 63);
		check_string(l.module, 63);
		(void)khang_power_state_name(l.power_type, l.power_state);
	}
}

static void walk_thread(khang_source *src, const khang_thread *t, uint32_t max_list)
{
	char b[64];
	const khang_process *p;
	FUZZ_CHECK(khang_thread_address(t) != 0 || khang_thread_tid(t) >= -1);
	check_string(khang_thread_state_name(t), 64);
	check_string(khang_thread_wait_reason_name(t), 64);
	int st = khang_thread_state(t);
	FUZZ_CHECK(st >= -1 && st < 256);
	FUZZ_CHECK(khang_thread_wait_reason(t) >= -1 && khang_thread_wait_reason(t) < 256);
	FUZZ_CHECK(khang_thread_wait_mode(t) >= -1 && khang_thread_wait_mode(t) < 256);
	int64_t ms = khang_thread_wait_ms(t);
	FUZZ_CHECK(ms >= -1);
	FUZZ_CHECK(khang_format_duration(b, sizeof(b), ms) < (int)sizeof(b));
	FUZZ_CHECK(khang_format_filetime(b, sizeof(b), khang_thread_create_time(t)) < (int)sizeof(b));
	(void)khang_thread_wait_irql(t);
	(void)khang_thread_wait_tick(t);
	(void)khang_thread_priority(t);
	(void)khang_thread_base_priority(t);
	(void)khang_thread_processor(t);
	(void)khang_thread_ideal_processor(t);
	(void)khang_thread_context_switches(t);
	FUZZ_CHECK(khang_thread_kernel_ms(t) >= -1 && khang_thread_user_ms(t) >= -1);
	(void)khang_thread_kernel_ticks(t);
	(void)khang_thread_user_ticks(t);
	FUZZ_CHECK(khang_thread_alertable(t) >= -1 && khang_thread_alertable(t) <= 1);
	(void)khang_thread_suspend_count(t);
	FUZZ_CHECK(khang_thread_is_system(t) >= -1 && khang_thread_is_system(t) <= 1);
	FUZZ_CHECK(khang_thread_is_terminated(t) >= -1 && khang_thread_is_terminated(t) <= 1);
	FUZZ_CHECK(khang_thread_is_gui(t) == -1 || khang_thread_is_gui(t) == (khang_thread_win32_thread(t) != 0));
	(void)khang_thread_start_address(t);
	(void)khang_thread_win32_start_address(t);
	(void)khang_thread_teb(t);
	(void)khang_thread_stack_init(t);
	(void)khang_thread_stack_base(t);
	(void)khang_thread_stack_limit(t);
	(void)khang_thread_kernel_stack(t);
	if (khang_thread_process(&p, t) == 0) {
		FUZZ_CHECK(khang_process_address(p) == khang_thread_process_address(t));
		check_string(khang_process_name(p), 15);
	}
	int n = khang_thread_wait_count(t);
	FUZZ_CHECK(n >= 0 && n <= 64);
	if (st != KHANG_THREAD_WAITING)
		FUZZ_CHECK(n == 0);
	for (int i = 0; i < n; i++) {
		khang_wait_object w = KHANG_WAIT_OBJECT_INIT;
		FUZZ_CHECK(khang_thread_wait_object(&w, t, (size_t)i) == 0);
		FUZZ_CHECK(w.size == sizeof(w));
		FUZZ_CHECK((int)w.type >= KHANG_OBJECT_UNKNOWN && w.type <= KHANG_OBJECT_OTHER);
		check_string(w.type_name, 64);
		check_string(w.block_state_name, 64);
		FUZZ_CHECK((w.raw_type < 0) == (w.type == KHANG_OBJECT_UNKNOWN) || w.raw_type >= 0);
		if (w.owner)
			FUZZ_CHECK(khang_thread_address(w.owner) == w.owner_address);
		if (w.thread)
			FUZZ_CHECK(khang_thread_address(w.thread) == w.object && w.type == KHANG_OBJECT_THREAD);
		if (w.process)
			FUZZ_CHECK(khang_process_address(w.process) == w.object && w.type == KHANG_OBJECT_PROCESS);
	}
	khang_wait_object w = KHANG_WAIT_OBJECT_INIT;
	FUZZ_CHECK(khang_thread_wait_object(&w, t, (size_t)n) == KHANG_ENOTFOUND);
	(void)khang_thread_wait_skipped(t);
	const uint64_t *irps;
	size_t nirps;
	if (khang_thread_irps(&irps, &nirps, t) == 0) {
		FUZZ_CHECK(nirps <= max_list && (nirps == 0 || irps != NULL));
		for (size_t i = 0; i < nirps && i < 8; i++)
			check_irp(src, irps[i]);
	}
	const khang_thread *same;
	if (khang_thread_by_address(&same, src, khang_thread_address(t)) == 0)
		FUZZ_CHECK(khang_thread_address(same) == khang_thread_address(t));
}

static void walk(khang_source *src, uint32_t max_list)
{
	/* processors */
	khang_processor_iter *ci;
	const khang_processor *c;
	uint32_t count = 0;
	if (khang_processor_iter_new(&ci, src) == 0) {
		FUZZ_CHECK(khang_processor_count(&count, src) == 0);
		uint32_t n = 0, last = 0;
		while (khang_processor_next(&c, ci) == 0) {
			uint32_t idx = khang_processor_index(c);
			FUZZ_CHECK(idx < count && (n == 0 || idx > last));
			last = idx;
			n++;
			const khang_processor *same;
			FUZZ_CHECK(khang_processor_get(&same, src, idx) == 0 && same == c);
			check_string(khang_processor_vendor(c), 12);
			FUZZ_CHECK(khang_processor_irql(c) >= -1 && khang_processor_irql(c) < 256);
			FUZZ_CHECK(khang_processor_is_idle(c) >= -1 && khang_processor_is_idle(c) <= 1);
			(void)khang_processor_mhz(c);
			(void)khang_processor_family(c);
			(void)khang_processor_model(c);
			(void)khang_processor_stepping(c);
			(void)khang_processor_feature_bits(c);
			(void)khang_processor_group(c);
			(void)khang_processor_group_index(c);
			(void)khang_processor_interrupt_count(c);
			for (int k = 0; k < 4; k++)
				(void)khang_processor_ticks(c, (khang_processor_time)k);
			(void)khang_processor_dpc_queue_depth(c);
			(void)khang_processor_threaded_dpc_queue_depth(c);
			(void)khang_processor_ready_summary(c);
			(void)khang_processor_shared_ready_queue(c);
			khang_processor_dpc dpc = KHANG_PROCESSOR_DPC_INIT;
			FUZZ_CHECK(khang_processor_dpc_info(&dpc, c) == 0);
			FUZZ_CHECK(dpc.routine_active >= -1 && dpc.routine_active <= 1);
			FUZZ_CHECK(dpc.size == sizeof(dpc));
			for (int r = 0; r < KHANG_REG_COUNT; r++) {
				uint64_t v;
				int rc = khang_processor_register(&v, c, (khang_register)r);
				FUZZ_CHECK(rc == 0 || rc == KHANG_ENOTFOUND || rc == KHANG_ENOTPRESENT);
			}
			for (int slot = 0; slot < 3; slot++) {
				const khang_thread *t;
				if (khang_processor_thread(&t, c, (khang_processor_slot)slot) == 0)
					walk_thread(src, t, max_list);
			}
		}
		FUZZ_CHECK(n + khang_processor_iter_skipped(ci) == count);
		khang_processor_iter_free(ci);
	}
	/* processes */
	khang_process_iter *pi;
	const khang_process *p;
	if (khang_process_iter_new(&pi, src) == 0) {
		uint32_t n = 0;
		while (khang_process_next(&p, pi) == 0) {
			n++;
			check_string(khang_process_name(p), 15);
			check_string(khang_process_image_path(p), 4096);
			(void)khang_process_session_id(p);
			(void)khang_process_handle_count(p);
			(void)khang_process_thread_count(p);
			FUZZ_CHECK(khang_process_is_exiting(p) >= -1 && khang_process_is_exiting(p) <= 1);
			FUZZ_CHECK(khang_process_is_gui(p) >= -1 && khang_process_is_gui(p) <= 1);
			const khang_process *same;
			FUZZ_CHECK(khang_process_by_address(&same, src, khang_process_address(p)) == 0 && same == p);
			if (khang_process_pid(p) >= 0 && khang_process_by_pid(&same, src, (uint64_t)khang_process_pid(p)) == 0)
				FUZZ_CHECK(khang_process_pid(same) == khang_process_pid(p));
			const khang_thread *m;
			if (khang_process_main_thread(&m, p) == 0) {
				const khang_process *owner;
				FUZZ_CHECK(khang_thread_process(&owner, m) == 0 && owner == p);
			}
		}
		FUZZ_CHECK(n <= max_list);
		khang_process_iter_free(pi);
	}
	/* threads */
	khang_thread_iter *ti;
	const khang_thread *t;
	if (khang_thread_iter_new(&ti, src, NULL) == 0) {
		uint64_t n = 0;
		int rc;
		while ((rc = khang_thread_next(&t, ti)) == 0) {
			n++;
			walk_thread(src, t, max_list);
			const khang_thread *same;
			if (khang_thread_tid(t) >= 0 && khang_thread_by_tid(&same, src, (uint64_t)khang_thread_tid(t)) == 0)
				FUZZ_CHECK(khang_thread_tid(same) == khang_thread_tid(t));
		}
		FUZZ_CHECK(rc == KHANG_ITEROVER);
		FUZZ_CHECK(n <= 8ull * max_list);
		khang_thread_iter_free(ti);
	}
	/* ready queues */
	khang_ready_iter *ri;
	if (khang_ready_iter_new(&ri, src, NULL) == 0) {
		khang_ready_entry e = KHANG_READY_ENTRY_INIT;
		while (khang_ready_next(&e, ri) == 0) {
			FUZZ_CHECK(e.priority < 32);
			FUZZ_CHECK(e.thread != NULL && khang_thread_address(e.thread) == e.thread_address);
			FUZZ_CHECK(e.processor >= -1 && (e.processor < 0 || (uint32_t)e.processor < count));
			FUZZ_CHECK(e.ready_ms >= -1);
		}
		khang_ready_iter_free(ri);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (!ready_bases)
		LLVMFuzzerInitialize(NULL, NULL);
	if (size < 2)
		return 0;
	const base *b = &bases[data[0] % FG_WALK_BASES];
	uint8_t *dump = fuzz_patched_copy(b->data, b->len, b->first_page, data, size, 2);
	khang_source *src;
	khang_source_opts o = KHANG_SOURCE_OPTS_INIT;
	o.max_list_entries = (data[1] & 1) ? 64 : 512;
	if (khang_source_open_memory(&src, dump, b->len, &o) == 0) {
		walk(src, o.max_list_entries);
		khang_source_free(src);
	}
	free(dump);
	return 0;
}

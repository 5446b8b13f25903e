/*
 * Fuzz thread stack walks and unique stacks on writer-made dumps whose
 * memory pages the input mutates: switch frames, trap frames, stacks,
 * module images and their unwind data, loader lists.
 *
 * At start-up the two sample systems of fg_stack (x64 Windows 10 2004 with
 * user-mode frames, a running thread and a driver without unwind data; x86
 * PAE Windows 7 with a system call) are written as bitmap kernel dumps. An
 * input selects one and patches its page area (after the header and the
 * bitmap, so the dump still opens):
 *
 *   byte 0       base dump (mod 2)
 *   byte 1       khang_stack_flags (low 3 bits); bit 3: max_frames 8
 *   then records { u32 LE offset into the page area (mod its size),
 *                  u8 n (1..16 after mod), n bytes to write }
 *
 * Every thread is walked and every frame named; unique stacks are built
 * with and without filters. Invariants (FUZZ_CHECK, always on): frame
 * counts within max_frames, kinds and end codes in range, names never
 * NULL, thread totals add up. fuzz/corpus/fuzz_stack holds the seeds.
 */
#include "fuzz_check.h"
#include <stdint.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "khang.h"
#include "fg_stack.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

typedef struct base {
	uint8_t *data;
	size_t len;
	uint64_t first_page;
} base;

static base bases[FG_STACK_SAMPLES];
static int ready_bases;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	if (ready_bases)
		return 0;
	for (int i = 0; i < FG_STACK_SAMPLES; i++) {
		fg_forge *f = fg_stack_sample(i);
		FUZZ_CHECK(f != NULL);
		fg_write_opts wo = FG_WRITE_OPTS_INIT;
		wo.format = FG_FMT_BITMAP_KERNEL;
		wo.kernel_only = 1;
		fg_layout lay;
		FUZZ_CHECK(fg_write_memory(f, &bases[i].data, &bases[i].len, &wo) == 0);
		FUZZ_CHECK(fg_layout_of(f, &wo, &lay) == 0);
		bases[i].first_page = lay.first_page;
		FUZZ_CHECK(bases[i].first_page < bases[i].len);
		fg_free(f);
	}
	ready_bases = 1;
	return 0;
}

static void check_stack(khang_stack *st, uint32_t max_frames)
{
	size_t n = khang_stack_frame_count(st);
	FUZZ_CHECK(n >= 1 && n <= max_frames);
	FUZZ_CHECK((unsigned)khang_stack_end(st) <= KHANG_STACK_END_USER_MODE);
	FUZZ_CHECK((unsigned)khang_stack_start(st) <= KHANG_STACK_START_PRCB_CONTEXT);
	FUZZ_CHECK(khang_stack_end_reason(st) != NULL);
	for (size_t i = 0; i < n; i++) {
		khang_frame f;
		khang_frame_info fi = KHANG_FRAME_INFO_INIT;
		FUZZ_CHECK(khang_stack_frame(&f, st, i) == 0);
		FUZZ_CHECK((unsigned)f.kind <= KHANG_FRAME_SCAN);
		FUZZ_CHECK(i > 0 || f.kind == KHANG_FRAME_CONTEXT);
		if (khang_stack_frame_info(&fi, st, i) != 0)
			continue;
		FUZZ_CHECK(fi.ip == f.ip && fi.sp == f.sp && fi.kind == f.kind);
		FUZZ_CHECK(fi.text && fi.module && fi.symbol && fi.text[0]);
		FUZZ_CHECK(fi.kind == KHANG_FRAME_TRAP || fi.trap_frame == 0);
	}
	khang_frame f;
	FUZZ_CHECK(khang_stack_frame(&f, st, n) == KHANG_ERANGE);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	LLVMFuzzerInitialize(NULL, NULL);
	if (size < 2)
		return 0;
	const base *b = &bases[data[0] % FG_STACK_SAMPLES];
	uint8_t *dump = malloc(b->len);
	FUZZ_CHECK(dump != NULL);
	memcpy(dump, b->data, b->len);
	size_t area = b->len - (size_t)b->first_page;
	for (size_t i = 2; i + 5 <= size;) {
		uint32_t off = (uint32_t)data[i] | (uint32_t)data[i + 1] << 8 | (uint32_t)data[i + 2] << 16 |
		               (uint32_t)data[i + 3] << 24;
		size_t n = (size_t)(data[i + 4] % 16) + 1;
		i += 5;
		for (size_t k = 0; k < n && i < size; k++, i++)
			dump[b->first_page + (off + k) % area] = data[i];
	}
	khang_stack_opts so = KHANG_STACK_OPTS_INIT;
	so.flags = data[1] & 7u;
	so.max_frames = data[1] & 8u ? 8 : 0;
	uint32_t max = so.max_frames ? so.max_frames : 256;

	khang_source *src;
	if (khang_source_open_memory(&src, dump, b->len, NULL) == 0) {
		khang_thread_iter *it;
		size_t walked = 0, ok = 0;
		if (khang_thread_iter_new(&it, src, NULL) == 0) {
			const khang_thread *t;
			while (khang_thread_next(&t, it) == 0 && walked < 64) {
				khang_stack *st;
				walked++;
				if (khang_stack_walk(&st, t, &so) == 0) {
					ok++;
					FUZZ_CHECK(khang_stack_thread_address(st) == khang_thread_address(t));
					check_stack(st, max);
					khang_stack_free(st);
				}
			}
			khang_thread_iter_free(it);
		}
		if (walked < 64) {
			khang_unique_opts uo = KHANG_UNIQUE_OPTS_INIT;
			uo.stack = so;
			khang_unique_stacks *u;
			if (khang_unique_stacks_new(&u, src, &uo) == 0) {
				size_t total = 0;
				FUZZ_CHECK(khang_unique_stacks_walked(u) == walked);
				FUZZ_CHECK(khang_unique_stacks_walked(u) ==
				           khang_unique_stacks_thread_total(u) + khang_unique_stacks_skipped(u));
				for (size_t g = 0; g < khang_unique_stacks_count(u); g++) {
					size_t n = khang_unique_stacks_thread_count(u, g);
					FUZZ_CHECK(n >= 1);
					FUZZ_CHECK(g == 0 || n <= khang_unique_stacks_thread_count(u, g - 1));
					FUZZ_CHECK(khang_unique_stacks_thread(u, g, n - 1) != NULL);
					check_stack(khang_unique_stacks_stack(u, g), max);
					total += n;
				}
				FUZZ_CHECK(total == khang_unique_stacks_thread_total(u));
				FUZZ_CHECK(khang_unique_stacks_thread_total(u) == ok);
				khang_unique_stacks_free(u);
			}
			uo.module_filter = "nt";
			uo.symbol_filter = "Wait";
			if (khang_unique_stacks_new(&u, src, &uo) == 0) {
				FUZZ_CHECK(khang_unique_stacks_thread_total(u) <= ok);
				khang_unique_stacks_free(u);
			}
		}
		khang_source_free(src);
	}
	free(dump);
	return 0;
}

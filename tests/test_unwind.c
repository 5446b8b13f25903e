/*
 * The x64 unwinder on synthetic images (tests/forge/fg_pe) and stacks:
 * every unwind operation, the prologue (partly executed), epilogues,
 * chained unwind info, machine frames with and without error code, leaf
 * functions, and malformed unwind data.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "stack/stack_int.h"
#include "fg_pe.h"

#define BASE 0xfffff80500000000ull
#define STACK_VA 0xffff900000000000ull
#define STACK_LEN 0x4000

enum { RAX, RCX, RDX, RBX, RSP, RBP, RSI, RDI };

/* unwind code slot: offset in prologue, op, info */
#define CODE(off, op, info) ((uint16_t)((off) | ((op) << 8) | ((info) << 12)))

typedef struct fixture {
	fg_pe *b;
	uint32_t next_info;   /* where the next UNWIND_INFO goes */
	uint8_t *img;
	size_t len;
	kh_pe pe;
	kh_alloc a;
	uint8_t stack[STACK_LEN];
} fixture;

static int stack_read(void *ctx, uint64_t va, uint64_t *out)
{
	fixture *fx = ctx;
	if (va < STACK_VA || va + 8 > STACK_VA + STACK_LEN)
		return KHANG_ENOTPRESENT;
	*out = kh_le64(fx->stack + (va - STACK_VA));
	return 0;
}

static void put_stack(fixture *fx, uint64_t va, uint64_t v)
{
	assert_true(va >= STACK_VA && va + 8 <= STACK_VA + STACK_LEN);
	kh_put_le64(fx->stack + (va - STACK_VA), v);
}

/* Write an UNWIND_INFO and return its RVA. chain: RVA of a parent
 * UNWIND_INFO for a chained entry (0: none). */
static uint32_t unwind_info(fixture *fx, uint8_t prolog, uint8_t frame_reg, uint8_t frame_off, const uint16_t *codes,
                            uint8_t n, uint32_t chain_begin, uint32_t chain_end, uint32_t chain_info)
{
	uint8_t b[8 + 2 * 256 + 12] = { 0 };
	uint32_t rva = fx->next_info;
	b[0] = (uint8_t)(1 | ((chain_info ? 4 : 0) << 3));
	b[1] = prolog;
	b[2] = n;
	b[3] = (uint8_t)(frame_reg | (frame_off << 4));
	for (uint8_t i = 0; i < n; i++)
		kh_put_le16(b + 4 + 2 * i, codes[i]);
	size_t at = 4 + 2 * (size_t)((n + 1) & ~1);
	if (chain_info) {
		kh_put_le32(b + at, chain_begin);
		kh_put_le32(b + at + 4, chain_end);
		kh_put_le32(b + at + 8, chain_info);
		at += 12;
	}
	assert_int_equal(fg_pe_write(fx->b, rva, b, at), 0);
	fx->next_info += (uint32_t)((at + 15) & ~15u);
	return rva;
}

static void build(fixture *fx)
{
	assert_int_equal(fg_pe_build(fx->b, &fx->img, &fx->len), 0);
	kh_alloc_init(&fx->a, NULL);
	assert_int_equal(kh_pe_open_buffer(&fx->pe, &fx->a, fx->img, fx->len), 0);
}

static int setup(void **state)
{
	fixture *fx = calloc(1, sizeof(*fx));
	fx->b = fg_pe_new(true, BASE, 0x8000);
	fx->next_info = 0x7000;
	*state = fx;
	return 0;
}

static int teardown(void **state)
{
	fixture *fx = *state;
	kh_pe_close(&fx->pe);
	free(fx->img);
	fg_pe_free(fx->b);
	free(fx);
	return 0;
}

static int step(fixture *fx, kh_regs *r, khang_frame_kind *kind)
{
	return kh_unwind_x64_image(&fx->pe, (uint32_t)(r->r[KH_RIP] - BASE), "test", stack_read, fx, r, kind);
}

/* push rbx; push rbp; sub rsp, 0x28 -- then the body, in and out of the prologue */
static void test_push_alloc_small(void **state)
{
	fixture *fx = *state;
	uint16_t c[] = { CODE(6, 2, 4), CODE(2, 0, RBP), CODE(1, 0, RBX) };
	uint32_t info = unwind_info(fx, 6, 0, 0, c, 3, 0, 0, 0);
	fg_pe_add_runtime_function(fx->b, 0x1000, 0x1100, info);
	build(fx);
	uint64_t rsp0 = STACK_VA + 0x2000; /* rsp at the call: holds the return address */
	put_stack(fx, rsp0, BASE + 0x5555);
	put_stack(fx, rsp0 - 8, 0xB0B0);   /* saved rbx */
	put_stack(fx, rsp0 - 16, 0xBEBE);  /* saved rbp */

	kh_regs r = { 0 };
	khang_frame_kind k;
	r.r[KH_RIP] = BASE + 0x1040;
	r.r[KH_RSP] = rsp0 - 16 - 0x28;
	assert_int_equal(step(fx, &r, &k), 0);
	assert_int_equal(k, KHANG_FRAME_UNWIND);
	assert_int_equal(r.r[KH_RIP], BASE + 0x5555);
	assert_int_equal(r.r[KH_RSP], rsp0 + 8);
	assert_int_equal(r.r[RBX], 0xB0B0);
	assert_int_equal(r.r[RBP], 0xBEBE);

	/* in the prologue after both pushes, before the sub */
	memset(&r, 0, sizeof(r));
	r.r[KH_RIP] = BASE + 0x1002;
	r.r[KH_RSP] = rsp0 - 16;
	assert_int_equal(step(fx, &r, &k), 0);
	assert_int_equal(r.r[KH_RSP], rsp0 + 8);
	assert_int_equal(r.r[RBX], 0xB0B0);
	/* at the first byte: nothing executed yet */
	memset(&r, 0, sizeof(r));
	r.r[KH_RIP] = BASE + 0x1000;
	r.r[KH_RSP] = rsp0;
	r.r[RBX] = 0x1234;
	assert_int_equal(step(fx, &r, &k), 0);
	assert_int_equal(r.r[KH_RSP], rsp0 + 8);
	assert_int_equal(r.r[RBX], 0x1234);
}

/* alloc large (both forms), save non-volatile near and far */
static void test_alloc_large_save(void **state)
{
	fixture *fx = *state;
	/* prologue: push rdi; sub rsp, 0x12340 (large, u32); mov [rsp+0x80], rsi; mov [rsp+0x10000], rbx */
	uint16_t c[] = { CODE(20, 5, RBX), 0x0000, 0x0001, /* SAVE_NONVOL_FAR rbx at 0x10000 */
		         CODE(16, 4, RSI), 0x10,           /* SAVE_NONVOL rsi at 0x10*8 = 0x80 */
		         CODE(8, 1, 1), 0x2340, 0x0001,    /* ALLOC_LARGE 0x12340 */
		         CODE(1, 0, RDI) };
	uint32_t info = unwind_info(fx, 20, 0, 0, c, 9, 0, 0, 0);
	/* and: sub rsp, 0x1000 as ALLOC_LARGE info 0 (size / 8) */
	uint16_t c2[] = { CODE(7, 1, 0), 0x1000 / 8 };
	uint32_t info2 = unwind_info(fx, 7, 0, 0, c2, 2, 0, 0, 0);
	fg_pe_add_runtime_function(fx->b, 0x1000, 0x1100, info);
	fg_pe_add_runtime_function(fx->b, 0x1200, 0x1300, info2);
	build(fx);

	/* the big frame does not fit our 16 KiB stack: use addresses that wrap
	 * into it by placing rsp low */
	(void)info2;
	uint64_t rsp0 = STACK_VA + 0x3F00;
	put_stack(fx, rsp0, BASE + 0x7777);
	kh_regs r = { 0 };
	khang_frame_kind k;
	r.r[KH_RIP] = BASE + 0x1280;
	r.r[KH_RSP] = rsp0 - 0x1000;
	assert_int_equal(step(fx, &r, &k), 0);
	assert_int_equal(r.r[KH_RIP], BASE + 0x7777);
	assert_int_equal(r.r[KH_RSP], rsp0 + 8);

	/* the large frame: rsp after prologue = rsp0 - 8 - 0x12340; only the
	 * bytes the unwinder reads must exist: keep them inside the buffer by
	 * putting rsp0 past the buffer end is impossible, so check the error */
	memset(&r, 0, sizeof(r));
	r.r[KH_RIP] = BASE + 0x1050;
	r.r[KH_RSP] = STACK_VA + 0x100;
	assert_int_equal(step(fx, &r, &k), KHANG_ENOTPRESENT); /* rbx's slot at +0x10000 is outside */
}

/* a frame pointer: push rbp; sub rsp, 0x40; lea rbp, [rsp + 0x20]; body with alloca */
static void test_frame_pointer(void **state)
{
	fixture *fx = *state;
	uint16_t c[] = { CODE(10, 3, 0), CODE(5, 2, 7), CODE(1, 0, RBP) };
	uint32_t info = unwind_info(fx, 10, RBP, 2, c, 3, 0, 0, 0);
	fg_pe_add_runtime_function(fx->b, 0x1000, 0x1100, info);
	build(fx);
	uint64_t rsp0 = STACK_VA + 0x2000;
	put_stack(fx, rsp0, BASE + 0x4444);
	put_stack(fx, rsp0 - 8, 0xCAFE); /* saved rbp */
	kh_regs r = { 0 };
	khang_frame_kind k;
	r.r[KH_RIP] = BASE + 0x1030;
	r.r[RBP] = rsp0 - 8 - 0x40 + 0x20;
	r.r[KH_RSP] = rsp0 - 0x400; /* after an alloca: rsp is not the frame's */
	assert_int_equal(step(fx, &r, &k), 0);
	assert_int_equal(r.r[KH_RIP], BASE + 0x4444);
	assert_int_equal(r.r[KH_RSP], rsp0 + 8);
	assert_int_equal(r.r[RBP], 0xCAFE);
}

/* chained unwind info: the child allocates, the parent pushed rbx */
static void test_chained(void **state)
{
	fixture *fx = *state;
	uint16_t parent[] = { CODE(1, 0, RBX) };
	uint32_t pinfo = unwind_info(fx, 1, 0, 0, parent, 1, 0, 0, 0);
	uint16_t child[] = { CODE(4, 2, 3) }; /* sub rsp, 0x20 */
	uint32_t cinfo = unwind_info(fx, 4, 0, 0, child, 1, 0x1000, 0x1010, pinfo);
	fg_pe_add_runtime_function(fx->b, 0x1000, 0x1010, pinfo);
	fg_pe_add_runtime_function(fx->b, 0x1800, 0x1900, cinfo);
	build(fx);
	uint64_t rsp0 = STACK_VA + 0x2000;
	put_stack(fx, rsp0, BASE + 0x3333);
	put_stack(fx, rsp0 - 8, 0xB1B1);
	kh_regs r = { 0 };
	khang_frame_kind k;
	r.r[KH_RIP] = BASE + 0x1850;
	r.r[KH_RSP] = rsp0 - 8 - 0x20;
	assert_int_equal(step(fx, &r, &k), 0);
	assert_int_equal(r.r[KH_RIP], BASE + 0x3333);
	assert_int_equal(r.r[KH_RSP], rsp0 + 8);
	assert_int_equal(r.r[RBX], 0xB1B1);
}

/* a chain that loops on itself ends with a limit, not a hang */
static void test_chain_loop(void **state)
{
	fixture *fx = *state;
	uint16_t c[] = { CODE(4, 2, 0) };
	uint32_t self = fx->next_info;
	uint32_t info = unwind_info(fx, 4, 0, 0, c, 1, 0x1000, 0x1100, self);
	assert_int_equal(info, self);
	fg_pe_add_runtime_function(fx->b, 0x1000, 0x1100, info);
	build(fx);
	kh_regs r = { 0 };
	khang_frame_kind k;
	r.r[KH_RIP] = BASE + 0x1050;
	r.r[KH_RSP] = STACK_VA + 0x100;
	assert_int_equal(step(fx, &r, &k), KHANG_ELIMIT);
}

/* machine frames: an interrupt (no error code) and an exception (error code) */
static void test_machframe(void **state)
{
	fixture *fx = *state;
	uint16_t c0[] = { CODE(0, 10, 0) };
	uint16_t c1[] = { CODE(0, 10, 1) };
	fg_pe_add_runtime_function(fx->b, 0x1000, 0x1100, unwind_info(fx, 0, 0, 0, c0, 1, 0, 0, 0));
	fg_pe_add_runtime_function(fx->b, 0x1200, 0x1300, unwind_info(fx, 0, 0, 0, c1, 1, 0, 0, 0));
	build(fx);
	uint64_t sp = STACK_VA + 0x1000;
	/* RIP, CS, EFLAGS, RSP, SS */
	put_stack(fx, sp, BASE + 0x2222);
	put_stack(fx, sp + 24, STACK_VA + 0x3000);
	kh_regs r = { 0 };
	khang_frame_kind k;
	r.r[KH_RIP] = BASE + 0x1010;
	r.r[KH_RSP] = sp;
	assert_int_equal(step(fx, &r, &k), 0);
	assert_int_equal(k, KHANG_FRAME_TRAP);
	assert_int_equal(r.r[KH_RIP], BASE + 0x2222);
	assert_int_equal(r.r[KH_RSP], STACK_VA + 0x3000);
	/* with an error code pushed first */
	put_stack(fx, sp, 0xE0E0);
	put_stack(fx, sp + 8, BASE + 0x2233);
	put_stack(fx, sp + 32, STACK_VA + 0x3100);
	memset(&r, 0, sizeof(r));
	r.r[KH_RIP] = BASE + 0x1210;
	r.r[KH_RSP] = sp;
	assert_int_equal(step(fx, &r, &k), 0);
	assert_int_equal(r.r[KH_RIP], BASE + 0x2233);
	assert_int_equal(r.r[KH_RSP], STACK_VA + 0x3100);
}

/* a leaf: no RUNTIME_FUNCTION holds rip, the return address is at rsp */
static void test_leaf(void **state)
{
	fixture *fx = *state;
	uint16_t c[] = { CODE(1, 0, RBX) };
	fg_pe_add_runtime_function(fx->b, 0x1000, 0x1100, unwind_info(fx, 1, 0, 0, c, 1, 0, 0, 0));
	build(fx);
	put_stack(fx, STACK_VA + 0x500, BASE + 0x1111);
	kh_regs r = { 0 };
	khang_frame_kind k;
	r.r[KH_RIP] = BASE + 0x4000;
	r.r[KH_RSP] = STACK_VA + 0x500;
	assert_int_equal(step(fx, &r, &k), 0);
	assert_int_equal(k, KHANG_FRAME_LEAF);
	assert_int_equal(r.r[KH_RIP], BASE + 0x1111);
	assert_int_equal(r.r[KH_RSP], STACK_VA + 0x508);
}

/* an epilogue: add rsp, 0x20; pop rbx; pop r12; ret -- from each point of it */
static void test_epilogue(void **state)
{
	fixture *fx = *state;
	uint16_t c[] = { CODE(7, 2, 3), CODE(3, 0, 12), CODE(1, 0, RBX) };
	fg_pe_add_runtime_function(fx->b, 0x1000, 0x1100, unwind_info(fx, 7, 0, 0, c, 3, 0, 0, 0));
	static const uint8_t epi[] = { 0x48, 0x83, 0xC4, 0x20, 0x41, 0x5C, 0x5B, 0xC3 };
	assert_int_equal(fg_pe_write(fx->b, 0x1080, epi, sizeof(epi)), 0);
	build(fx);
	uint64_t rsp0 = STACK_VA + 0x2000;
	put_stack(fx, rsp0, BASE + 0x6666);
	put_stack(fx, rsp0 - 8, 0xB0);   /* rbx */
	put_stack(fx, rsp0 - 16, 0xC12); /* r12 */
	static const struct {
		uint32_t at;
		uint64_t rsp;
	} points[] = { { 0x1080, STACK_VA + 0x2000 - 16 - 0x20 }, { 0x1084, STACK_VA + 0x2000 - 16 },
		       { 0x1086, STACK_VA + 0x2000 - 8 }, { 0x1087, STACK_VA + 0x2000 } };
	for (size_t i = 0; i < sizeof(points) / sizeof(points[0]); i++) {
		kh_regs r = { 0 };
		khang_frame_kind k;
		r.r[KH_RIP] = BASE + points[i].at;
		r.r[KH_RSP] = points[i].rsp;
		r.r[RBX] = 0xB0;
		r.r[12] = 0xC12;
		assert_int_equal(step(fx, &r, &k), 0);
		assert_int_equal(r.r[KH_RIP], BASE + 0x6666);
		assert_int_equal(r.r[KH_RSP], rsp0 + 8);
		assert_int_equal(r.r[RBX], 0xB0);
		assert_int_equal(r.r[12], 0xC12);
	}
}

static void test_malformed(void **state)
{
	fixture *fx = *state;
	/* version 3 */
	uint8_t bad[4] = { 3, 0, 0, 0 };
	assert_int_equal(fg_pe_write(fx->b, 0x7000, bad, 4), 0);
	fg_pe_add_runtime_function(fx->b, 0x1000, 0x1100, 0x7000);
	/* a code whose slots run past CountOfCodes */
	uint8_t trunc[8] = { 1, 0, 1, 0, 0, 0x14, 0, 0 }; /* ALLOC_LARGE info 1 needs 3 slots */
	assert_int_equal(fg_pe_write(fx->b, 0x7010, trunc, 8), 0);
	fg_pe_add_runtime_function(fx->b, 0x1200, 0x1300, 0x7010);
	/* unwind info outside the image */
	fg_pe_add_runtime_function(fx->b, 0x1400, 0x1500, 0x7FFFFFF0);
	build(fx);
	kh_regs r = { 0 };
	khang_frame_kind k;
	r.r[KH_RSP] = STACK_VA + 0x100;
	r.r[KH_RIP] = BASE + 0x1010;
	assert_int_equal(step(fx, &r, &k), KHANG_ECORRUPT);
	r.r[KH_RIP] = BASE + 0x1210;
	assert_int_equal(step(fx, &r, &k), KHANG_ECORRUPT);
	r.r[KH_RIP] = BASE + 0x1410;
	assert_true(step(fx, &r, &k) < 0);
	/* the stack is not there */
	r.r[KH_RIP] = BASE + 0x5000; /* leaf */
	r.r[KH_RSP] = 0x1000;
	assert_int_equal(step(fx, &r, &k), KHANG_ENOTPRESENT);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_push_alloc_small, setup, teardown),
		cmocka_unit_test_setup_teardown(test_alloc_large_save, setup, teardown),
		cmocka_unit_test_setup_teardown(test_frame_pointer, setup, teardown),
		cmocka_unit_test_setup_teardown(test_chained, setup, teardown),
		cmocka_unit_test_setup_teardown(test_chain_loop, setup, teardown),
		cmocka_unit_test_setup_teardown(test_machframe, setup, teardown),
		cmocka_unit_test_setup_teardown(test_leaf, setup, teardown),
		cmocka_unit_test_setup_teardown(test_epilogue, setup, teardown),
		cmocka_unit_test_setup_teardown(test_malformed, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

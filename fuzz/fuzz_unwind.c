/*
 * Fuzz the x64 unwinder on PE images and unwind data: the input is
 * [u32 image length][image][u32 start rva][u32 start rsp offset][stack bytes].
 * The stack bytes are mapped at a fixed address; up to 64 steps are taken.
 * Invariants: a step either fails with a documented code or yields a frame
 * of a valid kind; a walk never loops forever.
 */
#include <stdint.h>
#include <stddef.h>
#include <string.h>

#include "fuzz_check.h"
#include "stack/stack_int.h"

#define IMAGE_BASE 0xfffff80500000000ull
#define STACK_VA 0xffff900000000000ull

typedef struct mem {
	const uint8_t *p;
	size_t len;
} mem;

static int read8(void *ctx, uint64_t va, uint64_t *out)
{
	const mem *m = ctx;
	if (va < STACK_VA || va - STACK_VA > m->len || m->len - (va - STACK_VA) < 8)
		return KHANG_ENOTPRESENT;
	*out = kh_le64(m->p + (va - STACK_VA));
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 12)
		return 0;
	uint32_t ilen = kh_le32(data);
	if (ilen > size - 12)
		return 0;
	const uint8_t *img = data + 4;
	const uint8_t *rest = img + ilen;
	uint32_t rva = kh_le32(rest), rsp_off = kh_le32(rest + 4);
	mem stack = { rest + 8, size - 12 - ilen };

	kh_alloc a;
	kh_pe pe;
	kh_alloc_init(&a, NULL);
	if (kh_pe_open_buffer(&pe, &a, img, ilen) < 0) {
		kh_pe_close(&pe);
		return 0;
	}
	kh_regs r;
	memset(&r, 0, sizeof(r));
	r.r[KH_RIP] = IMAGE_BASE + rva;
	r.r[KH_RSP] = STACK_VA + rsp_off;
	for (int i = 0; i < 64; i++) {
		khang_frame_kind kind = KHANG_FRAME_CONTEXT;
		uint64_t rip = r.r[KH_RIP];
		if (rip < IMAGE_BASE || rip - IMAGE_BASE >= 0x100000000ull)
			break;
		int rc = kh_unwind_x64_image(&pe, (uint32_t)(rip - IMAGE_BASE), "fuzz", read8, &stack, &r, &kind);
		if (rc < 0) {
			FUZZ_CHECK(rc == KHANG_ENOTPRESENT || rc == KHANG_ECORRUPT || rc == KHANG_ELIMIT ||
			           rc == KHANG_ENOTFOUND || rc == KHANG_ERANGE);
			break;
		}
		FUZZ_CHECK(kind == KHANG_FRAME_UNWIND || kind == KHANG_FRAME_LEAF || kind == KHANG_FRAME_TRAP);
	}
	kh_pe_close(&pe);
	return 0;
}

/*
 * x64 unwinding with the RUNTIME_FUNCTION / UNWIND_INFO data of the module
 * that holds each instruction pointer: every unwind operation (push and save
 * of non-volatile registers and their far forms, small and large
 * allocations, frame pointer, XMM saves, machine frames with and without
 * error code), chained unwind information, the prologue (only the
 * operations already executed are undone) and epilogues (recognised from the
 * instruction bytes and emulated). A function without unwind data is a leaf:
 * its return address is at RSP.
 */
#include <stdio.h>

#include "stack_int.h"

#define UWOP_PUSH_NONVOL 0
#define UWOP_ALLOC_LARGE 1
#define UWOP_ALLOC_SMALL 2
#define UWOP_SET_FPREG 3
#define UWOP_SAVE_NONVOL 4
#define UWOP_SAVE_NONVOL_FAR 5
#define UWOP_EPILOG 6
#define UWOP_SPARE_CODE 7
#define UWOP_SAVE_XMM128 8
#define UWOP_SAVE_XMM128_FAR 9
#define UWOP_PUSH_MACHFRAME 10
#define UNW_FLAG_CHAININFO 0x4
#define MAX_CHAIN 32

int kh_regs_from_context_x64(kh_regs *out, const uint8_t *ctx, size_t len)
{
	if (len < 0x100)
		return kh_error(KHANG_ECORRUPT, "x64 CONTEXT of %zu bytes is too short", len);
	for (int i = 0; i < 16; i++)
		out->r[i] = kh_le64(ctx + 0x78 + 8 * i);
	out->r[KH_RIP] = kh_le64(ctx + 0xF8);
	return 0;
}

typedef struct kh_mem {
	kh_mem_read_fn read;
	void *ctx;
} kh_mem;

static int read_stack(const kh_mem *mem, uint64_t va, uint64_t *out)
{
	int rc = mem->read(mem->ctx, va, out);
	if (rc < 0)
		return kh_error(rc, "stack at 0x%llx is not in the dump", (unsigned long long)va);
	return 0;
}

/* Slots (16-bit) an unwind code takes. */
static unsigned code_slots(uint8_t op, uint8_t info)
{
	switch (op) {
	case UWOP_ALLOC_LARGE: return info == 0 ? 2 : 3;
	case UWOP_SAVE_NONVOL: return 2;
	case UWOP_SAVE_NONVOL_FAR: return 3;
	case UWOP_EPILOG: return 2;
	case UWOP_SPARE_CODE: return 3;
	case UWOP_SAVE_XMM128: return 2;
	case UWOP_SAVE_XMM128_FAR: return 3;
	default: return 1;
	}
}

/* Recognise an epilogue at rip from the code bytes and, if it is one,
 * emulate it: returns 1 (done, regs hold the caller's), 0 (not an
 * epilogue), or an error. */
static int try_epilogue(const kh_mem *src, kh_pe *pe, uint32_t rva, uint8_t frame_reg, uint32_t frame_off,
                        kh_regs *regs)
{
	uint8_t c[64];
	if (kh_pe_read(pe, rva, c, sizeof(c)) < 0)
		return 0; /* code not available: assume the body */
	size_t i = 0;
	kh_regs t = *regs;
	/* add rsp, imm8 / imm32 */
	if (c[0] == 0x48 && c[1] == 0x83 && c[2] == 0xC4) {
		t.r[KH_RSP] += c[3];
		i = 4;
	} else if (c[0] == 0x48 && c[1] == 0x81 && c[2] == 0xC4) {
		t.r[KH_RSP] += kh_le32(c + 3);
		i = 7;
	} else if ((c[0] == 0x48 || c[0] == 0x49) && c[1] == 0x8D && frame_reg) {
		/* lea rsp, [frame_reg + disp8/disp32] */
		uint8_t modrm = c[2];
		uint8_t rm = (uint8_t)((modrm & 7) | (c[0] == 0x49 ? 8 : 0));
		if ((modrm & 0x38) != 0x20 || rm != frame_reg || rm == KH_RSP)
			return 0;
		if ((modrm >> 6) == 1) {
			t.r[KH_RSP] = regs->r[frame_reg] + (uint64_t)(int64_t)(int8_t)c[3];
			i = 4;
		} else if ((modrm >> 6) == 2) {
			t.r[KH_RSP] = regs->r[frame_reg] + (uint64_t)(int64_t)(int32_t)kh_le32(c + 3);
			i = 7;
		} else {
			return 0;
		}
		(void)frame_off;
	}
	/* pops, then ret or a tail jump */
	for (int n = 0; n < 16 && i + 2 < sizeof(c); n++) {
		if (c[i] >= 0x58 && c[i] <= 0x5F) {
			uint64_t v;
			if (read_stack(src, t.r[KH_RSP], &v) < 0)
				return KHANG_ENOTPRESENT;
			t.r[c[i] - 0x58] = v;
			t.r[KH_RSP] += 8;
			i += 1;
		} else if (c[i] == 0x41 && c[i + 1] >= 0x58 && c[i + 1] <= 0x5F) {
			uint64_t v;
			if (read_stack(src, t.r[KH_RSP], &v) < 0)
				return KHANG_ENOTPRESENT;
			t.r[8 + c[i + 1] - 0x58] = v;
			t.r[KH_RSP] += 8;
			i += 2;
		} else {
			break;
		}
	}
	bool ret = c[i] == 0xC3 || (c[i] == 0xF3 && c[i + 1] == 0xC3) || (c[i] == 0xC2);
	bool jmp = c[i] == 0xE9 || c[i] == 0xEB || (c[i] == 0x48 && c[i + 1] == 0xFF && (c[i + 2] & 0x38) == 0x20);
	if (!ret && !(jmp && i > 0))
		return 0;
	uint64_t retaddr;
	if (read_stack(src, t.r[KH_RSP], &retaddr) < 0)
		return KHANG_ENOTPRESENT;
	t.r[KH_RIP] = retaddr;
	t.r[KH_RSP] += 8;
	*regs = t;
	return 1;
}

/* Undo one UNWIND_INFO's operations. in_prolog_off: bytes of the prologue
 * executed (codes at higher offsets are skipped), or UINT32_MAX for all.
 * *machframe is set when a machine frame ended the frame. Returns the
 * chained RUNTIME_FUNCTION's unwind RVA in *chain (0 if none). */
static int apply_unwind_info(const kh_mem *src, kh_pe *pe, uint32_t info_rva, uint32_t prolog_done, kh_regs *regs,
                             bool *machframe, uint32_t *chain, uint8_t *out_frame_reg)
{
	uint8_t h[4];
	uint16_t codes[256];
	int rc = kh_pe_read(pe, info_rva, h, 4);
	if (rc < 0)
		return kh_error(rc, "UNWIND_INFO at RVA 0x%x is not readable", info_rva);
	uint8_t version = h[0] & 7, flags = h[0] >> 3, count = h[2];
	uint8_t frame_reg = h[3] & 0xF;
	uint32_t frame_off = (uint32_t)(h[3] >> 4) * 16;
	if (version != 1 && version != 2)
		return kh_error(KHANG_ECORRUPT, "UNWIND_INFO at RVA 0x%x: version %u", info_rva, version);
	if (count) {
		uint8_t raw[512];
		rc = kh_pe_read(pe, info_rva + 4, raw, 2u * count);
		if (rc < 0)
			return kh_error(rc, "unwind codes at RVA 0x%x are not readable", info_rva + 4);
		for (unsigned i = 0; i < count; i++)
			codes[i] = kh_le16(raw + 2 * i);
	}
	*out_frame_reg = frame_reg;
	for (unsigned i = 0; i < count;) {
		uint8_t off = (uint8_t)codes[i], op = (codes[i] >> 8) & 0xF, info = (uint8_t)(codes[i] >> 12);
		unsigned slots = code_slots(op, info);
		if (i + slots > count)
			return kh_error(KHANG_ECORRUPT, "UNWIND_INFO at RVA 0x%x: truncated code %u", info_rva, i);
		if (op == UWOP_EPILOG || op == UWOP_SPARE_CODE || off > prolog_done) {
			/* epilogue descriptors (version 2), or not yet executed in the prologue */
			i += slots;
			continue;
		}
		uint64_t v;
		switch (op) {
		case UWOP_PUSH_NONVOL:
			if ((rc = read_stack(src, regs->r[KH_RSP], &v)) < 0)
				return rc;
			regs->r[info] = v;
			regs->r[KH_RSP] += 8;
			break;
		case UWOP_ALLOC_LARGE:
			regs->r[KH_RSP] += info == 0 ? (uint64_t)codes[i + 1] * 8
			                             : ((uint64_t)codes[i + 1] | (uint64_t)codes[i + 2] << 16);
			break;
		case UWOP_ALLOC_SMALL:
			regs->r[KH_RSP] += (uint64_t)info * 8 + 8;
			break;
		case UWOP_SET_FPREG:
			if (!frame_reg)
				return kh_error(KHANG_ECORRUPT, "UNWIND_INFO at RVA 0x%x: SET_FPREG without a frame register", info_rva);
			regs->r[KH_RSP] = regs->r[frame_reg] - frame_off;
			break;
		case UWOP_SAVE_NONVOL:
			if ((rc = read_stack(src, regs->r[KH_RSP] + (uint64_t)codes[i + 1] * 8, &v)) < 0)
				return rc;
			regs->r[info] = v;
			break;
		case UWOP_SAVE_NONVOL_FAR:
			if ((rc = read_stack(src, regs->r[KH_RSP] + ((uint64_t)codes[i + 1] | (uint64_t)codes[i + 2] << 16), &v)) < 0)
				return rc;
			regs->r[info] = v;
			break;
		case UWOP_SAVE_XMM128:
		case UWOP_SAVE_XMM128_FAR:
			break; /* XMM registers do not matter for the call chain */
		case UWOP_PUSH_MACHFRAME: {
			uint64_t at = regs->r[KH_RSP] + (info ? 8 : 0);
			uint64_t rip, rsp;
			if ((rc = read_stack(src, at, &rip)) < 0 || (rc = read_stack(src, at + 24, &rsp)) < 0)
				return rc;
			regs->r[KH_RIP] = rip;
			regs->r[KH_RSP] = rsp;
			*machframe = true;
			break;
		}
		default:
			return kh_error(KHANG_ECORRUPT, "UNWIND_INFO at RVA 0x%x: unknown operation %u", info_rva, op);
		}
		i += slots;
	}
	*chain = 0;
	if (flags & UNW_FLAG_CHAININFO) {
		uint8_t rf[12];
		uint32_t at = info_rva + 4 + 2u * ((count + 1u) & ~1u);
		if ((rc = kh_pe_read(pe, at, rf, sizeof(rf))) < 0)
			return kh_error(rc, "chained RUNTIME_FUNCTION at RVA 0x%x is not readable", at);
		*chain = kh_le32(rf + 8);
		if (!*chain)
			return kh_error(KHANG_ECORRUPT, "chained RUNTIME_FUNCTION at RVA 0x%x has no unwind data", at);
	}
	return 0;
}

int kh_unwind_x64_image(kh_pe *pe, uint32_t rva, const char *name, kh_mem_read_fn read, void *ctx, kh_regs *regs,
                        khang_frame_kind *kind)
{
	kh_mem memv = { read, ctx };
	const kh_mem *src = &memv;
	kh_pe_runtime_function rf;
	int rc = kh_pe_runtime_function_find(pe, rva, &rf);
	if (rc == KHANG_ENOTFOUND && kh_pe_runtime_function_count(pe) > 0) {
		/* a leaf function: the return address is at RSP */
		uint64_t ret;
		if ((rc = read_stack(src, regs->r[KH_RSP], &ret)) < 0)
			return rc;
		regs->r[KH_RIP] = ret;
		regs->r[KH_RSP] += 8;
		*kind = KHANG_FRAME_LEAF;
		return 0;
	}
	if (rc < 0)
		return kh_error(rc == KHANG_ENOTFOUND ? KHANG_ENOTPRESENT : rc, "no unwind data for %s+0x%x", name, rva);

	/* in an epilogue? (only outside the prologue) */
	uint8_t h[4];
	if ((rc = kh_pe_read(pe, rf.unwind, h, 4)) < 0)
		return kh_error(rc, "UNWIND_INFO of %s+0x%x is not readable", name, rva);
	uint32_t in_func = rva - rf.begin;
	if (in_func >= h[1]) {
		rc = try_epilogue(src, pe, rva, h[3] & 0xF, (uint32_t)(h[3] >> 4) * 16, regs);
		if (rc < 0)
			return rc;
		if (rc == 1) {
			*kind = KHANG_FRAME_UNWIND;
			return 0;
		}
	}

	bool machframe = false;
	uint32_t info = rf.unwind, chain = 0;
	uint32_t prolog_done = in_func < h[1] ? in_func : UINT32_MAX;
	for (int depth = 0; depth < MAX_CHAIN; depth++) {
		uint8_t frame_reg;
		rc = apply_unwind_info(src, pe, info, prolog_done, regs, &machframe, &chain, &frame_reg);
		if (rc < 0)
			return kh_error_context(rc, "%s+0x%x", name, rva);
		if (!chain)
			break;
		if (depth == MAX_CHAIN - 1)
			return kh_error(KHANG_ELIMIT, "%s+0x%x: unwind chain longer than %d", name, rva, MAX_CHAIN);
		info = chain;
		prolog_done = UINT32_MAX; /* chained parents' prologues ran in full */
	}
	if (machframe) {
		*kind = KHANG_FRAME_TRAP;
		return 0;
	}
	uint64_t ret;
	if ((rc = read_stack(src, regs->r[KH_RSP], &ret)) < 0)
		return rc;
	regs->r[KH_RIP] = ret;
	regs->r[KH_RSP] += 8;
	*kind = KHANG_FRAME_UNWIND;
	return 0;
}

static int source_read(void *ctx, uint64_t va, uint64_t *out)
{
	return kh_vread_u64((khang_source *)ctx, 0, va, out);
}

int kh_unwind_x64_step(khang_source *src, kh_regs *regs, khang_frame_kind *kind)
{
	uint64_t rip = regs->r[KH_RIP];
	khang_module *m = kh_kernel_module_at(src, rip);
	if (!m)
		return kh_error(KHANG_ENOTFOUND, "0x%llx is in no loaded module", (unsigned long long)rip);
	kh_pe *pe = kh_module_unwind_image(src, m);
	if (!pe)
		return kh_error(KHANG_ENOTPRESENT, "no image of %s to unwind with (not in the dump or the image path)", m->name);
	return kh_unwind_x64_image(pe, (uint32_t)(rip - m->base), m->name, source_read, src, regs, kind);
}

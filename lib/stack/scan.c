/*
 * Stack scanning support: is there a call instruction just before a
 * candidate return address? The forms recognised are those compilers emit
 * for calls: E8 rel32, and FF /2 (call r/m) with any ModRM/SIB/displacement
 * form, with an optional REX prefix on x64.
 */
#include "stack_int.h"

/* Length of an FF /2 instruction whose opcode is at c[0] (ModRM at c[1]),
 * 0 when it is not one. x86 code has no RIP-relative form (mod 0, rm 5 is
 * disp32 absolute: same length). */
static unsigned ff2_len(const uint8_t *c, size_t avail)
{
	if (avail < 2 || c[0] != 0xFF)
		return 0;
	uint8_t modrm = c[1], mod = modrm >> 6, reg = (modrm >> 3) & 7, rm = modrm & 7;
	if (reg != 2)
		return 0;
	unsigned len = 2;
	if (mod == 3)
		return len;
	if (rm == 4) {
		if (avail < 3)
			return 0;
		uint8_t sib = c[2];
		len++;
		if (mod == 0 && (sib & 7) == 5)
			len += 4;
	}
	if (mod == 0 && rm == 5)
		len += 4;
	else if (mod == 1)
		len += 1;
	else if (mod == 2)
		len += 4;
	return len;
}

int kh_call_before(khang_source *src, uint64_t dtb, kh_pe *pe, uint64_t base, uint64_t ret, bool x86)
{
	uint8_t b[8];
	size_t have = 0;
	if (ret < 8)
		return 0;
	/* from the image (a file from the image path has every byte), else the dump */
	if (pe && ret - base >= 8 && ret - base < UINT32_MAX && kh_pe_read(pe, (uint32_t)(ret - base - 8), b, 8) == 0)
		have = 8;
	else if (kh_vread(src, dtb, ret - 8, b, 8) == 0)
		have = 8;
	else {
		/* the previous page may be missing: the bytes on ret's page only */
		size_t in_page = (size_t)(ret & 0xFFF);
		if (in_page == 0 || in_page > 8 || kh_vread(src, dtb, ret - in_page, b + 8 - in_page, in_page) < 0)
			return -1;
		have = in_page;
	}
	const uint8_t *end = b + 8;
	/* E8 rel32 */
	if (have >= 5 && end[-5] == 0xE8)
		return 1;
	/* FF /2, 2..7 bytes, optionally REX-prefixed on x64 */
	for (unsigned len = 2; len <= 7 && len <= have; len++) {
		const uint8_t *c = end - len;
		if (ff2_len(c, len) == len)
			return 1;
		if (!x86 && len >= 3 && (c[0] & 0xF0) == 0x40 && ff2_len(c + 1, len - 1) == len - 1)
			return 1;
	}
	return 0;
}

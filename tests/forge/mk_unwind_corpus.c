/* Writes the seed corpus of fuzz_unwind: small x64 images whose .pdata uses
 * every unwind operation, each with a stack that unwinds through it.
 * usage: mk_unwind_corpus DIR */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fg_pe.h"

#define CODE(off, op, info) ((uint16_t)((off) | ((op) << 8) | ((info) << 12)))

static void put16(uint8_t *p, uint16_t v) { p[0] = (uint8_t)v; p[1] = (uint8_t)(v >> 8); }
static void put32(uint8_t *p, uint32_t v) { for (int i = 0; i < 4; i++) p[i] = (uint8_t)(v >> (8 * i)); }
static void put64(uint8_t *p, uint64_t v) { for (int i = 0; i < 8; i++) p[i] = (uint8_t)(v >> (8 * i)); }

static uint32_t info_at(fg_pe *b, uint32_t rva, uint8_t prolog, uint8_t fr, const uint16_t *c, uint8_t n,
                        uint32_t chain)
{
	uint8_t buf[64] = { 0 };
	buf[0] = (uint8_t)(1 | (chain ? 0x20 : 0));
	buf[1] = prolog;
	buf[2] = n;
	buf[3] = fr;
	for (uint8_t i = 0; i < n; i++)
		put16(buf + 4 + 2 * i, c[i]);
	size_t at = 4 + 2 * (size_t)((n + 1) & ~1);
	if (chain) {
		put32(buf + at, 0x1000);
		put32(buf + at + 4, 0x1100);
		put32(buf + at + 8, chain);
		at += 12;
	}
	fg_pe_write(b, rva, buf, at);
	return rva;
}

int main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: %s DIR\n", argv[0]);
		return 2;
	}
	fg_pe *b = fg_pe_new(true, 0xfffff80500000000ull, 0x6000);
	uint16_t c1[] = { CODE(6, 2, 4), CODE(2, 0, 5), CODE(1, 0, 3) };
	uint16_t c2[] = { CODE(20, 5, 3), 0x10, 0, CODE(16, 4, 6), 0x10, CODE(8, 1, 1), 0x100, 0, CODE(1, 0, 7) };
	uint16_t c3[] = { CODE(10, 3, 0), CODE(5, 2, 7), CODE(1, 0, 5) };
	uint16_t c4[] = { CODE(0, 10, 1) };
	uint16_t c5[] = { CODE(4, 2, 3), CODE(3, 8, 6), 0x2 };
	uint32_t i1 = info_at(b, 0x6000, 6, 0, c1, 3, 0);
	fg_pe_add_runtime_function(b, 0x1000, 0x1100, i1);
	fg_pe_add_runtime_function(b, 0x1200, 0x1300, info_at(b, 0x6040, 20, 0, c2, 9, 0));
	fg_pe_add_runtime_function(b, 0x1400, 0x1500, info_at(b, 0x6080, 10, 5 | (2 << 4), c3, 3, 0));
	fg_pe_add_runtime_function(b, 0x1600, 0x1700, info_at(b, 0x60c0, 0, 0, c4, 1, 0));
	fg_pe_add_runtime_function(b, 0x1800, 0x1900, info_at(b, 0x6100, 4, 0, c5, 3, i1));
	static const uint8_t epi[] = { 0x48, 0x83, 0xC4, 0x28, 0x5D, 0x5B, 0xC3 };
	fg_pe_write(b, 0x1080, epi, sizeof(epi));
	uint8_t *img;
	size_t len;
	if (fg_pe_build(b, &img, &len) != 0)
		return 1;
	fg_pe_free(b);
	static const uint32_t starts[] = { 0x1040, 0x1002, 0x1080, 0x1250, 0x1430, 0x1610, 0x1850, 0x5000 };
	int bad = 0;
	for (size_t s = 0; s < sizeof(starts) / sizeof(starts[0]); s++) {
		size_t slen = 0x1000;
		size_t total = 4 + len + 8 + slen;
		uint8_t *in = calloc(1, total);
		put32(in, (uint32_t)len);
		memcpy(in + 4, img, len);
		put32(in + 4 + len, starts[s]);
		put32(in + 4 + len + 4, 0x200);
		uint8_t *st = in + 4 + len + 8;
		/* return addresses back into the image, saved registers, a machine frame */
		for (size_t i = 0; i + 8 <= slen; i += 8)
			put64(st + i, (i % 0x40 == 0x38) ? 0xfffff80500001040ull + i : 0xffff900000000000ull + 0x400 + i);
		char path[1024];
		snprintf(path, sizeof(path), "%s/unwind_%02zu", argv[1], s);
		FILE *f = fopen(path, "wb");
		bad |= !f || fwrite(in, 1, total, f) != total;
		if (f)
			bad |= fclose(f) != 0;
		free(in);
	}
	free(img);
	return bad;
}

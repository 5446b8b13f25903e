/* fg_pe: a minimal PE image writer for tests (see fg_pe.h). */
#include <stdlib.h>
#include <string.h>

#include "fg_pe.h"

#define PG 0x1000u
#define MAX_EXPORTS 4096
#define MAX_RF 65536

typedef struct fg_export {
	char *name;
	uint32_t rva;
} fg_export;

struct fg_pe {
	bool is64;
	uint64_t base;
	uint32_t text_size;
	uint8_t *text;
	uint32_t timestamp;
	bool has_cv;
	uint8_t guid[16];
	uint32_t age;
	char pdb[200];
	fg_export *exports;
	size_t nexports;
	uint32_t (*rf)[3];
	size_t nrf;
};

static void put16(uint8_t *p, uint16_t v) { p[0] = (uint8_t)v; p[1] = (uint8_t)(v >> 8); }
static void put32(uint8_t *p, uint32_t v) { for (int i = 0; i < 4; i++) p[i] = (uint8_t)(v >> (8 * i)); }
static void put64(uint8_t *p, uint64_t v) { for (int i = 0; i < 8; i++) p[i] = (uint8_t)(v >> (8 * i)); }

fg_pe *fg_pe_new(bool is64, uint64_t image_base, uint32_t text_size)
{
	fg_pe *pe = calloc(1, sizeof(*pe));
	if (!pe)
		return NULL;
	pe->is64 = is64;
	pe->base = image_base;
	pe->text_size = (text_size + PG - 1) & ~(PG - 1);
	if (!pe->text_size)
		pe->text_size = PG;
	pe->text = calloc(1, pe->text_size);
	pe->timestamp = 0x5F000000;
	if (!pe->text) {
		free(pe);
		return NULL;
	}
	return pe;
}

void fg_pe_free(fg_pe *pe)
{
	if (!pe)
		return;
	for (size_t i = 0; i < pe->nexports; i++)
		free(pe->exports[i].name);
	free(pe->exports);
	free(pe->rf);
	free(pe->text);
	free(pe);
}

void fg_pe_set_timestamp(fg_pe *pe, uint32_t timestamp)
{
	pe->timestamp = timestamp;
}

void fg_pe_set_codeview(fg_pe *pe, const uint8_t guid[16], uint32_t age, const char *pdb_name)
{
	pe->has_cv = true;
	memcpy(pe->guid, guid, 16);
	pe->age = age;
	strncpy(pe->pdb, pdb_name, sizeof(pe->pdb) - 1);
}

int fg_pe_add_export(fg_pe *pe, const char *name, uint32_t rva)
{
	if (pe->nexports >= MAX_EXPORTS)
		return -1;
	fg_export *n = realloc(pe->exports, (pe->nexports + 1) * sizeof(*n));
	if (!n)
		return -1;
	pe->exports = n;
	n[pe->nexports].name = strdup(name);
	n[pe->nexports].rva = rva;
	if (!n[pe->nexports].name)
		return -1;
	pe->nexports++;
	return 0;
}

int fg_pe_add_runtime_function(fg_pe *pe, uint32_t begin, uint32_t end, uint32_t unwind_rva)
{
	if (pe->nrf >= MAX_RF)
		return -1;
	uint32_t (*n)[3] = realloc(pe->rf, (pe->nrf + 1) * sizeof(*n));
	if (!n)
		return -1;
	pe->rf = n;
	n[pe->nrf][0] = begin;
	n[pe->nrf][1] = end;
	n[pe->nrf][2] = unwind_rva;
	pe->nrf++;
	return 0;
}

int fg_pe_write(fg_pe *pe, uint32_t rva, const void *data, size_t len)
{
	if (rva < PG || rva - PG > pe->text_size || len > pe->text_size - (rva - PG))
		return -1;
	memcpy(pe->text + (rva - PG), data, len);
	return 0;
}

static int cmp_name(const void *a, const void *b)
{
	return strcmp(((const fg_export *)a)->name, ((const fg_export *)b)->name);
}

static int cmp_rf(const void *a, const void *b)
{
	const uint32_t *x = a, *y = b;
	return x[0] < y[0] ? -1 : x[0] > y[0];
}

int fg_pe_build(fg_pe *pe, uint8_t **out, size_t *out_len)
{
	/* .rdata contents: export dir, debug dir + RSDS, pdata */
	size_t names_len = 0;
	for (size_t i = 0; i < pe->nexports; i++)
		names_len += strlen(pe->exports[i].name) + 1;
	size_t exp_size = pe->nexports ? 40 + pe->nexports * 10 + names_len + 16 : 0;
	size_t dbg_size = pe->has_cv ? 28 + 24 + strlen(pe->pdb) + 1 : 0;
	size_t pdata_size = pe->nrf * 12;
	size_t rdata = (exp_size + 16 + dbg_size + 16 + pdata_size + PG - 1) & ~(size_t)(PG - 1);
	if (!rdata)
		rdata = PG;
	uint32_t rdata_rva = PG + pe->text_size;
	size_t total = PG + pe->text_size + rdata;
	uint8_t *img = calloc(1, total);
	if (!img)
		return -1;

	/* DOS + NT headers */
	put16(img, 0x5A4D);
	put32(img + 0x3C, 0x80);
	uint8_t *nt = img + 0x80;
	put32(nt, 0x00004550);
	put16(nt + 4, pe->is64 ? 0x8664 : 0x14C);
	put16(nt + 6, 2);
	put32(nt + 8, pe->timestamp);
	uint16_t opt_size = pe->is64 ? 0xF0 : 0xE0;
	put16(nt + 20, opt_size);
	put16(nt + 22, pe->is64 ? 0x22 : 0x102);
	uint8_t *opt = nt + 24;
	put16(opt, pe->is64 ? 0x20B : 0x10B);
	put32(opt + 4, pe->text_size);
	put32(opt + 16, PG); /* entry point */
	if (pe->is64)
		put64(opt + 0x18, pe->base);
	else
		put32(opt + 0x1C, (uint32_t)pe->base);
	put32(opt + 0x20, PG);   /* section alignment */
	put32(opt + 0x24, PG);   /* file alignment */
	put16(opt + 0x28, 10);
	put32(opt + 0x38, (uint32_t)total);
	put32(opt + 0x3C, PG);
	put16(opt + 0x44, 1);    /* native subsystem */
	size_t dirs_at = pe->is64 ? 0x70 : 0x60;
	put32(opt + dirs_at - 4, 16);
	uint8_t *dirs = opt + dirs_at;

	uint8_t *sec = opt + opt_size;
	memcpy(sec, ".text", 5);
	put32(sec + 8, pe->text_size);
	put32(sec + 12, PG);
	put32(sec + 16, pe->text_size);
	put32(sec + 20, PG);
	put32(sec + 36, 0x60000020);
	sec += 40;
	memcpy(sec, ".rdata", 6);
	put32(sec + 8, (uint32_t)rdata);
	put32(sec + 12, rdata_rva);
	put32(sec + 16, (uint32_t)rdata);
	put32(sec + 20, rdata_rva);
	put32(sec + 36, 0x40000040);

	memcpy(img + PG, pe->text, pe->text_size);

	uint8_t *rd = img + rdata_rva;
	size_t at = 0;
	if (pe->nexports) {
		qsort(pe->exports, pe->nexports, sizeof(fg_export), cmp_name);
		uint32_t dir = rdata_rva;
		uint32_t funcs = dir + 40;
		uint32_t names = funcs + 4 * (uint32_t)pe->nexports;
		uint32_t ords = names + 4 * (uint32_t)pe->nexports;
		uint32_t strs = ords + 2 * (uint32_t)pe->nexports;
		put32(rd + 16, 1);                       /* ordinal base */
		put32(rd + 20, (uint32_t)pe->nexports);  /* functions */
		put32(rd + 24, (uint32_t)pe->nexports);  /* names */
		put32(rd + 28, funcs);
		put32(rd + 32, names);
		put32(rd + 36, ords);
		uint32_t s = strs;
		for (size_t i = 0; i < pe->nexports; i++) {
			put32(img + funcs + 4 * i, pe->exports[i].rva);
			put32(img + names + 4 * i, s);
			put16(img + ords + 2 * i, (uint16_t)i);
			size_t l = strlen(pe->exports[i].name) + 1;
			memcpy(img + s, pe->exports[i].name, l);
			s += (uint32_t)l;
		}
		put32(dirs + 0, dir);
		put32(dirs + 4, s - dir);
		at = ((size_t)(s - rdata_rva) + 15) & ~(size_t)15;
	}
	if (pe->has_cv) {
		uint32_t dbg = rdata_rva + (uint32_t)at;
		uint32_t cv = dbg + 28;
		size_t cvlen = 24 + strlen(pe->pdb) + 1;
		put32(img + dbg + 12, 2);
		put32(img + dbg + 16, (uint32_t)cvlen);
		put32(img + dbg + 20, cv);
		put32(img + dbg + 24, cv);
		put32(img + cv, 0x53445352);
		memcpy(img + cv + 4, pe->guid, 16);
		put32(img + cv + 20, pe->age);
		memcpy(img + cv + 24, pe->pdb, strlen(pe->pdb) + 1);
		put32(dirs + 6 * 8, dbg);
		put32(dirs + 6 * 8 + 4, 28);
		at = ((at + 28 + cvlen) + 15) & ~(size_t)15;
	}
	if (pe->nrf) {
		qsort(pe->rf, pe->nrf, sizeof(*pe->rf), cmp_rf);
		uint32_t pd = rdata_rva + (uint32_t)at;
		for (size_t i = 0; i < pe->nrf; i++) {
			put32(img + pd + 12 * i, pe->rf[i][0]);
			put32(img + pd + 12 * i + 4, pe->rf[i][1]);
			put32(img + pd + 12 * i + 8, pe->rf[i][2]);
		}
		put32(dirs + 3 * 8, pd);
		put32(dirs + 3 * 8 + 4, (uint32_t)pdata_size);
	}
	*out = img;
	*out_len = total;
	return 0;
}

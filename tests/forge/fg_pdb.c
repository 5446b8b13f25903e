/* fg_pdb: small MSF 7.00 PDB files (see fg_pdb.h). */
#include <stdlib.h>
#include <string.h>

#include "fg_pdb.h"
#include "forge.h"

typedef struct buf {
	uint8_t *d;
	size_t n, cap;
} buf;

static int put(buf *b, const void *p, size_t n)
{
	if (b->n + n > b->cap) {
		size_t cap = b->cap ? b->cap * 2 : 256;
		while (cap < b->n + n)
			cap *= 2;
		uint8_t *d = realloc(b->d, cap);
		if (!d)
			return -1;
		b->d = d;
		b->cap = cap;
	}
	memcpy(b->d + b->n, p, n);
	b->n += n;
	return 0;
}

static int put16(buf *b, uint16_t v)
{
	uint8_t x[2] = { (uint8_t)v, (uint8_t)(v >> 8) };
	return put(b, x, 2);
}

static int put32(buf *b, uint32_t v)
{
	uint8_t x[4];
	fg_put_le32(x, v);
	return put(b, x, 4);
}

#define NSTREAMS_MAX 7

int fg_pdb_write(const fg_pdb_opts *o, uint8_t **out, size_t *len)
{
	uint32_t bs = o->block_size ? o->block_size : 512;
	buf s[NSTREAMS_MAX];
	memset(s, 0, sizeof(s));
	unsigned nstreams = o->omap ? 7 : 6;
	int bad = 0;
	/* 1: PDB info */
	bad |= put32(&s[1], 20000404);
	bad |= put32(&s[1], 0x5f000000);
	bad |= put32(&s[1], o->age);
	bad |= put(&s[1], o->guid, 16);
	/* 3: DBI header, no substreams, the optional debug header */
	bad |= put32(&s[3], 0xFFFFFFFFu);
	bad |= put32(&s[3], 19990903);
	bad |= put32(&s[3], o->dbi_age);
	bad |= put16(&s[3], 0xFFFF); /* global symbols stream: none */
	bad |= put16(&s[3], 0x8e00);
	bad |= put16(&s[3], 0xFFFF); /* publics hash stream: none (the reader scans the records) */
	bad |= put16(&s[3], 0);
	bad |= put16(&s[3], 5); /* symbol record stream */
	bad |= put16(&s[3], 0);
	for (int i = 0; i < 5; i++) /* module info .. type server map sizes */
		bad |= put32(&s[3], 0);
	bad |= put32(&s[3], 0);       /* MFC type server index */
	bad |= put32(&s[3], 11 * 2);  /* optional debug header */
	bad |= put32(&s[3], 0);       /* EC substream */
	bad |= put16(&s[3], 0);
	bad |= put16(&s[3], 0x8664);
	bad |= put32(&s[3], 0);
	for (int i = 0; i < 11; i++)
		bad |= put16(&s[3], i == 5 ? 4 : (i == 4 && o->omap) ? 6 : 0xFFFF);
	/* 4: section headers (only VirtualAddress matters to the reader) */
	for (unsigned i = 0; i < o->nsections; i++) {
		uint8_t h[40] = { 0 };
		memcpy(h, ".text", 5);
		fg_put_le32(h + 8, 0x1000);
		fg_put_le32(h + 12, o->section_vas[i]);
		bad |= put(&s[4], h, 40);
	}
	/* 5: symbol records */
	static const uint8_t gdata[] = { 0x0E, 0x00, 0x0D, 0x11, 0, 0, 0, 0, 0x10, 0, 0, 0, 1, 0, 'g', 0 };
	bad |= put(&s[5], gdata, sizeof(gdata));
	for (unsigned i = 0; i < o->npublics; i++) {
		size_t nl = strlen(o->publics[i].name) + 1;
		size_t rec = 2 + 4 + 4 + 2 + nl;
		size_t pad = (4 - (rec + 2) % 4) % 4;
		uint16_t rlen = (uint16_t)(rec + pad);
		if (o->bad_record && i + 1 == o->npublics)
			rlen = 0xFFF0;
		bad |= put16(&s[5], rlen);
		bad |= put16(&s[5], 0x110E);
		bad |= put32(&s[5], 2); /* function */
		bad |= put32(&s[5], o->publics[i].offset);
		bad |= put16(&s[5], o->publics[i].segment);
		bad |= put(&s[5], o->publics[i].name, nl);
		static const uint8_t zeros[4] = { 0 };
		bad |= put(&s[5], zeros, pad);
	}
	/* 6: an OMAP (one entry) */
	if (o->omap) {
		bad |= put32(&s[6], 0x1000);
		bad |= put32(&s[6], 0x2000);
	}
	if (bad)
		goto fail;

	/* blocks: 0 superblock, 1-2 free block maps, then each stream, the
	 * directory, the directory's block map */
	uint32_t next = 3;
	uint32_t first[NSTREAMS_MAX];
	for (unsigned i = 0; i < nstreams; i++) {
		first[i] = next;
		next += (uint32_t)((s[i].n + bs - 1) / bs);
	}
	buf dir = { 0 };
	bad |= put32(&dir, nstreams);
	for (unsigned i = 0; i < nstreams; i++)
		bad |= put32(&dir, (uint32_t)s[i].n);
	for (unsigned i = 0; i < nstreams; i++)
		for (uint32_t b = 0; b < (s[i].n + bs - 1) / bs; b++)
			bad |= put32(&dir, first[i] + b);
	uint32_t dir_first = next, dir_blocks = (uint32_t)((dir.n + bs - 1) / bs);
	next += dir_blocks;
	uint32_t map = next++;
	size_t total = (size_t)next * bs;
	uint8_t *f = calloc(1, total);
	if (bad || !f) {
		free(dir.d);
		free(f);
		goto fail;
	}
	memcpy(f, "Microsoft C/C++ MSF 7.00\r\n\x1a" "DS\0\0\0", 32);
	fg_put_le32(f + 32, bs);
	fg_put_le32(f + 36, 1);
	fg_put_le32(f + 40, next);
	fg_put_le32(f + 44, (uint32_t)dir.n);
	fg_put_le32(f + 52, map);
	for (unsigned i = 0; i < nstreams; i++)
		if (s[i].n)
			memcpy(f + (size_t)first[i] * bs, s[i].d, s[i].n);
	memcpy(f + (size_t)dir_first * bs, dir.d, dir.n);
	for (uint32_t b = 0; b < dir_blocks; b++)
		fg_put_le32(f + (size_t)map * bs + 4 * b, dir_first + b);
	free(dir.d);
	for (unsigned i = 0; i < NSTREAMS_MAX; i++)
		free(s[i].d);
	*out = f;
	*len = total;
	return 0;
fail:
	for (unsigned i = 0; i < NSTREAMS_MAX; i++)
		free(s[i].d);
	return -1;
}

/* fg_triage: triage dump writer (see fg_triage.h). */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "fg_triage.h"

typedef struct buf {
	uint8_t *p;
	size_t len, cap;
} buf;

static size_t put(buf *b, const void *data, size_t n)
{
	size_t at = (b->len + 7) & ~(size_t)7;
	if (at + n > b->cap) {
		size_t c = b->cap ? b->cap : 1 << 16;
		while (c < at + n)
			c *= 2;
		b->p = realloc(b->p, c);
		if (!b->p)
			abort();
		memset(b->p + b->cap, 0, c - b->cap);
		b->cap = c;
	}
	if (data)
		memcpy(b->p + at, data, n);
	b->len = at + n;
	return at;
}

static size_t put_range(buf *b, fg_forge *f, const fg_triage_range *r)
{
	if (!r->size)
		return 0;
	size_t at = put(b, NULL, r->size);
	/* page by page: a page that is not mapped stays zero */
	for (uint32_t done = 0; done < r->size;) {
		uint64_t va = r->va + done;
		uint32_t chunk = (uint32_t)(0x1000 - (va & 0xFFF));
		if (chunk > r->size - done)
			chunk = r->size - done;
		(void)fg_read_virtual(f, fg_kernel_dtb(f), va, b->p + at + done, chunk);
		done += chunk;
	}
	return at;
}

int fg_triage_write(fg_forge *f, const fg_triage_opts *o, uint8_t **out, size_t *out_len)
{
	bool is64 = fg_arch_of(f) == FG_X64;
	size_t hsize = is64 ? 0x2000 : 0x1000;
	uint8_t *full;
	size_t full_len;
	fg_write_opts wo = FG_WRITE_OPTS_INIT;
	wo.format = FG_FMT_BITMAP_KERNEL;
	wo.kernel_only = 1;
	if (fg_write_memory(f, &full, &full_len, &wo) != 0)
		return -1;
	buf b = { 0 };
	put(&b, full, hsize);
	free(full);
	/* DumpType 4; no physical memory */
	fg_put_le32(b.p + (is64 ? 0xF98 : 0xF88), 4);
	fg_put_le32(b.p + (is64 ? 0x88 : 0x64), 0x45474150u);

	size_t th = put(&b, NULL, 0x100); /* the triage header */
	size_t prcb = put_range(&b, f, &o->prcb);
	size_t proc = put_range(&b, f, &o->process);
	size_t thr = put_range(&b, f, &o->thread);
	size_t stk = put_range(&b, f, &o->stack);
	/* unloaded drivers: a count, then DUMP_UNLOADED_DRIVERS entries */
	size_t ul = 0;
	if (o->nunloaded) {
		size_t head = is64 ? 8 : 4, ustride = is64 ? 0x38 : 0x28, us = is64 ? 16 : 8;
		ul = put(&b, NULL, head + ustride * o->nunloaded);
		fg_put_le32(b.p + ul, (uint32_t)o->nunloaded);
		for (size_t i = 0; i < o->nunloaded; i++) {
			const fg_triage_driver *d = &o->unloaded[i];
			uint8_t *e = b.p + ul + head + ustride * i;
			size_t n = strlen(d->path);
			e[0] = (uint8_t)(2 * n); /* Name.Length: the full name's */
			e[2] = (uint8_t)(2 * n);
			for (size_t c = 0; c < n && c < 12; c++)
				e[us + 2 * c] = (uint8_t)d->path[c];
			if (is64) {
				fg_put_le64(e + us + 24, d->base);
				fg_put_le64(e + us + 32, d->base + d->size);
			} else {
				fg_put_le32(e + us + 24, (uint32_t)d->base);
				fg_put_le32(e + us + 28, (uint32_t)(d->base + d->size));
			}
		}
	}
	/* driver list, then the string pool */
	size_t stride = is64 ? 0x90 : 0x54;
	size_t dl = o->ndrivers ? put(&b, NULL, stride * o->ndrivers) : 0;
	size_t pool = b.len;
	for (size_t i = 0; i < o->ndrivers; i++) {
		const fg_triage_driver *d = &o->drivers[i];
		size_t n = strlen(d->path);
		uint8_t *s = calloc(1, 4 + 2 * n + 2);
		fg_put_le32(s, (uint32_t)n);
		for (size_t c = 0; c < n; c++)
			s[4 + 2 * c] = (uint8_t)d->path[c];
		size_t at = put(&b, s, 4 + 2 * n + 2);
		free(s);
		if (i == 0)
			pool = at;
		uint8_t *e = b.p + dl + stride * i;
		fg_put_le32(e, (uint32_t)at);
		if (is64) {
			fg_put_le64(e + 0x38, d->base);
			fg_put_le32(e + 0x48, d->size);
			fg_put_le32(e + 0x88, d->timestamp);
		} else {
			fg_put_le32(e + 0x1C, (uint32_t)d->base);
			fg_put_le32(e + 0x24, d->size);
			fg_put_le32(e + 0x48, d->timestamp);
		}
	}
	size_t pool_size = b.len - pool;
	size_t kdbg = put_range(&b, f, &o->kdbg);
	size_t blocks = put(&b, NULL, 16 * (o->nblocks ? o->nblocks : 1));
	for (size_t i = 0; i < o->nblocks; i++) {
		size_t at = put_range(&b, f, &o->blocks[i]);
		uint8_t *e = b.p + blocks + 16 * i;
		fg_put_le64(e, o->blocks[i].va);
		fg_put_le32(e + 8, (uint32_t)at);
		fg_put_le32(e + 12, o->blocks[i].size);
	}
	size_t valid = put(&b, "TRGD", 4);
	size_t size = b.len;

	uint8_t *t = b.p + th;
	fg_put_le32(t + 0x04, (uint32_t)size);
	fg_put_le32(t + 0x08, (uint32_t)valid);
	fg_put_le32(t + 0x0C, is64 ? 0x348 : 0x320);
	fg_put_le32(t + 0x10, is64 ? 0xF00 : 0x7D0);
	fg_put_le32(t + 0x18, (uint32_t)ul);
	fg_put_le32(t + 0x1C, (uint32_t)prcb);
	fg_put_le32(t + 0x20, (uint32_t)proc);
	fg_put_le32(t + 0x24, (uint32_t)thr);
	fg_put_le32(t + 0x28, (uint32_t)stk);
	fg_put_le32(t + 0x2C, o->stack.size);
	fg_put_le32(t + 0x30, (uint32_t)dl);
	fg_put_le32(t + 0x34, (uint32_t)o->ndrivers);
	fg_put_le32(t + 0x38, (uint32_t)pool);
	fg_put_le32(t + 0x3C, (uint32_t)pool_size);
	fg_put_le32(t + 0x44, 0xFFFFFFFFu);
	if (is64) {
		fg_put_le64(t + 0x48, o->stack.va);
		fg_put_le32(t + 0x70, (uint32_t)kdbg);
		fg_put_le32(t + 0x74, o->kdbg.size);
		fg_put_le32(t + 0x78, (uint32_t)blocks);
		fg_put_le32(t + 0x7C, (uint32_t)o->nblocks);
	} else {
		fg_put_le32(t + 0x48, (uint32_t)o->stack.va);
		fg_put_le32(t + 0x68, (uint32_t)kdbg);
		fg_put_le32(t + 0x6C, o->kdbg.size);
		fg_put_le32(t + 0x70, (uint32_t)blocks);
		fg_put_le32(t + 0x74, (uint32_t)o->nblocks);
	}
	*out = b.p;
	*out_len = b.len;
	return 0;
}

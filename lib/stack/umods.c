/*
 * User-mode modules of a process, for naming and unwinding user-mode
 * frames: PEB.Ldr -> PEB_LDR_DATA.InLoadOrderModuleList ->
 * LDR_DATA_TABLE_ENTRY, read through the process's address space. The
 * offsets used have been the same since Windows XP (x64: PEB.Ldr 0x18,
 * InLoadOrderModuleList 0x10, DllBase 0x30, SizeOfImage 0x40, BaseDllName
 * 0x58, TimeDateStamp 0x80; x86: 0x0C, 0x0C, 0x18, 0x20, 0x2C, 0x44). The
 * walk is bounded and stops at the first unreadable entry.
 */
#include <stdio.h>
#include <stdlib.h>

#include "objects/objects.h"
#include "stack_int.h"

#define MAX_UMODS 1024u

typedef struct umod_read {
	khang_source *src;
	uint64_t dtb;
	uint64_t base;
} umod_read;

static int umod_pe_read(void *ctx, uint32_t rva, void *buf, size_t len)
{
	umod_read *c = ctx;
	return kh_vread(c->src, c->dtb, c->base + rva, buf, len);
}

static int cmp_umod(const void *a, const void *b)
{
	const kh_umod *x = a, *y = b;
	return x->base < y->base ? -1 : x->base > y->base;
}

void kh_umods_load(khang_source *src, kh_umods *u)
{
	if (u->loaded)
		return;
	u->loaded = true;
	kh_objects *o;
	khang_process *p;
	if (kh_objects_get(src, &o) < 0 || kh_find_process(o, u->process, &p) < 0 || !p->peb)
		return;
	bool x86 = src->info.arch == KHANG_ARCH_X86;
	uint64_t dtb = u->dtb, ldr, head, e;
	if (kh_vread_ptr(src, dtb, p->peb + (x86 ? 0x0C : 0x18), &ldr) < 0 || !ldr)
		return;
	head = ldr + (x86 ? 0x0C : 0x10);
	if (kh_vread_ptr(src, dtb, head, &e) < 0)
		return;
	size_t cap = 0;
	for (unsigned n = 0; n < MAX_UMODS && e && e != head; n++) {
		uint64_t base, next;
		uint32_t size, ts = 0;
		if (kh_vread_ptr(src, dtb, e + (x86 ? 0x18 : 0x30), &base) < 0 ||
		    kh_vread_u32(src, dtb, e + (x86 ? 0x20 : 0x40), &size) < 0 || kh_vread_ptr(src, dtb, e, &next) < 0)
			break;
		kh_vread_u32(src, dtb, e + (x86 ? 0x44 : 0x80), &ts);
		if (base && size) {
			if (u->n == cap) {
				size_t ncap = cap ? cap * 2 : 32;
				kh_umod *nm = kh_reallocarray(&src->alloc, u->mods, ncap, sizeof(*nm));
				if (!nm)
					break;
				u->mods = nm;
				cap = ncap;
			}
			kh_umod *m = &u->mods[u->n++];
			memset(m, 0, sizeof(*m));
			m->base = base;
			m->size = size;
			m->timestamp = ts;
			if (kh_read_unicode_string(src, dtb, e + (x86 ? 0x2C : 0x58), m->name, sizeof(m->name)) < 0 || !m->name[0])
				snprintf(m->name, sizeof(m->name), "module_%llx", (unsigned long long)base);
			kh_copy_str(m->short_name, sizeof(m->short_name), m->name);
			char *dot = strrchr(m->short_name, '.');
			if (dot && dot != m->short_name)
				*dot = '\0';
		}
		e = next;
	}
	if (u->n > 1)
		qsort(u->mods, u->n, sizeof(*u->mods), cmp_umod);
}

kh_umod *kh_umods_at(kh_umods *u, uint64_t va)
{
	size_t lo = 0, hi = u->n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (u->mods[mid].base <= va)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo == 0)
		return NULL;
	kh_umod *m = &u->mods[lo - 1];
	return va - m->base < m->size ? m : NULL;
}

kh_pe *kh_umod_image(khang_source *src, kh_umods *u, kh_umod *m)
{
	if (m->pe_tried)
		return m->pe_ok ? &m->pe : NULL;
	m->pe_tried = true;
	umod_read *c = kh_malloc(&src->alloc, sizeof(*c));
	if (!c)
		return NULL;
	c->src = src;
	c->dtb = u->dtb;
	c->base = m->base;
	if (kh_pe_open(&m->pe, &src->alloc, umod_pe_read, c, false) < 0) {
		kh_pe_close(&m->pe);
		kh_free(&src->alloc, c);
		return NULL;
	}
	m->pe_ctx = c;
	m->pe_ok = true;
	return &m->pe;
}

void kh_umods_free(khang_source *src, kh_umods *u)
{
	for (size_t i = 0; i < u->n; i++) {
		if (u->mods[i].pe_ok) {
			kh_pe_close(&u->mods[i].pe);
			kh_free(&src->alloc, u->mods[i].pe_ctx);
		}
	}
	kh_free(&src->alloc, u->mods);
	memset(u, 0, sizeof(*u));
}

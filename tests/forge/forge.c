/*
 * forge: synthetic Windows kernel memory dumps. See forge.h.
 *
 * Three parts: the sparse physical memory (a hash map PFN -> page), the page
 * tables built in it (one walker for the three paging modes, driven by a
 * table of level shifts), and the writer, which first plans the layout (which
 * PFNs are present, as sorted ranges with prefix sums, so a page's place in
 * the file is a binary search) and then emits header, bitmap or range table
 * and the stored pages to a file or a buffer.
 */
#include "forge.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define PAGE FG_PAGE_SIZE
#define MAX_RUNS 4096

/* ---- paging modes ----------------------------------------------------- */

#define PTE_VALID 0x1ull
#define PTE_WRITE 0x2ull
#define PTE_USER 0x4ull
#define PTE_ACCESSED 0x20ull
#define PTE_DIRTY 0x40ull
#define PTE_LARGE 0x80ull
#define PTE_PROTOTYPE (1ull << 10)
#define PTE_TRANSITION (1ull << 11)
#define PTE_NX (1ull << 63)
#define PROT_READWRITE 4ull /* MM_READWRITE in the software PTE's Protection field */

typedef struct paging {
	int levels;
	unsigned entry_size;     /* bytes */
	unsigned shift[4];       /* VA bit where each level's index starts */
	unsigned bits[4];        /* index width of each level */
	int large_ok[4];         /* level may hold a large page (PS bit) */
	uint64_t frame_mask;     /* physical address bits of an entry */
	unsigned kernel_first;   /* first top-level index of the kernel half */
	uint64_t max_pa;         /* exclusive bound of physical addresses */
} paging;

static const paging g_paging[3] = {
	[FG_X64] = { 4, 8, { 39, 30, 21, 12 }, { 9, 9, 9, 9 }, { 0, 1, 1, 0 },
	             0x000FFFFFFFFFF000ull, 256, 1ull << 52 },
	[FG_X86_PAE] = { 3, 8, { 30, 21, 12 }, { 2, 9, 9 }, { 0, 1, 0 },
	                 0x000FFFFFFFFFF000ull, 2, 1ull << 52 },
	[FG_X86] = { 2, 4, { 22, 12 }, { 10, 10 }, { 1, 0 },
	             0xFFFFF000ull, 512, 1ull << 32 },
};

/* ---- the forge -------------------------------------------------------- */

struct fg_forge {
	fg_arch arch;
	const paging *pg;
	fg_header hdr;
	fg_run *runs;
	size_t nruns;
	/* page store: open addressing, key = PFN + 1 (0 = empty slot) */
	uint64_t *keys;
	uint8_t **pages;
	size_t cap; /* power of two */
	size_t count;
	uint64_t cursor;
	uint64_t kernel_dtb;
	uint64_t *dtbs; /* every address space, for the shared kernel half */
	size_t ndtbs;
	char err[256];
};

static void *xcalloc(size_t n, size_t size)
{
	void *p = calloc(n ? n : 1, size ? size : 1);
	if (!p) {
		fprintf(stderr, "forge: out of memory\n");
		abort();
	}
	return p;
}

static void *xrealloc(void *p, size_t size)
{
	p = realloc(p, size ? size : 1);
	if (!p) {
		fprintf(stderr, "forge: out of memory\n");
		abort();
	}
	return p;
}

#if defined(__GNUC__) || defined(__clang__)
__attribute__((format(printf, 2, 3)))
#endif
static int fail(fg_forge *f, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(f->err, sizeof f->err, fmt, ap);
	va_end(ap);
	return -1;
}

/* ---- sparse physical memory ------------------------------------------ */

static size_t slot_of(const fg_forge *f, uint64_t pfn)
{
	return (size_t)((pfn * 0x9E3779B97F4A7C15ull) >> 17) & (f->cap - 1);
}

static uint8_t *page_get(const fg_forge *f, uint64_t pfn)
{
	for (size_t i = slot_of(f, pfn);; i = (i + 1) & (f->cap - 1)) {
		if (f->keys[i] == 0)
			return NULL;
		if (f->keys[i] == pfn + 1)
			return f->pages[i];
	}
}

static void page_insert(fg_forge *f, uint64_t pfn, uint8_t *page)
{
	size_t i = slot_of(f, pfn);
	while (f->keys[i] != 0)
		i = (i + 1) & (f->cap - 1);
	f->keys[i] = pfn + 1;
	f->pages[i] = page;
	f->count++;
}

static void store_grow(fg_forge *f)
{
	uint64_t *okeys = f->keys;
	uint8_t **opages = f->pages;
	size_t ocap = f->cap;
	f->cap = ocap ? ocap * 2 : 1024;
	f->keys = xcalloc(f->cap, sizeof *f->keys);
	f->pages = xcalloc(f->cap, sizeof *f->pages);
	f->count = 0;
	for (size_t i = 0; i < ocap; i++)
		if (okeys[i])
			page_insert(f, okeys[i] - 1, opages[i]);
	free(okeys);
	free(opages);
}

/* The stored page of pfn, stored (zeroed) first if needed. */
static uint8_t *page_touch(fg_forge *f, uint64_t pfn)
{
	uint8_t *p = page_get(f, pfn);
	if (p)
		return p;
	if ((f->count + 1) * 2 > f->cap)
		store_grow(f);
	p = xcalloc(1, PAGE);
	page_insert(f, pfn, p);
	return p;
}

int fg_phys_write(fg_forge *f, uint64_t pa, const void *data, size_t len)
{
	const uint8_t *src = data;
	if (len && (pa + len < pa || pa + len > f->pg->max_pa))
		return fail(f, "phys_write 0x%llx+0x%zx: beyond the physical address width",
		            (unsigned long long)pa, len);
	while (len) {
		size_t off = (size_t)(pa & (PAGE - 1));
		size_t n = PAGE - off < len ? PAGE - off : len;
		memcpy(page_touch(f, pa / PAGE) + off, src, n);
		pa += n;
		src += n;
		len -= n;
	}
	return 0;
}

int fg_phys_read(const fg_forge *f, uint64_t pa, void *buf, size_t len)
{
	uint8_t *dst = buf;
	while (len) {
		size_t off = (size_t)(pa & (PAGE - 1));
		size_t n = PAGE - off < len ? PAGE - off : len;
		const uint8_t *p = page_get(f, pa / PAGE);
		if (p)
			memcpy(dst, p + off, n);
		else
			memset(dst, 0, n);
		pa += n;
		dst += n;
		len -= n;
	}
	return 0;
}

int fg_page_stored(const fg_forge *f, uint64_t pfn)
{
	return page_get(f, pfn) != NULL;
}

uint64_t fg_stored_pages(const fg_forge *f)
{
	return f->count;
}

/* Index of the run holding pfn, or of the first run above it (nruns if
 * none); *inside tells which. */
static size_t run_find(const fg_run *runs, size_t n, uint64_t pfn, int *inside)
{
	size_t lo = 0, hi = n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (runs[mid].base + runs[mid].count <= pfn)
			lo = mid + 1;
		else
			hi = mid;
	}
	*inside = lo < n && runs[lo].base <= pfn;
	return lo;
}

uint64_t fg_alloc_page(fg_forge *f)
{
	uint64_t pfn = f->cursor ? f->cursor : 1;
	for (;;) {
		int inside;
		size_t r = run_find(f->runs, f->nruns, pfn, &inside);
		if (r == f->nruns)
			return 0;
		if (!inside)
			pfn = f->runs[r].base ? f->runs[r].base : 1;
		else if (page_get(f, pfn))
			pfn++;
		else
			break;
	}
	if (pfn >= f->pg->max_pa / PAGE)
		return 0;
	page_touch(f, pfn);
	f->cursor = pfn + 1;
	return pfn;
}

void fg_set_alloc_cursor(fg_forge *f, uint64_t pfn)
{
	f->cursor = pfn;
}

int fg_set_runs(fg_forge *f, const fg_run *runs, size_t n)
{
	if (n == 0 || n > MAX_RUNS)
		return fail(f, "set_runs: %zu runs (1..%d allowed)", n, MAX_RUNS);
	for (size_t i = 0; i < n; i++) {
		if (runs[i].count == 0 || runs[i].base + runs[i].count < runs[i].base ||
		    runs[i].base + runs[i].count > f->pg->max_pa / PAGE)
			return fail(f, "set_runs: run %zu is empty or too large", i);
		if (i && runs[i].base < runs[i - 1].base + runs[i - 1].count)
			return fail(f, "set_runs: run %zu overlaps or is not sorted", i);
	}
	free(f->runs);
	f->runs = xcalloc(n, sizeof *runs);
	memcpy(f->runs, runs, n * sizeof *runs);
	f->nruns = n;
	return 0;
}

const fg_run *fg_runs(const fg_forge *f, size_t *n)
{
	*n = f->nruns;
	return f->runs;
}

/* ---- construction ----------------------------------------------------- */

static void header_defaults(fg_forge *f)
{
	fg_header *h = &f->hdr;
	memset(h, 0, sizeof *h);
	h->major_version = 0xF;
	h->build = 19041;
	h->dtb = f->kernel_dtb;
	h->pfn_database = FG_UNSET64;
	h->ps_loaded_module_list = FG_UNSET64;
	h->ps_active_process_head = FG_UNSET64;
	h->machine_type = f->arch == FG_X64 ? 0x8664 : 0x14C;
	h->processors = 1;
	h->bugcheck_code = FG_UNSET32;
	for (int i = 0; i < 4; i++)
		h->bugcheck_params[i] = FG_UNSET64;
	h->kd_debugger_data_block = FG_UNSET64;
	h->system_time = FG_UNSET64;
	h->system_uptime = FG_UNSET64;
	h->product_type = FG_UNSET32;
	h->suite_mask = FG_UNSET32;
	h->pae_enabled = f->arch == FG_X86_PAE;
}

static void dtb_register(fg_forge *f, uint64_t dtb)
{
	f->dtbs = xrealloc(f->dtbs, (f->ndtbs + 1) * sizeof *f->dtbs);
	f->dtbs[f->ndtbs++] = dtb;
}

fg_forge *fg_new(fg_arch arch, uint64_t ram_pages)
{
	if ((unsigned)arch > FG_X86 || ram_pages < 2 || ram_pages > g_paging[arch].max_pa / PAGE)
		return NULL;
	fg_forge *f = xcalloc(1, sizeof *f);
	f->arch = arch;
	f->pg = &g_paging[arch];
	f->runs = xcalloc(1, sizeof *f->runs);
	f->runs[0].base = 0;
	f->runs[0].count = ram_pages;
	f->nruns = 1;
	store_grow(f);
	f->cursor = 1;
	f->kernel_dtb = fg_alloc_page(f) * PAGE;
	dtb_register(f, f->kernel_dtb);
	header_defaults(f);
	return f;
}

void fg_free(fg_forge *f)
{
	if (!f)
		return;
	for (size_t i = 0; i < f->cap; i++)
		if (f->keys[i])
			free(f->pages[i]);
	free(f->keys);
	free(f->pages);
	free(f->runs);
	free(f->dtbs);
	free(f);
}

fg_arch fg_arch_of(const fg_forge *f)
{
	return f->arch;
}

const char *fg_error(const fg_forge *f)
{
	return f->err;
}

fg_header *fg_header_of(fg_forge *f)
{
	return &f->hdr;
}

uint64_t fg_kernel_dtb(const fg_forge *f)
{
	return f->kernel_dtb;
}

/* ---- page tables ------------------------------------------------------ */

static uint64_t entry_read(const fg_forge *f, uint64_t pa)
{
	uint8_t b[8] = { 0 };
	fg_phys_read(f, pa, b, f->pg->entry_size);
	return f->pg->entry_size == 8 ? fg_get_le64(b) : fg_get_le32(b);
}

static void entry_write(fg_forge *f, uint64_t pa, uint64_t e)
{
	uint8_t b[8];
	fg_put_le64(b, e);
	fg_phys_write(f, pa, b, f->pg->entry_size);
}

static uint64_t table_of(uint64_t dtb)
{
	return dtb & ~(uint64_t)(PAGE - 1);
}

static unsigned index_at(const paging *pg, int level, uint64_t va)
{
	return (unsigned)((va >> pg->shift[level]) & ((1ull << pg->bits[level]) - 1));
}

/* Write entry idx of the table at table_pa, of the given level. A top-level
 * entry of the kernel half goes to every address space, so that they all
 * share the kernel half. */
static void entry_set(fg_forge *f, int level, uint64_t table_pa, unsigned idx, uint64_t e)
{
	const paging *pg = f->pg;
	entry_write(f, table_pa + (uint64_t)idx * pg->entry_size, e);
	if (level == 0 && idx >= pg->kernel_first) {
		for (size_t i = 0; i < f->ndtbs; i++)
			entry_write(f, table_of(f->dtbs[i]) + (uint64_t)idx * pg->entry_size, e);
	}
}

static int va_ok(const fg_forge *f, uint64_t va)
{
	if (f->arch == FG_X64) {
		uint64_t top = va >> 47;
		return top == 0 || top == 0x1FFFF;
	}
	return va <= 0xFFFFFFFFull;
}

static int va_is_user(const fg_forge *f, uint64_t va)
{
	return f->arch == FG_X64 ? va < 0x800000000000ull : va < 0x80000000ull;
}

uint64_t fg_new_dtb(fg_forge *f)
{
	uint64_t pfn = fg_alloc_page(f);
	if (!pfn) {
		fail(f, "new_dtb: out of physical pages");
		return 0;
	}
	uint64_t dtb = pfn * PAGE;
	const paging *pg = f->pg;
	unsigned n = 1u << pg->bits[0];
	for (unsigned i = pg->kernel_first; i < n; i++) {
		uint64_t e = entry_read(f, table_of(f->kernel_dtb) + (uint64_t)i * pg->entry_size);
		if (e)
			entry_write(f, dtb + (uint64_t)i * pg->entry_size, e);
	}
	dtb_register(f, dtb);
	return dtb;
}

/* ---- walking and mapping ---------------------------------------------- */

enum lookup_state { LK_MAPPED, LK_UNMAPPED, LK_ABSENT };

/* Walk to va's final entry. LK_MAPPED (valid, or a transition PTE) with *pa;
 * LK_UNMAPPED when a zero entry was met; LK_ABSENT for any other invalid
 * entry (paged out). */
static int lookup(const fg_forge *f, uint64_t dtb, uint64_t va, uint64_t *pa)
{
	const paging *pg = f->pg;
	uint64_t table = table_of(dtb);
	for (int l = 0;; l++) {
		uint64_t e = entry_read(f, table + (uint64_t)index_at(pg, l, va) * pg->entry_size);
		int last = l == pg->levels - 1;
		if (!(e & PTE_VALID)) {
			if (last && (e & PTE_TRANSITION) && !(e & PTE_PROTOTYPE)) {
				*pa = (e & pg->frame_mask) | (va & (PAGE - 1));
				return LK_MAPPED;
			}
			return e ? LK_ABSENT : LK_UNMAPPED;
		}
		if (last || (pg->large_ok[l] && (e & PTE_LARGE))) {
			uint64_t size = 1ull << pg->shift[l];
			*pa = (e & pg->frame_mask & ~(size - 1)) | (va & (size - 1));
			return LK_MAPPED;
		}
		table = e & pg->frame_mask;
	}
}

/* The level whose entries map pages of this size, or -1. */
static int level_of_size(const fg_forge *f, fg_page_size size)
{
	static const int levels[3][4] = {
		/*             4K  2M  4M  1G */
		[FG_X64] = { 3, 2, -1, 1 },
		[FG_X86_PAE] = { 2, 1, -1, -1 },
		[FG_X86] = { 1, -1, 0, -1 },
	};
	if ((unsigned)size > FG_PAGE_1G)
		return -1;
	return levels[f->arch][size];
}

static uint64_t leaf_entry(const fg_forge *f, uint64_t va, uint64_t pa, int level, unsigned flags)
{
	const paging *pg = f->pg;
	if (flags & FG_MAP_NOT_PRESENT) {
		/* software (pagefile) PTE: PageFileLow 1, Protection READWRITE,
		 * PageFileHigh the offset */
		uint64_t off = pa / PAGE;
		uint64_t e = PROT_READWRITE << 5 | 1ull << 1;
		if (f->arch == FG_X86) {
			off &= 0xFFFFF;
			e |= (off ? off : 1) << 12;
		} else {
			off &= 0xFFFFFFFF;
			e |= (off ? off : 1) << 32;
		}
		return e;
	}
	if (flags & FG_MAP_TRANSITION)
		return (pa & pg->frame_mask) | PTE_TRANSITION | PROT_READWRITE << 5;
	uint64_t e = pa | PTE_VALID | PTE_ACCESSED | PTE_DIRTY;
	if (!(flags & FG_MAP_READONLY))
		e |= PTE_WRITE;
	if (va_is_user(f, va))
		e |= PTE_USER;
	if (level != pg->levels - 1)
		e |= PTE_LARGE;
	if ((flags & FG_MAP_NX) && f->arch != FG_X86)
		e |= PTE_NX;
	return e;
}

int fg_map(fg_forge *f, uint64_t dtb, uint64_t va, uint64_t pa, fg_page_size size,
           unsigned flags)
{
	const paging *pg = f->pg;
	int target = level_of_size(f, size);
	if (target < 0)
		return fail(f, "map 0x%llx: page size %d not supported by this arch",
		            (unsigned long long)va, (int)size);
	uint64_t bytes = 1ull << pg->shift[target];
	if (!va_ok(f, va))
		return fail(f, "map 0x%llx: not a valid VA for this arch", (unsigned long long)va);
	if ((va | pa) & (bytes - 1))
		return fail(f, "map 0x%llx -> 0x%llx: not aligned to the page size",
		            (unsigned long long)va, (unsigned long long)pa);
	if (pa >= pg->max_pa)
		return fail(f, "map 0x%llx -> 0x%llx: physical address too wide",
		            (unsigned long long)va, (unsigned long long)pa);
	if ((flags & FG_MAP_TRANSITION) && target != pg->levels - 1)
		return fail(f, "map 0x%llx: transition PTEs are 4 KiB only", (unsigned long long)va);

	uint64_t table = table_of(dtb);
	for (int l = 0; l < target; l++) {
		unsigned idx = index_at(pg, l, va);
		uint64_t e = entry_read(f, table + (uint64_t)idx * pg->entry_size);
		if (!(e & PTE_VALID)) {
			if (e)
				return fail(f, "map 0x%llx: level %d entry 0x%llx is not present",
				            (unsigned long long)va, l, (unsigned long long)e);
			uint64_t pfn = fg_alloc_page(f);
			if (!pfn)
				return fail(f, "map 0x%llx: out of physical pages for tables",
				            (unsigned long long)va);
			e = pfn * PAGE | PTE_VALID;
			if (!(f->arch == FG_X86_PAE && l == 0)) /* PAE PDPTEs: present bit only */
				e |= PTE_WRITE | PTE_ACCESSED | (va_is_user(f, va) ? PTE_USER : 0);
			entry_set(f, l, table, idx, e);
		} else if (pg->large_ok[l] && (e & PTE_LARGE)) {
			return fail(f, "map 0x%llx: inside a large page", (unsigned long long)va);
		}
		table = e & pg->frame_mask;
	}
	unsigned idx = index_at(pg, target, va);
	uint64_t old = entry_read(f, table + (uint64_t)idx * pg->entry_size);
	if (target != pg->levels - 1 && (old & PTE_VALID) && !(old & PTE_LARGE))
		return fail(f, "map 0x%llx: a page table is already there", (unsigned long long)va);
	entry_set(f, target, table, idx, leaf_entry(f, va, pa, target, flags));
	return 0;
}

int fg_map_linear(fg_forge *f, uint64_t dtb, uint64_t va, uint64_t pa, uint64_t len,
                  fg_page_size size, unsigned flags)
{
	int target = level_of_size(f, size);
	if (target < 0)
		return fail(f, "map_linear: page size %d not supported by this arch", (int)size);
	uint64_t bytes = 1ull << f->pg->shift[target];
	if (len % bytes || va + len < va || pa + len < pa)
		return fail(f, "map_linear 0x%llx+0x%llx: length not a multiple of the page size",
		            (unsigned long long)va, (unsigned long long)len);
	for (uint64_t o = 0; o < len; o += bytes)
		if (fg_map(f, dtb, va + o, pa + o, size, flags))
			return -1;
	return 0;
}

int fg_translate(fg_forge *f, uint64_t dtb, uint64_t va, uint64_t *pa)
{
	if (!va_ok(f, va))
		return fail(f, "translate 0x%llx: not a valid VA", (unsigned long long)va);
	int st = lookup(f, dtb, va, pa);
	if (st != LK_MAPPED)
		return fail(f, "translate 0x%llx: %s", (unsigned long long)va,
		            st == LK_UNMAPPED ? "not mapped" : "paged out");
	return 0;
}

int fg_write_virtual(fg_forge *f, uint64_t dtb, uint64_t va, const void *data, size_t len)
{
	const uint8_t *src = data;
	if (va + len < va)
		return fail(f, "write_virtual 0x%llx: wraps around", (unsigned long long)va);
	while (len) {
		uint64_t pa;
		if (!va_ok(f, va))
			return fail(f, "write_virtual 0x%llx: not a valid VA", (unsigned long long)va);
		int st = lookup(f, dtb, va, &pa);
		if (st == LK_ABSENT)
			return fail(f, "write_virtual 0x%llx: page is mapped not present",
			            (unsigned long long)va);
		if (st == LK_UNMAPPED) {
			uint64_t pfn = fg_alloc_page(f);
			if (!pfn)
				return fail(f, "write_virtual 0x%llx: out of physical pages",
				            (unsigned long long)va);
			if (fg_map(f, dtb, va & ~(uint64_t)(PAGE - 1), pfn * PAGE, FG_PAGE_4K, 0))
				return -1;
			pa = pfn * PAGE + (va & (PAGE - 1));
		}
		size_t n = PAGE - (size_t)(va & (PAGE - 1));
		if (n > len)
			n = len;
		if (fg_phys_write(f, pa, src, n))
			return -1;
		va += n;
		src += n;
		len -= n;
	}
	return 0;
}

int fg_read_virtual(fg_forge *f, uint64_t dtb, uint64_t va, void *buf, size_t len)
{
	uint8_t *dst = buf;
	while (len) {
		uint64_t pa;
		if (fg_translate(f, dtb, va, &pa))
			return -1;
		size_t n = PAGE - (size_t)(va & (PAGE - 1));
		if (n > len)
			n = len;
		fg_phys_read(f, pa, dst, n);
		va += n;
		dst += n;
		len -= n;
	}
	return 0;
}

int fg_write_u8(fg_forge *f, uint64_t dtb, uint64_t va, uint8_t v)
{
	return fg_write_virtual(f, dtb, va, &v, 1);
}

int fg_write_u16(fg_forge *f, uint64_t dtb, uint64_t va, uint16_t v)
{
	uint8_t b[2] = { (uint8_t)v, (uint8_t)(v >> 8) };
	return fg_write_virtual(f, dtb, va, b, 2);
}

int fg_write_u32(fg_forge *f, uint64_t dtb, uint64_t va, uint32_t v)
{
	uint8_t b[4];
	fg_put_le32(b, v);
	return fg_write_virtual(f, dtb, va, b, 4);
}

int fg_write_u64(fg_forge *f, uint64_t dtb, uint64_t va, uint64_t v)
{
	uint8_t b[8];
	fg_put_le64(b, v);
	return fg_write_virtual(f, dtb, va, b, 8);
}

int fg_write_ptr(fg_forge *f, uint64_t dtb, uint64_t va, uint64_t v)
{
	return f->arch == FG_X64 ? fg_write_u64(f, dtb, va, v) : fg_write_u32(f, dtb, va, (uint32_t)v);
}

/* ---- output: planning ------------------------------------------------- */

#define SIG_PAGE 0x45474150u
#define SIG_DUMP 0x504D5544u
#define SIG_DU64 0x34365544u
#define SIG_SDMP 0x504D4453u
#define SIG_FDMP 0x504D4446u
#define SIG_RDMP 0x504D4452u
#define RDMP_BASE 0x2000u
#define RDMP_RANGES 0x2030u
#define MAX_BITMAP_BITS (1ull << 40)

typedef struct plan {
	fg_format fmt;
	int hdr64;
	uint64_t hsize;
	fg_run *ranges;   /* present pages as sorted, disjoint ranges */
	uint64_t *prefix; /* present pages in the ranges before each */
	size_t nranges;
	uint64_t present;
	uint64_t bits;    /* bitmap formats: bit count */
	uint64_t first_page;
	uint64_t file_size;
	size_t rdmp_slots; /* RDMP: range slots in the table (>= nranges) */
	int runs_in_header;
} plan;

static int fmt_is_bitmap(fg_format fmt)
{
	return fmt == FG_FMT_SUMMARY || fmt == FG_FMT_BITMAP_FULL || fmt == FG_FMT_BITMAP_KERNEL;
}

static int fmt_is_rdmp(fg_format fmt)
{
	return fmt == FG_FMT_RDMP8 || fmt == FG_FMT_RDMP9 || fmt == FG_FMT_RDMPA;
}

static uint32_t fmt_dump_type(fg_format fmt)
{
	static const uint32_t types[] = { 1, 2, 5, 6, 8, 9, 0xA };
	return types[fmt];
}

static uint64_t align_page(uint64_t v)
{
	return (v + PAGE - 1) & ~(uint64_t)(PAGE - 1);
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return (x > y) - (x < y);
}

static void plan_free(plan *p)
{
	free(p->ranges);
	free(p->prefix);
	memset(p, 0, sizeof *p);
}

/* Present pages = stored pages inside a run and below limit. */
static void plan_stored_ranges(const fg_forge *f, plan *p, uint64_t limit)
{
	uint64_t *pfns = xcalloc(f->count, sizeof *pfns);
	size_t n = 0;
	for (size_t i = 0; i < f->cap; i++) {
		int inside;
		uint64_t pfn = f->keys[i] - 1;
		if (!f->keys[i] || pfn >= limit)
			continue;
		run_find(f->runs, f->nruns, pfn, &inside);
		if (inside)
			pfns[n++] = pfn;
	}
	qsort(pfns, n, sizeof *pfns, cmp_u64);
	p->ranges = xcalloc(n, sizeof *p->ranges);
	for (size_t i = 0; i < n; i++) {
		if (p->nranges && p->ranges[p->nranges - 1].base + p->ranges[p->nranges - 1].count == pfns[i])
			p->ranges[p->nranges - 1].count++;
		else
			p->ranges[p->nranges++] = (fg_run){ pfns[i], 1 };
	}
	free(pfns);
}

/* Present pages = the runs, cut at limit. */
static void plan_run_ranges(const fg_forge *f, plan *p, uint64_t limit)
{
	p->ranges = xcalloc(f->nruns, sizeof *p->ranges);
	for (size_t i = 0; i < f->nruns; i++) {
		fg_run r = f->runs[i];
		if (r.base >= limit)
			break;
		if (r.count > limit - r.base)
			r.count = limit - r.base;
		p->ranges[p->nranges++] = r;
	}
}

static int plan_build(fg_forge *f, const fg_write_opts *opts, plan *p)
{
	static const fg_write_opts defaults = FG_WRITE_OPTS_INIT;
	if (!opts)
		opts = &defaults;
	memset(p, 0, sizeof *p);
	if ((unsigned)opts->format > FG_FMT_RDMPA || (unsigned)opts->header > FG_HDR_64)
		return fail(f, "write: bad format or header option");
	p->fmt = opts->format;
	p->hdr64 = opts->header == FG_HDR_AUTO ? f->arch == FG_X64 : opts->header == FG_HDR_64;
	p->hsize = p->hdr64 ? 0x2000 : 0x1000;
	if (fmt_is_rdmp(p->fmt) && !p->hdr64)
		return fail(f, "write: RDMP dumps need the 64-bit header");
	if (f->hdr.context_len > (p->hdr64 ? 3000u : 1200u))
		return fail(f, "write: context record of %u bytes does not fit the header",
		            f->hdr.context_len);

	uint64_t limit = UINT64_MAX;
	if (fmt_is_bitmap(p->fmt)) {
		const fg_run *last = &f->runs[f->nruns - 1];
		p->bits = opts->bitmap_bits ? opts->bitmap_bits : last->base + last->count;
		if (p->bits > MAX_BITMAP_BITS)
			return fail(f, "write: bitmap of %llu bits is too large", (unsigned long long)p->bits);
		limit = p->bits;
	}
	if (opts->kernel_only && p->fmt != FG_FMT_FULL)
		plan_stored_ranges(f, p, limit);
	else
		plan_run_ranges(f, p, limit);
	p->prefix = xcalloc(p->nranges, sizeof *p->prefix);
	for (size_t i = 0; i < p->nranges; i++) {
		p->prefix[i] = p->present;
		p->present += p->ranges[i].count;
	}

	size_t max_runs = p->hdr64 ? (700 - 0x10) / 16 : (700 - 8) / 8;
	p->runs_in_header = f->nruns <= max_runs;
	if (!p->hdr64)
		for (size_t i = 0; i < f->nruns; i++)
			if (f->runs[i].base + f->runs[i].count > 0xFFFFFFFFull)
				p->runs_in_header = 0;
	if (p->fmt == FG_FMT_FULL && !p->runs_in_header) {
		plan_free(p);
		return fail(f, "write: %zu runs do not fit a %d-bit header", f->nruns, p->hdr64 ? 64 : 32);
	}

	if (p->fmt == FG_FMT_FULL) {
		p->first_page = p->hsize;
	} else if (fmt_is_bitmap(p->fmt)) {
		p->first_page = align_page(p->hsize + 0x38 + (p->bits + 7) / 8);
	} else {
		uint64_t end = RDMP_RANGES + 16ull * p->nranges;
		if (opts->rdmp_page_align)
			end = align_page(end);
		p->rdmp_slots = (size_t)((end - RDMP_RANGES) / 16);
		p->first_page = RDMP_RANGES + 16ull * p->rdmp_slots;
	}
	p->file_size = p->first_page + p->present * PAGE;
	return 0;
}

/* File offset of pfn's page, or 0 if it is not in the dump. */
static uint64_t plan_offset(const plan *p, uint64_t pfn)
{
	int inside;
	size_t r = run_find(p->ranges, p->nranges, pfn, &inside);
	if (!inside)
		return 0;
	return p->first_page + (p->prefix[r] + (pfn - p->ranges[r].base)) * PAGE;
}

int fg_layout_of(fg_forge *f, const fg_write_opts *opts, fg_layout *out)
{
	plan p;
	if (plan_build(f, opts, &p))
		return -1;
	out->header_size = p.hsize;
	out->first_page = p.first_page;
	out->present_pages = p.present;
	out->file_size = p.file_size;
	plan_free(&p);
	return 0;
}

int fg_page_offset(fg_forge *f, const fg_write_opts *opts, uint64_t pfn, uint64_t *page_off)
{
	plan p;
	if (plan_build(f, opts, &p))
		return -1;
	*page_off = plan_offset(&p, pfn);
	plan_free(&p);
	return 0;
}

/* ---- output: bytes ---------------------------------------------------- */

static void put32(uint8_t *base, uint64_t off, uint32_t v)
{
	fg_put_le32(base + off, v);
}

static void put64(uint8_t *base, uint64_t off, uint64_t v)
{
	fg_put_le64(base + off, v);
}

static void header_runs(const fg_forge *f, const plan *p, uint8_t *h)
{
	uint64_t pages = 0;
	for (size_t i = 0; i < f->nruns; i++)
		pages += f->runs[i].count;
	if (p->hdr64) {
		put32(h, 0x88, (uint32_t)f->nruns);
		put32(h, 0x8C, 0);
		put64(h, 0x90, pages);
		for (size_t i = 0; i < f->nruns; i++) {
			put64(h, 0x98 + 16 * i, f->runs[i].base);
			put64(h, 0xA0 + 16 * i, f->runs[i].count);
		}
	} else {
		put32(h, 0x64, (uint32_t)f->nruns);
		put32(h, 0x68, (uint32_t)pages);
		for (size_t i = 0; i < f->nruns; i++) {
			put32(h, 0x6C + 8 * i, (uint32_t)f->runs[i].base);
			put32(h, 0x70 + 8 * i, (uint32_t)f->runs[i].count);
		}
	}
}

/* The DUMP_HEADER32/64: 'PAGE' fill, then every field. */
static void header_build(const fg_forge *f, const plan *p, uint8_t *h)
{
	const fg_header *hd = &f->hdr;
	uint32_t dump_type = hd->dump_type ? hd->dump_type : fmt_dump_type(p->fmt);
	for (uint64_t i = 0; i < p->hsize; i += 4)
		put32(h, i, SIG_PAGE);
	if (p->hdr64) {
		put32(h, 0x04, SIG_DU64);
		put32(h, 0x08, hd->major_version);
		put32(h, 0x0C, hd->build);
		put64(h, 0x10, hd->dtb);
		put64(h, 0x18, hd->pfn_database);
		put64(h, 0x20, hd->ps_loaded_module_list);
		put64(h, 0x28, hd->ps_active_process_head);
		put32(h, 0x30, hd->machine_type);
		put32(h, 0x34, hd->processors);
		put32(h, 0x38, hd->bugcheck_code);
		for (int i = 0; i < 4; i++)
			put64(h, 0x40 + 8 * i, hd->bugcheck_params[i]);
		put64(h, 0x80, hd->kd_debugger_data_block);
		if (hd->context_len)
			memcpy(h + 0x348, hd->context, hd->context_len);
		if (hd->comment[0])
			strncpy((char *)h + 0xFB0, hd->comment, 128);
		put32(h, 0xF98, dump_type);
		put64(h, 0xFA0, p->file_size);
		put64(h, 0xFA8, hd->system_time);
		put64(h, 0x1030, hd->system_uptime);
		put32(h, 0x1040, hd->product_type);
		put32(h, 0x1044, hd->suite_mask);
	} else {
		put32(h, 0x04, SIG_DUMP);
		put32(h, 0x08, hd->major_version);
		put32(h, 0x0C, hd->build);
		put32(h, 0x10, (uint32_t)hd->dtb);
		put32(h, 0x14, (uint32_t)hd->pfn_database);
		put32(h, 0x18, (uint32_t)hd->ps_loaded_module_list);
		put32(h, 0x1C, (uint32_t)hd->ps_active_process_head);
		put32(h, 0x20, hd->machine_type);
		put32(h, 0x24, hd->processors);
		put32(h, 0x28, hd->bugcheck_code);
		for (int i = 0; i < 4; i++)
			put32(h, 0x2C + 4 * i, (uint32_t)hd->bugcheck_params[i]);
		put32(h, 0x5C, hd->pae_enabled & 0xFF); /* PaeEnabled, KdSecondaryVersion, spare */
		put32(h, 0x60, (uint32_t)hd->kd_debugger_data_block);
		if (hd->context_len)
			memcpy(h + 0x320, hd->context, hd->context_len);
		if (hd->comment[0])
			strncpy((char *)h + 0x820, hd->comment, 128);
		put32(h, 0xF88, dump_type);
		put32(h, 0xF94, hd->product_type);
		put32(h, 0xF98, hd->suite_mask);
		put64(h, 0xFA0, p->file_size);
		put64(h, 0xFB8, hd->system_uptime);
		put64(h, 0xFC0, hd->system_time);
	}
	if (p->runs_in_header)
		header_runs(f, p, h);
}

static void bits_set(uint8_t *bm, uint64_t b, uint64_t count)
{
	uint64_t e = b + count;
	while (b < e && (b & 7)) {
		bm[b >> 3] |= (uint8_t)(1u << (b & 7));
		b++;
	}
	if (e - b >= 8) {
		memset(bm + (b >> 3), 0xFF, (size_t)((e - b) >> 3));
		b += (e - b) & ~(uint64_t)7;
	}
	while (b < e) {
		bm[b >> 3] |= (uint8_t)(1u << (b & 7));
		b++;
	}
}

/* The bytes between the header and the first page: the bitmap header and
 * bitmap, or the RDMP header and range table. */
static uint8_t *subheader_build(const plan *p, size_t *len)
{
	uint8_t *s;
	if (fmt_is_bitmap(p->fmt)) {
		*len = (size_t)(0x38 + (p->bits + 7) / 8);
		s = xcalloc(1, *len);
		put32(s, 0x00, p->fmt == FG_FMT_BITMAP_FULL ? SIG_FDMP : SIG_SDMP);
		put32(s, 0x04, SIG_DUMP);
		put64(s, 0x20, p->first_page);
		put64(s, 0x28, p->present);
		put64(s, 0x30, p->bits);
		for (size_t i = 0; i < p->nranges; i++)
			bits_set(s + 0x38, p->ranges[i].base, p->ranges[i].count);
		return s;
	}
	if (fmt_is_rdmp(p->fmt)) {
		*len = (size_t)(p->first_page - RDMP_BASE);
		s = xcalloc(1, *len);
		put32(s, 0x00, 0x40);
		put32(s, 0x04, SIG_RDMP);
		put32(s, 0x08, SIG_DUMP);
		put64(s, 0x10, p->first_page - 0x2020); /* MetadataSize */
		put64(s, 0x18, p->first_page);
		if (p->fmt == FG_FMT_RDMPA) {
			put32(s, 0x20, (uint32_t)p->nranges);
			put64(s, 0x28, p->present);
		}
		for (size_t i = 0; i < p->nranges; i++) {
			put64(s, 0x30 + 16 * i, p->ranges[i].base);
			put64(s, 0x38 + 16 * i, p->ranges[i].count);
		}
		return s;
	}
	*len = 0;
	return NULL;
}

typedef struct sink {
	int fd;         /* file, or -1 */
	uint8_t *mem;   /* buffer, or NULL */
	uint64_t limit; /* bytes kept (truncation) */
} sink;

static int sink_put(fg_forge *f, const sink *s, uint64_t off, const void *data, uint64_t len)
{
	const uint8_t *src = data;
	if (off >= s->limit)
		return 0;
	if (len > s->limit - off)
		len = s->limit - off;
	if (s->mem) {
		memcpy(s->mem + off, src, (size_t)len);
		return 0;
	}
	while (len) {
		ssize_t w = pwrite(s->fd, src, (size_t)len, (off_t)off);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return fail(f, "write: %s", w < 0 ? strerror(errno) : "short write");
		src += w;
		off += (uint64_t)w;
		len -= (uint64_t)w;
	}
	return 0;
}

static int emit(fg_forge *f, const plan *p, const sink *s)
{
	int rc = 0;
	uint8_t *h = xcalloc(1, (size_t)p->hsize);
	header_build(f, p, h);
	rc = sink_put(f, s, 0, h, p->hsize);
	free(h);
	size_t sub_len;
	uint8_t *sub = subheader_build(p, &sub_len);
	if (!rc && sub)
		rc = sink_put(f, s, p->hsize, sub, sub_len);
	free(sub);
	for (size_t i = 0; !rc && i < f->cap; i++) {
		if (!f->keys[i])
			continue;
		uint64_t off = plan_offset(p, f->keys[i] - 1);
		if (off)
			rc = sink_put(f, s, off, f->pages[i], PAGE);
	}
	return rc;
}

static uint64_t output_size(const plan *p, const fg_write_opts *opts)
{
	if (opts && opts->truncate_to && opts->truncate_to < p->file_size)
		return opts->truncate_to;
	return p->file_size;
}

int fg_write_file(fg_forge *f, const char *path, const fg_write_opts *opts)
{
	plan p;
	if (plan_build(f, opts, &p))
		return -1;
	sink s = { -1, NULL, output_size(&p, opts) };
	int rc;
	s.fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (s.fd < 0) {
		rc = fail(f, "write %s: %s", path, strerror(errno));
	} else if (ftruncate(s.fd, (off_t)s.limit) != 0) {
		rc = fail(f, "write %s: %s", path, strerror(errno));
	} else {
		rc = emit(f, &p, &s);
	}
	if (s.fd >= 0 && close(s.fd) != 0 && !rc)
		rc = fail(f, "write %s: %s", path, strerror(errno));
	plan_free(&p);
	return rc;
}

int fg_write_memory(fg_forge *f, uint8_t **out, size_t *out_len, const fg_write_opts *opts)
{
	plan p;
	*out = NULL;
	*out_len = 0;
	if (plan_build(f, opts, &p))
		return -1;
	sink s = { -1, NULL, output_size(&p, opts) };
	if (s.limit > SIZE_MAX / 2) {
		plan_free(&p);
		return fail(f, "write_memory: %llu bytes do not fit memory", (unsigned long long)s.limit);
	}
	s.mem = xcalloc(1, (size_t)s.limit);
	int rc = emit(f, &p, &s);
	plan_free(&p);
	if (rc) {
		free(s.mem);
		return rc;
	}
	*out = s.mem;
	*out_len = (size_t)s.limit;
	return 0;
}

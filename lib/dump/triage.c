/* Triage dumps: the TRIAGE_DUMP header and its copies as a virtual address space. */
#include <stdio.h>
#include <stdlib.h>

#include "triage.h"

#define MAX_COPY (16u << 20)          /* largest copy or block accepted */
#define MAX_BLOCKS (1u << 20)
#define DRIVER_STRIDE_X64 0x90u       /* DUMP_DRIVER_ENTRY64 */
#define DRIVER_STRIDE_X86 0x54u       /* DUMP_DRIVER_ENTRY32 */

static int cmp_region(const void *a, const void *b)
{
	const kh_triage_region *x = a, *y = b;
	return x->va < y->va ? -1 : x->va > y->va;
}

/* Bytes from off to the next structure the header names (so a copy's size
 * is known without the layout), bounded by the valid part of the file. */
static uint32_t gap_after(const kh_triage *t, uint32_t off, uint64_t file_end)
{
	const uint32_t offs[] = { t->context_off, t->exception_off, t->mm_off, t->unloaded_off, t->prcb_off,
		                  t->process_off, t->thread_off, t->stack_off, t->driver_list_off,
		                  t->string_pool_off, t->kdbg_off, t->blocks_off };
	uint64_t next = file_end;
	for (size_t i = 0; i < KH_ARRAY_SIZE(offs); i++)
		if (offs[i] > off && offs[i] < next)
			next = offs[i];
	uint64_t gap = next > off ? next - off : 0;
	return (uint32_t)KH_MIN(gap, (uint64_t)MAX_COPY);
}

static void set_copy(kh_triage *t, enum kh_triage_copy w, uint64_t va, uint64_t off, uint64_t len)
{
	t->copies[w].va = va;
	t->copies[w].off = off;
	t->copies[w].len = len;
}

int kh_triage_parse(khang_source *src)
{
	bool is64 = src->info.header_size == 0x2000;
	uint64_t h = src->info.header_size;
	uint8_t b[0x80];
	int rc;

	if (src->file.size < h + sizeof(b))
		return kh_error(KHANG_ECORRUPT, "triage dump: file too short for the triage header");
	rc = kh_file_read(&src->file, h, b, sizeof(b));
	if (rc < 0)
		return rc;
	kh_triage *t = kh_calloc(&src->alloc, 1, sizeof(*t));
	if (!t)
		return KHANG_ENOMEM;
	src->triage = t;
	t->header_off = h;
	t->size_of_dump = kh_le32(b + 0x04);
	t->valid_offset = kh_le32(b + 0x08);
	t->context_off = kh_le32(b + 0x0C);
	t->exception_off = kh_le32(b + 0x10);
	t->mm_off = kh_le32(b + 0x14);
	t->unloaded_off = kh_le32(b + 0x18);
	t->prcb_off = kh_le32(b + 0x1C);
	t->process_off = kh_le32(b + 0x20);
	t->thread_off = kh_le32(b + 0x24);
	t->stack_off = kh_le32(b + 0x28);
	t->stack_size = kh_le32(b + 0x2C);
	t->driver_list_off = kh_le32(b + 0x30);
	t->driver_count = kh_le32(b + 0x34);
	t->string_pool_off = kh_le32(b + 0x38);
	t->string_pool_size = kh_le32(b + 0x3C);
	t->triage_options = kh_le32(b + 0x44);
	uint64_t datapage_va;
	uint32_t datapage_off, datapage_size;
	if (is64) {
		t->top_of_stack = kh_le64(b + 0x48);
		datapage_va = kh_le64(b + 0x60);
		datapage_off = kh_le32(b + 0x68);
		datapage_size = kh_le32(b + 0x6C);
		t->kdbg_off = kh_le32(b + 0x70);
		t->kdbg_size = kh_le32(b + 0x74);
		t->blocks_off = kh_le32(b + 0x78);
		t->blocks_count = kh_le32(b + 0x7C);
		t->driver_stride = DRIVER_STRIDE_X64;
	} else {
		t->top_of_stack = kh_le32(b + 0x48);
		datapage_va = kh_le64(b + 0x58);
		datapage_off = kh_le32(b + 0x60);
		datapage_size = kh_le32(b + 0x64);
		t->kdbg_off = kh_le32(b + 0x68);
		t->kdbg_size = kh_le32(b + 0x6C);
		t->blocks_off = kh_le32(b + 0x70);
		t->blocks_count = kh_le32(b + 0x74);
		t->driver_stride = DRIVER_STRIDE_X86;
	}

	/* The usable end of the file: SizeOfDump / ValidOffset when sane. */
	uint64_t end = src->file.size;
	if (t->size_of_dump && t->size_of_dump < end)
		end = t->size_of_dump;
	if (t->size_of_dump > src->file.size)
		kh_source_warn(src, "triage dump: SizeOfDump 0x%x exceeds the file (0x%llx): truncated", t->size_of_dump,
		               (unsigned long long)src->file.size);

	/* 'TRGD' at ValidOffset marks a triage dump written completely */
	uint8_t mark[4];
	if (!t->valid_offset || kh_file_read(&src->file, t->valid_offset, mark, 4) < 0 || kh_le32(mark) != 0x44475254u)
		kh_source_warn(src, "triage dump: no 'TRGD' marker at ValidOffset 0x%x (incomplete dump?)", t->valid_offset);

	/* copies with a known address now: stack, KDBG, data page */
	if (t->stack_off && t->stack_size && t->top_of_stack &&
	    kh_span_ok((size_t)end, t->stack_off, KH_MIN(t->stack_size, MAX_COPY)))
		set_copy(t, KH_TRIAGE_STACK, t->top_of_stack, t->stack_off, KH_MIN(t->stack_size, MAX_COPY));
	if (t->kdbg_off && t->kdbg_size && src->info.kd_debugger_data_block &&
	    kh_span_ok((size_t)end, t->kdbg_off, KH_MIN(t->kdbg_size, 0x1000u)))
		set_copy(t, KH_TRIAGE_KDBG, src->info.kd_debugger_data_block, t->kdbg_off, KH_MIN(t->kdbg_size, 0x1000u));
	if (datapage_va && datapage_off && datapage_size && kh_span_ok((size_t)end, datapage_off, KH_MIN(datapage_size, MAX_COPY)))
		set_copy(t, KH_TRIAGE_DATAPAGE, datapage_va, datapage_off, KH_MIN(datapage_size, MAX_COPY));
	t->copy_size[KH_TRIAGE_PRCB] = t->prcb_off && t->prcb_off < end ? gap_after(t, t->prcb_off, end) : 0;
	t->copy_size[KH_TRIAGE_THREAD] = t->thread_off && t->thread_off < end ? gap_after(t, t->thread_off, end) : 0;
	t->copy_size[KH_TRIAGE_PROCESS] = t->process_off && t->process_off < end ? gap_after(t, t->process_off, end) : 0;

	/* data blocks */
	if (t->blocks_count) {
		uint64_t tbl_len;
		if (t->blocks_count > MAX_BLOCKS || kh_mul_overflow_u64(t->blocks_count, 16, &tbl_len) ||
		    !kh_span_ok((size_t)end, t->blocks_off, tbl_len))
			return kh_error(KHANG_ECORRUPT, "triage dump: %u data blocks at 0x%x do not fit the file",
			                t->blocks_count, t->blocks_off);
		t->blocks = kh_calloc(&src->alloc, t->blocks_count, sizeof(kh_triage_region));
		if (!t->blocks)
			return KHANG_ENOMEM;
		uint32_t bad = 0;
		for (uint32_t i = 0; i < t->blocks_count; i++) {
			uint8_t e[16];
			rc = kh_file_read(&src->file, t->blocks_off + 16ull * i, e, sizeof(e));
			if (rc < 0)
				return rc;
			uint64_t va = kh_le64(e), vend;
			uint32_t off = kh_le32(e + 8), size = kh_le32(e + 12);
			if (!size || size > MAX_COPY || !kh_span_ok((size_t)end, off, size) ||
			    kh_add_overflow_u64(va, size, &vend)) {
				bad++;
				continue;
			}
			kh_triage_region *r = &t->blocks[t->nblocks++];
			r->va = va;
			r->len = size;
			r->off = off;
			if (size > t->max_block_len)
				t->max_block_len = size;
		}
		if (bad)
			kh_source_warn(src, "triage dump: %u of %u data blocks lie outside the file and were ignored", bad,
			               t->blocks_count);
		qsort(t->blocks, t->nblocks, sizeof(kh_triage_region), cmp_region);
	}

	/* The KPRCB copy's address: KiProcessorBlock[KPRCB.Number], both of
	 * which are in the dump (KDBG copy, data blocks). KPRCB.Number is at
	 * 0x24 on every x64 build and 0x3cc on every x86 one. */
	if (t->copy_size[KH_TRIAGE_PRCB] >= 0x400) {
		uint8_t n[4];
		uint32_t num_off = is64 ? 0x24 : 0x3cc;
		if (kh_file_read(&src->file, t->prcb_off + num_off, n, is64 ? 4 : 1) == 0)
			t->processor = is64 ? kh_le32(n) : n[0];
		uint8_t kdbg[0x220];
		if (t->copies[KH_TRIAGE_KDBG].len >= sizeof(kdbg) &&
		    kh_file_read(&src->file, t->kdbg_off, kdbg, sizeof(kdbg)) == 0 && kh_le32(kdbg + 0x10) == 0x4742444Bu) {
			uint64_t kpb = kh_le64(kdbg + 0x218), prcb = 0;
			unsigned ps = is64 ? 8 : 4;
			if (!is64)
				kpb &= 0xFFFFFFFFull;
			uint8_t pb[8];
			if (t->processor < 4096 && kh_triage_read(src, kpb + (uint64_t)t->processor * ps, pb, ps) == 0)
				prcb = ps == 8 ? kh_le64(pb) : kh_le32(pb);
			if (prcb)
				set_copy(t, KH_TRIAGE_PRCB, prcb, t->prcb_off, t->copy_size[KH_TRIAGE_PRCB]);
		}
		if (!t->copies[KH_TRIAGE_PRCB].len)
			kh_source_warn(src, "triage dump: the address of the KPRCB copy is unknown (KiProcessorBlock not in the dump)");
	}
	/* The current thread: KPRCB.CurrentThread (0x8 on x64, 0x4 on x86). */
	if (t->copies[KH_TRIAGE_PRCB].len && t->copy_size[KH_TRIAGE_THREAD]) {
		uint8_t p[8];
		unsigned ps = is64 ? 8 : 4;
		if (kh_file_read(&src->file, t->prcb_off + ps, p, ps) == 0) {
			uint64_t thread = ps == 8 ? kh_le64(p) : kh_le32(p);
			if (thread)
				set_copy(t, KH_TRIAGE_THREAD, thread, t->thread_off, t->copy_size[KH_TRIAGE_THREAD]);
		}
	}
	if (t->driver_count && (t->driver_count > 65536 ||
	                        !kh_span_ok((size_t)end, t->driver_list_off, (uint64_t)t->driver_count * t->driver_stride))) {
		kh_source_warn(src, "triage dump: driver list (%u entries at 0x%x) does not fit the file; ignored",
		               t->driver_count, t->driver_list_off);
		t->driver_count = 0;
	}
	return 0;
}

void kh_triage_free(khang_source *src)
{
	kh_triage *t = src->triage;
	if (!t)
		return;
	kh_free(&src->alloc, t->blocks);
	kh_free(&src->alloc, t);
	src->triage = NULL;
}

void kh_triage_place(khang_source *src, enum kh_triage_copy which, uint64_t va)
{
	kh_triage *t = src->triage;
	if (!t || which >= KH_TRIAGE_NCOPIES || !va)
		return;
	uint32_t off = which == KH_TRIAGE_PROCESS ? t->process_off : which == KH_TRIAGE_THREAD ? t->thread_off : 0;
	if (off && t->copy_size[which] && !t->copies[which].len)
		set_copy(t, which, va, off, t->copy_size[which]);
}

/* The region holding va, or NULL. */
static const kh_triage_region *region_at(const kh_triage *t, uint64_t va)
{
	for (int i = 0; i < KH_TRIAGE_NCOPIES; i++) {
		const kh_triage_region *r = &t->copies[i];
		if (r->len && va >= r->va && va - r->va < r->len)
			return r;
	}
	size_t lo = 0, hi = t->nblocks;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (t->blocks[mid].va <= va)
			lo = mid + 1;
		else
			hi = mid;
	}
	/* blocks may overlap in hostile input: look back over the few that can */
	for (size_t i = lo; i-- > 0;) {
		const kh_triage_region *r = &t->blocks[i];
		if (va - r->va < r->len)
			return r;
		if (va - r->va >= t->max_block_len || lo - i > 16)
			break;
	}
	return NULL;
}

int kh_triage_read(khang_source *src, uint64_t va, void *buf, size_t len)
{
	kh_triage *t = src->triage;
	uint8_t *out = buf;
	while (len > 0) {
		const kh_triage_region *r = t ? region_at(t, va) : NULL;
		if (!r)
			return kh_error(KHANG_ENOTPRESENT, "0x%llx is not in the triage dump", (unsigned long long)va);
		size_t n = (size_t)KH_MIN((uint64_t)len, r->len - (va - r->va));
		int rc = kh_file_read(&src->file, r->off + (va - r->va), out, n);
		if (rc < 0)
			return kh_error(KHANG_ENOTPRESENT, "0x%llx: triage data past the end of the file", (unsigned long long)va);
		out += n;
		va += n;
		len -= n;
	}
	return 0;
}

int kh_triage_driver(khang_source *src, uint32_t i, char *name, size_t cap, uint64_t *base, uint32_t *size,
                     uint32_t *timestamp)
{
	kh_triage *t = src->triage;
	bool is64 = src->info.header_size == 0x2000;
	uint8_t e[DRIVER_STRIDE_X64];
	if (!t || i >= t->driver_count)
		return kh_error(KHANG_ENOTFOUND, "triage driver %u does not exist", i);
	int rc = kh_file_read(&src->file, t->driver_list_off + (uint64_t)i * t->driver_stride, e, t->driver_stride);
	if (rc < 0)
		return rc;
	uint32_t name_off = kh_le32(e);
	if (is64) {
		*base = kh_le64(e + 0x38);
		*size = kh_le32(e + 0x48);
		*timestamp = kh_le32(e + 0x88);
	} else {
		*base = kh_le32(e + 4 + 0x18);
		*size = kh_le32(e + 4 + 0x20);
		*timestamp = kh_le32(e + 4 + 0x44);
	}
	/* the string pool: {u32 characters, UTF-16LE} */
	name[0] = '\0';
	uint8_t lb[4];
	if (name_off < t->string_pool_off || name_off - t->string_pool_off >= t->string_pool_size ||
	    kh_file_read(&src->file, name_off, lb, 4) < 0)
		return 0;
	uint32_t chars = kh_le32(lb);
	uint64_t avail = (uint64_t)t->string_pool_off + t->string_pool_size - name_off - 4;
	if ((uint64_t)chars * 2 > avail)
		chars = (uint32_t)(avail / 2);
	size_t o = 0;
	uint8_t w[2];
	for (uint32_t c = 0; c < chars && o + 1 < cap; c++) {
		if (kh_file_read(&src->file, name_off + 4 + 2ull * c, w, 2) < 0)
			break;
		uint16_t u = kh_le16(w);
		if (!u)
			break;
		name[o++] = u < 0x80 ? (char)u : '?';
	}
	name[o] = '\0';
	return 0;
}

/* ---- unloaded drivers ---------------------------------------------------------- */

#define UNLOADED_NAME_CHARS 12u       /* MAX_UNLOADED_NAME_LENGTH / sizeof(WCHAR) */
#define UNLOADED_STRIDE_X64 0x38u     /* DUMP_UNLOADED_DRIVERS64 */
#define UNLOADED_STRIDE_X86 0x28u     /* DUMP_UNLOADED_DRIVERS32 */
#define UNLOADED_MAX 1024u            /* the kernel keeps 50 */

static void unloaded_geometry(const khang_source *src, uint32_t *head, uint32_t *stride)
{
	bool is64 = src->info.header_size == 0x2000;
	*head = is64 ? 8 : 4;
	*stride = is64 ? UNLOADED_STRIDE_X64 : UNLOADED_STRIDE_X86;
}

uint32_t kh_triage_unloaded_count(khang_source *src)
{
	kh_triage *t = src->triage;
	uint32_t head, stride;
	uint8_t b[4];
	if (!t || !t->unloaded_off || kh_file_read(&src->file, t->unloaded_off, b, 4) < 0)
		return 0;
	unloaded_geometry(src, &head, &stride);
	uint64_t end = src->file.size;
	if (t->size_of_dump && t->size_of_dump < end)
		end = t->size_of_dump;
	if (t->unloaded_off >= end)
		return 0;
	/* the entries end where the next structure the header names begins */
	uint32_t room = gap_after(t, t->unloaded_off, end);
	uint32_t n = kh_le32(b);
	uint32_t fit = room > head ? (room - head) / stride : 0;
	if (n > fit || n > UNLOADED_MAX) {
		kh_source_warn(src, "triage dump: %u unloaded drivers claimed, %u fit: list cut", n, KH_MIN(fit, UNLOADED_MAX));
		n = KH_MIN(fit, UNLOADED_MAX);
	}
	return n;
}

int kh_triage_unloaded(khang_source *src, uint32_t i, char *name, size_t cap, uint64_t *start, uint64_t *end)
{
	kh_triage *t = src->triage;
	uint32_t head, stride;
	uint8_t e[UNLOADED_STRIDE_X64];
	if (!t || !cap)
		return kh_error(KHANG_EINVAL, "triage unloaded driver: no triage dump");
	unloaded_geometry(src, &head, &stride);
	int rc = kh_file_read(&src->file, (uint64_t)t->unloaded_off + head + (uint64_t)i * stride, e, stride);
	if (rc < 0)
		return rc;
	bool is64 = stride == UNLOADED_STRIDE_X64;
	uint32_t us = is64 ? 16 : 8; /* UNICODE_STRING64 / 32 */
	uint32_t chars = kh_le16(e) / 2u;
	if (chars > UNLOADED_NAME_CHARS)
		chars = UNLOADED_NAME_CHARS;
	size_t o = 0;
	for (uint32_t c = 0; c < chars && o + 1 < cap; c++) {
		uint16_t u = kh_le16(e + us + 2 * c);
		if (!u)
			break;
		name[o++] = u >= 0x20 && u < 0x7F ? (char)u : '?';
	}
	name[o] = '\0';
	uint32_t a = us + 2 * UNLOADED_NAME_CHARS;
	*start = is64 ? kh_le64(e + a) : kh_le32(e + a);
	*end = is64 ? kh_le64(e + a + 8) : kh_le32(e + a + 4);
	return 0;
}

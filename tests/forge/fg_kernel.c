/* fg_kernel: a Windows kernel laid out in a forge address space (see fg_kernel.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fg_kernel.h"
#include "fg_pe.h"

#define KDBG_SIZE 0x340u
#define KUSD_X64 0xFFFFF78000000000ull
#define KUSD_X86 0xFFDF0000ull
#define POOL_X64 0xffffa00000000000ull
#define POOL_X86 0x84000000ull

struct fg_kernel {
	fg_forge *f;
	const kh_layout *l;
	bool x86;
	unsigned ps;
	uint64_t dtb;
	uint64_t base;
	uint32_t image_size;
	uint64_t pool;
	uint64_t globals[KH_GLOBAL_COUNT];
	uint32_t ncpus;
	uint64_t prcb[64];
	uint64_t idle[64];
	uint64_t idle_process;
	uint64_t system;
	uint64_t srq;  /* shared ready queue, 0 if none */
	uint64_t unloaded;   /* the MmUnloadedDrivers ring, 0 until the first entry */
	uint32_t nunloaded;  /* entries added (MmLastUnloadedDriver = this % 50) */
};

_Noreturn static void die(const fg_kernel *k, const char *what)
{
	fprintf(stderr, "fg_kernel: %s: %s\n", what, k ? fg_error(k->f) : "");
	abort();
}

static void wr(fg_kernel *k, uint64_t va, const void *data, size_t len)
{
	if (fg_write_virtual(k->f, k->dtb, va, data, len) != 0)
		die(k, "write");
}

static void wr_ptr(fg_kernel *k, uint64_t va, uint64_t v)
{
	if (fg_write_ptr(k->f, k->dtb, va, v) != 0)
		die(k, "write pointer");
}

uint64_t fg_kernel_alloc(fg_kernel *k, uint64_t size)
{
	static const uint8_t zero[4096];
	uint64_t va = k->pool;
	size = (size + 15) & ~15ull;
	k->pool += size;
	for (uint64_t done = 0; done < size;) {
		uint64_t chunk = size - done < sizeof(zero) ? size - done : sizeof(zero);
		wr(k, va + done, zero, (size_t)chunk);
		done += chunk;
	}
	return va;
}

uint64_t fg_kernel_addr(const fg_kernel *k, uint64_t struct_va, kh_field_id id)
{
	const kh_field *fd = kh_layout_field(k->l, id);
	return kh_field_present(fd) ? struct_va + fd->offset : 0;
}

int fg_kernel_set(fg_kernel *k, uint64_t struct_va, kh_field_id id, uint64_t value)
{
	const kh_field *fd = kh_layout_field(k->l, id);
	uint8_t b[8];
	if (!kh_field_present(fd) || fd->size == 0 || fd->size > 8)
		return -1;
	uint64_t va = struct_va + fd->offset;
	if (fd->kind == KH_FK_BITFIELD) {
		uint64_t old = 0;
		if (fg_read_virtual(k->f, k->dtb, va, b, fd->size) != 0)
			die(k, "read bitfield");
		for (uint32_t i = 0; i < fd->size; i++)
			old |= (uint64_t)b[i] << (8 * i);
		uint64_t mask = (fd->bit_len >= 64 ? ~0ull : ((1ull << fd->bit_len) - 1)) << fd->bit_pos;
		value = (old & ~mask) | ((value << fd->bit_pos) & mask);
	}
	for (uint32_t i = 0; i < fd->size; i++)
		b[i] = (uint8_t)(value >> (8 * i));
	wr(k, va, b, fd->size);
	return 0;
}

static void set(fg_kernel *k, uint64_t va, kh_field_id id, uint64_t v)
{
	if (fg_kernel_set(k, va, id, v) != 0) {
		fprintf(stderr, "fg_kernel: layout lacks %s\n", kh_field_name(id));
		abort();
	}
}

void fg_kernel_list_init(fg_kernel *k, uint64_t head)
{
	wr_ptr(k, head, head);
	wr_ptr(k, head + k->ps, head);
}

static uint64_t rd_ptr(fg_kernel *k, uint64_t va)
{
	uint8_t b[8] = { 0 };
	uint64_t v = 0;
	if (fg_read_virtual(k->f, k->dtb, va, b, k->ps) != 0)
		die(k, "read pointer");
	for (unsigned i = 0; i < k->ps; i++)
		v |= (uint64_t)b[i] << (8 * i);
	return v;
}

static uint64_t rd_field(fg_kernel *k, uint64_t va, kh_field_id id)
{
	const kh_field *fd = kh_layout_field(k->l, id);
	uint8_t b[8] = { 0 };
	uint64_t v = 0;
	if (!kh_field_present(fd) || fd->size > 8 || fg_read_virtual(k->f, k->dtb, va + fd->offset, b, fd->size) != 0)
		return 0;
	for (uint32_t i = 0; i < fd->size; i++)
		v |= (uint64_t)b[i] << (8 * i);
	if (fd->kind == KH_FK_BITFIELD)
		v = (v >> fd->bit_pos) & (fd->bit_len >= 64 ? ~0ull : ((1ull << fd->bit_len) - 1));
	return v;
}

int64_t fg_kernel_enum(const fg_kernel *k, kh_enum_id e, const char *name)
{
	int64_t v;
	if (!kh_layout_enum_value(k->l, e, name, &v)) {
		fprintf(stderr, "fg_kernel: enum constant %s unknown\n", name);
		abort();
	}
	return v;
}

/* DISPATCHER_HEADER of an object at va whose header is at field hdr:
 * Type and an empty WaitListHead. */
static void dispatcher_init(fg_kernel *k, uint64_t va, kh_field_id hdr, int64_t type, int32_t signal)
{
	uint64_t h = fg_kernel_addr(k, va, hdr);
	set(k, h, KH_F_DISPATCHER_HEADER_Type, (uint64_t)type);
	fg_kernel_set(k, h, KH_F_DISPATCHER_HEADER_SignalState, (uint32_t)signal);
	uint64_t wl = fg_kernel_addr(k, h, KH_F_DISPATCHER_HEADER_WaitListHead);
	if (wl)
		fg_kernel_list_init(k, wl);
}

void fg_kernel_list_append(fg_kernel *k, uint64_t head, uint64_t entry)
{
	uint64_t last = 0;
	uint8_t b[8] = { 0 };
	if (fg_read_virtual(k->f, k->dtb, head + k->ps, b, k->ps) != 0)
		die(k, "read list");
	for (unsigned i = 0; i < k->ps; i++)
		last |= (uint64_t)b[i] << (8 * i);
	wr_ptr(k, entry, head);
	wr_ptr(k, entry + k->ps, last);
	wr_ptr(k, last, entry);
	wr_ptr(k, head + k->ps, entry);
}

void fg_kernel_unicode(fg_kernel *k, uint64_t va, const char *s)
{
	size_t n = strlen(s);
	uint64_t buf = fg_kernel_alloc(k, 2 * n + 2);
	for (size_t i = 0; i < n; i++) {
		uint8_t c[2] = { (uint8_t)s[i], 0 };
		wr(k, buf + 2 * i, c, 2);
	}
	uint8_t h[4] = { (uint8_t)(2 * n), (uint8_t)((2 * n) >> 8), (uint8_t)(2 * n + 2), (uint8_t)((2 * n + 2) >> 8) };
	wr(k, va, h, 4);
	wr_ptr(k, va + k->ps, buf);
}

void fg_kernel_add_unloaded(fg_kernel *k, const char *name, uint64_t start, uint64_t end, uint64_t when)
{
	/* MM_UNLOADED_DRIVER: UNICODE_STRING Name, StartAddress, EndAddress, LARGE_INTEGER CurrentTime */
	uint32_t us = 2 * k->ps, stride = us + 2 * k->ps + 8;
	if (!k->unloaded) {
		k->unloaded = fg_kernel_alloc(k, 50ull * stride);
		wr_ptr(k, k->globals[KH_G_MmUnloadedDrivers], k->unloaded);
	}
	uint64_t e = k->unloaded + (uint64_t)(k->nunloaded % 50) * stride;
	fg_kernel_unicode(k, e, name);
	wr_ptr(k, e + us, start);
	wr_ptr(k, e + us + k->ps, end);
	uint8_t t[8];
	for (int i = 0; i < 8; i++)
		t[i] = (uint8_t)(when >> (8 * i));
	wr(k, e + us + 2 * k->ps, t, 8);
	k->nunloaded++;
	uint32_t last = k->nunloaded % 50;
	uint8_t l4[4] = { (uint8_t)last, 0, 0, 0 };
	wr(k, k->globals[KH_G_MmLastUnloadedDriver], l4, 4);
}

static uint32_t struct_size(const fg_kernel *k, kh_struct_id id, uint32_t fallback)
{
	uint32_t s = kh_layout_struct_size(k->l, id);
	return s ? s : fallback;
}

uint64_t fg_kernel_add_module(fg_kernel *k, const char *name, uint64_t base, uint32_t size)
{
	uint64_t e = fg_kernel_alloc(k, struct_size(k, KH_S_KLDR_DATA_TABLE_ENTRY, 0xA0));
	char path[300];
	fg_kernel_list_append(k, k->globals[KH_G_PsLoadedModuleList], e);
	set(k, e, KH_F_KLDR_DATA_TABLE_ENTRY_DllBase, base);
	set(k, e, KH_F_KLDR_DATA_TABLE_ENTRY_SizeOfImage, size);
	snprintf(path, sizeof(path), "\\SystemRoot\\system32\\drivers\\%s", name);
	fg_kernel_unicode(k, fg_kernel_addr(k, e, KH_F_KLDR_DATA_TABLE_ENTRY_FullDllName), path);
	fg_kernel_unicode(k, fg_kernel_addr(k, e, KH_F_KLDR_DATA_TABLE_ENTRY_BaseDllName), name);
	return e;
}

uint64_t fg_kernel_add_process(fg_kernel *k, const char *image_name, uint32_t pid, uint32_t ppid)
{
	uint64_t p = fg_kernel_alloc(k, struct_size(k, KH_S_EPROCESS, 0x800));
	fg_kernel_list_append(k, k->globals[KH_G_PsActiveProcessHead], fg_kernel_addr(k, p, KH_F_EPROCESS_ActiveProcessLinks));
	set(k, p, KH_F_EPROCESS_UniqueProcessId, pid);
	fg_kernel_set(k, p, KH_F_EPROCESS_InheritedFromUniqueProcessId, ppid);
	set(k, p, KH_F_KPROCESS_DirectoryTableBase, k->dtb);
	dispatcher_init(k, p, KH_F_KPROCESS_Header, fg_kernel_enum(k, KH_E_KOBJECTS, "ProcessObject"), 0);
	uint64_t name = fg_kernel_addr(k, p, KH_F_EPROCESS_ImageFileName);
	char buf[15] = { 0 };
	strncpy(buf, image_name, sizeof(buf) - 1);
	wr(k, name, buf, sizeof(buf));
	fg_kernel_list_init(k, fg_kernel_addr(k, p, KH_F_KPROCESS_ThreadListHead));
	fg_kernel_list_init(k, fg_kernel_addr(k, p, KH_F_EPROCESS_ThreadListHead));
	return p;
}

uint64_t fg_kernel_add_thread(fg_kernel *k, uint64_t process, uint32_t tid)
{
	uint64_t t = fg_kernel_alloc(k, struct_size(k, KH_S_ETHREAD, 0x500));
	uint64_t pid = 0;
	uint8_t b[8] = { 0 };
	const kh_field *fp = kh_layout_field(k->l, KH_F_EPROCESS_UniqueProcessId);
	if (fg_read_virtual(k->f, k->dtb, process + fp->offset, b, fp->size) == 0)
		for (uint32_t i = 0; i < fp->size && i < 8; i++)
			pid |= (uint64_t)b[i] << (8 * i);
	set(k, t, KH_F_KTHREAD_Process, process);
	fg_kernel_set(k, t, KH_F_KTHREAD_ApcStateProcess, process);
	dispatcher_init(k, t, KH_F_KTHREAD_Header, fg_kernel_enum(k, KH_E_KOBJECTS, "ThreadObject"), 0);
	uint64_t irps = fg_kernel_addr(k, t, KH_F_ETHREAD_IrpList);
	if (irps)
		fg_kernel_list_init(k, irps);
	uint64_t active = rd_field(k, process, KH_F_EPROCESS_ActiveThreads);
	fg_kernel_set(k, process, KH_F_EPROCESS_ActiveThreads, active + 1);
	uint64_t cid = fg_kernel_addr(k, t, KH_F_ETHREAD_Cid);
	set(k, cid, KH_F_CLIENT_ID_UniqueProcess, pid);
	set(k, cid, KH_F_CLIENT_ID_UniqueThread, tid);
	fg_kernel_list_append(k, fg_kernel_addr(k, process, KH_F_EPROCESS_ThreadListHead),
	                      fg_kernel_addr(k, t, KH_F_ETHREAD_ThreadListEntry));
	fg_kernel_list_append(k, fg_kernel_addr(k, process, KH_F_KPROCESS_ThreadListHead),
	                      fg_kernel_addr(k, t, KH_F_KTHREAD_ThreadListEntry));
	return t;
}

void fg_kernel_set_current(fg_kernel *k, uint32_t cpu, uint64_t thread)
{
	set(k, k->prcb[cpu], KH_F_KPRCB_CurrentThread, thread);
}

/* ---- KDBG ------------------------------------------------------------------ */

static uint64_t rotr64(uint64_t v, unsigned n)
{
	n &= 63;
	return n ? (v >> n) | (v << (64 - n)) : v;
}

static uint64_t bswap64(uint64_t v)
{
	uint64_t r = 0;
	for (int i = 0; i < 8; i++)
		r |= ((v >> (8 * i)) & 0xFF) << (56 - 8 * i);
	return r;
}

static void put64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static uint64_t get64(const uint8_t *p)
{
	uint64_t v = 0;
	for (int i = 0; i < 8; i++)
		v |= (uint64_t)p[i] << (8 * i);
	return v;
}

/* KDDEBUGGER_DATA64 pointers are 64-bit; x86 sign-extends them. */
static uint64_t kptr(const fg_kernel *k, uint64_t va)
{
	return k->x86 ? (uint64_t)(int64_t)(int32_t)(uint32_t)va : va;
}

static void write_kdbg(fg_kernel *k, const fg_kernel_opts *o)
{
	uint8_t b[KDBG_SIZE] = { 0 };
	uint64_t va = k->globals[KH_G_KdDebuggerDataBlock];
	put64(b + 0x10, 0x4742444Bull | ((uint64_t)KDBG_SIZE << 32)); /* OwnerTag 'KDBG', Size */
	put64(b + 0x18, kptr(k, k->base));
	put64(b + 0x48, kptr(k, k->globals[KH_G_PsLoadedModuleList]));
	put64(b + 0x50, kptr(k, k->globals[KH_G_PsActiveProcessHead]));
	put64(b + 0x60, kptr(k, k->globals[KH_G_ExpSystemResourcesList]));
	put64(b + 0x78, kptr(k, k->globals[KH_G_KeTimeIncrement]));
	put64(b + 0xF8, kptr(k, k->globals[KH_G_MmNumberOfPhysicalPages]));
	put64(b + 0x1A8, kptr(k, k->globals[KH_G_MmAvailablePages]));
	put64(b + 0x218, kptr(k, k->globals[KH_G_KiProcessorBlock]));
	put64(b + 0x220, kptr(k, k->globals[KH_G_MmUnloadedDrivers]));
	put64(b + 0x228, kptr(k, k->globals[KH_G_MmLastUnloadedDriver]));
	if (o->encode_kdbg) {
		uint64_t never = 0x1d2c3b4a59687706ull, always = 0x8899aabbccddeeffull;
		wr(k, k->globals[KH_G_KiWaitNever], &never, 8);
		wr(k, k->globals[KH_G_KiWaitAlways], &always, 8);
		for (size_t i = 0; i < KDBG_SIZE; i += 8) {
			uint64_t w = get64(b + i) ^ always;
			w = bswap64(w) ^ va;
			w = rotr64(w, (unsigned)(never & 0xFF)) ^ never;
			put64(b + i, w);
		}
	}
	wr(k, va, b, sizeof(b));
}

/* ---- the kernel ------------------------------------------------------------- */

fg_kernel *fg_kernel_new(fg_forge *f, const kh_layout *l, const fg_kernel_opts *opts)
{
	fg_kernel_opts o = { 0 };
	kh_layout_info li;
	if (opts)
		o = *opts;
	if (!o.ncpus)
		o.ncpus = 2;
	if (o.ncpus > 64)
		return NULL;
	if (!o.tick_count)
		o.tick_count = 100000;
	kh_layout_get_info(l, &li);

	fg_kernel *k = calloc(1, sizeof(*k));
	if (!k)
		abort();
	k->f = f;
	k->l = l;
	k->x86 = li.arch == KHANG_ARCH_X86;
	k->ps = k->x86 ? 4 : 8;
	k->dtb = fg_kernel_dtb(f);
	k->base = o.kernel_base ? o.kernel_base : (k->x86 ? 0x82000000ull : 0xfffff80412000000ull);
	k->pool = k->x86 ? POOL_X86 : POOL_X64;
	k->ncpus = o.ncpus;

	/* globals: the layout's RVAs, or a data area of our own */
	uint32_t max_rva = 0x10000;
	for (int g = 0; g < KH_GLOBAL_COUNT; g++) {
		uint32_t rva = kh_layout_global_rva(l, (kh_global_id)g);
		if (!rva)
			rva = 0x300000 + 0x40 * (uint32_t)g;
		k->globals[g] = k->base + rva;
		if (rva > max_rva)
			max_rva = rva;
	}
	/* keep the KDBG block clear of its neighbours when we chose the place */
	if (!kh_layout_global_rva(l, KH_G_KdDebuggerDataBlock))
		k->globals[KH_G_KdDebuggerDataBlock] = k->base + 0x310000;

	/* the kernel image: headers and directories only (the rest unmapped) */
	fg_pe *pe = fg_pe_new(!k->x86, k->base, max_rva + 0x20000);
	uint8_t g16[16];
	uint32_t age;
	if (o.has_guid) {
		memcpy(g16, o.guid, 16);
		age = o.age;
	} else {
		/* the layout's GUID is in display order; RSDS stores Data1..3 little-endian */
		memcpy(g16, li.guid, 16);
		age = li.has_guid ? li.age : 1;
		uint8_t t[8] = { g16[3], g16[2], g16[1], g16[0], g16[5], g16[4], g16[7], g16[6] };
		memcpy(g16, t, 8);
	}
	fg_pe_set_codeview(pe, g16, age, k->x86 ? (li.pae ? "ntkrpamp.pdb" : "ntkrnlmp.pdb") : "ntkrnlmp.pdb");
	fg_pe_add_export(pe, "KeBugCheckEx", 0x1000);
	uint8_t *img;
	size_t img_len;
	if (!pe || fg_pe_build(pe, &img, &img_len) != 0)
		die(k, "kernel image");
	k->image_size = (uint32_t)img_len;
	for (size_t off = 0; off < img_len; off += 4096) {
		bool nonzero = false;
		for (size_t i = 0; i < 4096 && !nonzero; i++)
			nonzero = img[off + i] != 0;
		if (nonzero)
			wr(k, k->base + off, img + off, 4096);
	}
	free(img);
	fg_pe_free(pe);

	/* KUSER_SHARED_DATA: 15.625 ms ticks */
	uint64_t kusd = k->x86 ? KUSD_X86 : KUSD_X64;
	uint32_t mult = 0x0FA00000;
	wr(k, kusd + 4, &mult, 4);
	wr(k, kusd + 0x320, &o.tick_count, 4);
	uint32_t time_inc = 156250;
	wr(k, k->globals[KH_G_KeTimeIncrement], &time_inc, 4);
	wr(k, k->globals[KH_G_KeNumberProcessors], &o.ncpus, 4);

	/* lists */
	fg_kernel_list_init(k, k->globals[KH_G_PsActiveProcessHead]);
	fg_kernel_list_init(k, k->globals[KH_G_PsLoadedModuleList]);
	fg_kernel_list_init(k, k->globals[KH_G_ExpSystemResourcesList]);
	fg_kernel_list_init(k, k->globals[KH_G_AlpcpPortList]);

	/* processes: Idle (not on the list), System */
	k->idle_process = fg_kernel_alloc(k, struct_size(k, KH_S_EPROCESS, 0x800));
	set(k, k->idle_process, KH_F_KPROCESS_DirectoryTableBase, k->dtb);
	dispatcher_init(k, k->idle_process, KH_F_KPROCESS_Header, fg_kernel_enum(k, KH_E_KOBJECTS, "ProcessObject"), 0);
	fg_kernel_list_init(k, fg_kernel_addr(k, k->idle_process, KH_F_KPROCESS_ThreadListHead));
	fg_kernel_list_init(k, fg_kernel_addr(k, k->idle_process, KH_F_EPROCESS_ThreadListHead));
	wr(k, fg_kernel_addr(k, k->idle_process, KH_F_EPROCESS_ImageFileName), "Idle", 5);
	k->system = fg_kernel_add_process(k, "System", 4, 0);
	fg_kernel_add_thread(k, k->system, 8);

	/* the shared ready queue (Windows 8.1 and later) */
	if (kh_layout_has(l, KH_F_KPRCB_SharedReadyQueue) && kh_layout_has(l, KH_F_KSHARED_READY_QUEUE_ReadyListHead)) {
		k->srq = fg_kernel_alloc(k, struct_size(k, KH_S_KSHARED_READY_QUEUE, 0x300));
		uint64_t heads = fg_kernel_addr(k, k->srq, KH_F_KSHARED_READY_QUEUE_ReadyListHead);
		for (unsigned p = 0; p < 32; p++)
			fg_kernel_list_init(k, heads + 2ull * k->ps * p);
	}

	/* processors */
	uint32_t pcr_size = struct_size(k, KH_S_KPCR, 0x8000);
	for (uint32_t i = 0; i < o.ncpus; i++) {
		uint64_t pcr = fg_kernel_alloc(k, pcr_size);
		uint64_t prcb = fg_kernel_addr(k, pcr, KH_F_KPCR_Prcb);
		uint64_t idle = fg_kernel_alloc(k, struct_size(k, KH_S_ETHREAD, 0x500));
		k->prcb[i] = prcb;
		k->idle[i] = idle;
		set(k, pcr, KH_F_KPCR_Self, pcr);
		set(k, pcr, KH_F_KPCR_CurrentPrcb, prcb);
		set(k, prcb, KH_F_KPRCB_Number, i);
		set(k, prcb, KH_F_KPRCB_CurrentThread, idle);
		set(k, prcb, KH_F_KPRCB_IdleThread, idle);
		set(k, idle, KH_F_KTHREAD_Process, k->idle_process);
		fg_kernel_set(k, idle, KH_F_KTHREAD_ApcStateProcess, k->idle_process);
		dispatcher_init(k, idle, KH_F_KTHREAD_Header, fg_kernel_enum(k, KH_E_KOBJECTS, "ThreadObject"), 0);
		fg_kernel_set(k, idle, KH_F_KTHREAD_State, (uint64_t)fg_kernel_enum(k, KH_E_KTHREAD_STATE, "Running"));
		if (kh_layout_has(l, KH_F_KTHREAD_NextProcessorNumber))
			fg_kernel_set(k, idle, KH_F_KTHREAD_NextProcessorNumber, i);
		else
			fg_kernel_set(k, idle, KH_F_KTHREAD_NextProcessor, i);
		fg_kernel_list_append(k, fg_kernel_addr(k, k->idle_process, KH_F_KPROCESS_ThreadListHead),
		                      fg_kernel_addr(k, idle, KH_F_KTHREAD_ThreadListEntry));
		uint64_t heads = fg_kernel_addr(k, prcb, KH_F_KPRCB_DispatcherReadyListHead);
		for (unsigned p = 0; heads && p < 32; p++)
			fg_kernel_list_init(k, heads + 2ull * k->ps * p);
		if (k->srq)
			set(k, prcb, KH_F_KPRCB_SharedReadyQueue, k->srq);
		wr_ptr(k, k->globals[KH_G_KiProcessorBlock] + (uint64_t)i * k->ps, prcb);
	}

	fg_kernel_add_module(k, "ntoskrnl.exe", k->base, k->image_size);
	fg_kernel_add_module(k, "hal.dll", k->base + 0x2000000, 0x100000);
	write_kdbg(k, &o);

	fg_header *h = fg_header_of(f);
	h->build = li.build;
	h->processors = o.ncpus;
	h->ps_loaded_module_list = k->globals[KH_G_PsLoadedModuleList];
	h->ps_active_process_head = k->globals[KH_G_PsActiveProcessHead];
	h->kd_debugger_data_block = o.no_kdbg ? FG_UNSET64 : k->globals[KH_G_KdDebuggerDataBlock];
	return k;
}

void fg_kernel_free(fg_kernel *k)
{
	free(k);
}

uint64_t fg_kernel_base(const fg_kernel *k)
{
	return k->base;
}

uint64_t fg_kernel_global(const fg_kernel *k, kh_global_id id)
{
	return (int)id >= 0 && id < KH_GLOBAL_COUNT ? k->globals[id] : 0;
}

uint64_t fg_kernel_system_process(const fg_kernel *k)
{
	return k->system;
}

uint64_t fg_kernel_prcb(const fg_kernel *k, uint32_t cpu)
{
	return cpu < k->ncpus ? k->prcb[cpu] : 0;
}

uint64_t fg_kernel_idle_thread(const fg_kernel *k, uint32_t cpu)
{
	return cpu < k->ncpus ? k->idle[cpu] : 0;
}

/* ---- objects: threads, waits, ready queues ------------------------------------ */

const kh_layout *fg_kernel_layout(const fg_kernel *k)
{
	return k->l;
}

uint32_t fg_kernel_ncpus(const fg_kernel *k)
{
	return k->ncpus;
}

uint64_t fg_kernel_pcr(const fg_kernel *k, uint32_t cpu)
{
	return cpu < k->ncpus ? k->prcb[cpu] - kh_layout_offset(k->l, KH_F_KPCR_Prcb) : 0;
}

uint64_t fg_kernel_idle_process(const fg_kernel *k)
{
	return k->idle_process;
}

uint64_t fg_kernel_shared_ready_queue(const fg_kernel *k)
{
	return k->srq;
}

void fg_kernel_write(fg_kernel *k, uint64_t va, const void *data, size_t len)
{
	wr(k, va, data, len);
}

void fg_kernel_thread_state(fg_kernel *k, uint64_t thread, unsigned state, unsigned wait_reason, unsigned wait_mode,
                            uint32_t wait_time)
{
	set(k, thread, KH_F_KTHREAD_State, state);
	set(k, thread, KH_F_KTHREAD_WaitReason, wait_reason);
	set(k, thread, KH_F_KTHREAD_WaitMode, wait_mode);
	set(k, thread, KH_F_KTHREAD_WaitTime, wait_time);
}

uint64_t fg_kernel_add_object(fg_kernel *k, const char *kobject, int32_t signal_state)
{
	uint64_t o = fg_kernel_alloc(k, 0x80); /* KMUTANT/KQUEUE/KTIMER are the largest: 0x40 */
	dispatcher_init(k, o, KH_F_KEVENT_Header, fg_kernel_enum(k, KH_E_KOBJECTS, kobject), signal_state);
	return o;
}

uint64_t fg_kernel_thread_wait(fg_kernel *k, uint64_t thread, const uint64_t *objects, unsigned n, unsigned wait_type)
{
	uint32_t bsize = struct_size(k, KH_S_KWAIT_BLOCK, 0);
	if (!n || n > 64 || !bsize)
		die(k, "fg_kernel_thread_wait: 1..64 objects");
	bool chain = kh_layout_has(k->l, KH_F_KWAIT_BLOCK_NextWaitBlock); /* Windows 7 */
	uint64_t blocks = n <= 3 ? fg_kernel_addr(k, thread, KH_F_KTHREAD_WaitBlock) : fg_kernel_alloc(k, (uint64_t)n * bsize);
	int64_t active = fg_kernel_enum(k, KH_E_KWAIT_BLOCK_STATE, "WaitBlockActive");
	for (unsigned i = 0; i < n; i++) {
		uint64_t b = blocks + (uint64_t)i * bsize;
		set(k, b, KH_F_KWAIT_BLOCK_Thread, thread);
		set(k, b, KH_F_KWAIT_BLOCK_Object, objects[i]);
		set(k, b, KH_F_KWAIT_BLOCK_WaitKey, i);
		set(k, b, KH_F_KWAIT_BLOCK_WaitType, wait_type);
		set(k, b, KH_F_KWAIT_BLOCK_BlockState, (uint64_t)active);
		if (chain)
			set(k, b, KH_F_KWAIT_BLOCK_NextWaitBlock, i + 1 < n ? b + bsize : blocks);
		/* link into the object's wait list when it has one */
		uint64_t wl = fg_kernel_addr(k, objects[i], KH_F_DISPATCHER_HEADER_WaitListHead);
		if (wl && rd_ptr(k, wl))
			fg_kernel_list_append(k, wl, fg_kernel_addr(k, b, KH_F_KWAIT_BLOCK_WaitListEntry));
	}
	set(k, thread, KH_F_KTHREAD_WaitBlockList, blocks);
	if (!chain)
		set(k, thread, KH_F_KTHREAD_WaitBlockCount, n);
	set(k, thread, KH_F_KTHREAD_State, (uint64_t)fg_kernel_enum(k, KH_E_KTHREAD_STATE, "Waiting"));
	return blocks;
}

void fg_kernel_ready_thread(fg_kernel *k, int cpu, uint64_t thread, unsigned priority)
{
	uint64_t heads, summary_owner;
	kh_field_id summary;
	if (priority > 31)
		die(k, "fg_kernel_ready_thread: priority 0..31");
	if (cpu >= 0) {
		if ((uint32_t)cpu >= k->ncpus)
			die(k, "fg_kernel_ready_thread: no such processor");
		heads = fg_kernel_addr(k, k->prcb[cpu], KH_F_KPRCB_DispatcherReadyListHead);
		summary_owner = k->prcb[cpu];
		summary = KH_F_KPRCB_ReadySummary;
	} else {
		if (!k->srq)
			die(k, "fg_kernel_ready_thread: the layout has no shared ready queue");
		heads = fg_kernel_addr(k, k->srq, KH_F_KSHARED_READY_QUEUE_ReadyListHead);
		summary_owner = k->srq;
		summary = KH_F_KSHARED_READY_QUEUE_ReadySummary;
	}
	fg_kernel_list_append(k, heads + 2ull * k->ps * priority, fg_kernel_addr(k, thread, KH_F_KTHREAD_WaitListEntry));
	uint64_t bits = rd_field(k, summary_owner, summary);
	fg_kernel_set(k, summary_owner, summary, bits | (1ull << priority));
	set(k, thread, KH_F_KTHREAD_State, (uint64_t)fg_kernel_enum(k, KH_E_KTHREAD_STATE, "Ready"));
	set(k, thread, KH_F_KTHREAD_Priority, priority);
	uint64_t proc = cpu >= 0 ? (uint64_t)cpu : 0;
	if (kh_layout_has(k->l, KH_F_KTHREAD_NextProcessorNumber))
		set(k, thread, KH_F_KTHREAD_NextProcessorNumber, proc);
	else
		set(k, thread, KH_F_KTHREAD_NextProcessor, proc);
}

void fg_kernel_set_session(fg_kernel *k, uint64_t process, uint32_t session_id)
{
	uint64_t s = fg_kernel_alloc(k, 0x100);
	set(k, s, KH_F_MM_SESSION_SPACE_SessionId, session_id);
	set(k, process, KH_F_EPROCESS_Session, s);
}

void fg_kernel_set_image_path(fg_kernel *k, uint64_t process, const char *path)
{
	uint64_t oni = fg_kernel_alloc(k, 0x20);
	fg_kernel_unicode(k, oni, path);
	set(k, process, KH_F_EPROCESS_ImageFileNameInfo, oni);
}

void fg_kernel_set_handle_count(fg_kernel *k, uint64_t process, uint32_t n)
{
	uint64_t ht = fg_kernel_alloc(k, struct_size(k, KH_S_HANDLE_TABLE, 0x80) + 0x40);
	if (kh_layout_has(k->l, KH_F_HANDLE_TABLE_HandleCount)) {
		set(k, ht, KH_F_HANDLE_TABLE_HandleCount, n);
	} else {
		uint64_t fl = fg_kernel_addr(k, ht, KH_F_HANDLE_TABLE_FreeLists);
		set(k, fl, KH_F_HANDLE_TABLE_FREE_LIST_HandleCount, n);
	}
	set(k, process, KH_F_EPROCESS_ObjectTable, ht);
}

uint64_t fg_kernel_add_irp(fg_kernel *k, uint64_t thread)
{
	uint64_t irp = fg_kernel_alloc(k, struct_size(k, KH_S_IRP, 0xd0));
	set(k, irp, KH_F_IRP_Type, 6); /* IO_TYPE_IRP */
	set(k, irp, KH_F_IRP_Thread, thread);
	fg_kernel_list_append(k, fg_kernel_addr(k, thread, KH_F_ETHREAD_IrpList), fg_kernel_addr(k, irp, KH_F_IRP_ThreadListEntry));
	return irp;
}

uint64_t fg_kernel_add_driver(fg_kernel *k, const char *name, uint64_t start, uint32_t size)
{
	uint64_t d = fg_kernel_alloc(k, struct_size(k, KH_S_DRIVER_OBJECT, 0x150));
	set(k, d, KH_F_DRIVER_OBJECT_Type, 4); /* IO_TYPE_DRIVER */
	set(k, d, KH_F_DRIVER_OBJECT_DriverStart, start);
	set(k, d, KH_F_DRIVER_OBJECT_DriverSize, size);
	fg_kernel_unicode(k, fg_kernel_addr(k, d, KH_F_DRIVER_OBJECT_DriverName), name);
	return d;
}

uint64_t fg_kernel_add_device(fg_kernel *k, uint64_t driver)
{
	uint64_t d = fg_kernel_alloc(k, struct_size(k, KH_S_DEVICE_OBJECT, 0x150));
	set(k, d, KH_F_DEVICE_OBJECT_Type, 3); /* IO_TYPE_DEVICE */
	set(k, d, KH_F_DEVICE_OBJECT_DriverObject, driver);
	return d;
}

static uint32_t irp_size(const fg_kernel *k)
{
	return struct_size(k, KH_S_IRP, k->x86 ? 0x70 : 0xd0);
}

uint64_t fg_kernel_irp_location(const fg_kernel *k, uint64_t irp, int index)
{
	return irp + irp_size(k) + (uint64_t)(index - 1) * struct_size(k, KH_S_IO_STACK_LOCATION, k->x86 ? 0x24 : 0x48);
}

uint64_t fg_kernel_new_irp(fg_kernel *k, uint64_t thread, int stack_count, int current)
{
	uint32_t n = stack_count > 0 ? (uint32_t)stack_count : 1;
	uint64_t irp = fg_kernel_alloc(k, irp_size(k) + n * struct_size(k, KH_S_IO_STACK_LOCATION, k->x86 ? 0x24 : 0x48));
	set(k, irp, KH_F_IRP_Type, 6); /* IO_TYPE_IRP */
	set(k, irp, KH_F_IRP_Size, irp_size(k) + n * struct_size(k, KH_S_IO_STACK_LOCATION, k->x86 ? 0x24 : 0x48));
	set(k, irp, KH_F_IRP_StackCount, (uint8_t)stack_count);
	set(k, irp, KH_F_IRP_CurrentLocation, (uint8_t)current);
	set(k, irp, KH_F_IRP_CurrentStackLocation, fg_kernel_irp_location(k, irp, current));
	set(k, irp, KH_F_IRP_Thread, thread);
	return irp;
}

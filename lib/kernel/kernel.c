/*
 * Kernel discovery: KDBG (decoded when stored encoded), kernel image and PDB
 * identity, layout choice and validation, kernel globals and time.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "kernel.h"
#include "dump/triage.h"

#define KDBG_TAG 0x4742444Bu /* 'KDBG' */
#define KDBG_KERNBASE 0x18
#define KDBG_PSLOADEDMODULELIST 0x48
#define KDBG_PSACTIVEPROCESSHEAD 0x50
#define KDBG_EXPSYSTEMRESOURCESLIST 0x60
#define KDBG_MMAVAILABLEPAGES 0x1A8
#define KDBG_KIPROCESSORBLOCK 0x218
#define KDBG_MIN_SIZE 0x220
#define KUSD_X64 0xFFFFF78000000000ull
#define KUSD_X86 0xFFDF0000ull
#define KUSD_TICKMULT 0x4
#define KUSD_TICKCOUNT 0x320
#define MAX_CPUS_CHECKED 4096u
#define MAX_CANDIDATES 16

/* ---- field access ---------------------------------------------------------- */

uint64_t kh_field_addr(const kh_layout *l, uint64_t struct_va, kh_field_id id)
{
	const kh_field *f = kh_layout_field(l, id);
	return kh_field_present(f) ? struct_va + f->offset : 0;
}

int kh_read_field(khang_source *src, uint64_t dtb, uint64_t struct_va, const kh_layout *l, kh_field_id id,
                  uint64_t *out)
{
	const kh_field *f = kh_layout_field(l, id);
	uint8_t b[8];

	if (!kh_field_present(f))
		return kh_error(KHANG_ENOTFOUND, "field %s is not in this layout", kh_field_name(id));
	if (f->size == 0 || f->size > 8 ||
	    (f->kind != KH_FK_INT && f->kind != KH_FK_POINTER && f->kind != KH_FK_ENUM && f->kind != KH_FK_BITFIELD))
		return kh_error(KHANG_EINVAL, "field %s is not an integer", kh_field_name(id));
	int rc = kh_vread(src, dtb, struct_va + f->offset, b, f->size);
	if (rc < 0)
		return kh_error_context(rc, "%s of 0x%llx", kh_field_name(id), (unsigned long long)struct_va);
	uint64_t v = 0;
	for (uint32_t i = 0; i < f->size; i++)
		v |= (uint64_t)b[i] << (8 * i);
	if (f->kind == KH_FK_BITFIELD) {
		v >>= f->bit_pos;
		if (f->bit_len < 64)
			v &= (1ull << f->bit_len) - 1;
	}
	if (f->kind == KH_FK_POINTER && kh_ptr_size(src) == 4)
		v &= 0xFFFFFFFFull;
	*out = v;
	return 0;
}

/* ---- bounded list walks ----------------------------------------------------- */

int kh_walk_list(khang_source *src, uint64_t head, kh_list_visit_fn visit, void *payload, uint32_t *out_count,
                 bool *out_broken)
{
	kh_addrset seen;
	uint64_t entry;
	uint32_t count = 0;
	bool broken = false;
	int rc;

	kh_addrset_init(&seen, &src->alloc);
	rc = kh_vread_ptr(src, 0, head, &entry);
	if (rc < 0) {
		broken = true;
		rc = 0;
		goto out;
	}
	if (entry == 0) /* a LIST_ENTRY never initialised: empty */
		goto out;
	while (entry != head) {
		if (entry == 0 || count >= src->max_list) {
			broken = true;
			break;
		}
		int added = kh_addrset_add(&seen, entry);
		if (added < 0) {
			rc = added;
			goto out;
		}
		if (added == 0) { /* a cycle that does not pass through the head */
			broken = true;
			break;
		}
		count++;
		rc = visit(entry, payload);
		if (rc < 0)
			goto out;
		if (rc == 1) {
			rc = 0;
			break;
		}
		uint64_t next;
		if (kh_vread_ptr(src, 0, entry, &next) < 0) {
			broken = true;
			break;
		}
		entry = next;
	}
	rc = 0;
out:
	kh_addrset_free(&seen);
	if (out_count)
		*out_count = count;
	if (out_broken)
		*out_broken = broken;
	return rc;
}

/* ---- KDBG --------------------------------------------------------------------- */

static uint64_t rotl64(uint64_t v, unsigned n)
{
	n &= 63;
	return n ? (v << n) | (v >> (64 - n)) : v;
}

static uint64_t bswap64(uint64_t v)
{
	uint64_t r = 0;
	for (int i = 0; i < 8; i++)
		r |= ((v >> (8 * i)) & 0xFF) << (56 - 8 * i);
	return r;
}

/* Windows 8+ x64 stores the block encoded in memory: each 64-bit word w is
 * kept as bswap(rotl(w_plain ^ ...)). Decoding, per 64-bit word:
 * w = rotl(w ^ KiWaitNever, KiWaitNever & 0xFF) ^ block; w = bswap(w) ^ KiWaitAlways. */
static void kdbg_decode(uint8_t *buf, size_t len, uint64_t never, uint64_t always, uint64_t block)
{
	for (size_t i = 0; i + 8 <= len; i += 8) {
		uint64_t w = kh_le64(buf + i);
		w = rotl64(w ^ never, (unsigned)(never & 0xFF)) ^ block;
		w = bswap64(w) ^ always;
		kh_put_le64(buf + i, w);
	}
}

static uint64_t kdbg_u64(const kh_kernel *k, size_t off, bool x86)
{
	if (!k->info.kdbg_valid || off + 8 > k->kdbg_len)
		return 0;
	uint64_t v = kh_le64(k->kdbg + off);
	return x86 ? v & 0xFFFFFFFFull : v;
}

/* Read the block as stored; sets kdbg_valid if the tag is there. */
static void read_kdbg(khang_source *src, kh_kernel *k)
{
	uint64_t va = src->info.kd_debugger_data_block;
	k->info.kdbg_address = va;
	if (!va)
		return;
	uint8_t h[0x18];
	if (kh_vread(src, 0, va, h, sizeof(h)) < 0) {
		kh_source_warn(src, "KDBG at 0x%llx is not readable", (unsigned long long)va);
		return;
	}
	uint32_t len = KH_KDBG_MAX;
	if (kh_le32(h + 0x10) == KDBG_TAG) {
		uint32_t size = kh_le32(h + 0x14);
		if (size >= KDBG_MIN_SIZE && size < len)
			len = size;
	}
	/* read what is readable of the block (its tail may cross into a missing page) */
	size_t got = 0;
	while (got < len) {
		size_t chunk = KH_MIN((size_t)len - got, (size_t)(0x1000 - ((va + got) & 0xFFF)));
		if (kh_vread(src, 0, va + got, k->kdbg + got, chunk) < 0)
			break;
		got += chunk;
	}
	k->kdbg_len = (uint32_t)got;
	k->info.kdbg_valid = got >= KDBG_MIN_SIZE && kh_le32(k->kdbg + 0x10) == KDBG_TAG;
}

/* Decode an encoded block with a layout's KiWaitNever/KiWaitAlways. */
static bool try_decode_kdbg(khang_source *src, kh_kernel *k, const kh_layout *l)
{
	uint32_t rn = kh_layout_global_rva(l, KH_G_KiWaitNever), ra = kh_layout_global_rva(l, KH_G_KiWaitAlways);
	uint64_t never, always;
	if (!rn || !ra || !k->info.base || k->kdbg_len < KDBG_MIN_SIZE)
		return false;
	if (kh_vread_u64(src, 0, k->info.base + rn, &never) < 0 || kh_vread_u64(src, 0, k->info.base + ra, &always) < 0)
		return false;
	uint8_t tmp[KH_KDBG_MAX];
	memcpy(tmp, k->kdbg, k->kdbg_len);
	kdbg_decode(tmp, k->kdbg_len, never, always, k->info.kdbg_address);
	if (kh_le32(tmp + 0x10) != KDBG_TAG)
		return false;
	memcpy(k->kdbg, tmp, k->kdbg_len);
	uint32_t size = kh_le32(k->kdbg + 0x14);
	if (size >= KDBG_MIN_SIZE && size < k->kdbg_len)
		k->kdbg_len = size;
	k->info.kdbg_valid = 1;
	k->info.kdbg_was_encoded = 1;
	return true;
}

/* ---- kernel image ------------------------------------------------------------- */

typedef struct image_ctx {
	khang_source *src;
	uint64_t base;
} image_ctx;

static int image_read(void *ctx, uint32_t rva, void *buf, size_t len)
{
	image_ctx *c = ctx;
	return kh_vread(c->src, 0, c->base + rva, buf, len);
}

/* Base from the first entry of PsLoadedModuleList (the kernel itself). */
static uint64_t base_from_module_list(khang_source *src, uint64_t head)
{
	uint64_t first, base;
	unsigned off = src->info.arch == KHANG_ARCH_X86 ? 0x18 : 0x30; /* DllBase: the same on every build */
	if (!head || kh_vread_ptr(src, 0, head, &first) < 0 || first == head || !first)
		return 0;
	if (kh_vread_ptr(src, 0, first + off, &base) < 0)
		return 0;
	return base;
}

static void read_kernel_image(khang_source *src, kh_kernel *k)
{
	kh_pe pe;
	image_ctx ctx = { src, k->info.base };
	kh_pe_codeview cv;

	if (!k->info.base)
		return;
	if (kh_pe_open(&pe, &src->alloc, image_read, &ctx, false) < 0) {
		kh_source_warn(src, "kernel image at 0x%llx: %s", (unsigned long long)k->info.base, khang_error_last());
		return;
	}
	k->info.image_size = pe.size_of_image;
	if (kh_pe_codeview_info(&pe, &cv) == 0) {
		k->info.has_pdb = 1;
		kh_copy_str(k->info.pdb_name, sizeof(k->info.pdb_name), cv.pdb_name);
		kh_pe_guid_string(cv.guid, cv.age, k->info.pdb_id, sizeof(k->info.pdb_id));
		k->layout = kh_layout_builtin_by_guid(cv.guid, cv.age); /* candidate, validated later */
	} else {
		kh_source_warn(src, "kernel image at 0x%llx: no CodeView record (%s)", (unsigned long long)k->info.base,
		               khang_error_last());
	}
	kh_pe_close(&pe);
}

/* ---- globals ------------------------------------------------------------------ */

static const struct {
	kh_global_id id;
	uint32_t kdbg_off;
} kdbg_globals[] = {
	{ KH_G_PsLoadedModuleList, KDBG_PSLOADEDMODULELIST },
	{ KH_G_PsActiveProcessHead, KDBG_PSACTIVEPROCESSHEAD },
	{ KH_G_ExpSystemResourcesList, KDBG_EXPSYSTEMRESOURCESLIST },
	{ KH_G_MmAvailablePages, KDBG_MMAVAILABLEPAGES },
	{ KH_G_MmNumberOfPhysicalPages, 0xF8 },
	{ KH_G_KiProcessorBlock, KDBG_KIPROCESSORBLOCK },
	{ KH_G_MmUnloadedDrivers, 0x220 },
	{ KH_G_MmLastUnloadedDriver, 0x228 },
};

static uint64_t global_with(const kh_kernel *k, const kh_layout *l, kh_global_id id, bool x86)
{
	if (l && k->info.base) {
		uint32_t rva = kh_layout_global_rva(l, id);
		if (rva)
			return k->info.base + rva;
	}
	for (size_t i = 0; i < KH_ARRAY_SIZE(kdbg_globals); i++)
		if (kdbg_globals[i].id == id)
			return kdbg_u64(k, kdbg_globals[i].kdbg_off, x86);
	return 0;
}

uint64_t kh_kernel_global(const kh_kernel *k, kh_global_id id)
{
	return global_with(k, k->layout, id, k->x86);
}

/* ---- validation ------------------------------------------------------------------ */

typedef struct vstate {
	khang_source *src;
	const kh_layout *l;
	kh_addrset *procs;
	unsigned passed;
	unsigned skipped;
	bool failed;
	char note[200];
} vstate;

static void vfail(vstate *v, const char *fmt, ...) KH_PRINTF(2, 3);
static void vfail(vstate *v, const char *fmt, ...)
{
	va_list ap;
	if (v->failed)
		return;
	v->failed = true;
	va_start(ap, fmt);
	vsnprintf(v->note, sizeof(v->note), fmt, ap);
	va_end(ap);
}

static bool vfield(vstate *v, uint64_t va, kh_field_id id, uint64_t *out)
{
	if (kh_read_field(v->src, 0, va, v->l, id, out) < 0) {
		v->skipped++;
		return false;
	}
	return true;
}

static int collect_process(uint64_t entry, void *payload)
{
	vstate *v = payload;
	uint32_t off = kh_layout_offset(v->l, KH_F_EPROCESS_ActiveProcessLinks);
	int rc = kh_addrset_add(v->procs, entry - off);
	return rc < 0 ? rc : 0;
}

/* Validate layout l against the dump. Returns KHANG_CHECK_PASSED / PARTIAL /
 * FAILED; the note says which check failed or what was skipped. */
static khang_layout_check validate(khang_source *src, kh_kernel *k, const kh_layout *l, char *note, size_t notelen)
{
	bool x86 = src->info.arch == KHANG_ARCH_X86;
	unsigned ps = kh_ptr_size(src);
	kh_addrset procs;
	kh_addrset_init(&procs, &src->alloc);
	vstate v = { src, l, &procs, 0, 0, false, "" };

	uint64_t kpb = global_with(k, l, KH_G_KiProcessorBlock, x86);
	uint64_t head = global_with(k, l, KH_G_PsActiveProcessHead, x86);
	if (!head)
		head = src->info.ps_active_process_head;
	uint32_t ncpu = src->info.processors ? src->info.processors : 1;
	if (ncpu > MAX_CPUS_CHECKED)
		ncpu = MAX_CPUS_CHECKED;
	uint32_t off_prcb = kh_layout_offset(l, KH_F_KPCR_Prcb);
	uint32_t off_apl = kh_layout_offset(l, KH_F_EPROCESS_ActiveProcessLinks);
	if (off_prcb == KH_LAYOUT_NO_OFFSET || off_apl == KH_LAYOUT_NO_OFFSET ||
	    !kh_layout_has(l, KH_F_KPRCB_Number) || !kh_layout_has(l, KH_F_KTHREAD_Process)) {
		snprintf(note, notelen, "layout lacks the KPCR/KPRCB/EPROCESS/KTHREAD fields needed to validate it");
		return KHANG_CHECK_FAILED;
	}

	/* 0. the layout's symbol RVAs agree with the header's addresses */
	if (k->info.base) {
		static const struct {
			kh_global_id id;
			size_t hdr;
		} pairs[] = {
			{ KH_G_PsActiveProcessHead, offsetof(khang_source_info, ps_active_process_head) },
			{ KH_G_PsLoadedModuleList, offsetof(khang_source_info, ps_loaded_module_list) },
			{ KH_G_KdDebuggerDataBlock, offsetof(khang_source_info, kd_debugger_data_block) },
		};
		for (size_t i = 0; i < KH_ARRAY_SIZE(pairs) && !v.failed; i++) {
			uint32_t rva = kh_layout_global_rva(l, pairs[i].id);
			uint64_t hv;
			memcpy(&hv, (const uint8_t *)&src->info + pairs[i].hdr, sizeof(hv));
			if (!rva || !hv)
				continue;
			if (k->info.base + rva != hv)
				vfail(&v, "%s: the layout puts it at 0x%llx, the dump header at 0x%llx", kh_global_name(pairs[i].id),
				      (unsigned long long)(k->info.base + rva), (unsigned long long)hv);
			else
				v.passed++;
		}
	}

	/* 1. processors: KPCR self pointers and KPRCB numbers */
	uint64_t cur_threads[64], idle_threads[64];
	uint32_t nthreads = 0;
	if (!kpb) {
		v.skipped++;
	} else {
		for (uint32_t i = 0; i < ncpu && !v.failed; i++) {
			uint64_t prcb, self, curprcb, num;
			if (kh_vread_ptr(src, 0, kpb + (uint64_t)i * ps, &prcb) < 0) {
				v.skipped++;
				continue;
			}
			if (!prcb) {
				if (i == 0)
					vfail(&v, "KiProcessorBlock[0] is NULL");
				continue;
			}
			uint64_t kpcr = prcb - off_prcb;
			if (vfield(&v, kpcr, KH_F_KPCR_Self, &self) && self != kpcr)
				vfail(&v, "CPU %u: KPCR.Self is 0x%llx, want 0x%llx", i, (unsigned long long)self,
				      (unsigned long long)kpcr);
			else if (vfield(&v, kpcr, KH_F_KPCR_CurrentPrcb, &curprcb) && curprcb != prcb)
				vfail(&v, "CPU %u: KPCR.CurrentPrcb is 0x%llx, want 0x%llx", i, (unsigned long long)curprcb,
				      (unsigned long long)prcb);
			else if (vfield(&v, prcb, KH_F_KPRCB_Number, &num) && num != i)
				vfail(&v, "CPU %u: KPRCB.Number is %llu", i, (unsigned long long)num);
			else
				v.passed++;
			uint64_t ct, it;
			if (nthreads < KH_ARRAY_SIZE(cur_threads) && vfield(&v, prcb, KH_F_KPRCB_CurrentThread, &ct) &&
			    vfield(&v, prcb, KH_F_KPRCB_IdleThread, &it)) {
				cur_threads[nthreads] = ct;
				idle_threads[nthreads] = it;
				nthreads++;
			}
		}
	}

	/* 1b. each idle thread is a thread object (dispatcher type 6) whose
	 *     KTHREAD.Process is a process object (type 3): KTHREAD.Process
	 *     moves between builds, so this tells layouts apart */
	for (uint32_t i = 0; i < nthreads && i < 8 && !v.failed; i++) {
		uint8_t t6, t3;
		uint64_t proc;
		if (!idle_threads[i] || kh_vread(src, 0, idle_threads[i], &t6, 1) < 0) {
			v.skipped++;
			continue;
		}
		if (t6 != 6) {
			vfail(&v, "CPU %u: idle thread 0x%llx has dispatcher type %u (want 6, thread)", i,
			      (unsigned long long)idle_threads[i], t6);
			break;
		}
		if (!vfield(&v, idle_threads[i], KH_F_KTHREAD_Process, &proc))
			continue;
		if (kh_vread(src, 0, proc, &t3, 1) < 0) {
			vfail(&v, "CPU %u: idle thread's KTHREAD.Process 0x%llx is not readable", i, (unsigned long long)proc);
			break;
		}
		if (t3 != 3)
			vfail(&v, "CPU %u: idle thread's KTHREAD.Process 0x%llx has dispatcher type %u (want 3, process)", i,
			      (unsigned long long)proc, t3);
		else
			v.passed++;
	}

	/* 2. the active process list: System first (PID 4 and its image name,
	 *    which moves between builds), its thread list links back */
	uint64_t first = 0;
	if (!v.failed && head && kh_vread_ptr(src, 0, head, &first) == 0 && first && first != head) {
		uint64_t sys = first - off_apl, pid, blink;
		if (vfield(&v, sys, KH_F_EPROCESS_UniqueProcessId, &pid)) {
			if (pid != 4)
				vfail(&v, "first process 0x%llx has PID %llu (want 4, System)", (unsigned long long)sys,
				      (unsigned long long)pid);
			else
				v.passed++;
		}
		uint64_t name_at = kh_field_addr(l, sys, KH_F_EPROCESS_ImageFileName);
		char name[8];
		if (!v.failed && name_at && kh_vread(src, 0, name_at, name, 7) == 0) {
			if (memcmp(name, "System", 7) != 0)
				vfail(&v, "first process 0x%llx: ImageFileName is not \"System\"", (unsigned long long)sys);
			else
				v.passed++;
		} else if (!v.failed) {
			v.skipped++;
		}
		if (kh_vread_ptr(src, 0, first + ps, &blink) == 0 && blink != head)
			vfail(&v, "first ActiveProcessLinks.Blink is 0x%llx, want the head 0x%llx", (unsigned long long)blink,
			      (unsigned long long)head);
		uint64_t tlh = kh_field_addr(l, sys, KH_F_EPROCESS_ThreadListHead);
		uint32_t off_tle = kh_layout_offset(l, KH_F_ETHREAD_ThreadListEntry);
		uint64_t t0;
		if (!v.failed && tlh && off_tle != KH_LAYOUT_NO_OFFSET && kh_vread_ptr(src, 0, tlh, &t0) == 0 && t0 &&
		    t0 != tlh) {
			uint64_t thread = t0 - off_tle, owner, tb;
			if (kh_vread_ptr(src, 0, t0 + ps, &tb) == 0 && tb != tlh)
				vfail(&v, "System's first ThreadListEntry.Blink is 0x%llx, want 0x%llx", (unsigned long long)tb,
				      (unsigned long long)tlh);
			else if (vfield(&v, thread, KH_F_KTHREAD_Process, &owner) && owner != sys)
				vfail(&v, "System's first thread 0x%llx names process 0x%llx", (unsigned long long)thread,
				      (unsigned long long)owner);
			else
				v.passed++;
		} else {
			v.skipped++;
		}
	} else if (!v.failed) {
		v.skipped++;
	}

	/* 3. each CPU's current thread belongs to a process on the active list
	 *    (or is the idle thread) */
	if (!v.failed && head && nthreads) {
		uint32_t n;
		bool broken;
		int rc = kh_walk_list(src, head, collect_process, &v, &n, &broken);
		if (rc < 0) {
			kh_addrset_free(&procs);
			snprintf(note, notelen, "%s", khang_error_last());
			return KHANG_CHECK_FAILED;
		}
		for (uint32_t i = 0; i < nthreads && !v.failed; i++) {
			uint64_t owner;
			if (cur_threads[i] == idle_threads[i] || !cur_threads[i])
				continue;
			if (!vfield(&v, cur_threads[i], KH_F_KTHREAD_Process, &owner))
				continue;
			if (!kh_addrset_has(&procs, owner) && !broken)
				vfail(&v, "CPU %u: current thread 0x%llx names process 0x%llx, not on the active list", i,
				      (unsigned long long)cur_threads[i], (unsigned long long)owner);
			else
				v.passed++;
		}
	}
	kh_addrset_free(&procs);

	if (v.failed) {
		snprintf(note, notelen, "%s", v.note);
		return KHANG_CHECK_FAILED;
	}
	if (!v.passed) {
		snprintf(note, notelen, "no check could run (the structures' pages are not in the dump)");
		return KHANG_CHECK_FAILED;
	}
	if (v.skipped) {
		snprintf(note, notelen, "%u checks passed, %u could not run (pages missing)", v.passed, v.skipped);
		return KHANG_CHECK_PARTIAL;
	}
	snprintf(note, notelen, "%u checks passed", v.passed);
	return KHANG_CHECK_PASSED;
}

/* ---- discovery ---------------------------------------------------------------------- */

static const char *match_name(kh_layout_match m)
{
	switch (m) {
	case KH_MATCH_EXACT_BUILD: return "same build";
	case KH_MATCH_SAME_KERNEL: return "same kernel build";
	case KH_MATCH_OTHER_PAE: return "same build, other PAE mode";
	default: return "nearest build";
	}
}

/* Use layout l; note says what validation found. */
static void use_layout(kh_kernel *k, const kh_layout *l, khang_layout_check check, const char *why,
                       const char *note)
{
	kh_layout_info li;
	kh_layout_get_info(l, &li);
	k->layout = l;
	k->info.layout = l;
	k->info.check = check;
	snprintf(k->info.layout_note, sizeof(k->info.layout_note), "%.60s (%.90s): %.100s", li.description, why, note);
}

static void choose_layout(khang_source *src, kh_kernel *k)
{
	char note[200];
	const kh_layout *exact = k->layout;
	khang_layout_check c;

	k->layout = NULL;
	/* 1. the caller's layout: used even if a check fails, but said so */
	if (src->user_layout) {
		const kh_layout *l = (const kh_layout *)src->user_layout;
		if (!k->info.kdbg_valid)
			try_decode_kdbg(src, k, l);
		c = validate(src, k, l, note, sizeof(note));
		use_layout(k, l, c, "given by the caller", note);
		if (c == KHANG_CHECK_FAILED)
			kh_source_warn(src, "the caller's layout failed validation: %s", note);
		return;
	}
	/* 2. the exact kernel */
	if (exact) {
		if (!k->info.kdbg_valid)
			try_decode_kdbg(src, k, exact);
		c = validate(src, k, exact, note, sizeof(note));
		if (c != KHANG_CHECK_FAILED) {
			use_layout(k, exact, c, "built in, exact kernel GUID", note);
			return;
		}
		kh_source_warn(src, "built-in layout for kernel %s failed validation: %s", k->info.pdb_id, note);
	}
	/* 3. by build, first candidate that validates */
	kh_layout_candidate cands[MAX_CANDIDATES];
	size_t n = kh_layout_builtin_candidates(src->info.arch, src->info.build, src->info.pae, cands, MAX_CANDIDATES);
	if (n > MAX_CANDIDATES)
		n = MAX_CANDIDATES;
	char first_fail[200] = "";
	for (size_t i = 0; i < n; i++) {
		kh_layout_info li;
		kh_layout_get_info(cands[i].layout, &li);
		if (li.partial)
			continue; /* partial tables cannot be validated as a whole */
		c = validate(src, k, cands[i].layout, note, sizeof(note));
		if (c != KHANG_CHECK_FAILED) {
			char why[96];
			snprintf(why, sizeof(why), "built in, by build: %s, approximate", match_name(cands[i].match));
			use_layout(k, cands[i].layout, c, why, note);
			if (src->info.arch == KHANG_ARCH_X64)
				kh_source_warn(src, "kernel %s has no built-in exact layout: using %s (%s)",
				               k->info.has_pdb ? k->info.pdb_id : "(unknown GUID)", li.description,
				               match_name(cands[i].match));
			return;
		}
		if (!first_fail[0])
			snprintf(first_fail, sizeof(first_fail), "%.60s: %.130s", li.description, note);
	}
	k->info.check = KHANG_CHECK_NONE;
	snprintf(k->info.layout_note, sizeof(k->info.layout_note), "no layout fits this kernel (build %u)%s%.200s",
	         src->info.build, first_fail[0] ? "; " : "", first_fail);
	kh_source_warn(src, "limited mode: %s", k->info.layout_note);
}

static void read_time(khang_source *src, kh_kernel *k)
{
	uint64_t kusd = src->info.arch == KHANG_ARCH_X86 ? KUSD_X86 : KUSD_X64;
	uint32_t mult, lo, hi;
	if (kh_vread_u32(src, 0, kusd + KUSD_TICKMULT, &mult) == 0 &&
	    kh_vread_u32(src, 0, kusd + KUSD_TICKCOUNT, &lo) == 0 &&
	    kh_vread_u32(src, 0, kusd + KUSD_TICKCOUNT + 4, &hi) == 0 && mult) {
		k->info.tick_multiplier = mult;
		k->info.tick_count = (uint64_t)hi << 32 | lo;
	} else {
		kh_source_warn(src, "KUSER_SHARED_DATA is not readable: wait times are unknown");
	}
	uint64_t ti = 0;
	if (k->layout && k->info.base && kh_layout_global_rva(k->layout, KH_G_KeTimeIncrement)) {
		uint32_t v;
		if (kh_vread_u32(src, 0, k->info.base + kh_layout_global_rva(k->layout, KH_G_KeTimeIncrement), &v) == 0)
			ti = v;
	}
	if (!ti && k->info.kdbg_valid) {
		/* KDBG +0x78 holds the address of KeTimeIncrement */
		uint64_t at = kdbg_u64(k, 0x78, k->x86);
		uint32_t v;
		if (at && kh_vread_u32(src, 0, at, &v) == 0)
			ti = v;
	}
	k->info.time_increment = (uint32_t)ti;
}

static int discover(khang_source *src, kh_kernel *k)
{
	bool x86 = src->info.arch == KHANG_ARCH_X86;

	if (src->info.arch != KHANG_ARCH_X64 && src->info.arch != KHANG_ARCH_X86)
		return kh_error(KHANG_EUNSUPPORTED, "kernel discovery: %s dumps are not supported",
		                khang_arch_name(src->info.arch));
	if (src->index.kind == KH_INDEX_NONE && !src->triage)
		return kh_error(KHANG_EUNSUPPORTED, "kernel discovery: this %s dump holds no kernel address space",
		                khang_dump_type_name(src->info.dump_type));
	if (src->user_layout && !kh_layout_valid((const kh_layout *)src->user_layout))
		return kh_error(KHANG_EINVAL, "kernel discovery: the layout in the options is not a valid handle");

	k->info.size = sizeof(k->info);
	k->x86 = x86;
	read_kdbg(src, k);
	if (k->info.kdbg_valid)
		k->info.base = kdbg_u64(k, KDBG_KERNBASE, x86);
	uint64_t mlist = src->info.ps_loaded_module_list;
	if (!k->info.base)
		k->info.base = base_from_module_list(src, mlist);
	read_kernel_image(src, k);
	choose_layout(src, k);
	if (!k->info.kdbg_valid && k->info.kdbg_address)
		kh_source_warn(src, "KDBG at 0x%llx could not be read or decoded", (unsigned long long)k->info.kdbg_address);

	k->ps_loaded_module_list = global_with(k, k->layout, KH_G_PsLoadedModuleList, x86);
	if (!k->ps_loaded_module_list)
		k->ps_loaded_module_list = mlist;
	k->ps_active_process_head = global_with(k, k->layout, KH_G_PsActiveProcessHead, x86);
	if (!k->ps_active_process_head)
		k->ps_active_process_head = src->info.ps_active_process_head;
	k->ki_processor_block = global_with(k, k->layout, KH_G_KiProcessorBlock, x86);
	k->exp_system_resources_list = global_with(k, k->layout, KH_G_ExpSystemResourcesList, x86);
	k->mm_available_pages = global_with(k, k->layout, KH_G_MmAvailablePages, x86);
	k->alpcp_port_list = global_with(k, k->layout, KH_G_AlpcpPortList, x86);
	k->info.ki_processor_block = k->ki_processor_block;
	k->info.ps_active_process_head = k->ps_active_process_head;
	k->info.ps_loaded_module_list = k->ps_loaded_module_list;
	k->info.processors = src->info.processors;
	/* triage: the process copy's address is the current thread's Process */
	if (src->triage && k->layout && src->triage->copies[KH_TRIAGE_THREAD].len) {
		uint64_t proc;
		if (kh_read_field(src, 0, src->triage->copies[KH_TRIAGE_THREAD].va, k->layout, KH_F_KTHREAD_Process, &proc) == 0)
			kh_triage_place(src, KH_TRIAGE_PROCESS, proc);
	}
	read_time(src, k);
	return 0;
}

int kh_kernel_get(khang_source *src, kh_kernel **out)
{
	*out = NULL;
	if (!src->kernel) {
		kh_kernel *k = kh_calloc(&src->alloc, 1, sizeof(*k));
		if (!k)
			return KHANG_ENOMEM;
		src->kernel = k;
		k->status = discover(src, k);
		if (k->status < 0) {
			kh_copy_str(k->status_msg, sizeof(k->status_msg), khang_error_last());
			kh_source_warn(src, "%s", k->status_msg);
		}
	}
	if (src->kernel->status < 0)
		return kh_error(src->kernel->status, "%s", src->kernel->status_msg);
	*out = src->kernel;
	return 0;
}

void kh_kernel_free(khang_source *src)
{
	kh_kernel *k = src->kernel;
	if (!k)
		return;
	for (size_t i = 0; i < k->nmodules; i++)
		kh_module_release(src, &k->modules[i]);
	kh_free(&src->alloc, k->modules);
	kh_free(&src->alloc, k->by_base);
	kh_free(&src->alloc, k->unloaded);
	kh_free(&src->alloc, k);
	src->kernel = NULL;
}

/* ---- public ------------------------------------------------------------------------- */

KHANG_API int khang_source_kernel_info(khang_kernel_info *out, khang_source *src)
{
	kh_kernel *k;
	if (!out || !kh_source_ok(src) || out->size < offsetof(khang_kernel_info, image_size))
		return kh_error(KHANG_EINVAL, "khang_source_kernel_info: NULL or invalid argument (set out->size)");
	int rc = kh_kernel_get(src, &k);
	if (rc < 0)
		return rc;
	size_t n = KH_MIN(out->size, sizeof(k->info));
	khang_kernel_info tmp = k->info;
	tmp.size = n;
	memcpy(out, &tmp, n);
	return 0;
}

KHANG_API int64_t khang_source_ticks_to_ms(khang_source *src, uint32_t tick)
{
	kh_kernel *k;
	if (!kh_source_ok(src) || kh_kernel_get(src, &k) < 0 || !k->info.tick_multiplier)
		return -1;
	uint32_t delta = (uint32_t)k->info.tick_count - tick;
	return (int64_t)(((uint64_t)delta * k->info.tick_multiplier) >> 24);
}

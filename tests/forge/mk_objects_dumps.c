/* Writes the dumps the khang CLI's golden tests read (tests/golden):
 *   x64_19041.dmp   the fg_sample kernel, Windows 10 2004 x64 (bitmap kernel dump),
 *                   plus an IRP_MJ_READ pending in disk.sys on the thread
 *                   with IRPs (for khang irp) and processor 1 inside a DPC
 *                   routine of disk.sys
 *   x64_7601.dmp    the same on Windows 7 SP1 x64 (wait blocks chained; bitmap full
 *                   dump), without the extra IRP
 *   x86pae_7601.dmp the same on Windows 7 SP1 x86 PAE, with the extra IRP
 *   damaged.dmp     19041 with a cyclic thread list, a thread whose Process
 *                   pointer is garbage, a KPRCB page missing and a wait block
 *                   count out of range
 *   limited.dmp     a kernel no layout fits (limited mode)
 * usage: mk_objects_dumps DIR */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fg_sample.h"

static const kh_layout *guid_layout(uint32_t build)
{
	for (size_t i = 0; i < kh_layout_builtin_count(); i++) {
		const kh_layout *l = kh_layout_builtin_at(i);
		kh_layout_info li;
		kh_layout_get_info(l, &li);
		if (li.source == KH_LAYOUT_BUILTIN_GUID && li.build == build)
			return l;
	}
	return NULL;
}

static int write_sample(const char *dir, const char *name, fg_sample *s, fg_format fmt)
{
	char path[1024];
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	int rc = fg_sample_write_file(s, fmt, path);
	if (rc)
		fprintf(stderr, "%s: %s\n", path, fg_error(s->f));
	fg_sample_free(s);
	return rc != 0;
}

static void put_ptr(fg_sample *s, uint64_t va, uint64_t v)
{
	if (fg_write_ptr(s->f, fg_kernel_dtb(s->f), va, v) != 0)
		abort();
}

/* Processor 1 inside a DPC routine of disk.sys (fg_sample_add_irp's module):
 * KPRCB.DpcRoutineActive and CurrentDpcRoutine (builds that have it). */
static fg_sample *in_dpc(fg_sample *s)
{
	uint64_t prcb = fg_kernel_prcb(s->k, 1), routine = fg_kernel_base(s->k) + 0x5100040;
	fg_kernel_set(s->k, prcb, KH_F_KPRCB_DpcRoutineActive, 1);
	fg_kernel_set(s->k, prcb, KH_F_KPRCB_CurrentDpcRoutine, routine);
	return s;
}

static fg_sample *damaged(const kh_layout *l)
{
	fg_sample *s = fg_sample_new(l, 4);
	const fg_sample_process *ex = &s->procs[s->explorer];
	/* both of explorer's thread lists loop: thread 8 -> thread 6 */
	uint32_t eoff = kh_layout_offset(l, KH_F_ETHREAD_ThreadListEntry);
	uint32_t koff = kh_layout_offset(l, KH_F_KTHREAD_ThreadListEntry);
	uint64_t t8 = s->threads[ex->first_thread + 8].va, t6 = s->threads[ex->first_thread + 6].va;
	put_ptr(s, t8 + eoff, t6 + eoff);
	put_ptr(s, t8 + koff, t6 + koff);
	/* svchost's second thread names a garbage process */
	fg_kernel_set(s->k, s->threads[s->procs[1].first_thread + 1].va, KH_F_KTHREAD_Process, 0xfffff80000000123ull);
	/* the main thread claims 200 wait blocks */
	fg_kernel_set(s->k, s->threads[s->main_thread].va, KH_F_KTHREAD_WaitBlockCount, 200);
	/* processor 3's KPRCB page is not in the dump */
	uint64_t num = s->cpus[3].kprcb + kh_layout_offset(l, KH_F_KPRCB_Number);
	fg_map(s->f, fg_kernel_dtb(s->f), num & ~0xFFFull, 0x5000000, FG_PAGE_4K, FG_MAP_NOT_PRESENT);
	return s;
}

static int write_limited(const char *dir, const kh_layout *l)
{
	char path[1024];
	fg_forge *f = fg_new(FG_X64, 8192);
	fg_kernel_opts o = { 0 };
	o.has_guid = true;
	memset(o.guid, 0x5A, 16);
	o.age = 3;
	fg_kernel *k = fg_kernel_new(f, l, &o);
	fg_kernel_set(k, fg_kernel_pcr(k, 0), KH_F_KPCR_Self, 0x1234);
	fg_write_opts wo = FG_WRITE_OPTS_INIT;
	wo.format = FG_FMT_BITMAP_KERNEL;
	wo.kernel_only = 1;
	snprintf(path, sizeof(path), "%s/limited.dmp", dir);
	int rc = fg_write_file(f, path, &wo);
	fg_kernel_free(k);
	fg_free(f);
	return rc != 0;
}

int main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: %s DIR\n", argv[0]);
		return 2;
	}
	const kh_layout *w10 = kh_layout_builtin_by_guid_string("5278AFF86C341677D7D7835C85B7B844", 1);
	const kh_layout *w7 = guid_layout(7601);
	kh_layout_candidate c[4];
	size_t n = kh_layout_builtin_candidates(KHANG_ARCH_X86, 7601, 1, c, 4);
	if (!w10 || !w7 || !n) {
		fprintf(stderr, "built-in layouts missing\n");
		return 1;
	}
	mkdir(argv[1], 0777); /* may exist */
	int bad = 0;
	bad |= write_sample(argv[1], "x64_19041.dmp", in_dpc(fg_sample_add_irp(fg_sample_new(w10, 4))), FG_FMT_BITMAP_KERNEL);
	bad |= write_sample(argv[1], "x64_7601.dmp", fg_sample_new(w7, 4), FG_FMT_BITMAP_FULL);
	bad |= write_sample(argv[1], "x86pae_7601.dmp", fg_sample_add_irp(fg_sample_new(c[0].layout, 4)), FG_FMT_BITMAP_KERNEL);
	bad |= write_sample(argv[1], "damaged.dmp", damaged(w10), FG_FMT_BITMAP_KERNEL);
	bad |= write_limited(argv[1], w7);
	return bad;
}

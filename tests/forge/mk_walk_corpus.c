/* Writes the seed corpus of fuzz/fuzz_walk: for each of its base dumps
 * (fg_sample_walk_base), the untouched dump and patches that damage what
 * the object layer walks (a looping thread list, a thread naming a garbage
 * process, a wait block chain or count, a KPRCB number, a process header, a
 * ready list, a mutant owner). Each input is "base, flags, records"; see
 * fuzz/fuzz_walk.c. usage: mk_walk_corpus DIR */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fg_sample.h"

typedef struct recipe {
	uint8_t data[256];
	size_t len;
} recipe;

static void start(recipe *r, int base, uint8_t flags)
{
	r->data[0] = (uint8_t)base;
	r->data[1] = flags;
	r->len = 2;
}

/* A record writing n bytes (1..16) of value v at kernel VA va. */
static int patch(recipe *r, fg_sample *s, uint64_t first_page, uint64_t va, uint64_t v, unsigned n)
{
	int64_t off = fg_sample_file_offset(s, FG_WALK_FORMAT, va);
	if (off < 0 || (uint64_t)off < first_page || n < 1 || n > 8 || r->len + 5 + n > sizeof(r->data))
		return -1;
	uint32_t a = (uint32_t)((uint64_t)off - first_page);
	for (int i = 0; i < 4; i++)
		r->data[r->len++] = (uint8_t)(a >> (8 * i));
	r->data[r->len++] = (uint8_t)(n - 1);
	for (unsigned i = 0; i < n; i++)
		r->data[r->len++] = (uint8_t)(v >> (8 * i));
	return 0;
}

static int save(const char *dir, const char *name, int base, const recipe *r)
{
	char path[1024];
	snprintf(path, sizeof(path), "%s/%s_%d", dir, name, base);
	FILE *f = fopen(path, "wb");
	if (!f || fwrite(r->data, 1, r->len, f) != r->len) {
		fprintf(stderr, "%s: cannot write\n", path);
		if (f)
			fclose(f);
		return 1;
	}
	return fclose(f) != 0;
}

static int field_patch(recipe *r, fg_sample *s, uint64_t fp, uint64_t va, kh_field_id id, uint64_t v)
{
	const kh_field *f = kh_layout_field(s->l, id);
	if (!kh_field_present(f) || f->kind == KH_FK_BITFIELD)
		return -1;
	return patch(r, s, fp, va + f->offset, v, f->size);
}

static int one_base(const char *dir, int i)
{
	fg_sample *s = fg_sample_walk_base(i);
	uint64_t fp;
	recipe r;
	int bad = 0;
	if (!s || fg_sample_first_page(s, FG_WALK_FORMAT, &fp) != 0)
		return 1;
	const kh_layout *l = s->l;
	unsigned ps = s->x86 ? 4 : 8;
	const fg_sample_process *ex = &s->procs[s->explorer];

	start(&r, i, 0);
	bad |= save(dir, "clean", i, &r);
	start(&r, i, 1);
	bad |= save(dir, "small_lists", i, &r);

	uint32_t eoff = kh_layout_offset(l, KH_F_ETHREAD_ThreadListEntry);
	uint32_t koff = kh_layout_offset(l, KH_F_KTHREAD_ThreadListEntry);
	uint64_t t8 = s->threads[ex->first_thread + 8].va, t6 = s->threads[ex->first_thread + 6].va;
	start(&r, i, 0);
	bad |= patch(&r, s, fp, t8 + eoff, t6 + eoff, ps) | patch(&r, s, fp, t8 + koff, t6 + koff, ps);
	bad |= save(dir, "thread_loop", i, &r);

	start(&r, i, 0);
	bad |= field_patch(&r, s, fp, s->threads[s->procs[1].first_thread + 1].va, KH_F_KTHREAD_Process,
	                   s->x86 ? 0x80000123u : 0xfffff80000000123ull);
	bad |= save(dir, "bad_process", i, &r);

	start(&r, i, 0);
	const fg_sample_thread *m = &s->threads[s->main_thread];
	if (kh_layout_has(l, KH_F_KWAIT_BLOCK_NextWaitBlock)) {
		uint64_t b1 = m->first_block + kh_layout_struct_size(l, KH_S_KWAIT_BLOCK);
		bad |= field_patch(&r, s, fp, b1, KH_F_KWAIT_BLOCK_NextWaitBlock, b1);
	} else {
		bad |= field_patch(&r, s, fp, m->va, KH_F_KTHREAD_WaitBlockCount, 200);
	}
	bad |= save(dir, "wait_damage", i, &r);

	start(&r, i, 0);
	bad |= field_patch(&r, s, fp, s->cpus[3].kprcb, KH_F_KPRCB_Number, 7);
	bad |= save(dir, "prcb_number", i, &r);

	start(&r, i, 0);
	bad |= field_patch(&r, s, fp, s->procs[1].va, KH_F_DISPATCHER_HEADER_Type, 0);
	bad |= save(dir, "process_type", i, &r);

	/* the first ready thread of CPU 0 points back at itself */
	start(&r, i, 0);
	for (unsigned t = 0; t < s->nthreads; t++)
		if (s->threads[t].ready == 0) {
			uint64_t e = s->threads[t].va + kh_layout_offset(l, KH_F_KTHREAD_WaitListEntry);
			bad |= patch(&r, s, fp, e, e, ps);
			break;
		}
	bad |= save(dir, "ready_loop", i, &r);

	start(&r, i, 0);
	for (unsigned o = 0; o < s->nobjects; o++)
		if (s->objects[o].owner)
			bad |= field_patch(&r, s, fp, s->objects[o].va, KH_F_KMUTANT_OwnerThread, s->procs[1].va);
	bad |= save(dir, "mutant_owner", i, &r);
	fg_sample_free(s);
	return bad != 0;
}

int main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: %s DIR\n", argv[0]);
		return 2;
	}
	int bad = 0;
	for (int i = 0; i < FG_WALK_BASES; i++)
		bad |= one_base(argv[1], i);
	return bad;
}

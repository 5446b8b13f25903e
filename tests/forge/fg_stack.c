/* fg_stack: thread stacks, switch frames, trap frames and modules for tests (see fg_stack.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fg_pe.h"
#include "fg_stack.h"

#define PG 0x1000u
#define MAX_MODS 64
#define MAX_FNS 256
#define MAX_DIRTY 512
#define MAX_UPROCS 16
#define KTRAP64 0x190u
#define KTRAP86 0x8Cu

_Noreturn static void die(const char *what)
{
	fprintf(stderr, "fg_stack: %s\n", what);
	abort();
}

struct fg_fn {
	fg_module *m;
	char name[64];
	uint32_t rva, size;
	uint32_t info;          /* UNWIND_INFO RVA (x64, not leaf) */
	uint8_t prolog, frame_reg, frame_off16;
	uint16_t codes[64];
	unsigned ncodes;
	fg_fn *parent;
	bool leaf, x86, ebp_frame;
	uint32_t locals;
};

typedef struct dirty {
	uint32_t rva, len;
} dirty;

struct fg_module {
	fg_stack *s;
	char name[64];
	uint64_t base;
	uint32_t text_size;
	fg_pe *pe;
	bool nt, user, placed;
	uint64_t process, dtb;
	uint32_t next_rva, next_info, info_end;
	fg_fn *fns[MAX_FNS];
	unsigned nfns;
	dirty d[MAX_DIRTY];
	unsigned nd;
	/* nt: the existing image's identity */
	uint8_t guid[16];
	uint32_t age;
	char pdb[64];
};

typedef struct uproc {
	uint64_t process, dtb, peb, ldr_head, heap;
} uproc;

struct fg_stack {
	fg_kernel *k;
	fg_forge *f;
	const kh_layout *l;
	bool x86;
	unsigned ps;
	fg_module *mods[MAX_MODS];
	unsigned nmods;
	fg_module *nt;
	uproc up[MAX_UPROCS];
	unsigned nup;
};

typedef struct cframe {
	uint64_t ip, sp;
	bool user;
	fg_fn *fn;
	int kind;              /* how the walk reaches this frame from the inner one */
	uint64_t trap;
	uint64_t ret_slot;     /* where the return address into the outer frame lies */
} cframe;

struct fg_chain {
	fg_stack *s;
	uint64_t thread;
	uint64_t ktop, ksize;
	bool user;
	uint64_t dtb;          /* user address space */
	uint64_t sp;
	uint64_t reg[16];
	uint64_t junk;
	cframe fr[FG_MAX_FRAMES];
	unsigned n;
	uint64_t kernel_stack;
};

/* ---- basics ------------------------------------------------------------------------ */

fg_stack *fg_stack_new(fg_forge *f, fg_kernel *k)
{
	fg_stack *s = calloc(1, sizeof(*s));
	if (!s)
		die("out of memory");
	s->f = f;
	s->k = k;
	s->l = fg_kernel_layout(k);
	kh_layout_info li;
	kh_layout_get_info(s->l, &li);
	s->x86 = li.arch == KHANG_ARCH_X86;
	s->ps = s->x86 ? 4 : 8;
	return s;
}

void fg_stack_free(fg_stack *s)
{
	if (!s)
		return;
	for (unsigned i = 0; i < s->nmods; i++) {
		fg_module *m = s->mods[i];
		for (unsigned j = 0; j < m->nfns; j++)
			free(m->fns[j]);
		fg_pe_free(m->pe);
		free(m);
	}
	free(s);
}

fg_kernel *fg_stack_kernel(const fg_stack *s)
{
	return s->k;
}

static fg_forge *forge(fg_stack *s)
{
	return s->f;
}

static void wr(fg_stack *s, uint64_t dtb, uint64_t va, const void *data, size_t len)
{
	if (!dtb) {
		fg_kernel_write(s->k, va, data, len);
		return;
	}
	if (fg_write_virtual(forge(s), dtb, va, data, len) != 0)
		die("user write");
}

static void wr_word(fg_stack *s, uint64_t dtb, uint64_t va, uint64_t v)
{
	uint8_t b[8];
	for (unsigned i = 0; i < 8; i++)
		b[i] = (uint8_t)(v >> (8 * i));
	wr(s, dtb, va, b, s->ps);
}

static void set_field(fg_stack *s, uint64_t va, kh_field_id id, uint64_t v)
{
	if (fg_kernel_set(s->k, va, id, v) != 0) {
		fprintf(stderr, "fg_stack: layout lacks %s\n", kh_field_name(id));
		abort();
	}
}

static uint32_t field_off(const fg_stack *s, kh_field_id id)
{
	const kh_field *fd = kh_layout_field(s->l, id);
	if (!kh_field_present(fd)) {
		fprintf(stderr, "fg_stack: layout lacks %s\n", kh_field_name(id));
		abort();
	}
	return fd->offset;
}

/* ---- modules ----------------------------------------------------------------------- */

static fg_module *new_module(fg_stack *s, const char *name, uint64_t base, uint32_t text_size)
{
	if (s->nmods >= MAX_MODS)
		die("too many modules");
	fg_module *m = calloc(1, sizeof(*m));
	if (!m)
		die("out of memory");
	m->s = s;
	snprintf(m->name, sizeof(m->name), "%s", name);
	m->base = base;
	m->text_size = (text_size + PG - 1) & ~(PG - 1);
	if (m->text_size < 2 * PG)
		m->text_size = 2 * PG;
	m->pe = fg_pe_new(!s->x86, base, m->text_size);
	if (!m->pe)
		die("fg_pe_new");
	m->next_rva = PG;
	m->info_end = PG + m->text_size;
	m->next_info = m->info_end - (m->text_size >= 0x10000 ? 0x8000 : m->text_size / 4);
	s->mods[s->nmods++] = m;
	return m;
}

fg_module *fg_stack_module(fg_stack *s, const char *name, uint64_t base, uint32_t text_size)
{
	return new_module(s, name, base, text_size);
}

uint64_t fg_module_base(const fg_module *m)
{
	return m->base;
}

static uint32_t rd32(fg_stack *s, uint64_t va)
{
	uint8_t b[4];
	if (fg_read_virtual(forge(s), fg_kernel_dtb(forge(s)), va, b, 4) != 0)
		die("read kernel image");
	return (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24;
}

fg_module *fg_stack_nt(fg_stack *s)
{
	if (s->nt)
		return s->nt;
	uint64_t base = fg_kernel_base(s->k);
	uint32_t nt_off = rd32(s, base + 0x3C);
	uint64_t opt = base + nt_off + 24;
	uint32_t size_of_image = rd32(s, opt + 0x38);
	uint32_t dirs = s->x86 ? 0x60 : 0x70;
	uint32_t dbg = rd32(s, opt + dirs + 6 * 8);
	fg_module *m = new_module(s, "ntoskrnl.exe", base, size_of_image - 2 * PG);
	m->nt = true;
	if (dbg) {
		uint32_t cv = rd32(s, base + dbg + 20);
		if (fg_read_virtual(forge(s), fg_kernel_dtb(forge(s)), base + cv + 4, m->guid, 16) != 0 ||
		    fg_read_virtual(forge(s), fg_kernel_dtb(forge(s)), base + cv + 24, m->pdb, sizeof(m->pdb) - 1) != 0)
			die("read kernel CodeView");
		m->age = rd32(s, base + cv + 20);
	}
	s->nt = m;
	return m;
}

static void mark(fg_module *m, uint32_t rva, uint32_t len)
{
	if (!m->nt)
		return;
	for (unsigned i = 0; i < m->nd; i++)
		if (m->d[i].rva == rva && m->d[i].len == len)
			return;
	if (m->nd >= MAX_DIRTY)
		die("too many writes into nt");
	m->d[m->nd].rva = rva;
	m->d[m->nd].len = len;
	m->nd++;
}

void fg_module_write(fg_module *m, uint32_t rva, const void *data, size_t len)
{
	if (fg_pe_write(m->pe, rva, data, len) != 0)
		die("fg_module_write: outside .text");
	mark(m, rva, (uint32_t)len);
}

static fg_fn *new_fn(fg_module *m, const char *name, uint32_t rva, uint32_t size)
{
	if (m->nfns >= MAX_FNS)
		die("too many functions");
	fg_fn *f = calloc(1, sizeof(*f));
	if (!f)
		die("out of memory");
	f->m = m;
	snprintf(f->name, sizeof(f->name), "%s", name);
	/* nt at an RVA of our own (layouts without function RVAs, such as the
	 * x86 by-build ones): exported, so that the dump names it */
	bool named = m->nt && rva;
	if (!rva && m->nt) {
		int id = kh_fn_lookup(name);
		uint32_t r, sz;
		if (id < 0 || !kh_layout_function(m->s->l, (kh_fn_id)id, &r, &sz)) {
			fprintf(stderr, "fg_stack: the layout has no nt!%s\n", name);
			abort();
		}
		rva = r;
		if (sz && sz < size)
			size = sz;
	}
	if (!rva) {
		rva = m->next_rva;
		m->next_rva += (size + 15) & ~15u;
	}
	if (rva < PG || rva + size > m->next_info)
		die("function outside the module's code");
	f->rva = rva;
	f->size = size;
	m->fns[m->nfns++] = f;
	if ((!m->nt || named) && fg_pe_add_export(m->pe, name, rva) != 0)
		die("export");
	return f;
}

fg_fn *fg_fn_x64(fg_module *m, const char *name, uint32_t rva, uint32_t size, uint8_t prolog, uint8_t frame_reg,
                 uint8_t frame_off16, const uint16_t *codes, unsigned ncodes, fg_fn *parent)
{
	if (ncodes > 64)
		die("too many codes");
	fg_fn *f = new_fn(m, name, rva, size);
	f->prolog = prolog;
	f->frame_reg = frame_reg;
	f->frame_off16 = frame_off16;
	memcpy(f->codes, codes, ncodes * sizeof(uint16_t));
	f->ncodes = ncodes;
	f->parent = parent;
	/* UNWIND_INFO */
	uint8_t b[4 + 2 * 64 + 12];
	memset(b, 0, sizeof(b));
	b[0] = (uint8_t)(1 | ((parent ? 4 : 0) << 3));
	b[1] = prolog;
	b[2] = (uint8_t)ncodes;
	b[3] = (uint8_t)(frame_reg | (frame_off16 << 4));
	for (unsigned i = 0; i < ncodes; i++) {
		b[4 + 2 * i] = (uint8_t)codes[i];
		b[5 + 2 * i] = (uint8_t)(codes[i] >> 8);
	}
	size_t at = 4 + 2 * (size_t)((ncodes + 1) & ~1u);
	if (parent) {
		uint32_t rf[3] = { parent->rva, parent->rva + parent->size, parent->info };
		for (unsigned i = 0; i < 3; i++)
			for (unsigned j = 0; j < 4; j++)
				b[at + 4 * i + j] = (uint8_t)(rf[i] >> (8 * j));
		at += 12;
	}
	if (m->next_info + at > m->info_end)
		die("no room for unwind info");
	f->info = m->next_info;
	fg_module_write(m, f->info, b, at);
	m->next_info += (uint32_t)((at + 15) & ~15u);
	if (fg_pe_add_runtime_function(m->pe, f->rva, f->rva + f->size, f->info) != 0)
		die("runtime function");
	return f;
}

fg_fn *fg_fn_leaf(fg_module *m, const char *name, uint32_t rva, uint32_t size)
{
	fg_fn *f = new_fn(m, name, rva, size);
	f->leaf = true;
	return f;
}

fg_fn *fg_fn_x86(fg_module *m, const char *name, uint32_t rva, uint32_t size, uint32_t locals, bool ebp_frame)
{
	fg_fn *f = new_fn(m, name, rva, size);
	f->x86 = true;
	f->locals = locals;
	f->ebp_frame = ebp_frame;
	return f;
}

uint64_t fg_fn_va(const fg_fn *f)
{
	return f->m->base + f->rva;
}

static void write_image(fg_module *m, const uint8_t *img, size_t len, uint32_t from, uint32_t to)
{
	for (uint32_t off = from; off < to && off < len; off += PG) {
		bool nonzero = false;
		for (uint32_t i = 0; i < PG && off + i < len && !nonzero; i++)
			nonzero = img[off + i] != 0;
		if (nonzero)
			wr(m->s, m->user ? m->dtb : 0, m->base + off, img + off, KH_MIN(PG, len - off));
	}
}

static uproc *find_uproc(fg_stack *s, uint64_t process)
{
	for (unsigned i = 0; i < s->nup; i++)
		if (s->up[i].process == process)
			return &s->up[i];
	die("process not prepared with fg_stack_user_process");
}

static uint64_t ualloc(fg_stack *s, uproc *p, uint32_t size)
{
	uint64_t va = p->heap;
	p->heap += (size + 15) & ~15u;
	uint8_t zero[512] = { 0 };
	for (uint32_t done = 0; done < size; done += sizeof(zero))
		wr(s, p->dtb, va + done, zero, KH_MIN(sizeof(zero), size - done));
	return va;
}

static void ustring(fg_stack *s, uproc *p, uint64_t va, const char *text)
{
	size_t n = strlen(text);
	uint64_t buf = ualloc(s, p, (uint32_t)(2 * n + 2));
	for (size_t i = 0; i < n; i++) {
		uint8_t w[2] = { (uint8_t)text[i], 0 };
		wr(s, p->dtb, buf + 2 * i, w, 2);
	}
	uint8_t h[4] = { (uint8_t)(2 * n), (uint8_t)(2 * n >> 8), (uint8_t)(2 * n + 2), (uint8_t)((2 * n + 2) >> 8) };
	wr(s, p->dtb, va, h, 4);
	wr_word(s, p->dtb, va + s->ps, buf);
}

void fg_module_place(fg_module *m, unsigned flags)
{
	fg_stack *s = m->s;
	uint8_t *img;
	size_t len;
	if (m->placed)
		die("module placed twice");
	m->placed = true;
	if (m->nt) {
		fg_pe_set_codeview(m->pe, m->guid, m->age, m->pdb);
		fg_pe_add_export(m->pe, "KeBugCheckEx", 0x1000);
	}
	if (flags & FG_PLACE_NO_PDATA) {
		/* rebuild without runtime functions: a fresh writer with the same bytes */
		fg_pe *np = fg_pe_new(!s->x86, m->base, m->text_size);
		uint8_t *tmp;
		size_t tl;
		if (fg_pe_build(m->pe, &tmp, &tl) != 0)
			die("build");
		fg_pe_write(np, PG, tmp + PG, m->text_size);
		free(tmp);
		for (unsigned i = 0; i < m->nfns; i++)
			if (!m->nt)
				fg_pe_add_export(np, m->fns[i]->name, m->fns[i]->rva);
		fg_pe_free(m->pe);
		m->pe = np;
	}
	if (fg_pe_build(m->pe, &img, &len) != 0)
		die("build image");
	if (m->nt) {
		/* keep the kernel's other bytes (globals live in its range) */
		write_image(m, img, len, 0, PG);
		write_image(m, img, len, PG + m->text_size, (uint32_t)len);
		for (unsigned i = 0; i < m->nd; i++)
			fg_kernel_write(s->k, m->base + m->d[i].rva, img + m->d[i].rva, m->d[i].len);
	} else if (flags & FG_PLACE_HEADERS_ONLY) {
		write_image(m, img, len, 0, PG);
	} else if (!(flags & FG_PLACE_NO_IMAGE)) {
		write_image(m, img, len, 0, (uint32_t)len);
	}
	if (m->user) {
		uproc *p = find_uproc(s, m->process);
		uint32_t esize = s->x86 ? 0x78 : 0x120;
		uint64_t e = ualloc(s, p, esize);
		/* InLoadOrderLinks: append at the tail of the loader list */
		uint8_t b[8] = { 0 };
		if (fg_read_virtual(forge(s), p->dtb, p->ldr_head + s->ps, b, s->ps) != 0)
			die("read loader list");
		uint64_t tail = 0;
		for (unsigned i = 0; i < s->ps; i++)
			tail |= (uint64_t)b[i] << (8 * i);
		wr_word(s, p->dtb, e, p->ldr_head);
		wr_word(s, p->dtb, e + s->ps, tail);
		wr_word(s, p->dtb, tail, e);
		wr_word(s, p->dtb, p->ldr_head + s->ps, e);
		wr_word(s, p->dtb, e + (s->x86 ? 0x18 : 0x30), m->base);
		uint8_t sz[4] = { (uint8_t)len, (uint8_t)(len >> 8), (uint8_t)(len >> 16), (uint8_t)(len >> 24) };
		wr(s, p->dtb, e + (s->x86 ? 0x20 : 0x40), sz, 4);
		ustring(s, p, e + (s->x86 ? 0x2C : 0x58), m->name);
	} else if (!m->nt) {
		fg_kernel_add_module(s->k, m->name, m->base, (uint32_t)len);
	}
	free(img);
}

void fg_module_save(fg_module *m, const char *path)
{
	uint8_t *img;
	size_t len;
	if (fg_pe_build(m->pe, &img, &len) != 0)
		die("build image");
	FILE *f = fopen(path, "wb");
	if (!f || fwrite(img, 1, len, f) != len)
		die("write image file");
	fclose(f);
	free(img);
}

/* ---- user processes -------------------------------------------------------------------- */

uint64_t fg_stack_user_process(fg_stack *s, uint64_t process, uint64_t peb)
{
	if (s->nup >= MAX_UPROCS)
		die("too many user processes");
	uproc *p = &s->up[s->nup++];
	p->process = process;
	p->dtb = fg_new_dtb(forge(s));
	if (!p->dtb)
		die("fg_new_dtb");
	p->peb = peb;
	p->heap = s->x86 ? 0x00300000u : 0x000001d000000000ull;
	set_field(s, process, KH_F_KPROCESS_DirectoryTableBase, p->dtb);
	set_field(s, process, KH_F_EPROCESS_Peb, peb);
	uint64_t ldr = ualloc(s, p, 0x60);
	p->ldr_head = ldr + (s->x86 ? 0x0C : 0x10);
	wr_word(s, p->dtb, p->ldr_head, p->ldr_head);
	wr_word(s, p->dtb, p->ldr_head + s->ps, p->ldr_head);
	uint8_t zero[0x40] = { 0 };
	wr(s, p->dtb, peb, zero, sizeof(zero));
	wr_word(s, p->dtb, peb + (s->x86 ? 0x0C : 0x18), ldr);
	return p->dtb;
}

fg_module *fg_stack_user_module(fg_stack *s, uint64_t process, const char *name, uint64_t base, uint32_t text_size)
{
	uproc *p = find_uproc(s, process);
	fg_module *m = new_module(s, name, base, text_size);
	m->user = true;
	m->process = process;
	m->dtb = p->dtb;
	return m;
}

void fg_stack_user_teb(fg_stack *s, uint64_t thread, uint64_t process, uint64_t teb, uint64_t stack_base,
                       uint64_t stack_limit)
{
	uproc *p = find_uproc(s, process);
	uint8_t zero[0x40] = { 0 };
	wr(s, p->dtb, teb, zero, sizeof(zero));
	wr_word(s, p->dtb, teb + s->ps, stack_base);
	wr_word(s, p->dtb, teb + 2ull * s->ps, stack_limit);
	set_field(s, thread, KH_F_KTHREAD_Teb, teb);
}

/* ---- chains ------------------------------------------------------------------------------ */

fg_chain *fg_chain_new(fg_stack *s, uint64_t thread, uint64_t kstack_top, uint32_t kstack_size)
{
	fg_chain *c = calloc(1, sizeof(*c));
	if (!c)
		die("out of memory");
	c->s = s;
	c->thread = thread;
	c->ktop = kstack_top;
	c->ksize = kstack_size;
	c->sp = kstack_top - 0x100;
	c->junk = 0x0D000000u;
	for (unsigned i = 0; i < 16; i++)
		c->reg[i] = c->junk += 0x10;
	if (thread) {
		set_field(s, thread, KH_F_KTHREAD_InitialStack, kstack_top);
		set_field(s, thread, KH_F_KTHREAD_StackLimit, kstack_top - kstack_size);
		fg_kernel_set(s->k, thread, KH_F_KTHREAD_StackBase, kstack_top);
	}
	/* the stack pages exist (zeros) */
	uint8_t zero[PG] = { 0 };
	for (uint64_t a = kstack_top - kstack_size; a < kstack_top; a += PG)
		fg_kernel_write(s->k, a, zero, PG);
	return c;
}

void fg_chain_free(fg_chain *c)
{
	free(c);
}

void fg_chain_user(fg_chain *c, uint64_t process, uint64_t user_top)
{
	uproc *p = find_uproc(c->s, process);
	c->user = true;
	c->dtb = p->dtb;
	c->sp = user_top - 0x80;
}

static uint64_t cur_dtb(const fg_chain *c)
{
	return c->user ? c->dtb : 0;
}

static void push(fg_chain *c, uint64_t v)
{
	c->sp -= c->s->ps;
	wr_word(c->s, cur_dtb(c), c->sp, v);
}

static uint64_t fresh(fg_chain *c)
{
	return c->junk += 0x10;
}

static cframe *add_frame(fg_chain *c, fg_fn *fn, uint32_t ip_off, uint64_t ret_slot)
{
	if (c->n >= FG_MAX_FRAMES)
		die("too many frames");
	if (ip_off >= fn->size)
		fprintf(stderr,
		        "fg_stack: warning: %s+0x%x lies beyond the function's 0x%x bytes (for nt, the layout's size): "
		        "a walk will not see this frame as written\n",
		        fn->name, ip_off, fn->size);
	cframe *f = &c->fr[c->n++];
	memset(f, 0, sizeof(*f));
	f->ip = fg_fn_va(fn) + ip_off;
	f->sp = c->sp;
	f->user = c->user;
	f->fn = fn;
	f->kind = 0; /* KHANG_FRAME_CONTEXT until an inner frame is added */
	f->ret_slot = ret_slot;
	return f;
}

/* Run a function's prologue: x64 codes in prologue order (reverse of the
 * array), only those at offsets <= limit for the function itself. */
static void prologue_x64(fg_chain *c, const fg_fn *fn, uint32_t limit)
{
	if (fn->parent)
		prologue_x64(c, fn->parent, UINT32_MAX);
	/* decode slots */
	struct op {
		uint8_t off, op, info;
		uint32_t arg;
	} ops[64];
	unsigned n = 0;
	for (unsigned i = 0; i < fn->ncodes;) {
		uint16_t v = fn->codes[i];
		struct op o = { (uint8_t)v, (uint8_t)((v >> 8) & 0xF), (uint8_t)(v >> 12), 0 };
		unsigned slots = 1;
		switch (o.op) {
		case FG_UWOP_ALLOC_LARGE:
			if (o.info == 0) {
				o.arg = (uint32_t)fn->codes[i + 1] * 8;
				slots = 2;
			} else {
				o.arg = fn->codes[i + 1] | (uint32_t)fn->codes[i + 2] << 16;
				slots = 3;
			}
			break;
		case FG_UWOP_SAVE_NONVOL:
		case FG_UWOP_SAVE_XMM128:
			o.arg = (uint32_t)fn->codes[i + 1] * (o.op == FG_UWOP_SAVE_NONVOL ? 8 : 16);
			slots = 2;
			break;
		case FG_UWOP_SAVE_NONVOL_FAR:
		case FG_UWOP_SAVE_XMM128_FAR:
			o.arg = fn->codes[i + 1] | (uint32_t)fn->codes[i + 2] << 16;
			slots = 3;
			break;
		default:
			break;
		}
		ops[n++] = o;
		i += slots;
	}
	for (unsigned k = n; k-- > 0;) {
		struct op *o = &ops[k];
		if (o->off > limit)
			continue;
		switch (o->op) {
		case FG_UWOP_PUSH_NONVOL:
			push(c, c->reg[o->info]);
			c->reg[o->info] = fresh(c);
			break;
		case FG_UWOP_ALLOC_LARGE:
			c->sp -= o->arg;
			break;
		case FG_UWOP_ALLOC_SMALL:
			c->sp -= (uint64_t)o->info * 8 + 8;
			break;
		case FG_UWOP_SET_FPREG:
			c->reg[fn->frame_reg] = c->sp + 16u * fn->frame_off16;
			break;
		case FG_UWOP_SAVE_NONVOL:
		case FG_UWOP_SAVE_NONVOL_FAR:
			wr_word(c->s, cur_dtb(c), c->sp + o->arg, c->reg[o->info]);
			c->reg[o->info] = fresh(c);
			break;
		case FG_UWOP_SAVE_XMM128:
		case FG_UWOP_SAVE_XMM128_FAR: {
			uint8_t x[16];
			memset(x, 0xA5, sizeof(x));
			wr(c->s, cur_dtb(c), c->sp + o->arg, x, 16);
			break;
		}
		default: /* PUSH_MACHFRAME: the machine frame is already there */
			break;
		}
	}
}

static void prologue_x86(fg_chain *c, const fg_fn *fn)
{
	if (fn->ebp_frame) {
		push(c, c->reg[FG_RBP]);
		c->reg[FG_RBP] = c->sp;
		c->sp -= fn->locals;
	} else {
		/* KiSwapContext: sub esp, 10h; ebx at +0xC, esi +8, edi +4, ebp +0 */
		c->sp -= 0x10;
		wr_word(c->s, 0, c->sp + 0xC, c->reg[FG_RBX]);
		wr_word(c->s, 0, c->sp + 0x8, c->reg[FG_RSI]);
		wr_word(c->s, 0, c->sp + 0x4, c->reg[FG_RDI]);
		wr_word(c->s, 0, c->sp + 0x0, c->reg[FG_RBP]);
	}
}

/* A call instruction ending at the caller's return address. */
static void call_site(fg_chain *c, const cframe *caller, const fg_fn *callee)
{
	fg_module *m = caller->fn->m;
	uint32_t rva = (uint32_t)(caller->ip - m->base);
	int32_t rel = (int32_t)(int64_t)(fg_fn_va(callee) - caller->ip);
	uint8_t b[5] = { 0xE8, (uint8_t)rel, (uint8_t)(rel >> 8), (uint8_t)(rel >> 16), (uint8_t)(rel >> 24) };
	(void)c;
	fg_module_write(m, rva - 5, b, 5);
}

static void do_call(fg_chain *c, fg_fn *fn, uint32_t ip_off, uint32_t limit)
{
	uint64_t ret = 0;
	if (c->n) {
		cframe *caller = &c->fr[c->n - 1];
		call_site(c, caller, fn);
		ret = caller->ip;
		caller->kind = fn->leaf ? 2 /* LEAF */ : 1 /* UNWIND */;
	}
	push(c, ret);
	uint64_t slot = c->sp;
	if (c->s->x86)
		prologue_x86(c, fn);
	else if (!fn->leaf)
		prologue_x64(c, fn, limit);
	add_frame(c, fn, ip_off, slot);
}

void fg_chain_call(fg_chain *c, fg_fn *fn, uint32_t ip_off)
{
	do_call(c, fn, ip_off, UINT32_MAX);
}

void fg_chain_call_partial(fg_chain *c, fg_fn *fn, uint32_t ip_off)
{
	do_call(c, fn, ip_off, ip_off);
}

void fg_chain_alloca(fg_chain *c, uint32_t bytes)
{
	c->sp -= bytes;
	c->fr[c->n - 1].sp = c->sp;
}

void fg_chain_interrupt(fg_chain *c, fg_fn *handler, uint32_t ip_off)
{
	cframe *in = &c->fr[c->n - 1];
	bool err = handler->ncodes && (handler->codes[handler->ncodes - 1] >> 12) != 0;
	c->sp &= ~(uint64_t)15;
	push(c, 0x18);          /* SS */
	push(c, in->sp);        /* RSP */
	push(c, 0x246);         /* RFLAGS */
	push(c, 0x10);          /* CS */
	push(c, in->ip);        /* RIP */
	if (err)
		push(c, 0xE0);
	in->kind = 3; /* TRAP */
	prologue_x64(c, handler, UINT32_MAX);
	add_frame(c, handler, ip_off, 0);
}

static void trap_frame_x64(fg_chain *c, uint64_t t, const cframe *in, bool user)
{
	fg_stack *s = c->s;
	uint8_t zero[KTRAP64] = { 0 };
	fg_kernel_write(s->k, t, zero, sizeof(zero));
	set_field(s, t, KH_F_KTRAP_FRAME_Rip, in->ip);
	set_field(s, t, KH_F_KTRAP_FRAME_Rsp, in->sp);
	set_field(s, t, KH_F_KTRAP_FRAME_SegCs, user ? 0x33 : 0x10);
	set_field(s, t, KH_F_KTRAP_FRAME_SegSs, user ? 0x2B : 0x18);
	set_field(s, t, KH_F_KTRAP_FRAME_EFlags, 0x246);
	set_field(s, t, KH_F_KTRAP_FRAME_Rbp, c->reg[FG_RBP]);
	if (user) {
		set_field(s, t, KH_F_KTRAP_FRAME_Rbx, c->reg[FG_RBX]);
		set_field(s, t, KH_F_KTRAP_FRAME_Rsi, c->reg[FG_RSI]);
		set_field(s, t, KH_F_KTRAP_FRAME_Rdi, c->reg[FG_RDI]);
	}
}

static void trap_frame_x86(fg_chain *c, uint64_t t, const cframe *in, bool user)
{
	fg_stack *s = c->s;
	uint8_t zero[KTRAP86] = { 0 };
	fg_kernel_write(s->k, t, zero, sizeof(zero));
	set_field(s, t, KH_F_KTRAP_FRAME_Eip, in->ip);
	set_field(s, t, KH_F_KTRAP_FRAME_SegCs, user ? 0x1B : 0x08);
	set_field(s, t, KH_F_KTRAP_FRAME_EFlags, 0x246);
	set_field(s, t, KH_F_KTRAP_FRAME_Ebp, c->reg[FG_RBP]);
	set_field(s, t, KH_F_KTRAP_FRAME_DbgEbp, c->reg[FG_RBP]);
	set_field(s, t, KH_F_KTRAP_FRAME_DbgEip, in->ip);
	set_field(s, t, KH_F_KTRAP_FRAME_Ebx, c->reg[FG_RBX]);
	set_field(s, t, KH_F_KTRAP_FRAME_Esi, c->reg[FG_RSI]);
	set_field(s, t, KH_F_KTRAP_FRAME_Edi, c->reg[FG_RDI]);
	if (user) {
		set_field(s, t, KH_F_KTRAP_FRAME_HardwareEsp, in->sp);
		set_field(s, t, KH_F_KTRAP_FRAME_HardwareSegSs, 0x23);
	}
}

void fg_chain_trap(fg_chain *c, fg_fn *entry, uint32_t ip_off)
{
	cframe *in = &c->fr[c->n - 1];
	uint64_t t;
	if (c->s->x86) {
		t = in->sp - field_off(c->s, KH_F_KTRAP_FRAME_HardwareEsp);
		trap_frame_x86(c, t, in, false);
		c->reg[FG_RBP] = t;
	} else {
		t = (in->sp & ~(uint64_t)15) - KTRAP64;
		trap_frame_x64(c, t, in, false);
	}
	in->kind = 3;
	in->trap = t;
	c->sp = t;
	add_frame(c, entry, ip_off, 0);
}

void fg_chain_syscall(fg_chain *c, fg_fn *entry, uint32_t ip_off)
{
	cframe *in = &c->fr[c->n - 1];
	uint64_t t = c->ktop - (c->s->x86 ? KTRAP86 : KTRAP64);
	if (c->s->x86) {
		trap_frame_x86(c, t, in, true);
		c->reg[FG_RBP] = t;
	} else {
		trap_frame_x64(c, t, in, true);
	}
	if (c->thread)
		set_field(c->s, c->thread, KH_F_KTHREAD_TrapFrame, t);
	in->kind = 3;
	in->trap = t;
	c->user = false;
	c->sp = t;
	add_frame(c, entry, ip_off, 0);
}

void fg_chain_wait(fg_chain *c)
{
	fg_stack *s = c->s;
	cframe *in = &c->fr[c->n - 1];
	uint64_t ks;
	if (s->x86) {
		push(c, in->ip);        /* return into KiSwapContext */
		push(c, 0);             /* APC bypass */
		push(c, 0xFFFFFFFFu);   /* exception list end */
		ks = c->sp;
	} else {
		ks = in->sp - 0x40;
		uint8_t sw[0x40];
		memset(sw, 0, sizeof(sw));
		for (unsigned i = 0; i < 8; i++) {
			sw[0x38 + i] = (uint8_t)(in->ip >> (8 * i));
			sw[0x30 + i] = (uint8_t)(c->reg[FG_RBP] >> (8 * i));
		}
		fg_kernel_write(s->k, ks, sw, sizeof(sw));
	}
	c->kernel_stack = ks;
	if (c->thread) {
		set_field(s, c->thread, KH_F_KTHREAD_KernelStack, ks);
		fg_kernel_thread_state(s->k, c->thread, (unsigned)fg_kernel_enum(s->k, KH_E_KTHREAD_STATE, "Waiting"), 0, 0,
		                       100);
	}
}

void fg_chain_run(fg_chain *c, uint32_t cpu, bool header)
{
	fg_stack *s = c->s;
	cframe *in = &c->fr[c->n - 1];
	uint8_t ctx[0x4D0];
	size_t len;
	memset(ctx, 0, sizeof(ctx));
	if (s->x86) {
		static const unsigned at[8] = { 0xB0, 0xAC, 0xA8, 0xA4, 0xC4, 0xB4, 0xA0, 0x9C }; /* eax ecx edx ebx esp ebp esi edi */
		for (unsigned r = 0; r < 8; r++) {
			uint64_t v = r == FG_RSP ? in->sp : c->reg[r];
			for (unsigned i = 0; i < 4; i++)
				ctx[at[r] + i] = (uint8_t)(v >> (8 * i));
		}
		for (unsigned i = 0; i < 4; i++)
			ctx[0xB8 + i] = (uint8_t)(in->ip >> (8 * i));
		ctx[0] = 0x07, ctx[2] = 0x01;
		ctx[0xBC] = 0x08;
		len = 0x2CC;
	} else {
		for (unsigned r = 0; r < 16; r++) {
			uint64_t v = r == FG_RSP ? in->sp : c->reg[r];
			for (unsigned i = 0; i < 8; i++)
				ctx[0x78 + 8 * r + i] = (uint8_t)(v >> (8 * i));
		}
		for (unsigned i = 0; i < 8; i++)
			ctx[0xF8 + i] = (uint8_t)(in->ip >> (8 * i));
		ctx[0x30] = 0x1F, ctx[0x32] = 0x10;
		ctx[0x38] = 0x10;
		len = sizeof(ctx);
	}
	if (header) {
		fg_header *h = fg_header_of(forge(s));
		size_t max = s->x86 ? 1200 : 3000;
		memcpy(h->context, ctx, KH_MIN(len, max));
		h->context_len = (uint32_t)KH_MIN(len, max);
	} else {
		uint64_t prcb = fg_kernel_prcb(s->k, cpu);
		uint64_t at = prcb + field_off(s, KH_F_KPRCB_ProcessorState) + field_off(s, KH_F_KPROCESSOR_STATE_ContextFrame);
		fg_kernel_write(s->k, at, ctx, len);
	}
	if (c->thread) {
		fg_kernel_thread_state(s->k, c->thread, (unsigned)fg_kernel_enum(s->k, KH_E_KTHREAD_STATE, "Running"), 0, 0, 0);
		fg_kernel_set_current(s->k, cpu, c->thread);
		if (kh_layout_has(s->l, KH_F_KTHREAD_NextProcessorNumber))
			fg_kernel_set(s->k, c->thread, KH_F_KTHREAD_NextProcessorNumber, cpu);
		else
			fg_kernel_set(s->k, c->thread, KH_F_KTHREAD_NextProcessor, cpu);
	}
}

size_t fg_chain_frames(const fg_chain *c, fg_frame *out, size_t cap)
{
	size_t n = 0;
	for (unsigned i = c->n; i-- > 0 && n < cap;) {
		const cframe *f = &c->fr[i];
		out[n].ip = f->ip;
		out[n].sp = f->sp;
		out[n].kind = i == c->n - 1 ? 0 : c->fr[i].kind;
		out[n].user = f->user;
		out[n].trap = f->trap;
		n++;
	}
	return n;
}

uint64_t fg_chain_ret_slot(const fg_chain *c, size_t i)
{
	if (i >= c->n)
		return 0;
	return c->fr[c->n - 1 - i].ret_slot;
}

uint64_t fg_chain_kernel_stack(const fg_chain *c)
{
	return c->kernel_stack;
}

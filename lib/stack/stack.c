/* khang_stack: holding walked call stacks, and naming their frames. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "objects/objects.h"
#include "stack_int.h"

khang_stack *kh_stack_new(khang_source *src)
{
	khang_stack *s = kh_calloc(&src->alloc, 1, sizeof(*s));
	if (!s)
		return NULL;
	s->magic = KH_STACK_MAGIC;
	s->src = src;
	s->end = KHANG_STACK_END_COMPLETE;
	return s;
}

int kh_stack_push(khang_stack *s, uint64_t ip, uint64_t sp, khang_frame_kind kind, uint64_t trap, bool user)
{
	if (s->nframes == s->cap) {
		size_t ncap = s->cap ? s->cap * 2 : 16;
		khang_frame *n = kh_reallocarray(&s->src->alloc, s->frames, ncap, sizeof(*n));
		if (!n)
			return KHANG_ENOMEM;
		s->frames = n;
		kh_frame_x *nx = kh_reallocarray(&s->src->alloc, s->fx, ncap, sizeof(*nx));
		if (!nx)
			return KHANG_ENOMEM;
		s->fx = nx;
		s->cap = ncap;
	}
	khang_frame *f = &s->frames[s->nframes];
	f->ip = ip;
	f->sp = sp;
	f->kind = kind;
	s->fx[s->nframes].trap = trap;
	s->fx[s->nframes].user = user;
	s->nframes++;
	return 0;
}

void kh_stack_set_end(khang_stack *s, khang_stack_end_code code, const char *fmt, ...)
{
	va_list ap;
	s->end = code;
	va_start(ap, fmt);
	vsnprintf(s->end_reason, sizeof(s->end_reason), fmt, ap);
	va_end(ap);
}

static bool stack_ok(const khang_stack *s)
{
	return s && s->magic == KH_STACK_MAGIC;
}

KHANG_API size_t khang_stack_frame_count(const khang_stack *stack)
{
	return stack_ok(stack) ? stack->nframes : 0;
}

KHANG_API int khang_stack_frame(khang_frame *out, const khang_stack *stack, size_t index)
{
	if (!out || !stack_ok(stack))
		return kh_error(KHANG_EINVAL, "khang_stack_frame: NULL argument");
	if (index >= stack->nframes)
		return kh_error(KHANG_ERANGE, "frame %zu of %zu", index, stack->nframes);
	*out = stack->frames[index];
	return 0;
}

KHANG_API const char *khang_stack_end_reason(const khang_stack *stack)
{
	return stack_ok(stack) ? stack->end_reason : "";
}

KHANG_API khang_stack_end_code khang_stack_end(const khang_stack *stack)
{
	return stack_ok(stack) ? stack->end : KHANG_STACK_END_CORRUPT;
}

KHANG_API khang_stack_start_code khang_stack_start(const khang_stack *stack)
{
	return stack_ok(stack) ? stack->start : KHANG_STACK_START_CONTEXT_VA;
}

KHANG_API uint64_t khang_stack_thread_address(const khang_stack *stack)
{
	return stack_ok(stack) ? stack->thread : 0;
}

/* ---- names ------------------------------------------------------------------------ */

static void free_names(khang_stack *s)
{
	if (!s->names)
		return;
	for (size_t i = 0; i < s->nframes; i++) {
		kh_free(&s->src->alloc, s->names[i].module);
		kh_free(&s->src->alloc, s->names[i].symbol);
		kh_free(&s->src->alloc, s->names[i].text);
	}
	kh_free(&s->src->alloc, s->names);
	s->names = NULL;
}

/* Split "mod!sym+0xoff" / "mod!sym" / "mod+0xoff" / "0x..." text. */
static int set_names(khang_stack *s, kh_frame_names *n, const char *text, const char *module, uint64_t base, uint64_t ip)
{
	const kh_alloc *a = &s->src->alloc;
	char sym[512] = "";
	uint64_t off = base ? ip - base : ip;
	const char *bang = strchr(text, '!');
	if (bang && module[0]) {
		kh_copy_str(sym, sizeof(sym), bang + 1);
		char *plus = strrchr(sym, '+');
		if (plus && strncmp(plus, "+0x", 3) == 0) {
			off = strtoull(plus + 3, NULL, 16);
			*plus = '\0';
		} else {
			off = 0;
		}
	}
	n->module = kh_strdup(a, module);
	n->symbol = kh_strdup(a, sym);
	n->text = kh_strdup(a, text);
	n->module_base = base;
	n->offset = off;
	return n->module && n->symbol && n->text ? 0 : KHANG_ENOMEM;
}

static int name_frames(khang_stack *s)
{
	if (s->names)
		return 0;
	s->names = kh_calloc(&s->src->alloc, s->nframes ? s->nframes : 1, sizeof(*s->names));
	if (!s->names)
		return KHANG_ENOMEM;
	kh_umods um;
	memset(&um, 0, sizeof(um));
	um.process = s->process;
	um.dtb = s->dtb;
	int rc = 0;
	for (size_t i = 0; i < s->nframes && rc == 0; i++) {
		uint64_t ip = s->frames[i].ip;
		char text[600];
		if (s->fx[i].user) {
			kh_umod *m = NULL;
			if (s->dtb && s->process) {
				kh_umods_load(s->src, &um);
				m = kh_umods_at(&um, ip);
			}
			if (!m) {
				snprintf(text, sizeof(text), "0x%llx", (unsigned long long)ip);
				rc = set_names(s, &s->names[i], text, "", 0, ip);
				continue;
			}
			kh_pe *pe = kh_umod_image(s->src, &um, m);
			uint32_t eoff = 0;
			const char *e = pe ? kh_pe_export_lookup(pe, (uint32_t)(ip - m->base), &eoff) : NULL;
			if (e)
				snprintf(text, sizeof(text), eoff ? "%s!%s+0x%x" : "%s!%s", m->short_name, e, eoff);
			else
				snprintf(text, sizeof(text), "%s+0x%llx", m->short_name, (unsigned long long)(ip - m->base));
			rc = set_names(s, &s->names[i], text, m->short_name, m->base, ip);
		} else {
			khang_source_symbolize(text, sizeof(text), s->src, ip);
			khang_module *m = kh_kernel_module_at(s->src, ip);
			rc = set_names(s, &s->names[i], text, m ? m->short_name : "", m ? m->base : 0, ip);
		}
	}
	kh_umods_free(s->src, &um);
	if (rc < 0)
		free_names(s);
	return rc;
}

KHANG_API int khang_stack_frame_info(khang_frame_info *out, khang_stack *stack, size_t index)
{
	if (!out || !stack_ok(stack) || out->size < offsetof(khang_frame_info, trap_frame) + sizeof(uint64_t))
		return kh_error(KHANG_EINVAL, "khang_stack_frame_info: NULL argument or size too small");
	if (index >= stack->nframes)
		return kh_error(KHANG_ERANGE, "frame %zu of %zu", index, stack->nframes);
	int rc = name_frames(stack);
	if (rc < 0)
		return kh_error(rc, "khang_stack_frame_info: out of memory");
	const khang_frame *f = &stack->frames[index];
	const kh_frame_names *n = &stack->names[index];
	size_t size = out->size;
	memset(out, 0, size);
	out->size = size;
	out->ip = f->ip;
	out->sp = f->sp;
	out->kind = f->kind;
	out->user_mode = stack->fx[index].user;
	out->module = n->module;
	out->module_base = n->module_base;
	out->symbol = n->symbol;
	out->offset = n->offset;
	out->text = n->text;
	out->trap_frame = stack->fx[index].trap;
	return 0;
}

KHANG_API void khang_stack_free(khang_stack *stack)
{
	if (!stack_ok(stack))
		return;
	free_names(stack);
	stack->magic = 0;
	kh_free(&stack->src->alloc, stack->frames);
	kh_free(&stack->src->alloc, stack->fx);
	kh_free(&stack->src->alloc, stack);
}

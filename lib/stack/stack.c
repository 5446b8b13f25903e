/* khang_stack: walking and holding call stacks. */
#include <stdio.h>

#include "stack_int.h"

#define DEFAULT_MAX_FRAMES 256u
#define MAX_FRAMES 4096u

struct khang_stack {
	khang_source *src;
	khang_frame *frames;
	size_t nframes;
	char end_reason[256];
};

static int push(khang_stack *s, uint64_t ip, uint64_t sp, khang_frame_kind kind, size_t *cap)
{
	if (s->nframes == *cap) {
		size_t ncap = *cap ? *cap * 2 : 32;
		khang_frame *n = kh_reallocarray(&s->src->alloc, s->frames, ncap, sizeof(*n));
		if (!n)
			return KHANG_ENOMEM;
		s->frames = n;
		*cap = ncap;
	}
	khang_frame *f = &s->frames[s->nframes++];
	f->ip = ip;
	f->sp = sp;
	f->kind = kind;
	return 0;
}

KHANG_API int khang_stack_walk_context(khang_stack **out, khang_source *src, uint64_t context_va,
                                       const khang_stack_opts *opts)
{
	uint8_t ctx[0x100];
	kh_regs regs;
	size_t cap = 0;
	int rc;

	if (!out || !kh_source_ok(src))
		return kh_error(KHANG_EINVAL, "khang_stack_walk_context: NULL or invalid argument");
	*out = NULL;
	if (opts && opts->size < offsetof(khang_stack_opts, max_frames) + sizeof(uint32_t))
		return kh_error(KHANG_EINVAL, "khang_stack_walk_context: options size %zu too small", opts->size);
	uint32_t max = opts && opts->max_frames ? KH_MIN(opts->max_frames, MAX_FRAMES) : DEFAULT_MAX_FRAMES;
	if (src->info.arch != KHANG_ARCH_X64)
		return kh_error(KHANG_EUNSUPPORTED, "stack walk: %s is not supported yet", khang_arch_name(src->info.arch));
	if ((rc = kh_vread(src, 0, context_va, ctx, sizeof(ctx))) < 0)
		return kh_error(rc, "CONTEXT at 0x%llx is not in the dump", (unsigned long long)context_va);
	kh_regs_from_context_x64(&regs, ctx, sizeof(ctx));

	khang_stack *s = kh_calloc(&src->alloc, 1, sizeof(*s));
	if (!s)
		return KHANG_ENOMEM;
	s->src = src;
	if ((rc = push(s, regs.r[KH_RIP], regs.r[KH_RSP], KHANG_FRAME_CONTEXT, &cap)) < 0) {
		khang_stack_free(s);
		return rc;
	}
	snprintf(s->end_reason, sizeof(s->end_reason), "frame limit (%u) reached", max);
	while (s->nframes < max) {
		uint64_t prev_sp = regs.r[KH_RSP];
		khang_frame_kind kind;
		rc = kh_unwind_x64_step(src, &regs, &kind);
		if (rc < 0) {
			kh_copy_str(s->end_reason, sizeof(s->end_reason), khang_error_last());
			break;
		}
		if (regs.r[KH_RIP] == 0) {
			kh_copy_str(s->end_reason, sizeof(s->end_reason), "end of the stack (return address 0)");
			break;
		}
		if (regs.r[KH_RSP] <= prev_sp && kind != KHANG_FRAME_TRAP) {
			snprintf(s->end_reason, sizeof(s->end_reason), "stack pointer did not increase (0x%llx after 0x%llx)",
			         (unsigned long long)regs.r[KH_RSP], (unsigned long long)prev_sp);
			break;
		}
		if ((rc = push(s, regs.r[KH_RIP], regs.r[KH_RSP], kind, &cap)) < 0) {
			khang_stack_free(s);
			return rc;
		}
	}
	*out = s;
	return 0;
}

KHANG_API size_t khang_stack_frame_count(const khang_stack *stack)
{
	return stack ? stack->nframes : 0;
}

KHANG_API int khang_stack_frame(khang_frame *out, const khang_stack *stack, size_t index)
{
	if (!out || !stack)
		return kh_error(KHANG_EINVAL, "khang_stack_frame: NULL argument");
	if (index >= stack->nframes)
		return kh_error(KHANG_ERANGE, "frame %zu of %zu", index, stack->nframes);
	*out = stack->frames[index];
	return 0;
}

KHANG_API const char *khang_stack_end_reason(const khang_stack *stack)
{
	return stack ? stack->end_reason : "";
}

KHANG_API void khang_stack_free(khang_stack *stack)
{
	if (!stack)
		return;
	kh_free(&stack->src->alloc, stack->frames);
	kh_free(&stack->src->alloc, stack);
}

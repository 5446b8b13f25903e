/*
 * Unique stacks (!us, !mex.us): walk every thread, group those whose frame
 * lists (instruction pointers, in order) are equal. Groups are found with a
 * hash table over the frame sequences; each group keeps the stack of its
 * first thread and the list of its threads, so memory is proportional to
 * the distinct stacks plus one pointer per thread.
 */
#include <stdlib.h>
#include <strings.h>

#include "objects/objects.h"
#include "stack_int.h"

#define KH_UNIQUE_MAGIC 0x4b485553u /* 'KHUS' */

typedef struct kh_group {
	uint64_t hash;
	khang_stack *stack;
	const khang_thread **threads;
	size_t n, cap;
} kh_group;

struct khang_unique_stacks {
	uint32_t magic;
	khang_source *src;
	kh_group *groups;
	size_t ngroups, cap;
	size_t total, walked;
	uint32_t skipped;
	/* hash table of group indexes + 1 (0: empty) */
	size_t *slots;
	size_t nslots;
};

static uint64_t hash_stack(const khang_stack *s)
{
	uint64_t h = 0xcbf29ce484222325ull ^ s->nframes;
	for (size_t i = 0; i < s->nframes; i++) {
		h ^= s->frames[i].ip;
		h *= 0x100000001b3ull;
		h ^= h >> 29;
	}
	return h;
}

static bool same_frames(const khang_stack *a, const khang_stack *b)
{
	if (a->nframes != b->nframes)
		return false;
	for (size_t i = 0; i < a->nframes; i++)
		if (a->frames[i].ip != b->frames[i].ip)
			return false;
	return true;
}

static int grow_slots(khang_unique_stacks *u)
{
	size_t n = u->nslots ? u->nslots * 2 : 1024;
	size_t *s = kh_calloc(&u->src->alloc, n, sizeof(*s));
	if (!s)
		return KHANG_ENOMEM;
	for (size_t g = 0; g < u->ngroups; g++) {
		size_t i = (size_t)u->groups[g].hash & (n - 1);
		while (s[i])
			i = (i + 1) & (n - 1);
		s[i] = g + 1;
	}
	kh_free(&u->src->alloc, u->slots);
	u->slots = s;
	u->nslots = n;
	return 0;
}

static int add_thread(kh_group *g, const kh_alloc *a, const khang_thread *t)
{
	if (g->n == g->cap) {
		size_t ncap = g->cap ? g->cap * 2 : 4;
		const khang_thread **n = kh_reallocarray(a, (void *)g->threads, ncap, sizeof(*n));
		if (!n)
			return KHANG_ENOMEM;
		g->threads = n;
		g->cap = ncap;
	}
	g->threads[g->n++] = t;
	return 0;
}

/* Add a walked stack: into its group (the stack is freed) or as a new group. */
static int add_stack(khang_unique_stacks *u, khang_stack *s, const khang_thread *t)
{
	const kh_alloc *a = &u->src->alloc;
	int rc;
	if ((u->ngroups + 1) * 2 > u->nslots && (rc = grow_slots(u)) < 0) {
		khang_stack_free(s);
		return rc;
	}
	uint64_t h = hash_stack(s);
	size_t i = (size_t)h & (u->nslots - 1);
	while (u->slots[i]) {
		kh_group *g = &u->groups[u->slots[i] - 1];
		if (g->hash == h && same_frames(g->stack, s)) {
			khang_stack_free(s);
			return add_thread(g, a, t);
		}
		i = (i + 1) & (u->nslots - 1);
	}
	if (u->ngroups == u->cap) {
		size_t ncap = u->cap ? u->cap * 2 : 64;
		kh_group *n = kh_reallocarray(a, u->groups, ncap, sizeof(*n));
		if (!n) {
			khang_stack_free(s);
			return KHANG_ENOMEM;
		}
		u->groups = n;
		u->cap = ncap;
	}
	kh_group *g = &u->groups[u->ngroups];
	memset(g, 0, sizeof(*g));
	g->hash = h;
	g->stack = s;
	if ((rc = add_thread(g, a, t)) < 0) {
		khang_stack_free(s);
		return rc;
	}
	u->slots[i] = ++u->ngroups;
	return 0;
}

/* Case-insensitive substring. */
static bool has_text(const char *hay, const char *needle)
{
	size_t n = strlen(needle);
	if (!n)
		return true;
	for (; *hay; hay++)
		if (strncasecmp(hay, needle, n) == 0)
			return true;
	return false;
}

static bool keep_group(kh_group *g, const khang_unique_opts *o)
{
	const char *mf = o ? o->module_filter : NULL, *sf = o ? o->symbol_filter : NULL;
	if ((!mf || !*mf) && (!sf || !*sf))
		return true;
	bool mok = !mf || !*mf, sok = !sf || !*sf;
	for (size_t i = 0; i < g->stack->nframes && !(mok && sok); i++) {
		khang_frame_info fi = KHANG_FRAME_INFO_INIT;
		if (khang_stack_frame_info(&fi, g->stack, i) < 0)
			return false;
		if (!mok && fi.module[0] && has_text(fi.module, mf))
			mok = true;
		if (!sok && has_text(fi.text, sf))
			sok = true;
	}
	return mok && sok;
}

static int cmp_group(const void *a, const void *b)
{
	const kh_group *x = a, *y = b;
	if (x->n != y->n)
		return x->n > y->n ? -1 : 1;
	uint64_t ax = x->threads[0]->va, ay = y->threads[0]->va;
	return ax < ay ? -1 : ax > ay;
}

static void free_group(khang_unique_stacks *u, kh_group *g)
{
	khang_stack_free(g->stack);
	kh_free(&u->src->alloc, (void *)g->threads);
}

KHANG_API int khang_unique_stacks_new(khang_unique_stacks **out, khang_source *src, const khang_unique_opts *opts)
{
	kh_walk_opts wo;
	int rc;
	if (!out || !kh_source_ok(src))
		return kh_error(KHANG_EINVAL, "khang_unique_stacks_new: NULL or invalid argument");
	*out = NULL;
	if (opts && opts->size < offsetof(khang_unique_opts, stack) + sizeof(khang_stack_opts))
		return kh_error(KHANG_EINVAL, "khang_unique_stacks_new: options size %zu too small", opts->size);
	if (opts && opts->size > sizeof(khang_unique_opts))
		return kh_error(KHANG_EINVAL, "khang_unique_stacks_new: options from a newer version (size %zu)", opts->size);
	if ((rc = kh_walk_opts_get(&wo, opts && opts->stack.size ? &opts->stack : NULL, "khang_unique_stacks_new")) < 0)
		return rc;
	khang_thread_iter *it;
	if ((rc = khang_thread_iter_new(&it, src, opts ? opts->process : NULL)) < 0)
		return rc;
	khang_unique_stacks *u = kh_calloc(&src->alloc, 1, sizeof(*u));
	if (!u) {
		khang_thread_iter_free(it);
		return KHANG_ENOMEM;
	}
	u->magic = KH_UNIQUE_MAGIC;
	u->src = src;
	kh_walk_cache cache;
	memset(&cache, 0, sizeof(cache));
	cache.src = src;
	const khang_thread *t;
	while ((rc = khang_thread_next(&t, it)) == 0) {
		khang_stack *s;
		u->walked++;
		int wr = kh_stack_walk_thread(&s, t, &wo, &cache);
		if (wr < 0) {
			if (wr == KHANG_ENOMEM) {
				rc = KHANG_ENOMEM;
				break;
			}
			u->skipped++;
			continue;
		}
		if ((rc = add_stack(u, s, t)) < 0)
			break;
	}
	kh_walk_cache_free(&cache);
	khang_thread_iter_free(it);
	if (rc != KHANG_ITEROVER) {
		khang_unique_stacks_free(u);
		return rc < 0 ? rc : KHANG_ECORRUPT;
	}
	kh_free(&src->alloc, u->slots);
	u->slots = NULL;
	u->nslots = 0;
	/* filters, then order */
	size_t kept = 0;
	for (size_t g = 0; g < u->ngroups; g++) {
		if (keep_group(&u->groups[g], opts)) {
			u->groups[kept++] = u->groups[g];
			u->total += u->groups[g].n;
		} else {
			free_group(u, &u->groups[g]);
		}
	}
	u->ngroups = kept;
	if (kept > 1)
		qsort(u->groups, kept, sizeof(*u->groups), cmp_group);
	*out = u;
	return 0;
}

static bool unique_ok(const khang_unique_stacks *u)
{
	return u && u->magic == KH_UNIQUE_MAGIC;
}

KHANG_API size_t khang_unique_stacks_count(const khang_unique_stacks *u)
{
	return unique_ok(u) ? u->ngroups : 0;
}

KHANG_API size_t khang_unique_stacks_thread_total(const khang_unique_stacks *u)
{
	return unique_ok(u) ? u->total : 0;
}

KHANG_API size_t khang_unique_stacks_walked(const khang_unique_stacks *u)
{
	return unique_ok(u) ? u->walked : 0;
}

KHANG_API uint32_t khang_unique_stacks_skipped(const khang_unique_stacks *u)
{
	return unique_ok(u) ? u->skipped : 0;
}

KHANG_API khang_stack *khang_unique_stacks_stack(const khang_unique_stacks *u, size_t group)
{
	return unique_ok(u) && group < u->ngroups ? u->groups[group].stack : NULL;
}

KHANG_API size_t khang_unique_stacks_thread_count(const khang_unique_stacks *u, size_t group)
{
	return unique_ok(u) && group < u->ngroups ? u->groups[group].n : 0;
}

KHANG_API const khang_thread *khang_unique_stacks_thread(const khang_unique_stacks *u, size_t group, size_t index)
{
	if (!unique_ok(u) || group >= u->ngroups || index >= u->groups[group].n)
		return NULL;
	return u->groups[group].threads[index];
}

KHANG_API void khang_unique_stacks_free(khang_unique_stacks *u)
{
	if (!unique_ok(u))
		return;
	for (size_t g = 0; g < u->ngroups; g++)
		free_group(u, &u->groups[g]);
	u->magic = 0;
	kh_free(&u->src->alloc, u->groups);
	kh_free(&u->src->alloc, u->slots);
	kh_free(&u->src->alloc, u);
}

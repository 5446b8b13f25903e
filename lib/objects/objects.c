/* The object layer's per-source cache, bounded structure reads, lookups of
 * objects by address, and time conversions. */
#include <stdio.h>
#include <stdlib.h>

#include "objects.h"

/* ---- the cache ---------------------------------------------------------------- */

static void objects_free(khang_source *src)
{
	kh_objects *o = src->objects;
	const kh_alloc *a = &src->alloc;
	if (!o)
		return;
	for (size_t i = 0; i < o->nprocs; i++) {
		khang_process *p = &o->procs[i];
		for (size_t j = 0; j < p->nthreads; j++) {
			kh_free(a, p->threads[j].waits);
			kh_free(a, p->threads[j].irps);
			p->threads[j].magic = 0;
		}
		kh_free(a, p->threads);
		kh_free(a, p->image_path);
		p->magic = 0;
	}
	for (size_t i = 0; i < o->nxthreads; i++) {
		kh_free(a, o->xthreads[i]->waits);
		kh_free(a, o->xthreads[i]->irps);
		o->xthreads[i]->magic = 0;
		kh_free(a, o->xthreads[i]);
	}
	for (size_t i = 0; i < o->nxprocs; i++) {
		khang_process *p = o->xprocs[i];
		for (size_t j = 0; j < p->nthreads; j++) {
			kh_free(a, p->threads[j].waits);
			kh_free(a, p->threads[j].irps);
		}
		kh_free(a, p->threads);
		kh_free(a, p->image_path);
		p->magic = 0;
		kh_free(a, p);
	}
	for (uint32_t i = 0; i < o->ncpus; i++)
		o->cpus[i].magic = 0;
	kh_free(a, o->xthreads);
	kh_free(a, o->xprocs);
	kh_free(a, o->threads_by_va);
	kh_free(a, o->threads_by_tid);
	kh_free(a, o->procs_by_pid);
	kh_free(a, o->procs_by_va);
	kh_free(a, o->procs);
	kh_free(a, o->cpus);
	kh_free(a, o);
	src->objects = NULL;
	src->objects_free = NULL;
}

static int64_t enum_value(const kh_layout *l, kh_enum_id e, const char *name, int64_t fallback)
{
	int64_t v;
	return kh_layout_enum_value(l, e, name, &v) ? v : fallback;
}

/* _KOBJECTS names -> normalised types. */
static const struct {
	const char *name;
	khang_dispatcher_type type;
} dispatcher_names[] = {
	{ "EventNotificationObject", KHANG_OBJECT_EVENT_NOTIFICATION },
	{ "EventSynchronizationObject", KHANG_OBJECT_EVENT_SYNCHRONIZATION },
	{ "MutantObject", KHANG_OBJECT_MUTANT },
	{ "ProcessObject", KHANG_OBJECT_PROCESS },
	{ "QueueObject", KHANG_OBJECT_QUEUE },
	{ "SemaphoreObject", KHANG_OBJECT_SEMAPHORE },
	{ "ThreadObject", KHANG_OBJECT_THREAD },
	{ "GateObject", KHANG_OBJECT_GATE },
	{ "TimerNotificationObject", KHANG_OBJECT_TIMER_NOTIFICATION },
	{ "TimerSynchronizationObject", KHANG_OBJECT_TIMER_SYNCHRONIZATION },
	{ "PriQueueObject", KHANG_OBJECT_PRIQUEUE },
	{ "EventPairObject", KHANG_OBJECT_EVENT_PAIR },
};

/* The values of Windows 7 to 11 (0..9 are the same everywhere), used when
 * a layout carries no _KOBJECTS names. */
static const khang_dispatcher_type dispatcher_fallback[10] = {
	KHANG_OBJECT_EVENT_NOTIFICATION, KHANG_OBJECT_EVENT_SYNCHRONIZATION, KHANG_OBJECT_MUTANT,
	KHANG_OBJECT_PROCESS, KHANG_OBJECT_QUEUE, KHANG_OBJECT_SEMAPHORE, KHANG_OBJECT_THREAD,
	KHANG_OBJECT_GATE, KHANG_OBJECT_TIMER_NOTIFICATION, KHANG_OBJECT_TIMER_SYNCHRONIZATION,
};

static void init_constants(kh_objects *o)
{
	const kh_layout *l = o->l;
	o->type_thread = enum_value(l, KH_E_KOBJECTS, "ThreadObject", 6);
	o->type_process = enum_value(l, KH_E_KOBJECTS, "ProcessObject", 3);
	o->type_mutant = enum_value(l, KH_E_KOBJECTS, "MutantObject", 2);
	o->state_waiting = enum_value(l, KH_E_KTHREAD_STATE, "Waiting", KHANG_THREAD_WAITING);
	o->state_ready = enum_value(l, KH_E_KTHREAD_STATE, "Ready", KHANG_THREAD_READY);
	for (int v = 0; v < 256; v++) {
		const char *n = kh_layout_enum_name(l, KH_E_KOBJECTS, v);
		khang_dispatcher_type t = KHANG_OBJECT_UNKNOWN;
		if (n) {
			t = KHANG_OBJECT_OTHER;
			for (size_t i = 0; i < KH_ARRAY_SIZE(dispatcher_names); i++)
				if (strcmp(n, dispatcher_names[i].name) == 0)
					t = dispatcher_names[i].type;
		} else if (!kh_layout_enum_name(l, KH_E_KOBJECTS, 0) && v < 10) {
			t = dispatcher_fallback[v];
		}
		o->dispatcher[v] = (uint8_t)t;
	}
}

/* nt!KeTimeIncrement: from kernel discovery, or else through the
 * KDDEBUGGER_DATA64 block's KeTimeIncrement field (+0x78, the variable's
 * address), which layouts without symbols (x86, by build) need. Kernel
 * discovery does not use that field yet; this is the object layer's own
 * fallback until it does. */
#define KDBG_KETIMEINCREMENT 0x78
static uint32_t time_increment(khang_source *src, const kh_kernel *k)
{
	uint32_t v;
	if (k->info.time_increment)
		return k->info.time_increment;
	if (!k->info.kdbg_valid || k->kdbg_len < KDBG_KETIMEINCREMENT + 8)
		return 0;
	uint64_t va = kh_le64(k->kdbg + KDBG_KETIMEINCREMENT);
	if (k->x86)
		va &= 0xFFFFFFFFull;
	/* 1 ms to 1 s, in 100 ns units */
	if (!va || kh_vread_u32(src, 0, va, &v) < 0 || v < 10000 || v > 10000000)
		return 0;
	return v;
}

int kh_objects_get(khang_source *src, kh_objects **out)
{
	kh_kernel *k;
	*out = NULL;
	if (src->objects) {
		*out = src->objects;
		return 0;
	}
	int rc = kh_kernel_get(src, &k);
	if (rc < 0)
		return rc;
	if (!k->layout)
		return kh_error(KHANG_EUNSUPPORTED,
		                "limited mode: no kernel structure layout fits this dump (%s); processors, processes "
		                "and threads need one (give an ISF file)",
		                k->info.layout_note);
	kh_objects *o = kh_calloc(&src->alloc, 1, sizeof(*o));
	if (!o)
		return KHANG_ENOMEM;
	o->src = src;
	o->k = k;
	o->l = k->layout;
	o->ps = kh_ptr_size(src);
	o->time_increment = time_increment(src, k);
	uint64_t cap = (uint64_t)(src->max_list ? src->max_list : 1) * KH_THREAD_CAP_FACTOR;
	o->thread_cap = cap;
	init_constants(o);
	src->objects = o;
	src->objects_free = objects_free;
	*out = o;
	return 0;
}

/* ---- structure reads -------------------------------------------------------- */

int kh_objbuf_read(kh_objects *o, uint64_t va, uint32_t len)
{
	kh_objbuf *b = &o->ob;
	if (len > KH_OBJBUF_MAX)
		len = KH_OBJBUF_MAX;
	b->va = va;
	b->len = len;
	b->valid = 0;
	uint32_t done = 0;
	unsigned page = 0;
	while (done < len && page < 64) {
		uint64_t at = va + done;
		if (at < va) /* wrapped around the address space */
			break;
		uint32_t chunk = (uint32_t)KH_MIN((uint64_t)(len - done), 0x1000 - (at & 0xFFF));
		if (kh_vread(o->src, 0, at, b->data + done, chunk) == 0)
			b->valid |= 1ull << page;
		else
			memset(b->data + done, 0, chunk);
		done += chunk;
		page++;
	}
	return b->valid ? 0 : KHANG_ENOTPRESENT;
}

/* true if bytes [off, off + n) of the buffer are in readable pages */
static bool span_valid(const kh_objbuf *b, uint64_t off, uint64_t n)
{
	if (n == 0 || !kh_span_ok(b->len, off, n))
		return false;
	uint64_t first = ((b->va & 0xFFF) + off) >> 12, last = ((b->va & 0xFFF) + off + n - 1) >> 12;
	for (uint64_t p = first; p <= last; p++)
		if (p >= 64 || !(b->valid & (1ull << p)))
			return false;
	return true;
}

int kh_ob_type(const kh_objects *o, uint32_t base, uint64_t *out)
{
	/* DISPATCHER_HEADER.Type is its first byte on every Windows version;
	 * partial layouts may not describe DISPATCHER_HEADER */
	if (kh_layout_has(o->l, KH_F_DISPATCHER_HEADER_Type))
		return kh_ob_u64(o, base, KH_F_DISPATCHER_HEADER_Type, out);
	if (!span_valid(&o->ob, base, 1))
		return KHANG_ENOTPRESENT;
	*out = o->ob.data[base];
	return 0;
}

uint32_t kh_off(const kh_objects *o, kh_field_id id)
{
	const kh_field *f = kh_layout_field(o->l, id);
	return kh_field_present(f) ? f->offset : 0;
}

int kh_ob_u64(const kh_objects *o, uint32_t base, kh_field_id id, uint64_t *out)
{
	const kh_field *f = kh_layout_field(o->l, id);
	if (!kh_field_present(f))
		return KHANG_ENOTFOUND;
	uint64_t off = (uint64_t)base + f->offset;
	if (!span_valid(&o->ob, off, f->size))
		return KHANG_ENOTPRESENT;
	if (off > o->ob.len)
		return KHANG_ENOTPRESENT;
	/* kh_layout_get_u64 reads relative to the structure's start */
	int rc = kh_layout_get_u64(o->l, id, o->ob.data + base, o->ob.len - base, out);
	if (rc < 0)
		return rc;
	if (f->kind == KH_FK_POINTER && o->ps == 4)
		*out &= 0xFFFFFFFFull;
	return 0;
}

int kh_ob_bytes(const kh_objects *o, uint32_t base, kh_field_id id, void *dst, size_t n)
{
	const kh_field *f = kh_layout_field(o->l, id);
	if (!kh_field_present(f))
		return KHANG_ENOTFOUND;
	if (n > f->size)
		n = f->size;
	uint64_t off = (uint64_t)base + f->offset;
	if (!span_valid(&o->ob, off, n))
		return KHANG_ENOTPRESENT;
	memcpy(dst, o->ob.data + off, n);
	return 0;
}

bool kh_list_uninitialised(khang_source *src, uint64_t head)
{
	uint64_t flink, blink;
	return kh_vread_ptr(src, 0, head, &flink) == 0 && flink == 0 &&
	       kh_vread_ptr(src, 0, head + kh_ptr_size(src), &blink) == 0 && blink == 0;
}

/* ---- extras: objects read from an address ---------------------------------- */

static size_t lower_bound_thread(khang_thread *const *arr, size_t n, uint64_t va)
{
	size_t lo = 0, hi = n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (arr[mid]->va < va)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static size_t lower_bound_process(khang_process *const *arr, size_t n, uint64_t va)
{
	size_t lo = 0, hi = n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (arr[mid]->va < va)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

int kh_find_process(kh_objects *o, uint64_t va, khang_process **out)
{
	const kh_alloc *a = &o->src->alloc;
	*out = NULL;
	/* without the active list (unreadable), processes are still read from
	 * their address */
	int rc = kh_load_processes(o);
	if (rc == KHANG_ENOMEM)
		return rc;
	size_t pos = lower_bound_process(o->procs_by_va, o->nprocs, va);
	if (pos < o->nprocs && o->procs_by_va[pos]->va == va) {
		*out = o->procs_by_va[pos];
		return 0;
	}
	pos = lower_bound_process(o->xprocs, o->nxprocs, va);
	if (pos < o->nxprocs && o->xprocs[pos]->va == va) {
		*out = o->xprocs[pos];
		return 0;
	}
	if (o->nxprocs >= KH_MAX_EXTRAS)
		return kh_error(KHANG_ELIMIT, "process 0x%llx: more than %u processes read from addresses",
		                (unsigned long long)va, KH_MAX_EXTRAS);
	khang_process tmp;
	rc = kh_process_decode(o, va, &tmp);
	if (rc < 0)
		return rc;
	khang_process **arr = kh_reallocarray(a, o->xprocs, o->nxprocs + 1, sizeof(*arr));
	if (!arr)
		return KHANG_ENOMEM;
	o->xprocs = arr;
	khang_process *p = kh_malloc(a, sizeof(*p));
	if (!p)
		return KHANG_ENOMEM;
	*p = tmp;
	memmove(arr + pos + 1, arr + pos, (o->nxprocs - pos) * sizeof(*arr));
	arr[pos] = p;
	o->nxprocs++;
	*out = p;
	return 0;
}

int kh_find_thread(kh_objects *o, uint64_t va, khang_thread **out)
{
	const kh_alloc *a = &o->src->alloc;
	*out = NULL;
	int rc = kh_load_all_threads(o);
	if (rc == KHANG_ENOMEM)
		return rc;
	size_t pos = lower_bound_thread(o->threads_by_va, o->nthreads_all, va);
	if (pos < o->nthreads_all && o->threads_by_va[pos]->va == va) {
		*out = o->threads_by_va[pos];
		return 0;
	}
	pos = lower_bound_thread(o->xthreads, o->nxthreads, va);
	if (pos < o->nxthreads && o->xthreads[pos]->va == va) {
		*out = o->xthreads[pos];
		return 0;
	}
	if (o->nxthreads >= KH_MAX_EXTRAS)
		return kh_error(KHANG_ELIMIT, "thread 0x%llx: more than %u threads read from addresses",
		                (unsigned long long)va, KH_MAX_EXTRAS);
	khang_thread tmp;
	rc = kh_thread_decode(o, va, 0, &tmp);
	if (rc < 0)
		return rc;
	khang_thread **arr = kh_reallocarray(a, o->xthreads, o->nxthreads + 1, sizeof(*arr));
	if (!arr)
		return KHANG_ENOMEM;
	o->xthreads = arr;
	khang_thread *t = kh_malloc(a, sizeof(*t));
	if (!t)
		return KHANG_ENOMEM;
	*t = tmp;
	memmove(arr + pos + 1, arr + pos, (o->nxthreads - pos) * sizeof(*arr));
	arr[pos] = t;
	o->nxthreads++;
	*out = t;
	return 0;
}

/* ---- time ----------------------------------------------------------------------- */

int64_t kh_ticks_since_ms(const kh_objects *o, uint32_t tick)
{
	const khang_kernel_info *ki = &o->k->info;
	if (!ki->tick_multiplier)
		return -1;
	uint32_t delta = (uint32_t)ki->tick_count - tick;
	return (int64_t)(((uint64_t)delta * ki->tick_multiplier) >> 24);
}

int64_t kh_ticks_ms(const kh_objects *o, uint64_t ticks)
{
	uint32_t inc = o->time_increment;
	if (!inc || ticks > UINT64_MAX / inc)
		return -1;
	return (int64_t)(ticks * inc / 10000);
}

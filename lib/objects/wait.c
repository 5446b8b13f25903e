/* Wait blocks of waiting threads and the dispatcher objects they wait on.
 *
 * Windows 7 (x64 and x86): KTHREAD.WaitBlockList points to the first
 * KWAIT_BLOCK; the blocks are chained through KWAIT_BLOCK.NextWaitBlock, the
 * last pointing back to the first. Windows 8 and later: there is no
 * NextWaitBlock; KTHREAD.WaitBlockList points to an array of
 * KTHREAD.WaitBlockCount blocks (KTHREAD.WaitBlock itself for up to three
 * objects, the caller's array beyond). The layout tells which: it has
 * KWAIT_BLOCK.NextWaitBlock exactly on Windows 7. */
#include <stdio.h>

#include "objects.h"

#define MAX_BLOCK_SIZE 0x100u

static const char *const type_names[] = {
	[KHANG_OBJECT_UNKNOWN] = "Unknown",
	[KHANG_OBJECT_EVENT_NOTIFICATION] = "NotificationEvent",
	[KHANG_OBJECT_EVENT_SYNCHRONIZATION] = "SynchronizationEvent",
	[KHANG_OBJECT_MUTANT] = "Mutant",
	[KHANG_OBJECT_PROCESS] = "Process",
	[KHANG_OBJECT_QUEUE] = "Queue",
	[KHANG_OBJECT_SEMAPHORE] = "Semaphore",
	[KHANG_OBJECT_THREAD] = "Thread",
	[KHANG_OBJECT_GATE] = "Gate",
	[KHANG_OBJECT_TIMER_NOTIFICATION] = "NotificationTimer",
	[KHANG_OBJECT_TIMER_SYNCHRONIZATION] = "SynchronizationTimer",
	[KHANG_OBJECT_PRIQUEUE] = "PriQueue",
	[KHANG_OBJECT_EVENT_PAIR] = "EventPair",
	[KHANG_OBJECT_OTHER] = "Other",
};

KHANG_API const char *khang_dispatcher_type_name(khang_dispatcher_type type)
{
	if ((unsigned)type >= KH_ARRAY_SIZE(type_names))
		return "Unknown";
	return type_names[type];
}

/* Decode the block at va into w; false when it cannot be read. */
static bool read_block(kh_objects *o, uint64_t va, uint32_t bsize, kh_wait *w, uint64_t *next)
{
	const kh_layout *l = o->l;
	uint8_t b[MAX_BLOCK_SIZE];
	uint64_t v;
	if (kh_vread(o->src, 0, va, b, bsize) < 0)
		return false;
	memset(w, 0, sizeof(*w));
	w->block = va;
	w->raw_type = -1;
	w->block_state = -1;
	w->wait_type = -1;
	w->wait_key = -1;
	if (kh_layout_get_u64(l, KH_F_KWAIT_BLOCK_Object, b, bsize, &v) == 0)
		w->object = o->ps == 4 ? v & 0xFFFFFFFFull : v;
	if (kh_layout_get_u64(l, KH_F_KWAIT_BLOCK_WaitType, b, bsize, &v) == 0)
		w->wait_type = (int8_t)(v & 0x7F);
	if (kh_layout_get_u64(l, KH_F_KWAIT_BLOCK_WaitKey, b, bsize, &v) == 0)
		w->wait_key = (int32_t)(v & 0xFFFF);
	if (kh_layout_get_u64(l, KH_F_KWAIT_BLOCK_BlockState, b, bsize, &v) == 0)
		w->block_state = (int16_t)(v & 0xFF);
	if (next)
		*next = 0;
	if (next && kh_layout_get_u64(l, KH_F_KWAIT_BLOCK_NextWaitBlock, b, bsize, &v) == 0)
		*next = o->ps == 4 ? v & 0xFFFFFFFFull : v;
	/* the object's dispatcher header: Type is its first byte and
	 * SignalState the 32 bits at +4 on every Windows version, which
	 * layouts without DISPATCHER_HEADER (partial ones) rely on */
	uint32_t hsize = kh_layout_struct_size(l, KH_S_DISPATCHER_HEADER);
	bool described = hsize && kh_layout_has(l, KH_F_DISPATCHER_HEADER_Type);
	uint8_t h[0x40];
	if (!described)
		hsize = 8;
	if (w->object && hsize <= sizeof(h) && kh_vread(o->src, 0, w->object, h, hsize) == 0) {
		if (!described || kh_layout_get_u64(l, KH_F_DISPATCHER_HEADER_Type, h, hsize, &v) < 0)
			v = h[0];
		w->raw_type = (int16_t)(v & 0xFF);
		if (!described || kh_layout_get_u64(l, KH_F_DISPATCHER_HEADER_SignalState, h, hsize, &v) < 0)
			v = kh_le32(h + 4);
		w->signal = (int32_t)(uint32_t)v;
		if (w->raw_type == o->type_mutant &&
		    kh_read_field(o->src, 0, w->object, l, KH_F_KMUTANT_OwnerThread, &v) == 0)
			w->owner = v;
	}
	return true;
}

int kh_thread_load_waits(khang_thread *t)
{
	kh_objects *o = t->o;
	const kh_layout *l = o->l;
	khang_source *src = o->src;
	kh_wait tmp[KH_MAX_WAIT_BLOCKS];
	size_t n = 0;

	if (t->waits_loaded)
		return 0;
	uint32_t bsize = kh_layout_struct_size(l, KH_S_KWAIT_BLOCK);
	if (!(t->have & KH_T_STATE) || t->state != o->state_waiting || !(t->have & KH_T_WAIT_BLOCKS) ||
	    !t->wait_block_list || !bsize || bsize > MAX_BLOCK_SIZE || !kh_layout_has(l, KH_F_KWAIT_BLOCK_Object)) {
		t->waits_loaded = true;
		return 0;
	}
	if (kh_layout_has(l, KH_F_KWAIT_BLOCK_NextWaitBlock)) {
		/* Windows 7: a circular chain */
		uint64_t first = t->wait_block_list, b = first, seen[KH_MAX_WAIT_BLOCKS];
		for (;;) {
			uint64_t next;
			if (!read_block(o, b, bsize, &tmp[n], &next)) {
				t->waits_skipped++;
				kh_source_warn(src, "thread 0x%llx: wait block 0x%llx is not in the dump", (unsigned long long)t->va,
				               (unsigned long long)b);
				break;
			}
			seen[n++] = b;
			if (next == first)
				break;
			bool loop = next == 0;
			for (size_t i = 0; i < n && !loop; i++)
				loop = seen[i] == next;
			if (loop || n == KH_MAX_WAIT_BLOCKS) {
				t->waits_skipped++;
				kh_source_warn(src, "thread 0x%llx: wait block chain %s after %zu blocks", (unsigned long long)t->va,
				               loop ? "loops" : "is too long", n);
				break;
			}
			b = next;
		}
	} else {
		/* Windows 8 and later: an array */
		uint32_t count = t->wait_block_count;
		if (count > KH_MAX_WAIT_BLOCKS) {
			/* no wait has more than 64 objects: the count is damaged, and
			 * what follows the real blocks would be read as blocks */
			t->waits_skipped++;
			kh_source_warn(src, "thread 0x%llx: WaitBlockCount %u is more than %u; wait blocks not read",
			               (unsigned long long)t->va, count, KH_MAX_WAIT_BLOCKS);
			count = 0;
		}
		for (uint32_t i = 0; i < count; i++) {
			uint64_t b = t->wait_block_list + (uint64_t)i * bsize;
			if (!read_block(o, b, bsize, &tmp[n], NULL)) {
				t->waits_skipped++;
				kh_source_warn(src, "thread 0x%llx: wait block %u (0x%llx) is not in the dump",
				               (unsigned long long)t->va, i, (unsigned long long)b);
				continue;
			}
			n++;
		}
	}
	if (n) {
		t->waits = kh_calloc(&src->alloc, n, sizeof(*t->waits));
		if (!t->waits) {
			t->waits_skipped = 0;
			return KHANG_ENOMEM;
		}
		memcpy(t->waits, tmp, n * sizeof(*tmp));
	}
	t->nwaits = (uint16_t)n;
	t->waits_loaded = true;
	return 0;
}

KHANG_API int khang_thread_wait_count(const khang_thread *ct)
{
	if (!kh_thread_ok(ct))
		return kh_error(KHANG_EINVAL, "khang_thread_wait_count: NULL or invalid thread");
	khang_thread *t = (khang_thread *)ct;
	int rc = kh_thread_load_waits(t);
	return rc < 0 ? rc : t->nwaits;
}

KHANG_API uint32_t khang_thread_wait_skipped(const khang_thread *ct)
{
	if (!kh_thread_ok(ct))
		return 0;
	khang_thread *t = (khang_thread *)ct;
	if (kh_thread_load_waits(t) < 0)
		return 0;
	return t->waits_skipped;
}

KHANG_API int khang_thread_wait_object(khang_wait_object *out, const khang_thread *ct, size_t index)
{
	if (!out || !kh_thread_ok(ct) || out->size < offsetof(khang_wait_object, type))
		return kh_error(KHANG_EINVAL, "khang_thread_wait_object: NULL or invalid argument (set out->size)");
	khang_thread *t = (khang_thread *)ct;
	kh_objects *o = t->o;
	int rc = kh_thread_load_waits(t);
	if (rc < 0)
		return rc;
	if (index >= t->nwaits)
		return kh_error(KHANG_ENOTFOUND, "thread 0x%llx has %u wait blocks, not %zu", (unsigned long long)t->va,
		                (unsigned)t->nwaits, index + 1);
	const kh_wait *w = &t->waits[index];
	khang_wait_object tmp;
	memset(&tmp, 0, sizeof(tmp));
	tmp.wait_block = w->block;
	tmp.object = w->object;
	tmp.raw_type = w->raw_type;
	tmp.type = w->raw_type >= 0 ? (khang_dispatcher_type)o->dispatcher[w->raw_type & 0xFF] : KHANG_OBJECT_UNKNOWN;
	tmp.type_name = khang_dispatcher_type_name(tmp.type);
	if (tmp.type == KHANG_OBJECT_OTHER) {
		const char *n = kh_layout_enum_name(o->l, KH_E_KOBJECTS, w->raw_type);
		if (n)
			tmp.type_name = n;
	}
	tmp.signal_state = w->signal;
	tmp.wait_type = w->wait_type;
	tmp.wait_key = w->wait_key;
	tmp.block_state = w->block_state;
	const char *bs = w->block_state >= 0 ? kh_layout_enum_name(o->l, KH_E_KWAIT_BLOCK_STATE, w->block_state) : NULL;
	tmp.block_state_name = bs ? bs : "";
	tmp.owner_address = w->owner;
	khang_thread *th;
	khang_process *pr;
	if (tmp.type == KHANG_OBJECT_MUTANT && w->owner && kh_find_thread(o, w->owner, &th) == 0)
		tmp.owner = th;
	if (tmp.type == KHANG_OBJECT_THREAD && kh_find_thread(o, w->object, &th) == 0)
		tmp.thread = th;
	if (tmp.type == KHANG_OBJECT_PROCESS && kh_find_process(o, w->object, &pr) == 0)
		tmp.process = pr;
	size_t n = KH_MIN(out->size, sizeof(tmp));
	tmp.size = n;
	memcpy(out, &tmp, n);
	return 0;
}

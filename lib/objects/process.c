/* Processes: the active process list, lookups and accessors. */
#include <stdio.h>
#include <stdlib.h>

#include "objects.h"

#define MAX_FREE_LISTS 128u  /* handle table free lists summed at most */

struct khang_process_iter {
	kh_objects *o;
	size_t next;
};

/* ---- decoding ------------------------------------------------------------------ */

int kh_process_decode(kh_objects *o, uint64_t va, khang_process *p)
{
	const kh_layout *l = o->l;
	uint64_t v;
	memset(p, 0, sizeof(*p));
	p->magic = KH_PROC_MAGIC;
	p->o = o;
	p->va = va;
	p->active_threads = -1;
	p->base_priority = -1;
	p->exiting = -1;
	p->gui = -1;
	p->session_id = -1;
	p->handle_count = -1;

	uint32_t size = kh_layout_struct_size(l, KH_S_EPROCESS);
	if (!size)
		size = kh_off(o, KH_F_EPROCESS_ImageFileName) + 0x100;
	if (kh_objbuf_read(o, va, size) < 0)
		return kh_error(KHANG_ENOTPRESENT, "process 0x%llx: not in the dump", (unsigned long long)va);
	/* KPROCESS.Header.Type: the DISPATCHER_HEADER at offset 0 */
	uint32_t hdr = kh_off(o, KH_F_KPROCESS_Header);
	if (kh_ob_type(o, hdr, &v) < 0)
		return kh_error(KHANG_ENOTPRESENT, "process 0x%llx: header not in the dump", (unsigned long long)va);
	if ((int64_t)v != o->type_process)
		return kh_error(KHANG_ECORRUPT, "0x%llx is not a process (object type %llu)", (unsigned long long)va,
		                (unsigned long long)v);
	if (kh_ob_u64(o, 0, KH_F_EPROCESS_UniqueProcessId, &v) == 0) {
		p->pid = v;
		p->have |= KH_P_PID;
	}
	if (kh_ob_u64(o, 0, KH_F_EPROCESS_InheritedFromUniqueProcessId, &v) == 0) {
		p->ppid = v;
		p->have |= KH_P_PPID;
	}
	char name[16] = { 0 };
	if (kh_ob_bytes(o, 0, KH_F_EPROCESS_ImageFileName, name, 15) == 0) {
		/* printable ASCII only: a name is shown and put in JSON */
		for (int i = 0; i < 15 && name[i]; i++)
			p->name[i] = (name[i] >= 0x20 && name[i] < 0x7F) ? name[i] : '?';
		p->have |= KH_P_NAME;
	}
	if (kh_ob_u64(o, 0, KH_F_KPROCESS_DirectoryTableBase, &v) == 0)
		p->dtb = v;
	if (kh_ob_u64(o, 0, KH_F_EPROCESS_Peb, &v) == 0)
		p->peb = v;
	uint8_t t8[8];
	if (kh_ob_bytes(o, 0, KH_F_EPROCESS_CreateTime, t8, 8) == 0)
		p->create_time = kh_le64(t8);
	if (kh_ob_bytes(o, 0, KH_F_EPROCESS_ExitTime, t8, 8) == 0)
		p->exit_time = kh_le64(t8);
	if (kh_ob_u64(o, 0, KH_F_EPROCESS_Session, &v) == 0)
		p->session = v;
	if (kh_ob_u64(o, 0, KH_F_EPROCESS_ObjectTable, &v) == 0)
		p->object_table = v;
	if (kh_ob_u64(o, 0, KH_F_EPROCESS_ImageFileNameInfo, &v) == 0)
		p->image_name_info = v;
	if (kh_ob_u64(o, 0, KH_F_EPROCESS_ActiveThreads, &v) == 0)
		p->active_threads = (int64_t)v;
	if (kh_ob_u64(o, 0, KH_F_KPROCESS_BasePriority, &v) == 0)
		p->base_priority = (int64_t)(int8_t)v;
	if (kh_ob_u64(o, 0, KH_F_EPROCESS_Win32Process, &v) == 0)
		p->gui = v != 0;
	uint64_t exiting, deleted;
	if (kh_ob_u64(o, 0, KH_F_EPROCESS_ProcessExiting, &exiting) == 0 &&
	    kh_ob_u64(o, 0, KH_F_EPROCESS_ProcessDelete, &deleted) == 0)
		p->exiting = exiting || deleted || p->exit_time;
	p->session_tried = p->handles_tried = p->image_path_tried = false;
	return 0;
}

/* ---- the active process list --------------------------------------------------- */

typedef struct vec64 {
	const kh_alloc *a;
	uint64_t *v;
	size_t n, cap;
} vec64;

static int vec_push(vec64 *v, uint64_t x)
{
	if (v->n == v->cap) {
		size_t ncap = v->cap ? v->cap * 2 : 64;
		uint64_t *nv = kh_reallocarray(v->a, v->v, ncap, sizeof(*nv));
		if (!nv)
			return KHANG_ENOMEM;
		v->v = nv;
		v->cap = ncap;
	}
	v->v[v->n++] = x;
	return 0;
}

static int collect(uint64_t entry, void *payload)
{
	return vec_push(payload, entry);
}

static int cmp_pid(const void *a, const void *b)
{
	const khang_process *x = *(khang_process *const *)a, *y = *(khang_process *const *)b;
	if (x->pid != y->pid)
		return x->pid < y->pid ? -1 : 1;
	return x->va < y->va ? -1 : x->va > y->va; /* stable: list order by address is not kept, fine */
}

static int cmp_va(const void *a, const void *b)
{
	const khang_process *x = *(khang_process *const *)a, *y = *(khang_process *const *)b;
	return x->va < y->va ? -1 : x->va > y->va;
}

static int load_processes(kh_objects *o)
{
	khang_source *src = o->src;
	const kh_alloc *a = &src->alloc;
	uint64_t head = o->k->ps_active_process_head;
	if (!kh_layout_has(o->l, KH_F_EPROCESS_ActiveProcessLinks) || !kh_layout_has(o->l, KH_F_EPROCESS_UniqueProcessId))
		return kh_error(KHANG_EUNSUPPORTED, "processes: the layout %s has no EPROCESS.ActiveProcessLinks",
		                khang_layout_description((const khang_layout *)o->l));
	if (!head)
		return kh_error(KHANG_ENOTFOUND, "processes: nt!PsActiveProcessHead is unknown");
	vec64 entries = { a, NULL, 0, 0 };
	uint32_t n;
	bool broken;
	int rc = kh_walk_list(src, head, collect, &entries, &n, &broken);
	if (rc < 0) {
		kh_free(a, entries.v);
		return rc;
	}
	if (broken) {
		o->procs_skipped++;
		kh_source_warn(src, "process list: walk stopped after %u entries (unreadable link, loop or limit)", n);
	}
	uint32_t off = kh_layout_offset(o->l, KH_F_EPROCESS_ActiveProcessLinks);
	if (entries.n) {
		o->procs = kh_calloc(a, entries.n, sizeof(*o->procs));
		if (!o->procs) {
			kh_free(a, entries.v);
			return KHANG_ENOMEM;
		}
	}
	for (size_t i = 0; i < entries.n; i++) {
		uint64_t va = entries.v[i] - off;
		khang_process *p = &o->procs[o->nprocs];
		if (kh_process_decode(o, va, p) < 0) {
			o->procs_skipped++;
			kh_source_warn(src, "process list entry %zu: %s", i, khang_error_last());
			memset(p, 0, sizeof(*p));
			continue;
		}
		o->nprocs++;
	}
	kh_free(a, entries.v);
	if (o->nprocs) {
		o->procs_by_pid = kh_calloc(a, o->nprocs, sizeof(*o->procs_by_pid));
		o->procs_by_va = kh_calloc(a, o->nprocs, sizeof(*o->procs_by_va));
		if (!o->procs_by_pid || !o->procs_by_va)
			return KHANG_ENOMEM;
		for (size_t i = 0; i < o->nprocs; i++)
			o->procs_by_pid[i] = o->procs_by_va[i] = &o->procs[i];
		qsort(o->procs_by_pid, o->nprocs, sizeof(*o->procs_by_pid), cmp_pid);
		qsort(o->procs_by_va, o->nprocs, sizeof(*o->procs_by_va), cmp_va);
	}
	return 0;
}

int kh_load_processes(kh_objects *o)
{
	if (!o->procs_loaded) {
		o->procs_loaded = true;
		o->procs_status = load_processes(o);
		if (o->procs_status < 0)
			kh_copy_str(o->procs_msg, sizeof(o->procs_msg), khang_error_last());
	}
	if (o->procs_status < 0)
		return kh_error(o->procs_status, "%s", o->procs_msg);
	return 0;
}

static int processes_of(khang_source *src, kh_objects **out)
{
	int rc = kh_objects_get(src, out);
	if (rc < 0)
		return rc;
	return kh_load_processes(*out);
}

/* ---- public: iteration and lookup -------------------------------------------- */

KHANG_API int khang_process_iter_new(khang_process_iter **out, khang_source *src)
{
	kh_objects *o;
	if (!out || !kh_source_ok(src))
		return kh_error(KHANG_EINVAL, "khang_process_iter_new: NULL or invalid argument");
	*out = NULL;
	int rc = processes_of(src, &o);
	if (rc < 0)
		return rc;
	khang_process_iter *it = kh_calloc(&src->alloc, 1, sizeof(*it));
	if (!it)
		return KHANG_ENOMEM;
	it->o = o;
	*out = it;
	return 0;
}

KHANG_API int khang_process_next(const khang_process **out, khang_process_iter *it)
{
	if (!out || !it)
		return kh_error(KHANG_EINVAL, "khang_process_next: NULL argument");
	if (it->next >= it->o->nprocs)
		return KHANG_ITEROVER;
	*out = &it->o->procs[it->next++];
	return 0;
}

KHANG_API void khang_process_iter_free(khang_process_iter *it)
{
	if (it)
		kh_free(&it->o->src->alloc, it);
}

KHANG_API uint32_t khang_process_iter_skipped(const khang_process_iter *it)
{
	return it ? it->o->procs_skipped : 0;
}

KHANG_API int khang_process_by_pid(const khang_process **out, khang_source *src, uint64_t pid)
{
	kh_objects *o;
	if (!out || !kh_source_ok(src))
		return kh_error(KHANG_EINVAL, "khang_process_by_pid: NULL or invalid argument");
	*out = NULL;
	int rc = processes_of(src, &o);
	if (rc < 0)
		return rc;
	size_t lo = 0, hi = o->nprocs;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (o->procs_by_pid[mid]->pid < pid)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo < o->nprocs && o->procs_by_pid[lo]->pid == pid && (o->procs_by_pid[lo]->have & KH_P_PID)) {
		*out = o->procs_by_pid[lo];
		return 0;
	}
	return kh_error(KHANG_ENOTFOUND, "no active process has PID %llu (0x%llx)", (unsigned long long)pid,
	                (unsigned long long)pid);
}

KHANG_API int khang_process_by_address(const khang_process **out, khang_source *src, uint64_t va)
{
	kh_objects *o;
	khang_process *p;
	if (!out || !kh_source_ok(src))
		return kh_error(KHANG_EINVAL, "khang_process_by_address: NULL or invalid argument");
	*out = NULL;
	int rc = kh_objects_get(src, &o);
	if (rc < 0)
		return rc;
	rc = kh_find_process(o, va, &p);
	if (rc < 0)
		return rc;
	*out = p;
	return 0;
}

/* ---- public: accessors ---------------------------------------------------------- */

KHANG_API uint64_t khang_process_address(const khang_process *p)
{
	return kh_process_ok(p) ? p->va : 0;
}

KHANG_API int64_t khang_process_pid(const khang_process *p)
{
	return kh_process_ok(p) && (p->have & KH_P_PID) ? (int64_t)p->pid : -1;
}

KHANG_API int64_t khang_process_parent_pid(const khang_process *p)
{
	return kh_process_ok(p) && (p->have & KH_P_PPID) ? (int64_t)p->ppid : -1;
}

KHANG_API const char *khang_process_name(const khang_process *p)
{
	return kh_process_ok(p) ? p->name : "";
}

KHANG_API const char *khang_process_image_path(const khang_process *cp)
{
	if (!kh_process_ok(cp))
		return "";
	khang_process *p = (khang_process *)cp; /* the cache is filled on first use */
	if (!p->image_path_tried) {
		p->image_path_tried = true;
		char buf[1600];
		if (p->image_name_info &&
		    kh_read_unicode_string(p->o->src, 0, p->image_name_info, buf, sizeof(buf)) == 0 && buf[0])
			p->image_path = kh_strdup(&p->o->src->alloc, buf);
	}
	return p->image_path ? p->image_path : "";
}

KHANG_API int64_t khang_process_session_id(const khang_process *cp)
{
	if (!kh_process_ok(cp))
		return -1;
	khang_process *p = (khang_process *)cp;
	if (!p->session_tried) {
		p->session_tried = true;
		uint64_t v;
		if (p->session && kh_read_field(p->o->src, 0, p->session, p->o->l, KH_F_MM_SESSION_SPACE_SessionId, &v) == 0)
			p->session_id = (int64_t)(uint32_t)v;
	}
	return p->session_id;
}

KHANG_API uint64_t khang_process_create_time(const khang_process *p)
{
	return kh_process_ok(p) ? p->create_time : 0;
}

KHANG_API uint64_t khang_process_exit_time(const khang_process *p)
{
	return kh_process_ok(p) ? p->exit_time : 0;
}

KHANG_API uint64_t khang_process_dtb(const khang_process *p)
{
	return kh_process_ok(p) ? p->dtb : 0;
}

KHANG_API int64_t khang_process_thread_count(const khang_process *p)
{
	return kh_process_ok(p) ? p->active_threads : -1;
}

/* nt!ExpFreeListCount: free lists per handle table on Windows 8 and later,
 * from the layout's symbols; 0 when unknown. */
static uint32_t free_list_count(kh_objects *o)
{
	kh_symbol sym;
	uint32_t n;
	if (!o->k->info.base || kh_layout_symbol_by_name(o->l, "ExpFreeListCount", &sym) != 0 || !sym.rva)
		return 0;
	if (kh_vread_u32(o->src, 0, o->k->info.base + sym.rva, &n) < 0 || n == 0 || n > MAX_FREE_LISTS)
		return 0;
	return n;
}

static int64_t read_handle_count(khang_process *p)
{
	kh_objects *o = p->o;
	const kh_layout *l = o->l;
	uint64_t v;
	if (!p->object_table)
		return -1;
	if (kh_layout_has(l, KH_F_HANDLE_TABLE_HandleCount)) /* Windows 7 */
		return kh_read_field(o->src, 0, p->object_table, l, KH_F_HANDLE_TABLE_HandleCount, &v) == 0
		           ? (int64_t)(int32_t)v
		           : -1;
	uint32_t lists = free_list_count(o);
	uint64_t base = kh_field_addr(l, p->object_table, KH_F_HANDLE_TABLE_FreeLists);
	uint32_t stride = kh_layout_struct_size(l, KH_S_HANDLE_TABLE_FREE_LIST);
	if (!lists || !base || !stride || !kh_layout_has(l, KH_F_HANDLE_TABLE_FREE_LIST_HandleCount))
		return -1;
	int64_t sum = 0;
	for (uint32_t i = 0; i < lists; i++) {
		if (kh_read_field(o->src, 0, base + (uint64_t)i * stride, l, KH_F_HANDLE_TABLE_FREE_LIST_HandleCount, &v) < 0)
			return -1;
		sum += (int32_t)v;
	}
	return sum;
}

KHANG_API int64_t khang_process_handle_count(const khang_process *cp)
{
	if (!kh_process_ok(cp))
		return -1;
	khang_process *p = (khang_process *)cp;
	if (!p->handles_tried) {
		p->handles_tried = true;
		p->handle_count = read_handle_count(p);
	}
	return p->handle_count;
}

KHANG_API uint64_t khang_process_peb(const khang_process *p)
{
	return kh_process_ok(p) ? p->peb : 0;
}

KHANG_API int khang_process_is_exiting(const khang_process *p)
{
	return kh_process_ok(p) ? p->exiting : -1;
}

KHANG_API int khang_process_is_gui(const khang_process *p)
{
	return kh_process_ok(p) ? p->gui : -1;
}

KHANG_API int64_t khang_process_base_priority(const khang_process *p)
{
	return kh_process_ok(p) ? p->base_priority : -1;
}

KHANG_API int khang_process_main_thread(const khang_thread **out, const khang_process *cp)
{
	if (!out || !kh_process_ok(cp))
		return kh_error(KHANG_EINVAL, "khang_process_main_thread: NULL or invalid argument");
	*out = NULL;
	khang_process *p = (khang_process *)cp;
	int rc = kh_load_threads(p->o, p);
	if (rc < 0)
		return rc;
	const khang_thread *best = NULL;
	for (size_t i = 0; i < p->nthreads; i++) {
		const khang_thread *t = &p->threads[i];
		if (!best || (t->create_time && (!best->create_time || t->create_time < best->create_time)))
			best = t;
	}
	if (!best)
		return kh_error(KHANG_ENOTFOUND, "process 0x%llx (%s) has no readable thread", (unsigned long long)p->va,
		                p->name);
	*out = best;
	return 0;
}

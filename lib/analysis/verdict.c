/*
 * khang_hang_verdict(): the wait-for graph and the hang rules.
 *
 * Graph: every waiting thread's wait blocks give "thread waits on object"
 * edges; a mutant's owner, a thread object's thread and the owners of an
 * ERESOURCE whose waiter event/semaphore is the object give "object owned
 * by thread" edges. A thread depends definitely on those owners when it
 * cannot be woken otherwise (WaitAll, or WaitAny on owned objects only).
 * Rules, in order: bugcheck (a crash; or a hang-type bugcheck whose
 * parameters name the culprit, see bugcheck.c), deadlock (a cycle of definite
 * dependencies), lock chain (the longest chain of long waits behind one
 * thread), CPU starvation (busy processors, ready threads waiting long),
 * no hang.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "analysis.h"
#include "khang/alpc.h"
#include "khang/irp.h"
#include "khang/stack.h"

#define DEFAULT_LONG_WAIT_MS 30000u
#define DEFAULT_READY_WAIT_MS 2000u
#define MAX_EDGES (1u << 20)
#define MAX_CHAIN 64

/* ---- builders ------------------------------------------------------------------ */

static char *vfmt(const kh_alloc *a, const char *fmt, va_list ap) KH_PRINTF(2, 0);
static char *vfmt(const kh_alloc *a, const char *fmt, va_list ap)
{
	kh_sb sb;
	char tmp[1024];
	vsnprintf(tmp, sizeof(tmp), fmt, ap);
	kh_sb_init(&sb, a);
	kh_sb_puts(&sb, tmp);
	return kh_sb_take(&sb);
}

static bool grow(const kh_alloc *a, void **arr, size_t *cap, size_t n, size_t elem)
{
	if (n < *cap)
		return true;
	size_t ncap = *cap ? *cap * 2 : 16;
	void *p = kh_reallocarray(a, *arr, ncap, elem);
	if (!p)
		return false;
	*arr = p;
	*cap = ncap;
	return true;
}

void kh_v_warn(khang_verdict *v, const char *fmt, ...)
{
	va_list ap;
	if (!grow(&v->src->alloc, (void **)&v->warnings, &v->warnings_cap, v->nwarnings, sizeof(char *)))
		return;
	va_start(ap, fmt);
	char *s = vfmt(&v->src->alloc, fmt, ap);
	va_end(ap);
	if (s)
		v->warnings[v->nwarnings++] = s;
}

void kh_v_step(khang_verdict *v, khang_step_kind kind, const khang_thread *t, const khang_process *p,
               uint64_t object, int64_t wait_ms, const char *fmt, ...)
{
	va_list ap;
	if (!grow(&v->src->alloc, (void **)&v->steps, &v->steps_cap, v->nsteps, sizeof(kh_step)))
		return;
	va_start(ap, fmt);
	char *s = vfmt(&v->src->alloc, fmt, ap);
	va_end(ap);
	if (!s)
		return;
	kh_step *st = &v->steps[v->nsteps++];
	memset(st, 0, sizeof(*st));
	st->pub.size = sizeof(st->pub);
	st->pub.kind = kind;
	st->pub.thread = t;
	st->pub.process = p ? p : NULL;
	if (t && !p)
		khang_thread_process(&st->pub.process, t);
	st->pub.object = object;
	st->pub.wait_ms = wait_ms;
	st->text = s;
	st->pub.text = s;
}

void kh_v_check(khang_verdict *v, const char *name, khang_check_status status, const char *fmt, ...)
{
	va_list ap;
	if (!grow(&v->src->alloc, (void **)&v->checks, &v->checks_cap, v->nchecks, sizeof(kh_check)))
		return;
	va_start(ap, fmt);
	char *s = vfmt(&v->src->alloc, fmt, ap);
	va_end(ap);
	if (!s)
		return;
	kh_check *c = &v->checks[v->nchecks++];
	c->name = name;
	c->status = status;
	c->text = s;
}

void kh_v_summary(khang_verdict *v, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	char *s = vfmt(&v->src->alloc, fmt, ap);
	va_end(ap);
	if (s) {
		kh_free(&v->src->alloc, v->summary);
		v->summary = s;
	}
}

int kh_v_edge(khang_verdict *v, khang_edge_kind kind, khang_node_kind fk, uint64_t from, khang_node_kind tk,
              uint64_t to)
{
	if (v->nedges >= MAX_EDGES) {
		v->edges_truncated = true;
		return 0;
	}
	if (!grow(&v->src->alloc, (void **)&v->edges, &v->edges_cap, v->nedges, sizeof(khang_verdict_edge)))
		return KHANG_ENOMEM;
	khang_verdict_edge *e = &v->edges[v->nedges++];
	e->size = sizeof(*e);
	e->kind = kind;
	e->from_kind = fk;
	e->from = from;
	e->to_kind = tk;
	e->to = to;
	return 0;
}

const char *kh_v_thread_label(const khang_thread *t, char *buf, size_t len)
{
	const khang_process *p = NULL;
	khang_thread_process(&p, t);
	snprintf(buf, len, "%s %lld.%lld", p ? khang_process_name(p) : "?", (long long)khang_thread_pid(t),
	         (long long)khang_thread_tid(t));
	return buf;
}

static const char *duration(char *buf, size_t len, int64_t ms)
{
	if (ms < 0)
		snprintf(buf, len, "an unknown time");
	else
		khang_format_duration(buf, len, ms);
	return buf;
}

/* ---- a map from addresses to indexes ----------------------------------------- */

typedef struct kh_map {
	uint64_t *keys;
	uint32_t *vals;
	size_t cap;
} kh_map;

static size_t map_hash(uint64_t k)
{
	k ^= k >> 31;
	k *= 0x9E3779B97F4A7C15ull;
	return (size_t)(k ^ (k >> 29));
}

static int map_init(kh_map *m, const kh_alloc *a, size_t n)
{
	m->cap = 16;
	while (m->cap < n * 2)
		m->cap *= 2;
	m->keys = kh_calloc(a, m->cap, sizeof(uint64_t));
	m->vals = kh_calloc(a, m->cap, sizeof(uint32_t));
	return m->keys && m->vals ? 0 : KHANG_ENOMEM;
}

/* keys are never 0 (kernel addresses) */
static void map_put(kh_map *m, uint64_t k, uint32_t v)
{
	size_t i = map_hash(k) & (m->cap - 1);
	while (m->keys[i] && m->keys[i] != k)
		i = (i + 1) & (m->cap - 1);
	m->keys[i] = k;
	m->vals[i] = v;
}

static bool map_get(const kh_map *m, uint64_t k, uint32_t *v)
{
	if (!k || !m->cap)
		return false;
	size_t i = map_hash(k) & (m->cap - 1);
	while (m->keys[i]) {
		if (m->keys[i] == k) {
			*v = m->vals[i];
			return true;
		}
		i = (i + 1) & (m->cap - 1);
	}
	return false;
}

static void map_free(kh_map *m, const kh_alloc *a)
{
	kh_free(a, m->keys);
	kh_free(a, m->vals);
	memset(m, 0, sizeof(*m));
}

/* ---- the analysis state ------------------------------------------------------ */

typedef enum dep_kind { DEP_MUTANT, DEP_THREAD, DEP_LOCK } dep_kind;

typedef struct dep {
	uint32_t thread;    /* index of the thread depended on */
	uint64_t object;    /* the object or lock */
	dep_kind kind;
} dep;

typedef struct tnode {
	const khang_thread *t;
	uint64_t addr;
	int state;
	int64_t wait_ms;
	uint32_t dep_first, dep_count;
	bool definite;
	uint64_t first_object;  /* the first object waited on (for the text) */
	const char *first_type;
} tnode;

typedef struct lock {
	uint64_t addr;
	uint64_t owners[4];
	unsigned nowners;
	uint32_t exclusive_waiters, shared_waiters;
	bool exclusive;
} lock;

typedef struct state {
	khang_source *src;
	kh_kernel *k;
	khang_verdict *v;
	uint32_t long_ms, ready_ms;
	tnode *t;
	size_t nt;
	dep *deps;
	size_t ndeps, deps_cap;
	kh_map tmap;      /* thread address -> index */
	lock *locks;
	size_t nlocks, locks_cap;
	size_t lock_total;
	kh_map waiter_map; /* waiter event/semaphore address -> lock index */
	bool locks_ok;
	/* check_storage: threads that waited long on I/O pending in the disk
	 * stack, the longest of them and the driver holding most such IRPs */
	size_t storage_waiters;
	const khang_thread *storage_thread;
	int64_t storage_ms;
	char storage_module[64];
} state;

static void state_free(state *s)
{
	const kh_alloc *a = &s->src->alloc;
	kh_free(a, s->t);
	kh_free(a, s->deps);
	kh_free(a, s->locks);
	map_free(&s->tmap, a);
	map_free(&s->waiter_map, a);
}

/* ---- ERESOURCEs ----------------------------------------------------------------- */

typedef struct lock_walk {
	state *s;
	uint32_t off;
} lock_walk;

static int visit_lock(uint64_t entry, void *payload)
{
	lock_walk *w = payload;
	state *s = w->s;
	const kh_layout *l = s->k->layout;
	uint64_t r = entry - w->off, ew = 0, sw = 0, new = 0, nsw = 0, flag = 0, owner = 0;
	s->lock_total++;
	kh_read_field(s->src, 0, r, l, KH_F_ERESOURCE_NumberOfExclusiveWaiters, &new);
	kh_read_field(s->src, 0, r, l, KH_F_ERESOURCE_NumberOfSharedWaiters, &nsw);
	if (!new && !nsw)
		return 0; /* not contended: nobody waits */
	kh_read_field(s->src, 0, r, l, KH_F_ERESOURCE_ExclusiveWaiters, &ew);
	kh_read_field(s->src, 0, r, l, KH_F_ERESOURCE_SharedWaiters, &sw);
	kh_read_field(s->src, 0, r, l, KH_F_ERESOURCE_Flag, &flag);
	if (!grow(&s->src->alloc, (void **)&s->locks, &s->locks_cap, s->nlocks, sizeof(lock)))
		return KHANG_ENOMEM;
	lock *lk = &s->locks[s->nlocks];
	memset(lk, 0, sizeof(*lk));
	lk->addr = r;
	lk->exclusive_waiters = (uint32_t)new;
	lk->shared_waiters = (uint32_t)nsw;
	lk->exclusive = (flag & 0x80) != 0; /* ResourceOwnedExclusive */
	uint64_t oe = kh_field_addr(l, r, KH_F_ERESOURCE_OwnerEntry);
	if (oe && kh_read_field(s->src, 0, oe, l, KH_F_OWNER_ENTRY_OwnerThread, &owner) == 0 && owner && !(owner & 3))
		lk->owners[lk->nowners++] = owner;
	/* shared owners beyond the first live in OwnerTable */
	uint64_t table = 0, tsize = 0;
	if (kh_read_field(s->src, 0, r, l, KH_F_ERESOURCE_OwnerTable, &table) == 0 && table &&
	    kh_read_field(s->src, 0, table, l, KH_F_OWNER_ENTRY_TableSize, &tsize) == 0) {
		unsigned esz = 2 * kh_ptr_size(s->src);
		for (uint64_t i = 1; i < tsize && i < 64 && lk->nowners < KH_ARRAY_SIZE(lk->owners); i++) {
			uint64_t o;
			if (kh_vread_ptr(s->src, 0, table + i * esz, &o) == 0 && o && !(o & 3))
				lk->owners[lk->nowners++] = o;
		}
	}
	s->nlocks++;
	return 0;
}

static void read_locks(state *s)
{
	uint64_t head = s->k->exp_system_resources_list;
	const kh_layout *l = s->k->layout;
	uint32_t off = kh_layout_offset(l, KH_F_ERESOURCE_SystemResourcesList);
	if (!head || off == KH_LAYOUT_NO_OFFSET) {
		kh_v_check(s->v, "locks", KHANG_CHECK_NOT_RUN, "ExpSystemResourcesList is unknown on this kernel");
		return;
	}
	lock_walk w = { s, off };
	uint32_t n;
	bool broken;
	if (kh_walk_list(s->src, head, visit_lock, &w, &n, &broken) < 0) {
		kh_v_check(s->v, "locks", KHANG_CHECK_NOT_RUN, "resource list: %s", khang_error_last());
		return;
	}
	if (broken)
		kh_v_warn(s->v, "resource list: walk stopped after %u entries (unreadable link, loop or limit)", n);
	s->locks_ok = true;
	if (map_init(&s->waiter_map, &s->src->alloc, s->nlocks + 1) < 0)
		return;
	for (size_t i = 0; i < s->nlocks; i++) {
		uint64_t ew = 0, sw = 0;
		kh_read_field(s->src, 0, s->locks[i].addr, l, KH_F_ERESOURCE_ExclusiveWaiters, &ew);
		kh_read_field(s->src, 0, s->locks[i].addr, l, KH_F_ERESOURCE_SharedWaiters, &sw);
		if (ew)
			map_put(&s->waiter_map, ew, (uint32_t)i);
		if (sw)
			map_put(&s->waiter_map, sw, (uint32_t)i);
	}
	if (s->nlocks)
		kh_v_check(s->v, "locks", KHANG_CHECK_FOUND, "%zu of %zu ERESOURCEs contended%s", s->nlocks, s->lock_total,
		           broken ? " (list incomplete)" : "");
	else
		kh_v_check(s->v, "locks", KHANG_CHECK_OK, "%zu ERESOURCEs, none contended%s", s->lock_total,
		           broken ? " (list incomplete)" : "");
}

/* ---- threads and their dependencies --------------------------------------------- */

static int add_dep(state *s, uint32_t thread, uint64_t object, dep_kind kind)
{
	if (!grow(&s->src->alloc, (void **)&s->deps, &s->deps_cap, s->ndeps, sizeof(dep)))
		return KHANG_ENOMEM;
	s->deps[s->ndeps].thread = thread;
	s->deps[s->ndeps].object = object;
	s->deps[s->ndeps].kind = kind;
	s->ndeps++;
	return 0;
}

static int read_threads(state *s)
{
	khang_thread_iter *it;
	const khang_thread *t;
	size_t cap = 0;
	int rc = khang_thread_iter_new(&it, s->src, NULL);
	if (rc < 0)
		return rc;
	while ((rc = khang_thread_next(&t, it)) == 0) {
		if (!grow(&s->src->alloc, (void **)&s->t, &cap, s->nt, sizeof(tnode))) {
			khang_thread_iter_free(it);
			return KHANG_ENOMEM;
		}
		tnode *n = &s->t[s->nt++];
		memset(n, 0, sizeof(*n));
		n->t = t;
		n->addr = khang_thread_address(t);
		n->state = khang_thread_state(t);
		n->wait_ms = n->state == KHANG_THREAD_WAITING ? khang_thread_wait_ms(t) : -1;
	}
	uint32_t skipped = khang_thread_iter_skipped(it);
	khang_thread_iter_free(it);
	if (rc != KHANG_ITEROVER)
		return rc;
	if (skipped)
		kh_v_warn(s->v, "%u threads could not be read and are left out of the analysis", skipped);
	if ((rc = map_init(&s->tmap, &s->src->alloc, s->nt + 1)) < 0)
		return rc;
	for (size_t i = 0; i < s->nt; i++)
		map_put(&s->tmap, s->t[i].addr, (uint32_t)i);

	/* dependencies */
	uint32_t unreadable = 0;
	for (size_t i = 0; i < s->nt; i++) {
		tnode *n = &s->t[i];
		if (n->state != KHANG_THREAD_WAITING)
			continue;
		int count = khang_thread_wait_count(n->t);
		if (count < 0)
			return count;
		unreadable += khang_thread_wait_skipped(n->t);
		n->dep_first = (uint32_t)s->ndeps;
		bool all_owned = count > 0, wait_all = false;
		for (int w = 0; w < count; w++) {
			khang_wait_object wo = KHANG_WAIT_OBJECT_INIT;
			if (khang_thread_wait_object(&wo, n->t, (size_t)w) < 0)
				continue;
			if (w == 0) {
				n->first_object = wo.object;
				n->first_type = wo.type_name;
			}
			wait_all |= wo.wait_type == 0;
			uint32_t target, li;
			bool owned = false;
			if ((rc = kh_v_edge(s->v, KHANG_EDGE_WAITS_ON, KHANG_NODE_THREAD, n->addr, KHANG_NODE_OBJECT, wo.object)) < 0)
				return rc;
			if (wo.type == KHANG_OBJECT_MUTANT && wo.owner_address && map_get(&s->tmap, wo.owner_address, &target) &&
			    target != i) {
				if ((rc = add_dep(s, target, wo.object, DEP_MUTANT)) < 0 ||
				    (rc = kh_v_edge(s->v, KHANG_EDGE_OWNED_BY, KHANG_NODE_OBJECT, wo.object, KHANG_NODE_THREAD,
				                    wo.owner_address)) < 0)
					return rc;
				owned = true;
			} else if (wo.type == KHANG_OBJECT_THREAD && wo.thread &&
			           map_get(&s->tmap, khang_thread_address(wo.thread), &target) && target != i) {
				if ((rc = add_dep(s, target, wo.object, DEP_THREAD)) < 0 ||
				    (rc = kh_v_edge(s->v, KHANG_EDGE_OWNED_BY, KHANG_NODE_OBJECT, wo.object, KHANG_NODE_THREAD,
				                    khang_thread_address(wo.thread))) < 0)
					return rc;
				owned = true;
			} else if (map_get(&s->waiter_map, wo.object, &li)) {
				const lock *lk = &s->locks[li];
				if ((rc = kh_v_edge(s->v, KHANG_EDGE_WAITS_ON, KHANG_NODE_OBJECT, wo.object, KHANG_NODE_LOCK, lk->addr)) < 0)
					return rc;
				for (unsigned o = 0; o < lk->nowners; o++) {
					if (!map_get(&s->tmap, lk->owners[o], &target) || target == i)
						continue;
					if ((rc = add_dep(s, target, lk->addr, DEP_LOCK)) < 0 ||
					    (rc = kh_v_edge(s->v, KHANG_EDGE_OWNED_BY, KHANG_NODE_LOCK, lk->addr, KHANG_NODE_THREAD,
					                    lk->owners[o])) < 0)
						return rc;
					owned = true;
				}
			}
			all_owned &= owned;
		}
		n->dep_count = (uint32_t)(s->ndeps - n->dep_first);
		n->definite = n->dep_count > 0 && (wait_all || all_owned);
	}
	if (unreadable)
		kh_v_warn(s->v, "%u wait blocks could not be read", unreadable);
	return 0;
}

static const char *dep_word(dep_kind k)
{
	switch (k) {
	case DEP_MUTANT: return "mutant";
	case DEP_THREAD: return "thread object";
	default: return "ERESOURCE";
	}
}

/* Describe what thread n is doing (for the end of a chain). */
static void describe_head(state *s, const tnode *n, char *buf, size_t len)
{
	char d[32];
	const char *reason = khang_thread_wait_reason_name(n->t);
	switch (n->state) {
	case KHANG_THREAD_RUNNING: {
		/* the processor whose KPRCB has it as the current thread */
		long long cpu = khang_thread_processor(n->t);
		khang_processor_iter *it;
		const khang_processor *p;
		if (khang_processor_iter_new(&it, s->src) == 0) {
			while (khang_processor_next(&p, it) == 0)
				if (khang_processor_current_thread_address(p) == n->addr)
					cpu = khang_processor_index(p);
			khang_processor_iter_free(it);
		}
		snprintf(buf, len, "is running on processor %lld", cpu);
		break;
	}
	case KHANG_THREAD_READY:
	case KHANG_THREAD_STANDBY:
	case KHANG_THREAD_DEFERRED_READY:
		snprintf(buf, len, "is %s, waiting for a processor", khang_thread_state_name(n->t));
		break;
	case KHANG_THREAD_WAITING:
		snprintf(buf, len, "has waited %s (%s) on %s 0x%llx", duration(d, sizeof(d), n->wait_ms),
		         reason ? reason : "?", n->first_type ? n->first_type : "an object",
		         (unsigned long long)n->first_object);
		break;
	default:
		snprintf(buf, len, "is %s", khang_thread_state_name(n->t));
	}
}

/* ---- third-party modules and stacks --------------------------------------------- */

/* Kernel modules that ship with Windows (lower case). A module not listed is
 * treated as third-party when a chain ends in it. */
static const char *const inbox_modules[] = {
	"acpi.sys", "acpiex.sys", "afd.sys", "afunix.sys", "ahcache.sys", "bam.sys", "basicdisplay.sys",
	"basicrender.sys", "beep.sys", "bootvid.dll", "bowser.sys", "cdd.dll", "cdrom.sys", "ci.dll", "cimfs.sys",
	"classpnp.sys", "clfs.sys", "clipsp.sys", "cmimcext.sys", "cng.sys", "condrv.sys", "crashdmp.sys",
	"csc.sys", "dfsc.sys", "disk.sys", "dump_diskdump.sys", "dump_dumpfve.sys", "dump_storahci.sys",
	"dump_storport.sys", "dxgkrnl.sys", "dxgmms2.sys", "fastfat.sys", "filecrypt.sys", "fileinfo.sys",
	"filetrace.sys", "fltmgr.sys", "fvevol.sys", "fwpkclnt.sys", "gpuenergydrv.sys", "hal.dll", "halaacpi.dll",
	"halacpi.dll", "halmacpi.dll", "halx86.dll", "hidclass.sys",
	"hidparse.sys", "http.sys", "hvsocket.sys", "intelpep.sys", "kbdclass.sys", "kd.dll", "ks.sys",
	"ksecdd.sys", "ksecpkg.sys", "lxcore.sys", "mcupdate_authenticamd.dll", "mcupdate_genuineintel.dll",
	"mmcss.sys", "monitor.sys", "mouclass.sys", "mountmgr.sys", "mpsdrv.sys", "mrxsmb.sys", "mrxsmb20.sys",
	"msfs.sys", "msisadrv.sys", "msrpc.sys", "mssecflt.sys", "mup.sys", "ndis.sys", "ndiswan.sys", "ndu.sys",
	"netbios.sys", "netbt.sys", "netio.sys", "npfs.sys", "npsvctrig.sys", "nsiproxy.sys", "ntfs.sys",
	"ntkrla57.exe", "ntkrnlmp.exe", "ntkrnlpa.exe", "ntoskrnl.exe", "ntosext.sys", "null.sys", "pacer.sys",
	"partmgr.sys",
	"pci.sys", "pcw.sys", "pdc.sys", "peauth.sys", "pshed.dll", "rdbss.sys", "rdyboost.sys", "refs.sys",
	"spaceport.sys", "srv2.sys", "srvnet.sys", "storahci.sys", "stornvme.sys", "storport.sys", "tcpip.sys",
	"tdx.sys", "tm.sys", "umbus.sys", "usbhub3.sys", "usbxhci.sys", "vmbus.sys", "volmgr.sys", "volmgrx.sys",
	"volsnap.sys", "volume.sys", "vwififlt.sys", "watchdog.sys", "wcifs.sys", "wdf01000.sys", "wdfilter.sys",
	"wdnisdrv.sys", "werkernel.sys", "wfplwfs.sys", "win32k.sys", "win32kbase.sys", "win32kfull.sys",
	"wmilib.sys", "wof.sys", "wpprecorder.sys", "ws2ifsl.sys", "wtd.sys",
};

/* name (any case) is one of the n lower-case names of list */
static bool in_list(const char *name, const char *const *list, size_t n)
{
	char low[64];
	size_t i;
	for (i = 0; name[i] && i + 1 < sizeof(low); i++)
		low[i] = (char)((name[i] >= 'A' && name[i] <= 'Z') ? name[i] + 32 : name[i]);
	low[i] = '\0';
	for (size_t j = 0; j < n; j++)
		if (!strcmp(low, list[j]))
			return true;
	return false;
}

bool kh_v_is_inbox(const char *name)
{
	return in_list(name, inbox_modules, KH_ARRAY_SIZE(inbox_modules));
}

/* nt's wait plumbing, left out of the key frames */
static bool plumbing(const char *sym)
{
	static const char *const names[] = { "nt!KiSwapContext", "nt!KiSwapThread", "nt!KiCommitThreadWait" };
	for (size_t i = 0; i < KH_ARRAY_SIZE(names); i++)
		if (!strncmp(sym, names[i], strlen(names[i])))
			return true;
	return false;
}

/* The first third-party module on a thread's stack (innermost first) and
 * the key frames around it: from the wait up to the system call or
 * dispatch entry (at most 12 frames), as "sym <- sym <- ...". */
void kh_v_find_blocked_in(khang_source *src, const khang_thread *t, kh_blocked_in *out)
{
	memset(out, 0, sizeof(*out));
	khang_stack *st;
	if (khang_stack_walk(&st, t, NULL) < 0)
		return;
	out->walked = true;
	size_t n = khang_stack_frame_count(st), used = 0, kept = 0;
	for (size_t i = 0; i < n && kept < 12; i++) {
		khang_frame f;
		const khang_module *m;
		char sym[128];
		if (khang_stack_frame(&f, st, i) < 0 ||
		    f.ip < (src->info.arch == KHANG_ARCH_X86 ? 0x80000000ull : 0xffff800000000000ull))
			break; /* user mode: the kernel part is what blocks */
		khang_source_symbolize(sym, sizeof(sym), src, f.ip);
		if (!out->module[0] && khang_source_module_at(&m, src, f.ip) == 0 && !kh_v_is_inbox(khang_module_name(m)))
			kh_copy_str(out->module, sizeof(out->module), khang_module_name(m));
		if (plumbing(sym))
			continue;
		if (used + strlen(sym) + 5 < sizeof(out->frames))
			used += (size_t)snprintf(out->frames + used, sizeof(out->frames) - used, "%s%s", used ? " <- " : "", sym);
		kept++;
		if (!strncmp(sym, "nt!KiSystemServiceCopyEnd", 25) || !strncmp(sym, "nt!KiSystemCall", 15))
			break;
	}
	if (!out->module[0])
		out->frames[0] = '\0';
	khang_stack_free(st);
}

/* ---- rules ---------------------------------------------------------------------- */

static bool rule_deadlock(state *s)
{
	/* iterative DFS over definite dependencies; color 0 white, 1 grey, 2 black */
	uint8_t *color = kh_calloc(&s->src->alloc, s->nt ? s->nt : 1, 1);
	uint32_t *parent = kh_calloc(&s->src->alloc, s->nt ? s->nt : 1, sizeof(uint32_t));
	uint32_t *stack = kh_calloc(&s->src->alloc, s->nt ? s->nt : 1, sizeof(uint32_t));
	uint32_t *iter = kh_calloc(&s->src->alloc, s->nt ? s->nt : 1, sizeof(uint32_t));
	bool found = false;
	uint32_t cyc_from = 0, cyc_to = 0;
	if (!color || !parent || !stack || !iter)
		goto out;
	for (size_t root = 0; root < s->nt && !found; root++) {
		if (color[root] || !s->t[root].definite)
			continue;
		size_t sp = 0;
		stack[sp++] = (uint32_t)root;
		color[root] = 1;
		iter[root] = 0;
		while (sp && !found) {
			uint32_t u = stack[sp - 1];
			const tnode *n = &s->t[u];
			if (!n->definite || iter[u] >= n->dep_count) {
				color[u] = 2;
				sp--;
				continue;
			}
			uint32_t w = s->deps[n->dep_first + iter[u]++].thread;
			if (color[w] == 1) {
				found = true;
				cyc_from = u;
				cyc_to = w;
			} else if (color[w] == 0) {
				color[w] = 1;
				parent[w] = u;
				iter[w] = 0;
				stack[sp++] = w;
			}
		}
	}
	if (found) {
		/* the cycle: cyc_to -> ... -> cyc_from -> cyc_to, along parents */
		uint32_t cyc[MAX_CHAIN];
		size_t nc = 0;
		for (uint32_t x = cyc_from; nc < MAX_CHAIN; x = parent[x]) {
			cyc[nc++] = x;
			if (x == cyc_to)
				break;
		}
		char lab[96], d[32];
		const khang_process *p0 = NULL;
		khang_thread_process(&p0, s->t[cyc[0]].t);
		bool one_process = true;
		for (size_t i = nc; i-- > 0;) {
			const tnode *n = &s->t[cyc[i]];
			uint32_t next = cyc[i == 0 ? nc - 1 : i - 1];
			const dep *via = NULL;
			for (uint32_t j = 0; j < n->dep_count; j++)
				if (s->deps[n->dep_first + j].thread == next)
					via = &s->deps[n->dep_first + j];
			char nlab[96];
			const khang_process *p = NULL;
			khang_thread_process(&p, n->t);
			one_process &= p == p0;
			kh_v_step(s->v, KHANG_STEP_THREAD, n->t, NULL, via ? via->object : 0, n->wait_ms,
			          "thread 0x%llx (%s) has waited %s on %s 0x%llx, held by thread 0x%llx (%s)",
			          (unsigned long long)n->addr, kh_v_thread_label(n->t, lab, sizeof(lab)),
			          duration(d, sizeof(d), n->wait_ms), via ? dep_word(via->kind) : "an object",
			          via ? (unsigned long long)via->object : 0ull, (unsigned long long)s->t[next].addr,
			          kh_v_thread_label(s->t[next].t, nlab, sizeof(nlab)));
		}
		s->v->category = KHANG_VERDICT_DEADLOCK;
		s->v->confidence = 90;
		s->v->culprit_thread = s->t[cyc[nc - 1]].t;
		khang_thread_process(&s->v->culprit_process, s->v->culprit_thread);
		if (one_process && p0)
			kh_v_summary(s->v, "deadlock: %zu threads of %s wait on each other", nc, khang_process_name(p0));
		else
			kh_v_summary(s->v, "deadlock: %zu threads of different processes wait on each other", nc);
	}
out:
	kh_free(&s->src->alloc, color);
	kh_free(&s->src->alloc, parent);
	kh_free(&s->src->alloc, stack);
	kh_free(&s->src->alloc, iter);
	return found;
}

static bool rule_lock_chain(state *s)
{
	size_t best_len = 0;
	uint32_t best_start = 0;
	int64_t best_wait = -1;
	for (size_t i = 0; i < s->nt; i++) {
		const tnode *n = &s->t[i];
		if (!n->definite || n->wait_ms < (int64_t)s->long_ms)
			continue;
		size_t len = 1;
		uint32_t cur = (uint32_t)i;
		while (len < MAX_CHAIN && s->t[cur].definite && s->t[cur].dep_count) {
			cur = s->deps[s->t[cur].dep_first].thread;
			len++;
		}
		if (len > best_len || (len == best_len && n->wait_ms > best_wait)) {
			best_len = len;
			best_start = (uint32_t)i;
			best_wait = n->wait_ms;
		}
	}
	if (best_len < 2)
		return false;
	char lab[96], nlab[96], d[32], head[256];
	uint32_t cur = best_start;
	const tnode *n = &s->t[cur];
	for (size_t k = 0; k + 1 < best_len; k++) {
		n = &s->t[cur];
		const dep *via = &s->deps[n->dep_first];
		const tnode *owner = &s->t[via->thread];
		kh_v_step(s->v, KHANG_STEP_THREAD, n->t, NULL, via->object, n->wait_ms,
		          "thread 0x%llx (%s) has waited %s on %s 0x%llx, held by thread 0x%llx (%s)",
		          (unsigned long long)n->addr, kh_v_thread_label(n->t, lab, sizeof(lab)),
		          duration(d, sizeof(d), n->wait_ms), dep_word(via->kind), (unsigned long long)via->object,
		          (unsigned long long)owner->addr, kh_v_thread_label(owner->t, nlab, sizeof(nlab)));
		cur = via->thread;
	}
	n = &s->t[cur];
	describe_head(s, n, head, sizeof(head));
	kh_v_step(s->v, KHANG_STEP_THREAD, n->t, NULL, n->first_object, n->wait_ms, "thread 0x%llx (%s) %s",
	          (unsigned long long)n->addr, kh_v_thread_label(n->t, lab, sizeof(lab)), head);
	s->v->category = KHANG_VERDICT_LOCK_CHAIN;
	s->v->confidence = 75;
	s->v->culprit_thread = n->t;
	khang_thread_process(&s->v->culprit_process, n->t);
	kh_v_summary(s->v, "lock chain: %zu thread%s blocked behind thread 0x%llx (%s), which %s", best_len - 1,
	             best_len - 1 == 1 ? "" : "s", (unsigned long long)n->addr, kh_v_thread_label(n->t, lab, sizeof(lab)),
	             head);
	return true;
}

typedef struct starved {
	const khang_thread *t;
	int64_t ms;
	uint32_t prio;
} starved;

static bool rule_cpu(state *s, bool *checked, bool decide)
{
	khang_processor_iter *it;
	const khang_processor *p;
	uint32_t n = 0, busy = 0;
	const khang_thread *running[8];
	uint32_t running_cpu[8];
	char running_dpc[8][160]; /* " in the DPC routine x!y" or "" */
	char dpc_note[200] = "";
	size_t nrun = 0;
	*checked = false;
	if (khang_processor_iter_new(&it, s->src) < 0) {
		kh_v_check(s->v, "cpu", KHANG_CHECK_NOT_RUN, "processors: %s", khang_error_last());
		return false;
	}
	while (khang_processor_next(&p, it) == 0) {
		n++;
		if (khang_processor_is_idle(p) == 0) {
			busy++;
			const khang_thread *t;
			/* a processor inside a DPC routine runs it on whatever thread it interrupted */
			khang_processor_dpc dpc = KHANG_PROCESSOR_DPC_INIT;
			char sym[128] = "";
			if (khang_processor_dpc_info(&dpc, p) == 0 && dpc.routine_active == 1 && dpc.routine) {
				khang_source_symbolize(sym, sizeof(sym), s->src, dpc.routine);
				if (!dpc_note[0])
					snprintf(dpc_note, sizeof(dpc_note), "; processor %u is in the DPC routine %s",
					         khang_processor_index(p), sym);
			}
			if (nrun < KH_ARRAY_SIZE(running) && khang_processor_thread(&t, p, KHANG_PROCESSOR_CURRENT) == 0) {
				running_cpu[nrun] = khang_processor_index(p);
				snprintf(running_dpc[nrun], sizeof(running_dpc[nrun]), "%s%s", sym[0] ? ", in the DPC routine " : "",
				         sym);
				running[nrun++] = t;
			}
		}
	}
	khang_processor_iter_free(it);
	*checked = true;
	if (busy == 0)
		kh_v_check(s->v, "cpu", KHANG_CHECK_OK, "all %u processors idle", n);
	else
		kh_v_check(s->v, "cpu", KHANG_CHECK_FOUND, "%u of %u processors busy%s", busy, n, dpc_note);

	/* ready queues */
	khang_ready_iter *rit;
	khang_ready_entry re = KHANG_READY_ENTRY_INIT;
	starved top[5];
	size_t ntop = 0, nstarved = 0, nready = 0;
	if (khang_ready_iter_new(&rit, s->src, NULL) < 0) {
		kh_v_check(s->v, "ready", KHANG_CHECK_NOT_RUN, "ready queues: %s", khang_error_last());
		return false;
	}
	while (khang_ready_next(&re, rit) == 0) {
		nready++;
		if (re.ready_ms < (int64_t)s->ready_ms)
			continue;
		nstarved++;
		/* keep the five that waited longest, longest first */
		size_t at;
		if (ntop < KH_ARRAY_SIZE(top))
			at = ntop++;
		else if (re.ready_ms > top[ntop - 1].ms)
			at = ntop - 1;
		else
			continue;
		top[at].t = re.thread;
		top[at].ms = re.ready_ms;
		top[at].prio = re.priority;
		for (size_t i = at; i > 0 && top[i].ms > top[i - 1].ms; i--) {
			starved tmp = top[i];
			top[i] = top[i - 1];
			top[i - 1] = tmp;
		}
	}
	uint32_t rskipped = khang_ready_iter_skipped(rit);
	khang_ready_iter_free(rit);
	if (rskipped)
		kh_v_warn(s->v, "%u ready queue entries could not be read", rskipped);
	if (nstarved)
		kh_v_check(s->v, "ready", KHANG_CHECK_FOUND, "%zu of %zu ready threads waited %u ms or more", nstarved,
		           nready, s->ready_ms);
	else
		kh_v_check(s->v, "ready", KHANG_CHECK_OK, "%zu ready threads, none waiting long", nready);
	if (!busy || !nstarved)
		return false;
	if (!decide)
		return true; /* another rule found the cause; the checks say it */

	char lab[96], d[32];
	for (size_t i = 0; i < nrun; i++)
		kh_v_step(s->v, KHANG_STEP_PROCESSOR, running[i], NULL, 0, -1,
		          "processor %u runs thread 0x%llx (%s, priority %d)%s", running_cpu[i],
		          (unsigned long long)khang_thread_address(running[i]), kh_v_thread_label(running[i], lab, sizeof(lab)),
		          khang_thread_priority(running[i]), running_dpc[i]);
	for (size_t i = 0; i < ntop; i++)
		kh_v_step(s->v, KHANG_STEP_THREAD, top[i].t, NULL, 0, top[i].ms,
		          "thread 0x%llx (%s, priority %u) has been ready for %s without running",
		          (unsigned long long)khang_thread_address(top[i].t), kh_v_thread_label(top[i].t, lab, sizeof(lab)),
		          top[i].prio, duration(d, sizeof(d), top[i].ms));
	s->v->category = KHANG_VERDICT_CPU_STARVATION;
	s->v->confidence = 70;
	if (nrun) {
		s->v->culprit_thread = running[0];
		khang_thread_process(&s->v->culprit_process, running[0]);
	}
	kh_v_summary(s->v, "CPU starvation: %u of %u processors busy (%s) while %zu ready thread%s waited up to %s",
	             busy, n, nrun ? kh_v_thread_label(running[0], lab, sizeof(lab)) : "?", nstarved,
	             nstarved == 1 ? "" : "s", duration(d, sizeof(d), ntop ? top[0].ms : -1));
	return true;
}

/* ---- ALPC chains and drivers -------------------------------------------------- */

#define MAX_EXPLAIN 8

static int32_t thread_index(const state *s, const khang_thread *t)
{
	uint32_t i;
	return t && map_get(&s->tmap, khang_thread_address(t), &i) ? (int32_t)i : -1;
}

/* Add steps saying what blocks thread t, following the chain: another ALPC
 * wait, a lock or mutant owner, or a third-party driver on its stack.
 * Returns true when the chain ended in a cause (a driver, a running thread
 * or a thread already seen). */
static bool explain_thread(state *s, const khang_thread *t, int depth)
{
	char lab[96], d[32];
	int32_t ti = thread_index(s, t);
	if (!t || depth >= MAX_EXPLAIN)
		return false;
	khang_alpc_wait aw = KHANG_ALPC_WAIT_INIT;
	if (khang_thread_alpc_wait(&aw, t) == 0) {
		const khang_thread *next = aw.server_thread;
		const char *sp = aw.server_process ? khang_process_name(aw.server_process) : "an unknown process";
		if (next) {
			kh_v_step(s->v, KHANG_STEP_THREAD, t, NULL, aw.message, aw.wait_ms,
			          "thread 0x%llx (%s) has waited %s for an ALPC reply from %s; server thread 0x%llx took the message",
			          (unsigned long long)aw.thread_address, kh_v_thread_label(t, lab, sizeof(lab)),
			          duration(d, sizeof(d), aw.wait_ms), sp, (unsigned long long)aw.server_thread_address);
		} else {
			kh_v_step(s->v, KHANG_STEP_THREAD, t, NULL, aw.message, aw.wait_ms,
			          "thread 0x%llx (%s) has waited %s for an ALPC reply from %s; no server thread has taken the message",
			          (unsigned long long)aw.thread_address, kh_v_thread_label(t, lab, sizeof(lab)),
			          duration(d, sizeof(d), aw.wait_ms), sp);
			/* who should serve it: the server's main (GUI) thread */
			if (aw.server_process && khang_process_main_thread(&next, aw.server_process) == 0 && next)
				kh_v_step(s->v, KHANG_STEP_PROCESS, NULL, aw.server_process, 0, -1,
				          "%s (PID %lld) should serve it: its main thread is 0x%llx", sp,
				          (long long)khang_process_pid(aw.server_process),
				          (unsigned long long)khang_thread_address(next));
		}
		if (next && next != t)
			return explain_thread(s, next, depth + 1);
		return false;
	}
	const tnode *n = ti >= 0 ? &s->t[ti] : NULL;
	if (n && n->state == KHANG_THREAD_WAITING) {
		kh_blocked_in b;
		kh_v_find_blocked_in(s->src, t, &b);
		if (b.module[0]) {
			kh_v_step(s->v, KHANG_STEP_THREAD, t, NULL, n->first_object, n->wait_ms,
			          "thread 0x%llx (%s) has waited %s inside %s: %s", (unsigned long long)n->addr,
			          kh_v_thread_label(t, lab, sizeof(lab)), duration(d, sizeof(d), n->wait_ms), b.module, b.frames);
			kh_copy_str(s->v->culprit_module, sizeof(s->v->culprit_module), b.module);
			s->v->culprit_thread = t;
			khang_thread_process(&s->v->culprit_process, t);
			return true;
		}
		if (n->definite && n->dep_count) {
			const dep *via = &s->deps[n->dep_first];
			const tnode *owner = &s->t[via->thread];
			char olab[96];
			kh_v_step(s->v, KHANG_STEP_THREAD, t, NULL, via->object, n->wait_ms,
			          "thread 0x%llx (%s) has waited %s on %s 0x%llx, held by thread 0x%llx (%s)",
			          (unsigned long long)n->addr, kh_v_thread_label(t, lab, sizeof(lab)),
			          duration(d, sizeof(d), n->wait_ms), dep_word(via->kind), (unsigned long long)via->object,
			          (unsigned long long)owner->addr, kh_v_thread_label(owner->t, olab, sizeof(olab)));
			return explain_thread(s, owner->t, depth + 1);
		}
	}
	char head[256];
	if (n)
		describe_head(s, n, head, sizeof(head));
	else
		snprintf(head, sizeof(head), "is %s", khang_thread_state_name(t));
	kh_v_step(s->v, KHANG_STEP_THREAD, t, NULL, n ? n->first_object : 0, n ? n->wait_ms : -1, "thread 0x%llx (%s) %s",
	          (unsigned long long)khang_thread_address(t), kh_v_thread_label(t, lab, sizeof(lab)), head);
	s->v->culprit_thread = t;
	khang_thread_process(&s->v->culprit_process, t);
	return n && n->state == KHANG_THREAD_RUNNING;
}

static bool rule_alpc(state *s)
{
	khang_alpc_wait_iter *it;
	khang_alpc_wait w = KHANG_ALPC_WAIT_INIT, best = KHANG_ALPC_WAIT_INIT;
	size_t n = 0, long_n = 0, untaken = 0;
	if (khang_alpc_wait_iter_new(&it, s->src) < 0) {
		kh_v_check(s->v, "alpc", KHANG_CHECK_NOT_RUN, "ALPC waits: %s", khang_error_last());
		return false;
	}
	best.wait_ms = -1;
	while (khang_alpc_wait_next(&w, it) == 0) {
		n++;
		if (w.wait_ms < (int64_t)s->long_ms)
			continue;
		long_n++;
		if (!w.server_thread_address)
			untaken++;
		if (w.wait_ms > best.wait_ms)
			best = w;
	}
	uint32_t skipped = khang_alpc_wait_iter_skipped(it);
	khang_alpc_wait_iter_free(it);
	if (skipped)
		kh_v_warn(s->v, "%u ALPC waits could not be read", skipped);
	if (!long_n) {
		kh_v_check(s->v, "alpc", KHANG_CHECK_OK, "%zu threads wait for ALPC replies, none for %u ms or more", n,
		           s->long_ms);
		return false;
	}
	kh_v_check(s->v, "alpc", KHANG_CHECK_FOUND, "%zu of %zu ALPC waits are %u ms or longer; %zu not taken by a server thread",
	           long_n, n, s->long_ms, untaken);
	size_t first = s->v->nsteps;
	explain_thread(s, best.thread, 0);
	if (s->v->nsteps == first)
		return false;
	char lab[96], d[32];
	const char *server = best.server_process ? khang_process_name(best.server_process) : "an unknown process";
	s->v->category = KHANG_VERDICT_ALPC_CHAIN;
	s->v->confidence = s->v->culprit_module[0] ? 85 : 65;
	if (s->v->culprit_module[0] && s->v->culprit_thread)
		kh_v_summary(s->v, "%s thread %lld has waited %s for an ALPC reply from %s, whose thread 0x%llx (%s) is blocked in %s",
		             best.client_process ? khang_process_name(best.client_process) : "?",
		             (long long)khang_thread_tid(best.thread), duration(d, sizeof(d), best.wait_ms), server,
		             (unsigned long long)khang_thread_address(s->v->culprit_thread),
		             kh_v_thread_label(s->v->culprit_thread, lab, sizeof(lab)), s->v->culprit_module);
	else if (s->v->culprit_thread && s->v->culprit_thread != best.thread) {
		/* the chain ends at a thread: name it and what it does */
		int32_t ci = thread_index(s, s->v->culprit_thread);
		char head[256] = "";
		if (ci >= 0)
			describe_head(s, &s->t[ci], head, sizeof(head));
		kh_v_summary(s->v, "%s thread %lld has waited %s for an ALPC reply from %s; the chain ends at thread 0x%llx (%s)%s%s",
		             best.client_process ? khang_process_name(best.client_process) : "?",
		             (long long)khang_thread_tid(best.thread), duration(d, sizeof(d), best.wait_ms), server,
		             (unsigned long long)khang_thread_address(s->v->culprit_thread),
		             kh_v_thread_label(s->v->culprit_thread, lab, sizeof(lab)), head[0] ? ", which " : "", head);
	} else
		kh_v_summary(s->v, "%s thread %lld has waited %s for an ALPC reply from %s%s",
		             best.client_process ? khang_process_name(best.client_process) : "?",
		             (long long)khang_thread_tid(best.thread), duration(d, sizeof(d), best.wait_ms), server,
		             best.server_thread_address ? "" : "; no server thread has taken the message");
	return true;
}

/* Threads waiting long inside a third-party driver, grouped by module. */
static bool rule_driver(state *s)
{
	typedef struct group {
		char module[64];
		size_t count;
		int64_t longest;
		uint32_t thread;
		char frames[384];
	} group;
	group g[16];
	size_t ng = 0, walked = 0;
	for (size_t i = 0; i < s->nt; i++) {
		const tnode *n = &s->t[i];
		if (n->state != KHANG_THREAD_WAITING || n->wait_ms < (int64_t)s->long_ms || walked >= 4096)
			continue;
		kh_blocked_in b;
		kh_v_find_blocked_in(s->src, n->t, &b);
		walked += b.walked;
		if (!b.module[0])
			continue;
		size_t j;
		for (j = 0; j < ng && strcmp(g[j].module, b.module); j++)
			;
		if (j == ng) {
			if (ng == KH_ARRAY_SIZE(g))
				continue;
			memset(&g[ng], 0, sizeof(g[ng]));
			kh_copy_str(g[ng].module, sizeof(g[ng].module), b.module);
			g[ng].longest = -1;
			ng++;
		}
		g[j].count++;
		if (n->wait_ms > g[j].longest) {
			g[j].longest = n->wait_ms;
			g[j].thread = (uint32_t)i;
			kh_copy_str(g[j].frames, sizeof(g[j].frames), b.frames);
		}
	}
	if (!walked) {
		kh_v_check(s->v, "stacks", KHANG_CHECK_NOT_RUN, "no long-waiting thread's stack could be walked");
		return false;
	}
	if (!ng) {
		kh_v_check(s->v, "stacks", KHANG_CHECK_OK, "%zu long waits walked, none inside a third-party driver", walked);
		return false;
	}
	size_t best = 0;
	for (size_t j = 1; j < ng; j++)
		if (g[j].count > g[best].count || (g[j].count == g[best].count && g[j].longest > g[best].longest))
			best = j;
	kh_v_check(s->v, "stacks", KHANG_CHECK_FOUND, "%zu long waits inside third-party drivers (%zu in %s)",
	           walked, g[best].count, g[best].module);
	const tnode *n = &s->t[g[best].thread];
	char lab[96], d[32];
	kh_v_step(s->v, KHANG_STEP_THREAD, n->t, NULL, n->first_object, n->wait_ms,
	          "thread 0x%llx (%s) has waited %s inside %s: %s", (unsigned long long)n->addr,
	          kh_v_thread_label(n->t, lab, sizeof(lab)), duration(d, sizeof(d), n->wait_ms), g[best].module,
	          g[best].frames);
	s->v->category = KHANG_VERDICT_BLOCKED_IN_DRIVER;
	s->v->confidence = 70;
	s->v->culprit_thread = n->t;
	khang_thread_process(&s->v->culprit_process, n->t);
	kh_copy_str(s->v->culprit_module, sizeof(s->v->culprit_module), g[best].module);
	kh_v_summary(s->v, "%zu thread%s blocked inside %s for up to %s", g[best].count, g[best].count == 1 ? "" : "s",
	             g[best].module, duration(d, sizeof(d), g[best].longest));
	return true;
}

/* ---- other checks ------------------------------------------------------------------ */

static void check_memory(state *s)
{
	uint64_t avail_va = kh_kernel_global(s->k, KH_G_MmAvailablePages);
	uint64_t total_va = kh_kernel_global(s->k, KH_G_MmNumberOfPhysicalPages);
	uint64_t avail, total;
	if (!avail_va || !total_va || kh_vread_ptr(s->src, 0, avail_va, &avail) < 0 ||
	    kh_vread_ptr(s->src, 0, total_va, &total) < 0 || !total || avail > total) {
		kh_v_check(s->v, "memory", KHANG_CHECK_NOT_RUN, "MmAvailablePages / MmNumberOfPhysicalPages not readable");
		return;
	}
	uint64_t avail_mib = avail * 4 / 1024, total_mib = total * 4 / 1024;
	if (avail * 100 < total * 2 || avail_mib < 64)
		kh_v_check(s->v, "memory", KHANG_CHECK_FOUND, "low memory: %llu MiB available of %llu MiB",
		           (unsigned long long)avail_mib, (unsigned long long)total_mib);
	else
		kh_v_check(s->v, "memory", KHANG_CHECK_OK, "%llu MiB available of %llu MiB",
		           (unsigned long long)avail_mib, (unsigned long long)total_mib);
}

static void check_waits(state *s)
{
	size_t n = 0, blocked = 0;
	for (size_t i = 0; i < s->nt; i++) {
		if (s->t[i].wait_ms >= (int64_t)s->long_ms) {
			n++;
			if (s->t[i].definite)
				blocked++;
		}
	}
	if (blocked)
		kh_v_check(s->v, "waits", KHANG_CHECK_FOUND,
		           "%zu threads waited %u ms or more; %zu of them on an object another thread holds", n, s->long_ms,
		           blocked);
	else
		kh_v_check(s->v, "waits", KHANG_CHECK_OK,
		           "%zu threads waited %u ms or more, none on an object another thread holds", n, s->long_ms);
}

/* Drivers of the disk stack, from the volume down to the adapter (lower
 * case): an IRP whose current stack location is in one of them waits for
 * storage. File systems are above this and not counted. */
static const char *const storage_modules[] = {
	"ataport.sys", "atapi.sys",   "classpnp.sys", "disk.sys",    "fvevol.sys",    "iastora.sys",  "iastorac.sys",
	"iastorav.sys", "iscsiprt.sys", "lsi_sas.sys", "lsi_sas2i.sys", "lsi_sas3i.sys", "megasas.sys", "megasas2i.sys",
	"megasas35i.sys", "mpio.sys", "msdsm.sys",   "nvme.sys",    "partmgr.sys",   "pvscsi.sys",   "scsiport.sys",
	"spaceport.sys", "stornvme.sys", "storahci.sys", "storport.sys", "storvsc.sys", "vhdmp.sys",   "vmstorfl.sys",
	"volmgr.sys",   "volmgrx.sys", "volsnap.sys", "volume.sys",
};

static bool is_storage(const char *name)
{
	return in_list(name, storage_modules, KH_ARRAY_SIZE(storage_modules));
}

#define MAX_IRPS_READ 4096u  /* IRPs examined by the storage check */
#define MAX_IRPS_PER_THREAD 32u

/* Pending storage I/O seen from the threads: the IRPs on every thread's
 * IRP list whose current stack location is in a disk-stack driver, and how
 * long their threads have waited. IRPs no thread lists (paging I/O,
 * associated IRPs) are not seen; the text says so. */
static void check_storage(state *s)
{
	if (!kh_layout_has(s->k->layout, KH_F_ETHREAD_IrpList)) {
		kh_v_check(s->v, "storage", KHANG_CHECK_NOT_RUN, "the layout has no ETHREAD.IrpList");
		return;
	}
	struct {
		char module[64];
		uint32_t n;
	} mods[8];
	size_t nmods = 0, total = 0, pending = 0, read = 0, long_waiters = 0;
	int64_t longest = -1;
	const khang_thread *longest_t = NULL;
	for (size_t i = 0; i < s->nt && read < MAX_IRPS_READ; i++) {
		const uint64_t *irps;
		size_t n;
		if (khang_thread_irps(&irps, &n, s->t[i].t) < 0 || !n)
			continue;
		total += n;
		bool waits_on_storage = false;
		for (size_t j = 0; j < n && j < MAX_IRPS_PER_THREAD && read < MAX_IRPS_READ; j++, read++) {
			khang_irp irp = KHANG_IRP_INIT;
			if (khang_irp_read(&irp, s->src, irps[j]) < 0 || !irp.module[0] || !is_storage(irp.module))
				continue;
			pending++;
			waits_on_storage = true;
			size_t m;
			for (m = 0; m < nmods && strcmp(mods[m].module, irp.module); m++)
				;
			if (m == nmods && nmods < KH_ARRAY_SIZE(mods)) {
				kh_copy_str(mods[m].module, sizeof(mods[m].module), irp.module);
				mods[m].n = 0;
				nmods++;
			}
			if (m < nmods)
				mods[m].n++;
		}
		if (waits_on_storage && s->t[i].wait_ms > longest) {
			longest = s->t[i].wait_ms;
			longest_t = s->t[i].t;
		}
		if (waits_on_storage && s->t[i].wait_ms >= (int64_t)s->long_ms)
			long_waiters++;
	}
	if (!pending) {
		kh_v_check(s->v, "storage", KHANG_CHECK_OK,
		           "no thread's IRP is pending in a disk-stack driver (%zu IRPs on thread lists; paging and "
		           "other I/O not queued to a thread is not seen)",
		           total);
		return;
	}
	char where[256] = "", d[32], lab[96];
	size_t used = 0;
	for (size_t m = 0; m < nmods && used + 80 < sizeof(where); m++)
		used += (size_t)snprintf(where + used, sizeof(where) - used, "%s%s %u", m ? ", " : "", mods[m].module,
		                         mods[m].n);
	if (long_waiters) {
		size_t top = 0;
		for (size_t m = 1; m < nmods; m++)
			if (mods[m].n > mods[top].n)
				top = m;
		s->storage_waiters = long_waiters;
		s->storage_thread = longest_t;
		s->storage_ms = longest;
		kh_copy_str(s->storage_module, sizeof(s->storage_module), mods[top].module);
	}
	if (long_waiters)
		kh_v_check(s->v, "storage", KHANG_CHECK_FOUND,
		           "%zu IRP%s pending in disk-stack drivers (%s); %zu thread%s waited %u ms or more on them, the "
		           "longest %s (%s)",
		           pending, pending == 1 ? "" : "s", where, long_waiters, long_waiters == 1 ? " has" : "s have",
		           s->long_ms, duration(d, sizeof(d), longest), kh_v_thread_label(longest_t, lab, sizeof(lab)));
	else
		kh_v_check(s->v, "storage", KHANG_CHECK_OK,
		           "%zu IRP%s pending in disk-stack drivers (%s), none waited on for %u ms", pending,
		           pending == 1 ? "" : "s", where, s->long_ms);
}

/* ---- the verdict ------------------------------------------------------------------- */

KHANG_API const char *khang_verdict_category_name(khang_verdict_category c)
{
	switch (c) {
	case KHANG_VERDICT_NO_HANG: return "no-hang";
	case KHANG_VERDICT_ALPC_CHAIN: return "alpc-chain";
	case KHANG_VERDICT_DEADLOCK: return "deadlock";
	case KHANG_VERDICT_LOCK_CHAIN: return "lock-chain";
	case KHANG_VERDICT_BLOCKED_IN_DRIVER: return "blocked-in-driver";
	case KHANG_VERDICT_CPU_STARVATION: return "cpu-starvation";
	case KHANG_VERDICT_CRASH: return "crash";
	case KHANG_VERDICT_UNKNOWN: return "unknown";
	default: return "invalid";
	}
}

KHANG_API int khang_hang_verdict(khang_verdict **out, khang_source *src, const khang_verdict_opts *opts)
{
	if (!out || !kh_source_ok(src))
		return kh_error(KHANG_EINVAL, "khang_hang_verdict: NULL or invalid argument");
	*out = NULL;
	if (opts && opts->size < offsetof(khang_verdict_opts, ready_wait_ms) + sizeof(uint32_t))
		return kh_error(KHANG_EINVAL, "khang_hang_verdict: options size %zu too small", opts->size);
	khang_verdict *v = kh_calloc(&src->alloc, 1, sizeof(*v));
	if (!v)
		return KHANG_ENOMEM;
	v->src = src;
	v->category = KHANG_VERDICT_UNKNOWN;
	state s;
	memset(&s, 0, sizeof(s));
	s.src = src;
	s.v = v;
	s.long_ms = opts && opts->long_wait_ms ? opts->long_wait_ms : DEFAULT_LONG_WAIT_MS;
	s.ready_ms = opts && opts->ready_wait_ms ? opts->ready_wait_ms : DEFAULT_READY_WAIT_MS;
	int rc = 0;

	if (kh_rule_bugcheck(v, src)) {
		/* a hang-type bugcheck named its culprit: the memory check still helps */
		if (v->category != KHANG_VERDICT_CRASH && kh_kernel_get(src, &s.k) == 0 && s.k->layout)
			check_memory(&s);
		goto done;
	}
	if ((rc = kh_kernel_get(src, &s.k)) < 0 || !s.k->layout) {
		kh_v_warn(v, "no kernel layout: %s", rc < 0 ? khang_error_last() : s.k->info.layout_note);
		kh_v_summary(v, "cannot analyse: no usable kernel layout (see warnings)");
		rc = 0;
		goto done;
	}
	if (s.k->info.check == KHANG_CHECK_PARTIAL)
		kh_v_warn(v, "kernel layout only partly validated: %s", s.k->info.layout_note);
	read_locks(&s);
	if ((rc = read_threads(&s)) < 0) {
		if (rc == KHANG_ENOMEM)
			goto fail;
		kh_v_warn(v, "threads: %s", khang_error_last());
		rc = 0;
	}
	bool cpu_checked;
	bool found = rule_deadlock(&s) || rule_alpc(&s) || rule_lock_chain(&s) || rule_driver(&s);
	if (rule_cpu(&s, &cpu_checked, !found))
		found = true;
	check_waits(&s);
	check_memory(&s);
	check_storage(&s);
	if (!found && s.storage_waiters) {
		/* nothing else explains the waits: the disk stack does not answer */
		char d[32], lab[96];
		found = true;
		v->category = KHANG_VERDICT_BLOCKED_IN_DRIVER;
		v->confidence = 50;
		v->culprit_thread = s.storage_thread;
		khang_thread_process(&v->culprit_process, s.storage_thread);
		kh_copy_str(v->culprit_module, sizeof(v->culprit_module), s.storage_module);
		kh_v_step(v, KHANG_STEP_THREAD, s.storage_thread, NULL, 0, s.storage_ms,
		          "thread %s has waited %s with I/O pending in %s (storage)",
		          kh_v_thread_label(s.storage_thread, lab, sizeof(lab)), duration(d, sizeof(d), s.storage_ms),
		          s.storage_module);
		kh_v_summary(v, "%zu thread%s waited up to %s on I/O pending in the disk stack (%s)", s.storage_waiters,
		             s.storage_waiters == 1 ? "" : "s", duration(d, sizeof(d), s.storage_ms), s.storage_module);
	}
	if (!found) {
		v->category = KHANG_VERDICT_NO_HANG;
		v->confidence = 50;
		kh_v_summary(v, "no hang cause found: %zu threads, no deadlock, no lock chain, no CPU starvation", s.nt);
	}
	if (v->edges_truncated)
		kh_v_warn(v, "wait-for graph truncated at %u edges", MAX_EDGES);
done:
	if (v->nwarnings && v->confidence > 10)
		v->confidence -= v->nwarnings > 3 ? 20 : 10;
	if (!v->summary)
		kh_v_summary(v, "%s", khang_verdict_category_name(v->category));
	state_free(&s);
	if (!v->summary) {
		rc = KHANG_ENOMEM;
		goto fail_nostate;
	}
	*out = v;
	return 0;
fail:
	state_free(&s);
fail_nostate:
	khang_verdict_free(v);
	return kh_error(rc, "khang_hang_verdict: out of memory");
}

KHANG_API void khang_verdict_free(khang_verdict *v)
{
	if (!v)
		return;
	const kh_alloc *a = &v->src->alloc;
	for (size_t i = 0; i < v->nsteps; i++)
		kh_free(a, v->steps[i].text);
	for (size_t i = 0; i < v->nchecks; i++)
		kh_free(a, v->checks[i].text);
	for (size_t i = 0; i < v->nwarnings; i++)
		kh_free(a, v->warnings[i]);
	kh_free(a, v->steps);
	kh_free(a, v->checks);
	kh_free(a, v->warnings);
	kh_free(a, v->edges);
	kh_free(a, v->summary);
	kh_free(a, v->json);
	kh_free(a, v->dot);
	kh_free(a, v);
}

KHANG_API khang_verdict_category khang_verdict_get_category(const khang_verdict *v)
{
	return v ? v->category : KHANG_VERDICT_UNKNOWN;
}

KHANG_API const char *khang_verdict_summary(const khang_verdict *v)
{
	return v && v->summary ? v->summary : "";
}

KHANG_API int khang_verdict_confidence(const khang_verdict *v)
{
	return v ? v->confidence : 0;
}

KHANG_API const khang_thread *khang_verdict_culprit_thread(const khang_verdict *v)
{
	return v ? v->culprit_thread : NULL;
}

KHANG_API const khang_process *khang_verdict_culprit_process(const khang_verdict *v)
{
	return v ? v->culprit_process : NULL;
}

KHANG_API const char *khang_verdict_culprit_module(const khang_verdict *v)
{
	return v ? v->culprit_module : "";
}

KHANG_API size_t khang_verdict_step_count(const khang_verdict *v)
{
	return v ? v->nsteps : 0;
}

KHANG_API int khang_verdict_step_at(khang_verdict_step *out, const khang_verdict *v, size_t index)
{
	if (!out || !v || out->size < offsetof(khang_verdict_step, thread))
		return kh_error(KHANG_EINVAL, "khang_verdict_step_at: NULL argument or out->size too small");
	if (index >= v->nsteps)
		return kh_error(KHANG_ERANGE, "step %zu of %zu", index, v->nsteps);
	khang_verdict_step tmp = v->steps[index].pub;
	size_t n = KH_MIN(out->size, sizeof(tmp));
	tmp.size = n;
	memcpy(out, &tmp, n);
	return 0;
}

KHANG_API size_t khang_verdict_check_count(const khang_verdict *v)
{
	return v ? v->nchecks : 0;
}

KHANG_API int khang_verdict_check_at(khang_verdict_check *out, const khang_verdict *v, size_t index)
{
	if (!out || !v || out->size < offsetof(khang_verdict_check, name))
		return kh_error(KHANG_EINVAL, "khang_verdict_check_at: NULL argument or out->size too small");
	if (index >= v->nchecks)
		return kh_error(KHANG_ERANGE, "check %zu of %zu", index, v->nchecks);
	khang_verdict_check tmp;
	tmp.name = v->checks[index].name;
	tmp.status = v->checks[index].status;
	tmp.text = v->checks[index].text;
	size_t n = KH_MIN(out->size, sizeof(tmp));
	tmp.size = n;
	memcpy(out, &tmp, n);
	return 0;
}

KHANG_API size_t khang_verdict_warning_count(const khang_verdict *v)
{
	return v ? v->nwarnings : 0;
}

KHANG_API const char *khang_verdict_warning(const khang_verdict *v, size_t index)
{
	return v && index < v->nwarnings ? v->warnings[index] : NULL;
}

KHANG_API size_t khang_verdict_edge_count(const khang_verdict *v)
{
	return v ? v->nedges : 0;
}

KHANG_API int khang_verdict_edge_at(khang_verdict_edge *out, const khang_verdict *v, size_t index)
{
	if (!out || !v || out->size < offsetof(khang_verdict_edge, kind))
		return kh_error(KHANG_EINVAL, "khang_verdict_edge_at: NULL argument or out->size too small");
	if (index >= v->nedges)
		return kh_error(KHANG_ERANGE, "edge %zu of %zu", index, v->nedges);
	khang_verdict_edge tmp = v->edges[index];
	size_t n = KH_MIN(out->size, sizeof(tmp));
	tmp.size = n;
	memcpy(out, &tmp, n);
	return 0;
}

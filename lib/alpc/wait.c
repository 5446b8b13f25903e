/* ALPC waits: threads waiting for a reply, the message, the port it sits
 * on, the server process and the server thread. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "alpc_int.h"

struct khang_alpc_wait_iter {
	const kh_alloc *a;
	khang_alpc_wait *waits;
	size_t n, next;
	uint32_t skipped;
};

static void damaged(const kh_alpc_env *e, bool warn, uint32_t *damage, const khang_thread *t, const char *fmt, ...)
	KH_PRINTF(5, 6);

/* One pointer of a wait that could not be followed. */
static void damaged(const kh_alpc_env *e, bool warn, uint32_t *damage, const khang_thread *t, const char *fmt, ...)
{
	char what[160];
	va_list ap;
	if (damage)
		(*damage)++;
	if (!warn)
		return;
	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	kh_source_warn(e->src, "thread 0x%llx: ALPC wait: %s", (unsigned long long)t->va, what);
}

/* The connection port of a believed port: itself, or its connection's,
 * when that one is a connection port. */
static uint64_t connection_of(const kh_alpc_env *e, const kh_alpc_portinfo *pi)
{
	kh_alpc_portinfo c;
	if (pi->kind == KHANG_ALPC_KIND_CONNECTION)
		return pi->va;
	if (pi->conn && kh_alpc_port_plausible(e, pi->conn, &c) && c.kind == KHANG_ALPC_KIND_CONNECTION)
		return c.va;
	return 0;
}

int kh_alpc_thread_wait(const kh_alpc_env *e, khang_thread *t, khang_alpc_wait *w, bool warn, uint32_t *damage,
                        bool want_error)
{
	uint64_t msg = 0, v;
	memset(w, 0, sizeof(*w));
	w->size = sizeof(*w);
	if (!(t->have & KH_T_STATE) || t->state != e->o->state_waiting || !(t->have & KH_T_WAIT_REASON) ||
	    t->wait_reason != e->wr_lpc_reply)
		return want_error ? kh_error(KHANG_ENOTFOUND, "thread 0x%llx does not wait for an ALPC reply (WrLpcReply)",
		                             (unsigned long long)t->va)
		                  : KHANG_ENOTFOUND;
	if (kh_read_field(e->src, 0, t->va, e->l, KH_F_ETHREAD_AlpcMessage, &msg) < 0) {
		damaged(e, warn, damage, t, "ETHREAD.AlpcMessage is not in the dump");
		return want_error ? kh_error(KHANG_ENOTFOUND, "thread 0x%llx: its ETHREAD.AlpcMessage is not in the dump",
		                             (unsigned long long)t->va)
		                  : KHANG_ENOTFOUND;
	}
	if (e->ps == 4)
		msg &= 0xFFFFFFFFull;
	if (!msg)
		return want_error ? kh_error(KHANG_ENOTFOUND, "thread 0x%llx waits (WrLpcReply) without an ALPC message",
		                             (unsigned long long)t->va)
		                  : KHANG_ENOTFOUND;

	w->thread = t;
	w->thread_address = t->va;
	w->client_process_address = t->process_va;
	khang_process *pr;
	if (t->process)
		w->client_process = t->process;
	else if (t->process_va && kh_find_process(e->o, t->process_va, &pr) == 0)
		w->client_process = pr;
	w->wait_ms = khang_thread_wait_ms(t);
	w->message = msg;
	if (kh_read_field(e->src, 0, t->va, e->l, KH_F_ETHREAD_AlpcMessageId, &v) == 0)
		w->message_id = v;

	/* the message must be readable and name this thread as its waiter */
	kh_alpc_buf b;
	uint64_t waiting = 0, queue = 0, owner = 0, server_thread = 0, msg_conn = 0;
	if (kh_alpc_buf_read(e, &b, msg, KH_S_KALPC_MESSAGE) < 0 ||
	    kh_alpc_buf_u64(e, &b, KH_F_KALPC_MESSAGE_WaitingThread, &waiting) < 0) {
		damaged(e, warn, damage, t, "its message 0x%llx is not in the dump", (unsigned long long)msg);
		return 0;
	}
	if (waiting != t->va) {
		damaged(e, warn, damage, t, "its message 0x%llx names another waiting thread (stale or damaged)", (unsigned long long)msg);
		return 0;
	}
	w->message_ok = 1;
	kh_alpc_buf_u64(e, &b, KH_F_KALPC_MESSAGE_PortQueue, &queue);
	kh_alpc_buf_u64(e, &b, KH_F_KALPC_MESSAGE_OwnerPort, &owner);
	kh_alpc_buf_u64(e, &b, KH_F_KALPC_MESSAGE_ServerThread, &server_thread);
	kh_alpc_buf_u64(e, &b, KH_F_KALPC_MESSAGE_ConnectionPort, &msg_conn);

	/* the ports: believed only when they read as ports of a process */
	kh_alpc_portinfo qpi, opi, cpi;
	bool qok = false, ook = false;
	if (queue) {
		qok = kh_alpc_port_plausible(e, queue, &qpi);
		if (qok) {
			w->queue_port = queue;
			w->queue_port_kind = qpi.kind;
		} else {
			damaged(e, warn, damage, t, "its message's PortQueue 0x%llx is not an ALPC port", (unsigned long long)queue);
		}
	}
	if (owner) {
		ook = kh_alpc_port_plausible(e, owner, &opi);
		if (ook)
			w->owner_port = owner;
		else
			damaged(e, warn, damage, t, "its message's OwnerPort 0x%llx is not an ALPC port", (unsigned long long)owner);
	}
	/* the connection port: the queue port's connection, the message's
	 * ConnectionPort, the sending port's connection */
	uint64_t conn = qok ? connection_of(e, &qpi) : 0;
	if (!conn && msg_conn && kh_alpc_port_plausible(e, msg_conn, &cpi) && cpi.kind == KHANG_ALPC_KIND_CONNECTION)
		conn = msg_conn;
	if (!conn && ook)
		conn = connection_of(e, &opi);
	w->connection_port = conn;
	/* the server: the connection port's owner, else the owner of the port
	 * holding the message unless that is the client's own port */
	if (conn && kh_alpc_read_port(e, conn, &cpi) == 0)
		w->server_process_address = cpi.owner;
	else if (qok && qpi.kind != KHANG_ALPC_KIND_CLIENT_COMMUNICATION)
		w->server_process_address = qpi.owner;
	if (w->server_process_address && kh_find_process(e->o, w->server_process_address, &pr) == 0)
		w->server_process = pr;
	/* the server thread working on the message */
	w->server_thread_address = server_thread;
	if (server_thread) {
		khang_thread *st;
		if (kh_find_thread(e->o, server_thread, &st) == 0)
			w->server_thread = st;
		else
			damaged(e, warn, damage, t, "its message's ServerThread 0x%llx is not a thread", (unsigned long long)server_thread);
	}
	return 0;
}

KHANG_API int khang_thread_alpc_wait(khang_alpc_wait *out, const khang_thread *ct)
{
	kh_alpc_env e;
	khang_alpc_wait tmp;
	if (!out || !kh_thread_ok(ct) || out->size < offsetof(khang_alpc_wait, thread_address))
		return kh_error(KHANG_EINVAL, "khang_thread_alpc_wait: NULL or invalid argument (set out->size)");
	khang_thread *t = (khang_thread *)ct;
	int rc = kh_alpc_env_init(&e, t->o->src, true);
	if (rc < 0)
		return rc;
	rc = kh_alpc_thread_wait(&e, t, &tmp, false, NULL, true);
	if (rc < 0)
		return rc;
	size_t n = KH_MIN(out->size, sizeof(tmp));
	tmp.size = n;
	memcpy(out, &tmp, n);
	return 0;
}

/* ---- the system's waits ------------------------------------------------------------------- */

typedef struct order {
	uint64_t server, conn;
	size_t index;            /* thread-walk order */
	size_t group;            /* first index of its group */
} order;

static int cmp_key(const void *a, const void *b)
{
	const order *x = a, *y = b;
	if (x->server != y->server)
		return x->server < y->server ? -1 : 1;
	if (x->conn != y->conn)
		return x->conn < y->conn ? -1 : 1;
	return x->index < y->index ? -1 : x->index > y->index;
}

static int cmp_group(const void *a, const void *b)
{
	const order *x = a, *y = b;
	if (x->group != y->group)
		return x->group < y->group ? -1 : 1;
	return x->index < y->index ? -1 : x->index > y->index;
}

/* Group the waits by server process and connection port (see the header). */
static int group_waits(khang_alpc_wait_iter *it)
{
	if (it->n < 2)
		return 0;
	order *ord = kh_calloc(it->a, it->n, sizeof(*ord));
	khang_alpc_wait *sorted = kh_calloc(it->a, it->n, sizeof(*sorted));
	if (!ord || !sorted) {
		kh_free(it->a, ord);
		kh_free(it->a, sorted);
		return KHANG_ENOMEM;
	}
	for (size_t i = 0; i < it->n; i++) {
		ord[i].server = it->waits[i].server_process_address;
		ord[i].conn = it->waits[i].connection_port;
		ord[i].index = i;
	}
	qsort(ord, it->n, sizeof(*ord), cmp_key);
	for (size_t i = 0; i < it->n;) {
		size_t j = i;
		while (j < it->n && ord[j].server == ord[i].server && ord[j].conn == ord[i].conn)
			j++;
		/* sorted by index within the run: its first is the group's */
		size_t g = (ord[i].server || ord[i].conn) ? ord[i].index : SIZE_MAX;
		for (size_t k = i; k < j; k++)
			ord[k].group = g;
		i = j;
	}
	qsort(ord, it->n, sizeof(*ord), cmp_group);
	for (size_t i = 0; i < it->n; i++)
		sorted[i] = it->waits[ord[i].index];
	kh_free(it->a, it->waits);
	kh_free(it->a, ord);
	it->waits = sorted;
	return 0;
}

KHANG_API int khang_alpc_wait_iter_new(khang_alpc_wait_iter **out, khang_source *src)
{
	kh_alpc_env e;
	if (!out || !kh_source_ok(src))
		return kh_error(KHANG_EINVAL, "khang_alpc_wait_iter_new: NULL or invalid argument");
	*out = NULL;
	int rc = kh_alpc_env_init(&e, src, true);
	if (rc < 0)
		return rc;
	khang_thread_iter *ti;
	rc = khang_thread_iter_new(&ti, src, NULL);
	if (rc < 0)
		return rc;
	khang_alpc_wait_iter *it = kh_calloc(&src->alloc, 1, sizeof(*it));
	if (!it) {
		khang_thread_iter_free(ti);
		return KHANG_ENOMEM;
	}
	it->a = &src->alloc;
	size_t cap = 0;
	const khang_thread *t;
	while ((rc = khang_thread_next(&t, ti)) == 0) {
		khang_alpc_wait w;
		if (kh_alpc_thread_wait(&e, (khang_thread *)t, &w, true, &it->skipped, false) < 0)
			continue;
		if (it->n == cap) {
			size_t ncap = cap ? cap * 2 : 16;
			khang_alpc_wait *nw = kh_reallocarray(it->a, it->waits, ncap, sizeof(*nw));
			if (!nw) {
				rc = KHANG_ENOMEM;
				break;
			}
			it->waits = nw;
			cap = ncap;
		}
		it->waits[it->n++] = w;
	}
	it->skipped += khang_thread_iter_skipped(ti);
	khang_thread_iter_free(ti);
	if (rc == KHANG_ITEROVER)
		rc = group_waits(it);
	if (rc < 0) {
		khang_alpc_wait_iter_free(it);
		return rc;
	}
	*out = it;
	return 0;
}

KHANG_API int khang_alpc_wait_next(khang_alpc_wait *out, khang_alpc_wait_iter *it)
{
	if (!out || !it || out->size < offsetof(khang_alpc_wait, thread_address))
		return kh_error(KHANG_EINVAL, "khang_alpc_wait_next: NULL or invalid argument (set out->size)");
	if (it->next >= it->n)
		return KHANG_ITEROVER;
	khang_alpc_wait tmp = it->waits[it->next++];
	size_t n = KH_MIN(out->size, sizeof(tmp));
	tmp.size = n;
	memcpy(out, &tmp, n);
	return 0;
}

KHANG_API void khang_alpc_wait_iter_free(khang_alpc_wait_iter *it)
{
	if (!it)
		return;
	kh_free(it->a, it->waits);
	kh_free(it->a, it);
}

KHANG_API uint32_t khang_alpc_wait_iter_skipped(const khang_alpc_wait_iter *it)
{
	return it ? it->skipped : 0;
}

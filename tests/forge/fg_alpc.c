/* fg_alpc: ALPC structures on an fg_kernel, and the ALPC sample (see fg_alpc.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fg_alpc.h"

_Noreturn static void die(const char *what)
{
	fprintf(stderr, "fg_alpc: %s\n", what);
	abort();
}

static void must(fg_kernel *k, uint64_t va, kh_field_id id, uint64_t v)
{
	if (fg_kernel_set(k, va, id, v) != 0) {
		fprintf(stderr, "fg_alpc: layout lacks %s\n", kh_field_name(id));
		abort();
	}
}

static bool is_x86(const fg_kernel *k)
{
	kh_layout_info li;
	kh_layout_get_info(fg_kernel_layout(k), &li);
	return li.arch == KHANG_ARCH_X86;
}

static uint32_t ssize(const fg_kernel *k, kh_struct_id id, uint32_t x64, uint32_t x86)
{
	uint32_t s = kh_layout_struct_size(fg_kernel_layout(k), id);
	return s ? s : is_x86(k) ? x86 : x64;
}

static uint64_t rd_field(fg_forge *f, fg_kernel *k, uint64_t va, kh_field_id id)
{
	const kh_field *fd = kh_layout_field(fg_kernel_layout(k), id);
	uint8_t b[8] = { 0 };
	uint64_t v = 0;
	if (!kh_field_present(fd) || fd->size > 8 || fg_read_virtual(f, fg_kernel_dtb(f), va + fd->offset, b, fd->size))
		die("read field");
	for (uint32_t i = 0; i < fd->size; i++)
		v |= (uint64_t)b[i] << (8 * i);
	if (fd->kind == KH_FK_BITFIELD)
		v = (v >> fd->bit_pos) & ((1ull << fd->bit_len) - 1);
	return v;
}

/* nt!ObpInfoMaskToOffset: for each InfoMask value, the size of the
 * optional headers it names (creator 0x01, name 0x02, handle 0x04, quota
 * 0x08, process 0x10, audit 0x20). */
static void write_info_mask_table(fg_kernel *k)
{
	uint64_t table = fg_kernel_global(k, KH_G_ObpInfoMaskToOffset);
	bool x86 = is_x86(k);
	uint32_t sizes[8] = {
		ssize(k, KH_S_OBJECT_HEADER_CREATOR_INFO, 0x20, 0x10), ssize(k, KH_S_OBJECT_HEADER_NAME_INFO, 0x20, 0x10),
		ssize(k, KH_S_OBJECT_HEADER_HANDLE_INFO, 0x10, 0x8), ssize(k, KH_S_OBJECT_HEADER_QUOTA_INFO, 0x20, 0x10),
		ssize(k, KH_S_OBJECT_HEADER_PROCESS_INFO, 0x10, 0x8), ssize(k, KH_S_OBJECT_HEADER_AUDIT_INFO, 0x10, 0x8),
		x86 ? 0x8u : 0x10u, x86 ? 0x8u : 0x10u,
	};
	uint8_t t[256];
	for (unsigned m = 0; m < 256; m++) {
		uint32_t sum = 0;
		for (unsigned b = 0; b < 8; b++)
			if (m & (1u << b))
				sum += sizes[b];
		t[m] = (uint8_t)sum;
	}
	if (table)
		fg_kernel_write(k, table, t, sizeof(t));
}

static const kh_field_id queue_heads[KHANG_ALPC_QUEUE_COUNT] = {
	KH_F_ALPC_PORT_MainQueue, KH_F_ALPC_PORT_PendingQueue, KH_F_ALPC_PORT_LargeMessageQueue,
	KH_F_ALPC_PORT_WaitQueue, KH_F_ALPC_PORT_CanceledQueue, KH_F_ALPC_PORT_DirectQueue,
};
static const kh_field_id queue_lengths[KHANG_ALPC_QUEUE_COUNT] = {
	KH_F_ALPC_PORT_MainQueueLength, KH_F_ALPC_PORT_PendingQueueLength, KH_F_ALPC_PORT_LargeMessageQueueLength,
	KH_F_ALPC_PORT_WaitQueueLength, KH_F_ALPC_PORT_CanceledQueueLength, KH_F_ALPC_PORT_DirectQueueLength,
};

uint64_t fg_alpc_port(fg_forge *f, fg_kernel *k, uint64_t owner, const char *name)
{
	const kh_layout *l = fg_kernel_layout(k);
	bool x86 = is_x86(k);
	(void)f;
	uint32_t creator = ssize(k, KH_S_OBJECT_HEADER_CREATOR_INFO, 0x20, 0x10);
	uint32_t ninfo = name ? ssize(k, KH_S_OBJECT_HEADER_NAME_INFO, 0x20, 0x10) : 0;
	uint32_t body_off = kh_layout_has(l, KH_F_OBJECT_HEADER_Body) ? kh_layout_offset(l, KH_F_OBJECT_HEADER_Body)
	                                                               : (x86 ? 0x18u : 0x30u);
	uint32_t port_size = ssize(k, KH_S_ALPC_PORT, 0x1d8, 0x11c);
	uint64_t base = fg_kernel_alloc(k, (uint64_t)creator + ninfo + body_off + port_size);
	uint64_t hdr = base + ninfo + creator;
	uint64_t port = hdr + body_off;
	write_info_mask_table(k);
	/* the object header: creator information (always) and the name */
	must(k, hdr, KH_F_OBJECT_HEADER_InfoMask, name ? 0x03 : 0x01);
	must(k, hdr, KH_F_OBJECT_HEADER_PointerCount, 3);
	must(k, hdr, KH_F_OBJECT_HEADER_HandleCount, 1);
	if (name)
		fg_kernel_unicode(k, fg_kernel_addr(k, base, KH_F_OBJECT_HEADER_NAME_INFO_Name), name);
	/* the port */
	fg_kernel_list_append(k, fg_kernel_global(k, KH_G_AlpcpPortList),
	                      fg_kernel_addr(k, port, KH_F_ALPC_PORT_PortListEntry));
	must(k, port, KH_F_ALPC_PORT_OwnerProcess, owner);
	for (int q = 0; q < KHANG_ALPC_QUEUE_COUNT; q++) {
		uint64_t h = fg_kernel_addr(k, port, queue_heads[q]);
		if (h)
			fg_kernel_list_init(k, h);
	}
	fg_kernel_list_init(k, fg_kernel_addr(k, port, KH_F_ALPC_PORT_ResourceListHead));
	must(k, port, KH_F_ALPC_PORT_Initialized, 1);
	must(k, port, KH_F_ALPC_PORT_SequenceNo, 1);
	return port;
}

uint64_t fg_alpc_connection_port(fg_forge *f, fg_kernel *k, uint64_t owner, const char *name)
{
	uint64_t port = fg_alpc_port(f, k, owner, name);
	uint64_t ci = fg_kernel_alloc(k, ssize(k, KH_S_ALPC_COMMUNICATION_INFO, 0x48, 0x24));
	must(k, ci, KH_F_ALPC_COMMUNICATION_INFO_ConnectionPort, port);
	fg_kernel_list_init(k, fg_kernel_addr(k, ci, KH_F_ALPC_COMMUNICATION_INFO_CommunicationList));
	must(k, port, KH_F_ALPC_PORT_CommunicationInfo, ci);
	must(k, port, KH_F_ALPC_PORT_Type, 1);
	/* a server's port is waitable: its semaphore */
	must(k, port, KH_F_ALPC_PORT_Semaphore, fg_kernel_add_object(k, "SemaphoreObject", 0));
	return port;
}

uint64_t fg_alpc_connect(fg_forge *f, fg_kernel *k, uint64_t connection_port, uint64_t server, uint64_t client,
                         uint64_t *server_port, uint64_t *client_port)
{
	uint64_t conn_ci = rd_field(f, k, connection_port, KH_F_ALPC_PORT_CommunicationInfo);
	uint64_t sp = fg_alpc_port(f, k, server, NULL);
	uint64_t cp = fg_alpc_port(f, k, client, NULL);
	uint64_t ci = fg_kernel_alloc(k, ssize(k, KH_S_ALPC_COMMUNICATION_INFO, 0x48, 0x24));
	must(k, ci, KH_F_ALPC_COMMUNICATION_INFO_ConnectionPort, connection_port);
	must(k, ci, KH_F_ALPC_COMMUNICATION_INFO_ServerCommunicationPort, sp);
	must(k, ci, KH_F_ALPC_COMMUNICATION_INFO_ClientCommunicationPort, cp);
	fg_kernel_list_append(k, fg_kernel_addr(k, conn_ci, KH_F_ALPC_COMMUNICATION_INFO_CommunicationList),
	                      fg_kernel_addr(k, ci, KH_F_ALPC_COMMUNICATION_INFO_CommunicationList));
	must(k, sp, KH_F_ALPC_PORT_CommunicationInfo, ci);
	must(k, cp, KH_F_ALPC_PORT_CommunicationInfo, ci);
	must(k, sp, KH_F_ALPC_PORT_Type, 2);
	must(k, cp, KH_F_ALPC_PORT_Type, 3);
	/* messages of the server's end go to the connection port's queue */
	must(k, sp, KH_F_ALPC_PORT_TargetQueuePort, connection_port);
	if (server_port)
		*server_port = sp;
	if (client_port)
		*client_port = cp;
	return ci;
}

uint64_t fg_alpc_message(fg_forge *f, fg_kernel *k, uint64_t port, khang_alpc_queue queue, uint64_t owner_port,
                         uint64_t waiting_thread, uint64_t server_thread)
{
	if ((unsigned)queue >= KHANG_ALPC_QUEUE_COUNT || queue == KHANG_ALPC_QUEUE_WAIT)
		die("fg_alpc_message: a message queue");
	uint64_t m = fg_kernel_alloc(k, ssize(k, KH_S_KALPC_MESSAGE, 0x118, 0x98));
	uint64_t head = fg_kernel_addr(k, port, queue_heads[queue]);
	if (!head)
		die("fg_alpc_message: the layout has no such queue");
	fg_kernel_list_append(k, head, fg_kernel_addr(k, m, KH_F_KALPC_MESSAGE_Entry));
	uint64_t len = rd_field(f, k, port, queue_lengths[queue]);
	must(k, port, queue_lengths[queue], len + 1);
	must(k, m, KH_F_KALPC_MESSAGE_PortQueue, port);
	must(k, m, KH_F_KALPC_MESSAGE_OwnerPort, owner_port);
	must(k, m, KH_F_KALPC_MESSAGE_WaitingThread, waiting_thread);
	must(k, m, KH_F_KALPC_MESSAGE_ServerThread, server_thread);
	fg_kernel_set(k, m, KH_F_KALPC_MESSAGE_QueueType, queue == KHANG_ALPC_QUEUE_PENDING ? 2 : 1);
	fg_kernel_set(k, m, KH_F_KALPC_MESSAGE_SequenceNo, len + 1);
	fg_kernel_list_init(k, fg_kernel_addr(k, m, KH_F_KALPC_MESSAGE_CancelListEntry));
	return m;
}

void fg_alpc_wait_reply(fg_forge *f, fg_kernel *k, uint64_t thread, uint64_t message, uint32_t message_id,
                        uint32_t wait_time)
{
	(void)f;
	unsigned waiting = (unsigned)fg_kernel_enum(k, KH_E_KTHREAD_STATE, "Waiting");
	unsigned reason = (unsigned)fg_kernel_enum(k, KH_E_KWAIT_REASON, "WrLpcReply");
	uint64_t sem = fg_kernel_addr(k, thread, KH_F_ETHREAD_AlpcWaitSemaphore);
	must(k, sem, KH_F_DISPATCHER_HEADER_Type, (uint64_t)fg_kernel_enum(k, KH_E_KOBJECTS, "SemaphoreObject"));
	uint64_t wl = fg_kernel_addr(k, sem, KH_F_DISPATCHER_HEADER_WaitListHead);
	if (wl)
		fg_kernel_list_init(k, wl);
	fg_kernel_thread_wait(k, thread, &sem, 1, 1);
	fg_kernel_thread_state(k, thread, waiting, reason, 1, wait_time);
	must(k, thread, KH_F_ETHREAD_AlpcMessage, message);
	must(k, thread, KH_F_ETHREAD_AlpcMessageId, message_id);
}

void fg_alpc_wait_receive(fg_forge *f, fg_kernel *k, uint64_t thread, uint64_t port, uint32_t wait_time)
{
	unsigned waiting = (unsigned)fg_kernel_enum(k, KH_E_KTHREAD_STATE, "Waiting");
	unsigned reason = (unsigned)fg_kernel_enum(k, KH_E_KWAIT_REASON, "WrLpcReceive");
	uint64_t sem = rd_field(f, k, port, KH_F_ALPC_PORT_Semaphore);
	if (!sem)
		die("fg_alpc_wait_receive: a port without a semaphore");
	fg_kernel_thread_wait(k, thread, &sem, 1, 1);
	fg_kernel_thread_state(k, thread, waiting, reason, 1, wait_time);
	fg_kernel_list_append(k, fg_kernel_addr(k, port, KH_F_ALPC_PORT_WaitQueue),
	                      fg_kernel_addr(k, thread, KH_F_ETHREAD_AlpcWaitListEntry));
	uint64_t len = rd_field(f, k, port, KH_F_ALPC_PORT_WaitQueueLength);
	must(k, port, KH_F_ALPC_PORT_WaitQueueLength, len + 1);
}

/* ---- the ALPC sample ------------------------------------------------------------ */

/* Wait times, as ticks before the dump's tick count (15.625 ms per tick). */
#define TICKS_SEED 5466u     /* 1m:25.406 */
#define TICKS_SECOND 2748u   /* 42s.937 */
#define TICKS_DLLHOST 822u   /* 12s.843 */
#define TICKS_RECEIVE 64u    /* 1s.000 */

static unsigned record(fg_alpc_sample *a, uint64_t va, uint64_t owner, const char *name, khang_alpc_kind kind,
                       uint64_t ci, uint64_t conn, uint64_t server, uint64_t client)
{
	if (a->nports >= FG_ALPC_MAX_PORTS)
		die("too many ports");
	unsigned i = a->nports++;
	fg_alpc_port_rec *r = &a->ports[i];
	memset(r, 0, sizeof(*r));
	r->va = va;
	r->owner = owner;
	r->name = name;
	r->kind = kind;
	r->ci = ci;
	r->connection = conn;
	r->server = server;
	r->client = client;
	for (int q = 0; q < KHANG_ALPC_QUEUE_COUNT; q++)
		r->qlen[q] = kh_layout_has(a->s->l, queue_lengths[q]) ? 0 : -1;
	return i;
}

static unsigned connection_port(fg_alpc_sample *a, uint64_t owner, const char *name)
{
	fg_sample *s = a->s;
	uint64_t p = fg_alpc_connection_port(s->f, s->k, owner, name);
	uint64_t ci = rd_field(s->f, s->k, p, KH_F_ALPC_PORT_CommunicationInfo);
	return record(a, p, owner, name, KHANG_ALPC_KIND_CONNECTION, ci, p, 0, 0);
}

/* Connect client to the connection port ports[c]; returns the index of the
 * server port (the client port follows it). */
static unsigned add_connection(fg_alpc_sample *a, unsigned c, uint64_t client)
{
	fg_sample *s = a->s;
	fg_alpc_port_rec *cr = &a->ports[c];
	uint64_t sp, cp;
	uint64_t ci = fg_alpc_connect(s->f, s->k, cr->va, cr->owner, client, &sp, &cp);
	if (cr->nconnections >= 8)
		die("too many connections");
	cr->connections[cr->nconnections++] = ci;
	unsigned si = record(a, sp, cr->owner, NULL, KHANG_ALPC_KIND_SERVER_COMMUNICATION, ci, cr->va, sp, cp);
	record(a, cp, client, NULL, KHANG_ALPC_KIND_CLIENT_COMMUNICATION, ci, cr->va, sp, cp);
	return si;
}

static uint64_t message(fg_alpc_sample *a, unsigned port, khang_alpc_queue q, uint64_t owner_port, uint64_t waiter,
                        uint64_t server_thread)
{
	fg_sample *s = a->s;
	fg_alpc_port_rec *r = &a->ports[port];
	uint64_t m = fg_alpc_message(s->f, s->k, r->va, q, owner_port, waiter, server_thread);
	r->qlen[q]++;
	if (q == KHANG_ALPC_QUEUE_MAIN && r->nmessages < 4)
		r->messages[r->nmessages++] = m;
	if (q == KHANG_ALPC_QUEUE_PENDING && r->npending < 4)
		r->pending[r->npending++] = m;
	return m;
}

static void wait_reply(fg_alpc_sample *a, uint64_t thread, uint64_t process, uint64_t m, uint32_t id, uint32_t ticks,
                       unsigned queue_port, uint64_t owner_port, unsigned conn, uint64_t server_thread)
{
	fg_sample *s = a->s;
	if (a->nwaits >= FG_ALPC_MAX_WAITS)
		die("too many waits");
	fg_alpc_wait_rec *w = &a->waits[a->nwaits++];
	w->thread = thread;
	w->process = process;
	w->message = m;
	w->message_id = id;
	w->wait_time = FG_SAMPLE_TICK_COUNT - ticks;
	w->queue_port = a->ports[queue_port].va;
	w->queue_kind = a->ports[queue_port].kind;
	w->owner_port = owner_port;
	w->connection_port = a->ports[conn].va;
	w->server_process = a->ports[conn].owner;
	w->server_thread = server_thread;
	fg_alpc_wait_reply(s->f, s->k, thread, m, id, w->wait_time);
}

static void wait_receive(fg_alpc_sample *a, uint64_t thread, unsigned port)
{
	fg_sample *s = a->s;
	fg_alpc_port_rec *r = &a->ports[port];
	fg_alpc_wait_receive(s->f, s->k, thread, r->va, FG_SAMPLE_TICK_COUNT - TICKS_RECEIVE);
	r->qlen[KHANG_ALPC_QUEUE_WAIT]++;
	if (r->nreceivers < 4)
		r->receivers[r->nreceivers++] = thread;
}

fg_alpc_sample *fg_alpc_sample_new(const kh_layout *l)
{
	fg_alpc_sample *a = calloc(1, sizeof(*a));
	if (!a)
		die("out of memory");
	fg_sample *s = a->s = fg_sample_new(l, 4);
	fg_kernel *k = s->k;
	a->system = s->procs[0].va;
	a->svchost = s->procs[1].va;
	a->explorer = s->procs[s->explorer].va;
	a->csrss = fg_kernel_add_process(k, "csrss.exe", 0x1f0, 0x1e4);
	a->dllhost = fg_kernel_add_process(k, "dllhost.exe", 0x1544, 0x2a0);
	a->rdpclip = fg_kernel_add_process(k, "rdpclip.exe", 0x1188, 0xc8c);
	unsigned executive = (unsigned)fg_kernel_enum(k, KH_E_KWAIT_REASON, "Executive");
	unsigned user_request = (unsigned)fg_kernel_enum(k, KH_E_KWAIT_REASON, "UserRequest");
	unsigned waiting = (unsigned)fg_kernel_enum(k, KH_E_KTHREAD_STATE, "Waiting");

	/* threads: svchost's client of the seed, a second client, the server
	 * thread working on dllhost's request, a receiver; csrss's receiver;
	 * dllhost's client; rdpclip's idle thread */
	a->seed_thread = fg_kernel_add_thread(k, a->svchost, 0x3d0);
	uint64_t second = fg_kernel_add_thread(k, a->svchost, 0x3d4);
	a->server_thread = fg_kernel_add_thread(k, a->svchost, 0x3d8);
	a->receivers[0] = fg_kernel_add_thread(k, a->svchost, 0x3dc);
	a->receivers[1] = fg_kernel_add_thread(k, a->csrss, 0x1f4);
	uint64_t dll_client = fg_kernel_add_thread(k, a->dllhost, 0x1548);
	uint64_t rdp = fg_kernel_add_thread(k, a->rdpclip, 0x118c);
	uint64_t ev = fg_kernel_add_object(k, "EventSynchronizationObject", 0);
	fg_kernel_thread_wait(k, a->server_thread, &ev, 1, 1);
	fg_kernel_thread_state(k, a->server_thread, waiting, executive, 0, FG_SAMPLE_TICK_COUNT - 700);
	fg_kernel_thread_wait(k, rdp, &ev, 1, 1);
	fg_kernel_thread_state(k, rdp, waiting, user_request, 1, FG_SAMPLE_TICK_COUNT - 3000);

	/* connection ports and their connections */
	a->ole = connection_port(a, a->explorer, "OLE68D95701484F75BAC07FBACD02B9");
	a->api = connection_port(a, a->csrss, "ApiPort");
	a->lsm = connection_port(a, a->svchost, "LSMApi");
	a->pdc = connection_port(a, a->system, "PdcPort");
	unsigned ole_svc = add_connection(a, a->ole, a->svchost);
	add_connection(a, a->ole, a->dllhost);
	add_connection(a, a->ole, a->rdpclip);
	add_connection(a, a->api, a->explorer);
	add_connection(a, a->api, a->svchost);
	add_connection(a, a->lsm, a->explorer);
	unsigned lsm_dll = add_connection(a, a->lsm, a->dllhost);
	add_connection(a, a->pdc, a->explorer);
	add_connection(a, a->pdc, a->explorer);

	/* the seed: svchost waits 1m:25.406 on explorer's port, the request
	 * still in the connection port's main queue, no server thread; a second
	 * svchost thread waits behind it */
	uint64_t svc_client = a->ports[ole_svc + 1].va;
	uint64_t m1 = message(a, a->ole, KHANG_ALPC_QUEUE_MAIN, svc_client, a->seed_thread, 0);
	uint64_t m2 = message(a, a->ole, KHANG_ALPC_QUEUE_MAIN, svc_client, second, 0);
	/* dllhost waits on svchost's LSMApi: the request taken by a server thread */
	uint64_t dll_cport = a->ports[lsm_dll + 1].va;
	uint64_t m3 = message(a, lsm_dll, KHANG_ALPC_QUEUE_PENDING, dll_cport, dll_client, a->server_thread);
	/* in thread-walk order: svchost's two (explorer's port), then dllhost's */
	wait_reply(a, a->seed_thread, a->svchost, m1, 0x1a2c, TICKS_SEED, a->ole, svc_client, a->ole, 0);
	wait_reply(a, second, a->svchost, m2, 0x1a30, TICKS_SECOND, a->ole, svc_client, a->ole, 0);
	wait_reply(a, dll_client, a->dllhost, m3, 0x2b40, TICKS_DLLHOST, lsm_dll, dll_cport, a->lsm, a->server_thread);
	/* server threads waiting to receive */
	wait_receive(a, a->receivers[0], a->lsm);
	wait_receive(a, a->receivers[1], a->api);
	return a;
}

void fg_alpc_sample_free(fg_alpc_sample *a)
{
	if (!a)
		return;
	fg_sample_free(a->s);
	free(a);
}

int fg_alpc_sample_port_index(const fg_alpc_sample *a, uint64_t va)
{
	for (unsigned i = 0; i < a->nports; i++)
		if (a->ports[i].va == va)
			return (int)i;
	return -1;
}

fg_alpc_sample *fg_alpc_base(int index)
{
	const kh_layout *l = NULL;
	uint32_t build = index == 1 ? 7601 : index == 3 ? 22000 : 0;
	if (index == 0) {
		l = kh_layout_builtin_by_guid_string("5278AFF86C341677D7D7835C85B7B844", 1);
	} else if (index == 1 || index == 3) {
		for (size_t i = 0; i < kh_layout_builtin_count() && !l; i++) {
			kh_layout_info li;
			kh_layout_get_info(kh_layout_builtin_at(i), &li);
			if (li.source == KH_LAYOUT_BUILTIN_GUID && li.build == build)
				l = kh_layout_builtin_at(i);
		}
	} else if (index == 2) {
		kh_layout_candidate c[4];
		if (kh_layout_builtin_candidates(KHANG_ARCH_X86, 7601, 1, c, 4) > 0)
			l = c[0].layout;
	}
	return l ? fg_alpc_sample_new(l) : NULL;
}

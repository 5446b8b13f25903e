/* The ALPC layer's reading primitives: the environment of a call, bounded
 * structure reads, ports, object names, and the head of the port list. */
#include <stdio.h>
#include <stdlib.h>

#include "alpc_int.h"

const kh_alpc_queue_fields kh_alpc_queues[KHANG_ALPC_QUEUE_COUNT] = {
	[KHANG_ALPC_QUEUE_MAIN] = { KH_F_ALPC_PORT_MainQueue, KH_F_ALPC_PORT_MainQueueLength, KH_F_KALPC_MESSAGE_Entry },
	[KHANG_ALPC_QUEUE_PENDING] = { KH_F_ALPC_PORT_PendingQueue, KH_F_ALPC_PORT_PendingQueueLength,
	                               KH_F_KALPC_MESSAGE_Entry },
	[KHANG_ALPC_QUEUE_LARGE_MESSAGE] = { KH_F_ALPC_PORT_LargeMessageQueue, KH_F_ALPC_PORT_LargeMessageQueueLength,
	                                     KH_F_KALPC_MESSAGE_Entry },
	[KHANG_ALPC_QUEUE_WAIT] = { KH_F_ALPC_PORT_WaitQueue, KH_F_ALPC_PORT_WaitQueueLength,
	                            KH_F_ETHREAD_AlpcWaitListEntry },
	[KHANG_ALPC_QUEUE_CANCELED] = { KH_F_ALPC_PORT_CanceledQueue, KH_F_ALPC_PORT_CanceledQueueLength,
	                                KH_F_KALPC_MESSAGE_Entry },
	[KHANG_ALPC_QUEUE_DIRECT] = { KH_F_ALPC_PORT_DirectQueue, KH_F_ALPC_PORT_DirectQueueLength,
	                              KH_F_KALPC_MESSAGE_Entry },
};

KHANG_API const char *khang_alpc_kind_name(khang_alpc_kind kind)
{
	switch (kind) {
	case KHANG_ALPC_KIND_CONNECTION: return "connection";
	case KHANG_ALPC_KIND_SERVER_COMMUNICATION: return "server";
	case KHANG_ALPC_KIND_CLIENT_COMMUNICATION: return "client";
	default: return "unknown";
	}
}

KHANG_API const char *khang_alpc_queue_name(khang_alpc_queue queue)
{
	switch (queue) {
	case KHANG_ALPC_QUEUE_MAIN: return "main";
	case KHANG_ALPC_QUEUE_PENDING: return "pending";
	case KHANG_ALPC_QUEUE_LARGE_MESSAGE: return "large-message";
	case KHANG_ALPC_QUEUE_WAIT: return "wait";
	case KHANG_ALPC_QUEUE_CANCELED: return "canceled";
	case KHANG_ALPC_QUEUE_DIRECT: return "direct";
	default: return "unknown";
	}
}

/* ---- the environment ------------------------------------------------------------- */

static int64_t enum_value(const kh_layout *l, kh_enum_id e, const char *name, int64_t fallback)
{
	int64_t v;
	return kh_layout_enum_value(l, e, name, &v) ? v : fallback;
}

int kh_alpc_env_init(kh_alpc_env *e, khang_source *src, bool waits)
{
	static const kh_field_id port_fields[] = {
		KH_F_ALPC_PORT_PortListEntry, KH_F_ALPC_PORT_CommunicationInfo, KH_F_ALPC_PORT_OwnerProcess,
		KH_F_ALPC_COMMUNICATION_INFO_ConnectionPort, KH_F_ALPC_COMMUNICATION_INFO_ServerCommunicationPort,
		KH_F_ALPC_COMMUNICATION_INFO_ClientCommunicationPort,
	};
	static const kh_field_id wait_fields[] = {
		KH_F_ETHREAD_AlpcMessage, KH_F_KALPC_MESSAGE_PortQueue, KH_F_KALPC_MESSAGE_WaitingThread,
	};
	memset(e, 0, sizeof(*e));
	int rc = kh_objects_get(src, &e->o);
	if (rc < 0)
		return rc;
	e->src = src;
	e->l = e->o->l;
	e->k = e->o->k;
	e->ps = e->o->ps;
	for (size_t i = 0; i < KH_ARRAY_SIZE(port_fields); i++)
		if (!kh_layout_has(e->l, port_fields[i]))
			return kh_error(KHANG_EUNSUPPORTED, "ALPC: the layout %s has no %s",
			                khang_layout_description((const khang_layout *)e->l), kh_field_name(port_fields[i]));
	for (size_t i = 0; waits && i < KH_ARRAY_SIZE(wait_fields); i++)
		if (!kh_layout_has(e->l, wait_fields[i]))
			return kh_error(KHANG_EUNSUPPORTED, "ALPC waits: the layout %s has no %s",
			                khang_layout_description((const khang_layout *)e->l), kh_field_name(wait_fields[i]));
	e->wr_lpc_reply = enum_value(e->l, KH_E_KWAIT_REASON, "WrLpcReply", KHANG_WAIT_WR_LPC_REPLY);
	e->wr_lpc_receive = enum_value(e->l, KH_E_KWAIT_REASON, "WrLpcReceive", KHANG_WAIT_WR_LPC_RECEIVE);
	return 0;
}

/* ---- structure reads --------------------------------------------------------------- */

int kh_alpc_buf_read(const kh_alpc_env *e, kh_alpc_buf *b, uint64_t va, kh_struct_id sid)
{
	uint32_t len = kh_layout_struct_size(e->l, sid);
	if (!len || len > KH_ALPC_BUF_MAX)
		len = KH_ALPC_BUF_MAX;
	b->va = va;
	b->len = len;
	b->valid = 0;
	uint32_t done = 0;
	unsigned page = 0;
	while (done < len && page < 32) {
		uint64_t at = va + done;
		if (at < va) { /* wrapped around the address space */
			memset(b->data + done, 0, len - done);
			break;
		}
		uint32_t chunk = (uint32_t)KH_MIN((uint64_t)(len - done), 0x1000 - (at & 0xFFF));
		if (kh_vread(e->src, 0, at, b->data + done, chunk) == 0)
			b->valid |= 1u << page;
		else
			memset(b->data + done, 0, chunk);
		done += chunk;
		page++;
	}
	return b->valid ? 0 : KHANG_ENOTPRESENT;
}

int kh_alpc_buf_u64(const kh_alpc_env *e, const kh_alpc_buf *b, kh_field_id id, uint64_t *out)
{
	const kh_field *f = kh_layout_field(e->l, id);
	if (!kh_field_present(f))
		return KHANG_ENOTFOUND;
	uint64_t off = f->offset;
	if (f->size == 0 || !kh_span_ok(b->len, off, f->size))
		return KHANG_ENOTPRESENT;
	uint64_t first = ((b->va & 0xFFF) + off) >> 12, last = ((b->va & 0xFFF) + off + f->size - 1) >> 12;
	for (uint64_t p = first; p <= last; p++)
		if (p >= 32 || !(b->valid & (1u << p)))
			return KHANG_ENOTPRESENT;
	int rc = kh_layout_get_u64(e->l, id, b->data, b->len, out);
	if (rc < 0)
		return rc == KHANG_ENOTFOUND ? rc : KHANG_ENOTPRESENT;
	if (f->kind == KH_FK_POINTER && e->ps == 4)
		*out &= 0xFFFFFFFFull;
	return 0;
}

/* ---- ports --------------------------------------------------------------------------- */

static int64_t length_or_unknown(const kh_alpc_env *e, const kh_alpc_buf *b, kh_field_id id)
{
	uint64_t v;
	/* a length beyond the list limit is damage, not a length */
	if (kh_alpc_buf_u64(e, b, id, &v) < 0 || v > 0x7FFFFFFFu)
		return -1;
	return (int64_t)v;
}

static int flag_or_unknown(const kh_alpc_env *e, const kh_alpc_buf *b, kh_field_id id)
{
	uint64_t v;
	return kh_alpc_buf_u64(e, b, id, &v) < 0 ? -1 : v != 0;
}

int kh_alpc_read_port(const kh_alpc_env *e, uint64_t va, kh_alpc_portinfo *out)
{
	kh_alpc_buf b;
	memset(out, 0, sizeof(*out));
	out->va = va;
	out->closed = out->disconnected = -1;
	for (int q = 0; q < KHANG_ALPC_QUEUE_COUNT; q++)
		out->qlen[q] = -1;
	if (!va || kh_alpc_buf_read(e, &b, va, KH_S_ALPC_PORT) < 0 ||
	    kh_alpc_buf_u64(e, &b, KH_F_ALPC_PORT_OwnerProcess, &out->owner) < 0 ||
	    kh_alpc_buf_u64(e, &b, KH_F_ALPC_PORT_CommunicationInfo, &out->ci) < 0)
		return KHANG_ENOTPRESENT;
	for (int q = 0; q < KHANG_ALPC_QUEUE_COUNT; q++)
		out->qlen[q] = length_or_unknown(e, &b, kh_alpc_queues[q].length);
	out->closed = flag_or_unknown(e, &b, KH_F_ALPC_PORT_Closed);
	out->disconnected = flag_or_unknown(e, &b, KH_F_ALPC_PORT_Disconnected);
	out->kind = KHANG_ALPC_KIND_UNKNOWN;
	if (out->ci && kh_alpc_buf_read(e, &b, out->ci, KH_S_ALPC_COMMUNICATION_INFO) == 0) {
		uint64_t c = 0, s = 0, k = 0;
		int rc1 = kh_alpc_buf_u64(e, &b, KH_F_ALPC_COMMUNICATION_INFO_ConnectionPort, &c);
		int rc2 = kh_alpc_buf_u64(e, &b, KH_F_ALPC_COMMUNICATION_INFO_ServerCommunicationPort, &s);
		int rc3 = kh_alpc_buf_u64(e, &b, KH_F_ALPC_COMMUNICATION_INFO_ClientCommunicationPort, &k);
		if (rc1 == 0)
			out->conn = c;
		if (rc2 == 0)
			out->server = s;
		if (rc3 == 0)
			out->client = k;
		/* the slot that names the port says what it is */
		if (rc1 == 0 && c == va)
			out->kind = KHANG_ALPC_KIND_CONNECTION;
		else if (rc2 == 0 && s == va)
			out->kind = KHANG_ALPC_KIND_SERVER_COMMUNICATION;
		else if (rc3 == 0 && k == va)
			out->kind = KHANG_ALPC_KIND_CLIENT_COMMUNICATION;
		/* a connection port's communication info names no connection */
		if (out->kind == KHANG_ALPC_KIND_CONNECTION)
			out->server = out->client = 0;
	}
	return 0;
}

bool kh_alpc_port_plausible(const kh_alpc_env *e, uint64_t va, kh_alpc_portinfo *out)
{
	khang_process *p;
	if (!va || kh_alpc_read_port(e, va, out) < 0 || !out->owner)
		return false;
	return kh_find_process(e->o, out->owner, &p) == 0;
}

int64_t kh_alpc_queued(const kh_alpc_portinfo *pi)
{
	int64_t n = 0;
	static const khang_alpc_queue qs[] = { KHANG_ALPC_QUEUE_MAIN, KHANG_ALPC_QUEUE_LARGE_MESSAGE,
		                               KHANG_ALPC_QUEUE_PENDING };
	for (size_t i = 0; i < KH_ARRAY_SIZE(qs); i++) {
		if (pi->qlen[qs[i]] < 0)
			return -1;
		n += pi->qlen[qs[i]];
	}
	return n;
}

/* ---- object names ------------------------------------------------------------------------ */

/* InfoMask bits of the optional headers in front of OBJECT_HEADER. */
#define OH_CREATOR_INFO 0x01u
#define OH_NAME_INFO 0x02u

static uint32_t size_or(const kh_alpc_env *e, kh_struct_id id, uint32_t x64, uint32_t x86)
{
	uint32_t s = kh_layout_struct_size(e->l, id);
	return s ? s : e->ps == 8 ? x64 : x86;
}

static uint32_t offset_or(const kh_alpc_env *e, kh_field_id id, uint32_t x64, uint32_t x86)
{
	uint32_t o = kh_layout_offset(e->l, id);
	return o != KH_LAYOUT_NO_OFFSET ? o : e->ps == 8 ? x64 : x86;
}

int kh_alpc_object_name(const kh_alpc_env *e, uint64_t body, char *out, size_t cap)
{
	uint64_t mask;
	out[0] = '\0';
	if (!kh_layout_has(e->l, KH_F_OBJECT_HEADER_InfoMask))
		return 0;
	uint64_t hdr = body - offset_or(e, KH_F_OBJECT_HEADER_Body, 0x30, 0x18);
	if (hdr > body || kh_read_field(e->src, 0, hdr, e->l, KH_F_OBJECT_HEADER_InfoMask, &mask) < 0)
		return KHANG_ENOTPRESENT;
	if (!(mask & OH_NAME_INFO))
		return 0;
	/* the name information lies below the creator information, which lies
	 * right below the header; nt!ObpInfoMaskToOffset[mask & 3] holds the
	 * distance when the layout knows where it is */
	uint64_t off = size_or(e, KH_S_OBJECT_HEADER_NAME_INFO, 0x20, 0x10);
	if (mask & OH_CREATOR_INFO)
		off += size_or(e, KH_S_OBJECT_HEADER_CREATOR_INFO, 0x20, 0x10);
	uint64_t table = kh_kernel_global(e->k, KH_G_ObpInfoMaskToOffset);
	uint8_t t;
	if (table && kh_vread(e->src, 0, table + (mask & (OH_NAME_INFO | OH_CREATOR_INFO)), &t, 1) == 0 && t != 0)
		off = t;
	uint64_t info = hdr - off;
	if (info > hdr)
		return KHANG_ENOTPRESENT;
	int rc = kh_read_unicode_string(e->src, 0, info + offset_or(e, KH_F_OBJECT_HEADER_NAME_INFO_Name, 8, 4), out, cap);
	if (rc < 0) {
		out[0] = '\0';
		return KHANG_ENOTPRESENT;
	}
	return (int)strlen(out);
}

KHANG_API int khang_alpc_port_name_at(char *buf, size_t len, khang_source *src, uint64_t port)
{
	kh_alpc_env e;
	char name[KH_ALPC_NAME_MAX];
	if ((!buf && len) || !kh_source_ok(src))
		return kh_error(KHANG_EINVAL, "khang_alpc_port_name_at: NULL or invalid argument");
	if (len)
		buf[0] = '\0';
	int rc = kh_alpc_env_init(&e, src, false);
	if (rc < 0)
		return rc;
	rc = kh_alpc_object_name(&e, port, name, sizeof(name));
	if (rc < 0)
		return kh_error(rc, "ALPC port 0x%llx: its object header or name is not in the dump",
		                (unsigned long long)port);
	if (len)
		kh_copy_str(buf, len, name);
	return rc;
}

/* ---- the head of the port list ------------------------------------------------------------ */

typedef struct head_ctx {
	uint64_t lo, hi;   /* the kernel image */
	uint64_t head;
} head_ctx;

static int find_head(uint64_t entry, void *payload)
{
	head_ctx *c = payload;
	if (entry >= c->lo && entry < c->hi) {
		c->head = entry;
		return 1;
	}
	return 0;
}

/* Follow the list from a believed port to the entry in the kernel image. */
static bool head_from_port(const kh_alpc_env *e, uint64_t port, head_ctx *c)
{
	uint32_t n;
	bool broken;
	uint64_t link = port + kh_layout_offset(e->l, KH_F_ALPC_PORT_PortListEntry);
	c->head = 0;
	if (kh_walk_list(e->src, link, find_head, c, &n, &broken) < 0)
		return false;
	return c->head != 0;
}

/* Ports the threads lead to: a client's request (KALPC_MESSAGE.PortQueue,
 * OwnerPort) and the port whose wait queue a receiving server thread is on
 * (the neighbour of its ETHREAD.AlpcWaitListEntry that is not a thread). */
static int seed_ports(const kh_alpc_env *e, uint64_t *seeds, size_t max, size_t *n)
{
	khang_thread_iter *it;
	const khang_thread *ct;
	*n = 0;
	int rc = khang_thread_iter_new(&it, e->src, NULL);
	if (rc < 0)
		return rc;
	uint32_t wl = kh_layout_offset(e->l, KH_F_ETHREAD_AlpcWaitListEntry);
	uint32_t wq = kh_layout_offset(e->l, KH_F_ALPC_PORT_WaitQueue);
	while (*n < max && (rc = khang_thread_next(&ct, it)) == 0) {
		const khang_thread *t = ct;
		if (!(t->have & KH_T_STATE) || t->state != e->o->state_waiting || !(t->have & KH_T_WAIT_REASON))
			continue;
		uint64_t v;
		if (t->wait_reason == e->wr_lpc_reply &&
		    kh_read_field(e->src, 0, t->va, e->l, KH_F_ETHREAD_AlpcMessage, &v) == 0 && v) {
			kh_alpc_buf b;
			uint64_t q;
			if (kh_alpc_buf_read(e, &b, v, KH_S_KALPC_MESSAGE) == 0) {
				if (kh_alpc_buf_u64(e, &b, KH_F_KALPC_MESSAGE_PortQueue, &q) == 0 && q && *n < max)
					seeds[(*n)++] = q;
				if (kh_alpc_buf_u64(e, &b, KH_F_KALPC_MESSAGE_OwnerPort, &q) == 0 && q && *n < max)
					seeds[(*n)++] = q;
			}
		} else if (t->wait_reason == e->wr_lpc_receive && wl != KH_LAYOUT_NO_OFFSET && wq != KH_LAYOUT_NO_OFFSET) {
			uint64_t entry = t->va + wl;
			for (unsigned side = 0; side < 2 && *n < max; side++) {
				uint64_t nb, type;
				if (kh_vread_ptr(e->src, 0, entry + side * e->ps, &nb) < 0 || !nb || nb == entry)
					continue;
				/* a neighbour that is a waiting thread is not the port */
				uint64_t other = nb - wl + kh_off(e->o, KH_F_KTHREAD_Header);
				if (kh_read_field(e->src, 0, other, e->l, KH_F_DISPATCHER_HEADER_Type, &type) == 0 &&
				    (int64_t)type == e->o->type_thread)
					continue;
				seeds[(*n)++] = nb - wq;
			}
		}
	}
	khang_thread_iter_free(it);
	return rc == KHANG_ENOMEM ? rc : 0;
}

int kh_alpc_port_list_head(const kh_alpc_env *e, uint64_t *out)
{
	*out = kh_kernel_global(e->k, KH_G_AlpcpPortList);
	if (*out)
		return 0;
	head_ctx c = { e->k->info.base, e->k->info.base + e->k->info.image_size, 0 };
	if (!e->k->info.base || !e->k->info.image_size || c.hi < c.lo)
		return kh_error(KHANG_ENOTFOUND, "nt!AlpcpPortList is unknown (the layout %s has no symbols) "
		                                 "and so is the kernel image",
		                khang_layout_description((const khang_layout *)e->l));
	uint64_t seeds[KH_ALPC_MAX_SEEDS];
	size_t n;
	int rc = seed_ports(e, seeds, KH_ARRAY_SIZE(seeds), &n);
	if (rc < 0)
		return rc;
	for (size_t i = 0; i < n; i++) {
		kh_alpc_portinfo pi;
		if (kh_alpc_port_plausible(e, seeds[i], &pi) && head_from_port(e, seeds[i], &c)) {
			*out = c.head;
			return 0;
		}
	}
	return kh_error(KHANG_ENOTFOUND, "nt!AlpcpPortList is unknown (the layout %s has no symbols) and "
	                                 "no thread leads to a port on the list",
	                khang_layout_description((const khang_layout *)e->l));
}

/* ALPC ports: the port list walk, port accessors, queues and connections. */
#include <stdio.h>
#include <stdlib.h>

#include "alpc_int.h"

/* One connection of a connection port. */
typedef struct kh_alpc_conn {
	uint64_t ci, server, client;
	int64_t server_queued, client_queued;
	uint64_t server_owner, client_owner;
} kh_alpc_conn;

struct khang_alpc_port {
	uint32_t magic;
	uint32_t skipped;            /* damaged parts met so far */
	struct khang_alpc_port_iter *it;
	kh_alpc_portinfo pi;
	char *name;                  /* NULL: "" */
	char *conn_name;             /* the connection port's name; NULL: "" */
	uint64_t server_owner;       /* owner of the connection port */
	int64_t conn_queued;         /* messages queued on the connection port */
	/* read on first use */
	bool q_loaded[KHANG_ALPC_QUEUE_COUNT];
	int q_rc[KHANG_ALPC_QUEUE_COUNT];
	uint64_t *q[KHANG_ALPC_QUEUE_COUNT];
	size_t nq[KHANG_ALPC_QUEUE_COUNT];
	bool conns_loaded;
	int conns_rc;
	kh_alpc_conn *conns;
	size_t nconns;
};

struct khang_alpc_port_iter {
	kh_alpc_env e;
	khang_alpc_port *ports;
	size_t n, next;
	uint32_t skipped;
};

static bool port_ok(const khang_alpc_port *p)
{
	return p && p->magic == KH_ALPC_PORT_MAGIC;
}

/* ---- the list walk ------------------------------------------------------------------- */

typedef struct collect_ctx {
	const kh_alpc_env *e;
	uint64_t owner;           /* 0: every port */
	uint32_t link;            /* offset of PortListEntry */
	uint64_t *v;
	size_t n, cap;
	uint32_t skipped;
} collect_ctx;

static int collect(uint64_t entry, void *payload)
{
	collect_ctx *c = payload;
	uint64_t va = entry - c->link;
	if (c->owner) {
		uint64_t owner;
		if (kh_read_field(c->e->src, 0, va, c->e->l, KH_F_ALPC_PORT_OwnerProcess, &owner) < 0) {
			c->skipped++;
			kh_source_warn(c->e->src, "ALPC port 0x%llx: its owner is not in the dump; skipped",
			               (unsigned long long)va);
			return 0;
		}
		if (owner != c->owner)
			return 0;
	}
	if (c->n == c->cap) {
		size_t ncap = c->cap ? c->cap * 2 : 64;
		uint64_t *nv = kh_reallocarray(&c->e->src->alloc, c->v, ncap, sizeof(*nv));
		if (!nv)
			return KHANG_ENOMEM;
		c->v = nv;
		c->cap = ncap;
	}
	c->v[c->n++] = va;
	return 0;
}

static void port_release(const kh_alloc *a, khang_alpc_port *p)
{
	kh_free(a, p->name);
	kh_free(a, p->conn_name);
	for (int q = 0; q < KHANG_ALPC_QUEUE_COUNT; q++)
		kh_free(a, p->q[q]);
	kh_free(a, p->conns);
	p->magic = 0;
}

/* Read the port at va into p (the iterator's slot). */
static int port_decode(khang_alpc_port_iter *it, uint64_t va, khang_alpc_port *p)
{
	const kh_alpc_env *e = &it->e;
	const kh_alloc *a = &e->src->alloc;
	char name[KH_ALPC_NAME_MAX];
	memset(p, 0, sizeof(*p));
	int rc = kh_alpc_read_port(e, va, &p->pi);
	if (rc < 0)
		return rc;
	p->magic = KH_ALPC_PORT_MAGIC;
	p->it = it;
	if (kh_alpc_object_name(e, va, name, sizeof(name)) > 0 && !(p->name = kh_strdup(a, name)))
		return KHANG_ENOMEM;
	/* the connection port: this port, or its connection's */
	uint64_t conn = p->pi.kind == KHANG_ALPC_KIND_CONNECTION ? va : p->pi.conn;
	p->conn_queued = -1;
	if (conn == va) {
		p->server_owner = p->pi.owner;
		p->conn_queued = kh_alpc_queued(&p->pi);
		if (p->name && !(p->conn_name = kh_strdup(a, p->name)))
			return KHANG_ENOMEM;
	} else if (conn) {
		kh_alpc_portinfo cpi;
		if (kh_alpc_read_port(e, conn, &cpi) == 0) {
			p->server_owner = cpi.owner;
			p->conn_queued = kh_alpc_queued(&cpi);
		}
		if (kh_alpc_object_name(e, conn, name, sizeof(name)) > 0 && !(p->conn_name = kh_strdup(a, name)))
			return KHANG_ENOMEM;
	}
	return 0;
}

KHANG_API int khang_alpc_port_iter_new(khang_alpc_port_iter **out, khang_source *src, const khang_process *process)
{
	if (!out || !kh_source_ok(src) || (process && !kh_process_ok(process)))
		return kh_error(KHANG_EINVAL, "khang_alpc_port_iter_new: NULL or invalid argument");
	*out = NULL;
	khang_alpc_port_iter *it = kh_calloc(&src->alloc, 1, sizeof(*it));
	if (!it)
		return KHANG_ENOMEM;
	kh_alpc_env *e = &it->e;
	int rc = kh_alpc_env_init(e, src, false);
	if (rc == 0 && process && process->o != e->o)
		rc = kh_error(KHANG_EINVAL, "khang_alpc_port_iter_new: the process belongs to another source");
	uint64_t head = 0;
	if (rc == 0)
		rc = kh_alpc_port_list_head(e, &head);
	if (rc < 0) {
		kh_free(&src->alloc, it);
		return rc;
	}
	collect_ctx c = { e, process ? process->va : 0, kh_layout_offset(e->l, KH_F_ALPC_PORT_PortListEntry), NULL, 0,
		          0, 0 };
	uint32_t n;
	bool broken;
	rc = kh_walk_list(src, head, collect, &c, &n, &broken);
	if (rc < 0)
		goto fail;
	it->skipped = c.skipped;
	if (broken) {
		it->skipped++;
		kh_source_warn(src, "ALPC port list 0x%llx: walk stopped after %u entries (unreadable link, loop or limit)",
		               (unsigned long long)head, n);
	}
	if (c.n) {
		it->ports = kh_calloc(&src->alloc, c.n, sizeof(*it->ports));
		if (!it->ports) {
			rc = KHANG_ENOMEM;
			goto fail;
		}
	}
	for (size_t i = 0; i < c.n; i++) {
		khang_alpc_port *p = &it->ports[it->n];
		rc = port_decode(it, c.v[i], p);
		if (rc == KHANG_ENOMEM) {
			port_release(&src->alloc, p);
			goto fail;
		}
		if (rc < 0) {
			it->skipped++;
			kh_source_warn(src, "ALPC port 0x%llx: its owner and communication info are not in the dump; skipped",
			               (unsigned long long)c.v[i]);
			port_release(&src->alloc, p);
			continue;
		}
		it->n++;
	}
	kh_free(&src->alloc, c.v);
	*out = it;
	return 0;
fail:
	kh_free(&src->alloc, c.v);
	khang_alpc_port_iter_free(it);
	return rc;
}

KHANG_API int khang_alpc_port_next(const khang_alpc_port **out, khang_alpc_port_iter *it)
{
	if (!out || !it)
		return kh_error(KHANG_EINVAL, "khang_alpc_port_next: NULL argument");
	if (it->next >= it->n)
		return KHANG_ITEROVER;
	*out = &it->ports[it->next++];
	return 0;
}

KHANG_API void khang_alpc_port_iter_free(khang_alpc_port_iter *it)
{
	if (!it)
		return;
	const kh_alloc *a = &it->e.src->alloc;
	for (size_t i = 0; i < it->n; i++)
		port_release(a, &it->ports[i]);
	kh_free(a, it->ports);
	kh_free(a, it);
}

KHANG_API uint32_t khang_alpc_port_iter_skipped(const khang_alpc_port_iter *it)
{
	return it ? it->skipped : 0;
}

/* ---- accessors ---------------------------------------------------------------------------- */

KHANG_API uint64_t khang_alpc_port_address(const khang_alpc_port *port)
{
	return port_ok(port) ? port->pi.va : 0;
}

KHANG_API const char *khang_alpc_port_name(const khang_alpc_port *port)
{
	return port_ok(port) && port->name ? port->name : "";
}

KHANG_API khang_alpc_kind khang_alpc_port_kind(const khang_alpc_port *port)
{
	return port_ok(port) ? port->pi.kind : KHANG_ALPC_KIND_UNKNOWN;
}

KHANG_API uint64_t khang_alpc_port_owner_address(const khang_alpc_port *port)
{
	return port_ok(port) ? port->pi.owner : 0;
}

static int process_at(const khang_process **out, const khang_alpc_port *port, uint64_t va, const char *what)
{
	khang_process *p;
	*out = NULL;
	if (!va)
		return kh_error(KHANG_ENOTFOUND, "ALPC port 0x%llx: its %s is unknown", (unsigned long long)port->pi.va, what);
	int rc = kh_find_process(port->it->e.o, va, &p);
	if (rc < 0)
		return kh_error_context(rc, "ALPC port 0x%llx: %s", (unsigned long long)port->pi.va, what);
	*out = p;
	return 0;
}

KHANG_API int khang_alpc_port_owner(const khang_process **out, const khang_alpc_port *port)
{
	if (!out || !port_ok(port))
		return kh_error(KHANG_EINVAL, "khang_alpc_port_owner: NULL or invalid argument");
	return process_at(out, port, port->pi.owner, "owner");
}

KHANG_API uint64_t khang_alpc_port_communication_info(const khang_alpc_port *port)
{
	return port_ok(port) ? port->pi.ci : 0;
}

KHANG_API uint64_t khang_alpc_port_connection_port(const khang_alpc_port *port)
{
	if (!port_ok(port))
		return 0;
	return port->pi.kind == KHANG_ALPC_KIND_CONNECTION ? port->pi.va : port->pi.conn;
}

KHANG_API uint64_t khang_alpc_port_server_port(const khang_alpc_port *port)
{
	return port_ok(port) ? port->pi.server : 0;
}

KHANG_API uint64_t khang_alpc_port_client_port(const khang_alpc_port *port)
{
	return port_ok(port) ? port->pi.client : 0;
}

KHANG_API const char *khang_alpc_port_connection_name(const khang_alpc_port *port)
{
	return port_ok(port) && port->conn_name ? port->conn_name : "";
}

KHANG_API uint64_t khang_alpc_port_server_process_address(const khang_alpc_port *port)
{
	return port_ok(port) ? port->server_owner : 0;
}

KHANG_API int64_t khang_alpc_port_connection_queued(const khang_alpc_port *port)
{
	return port_ok(port) ? port->conn_queued : -1;
}

KHANG_API int khang_alpc_port_server_process(const khang_process **out, const khang_alpc_port *port)
{
	if (!out || !port_ok(port))
		return kh_error(KHANG_EINVAL, "khang_alpc_port_server_process: NULL or invalid argument");
	return process_at(out, port, port->server_owner, "server process");
}

KHANG_API int64_t khang_alpc_port_queue_length(const khang_alpc_port *port, khang_alpc_queue queue)
{
	if (!port_ok(port) || (unsigned)queue >= KHANG_ALPC_QUEUE_COUNT)
		return -1;
	return port->pi.qlen[queue];
}

KHANG_API int64_t khang_alpc_port_queued(const khang_alpc_port *port)
{
	return port_ok(port) ? kh_alpc_queued(&port->pi) : -1;
}

KHANG_API int khang_alpc_port_is_closed(const khang_alpc_port *port)
{
	return port_ok(port) ? port->pi.closed : -1;
}

KHANG_API int khang_alpc_port_is_disconnected(const khang_alpc_port *port)
{
	return port_ok(port) ? port->pi.disconnected : -1;
}

KHANG_API uint32_t khang_alpc_port_skipped(const khang_alpc_port *port)
{
	return port_ok(port) ? port->skipped : 0;
}

/* ---- queues --------------------------------------------------------------------------------- */

typedef struct entries_ctx {
	const kh_alloc *a;
	uint64_t *v;
	size_t n, cap;
	uint64_t link;          /* offset of the link in an entry */
} entries_ctx;

static int add_entry(uint64_t entry, void *payload)
{
	entries_ctx *c = payload;
	if (c->n == c->cap) {
		size_t ncap = c->cap ? c->cap * 2 : 8;
		uint64_t *nv = kh_reallocarray(c->a, c->v, ncap, sizeof(*nv));
		if (!nv)
			return KHANG_ENOMEM;
		c->v = nv;
		c->cap = ncap;
	}
	c->v[c->n++] = entry - c->link;
	return 0;
}

/* Walk the list at head into *c; a broken list counts on the port. */
static int walk_entries(khang_alpc_port *p, uint64_t head, entries_ctx *c, const char *what)
{
	const kh_alpc_env *e = &p->it->e;
	uint32_t n;
	bool broken;
	if (kh_list_uninitialised(e->src, head))
		return 0;
	int rc = kh_walk_list(e->src, head, add_entry, c, &n, &broken);
	if (rc < 0)
		return rc;
	if (broken) {
		p->skipped++;
		kh_source_warn(e->src, "ALPC port 0x%llx: %s: walk stopped after %u entries (unreadable link, loop or limit)",
		               (unsigned long long)p->pi.va, what, n);
	}
	return 0;
}

KHANG_API int khang_alpc_port_queue(const uint64_t **out, size_t *count, const khang_alpc_port *cport,
                                    khang_alpc_queue queue)
{
	if (!out || !count || !port_ok(cport) || (unsigned)queue >= KHANG_ALPC_QUEUE_COUNT)
		return kh_error(KHANG_EINVAL, "khang_alpc_port_queue: NULL or invalid argument");
	*out = NULL;
	*count = 0;
	khang_alpc_port *p = (khang_alpc_port *)cport;
	const kh_alpc_env *e = &p->it->e;
	const kh_alpc_queue_fields *qf = &kh_alpc_queues[queue];
	if (!kh_layout_has(e->l, qf->head) || !kh_layout_has(e->l, qf->link))
		return kh_error(KHANG_ENOTFOUND, "ALPC port 0x%llx: the layout has no %s queue", (unsigned long long)p->pi.va,
		                khang_alpc_queue_name(queue));
	if (!p->q_loaded[queue]) {
		entries_ctx c = { &e->src->alloc, NULL, 0, 0, kh_layout_offset(e->l, qf->link) };
		char what[32];
		snprintf(what, sizeof(what), "%s queue", khang_alpc_queue_name(queue));
		int rc = walk_entries(p, kh_field_addr(e->l, p->pi.va, qf->head), &c, what);
		if (rc < 0) {
			kh_free(c.a, c.v);
			return rc;
		}
		p->q[queue] = c.v;
		p->nq[queue] = c.n;
		p->q_loaded[queue] = true;
	}
	*out = p->q[queue];
	*count = p->nq[queue];
	return 0;
}

/* ---- connections --------------------------------------------------------------------------------- */

static int load_connections(khang_alpc_port *p)
{
	const kh_alpc_env *e = &p->it->e;
	const kh_alloc *a = &e->src->alloc;
	if (p->pi.kind != KHANG_ALPC_KIND_CONNECTION || !p->pi.ci ||
	    !kh_layout_has(e->l, KH_F_ALPC_COMMUNICATION_INFO_CommunicationList))
		return 0;
	entries_ctx c = { a, NULL, 0, 0, kh_layout_offset(e->l, KH_F_ALPC_COMMUNICATION_INFO_CommunicationList) };
	int rc = walk_entries(p, kh_field_addr(e->l, p->pi.ci, KH_F_ALPC_COMMUNICATION_INFO_CommunicationList), &c,
	                      "connection list");
	if (rc < 0) {
		kh_free(a, c.v);
		return rc;
	}
	if (c.n) {
		p->conns = kh_calloc(a, c.n, sizeof(*p->conns));
		if (!p->conns) {
			kh_free(a, c.v);
			return KHANG_ENOMEM;
		}
	}
	for (size_t i = 0; i < c.n; i++) {
		kh_alpc_conn *k = &p->conns[p->nconns];
		kh_alpc_buf b;
		memset(k, 0, sizeof(*k));
		k->ci = c.v[i];
		k->server_queued = k->client_queued = -1;
		if (kh_alpc_buf_read(e, &b, k->ci, KH_S_ALPC_COMMUNICATION_INFO) < 0 ||
		    kh_alpc_buf_u64(e, &b, KH_F_ALPC_COMMUNICATION_INFO_ServerCommunicationPort, &k->server) < 0 ||
		    kh_alpc_buf_u64(e, &b, KH_F_ALPC_COMMUNICATION_INFO_ClientCommunicationPort, &k->client) < 0) {
			p->skipped++;
			kh_source_warn(e->src, "ALPC port 0x%llx: connection 0x%llx is not in the dump; skipped",
			               (unsigned long long)p->pi.va, (unsigned long long)k->ci);
			continue;
		}
		kh_alpc_portinfo pi;
		if (k->server && kh_alpc_read_port(e, k->server, &pi) == 0) {
			k->server_queued = kh_alpc_queued(&pi);
			k->server_owner = pi.owner;
		}
		if (k->client && kh_alpc_read_port(e, k->client, &pi) == 0) {
			k->client_queued = kh_alpc_queued(&pi);
			k->client_owner = pi.owner;
		}
		p->nconns++;
	}
	kh_free(a, c.v);
	return 0;
}

KHANG_API int khang_alpc_port_connection_count(const khang_alpc_port *cport)
{
	if (!port_ok(cport))
		return kh_error(KHANG_EINVAL, "khang_alpc_port_connection_count: NULL or invalid argument");
	khang_alpc_port *p = (khang_alpc_port *)cport;
	if (!p->conns_loaded) {
		p->conns_rc = load_connections(p);
		p->conns_loaded = true;
	}
	if (p->conns_rc < 0)
		return kh_error(p->conns_rc, "ALPC port 0x%llx: its connections: out of memory", (unsigned long long)p->pi.va);
	return (int)KH_MIN(p->nconns, (size_t)INT32_MAX);
}

KHANG_API int khang_alpc_port_connection(khang_alpc_connection *out, const khang_alpc_port *port, size_t index)
{
	if (!out || !port_ok(port) || out->size < offsetof(khang_alpc_connection, server_port))
		return kh_error(KHANG_EINVAL, "khang_alpc_port_connection: NULL or invalid argument (set out->size)");
	int n = khang_alpc_port_connection_count(port);
	if (n < 0)
		return n;
	if (index >= (size_t)n)
		return kh_error(KHANG_ENOTFOUND, "ALPC port 0x%llx has %d connections, not %zu",
		                (unsigned long long)port->pi.va, n, index + 1);
	const kh_alpc_conn *k = &port->conns[index];
	kh_objects *o = port->it->e.o;
	khang_process *pr;
	khang_alpc_connection tmp;
	memset(&tmp, 0, sizeof(tmp));
	tmp.communication_info = k->ci;
	tmp.server_port = k->server;
	tmp.client_port = k->client;
	tmp.server_queued = k->server_queued;
	tmp.client_queued = k->client_queued;
	tmp.server_process_address = k->server_owner;
	tmp.client_process_address = k->client_owner;
	if (k->server_owner && kh_find_process(o, k->server_owner, &pr) == 0)
		tmp.server_process = pr;
	if (k->client_owner && kh_find_process(o, k->client_owner, &pr) == 0)
		tmp.client_process = pr;
	size_t sz = KH_MIN(out->size, sizeof(tmp));
	tmp.size = sz;
	memcpy(out, &tmp, sz);
	return 0;
}

/*
 * ALPC ports and ALPC waits on forge-made dumps (fg_alpc: the seed's logoff
 * hang on the object layer's sample kernel), checked field by field against
 * what the forge wrote, for Windows 7, 8.1, 10 and 11 x64 kernels (by GUID)
 * and x86 kernels (PAE and non-PAE, Windows 7 and 10; no symbols, so the
 * port list is found through the threads). Also: damaged input (a port list
 * that loops, a message whose port pointer is garbage, a missing page in
 * the middle of a queue, a connection list that loops), the list limits,
 * failing allocations, limited mode and argument checks.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <cmocka.h>

#include "fail_alloc.h"

#include "khang.h"
#include "fg_alpc.h"

typedef struct built {
	fg_alpc_sample *a;
	uint8_t *buf;
	size_t len;
	khang_source *src;
} built;

static const kh_layout *guid_layout(uint32_t build)
{
	for (size_t i = 0; i < kh_layout_builtin_count(); i++) {
		const kh_layout *l = kh_layout_builtin_at(i);
		kh_layout_info li;
		kh_layout_get_info(l, &li);
		if (li.source == KH_LAYOUT_BUILTIN_GUID && li.build == build)
			return l;
	}
	return NULL;
}

static const kh_layout *x86_layout(uint32_t build, int pae)
{
	kh_layout_candidate c[4];
	size_t n = kh_layout_builtin_candidates(KHANG_ARCH_X86, build, pae, c, 4);
	assert_true(n > 0);
	return c[0].layout;
}

static const kh_layout *w10(void)
{
	return kh_layout_builtin_by_guid_string("5278AFF86C341677D7D7835C85B7B844", 1);
}

static void open_built(built *b, fg_format fmt, const khang_source_opts *so)
{
	fg_write_opts wo = FG_WRITE_OPTS_INIT;
	wo.format = fmt;
	wo.kernel_only = fmt != FG_FMT_FULL;
	assert_int_equal(fg_write_memory(b->a->s->f, &b->buf, &b->len, &wo), 0);
	int rc = khang_source_open_memory(&b->src, b->buf, b->len, so);
	if (rc)
		fprintf(stderr, "open: %s\n", khang_error_last());
	assert_int_equal(rc, 0);
}

static void build(built *b, const kh_layout *l, fg_format fmt)
{
	memset(b, 0, sizeof(*b));
	b->a = fg_alpc_sample_new(l);
	open_built(b, fmt, NULL);
}

static void done(built *b)
{
	khang_source_free(b->src);
	free(b->buf);
	fg_alpc_sample_free(b->a);
}

static bool has_warning(khang_source *src, const char *needle)
{
	for (uint32_t i = 0; i < khang_source_warning_count(src) && i < 64; i++) {
		const char *w = khang_source_warning(src, i);
		if (w && strstr(w, needle))
			return true;
	}
	return false;
}

static int64_t ms_since(uint32_t tick)
{
	return (int64_t)(((uint64_t)(uint32_t)(FG_SAMPLE_TICK_COUNT - tick) * 0x0FA00000u) >> 24);
}

static void wr_ptr(const built *b, uint64_t va, uint64_t v)
{
	assert_int_equal(fg_write_ptr(b->a->s->f, fg_kernel_dtb(b->a->s->f), va, v), 0);
}

static void set_field(const built *b, uint64_t va, kh_field_id id, uint64_t v)
{
	assert_int_equal(fg_kernel_set(b->a->s->k, va, id, v), 0);
}

/* Rewrite the dump after patching the forge and reopen it. */
static void reopen(built *b, const khang_source_opts *so)
{
	khang_source_free(b->src);
	free(b->buf);
	b->buf = NULL;
	open_built(b, FG_FMT_BITMAP_KERNEL, so);
}

/* ---- checks ------------------------------------------------------------------------ */

static const char *conn_name(const fg_alpc_sample *a, const fg_alpc_port_rec *r)
{
	int c = fg_alpc_sample_port_index(a, r->connection);
	return c >= 0 && a->ports[c].name ? a->ports[c].name : "";
}

static uint64_t conn_owner(const fg_alpc_sample *a, const fg_alpc_port_rec *r)
{
	int c = fg_alpc_sample_port_index(a, r->connection);
	return c >= 0 ? a->ports[c].owner : 0;
}

static void check_queue(const khang_alpc_port *p, khang_alpc_queue q, const uint64_t *want, unsigned n)
{
	const uint64_t *v;
	size_t count;
	assert_int_equal(khang_alpc_port_queue(&v, &count, p, q), 0);
	assert_int_equal(count, n);
	for (unsigned i = 0; i < n; i++)
		assert_int_equal(v[i], want[i]);
}

static void check_port(const fg_alpc_sample *a, khang_source *src, const fg_alpc_port_rec *r, const khang_alpc_port *p)
{
	const khang_process *pr;
	assert_int_equal(khang_alpc_port_address(p), r->va);
	assert_string_equal(khang_alpc_port_name(p), r->name ? r->name : "");
	assert_int_equal(khang_alpc_port_kind(p), r->kind);
	assert_int_equal(khang_alpc_port_owner_address(p), r->owner);
	assert_int_equal(khang_alpc_port_owner(&pr, p), 0);
	assert_int_equal(khang_process_address(pr), r->owner);
	assert_int_equal(khang_alpc_port_communication_info(p), r->ci);
	assert_int_equal(khang_alpc_port_connection_port(p), r->connection);
	assert_int_equal(khang_alpc_port_server_port(p), r->server);
	assert_int_equal(khang_alpc_port_client_port(p), r->client);
	assert_string_equal(khang_alpc_port_connection_name(p), conn_name(a, r));
	assert_int_equal(khang_alpc_port_server_process_address(p), conn_owner(a, r));
	assert_int_equal(khang_alpc_port_server_process(&pr, p), 0);
	assert_int_equal(khang_process_address(pr), conn_owner(a, r));
	for (int q = 0; q < KHANG_ALPC_QUEUE_COUNT; q++)
		assert_int_equal(khang_alpc_port_queue_length(p, (khang_alpc_queue)q), r->qlen[q]);
	assert_int_equal(khang_alpc_port_queue_length(p, (khang_alpc_queue)KHANG_ALPC_QUEUE_COUNT), -1);
	assert_int_equal(khang_alpc_port_queued(p), r->qlen[0] + r->qlen[1] + r->qlen[2]);
	int ci = fg_alpc_sample_port_index(a, r->connection);
	assert_true(ci >= 0);
	const int64_t *cq = a->ports[ci].qlen;
	assert_int_equal(khang_alpc_port_connection_queued(p), cq[0] + cq[1] + cq[2]);
	check_queue(p, KHANG_ALPC_QUEUE_MAIN, r->messages, r->nmessages);
	check_queue(p, KHANG_ALPC_QUEUE_PENDING, r->pending, r->npending);
	check_queue(p, KHANG_ALPC_QUEUE_WAIT, r->receivers, r->nreceivers);
	check_queue(p, KHANG_ALPC_QUEUE_LARGE_MESSAGE, NULL, 0);
	check_queue(p, KHANG_ALPC_QUEUE_CANCELED, NULL, 0);
	const uint64_t *v;
	size_t n;
	if (r->qlen[KHANG_ALPC_QUEUE_DIRECT] < 0)
		assert_int_equal(khang_alpc_port_queue(&v, &n, p, KHANG_ALPC_QUEUE_DIRECT), KHANG_ENOTFOUND);
	else
		check_queue(p, KHANG_ALPC_QUEUE_DIRECT, NULL, 0);
	assert_int_equal(khang_alpc_port_is_closed(p), 0);
	assert_int_equal(khang_alpc_port_is_disconnected(p), 0);
	/* connections */
	assert_int_equal(khang_alpc_port_connection_count(p), r->kind == KHANG_ALPC_KIND_CONNECTION ? r->nconnections : 0);
	for (unsigned i = 0; i < r->nconnections; i++) {
		khang_alpc_connection c = KHANG_ALPC_CONNECTION_INIT;
		assert_int_equal(khang_alpc_port_connection(&c, p, i), 0);
		assert_int_equal(c.size, sizeof(c));
		assert_int_equal(c.communication_info, r->connections[i]);
		/* the server and client ports of the connection are recorded
		 * right after each other, server first */
		int si = -1;
		for (unsigned k = 0; k < a->nports; k++)
			if (a->ports[k].ci == r->connections[i] && a->ports[k].kind == KHANG_ALPC_KIND_SERVER_COMMUNICATION)
				si = (int)k;
		assert_true(si >= 0);
		const fg_alpc_port_rec *sr = &a->ports[si], *cr = &a->ports[si + 1];
		assert_int_equal(c.server_port, sr->va);
		assert_int_equal(c.client_port, cr->va);
		assert_int_equal(c.server_queued, sr->qlen[0] + sr->qlen[1] + sr->qlen[2]);
		assert_int_equal(c.client_queued, cr->qlen[0] + cr->qlen[1] + cr->qlen[2]);
		assert_int_equal(c.server_process_address, r->owner);
		assert_non_null(c.server_process);
		assert_int_equal(khang_process_address(c.server_process), r->owner);
		assert_int_equal(c.client_process_address, cr->owner);
		assert_non_null(c.client_process);
		assert_int_equal(khang_process_address(c.client_process), cr->owner);
	}
	khang_alpc_connection c = KHANG_ALPC_CONNECTION_INIT;
	assert_int_equal(khang_alpc_port_connection(&c, p, r->nconnections), KHANG_ENOTFOUND);
	assert_int_equal(khang_alpc_port_skipped(p), 0);
	/* the name from the address */
	char name[128];
	const char *want = r->name ? r->name : "";
	assert_int_equal(khang_alpc_port_name_at(name, sizeof(name), src, r->va), (int)strlen(want));
	assert_string_equal(name, want);
	/* truncated like snprintf */
	if (r->name) {
		assert_int_equal(khang_alpc_port_name_at(name, 4, src, r->va), (int)strlen(want));
		assert_int_equal(strlen(name), 3);
		assert_int_equal(khang_alpc_port_name_at(NULL, 0, src, r->va), (int)strlen(want));
	}
}

/* Every port of the system, or of one process, in list order. */
static void check_ports(const fg_alpc_sample *a, khang_source *src, const khang_process *only)
{
	khang_alpc_port_iter *it;
	const khang_alpc_port *p;
	assert_int_equal(khang_alpc_port_iter_new(&it, src, only), 0);
	unsigned n = 0;
	for (unsigned i = 0; i < a->nports; i++) {
		const fg_alpc_port_rec *r = &a->ports[i];
		if (only && r->owner != khang_process_address(only))
			continue;
		assert_int_equal(khang_alpc_port_next(&p, it), 0);
		check_port(a, src, r, p);
		n++;
	}
	assert_int_equal(khang_alpc_port_next(&p, it), KHANG_ITEROVER);
	assert_int_equal(khang_alpc_port_next(&p, it), KHANG_ITEROVER);
	assert_int_equal(khang_alpc_port_iter_skipped(it), 0);
	assert_true(n > 0);
	khang_alpc_port_iter_free(it);
}

static void check_wait(const fg_alpc_sample *a, const fg_alpc_wait_rec *r, const khang_alpc_wait *w)
{
	(void)a;
	assert_int_equal(w->size, sizeof(*w));
	assert_non_null(w->thread);
	assert_int_equal(khang_thread_address(w->thread), r->thread);
	assert_int_equal(w->thread_address, r->thread);
	assert_int_equal(w->client_process_address, r->process);
	assert_non_null(w->client_process);
	assert_int_equal(khang_process_address(w->client_process), r->process);
	assert_int_equal(w->wait_ms, ms_since(r->wait_time));
	assert_int_equal(w->message, r->message);
	assert_int_equal(w->message_id, r->message_id);
	assert_int_equal(w->message_ok, 1);
	assert_int_equal(w->queue_port, r->queue_port);
	assert_int_equal(w->queue_port_kind, r->queue_kind);
	assert_int_equal(w->owner_port, r->owner_port);
	assert_int_equal(w->connection_port, r->connection_port);
	assert_int_equal(w->server_process_address, r->server_process);
	assert_non_null(w->server_process);
	assert_int_equal(khang_process_address(w->server_process), r->server_process);
	assert_int_equal(w->server_thread_address, r->server_thread);
	if (r->server_thread) {
		assert_non_null(w->server_thread);
		assert_int_equal(khang_thread_address(w->server_thread), r->server_thread);
	} else {
		assert_null(w->server_thread);
	}
}

static void check_waits(const fg_alpc_sample *a, khang_source *src)
{
	khang_alpc_wait_iter *it;
	khang_alpc_wait w = KHANG_ALPC_WAIT_INIT;
	assert_int_equal(khang_alpc_wait_iter_new(&it, src), 0);
	for (unsigned i = 0; i < a->nwaits; i++) {
		assert_int_equal(khang_alpc_wait_next(&w, it), 0);
		check_wait(a, &a->waits[i], &w);
		/* the same from the thread */
		khang_alpc_wait t = KHANG_ALPC_WAIT_INIT;
		assert_int_equal(khang_thread_alpc_wait(&t, w.thread), 0);
		check_wait(a, &a->waits[i], &t);
	}
	assert_int_equal(khang_alpc_wait_next(&w, it), KHANG_ITEROVER);
	assert_int_equal(khang_alpc_wait_iter_skipped(it), 0);
	khang_alpc_wait_iter_free(it);
	/* threads that do not wait for a reply */
	const khang_thread *t;
	khang_alpc_wait x = KHANG_ALPC_WAIT_INIT;
	assert_int_equal(khang_thread_by_address(&t, src, a->server_thread), 0);
	assert_int_equal(khang_thread_alpc_wait(&x, t), KHANG_ENOTFOUND);
	assert_int_equal(khang_thread_by_address(&t, src, a->receivers[0]), 0);
	assert_int_equal(khang_thread_wait_reason(t), 16);
	assert_int_equal(khang_thread_alpc_wait(&x, t), KHANG_ENOTFOUND);
	/* fg_sample's svchost thread waits in WrLpcReply without a message */
	const fg_sample *s = a->s;
	assert_int_equal(khang_thread_by_address(&t, src, s->threads[s->procs[1].first_thread + 1].va), 0);
	assert_string_equal(khang_thread_wait_reason_name(t), "WrLpcReply");
	assert_int_equal(khang_thread_alpc_wait(&x, t), KHANG_ENOTFOUND);
	assert_non_null(strstr(khang_error_last(), "without an ALPC message"));
}

static void check_all(const fg_alpc_sample *a, khang_source *src)
{
	const khang_process *p;
	check_ports(a, src, NULL);
	assert_int_equal(khang_process_by_address(&p, src, a->explorer), 0);
	check_ports(a, src, p);
	assert_int_equal(khang_process_by_address(&p, src, a->rdpclip), 0);
	check_ports(a, src, p);
	check_waits(a, src);
	/* a process without ports */
	khang_alpc_port_iter *it;
	const khang_alpc_port *port;
	assert_int_equal(khang_process_by_pid(&p, src, 0x1234), 0); /* zombie.exe */
	assert_int_equal(khang_alpc_port_iter_new(&it, src, p), 0);
	assert_int_equal(khang_alpc_port_next(&port, it), KHANG_ITEROVER);
	khang_alpc_port_iter_free(it);
}

/* The layouts tested: x64 Windows 7, 8.1, 10 (two), 11 by GUID; x86 7 PAE,
 * 7 non-PAE, 10 PAE. */
static size_t test_layouts(const kh_layout **out)
{
	size_t n = 0;
	out[n++] = guid_layout(7601);
	out[n++] = guid_layout(9600);
	out[n++] = w10();
	out[n++] = guid_layout(17763);
	out[n++] = guid_layout(22000);
	out[n++] = x86_layout(7601, 1);
	out[n++] = x86_layout(7601, 0);
	out[n++] = x86_layout(19041, 1);
	for (size_t i = 0; i < n; i++)
		assert_non_null(out[i]);
	return n;
}

static void test_sample_every_layout(void **state)
{
	const kh_layout *ls[8];
	static const fg_format fmts[] = { FG_FMT_FULL, FG_FMT_BITMAP_KERNEL };
	(void)state;
	size_t n = test_layouts(ls);
	for (size_t i = 0; i < n; i++) {
		kh_layout_info li;
		kh_layout_get_info(ls[i], &li);
		for (size_t f = 0; f < sizeof(fmts) / sizeof(fmts[0]); f++) {
			built b;
			build(&b, ls[i], fmts[f]);
			khang_kernel_info ki = KHANG_KERNEL_INFO_INIT;
			assert_int_equal(khang_source_kernel_info(&ki, b.src), 0);
			assert_int_equal(ki.check, KHANG_CHECK_PASSED);
			check_all(b.a, b.src);
			for (uint32_t w = 0; w < khang_source_warning_count(b.src); w++)
				fprintf(stderr, "%s: warning: %s\n", li.description, khang_source_warning(b.src, w));
			assert_int_equal(khang_source_warning_count(b.src), 0);
			done(&b);
		}
		printf("%s: ports, connections, queues and waits checked\n", li.description);
	}
}

/* The seed, as the !lpcwait view shows it: svchost waits 1m:25.406 on
 * explorer's connection port, and no server thread has taken the message. */
static void test_seed_case(void **state)
{
	built b;
	(void)state;
	build(&b, w10(), FG_FMT_BITMAP_KERNEL);
	khang_alpc_wait_iter *it;
	khang_alpc_wait w = KHANG_ALPC_WAIT_INIT;
	assert_int_equal(khang_alpc_wait_iter_new(&it, b.src), 0);
	assert_int_equal(khang_alpc_wait_next(&w, it), 0);
	assert_string_equal(khang_process_name(w.client_process), "svchost.exe");
	assert_string_equal(khang_process_name(w.server_process), "explorer.exe");
	assert_int_equal(w.wait_ms, 85406);
	char d[32];
	khang_format_duration(d, sizeof(d), w.wait_ms);
	assert_string_equal(d, "1m:25.406");
	assert_int_equal(w.server_thread_address, 0);
	assert_int_equal(w.queue_port_kind, KHANG_ALPC_KIND_CONNECTION);
	char name[64];
	assert_true(khang_alpc_port_name_at(name, sizeof(name), b.src, w.connection_port) > 0);
	assert_string_equal(name, "OLE68D95701484F75BAC07FBACD02B9");
	/* the third wait: dllhost on svchost's LSMApi, taken by a server thread */
	assert_int_equal(khang_alpc_wait_next(&w, it), 0);
	assert_int_equal(khang_alpc_wait_next(&w, it), 0);
	assert_string_equal(khang_process_name(w.server_process), "svchost.exe");
	assert_int_equal(w.queue_port_kind, KHANG_ALPC_KIND_SERVER_COMMUNICATION);
	assert_int_equal(khang_thread_tid(w.server_thread), 0x3d8);
	khang_alpc_wait_iter_free(it);
	/* a smaller (older) structure is filled up to its size */
	khang_alpc_wait_iter_new(&it, b.src);
	khang_alpc_wait small;
	memset(&small, 0xAB, sizeof(small));
	small.size = offsetof(khang_alpc_wait, wait_ms);
	assert_int_equal(khang_alpc_wait_next(&small, it), 0);
	assert_int_equal(small.size, offsetof(khang_alpc_wait, wait_ms));
	assert_int_equal(small.thread_address, b.a->seed_thread);
	assert_int_equal(small.wait_ms, (int64_t)0xABABABABABABABABull);
	khang_alpc_wait_iter_free(it);
	done(&b);
}

/* ---- damaged input ------------------------------------------------------------------ */

/* The port list loops back to an earlier port (not through the head). */
static void test_port_list_loop(void **state)
{
	built b;
	(void)state;
	build(&b, w10(), FG_FMT_BITMAP_KERNEL);
	const fg_alpc_sample *a = b.a;
	uint32_t link = kh_layout_offset(a->s->l, KH_F_ALPC_PORT_PortListEntry);
	wr_ptr(&b, a->ports[9].va + link, a->ports[4].va + link);
	reopen(&b, NULL);
	khang_alpc_port_iter *it;
	const khang_alpc_port *p;
	assert_int_equal(khang_alpc_port_iter_new(&it, b.src, NULL), 0);
	unsigned n = 0;
	while (khang_alpc_port_next(&p, it) == 0) {
		assert_int_equal(khang_alpc_port_address(p), a->ports[n].va);
		n++;
	}
	assert_int_equal(n, 10);
	assert_int_equal(khang_alpc_port_iter_skipped(it), 1);
	assert_true(has_warning(b.src, "ALPC port list"));
	khang_alpc_port_iter_free(it);
	done(&b);
}

/* A port on the list that cannot be read is skipped and counted. */
static void test_unreadable_port(void **state)
{
	built b;
	(void)state;
	build(&b, w10(), FG_FMT_BITMAP_KERNEL);
	const fg_alpc_sample *a = b.a;
	uint32_t link = kh_layout_offset(a->s->l, KH_F_ALPC_PORT_PortListEntry);
	/* port 5's entry is bypassed by a pointer to an unmapped port whose
	 * Flink cannot be read either: the walk stops there */
	uint64_t bogus = 0xffffa7ff00000000ull;
	wr_ptr(&b, a->ports[5].va + link, bogus + link);
	reopen(&b, NULL);
	khang_alpc_port_iter *it;
	const khang_alpc_port *p;
	assert_int_equal(khang_alpc_port_iter_new(&it, b.src, NULL), 0);
	unsigned n = 0;
	while (khang_alpc_port_next(&p, it) == 0)
		n++;
	assert_int_equal(n, 6);
	/* the unreadable port, and the broken list after it */
	assert_int_equal(khang_alpc_port_iter_skipped(it), 2);
	khang_alpc_port_iter_free(it);
	done(&b);
}

/* Garbage pointers in the messages: the waits are still there, with what
 * could be read, and the damage is counted. */
static void test_garbage_message_pointers(void **state)
{
	built b;
	(void)state;
	build(&b, w10(), FG_FMT_BITMAP_KERNEL);
	const fg_alpc_sample *a = b.a;
	/* the seed's message: PortQueue is garbage (the OwnerPort still leads to
	 * explorer's connection port); the second's: it names another thread;
	 * dllhost's: ServerThread is a process, not a thread */
	set_field(&b, a->waits[0].message, KH_F_KALPC_MESSAGE_PortQueue, 0xfffff80412000123ull);
	set_field(&b, a->waits[1].message, KH_F_KALPC_MESSAGE_WaitingThread, a->server_thread);
	set_field(&b, a->waits[2].message, KH_F_KALPC_MESSAGE_ServerThread, a->explorer);
	reopen(&b, NULL);
	khang_alpc_wait_iter *it;
	khang_alpc_wait w = KHANG_ALPC_WAIT_INIT;
	assert_int_equal(khang_alpc_wait_iter_new(&it, b.src), 0);
	assert_int_equal(khang_alpc_wait_next(&w, it), 0);
	assert_int_equal(w.thread_address, a->waits[0].thread);
	assert_int_equal(w.message_ok, 1);
	assert_int_equal(w.queue_port, 0);
	assert_int_equal(w.owner_port, a->waits[0].owner_port);
	assert_int_equal(w.connection_port, a->waits[0].connection_port);
	assert_int_equal(w.server_process_address, a->explorer);
	assert_int_equal(khang_alpc_wait_next(&w, it), 0);
	assert_int_equal(w.thread_address, a->waits[2].thread);
	assert_int_equal(w.server_thread_address, a->explorer);
	assert_null(w.server_thread);
	assert_int_equal(w.server_process_address, a->svchost);
	/* the wait whose message names another thread comes last: no server */
	assert_int_equal(khang_alpc_wait_next(&w, it), 0);
	assert_int_equal(w.thread_address, a->waits[1].thread);
	assert_int_equal(w.message_ok, 0);
	assert_int_equal(w.message, a->waits[1].message);
	assert_int_equal(w.server_process_address, 0);
	assert_null(w.server_process);
	assert_int_equal(khang_alpc_wait_next(&w, it), KHANG_ITEROVER);
	assert_int_equal(khang_alpc_wait_iter_skipped(it), 3);
	assert_true(has_warning(b.src, "is not an ALPC port"));
	assert_true(has_warning(b.src, "names another waiting thread"));
	assert_true(has_warning(b.src, "is not a thread"));
	khang_alpc_wait_iter_free(it);
	done(&b);
}

/* A missing page in the middle of a queue: the entries before it, the
 * broken walk counted on the port; the wait whose message is on it still
 * listed, without its server. */
static void test_missing_page_in_queue(void **state)
{
	built b;
	(void)state;
	memset(&b, 0, sizeof(b));
	b.a = fg_alpc_sample_new(w10());
	const fg_alpc_sample *a = b.a;
	fg_forge *f = a->s->f;
	fg_kernel *k = a->s->k;
	const fg_alpc_port_rec *ole = &a->ports[a->ole];
	/* two more messages on pages of their own; the first of them, which a
	 * new svchost thread waits on, is not in the dump */
	uint64_t t = fg_kernel_add_thread(k, a->svchost, 0x3e0);
	fg_kernel_alloc(k, 0x1000);
	uint64_t m3 = fg_alpc_message(f, k, ole->va, KHANG_ALPC_QUEUE_MAIN, 0, t, 0);
	fg_kernel_alloc(k, 0x1000);
	uint64_t m4 = fg_alpc_message(f, k, ole->va, KHANG_ALPC_QUEUE_MAIN, 0, 0, 0);
	fg_alpc_wait_reply(f, k, t, m3, 0x77, FG_SAMPLE_TICK_COUNT - 10);
	assert_true((m3 >> 12) != (m4 >> 12) && (m3 >> 12) != (ole->messages[1] >> 12));
	fg_map(f, fg_kernel_dtb(f), m3 & ~0xFFFull, 0x5000000, FG_PAGE_4K, FG_MAP_NOT_PRESENT);
	open_built(&b, FG_FMT_BITMAP_KERNEL, NULL);
	khang_alpc_port_iter *it;
	const khang_alpc_port *p = NULL;
	assert_int_equal(khang_alpc_port_iter_new(&it, b.src, NULL), 0);
	for (unsigned i = 0; i <= a->ole; i++)
		assert_int_equal(khang_alpc_port_next(&p, it), 0);
	const uint64_t *v;
	size_t n;
	assert_int_equal(khang_alpc_port_queue(&v, &n, p, KHANG_ALPC_QUEUE_MAIN), 0);
	assert_int_equal(n, 3);
	assert_int_equal(v[0], ole->messages[0]);
	assert_int_equal(v[1], ole->messages[1]);
	assert_int_equal(v[2], m3);
	assert_int_equal(khang_alpc_port_skipped(p), 1);
	assert_int_equal(khang_alpc_port_queue_length(p, KHANG_ALPC_QUEUE_MAIN), 4);
	/* asked again: the same, counted once */
	assert_int_equal(khang_alpc_port_queue(&v, &n, p, KHANG_ALPC_QUEUE_MAIN), 0);
	assert_int_equal(n, 3);
	assert_int_equal(khang_alpc_port_skipped(p), 1);
	assert_true(has_warning(b.src, "main queue: walk stopped"));
	khang_alpc_port_iter_free(it);
	/* the new thread's wait: its message is gone, it comes last */
	khang_alpc_wait_iter *wi;
	khang_alpc_wait w = KHANG_ALPC_WAIT_INIT;
	assert_int_equal(khang_alpc_wait_iter_new(&wi, b.src), 0);
	for (unsigned i = 0; i < a->nwaits; i++) {
		assert_int_equal(khang_alpc_wait_next(&w, wi), 0);
		check_wait(a, &a->waits[i], &w);
	}
	assert_int_equal(khang_alpc_wait_next(&w, wi), 0);
	assert_int_equal(w.thread_address, t);
	assert_int_equal(w.message, m3);
	assert_int_equal(w.message_ok, 0);
	assert_int_equal(w.message_id, 0x77);
	assert_null(w.server_process);
	assert_int_equal(khang_alpc_wait_next(&w, wi), KHANG_ITEROVER);
	assert_int_equal(khang_alpc_wait_iter_skipped(wi), 1);
	assert_true(has_warning(b.src, "is not in the dump"));
	khang_alpc_wait_iter_free(wi);
	done(&b);
}

/* A connection list that loops, and a queue that points back at itself. */
static void test_connection_list_loop(void **state)
{
	built b;
	(void)state;
	build(&b, w10(), FG_FMT_BITMAP_KERNEL);
	const fg_alpc_sample *a = b.a;
	const fg_alpc_port_rec *ole = &a->ports[a->ole];
	uint32_t cl = kh_layout_offset(a->s->l, KH_F_ALPC_COMMUNICATION_INFO_CommunicationList);
	wr_ptr(&b, ole->connections[2] + cl, ole->connections[1] + cl);
	uint32_t entry = kh_layout_offset(a->s->l, KH_F_KALPC_MESSAGE_Entry);
	wr_ptr(&b, ole->messages[0] + entry, ole->messages[0] + entry);
	reopen(&b, NULL);
	khang_alpc_port_iter *it;
	const khang_alpc_port *p = NULL;
	assert_int_equal(khang_alpc_port_iter_new(&it, b.src, NULL), 0);
	assert_int_equal(khang_alpc_port_next(&p, it), 0);
	assert_int_equal(khang_alpc_port_address(p), ole->va);
	assert_int_equal(khang_alpc_port_connection_count(p), 3);
	assert_int_equal(khang_alpc_port_skipped(p), 1);
	const uint64_t *v;
	size_t n;
	assert_int_equal(khang_alpc_port_queue(&v, &n, p, KHANG_ALPC_QUEUE_MAIN), 0);
	assert_int_equal(n, 1);
	assert_int_equal(khang_alpc_port_skipped(p), 2);
	khang_alpc_port_iter_free(it);
	done(&b);
}

/* The list limit bounds every walk. */
static void test_list_limits(void **state)
{
	built b;
	(void)state;
	memset(&b, 0, sizeof(b));
	b.a = fg_alpc_sample_new(w10());
	khang_source_opts so = KHANG_SOURCE_OPTS_INIT;
	so.max_list_entries = 8;
	open_built(&b, FG_FMT_BITMAP_KERNEL, &so);
	khang_alpc_port_iter *it;
	const khang_alpc_port *p;
	assert_int_equal(khang_alpc_port_iter_new(&it, b.src, NULL), 0);
	unsigned n = 0;
	while (khang_alpc_port_next(&p, it) == 0)
		n++;
	assert_int_equal(n, 8);
	assert_int_equal(khang_alpc_port_iter_skipped(it), 1);
	khang_alpc_port_iter_free(it);
	done(&b);
}

/* x86 layouts have no symbols: without a thread that leads to a port the
 * port list cannot be found; the waits are still read (none). */
static void test_no_port_list(void **state)
{
	(void)state;
	fg_sample *s = fg_sample_new(x86_layout(7601, 1), 4);
	uint8_t *buf;
	size_t len;
	khang_source *src;
	assert_int_equal(fg_sample_write(s, FG_FMT_BITMAP_KERNEL, &buf, &len), 0);
	assert_int_equal(khang_source_open_memory(&src, buf, len, NULL), 0);
	khang_alpc_port_iter *it;
	assert_int_equal(khang_alpc_port_iter_new(&it, src, NULL), KHANG_ENOTFOUND);
	assert_null(it);
	assert_non_null(strstr(khang_error_last(), "AlpcpPortList"));
	khang_alpc_wait_iter *wi;
	khang_alpc_wait w = KHANG_ALPC_WAIT_INIT;
	assert_int_equal(khang_alpc_wait_iter_new(&wi, src), 0);
	assert_int_equal(khang_alpc_wait_next(&w, wi), KHANG_ITEROVER);
	khang_alpc_wait_iter_free(wi);
	/* an x64 kernel with symbols and an empty list: no ports */
	khang_source_free(src);
	free(buf);
	fg_sample_free(s);
	s = fg_sample_new(w10(), 4);
	assert_int_equal(fg_sample_write(s, FG_FMT_BITMAP_KERNEL, &buf, &len), 0);
	assert_int_equal(khang_source_open_memory(&src, buf, len, NULL), 0);
	const khang_alpc_port *p;
	assert_int_equal(khang_alpc_port_iter_new(&it, src, NULL), 0);
	assert_int_equal(khang_alpc_port_next(&p, it), KHANG_ITEROVER);
	assert_int_equal(khang_alpc_port_iter_skipped(it), 0);
	khang_alpc_port_iter_free(it);
	khang_source_free(src);
	free(buf);
	fg_sample_free(s);
}

/* ---- arguments and limited mode ---------------------------------------------------------- */

static void test_bad_arguments(void **state)
{
	built b, other;
	(void)state;
	build(&b, w10(), FG_FMT_BITMAP_KERNEL);
	build(&other, guid_layout(7601), FG_FMT_BITMAP_KERNEL);
	khang_alpc_port_iter *it;
	const khang_alpc_port *p;
	const khang_process *pr;
	khang_alpc_wait_iter *wi;
	khang_alpc_wait w = KHANG_ALPC_WAIT_INIT;
	assert_int_equal(khang_alpc_port_iter_new(NULL, b.src, NULL), KHANG_EINVAL);
	assert_int_equal(khang_alpc_port_iter_new(&it, NULL, NULL), KHANG_EINVAL);
	assert_int_equal(khang_alpc_port_iter_new(&it, b.src, (const khang_process *)b.src), KHANG_EINVAL);
	assert_int_equal(khang_process_by_address(&pr, other.src, other.a->explorer), 0);
	assert_int_equal(khang_alpc_port_iter_new(&it, b.src, pr), KHANG_EINVAL);
	assert_int_equal(khang_alpc_port_next(NULL, NULL), KHANG_EINVAL);
	assert_int_equal(khang_alpc_port_iter_skipped(NULL), 0);
	khang_alpc_port_iter_free(NULL);
	/* accessors on NULL and on something that is not a port */
	const khang_alpc_port *bad = (const khang_alpc_port *)b.src;
	for (int i = 0; i < 2; i++) {
		const khang_alpc_port *x = i ? bad : NULL;
		assert_int_equal(khang_alpc_port_address(x), 0);
		assert_string_equal(khang_alpc_port_name(x), "");
		assert_int_equal(khang_alpc_port_kind(x), KHANG_ALPC_KIND_UNKNOWN);
		assert_int_equal(khang_alpc_port_owner_address(x), 0);
		assert_int_equal(khang_alpc_port_owner(&pr, x), KHANG_EINVAL);
		assert_int_equal(khang_alpc_port_communication_info(x), 0);
		assert_int_equal(khang_alpc_port_connection_port(x), 0);
		assert_int_equal(khang_alpc_port_server_port(x), 0);
		assert_int_equal(khang_alpc_port_client_port(x), 0);
		assert_string_equal(khang_alpc_port_connection_name(x), "");
		assert_int_equal(khang_alpc_port_server_process_address(x), 0);
		assert_int_equal(khang_alpc_port_server_process(&pr, x), KHANG_EINVAL);
		assert_int_equal(khang_alpc_port_queue_length(x, KHANG_ALPC_QUEUE_MAIN), -1);
		assert_int_equal(khang_alpc_port_queued(x), -1);
		assert_int_equal(khang_alpc_port_connection_queued(x), -1);
		const uint64_t *v;
		size_t n;
		assert_int_equal(khang_alpc_port_queue(&v, &n, x, KHANG_ALPC_QUEUE_MAIN), KHANG_EINVAL);
		assert_int_equal(khang_alpc_port_is_closed(x), -1);
		assert_int_equal(khang_alpc_port_is_disconnected(x), -1);
		assert_int_equal(khang_alpc_port_skipped(x), 0);
		assert_int_equal(khang_alpc_port_connection_count(x), KHANG_EINVAL);
		khang_alpc_connection c = KHANG_ALPC_CONNECTION_INIT;
		assert_int_equal(khang_alpc_port_connection(&c, x, 0), KHANG_EINVAL);
	}
	assert_int_equal(khang_alpc_port_iter_new(&it, b.src, NULL), 0);
	assert_int_equal(khang_alpc_port_next(&p, it), 0);
	const uint64_t *v;
	size_t n;
	assert_int_equal(khang_alpc_port_queue(NULL, &n, p, KHANG_ALPC_QUEUE_MAIN), KHANG_EINVAL);
	assert_int_equal(khang_alpc_port_queue(&v, NULL, p, KHANG_ALPC_QUEUE_MAIN), KHANG_EINVAL);
	assert_int_equal(khang_alpc_port_queue(&v, &n, p, (khang_alpc_queue)KHANG_ALPC_QUEUE_COUNT), KHANG_EINVAL);
	khang_alpc_connection c = KHANG_ALPC_CONNECTION_INIT;
	c.size = 4;
	assert_int_equal(khang_alpc_port_connection(&c, p, 0), KHANG_EINVAL);
	assert_int_equal(khang_alpc_port_connection(NULL, p, 0), KHANG_EINVAL);
	assert_int_equal(khang_alpc_port_owner(NULL, p), KHANG_EINVAL);
	khang_alpc_port_iter_free(it);
	/* names */
	char name[8];
	assert_int_equal(khang_alpc_port_name_at(NULL, 4, b.src, 0), KHANG_EINVAL);
	assert_int_equal(khang_alpc_port_name_at(name, sizeof(name), NULL, 0), KHANG_EINVAL);
	assert_int_equal(khang_alpc_port_name_at(name, sizeof(name), b.src, 0xffffa7ff00000000ull), KHANG_ENOTPRESENT);
	assert_string_equal(name, "");
	/* waits */
	assert_int_equal(khang_alpc_wait_iter_new(NULL, b.src), KHANG_EINVAL);
	assert_int_equal(khang_alpc_wait_iter_new(&wi, NULL), KHANG_EINVAL);
	assert_int_equal(khang_alpc_wait_next(&w, NULL), KHANG_EINVAL);
	assert_int_equal(khang_alpc_wait_iter_skipped(NULL), 0);
	khang_alpc_wait_iter_free(NULL);
	assert_int_equal(khang_alpc_wait_iter_new(&wi, b.src), 0);
	w.size = 0;
	assert_int_equal(khang_alpc_wait_next(&w, wi), KHANG_EINVAL);
	assert_int_equal(khang_alpc_wait_next(NULL, wi), KHANG_EINVAL);
	khang_alpc_wait_iter_free(wi);
	const khang_thread *t;
	assert_int_equal(khang_thread_by_address(&t, b.src, b.a->seed_thread), 0);
	khang_alpc_wait x = KHANG_ALPC_WAIT_INIT;
	assert_int_equal(khang_thread_alpc_wait(NULL, t), KHANG_EINVAL);
	assert_int_equal(khang_thread_alpc_wait(&x, NULL), KHANG_EINVAL);
	assert_int_equal(khang_thread_alpc_wait(&x, (const khang_thread *)b.src), KHANG_EINVAL);
	x.size = 2;
	assert_int_equal(khang_thread_alpc_wait(&x, t), KHANG_EINVAL);
	/* names of kinds and queues */
	assert_string_equal(khang_alpc_kind_name(KHANG_ALPC_KIND_CONNECTION), "connection");
	assert_string_equal(khang_alpc_kind_name(KHANG_ALPC_KIND_SERVER_COMMUNICATION), "server");
	assert_string_equal(khang_alpc_kind_name(KHANG_ALPC_KIND_CLIENT_COMMUNICATION), "client");
	assert_string_equal(khang_alpc_kind_name(KHANG_ALPC_KIND_UNKNOWN), "unknown");
	assert_string_equal(khang_alpc_kind_name((khang_alpc_kind)77), "unknown");
	static const char *const qn[] = { "main", "pending", "large-message", "wait", "canceled", "direct" };
	for (int q = 0; q < KHANG_ALPC_QUEUE_COUNT; q++)
		assert_string_equal(khang_alpc_queue_name((khang_alpc_queue)q), qn[q]);
	assert_string_equal(khang_alpc_queue_name((khang_alpc_queue)-1), "unknown");
	done(&other);
	done(&b);
}

static void test_limited_mode(void **state)
{
	(void)state;
	fg_forge *f = fg_new(FG_X64, 8192);
	fg_kernel_opts o = { 0 };
	o.has_guid = true;
	memset(o.guid, 0x5A, 16);
	o.age = 3;
	fg_kernel *k = fg_kernel_new(f, guid_layout(7601), &o);
	fg_kernel_set(k, fg_kernel_pcr(k, 0), KH_F_KPCR_Self, 0x1234);
	fg_write_opts wo = FG_WRITE_OPTS_INIT;
	wo.format = FG_FMT_BITMAP_KERNEL;
	wo.kernel_only = 1;
	uint8_t *buf;
	size_t len;
	assert_int_equal(fg_write_memory(f, &buf, &len, &wo), 0);
	khang_source *src;
	assert_int_equal(khang_source_open_memory(&src, buf, len, NULL), 0);
	khang_alpc_port_iter *it;
	khang_alpc_wait_iter *wi;
	char name[8];
	assert_int_equal(khang_alpc_port_iter_new(&it, src, NULL), KHANG_EUNSUPPORTED);
	assert_int_equal(khang_alpc_wait_iter_new(&wi, src), KHANG_EUNSUPPORTED);
	assert_int_equal(khang_alpc_port_name_at(name, sizeof(name), src, 0x1000), KHANG_EUNSUPPORTED);
	khang_source_free(src);
	free(buf);
	fg_kernel_free(k);
	fg_free(f);
}

/* ---- allocation failures ------------------------------------------------------------------ */

/* Everything the CLI's alpc views do; -1 when a call failed. */
static int walk_alpc(khang_source *src)
{
	int rc = 0;
	khang_alpc_port_iter *it;
	const khang_alpc_port *p;
	if (khang_alpc_port_iter_new(&it, src, NULL) == 0) {
		while (khang_alpc_port_next(&p, it) == 0) {
			for (int q = 0; q < KHANG_ALPC_QUEUE_COUNT; q++) {
				const uint64_t *v;
				size_t n;
				int r = khang_alpc_port_queue(&v, &n, p, (khang_alpc_queue)q);
				if (r < 0 && r != KHANG_ENOTFOUND)
					rc = -1;
			}
			int n = khang_alpc_port_connection_count(p);
			if (n < 0)
				rc = -1;
			for (int i = 0; i < n; i++) {
				khang_alpc_connection c = KHANG_ALPC_CONNECTION_INIT;
				if (khang_alpc_port_connection(&c, p, (size_t)i) < 0)
					rc = -1;
			}
			const khang_process *pr;
			if (khang_alpc_port_owner(&pr, p) < 0)
				rc = -1;
		}
		khang_alpc_port_iter_free(it);
	} else {
		rc = -1;
	}
	khang_alpc_wait_iter *wi;
	if (khang_alpc_wait_iter_new(&wi, src) == 0) {
		khang_alpc_wait w = KHANG_ALPC_WAIT_INIT;
		while (khang_alpc_wait_next(&w, wi) == 0)
			if (khang_thread_alpc_wait(&w, w.thread) < 0)
				rc = -1;
		khang_alpc_wait_iter_free(wi);
	} else {
		rc = -1;
	}
	return rc;
}

static void test_allocation_failures(void **state)
{
	built b;
	(void)state;
	memset(&b, 0, sizeof(b));
	b.a = fg_alpc_sample_new(w10());
	fg_write_opts wo = FG_WRITE_OPTS_INIT;
	wo.format = FG_FMT_BITMAP_KERNEL;
	wo.kernel_only = 1;
	assert_int_equal(fg_write_memory(b.a->s->f, &b.buf, &b.len, &wo), 0);
	fail_alloc fa = { -1, 0, 0 };
	khang_allocator hooks = FAIL_ALLOC_HOOKS(fa);
	khang_source_opts so = KHANG_SOURCE_OPTS_INIT;
	so.allocator = &hooks;
	khang_source *src;
	assert_int_equal(khang_source_open_memory(&src, b.buf, b.len, &so), 0);
	long base = fa.count;
	assert_int_equal(walk_alpc(src), 0);
	long total = fa.count - base;
	khang_source_free(src);
	assert_true(total > 10);
	unsigned failures = 0;
	for (long i = 0; i < total; i++) {
		fa.left = -1;
		assert_int_equal(khang_source_open_memory(&src, b.buf, b.len, &so), 0);
		fa.left = i;
		if (walk_alpc(src) < 0)
			failures++;
		fa.left = -1;
		khang_source_free(src);
	}
	printf("%ld allocations in an ALPC walk; %u failure points reported an error\n", total, failures);
	assert_true(failures > 0);
	done(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sample_every_layout),
		cmocka_unit_test(test_seed_case),
		cmocka_unit_test(test_port_list_loop),
		cmocka_unit_test(test_unreadable_port),
		cmocka_unit_test(test_garbage_message_pointers),
		cmocka_unit_test(test_missing_page_in_queue),
		cmocka_unit_test(test_connection_list_loop),
		cmocka_unit_test(test_list_limits),
		cmocka_unit_test(test_no_port_list),
		cmocka_unit_test(test_bad_arguments),
		cmocka_unit_test(test_limited_mode),
		cmocka_unit_test(test_allocation_failures),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

/*
 * Fuzz the ALPC layer: the port list, ports, their queues and connections,
 * object names, and the threads waiting for an ALPC reply, on writer-made
 * dumps whose memory pages the input mutates.
 *
 * At start-up four dumps are built with the forge's ALPC sample (fg_alpc:
 * x64 Windows 10 2004, x64 Windows 7, x86 PAE Windows 7 without symbols,
 * x64 Windows 11; bitmap kernel dumps). An input selects one and patches
 * its page area (everything after the header and bitmap, so the dump still
 * opens), as fuzz_walk does:
 *
 *   byte 0       base dump (mod 4)
 *   byte 1       bit 0: max_list_entries 16 instead of 512
 *   then records { u32 LE offset into the page area (mod its size),
 *                  u8 n (1..16 after mod), n bytes to write }
 *
 * Every iterator and accessor runs; invariants are checked with FUZZ_CHECK
 * (always on). tests/forge/mk_alpc_corpus.c writes the seed corpus.
 */
#include "fuzz_check.h"
#include "fuzz_patch.h"
#include <stdint.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "khang.h"
#include "fg_alpc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

typedef struct base {
	uint8_t *data;
	size_t len;
	uint64_t first_page;
} base;

static base bases[FG_ALPC_BASES];
static int ready_bases;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	if (!ready_bases) {
		for (int i = 0; i < FG_ALPC_BASES; i++) {
			fg_alpc_sample *a = fg_alpc_base(i);
			FUZZ_CHECK(a != NULL);
			FUZZ_CHECK(fg_sample_write(a->s, FG_ALPC_FORMAT, &bases[i].data, &bases[i].len) == 0);
			FUZZ_CHECK(fg_sample_first_page(a->s, FG_ALPC_FORMAT, &bases[i].first_page) == 0);
			FUZZ_CHECK(bases[i].first_page < bases[i].len);
			fg_alpc_sample_free(a);
		}
		ready_bases = 1;
	}
	return 0;
}

static void check_string(const char *s, size_t max)
{
	FUZZ_CHECK(s != NULL);
	FUZZ_CHECK(strlen(s) <= max);
}

static void check_process(const khang_process *p, uint64_t va)
{
	if (p)
		FUZZ_CHECK(khang_process_address(p) == va && va != 0);
}

static void walk_port(khang_source *src, const khang_alpc_port *p, uint32_t max_list, uint64_t only)
{
	const khang_process *pr;
	uint64_t va = khang_alpc_port_address(p);
	FUZZ_CHECK(va != 0);
	check_string(khang_alpc_port_name(p), 4096);
	check_string(khang_alpc_port_connection_name(p), 4096);
	khang_alpc_kind kind = khang_alpc_port_kind(p);
	FUZZ_CHECK((int)kind >= KHANG_ALPC_KIND_UNKNOWN && kind <= KHANG_ALPC_KIND_CLIENT_COMMUNICATION);
	check_string(khang_alpc_kind_name(kind), 16);
	if (only)
		FUZZ_CHECK(khang_alpc_port_owner_address(p) == only);
	if (khang_alpc_port_owner(&pr, p) == 0)
		FUZZ_CHECK(khang_process_address(pr) == khang_alpc_port_owner_address(p));
	if (khang_alpc_port_server_process(&pr, p) == 0)
		FUZZ_CHECK(khang_process_address(pr) == khang_alpc_port_server_process_address(p));
	if (kind == KHANG_ALPC_KIND_CONNECTION) {
		FUZZ_CHECK(khang_alpc_port_connection_port(p) == va);
		FUZZ_CHECK(khang_alpc_port_server_port(p) == 0 && khang_alpc_port_client_port(p) == 0);
		FUZZ_CHECK(strcmp(khang_alpc_port_name(p), khang_alpc_port_connection_name(p)) == 0);
	}
	if (kind == KHANG_ALPC_KIND_SERVER_COMMUNICATION)
		FUZZ_CHECK(khang_alpc_port_server_port(p) == va);
	if (kind == KHANG_ALPC_KIND_CLIENT_COMMUNICATION)
		FUZZ_CHECK(khang_alpc_port_client_port(p) == va);
	(void)khang_alpc_port_communication_info(p);
	int64_t queued = khang_alpc_port_queued(p);
	FUZZ_CHECK(queued >= -1);
	FUZZ_CHECK(khang_alpc_port_connection_queued(p) >= -1);
	int64_t sum = 0;
	for (int q = 0; q < KHANG_ALPC_QUEUE_COUNT; q++) {
		int64_t len = khang_alpc_port_queue_length(p, (khang_alpc_queue)q);
		FUZZ_CHECK(len >= -1 && len <= 0x7FFFFFFF);
		if (q == KHANG_ALPC_QUEUE_MAIN || q == KHANG_ALPC_QUEUE_PENDING || q == KHANG_ALPC_QUEUE_LARGE_MESSAGE)
			sum = (len < 0 || sum < 0) ? -1 : sum + len;
		const uint64_t *v;
		size_t n;
		int rc = khang_alpc_port_queue(&v, &n, p, (khang_alpc_queue)q);
		FUZZ_CHECK(rc == 0 || rc == KHANG_ENOTFOUND || rc == KHANG_ENOMEM);
		if (rc == 0) {
			FUZZ_CHECK(n <= max_list && (n == 0 || v != NULL));
			const uint64_t *v2;
			size_t n2;
			FUZZ_CHECK(khang_alpc_port_queue(&v2, &n2, p, (khang_alpc_queue)q) == 0 && v2 == v && n2 == n);
		}
	}
	FUZZ_CHECK(queued == sum);
	FUZZ_CHECK(khang_alpc_port_is_closed(p) >= -1 && khang_alpc_port_is_closed(p) <= 1);
	FUZZ_CHECK(khang_alpc_port_is_disconnected(p) >= -1 && khang_alpc_port_is_disconnected(p) <= 1);
	int nc = khang_alpc_port_connection_count(p);
	FUZZ_CHECK(nc >= 0 && (uint32_t)nc <= max_list);
	if (kind != KHANG_ALPC_KIND_CONNECTION)
		FUZZ_CHECK(nc == 0);
	for (int i = 0; i < nc; i++) {
		khang_alpc_connection c = KHANG_ALPC_CONNECTION_INIT;
		FUZZ_CHECK(khang_alpc_port_connection(&c, p, (size_t)i) == 0);
		FUZZ_CHECK(c.size == sizeof(c) && c.communication_info != 0);
		FUZZ_CHECK(c.server_queued >= -1 && c.client_queued >= -1);
		check_process(c.server_process, c.server_process_address);
		check_process(c.client_process, c.client_process_address);
	}
	khang_alpc_connection c = KHANG_ALPC_CONNECTION_INIT;
	FUZZ_CHECK(khang_alpc_port_connection(&c, p, (size_t)nc) == KHANG_ENOTFOUND);
	(void)khang_alpc_port_skipped(p);
	char name[64];
	int len = khang_alpc_port_name_at(name, sizeof(name), src, va);
	if (len >= 0)
		FUZZ_CHECK(strlen(name) == (size_t)len || (len >= (int)sizeof(name) && strlen(name) == sizeof(name) - 1));
}

static void check_wait(const khang_alpc_wait *w)
{
	FUZZ_CHECK(w->size == sizeof(*w));
	FUZZ_CHECK(w->thread != NULL && khang_thread_address(w->thread) == w->thread_address);
	FUZZ_CHECK(w->message != 0);
	FUZZ_CHECK(w->wait_ms >= -1);
	FUZZ_CHECK(w->message_ok == 0 || w->message_ok == 1);
	FUZZ_CHECK((int)w->queue_port_kind >= KHANG_ALPC_KIND_UNKNOWN &&
	           w->queue_port_kind <= KHANG_ALPC_KIND_CLIENT_COMMUNICATION);
	if (!w->message_ok)
		FUZZ_CHECK(!w->queue_port && !w->owner_port && !w->connection_port && !w->server_process_address &&
		           !w->server_thread_address);
	if (!w->queue_port)
		FUZZ_CHECK(w->queue_port_kind == KHANG_ALPC_KIND_UNKNOWN);
	check_process(w->client_process, w->client_process_address);
	check_process(w->server_process, w->server_process_address);
	if (w->server_thread)
		FUZZ_CHECK(khang_thread_address(w->server_thread) == w->server_thread_address);
	/* the same answer from the thread */
	khang_alpc_wait t = KHANG_ALPC_WAIT_INIT;
	FUZZ_CHECK(khang_thread_alpc_wait(&t, w->thread) == 0);
	FUZZ_CHECK(t.message == w->message && t.message_ok == w->message_ok && t.queue_port == w->queue_port &&
	           t.connection_port == w->connection_port && t.server_process == w->server_process &&
	           t.server_thread == w->server_thread && t.wait_ms == w->wait_ms);
}

static void walk(khang_source *src, uint32_t max_list)
{
	/* every port */
	khang_alpc_port_iter *it;
	const khang_alpc_port *p;
	if (khang_alpc_port_iter_new(&it, src, NULL) == 0) {
		uint32_t n = 0;
		while (khang_alpc_port_next(&p, it) == 0) {
			n++;
			walk_port(src, p, max_list, 0);
		}
		FUZZ_CHECK(n <= max_list);
		FUZZ_CHECK(khang_alpc_port_next(&p, it) == KHANG_ITEROVER);
		(void)khang_alpc_port_iter_skipped(it);
		khang_alpc_port_iter_free(it);
	}
	/* each process's ports */
	khang_process_iter *pi;
	const khang_process *pr;
	if (khang_process_iter_new(&pi, src) == 0) {
		while (khang_process_next(&pr, pi) == 0) {
			if (khang_alpc_port_iter_new(&it, src, pr) != 0)
				continue;
			while (khang_alpc_port_next(&p, it) == 0)
				walk_port(src, p, max_list, khang_process_address(pr));
			khang_alpc_port_iter_free(it);
		}
		khang_process_iter_free(pi);
	}
	/* the waits, and every thread's */
	khang_alpc_wait_iter *wi;
	if (khang_alpc_wait_iter_new(&wi, src) == 0) {
		khang_alpc_wait w = KHANG_ALPC_WAIT_INIT;
		uint64_t n = 0;
		while (khang_alpc_wait_next(&w, wi) == 0) {
			n++;
			check_wait(&w);
		}
		FUZZ_CHECK(n <= 8ull * max_list);
		(void)khang_alpc_wait_iter_skipped(wi);
		khang_alpc_wait_iter_free(wi);
	}
	khang_thread_iter *ti;
	const khang_thread *t;
	if (khang_thread_iter_new(&ti, src, NULL) == 0) {
		while (khang_thread_next(&t, ti) == 0) {
			khang_alpc_wait w = KHANG_ALPC_WAIT_INIT;
			int rc = khang_thread_alpc_wait(&w, t);
			FUZZ_CHECK(rc == 0 || rc == KHANG_ENOTFOUND || rc == KHANG_ENOMEM);
			if (rc == 0)
				check_wait(&w);
		}
		khang_thread_iter_free(ti);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (!ready_bases)
		LLVMFuzzerInitialize(NULL, NULL);
	if (size < 2)
		return 0;
	const base *b = &bases[data[0] % FG_ALPC_BASES];
	uint8_t *dump = fuzz_patched_copy(b->data, b->len, b->first_page, data, size, 2);
	khang_source *src;
	khang_source_opts o = KHANG_SOURCE_OPTS_INIT;
	o.max_list_entries = (data[1] & 1) ? 16 : 512;
	if (khang_source_open_memory(&src, dump, b->len, &o) == 0) {
		walk(src, o.max_list_entries);
		khang_source_free(src);
	}
	free(dump);
	return 0;
}

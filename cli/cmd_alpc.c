/*
 * khang alpc: ALPC ports and the threads waiting for an ALPC reply, as
 * WinDbg's !alpc /lpp and !lpcwait show them.
 *
 *   khang alpc DUMP               every ALPC port (address, kind, owner,
 *                                 queued messages, connection, name)
 *   khang alpc DUMP -p PID|NAME   the ports a process (or each process of
 *                                 that name) created (connection ports with
 *                                 their connections) and the ports it is
 *                                 connected to (like !alpc /lpp)
 *   khang alpc DUMP --waits       every thread waiting for an ALPC reply,
 *                                 grouped by server process and connection
 *                                 port, with the wait time and the server
 *                                 thread that took the message (like !lpcwait)
 *
 * The text formats are stable (tests compare them byte for byte); the JSON
 * documents carry "schema" and "command".
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cli.h"

#if defined(__GNUC__) || defined(__clang__)
#  define ALPC_PRINTF(a, b) __attribute__((format(printf, a, b)))
#else
#  define ALPC_PRINTF(a, b)
#endif

typedef struct aview {
	khang_source *src;
	bool json;
	int pw;                 /* hex digits of a pointer: 16 (x64) or 8 (x86) */
	const char *process;    /* -p */
	bool waits;             /* --waits */
} aview;

static const char usage_text[] = "usage: khang alpc DUMP [-p PID|NAME | --waits] [--json]   "
                                 "(PID: decimal, 0x hex or 0n decimal)\n";

static int parse_args(aview *v, const cli_opts *o)
{
	for (int i = 0; i < o->argc; i++) {
		const char *a = o->argv[i];
		if (strcmp(a, "--json") == 0)
			v->json = true;
		else if (strcmp(a, "--waits") == 0 && !v->process)
			v->waits = true;
		else if (strcmp(a, "-p") == 0 && i + 1 < o->argc && !v->process && !v->waits)
			v->process = o->argv[++i];
		else
			return -1;
	}
	return 0;
}

static void view_close(aview *v)
{
	cli_print_warnings(v->src);
	cli_close(v->src);
}

static int fail(aview *v, const char *what)
{
	fprintf(stderr, "khang: %s: %s\n", what, khang_error_last());
	view_close(v);
	return 2;
}

static const char *hex(char *buf, size_t len, const aview *v, uint64_t x)
{
	snprintf(buf, len, "%0*" PRIx64, v->pw, x);
	return buf;
}

static const char *num(char *buf, size_t len, int64_t x)
{
	if (x < 0)
		snprintf(buf, len, "-");
	else
		snprintf(buf, len, "%" PRId64, x);
	return buf;
}

static const char *proc_name(const khang_process *p)
{
	return p ? khang_process_name(p) : "?";
}

static void json_kv_i64_or_null(json_out *j, const char *k, int64_t v)
{
	json_key(j, k);
	if (v < 0)
		json_null(j);
	else
		json_i64(j, v);
}

static void json_kv_addr(json_out *j, const char *k, uint64_t va)
{
	json_key(j, k);
	if (va)
		json_hex(j, va);
	else
		json_null(j);
}

static void json_warnings(json_out *j, khang_source *src)
{
	json_key(j, "warnings");
	json_arr_open(j);
	for (uint32_t i = 0; i < khang_source_warning_count(src); i++)
		if (khang_source_warning(src, i))
			json_str(j, khang_source_warning(src, i));
	json_arr_close(j);
}

/* {"address", "name", "pid"} of a process, or null. */
static void json_process_ref(json_out *j, const char *key, uint64_t va, const khang_process *p)
{
	json_key(j, key);
	if (!va) {
		json_null(j);
		return;
	}
	json_obj_open(j);
	json_kv_hex(j, "address", va);
	json_kv_str(j, "name", p ? khang_process_name(p) : "");
	json_kv_i64_or_null(j, "pid", p ? khang_process_pid(p) : -1);
	json_obj_close(j);
}

/* {"address", "tid"} of a thread, or null. */
static void json_thread_ref(json_out *j, const char *key, uint64_t va, const khang_thread *t)
{
	json_key(j, key);
	if (!va) {
		json_null(j);
		return;
	}
	json_obj_open(j);
	json_kv_hex(j, "address", va);
	json_kv_i64_or_null(j, "tid", t ? khang_thread_tid(t) : -1);
	json_obj_close(j);
}

/* ---- ports ------------------------------------------------------------------------------------- */

static void json_port(json_out *j, const khang_alpc_port *p)
{
	const khang_process *owner = NULL, *server = NULL;
	khang_alpc_port_owner(&owner, p);
	khang_alpc_port_server_process(&server, p);
	json_obj_open(j);
	json_kv_hex(j, "address", khang_alpc_port_address(p));
	json_kv_str(j, "name", khang_alpc_port_name(p));
	json_kv_str(j, "kind", khang_alpc_kind_name(khang_alpc_port_kind(p)));
	json_process_ref(j, "owner", khang_alpc_port_owner_address(p), owner);
	json_kv_addr(j, "communication_info", khang_alpc_port_communication_info(p));
	json_kv_addr(j, "connection_port", khang_alpc_port_connection_port(p));
	json_kv_str(j, "connection_name", khang_alpc_port_connection_name(p));
	json_kv_addr(j, "server_port", khang_alpc_port_server_port(p));
	json_kv_addr(j, "client_port", khang_alpc_port_client_port(p));
	json_process_ref(j, "server_process", khang_alpc_port_server_process_address(p), server);
	json_kv_i64_or_null(j, "queued", khang_alpc_port_queued(p));
	json_kv_i64_or_null(j, "connection_queued", khang_alpc_port_connection_queued(p));
	json_key(j, "queues");
	json_obj_open(j);
	for (int q = 0; q < KHANG_ALPC_QUEUE_COUNT; q++) {
		const uint64_t *v;
		size_t n;
		json_key(j, khang_alpc_queue_name((khang_alpc_queue)q));
		if (khang_alpc_port_queue(&v, &n, p, (khang_alpc_queue)q) < 0) {
			json_null(j);
			continue;
		}
		json_obj_open(j);
		json_kv_i64_or_null(j, "length", khang_alpc_port_queue_length(p, (khang_alpc_queue)q));
		json_key(j, "entries");
		json_arr_open(j);
		for (size_t i = 0; i < n; i++)
			json_hex(j, v[i]);
		json_arr_close(j);
		json_obj_close(j);
	}
	json_obj_close(j);
	json_key(j, "closed");
	int c = khang_alpc_port_is_closed(p);
	if (c < 0)
		json_null(j);
	else
		json_bool(j, c != 0);
	json_key(j, "disconnected");
	c = khang_alpc_port_is_disconnected(p);
	if (c < 0)
		json_null(j);
	else
		json_bool(j, c != 0);
	json_key(j, "connections");
	json_arr_open(j);
	int nc = khang_alpc_port_connection_count(p);
	for (int i = 0; i < nc; i++) {
		khang_alpc_connection k = KHANG_ALPC_CONNECTION_INIT;
		if (khang_alpc_port_connection(&k, p, (size_t)i) < 0)
			continue;
		json_obj_open(j);
		json_kv_hex(j, "communication_info", k.communication_info);
		json_kv_addr(j, "server_port", k.server_port);
		json_kv_i64_or_null(j, "server_queued", k.server_queued);
		json_process_ref(j, "server_process", k.server_process_address, k.server_process);
		json_kv_addr(j, "client_port", k.client_port);
		json_kv_i64_or_null(j, "client_queued", k.client_queued);
		json_process_ref(j, "client_process", k.client_process_address, k.client_process);
		json_obj_close(j);
	}
	json_arr_close(j);
	json_kv_u64(j, "skipped", khang_alpc_port_skipped(p));
	json_obj_close(j);
}

static void port_row(cli_table *t, const aview *v, const khang_alpc_port *p)
{
	char b[3][40];
	const khang_process *owner = NULL;
	khang_alpc_port_owner(&owner, p);
	cli_table_cell(t, "%s", hex(b[0], 40, v, khang_alpc_port_address(p)));
	cli_table_cell(t, "%s", khang_alpc_kind_name(khang_alpc_port_kind(p)));
	cli_table_cell(t, "%s", proc_name(owner));
	int64_t pid = owner ? khang_process_pid(owner) : -1;
	if (pid < 0)
		cli_table_cell(t, "-");
	else
		cli_table_cell(t, "%" PRIx64, (uint64_t)pid);
	cli_table_cell(t, "%s", num(b[2], 40, khang_alpc_port_queued(p)));
	cli_table_cell(t, "%s", hex(b[0], 40, v, khang_alpc_port_connection_port(p)));
	cli_table_cell(t, "%s", khang_alpc_port_kind(p) == KHANG_ALPC_KIND_CONNECTION ? khang_alpc_port_name(p)
	                                                                          : khang_alpc_port_connection_name(p));
}

/* "addr('name')" as !alpc prints a port or a process. */
static const char *named(char *buf, size_t len, const aview *v, uint64_t va, const char *name)
{
	char h[24];
	snprintf(buf, len, "%s('%s')", hex(h, sizeof(h), v, va), name);
	return buf;
}

/* The !alpc /lpp view of one process: its connection ports with their
 * connections, then its client ports and what they are connected to. */
static uint32_t lpp_text(const aview *v, const khang_process *proc, const khang_alpc_port *const *ps, size_t n)
{
	char b[4][512], h[24];
	size_t created = 0, connected = 0;
	uint32_t skipped = 0;
	printf("Ports created by the process %s (%s, PID %" PRIx64 "):\n\n",
	       hex(h, sizeof(h), v, khang_process_address(proc)), khang_process_name(proc),
	       (uint64_t)khang_process_pid(proc));
	for (size_t i = 0; i < n; i++) {
		const khang_alpc_port *p = ps[i];
		if (khang_alpc_port_kind(p) != KHANG_ALPC_KIND_CONNECTION)
			continue;
		created++;
		int nc = khang_alpc_port_connection_count(p);
		printf("%s %s, %d connection%s\n",
		       named(b[0], sizeof(b[0]), v, khang_alpc_port_address(p), khang_alpc_port_name(p)),
		       num(b[1], sizeof(b[1]), khang_alpc_port_queued(p)), nc < 0 ? 0 : nc, nc == 1 ? "" : "s");
		for (int c = 0; c < nc; c++) {
			khang_alpc_connection k = KHANG_ALPC_CONNECTION_INIT;
			if (khang_alpc_port_connection(&k, p, (size_t)c) < 0)
				continue;
			printf("    %s %s -> %s %s %s\n", hex(b[0], sizeof(b[0]), v, k.server_port),
			       num(b[1], sizeof(b[1]), k.server_queued), hex(b[2], sizeof(b[2]), v, k.client_port),
			       num(h, sizeof(h), k.client_queued),
			       named(b[3], sizeof(b[3]), v, k.client_process_address, proc_name(k.client_process)));
		}
	}
	if (!created)
		printf("(none)\n");
	printf("\nPorts the process %s is connected to:\n\n", hex(h, sizeof(h), v, khang_process_address(proc)));
	for (size_t i = 0; i < n; i++) {
		const khang_alpc_port *p = ps[i];
		if (khang_alpc_port_kind(p) != KHANG_ALPC_KIND_CLIENT_COMMUNICATION)
			continue;
		connected++;
		const khang_process *server = NULL;
		khang_alpc_port_server_process(&server, p);
		printf("%s %s -> %s %s %s\n", hex(b[0], sizeof(b[0]), v, khang_alpc_port_address(p)),
		       num(h, sizeof(h), khang_alpc_port_queued(p)),
		       named(b[1], sizeof(b[1]), v, khang_alpc_port_connection_port(p), khang_alpc_port_connection_name(p)),
		       num(b[2], sizeof(b[2]), khang_alpc_port_connection_queued(p)),
		       named(b[3], sizeof(b[3]), v, khang_alpc_port_server_process_address(p), proc_name(server)));
	}
	if (!connected)
		printf("(none)\n");
	for (size_t i = 0; i < n; i++)
		skipped += khang_alpc_port_skipped(ps[i]);
	return skipped;
}

/* All ports (nsel 0), or the ports of each selected process. */
static int cmd_ports(aview *v, const khang_process *const *sel, size_t nsel)
{
	khang_alpc_port_iter *it;
	const khang_alpc_port *p;
	json_out j;
	uint32_t skipped = 0;
	size_t n = 0;
	static const char *const heads[] = { "Port", "Kind", "Owner", "PID", "Queued", "Connection Port", "Connection Name" };
	cli_table t = { .ncols = 7, .heads = heads, .align = "lllrrll" };
	if (v->json) {
		json_begin(&j, stdout);
		json_kv_str(&j, "command", "alpc");
		json_key(&j, "processes");
		json_arr_open(&j);
		for (size_t i = 0; i < nsel; i++) {
			json_obj_open(&j);
			json_kv_hex(&j, "address", khang_process_address(sel[i]));
			json_kv_str(&j, "name", khang_process_name(sel[i]));
			json_kv_i64_or_null(&j, "pid", khang_process_pid(sel[i]));
			json_obj_close(&j);
		}
		json_arr_close(&j);
		json_key(&j, "ports");
		json_arr_open(&j);
	}
	for (size_t s = 0; s < (nsel ? nsel : 1); s++) {
		const khang_process *proc = nsel ? sel[s] : NULL;
		if (khang_alpc_port_iter_new(&it, v->src, proc) < 0) {
			if (v->json)
				printf("\n");
			return fail(v, "ALPC ports");
		}
		if (v->json) {
			while (khang_alpc_port_next(&p, it) == 0) {
				json_port(&j, p);
				skipped += khang_alpc_port_skipped(p);
				n++;
			}
		} else if (proc) {
			const khang_alpc_port **ps = NULL;
			size_t np = 0, cap = 0;
			while (khang_alpc_port_next(&p, it) == 0) {
				if (np == cap) {
					cap = cap ? cap * 2 : 16;
					const khang_alpc_port **nps = realloc(ps, cap * sizeof(*nps));
					if (!nps) {
						fprintf(stderr, "khang: out of memory\n");
						exit(2);
					}
					ps = nps;
				}
				ps[np++] = p;
			}
			if (s)
				printf("\n");
			skipped += lpp_text(v, proc, ps, np);
			n += np;
			free(ps);
		} else {
			while (khang_alpc_port_next(&p, it) == 0) {
				port_row(&t, v, p);
				skipped += khang_alpc_port_skipped(p);
				n++;
			}
		}
		skipped += khang_alpc_port_iter_skipped(it);
		khang_alpc_port_iter_free(it);
	}
	if (v->json) {
		json_arr_close(&j);
		json_kv_u64(&j, "count", n);
		json_kv_u64(&j, "skipped", skipped);
		json_warnings(&j, v->src);
		json_end(&j);
	} else if (nsel) {
		if (skipped)
			printf("\n(%u damaged entries skipped)\n", skipped);
	} else {
		cli_table_print(&t, stdout);
		printf("\nPort Count: %zu", n);
		if (skipped)
			printf(" (%u damaged entries skipped)", skipped);
		printf("\n");
	}
	view_close(v);
	return 0;
}


/* ---- waits (!lpcwait) ----------------------------------------------------------------------- */

static bool same_group(const khang_alpc_wait *a, const khang_alpc_wait *b)
{
	return a->server_process_address == b->server_process_address && a->connection_port == b->connection_port;
}

static void json_wait(json_out *j, const khang_alpc_wait *w)
{
	json_obj_open(j);
	json_thread_ref(j, "thread", w->thread_address, w->thread);
	json_process_ref(j, "process", w->client_process_address, w->client_process);
	json_kv_i64_or_null(j, "wait_ms", w->wait_ms);
	json_kv_hex(j, "message", w->message);
	json_kv_u64(j, "message_id", w->message_id);
	json_kv_bool(j, "message_ok", w->message_ok != 0);
	json_kv_addr(j, "queue_port", w->queue_port);
	json_kv_str(j, "queue_port_kind", khang_alpc_kind_name(w->queue_port_kind));
	json_kv_addr(j, "owner_port", w->owner_port);
	json_thread_ref(j, "server_thread", w->server_thread_address, w->server_thread);
	json_obj_close(j);
}

static void group_head(const aview *v, const khang_alpc_wait *w, const char *conn_name)
{
	char b[2][24];
	if (!w->server_process_address && !w->connection_port) {
		printf("Server unknown (the message or its port could not be read)\n");
		return;
	}
	printf("Server Process %s (%s", hex(b[0], sizeof(b[0]), v, w->server_process_address),
	       w->server_process ? khang_process_name(w->server_process) : "?");
	if (w->server_process && khang_process_pid(w->server_process) >= 0)
		printf(", PID %" PRIx64, (uint64_t)khang_process_pid(w->server_process));
	printf(")  Connection Port %s", hex(b[1], sizeof(b[1]), v, w->connection_port));
	if (conn_name[0])
		printf("('%s')", conn_name);
	const char *path = w->server_process ? khang_process_image_path(w->server_process) : "";
	if (path[0])
		printf("  (%s)", path);
	printf("\n");
}

static int cmd_waits(aview *v)
{
	khang_alpc_wait_iter *it;
	if (khang_alpc_wait_iter_new(&it, v->src) < 0)
		return fail(v, "ALPC waits");
	/* the waits, already grouped by the library */
	khang_alpc_wait *ws = NULL;
	size_t n = 0, cap = 0;
	khang_alpc_wait w = KHANG_ALPC_WAIT_INIT;
	while (khang_alpc_wait_next(&w, it) == 0) {
		if (n == cap) {
			cap = cap ? cap * 2 : 16;
			khang_alpc_wait *nw = realloc(ws, cap * sizeof(*nw));
			if (!nw) {
				fprintf(stderr, "khang: out of memory\n");
				exit(2);
			}
			ws = nw;
		}
		ws[n++] = w;
	}
	uint32_t skipped = khang_alpc_wait_iter_skipped(it);
	khang_alpc_wait_iter_free(it);
	json_out j;
	if (v->json) {
		json_begin(&j, stdout);
		json_kv_str(&j, "command", "alpc-waits");
		json_key(&j, "groups");
		json_arr_open(&j);
	}
	size_t groups = 0;
	for (size_t i = 0; i < n;) {
		size_t e = i;
		while (e < n && same_group(&ws[i], &ws[e]))
			e++;
		char conn_name[256] = "";
		if (ws[i].connection_port)
			khang_alpc_port_name_at(conn_name, sizeof(conn_name), v->src, ws[i].connection_port);
		groups++;
		if (v->json) {
			json_obj_open(&j);
			json_process_ref(&j, "server_process", ws[i].server_process_address, ws[i].server_process);
			json_kv_addr(&j, "connection_port", ws[i].connection_port);
			json_kv_str(&j, "connection_name", conn_name);
			json_key(&j, "waits");
			json_arr_open(&j);
			for (size_t k = i; k < e; k++)
				json_wait(&j, &ws[k]);
			json_arr_close(&j);
			json_obj_close(&j);
		} else {
			static const char *const heads[] = { "Client Thread", "Client Wait Time", "Client Message",
				                             "Server Thread", "Client Process" };
			cli_table t = { .ncols = 5, .heads = heads, .align = "lrlll", .indent = "    " };
			group_head(v, &ws[i], conn_name);
			printf("\n");
			for (size_t k = i; k < e; k++) {
				char b[4][40];
				const khang_alpc_wait *x = &ws[k];
				cli_table_cell(&t, "%s", hex(b[0], 40, v, x->thread_address));
				khang_format_duration(b[1], 40, x->wait_ms);
				cli_table_cell(&t, "%s", b[1]);
				cli_table_cell(&t, "%s%s", hex(b[2], 40, v, x->message), x->message_ok ? "" : " (unreadable)");
				cli_table_cell(&t, "%s", x->server_thread_address ? hex(b[3], 40, v, x->server_thread_address) : "");
				int64_t pid = x->client_process ? khang_process_pid(x->client_process) : -1;
				if (pid >= 0)
					cli_table_cell(&t, "%s (%" PRIx64 ")", proc_name(x->client_process), (uint64_t)pid);
				else
					cli_table_cell(&t, "%s", proc_name(x->client_process));
			}
			cli_table_print(&t, stdout);
			printf("\n    %zu thread%s waiting\n\n", e - i, e - i == 1 ? "" : "s");
		}
		i = e;
	}
	if (v->json) {
		json_arr_close(&j);
		json_kv_u64(&j, "count", n);
		json_kv_u64(&j, "groups_count", groups);
		json_kv_u64(&j, "skipped", skipped);
		json_warnings(&j, v->src);
		json_end(&j);
	} else {
		if (!n)
			printf("No thread waits for an ALPC reply.\n");
		else
			printf("%zu thread%s waiting for an ALPC reply, %zu server%s", n, n == 1 ? "" : "s", groups,
			       groups == 1 ? "" : "s");
		if (skipped)
			printf("%s(%u damaged entries skipped)", n ? " " : "", skipped);
		if (n || skipped)
			printf("\n");
	}
	free(ws);
	view_close(v);
	return 0;
}

int cmd_alpc(const cli_opts *o)
{
	aview v;
	memset(&v, 0, sizeof(v));
	v.json = o->json;
	if (parse_args(&v, o) < 0) {
		fputs(usage_text, stderr);
		return 2;
	}
	v.src = cli_open(o);
	if (!v.src)
		return 2;
	khang_source_info in = KHANG_SOURCE_INFO_INIT;
	khang_source_get_info(&in, v.src);
	v.pw = in.arch == KHANG_ARCH_X86 ? 8 : 16;
	if (v.waits)
		return cmd_waits(&v);
	const khang_process **sel = NULL;
	size_t nsel = 0;
	if (v.process && cli_select_processes(v.src, v.process, &sel, &nsel)) {
		free(sel);
		view_close(&v);
		return 2;
	}
	int rc = cmd_ports(&v, sel, nsel);
	free(sel);
	return rc;
}

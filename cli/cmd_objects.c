/*
 * khang cpus / ready / pcr / prcb / ps / threads / thread / irp: processors,
 * processes, threads and IRPs as WinDbg (!cpuinfo, !running, !ready, !pcr,
 * !prcb, !process 0 0, !thread, !irp) and Mex (!mex.p, !mex.lt) show them.
 *
 * The text formats are stable (tests compare them byte for byte); the JSON
 * documents carry "schema" and "command".
 */
#include <ctype.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cli.h"

#if defined(__GNUC__) || defined(__clang__)
#  define KHANG_CLI_PRINTF(a, b) __attribute__((format(printf, a, b)))
#else
#  define KHANG_CLI_PRINTF(a, b)
#endif
#define KH_CLI_MIN(a, b) ((a) < (b) ? (a) : (b))
#define KH_CLI_MAX(a, b) ((a) > (b) ? (a) : (b))

/* ---- small helpers ---------------------------------------------------------------- */

typedef struct view {
	khang_source *src;
	bool json;
	int pw;           /* hex digits of a pointer: 16 (x64) or 8 (x86) */
	int argc;
	char **argv;
} view;

/* Open the dump and pick up --json given after the command's arguments. */
static bool view_open(view *v, const cli_opts *o)
{
	khang_source_info in = KHANG_SOURCE_INFO_INIT;
	memset(v, 0, sizeof(*v));
	v->json = o->json;
	v->argc = 0;
	v->argv = calloc((size_t)o->argc + 1, sizeof(char *));
	if (!v->argv)
		return false;
	for (int i = 0; i < o->argc; i++) {
		if (strcmp(o->argv[i], "--json") == 0)
			v->json = true;
		else
			v->argv[v->argc++] = o->argv[i];
	}
	v->src = cli_open(o);
	if (!v->src) {
		free(v->argv);
		return false;
	}
	khang_source_get_info(&in, v->src);
	v->pw = in.arch == KHANG_ARCH_X86 ? 8 : 16;
	return true;
}

static void view_close(view *v)
{
	cli_print_warnings(v->src);
	cli_close(v->src);
	free(v->argv);
}

/* The library said no: print why, exit status 2. */
static int fail(view *v, const char *what)
{
	fprintf(stderr, "khang: %s: %s\n", what, khang_error_last());
	view_close(v);
	return 2;
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

/* The end of a list command (ps, threads): close the JSON array with the
 * count, skipped entries and warnings, or print the table and its count
 * line; then close the view. */
static void list_end(view *v, json_out *j, cli_table *t, const char *what, size_t n, uint32_t skipped)
{
	if (v->json) {
		json_arr_close(j);
		json_kv_u64(j, "count", n);
		json_kv_u64(j, "skipped", skipped);
		json_warnings(j, v->src);
		json_end(j);
	} else {
		cli_table_print(t, stdout);
		printf("\n%s Count: %zu", what, n);
		if (skipped)
			printf(" (%u damaged entries skipped)", skipped);
		printf("\n");
	}
	view_close(v);
}

static void json_kv_i64_or_null(json_out *j, const char *k, int64_t v)
{
	json_key(j, k);
	if (v < 0)
		json_null(j);
	else
		json_i64(j, v);
}

static void json_kv_bool_or_null(json_out *j, const char *k, int v)
{
	json_key(j, k);
	if (v < 0)
		json_null(j);
	else
		json_bool(j, v != 0);
}

static char *hex(char *buf, size_t len, const view *v, uint64_t x)
{
	snprintf(buf, len, "%0*" PRIx64, v->pw, x);
	return buf;
}

static const char *dur(char *buf, size_t len, int64_t ms)
{
	khang_format_duration(buf, len, ms);
	return buf;
}

/* "hh:mm:ss.mmm" as !thread prints user and kernel times */
static const char *hms(char *buf, size_t len, int64_t ms)
{
	if (ms < 0)
		snprintf(buf, len, "-");
	else
		snprintf(buf, len, "%02" PRId64 ":%02d:%02d.%03d", ms / 3600000, (int)(ms / 60000 % 60), (int)(ms / 1000 % 60),
		         (int)(ms % 1000));
	return buf;
}

/* "d:hh:mm:ss.mmm" as !thread prints ticks */
static const char *dhms(char *buf, size_t len, int64_t ms)
{
	if (ms < 0)
		snprintf(buf, len, "-");
	else
		snprintf(buf, len, "%" PRId64 ":%02d:%02d:%02d.%03d", ms / 86400000, (int)(ms / 3600000 % 24),
		         (int)(ms / 60000 % 60), (int)(ms / 1000 % 60), (int)(ms % 1000));
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

static const char *xnum(char *buf, size_t len, int64_t x)
{
	if (x < 0)
		snprintf(buf, len, "-");
	else
		snprintf(buf, len, "%" PRIx64, (uint64_t)x);
	return buf;
}



/* ---- processors ------------------------------------------------------------------- */

static const char *fms(char *buf, size_t len, const khang_processor *p)
{
	if (khang_processor_family(p) < 0)
		snprintf(buf, len, "-");
	else
		snprintf(buf, len, "%" PRId64 ",%" PRId64 ",%" PRId64, khang_processor_family(p), khang_processor_model(p),
		         khang_processor_stepping(p));
	return buf;
}

static const char *cpu_state(const khang_processor *p)
{
	int idle = khang_processor_is_idle(p);
	return idle < 0 ? "unknown" : idle ? "idle" : "busy";
}

static void json_thread_ref(json_out *j, const char *key, uint64_t va)
{
	json_key(j, key);
	if (va)
		json_hex(j, va);
	else
		json_null(j);
}

/* One row of the !running-like table for thread va on processor p. */
static void running_row(cli_table *t, const view *v, const khang_processor *p, const khang_thread *th)
{
	char b1[32], b2[32], b3[32], b4[32];
	const khang_process *pr = NULL;
	khang_thread_process(&pr, th);
	cli_table_cell(t, "%s", pr ? khang_process_name(pr) : "?");
	cli_table_cell(t, "%s", xnum(b1, sizeof(b1), khang_thread_pid(th)));
	cli_table_cell(t, "%s", hex(b2, sizeof(b2), v, khang_thread_address(th)));
	cli_table_cell(t, "%s", xnum(b3, sizeof(b3), khang_thread_tid(th)));
	cli_table_cell(t, "%s", num(b1, sizeof(b1), khang_thread_priority(th)));
	cli_table_cell(t, "%s", num(b1, sizeof(b1), khang_thread_base_priority(th)));
	cli_table_cell(t, "%u", khang_processor_index(p));
	cli_table_cell(t, "%s", num(b4, sizeof(b4), khang_thread_context_switches(th)));
	cli_table_cell(t, "%s", dur(b1, sizeof(b1), khang_thread_user_ms(th)));
	cli_table_cell(t, "%s", dur(b2, sizeof(b2), khang_thread_kernel_ms(th)));
	cli_table_cell(t, "%s", khang_thread_state_name(th));
	cli_table_cell(t, "%s", dur(b3, sizeof(b3), khang_thread_wait_ms(th)));
	cli_table_cell(t, "%s", khang_thread_wait_reason_name(th));
}

int cmd_cpus(const cli_opts *o)
{
	view v;
	khang_processor_iter *it;
	const khang_processor *p;
	char b[8][32];
	if (!view_open(&v, o))
		return 2;
	if (khang_processor_iter_new(&it, v.src) < 0)
		return fail(&v, "processors");
	json_out j;
	static const char *const cpu_heads[] = { "CPU", "KPCR", "KPRCB", "IRQL", "MHz", "F/M/S", "Vendor",
		                                 "Current", "Next", "Idle", "State" };
	static const char *const run_heads[] = { "Process", "PID", "Thread", "Id", "Pri", "Base", "CPU",
		                                 "CSwitches", "User", "Kernel", "State", "Time", "Reason" };
	cli_table cpus = { .ncols = 11, .heads = cpu_heads, .align = "rllrrllllll" };
	cli_table run = { .ncols = 13, .heads = run_heads, .align = "lrlrrrrrrrlrl" };
	unsigned n = 0, idle = 0;
	char dpc_lines[1024] = ""; /* "Processor N is inside the DPC routine x" lines */
	size_t dpc_used = 0;
	if (v.json) {
		json_begin(&j, stdout);
		json_kv_str(&j, "command", "cpus");
		json_key(&j, "processors");
		json_arr_open(&j);
	}
	while (khang_processor_next(&p, it) == 0) {
		const khang_thread *cur = NULL;
		int trc = khang_processor_thread(&cur, p, KHANG_PROCESSOR_CURRENT);
		n++;
		idle += khang_processor_is_idle(p) == 1;
		/* a processor inside a DPC routine (KPRCB.DpcRoutineActive) */
		khang_processor_dpc dpc = KHANG_PROCESSOR_DPC_INIT;
		char dpc_sym[160] = "";
		if (khang_processor_dpc_info(&dpc, p) == 0 && dpc.routine_active == 1 && dpc.routine)
			khang_source_symbolize(dpc_sym, sizeof(dpc_sym), v.src, dpc.routine);
		if (v.json) {
			json_obj_open(&j);
			json_kv_u64(&j, "index", khang_processor_index(p));
			json_kv_hex(&j, "kpcr", khang_processor_kpcr(p));
			json_kv_hex(&j, "kprcb", khang_processor_kprcb(p));
			json_kv_i64_or_null(&j, "irql", khang_processor_irql(p));
			json_kv_i64_or_null(&j, "mhz", khang_processor_mhz(p));
			json_kv_str(&j, "vendor", khang_processor_vendor(p));
			json_kv_i64_or_null(&j, "family", khang_processor_family(p));
			json_kv_i64_or_null(&j, "model", khang_processor_model(p));
			json_kv_i64_or_null(&j, "stepping", khang_processor_stepping(p));
			json_thread_ref(&j, "current_thread", khang_processor_current_thread_address(p));
			json_thread_ref(&j, "next_thread", khang_processor_next_thread_address(p));
			json_thread_ref(&j, "idle_thread", khang_processor_idle_thread_address(p));
			json_kv_bool_or_null(&j, "idle", khang_processor_is_idle(p));
			json_key(&j, "dpc_routine");
			if (dpc_sym[0])
				json_str(&j, dpc_sym);
			else
				json_null(&j);
			json_key(&j, "running");
			if (trc == 0) {
				const khang_process *pr = NULL;
				khang_thread_process(&pr, cur);
				json_obj_open(&j);
				json_kv_str(&j, "process", pr ? khang_process_name(pr) : "");
				json_kv_i64_or_null(&j, "pid", khang_thread_pid(cur));
				json_kv_i64_or_null(&j, "tid", khang_thread_tid(cur));
				json_kv_i64_or_null(&j, "priority", khang_thread_priority(cur));
				json_kv_i64_or_null(&j, "context_switches", khang_thread_context_switches(cur));
				json_kv_i64_or_null(&j, "user_ms", khang_thread_user_ms(cur));
				json_kv_i64_or_null(&j, "kernel_ms", khang_thread_kernel_ms(cur));
				json_kv_str(&j, "state", khang_thread_state_name(cur));
				json_kv_i64_or_null(&j, "wait_ms", khang_thread_wait_ms(cur));
				json_kv_str(&j, "wait_reason", khang_thread_wait_reason_name(cur));
				json_obj_close(&j);
			} else {
				json_null(&j);
			}
			json_obj_close(&j);
			continue;
		}
		if (dpc_sym[0] && dpc_used + 80 < sizeof(dpc_lines))
			dpc_used += (size_t)snprintf(dpc_lines + dpc_used, sizeof(dpc_lines) - dpc_used,
			                             "Processor %u is inside the DPC routine %s\n", khang_processor_index(p),
			                             dpc_sym);
		cli_table_cell(&cpus, "%u", khang_processor_index(p));
		cli_table_cell(&cpus, "%s", hex(b[0], 32, &v, khang_processor_kpcr(p)));
		cli_table_cell(&cpus, "%s", hex(b[1], 32, &v, khang_processor_kprcb(p)));
		cli_table_cell(&cpus, "%s", num(b[2], 32, khang_processor_irql(p)));
		cli_table_cell(&cpus, "%s", num(b[3], 32, khang_processor_mhz(p)));
		cli_table_cell(&cpus, "%s", fms(b[4], 32, p));
		cli_table_cell(&cpus, "%s", khang_processor_vendor(p)[0] ? khang_processor_vendor(p) : "-");
		cli_table_cell(&cpus, "%s", hex(b[5], 32, &v, khang_processor_current_thread_address(p)));
		cli_table_cell(&cpus, "%s", hex(b[6], 32, &v, khang_processor_next_thread_address(p)));
		cli_table_cell(&cpus, "%s", hex(b[7], 32, &v, khang_processor_idle_thread_address(p)));
		cli_table_cell(&cpus, "%s", cpu_state(p));
		if (trc == 0) {
			running_row(&run, &v, p, cur);
		} else {
			cli_table_cell(&run, "?");
			for (int c = 1; c < 13; c++)
				cli_table_cell(&run, "%s", c == 2 ? hex(b[0], 32, &v, khang_processor_current_thread_address(p)) : "-");
		}
	}
	uint32_t skipped = khang_processor_iter_skipped(it);
	khang_processor_iter_free(it);
	if (v.json) {
		json_arr_close(&j);
		json_kv_u64(&j, "count", n);
		json_kv_u64(&j, "idle", idle);
		json_kv_u64(&j, "skipped", skipped);
		json_warnings(&j, v.src);
		json_end(&j);
	} else {
		cli_table_print(&cpus, stdout);
		printf("\n");
		cli_table_print(&run, stdout);
		if (dpc_used)
			printf("\n%s", dpc_lines);
		printf("\nProcessors: %u, idle: %u", n, idle);
		if (skipped)
			printf(", not readable: %u", skipped);
		printf("\n");
	}
	view_close(&v);
	return n || !skipped ? 0 : 2;
}

/* ---- ready queues ---------------------------------------------------------------------- */

typedef struct ready_row {
	khang_ready_entry e;
} ready_row;

static void print_ready_thread(const view *v, const khang_ready_entry *e);

static void print_ready_thread(const view *v, const khang_ready_entry *e)
{
	char b1[32], b2[32], b3[32], b4[32], b5[32];
	const khang_thread *t = e->thread;
	const khang_process *pr = NULL;
	khang_thread_process(&pr, t);
	printf("    THREAD %s  Cid %04" PRIx64 ".%04" PRIx64 "  Teb: %s Win32Thread: %s READY on processor %s for %s  %s\n",
	       hex(b1, sizeof(b1), v, e->thread_address), (uint64_t)KH_CLI_MAX(khang_thread_pid(t), 0),
	       (uint64_t)KH_CLI_MAX(khang_thread_tid(t), 0), hex(b2, sizeof(b2), v, khang_thread_teb(t)),
	       hex(b3, sizeof(b3), v, khang_thread_win32_thread(t)), num(b4, sizeof(b4), khang_thread_processor(t)),
	       dur(b5, sizeof(b5), e->ready_ms), pr ? khang_process_name(pr) : "?");
}

/* Print the entries of one queue (processor p, or shared queue q) grouped by priority. */
static void print_queue(const view *v, const char *label, const ready_row *rows, size_t n, int32_t cpu, uint64_t q)
{
	bool any = false;
	int64_t last = -1;
	for (size_t i = 0; i < n; i++) {
		const khang_ready_entry *e = &rows[i].e;
		if (e->processor != cpu || (cpu < 0 && e->queue != q))
			continue;
		if ((int64_t)e->priority != last) {
			printf("%s: Ready Threads at priority %u\n", label, e->priority);
			last = e->priority;
		}
		print_ready_thread(v, e);
		any = true;
	}
	if (!any)
		printf("%s: No threads in READY state\n", label);
}

int cmd_ready(const cli_opts *o)
{
	view v;
	khang_ready_iter *it;
	khang_processor_iter *pit;
	const khang_processor *p;
	if (!view_open(&v, o))
		return 2;
	if (khang_ready_iter_new(&it, v.src, NULL) < 0)
		return fail(&v, "ready queues");
	ready_row *rows = NULL;
	size_t n = 0, cap = 0;
	khang_ready_entry e = KHANG_READY_ENTRY_INIT;
	while (khang_ready_next(&e, it) == 0) {
		if (n == cap) {
			cap = cap ? cap * 2 : 64;
			ready_row *nr = realloc(rows, cap * sizeof(*nr));
			if (!nr) {
				free(rows);
				khang_ready_iter_free(it);
				fprintf(stderr, "khang: out of memory\n");
				view_close(&v);
				return 2;
			}
			rows = nr;
		}
		rows[n++].e = e;
	}
	uint32_t skipped = khang_ready_iter_skipped(it);
	khang_ready_iter_free(it);
	if (khang_processor_iter_new(&pit, v.src) < 0) {
		free(rows);
		return fail(&v, "processors");
	}
	json_out j;
	if (v.json) {
		json_begin(&j, stdout);
		json_kv_str(&j, "command", "ready");
		json_key(&j, "ready");
		json_arr_open(&j);
		for (size_t i = 0; i < n; i++) {
			const khang_ready_entry *r = &rows[i].e;
			const khang_process *pr = NULL;
			khang_thread_process(&pr, r->thread);
			json_obj_open(&j);
			json_kv_hex(&j, "thread", r->thread_address);
			json_kv_i64_or_null(&j, "pid", khang_thread_pid(r->thread));
			json_kv_i64_or_null(&j, "tid", khang_thread_tid(r->thread));
			json_kv_str(&j, "process", pr ? khang_process_name(pr) : "");
			json_kv_u64(&j, "priority", r->priority);
			json_key(&j, "processor");
			if (r->processor < 0)
				json_null(&j);
			else
				json_i64(&j, r->processor);
			json_kv_bool(&j, "shared_queue", r->processor < 0);
			json_kv_hex(&j, "queue", r->queue);
			json_kv_i64_or_null(&j, "ready_ms", r->ready_ms);
			json_obj_close(&j);
		}
		json_arr_close(&j);
		json_kv_u64(&j, "count", n);
		json_kv_u64(&j, "skipped", skipped);
		json_warnings(&j, v.src);
		json_end(&j);
	} else {
		uint64_t shown[64];
		size_t nshown = 0;
		while (khang_processor_next(&p, pit) == 0) {
			uint64_t q = khang_processor_shared_ready_queue(p);
			bool seen = false;
			for (size_t i = 0; i < nshown; i++)
				seen |= shown[i] == q;
			if (q && !seen) {
				char label[64], b[32];
				snprintf(label, sizeof(label), "SharedReadyQueue %s", hex(b, sizeof(b), &v, q));
				print_queue(&v, label, rows, n, -1, q);
				if (nshown < 64)
					shown[nshown++] = q;
			}
			char label[32];
			snprintf(label, sizeof(label), "Processor %u", khang_processor_index(p));
			print_queue(&v, label, rows, n, (int32_t)khang_processor_index(p), 0);
		}
		printf("\nReady threads: %zu", n);
		if (skipped)
			printf(", damaged entries skipped: %u", skipped);
		printf("\n");
	}
	khang_processor_iter_free(pit);
	free(rows);
	view_close(&v);
	return 0;
}

/* ---- pcr / prcb --------------------------------------------------------------------------- */

static int processor_arg(view *v, const char *cmd, const khang_processor **out)
{
	uint64_t n;
	if (v->argc < 1 || !cli_parse_pid(v->argv[0], &n) || n > UINT32_MAX) {
		fprintf(stderr, "usage: khang %s DUMP N   (N: processor number)\n", cmd);
		return 2;
	}
	if (khang_processor_get(out, v->src, (uint32_t)n) < 0) {
		fprintf(stderr, "khang: %s\n", khang_error_last());
		return 2;
	}
	return 0;
}

static void json_registers(json_out *j, const khang_processor *p)
{
	json_key(j, "registers");
	json_obj_open(j);
	for (int r = 0; r < KHANG_REG_COUNT; r++) {
		uint64_t val;
		if (khang_processor_register(&val, p, (khang_register)r) == 0)
			json_kv_hex(j, khang_register_name((khang_register)r), val);
	}
	json_obj_close(j);
}

int cmd_pcr(const cli_opts *o)
{
	view v;
	const khang_processor *p;
	char b[4][32];
	if (!view_open(&v, o))
		return 2;
	if (processor_arg(&v, "pcr", &p)) {
		view_close(&v);
		return 2;
	}
	uint64_t gdt = 0, gdtl = 0, idt = 0, idtl = 0;
	int hg = khang_processor_register(&gdt, p, KHANG_REG_GDTR_BASE) == 0 &&
	         khang_processor_register(&gdtl, p, KHANG_REG_GDTR_LIMIT) == 0;
	int hi = khang_processor_register(&idt, p, KHANG_REG_IDTR_BASE) == 0 &&
	         khang_processor_register(&idtl, p, KHANG_REG_IDTR_LIMIT) == 0;
	if (v.json) {
		json_out j;
		json_begin(&j, stdout);
		json_kv_str(&j, "command", "pcr");
		json_kv_u64(&j, "processor", khang_processor_index(p));
		json_kv_hex(&j, "kpcr", khang_processor_kpcr(p));
		json_kv_hex(&j, "prcb", khang_processor_kprcb(p));
		json_kv_i64_or_null(&j, "irql", khang_processor_irql(p));
		json_thread_ref(&j, "current_thread", khang_processor_current_thread_address(p));
		json_thread_ref(&j, "next_thread", khang_processor_next_thread_address(p));
		json_thread_ref(&j, "idle_thread", khang_processor_idle_thread_address(p));
		json_kv_i64_or_null(&j, "dpc_queue_depth", khang_processor_dpc_queue_depth(p));
		json_kv_i64_or_null(&j, "threaded_dpc_queue_depth", khang_processor_threaded_dpc_queue_depth(p));
		json_warnings(&j, v.src);
		json_end(&j);
	} else {
		printf("KPCR for Processor %u at %s:\n", khang_processor_index(p), hex(b[0], 32, &v, khang_processor_kpcr(p)));
		printf("                  Prcb: %s\n", hex(b[0], 32, &v, khang_processor_kprcb(p)));
		printf("                  Irql: %s\n", num(b[0], 32, khang_processor_irql(p)));
		if (hg)
			printf("                   GDT: %s (limit %" PRIx64 ")\n", hex(b[0], 32, &v, gdt), gdtl);
		if (hi)
			printf("                   IDT: %s (limit %" PRIx64 ")\n", hex(b[0], 32, &v, idt), idtl);
		printf("\n");
		printf("         CurrentThread: %s\n", hex(b[0], 32, &v, khang_processor_current_thread_address(p)));
		printf("            NextThread: %s\n", hex(b[1], 32, &v, khang_processor_next_thread_address(p)));
		printf("            IdleThread: %s\n", hex(b[2], 32, &v, khang_processor_idle_thread_address(p)));
		printf("\n");
		printf("              DpcQueue: %s queued, %s threaded\n", num(b[0], 32, khang_processor_dpc_queue_depth(p)),
		       num(b[1], 32, khang_processor_threaded_dpc_queue_depth(p)));
	}
	view_close(&v);
	return 0;
}

int cmd_prcb(const cli_opts *o)
{
	view v;
	const khang_processor *p;
	char b[6][32];
	if (!view_open(&v, o))
		return 2;
	if (processor_arg(&v, "prcb", &p)) {
		view_close(&v);
		return 2;
	}
	khang_processor_dpc dpc = KHANG_PROCESSOR_DPC_INIT;
	char sym[160] = "";
	khang_processor_dpc_info(&dpc, p);
	if (dpc.routine)
		khang_source_symbolize(sym, sizeof(sym), v.src, dpc.routine);
	if (v.json) {
		json_out j;
		json_begin(&j, stdout);
		json_kv_str(&j, "command", "prcb");
		json_kv_u64(&j, "processor", khang_processor_index(p));
		json_kv_hex(&j, "prcb", khang_processor_kprcb(p));
		json_kv_i64_or_null(&j, "irql", khang_processor_irql(p));
		json_thread_ref(&j, "current_thread", khang_processor_current_thread_address(p));
		json_thread_ref(&j, "next_thread", khang_processor_next_thread_address(p));
		json_thread_ref(&j, "idle_thread", khang_processor_idle_thread_address(p));
		json_kv_i64_or_null(&j, "group", khang_processor_group(p));
		json_kv_i64_or_null(&j, "group_index", khang_processor_group_index(p));
		json_kv_i64_or_null(&j, "interrupt_count", khang_processor_interrupt_count(p));
		json_kv_i64_or_null(&j, "dpc_ticks", khang_processor_ticks(p, KHANG_PROCESSOR_TIME_DPC));
		json_kv_i64_or_null(&j, "interrupt_ticks", khang_processor_ticks(p, KHANG_PROCESSOR_TIME_INTERRUPT));
		json_kv_i64_or_null(&j, "kernel_ticks", khang_processor_ticks(p, KHANG_PROCESSOR_TIME_KERNEL));
		json_kv_i64_or_null(&j, "user_ticks", khang_processor_ticks(p, KHANG_PROCESSOR_TIME_USER));
		json_kv_i64_or_null(&j, "mhz", khang_processor_mhz(p));
		json_kv_str(&j, "vendor", khang_processor_vendor(p));
		json_kv_i64_or_null(&j, "family", khang_processor_family(p));
		json_kv_i64_or_null(&j, "model", khang_processor_model(p));
		json_kv_i64_or_null(&j, "stepping", khang_processor_stepping(p));
		json_kv_i64_or_null(&j, "feature_bits", khang_processor_feature_bits(p));
		json_kv_i64_or_null(&j, "dpc_queue_depth", khang_processor_dpc_queue_depth(p));
		json_kv_i64_or_null(&j, "threaded_dpc_queue_depth", khang_processor_threaded_dpc_queue_depth(p));
		json_kv_i64_or_null(&j, "ready_summary", khang_processor_ready_summary(p));
		json_key(&j, "dpc");
		json_obj_open(&j);
		json_key(&j, "routine");
		if (dpc.routine)
			json_hex(&j, dpc.routine);
		else
			json_null(&j);
		json_kv_str(&j, "routine_symbol", dpc.routine ? sym : "");
		json_kv_i64_or_null(&j, "routine_active", dpc.routine_active);
		json_kv_i64_or_null(&j, "time_count", dpc.time_count);
		json_kv_i64_or_null(&j, "time_limit", dpc.time_limit);
		json_kv_i64_or_null(&j, "watchdog_period", dpc.watchdog_period);
		json_kv_i64_or_null(&j, "watchdog_count", dpc.watchdog_count);
		json_obj_close(&j);
		json_key(&j, "shared_ready_queue");
		if (khang_processor_shared_ready_queue(p))
			json_hex(&j, khang_processor_shared_ready_queue(p));
		else
			json_null(&j);
		json_registers(&j, p);
		json_warnings(&j, v.src);
		json_end(&j);
		view_close(&v);
		return 0;
	}
	printf("PRCB for Processor %u at %s:\n", khang_processor_index(p), hex(b[0], 32, &v, khang_processor_kprcb(p)));
	printf("Current IRQL -- %s\n", num(b[0], 32, khang_processor_irql(p)));
	printf("Threads--  Current %s Next %s Idle %s\n", hex(b[0], 32, &v, khang_processor_current_thread_address(p)),
	       hex(b[1], 32, &v, khang_processor_next_thread_address(p)),
	       hex(b[2], 32, &v, khang_processor_idle_thread_address(p)));
	printf("Processor Index %u Number (%s, %s)\n", khang_processor_index(p), num(b[0], 32, khang_processor_group(p)),
	       num(b[1], 32, khang_processor_group_index(p)));
	printf("Interrupt Count -- %08" PRIx64 "\n", (uint64_t)KH_CLI_MAX(khang_processor_interrupt_count(p), 0));
	printf("Times -- Dpc    %08" PRIx64 " Interrupt %08" PRIx64 "\n",
	       (uint64_t)KH_CLI_MAX(khang_processor_ticks(p, KHANG_PROCESSOR_TIME_DPC), 0),
	       (uint64_t)KH_CLI_MAX(khang_processor_ticks(p, KHANG_PROCESSOR_TIME_INTERRUPT), 0));
	printf("         Kernel %08" PRIx64 " User      %08" PRIx64 "\n",
	       (uint64_t)KH_CLI_MAX(khang_processor_ticks(p, KHANG_PROCESSOR_TIME_KERNEL), 0),
	       (uint64_t)KH_CLI_MAX(khang_processor_ticks(p, KHANG_PROCESSOR_TIME_USER), 0));
	printf("CPU -- %s %s, %s MHz, FeatureBits %s\n", khang_processor_vendor(p)[0] ? khang_processor_vendor(p) : "-",
	       fms(b[0], 32, p), num(b[1], 32, khang_processor_mhz(p)), xnum(b[2], 32, khang_processor_feature_bits(p)));
	printf("DPC queue -- %s queued, %s threaded\n", num(b[0], 32, khang_processor_dpc_queue_depth(p)),
	       num(b[1], 32, khang_processor_threaded_dpc_queue_depth(p)));
	printf("DPC -- routine %s%s%s%s, active %s, time %s of %s ticks, watchdog %s of %s\n",
	       dpc.routine ? hex(b[0], 32, &v, dpc.routine) : "-", dpc.routine ? " (" : "", sym, dpc.routine ? ")" : "",
	       num(b[1], 32, dpc.routine_active), num(b[2], 32, dpc.time_count), num(b[3], 32, dpc.time_limit),
	       num(b[4], 32, dpc.watchdog_count), num(b[5], 32, dpc.watchdog_period));
	printf("Ready -- Summary %s", xnum(b[0], 32, khang_processor_ready_summary(p)));
	if (khang_processor_shared_ready_queue(p))
		printf(" SharedReadyQueue %s", hex(b[1], 32, &v, khang_processor_shared_ready_queue(p)));
	printf("\nSpecial registers --\n");
	for (int r = 0; r < KHANG_REG_COUNT; r++) {
		uint64_t val;
		if (khang_processor_register(&val, p, (khang_register)r) == 0)
			printf("    %-18s %016" PRIx64 "\n", khang_register_name((khang_register)r), val);
	}
	view_close(&v);
	return 0;
}

/* ---- processes --------------------------------------------------------------------------- */

static const char *pid_text(char *buf, size_t len, int64_t pid)
{
	if (pid < 0)
		snprintf(buf, len, "-");
	else
		snprintf(buf, len, "%" PRIx64 " (0n%" PRId64 ")", (uint64_t)pid, pid);
	return buf;
}

static void json_process(json_out *j, const khang_process *p)
{
	char t[40];
	json_obj_open(j);
	json_kv_str(j, "name", khang_process_name(p));
	json_kv_hex(j, "address", khang_process_address(p));
	json_kv_i64_or_null(j, "pid", khang_process_pid(p));
	json_kv_i64_or_null(j, "parent_pid", khang_process_parent_pid(p));
	json_kv_i64_or_null(j, "session", khang_process_session_id(p));
	json_kv_hex(j, "peb", khang_process_peb(p));
	json_kv_hex(j, "dtb", khang_process_dtb(p));
	json_key(j, "create_time");
	if (khang_process_create_time(p)) {
		khang_format_filetime(t, sizeof(t), khang_process_create_time(p));
		json_str(j, t);
	} else {
		json_null(j);
	}
	json_kv_u64(j, "create_filetime", khang_process_create_time(p));
	json_kv_i64_or_null(j, "threads", khang_process_thread_count(p));
	json_kv_i64_or_null(j, "handles", khang_process_handle_count(p));
	json_kv_bool_or_null(j, "exiting", khang_process_is_exiting(p));
	json_kv_bool_or_null(j, "gui", khang_process_is_gui(p));
	json_kv_str(j, "image_path", khang_process_image_path(p));
	json_obj_close(j);
}

int cmd_ps(const cli_opts *o)
{
	view v;
	khang_process_iter *it;
	const khang_process *p;
	char b[4][64];
	if (!view_open(&v, o))
		return 2;
	if (khang_process_iter_new(&it, v.src) < 0)
		return fail(&v, "processes");
	static const char *const heads[] = { "Name", "Address", "Ses", "PID", "Parent", "PEB", "Create Time", "Handle", "Thrd" };
	cli_table t = { .ncols = 9, .heads = heads, .align = "llrllllrr" };
	json_out j;
	size_t n = 0;
	if (v.json) {
		json_begin(&j, stdout);
		json_kv_str(&j, "command", "ps");
		json_key(&j, "processes");
		json_arr_open(&j);
	}
	while (khang_process_next(&p, it) == 0) {
		n++;
		if (v.json) {
			json_process(&j, p);
			continue;
		}
		char flags[8] = "";
		if (khang_process_is_exiting(p) == 1)
			strcat(flags, "E");
		if (khang_process_is_gui(p) == 1)
			strcat(flags, "G");
		if (flags[0])
			cli_table_cell(&t, "%s (%s)", khang_process_name(p), flags);
		else
			cli_table_cell(&t, "%s", khang_process_name(p));
		cli_table_cell(&t, "%s", hex(b[0], 64, &v, khang_process_address(p)));
		cli_table_cell(&t, "%s", num(b[1], 64, khang_process_session_id(p)));
		cli_table_cell(&t, "%s", pid_text(b[0], 64, khang_process_pid(p)));
		cli_table_cell(&t, "%s", pid_text(b[1], 64, khang_process_parent_pid(p)));
		cli_table_cell(&t, "%s", hex(b[2], 64, &v, khang_process_peb(p)));
		khang_format_filetime(b[2], 64, khang_process_create_time(p));
		cli_table_cell(&t, "%s", b[2]);
		cli_table_cell(&t, "%s", num(b[3], 64, khang_process_handle_count(p)));
		cli_table_cell(&t, "%s", num(b[3], 64, khang_process_thread_count(p)));
	}
	uint32_t skipped = khang_process_iter_skipped(it);
	khang_process_iter_free(it);
	list_end(&v, &j, &t, "Process", n, skipped);
	return 0;
}

/* ---- threads ------------------------------------------------------------------------------ */

/* -p PID|NAME: the processes to show (all when none given). */
static int select_processes(view *v, const khang_process ***out, size_t *count)
{
	*out = NULL;
	*count = 0;
	if (v->argc == 0)
		return 0;
	if (v->argc != 2 || strcmp(v->argv[0], "-p") != 0) {
		fprintf(stderr, "usage: khang threads DUMP [-p PID|NAME]   (PID: decimal, 0x hex or 0n decimal)\n");
		return 2;
	}
	return cli_select_processes(v->src, v->argv[1], out, count);
}

static void json_thread_row(json_out *j, const khang_thread *t, const khang_process *pr)
{
	json_obj_open(j);
	json_kv_str(j, "process", pr ? khang_process_name(pr) : "");
	json_kv_i64_or_null(j, "pid", khang_thread_pid(t));
	json_kv_hex(j, "thread", khang_thread_address(t));
	json_kv_i64_or_null(j, "tid", khang_thread_tid(t));
	json_kv_str(j, "state", khang_thread_state_name(t));
	json_kv_i64_or_null(j, "wait_ms", khang_thread_wait_ms(t));
	json_kv_str(j, "wait_reason", khang_thread_wait_reason_name(t));
	json_kv_bool_or_null(j, "gui", khang_thread_is_gui(t));
	json_obj_close(j);
}

static void thread_row(cli_table *t, const view *v, const khang_thread *th, const khang_process *pr)
{
	char b[3][32];
	cli_table_cell(t, "%s", pr ? khang_process_name(pr) : "?");
	cli_table_cell(t, "%s", xnum(b[0], 32, khang_thread_pid(th)));
	cli_table_cell(t, "%s", hex(b[1], 32, v, khang_thread_address(th)));
	cli_table_cell(t, "%s", xnum(b[2], 32, khang_thread_tid(th)));
	cli_table_cell(t, "%s", khang_thread_state_name(th));
	cli_table_cell(t, "%s", dur(b[0], 32, khang_thread_wait_ms(th)));
	cli_table_cell(t, "%s", khang_thread_wait_reason_name(th));
}

int cmd_threads(const cli_opts *o)
{
	view v;
	const khang_process **sel = NULL;
	size_t nsel = 0;
	if (!view_open(&v, o))
		return 2;
	if (select_processes(&v, &sel, &nsel)) {
		free(sel);
		view_close(&v);
		return 2;
	}
	static const char *const heads[] = { "Process", "PID", "Thread", "Id", "State", "Time", "Reason" };
	cli_table t = { .ncols = 7, .heads = heads, .align = "lrlrlrl" };
	json_out j;
	size_t n = 0;
	uint32_t skipped = 0;
	if (v.json) {
		json_begin(&j, stdout);
		json_kv_str(&j, "command", "threads");
		json_key(&j, "threads");
		json_arr_open(&j);
	}
	for (size_t s = 0; s < (nsel ? nsel : 1); s++) {
		khang_thread_iter *it;
		const khang_thread *th;
		if (khang_thread_iter_new(&it, v.src, nsel ? sel[s] : NULL) < 0) {
			free(sel);
			if (v.json)
				printf("\n");
			return fail(&v, "threads");
		}
		int rc;
		while ((rc = khang_thread_next(&th, it)) == 0) {
			const khang_process *pr = NULL;
			khang_thread_process(&pr, th);
			n++;
			if (v.json)
				json_thread_row(&j, th, pr);
			else
				thread_row(&t, &v, th, pr);
		}
		skipped += khang_thread_iter_skipped(it);
		khang_thread_iter_free(it);
		if (rc != KHANG_ITEROVER) {
			free(sel);
			return fail(&v, "threads");
		}
	}
	free(sel);
	list_end(&v, &j, &t, "Thread", n, skipped);
	return 0;
}

/* ---- one thread (!thread) ------------------------------------------------------------------- */

static void upper(char *dst, size_t len, const char *s)
{
	size_t i;
	for (i = 0; s[i] && i + 1 < len; i++)
		dst[i] = (char)toupper((unsigned char)s[i]);
	dst[i] = '\0';
}

static const char *wait_type_name(int32_t t)
{
	switch (t) {
	case 0: return "WaitAll";
	case 1: return "WaitAny";
	case 2: return "WaitNotification";
	case 3: return "WaitDequeue";
	case 4: return "WaitDpc";
	default: return "";
	}
}

int cmd_thread(const cli_opts *o)
{
	view v;
	const khang_thread *t;
	uint64_t va;
	char b[8][48];
	if (!view_open(&v, o))
		return 2;
	if (v.argc != 1 || !cli_parse_address(v.argv[0], &va)) {
		fprintf(stderr, "usage: khang thread DUMP ADDRESS   (the ETHREAD address, hex)\n");
		view_close(&v);
		return 2;
	}
	if (khang_thread_by_address(&t, v.src, va) < 0)
		return fail(&v, "thread");
	const khang_process *pr = NULL;
	khang_thread_process(&pr, t);
	int nw = khang_thread_wait_count(t);
	if (nw < 0)
		nw = 0;
	const uint64_t *irps = NULL;
	size_t nirps = 0;
	khang_thread_irps(&irps, &nirps, t);
	int state = khang_thread_state(t);
	int64_t wait_ms = khang_thread_wait_ms(t);
	char sym[160];

	if (v.json) {
		json_out j;
		json_begin(&j, stdout);
		json_kv_str(&j, "command", "thread");
		json_key(&j, "thread");
		json_obj_open(&j);
		json_kv_hex(&j, "address", khang_thread_address(t));
		json_kv_i64_or_null(&j, "pid", khang_thread_pid(t));
		json_kv_i64_or_null(&j, "tid", khang_thread_tid(t));
		json_kv_hex(&j, "process", khang_thread_process_address(t));
		json_kv_str(&j, "process_name", pr ? khang_process_name(pr) : "");
		json_kv_hex(&j, "teb", khang_thread_teb(t));
		json_kv_hex(&j, "win32_thread", khang_thread_win32_thread(t));
		json_kv_bool_or_null(&j, "gui", khang_thread_is_gui(t));
		json_kv_i64_or_null(&j, "state_value", state);
		json_kv_str(&j, "state", khang_thread_state_name(t));
		json_kv_i64_or_null(&j, "wait_reason_value", khang_thread_wait_reason(t));
		json_kv_str(&j, "wait_reason", khang_thread_wait_reason_name(t));
		json_key(&j, "wait_mode");
		int wm = khang_thread_wait_mode(t);
		if (wm < 0)
			json_null(&j);
		else
			json_str(&j, wm ? "UserMode" : "KernelMode");
		json_kv_bool_or_null(&j, "alertable", khang_thread_alertable(t));
		json_kv_i64_or_null(&j, "wait_irql", khang_thread_wait_irql(t));
		json_kv_i64_or_null(&j, "wait_tick", khang_thread_wait_tick(t));
		json_kv_i64_or_null(&j, "wait_ms", wait_ms);
		json_kv_i64_or_null(&j, "priority", khang_thread_priority(t));
		json_kv_i64_or_null(&j, "base_priority", khang_thread_base_priority(t));
		json_kv_i64_or_null(&j, "processor", khang_thread_processor(t));
		json_kv_i64_or_null(&j, "ideal_processor", khang_thread_ideal_processor(t));
		json_kv_i64_or_null(&j, "context_switches", khang_thread_context_switches(t));
		json_kv_i64_or_null(&j, "kernel_ms", khang_thread_kernel_ms(t));
		json_kv_i64_or_null(&j, "user_ms", khang_thread_user_ms(t));
		json_kv_i64_or_null(&j, "suspend_count", khang_thread_suspend_count(t));
		json_kv_bool_or_null(&j, "system", khang_thread_is_system(t));
		json_kv_bool_or_null(&j, "terminated", khang_thread_is_terminated(t));
		json_kv_hex(&j, "start_address", khang_thread_start_address(t));
		json_kv_hex(&j, "win32_start_address", khang_thread_win32_start_address(t));
		khang_source_symbolize(sym, sizeof(sym), v.src, khang_thread_win32_start_address(t));
		json_kv_str(&j, "win32_start_symbol", sym);
		json_kv_hex(&j, "stack_init", khang_thread_stack_init(t));
		json_kv_hex(&j, "stack_base", khang_thread_stack_base(t));
		json_kv_hex(&j, "stack_limit", khang_thread_stack_limit(t));
		json_kv_hex(&j, "kernel_stack", khang_thread_kernel_stack(t));
		json_key(&j, "create_time");
		if (khang_thread_create_time(t)) {
			khang_format_filetime(b[0], 48, khang_thread_create_time(t));
			json_str(&j, b[0]);
		} else {
			json_null(&j);
		}
		json_key(&j, "wait_objects");
		json_arr_open(&j);
		for (int i = 0; i < nw; i++) {
			khang_wait_object w = KHANG_WAIT_OBJECT_INIT;
			if (khang_thread_wait_object(&w, t, (size_t)i) < 0)
				continue;
			json_obj_open(&j);
			json_kv_hex(&j, "object", w.object);
			json_kv_str(&j, "type", w.type_name);
			json_kv_i64(&j, "raw_type", w.raw_type);
			json_kv_i64(&j, "signal_state", w.signal_state);
			json_kv_str(&j, "wait_type", wait_type_name(w.wait_type));
			json_kv_i64(&j, "wait_key", w.wait_key);
			json_kv_str(&j, "block_state", w.block_state_name);
			if (w.type == KHANG_OBJECT_MUTANT) {
				json_key(&j, "owner_thread");
				if (w.owner_address)
					json_hex(&j, w.owner_address);
				else
					json_null(&j);
			}
			if (w.thread)
				json_kv_i64(&j, "thread_tid", khang_thread_tid(w.thread));
			if (w.process) {
				json_kv_i64(&j, "process_pid", khang_process_pid(w.process));
				json_kv_str(&j, "process_name", khang_process_name(w.process));
			}
			json_obj_close(&j);
		}
		json_arr_close(&j);
		json_key(&j, "irps");
		json_arr_open(&j);
		for (size_t i = 0; i < nirps; i++)
			json_hex(&j, irps[i]);
		json_arr_close(&j);
		json_kv_u64(&j, "wait_blocks_skipped", khang_thread_wait_skipped(t));
		json_obj_close(&j);
		json_warnings(&j, v.src);
		json_end(&j);
		view_close(&v);
		return 0;
	}

	printf("THREAD %s  Cid %04" PRIx64 ".%04" PRIx64 "  Teb: %s Win32Thread: %s ", hex(b[0], 48, &v, va),
	       (uint64_t)KH_CLI_MAX(khang_thread_pid(t), 0), (uint64_t)KH_CLI_MAX(khang_thread_tid(t), 0),
	       hex(b[1], 48, &v, khang_thread_teb(t)), hex(b[2], 48, &v, khang_thread_win32_thread(t)));
	if (state == KHANG_THREAD_WAITING) {
		int wm = khang_thread_wait_mode(t), al = khang_thread_alertable(t);
		printf("WAIT: (%s) %s %s\n", khang_thread_wait_reason_name(t),
		       wm < 0 ? "?" : wm ? "UserMode" : "KernelMode", al < 0 ? "?" : al ? "Alertable" : "Non-Alertable");
	} else if (state == KHANG_THREAD_RUNNING || state == KHANG_THREAD_READY || state == KHANG_THREAD_STANDBY) {
		upper(b[3], 48, khang_thread_state_name(t));
		printf("%s on processor %s\n", b[3], num(b[4], 48, khang_thread_processor(t)));
	} else {
		upper(b[3], 48, khang_thread_state_name(t));
		printf("%s\n", b[3]);
	}
	for (int i = 0; i < nw; i++) {
		khang_wait_object w = KHANG_WAIT_OBJECT_INIT;
		if (khang_thread_wait_object(&w, t, (size_t)i) < 0)
			continue;
		printf("    %s  %s", hex(b[0], 48, &v, w.object), w.type_name);
		if (w.type == KHANG_OBJECT_MUTANT)
			printf(" - owning thread %s", hex(b[1], 48, &v, w.owner_address));
		if (w.thread)
			printf(" - thread Cid %04" PRIx64 ".%04" PRIx64, (uint64_t)KH_CLI_MAX(khang_thread_pid(w.thread), 0),
			       (uint64_t)KH_CLI_MAX(khang_thread_tid(w.thread), 0));
		if (w.process)
			printf(" - process %s (%" PRIx64 ")", khang_process_name(w.process),
			       (uint64_t)KH_CLI_MAX(khang_process_pid(w.process), 0));
		printf("\n");
	}
	if (khang_thread_wait_skipped(t))
		printf("    (%u wait blocks could not be read)\n", khang_thread_wait_skipped(t));
	if (nirps) {
		printf("IRP List:\n");
		for (size_t i = 0; i < nirps; i++) {
			khang_irp irp = KHANG_IRP_INIT;
			printf("    %s", hex(b[0], 48, &v, irps[i]));
			if (khang_irp_read(&irp, v.src, irps[i]) == 0 && irp.device)
				printf("  %s in %s%s%s%s", khang_irp_major_name(irp.major),
				       irp.driver_name[0] ? irp.driver_name : "?", irp.module[0] ? " (" : "", irp.module,
				       irp.module[0] ? ")" : "");
			printf("\n");
		}
	}
	printf("Owning Process            %s       Image:         %s\n", hex(b[0], 48, &v, khang_thread_process_address(t)),
	       pr ? khang_process_name(pr) : "?");
	int64_t tick = khang_thread_wait_tick(t);
	printf("Wait Start TickCount      %-14s Ticks: ", num(b[0], 48, tick));
	khang_kernel_info ki = KHANG_KERNEL_INFO_INIT;
	if (tick >= 0 && khang_source_kernel_info(&ki, v.src) == 0 && ki.tick_multiplier)
		printf("%u (%s)\n", (uint32_t)ki.tick_count - (uint32_t)tick, dhms(b[1], 48, wait_ms));
	else
		printf("- (-)\n");
	printf("Context Switch Count      %-14s IdealProcessor: %s\n", num(b[0], 48, khang_thread_context_switches(t)),
	       num(b[1], 48, khang_thread_ideal_processor(t)));
	printf("UserTime                  %s\n", hms(b[0], 48, khang_thread_user_ms(t)));
	printf("KernelTime                %s\n", hms(b[0], 48, khang_thread_kernel_ms(t)));
	khang_source_symbolize(sym, sizeof(sym), v.src, khang_thread_start_address(t));
	printf("Start Address %s\n", sym);
	khang_source_symbolize(sym, sizeof(sym), v.src, khang_thread_win32_start_address(t));
	printf("Win32 Start Address %s (0x%" PRIx64 ")\n", sym, khang_thread_win32_start_address(t));
	printf("Stack Init %s Current %s\n", hex(b[0], 48, &v, khang_thread_stack_init(t)),
	       hex(b[1], 48, &v, khang_thread_kernel_stack(t)));
	printf("Base %s Limit %s\n", hex(b[0], 48, &v, khang_thread_stack_base(t)),
	       hex(b[1], 48, &v, khang_thread_stack_limit(t)));
	printf("Priority %s  BasePriority %s  SuspendCount %s\n", num(b[0], 48, khang_thread_priority(t)),
	       num(b[1], 48, khang_thread_base_priority(t)), num(b[2], 48, khang_thread_suspend_count(t)));
	view_close(&v);
	return 0;
}

/* ---- IRPs ------------------------------------------------------------------------- */

static void json_irp_location(json_out *j, const khang_irp_location *l)
{
	json_obj_open(j);
	json_kv_u64(j, "index", l->index);
	json_kv_bool(j, "current", l->current != 0);
	json_kv_hex(j, "address", l->address);
	json_kv_u64(j, "major", l->major);
	json_kv_str(j, "major_name", khang_irp_major_name(l->major));
	json_kv_u64(j, "minor", l->minor);
	json_kv_str(j, "minor_name", khang_irp_minor_name(l->major, l->minor));
	json_kv_u64(j, "flags", l->flags);
	json_kv_u64(j, "control", l->control);
	json_kv_hex(j, "device", l->device);
	json_kv_hex(j, "driver", l->driver);
	json_kv_str(j, "driver_name", l->driver_name);
	json_kv_str(j, "module", l->module);
	json_kv_hex(j, "file_object", l->file_object);
	json_kv_hex(j, "completion_routine", l->completion_routine);
	json_kv_hex(j, "context", l->context);
	if (l->power_state >= 0) {
		json_kv_str(j, "power_type", l->power_type == 1 ? "device" : "system");
		json_kv_str(j, "power_state", khang_power_state_name(l->power_type, l->power_state));
		json_kv_i64(j, "power_action", l->power_action);
	}
	json_obj_close(j);
}

/* khang irp DUMP ADDR: the IRP and its stack locations (like !irp), the
 * current one marked with '>'. */
int cmd_irp(const cli_opts *o)
{
	view v;
	uint64_t va;
	char b[4][48];
	if (!view_open(&v, o))
		return 2;
	if (v.argc != 1 || !cli_parse_address(v.argv[0], &va)) {
		fprintf(stderr, "usage: khang irp DUMP ADDRESS   (the IRP address, hex)\n");
		view_close(&v);
		return 2;
	}
	khang_irp irp = KHANG_IRP_INIT;
	if (khang_irp_read(&irp, v.src, va) < 0)
		return fail(&v, "irp");
	json_out j;
	if (v.json) {
		json_begin(&j, stdout);
		json_kv_str(&j, "command", "irp");
		json_kv_hex(&j, "address", irp.address);
		json_thread_ref(&j, "thread", irp.thread);
		json_kv_hex(&j, "file_object", irp.file_object);
		json_kv_u64(&j, "flags", irp.flags);
		json_kv_hex(&j, "status", (uint32_t)irp.status);
		json_kv_i64(&j, "stack_count", irp.stack_count);
		json_kv_i64(&j, "current_location", irp.current_location);
		json_kv_bool_or_null(&j, "cancel", irp.cancel);
		json_kv_bool_or_null(&j, "pending_returned", irp.pending_returned);
		json_kv_str(&j, "driver_name", irp.driver_name);
		json_kv_str(&j, "module", irp.module);
		json_key(&j, "locations");
		json_arr_open(&j);
	} else {
		if (irp.current_location >= 1 && irp.current_location <= irp.stack_count)
			printf("Irp is active with %d stacks %d is current\n", irp.stack_count, irp.current_location);
		else if (irp.current_location > irp.stack_count)
			printf("Irp with %d stacks, not yet sent to a driver (CurrentLocation %d)\n", irp.stack_count,
			       irp.current_location);
		else
			printf("Irp with %d stacks, completed past the last (CurrentLocation %d)\n", irp.stack_count,
			       irp.current_location);
		printf(" Thread %s  Flags %08x  Status %08x  Cancel %s  PendingReturned %s\n", hex(b[0], 48, &v, irp.thread),
		       irp.flags, (uint32_t)irp.status, num(b[1], 48, irp.cancel), num(b[2], 48, irp.pending_returned));
		printf("     cmd  flg cl Device%*s File%*s Completion-Context\n", v.pw - 6, "", v.pw - 4, "");
	}
	for (int i = 1; i <= irp.stack_count; i++) {
		khang_irp_location l = KHANG_IRP_LOCATION_INIT;
		if (khang_irp_location_read(&l, v.src, irp.address, (uint32_t)i) < 0) {
			if (!v.json)
				printf(" [location %d: %s]\n", i, khang_error_last());
			continue;
		}
		if (v.json) {
			json_irp_location(&j, &l);
			continue;
		}
		const char *mn = khang_irp_minor_name(l.major, l.minor);
		bool unused = !l.device && !l.major && !l.minor; /* a location no driver has been given yet */
		printf("%c[%s(%x), %s(%x)]\n", l.current ? '>' : ' ', unused ? "N/A" : khang_irp_major_name(l.major), l.major,
		       mn[0] ? mn : "N/A", l.minor);
		printf("           %2x %2x %s %s %s-%s\n", l.flags, l.control, hex(b[0], 48, &v, l.device),
		       hex(b[1], 48, &v, l.file_object), hex(b[2], 48, &v, l.completion_routine), hex(b[3], 48, &v, l.context));
		if (l.driver_name[0] || l.module[0])
			printf("            %s%s%s%s\n", l.driver_name[0] ? l.driver_name : "?", l.module[0] ? " (" : "", l.module,
			       l.module[0] ? ")" : "");
		if (l.power_state >= 0)
			printf("            Args: %s power state %s, action %d\n", l.power_type == 1 ? "device" : "system",
			       khang_power_state_name(l.power_type, l.power_state), l.power_action);
	}
	if (v.json) {
		json_arr_close(&j);
		json_warnings(&j, v.src);
		json_end(&j);
	}
	view_close(&v);
	return 0;
}

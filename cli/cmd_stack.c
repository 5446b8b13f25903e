/*
 * khang stack / stacks: call stacks as WinDbg's kn prints them, and
 * identical stacks grouped as !us / !mex.us do.
 *
 *   khang stack DUMP THREAD [--json]
 *   khang stacks DUMP [--unique] [-p PID|NAME] [--module NAME] [--symbol TEXT] [--json]
 *
 * THREAD is an ETHREAD address (hex, with or without 0x and `). Both
 * commands also take --image-path DIRS after the dump.
 *
 * JSON (schema 1): a frame is {"index", "sp", "ip", "ret", "kind", "user",
 * "module", "symbol", "offset", "text", "trap_frame"}; "stack" gives
 * {"command", "thread", "pid", "tid", "process", "start", "frames", "end",
 * "end_reason", "warnings"}; "stacks" gives {"command", "unique", "threads"
 * [{"thread", "pid", "tid", "process", "start", "frames", "end",
 * "end_reason"}] or "groups" [{"count", "threads" [addresses], "frames",
 * "end", "end_reason"}], "shown", "walked", "skipped", "warnings"}.
 */
#include <ctype.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cli.h"

typedef struct sview {
	khang_source *src;
	bool json, x86, unique;
	const char *pname, *module, *symbol;
	const char *thread;
	int bad;
} sview;

static const char *kind_name(khang_frame_kind k)
{
	switch (k) {
	case KHANG_FRAME_CONTEXT: return "context";
	case KHANG_FRAME_UNWIND: return "unwind";
	case KHANG_FRAME_LEAF: return "leaf";
	case KHANG_FRAME_TRAP: return "trap";
	case KHANG_FRAME_SCAN: return "scan";
	default: return "?";
	}
}

static const char *end_name(khang_stack_end_code e)
{
	switch (e) {
	case KHANG_STACK_END_COMPLETE: return "complete";
	case KHANG_STACK_END_FRAME_LIMIT: return "frame_limit";
	case KHANG_STACK_END_NO_MODULE: return "no_module";
	case KHANG_STACK_END_NO_UNWIND: return "no_unwind_data";
	case KHANG_STACK_END_NOT_PRESENT: return "not_present";
	case KHANG_STACK_END_BAD_SP: return "bad_stack_pointer";
	case KHANG_STACK_END_CORRUPT: return "corrupt";
	case KHANG_STACK_END_USER_MODE: return "user_mode";
	default: return "?";
	}
}

static const char *start_name(khang_stack_start_code s)
{
	switch (s) {
	case KHANG_STACK_START_SWITCH_FRAME: return "switch_frame";
	case KHANG_STACK_START_DUMP_CONTEXT: return "dump_context";
	case KHANG_STACK_START_PRCB_CONTEXT: return "prcb_context";
	default: return "context_record";
	}
}

/* WinDbg's pointer: ffffd000`215846b0 (x64), 8 digits (x86) */
static const char *ptr(char *buf, size_t len, const sview *v, uint64_t x)
{
	if (v->x86)
		snprintf(buf, len, "%08" PRIx64, x & 0xFFFFFFFFu);
	else
		snprintf(buf, len, "%08" PRIx64 "`%08" PRIx64, x >> 32, x & 0xFFFFFFFFu);
	return buf;
}



/* Arguments after the dump; opens the dump. false on a usage error or an
 * unreadable dump (message printed). */
static bool sview_open(sview *v, const cli_opts *o, bool many)
{
	cli_opts oo = *o;
	memset(v, 0, sizeof(*v));
	v->json = o->json;
	for (int i = 0; i < o->argc; i++) {
		const char *a = o->argv[i];
		if (strcmp(a, "--json") == 0)
			v->json = true;
		else if (strcmp(a, "--image-path") == 0 && i + 1 < o->argc)
			oo.image_path = o->argv[++i];
		else if (many && strcmp(a, "--unique") == 0)
			v->unique = true;
		else if (many && strcmp(a, "-p") == 0 && i + 1 < o->argc)
			v->pname = o->argv[++i];
		else if (many && strcmp(a, "--module") == 0 && i + 1 < o->argc)
			v->module = o->argv[++i];
		else if (many && strcmp(a, "--symbol") == 0 && i + 1 < o->argc)
			v->symbol = o->argv[++i];
		else if (!many && !v->thread)
			v->thread = a;
		else
			v->bad = 1;
	}
	if (v->bad || (!many && !v->thread)) {
		if (many)
			fprintf(stderr, "usage: khang stacks DUMP [--unique] [-p PID|NAME] [--module NAME] [--symbol TEXT] "
			                "[--json] [--image-path DIRS]\n");
		else
			fprintf(stderr, "usage: khang stack DUMP THREAD [--json] [--image-path DIRS]\n");
		return false;
	}
	v->src = cli_open(&oo);
	if (!v->src)
		return false;
	khang_source_info in = KHANG_SOURCE_INFO_INIT;
	khang_source_get_info(&in, v->src);
	v->x86 = in.arch == KHANG_ARCH_X86;
	return true;
}

static void sview_close(sview *v)
{
	cli_print_warnings(v->src);
	cli_close(v->src);
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

/* ---- output of one stack ------------------------------------------------------- */

static void json_frames(json_out *j, khang_stack *st)
{
	size_t n = khang_stack_frame_count(st);
	json_key(j, "frames");
	json_arr_open(j);
	for (size_t i = 0; i < n; i++) {
		khang_frame_info fi = KHANG_FRAME_INFO_INIT;
		khang_frame next;
		if (khang_stack_frame_info(&fi, st, i) < 0)
			break;
		json_obj_open(j);
		json_kv_u64(j, "index", i);
		json_kv_hex(j, "sp", fi.sp);
		json_kv_hex(j, "ip", fi.ip);
		json_key(j, "ret");
		if (khang_stack_frame(&next, st, i + 1) == 0)
			json_hex(j, next.ip);
		else
			json_null(j);
		json_kv_str(j, "kind", kind_name(fi.kind));
		json_kv_bool(j, "user", fi.user_mode != 0);
		json_kv_str(j, "module", fi.module);
		json_kv_str(j, "symbol", fi.symbol);
		json_kv_u64(j, "offset", fi.offset);
		json_kv_str(j, "text", fi.text);
		json_key(j, "trap_frame");
		if (fi.trap_frame)
			json_hex(j, fi.trap_frame);
		else
			json_null(j);
		json_obj_close(j);
	}
	json_arr_close(j);
	json_kv_str(j, "end", end_name(khang_stack_end(st)));
	json_kv_str(j, "end_reason", khang_stack_end_reason(st));
}

/* kn: "# Child-SP RetAddr Call Site" */
static void print_kn(const sview *v, khang_stack *st, const char *indent)
{
	char a[32], b[32];
	size_t n = khang_stack_frame_count(st);
	printf("%s # %-*s %-*s Call Site\n", indent, v->x86 ? 8 : 17, "Child-SP", v->x86 ? 8 : 17, "RetAddr");
	for (size_t i = 0; i < n; i++) {
		khang_frame_info fi = KHANG_FRAME_INFO_INIT;
		khang_frame next;
		if (khang_stack_frame_info(&fi, st, i) < 0)
			break;
		uint64_t ret = khang_stack_frame(&next, st, i + 1) == 0 ? next.ip : 0;
		printf("%s%02zx %s %s %s", indent, i, ptr(a, sizeof(a), v, fi.sp), ptr(b, sizeof(b), v, ret), fi.text);
		if (fi.kind == KHANG_FRAME_SCAN)
			printf(" (scanned)");
		if (i + 1 < n) {
			khang_frame_info up = KHANG_FRAME_INFO_INIT;
			if (khang_stack_frame_info(&up, st, i + 1) == 0 && up.trap_frame)
				printf(" (TrapFrame @ %s)", ptr(a, sizeof(a), v, up.trap_frame));
		}
		printf("\n");
	}
	printf("%s(%s)\n", indent, khang_stack_end_reason(st));
}

static void thread_head(const sview *v, const khang_thread *t)
{
	char a[32];
	const khang_process *p = NULL;
	khang_thread_process(&p, t);
	printf("THREAD %s  Cid %" PRIx64 ".%" PRIx64 "  %s  %s", ptr(a, sizeof(a), v, khang_thread_address(t)),
	       (uint64_t)khang_thread_pid(t), (uint64_t)khang_thread_tid(t), p ? khang_process_name(p) : "?",
	       khang_thread_state_name(t));
	if (khang_thread_wait_reason(t) >= 0 && strcmp(khang_thread_state_name(t), "Waiting") == 0)
		printf(": %s", khang_thread_wait_reason_name(t));
	printf("\n");
}

static void json_thread_ids(json_out *j, const khang_thread *t)
{
	const khang_process *p = NULL;
	khang_thread_process(&p, t);
	json_kv_hex(j, "thread", khang_thread_address(t));
	json_kv_i64(j, "pid", khang_thread_pid(t));
	json_kv_i64(j, "tid", khang_thread_tid(t));
	json_kv_str(j, "process", p ? khang_process_name(p) : "");
}

int cmd_stack(const cli_opts *o)
{
	sview v;
	uint64_t va;
	if (!sview_open(&v, o, false))
		return 2;
	if (!cli_parse_address(v.thread, &va)) {
		fprintf(stderr, "usage: khang stack DUMP THREAD   (THREAD: an ETHREAD address)\n");
		sview_close(&v);
		return 2;
	}
	const khang_thread *t;
	khang_stack *st;
	if (khang_thread_by_address(&t, v.src, va) < 0 || khang_stack_walk(&st, t, NULL) < 0) {
		fprintf(stderr, "khang: %s\n", khang_error_last());
		sview_close(&v);
		return 2;
	}
	if (v.json) {
		json_out j;
		json_begin(&j, stdout);
		json_kv_str(&j, "command", "stack");
		json_thread_ids(&j, t);
		json_kv_str(&j, "start", start_name(khang_stack_start(st)));
		json_frames(&j, st);
		json_warnings(&j, v.src);
		json_end(&j);
	} else {
		thread_head(&v, t);
		print_kn(&v, st, "");
	}
	khang_stack_free(st);
	sview_close(&v);
	return 0;
}

/* ---- many threads ------------------------------------------------------------------- */


static bool has_text(const char *hay, const char *needle)
{
	size_t n = strlen(needle);
	for (; *hay; hay++)
		if (strncasecmp(hay, needle, n) == 0)
			return true;
	return n == 0;
}

static bool stack_matches(const sview *v, khang_stack *st)
{
	bool mok = !v->module, sok = !v->symbol;
	for (size_t i = 0; i < khang_stack_frame_count(st) && !(mok && sok); i++) {
		khang_frame_info fi = KHANG_FRAME_INFO_INIT;
		if (khang_stack_frame_info(&fi, st, i) < 0)
			return false;
		if (!mok && fi.module[0] && has_text(fi.module, v->module))
			mok = true;
		if (!sok && has_text(fi.text, v->symbol))
			sok = true;
	}
	return mok && sok;
}

static int unique(sview *v, const khang_process **sel, size_t nsel)
{
	size_t shown = 0, total = 0, walked = 0, groups = 0;
	uint32_t skipped = 0;
	json_out j;
	char a[32];
	if (v->json) {
		json_begin(&j, stdout);
		json_kv_str(&j, "command", "stacks");
		json_kv_bool(&j, "unique", true);
		json_key(&j, "groups");
		json_arr_open(&j);
	}
	for (size_t s = 0; s < (nsel ? nsel : 1); s++) {
		khang_unique_opts uo = KHANG_UNIQUE_OPTS_INIT;
		khang_unique_stacks *u;
		uo.process = nsel ? sel[s] : NULL;
		uo.module_filter = v->module;
		uo.symbol_filter = v->symbol;
		if (khang_unique_stacks_new(&u, v->src, &uo) < 0) {
			if (v->json)
				printf("\n");
			fprintf(stderr, "khang: stacks: %s\n", khang_error_last());
			return 2;
		}
		for (size_t g = 0; g < khang_unique_stacks_count(u); g++) {
			khang_stack *st = khang_unique_stacks_stack(u, g);
			size_t n = khang_unique_stacks_thread_count(u, g);
			if (v->json) {
				json_obj_open(&j);
				json_kv_u64(&j, "count", n);
				json_key(&j, "threads");
				json_arr_open(&j);
				for (size_t i = 0; i < n; i++)
					json_hex(&j, khang_thread_address(khang_unique_stacks_thread(u, g, i)));
				json_arr_close(&j);
				json_frames(&j, st);
				json_obj_close(&j);
			} else {
				printf("%zu thread%s:", n, n == 1 ? "" : "s");
				for (size_t i = 0; i < n; i++)
					printf(" %s", ptr(a, sizeof(a), v, khang_thread_address(khang_unique_stacks_thread(u, g, i))));
				printf("\n");
				for (size_t i = 0; i < khang_stack_frame_count(st); i++) {
					khang_frame_info fi = KHANG_FRAME_INFO_INIT;
					if (khang_stack_frame_info(&fi, st, i) < 0)
						break;
					printf("    %s %s%s\n", ptr(a, sizeof(a), v, fi.ip), fi.text,
					       fi.kind == KHANG_FRAME_SCAN ? " (scanned)" : "");
				}
				printf("    (%s)\n\n", khang_stack_end_reason(st));
			}
		}
		groups += khang_unique_stacks_count(u);
		shown += khang_unique_stacks_thread_total(u);
		walked += khang_unique_stacks_walked(u);
		skipped += khang_unique_stacks_skipped(u);
		total += khang_unique_stacks_walked(u);
		khang_unique_stacks_free(u);
	}
	if (v->json) {
		json_arr_close(&j);
		json_kv_u64(&j, "shown", shown);
		json_kv_u64(&j, "walked", walked);
		json_kv_u64(&j, "skipped", skipped);
		json_warnings(&j, v->src);
		json_end(&j);
	} else {
		printf("%zu stack(s) with %zu threads displayed (%zu Total threads)", groups, shown, total);
		if (skipped)
			printf("; %u thread(s) without a readable stack", skipped);
		printf("\n");
	}
	return 0;
}

static int each(sview *v, const khang_process **sel, size_t nsel)
{
	size_t shown = 0, walked = 0;
	uint32_t skipped = 0;
	json_out j;
	if (v->json) {
		json_begin(&j, stdout);
		json_kv_str(&j, "command", "stacks");
		json_kv_bool(&j, "unique", false);
		json_key(&j, "threads");
		json_arr_open(&j);
	}
	for (size_t s = 0; s < (nsel ? nsel : 1); s++) {
		khang_thread_iter *it;
		const khang_thread *t;
		int rc;
		if (khang_thread_iter_new(&it, v->src, nsel ? sel[s] : NULL) < 0) {
			if (v->json)
				printf("\n");
			fprintf(stderr, "khang: stacks: %s\n", khang_error_last());
			return 2;
		}
		while ((rc = khang_thread_next(&t, it)) == 0) {
			khang_stack *st;
			walked++;
			if (khang_stack_walk(&st, t, NULL) < 0) {
				skipped++;
				if (!v->json && !v->module && !v->symbol) {
					thread_head(v, t);
					printf("  (no stack: %s)\n\n", khang_error_last());
				}
				continue;
			}
			if (stack_matches(v, st)) {
				shown++;
				if (v->json) {
					json_obj_open(&j);
					json_thread_ids(&j, t);
					json_kv_str(&j, "start", start_name(khang_stack_start(st)));
					json_frames(&j, st);
					json_obj_close(&j);
				} else {
					thread_head(v, t);
					print_kn(v, st, "  ");
					printf("\n");
				}
			}
			khang_stack_free(st);
		}
		khang_thread_iter_free(it);
		if (rc != KHANG_ITEROVER) {
			if (v->json)
				printf("\n");
			fprintf(stderr, "khang: stacks: %s\n", khang_error_last());
			return 2;
		}
	}
	if (v->json) {
		json_arr_close(&j);
		json_kv_u64(&j, "shown", shown);
		json_kv_u64(&j, "walked", walked);
		json_kv_u64(&j, "skipped", skipped);
		json_warnings(&j, v->src);
		json_end(&j);
	} else {
		printf("%zu thread(s) displayed (%zu Total threads)", shown, walked);
		if (skipped)
			printf("; %u without a readable stack", skipped);
		printf("\n");
	}
	return 0;
}

int cmd_stacks(const cli_opts *o)
{
	sview v;
	const khang_process **sel = NULL;
	size_t nsel = 0;
	if (!sview_open(&v, o, true))
		return 2;
	int rc = cli_select_processes(v.src, v.pname, &sel, &nsel);
	if (rc == 0)
		rc = v.unique ? unique(&v, sel, nsel) : each(&v, sel, nsel);
	free((void *)sel);
	sview_close(&v);
	return rc;
}

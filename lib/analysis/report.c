/* The verdict as JSON (schema 1) and as a Graphviz DOT graph of the chain. */
#include <stdio.h>

#include "analysis.h"

static const char *status_name(khang_check_status s)
{
	switch (s) {
	case KHANG_CHECK_OK: return "ok";
	case KHANG_CHECK_FOUND: return "found";
	default: return "not-run";
	}
}

static const char *step_kind_name(khang_step_kind k)
{
	switch (k) {
	case KHANG_STEP_THREAD: return "thread";
	case KHANG_STEP_OBJECT: return "object";
	case KHANG_STEP_PROCESS: return "process";
	case KHANG_STEP_PROCESSOR: return "processor";
	default: return "note";
	}
}

static void thread_fields(kh_sb *sb, const khang_thread *t, const khang_process *p)
{
	if (t) {
		kh_sb_printf(sb, ",\"thread\":\"0x%llx\",\"tid\":%lld", (unsigned long long)khang_thread_address(t),
		             (long long)khang_thread_tid(t));
		if (!p)
			khang_thread_process(&p, t);
	}
	if (p) {
		kh_sb_printf(sb, ",\"pid\":%lld,\"process\":", (long long)khang_process_pid(p));
		kh_sb_json_str(sb, khang_process_name(p));
	}
}

KHANG_API const char *khang_verdict_json(khang_verdict *v)
{
	if (!v)
		return NULL;
	if (v->json)
		return v->json;
	kh_sb sb;
	kh_sb_init(&sb, &v->src->alloc);
	kh_sb_printf(&sb, "{\"schema\":1,\"category\":\"%s\",\"summary\":", khang_verdict_category_name(v->category));
	kh_sb_json_str(&sb, v->summary ? v->summary : "");
	kh_sb_printf(&sb, ",\"confidence\":%d,\"culprit\":{\"module\":", v->confidence);
	kh_sb_json_str(&sb, v->culprit_module);
	thread_fields(&sb, v->culprit_thread, v->culprit_process);
	kh_sb_puts(&sb, "},\"chain\":[");
	for (size_t i = 0; i < v->nsteps; i++) {
		const khang_verdict_step *st = &v->steps[i].pub;
		kh_sb_printf(&sb, "%s{\"kind\":\"%s\"", i ? "," : "", step_kind_name(st->kind));
		thread_fields(&sb, st->thread, st->process);
		if (st->object)
			kh_sb_printf(&sb, ",\"object\":\"0x%llx\"", (unsigned long long)st->object);
		if (st->wait_ms >= 0)
			kh_sb_printf(&sb, ",\"wait_ms\":%lld", (long long)st->wait_ms);
		kh_sb_puts(&sb, ",\"text\":");
		kh_sb_json_str(&sb, st->text);
		kh_sb_puts(&sb, "}");
	}
	kh_sb_puts(&sb, "],\"checks\":[");
	for (size_t i = 0; i < v->nchecks; i++) {
		kh_sb_printf(&sb, "%s{\"name\":\"%s\",\"status\":\"%s\",\"text\":", i ? "," : "", v->checks[i].name,
		             status_name(v->checks[i].status));
		kh_sb_json_str(&sb, v->checks[i].text);
		kh_sb_puts(&sb, "}");
	}
	kh_sb_puts(&sb, "],\"warnings\":[");
	for (size_t i = 0; i < v->nwarnings; i++) {
		if (i)
			kh_sb_puts(&sb, ",");
		kh_sb_json_str(&sb, v->warnings[i]);
	}
	kh_sb_printf(&sb, "],\"graph\":{\"edges\":%zu,\"truncated\":%s}}", v->nedges, v->edges_truncated ? "true" : "false");
	v->json = kh_sb_take(&sb);
	return v->json;
}

/* DOT identifiers and labels: keep to a safe character set */
static void dot_label(kh_sb *sb, const char *s)
{
	kh_sb_puts(sb, "\"");
	for (const char *c = s; *c; c++) {
		if (*c == '"' || *c == '\\')
			kh_sb_printf(sb, "\\%c", *c);
		else if ((unsigned char)*c >= 0x20 && (unsigned char)*c < 0x7F)
			kh_sb_printf(sb, "%c", *c);
	}
	kh_sb_puts(sb, "\"");
}

KHANG_API const char *khang_verdict_dot(khang_verdict *v)
{
	if (!v)
		return NULL;
	if (v->dot)
		return v->dot;
	kh_sb sb;
	kh_sb_init(&sb, &v->src->alloc);
	kh_sb_puts(&sb, "digraph khang {\n  rankdir=LR;\n  node [shape=box, fontname=\"monospace\"];\n  label=");
	dot_label(&sb, v->summary ? v->summary : "");
	kh_sb_puts(&sb, ";\n");
	for (size_t i = 0; i < v->nsteps; i++) {
		const khang_verdict_step *st = &v->steps[i].pub;
		kh_sb_printf(&sb, "  s%zu [label=", i);
		dot_label(&sb, st->text);
		if (st->thread && st->thread == v->culprit_thread)
			kh_sb_puts(&sb, ", color=red, penwidth=2");
		kh_sb_puts(&sb, "];\n");
		if (i)
			kh_sb_printf(&sb, "  s%zu -> s%zu;\n", i - 1, i);
	}
	kh_sb_puts(&sb, "}\n");
	v->dot = kh_sb_take(&sb);
	return v->dot;
}

/* The hang analysis (internal): the verdict object and its builder. */
#ifndef KH_ANALYSIS_H
#define KH_ANALYSIS_H

#include "kernel/kernel.h"
#include "khang/processor.h"
#include "khang/verdict.h"
#include "util/strbuf.h"

typedef struct kh_step {
	khang_verdict_step pub;
	char *text;
} kh_step;

typedef struct kh_check {
	const char *name;
	khang_check_status status;
	char *text;
} kh_check;

struct khang_verdict {
	khang_source *src;
	khang_verdict_category category;
	int confidence;
	char *summary;
	const khang_thread *culprit_thread;
	const khang_process *culprit_process;
	char culprit_module[64];
	kh_step *steps;
	size_t nsteps, steps_cap;
	kh_check *checks;
	size_t nchecks, checks_cap;
	char **warnings;
	size_t nwarnings, warnings_cap;
	khang_verdict_edge *edges;
	size_t nedges, edges_cap;
	bool edges_truncated;
	char *json;
	char *dot;
};

/* Builders; they record allocation failures as warnings where they can. */
void kh_v_step(khang_verdict *v, khang_step_kind kind, const khang_thread *t, const khang_process *p,
               uint64_t object, int64_t wait_ms, const char *fmt, ...) KH_PRINTF(7, 8);
void kh_v_check(khang_verdict *v, const char *name, khang_check_status status, const char *fmt, ...) KH_PRINTF(4, 5);
void kh_v_warn(khang_verdict *v, const char *fmt, ...) KH_PRINTF(2, 3);
void kh_v_summary(khang_verdict *v, const char *fmt, ...) KH_PRINTF(2, 3);
int kh_v_edge(khang_verdict *v, khang_edge_kind kind, khang_node_kind fk, uint64_t from, khang_node_kind tk,
              uint64_t to);

/* true for a kernel module that ships with Windows (case-insensitive
 * file name, "ntoskrnl.exe", "fltmgr.sys"); others count as third-party. */
bool kh_v_is_inbox(const char *name);

/* The key frames of a thread's stack and the third-party module it is
 * blocked in (module[0] = '\0' when none): frames from the innermost outward
 * up to and including the first third-party frame, as "sym <- sym ...". */
typedef struct kh_blocked_in {
	char module[64];
	char frames[768];
	bool walked;
} kh_blocked_in;

/* Walk t's stack for kh_blocked_in (walked false when it cannot be walked). */
void kh_v_find_blocked_in(khang_source *src, const khang_thread *t, kh_blocked_in *out);

/* The bugcheck rule (bugcheck.c): true when it decided the verdict (a crash,
 * or a hang-type bugcheck whose parameters name the culprit). */
bool kh_rule_bugcheck(khang_verdict *v, khang_source *src);

/* "app.exe 1234.5678" for a thread (buf of at least 64 bytes). */
const char *kh_v_thread_label(const khang_thread *t, char *buf, size_t len);

#endif /* KH_ANALYSIS_H */

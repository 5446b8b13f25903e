/*
 * khang_hang_verdict() on writer-made scenarios, each with its expected
 * verdict: a two-thread mutant deadlock, a mutant chain across three
 * threads, an ERESOURCE chain, an ALPC request taken by a server thread
 * blocked on a mutant, CPU starvation on two processors, an idle
 * healthy system, a crash bugcheck, and damaged variants that degrade with
 * warnings instead of failing. x64 Windows 10 and 7 and x86 PAE layouts.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "khang.h"
#include "fg_alpc.h"
#include "fg_scenario.h"
#include "../fuzz/json_check.h"

#define TICKS 100000u

typedef struct scen {
	fg_forge *f;
	fg_kernel *k;
	uint8_t *buf;
	size_t len;
	khang_source *src;
	khang_verdict *v;
} scen;

static const kh_layout *layout_for(int which)
{
	kh_layout_candidate c[4];
	switch (which) {
	case 0: return kh_layout_builtin_by_guid_string("5278AFF86C341677D7D7835C85B7B844", 1); /* 10 19041 */
	case 1:
		for (size_t i = 0; i < kh_layout_builtin_count(); i++) {
			kh_layout_info li;
			kh_layout_get_info(kh_layout_builtin_at(i), &li);
			if (li.source == KH_LAYOUT_BUILTIN_GUID && li.build == 7601)
				return kh_layout_builtin_at(i);
		}
		return NULL;
	default:
		return kh_layout_builtin_candidates(KHANG_ARCH_X86, 7601, 1, c, 4) ? c[0].layout : NULL;
	}
}

static void begin(scen *s, int which, unsigned ncpus)
{
	const kh_layout *l = layout_for(which);
	kh_layout_info li;
	assert_non_null(l);
	kh_layout_get_info(l, &li);
	memset(s, 0, sizeof(*s));
	s->f = fg_new(li.arch == KHANG_ARCH_X64 ? FG_X64 : (li.pae ? FG_X86_PAE : FG_X86), 32768);
	fg_kernel_opts o = { 0 };
	o.ncpus = ncpus;
	o.tick_count = TICKS;
	s->k = fg_kernel_new(s->f, l, &o);
	fg_header_of(s->f)->bugcheck_code = 0xE2;
}

static void analyse(scen *s)
{
	fg_write_opts wo = FG_WRITE_OPTS_INIT;
	wo.format = FG_FMT_BITMAP_KERNEL;
	wo.kernel_only = 1;
	assert_int_equal(fg_write_memory(s->f, &s->buf, &s->len, &wo), 0);
	assert_int_equal(khang_source_open_memory(&s->src, s->buf, s->len, NULL), 0);
	assert_int_equal(khang_hang_verdict(&s->v, s->src, NULL), 0);
	const char *json = khang_verdict_json(s->v);
	assert_non_null(json);
	assert_true(json_valid(json));
	assert_non_null(khang_verdict_dot(s->v));
	printf("  %s: %s\n", khang_verdict_category_name(khang_verdict_get_category(s->v)), khang_verdict_summary(s->v));
}

static void end(scen *s)
{
	khang_verdict_free(s->v);
	khang_source_free(s->src);
	free(s->buf);
	fg_kernel_free(s->k);
	fg_free(s->f);
}

static void expect_step_thread(scen *s, size_t i, uint64_t thread)
{
	khang_verdict_step st = KHANG_VERDICT_STEP_INIT;
	assert_int_equal(khang_verdict_step_at(&st, s->v, i), 0);
	assert_non_null(st.thread);
	assert_int_equal(khang_thread_address(st.thread), thread);
}

static void deadlock(int which)
{
	scen s;
	uint64_t t[2];
	begin(&s, which, 2);
	fg_scn_deadlock(s.k, TICKS, 1236, t);
	analyse(&s);
	assert_int_equal(khang_verdict_get_category(s.v), KHANG_VERDICT_DEADLOCK);
	assert_int_equal(khang_verdict_step_count(s.v), 2);
	assert_non_null(strstr(khang_verdict_summary(s.v), "app.exe"));
	uint64_t ct = khang_thread_address(khang_verdict_culprit_thread(s.v));
	assert_true(ct == t[0] || ct == t[1]);
	assert_string_equal(khang_process_name(khang_verdict_culprit_process(s.v)), "app.exe");
	assert_true(khang_verdict_edge_count(s.v) >= 4);
	assert_true(khang_verdict_confidence(s.v) >= 70);
	end(&s);
}

static void test_deadlock_w10(void **state) { (void)state; deadlock(0); }
static void test_deadlock_w7(void **state) { (void)state; deadlock(1); }
static void test_deadlock_x86(void **state) { (void)state; deadlock(2); }

/* A waits on B's mutant, B on C's; C waits on an event nobody owns */
static void mutant_chain(int which)
{
	scen s;
	uint64_t t[3];
	begin(&s, which, 2);
	fg_scn_mutant_chain(s.k, TICKS, 800, t);
	analyse(&s);
	assert_int_equal(khang_verdict_get_category(s.v), KHANG_VERDICT_LOCK_CHAIN);
	assert_int_equal(khang_thread_address(khang_verdict_culprit_thread(s.v)), t[2]);
	assert_int_equal(khang_verdict_step_count(s.v), 3);
	for (size_t i = 0; i < 3; i++)
		expect_step_thread(&s, i, t[i]);
	assert_non_null(strstr(khang_verdict_summary(s.v), "2 threads blocked behind"));
	end(&s);
}

static void test_mutant_chain_w10(void **state) { (void)state; mutant_chain(0); }
static void test_mutant_chain_x86(void **state) { (void)state; mutant_chain(2); }

/* an ERESOURCE owned exclusively by a running thread, two waiters */
static void test_eresource_chain(void **state)
{
	scen s;
	uint64_t t[3];
	(void)state;
	begin(&s, 0, 2);
	uint64_t r = fg_scn_eresource(s.k, TICKS, 900, 1, t);
	analyse(&s);
	assert_int_equal(khang_verdict_get_category(s.v), KHANG_VERDICT_LOCK_CHAIN);
	assert_int_equal(khang_thread_address(khang_verdict_culprit_thread(s.v)), t[0]);
	expect_step_thread(&s, 0, t[1]);
	khang_verdict_step st = KHANG_VERDICT_STEP_INIT;
	khang_verdict_step_at(&st, s.v, 0);
	assert_int_equal(st.object, r);
	assert_non_null(strstr(st.text, "ERESOURCE"));
	khang_verdict_step_at(&st, s.v, 1);
	assert_non_null(strstr(st.text, "is running on processor 1"));
	/* the locks check saw it */
	int found = 0;
	for (size_t i = 0; i < khang_verdict_check_count(s.v); i++) {
		khang_verdict_check c = KHANG_VERDICT_CHECK_INIT;
		khang_verdict_check_at(&c, s.v, i);
		if (!strcmp(c.name, "locks"))
			found = c.status == KHANG_CHECK_FOUND && strstr(c.text, "1 of 1 ERESOURCEs contended") != NULL;
	}
	assert_true(found);
	end(&s);
}

/* an ALPC request taken by a server thread that waits on a mutant held by
 * another thread: the chain goes client -> server thread -> mutant owner */
static void alpc_taken(int which)
{
	scen s;
	begin(&s, which, 2);
	uint64_t cli = fg_kernel_add_process(s.k, "client.exe", 2100, 600);
	uint64_t srv = fg_kernel_add_process(s.k, "server.exe", 2200, 600);
	uint64_t ct = fg_kernel_add_thread(s.k, cli, 2104);
	uint64_t st = fg_kernel_add_thread(s.k, srv, 2204);
	uint64_t owner = fg_kernel_add_thread(s.k, srv, 2208);
	uint64_t conn = fg_alpc_connection_port(s.f, s.k, srv, "ServerApiPort");
	uint64_t sport, cport;
	fg_alpc_connect(s.f, s.k, conn, srv, cli, &sport, &cport);
	uint64_t msg = fg_alpc_message(s.f, s.k, sport, KHANG_ALPC_QUEUE_MAIN, cport, ct, st);
	fg_alpc_wait_reply(s.f, s.k, ct, msg, 0x2a4, TICKS - 3 * FG_TICKS_PER_MINUTE);
	/* the server thread took it and waits on a mutant the owner holds; the
	 * owner waits on an event nobody owns */
	uint64_t m = fg_scn_mutant(s.k, owner);
	uint64_t ev = fg_kernel_add_object(s.k, "EventNotificationObject", 0);
	fg_scn_wait(s.k, st, &m, 1, TICKS, 2);
	fg_scn_wait(s.k, owner, &ev, 1, TICKS, 4);
	analyse(&s);
	assert_int_equal(khang_verdict_get_category(s.v), KHANG_VERDICT_ALPC_CHAIN);
	assert_int_equal(khang_verdict_step_count(s.v), 3);
	expect_step_thread(&s, 0, ct);
	expect_step_thread(&s, 1, st);
	expect_step_thread(&s, 2, owner);
	khang_verdict_step step = KHANG_VERDICT_STEP_INIT;
	khang_verdict_step_at(&step, s.v, 0);
	assert_non_null(strstr(step.text, "took the message"));
	assert_null(strstr(step.text, "no server thread"));
	khang_verdict_step_at(&step, s.v, 1);
	assert_int_equal(step.object, m);
	assert_non_null(strstr(step.text, "held by thread"));
	assert_int_equal(khang_thread_address(khang_verdict_culprit_thread(s.v)), owner);
	assert_string_equal(khang_process_name(khang_verdict_culprit_process(s.v)), "server.exe");
	const char *sum = khang_verdict_summary(s.v);
	assert_non_null(strstr(sum, "client.exe"));
	assert_non_null(strstr(sum, "server.exe"));
	end(&s);
}

static void test_alpc_taken_w10(void **state) { (void)state; alpc_taken(0); }
static void test_alpc_taken_x86(void **state) { (void)state; alpc_taken(2); }

/* two busy processors; ready threads waited for seconds */
/* The text of check `name`, its status in *status. */
static const char *check_text(scen *s, const char *name, khang_check_status *status)
{
	khang_verdict_check c = KHANG_VERDICT_CHECK_INIT;
	for (size_t i = 0; i < khang_verdict_check_count(s->v); i++) {
		khang_verdict_check_at(&c, s->v, i);
		if (!strcmp(c.name, name)) {
			*status = c.status;
			printf("  %s: %s\n", name, c.text);
			return c.text;
		}
	}
	fail_msg("no check %s", name);
	return NULL;
}

static void test_cpu_starvation(void **state)
{
	scen s;
	(void)state;
	begin(&s, 0, 2);
	fg_scn_starvation(s.k, TICKS, 3);
	/* processor 1 is inside a DPC routine of netfoo.sys */
	uint64_t kb = fg_kernel_base(s.k);
	fg_kernel_add_module(s.k, "netfoo.sys", kb + 0x5000000, 0x10000);
	assert_int_equal(fg_kernel_set(s.k, fg_kernel_prcb(s.k, 1), KH_F_KPRCB_DpcRoutineActive, 1), 0);
	assert_int_equal(fg_kernel_set(s.k, fg_kernel_prcb(s.k, 1), KH_F_KPRCB_CurrentDpcRoutine, kb + 0x5000120), 0);
	analyse(&s);
	assert_int_equal(khang_verdict_get_category(s.v), KHANG_VERDICT_CPU_STARVATION);
	khang_check_status cs;
	assert_string_equal(check_text(&s, "cpu", &cs), "2 of 2 processors busy; processor 1 is in the DPC routine "
	                                                "netfoo+0x120");
	khang_verdict_step p1 = KHANG_VERDICT_STEP_INIT;
	khang_verdict_step_at(&p1, s.v, 1);
	assert_non_null(strstr(p1.text, "processor 1 runs thread"));
	assert_non_null(strstr(p1.text, ", in the DPC routine netfoo+0x120"));
	assert_string_equal(khang_process_name(khang_verdict_culprit_process(s.v)), "miner.exe");
	assert_non_null(strstr(khang_verdict_summary(s.v), "2 of 2 processors busy"));
	/* processors first, then the longest-ready thread */
	khang_verdict_step st = KHANG_VERDICT_STEP_INIT;
	khang_verdict_step_at(&st, s.v, 2);
	assert_int_equal(st.wait_ms, 30000);
	end(&s);
}

static void test_idle_healthy(void **state)
{
	scen s;
	(void)state;
	begin(&s, 0, 4);
	uint64_t p = fg_kernel_add_process(s.k, "svchost.exe", 1044, 684);
	uint64_t ev = fg_kernel_add_object(s.k, "EventNotificationObject", 0);
	fg_scn_wait(s.k, fg_kernel_add_thread(s.k, p, 1048), &ev, 1, TICKS, 90); /* a long but ordinary wait */
	analyse(&s);
	assert_int_equal(khang_verdict_get_category(s.v), KHANG_VERDICT_NO_HANG);
	assert_true(khang_verdict_check_count(s.v) >= 6);
	khang_verdict_check c = KHANG_VERDICT_CHECK_INIT;
	int cpu_ok = 0;
	for (size_t i = 0; i < khang_verdict_check_count(s.v); i++) {
		khang_verdict_check_at(&c, s.v, i);
		if (!strcmp(c.name, "cpu"))
			cpu_ok = c.status == KHANG_CHECK_OK && !strcmp(c.text, "all 4 processors idle");
	}
	assert_true(cpu_ok);
	khang_check_status st;
	assert_non_null(strstr(check_text(&s, "storage", &st), "no thread's IRP is pending in a disk-stack driver"));
	assert_int_equal(st, KHANG_CHECK_OK);
	end(&s);
}

/* fg_scn_storage: one thread waiting 5 minutes on reads pending in disk.sys:
 * FOUND; with the wait 0 minutes: pending, but OK. */
static void storage(int which)
{
	scen s;
	khang_check_status st;
	begin(&s, which, 2);
	fg_scn_storage(s.k, TICKS, 5);
	analyse(&s);
	const char *t = check_text(&s, "storage", &st);
	assert_int_equal(st, KHANG_CHECK_FOUND);
	assert_string_equal(t, "3 IRPs pending in disk-stack drivers (disk.sys 2, STORPORT.SYS 1); 1 thread has waited "
	                       "30000 ms or more on them, the longest 5m:00.000 (sqlservr.exe 2000.2004)");
	/* nothing else explains the wait: the verdict blames the disk stack */
	assert_int_equal(khang_verdict_get_category(s.v), KHANG_VERDICT_BLOCKED_IN_DRIVER);
	assert_string_equal(khang_verdict_culprit_module(s.v), "disk.sys");
	assert_string_equal(khang_verdict_summary(s.v),
	                    "1 thread waited up to 5m:00.000 on I/O pending in the disk stack (disk.sys)");
	assert_int_equal(khang_thread_tid(khang_verdict_culprit_thread(s.v)), 2004);
	end(&s);

	begin(&s, which, 2);
	fg_scn_storage(s.k, TICKS, 0);
	analyse(&s);
	t = check_text(&s, "storage", &st);
	assert_int_equal(st, KHANG_CHECK_OK);
	assert_string_equal(t, "3 IRPs pending in disk-stack drivers (disk.sys 2, STORPORT.SYS 1), none waited on for "
	                       "30000 ms");
	assert_int_equal(khang_verdict_get_category(s.v), KHANG_VERDICT_NO_HANG);
	end(&s);
}

static void test_storage_w10(void **state) { (void)state; storage(0); }
static void test_storage_x86(void **state) { (void)state; storage(2); }

static void test_crash(void **state)
{
	scen s;
	(void)state;
	begin(&s, 0, 1);
	fg_kernel_add_module(s.k, "bad.sys", fg_kernel_base(s.k) + 0x5000000, 0x10000);
	fg_header *h = fg_header_of(s.f);
	h->bugcheck_code = 0xD1;
	h->bugcheck_params[0] = 0x10;
	h->bugcheck_params[1] = 2;
	h->bugcheck_params[2] = 0;
	h->bugcheck_params[3] = fg_kernel_base(s.k) + 0x5001234;
	analyse(&s);
	assert_int_equal(khang_verdict_get_category(s.v), KHANG_VERDICT_CRASH);
	assert_string_equal(khang_verdict_culprit_module(s.v), "bad.sys");
	assert_non_null(strstr(khang_verdict_summary(s.v), "DRIVER_IRQL_NOT_LESS_OR_EQUAL"));
	assert_non_null(strstr(khang_verdict_summary(s.v), "bad+0x1234"));
	end(&s);
}

/* the deadlock with the second mutant's page paged out: the chain breaks,
 * the verdict degrades with warnings and never fails */
static void test_damaged_chain(void **state)
{
	scen s;
	(void)state;
	begin(&s, 0, 2);
	uint64_t p = fg_kernel_add_process(s.k, "app.exe", 1234, 600);
	uint64_t a = fg_kernel_add_thread(s.k, p, 1240), b = fg_kernel_add_thread(s.k, p, 1244);
	uint64_t m1 = fg_scn_mutant(s.k, a);
	/* m2 on a page of its own, then unmapped */
	fg_kernel_alloc(s.k, 0x1000);
	uint64_t m2 = fg_scn_mutant(s.k, b);
	fg_scn_wait(s.k, a, &m2, 1, TICKS, 7);
	fg_scn_wait(s.k, b, &m1, 1, TICKS, 6);
	assert_int_equal(fg_map(s.f, fg_kernel_dtb(s.f), m2 & ~0xFFFull, 0x7000000, FG_PAGE_4K, FG_MAP_NOT_PRESENT), 0);
	analyse(&s);
	assert_int_not_equal(khang_verdict_get_category(s.v), KHANG_VERDICT_DEADLOCK);
	assert_true(khang_verdict_get_category(s.v) == KHANG_VERDICT_LOCK_CHAIN ||
	            khang_verdict_get_category(s.v) == KHANG_VERDICT_NO_HANG);
	end(&s);
}

/* a looping thread list: the verdict still comes, with a warning */
static void test_looping_threads(void **state)
{
	scen s;
	(void)state;
	begin(&s, 0, 2);
	uint64_t p = fg_kernel_add_process(s.k, "app.exe", 1234, 600);
	uint64_t a = fg_kernel_add_thread(s.k, p, 1240);
	fg_kernel_add_thread(s.k, p, 1244);
	/* a's ThreadListEntry.Flink points back at itself */
	uint64_t e = fg_kernel_addr(s.k, a, KH_F_ETHREAD_ThreadListEntry);
	fg_write_ptr(s.f, fg_kernel_dtb(s.f), e, e);
	analyse(&s);
	assert_true(khang_verdict_get_category(s.v) != KHANG_VERDICT_UNKNOWN);
	end(&s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_deadlock_w10),
		cmocka_unit_test(test_deadlock_w7),
		cmocka_unit_test(test_deadlock_x86),
		cmocka_unit_test(test_mutant_chain_w10),
		cmocka_unit_test(test_mutant_chain_x86),
		cmocka_unit_test(test_eresource_chain),
		cmocka_unit_test(test_alpc_taken_w10),
		cmocka_unit_test(test_alpc_taken_x86),
		cmocka_unit_test(test_cpu_starvation),
		cmocka_unit_test(test_idle_healthy),
		cmocka_unit_test(test_storage_w10),
		cmocka_unit_test(test_storage_x86),
		cmocka_unit_test(test_crash),
		cmocka_unit_test(test_damaged_chain),
		cmocka_unit_test(test_looping_threads),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

/*
 * fg_scenario: hang scenarios laid out on an fg_kernel, for the verdict's
 * tests, fuzz seeds, benchmarks and the sample dump. Tick counts assume the
 * kernel's KUSER_SHARED_DATA tick (fg_kernel_opts.tick_count) and 15.625 ms
 * ticks (3840 a minute).
 */
#ifndef FG_SCENARIO_H
#define FG_SCENARIO_H

#include "fg_kernel.h"

#define FG_TICKS_PER_MINUTE 3840u

/* A mutant owned by thread `owner`. */
uint64_t fg_scn_mutant(fg_kernel *k, uint64_t owner);
/* Thread t waits (WaitAny, reason Executive) on n objects since `minutes` ago. */
void fg_scn_wait(fg_kernel *k, uint64_t t, const uint64_t *objs, unsigned n, uint32_t now, unsigned minutes);

/* Two threads of app.exe (PID pid) each waiting on a mutant the other owns.
 * out[0], out[1]: the threads. */
void fg_scn_deadlock(fg_kernel *k, uint32_t now, uint32_t pid, uint64_t out[2]);
/* A waits on B's mutant, B on C's, C on an event: out = {A, B, C}. */
void fg_scn_mutant_chain(fg_kernel *k, uint32_t now, uint32_t pid, uint64_t out[3]);
/* An ERESOURCE owned exclusively by a thread running on processor cpu, with
 * two waiters. out = {owner, waiter1, waiter2}; returns the ERESOURCE. */
uint64_t fg_scn_eresource(fg_kernel *k, uint32_t now, uint32_t pid, unsigned cpu, uint64_t out[3]);
/* Every processor runs a thread of a busy process; nready threads of another
 * process have been ready for 10 s, 20 s, ... */
void fg_scn_starvation(fg_kernel *k, uint32_t now, unsigned nready);

#endif /* FG_SCENARIO_H */

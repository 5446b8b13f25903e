/*
 * fg_seed: the case of ../shared/docs/DESIGN.md (the seed notes): a Windows
 * 10 x64 VM that "hangs" at logoff. A svchost.exe thread (netprofm,
 * NetProfileManUserLogOff) has waited 1:25 for an ALPC reply from a port
 * owned by explorer.exe; no server thread has taken the message; explorer's
 * main (GUI) thread is in NtClose -> FLTMGR -> TmPreFlt -> TmXPFlt ->
 * KeWaitForSingleObject, blocked by the third-party filter driver; all four
 * processors are idle; memory is fine. Used by the bundled sample dump and
 * the end-to-end tests.
 */
#ifndef FG_SEED_H
#define FG_SEED_H

#include "fg_stack.h"

typedef struct fg_seed {
	fg_forge *f;
	uint64_t svchost, explorer;          /* EPROCESS */
	uint64_t client_thread;              /* the svchost thread waiting for the reply */
	uint64_t main_thread;                /* explorer's main thread, blocked in TmXPFlt */
	uint64_t tmxpflt_base;
	uint64_t message;                    /* the queued KALPC_MESSAGE */
} fg_seed;

/* Build the seed case on the built-in layout of Windows 10 2004 (ntkrnlmp
 * 5278AFF86C341677D7D7835C85B7B844-1). Returns 0, or -1 if the layout is
 * missing. Free with fg_free(seed->f). */
int fg_seed_new(fg_seed *seed);
/* The same case on the built-in layout of Windows 7 SP1 x86 PAE (build
 * 7601; no symbols: nt's functions are named by exports of the forged
 * image). Returns 0, or -1 if the layout is missing. */
int fg_seed_new_x86(fg_seed *seed);

#endif /* FG_SEED_H */

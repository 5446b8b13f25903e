/*
 * fg_scenario: hang scenarios laid out on an fg_kernel, for the verdict's
 * tests, fuzz seeds, benchmarks and the sample dump. Tick counts assume the
 * kernel's KUSER_SHARED_DATA tick (fg_kernel_opts.tick_count) and 15.625 ms
 * ticks (3840 a minute).
 */
#ifndef FG_SCENARIO_H
#define FG_SCENARIO_H

#include <stdbool.h>

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

/* A DPC watchdog violation on an x64 kernel with 2 or more processors:
 * processor 1 ran ndis!NdisDpc (ndis.sys at FG_SCN_NDIS) from nt's DPC
 * dispatcher in its idle loop; NdisDpc called netfoo!Spin (netfoo.sys at
 * FG_SCN_NETFOO), where the clock interrupt (nt!KiInterruptDispatchNoLock)
 * called nt!KeBugCheckEx. With in_dpc false, a system thread runs
 * netfoo!Spin instead (no DPC). routine_in_prcb: KPRCB.CurrentDpcRoutine
 * names NdisDpc. The header gets bugcheck 0x133 with params. Returns the
 * running thread (TID 0x44 of System); *routine gets NdisDpc's address. */
#define FG_SCN_NDIS 0xfffff80560000000ull
#define FG_SCN_NETFOO 0xfffff80561000000ull
uint64_t fg_scn_dpc_watchdog(fg_forge *f, fg_kernel *k, const uint64_t params[4], bool in_dpc, bool routine_in_prcb,
                             uint64_t *routine);

/* DRIVER_POWER_STATE_FAILURE (0x9F, parameter 1 = 3): a power IRP
 * (IRP_MN_SET_POWER, system S3 or device D3) sent to usbfoo.sys's device
 * (location 2 of 2, current) above pci.sys's physical device object
 * (location 1); the header names the PDO and the IRP (irp_present false:
 * parameter 4 is an address not in the dump). Returns the IRP. */
uint64_t fg_scn_power_irp(fg_forge *f, fg_kernel *k, bool irp_present, bool system_state);

/* DRIVER_POWER_STATE_FAILURE (0x9F, parameter 1 = 4) on x64: a power
 * transition timed out (300 s) waiting for the PnP lock, held by a System
 * thread (TID 0x88) waiting in nt!KeWaitForSingleObject, called from
 * pnpfoo!StartDevice (pnpfoo.sys at FG_SCN_PNPFOO) for `minutes` minutes.
 * The header names the thread in parameter 3. Returns the thread. */
#define FG_SCN_PNPFOO 0xfffff80562000000ull
uint64_t fg_scn_pnp_lock(fg_forge *f, fg_kernel *k, uint32_t now, unsigned minutes);

/* Reads pending in the disk stack: sqlservr.exe (PID 2000) threads 2004
 * (waiting `minutes` minutes, two IRPs in disk.sys) and 2008 (just now, one
 * IRP in STORPORT.SYS), and 2012 (9 minutes, one IRP in the file system
 * filter flt.sys, not storage). Every IRP's current location (1 of 2) names
 * the driver's device. */
void fg_scn_storage(fg_kernel *k, uint32_t now, unsigned minutes);

#endif /* FG_SCENARIO_H */

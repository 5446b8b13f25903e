/*
 * bench_bugcheck: what the hang-bugcheck culprits cost.
 *
 *  - DPC_WATCHDOG_VIOLATION (0x133) on a 64-processor x64 system whose
 *    processor 1 ran a DPC into a third-party driver (fg_scn_dpc_watchdog):
 *    open + verdict (finding the processor that bugchecked, its DPC routine
 *    and the stack walk) + JSON;
 *  - DRIVER_POWER_STATE_FAILURE (0x9F/3) with its power IRP
 *    (fg_scn_power_irp): open + verdict + JSON;
 *  - khang_irp_read() + khang_irp_location_read() of every location, in a
 *    loop (reads per second);
 *  - the worst case of the 0x133 rule: the large system of bench_system.h
 *    (64 processors, 40,000 threads) with a 0x133 bugcheck whose processor
 *    cannot be found (every processor's current stack is walked, then the
 *    whole graph analysis runs), against the same system without it.
 * Best of N runs each; the library's peak heap through its allocation hooks.
 *
 * usage: bench_bugcheck
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench_system.h"
#include "fg_scenario.h"

typedef struct dump {
	uint8_t *buf;
	size_t len;
} dump;

static int write_forge(fg_forge *f, dump *d)
{
	fg_write_opts wo = FG_WRITE_OPTS_INIT;
	wo.format = FG_FMT_BITMAP_KERNEL;
	wo.kernel_only = 1;
	return fg_write_memory(f, &d->buf, &d->len, &wo);
}

static int scenario(dump *d, int which, uint64_t *irp)
{
	const kh_layout *l = kh_layout_builtin_by_guid_string("5278AFF86C341677D7D7835C85B7B844", 1);
	fg_forge *f = fg_new(FG_X64, 16384);
	fg_kernel_opts o = { 0 };
	o.ncpus = 64;
	fg_kernel *k = f && l ? fg_kernel_new(f, l, &o) : NULL;
	if (!k)
		return -1;
	if (which == 0) {
		static const uint64_t p[4] = { 0, 0x501, 0x500, 0 };
		fg_scn_dpc_watchdog(f, k, p, true, true, NULL);
	} else {
		*irp = fg_scn_power_irp(f, k, true, true);
	}
	int rc = write_forge(f, d);
	fg_kernel_free(k);
	fg_free(f);
	return rc;
}

/* Best time of n runs of open + verdict + JSON; *peak the library's peak heap. */
static double verdict_time(const dump *d, int n, size_t *peak, char *summary, size_t len)
{
	double best = 1e9;
	for (int i = 0; i < n; i++) {
		bench_counter c;
		khang_allocator hooks;
		bench_counter_hooks(&c, &hooks);
		khang_source_opts so = KHANG_SOURCE_OPTS_INIT;
		so.allocator = &hooks;
		khang_source *src;
		khang_verdict *v;
		double t0 = bench_now();
		if (khang_source_open_memory(&src, d->buf, d->len, &so) < 0 || khang_hang_verdict(&v, src, NULL) < 0 ||
		    !khang_verdict_json(v)) {
			fprintf(stderr, "verdict: %s\n", khang_error_last());
			exit(1);
		}
		double t = bench_now() - t0;
		if (t < best)
			best = t;
		*peak = c.peak;
		snprintf(summary, len, "%s", khang_verdict_summary(v));
		khang_verdict_free(v);
		khang_source_free(src);
	}
	return best;
}

int main(void)
{
	dump dpc, power, big, big_plain;
	uint64_t irp = 0;
	size_t peak;
	char summary[512];
	if (scenario(&dpc, 0, NULL) != 0 || scenario(&power, 1, &irp) != 0) {
		fprintf(stderr, "cannot build the scenarios\n");
		return 1;
	}
	printf("bench_bugcheck: best of 20 (small systems) / 5 (large system) runs\n");
	double t = verdict_time(&dpc, 20, &peak, summary, sizeof(summary));
	printf("  0x133, 64 CPUs:            %8.3f ms, peak heap %6.1f KiB\n    -> %s\n", t * 1e3,
	       (double)peak / 1024, summary);
	t = verdict_time(&power, 20, &peak, summary, sizeof(summary));
	printf("  0x9F power IRP, 64 CPUs:   %8.3f ms, peak heap %6.1f KiB\n    -> %s\n", t * 1e3,
	       (double)peak / 1024, summary);

	/* IRP reads */
	khang_source *src;
	if (khang_source_open_memory(&src, power.buf, power.len, NULL) < 0)
		return 1;
	khang_irp r = KHANG_IRP_INIT;
	khang_irp_location loc = KHANG_IRP_LOCATION_INIT;
	const int n = 100000;
	double t0 = bench_now();
	for (int i = 0; i < n; i++) {
		if (khang_irp_read(&r, src, irp) < 0)
			return 1;
		for (int j = 1; j <= r.stack_count; j++)
			khang_irp_location_read(&loc, src, irp, (uint32_t)j);
	}
	t = bench_now() - t0;
	printf("  khang_irp_read + %d locations: %.2f us each (%.0f IRPs/s)\n", r.stack_count, t / n * 1e6, n / t);
	khang_source_free(src);

	/* the large system, with and without an unplaceable 0x133 */
	fg_forge *f = bench_system_new(1ull << 18);
	if (!f || write_forge(f, &big_plain) != 0)
		return 1;
	fg_header *h = fg_header_of(f);
	h->bugcheck_code = 0x133;
	h->bugcheck_params[0] = 0;
	h->bugcheck_params[1] = 0x501;
	h->bugcheck_params[2] = 0x500;
	if (write_forge(f, &big) != 0)
		return 1;
	fg_free(f);
	double plain = verdict_time(&big_plain, 5, &peak, summary, sizeof(summary));
	printf("  large system, no bugcheck: %8.1f ms, peak heap %6.1f MiB\n", plain * 1e3, (double)peak / (1 << 20));
	t = verdict_time(&big, 5, &peak, summary, sizeof(summary));
	printf("  large system, 0x133 whose processor is not found: %8.1f ms (%+.1f ms), peak heap %6.1f MiB\n",
	       t * 1e3, (t - plain) * 1e3, (double)peak / (1 << 20));
	free(dpc.buf);
	free(power.buf);
	free(big.buf);
	free(big_plain.buf);
	return 0;
}

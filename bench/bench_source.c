/*
 * bench_source: what opening a dump and reading through it costs.
 *
 * 1. Open time and resident memory of full (DumpType 1) and bitmap (DumpType
 *    5) dumps of a 1 GiB and a 64 GiB machine (sparse files written by the
 *    forge). Both must be independent of the dump size: the ratio 64 GiB /
 *    1 GiB is printed.
 * 2. One million random 8-byte virtual reads over a 1 GiB kernel region
 *    mapped with 4 KiB pages, with the default translation cache and with it
 *    disabled.
 *
 * usage: bench_source [WORKDIR]   (default: /tmp; needs ~10 MiB of real disk)
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "khang.h"
#include "forge.h"

#define GIB (1024ull * 1024 * 1024)
#define REGION_VA 0xffffc00000000000ull

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* Resident set size in KiB, from /proc/self/statm. */
static long rss_kib(void)
{
	long pages_total = 0, pages_res = 0;
	FILE *f = fopen("/proc/self/statm", "r");
	if (!f)
		return -1;
	if (fscanf(f, "%ld %ld", &pages_total, &pages_res) != 2)
		pages_res = -1;
	fclose(f);
	return pages_res < 0 ? -1 : pages_res * (sysconf(_SC_PAGESIZE) / 1024);
}

static int make_dump(const char *path, uint64_t ram_bytes, fg_format fmt)
{
	fg_forge *f = fg_new(FG_X64, ram_bytes / 4096);
	if (!f)
		return -1;
	/* a kernel region (1 GiB, or 256 MiB on the 1 GiB machine) mapped with
	 * 4 KiB pages to physical memory from 512 MiB, above the page tables the
	 * forge allocates from the bottom; the data pages are never stored (they
	 * read as zeros) */
	uint64_t len = ram_bytes > 2 * GIB ? GIB : GIB / 4;
	int rc = fg_map_linear(f, fg_kernel_dtb(f), REGION_VA, GIB / 2, len, FG_PAGE_4K, 0);
	fg_header_of(f)->processors = 64;
	fg_write_opts o = FG_WRITE_OPTS_INIT;
	o.format = fmt;
	if (rc == 0)
		rc = fg_write_file(f, path, &o);
	if (rc != 0)
		fprintf(stderr, "forge: %s\n", fg_error(f));
	fg_free(f);
	return rc;
}

typedef struct open_result {
	double open_us;
	double first_high_us;  /* open + one read of the highest RAM page */
	long rss_kib;
} open_result;

static int measure_open(const char *path, uint64_t ram_bytes, open_result *out)
{
	const int reps = 200;
	double best = 1e9, best_high = 1e9;
	long rss_delta = 0;
	for (int i = 0; i < reps; i++) {
		khang_source *src;
		long before = rss_kib();
		double t0 = now_s();
		int rc = khang_source_open(&src, path, NULL);
		double t1 = now_s();
		if (rc < 0) {
			fprintf(stderr, "open %s: %s\n", path, khang_error_last());
			return -1;
		}
		long after = rss_kib();
		if (t1 - t0 < best)
			best = t1 - t0;
		if (i == 0)
			rss_delta = after - before;
		khang_source_free(src);

		/* the lazily built bitmap rank is paid by the first read that needs it */
		uint64_t v;
		t0 = now_s();
		rc = khang_source_open(&src, path, NULL);
		if (rc == 0)
			rc = khang_read_physical(src, ram_bytes - 4096, &v, sizeof(v), NULL, NULL);
		t1 = now_s();
		khang_source_free(src);
		if (rc < 0) {
			fprintf(stderr, "read %s: %s\n", path, khang_error_last());
			return -1;
		}
		if (t1 - t0 < best_high)
			best_high = t1 - t0;
	}
	out->first_high_us = best_high * 1e6;
	out->open_us = best * 1e6;
	out->rss_kib = rss_delta;
	return 0;
}

static uint64_t xorshift(uint64_t *s)
{
	uint64_t x = *s;
	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	return *s = x;
}

static int measure_reads(const char *path, uint32_t tlb_entries, double *reads_per_s, double *hit_rate)
{
	khang_source *src;
	khang_source_opts o = KHANG_SOURCE_OPTS_INIT;
	o.tlb_entries = tlb_entries;
	if (khang_source_open(&src, path, &o) < 0) {
		fprintf(stderr, "open: %s\n", khang_error_last());
		return -1;
	}
	const int n = 1000000;
	uint64_t seed = 0x9E3779B97F4A7C15ull, sum = 0;
	/* a working set like an analysis: mostly nearby structures, some far */
	double t0 = now_s();
	for (int i = 0; i < n; i++) {
		uint64_t r = xorshift(&seed);
		uint64_t va = REGION_VA + ((r % (GIB / 8)) * 8);
		if ((r >> 60) < 12) /* 75%: within a 1 MiB hot area */
			va = REGION_VA + (r % (1 << 20)) / 8 * 8;
		uint64_t v = 0;
		if (khang_read_virtual(src, 0, va, &v, 8, NULL, NULL) < 0) {
			fprintf(stderr, "read 0x%" PRIx64 ": %s\n", va, khang_error_last());
			khang_source_free(src);
			return -1;
		}
		sum += v;
	}
	double t = now_s() - t0;
	khang_tlb_stats st;
	khang_source_tlb_stats(&st, src);
	*reads_per_s = n / t;
	*hit_rate = (st.hits + st.misses) ? (double)st.hits / (double)(st.hits + st.misses) : 0;
	khang_source_free(src);
	return sum == 0 ? 0 : -1; /* data pages are zero */
}

int main(int argc, char **argv)
{
	const char *dir = argc > 1 ? argv[1] : "/tmp";
	static const struct {
		const char *name;
		fg_format fmt;
	} fmts[] = { { "full", FG_FMT_FULL }, { "bitmap", FG_FMT_BITMAP_FULL } };
	char p1[512], p64[512];
	int bad = 0;

	printf("bench_source: open cost vs dump size (best of 200 opens; RSS delta of the first open)\n");
	printf("%-8s %13s %13s %7s %13s %13s %13s %13s\n", "format", "open 1GiB us", "open 64GiB us", "ratio",
	       "RSS 1GiB KiB", "RSS 64GiB KiB", "+hi read 1G", "+hi read 64G");
	for (size_t i = 0; i < sizeof(fmts) / sizeof(fmts[0]); i++) {
		open_result r1, r64;
		snprintf(p1, sizeof(p1), "%s/khang-bench-%s-1g.dmp", dir, fmts[i].name);
		snprintf(p64, sizeof(p64), "%s/khang-bench-%s-64g.dmp", dir, fmts[i].name);
		if (make_dump(p1, GIB, fmts[i].fmt) || make_dump(p64, 64 * GIB, fmts[i].fmt) ||
		    measure_open(p1, GIB, &r1) || measure_open(p64, 64 * GIB, &r64)) {
			bad = 1;
			continue;
		}
		printf("%-8s %13.1f %13.1f %7.2f %13ld %13ld %13.1f %13.1f\n", fmts[i].name, r1.open_us, r64.open_us,
		       r64.open_us / r1.open_us, r1.rss_kib, r64.rss_kib, r1.first_high_us, r64.first_high_us);
		if (i == 0) {
			double rps, hit;
			printf("\nbench_source: 1,000,000 random 8-byte virtual reads over a 1 GiB region (4 KiB pages;\n"
			       "75%% of them in a 1 MiB hot area), after one untimed warm-up pass\n");
			measure_reads(p64, 0, &rps, &hit); /* warm the OS page cache */
			if (measure_reads(p64, 0, &rps, &hit) == 0)
				printf("  translation cache on (256 entries):  %12.0f reads/s  (hit rate %.1f%%)\n", rps, 100 * hit);
			if (measure_reads(p64, 1, &rps, &hit) == 0)
				printf("  translation cache off:               %12.0f reads/s\n", rps);
			printf("\n");
		}
		if (!getenv("KEEP")) unlink(p1);
		if (!getenv("KEEP")) unlink(p64);
	}
	return bad;
}

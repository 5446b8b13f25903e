/*
 * bench_analyze: what `khang analyze` costs on a large system: 64
 * processors, 2,000 processes, 40,000 threads (bench_system.h), written as
 * sparse kernel bitmap dumps of a 1 GiB and a 64 GiB machine. For each: open
 * + kernel discovery + the full hang verdict (graph, locks, rules, checks)
 * + its JSON, and the library's peak heap. Both dumps are written first and
 * then measured alternately (5 rounds, best of each), so warm-up and machine
 * noise fall on both alike.
 * Targets (issue 7): under 2 s and 256 MiB; 1 GiB and 64 GiB within 10%.
 *
 * usage: bench_analyze [WORKDIR]   (default /tmp; the files are sparse)
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "bench_system.h"

#define GIB_PAGES (1ull << 18)

typedef struct result {
	double best_s;
	size_t peak_heap;
	khang_verdict_category category;
	size_t edges;
} result;

/* One measured run: open, verdict, JSON; keeps the best time in r. */
static int run(const char *path, result *r)
{
	bench_counter c;
	khang_allocator hooks;
	bench_counter_hooks(&c, &hooks);
	khang_source_opts so = KHANG_SOURCE_OPTS_INIT;
	so.allocator = &hooks;
	khang_source *src;
	khang_verdict *v;
	double t0 = bench_now();
	if (khang_source_open(&src, path, &so) < 0 || khang_hang_verdict(&v, src, NULL) < 0) {
		fprintf(stderr, "%s: %s\n", path, khang_error_last());
		return -1;
	}
	const char *json = khang_verdict_json(v);
	double t = bench_now() - t0;
	if (!json)
		return -1;
	if (t < r->best_s)
		r->best_s = t;
	r->peak_heap = c.peak;
	r->category = khang_verdict_get_category(v);
	r->edges = khang_verdict_edge_count(v);
	khang_verdict_free(v);
	khang_source_free(src);
	return 0;
}

int main(int argc, char **argv)
{
	const char *dir = argc > 1 ? argv[1] : "/tmp";
	static const uint64_t sizes[2] = { GIB_PAGES, 64 * GIB_PAGES };
	result res[2];
	char paths[2][512];
	printf("bench_analyze: %d CPUs, %d processes, %d threads; open + verdict + JSON, best of 5 alternated runs\n",
	       BENCH_NCPUS, BENCH_NPROCS, BENCH_NPROCS * BENCH_THREADS_PER_PROC);
	for (int i = 0; i < 2; i++) {
		snprintf(paths[i], sizeof(paths[i]), "%s/khang-bench-analyze-%dg.dmp", dir, i ? 64 : 1);
		fg_forge *f = bench_system_new(sizes[i]);
		fg_write_opts wo = FG_WRITE_OPTS_INIT;
		wo.format = FG_FMT_BITMAP_KERNEL;
		wo.kernel_only = 1;
		if (!f || fg_write_file(f, paths[i], &wo) != 0) {
			fprintf(stderr, "cannot write %s\n", paths[i]);
			return 1;
		}
		fg_free(f);
		res[i].best_s = 1e9;
	}
	for (int round = 0; round < 5; round++)
		for (int i = 0; i < 2; i++)
			if (run(paths[i], &res[i]) != 0)
				return 1;
	for (int i = 0; i < 2; i++) {
		unlink(paths[i]);
		printf("  %2d GiB dump: %8.1f ms, peak heap %6.1f MiB, %zu graph edges, verdict %s\n", i ? 64 : 1,
		       res[i].best_s * 1e3, (double)res[i].peak_heap / (1 << 20), res[i].edges,
		       khang_verdict_category_name(res[i].category));
	}
	double ratio = res[1].best_s / res[0].best_s;
	printf("  64 GiB / 1 GiB time ratio: %.2f\n", ratio);
	printf("  targets: < 2 s: %s; < 256 MiB: %s; within 10%%: %s\n",
	       res[0].best_s < 2 && res[1].best_s < 2 ? "yes" : "NO",
	       res[0].peak_heap < (256u << 20) && res[1].peak_heap < (256u << 20) ? "yes" : "NO",
	       ratio < 1.10 && ratio > 0.90 ? "yes" : "NO");
	printf("  process peak resident set: %.1f MiB (the forge included)\n", (double)bench_peak_rss_kib() / 1024);
	return 0;
}

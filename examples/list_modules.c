/*
 * list_modules: the loaded kernel modules of a dump (WinDbg's `lm`), the
 * drivers unloaded before it, and the module!symbol+offset names of addresses.
 *
 *   usage: list_modules MEMORY.DMP [ADDRESS...]
 *
 * Shows libkhang's iterator pattern (_iter_new / _next / _iter_free) and
 * symbolisation. Try an address inside a module, e.g. its base + 0x1000.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

#include <khang.h>

int main(int argc, char **argv)
{
	khang_source *src = NULL;
	khang_module_iter *it = NULL;
	const khang_module *m;
	int rc;

	if (argc < 2) {
		fprintf(stderr, "usage: %s MEMORY.DMP [ADDRESS...]\n", argv[0]);
		return 2;
	}
	if (khang_source_open(&src, argv[1], NULL) < 0) {
		fprintf(stderr, "%s: %s\n", argv[1], khang_error_last());
		return 1;
	}

	/* Walk nt!PsLoadedModuleList. Modules are borrowed from the source:
	 * valid until khang_source_free(), never freed one by one. */
	if (khang_module_iter_new(&it, src) < 0) {
		fprintf(stderr, "modules: %s\n", khang_error_last());
		khang_source_free(src);
		return 1;
	}
	printf("%-18s %-18s  %s\n", "start", "end", "module");
	/* _next returns 0 for each module, KHANG_ITEROVER at the end, or a
	 * negative error code. */
	while ((rc = khang_module_next(&m, it)) == 0) {
		uint64_t base = khang_module_base(m);
		printf("%018" PRIx64 " %018" PRIx64 "  %s\n", base,
		       base + khang_module_size(m), khang_module_name(m));
	}
	if (rc != KHANG_ITEROVER)
		fprintf(stderr, "modules: %s\n", khang_error_last());
	/* A damaged list entry is skipped, not fatal: the iterator counts them. */
	if (khang_module_iter_skipped(it))
		printf("(%u entries could not be read)\n", khang_module_iter_skipped(it));
	khang_module_iter_free(it);

	/* Drivers unloaded before the dump (WinDbg's "Unloaded modules"): a
	 * sized structure filled by index. A stale pointer into one of these
	 * ranges is a classic cause of crashes and hangs. */
	size_t nu = 0;
	if (khang_source_unloaded_driver_count(src, &nu) == 0 && nu) {
		printf("\nUnloaded modules:\n");
		for (size_t i = 0; i < nu; i++) {
			khang_unloaded_driver u = KHANG_UNLOADED_DRIVER_INIT;
			if (khang_source_unloaded_driver(&u, src, i) == 0)
				printf("%018" PRIx64 " %018" PRIx64 "  %s\n", u.start, u.end, u.name);
		}
	}

	/* Addresses as WinDbg names them: "nt!KeWaitForSingleObject+0x377",
	 * "TmXPFlt+0x1bce3", "<Unloaded_dam.sys>+0x40", or the bare address.
	 * The return value is the full length, as snprintf's. */
	for (int i = 2; i < argc; i++) {
		char name[256];
		uint64_t va = strtoull(argv[i], NULL, 0);
		khang_source_symbolize(name, sizeof(name), src, va);
		printf("0x%016" PRIx64 " = %s\n", va, name);
	}

	khang_source_free(src);
	return 0;
}

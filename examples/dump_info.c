/*
 * dump_info: open a kernel memory dump and print what it is.
 *
 *   usage: dump_info MEMORY.DMP
 *
 * The first libkhang program to read: it opens a dump, reads the header
 * (khang_source_get_info), finds the kernel (khang_source_kernel_info) and
 * prints the warnings gathered on the way. Every libkhang function returns 0
 * or a negative KHANG_E* code, and khang_error_last() says what went wrong.
 */
#include <inttypes.h>
#include <stdio.h>

#include <khang.h>

int main(int argc, char **argv)
{
	khang_source *src = NULL;

	if (argc != 2) {
		fprintf(stderr, "usage: %s MEMORY.DMP\n", argv[0]);
		return 2;
	}

	/* 1. Open the dump. NULL options means the defaults; the file is only
	 *    ever read, and no page is read until it is needed. */
	if (khang_source_open(&src, argv[1], NULL) < 0) {
		fprintf(stderr, "%s: %s\n", argv[1], khang_error_last());
		return 1;
	}

	/* 2. The header. Structures the library fills start with their size:
	 *    the _INIT macro sets it, so a program built against these headers
	 *    keeps working with a newer library. */
	khang_source_info info = KHANG_SOURCE_INFO_INIT;
	khang_source_get_info(&info, src);
	printf("file:       %s (%" PRIu64 " bytes)\n", argv[1], info.file_size);
	printf("dump type:  %s\n", khang_dump_type_name(info.dump_type));
	printf("system:     Windows build %u, %s, %u processors\n",
	       info.build, khang_arch_name(info.arch), info.processors);
	printf("bugcheck:   0x%08x\n", info.bugcheck_code);
	printf("pages:      %" PRIu64 " in the dump\n", info.pages_indexed);

	/* 3. The kernel: found on the first call that needs it. A dump without
	 *    a kernel address space (a triage dump, say) gives an error here
	 *    while its header stays readable. */
	khang_kernel_info kernel = KHANG_KERNEL_INFO_INIT;
	if (khang_source_kernel_info(&kernel, src) == 0) {
		printf("kernel:     base 0x%" PRIx64 ", %s %s\n", kernel.base,
		       kernel.pdb_name, kernel.pdb_id);
		/* The layout: where the fields of the kernel's structures lie.
		 * It is borrowed from the source (never freed by us). */
		printf("layout:     %s\n", kernel.layout ? khang_layout_description(kernel.layout)
		                                          : "none (limited mode)");
		printf("            %s\n", kernel.layout_note);
	} else {
		printf("kernel:     not available: %s\n", khang_error_last());
	}

	/* 4. Problems found in the dump do not stop the analysis: they are
	 *    counted as warnings on the source. */
	for (uint32_t i = 0; i < khang_source_warning_count(src); i++) {
		const char *w = khang_source_warning(src, i);
		if (w)
			printf("warning:    %s\n", w);
	}

	/* 5. Freeing the source frees everything borrowed from it. */
	khang_source_free(src);
	return 0;
}

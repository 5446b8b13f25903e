/*
 * read_memory: hex dump of kernel virtual memory from a dump.
 *
 *   usage: read_memory MEMORY.DMP ADDRESS [LENGTH]
 *
 * Shows address translation and reads, and how a page that is not in the
 * dump is reported: KHANG_ENOTPRESENT with the first missing address, after
 * the bytes that could be read. Kernel dumps hold only part of memory, so
 * this is a normal outcome, not a failure of the program.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

#include <khang.h>

int main(int argc, char **argv)
{
	khang_source *src = NULL;
	unsigned char buf[4096];
	size_t got = 0;
	uint64_t missing = 0, pa = 0;

	if (argc < 3) {
		fprintf(stderr, "usage: %s MEMORY.DMP ADDRESS [LENGTH]\n", argv[0]);
		return 2;
	}
	uint64_t va = strtoull(argv[2], NULL, 0);
	size_t len = argc > 3 ? (size_t)strtoull(argv[3], NULL, 0) : 64;
	if (len > sizeof(buf))
		len = sizeof(buf);

	if (khang_source_open(&src, argv[1], NULL) < 0) {
		fprintf(stderr, "%s: %s\n", argv[1], khang_error_last());
		return 1;
	}

	/* dtb 0 means the kernel's address space (the header's CR3). */
	if (khang_translate(&pa, src, 0, va) == 0)
		printf("0x%" PRIx64 " -> physical 0x%" PRIx64 "\n", va, pa);

	int rc = khang_read_virtual(src, 0, va, buf, len, &got, &missing);
	for (size_t off = 0; off < got; off += 16) {
		printf("%016" PRIx64 " ", va + off);
		for (size_t i = off; i < off + 16 && i < got; i++)
			printf(" %02x", buf[i]);
		printf("\n");
	}
	if (rc == KHANG_ENOTPRESENT)
		printf("(0x%" PRIx64 " is not in the dump: %s)\n", missing, khang_error_last());
	else if (rc < 0)
		fprintf(stderr, "read: %s (%s)\n", khang_error_last(), khang_strerror(rc));

	khang_source_free(src);
	return rc < 0 && rc != KHANG_ENOTPRESENT ? 1 : 0;
}

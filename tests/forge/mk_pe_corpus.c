/* Writes the seed corpus of fuzz_pe: small PE32/PE32+ images from fg_pe.
 * usage: mk_pe_corpus DIR */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fg_pe.h"

static int save(const char *dir, const char *name, const uint8_t *d, size_t n)
{
	char path[1024];
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	FILE *f = fopen(path, "wb");
	if (!f || fwrite(d, 1, n, f) != n) {
		fprintf(stderr, "cannot write %s\n", path);
		if (f)
			fclose(f);
		return 1;
	}
	return fclose(f) != 0;
}

int main(int argc, char **argv)
{
	static const uint8_t guid[16] = { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16 };
	int bad = 0;
	if (argc != 2) {
		fprintf(stderr, "usage: %s DIR\n", argv[0]);
		return 2;
	}
	for (int is64 = 0; is64 < 2; is64++) {
		fg_pe *b = fg_pe_new(is64, is64 ? 0xfffff80000000000ull : 0x80400000ull, 0x2000);
		if (!b)
			return 1;
		fg_pe_set_codeview(b, guid, 3, is64 ? "ntkrnlmp.pdb" : "ntkrpamp.pdb");
		fg_pe_add_export(b, "KeBugCheckEx", 0x1010);
		fg_pe_add_export(b, "KeWaitForSingleObject", 0x1400);
		fg_pe_add_export(b, "ExAcquireResourceExclusiveLite", 0x1800);
		if (is64) {
			static const uint8_t unwind[] = { 0x01, 0x04, 0x01, 0x00, 0x04, 0x42, 0, 0 };
			fg_pe_write(b, 0x2f00, unwind, sizeof(unwind));
			fg_pe_add_runtime_function(b, 0x1400, 0x1480, 0x2f00);
			fg_pe_add_runtime_function(b, 0x1010, 0x1080, 0x2f00);
		}
		uint8_t *img;
		size_t n;
		if (fg_pe_build(b, &img, &n) != 0)
			return 1;
		bad |= save(argv[1], is64 ? "pe64_small" : "pe32_small", img, n);
		/* headers only: the directories point past the end */
		bad |= save(argv[1], is64 ? "pe64_headers" : "pe32_headers", img, 0x1000);
		free(img);
		fg_pe_free(b);
	}
	return bad;
}

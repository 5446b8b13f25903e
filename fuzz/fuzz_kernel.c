/*
 * Fuzz kernel discovery: open a (mutated) dump, discover the kernel (KDBG,
 * image, layout choice and validation), list the modules, symbolise.
 * Invariants: results are consistent whatever the input.
 */
#include "fuzz_check.h"
#include <stdint.h>
#include <stddef.h>
#include <string.h>

#include "khang.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	khang_source *src;
	khang_source_opts o = KHANG_SOURCE_OPTS_INIT;
	khang_kernel_info ki = KHANG_KERNEL_INFO_INIT;

	o.max_list_entries = 512; /* keep each run short */
	if (khang_source_open_memory(&src, data, size, &o) != 0)
		return 0;
	int rc = khang_source_kernel_info(&ki, src);
	if (rc == 0) {
		FUZZ_CHECK(ki.check >= KHANG_CHECK_NONE && ki.check <= KHANG_CHECK_FAILED);
		FUZZ_CHECK((ki.layout == NULL) == (ki.check == KHANG_CHECK_NONE));
		FUZZ_CHECK(memchr(ki.layout_note, 0, sizeof(ki.layout_note)) != NULL);
		FUZZ_CHECK(memchr(ki.pdb_id, 0, sizeof(ki.pdb_id)) != NULL);
		khang_module_iter *it;
		const khang_module *m;
		if (khang_module_iter_new(&it, src) == 0) {
			unsigned n = 0;
			while (khang_module_next(&m, it) == 0) {
				FUZZ_CHECK(khang_module_name(m) != NULL);
				const khang_module *found;
				if (khang_module_size(m) && khang_source_module_at(&found, src, khang_module_base(m)) == 0)
					FUZZ_CHECK(khang_module_base(m) >= khang_module_base(found));
				n++;
			}
			FUZZ_CHECK(n <= 512);
			khang_module_iter_free(it);
		}
		size_t nu = 0;
		if (khang_source_unloaded_driver_count(src, &nu) == 0) {
			FUZZ_CHECK(nu <= 1024);
			for (size_t i = 0; i < nu; i++) {
				khang_unloaded_driver u = KHANG_UNLOADED_DRIVER_INIT;
				FUZZ_CHECK(khang_source_unloaded_driver(&u, src, i) == 0);
				FUZZ_CHECK(u.start < u.end && memchr(u.name, '\0', sizeof(u.name)) != NULL);
				char at[96];
				FUZZ_CHECK(khang_source_symbolize(at, sizeof(at), src, u.start) >= 0);
			}
		}
		char text[64];
		int len = khang_source_symbolize(text, sizeof(text), src, ki.base + 0x1010);
		FUZZ_CHECK(len >= 0);
		FUZZ_CHECK(strlen(text) < sizeof(text));
		(void)khang_source_ticks_to_ms(src, 12345);
	} else {
		FUZZ_CHECK(rc < 0);
	}
	khang_source_free(src);
	return 0;
}

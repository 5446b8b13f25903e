/* Fuzz the PE parser: headers, sections, CodeView record, exports, .pdata. */
#include "fuzz_check.h"
#include <stdint.h>
#include <stddef.h>

#include "pe/pe.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	kh_alloc a;
	kh_pe pe;
	kh_pe_codeview cv;
	kh_pe_runtime_function rf;
	uint32_t off, rva;

	kh_alloc_init(&a, NULL);
	if (kh_pe_open_buffer(&pe, &a, data, size) < 0) {
		kh_pe_close(&pe);
		return 0;
	}
	FUZZ_CHECK(pe.nsections <= KH_PE_MAX_SECTIONS);
	if (kh_pe_codeview_info(&pe, &cv) == 0)
		FUZZ_CHECK(cv.pdb_name[KH_PE_NAME_MAX - 1] == '\0');
	if (kh_pe_load_exports(&pe) == 0) {
		FUZZ_CHECK(pe.nexports <= KH_PE_MAX_EXPORTS);
		for (uint32_t i = 0; i < pe.nexports; i++)
			FUZZ_CHECK(pe.exports[i].name_off < pe.export_names_len);
		(void)kh_pe_export_lookup(&pe, 0x1234, &off);
		(void)kh_pe_export_find(&pe, "DriverEntry", &rva);
	}
	uint32_t n = kh_pe_runtime_function_count(&pe);
	for (uint32_t probe = 0; probe < 8; probe++) {
		uint32_t at = (uint32_t)(probe * 0x1000 + (size & 0xFFF));
		if (kh_pe_runtime_function_find(&pe, at, &rf) == 0)
			FUZZ_CHECK(rf.begin <= at && at < rf.end);
	}
	(void)n;
	kh_pe_close(&pe);
	return 0;
}

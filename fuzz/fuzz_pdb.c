/* Fuzz the PDB reader: MSF container, stream directory, PDB info and DBI
 * streams, section headers and public symbol records; then lookups. */
#include "fuzz_check.h"
#include <stdint.h>
#include <stddef.h>
#include <string.h>

#include "pdb/pdb.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	kh_alloc a;
	kh_pdb p;
	kh_alloc_init(&a, NULL);
	int rc = kh_pdb_parse(&p, &a, data, size);
	FUZZ_CHECK(rc == 0 || rc == KHANG_EFORMAT || rc == KHANG_ECORRUPT || rc == KHANG_EUNSUPPORTED ||
	           rc == KHANG_ELIMIT || rc == KHANG_ENOMEM);
	if (rc < 0) {
		FUZZ_CHECK(p.nsyms == 0 && p.syms == NULL && p.names == NULL);
		return 0;
	}
	FUZZ_CHECK(p.nsyms <= KH_PDB_MAX_SYMBOLS);
	for (size_t i = 0; i < p.nsyms; i++) {
		FUZZ_CHECK(p.syms[i].name < p.names_len);
		FUZZ_CHECK(memchr(p.names + p.syms[i].name, '\0', p.names_len - p.syms[i].name) != NULL);
		if (i)
			FUZZ_CHECK(p.syms[i - 1].rva <= p.syms[i].rva);
	}
	for (uint32_t probe = 0; probe < 8; probe++) {
		uint32_t off, rva = probe * 0x1234u + (uint32_t)(size & 0xFFF);
		const char *n = kh_pdb_lookup(&p, rva, &off);
		if (n)
			FUZZ_CHECK(off <= rva);
	}
	kh_pdb_free(&p, &a);
	return 0;
}

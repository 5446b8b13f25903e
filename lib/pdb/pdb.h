/*
 * PDB public symbols (internal): the MSF 7.00 container, the PDB info
 * stream (GUID and age, to match a module's CodeView record), the DBI
 * stream's section headers, and the S_PUB32 records of the symbol record
 * stream, as a table of (RVA, name) sorted by RVA. Nothing else of the PDB
 * (types, modules, line numbers) is read.
 *
 * The input is untrusted: every block number, stream size and record
 * length is checked against the file; the directory, the streams read and
 * the symbol count are bounded. PDBs with OMAP address maps (rewritten
 * binaries) are refused rather than named wrongly.
 */
#ifndef KH_PDB_H
#define KH_PDB_H

#include <stddef.h>
#include <stdint.h>

#include "util/util.h"

#define KH_PDB_MAX_FILE (512u << 20)      /* largest PDB file read */
#define KH_PDB_MAX_SYMBOLS (4u << 20)     /* public symbols kept */

typedef struct kh_pdb_symbol {
	uint32_t rva;
	uint32_t name;  /* offset into names */
} kh_pdb_symbol;

typedef struct kh_pdb {
	uint8_t guid[16];     /* as the PDB info stream stores it (the RSDS byte order) */
	uint32_t age;         /* the PDB info stream's age */
	uint32_t dbi_age;     /* the DBI stream's age (RSDS records carry one of the two) */
	kh_pdb_symbol *syms;  /* sorted by RVA, then the order the PDB lists them */
	size_t nsyms;
	char *names;          /* undecorated names, NUL-separated */
	size_t names_len;
} kh_pdb;

/* Parse a PDB held in memory. On failure *out is empty (safe to free).
 * KHANG_EFORMAT (not an MSF 7.00 file), KHANG_ECORRUPT (inconsistent),
 * KHANG_EUNSUPPORTED (OMAP), KHANG_ENOMEM. */
int kh_pdb_parse(kh_pdb *out, const kh_alloc *a, const uint8_t *data, size_t len);
void kh_pdb_free(kh_pdb *p, const kh_alloc *a);

/* The public symbol at or below rva (the nearest); its name, *off the
 * distance. NULL when none is at or below rva. */
const char *kh_pdb_lookup(const kh_pdb *p, uint32_t rva, uint32_t *off);

/* An MSVC-decorated name in the form WinDbg shows it: "?Name@Class@@..."
 * becomes "Class::Name"; other names are copied (truncated to len). */
void kh_pdb_undecorate(const char *in, char *out, size_t len);

#endif /* KH_PDB_H */

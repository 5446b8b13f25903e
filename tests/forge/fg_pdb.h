/*
 * fg_pdb: writes small PDB files (MSF 7.00) for the PDB reader's tests and
 * fuzz seeds: the superblock, two free-block maps, the stream directory and
 * its block map, and the streams the reader uses: 1 PDB info (version,
 * signature, age, GUID), 2 an empty TPI, 3 DBI (header, empty substreams,
 * optional debug header naming the section header stream), 4 section
 * headers, 5 the symbol records (S_PUB32, plus an S_GDATA32 the reader
 * skips), 6 an OMAP stream when asked. Independent of libkhang.
 */
#ifndef FG_PDB_H
#define FG_PDB_H

#include <stddef.h>
#include <stdint.h>

typedef struct fg_pdb_public {
	const char *name;       /* as stored: "Foo", "?Bar@Baz@@QEAAXXZ" */
	uint16_t segment;       /* 1-based section number */
	uint32_t offset;        /* in the section */
} fg_pdb_public;

typedef struct fg_pdb_opts {
	uint32_t block_size;    /* 512, 1024, 2048 or 4096 (0: 512) */
	uint8_t guid[16];
	uint32_t age;           /* PDB info stream */
	uint32_t dbi_age;       /* DBI stream */
	const uint32_t *section_vas;  /* VirtualAddress of each section */
	unsigned nsections;
	const fg_pdb_public *publics;
	unsigned npublics;
	int omap;               /* add an OMAP-from-source stream */
	int bad_record;         /* the last symbol record's length runs past the stream */
} fg_pdb_opts;

/* Build the file in a malloc'd buffer; 0 or -1. */
int fg_pdb_write(const fg_pdb_opts *o, uint8_t **out, size_t *len);

/* Byte offsets in the written file, for tests that damage it. */
#define FG_PDB_OFF_BLOCK_SIZE 32
#define FG_PDB_OFF_NUM_BLOCKS 40
#define FG_PDB_OFF_DIR_BYTES 44
#define FG_PDB_OFF_BLOCK_MAP 52

#endif /* FG_PDB_H */

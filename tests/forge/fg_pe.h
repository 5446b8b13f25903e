/*
 * fg_pe: builds small PE32/PE32+ images for tests and fuzz seeds: a CodeView
 * RSDS record, named exports, x64 RUNTIME_FUNCTION entries and arbitrary
 * bytes (code, unwind info) at RVAs.
 *
 * Layout: headers in [0, 0x1000); one ".text" section from 0x1000 holding
 * the caller's bytes; one ".rdata" section after it holding the directories.
 * File alignment equals section alignment (0x1000), so the image file is
 * byte-for-byte its mapped form: it can be written to a dump at its base VA
 * or saved as a .sys file.
 */
#ifndef FG_PE_H
#define FG_PE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct fg_pe fg_pe;

/* text_size: bytes of .text (rounded up to pages), from RVA 0x1000. */
fg_pe *fg_pe_new(bool is64, uint64_t image_base, uint32_t text_size);
void fg_pe_free(fg_pe *pe);
void fg_pe_set_timestamp(fg_pe *pe, uint32_t timestamp);
void fg_pe_set_codeview(fg_pe *pe, const uint8_t guid[16], uint32_t age, const char *pdb_name);
int fg_pe_add_export(fg_pe *pe, const char *name, uint32_t rva);
int fg_pe_add_runtime_function(fg_pe *pe, uint32_t begin, uint32_t end, uint32_t unwind_rva);
/* Write bytes into .text (rva in [0x1000, 0x1000 + text_size)). */
int fg_pe_write(fg_pe *pe, uint32_t rva, const void *data, size_t len);
/* Build the image; *out is malloc'd, *out_len is also SizeOfImage. */
int fg_pe_build(fg_pe *pe, uint8_t **out, size_t *out_len);

#endif /* FG_PE_H */

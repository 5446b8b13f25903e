/*
 * PE/COFF images (internal): headers, sections, data directories, the
 * CodeView RSDS record, exports and the x64 exception directory (.pdata).
 *
 * An image is read through a callback, so the same parser serves an image
 * mapped in a dump (read by RVA at base + rva, pages may be missing) and an
 * image file on disk (RVAs mapped to file offsets through the section table).
 * Everything read is bounded and validated; a missing page is reported as
 * KHANG_ENOTPRESENT for that item only.
 */
#ifndef KH_PE_H
#define KH_PE_H

#include "util/util.h"

#define KH_PE_MAX_SECTIONS 96
#define KH_PE_MAX_EXPORTS 65536
#define KH_PE_NAME_MAX 256

/* Read len bytes at image RVA rva; 0 or a negative KHANG_E* code. */
typedef int (*kh_pe_read_fn)(void *ctx, uint32_t rva, void *buf, size_t len);

typedef struct kh_pe_section {
	char name[9];
	uint32_t va;
	uint32_t vsize;
	uint32_t raw_ptr;
	uint32_t raw_size;
	uint32_t characteristics;
} kh_pe_section;

typedef struct kh_pe_dir {
	uint32_t rva;
	uint32_t size;
} kh_pe_dir;

enum {
	KH_PE_DIR_EXPORT = 0,
	KH_PE_DIR_EXCEPTION = 3,
	KH_PE_DIR_DEBUG = 6,
	KH_PE_NDIRS = 16
};

typedef struct kh_pe_export {
	uint32_t rva;
	uint32_t name_off;  /* offset into the names pool */
} kh_pe_export;

typedef struct kh_pe_codeview {
	uint8_t guid[16];     /* as stored (Data1..3 little-endian) */
	uint32_t age;
	char pdb_name[KH_PE_NAME_MAX];
} kh_pe_codeview;

typedef struct kh_pe {
	const kh_alloc *alloc;
	kh_pe_read_fn read;
	void *ctx;
	bool file_layout;      /* RVAs go through the section table */
	uint16_t machine;
	bool is64;
	uint64_t image_base;
	uint32_t size_of_image;
	uint32_t timestamp;
	uint32_t size_of_headers;
	uint16_t nsections;
	kh_pe_section sections[KH_PE_MAX_SECTIONS];
	kh_pe_dir dirs[KH_PE_NDIRS];
	/* exports, loaded on demand, sorted by RVA */
	bool exports_loaded;
	kh_pe_export *exports;
	uint32_t nexports;
	char *export_names;
	size_t export_names_len;
} kh_pe;

/* Parse the headers. On failure *pe is left safe to kh_pe_close(). */
int kh_pe_open(kh_pe *pe, const kh_alloc *alloc, kh_pe_read_fn read, void *ctx, bool file_layout);
void kh_pe_close(kh_pe *pe);

/* Parse an image file held in memory (file layout). The buffer must outlive pe. */
int kh_pe_open_buffer(kh_pe *pe, const kh_alloc *alloc, const uint8_t *data, size_t len);

/* Read at an RVA (through sections for file layout). */
int kh_pe_read(const kh_pe *pe, uint32_t rva, void *buf, size_t len);

/* The CodeView RSDS record from the debug directory. KHANG_ENOTFOUND if none. */
int kh_pe_codeview_info(const kh_pe *pe, kh_pe_codeview *out);

/* Load the export names (bounded). Idempotent. */
int kh_pe_load_exports(kh_pe *pe);
/* Nearest export at or below rva; returns its name and sets *out_off.
 * NULL when none (or exports could not be read). */
const char *kh_pe_export_lookup(kh_pe *pe, uint32_t rva, uint32_t *out_off);
/* RVA of an exported name; KHANG_ENOTFOUND if absent. */
int kh_pe_export_find(kh_pe *pe, const char *name, uint32_t *out_rva);

/* x64 RUNTIME_FUNCTION entries of the exception directory. */
typedef struct kh_pe_runtime_function {
	uint32_t begin;
	uint32_t end;
	uint32_t unwind;
} kh_pe_runtime_function;

/* Number of RUNTIME_FUNCTION entries (0 if none). */
uint32_t kh_pe_runtime_function_count(const kh_pe *pe);
/* Find the entry whose [begin, end) holds rva (binary search, reads entries
 * on demand). KHANG_ENOTFOUND when rva is in no function (a leaf). */
int kh_pe_runtime_function_find(const kh_pe *pe, uint32_t rva, kh_pe_runtime_function *out);

/* Format a GUID + age as WinDbg and symbol stores spell it:
 * 32 upper-case hex digits then the age in hex, e.g.
 * "5278AFF86C341677D7D7835C85B7B8441". buf must hold 41 bytes. */
void kh_pe_guid_string(const uint8_t guid[16], uint32_t age, char *buf, size_t len);

#endif /* KH_PE_H */

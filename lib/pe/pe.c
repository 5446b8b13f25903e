/* PE/COFF image parsing through a bounded read callback. */
#include <stdio.h>
#include <stdlib.h>

#include "pe.h"

#define MZ 0x5A4D
#define PE_SIG 0x00004550u
#define OPT_MAGIC_32 0x10B
#define OPT_MAGIC_64 0x20B
#define DEBUG_TYPE_CODEVIEW 2
#define RSDS 0x53445352u
#define MAX_DEBUG_ENTRIES 32

int kh_pe_read(const kh_pe *pe, uint32_t rva, void *buf, size_t len)
{
	if (!pe->file_layout)
		return pe->read(pe->ctx, rva, buf, len);
	/* headers live at the same offset in both layouts */
	if (rva < pe->size_of_headers) {
		if (len > pe->size_of_headers - rva)
			return kh_error(KHANG_ECORRUPT, "PE read at RVA 0x%x crosses the end of the headers", rva);
		return pe->read(pe->ctx, rva, buf, len);
	}
	for (uint16_t i = 0; i < pe->nsections; i++) {
		const kh_pe_section *s = &pe->sections[i];
		uint32_t span = KH_MAX(s->vsize, s->raw_size);
		if (rva < s->va || rva - s->va >= span)
			continue;
		uint32_t in = rva - s->va;
		if ((uint64_t)in + len > s->raw_size) {
			/* beyond the raw data the section is zero-filled */
			if (in >= s->raw_size && (uint64_t)in + len <= span) {
				memset(buf, 0, len);
				return 0;
			}
			return kh_error(KHANG_ECORRUPT, "PE read at RVA 0x%x (%zu bytes) crosses section %s's raw data",
			                rva, len, s->name);
		}
		return pe->read(pe->ctx, s->raw_ptr + in, buf, len);
	}
	return kh_error(KHANG_ENOTFOUND, "PE RVA 0x%x is in no section", rva);
}

int kh_pe_open(kh_pe *pe, const kh_alloc *alloc, kh_pe_read_fn read, void *ctx, bool file_layout)
{
	uint8_t b[0x108];
	int rc;

	memset(pe, 0, sizeof(*pe));
	pe->alloc = alloc;
	pe->read = read;
	pe->ctx = ctx;
	pe->file_layout = false; /* headers are read raw */

	rc = read(ctx, 0, b, 0x40);
	if (rc < 0)
		return kh_error_context(rc, "PE DOS header");
	if (kh_le16(b) != MZ)
		return kh_error(KHANG_EFORMAT, "not a PE image: no 'MZ' signature");
	uint32_t lfanew = kh_le32(b + 0x3C);
	if (lfanew < 0x40 || lfanew > 0x10000)
		return kh_error(KHANG_ECORRUPT, "PE: e_lfanew 0x%x out of range", lfanew);
	/* signature (4) + file header (20) + the optional header's fixed part */
	rc = read(ctx, lfanew, b, 0x18 + 0x70);
	if (rc < 0)
		return kh_error_context(rc, "PE NT headers at 0x%x", lfanew);
	if (kh_le32(b) != PE_SIG)
		return kh_error(KHANG_EFORMAT, "not a PE image: bad NT signature at 0x%x", lfanew);
	pe->machine = kh_le16(b + 4);
	uint16_t nsect = kh_le16(b + 6);
	pe->timestamp = kh_le32(b + 8);
	uint16_t opt_size = kh_le16(b + 20);
	const uint8_t *opt = b + 24;
	uint16_t magic = kh_le16(opt);
	if (magic != OPT_MAGIC_32 && magic != OPT_MAGIC_64)
		return kh_error(KHANG_ECORRUPT, "PE: unknown optional header magic 0x%x", magic);
	pe->is64 = magic == OPT_MAGIC_64;
	size_t dirs_at = pe->is64 ? 0x70 : 0x60;
	if (opt_size < dirs_at)
		return kh_error(KHANG_ECORRUPT, "PE: optional header of %u bytes is too short", opt_size);
	pe->image_base = pe->is64 ? kh_le64(opt + 0x18) : kh_le32(opt + 0x1C);
	pe->size_of_image = kh_le32(opt + 0x38);
	pe->size_of_headers = kh_le32(opt + 0x3C);
	uint32_t ndirs = kh_le32(opt + dirs_at - 4);
	if (ndirs > KH_PE_NDIRS)
		ndirs = KH_PE_NDIRS;
	if (dirs_at + 8ull * ndirs > opt_size)
		ndirs = (uint32_t)((opt_size - dirs_at) / 8);
	if (ndirs) {
		uint8_t d[KH_PE_NDIRS * 8];
		rc = read(ctx, lfanew + 24 + (uint32_t)dirs_at, d, 8 * ndirs);
		if (rc < 0)
			return kh_error_context(rc, "PE data directories");
		for (uint32_t i = 0; i < ndirs; i++) {
			pe->dirs[i].rva = kh_le32(d + 8 * i);
			pe->dirs[i].size = kh_le32(d + 8 * i + 4);
		}
	}
	if (nsect > KH_PE_MAX_SECTIONS)
		return kh_error(KHANG_ECORRUPT, "PE: %u sections (at most %u accepted)", nsect, KH_PE_MAX_SECTIONS);
	uint32_t sect_at = lfanew + 24 + opt_size;
	for (uint16_t i = 0; i < nsect; i++) {
		uint8_t s[40];
		rc = read(ctx, sect_at + 40u * i, s, sizeof(s));
		if (rc < 0)
			return kh_error_context(rc, "PE section header %u", i);
		kh_pe_section *sec = &pe->sections[i];
		for (int j = 0; j < 8; j++)
			sec->name[j] = (s[j] >= 0x20 && s[j] < 0x7F) ? (char)s[j] : (s[j] ? '?' : '\0');
		sec->name[8] = '\0';
		sec->vsize = kh_le32(s + 8);
		sec->va = kh_le32(s + 12);
		sec->raw_size = kh_le32(s + 16);
		sec->raw_ptr = kh_le32(s + 20);
		sec->characteristics = kh_le32(s + 36);
	}
	pe->nsections = nsect;
	if (pe->size_of_headers == 0 || pe->size_of_headers > 0x100000)
		pe->size_of_headers = KH_MIN(0x1000u, pe->size_of_image ? pe->size_of_image : 0x1000u);
	pe->file_layout = file_layout;
	return 0;
}

typedef struct buf_ctx {
	const uint8_t *data;
	size_t len;
} buf_ctx;

static int buf_read(void *ctx, uint32_t off, void *buf, size_t len)
{
	const buf_ctx *b = ctx;
	if (!kh_span_ok(b->len, off, len))
		return kh_error(KHANG_ECORRUPT, "PE file: read of %zu bytes at 0x%x is past the end (%zu)", len, off, b->len);
	memcpy(buf, b->data + off, len);
	return 0;
}

int kh_pe_open_buffer(kh_pe *pe, const kh_alloc *alloc, const uint8_t *data, size_t len)
{
	buf_ctx *ctx = kh_malloc(alloc, sizeof(*ctx));
	if (!ctx) {
		memset(pe, 0, sizeof(*pe));
		return KHANG_ENOMEM;
	}
	ctx->data = data;
	ctx->len = len;
	int rc = kh_pe_open(pe, alloc, buf_read, ctx, true);
	pe->alloc = alloc;
	if (rc < 0) {
		kh_free(alloc, ctx);
		pe->ctx = NULL;
		return rc;
	}
	/* remember we own ctx: mark with read == buf_read */
	return 0;
}

void kh_pe_close(kh_pe *pe)
{
	if (!pe->alloc)
		return;
	kh_free(pe->alloc, pe->exports);
	kh_free(pe->alloc, pe->export_names);
	if (pe->read == buf_read)
		kh_free(pe->alloc, pe->ctx);
	memset(pe, 0, sizeof(*pe));
}

int kh_pe_codeview_info(const kh_pe *pe, kh_pe_codeview *out)
{
	const kh_pe_dir *d = &pe->dirs[KH_PE_DIR_DEBUG];
	uint32_t n = d->size / 28;

	memset(out, 0, sizeof(*out));
	if (!d->rva || !n)
		return kh_error(KHANG_ENOTFOUND, "PE: no debug directory");
	if (n > MAX_DEBUG_ENTRIES)
		n = MAX_DEBUG_ENTRIES;
	for (uint32_t i = 0; i < n; i++) {
		uint8_t e[28];
		int rc = kh_pe_read(pe, d->rva + 28 * i, e, sizeof(e));
		if (rc < 0)
			return kh_error_context(rc, "PE debug directory entry %u", i);
		if (kh_le32(e + 12) != DEBUG_TYPE_CODEVIEW)
			continue;
		uint32_t size = kh_le32(e + 16);
		uint32_t rva = kh_le32(e + 20);
		if (size < 24 || size > 24 + KH_PE_NAME_MAX + 1024)
			return kh_error(KHANG_ECORRUPT, "PE: CodeView record of %u bytes", size);
		uint8_t cv[24 + KH_PE_NAME_MAX];
		size_t want = KH_MIN((size_t)size, sizeof(cv));
		rc = kh_pe_read(pe, rva, cv, want);
		if (rc < 0)
			return kh_error_context(rc, "PE CodeView record at RVA 0x%x", rva);
		if (kh_le32(cv) != RSDS)
			return kh_error(KHANG_EUNSUPPORTED, "PE: CodeView record is not 'RSDS'");
		memcpy(out->guid, cv + 4, 16);
		out->age = kh_le32(cv + 20);
		size_t nl = want - 24;
		size_t j;
		for (j = 0; j < nl && j < KH_PE_NAME_MAX - 1 && cv[24 + j]; j++)
			out->pdb_name[j] = (cv[24 + j] >= 0x20 && cv[24 + j] < 0x7F) ? (char)cv[24 + j] : '?';
		out->pdb_name[j] = '\0';
		return 0;
	}
	return kh_error(KHANG_ENOTFOUND, "PE: no CodeView debug entry");
}

void kh_pe_guid_string(const uint8_t g[16], uint32_t age, char *buf, size_t len)
{
	snprintf(buf, len, "%08X%04X%04X%02X%02X%02X%02X%02X%02X%02X%02X%X",
	         kh_le32(g), kh_le16(g + 4), kh_le16(g + 6), g[8], g[9], g[10], g[11], g[12], g[13], g[14], g[15],
	         age);
}

/* ---- exports ---------------------------------------------------------------- */

static int cmp_export(const void *a, const void *b)
{
	const kh_pe_export *x = a, *y = b;
	return x->rva < y->rva ? -1 : x->rva > y->rva;
}

int kh_pe_load_exports(kh_pe *pe)
{
	const kh_pe_dir *d = &pe->dirs[KH_PE_DIR_EXPORT];
	uint8_t h[40];
	int rc;

	if (pe->exports_loaded)
		return 0;
	pe->exports_loaded = true;
	if (!d->rva || d->size < 40)
		return 0;
	rc = kh_pe_read(pe, d->rva, h, sizeof(h));
	if (rc < 0)
		return kh_error_context(rc, "PE export directory");
	uint32_t nfuncs = kh_le32(h + 20), nnames = kh_le32(h + 24);
	uint32_t funcs = kh_le32(h + 28), names = kh_le32(h + 32), ords = kh_le32(h + 36);
	if (nnames > KH_PE_MAX_EXPORTS || nfuncs > KH_PE_MAX_EXPORTS)
		return kh_error(KHANG_ECORRUPT, "PE: %u exported names / %u functions (limit %u)", nnames, nfuncs,
		                KH_PE_MAX_EXPORTS);
	if (!nnames)
		return 0;
	pe->exports = kh_calloc(pe->alloc, nnames, sizeof(kh_pe_export));
	if (!pe->exports)
		return KHANG_ENOMEM;
	size_t cap = 4096, used = 0;
	pe->export_names = kh_malloc(pe->alloc, cap);
	if (!pe->export_names)
		return KHANG_ENOMEM;
	uint32_t kept = 0;
	for (uint32_t i = 0; i < nnames; i++) {
		uint8_t v[4], o[2];
		if (kh_pe_read(pe, names + 4 * i, v, 4) < 0 || kh_pe_read(pe, ords + 2 * i, o, 2) < 0)
			continue; /* a missing page drops the entry, not the table */
		uint16_t ord = kh_le16(o);
		if (ord >= nfuncs)
			continue;
		uint8_t f[4];
		if (kh_pe_read(pe, funcs + 4u * ord, f, 4) < 0)
			continue;
		uint32_t frva = kh_le32(f);
		/* a forwarder points into the export directory itself */
		if (frva >= d->rva && frva - d->rva < d->size)
			continue;
		char name[KH_PE_NAME_MAX];
		uint32_t nrva = kh_le32(v);
		size_t nl = 0;
		/* read the name in chunks that do not cross a page */
		while (nl < sizeof(name) - 1) {
			uint32_t at = nrva + (uint32_t)nl;
			size_t chunk = KH_MIN(sizeof(name) - 1 - nl, (size_t)(0x1000 - (at & 0xFFF)));
			if (kh_pe_read(pe, at, name + nl, chunk) < 0)
				break;
			size_t z = strnlen(name + nl, chunk);
			nl += z;
			if (z < chunk)
				break;
		}
		name[nl] = '\0';
		if (!nl)
			continue;
		if (used + nl + 1 > cap) {
			size_t ncap = KH_MAX(cap * 2, used + nl + 1);
			if (ncap > 16u << 20)
				break; /* 16 MiB of names is far beyond any real image */
			char *np = kh_realloc(pe->alloc, pe->export_names, ncap);
			if (!np)
				return KHANG_ENOMEM;
			pe->export_names = np;
			cap = ncap;
		}
		memcpy(pe->export_names + used, name, nl + 1);
		pe->exports[kept].rva = frva;
		pe->exports[kept].name_off = (uint32_t)used;
		kept++;
		used += nl + 1;
	}
	pe->nexports = kept;
	pe->export_names_len = used;
	qsort(pe->exports, kept, sizeof(kh_pe_export), cmp_export);
	return 0;
}

const char *kh_pe_export_lookup(kh_pe *pe, uint32_t rva, uint32_t *out_off)
{
	if (kh_pe_load_exports(pe) < 0 || !pe->nexports)
		return NULL;
	uint32_t lo = 0, hi = pe->nexports;
	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;
		if (pe->exports[mid].rva <= rva)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo == 0)
		return NULL;
	const kh_pe_export *e = &pe->exports[lo - 1];
	if (out_off)
		*out_off = rva - e->rva;
	return pe->export_names + e->name_off;
}

int kh_pe_export_find(kh_pe *pe, const char *name, uint32_t *out_rva)
{
	int rc = kh_pe_load_exports(pe);
	if (rc < 0)
		return rc;
	for (uint32_t i = 0; i < pe->nexports; i++) {
		if (strcmp(pe->export_names + pe->exports[i].name_off, name) == 0) {
			*out_rva = pe->exports[i].rva;
			return 0;
		}
	}
	return kh_error(KHANG_ENOTFOUND, "export '%s' not found", name);
}

/* ---- exception directory (x64) ------------------------------------------------ */

uint32_t kh_pe_runtime_function_count(const kh_pe *pe)
{
	const kh_pe_dir *d = &pe->dirs[KH_PE_DIR_EXCEPTION];
	if (!pe->is64 || !d->rva)
		return 0;
	return d->size / 12;
}

static int read_rf(const kh_pe *pe, uint32_t i, kh_pe_runtime_function *out)
{
	uint8_t e[12];
	int rc = kh_pe_read(pe, pe->dirs[KH_PE_DIR_EXCEPTION].rva + 12 * i, e, sizeof(e));
	if (rc < 0)
		return rc;
	out->begin = kh_le32(e);
	out->end = kh_le32(e + 4);
	out->unwind = kh_le32(e + 8);
	return 0;
}

int kh_pe_runtime_function_find(const kh_pe *pe, uint32_t rva, kh_pe_runtime_function *out)
{
	uint32_t lo = 0, hi = kh_pe_runtime_function_count(pe);
	/* entries are sorted by begin; at most ~32 reads */
	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;
		kh_pe_runtime_function f;
		int rc = read_rf(pe, mid, &f);
		if (rc < 0)
			return kh_error_context(rc, "RUNTIME_FUNCTION %u", mid);
		if (rva < f.begin)
			hi = mid;
		else if (rva >= f.end)
			lo = mid + 1;
		else {
			*out = f;
			return 0;
		}
	}
	return kh_error(KHANG_ENOTFOUND, "RVA 0x%x is in no RUNTIME_FUNCTION", rva);
}

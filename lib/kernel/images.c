/*
 * Module images for unwinding, and their PDBs for names. The image in the dump is authoritative but
 * its .pdata / unwind pages may be missing (paged out, or a triage dump); an
 * image search path supplies the same file: directories searched as symbol
 * stores (name/TIMESTAMPSIZE/name, the layout symbol servers use) and flat.
 * A file is used only if its PE timestamp and SizeOfImage equal the loaded
 * module's.
 */
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>

#include "kernel.h"
#include "pdb/pdb.h"

#define MAX_IMAGE_FILE (256u << 20)

typedef struct dump_ctx {
	khang_source *src;
	uint64_t base;
} dump_ctx;

static int dump_read(void *ctx, uint32_t rva, void *buf, size_t len)
{
	dump_ctx *c = ctx;
	return kh_vread(c->src, 0, c->base + rva, buf, len);
}

/* Read a whole file (bounded); NULL if absent or unreadable. */
static uint8_t *slurp(const kh_alloc *a, const char *path, size_t *len)
{
	struct stat st;
	if (stat(path, &st) != 0 || !S_ISREG(st.st_mode) || st.st_size <= 0 || (uint64_t)st.st_size > MAX_IMAGE_FILE)
		return NULL;
	FILE *f = fopen(path, "rb");
	if (!f)
		return NULL;
	uint8_t *d = kh_malloc(a, (size_t)st.st_size);
	if (d && fread(d, 1, (size_t)st.st_size, f) != (size_t)st.st_size) {
		kh_free(a, d);
		d = NULL;
	}
	fclose(f);
	*len = (size_t)st.st_size;
	return d;
}

/* Try one candidate file: parse it and check that it is this module. */
static bool try_file(khang_source *src, khang_module *m, const char *path, uint32_t ts)
{
	size_t len = 0;
	uint8_t *d = slurp(&src->alloc, path, &len);
	if (!d)
		return false;
	kh_pe pe;
	if (kh_pe_open_buffer(&pe, &src->alloc, d, len) < 0) {
		kh_pe_close(&pe);
		kh_free(&src->alloc, d);
		return false;
	}
	if ((ts && pe.timestamp != ts) || (m->size && pe.size_of_image != m->size)) {
		kh_source_warn(src, "image %s does not match module %s (timestamp 0x%x size 0x%x, want 0x%x 0x%x)", path,
		               m->name, pe.timestamp, pe.size_of_image, ts, m->size);
		kh_pe_close(&pe);
		kh_free(&src->alloc, d);
		return false;
	}
	m->uw = pe;
	m->uw_file = d;
	m->uw_from_file = true;
	m->uw_ok = true;
	return true;
}

/* Call try_dir(src, m, dir, ctx) for each directory of the image path
 * (':'-separated) until it returns true. */
typedef bool (*dir_fn)(khang_source *src, khang_module *m, const char *dir, const void *ctx);

static bool each_dir(khang_source *src, khang_module *m, dir_fn try_dir, const void *ctx)
{
	const char *p = src->image_path;
	while (p && *p) {
		const char *end = strchr(p, ':');
		size_t n = end ? (size_t)(end - p) : strlen(p);
		char dir[1024];
		if (n && n < sizeof(dir)) {
			memcpy(dir, p, n);
			dir[n] = '\0';
			if (try_dir(src, m, dir, ctx))
				return true;
		}
		if (!end)
			break;
		p = end + 1;
	}
	return false;
}

/* symbol store: name/TIMESTAMPSIZE/name, hex in both cases; then flat */
static bool image_in_dir(khang_source *src, khang_module *m, const char *dir, const void *ctx)
{
	uint32_t ts = *(const uint32_t *)ctx;
	char path[2048];
	if (ts && m->size) {
		snprintf(path, sizeof(path), "%s/%s/%08x%x/%s", dir, m->name, ts, m->size, m->name);
		if (try_file(src, m, path, ts))
			return true;
		snprintf(path, sizeof(path), "%s/%s/%08X%X/%s", dir, m->name, ts, m->size, m->name);
		if (try_file(src, m, path, ts))
			return true;
	}
	snprintf(path, sizeof(path), "%s/%s", dir, m->name);
	return try_file(src, m, path, ts);
}

static bool from_image_path(khang_source *src, khang_module *m, uint32_t ts)
{
	if (!src->image_path || !m->name[0] || strchr(m->name, '/'))
		return false;
	return each_dir(src, m, image_in_dir, &ts);
}

kh_pe *kh_module_unwind_image(khang_source *src, khang_module *m)
{
	if (m->uw_tried)
		return m->uw_ok ? &m->uw : NULL;
	m->uw_tried = true;

	/* the timestamp: the module entry's, else the in-dump PE header's */
	uint32_t ts = m->timestamp;
	dump_ctx *ctx = kh_malloc(&src->alloc, sizeof(*ctx));
	if (!ctx)
		return NULL;
	ctx->src = src;
	ctx->base = m->base;
	kh_pe dpe;
	bool dump_ok = kh_pe_open(&dpe, &src->alloc, dump_read, ctx, false) == 0;
	if (dump_ok && !ts)
		ts = dpe.timestamp;

	if (from_image_path(src, m, ts)) {
		if (dump_ok)
			kh_pe_close(&dpe);
		kh_free(&src->alloc, ctx);
		return &m->uw;
	}
	if (!dump_ok) {
		kh_free(&src->alloc, ctx);
		return NULL;
	}
	m->uw = dpe;
	m->uw_ctx = ctx;
	m->uw_ok = true;
	return &m->uw;
}

/* ---- PDBs ------------------------------------------------------------------------ */

static bool try_pdb(khang_source *src, khang_module *m, const char *path, const kh_pe_codeview *cv)
{
	size_t len = 0;
	uint8_t *d = slurp(&src->alloc, path, &len);
	if (!d)
		return false;
	kh_pdb *p = kh_calloc(&src->alloc, 1, sizeof(*p));
	bool ok = p && kh_pdb_parse(p, &src->alloc, d, len) == 0;
	kh_free(&src->alloc, d);
	if (ok && (memcmp(p->guid, cv->guid, 16) != 0 || (p->age != cv->age && p->dbi_age != cv->age))) {
		kh_source_warn(src, "%s: not the PDB of %s (GUID or age differ)", path, m->name);
		ok = false;
	} else if (!ok && p) {
		kh_source_warn(src, "%s: %s", path, khang_error_last());
	}
	if (!ok) {
		if (p)
			kh_pdb_free(p, &src->alloc);
		kh_free(&src->alloc, p);
		return false;
	}
	m->pdb = p;
	return true;
}

typedef struct pdb_want {
	const kh_pe_codeview *cv;
	const char *name;   /* the PDB's file name */
	char id[48];        /* GUID and age as symbol stores spell them */
} pdb_want;

/* symbol store: name.pdb/GUIDAGE/name.pdb; then flat */
static bool pdb_in_dir(khang_source *src, khang_module *m, const char *dir, const void *ctx)
{
	const pdb_want *w = ctx;
	char path[2048];
	snprintf(path, sizeof(path), "%s/%s/%s/%s", dir, w->name, w->id, w->name);
	if (try_pdb(src, m, path, w->cv))
		return true;
	snprintf(path, sizeof(path), "%s/%s", dir, w->name);
	return try_pdb(src, m, path, w->cv);
}

kh_pdb *kh_module_pdb(khang_source *src, khang_module *m)
{
	if (m->pdb_tried)
		return m->pdb;
	m->pdb_tried = true;
	kh_pe *pe = src->image_path ? kh_module_unwind_image(src, m) : NULL;
	kh_pe_codeview cv;
	if (!pe || kh_pe_codeview_info(pe, &cv) < 0)
		return NULL;
	/* the file name of the PDB path the linker wrote */
	const char *name = cv.pdb_name;
	for (const char *q = cv.pdb_name; *q; q++)
		if (*q == '\\' || *q == '/')
			name = q + 1;
	if (!name[0] || !strcmp(name, ".") || !strcmp(name, ".."))
		return NULL;
	pdb_want w = { &cv, name, "" };
	kh_pe_guid_string(cv.guid, cv.age, w.id, sizeof(w.id));
	return each_dir(src, m, pdb_in_dir, &w) ? m->pdb : NULL;
}

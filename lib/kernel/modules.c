/* Loaded kernel modules (PsLoadedModuleList), address lookup and symbolisation. */
#include <stdio.h>
#include <stdlib.h>

#include "kernel.h"
#include "pdb/pdb.h"
#include "dump/triage.h"

#define MAX_NAME_BYTES 1024  /* UNICODE_STRING bytes read at most */

struct khang_module_iter {
	khang_source *src;
	kh_kernel *k;
	size_t next;
};

/* UTF-16LE to UTF-8; unpaired surrogates become U+FFFD. */
static void utf16_to_utf8(const uint8_t *in, size_t units, char *out, size_t cap)
{
	size_t o = 0;
	for (size_t i = 0; i < units && o + 1 < cap; i++) {
		uint32_t c = kh_le16(in + 2 * i);
		if (c >= 0xD800 && c < 0xDC00 && i + 1 < units) {
			uint32_t d = kh_le16(in + 2 * (i + 1));
			if (d >= 0xDC00 && d < 0xE000) {
				c = 0x10000 + ((c - 0xD800) << 10) + (d - 0xDC00);
				i++;
			} else {
				c = 0xFFFD;
			}
		} else if (c >= 0xD800 && c < 0xE000) {
			c = 0xFFFD;
		}
		if (c == 0)
			break;
		char tmp[4];
		size_t n;
		if (c < 0x80) {
			tmp[0] = (char)c;
			n = 1;
		} else if (c < 0x800) {
			tmp[0] = (char)(0xC0 | (c >> 6));
			tmp[1] = (char)(0x80 | (c & 0x3F));
			n = 2;
		} else if (c < 0x10000) {
			tmp[0] = (char)(0xE0 | (c >> 12));
			tmp[1] = (char)(0x80 | ((c >> 6) & 0x3F));
			tmp[2] = (char)(0x80 | (c & 0x3F));
			n = 3;
		} else {
			tmp[0] = (char)(0xF0 | (c >> 18));
			tmp[1] = (char)(0x80 | ((c >> 12) & 0x3F));
			tmp[2] = (char)(0x80 | ((c >> 6) & 0x3F));
			tmp[3] = (char)(0x80 | (c & 0x3F));
			n = 4;
		}
		if (o + n >= cap)
			break;
		memcpy(out + o, tmp, n);
		o += n;
	}
	out[o] = '\0';
}

int kh_read_unicode_string(khang_source *src, uint64_t dtb, uint64_t va, char *out, size_t cap)
{
	uint8_t hdr[16];
	unsigned ps = kh_ptr_size(src);
	/* UNICODE_STRING: Length u16, MaximumLength u16, Buffer at 4 (x86) or 8 (x64) */
	int rc = kh_vread(src, dtb, va, hdr, ps == 8 ? 16 : 8);
	out[0] = '\0';
	if (rc < 0)
		return rc;
	uint16_t len = kh_le16(hdr);
	uint64_t buf = ps == 8 ? kh_le64(hdr + 8) : kh_le32(hdr + 4);
	if (len == 0 || !buf)
		return 0;
	if (len > MAX_NAME_BYTES)
		len = MAX_NAME_BYTES;
	len &= (uint16_t)~1u;
	uint8_t tmp[MAX_NAME_BYTES];
	rc = kh_vread(src, dtb, buf, tmp, len);
	if (rc < 0)
		return rc;
	utf16_to_utf8(tmp, len / 2, out, cap);
	return 0;
}

typedef struct load_ctx {
	khang_source *src;
	kh_kernel *k;
	size_t cap;
	uint32_t off_base, off_size, off_full, off_name, off_ts;
	bool has_ts;
} load_ctx;

static int append_module(khang_source *src, kh_kernel *k, size_t *cap, uint64_t base, uint32_t size, uint32_t ts,
                         const char *name, const char *path);

static int add_module(uint64_t entry, void *payload)
{
	load_ctx *c = payload;
	khang_source *src = c->src;
	kh_kernel *k = c->k;
	uint64_t base;
	uint32_t size, ts = 0;
	char name[256], path[520];

	if (kh_vread_ptr(src, 0, entry + c->off_base, &base) < 0 || kh_vread_u32(src, 0, entry + c->off_size, &size) < 0) {
		k->modules_skipped++;
		return 0;
	}
	if (kh_read_unicode_string(src, 0, entry + c->off_name, name, sizeof(name)) < 0)
		snprintf(name, sizeof(name), "module_%llx", (unsigned long long)base);
	if (kh_read_unicode_string(src, 0, entry + c->off_full, path, sizeof(path)) < 0)
		path[0] = '\0';
	if (c->has_ts && kh_vread_u32(src, 0, entry + c->off_ts, &ts) < 0)
		ts = 0;
	if (!name[0])
		snprintf(name, sizeof(name), "module_%llx", (unsigned long long)base);
	return append_module(src, k, &c->cap, base, size, ts, name, path);
}

static int append_module(khang_source *src, kh_kernel *k, size_t *cap, uint64_t base, uint32_t size, uint32_t ts,
                         const char *name, const char *path)
{
	size_t *ccap = cap;
	if (k->nmodules == *ccap) {
		size_t ncap = *ccap ? *ccap * 2 : 64;
		khang_module *n = kh_reallocarray(&src->alloc, k->modules, ncap, sizeof(*n));
		if (!n)
			return KHANG_ENOMEM;
		k->modules = n;
		*ccap = ncap;
	}
	khang_module *m = &k->modules[k->nmodules];
	memset(m, 0, sizeof(*m));
	m->base = base;
	m->size = size;
	m->timestamp = ts;
	m->name = kh_strdup(&src->alloc, name);
	m->path = kh_strdup(&src->alloc, path);
	if (!m->name || !m->path) {
		kh_free(&src->alloc, m->name);
		kh_free(&src->alloc, m->path);
		return KHANG_ENOMEM;
	}
	/* WinDbg's module name: the file name without extension; nt for the kernel */
	if (base == k->info.base && k->info.base)
		snprintf(m->short_name, sizeof(m->short_name), "nt");
	else {
		kh_copy_str(m->short_name, sizeof(m->short_name), name);
		char *dot = strrchr(m->short_name, '.');
		if (dot && dot != m->short_name)
			*dot = '\0';
	}
	k->nmodules++;
	return 0;
}

static int cmp_base(const void *a, const void *b, const khang_module *mods)
{
	uint64_t x = mods[*(const size_t *)a].base, y = mods[*(const size_t *)b].base;
	return x < y ? -1 : x > y;
}

/* insertion sort of indexes by base: n is the module count (hundreds) */
static void sort_by_base(kh_kernel *k)
{
	for (size_t i = 1; i < k->nmodules; i++) {
		size_t v = k->by_base[i], j = i;
		while (j > 0 && cmp_base(&k->by_base[j - 1], &v, k->modules) > 0) {
			k->by_base[j] = k->by_base[j - 1];
			j--;
		}
		k->by_base[j] = v;
	}
}

int kh_kernel_load_modules(khang_source *src, kh_kernel *k)
{
	if (k->modules_loaded)
		return 0;
	k->modules_loaded = true;
	load_ctx c = { src, k, 0, 0, 0, 0, 0, 0, false };
	const kh_layout *l = k->layout;
	bool x86 = k->x86;
	/* offsets are identical on every build; the layout confirms them when present */
	c.off_base = x86 ? 0x18 : 0x30;
	c.off_size = x86 ? 0x20 : 0x40;
	c.off_full = x86 ? 0x24 : 0x48;
	c.off_name = x86 ? 0x2c : 0x58;
	if (l && kh_layout_has(l, KH_F_KLDR_DATA_TABLE_ENTRY_DllBase)) {
		c.off_base = kh_layout_offset(l, KH_F_KLDR_DATA_TABLE_ENTRY_DllBase);
		c.off_size = kh_layout_offset(l, KH_F_KLDR_DATA_TABLE_ENTRY_SizeOfImage);
		c.off_full = kh_layout_offset(l, KH_F_KLDR_DATA_TABLE_ENTRY_FullDllName);
		c.off_name = kh_layout_offset(l, KH_F_KLDR_DATA_TABLE_ENTRY_BaseDllName);
		if (kh_layout_has(l, KH_F_KLDR_DATA_TABLE_ENTRY_TimeDateStamp)) {
			c.off_ts = kh_layout_offset(l, KH_F_KLDR_DATA_TABLE_ENTRY_TimeDateStamp);
			c.has_ts = true;
		}
	}
	uint32_t n = 0;
	bool broken = false;
	int rc;
	if (src->triage && src->triage->driver_count) {
		/* triage dumps carry their own driver list (names in a string pool) */
		for (uint32_t i = 0; i < src->triage->driver_count; i++) {
			char path[520];
			uint64_t base;
			uint32_t size, ts;
			if (kh_triage_driver(src, i, path, sizeof(path), &base, &size, &ts) < 0) {
				k->modules_skipped++;
				continue;
			}
			const char *slash = strrchr(path, '\\');
			const char *name = slash ? slash + 1 : path;
			rc = append_module(src, k, &c.cap, base, size, ts, name[0] ? name : "?", path);
			if (rc < 0)
				return rc;
			n++;
		}
	} else {
		if (!k->ps_loaded_module_list)
			return kh_error(KHANG_ENOTFOUND, "module list: PsLoadedModuleList is unknown");
		rc = kh_walk_list(src, k->ps_loaded_module_list, add_module, &c, &n, &broken);
		if (rc < 0)
			return rc;
	}
	if (broken) {
		k->modules_skipped++;
		kh_source_warn(src, "module list: walk stopped after %u entries (unreadable link, loop or limit)", n);
	}
	if (k->nmodules) {
		k->by_base = kh_calloc(&src->alloc, k->nmodules, sizeof(size_t));
		if (!k->by_base) {
			/* forget the list so a later call tries again */
			for (size_t i = 0; i < k->nmodules; i++)
				kh_module_release(src, &k->modules[i]);
			kh_free(&src->alloc, k->modules);
			k->modules = NULL;
			k->nmodules = 0;
			k->modules_loaded = false;
			return KHANG_ENOMEM;
		}
		for (size_t i = 0; i < k->nmodules; i++)
			k->by_base[i] = i;
		sort_by_base(k);
	}
	return 0;
}

static int modules_of(khang_source *src, kh_kernel **out)
{
	int rc = kh_kernel_get(src, out);
	if (rc < 0)
		return rc;
	return kh_kernel_load_modules(src, *out);
}

KHANG_API int khang_module_iter_new(khang_module_iter **out, khang_source *src)
{
	kh_kernel *k;
	if (!out || !kh_source_ok(src))
		return kh_error(KHANG_EINVAL, "khang_module_iter_new: NULL or invalid argument");
	*out = NULL;
	int rc = modules_of(src, &k);
	if (rc < 0)
		return rc;
	khang_module_iter *it = kh_calloc(&src->alloc, 1, sizeof(*it));
	if (!it)
		return KHANG_ENOMEM;
	it->src = src;
	it->k = k;
	*out = it;
	return 0;
}

KHANG_API int khang_module_next(const khang_module **out, khang_module_iter *it)
{
	if (!out || !it)
		return kh_error(KHANG_EINVAL, "khang_module_next: NULL argument");
	if (it->next >= it->k->nmodules)
		return KHANG_ITEROVER;
	*out = &it->k->modules[it->next++];
	return 0;
}

KHANG_API void khang_module_iter_free(khang_module_iter *it)
{
	if (it)
		kh_free(&it->src->alloc, it);
}

KHANG_API uint32_t khang_module_iter_skipped(const khang_module_iter *it)
{
	return it ? it->k->modules_skipped : 0;
}

KHANG_API const char *khang_module_name(const khang_module *m)
{
	return m ? m->name : "";
}

KHANG_API const char *khang_module_path(const khang_module *m)
{
	return m ? m->path : "";
}

KHANG_API uint64_t khang_module_base(const khang_module *m)
{
	return m ? m->base : 0;
}

KHANG_API uint32_t khang_module_size(const khang_module *m)
{
	return m ? m->size : 0;
}

KHANG_API uint32_t khang_module_timestamp(const khang_module *m)
{
	return m ? m->timestamp : 0;
}

void kh_module_release(khang_source *src, khang_module *m)
{
	kh_free(&src->alloc, m->name);
	kh_free(&src->alloc, m->path);
	if (m->pe_ok) {
		void *ctx = m->pe.ctx; /* the module's read context */
		kh_pe_close(&m->pe);
		kh_free(&src->alloc, ctx);
	}
	if (m->uw_ok) {
		kh_pe_close(&m->uw);
		kh_free(&src->alloc, m->uw_ctx);
	}
	kh_free(&src->alloc, m->uw_file);
	if (m->pdb) {
		kh_pdb_free(m->pdb, &src->alloc);
		kh_free(&src->alloc, m->pdb);
	}
}

static khang_module *module_at(kh_kernel *k, uint64_t va)
{
	size_t lo = 0, hi = k->nmodules;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (k->modules[k->by_base[mid]].base <= va)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo == 0)
		return NULL;
	khang_module *m = &k->modules[k->by_base[lo - 1]];
	return va - m->base < m->size ? m : NULL;
}

khang_module *kh_kernel_module_at(khang_source *src, uint64_t va)
{
	kh_kernel *k;
	if (modules_of(src, &k) < 0)
		return NULL;
	return module_at(k, va);
}

KHANG_API int khang_source_module_at(const khang_module **out, khang_source *src, uint64_t va)
{
	kh_kernel *k;
	if (!out || !kh_source_ok(src))
		return kh_error(KHANG_EINVAL, "khang_source_module_at: NULL or invalid argument");
	int rc = modules_of(src, &k);
	if (rc < 0)
		return rc;
	khang_module *m = module_at(k, va);
	if (!m)
		return kh_error(KHANG_ENOTFOUND, "no module holds 0x%llx", (unsigned long long)va);
	*out = m;
	return 0;
}

/* ---- unloaded drivers ---------------------------------------------------------- */

#define MI_UNLOADED_DRIVERS 50u     /* entries of nt!MmUnloadedDrivers */
#define MAX_IMAGE_SPAN (1ull << 30) /* larger "images" are not believed */

static int add_unloaded(khang_source *src, kh_kernel *k, size_t *cap, const char *name, uint64_t start,
                        uint64_t end, uint64_t when)
{
	if (k->nunloaded == *cap) {
		size_t ncap = *cap ? *cap * 2 : 16;
		khang_unloaded_driver *n = kh_reallocarray(&src->alloc, k->unloaded, ncap, sizeof(*n));
		if (!n)
			return KHANG_ENOMEM;
		k->unloaded = n;
		*cap = ncap;
	}
	khang_unloaded_driver *u = &k->unloaded[k->nunloaded++];
	memset(u, 0, sizeof(*u));
	u->size = sizeof(*u);
	snprintf(u->name, sizeof(u->name), "%s", name[0] ? name : "?");
	u->start = start;
	u->end = end;
	u->unload_time = when;
	return 0;
}

static bool plausible_range(uint64_t start, uint64_t end)
{
	return start && end > start && end - start <= MAX_IMAGE_SPAN;
}

static int load_unloaded(khang_source *src, kh_kernel *k)
{
	if (k->unloaded_loaded)
		return 0;
	size_t cap = 0;
	uint32_t bad = 0;
	int rc = 0;
	char name[64];
	if (src->triage) {
		uint32_t n = kh_triage_unloaded_count(src);
		for (uint32_t i = 0; i < n && rc == 0; i++) {
			uint64_t start, end;
			if (kh_triage_unloaded(src, i, name, sizeof(name), &start, &end) < 0 || !plausible_range(start, end))
				bad++;
			else
				rc = add_unloaded(src, k, &cap, name, start, end, 0);
		}
	} else {
		uint64_t pvar = kh_kernel_global(k, KH_G_MmUnloadedDrivers);
		uint64_t lvar = kh_kernel_global(k, KH_G_MmLastUnloadedDriver);
		uint64_t arr = 0;
		uint32_t last = 0;
		if (pvar && lvar && kh_vread_ptr(src, 0, pvar, &arr) == 0 && arr &&
		    kh_vread_u32(src, 0, lvar, &last) == 0) {
			/* MM_UNLOADED_DRIVER: UNICODE_STRING Name, StartAddress, EndAddress, CurrentTime */
			uint32_t ptr = k->x86 ? 4 : 8, us = k->x86 ? 8 : 16;
			uint32_t stride = us + 2 * ptr + 8;
			/* a ring: the newest entry is just before the next slot (MmLastUnloadedDriver) */
			for (uint32_t j = 0; j < MI_UNLOADED_DRIVERS && rc == 0; j++) {
				uint32_t slot = (last % MI_UNLOADED_DRIVERS + MI_UNLOADED_DRIVERS - 1 - j) % MI_UNLOADED_DRIVERS;
				uint64_t e = arr + (uint64_t)slot * stride;
				uint8_t b[48];
				if (kh_vread(src, 0, e, b, stride) < 0) {
					bad++;
					continue;
				}
				if (kh_le16(b) == 0)
					continue; /* never used */
				uint64_t start = ptr == 8 ? kh_le64(b + us) : kh_le32(b + us);
				uint64_t end = ptr == 8 ? kh_le64(b + us + 8) : kh_le32(b + us + 4);
				uint64_t when = kh_le64(b + us + 2 * ptr);
				if (!plausible_range(start, end) || kh_read_unicode_string(src, 0, e, name, sizeof(name)) < 0) {
					bad++;
					continue;
				}
				rc = add_unloaded(src, k, &cap, name, start, end, when);
			}
		}
	}
	if (rc < 0) {
		kh_free(&src->alloc, k->unloaded);
		k->unloaded = NULL;
		k->nunloaded = 0;
		return rc;
	}
	if (bad)
		kh_source_warn(src, "unloaded drivers: %u entries unreadable or implausible, skipped", bad);
	k->unloaded_loaded = true;
	return 0;
}

static int unloaded_of(khang_source *src, kh_kernel **out)
{
	int rc = kh_kernel_get(src, out);
	if (rc < 0)
		return rc;
	return load_unloaded(src, *out);
}

static void copy_unloaded(khang_unloaded_driver *out, const khang_unloaded_driver *u)
{
	size_t n = KH_MIN(out->size, sizeof(*u));
	khang_unloaded_driver tmp = *u;
	tmp.size = n;
	memcpy(out, &tmp, n);
}

#define UNLOADED_MIN_SIZE (offsetof(khang_unloaded_driver, end) + sizeof(uint64_t))

KHANG_API int khang_source_unloaded_driver_count(khang_source *src, size_t *count)
{
	kh_kernel *k;
	if (!count || !kh_source_ok(src))
		return kh_error(KHANG_EINVAL, "khang_source_unloaded_driver_count: NULL or invalid argument");
	*count = 0;
	int rc = unloaded_of(src, &k);
	if (rc < 0)
		return rc;
	*count = k->nunloaded;
	return 0;
}

KHANG_API int khang_source_unloaded_driver(khang_unloaded_driver *out, khang_source *src, size_t index)
{
	kh_kernel *k;
	if (!out || !kh_source_ok(src) || out->size < UNLOADED_MIN_SIZE)
		return kh_error(KHANG_EINVAL, "khang_source_unloaded_driver: NULL or invalid argument (set out->size)");
	int rc = unloaded_of(src, &k);
	if (rc < 0)
		return rc;
	if (index >= k->nunloaded)
		return kh_error(KHANG_ENOTFOUND, "unloaded driver %zu does not exist (%zu recorded)", index, k->nunloaded);
	copy_unloaded(out, &k->unloaded[index]);
	return 0;
}

KHANG_API int khang_source_unloaded_driver_at(khang_unloaded_driver *out, khang_source *src, uint64_t va)
{
	kh_kernel *k;
	if (!out || !kh_source_ok(src) || out->size < UNLOADED_MIN_SIZE)
		return kh_error(KHANG_EINVAL, "khang_source_unloaded_driver_at: NULL or invalid argument (set out->size)");
	int rc = unloaded_of(src, &k);
	if (rc < 0)
		return rc;
	/* newest first: an address reused by later loads names the last owner */
	for (size_t i = 0; i < k->nunloaded; i++) {
		if (va >= k->unloaded[i].start && va < k->unloaded[i].end) {
			copy_unloaded(out, &k->unloaded[i]);
			return 0;
		}
	}
	return kh_error(KHANG_ENOTFOUND, "no unloaded driver held 0x%llx", (unsigned long long)va);
}

typedef struct mod_read_ctx {
	khang_source *src;
	uint64_t base;
} mod_read_ctx;

static int mod_read(void *ctx, uint32_t rva, void *buf, size_t len)
{
	mod_read_ctx *c = ctx;
	return kh_vread(c->src, 0, c->base + rva, buf, len);
}

/* Export name for an address in a non-kernel module (image parsed once). */
static const char *module_export(khang_source *src, khang_module *m, uint64_t va, uint32_t *off)
{
	if (!m->pe_tried) {
		m->pe_tried = true;
		mod_read_ctx *ctx = kh_malloc(&src->alloc, sizeof(*ctx));
		if (!ctx)
			return NULL;
		ctx->src = src;
		ctx->base = m->base;
		if (kh_pe_open(&m->pe, &src->alloc, mod_read, ctx, false) == 0) {
			m->pe_ok = true;
			/* the PE keeps ctx; it is freed with the module list */
		} else {
			kh_free(&src->alloc, ctx);
		}
	}
	if (!m->pe_ok)
		return NULL;
	return kh_pe_export_lookup(&m->pe, (uint32_t)(va - m->base), off);
}

KHANG_API int khang_source_symbolize(char *buf, size_t len, khang_source *src, uint64_t va)
{
	kh_kernel *k;
	if ((!buf && len) || !kh_source_ok(src))
		return kh_error(KHANG_EINVAL, "khang_source_symbolize: NULL or invalid argument");
	if (modules_of(src, &k) < 0)
		return snprintf(buf, len, "0x%llx", (unsigned long long)va);
	khang_module *m = module_at(k, va);
	if (!m) {
		/* a driver that unloaded and left code pointers behind: as WinDbg says it */
		if (load_unloaded(src, k) == 0) {
			for (size_t i = 0; i < k->nunloaded; i++)
				if (va >= k->unloaded[i].start && va < k->unloaded[i].end)
					return snprintf(buf, len, "<Unloaded_%s>+0x%llx", k->unloaded[i].name,
					                (unsigned long long)(va - k->unloaded[i].start));
		}
		return snprintf(buf, len, "0x%llx", (unsigned long long)va);
	}
	uint64_t rva = va - m->base;
	if (m->base == k->info.base && k->layout) {
		kh_symbol sym;
		uint32_t off;
		if (kh_layout_symbol_at(k->layout, rva, &sym, &off) == 0)
			return off ? snprintf(buf, len, "%s!%s+0x%x", m->short_name, sym.name, off)
			           : snprintf(buf, len, "%s!%s", m->short_name, sym.name);
	}
	uint32_t eoff = 0;
	kh_pdb *pdb = kh_module_pdb(src, m);
	const char *e = pdb ? kh_pdb_lookup(pdb, (uint32_t)rva, &eoff) : NULL;
	if (e)
		return eoff ? snprintf(buf, len, "%s!%s+0x%x", m->short_name, e, eoff)
		            : snprintf(buf, len, "%s!%s", m->short_name, e);
	e = module_export(src, m, va, &eoff);
	if (e)
		return eoff ? snprintf(buf, len, "%s!%s+0x%x", m->short_name, e, eoff)
		            : snprintf(buf, len, "%s!%s", m->short_name, e);
	return snprintf(buf, len, "%s+0x%llx", m->short_name, (unsigned long long)rva);
}

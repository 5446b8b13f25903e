/* Layout accessors, symbol lookup, built-in indexes and the public API. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "layout_int.h"

static const kh_field absent_field = { 0, 0, KH_FK_ABSENT, 0, 0 };

/* ---- fields --------------------------------------------------------------- */

const kh_field *kh_layout_field(const kh_layout *l, kh_field_id id)
{
	if (l == NULL || (unsigned)id >= KH_FIELD_COUNT)
		return &absent_field;
	uint32_t s = kh_lay_field_spec[id].struct_id;
	return &l->field_base[l->field_starts[s] + ((uint32_t)id - kh_lay_struct_first[s])];
}

bool kh_layout_has(const kh_layout *l, kh_field_id id)
{
	return kh_field_present(kh_layout_field(l, id));
}

uint32_t kh_layout_offset(const kh_layout *l, kh_field_id id)
{
	const kh_field *f = kh_layout_field(l, id);
	return kh_field_present(f) ? f->offset : KH_LAYOUT_NO_OFFSET;
}

int kh_layout_require(const kh_layout *l, kh_field_id id, const kh_field **out)
{
	const kh_field *f = kh_layout_field(l, id);

	if (out)
		*out = f;
	if (!kh_field_present(f))
		return kh_error(KHANG_ENOTFOUND, "field %s is not in layout %s", kh_field_name(id),
		                l ? l->description : "(none)");
	return 0;
}

uint32_t kh_layout_struct_size(const kh_layout *l, kh_struct_id id)
{
	if (l == NULL || (unsigned)id >= KH_STRUCT_COUNT)
		return 0;
	return l->struct_sizes[id];
}

static int get_raw(const kh_layout *l, kh_field_id id, const void *buf, size_t len, uint64_t *out,
                   const kh_field **fout)
{
	const kh_field *f = kh_layout_field(l, id);
	uint64_t v;

	*out = 0;
	*fout = f;
	if (!kh_field_present(f))
		return KHANG_ENOTFOUND;
	if (f->kind != KH_FK_INT && f->kind != KH_FK_POINTER && f->kind != KH_FK_ENUM &&
	    f->kind != KH_FK_BITFIELD)
		return kh_error(KHANG_EINVAL, "field %s is not an integer", kh_field_name(id));
	if (buf == NULL || !kh_span_ok(len, f->offset, f->size))
		return kh_error(KHANG_ERANGE, "field %s (0x%x, %u bytes) lies beyond the %zu bytes read",
		                kh_field_name(id), f->offset, f->size, len);
	const uint8_t *p = (const uint8_t *)buf + f->offset;
	switch (f->size) {
	case 1: v = p[0]; break;
	case 2: v = kh_le16(p); break;
	case 4: v = kh_le32(p); break;
	case 8: v = kh_le64(p); break;
	default:
		return kh_error(KHANG_EINVAL, "field %s has %u bytes, not an integer size",
		                kh_field_name(id), f->size);
	}
	if (f->kind == KH_FK_BITFIELD) {
		v >>= f->bit_pos;
		if (f->bit_len < 64)
			v &= (UINT64_C(1) << f->bit_len) - 1;
	}
	*out = v;
	return 0;
}

int kh_layout_get_u64(const kh_layout *l, kh_field_id id, const void *buf, size_t len, uint64_t *out)
{
	const kh_field *f;
	uint64_t v;
	int rc = get_raw(l, id, buf, len, &v, &f);

	if (out)
		*out = v;
	return rc;
}

int kh_layout_get_i64(const kh_layout *l, kh_field_id id, const void *buf, size_t len, int64_t *out)
{
	const kh_field *f;
	uint64_t v;
	int rc = get_raw(l, id, buf, len, &v, &f);
	unsigned bits;

	if (rc == 0) {
		bits = f->kind == KH_FK_BITFIELD ? f->bit_len : f->size * 8u;
		if (bits < 64 && (v >> (bits - 1)) & 1u)
			v |= ~((UINT64_C(1) << bits) - 1);
	}
	if (out) {
		/* two's complement reinterpretation without implementation-defined conversion */
		if (v > (uint64_t)INT64_MAX)
			*out = -(int64_t)(~v) - 1;
		else
			*out = (int64_t)v;
	}
	return rc;
}

const char *kh_field_name(kh_field_id id)
{
	if ((unsigned)id >= KH_FIELD_COUNT)
		return "?";
	return kh_lay_pool + kh_lay_field_spec[id].name;
}

const char *kh_struct_name(kh_struct_id id)
{
	if ((unsigned)id >= KH_STRUCT_COUNT)
		return "?";
	return kh_lay_pool + kh_lay_struct_spec[id].name;
}

kh_struct_id kh_field_struct(kh_field_id id)
{
	if ((unsigned)id >= KH_FIELD_COUNT)
		return KH_STRUCT_COUNT;
	return (kh_struct_id)kh_lay_field_spec[id].struct_id;
}

/* ---- enums ---------------------------------------------------------------- */

const char *kh_layout_enum_name(const kh_layout *l, kh_enum_id e, int64_t value)
{
	if (l == NULL || (unsigned)e >= KH_ENUM_COUNT)
		return NULL;
	const kh_enum_ref *r = &l->enum_refs[e];
	const kh_enum_entry *ent = l->enum_entries + r->first;
	size_t lo = 0, hi = r->count;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (ent[mid].value < value)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo < r->count && ent[lo].value == value)
		return l->enum_pool + ent[lo].name;
	return NULL;
}

bool kh_layout_enum_value(const kh_layout *l, kh_enum_id e, const char *name, int64_t *out)
{
	if (l == NULL || name == NULL || (unsigned)e >= KH_ENUM_COUNT)
		return false;
	const kh_enum_ref *r = &l->enum_refs[e];
	for (uint32_t i = 0; i < r->count; i++) {
		const kh_enum_entry *ent = &l->enum_entries[r->first + i];
		if (strcmp(l->enum_pool + ent->name, name) == 0) {
			if (out)
				*out = ent->value;
			return true;
		}
	}
	return false;
}

const kh_layout *kh_layout_enum_donor(kh_enum_id e, uint32_t build)
{
	const kh_layout *best = NULL;
	uint32_t best_dist = UINT32_MAX;

	if ((unsigned)e >= KH_ENUM_COUNT)
		return NULL;
	for (size_t i = 0; i < KH_BUILTIN_LAYOUT_COUNT; i++) {
		const kh_layout *l = &kh_builtin_layouts[i];
		if (l->arch != KHANG_ARCH_X64 || l->source != KH_LAYOUT_BUILTIN_BUILD ||
		    l->enum_refs[e].count == 0 || (l->enum_borrowed & (1u << e)))
			continue;
		uint32_t d = l->build > build ? l->build - build : build - l->build;
		/* ties go to the lower build; the by-build list is sorted by build */
		if (best == NULL || d < best_dist) {
			best = l;
			best_dist = d;
		}
	}
	return best;
}

/* ---- names of functions and globals ------------------------------------- */

const char *kh_fn_name(kh_fn_id id)
{
	if ((unsigned)id >= KH_FN_COUNT)
		return NULL;
	return kh_lay_pool + kh_lay_function_names[id];
}

const char *kh_global_name(kh_global_id id)
{
	if ((unsigned)id >= KH_GLOBAL_COUNT)
		return NULL;
	return kh_lay_pool + kh_lay_global_names[id];
}

/* the name lists are sorted (the ids are assigned in name order) */
static int name_search(const uint32_t *names, size_t n, const char *name)
{
	size_t lo = 0, hi = n;

	if (name == NULL)
		return -1;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = strcmp(kh_lay_pool + names[mid], name);
		if (c == 0)
			return (int)mid;
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return -1;
}

int kh_fn_lookup(const char *name)
{
	return name_search(kh_lay_function_names, KH_FN_COUNT, name);
}

int kh_global_lookup(const char *name)
{
	return name_search(kh_lay_global_names, KH_GLOBAL_COUNT, name);
}

/* ---- symbols ---------------------------------------------------------------- */

uint32_t kh_layout_global_rva(const kh_layout *l, kh_global_id id)
{
	if (l == NULL || (unsigned)id >= KH_GLOBAL_COUNT || l->globals == NULL)
		return 0;
	return l->globals[id];
}

bool kh_layout_function(const kh_layout *l, kh_fn_id id, uint32_t *rva, uint32_t *size)
{
	if (l == NULL || (unsigned)id >= KH_FN_COUNT)
		return false;
	if (l->symtab != NULL) {
		uint32_t i = l->fn_index[id];
		if (i == UINT32_MAX)
			return false;
		/* fn_index points into the rva-sorted table */
		if (rva)
			*rva = l->symtab->rva[i];
		if (size)
			*size = l->symtab->size[i];
		return true;
	}
	for (uint32_t i = 0; i < l->fn_count; i++) {
		if ((l->fn_meta[i] >> KH_FN_SIZE_BITS) == (uint32_t)id) {
			if (rva)
				*rva = l->fn_rva[i];
			if (size)
				*size = l->fn_meta[i] & KH_FN_SIZE_MASK;
			return true;
		}
	}
	return false;
}

/* index of the last element <= key in a sorted array, or n when none */
static size_t last_le(const uint32_t *a, size_t n, uint32_t key)
{
	size_t lo = 0, hi = n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (a[mid] <= key)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo == 0 ? n : lo - 1;
}

int kh_layout_symbol_at(const kh_layout *l, uint64_t rva64, kh_symbol *out, uint32_t *offset)
{
	if (l == NULL || rva64 > UINT32_MAX)
		return KHANG_ENOTFOUND;
	uint32_t rva = (uint32_t)rva64;
	const uint32_t *arr;
	size_t n;

	if (l->symtab != NULL) {
		arr = l->symtab->rva;
		n = l->symtab->count;
	} else {
		arr = l->fn_rva;
		n = l->fn_count;
	}
	size_t i = last_le(arr, n, rva);
	if (i == n)
		return KHANG_ENOTFOUND;
	while (i > 0 && arr[i - 1] == arr[i])
		i--;
	kh_symbol s;
	if (l->symtab != NULL) {
		s.name = l->symtab->pool + l->symtab->name[i];
		s.rva = arr[i];
		s.size = l->symtab->size[i];
		s.fn = l->symtab->fn[i];
	} else {
		uint32_t fi = l->fn_meta[i] >> KH_FN_SIZE_BITS;
		s.name = kh_fn_name((kh_fn_id)fi);
		s.rva = arr[i];
		s.size = l->fn_meta[i] & KH_FN_SIZE_MASK;
		s.fn = (int32_t)fi;
	}
	uint32_t off = rva - s.rva;
	if (off != 0 && off >= s.size)
		return KHANG_ENOTFOUND;
	if (out)
		*out = s;
	if (offset)
		*offset = off;
	return 0;
}

int kh_layout_symbol_by_name(const kh_layout *l, const char *name, kh_symbol *out)
{
	if (l == NULL || name == NULL)
		return KHANG_ENOTFOUND;
	if (l->symtab != NULL) {
		const kh_symtab *t = l->symtab;
		size_t lo = 0, hi = t->all_count;
		while (lo < hi) {
			size_t mid = lo + (hi - lo) / 2;
			int c = strcmp(t->pool + t->all_name[mid], name);
			if (c == 0) {
				kh_symbol s = { t->pool + t->all_name[mid], t->all_rva[mid], 0, -1 };
				/* size and function id when it is a lookup symbol */
				size_t i = last_le(t->rva, t->count, s.rva);
				while (i != t->count && i > 0 && t->rva[i - 1] == s.rva)
					i--;
				for (; i < t->count && t->rva[i] == s.rva; i++) {
					if (strcmp(t->pool + t->name[i], name) == 0) {
						s.size = t->size[i];
						s.fn = t->fn[i];
						break;
					}
				}
				if (out)
					*out = s;
				return 0;
			}
			if (c < 0)
				lo = mid + 1;
			else
				hi = mid;
		}
		return KHANG_ENOTFOUND;
	}
	int fi = kh_fn_lookup(name);
	if (fi >= 0) {
		uint32_t rva, size;
		if (kh_layout_function(l, (kh_fn_id)fi, &rva, &size)) {
			if (out) {
				out->name = kh_fn_name((kh_fn_id)fi);
				out->rva = rva;
				out->size = size;
				out->fn = fi;
			}
			return 0;
		}
	}
	int gi = kh_global_lookup(name);
	if (gi >= 0) {
		uint32_t rva = kh_layout_global_rva(l, (kh_global_id)gi);
		if (rva != 0) {
			if (out) {
				out->name = kh_global_name((kh_global_id)gi);
				out->rva = rva;
				out->size = 0;
				out->fn = -1;
			}
			return 0;
		}
	}
	return KHANG_ENOTFOUND;
}

size_t kh_layout_symbol_count(const kh_layout *l)
{
	if (l == NULL)
		return 0;
	if (l->symtab != NULL)
		return l->symtab->all_count;
	size_t n = l->fn_count;
	if (l->globals) {
		for (size_t i = 0; i < KH_GLOBAL_COUNT; i++)
			n += l->globals[i] != 0;
	}
	return n;
}

/* ---- metadata --------------------------------------------------------------- */

bool kh_layout_valid(const kh_layout *l)
{
	return l != NULL && l->magic == KH_LAYOUT_MAGIC;
}

bool kh_layout_is_builtin(const kh_layout *l)
{
	return l != NULL && !(l->flags & KH_LAYOUT_F_OWNED);
}

void kh_layout_get_info(const kh_layout *l, kh_layout_info *out)
{
	memset(out, 0, sizeof(*out));
	if (!kh_layout_valid(l)) {
		out->description = "";
		out->origin = "";
		return;
	}
	out->arch = l->arch;
	out->source = (kh_layout_source)l->source;
	out->major = l->major;
	out->minor = l->minor;
	out->build = l->build;
	out->qfe = l->qfe;
	out->pae = (l->flags & KH_LAYOUT_F_PAE) != 0;
	out->partial = (l->flags & KH_LAYOUT_F_PARTIAL) != 0;
	out->has_guid = (l->flags & KH_LAYOUT_F_GUID) != 0;
	memcpy(out->guid, l->guid, 16);
	out->age = l->age;
	out->description = l->description;
	out->origin = l->origin;
}

void kh_guid_from_rsds(const uint8_t rsds[16], uint8_t out[16])
{
	/* Data1 (u32), Data2 (u16), Data3 (u16) are little-endian; Data4 is bytes */
	out[0] = rsds[3];
	out[1] = rsds[2];
	out[2] = rsds[1];
	out[3] = rsds[0];
	out[4] = rsds[5];
	out[5] = rsds[4];
	out[6] = rsds[7];
	out[7] = rsds[6];
	memcpy(out + 8, rsds + 8, 8);
}

void kh_guid_format(const uint8_t guid[16], char out[33])
{
	static const char hex[] = "0123456789ABCDEF";

	for (int i = 0; i < 16; i++) {
		out[2 * i] = hex[guid[i] >> 4];
		out[2 * i + 1] = hex[guid[i] & 15];
	}
	out[32] = '\0';
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

bool kh_guid_parse(const char *text, uint8_t out[16])
{
	if (text == NULL)
		return false;
	for (int i = 0; i < 16; i++) {
		int hi = hexval(text[2 * i]);
		int lo = hi < 0 ? -1 : hexval(text[2 * i + 1]);
		if (hi < 0 || lo < 0)
			return false;
		out[i] = (uint8_t)(hi << 4 | lo);
	}
	return text[32] == '\0';
}

/* ---- built-in layouts ------------------------------------------------------- */

size_t kh_layout_builtin_count(void)
{
	return KH_BUILTIN_LAYOUT_COUNT;
}

const kh_layout *kh_layout_builtin_at(size_t index)
{
	return index < KH_BUILTIN_LAYOUT_COUNT ? &kh_builtin_layouts[index] : NULL;
}

const kh_layout *kh_layout_builtin_by_guid_display(const uint8_t guid[16], uint32_t age)
{
	size_t lo = 0, hi = KH_BUILTIN_GUID_COUNT;

	if (guid == NULL)
		return NULL;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		const kh_layout *l = &kh_builtin_layouts[mid];
		int c = memcmp(l->guid, guid, 16);
		if (c == 0)
			c = l->age < age ? -1 : l->age > age ? 1 : 0;
		if (c == 0)
			return l;
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

const kh_layout *kh_layout_builtin_by_guid(const uint8_t rsds_guid[16], uint32_t age)
{
	uint8_t g[16];

	if (rsds_guid == NULL)
		return NULL;
	kh_guid_from_rsds(rsds_guid, g);
	return kh_layout_builtin_by_guid_display(g, age);
}

const kh_layout *kh_layout_builtin_by_guid_string(const char *guid32, uint32_t age)
{
	uint8_t g[16];

	if (!kh_guid_parse(guid32, g))
		return NULL;
	return kh_layout_builtin_by_guid_display(g, age);
}

typedef struct cand_list {
	kh_layout_candidate *out;
	size_t max;
	size_t n;
} cand_list;

static void cand_add(cand_list *c, const kh_layout *l, kh_layout_match m)
{
	for (size_t i = 0; i < c->n && i < c->max; i++) {
		if (c->out[i].layout == l)
			return;
	}
	if (c->n < c->max) {
		c->out[c->n].layout = l;
		c->out[c->n].match = m;
	}
	c->n++;
}

/* add the by-build layouts of (arch, build, pae or any when pae < 0);
 * returns how many full (non-partial) layouts were added */
static size_t add_build(cand_list *c, khang_arch arch, uint32_t build, int pae, kh_layout_match m)
{
	size_t full = 0;

	for (size_t i = 0; i < KH_BUILTIN_BUILD_COUNT; i++) {
		const kh_build_entry *e = &kh_builtin_builds[i];
		if (e->arch != arch || e->build != build)
			continue;
		if (pae >= 0 && arch == KHANG_ARCH_X86 && (int)e->pae != pae)
			continue;
		const kh_layout *l = &kh_builtin_layouts[e->layout];
		cand_add(c, l, m);
		if (!(l->flags & KH_LAYOUT_F_PARTIAL))
			full++;
	}
	return full;
}

size_t kh_layout_builtin_candidates(khang_arch arch, uint32_t build, int pae,
                                    kh_layout_candidate *out, size_t max)
{
	cand_list c = { out, out ? max : 0, 0 };
	size_t full = 0;

	if (arch != KHANG_ARCH_X86 && arch != KHANG_ARCH_X64)
		return 0;
	if (arch == KHANG_ARCH_X64)
		pae = -1;
	full += add_build(&c, arch, build, pae, KH_MATCH_EXACT_BUILD);
	for (size_t i = 0; i < KH_BUILTIN_ALIAS_COUNT; i++) {
		const kh_build_alias *a = &kh_builtin_aliases[i];
		if (a->arch == arch && a->build == build)
			full += add_build(&c, arch, a->kernel_build, pae, KH_MATCH_SAME_KERNEL);
	}
	if (arch == KHANG_ARCH_X86 && pae >= 0) {
		full += add_build(&c, arch, build, !pae, KH_MATCH_OTHER_PAE);
		for (size_t i = 0; i < KH_BUILTIN_ALIAS_COUNT; i++) {
			const kh_build_alias *a = &kh_builtin_aliases[i];
			if (a->arch == arch && a->build == build)
				full += add_build(&c, arch, a->kernel_build, !pae, KH_MATCH_OTHER_PAE);
		}
	}
	if (full == 0) {
		/* nearest known builds with a full table, below then above */
		uint32_t below = 0, above = UINT32_MAX;
		for (size_t i = 0; i < KH_BUILTIN_BUILD_COUNT; i++) {
			const kh_build_entry *e = &kh_builtin_builds[i];
			const kh_layout *l = &kh_builtin_layouts[e->layout];
			if (e->arch != arch || (l->flags & KH_LAYOUT_F_PARTIAL))
				continue;
			if (e->build < build && e->build > below)
				below = e->build;
			if (e->build > build && e->build < above)
				above = e->build;
		}
		if (below != 0) {
			if (add_build(&c, arch, below, pae, KH_MATCH_NEAREST) == 0 && pae >= 0)
				add_build(&c, arch, below, -1, KH_MATCH_NEAREST);
		}
		if (above != UINT32_MAX) {
			if (add_build(&c, arch, above, pae, KH_MATCH_NEAREST) == 0 && pae >= 0)
				add_build(&c, arch, above, -1, KH_MATCH_NEAREST);
		}
	}
	return c.n;
}

/* ---- public API ------------------------------------------------------------- */

KHANG_API int khang_layout_load_isf(khang_layout **out, const char *path)
{
	if (out)
		*out = NULL;
	if (out == NULL || path == NULL)
		return kh_error(KHANG_EINVAL, "khang_layout_load_isf: NULL argument");
	return kh_layout_load_isf_file(out, NULL, path, NULL);
}

KHANG_API int khang_layout_load_isf_memory(khang_layout **out, const void *data, size_t len)
{
	if (out)
		*out = NULL;
	if (out == NULL || (data == NULL && len != 0))
		return kh_error(KHANG_EINVAL, "khang_layout_load_isf_memory: NULL argument");
	return kh_layout_load_isf_memory(out, NULL, data, len, NULL);
}

KHANG_API int khang_layout_builtin(const khang_layout **out, const char *pdb_guid, uint32_t age)
{
	char hex[33];
	size_t n = 0;

	if (out)
		*out = NULL;
	if (out == NULL || pdb_guid == NULL)
		return kh_error(KHANG_EINVAL, "khang_layout_builtin: NULL argument");
	for (const char *p = pdb_guid; *p; p++) {
		if (*p == '{' || *p == '}' || *p == '-')
			continue;
		if (n == 32 || hexval(*p) < 0)
			return kh_error(KHANG_EINVAL, "khang_layout_builtin: malformed GUID \"%.64s\"", pdb_guid);
		hex[n++] = *p;
	}
	hex[n] = '\0';
	if (n != 32)
		return kh_error(KHANG_EINVAL, "khang_layout_builtin: malformed GUID \"%.64s\"", pdb_guid);
	const kh_layout *l = kh_layout_builtin_by_guid_string(hex, age);
	if (l == NULL)
		return kh_error(KHANG_ENOTFOUND, "no built-in layout for kernel %s-%u", hex, (unsigned)age);
	*out = l;
	return 0;
}

KHANG_API void khang_layout_free(khang_layout *layout)
{
	kh_layout_free(layout);
}

KHANG_API const char *khang_layout_description(const khang_layout *layout)
{
	return kh_layout_valid(layout) ? layout->description : "";
}

KHANG_API khang_layout_source khang_layout_source_kind(const khang_layout *layout)
{
	return kh_layout_valid(layout) ? (khang_layout_source)layout->source : (khang_layout_source)0;
}

KHANG_API khang_arch khang_layout_arch(const khang_layout *layout)
{
	return kh_layout_valid(layout) ? layout->arch : KHANG_ARCH_UNKNOWN;
}

KHANG_API uint32_t khang_layout_build(const khang_layout *layout)
{
	return kh_layout_valid(layout) ? layout->build : 0;
}

KHANG_API int khang_layout_guid(const khang_layout *layout, char *buf, size_t size)
{
	char g[33];
	char text[48];

	if (!kh_layout_valid(layout) || buf == NULL)
		return kh_error(KHANG_EINVAL, "khang_layout_guid: invalid argument");
	if (!(layout->flags & KH_LAYOUT_F_GUID))
		return kh_error(KHANG_ENOTFOUND, "layout %s has no PDB GUID", layout->description);
	kh_guid_format(layout->guid, g);
	int n = snprintf(text, sizeof(text), "%s-%u", g, (unsigned)layout->age);
	if (n < 0 || (size_t)n >= size) {
		if (size > 0)
			buf[0] = '\0';
		return kh_error(KHANG_EBUFSIZE, "khang_layout_guid: %zu bytes are too few", size);
	}
	memcpy(buf, text, (size_t)n + 1);
	return 0;
}

KHANG_API size_t khang_layout_symbol_count(const khang_layout *layout)
{
	return kh_layout_valid(layout) ? kh_layout_symbol_count(layout) : 0;
}

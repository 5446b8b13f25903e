/*
 * Run-time loading of Volatility 3 ISF ("Intermediate Symbol Format") files.
 *
 * The loader resolves the fields of the generated field specification exactly
 * as tools/gen_layouts.py does, keeps the file's symbol table for
 * symbolisation and checks everything it uses:
 * - input size (read and decompressed) is capped; JSON nesting is capped;
 * - every value it reads must have the JSON type it expects (else
 *   KHANG_ECORRUPT naming the path);
 * - every struct it uses is at most KH_ISF_MAX_STRUCT_SIZE bytes; every member
 *   on a field path lies inside its container and every resolved field inside
 *   its struct; bitfields fit their storage unit; symbol addresses are 32-bit
 *   RVAs.
 * Members of a struct may overlap (unions are normal); nothing here depends on
 * them not overlapping. Structures the library does not use are not examined.
 *
 * json-c has no allocation hooks: the parse tree is allocated with malloc and
 * freed before returning. Everything kept in the layout goes through kh_alloc.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "layout_int.h"

#if defined(KHANG_HAVE_JSONC) && KHANG_HAVE_JSONC
#  include <json-c/json_object.h>
#  include <json-c/json_object_iterator.h>
#  include <json-c/json_tokener.h>
#  define KH_ISF_JSON 1
#else
#  define KH_ISF_JSON 0
#endif

#if defined(KHANG_HAVE_LZMA) && KHANG_HAVE_LZMA
#  include <lzma.h>
#  define KH_ISF_XZ 1
#else
#  define KH_ISF_XZ 0
#endif

#define ISF_MAX_TYPE_DEPTH 16
#define ISF_MAX_ARRAY_COUNT ((int64_t)1 << 24)
#define ISF_MAX_SYMBOLS ((size_t)1 << 22)
#define ISF_MAX_ENUM_CONSTANTS 65536
#define ISF_NAME_MAX 160

/* last path component, for messages */
static const char *short_name(const char *name)
{
	const char *s;

	if (name == NULL || *name == '\0')
		return "(memory)";
	s = strrchr(name, '/');
	return s && s[1] ? s + 1 : name;
}

/* ---- the layout a load produces ------------------------------------------ */

typedef struct isf_layout {
	kh_layout pub;                       /* first: the handle */
	kh_alloc alloc;
	kh_field fields[KH_FIELD_COUNT];
	uint32_t struct_sizes[KH_STRUCT_COUNT];
	kh_enum_ref enum_refs[KH_ENUM_COUNT];
	kh_enum_entry *enum_entries;
	char *enum_pool;
	uint32_t globals[KH_GLOBAL_COUNT];
	uint32_t fn_index[KH_FN_COUNT];
	kh_symtab symtab;
	uint32_t *sym_rva, *sym_size, *sym_name;
	int32_t *sym_fn;
	uint32_t *all_name, *all_rva;
	char *pool;
	char description[256];
	char origin[256];
} isf_layout;

void kh_layout_free(const kh_layout *l)
{
	if (!kh_layout_valid(l) || !(l->flags & KH_LAYOUT_F_OWNED))
		return;
	/* the handle was allocated by this file as an isf_layout (first member) */
	isf_layout *il = (isf_layout *)(uintptr_t)l;
	kh_alloc a = il->alloc;

	kh_free(&a, il->enum_entries);
	kh_free(&a, il->enum_pool);
	kh_free(&a, il->sym_rva);
	kh_free(&a, il->sym_size);
	kh_free(&a, il->sym_name);
	kh_free(&a, il->sym_fn);
	kh_free(&a, il->all_name);
	kh_free(&a, il->all_rva);
	kh_free(&a, il->pool);
	il->pub.magic = 0;
	kh_free(&a, il);
}

#if KH_ISF_JSON

static const uint8_t xz_magic[6] = { 0xFD, '7', 'z', 'X', 'Z', 0x00 };

static bool is_xz(const void *data, size_t len)
{
	return len >= sizeof(xz_magic) && memcmp(data, xz_magic, sizeof(xz_magic)) == 0;
}

/* ---- reading JSON values with type checks ---------------------------------- */

typedef struct isf_ctx {
	const char *name;          /* short name for messages */
	json_object *root;
	json_object *user_types;
	json_object *base_types;
	json_object *enums;        /* may be NULL */
	khang_arch arch;
	uint32_t ptr_size;
} isf_ctx;

/* a member of an object, or NULL when absent or when obj is not an object */
static json_object *member(json_object *obj, const char *key)
{
	json_object *v = NULL;

	if (obj == NULL || !json_object_is_type(obj, json_type_object))
		return NULL;
	if (!json_object_object_get_ex(obj, key, &v))
		return NULL;
	return v;
}

/* integer member in [lo, hi]: 0, KHANG_ENOTFOUND (absent) or KHANG_ECORRUPT */
static int get_int(const isf_ctx *c, json_object *obj, const char *key, int64_t lo, int64_t hi,
                   int64_t *out, const char *where)
{
	json_object *v = member(obj, key);

	if (v == NULL)
		return KHANG_ENOTFOUND;
	if (!json_object_is_type(v, json_type_int))
		return kh_error(KHANG_ECORRUPT, "ISF %s: %s.%s is not an integer", c->name, where, key);
	int64_t x = json_object_get_int64(v);
	if (x == INT64_MAX && json_object_get_uint64(v) > (uint64_t)INT64_MAX)
		return kh_error(KHANG_ECORRUPT, "ISF %s: %s.%s is out of range", c->name, where, key);
	if (x < lo || x > hi)
		return kh_error(KHANG_ECORRUPT, "ISF %s: %s.%s = %lld is out of range [%lld, %lld]", c->name,
		                where, key, (long long)x, (long long)lo, (long long)hi);
	*out = x;
	return 0;
}

static int get_string(const isf_ctx *c, json_object *obj, const char *key, const char **out,
                      const char *where)
{
	json_object *v = member(obj, key);

	if (v == NULL)
		return KHANG_ENOTFOUND;
	if (!json_object_is_type(v, json_type_string))
		return kh_error(KHANG_ECORRUPT, "ISF %s: %s.%s is not a string", c->name, where, key);
	*out = json_object_get_string(v);
	return 0;
}

static int get_object(const isf_ctx *c, json_object *obj, const char *key, json_object **out,
                      const char *where)
{
	json_object *v = member(obj, key);

	*out = NULL;
	if (v == NULL)
		return KHANG_ENOTFOUND;
	if (!json_object_is_type(v, json_type_object))
		return kh_error(KHANG_ECORRUPT, "ISF %s: %s.%s is not an object", c->name, where, key);
	*out = v;
	return 0;
}

/* ---- types ------------------------------------------------------------------- */

/* A user type by name: its object and its size. KHANG_ENOTFOUND when the file
 * does not define it, KHANG_ECORRUPT when it is malformed. */
static int user_type(const isf_ctx *c, const char *name, json_object **obj, uint32_t *size)
{
	json_object *u = member(c->user_types, name);
	int64_t sz;
	int rc;

	if (u == NULL)
		return KHANG_ENOTFOUND;
	if (!json_object_is_type(u, json_type_object))
		return kh_error(KHANG_ECORRUPT, "ISF %s: user_types.%.80s is not an object", c->name, name);
	rc = get_int(c, u, "size", 0, KH_ISF_MAX_STRUCT_SIZE, &sz, name);
	if (rc == KHANG_ENOTFOUND)
		return kh_error(KHANG_ECORRUPT, "ISF %s: user_types.%.80s has no size", c->name, name);
	if (rc < 0)
		return rc;
	*obj = u;
	*size = (uint32_t)sz;
	return 0;
}

typedef struct type_info {
	uint64_t size;
	uint8_t kind;        /* KH_FK_* */
	uint8_t bit_pos, bit_len;
	json_object *elem;   /* arrays: the element type */
	int64_t count;       /* arrays */
	const char *struct_name; /* struct/union/class */
} type_info;

/* Size and kind of a type description. KHANG_ENOTFOUND: the size cannot be
 * known (undefined type, function): the field is absent. */
static int type_size(const isf_ctx *c, json_object *t, int depth, type_info *ti, const char *where)
{
	const char *kind = NULL;
	int rc;

	memset(ti, 0, sizeof(*ti));
	if (depth > ISF_MAX_TYPE_DEPTH)
		return kh_error(KHANG_ECORRUPT, "ISF %s: type of %s nests too deeply", c->name, where);
	if (t == NULL || !json_object_is_type(t, json_type_object))
		return kh_error(KHANG_ECORRUPT, "ISF %s: type of %s is not an object", c->name, where);
	rc = get_string(c, t, "kind", &kind, where);
	if (rc == KHANG_ENOTFOUND)
		return kh_error(KHANG_ECORRUPT, "ISF %s: type of %s has no kind", c->name, where);
	if (rc < 0)
		return rc;

	if (strcmp(kind, "base") == 0) {
		const char *name = NULL;
		int64_t sz;
		rc = get_string(c, t, "name", &name, where);
		if (rc < 0)
			return rc == KHANG_ENOTFOUND
				? kh_error(KHANG_ECORRUPT, "ISF %s: base type of %s has no name", c->name, where)
				: rc;
		json_object *b = member(c->base_types, name);
		if (b == NULL)
			return KHANG_ENOTFOUND;
		rc = get_int(c, b, "size", 0, 64, &sz, "base_types");
		if (rc < 0)
			return rc == KHANG_ENOTFOUND
				? kh_error(KHANG_ECORRUPT, "ISF %s: base type %.40s has no size", c->name, name)
				: rc;
		ti->size = (uint64_t)sz;
		ti->kind = KH_FK_INT;
		return 0;
	}
	if (strcmp(kind, "pointer") == 0) {
		const char *base = NULL;
		rc = get_string(c, t, "base", &base, where);
		if (rc < 0 && rc != KHANG_ENOTFOUND)
			return rc;
		ti->size = (rc == 0 && strcmp(base, "pointer64") == 0) ? 8 : c->ptr_size;
		ti->kind = KH_FK_POINTER;
		return 0;
	}
	if (strcmp(kind, "struct") == 0 || strcmp(kind, "union") == 0 || strcmp(kind, "class") == 0) {
		const char *name = NULL;
		json_object *u;
		uint32_t sz;
		rc = get_string(c, t, "name", &name, where);
		if (rc < 0)
			return rc == KHANG_ENOTFOUND
				? kh_error(KHANG_ECORRUPT, "ISF %s: struct type of %s has no name", c->name, where)
				: rc;
		rc = user_type(c, name, &u, &sz);
		if (rc < 0)
			return rc;
		ti->size = sz;
		ti->kind = KH_FK_STRUCT;
		ti->struct_name = name;
		return 0;
	}
	if (strcmp(kind, "enum") == 0) {
		const char *name = NULL;
		int64_t sz;
		rc = get_string(c, t, "name", &name, where);
		if (rc < 0)
			return rc == KHANG_ENOTFOUND
				? kh_error(KHANG_ECORRUPT, "ISF %s: enum type of %s has no name", c->name, where)
				: rc;
		json_object *e = member(c->enums, name);
		if (e == NULL)
			return KHANG_ENOTFOUND;
		rc = get_int(c, e, "size", 1, 8, &sz, "enums");
		if (rc < 0)
			return rc == KHANG_ENOTFOUND
				? kh_error(KHANG_ECORRUPT, "ISF %s: enum %.40s has no size", c->name, name)
				: rc;
		ti->size = (uint64_t)sz;
		ti->kind = KH_FK_ENUM;
		return 0;
	}
	if (strcmp(kind, "array") == 0) {
		int64_t count;
		type_info sub;
		rc = get_int(c, t, "count", 0, ISF_MAX_ARRAY_COUNT, &count, where);
		if (rc < 0)
			return rc == KHANG_ENOTFOUND
				? kh_error(KHANG_ECORRUPT, "ISF %s: array type of %s has no count", c->name, where)
				: rc;
		rc = type_size(c, member(t, "subtype"), depth + 1, &sub, where);
		if (rc < 0)
			return rc;
		/* count <= 2^24 and sub.size <= 2^20: no overflow */
		ti->size = (uint64_t)count * sub.size;
		ti->kind = KH_FK_ARRAY;
		ti->elem = member(t, "subtype");
		ti->count = count;
		return 0;
	}
	if (strcmp(kind, "bitfield") == 0) {
		int64_t pos, blen;
		type_info sub;
		rc = type_size(c, member(t, "type"), depth + 1, &sub, where);
		if (rc < 0)
			return rc;
		rc = get_int(c, t, "bit_position", 0, 63, &pos, where);
		if (rc == 0)
			rc = get_int(c, t, "bit_length", 1, 64, &blen, where);
		if (rc < 0)
			return rc == KHANG_ENOTFOUND
				? kh_error(KHANG_ECORRUPT, "ISF %s: bitfield %s lacks its bit position or length",
				           c->name, where)
				: rc;
		if (sub.kind != KH_FK_INT && sub.kind != KH_FK_ENUM)
			return kh_error(KHANG_ECORRUPT, "ISF %s: bitfield %s is not in an integer", c->name, where);
		if ((uint64_t)(pos + blen) > sub.size * 8)
			return kh_error(KHANG_ECORRUPT, "ISF %s: bitfield %s (bits %lld..%lld) exceeds its %llu-byte unit",
			                c->name, where, (long long)pos, (long long)(pos + blen - 1),
			                (unsigned long long)sub.size);
		ti->size = sub.size;
		ti->kind = KH_FK_BITFIELD;
		ti->bit_pos = (uint8_t)pos;
		ti->bit_len = (uint8_t)blen;
		return 0;
	}
	if (strcmp(kind, "function") == 0)
		return KHANG_ENOTFOUND;
	return kh_error(KHANG_ECORRUPT, "ISF %s: type of %s has unknown kind \"%.20s\"", c->name, where, kind);
}

/* ---- field paths --------------------------------------------------------------- */

/* Resolve one path ("ApcState.Process", "DpcData[0].DpcQueueDepth") in the
 * user type `sname`. 0 with *out filled; KHANG_ENOTFOUND when the path does not
 * exist here; KHANG_ECORRUPT when the file is malformed along the way. */
static int resolve_path(const isf_ctx *c, const char *sname, const char *path, size_t plen,
                        const char *display, kh_field *out)
{
	json_object *u;
	uint32_t container;
	uint64_t off = 0;
	uint32_t top_size;
	type_info ti;
	bool have_type = false;
	int rc = user_type(c, sname, &u, &container);

	if (rc < 0)
		return rc;
	top_size = container;
	memset(&ti, 0, sizeof(ti));
	size_t pos = 0;
	while (pos < plen) {
		char comp[128];
		size_t n = 0;
		int64_t idx = -1;

		while (pos < plen && path[pos] != '.' && path[pos] != '[') {
			if (n + 1 >= sizeof(comp))
				return KHANG_ENOTFOUND;
			comp[n++] = path[pos++];
		}
		comp[n] = '\0';
		if (pos < plen && path[pos] == '[') {
			idx = 0;
			pos++;
			while (pos < plen && path[pos] >= '0' && path[pos] <= '9' && idx < 1000000)
				idx = idx * 10 + (path[pos++] - '0');
			if (pos < plen && path[pos] == ']')
				pos++;
		}
		if (pos < plen && path[pos] == '.')
			pos++;

		if (have_type) {
			/* step into the previous member's struct */
			if (ti.kind != KH_FK_STRUCT)
				return KHANG_ENOTFOUND;
			rc = user_type(c, ti.struct_name, &u, &container);
			if (rc < 0)
				return rc;
		}
		json_object *fields;
		rc = get_object(c, u, "fields", &fields, display);
		if (rc < 0)
			return rc == KHANG_ENOTFOUND
				? kh_error(KHANG_ECORRUPT, "ISF %s: a struct on the path of %s has no fields", c->name, display)
				: rc;
		json_object *f = member(fields, comp);
		if (f == NULL)
			return KHANG_ENOTFOUND;
		if (!json_object_is_type(f, json_type_object))
			return kh_error(KHANG_ECORRUPT, "ISF %s: member %s of %s is not an object", c->name, comp, display);
		int64_t moff;
		rc = get_int(c, f, "offset", 0, KH_ISF_MAX_STRUCT_SIZE, &moff, display);
		if (rc < 0)
			return rc == KHANG_ENOTFOUND
				? kh_error(KHANG_ECORRUPT, "ISF %s: member %s of %s has no offset", c->name, comp, display)
				: rc;
		rc = type_size(c, member(f, "type"), 0, &ti, display);
		if (rc < 0)
			return rc;
		if ((uint64_t)moff + ti.size > container)
			return kh_error(KHANG_ECORRUPT,
			                "ISF %s: member %s (offset 0x%llx, %llu bytes) of %s lies beyond its struct (0x%x bytes)",
			                c->name, comp, (unsigned long long)moff, (unsigned long long)ti.size, display,
			                container);
		off += (uint64_t)moff;
		if (idx >= 0) {
			type_info el;
			if (ti.kind != KH_FK_ARRAY || idx >= ti.count)
				return KHANG_ENOTFOUND;
			rc = type_size(c, ti.elem, 0, &el, display);
			if (rc < 0)
				return rc;
			off += (uint64_t)idx * el.size;
			ti = el;
		}
		have_type = true;
	}
	if (!have_type)
		return KHANG_ENOTFOUND;
	if (off + ti.size > top_size || ti.size > UINT32_MAX)
		return kh_error(KHANG_ECORRUPT, "ISF %s: %s (offset 0x%llx, %llu bytes) lies beyond its struct (0x%x bytes)",
		                c->name, display, (unsigned long long)off, (unsigned long long)ti.size, top_size);
	out->offset = (uint32_t)off;
	out->size = (uint32_t)ti.size;
	out->kind = ti.kind;
	out->bit_pos = ti.kind == KH_FK_BITFIELD ? ti.bit_pos : 0;
	out->bit_len = ti.kind == KH_FK_BITFIELD ? ti.bit_len : 0;
	return 0;
}

/* The ISF name of struct s in this file (first alternative present), or NULL. */
static const char *struct_isf_name(const isf_ctx *c, uint32_t s, char *buf, size_t bufsize)
{
	const char *names = kh_lay_pool + kh_lay_struct_spec[s].isf_names;

	while (*names) {
		const char *bar = strchr(names, '|');
		size_t n = bar ? (size_t)(bar - names) : strlen(names);
		if (n < bufsize) {
			memcpy(buf, names, n);
			buf[n] = '\0';
			if (member(c->user_types, buf) != NULL)
				return buf;
		}
		if (!bar)
			break;
		names = bar + 1;
	}
	return NULL;
}

static int resolve_fields(const isf_ctx *c, isf_layout *il)
{
	char sname[96];

	for (uint32_t s = 0; s < KH_STRUCT_COUNT; s++) {
		const kh_struct_spec *ss = &kh_lay_struct_spec[s];
		if (ss->synthetic) {
			for (size_t i = 0; i < kh_lay_synthetic_size_count; i++) {
				if (kh_lay_synthetic_sizes[i].struct_id == s && kh_lay_synthetic_sizes[i].arch == c->arch)
					il->struct_sizes[s] = kh_lay_synthetic_sizes[i].size;
			}
			continue;
		}
		const char *name = struct_isf_name(c, s, sname, sizeof(sname));
		if (name == NULL)
			continue;
		json_object *u;
		uint32_t size;
		int rc = user_type(c, name, &u, &size);
		if (rc < 0)
			return rc;
		il->struct_sizes[s] = size;
		for (uint32_t f = kh_lay_struct_first[s]; f < kh_lay_struct_first[s + 1]; f++) {
			const char *p = kh_lay_pool + kh_lay_field_spec[f].paths;
			const char *display = kh_lay_pool + kh_lay_field_spec[f].name;
			while (p != NULL && *p) {
				const char *sp = strchr(p, ' ');
				const char *next = sp ? sp + 1 : NULL;
				size_t n = sp ? (size_t)(sp - p) : strlen(p);
				const char *alt = p;
				bool applies = true;
				if (n > 4 && alt[3] == ':') {
					applies = (c->arch == KHANG_ARCH_X64 && strncmp(alt, "x64:", 4) == 0) ||
					          (c->arch == KHANG_ARCH_X86 && strncmp(alt, "x86:", 4) == 0);
					alt += 4;
					n -= 4;
				}
				if (applies) {
					rc = resolve_path(c, name, alt, n, display, &il->fields[f]);
					if (rc == 0)
						break;
					memset(&il->fields[f], 0, sizeof(il->fields[f]));
					if (rc != KHANG_ENOTFOUND)
						return rc;
				}
				p = next;
			}
		}
	}
	for (size_t i = 0; i < kh_lay_synthetic_field_count; i++) {
		const kh_synthetic_field *sf = &kh_lay_synthetic_fields[i];
		if (sf->arch != c->arch)
			continue;
		il->fields[sf->field].offset = sf->offset;
		il->fields[sf->field].size = sf->size;
		il->fields[sf->field].kind = KH_FK_INT;
	}
	return 0;
}

/* ---- enums ----------------------------------------------------------------------- */

typedef struct enum_tmp {
	int64_t value;
	const char *name;
} enum_tmp;

static int cmp_enum_tmp(const void *pa, const void *pb)
{
	const enum_tmp *a = pa, *b = pb;

	if (a->value != b->value)
		return a->value < b->value ? -1 : 1;
	/* one name per value: range markers ("MaximumWaitReason") last */
	bool ma = strncmp(a->name, "Maximum", 7) == 0, mb = strncmp(b->name, "Maximum", 7) == 0;
	if (ma != mb)
		return ma ? 1 : -1;
	return strcmp(a->name, b->name);
}

static int load_enums(const isf_ctx *c, isf_layout *il, const kh_alloc *a, uint32_t build)
{
	enum_tmp *tmp[KH_ENUM_COUNT];
	size_t counts[KH_ENUM_COUNT];
	const kh_layout *donor[KH_ENUM_COUNT];
	size_t total = 0, pool = 1;
	int rc = 0;

	memset(tmp, 0, sizeof(tmp));
	memset(counts, 0, sizeof(counts));
	memset(donor, 0, sizeof(donor));
	for (uint32_t e = 0; e < KH_ENUM_COUNT; e++) {
		const char *isf_name = kh_lay_pool + kh_lay_enum_spec[e].isf_name;
		json_object *en = member(c->enums, isf_name);
		if (en == NULL) {
			donor[e] = kh_layout_enum_donor((kh_enum_id)e, build);
			if (donor[e]) {
				const kh_enum_ref *r = &donor[e]->enum_refs[e];
				counts[e] = r->count;
				total += r->count;
				for (uint32_t i = 0; i < r->count; i++)
					pool += strlen(donor[e]->enum_pool + donor[e]->enum_entries[r->first + i].name) + 1;
			}
			continue;
		}
		json_object *consts;
		rc = get_object(c, en, "constants", &consts, isf_name);
		if (rc == KHANG_ENOTFOUND) {
			rc = kh_error(KHANG_ECORRUPT, "ISF %s: enum %s has no constants", c->name, isf_name);
			goto out;
		}
		if (rc < 0)
			goto out;
		size_t n = (size_t)json_object_object_length(consts);
		if (n > ISF_MAX_ENUM_CONSTANTS) {
			rc = kh_error(KHANG_ELIMIT, "ISF %s: enum %s has %zu constants", c->name, isf_name, n);
			goto out;
		}
		tmp[e] = kh_calloc(a, n ? n : 1, sizeof(enum_tmp));
		if (tmp[e] == NULL) {
			rc = KHANG_ENOMEM;
			goto out;
		}
		struct json_object_iterator it = json_object_iter_begin(consts);
		struct json_object_iterator end = json_object_iter_end(consts);
		size_t k = 0;
		while (!json_object_iter_equal(&it, &end) && k < n) {
			json_object *v = json_object_iter_peek_value(&it);
			const char *cname = json_object_iter_peek_name(&it);
			if (v == NULL || !json_object_is_type(v, json_type_int)) {
				rc = kh_error(KHANG_ECORRUPT, "ISF %s: enum %s constant %.60s is not an integer",
				              c->name, isf_name, cname);
				goto out;
			}
			tmp[e][k].value = json_object_get_int64(v);
			tmp[e][k].name = cname;
			k++;
			json_object_iter_next(&it);
		}
		qsort(tmp[e], k, sizeof(enum_tmp), cmp_enum_tmp);
		size_t w = 0;
		for (size_t i = 0; i < k; i++) {
			if (w > 0 && tmp[e][w - 1].value == tmp[e][i].value)
				continue;
			tmp[e][w++] = tmp[e][i];
			pool += strlen(tmp[e][i].name) + 1;
		}
		counts[e] = w;
		total += w;
	}

	il->enum_entries = kh_calloc(a, total ? total : 1, sizeof(kh_enum_entry));
	il->enum_pool = kh_malloc(a, pool);
	if (il->enum_entries == NULL || il->enum_pool == NULL) {
		rc = KHANG_ENOMEM;
		goto out;
	}
	il->enum_pool[0] = '\0';
	size_t pos = 1, ent = 0;
	for (uint32_t e = 0; e < KH_ENUM_COUNT; e++) {
		il->enum_refs[e].first = (uint32_t)ent;
		il->enum_refs[e].count = (uint32_t)counts[e];
		for (size_t i = 0; i < counts[e]; i++) {
			const char *nm;
			int64_t val;
			if (donor[e]) {
				const kh_enum_entry *de = &donor[e]->enum_entries[donor[e]->enum_refs[e].first + i];
				nm = donor[e]->enum_pool + de->name;
				val = de->value;
			} else {
				nm = tmp[e][i].name;
				val = tmp[e][i].value;
			}
			size_t nl = strlen(nm) + 1;
			memcpy(il->enum_pool + pos, nm, nl);
			il->enum_entries[ent].value = val;
			il->enum_entries[ent].name = (uint32_t)pos;
			pos += nl;
			ent++;
		}
		if (donor[e])
			il->pub.enum_borrowed |= 1u << e;
	}
out:
	for (uint32_t e = 0; e < KH_ENUM_COUNT; e++)
		kh_free(a, tmp[e]);
	return rc;
}

/* ---- symbols ---------------------------------------------------------------------- */

typedef struct sym_rec {
	uint32_t rva;
	uint32_t name;       /* pool offset */
	const char *str;     /* pool + name */
	bool lookup;         /* usable for address lookup */
} sym_rec;

static int cmp_rec_rva(const void *pa, const void *pb)
{
	const sym_rec *a = pa, *b = pb;

	if (a->rva != b->rva)
		return a->rva < b->rva ? -1 : 1;
	return strcmp(a->str, b->str);
}

static int cmp_rec_name(const void *pa, const void *pb)
{
	const sym_rec *a = pa, *b = pb;
	int r = strcmp(a->str, b->str);

	if (r != 0)
		return r;
	return a->rva < b->rva ? -1 : a->rva > b->rva;
}

static int cmp_u32(const void *pa, const void *pb)
{
	uint32_t a = *(const uint32_t *)pa, b = *(const uint32_t *)pb;

	return a < b ? -1 : a > b;
}

/* Data that sits between functions: string literals, vftables and RTTI,
 * import thunks, null-thunk markers, compiler labels. They bound function
 * sizes but are never returned for an address. */
static bool data_like(const char *name)
{
	size_t n = strlen(name);

	return strncmp(name, "??_C@", 5) == 0 || strncmp(name, "??_7", 4) == 0 ||
	       strncmp(name, "??_R", 4) == 0 || strncmp(name, "__imp_", 6) == 0 ||
	       strncmp(name, "$$", 2) == 0 || name[0] == '\x7f' ||
	       (n > 16 && strcmp(name + n - 16, "_NULL_THUNK_DATA") == 0);
}

/* the name a debugger shows (see display_name() in tools/gen_layouts.py) */
static const char *display_name(const char *name, json_object *sym)
{
	const char *link = NULL;
	json_object *v = member(sym, "linkage_name");

	if (v && json_object_is_type(v, json_type_string))
		link = json_object_get_string(v);
	if (link && name[0] == '_' && link[0] == '_' && strcmp(link + 1, name) == 0)
		return link;
	return name;
}

static int load_symbols(const isf_ctx *c, isf_layout *il, const kh_alloc *a)
{
	json_object *syms;
	sym_rec *recs = NULL;
	uint32_t *addrs = NULL;
	int rc = get_object(c, c->root, "symbols", &syms, "document");

	for (size_t i = 0; i < KH_FN_COUNT; i++)
		il->fn_index[i] = UINT32_MAX;
	il->symtab.pool = "";
	il->symtab.rva = il->symtab.size = il->symtab.name = NULL;
	il->symtab.fn = NULL;
	il->symtab.all_name = il->symtab.all_rva = NULL;
	if (rc == KHANG_ENOTFOUND)
		return 0;
	if (rc < 0)
		return rc;

	size_t n = (size_t)json_object_object_length(syms);
	if (n > ISF_MAX_SYMBOLS)
		return kh_error(KHANG_ELIMIT, "ISF %s: %zu symbols (the limit is %zu)", c->name, n, ISF_MAX_SYMBOLS);
	if (n == 0)
		return 0;

	/* pass 1: check types, size the name pool */
	size_t pool = 1;
	struct json_object_iterator it = json_object_iter_begin(syms);
	struct json_object_iterator end = json_object_iter_end(syms);
	while (!json_object_iter_equal(&it, &end)) {
		const char *nm = json_object_iter_peek_name(&it);
		json_object *v = json_object_iter_peek_value(&it);
		int64_t addr;
		char where[96];
		if (v == NULL || !json_object_is_type(v, json_type_object))
			return kh_error(KHANG_ECORRUPT, "ISF %s: symbol %.80s is not an object", c->name, nm);
		snprintf(where, sizeof(where), "symbols.%.80s", nm);
		rc = get_int(c, v, "address", 0, UINT32_MAX, &addr, where);
		if (rc == KHANG_ENOTFOUND)
			return kh_error(KHANG_ECORRUPT, "ISF %s: symbol %.80s has no address", c->name, nm);
		if (rc < 0)
			return rc;
		size_t l = strlen(display_name(nm, v)) + 1;
		if (kh_add_overflow_size(pool, l, &pool) || pool > UINT32_MAX)
			return kh_error(KHANG_ELIMIT, "ISF %s: symbol names are too large", c->name);
		json_object_iter_next(&it);
	}

	il->pool = kh_malloc(a, pool);
	recs = kh_calloc(a, n, sizeof(sym_rec));
	addrs = kh_calloc(a, n, sizeof(uint32_t));
	if (il->pool == NULL || recs == NULL || addrs == NULL) {
		rc = KHANG_ENOMEM;
		goto out;
	}
	/* pass 2: fill */
	il->pool[0] = '\0';
	size_t pos = 1, k = 0, naddr = 0;
	it = json_object_iter_begin(syms);
	while (!json_object_iter_equal(&it, &end) && k < n) {
		const char *nm = json_object_iter_peek_name(&it);
		json_object *v = json_object_iter_peek_value(&it);
		const char *dn = display_name(nm, v);
		size_t l = strlen(dn) + 1;
		int64_t addr = 0;
		(void)get_int(c, v, "address", 0, UINT32_MAX, &addr, "symbol");
		memcpy(il->pool + pos, dn, l);
		recs[k].rva = (uint32_t)addr;
		recs[k].name = (uint32_t)pos;
		recs[k].str = il->pool + pos;
		recs[k].lookup = addr > 0 && !data_like(dn);
		if (addr > 0)
			addrs[naddr++] = (uint32_t)addr;
		pos += l;
		k++;
		json_object_iter_next(&it);
	}
	n = k;
	qsort(addrs, naddr, sizeof(uint32_t), cmp_u32);

	/* by name: every symbol */
	qsort(recs, n, sizeof(sym_rec), cmp_rec_name);
	il->all_name = kh_calloc(a, n, sizeof(uint32_t));
	il->all_rva = kh_calloc(a, n, sizeof(uint32_t));
	if (il->all_name == NULL || il->all_rva == NULL) {
		rc = KHANG_ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		il->all_name[i] = recs[i].name;
		il->all_rva[i] = recs[i].rva;
		int g = kh_global_lookup(recs[i].str);
		if (g >= 0 && il->globals[g] == 0)
			il->globals[g] = recs[i].rva;
	}

	/* by address: lookup symbols */
	qsort(recs, n, sizeof(sym_rec), cmp_rec_rva);
	size_t m = 0;
	for (size_t i = 0; i < n; i++)
		m += recs[i].lookup;
	il->sym_rva = kh_calloc(a, m ? m : 1, sizeof(uint32_t));
	il->sym_size = kh_calloc(a, m ? m : 1, sizeof(uint32_t));
	il->sym_name = kh_calloc(a, m ? m : 1, sizeof(uint32_t));
	il->sym_fn = kh_calloc(a, m ? m : 1, sizeof(int32_t));
	if (!il->sym_rva || !il->sym_size || !il->sym_name || !il->sym_fn) {
		rc = KHANG_ENOMEM;
		goto out;
	}
	size_t j = 0, ai = 0;
	for (size_t i = 0; i < n; i++) {
		if (!recs[i].lookup)
			continue;
		/* the next distinct address of any symbol */
		while (ai < naddr && addrs[ai] <= recs[i].rva)
			ai++;
		uint32_t size = ai < naddr ? addrs[ai] - recs[i].rva : 0;
		if (size > KH_FN_SIZE_MASK)
			size = KH_FN_SIZE_MASK;
		il->sym_rva[j] = recs[i].rva;
		il->sym_size[j] = size;
		il->sym_name[j] = recs[i].name;
		int fn = kh_fn_lookup(recs[i].str);
		il->sym_fn[j] = fn;
		if (fn >= 0 && il->fn_index[fn] == UINT32_MAX)
			il->fn_index[fn] = (uint32_t)j;
		j++;
	}
	il->symtab.count = (uint32_t)m;
	il->symtab.rva = il->sym_rva;
	il->symtab.size = il->sym_size;
	il->symtab.name = il->sym_name;
	il->symtab.fn = il->sym_fn;
	il->symtab.all_count = (uint32_t)n;
	il->symtab.all_name = il->all_name;
	il->symtab.all_rva = il->all_rva;
	il->symtab.pool = il->pool;
	rc = 0;
out:
	kh_free(a, recs);
	kh_free(a, addrs);
	return rc;
}

/* ---- metadata ------------------------------------------------------------------------ */

typedef struct isf_meta {
	bool has_guid;
	uint8_t guid[16];
	uint32_t age;
	int64_t machine;       /* -1 when absent */
	const char *database;
	uint32_t major, minor, build, qfe;
} isf_meta;

static int read_metadata(const isf_ctx *c, isf_meta *m)
{
	json_object *meta, *win, *pdb, *pe;
	int rc;
	int64_t v;

	memset(m, 0, sizeof(*m));
	m->machine = -1;
	rc = get_object(c, c->root, "metadata", &meta, "document");
	if (rc == KHANG_ENOTFOUND)
		return 0;
	if (rc < 0)
		return rc;
	rc = get_object(c, meta, "windows", &win, "metadata");
	if (rc == KHANG_ENOTFOUND)
		return 0;
	if (rc < 0)
		return rc;
	rc = get_object(c, win, "pdb", &pdb, "metadata.windows");
	if (rc < 0 && rc != KHANG_ENOTFOUND)
		return rc;
	if (pdb) {
		const char *g = NULL;
		rc = get_string(c, pdb, "GUID", &g, "metadata.windows.pdb");
		if (rc < 0 && rc != KHANG_ENOTFOUND)
			return rc;
		if (rc == 0) {
			if (!kh_guid_parse(g, m->guid))
				return kh_error(KHANG_ECORRUPT, "ISF %s: metadata.windows.pdb.GUID \"%.40s\" is not 32 hex digits",
				                c->name, g);
			for (int i = 0; i < 16; i++)
				m->has_guid |= m->guid[i] != 0;
		}
		rc = get_int(c, pdb, "age", 0, UINT32_MAX, &v, "metadata.windows.pdb");
		if (rc < 0 && rc != KHANG_ENOTFOUND)
			return rc;
		if (rc == 0)
			m->age = (uint32_t)v;
		rc = get_int(c, pdb, "machine_type", 0, 0xFFFF, &v, "metadata.windows.pdb");
		if (rc < 0 && rc != KHANG_ENOTFOUND)
			return rc;
		if (rc == 0)
			m->machine = v;
		rc = get_string(c, pdb, "database", &m->database, "metadata.windows.pdb");
		if (rc < 0 && rc != KHANG_ENOTFOUND)
			return rc;
	}
	rc = get_object(c, win, "pe", &pe, "metadata.windows");
	if (rc < 0 && rc != KHANG_ENOTFOUND)
		return rc;
	if (pe) {
		static const char *const keys[4] = { "major", "minor", "revision", "build" };
		uint32_t *dst[4] = { &m->major, &m->minor, &m->build, &m->qfe };
		for (int i = 0; i < 4; i++) {
			rc = get_int(c, pe, keys[i], 0, UINT32_MAX, &v, "metadata.windows.pe");
			if (rc < 0 && rc != KHANG_ENOTFOUND)
				return rc;
			if (rc == 0)
				*dst[i] = (uint32_t)v;
		}
	}
	return 0;
}

/* ---- loading --------------------------------------------------------------------------- */

static int parse_json(const char *name, const char *text, size_t len, json_object **out)
{
	json_tokener *tok;
	json_object *root;

	*out = NULL;
	if (len > (size_t)INT32_MAX)
		return kh_error(KHANG_ELIMIT, "ISF %s: %zu bytes of JSON are too many", name, len);
	tok = json_tokener_new_ex(KH_ISF_MAX_DEPTH);
	if (tok == NULL)
		return kh_error(KHANG_ENOMEM, "ISF %s: cannot create the JSON parser", name);
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT);
	root = json_tokener_parse_ex(tok, text, (int)len);
	enum json_tokener_error jerr = json_tokener_get_error(tok);
	size_t end = json_tokener_get_parse_end(tok);
	json_tokener_free(tok);
	if (root == NULL) {
		if (jerr == json_tokener_continue)
			return kh_error(KHANG_EFORMAT, "ISF %s: the JSON text ends early (%zu bytes)", name, len);
		if (jerr == json_tokener_error_depth)
			return kh_error(KHANG_EFORMAT, "ISF %s: JSON nests deeper than %d levels", name, KH_ISF_MAX_DEPTH);
		return kh_error(KHANG_EFORMAT, "ISF %s: not JSON: %s at byte %zu", name,
		                json_tokener_error_desc(jerr), end);
	}
	for (size_t i = end; i < len; i++) {
		char ch = text[i];
		if (ch != ' ' && ch != '\t' && ch != '\n' && ch != '\r') {
			json_object_put(root);
			return kh_error(KHANG_EFORMAT, "ISF %s: data after the JSON document at byte %zu", name, i);
		}
	}
	*out = root;
	return 0;
}

static int build_layout(const char *name, json_object *root, const kh_alloc *a, const kh_isf_options *opts,
                        isf_layout **out)
{
	isf_ctx c;
	isf_meta meta;
	int rc;

	*out = NULL;
	memset(&c, 0, sizeof(c));
	c.name = name;
	c.root = root;
	if (!json_object_is_type(root, json_type_object))
		return kh_error(KHANG_EFORMAT, "ISF %s: the document is not a JSON object", name);
	rc = get_object(&c, root, "user_types", &c.user_types, "document");
	if (rc == 0)
		rc = get_object(&c, root, "base_types", &c.base_types, "document");
	if (rc == KHANG_ENOTFOUND)
		return kh_error(KHANG_EFORMAT, "ISF %s: not an ISF document (no user_types or base_types)", name);
	if (rc < 0)
		return rc;
	rc = get_object(&c, root, "enums", &c.enums, "document");
	if (rc < 0 && rc != KHANG_ENOTFOUND)
		return rc;
	rc = read_metadata(&c, &meta);
	if (rc < 0)
		return rc;

	/* architecture: the PDB machine type, else the pointer size */
	int64_t psize = 0;
	rc = get_int(&c, member(c.base_types, "pointer"), "size", 1, 16, &psize, "base_types.pointer");
	if (rc < 0 && rc != KHANG_ENOTFOUND)
		return rc;
	if (meta.machine == 0x8664)
		c.arch = KHANG_ARCH_X64;
	else if (meta.machine == 0x14C)
		c.arch = KHANG_ARCH_X86;
	else if (meta.machine >= 0)
		return kh_error(KHANG_EUNSUPPORTED, "ISF %s: machine type 0x%llx is not x86 or x64", name,
		                (unsigned long long)meta.machine);
	else if (psize == 8)
		c.arch = KHANG_ARCH_X64;
	else if (psize == 4)
		c.arch = KHANG_ARCH_X86;
	else
		return kh_error(KHANG_EUNSUPPORTED, "ISF %s: cannot tell the architecture (no machine type, pointer size %lld)",
		                name, (long long)psize);
	c.ptr_size = c.arch == KHANG_ARCH_X64 ? 8 : 4;
	if (psize != 0 && (uint32_t)psize != c.ptr_size)
		return kh_error(KHANG_ECORRUPT, "ISF %s: pointer size %lld does not match the machine type", name,
		                (long long)psize);

	isf_layout *il = kh_calloc(a, 1, sizeof(*il));
	if (il == NULL)
		return KHANG_ENOMEM;
	il->alloc = *a;
	kh_layout *l = &il->pub;
	l->magic = KH_LAYOUT_MAGIC;
	l->arch = c.arch;
	l->source = KH_LAYOUT_ISF;
	l->flags = KH_LAYOUT_F_OWNED;
	l->field_base = il->fields;
	l->field_starts = kh_lay_struct_first;
	l->struct_sizes = il->struct_sizes;
	l->enum_refs = il->enum_refs;
	l->globals = il->globals;
	l->symtab = &il->symtab;
	l->fn_index = il->fn_index;

	/* which kernel: the file's own version, else the built-in table of its GUID */
	const kh_layout *known = NULL;
	if (meta.has_guid) {
		memcpy(l->guid, meta.guid, 16);
		l->age = meta.age;
		l->flags |= KH_LAYOUT_F_GUID;
		known = kh_layout_builtin_by_guid_display(meta.guid, meta.age);
	}
	if (meta.build) {
		l->major = (uint16_t)(meta.major > 0xFFFF ? 0 : meta.major);
		l->minor = (uint16_t)(meta.minor > 0xFFFF ? 0 : meta.minor);
		l->build = meta.build;
		l->qfe = meta.qfe;
	} else if (known) {
		l->major = known->major;
		l->minor = known->minor;
		l->build = known->build;
		l->qfe = known->qfe;
	} else if (opts && opts->build_hint) {
		l->build = opts->build_hint;
	}
	if (c.arch == KHANG_ARCH_X86) {
		json_object *u;
		uint32_t sz = 0;
		if (user_type(&c, "_MMPTE", &u, &sz) == 0 && sz == 8)
			l->flags |= KH_LAYOUT_F_PAE;
		else if (meta.database && (strcmp(meta.database, "ntkrpamp.pdb") == 0 ||
		                           strcmp(meta.database, "ntkrnlpa.pdb") == 0))
			l->flags |= KH_LAYOUT_F_PAE;
	}

	const char *arch_name = c.arch == KHANG_ARCH_X64 ? "x64" : "x86";
	const char *pae = c.arch != KHANG_ARCH_X86 ? "" : (l->flags & KH_LAYOUT_F_PAE) ? " PAE" : " non-PAE";
	if (l->build && l->major)
		snprintf(il->description, sizeof(il->description), "ISF %.*s: %u.%u.%u.%u %s%s", ISF_NAME_MAX, name,
		         l->major, l->minor, (unsigned)l->build, (unsigned)l->qfe, arch_name, pae);
	else if (l->build)
		snprintf(il->description, sizeof(il->description), "ISF %.*s: build %u %s%s", ISF_NAME_MAX, name,
		         (unsigned)l->build, arch_name, pae);
	else
		snprintf(il->description, sizeof(il->description), "ISF %.*s: %s%s, build unknown", ISF_NAME_MAX,
		         name, arch_name, pae);
	if (l->flags & KH_LAYOUT_F_GUID) {
		char g[33];
		kh_guid_format(l->guid, g);
		snprintf(il->origin, sizeof(il->origin), "ISF file %.*s (PDB %s-%u)", ISF_NAME_MAX, name, g,
		         (unsigned)l->age);
	} else {
		snprintf(il->origin, sizeof(il->origin), "ISF file %.*s", ISF_NAME_MAX, name);
	}
	l->description = il->description;
	l->origin = il->origin;

	rc = resolve_fields(&c, il);
	if (rc == 0)
		rc = load_enums(&c, il, a, l->build);
	if (rc == 0)
		rc = load_symbols(&c, il, a);
	l->enum_entries = il->enum_entries;
	l->enum_pool = il->enum_pool ? il->enum_pool : "";
	if (rc < 0) {
		kh_layout_free(l);
		return rc;
	}
	*out = il;
	return 0;
}

#if KH_ISF_XZ
static int xz_decode(const char *name, const kh_alloc *a, const uint8_t *in, size_t len, size_t max,
                     char **out, size_t *out_len)
{
	lzma_stream strm = LZMA_STREAM_INIT;
	size_t cap = len < ((size_t)1 << 20) ? ((size_t)1 << 20) : len * 4;
	char *buf;
	int rc = 0;

	*out = NULL;
	*out_len = 0;
	if (cap > max + 1)
		cap = max + 1;
	buf = kh_malloc(a, cap);
	if (buf == NULL)
		return KHANG_ENOMEM;
	if (lzma_stream_decoder(&strm, (uint64_t)256 << 20, LZMA_CONCATENATED) != LZMA_OK) {
		kh_free(a, buf);
		return kh_error(KHANG_ENOMEM, "ISF %s: cannot start the xz decoder", name);
	}
	strm.next_in = in;
	strm.avail_in = len;
	strm.next_out = (uint8_t *)buf;
	strm.avail_out = cap;
	for (;;) {
		lzma_ret r = lzma_code(&strm, LZMA_FINISH);
		if (r == LZMA_STREAM_END)
			break;
		if (r == LZMA_OK && strm.avail_out == 0) {
			size_t used = cap;
			if (cap > max) {
				rc = kh_error(KHANG_ELIMIT, "ISF %s: decompresses to more than %zu bytes", name, max);
				break;
			}
			size_t ncap = cap > max / 2 ? max + 1 : cap * 2;
			char *nb = kh_realloc(a, buf, ncap);
			if (nb == NULL) {
				rc = KHANG_ENOMEM;
				break;
			}
			buf = nb;
			cap = ncap;
			strm.next_out = (uint8_t *)buf + used;
			strm.avail_out = cap - used;
			continue;
		}
		if (r == LZMA_OK)
			continue;
		if (r == LZMA_MEMLIMIT_ERROR || r == LZMA_MEM_ERROR)
			rc = kh_error(KHANG_ELIMIT, "ISF %s: the xz data needs too much memory to decode", name);
		else if (r == LZMA_BUF_ERROR)
			rc = kh_error(KHANG_ECORRUPT, "ISF %s: the xz data is truncated", name);
		else
			rc = kh_error(KHANG_ECORRUPT, "ISF %s: the xz data is damaged (liblzma error %d)", name, (int)r);
		break;
	}
	size_t produced = cap - strm.avail_out;
	lzma_end(&strm);
	if (rc == 0 && produced > max)
		rc = kh_error(KHANG_ELIMIT, "ISF %s: decompresses to more than %zu bytes", name, max);
	if (rc < 0) {
		kh_free(a, buf);
		return rc;
	}
	*out = buf;
	*out_len = produced;
	return 0;
}
#endif /* KH_ISF_XZ */

#endif /* KH_ISF_JSON */

int kh_layout_load_isf_memory(kh_layout **out, const kh_alloc *alloc, const void *data, size_t len,
                              const kh_isf_options *opts)
{
	kh_alloc def;
	const char *name = short_name(opts ? opts->name : NULL);
	size_t max_input = opts && opts->max_input ? opts->max_input : KH_ISF_DEFAULT_MAX_INPUT;
	size_t max_json = opts && opts->max_json ? opts->max_json : KH_ISF_DEFAULT_MAX_JSON;

	if (out == NULL)
		return kh_error(KHANG_EINVAL, "kh_layout_load_isf_memory: NULL out");
	*out = NULL;
	if (data == NULL && len != 0)
		return kh_error(KHANG_EINVAL, "ISF %s: NULL data", name);
	if (alloc == NULL) {
		kh_alloc_init(&def, NULL);
		alloc = &def;
	}
	if (len > max_input)
		return kh_error(KHANG_ELIMIT, "ISF %s: %zu bytes exceed the %zu-byte input limit", name, len, max_input);
#if !KH_ISF_JSON
	(void)max_json;
	return kh_error(KHANG_EUNSUPPORTED,
	                "ISF %s: loading ISF files needs json-c, and this libkhang was built without it", name);
#else
	const char *text = data;
	char *owned = NULL;
	size_t tlen = len;
	json_object *root = NULL;
	isf_layout *il = NULL;
	int rc;

	if (is_xz(data, len)) {
#if KH_ISF_XZ
		rc = xz_decode(name, alloc, data, len, max_json, &owned, &tlen);
		if (rc < 0)
			return rc;
		text = owned;
#else
		return kh_error(KHANG_EUNSUPPORTED,
		                "ISF %s: the file is xz-compressed and this libkhang was built without liblzma", name);
#endif
	} else if (len > max_json) {
		return kh_error(KHANG_ELIMIT, "ISF %s: %zu bytes of JSON exceed the %zu-byte limit", name, len, max_json);
	}
	rc = parse_json(name, text ? text : "", tlen, &root);
	kh_free(alloc, owned);
	if (rc < 0)
		return rc;
	rc = build_layout(name, root, alloc, opts, &il);
	json_object_put(root);
	if (rc < 0)
		return rc;
	*out = &il->pub;
	return 0;
#endif
}

int kh_layout_load_isf_file(kh_layout **out, const kh_alloc *alloc, const char *path,
                            const kh_isf_options *opts)
{
	if (out == NULL || path == NULL)
		return kh_error(KHANG_EINVAL, "kh_layout_load_isf_file: NULL argument");
	*out = NULL;
#if !KH_ISF_JSON
	(void)alloc;
	(void)opts;
	return kh_error(KHANG_EUNSUPPORTED,
	                "ISF %s: loading ISF files needs json-c, and this libkhang was built without it",
	                short_name(path));
#else
	kh_alloc def;
	kh_isf_options o;
	char *buf = NULL;
	size_t len = 0, cap = 0;
	int rc;

	if (alloc == NULL) {
		kh_alloc_init(&def, NULL);
		alloc = &def;
	}
	if (opts)
		o = *opts;
	else
		memset(&o, 0, sizeof(o));
	if (o.name == NULL)
		o.name = path;
	size_t max_input = o.max_input ? o.max_input : KH_ISF_DEFAULT_MAX_INPUT;
	FILE *f = fopen(path, "rb");
	if (f == NULL)
		return kh_error(KHANG_EIO, "ISF %s: cannot open the file", path);
	for (;;) {
		if (len == cap) {
			if (cap > max_input) {
				rc = kh_error(KHANG_ELIMIT, "ISF %s: the file is larger than %zu bytes", path, max_input);
				goto fail;
			}
			size_t ncap = cap ? cap * 2 : ((size_t)1 << 20);
			if (ncap > max_input + 1)
				ncap = max_input + 1;
			char *nb = kh_realloc(alloc, buf, ncap);
			if (nb == NULL) {
				rc = KHANG_ENOMEM;
				goto fail;
			}
			buf = nb;
			cap = ncap;
		}
		size_t got = fread(buf + len, 1, cap - len, f);
		len += got;
		if (got == 0) {
			if (ferror(f)) {
				rc = kh_error(KHANG_EIO, "ISF %s: read error", path);
				goto fail;
			}
			break;
		}
	}
	fclose(f);
	f = NULL;
	if (len > max_input) {
		rc = kh_error(KHANG_ELIMIT, "ISF %s: the file is larger than %zu bytes", path, max_input);
		goto fail;
	}
	rc = kh_layout_load_isf_memory(out, alloc, buf, len, &o);
	kh_free(alloc, buf);
	return rc;
fail:
	if (f)
		fclose(f);
	kh_free(alloc, buf);
	return rc;
#endif
}

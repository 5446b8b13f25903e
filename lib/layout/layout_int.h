/*
 * The representation of a layout, shared by layout.c (accessors), isf.c (the
 * ISF loader) and the generated builtin_data.c (the built-in tables).
 * Nothing outside lib/layout includes this file.
 */
#ifndef KH_LAYOUT_INT_H
#define KH_LAYOUT_INT_H

#include "layout.h"

#define KH_LAYOUT_MAGIC 0x594C484Bu /* "KHLY" */

enum kh_layout_flags {
	KH_LAYOUT_F_PAE = 1u << 0,
	KH_LAYOUT_F_PARTIAL = 1u << 1,
	KH_LAYOUT_F_GUID = 1u << 2,
	KH_LAYOUT_F_OWNED = 1u << 3     /* allocated by the ISF loader */
};

/* Spec rows (tools/layout_fields.txt as data). Names are offsets into
 * kh_lay_pool. */
typedef struct kh_struct_spec {
	uint32_t name;       /* "KTHREAD" */
	uint32_t isf_names;  /* "_KTHREAD" or "_KLDR_DATA_TABLE_ENTRY|_LDR_DATA_TABLE_ENTRY" */
	uint32_t synthetic;  /* 1: not in ISF files; values from kh_lay_synthetic_* */
} kh_struct_spec;

typedef struct kh_field_spec {
	uint32_t struct_id;
	uint32_t name;       /* "KTHREAD.State" */
	uint32_t paths;      /* space-separated alternatives, each "[x64:|x86:]A.B[2].C" */
} kh_field_spec;

typedef struct kh_synthetic_field {
	uint32_t field;
	khang_arch arch;
	uint32_t offset;
	uint32_t size;
} kh_synthetic_field;

typedef struct kh_synthetic_size {
	uint32_t struct_id;
	khang_arch arch;
	uint32_t size;
} kh_synthetic_size;

typedef struct kh_enum_spec {
	uint32_t name;       /* "KTHREAD_STATE" */
	uint32_t isf_name;   /* "_KTHREAD_STATE" */
} kh_enum_spec;

typedef struct kh_enum_entry {
	int64_t value;
	uint32_t name;       /* offset into the layout's enum pool */
} kh_enum_entry;

typedef struct kh_enum_ref {
	uint32_t first;      /* index into enum_entries */
	uint32_t count;      /* 0: enum unknown */
} kh_enum_ref;

typedef struct kh_build_entry {
	khang_arch arch;
	uint32_t build;
	uint32_t pae;
	uint32_t layout;     /* index into kh_builtin_layouts */
} kh_build_entry;

typedef struct kh_build_alias {
	khang_arch arch;
	uint32_t build;        /* the build a dump header reports */
	uint32_t kernel_build; /* the build whose kernel it runs */
} kh_build_alias;

/* Full symbol table of an ISF layout. */
typedef struct kh_symtab {
	uint32_t count;        /* symbols usable for rva lookup */
	const uint32_t *rva;   /* sorted by rva, then name */
	const uint32_t *size;  /* distance to the next symbol of the file; 0 unknown */
	const uint32_t *name;  /* offsets into pool */
	const int32_t *fn;     /* kh_fn_id or -1 */
	uint32_t all_count;    /* every named symbol (lookup by name) */
	const uint32_t *all_name;  /* sorted by name: pool offsets */
	const uint32_t *all_rva;
	const char *pool;
} kh_symtab;

struct khang_layout {
	uint32_t magic;
	khang_arch arch;
	uint8_t source;        /* kh_layout_source */
	uint8_t flags;         /* kh_layout_flags */
	uint16_t major, minor;
	uint32_t build, qfe, age;
	uint8_t guid[16];      /* display order; zero without KH_LAYOUT_F_GUID */
	const char *description;
	const char *origin;
	/* field f of struct s: field_base[field_starts[s] + f - kh_lay_struct_first[s]] */
	const kh_field *field_base;
	const uint32_t *field_starts;
	const uint32_t *struct_sizes;      /* KH_STRUCT_COUNT */
	const kh_enum_ref *enum_refs;      /* KH_ENUM_COUNT */
	const kh_enum_entry *enum_entries;
	const char *enum_pool;
	uint32_t enum_borrowed;            /* bit e: enum e borrowed from another build */
	const uint32_t *globals;           /* KH_GLOBAL_COUNT RVAs (0 unknown) or NULL */
	/* built-in GUID layouts: the listed functions sorted by (rva, id) */
	const uint32_t *fn_rva;
	const uint32_t *fn_meta;           /* id << KH_FN_SIZE_BITS | size */
	uint32_t fn_count;
	/* ISF layouts */
	const kh_symtab *symtab;
	const uint32_t *fn_index;          /* KH_FN_COUNT indexes into symtab->all_* or UINT32_MAX */
};

#define KH_FN_SIZE_BITS 22u
#define KH_FN_SIZE_MASK ((1u << KH_FN_SIZE_BITS) - 1u)

/* generated tables (builtin_data.c) */
extern const char kh_lay_pool[];
extern const kh_struct_spec kh_lay_struct_spec[KH_STRUCT_COUNT];
extern const kh_field_spec kh_lay_field_spec[KH_FIELD_COUNT];
extern const uint32_t kh_lay_struct_first[KH_STRUCT_COUNT + 1];
extern const kh_synthetic_field kh_lay_synthetic_fields[];
extern const size_t kh_lay_synthetic_field_count;
extern const kh_synthetic_size kh_lay_synthetic_sizes[];
extern const size_t kh_lay_synthetic_size_count;
extern const kh_enum_spec kh_lay_enum_spec[KH_ENUM_COUNT];
extern const uint32_t kh_lay_global_names[KH_GLOBAL_COUNT];
extern const uint32_t kh_lay_function_names[KH_FN_COUNT];
extern const kh_layout kh_builtin_layouts[KH_BUILTIN_LAYOUT_COUNT];
extern const kh_build_entry kh_builtin_builds[KH_BUILTIN_BUILD_COUNT];
extern const kh_build_alias kh_builtin_aliases[KH_BUILTIN_ALIAS_COUNT];

/* layout.c helpers used by isf.c */
/* The built-in layout to borrow enum `e` from for a kernel of `build`
 * (nearest x64 build that has it), or NULL. */
const kh_layout *kh_layout_enum_donor(kh_enum_id e, uint32_t build);

#endif /* KH_LAYOUT_INT_H */

/*
 * Kernel structure layouts (internal API).
 *
 * A layout gives, for one Windows kernel, the offset, size and bitfield
 * position of every structure field the library reads (ids in fields.h,
 * generated from tools/layout_fields.txt), struct sizes, per-build enum value
 * names, and kernel symbol RVAs (globals and functions).
 *
 * Where layouts come from (see DESIGN.md, layer 4):
 * - built in by kernel PDB GUID+age: the 213 x64 kernels of the shared ISF
 *   collection (Windows 7 SP1 to Windows 11 21H2), with field tables, enum
 *   names, global RVAs and the functions of tools/kernel_functions.txt;
 * - built in by build: one table per x64 build holding the fields that are
 *   identical in every known update of that build (fields that moved between
 *   updates are absent), the 16 x86 kernels (Windows 7 to 10 19041, PAE and
 *   non-PAE), and partial tables for x64 22631 (23H2) and 26100 (24H2) that
 *   hold only KTHREAD/ETHREAD/EPROCESS (plus KWAIT_BLOCK, KAPC_STATE,
 *   DISPATCHER_HEADER on 26100) from hand-transcribed notes; built-in by-build
 *   tables carry no symbols;
 * - an ISF file loaded at run time (kh_layout_load_isf_*), with its full
 *   symbol table.
 * Built-in layouts are static const data: using them allocates nothing, and
 * kh_layout_free() ignores them.
 *
 * Windows-version differences the callers must handle (a field that does not
 * exist on a build is "absent": kh_layout_has() is false):
 * - Wait blocks: Windows 7 (x64 and x86) chains a thread's wait blocks through
 *   KWAIT_BLOCK.NextWaitBlock (circular, from KTHREAD.WaitBlockList);
 *   Windows 8 and later have no NextWaitBlock and use
 *   KTHREAD.WaitBlock[KTHREAD.WaitBlockCount] instead. KWAIT_BLOCK.WaitType,
 *   BlockState, WaitKey, Thread and Object moved between 7 and 8.
 * - KPCR: KH_F_KPCR_Self is x64 KPCR.Self / x86 KPCR.SelfPcr;
 *   KH_F_KPCR_CurrentPrcb is x64 KPCR.CurrentPrcb / x86 KPCR.Prcb (a
 *   pointer); KH_F_KPCR_Prcb is the embedded KPRCB: x64 KPCR.Prcb (0x180),
 *   x86 KPCR.PrcbData (0x120).
 * - KALPC_MESSAGE: Windows 7 has WaitingThread at 0x58, PortQueue 0x68 and
 *   OwnerPort 0x70 (x64); Windows 8 and later 0x20 / 0x10 / 0x18. Always use
 *   the ids. ServerThread exists everywhere; DataSystemVa only on 7.
 * - 24H2 (26100) shrank KPROCESS to 0x1c8 and moved every EPROCESS field; only
 *   the partial table knows them, and it has no KPROCESS fields.
 * - KPRCB: SharedReadyQueue exists from 8.1 (x64) on; CpuType/CpuModel/
 *   CpuStep exist everywhere; MHz moved from 0x5f4 to 0x44 in 1809 (x64).
 * - KTHREAD: NextProcessorNumber (the number part of NextProcessor) exists
 *   from Windows 8 on; Win7's KTHREAD.NextProcessor is the number itself.
 *   KTHREAD.Process exists on every build (also ApcState.Process).
 * - KLDR_DATA_TABLE_ENTRY resolves to _KLDR_DATA_TABLE_ENTRY where it exists
 *   and to _LDR_DATA_TABLE_ENTRY on Windows 7/8 (same offsets for the fields
 *   used).
 * - KSWITCH_FRAME is not in ISF files: its x64 fields are constants (size
 *   0x40, ApcBypass 0x28, Rbp 0x30, Return 0x38); it is absent on x86.
 * - CONTEXT/KTRAP_FRAME register fields exist per architecture (Rip... on
 *   x64, Eip/HardwareEsp... on x86).
 *
 * Thread safety: layouts are immutable after creation; every function here
 * may be called from any thread on a layout that is not being freed.
 */
#ifndef KH_LAYOUT_LAYOUT_H
#define KH_LAYOUT_LAYOUT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "khang/common.h"
#include "khang/layout.h"
#include "fields.h"
#include "util/util.h"

/* The internal name of the public handle. */
typedef struct khang_layout kh_layout;

/* What a field is. KH_FK_ABSENT: not on this build. */
enum kh_field_kind {
	KH_FK_ABSENT = 0,
	KH_FK_INT = 1,       /* integer or character of `size` bytes */
	KH_FK_POINTER = 2,   /* pointer (4 or 8 bytes) */
	KH_FK_STRUCT = 3,    /* embedded struct or union */
	KH_FK_ARRAY = 4,     /* array; size is the whole array */
	KH_FK_BITFIELD = 5,  /* bits [bit_pos, bit_pos + bit_len) of a `size`-byte unit */
	KH_FK_ENUM = 6       /* enumeration of `size` bytes */
};

/* One field of one layout. Invariant for every present field of every
 * layout (built in or loaded): offset + size <= the size of its struct,
 * and for bitfields bit_len >= 1 and bit_pos + bit_len <= 8 * size. */
typedef struct kh_field {
	uint32_t offset;   /* from the start of the struct */
	uint32_t size;     /* bytes (the storage unit for bitfields) */
	uint8_t kind;      /* enum kh_field_kind */
	uint8_t bit_pos;   /* bitfields only */
	uint8_t bit_len;   /* bitfields only; 0 otherwise */
} kh_field;

/* Where a layout came from (same values as khang_layout_source). */
typedef enum kh_layout_source {
	KH_LAYOUT_BUILTIN_GUID = KHANG_LAYOUT_BUILTIN_GUID,
	KH_LAYOUT_BUILTIN_BUILD = KHANG_LAYOUT_BUILTIN_BUILD,
	KH_LAYOUT_BUILTIN_PARTIAL = KHANG_LAYOUT_BUILTIN_PARTIAL,
	KH_LAYOUT_ISF = KHANG_LAYOUT_ISF
} kh_layout_source;

typedef struct kh_layout_info {
	khang_arch arch;
	kh_layout_source source;
	uint16_t major, minor;     /* 10.0, 6.1, ...; 0 when unknown */
	uint32_t build;            /* e.g. 19041; 0 when unknown */
	uint32_t qfe;              /* update revision (e.g. 3570); 0 when unknown */
	bool pae;                  /* x86 PAE kernel */
	bool partial;              /* only some structs are known */
	bool has_guid;
	uint8_t guid[16];          /* display byte order, as in "5278AFF8..." */
	uint32_t age;
	const char *description;   /* "10.0.19041.3570", "6.1.7601 x86 non-PAE", ... */
	const char *origin;        /* where the data came from */
} kh_layout_info;

/* ---- fields and structs ------------------------------------------------- */

/* The field, never NULL: for an absent field (or an id out of range) a field
 * whose kind is KH_FK_ABSENT. O(1). */
const kh_field *kh_layout_field(const kh_layout *l, kh_field_id id);

static inline bool kh_field_present(const kh_field *f)
{
	return f->kind != KH_FK_ABSENT;
}

/* true if the field exists on this layout */
bool kh_layout_has(const kh_layout *l, kh_field_id id);

/* Offset of a present field, or KH_LAYOUT_NO_OFFSET when absent. */
#define KH_LAYOUT_NO_OFFSET UINT32_MAX
uint32_t kh_layout_offset(const kh_layout *l, kh_field_id id);

/* Like kh_layout_field() but fails with KHANG_ENOTFOUND (and an error
 * message naming the field and the layout) when the field is absent. */
int kh_layout_require(const kh_layout *l, kh_field_id id, const kh_field **out);

/* Size of a struct on this layout; 0 when the struct is unknown. For partial
 * layouts a size the notes did not give is a lower bound (the end of the last
 * known field, rounded up to 16). */
uint32_t kh_layout_struct_size(const kh_layout *l, kh_struct_id id);

/* Read an integer field from `buf`, the bytes of the struct (buf[0] is the
 * struct's offset 0; `len` bytes available). Fields of kind INT, POINTER,
 * ENUM (1, 2, 4 or 8 bytes) and BITFIELD are accepted; bitfields are shifted
 * and masked. kh_layout_get_i64 sign-extends (bitfields from bit_len bits).
 * Returns 0, KHANG_ENOTFOUND (absent), KHANG_ERANGE (beyond len) or
 * KHANG_EINVAL (not an integer field). */
int kh_layout_get_u64(const kh_layout *l, kh_field_id id, const void *buf, size_t len, uint64_t *out);
int kh_layout_get_i64(const kh_layout *l, kh_field_id id, const void *buf, size_t len, int64_t *out);

/* "KTHREAD.State", "KTHREAD"; "?" for an id out of range. */
const char *kh_field_name(kh_field_id id);
const char *kh_struct_name(kh_struct_id id);
kh_struct_id kh_field_struct(kh_field_id id);

/* ---- enums ---------------------------------------------------------------- */

/* Name of an enum value on this layout's build ("Waiting", "WrLpcReply"), or
 * NULL when unknown. Enums missing from a layout's source are borrowed from
 * the x64 layout of the nearest build (x86 layouts carry no enums). */
const char *kh_layout_enum_name(const kh_layout *l, kh_enum_id e, int64_t value);
/* Value of a named enum constant; false when unknown. */
bool kh_layout_enum_value(const kh_layout *l, kh_enum_id e, const char *name, int64_t *out);

/* ---- symbols -------------------------------------------------------------- */

/* RVA of a kernel global from the kernel base, or 0 when unknown. */
uint32_t kh_layout_global_rva(const kh_layout *l, kh_global_id id);

/* RVA and size (distance to the next symbol; 0 unknown) of a kernel
 * function; false when unknown. */
bool kh_layout_function(const kh_layout *l, kh_fn_id id, uint32_t *rva, uint32_t *size);

typedef struct kh_symbol {
	const char *name;  /* borrowed from the layout (or static) */
	uint32_t rva;
	uint32_t size;     /* 0 when unknown */
	int32_t fn;        /* kh_fn_id, or -1 when not one of the listed functions */
} kh_symbol;

/* The symbol whose range holds `rva`: built-in GUID layouts know the listed
 * functions, ISF layouts every code symbol of the file (string literals,
 * import and RTTI/vtable symbols are not returned). Among symbols at the same
 * address the first by name is returned. *offset (may be NULL) receives
 * rva - symbol rva. Returns 0 or KHANG_ENOTFOUND (no error message is
 * recorded: a miss is normal). */
int kh_layout_symbol_at(const kh_layout *l, uint64_t rva, kh_symbol *out, uint32_t *offset);
/* Exact name lookup (any symbol of an ISF layout; listed functions and
 * globals of built-in ones). Returns 0 or KHANG_ENOTFOUND. */
int kh_layout_symbol_by_name(const kh_layout *l, const char *name, kh_symbol *out);
/* Number of symbols the layout can look up. */
size_t kh_layout_symbol_count(const kh_layout *l);

const char *kh_fn_name(kh_fn_id id);            /* NULL when out of range */
int kh_fn_lookup(const char *name);            /* kh_fn_id or -1 */
const char *kh_global_name(kh_global_id id);    /* NULL when out of range */
int kh_global_lookup(const char *name);        /* kh_global_id or -1 */

/* ---- metadata ------------------------------------------------------------- */

void kh_layout_get_info(const kh_layout *l, kh_layout_info *out);
bool kh_layout_is_builtin(const kh_layout *l);
/* true when `l` is a valid layout handle (checks the magic value) */
bool kh_layout_valid(const kh_layout *l);

/* GUID helpers. The RSDS record stores the GUID as {u32, u16, u16, u8[8]}
 * little-endian; the display order (and this module's) is the text order. */
void kh_guid_from_rsds(const uint8_t rsds[16], uint8_t out[16]);
/* 32 uppercase hex digits and a NUL */
void kh_guid_format(const uint8_t guid[16], char out[33]);
/* 32 hex digits (either case, nothing else); false when malformed */
bool kh_guid_parse(const char *text, uint8_t out[16]);

/* ---- built-in layouts ------------------------------------------------------- */

/* The built-in layout of a kernel by PDB GUID (as stored in the RSDS record)
 * and age, or NULL. */
const kh_layout *kh_layout_builtin_by_guid(const uint8_t rsds_guid[16], uint32_t age);
/* Same with the GUID in display order / as 32 hex digits. */
const kh_layout *kh_layout_builtin_by_guid_display(const uint8_t guid[16], uint32_t age);
const kh_layout *kh_layout_builtin_by_guid_string(const char *guid32, uint32_t age);

typedef enum kh_layout_match {
	KH_MATCH_EXACT_BUILD = 0,  /* table of this very build (and PAE mode) */
	KH_MATCH_SAME_KERNEL = 1,  /* build runs the kernel of another build (19045 -> 19041) */
	KH_MATCH_OTHER_PAE = 2,    /* x86: same build, the other PAE mode */
	KH_MATCH_NEAREST = 3       /* nearest known build below or above (approximate) */
} kh_layout_match;

typedef struct kh_layout_candidate {
	const kh_layout *layout;
	kh_layout_match match;
} kh_layout_candidate;

/* Built-in by-build layouts that may fit a kernel of this architecture and
 * build. pae: 1, 0, or -1 when unknown (x64 ignores it). Candidates are
 * ordered best first: exact build (newest update first), same kernel, other
 * PAE mode, then - only when no full exact or same-kernel table exists - the
 * nearest lower and higher builds. Partial tables count as exact but never
 * suppress the nearest full tables. Writes up to `max` entries to out (out
 * may be NULL when max is 0) and returns how many candidates exist. */
size_t kh_layout_builtin_candidates(khang_arch arch, uint32_t build, int pae,
                                    kh_layout_candidate *out, size_t max);

/* All built-in layouts: GUID layouts first (sorted by GUID, age), then the
 * by-build ones. */
size_t kh_layout_builtin_count(void);
const kh_layout *kh_layout_builtin_at(size_t index);

/* ---- ISF loading ------------------------------------------------------------ */

#define KH_ISF_DEFAULT_MAX_INPUT ((size_t)256 << 20)   /* bytes read from a file */
#define KH_ISF_DEFAULT_MAX_JSON ((size_t)256 << 20)    /* bytes after decompression */
#define KH_ISF_MAX_STRUCT_SIZE ((uint32_t)1 << 20)     /* largest struct accepted */
#define KH_ISF_MAX_DEPTH 64                            /* JSON nesting */

typedef struct kh_isf_options {
	const char *name;        /* for messages and the description (e.g. the file name); may be NULL */
	uint32_t build_hint;     /* build to assume when the file does not say (0: none) */
	size_t max_input;        /* 0: KH_ISF_DEFAULT_MAX_INPUT */
	size_t max_json;         /* 0: KH_ISF_DEFAULT_MAX_JSON */
} kh_isf_options;

/* Parse a Volatility 3 ISF document (JSON, or JSON compressed with xz) into
 * a new layout owned by the caller (free with kh_layout_free()). alloc may be
 * NULL (C library). opts may be NULL. The fields of tools/layout_fields.txt
 * are resolved exactly as the generator resolves them; the full symbol table
 * is kept for symbolisation.
 * Returns 0, KHANG_EUNSUPPORTED (built without json-c / liblzma, or an
 * architecture other than x86/x64), KHANG_EFORMAT (not JSON / not an ISF),
 * KHANG_ECORRUPT (wrong types, offsets or sizes out of range), KHANG_ELIMIT
 * (input or decompressed size over the limits), KHANG_ENOMEM; on error *out
 * is NULL and the message says what and where. */
int kh_layout_load_isf_memory(kh_layout **out, const kh_alloc *alloc, const void *data, size_t len,
                              const kh_isf_options *opts);
/* Same from a file (also KHANG_EIO). opts->name defaults to the path. */
int kh_layout_load_isf_file(kh_layout **out, const kh_alloc *alloc, const char *path,
                            const kh_isf_options *opts);

/* Free a loaded layout; built-in layouts and NULL are ignored. */
void kh_layout_free(const kh_layout *l);

#endif /* KH_LAYOUT_LAYOUT_H */

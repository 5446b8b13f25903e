/*
 * Kernel discovery (internal): KDBG, kernel image and PDB identity, layout
 * choice and validation, kernel globals, time, and the loaded module list.
 */
#ifndef KH_KERNEL_H
#define KH_KERNEL_H

#include "dump/source_int.h"
#include "khang/kernel.h"
#include "layout/layout.h"
#include "pe/pe.h"

#define KH_KDBG_MAX 0x400

struct khang_module {
	uint64_t base;
	uint32_t size;
	uint32_t timestamp;
	char *name;       /* BaseDllName, UTF-8 */
	char *path;       /* FullDllName, UTF-8 */
	char short_name[64]; /* WinDbg's name: without extension, "nt" for the kernel */
	/* the image's exports, parsed on first use */
	bool pe_tried;
	bool pe_ok;
	kh_pe pe;
	/* the image used for unwinding (images.c): a file from the image path
	 * whose timestamp and size match, else the image in the dump */
	bool uw_tried;
	bool uw_ok;
	bool uw_from_file;
	kh_pe uw;
	uint8_t *uw_file;
	void *uw_ctx;
	/* public symbols from the module's PDB (images.c), found on first use */
	bool pdb_tried;
	struct kh_pdb *pdb;
};

typedef struct kh_kernel {
	int status;                 /* 0, or why there is no kernel view */
	char status_msg[256];       /* the message of that failure */
	bool x86;
	khang_kernel_info info;
	uint8_t kdbg[KH_KDBG_MAX];  /* decoded copy */
	uint32_t kdbg_len;
	const kh_layout *layout;    /* in use, or NULL (limited mode) */
	/* globals (VAs); 0 when unknown */
	uint64_t ps_active_process_head;
	uint64_t ps_loaded_module_list;
	uint64_t ki_processor_block;
	uint64_t alpcp_port_list;
	uint64_t exp_system_resources_list;
	uint64_t mm_available_pages;
	/* modules, sorted by base for lookups; list order kept in order[] */
	khang_module *modules;
	size_t nmodules;
	size_t *by_base;            /* indexes sorted by base */
	uint32_t modules_skipped;
	bool modules_loaded;
	/* unloaded drivers (newest first where known) */
	khang_unloaded_driver *unloaded;
	size_t nunloaded;
	bool unloaded_loaded;
} kh_kernel;

/* The kernel view, discovering it on first use. *out is NULL and the
 * return negative when the dump has no readable kernel address space. */
int kh_kernel_get(khang_source *src, kh_kernel **out);
void kh_kernel_free(khang_source *src);

/* Address of a kernel global: from the layout's RVA + base when known,
 * else from the KDBG block when it has the field; 0 when unknown. */
uint64_t kh_kernel_global(const kh_kernel *k, kh_global_id id);

/* Load the module list (once). */
int kh_kernel_load_modules(khang_source *src, kh_kernel *k);

/* Read a UNICODE_STRING at va into a NUL-terminated UTF-8 string (at most
 * cap - 1 bytes). */
int kh_read_unicode_string(khang_source *src, uint64_t dtb, uint64_t va, char *out, size_t cap);

/* Walk a LIST_ENTRY list from head (bounded by src->max_list, cycle-safe).
 * visit(entry_va, payload) returns 0 to continue, 1 to stop, <0 error.
 * *out_count: entries visited; *out_broken: true if the walk stopped on a
 * bad link (unreadable, cycle, or limit). */
typedef int (*kh_list_visit_fn)(uint64_t entry, void *payload);
int kh_walk_list(khang_source *src, uint64_t head, kh_list_visit_fn visit, void *payload, uint32_t *out_count,
                 bool *out_broken);



/* The PE image to unwind code of module m with (NULL if none is usable). */
kh_pe *kh_module_unwind_image(khang_source *src, khang_module *m);

/* The module's PDB public symbols: the file on the image path (symbol store
 * name.pdb/GUIDAGE/name.pdb, or flat) whose GUID and age equal the image's
 * CodeView record. NULL when there is none (looked for once). */
struct kh_pdb *kh_module_pdb(khang_source *src, khang_module *m);
/* The module holding va (NULL if none). Loads the module list. */
khang_module *kh_kernel_module_at(khang_source *src, uint64_t va);
void kh_module_release(khang_source *src, khang_module *m);

/* Read an integer field (kinds INT, POINTER, ENUM, BITFIELD) of the struct
 * at struct_va. KHANG_ENOTFOUND when the layout lacks the field. */
int kh_read_field(khang_source *src, uint64_t dtb, uint64_t struct_va, const kh_layout *l, kh_field_id id,
                  uint64_t *out);
/* Address of a field of the struct at struct_va (struct_va + offset);
 * 0 when the field is absent. */
uint64_t kh_field_addr(const kh_layout *l, uint64_t struct_va, kh_field_id id);
#endif /* KH_KERNEL_H */

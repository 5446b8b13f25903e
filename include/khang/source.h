/**
 * @file khang/source.h
 * @brief Opening a kernel memory dump, its header information, and physical
 *        and virtual reads.
 *
 * A @ref khang_source is one opened dump. It is opened read-only and never
 * written. Opening builds a compact page index once (O(runs) for full dumps, a
 * rank structure over the bitmap for bitmap dumps); no pass over the pages is
 * made and the dump is never copied into memory.
 *
 * Thread safety: a source keeps a translation cache and must be used by one
 * thread at a time. Distinct sources are independent.
 */
#ifndef KHANG_SOURCE_H
#define KHANG_SOURCE_H

#include "common.h"

KHANG_BEGIN_DECL

/** @brief An opened dump (opaque). */
typedef struct khang_source khang_source;

/** @brief Dump types, the header's DumpType value. */
typedef enum khang_dump_type {
	KHANG_DUMP_UNKNOWN = 0,       /**< not recognised */
	KHANG_DUMP_FULL = 1,          /**< complete memory dump, run-based */
	KHANG_DUMP_SUMMARY = 2,       /**< legacy kernel summary (bitmap) */
	KHANG_DUMP_HEADER = 3,        /**< header only, no memory */
	KHANG_DUMP_TRIAGE = 4,        /**< small memory dump (triage) */
	KHANG_DUMP_BITMAP_FULL = 5,   /**< complete memory dump, bitmap ('FDMP') */
	KHANG_DUMP_BITMAP_KERNEL = 6, /**< kernel/automatic/active dump, bitmap ('SDMP') */
	KHANG_DUMP_AUTOMATIC = 7,     /**< automatic dump */
	KHANG_DUMP_RDMP_8 = 8,        /**< debugger-written 'RDMP' dump, type 8 */
	KHANG_DUMP_RDMP_9 = 9,        /**< debugger-written 'RDMP' dump, type 9 */
	KHANG_DUMP_RDMP_A = 10        /**< debugger-written 'RDMP' dump with range counts */
} khang_dump_type;

/**
 * @brief Name of a dump type ("full", "bitmap-kernel", "triage", ...).
 * @param type any value
 * @return a static string, never NULL. Thread-safe.
 */
KHANG_API const char *khang_dump_type_name(khang_dump_type type);

/** @brief Flags for @ref khang_source_opts.flags. */
enum khang_source_flags {
	/** Read the file with pread() instead of mapping it. */
	KHANG_SOURCE_NO_MMAP = 1u << 0,
	/** Open even if the file is shorter than the header says (it always is
	 *  allowed; with this flag no warning is counted). */
	KHANG_SOURCE_QUIET_TRUNCATION = 1u << 1
};

/**
 * @brief Options for @ref khang_source_open and @ref khang_source_open_memory.
 *
 * Initialise with @ref KHANG_SOURCE_OPTS_INIT or @ref khang_source_opts_init;
 * the library reads only the first @c size bytes, so a program built against
 * an older, smaller structure keeps working.
 */
typedef struct khang_source_opts {
	size_t size;                        /**< sizeof(khang_source_opts) */
	uint32_t flags;                     /**< @ref khang_source_flags */
	const khang_allocator *allocator;   /**< NULL for malloc/realloc/free; copied at open */
	uint32_t tlb_entries;               /**< translation cache entries (0: default 256; 1: disabled) */
	/** Kernel layout to use instead of the built-in tables (e.g. from
	 *  khang_layout_load_isf() for a kernel the library does not know).
	 *  Borrowed: it must outlive the source. NULL: choose automatically. */
	const struct khang_layout *layout;
	/** Longest list walked (modules, processes, threads, ...); 0: 65536. */
	uint32_t max_list_entries;
	/** Where to find module images whose pages are not in the dump (for
	 *  unwinding) and their PDBs (public symbols, for names): directories
	 *  separated by ':', each searched as a symbol store
	 *  (name/TIMESTAMPSIZE/name for images, name.pdb/GUIDAGE/name.pdb for
	 *  PDBs) and flat (name). A file is used only when its timestamp and
	 *  size (images) or GUID and age (PDBs) match the module. NULL: none.
	 *  Copied at open. */
	const char *image_path;
} khang_source_opts;

/** Static initialiser for @ref khang_source_opts. */
#define KHANG_SOURCE_OPTS_INIT KHANG_SIZED_INIT(khang_source_opts)

/**
 * @brief Initialise options to their defaults.
 * @param[out] opts the structure to fill
 * @param size sizeof(*opts) as the caller knows it
 * @return 0, or KHANG_EINVAL if @p opts is NULL or @p size is too small.
 *         Thread-safe.
 */
KHANG_API int khang_source_opts_init(khang_source_opts *opts, size_t size);

/**
 * @brief Open a dump file read-only.
 *
 * @param[out] out receives the new source; set to NULL on failure. Free it
 *             with @ref khang_source_free.
 * @param path file name
 * @param opts options, or NULL for defaults
 * @return 0; KHANG_EINVAL (NULL argument, bad options); KHANG_EIO (cannot
 *         open or read the file); KHANG_EFORMAT (not a kernel dump);
 *         KHANG_ECORRUPT (a header field or index is inconsistent);
 *         KHANG_EUNSUPPORTED (a kind of dump this version cannot read);
 *         KHANG_ENOMEM. A truncated dump opens: the missing tail reads as
 *         KHANG_ENOTPRESENT and a warning is counted.
 * Thread-safe (the new source is not shared).
 */
KHANG_API int khang_source_open(khang_source **out, const char *path,
                                const khang_source_opts *opts);

/**
 * @brief Open a dump held in memory (for fuzzers, bindings and tests).
 *
 * The buffer is not copied: it must stay valid and unchanged until the source
 * is freed. The library never writes to it.
 * @param[out] out receives the new source (NULL on failure)
 * @param data the dump bytes
 * @param len their number
 * @param opts options or NULL
 * @return as @ref khang_source_open, without KHANG_EIO. Thread-safe.
 */
KHANG_API int khang_source_open_memory(khang_source **out, const void *data,
                                       size_t len, const khang_source_opts *opts);

/**
 * @brief Close a source and release everything borrowed from it.
 * @param src the source, or NULL (nothing happens)
 */
KHANG_API void khang_source_free(khang_source *src);

/**
 * @brief Header information of an opened dump.
 *
 * Fill @c size before the call (use @ref KHANG_SOURCE_INFO_INIT); fields past
 * the caller's @c size are not written. Values the header leaves unset
 * ('PAGE' fill) are 0.
 */
typedef struct khang_source_info {
	size_t size;                       /**< sizeof(khang_source_info) */
	khang_arch arch;                   /**< from MachineImageType */
	khang_dump_type dump_type;         /**< DumpType */
	uint32_t machine_type;             /**< raw MachineImageType */
	uint32_t major_version;            /**< 0xF free build, 0xC checked */
	uint32_t build;                    /**< MinorVersion: the Windows build number */
	uint32_t processors;               /**< NumberProcessors */
	int pae;                           /**< x86: 1 if PAE paging, else 0 */
	uint32_t bugcheck_code;            /**< BugCheckCode */
	uint64_t bugcheck_params[4];       /**< BugCheckParameter1..4 */
	uint64_t dtb;                      /**< DirectoryTableBase (kernel CR3) */
	uint64_t pfn_database;             /**< PfnDataBase (VA) */
	uint64_t ps_loaded_module_list;    /**< PsLoadedModuleList (VA) */
	uint64_t ps_active_process_head;   /**< PsActiveProcessHead (VA) */
	uint64_t kd_debugger_data_block;   /**< KdDebuggerDataBlock (VA) */
	uint64_t system_time;              /**< FILETIME of the dump (100 ns since 1601) */
	uint64_t system_uptime;            /**< uptime in 100 ns units */
	uint32_t product_type;             /**< ProductType (1 workstation, 2 DC, 3 server); 0 if unset */
	uint32_t suite_mask;               /**< SuiteMask; 0 if unset */
	uint64_t file_size;                /**< bytes in the file */
	uint64_t pages_indexed;            /**< physical pages the dump claims to hold (bitmap dumps: the header's TotalPresentPages when plausible) */
	uint64_t pages_missing;            /**< of those, pages past the end of the file */
	uint64_t max_pfn;                  /**< one past the highest PFN the index can hold (0 if none) */
	uint32_t header_size;              /**< 0x1000 (32-bit header) or 0x2000 (64-bit) */
	uint32_t warnings;                 /**< problems found at open (see khang_source_warning) */
	char comment[129];                 /**< header Comment, NUL-terminated; "" if unset */
} khang_source_info;

/** Static initialiser for @ref khang_source_info. */
#define KHANG_SOURCE_INFO_INIT KHANG_SIZED_INIT(khang_source_info)

/**
 * @brief Get the header information.
 * @param[out] out filled up to out->size bytes; out->size must be set
 * @param src the source
 * @return 0, or KHANG_EINVAL (NULL, bad handle, out->size too small for the
 *         first fields). Same thread rules as the source.
 */
KHANG_API int khang_source_get_info(khang_source_info *out, const khang_source *src);

/**
 * @brief The raw CONTEXT record saved in the header (the crashing processor's
 *        registers at the time of the dump).
 * @param[out] out receives a pointer into the source (borrowed; valid while
 *             the source lives)
 * @param[out] out_len its size in bytes (1200 for x86 headers, 3000 for x64;
 *             the CONTEXT structure itself is smaller)
 * @param src the source
 * @return 0, or KHANG_EINVAL. Same thread rules as the source.
 */
KHANG_API int khang_source_context_record(const uint8_t **out, size_t *out_len,
                                          const khang_source *src);

/**
 * @brief Number of warnings recorded while opening and using the source.
 * @param src the source
 * @return the count (0 for NULL)
 */
KHANG_API uint32_t khang_source_warning_count(const khang_source *src);

/**
 * @brief One warning's text ("file truncated: 1024 of 4096 pages missing").
 * @param src the source
 * @param index 0 .. khang_source_warning_count() - 1
 * @return a string borrowed from the source, or NULL if @p index is out of range.
 *         Only the first 64 warnings are kept with their text; the count keeps going.
 */
KHANG_API const char *khang_source_warning(const khang_source *src, uint32_t index);

/**
 * @brief Read physical memory.
 *
 * Reads stop at the first byte whose page is not in the dump.
 * @param src the source
 * @param pa physical address
 * @param[out] buf destination of @p len bytes
 * @param len bytes to read
 * @param[out] out_read bytes actually copied (may be NULL)
 * @param[out] out_missing when the result is KHANG_ENOTPRESENT, the physical
 *             address of the first byte not present (may be NULL)
 * @return 0 when all @p len bytes were read; KHANG_ENOTPRESENT when a page is
 *         not in the dump (or past the end of a truncated file);
 *         KHANG_ERANGE when @p pa + @p len overflows; KHANG_EINVAL.
 */
KHANG_API int khang_read_physical(khang_source *src, uint64_t pa, void *buf, size_t len,
                                  size_t *out_read, uint64_t *out_missing);

/**
 * @brief Translate a virtual address to a physical one.
 * @param[out] out the physical address
 * @param src the source
 * @param dtb directory table base (CR3 value) of the address space, or 0 for
 *            the kernel's (the header's DirectoryTableBase)
 * @param va virtual address
 * @return 0; KHANG_ENOTPRESENT (not mapped, paged out, or a page table not in
 *         the dump); KHANG_ERANGE (non-canonical address or an address wider
 *         than the architecture); KHANG_EUNSUPPORTED (architecture without
 *         paging support, e.g. ARM64, or a triage dump with no page tables);
 *         KHANG_EINVAL.
 */
KHANG_API int khang_translate(uint64_t *out, khang_source *src, uint64_t dtb, uint64_t va);

/**
 * @brief Read virtual memory.
 *
 * Reads stop at the first byte that cannot be translated or whose physical
 * page is not in the dump.
 * @param src the source
 * @param dtb address space (CR3), or 0 for the kernel's
 * @param va virtual address
 * @param[out] buf destination of @p len bytes
 * @param len bytes to read
 * @param[out] out_read bytes actually copied (may be NULL)
 * @param[out] out_missing when the result is KHANG_ENOTPRESENT, the virtual
 *             address of the first byte not read (may be NULL)
 * @return 0 when all bytes were read; KHANG_ENOTPRESENT; KHANG_ERANGE;
 *         KHANG_EUNSUPPORTED; KHANG_EINVAL, as @ref khang_translate. On a
 *         triage dump the copies it holds are read (see khang_triage_info).
 */
KHANG_API int khang_read_virtual(khang_source *src, uint64_t dtb, uint64_t va, void *buf,
                                 size_t len, size_t *out_read, uint64_t *out_missing);

/**
 * @brief What a triage (small) dump holds. Fill @c size first
 *        (KHANG_TRIAGE_INFO_INIT).
 *
 * A triage dump has no page tables: its copies of the crashing processor's
 * KPRCB, the current thread and process, the thread's stack and the "data
 * blocks" of extra memory are presented as the kernel address space, so
 * khang_read_virtual() works on them (the DTB is ignored); all other
 * addresses read as KHANG_ENOTPRESENT.
 */
typedef struct khang_triage_info {
	size_t size;              /**< sizeof(khang_triage_info) */
	uint32_t processor;       /**< the crashing processor's number */
	uint64_t prcb;            /**< its KPRCB address (0 if unknown) */
	uint64_t thread;          /**< the current thread (ETHREAD) address */
	uint64_t process;         /**< the current process (EPROCESS), once the kernel layout is known */
	uint64_t top_of_stack;    /**< start of the stack copy */
	uint32_t stack_size;      /**< its size in bytes */
	uint32_t data_blocks;     /**< number of data blocks */
	uint32_t drivers;         /**< entries in the driver list */
	uint32_t size_of_dump;    /**< SizeOfDump from the triage header */
	uint32_t triage_options;  /**< TriageOptions */
} khang_triage_info;

/** Static initialiser for @ref khang_triage_info. */
#define KHANG_TRIAGE_INFO_INIT KHANG_SIZED_INIT(khang_triage_info)

/**
 * @brief Describe a triage dump.
 * @param[out] out filled up to out->size bytes
 * @param src the source
 * @return 0; KHANG_ENOTFOUND if the dump is not a triage dump; KHANG_EINVAL.
 */
KHANG_API int khang_source_triage_info(khang_triage_info *out, const khang_source *src);

/** @brief Counters of the translation cache (for benchmarks and tuning). */
typedef struct khang_tlb_stats {
	uint64_t hits;     /**< translations answered by the cache */
	uint64_t misses;   /**< translations that walked the page tables */
} khang_tlb_stats;

/**
 * @brief Read the translation cache counters.
 * @param[out] out the counters
 * @param src the source
 * @return 0 or KHANG_EINVAL.
 */
KHANG_API int khang_source_tlb_stats(khang_tlb_stats *out, const khang_source *src);

KHANG_END_DECL

#endif /* KHANG_SOURCE_H */

/**
 * @file khang/kernel.h
 * @brief The kernel found in a dump: base, PDB identity, KDBG, the layout in
 *        use and why, loaded modules, and address symbolisation.
 *
 * Discovery runs once, on the first call that needs it: the KDBG block
 * (decoded when Windows stored it encoded), the kernel image at KernBase and
 * its CodeView record, then the layout: the caller's (see
 * khang_source_opts.layout), else the built-in table for the kernel's PDB
 * GUID and age, else the built-in tables for its build. The chosen layout is
 * validated against the dump (KPCR self pointers, KPRCB numbers, current
 * threads' processes on the active process list, thread list back links); a
 * layout that fails is reported and not used.
 *
 * Thread safety: as for the source (one thread at a time per source).
 */
#ifndef KHANG_KERNEL_H
#define KHANG_KERNEL_H

#include "common.h"
#include "layout.h"
#include "source.h"

KHANG_BEGIN_DECL

/** @brief How the layout was validated. */
typedef enum khang_layout_check {
	KHANG_CHECK_NONE = 0,    /**< no layout in use: limited mode */
	KHANG_CHECK_PASSED = 1,  /**< every check that could run passed */
	KHANG_CHECK_PARTIAL = 2, /**< no check failed, but some could not run (pages missing) */
	KHANG_CHECK_FAILED = 3   /**< the caller's layout failed and is used anyway (see note) */
} khang_layout_check;

/**
 * @brief What discovery found. Fill @c size first (KHANG_KERNEL_INFO_INIT).
 */
typedef struct khang_kernel_info {
	size_t size;                      /**< sizeof(khang_kernel_info) */
	uint64_t base;                    /**< kernel image base (KernBase), 0 if not found */
	uint32_t image_size;              /**< SizeOfImage of the kernel, 0 if unknown */
	int has_pdb;                      /**< 1 if the kernel's CodeView record was read */
	char pdb_name[64];                /**< "ntkrnlmp.pdb" */
	char pdb_id[48];                  /**< GUID and age as symbol stores spell them, e.g. "5278AFF86C341677D7D7835C85B7B8441" */
	uint64_t kdbg_address;            /**< VA of KDDEBUGGER_DATA64, 0 if unknown */
	int kdbg_valid;                   /**< 1 if the block's OwnerTag is 'KDBG' (after decoding) */
	int kdbg_was_encoded;             /**< 1 if it had to be decoded */
	const khang_layout *layout;       /**< the layout in use (borrowed), NULL in limited mode */
	khang_layout_check check;         /**< validation result */
	char layout_note[256];            /**< why this layout was chosen, or what failed */
	uint64_t ki_processor_block;      /**< VA of nt!KiProcessorBlock */
	uint64_t ps_active_process_head;  /**< VA of nt!PsActiveProcessHead */
	uint64_t ps_loaded_module_list;   /**< VA of nt!PsLoadedModuleList */
	uint32_t processors;              /**< number of processors */
	uint64_t tick_count;              /**< KUSER_SHARED_DATA tick count at the dump, 0 if unknown */
	uint32_t tick_multiplier;         /**< TickCountMultiplier (ms = ticks * m >> 24), 0 if unknown */
	uint32_t time_increment;          /**< KeTimeIncrement in 100 ns units, 0 if unknown */
} khang_kernel_info;

/** Static initialiser for @ref khang_kernel_info. */
#define KHANG_KERNEL_INFO_INIT KHANG_SIZED_INIT(khang_kernel_info)

/**
 * @brief Discover the kernel (once) and describe it.
 * @param[out] out filled up to out->size bytes
 * @param src the source
 * @return 0 (also in limited mode: see out->check and the source warnings);
 *         KHANG_EINVAL; KHANG_EUNSUPPORTED for dumps without a kernel
 *         address space this version can read (ARM64, triage, header-only);
 *         KHANG_ENOMEM.
 */
KHANG_API int khang_source_kernel_info(khang_kernel_info *out, khang_source *src);

/**
 * @brief Milliseconds between a tick count and the dump's tick count (as
 *        thread wait times are computed).
 * @param src the source
 * @param tick an earlier tick count (e.g. a thread's WaitTime)
 * @return the elapsed milliseconds, or -1 when the dump's tick count is
 *         unknown. The difference is taken modulo 2^32 as the kernel does.
 */
KHANG_API int64_t khang_source_ticks_to_ms(khang_source *src, uint32_t tick);

/** @brief A loaded kernel module (opaque, borrowed from the source). */
typedef struct khang_module khang_module;
/** @brief Iterator over the loaded modules. */
typedef struct khang_module_iter khang_module_iter;

/**
 * @brief Start iterating the loaded modules (PsLoadedModuleList order).
 * @param[out] out the new iterator; free with khang_module_iter_free()
 * @param src the source
 * @return 0; KHANG_EINVAL; KHANG_ENOMEM; KHANG_EUNSUPPORTED as for
 *         khang_source_kernel_info().
 */
KHANG_API int khang_module_iter_new(khang_module_iter **out, khang_source *src);

/**
 * @brief Next module.
 * @param[out] out the module (borrowed from the source)
 * @param it the iterator
 * @return 0, KHANG_ITEROVER at the end, or KHANG_EINVAL.
 */
KHANG_API int khang_module_next(const khang_module **out, khang_module_iter *it);

/**
 * @brief Free an iterator.
 * @param it the iterator, or NULL (nothing happens)
 */
KHANG_API void khang_module_iter_free(khang_module_iter *it);

/**
 * @brief Entries of the module list that could not be read (skipped).
 * @param it the iterator
 * @return the number skipped so far, 0 if the walk was complete (and for NULL).
 */
KHANG_API uint32_t khang_module_iter_skipped(const khang_module_iter *it);

/**
 * @brief File name of a module.
 * @param m the module
 * @return "ntoskrnl.exe", "TmXPFlt.sys", ...; borrowed from the source, never NULL.
 */
KHANG_API const char *khang_module_name(const khang_module *m);
/**
 * @brief Full path of a module as the kernel recorded it.
 * @param m the module
 * @return "\\SystemRoot\\system32\\...", borrowed from the source; may be "", never NULL.
 */
KHANG_API const char *khang_module_path(const khang_module *m);
/**
 * @brief Image base of a module.
 * @param m the module
 * @return the virtual address of its image.
 */
KHANG_API uint64_t khang_module_base(const khang_module *m);
/**
 * @brief Size of a module's image.
 * @param m the module
 * @return SizeOfImage in bytes.
 */
KHANG_API uint32_t khang_module_size(const khang_module *m);
/**
 * @brief Link timestamp of a module.
 * @param m the module
 * @return the TimeDateStamp from the module list entry (0 if unknown).
 */
KHANG_API uint32_t khang_module_timestamp(const khang_module *m);

/**
 * @brief A driver the kernel unloaded before the dump. Fill @c size first
 *        (KHANG_UNLOADED_DRIVER_INIT).
 *
 * A return address in an unloaded driver's range is the classic sign of a
 * driver that left a callback, timer or DPC behind when it unloaded.
 */
typedef struct khang_unloaded_driver {
	size_t size;          /**< sizeof(khang_unloaded_driver) */
	char name[64];        /**< file name (UTF-8); triage dumps keep at most 12 characters */
	uint64_t start;       /**< first address of the image it occupied */
	uint64_t end;         /**< end of that image (exclusive) */
	uint64_t unload_time; /**< when it unloaded (FILETIME: 100 ns since 1601), 0 if unknown (triage dumps) */
} khang_unloaded_driver;

/** Static initialiser for @ref khang_unloaded_driver. */
#define KHANG_UNLOADED_DRIVER_INIT KHANG_SIZED_INIT(khang_unloaded_driver)

/**
 * @brief Number of unloaded drivers the dump records (read once, cached).
 *
 * Triage dumps carry their own list; other dumps are read through
 * nt!MmUnloadedDrivers (a ring of 50 entries) and nt!MmLastUnloadedDriver,
 * newest first. Unreadable or implausible entries are skipped with a source
 * warning.
 * @param src the source
 * @param[out] count the number of entries (0 when the kernel keeps none or
 *             they cannot be read)
 * @return 0; KHANG_EINVAL; KHANG_EUNSUPPORTED when the dump has no kernel
 *         view (see khang_source_kernel_info()); KHANG_ENOMEM.
 */
KHANG_API int khang_source_unloaded_driver_count(khang_source *src, size_t *count);

/**
 * @brief One unloaded driver.
 * @param[out] out filled up to out->size bytes
 * @param src the source
 * @param index 0 .. count - 1 (newest first where the dump tells the order)
 * @return 0; KHANG_EINVAL (also for a bad out->size); KHANG_ENOTFOUND when
 *         index is out of range; the errors of
 *         khang_source_unloaded_driver_count().
 */
KHANG_API int khang_source_unloaded_driver(khang_unloaded_driver *out, khang_source *src, size_t index);

/**
 * @brief The unloaded driver whose former range holds an address.
 * @param[out] out filled up to out->size bytes
 * @param src the source
 * @param va the address (e.g. a return address in no loaded module)
 * @return 0; KHANG_ENOTFOUND when no entry holds it; the errors of
 *         khang_source_unloaded_driver_count().
 */
KHANG_API int khang_source_unloaded_driver_at(khang_unloaded_driver *out, khang_source *src, uint64_t va);

/**
 * @brief The module whose image holds an address.
 * @param[out] out the module (borrowed)
 * @param src the source
 * @param va a kernel address
 * @return 0, KHANG_ENOTFOUND, KHANG_EINVAL.
 */
KHANG_API int khang_source_module_at(const khang_module **out, khang_source *src, uint64_t va);

/**
 * @brief Text for an address as WinDbg shows it:
 *        "nt!KeWaitForSingleObject+0x377" when a name is known (kernel
 *        symbols of the layout, module exports), "TmXPFlt+0x1bce3" when only
 *        the module is, "<Unloaded_dam.sys>+0x40" in the former range of
 *        an unloaded driver, else the address in hex.
 * @param[out] buf receives the NUL-terminated text (truncated to fit)
 * @param len size of @p buf
 * @param src the source
 * @param va the address
 * @return the length of the full text (like snprintf), or a negative code
 *         (KHANG_EINVAL).
 */
KHANG_API int khang_source_symbolize(char *buf, size_t len, khang_source *src, uint64_t va);

KHANG_END_DECL

#endif /* KHANG_KERNEL_H */

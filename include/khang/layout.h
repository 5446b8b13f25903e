/**
 * @file khang/layout.h
 * @brief Kernel structure layouts: built-in tables and Volatility 3 ISF files.
 *
 * A @ref khang_layout describes one Windows kernel: where the fields of the
 * kernel structures the library reads lie (KPRCB, KTHREAD, EPROCESS, ALPC
 * ports, ...), the names of enum values of that build, and kernel symbol
 * RVAs. The library carries built-in layouts for the kernels it knows (every
 * x64 kernel of its ISF collection by PDB GUID, and per build for x64 and x86)
 * and can load a Volatility 3 ISF file (JSON, or xz-compressed JSON) for a
 * kernel it does not know, e.g. a newer Windows 11 build.
 *
 * Built-in layouts are static: they are borrowed, never freed. Layouts loaded
 * from ISF files belong to the caller (free with @ref khang_layout_free).
 *
 * Thread safety: a layout never changes after creation; all functions here
 * may be called from several threads at once on the same layout, as long as
 * it is not being freed.
 */
#ifndef KHANG_LAYOUT_H
#define KHANG_LAYOUT_H

#include "common.h"

KHANG_BEGIN_DECL

/** @brief A kernel structure layout (opaque). */
typedef struct khang_layout khang_layout;

/** @brief Where a layout comes from. */
typedef enum khang_layout_source {
	KHANG_LAYOUT_BUILTIN_GUID = 1,    /**< built in, exact kernel (PDB GUID and age) */
	KHANG_LAYOUT_BUILTIN_BUILD = 2,   /**< built in, by Windows build: approximate */
	KHANG_LAYOUT_BUILTIN_PARTIAL = 3, /**< built in, by build, only some structures known */
	KHANG_LAYOUT_ISF = 4              /**< loaded from an ISF file by the caller */
} khang_layout_source;

/**
 * @brief Load a Volatility 3 ISF file (.json or .json.xz).
 *
 * The file is checked before use: a structure larger than 1 MiB, a field
 * outside its structure, a wrong JSON type or an oversized input (256 MiB
 * read, 256 MiB after decompression) is an error, never a crash.
 *
 * @param[out] out receives the new layout, NULL on failure. Free it with
 *             @ref khang_layout_free.
 * @param path the file name
 * @return 0; KHANG_EINVAL (NULL argument); KHANG_EIO (cannot read the file);
 *         KHANG_EUNSUPPORTED (the library was built without json-c or
 *         liblzma, or the file describes another architecture than x86/x64);
 *         KHANG_EFORMAT (not JSON, or not an ISF document); KHANG_ECORRUPT
 *         (a value has the wrong type or is out of range); KHANG_ELIMIT (the
 *         input is too large); KHANG_ENOMEM. @ref khang_error_last says what
 *         and where. Thread-safe.
 */
KHANG_API int khang_layout_load_isf(khang_layout **out, const char *path);

/**
 * @brief Load an ISF document held in memory (JSON or xz-compressed JSON).
 * @param[out] out receives the new layout (NULL on failure)
 * @param data the document; it is not kept after the call
 * @param len its size in bytes
 * @return as @ref khang_layout_load_isf, without KHANG_EIO. Thread-safe.
 */
KHANG_API int khang_layout_load_isf_memory(khang_layout **out, const void *data, size_t len);

/**
 * @brief Find the built-in layout of a kernel by its PDB identity.
 * @param[out] out receives a borrowed, static layout (NULL when not found);
 *             do not free it (@ref khang_layout_free ignores it)
 * @param pdb_guid the kernel PDB GUID as 32 hexadecimal digits, with or
 *        without braces and dashes ("5278AFF86C341677D7D7835C85B7B844")
 * @param age the PDB age
 * @return 0; KHANG_EINVAL (NULL argument or malformed GUID); KHANG_ENOTFOUND
 *         (no built-in layout for this kernel). Thread-safe.
 */
KHANG_API int khang_layout_builtin(const khang_layout **out, const char *pdb_guid, uint32_t age);

/**
 * @brief Release a layout loaded from an ISF file.
 * @param layout the layout; NULL and built-in layouts are ignored
 */
KHANG_API void khang_layout_free(khang_layout *layout);

/**
 * @brief A one-line description, e.g. "10.0.19041.3570" or
 *        "ISF ntkrnlmp.json.xz: 10.0.22621.2428 x64".
 * @param layout a layout
 * @return a string owned by the layout; "" for an invalid handle. Thread-safe.
 */
KHANG_API const char *khang_layout_description(const khang_layout *layout);

/**
 * @brief Where the layout comes from.
 * @param layout a layout
 * @return a @ref khang_layout_source value, or 0 for an invalid handle.
 */
KHANG_API khang_layout_source khang_layout_source_kind(const khang_layout *layout);

/**
 * @brief Processor architecture of the kernel the layout describes.
 * @param layout a layout
 * @return KHANG_ARCH_X86 or KHANG_ARCH_X64; KHANG_ARCH_UNKNOWN for an
 *         invalid handle.
 */
KHANG_API khang_arch khang_layout_arch(const khang_layout *layout);

/**
 * @brief Windows build number of the kernel (e.g. 19041).
 * @param layout a layout
 * @return the build, or 0 when unknown (an ISF file whose kernel is neither
 *         named in the file nor built in) or for an invalid handle.
 */
KHANG_API uint32_t khang_layout_build(const khang_layout *layout);

/**
 * @brief The kernel's PDB identity as text, "GUID-age"
 *        ("5278AFF86C341677D7D7835C85B7B844-1").
 * @param layout a layout
 * @param[out] buf receives the NUL-terminated text
 * @param size bytes available in @p buf (at least 45 always suffice)
 * @return 0; KHANG_EINVAL (invalid handle or NULL buf); KHANG_ENOTFOUND (the
 *         layout has no GUID: by-build tables, x86 tables); KHANG_EBUFSIZE
 *         (buf too small). Thread-safe.
 */
KHANG_API int khang_layout_guid(const khang_layout *layout, char *buf, size_t size);

/**
 * @brief Number of kernel symbols the layout can name (functions and
 *        variables used for symbolisation).
 * @param layout a layout
 * @return the count; 0 for by-build tables and invalid handles.
 */
KHANG_API size_t khang_layout_symbol_count(const khang_layout *layout);

KHANG_END_DECL

#endif /* KHANG_LAYOUT_H */

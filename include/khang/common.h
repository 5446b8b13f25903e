/**
 * @file khang/common.h
 * @brief Export macros, basic types and conventions shared by every libkhang header.
 *
 * Conventions used throughout the API:
 * - Functions return 0 on success or a negative @c KHANG_E* code
 *   (see khang/errors.h); iterators' @c _next functions also return
 *   @ref KHANG_ITEROVER at the end.
 * - The output parameter comes first and is named @c out.
 * - Objects obtained from a @ref khang_source are borrowed: they stay valid as
 *   long as the source and must not be freed by the caller.
 * - Every @c _free function accepts NULL.
 * - A source and everything borrowed from it must be used by one thread at a
 *   time. Different sources may be used from different threads concurrently.
 */
#ifndef KHANG_COMMON_H
#define KHANG_COMMON_H

#include <stddef.h>
#include <stdint.h>

/**
 * @def KHANG_API
 * @brief Marks a function exported by the shared library (visibility
 *        "default"; dllexport/dllimport on Windows, none with KHANG_STATIC).
 */
#if defined(_WIN32) || defined(__CYGWIN__)
#  if defined(KHANG_BUILDING_LIBRARY) && !defined(KHANG_STATIC)
#    define KHANG_API __declspec(dllexport)
#  elif !defined(KHANG_STATIC)
#    define KHANG_API __declspec(dllimport)
#  else
#    define KHANG_API
#  endif
#elif defined(__GNUC__) && __GNUC__ >= 4
#  define KHANG_API __attribute__((visibility("default")))
#else
#  define KHANG_API
#endif

/**
 * @def KHANG_DEPRECATED
 * @brief Marks a declaration that will be removed; the compiler warns on use.
 */
#if defined(__GNUC__) || defined(__clang__)
#  define KHANG_DEPRECATED __attribute__((deprecated))
#else
#  define KHANG_DEPRECATED
#endif

/**
 * @def KHANG_SIZED_INIT(type)
 * @brief Initialiser of a structure whose first member is `size_t size`, used
 *        by every *_INIT macro. Designated, so -Wextra builds stay quiet; C++
 *        before C++20 has no designated initialisers.
 */
#if defined(__cplusplus)
namespace khang_detail {
/* A value-initialised T with its size member set (no designated
 * initialisers before C++20, and g++ warns about them under -Wextra). */
template <typename T> inline T sized_init() { T v = T(); v.size = sizeof(T); return v; }
}
#  define KHANG_SIZED_INIT(type) (::khang_detail::sized_init<type>())
#else
#  define KHANG_SIZED_INIT(type) { .size = sizeof(type) }
#endif

/**
 * @def KHANG_BEGIN_DECL
 * @brief Opens the declarations of a header (`extern "C" {` in C++).
 * @def KHANG_END_DECL
 * @brief Closes what @ref KHANG_BEGIN_DECL opened.
 */
#ifdef __cplusplus
#  define KHANG_BEGIN_DECL extern "C" {
#  define KHANG_END_DECL }
#else
#  define KHANG_BEGIN_DECL
#  define KHANG_END_DECL
#endif

KHANG_BEGIN_DECL

/**
 * @brief Memory allocation hooks.
 *
 * Give them in @ref khang_source_opts to route every allocation the library
 * makes for that source through your own allocator (tests use this to fail the
 * n-th allocation). All three functions must be set, or the structure pointer
 * left NULL for the C library's malloc/realloc/free.
 */
typedef struct khang_allocator {
	/** Allocate @p size bytes; return NULL on failure. */
	void *(*malloc_fn)(size_t size, void *payload);
	/** Resize @p ptr (NULL allowed) to @p size bytes; NULL on failure. */
	void *(*realloc_fn)(void *ptr, size_t size, void *payload);
	/** Release @p ptr (NULL allowed). */
	void (*free_fn)(void *ptr, void *payload);
	/** Passed unchanged to every hook. */
	void *payload;
} khang_allocator;

/** @brief Processor architecture of the dumped system. */
typedef enum khang_arch {
	KHANG_ARCH_UNKNOWN = 0, /**< not recognised */
	KHANG_ARCH_X86 = 1,     /**< 32-bit x86 (MachineImageType 0x14C) */
	KHANG_ARCH_X64 = 2,     /**< x86-64 (MachineImageType 0x8664) */
	KHANG_ARCH_ARM64 = 3    /**< ARM64 (0xAA64): header only for now */
} khang_arch;

/**
 * @brief Name of an architecture ("x86", "x64", "arm64" or "unknown").
 * @param arch any value
 * @return a static string; never NULL. Thread-safe.
 */
KHANG_API const char *khang_arch_name(khang_arch arch);

KHANG_END_DECL

#endif /* KHANG_COMMON_H */

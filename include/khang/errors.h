/**
 * @file khang/errors.h
 * @brief Error codes, their descriptions and the per-thread last error message.
 *
 * Codes are stable: a code is never renumbered or reused.
 */
#ifndef KHANG_ERRORS_H
#define KHANG_ERRORS_H

#include "common.h"

KHANG_BEGIN_DECL

/** @brief Return codes. 0 is success; errors are negative. */
typedef enum khang_error_code {
	KHANG_OK = 0,               /**< success */
	KHANG_EINVAL = -1,          /**< invalid argument (NULL handle, bad option, wrong handle kind) */
	KHANG_ENOMEM = -2,          /**< allocation failed */
	KHANG_EIO = -3,             /**< the operating system failed to open, map or read a file */
	KHANG_EFORMAT = -4,         /**< not a file of a recognised format (bad signature) */
	KHANG_ECORRUPT = -5,        /**< recognised format, but a field is inconsistent or out of range */
	KHANG_EUNSUPPORTED = -6,    /**< valid input this build or version cannot handle */
	KHANG_ENOTPRESENT = -7,     /**< the data is not in the dump (page missing, paged out, truncated) */
	KHANG_ENOTFOUND = -8,       /**< the item asked for does not exist */
	KHANG_ERANGE = -9,          /**< a size, count or address is out of range or overflows */
	KHANG_ELIMIT = -10,         /**< a configured limit (list length, frames, ...) was reached */
	KHANG_EBUFSIZE = -11,       /**< the caller's buffer is too small */
	KHANG_ITEROVER = -31        /**< an iterator has no more items (not an error) */
} khang_error_code;

/**
 * @brief Short English description of a return code.
 * @param code any integer
 * @return a static string, never NULL ("unknown error" for an unknown code).
 *         Thread-safe.
 */
KHANG_API const char *khang_strerror(int code);

/**
 * @brief The message of the last error raised by a libkhang call in this thread.
 *
 * The message carries context, e.g.
 * "read_virtual 0xfffff80000001000: page 0x1234 not in dump".
 * It is set when a function returns an error and is left unchanged by
 * successful calls.
 * @return a per-thread string owned by the library, valid until the next
 *         libkhang call in this thread; "" when no error was raised yet.
 *         Thread-safe (each thread has its own).
 */
KHANG_API const char *khang_error_last(void);

/**
 * @brief The code of the last error raised in this thread.
 * @return a negative KHANG_E* code, or 0 if none was raised (or since
 *         khang_error_clear()). Thread-safe (each thread has its own).
 */
KHANG_API int khang_error_last_code(void);

/** @brief Forget this thread's last error. Thread-safe. */
KHANG_API void khang_error_clear(void);

KHANG_END_DECL

#endif /* KHANG_ERRORS_H */

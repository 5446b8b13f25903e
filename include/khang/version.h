/**
 * @file khang/version.h
 * @brief Library version. CMake reads the project version from this file.
 */
#ifndef KHANG_VERSION_H
#define KHANG_VERSION_H

#include "common.h"

/** Major version: incompatible API changes. */
#define KHANG_VERSION_MAJOR 0
/** Minor version: additions. */
#define KHANG_VERSION_MINOR 1
/** Patch version: fixes. */
#define KHANG_VERSION_PATCH 0
/** The version as a string, "MAJOR.MINOR.PATCH". */
#define KHANG_VERSION_STRING "0.1.0"
/** The version as one comparable number. */
#define KHANG_VERSION_NUMBER (KHANG_VERSION_MAJOR * 10000 + KHANG_VERSION_MINOR * 100 + KHANG_VERSION_PATCH)

KHANG_BEGIN_DECL

/**
 * @brief Version of the library actually linked, which may differ from the
 *        headers compiled against.
 * @param[out] major may be NULL
 * @param[out] minor may be NULL
 * @param[out] patch may be NULL
 * @return the version string, static. Thread-safe.
 */
KHANG_API const char *khang_version(int *major, int *minor, int *patch);

KHANG_END_DECL

#endif /* KHANG_VERSION_H */

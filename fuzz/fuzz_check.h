/* Invariant checks for fuzz targets: always on (unlike assert(), which
 * release builds compile out), so the corpus replay under ctest checks the
 * same invariants as the fuzzer. */
#ifndef KH_FUZZ_CHECK_H
#define KH_FUZZ_CHECK_H

#include <stdio.h>
#include <stdlib.h>

#define FUZZ_CHECK(cond)                                                                      \
	do {                                                                                  \
		if (!(cond)) {                                                                \
			fprintf(stderr, "%s:%d: invariant failed: %s\n", __FILE__, __LINE__, #cond); \
			abort();                                                              \
		}                                                                             \
	} while (0)

#endif /* KH_FUZZ_CHECK_H */

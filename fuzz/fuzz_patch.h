/* The input format of the fuzz targets that mutate a well-formed base dump
 * (fuzz_walk, fuzz_alpc): after the target's own header bytes, records of
 * {u32 offset, u8 length-1 (mod 16), bytes} patched over the dump's page
 * data (offsets wrap inside it, so every input hits real structures). */
#ifndef KH_FUZZ_PATCH_H
#define KH_FUZZ_PATCH_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_check.h"

/* A malloc'd copy of base (len bytes, pages from first_page) with the
 * records of data[pos..size) applied. */
static inline uint8_t *fuzz_patched_copy(const uint8_t *base, size_t len, uint64_t first_page, const uint8_t *data,
                                         size_t size, size_t pos)
{
	uint8_t *dump = malloc(len);
	FUZZ_CHECK(dump != NULL);
	memcpy(dump, base, len);
	uint64_t area = len - first_page;
	while (area && pos + 5 <= size) {
		uint32_t off = (uint32_t)data[pos] | (uint32_t)data[pos + 1] << 8 | (uint32_t)data[pos + 2] << 16 |
		               (uint32_t)data[pos + 3] << 24;
		size_t n = (size_t)(data[pos + 4] % 16) + 1;
		pos += 5;
		if (n > size - pos)
			n = size - pos;
		uint64_t at = first_page + off % area;
		if (n > len - at)
			n = (size_t)(len - at);
		memcpy(dump + at, data + pos, n);
		pos += n;
	}
	return dump;
}

#endif /* KH_FUZZ_PATCH_H */

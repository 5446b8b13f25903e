/*
 * Fuzz the ISF loader: any bytes (JSON or xz) go to kh_layout_load_isf_memory.
 * Invariants checked on every accepted layout (abort() otherwise, also in
 * release builds):
 * - every present field lies inside its struct, every struct is at most
 *   KH_ISF_MAX_STRUCT_SIZE bytes, bitfields fit their unit;
 * - reading every integer field out of a zeroed struct image of the struct's
 *   size succeeds (so code that reads `struct size` bytes and then fields can
 *   never read out of bounds);
 * - enum names, symbol lookups by address and by name return consistent,
 *   NUL-terminated data;
 * and on every rejected input: the code is one of the documented errors, no
 * layout is returned and a message is set.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "layout/layout.h"

#define CHECK(cond)                                                                   \
	do {                                                                          \
		if (!(cond)) {                                                        \
			fprintf(stderr, "fuzz_isf: check failed: %s (line %d)\n", #cond, __LINE__); \
			abort();                                                      \
		}                                                                     \
	} while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uint8_t image[KH_ISF_MAX_STRUCT_SIZE];

static void check_layout(const kh_layout *l, const uint8_t *data, size_t size)
{
	kh_layout_info info;

	kh_layout_get_info(l, &info);
	CHECK(info.arch == KHANG_ARCH_X86 || info.arch == KHANG_ARCH_X64);
	CHECK(info.source == KH_LAYOUT_ISF);
	CHECK(info.description != NULL && info.origin != NULL);
	for (int s = 0; s < KH_STRUCT_COUNT; s++)
		CHECK(kh_layout_struct_size(l, (kh_struct_id)s) <= KH_ISF_MAX_STRUCT_SIZE);
	for (int f = 0; f < KH_FIELD_COUNT; f++) {
		const kh_field *fld = kh_layout_field(l, (kh_field_id)f);
		if (!kh_field_present(fld))
			continue;
		uint32_t ssize = kh_layout_struct_size(l, kh_field_struct((kh_field_id)f));
		CHECK((uint64_t)fld->offset + fld->size <= ssize);
		CHECK(fld->kind <= KH_FK_ENUM);
		if (fld->kind == KH_FK_BITFIELD)
			CHECK(fld->bit_len >= 1 && (unsigned)fld->bit_pos + fld->bit_len <= 8u * fld->size);
		uint64_t v;
		int rc = kh_layout_get_u64(l, (kh_field_id)f, image, ssize, &v);
		CHECK(rc == 0 || rc == KHANG_EINVAL);
		if (rc == 0)
			CHECK(v == 0);
	}
	for (int e = 0; e < KH_ENUM_COUNT; e++) {
		for (int64_t v = -1; v < 48; v++) {
			const char *n = kh_layout_enum_name(l, (kh_enum_id)e, v);
			int64_t back;
			if (n != NULL) {
				CHECK(strlen(n) < 4096);
				CHECK(kh_layout_enum_value(l, (kh_enum_id)e, n, &back));
			}
		}
	}
	/* symbols: probe addresses taken from the input and every function */
	for (size_t i = 0; i + 4 <= size && i < 64; i += 4) {
		uint32_t rva = (uint32_t)data[i] | (uint32_t)data[i + 1] << 8 | (uint32_t)data[i + 2] << 16 |
		               (uint32_t)data[i + 3] << 24;
		kh_symbol s;
		uint32_t off;
		if (kh_layout_symbol_at(l, rva, &s, &off) == 0) {
			CHECK(s.name != NULL);
			CHECK(s.rva + off == rva);
			CHECK(off == 0 || off < s.size);
			kh_symbol t;
			CHECK(kh_layout_symbol_by_name(l, s.name, &t) == 0);
		}
	}
	for (int f = 0; f < KH_FN_COUNT; f++) {
		uint32_t rva, fsize;
		if (kh_layout_function(l, (kh_fn_id)f, &rva, &fsize)) {
			kh_symbol s;
			CHECK(kh_layout_symbol_at(l, rva, &s, NULL) == 0);
			CHECK(s.rva == rva);
		}
	}
	for (int g = 0; g < KH_GLOBAL_COUNT; g++)
		(void)kh_layout_global_rva(l, (kh_global_id)g);
	(void)kh_layout_symbol_count(l);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	kh_layout *l = NULL;
	/* small limits keep each run fast; the loader's logic is the same */
	kh_isf_options opts = { "fuzz", 0, (size_t)1 << 20, (size_t)4 << 20 };
	int rc = kh_layout_load_isf_memory(&l, NULL, data, size, &opts);

	if (rc != 0) {
		CHECK(l == NULL);
		CHECK(rc == KHANG_EFORMAT || rc == KHANG_ECORRUPT || rc == KHANG_EUNSUPPORTED ||
		      rc == KHANG_ELIMIT || rc == KHANG_ENOMEM);
		CHECK(khang_error_last()[0] != '\0');
		return 0;
	}
	CHECK(l != NULL);
	check_layout(l, data, size);
	kh_layout_free(l);
	return 0;
}

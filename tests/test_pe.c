/* PE parser: synthetic images from fg_pe, the real amdppm.sys / Wdf01000.sys
 * from ../shared/realdumps/symbols, and malformed headers. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <cmocka.h>

#include "pe/pe.h"
#include "fg_pe.h"

static const uint8_t GUID[16] = { 0xf8, 0xaf, 0x78, 0x52, 0x34, 0x6c, 0x77, 0x16,
                                  0xd7, 0xd7, 0x83, 0x5c, 0x85, 0xb7, 0xb8, 0x44 };

static uint8_t *build_sample(size_t *len)
{
	fg_pe *b = fg_pe_new(true, 0xfffff8047ba00000ull, 0x3000);
	assert_non_null(b);
	fg_pe_set_codeview(b, GUID, 1, "ntkrnlmp.pdb");
	assert_int_equal(fg_pe_add_export(b, "KeBugCheckEx", 0x1100), 0);
	assert_int_equal(fg_pe_add_export(b, "KeWaitForSingleObject", 0x1800), 0);
	assert_int_equal(fg_pe_add_export(b, "IofCallDriver", 0x2400), 0);
	assert_int_equal(fg_pe_add_runtime_function(b, 0x1800, 0x1900, 0x3000), 0);
	assert_int_equal(fg_pe_add_runtime_function(b, 0x1100, 0x1180, 0x3010), 0);
	assert_int_equal(fg_pe_add_runtime_function(b, 0x2400, 0x2480, 0x3020), 0);
	uint8_t *img;
	assert_int_equal(fg_pe_build(b, &img, len), 0);
	fg_pe_free(b);
	return img;
}

static void test_synthetic(void **state)
{
	kh_alloc a;
	kh_pe pe;
	kh_pe_codeview cv;
	kh_pe_runtime_function rf;
	char g[64];
	uint32_t off, rva;
	size_t len;
	(void)state;

	uint8_t *img = build_sample(&len);
	kh_alloc_init(&a, NULL);
	assert_int_equal(kh_pe_open_buffer(&pe, &a, img, len), 0);
	assert_true(pe.is64);
	assert_int_equal(pe.machine, 0x8664);
	assert_int_equal(pe.image_base, 0xfffff8047ba00000ull);
	assert_int_equal(pe.size_of_image, len);
	assert_int_equal(pe.nsections, 2);
	assert_int_equal(kh_pe_codeview_info(&pe, &cv), 0);
	kh_pe_guid_string(cv.guid, cv.age, g, sizeof(g));
	assert_string_equal(g, "5278AFF86C341677D7D7835C85B7B8441");
	assert_string_equal(cv.pdb_name, "ntkrnlmp.pdb");

	assert_int_equal(kh_pe_load_exports(&pe), 0);
	assert_int_equal(pe.nexports, 3);
	assert_string_equal(kh_pe_export_lookup(&pe, 0x1877, &off), "KeWaitForSingleObject");
	assert_int_equal(off, 0x77);
	assert_null(kh_pe_export_lookup(&pe, 0x1000, &off));
	assert_int_equal(kh_pe_export_find(&pe, "IofCallDriver", &rva), 0);
	assert_int_equal(rva, 0x2400);
	assert_int_equal(kh_pe_export_find(&pe, "Nope", &rva), KHANG_ENOTFOUND);

	assert_int_equal(kh_pe_runtime_function_count(&pe), 3);
	assert_int_equal(kh_pe_runtime_function_find(&pe, 0x18ff, &rf), 0);
	assert_int_equal(rf.begin, 0x1800);
	assert_int_equal(rf.unwind, 0x3000);
	assert_int_equal(kh_pe_runtime_function_find(&pe, 0x1900, &rf), KHANG_ENOTFOUND);
	assert_int_equal(kh_pe_runtime_function_find(&pe, 0x2400, &rf), 0);
	kh_pe_close(&pe);
	free(img);
}

static void test_malformed(void **state)
{
	kh_alloc a;
	kh_pe pe;
	size_t len;
	(void)state;
	kh_alloc_init(&a, NULL);

	uint8_t *img = build_sample(&len);
	/* every truncation either fails cleanly or parses */
	for (size_t cut = 0; cut < 0x400; cut += 7) {
		int rc = kh_pe_open_buffer(&pe, &a, img, cut);
		assert_true(rc == 0 || rc < 0);
		kh_pe_close(&pe);
	}
	uint8_t *bad = malloc(len);
	memcpy(bad, img, len);
	bad[0] = 'X';
	assert_int_equal(kh_pe_open_buffer(&pe, &a, bad, len), KHANG_EFORMAT);
	kh_pe_close(&pe);
	memcpy(bad, img, len);
	bad[0x3C] = 0xFF; bad[0x3D] = 0xFF; bad[0x3E] = 0xFF; bad[0x3F] = 0x7F; /* e_lfanew */
	assert_int_equal(kh_pe_open_buffer(&pe, &a, bad, len), KHANG_ECORRUPT);
	kh_pe_close(&pe);
	memcpy(bad, img, len);
	bad[0x86] = 0xFF; bad[0x87] = 0xFF; /* NumberOfSections */
	assert_int_equal(kh_pe_open_buffer(&pe, &a, bad, len), KHANG_ECORRUPT);
	kh_pe_close(&pe);
	/* export directory counts beyond the limit */
	memcpy(bad, img, len);
	assert_int_equal(kh_pe_open_buffer(&pe, &a, bad, len), 0);
	uint32_t exp = pe.dirs[KH_PE_DIR_EXPORT].rva;
	kh_pe_close(&pe);
	bad[exp + 24] = 0xFF; bad[exp + 25] = 0xFF; bad[exp + 26] = 0xFF;
	assert_int_equal(kh_pe_open_buffer(&pe, &a, bad, len), 0);
	assert_int_equal(kh_pe_load_exports(&pe), KHANG_ECORRUPT);
	kh_pe_close(&pe);
	free(bad);
	free(img);
}

static uint8_t *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return NULL;
	fseek(f, 0, SEEK_END);
	long n = ftell(f);
	rewind(f);
	uint8_t *d = malloc((size_t)n);
	if (d && fread(d, 1, (size_t)n, f) != (size_t)n) {
		free(d);
		d = NULL;
	}
	fclose(f);
	*len = (size_t)n;
	return d;
}

static void check_real(const char *rel, const char *want_guid, const char *want_pdb, uint32_t want_ts,
                       uint32_t probe, uint32_t want_begin)
{
	char path[1024];
	const char *shared = getenv("KHANG_SHARED_DIR");
	size_t len = 0;
	kh_alloc a;
	kh_pe pe;
	kh_pe_codeview cv;
	kh_pe_runtime_function rf;
	char g[64];

	snprintf(path, sizeof(path), "%s/realdumps/symbols/%s", shared ? shared : "", rel);
	uint8_t *d = shared ? slurp(path, &len) : NULL;
	if (!d) {
		printf("SKIP: %s not available (set KHANG_SHARED_DIR to the shared data folder)\n", path);
		skip();
	}
	kh_alloc_init(&a, NULL);
	assert_int_equal(kh_pe_open_buffer(&pe, &a, d, len), 0);
	assert_int_equal(pe.timestamp, want_ts);
	assert_int_equal(kh_pe_codeview_info(&pe, &cv), 0);
	kh_pe_guid_string(cv.guid, cv.age, g, sizeof(g));
	assert_string_equal(g, want_guid);
	assert_string_equal(cv.pdb_name, want_pdb);
	assert_true(kh_pe_runtime_function_count(&pe) > 100);
	assert_int_equal(kh_pe_runtime_function_find(&pe, probe, &rf), 0);
	assert_int_equal(rf.begin, want_begin);
	kh_pe_close(&pe);
	free(d);
}

static void test_real_amdppm(void **state)
{
	(void)state;
	/* amdppm!WriteIoMemRawEx+0x70 is at RVA 0x334c (frame 8 of the README stack) */
	check_real("amdppm.sys/c9c030003b000/amdppm.sys", "1C19FDDB27BB3399D9B45973EFEAFCF31", "amdppm.pdb",
	           0xc9c03000, 0x334c, 0x32dc);
}

static void test_real_wdf(void **state)
{
	(void)state;
	check_real("Wdf01000.sys/a9a9d36ed1000/Wdf01000.sys", "6D6E9C327875C47856AC7DA750AB1C5E1", "Wdf01000.pdb",
	           0xa9a9d36e, 0x32c0, 0x32c0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_synthetic),
		cmocka_unit_test(test_malformed),
		cmocka_unit_test(test_real_amdppm),
		cmocka_unit_test(test_real_wdf),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

/*
 * The PDB reader (lib/pdb) on writer-made PDBs (fg_pdb) of every block
 * size: GUID and ages, public symbols at section + offset, nearest-symbol
 * lookup, undecorated C++ names; and every kind of damage refused with the
 * right code. The real amdppm.pdb is read in test_stack.c.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "khang.h"
#include "pdb/pdb.h"
#include "fg_pdb.h"
#include "forge.h"

static const uint32_t section_vas[] = { 0x1000, 0x8000, 0xA000 };
static const fg_pdb_public publics[] = {
	{ "DriverEntry", 3, 0x10 },
	{ "WriteIoMemRawEx", 1, 0x2270 },
	{ "?InvokeClient@FxPnpDevicePrepareHardware@@QEAAJXZ", 1, 0x100 },
	{ "??0FxObject@@QEAA@XZ", 1, 0x200 },
	{ "g_Table", 2, 0x40 },
	{ "AliasB", 1, 0x300 },
	{ "AliasA", 1, 0x300 },
	{ "OutOfRange", 9, 0x10 },
};

static void opts(fg_pdb_opts *o, uint32_t bs)
{
	memset(o, 0, sizeof(*o));
	o->block_size = bs;
	for (int i = 0; i < 16; i++)
		o->guid[i] = (uint8_t)(0xA0 + i);
	o->age = 3;
	o->dbi_age = 1;
	o->section_vas = section_vas;
	o->nsections = 3;
	o->publics = publics;
	o->npublics = sizeof(publics) / sizeof(publics[0]);
}

static int parse(kh_pdb *p, const uint8_t *d, size_t len)
{
	kh_alloc a;
	kh_alloc_init(&a, NULL);
	return kh_pdb_parse(p, &a, d, len);
}

static void done(kh_pdb *p)
{
	kh_alloc a;
	kh_alloc_init(&a, NULL);
	kh_pdb_free(p, &a);
}

static void expect_name(const kh_pdb *p, uint32_t rva, const char *name, uint32_t off)
{
	uint32_t o = 0xdead;
	const char *n = kh_pdb_lookup(p, rva, &o);
	assert_non_null(n);
	assert_string_equal(n, name);
	assert_int_equal(o, off);
}

static void test_read(void **state)
{
	static const uint32_t sizes[] = { 512, 1024, 2048, 4096 };
	(void)state;
	for (size_t i = 0; i < 4; i++) {
		fg_pdb_opts o;
		uint8_t *d;
		size_t len;
		kh_pdb p;
		opts(&o, sizes[i]);
		assert_int_equal(fg_pdb_write(&o, &d, &len), 0);
		assert_int_equal(parse(&p, d, len), 0);
		assert_memory_equal(p.guid, o.guid, 16);
		assert_int_equal(p.age, 3);
		assert_int_equal(p.dbi_age, 1);
		assert_int_equal(p.nsyms, 7); /* the one in section 9 is dropped */
		expect_name(&p, 0x1000 + 0x2270, "WriteIoMemRawEx", 0);
		expect_name(&p, 0x1000 + 0x2270 + 0x70, "WriteIoMemRawEx", 0x70);
		expect_name(&p, 0xA010, "DriverEntry", 0);
		expect_name(&p, 0x1105, "FxPnpDevicePrepareHardware::InvokeClient", 5);
		expect_name(&p, 0x1200, "??0FxObject@@QEAA@XZ", 0); /* special names stay decorated */
		expect_name(&p, 0x8040, "g_Table", 0);
		expect_name(&p, 0x1300, "AliasB", 0); /* two names at one address: the first listed */
		uint32_t off;
		assert_null(kh_pdb_lookup(&p, 0x10ff, &off));
		for (size_t j = 1; j < p.nsyms; j++)
			assert_true(p.syms[j - 1].rva <= p.syms[j].rva);
		done(&p);
		free(d);
	}
}

static void test_undecorate(void **state)
{
	char b[64];
	(void)state;
	kh_pdb_undecorate("?Run@Worker@Ns@@QEAAXXZ", b, sizeof(b));
	assert_string_equal(b, "Ns::Worker::Run");
	kh_pdb_undecorate("?gFlag@@3HA", b, sizeof(b));
	assert_string_equal(b, "gFlag");
	kh_pdb_undecorate("?$Tmpl@H@@QEAAXXZ", b, sizeof(b));
	assert_string_equal(b, "?$Tmpl@H@@QEAAXXZ");
	kh_pdb_undecorate("?bad name@@", b, sizeof(b));
	assert_string_equal(b, "?bad name@@");
	kh_pdb_undecorate("?NoEnd@Class", b, sizeof(b));
	assert_string_equal(b, "?NoEnd@Class");
	kh_pdb_undecorate("PlainC", b, sizeof(b));
	assert_string_equal(b, "PlainC");
	kh_pdb_undecorate("?A@B@@X", b, 4); /* truncated */
	assert_string_equal(b, "B::");
	char small[6];
	kh_pdb_undecorate("LongCName", small, sizeof(small));
	assert_string_equal(small, "LongC");
}

static void expect_refused(uint8_t *d, size_t len, int code, const char *what)
{
	kh_pdb p;
	int rc = parse(&p, d, len);
	printf("  %s: %d %s\n", what, rc, khang_error_last());
	assert_int_equal(rc, code);
	assert_int_equal(p.nsyms, 0);
	assert_null(p.syms);
}

static void test_damage(void **state)
{
	fg_pdb_opts o;
	uint8_t *d;
	size_t len;
	(void)state;
	opts(&o, 512);
	assert_int_equal(fg_pdb_write(&o, &d, &len), 0);
	uint8_t *c = malloc(len);

	memcpy(c, d, len);
	c[0] = 'm';
	expect_refused(c, len, KHANG_EFORMAT, "magic");
	expect_refused(d, 40, KHANG_EFORMAT, "short");

	memcpy(c, d, len);
	fg_put_le32(c + FG_PDB_OFF_BLOCK_SIZE, 3000);
	expect_refused(c, len, KHANG_ECORRUPT, "block size");

	memcpy(c, d, len);
	fg_put_le32(c + FG_PDB_OFF_DIR_BYTES, 0x7FFFFFFF);
	expect_refused(c, len, KHANG_ECORRUPT, "directory size");

	memcpy(c, d, len);
	fg_put_le32(c + FG_PDB_OFF_BLOCK_MAP, 0x10000);
	expect_refused(c, len, KHANG_ECORRUPT, "block map outside");

	/* the directory's first block number points past the file */
	memcpy(c, d, len);
	uint32_t map = fg_get_le32(d + FG_PDB_OFF_BLOCK_MAP);
	fg_put_le32(c + (size_t)map * 512, 0x00FFFFFF);
	expect_refused(c, len, KHANG_ECORRUPT, "directory block");

	/* a truncated file: streams whose blocks are gone */
	expect_refused(d, len / 2, KHANG_ECORRUPT, "truncated");

	/* a stream count the directory cannot hold */
	uint32_t dir_block = fg_get_le32(d + (size_t)map * 512);
	memcpy(c, d, len);
	fg_put_le32(c + (size_t)dir_block * 512, 100000);
	expect_refused(c, len, KHANG_ECORRUPT, "stream count");

	/* the PDB info stream's size larger than the file */
	memcpy(c, d, len);
	fg_put_le32(c + (size_t)dir_block * 512 + 8, 0x7FFFFFF0);
	expect_refused(c, len, KHANG_ECORRUPT, "stream size");
	free(d);

	/* a record running past the symbol stream */
	opts(&o, 1024);
	o.bad_record = 1;
	assert_int_equal(fg_pdb_write(&o, &d, &len), 0);
	expect_refused(d, len, KHANG_ECORRUPT, "record length");
	free(d);

	/* OMAP: refused, not named wrongly */
	opts(&o, 4096);
	o.omap = 1;
	assert_int_equal(fg_pdb_write(&o, &d, &len), 0);
	expect_refused(d, len, KHANG_EUNSUPPORTED, "omap");
	free(d);

	/* no section headers */
	opts(&o, 512);
	o.nsections = 0;
	assert_int_equal(fg_pdb_write(&o, &d, &len), 0);
	expect_refused(d, len, KHANG_ECORRUPT, "no sections");
	free(d);
	free(c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_read),
		cmocka_unit_test(test_undecorate),
		cmocka_unit_test(test_damage),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

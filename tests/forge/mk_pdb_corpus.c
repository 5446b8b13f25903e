/* Writes the seed corpus of fuzz_pdb: small PDBs from fg_pdb (every block
 * size, C++ names, an OMAP one, a damaged record).
 * usage: mk_pdb_corpus DIR */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fg_pdb.h"

static int save(const char *dir, const char *name, const fg_pdb_opts *o)
{
	char path[1024];
	uint8_t *d;
	size_t n;
	if (fg_pdb_write(o, &d, &n) != 0)
		return 1;
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	FILE *f = fopen(path, "wb");
	int bad = !f || fwrite(d, 1, n, f) != n;
	if (f)
		bad |= fclose(f) != 0;
	if (bad)
		fprintf(stderr, "cannot write %s\n", path);
	free(d);
	return bad;
}

int main(int argc, char **argv)
{
	static const uint32_t vas[] = { 0x1000, 0x6000 };
	static const fg_pdb_public pubs[] = {
		{ "DriverEntry", 1, 0x10 },
		{ "?Dispatch@FxPkgPnp@@QEAAJPEAU_IRP@@@Z", 1, 0x400 },
		{ "g_Globals", 2, 0x8 },
	};
	static const uint32_t sizes[] = { 512, 1024, 4096 };
	char name[64];
	int bad = 0;
	if (argc != 2) {
		fprintf(stderr, "usage: %s DIR\n", argv[0]);
		return 2;
	}
	fg_pdb_opts o;
	memset(&o, 0, sizeof(o));
	for (int i = 0; i < 16; i++)
		o.guid[i] = (uint8_t)i;
	o.age = 2;
	o.dbi_age = 1;
	o.section_vas = vas;
	o.nsections = 2;
	o.publics = pubs;
	o.npublics = 3;
	for (size_t i = 0; i < 3; i++) {
		o.block_size = sizes[i];
		snprintf(name, sizeof(name), "publics_%u", sizes[i]);
		bad |= save(argv[1], name, &o);
	}
	o.block_size = 512;
	o.omap = 1;
	bad |= save(argv[1], "omap", &o);
	o.omap = 0;
	o.bad_record = 1;
	bad |= save(argv[1], "bad_record", &o);
	return bad;
}

/*
 * PDB public symbols (see pdb.h). Format facts (MSF 7.00 superblock and
 * stream directory, PDB info stream, DBI header and optional debug header,
 * IMAGE_SECTION_HEADER, S_PUB32) as documented publicly for the PDB format.
 *
 * MSF: the file is an array of blocks of BlockSize bytes. The superblock
 * (block 0) gives BlockSize, NumBlocks, the stream directory's size and the
 * block holding the list of the directory's blocks. The directory is
 * NumStreams, the size of each stream (0xFFFFFFFF: none), then each
 * stream's block numbers. A stream is its blocks concatenated, cut to size.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pdb.h"

static const uint8_t msf7_magic[32] = "Microsoft C/C++ MSF 7.00\r\n\x1a" "DS\0\0";

#define MAX_STREAMS 65536u
#define NIL_STREAM 0xFFFFFFFFu
#define S_PUB32 0x110Eu
#define DBI_HEADER 64u
#define SECTION_HEADER 40u

enum { STREAM_PDB = 1, STREAM_DBI = 3 };
enum { DBG_OMAP_TO_SRC = 3, DBG_OMAP_FROM_SRC = 4, DBG_SECTION_HDR = 5 };

typedef struct msf {
	const kh_alloc *a;
	const uint8_t *data;
	size_t len;
	uint32_t block;       /* block size */
	uint32_t nblocks;
	uint8_t *dir;         /* the stream directory, assembled */
	uint32_t dir_len;
	uint32_t nstreams;
	uint32_t *first;      /* per stream: offset of its block list in dir (0: none) */
} msf;

static uint32_t blocks_for(const msf *m, uint32_t size)
{
	return size / m->block + (size % m->block != 0);
}

/* Copy n bytes of blocks listed at list[0..] into out; every block number
 * is checked against the file. */
static int gather(const msf *m, const uint8_t *list, size_t list_len, uint32_t size, uint8_t *out)
{
	uint32_t nb = blocks_for(m, size);
	if ((uint64_t)nb * 4 > list_len)
		return kh_error(KHANG_ECORRUPT, "PDB: block list of %u blocks is cut off", nb);
	for (uint32_t i = 0; i < nb; i++) {
		uint32_t b = kh_le32(list + 4 * (size_t)i);
		uint32_t chunk = i + 1 < nb ? m->block : size - i * m->block;
		if (b >= m->nblocks || !kh_span_ok(m->len, (uint64_t)b * m->block, chunk))
			return kh_error(KHANG_ECORRUPT, "PDB: block %u is outside the file", b);
		memcpy(out + (size_t)i * m->block, m->data + (size_t)b * m->block, chunk);
	}
	return 0;
}

static int msf_open(msf *m, const kh_alloc *a, const uint8_t *data, size_t len)
{
	memset(m, 0, sizeof(*m));
	m->a = a;
	m->data = data;
	m->len = len;
	if (len < 56 || memcmp(data, msf7_magic, sizeof(msf7_magic)) != 0)
		return kh_error(KHANG_EFORMAT, "PDB: not an MSF 7.00 file");
	m->block = kh_le32(data + 32);
	m->nblocks = kh_le32(data + 40);
	m->dir_len = kh_le32(data + 44);
	uint32_t map = kh_le32(data + 52);
	if (m->block != 512 && m->block != 1024 && m->block != 2048 && m->block != 4096)
		return kh_error(KHANG_ECORRUPT, "PDB: block size %u", m->block);
	if ((uint64_t)m->nblocks * m->block > len)
		m->nblocks = (uint32_t)(len / m->block); /* a truncated file: blocks past its end are errors */
	uint32_t ndir = blocks_for(m, m->dir_len);
	if (!m->dir_len || ndir > m->block / 4 || map >= m->nblocks)
		return kh_error(KHANG_ECORRUPT, "PDB: stream directory of %u bytes (block map at %u)", m->dir_len, map);
	m->dir = kh_malloc(a, (size_t)ndir * m->block);
	if (!m->dir)
		return KHANG_ENOMEM;
	int rc = gather(m, data + (size_t)map * m->block, m->block, m->dir_len, m->dir);
	if (rc < 0)
		return rc;
	/* the directory: count, sizes, block lists; every list inside dir */
	kh_cursor c;
	kh_cur_init(&c, m->dir, m->dir_len);
	m->nstreams = kh_cur_u32(&c);
	if (m->nstreams > MAX_STREAMS || (uint64_t)m->nstreams * 4 + 4 > m->dir_len)
		return kh_error(KHANG_ECORRUPT, "PDB: %u streams in a %u-byte directory", m->nstreams, m->dir_len);
	m->first = kh_calloc(a, m->nstreams ? m->nstreams : 1, sizeof(uint32_t));
	if (!m->first)
		return KHANG_ENOMEM;
	uint64_t at = 4 + (uint64_t)m->nstreams * 4;
	for (uint32_t i = 0; i < m->nstreams; i++) {
		uint32_t size = kh_le32(m->dir + 4 + 4 * (size_t)i);
		if (size == NIL_STREAM || size == 0)
			continue;
		uint64_t nb = blocks_for(m, size);
		if (at + nb * 4 > m->dir_len)
			return kh_error(KHANG_ECORRUPT, "PDB: stream %u's block list is outside the directory", i);
		m->first[i] = (uint32_t)at;
		at += nb * 4;
	}
	return 0;
}

static void msf_close(msf *m)
{
	kh_free(m->a, m->dir);
	kh_free(m->a, m->first);
}

static uint32_t stream_size(const msf *m, uint32_t i)
{
	if (i >= m->nstreams)
		return 0;
	uint32_t s = kh_le32(m->dir + 4 + 4 * (size_t)i);
	return s == NIL_STREAM ? 0 : s;
}

/* Stream i assembled into a new buffer (*len its size); NULL with *rc set
 * on error, NULL with *rc 0 for an empty or absent stream. */
static uint8_t *stream_read(const msf *m, uint32_t i, uint32_t *len, int *rc)
{
	*len = 0;
	*rc = 0;
	uint32_t size = stream_size(m, i);
	if (!size || !m->first[i])
		return NULL;
	if (size > m->len) {
		*rc = kh_error(KHANG_ECORRUPT, "PDB: stream %u of %u bytes is larger than the file", i, size);
		return NULL;
	}
	uint8_t *buf = kh_malloc(m->a, (size_t)blocks_for(m, size) * m->block);
	if (!buf) {
		*rc = KHANG_ENOMEM;
		return NULL;
	}
	*rc = gather(m, m->dir + m->first[i], m->dir_len - m->first[i], size, buf);
	if (*rc < 0) {
		kh_free(m->a, buf);
		return NULL;
	}
	*len = size;
	return buf;
}

/* ---- undecoration ----------------------------------------------------------------- */

void kh_pdb_undecorate(const char *in, char *out, size_t len)
{
	if (!len)
		return;
	/* "?Name@Scope1@Scope2@@<type codes>": plain identifiers only (no
	 * special names "??", templates "?$" or back references) */
	if (in[0] == '?' && in[1] != '?' && in[1] != '$') {
		const char *parts[8];
		size_t lens[8], n = 0;
		const char *p = in + 1;
		bool ok = true;
		while (*p && *p != '@') {
			const char *s = p;
			while (*p && *p != '@') {
				char ch = *p;
				if (!((ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '_'))
					ok = false;
				p++;
			}
			if (!ok || !*p || n == 8)
				break;
			parts[n] = s;
			lens[n++] = (size_t)(p - s);
			p++; /* the '@' */
		}
		if (ok && n && *p == '@') {
			size_t used = 0;
			for (size_t i = n; i-- > 0;) {
				int w = snprintf(out + used, len - used, "%s%.*s", used ? "::" : "", (int)lens[i], parts[i]);
				if (w < 0 || (size_t)w >= len - used)
					break;
				used += (size_t)w;
			}
			return;
		}
	}
	kh_copy_str(out, len, in);
}

/* ---- the symbols ------------------------------------------------------------------ */

static int cmp_sym(const void *x, const void *y)
{
	const kh_pdb_symbol *a = x, *b = y;
	if (a->rva != b->rva)
		return a->rva < b->rva ? -1 : 1;
	return a->name < b->name ? -1 : a->name > b->name;
}

typedef struct builder {
	const kh_alloc *a;
	kh_pdb *p;
	size_t cap, names_cap;
} builder;

static int add_symbol(builder *b, uint32_t rva, const char *name)
{
	kh_pdb *p = b->p;
	if (p->nsyms >= KH_PDB_MAX_SYMBOLS)
		return kh_error(KHANG_ELIMIT, "PDB: more than %u public symbols", KH_PDB_MAX_SYMBOLS);
	char und[256];
	kh_pdb_undecorate(name, und, sizeof(und));
	size_t n = strlen(und) + 1;
	if (p->nsyms == b->cap) {
		size_t ncap = b->cap ? b->cap * 2 : 256;
		kh_pdb_symbol *ns = kh_reallocarray(b->a, p->syms, ncap, sizeof(*ns));
		if (!ns)
			return KHANG_ENOMEM;
		p->syms = ns;
		b->cap = ncap;
	}
	if (p->names_len + n > b->names_cap) {
		size_t ncap = b->names_cap ? b->names_cap * 2 : 4096;
		while (ncap < p->names_len + n)
			ncap *= 2;
		char *nn = kh_reallocarray(b->a, p->names, ncap, 1);
		if (!nn)
			return KHANG_ENOMEM;
		p->names = nn;
		b->names_cap = ncap;
	}
	memcpy(p->names + p->names_len, und, n);
	p->syms[p->nsyms].rva = rva;
	p->syms[p->nsyms].name = (uint32_t)p->names_len;
	p->nsyms++;
	p->names_len += n;
	return 0;
}

/* S_PUB32 records of the symbol record stream: { u16 length (of what
 * follows), u16 kind, u32 flags, u32 offset, u16 segment, name }. */
static int read_publics(builder *b, const uint8_t *recs, uint32_t len, const uint8_t *sections, uint32_t nsections)
{
	uint64_t at = 0;
	while (at + 4 <= len) {
		uint32_t rlen = kh_le16(recs + at), kind = kh_le16(recs + at + 2);
		if (rlen < 2 || at + 2 + rlen > len)
			return kh_error(KHANG_ECORRUPT, "PDB: symbol record at 0x%llx of length %u runs past the stream",
			                (unsigned long long)at, rlen);
		if (kind == S_PUB32 && rlen >= 2 + 10 + 1) {
			const uint8_t *r = recs + at + 4;
			uint32_t off = kh_le32(r + 4);
			uint16_t seg = kh_le16(r + 8);
			const char *name = (const char *)r + 10;
			size_t max = rlen - 2 - 10;
			if (seg >= 1 && seg <= nsections && memchr(name, '\0', max) && name[0]) {
				uint32_t va = kh_le32(sections + (size_t)(seg - 1) * SECTION_HEADER + 12);
				uint64_t rva = (uint64_t)va + off;
				if (rva <= UINT32_MAX) {
					int rc = add_symbol(b, (uint32_t)rva, name);
					if (rc < 0)
						return rc;
				}
			}
		}
		at += 2 + (uint64_t)rlen;
	}
	return 0;
}

int kh_pdb_parse(kh_pdb *out, const kh_alloc *a, const uint8_t *data, size_t len)
{
	memset(out, 0, sizeof(*out));
	if (len > KH_PDB_MAX_FILE)
		return kh_error(KHANG_ELIMIT, "PDB: file of %zu bytes is over the %u-byte limit", len, KH_PDB_MAX_FILE);
	msf m;
	int rc = msf_open(&m, a, data, len);
	uint8_t *info = NULL, *dbi = NULL, *secs = NULL, *recs = NULL;
	uint32_t info_len, dbi_len, secs_len = 0, recs_len;
	if (rc < 0)
		goto done;
	/* PDB info stream: Version, Signature, Age, GUID */
	info = stream_read(&m, STREAM_PDB, &info_len, &rc);
	if (rc < 0)
		goto done;
	if (!info || info_len < 28) {
		rc = kh_error(KHANG_ECORRUPT, "PDB: no PDB info stream");
		goto done;
	}
	out->age = kh_le32(info + 8);
	memcpy(out->guid, info + 12, 16);
	/* DBI: the symbol record stream and the optional debug header */
	dbi = stream_read(&m, STREAM_DBI, &dbi_len, &rc);
	if (rc < 0)
		goto done;
	if (!dbi || dbi_len < DBI_HEADER || kh_le32(dbi) != 0xFFFFFFFFu) {
		rc = kh_error(KHANG_ECORRUPT, "PDB: no DBI stream (or an old format)");
		goto done;
	}
	out->dbi_age = kh_le32(dbi + 8);
	uint32_t sym_stream = kh_le16(dbi + 20);
	uint32_t dbg_len = kh_le32(dbi + 48);
	/* substream order: modules (size at 24), section contributions (28),
	 * section map (32), files (36), type servers (40), EC (52), then the
	 * optional debug header (48); 44 is the MFC type server's index */
	uint64_t sub = (uint64_t)(kh_le32(dbi + 24) & 0x7FFFFFFFu) + (kh_le32(dbi + 28) & 0x7FFFFFFFu) +
	               (kh_le32(dbi + 32) & 0x7FFFFFFFu) + (kh_le32(dbi + 36) & 0x7FFFFFFFu) +
	               (kh_le32(dbi + 40) & 0x7FFFFFFFu) + (kh_le32(dbi + 52) & 0x7FFFFFFFu);
	uint64_t dbg_at = DBI_HEADER + sub;
	if (dbg_len > 0x1000 || !kh_span_ok(dbi_len, dbg_at, dbg_len)) {
		rc = kh_error(KHANG_ECORRUPT, "PDB: DBI optional debug header outside the stream");
		goto done;
	}
	uint32_t ndbg = dbg_len / 2;
	const uint8_t *dbg = dbi + dbg_at;
	for (uint32_t i = DBG_OMAP_TO_SRC; i <= DBG_OMAP_FROM_SRC && i < ndbg; i++) {
		uint16_t s = kh_le16(dbg + 2 * i);
		if (s != 0xFFFF && stream_size(&m, s)) {
			rc = kh_error(KHANG_EUNSUPPORTED, "PDB: OMAP address maps (a rewritten binary) are not supported");
			goto done;
		}
	}
	uint32_t sec_stream = ndbg > DBG_SECTION_HDR ? kh_le16(dbg + 2 * DBG_SECTION_HDR) : 0xFFFF;
	if (sec_stream != 0xFFFF) {
		secs = stream_read(&m, sec_stream, &secs_len, &rc);
		if (rc < 0)
			goto done;
	}
	if (!secs || secs_len < SECTION_HEADER) {
		rc = kh_error(KHANG_ECORRUPT, "PDB: no section headers");
		goto done;
	}
	recs = stream_read(&m, sym_stream, &recs_len, &rc);
	if (rc < 0)
		goto done;
	builder b = { a, out, 0, 0 };
	if (recs && (rc = read_publics(&b, recs, recs_len, secs, secs_len / SECTION_HEADER)) < 0)
		goto done;
	if (out->nsyms)
		qsort(out->syms, out->nsyms, sizeof(*out->syms), cmp_sym);
	rc = 0;
done:
	kh_free(a, info);
	kh_free(a, dbi);
	kh_free(a, secs);
	kh_free(a, recs);
	msf_close(&m);
	if (rc < 0)
		kh_pdb_free(out, a);
	return rc;
}

void kh_pdb_free(kh_pdb *p, const kh_alloc *a)
{
	kh_free(a, p->syms);
	kh_free(a, p->names);
	p->syms = NULL;
	p->names = NULL;
	p->nsyms = p->names_len = 0;
}

const char *kh_pdb_lookup(const kh_pdb *p, uint32_t rva, uint32_t *off)
{
	size_t lo = 0, hi = p->nsyms;
	while (lo < hi) { /* first symbol above rva */
		size_t mid = lo + (hi - lo) / 2;
		if (p->syms[mid].rva <= rva)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo == 0)
		return NULL;
	const kh_pdb_symbol *s = &p->syms[lo - 1];
	/* several names at one address: the first the PDB lists */
	while (s > p->syms && (s - 1)->rva == s->rva)
		s--;
	*off = rva - s->rva;
	return p->names + s->name;
}

/*
 * Virtual-to-physical translation for x64 (4-level, 1 GiB / 2 MiB pages) and
 * x86 (PAE 3-level with 2 MiB pages; non-PAE 2-level with 4 MiB pages), with
 * a small direct-mapped translation cache keyed by (DTB, virtual page).
 *
 * Paged-out or missing pages are KHANG_ENOTPRESENT, never fatal. A final
 * PTE in transition (valid 0, transition bit 11 set, prototype bit 10 clear)
 * still names a page in RAM and is translated.
 */
#include "dump/source_int.h"

#define PTE_VALID (1ull << 0)
#define PTE_LARGE (1ull << 7)
#define PTE_PROTOTYPE (1ull << 10)
#define PTE_TRANSITION (1ull << 11)
#define PFN_MASK_64 0x000FFFFFFFFFF000ull
#define DEFAULT_TLB_ENTRIES 256u
#define MAX_TLB_ENTRIES (1u << 20)

int kh_tlb_init(khang_source *src, uint32_t entries)
{
	if (entries == 0)
		entries = DEFAULT_TLB_ENTRIES;
	if (entries == 1) {
		src->tlb_mask = 0;
		return 0;
	}
	if (entries > MAX_TLB_ENTRIES)
		entries = MAX_TLB_ENTRIES;
	uint32_t n = 1;
	while (n < entries)
		n <<= 1;
	src->tlb = kh_calloc(&src->alloc, n, sizeof(kh_tlb_entry));
	if (!src->tlb)
		return KHANG_ENOMEM;
	src->tlb_mask = n - 1;
	return 0;
}

void kh_tlb_free(khang_source *src)
{
	kh_free(&src->alloc, src->tlb);
	src->tlb = NULL;
	src->tlb_mask = 0;
}

static inline size_t tlb_slot(const khang_source *src, uint64_t dtb, uint64_t vpn)
{
	uint64_t h = (vpn ^ (dtb >> 12) * 0x9E3779B97F4A7C15ull);
	h ^= h >> 29;
	return (size_t)(h & src->tlb_mask);
}

/* Read one page-table entry of 4 or 8 bytes at physical address pa. */
static int read_entry(khang_source *src, uint64_t pa, unsigned width, uint64_t *out, const char *level,
                      uint64_t va)
{
	uint8_t b[8];
	int rc = kh_phys_read_in_page(src, pa, b, width);
	if (rc < 0)
		return kh_error(KHANG_ENOTPRESENT, "translate 0x%llx: %s page at 0x%llx is not in the dump",
		                (unsigned long long)va, level, (unsigned long long)(pa & ~0xFFFull));
	*out = width == 8 ? kh_le64(b) : kh_le32(b);
	return 0;
}

static int not_present(uint64_t va, const char *level, uint64_t entry)
{
	return kh_error(KHANG_ENOTPRESENT, "translate 0x%llx: %s entry 0x%llx is not present (paged out or unmapped)",
	                (unsigned long long)va, level, (unsigned long long)entry);
}

/* A final-level entry: valid, or in transition (page still in RAM). */
static bool leaf_usable(uint64_t e)
{
	if (e & PTE_VALID)
		return true;
	return (e & PTE_TRANSITION) && !(e & PTE_PROTOTYPE);
}

static int walk_x64(khang_source *src, uint64_t dtb, uint64_t va, uint64_t *out)
{
	static const char *const names[4] = { "PML4", "PDPT", "PD", "PT" };
	uint64_t top = va >> 47;
	if (top != 0 && top != 0x1FFFF)
		return kh_error(KHANG_ERANGE, "translate 0x%llx: not a canonical x64 address", (unsigned long long)va);
	uint64_t table = dtb & PFN_MASK_64;
	for (int level = 0; level < 4; level++) {
		unsigned shift = 39 - 9 * (unsigned)level;
		uint64_t e;
		int rc = read_entry(src, table + ((va >> shift) & 0x1FF) * 8, 8, &e, names[level], va);
		if (rc < 0)
			return rc;
		if (level == 3) {
			if (!leaf_usable(e))
				return not_present(va, names[level], e);
			*out = (e & PFN_MASK_64) | (va & 0xFFF);
			return 0;
		}
		if (!(e & PTE_VALID))
			return not_present(va, names[level], e);
		if ((e & PTE_LARGE) && level >= 1) {
			uint64_t mask = (1ull << shift) - 1;
			*out = ((e & PFN_MASK_64) & ~mask) | (va & mask);
			return 0;
		}
		table = e & PFN_MASK_64;
	}
	return kh_error(KHANG_ECORRUPT, "translate: unreachable");
}

static int walk_x86_pae(khang_source *src, uint64_t dtb, uint64_t va, uint64_t *out)
{
	uint64_t e;
	int rc;

	if (va > 0xFFFFFFFFull)
		return kh_error(KHANG_ERANGE, "translate 0x%llx: wider than 32 bits on x86", (unsigned long long)va);
	uint64_t pdpt = dtb & 0xFFFFFFE0ull;
	rc = read_entry(src, pdpt + ((va >> 30) & 3) * 8, 8, &e, "PDPT", va);
	if (rc < 0)
		return rc;
	if (!(e & PTE_VALID))
		return not_present(va, "PDPT", e);
	rc = read_entry(src, (e & PFN_MASK_64) + ((va >> 21) & 0x1FF) * 8, 8, &e, "PD", va);
	if (rc < 0)
		return rc;
	if (!(e & PTE_VALID))
		return not_present(va, "PD", e);
	if (e & PTE_LARGE) {
		*out = ((e & PFN_MASK_64) & ~0x1FFFFFull) | (va & 0x1FFFFF);
		return 0;
	}
	rc = read_entry(src, (e & PFN_MASK_64) + ((va >> 12) & 0x1FF) * 8, 8, &e, "PT", va);
	if (rc < 0)
		return rc;
	if (!leaf_usable(e))
		return not_present(va, "PT", e);
	*out = (e & PFN_MASK_64) | (va & 0xFFF);
	return 0;
}

static int walk_x86(khang_source *src, uint64_t dtb, uint64_t va, uint64_t *out)
{
	uint64_t e;
	int rc;

	if (va > 0xFFFFFFFFull)
		return kh_error(KHANG_ERANGE, "translate 0x%llx: wider than 32 bits on x86", (unsigned long long)va);
	rc = read_entry(src, (dtb & 0xFFFFF000ull) + ((va >> 22) & 0x3FF) * 4, 4, &e, "PD", va);
	if (rc < 0)
		return rc;
	if (!(e & PTE_VALID))
		return not_present(va, "PD", e);
	if (e & PTE_LARGE) {
		*out = (e & 0xFFC00000ull) | (va & 0x3FFFFF);
		return 0;
	}
	rc = read_entry(src, (e & 0xFFFFF000ull) + ((va >> 12) & 0x3FF) * 4, 4, &e, "PT", va);
	if (rc < 0)
		return rc;
	if (!leaf_usable(e))
		return not_present(va, "PT", e);
	*out = (e & 0xFFFFF000ull) | (va & 0xFFF);
	return 0;
}

int kh_mmu_translate(khang_source *src, uint64_t dtb, uint64_t va, uint64_t *out_pa)
{
	const khang_source_info *in = &src->info;
	int rc;

	if (dtb == 0)
		dtb = in->dtb;
	if (src->index.kind == KH_INDEX_NONE)
		return kh_error(KHANG_EUNSUPPORTED, "translate 0x%llx: this %s dump holds no page tables",
		                (unsigned long long)va, khang_dump_type_name(in->dump_type));

	uint64_t vpn = (va >> KH_PAGE_SHIFT) + 1;
	kh_tlb_entry *slot = NULL;
	if (src->tlb_mask) {
		slot = &src->tlb[tlb_slot(src, dtb, vpn)];
		if (slot->vpn == vpn && slot->dtb == dtb) {
			src->tlb_stats.hits++;
			*out_pa = (slot->pfn << KH_PAGE_SHIFT) | (va & 0xFFF);
			return 0;
		}
	}
	src->tlb_stats.misses++;

	uint64_t pa = 0;
	switch (in->arch) {
	case KHANG_ARCH_X64:
		rc = walk_x64(src, dtb, va, &pa);
		break;
	case KHANG_ARCH_X86:
		rc = in->pae ? walk_x86_pae(src, dtb, va, &pa) : walk_x86(src, dtb, va, &pa);
		break;
	default:
		return kh_error(KHANG_EUNSUPPORTED, "translate: %s address translation is not supported",
		                khang_arch_name(in->arch));
	}
	if (rc < 0)
		return rc;
	if (slot) {
		slot->dtb = dtb;
		slot->vpn = vpn;
		slot->pfn = pa >> KH_PAGE_SHIFT;
	}
	*out_pa = pa;
	return 0;
}

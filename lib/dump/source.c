/* khang_source: open, header information, warnings, physical and virtual reads. */
#include <stdarg.h>
#include <stdio.h>

#include "source_int.h"
#include "kernel/kernel.h"
#include "triage.h"

#define SIG_PAGE 0x45474150u
#define SIG_DUMP 0x504D5544u
#define SIG_DU64 0x34365544u

KHANG_API const char *khang_dump_type_name(khang_dump_type type)
{
	switch (type) {
	case KHANG_DUMP_FULL: return "full";
	case KHANG_DUMP_SUMMARY: return "summary";
	case KHANG_DUMP_HEADER: return "header-only";
	case KHANG_DUMP_TRIAGE: return "triage";
	case KHANG_DUMP_BITMAP_FULL: return "bitmap-full";
	case KHANG_DUMP_BITMAP_KERNEL: return "bitmap-kernel";
	case KHANG_DUMP_AUTOMATIC: return "automatic";
	case KHANG_DUMP_RDMP_8: return "rdmp-kernel";
	case KHANG_DUMP_RDMP_9: return "rdmp-kernel-user";
	case KHANG_DUMP_RDMP_A: return "rdmp-complete";
	default: return "unknown";
	}
}

KHANG_API int khang_source_opts_init(khang_source_opts *opts, size_t size)
{
	if (!opts || size < offsetof(khang_source_opts, flags) + sizeof(uint32_t))
		return kh_error(KHANG_EINVAL, "khang_source_opts_init: NULL options or size %zu too small", size);
	memset(opts, 0, size);
	opts->size = size;
	return 0;
}

/* Copy the caller's options, accepting a smaller (older) structure and
 * rejecting a larger one whose unknown tail is not zero. */
static int read_opts(khang_source_opts *out, const khang_source_opts *in)
{
	memset(out, 0, sizeof(*out));
	out->size = sizeof(*out);
	if (!in)
		return 0;
	if (in->size < offsetof(khang_source_opts, flags) + sizeof(uint32_t))
		return kh_error(KHANG_EINVAL, "options: size %zu is too small (use KHANG_SOURCE_OPTS_INIT)", in->size);
	if (in->size > sizeof(*out)) {
		const uint8_t *tail = (const uint8_t *)in + sizeof(*out);
		for (size_t i = 0; i < in->size - sizeof(*out); i++)
			if (tail[i])
				return kh_error(KHANG_EINVAL, "options: size %zu is larger than this library knows (%zu) "
				                "and the unknown fields are set", in->size, sizeof(*out));
	}
	memcpy(out, in, KH_MIN(in->size, sizeof(*out)));
	out->size = sizeof(*out);
	return 0;
}

void kh_source_warn(khang_source *src, const char *fmt, ...)
{
	if (src->nwarnings < KH_MAX_WARNINGS_KEPT) {
		char buf[256];
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(buf, sizeof(buf), fmt, ap);
		va_end(ap);
		/* On allocation failure the warning is counted without its text. */
		src->warnings[src->nwarnings] = kh_strdup(&src->alloc, buf);
	}
	if (src->nwarnings < UINT32_MAX)
		src->nwarnings++;
}

static int source_new(khang_source **out, const khang_source_opts *user_opts, khang_source_opts *opts)
{
	kh_alloc a;
	int rc;

	if (!out)
		return kh_error(KHANG_EINVAL, "source open: NULL output pointer");
	*out = NULL;
	rc = read_opts(opts, user_opts);
	if (rc < 0)
		return rc;
	rc = kh_alloc_init(&a, opts->allocator);
	if (rc < 0)
		return rc;
	khang_source *src = kh_calloc(&a, 1, sizeof(*src));
	if (!src)
		return KHANG_ENOMEM;
	src->magic = KH_SOURCE_MAGIC;
	src->alloc = a;
	src->file.fd = -1;
	src->info.size = sizeof(src->info);
	src->flags = opts->flags;
	*out = src;
	return 0;
}

/* Common part of both open functions, once src->file is set. */
static int source_load(khang_source *src, const khang_source_opts *opts)
{
	khang_source_info *in = &src->info;
	uint8_t sig[8];
	int rc;

	in->file_size = src->file.size;
	if (src->file.size < 8)
		return kh_error(KHANG_EFORMAT, "not a kernel dump: file of %llu bytes is too small",
		                (unsigned long long)src->file.size);
	rc = kh_file_read(&src->file, 0, sig, sizeof(sig));
	if (rc < 0)
		return rc;
	uint32_t s0 = kh_le32(sig), s1 = kh_le32(sig + 4);
	if (s0 != SIG_PAGE || (s1 != SIG_DUMP && s1 != SIG_DU64))
		return kh_error(KHANG_EFORMAT, "not a kernel dump: signature %08x %08x (want 'PAGEDUMP' or 'PAGEDU64')",
		                s0, s1);
	size_t hsize = s1 == SIG_DU64 ? 0x2000 : 0x1000;
	if (src->file.size < hsize)
		return kh_error(KHANG_ECORRUPT, "kernel dump header truncated: file has %llu bytes, header needs %zu",
		                (unsigned long long)src->file.size, hsize);
	rc = kh_file_read(&src->file, 0, src->header, hsize);
	if (rc < 0)
		return rc;
	rc = kh_parse_header(src);
	if (rc < 0)
		return rc;
	rc = kh_build_index(src);
	if (rc < 0)
		return rc;
	if (in->arch == KHANG_ARCH_ARM64)
		kh_source_warn(src, "ARM64 dump: header only; ARM64 address translation is not supported yet");
	src->user_layout = opts->layout;
	src->flags = opts->flags;
	src->max_list = opts->max_list_entries ? opts->max_list_entries : 65536;
	if (opts->image_path) {
		src->image_path = kh_strdup(&src->alloc, opts->image_path);
		if (!src->image_path)
			return KHANG_ENOMEM;
	}
	return kh_tlb_init(src, opts->tlb_entries);
}

static int finish_open(khang_source **out, khang_source *src, int rc)
{
	if (rc < 0) {
		khang_source_free(src);
		*out = NULL;
		return rc;
	}
	src->info.warnings = src->nwarnings;
	return 0;
}

KHANG_API int khang_source_open(khang_source **out, const char *path, const khang_source_opts *user_opts)
{
	khang_source_opts opts;
	khang_source *src;
	int rc;

	if (!out)
		return kh_error(KHANG_EINVAL, "khang_source_open: NULL output pointer");
	*out = NULL;
	if (!path)
		return kh_error(KHANG_EINVAL, "khang_source_open: NULL path");
	rc = source_new(&src, user_opts, &opts);
	if (rc < 0)
		return rc;
	*out = src;
	rc = kh_file_open(&src->file, path, (opts.flags & KHANG_SOURCE_NO_MMAP) != 0);
	if (rc == 0) {
		rc = source_load(src, &opts);
		if (rc < 0)
			kh_error_context(rc, "%s", path);
	}
	return finish_open(out, src, rc);
}

KHANG_API int khang_source_open_memory(khang_source **out, const void *data, size_t len,
                                       const khang_source_opts *user_opts)
{
	khang_source_opts opts;
	khang_source *src;
	int rc;

	if (!out)
		return kh_error(KHANG_EINVAL, "khang_source_open_memory: NULL output pointer");
	*out = NULL;
	if (!data && len)
		return kh_error(KHANG_EINVAL, "khang_source_open_memory: NULL data");
	rc = source_new(&src, user_opts, &opts);
	if (rc < 0)
		return rc;
	*out = src;
	kh_file_from_memory(&src->file, data ? data : "", len);
	rc = source_load(src, &opts);
	return finish_open(out, src, rc);
}

KHANG_API void khang_source_free(khang_source *src)
{
	if (!kh_source_ok(src))
		return;
	kh_alloc a = src->alloc;
	if (src->objects_free)
		src->objects_free(src);
	kh_kernel_free(src);
	kh_triage_free(src);
	kh_tlb_free(src);
	kh_index_free(&a, &src->index);
	kh_file_close(&src->file);
	for (uint32_t i = 0; i < KH_MAX_WARNINGS_KEPT; i++)
		kh_free(&a, src->warnings[i]);
	kh_free(&a, src->image_path);
	src->magic = 0;
	kh_free(&a, src);
}

KHANG_API int khang_source_get_info(khang_source_info *out, const khang_source *src)
{
	if (!out || !kh_source_ok(src))
		return kh_error(KHANG_EINVAL, "khang_source_get_info: NULL or invalid argument");
	size_t n = out->size;
	if (n < offsetof(khang_source_info, build))
		return kh_error(KHANG_EINVAL, "khang_source_get_info: out->size %zu too small (use KHANG_SOURCE_INFO_INIT)", n);
	khang_source_info tmp = src->info;
	tmp.warnings = src->nwarnings;
	tmp.size = KH_MIN(n, sizeof(tmp));
	memcpy(out, &tmp, KH_MIN(n, sizeof(tmp)));
	return 0;
}

KHANG_API int khang_source_context_record(const uint8_t **out, size_t *out_len, const khang_source *src)
{
	if (!out || !out_len || !kh_source_ok(src))
		return kh_error(KHANG_EINVAL, "khang_source_context_record: NULL or invalid argument");
	if (src->info.header_size == 0x2000) {
		*out = src->header + 0x348;
		*out_len = 3000;
	} else {
		*out = src->header + 0x320;
		*out_len = 1200;
	}
	return 0;
}

KHANG_API uint32_t khang_source_warning_count(const khang_source *src)
{
	return kh_source_ok(src) ? src->nwarnings : 0;
}

KHANG_API const char *khang_source_warning(const khang_source *src, uint32_t index)
{
	if (!kh_source_ok(src) || index >= src->nwarnings || index >= KH_MAX_WARNINGS_KEPT)
		return NULL;
	return src->warnings[index] ? src->warnings[index] : "(warning text lost: out of memory)";
}

/* ---- reads ----------------------------------------------------------------- */

int kh_phys_read_in_page(khang_source *src, uint64_t pa, void *buf, size_t len)
{
	uint64_t off;
	int rc = kh_pfn_to_offset(src, pa >> KH_PAGE_SHIFT, &off);
	if (rc < 0)
		return rc;
	return kh_file_read(&src->file, off + (pa & (KH_PAGE_SIZE - 1)), buf, len);
}

KHANG_API int khang_read_physical(khang_source *src, uint64_t pa, void *buf, size_t len,
                                  size_t *out_read, uint64_t *out_missing)
{
	size_t done = 0;
	uint64_t end;
	int rc = 0;

	if (out_read)
		*out_read = 0;
	if (!kh_source_ok(src) || (!buf && len))
		return kh_error(KHANG_EINVAL, "khang_read_physical: NULL or invalid argument");
	if (kh_add_overflow_u64(pa, len, &end))
		return kh_error(KHANG_ERANGE, "read_physical 0x%llx + %zu overflows", (unsigned long long)pa, len);
	while (done < len) {
		uint64_t cur = pa + done;
		size_t chunk = KH_MIN(len - done, (size_t)(KH_PAGE_SIZE - (cur & (KH_PAGE_SIZE - 1))));
		rc = kh_phys_read_in_page(src, cur, (uint8_t *)buf + done, chunk);
		if (rc < 0) {
			if (out_missing)
				*out_missing = cur;
			kh_error_context(rc, "read_physical 0x%llx", (unsigned long long)cur);
			break;
		}
		done += chunk;
	}
	if (out_read)
		*out_read = done;
	return rc;
}

KHANG_API int khang_translate(uint64_t *out, khang_source *src, uint64_t dtb, uint64_t va)
{
	if (!out || !kh_source_ok(src))
		return kh_error(KHANG_EINVAL, "khang_translate: NULL or invalid argument");
	return kh_mmu_translate(src, dtb, va, out);
}

static int read_virtual(khang_source *src, uint64_t dtb, uint64_t va, void *buf, size_t len, size_t *out_read,
                        uint64_t *out_missing, bool context)
{
	size_t done = 0;
	int rc = 0;

	while (done < len) {
		uint64_t cur = va + done;
		if (cur < va) {
			rc = kh_error(KHANG_ERANGE, "read_virtual 0x%llx + %zu wraps around", (unsigned long long)va, len);
			if (out_missing)
				*out_missing = cur;
			break;
		}
		size_t chunk = KH_MIN(len - done, (size_t)(KH_PAGE_SIZE - (cur & (KH_PAGE_SIZE - 1))));
		if (src->triage) {
			/* no page tables: the triage copies and data blocks are the address space */
			rc = kh_triage_read(src, cur, (uint8_t *)buf + done, chunk);
		} else {
			uint64_t pa;
			rc = kh_mmu_translate(src, dtb, cur, &pa);
			if (rc == 0)
				rc = kh_phys_read_in_page(src, pa, (uint8_t *)buf + done, chunk);
		}
		if (rc < 0) {
			if (out_missing)
				*out_missing = cur;
			if (context)
				kh_error_context(rc, "read_virtual 0x%llx", (unsigned long long)cur);
			break;
		}
		done += chunk;
	}
	if (out_read)
		*out_read = done;
	return rc;
}

KHANG_API int khang_read_virtual(khang_source *src, uint64_t dtb, uint64_t va, void *buf, size_t len,
                                 size_t *out_read, uint64_t *out_missing)
{
	if (out_read)
		*out_read = 0;
	if (!kh_source_ok(src) || (!buf && len))
		return kh_error(KHANG_EINVAL, "khang_read_virtual: NULL or invalid argument");
	return read_virtual(src, dtb, va, buf, len, out_read, out_missing, true);
}

int kh_vread(khang_source *src, uint64_t dtb, uint64_t va, void *buf, size_t len)
{
	return read_virtual(src, dtb, va, buf, len, NULL, NULL, false);
}

int kh_vread_ptr(khang_source *src, uint64_t dtb, uint64_t va, uint64_t *out)
{
	uint8_t b[8];
	unsigned n = kh_ptr_size(src);
	int rc = kh_vread(src, dtb, va, b, n);
	if (rc < 0)
		return rc;
	*out = n == 8 ? kh_le64(b) : kh_le32(b);
	return 0;
}

int kh_vread_u32(khang_source *src, uint64_t dtb, uint64_t va, uint32_t *out)
{
	uint8_t b[4];
	int rc = kh_vread(src, dtb, va, b, 4);
	if (rc == 0)
		*out = kh_le32(b);
	return rc;
}

int kh_vread_u64(khang_source *src, uint64_t dtb, uint64_t va, uint64_t *out)
{
	uint8_t b[8];
	int rc = kh_vread(src, dtb, va, b, 8);
	if (rc == 0)
		*out = kh_le64(b);
	return rc;
}

KHANG_API int khang_source_triage_info(khang_triage_info *out, const khang_source *src)
{
	if (!out || !kh_source_ok(src) || out->size < offsetof(khang_triage_info, processor))
		return kh_error(KHANG_EINVAL, "khang_source_triage_info: NULL or invalid argument (set out->size)");
	const kh_triage *t = src->triage;
	if (!t)
		return kh_error(KHANG_ENOTFOUND, "not a triage dump (DumpType %u)", (unsigned)src->info.dump_type);
	khang_triage_info tmp;
	memset(&tmp, 0, sizeof(tmp));
	tmp.processor = t->processor;
	tmp.prcb = t->copies[KH_TRIAGE_PRCB].va;
	tmp.thread = t->copies[KH_TRIAGE_THREAD].va;
	tmp.process = t->copies[KH_TRIAGE_PROCESS].va;
	tmp.top_of_stack = t->top_of_stack;
	tmp.stack_size = t->stack_size;
	tmp.data_blocks = (uint32_t)t->nblocks;
	tmp.drivers = t->driver_count;
	tmp.size_of_dump = t->size_of_dump;
	tmp.triage_options = t->triage_options;
	size_t n = KH_MIN(out->size, sizeof(tmp));
	tmp.size = n;
	memcpy(out, &tmp, n);
	return 0;
}

KHANG_API int khang_source_tlb_stats(khang_tlb_stats *out, const khang_source *src)
{
	if (!out || !kh_source_ok(src))
		return kh_error(KHANG_EINVAL, "khang_source_tlb_stats: NULL or invalid argument");
	*out = src->tlb_stats;
	return 0;
}

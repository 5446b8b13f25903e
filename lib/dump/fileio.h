/*
 * Read-only access to the dump bytes: a mapped file, a file read with pread(),
 * or a caller's memory buffer. Never writes.
 */
#ifndef KH_FILEIO_H
#define KH_FILEIO_H

#include "util/util.h"

typedef enum kh_file_kind {
	KH_FILE_NONE = 0,
	KH_FILE_MEMORY,  /* caller's buffer, not owned */
	KH_FILE_MMAP,    /* PROT_READ private mapping */
	KH_FILE_PREAD    /* descriptor read with pread() */
} kh_file_kind;

typedef struct kh_file {
	kh_file_kind kind;
	int fd;
	const uint8_t *base;  /* MEMORY and MMAP */
	uint64_t size;
	size_t map_len;
} kh_file;

/* Open path read-only; maps it unless no_mmap or mapping fails. */
int kh_file_open(kh_file *f, const char *path, bool no_mmap);
void kh_file_from_memory(kh_file *f, const void *data, size_t len);
void kh_file_close(kh_file *f);

/* Copy exactly len bytes at off; KHANG_ERANGE if past the end, KHANG_EIO on
 * an OS error. */
int kh_file_read(const kh_file *f, uint64_t off, void *buf, size_t len);

/* Direct pointer to [off, off + len) when the bytes are addressable (memory
 * or mapped) and inside the file; NULL otherwise. */
static inline const uint8_t *kh_file_view(const kh_file *f, uint64_t off, size_t len)
{
	if (!f->base || !kh_span_ok((size_t)f->size, off, len))
		return NULL;
	return f->base + off;
}

#endif /* KH_FILEIO_H */

/* Read-only file access: mmap first, pread as the fallback. */
#include <errno.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fileio.h"

int kh_file_open(kh_file *f, const char *path, bool no_mmap)
{
	struct stat st;

	memset(f, 0, sizeof(*f));
	f->fd = -1;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return kh_error(KHANG_EIO, "cannot open '%s': %s", path, strerror(errno));
	if (fstat(fd, &st) != 0) {
		int e = errno;
		close(fd);
		return kh_error(KHANG_EIO, "cannot stat '%s': %s", path, strerror(e));
	}
	if (!S_ISREG(st.st_mode) && !S_ISBLK(st.st_mode)) {
		close(fd);
		return kh_error(KHANG_EIO, "'%s' is not a regular file", path);
	}
	f->fd = fd;
	f->size = (uint64_t)st.st_size;
	f->kind = KH_FILE_PREAD;

	/* Map when the whole file fits the address space. */
	if (!no_mmap && f->size > 0 && f->size <= (uint64_t)SIZE_MAX) {
		void *m = mmap(NULL, (size_t)f->size, PROT_READ, MAP_PRIVATE, fd, 0);
		if (m != MAP_FAILED) {
			f->base = m;
			f->map_len = (size_t)f->size;
			f->kind = KH_FILE_MMAP;
		}
	}
	return 0;
}

void kh_file_from_memory(kh_file *f, const void *data, size_t len)
{
	memset(f, 0, sizeof(*f));
	f->fd = -1;
	f->kind = KH_FILE_MEMORY;
	f->base = data;
	f->size = len;
}

void kh_file_close(kh_file *f)
{
	if (f->kind == KH_FILE_MMAP && f->base)
		munmap((void *)(uintptr_t)f->base, f->map_len);
	if (f->fd >= 0)
		close(f->fd);
	memset(f, 0, sizeof(*f));
	f->fd = -1;
}

int kh_file_read(const kh_file *f, uint64_t off, void *buf, size_t len)
{
	if (off > f->size || len > f->size - off)
		return kh_error(KHANG_ERANGE, "read of %zu bytes at file offset 0x%llx is past the end (0x%llx)",
		                len, (unsigned long long)off, (unsigned long long)f->size);
	if (f->base) {
		memcpy(buf, f->base + off, len);
		return 0;
	}
	uint8_t *p = buf;
	while (len > 0) {
		ssize_t n = pread(f->fd, p, len, (off_t)off);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return kh_error(KHANG_EIO, "read at file offset 0x%llx failed: %s",
			                (unsigned long long)off, strerror(errno));
		}
		if (n == 0)
			return kh_error(KHANG_EIO, "file shrank while reading at offset 0x%llx",
			                (unsigned long long)off);
		p += n;
		off += (uint64_t)n;
		len -= (size_t)n;
	}
	return 0;
}

/* Growable strings (see strbuf.h). */
#include <stdarg.h>
#include <stdio.h>

#include "strbuf.h"

void kh_sb_init(kh_sb *sb, const kh_alloc *alloc)
{
	memset(sb, 0, sizeof(*sb));
	sb->alloc = alloc;
}

static bool reserve(kh_sb *sb, size_t more)
{
	if (sb->failed)
		return false;
	size_t need;
	if (kh_add_overflow_size(sb->len, more + 1, &need)) {
		sb->failed = true;
		return false;
	}
	if (need <= sb->cap)
		return true;
	size_t ncap = sb->cap ? sb->cap : 256;
	while (ncap < need)
		ncap *= 2;
	char *n = kh_realloc(sb->alloc, sb->p, ncap);
	if (!n) {
		sb->failed = true;
		return false;
	}
	sb->p = n;
	sb->cap = ncap;
	return true;
}

void kh_sb_printf(kh_sb *sb, const char *fmt, ...)
{
	va_list ap;
	char small[256];
	va_start(ap, fmt);
	int n = vsnprintf(small, sizeof(small), fmt, ap);
	va_end(ap);
	if (n < 0 || !reserve(sb, (size_t)n))
		return;
	if ((size_t)n < sizeof(small)) {
		memcpy(sb->p + sb->len, small, (size_t)n + 1);
	} else {
		va_start(ap, fmt);
		vsnprintf(sb->p + sb->len, (size_t)n + 1, fmt, ap);
		va_end(ap);
	}
	sb->len += (size_t)n;
}

void kh_sb_puts(kh_sb *sb, const char *s)
{
	size_t n = strlen(s);
	if (!reserve(sb, n))
		return;
	memcpy(sb->p + sb->len, s, n + 1);
	sb->len += n;
}

void kh_sb_json_str(kh_sb *sb, const char *s)
{
	kh_sb_puts(sb, "\"");
	for (const unsigned char *c = (const unsigned char *)(s ? s : ""); *c; c++) {
		switch (*c) {
		case '"': kh_sb_puts(sb, "\\\""); break;
		case '\\': kh_sb_puts(sb, "\\\\"); break;
		case '\n': kh_sb_puts(sb, "\\n"); break;
		case '\r': kh_sb_puts(sb, "\\r"); break;
		case '\t': kh_sb_puts(sb, "\\t"); break;
		default:
			if (*c < 0x20 || *c == 0x7F)
				kh_sb_printf(sb, "\\u%04x", *c);
			else if (*c < 0x80)
				kh_sb_printf(sb, "%c", *c);
			else
				kh_sb_printf(sb, "\\u%04x", 0xFFFD); /* keep the output ASCII and valid */
		}
	}
	kh_sb_puts(sb, "\"");
}

char *kh_sb_take(kh_sb *sb)
{
	if (sb->failed) {
		kh_sb_free(sb);
		kh_error(KHANG_ENOMEM, "out of memory building a report");
		return NULL;
	}
	if (!sb->p && !reserve(sb, 0))
		return NULL;
	if (sb->p && sb->len == 0)
		sb->p[0] = '\0';
	char *p = sb->p;
	sb->p = NULL;
	sb->len = sb->cap = 0;
	return p;
}

void kh_sb_free(kh_sb *sb)
{
	kh_free(sb->alloc, sb->p);
	sb->p = NULL;
	sb->len = sb->cap = 0;
}

/* A growable string for reports (internal). An allocation failure is
 * remembered: later appends do nothing and kh_sb_take() returns NULL. */
#ifndef KH_STRBUF_H
#define KH_STRBUF_H

#include "util.h"

typedef struct kh_sb {
	const kh_alloc *alloc;
	char *p;
	size_t len, cap;
	bool failed;
} kh_sb;

void kh_sb_init(kh_sb *sb, const kh_alloc *alloc);
void kh_sb_printf(kh_sb *sb, const char *fmt, ...) KH_PRINTF(2, 3);
void kh_sb_puts(kh_sb *sb, const char *s);
/* a JSON string literal, quotes included */
void kh_sb_json_str(kh_sb *sb, const char *s);
/* the string (caller owns it), or NULL if an allocation failed */
char *kh_sb_take(kh_sb *sb);
void kh_sb_free(kh_sb *sb);

#endif /* KH_STRBUF_H */

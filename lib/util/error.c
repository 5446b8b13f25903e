/* Per-thread error records and error code descriptions. */
#include <stdarg.h>
#include <stdio.h>

#include "util.h"

#define KH_ERRMSG_MAX 512

#if defined(_MSC_VER)
#  define KH_THREAD_LOCAL __declspec(thread)
#else
#  define KH_THREAD_LOCAL _Thread_local
#endif

static KH_THREAD_LOCAL char tl_message[KH_ERRMSG_MAX];
static KH_THREAD_LOCAL int tl_code;

KHANG_API const char *khang_strerror(int code)
{
	switch (code) {
	case KHANG_OK: return "success";
	case KHANG_EINVAL: return "invalid argument";
	case KHANG_ENOMEM: return "out of memory";
	case KHANG_EIO: return "input/output error";
	case KHANG_EFORMAT: return "unrecognised format";
	case KHANG_ECORRUPT: return "corrupt or inconsistent data";
	case KHANG_EUNSUPPORTED: return "unsupported";
	case KHANG_ENOTPRESENT: return "data not present in the dump";
	case KHANG_ENOTFOUND: return "not found";
	case KHANG_ERANGE: return "value out of range";
	case KHANG_ELIMIT: return "limit reached";
	case KHANG_EBUFSIZE: return "buffer too small";
	case KHANG_ITEROVER: return "iteration over";
	default: return "unknown error";
	}
}

KHANG_API const char *khang_error_last(void)
{
	return tl_message;
}

KHANG_API int khang_error_last_code(void)
{
	return tl_code;
}

KHANG_API void khang_error_clear(void)
{
	tl_message[0] = '\0';
	tl_code = 0;
}

int kh_error(int code, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(tl_message, sizeof(tl_message), fmt, ap);
	va_end(ap);
	tl_code = code;
	return code;
}

int kh_error_context(int code, const char *fmt, ...)
{
	char old[KH_ERRMSG_MAX];
	va_list ap;

	memcpy(old, tl_message, sizeof(old));
	va_start(ap, fmt);
	int n = vsnprintf(tl_message, sizeof(tl_message), fmt, ap);
	va_end(ap);
	/* append ": <old message>" in what room is left */
	if (old[0] && n >= 0 && (size_t)n + 2 < sizeof(tl_message)) {
		size_t used = (size_t)n;
		size_t room = sizeof(tl_message) - used - 2;
		size_t olen = strlen(old);
		tl_message[used] = ':';
		tl_message[used + 1] = ' ';
		if (olen > room - 1)
			olen = room - 1;
		memcpy(tl_message + used + 2, old, olen);
		tl_message[used + 2 + olen] = '\0';
	}
	tl_code = code;
	return code;
}

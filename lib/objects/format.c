/* Text forms of durations and times, as WinDbg and Mex print them. */
#include <inttypes.h>
#include <stdio.h>

#include "objects.h"

KHANG_API int khang_format_duration(char *buf, size_t len, int64_t ms)
{
	if (!buf && len)
		return kh_error(KHANG_EINVAL, "khang_format_duration: NULL buffer");
	if (ms < 0)
		return snprintf(buf, len, "-");
	int64_t d = ms / 86400000, h = ms / 3600000 % 24, m = ms / 60000 % 60, s = ms / 1000 % 60, f = ms % 1000;
	if (d)
		return snprintf(buf, len, "%" PRId64 "d.%02d:%02d:%02d.%03d", d, (int)h, (int)m, (int)s, (int)f);
	if (h)
		return snprintf(buf, len, "%dh:%02d:%02d.%03d", (int)h, (int)m, (int)s, (int)f);
	if (m)
		return snprintf(buf, len, "%dm:%02d.%03d", (int)m, (int)s, (int)f);
	if (s)
		return snprintf(buf, len, "%ds.%03d", (int)s, (int)f);
	return snprintf(buf, len, "%dms", (int)f);
}

/* Days since 1970-01-01 to a civil date (proleptic Gregorian). */
static void civil_from_days(int64_t z, int64_t *y, unsigned *m, unsigned *d)
{
	z += 719468;
	int64_t era = (z >= 0 ? z : z - 146096) / 146097;
	unsigned doe = (unsigned)(z - era * 146097);
	unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	int64_t yy = (int64_t)yoe + era * 400;
	unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	unsigned mp = (5 * doy + 2) / 153;
	*d = doy - (153 * mp + 2) / 5 + 1;
	*m = mp < 10 ? mp + 3 : mp - 9;
	*y = yy + (*m <= 2);
}

KHANG_API int khang_format_filetime(char *buf, size_t len, uint64_t filetime)
{
	if (!buf && len)
		return kh_error(KHANG_EINVAL, "khang_format_filetime: NULL buffer");
	if (!filetime)
		return snprintf(buf, len, "-");
	uint64_t ms_total = filetime / 10000;              /* since 1601 */
	int64_t secs = (int64_t)(ms_total / 1000) - INT64_C(11644473600); /* since 1970 */
	unsigned ms = (unsigned)(ms_total % 1000);
	int64_t days = secs >= 0 ? secs / 86400 : -((-secs + 86399) / 86400);
	int64_t rem = secs - days * 86400;
	int64_t y;
	unsigned mo, d;
	civil_from_days(days, &y, &mo, &d);
	return snprintf(buf, len, "%04" PRId64 "-%02u-%02u %02u:%02u:%02u.%03u", y, mo, d, (unsigned)(rem / 3600),
	                (unsigned)(rem / 60 % 60), (unsigned)(rem % 60), ms);
}

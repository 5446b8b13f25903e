/* Version and small name tables. */
#include "util.h"
#include "khang/version.h"

KHANG_API const char *khang_version(int *major, int *minor, int *patch)
{
	if (major)
		*major = KHANG_VERSION_MAJOR;
	if (minor)
		*minor = KHANG_VERSION_MINOR;
	if (patch)
		*patch = KHANG_VERSION_PATCH;
	return KHANG_VERSION_STRING;
}

KHANG_API const char *khang_arch_name(khang_arch arch)
{
	switch (arch) {
	case KHANG_ARCH_X86: return "x86";
	case KHANG_ARCH_X64: return "x64";
	case KHANG_ARCH_ARM64: return "arm64";
	default: return "unknown";
	}
}

/* The version macros, khang_version() of the linked library and CMake's
 * project version (passed as KH_CMAKE_*) are the same. */
#include <stdio.h>
#include <string.h>

#include "khang.h"

static int fails;

static void expect(int ok, const char *what)
{
	if (!ok) {
		fprintf(stderr, "version mismatch: %s\n", what);
		fails++;
	}
}

int main(void)
{
	int major = -1, minor = -1, patch = -1;
	const char *s = khang_version(&major, &minor, &patch);
	char buf[64];

	expect(KHANG_VERSION_MAJOR == KH_CMAKE_MAJOR, "KHANG_VERSION_MAJOR vs CMake");
	expect(KHANG_VERSION_MINOR == KH_CMAKE_MINOR, "KHANG_VERSION_MINOR vs CMake");
	expect(KHANG_VERSION_PATCH == KH_CMAKE_PATCH, "KHANG_VERSION_PATCH vs CMake");
	expect(strcmp(KHANG_VERSION_STRING, KH_CMAKE_VERSION) == 0, "KHANG_VERSION_STRING vs CMake");
	snprintf(buf, sizeof(buf), "%d.%d.%d", KHANG_VERSION_MAJOR, KHANG_VERSION_MINOR, KHANG_VERSION_PATCH);
	expect(strcmp(buf, KHANG_VERSION_STRING) == 0, "KHANG_VERSION_STRING vs the numbers");
	expect(KHANG_VERSION_NUMBER == KH_CMAKE_MAJOR * 10000 + KH_CMAKE_MINOR * 100 + KH_CMAKE_PATCH,
	       "KHANG_VERSION_NUMBER");
	expect(s != NULL && strcmp(s, KH_CMAKE_VERSION) == 0, "khang_version() string vs CMake");
	expect(major == KH_CMAKE_MAJOR && minor == KH_CMAKE_MINOR && patch == KH_CMAKE_PATCH,
	       "khang_version() numbers vs CMake");
	expect(khang_version(NULL, NULL, NULL) == s, "khang_version(NULL, NULL, NULL)");
	if (fails == 0)
		printf("libkhang %s: macros, library and CMake agree\n", s);
	return fails != 0;
}

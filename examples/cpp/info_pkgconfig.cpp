// info_pkgconfig: libkhang from C++, built with nothing but pkg-config:
//
//   c++ -std=c++11 info_pkgconfig.cpp $(pkg-config --cflags --libs khang) -o info_pkgconfig
//   ./info_pkgconfig MEMORY.DMP
//
// (PKG_CONFIG_PATH=PREFIX/lib/pkgconfig when libkhang is installed in a
// prefix pkg-config does not search, and LD_LIBRARY_PATH=PREFIX/lib or
// -Wl,-rpath,PREFIX/lib to run it.)
#include <cinttypes>
#include <cstdio>

#include <khang.h>

int main(int argc, char **argv)
{
	// The library linked at run time can be newer than these headers.
	int major = 0, minor = 0, patch = 0;
	const char *version = khang_version(&major, &minor, &patch);
	std::printf("libkhang %s (headers %s)\n", version, KHANG_VERSION_STRING);
	if (major != KHANG_VERSION_MAJOR) {
		std::fprintf(stderr, "libkhang major version %d, built for %d\n", major, KHANG_VERSION_MAJOR);
		return 1;
	}
	if (argc != 2) {
		std::fprintf(stderr, "usage: %s MEMORY.DMP\n", argv[0]);
		return 2;
	}

	khang_source *src = nullptr;
	if (khang_source_open(&src, argv[1], nullptr) < 0) {
		std::fprintf(stderr, "%s: %s\n", argv[1], khang_error_last());
		return 1;
	}
	khang_source_info info{};
	info.size = sizeof info;
	khang_source_get_info(&info, src);
	std::printf("%s dump of Windows build %u (%s), %" PRIu64 " pages\n",
	            khang_dump_type_name(info.dump_type), info.build,
	            khang_arch_name(info.arch), info.pages_indexed);
	khang_source_free(src);
	return 0;
}

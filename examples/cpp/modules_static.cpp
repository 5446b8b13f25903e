// modules_static: libkhang from C++, linked statically through CMake's
// find_package(khang) and the imported target khang::khang_static.
//
//   usage: modules_static MEMORY.DMP
//
// libkhang is a C library; its headers declare everything extern "C", so
// C++ includes them as they are. This example wraps the handles in
// std::unique_ptr (each freed by its _free function) and turns error codes
// into exceptions: the usual way to hold a C library in C++.
#include <cinttypes>
#include <cstdio>
#include <memory>
#include <stdexcept>
#include <string>

#include <khang.h>

namespace {

// Throw when a libkhang call fails, with the library's message.
void check(int rc, const char *what)
{
	if (rc < 0)
		throw std::runtime_error(std::string(what) + ": " + khang_error_last());
}

struct SourceDeleter {
	void operator()(khang_source *s) const { khang_source_free(s); }
};
struct ModuleIterDeleter {
	void operator()(khang_module_iter *it) const { khang_module_iter_free(it); }
};
using Source = std::unique_ptr<khang_source, SourceDeleter>;
using ModuleIter = std::unique_ptr<khang_module_iter, ModuleIterDeleter>;

Source open_dump(const char *path)
{
	khang_source *raw = nullptr;
	check(khang_source_open(&raw, path, nullptr), path);
	return Source(raw);
}

// "nt!KeWaitForSingleObject+0x377", "TmXPFlt+0x1bce3" or the address.
std::string symbolize(khang_source *src, std::uint64_t va)
{
	char buf[256];
	int n = khang_source_symbolize(buf, sizeof buf, src, va);
	check(n, "symbolize");
	return buf;
}

} // namespace

int main(int argc, char **argv)
{
	if (argc != 2) {
		std::fprintf(stderr, "usage: %s MEMORY.DMP\n", argv[0]);
		return 2;
	}
	try {
		Source src = open_dump(argv[1]);

		// Sized structures: zero them and set the size (the C examples use
		// the KHANG_*_INIT macros for the same).
		khang_kernel_info kernel{};
		kernel.size = sizeof kernel;
		check(khang_source_kernel_info(&kernel, src.get()), "kernel");
		std::printf("kernel %s at 0x%" PRIx64 "\n", kernel.pdb_name, kernel.base);

		khang_module_iter *raw = nullptr;
		check(khang_module_iter_new(&raw, src.get()), "modules");
		ModuleIter it(raw);
		const khang_module *m = nullptr;
		int rc;
		while ((rc = khang_module_next(&m, it.get())) == 0) {
			std::uint64_t base = khang_module_base(m);
			// Name the module's entry point region the way a stack shows it.
			std::printf("%-16s 0x%016" PRIx64 " %8u  %s\n", khang_module_name(m), base,
			            khang_module_size(m), symbolize(src.get(), base + 0x100).c_str());
		}
		if (rc != KHANG_ITEROVER)
			check(rc, "next module");
	} catch (const std::exception &e) {
		std::fprintf(stderr, "modules_static: %s\n", e.what());
		return 1;
	}
	return 0;
}

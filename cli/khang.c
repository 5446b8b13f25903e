/* khang: command-line front end (grows with the library). */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "khang.h"

static int cmd_info(const char *path)
{
	khang_source *src;
	khang_source_info in = KHANG_SOURCE_INFO_INIT;
	int rc = khang_source_open(&src, path, NULL);
	if (rc < 0) {
		fprintf(stderr, "khang: %s\n", khang_error_last());
		return 2;
	}
	khang_source_get_info(&in, src);
	printf("file:          %s (%" PRIu64 " bytes)\n", path, in.file_size);
	printf("dump type:     %s (%u)\n", khang_dump_type_name(in.dump_type), (unsigned)in.dump_type);
	printf("architecture:  %s%s\n", khang_arch_name(in.arch), in.arch == KHANG_ARCH_X86 ? (in.pae ? " (PAE)" : " (non-PAE)") : "");
	printf("build:         %u\n", in.build);
	printf("processors:    %u\n", in.processors);
	printf("bugcheck:      0x%08x (0x%" PRIx64 ", 0x%" PRIx64 ", 0x%" PRIx64 ", 0x%" PRIx64 ")\n", in.bugcheck_code,
	       in.bugcheck_params[0], in.bugcheck_params[1], in.bugcheck_params[2], in.bugcheck_params[3]);
	printf("DTB:           0x%" PRIx64 "\n", in.dtb);
	printf("KdDebuggerDataBlock: 0x%" PRIx64 "\n", in.kd_debugger_data_block);
	printf("PsActiveProcessHead: 0x%" PRIx64 "\n", in.ps_active_process_head);
	printf("PsLoadedModuleList:  0x%" PRIx64 "\n", in.ps_loaded_module_list);
	printf("pages:         %" PRIu64 " indexed, %" PRIu64 " missing\n", in.pages_indexed, in.pages_missing);
	for (uint32_t i = 0; i < khang_source_warning_count(src); i++) {
		const char *w = khang_source_warning(src, i);
		if (w)
			printf("warning:       %s\n", w);
	}
	khang_source_free(src);
	return 0;
}

static void usage(FILE *f)
{
	fprintf(f, "usage: khang info DUMP\n"
	           "       khang --version\n");
}

int main(int argc, char **argv)
{
	if (argc >= 2 && strcmp(argv[1], "--version") == 0) {
		printf("khang %s\n", khang_version(NULL, NULL, NULL));
		return 0;
	}
	if (argc == 3 && strcmp(argv[1], "info") == 0)
		return cmd_info(argv[2]);
	usage(argc >= 2 && strcmp(argv[1], "--help") == 0 ? stdout : stderr);
	return argc >= 2 && strcmp(argv[1], "--help") == 0 ? 0 : 2;
}

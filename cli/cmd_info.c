/* khang info / khang modules: what the dump is, which kernel, which layout. */
#include <inttypes.h>
#include <string.h>

#include "cli.h"

static const char *check_name(khang_layout_check c)
{
	switch (c) {
	case KHANG_CHECK_PASSED: return "passed";
	case KHANG_CHECK_PARTIAL: return "partial";
	case KHANG_CHECK_FAILED: return "failed";
	default: return "none";
	}
}

int cmd_info(const cli_opts *o)
{
	khang_source *src = cli_open(o);
	khang_source_info in = KHANG_SOURCE_INFO_INIT;
	khang_kernel_info ki = KHANG_KERNEL_INFO_INIT;
	if (!src)
		return 2;
	khang_source_get_info(&in, src);
	int krc = khang_source_kernel_info(&ki, src);

	if (o->json) {
		json_out j;
		json_begin(&j, stdout);
		json_kv_str(&j, "command", "info");
		json_key(&j, "dump");
		json_obj_open(&j);
		json_kv_str(&j, "file", o->dump);
		json_kv_u64(&j, "file_size", in.file_size);
		json_kv_str(&j, "type", khang_dump_type_name(in.dump_type));
		json_kv_u64(&j, "dump_type", (uint64_t)in.dump_type);
		json_kv_str(&j, "arch", khang_arch_name(in.arch));
		json_kv_bool(&j, "pae", in.pae != 0);
		json_kv_u64(&j, "build", in.build);
		json_kv_u64(&j, "processors", in.processors);
		json_kv_hex(&j, "bugcheck_code", in.bugcheck_code);
		json_key(&j, "bugcheck_params");
		json_arr_open(&j);
		for (int i = 0; i < 4; i++)
			json_hex(&j, in.bugcheck_params[i]);
		json_arr_close(&j);
		json_kv_hex(&j, "dtb", in.dtb);
		json_kv_u64(&j, "pages_indexed", in.pages_indexed);
		json_kv_u64(&j, "pages_missing", in.pages_missing);
		json_obj_close(&j);
		json_key(&j, "kernel");
		if (krc == 0) {
			json_obj_open(&j);
			json_kv_hex(&j, "base", ki.base);
			json_kv_str(&j, "pdb", ki.pdb_name);
			json_kv_str(&j, "pdb_id", ki.pdb_id);
			json_kv_hex(&j, "kdbg", ki.kdbg_address);
			json_kv_bool(&j, "kdbg_valid", ki.kdbg_valid);
			json_kv_bool(&j, "kdbg_was_encoded", ki.kdbg_was_encoded);
			json_kv_str(&j, "layout", ki.layout ? khang_layout_description(ki.layout) : "");
			json_kv_str(&j, "layout_check", check_name(ki.check));
			json_kv_str(&j, "layout_note", ki.layout_note);
			json_kv_u64(&j, "tick_count", ki.tick_count);
			json_obj_close(&j);
		} else {
			json_null(&j);
		}
		json_key(&j, "warnings");
		json_arr_open(&j);
		for (uint32_t i = 0; i < khang_source_warning_count(src); i++)
			if (khang_source_warning(src, i))
				json_str(&j, khang_source_warning(src, i));
		json_arr_close(&j);
		json_end(&j);
		cli_close(src);
		return 0;
	}

	printf("dump:        %s (%" PRIu64 " bytes)\n", o->dump, in.file_size);
	printf("type:        %s (DumpType %u)\n", khang_dump_type_name(in.dump_type), (unsigned)in.dump_type);
	printf("system:      Windows build %u, %s%s, %u processors\n", in.build, khang_arch_name(in.arch),
	       in.arch == KHANG_ARCH_X86 ? (in.pae ? " PAE" : " non-PAE") : "", in.processors);
	printf("bugcheck:    0x%08x (0x%" PRIx64 ", 0x%" PRIx64 ", 0x%" PRIx64 ", 0x%" PRIx64 ")\n", in.bugcheck_code,
	       in.bugcheck_params[0], in.bugcheck_params[1], in.bugcheck_params[2], in.bugcheck_params[3]);
	printf("memory:      %" PRIu64 " pages in the dump", in.pages_indexed);
	if (in.pages_missing)
		printf(", %" PRIu64 " missing (file truncated)", in.pages_missing);
	printf("\n");
	if (krc == 0) {
		printf("kernel:      base 0x%" PRIx64 ", %s %s\n", ki.base, ki.has_pdb ? ki.pdb_name : "(no PDB record)",
		       ki.pdb_id);
		printf("KDBG:        0x%" PRIx64 " %s%s\n", ki.kdbg_address, ki.kdbg_valid ? "valid" : "not readable",
		       ki.kdbg_was_encoded ? " (decoded)" : "");
		printf("layout:      %s\n", ki.layout ? khang_layout_description(ki.layout) : "none (limited mode)");
		printf("             validation %s: %s\n", check_name(ki.check), ki.layout_note);
	} else {
		printf("kernel:      not available: %s\n", khang_error_last());
	}
	cli_print_warnings(src);
	cli_close(src);
	return 0;
}

/* FILETIME as "YYYY-MM-DD hh:mm:ss UTC" (civil date from days since 1970). */
static void format_filetime(char *out, size_t cap, uint64_t ft)
{
	uint64_t secs = ft / 10000000u;
	if (secs < 11644473600u) {
		snprintf(out, cap, "-");
		return;
	}
	secs -= 11644473600u;
	uint64_t days = secs / 86400u, rem = secs % 86400u;
	/* days to year/month/day in the proleptic Gregorian calendar */
	uint64_t z = days + 719468u, era = z / 146097u, doe = z - era * 146097u;
	uint64_t yoe = (doe - doe / 1460u + doe / 36524u - doe / 146096u) / 365u;
	uint64_t doy = doe - (365u * yoe + yoe / 4u - yoe / 100u), mp = (5u * doy + 2u) / 153u;
	uint64_t d = doy - (153u * mp + 2u) / 5u + 1u, m = mp < 10u ? mp + 3u : mp - 9u;
	uint64_t y = yoe + era * 400u + (m <= 2u);
	snprintf(out, cap, "%04" PRIu64 "-%02" PRIu64 "-%02" PRIu64 " %02" PRIu64 ":%02" PRIu64 ":%02" PRIu64 " UTC", y,
	         m, d, rem / 3600u, rem / 60u % 60u, rem % 60u);
}

/* The drivers the kernel unloaded before the dump, after the loaded ones. */
static void print_unloaded(const cli_opts *o, json_out *j, khang_source *src)
{
	size_t n = 0;
	if (khang_source_unloaded_driver_count(src, &n) < 0)
		n = 0;
	if (o->json) {
		json_key(j, "unloaded");
		json_arr_open(j);
	} else if (n) {
		printf("\nUnloaded modules:\n%-16s %-16s %-23s  %s\n", "start", "end", "unloaded", "name");
	}
	for (size_t i = 0; i < n; i++) {
		khang_unloaded_driver u = KHANG_UNLOADED_DRIVER_INIT;
		if (khang_source_unloaded_driver(&u, src, i) < 0)
			continue;
		char when[96] = "-";
		if (u.unload_time)
			format_filetime(when, sizeof(when), u.unload_time);
		if (o->json) {
			json_obj_open(j);
			json_kv_str(j, "name", u.name);
			json_kv_hex(j, "start", u.start);
			json_kv_hex(j, "end", u.end);
			if (u.unload_time)
				json_kv_str(j, "unloaded", when);
			json_obj_close(j);
		} else {
			printf("%016" PRIx64 " %016" PRIx64 " %-23s  %s\n", u.start, u.end, when, u.name);
		}
	}
	if (o->json)
		json_arr_close(j);
}

int cmd_modules(const cli_opts *o)
{
	khang_source *src = cli_open(o);
	khang_module_iter *it;
	const khang_module *m;
	if (!src)
		return 2;
	if (khang_module_iter_new(&it, src) < 0) {
		fprintf(stderr, "khang: %s\n", khang_error_last());
		cli_close(src);
		return 2;
	}
	json_out j;
	if (o->json) {
		json_begin(&j, stdout);
		json_kv_str(&j, "command", "modules");
		json_key(&j, "modules");
		json_arr_open(&j);
	} else {
		printf("%-16s %-16s %10s  %s\n", "start", "end", "size", "name");
	}
	while (khang_module_next(&m, it) == 0) {
		uint64_t b = khang_module_base(m);
		uint32_t sz = khang_module_size(m);
		if (o->json) {
			json_obj_open(&j);
			json_kv_str(&j, "name", khang_module_name(m));
			json_kv_hex(&j, "base", b);
			json_kv_u64(&j, "size", sz);
			json_kv_str(&j, "path", khang_module_path(m));
			json_obj_close(&j);
		} else {
			printf("%016" PRIx64 " %016" PRIx64 " %10u  %s\n", b, b + sz, sz, khang_module_name(m));
		}
	}
	if (o->json) {
		json_arr_close(&j);
		json_kv_u64(&j, "skipped", khang_module_iter_skipped(it));
	} else if (khang_module_iter_skipped(it)) {
		printf("(%u entries could not be read)\n", khang_module_iter_skipped(it));
	}
	khang_module_iter_free(it);
	print_unloaded(o, &j, src);
	if (o->json)
		json_end(&j);
	cli_print_warnings(src);
	cli_close(src);
	return 0;
}

/*
 * c_reference: what the C API answers, as JSON, for the Python tests to
 * compare the bindings with (same library, same dump, same questions).
 *
 *   c_reference structs              sizes and member offsets of the public
 *                                    structures the bindings mirror
 *   c_reference dump FILE [VA...]    header, kernel, modules, and for each VA
 *                                    its symbol, its translation, a 16-byte
 *                                    virtual read and the stack walked from
 *                                    a CONTEXT record there
 */
#include <inttypes.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>

#include "khang.h"

static void str(const char *s)
{
	putchar('"');
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		if (c == '"' || c == '\\')
			printf("\\%c", c);
		else if (c < 0x20 || c >= 0x7f)
			printf("\\u%04x", c);
		else
			putchar(c);
	}
	putchar('"');
}

#define MEMBER(type, m) printf("%s\"%s\": [%zu, %zu]", first ? "" : ", ", #m, offsetof(type, m), sizeof(((type *)0)->m)), first = 0
#define BEGIN(type) printf("%s\"%s\": {\"size\": %zu, \"members\": {", nstruct++ ? ", " : "", #type, sizeof(type)), first = 1
#define END() printf("}}")

static int structs(void)
{
	int first, nstruct = 0;
	printf("{");
	BEGIN(khang_source_opts);
	MEMBER(khang_source_opts, size); MEMBER(khang_source_opts, flags);
	MEMBER(khang_source_opts, allocator); MEMBER(khang_source_opts, tlb_entries);
	MEMBER(khang_source_opts, layout); MEMBER(khang_source_opts, max_list_entries);
	MEMBER(khang_source_opts, image_path);
	END();
	BEGIN(khang_source_info);
	MEMBER(khang_source_info, size); MEMBER(khang_source_info, arch);
	MEMBER(khang_source_info, dump_type); MEMBER(khang_source_info, machine_type);
	MEMBER(khang_source_info, major_version); MEMBER(khang_source_info, build);
	MEMBER(khang_source_info, processors); MEMBER(khang_source_info, pae);
	MEMBER(khang_source_info, bugcheck_code); MEMBER(khang_source_info, bugcheck_params);
	MEMBER(khang_source_info, dtb); MEMBER(khang_source_info, pfn_database);
	MEMBER(khang_source_info, ps_loaded_module_list); MEMBER(khang_source_info, ps_active_process_head);
	MEMBER(khang_source_info, kd_debugger_data_block); MEMBER(khang_source_info, system_time);
	MEMBER(khang_source_info, system_uptime); MEMBER(khang_source_info, product_type);
	MEMBER(khang_source_info, suite_mask); MEMBER(khang_source_info, file_size);
	MEMBER(khang_source_info, pages_indexed); MEMBER(khang_source_info, pages_missing);
	MEMBER(khang_source_info, max_pfn); MEMBER(khang_source_info, header_size);
	MEMBER(khang_source_info, warnings); MEMBER(khang_source_info, comment);
	END();
	BEGIN(khang_triage_info);
	MEMBER(khang_triage_info, size); MEMBER(khang_triage_info, processor);
	MEMBER(khang_triage_info, prcb); MEMBER(khang_triage_info, thread);
	MEMBER(khang_triage_info, process); MEMBER(khang_triage_info, top_of_stack);
	MEMBER(khang_triage_info, stack_size); MEMBER(khang_triage_info, data_blocks);
	MEMBER(khang_triage_info, drivers); MEMBER(khang_triage_info, size_of_dump);
	MEMBER(khang_triage_info, triage_options);
	END();
	BEGIN(khang_tlb_stats);
	MEMBER(khang_tlb_stats, hits); MEMBER(khang_tlb_stats, misses);
	END();
	BEGIN(khang_frame);
	MEMBER(khang_frame, ip); MEMBER(khang_frame, sp); MEMBER(khang_frame, kind);
	END();
	BEGIN(khang_stack_opts);
	MEMBER(khang_stack_opts, size); MEMBER(khang_stack_opts, max_frames);
	MEMBER(khang_stack_opts, flags); MEMBER(khang_stack_opts, scan_bytes);
	END();
	BEGIN(khang_frame_info);
	MEMBER(khang_frame_info, size); MEMBER(khang_frame_info, ip); MEMBER(khang_frame_info, sp);
	MEMBER(khang_frame_info, kind); MEMBER(khang_frame_info, user_mode); MEMBER(khang_frame_info, module);
	MEMBER(khang_frame_info, module_base); MEMBER(khang_frame_info, symbol); MEMBER(khang_frame_info, offset);
	MEMBER(khang_frame_info, text); MEMBER(khang_frame_info, trap_frame);
	END();
	BEGIN(khang_unique_opts);
	MEMBER(khang_unique_opts, size); MEMBER(khang_unique_opts, process);
	MEMBER(khang_unique_opts, module_filter); MEMBER(khang_unique_opts, symbol_filter);
	MEMBER(khang_unique_opts, stack);
	END();
	BEGIN(khang_verdict_opts);
	MEMBER(khang_verdict_opts, size); MEMBER(khang_verdict_opts, long_wait_ms);
	MEMBER(khang_verdict_opts, ready_wait_ms);
	END();
	BEGIN(khang_verdict_step);
	MEMBER(khang_verdict_step, size); MEMBER(khang_verdict_step, kind); MEMBER(khang_verdict_step, thread);
	MEMBER(khang_verdict_step, process); MEMBER(khang_verdict_step, object); MEMBER(khang_verdict_step, wait_ms);
	MEMBER(khang_verdict_step, text);
	END();
	BEGIN(khang_verdict_check);
	MEMBER(khang_verdict_check, size); MEMBER(khang_verdict_check, name); MEMBER(khang_verdict_check, status);
	MEMBER(khang_verdict_check, text);
	END();
	BEGIN(khang_alpc_connection);
	MEMBER(khang_alpc_connection, size); MEMBER(khang_alpc_connection, communication_info);
	MEMBER(khang_alpc_connection, server_port); MEMBER(khang_alpc_connection, client_port);
	MEMBER(khang_alpc_connection, server_queued); MEMBER(khang_alpc_connection, client_queued);
	MEMBER(khang_alpc_connection, server_process_address); MEMBER(khang_alpc_connection, server_process);
	MEMBER(khang_alpc_connection, client_process_address); MEMBER(khang_alpc_connection, client_process);
	END();
	BEGIN(khang_alpc_wait);
	MEMBER(khang_alpc_wait, size); MEMBER(khang_alpc_wait, thread); MEMBER(khang_alpc_wait, thread_address);
	MEMBER(khang_alpc_wait, client_process_address); MEMBER(khang_alpc_wait, client_process);
	MEMBER(khang_alpc_wait, wait_ms); MEMBER(khang_alpc_wait, message); MEMBER(khang_alpc_wait, message_id);
	MEMBER(khang_alpc_wait, message_ok); MEMBER(khang_alpc_wait, queue_port_kind);
	MEMBER(khang_alpc_wait, queue_port); MEMBER(khang_alpc_wait, owner_port);
	MEMBER(khang_alpc_wait, connection_port); MEMBER(khang_alpc_wait, server_process_address);
	MEMBER(khang_alpc_wait, server_process); MEMBER(khang_alpc_wait, server_thread_address);
	MEMBER(khang_alpc_wait, server_thread);
	END();
	BEGIN(khang_wait_object);
	MEMBER(khang_wait_object, size); MEMBER(khang_wait_object, wait_block); MEMBER(khang_wait_object, object);
	MEMBER(khang_wait_object, type); MEMBER(khang_wait_object, raw_type); MEMBER(khang_wait_object, type_name);
	MEMBER(khang_wait_object, signal_state); MEMBER(khang_wait_object, wait_type);
	MEMBER(khang_wait_object, wait_key); MEMBER(khang_wait_object, block_state);
	MEMBER(khang_wait_object, block_state_name); MEMBER(khang_wait_object, owner_address);
	MEMBER(khang_wait_object, owner); MEMBER(khang_wait_object, thread); MEMBER(khang_wait_object, process);
	END();
	BEGIN(khang_ready_entry);
	MEMBER(khang_ready_entry, size); MEMBER(khang_ready_entry, thread); MEMBER(khang_ready_entry, thread_address);
	MEMBER(khang_ready_entry, priority); MEMBER(khang_ready_entry, processor); MEMBER(khang_ready_entry, queue);
	MEMBER(khang_ready_entry, ready_ms);
	END();
	BEGIN(khang_kernel_info);
	MEMBER(khang_kernel_info, size); MEMBER(khang_kernel_info, base);
	MEMBER(khang_kernel_info, image_size); MEMBER(khang_kernel_info, has_pdb);
	MEMBER(khang_kernel_info, pdb_name); MEMBER(khang_kernel_info, pdb_id);
	MEMBER(khang_kernel_info, kdbg_address); MEMBER(khang_kernel_info, kdbg_valid);
	MEMBER(khang_kernel_info, kdbg_was_encoded); MEMBER(khang_kernel_info, layout);
	MEMBER(khang_kernel_info, check); MEMBER(khang_kernel_info, layout_note);
	MEMBER(khang_kernel_info, ki_processor_block); MEMBER(khang_kernel_info, ps_active_process_head);
	MEMBER(khang_kernel_info, ps_loaded_module_list); MEMBER(khang_kernel_info, processors);
	MEMBER(khang_kernel_info, tick_count); MEMBER(khang_kernel_info, tick_multiplier);
	MEMBER(khang_kernel_info, time_increment);
	END();
	BEGIN(khang_unloaded_driver);
	MEMBER(khang_unloaded_driver, size); MEMBER(khang_unloaded_driver, name);
	MEMBER(khang_unloaded_driver, start); MEMBER(khang_unloaded_driver, end);
	MEMBER(khang_unloaded_driver, unload_time);
	END();
	BEGIN(khang_processor_dpc);
	MEMBER(khang_processor_dpc, size); MEMBER(khang_processor_dpc, routine);
	MEMBER(khang_processor_dpc, active_dpc); MEMBER(khang_processor_dpc, routine_active);
	MEMBER(khang_processor_dpc, time_count); MEMBER(khang_processor_dpc, time_limit);
	MEMBER(khang_processor_dpc, watchdog_period); MEMBER(khang_processor_dpc, watchdog_count);
	END();
	BEGIN(khang_irp);
	MEMBER(khang_irp, size); MEMBER(khang_irp, address); MEMBER(khang_irp, thread);
	MEMBER(khang_irp, file_object); MEMBER(khang_irp, flags); MEMBER(khang_irp, status);
	MEMBER(khang_irp, stack_count); MEMBER(khang_irp, current_location); MEMBER(khang_irp, cancel);
	MEMBER(khang_irp, pending_returned); MEMBER(khang_irp, major); MEMBER(khang_irp, minor);
	MEMBER(khang_irp, device); MEMBER(khang_irp, driver); MEMBER(khang_irp, driver_name);
	MEMBER(khang_irp, module);
	END();
	BEGIN(khang_irp_location);
	MEMBER(khang_irp_location, size); MEMBER(khang_irp_location, address); MEMBER(khang_irp_location, index);
	MEMBER(khang_irp_location, current); MEMBER(khang_irp_location, major); MEMBER(khang_irp_location, minor);
	MEMBER(khang_irp_location, flags); MEMBER(khang_irp_location, control); MEMBER(khang_irp_location, device);
	MEMBER(khang_irp_location, driver); MEMBER(khang_irp_location, driver_name);
	MEMBER(khang_irp_location, module); MEMBER(khang_irp_location, file_object);
	MEMBER(khang_irp_location, completion_routine); MEMBER(khang_irp_location, context);
	MEMBER(khang_irp_location, power_type); MEMBER(khang_irp_location, power_state);
	MEMBER(khang_irp_location, power_action);
	END();
	printf("}\n");
	return 0;
}

static int dump(const char *path, int naddr, char **addr)
{
	khang_source *src;
	if (khang_source_open(&src, path, NULL) < 0) {
		printf("{\"open_error\": %d}\n", khang_error_last_code());
		return 0;
	}
	khang_source_info in = KHANG_SOURCE_INFO_INIT;
	khang_source_get_info(&in, src);
	printf("{\"info\": {\"arch\": %d, \"dump_type\": %d, \"build\": %u, \"processors\": %u, "
	       "\"bugcheck_code\": %u, \"dtb\": %" PRIu64 ", \"file_size\": %" PRIu64 ", "
	       "\"pages_indexed\": %" PRIu64 ", \"system_time\": %" PRIu64 ", \"comment\": ",
	       (int)in.arch, (int)in.dump_type, in.build, in.processors, in.bugcheck_code, in.dtb,
	       in.file_size, in.pages_indexed, in.system_time);
	str(in.comment);
	printf("}, \"kernel\": ");
	khang_kernel_info ki = KHANG_KERNEL_INFO_INIT;
	int krc = khang_source_kernel_info(&ki, src);
	if (krc == 0) {
		printf("{\"base\": %" PRIu64 ", \"pdb_id\": ", ki.base);
		str(ki.pdb_id);
		printf(", \"layout\": ");
		str(ki.layout ? khang_layout_description(ki.layout) : "");
		printf(", \"check\": %d, \"symbols\": %zu, \"tick_count\": %" PRIu64 "}", (int)ki.check,
		       ki.layout ? khang_layout_symbol_count(ki.layout) : 0, ki.tick_count);
	} else {
		printf("{\"error\": %d}", krc);
	}
	printf(", \"modules\": [");
	khang_module_iter *it;
	const khang_module *m;
	if (khang_module_iter_new(&it, src) == 0) {
		for (int n = 0; khang_module_next(&m, it) == 0; n++) {
			printf("%s{\"name\": ", n ? ", " : "");
			str(khang_module_name(m));
			printf(", \"base\": %" PRIu64 ", \"size\": %u}", khang_module_base(m), khang_module_size(m));
		}
		khang_module_iter_free(it);
	}
	printf("], \"addresses\": [");
	for (int i = 0; i < naddr; i++) {
		uint64_t va = strtoull(addr[i], NULL, 0), pa = 0, missing = 0;
		char sym[512];
		unsigned char buf[16];
		size_t got = 0;
		khang_source_symbolize(sym, sizeof(sym), src, va);
		int trc = khang_translate(&pa, src, 0, va);
		int rrc = khang_read_virtual(src, 0, va, buf, sizeof(buf), &got, &missing);
		printf("%s{\"va\": %" PRIu64 ", \"symbol\": ", i ? ", " : "", va);
		str(sym);
		printf(", \"translate\": %d, \"pa\": %" PRIu64 ", \"read\": %d, \"bytes\": \"", trc,
		       trc == 0 ? pa : 0, rrc);
		for (size_t b = 0; b < got; b++)
			printf("%02x", buf[b]);
		printf("\", \"missing\": %" PRIu64 ", \"stack\": ", rrc == KHANG_ENOTPRESENT ? missing : 0);
		/* a stack walked from a CONTEXT record at va */
		khang_stack *st = NULL;
		int src_rc = khang_stack_walk_context(&st, src, va, NULL);
		if (src_rc < 0) {
			printf("{\"error\": %d}", src_rc);
		} else {
			printf("{\"end\": ");
			str(khang_stack_end_reason(st));
			printf(", \"frames\": [");
			for (size_t f = 0; f < khang_stack_frame_count(st); f++) {
				khang_frame fr;
				khang_stack_frame(&fr, st, f);
				printf("%s[%" PRIu64 ", %" PRIu64 ", %d]", f ? ", " : "", fr.ip, fr.sp, (int)fr.kind);
			}
			printf("]}");
		}
		khang_stack_free(st);
		printf("}");
	}
	printf("], \"warnings\": %u}\n", khang_source_warning_count(src));
	khang_source_free(src);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc == 2 && argv[1][0] == 's')
		return structs();
	if (argc >= 3 && argv[1][0] == 'd')
		return dump(argv[2], argc - 3, argv + 3);
	fprintf(stderr, "usage: c_reference structs | dump FILE [VA...]\n");
	return 2;
}

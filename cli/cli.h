/*
 * khang CLI internals: command table, common options and output helpers.
 * Each command group lives in its own cmd_*.c file and registers in
 * commands[] (khang.c).
 */
#ifndef KHANG_CLI_H
#define KHANG_CLI_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "khang.h"

/* JSON output schema version, in every --json document. */
#define KHANG_JSON_SCHEMA 1

typedef struct cli_opts {
	const char *dump;      /* the dump file */
	bool json;             /* --json */
	bool verbose;          /* -v */
	const char *isf;       /* --isf FILE: layout for an unknown kernel */
	const char *image_path;/* --image-path DIRS: module images (':'-separated directories or symbol stores) */
	int argc;              /* remaining arguments after the dump */
	char **argv;
} cli_opts;

/* Open the dump named in o (with --isf if given); prints the error and
 * returns NULL on failure. Free with cli_close(). */
khang_source *cli_open(const cli_opts *o);
void cli_close(khang_source *src);
/* Print the source's warnings to stderr ("warning: ..."). */
void cli_print_warnings(khang_source *src);

/* An address as WinDbg writes them (hex, optional 0x, optional `). */
bool cli_parse_address(const char *s, uint64_t *out);
/* A PID or TID: decimal, 0x... hex, or 0n... decimal. */
bool cli_parse_pid(const char *s, uint64_t *out);

/* -p PID|NAME: the process with that PID, or every process of that image
 * name (case-insensitive), in a malloc'd array (*count of them; none and 0
 * for a NULL spec). Prints the error and returns 2 when none matches. */
int cli_select_processes(khang_source *src, const char *spec, const khang_process ***out, size_t *count);

/* ---- a text table with aligned columns (like Mex) ----------------------------- */
#if defined(__GNUC__) || defined(__clang__)
#  define CLI_PRINTF(a, b) __attribute__((format(printf, a, b)))
#else
#  define CLI_PRINTF(a, b)
#endif

typedef struct cli_table {
	size_t ncols;               /* at most 16 */
	const char *const *heads;
	const char *align;          /* 'l' or 'r' per column */
	const char *indent;         /* before every line, or NULL */
	char **cells;
	size_t n, cap;
} cli_table;

/* Add the next cell (row by row). Exits the program on allocation failure. */
void cli_table_cell(cli_table *t, const char *fmt, ...) CLI_PRINTF(2, 3);
/* Print the heads, a line of '=', the rows; then empty the table. */
void cli_table_print(cli_table *t, FILE *f);

/* ---- a small streaming JSON writer (stdout) ------------------------------ */
typedef struct json_out {
	FILE *f;
	int depth;
	bool first[32];
} json_out;

void json_begin(json_out *j, FILE *f);         /* "{" + schema + command */
void json_end(json_out *j);                    /* "}\n" */
void json_key(json_out *j, const char *key);   /* "key": (inside an object) */
void json_obj_open(json_out *j);
void json_obj_close(json_out *j);
void json_arr_open(json_out *j);
void json_arr_close(json_out *j);
void json_str(json_out *j, const char *s);
void json_u64(json_out *j, uint64_t v);
void json_i64(json_out *j, int64_t v);
void json_hex(json_out *j, uint64_t v);         /* "0x..." string */
void json_bool(json_out *j, bool v);
void json_null(json_out *j);
/* key + value shorthands */
void json_kv_str(json_out *j, const char *k, const char *v);
void json_kv_u64(json_out *j, const char *k, uint64_t v);
void json_kv_i64(json_out *j, const char *k, int64_t v);
void json_kv_hex(json_out *j, const char *k, uint64_t v);
void json_kv_bool(json_out *j, const char *k, bool v);

/* ---- commands ----------------------------------------------------------------- */
int cmd_analyze(const cli_opts *o);
int cmd_info(const cli_opts *o);
int cmd_modules(const cli_opts *o);
int cmd_cpus(const cli_opts *o);
int cmd_ready(const cli_opts *o);
int cmd_pcr(const cli_opts *o);
int cmd_prcb(const cli_opts *o);
int cmd_ps(const cli_opts *o);
int cmd_threads(const cli_opts *o);
int cmd_thread(const cli_opts *o);
int cmd_irp(const cli_opts *o);
int cmd_alpc(const cli_opts *o);
int cmd_stack(const cli_opts *o);
int cmd_stacks(const cli_opts *o);

#endif /* KHANG_CLI_H */

/* khang CLI: opening dumps, warnings, JSON writer. */
#include <ctype.h>
#include <stdbool.h>
#include <stdarg.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cli.h"

static khang_layout *cli_layout; /* the --isf layout, kept while the source lives */

khang_source *cli_open(const cli_opts *o)
{
	khang_source *src;
	khang_source_opts so = KHANG_SOURCE_OPTS_INIT;
	if (o->isf) {
		if (khang_layout_load_isf(&cli_layout, o->isf) < 0) {
			fprintf(stderr, "khang: %s: %s\n", o->isf, khang_error_last());
			return NULL;
		}
		so.layout = cli_layout;
	}
	so.image_path = o->image_path;
	if (khang_source_open(&src, o->dump, &so) < 0) {
		fprintf(stderr, "khang: %s\n", khang_error_last());
		khang_layout_free(cli_layout);
		cli_layout = NULL;
		return NULL;
	}
	return src;
}

void cli_close(khang_source *src)
{
	khang_source_free(src);
	khang_layout_free(cli_layout);
	cli_layout = NULL;
}

void cli_print_warnings(khang_source *src)
{
	fflush(stdout);
	uint32_t n = khang_source_warning_count(src);
	for (uint32_t i = 0; i < n; i++) {
		const char *w = khang_source_warning(src, i);
		if (w)
			fprintf(stderr, "warning: %s\n", w);
	}
	if (n > 64)
		fprintf(stderr, "warning: (%u more)\n", n - 64);
}

/* ---- JSON --------------------------------------------------------------------- */

static void sep(json_out *j)
{
	if (j->depth > 0 && j->depth < 32) {
		if (!j->first[j->depth])
			fputc(',', j->f);
		j->first[j->depth] = false;
	}
}

static void open_level(json_out *j, char c)
{
	fputc(c, j->f);
	j->depth++;
	if (j->depth < 32)
		j->first[j->depth] = true;
}

void json_begin(json_out *j, FILE *f)
{
	memset(j, 0, sizeof(*j));
	j->f = f;
	open_level(j, '{');
	json_kv_u64(j, "schema", KHANG_JSON_SCHEMA);
}

void json_end(json_out *j)
{
	json_obj_close(j);
	fputc('\n', j->f);
}

static void raw_str(FILE *f, const char *s);

void json_key(json_out *j, const char *key)
{
	sep(j);
	raw_str(j->f, key);
	fputc(':', j->f);
	if (j->depth < 32)
		j->first[j->depth] = true; /* the value must not add a comma */
}

/* A value: adds the separator unless it follows a key. */
static void value_sep(json_out *j)
{
	sep(j);
}

void json_obj_open(json_out *j)
{
	value_sep(j);
	open_level(j, '{');
}

void json_obj_close(json_out *j)
{
	j->depth--;
	if (j->depth >= 0 && j->depth < 32)
		j->first[j->depth] = false;
	fputc('}', j->f);
}

void json_arr_open(json_out *j)
{
	value_sep(j);
	open_level(j, '[');
}

void json_arr_close(json_out *j)
{
	j->depth--;
	if (j->depth >= 0 && j->depth < 32)
		j->first[j->depth] = false;
	fputc(']', j->f);
}

static void raw_str(FILE *f, const char *s)
{
	fputc('"', f);
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		switch (*p) {
		case '"': fputs("\\\"", f); break;
		case '\\': fputs("\\\\", f); break;
		case '\n': fputs("\\n", f); break;
		case '\r': fputs("\\r", f); break;
		case '\t': fputs("\\t", f); break;
		default:
			if (*p < 0x20)
				fprintf(f, "\\u%04x", *p);
			else
				fputc(*p, f);
		}
	}
	fputc('"', f);
}

void json_str(json_out *j, const char *s)
{
	value_sep(j);
	raw_str(j->f, s ? s : "");
}

void json_u64(json_out *j, uint64_t v)
{
	value_sep(j);
	fprintf(j->f, "%" PRIu64, v);
}

void json_i64(json_out *j, int64_t v)
{
	value_sep(j);
	fprintf(j->f, "%" PRId64, v);
}

void json_hex(json_out *j, uint64_t v)
{
	value_sep(j);
	fprintf(j->f, "\"0x%" PRIx64 "\"", v);
}

void json_bool(json_out *j, bool v)
{
	value_sep(j);
	fputs(v ? "true" : "false", j->f);
}

void json_null(json_out *j)
{
	value_sep(j);
	fputs("null", j->f);
}

void json_kv_str(json_out *j, const char *k, const char *v)
{
	json_key(j, k);
	json_str(j, v);
}

void json_kv_u64(json_out *j, const char *k, uint64_t v)
{
	json_key(j, k);
	json_u64(j, v);
}

void json_kv_i64(json_out *j, const char *k, int64_t v)
{
	json_key(j, k);
	json_i64(j, v);
}

void json_kv_hex(json_out *j, const char *k, uint64_t v)
{
	json_key(j, k);
	json_hex(j, v);
}

void json_kv_bool(json_out *j, const char *k, bool v)
{
	json_key(j, k);
	json_bool(j, v);
}

/* ---- argument parsing ------------------------------------------------------------ */

/* Parse an address as WinDbg writes them: hex, optional 0x, optional ` */
bool cli_parse_address(const char *s, uint64_t *out)
{
	char clean[40];
	size_t n = 0;
	if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X'))
		s += 2;
	for (; *s; s++) {
		if (*s == '`')
			continue;
		if (!isxdigit((unsigned char)*s) || n + 1 >= sizeof(clean))
			return false;
		clean[n++] = *s;
	}
	clean[n] = '\0';
	if (!n || n > 16)
		return false;
	*out = strtoull(clean, NULL, 16);
	return true;
}

/* A PID: decimal, 0x... hex, or 0n... decimal (WinDbg). */
bool cli_parse_pid(const char *s, uint64_t *out)
{
	char *end;
	int base = 10;
	if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
		base = 16;
		s += 2;
	} else if (s[0] == '0' && s[1] == 'n') {
		s += 2;
	}
	if (!*s)
		return false;
	for (const char *p = s; *p; p++)
		if (base == 10 ? !isdigit((unsigned char)*p) : !isxdigit((unsigned char)*p))
			return false;
	*out = strtoull(s, &end, base);
	return *end == '\0';
}

/* ---- a text table with aligned columns ---------------------------------------------------- */

void cli_table_cell(cli_table *t, const char *fmt, ...)
{
	char buf[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (t->n == t->cap) {
		size_t ncap = t->cap ? t->cap * 2 : 64;
		char **nc = realloc(t->cells, ncap * sizeof(*nc));
		if (!nc) {
			fprintf(stderr, "khang: out of memory\n");
			exit(2);
		}
		t->cells = nc;
		t->cap = ncap;
	}
	t->cells[t->n] = strdup(buf);
	if (!t->cells[t->n]) {
		fprintf(stderr, "khang: out of memory\n");
		exit(2);
	}
	t->n++;
}

void cli_table_print(cli_table *t, FILE *f)
{
	size_t w[16] = { 0 };
	for (size_t c = 0; c < t->ncols; c++)
		w[c] = strlen(t->heads[c]);
	for (size_t i = 0; i < t->n; i++)
		if (strlen(t->cells[i]) > w[i % t->ncols])
			w[i % t->ncols] = strlen(t->cells[i]);
	size_t rows = t->n / t->ncols;
	for (size_t r = 0; r < rows + 2; r++) {
		bool head = r == 0, line = r == 1;
		char buf[4096];
		size_t used = 0;
		for (size_t c = 0; c < t->ncols; c++) {
			const char *s = head ? t->heads[c] : line ? "" : t->cells[(r - 2) * t->ncols + c];
			int n;
			if (line) {
				char eq[256];
				size_t k = w[c] < sizeof(eq) - 1 ? w[c] : sizeof(eq) - 1;
				memset(eq, '=', k);
				eq[k] = '\0';
				n = snprintf(buf + used, sizeof(buf) - used, "%s%s", c ? " " : "", eq);
			} else if (t->align[c] == 'r') {
				n = snprintf(buf + used, sizeof(buf) - used, "%s%*s", c ? " " : "", (int)w[c], s);
			} else {
				n = snprintf(buf + used, sizeof(buf) - used, "%s%-*s", c ? " " : "", (int)w[c], s);
			}
			if (n < 0 || (size_t)n >= sizeof(buf) - used)
				break;
			used += (size_t)n;
		}
		while (used && buf[used - 1] == ' ')
			used--;
		buf[used] = '\0';
		fprintf(f, "%s%s\n", t->indent ? t->indent : "", buf);
	}
	for (size_t i = 0; i < t->n; i++)
		free(t->cells[i]);
	free(t->cells);
	t->cells = NULL;
	t->n = t->cap = 0;
}

/* ---- process selection ----------------------------------------------------------- */

int cli_select_processes(khang_source *src, const char *spec, const khang_process ***out, size_t *count)
{
	uint64_t pid;
	const khang_process *p;
	*out = NULL;
	*count = 0;
	if (!spec)
		return 0;
	if (cli_parse_pid(spec, &pid)) {
		if (khang_process_by_pid(&p, src, pid) < 0) {
			fprintf(stderr, "khang: %s\n", khang_error_last());
			return 2;
		}
		*out = malloc(sizeof(**out));
		if (!*out)
			return 2;
		(*out)[0] = p;
		*count = 1;
		return 0;
	}
	khang_process_iter *it;
	if (khang_process_iter_new(&it, src) < 0) {
		fprintf(stderr, "khang: %s\n", khang_error_last());
		return 2;
	}
	size_t cap = 0;
	while (khang_process_next(&p, it) == 0) {
		if (strcasecmp(khang_process_name(p), spec) != 0)
			continue;
		if (*count == cap) {
			cap = cap ? cap * 2 : 4;
			const khang_process **np = realloc((void *)*out, cap * sizeof(*np));
			if (!np) {
				khang_process_iter_free(it);
				return 2;
			}
			*out = np;
		}
		(*out)[(*count)++] = p;
	}
	khang_process_iter_free(it);
	if (!*count) {
		fprintf(stderr, "khang: no process named '%s'\n", spec);
		return 2;
	}
	return 0;
}

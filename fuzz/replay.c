/*
 * Replay driver for the fuzz targets: runs LLVMFuzzerTestOneInput over every
 * file given on the command line and every file directly inside the given
 * directories (sorted by name; names starting with '.' are skipped). It lets
 * ctest run a corpus as a regression test with any compiler, without
 * libFuzzer. Calls LLVMFuzzerInitialize first if the target defines it.
 *
 * Exit status: 0 when every argument was read (prints "N inputs replayed"),
 * 1 if an argument or file cannot be read, 2 without arguments. A failing
 * input aborts inside the target, as under libFuzzer.
 */
#include <dirent.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
#if defined(__GNUC__) || defined(__clang__)
__attribute__((weak))
#endif
int LLVMFuzzerInitialize(int *argc, char ***argv);

static int replay_file(const char *path, unsigned long *count)
{
	FILE *fp = fopen(path, "rb");
	struct stat st;
	if (!fp || fstat(fileno(fp), &st) != 0) {
		fprintf(stderr, "replay: %s: %s\n", path, strerror(errno));
		if (fp)
			fclose(fp);
		return 1;
	}
	size_t size = (size_t)st.st_size;
	uint8_t *data = malloc(size ? size : 1); /* never NULL for an empty input */
	if (!data || fread(data, 1, size, fp) != size) {
		fprintf(stderr, "replay: %s: cannot read\n", path);
		free(data);
		fclose(fp);
		return 1;
	}
	fclose(fp);
	LLVMFuzzerTestOneInput(data, size);
	free(data);
	(*count)++;
	return 0;
}

static int cmp_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int replay_dir(const char *dir, unsigned long *count)
{
	DIR *d = opendir(dir);
	if (!d) {
		fprintf(stderr, "replay: %s: %s\n", dir, strerror(errno));
		return 1;
	}
	char **names = NULL;
	size_t n = 0, cap = 0;
	int bad = 0;
	struct dirent *e;
	while ((e = readdir(d)) != NULL) {
		if (e->d_name[0] == '.')
			continue;
		if (n == cap) {
			cap = cap ? cap * 2 : 64;
			char **grown = realloc(names, cap * sizeof *names);
			if (!grown) {
				bad = 1;
				break;
			}
			names = grown;
		}
		size_t len = strlen(dir) + strlen(e->d_name) + 2;
		if ((names[n] = malloc(len)) == NULL) {
			bad = 1;
			break;
		}
		snprintf(names[n++], len, "%s/%s", dir, e->d_name);
	}
	closedir(d);
	if (n)
		qsort(names, n, sizeof *names, cmp_names);
	for (size_t i = 0; i < n; i++) {
		struct stat st;
		if (!bad && stat(names[i], &st) == 0 && S_ISREG(st.st_mode))
			bad |= replay_file(names[i], count);
		free(names[i]);
	}
	free(names);
	if (bad)
		fprintf(stderr, "replay: %s: failed\n", dir);
	return bad;
}

int main(int argc, char **argv)
{
	unsigned long count = 0;
	int bad = 0;
	if (argc < 2) {
		fprintf(stderr, "usage: %s DIR|FILE...\n", argv[0]);
		return 2;
	}
	if (LLVMFuzzerInitialize)
		LLVMFuzzerInitialize(&argc, &argv);
	for (int i = 1; i < argc; i++) {
		struct stat st;
		if (stat(argv[i], &st) != 0) {
			fprintf(stderr, "replay: %s: %s\n", argv[i], strerror(errno));
			bad = 1;
		} else if (S_ISDIR(st.st_mode)) {
			bad |= replay_dir(argv[i], &count);
		} else {
			bad |= replay_file(argv[i], &count);
		}
	}
	printf("%lu inputs replayed\n", count);
	return bad;
}

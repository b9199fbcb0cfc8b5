/*
 * What every fuzz target shares: libFuzzer's entry points around the
 * target's struct fuzz_target, and the set-up of fuzz.h.
 */
#include <sys/stat.h>

#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fuzz.h"

#define TEXTS_MAX	4	/* fuzz_text copies of one input */

int	 LLVMFuzzerInitialize(int *, char ***);
int	 LLVMFuzzerTestOneInput(const uint8_t *, size_t);

const char	*fuzz_dir;
FILE		*fuzz_null;
int		 fuzz_roundtrip = 1;

static char	 dir[PATH_MAX];
static char	*texts[TEXTS_MAX];
static size_t	 ntexts;

static int
remove_one(const char *path, const struct stat *st, int flag, struct FTW *f)
{
	(void)st;
	(void)flag;
	(void)f;
	(void)remove(path);
	return 0;
}

static void
cleanup(void)
{
	nftw(dir, remove_one, 16, FTW_DEPTH | FTW_PHYS);
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	const char	*tmp = getenv("TMPDIR"), *e = getenv("FUZZ_ROUNDTRIP");
	int		 fd;

	(void)argc;
	(void)argv;
	if ((fd = open("/dev/null", O_RDONLY)) != -1 && fd != STDIN_FILENO) {
		dup2(fd, STDIN_FILENO);
		close(fd);
	}
	if ((fuzz_null = fopen("/dev/null", "w")) == NULL)
		abort();

	if (tmp == NULL || *tmp == '\0')
		tmp = "/tmp";
	if ((size_t)snprintf(dir, sizeof(dir), "%s/nix-offload-fuzz-%s.XXXXXX",
	    tmp, fuzz_target.name) >= sizeof(dir) || mkdtemp(dir) == NULL)
		abort();
	fuzz_dir = dir;
	atexit(cleanup);

	if (setenv("NIX_CONF_DIR", dir, 1) == -1 ||
	    setenv("NIX_USER_CONF_FILES", "", 1) == -1 ||
	    unsetenv("NIX_CONFIG") == -1 ||
	    unsetenv("NIX_REMOTE_SYSTEMS") == -1)
		abort();
	if (e != NULL && strcmp(e, "0") == 0)
		fuzz_roundtrip = 0;

	if (fuzz_target.setup != NULL)
		fuzz_target.setup();
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fuzz_target.input(data, size);
	while (ntexts > 0)
		free(texts[--ntexts]);
	return 0;
}

/*
 * data[0..n) as a C string, in a buffer of exactly n + 1 bytes (so that
 * AddressSanitizer sees a read past it), ending at the first NUL as argv
 * or a file name would; writable, and freed when the input is done.
 */
char *
fuzz_text(const uint8_t *data, size_t n)
{
	char	*s;

	if (ntexts == TEXTS_MAX || (s = malloc(n + 1)) == NULL)
		abort();
	memcpy(s, data, n);
	s[n] = '\0';
	return texts[ntexts++] = s;
}

/* fuzz_dir/name into buf, or abort: the path must fit. */
void
fuzz_path(char *buf, size_t sz, const char *name)
{
	if ((size_t)snprintf(buf, sz, "%s/%s", fuzz_dir, name) >= sz)
		abort();
}

/*
 * Write dir/name, through a temporary file renamed over it: another run
 * may be reading the same file (dir is then shared, as machines' is).
 */
void
fuzz_put(const char *d, const char *name, const void *data, size_t n)
{
	char	 tmp[PATH_MAX], path[PATH_MAX];
	FILE	*f;

	if ((size_t)snprintf(tmp, sizeof(tmp), "%s/.%s.%ld", d, name,
	    (long)getpid()) >= sizeof(tmp) ||
	    (size_t)snprintf(path, sizeof(path), "%s/%s", d, name) >=
	    sizeof(path))
		abort();
	if ((f = fopen(tmp, "w")) == NULL || fwrite(data, 1, n, f) != n ||
	    fclose(f) != 0 || rename(tmp, path) == -1)
		abort();
}

/*
 * A promise the target checks was broken: say which, as "NAME: ..." on
 * stderr (scripts/fuzz quotes that line), and abort for libFuzzer.
 */
void
fuzz_fail(const char *fmt, ...)
{
	va_list	 ap;

	fprintf(stderr, "%s: ", fuzz_target.name);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	abort();
}

/*
 * What every fuzz target shares.  The parsers report errors on stderr
 * through log.c; scripts/fuzz adds -close_fd_mask=2, so that a run
 * measures the parser and not the terminal.
 */
#include <fcntl.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "extern.h"

int	 LLVMFuzzerInitialize(int *, char ***);
int	 LLVMFuzzerTestOneInput(const uint8_t *, size_t);

/*
 * Stdin from /dev/null: an include of /dev/stdin (nix.conf, machines
 * files) must end, not wait for a terminal.
 */
static void
fuzz_init(void)
{
	int	 fd;

	if ((fd = open("/dev/null", O_RDONLY)) != -1) {
		if (fd != STDIN_FILENO) {
			dup2(fd, STDIN_FILENO);
			close(fd);
		}
	}
}

/*
 * A template for mkstemp or mkdtemp in $TMPDIR (scripts/fuzz points it at
 * a directory it removes: a crashing run leaves its files behind).
 */
static void	 fuzz_tmp(char *, size_t, const char *)
		    __attribute__((unused));

static void
fuzz_tmp(char *buf, size_t sz, const char *what)
{
	const char	*d = getenv("TMPDIR");

	if (d == NULL || *d == '\0')
		d = "/tmp";
	if ((size_t)snprintf(buf, sz, "%s/nix-offload-fuzz-%s.XXXXXX", d,
	    what) >= sz)
		abort();
}

/* data[0..n) as a C string: up to the first NUL, as argv would be. */
static char *fuzz_string(const uint8_t *, size_t) __attribute__((unused));

static char *
fuzz_string(const uint8_t *data, size_t n)
{
	char	*s;

	if ((s = malloc(n + 1)) == NULL)
		abort();
	memcpy(s, data, n);
	s[n] = '\0';
	return s;
}

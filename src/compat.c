/*
 * The BSD functions we use, for when libbsd is off (see config.mk), and
 * what differs between systems.
 */
#ifdef __linux__
#define _GNU_SOURCE	/* syscall(2), for close_range */
#include <sys/syscall.h>
#endif
#include <errno.h>
#include <unistd.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "extern.h"

#ifndef HAVE_LIBBSD
/* Copy src to dst of size dsize, always NUL-terminated; returns strlen(src). */
size_t
strlcpy(char *dst, const char *src, size_t dsize)
{
	size_t	 n = strlen(src);

	if (dsize > 0) {
		size_t	 c = n < dsize - 1 ? n : dsize - 1;
		memcpy(dst, src, c);
		dst[c] = '\0';
	}
	return n;
}

/* Append src to dst of size dsize; returns the length it tried to create. */
size_t
strlcat(char *dst, const char *src, size_t dsize)
{
	size_t	 d = strnlen(dst, dsize);

	if (d == dsize)
		return d + strlen(src);
	return d + strlcpy(dst + d, src, dsize - d);
}

/* realloc(p, n * size), failing with ENOMEM when the product overflows. */
void *
reallocarray(void *p, size_t n, size_t size)
{
	if (size != 0 && n > SIZE_MAX / size) {
		errno = ENOMEM;
		return NULL;
	}
	return realloc(p, n * size);
}
#else
typedef int compat_unused;	/* ISO C wants something in each file */
#endif

/*
 * A process's title, as ps shows it: written over the memory of its
 * arguments and its first environment, which move to the heap first
 * (setproctitle(3)'s way).  For a child that goes on without exec (the
 * lease broker): it must not pass for the command that started it, nor
 * keep in /proc/PID/environ what that one had there (store paths hold
 * off Nix's garbage collector).
 */
extern char	**environ;
static char	*title_at;
static size_t	 title_len;

void
title_init(int argc, char *argv[])
{
	char	*end;
	size_t	 i;

	if (argc < 1 || argv[0] == NULL)
		return;
	title_at = argv[0];
	end = argv[argc - 1] + strlen(argv[argc - 1]);
	/* the environment's strings, where they follow on */
	for (i = 0; environ != NULL && environ[i] != NULL; i++)
		if (environ[i] == end + 1)
			end = environ[i] + strlen(environ[i]);
	title_len = (size_t)(end - title_at);
}

void
title_set(const char *title)
{
	char	**env;
	size_t	 i, n;

	if (title_at == NULL || title_len == 0)
		return;
	for (n = 0; environ != NULL && environ[n] != NULL; n++)
		;
	if ((env = calloc(n + 1, sizeof(*env))) == NULL)
		return;
	for (i = 0; i < n; i++)
		if ((env[i] = strdup(environ[i])) == NULL)
			return;
	environ = env;
	n = strlen(title);
	if (n > title_len)
		n = title_len;
	memcpy(title_at, title, n);
	memset(title_at + n, '\0', title_len + 1 - n);
}

/*
 * In a child about to exec: close every descriptor from low up but keep
 * (-1: none).  At once where the kernel can (close_range, Linux 5.9),
 * else one by one up to _SC_OPEN_MAX, 65536 at most: under a nix-daemon
 * whose limit is a million, that loop alone costs milliseconds a spawn.
 */
void
close_from(int low, int keep)
{
	long	 fd, max;

#if defined(__linux__) && defined(SYS_close_range)
	if (keep < low || keep == -1) {
		if (syscall(SYS_close_range, (unsigned)low, ~0U, 0U) == 0)
			return;
	} else if ((keep == low || syscall(SYS_close_range, (unsigned)low,
	    (unsigned)keep - 1, 0U) == 0) && syscall(SYS_close_range,
	    (unsigned)keep + 1, ~0U, 0U) == 0)
		return;
#endif
	max = sysconf(_SC_OPEN_MAX);
	if (max < 0 || max > 65536)
		max = 65536;
	for (fd = low; fd < max; fd++)
		if (fd != keep)
			(void)close((int)fd);
}

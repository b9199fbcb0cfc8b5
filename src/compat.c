/*
 * The BSD functions we use, for when libbsd is off (see config.mk).
 */
#include <errno.h>
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

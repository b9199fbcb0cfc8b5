/*
 * Content addresses, as Nix writes them in a path info: of a fixed output
 * ("fixed:r:sha256:..."), from what its .drv declares.
 */
#include <stdio.h>
#include <string.h>

#include "extern.h"

/* A lower-case hex digit's value, or -1. */
static int
hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/*
 * The content address a fixed output's path info carries, as Nix writes
 * it: "fixed:[r:]ALGO:HASH" (or "text:ALGO:HASH") with the hash in Nix's
 * base32, from the hex of the .drv.  "" for any other output.  Returns 0,
 * or -1 when the hash is not hex of the algorithm's length or out is
 * too small.
 */
int
ca_output(const struct drv_output *o, char *out, size_t sz)
{
	static const struct {
		const char	*name;
		size_t		 len;
	} algos[] = {
		{ "md5", 16 }, { "sha1", 20 }, { "sha256", 32 }, { "sha512", 64 }
	};
	unsigned char	 h[64];
	const char	*a = o->hash_algo, *kind = "fixed:";
	size_t		 i, n;

	out[0] = '\0';
	if (a[0] == '\0' || o->hash[0] == '\0' ||
	    strcmp(o->hash, "impure") == 0)
		return 0;
	if (strncmp(a, "text:", 5) == 0) {
		kind = "text:";
		a += 5;
	}
	for (i = 0; i < sizeof(algos) / sizeof(algos[0]); i++)
		if (strcmp(a + (strncmp(a, "r:", 2) == 0 ? 2 : 0),
		    algos[i].name) == 0)
			break;
	if (i == sizeof(algos) / sizeof(algos[0]))
		return -1;
	n = algos[i].len;
	if (strlen(o->hash) != 2 * n)
		return -1;
	for (i = 0; i < n; i++) {
		int	 hi = hexval(o->hash[2 * i]), lo = hexval(o->hash[2 * i + 1]);
		if (hi == -1 || lo == -1)
			return -1;
		h[i] = (unsigned char)(hi << 4 | lo);
	}
	if (strlen(kind) + strlen(a) + 1 + nix32_len(n) + 1 > sz)
		return -1;
	snprintf(out, sz, "%s%s:", kind, a);
	nix32_encode(h, n, out + strlen(out));
	return 0;
}

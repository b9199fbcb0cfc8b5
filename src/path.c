/*
 * Store paths: <storedir>/<32 nix32 chars>-<name>.
 *
 * The hash part is SHA-256 of a fingerprint "<type>:sha256:<hex>:<storedir>:
 * <name>", folded to 20 bytes by XOR and printed in Nix's base32
 * (spec section 3.4).
 */
#include <string.h>

#include "extern.h"

#define STORE_NAME_MAX	211

/* Is name a valid store path name (1..211 of [A-Za-z0-9+-._?=], not . or ..)? */
int
path_name_valid(const char *name, size_t n)
{
	size_t	 i;

	if (n == 0 || n > STORE_NAME_MAX)
		return 0;
	if (name[0] == '.' && (n == 1 || (n == 2 && name[1] == '.')))
		return 0;
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)name[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9') || strchr("+-._?=", c) != NULL))
			return 0;
	}
	return 1;
}

/*
 * Is p a store path directly under storedir: "<storedir>/<hash>-<name>"
 * with a valid hash part and name?
 */
int
path_valid(const char *storedir, const char *p)
{
	size_t	 dl = strlen(storedir), i;
	const char *b;

	if (strncmp(p, storedir, dl) != 0 || p[dl] != '/')
		return 0;
	b = p + dl + 1;
	for (i = 0; i < 32; i++)
		if (b[i] == '\0' || strchr("0123456789abcdfghijklmnpqrsvwxyz",
		    b[i]) == NULL)
			return 0;
	if (b[32] != '-')
		return 0;
	return path_name_valid(b + 33, strlen(b + 33));
}

/*
 * Make the store path of the given type ("source", "text", "output:out")
 * for a SHA-256 digest and a name, into out (PATH_MAX-sized).  Returns 0,
 * or -1 when the name is not valid or out is too small.
 */
int
path_make(const char *storedir, const char *type,
    const unsigned char *digest, const char *name, char *out,
    size_t outsz)
{
	struct sha256	 h;
	unsigned char	 d[SHA256_LEN], folded[20];
	char		 hex[2 * SHA256_LEN + 1], b32[33];
	size_t		 i;

	if (!path_name_valid(name, strlen(name)))
		return -1;
	hash_hex(digest, SHA256_LEN, hex);
	sha256_init(&h);
	sha256_update(&h, type, strlen(type));
	sha256_update(&h, ":sha256:", 8);
	sha256_update(&h, hex, strlen(hex));
	sha256_update(&h, ":", 1);
	sha256_update(&h, storedir, strlen(storedir));
	sha256_update(&h, ":", 1);
	sha256_update(&h, name, strlen(name));
	sha256_final(&h, d);
	memset(folded, 0, sizeof(folded));
	for (i = 0; i < SHA256_LEN; i++)
		folded[i % 20] ^= d[i];
	nix32_encode(folded, sizeof(folded), b32);
	if ((size_t)snprintf(out, outsz, "%s/%s-%s", storedir, b32, name) >=
	    outsz)
		return -1;
	return 0;
}
